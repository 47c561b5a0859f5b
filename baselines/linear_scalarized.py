"""A linear scalarisation wrapper: any single-objective method tunes a weighted sum of several objectives.

The wrapped method is built for one metric, ``scalarized_objective`` (minimised), which the wrapper adds to
every result it forwards: ``sum_i w_i * s_i * m_i`` over the objectives ``m_i`` with ``s_i = +1`` for a
minimised and ``-1`` for a maximised objective. The weights apply to the raw values (they are fixed for the
whole run, so every result the wrapped method compares is on the same scale): choose them for the
objectives' units, e.g. ``weights=[1, 10]`` to trade 0.1 of error for 0.01 s of latency. Default: equal
weights. A NaN objective makes the scalarised value NaN (the wrapped method treats it as a failure to rank
last). Everything else (suggestions, milestones, decisions) is the wrapped method's.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from baselines.multiobjective import ObjectiveVector
from baselines.scheduler import Decision, Scheduler, Suggestion

SCALARIZED_METRIC = "scalarized_objective"


class LinearScalarizedScheduler(Scheduler):
    """Wraps a single-objective scheduler built for ``SCALARIZED_METRIC`` (mode "min")."""

    multi_objective: ClassVar[bool] = True

    def __init__(self, base: Scheduler, metrics: Sequence[str], modes: Sequence[str],
                 weights: Sequence[float] | None = None):
        self.objectives = ObjectiveVector.build(metrics, modes, "LINEAR-SCALARIZED")
        if base.multi_objective:
            raise ValueError(f"LINEAR-SCALARIZED wraps a single-objective method; {type(base).__name__} is "
                             "multi-objective already")
        if base.metric != SCALARIZED_METRIC or base.mode != "min":
            raise ValueError(f"the wrapped method must be built for metric {SCALARIZED_METRIC!r}, mode 'min'; got "
                             f"{base.metric!r}, {base.mode!r}")
        k = len(self.objectives.metrics)
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (k,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers, one per objective "
                             f"{list(self.objectives.metrics)}, with a positive sum; got {weights!r}")
        super().__init__(base.config_space, self.objectives.metrics[0], self.objectives.modes[0], base.seed,
                         base.fidelity_name, base.max_fidelity,
                         None if base.fidelity_values is None else list(base.fidelity_values))
        self.base = base
        self.weights = w
        self._coefficients = w * self.objectives.signs

    def scalarize(self, metrics: Mapping[str, float]) -> float:
        raw = self.objectives.signs * self.objectives(metrics)  # back to raw values
        return float(self._coefficients @ raw)

    def _with_scalarized(self, metrics: Mapping[str, float]) -> dict[str, float]:
        return {**metrics, SCALARIZED_METRIC: self.scalarize(metrics)}

    def suggest(self, trial_id: int) -> Suggestion:
        return self.base.suggest(trial_id)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return self.base.milestones(trial_id)

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        return self.base.on_result(trial_id, fidelity, self._with_scalarized(metrics))

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        self.base.on_trial_complete(trial_id, fidelity, self._with_scalarized(metrics))

    def on_trial_paused(self, trial_id: int) -> None:
        self.base.on_trial_paused(trial_id)

    def on_trial_stopped(self, trial_id: int) -> None:
        self.base.on_trial_stopped(trial_id)

    def on_trial_failed(self, trial_id: int) -> None:
        self.base.on_trial_failed(trial_id)
