"""HyperDrive early termination policies and the HyperDrive facade, pinned on hand-made result sequences."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest
from _scheduler_driver import drive

from baselines.early_termination import (
    BanditPolicy,
    EarlyTerminationScheduler,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
    is_evaluation_point,
)
from baselines.hyperdrive import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveNotImplementedError,
    PrimaryMetricGoal,
    RandomParameterSampling,
)
from baselines.scheduler import Decision
from blackbox_repo.hyperdrive import choice, loguniform, quniform, uniform
from blackbox_repo.search_space import SearchSpace, Uniform
from results.hyperdrive_queries import ChildRun, HyperDriveRun

SPACE = SearchSpace({"x": Uniform(0.0, 1.0)})
C, S = Decision.CONTINUE, Decision.STOP


def make(policy, mode="max", n=10):
    sched = EarlyTerminationScheduler(SPACE, "acc", mode=mode, max_fidelity=1000, policy=policy)
    for t in range(n):
        assert sched.suggest(t).kind == "start"
    return sched


def report(sched, t, value, fidelity=1):
    return sched.on_result(t, fidelity, {"acc": value})


# ---------------------------------------------------------------------------------------------------------
# evaluation points
# ---------------------------------------------------------------------------------------------------------


def test_evaluation_points_delay_and_interval():
    # delay 200, interval 100: the first check is at interval 200
    checks = [n for n in range(1, 501) if is_evaluation_point(n, 100, 200)]
    assert checks == [200, 300, 400, 500]
    assert [n for n in range(1, 8) if is_evaluation_point(n, 2, 3)] == [4, 6]
    assert [n for n in range(1, 4) if is_evaluation_point(n, 1, 0)] == [1, 2, 3]


def test_policy_only_fires_at_evaluation_points():
    sched = make(BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=3), n=2)
    for _ in range(6):
        report(sched, 0, 1.0)
    decisions = [report(sched, 1, 0.1) for _ in range(4)]
    assert decisions == [C, C, C, S]  # intervals 1, 2, 3 are not checked (delay 3, interval 2): first check 4


def test_policy_validation():
    with pytest.raises(ValueError, match="exactly one"):
        BanditPolicy()
    with pytest.raises(ValueError, match="exactly one"):
        BanditPolicy(slack_factor=0.1, slack_amount=0.2)
    with pytest.raises(ValueError, match="1..99"):
        TruncationSelectionPolicy(truncation_percentage=0)
    with pytest.raises(ValueError, match="1..99"):
        TruncationSelectionPolicy(truncation_percentage=12.5)
    with pytest.raises(ValueError, match="evaluation_interval"):
        MedianStoppingPolicy(evaluation_interval=0)


# ---------------------------------------------------------------------------------------------------------
# BanditPolicy
# ---------------------------------------------------------------------------------------------------------


def test_bandit_slack_factor_maximize_stops_exactly_below_best_over_1_1():
    sched = make(BanditPolicy(slack_factor=0.1))
    # best 1.0: cutoff 1 / 1.1 = 0.909...
    decisions = [report(sched, t, v) for t, v in enumerate([1.0, 0.95, 0.91, 0.90, 0.5])]
    assert decisions == [C, C, C, S, S]


def test_bandit_slack_factor_minimize_mirror_rule():
    sched = make(BanditPolicy(slack_factor=0.1), mode="min")
    # best 1.0: cancel above 1.0 * 1.1
    decisions = [report(sched, t, v) for t, v in enumerate([1.0, 1.05, 1.09, 1.11, 2.0])]
    assert decisions == [C, C, C, S, S]


def test_bandit_slack_amount():
    sched = make(BanditPolicy(slack_amount=0.2))
    # HyperDrive's example: best 0.8, slack 0.2 -> cutoff 0.6
    assert [report(sched, t, v) for t, v in enumerate([0.8, 0.61, 0.59])] == [C, C, S]
    sched = make(BanditPolicy(slack_amount=0.2), mode="min")
    assert [report(sched, t, v) for t, v in enumerate([0.8, 0.99, 1.01])] == [C, C, S]


def test_bandit_uses_the_runs_best_so_far_and_the_best_up_to_the_interval():
    sched = make(BanditPolicy(slack_factor=0.1))
    assert report(sched, 0, 0.95) == C
    # run 0 drops to 0.5 at interval 2, but its best so far (0.95) is compared
    report(sched, 1, 1.0)
    assert report(sched, 0, 0.5) == C
    # run 2 at interval 1 is compared with the best any run had at interval <= 1 (1.0) ...
    sched = make(BanditPolicy(slack_factor=0.1))
    for v in [0.5, 0.7, 1.0]:
        report(sched, 0, v)
    assert report(sched, 1, 0.5) == C  # best at interval 1 is 0.5, not run 0's later 1.0
    assert report(sched, 1, 0.55) == S  # best at interval <= 2 is 0.7 > 0.55 * 1.1


# ---------------------------------------------------------------------------------------------------------
# MedianStoppingPolicy
# ---------------------------------------------------------------------------------------------------------


def test_median_stopping_policy_running_averages():
    sched = make(MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2), mode="min")
    curves = {0: [1.0, 1.0], 1: [3.0, 3.0], 2: [2.0, 5.0], 3: [4.0, 4.0]}
    decisions = {t: [report(sched, t, v) for v in curve] for t, curve in curves.items()}
    # runs report one after the other; the pool at interval 2 holds the runs that reached it
    assert decisions[0] == [C, C]  # alone: median = its own average
    assert decisions[1] == [C, S]  # averages 1, 3 -> median 2 < best 3
    # interval 2: running averages 1, 3, 3.5 -> median 3; run 2's best (2) is better -> continue
    assert decisions[2] == [C, C]
    # with run 3: averages 1, 3, 3.5, 4 -> median 3.25 < 4 -> cancel at interval 2 (not at 1: delay 2)
    assert decisions[3] == [C, S]


# ---------------------------------------------------------------------------------------------------------
# TruncationSelectionPolicy
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_runs, percentage, expected_cut", [(10, 30, 3), (9, 30, 2), (5, 20, 1), (4, 20, 0)])
def test_truncation_cuts_exactly_floor_of_the_percentage(n_runs, percentage, expected_cut):
    sched = make(TruncationSelectionPolicy(truncation_percentage=percentage, delay_evaluation=2), n=n_runs)
    values = [float(v) for v in range(n_runs)]  # maximise: run 0 is the worst
    for t, v in enumerate(values):
        assert report(sched, t, v) == C  # interval 1: before the delay
    # interval 2, reported best-first and worst-first interleaved: the pool is the same 10 values either way
    order = sorted(range(n_runs), key=lambda t: (t % 2, t))
    cut = {t for t in order if report(sched, t, values[t]) == S}
    assert cut == set(range(expected_cut))


def test_truncation_compares_with_others_values_at_intervals_up_to_n():
    sched = make(TruncationSelectionPolicy(truncation_percentage=50), mode="min", n=2)
    # run 0 trains far ahead and improves; run 1 at interval 1 is compared with run 0's interval-1 value only
    for v in [5.0, 1.0, 0.5]:
        report(sched, 0, v)
    assert report(sched, 1, 4.0) == C  # pool {run 0 at 1: 5.0, run 1: 4.0}: run 0 is the worse one
    assert report(sched, 1, 2.0) == S  # pool {run 0 at 2: 1.0, run 1: 2.0}: run 1 is the worst half


def test_truncation_exclude_finished_jobs():
    def run(exclude):
        sched = EarlyTerminationScheduler(SPACE, "loss", mode="min", max_fidelity=3,
                                          policy=TruncationSelectionPolicy(25, delay_evaluation=3,
                                                                           exclude_finished_jobs=exclude))
        for t in range(5):
            sched.suggest(t)
        for f in (1, 2, 3):
            sched.on_result(0, f, {"loss": 10.0})
        sched.on_trial_complete(0, 3, {"loss": 10.0})
        out = []
        for t in range(1, 5):
            for f in (1, 2, 3):
                d = sched.on_result(t, f, {"loss": float(t)})
            out.append(d)
        return out

    # with the finished (worst) run in the pool: 5 runs, 1 cut = run 0 -> nobody running is cut
    assert run(False) == [C, C, C, C]
    # without it: runs 1..4, floor(4 * 25 / 100) = 1 cut -> run 4 (the last, worst) is cut when it reports
    assert run(True) == [C, C, C, S]


def test_no_termination_policy_never_looks():
    sched = make(NoTerminationPolicy())
    assert sched.milestones(0) == ()
    assert report(sched, 0, -1e9) == C


def test_max_concurrent_runs_and_total_runs():
    sched = EarlyTerminationScheduler(SPACE, "acc", mode="max", max_fidelity=5, max_trials=5, max_concurrent=2,
                                      policy=BanditPolicy(slack_factor=0.1))
    assert sched.suggest(0).kind == "start" and sched.suggest(1).kind == "start"
    assert sched.suggest(2).kind == "wait"
    log = drive(EarlyTerminationScheduler(SPACE, "acc", mode="max", max_fidelity=5, max_trials=5,
                                          max_concurrent=2), [1, 2, 3, 4, 5], n_workers=4)
    assert len(log.configs) == 5


# ---------------------------------------------------------------------------------------------------------
# HyperDrive facade
# ---------------------------------------------------------------------------------------------------------


def test_hyperdrive_config_builds_a_scheduler():
    config = HyperDriveConfig(
        RandomParameterSampling({"--lr": loguniform(-6, -1), "depth": choice(2, 4, 8)}),
        primary_metric_name="acc", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        policy=BanditPolicy(slack_factor=0.1, delay_evaluation=2), max_total_runs=6, max_concurrent_runs=3)
    sched = config.scheduler(fidelity_name="epoch", max_fidelity=4, seed=1)
    assert sched.mode == "max" and sched.config_space.names == ["lr", "depth"]
    log = drive(sched, [1, 2, 3, 4], n_workers=5, objective=lambda c, f: c["depth"] / 8 + f / 10)
    assert len(log.configs) == 6


def test_hyperdrive_bayesian_rules():
    space = {"x": uniform(0, 1), "n": quniform(1, 10, 1), "c": choice("a", "b")}
    with pytest.raises(HyperDriveNotImplementedError, match="early termination"):
        HyperDriveConfig(BayesianParameterSampling(space), "acc", "maximize", max_total_runs=60,
                         policy=BanditPolicy(slack_factor=0.1))
    with pytest.warns(UserWarning, match="max_concurrent_runs=21"):
        HyperDriveConfig(BayesianParameterSampling(space), "acc", "maximize", max_total_runs=60,
                         max_concurrent_runs=21)
    with pytest.warns(UserWarning, match="recommended 60"):
        HyperDriveConfig(BayesianParameterSampling(space), "acc", "maximize", max_total_runs=59)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HyperDriveConfig(BayesianParameterSampling(space), "acc", "Maximize", max_total_runs=60,
                         max_concurrent_runs=20, policy=NoTerminationPolicy())
    with pytest.raises(ValueError, match="only choice, uniform and quniform"):
        BayesianParameterSampling({"lr": loguniform(-5, -1)})
    with pytest.raises(ValueError, match="integer arguments"):
        BayesianParameterSampling({"q": quniform(0.5, 10, 1)})


def test_hyperdrive_grid_and_limits():
    with pytest.raises(ValueError, match="only choice"):
        GridParameterSampling({"x": uniform(0, 1)})
    with pytest.raises(ValueError, match="max_total_runs"):
        HyperDriveConfig(RandomParameterSampling({"x": uniform(0, 1)}), "acc", "maximize", max_total_runs=1001)
    with pytest.raises(ValueError, match="max_concurrent_runs"):
        HyperDriveConfig(RandomParameterSampling({"x": uniform(0, 1)}), "acc", "maximize", max_total_runs=5,
                         max_concurrent_runs=101)
    with pytest.raises(ValueError, match="primary_metric_goal"):
        HyperDriveConfig(RandomParameterSampling({"x": uniform(0, 1)}), "acc", "biggest", max_total_runs=5)
    config = HyperDriveConfig(GridParameterSampling({"a": choice(1, 2), "b": choice("x", "y", "z")}), "loss",
                              "minimize", max_total_runs=100)
    log = drive(config.scheduler(max_fidelity=2), [1, 2], n_workers=2)
    assert sorted((c["a"], c["b"]) for c in log.configs.values()) == [
        (1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]


def _results_frame():
    rows = []
    for trial, values, config in [(0, [0.5, 0.7], "a"), (1, [0.9, 0.8], "b"), (2, [0.6, float("nan")], "c")]:
        for f, v in enumerate(values, start=1):
            rows.append({"trial_id": trial, "fidelity": float(f), "acc": v, "elapsed_time": float(f),
                         "sim_time": 0.0, "real_time": 0.0, "worker": 0, "decision": "continue",
                         "config.opt": config})
    trials = pd.DataFrame({"trial_id": [0, 1, 2, 3], "status": ["completed", "stopped", "failed", "running"],
                           "config.opt": ["a", "b", "c", "d"]})
    return pd.DataFrame(rows), trials


def test_run_queries_on_results():
    results, trials = _results_frame()
    run = HyperDriveRun.from_results(results, "acc", "maximize", trials)
    ordered = run.get_children_sorted_by_primary_metric()
    assert [c["run_id"] for c in ordered] == [1, 0, 2, 3]  # best (max) first, the run without metric last
    assert [c["best_primary_metric"] for c in ordered] == [0.9, 0.7, 0.6, None]
    assert [c["run_id"] for c in run.get_children_sorted_by_primary_metric(reverse=True)] == [2, 0, 1, 3]
    assert [c["run_id"] for c in run.get_children_sorted_by_primary_metric(top=2)] == [1, 0]
    assert [c["run_id"] for c in run.get_children_sorted_by_primary_metric(discard_no_metric=True)] == [1, 0, 2]
    assert ordered[0]["status"] == "Canceled"
    assert run.get_best_run_by_primary_metric().run_id == 1
    assert run.get_best_run_by_primary_metric(include_canceled=False).run_id == 0
    assert run.get_hyperparameters() == {0: {"opt": "a"}, 1: {"opt": "b"}, 2: {"opt": "c"}, 3: {"opt": "d"}}
    metrics = run.get_metrics()
    assert metrics[0]["acc"] == [0.5, 0.7] and metrics[3] == {}
    minimise = HyperDriveRun.from_results(results, "acc", "minimize")
    assert minimise.get_best_run_by_primary_metric().run_id == 0
    with pytest.raises(KeyError, match="primary metric"):
        HyperDriveRun.from_results(results, "loss", "minimize")


def test_run_queries_on_child_runs():
    children = [ChildRun(0, {"x": 1}, {"loss": [3.0, 2.0]}), ChildRun(1, {"x": 2}, {"loss": [1.0]}, "Failed")]
    run = HyperDriveRun(children, "loss", "minimize")
    assert run.get_best_run_by_primary_metric().run_id == 1
    assert run.get_best_run_by_primary_metric(include_failed=False).run_id == 0
