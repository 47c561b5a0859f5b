"""Multi-objective YAHPO iaml benchmarks (``mo-yahpo-iaml_*``) on the real surrogates: definitions, the listing,
and runs whose hypervolume bounds come from the surrogate (fixed per benchmark)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _experiment_runs import run_benchmark

from benchmark_definitions.definitions import objectives_of
from benchmark_definitions.registry import get_benchmark
from results.multiobjective import hypervolume_over_time

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "yahpo"
BENCHMARK = "mo-yahpo-iaml_glmnet-3obj-1489"


def test_definitions_and_listing_show_the_objectives(capsys):
    two = objectives_of(get_benchmark("mo-yahpo-iaml_glmnet-40981"))
    three = objectives_of(get_benchmark(BENCHMARK))
    assert two.metrics == ("mmce", "timetrain") and three.metrics == ("mmce", "timetrain", "nf")
    assert three.modes == ("min", "min", "min")
    from blackbox_repo.yahpo import SCENARIOS

    for learner in ("glmnet", "rpart", "ranger", "xgboost"):  # every objective is a target of the scenario
        for name in (f"mo-yahpo-iaml_{learner}-1067", f"mo-yahpo-iaml_{learner}-3obj-1067"):
            bench = get_benchmark(name)
            assert bench.blackbox == f"yahpo-iaml_{learner}"
            assert set(bench.metrics) <= set(SCENARIOS[f"iaml_{learner}"].y_names), name
    from benchmark_definitions.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["benchmarks", "list", "mo-yahpo-iaml_glmnet-*1489"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "mmce (min), timetrain (min), nf (min)" in listing and "mo-yahpo-iaml_glmnet-1489" in listing


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real YAHPO data folder {DATA} is absent")
    pytest.importorskip("onnxruntime")
    from blackbox_repo.yahpo import convert_yahpo

    root = tmp_path_factory.mktemp("yahpo")
    convert_yahpo(DATA, root, scenarios=["iaml_glmnet"])
    return root


def _run(root: Path, results: Path, method: str, seed: int, **method_kwargs) -> tuple[dict, pd.DataFrame]:
    return run_benchmark(results, method, BENCHMARK, "y", seed, str(root), master_seed=5, method_kwargs=method_kwargs,
                         max_evaluations=150)


def test_surrogate_runs_share_bounds_drawn_from_the_surrogate(repository, tmp_path):
    rs, rs_results = _run(repository, tmp_path, "RS", 0)
    # trainsize runs from 0.05: MOASHA's grace period must be a training-set fraction.
    moasha, moasha_results = _run(repository, tmp_path, "MOASHA", 1, grace_period=0.05)
    assert rs["objective_bounds"] == moasha["objective_bounds"]  # fixed per benchmark, not per run
    bounds = rs["objective_bounds"]
    assert list(bounds) == ["mmce", "timetrain", "nf"]
    # Random search draws configurations from the distribution the bounds were drawn from, at every
    # fidelity: about 90% of its results are at least as good as the "worst" bound in each objective.
    for metric in ("mmce", "timetrain"):
        best, worst = bounds[metric]
        share = float((rs_results[metric] <= worst).mean())
        assert best < worst and 0.8 <= share <= 0.98, (metric, share)
    assert bounds["nf"][0] == 0.0  # a strongly regularised model uses no feature
    assert (moasha_results["decision"] == "stop").any()
    for metadata, results in ((rs, rs_results), (moasha, moasha_results)):
        curve = hypervolume_over_time(results, metadata)
        assert np.all(np.diff(curve) >= 0) and 0.1 < curve[-1] < 1.5
