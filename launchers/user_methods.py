"""Methods from outside the package in ``arena sweep``: class paths and the user's method YAML files.

Two ways, both validated before any job starts:

- ``method=my_package.my_module:MyScheduler`` (several with commas, mixed with built-in names): a Hydra
  ``method`` node is written for each such path, holding the class's constructor arguments with their
  defaults, so ``method.eta=3`` overrides one and a misspelt key is refused with the list of valid ones.
- a YAML file ``DIR/method/NAME.yaml`` in the user's config folder, holding a Hydra ``_target_`` (the class
  path, ``module:Class`` or ``module.Class``) and the method's arguments::

      # DIR/method/MY-TPE.yaml
      _target_: my_methods.MyTPE
      gamma: 0.2

  then ``arena sweep --config-dir DIR method=MY-TPE``. The folder is found through Hydra's ``--config-dir`` /
  ``-cd`` and ``hydra.searchpath=[file://DIR]``, and through the environment variable ``HPO_ARENA_CONFIG_DIR``
  (several folders separated by ``os.pathsep``). Results go under the file's name (``MY-TPE``).

Results of a class path go under ``baselines.external.method_folder_name(path)`` (``:`` becomes ``-``), and
``metadata.json`` records the path as ``method_target``.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

CONFIG_DIR_ENV = "HPO_ARENA_CONFIG_DIR"
# The folder of generated nodes for class paths, handed to every job process (joblib, submitit, ...).
EXTERNAL_CONF_ENV = "HPO_ARENA_EXTERNAL_METHODS_CONF"


def _file_url_path(entry: str) -> Path | None:
    entry = entry.strip().strip("'\"")
    if entry.startswith("file://"):
        return Path(entry[len("file://"):])
    if "://" in entry or entry.startswith("pkg:"):
        return None
    return Path(entry)


def config_dirs(argv: Sequence[str] = ()) -> list[Path]:
    """The user's config folders: ``--config-dir``/``-cd`` and ``hydra.searchpath`` in ``argv``, then the env."""
    out: list[Path] = []
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            out.append(Path(args[i + 1]))
        elif arg.startswith("--config-dir="):
            out.append(Path(arg.split("=", 1)[1]))
        elif arg.startswith(("hydra.searchpath=", "+hydra.searchpath=", "++hydra.searchpath=")):
            value = arg.split("=", 1)[1].strip()
            if value.startswith("[") and value.endswith("]"):
                for entry in value[1:-1].split(","):
                    path = _file_url_path(entry)
                    if path is not None and str(path):
                        out.append(path)
    out += env_config_dirs()
    return [p.expanduser().resolve() for p in out]


def env_config_dirs() -> list[Path]:
    value = os.environ.get(CONFIG_DIR_ENV, "")
    return [Path(p).expanduser().resolve() for p in value.split(os.pathsep) if p.strip()]


def user_method_files(dirs: Iterable[Path]) -> dict[str, Path]:
    """Method name -> YAML file, over ``DIR/method/*.yaml`` (the first folder wins)."""
    out: dict[str, Path] = {}
    for folder in dirs:
        group = Path(folder) / "method"
        if group.is_dir():
            for path in sorted(group.glob("*.yaml")):
                out.setdefault(path.stem, path)
    return out


def load_user_method(path: Path) -> tuple[str, dict[str, Any]]:
    """(class path, arguments) of a method YAML file; errors name the file."""
    import yaml

    try:
        node = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"method file {path} is not valid YAML: {err}") from None
    if not isinstance(node, Mapping):
        raise TypeError(f"method file {path} must hold a mapping (_target_ and the method's arguments)")
    node = dict(node)
    target = node.pop("_target_", None)
    node.pop("name", None)
    if not target:
        raise ValueError(f"method file {path} has no _target_ (the method's class, e.g. "
                         "_target_: my_package.my_module.MyScheduler)")
    return str(target), node


