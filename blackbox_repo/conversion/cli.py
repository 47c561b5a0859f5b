"""``arena convert SOURCE --input PATH --out REPO_URL [--name NAME] [--overwrite] [--task T ...]``."""
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
    parser.add_argument("--out", required=True, metavar="REPO_URL",
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
    parser.set_defaults(func=run_convert)


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

    if args.source == "yahpo":
        return run_convert_yahpo(args)
    try:
        get_converter(args.source)
    except InputError as err:
        print(f"arena convert: {err}", file=sys.stderr)
        return 2
    options: dict = {}
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
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
