"""The blackbox repository: on-disk format, serialisation, loading, caching and checksums.

On-disk layout (format version 1)
=================================

One folder per blackbox under a *root*::

    <root>/<name>/metadata.json                 everything but the numbers (see below)
    <root>/<name>/hyperparameters.parquet       tabular: N rows, one column per hyperparameter, shared by all tasks
    <root>/<name>/objectives/<task>.npy         tabular: float32 array (N, S, F, O), C order, one per task
    <root>/<name>/<anything else>               files of other kinds (e.g. a YAHPO scenario's model.onnx)

``metadata.json`` holds ``format_version``, ``name``, ``kind`` (``"tabular"``, or a kind registered with
``register_kind``, optionally ``kind_module``: a module whose import registers it), ``tasks``,
``task_files`` ({task: [files only that task needs]}; every other file is shared), and ``files``:
{relative path: {"sha256", "size"}} for every file of the folder except ``metadata.json`` itself. A tabular
blackbox adds ``configuration_space`` (``SearchSpace.to_dict()``), ``fidelity`` ({"name", "values"} or
null), ``objectives`` (names, in array order), ``num_seeds``, ``num_configs``, ``value_dtype``
("float32"), ``hyperparameters_file``, ``objectives_files`` ({task: path}) and ``blackbox``
(``BlackboxMetadata.to_dict()``: default metric and mode, time objective and whether it is cumulative,
source, licence, description, upstream seeds).

Encoding choices
----------------
* Objective values are stored as **float32** (half the size of float64, which no benchmark's precision
  needs); blackboxes hand them out as float64. Missing entries are NaN.
* Objective arrays are ``.npy`` files, not Parquet, so that loading is ``np.load(mmap_mode="r")``: no
  parsing, no copy, pages shared by every process on the machine through the OS page cache.
* Hyperparameter columns keep their Python types: strings for categoricals, int64 for integers, float64
  for floats, bool for booleans (one type per column).
* Task names become file names percent-encoded (``urllib.parse.quote(task, safe="")``); the real name
  is in ``tasks`` / ``objectives_files``.

Writing is atomic: files go into a temporary sibling folder ``<root>/.<name>.tmp-*`` that is renamed to
``<root>/<name>`` once complete (an existing blackbox is refused unless ``overwrite=True``, and then
swapped atomically with ``renameat2(RENAME_EXCHANGE)`` where the OS has it).

Roots, cache and verification
-----------------------------
A root is a local folder, ``s3://bucket/prefix`` (any fsspec URL) or ``hf://datasets/<org>/<repo>[/<dir>]``
(see ``blackbox_repo.remote``). ``root=None`` means ``$HPO_ARENA_REPOSITORY`` (default
``~/.cache/hpo-arena/repository``), then the benchmarks shipped inside the package
(``blackbox_repo/embedded/<name>/``).

The cache folder is ``$HPO_ARENA_CACHE`` (default ``~/.cache/hpo-arena``) or the ``cache_dir`` argument.
Remote blackboxes are downloaded once into ``<cache>/remote/<sanitised root URL>-<hash>/<name>/``, each
file checked against its sha256 (a mismatch is fetched once more, then reported with the file, both
checksums and the fix); later loads use that copy without touching the network (``refresh=True`` forces
a new download).

Every load checks that every needed file exists with its recorded size (a ``stat``, cheap). The sha256
of a file is computed the first time a folder is loaded, whenever the file's (size, mtime, ctime, inode)
changed since then, and on ``verify=True``. What was verified is remembered in a small stamp file
``<cache>/verified/<hash of the folder path>.json`` (kept outside the blackbox folder, which may be
read-only), so a warm load is a JSON read, a few ``stat`` calls and memory maps.
"""
from __future__ import annotations

import ctypes
import errno
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import Blackbox, BlackboxLookupError, BlackboxMetadata, TabularBlackbox
from blackbox_repo.remote import (
    RemoteFileMissing,
    RemoteRefetchImpossible,
    RemoteRoot,
    is_remote,
    parse_root,
)
from blackbox_repo.search_space import SearchSpace, closest_choices_message

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
HYPERPARAMETERS_FILE = "hyperparameters.parquet"
OBJECTIVES_DIR = "objectives"
ENV_ROOT = "HPO_ARENA_REPOSITORY"
ENV_CACHE = "HPO_ARENA_CACHE"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class RepositoryError(RuntimeError):
    """A problem with a stored blackbox (format, checksums, missing files)."""


class BlackboxNotFoundError(RepositoryError, FileNotFoundError):
    """A blackbox, its ``metadata.json`` or one of its files does not exist."""


class UnknownBlackboxError(BlackboxNotFoundError):
    """The root holds no folder of that name (the default search then tries the next root)."""


class BlackboxExistsError(RepositoryError, FileExistsError):
    """``serialize`` would replace an existing blackbox without ``overwrite=True``."""


