"""TensorBoard event files of experiments (launchers/tensorboard_log.py), read back with TensorBoard's own reader.

Every check compares what ``EventAccumulator`` reads with the experiment's ``results.parquet``; the best-so-far
curves are computed here independently (a running minimum over the signed values, NaN as the worst).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

from benchmark_definitions.definitions import RealBenchmark
from benchmark_definitions.registry import get_benchmark
from blackbox_repo.search_space import SearchSpace, Uniform
from launchers.experiment import ExperimentSpec, run_experiment
from launchers.tensorboard_log import ExperimentEvents, parse_tensorboard_option

REPO = Path(__file__).resolve().parents[1]
BENCH = "xgboost-sklearn-breast_cancer"


def scalars(folder: Path, tag: str) -> pd.DataFrame:
    accumulator = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
    accumulator.Reload()
    events = accumulator.Scalars(tag)
    return pd.DataFrame({"step": [e.step for e in events], "wall_time": [e.wall_time for e in events],
                         "value": [e.value for e in events]})


def best_so_far(values: np.ndarray, mode: str) -> np.ndarray:
    signed = values if mode == "min" else -values
    running = np.minimum.accumulate(np.where(np.isnan(signed), np.inf, signed))
    best = running if mode == "min" else -running
    return np.where(np.isinf(best), np.nan, best)


def as_float32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def check_files_match_results(experiment: Path, metric: str, mode: str, objectives: list[str]) -> None:
    results = pd.read_parquet(experiment / "results.parquet")
    board = experiment / "tensorboard"
    n = len(results)
    assert n > 0
    best = scalars(board, f"best/{metric}")
    assert best["step"].tolist() == list(range(n))
    expected = best_so_far(results[metric].to_numpy(), mode)
    np.testing.assert_array_equal(as_float32(best["value"]), as_float32(expected))
    # wall time = start + sim_time: differences are the simulated / elapsed clock
    np.testing.assert_allclose(best["wall_time"] - best["wall_time"].iloc[0],
                               results["sim_time"] - results["sim_time"].iloc[0], atol=1e-5)
    for name in objectives:
        np.testing.assert_array_equal(as_float32(scalars(board, f"result/{name}")["value"]),
                                      as_float32(results[name]))
    np.testing.assert_array_equal(scalars(board, "result/trial_id")["value"], results["trial_id"])
    np.testing.assert_array_equal(as_float32(scalars(board, "result/fidelity")["value"]),
                                  as_float32(results["fidelity"]))
    np.testing.assert_array_equal(as_float32(scalars(board, "runtime")["value"]), as_float32(results["sim_time"]))
    for column in [c for c in results.columns if c.startswith("config.")]:
        if pd.api.types.is_numeric_dtype(results[column]):
            np.testing.assert_array_equal(as_float32(scalars(board, f"config/{column[7:]}")["value"]),
                                          as_float32(results[column]))
    first_seen = ~results["trial_id"].duplicated()
    np.testing.assert_array_equal(scalars(board, "number_of_trials")["value"], first_seen.cumsum())
    # one run per trial: its learning curve at its fidelities
    trial_folders = sorted(p.name for p in board.iterdir() if p.is_dir())
    assert trial_folders == sorted(f"trial_{t}" for t in results["trial_id"].unique())
    for trial_id, rows in list(results.groupby("trial_id"))[:5]:
        curve = scalars(board / f"trial_{trial_id}", f"trial/{metric}")
        assert curve["step"].tolist() == rows["fidelity"].astype(int).tolist()
        np.testing.assert_array_equal(as_float32(curve["value"]), as_float32(rows[metric]))


def test_simulated_experiment_writes_results_and_best_so_far(tmp_path):
    bench = dataclasses.replace(get_benchmark(BENCH), max_wallclock_time=0.3)
    spec = ExperimentSpec(bench, "ASHA", seed=0, master_seed=3, tag="t", results_root=str(tmp_path),
                          tensorboard=True)
    path = Path(run_experiment(spec))
    objectives = json.loads((path / "metadata.json").read_text())["objectives"]
    check_files_match_results(path, bench.metric, bench.mode, objectives)
    results = pd.read_parquet(path / "results.parquet")
    # optimal/<hyperparameter>: the configuration of the best-so-far trial, at the last result
    best_row = results.loc[results[bench.metric].idxmin()]
    last_depth = scalars(path / "tensorboard", "optimal/max_depth")["value"].iloc[-1]
    assert last_depth == pytest.approx(best_row["config.max_depth"])


def test_maximised_metric_takes_the_running_maximum(tmp_path):
    bench = dataclasses.replace(get_benchmark(BENCH), max_wallclock_time=0.2)
    # the same table maximising error: best-so-far must be the running maximum of the same values
    bench = dataclasses.replace(bench, mode="max")
    spec = ExperimentSpec(bench, "RS", seed=1, master_seed=3, tag="t", results_root=str(tmp_path),
                          tensorboard=True)
    path = Path(run_experiment(spec))
    results = pd.read_parquet(path / "results.parquet")
    best = scalars(path / "tensorboard", f"best/{bench.metric}")["value"]
    np.testing.assert_array_equal(as_float32(best), as_float32(np.maximum.accumulate(results[bench.metric])))


def test_simulated_experiments_write_no_event_files_by_default(tmp_path):
    bench = dataclasses.replace(get_benchmark(BENCH), max_wallclock_time=0.1)
    path = Path(run_experiment(ExperimentSpec(bench, "RS", seed=0, master_seed=3, tag="t",
                                              results_root=str(tmp_path))))
    assert (path / "results.parquet").exists()
    assert not (path / "tensorboard").exists()


def test_rows_cut_by_the_budget_after_a_live_write_are_rewritten(tmp_path):
    """Through the Tuner's progress hook the simulator's rows arrive out of report order (a segment's rows are
    written in bulk at its next event); the final files must still be exactly the ordered, truncated results."""
    from launchers.experiment import benchmark_blackbox, build_scheduler
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    bench = get_benchmark(BENCH)
    spec = ExperimentSpec(bench, "ASHA", seed=0, master_seed=3, tag="t", results_root=str(tmp_path))
    events = ExperimentEvents(str(tmp_path / "exp"), [bench.metric], [bench.mode], start_wall_time=1.0e9)
    backend = SimulatorBackend(benchmark_blackbox(bench), n_workers=4, seed=0)
    results = Tuner(build_scheduler(spec), backend, StoppingCriterion(max_evaluations=60),
                    progress=events.on_progress).run()
    c = results.columns
    final_keys = list(zip(c["trial_id"].tolist(), c["fidelity"].tolist(), c["sim_time"].tolist()))
    written = list(events._written_keys)
    assert written and written != final_keys[: len(written)]  # the live rows are not the final prefix
    events.finish(results)
    results.write(str(tmp_path / "exp"), {"tag": "t", "benchmark": bench.name, "method": "ASHA", "seed": 0,
                                         "metric": bench.metric, "mode": bench.mode})
    check_files_match_results(tmp_path / "exp", bench.metric, bench.mode, [bench.metric])


REAL_SCRIPT = textwrap.dedent('''
    import time
    from launchers.report import report, trial_context

    trial = trial_context()
    x = trial.config["x"]
    for epoch in range(1, int(trial.max_fidelity) + 1):
        time.sleep(0.02)
        report(epoch=epoch, loss=(x - 0.3) ** 2 + 1.0 / epoch, accuracy=1.0 - x / epoch)
''')


def _real_benchmark(tmp_path: Path, **changes) -> RealBenchmark:
    script = tmp_path / "train.py"
    script.write_text(REAL_SCRIPT)
    fields = {"name": "toy-real", "script": str(script), "metric": "loss", "mode": "min", "resource_attr": "epoch",
              "config_space": SearchSpace({"x": Uniform(0.0, 1.0)}).to_dict(), "max_fidelity": 3,
              "max_wallclock_time": 2.5, "n_workers": 2}
    fields.update(changes)
    return RealBenchmark(**fields)


def test_real_training_writes_event_files_by_default_and_they_match(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    spec = ExperimentSpec(_real_benchmark(tmp_path), "RS", seed=0, master_seed=5, tag="t",
                          results_root=str(tmp_path / "results"))
    path = Path(run_experiment(spec))
    check_files_match_results(path, "loss", "min", ["loss", "accuracy"])


def test_real_training_files_grow_while_it_runs(tmp_path, monkeypatch):
    """Read the event file with TensorBoard's reader during the run: each read is a prefix of the final curve."""
    from launchers.experiment import build_scheduler
    from launchers.local_backend import LocalBackend
    from launchers.tuner import StoppingCriterion, Tuner

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    bench = _real_benchmark(tmp_path)
    spec = ExperimentSpec(bench, "RS", seed=0, master_seed=5, tag="t", results_root=str(tmp_path))
    events = ExperimentEvents(str(tmp_path / "exp"), ["loss"], ["min"], start_wall_time=1.0e9)
    snapshots: list[list[float]] = []

    def progress(recorder, trials):
        events.on_progress(recorder, trials)
        if recorder.n % 3 == 0:
            snapshots.append(scalars(tmp_path / "exp" / "tensorboard", "best/loss")["value"].tolist())

    backend = LocalBackend(bench.script, n_workers=2, fidelity_name="epoch", max_fidelity=3,
                           workdir=tmp_path / "work")
    results = Tuner(build_scheduler(spec), backend, StoppingCriterion(max_trials_completed=4),
                    progress=progress).run()
    events.finish(results)
    final = as_float32(best_so_far(results.objective("loss"), "min"))
    growing = [s for s in snapshots if 0 < len(s) < len(final)]
    assert growing, f"no read during the run saw a partial curve ({[len(s) for s in snapshots]})"
    for snapshot in growing:
        np.testing.assert_array_equal(as_float32(snapshot), final[: len(snapshot)])
    assert scalars(tmp_path / "exp" / "tensorboard", "best/loss")["value"].size == results.n_results


