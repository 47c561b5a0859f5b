"""The scheduler interface: how an HPO method talks to the tuner loop.

A scheduler decides which trials run and for how long. The tuner loop calls:

1. ``suggest(trial_id)`` whenever a worker is free. The answer is a ``Suggestion``: start a new trial with a
   configuration (it gets ``trial_id``), resume a paused trial, wait (nothing to suggest now; ask again after
   the next event), or done (nothing to suggest ever again).
2. ``milestones(trial_id)`` when a trial starts or resumes: the fidelities at which the scheduler wants to see
   its results (``None`` = every fidelity). Results in between are recorded but not shown to the scheduler;
   this is what lets the simulator skip work for methods that only decide at rungs.
3. ``on_result(trial_id, fidelity, metrics)`` at each milestone, answering CONTINUE, PAUSE or STOP.
4. ``on_trial_complete`` when a trial reached its maximum fidelity, ``on_trial_stopped`` after STOP,
   ``on_trial_paused`` after PAUSE, ``on_trial_failed`` when its training crashed or timed out.

``metrics`` always maps every objective name to a float (and holds the fidelity under ``fidelity_name``).
Schedulers compare on ``self.metric`` in direction ``self.mode``; ``self._sign`` turns any metric into one
to minimise (``sign * value``).

NaN (a diverged or broken training run; a real script may report ``loss=float("nan")``) is a valid value
and counts as the worst there is: schedulers that rank results (rungs, stopping rules) treat it as +inf
after the sign, below every finite result; model-based searchers leave non-finite values out of their
training data (as they do +-inf) and never propose that configuration again. A run is therefore decided
exactly as if the NaN were the worst infinity (``tests/test_nan_results.py`` checks every registered method).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import numpy as np

from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import make_rng


class Decision(str, Enum):
    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "start" | "resume" | "wait" | "done"
    config: dict[str, Any] | None = None
    trial_id: int | None = None
    # "start" only: the new trial begins from a copy of this trial's checkpoint (PBT's exploit step).
    checkpoint_from: int | None = None

    @staticmethod
    def start(config: dict[str, Any], checkpoint_from: int | None = None) -> Suggestion:
        return Suggestion("start", config=config, checkpoint_from=checkpoint_from)

    @staticmethod
    def resume(trial_id: int) -> Suggestion:
        return Suggestion("resume", trial_id=trial_id)

    @staticmethod
    def wait() -> Suggestion:
        return Suggestion("wait")

    @staticmethod
    def done() -> Suggestion:
        return Suggestion("done")


def check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode


class MethodComponent:
    """What schedulers and searchers share: the search space, the metric optimised in direction ``mode``
    (``_sign * value`` is to be minimised) and the seed their random streams derive from."""

    def __init__(self, config_space: SearchSpace, metric: str, mode: str = "min", seed: int = 0):
        self.config_space = config_space
        self.metric = metric
        self.mode = check_mode(mode)
        self._sign = 1.0 if mode == "min" else -1.0
        self.seed = seed


class Scheduler(MethodComponent, ABC):
    """Base class of every method. Constructor arguments are plain config (Hydra can build and clone them).

    Subclasses forward the arguments they share with their base (``*args``/``**kwargs``, decorated with
    ``baselines.arguments.forwards_base_arguments``) and name only their own.
    """

    #: True for methods that start trials from another trial's checkpoint with other hyperparameters (PBT).
    #: Only a backend that holds real checkpoints (the local backend) can run them; a simulated table holds
    #: one curve per configuration and nothing to continue from, so such methods are refused there.
    transfers_checkpoints: ClassVar[bool] = False
    #: True for methods that optimise several objectives at once (they take ``metrics`` and ``modes`` lists and
    #: need a benchmark with at least two objectives, ``baselines.multiobjective``). Single-objective methods
    #: run on multi-objective benchmarks too: they optimise the first (primary) objective.
    multi_objective: ClassVar[bool] = False
    #: True for transfer-learning methods: they are built with the evaluations of the benchmark's *other* tasks
    #: (``baselines.transfer.TransferData``, built by the framework from the source tasks only) and need a
    #: leave-one-task-out benchmark (``transfer-*``); refused elsewhere before any job starts.
    uses_transfer_data: ClassVar[bool] = False

    # The arguments are spelt out (not forwarded): methods written outside the package pass them by position.
    def __init__(
        self,
        config_space: SearchSpace,
        metric: str,
        mode: str = "min",
        seed: int = 0,
        fidelity_name: str | None = None,
        max_fidelity: float | None = None,
        fidelity_values: Sequence[float] | None = None,
    ):
        super().__init__(config_space, metric, mode, seed)
        self.rng: np.random.Generator = make_rng(seed, "scheduler")
        self.fidelity_name = fidelity_name
        self.fidelity_values = None if fidelity_values is None else np.asarray(fidelity_values)
        if max_fidelity is None and self.fidelity_values is not None:
            max_fidelity = float(self.fidelity_values[-1])
        self.max_fidelity = max_fidelity

    @abstractmethod
    def suggest(self, trial_id: int) -> Suggestion:
        """What a free worker should do next."""

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        """Fidelities at which ``on_result`` is wanted for this trial (``None``: all of them)."""
        return None

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        return Decision.CONTINUE

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        """The trial reached its maximum fidelity; ``metrics`` are its last results."""

    def on_trial_paused(self, trial_id: int) -> None:
        """The trial was paused after a PAUSE decision (it keeps its checkpoint)."""

    def on_trial_stopped(self, trial_id: int) -> None:
        """The trial was stopped after a STOP decision."""

    def on_trial_failed(self, trial_id: int) -> None:
        """The trial's training crashed or timed out; it will not report again."""

    def metric_value(self, metrics: Mapping[str, float]) -> float:
        try:
            return float(metrics[self.metric])
        except KeyError:
            raise KeyError(
                f"result lacks the metric {self.metric!r} this method optimises; it has {sorted(metrics)}"
            ) from None