def external_nodes(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Hydra ``method`` nodes for class paths: the path as ``name`` plus the constructor's defaults."""
    from baselines.external import ExternalMethod, is_external_name, plain_defaults

    nodes: dict[str, dict[str, Any]] = {}
    for name in names:
        if is_external_name(name) and name not in nodes:
            method = ExternalMethod.load(name)
            nodes[name] = {"name": name, **plain_defaults(method.arguments())}
    return nodes


def write_external_nodes(nodes: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write the nodes into a content-addressed folder of the cache (``method/<path>.yaml``); return it."""
    import yaml

    from blackbox_repo.repository import default_cache_dir

    digest = hashlib.sha256(json.dumps(nodes, sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = default_cache_dir() / "hydra-conf" / f"external-{digest}"
    if (folder / ".complete").is_file():
        return folder
    tmp = folder.with_name(f".external-{digest}.tmp-{os.getpid()}")
    (tmp / "method").mkdir(parents=True, exist_ok=True)
    for name, node in nodes.items():
        (tmp / "method" / f"{name}.yaml").write_text(yaml.safe_dump(dict(node), sort_keys=False))
    (tmp / ".complete").write_text(digest)
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote the same content first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def search_path_folders() -> list[Path]:
    """Folders the sweep's search-path plugin adds: generated class-path nodes and ``HPO_ARENA_CONFIG_DIR``."""
    out = [Path(p) for p in [os.environ.get(EXTERNAL_CONF_ENV, "")] if p]
    return out + env_config_dirs()


def _method_overrides(argv: Sequence[str]) -> dict[str, str]:
    """``method.KEY=value`` overrides (the last one of a key wins)."""
    out: dict[str, str] = {}
    for arg in argv:
        for prefix in ("method.", "+method.", "++method."):
            if arg.startswith(prefix) and "=" in arg:
                key, value = arg[len(prefix):].split("=", 1)
                out[key] = value
    return out


def prepare(argv: Sequence[str], method_values: Sequence[str], builtin: Sequence[str]) -> list[str]:
    """Check every non-built-in method of the sweep and its ``method.*`` overrides; write the nodes of class
    paths and export their folder (``EXTERNAL_CONF_ENV``). Returns the method values that are neither
    built-in, class paths nor user files (for the caller's "unknown name" message). Raises ``SystemExit``
    naming the problem."""
    from baselines.external import ExternalMethod, is_external_name
    from baselines.registry import method_spec

    builtin_set = set(builtin)
    for value in method_values:
        if value in builtin_set and method_spec(value).missing_requirements():
            spec = method_spec(value)
            raise SystemExit(f"arena sweep: method {value} needs {', '.join(spec.missing_requirements())}: "
                             f"pip install 'hpo-arena[{spec.extra}]'")
    files = user_method_files(config_dirs(argv))
    paths = [v for v in method_values if is_external_name(v)]
    unknown = [v for v in method_values if v not in builtin_set and v not in files and not is_external_name(v)]
    overrides = _method_overrides(argv)
    checked: list[tuple[str, ExternalMethod, dict[str, Any]]] = []
    try:
        for value in paths:
            checked.append((value, ExternalMethod.load(value), {}))
        for value in method_values:
            if value in files and value not in builtin_set:
                target, arguments = load_user_method(files[value])
                checked.append((f"{value} ({files[value]})", ExternalMethod.load(target), arguments))
    except (ImportError, TypeError, ValueError) as err:
        raise SystemExit(f"arena sweep: {err}") from None
    for label, method, arguments in checked:
        valid = method.arguments()
        bad = [k for k in [*arguments, *overrides] if k not in valid]
        if bad and not method.accepts_any_keyword():
            raise SystemExit(f"arena sweep: method {label} does not accept {sorted(set(bad))}; valid keyword "
                             f"arguments: {sorted(valid)}")
        from baselines.external import REQUIRED

        missing = [k for k, v in valid.items() if v is REQUIRED and k not in arguments and k not in overrides]
        if missing:
            raise SystemExit(f"arena sweep: method {label} needs a value for {sorted(missing)}: add "
                             + " ".join(f"method.{k}=..." for k in sorted(missing)))
    if paths:
        os.environ[EXTERNAL_CONF_ENV] = str(write_external_nodes(external_nodes(paths)))
    return unknown


def resolve_method_node(node: Mapping[str, Any], choice: str | None) -> tuple[str, str | None, dict[str, Any]]:
    """(folder/display name, class path or None for a built-in, arguments) of a job's ``method`` node.

    A node from a user YAML holds ``_target_``; its results go under the file's name (the group choice).
    A class path given on the command line has it as ``name``.
    """
    from baselines.external import is_external_name, method_folder_name

    arguments = dict(node)
    target = arguments.pop("_target_", None)
    name = arguments.pop("name", None)
    if target is not None:
        display = choice or name or str(target)
        return method_folder_name(display), str(target), arguments
    if name is None:
        raise ValueError("the method node has neither a name nor a _target_")
    if is_external_name(name):
        return method_folder_name(name), str(name), arguments
    return str(name), None, arguments
