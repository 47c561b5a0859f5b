"""MOASHA (Schmucker et al. 2021): asynchronous successive halving whose rung decisions rank results by
non-dominated sorting instead of by one metric.

Rungs, brackets and milestones are ASHA's stopping variant (``baselines.asynchronous_successive_halving``).
When a trial first reports at a rung, its objective vector joins the ``n`` vectors recorded there (``n``
counting it) and all of them are put in a total order by ``baselines.multiobjective.pareto_order`` (computed by
``pareto_position`` for the new trial only): Pareto rank first, then the within-rank ``tie_break``, then the
earlier trial. The trial continues iff its position is among the first ``ceil(n / reduction_factor)``, else it
is stopped. The first trial at a rung always continues. With one objective this keeps the best ``ceil(n / rf)``
of ``n``, which is ASHA's stopping rule up to its quantile interpolation.

Tie-breaks within a Pareto rank (``tie_break``):

- ``"epsilon_net"`` (default): the front's epsilon-net order (Clarkson 2005; Salinas et al. 2021): the point
  best in the first objective, then repeatedly the point farthest (Euclidean) from those already chosen.
  It is the default because it is the rule of the MOASHA paper and of Syne Tune's MOASHA
  (``NonDominatedPriority(dim=0)``), the reference implementation; the choice was made before, and
  independently of, any benchmark result. Distances are measured on objectives divided by their range over the
  rung's finite vectors (``baselines.multiobjective.objective_scale``). Syne Tune measures them in raw units, so
  there an objective in seconds (a range of hundreds) decides every distance against an error in [0, 1] and the
  order degenerates to "seed, then by the time objective"; the range scaling makes the order independent of the
  objectives' units and equals Syne Tune's whenever the objectives share one range. Also unlike Syne Tune
  (0.16's ``nondominated_sort`` indexes the front with the vector of positions that ``compute_epsilon_net``
  returns as if it were the order, which reorders fronts of three or more points and can even change the seed:
  for the front (1, 1), (0, 3), (3, 0) it yields rows 2, 0, 1 where the epsilon-net is 1, 2, 0), this
  implementation uses the epsilon-net order itself.
- ``"crowding"``: NSGA-II's crowding distance, larger first (a point in a sparse part of a front is kept before
  one in a crowded part): this module's rule before the epsilon-net became the default.

The whole front is needed for its epsilon-net order; ``pareto_position`` orders only the new trial's front and
stops as soon as that trial is chosen, O(m^2 d) for a front of m points (vectorised per step). A decision goes
through ``pareto_position_is_below``, which answers without any sorting when at least ``ceil(n / rf)`` results
dominate the new one (they are all ahead of it) and orders only the rank-0 results when none does: the same
decisions, several times cheaper.

Objectives are compared "to minimise" (maximised ones negated); a NaN objective value ranks last.
The primary objective (the first) is what the searcher observes and seeds the epsilon-net.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.asynchronous_successive_halving import ASHA
from baselines.multiobjective import ObjectiveVector, TieBreak, check_tie_break, pareto_position_is_below
from baselines.scheduler import Decision, Searcher
from blackbox_repo.search_space import SearchSpace


class _Rows:
    """A rung's objective vectors, appended one at a time into an array that doubles when full: stacking the
    rung's list of vectors anew at every decision was most of MOASHA's time."""

    def __init__(self, width: int):
        self._data = np.empty((16, width), dtype=float)
        self._n = 0

    def append(self, row: np.ndarray) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self._n] = row
        self._n += 1

    def array(self) -> np.ndarray:
        """The vectors so far, one row each (a view: valid until the next ``append``)."""
        return self._data[: self._n]


# The first objective stands for the base's metric/mode; rung decisions need the stopping variant.
@forwards_base_arguments(fixed=("metric", "mode", "variant"))
class MOASHA(ASHA):
    """Multi-objective ASHA, stopping variant (see the module docstring).

    ``tie_break``: how results in one Pareto rank at a rung are ordered, ``"epsilon_net"`` (default, the paper's
    and Syne Tune's rule, objectives scaled by their range at the rung) or ``"crowding"`` (NSGA-II crowding
    distance).
    """

    multi_objective: ClassVar[bool] = True

    def __init__(self, config_space: SearchSpace, metrics: Sequence[str], modes: Sequence[str],
                 searcher: Searcher | None = None, seed: int = 0, tie_break: TieBreak = "epsilon_net",
                 **kwargs: Any):
        check_tie_break(tie_break)
        self.tie_break = tie_break
        self.objectives = ObjectiveVector.build(metrics, modes, "MOASHA")
        super().__init__(config_space, self.objectives.metrics[0], searcher, self.objectives.modes[0], seed,
                         variant="stopping", **kwargs)
        # (bracket, rung index) -> (trial ids, objective vectors) in arrival order.
        self._rung_points: dict[tuple[int, int], tuple[list[int], _Rows]] = {}

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        return self._pareto_decision(trial_id, fidelity, self.objectives(metrics))

    def _pareto_decision(self, trial_id: int, fidelity: float, vector: np.ndarray) -> Decision:
        bracket = self.bracket_of[trial_id]
        for k in self._rungs_reached(bracket, fidelity):
            ids, vectors = self._rung_points.setdefault((bracket, k), ([], _Rows(len(vector))))
            if trial_id in ids:
                continue
            ids.append(trial_id)
            vectors.append(vector)
            # Keep the single-objective rung bookkeeping too (rung_results, inspection).
            value = float(vector[0])
            self._rungs[bracket][k].add(trial_id, math.inf if math.isnan(value) else value)
            keep = math.ceil(len(ids) / self.reduction_factor)
            below = pareto_position_is_below(vectors.array(), len(ids) - 1, keep, self.tie_break)
            return Decision.CONTINUE if below else Decision.STOP
        return Decision.CONTINUE

    def rung_points(self, bracket: int = 0) -> dict[float, dict[int, tuple[float, ...]]]:
        """Objective vectors (to minimise) recorded per rung level of a bracket (for inspection and tests)."""
        out: dict[float, dict[int, tuple[float, ...]]] = {}
        for k in range(bracket, len(self.levels)):
            ids, vectors = self._rung_points.get((bracket, k), ([], _Rows(len(self.objectives.metrics))))
            out[self.levels[k]] = {t: tuple(float(x) for x in v) for t, v in zip(ids, vectors.array())}
        return out
