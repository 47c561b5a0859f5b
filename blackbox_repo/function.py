"""Blackboxes computed by a Python function instead of looked up in a table.

A ``FunctionProblem`` bundles what the simulator needs to run a method against a function:

* ``function(config, fidelity) -> {objective: value}``: ``config`` is a ``{name: value}`` mapping and
  ``fidelity`` a float (``None`` for a problem without fidelities). With ``vectorized=True`` the function is
  called with ``{name: array}`` columns and an array of fidelities of the same length and returns
  ``{objective: array}`` (or scalars, broadcast); one call then evaluates a whole learning curve, or a whole
  batch of configurations at every fidelity.
* the search space, the names of the objectives, the default metric and its mode;
* optional fidelity values (a trial walks through them in order, like epochs);
* the time model: ``time_objective`` names an objective holding the cumulative (or, with
  ``time_is_cumulative=False``, per-step) time at a fidelity; without one, the blackbox adds an objective
  ``time`` in which every fidelity step (every evaluation, without fidelities) takes ``step_time`` seconds;
* the best (and, where known, worst) possible value of the metric, recorded in results as
  ``metric_best_possible`` / ``metric_worst_possible`` so that normalised regret is exact.

``CallableBlackbox`` is the ``Blackbox`` over a problem: the simulator uses it exactly like a table (one
``evaluate(config, fidelity=None, seed=s)`` call fetches a trial's whole curve). Functions are deterministic:
one seed.

Problems are referenced from benchmark definitions (``FunctionBenchmark.function``) by the name of a shipped
synthetic function (``blackbox_repo.synthetic_functions``) or as ``module.path:attribute`` /
``path/to/file.py:attribute`` (``resolve_object``), where the attribute is a ``FunctionProblem`` or a
callable that returns one when called with the definition's ``function_kwargs``.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import Blackbox, BlackboxLookupError, BlackboxMetadata
from blackbox_repo.search_space import SearchSpace, closest_choices_message

AUTO_TIME = "time"  # the objective added when a problem names no time objective of its own


class FunctionProblemError(ValueError):
    """A function problem that is ill-defined, cannot be found, or whose function returns bad values."""


@dataclass(frozen=True)
class FunctionProblem:
    """A function of (configuration, fidelity) with its search space, objectives and time model."""

    function: Callable[..., Mapping[str, Any]]
    configuration_space: SearchSpace
    objectives: tuple[str, ...]  # what the function returns, in the blackbox's objective order
    name: str = "function"
    metric: str | None = None  # default metric (None: the first objective)
    mode: str = "min"  # direction of the default metric
    objective_modes: dict[str, str] = field(default_factory=dict)
    fidelity_name: str | None = None
    fidelity_values: tuple[float, ...] | None = None  # increasing; a trial walks through them in order
    time_objective: str | None = None  # None: an added objective "time", step_time seconds per step
    time_is_cumulative: bool = True
    step_time: float = 1.0
    vectorized: bool = False
    best_possible: float | None = None  # known optimum of the metric over the space and every fidelity
    worst_possible: float | None = None  # known worst value, where one is known
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if not callable(self.function):
            raise FunctionProblemError(f"{self.name}: function must be callable, got {self.function!r}")
        if not isinstance(self.configuration_space, SearchSpace):
            raise FunctionProblemError(f"{self.name}: configuration_space must be a SearchSpace")
        if not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise FunctionProblemError(f"{self.name}: objectives must be distinct names, got {self.objectives}")
        if self.mode not in ("min", "max"):
            raise FunctionProblemError(f"{self.name}: mode must be 'min' or 'max', got {self.mode!r}")
        if self.metric is not None and self.metric not in self.objectives:
            raise FunctionProblemError(f"{self.name}: " + closest_choices_message("metric", self.metric,
                                                                                  list(self.objectives)))
        if self.time_objective is not None and self.time_objective not in self.objectives:
            raise FunctionProblemError(f"{self.name}: " + closest_choices_message(
                "time objective", self.time_objective, list(self.objectives)))
        if self.time_objective is None and AUTO_TIME in self.objectives:
            raise FunctionProblemError(
                f"{self.name}: an objective is called {AUTO_TIME!r} but time_objective is None; name it as the "
                f"time objective (time_objective={AUTO_TIME!r}) or rename it")
        if (self.fidelity_name is None) != (self.fidelity_values is None):
            raise FunctionProblemError(f"{self.name}: give both fidelity_name and fidelity_values, or neither")
        if self.fidelity_values is not None:
            values = tuple(float(v) for v in self.fidelity_values)
            if not values or any(b <= a for a, b in itertools.pairwise(values)):
                raise FunctionProblemError(f"{self.name}: fidelity_values must be non-empty and strictly "
                                           f"increasing, got {values}")
            object.__setattr__(self, "fidelity_values", values)
        if not self.step_time > 0:
            raise FunctionProblemError(f"{self.name}: step_time must be positive, got {self.step_time}")

    @property
    def default_metric(self) -> str:
        return self.metric or self.objectives[0]

    def __call__(self, config: Mapping[str, Any], fidelity: float | None = None) -> Mapping[str, Any]:
        return self.function(config, fidelity)

    def blackbox(self) -> CallableBlackbox:
        return CallableBlackbox(self)


class CallableBlackbox(Blackbox):
    """The ``Blackbox`` of a ``FunctionProblem`` (shapes as in ``blackbox_repo.blackbox``)."""

    def __init__(self, problem: FunctionProblem):
        self.problem = problem
        names = list(problem.objectives)
        time_objective = problem.time_objective
        self._auto_time = time_objective is None
        if self._auto_time:
            names.append(AUTO_TIME)
            time_objective = AUTO_TIME
        metadata = BlackboxMetadata(
            name=problem.name, default_metric=problem.default_metric, mode=problem.mode,
            objective_modes={**problem.objective_modes, problem.default_metric: problem.mode},
            time_objective=time_objective,
            # the added "time" objective is a cumulative clock
            time_is_cumulative=True if self._auto_time else problem.time_is_cumulative,
            source=problem.source, description=problem.description,
            extra={"best_possible": problem.best_possible, "worst_possible": problem.worst_possible},
        )
        super().__init__(problem.configuration_space, names, metadata, problem.fidelity_name,
                         None if problem.fidelity_values is None else list(problem.fidelity_values), 1, None)
        n_steps = 1 if problem.fidelity_values is None else len(problem.fidelity_values)
        # Cumulative time of the added objective: step k (0-based) ends at (k + 1) * step_time.
        self._step_clock = problem.step_time * np.arange(1, n_steps + 1, dtype=np.float64)

    # --- evaluation --------------------------------------------------------------------------------------

    def evaluate_batch(self, configs: Sequence[Mapping[str, Any]] | pd.DataFrame, fidelity: float | None = None,
                       seed: int | None = 0) -> np.ndarray:
        if isinstance(configs, pd.DataFrame):
            configs = configs.to_dict("records")
        configs = list(configs)
        if seed is not None:
            self.seed_index(seed)
        for config in configs:
            problems = self.configuration_space.violations(config)
            if problems:
                raise BlackboxLookupError(f"configuration {dict(config)} is not in the space of {self.name}: "
                                          + "; ".join(problems))
        if fidelity is not None:
            steps = np.array([self.fidelity_index(fidelity)])
        else:
            steps = np.arange(len(self._step_clock))
        values = self._compute(configs, steps)  # (N, len(steps), O)
        if fidelity is not None or self.fidelity_values is None:
            values = values[:, 0, :]
        if seed is None:
            values = values[:, None]  # the one seed axis
        return values

    def _compute(self, configs: list[Mapping[str, Any]], steps: np.ndarray) -> np.ndarray:
        """(N, len(steps), O) float64 objectives of every configuration at the fidelity steps given."""
        problem = self.problem
        n, f = len(configs), len(steps)
        fidelities = None if self.fidelity_values is None else self.fidelity_values.astype(np.float64)[steps]
        out = np.empty((n, f, len(self.objectives_names)), dtype=np.float64)
        own = list(problem.objectives)
        if n == 0:
            return out
        if problem.vectorized:
            columns = {name: np.repeat(np.asarray([c[name] for c in configs]), f)
                       for name in self.configuration_space.names}
            fid = None if fidelities is None else np.tile(fidelities, n)
            result = problem.function(columns, fid)
            for k, name in enumerate(own):
                out[:, :, k] = self._column(result, name, n * f).reshape(n, f)
        else:
            for i, config in enumerate(configs):
                for j in range(f):
                    result = problem.function(dict(config), None if fidelities is None else float(fidelities[j]))
                    for k, name in enumerate(own):
                        out[i, j, k] = self._column(result, name, 1)[0]
        if self._auto_time:
            out[:, :, -1] = self._step_clock[steps][None, :]
        return out

    def _column(self, result: Any, name: str, size: int) -> np.ndarray:
        if not isinstance(result, Mapping):
            raise FunctionProblemError(
                f"{self.name}: the function returned {type(result).__name__}, expected a mapping "
                f"{{objective: value}} with objectives {list(self.problem.objectives)}")
        if name not in result:
            raise FunctionProblemError(
                f"{self.name}: the function's result lacks objective {name!r} (it returned "
                f"{sorted(map(str, result))}; expected {list(self.problem.objectives)})")
        try:
            values = np.asarray(result[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise FunctionProblemError(
                f"{self.name}: objective {name!r} is not numeric: {result[name]!r}") from None
        if values.size == 1:
            return np.full(size, float(values.reshape(-1)[0]))
        if values.shape != (size,):
            raise FunctionProblemError(
                f"{self.name}: objective {name!r} has shape {values.shape}, expected ({size},) for a batch of "
                f"{size} points (a vectorized function returns one value per point)")
        return values


# ---------------------------------------------------------------------------------------------------------
# References: "name", "module.path:attribute", "path/to/file.py:attribute"
# ---------------------------------------------------------------------------------------------------------


def is_file_reference(reference: str) -> bool:
    """Whether ``reference``'s part before the last ':' is a Python file (``...py:attr``)."""
    module, sep, _ = reference.rpartition(":")
    return bool(sep) and module.endswith(".py")


