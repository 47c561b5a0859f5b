"""Shared machinery of the schedulers that take configurations from a searcher and decide how long they run.

- ``TrialStatus``: where a trial is in its life (running, paused, completed, stopped, failed).
- ``SearcherScheduler``: a ``Scheduler`` that starts new trials with a searcher's configurations, feeds the
  searcher every result it sees, keeps each trial's status and enforces ``max_trials``.
- ``rung_levels``: the geometric rung levels ``grace_period * reduction_factor**k`` below the maximum
  fidelity, snapped to the fidelities the blackbox actually reports.
- ``fidelity_matches``: tolerant equality of fidelities (they travel as floats).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.random_search import RandomSearcher
from baselines.scheduler import Scheduler, Searcher, Suggestion
from blackbox_repo.search_space import SearchSpace

_FIDELITY_TOL = 1e-9


class TrialStatus(str, Enum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"


def fidelity_matches(a: float, b: float) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= _FIDELITY_TOL * max(1.0, abs(a), abs(b))


def _plain(value: float) -> int | float:
    """An integral float becomes an int (epochs stay ``3``, not ``3.0``); numpy scalars become Python ones."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def snap_to_fidelities(level: float, fidelity_values: Sequence[float] | np.ndarray | None) -> int | float:
    """The smallest reported fidelity >= ``level`` (the level itself when fidelities are not listed)."""
    if fidelity_values is None:
        return _plain(level)
    values = np.asarray(fidelity_values, dtype=float)
    idx = int(np.searchsorted(values, float(level) - _FIDELITY_TOL * max(1.0, abs(level)), side="left"))
    if idx >= len(values):
        return _plain(float(values[-1]))
    return _plain(np.asarray(fidelity_values)[idx])


def rung_levels(
    grace_period: float,
    reduction_factor: float,
    max_fidelity: float,
    fidelity_values: Sequence[float] | np.ndarray | None = None,
) -> list[int | float]:
    """Rung levels ``grace_period * reduction_factor**k`` strictly below ``max_fidelity``.

    Each level is snapped up to the nearest fidelity the blackbox reports (e.g. epochs); levels that
    snap onto an earlier level or onto ``max_fidelity`` are dropped. ``max_fidelity`` itself is not a rung:
    a trial reaching it is complete.
    """
    check_reduction_factor(reduction_factor)
    if not grace_period > 0:
        raise ValueError(f"grace_period must be > 0, got {grace_period}")
    if grace_period > max_fidelity:
        raise ValueError(
            f"grace_period={grace_period} exceeds max_fidelity={max_fidelity}; choose a grace period at most "
            "the maximum fidelity"
        )
    levels: list[int | float] = []
    k = 0
    while True:
        raw = grace_period * reduction_factor**k
        if raw > max_fidelity or fidelity_matches(raw, max_fidelity):
            break
        level = snap_to_fidelities(raw, fidelity_values)
        if fidelity_matches(level, max_fidelity) or float(level) > max_fidelity:
            break
        if not levels or not fidelity_matches(level, levels[-1]):
            levels.append(level)
        k += 1
    return levels


def check_reduction_factor(reduction_factor: float) -> None:
    if not (isinstance(reduction_factor, (int, float)) and reduction_factor > 1):
        raise ValueError(f"reduction_factor must be a number > 1, got {reduction_factor!r}")


