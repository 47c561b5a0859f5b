"""Bounded GP decisions: block Cholesky updates, the cap on fitted points and the refit schedule."""
from __future__ import annotations

import numpy as np
import pytest

import baselines.gaussian_process as gp_module
from baselines.bayesian_optimization import BOSearcher
from baselines.fifo import FIFOScheduler
from baselines.gaussian_process import ExponentialDecayResourceGP, GaussianProcess
from blackbox_repo.blackbox import BlackboxMetadata, FunctionBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "y": Uniform(0.0, 1.0), "c": Categorical(["a", "b", "c"])})


def _objective(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2 + {"a": 0.0, "b": 0.1, "c": 0.3}[config["c"]]


def _data(n: int, dim: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, dim))
    return X, np.sin(6 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=n)


def _forbid_refactorisation(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the factor was recomputed instead of extended")

    monkeypatch.setattr(gp_module, "stable_cholesky", refuse)


def test_appending_rows_extends_the_factor_and_matches_a_fresh_factorisation(monkeypatch):
    X, y = _data(60)
    grown = GaussianProcess(3, seed=1).fit(X[:40], y[:40])
    fresh = GaussianProcess(3, seed=1, hyperparameters=grown.hyperparameters).fit(X, y, optimize=False)
    old_factor = grown._L.copy()
    _forbid_refactorisation(monkeypatch)
    grown.fit(X, y, optimize=False)
    assert grown.num_data == 60
    np.testing.assert_array_equal(grown._L[:40, :40], old_factor)
    np.testing.assert_allclose(grown._L, fresh._L, rtol=1e-9, atol=1e-11)
    Xq = np.random.default_rng(5).uniform(size=(50, 3))
    for a, b in zip(grown.predict(Xq), fresh.predict(Xq), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_changed_inputs_or_hyperparameters_refactorise():
    X, y = _data(30)
    model = GaussianProcess(3, seed=1).fit(X[:20], y[:20])
    shuffled = X[::-1].copy()
    model.fit(shuffled, y[::-1], optimize=False)  # not an extension of the old inputs
    fresh = GaussianProcess(3, seed=1, hyperparameters=model.hyperparameters).fit(shuffled, y[::-1], optimize=False)
    np.testing.assert_allclose(model._L, fresh._L, rtol=1e-12)


def test_fantasies_by_block_update_match_a_full_factorisation(monkeypatch):
    X, y = _data(50)
    model = GaussianProcess(3, seed=2).fit(X, y)
    pending = np.random.default_rng(9).uniform(size=(4, 3))
    mean, _ = model.predict(pending)
    reference = GaussianProcess(3, hyperparameters=model.hyperparameters)
    reference._y_mean, reference._y_scale = model._y_mean, model._y_scale
    reference._X = np.vstack([X, pending])
    reference._y_std = np.concatenate([model._y_std, (mean - model._y_mean) / model._y_scale])
    reference._factorize()
    _forbid_refactorisation(monkeypatch)
    clone = model.with_fantasies(pending)
    Xq = np.random.default_rng(3).uniform(size=(30, 3))
    for a, b in zip(clone.predict(Xq), reference.predict(Xq), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert model.num_data == 50  # the original is untouched


def test_joint_resource_model_extends_its_factor_too(monkeypatch):
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.uniform(size=(40, 2)), rng.choice([0.25, 0.5, 1.0], size=40)])
    y = X[:, 0] + 0.3 / (1 + 4 * X[:, 2])
    model = ExponentialDecayResourceGP(2, seed=0, max_iterations=20).fit(X[:30], y[:30])
    fresh = ExponentialDecayResourceGP(2, seed=0, hyperparameters=model.hyperparameters).fit(X, y, optimize=False)
    _forbid_refactorisation(monkeypatch)
    model.fit(X, y, optimize=False)
    for a, b in zip(model.predict(X[:10]), fresh.predict(X[:10]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_refit_schedule_grows_with_the_data():
    searcher = BOSearcher(SPACE, "loss", seed=0)
    searcher._fit_count, searcher._fit_fidelity = 50, None
    assert not searcher.refit_due(59, None) and searcher.refit_due(60, None)  # every 10 up to 100
    searcher._fit_count = 1000
    assert not searcher.refit_due(1099, None) and searcher.refit_due(1100, None)  # then every 10%
    assert searcher.refit_due(900, None)  # the training set shrank
    assert searcher.refit_due(1001, 3.0)  # another fidelity


def _fed_searcher(n: int, cap: int, seed: int = 0) -> BOSearcher:
    searcher = BOSearcher(SPACE, "loss", seed=seed, max_fit_points=cap, num_candidates=200, num_local_starts=1)
    rng = np.random.default_rng(seed)
    for trial_id, config in enumerate(SPACE.sample_many(rng, n)):
        searcher.observe(trial_id, config, None, _objective(config))
    return searcher


def test_the_gp_is_fitted_on_at_most_the_cap_best_half_kept():
    searcher = _fed_searcher(120, cap=40)
    sizes = []
    for k in range(25):
        trial_id = 120 + k
        config = searcher.suggest(trial_id)
        assert config is not None and SPACE.contains(config)
        sizes.append(searcher.gp.num_data)
        data = searcher.history.training_set()
        rows = searcher._rows
        assert len(rows) == searcher.gp.num_data <= 40
        np.testing.assert_array_equal(searcher.gp._X, searcher.encoder.encode_many([data.configs[i] for i in rows]))
        searcher.observe(trial_id, config, None, _objective(config))
        searcher.on_trial_end(trial_id)
    # a selection keeps 32 points (the 16 best among them), then each new result is appended up to 40
    assert sizes[0] == 32 and max(sizes) == 40 and sizes[1] == 33
    data = searcher.history.training_set()
    searcher.fit_rows(data, reselect=True)
    best = np.argsort(data.y, kind="stable")[:16]
    assert set(best.tolist()) <= set(searcher._rows.tolist())


def test_below_the_cap_every_observation_is_used_and_the_selection_is_seeded():
    small = _fed_searcher(30, cap=40)
    small.suggest(30)
    assert small.gp.num_data == 30
    a, b = _fed_searcher(90, cap=40, seed=3), _fed_searcher(90, cap=40, seed=3)
    assert a.suggest(90) == b.suggest(90)
    np.testing.assert_array_equal(a._rows, b._rows)


def test_bad_cap_arguments_are_named():
    with pytest.raises(ValueError, match="max_fit_points"):
        BOSearcher(SPACE, "loss", max_fit_points=5)
    with pytest.raises(ValueError, match="refit_fraction"):
        BOSearcher(SPACE, "loss", refit_fraction=1.5)
    with pytest.raises(ValueError, match="max_fit_evaluations"):
        BOSearcher(SPACE, "loss", max_fit_evaluations=0)


def test_capped_bo_through_the_simulator_is_deterministic():
    def fn(config, fidelity, seed):
        return [_objective(config), 10.0 * fidelity]

    blackbox = FunctionBlackbox(fn, SPACE, ["loss", "time"], BlackboxMetadata("toy", "loss", time_objective="time",
                                                                               time_is_cumulative=True),
                                fidelity_name="epoch", fidelity_values=[1])
    runs = []
    for _ in range(2):
        searcher = BOSearcher(SPACE, "loss", seed=7, max_fit_points=20, num_candidates=200, num_local_starts=1)
        scheduler = FIFOScheduler(SPACE, "loss", searcher, seed=7, fidelity_name="epoch", max_fidelity=1)
        results = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=2, seed=7),
                        StoppingCriterion(max_trials_started=45)).run()
        assert searcher.gp.num_data <= 20 + 1  # the cap, plus the fantasy of the other running trial at most
        runs.append(results.to_frame())
    assert runs[0].equals(runs[1])
    assert runs[0]["loss"].min() < 0.05  # it still optimises
