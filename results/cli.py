"""``arena results check ROOT``: report missing, duplicated and incomplete runs of stored studies.
``arena results pull s3://bucket/prefix --to DIR``: copy stored studies down to a local folder.

``launchers/cli.py`` calls ``add_commands(subparsers)`` and then ``args.func(args)``, which returns the
process exit status (0 when every setup has its runs, 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from results.store import expected_jobs, index_experiments, list_tags, read_study


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


def _fail(message: str) -> int:
    print(f"arena results check: {message}", file=sys.stderr)
    return 1


def run_check(args: argparse.Namespace) -> int:
    """Exit status 1 when the root or a tag is missing, a run is incomplete or damaged, a job recorded in a
    study's ``study.json`` has no folder at all (it failed before creating one, or never ran), or a setup has
    missing, duplicated or (with ``--num-runs``) too few seeds."""
    try:
        tags_found = list_tags(args.root)
    except FileNotFoundError as err:
        return _fail(f"{err}; give the folder (or s3:// URL) that `arena sweep` wrote to (results_root)")
    tags = args.tags or tags_found
    absent = [t for t in tags if t not in tags_found]
    if absent:
        return _fail(f"no study {', '.join(map(repr, absent))} under {args.root}; studies found: "
                     f"{', '.join(tags_found) or 'none'}")
    if not tags:
        return _fail(f"{args.root} holds no study (expected <root>/<tag>/<benchmark>/<method>/<seed>/)")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        index = index_experiments(args.root, tags=tags)
    problems = [p.message() for p in index.check(num_runs=args.num_runs, warn=False)]
    never_written = []
    present_groups = set(zip(index.table["benchmark"], index.table["setup"]))
    folders = {path.rstrip("/") for path in [*index.table["path"], *index.skipped["path"]]}
    expected_groups: dict[tuple[str, str, str], list[int]] = {}
    for tag in tags:
        try:
            study = read_study(args.root, tag)
        except ValueError as err:
            problems.append(str(err))
            continue
        for benchmark, method, seed in expected_jobs(study or {}):
            expected_groups.setdefault((tag, benchmark, method), []).append(seed)
            if not any(f.endswith(f"/{tag}/{benchmark}/{method}/{seed}") for f in folders):
                never_written.append(f"{tag}/{benchmark}/{method}/{seed}")
    for (tag, benchmark, method), seeds in expected_groups.items():
        # Setups without a single complete run are invisible to index.check: name them from study.json.
        if (benchmark, method) not in present_groups:
            expected = args.num_runs if args.num_runs is not None else len(seeds)
            problems.append(f"benchmark {benchmark!r}, setup {method!r}: 0 complete run(s), expected {expected} "
                            f"(study {tag!r} records seeds {sorted(seeds)})")
    table = index.table
    print(
        f"{len(table)} complete experiment(s): {table['benchmark'].nunique()} benchmark(s), "
        f"{len(index.setups)} setup(s); {len(index.skipped)} not complete; {len(never_written)} recorded job(s) "
        "without a folder"
    )
    for row in index.skipped.itertuples(index=False):
        print(f"{'damaged' if row.status == 'damaged' else 'not complete'}: {row.path} ({row.reason})")
    for job in never_written:
        print(f"no folder: {job} (recorded in study.json; the job failed before creating its folder, or has "
              "not run yet: rerun the sweep)")
    for problem in problems:
        print(problem)
    if table.empty and not never_written and index.skipped.empty:
        return _fail(f"no experiment found under {args.root} (tags {', '.join(tags)})")
    if not problems and index.skipped.empty and not never_written:
        print("every setup has its runs")
        return 0
    return 1


def run_pull(args: argparse.Namespace) -> int:
    from results.sync import pull_results

    report = pull_results(args.source, args.dest, tags=args.tags, include_incomplete=args.include_incomplete)
    print(report.summary())
    return 0
