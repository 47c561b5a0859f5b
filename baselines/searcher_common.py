"""Machinery shared by the searchers that learn from results (BO, TPE, BORE, REA).

- ``ObservationHistory``: every result seen, per trial and fidelity, and the rule that turns results at
  several fidelities into one training set (see ``ObservationHistory.training_set``).
- ``RestrictedPool``: an explicit list of allowed configurations (e.g. a table's rows), proposed without
  replacement.
- ``LearningSearcher``: a ``Searcher`` base class tying these together with the encoder, the record of
  proposed configurations (so a finite space is never proposed twice) and the initial random phase.
"""
from __future__ import annotations

import contextlib
import math
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.blas import single_threaded_blas
from baselines.encoding import ConfigEncoder
from baselines.scheduler import Searcher
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import make_rng

# Fidelity used for results reported without one (a FIFO searcher without fidelities): the final result.
_NO_FIDELITY = math.inf
# Random draws tried before a finite space is declared exhausted.
_MAX_RANDOM_TRIES = 1000


def config_key(config: Mapping[str, Any], names: Sequence[str]) -> tuple:
    """Hashable identity of a configuration (numpy scalars become Python scalars)."""
    return tuple(v.item() if isinstance(v, np.generic) else v for v in (config[n] for n in names))


@dataclass(frozen=True)
class TrainingSet:
    trial_ids: list[int]
    configs: list[dict[str, Any]]
    y: np.ndarray  # values to minimise (already multiplied by the searcher's sign)
    fidelity: float | None  # the fidelity modelled, or None when each trial contributes its largest one


