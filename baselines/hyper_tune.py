"""Hyper-Tune (Li, Shen, Jiang, Li, Yin, Zhang, Cui 2022, "Hyper-Tune: Towards efficient hyper-parameter tuning at
scale", VLDB): asynchronous Hyperband whose brackets and new configurations both come from per-rung-level GP
models weighted by how consistently each level ranks configurations like the highest well-observed level.
Semantics and defaults follow Syne Tune 0.13's ``HyperTune`` (``HyperTuneIndependentGPModel``).

Ranking consistency. Let ``r_0 < ... < r_K`` be the rung levels followed by the maximum fidelity, and ``r_top``
the highest level with at least 6 results (``MIN_POINTS_TOP``); nothing is learnt until ``r_top`` is at least
``r_1``. The ``n`` results at ``r_top`` are the reference. For each lower level ``r_i`` (``i < top``),
``num_samples`` (50) joint samples of the level-``r_i`` model's posterior at the ``n`` configurations give
``num_samples`` ranking losses: the fraction of the ``n (n - 1) / 2`` pairs the sample orders differently from
the observed values at ``r_top``. For ``r_top`` itself the losses come from K-fold cross-validation
(``K = min(n // 2, 5)`` contiguous folds, sizes as even as possible): the level's model, with its fitted
hyperparameters, conditioned on the other folds, sampled jointly on the held-out fold; losses averaged over
folds. ``theta_i`` is the fraction of samples in which level ``i`` has the smallest loss (all tied levels
count). The weights are recomputed whenever ``(top, n)`` changes.

Ensemble. EI is computed on the mixture predictive ``mean = sum theta_i mean_i``, ``var = sum theta_i^2 var_i``
over the levels with ``theta_i > 0.01`` (re-normalised; Syne Tune does not re-normalise after dropping the
small weights), each level's model conditioned on the pending trials as in MOBSTER. Until the weights exist,
the ensemble is the lowest level alone (Syne Tune's "safe bet"). The incumbent is the smallest ensemble mean at
the configurations already evaluated or pending (the mixture is on its own scale, not on one level's).

Brackets. Bracket ``k`` starts at ``r_k``. With weights over ``r_0 .. r_top``, the first ``top + 1`` brackets get
probabilities proportional to ``theta_k / r_k`` (cheap levels that rank well earn more new trials), times the
mass the default Hyperband distribution gives those brackets; the remaining brackets keep their default
probabilities. (If every ``theta_k`` is zero, the head is bracket 0.)

``model="joint"`` uses MOBSTER's joint exponential-decay GP clamped at each level instead of independent
per-level GPs, as Syne Tune allows. By default every bracket is used (``brackets=None``): bracket selection is
half of the method. Syne Tune's ``HyperTune`` class defaults to one bracket (the bracket distribution then has
nothing to choose); pass ``brackets=1`` for that. Stopping and promotion variants are ASHA's.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.asynchronous_successive_halving import ASHA
from baselines.gaussian_process import GaussianProcess, stable_cholesky
from baselines.mobster import ClampedResource, MultiFidelityGPSearcher
from baselines.scheduler import Searcher
from baselines.searcher_common import TrainingSet
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import make_rng

MIN_POINTS_TOP = 6
MIN_ENSEMBLE_WEIGHT = 0.01


def ranking_losses(samples: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per column of ``samples`` (n, S): the fraction of the pairs ``j < k`` ordered differently from ``targets``
    (strict ``<`` on both sides, as in Syne Tune)."""
    n = len(targets)
    if n < 2:
        raise ValueError(f"ranking losses need at least 2 targets, got {n}")
    sample_less = samples[:, None, :] < samples[None, :, :]
    target_less = (targets[:, None] < targets[None, :])[:, :, None]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    discordant = np.logical_xor(sample_less, target_less)[upper]  # (pairs, S)
    return discordant.sum(axis=0) * (2.0 / (n * (n - 1)))


def ranking_weights(losses: np.ndarray) -> np.ndarray:
    """``theta``: for each level (row of ``losses``, shape (L, S)), the fraction of samples in which it has the
    smallest loss; tied levels all count, so the counts are normalised by their sum."""
    wins = np.sum(losses == losses.min(axis=0, keepdims=True), axis=1).astype(float)
    return wins / wins.sum()


