"""Gaussian-process model and expected improvement, pinned on hand-made data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from baselines.bayesian_optimization import expected_improvement
from baselines.gaussian_process import (
    GaussianProcess,
    GPHyperparameters,
    matern52,
    stable_cholesky,
)


def test_matern52_matches_hand_computed_values():
    # r = |x - x'| / l; k = s2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)
    X1 = np.array([[0.0, 0.0]])
    X2 = np.array([[0.3, 0.4], [0.0, 0.0]])
    K = matern52(X1, X2, np.array([1.0, 1.0]), 2.0)
    # r = 0.5: (1 + 1.118034 + 0.416667) * exp(-1.118034) = 0.8286491
    assert K[0, 0] == pytest.approx(2.0 * 0.8286491424, rel=1e-9)
    assert K[0, 1] == pytest.approx(2.0)
    # ARD: lengthscale 0.5 on the first axis only -> r = 1 for a step of 0.5 there: 0.5239941
    K = matern52(np.array([[0.0, 0.0]]), np.array([[0.5, 0.0]]), np.array([0.5, 100.0]), 1.0)
    assert K[0, 0] == pytest.approx(0.5239941088, rel=1e-9)


def test_matern52_equals_the_plain_formula_on_many_pairs():
    # matern52 is evaluated in place on shared buffers; it must still be the textbook kernel on every pair
    rng = np.random.default_rng(2)
    X1, X2 = rng.random((23, 4)), rng.random((31, 4))
    X2[:5] = X1[:5]  # r = 0 pairs
    ls = np.array([0.2, 0.5, 1.0, 3.0])
    r = np.sqrt((((X1[:, None, :] - X2[None, :, :]) / ls) ** 2).sum(-1))
    expected = 1.7 * (1 + math.sqrt(5) * r + 5 / 3 * r ** 2) * np.exp(-math.sqrt(5) * r)
    np.testing.assert_allclose(matern52(X1, X2, ls, 1.7), expected, rtol=1e-12, atol=1e-14)
    assert matern52(X1, X2[:0], ls, 1.7).shape == (23, 0)


@pytest.mark.parametrize("prior_sd", [None, 1.5])
def test_gradient_of_negative_log_marginal_likelihood_matches_finite_differences(prior_sd):
    rng = np.random.default_rng(0)
    X = rng.random((25, 3))
    y = np.sin(6 * X[:, 0]) + 0.3 * X[:, 1]
    gp = GaussianProcess(3, lengthscale_prior_sd=prior_sd).fit(X, y, optimize=False)
    theta = np.log([0.3, 0.7, 2.0, 1.5, 1e-2])
    value, grad = gp.negative_log_marginal_likelihood(theta)
    numeric = approx_fprime(theta, lambda t: gp.negative_log_marginal_likelihood(t, False), 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-4)
    assert value == pytest.approx(gp.negative_log_marginal_likelihood(theta, False))


def test_posterior_interpolates_noise_free_points():
    X = np.array([[0.1], [0.35], [0.5], [0.8], [0.95]])
    y = np.array([1.0, -0.5, 0.3, 2.0, 1.2])
    gp = GaussianProcess(1, seed=0).fit(X, y)
    mean, std = gp.predict(X)
    np.testing.assert_allclose(mean, y, atol=1e-3 * np.std(y))
    assert np.all(std < 0.05 * np.std(y))
    # Away from the data the model is uncertain.
    _, std_far = gp.predict(np.array([[0.65]]))
    assert std_far[0] > 5 * std.max()


def _gp_prior_sample(X: np.ndarray, lengthscales: np.ndarray, seed: int) -> np.ndarray:
    K = matern52(X, X, lengthscales, 1.0) + 1e-6 * np.eye(len(X))
    return np.linalg.cholesky(K) @ np.random.default_rng(seed).standard_normal(len(X))


def test_lengthscale_fit_recovers_the_generating_scale_roughly():
    rng = np.random.default_rng(1)
    X = rng.random((120, 1))
    y = _gp_prior_sample(X, np.array([0.2]), seed=2)
    gp = GaussianProcess(1, seed=0).fit(X, y)
    assert 0.1 < gp.hyperparameters.lengthscales[0] < 0.4


def test_ard_gives_an_irrelevant_input_a_long_lengthscale():
    rng = np.random.default_rng(3)
    X = rng.random((80, 2))
    y = np.sin(8 * X[:, 0])  # the second column is irrelevant
    gp = GaussianProcess(2, seed=0).fit(X, y)
    ls = gp.hyperparameters.lengthscales
    assert ls[1] > 10 * ls[0]


def test_cholesky_is_stable_on_duplicated_points():
    K = np.ones((4, 4))  # rank one: plain Cholesky fails
    L, jitter = stable_cholesky(K)
    assert jitter > 0
    np.testing.assert_allclose(L @ L.T, K + jitter * np.eye(4), atol=1e-12)

    X = np.array([[0.2, 0.2]] * 5 + [[0.7, 0.1]] * 5)
    y = np.array([1.0] * 5 + [2.0] * 5)
    gp = GaussianProcess(2, seed=0, hyperparameters=GPHyperparameters(np.array([0.5, 0.5]), 1.0, 1e-6))
    gp.fit(X, y)  # also optimises: every trial point must factorise
    mean, std = gp.predict(np.array([[0.2, 0.2], [0.7, 0.1], [0.5, 0.5]]))
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    np.testing.assert_allclose(mean[:2], [1.0, 2.0], atol=1e-2)


def test_fit_rejects_bad_input():
    gp = GaussianProcess(1)
    with pytest.raises(ValueError, match="zero observations"):
        gp.fit(np.zeros((0, 1)), np.zeros(0))
    with pytest.raises(ValueError, match="finite"):
        gp.fit(np.array([[0.1], [0.2]]), np.array([1.0, math.nan]))
    with pytest.raises(RuntimeError, match="fit"):
        GaussianProcess(1).predict(np.array([[0.5]]))


def test_fantasies_collapse_variance_and_keep_the_mean_at_pending_points():
    rng = np.random.default_rng(4)
    X = rng.random((10, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    gp = GaussianProcess(2, seed=0).fit(X, y)
    xp = np.array([[0.5, 0.5]])
    mean0, std0 = gp.predict(xp)
    fantasised = gp.with_fantasies(xp)
    mean1, std1 = fantasised.predict(xp)
    assert mean1[0] == pytest.approx(mean0[0], abs=1e-6)
    assert std1[0] < 0.2 * std0[0]
    best = float(y.min())
    assert expected_improvement(mean1, std1, best)[0] < 0.2 * expected_improvement(mean0, std0, best)[0]
    # the original model is unchanged
    np.testing.assert_allclose(gp.predict(xp)[1], std0)


def test_expected_improvement_matches_the_closed_form():
    # mean 1, std 2, best 0.5: z = -0.25, EI = 2 (z Phi(z) + phi(z)) = 0.5726893964
    assert expected_improvement(np.array([1.0]), np.array([2.0]), 0.5)[0] == pytest.approx(0.5726893964)
    # vanishing uncertainty: EI = max(best - mean, 0)
    ei = expected_improvement(np.array([0.2, 0.9]), np.array([0.0, 0.0]), 0.5)
    np.testing.assert_allclose(ei, [0.3, 0.0], atol=1e-9)
