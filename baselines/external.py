"""Methods from outside the package: ``my_package.my_module:MyClass`` used like a built-in short name.

    make_method("my_package.my_module:MyScheduler", space, "val_error", "min", "epoch", 52, seed=0, eta=3)
    arena sweep -m method=my_package.my_module:MyScheduler method.eta=3 ...

The path is ``module:attribute`` (``module.attribute``, Hydra's ``_target_`` spelling, is accepted too). The
module is imported from ``sys.path``; the current folder is tried as well, so a file ``my_method.py`` next to
where ``arena`` runs is found as ``my_method:MyMethod``. The class may be:

- a ``baselines.scheduler.Scheduler`` subclass: it decides everything (starts, milestones, decisions); if
  its constructor takes a ``searcher``, it gets a ``RandomSearcher`` with the method seed;
- a ``baselines.scheduler.Searcher`` subclass: it proposes configurations, run under FIFO (every trial to
  the maximum fidelity), like RS/BO/TPE; ``max_trials`` caps the trials started;
- an ask/tell class (``ask()`` / ``tell(...)``, see ``baselines.ask_tell``), run by ``AskTellScheduler``;
  ``max_trials`` caps the trials started.

Its constructor receives the benchmark's arguments it names among ``config_space``, ``metric``, ``mode``,
``seed``, ``fidelity_name``, ``max_fidelity``, ``fidelity_values`` and ``restrict_to``; every other parameter
is a method argument, set with ``method.NAME=value`` in a sweep or as a keyword of ``make_method``. Unknown
arguments are refused with the list of valid ones, and parameters without a default must be given.
Results are stored under ``method_folder_name(path)`` (``my_package.my_module-MyScheduler``).
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from baselines.scheduler import Scheduler, Searcher
from blackbox_repo.search_space import SearchSpace

# What the registry hands to a method itself (never user arguments).
BENCHMARK_ARGUMENTS = ("config_space", "metric", "mode", "seed", "fidelity_name", "max_fidelity", "fidelity_values",
                       "restrict_to")
# Arguments of the wrapper (FIFO or AskTellScheduler) around a searcher or an ask/tell object.
WRAPPER_ARGUMENTS = {"max_trials": None}
REQUIRED = inspect.Parameter.empty

_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?$")


def is_external_name(name: str) -> bool:
    """``module:attribute`` (or Hydra's ``module.attribute``) names an external method; built-in short names
    never hold a colon or a dot."""
    return ":" in str(name) or "." in str(name)


def method_folder_name(name: str) -> str:
    """A folder name for results of ``name``: safe on every file system and in S3 keys, and readable."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).replace(":", "-")).strip("-.")
    if not safe:
        raise ValueError(f"method name {name!r} gives an empty folder name")
    return safe


def _import_module(module_name: str, path: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        cwd = os.getcwd()
        if err.name is not None and module_name.startswith(err.name) and cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)  # a module file next to where `arena` runs
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError:
                pass
        if err.name is not None and not module_name.startswith(err.name):
            raise ImportError(f"method {path!r}: importing module {module_name!r} failed: {err}") from err
        raise ImportError(
            f"method {path!r}: no module named {module_name!r} (searched the current folder {cwd} and sys.path); "
            "put the folder that holds it on PYTHONPATH or run from that folder"
        ) from None


def resolve(path: str) -> Any:
    """The object ``path`` names (``module:attr`` or ``module.attr``)."""
    path = str(path).strip()
    if not _PATH.match(path):
        raise ValueError(f"method {path!r} is neither a registered short name nor a path 'module:Class'")
    if ":" in path:
        module_name, _, attribute = path.partition(":")
        module = _import_module(module_name, path)
    else:  # module.attr: the longest importable module prefix
        parts = path.split(".")
        module, attribute = None, ""
        for cut in range(len(parts) - 1, 0, -1):
            try:
                module = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            attribute = ".".join(parts[cut:])
            break
        if module is None:
            module = _import_module(".".join(parts[:-1]), path)
            attribute = parts[-1]
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in vars(module) if not n.startswith("_") and inspect.isclass(vars(module)[n]))
            raise ImportError(f"method {path!r}: module {module.__name__!r} has no attribute {attribute!r}; "
                              f"its classes: {public}")
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class ExternalMethod:
    """A resolved external method: its path, class and kind (``scheduler`` / ``searcher`` / ``ask_tell``)."""

    path: str
    cls: type
    kind: str

    @staticmethod
    def load(path: str) -> ExternalMethod:
        from baselines.ask_tell import is_ask_tell

        obj = resolve(path)
        if not inspect.isclass(obj):
            raise TypeError(f"method {path!r} names a {type(obj).__name__}, not a class")
        if issubclass(obj, Scheduler):
            kind = "scheduler"
        elif issubclass(obj, Searcher):
            kind = "searcher"
        elif is_ask_tell(obj):
            kind = "ask_tell"
        else:
            raise TypeError(f"method {path!r}: class {obj.__name__} is neither a Scheduler nor a Searcher "
                            "subclass, and has no ask()/tell() methods (see baselines.ask_tell)")
        return ExternalMethod(path, obj, kind)

    def _parameters(self) -> list[inspect.Parameter]:
        return list(inspect.signature(self.cls.__init__).parameters.values())[1:]

    def _builds_searcher(self) -> bool:
        """A scheduler whose constructor takes a ``searcher`` gets a seeded random searcher (drawing from the
        allowed configurations on a restricted benchmark)."""
        return any(p.name == "searcher" for p in self._parameters())

    def _declared_arguments(self) -> dict[str, Any] | None:
        """A class may list its arguments itself (``arena_arguments()`` -> {name: default}), e.g. a wrapper
        whose ``**kwargs`` go to another library's class."""
        hook = getattr(self.cls, "arena_arguments", None)
        return None if hook is None else dict(hook())

    def accepts_any_keyword(self) -> bool:
        if self._declared_arguments() is not None:
            return False
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self._parameters())

    def benchmark_arguments(self) -> set[str]:
        names = {p.name for p in self._parameters()}
        if self.accepts_any_keyword() and self.kind == "scheduler":
            names |= set(BENCHMARK_ARGUMENTS) - {"restrict_to"}
        return names & set(BENCHMARK_ARGUMENTS)

    def arguments(self) -> dict[str, Any]:
        """The method's own arguments -> default (``REQUIRED`` when it has none)."""
        declared = self._declared_arguments()
        out: dict[str, Any] = {} if declared is None else declared
        for p in self._parameters() if declared is None else ():
            if p.name in BENCHMARK_ARGUMENTS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if self.kind == "scheduler" and p.name == "searcher":
                continue  # a seeded random searcher (see build)
            out[p.name] = p.default
        if self.kind != "scheduler":
            for name, default in WRAPPER_ARGUMENTS.items():
                out.setdefault(name, default)
        return out

    def check_arguments(self, kwargs: Mapping[str, Any]) -> None:
        valid = self.arguments()
        unknown = [k for k in kwargs if k not in valid]
        if unknown and not self.accepts_any_keyword():
            raise ValueError(f"method {self.path} does not accept {sorted(unknown)}; valid keyword arguments: "
                             f"{sorted(valid)}")
        missing = [k for k, v in valid.items() if v is REQUIRED and k not in kwargs]
        if missing:
            raise ValueError(f"method {self.path} needs a value for {sorted(missing)} (no default); set "
                             + ", ".join(f"method.{k}=..." for k in sorted(missing)))

    def build(self, config_space: SearchSpace, metric: str, mode: str, fidelity_name: str | None,
              max_fidelity: float | None, seed: int, fidelity_values: Sequence[float] | None = None,
              restrict_to: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Scheduler:
        self.check_arguments(kwargs)
        available = {"config_space": config_space, "metric": metric, "mode": mode, "seed": seed,
                     "fidelity_name": fidelity_name, "max_fidelity": max_fidelity,
                     "fidelity_values": None if fidelity_values is None else list(fidelity_values)}
        adapter_restricts = False
        if restrict_to is not None:
            if self.kind == "ask_tell" and "restrict_to" not in self.benchmark_arguments():
                adapter_restricts = True  # AskTellScheduler maps its proposals to the allowed configurations
            elif self.kind == "scheduler" and self._builds_searcher():
                pass  # the random searcher built below draws from the allowed configurations
            elif "restrict_to" not in self.benchmark_arguments():
                raise ValueError(f"method {self.path} cannot be restricted to a list of configurations (its "
                                 "constructor has no restrict_to argument); this benchmark needs it")
            else:
                available["restrict_to"] = restrict_to
        wanted = self.benchmark_arguments()
        given = {k: v for k, v in available.items() if k in wanted}
        own = {k: v for k, v in kwargs.items() if k not in WRAPPER_ARGUMENTS or self.kind == "scheduler"}
        common = {k: available[k] for k in ("config_space", "metric", "mode", "seed", "fidelity_name",
                                            "max_fidelity", "fidelity_values")}
        if self.kind == "scheduler":
            if self._builds_searcher() and "searcher" not in own:
                from baselines.random_search import RandomSearcher

                own["searcher"] = RandomSearcher(config_space, metric, mode=mode, seed=seed,
                                                 max_fidelity=max_fidelity, restrict_to=restrict_to)
            return self.cls(**given, **own)
        max_trials = kwargs.get("max_trials")
        if self.kind == "searcher":
            from baselines.fifo import FIFOScheduler

            searcher = self.cls(**given, **own)
            return FIFOScheduler(searcher=searcher, max_trials=max_trials, **common)
        from baselines.ask_tell import AskTellScheduler

        optimizer = self.cls(**given, **own)
        return AskTellScheduler(optimizer, max_trials=max_trials,
                                restrict_to=restrict_to if adapter_restricts else None, **common)


def plain_defaults(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments whose defaults a YAML node can hold (``???`` marks a required one for Hydra)."""
    out: dict[str, Any] = {}
    for name, default in arguments.items():
        if default is REQUIRED:
            out[name] = "???"
        elif default is None or isinstance(default, (bool, int, float, str)):
            out[name] = default
        elif isinstance(default, (list, tuple)) and all(isinstance(v, (bool, int, float, str)) for v in default):
            out[name] = list(default)
    return out
