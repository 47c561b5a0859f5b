"""GP-based multi-fidelity methods: MOBSTER (independent and joint models), SYNC-MOBSTER, HYPERTUNE, DYHPO.

- decisions pinned on hand-made data: the rung the independent model uses, the data cap, the joint
  exponential-decay kernel against a hand computation, Hyper-Tune's ranking losses, weights, bracket
  distribution and ensemble, DyHPO's promotion choices and linear rungs;
- every method through the simulator on the embedded table (Tuner + SimulatorBackend), modes min and max,
  ``points_to_evaluate`` and ``restrict_to``: every milestone a trial reaches is reported to the scheduler;
- a short ``arena sweep`` over the four methods.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from baselines.asynchronous_successive_halving import hyperband_bracket_weights
from baselines.dyhpo import DyHPO, geometric_buckets, linear_rung_levels
from baselines.gaussian_process import ExpDecayHyperparameters, ExponentialDecayResourceGP
from baselines.hyper_tune import bracket_head, fold_sizes, ranking_losses, ranking_weights
from baselines.mobster import (
    MultiFidelityGPSearcher,
    acquisition_level,
    cap_observations,
    sparsify_by_buckets,
)
from baselines.registry import make_method, method_defaults
from baselines.scheduler import Decision
from blackbox_repo.search_space import SearchSpace, Uniform

SPACE = SearchSpace({"x": Uniform(0.0, 1.0)})
METHODS = ("MOBSTER", "MOBSTER-PROMOTION", "MOBSTER-JOINT", "SYNC-MOBSTER", "HYPERTUNE", "DYHPO")
# Simulated seconds per simulator test (4 workers): DyHPO decides at every one of its linear rungs, so it gets
# less (still dozens of trials and hundreds of decisions).
BUDGET = {"DYHPO": 0.12, "MOBSTER-JOINT": 0.25, "HYPERTUNE-PROMOTION": 0.2}


# ---------------------------------------------------------------------------------------------------------
# MOBSTER: acquisition level, data cap, joint kernel
# ---------------------------------------------------------------------------------------------------------

def test_acquisition_level_is_the_highest_with_enough_results():
    assert acquisition_level({1: 10, 3: 3, 9: 2}, threshold=3) == 3
    assert acquisition_level({1: 10, 3: 3, 9: 3}, threshold=3) == 9
    assert acquisition_level({1: 2, 3: 1}, threshold=3) == 1  # none has enough: the lowest


def test_independent_model_is_fitted_on_the_acquisition_rung_only():
    searcher = MultiFidelityGPSearcher(SPACE, "loss", max_fidelity=9, num_initial_random=0, min_points_per_level=3)
    for t in range(6):
        searcher.observe(t, {"x": t / 6}, 1, 1.0 + t)
    for t in range(2):
        searcher.observe(t, {"x": t / 6}, 3, 0.5 + t)
    assert searcher.acquisition_level() == 1.0
    searcher.observe(2, {"x": 2 / 6}, 3, 0.7)
    assert searcher.acquisition_level() == 3.0
    model, best = searcher.acquisition(None)
    assert model.num_data == 3 and best == 0.5  # the three level-3 results, incumbent among them
    np.testing.assert_allclose(np.sort(model._X[:, 0]), [0.0, 1 / 6, 2 / 6])
    # a pending trial without a level-3 result is conditioned on (kriging believer): one more point
    searcher.suggest(10)
    model, _ = searcher.acquisition(None)
    assert model.num_data == 4


def test_mode_max_is_minimised_negated():
    searcher = MultiFidelityGPSearcher(SPACE, "acc", mode="max", max_fidelity=9, num_initial_random=0)
    for t, acc in enumerate([0.2, 0.9, 0.5]):
        searcher.observe(t, {"x": t / 3}, 1, acc)
    _, best = searcher.acquisition(None)
    assert best == -0.9


def test_cap_keeps_high_tiers_then_the_best_and_a_seeded_random_rest():
    tiers = np.array([1, 0, 1, 1, 2, 1, 0, 1, 2])
    values = np.array([5.0, 9.0, 1.0, 4.0, 0.0, 2.0, 8.0, 3.0, 0.5])
    kept = cap_observations(tiers, values, max_size=5, top_fraction=0.5, rng=np.random.default_rng(0))
    # tier 0 whole (indices 1, 6); 3 places left in tier 1 (values 5, 1, 4, 2, 3 at 0, 2, 3, 5, 7): the
    # ceil(0.5 * 3) = 2 best (indices 2, 5) and one of the other three at random; tier 2 dropped
    assert len(kept) == 5 and {1, 6, 2, 5} <= set(kept.tolist())
    assert len(set(kept.tolist()) & {0, 3, 7}) == 1 and not set(kept.tolist()) & {4, 8}
    again = cap_observations(tiers, values, 5, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(kept, again)
    np.testing.assert_array_equal(cap_observations(tiers, values, 20, 0.5, np.random.default_rng(0)), np.arange(9))


def test_data_for_the_model_is_capped():
    searcher = MultiFidelityGPSearcher(SPACE, "loss", max_fidelity=9, max_size_data_for_model=10)
    for t in range(30):
        searcher.observe(t, {"x": t / 30}, 1, float(t))
    for t in range(4):
        searcher.observe(t, {"x": t / 30}, 3, float(t))
    trials, levels, values = searcher.joint_data()
    assert len(values) == 10 and (levels == 3).sum() == 4  # every level-3 result, 6 of the level-1 ones
    assert {0, 1} <= set(trials[levels == 1].tolist())  # ceil(0.25 * 6) = 2 best at level 1 kept
    assert len(searcher.data_at_level(1)[1]) == 10


def _matern52(d: float) -> float:
    return (1 + math.sqrt(5) * d + 5 / 3 * d * d) * math.exp(-math.sqrt(5) * d)


def test_exponential_decay_kernel_and_mean_equal_a_hand_computation():
    hp = ExpDecayHyperparameters(np.array([0.5]), 1.3, 1e-3, alpha=2.0, mean_lam=1.0, gamma=0.7, mean=0.2)
    gp = ExponentialDecayResourceGP(1, hyperparameters=hp)
    X1 = np.array([[0.2, 0.5]])
    X2 = np.array([[0.5, 1.0]])
    # beta = alpha / mean_lam = 2: kappa(s) = (2 / (2 + s))^2
    kappa = {0.5: (2 / 2.5) ** 2, 1.0: (2 / 3) ** 2, 1.5: (2 / 3.5) ** 2, 2.0: 0.25}
    expected = 1.3 * _matern52(0.3 / 0.5) + 0.49 * (kappa[1.5] - kappa[0.5] * kappa[1.0])
    assert gp._cross_covariance(X1, X2, hp)[0, 0] == pytest.approx(expected, rel=1e-12)
    assert gp._prior_variance(X2, hp)[0] == pytest.approx(1.3 + 0.49 * (kappa[2.0] - kappa[1.0] ** 2), rel=1e-12)
    assert gp._prior_mean(X1, hp)[0] == pytest.approx(0.2 + 0.7 * kappa[0.5], rel=1e-12)


def test_exponential_decay_likelihood_gradient_matches_finite_differences_and_the_fit_extrapolates():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(size=(40, 2)), rng.choice([1 / 9, 3 / 9, 1.0], size=40)])
    y = X[:, 0] + 0.5 * np.exp(-3 * X[:, 2]) + 0.01 * rng.normal(size=40)
    gp = ExponentialDecayResourceGP(2, lengthscale_prior_sd=1.0).fit(X, y, optimize=False)
    theta = gp._pack(ExpDecayHyperparameters(np.array([0.3, 0.7]), 1.3, 0.01, 2.0, 1.5, 0.8, 0.2))
    _, grad = gp.negative_log_marginal_likelihood(theta)
    h = 1e-6
    numeric = [(gp.negative_log_marginal_likelihood(theta + h * e, False)
                - gp.negative_log_marginal_likelihood(theta - h * e, False)) / (2 * h) for e in np.eye(len(theta))]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)
    gp.fit(X, y)
    mean, _ = gp.predict(np.array([[0.5, 0.5, 1 / 9], [0.5, 0.5, 1.0]]))
    np.testing.assert_allclose(mean, [0.5 + 0.5 * math.exp(-1 / 3), 0.5 + 0.5 * math.exp(-3)], atol=0.02)


def _dense_exp_decay_covariance(X1: np.ndarray, X2: np.ndarray, hp: ExpDecayHyperparameters) -> np.ndarray:
    """The joint kernel written out pair by pair (no level grid, no in-place arithmetic): the reference."""
    def kappa(s: float) -> float:
        beta = hp.alpha / hp.mean_lam
        return (beta / (beta + s)) ** hp.alpha

    K = np.empty((len(X1), len(X2)))
    for i, a in enumerate(X1):
        for j, b in enumerate(X2):
            r = math.sqrt(float(np.sum(((a[:-1] - b[:-1]) / hp.lengthscales) ** 2)))
            K[i, j] = (hp.signal_variance * _matern52(r)
                       + hp.gamma ** 2 * (kappa(a[-1] + b[-1]) - kappa(a[-1]) * kappa(b[-1])))
    return K


def test_exponential_decay_terms_computed_on_the_level_grid_equal_the_pairwise_kernel():
    # Many rows on few resource levels (as DyHPO's data): the (n, n) resource terms come from the grid of
    # distinct levels; they must equal the kernel evaluated pair by pair, in prediction and in the fit.
    rng = np.random.default_rng(4)
    hp = ExpDecayHyperparameters(np.array([0.3, 0.8, 0.5]), 1.3, 1e-2, alpha=2.5, mean_lam=0.7, gamma=0.6, mean=0.1)
    gp = ExponentialDecayResourceGP(3, hyperparameters=hp)
    levels = np.array([1, 3, 5, 9, 27]) / 27
    X = np.column_stack([rng.uniform(size=(37, 3)), rng.choice(levels, size=37)])
    Xq = np.column_stack([rng.uniform(size=(11, 3)), rng.choice(levels[:2], size=11)])
    np.testing.assert_allclose(gp._cross_covariance(Xq, X, hp), _dense_exp_decay_covariance(Xq, X, hp),
                               rtol=1e-12, atol=1e-14)
    gp.fit(X, rng.normal(size=37), optimize=False)
    K_prior, _, _ = gp._prior_terms(hp)
    np.testing.assert_allclose(K_prior, _dense_exp_decay_covariance(X, X, hp), rtol=1e-12, atol=1e-14)
    # the grid index is cached per training set: a new set of the same size on other levels is not served
    # the old grid
    X_other = X.copy()
    X_other[:, -1] = rng.choice(levels[2:], size=37)
    gp.fit(X_other, rng.normal(size=37), optimize=False)
    K_prior, _, _ = gp._prior_terms(hp)
    np.testing.assert_allclose(K_prior, _dense_exp_decay_covariance(X_other, X_other, hp), rtol=1e-12, atol=1e-14)


def test_searcher_encodings_and_observations_are_cached_consistently():
    space = SearchSpace({"x": Uniform(0.0, 1.0), "y": Uniform(-2.0, 2.0)})
    searcher = MultiFidelityGPSearcher(space, "loss", max_fidelity=9, num_initial_random=0)
    configs = {0: {"x": 0.1, "y": 1.0}, 3: {"x": 0.7, "y": -1.5}, 150: {"x": 0.4, "y": 0.0}}
    for t, config in configs.items():
        searcher.observe(t, config, 1, config["x"])
    searcher.pending[200] = {"x": 0.9, "y": 0.5}  # running, no result yet: encoded from its configuration
    ids = np.array([150, 0, 200, 3, 0])
    expected = np.stack([searcher.encoder.encode({**configs, 200: searcher.pending[200]}[t]) for t in ids])
    np.testing.assert_array_equal(searcher.encoded(ids), expected)
    assert searcher.encoded(np.zeros(0, dtype=np.int64)).shape == (0, 2)
    with pytest.raises(KeyError):
        searcher.encoded(np.array([7]))  # neither observed nor running
    trials, levels, values = searcher.observations()
    assert trials.tolist() == [0, 3, 150] and not values.flags.writeable
    searcher.observe(3, configs[3], 1, 0.05)  # an overwrite and a new result both refresh the arrays
    searcher.observe(0, configs[0], 3, 0.2)
    trials, levels, values = searcher.observations()
    assert (trials.tolist(), levels.tolist(), values.tolist()) == ([0, 3, 150, 0], [1.0, 1.0, 1.0, 3.0],
                                                                    [0.1, 0.05, 0.4, 0.2])


# ---------------------------------------------------------------------------------------------------------
# Hyper-Tune
# ---------------------------------------------------------------------------------------------------------

def test_ranking_losses_count_discordant_pairs():
    targets = np.array([1.0, 2.0, 3.0])
    samples = np.array([[1.0, 3.0, 2.0], [2.0, 2.0, 1.0], [3.0, 1.0, 3.0]])  # columns: same, reversed, one swap
    np.testing.assert_allclose(ranking_losses(samples, targets), [0.0, 1.0, 1 / 3])


def test_weights_bracket_distribution_and_ensemble_from_hand_made_losses():
    losses = np.array([[0.0, 0.5, 0.2], [0.0, 0.1, 0.3], [0.3, 0.1, 0.4]])
    theta = ranking_weights(losses)  # wins (ties all count): level 0 twice, level 1 twice, level 2 once
    np.testing.assert_allclose(theta, [0.4, 0.4, 0.2])
    head = bracket_head(theta, [1, 3, 9, 27], num_brackets=4)  # theta_k / r_k, normalised
    np.testing.assert_allclose(head, np.array([0.4, 0.4 / 3, 0.2 / 9]) / (0.4 + 0.4 / 3 + 0.2 / 9))
    np.testing.assert_allclose(bracket_head(np.zeros(3), [1, 3, 9], 4), [1.0, 0.0, 0.0])
    assert fold_sizes(7) == [2, 2, 3] and fold_sizes(13) == [2, 2, 3, 3, 3] and fold_sizes(6) == [2, 2, 2]

    scheduler = make_method("HYPERTUNE", SPACE, "loss", "min", "epoch", 27, seed=0)
    default = hyperband_bracket_weights(3, 3, 4)
    np.testing.assert_allclose(default, np.array([27, 12, 6, 4]) / 49)
    np.testing.assert_allclose(scheduler.bracket_distribution(), default)  # nothing learnt yet
    scheduler.searcher.theta = np.array([0.4, 0.4, 0.2])
    expected = np.concatenate([head * (45 / 49), [4 / 49]])  # head scaled to the default head's mass; tail kept
    np.testing.assert_allclose(scheduler.bracket_distribution(), expected)
    scheduler.searcher.theta = np.array([0.5, 0.3, 0.195, 0.005])
    for level in (1.0, 3.0, 9.0, 27.0):
        scheduler.searcher.level_counts[level] = 1
    weights = scheduler.searcher.ensemble_weights()  # 0.005 <= 0.01 dropped, the rest renormalised
    assert list(weights) == [1.0, 3.0, 9.0]
    np.testing.assert_allclose(list(weights.values()), np.array([0.5, 0.3, 0.195]) / 0.995)


@pytest.mark.parametrize("sign, low_level_wins", [(1.0, True), (-1.0, False)])
def test_hypertune_weights_reward_a_consistent_rung_and_drop_a_reversed_one(sign, low_level_wins):
    scheduler = make_method("HYPERTUNE", SPACE, "loss", "min", "epoch", 9, seed=0, grace_period=1, reduction_factor=3)
    searcher = scheduler.searcher
    for t in range(12):  # level 1 ranks like level 3 (sign 1) or exactly the other way round (sign -1)
        x = (t * 7 % 12) / 12
        searcher.observe(t, {"x": x}, 1, 2.0 + sign * x)
        if t < 8:
            searcher.observe(t, {"x": x}, 3, 1.0 + 0.5 * x)
    searcher.update_weights()
    assert searcher.theta is not None and len(searcher.theta) == 2  # levels 1 and 3 (3 is the top with >= 6)
    assert searcher.theta.sum() == pytest.approx(1.0)
    if low_level_wins:  # a perfect ranker ties with (or beats) the top level's cross-validation
        assert searcher.theta[0] >= 0.5 and scheduler.bracket_distribution()[0] > 27 / 49
    else:
        assert searcher.theta[0] == 0.0 and list(searcher.ensemble_weights()) == [3.0]


# ---------------------------------------------------------------------------------------------------------
# DyHPO
# ---------------------------------------------------------------------------------------------------------

def test_linear_rung_levels():
    assert linear_rung_levels(1, 2, 10) == [1, 3, 5, 7, 9]
    assert linear_rung_levels(1, 2, 10, fidelity_values=[2, 4, 6, 8, 10]) == [2, 4, 6, 8]
    with pytest.raises(ValueError, match="rung_increment"):
        linear_rung_levels(1, 0, 10)


def _dyhpo(configs, **kwargs) -> DyHPO:
    return make_method("DYHPO", SPACE, "loss", "min", "epoch", 7, seed=0, fidelity_values=list(range(1, 8)),
                       restrict_to=[{"x": x} for x in configs], num_initial_random=2, **kwargs)


def _run_to_pause(scheduler: DyHPO, trial_id: int, value: float) -> None:
    (level,) = scheduler.milestones(trial_id)
    assert scheduler.on_result(trial_id, level, {"loss": value}) == Decision.PAUSE
    scheduler.on_trial_paused(trial_id)


def test_dyhpo_promotes_the_trial_with_the_best_expected_improvement():
    scheduler = _dyhpo([0.1, 0.9], probability_sh=0.0)
    for t in range(2):
        assert scheduler.suggest(t).kind == "start" and scheduler.milestones(t) == [1]
    _run_to_pause(scheduler, 0, 0.1)
    _run_to_pause(scheduler, 1, 0.9)
    # the table is used up: the choice is between the two paused trials, each at its next level (3)
    s = scheduler.suggest(2)
    assert (s.kind, s.trial_id) == ("resume", 0) and scheduler.milestones(0) == [3]
    _run_to_pause(scheduler, 0, 0.05)
    s = scheduler.suggest(3)  # trial 0 at level 5 against trial 1 at level 3
    assert (s.kind, s.trial_id) == ("resume", 0) and scheduler.milestones(0) == [5]
    assert [d[1] for d in scheduler.decisions] == ["start", "start", "dyhpo", "dyhpo"]


def test_dyhpo_successive_halving_rule():
    scheduler = _dyhpo([0.1, 0.5, 0.9], probability_sh=0.999)
    for t in range(3):
        assert scheduler.suggest(t).kind == "start"
    for t, value in ((0, 0.7), (1, 0.2), (2, 0.9)):
        _run_to_pause(scheduler, t, value)
    # rung 1 -> 3 keeps the best floor(3 * 1/3) = 1: trial 1
    s = scheduler.suggest(3)
    assert (s.kind, s.trial_id) == ("resume", 1) and scheduler.decisions[-1] == (1, "sh", 3.0)


def test_geometric_buckets_and_one_result_per_trial_and_bucket():
    assert geometric_buckets(1, 52) == [1.0, 3.0, 9.0, 27.0, 52.0]
    assert geometric_buckets(2, 18) == [2.0, 6.0, 18.0]
    edges = np.array([1.0, 3.0, 9.0, 27.0, 52.0])
    # trial 0 ran levels 1..11 (odd), trial 1 levels 1 and 3, trial 2 only 52; arrival order interleaved
    trials = np.array([0, 1, 0, 0, 1, 0, 0, 0, 2])
    levels = np.array([1.0, 1.0, 3.0, 5.0, 3.0, 7.0, 9.0, 11.0, 52.0])
    kept = sparsify_by_buckets(trials, levels, edges)
    # buckets (.., 1], (1, 3], (3, 9], (9, 27], (27, 52]: trial 0 keeps 1, 3, 9 (not 5, 7) and 11
    assert kept.tolist() == [0, 1, 2, 4, 6, 7, 8]
    assert sparsify_by_buckets(trials[:0], levels[:0], edges).tolist() == []


def test_dyhpo_fits_its_gp_to_one_result_per_trial_and_geometric_bucket():
    scheduler = make_method("DYHPO", SPACE, "loss", "min", "epoch", 27, seed=0, fidelity_values=list(range(1, 28)),
                            num_initial_random=2)
    searcher = scheduler.gp_searcher
    for t, x in enumerate((0.2, 0.7)):
        for level in range(1, 26, 2):  # DyHPO's linear levels 1, 3, ..., 25
            searcher.observe(t, {"x": x}, level, x + 1.0 / level)
    searcher.observe(0, {"x": 0.2}, 27, 0.2)
    trials, levels, values = searcher.joint_data()
    assert sorted(zip(trials.tolist(), levels.tolist())) == [
        (0, 1.0), (0, 3.0), (0, 9.0), (0, 27.0), (1, 1.0), (1, 3.0), (1, 9.0), (1, 25.0)]
    assert values[(trials == 1) & (levels == 25.0)] == pytest.approx(0.7 + 1 / 25)
    dense_searcher = make_method("DYHPO", SPACE, "loss", "min", "epoch", 27, seed=0,
                                 fidelity_values=list(range(1, 28)), sparse_data=False).gp_searcher
    for level in range(1, 28, 2):
        dense_searcher.observe(0, {"x": 0.2}, level, 1.0 / level)
    assert len(dense_searcher.joint_data()[0]) == 14  # sparse_data=False: every result


def test_dyhpo_refuses_the_independent_model():
    with pytest.raises(ValueError, match="joint"):
        make_method("DYHPO", SPACE, "loss", "min", "epoch", 7, seed=0, model="independent")


def test_registered_defaults():
    assert method_defaults("MOBSTER-JOINT")["model"] == "joint" and method_defaults("MOBSTER")["model"] == "independent"
    assert method_defaults("MOBSTER-PROMOTION")["variant"] == "promotion"
    assert method_defaults("HYPERTUNE")["brackets"] is None and method_defaults("SYNC-MOBSTER")["brackets"] is None
    assert method_defaults("DYHPO")["rung_increment"] == 2 and method_defaults("DYHPO")["probability_sh"] == 0.25
    assert method_defaults("MOBSTER")["max_size_data_for_model"] == 500


# ---------------------------------------------------------------------------------------------------------
# Through the simulator on the embedded table
# ---------------------------------------------------------------------------------------------------------

class _Recorder:
    """Wraps a scheduler: records the milestones declared per segment and the results shown to it."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.declared: list[tuple[int, float]] = []
        self.shown: set[tuple[int, float]] = set()
        original_milestones, original_result = scheduler.milestones, scheduler.on_result

        def milestones(trial_id):
            out = original_milestones(trial_id)
            self.declared.extend((trial_id, float(m)) for m in out)
            return out

        def on_result(trial_id, fidelity, metrics):
            self.shown.add((trial_id, float(fidelity)))
            return original_result(trial_id, fidelity, metrics)

        scheduler.milestones, scheduler.on_result = milestones, on_result


