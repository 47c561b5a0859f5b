"""``arena data get NAME [--out REPO] [--mirror URL | --from ROOT]`` and ``arena data list``."""
from __future__ import annotations

import argparse
import sys


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="download benchmark data and convert it into a repository")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    get = sub.add_parser(
        "get", help="download a source's upstream files, verify them and convert them",
        description="Download the upstream files of a benchmark source (resuming an interrupted download), "
                    "check them against the sizes/checksums the upstream publishes, and convert them into a "
                    "blackbox repository. With --from, copy already converted blackboxes instead.",
        epilog="sources: see `arena data list`",
    )
    get.add_argument("name", metavar="NAME", help="a data source (arena data list) or a blackbox it produces")
    get.add_argument("--out", metavar="REPO_URL", default=None,
                     help="repository root to write to: a folder, s3://... or hf://datasets/... "
                          "(default: $HPO_ARENA_REPOSITORY, else ~/.cache/hpo-arena/repository)")
    where = get.add_mutually_exclusive_group()
    where.add_argument("--mirror", metavar="URL", default=None,
                       help="fetch the upstream files from URL/<file> instead: an http(s):// server or a file:// folder "
                            "(layout: arena data list)")
    where.add_argument("--from", dest="from_root", metavar="ROOT", default=None,
                       help="copy already converted blackboxes from this repository root, e.g. "
                            "hf://datasets/ORG/REPO (files checked against their recorded sha256)")
    get.add_argument("--download-dir", metavar="DIR", default=None,
                     help="where downloads (and resumable .part files) go (default: $HPO_ARENA_CACHE/downloads)")
    get.add_argument("--overwrite", action="store_true", help="replace blackboxes that are already there")
    get.add_argument("--remove-downloads", action="store_true",
                     help="delete the downloaded upstream files after a successful conversion")
    get.add_argument("--retries", type=int, default=3, metavar="N",
                     help="resume an interrupted transfer up to N times before giving up (default 3)")
    get.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    get.set_defaults(func=cmd_get)
    listing = sub.add_parser("list", help="data sources, their files, sizes/checksums and mirror layout")
    listing.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from blackbox_repo.data.catalogue import NO_UPSTREAM, SOURCES

    for source in SOURCES.values():
        aliases = f" (also: {', '.join(source.aliases)})" if source.aliases else ""
        print(f"{source.name}{aliases}: {source.description}")
        print(f"  writes: {', '.join(source.blackboxes)}")
        for f in source.files:
            print(f"  file {f.filename}\n    upstream: {f.url}\n    mirror:   <URL>/{f.mirror_path}\n"
                  f"    checked:  {f.verification}"
                  + (f" (published by {f.checksum_origin})" if f.checksum_origin else ""))
        if source.note:
            print(f"  note: {source.note}")
    for name, how in NO_UPSTREAM.items():
        print(f"{name}: no download; {how}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from blackbox_repo.conversion import InputError
    from blackbox_repo.data.catalogue import find_source
    from blackbox_repo.data.download import DownloadError, IntegrityError
    from blackbox_repo.data.get import copy_converted, get_data
    from blackbox_repo.repository import RepositoryError

    if args.retries < 0:
        print("arena data get: --retries must be 0 or more", file=sys.stderr)
        return 2
    if args.from_root:
        ignored = [flag for flag, used in (("--download-dir", args.download_dir is not None),
                                           ("--remove-downloads", args.remove_downloads)) if used]
        if ignored:
            verb = "does" if len(ignored) == 1 else "do"
            print(f"arena data get: {' and '.join(ignored)} {verb} not apply with --from (nothing upstream is "
                  "downloaded)", file=sys.stderr)
            return 2
    else:
        try:
            find_source(args.name)
        except KeyError as err:
            print(f"arena data get: {err.args[0]}", file=sys.stderr)
            return 2
    try:
        if args.from_root:
            report = copy_converted(args.name, args.from_root, args.out, overwrite=args.overwrite)
        else:
            report = get_data(args.name, args.out, mirror=args.mirror, download_dir=args.download_dir,
                              overwrite=args.overwrite, keep_downloads=not args.remove_downloads,
                              retries=args.retries, progress=False if args.no_progress else None)
    except DownloadError as err:
        print(f"arena data get: download failed: {err}", file=sys.stderr)
        return 1
    except IntegrityError as err:
        print(f"arena data get: refused: {err}. The file was deleted and nothing was converted; run the "
              "command again to download it anew (if it fails again, the upstream file changed: please "
              "report it).", file=sys.stderr)
        return 1
    except InputError as err:
        print(f"arena data get: the downloaded files do not convert: {err}\nnothing was written.",
              file=sys.stderr)
        return 1
    except (RepositoryError, FileExistsError) as err:
        print(f"arena data get: {err}", file=sys.stderr)
        return 1
    for d in report.downloads:
        how = "already downloaded" if not d.downloaded_bytes and not d.resumed_from else (
            f"resumed at byte {d.resumed_from:,}" if d.resumed_from else "downloaded")
        print(f"{d.path.name}: {how}; checked {d.verification}")
    for name in report.skipped:
        print(f"{name} is already in {report.out} (pass --overwrite to replace it)")
    for location in report.written:
        print(f"wrote {location}")
    return 0
