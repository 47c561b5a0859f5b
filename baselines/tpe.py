"""Tree-structured Parzen estimator (TPE; Bergstra et al., 2011), univariate variant as in Hyperopt/Optuna.

The results are split at the ``gamma`` quantile: the best ``ceil(gamma * n)`` form the "good" set, the rest
the "bad" set. For each hyperparameter independently, a density ``l`` is fitted to the good values and ``g`` to
the bad ones; candidates are drawn from ``l`` and the one maximising ``l(x) / g(x)`` (the product over
hyperparameters) is proposed, which maximises expected improvement under the TPE model.

Densities live in the encoded space (``baselines.encoding``):
- numeric hyperparameters (continuous, integer, ordinal: one column in [0, 1]): a mixture of Gaussians
  truncated to [0, 1], one per observed value, plus a uniform prior component of weight ``prior_weight``.
  Bandwidths are Hyperopt's adaptive ones: the distance to the farther of the two neighbouring values,
  clipped to [1 / min(100, 1 + m), 1] for m values (and at least half a step for finite domains);
- categorical hyperparameters: smoothed counts ``(count_k + prior_weight) / (m + K * prior_weight)``.

Running (pending) trials are added to the bad set (a "constant liar" with the worst value), so parallel
workers are steered away from points already being evaluated.

Defaults: 24 candidates (Hyperopt's and Optuna's number); ``gamma = 0.15`` and ``prior_weight = 2`` (more
smoothing than Hyperopt's 1) were chosen on a small mixed categorical/continuous check where ``gamma = 0.25,
prior_weight = 1`` often locked onto a wrong category for good. With ``restrict_to``, the allowed unproposed
configurations (a random subset of at most ``max_restricted_candidates``) are scored instead of draws from
``l``. Multi-fidelity results are used as described in ``ObservationHistory.training_set``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from baselines.arguments import forwards_base_arguments
from baselines.encoding import Block
from baselines.searcher_common import LearningSearcher, TrainingSet
from blackbox_repo.seeding import make_rng

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class TruncatedParzen:
    """Mixture of Gaussians truncated to [0, 1] plus a uniform component."""

    mus: np.ndarray
    sigmas: np.ndarray
    weights: np.ndarray  # per Gaussian component
    prior_weight: float  # weight of the uniform component; weights.sum() + prior_weight == 1

    @staticmethod
    def fit(values: np.ndarray, prior_weight: float, min_sigma: float) -> TruncatedParzen:
        values = np.sort(np.asarray(values, dtype=float))
        m = len(values)
        if m == 0:
            return TruncatedParzen(np.zeros(0), np.zeros(0), np.zeros(0), 1.0)
        padded = np.concatenate([[0.0], values, [1.0]])
        sigmas = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
        sigmas = np.clip(sigmas, max(1.0 / min(100.0, 1.0 + m), min_sigma), 1.0)
        total = m + prior_weight
        return TruncatedParzen(values, sigmas, np.full(m, 1.0 / total), prior_weight / total)

    def log_pdf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        density = np.full(u.shape, self.prior_weight)
        if len(self.mus):
            z = (u[:, None] - self.mus[None, :]) / self.sigmas[None, :]
            mass = ndtr((1.0 - self.mus) / self.sigmas) - ndtr(-self.mus / self.sigmas)
            comp = np.exp(-0.5 * z * z - _LOG_SQRT_2PI) / (self.sigmas * np.maximum(mass, 1e-300))
            density = density + comp @ self.weights
        return np.log(np.maximum(density, 1e-300))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        probs = np.concatenate([self.weights, [self.prior_weight]])
        comp = rng.choice(len(probs), size=n, p=probs / probs.sum())
        u = rng.random(n)
        out = u.copy()  # the uniform component keeps its draw
        gauss = comp < len(self.mus)
        if gauss.any():
            mu, sigma = self.mus[comp[gauss]], self.sigmas[comp[gauss]]
            lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
            p = np.clip(lo + u[gauss] * (hi - lo), 1e-15, 1 - 1e-15)
            out[gauss] = np.clip(mu + sigma * ndtri(p), 0.0, 1.0)
        return out


@dataclass(frozen=True)
class SmoothedCategorical:
    probs: np.ndarray

    @staticmethod
    def fit(indices: np.ndarray, num_values: int, prior_weight: float) -> SmoothedCategorical:
        counts = np.bincount(np.asarray(indices, dtype=np.int64), minlength=num_values).astype(float)
        return SmoothedCategorical((counts + prior_weight) / (counts.sum() + num_values * prior_weight))

    def log_pmf(self, indices: np.ndarray) -> np.ndarray:
        return np.log(self.probs[indices])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.probs), size=n, p=self.probs)


@forwards_base_arguments
class TPESearcher(LearningSearcher):
    """Tree-structured Parzen estimator (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        num_initial_random: int = 10,
        gamma: float = 0.15,
        num_candidates: int = 24,
        prior_weight: float = 2.0,
        max_restricted_candidates: int = 2000,
        **kwargs: Any,
    ):
        super().__init__(*args, num_initial_random=num_initial_random, **kwargs)
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {gamma}")
        if prior_weight <= 0:
            raise ValueError(f"prior_weight must be > 0, got {prior_weight}")
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        if max_restricted_candidates < 1:
            raise ValueError(f"max_restricted_candidates must be >= 1, got {max_restricted_candidates}")
        self.gamma = gamma
        self.num_candidates = num_candidates
        self.prior_weight = prior_weight
        self.max_restricted_candidates = max_restricted_candidates
        self._model_rng = make_rng(self.seed, "searcher", "tpe-candidates")

    def split(self, data: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """Encoded good and bad sets (pending trials join the bad set)."""
        X = self.encoder.encode_many(data.configs)
        order = np.argsort(data.y, kind="stable")
        n_good = max(1, math.ceil(self.gamma * len(order)))
        good, bad = X[order[:n_good]], X[order[n_good:]]
        pending = self.pending_configs(exclude=data.trial_ids)
        if pending:
            bad = np.vstack([bad, self.encoder.encode_many(pending)])
        return good, bad

    def _block_model(self, block: Block, X: np.ndarray) -> TruncatedParzen | SmoothedCategorical:
        if block.is_categorical:
            idx = np.argmax(X[:, block.start:block.stop], axis=1) if len(X) else np.zeros(0, np.int64)
            return SmoothedCategorical.fit(idx, block.stop - block.start, self.prior_weight)
        min_sigma = 0.5 / block.num_values if block.is_finite and block.num_values > 0 else 0.0
        return TruncatedParzen.fit(X[:, block.start], self.prior_weight, min_sigma)

    def log_ratio(self, Xc: np.ndarray, good: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """log l(x) - log g(x) for the rows of ``Xc``."""
        score = np.zeros(len(Xc))
        for b in self.encoder.blocks:
            lm, gm = self._block_model(b, good), self._block_model(b, bad)
            if b.is_categorical:
                idx = np.argmax(Xc[:, b.start:b.stop], axis=1)
                score += lm.log_pmf(idx) - gm.log_pmf(idx)  # type: ignore[union-attr]
            else:
                score += lm.log_pdf(Xc[:, b.start]) - gm.log_pdf(Xc[:, b.start])  # type: ignore[union-attr]
        return score

    def sample_good(self, good: np.ndarray, n: int) -> np.ndarray:
        """``n`` encoded members drawn from ``l`` (hyperparameters independently)."""
        X = np.zeros((n, self.encoder.dim))
        for b in self.encoder.blocks:
            model = self._block_model(b, good)
            if b.is_categorical:
                X[np.arange(n), b.start + model.sample(self._model_rng, n)] = 1.0
            else:
                X[:, b.start] = model.sample(self._model_rng, n)
        return self.encoder.snap(X)

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        if self.encoder.dim == 0:
            return None
        good, bad = self.split(data)
        if self.pool is not None:
            idx, Xc = self.candidate_pool(self._model_rng, self.max_restricted_candidates)
            best = int(np.argmax(self.log_ratio(Xc, good, bad)))
            return dict(self.pool.configs[int(idx[best])])
        Xc = self.sample_good(good, self.num_candidates)
        order = np.argsort(-self.log_ratio(Xc, good, bad), kind="stable")
        return self.first_new(self.encoder.decode(Xc[i]) for i in order)
