"""MOASHA (Schmucker et al. 2021): asynchronous successive halving whose rung decisions rank results by
non-dominated sorting instead of by one metric.

Rungs, brackets and milestones are ASHA's stopping variant (``baselines.asynchronous_successive_halving``).
When a trial first reports at a rung, its objective vector joins the ``n`` vectors recorded there (``n``
counting it) and all of them are put in a total order by ``baselines.multiobjective.pareto_order``
(computed by ``pareto_position`` for the new trial only): Pareto
rank first, then, within a rank, larger NSGA-II crowding distance first (the documented tie-break: a point
in a sparse part of a front is kept before one in a crowded part; Syne Tune uses an epsilon-net instead),
then the earlier trial. The trial continues iff its position is among the first ``ceil(n / reduction_factor)``,
else it is stopped. The first trial at a rung always continues. With one objective this keeps the best
``ceil(n / rf)`` of ``n``, which is ASHA's stopping rule up to its quantile interpolation.

Objectives are compared "to minimise" (maximised ones negated); a NaN objective value ranks last.
The primary objective (the first) is what the searcher observes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.asynchronous_successive_halving import ASHA
from baselines.multiobjective import ObjectiveVector, pareto_position
from baselines.scheduler import Decision, Searcher
from blackbox_repo.search_space import SearchSpace


# The first objective stands for the base's metric/mode; rung decisions need the stopping variant.
@forwards_base_arguments(fixed=("metric", "mode", "variant"))
class MOASHA(ASHA):
    """Multi-objective ASHA, stopping variant (see the module docstring)."""

    multi_objective: ClassVar[bool] = True

    def __init__(self, config_space: SearchSpace, metrics: Sequence[str], modes: Sequence[str],
                 searcher: Searcher | None = None, seed: int = 0, **kwargs: Any):
        self.objectives = ObjectiveVector.build(metrics, modes, "MOASHA")
        super().__init__(config_space, self.objectives.metrics[0], searcher, self.objectives.modes[0], seed,
                         variant="stopping", **kwargs)
        # (bracket, rung index) -> (trial ids, objective vectors) in arrival order.
        self._rung_points: dict[tuple[int, int], tuple[list[int], list[np.ndarray]]] = {}

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        return self._pareto_decision(trial_id, fidelity, self.objectives(metrics))

    def _pareto_decision(self, trial_id: int, fidelity: float, vector: np.ndarray) -> Decision:
        bracket = self.bracket_of[trial_id]
        for k in self._rungs_reached(bracket, fidelity):
            ids, vectors = self._rung_points.setdefault((bracket, k), ([], []))
            if trial_id in ids:
                continue
            ids.append(trial_id)
            vectors.append(vector)
            # Keep the single-objective rung bookkeeping too (rung_results, inspection).
            value = float(vector[0])
            self._rungs[bracket][k].add(trial_id, math.inf if math.isnan(value) else value)
            n = len(ids)
            position = pareto_position(np.vstack(vectors), n - 1)
            keep = math.ceil(n / self.reduction_factor)
            return Decision.CONTINUE if position < keep else Decision.STOP
        return Decision.CONTINUE

    def rung_points(self, bracket: int = 0) -> dict[float, dict[int, tuple[float, ...]]]:
        """Objective vectors (to minimise) recorded per rung level of a bracket (for inspection and tests)."""
        out: dict[float, dict[int, tuple[float, ...]]] = {}
        for k in range(bracket, len(self.levels)):
            ids, vectors = self._rung_points.get((bracket, k), ([], []))
            out[self.levels[k]] = {t: tuple(float(x) for x in v) for t, v in zip(ids, vectors)}
        return out
