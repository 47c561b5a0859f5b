"""Benchmarks defined by the user, outside the package: ``DIR/benchmark/NAME.yaml`` in a config folder.

A config folder follows Hydra's group layout (``DIR/benchmark/``, and ``DIR/method/`` for methods). Folders
come from ``--config-dir DIR`` (``arena benchmarks list``, ``arena sweep``; also ``hydra.searchpath`` in a
sweep) and from ``$HPO_ARENA_CONFIG_DIR`` (several folders separated by ``os.pathsep``).

One file defines one benchmark; its name is the file's stem (a ``name`` key, if given, must equal it). The
keys are those of the benchmark's kind (``benchmark_definitions.definitions``), for example::

    # DIR/benchmark/my-table.yaml: a table converted with `arena convert table ... --name my-table`
    blackbox: my-table
    task: default
    metric: error
    mode: min
    max_wallclock_time: 3600       # simulated seconds
    n_workers: 4
    restrict_to_table: true        # methods choose among the table's configurations
    repository: ../repo            # where the table is stored (optional)

    # DIR/benchmark/my-function.yaml
    kind: function
    function: ../problems.py:quadratic   # or my_package.problems:quadratic, or a synthetic name (branin)
    function_kwargs: {dim: 3}
    metric: value
    mode: min
    max_wallclock_time: 100

Relative paths (``repository``, a ``function`` file, a real benchmark's ``script``) are relative to the YAML
file's folder. Every file is validated before use: malformed YAML, unknown or missing keys, values of the
wrong type, a name that shadows a built-in benchmark or is defined in two folders raise
``UserBenchmarkError`` naming the file and the key.
"""
from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from benchmark_definitions.definitions import BENCHMARK_KINDS, Benchmark, benchmark_from_dict

ENV_CONFIG_DIR = "HPO_ARENA_CONFIG_DIR"
GROUP = "benchmark"
# Names usable as Hydra options and results folder names (no '=', ',', spaces or path separators).
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class UserBenchmarkError(ValueError):
    """A user benchmark file that cannot be used, with the file and the problem named."""


@dataclass(frozen=True)
class UserBenchmark:
    benchmark: Benchmark
    path: Path  # the YAML file that defines it


