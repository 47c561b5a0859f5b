"""Multi-fidelity schedulers: decisions pinned on hand-made result sequences, driven through the Scheduler API."""
from __future__ import annotations

import numpy as np
import pytest
from _scheduler_driver import drive

from baselines.asynchronous_successive_halving import ASHA, hyperband_bracket_weights
from baselines.median_stopping import MedianStoppingRule
from baselines.multi_fidelity import rung_levels
from baselines.pasha import PASHA
from baselines.scheduler import Decision
from baselines.successive_halving import (
    SynchronousHyperband,
    SynchronousSuccessiveHalving,
    hyperband_brackets,
)
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform

SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "c": Categorical(["a", "b"])})
C, S, P = Decision.CONTINUE, Decision.STOP, Decision.PAUSE


def report(scheduler, trial_id, fidelity, value):
    return scheduler.on_result(trial_id, fidelity, {"loss": value})


def start(scheduler, trial_id):
    suggestion = scheduler.suggest(trial_id)
    assert suggestion.kind == "start", suggestion
    return suggestion


# ---------------------------------------------------------------------------------------------------------
# rung levels
# ---------------------------------------------------------------------------------------------------------


def test_rung_levels_geometric_and_snapped():
    assert rung_levels(1, 3, 27) == [1, 3, 9]
    assert rung_levels(1, 3, 81) == [1, 3, 9, 27]
    assert rung_levels(1, 3, 52, list(range(1, 53))) == [1, 3, 9, 27]
    # 4 and 8 snap up to the reported fidelities 5 and 10 (10 is the maximum: not a rung)
    assert rung_levels(1, 2, 10, [1, 2, 5, 10]) == [1, 2, 5]
    with pytest.raises(ValueError, match="reduction_factor"):
        rung_levels(1, 1, 27)
    with pytest.raises(ValueError, match="grace_period"):
        rung_levels(30, 3, 27)


# ---------------------------------------------------------------------------------------------------------
# ASHA, stopping variant: rf 3, grace 1, max 9 -> rungs at 1 and 3
# ---------------------------------------------------------------------------------------------------------

RUNG1 = [5.0, 3.0, 8.0, 1.0, 4.0, 9.0, 2.0, 7.0, 6.0]
# cutoff = quantile(previous values at the rung, 1/3), linear interpolation; continue iff value <= cutoff
#  t0 5: first -> C          t1 3: q([5])=5 -> C            t2 8: q([3,5])=3.67 -> S
#  t3 1: q([3,5,8])=4.33 C    t4 4: q([1,3,5,8])=3 -> S       t5 9: q([1,3,4,5,8])=3.33 -> S
#  t6 2: q([1,3,4,5,8,9])=3.67 -> C                          t7 7: q(7 values)=3 -> S
#  t8 6: q(8 values)=3.33 -> S
RUNG1_DECISIONS = [C, C, S, C, S, S, C, S, S]
RUNG3 = {0: 4.0, 1: 2.5, 3: 0.5, 6: 3.5}
#  t0 4: first -> C   t1 2.5: q([4])=4 -> C   t3 0.5: q([2.5,4])=3 -> C   t6 3.5: q([.5,2.5,4])=1.83 -> S
RUNG3_DECISIONS = [C, C, C, S]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_asha_stopping_decisions_by_hand(mode):
    sign = 1.0 if mode == "min" else -1.0
    asha = ASHA(SPACE, "loss", mode=mode, max_fidelity=9, grace_period=1, reduction_factor=3)
    assert asha.levels == [1, 3]
    for t in range(9):
        start(asha, t)
        assert asha.milestones(t) == [1, 3]
    got = [report(asha, t, 1, sign * v) for t, v in enumerate(RUNG1)]
    assert got == RUNG1_DECISIONS
    got3 = [report(asha, t, 3, sign * v) for t, v in RUNG3.items()]
    assert got3 == RUNG3_DECISIONS
    # results between rungs are not judged
    assert report(asha, 0, 5, sign * 100.0) == C


