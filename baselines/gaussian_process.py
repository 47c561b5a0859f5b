"""Gaussian-process regression with a Matern 5/2 ARD kernel, fitted by maximising the marginal likelihood.

Model: ``y = f(x) + eps``, ``f ~ GP(0, k)``, ``eps ~ N(0, noise_variance)``, on standardised outputs
(``(y - mean) / std``; predictions are mapped back). The kernel is

    k(x, x') = signal_variance * (1 + sqrt(5) r + 5/3 r^2) * exp(-sqrt(5) r),
    r^2 = sum_j ((x_j - x'_j) / lengthscale_j)^2      (one lengthscale per input column: ARD).

Hyperparameters (lengthscales, signal and noise variance) are fitted in log space with scipy's L-BFGS-B
and the analytic gradient of the negative log marginal likelihood, from the previous solution (warm start)
and the best few of a batch of seeded random starting points, inside box bounds that keep the problem well posed on inputs in
[0, 1] (optionally with a weak log-normal prior on the lengthscales: a MAP fit). Cholesky factorisations add a growing diagonal jitter when a matrix is numerically singular
(e.g. duplicated inputs with tiny noise).

``ExponentialDecayResourceGP`` is the joint model over (configuration, resource) of the multi-fidelity searchers
(MOBSTER, Hyper-Tune, DyHPO): the Matern kernel above plus the exponential-decay (freeze-thaw) resource kernel and
mean, fitted the same way (see its docstring); it only extends the prior hooks of ``GaussianProcess``.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.linalg.lapack import dpotri
from scipy.optimize import minimize

from baselines.blas import single_threaded_blas
from blackbox_repo.seeding import make_rng

_SQRT5 = math.sqrt(5.0)


_LOG_2PI = math.log(2.0 * math.pi)


def stable_cholesky(K: np.ndarray, max_tries: int = 8) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``K + jitter * I`` with the smallest jitter (0, then 1e-10 * mean diag * 10^i)
    that works; returns ``(L, jitter)``."""
    jitter = 0.0
    base = 1e-10 * max(float(np.mean(np.diag(K))), 1e-12)
    for attempt in range(max_tries + 1):
        try:
            L = cholesky(K + jitter * np.eye(len(K)) if jitter else K, lower=True, check_finite=False)
            if np.all(np.isfinite(L)):
                return L, jitter
        except LinAlgError:
            pass
        jitter = base * 10.0 ** attempt
    raise LinAlgError(
        f"kernel matrix is not positive definite even with jitter {jitter:.3g}; the inputs or hyperparameters "
        "are degenerate (check for NaN inputs)"
    )


def _inverse_from_cholesky(L: np.ndarray) -> np.ndarray:
    """``K^-1`` from the lower Cholesky factor of ``K`` (LAPACK potri: half the work of solving against I)."""
    lower, info = dpotri(L, lower=1)
    if info != 0:
        return cho_solve((L, True), np.eye(len(L)), check_finite=False)
    return np.tril(lower) + np.tril(lower, -1).T


def _scaled_sq_diffs(X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray) -> np.ndarray:
    """Per-column scaled squared differences, shape (d, n1, n2)."""
    A = (X1 / lengthscales).T[:, :, None]
    B = (X2 / lengthscales).T[:, None, :]
    return (A - B) ** 2


def matern52(X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray, signal_variance: float) -> np.ndarray:
    """Matern 5/2 ARD kernel matrix between the rows of ``X1`` and ``X2``.

    ``signal_variance * (1 + sqrt5 r + 5/3 r^2) * exp(-sqrt5 r)``, evaluated in place on three (n1, n2) buffers
    (this runs for every prediction and fit): each operation is the one the formula spells, in its order, so
    the result is bit for bit that of the plain expression."""
    A = X1 / lengthscales
    B = X2 / lengthscales
    cross = (2.0 * A) @ B.T
    r2 = np.sum(A * A, 1)[:, None] + np.sum(B * B, 1)[None, :]
    r2 -= cross
    np.maximum(r2, 0.0, out=r2)
    scaled_r = np.sqrt(r2, out=cross)
    scaled_r *= _SQRT5  # sqrt5 * r
    decay = np.negative(scaled_r)
    np.exp(decay, out=decay)  # exp(-sqrt5 r)
    scaled_r += 1.0  # 1 + sqrt5 r
    r2 *= 5.0 / 3.0
    scaled_r += r2  # 1 + sqrt5 r + 5/3 r^2
    scaled_r *= signal_variance
    scaled_r *= decay
    return scaled_r