@pytest.mark.parametrize("value, expected", [("auto", None), (None, None), (True, True), ("false", False)])
def test_option_values(value, expected):
    assert parse_tensorboard_option(value) is expected


@pytest.mark.parametrize("overrides, message", [
    (["tensorboard=sometimes"], "tensorboard='sometimes' is not one of auto, true, false"),
    (["tensorboard=true", "results_root=s3://bucket/prefix"],
     "tensorboard=true writes event files into the results"),
])
def test_sweep_validation_refuses_wrong_options_before_any_job(tmp_path, monkeypatch, overrides, message):
    from launchers import hydra_app
    from launchers.validation import SweepValidationError, validate_sweep

    monkeypatch.setenv("HPO_ARENA_RESULTS", str(tmp_path / "results"))
    hydra_app.register_configs()
    with pytest.raises(SweepValidationError) as info:
        validate_sweep(hydra_app.force_method_overrides(["-m", "method=RS", f"benchmark={BENCH}", *overrides]))
    assert message in str(info.value)
    assert not (tmp_path / "results").exists()


def test_record_checksums_are_tensorboards():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    from launchers.tensorboard_log import _masked_crc32c_google

    rng = np.random.default_rng(0)
    for size in (0, 1, 8, 12, 100, 1000):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert _masked_crc32c_google(data) == masked_crc32c(data)


def test_without_tensorboard_auto_writes_nothing_and_true_names_the_extra(tmp_path, monkeypatch):
    from launchers.tensorboard_log import tensorboard_enabled

    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)  # import fails as if not installed
    with pytest.warns(UserWarning, match=r"pip install 'hpo-arena\[live\]'"):
        assert tensorboard_enabled(None, simulated=False, experiment_path=str(tmp_path)) is False
    assert tensorboard_enabled(None, simulated=True, experiment_path=str(tmp_path)) is False  # no warning
    with pytest.raises(ImportError, match=r"hpo-arena\[live\].*tensorboard=false"):
        ExperimentEvents(str(tmp_path), ["loss"], ["min"], start_wall_time=0.0)
    assert not (tmp_path / "tensorboard").exists()