class ChecksumError(RepositoryError):
    """A file's content does not match the sha256 / size recorded in ``metadata.json``."""

    def __init__(self, path: str, expected_sha256: str, actual_sha256: str, expected_size: int,
                 actual_size: int, fix: str):
        self.path, self.expected_sha256, self.actual_sha256 = path, expected_sha256, actual_sha256
        self.expected_size, self.actual_size = expected_size, actual_size
        super().__init__(
            f"{path} is corrupt: expected sha256 {expected_sha256} ({expected_size} bytes), got sha256 "
            f"{actual_sha256} ({actual_size} bytes). {fix}"
        )


# ---------------------------------------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------------------------------------


def default_root() -> str:
    """``$HPO_ARENA_REPOSITORY`` or ``~/.cache/hpo-arena/repository`` (a folder or a remote URL)."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return env
    return str(Path("~/.cache/hpo-arena/repository").expanduser())


def default_cache_dir() -> Path:
    """``$HPO_ARENA_CACHE`` or ``~/.cache/hpo-arena``: downloads of remote blackboxes and verification stamps."""
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/hpo-arena").expanduser()


def embedded_root() -> Path:
    """Folder of the blackboxes shipped inside the package."""
    return Path(__file__).resolve().parent / "embedded"


def _local_root(root: str | os.PathLike[str]) -> Path:
    text = str(root)
    text = text.removeprefix("file://")
    return Path(text).expanduser()


def check_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` can name a blackbox folder."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid blackbox name {name!r}: use letters, digits and . _ + - (not starting with . or -)"
        )


_check_name = check_name  # older spelling, used by blackbox_repo.conversion


def task_file_stem(task: str) -> str:
    """File-name form of a task name (percent-encoded, reversible)."""
    if not isinstance(task, str) or not task:
        raise ValueError(f"task names must be non-empty strings, got {task!r}")
    stem = urllib.parse.quote(task, safe="")
    return stem if stem not in (".", "..") else stem.replace(".", "%2E")


# ---------------------------------------------------------------------------------------------------------
# Kind registry
# ---------------------------------------------------------------------------------------------------------

Loader = Callable[[Path, dict], dict[str, Blackbox]]
Writer = Callable[[Mapping[str, Blackbox], Path], dict]


@dataclass(frozen=True)
class KindHandler:
    """How one kind of blackbox is read (``loader``) and, optionally, written (``writer``).

    ``loader(folder, metadata)`` returns {task: Blackbox} for ``metadata["tasks"]`` (narrowed to one task
    when the caller asked for one). ``writer(blackboxes, folder)`` writes the kind's files into ``folder``
    and returns the metadata fields describing them (``kind``, ``tasks`` and whatever its loader needs).
    """

    loader: Loader
    writer: Writer | None = None


_KINDS: dict[str, KindHandler] = {}


def register_kind(kind: str, loader: Loader, writer: Writer | None = None) -> None:
    """Make ``load_blackbox`` (and ``serialize(..., kind=kind)`` when a writer is given) handle ``kind``."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    _KINDS[kind] = KindHandler(loader, writer)


def registered_kinds() -> list[str]:
    return sorted(_KINDS)


def _handler(kind: str, metadata: Mapping[str, Any], where: str) -> KindHandler:
    if kind not in _KINDS and metadata.get("kind_module"):
        importlib.import_module(str(metadata["kind_module"]))  # its import registers the kind
    try:
        return _KINDS[kind]
    except KeyError:
        raise RepositoryError(
            f"{where}: " + closest_choices_message("blackbox kind", kind, registered_kinds())
            + f". Import the module that calls register_kind({kind!r}, ...) before loading"
        ) from None


# ---------------------------------------------------------------------------------------------------------
# Checksums and verification stamps
# ---------------------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_state(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _stamp_path(cache: Path, directory: Path) -> Path:
    key = hashlib.sha256(str(directory.resolve()).encode("utf-8")).hexdigest()[:24]
    return cache / "verified" / f"{key}.json"


def _read_stamp(cache: Path, directory: Path, metadata_sha256: str) -> dict[str, list[int]]:
    try:
        stamp = json.loads(_stamp_path(cache, directory).read_text())
    except (OSError, ValueError):
        return {}
    if stamp.get("metadata_sha256") != metadata_sha256 or stamp.get("directory") != str(directory.resolve()):
        return {}
    return {k: list(v) for k, v in stamp.get("files", {}).items()}


def _write_stamp(cache: Path, directory: Path, metadata_sha256: str, files: dict[str, list[int]]) -> None:
    path = _stamp_path(cache, directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"directory": str(directory.resolve()), "metadata_sha256": metadata_sha256,
                                   "files": files}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs re-hashing next time


@dataclass(frozen=True)
class _Problem:
    rel: str
    missing: bool
    expected_sha256: str
    expected_size: int
    actual_sha256: str = ""
    actual_size: int = 0


