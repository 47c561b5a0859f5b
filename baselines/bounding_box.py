"""Bounding-box transfer (Perrone, Shen, Seeger, Archambeau & Jenatton 2019, "Learning search spaces for
Bayesian optimization").

The search space shrinks to the smallest box holding the ``num_top`` best configurations of every source task:
for each ordered hyperparameter the interval between the smallest and largest of their values (on the
domain's own scale: log-scaled domains get a log-scaled box), for each categorical one the values they use.
Random search then samples inside the box. With ``restrict_to`` (a table's configurations) it draws, without
replacement, the listed configurations that lie inside the box, then (once those are used up, which happens
when the tables of the tasks hold different configurations and the box is small) the other listed ones.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.transfer import TransferSearcher
from blackbox_repo.search_space import Categorical, Constant

_TOLERANCE = 1e-9


@forwards_base_arguments
class BoundingBoxSearcher(TransferSearcher):
    method = "BOUNDING-BOX"

    def __init__(self, *args: Any, num_top: int = 1, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.check_count("num_top", num_top)
        self.num_top = num_top
        best = [config for task in self.transfer_data.tasks for config in task.best_configurations(num_top)]
        # name -> (low, high) on the unit-interval encoding, or the set of categorical values
        self.box: dict[str, tuple[float, float] | list[Any]] = {}
        for name, dom in self.config_space.items():
            if isinstance(dom, Constant):
                continue
            if isinstance(dom, Categorical):
                self.box[name] = [v for v in dom.values() if any(c[name] == v for c in best)]
            else:
                encoded = [dom.encode(c[name]) for c in best]
                self.box[name] = (min(encoded), max(encoded))
        self._inside: list[dict[str, Any]] | None = None
        if self.restrict_to is not None:
            listed = self.restrict_to
            flags = [self.contains(c) for c in listed]
            inside = [c for c, f in zip(listed, flags) if f]
            outside = [c for c, f in zip(listed, flags) if not f]
            # Inside the box first (random order), then the rest, so a small box does not end the run early.
            self._inside = ([inside[i] for i in self.rng.permutation(len(inside))]
                            + [outside[i] for i in self.rng.permutation(len(outside))])
            self.num_inside = len(inside)
            self._next = 0

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` lies inside the box."""
        for name, bounds in self.box.items():
            if isinstance(bounds, list):
                if config[name] not in bounds:
                    return False
            else:
                u = self.config_space[name].encode(config[name])
                if not bounds[0] - _TOLERANCE <= u <= bounds[1] + _TOLERANCE:
                    return False
        return True

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self._inside is not None:
            if self._next >= len(self._inside):
                return None
            config = dict(self._inside[self._next])
            self._next += 1
            return config
        config: dict[str, Any] = {}
        for name, dom in self.config_space.items():
            bounds = self.box.get(name)
            if bounds is None:  # a constant
                config[name] = dom.decode(0.5)
            elif isinstance(bounds, list):
                config[name] = bounds[int(self.rng.integers(len(bounds)))]
            else:
                config[name] = dom.decode(float(self.rng.uniform(bounds[0], bounds[1])))
        return config