def env_config_dirs() -> list[Path]:
    """The folders of ``$HPO_ARENA_CONFIG_DIR`` (``os.pathsep``-separated; empty entries ignored)."""
    value = os.environ.get(ENV_CONFIG_DIR, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def config_dirs(explicit: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """The explicit folders, then those of the environment variable; each once, each must exist."""
    out: list[Path] = []
    seen: set[Path] = set()
    for origin, folders in (("--config-dir", [Path(p).expanduser() for p in explicit]),
                            (f"${ENV_CONFIG_DIR}", env_config_dirs())):
        for folder in folders:
            if not folder.is_dir():
                raise UserBenchmarkError(f"config folder {folder} (from {origin}) does not exist or is not a folder")
            resolved = folder.resolve()
            if resolved not in seen:
                seen.add(resolved)
                out.append(resolved)
    return out


def load_user_benchmarks(explicit: Sequence[str | os.PathLike[str]] = ()) -> dict[str, UserBenchmark]:
    """Every ``DIR/benchmark/*.yaml`` of the config folders, validated, in folder then name order."""
    from benchmark_definitions.registry import builtin_benchmarks

    builtin = builtin_benchmarks()
    out: dict[str, UserBenchmark] = {}
    for folder in config_dirs(explicit):
        group = folder / GROUP
        if not group.is_dir():
            continue
        for path in sorted(group.iterdir()):
            if path.suffix == ".yml":
                raise UserBenchmarkError(f"{path}: benchmark files end in .yaml (Hydra reads only those); rename it")
            if path.suffix != ".yaml" or path.name.startswith("."):
                continue
            bench = load_benchmark_file(path)
            if bench.name in builtin:
                raise UserBenchmarkError(
                    f"{path}: benchmark {bench.name!r} shadows the built-in benchmark of that name; rename the "
                    "file (the benchmark's name is the file's stem)")
            if bench.name in out:
                raise UserBenchmarkError(f"{path}: benchmark {bench.name!r} is also defined in "
                                         f"{out[bench.name].path}; keep one of them")
            out[bench.name] = UserBenchmark(bench, path)
    return out


def user_benchmarks(explicit: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Benchmark]:
    return {name: user.benchmark for name, user in load_user_benchmarks(explicit).items()}


# ---------------------------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------------------------


def load_benchmark_file(path: str | os.PathLike[str]) -> Benchmark:
    """The benchmark a YAML file defines (validated; relative paths made absolute; name = the file's stem)."""
    import yaml

    path = Path(path)
    name = path.stem
    if not _NAME_RE.match(name):
        raise UserBenchmarkError(f"{path}: {name!r} is not a usable benchmark name (letters, digits and . _ + - "
                                 "only, starting with a letter or digit); rename the file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserBenchmarkError(f"{path}: cannot read the file: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserBenchmarkError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        raise UserBenchmarkError(f"{path}: the file is empty; a benchmark definition is a mapping of keys "
                                 "(see `benchmark_definitions.user` for examples)")
    if not isinstance(data, dict):
        raise UserBenchmarkError(f"{path}: expected a mapping of keys, got a {type(data).__name__}")
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise UserBenchmarkError(f"{path}: keys must be strings, got {bad_keys!r}")
    kind = data.get("kind", "simulated")
    if kind not in BENCHMARK_KINDS:
        raise UserBenchmarkError(f"{path}: key 'kind' must be one of {sorted(BENCHMARK_KINDS)}, got {kind!r}")
    cls = BENCHMARK_KINDS[kind]
    spec = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in spec:
            close = difflib.get_close_matches(key, list(spec), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserBenchmarkError(f"{path}: unknown key {key!r} for a {kind} benchmark{hint} "
                                     f"(valid keys: {', '.join(sorted(spec))})")
    if data.get("name", name) != name:
        raise UserBenchmarkError(f"{path}: key 'name' is {data['name']!r}, but a benchmark's name is its file's "
                                 f"stem {name!r}; remove the key or rename the file")
    data = {**data, "name": name, "kind": kind}
    data.setdefault("family", "user")
    missing = [f.name for f in spec.values()
               if f.name not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise UserBenchmarkError(f"{path}: missing required key(s) {missing} for a {kind} benchmark")
    for key, value in data.items():
        problem = _type_problem(str(spec[key].type), value)
        if problem:
            raise UserBenchmarkError(f"{path}: key {key!r} {problem}, got {value!r}")
    _check_values(path, data)
    _absolute_paths(path.parent, data)
    try:
        return benchmark_from_dict(data)
    except (TypeError, ValueError) as err:
        raise UserBenchmarkError(f"{path}: {err}") from None


def _type_problem(annotation: str, value: Any) -> str | None:
    """What is wrong with ``value`` for a field annotated ``annotation`` (None if nothing)."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None:
        return None if optional else "must be set (it is null)"
    if base == "str":
        return None if isinstance(value, str) else "must be a string"
    if base == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if base == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if base == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok and isinstance(value, str) and _parses_as_float(value):
            # YAML 1.1 (PyYAML, Hydra) reads 1e3 as text: exponents need a dot and a sign, 1.0e+3.
            return f"must be a number; YAML reads {value!r} as text, write it as 1.0e+3 or in full"
        return None if ok else "must be a finite number"
    if base.startswith("dict"):
        return None if isinstance(value, dict) else "must be a mapping"
    if base.startswith("list"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    return None


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_values(path: Path, data: dict[str, Any]) -> None:
    if data["mode"] not in ("min", "max"):
        raise UserBenchmarkError(f"{path}: key 'mode' must be 'min' or 'max', got {data['mode']!r}")
    for key in ("max_wallclock_time", "trial_timeout", "max_fidelity"):
        if data.get(key) is not None and not data[key] > 0:
            raise UserBenchmarkError(f"{path}: key {key!r} must be positive, got {data[key]!r}")
    for key in ("n_workers", "max_evaluations"):
        if data.get(key) is not None and data[key] < 1:
            raise UserBenchmarkError(f"{path}: key {key!r} must be at least 1, got {data[key]!r}")
    if data["kind"] == "real":
        from blackbox_repo.search_space import SearchSpace

        try:
            SearchSpace.from_dict(data["config_space"])
        except (TypeError, ValueError) as err:
            raise UserBenchmarkError(f"{path}: key 'config_space' is not a search space: {err}") from None
    if data["kind"] == "function":
        from blackbox_repo.synthetic_functions import SYNTHETIC_FUNCTIONS

        ref = data["function"]
        if ":" not in ref and ref not in SYNTHETIC_FUNCTIONS:
            close = difflib.get_close_matches(ref, list(SYNTHETIC_FUNCTIONS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserBenchmarkError(
                f"{path}: key 'function' is {ref!r}, neither a synthetic function ({hint}names: "
                f"{', '.join(sorted(SYNTHETIC_FUNCTIONS))}) nor a reference module.path:attribute or "
                "path/to/file.py:attribute")


def _absolute_paths(folder: Path, data: dict[str, Any]) -> None:
    """Relative paths are relative to the YAML file's folder: store them absolute."""
    from blackbox_repo.function import is_file_reference

    def absolute(p: str) -> str:
        expanded = Path(p).expanduser()
        return str(expanded if expanded.is_absolute() else (folder / expanded).resolve())

    if data["kind"] == "simulated" and data.get("repository") and "://" not in data["repository"]:
        data["repository"] = absolute(data["repository"])
    if data["kind"] == "real":
        data["script"] = absolute(data["script"])
    if data["kind"] == "function" and is_file_reference(data["function"]):
        module, _, attribute = data["function"].rpartition(":")
        data["function"] = f"{absolute(module)}:{attribute}"
