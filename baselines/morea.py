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

from baselines.mo_fifo import MultiObjectiveSearcher
from baselines.multiobjective import ObjectiveVector, pareto_order
from baselines.regularized_evolution import REASearcher
from blackbox_repo.search_space import SearchSpace


class MOREASearcher(REASearcher, MultiObjectiveSearcher):
    """Multi-objective regularised evolution (see the module docstring)."""

    def __init__(
        self,
        config_space: SearchSpace,
        metric: str,
        mode: str = "min",
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_fidelity: float | None = None,
        restrict_to: Sequence[Mapping[str, Any]] | None = None,
        metrics: Sequence[str] | None = None,
        modes: Sequence[str] | None = None,
        population_size: int = 100,
        sample_size: int = 10,
        mutation: str = "resample",
        local_sigma: float = 0.1,
        allow_duplicates: bool = False,
    ):
        objectives = ObjectiveVector.build(metrics, modes, "MOREASearcher")
        if objectives.metrics[0] != metric or objectives.modes[0] != mode:
            raise ValueError(f"metric/mode ({metric}, {mode}) must be the first of metrics/modes "
                             f"({objectives.metrics[0]}, {objectives.modes[0]})")
        super().__init__(config_space, metric, mode, seed, points_to_evaluate, max_fidelity, restrict_to,
                         population_size, sample_size, mutation, local_sigma, allow_duplicates)
        self.objectives = objectives
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