def _check_files(directory: Path, metadata: dict, metadata_sha256: str, required: list[str], *,
                 verify: bool, cache: Path) -> list[_Problem]:
    """Problems of the ``required`` files of a folder (sizes always, sha256 when not stamped or ``verify``)."""
    files = metadata["files"]
    stamp = {} if verify else _read_stamp(cache, directory, metadata_sha256)
    new_stamp = dict(stamp)
    problems: list[_Problem] = []
    hashed = False
    for rel in required:
        spec = files[rel]
        path = directory / rel
        try:
            state = _file_state(path)
        except FileNotFoundError:
            problems.append(_Problem(rel, True, spec["sha256"], spec["size"]))
            new_stamp.pop(rel, None)
            continue
        if state[0] != spec["size"]:
            problems.append(_Problem(rel, False, spec["sha256"], spec["size"], sha256_file(path), state[0]))
            new_stamp.pop(rel, None)
            continue
        if stamp.get(rel) == state:
            continue
        actual = sha256_file(path)
        hashed = True
        if actual != spec["sha256"]:
            problems.append(_Problem(rel, False, spec["sha256"], spec["size"], actual, state[0]))
            new_stamp.pop(rel, None)
        else:
            new_stamp[rel] = state
    if hashed or new_stamp != stamp:
        _write_stamp(cache, directory, metadata_sha256, new_stamp)
    return problems


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored in metadata.json")


def _rename_exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _install(tmp: Path, final: Path, overwrite: bool) -> None:
    """Move the complete folder ``tmp`` to ``final`` (replacing it atomically when ``overwrite``)."""
    try:
        os.rename(tmp, final)
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
            raise
    if not overwrite:
        raise BlackboxExistsError(f"{final} already exists; pass overwrite=True to replace it")
    if _rename_exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old version
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _fsync_tree(directory: Path) -> None:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _validate_relpath(rel: str) -> str:
    parts = Path(rel).parts
    if (not rel or Path(rel).is_absolute() or any(p in ("..", ".") for p in parts) or rel == METADATA_FILE
            or "\\" in rel):
        raise ValueError(
            f"invalid file name {rel!r} inside a blackbox: use a relative path without '..' other than "
            f"{METADATA_FILE}"
        )
    return Path(rel).as_posix()


def _write_files(directory: Path, files: Mapping[str, Path | bytes | str]) -> None:
    for rel, content in files.items():
        rel = _validate_relpath(rel)
        dest = directory / rel
        if dest.exists():
            raise ValueError(f"file {rel!r} is written twice into the blackbox")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            dest.write_bytes(content)
        else:
            src = Path(content)
            if not src.is_file():
                raise FileNotFoundError(f"extra file {src} (for {rel!r}) does not exist")
            shutil.copyfile(src, dest)


