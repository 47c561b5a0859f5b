"""Grid search: every point of the Cartesian product of the hyperparameters' grids, each once.

Finite domains contribute all their values; continuous ones need ``num_points`` (evenly spaced in the
domain's encoded space, i.e. log-spaced for log domains and at quantiles for normal ones). The order is the
product order with the last hyperparameter varying fastest (as HyperDrive's GridParameterSampling and
``itertools.product`` enumerate), or a seeded random permutation of it (``shuffle=True``). Once every point
has been proposed the searcher returns ``None``, which the scheduler reports as done.

Grid points equal to a ``points_to_evaluate`` entry are skipped (they were evaluated first). With
``restrict_to``, only the allowed configurations that are grid points are enumerated, in the same order.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.scheduler import Searcher
from baselines.searcher_common import config_key
from blackbox_repo.search_space import SearchSpace

# A shuffled grid is a permutation of all indices held in memory.
MAX_SHUFFLED_GRID = 10_000_000


@forwards_base_arguments
class GridSearcher(Searcher):
    """Exhaustive enumeration of the grid (see the module docstring)."""

    def __init__(
        self,
        config_space: SearchSpace,
        *args: Any,
        num_points: int | None = None,
        shuffle: bool = False,
        restrict_to: Sequence[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(config_space, *args, **kwargs)
        continuous = [n for n, d in config_space.items() if not d.is_finite]
        if continuous and num_points is None:
            raise ValueError(
                f"grid search over continuous hyperparameters {continuous} needs a number of points per "
                "hyperparameter: pass num_points (e.g. num_points=5), or give them finite domains (choice)"
            )
        if num_points is not None and num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.num_points = num_points
        self.shuffle = shuffle
        self._names = config_space.names
        self.axes: list[list[Any]] = [config_space[n].grid(num_points) for n in self._names]
        self.size = math.prod(len(a) for a in self.axes)
        self._skip = {config_key(p, self._names) for p in self._initial}
        if restrict_to is not None:
            if hasattr(restrict_to, "to_dict") and hasattr(restrict_to, "columns"):  # a pandas DataFrame
                restrict_to = restrict_to.to_dict("records")  # type: ignore[union-attr]
            indices = self._grid_indices_of(restrict_to)
            if len(indices) == 0:
                # Otherwise the searcher would be exhausted before its first suggestion and the experiment
                # would end silently without a single trial (e.g. a table of randomly drawn configurations).
                raise ValueError(
                    f"none of the {len(restrict_to)} configurations in restrict_to is a point of the grid "
                    f"({self.size} points with num_points={num_points}), so grid search has nothing to "
                    "propose; grid search needs the allowed configurations to lie on the grid (e.g. a table "
                    "built from a grid), otherwise use random search (RS) over them"
                )
            order = np.unique(indices)  # sorted = grid order; duplicates dropped
            self._order: np.ndarray | None = self.rng.permutation(order) if shuffle else order
            self.size = len(order)
        elif shuffle and self.size <= MAX_SHUFFLED_GRID:
            self._order = self.rng.permutation(self.size)
        else:
            self._order = None
        # A grid too large to hold a permutation of is visited in a random order by drawing indices and
        # skipping those already drawn (a study uses a tiny fraction of such a grid, so rejections are rare).
        self._lazy_shuffle = shuffle and self._order is None and restrict_to is None
        self._drawn: set[int] = set()
        self._next = 0

    def _grid_indices_of(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Flat grid indices of the configurations that are grid points (others are dropped)."""
        lookups = [{v: i for i, v in enumerate(axis)} for axis in self.axes]
        out = []
        for config in configs:
            flat = 0
            try:
                for name, axis, lookup in zip(self._names, self.axes, lookups):
                    value = config[name]
                    value = value.item() if isinstance(value, np.generic) else value
                    flat = flat * len(axis) + lookup[value]
            except (KeyError, TypeError):
                continue
            out.append(flat)
        return np.asarray(out, dtype=np.int64)

    def point(self, flat_index: int) -> dict[str, Any]:
        """The grid point with this index in product order (last hyperparameter fastest)."""
        values = []
        for axis in reversed(self.axes):
            flat_index, i = divmod(flat_index, len(axis))
            values.append(axis[i])
        return dict(zip(self._names, reversed(values)))

    def _next_index(self) -> int:
        if self._lazy_shuffle:
            while True:
                flat = int(self.rng.integers(0, self.size))
                if flat not in self._drawn:
                    self._drawn.add(flat)
                    return flat
        return int(self._order[self._next]) if self._order is not None else self._next

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        while self._next < self.size:
            flat = self._next_index()
            self._next += 1
            config = self.point(flat)
            if config_key(config, self._names) not in self._skip:
                return config
        return None