@dataclass
class GPHyperparameters:
    lengthscales: np.ndarray
    signal_variance: float
    noise_variance: float

    def to_log_vector(self) -> np.ndarray:
        return np.concatenate([np.log(self.lengthscales), [math.log(self.signal_variance),
                                                           math.log(self.noise_variance)]])

    @staticmethod
    def from_log_vector(theta: np.ndarray) -> GPHyperparameters:
        return GPHyperparameters(np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1])))


@dataclass
class GPBounds:
    """Box constraints (natural scale) for the fitted hyperparameters; outputs are standardised."""

    lengthscale: tuple[float, float] = (0.02, 50.0)
    signal_variance: tuple[float, float] = (0.05, 20.0)
    noise_variance: tuple[float, float] = (1e-6, 1.0)

    def log_bounds(self, dim: int) -> list[tuple[float, float]]:
        ls = (math.log(self.lengthscale[0]), math.log(self.lengthscale[1]))
        return [ls] * dim + [
            (math.log(self.signal_variance[0]), math.log(self.signal_variance[1])),
            (math.log(self.noise_variance[0]), math.log(self.noise_variance[1])),
        ]


@dataclass
class GaussianProcess:
    """GP regressor on inputs in [0, 1]^dim.

    ``fit(X, y)`` standardises ``y``, optionally fits the hyperparameters, and factorises the kernel matrix;
    ``predict(Xq)`` returns the posterior mean and standard deviation of f (original units);
    ``with_fantasies(Xp)`` returns a copy also conditioned on the posterior mean at ``Xp`` (kriging believer).

    Subclasses with a richer prior (``ExponentialDecayResourceGP``) extend the hooks ``_prior_terms`` (prior
    covariance, prior mean and the likelihood gradient), ``_cross_covariance``, ``_prior_mean``,
    ``_prior_variance`` and the hyperparameter packing (``_pack`` / ``_unpack`` / ``_log_bounds``); the
    marginal-likelihood fit, the Cholesky algebra, prediction and fantasies are shared.
    """

    dim: int
    seed: int = 0
    num_restarts: int = 2
    max_iterations: int = 100
    bounds: GPBounds = field(default_factory=GPBounds)
    hyperparameters: GPHyperparameters | None = None
    # Optional weak log-normal prior on each lengthscale, centred at 0.5 with this sd of log(lengthscale):
    # the fit then maximises marginal likelihood + log prior (MAP), which keeps fits on a handful of points
    # from collapsing to tiny or huge lengthscales. None = plain maximum marginal likelihood.
    lengthscale_prior_sd: float | None = None
    # Cap on likelihood evaluations per L-BFGS-B run (None: scipy's default). The iteration cap alone does not
    # bound a fit: a line search in a badly conditioned region can evaluate hundreds of times per iteration.
    max_evaluations: int | None = None

    def __post_init__(self) -> None:
        if self.dim < 0:
            raise ValueError(f"dim must be >= 0, got {self.dim}")
        self._rng = make_rng(self.seed, "gp-restarts")
        if self.hyperparameters is None:
            self.hyperparameters = self.default_hyperparameters()
        self._X = np.zeros((0, self.input_dim))
        self._y_std = np.zeros(0)
        self._y_mean, self._y_scale = 0.0, 1.0
        self._L: np.ndarray | None = None
        self._jitter = 0.0  # diagonal jitter in the factor (block updates reuse it)
        self._factor_theta: np.ndarray | None = None  # packed hyperparameters the factor was computed with
        self._alpha: np.ndarray | None = None
        self._sq_diffs: np.ndarray | None = None

    def default_hyperparameters(self) -> GPHyperparameters:
        return GPHyperparameters(np.full(self.dim, 0.5), 1.0, 1e-3)

    @property
    def input_dim(self) -> int:
        """Columns of an input row (``dim`` here; a subclass may append e.g. a resource column)."""
        return self.dim

    # ------------------------------------------------------------------------------------------------
    @property
    def num_data(self) -> int:
        return len(self._X)

    def fit(self, X: np.ndarray, y: np.ndarray, optimize: bool = True, num_restarts: int | None = None
            ) -> GaussianProcess:
        """Condition on ``(X, y)``; with ``optimize``, first fit the hyperparameters by L-BFGS-B from the current
        ones plus ``num_restarts`` (default: ``self.num_restarts``) seeded random starting points."""
        with single_threaded_blas():
            return self._fit(X, y, optimize, self.num_restarts if num_restarts is None else num_restarts)

    def _fit(self, X: np.ndarray, y: np.ndarray, optimize: bool, num_restarts: int) -> GaussianProcess:
        X = np.asarray(X, dtype=float).reshape(-1, self.input_dim)
        y = np.asarray(y, dtype=float).ravel()
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} values")
        if len(y) == 0:
            raise ValueError("cannot fit a Gaussian process to zero observations")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("Gaussian process inputs and outputs must be finite (drop NaN/inf results first)")
        self._y_mean = float(np.mean(y))
        scale = float(np.std(y))
        self._y_scale = scale if scale > 1e-12 else 1.0
        previous_X = self._X
        self._X = X
        self._sq_diffs = None
        self._y_std = (y - self._y_mean) / self._y_scale
        if optimize and len(y) >= 2:
            self.hyperparameters = self._optimize_hyperparameters(num_restarts)
        elif self._extends_factor(previous_X, X) and self._append_rows(len(previous_X)):
            # Same hyperparameters and the old inputs are a prefix of the new ones: the Cholesky factor was
            # extended by the new rows (O(n^2 k)) instead of refactorised (O(n^3)); the outputs are
            # re-standardised, so only alpha is recomputed in full (O(n^2)).
            self._set_alpha()
            return self
        self._factorize()
        return self

    def _factorize(self) -> None:
        hp = self.hyperparameters
        assert hp is not None
        K = self._cross_covariance(self._X, self._X, hp)
        K[np.diag_indices_from(K)] += hp.noise_variance
        self._L, self._jitter = stable_cholesky(K)
        self._factor_theta = self._pack(hp)
        self._set_alpha()

    def _set_alpha(self) -> None:
        hp = self.hyperparameters
        assert hp is not None and self._L is not None
        mean = self._prior_mean(self._X, hp)
        residual = self._y_std if mean is None else self._y_std - mean
        self._alpha = cho_solve((self._L, True), residual, check_finite=False)

    def _extends_factor(self, previous_X: np.ndarray, X: np.ndarray) -> bool:
        """Whether the current factor (of ``previous_X``) can be extended to ``X``."""
        m = len(previous_X)
        return (self._L is not None and len(self._L) == m and 0 < m <= len(X)
                and self._factor_theta is not None and self.hyperparameters is not None
                and np.array_equal(self._factor_theta, self._pack(self.hyperparameters))
                and np.array_equal(X[:m], previous_X))

    def _append_rows(self, m: int) -> bool:
        """Extend the factor of the first ``m`` rows of ``self._X`` to all rows (block Cholesky update):
        ``L_new = [[L, 0], [S^T, chol(K22 + noise + jitter - S^T S)]]`` with ``S = L^-1 K12``, the same jitter as
        the existing factor. False when the Schur complement is not numerically positive definite (the caller
        then refactorises with a fresh jitter)."""
        hp = self.hyperparameters
        assert hp is not None and self._L is not None
        X_old, X_new = self._X[:m], self._X[m:]
        k = len(X_new)
        if k == 0:
            return True
        K12 = self._cross_covariance(X_old, X_new, hp)
        K22 = self._cross_covariance(X_new, X_new, hp)
        K22[np.diag_indices(k)] += hp.noise_variance + self._jitter
        S = solve_triangular(self._L, K12, lower=True, check_finite=False)
        try:
            L22 = cholesky(K22 - S.T @ S, lower=True, check_finite=False)
        except LinAlgError:
            return False
        if not np.all(np.isfinite(L22)):
            return False
        L = np.zeros((m + k, m + k))
        L[:m, :m] = self._L
        L[m:, :m] = S.T
        L[m:, m:] = L22
        self._L = L
        return True

    # ------------------------------------------------------------------------------------------------
    # The prior: hooks a subclass extends
    def _cross_covariance(self, X1: np.ndarray, X2: np.ndarray, hp: GPHyperparameters) -> np.ndarray:
        """Prior covariance between the rows of ``X1`` and ``X2`` (no noise)."""
        return matern52(X1[:, :self.dim], X2[:, :self.dim], hp.lengthscales, hp.signal_variance)

    def _prior_mean(self, X: np.ndarray, hp: GPHyperparameters) -> np.ndarray | None:
        """Prior mean of the standardised outputs at the rows of ``X`` (``None``: zero)."""
        return None

    def _prior_variance(self, X: np.ndarray, hp: GPHyperparameters) -> np.ndarray | float:
        """Prior variance at the rows of ``X`` (the kernel's diagonal)."""
        return hp.signal_variance

    def _prior_terms(self, hp: GPHyperparameters) -> tuple[np.ndarray, np.ndarray | None, PriorGradient]:
        """On the training inputs: the prior covariance (no noise, a fresh array the caller may modify), the prior
        mean (``None``: zero) and a function mapping ``(W, alpha)`` to the gradient of the negative log marginal
        likelihood with respect to the packed parameters before and after the noise variance, where
        ``W = K^-1 - alpha alpha^T`` and ``alpha = K^-1 (y - mean)``: ``0.5 tr(W dK/dtheta) - alpha . dmean/dtheta``.
        """
        X = self._X
        n = len(X)
        if self._sq_diffs is None or self._sq_diffs.shape[1] != n:
            # (d, n, n), reused by every evaluation of one fit
            self._sq_diffs = _scaled_sq_diffs(X[:, :self.dim], X[:, :self.dim], np.ones(self.dim))
        # Per-column squared differences as a (d, n*n) matrix: the scaled distances and the lengthscale
        # gradient are then matrix-vector products (no (d, n, n) temporary per evaluation; this function runs
        # ~100 times per hyperparameter fit, which dominates a BO decision with a few hundred observations).
        sq = self._sq_diffs.reshape(self.dim, n * n)
        inv_ls2 = 1.0 / hp.lengthscales ** 2
        r2 = (inv_ls2 @ sq).reshape(n, n)
        # In place, in the formula's order of operations (bit for bit the plain expressions):
        # linear = 1 + sqrt5 r, e = exp(-sqrt5 r), Kf = s2 * (linear + 5/3 r^2) * e.
        linear = np.sqrt(r2)
        linear *= _SQRT5
        e = np.negative(linear)
        np.exp(e, out=e)
        linear += 1.0
        r2 *= 5.0 / 3.0
        r2 += linear
        r2 *= hp.signal_variance
        r2 *= e
        Kf = r2

        def gradient(W: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # dK/d log l_j = s2 * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * D_j, D_j = sq_j / l_j^2 (no division by r:
            # finite at r = 0)
            WA = hp.signal_variance * (5.0 / 3.0) * linear
            WA *= e
            WA *= W
            grad_ls = 0.5 * inv_ls2 * (sq @ WA.ravel())
            np.multiply(W, Kf, out=WA)
            grad_signal = 0.5 * float(np.sum(WA))
            return np.concatenate([grad_ls, [grad_signal]]), np.zeros(0)

        return Kf.copy(), None, gradient

    # Hyperparameters <-> the unconstrained vector the optimiser sees: [log lengthscales, log signal variance,
    # log noise variance, then whatever a subclass appends].
    def _pack(self, hp: GPHyperparameters) -> np.ndarray:
        return hp.to_log_vector()

    def _unpack(self, theta: np.ndarray) -> GPHyperparameters:
        return GPHyperparameters.from_log_vector(theta)

    def _log_bounds(self) -> list[tuple[float, float]]:
        return self.bounds.log_bounds(self.dim)

    # ------------------------------------------------------------------------------------------------
    def negative_log_marginal_likelihood(self, theta: np.ndarray, with_gradient: bool = True
                                         ) -> float | tuple[float, np.ndarray]:
        """NLL of the standardised data at packed hyperparameters ``theta`` (and its gradient)."""
        theta = np.asarray(theta, dtype=float)
        hp = self._unpack(theta)
        y = self._y_std
        n = len(y)
        K, mean, gradient = self._prior_terms(hp)
        K[np.diag_indices(n)] += hp.noise_variance
        try:
            L, _ = stable_cholesky(K)
        except LinAlgError:
            return (1e25, np.zeros_like(theta)) if with_gradient else 1e25
        residual = y if mean is None else y - mean
        alpha = cho_solve((L, True), residual, check_finite=False)
        nll = 0.5 * float(residual @ alpha) + float(np.sum(np.log(np.diag(L)))) + 0.5 * n * _LOG_2PI
        prior_grad = np.zeros(len(hp.lengthscales))
        if self.lengthscale_prior_sd is not None:
            dev = (np.log(hp.lengthscales) - math.log(0.5)) / self.lengthscale_prior_sd
            nll += 0.5 * float(dev @ dev)
            prior_grad = dev / self.lengthscale_prior_sd
        if not with_gradient:
            return nll
        # d nll / d theta = 0.5 tr((K^-1 - alpha alpha^T) dK/dtheta) - alpha^T dmean/dtheta
        K_inv = _inverse_from_cholesky(L)
        W = K_inv - np.outer(alpha, alpha)
        before_noise, after_noise = gradient(W, alpha)
        before_noise[: self.dim] += prior_grad
        grad_noise = 0.5 * hp.noise_variance * float(np.trace(W))
        return nll, np.concatenate([before_noise, [grad_noise], after_noise])

    def log_marginal_likelihood(self) -> float:
        """Log marginal likelihood of the standardised data under the current hyperparameters (plus the log
        lengthscale prior, up to a constant, when ``lengthscale_prior_sd`` is set)."""
        assert self.hyperparameters is not None
        return -float(self.negative_log_marginal_likelihood(self._pack(self.hyperparameters), False))

    def _optimize_hyperparameters(self, num_restarts: int) -> GPHyperparameters:
        bounds = self._log_bounds()
        lo = np.array([b[0] for b in bounds])
        hi = np.array([b[1] for b in bounds])
        assert self.hyperparameters is not None
        starts = [np.clip(self._pack(self.hyperparameters), lo, hi)]
        if num_restarts > 0:
            # Screen 4x as many seeded random points by their likelihood (cheap: no gradient) and optimise
            # from the best ``num_restarts`` of them only.
            candidates = self._rng.uniform(lo, hi, size=(4 * num_restarts, len(lo)))
            values = [self.negative_log_marginal_likelihood(c, with_gradient=False) for c in candidates]
            starts += [candidates[i] for i in np.argsort(values, kind="stable")[:num_restarts]]
        best_theta, best_value = starts[0], math.inf
        for theta0 in starts:
            options = {"maxiter": self.max_iterations, "ftol": 1e-7}
            if self.max_evaluations is not None:
                options["maxfun"] = self.max_evaluations
            res = minimize(self.negative_log_marginal_likelihood, theta0, jac=True, method="L-BFGS-B",
                           bounds=bounds, options=options)
            value = float(res.fun)
            if np.isfinite(value) and value < best_value:
                best_theta, best_value = np.clip(res.x, lo, hi), value
        return self._unpack(best_theta)

    # ------------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self._L is None:
            raise RuntimeError("call fit(X, y) before predicting")

    def predict(self, Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at the rows of ``Xq``."""
        self._check_fitted()
        hp = self.hyperparameters
        assert hp is not None and self._L is not None and self._alpha is not None
        Xq = np.asarray(Xq, dtype=float).reshape(-1, self.input_dim)
        Ks = self._cross_covariance(Xq, self._X, hp)
        mean = Ks @ self._alpha
        prior_mean = self._prior_mean(Xq, hp)
        if prior_mean is not None:
            mean = mean + prior_mean
        # Ks is not needed after the mean: the solve may overwrite it, and V is squared in place
        V = solve_triangular(self._L, Ks.T, lower=True, check_finite=False, overwrite_b=True)
        np.multiply(V, V, out=V)
        var = np.maximum(self._prior_variance(Xq, hp) - np.sum(V, axis=0), 1e-12)
        return mean * self._y_scale + self._y_mean, np.sqrt(var) * self._y_scale

    def posterior_covariance(self, Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint posterior of the latent function at the rows of ``Xq``: mean (m,) and covariance (m, m), in
        original units (for joint samples, e.g. Hyper-Tune's ranking losses)."""
        self._check_fitted()
        hp = self.hyperparameters
        assert hp is not None and self._L is not None and self._alpha is not None
        Xq = np.asarray(Xq, dtype=float).reshape(-1, self.input_dim)
        with single_threaded_blas():
            Ks = self._cross_covariance(Xq, self._X, hp)
            mean = Ks @ self._alpha
            prior_mean = self._prior_mean(Xq, hp)
            if prior_mean is not None:
                mean = mean + prior_mean
            V = solve_triangular(self._L, Ks.T, lower=True, check_finite=False)
            cov = self._cross_covariance(Xq, Xq, hp) - V.T @ V
        return mean * self._y_scale + self._y_mean, cov * self._y_scale ** 2

    def with_fantasies(self, X_pending: np.ndarray) -> GaussianProcess:
        """A copy conditioned also on the posterior mean at ``X_pending`` (same hyperparameters and output
        scaling): the variance collapses there, so acquisition functions stop favouring busy points."""
        self._check_fitted()
        X_pending = np.asarray(X_pending, dtype=float).reshape(-1, self.input_dim)
        clone = copy.copy(self)  # same class, hyperparameters, bounds and restart stream
        if len(X_pending):
            mean, _ = self.predict(X_pending)
            clone._X = np.vstack([self._X, X_pending])
            clone._y_std = np.concatenate([self._y_std, (mean - self._y_mean) / self._y_scale])
            clone._sq_diffs = None
            with single_threaded_blas():
                if clone._append_rows(len(self._X)):  # block update: O(n^2 p), not a refactorisation
                    clone._set_alpha()
                else:
                    clone._factorize()
        return clone


PriorGradient = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------------------------------
# A joint model over (configuration, resource): the exponential-decay (freeze-thaw) kernel
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ExpDecayHyperparameters(GPHyperparameters):
    """Matern part (lengthscales, signal and noise variance) plus the resource part: ``alpha`` and ``mean_lam``
    of the Gamma prior over decay rates, the decay amplitude ``gamma`` and the constant prior mean ``mean``
    (standardised units)."""

    alpha: float = 1.0
    mean_lam: float = 0.5
    gamma: float = 0.5
    mean: float = 0.0


@dataclass
class ExpDecayBounds:
    """Box constraints (natural scale) of the resource part; outputs are standardised, resources in (0, 1]."""

    alpha: tuple[float, float] = (1e-3, 250.0)
    mean_lam: tuple[float, float] = (1e-4, 50.0)
    gamma: tuple[float, float] = (1e-3, 5.0)
    mean: tuple[float, float] = (-5.0, 5.0)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the index of each value among them."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return distinct, inverse.reshape(-1)


def exp_decay_kappa(s: np.ndarray, alpha: float, mean_lam: float) -> np.ndarray:
    """``kappa(s) = E[exp(-lambda s)]`` for ``lambda ~ Gamma(shape alpha, rate beta)``, ``beta = alpha /
    mean_lam`` (so ``E[lambda] = mean_lam``): ``(beta / (beta + s))^alpha``."""
    beta = alpha / mean_lam
    return np.power(beta / (beta + s), alpha)


@dataclass
class ExponentialDecayResourceGP(GaussianProcess):
    """GP over ``(x, r)``: a configuration ``x`` in [0, 1]^dim plus a last column ``r`` > 0, the resource scaled
    to (0, 1] (``fidelity / max_fidelity``).

    The prior is the freeze-thaw model of Swersky et al. (2014) in the centred form of Tiao, Klein et al.
    (2020), Syne Tune's ``exp-decay-sum`` kernel: ``y(x, r) = f(x) + gamma * exp(-lambda * r) + noise`` with
    ``f ~ GP(mean, Matern52-ARD)`` and a decay rate ``lambda ~ Gamma(alpha, beta = alpha / mean_lam)`` shared by
    all configurations. Integrating ``lambda`` out gives, with ``kappa`` from ``exp_decay_kappa``,

        m(x, r)             = mean + gamma * kappa(r)
        k((x, r), (x', r')) = k_Matern(x, x') + gamma^2 * (kappa(r + r') - kappa(r) * kappa(r'))

    so curves decay towards ``f(x)``, observations of one configuration at several resources are correlated,
    and the model extrapolates a configuration to resources it has not reached. All parameters are fitted by
    maximising the marginal likelihood (analytic gradient), in log space except ``mean``.

    The resource part of every kernel matrix depends only on the two rows' levels, and multi-fidelity data sit
    on a handful of levels (the rungs): it is evaluated on the grid of distinct levels and gathered, which gives
    the same numbers as evaluating it pair by pair for a fraction of the transcendental functions.
    """

    resource_bounds: ExpDecayBounds = field(default_factory=ExpDecayBounds)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see ``_level_pairs``
        self._train_levels: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see ``_levels_of``

    def default_hyperparameters(self) -> ExpDecayHyperparameters:
        return ExpDecayHyperparameters(np.full(self.dim, 0.5), 1.0, 1e-3)

    @property
    def input_dim(self) -> int:
        return self.dim + 1

    # ------------------------------------------------------------------------------------------------
    def _pack(self, hp: GPHyperparameters) -> np.ndarray:
        assert isinstance(hp, ExpDecayHyperparameters)
        return np.concatenate([hp.to_log_vector(),
                               [math.log(hp.alpha), math.log(hp.mean_lam), math.log(hp.gamma), hp.mean]])

    def _unpack(self, theta: np.ndarray) -> ExpDecayHyperparameters:
        base = GPHyperparameters.from_log_vector(theta[:-4])
        return ExpDecayHyperparameters(base.lengthscales, base.signal_variance, base.noise_variance,
                                       float(np.exp(theta[-4])), float(np.exp(theta[-3])),
                                       float(np.exp(theta[-2])), float(theta[-1]))

    def _log_bounds(self) -> list[tuple[float, float]]:
        b = self.resource_bounds
        logged = [(math.log(lo), math.log(hi)) for lo, hi in (b.alpha, b.mean_lam, b.gamma)]
        return self.bounds.log_bounds(self.dim) + logged + [b.mean]

    # ------------------------------------------------------------------------------------------------
    def _cross_covariance(self, X1: np.ndarray, X2: np.ndarray, hp: GPHyperparameters) -> np.ndarray:
        assert isinstance(hp, ExpDecayHyperparameters)
        # The resource term depends on the two rows' levels only, which are a handful (the rung levels): it is
        # computed on the grid of distinct levels and gathered (elementwise the same numbers).
        (u1, i1), (u2, i2) = self._levels_of(X1), self._levels_of(X2)
        k1 = exp_decay_kappa(u1, hp.alpha, hp.mean_lam)
        k2 = exp_decay_kappa(u2, hp.alpha, hp.mean_lam)
        k12 = exp_decay_kappa(u1[:, None] + u2[None, :], hp.alpha, hp.mean_lam)
        resource = hp.gamma ** 2 * (k12 - np.outer(k1, k2))
        K = super()._cross_covariance(X1, X2, hp)
        K += np.take(resource, i1[:, None] * len(u2) + i2[None, :])
        return K

    def _levels_of(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct resource levels of the rows of ``X`` and each row's index among them (cached for the
        training inputs)."""
        if X is self._X:
            cached = self._train_levels
            if cached is None or cached[0] is not X:
                cached = self._train_levels = (X, *_distinct(X[:, -1]))
            return cached[1], cached[2]
        return _distinct(X[:, -1])

    def _prior_mean(self, X: np.ndarray, hp: GPHyperparameters) -> np.ndarray:
        assert isinstance(hp, ExpDecayHyperparameters)
        return hp.mean + hp.gamma * exp_decay_kappa(X[:, -1], hp.alpha, hp.mean_lam)

    def _prior_variance(self, X: np.ndarray, hp: GPHyperparameters) -> np.ndarray:
        assert isinstance(hp, ExpDecayHyperparameters)
        r = X[:, -1]
        k1 = exp_decay_kappa(r, hp.alpha, hp.mean_lam)
        return hp.signal_variance + hp.gamma ** 2 * (exp_decay_kappa(2.0 * r, hp.alpha, hp.mean_lam) - k1 * k1)

    def _prior_terms(self, hp: GPHyperparameters) -> tuple[np.ndarray, np.ndarray, PriorGradient]:
        assert isinstance(hp, ExpDecayHyperparameters)
        Kx, _, gradient_x = super()._prior_terms(hp)
        a, lam, g = hp.alpha, hp.mean_lam, hp.gamma
        beta = a / lam
        r = self._X[:, -1]
        # The (n, n) terms depend on r_i + r_j only, and r takes a handful of values (the rung levels): they are
        # computed on the distinct levels' grid and gathered (the same numbers, a fraction of the transcendentals;
        # this runs ~100 times per hyperparameter fit).
        levels, pair_index = self._level_pairs()
        s = levels[:, None] + levels[None, :]
        # kappa = q^alpha with q = beta / (beta + s), through log q (one transcendental per entry less than a
        # power followed by a log).
        log_q1, log_q12 = -np.log1p(r / beta), -np.log1p(s / beta)
        q1, q12 = np.exp(log_q1), np.exp(log_q12)
        k1, k12 = np.exp(a * log_q1), np.exp(a * log_q12)
        mean = hp.mean + g * k1
        # d log kappa(s) / d log alpha = alpha (log q + 1 - q); d log kappa(s) / d log mean_lam = -alpha (1 - q)
        # (beta = alpha / mean_lam moves with both).
        dk1_da, dk12_da = k1 * a * (log_q1 + 1.0 - q1), k12 * a * (log_q12 + 1.0 - q12)
        dk1_dl, dk12_dl = -k1 * a * (1.0 - q1), -k12 * a * (1.0 - q12)
        k1_levels = np.exp(a * -np.log1p(levels / beta))  # k1 per distinct level (the same numbers)
        Kr = np.take(g * g * (k12 - np.outer(k1_levels, k1_levels)), pair_index)

        def gradient(W: np.ndarray, alpha_vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            before, _ = gradient_x(W, alpha_vec)
            W_k1 = W @ k1
            W_term = np.empty_like(W)  # one (n, n) buffer for the elementwise products below

            def through_kappa(dk1: np.ndarray, dk12: np.ndarray) -> float:
                # dK = g^2 (dk12 - dk1 k1^T - k1 dk1^T); W is symmetric, so tr(W dK) needs no outer products
                np.take(dk12, pair_index, out=W_term)
                np.multiply(W_term, W, out=W_term)
                trace = g * g * (float(np.sum(W_term)) - 2.0 * float(dk1 @ W_k1))
                return 0.5 * trace - g * float(alpha_vec @ dk1)

            np.multiply(W, Kr, out=W_term)
            grad_gamma = float(np.sum(W_term)) - g * float(alpha_vec @ k1)  # dK = 2 Kr, dmean = g k1
            grad_mean = -float(np.sum(alpha_vec))
            after = np.array([through_kappa(dk1_da, dk12_da), through_kappa(dk1_dl, dk12_dl), grad_gamma,
                              grad_mean])
            return before, after

        Kx += Kr
        return Kx, mean, gradient

    def _level_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct resource levels of the training inputs and, per pair of rows ``(i, j)``, the flat index of
        ``(level(i), level(j))`` in the distinct levels' grid (cached per training set, like ``_sq_diffs``)."""
        X = self._X
        cached = self._pairs
        if cached is None or cached[0] is not X:
            levels, inverse = self._levels_of(X)
            cached = self._pairs = (X, levels, inverse[:, None] * len(levels) + inverse[None, :])
        return cached[1], cached[2]