def _write_blackbox_dir(root: str | os.PathLike[str], name: str, fill: Callable[[Path], dict],
                        extra_files: Mapping[str, Path | bytes] | None, overwrite: bool,
                        storage_options: Mapping[str, Any] | None = None) -> str:
    """Write a blackbox folder atomically: ``fill(tmp)`` writes data files and returns the metadata."""
    _check_name(name)
    if is_remote(root):
        remote = parse_root(str(root), storage_options)
        if not overwrite and name in remote.list_names():
            raise BlackboxExistsError(f"{remote.file_url(name)} already exists; pass overwrite=True to replace it")
        with tempfile.TemporaryDirectory(prefix="hpo-arena-upload-") as staging:
            _write_blackbox_dir(staging, name, fill, extra_files, overwrite=False)
            metadata = json.loads((Path(staging) / name / METADATA_FILE).read_text())
            remote.upload_folder(Path(staging) / name, name, sorted(metadata["files"]) + [METADATA_FILE])
        return remote.file_url(name)
    root_path = _local_root(root)
    root_path.mkdir(parents=True, exist_ok=True)
    final = root_path / name
    if final.exists() and not overwrite:
        raise BlackboxExistsError(f"{final} already exists; pass overwrite=True to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root_path))
    # mkdtemp makes the folder private (0700); a repository is meant to be shared, so open it like mkdir would.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        metadata = fill(tmp)
        if extra_files:
            _write_files(tmp, extra_files)
        if not isinstance(metadata.get("kind"), str) or not metadata["kind"]:
            raise ValueError("blackbox metadata needs a 'kind' (e.g. 'tabular', 'yahpo')")
        tasks = metadata.get("tasks")
        if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
            raise ValueError(f"blackbox metadata needs 'tasks': a non-empty list of names, got {tasks!r}")
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"task names must be distinct: {tasks}")
        listed = {}
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                rel = path.relative_to(tmp).as_posix()
                if rel != METADATA_FILE:
                    listed[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        task_files = {t: [] for t in tasks}
        for t, rels in (metadata.get("task_files") or {}).items():
            if t not in task_files:
                raise ValueError(f"task_files names task {t!r}, which is not in tasks {tasks}")
            for rel in rels:
                if rel not in listed:
                    raise ValueError(f"task_files of {t!r} names {rel!r}, which was not written")
            task_files[t] = list(rels)
        full = {"format_version": FORMAT_VERSION, "name": name, **metadata, "task_files": task_files,
                "files": listed}
        (tmp / METADATA_FILE).write_text(json.dumps(seal_metadata(full), indent=1, allow_nan=True))
        _fsync_tree(tmp)
        _install(tmp, final, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(final)


def serialize_files(root: str | os.PathLike[str], name: str, metadata: Mapping[str, Any],
                    files: Mapping[str, Path | bytes], *, overwrite: bool = False,
                    storage_options: Mapping[str, Any] | None = None) -> str:
    """Store a blackbox of any kind given as files: ``metadata`` needs ``kind`` and ``tasks`` (and may hold
    ``task_files``, ``kind_module`` and whatever the kind's loader reads); ``files`` maps relative paths to
    a source file or bytes. Checksums, ``format_version`` and ``name`` are added. Returns the folder/URL."""
    if METADATA_FILE in files:
        raise ValueError(f"{METADATA_FILE} is written by serialize_files; pass its content as `metadata`")
    reserved = {"format_version", "name", "files"} & set(metadata)
    if reserved:
        raise ValueError(f"metadata keys {sorted(reserved)} are filled in by serialize_files; remove them")

    def fill(tmp: Path) -> dict:
        _write_files(tmp, files)
        return dict(metadata)

    return _write_blackbox_dir(root, name, fill, None, overwrite, storage_options)


def serialize(blackboxes: Mapping[str, Blackbox], root: str | os.PathLike[str], name: str, *,
              extra_files: Mapping[str, Path | bytes] | None = None, overwrite: bool = False,
              kind: str | None = None, storage_options: Mapping[str, Any] | None = None) -> str:
    """Store ``{task: blackbox}`` as ``<root>/<name>/`` (local folder or remote URL); returns where.

    ``kind`` defaults to ``"tabular"`` (every blackbox a ``TabularBlackbox``); other kinds need a writer
    given to ``register_kind``. ``extra_files`` ({relative path: file or bytes}) are stored and checksummed
    too (licence texts, a README...).
    """
    if not isinstance(blackboxes, Mapping) or not blackboxes:
        raise ValueError("serialize needs a non-empty mapping {task name: blackbox}")
    kind = kind or "tabular"
    handler = _handler(kind, {}, "serialize")
    if handler.writer is None:
        raise ValueError(f"kind {kind!r} has no writer: store it with serialize_files(root, name, metadata, files)")
    writer = handler.writer

    def fill(tmp: Path) -> dict:
        metadata = writer(blackboxes, tmp)
        metadata.setdefault("kind", kind)
        return metadata

    return _write_blackbox_dir(root, name, fill, extra_files, overwrite, storage_options)


# --- the built-in tabular kind ---------------------------------------------------------------------------


def _storable_column(name: str, column: pd.Series) -> pd.Series:
    """One Python type per hyperparameter column: str, int64, float64 or bool."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype(bool)
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.astype(np.int64)
    if pd.api.types.is_float_dtype(column.dtype):
        return column.astype(np.float64)
    if pd.api.types.is_string_dtype(column.dtype) and not pd.api.types.is_object_dtype(column.dtype):
        return column
    inferred = pd.api.types.infer_dtype(column, skipna=False)
    if inferred == "string":
        return column.astype(str)
    if inferred == "integer":
        return column.astype(np.int64)
    if inferred in ("floating", "mixed-integer-float", "integer-na"):
        return column.astype(np.float64)
    if inferred == "boolean":
        return column.astype(bool)
    types = sorted({type(v).__name__ for v in column.tolist()})
    raise ValueError(
        f"hyperparameter column {name!r} mixes types {types}: a stored column needs one type "
        "(convert the values, e.g. all to str)"
    )


def _same_tabular_layout(first: TabularBlackbox, task: str, bb: TabularBlackbox) -> None:
    checks = [
        ("configuration space", first.configuration_space.to_dict(), bb.configuration_space.to_dict()),
        ("objective names", first.objectives_names, bb.objectives_names),
        ("fidelity name", first.fidelity_name, bb.fidelity_name),
        ("fidelity values", None if first.fidelity_values is None else first.fidelity_values.tolist(),
         None if bb.fidelity_values is None else bb.fidelity_values.tolist()),
        ("number of seeds", first.num_seeds, bb.num_seeds),
        ("blackbox metadata", first.metadata.to_dict(), bb.metadata.to_dict()),
    ]
    for what, a, b in checks:
        if a != b:
            raise ValueError(f"task {task!r} differs from the first task in its {what}: {b!r} vs {a!r}; "
                             "tasks of one blackbox share everything but their objective values")
    if bb.hyperparameters is not first.hyperparameters and not bb.hyperparameters.equals(first.hyperparameters):
        raise ValueError(f"task {task!r} has other hyperparameter rows than the first task; tasks of one "
                         "tabular blackbox share hyperparameters.parquet (reorder the rows, or store separately)")


def _write_tabular(blackboxes: Mapping[str, Blackbox], directory: Path) -> dict:
    items = list(blackboxes.items())
    for task, bb in items:
        if not isinstance(bb, TabularBlackbox):
            raise TypeError(f"task {task!r} is a {type(bb).__name__}, not a TabularBlackbox; give kind=... "
                            "for other blackboxes")
    first = items[0][1]
    assert isinstance(first, TabularBlackbox)
    for task, bb in items[1:]:
        _same_tabular_layout(first, task, bb)
    hp = pd.DataFrame({c: _storable_column(c, first.hyperparameters[c]) for c in first.hyperparameters.columns})
    hp.to_parquet(directory / HYPERPARAMETERS_FILE, index=False, engine="pyarrow")
    (directory / OBJECTIVES_DIR).mkdir()
    objectives_files: dict[str, str] = {}
    stems: set[str] = set()
    for task, bb in items:
        stem = task_file_stem(task)
        if stem.lower() in stems:
            raise ValueError(f"task {task!r} collides with another task's file name (case-insensitively)")
        stems.add(stem.lower())
        rel = f"{OBJECTIVES_DIR}/{stem}.npy"
        np.save(directory / rel, np.ascontiguousarray(bb.objectives, dtype=np.float32), allow_pickle=False)
        objectives_files[task] = rel
    return {
        "kind": "tabular",
        "tasks": [t for t, _ in items],
        "task_files": {t: [objectives_files[t]] for t, _ in items},
        "configuration_space": first.configuration_space.to_dict(),
        "fidelity": None if first.fidelity_name is None else {
            "name": first.fidelity_name, "values": first.fidelity_values.tolist()},
        "objectives": list(first.objectives_names),
        "num_seeds": first.num_seeds,
        "num_configs": first.num_configs,
        "value_dtype": "float32",
        "hyperparameters_file": HYPERPARAMETERS_FILE,
        "objectives_files": objectives_files,
        "blackbox": first.metadata.to_dict(),
    }


def _load_tabular(directory: Path, metadata: dict) -> dict[str, Blackbox]:
    space = SearchSpace.from_dict(metadata["configuration_space"])
    hp = pd.read_parquet(directory / metadata.get("hyperparameters_file", HYPERPARAMETERS_FILE))
    bmeta = BlackboxMetadata.from_dict(metadata["blackbox"])
    fidelity = metadata.get("fidelity")
    names = metadata["objectives"]
    n_fid = 1 if fidelity is None else len(fidelity["values"])
    expected = (int(metadata["num_configs"]), int(metadata["num_seeds"]), n_fid, len(names))
    out: dict[str, Blackbox] = {}
    for task in metadata["tasks"]:
        path = directory / metadata["objectives_files"][task]
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError:  # an empty array cannot be memory-mapped
            mapped = np.load(path, allow_pickle=False)
        if mapped.dtype != np.float32 or mapped.shape != expected:
            raise RepositoryError(
                f"{path} holds {mapped.dtype} {mapped.shape}, but metadata.json describes float32 {expected}; "
                "the blackbox folder is inconsistent, re-create it with serialize(..., overwrite=True)"
            )
        # A plain ndarray view of the map: np.memmap's subclass hooks make every indexing slower.
        objectives = np.asarray(mapped)
        out[task] = TabularBlackbox(
            hp, objectives, space, names, bmeta,
            None if fidelity is None else fidelity["name"], None if fidelity is None else fidelity["values"], task,
        )
    return out


register_kind("tabular", _load_tabular, _write_tabular)


# ---------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------


class BlackboxGroup(Mapping[str, Blackbox]):
    """The tasks of one stored blackbox: ``group[task]`` is a ``Blackbox``."""

    def __init__(self, name: str, metadata: dict, directory: Path, source: str, blackboxes: dict[str, Blackbox]):
        self.name = name
        self.metadata = metadata
        self.directory = directory
        self.source = source
        self._blackboxes = blackboxes

    @property
    def kind(self) -> str:
        return self.metadata["kind"]

    @property
    def tasks(self) -> list[str]:
        return list(self._blackboxes)

    @property
    def size_bytes(self) -> int:
        return stored_size(self.metadata)

    def __getitem__(self, task: str) -> Blackbox:
        try:
            return self._blackboxes[task]
        except KeyError:
            raise BlackboxLookupError(closest_choices_message(f"task of {self.name}", task, self.tasks)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._blackboxes)

    def __len__(self) -> int:
        return len(self._blackboxes)

    def __repr__(self) -> str:
        return f"BlackboxGroup({self.name!r}, kind={self.kind!r}, tasks={self.tasks}, source={self.source!r})"


def stored_size(metadata: Mapping[str, Any]) -> int:
    """Bytes of the data files listed in a blackbox's metadata."""
    return int(sum(int(spec["size"]) for spec in metadata.get("files", {}).values()))


class MetadataChecksumError(RepositoryError):
    """A blackbox's metadata.json no longer matches the checksum written with it (it was edited)."""


METADATA_CHECKSUM_KEY = "metadata_sha256"


def metadata_checksum(metadata: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no whitespace) of the metadata without its checksum key."""
    content = {k: v for k, v in metadata.items() if k != METADATA_CHECKSUM_KEY}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True,
                           default=_json_default)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seal_metadata(metadata: Mapping[str, Any]) -> dict:
    """The metadata as it will read back from JSON, with ``metadata_sha256`` over the rest of it.

    The data files are checksummed in ``files``; this covers the metadata itself (metric direction, time
    objective, configuration space, ...), which decides how methods are compared: an edit such as ``mode``
    min -> max is detected when the blackbox is loaded. Metadata written before the key existed has none and
    loads as before.
    """
    plain = json.loads(json.dumps({k: v for k, v in metadata.items() if k != METADATA_CHECKSUM_KEY},
                                  default=_json_default, allow_nan=True))
    return {**plain, METADATA_CHECKSUM_KEY: metadata_checksum(plain)}


def _parse_metadata(raw: bytes, where: str) -> dict:
    try:
        metadata = json.loads(raw)
    except ValueError as err:
        raise RepositoryError(f"{where} is not valid JSON ({err}); re-create or re-download the blackbox") from None
    if not isinstance(metadata, dict):
        raise RepositoryError(f"{where} must hold a JSON object")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RepositoryError(
            f"{where} has format_version {version!r}; this hpo-arena reads versions up to {FORMAT_VERSION} "
            "(upgrade hpo-arena)"
        )
    for key in ("kind", "tasks", "files"):
        if key not in metadata:
            raise RepositoryError(f"{where} lacks the key {key!r}; it is not a blackbox metadata file")
    recorded = metadata.get(METADATA_CHECKSUM_KEY)
    if recorded is not None and recorded != metadata_checksum(metadata):
        raise MetadataChecksumError(
            f"{where} was modified after it was written: its content no longer matches its {METADATA_CHECKSUM_KEY} "
            "(an edited metric direction, time objective or search space changes what every comparison means). "
            "Restore the file, download the blackbox again, or re-create it with `arena convert` / serialize(...)"
        )
    return metadata


def _required_files(metadata: dict, task: str | None) -> list[str]:
    files = list(metadata["files"])
    if task is None:
        return files
    per_task = metadata.get("task_files") or {}
    others = {rel for t, rels in per_task.items() if t != task for rel in rels}
    mine = set(per_task.get(task, []))
    return [rel for rel in files if rel in mine or rel not in others]


def _check_task(name: str, metadata: dict, task: str | None) -> None:
    if task is not None and task not in metadata["tasks"]:
        raise BlackboxLookupError(closest_choices_message(f"task of {name}", task, metadata["tasks"]))


@dataclass
class _Located:
    directory: Path
    metadata: dict
    source: str  # root, for messages and the CLI


def _load_local(name: str, root: Path, task: str | None, verify: bool, cache: Path) -> _Located:
    directory = root / name
    meta_path = directory / METADATA_FILE
    if not directory.is_dir():
        raise UnknownBlackboxError(_not_found_message(name, str(root), list_blackboxes(root)))
    try:
        raw = meta_path.read_bytes()
    except FileNotFoundError:
        raise BlackboxNotFoundError(
            f"{meta_path} is missing: {directory} is not a complete blackbox (an interrupted copy?). "
            "Re-create it with serialize(..., overwrite=True) or delete the folder"
        ) from None
    metadata = _parse_metadata(raw, str(meta_path))
    _check_task(name, metadata, task)
    problems = _check_files(directory, metadata, hashlib.sha256(raw).hexdigest(), _required_files(metadata, task),
                            verify=verify, cache=cache)
    for p in problems:
        if p.missing:
            raise BlackboxNotFoundError(
                f"{directory / p.rel} is missing (listed in {meta_path}); re-create the blackbox with "
                "serialize(..., overwrite=True) or copy the file back"
            )
        raise ChecksumError(
            str(directory / p.rel), p.expected_sha256, p.actual_sha256, p.expected_size, p.actual_size,
            f"The local copy is damaged: re-create it with serialize(..., overwrite=True), or download "
            f"the blackbox again (delete {directory} if it came from a remote root)",
        )
    return _Located(directory, metadata, str(root))


def _fetch_verified(remote: RemoteRoot, name: str, directory: Path, rel: str, spec: Mapping[str, Any]) -> None:
    """Download ``<remote>/<name>/<rel>`` into ``directory``; check it; fetch once more if it is wrong."""
    dest = directory / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    actual, size = "", 0
    for force in (False, True):
        part = dest.with_name(f".{dest.name}.part-{os.getpid()}")
        try:
            try:
                remote.fetch(f"{name}/{rel}", part, force=force)
            except RemoteRefetchImpossible as err:
                raise ChecksumError(remote.file_url(f"{name}/{rel}"), spec["sha256"], actual, spec["size"], size,
                                    f"It could not be downloaded again: {err}") from None
            except RemoteFileMissing as err:
                raise BlackboxNotFoundError(f"{err} (listed in {remote.file_url(name)}/{METADATA_FILE}); "
                                            "re-upload the blackbox") from None
            size = part.stat().st_size
            actual = sha256_file(part)
            if actual == spec["sha256"] and size == spec["size"]:
                os.replace(part, dest)
                return
        finally:
            part.unlink(missing_ok=True)
    raise ChecksumError(
        remote.file_url(f"{name}/{rel}"), spec["sha256"], actual, spec["size"], size,
        "The remote copy does not match its metadata.json (downloaded twice): re-upload the blackbox "
        f"(`arena blackboxes upload {name} --to {remote.url}`), then load again",
    )


def _fetch_metadata(remote: RemoteRoot, name: str, dest: Path) -> bytes:
    try:
        remote.fetch(f"{name}/{METADATA_FILE}", dest)
    except RemoteFileMissing as err:
        try:
            available = remote.list_names()
        except Exception:  # noqa: BLE001 - listing is only for the hint
            available = []
        raise UnknownBlackboxError(f"{_not_found_message(name, remote.url, available)} ({err})") from None
    return dest.read_bytes()


def _load_remote(name: str, remote: RemoteRoot, task: str | None, verify: bool, refresh: bool,
                 cache: Path) -> _Located:
    base = cache / "remote" / remote.cache_key
    directory = base / name
    meta_path = directory / METADATA_FILE
    metadata = None
    if not refresh and meta_path.is_file():
        raw = meta_path.read_bytes()
        try:
            metadata = _parse_metadata(raw, str(meta_path))
        except RepositoryError:
            metadata = None  # a damaged cached metadata.json: download everything again
    if metadata is None:
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.download-", dir=base))
        try:
            raw = _fetch_metadata(remote, name, staging / METADATA_FILE)
            metadata = _parse_metadata(raw, remote.file_url(f"{name}/{METADATA_FILE}"))
            _check_task(name, metadata, task)
            for rel in _required_files(metadata, task):
                _fetch_verified(remote, name, staging, rel, metadata["files"][rel])
            try:
                _install(staging, directory, overwrite=True)
            except OSError:
                pass  # another process installed it first; its copy is checked below
            else:
                # Content was checked in staging; renames keep it: stamp it so it is not hashed again.
                raw = meta_path.read_bytes()
                _write_stamp(cache, directory, hashlib.sha256(raw).hexdigest(),
                             {rel: _file_state(directory / rel) for rel in _required_files(metadata, task)})
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        raw = meta_path.read_bytes()
        metadata = _parse_metadata(raw, str(meta_path))
    _check_task(name, metadata, task)
    sha = hashlib.sha256(raw).hexdigest()
    required = _required_files(metadata, task)
    problems = _check_files(directory, metadata, sha, required, verify=verify, cache=cache)
    if problems:
        for p in problems:  # missing (another task's file) or damaged in the cache: fetch it (again)
            _fetch_verified(remote, name, directory, p.rel, metadata["files"][p.rel])
        problems = _check_files(directory, metadata, sha, required, verify=False, cache=cache)
        if problems:
            p = problems[0]
            raise ChecksumError(str(directory / p.rel), p.expected_sha256, p.actual_sha256, p.expected_size,
                                p.actual_size, f"Delete {directory} and load again")
    return _Located(directory, metadata, remote.url)


def _not_found_message(name: str, root: str, available: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(available[:20]) + (f", ... ({len(available)} in all)" if len(available) > 20 else "")
    message = f"no blackbox named {name!r} at {root}{hint} (available: {shown or 'none'})"
    get = _data_hint(name, root)
    return f"{message}; {get}" if get else message


def _data_hint(name: str, root: str) -> str:
    """How to get a missing blackbox (``arena data get ...``), for ``root`` as named in the message."""
    from blackbox_repo.data.catalogue import missing_hint

    default = default_root()
    if root == str(embedded_root()):
        return ""  # the embedded root holds only what ships with the package
    in_default = root == default or root.startswith(f"{default} or ")
    return missing_hint(name, None if in_default else root)


def _locate(name: str, root: str | os.PathLike[str] | None, task: str | None, *, cache_dir: Path | None,
            storage_options: Mapping[str, Any] | None, verify: bool, refresh: bool) -> _Located:
    _check_name(name)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    roots: list[str | os.PathLike[str]] = [root] if root is not None else [default_root(), embedded_root()]
    last_error: BlackboxNotFoundError | None = None
    for candidate in roots:
        try:
            if is_remote(candidate):
                return _load_remote(name, parse_root(str(candidate), storage_options), task, verify, refresh, cache)
            path = _local_root(candidate)
            if root is None and not (path / name).is_dir():
                continue  # default search: try the next root
            return _load_local(name, path, task, verify, cache)
        except UnknownBlackboxError as err:
            if root is not None:
                raise
            last_error = err
    if last_error is not None:
        raise last_error
    raise UnknownBlackboxError(
        _not_found_message(name, f"{default_root()} or the embedded benchmarks", list_blackboxes(None))
    )


def load_blackbox(name: str, root: str | os.PathLike[str] | None = None, task: str | None = None, *,
                  cache_dir: str | os.PathLike[str] | None = None,
                  storage_options: Mapping[str, Any] | None = None, verify: bool = False,
                  refresh: bool = False) -> BlackboxGroup | Blackbox:
    """Load a stored blackbox: the ``BlackboxGroup`` of all its tasks, or one task's ``Blackbox``.

    ``root``: a folder, ``s3://bucket/prefix`` or ``hf://datasets/org/repo[/dir]`` (default: the configured
    repository, then the embedded benchmarks). ``verify=True`` re-hashes every file; ``refresh=True``
    downloads a remote blackbox again even if it is cached.
    """
    located = _locate(name, root, task, cache_dir=None if cache_dir is None else Path(cache_dir),
                      storage_options=storage_options, verify=verify, refresh=refresh)
    metadata = located.metadata
    handler = _handler(metadata["kind"], metadata, str(located.directory / METADATA_FILE))
    loader_metadata = metadata if task is None else {**metadata, "tasks": [task]}
    blackboxes = handler.loader(located.directory, loader_metadata)
    group = BlackboxGroup(name, metadata, located.directory, located.source,
                          {t: blackboxes[t] for t in loader_metadata["tasks"]})
    return group if task is None else group[task]


def read_metadata(name: str, root: str | os.PathLike[str] | None = None, *,
                  cache_dir: str | os.PathLike[str] | None = None,
                  storage_options: Mapping[str, Any] | None = None) -> tuple[dict, str]:
    """``(metadata.json content, where it lives)`` without loading (or downloading) the data files."""
    _check_name(name)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    roots = [root] if root is not None else [default_root(), embedded_root()]
    for candidate in roots:
        if is_remote(candidate):
            remote = parse_root(str(candidate), storage_options)
            cached = cache / "remote" / remote.cache_key / name / METADATA_FILE
            if cached.is_file():
                return _parse_metadata(cached.read_bytes(), str(cached)), remote.file_url(name)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    raw = _fetch_metadata(remote, name, Path(tmp) / METADATA_FILE)
            except UnknownBlackboxError:
                if root is not None:
                    raise
                continue
            return _parse_metadata(raw, remote.file_url(f"{name}/{METADATA_FILE}")), remote.file_url(name)
        path = _local_root(candidate) / name
        meta_path = path / METADATA_FILE
        if meta_path.is_file():
            return _parse_metadata(meta_path.read_bytes(), str(meta_path)), str(path)
        if root is not None:
            if path.is_dir():
                raise BlackboxNotFoundError(f"{meta_path} is missing: {path} is not a complete blackbox")
            raise UnknownBlackboxError(_not_found_message(name, str(candidate), list_blackboxes(candidate)))
    raise UnknownBlackboxError(
        _not_found_message(name, f"{default_root()} or the embedded benchmarks", list_blackboxes(None))
    )


def list_blackboxes(root: str | os.PathLike[str] | None = None, *,
                    storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the blackboxes at ``root`` (default: the configured repository plus the embedded ones)."""
    if root is None:
        names = set(list_blackboxes(embedded_root()))
        try:
            names |= set(list_blackboxes(default_root(), storage_options=storage_options))
        except OSError:
            pass  # an unreachable default remote root must not hide the embedded benchmarks
        return sorted(names)
    if is_remote(root):
        return parse_root(str(root), storage_options).list_names()
    path = _local_root(root)
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file())


def upload(name: str, src_root: str | os.PathLike[str] | None, dest_url: str, *,
           storage_options: Mapping[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """Copy a stored blackbox (verified by checksum first) to ``s3://...`` or ``hf://datasets/org/repo[/dir]``.

    ``storage_options`` are for the destination. Returns the URL of the uploaded folder.
    """
    if not is_remote(dest_url):
        raise ValueError(f"upload needs a remote destination (s3://bucket/prefix or hf://datasets/org/repo), "
                         f"got {dest_url!r}; to copy between folders use serialize or a file copy")
    located = _locate(name, src_root, None, cache_dir=None if cache_dir is None else Path(cache_dir),
                      storage_options=None, verify=True, refresh=False)
    remote = parse_root(dest_url, storage_options)
    remote.upload_folder(located.directory, name, sorted(located.metadata["files"]) + [METADATA_FILE])
    return remote.file_url(name)