@pytest.fixture(scope="module")
def table():
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import benchmark_blackbox, table_configurations

    bench = get_benchmark("xgboost-sklearn-breast_cancer")
    return benchmark_blackbox(bench, None), table_configurations(bench, None)


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("method", METHODS)
def test_method_through_the_simulator_reports_every_milestone(method, mode, table):
    _simulate(method, mode, table)


def test_hypertune_promotion_variant_through_the_simulator(table):
    _simulate("HYPERTUNE", "min", table, variant="promotion")


def _simulate(method, mode, table, **kwargs):
    from launchers.simulator import SimulatorBackend

    label = method + ("-PROMOTION" if kwargs.get("variant") == "promotion" and "PROMOTION" not in method else "")
    from launchers.tuner import StoppingCriterion, Tuner

    blackbox, rows = table
    first = dict(rows[17])
    scheduler = make_method(method, blackbox.configuration_space, "val_error", mode, blackbox.fidelity_name, 64, seed=3,
                            fidelity_values=list(blackbox.fidelity_values), restrict_to=rows,
                            points_to_evaluate=[first], **kwargs)
    recorder = _Recorder(scheduler)
    results = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4, seed=0),
                    StoppingCriterion(max_wallclock_time=BUDGET.get(label, 0.35))).run()
    frame, trials = results.to_frame(), results.trials_frame()
    assert results.n_trials >= 10
    # points_to_evaluate first; every trial a distinct table row
    names = list(blackbox.configuration_space.names)
    configs = [tuple(r) for r in trials[[f"config.{n}" for n in names]].itertuples(index=False)]
    assert configs[0] == tuple(first[n] for n in names)
    table_rows = {tuple(r[n] for n in names) for r in rows}
    assert len(set(configs)) == len(configs) and set(configs) <= table_rows
    # every declared milestone a trial reached was shown to the scheduler
    reached = frame.groupby("trial_id")["fidelity"].max().to_dict()
    missed = [(t, m) for t, m in recorder.declared if reached.get(t, 0) >= m and (t, m) not in recorder.shown]
    assert not missed, missed[:5]
    assert recorder.shown, "the scheduler saw no result"
    if method in ("MOBSTER-PROMOTION", "SYNC-MOBSTER", "DYHPO") or kwargs.get("variant") == "promotion":
        assert (frame.decision == "pause").any() and (trials.status != "stopped").all()
    elif method in ("MOBSTER", "MOBSTER-JOINT", "HYPERTUNE"):
        assert (frame.decision == "stop").any()


def test_sweep_runs_the_methods(tmp_path):
    from test_sweep_e2e import _folder, _metadata, _ok, _sweep

    methods = ("MOBSTER", "SYNC-MOBSTER", "HYPERTUNE", "DYHPO")
    _ok(_sweep(tmp_path, f"method={','.join(methods)}", "benchmark=xgboost-sklearn-breast_cancer", "seed=0",
               "benchmark.max_wallclock_time=0.05", "tag=mfgp"))
    for method in methods:
        meta = _metadata(_folder(tmp_path, "mfgp", "xgboost-sklearn-breast_cancer", method, 0))
        assert meta is not None and meta["status"] == "complete" and meta["n_results"] > 0, method
