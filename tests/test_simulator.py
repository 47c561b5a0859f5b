"""The simulator against hand-computed schedules, plus conservation properties over random runs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _scripted_scheduler import InOrderScheduler

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from baselines.scheduler import Decision, Scheduler, Suggestion
from blackbox_repo.blackbox import BlackboxMetadata, FunctionBlackbox, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers.simulator import SimulationError, SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

EPOCH_SECONDS = {0: 2.0, 1: 3.0, 2: 1.0}  # per-epoch time of configuration x
SPACE = SearchSpace({"x": Categorical([0, 1, 2])})


def epoch_blackbox(n_fidelities: int = 4) -> FunctionBlackbox:
    def fn(config, fidelity, seed):
        x = config["x"]
        return [x + 1.0 / fidelity + 0.1 * seed, EPOCH_SECONDS[x] * fidelity]

    meta = BlackboxMetadata("epochs", default_metric="loss", time_objective="time", time_is_cumulative=True)
    return FunctionBlackbox(fn, SPACE, ["loss", "time"], meta, fidelity_name="epoch",
                            fidelity_values=list(range(1, n_fidelities + 1)), num_seeds=2)


class ScriptedScheduler(InOrderScheduler):
    """``plan[trial_id]`` = (milestones, {fidelity: decision}) for the trial's first segment; resumed segments get
    ``resume_milestones``."""

    def __init__(self, configs, plan=None, resume_milestones=()):
        super().__init__(SPACE, configs)
        self.plan = plan or {}
        self.resume_milestones = resume_milestones

    def milestones(self, trial_id):
        if trial_id in self.resumed:
            return self.resume_milestones
        return self.plan.get(trial_id, ((), {}))[0]

    def first_segment_decision(self, trial_id, fidelity):
        return self.plan.get(trial_id, ((), {}))[1].get(fidelity, Decision.CONTINUE)


def run(scheduler, stop=None, n_workers=2, blackbox=None, **kwargs):
    stop = stop or StoppingCriterion()
    backend = SimulatorBackend(blackbox or epoch_blackbox(), n_workers=n_workers, seed=0, blackbox_seed=0, **kwargs)
    return Tuner(scheduler, backend, stop).run()


# Hand-computed schedule (2 workers; trial 0: 2 s/epoch, paused at epoch 2 and resumed; trial 1: 3 s/epoch;
# trial 2: 1 s/epoch):
#   t=0  w0 starts T0, w1 starts T1
#   T0 reports e1 at 2, e2 at 4 -> PAUSE, w0 free at 4 -> starts T2: e1..e4 at 5, 6, 7, 8 (completes at 8)
#   T1 reports at 3, 6, 9, 12
#   t=8  w0 resumes T0 after e2: e3 at 10, e4 at 12 (pays epochs 3 and 4 only)
#   ties: T1/e2 and T2/e2 at 6 -> older segment (T1) first; T1/e4 and T0/e4 at 12 -> T1's segment is older
EXPECTED = [  # (trial, epoch, sim_time, worker, decision)
    (0, 1, 2.0, 0, "continue"), (1, 1, 3.0, 1, "continue"), (0, 2, 4.0, 0, "pause"),
    (2, 1, 5.0, 0, "continue"), (1, 2, 6.0, 1, "continue"), (2, 2, 6.0, 0, "continue"),
    (2, 3, 7.0, 0, "continue"), (2, 4, 8.0, 0, "continue"), (1, 3, 9.0, 1, "continue"),
    (0, 3, 10.0, 0, "continue"), (1, 4, 12.0, 1, "continue"), (0, 4, 12.0, 0, "continue"),
]


def pause_resume_scheduler():
    return ScriptedScheduler([{"x": 0}, {"x": 1}, {"x": 2}], plan={0: ([2], {2: Decision.PAUSE})})


def as_tuples(results):
    frame = results.to_frame()
    return list(zip(frame.trial_id.tolist(), frame.fidelity.astype(int).tolist(), frame.sim_time.tolist(),
                    frame.worker.tolist(), frame.decision.tolist()))


def test_hand_computed_pause_resume_schedule():
    scheduler = pause_resume_scheduler()
    results = run(scheduler)
    assert as_tuples(results) == EXPECTED
    frame = results.to_frame()
    # objectives are the blackbox's, the time objective stays cumulative since the trial's first start
    np.testing.assert_array_equal(frame["time"], [2, 3, 4, 1, 6, 2, 3, 4, 9, 6, 12, 8])
    assert frame["config.x"].tolist() == [0, 1, 0, 2, 1, 2, 2, 2, 1, 0, 1, 0]
    trials = results.trials_frame()
    assert trials.status.tolist() == ["completed"] * 3
    assert trials.started_at.tolist() == [0.0, 0.0, 4.0]
    assert trials.ended_at.tolist() == [12.0, 12.0, 8.0]
    assert trials.n_results.tolist() == [4, 4, 4]
    assert scheduler.log == [("result", 0, 2.0), ("paused", 0), ("complete", 2, 4.0),
                             ("complete", 1, 4.0), ("complete", 0, 4.0)]
    seg = results.segments
    assert seg["trial_id"].tolist() == [0, 1, 2, 0]
    assert seg["start"].tolist() == [0.0, 0.0, 4.0, 8.0]
    assert seg["end"].tolist() == [4.0, 12.0, 8.0, 12.0]
    assert results.end_reason == "all trials ended"


def test_max_evaluations_truncates_to_first_results_in_time_order():
    results = run(pause_resume_scheduler(), StoppingCriterion(max_evaluations=7))
    assert as_tuples(results) == EXPECTED[:7]
    assert results.end_reason == "max_evaluations"
    assert results.stop_time == 7.0
    trials = results.trials_frame()
    assert trials.status.tolist() == ["paused", "running", "running"]
    assert trials.n_results.tolist() == [2, 2, 3]
    assert math.isnan(trials.ended_at[1]) and trials.ended_at[0] == 4.0


@pytest.mark.parametrize("n", range(13))
def test_max_evaluations_is_a_prefix_of_the_unbounded_run(n):
    assert as_tuples(run(pause_resume_scheduler(), StoppingCriterion(max_evaluations=n))) == EXPECTED[:n]


@pytest.mark.parametrize("t, n_kept", [(0.0, 0), (3.0, 2), (5.9, 4), (6.0, 6), (11.0, 10), (100.0, 12)])
def test_max_wallclock_time_keeps_results_up_to_t(t, n_kept):
    results = run(pause_resume_scheduler(), StoppingCriterion(max_wallclock_time=t))
    assert as_tuples(results) == EXPECTED[:n_kept]


def test_max_trials_completed_and_max_cost():
    # T2 completes at 8 (8th result); T1 at 12 (11th)
    assert as_tuples(run(pause_resume_scheduler(), StoppingCriterion(max_trials_completed=1))) == EXPECTED[:8]
    assert as_tuples(run(pause_resume_scheduler(), StoppingCriterion(max_trials_completed=2))) == EXPECTED[:11]
    # worker seconds per result: 2,3,2,1,3,1,1,1,3,2,3,2 -> cumulative 2,5,7,8,11,12,13,14,17,19,22,24
    assert as_tuples(run(pause_resume_scheduler(), StoppingCriterion(max_cost=12))) == EXPECTED[:6]
    assert as_tuples(run(pause_resume_scheduler(), StoppingCriterion(max_cost=12.5))) == EXPECTED[:7]


def test_max_trials_started_ends_where_the_next_start_would_happen():
    # 2 trials may start; the 3rd start is decided on T0's pause at t=4 (3rd result): results up to it are kept
    results = run(pause_resume_scheduler(), StoppingCriterion(max_trials_started=2))
    assert as_tuples(results) == EXPECTED[:3]
    assert results.n_trials == 2 and results.end_reason == "max_trials_started"


def test_stop_frees_the_worker_at_once_and_wait_and_done():
    class StopThenWait(ScriptedScheduler):
        def __init__(self):
            super().__init__([{"x": 1}, {"x": 0}, {"x": 2}],
                             plan={0: ([1], {1.0: Decision.STOP}), 1: ([1, 2, 3, 4], {})})
            self.calls = []

        def suggest(self, trial_id):
            self.calls.append(trial_id)
            if trial_id == 2 and len(self.calls) < 4:
                return Suggestion.wait()  # nothing now: ask again after the next event
            return super().suggest(trial_id)

    scheduler = StopThenWait()
    results = run(scheduler)
    # T0 (3 s/epoch) stopped at e1 (t=3): w0 is free at 3 but waits; T1 (2 s/epoch) reports e1 at 2 first.
    # suggest calls: t=0 (trial 0, 1), t=2 after T1/e1 -> w? none free; t=3 after STOP: wait (3rd call),
    # t=4 (T1/e2 wakes the waiting worker): start T2 at 4 on w0 -> 5, 6, 7, 8
    frame = results.to_frame()
    t2 = frame[frame.trial_id == 2]
    assert t2.sim_time.tolist() == [5.0, 6.0, 7.0, 8.0] and set(t2.worker) == {0}
    t0 = frame[frame.trial_id == 0]
    assert t0.sim_time.tolist() == [3.0] and t0.decision.tolist() == ["stop"]
    assert results.trials_frame().status.tolist() == ["stopped", "completed", "completed"]
    assert results.segments["end"][0] == 3.0
    assert scheduler.calls == [0, 1, 2, 2, 3, 3]  # t=8 and t=8: both workers get "done" (no configs left)


def test_milestones_between_fidelities_and_every_step():
    class EveryStep(ScriptedScheduler):
        def milestones(self, trial_id):
            return None

    scheduler = EveryStep([{"x": 2}])
    run(scheduler, n_workers=1)
    assert [e for e in scheduler.log if e[0] == "result"] == [("result", 0, f) for f in (1.0, 2.0, 3.0, 4.0)]
    # a milestone of 1.5 is seen at the first fidelity above it (2), one above the maximum is dropped
    scheduler = ScriptedScheduler([{"x": 2}], plan={0: ([1.5, 9], {})})
    run(scheduler, n_workers=1)
    assert scheduler.log == [("result", 0, 2.0), ("complete", 0, 4.0)]


def test_max_fidelity_cap_completes_early():
    scheduler = ScriptedScheduler([{"x": 0}])
    results = run(scheduler, n_workers=1, blackbox=epoch_blackbox(6), max_fidelity=3)
    assert results.to_frame().fidelity.tolist() == [1.0, 2.0, 3.0]
    assert scheduler.log == [("complete", 0, 3.0)]


def tiny_table(times: np.ndarray, cumulative: bool = True) -> TabularBlackbox:
    """Table with configs x in 0..n-1, 1 seed, F fidelities; objectives (loss, time)."""
    n, f = times.shape
    objectives = np.zeros((n, 1, f, 2), dtype=np.float32)
    objectives[:, 0, :, 0] = np.arange(f)[None, :]
    objectives[:, 0, :, 1] = times
    space = SearchSpace({"x": Categorical(list(range(n)))})
    meta = BlackboxMetadata("tiny", "loss", time_objective="time", time_is_cumulative=cumulative)
    return TabularBlackbox(pd.DataFrame({"x": range(n)}), objectives, space, ["loss", "time"], meta,
                           fidelity_name="epoch", fidelity_values=list(range(1, f + 1)))


def fifo(space, n_trials, seed=0, metric="loss"):
    searcher = RandomSearcher(space, metric, seed=seed)
    return FIFOScheduler(space, metric, searcher, seed=seed, max_trials=n_trials)


def test_negative_durations_count_as_zero_and_nan_is_explicit():
    table = tiny_table(np.array([[2.0, 1.0, 5.0]]))  # cumulative time decreases at epoch 2
    results = run(ScriptedScheduler([{"x": 0}]), n_workers=1, blackbox=table)
    assert results.to_frame().sim_time.tolist() == [2.0, 2.0, 5.0]
    table = tiny_table(np.array([[2.0, -1.0, 3.0]]), cumulative=False)
    assert run(ScriptedScheduler([{"x": 0}]), n_workers=1, blackbox=table).to_frame().sim_time.tolist() == \
        [2.0, 2.0, 5.0]
    table = tiny_table(np.array([[1.0, np.nan, 4.0, 5.0]]))
    with pytest.raises(SimulationError, match=r"trial 0 .*NaN at fidelity 2"):
        run(ScriptedScheduler([{"x": 0}]), n_workers=1, blackbox=table)
    # impute: steps 2 and 3 are undefined -> median of the defined ones (1 and 1) -> times 1, 2, 3, 4
    results = run(ScriptedScheduler([{"x": 0}]), n_workers=1, blackbox=table, nan_time="impute")
    assert results.to_frame().sim_time.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_replicate_seed_comes_from_the_experiment_seed():
    bb = epoch_blackbox()
    seeds = []
    for _ in range(2):
        backend = SimulatorBackend(bb, n_workers=2, seed=5)
        Tuner(fifo(SPACE, 20, seed=1), backend, StoppingCriterion()).run()
        seeds.append(backend.trial_seeds)
    assert seeds[0] == seeds[1] and set(seeds[0]) == {0, 1}
    np.random.seed(0)  # global state is irrelevant
    backend = SimulatorBackend(bb, n_workers=2, seed=5)
    Tuner(fifo(SPACE, 20, seed=1), backend, StoppingCriterion()).run()
    assert backend.trial_seeds == seeds[0]
    expected = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(
        int.from_bytes(__import__("hashlib").sha256(b"blackbox-seed").digest()[:4], "little"),))).integers(2, size=20)
    assert backend.trial_seeds == expected.tolist()


# ---------------------------------------------------------------------------------------------------------------
# Random runs: conservation properties
# ---------------------------------------------------------------------------------------------------------------

class RandomPauseStop(Scheduler):
    """Random starts, resumes, pauses, stops, waits and random milestones (all from its own seed)."""

    def __init__(self, space, n_fidelities, seed, max_trials=40):
        super().__init__(space, "loss", "min", seed, "epoch", float(n_fidelities))
        self.n_fidelities = n_fidelities
        self.max_trials = max_trials
        self.paused: list[int] = []
        self.started = 0

    def suggest(self, trial_id):
        u = self.rng.random()
        if self.paused and u < 0.4:
            return Suggestion.resume(self.paused.pop(int(self.rng.integers(len(self.paused)))))
        if u < 0.1:
            return Suggestion.wait()
        if self.started < self.max_trials:
            self.started += 1
            return Suggestion.start(self.config_space.sample(self.rng))
        if self.paused:
            return Suggestion.resume(self.paused.pop(0))
        return Suggestion.done()

    def milestones(self, trial_id):
        if self.rng.random() < 0.2:
            return None
        k = int(self.rng.integers(0, 4))
        return sorted(self.rng.choice(np.arange(1, self.n_fidelities + 1), size=k, replace=False).tolist())

    def on_result(self, trial_id, fidelity, metrics):
        return [Decision.CONTINUE, Decision.PAUSE, Decision.STOP][int(self.rng.choice(3, p=[0.5, 0.35, 0.15]))]

    def on_trial_paused(self, trial_id):
        self.paused.append(trial_id)


def random_table(seed: int, n: int = 12, f: int = 8) -> TabularBlackbox:
    rng = np.random.default_rng(seed)
    durations = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=(n, f))  # zero durations create ties on purpose
    return tiny_table(np.cumsum(durations, axis=1))


@pytest.mark.parametrize("seed", range(12))
def test_conservation_properties_random_runs(seed):
    table = random_table(seed)
    n_workers = 1 + seed % 4
    results = Tuner(RandomPauseStop(table.configuration_space, 8, seed), SimulatorBackend(
        table, n_workers=n_workers, seed=seed), StoppingCriterion()).run()
    frame = results.to_frame()
    seg = results.segments
    span = max(frame.sim_time.max() if len(frame) else 0.0, np.nanmax(seg["end"]) if len(seg["end"]) else 0.0)
    # times are non-decreasing in report order
    assert (np.diff(frame.sim_time.to_numpy()) >= 0).all()
    # busy time per worker <= span, and segments on one worker never overlap
    for w in range(n_workers):
        mine = np.flatnonzero(seg["worker"] == w)
        starts, ends = seg["start"][mine], seg["end"][mine]
        assert np.isfinite(ends).all()  # nothing left running in an unbounded run
        assert np.sum(ends - starts) <= span + 1e-9
        assert (starts[1:] >= ends[:-1]).all()
    cum = table.objectives[:, 0, :, 1].astype(np.float64)
    for tid, group in frame.groupby("trial_id"):
        fids = group.fidelity.to_numpy()
        # contiguous 1..k, no epoch reported twice across resumes
        np.testing.assert_array_equal(fids, np.arange(1, len(fids) + 1))
        # a resumed trial never pays twice: its busy time equals the cumulative time of its last epoch
        row = table.row(results.trials[tid].config)
        mine = seg["trial_id"] == tid
        assert np.sum(seg["end"][mine] - seg["start"][mine]) == pytest.approx(cum[row, len(fids) - 1])
        # each result lies within one of its trial's segments, on that segment's worker
        for t, w in zip(group.sim_time, group.worker):
            inside = mine & (seg["start"] <= t) & (t <= seg["end"]) & (seg["worker"] == w)
            assert inside.any()


@pytest.mark.parametrize("seed", range(6))
def test_truncated_runs_are_prefixes_of_the_unbounded_run(seed):
    table = random_table(100 + seed)

    def go(stop):
        return Tuner(RandomPauseStop(table.configuration_space, 8, seed), SimulatorBackend(
            table, n_workers=3, seed=seed), stop).run().to_frame()

    full = go(StoppingCriterion())
    for n in (1, 5, len(full) // 2, len(full)):
        pd.testing.assert_frame_equal(go(StoppingCriterion(max_evaluations=n)),
                                      full.iloc[:n])
    t = float(full.sim_time.iloc[len(full) // 3])
    part = go(StoppingCriterion(max_wallclock_time=t))
    pd.testing.assert_frame_equal(part,
                                  full[full.sim_time <= t])


def test_same_seed_same_results_bit_for_bit(tmp_path):
    table = random_table(7, n=30, f=10)
    paths = []
    for i in range(2):
        scheduler = RandomPauseStop(table.configuration_space, 10, seed=3, max_trials=60)
        results = Tuner(scheduler, SimulatorBackend(table, n_workers=4, seed=3), StoppingCriterion(
            max_evaluations=150)).run()
        paths.append(results.write(str(tmp_path / f"run{i}"), {"tag": "t", "benchmark": "tiny", "method": "rnd",
                                                               "seed": 3, "metric": "loss", "mode": "min"}))
    a = pd.read_parquet(f"{paths[0]}/results.parquet")
    b = pd.read_parquet(f"{paths[1]}/results.parquet")
    assert len(a) == 150
    pd.testing.assert_frame_equal(a, b)
    for name in ("results.parquet", "trials.parquet"):  # the files themselves are byte-identical
        with open(f"{paths[0]}/{name}", "rb") as fa, open(f"{paths[1]}/{name}", "rb") as fb:
            assert fa.read() == fb.read()


def test_generic_blackbox_matches_the_tabular_fast_path():
    times = np.array([[1.0, 3.0, 4.0], [2.0, 2.5, 6.0], [0.5, 1.0, 1.5]])
    table = tiny_table(times)

    def fn(config, fidelity, seed):
        return [float(fidelity - 1), times[config["x"], int(fidelity) - 1]]

    function_bb = FunctionBlackbox(fn, table.configuration_space, ["loss", "time"], table.metadata,
                                   fidelity_name="epoch", fidelity_values=[1, 2, 3])
    frames = [Tuner(fifo(table.configuration_space, 9, seed=2), SimulatorBackend(bb, 2, seed=0),
                    StoppingCriterion()).run().to_frame() for bb in (table, function_bb)]
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_charge_scheduler_time_delays_starts():
    class Slow(ScriptedScheduler):
        def suggest(self, trial_id):
            import time as _t
            _t.sleep(0.02)
            return super().suggest(trial_id)

    results = run(Slow([{"x": 2}]), n_workers=1, charge_scheduler_time=True)
    first = results.to_frame().sim_time.iloc[0]
    assert 1.02 <= first < 1.5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="time objective"):
        meta = BlackboxMetadata("nt", "loss", time_objective=None)
        SimulatorBackend(FunctionBlackbox(lambda c, f, s: [0.0], SPACE, ["loss"], meta), 1, 0)
    with pytest.raises(ValueError, match="below the first fidelity"):
        SimulatorBackend(epoch_blackbox(), 1, 0, max_fidelity=0.5)
    with pytest.raises(ValueError, match="only paused trials can be resumed"):
        class BadResume(ScriptedScheduler):
            def suggest(self, trial_id):
                return Suggestion.resume(0) if trial_id == 1 else super().suggest(trial_id)
        run(BadResume([{"x": 0}]), n_workers=2)


def test_a_replicate_missing_for_a_configuration_falls_back_to_the_next_one():
    # Three replicate seeds; configuration "c0" was trained with seeds 0 and 1 only (seed 2 all NaN), as
    # NAS-Bench-201 architectures with fewer runs are. A trial drawing seed 2 sees seed 0 (the next present
    # one, cyclically); one drawing seed 1 keeps it.
    space = SearchSpace({"x": Categorical(["c0", "c1"])})
    objectives = np.zeros((2, 3, 2, 2), dtype=np.float32)
    for s in range(3):
        objectives[:, s, :, 0] = 10.0 * (s + 1)  # loss identifies the replicate
        objectives[:, s, :, 1] = [1.0, 2.0]  # cumulative time
    objectives[0, 2] = np.nan
    table = TabularBlackbox(pd.DataFrame({"x": ["c0", "c1"]}), objectives, space, ["loss", "time"],
                            BlackboxMetadata("gaps", "loss", time_objective="time"), "epoch", [1, 2])

    def run(blackbox_seed):
        scheduler = FIFOScheduler(space, "loss", RandomSearcher(space, "loss", points_to_evaluate=[{"x": "c0"}],
                                                                restrict_to=[{"x": "c0"}]))
        backend = SimulatorBackend(table, n_workers=1, seed=0, blackbox_seed=blackbox_seed)
        frame = Tuner(scheduler, backend, StoppingCriterion(max_evaluations=2)).run().to_frame()
        return frame["loss"].tolist(), backend.trial_seeds

    assert run(2) == ([10.0, 10.0], [0])
    assert run(1) == ([20.0, 20.0], [1])
