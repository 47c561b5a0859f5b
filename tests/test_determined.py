"""Determined adaptive ASHA (bracket construction, promotion order, stop_once) and experiment-config parsing."""
from __future__ import annotations

import pytest
from _scheduler_driver import drive

from baselines.determined import FixedLengthScheduler, determined_grid, scheduler_from_determined
from baselines.determined_adaptive_asha import (
    EXITED_METRIC,
    DeterminedAdaptiveASHA,
    bracket_layout,
    capped_max_rungs,
    rung_lengths,
)
from baselines.scheduler import Decision
from blackbox_repo.search_space import SearchSpace, Uniform

SPACE = SearchSpace({"x": Uniform(0.0, 1.0)})
C, S, P = Decision.CONTINUE, Decision.STOP, Decision.PAUSE


def report(sched, t, f, v, metric="loss"):
    return sched.on_result(t, f, {metric: v})


# ---------------------------------------------------------------------------------------------------------
# bracket construction
# ---------------------------------------------------------------------------------------------------------


def test_max_rungs_capped_by_length_and_trials():
    # int(log(256)/log(4)) + 1 = 5, int(log(100)/log(4)) + 1 = 4
    assert capped_max_rungs(5, 256, 100, 4) == 4
    assert capped_max_rungs(5, 256, 1000, 4) == 5
    assert capped_max_rungs(5, 52, 1000, 4) == 3


def test_standard_mode_layouts():
    # max_trials 100 caps max_rungs at 4 -> standard brackets [4, 3, 2]
    # weights 4^3/4 = 16, 4^2/3 = 5.33, 4/2 = 2: int(100 * w / 23.33) = 68, 22, 8; remainder 2 -> first
    layout = bracket_layout(100, 256, "standard")
    assert layout.rungs == [4, 3, 2]
    assert layout.max_trials == [70, 22, 8]
    assert layout.max_concurrent == [6, 5, 5]  # 16 = 3 * 5 + 1, remainder to the most aggressive
    # max_trials 1000: 5 rungs -> [5, 4, 3]; weights 51.2, 16, 5.33 -> 705, 220, 73 (+2 to the first)
    layout = bracket_layout(1000, 256, "standard")
    assert (layout.rungs, layout.max_trials, layout.max_concurrent) == ([5, 4, 3], [707, 220, 73], [6, 5, 5])


def test_other_modes_and_concurrency_rules():
    assert bracket_layout(1000, 256, "aggressive").rungs == [5]
    conservative = bracket_layout(1000, 256, "conservative")
    assert conservative.rungs == [5, 4, 3, 2, 1]
    assert conservative.max_trials == [680, 211, 70, 26, 13]
    assert conservative.max_concurrent == [4, 3, 3, 3, 3]
    # 0 concurrent trials: every bracket gets max(trials of the last bracket, divisor)
    assert bracket_layout(1000, 256, max_concurrent_trials=0).max_concurrent == [73, 73, 73]
    # fewer concurrent trials than brackets: raised to one per bracket
    assert bracket_layout(1000, 256, max_concurrent_trials=2).max_concurrent == [1, 1, 1]
    # explicit bracket_rungs override the mode, sorted most aggressive first
    layout = bracket_layout(100, 256, bracket_rungs=[2, 5])
    assert layout.rungs == [5, 2] and layout.max_trials == [97, 3]


def test_rung_lengths():
    assert rung_lengths(256, 4, 5) == [1, 4, 16, 64, 256]
    assert rung_lengths(256, 4, 3) == [16, 64, 256]
    assert rung_lengths(52, 4, 3) == [3, 13, 52]
    sched = DeterminedAdaptiveASHA(SPACE, "loss", max_fidelity=52, fidelity_values=range(1, 53), max_trials=100)
    assert [b.lengths for b in sched.brackets] == [[3, 13, 52], [13, 52]]


# ---------------------------------------------------------------------------------------------------------
# promotion (asha.go)
# ---------------------------------------------------------------------------------------------------------


def _one_bracket(**kwargs):
    return DeterminedAdaptiveASHA(SPACE, "loss", max_fidelity=4, bracket_rungs=[3], divisor=2, max_trials=8,
                                  max_concurrent_trials=8, **kwargs)