def test_asha_stopping_max_trials_then_done():
    asha = ASHA(SPACE, "loss", max_fidelity=9, max_trials=2)
    start(asha, 0)
    start(asha, 1)
    assert asha.suggest(2).kind == "done"


# ---------------------------------------------------------------------------------------------------------
# ASHA, promotion variant, one worker
# ---------------------------------------------------------------------------------------------------------


def test_asha_promotion_sequence_by_hand():
    asha = ASHA(SPACE, "loss", max_fidelity=9, variant="promotion", grace_period=1, reduction_factor=3)
    at_1 = dict(enumerate(RUNG1))
    at_3 = {1: 2.5, 3: 0.5, 6: 3.5}
    position = {}
    trace = []
    next_id = 0
    for _ in range(14):
        s = asha.suggest(next_id)
        if s.kind == "start":
            tid = next_id
            next_id += 1
            trace.append(f"start{tid}")
        else:
            assert s.kind == "resume"
            tid = s.trial_id
            trace.append(f"resume{tid}")
        (level,) = asha.milestones(tid)
        value = {1: at_1, 3: at_3}.get(level, {}).get(tid, 0.1)
        decision = report(asha, tid, level, value)
        if level == 9:
            assert decision == C
            asha.on_trial_complete(tid, 9, {"loss": value})
        else:
            assert decision == P
            asha.on_trial_paused(tid)
        position[tid] = level
    # rung 1 holds n results: the best floor(n/3) are promotable, top rung first
    assert trace == ["start0", "start1", "start2", "resume1", "start3", "resume3", "start4", "start5", "start6",
                     "resume6", "resume3", "start7", "start8", "start9"]
    assert asha.status[3].value == "completed"


def test_asha_promotion_waits_while_running_trials_may_create_promotions():
    asha = ASHA(SPACE, "loss", max_fidelity=9, variant="promotion", max_trials=1)
    start(asha, 0)
    assert asha.suggest(1).kind == "wait"
    report(asha, 0, 1, 1.0)
    asha.on_trial_paused(0)
    assert asha.suggest(1).kind == "done"


# ---------------------------------------------------------------------------------------------------------
# asynchronous Hyperband
# ---------------------------------------------------------------------------------------------------------


def test_async_hyperband_bracket_distribution_is_hyperbands():
    # rungs 1, 3, 9 below 27: brackets with 3, 2, 1, 0 halvings start n_s = 27, 12, 6, 4 trials
    np.testing.assert_allclose(hyperband_bracket_weights(3, 3, 4), np.array([27, 12, 6, 4]) / 49)
    asha = ASHA(SPACE, "loss", max_fidelity=27, brackets=None, seed=3)
    assert asha.num_brackets == 4
    brackets = []
    for t in range(400):
        start(asha, t)
        brackets.append(asha.bracket_of[t])
    counts = np.bincount(brackets, minlength=4) / 400
    np.testing.assert_allclose(counts, np.array([27, 12, 6, 4]) / 49, atol=0.06)
    # bracket b judges only at the rung levels from r_b on
    by_bracket = {b: t for t, b in reversed(list(enumerate(brackets)))}
    assert asha.milestones(by_bracket[0]) == [1, 3, 9]
    assert asha.milestones(by_bracket[2]) == [9]
    assert asha.milestones(by_bracket[3]) == []


# ---------------------------------------------------------------------------------------------------------
# synchronous SH / Hyperband
# ---------------------------------------------------------------------------------------------------------


def test_hyperband_rung_sizes():
    assert hyperband_brackets(4, 3) == [[27, 9, 3, 1], [12, 4, 1], [6, 2], [4]]
    assert hyperband_brackets(3, 3) == [[9, 3, 1], [5, 1], [3]]
    # Hyperband paper's R = 81, eta = 3 table
    assert hyperband_brackets(5, 3) == [[81, 27, 9, 3, 1], [34, 11, 3, 1], [15, 5, 1], [8, 2], [5]]
    sh = SynchronousSuccessiveHalving(SPACE, "loss", max_fidelity=9)
    assert sh.levels == [1, 3, 9] and sh.bracket_sizes == [[9, 3, 1]]


