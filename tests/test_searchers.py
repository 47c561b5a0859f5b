"""Searchers: grid, BO, TPE, BORE, REA (and the shared encoder / observation history)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baselines.asha_bore import MultiFidelityBORESearcher
from baselines.bayesian_optimization import BOSearcher, expected_improvement
from baselines.bore import BORESearcher
from baselines.encoding import ConfigEncoder
from baselines.fifo import FIFOScheduler
from baselines.grid_search import GridSearcher
from baselines.kde import KDESearcher
from baselines.random_search import RandomSearcher
from baselines.regularized_evolution import REASearcher
from baselines.searcher_common import ObservationHistory
from baselines.tpe import SmoothedCategorical, TPESearcher, TruncatedParzen
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    FiniteRange,
    Integer,
    LogNormal,
    LogUniform,
    Normal,
    Ordinal,
    QLogNormal,
    QUniform,
    SearchSpace,
    Uniform,
)

QUADRATIC_SPACE = SearchSpace({"x": Uniform(-5.0, 5.0), "y": Uniform(-5.0, 5.0)})


def quadratic(config) -> float:
    return (config["x"] - 1.3) ** 2 + (config["y"] + 0.7) ** 2


def run_sequential(searcher, fn, n: int) -> list[float]:
    values = []
    for trial_id in range(n):
        config = searcher.suggest(trial_id)
        assert config is not None
        value = fn(config)
        searcher.observe(trial_id, config, None, value)
        searcher.on_trial_end(trial_id)
        values.append(value)
    return values


# --------------------------------------------------------------------------------------------------------
# Encoder and observation history
# --------------------------------------------------------------------------------------------------------


def test_encoder_one_hot_for_categorical_and_ordinal_stays_ordinal():
    space = SearchSpace({"opt": Categorical(["sgd", "adam", "rms"]), "depth": Ordinal([1, 2, 4]),
                         "lr": LogUniform(1e-4, 1.0), "c": Constant("x")})
    enc = ConfigEncoder(space)
    assert enc.dim == 5
    x = enc.encode({"opt": "adam", "depth": 4, "lr": 1e-2, "c": "x"})
    np.testing.assert_allclose(x, [0, 1, 0, 5 / 6, 0.5])
    assert enc.decode(x) == {"opt": "adam", "depth": 4, "lr": pytest.approx(1e-2), "c": "x"}
    snapped = enc.snap(np.array([[0.2, 0.9, 0.1, 0.4, 1.3]]))[0]
    np.testing.assert_allclose(snapped, [0, 1, 0, 0.5, 1.0])  # depth index floor(0.4 * 3) = 1 -> 0.5
    assert list(enc.continuous_columns) == [4]


def test_observation_history_models_the_highest_fidelity_with_enough_data():
    h = ObservationHistory(min_points_per_fidelity=2)
    for t in range(3):
        h.add(t, {"x": t}, 1, 10.0 + t)
    h.add(0, {"x": 0}, 3, 5.0)
    data = h.training_set()  # fidelity 3 has one point only: fidelity 1 is the highest with >= 2
    assert data.fidelity == 1 and data.trial_ids == [0, 1, 2]
    np.testing.assert_allclose(data.y, [10.0, 11.0, 12.0])
    h.add(1, {"x": 1}, 3, 6.0)
    data = h.training_set()
    assert data.fidelity == 3 and data.trial_ids == [0, 1]
    np.testing.assert_allclose(data.y, [5.0, 6.0])
    h = ObservationHistory(min_points_per_fidelity=5)  # no level has enough: each trial's largest fidelity
    h.add(0, {"x": 0}, 1, 3.0)
    h.add(0, {"x": 0}, 9, 1.0)
    h.add(1, {"x": 1}, 1, 2.0)
    h.add(2, {"x": 2}, 1, math.nan)  # ignored
    data = h.training_set()
    assert data.fidelity is None and data.trial_ids == [0, 1]
    np.testing.assert_allclose(data.y, [1.0, 2.0])


# --------------------------------------------------------------------------------------------------------
# Grid search
# --------------------------------------------------------------------------------------------------------


def test_grid_enumerates_exactly_the_product_in_order_then_exhausts():
    space = SearchSpace({"a": Categorical(["p", "q", "r"]), "b": Ordinal([1, 2]), "c": Uniform(0.0, 1.0),
                         "k": Constant(7)})
    searcher = GridSearcher(space, "loss", num_points=3)
    got = [searcher.suggest(i) for i in range(18)]
    expected = [{"a": a, "b": b, "c": c, "k": 7}
                for a, b, c in itertools.product(["p", "q", "r"], [1, 2], [0.0, 0.5, 1.0])]
    assert [(g["a"], g["b"], g["k"]) for g in got] == [(e["a"], e["b"], e["k"]) for e in expected]
    np.testing.assert_allclose([g["c"] for g in got], [e["c"] for e in expected], atol=1e-5)
    assert searcher.suggest(18) is None
    scheduler = FIFOScheduler(space, "loss", GridSearcher(space, "loss", num_points=3))
    kinds = [scheduler.suggest(i).kind for i in range(19)]
    assert kinds == ["start"] * 18 + ["done"]


def test_grid_shuffled_is_a_seeded_permutation_and_skips_initial_points():
    space = SearchSpace({"a": Integer(0, 3), "b": Categorical(["u", "v", "w"])})
    in_order = [tuple(c.values()) for c in space.grid()]
    runs = []
    for _ in range(2):
        s = GridSearcher(space, "loss", seed=5, shuffle=True)
        runs.append([tuple(s.suggest(i).values()) for i in range(12)])
        assert s.suggest(12) is None
    assert runs[0] == runs[1] and sorted(runs[0]) == sorted(in_order) and runs[0] != in_order
    s = GridSearcher(space, "loss", points_to_evaluate=[{"a": 2, "b": "v"}])
    got = [tuple(s.suggest(i).values()) for i in range(12)]
    assert got[0] == (2, "v") and sorted(got) == sorted(in_order) and s.suggest(12) is None


def test_grid_needs_num_points_for_continuous_domains_and_honours_restrict_to():
    space = SearchSpace({"lr": LogUniform(1e-4, 1e-1), "n": Integer(1, 3)})
    with pytest.raises(ValueError, match=r"num_points.*\['lr'\]|\['lr'\].*num_points"):
        GridSearcher(space, "loss")
    low, high = space["lr"].grid(2)
    assert low == pytest.approx(1e-4, rel=1e-4) and high == pytest.approx(1e-1, rel=1e-4)
    allowed = [{"lr": high, "n": 3}, {"lr": 0.5e-2, "n": 1}, {"lr": low, "n": 2}, {"lr": high, "n": 3}]
    s = GridSearcher(space, "loss", num_points=2, restrict_to=allowed)  # 0.5e-2 is not a grid point
    got = [s.suggest(i) for i in range(3)]
    assert got[:2] == [{"lr": low, "n": 2}, {"lr": high, "n": 3}] and got[2] is None


# --------------------------------------------------------------------------------------------------------
# Bayesian optimisation
# --------------------------------------------------------------------------------------------------------


def test_bo_finds_the_minimum_of_a_quadratic_much_better_than_random():
    bo_best, rs_best = [], []
    for seed in range(3):
        bo_best.append(min(run_sequential(BOSearcher(QUADRATIC_SPACE, "loss", seed=seed), quadratic, 25)))
        rs_best.append(min(run_sequential(RandomSearcher(QUADRATIC_SPACE, "loss", seed=seed), quadratic, 25)))
    assert max(bo_best) < 0.05
    assert np.median(rs_best) > 10 * max(bo_best)


def test_bo_maximises_in_max_mode_and_starts_with_points_to_evaluate():
    start = {"x": 0.0, "y": 0.0}
    s = BOSearcher(QUADRATIC_SPACE, "score", mode="max", seed=0, points_to_evaluate=[start])
    values = run_sequential(s, lambda c: -quadratic(c), 25)
    assert values[0] == -quadratic(start)
    assert max(values) > -0.05


def test_pending_points_are_not_reproposed():
    s = BOSearcher(QUADRATIC_SPACE, "loss", seed=0)
    run_sequential(s, quadratic, 6)
    first = s.suggest(100)
    data = s.history.training_set()
    x_first = s.encoder.encode(first)[None, :]
    ei_before = expected_improvement(*s.gp.predict(x_first), float(data.y.min()))[0]
    model, best = s.acquisition(data)  # kriging believer on the pending trial 100
    ei_after = expected_improvement(*model.predict(x_first), best)[0]
    assert ei_before > 0 and ei_after < 1e-3 * ei_before
    # four workers ask in a row; nothing comes back in between
    batch = [first] + [s.suggest(101 + i) for i in range(3)]
    xy = np.array([[c["x"], c["y"]] for c in batch])
    dists = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)[np.triu_indices(4, 1)]
    assert dists.min() > 0.05
    assert set(s.pending) == {100, 101, 102, 103}
    # finite space: every searcher hands out distinct points to busy workers
    space = SearchSpace({"a": Integer(0, 2), "b": Categorical(["u", "v"])})
    for cls, kw in [(BOSearcher, {"num_initial_random": 2}), (TPESearcher, {"num_initial_random": 2}),
                    (BORESearcher, {"num_initial_random": 2}), (REASearcher, {"population_size": 2,
                                                                             "sample_size": 1}),
                    (KDESearcher, {"min_points_in_model": 1}),
                    (MultiFidelityBORESearcher, {"min_points_per_fidelity": 2})]:
        searcher = cls(space, "loss", seed=1, **kw)
        run_sequential(searcher, lambda c: c["a"] + (c["b"] == "u"), 2)
        rest = [searcher.suggest(10 + i) for i in range(4)]
        keys = [tuple(c.values()) for c in rest]
        assert len(set(keys)) == 4, cls.__name__
        assert searcher.suggest(20) is None, cls.__name__  # all 6 points proposed: exhausted


def test_restricted_searchers_only_propose_allowed_rows_once():
    rng = np.random.default_rng(0)
    allowed = [{"x": float(x), "y": float(y)} for x, y in rng.uniform(-5, 5, size=(25, 2))]
    allowed_keys = {(c["x"], c["y"]) for c in allowed}
    for cls, kw in [(BOSearcher, {}), (TPESearcher, {"num_initial_random": 5}),
                    (BORESearcher, {"num_initial_random": 5}), (REASearcher, {"population_size": 5, "sample_size": 2}),
                    (KDESearcher, {}), (MultiFidelityBORESearcher, {"min_points_per_fidelity": 5})]:
        s = cls(QUADRATIC_SPACE, "loss", seed=0, restrict_to=allowed, **kw)
        values = run_sequential(s, quadratic, 25)
        assert len(values) == 25
        keys = [(c["x"], c["y"]) for c in s.history.configs.values()]
        assert set(keys) == allowed_keys, cls.__name__
        assert s.suggest(99) is None, cls.__name__


def test_restrict_to_rejects_non_members():
    with pytest.raises(ValueError, match="restrict_to entry 1"):
        BOSearcher(QUADRATIC_SPACE, "loss", restrict_to=[{"x": 0.0, "y": 0.0}, {"x": 9.0, "y": 0.0}])


# --------------------------------------------------------------------------------------------------------
# TPE, BORE, REA beat random search
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls,kwargs", [
    (TPESearcher, {}),
    (BORESearcher, {}),
    (REASearcher, {"population_size": 10, "sample_size": 3, "mutation": "local"}),
    (MultiFidelityBORESearcher, {}),
])
def test_model_based_searchers_beat_random_search(cls, kwargs):
    ours, random = [], []
    for seed in range(4):
        ours.append(min(run_sequential(cls(QUADRATIC_SPACE, "loss", seed=seed, **kwargs), quadratic, 40)))
        random.append(min(run_sequential(RandomSearcher(QUADRATIC_SPACE, "loss", seed=seed), quadratic, 40)))
    assert np.mean(ours) < 0.5 * np.mean(random)
    assert sum(o < r for o, r in zip(ours, random)) >= 3


def test_tpe_densities_and_bore_labels():
    probs = SmoothedCategorical.fit(np.array([0, 0, 1]), 3, prior_weight=2.0).probs
    np.testing.assert_allclose(probs, [4 / 9, 3 / 9, 2 / 9])  # (count + 2) / (3 + 3 * 2)
    parzen = TruncatedParzen.fit(np.array([0.05, 0.3, 0.9]), prior_weight=1.0, min_sigma=0.0)
    grid = np.linspace(0.0, 1.0, 20001)
    assert np.trapezoid(np.exp(parzen.log_pdf(grid)), grid) == pytest.approx(1.0, abs=1e-4)
    draws = parzen.sample(np.random.default_rng(0), 1000)
    assert draws.min() >= 0.0 and draws.max() <= 1.0

    s = BORESearcher(QUADRATIC_SPACE, "loss", seed=0, gamma=0.25)
    run_sequential(s, quadratic, 8)
    s.suggest(50)  # now pending
    _, labels = s.labelled_data(s.history.training_set())
    values = [quadratic(c) for c in s.history.configs.values()]
    expected = np.zeros(9, dtype=int)
    expected[np.argsort(values)[:2]] = 1  # ceil(0.25 * 8) = 2 best; the pending trial is labelled 0
    np.testing.assert_array_equal(labels, expected)


def test_bo_under_a_multi_fidelity_scheduler_models_the_highest_well_populated_fidelity():
    s = BOSearcher(QUADRATIC_SPACE, "loss", seed=0, num_initial_random=3, min_points_per_fidelity=3)
    for t in range(6):
        c = s.suggest(t)
        s.observe(t, c, 1, quadratic(c) + 5.0)  # every trial at fidelity 1
        if t < 3:
            s.observe(t, c, 9, quadratic(c))  # three reach fidelity 9
        s.on_trial_end(t)
    data = s.history.training_set()
    assert data.fidelity == 9 and data.trial_ids == [0, 1, 2]
    assert QUADRATIC_SPACE.contains(s.suggest(6))


def test_rea_mutates_exactly_one_hyperparameter_and_ages_the_population():
    space = SearchSpace({"a": Integer(0, 9), "b": Categorical(["u", "v", "w"]), "c": Uniform(0.0, 1.0)})
    s = REASearcher(space, "loss", seed=0, population_size=5, sample_size=2)
    run_sequential(s, lambda c: c["a"] + c["c"], 12)
    assert list(s.population) == list(range(7, 12))  # the five most recent trials
    parent = {"a": 3, "b": "v", "c": 0.25}
    for _ in range(20):
        child = s.mutate(parent)
        assert sum(child[k] != parent[k] for k in parent) == 1


# --------------------------------------------------------------------------------------------------------
# Property tests: membership and determinism for every searcher
# --------------------------------------------------------------------------------------------------------

DOMAINS = st.sampled_from([
    Categorical(["a", "b", "c"]), Categorical([True, False]), Ordinal([1, 10, 100]), Integer(0, 5),
    Integer(1, 1000, log=True), FiniteRange(0.0, 1.0, 4), Uniform(-1.0, 2.0), LogUniform(1e-5, 1.0),
    QUniform(0.0, 10.0, 0.5), Normal(0.0, 1.0), LogNormal(0.0, 1.0), QLogNormal(1.0, 1.0, 0.1), Constant(3),
])


@st.composite
def spaces(draw):
    doms = draw(st.lists(DOMAINS, min_size=1, max_size=4))
    return SearchSpace({f"h{i}": d for i, d in enumerate(doms)})


def searcher_factories():
    return {
        "RS": lambda sp, seed: RandomSearcher(sp, "loss", seed=seed),
        "GRID": lambda sp, seed: GridSearcher(sp, "loss", seed=seed, num_points=3, shuffle=seed % 2 == 1),
        "BO": lambda sp, seed: BOSearcher(sp, "loss", seed=seed, num_initial_random=3, num_candidates=100,
                                          local_max_iterations=5),
        "TPE": lambda sp, seed: TPESearcher(sp, "loss", seed=seed, num_initial_random=3),
        "BORE": lambda sp, seed: BORESearcher(sp, "loss", seed=seed, num_initial_random=3,
                                              classifier_kwargs={"n_estimators": 10}),
        "REA": lambda sp, seed: REASearcher(sp, "loss", seed=seed, population_size=3, sample_size=2,
                                            mutation="local" if seed % 2 else "resample"),
        "KDE": lambda sp, seed: KDESearcher(sp, "loss", seed=seed, min_points_in_model=2, random_fraction=0.2),
        "ASHA-BORE": lambda sp, seed: MultiFidelityBORESearcher(sp, "loss", seed=seed, min_points_per_fidelity=3,
                                                                classifier_kwargs={"n_estimators": 10}),
    }


def synthetic_objective(space: SearchSpace):
    enc = ConfigEncoder(space)
    weights = np.linspace(1.0, 2.0, max(enc.dim, 1))[: enc.dim]
    return lambda c: float(np.sum(weights * (enc.encode(c) - 0.3) ** 2)) if enc.dim else 0.0


def run_async(searcher, space: SearchSpace, n: int) -> list[dict]:
    """Two workers: results come back one step late, so suggestions see pending trials."""
    fn = synthetic_objective(space)
    out, running = [], []
    for trial_id in range(n):
        config = searcher.suggest(trial_id)
        if config is None:
            break
        out.append(config)
        running.append((trial_id, config))
        if len(running) == 2:
            tid, cfg = running.pop(0)
            searcher.observe(tid, cfg, 1.0, fn(cfg))
            searcher.on_trial_end(tid)
    return out


@pytest.mark.parametrize("name", list(searcher_factories()))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces(), seed=st.integers(0, 2**16))
def test_every_suggestion_is_a_member_and_searchers_are_deterministic(name, space, seed):
    make = searcher_factories()[name]
    first = run_async(make(space, seed), space, 9)
    second = run_async(make(space, seed), space, 9)
    assert first == second
    for config in first:
        assert space.contains(config), (name, config, space.violations(config))