def test_promotion_order_by_hand():
    sched = _one_bracket()
    assert sched.brackets[0].lengths == [1, 2, 4]
    for t in range(4):
        assert sched.suggest(t).kind == "start"
    # t0 = 1: k=0 before, new = int(1/2) = 0 -> nothing promoted; t0 pauses
    assert report(sched, 0, 1, 1.0) == P
    sched.on_trial_paused(0)
    # t1 = 2: old 0, new 1; t1 sorts at 1 (not < 1), new != old -> the entry at position 0 (t0) is promoted
    assert report(sched, 1, 1, 2.0) == P
    sched.on_trial_paused(1)
    s = sched.suggest(4)
    # a trial declares every rung from the one it heads to (issue 12 point 14: promotions on the spot)
    assert (s.kind, s.trial_id) == ("resume", 0) and sched.milestones(0) == [2, 4]
    # t2 = 0.5: old 1, new int(3/2) = 1, position 0 < 1 -> promoted now: it continues
    assert report(sched, 2, 1, 0.5) == C and sched.milestones(2) == [2, 4]
    # t3 = 3: old 1, new 2, position 3; entry at position 1 (t0) was already promoted -> nothing
    assert report(sched, 3, 1, 3.0) == P
    sched.on_trial_paused(3)
    # rung 2: t0 = 0.9 first (k=0, new 0) pauses; t2 = 0.4 -> old 0, new 1, position 0 -> continues to 4
    assert report(sched, 0, 2, 0.9) == P
    sched.on_trial_paused(0)
    assert report(sched, 2, 2, 0.4) == C and sched.milestones(2) == [4]
    assert report(sched, 2, 4, 0.3) == C  # top rung: the trial completes
    sched.on_trial_complete(2, 4, {"loss": 0.3})
    entries = sched.rung_metrics(0)
    assert [(m, t, p) for m, t, p in entries[0]] == [(0.5, 2, True), (1.0, 0, True), (2.0, 1, False),
                                                     (3.0, 3, False)]


def test_promotion_ties_go_after_equal_metrics_and_failures_count_as_worst():
    sched = _one_bracket()
    for t in range(3):
        sched.suggest(t)
    report(sched, 0, 1, 1.0)
    sched.on_trial_paused(0)
    # t1 ties with t0: it goes after it (position 1, not < new 1); t0 at the boundary is promoted
    assert report(sched, 1, 1, 1.0) == P
    assert sched.brackets[0].to_resume == [0]
    sched.on_trial_failed(2)
    assert sched.rung_metrics(0)[0][-1] == (EXITED_METRIC, 2, False)


def test_maximize_negates_the_metric():
    sched = _one_bracket(mode="max")
    for t in range(2):
        sched.suggest(t)
    assert report(sched, 0, 1, 1.0) == P
    sched.on_trial_paused(0)
    assert report(sched, 1, 1, 2.0) == C  # larger is better: promoted now


def test_stop_once_by_hand():
    sched = _one_bracket(stop_once=True)
    for t in range(4):
        sched.suggest(t)
    assert sched.milestones(0) == [1, 2, 4]
    # continue iff position (before equal metrics) < max(int(k / 2), 1), k counting the new result
    assert report(sched, 0, 1, 5.0) == C
    assert report(sched, 1, 1, 6.0) == S
    assert report(sched, 2, 1, 4.0) == C
    assert report(sched, 3, 1, 4.0) == C  # ties: inserted before the equal metric, position 0 < 2
    assert report(sched, 0, 2, 1.0) == C
    assert report(sched, 2, 2, 2.0) == S


def test_tournament_respects_per_bracket_concurrency_and_max_trials():
    sched = DeterminedAdaptiveASHA(SPACE, "loss", max_fidelity=64, max_trials=20, divisor=4,
                                   max_concurrent_trials=3)
    assert sched.layout.rungs == [3, 2] and sched.layout.max_concurrent == [2, 1]
    kinds = [sched.suggest(t).kind for t in range(4)]
    assert kinds == ["start", "start", "start", "wait"]
    assert [sched.bracket_of[t].index for t in range(3)] == [0, 1, 0]
    sched = DeterminedAdaptiveASHA(SPACE, "loss", max_fidelity=64, max_trials=20, divisor=4,
                                   max_concurrent_trials=3)
    log = drive(sched, list(range(1, 65)), n_workers=3, max_results=5000)
    assert len(log.configs) == 20
    assert [sum(1 for t in log.configs if sched.bracket_of[t].index == b) for b in (0, 1)] == \
        sched.layout.max_trials
    assert sched.suggest(99).kind == "done"


def test_max_length_shorter_than_the_blackbox_stops_at_the_top_rung():
    sched = DeterminedAdaptiveASHA(SPACE, "loss", max_fidelity=10, max_length=4, bracket_rungs=[1], max_trials=2)
    sched.suggest(0)
    assert sched.milestones(0) == [4]
    assert report(sched, 0, 4, 1.0) == S


# ---------------------------------------------------------------------------------------------------------
# experiment config
# ---------------------------------------------------------------------------------------------------------

EXPERIMENT = """
searcher:
  name: adaptive_asha
  metric: validation_accuracy
  smaller_is_better: false
  max_length:
    epochs: 52
  max_trials: 100
  mode: aggressive
  divisor: 3
  max_concurrent_trials: 4
hyperparameters:
  global_batch_size: 64
  optimizer:
    lr: {type: log, minval: -4, maxval: -1, base: 10}
    momentum: {type: double, minval: 0.5, maxval: 0.99}
  layers: {type: int, minval: 1, maxval: 4}
  activation: {type: categorical, vals: [relu, tanh]}
"""


