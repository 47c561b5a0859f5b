"""Helpers of the peer comparisons in benchmarks/bench_multiobjective.py and benchmarks/bench_transfer.py
(benchmarks/peer_mo_transfer.py and the reader in benchmarks/peer_driver.py); no peer needed."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_multiobjective
import bench_transfer
import peer_driver
import peer_mo_transfer as pmt

from baselines.transfer import TransferData, TransferTask


def _transfer_data() -> TransferData:
    configs = pd.DataFrame({"lr": [0.1, 0.01, 0.001], "depth": [2, 4, 8]})
    tasks = (
        TransferTask("a", configs, np.array([[0.5, 0.3], [0.4, 0.2], [0.9, 0.8]]), np.array([1.0, 2.0])),
        TransferTask("b", configs.iloc[:2].reset_index(drop=True), np.array([[0.7, 0.6], [0.1, 0.05]]),
                     np.array([1.0, 2.0])),
    )
    return TransferData("table", "target", "loss", "min", tasks)


def test_transfer_export_is_read_back_by_the_driver_unchanged(tmp_path):
    data = _transfer_data()
    folder = pmt.export_transfer_data(data, tmp_path / "transfer")
    index = json.loads((folder / pmt.TRANSFER_INDEX).read_text())
    assert index["target_task"] == "target" and [t["task"] for t in index["tasks"]] == ["a", "b"]
    read = peer_driver.read_transfer_export(folder)
    assert list(read) == ["a", "b"]  # the source tasks only, in order
    frame, values, names = read["a"]
    pd.testing.assert_frame_equal(frame, data.tasks[0].configurations)
    # The peer's layout: (configurations, seeds, fidelities, objectives), seed-averaged values as one seed.
    assert values.shape == (3, 1, 2, 1) and names == ["loss"]
    assert values[:, 0, :, 0].tolist() == [[0.5, 0.3], [0.4, 0.2], [0.9, 0.8]]
    frame_b, values_b, _ = read["b"]
    assert len(frame_b) == 2 and values_b[1, 0, 1, 0] == 0.05
    assert peer_driver.TRANSFER_INDEX == pmt.TRANSFER_INDEX


def test_transfer_reader_refuses_mismatched_values(tmp_path):
    folder = pmt.export_transfer_data(_transfer_data(), tmp_path)
    np.save(folder / "values_0.npy", np.zeros((2, 2)))  # 3 configurations, 2 rows of values
    with pytest.raises(SystemExit, match="task a has values of shape"):
        peer_driver.read_transfer_export(folder)


def test_results_frame_names_objectives_and_cuts_at_budget():
    output = {"results": {"trial_id": [0, 0, 1], "fidelity": [1.0, 2.0, 1.0], "sim_time": [1.0, 2.0, 3.5],
                          "value": [0.5, 0.4, 0.3], "metric:cost": [1.0, 2.0, 1.0], "decision": ["x"] * 3}}
    frame = pmt.results_frame(output, ["err", "cost"], budget=3.0)
    assert list(frame.columns) == ["trial_id", "fidelity", "sim_time", "err", "cost"]
    assert frame["err"].tolist() == [0.5, 0.4] and frame["cost"].tolist() == [1.0, 2.0]


def test_versions_and_the_sequential_nsga2_budget():
    mo = pmt.default_versions(pmt.PEER_MO_METHODS)
    transfer = pmt.default_versions(pmt.PEER_TRANSFER_METHODS)
    assert (mo["MOASHA"], mo["MOREA"], mo["NSGA2"], mo["MOBO-RANDOM"]) == ("0.16", "0.16", "0.13", "0.13")
    # 0.16's ZeroShotTransfer never asks its portfolio: the working 0.13 one is the default.
    assert (transfer["ZERO-SHOT"], transfer["BOUNDING-BOX"], transfer["RS"]) == ("0.13", "0.16", "0.16")
    nsga2 = pmt.PEER_MO_METHODS["NSGA2"]["0.13"]
    assert pmt.effective_budget(nsga2, 100.0, 4) == (400.0, 1)  # same worker-seconds, one worker
    assert pmt.effective_budget(pmt.PEER_MO_METHODS["MOASHA"]["0.16"], 100.0, 4) == (100.0, 4)


def test_mo_export_holds_our_objectives_and_the_scaled_time(tmp_path):
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import benchmark_blackbox

    bench = get_benchmark("mo-xgboost-sklearn-breast_cancer")
    export = pmt.export_mo_table(bench, tmp_path / "repository", tmp_path / "export")
    meta = json.loads((export.folder / "meta.json").read_text())
    assert meta["metrics"] == ["val_error", "elapsed_time"]
    assert meta["objectives"] == ["val_error", "elapsed_time", meta["time_objective"]]
    stacked = np.load(export.folder / "objectives.npy")
    table = benchmark_blackbox(bench, None)
    objectives = np.asarray(table.objectives, dtype=np.float64)
    np.testing.assert_array_equal(stacked[..., 0], objectives[..., table.objective_index("val_error")])
    np.testing.assert_array_equal(stacked[..., 1], objectives[..., table.objective_index("elapsed_time")])
    np.testing.assert_allclose(stacked[..., 2], stacked[..., 1] * export.clock.time_scale)
    assert export.clock.time_scale > 1  # millisecond steps are scaled above the peer's 0.01 floor
    single = get_benchmark("xgboost-sklearn-breast_cancer")
    with pytest.raises(ValueError, match="single-objective"):
        pmt.export_mo_table(single, tmp_path / "repository", tmp_path / "export")


def test_final_hypervolume_counts_results_within_the_budget_only():
    metadata = {"metrics": ["f", "g"], "objective_bounds": {"f": [0.0, 1.0], "g": [0.0, 1.0]}, "constraint": None}
    results = pd.DataFrame({"f": [0.5, 0.0], "g": [0.5, 0.0], "sim_time": [1.0, 5.0]})
    # Reference point 1.1 per objective: (1.1 - 0.5)^2 = 0.36 before the second result, 1.21 with it.
    assert bench_multiobjective.final_hypervolume(results, metadata, budget=2.0) == pytest.approx(0.36)
    assert bench_multiobjective.final_hypervolume(results, metadata, budget=5.0) == pytest.approx(1.21)
    assert bench_multiobjective.final_hypervolume(results, metadata, budget=0.5) == 0.0


def test_regret_from_results_is_best_so_far_on_the_grid():
    results = pd.DataFrame({"sim_time": [3.0, 1.0, 2.0], bench_transfer.METRIC: [0.2, 0.8, np.nan]})
    grid = np.array([0.5, 1.0, 2.5, 3.0])
    regret = bench_transfer.regret_from_results(results, grid, best=0.0, worst=1.0)
    # Nothing before t=1 (regret 1), 0.8 from t=1 (the NaN at t=2 changes nothing), 0.2 from t=3.
    np.testing.assert_allclose(regret, [1.0, 0.8, 0.8, 0.2])


def test_reuse_only_reports_a_missing_peer_run_without_starting_it(tmp_path):
    from bench_methods_peer import Entry, Export

    from benchmark_definitions.registry import get_benchmark

    export = Export(get_benchmark("mo-xgboost-sklearn-digits"), tmp_path, pmt.peer_clock(np.ones((1, 1, 2)), 1.0), 1)
    run = pmt.run_peer(Entry("MOASHA", "0.16"), export, tmp_path, tmp_path, 3, "/no/such/python",
                       ["val_error", "elapsed_time"], timeout=None, reuse_only=True)
    assert run.results is None and "not run" in run.error and run.seed == 3
    assert not list(tmp_path.glob("*.spec.json"))  # nothing was prepared for the peer
