"""Final hypervolume across benchmarks (``results.multiobjective.aggregate_final_hypervolume``) and the table
front's hypervolume, on hand-made numbers."""
from __future__ import annotations

import numpy as np
import pytest

from results.multiobjective import aggregate_final_hypervolume, table_front_hypervolume


def test_table_front_hypervolume_normalises_by_the_bounds_and_ignores_dominated_and_nan_rows():
    # Error (min, bounds 0 best .. 1 worst) against accuracy (max, bounds 1 best .. 0 worst).
    rows = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.8, 0.2], [np.nan, 0.9]])
    bounds = {"error": [0.0, 1.0], "accuracy": [1.0, 0.0]}
    # Normalised to minimise: (0, 1), (1, 0), (.5, .5) and the dominated (.8, .8); reference point (1.1, 1.1):
    # slabs .5 x .1 + .5 x .6 + .1 x 1.1 = .05 + .30 + .11.
    assert table_front_hypervolume(rows, ["error", "accuracy"], bounds) == pytest.approx(0.46)
    with pytest.raises(ValueError, match="3 metrics"):
        table_front_hypervolume(rows, ["error", "accuracy", "size"], bounds)


FINALS = {
    # A beats RS clearly.
    ("tab", "RS"): [1.0, 1.1, 1.2, 1.3], ("tab", "A"): [1.6, 1.7, 1.8, 1.9],
    # Equal values: the intervals are the same, a tie.
    ("sur", "RS"): [1.0, 1.2, 1.4, 1.6], ("sur", "A"): [1.0, 1.2, 1.4, 1.6],
    # A loses clearly.
    ("slow", "RS"): [1.5, 1.5, 1.6, 1.6], ("slow", "A"): [1.0, 1.0, 1.1, 1.1],
    # A wins, but with 3 seeds against 4 the benchmark cannot enter the (seeds x benchmarks) aggregate.
    ("bad", "RS"): [1.0, 1.0, 1.0, 1.0], ("bad", "A"): [1.2, 1.2, 1.2],
    # Only RS ran here.
    ("gone", "RS"): [1.0, 1.0, 1.0, 1.0],
}


def test_aggregate_divides_by_the_reference_and_takes_the_iqm_over_benchmarks_and_seeds():
    out = aggregate_final_hypervolume(FINALS, ["RS", "A"], ["tab", "sur", "slow", "bad", "gone"],
                                      table_reference={"tab": 2.0, "sur": None}, n_boot=500, rng=3)
    assert out.benchmarks == ["tab", "sur", "slow"]
    assert out.left_out == {"bad": "seed counts differ: RS 4, A 3", "gone": "no runs of A"}
    assert out.reference == {"tab": 2.0, "sur": 1.6, "slow": 1.6, "bad": 1.2, "gone": 1.0}
    assert out.reference_source["tab"] == "table front" and out.reference_source["sur"] == "best run"
    np.testing.assert_allclose(out.normalised["A"], [[0.8, 0.625, 0.625], [0.85, 0.75, 0.625],
                                                     [0.9, 0.875, 0.6875], [0.95, 1.0, 0.6875]])
    # IQM of 12 values: drop the 3 lowest and the 3 highest, average the 6 left.
    #   A:  .6875 .6875 .75 .8 .85 .875            -> 4.65 / 6
    #   RS: .625 .65 .75 .875 .9375 .9375          -> 4.775 / 6
    assert out.interval["A"].point == pytest.approx(4.65 / 6)
    assert out.interval["RS"].point == pytest.approx(4.775 / 6)
    for method in ("A", "RS"):
        interval, values = out.interval[method], out.normalised[method]
        assert values.min() <= interval.lower <= interval.point <= interval.upper <= values.max()
        assert interval.lower < interval.upper
    # Per benchmark: win on tab and bad, tie on sur, loss on slow; gone has no A.
    assert out.versus["A"] == (2, 1, 1)
    assert out.versus["RS"] == (0, 5, 0)


def test_aggregate_refuses_a_non_positive_reference():
    with pytest.raises(ValueError, match="reference hypervolume is 0.0"):
        aggregate_final_hypervolume({("b", "RS"): [0.0, 0.0]}, ["RS"], ["b"])


def test_bench_script_gives_multi_fidelity_methods_a_trainsize_grace_period_on_yahpo_iaml():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_multiobjective as bench

    assert bench.method_kwargs("mo-yahpo-iaml_glmnet-1489", "MOASHA") == {"grace_period": 0.05}
    assert bench.method_kwargs("mo-yahpo-iaml_glmnet-1489", "ASHA") == {"grace_period": 0.05}
    assert bench.method_kwargs("mo-yahpo-iaml_glmnet-1489", "LINEAR-SCALARIZED") == {
        "base_kwargs": {"grace_period": 0.05}}
    assert bench.method_kwargs("mo-yahpo-iaml_glmnet-1489", "RS") == {}
    assert bench.method_kwargs("mo-xgboost-sklearn-digits", "MOASHA") == {}
    # Why: the default grace period (1 = the whole training set) leaves no rung; 0.05 gives three, snapped to
    # tabulated trainsize fractions.
    from baselines.multi_fidelity import rung_levels

    fractions = [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert rung_levels(1, 3, 1.0, fractions) == []
    assert rung_levels(0.05, 3, 1.0, fractions) == [0.05, 0.2, 0.6]
