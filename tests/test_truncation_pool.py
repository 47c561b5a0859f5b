"""HyperDrive's truncation policy answers from order statistics exactly as the scan over every run did.

The oracle is the previous implementation (a numpy scan of every run's value at ``min(length, N)`` on each
evaluation), which the scheduler keeps for fewer than ``scan_below_runs`` runs (``_truncation_cancels_by_scan``); a
subclass takes it at every decision, while the tests lower ``scan_below_runs`` so that the scheduler under test hands
over to the pool, from the start or from a point mid-run. The scheduler under test must take the same decision at every
result, on seeded random sequences with many ties, infinite ("NaN") results, runs longer than the Fenwick tree's
initial capacity, and with and without ``exclude_finished_jobs``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _scheduler_driver import drive

from baselines.early_termination import EarlyTerminationScheduler, TruncationSelectionPolicy, _TruncationPool
from baselines.random_search import RandomSearcher
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from blackbox_repo.seeding import make_rng
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "y": Uniform(0.0, 1.0)})


class ScanningTruncation(EarlyTerminationScheduler):
    """The scan over every run (the implementation before ``_TruncationPool``) at every decision, whatever the
    number of runs: the scheduler's own small-pool path, never handed over to the pool."""

    def _truncation_cancels(self, trial_id, interval, policy):
        return self._truncation_cancels_by_scan(trial_id, interval, policy)


def _noisy_objective(seed: int, levels: int):
    """Seeded random curves rounded to ``levels`` values (many ties), with 3% infinite (diverged) results."""

    def f(config, fidelity):
        rng = make_rng(seed, "curve", round(config["x"] * 1e9), round(config["y"] * 1e9), int(fidelity))
        if rng.random() < 0.03:
            return math.nan  # minimised() turns it into +inf, the worst value
        value = config["x"] + config["y"] / (1.0 + fidelity) + 0.3 * float(rng.normal())
        return round(value * levels) / levels

    return f


@pytest.mark.parametrize(("seed", "scan_below_runs"), [(0, 0), (1, 0), (2, 60)])  # 60: built mid-run
@pytest.mark.parametrize(("percentage", "evaluation_interval", "delay", "exclude", "mode", "levels"), [
    (20, 1, 0, False, "min", 4),
    (20, 1, 0, True, "min", 4),
    (50, 3, 5, True, "max", 10),
    (35, 2, 0, False, "max", 1000),
    (25, 1, 8, True, "min", 3),
])
def test_truncation_decisions_match_the_scan(seed, scan_below_runs, percentage, evaluation_interval, delay, exclude,
                                            mode, levels):
    fidelities = list(range(1, 41))  # 40 intervals: beyond the tree's initial capacity of 16
    policy = TruncationSelectionPolicy(percentage, evaluation_interval, delay, exclude_finished_jobs=exclude)
    logs = []
    for cls in (EarlyTerminationScheduler, ScanningTruncation):
        scheduler = cls(SPACE, "loss", mode=mode, seed=seed, max_fidelity=40, policy=policy)
        scheduler.scan_below_runs = scan_below_runs  # the scan oracle ignores it
        logs.append(drive(scheduler, fidelities, n_workers=5, max_results=2000,
                          objective=_noisy_objective(seed, levels)))
    ours, scan = logs
    decisions = scan.decisions()
    assert sum(d == "stop" for _, _, d in decisions) > 10  # the sequence exercises cuts
    assert sum(d == "continue" for _, _, d in decisions) > 100
    assert ours.events == scan.events
    assert ours.final == scan.final
    assert len(scan.configs) > scan_below_runs  # the pool was used
    if exclude:
        assert any(state == "completed" for state in scan.final.values())  # finished runs leave the pool


def test_pool_counts_against_brute_force_with_leaving_runs():
    """Random results, departures and questions on the structure alone, checked against a direct count."""
    rng = np.random.default_rng(3)
    pool = _TruncationPool()
    runs: dict[int, list[float]] = {}
    left: set[int] = set()
    evaluated = [i % 2 == 0 for i in range(1, 4002)]  # evaluation points: even intervals
    checked = 0
    for step in range(4000):
        active = [r for r in runs if r not in left]
        if not active or rng.random() < 0.1:
            run = len(runs)
            runs[run] = []
        elif rng.random() < 0.03:
            run = active[int(rng.integers(len(active)))]
            pool.leave(runs[run], evaluated[: len(runs[run])])
            left.add(run)
            continue
        else:
            run = active[int(rng.integers(len(active)))]
        values = runs[run]
        value = math.inf if rng.random() < 0.05 else float(rng.integers(0, 12))
        previous = values[-1] if values else None
        values.append(value)
        length = len(values)
        pool.record(length, value, previous, evaluated[length - 1])
        if evaluated[length - 1]:
            expected = sum(runs[r][min(len(runs[r]), length) - 1] >= value for r in runs if r not in left)
            assert pool.count_at_least(length, value) == expected, step
            checked += 1
    assert pool.size == len(runs) - len(left)
    assert max(len(v) for v in runs.values()) > 32  # the tree grew at least twice
    assert checked > 500


def _table(seed: int) -> TabularBlackbox:
    """64 configurations x 30 epochs with tied losses and a constant epoch time per configuration."""
    rng = np.random.default_rng(seed)
    n, f = 64, 30
    epochs = np.arange(1, f + 1)
    final = rng.uniform(0.1, 0.9, size=(n, 1))
    loss = np.round((final + (1 - final) * np.exp(-epochs / rng.uniform(2, 10, size=(n, 1)))) * 20) / 20
    objectives = np.zeros((n, 1, f, 2), dtype=np.float32)
    objectives[:, 0, :, 0] = loss
    objectives[:, 0, :, 1] = rng.uniform(1, 5, size=(n, 1)) * epochs
    space = SearchSpace({"x": Categorical(list(range(n)))})
    meta = BlackboxMetadata("tiny-truncation", "loss", time_objective="time", time_is_cumulative=True)
    return TabularBlackbox(pd.DataFrame({"x": range(n)}), objectives, space, ["loss", "time"], meta,
                           fidelity_name="epoch", fidelity_values=epochs.tolist())


@pytest.mark.parametrize(("exclude", "seed", "scan_below_runs"), [(False, 0, 0), (True, 0, 0), (False, 1, 100),
                                                                   (True, 1, 100)])
def test_truncation_through_the_simulator_matches_the_scan(exclude, seed, scan_below_runs):
    table = _table(seed)
    policy = TruncationSelectionPolicy(30, exclude_finished_jobs=exclude)
    frames = []
    for cls in (EarlyTerminationScheduler, ScanningTruncation):
        space = table.configuration_space
        scheduler = cls(space, "loss", RandomSearcher(space, "loss", seed=seed), seed=seed,
                        fidelity_name="epoch", max_fidelity=30, max_trials=300, policy=policy)
        scheduler.scan_below_runs = scan_below_runs
        results = Tuner(scheduler, SimulatorBackend(table, n_workers=4, seed=seed), StoppingCriterion()).run()
        frames.append((results.to_frame(), results.trials_frame()))
    (ours, ours_trials), (scan, scan_trials) = frames
    assert (scan_trials.status == "stopped").sum() > 20
    pd.testing.assert_frame_equal(ours, scan)
    pd.testing.assert_frame_equal(ours_trials, scan_trials)
