"""Regularised (ageing) evolution, REA (Real et al., AAAI 2019), in its asynchronous form.

The population holds the ``population_size`` most recently evaluated trials. Until it is full, configurations
are random. Afterwards each proposal samples ``sample_size`` members uniformly without replacement, takes the
best as parent and mutates one hyperparameter of it; when a new result arrives, the oldest member dies
(ageing, not the worst: this is the "regularisation").

Mutation (``mutation=``) changes exactly one hyperparameter chosen uniformly among those with more than one
value: ``"resample"`` draws a new value from its domain (a different one for finite domains); ``"local"``
moves to a neighbouring value instead (next ordinal value, Gaussian step of ``local_sigma`` in the encoded
unit interval for numeric domains, another category for categorical ones).

With ``restrict_to`` the child is an unproposed allowed configuration differing from the parent in exactly
one hyperparameter (chosen at random); if none exists, the unproposed allowed configuration closest to the
parent in encoded space. A member's fitness is its result at the largest fidelity it reached, so the searcher
also works under multi-fidelity schedulers.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.searcher_common import LearningSearcher, TrainingSet
from blackbox_repo.search_space import Categorical, Constant, Domain
from blackbox_repo.seeding import make_rng

MUTATIONS = ("resample", "local")
# Mutations tried before giving up on finding an unproposed child (small finite spaces).
_MAX_MUTATION_TRIES = 20


# The population is the random start: ``num_initial_random`` is ``population_size``.
@forwards_base_arguments(fixed=("num_initial_random", "min_points_per_fidelity"))
class REASearcher(LearningSearcher):
    """Regularised evolution (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        population_size: int = 100,
        sample_size: int = 10,
        mutation: str = "resample",
        local_sigma: float = 0.1,
        **kwargs: Any,
    ):
        if population_size < 1 or not 1 <= sample_size <= population_size:
            raise ValueError(
                f"need population_size >= 1 and 1 <= sample_size <= population_size, got "
                f"population_size={population_size}, sample_size={sample_size}"
            )
        if mutation not in MUTATIONS:
            raise ValueError(f"unknown mutation {mutation!r}; valid: {', '.join(MUTATIONS)}")
        if not local_sigma > 0:
            raise ValueError(f"local_sigma must be > 0, got {local_sigma}")
        super().__init__(*args, num_initial_random=population_size, **kwargs)
        self.population_size = population_size
        self.sample_size = sample_size
        self.mutation = mutation
        self.local_sigma = local_sigma
        self.population: deque[int] = deque(maxlen=population_size)
        self._evolve_rng = make_rng(self.seed, "searcher", "rea-evolution")
        self._mutable = [n for n, d in self.config_space.items() if _num_values(d) != 1]

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        known = trial_id in self.history.values
        super().observe(trial_id, config, fidelity, value)
        if not known and trial_id in self.history.values:
            self.population.append(trial_id)  # deque(maxlen) drops the oldest member: ageing

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.pool is not None and not self.pool.available.any():
            return None
        if len(self.population) >= self.population_size and self._mutable:
            config = self._propose(self.history.training_set())
            if config is not None:
                return config
        return self.random_new_config()

    def tournament(self) -> dict[str, Any]:
        """The best of ``sample_size`` members drawn uniformly without replacement."""
        members = list(self.population)
        picks = self._evolve_rng.choice(len(members), size=self.sample_size, replace=False)
        values = [self.history.latest_value(members[i]) for i in picks]
        return self.history.configs[members[int(picks[int(np.argmin(values))])]]

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        parent = self.tournament()
        if self.pool is not None:
            return self._restricted_child(parent)
        for _ in range(_MAX_MUTATION_TRIES):
            child = self.mutate(parent)
            if self.is_new(child):
                return child
        return None

    # ------------------------------------------------------------------------------------------------
    def mutate(self, parent: Mapping[str, Any]) -> dict[str, Any]:
        child = dict(parent)
        name = self._mutable[int(self._evolve_rng.integers(len(self._mutable)))]
        dom = self.config_space[name]
        child[name] = (self._local_move(dom, parent[name]) if self.mutation == "local"
                       else self._resample(dom, parent[name]))
        return child

    def _resample(self, dom: Domain, current: Any) -> Any:
        if dom.is_finite and _num_values(dom) <= 10_000:
            others = [v for v in dom.values() if v != current]
            return others[int(self._evolve_rng.integers(len(others)))]
        for _ in range(100):
            value = dom.sample(self._evolve_rng)
            if value != current:
                return value
        return value

    def _local_move(self, dom: Domain, current: Any) -> Any:
        if isinstance(dom, Categorical):
            return self._resample(dom, current)
        u = dom.encode(current)
        if dom.is_finite:
            n = _num_values(dom)
            step = 1.0 / n
            neighbours = [dom.decode(u + d) for d in (-step, step) if 0.0 <= u + d <= 1.0]
            neighbours = [v for v in neighbours if v != current]
            if neighbours:
                return neighbours[int(self._evolve_rng.integers(len(neighbours)))]
            return self._resample(dom, current)
        for _ in range(10):
            value = dom.decode(float(np.clip(u + self.local_sigma * self._evolve_rng.standard_normal(), 0, 1)))
            if value != current:
                return value
        return self._resample(dom, current)

    def _restricted_child(self, parent: Mapping[str, Any]) -> dict[str, Any] | None:
        assert self.pool is not None
        free = self.pool.available_indices()
        if len(free) == 0:
            return None
        x = self.encoder.encode(parent)
        X = self.pool.X[free]
        # Number of hyperparameters (blocks of columns) in which each free row differs from the parent.
        differs = (np.abs(X - x) > 1e-12).astype(np.int64)
        starts = [b.start for b in self.encoder.blocks]
        changed = (np.add.reduceat(differs, starts, axis=1) > 0).sum(axis=1) if starts else np.zeros(len(free))
        one_step = free[changed == 1]
        if len(one_step):
            return dict(self.pool.configs[int(one_step[int(self._evolve_rng.integers(len(one_step)))])])
        dist = np.sum((X - x) ** 2, axis=1)
        nearest = free[np.flatnonzero(dist <= dist.min() + 1e-12)]
        return dict(self.pool.configs[int(nearest[int(self._evolve_rng.integers(len(nearest)))])])


def _num_values(dom: Domain) -> int:
    """Number of values of a finite domain; 0 for continuous ones (treated as unbounded)."""
    if isinstance(dom, Constant):
        return 1
    return len(dom) if dom.is_finite else 0  # type: ignore[arg-type]