def test_adaptive_asha_from_yaml():
    sched = scheduler_from_determined(EXPERIMENT, fidelity_name="epochs", max_fidelity=52,
                                      fidelity_values=range(1, 53), seed=0)
    assert isinstance(sched, DeterminedAdaptiveASHA)
    assert sched.mode == "max" and sched.metric == "validation_accuracy"
    assert sched.config_space.names == ["global_batch_size", "optimizer.lr", "optimizer.momentum", "layers",
                                        "activation"]
    # int(log(52)/log(3)) + 1 = 4, int(log(100)/log(3)) + 1 = 5 -> one bracket of 4 rungs
    assert sched.layout.rungs == [4] and sched.layout.max_concurrent == [4]
    assert sched.brackets[0].lengths == [1, 5, 17, 52]
    log = drive(sched, list(range(1, 53)), n_workers=4, max_results=300,
                objective=lambda c, f: c["optimizer.momentum"] * f / 52)
    assert all(sched.config_space.contains(c) for c in log.configs.values())


def test_config_errors_name_the_fix():
    with pytest.raises(ValueError, match="did you mean 'adaptive_asha'"):
        scheduler_from_determined({"searcher": {"name": "adaptive_ash", "metric": "m"}, "hyperparameters": {}},
                                  max_fidelity=10)
    with pytest.raises(ValueError, match="accepted"):
        scheduler_from_determined({"searcher": {"name": "random", "metric": "m", "max_trials": 3, "divisor": 4},
                                   "hyperparameters": {"x": {"type": "double", "minval": 0, "maxval": 1}}},
                                  max_fidelity=10)
    with pytest.raises(ValueError, match="checkpoint"):
        scheduler_from_determined({"searcher": {"name": "single", "metric": "m", "source_trial_id": 3},
                                   "hyperparameters": {}}, max_fidelity=10)
    with pytest.raises(ValueError, match="time_metric"):
        scheduler_from_determined({"searcher": {"name": "single", "metric": "m", "max_time": 5,
                                                "time_metric": "batches"},
                                   "hyperparameters": {"x": {"type": "double", "minval": 0, "maxval": 1}}},
                                  fidelity_name="epochs", max_fidelity=10)


def test_grid_values_follow_determined():
    hps = {"n": {"type": "int", "minval": 1, "maxval": 4, "count": 3},
           "lr": {"type": "log", "minval": -3, "maxval": -1, "count": 3},
           "d": {"type": "double", "minval": 0, "maxval": 1, "count": 1},
           "k": {"type": "int", "minval": 0, "maxval": 1, "count": 5},
           "c": {"type": "categorical", "vals": ["a", "b"]}, "z": 7}
    grid = determined_grid(hps)
    # int: round-half-away 1 + i * 3/2 -> 1, 3, 4; count clamped to the 2 integers of [0, 1]
    assert sorted({g["n"] for g in grid}) == [1, 3, 4]
    assert sorted({g["k"] for g in grid}) == [0, 1]
    assert sorted({g["lr"] for g in grid}) == pytest.approx([0.001, 0.01, 0.1])
    assert {g["d"] for g in grid} == {0.5}
    assert len(grid) == 3 * 3 * 1 * 2 * 2
    assert grid[0] == {"n": 1, "lr": pytest.approx(0.001), "d": 0.5, "k": 0, "c": "a", "z": 7}
    assert grid[1]["c"] == "b"  # the last hyperparameter varies fastest
    with pytest.raises(ValueError, match="count"):
        determined_grid({"x": {"type": "double", "minval": 0, "maxval": 1}})


def test_grid_single_and_random_searchers():
    hps = {"a": {"type": "int", "minval": 1, "maxval": 3, "count": 3}, "b": {"type": "categorical", "vals": [1, 2]}}
    grid = scheduler_from_determined({"searcher": {"name": "grid", "metric": "loss", "max_length": 5},
                                      "hyperparameters": hps}, max_fidelity=5)
    log = drive(grid, [1, 2, 3, 4, 5], n_workers=3)
    assert len(log.configs) == 6 and set(log.final.values()) == {"completed"}
    single = scheduler_from_determined({"searcher": {"name": "single", "metric": "loss", "max_length": 5},
                                        "hyperparameters": hps}, max_fidelity=5)
    assert len(drive(single, [1, 2, 3, 4, 5]).configs) == 1
    random = scheduler_from_determined({"searcher": {"name": "random", "metric": "loss", "max_trials": 4,
                                                     "max_length": {"epochs": 3}, "max_concurrent_trials": 2},
                                        "hyperparameters": hps}, max_fidelity=5)
    assert isinstance(random, FixedLengthScheduler)
    log = drive(random, [1, 2, 3, 4, 5], n_workers=4)
    assert len(log.configs) == 4
    assert set(log.final.values()) == {"stopped"}  # trained for max_length = 3 of 5
    assert max(e[2] for e in log.events if e[0] == "result") == 3
