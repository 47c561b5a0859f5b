"""Tuner loop, stopping criteria, result recording and the experiment folder writer."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from baselines.scheduler import Scheduler, Suggestion
from blackbox_repo.blackbox import BlackboxMetadata, FunctionBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from launchers.results_writer import experiment_path, write_experiment, write_metadata
from launchers.simulator import SimulatorBackend
from launchers.tuner import ResultRecorder, StoppingCriterion, Tuner

SPACE = SearchSpace({"lr": Uniform(0.0, 1.0), "opt": Categorical(["sgd", "adam"])})


def blackbox(n_fidelities=5):
    # 1 s per epoch, plus a "dollars" objective of 0.5 per epoch (cumulative cost is not what max_cost sums)
    def fn(config, fidelity, seed):
        return [config["lr"] / fidelity, float(fidelity), 0.5]

    meta = BlackboxMetadata("toy", "loss", time_objective="time", time_is_cumulative=True)
    return FunctionBlackbox(fn, SPACE, ["loss", "time", "dollars"], meta, fidelity_name="epoch",
                            fidelity_values=list(range(1, n_fidelities + 1)))


def random_search(max_trials=None, seed=0):
    return FIFOScheduler(SPACE, "loss", RandomSearcher(SPACE, "loss", seed=seed), seed=seed,
                         fidelity_name="epoch", max_fidelity=5, max_trials=max_trials)


def run(stop, n_workers=2, **kwargs):
    return Tuner(random_search(**kwargs), SimulatorBackend(blackbox(), n_workers, seed=1), stop).run()


def test_stopping_criterion_validation():
    for bad in ({"max_evaluations": -1}, {"max_wallclock_time": math.inf}, {"max_trials_started": 2.5},
                {"max_cost": float("nan")}, {"max_evaluations": True}):
        with pytest.raises(ValueError, match="StoppingCriterion"):
            StoppingCriterion(**bad)
    assert not StoppingCriterion().is_bounded and StoppingCriterion(max_cost=3).is_bounded
    assert StoppingCriterion(max_evaluations=3).to_dict()["max_evaluations"] == 3


def test_random_search_runs_every_trial_to_completion():
    results = run(StoppingCriterion(), max_trials=5)
    frame = results.to_frame()
    # 2 workers, 5 trials of 5 one-second epochs: trials 0,1 at 0..5, 2,3 at 5..10, 4 at 10..15
    assert results.n_results == 25 and results.n_trials == 5
    assert frame[frame.trial_id == 4].sim_time.tolist() == [11.0, 12.0, 13.0, 14.0, 15.0]
    assert frame[frame.trial_id == 4].worker.unique().tolist() == [0]
    assert results.end_reason == "all trials ended" and results.stop_time == 15.0
    assert (results.trials_frame().status == "completed").all()
    assert frame.decision.eq("continue").all()


def test_max_cost_sums_worker_seconds_or_a_cost_objective():
    # worker seconds: every result costs 1 s -> 7 results
    assert run(StoppingCriterion(max_cost=7)).n_results == 7
    # 0.5 "dollars" per result -> 3 dollars after 6 results
    results = Tuner(random_search(), SimulatorBackend(blackbox(), 2, seed=1), StoppingCriterion(max_cost=3),
                    cost_objective="dollars").run()
    assert results.n_results == 6 and results.end_reason == "max_cost"
    with pytest.raises(ValueError, match="cost_objective"):
        Tuner(random_search(), SimulatorBackend(blackbox(), 2, seed=1), StoppingCriterion(), cost_objective="x")


def test_criteria_combine_and_the_earliest_wins():
    results = run(StoppingCriterion(max_evaluations=100, max_wallclock_time=3.5))
    assert results.n_results == 6 and results.end_reason == "max_wallclock_time" and results.stop_time == 3.5
    assert results.trials_frame().status.tolist() == ["running", "running"]
    assert np.isnan(results.trials_frame().ended_at).all()
    results = run(StoppingCriterion(max_evaluations=4, max_wallclock_time=100))
    assert results.n_results == 4 and results.end_reason == "max_evaluations"
    results = run(StoppingCriterion(max_trials_completed=3))
    assert results.to_frame().trial_id.max() == 3 and (results.trials_frame().status == "completed").sum() == 3


def test_waiting_scheduler_with_nothing_running_ends_the_run():
    class AlwaysWait(Scheduler):
        def suggest(self, trial_id):
            return Suggestion.wait()

    results = Tuner(AlwaysWait(SPACE, "loss"), SimulatorBackend(blackbox(), 2, seed=0), StoppingCriterion()).run()
    assert results.n_results == 0 and results.end_reason == "scheduler waits, nothing runs"


def test_bad_suggestions_are_named():
    class Odd(Scheduler):
        def suggest(self, trial_id):
            return Suggestion("teleport")

    with pytest.raises(ValueError, match="unknown suggestion kind 'teleport'"):
        Tuner(Odd(SPACE, "loss"), SimulatorBackend(blackbox(), 1, seed=0), StoppingCriterion()).run()
    tuner = Tuner(random_search(1), SimulatorBackend(blackbox(), 1, seed=0), StoppingCriterion())
    tuner.run()
    with pytest.raises(RuntimeError, match="runs once"):
        tuner.run()
    with pytest.raises(TypeError, match="StoppingCriterion"):
        Tuner(random_search(), SimulatorBackend(blackbox(), 1, seed=0), {"max_evaluations": 3})


def test_recorder_grows_and_keeps_blocks():
    recorder = ResultRecorder(["a", "b"], capacity=16)
    for i in range(10):
        recorder.append_block(i, np.arange(1.0, 4.0), np.full((3, 2), float(i)), np.arange(3.0) + i, 0.0, i % 2,
                              i, 0, np.ones(3), final_last=True)
    assert recorder.n == 30 and recorder.view("trial_id").tolist() == sorted(list(range(10)) * 3)
    assert recorder.objectives[29].tolist() == [9.0, 9.0] and recorder.view("final").sum() == 10
    assert recorder.cost_total == 30.0
    recorder.add_objective("c")
    assert recorder.objectives.shape[1] == 3 and np.isnan(recorder.objectives[:30, 2]).all()


def test_written_folder_matches_the_schema(tmp_path):
    results = run(StoppingCriterion(max_evaluations=9))
    path = experiment_path(str(tmp_path), "study", "toy", "RS", 3)
    assert path.endswith("study/toy/RS/3")
    write_experiment(path, results, {"tag": "study", "benchmark": "toy", "method": "RS", "seed": 3,
                                     "metric": "loss", "mode": "min", "budget": StoppingCriterion(
                                         max_evaluations=9).to_dict()})
    # no temporaries left behind
    assert sorted(os.listdir(path)) == ["metadata.json", "real_times.parquet", "results.parquet", "trials.parquet"]
    with open(os.path.join(path, "metadata.json")) as handle:
        meta = json.load(handle)
    assert meta["status"] == "complete" and meta["n_results"] == 9 and meta["n_trials"] == 2
    assert meta["objectives"] == ["loss", "time", "dollars"] and meta["format_version"] == 1
    assert meta["budget"]["max_evaluations"] == 9 and meta["end_reason"] == "max_evaluations"
    schema = pq.read_schema(os.path.join(path, "results.parquet"))
    types = {name: str(schema.field(name).type) for name in schema.names}
    assert schema.names == ["trial_id", "fidelity", "loss", "time", "dollars", "sim_time", "worker",
                            "decision", "config.lr", "config.opt"]
    real = pd.read_parquet(os.path.join(path, "real_times.parquet"))
    assert len(real) == 9 and (real["real_time"] >= 0).all()  # aligned with the rows of results.parquet
    assert types["trial_id"] == "int64" and types["fidelity"] == "double" and types["worker"] == "int32"
    assert types["decision"] in ("string", "large_string") and types["sim_time"] == "double"
    trials = pd.read_parquet(os.path.join(path, "trials.parquet"))
    assert list(trials.columns) == ["trial_id", "status", "started_at", "ended_at", "n_results", "error",
                                    "checkpoint_from", "config.lr", "config.opt"]
    assert trials.checkpoint_from.isna().all() and str(trials.checkpoint_from.dtype) == "Int64"
    assert trials.n_results.sum() == 9
    frame = pd.read_parquet(os.path.join(path, "results.parquet"))
    pd.testing.assert_series_equal(frame["config.lr"], results.to_frame()["config.lr"])


def test_writer_rejects_bad_metadata(tmp_path):
    results = run(StoppingCriterion(max_evaluations=2))
    base = {"tag": "t", "benchmark": "b", "method": "m", "seed": 0, "metric": "loss", "mode": "min"}
    with pytest.raises(ValueError, match="lacks"):
        write_experiment(str(tmp_path / "a"), results, {"tag": "t"})
    with pytest.raises(ValueError, match="not a result objective"):
        write_experiment(str(tmp_path / "a"), results, dict(base, metric="accuracy"))
    with pytest.raises(ValueError, match="folder name"):
        experiment_path(str(tmp_path), "a/b", "x", "y", 0)
    write_metadata(str(tmp_path / "r"), dict(base, status="running"))
    assert json.loads((tmp_path / "r" / "metadata.json").read_text())["status"] == "running"
