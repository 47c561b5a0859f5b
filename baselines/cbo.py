"""Constrained Bayesian optimisation (Gardner et al. 2014, "Bayesian Optimization with Inequality Constraints").

The benchmark declares a constraint ``{"metric": NAME, "threshold": VALUE}``: a result is feasible iff its value
of ``NAME`` is at most ``VALUE`` (``benchmark_definitions.definitions``). CBO runs every trial to the maximum
fidelity (``ConstrainedFIFO``) and learns from the objective and the constraint metric of each result:

1. the objective is modelled by the GP of the GP-EI searcher (``baselines.bayesian_optimization.BOSearcher``:
   same encoding, hyperparameter-refit schedule, bounded data and kriging-believer pending trials);
2. the constraint metric is modelled by a second, independent GP (same kernel family, its own hyperparameters
   and seeded restarts) fitted to the same selection of observations on the same refit schedule, and
   conditioned on the pending trials in the same way (their constraint value believed to be its posterior
   mean);
3. the probability of feasibility is ``PoF(x) = Phi((threshold - mu_c(x)) / sigma_c(x))``;
4. once a feasible result exists, the acquisition is ``EI(x; best feasible) * PoF(x)``, EI taken over the best
   *feasible* value observed (a pending trial's believed value lowers it when its believed constraint value is
   feasible, as in the unconstrained searcher). Before any feasible result exists, EI has no incumbent and the
   acquisition is ``PoF(x)`` alone: the search first looks for the feasible region;
5. the acquisition is maximised as GP-EI maximises EI (random candidates plus local refinement of the best
   few, or the unproposed rows of ``restrict_to``).

A result whose constraint value is missing or not finite counts as infeasible (it never becomes the
incumbent) and is left out of the constraint GP's data; a result with a non-finite objective is ignored
altogether, as in every searcher. Maximised objectives are negated first; the constraint is always
"at most the threshold".
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr

from baselines.arguments import forwards_base_arguments
from baselines.bayesian_optimization import BOSearcher, expected_improvement
from baselines.fifo import FIFOScheduler
from baselines.gaussian_process import GaussianProcess
from baselines.searcher_common import TrainingSet
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import derive_seed


def probability_of_feasibility(mean: np.ndarray, std: np.ndarray, threshold: float) -> np.ndarray:
    """P[c <= threshold] with c ~ N(mean, std^2)."""
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    return ndtr((threshold - np.asarray(mean, dtype=float)) / std)


def constrained_expected_improvement(mean: np.ndarray, std: np.ndarray, best_feasible: float | None,
                                     constraint_mean: np.ndarray, constraint_std: np.ndarray,
                                     threshold: float) -> np.ndarray:
    """Gardner et al.'s acquisition (minimisation): ``EI(best_feasible) * PoF``, or ``PoF`` alone while no
    feasible value is known (``best_feasible=None``)."""
    pof = probability_of_feasibility(constraint_mean, constraint_std, threshold)
    if best_feasible is None:
        return pof
    return expected_improvement(mean, std, best_feasible) * pof


# Run under FIFO: one fidelity, so ``min_points_per_fidelity`` has nothing to choose.
@forwards_base_arguments(fixed=("min_points_per_fidelity",))
class ConstrainedBOSearcher(BOSearcher):
    """GP-EI weighted by a second GP's probability of feasibility (see the module docstring)."""

    def __init__(
        self,
        config_space: SearchSpace,
        metric: str,
        *args: Any,
        constraint_metric: str | None = None,
        constraint_threshold: float | None = None,
        **kwargs: Any,
    ):
        if not constraint_metric or not isinstance(constraint_metric, str):
            raise ValueError("ConstrainedBOSearcher needs constraint_metric (the metric that must stay at most "
                             f"constraint_threshold), got {constraint_metric!r}")
        if constraint_metric == metric:
            raise ValueError(f"the constraint metric {constraint_metric!r} is the optimised metric; constrain "
                             "a different metric")
        try:
            threshold = float(constraint_threshold)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"constraint_threshold must be a number, got {constraint_threshold!r}") from None
        if not math.isfinite(threshold):
            raise ValueError(f"constraint_threshold must be finite, got {constraint_threshold!r}")
        super().__init__(config_space, metric, *args, **kwargs)
        self.constraint_metric = constraint_metric
        self.constraint_threshold = threshold
        # The same prior and fit budget as the objective's GP, with a stream of its own.
        self.constraint_gp = GaussianProcess(self.encoder.dim, seed=derive_seed(self.seed, "cbo-constraint-gp"),
                                             num_restarts=self.gp.num_restarts,
                                             lengthscale_prior_sd=self.gp.lengthscale_prior_sd,
                                             max_evaluations=self.gp.max_evaluations)
        self._constraint_values: dict[int, float] = {}
        self.last_best_feasible: float | None = None  # the incumbent of the last model-based decision

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        raise TypeError("ConstrainedBOSearcher learns from the objective and the constraint metric together: run "
                        "it under ConstrainedFIFO (method CBO), which calls observe_constrained")

    def observe_constrained(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float,
                            constraint_value: float) -> None:
        """A completed result: its objective value (in the metric's own direction) and its constraint value."""
        self.history.add(trial_id, config, fidelity, self._sign * float(value))
        self._constraint_values[trial_id] = float(constraint_value)

    def feasible(self, trial_ids: Sequence[int]) -> np.ndarray:
        """Whether each trial's constraint value is known and at most the threshold."""
        values = np.array([self._constraint_values.get(t, math.nan) for t in trial_ids], dtype=float)
        with np.errstate(invalid="ignore"):
            return values <= self.constraint_threshold

    # ------------------------------------------------------------------------------------------------
    def _fit_constraint(self, data: TrainingSet, full: bool) -> bool:
        """Fit the constraint GP to the objective GP's rows with a finite constraint value (same schedule:
        full refit / warm-started re-optimisation / conditioning only). False if there is no such row."""
        values = np.array([self._constraint_values.get(data.trial_ids[i], math.nan) for i in self._rows])
        keep = np.isfinite(values)
        if not keep.any():
            return False
        X = self.encoder.encode_many([data.configs[i] for i in self._rows[keep]])
        if full or self.constraint_gp.hyperparameters is None:
            self.constraint_gp.fit(X, values[keep], optimize=True)
        elif len(data.y) <= self.full_refit_until:
            self.constraint_gp.fit(X, values[keep], optimize=True, num_restarts=0)
        else:
            self.constraint_gp.fit(X, values[keep], optimize=False)
        return True

    def scorer(self, data: TrainingSet) -> Callable[[np.ndarray], np.ndarray] | None:
        """The acquisition on encoded points for this decision (None: no constraint data to model yet)."""
        full = self.refit_due(len(data.y), data.fidelity)
        self._fit(data)
        if not self._fit_constraint(data, full):
            return None
        model, constraint_model = self.gp, self.constraint_gp
        feasible = self.feasible(data.trial_ids)
        best = float(np.min(data.y[feasible])) if feasible.any() else None
        pending = self.pending_configs(exclude=data.trial_ids)
        if pending:
            X_pending = self.encoder.encode_many(pending)
            believed, _ = model.predict(X_pending)
            believed_constraint, _ = constraint_model.predict(X_pending)
            believed_feasible = believed_constraint <= self.constraint_threshold
            if best is not None and believed_feasible.any():
                best = min(best, float(np.min(believed[believed_feasible])))
            model, constraint_model = model.with_fantasies(X_pending), constraint_model.with_fantasies(X_pending)
        self.last_best_feasible = best
        threshold = self.constraint_threshold

        def score(X: np.ndarray) -> np.ndarray:
            mean, std = model.predict(X)
            constraint_mean, constraint_std = constraint_model.predict(X)
            return constrained_expected_improvement(mean, std, best, constraint_mean, constraint_std, threshold)

        return score

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        if self.encoder.dim == 0:
            return None
        score = self.scorer(data)
        if score is None:
            return None  # random fallback until a constraint value has been observed
        return self.maximise_acquisition(score)  # local ascent of log(score), as for EI


@forwards_base_arguments
class ConstrainedFIFO(FIFOScheduler):
    """FIFO whose completed trials report the objective and the constraint metric to a ``ConstrainedBOSearcher``.
    """

    def __init__(self, config_space: SearchSpace, metric: str, searcher: ConstrainedBOSearcher, *args: Any,
                 **kwargs: Any):
        if not isinstance(searcher, ConstrainedBOSearcher):
            raise TypeError(f"ConstrainedFIFO needs a ConstrainedBOSearcher, got {type(searcher).__name__}")
        super().__init__(config_space, metric, searcher, *args, **kwargs)

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        searcher: ConstrainedBOSearcher = self.searcher  # type: ignore[assignment]
        if metrics and searcher.constraint_metric not in metrics:
            raise KeyError(f"result lacks the constraint metric {searcher.constraint_metric!r}; it has "
                           f"{sorted(metrics)}: constrain a metric the benchmark reports")
        if metrics:
            searcher.observe_constrained(trial_id, self._configs[trial_id], fidelity, self.metric_value(metrics),
                                         float(metrics[searcher.constraint_metric]))
        searcher.on_trial_end(trial_id)
