"""Promotion-type ASHA's rung structure answers "who is promotable" exactly as scanning the sorted rung does.

The oracle is the rule written out plainly (the code path ASHA used before the heaps): scan the rungs from the
top, and in each the ``floor(n / rf)`` best results sorted by ``(value, trial id)``; promote the first trial that
was not promoted from there and is paused.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from _scheduler_driver import drive

from baselines.asynchronous_successive_halving import ASHA, _PromotionRung
from baselines.median_stopping import RunningMedian, median_of_sorted
from baselines.multi_fidelity import TrialStatus, TrialStatusTable
from baselines.pasha import PASHA
from blackbox_repo.search_space import SearchSpace, Uniform
from blackbox_repo.seeding import make_rng

SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "y": Uniform(0.0, 1.0)})


class _ScanningOracleMixin:
    """Replaces the heap look-up by the plain scan of each rung's sorted results."""

    def _find_promotable(self):
        cap = self._level_cap()
        for bracket, rungs in enumerate(self._rungs):
            for k in range(len(rungs) - 1, bracket - 1, -1):
                rung = rungs[k]
                if float(self._next_level(k + 1)) > cap + 1e-9:
                    continue
                num_top = int(len(rung) / self.reduction_factor)
                ranked = sorted((value, trial_id) for trial_id, value in rung.values.items())
                for _, trial_id in ranked[:num_top]:
                    if trial_id not in rung.promoted and self.status[trial_id] == TrialStatus.PAUSED:
                        rung.promoted.add(trial_id)
                        self._target_rung[trial_id] = k + 1
                        return trial_id
        return None


class OracleASHA(_ScanningOracleMixin, ASHA):
    pass


class OraclePASHA(_ScanningOracleMixin, PASHA):
    pass


def _noisy_objective(seed: int, decimals: int):
    """Seeded random learning curves; rounding to few decimals makes many ties (broken by trial id)."""

    def f(config, fidelity):
        rng = make_rng(seed, "curve", round(config["x"] * 1e9), round(config["y"] * 1e9), int(fidelity))
        value = config["x"] + config["y"] / (1.0 + fidelity) + 0.3 * float(rng.normal())
        return round(value, decimals)

    return f


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("brackets", "reduction_factor", "decimals", "mode"), [
    (1, 3, 1, "min"), (None, 3, 6, "min"), (None, 2, 1, "max"), (2, 4, 2, "min"),
])
def test_promotion_decisions_match_the_scanning_rule(seed, brackets, reduction_factor, decimals, mode):
    fidelities = list(range(1, 28))
    logs = []
    for cls in (ASHA, OracleASHA):
        scheduler = cls(SPACE, "loss", mode=mode, seed=seed, max_fidelity=27, variant="promotion",
                        reduction_factor=reduction_factor, brackets=brackets)
        logs.append(drive(scheduler, fidelities, n_workers=4, max_results=1500,
                          objective=_noisy_objective(seed, decimals)))
    ours, oracle = logs
    assert sum(e[0] == "resume" for e in oracle.events) > 20  # the sequence exercises promotions
    assert ours.events == oracle.events
    assert ours.final == oracle.final


@pytest.mark.parametrize("seed", [0, 1])
def test_pasha_decisions_match_the_scanning_rule(seed):
    fidelities = list(range(1, 28))
    logs = [drive(cls(SPACE, "loss", seed=seed, max_fidelity=27), fidelities, n_workers=3, max_results=800,
                  objective=_noisy_objective(seed, 2)) for cls in (PASHA, OraclePASHA)]
    assert sum(e[0] == "resume" for e in logs[1].events) > 10
    assert logs[0].events == logs[1].events


def test_rung_structure_against_the_rule_with_status_changes():
    """Random additions, status changes (paused / running / ended) and questions, checked one by one."""
    rng = np.random.default_rng(7)
    for reduction_factor in (2, 3, 4.5):
        rung = _PromotionRung(1.0)
        status = TrialStatusTable()
        promoted_by_oracle: set[int] = set()
        asked = 0
        for trial_id in range(600):
            value = math.inf if rng.random() < 0.05 else float(rng.integers(0, 40))  # ties and "NaN" results
            rung.add(trial_id, value)
            status[trial_id] = TrialStatus.PAUSED
            for _ in range(int(rng.integers(0, 3))):  # some recorded trials leave the paused state for a while
                other = int(rng.integers(0, trial_id + 1))
                if other not in promoted_by_oracle:
                    status[other] = TrialStatus(rng.choice(["paused", "paused", "running", "stopped"]))
            if rng.random() < 0.6:
                num_top = int(len(rung) / reduction_factor)
                ranked = sorted((v, t) for t, v in rung.values.items())[:num_top]
                expected = next((t for _, t in ranked
                                 if t not in promoted_by_oracle and status[t] == TrialStatus.PAUSED), None)
                got = rung.pop_promotable(num_top, status)
                assert got == expected, (reduction_factor, trial_id)
                if expected is not None:
                    promoted_by_oracle.add(expected)
                    status[expected] = TrialStatus.RUNNING
                    asked += 1
        assert asked > 50
        assert rung.promoted == promoted_by_oracle


def test_status_table_tracks_running_trials_in_table_order():
    table = TrialStatusTable()
    table[5] = TrialStatus.RUNNING
    table[2] = TrialStatus.PAUSED
    table[9] = TrialStatus.RUNNING
    table[2] = TrialStatus.RUNNING
    table[5] = TrialStatus.COMPLETED
    assert table.running_trials() == [2, 9] == [t for t, s in table.items() if s == TrialStatus.RUNNING]
    table.update({9: TrialStatus.STOPPED, 11: TrialStatus.RUNNING})
    del table[2]
    assert table.running_trials() == [11]


def test_running_median_equals_the_median_of_the_sorted_values():
    rng = np.random.default_rng(11)
    running = RunningMedian()
    values: list[float] = []
    for _ in range(500):
        value = math.inf if rng.random() < 0.05 else float(rng.integers(0, 30)) / 7.0  # ties and inf
        running.add(value)
        values.append(value)
        assert running.median() == median_of_sorted(sorted(values))
    assert running.sorted() == sorted(values) and len(running) == 500
    with pytest.raises(ValueError, match="no values"):
        RunningMedian().median()