class ObservationHistory:
    """Results per trial and fidelity (values stored as "to minimise")."""

    def __init__(self, min_points_per_fidelity: int = 5):
        if min_points_per_fidelity < 1:
            raise ValueError(f"min_points_per_fidelity must be >= 1, got {min_points_per_fidelity}")
        self.min_points_per_fidelity = min_points_per_fidelity
        self.configs: dict[int, dict[str, Any]] = {}
        self.values: dict[int, dict[float, float]] = {}

    def add(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        """Record a result; non-finite values (failed or diverged evaluations) are ignored."""
        if not math.isfinite(value):
            return
        f = _NO_FIDELITY if fidelity is None else float(fidelity)
        self.configs.setdefault(trial_id, dict(config))
        self.values.setdefault(trial_id, {})[f] = float(value)

    def __len__(self) -> int:
        return len(self.values)

    def latest_value(self, trial_id: int) -> float:
        """The trial's value at the largest fidelity it reported."""
        per_fidelity = self.values[trial_id]
        return per_fidelity[max(per_fidelity)]

    def training_set(self) -> TrainingSet:
        """The data a model should be fitted to.

        Multi-fidelity schedulers report most trials only at low fidelities. The model is fitted to the
        results at the *highest fidelity reached by at least ``min_points_per_fidelity`` trials* (so it
        predicts the quantity that matters once enough data exist there); while no fidelity has that many,
        each trial contributes its result at the largest fidelity it reached. With a single fidelity (FIFO)
        both rules coincide.
        """
        counts: dict[float, int] = {}
        for per_fidelity in self.values.values():
            for f in per_fidelity:
                counts[f] = counts.get(f, 0) + 1
        eligible = [f for f, c in counts.items() if c >= self.min_points_per_fidelity]
        ids: list[int] = []
        ys: list[float] = []
        if eligible:
            level = max(eligible)
            for tid, per_fidelity in self.values.items():
                if level in per_fidelity:
                    ids.append(tid)
                    ys.append(per_fidelity[level])
            fidelity: float | None = None if level == _NO_FIDELITY else level
        else:
            for tid in self.values:
                ids.append(tid)
                ys.append(self.latest_value(tid))
            fidelity = None
        return TrainingSet(ids, [self.configs[t] for t in ids], np.asarray(ys, dtype=float), fidelity)


class RestrictedPool:
    """The configurations a searcher may propose (duplicates dropped), with their encodings."""

    def __init__(self, configs: Sequence[Mapping[str, Any]], space: SearchSpace, encoder: ConfigEncoder):
        if hasattr(configs, "to_dict") and hasattr(configs, "columns"):  # a pandas DataFrame
            configs = configs.to_dict("records")  # type: ignore[union-attr]
        names = space.names
        self.configs: list[dict[str, Any]] = []
        self.index: dict[tuple, int] = {}
        for i, raw in enumerate(configs):
            config = {n: (raw[n].item() if isinstance(raw[n], np.generic) else raw[n]) for n in names
                      if n in raw}
            problems = space.violations(config)
            if problems:
                raise ValueError(f"restrict_to entry {i} is not a member of the search space: "
                                 + "; ".join(problems))
            key = config_key(config, names)
            if key not in self.index:
                self.index[key] = len(self.configs)
                self.configs.append(config)
        if not self.configs:
            raise ValueError("restrict_to is empty: give at least one allowed configuration")
        self.X = encoder.encode_many(self.configs)
        self.available = np.ones(len(self.configs), dtype=bool)

    def __len__(self) -> int:
        return len(self.configs)

    def mark_used(self, key: tuple) -> None:
        i = self.index.get(key)
        if i is not None:
            self.available[i] = False

    def available_indices(self) -> np.ndarray:
        return np.flatnonzero(self.available)


@forwards_base_arguments
class LearningSearcher(Searcher):
    """Base class of searchers fitted to past results.

    Subclasses implement ``_propose(data)`` returning a configuration (or ``None`` to fall back to a random
    new one); this class handles the random initial phase (``num_initial_random`` results before the model
    is used), ``restrict_to``, never proposing a configuration twice (``allow_duplicates=False``; continuous
    spaces make repeats unlikely anyway), and the results' bookkeeping.
    """

    #: Wrap each decision in ``single_threaded_blas`` (see there); searchers without sizeable linear algebra
    #: turn it off, as the limit itself costs about 0.1-0.3 ms per decision.
    limit_blas_threads: ClassVar[bool] = True

    def __init__(
        self,
        *args: Any,
        restrict_to: Sequence[Mapping[str, Any]] | None = None,
        num_initial_random: int = 5,
        min_points_per_fidelity: int = 5,
        allow_duplicates: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if num_initial_random < 0:
            raise ValueError(f"num_initial_random must be >= 0, got {num_initial_random}")
        config_space = self.config_space
        if not config_space.tunable_names and not config_space.names:
            raise ValueError("the search space is empty: nothing to search")
        self.encoder = ConfigEncoder(config_space)
        self.history = ObservationHistory(min_points_per_fidelity)
        self.num_initial_random = num_initial_random
        self.allow_duplicates = allow_duplicates
        self._names = config_space.names
        self.pool = None if restrict_to is None else RestrictedPool(restrict_to, config_space, self.encoder)
        self._proposed: set[tuple] = set()
        # Random fallbacks draw from their own stream so they do not shift the model's stream.
        self._random_rng = make_rng(self.seed, "searcher", "random-fallback")

    # ------------------------------------------------------------------------------------------------
    def key(self, config: Mapping[str, Any]) -> tuple:
        return config_key(config, self._names)

    def is_new(self, config: Mapping[str, Any]) -> bool:
        return self.allow_duplicates or self.key(config) not in self._proposed

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        with single_threaded_blas() if self.limit_blas_threads else contextlib.nullcontext():
            config = super().suggest(trial_id)
        if config is not None:
            key = self.key(config)
            self._proposed.add(key)
            if self.pool is not None:
                self.pool.mark_used(key)
        return config

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        self.history.add(trial_id, config, fidelity, self._sign * float(value))

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.pool is not None and not self.pool.available.any():
            return None
        if len(self.history) >= max(self.num_initial_random, 1):
            data = self.history.training_set()
            if len(data.y) >= 1:
                config = self._propose(data)
                if config is not None and self.is_new(config):
                    return config
        return self.random_new_config()

    @abstractmethod
    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        """The model's choice given the training set (``None``: fall back to a random new configuration)."""

    # ------------------------------------------------------------------------------------------------
    def random_new_config(self) -> dict[str, Any] | None:
        """A random configuration not proposed before (from the pool if restricted); ``None`` if none is left."""
        if self.pool is not None:
            free = self.pool.available_indices()
            if len(free) == 0:
                return None
            return dict(self.pool.configs[int(free[self._random_rng.integers(len(free))])])
        for _ in range(_MAX_RANDOM_TRIES):
            config = self.config_space.sample(self._random_rng)
            if self.is_new(config):
                return config
        return None  # a small finite space whose every point has been proposed

    def pending_configs(self, exclude: Sequence[int] = ()) -> list[dict[str, Any]]:
        """Configurations of running trials, except ``exclude`` (e.g. trials already in the training set)."""
        skip = set(exclude)
        return [c for t, c in self.pending.items() if t not in skip]

    def candidate_pool(self, rng: np.random.Generator, max_candidates: int) -> tuple[np.ndarray, np.ndarray]:
        """Restricted mode: indices of (at most ``max_candidates``, random subset) unproposed allowed rows and
        their encodings."""
        assert self.pool is not None
        free = self.pool.available_indices()
        if len(free) > max_candidates:
            free = np.sort(rng.choice(free, size=max_candidates, replace=False))
        return free, self.pool.X[free]

    def first_new(self, configs_in_order: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        for config in configs_in_order:
            if self.is_new(config):
                return config
        return None
