"""LocalBackend with tiny scripts written by the tests (pause/resume, crash, hang, stop) and the examples."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from _scripted_scheduler import InOrderScheduler

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from baselines.scheduler import Decision
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from launchers.local_backend import LocalBackend
from launchers.tuner import StoppingCriterion, Tuner

REPO = Path(__file__).resolve().parents[1]
SPACE = SearchSpace({"mode": Categorical(["ok", "crash", "hang", "slow"]), "x": Uniform(0.0, 1.0)})

SCRIPT = textwrap.dedent('''
    import sys, time
    from launchers.report import load_checkpoint, report, save_checkpoint, trial_context

    trial = trial_context()
    mode, x = trial.config["mode"], trial.config["x"]
    state = load_checkpoint() or {"epoch": 0, "starts": 0, "trained": 0}
    state["starts"] += 1
    if mode == "hang":
        time.sleep(600)
    for epoch in range(state["epoch"] + 1, int(trial.max_fidelity) + 1):
        time.sleep(0.5 if mode == "slow" else 0.01)
        state["trained"] += 1
        state["epoch"] = epoch
        save_checkpoint(state)
        if mode == "crash" and epoch == 2:
            print("about to fail", file=sys.stderr)
            raise ValueError("boom")
        report(epoch=epoch, loss=x + 1.0 / epoch, starts=state["starts"], trained=state["trained"])
''')


class Scripted(InOrderScheduler):
    """Decisions from ``plan[trial_id][fidelity]``; the same ``milestones`` for every segment."""

    def __init__(self, configs, plan=None, milestones=None):
        super().__init__(SPACE, configs)
        self.plan, self._milestones = plan or {}, milestones

    def milestones(self, trial_id):
        return self._milestones

    def first_segment_decision(self, trial_id, fidelity):
        return self.plan.get(trial_id, {}).get(fidelity, Decision.CONTINUE)


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    return path


def backend(script, tmp_path, n_workers=1, **kwargs):
    return LocalBackend(script, n_workers=n_workers, fidelity_name="epoch", max_fidelity=4,
                        objectives_names=["loss", "starts", "trained"], workdir=tmp_path / "work",
                        grace_period=2.0, **kwargs)


def test_pause_and_resume_continue_from_the_checkpoint(script, tmp_path):
    scheduler = Scripted([{"mode": "ok", "x": 0.5}, {"mode": "ok", "x": 0.25}],
                         plan={0: {2.0: Decision.PAUSE}}, milestones=[2])
    results = Tuner(scheduler, backend(script, tmp_path), StoppingCriterion()).run()
    frame = results.to_frame()
    t0 = frame[frame.trial_id == 0]
    assert t0.fidelity.tolist() == [1.0, 2.0, 3.0, 4.0]  # contiguous, no epoch twice
    assert t0.starts.tolist() == [1, 1, 2, 2]  # epochs 3 and 4 came from the resumed process
    assert t0.trained.tolist() == [1, 2, 3, 4]  # it trained each epoch once (resumed from the checkpoint)
    assert t0.decision.tolist() == ["continue", "pause", "continue", "continue"]
    assert t0.loss.tolist() == pytest.approx([1.5, 1.0, 0.5 + 1 / 3, 0.75])
    assert (frame.sim_time.diff().dropna() >= 0).all()
    assert scheduler.log == [("result", 0, 2.0), ("paused", 0), ("result", 1, 2.0), ("complete", 1, 4.0),
                             ("complete", 0, 4.0)]
    trials = results.trials_frame()
    assert trials.status.tolist() == ["completed", "completed"]
    assert trials.n_results.tolist() == [4, 4]
    assert (tmp_path / "work" / "trial_0" / "checkpoint" / "checkpoint.pkl").exists()


def test_crash_and_hang_fail_with_stderr_tail_and_the_tuner_goes_on(script, tmp_path):
    scheduler = Scripted([{"mode": "crash", "x": 0.1}, {"mode": "hang", "x": 0.2}, {"mode": "ok", "x": 0.3}])
    results = Tuner(scheduler, backend(script, tmp_path, n_workers=2, trial_timeout=3.0),
                    StoppingCriterion()).run()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["failed", "failed", "completed"]
    assert "ValueError: boom" in trials.error[0] and "about to fail" in trials.error[0]
    assert "exit code 1" in trials.error[0]
    assert "timed out after 3 s" in trials.error[1]
    assert trials.error[2] == ""
    assert trials.n_results.tolist() == [1, 0, 4]
    assert ("failed", 0) in scheduler.log and ("failed", 1) in scheduler.log


def test_stop_terminates_the_process_and_frees_the_worker(script, tmp_path):
    scheduler = Scripted([{"mode": "slow", "x": 0.1}, {"mode": "ok", "x": 0.2}],
                         plan={0: {1.0: Decision.STOP}}, milestones=[1])
    be = backend(script, tmp_path)
    results = Tuner(scheduler, be, StoppingCriterion()).run()
    frame = results.to_frame()
    assert frame[frame.trial_id == 0].decision.tolist() == ["stop"]
    assert results.trials_frame().status.tolist() == ["stopped", "completed"]
    # the worker was freed right after the stop: trial 1 started before trial 0 would have reached epoch 2
    seg = results.segments
    assert seg["start"][1] - seg["end"][0] < 0.4


def test_wallclock_budget_stops_running_scripts(script, tmp_path):
    scheduler = FIFOScheduler(SPACE, "loss", RandomSearcher(SPACE, "loss", seed=0), fidelity_name="epoch",
                              max_fidelity=4)
    scheduler.searcher._suggest = lambda trial_id: {"mode": "slow", "x": 0.5}
    results = Tuner(scheduler, backend(script, tmp_path, n_workers=2), StoppingCriterion(
        max_wallclock_time=1.2)).run()
    assert results.end_reason == "max_wallclock_time"
    assert (results.to_frame().sim_time <= 1.2).all()
    assert set(results.trials_frame().status) == {"running"}


def test_metrics_are_discovered_when_not_listed(script, tmp_path):
    be = LocalBackend(script, n_workers=1, fidelity_name="epoch", max_fidelity=2, workdir=tmp_path / "w")
    results = Tuner(Scripted([{"mode": "ok", "x": 0.0}]), be, StoppingCriterion()).run()
    assert results.objectives_names == ["loss", "starts", "trained"]
    assert results.to_frame().loss.tolist() == [1.0, 0.5]


@pytest.mark.parametrize("example, fidelity, config_space", [
    ("train_xgboost.py", "boosting_round", SearchSpace({"dataset": Categorical(["breast_cancer"]),
                                                        "eta": Uniform(0.1, 0.5)})),
    ("train_mlp.py", "epoch", SearchSpace({"dataset": Categorical(["digits"]),
                                           "learning_rate_init": Uniform(1e-3, 1e-2)})),
])
def test_example_scripts_run_and_resume(tmp_path, example, fidelity, config_space):
    script = REPO / "launchers" / "examples" / example
    configs = [config_space.sample(__import__("numpy").random.default_rng(i)) for i in range(2)]

    class PauseFirst(Scripted):
        def __init__(self):
            super().__init__(configs, plan={0: {2.0: Decision.PAUSE}}, milestones=[2])
            self.config_space = config_space
            self.metric = "val_error"
            self.fidelity_name = fidelity

    be = LocalBackend(script, n_workers=2, fidelity_name=fidelity, max_fidelity=3, workdir=tmp_path / "w",
                      trial_timeout=120)
    results = Tuner(PauseFirst(), be, StoppingCriterion()).run()
    frame = results.to_frame()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["completed", "completed"], trials.error.tolist()
    assert frame.groupby("trial_id").fidelity.apply(list).tolist() == [[1.0, 2.0, 3.0]] * 2
    assert frame.val_error.between(0, 1).all()
    # the resumed trial's elapsed training time keeps growing across the restart
    t0 = frame[frame.trial_id == 0].elapsed_time.to_numpy()
    assert (t0[1:] > t0[:-1]).all()
    path = results.write(str(tmp_path / "out"), {"tag": "t", "benchmark": example, "method": "scripted", "seed": 0,
                                                 "metric": "val_error", "mode": "min", "simulated": False})
    meta = json.loads(Path(path, "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["n_results"] == 6 and meta["simulated"] is False
    stored = pd.read_parquet(Path(path, "results.parquet"))
    assert list(stored.columns[:2]) == ["trial_id", "fidelity"] and "config.dataset" in stored.columns
