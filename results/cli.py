"""``arena results check ROOT``: report missing, duplicated and incomplete runs of stored studies.
``arena results pull s3://bucket/prefix --to DIR``: copy stored studies down to a local folder.

``launchers/cli.py`` calls ``add_commands(subparsers)`` and then ``args.func(args)``, which returns the
process exit status (0 when every setup has its runs, 1 otherwise).
"""

from __future__ import annotations

import argparse
import warnings

from results.store import index_experiments


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    results_parser = subparsers.add_parser("results", help="inspect stored experiment results")
    results_commands = results_parser.add_subparsers(dest="results_command", required=True)
    check = results_commands.add_parser(
        "check", help="list missing or duplicated seeds per (benchmark, setup) and incomplete experiments"
    )
    check.add_argument("root", help="results root: a folder or an fsspec URL such as s3://bucket/prefix")
    check.add_argument(
        "--tag", action="append", dest="tags", help="study tag (repeat for several; default all)"
    )
    check.add_argument("--num-runs", type=int, default=None, help="expected number of seeds per setup")
    check.set_defaults(func=run_check)
    pull = results_commands.add_parser(
        "pull", help="copy complete experiments from a results root (e.g. s3://bucket/prefix) to a local folder"
    )
    pull.add_argument("source", help="results root to copy from: an fsspec URL such as s3://bucket/prefix")
    pull.add_argument("--to", required=True, dest="dest", help="local results root to copy into")
    pull.add_argument(
        "--tag", action="append", dest="tags", help="study tag (repeat for several; default all)"
    )
    pull.add_argument(
        "--include-incomplete", action="store_true", help="also copy experiments that are not complete"
    )
    pull.set_defaults(func=run_pull)


def run_check(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        index = index_experiments(args.root, tags=args.tags)
    problems = index.check(num_runs=args.num_runs, warn=False)
    table = index.table
    print(
        f"{len(table)} complete experiment(s): {table['benchmark'].nunique()} benchmark(s), "
        f"{len(index.setups)} setup(s); {len(index.skipped)} not complete"
    )
    for row in index.skipped.itertuples(index=False):
        print(f"not complete: {row.path} ({row.reason})")
    for problem in problems:
        print(problem.message())
    if not problems and index.skipped.empty:
        print("every setup has its runs")
    return 1 if problems or not index.skipped.empty else 0


def run_pull(args: argparse.Namespace) -> int:
    from results.sync import pull_results

    report = pull_results(args.source, args.dest, tags=args.tags, include_incomplete=args.include_incomplete)
    print(report.summary())
    return 0
