"""Random search: independent draws from the configuration space (HyperDrive's RandomParameterSampling)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.scheduler import Searcher


@forwards_base_arguments
class RandomSearcher(Searcher):
    """Uniform draws from each domain's distribution.

    ``restrict_to`` (e.g. a table's configurations) makes it draw rows of that list instead, without
    replacement until the list is used up, then reports exhaustion.
    """

    def __init__(self, *args: Any, restrict_to: Sequence[Mapping[str, Any]] | None = None,
                 allow_duplicates: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._restrict = None if restrict_to is None else list(restrict_to)
        self._order = None if self._restrict is None else self.rng.permutation(len(self._restrict))
        self._next = 0
        self._allow_duplicates = allow_duplicates
        self._seen: set[tuple] = set()

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self._restrict is not None:
            if self._next >= len(self._restrict):
                return None
            config = dict(self._restrict[int(self._order[self._next])])
            self._next += 1
            return config
        for _ in range(1000):
            config = self.config_space.sample(self.rng)
            if self._allow_duplicates:
                return config
            key = tuple(config.values())
            if key not in self._seen:
                self._seen.add(key)
                return config
        return None  # a small finite space whose every point has been proposed