def _import_file(path: Path) -> Any:
    """Import a Python file once per process under a name derived from its absolute path."""
    path = path.resolve()
    if not path.is_file():
        raise FunctionProblemError(f"Python file {path} not found")
    module_name = f"hpo_arena_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FunctionProblemError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # registered first: dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def resolve_object(reference: str, base_dir: str | Path | None = None) -> Any:
    """The object named by ``module.path:attribute`` or ``path/to/file.py:attribute`` (dots in the attribute
    walk into it). A relative file path is taken relative to ``base_dir`` (default: the current folder)."""
    module_part, sep, attribute = reference.rpartition(":")
    if not sep or not module_part or not attribute:
        raise FunctionProblemError(
            f"{reference!r} is not a reference of the form module.path:attribute or path/to/file.py:attribute")
    if module_part.endswith(".py"):
        path = Path(module_part).expanduser()
        if not path.is_absolute():
            path = Path(base_dir if base_dir is not None else Path.cwd()) / path
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as err:
            raise FunctionProblemError(
                f"cannot import module {module_part!r} of {reference!r}: {err}. Install it, put its folder on "
                "PYTHONPATH, or reference the file directly as path/to/file.py:attribute") from None
    obj = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise FunctionProblemError(
                f"{reference!r}: " + closest_choices_message(f"attribute of {getattr(obj, '__name__', obj)}",
                                                             part, names)) from None
    return obj