def bracket_head(theta: np.ndarray, levels: Sequence[float], num_brackets: int) -> np.ndarray:
    """Probabilities of the first ``min(len(theta), num_brackets)`` brackets: ``theta_k / r_k``, normalised
    (bracket 0 alone if they are all zero)."""
    weights = np.asarray(theta, dtype=float) / np.asarray(levels[: len(theta)], dtype=float)
    weights = weights[:num_brackets]
    total = weights.sum()
    if total > 1e-14:
        return weights / total
    head = np.zeros_like(weights)
    head[0] = 1.0
    return head


def fold_sizes(n: int) -> list[int]:
    """K = min(n // 2, 5) fold sizes summing to ``n``, each at least 2, the larger folds last."""
    k = min(n // 2, 5)
    sizes = [n // k] * k
    for i in range(n - sum(sizes)):
        sizes[k - 1 - i] += 1
    return sizes


class _Ensemble:
    """Mixture predictive of several level models: weighted means, variances weighted by the squared weights."""

    def __init__(self, models: Sequence[Any], weights: Sequence[float]):
        self.models = list(models)
        self.weights = np.asarray(weights, dtype=float)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.zeros(len(X))
        var = np.zeros(len(X))
        for model, w in zip(self.models, self.weights):
            m, s = model.predict(X)
            mean += w * m
            var += w * w * s * s
        return mean, np.sqrt(var)


# Every rung's model is fitted from its first result (the ensemble weighs them by ranking consistency).
@forwards_base_arguments(fixed=("min_points_per_level",))
class HyperTuneSearcher(MultiFidelityGPSearcher):
    """The Hyper-Tune searcher: MOBSTER's models, ranking-consistency weights and the ensemble acquisition."""

    def __init__(self, *args: Any, num_samples: int = 50, **kwargs: Any):
        super().__init__(*args, min_points_per_level=1, **kwargs)
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples
        self.rung_levels: list[float] | None = None
        self.num_brackets = 1
        self.theta: np.ndarray | None = None  # weights over rung_levels[: len(theta)]
        self._signature: tuple[int, int] | None = None

    def configure_levels(self, rung_levels: Sequence[float], num_brackets: int) -> None:
        """The scheduler's rung levels followed by the maximum fidelity, and its number of brackets."""
        levels = [float(r) for r in rung_levels]
        if sorted(set(levels)) != levels:
            raise ValueError(f"rung levels must be strictly increasing, got {levels}")
        self.rung_levels = levels
        self.num_brackets = num_brackets

    # ------------------------------------------------------------------------------------------------
    def _levels(self) -> list[float]:
        if self.rung_levels is None:
            raise RuntimeError("HyperTuneSearcher needs the scheduler's rung levels: use it with the HyperTune "
                               "scheduler (method HYPERTUNE), which calls configure_levels")
        return self.rung_levels

    def top_level_index(self) -> int:
        """Index of the highest rung level with at least ``MIN_POINTS_TOP`` results (-1: none)."""
        levels = self._levels()
        for i in range(len(levels) - 1, -1, -1):
            if self.level_counts.get(levels[i], 0) >= MIN_POINTS_TOP:
                return i
        return -1

    def _predictor(self, level: float) -> Any:
        if self.model == "joint":
            return ClampedResource(self.joint_model(), float(self.scaled_resource(level)))
        return self.level_model(level)

    def _fold_model(self, level: float, X: np.ndarray, y: np.ndarray) -> Any:
        """The level's model with its hyperparameters, conditioned on ``(X, y)`` at that level only."""
        if self.model == "joint":
            view = ClampedResource(self.joint_model(), float(self.scaled_resource(level)))
            gp: GaussianProcess = copy.copy(view.gp)
            return ClampedResource(gp.fit(view.extend(X), y, optimize=False), view.resource)
        gp = copy.copy(self.level_model(level))
        return gp.fit(X, y, optimize=False)

    def _joint_samples(self, predictor: Any, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean, cov = predictor.posterior_covariance(X)
        L, _ = stable_cholesky(0.5 * (cov + cov.T) + 1e-9 * np.eye(len(X)))
        return mean[:, None] + L @ rng.standard_normal((len(X), self.num_samples))

    def update_weights(self) -> None:
        """Recompute ``theta`` if the highest supported level or its number of results changed."""
        top = self.top_level_index()
        if top < 1:
            return
        levels = self._levels()
        signature = (top, self.level_counts[levels[top]])
        if signature == self._signature:
            return
        self._signature = signature
        rng = make_rng(self.seed, "searcher", "hypertune-samples", self._num_observed)
        trials, y = self.data_at_level(levels[top])
        X = self.encoded(trials)
        losses = np.zeros((top + 1, self.num_samples))
        for i in range(top):
            if self.level_counts.get(levels[i], 0) < 2:  # e.g. only higher brackets' trials so far: no model
                losses[i] = math.inf
                continue
            losses[i] = ranking_losses(self._joint_samples(self._predictor(levels[i]), X, rng), y)
        start = 0
        for size in fold_sizes(len(y)):
            test = np.arange(start, start + size)
            train = np.setdiff1d(np.arange(len(y)), test)
            start += size
            fold = self._fold_model(levels[top], X[train], y[train])
            losses[top] += ranking_losses(self._joint_samples(fold, X[test], rng), y[test])
        losses[top] /= len(fold_sizes(len(y)))
        self.theta = ranking_weights(losses)

    def ensemble_weights(self) -> dict[float, float]:
        """Level -> weight of the ensemble (the lowest level with results alone until ``theta`` exists)."""
        if self.theta is None:
            return {min(self.level_counts): 1.0}
        levels = self._levels()
        kept = {levels[i]: float(w) for i, w in enumerate(self.theta)
                if w > MIN_ENSEMBLE_WEIGHT and self.level_counts.get(levels[i], 0)}
        total = sum(kept.values())
        return {level: w / total for level, w in kept.items()}

    def bracket_head(self) -> np.ndarray | None:
        """Learnt probabilities of the first brackets (``None`` until ``theta`` exists)."""
        self.update_weights()
        if self.theta is None:
            return None
        return bracket_head(self.theta, self._levels(), self.num_brackets)

    # ------------------------------------------------------------------------------------------------
    def acquisition(self, data: TrainingSet | None) -> tuple[Any, float]:
        self.update_weights()
        weights = self.ensemble_weights()
        models = [self.model_at_level(level)[0] for level in weights]
        ensemble = _Ensemble(models, list(weights.values()))
        X_seen = np.vstack([self.encoded(self.encoded_trials()),
                            self.pending_without_result(math.inf)[1]])
        mean, _ = ensemble.predict(X_seen)
        return ensemble, float(np.min(mean))


@forwards_base_arguments
class HyperTune(ASHA):
    """Asynchronous Hyperband (ASHA's stopping or promotion variant) whose brackets are drawn from Hyper-Tune's
    learnt distribution (see the module docstring); the searcher must be a ``HyperTuneSearcher``."""

    def __init__(self, config_space: SearchSpace, metric: str, searcher: Searcher | None = None, *args: Any,
                 brackets: int | None = None, **kwargs: Any):
        if not isinstance(searcher, HyperTuneSearcher):
            raise TypeError(f"HyperTune needs a HyperTuneSearcher, got {type(searcher).__name__}; build it with "
                            "make_method('HYPERTUNE', ...)")
        super().__init__(config_space, metric, searcher, *args, brackets=brackets, **kwargs)
        searcher.configure_levels([*self.levels, self.max_fidelity], self.num_brackets)
        self.hypertune_searcher = searcher

    def bracket_distribution(self) -> np.ndarray:
        """The current probabilities of the brackets (Hyperband's until Hyper-Tune's weights exist)."""
        default = self.bracket_probabilities
        head = self.hypertune_searcher.bracket_head()
        if head is None:
            return default
        if len(head) >= len(default):
            return head[: len(default)]
        out = default.copy()
        out[: len(head)] = head * default[: len(head)].sum()
        return out

    def _sample_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0
        return int(self.rng.choice(self.num_brackets, p=self.bracket_distribution()))
