"""``arena benchmarks list``: every named benchmark and whether its data is present."""
from __future__ import annotations

import argparse
import fnmatch
import json
from typing import Any


def _rows(pattern: str, root: str | None) -> list[dict[str, Any]]:
    from benchmark_definitions.definitions import SimulatedBenchmark
    from benchmark_definitions.registry import all_benchmarks

    status_cache: dict[str, dict[str, Any]] = {}
    rows = []
    for name, bench in all_benchmarks().items():
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        if isinstance(bench, SimulatedBenchmark):
            key = bench.blackbox
            if key not in status_cache:
                from blackbox_repo.repository import RepositoryError, read_metadata

                try:
                    meta, _ = read_metadata(key, root)
                    status_cache[key] = {"tasks": set(meta.get("tasks", []))}
                except (RepositoryError, OSError, ValueError):
                    status_cache[key] = {"tasks": None}
            tasks = status_cache[key]["tasks"]
            status = "missing" if tasks is None else ("present" if bench.task in tasks else "no task")
            source = f"{bench.blackbox}/{bench.task}"
        else:
            status, source = "real", bench.script
        rows.append({
            "name": name, "family": bench.family, "data": status, "source": source,
            "metric": f"{bench.metric} ({bench.mode})", "budget_s": bench.max_wallclock_time,
            "workers": bench.n_workers,
        })
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = _rows(args.pattern, args.root)
    if args.present:
        rows = [r for r in rows if r["data"] in ("present", "real")]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no benchmark matches {args.pattern!r}")
        return 1
    headers = ["name", "data", "source", "metric", "budget_s", "workers"]
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    print("  ".join(h.ljust(widths[h]) for h in headers))
    for r in rows:
        print("  ".join(str(r[h]).ljust(widths[h]) for h in headers))
    present = sum(r["data"] in ("present", "real") for r in rows)
    print(f"\n{len(rows)} benchmarks, {present} with data here. Missing data: convert the upstream files with "
          "`arena convert SOURCE --input PATH --out REPO` (README, 'Benchmarks').")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmarks", help="named benchmarks (definitions) and their data")
    sub = parser.add_subparsers(dest="benchmarks_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="list benchmarks and whether their data is present")
    p.add_argument("pattern", nargs="?", default="*", help="glob on benchmark names, e.g. 'lcbench-*'")
    p.add_argument("--root", default=None, help="repository root (default: configured root + embedded)")
    p.add_argument("--present", action="store_true", help="only benchmarks whose data is present")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)