def test_successive_halving_waits_for_the_whole_rung_then_promotes_the_best():
    sh = SynchronousSuccessiveHalving(SPACE, "loss", max_fidelity=9, reduction_factor=3)
    values = [5.0, 3.0, 8.0, 1.0, 4.0, 9.0, 2.0, 7.0, 6.0]
    for t in range(8):
        start(sh, t)
        assert sh.milestones(t) == [1]
        assert report(sh, t, 1, values[t]) == P
        sh.on_trial_paused(t)
    start(sh, 8)
    assert sh.suggest(9).kind == "wait"  # rung 1 incomplete: trial 8 still running
    assert report(sh, 8, 1, values[8]) == P
    sh.on_trial_paused(8)
    resumed = [sh.suggest(9) for _ in range(3)]
    assert [s.trial_id for s in resumed] == [3, 6, 1]  # the best 3 of 9, best first
    assert sh.suggest(9).kind == "wait"
    assert all(sh.milestones(t) == [3] for t in (3, 6, 1))
    for t, v in [(3, 0.9), (6, 0.5), (1, 0.7)]:
        assert report(sh, t, 3, v) == P
        sh.on_trial_paused(t)
    s = sh.suggest(9)
    assert (s.kind, s.trial_id) == ("resume", 6)
    assert sh.milestones(6) == [9]
    assert report(sh, 6, 9, 0.4) == C
    sh.on_trial_complete(6, 9, {"loss": 0.4})
    # successive halving repeats its bracket with new trials
    s = sh.suggest(9)
    assert s.kind == "start" and sh.milestones(9) == [1]


def test_hyperband_runs_brackets_in_order_and_max_open_brackets():
    hb = SynchronousHyperband(SPACE, "loss", max_fidelity=9, reduction_factor=3)
    assert hb.bracket_sizes == [[9, 3, 1], [5, 1], [3]]
    log = drive(hb, [1, 3, 9], n_workers=1, max_results=100)
    starts = [e[1] for e in log.events if e[0] == "start"]
    first_rungs = [hb.bracket_of[t].kind for t in starts]
    assert first_rungs[:9] == [0] * 9 and first_rungs[9:14] == [1] * 5 and first_rungs[14:17] == [2] * 3
    # each bracket-1 trial first reports at 3, bracket-2 trials go straight to 9
    results = [e for e in log.events if e[0] == "result" and e[3] is not None]
    assert {e[2] for e in results if hb.bracket_of[e[1]].kind == 1} <= {3, 9}
    # with two open brackets an idle worker starts the next bracket instead of waiting
    hb2 = SynchronousHyperband(SPACE, "loss", max_fidelity=9, max_open_brackets=2)
    for t in range(9):
        start(hb2, t)
    assert hb2.suggest(9).kind == "start" and hb2.bracket_of[9].kind == 1


def test_successive_halving_failed_trials_count_as_worst():
    sh = SynchronousSuccessiveHalving(SPACE, "loss", max_fidelity=3, reduction_factor=3, max_trials=3)
    for t in range(3):
        start(sh, t)
    sh.on_trial_failed(0)
    for t, v in [(1, 2.0), (2, 1.0)]:
        report(sh, t, 1, v)
        sh.on_trial_paused(t)
    assert sh.suggest(3).trial_id == 2


# ---------------------------------------------------------------------------------------------------------
# PASHA
# ---------------------------------------------------------------------------------------------------------


def _pasha_fill(pasha, rung1_values, rung3_values):
    """One worker; values per trial at fidelity 1 and 3; the curve between is linear."""
    next_id = 0
    while True:
        s = pasha.suggest(next_id)
        if s.kind == "start":
            tid, next_id = next_id, next_id + 1
            if tid >= len(rung1_values):
                return
            fidelities = [1]
        else:
            tid = s.trial_id
            fidelities = [2, 3]
        for f in fidelities:
            v = rung1_values[tid] if f == 1 else rung3_values[tid] if f == 3 else \
                0.5 * (rung1_values[tid] + rung3_values[tid])
            d = report(pasha, tid, f, v)
        assert d == P
        pasha.on_trial_paused(tid)


