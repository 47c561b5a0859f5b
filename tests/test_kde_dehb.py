"""KDE / BOHB / SYNC-BOHB, ASHA-BORE and DEHB: decisions pinned on hand-made sequences, then every method through
the simulator on the embedded table (milestones, modes, pause/resume)."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from baselines.asha_bore import MultiFidelityBORESearcher
from baselines.bore import BORESearcher
from baselines.dehb import (
    DEHB,
    Subpopulation,
    binomial_crossover,
    dehb_brackets,
    fix_boundary,
    rand1_mutation,
    rand1_parents,
)
from baselines.kde import KDESearcher, ProductKDE
from baselines.registry import make_method
from baselines.scheduler import Decision
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform

X1 = SearchSpace({"x": Uniform(0.0, 1.0)})
MIXED = SearchSpace({"x": Uniform(0.0, 1.0), "c": Categorical(["a", "b", "c"])})


class FixedDraws:
    """A stand-in generator whose ``random`` returns given numbers (pins the coin flips of an operator)."""

    def __init__(self, draws, integer=0):
        self.draws = np.asarray(draws, dtype=float)
        self.integer = integer

    def random(self, size=None):
        if size is None:
            return float(self.draws[0])
        return self.draws[: int(np.prod(size))].reshape(size)

    def integers(self, high, size=None):
        return self.integer


# ---------------------------------------------------------------------------------------------------------
# KDE
# ---------------------------------------------------------------------------------------------------------

def _kde(space=X1, mode="min", **kwargs) -> KDESearcher:
    return KDESearcher(space, "loss", mode=mode, seed=0, **kwargs)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_kde_good_bad_split_follows_hpbandster(mode):
    kde = _kde(mode=mode)  # d = 1: min_points_in_model = 2
    sign = 1 if mode == "min" else -1
    values = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.6, 0.4, 1.0, 0.05, 0.95, 0.15, 0.55, 0.35, 0.65, 0.45, 0.75,
              0.25, 0.85]
    for t, v in enumerate(values[:3]):
        kde.observe(t, {"x": v}, 9, sign * v)
    # 3 results: 2 good, 1 bad -- a density over 1 dimension needs 2 points: no model yet
    assert kde.fit_model() is None
    kde.observe(3, {"x": values[3]}, 9, sign * values[3])
    model = kde.fit_model()
    assert model.good_trial_ids == [1, 3] and model.bad_trial_ids == [2, 0]
    for t, v in enumerate(values[4:], start=4):
        kde.observe(t, {"x": v}, 9, sign * v)
    model = kde.fit_model()
    # n = 20: n_good = max(2, 15 * 20 // 100) = 3, n_bad = max(2, 85 * 20 // 100) = 17
    order = sorted(range(20), key=lambda t: values[t])
    assert model.good_trial_ids == order[:3] == [10, 1, 12]
    assert model.bad_trial_ids == order[3:]
    assert model.fidelity == 9


def test_kde_is_fitted_on_the_highest_fidelity_with_enough_data():
    kde = _kde()
    rng = np.random.default_rng(0)
    for t in range(12):
        kde.observe(t, {"x": float(rng.random())}, 1, float(rng.random()))
    for t in range(4):
        kde.observe(t, {"x": float(rng.random())}, 3, float(rng.random()))
    for t in range(3):
        kde.observe(t, {"x": float(rng.random())}, 9, float(rng.random()))
    assert kde.fit_model().fidelity == 3  # 3 results at 9 cannot give two densities of 2 points
    kde.observe(3, {"x": 0.5}, 9, 0.5)
    assert kde.fit_model().fidelity == 9
    # non-finite results are not modelled: a failed fifth trial at 27 does not make 27 usable
    for t in range(4):
        kde.observe(t, {"x": 0.1 * t}, 27, math.nan if t == 0 else 0.1 * t)
    assert kde.fit_model().fidelity == 9


def test_product_kde_densities_are_gaussian_and_aitchison_aitken_products():
    data = np.array([[0.0, 0], [0.5, 0], [1.0, 1]])
    model = ProductKDE.fit(data, np.array([0, 3]), min_bandwidth=1e-3)
    # normal reference rule: 1.06 * std * n^(-1/(4 + d)), n = 3, d = 2
    h = 1.06 * np.std([0.0, 0.5, 1.0]) * 3 ** (-1 / 6)
    lam = 1.06 * np.std([0, 0, 1]) * 3 ** (-1 / 6)
    assert model.bandwidths == pytest.approx([h, lam])
    x = np.array([[0.4, 0], [0.4, 2]])
    gauss = norm.pdf(0.4, loc=[0.0, 0.5, 1.0], scale=h)
    same, other = 1 - lam, lam / 2
    expected = [np.mean(gauss * [same, same, other]), np.mean(gauss * [other, other, other])]
    assert np.exp(model.log_pdf(x)) == pytest.approx(expected, rel=1e-12)
    # a lambda above (c - 1) / c is capped at the uniform kernel
    wide = ProductKDE.fit(np.array([[0.0], [2.0], [0.0], [2.0]]), np.array([3]), 1e-3)
    assert wide.bandwidths[0] == pytest.approx(2 / 3)


def test_product_kde_log_pdf_matches_the_kernel_sum_term_by_term():
    # The kernel matrix is a matrix product (|x|^2 - 2 x.y + |y|^2): a point equal to a data point must still
    # get exactly distance 0 there, and every value must match the kernel sum written out point by point.
    rng = np.random.default_rng(3)
    data = np.column_stack([rng.random(30), rng.integers(0, 3, 30), rng.random(30)])
    model = ProductKDE.fit(data, np.array([0, 3, 0]), min_bandwidth=1e-3)
    X = np.vstack([data[:5], np.column_stack([rng.random(7), rng.integers(0, 3, 7), rng.random(7)])])
    h0, lam, h2 = model.bandwidths
    expected = []
    for x in X:
        k = norm.pdf(x[0], data[:, 0], h0) * norm.pdf(x[2], data[:, 2], h2) * np.where(
            data[:, 1] == x[1], 1 - lam, lam / 2)
        expected.append(np.log(np.mean(k)))
    np.testing.assert_allclose(model.log_pdf(X), expected, rtol=1e-10)
    # far from every data point each kernel underflows in linear space; the log density stays exact
    far = np.array([50.0, 0, 50.0])
    log_terms = (norm.logpdf(far[0], data[:, 0], h0) + norm.logpdf(far[2], data[:, 2], h2)
                 + np.log(np.where(data[:, 1] == far[1], 1 - lam, lam / 2)))
    assert model.log_pdf(far[None, :])[0] == pytest.approx(logsumexp(log_terms) - math.log(30), rel=1e-10)


def test_kde_refits_a_fidelity_only_after_a_new_result_there():
    kde = _kde()
    rng = np.random.default_rng(0)
    for t in range(10):
        kde.observe(t, {"x": float(rng.random())}, 3, float(rng.random()))
    model = kde.fit_model()
    assert model.fidelity == 3 and kde.fit_model() is model  # no new result: the same fitted densities
    kde.observe(20, {"x": 0.5}, 1, 0.1)  # a result below the modelled fidelity leaves its densities as they are
    assert kde.fit_model() is model
    kde.observe(21, {"x": 0.9}, 3, -5.0)  # a new best at the modelled fidelity: refitted, and it is good
    refitted = kde.fit_model()
    assert refitted is not model and 21 in refitted.good_trial_ids
    # the cached model is exactly what a fresh searcher fits to the same results
    fresh = _kde()
    for t, per_fidelity in kde.history.values.items():
        for f, v in per_fidelity.items():
            fresh.observe(t, kde.history.configs[t], f, v)
    again = fresh.fit_model()
    assert again.good_trial_ids == refitted.good_trial_ids and again.bad_trial_ids == refitted.bad_trial_ids
    np.testing.assert_array_equal(again.good.data, refitted.good.data)
    np.testing.assert_array_equal(again.bad.bandwidths, refitted.bad.bandwidths)


def test_kde_proposes_near_the_good_points_and_random_fraction_one_never_uses_the_model():
    kde = _kde(random_fraction=0.0)
    rng = np.random.default_rng(1)
    for t in range(40):
        x = float(rng.random())
        kde.observe(t, {"x": x}, 9, abs(x - 0.2))
    proposals = [kde.suggest(100 + i)["x"] for i in range(20)]
    assert kde.last_model is not None and kde.last_model.fidelity == 9
    assert np.median(np.abs(np.array(proposals) - 0.2)) < 0.1
    random_only = _kde(random_fraction=1.0)
    for t in range(40):
        random_only.observe(t, {"x": 0.025 * t}, 9, abs(0.025 * t - 0.2))
    for i in range(5):
        random_only.suggest(100 + i)
        assert random_only.last_model is None


def test_kde_restricted_proposals_are_unused_allowed_rows():
    table = [{"x": i / 50, "c": "abc"[i % 3]} for i in range(50)]
    kde = _kde(MIXED, random_fraction=0.0, restrict_to=table)
    seen = set()
    for t in range(50):
        config = kde.suggest(t)
        key = (config["x"], config["c"])
        assert key in {(r["x"], r["c"]) for r in table} and key not in seen
        seen.add(key)
        kde.observe(t, config, 9, abs(config["x"] - 0.3) + (0.0 if config["c"] == "b" else 0.5))
    assert kde.suggest(50) is None  # every allowed row was proposed


# ---------------------------------------------------------------------------------------------------------
# ASHA-BORE
# ---------------------------------------------------------------------------------------------------------

def test_asha_bore_fits_the_highest_rung_with_enough_data_and_is_random_before():
    bore = MultiFidelityBORESearcher(X1, "loss", seed=0)
    rng = np.random.default_rng(2)
    for t in range(9):
        bore.observe(t, {"x": float(rng.random())}, 1, float(rng.random()))
    bore.suggest(100)
    assert bore.last_fit_fidelity is None  # no rung has 10 results: random
    bore.observe(9, {"x": 0.5}, 1, 0.5)
    bore.suggest(101)
    assert bore.last_fit_fidelity == 1
    for t in range(9):
        bore.observe(t, {"x": float(rng.random())}, 3, float(rng.random()))
    bore.suggest(102)
    assert bore.last_fit_fidelity == 1  # 9 results at rung 3 are not enough
    bore.observe(9, {"x": 0.5}, 3, 0.5)
    data = bore.rung_training_set()
    assert data.fidelity == 3 and sorted(data.trial_ids) == list(range(10))
    bore.suggest(103)
    assert bore.last_fit_fidelity == 3


def test_single_fidelity_bore_keeps_its_own_rule():
    # BORE mixes fidelities (each trial's latest value) while no fidelity has enough results; ASHA-BORE does not
    bore = BORESearcher(X1, "loss", seed=0)
    for t in range(4):
        bore.observe(t, {"x": 0.1 * t}, 1, 0.1 * t)
    bore.observe(4, {"x": 0.9}, 3, 0.0)
    data = bore.history.training_set()
    assert data.fidelity is None and len(data.y) == 5


# ---------------------------------------------------------------------------------------------------------
# DEHB: operators
# ---------------------------------------------------------------------------------------------------------

def test_dehb_bracket_sizes_and_subpopulation_sizes():
    assert dehb_brackets(4, 3) == [[27, 9, 3, 1], [9, 3, 1], [6, 2], [4]]
    assert dehb_brackets(5, 3) == [[81, 27, 9, 3, 1], [27, 9, 3, 1], [9, 3, 1], [6, 2], [5]]
    dehb = DEHB(X1, "loss", max_fidelity=64, fidelity_values=list(range(1, 65)))
    assert dehb.budgets == [1, 3, 9, 27, 64]
    assert dehb.population_sizes == [81, 27, 9, 6, 5]
    assert [len(s) for s in dehb.subpopulations] == [81, 27, 9, 6, 5]


def test_rand1_parents_exclude_the_target_and_mutation_is_r1_plus_f_times_difference():
    population = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        parents = rand1_parents(rng, population, target=population[1])
        rows = {tuple(p) for p in parents}
        assert len(rows) == 3 and rows == {(0.1, 0.1), (0.3, 0.3), (0.4, 0.4)}
    r = np.array([[0.5, 0.5], [0.9, 0.1], [0.1, 0.3]])
    assert rand1_mutation(r, 0.5) == pytest.approx([0.9, 0.4])
    # two individuals and a target among them: one remains, two uniform fillers complete the three
    parents = rand1_parents(np.random.default_rng(1), population[:2], target=population[0])
    assert sum(tuple(p) == (0.2, 0.2) for p in parents) == 1 and len({tuple(p) for p in parents}) == 3


def test_binomial_crossover_and_boundary_fix():
    target, mutant = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9])
    assert list(binomial_crossover(FixedDraws([0.2, 0.7, 0.4]), target, mutant, 0.5)) == [0.7, 0.2, 0.9]
    # no coordinate drawn from the mutant: one (here index 1) is forced
    assert list(binomial_crossover(FixedDraws([0.9, 0.9, 0.9], integer=1), target, mutant, 0.5)) == [0.1, 0.8, 0.3]
    assert list(fix_boundary(FixedDraws([0.25, 0.75]), np.array([-0.5, 0.5, 1.5]), "random")) == [0.25, 0.5, 0.75]
    assert list(fix_boundary(FixedDraws([]), np.array([-0.5, 0.5, 1.5]), "clip")) == [0.0, 0.5, 1.0]


def test_mutation_parents_are_the_best_of_the_previous_budget_completed_from_all_subpopulations():
    dehb = DEHB(X1, "loss", max_fidelity=9, fidelity_values=list(range(1, 10)))
    vectors = np.array([[0.1], [0.2], [0.3], [0.4], [0.5]])
    lower = Subpopulation(1, vectors, np.array([5.0, 1.0, math.inf, 3.0, 2.0]), np.arange(5))
    parents = dehb.mutation_parents(lower, 3, target=np.array([0.9]))
    assert parents[:, 0].tolist() == [0.2, 0.5, 0.4]  # best 3 by fitness
    parents = dehb.mutation_parents(lower, 2, target=np.array([0.9]))
    assert parents.shape == (4, 1) and parents[:2, 0].tolist() == [0.2, 0.5]  # 2 best + 4 - 2 mutants


def test_promotion_queue_skips_individuals_already_in_the_upper_subpopulation():
    dehb = DEHB(X1, "loss", max_fidelity=9, fidelity_values=list(range(1, 10)))
    lower = Subpopulation(1, np.array([[0.1], [0.2], [0.3], [0.4]]), np.array([4.0, 1.0, 2.0, math.inf]),
                          np.array([10, 11, 12, -1]))
    upper = Subpopulation(3, np.array([[0.3], [0.7], [0.8]]), np.full(3, math.inf), np.full(3, -1))
    # best first: 11 (0.2), 12 (0.3, already above: skipped), 10 (0.1); never the unevaluated 0.4
    picks = [dehb.promotion_candidate(lower, upper, 3) for _ in range(2)]
    assert [(v[0], t) for v, t in picks] == [(0.2, 11), (0.1, 10)]
    assert dehb.promotion_candidate(lower, upper, 3)[1] == 11  # the queue rebuilt from the start


# ---------------------------------------------------------------------------------------------------------
# DEHB: the schedule, by hand
# ---------------------------------------------------------------------------------------------------------

def _report(dehb, trial, fidelity, value):
    return dehb.on_result(trial, fidelity, {"loss": value, "epoch": fidelity})


def test_dehb_first_iteration_by_hand_one_worker():
    dehb = DEHB(X1, "loss", seed=3, fidelity_name="epoch", max_fidelity=9, fidelity_values=list(range(1, 10)))
    assert dehb.bracket_sizes == [[9, 3, 1], [3, 1], [3]] and dehb.population_sizes == [9, 3, 3]
    initial = dehb.subpopulations[0].vectors.copy()
    # bracket 0, rung 0: the random initial population itself, trial by trial, each paused at budget 1
    for t in range(9):
        s = dehb.suggest(t)
        assert s.kind == "start" and s.config["x"] == pytest.approx(initial[t, 0])
        assert dehb.milestones(t) == [1]
        assert _report(dehb, t, 1, (t * 7) % 9) == Decision.PAUSE
        dehb.on_trial_paused(t)
    assert dehb.subpopulations[0].fitness.tolist() == [(t * 7) % 9 for t in range(9)]
    # rung 1: the best 3 (trials 0, 4, 8 with values 0, 1, 2) are resumed to budget 3, best first
    resumed = []
    for value in (5.0, 3.0, 4.0):
        s = dehb.suggest(100)
        assert s.kind == "resume"
        resumed.append(s.trial_id)
        assert dehb.milestones(s.trial_id) == [3]
        assert _report(dehb, s.trial_id, 3, value) == Decision.PAUSE
        dehb.on_trial_paused(s.trial_id)
    assert resumed == [0, 4, 8]
    # rung 2: the best at budget 3 (trial 4) runs to the maximum and completes
    s = dehb.suggest(100)
    assert (s.kind, s.trial_id) == ("resume", 4) and dehb.milestones(4) == [9]
    assert _report(dehb, 4, 9, 1.0) == Decision.CONTINUE
    dehb.on_trial_complete(4, 9, {"loss": 1.0})
    assert [j.kind for j in dehb.job_log] == ["initial"] * 9 + ["promotion"] * 4
    # bracket 1 (first iteration, starts at budget 3): its first rung evolves; its second rung promotes
    next_id = 9
    for value in (2.0, 9.0, 0.5):
        s = dehb.suggest(next_id)
        assert s.kind == "start" and dehb.job_log[-1].kind == "evolution" and dehb.milestones(next_id) == [3]
        _report(dehb, next_id, 3, value)
        dehb.on_trial_paused(next_id)
        next_id += 1
    # DE selection at budget 3: parents 0, 1, 2 held 5, 3, 4; the children scored 2, 9, 0.5
    assert dehb.subpopulations[1].fitness.tolist() == [2.0, 3.0, 0.5]
    assert dehb.subpopulations[1].trial_of.tolist() == [9, 4, 11]
    s = dehb.suggest(next_id)
    assert (s.kind, s.trial_id) == ("resume", 11)  # the best at budget 3 that is not yet at budget 9
    _report(dehb, 11, 9, 0.7)
    dehb.on_trial_complete(11, 9, {"loss": 0.7})
    # bracket 2 (budget 9 only), then bracket 3 = second iteration: every rung evolves, no promotion
    for _ in range(3):
        s = dehb.suggest(next_id)
        assert s.kind == "start" and dehb.job_log[-1].bracket.index == 2
        assert _report(dehb, next_id, 9, 0.9) == Decision.CONTINUE
        dehb.on_trial_complete(next_id, 9, {"loss": 0.9})
        next_id += 1
    for _ in range(9):
        s = dehb.suggest(next_id)
        assert s.kind == "start" and dehb.job_log[-1].bracket.index == 3 and dehb.job_log[-1].kind == "evolution"
        assert _report(dehb, next_id, 1, 0.3) == Decision.STOP  # never promoted again: stopped
        dehb.on_trial_stopped(next_id)
        next_id += 1
    s = dehb.suggest(next_id)
    assert s.kind == "start" and dehb.job_log[-1].kind == "evolution" and dehb.milestones(next_id) == [3]


def test_dehb_asynchronous_workers_open_the_next_bracket_instead_of_waiting():
    dehb = DEHB(X1, "loss", seed=0, fidelity_name="epoch", max_fidelity=9, fidelity_values=list(range(1, 10)))
    kinds = [dehb.suggest(t).kind for t in range(12)]
    assert kinds == ["start"] * 12
    assert [j.bracket.index for j in dehb.job_log] == [0] * 9 + [1] * 3
    assert [j.budget for j in dehb.job_log] == [1] * 9 + [3] * 3
    # bracket 1's second rung waits for its first rung; bracket 2 opens meanwhile
    assert dehb.suggest(12).kind == "start" and dehb.job_log[-1].bracket.index == 2


def test_dehb_rejects_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="boundary_fix"):
        DEHB(X1, "loss", max_fidelity=9, boundary_fix="wrap")
    with pytest.raises(ValueError, match="crossover_prob"):
        DEHB(X1, "loss", max_fidelity=9, crossover_prob=1.5)
    with pytest.raises(ValueError, match="at most 9 points_to_evaluate"):
        DEHB(X1, "loss", max_fidelity=9, fidelity_values=list(range(1, 10)),
             points_to_evaluate=[{"x": 0.1}] * 10)
    with pytest.raises(ValueError, match="max_fidelity"):
        DEHB(X1, "loss")


# ---------------------------------------------------------------------------------------------------------
# Through the simulator on the embedded table
# ---------------------------------------------------------------------------------------------------------

METHODS = ("KDE", "BOHB", "SYNC-BOHB", "ASHA-BORE", "DEHB")


@pytest.fixture(scope="module")
def embedded():
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import benchmark_blackbox, table_configurations

    bench = get_benchmark("xgboost-sklearn-digits")
    return bench, benchmark_blackbox(bench), table_configurations(bench)


def _simulate(embedded, name, mode, budget_fraction=0.5, **kwargs):
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    bench, blackbox, table = embedded
    scheduler = make_method(name, blackbox.configuration_space, bench.metric, mode, blackbox.fidelity_name,
                            float(blackbox.fidelity_values[-1]), seed=5,
                            fidelity_values=list(blackbox.fidelity_values), restrict_to=table, **kwargs)
    declared: dict[int, set[float]] = defaultdict(set)
    judged: dict[int, list[float]] = defaultdict(list)
    milestones, on_result = scheduler.milestones, scheduler.on_result

    def record_milestones(trial_id):
        out = milestones(trial_id)
        declared[trial_id].update(float(m) for m in out)
        return out

    def record_result(trial_id, fidelity, metrics):
        judged[trial_id].append(float(fidelity))
        return on_result(trial_id, fidelity, metrics)

    scheduler.milestones, scheduler.on_result = record_milestones, record_result
    results = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4, seed=0),
                    StoppingCriterion(max_wallclock_time=bench.max_wallclock_time * budget_fraction)).run()
    return scheduler, results.to_frame(), declared, judged


@pytest.mark.parametrize("name", METHODS)
def test_every_declared_milestone_is_reported_in_both_modes(embedded, name):
    later = {}
    for mode in ("min", "max"):
        # KDE runs every trial to the maximum: the full budget, so that its model has data to act on
        _, frame, declared, judged = _simulate(embedded, name, mode, 1.0 if name == "KDE" else 0.5)
        reached = frame.groupby("trial_id")["fidelity"].max()
        assert len(reached) > (10 if name == "KDE" else 20)  # KDE trains every trial to the maximum
        for trial, top in reached.items():
            expected = sorted(m for m in declared[trial] if m <= top)
            assert sorted(set(judged[trial])) == expected, (name, mode, trial)
            assert len(judged[trial]) == len(set(judged[trial]))  # each milestone judged once
        # the direction is honoured: trials proposed in the second half (by the model) differ in the right way
        final = frame[frame.fidelity == frame.fidelity.max()].sort_values("trial_id")
        later[mode] = final.val_error.iloc[len(final) // 2:].mean()
    assert later["max"] > later["min"]


def test_bohb_searcher_sees_every_rung_and_moves_up_the_rungs(embedded):
    scheduler, _, _, _ = _simulate(embedded, "BOHB", "min")
    kde = scheduler.searcher
    seen = {f for per in kde.history.values.values() for f in per}
    assert seen == {1.0, 3.0, 9.0, 27.0, 64.0}
    # 7 hyperparameters: two densities need 2 * 8 results at a rung; by the end a higher rung has them
    assert kde.fit_model().fidelity > 3.0


def test_sync_bohb_and_dehb_pause_and_resume_trials(embedded):
    for name in ("SYNC-BOHB", "DEHB"):
        _, frame, _, _ = _simulate(embedded, name, "min")
        paused = set(frame.loc[frame.decision == "pause", "trial_id"])
        pause_fidelity = frame[frame.decision == "pause"].groupby("trial_id")["fidelity"].min()
        reached = frame.groupby("trial_id")["fidelity"].max()
        resumed = [t for t in paused if reached[t] > pause_fidelity[t]]
        assert resumed, name
        # a resumed trial continues from its checkpoint: no fidelity is reported twice
        assert not frame.duplicated(["trial_id", "fidelity"]).any(), name


def test_points_to_evaluate_come_first(embedded):
    _, _, table = embedded
    points = [table[7], table[100]]
    for name in METHODS:
        _, frame, _, _ = _simulate(embedded, name, "min", 0.1, points_to_evaluate=points)
        first = frame.sort_values(["trial_id", "fidelity"]).drop_duplicates("trial_id").head(2)
        assert first["config.max_depth"].tolist() == [points[0]["max_depth"], points[1]["max_depth"]], name
        assert first["config.learning_rate"].tolist() == pytest.approx(
            [points[0]["learning_rate"], points[1]["learning_rate"]]), name


# ---------------------------------------------------------------------------------------------------------
# Decision-time bookkeeping: the shortcuts answer exactly what the full computations answer
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("space", [X1, MIXED], ids=["1d", "mixed"])
@pytest.mark.parametrize("min_points", [None, 7])
def test_kde_model_existence_from_counts_matches_the_split(space, min_points):
    kde = _kde(space, min_points_in_model=min_points)
    values = np.random.default_rng(3).random(120)
    for n in range(120):
        data = type("Data", (), {"y": values[:n]})()
        assert kde.can_split(n) == (kde.split(data) is not None), n


def test_kde_random_proposals_do_not_fit_and_the_model_sits_where_split_says():
    kde = _kde(random_fraction=1.0)
    rng = np.random.default_rng(2)
    for t in range(30):
        kde.observe(t, {"x": float(rng.random())}, 1, float(rng.random()))
        kde.observe(t, {"x": 0.0}, 1, float(rng.random()))  # the same (trial, fidelity) again: one point
    kde.observe(40, {"x": 0.3}, 3, math.nan)  # not finite: not a point
    assert kde._count_at == {1.0: 30}
    for i in range(5):
        kde.suggest(100 + i)
    assert kde.last_model is None and kde._fit_at == {}  # the coin said random: nothing was fitted
    assert kde.model_fidelity() == 1.0 and kde.fit_model().fidelity == 1.0


def _scanned_bracket_state(bracket):
    """DEHB bracket questions answered by scanning the rungs (the definitions the counters stand for)."""
    waits = any(bracket.waiting(k) and bracket.to_hand_out[k] == 0 for k in range(bracket.current_rung))
    has_jobs = any(n > 0 for n in bracket.to_hand_out)
    done = not has_jobs and not any(bracket.waiting(k) for k in range(len(bracket.sizes)))
    return waits, has_jobs, has_jobs and not waits, done


def test_dehb_bracket_counters_agree_with_scanning_the_rungs_through_a_run(embedded):
    from baselines.multi_fidelity import TrialStatus
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    _, unchecked, _, _ = _simulate(embedded, "DEHB", "min")
    bench, blackbox, table = embedded
    dehb = make_method("DEHB", blackbox.configuration_space, bench.metric, "min", blackbox.fidelity_name,
                       float(blackbox.fidelity_values[-1]), seed=5, fidelity_values=list(blackbox.fidelity_values),
                       restrict_to=table)
    suggest, checked = dehb.suggest, []

    def checked_suggest(trial_id):
        for bracket in dehb.brackets:
            fast = (bracket.previous_rung_waits(), bracket.has_jobs(), bracket.ready(), bracket.done())
            assert fast == _scanned_bracket_state(bracket), bracket.index
            checked.append(bracket.index)
        assert dehb._num_running == sum(s == TrialStatus.RUNNING for s in dehb.status.values())
        return suggest(trial_id)

    dehb.suggest = checked_suggest
    results = Tuner(dehb, SimulatorBackend(blackbox, n_workers=4, seed=0),
                    StoppingCriterion(max_wallclock_time=bench.max_wallclock_time * 0.5)).run()
    assert len(checked) > 100 and len(set(checked)) >= 3  # several brackets, each checked many times
    # the checks change nothing: the same run as without them
    columns = ["trial_id", "fidelity", "val_error"]
    assert results.to_frame()[columns].equals(unchecked[columns])
