"""Multi-objective Bayesian optimisation by scalarisation over the GP-EI searcher (``baselines.bayesian_optimization``).

Every decision turns the observed objective vectors into one value and runs GP-EI on it:

1. each objective (to minimise) is scaled to [0, 1] by the smallest and largest value observed so far (an
   objective observed constant maps to 0), so objectives on different scales (an error and seconds) weigh alike;
2. the scaled vectors ``z`` are combined with a weight vector ``w`` on the simplex:

   - ``scalarization="random"`` (MOBO-RANDOM, random scalarisations after Paria et al. 2019): a new ``w`` is
     drawn uniformly from the simplex (Dirichlet(1, ..., 1)) for every decision and the augmented Chebyshev
     scalarisation ``max_i w_i z_i + rho * sum_i w_i z_i`` (``rho = 0.05``) is used, so over many decisions
     the whole Pareto front is targeted, including its non-convex parts. Unlike Paria et al., who model every
     objective with its own GP, one GP is fitted to the scalarised values (as ParEGO, Knowles 2006, does);
   - ``scalarization="linear"`` (MOBO-LINEAR): the fixed ``weights`` (default: equal) and the weighted sum
     ``sum_i w_i z_i``, which targets one point of the front's convex hull.

3. GP-EI proposes as in ``BOSearcher`` (pending trials, restricted pools, refitting schedule), with the GP's
   hyperparameters warm-started from the previous decision's even though the scalarisation changed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.bayesian_optimization import BOSearcher
from baselines.mo_fifo import MultiObjectiveSearcher
from baselines.searcher_common import TrainingSet
from blackbox_repo.seeding import make_rng

SCALARIZATIONS = ("random", "linear")
CHEBYSHEV_RHO = 0.05  # ParEGO's augmentation: breaks ties between weakly dominated points


def scale_to_unit(vectors: np.ndarray) -> np.ndarray:
    """Each column mapped to [0, 1] by its observed minimum and maximum (a constant column maps to 0)."""
    low, high = vectors.min(axis=0), vectors.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (vectors - low) / span


def augmented_chebyshev(scaled: np.ndarray, weights: np.ndarray, rho: float = CHEBYSHEV_RHO) -> np.ndarray:
    weighted = scaled * weights
    return weighted.max(axis=1) + rho * weighted.sum(axis=1)


# Run under FIFO (one fidelity); the GP's fit caps keep BO's defaults.
@forwards_base_arguments(fixed=("min_points_per_fidelity", "max_fit_points", "refit_fraction",
                                 "max_fit_evaluations"))
class MultiObjectiveBOSearcher(BOSearcher, MultiObjectiveSearcher):
    """GP-EI on scalarised objective vectors (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        metrics: Sequence[str] | None = None,
        modes: Sequence[str] | None = None,
        scalarization: str = "random",
        weights: Sequence[float] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        objectives = self.objective_vector(metrics, modes)
        if scalarization not in SCALARIZATIONS:
            raise ValueError(f"unknown scalarization {scalarization!r}; valid: {', '.join(SCALARIZATIONS)}")
        k = len(objectives.metrics)
        if weights is None:
            weight_vector = np.full(k, 1.0 / k)
        else:
            weight_vector = np.asarray(weights, dtype=float)
            if weight_vector.shape != (k,) or (weight_vector < 0).any() or weight_vector.sum() <= 0:
                raise ValueError(f"weights must be {k} non-negative numbers (one per objective {list(objectives.metrics)}) "
                                 f"with a positive sum, got {weights!r}")
            if scalarization == "random":
                raise ValueError("weights apply to scalarization='linear'; 'random' draws new weights every decision")
            weight_vector = weight_vector / weight_vector.sum()
        self.objectives = objectives
        self.scalarization = scalarization
        self.weights = weight_vector
        self._weights_rng = make_rng(self.seed, "searcher", "mobo-weights")
        self._vectors: dict[int, np.ndarray] = {}
        self.last_weights: np.ndarray | None = None

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        raise TypeError("MultiObjectiveBOSearcher learns from objective vectors: run it under MultiObjectiveFIFO")

    def observe_objectives(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None,
                           vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=float)
        if not np.isfinite(vector).all():
            return  # a diverged or failed evaluation: no information about the trade-off
        self._vectors[trial_id] = vector
        self.history.add(trial_id, config, fidelity, float(vector[0]))

    def scalarize(self, trial_ids: Sequence[int]) -> np.ndarray:
        """The values the GP is fitted to for these trials; draws new weights for the random scalarisation."""
        every = np.vstack(list(self._vectors.values()))
        low, high = every.min(axis=0), every.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        scaled = (np.vstack([self._vectors[t] for t in trial_ids]) - low) / span
        if self.scalarization == "linear":
            self.last_weights = self.weights
            return scaled @ self.weights
        self.last_weights = self._weights_rng.dirichlet(np.ones(len(self.weights)))
        return augmented_chebyshev(scaled, self.last_weights)

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        return super()._propose(replace(data, y=self.scalarize(data.trial_ids)))
