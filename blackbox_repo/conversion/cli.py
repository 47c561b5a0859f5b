"""``arena convert SOURCE --input PATH --out REPO_URL [--name NAME] [--overwrite] [--task T ...]``.

``arena convert table`` turns the user's own CSV/Parquet table into a blackbox (``conversion/table.py``)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from blackbox_repo.conversion import CONVERTERS

    sources = "\n".join(f"  {c.source:<30} {c.expects}" for c in CONVERTERS.values())
    sources += f"\n  {'yahpo':<30} {YAHPO_EXPECTS}"
    parser = subparsers.add_parser(
        "convert",
        help="convert published benchmark files into a blackbox repository",
        description="Read a benchmark in its original layout, validate it, and store it in a blackbox "
                    "repository (local folder, s3://... or hf://datasets/...). Nothing is written unless "
                    "the whole input is valid.",
        epilog="sources and the --input they expect:\n" + sources,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE", help=f"one of: {', '.join([*CONVERTERS, 'yahpo'])}")
    parser.add_argument("--input", required=True, metavar="PATH", help="the upstream file or folder")
    parser.add_argument("--out", metavar="REPO_URL",
                        help="repository root: a folder, s3://bucket/prefix or hf://datasets/org/repo")
    parser.add_argument("--name", default=None, help="blackbox name in the repository (default: per source)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing blackbox of that name")
    parser.add_argument("--task", action="append", dest="tasks", default=None, metavar="TASK",
                        help="convert only this task (repeatable; default: all)")
    parser.add_argument("--no-impute", action="store_true",
                        help="nasbench201: leave missing (architecture, seed) entries NaN instead of the mean "
                             "of the seeds present")
    parser.add_argument("--mode", choices=("min", "max"), default=None,
                        help="syne-tune: direction of the default metric (Syne Tune does not store it)")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    table = parser.add_argument_group("your own table (SOURCE = table)")
    table.add_argument("--objectives", metavar="COLS", help="objective columns, comma-separated; the first is the "
                       "default metric (required)")
    table.add_argument("--modes", metavar="MODES", help="min or max per objective, comma-separated (default: min)")
    table.add_argument("--fidelity", metavar="COL", help="the fidelity column (epochs, ...), if any")
    table.add_argument("--seed-column", metavar="COL", help="the column telling replicates apart, if any")
    table.add_argument("--task-column", metavar="COL", help="the column naming the task (dataset), if any; "
                       "--task then selects tasks")
    table.add_argument("--task-name", metavar="NAME", default=None,
                       help="the task's name without a --task-column (default: default)")
    table.add_argument("--hyperparameters", metavar="COLS",
                       help="hyperparameter columns (default: every column in no other role)")
    table.add_argument("--time-objective", metavar="COL", help="the column holding elapsed time (cumulative "
                       "since the trial's start unless --time-per-step), for the simulator's clock")
    table.add_argument("--time-per-step", action="store_true",
                       help="the time objective holds each fidelity step's own duration")
    table.add_argument("--space", metavar="JSON", help="explicit domains for some or all hyperparameters: a JSON "
                       "file or text, {name: {\"type\": \"loguniform\", \"lower\": ..., \"upper\": ...}} or "
                       "SearchSpace.to_dict(); other columns are inferred")
    table.add_argument("--max-ordinal", metavar="N", type=int, default=None,
                       help="numeric columns with at most N distinct values become ordinal grids (default 10)")
    table.add_argument("--dry-run", action="store_true",
                       help="read and validate the table, print the shape and search space, write nothing")
    parser.set_defaults(func=run_convert)


TABLE_OPTIONS = {  # argparse dest -> read_table keyword
    "objectives": "objectives", "modes": "modes", "fidelity": "fidelity", "seed_column": "seed_column",
    "task_column": "task_column", "task_name": "task_name", "hyperparameters": "hyperparameters",
    "time_objective": "time_objective", "space": "space", "max_ordinal": "max_ordinal",
}


def _table_options(args: argparse.Namespace) -> dict | None:
    """read_table keywords from the command line; None (after printing why) when they are misused."""
    given = {kw: getattr(args, dest) for dest, kw in TABLE_OPTIONS.items() if getattr(args, dest) is not None}
    if args.time_per_step:
        given["time_is_cumulative"] = False
    if args.source != "table":
        if given:
            flags = ", ".join("--" + d.replace("_", "-") for d in TABLE_OPTIONS if getattr(args, d) is not None)
            print(f"arena convert: {flags or '--time-per-step'} appl{'ies' if len(given) == 1 else 'y'} to the "
                  "table source only", file=sys.stderr)
            return None
        return {}
    if "objectives" not in given:
        print("arena convert table: give the objective columns with --objectives COLS", file=sys.stderr)
        return None
    if not args.name:
        print("arena convert table: give the blackbox's name with --name NAME", file=sys.stderr)
        return None
    if args.time_per_step and args.time_objective is None:
        print("arena convert table: --time-per-step needs --time-objective COL", file=sys.stderr)
        return None
    return given


YAHPO_EXPECTS = ("a YAHPO Gym data folder (yahpo_data-<version>/) or one scenario folder with model.onnx, "
                 "config_space.json and encoding.json; one blackbox yahpo-<scenario> per scenario")


def run_convert_yahpo(args: argparse.Namespace) -> int:
    """YAHPO scenarios are surrogates (an ONNX model per scenario), not tables: their own converter."""
    from blackbox_repo.conversion import InputError
    from blackbox_repo.repository import RepositoryError
    from blackbox_repo.yahpo import convert_yahpo

    for flag, value in (("--no-impute", args.no_impute), ("--mode", args.mode)):
        if value:
            print(f"arena convert: {flag} does not apply to the yahpo source", file=sys.stderr)
            return 2
    print(f"converting yahpo from {args.input} ...", file=sys.stderr)
    try:
        written = convert_yahpo(args.input, args.out, tasks=args.tasks, name=args.name, overwrite=args.overwrite)
    except InputError as err:
        print(f"arena convert: invalid input: {err}\nnothing was written.", file=sys.stderr)
        return 1
    except (RepositoryError, FileExistsError) as err:
        print(f"arena convert: {err}", file=sys.stderr)
        return 1
    for location in written:
        print(f"wrote {location}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from blackbox_repo.conversion import InputError, convert, get_converter
    from blackbox_repo.conversion.base import ARCHIVE_ERRORS, damaged_archive
    from blackbox_repo.repository import RepositoryError

    table_options = _table_options(args)
    if table_options is None:
        return 2
    if args.dry_run and args.source != "table":
        print("arena convert: --dry-run applies to the table source only", file=sys.stderr)
        return 2
    if args.out is None and not args.dry_run:
        print("arena convert: give the repository to write to with --out REPO_URL", file=sys.stderr)
        return 2
    if args.source == "yahpo":
        return run_convert_yahpo(args)
    try:
        get_converter(args.source)
    except InputError as err:
        print(f"arena convert: {err}", file=sys.stderr)
        return 2
    options: dict = dict(table_options)
    if args.tasks:
        options["tasks"] = args.tasks
    if args.no_impute:
        if args.source != "nasbench201":
            print("arena convert: --no-impute applies to the nasbench201 source only", file=sys.stderr)
            return 2
        options["impute_missing_seeds"] = False
    if args.mode is not None:
        if args.source != "syne-tune":
            print("arena convert: --mode applies to the syne-tune source only (other sources know their mode)",
                  file=sys.stderr)
            return 2
        options["mode"] = args.mode
    if args.dry_run:
        return _dry_run(args, options)
    print(f"converting {args.source} from {args.input} ...", file=sys.stderr)
    try:
        report = convert(args.source, args.input, args.out, name=args.name, overwrite=args.overwrite,
                         progress=False if args.no_progress else None, **options)
    except InputError as err:
        print(f"arena convert: invalid input: {err}; nothing was written.", file=sys.stderr)
        return 1
    except (RepositoryError, FileExistsError) as err:
        print(f"arena convert: {err}", file=sys.stderr)
        return 1
    except ARCHIVE_ERRORS as err:  # a converter that reads a compressed input without its own check
        print(f"arena convert: invalid input: {damaged_archive(args.input, err, 'download it again and rerun')}; "
              "nothing was written.", file=sys.stderr)
        return 1
    n, s, f, o = report.shape
    print(f"wrote {report.name} to {report.location}: {len(report.tasks)} task(s) "
          f"({', '.join(report.tasks[:6])}{', ...' if len(report.tasks) > 6 else ''}), {n} configurations x "
          f"{s} seed(s) x {f} fidelit{'y' if f == 1 else 'ies'} x {o} objective(s); "
          f"read {report.read_seconds:.1f} s, write {report.write_seconds:.1f} s")
    if args.source == "table" and report.configuration_space is not None:
        from blackbox_repo.search_space import SearchSpace

        _print_space(SearchSpace.from_dict(report.configuration_space))
    return 0


def _print_space(space) -> None:
    print("search space:")
    for hp_name, domain in space.items():
        print(f"  {hp_name}: {domain!r}")


def _dry_run(args: argparse.Namespace, options: dict) -> int:
    """Read and validate a table, say what would be stored, write nothing."""
    from blackbox_repo.conversion import InputError, read

    try:
        blackboxes = read(args.source, args.input, name=args.name, **options)
    except InputError as err:
        print(f"arena convert: invalid input: {err}", file=sys.stderr)
        return 1
    first = next(iter(blackboxes.values()))
    n, s, f, o = first.objectives.shape
    print(f"{args.input} is valid (nothing written): {len(blackboxes)} task(s) ({', '.join(list(blackboxes)[:6])}), "
          f"{n} configurations x {s} seed(s) x {f} fidelit{'y' if f == 1 else 'ies'} x {o} objective(s) "
          f"{first.objectives_names}")
    _print_space(first.configuration_space)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