def _accepts(obj: Callable[..., Any], kwargs: Mapping[str, Any]) -> bool:
    """Whether ``obj(**kwargs)`` binds (a factory), rather than needing positional arguments (an objective)."""
    try:
        inspect.signature(obj).bind(**kwargs)
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins): let the call decide
        return True
    return True


def load_problem(reference: str, kwargs: Mapping[str, Any] | None = None,
                 base_dir: str | Path | None = None) -> FunctionProblem:
    """The ``FunctionProblem`` a benchmark definition's ``function`` (and ``function_kwargs``) refer to."""
    from blackbox_repo.synthetic_functions import SYNTHETIC_FUNCTIONS

    kwargs = dict(kwargs or {})
    if ":" not in reference:
        if reference not in SYNTHETIC_FUNCTIONS:
            raise FunctionProblemError(
                closest_choices_message("synthetic function", reference, sorted(SYNTHETIC_FUNCTIONS))
                + "; a function of your own is referenced as module.path:attribute or path/to/file.py:attribute")
        obj: Any = SYNTHETIC_FUNCTIONS[reference]
    else:
        obj = resolve_object(reference, base_dir)
    if isinstance(obj, FunctionProblem):
        if kwargs:
            raise FunctionProblemError(
                f"{reference!r} is a FunctionProblem, so function_kwargs {kwargs} cannot apply; reference a "
                "function returning a FunctionProblem to pass arguments")
        return obj
    if not callable(obj):
        raise FunctionProblemError(f"{reference!r} is a {type(obj).__name__}, expected a FunctionProblem or a "
                                   "function returning one")
    if not _accepts(obj, kwargs):
        raise FunctionProblemError(
            f"{reference!r} cannot be called with function_kwargs {kwargs}: if it is the objective function "
            "itself, wrap it "
            "as problem = FunctionProblem(function=f, configuration_space=SearchSpace({...}), objectives=[...]) "
            "and reference the problem (or a function without required arguments returning it)")
    try:
        problem = obj(**kwargs)
    except TypeError as err:
        raise FunctionProblemError(f"calling {reference!r} with function_kwargs {kwargs} failed: {err}") from None
    if not isinstance(problem, FunctionProblem):
        raise FunctionProblemError(f"{reference!r} returned a {type(problem).__name__}, expected a FunctionProblem")
    return problem


__all__ = ["AUTO_TIME", "CallableBlackbox", "FunctionProblem", "FunctionProblemError", "is_file_reference",
           "load_problem", "resolve_object"]
