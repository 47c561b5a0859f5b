"""Run a method written as plain ask/tell inside the tuner (simulator or local backend).

Many optimisers (Optuna's samplers, the official DEHB, most research code) are written as an object with
``ask`` and ``tell`` rather than as a scheduler. ``AskTellScheduler`` wraps such an object. Two protocols,
told apart by the arity of ``tell``:

Single fidelity::

    ask() -> dict | None                     # a configuration to train to the maximum fidelity
    tell(config: dict, loss: float) -> None  # its result

Multi-fidelity::

    ask() -> (dict, float) | None                          # a configuration and the fidelity to train it to
    tell(config: dict, fidelity: float, loss: float) -> None

Rules the adapter applies (and the conformance check verifies):

- ``loss`` is always to be minimised: the metric when the benchmark's mode is ``min``, its negation when it
  is ``max``. The object never needs to know the direction.
- Pending evaluations: with ``n_workers > 1`` the adapter calls ``ask`` once per free worker before any
  ``tell`` arrives; the object must answer each call with a new evaluation (or ``None``). ``None`` means
  "nothing to propose now": the worker waits for the next result while other evaluations run, and the
  method is finished when ``ask`` returns ``None`` with nothing running.
- Multi-fidelity: a configuration asked again at a higher fidelity than it was last trained to continues
  that trial from its checkpoint (the trial was paused after its last ``tell``), so it pays only for the
  extra steps, as Hyperband-style methods expect. Asking for a fidelity the configuration already reached
  is answered from the recorded result without training. A fidelity between the tabulated values is
  trained to the next tabulated value at or above it.
- A failed trial (crash, timeout) is told ``loss = inf`` so the object can discard it.
- ``max_trials`` caps the number of configurations started (None: until the budget ends).
- ``restrict_to`` (a benchmark whose methods choose among a table's configurations) for an object that
  does not take it itself: each asked configuration is replaced by the nearest allowed configuration not
  run yet (Euclidean distance in the space's [0, 1] encoding), which is trained; the object is told its
  own configuration with that result. The object thus optimises ``f(nearest(x))``, a piecewise-constant
  function on its own space, and never needs to know about the table.

The object is built by the registry with the arguments its constructor names among ``config_space``,
``metric``, ``mode``, ``seed``, ``fidelity_name``, ``max_fidelity``, ``fidelity_values`` and
``restrict_to``, plus the user's keyword arguments; it must draw every random choice from ``seed``.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.scheduler import Decision, Scheduler, Suggestion
from blackbox_repo.search_space import SearchSpace


@runtime_checkable
class AskTell(Protocol):
    """Anything with ``ask`` and ``tell`` (see the module docstring for the two protocols)."""

    def ask(self) -> Any: ...

    def tell(self, *args: Any) -> None: ...


def is_ask_tell(obj: Any) -> bool:
    """True for an ask/tell class or instance (and not a Scheduler / Searcher)."""
    return callable(getattr(obj, "ask", None)) and callable(getattr(obj, "tell", None))


def is_multi_fidelity(obj: Any) -> bool:
    """Multi-fidelity when ``tell`` takes three arguments (config, fidelity, loss), single when it takes two."""
    try:
        params = [p for p in inspect.signature(obj.tell).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
    except (TypeError, ValueError):
        return False
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if len(required) == 3:
        return True
    if len(required) == 2:
        return False
    raise TypeError(
        f"{type(obj).__name__}.tell must take (config, loss) for a single-fidelity method or "
        f"(config, fidelity, loss) for a multi-fidelity one; it takes {[p.name for p in params]}"
    )


def _config_key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


class NearestAllowed:
    """Maps any configuration to the nearest allowed one not used yet (each allowed one is used once)."""

    def __init__(self, allowed: Sequence[Mapping[str, Any]], config_space: SearchSpace):
        self.allowed = [dict(c) for c in allowed]
        if not self.allowed:
            raise ValueError("restrict_to is empty: give at least one allowed configuration")
        self.config_space = config_space
        self.encoded = np.stack([np.asarray(config_space.encode(c), dtype=float) for c in self.allowed])
        self.unused = np.ones(len(self.allowed), dtype=bool)

    @property
    def exhausted(self) -> bool:
        return not self.unused.any()

    def take(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The nearest unused allowed configuration (ties: the first in the list); marks it used."""
        if self.exhausted:
            raise LookupError("every allowed configuration was used")
        point = np.asarray(self.config_space.encode(config), dtype=float)
        distance = ((self.encoded - point) ** 2).sum(axis=1)
        distance[~self.unused] = np.inf
        index = int(np.argmin(distance))
        self.unused[index] = False
        return dict(self.allowed[index])


