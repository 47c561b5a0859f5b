"""``arena benchmarks list``: every named benchmark (built-in and the user's) and whether its data is present."""
from __future__ import annotations

import argparse
import fnmatch
import json
from typing import Any


def _rows(pattern: str, root: str | None, config_dirs: list[str] | None = None) -> list[dict[str, Any]]:
    from benchmark_definitions.definitions import FunctionBenchmark, SimulatedBenchmark, objectives_of
    from benchmark_definitions.registry import builtin_benchmarks
    from benchmark_definitions.user import load_user_benchmarks

    user = load_user_benchmarks(config_dirs or ())
    benchmarks = {**builtin_benchmarks(), **{name: u.benchmark for name, u in user.items()}}
    status_cache: dict[tuple[str, str | None], dict[str, Any]] = {}
    rows = []
    for name, bench in benchmarks.items():
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        get = None
        if isinstance(bench, SimulatedBenchmark):
            where = bench.repository or root
            key = (bench.blackbox, where)
            if key not in status_cache:
                from blackbox_repo.repository import RepositoryError, read_metadata

                try:
                    meta, _ = read_metadata(bench.blackbox, where)
                    status_cache[key] = {"tasks": set(meta.get("tasks", []))}
                except (RepositoryError, OSError, ValueError):
                    status_cache[key] = {"tasks": None}
            tasks = status_cache[key]["tasks"]
            status = "missing" if tasks is None else ("present" if bench.task in tasks else "no task")
            source = f"{bench.blackbox}/{bench.task}"
            if status == "missing":
                from blackbox_repo.data.catalogue import get_command

                get = get_command(bench.blackbox, where)
        elif isinstance(bench, FunctionBenchmark):
            status, source = "function", bench.function
        else:
            status, source = "real", bench.script
        rows.append({
            "name": name, "family": bench.family, "data": status, "source": source,
            "metric": objectives_of(bench).describe(), "budget_s": bench.max_wallclock_time,
            "workers": bench.n_workers, "get": get,
            "defined_in": str(user[name].path) if name in user else "built-in",
        })
    return rows


AVAILABLE = ("present", "real", "function")  # data statuses of benchmarks that can run here


def cmd_list(args: argparse.Namespace) -> int:
    import sys

    from benchmark_definitions.user import UserBenchmarkError

    try:
        rows = _rows(args.pattern, args.root, args.config_dirs)
    except UserBenchmarkError as err:
        print(f"arena benchmarks list: {err}", file=sys.stderr)
        return 2
    if args.present:
        rows = [r for r in rows if r["data"] in AVAILABLE]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no benchmark matches {args.pattern!r}")
        return 1
    headers = ["name", "data", "source", "metric", "budget_s", "workers"]  # "metric": every objective
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    print("  ".join(h.ljust(widths[h]) for h in headers))
    for r in rows:
        print("  ".join(str(r[h]).ljust(widths[h]) for h in headers))
    present = sum(r["data"] in AVAILABLE for r in rows)
    print(f"\n{len(rows)} benchmarks, {present} with data here.")
    commands = sorted({r["get"] for r in rows if r["data"] == "missing" and r["get"]})
    if commands:
        print("Missing data: " + "; ".join(f"`{c}`" for c in commands))
    if any(r["data"] == "missing" and not r["get"] for r in rows):
        print("Other missing data: convert the original files with "
              "`arena convert SOURCE --input PATH --out REPO` (README, 'Benchmarks').")
    user_files = sorted({r["defined_in"] for r in rows if r["defined_in"] != "built-in"})
    if user_files:
        print(f"{len(user_files)} user benchmark(s) from: {', '.join(user_files)}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmarks", help="named benchmarks (definitions) and their data")
    sub = parser.add_subparsers(dest="benchmarks_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="list benchmarks and whether their data is present")
    p.add_argument("pattern", nargs="?", default="*", help="glob on benchmark names, e.g. 'lcbench-*'")
    p.add_argument("--root", default=None, help="repository root (default: configured root + embedded)")
    p.add_argument("--present", action="store_true", help="only benchmarks whose data is present")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--config-dir", action="append", dest="config_dirs", default=None, metavar="DIR",
                   help="a config folder whose benchmark/NAME.yaml files define more benchmarks (repeatable; "
                        "$HPO_ARENA_CONFIG_DIR is read too)")
    p.set_defaults(func=cmd_list)