class Searcher(MethodComponent, ABC):
    """Proposes configurations; a scheduler (FIFO, ASHA, Hyperband, ...) decides how long they run.

    ``observe`` receives every result the scheduler sees (with its fidelity); ``suggest`` may use pending
    trials (started, not finished) to avoid proposing the same point to several asynchronous workers.
    ``suggest`` returns ``None`` when the searcher is exhausted (e.g. a finished grid).

    Subclasses forward the arguments they share with their base (``*args``/``**kwargs``, decorated with
    ``baselines.arguments.forwards_base_arguments``) and name only their own.
    """

    def __init__(
        self,
        config_space: SearchSpace,
        metric: str,
        mode: str = "min",
        seed: int = 0,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_fidelity: float | None = None,
    ):
        super().__init__(config_space, metric, mode, seed)
        self.rng = make_rng(seed, "searcher")
        self.max_fidelity = max_fidelity
        self._initial = [self._complete(dict(p)) for p in (points_to_evaluate or [])]
        self.pending: dict[int, dict[str, Any]] = {}

    def _complete(self, point: dict[str, Any]) -> dict[str, Any]:
        """Fill hyperparameters missing from an initial point with their domain's middle value."""
        out = {}
        for name, dom in self.config_space.items():
            out[name] = point[name] if name in point else dom.decode(0.5)
        extra = set(point) - set(self.config_space)
        if extra:
            raise ValueError(f"points_to_evaluate entry has unknown hyperparameters {sorted(extra)}")
        self.config_space.check(out)
        return out

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        config = self._initial.pop(0) if self._initial else self._suggest(trial_id)
        if config is not None:
            self.pending[trial_id] = config
        return config

    @abstractmethod
    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        """A new configuration, or ``None`` if exhausted."""

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        """A result of the searcher's metric (raw value; ``self._sign * value`` is to be minimised)."""

    def on_trial_end(self, trial_id: int) -> None:
        """The trial no longer runs (completed, stopped or failed)."""
        self.pending.pop(trial_id, None)