def check_positive_int(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class TrialStatusTable(dict):
    """``trial id -> TrialStatus`` that keeps the running trials as a set, so asking "which trials run" costs
    O(running trials) instead of a scan of every trial ever started (which made long runs quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self.running: dict[int, int] = {}  # running trial -> its position in the table (insertion order)
        self._positions: dict[int, int] = {}

    def __setitem__(self, trial_id: int, status: TrialStatus) -> None:
        super().__setitem__(trial_id, status)
        position = self._positions.setdefault(trial_id, len(self._positions))
        if status == TrialStatus.RUNNING:
            self.running[trial_id] = position
        else:
            self.running.pop(trial_id, None)

    def __delitem__(self, trial_id: int) -> None:
        super().__delitem__(trial_id)
        self.running.pop(trial_id, None)
        self._positions.pop(trial_id, None)

    def pop(self, trial_id: int, *default: TrialStatus) -> TrialStatus:  # type: ignore[override]
        if trial_id in self:
            status = self[trial_id]
            del self[trial_id]
            return status
        return super().pop(trial_id, *default)

    def setdefault(self, trial_id: int, default: TrialStatus) -> TrialStatus:  # type: ignore[override]
        if trial_id not in self:
            self[trial_id] = default
        return self[trial_id]

    def update(self, *args, **kwargs) -> None:  # type: ignore[override]
        for trial_id, status in dict(*args, **kwargs).items():
            self[trial_id] = status

    def clear(self) -> None:
        super().clear()
        self.running.clear()
        self._positions.clear()

    def __reduce__(self):  # pickle/copy rebuild through __setitem__, after the bookkeeping attributes exist
        return _status_table_from_items, (list(self.items()),)

    def running_trials(self) -> list[int]:
        """Running trials in table order (the order a scan of ``items()`` would give)."""
        return sorted(self.running, key=self.running.__getitem__)


def _status_table_from_items(items: list[tuple[int, TrialStatus]]) -> TrialStatusTable:
    table = TrialStatusTable()
    for trial_id, status in items:
        table[trial_id] = status
    return table


@forwards_base_arguments
class SearcherScheduler(Scheduler):
    """A scheduler whose new trials come from a searcher (random search by default).

    Subclasses call ``start_new_trial`` / ``resume_trial`` from ``suggest``, ``observe`` for every result they
    look at, and get trial statuses kept up to date by the ``on_trial_*`` hooks (which they may extend).
    ``max_trials`` bounds the number of *new* trials; ``None`` leaves it to the tuner's budget.
    """

    requires_max_fidelity: bool = True

    def __init__(self, config_space: SearchSpace, metric: str, searcher: Searcher | None = None, *args: Any,
                 max_trials: int | None = None, **kwargs: Any):
        super().__init__(config_space, metric, *args, **kwargs)
        if self.requires_max_fidelity and self.max_fidelity is None:
            raise ValueError(
                f"{type(self).__name__} is a multi-fidelity method: give max_fidelity (or fidelity_values)"
            )
        check_positive_int("max_trials", max_trials, allow_none=True)
        if searcher is None:
            searcher = RandomSearcher(config_space, metric, self.mode, self.seed, max_fidelity=self.max_fidelity)
        if searcher.mode != self.mode or searcher.metric != self.metric:
            raise ValueError(
                f"the searcher optimises {searcher.metric!r} ({searcher.mode}) but the scheduler "
                f"{self.metric!r} ({self.mode}); build both with the same metric and mode"
            )
        self.searcher = searcher
        self.max_trials = max_trials
        self.configs: dict[int, dict[str, Any]] = {}
        self.status: TrialStatusTable = TrialStatusTable()
        self._searcher_exhausted = False
        self._last_observed: dict[int, float] = {}

    # ----------------------------------------------------------------------------------------------------
    @property
    def num_started(self) -> int:
        return len(self.configs)

    @property
    def can_start_new(self) -> bool:
        """Whether a new trial may still be started (``max_trials`` not reached, searcher not exhausted)."""
        if self._searcher_exhausted:
            return False
        return self.max_trials is None or self.num_started < self.max_trials

    def running_trials(self) -> list[int]:
        return self.status.running_trials()

    def start_new_trial(self, trial_id: int) -> Suggestion | None:
        """A ``start`` suggestion with the searcher's next configuration, or ``None`` if none can start."""
        if not self.can_start_new:
            return None
        if trial_id in self.configs:
            raise ValueError(f"trial id {trial_id} was already used; the tuner must pass a new id")
        config = self.searcher.suggest(trial_id)
        if config is None:
            self._searcher_exhausted = True
            return None
        self.configs[trial_id] = config
        self.status[trial_id] = TrialStatus.RUNNING
        return Suggestion.start(config)

    def resume_trial(self, trial_id: int) -> Suggestion:
        if self.status.get(trial_id) != TrialStatus.PAUSED:
            raise RuntimeError(f"trial {trial_id} cannot resume: it is {self.status.get(trial_id)}")
        self.status[trial_id] = TrialStatus.RUNNING
        return Suggestion.resume(trial_id)

    def idle(self) -> Suggestion:
        """Nothing to hand out now: wait while a running trial may still create work, else done."""
        return Suggestion.wait() if self.running_trials() else Suggestion.done()

    def observe(self, trial_id: int, fidelity: float, value: float) -> None:
        """Feed one result to the searcher (once per trial and fidelity)."""
        last = self._last_observed.get(trial_id)
        if last is not None and fidelity_matches(last, fidelity):
            return
        self._last_observed[trial_id] = float(fidelity)
        self.searcher.observe(trial_id, self.configs[trial_id], fidelity, value)

    def minimised(self, metrics: Mapping[str, float]) -> float:
        """The metric turned into a value to minimise; NaN (a diverged run) counts as the worst value."""
        value = self._sign * self.metric_value(metrics)
        return math.inf if math.isnan(value) else value

    # ----------------------------------------------------------------------------------------------------
    def _end(self, trial_id: int, status: TrialStatus) -> None:
        if trial_id not in self.status:
            raise KeyError(f"unknown trial {trial_id}: it was never started by this scheduler")
        self.status[trial_id] = status
        self.searcher.on_trial_end(trial_id)

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        if self.metric in metrics:  # a backend may report completion without a final result row
            self.observe(trial_id, fidelity, self.metric_value(metrics))
        self._end(trial_id, TrialStatus.COMPLETED)

    def on_trial_paused(self, trial_id: int) -> None:
        # The scheduler marks the trial PAUSED when it answers PAUSE; this confirms it. A paused trial no
        # longer occupies a worker, so the searcher stops treating it as pending.
        self.status[trial_id] = TrialStatus.PAUSED
        self.searcher.on_trial_end(trial_id)

    def on_trial_stopped(self, trial_id: int) -> None:
        self._end(trial_id, TrialStatus.STOPPED)

    def on_trial_failed(self, trial_id: int) -> None:
        self._end(trial_id, TrialStatus.FAILED)
