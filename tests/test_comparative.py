"""ComparativeResults curves, aggregation and across-benchmark comparisons on synthetic studies."""

import numpy as np
import pandas as pd
import pytest

from results.across_benchmarks import (
    aggregate_final_regret,
    aggregate_regret_over_time,
    average_rank_over_time,
    hypervolume_curves,
    normalised_regret_curves,
    performance_profiles,
    probability_of_improvement_table,
)
from results.comparative import (
    ComparativeResults,
    CurveSpec,
    InitTrialsCurve,
    aggregate_benchmark_curves,
    best_so_far,
    run_curve,
    step_values_on_grid,
)
from results.synthetic import SyntheticRun, write_synthetic_experiment, write_synthetic_study

METHODS = ["RS", "ASHA", "BO"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("comparative"))
    write_synthetic_study(path, "study", ["bench-a", "bench-b"], METHODS, range(4), n_results=60)
    return path


@pytest.fixture(scope="module")
def comparative(root):
    return ComparativeResults(root, tags="study", setups=METHODS, num_runs=4)


def test_step_values_hold_until_next_report_and_nan_before_first():
    values = step_values_on_grid(
        np.array([1.0, 3.0]), np.array([5.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    )
    np.testing.assert_array_equal(values, [np.nan, 5.0, 5.0, 2.0, 2.0])


def test_best_so_far_ignores_nan():
    np.testing.assert_array_equal(
        best_so_far(np.array([np.nan, 3.0, np.nan, 1.0, 2.0]), "min"), [np.nan, 3, 3, 1, 1]
    )
    np.testing.assert_array_equal(best_so_far(np.array([1.0, 3.0, 2.0]), "max"), [1, 3, 3])


def _frame():
    return pd.DataFrame(
        {
            "trial_id": [0, 0, 1, 1, 2],
            "sim_time": [1.0, 2.0, 2.5, 4.0, 5.0],
            "acc": [0.5, 0.6, 0.55, 0.8, 0.7],
            "cost": [1.0, 1.0, 2.0, 2.0, 0.5],
        }
    )


def test_run_curve_conversions_and_axes():
    metadata = {"metric": "acc", "mode": "max"}
    x, y = run_curve(_frame(), metadata, CurveSpec())
    np.testing.assert_allclose(x, [1.0, 2.0, 2.5, 4.0, 5.0])
    np.testing.assert_allclose(y, [0.5, 0.4, 0.4, 0.2, 0.2])  # 1 - cummax
    _, negated = run_curve(_frame(), metadata, CurveSpec(convert_to_min="negate", metric_multiplier=100))
    np.testing.assert_allclose(negated, [-50, -60, -60, -80, -80])
    _, kept = run_curve(_frame(), metadata, CurveSpec(convert_to_min=None))
    np.testing.assert_allclose(kept, [0.5, 0.6, 0.6, 0.8, 0.8])
    x, _ = run_curve(_frame(), metadata, CurveSpec(x="evaluations"))
    np.testing.assert_allclose(x, [1, 2, 3, 4, 5])
    x, _ = run_curve(_frame(), metadata, CurveSpec(x="cost"))
    np.testing.assert_allclose(x, [1, 2, 4, 6, 6.5])
    x, y = run_curve(_frame(), metadata, CurveSpec(one_result_per_trial=True))
    np.testing.assert_allclose(x, [2.0, 4.0, 5.0])
    np.testing.assert_allclose(y, [0.4, 0.2, 0.2])
    x, _ = run_curve(_frame(), metadata, CurveSpec(), max_trials=2)
    assert len(x) == 4
    derived = CurveSpec(metric="twice", mode="min", derived_columns={"twice": lambda df: 2 * df["cost"]})
    _, y = run_curve(_frame(), metadata, derived)
    np.testing.assert_allclose(y, [2, 2, 2, 2, 1])
    with pytest.raises(ValueError, match="pass mode"):
        run_curve(_frame(), metadata, CurveSpec(metric="cost"))


def test_curves_on_common_grid(comparative):
    curves = comparative.curves("bench-a", n_grid=50)
    assert list(curves.groups) == [(None, m) for m in METHODS]
    assert curves.grid[0] == 0.0 and len(curves.grid) == 50
    for runs in curves.groups.values():
        assert runs.values.shape == (4, 50)
        assert runs.seeds == [0, 1, 2, 3]
        assert np.all(np.isnan(runs.values[:, 0]))  # nothing reported at time 0
        finite = runs.values[:, 1:]
        assert np.all(np.diff(finite[:, -10:], axis=1) <= 0)
        np.testing.assert_allclose(runs.values[:, -1], runs.final)
    tidy = curves.to_frame()
    assert len(tidy) == 3 * 4 * 50 and set(tidy.columns) >= {"setup", "seed", "x", "value"}


def test_aggregate_is_reproducible_and_starts_when_all_runs_report(comparative):
    first = comparative.aggregate("bench-a", n_grid=40, n_boot=100, seed=1)
    again = comparative.aggregate("bench-a", n_grid=40, n_boot=100, seed=1)
    pd.testing.assert_frame_equal(first, again)
    other = comparative.aggregate("bench-a", n_grid=40, n_boot=100, seed=2)
    assert not np.allclose(first["lower"].fillna(0), other["lower"].fillna(0))
    curves = comparative.curves("bench-a", n_grid=40)
    rs = curves.groups[(None, "RS")].values
    rows = first[first["setup"] == "RS"]
    all_reported = ~np.isnan(rs).any(axis=0)
    np.testing.assert_array_equal(~rows["center"].isna().to_numpy(), all_reported)
    reported = rows.dropna(subset=["center"])
    assert len(reported) > 0 and (reported["lower"] <= reported["upper"]).all()
    median = comparative.aggregate("bench-a", aggregate_mode="median_percentiles", n_grid=40)
    np.testing.assert_allclose(median[median["setup"] == "RS"]["center"], np.median(rs, axis=0))


def test_show_init_trials_adds_a_flat_tail_curve(comparative):
    curves = comparative.curves(
        "bench-a", n_grid=30, show_init_trials=InitTrialsCurve("RS", 2, "RS (2 trials)")
    )
    assert (None, "RS (2 trials)") in curves.groups
    init = curves.groups[(None, "RS (2 trials)")]
    full = curves.groups[(None, "RS")]
    assert np.all(init.final >= full.final)
    assert np.all(init.values[:, -1] == init.values[:, -5])


def test_final_values_with_extra_columns(comparative):
    final = comparative.final_values(extra_columns=["fidelity", "elapsed_time"])
    assert len(final) == 2 * 3 * 4
    assert {"best", "fidelity", "elapsed_time", "setup", "seed", "benchmark"} <= set(final.columns)
    assert final["fidelity"].between(1, 10).all()


def test_combining_tags_and_metadata_values(tmp_path):
    root = str(tmp_path)
    write_synthetic_study(root, "baselines", ["bench"], ["RS"], range(2), n_results=20)
    write_synthetic_study(root, "new", ["bench"], ["MyMethod"], range(2), n_results=20)
    combined = ComparativeResults(root, tags=["baselines", "new"], num_runs=2)
    assert set(combined.setups) == {"RS", "MyMethod"}
    assert combined.metadata_values("n_workers") == {"RS": [4, 4], "MyMethod": [4, 4]}
    assert combined.run_problems == []


def test_subplots_follow_metadata(root):
    comparative = ComparativeResults(
        root,
        tags="study",
        benchmarks=["bench-a"],
        metadata_to_subplot=lambda m: "odd" if m["seed"] % 2 else "even",
    )
    curves = comparative.curves(n_grid=20)
    assert set(curves.subplots) == {"odd", "even"}
    assert all(runs.values.shape[0] == 2 for runs in curves.groups.values())


def test_normalised_regret_uses_metadata_bounds(comparative):
    regret = normalised_regret_curves(comparative, n_grid=30)
    assert regret.setups == METHODS and regret.seeds == [0, 1, 2, 3]
    metadata = comparative.index.metadata[comparative.index.for_benchmark("bench-a")["path"].iloc[0]]
    assert regret.best["bench-a"] == pytest.approx(metadata["metric_best_possible"])
    assert regret.worst["bench-a"] == pytest.approx(metadata["metric_worst_possible"])
    assert regret.values["RS"].shape == (4, 2, 30)
    finite = regret.final["RS"]
    assert np.all((finite > 0) & (finite < 1))


def test_normalised_regret_falls_back_to_observed_bounds(tmp_path):
    root = str(tmp_path)
    for method in ("RS", "BO"):
        for seed in range(2):
            write_synthetic_experiment(
                root, SyntheticRun("t", "bench", method, seed, n_results=30, with_best_possible=False)
            )
    regret = normalised_regret_curves(ComparativeResults(root), n_grid=20)
    stacked = np.concatenate([regret.values[s].reshape(-1) for s in regret.setups])
    assert np.nanmin(stacked) == pytest.approx(0.0)
    assert np.nanmax(stacked) == pytest.approx(1.0)


def test_across_benchmark_tables(comparative):
    regret = normalised_regret_curves(comparative, n_grid=25)
    over_time = aggregate_regret_over_time(regret, n_boot=100, seed=0)
    assert len(over_time) == 3 * 25
    assert over_time.equals(aggregate_regret_over_time(regret, n_boot=100, seed=0))
    final = aggregate_final_regret(regret, n_boot=100)
    assert (final["lower"] <= final["center"]).all() and (final["center"] <= final["upper"]).all()
    ranks = average_rank_over_time(regret)
    valid = ranks.dropna()
    assert valid["rank"].between(1, 3).all()
    per_x = valid.groupby("x")["rank"].sum()
    np.testing.assert_allclose(per_x, 6.0)  # ranks 1+2+3 at every time
    profiles = performance_profiles(regret, n_boot=50)
    for _, rows in profiles.groupby("setup"):
        assert np.all(np.diff(rows["fraction"]) >= 0) and rows["fraction"].iloc[-1] == 1.0
    pairs = probability_of_improvement_table(regret, n_boot=100)
    assert list(zip(pairs["setup_x"], pairs["setup_y"])) == [("RS", "ASHA"), ("RS", "BO"), ("ASHA", "BO")]
    assert pairs["probability"].between(0, 1).all()


def test_hypervolume_curves_increase(comparative):
    curves = hypervolume_curves(comparative, "bench-a", ["val_error", "elapsed_time"], [2.0, 50.0], n_grid=20)
    for runs in curves.groups.values():
        finite = runs.values[:, 1:]
        assert np.all(np.diff(finite, axis=1) >= 0)
        assert np.all(runs.final > 0)
    aggregated = aggregate_benchmark_curves(curves, "mean_and_ci")
    assert len(aggregated) == 3 * 20
