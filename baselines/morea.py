"""MO-REA: regularised evolution (``baselines.regularized_evolution``) whose tournament compares objective
vectors.

Population, ageing, mutation and ``restrict_to`` are REA's. The parent is the best of ``sample_size``
members drawn uniformly without replacement in the order of ``baselines.multiobjective.pareto_order`` over
their vectors: lowest Pareto rank among the sample, then larger crowding distance within the sample (a
member at the edge of the sampled front, or in a sparse part of it, is preferred), then the earlier draw.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.mo_fifo import MultiObjectiveSearcher
from baselines.multiobjective import pareto_order
from baselines.regularized_evolution import REASearcher


@forwards_base_arguments
class MOREASearcher(REASearcher, MultiObjectiveSearcher):
    """Multi-objective regularised evolution (see the module docstring)."""

    def __init__(self, *args: Any, metrics: Sequence[str] | None = None, modes: Sequence[str] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.objectives = self.objective_vector(metrics, modes)
        self._vectors: dict[int, np.ndarray] = {}

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        raise TypeError("MOREASearcher learns from objective vectors: run it under MultiObjectiveFIFO")

    def observe_objectives(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None,
                           vector: np.ndarray) -> None:
        vector = np.asarray(vector, dtype=float)
        known = trial_id in self.history.values
        self.history.add(trial_id, config, fidelity, float(vector[0]))
        if trial_id in self.history.values:
            self._vectors[trial_id] = vector
            if not known:
                self.population.append(trial_id)  # deque(maxlen) drops the oldest member: ageing

    def tournament(self) -> dict[str, Any]:
        members = list(self.population)
        picks = self._evolve_rng.choice(len(members), size=self.sample_size, replace=False)
        vectors = np.vstack([self._vectors[members[i]] for i in picks])
        winner = members[int(picks[int(pareto_order(vectors)[0])])]
        return self.history.configs[winner]