@forwards_base_arguments
class AskTellScheduler(Scheduler):
    """A scheduler that drives an ask/tell object (see the module docstring)."""

    def __init__(self, optimizer: Any, config_space: SearchSpace, metric: str, *args: Any,
                 max_trials: int | None = None, restrict_to: Sequence[Mapping[str, Any]] | None = None,
                 **kwargs: Any):
        super().__init__(config_space, metric, *args, **kwargs)
        if not is_ask_tell(optimizer):
            raise TypeError(f"{type(optimizer).__name__} has no ask()/tell() methods")
        self.optimizer = optimizer
        self.multi_fidelity = is_multi_fidelity(optimizer)
        self.max_trials = max_trials
        self._configs: dict[int, dict[str, Any]] = {}
        self._target: dict[int, float] = {}  # trial -> fidelity asked for (multi-fidelity)
        self._reached: dict[int, tuple[float, float]] = {}  # trial -> (fidelity, loss) of its last result
        self._by_config: dict[tuple, int] = {}  # configuration -> its trial (multi-fidelity)
        self._running: set[int] = set()
        self._resumable: set[int] = set()  # paused trials
        self._started = 0
        self._finished = False
        self._allowed = None if restrict_to is None else NearestAllowed(restrict_to, config_space)

    # -- asking ------------------------------------------------------------------------------------------

    def _snap(self, fidelity: float) -> float:
        """The tabulated fidelity at or above ``fidelity`` (clipped to the maximum)."""
        fidelity = float(fidelity)
        if self.max_fidelity is not None and fidelity > self.max_fidelity + 1e-9:
            raise ValueError(f"{type(self.optimizer).__name__}.ask asked for fidelity {fidelity}, above the "
                             f"maximum {self.max_fidelity}")
        if self.fidelity_values is not None and len(self.fidelity_values):
            above = self.fidelity_values[self.fidelity_values >= fidelity - 1e-9]
            return float(above[0]) if len(above) else float(self.fidelity_values[-1])
        return fidelity

    def suggest(self, trial_id: int) -> Suggestion:
        answered_from_record = 0
        while not self._finished:
            if self.max_trials is not None and self._started >= self.max_trials:
                self._finished = True
                break
            answer = self.optimizer.ask()
            if answer is None:
                if self._running:
                    return Suggestion.wait()
                self._finished = True
                break
            if not self.multi_fidelity:
                config = self._as_config(answer)
                return self._start(trial_id, config, self.max_fidelity)
            if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
                raise TypeError(f"{type(self.optimizer).__name__}.ask must return (config, fidelity) or None "
                                f"(its tell takes a fidelity), got {answer!r}")
            config, fidelity = self._as_config(answer[0]), self._snap(answer[1])
            known = self._by_config.get(_config_key(config))
            if known is None:
                return self._start(trial_id, config, fidelity)
            reached = self._reached.get(known)
            if reached is not None and reached[0] >= fidelity - 1e-9:
                # Already trained that far: answer from the record and ask again.
                answered_from_record += 1
                if answered_from_record > 10_000:
                    raise RuntimeError(f"{type(self.optimizer).__name__}.ask keeps asking for evaluations it "
                                       "was already told (10000 in a row); it never proposes anything new")
                self.optimizer.tell(config, reached[0], reached[1])
                continue
            if known in self._resumable:
                self._resumable.discard(known)
                self._running.add(known)
                self._target[known] = fidelity
                return Suggestion.resume(known)
            # The configuration is running (or failed): treat the request as a new trial of it.
            return self._start(trial_id, config, fidelity)
        return Suggestion.done()

    def _as_config(self, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, Mapping):
            raise TypeError(f"{type(self.optimizer).__name__}.ask must return a configuration (a mapping of "
                            f"hyperparameter names to values), got {answer!r}")
        return dict(answer)

    def _start(self, trial_id: int, config: dict[str, Any], fidelity: float | None) -> Suggestion:
        run_config = config
        if self._allowed is not None:
            if self._allowed.exhausted:
                self._finished = True
                return Suggestion.done() if not self._running else Suggestion.wait()
            run_config = self._allowed.take(config)
        self._started += 1
        self._configs[trial_id] = config
        self._running.add(trial_id)
        if fidelity is not None:
            self._target[trial_id] = fidelity
        if self.multi_fidelity:
            self._by_config[_config_key(config)] = trial_id
        return Suggestion.start(run_config)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        if not self.multi_fidelity:
            return ()
        target = self._target[trial_id]
        if self.max_fidelity is not None and target >= self.max_fidelity - 1e-9:
            return ()  # the result at the maximum fidelity arrives through on_trial_complete
        return (target,)

    # -- telling -----------------------------------------------------------------------------------------

    def _loss(self, metrics: Mapping[str, float]) -> float:
        value = self._sign * self.metric_value(metrics)
        return math.inf if math.isnan(value) else value

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        if not self.multi_fidelity or float(fidelity) < self._target[trial_id] - 1e-9:
            return Decision.CONTINUE
        loss = self._loss(metrics)
        self._reached[trial_id] = (float(fidelity), loss)
        self._running.discard(trial_id)
        self._resumable.add(trial_id)
        self.optimizer.tell(self._configs[trial_id], float(fidelity), loss)
        return Decision.PAUSE

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        self._running.discard(trial_id)
        loss = self._loss(metrics)
        if self.multi_fidelity:
            self._reached[trial_id] = (float(fidelity), loss)
            self.optimizer.tell(self._configs[trial_id], float(fidelity), loss)
        else:
            self.optimizer.tell(self._configs[trial_id], loss)

    def on_trial_stopped(self, trial_id: int) -> None:
        self._running.discard(trial_id)

    def on_trial_failed(self, trial_id: int) -> None:
        self._running.discard(trial_id)
        self._resumable.discard(trial_id)
        config = self._configs[trial_id]
        if self.multi_fidelity:
            self.optimizer.tell(config, self._target[trial_id], math.inf)
        else:
            self.optimizer.tell(config, math.inf)
