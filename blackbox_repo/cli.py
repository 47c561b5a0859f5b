"""``arena blackboxes ...``: list, inspect, query and upload stored blackboxes.

The ``arena`` command (``launchers/cli.py``) calls ``add_commands(subparsers)``; every subcommand sets
``func``, which takes the parsed arguments, prints human-readable output and returns an exit code
(0 = success, 2 = bad input such as an unknown name, reported on stderr with the closest valid choices).

    arena blackboxes list [--root URL]
    arena blackboxes show NAME [--root URL]
    arena blackboxes eval NAME [--task T] [--fidelity F] [--seed S] [--root URL] [--json] key=value ...
    arena blackboxes upload NAME --to s3://bucket/prefix|hf://datasets/org/repo[/dir] [--root URL]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from blackbox_repo.blackbox import BlackboxLookupError
from blackbox_repo.repository import (
    METADATA_FILE,
    RepositoryError,
    embedded_root,
    list_blackboxes,
    load_blackbox,
    read_metadata,
    stored_size,
    upload,
)
from blackbox_repo.search_space import Domain, Integer, SearchSpace, closest_choices_message


class CommandError(ValueError):
    """Bad command-line input; the message says what is wrong and what would be valid."""


class _BlackboxesParser(argparse.ArgumentParser):
    """Collects ``key=value`` words wherever they appear (argparse alone cannot take positionals after options,
    e.g. ``eval NAME --task T lr=0.1``)."""

    collects_assignments = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if not self.collects_assignments:
            return namespace, extras
        words = [a for a in extras if "=" in a and not a.startswith("-")]
        rest = [a for a in extras if not ("=" in a and not a.startswith("-"))]
        namespace.assignments = list(getattr(namespace, "assignments", None) or []) + words
        return namespace, rest


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``blackboxes`` and its subcommands to the ``arena`` parser."""
    parser = subparsers.add_parser("blackboxes", help="list, inspect, query and upload stored blackboxes",
                                   description="List, inspect, query and upload stored blackboxes.")
    sub = parser.add_subparsers(dest="blackboxes_command", metavar="COMMAND", required=True,
                                parser_class=_BlackboxesParser)
    root_help = ("repository root: a folder, s3://bucket/prefix or hf://datasets/org/repo[/dir] "
                 "(default: $HPO_ARENA_REPOSITORY, then the embedded benchmarks)")

    p = sub.add_parser("list", help="the stored blackboxes, one line each")
    p.add_argument("--root", help=root_help)
    p.set_defaults(func=_guarded(cmd_list))

    p = sub.add_parser("show", help="a blackbox's search space, fidelities, objectives, tasks, size, source")
    p.add_argument("name")
    p.add_argument("--root", help=root_help)
    p.set_defaults(func=_guarded(cmd_show))

    p = sub.add_parser("eval", help="look up one configuration and print its objectives",
                       description="Evaluate one configuration: values are parsed to each hyperparameter's "
                                   "type (e.g. depth=3 lr=0.01 op=nor_conv_3x3).")
    p.add_argument("name")
    p.add_argument("assignments", nargs="*", metavar="key=value", help="one per hyperparameter")
    p.add_argument("--task", help="task (default: the only one, if there is one)")
    p.add_argument("--fidelity", help="fidelity value (default: the largest)")
    p.add_argument("--seed", type=int, default=0, help="seed index (default 0)")
    p.add_argument("--root", help=root_help)
    p.add_argument("--json", action="store_true", help="print the objectives as one JSON object")
    p.collects_assignments = True
    p.set_defaults(func=_guarded(cmd_eval))

    p = sub.add_parser("upload", help="copy a stored blackbox to S3 or a Hugging Face dataset repository")
    p.add_argument("name")
    p.add_argument("--to", required=True, dest="dest", metavar="URL",
                   help="s3://bucket/prefix or hf://datasets/org/repo[/dir]")
    p.add_argument("--root", help="where the blackbox is now (default: as for load)")
    p.set_defaults(func=_guarded(cmd_upload))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report expected failures as one clear line on stderr with exit code 2 instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (CommandError, BlackboxLookupError, RepositoryError, FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    run.__name__ = command.__name__
    run.__doc__ = command.__doc__
    return run


# ---------------------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------------------


def human_size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _fidelity_text(fidelity: dict | None) -> str:
    if not fidelity:
        return "none"
    values = fidelity["values"]
    if len(values) <= 6:
        listed = ", ".join(_number(v) for v in values)
        return f"{fidelity['name']}, {len(values)} values: {listed}"
    return f"{fidelity['name']}, {len(values)} values from {_number(values[0])} to {_number(values[-1])}"


def _objectives_text(metadata: dict) -> list[str]:
    info = metadata.get("blackbox") or {}
    out = []
    for name in metadata.get("objectives") or []:
        notes = []
        mode = (info.get("objective_modes") or {}).get(name)
        if name == info.get("default_metric"):
            notes.append(f"{info.get('mode', 'min')}, default metric")
        elif mode:
            notes.append(mode)
        if name == info.get("time_objective"):
            notes.append("time, " + ("cumulative" if info.get("time_is_cumulative", True) else "per step"))
        out.append(f"{name} ({'; '.join(notes)})" if notes else name)
    return out


def _domain_text(domain: Domain) -> str:
    d = domain.to_dict()
    kind = d.pop("type")
    if "values" in d and len(d["values"]) > 8:
        vals = d["values"]
        d["values"] = [*vals[:4], "...", *vals[-2:]]
        return f"{kind} ({len(vals)} values) {d['values']}"
    return f"{kind} " + ", ".join(f"{k}={v!r}" for k, v in d.items())


def _where(location: str) -> str:
    return "embedded" if location.startswith(str(embedded_root())) else location


# ---------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    """One line per stored blackbox: name, kind, tasks, configurations, size, location."""
    names = list_blackboxes(args.root)
    if not names:
        where = args.root or "the default repository or the embedded benchmarks"
        print(f"no blackboxes in {where}")
        return 0
    rows = [("NAME", "KIND", "TASKS", "CONFIGS", "SIZE", "WHERE")]
    for name in names:
        try:
            metadata, location = read_metadata(name, args.root)
        except (RepositoryError, OSError) as err:
            rows.append((name, "?", "?", "?", "?", f"unreadable: {err}"))
            continue
        rows.append((name, metadata.get("kind", "?"), str(len(metadata.get("tasks", []))),
                     str(metadata.get("num_configs", "-")), human_size(stored_size(metadata)), _where(location)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """A compact summary of one blackbox."""
    metadata, location = read_metadata(args.name, args.root)
    info = metadata.get("blackbox") or {}
    files = metadata.get("files", {})
    lines = [f"{metadata['name']} ({metadata['kind']}, format {metadata['format_version']}) at {_where(location)}"]
    if info.get("description"):
        text = " ".join(str(info["description"]).split())
        lines.append(f"  description:  {text if len(text) <= 160 else text[:157] + '...'}")
    lines.append(f"  source:       {info.get('source') or metadata.get('source') or 'unknown'}")
    lines.append(f"  licence:      {info.get('licence') or metadata.get('licence') or 'unknown'}")
    lines.append(f"  size on disk: {human_size(stored_size(metadata))} in {len(files)} files (+ {METADATA_FILE})")
    tasks = metadata.get("tasks", [])
    shown = ", ".join(tasks[:12]) + (f", ... ({len(tasks)} in all)" if len(tasks) > 12 else "")
    lines.append(f"  tasks ({len(tasks)}):    {shown}")
    if "fidelity" in metadata:
        lines.append(f"  fidelity:     {_fidelity_text(metadata.get('fidelity'))}")
    if "num_seeds" in metadata:
        upstream = info.get("seeds") or []
        lines.append(f"  seeds:        {metadata['num_seeds']}" + (f" (upstream {upstream})" if upstream else ""))
    if metadata.get("objectives"):
        lines.append(f"  objectives:   {', '.join(_objectives_text(metadata))}")
    if "num_configs" in metadata:
        lines.append(f"  configurations: {metadata['num_configs']}")
    if "configuration_space" in metadata:
        space = SearchSpace.from_dict(metadata["configuration_space"])
        lines.append(f"  search space ({len(space)} hyperparameters):")
        width = max((len(n) for n in space.names), default=0)
        lines.extend(f"    {n.ljust(width)}  {_domain_text(d)}" for n, d in space.items())
    print("\n".join(lines))
    return 0


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_value(name: str, domain: Domain, text: str) -> Any:
    """The command-line text of a hyperparameter as a value of its domain's type."""
    if isinstance(domain, Integer):
        number = _as_number(text)
        if number is None or not float(number).is_integer():
            raise CommandError(f"{name}={text!r}: expected an integer in [{domain.lower}, {domain.upper}]")
        value: Any = int(number)
    elif domain.is_finite:
        values = domain.values()
        by_text = [v for v in values if str(v) == text]
        by_bool = [v for v in values if isinstance(v, bool) and str(v).lower() == text.lower()]
        number = _as_number(text)
        by_number = [] if number is None else [
            v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isclose(float(v), number, rel_tol=1e-9, abs_tol=1e-12)
        ]
        matches = by_text or by_bool or by_number
        if not matches:
            raise CommandError(closest_choices_message(f"value for {name}", text, values))
        value = matches[0]
    else:
        number = _as_number(text)
        if number is None:
            raise CommandError(f"{name}={text!r}: expected a number ({domain!r})")
        value = number
    if not domain.contains(value):
        raise CommandError(f"{name}={text!r} is outside its domain {domain!r}")
    return value


def parse_assignments(space: SearchSpace, assignments: list[str]) -> dict[str, Any]:
    """``["lr=0.1", "op=conv"]`` -> a configuration, values typed by the search space."""
    config: dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"expected key=value, got {item!r} (hyperparameters: {', '.join(space.names)})")
        if key not in space.domains:
            raise CommandError(closest_choices_message("hyperparameter", key, space.names))
        if key in config:
            raise CommandError(f"hyperparameter {key!r} is given twice")
        config[key] = parse_value(key, space.domains[key], text.strip())
    missing = [n for n in space.names if n not in config]
    if missing:
        hints = "; ".join(f"{n}: {_domain_text(space.domains[n])}" for n in missing)
        raise CommandError(f"missing hyperparameters {missing} ({hints})")
    return config


def cmd_eval(args: argparse.Namespace) -> int:
    """Print the objectives of one configuration at one fidelity and seed."""
    group = load_blackbox(args.name, args.root)
    if args.task is None:
        if len(group) != 1:
            raise CommandError(f"{args.name} has {len(group)} tasks; choose one with --task "
                               f"({', '.join(group.tasks[:20])}{', ...' if len(group) > 20 else ''})")
        task = group.tasks[0]
    else:
        task = args.task
    blackbox = group[task]
    config = parse_assignments(blackbox.configuration_space, list(args.assignments))
    fidelity: Any = None
    if args.fidelity is not None:
        if blackbox.fidelity_values is None:
            raise CommandError(f"{blackbox.name} has no fidelities; drop --fidelity")
        number = _as_number(args.fidelity)
        if number is None:
            raise CommandError(f"--fidelity {args.fidelity!r} is not a number ({blackbox.fidelity_name})")
        integral = np.issubdtype(blackbox.fidelity_values.dtype, np.integer) and number.is_integer()
        fidelity = int(number) if integral else number
    elif blackbox.fidelity_values is not None:
        fidelity = blackbox.fidelity_values[-1].item()
    values = blackbox.objective(config, fidelity=fidelity, seed=args.seed)
    if args.json:
        print(json.dumps({"blackbox": args.name, "task": task, "config": config, "fidelity": fidelity,
                          "seed": args.seed, "objectives": values}))
        return 0
    where = f"{blackbox.fidelity_name}={_number(fidelity)}, " if fidelity is not None else ""
    print(f"{args.name} / {task}  ({where}seed {args.seed})")
    width = max(len(n) for n in values)
    for name, value in values.items():
        print(f"  {name.ljust(width)}  {value:.6g}")
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    """Upload one stored blackbox (checked against its checksums first)."""
    url = upload(args.name, args.root, args.dest)
    print(f"uploaded {args.name} to {url}")
    return 0