def test_pasha_grows_the_maximum_only_when_rankings_disagree():
    # rf 3, max 27: rungs 1, 3, 9; PASHA starts with maximum 3
    rung1 = [5.0, 3.0, 8.0, 1.0, 4.0, 9.0]
    consistent = {1: 2.0, 3: 0.5}  # t3 best at both rungs
    pasha = PASHA(SPACE, "loss", max_fidelity=27, epsilon=0.0)
    assert pasha.current_max_fidelity == 3
    _pasha_fill(pasha, rung1, consistent)
    assert pasha.current_max_fidelity == 3 and pasha.max_history == [3]
    swapped = {1: 0.2, 3: 0.5}  # t1 overtakes t3 at rung 3
    pasha = PASHA(SPACE, "loss", max_fidelity=27, epsilon=0.0)
    _pasha_fill(pasha, rung1, swapped)
    assert pasha.max_history == [3, 9]
    # a soft-ranking tolerance larger than the rung-1 gap (3 - 1) keeps the maximum
    pasha = PASHA(SPACE, "loss", max_fidelity=27, epsilon=2.5)
    _pasha_fill(pasha, rung1, swapped)
    assert pasha.max_history == [3]


def test_pasha_trials_pause_at_the_current_maximum():
    pasha = PASHA(SPACE, "loss", max_fidelity=27, epsilon=0.0)
    log = drive(pasha, list(range(1, 28)), n_workers=2, max_results=200,
                objective=lambda c, f: c["x"] + 1.0 / f)  # never crossing curves: rankings stay stable
    assert pasha.current_max_fidelity == 3
    assert max(e[2] for e in log.events if e[0] == "result") == 3


def test_pasha_epsilon_from_criss_crossing_curves():
    pasha = PASHA(SPACE, "loss", max_fidelity=27)
    pasha.curves = {0: {1.0: 1.0, 2.0: 2.0, 3.0: 1.0}, 1: {1.0: 2.0, 2.0: 1.0, 3.0: 1.5},
                    2: {1.0: 9.0, 2.0: 9.0, 3.0: 9.0}}
    # pair (0, 1) at 3: 0 < 1, at 2: 0 > 1 (opposite), at 1: 0 < 1 (same again) -> gap |1.0 - 1.5|
    # pairs with trial 2 never swap
    assert pasha._estimate_epsilon(1.0, 3.0) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------------
# median stopping rule
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["min", "max"])
def test_median_stopping_rule_by_hand(mode):
    sign = 1.0 if mode == "min" else -1.0
    msr = MedianStoppingRule(SPACE, "loss", mode=mode, max_fidelity=3, grace_period=1, min_samples=3)
    assert msr.milestones(0) is None
    for t in range(5):
        start(msr, t)
    curves = {0: [1.0, 0.8], 1: [2.0, 1.0], 2: [3.0, 1.2]}
    for t, curve in curves.items():
        for f, v in enumerate(curve, start=1):
            assert report(msr, t, f, sign * v) == C  # fewer than 3 other trials so far
    # step 1: median of the others' running averages [1, 2, 3] is 2; best 2.5 is worse
    assert report(msr, 3, 1, sign * 2.5) == S
    # step 1: median of [1, 2, 3, 2.5] = 2.25 > 1.5
    assert report(msr, 4, 1, sign * 1.5) == C
    # step 2: running averages 0.9, 1.5, 2.1 -> median 1.5; best so far 1.4 -> continue
    assert report(msr, 4, 2, sign * 1.4) == C


def test_every_searcher_scheduler_rejects_mismatched_searcher():
    from baselines.random_search import RandomSearcher

    with pytest.raises(ValueError, match="same metric and mode"):
        ASHA(SPACE, "loss", RandomSearcher(SPACE, "loss", "max"), mode="min", max_fidelity=9)
    with pytest.raises(ValueError, match="max_fidelity"):
        ASHA(SPACE, "loss")
