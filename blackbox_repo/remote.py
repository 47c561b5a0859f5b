"""Remote repository roots: S3 (any fsspec URL) and Hugging Face dataset repositories.

A *root* is where blackbox folders live (``<root>/<name>/metadata.json`` ...). This module only moves
files; caching, checksums and loading live in ``blackbox_repo.repository``.

Accepted remote roots:

``s3://bucket/prefix`` (or any other fsspec URL, e.g. ``gs://``, ``memory://``)
    Read and written through fsspec (s3fs for S3). Options go in ``storage_options`` (passed to the
    filesystem). For S3, a custom endpoint (MinIO, moto, ...) is taken from ``storage_options``
    (``endpoint_url`` or ``client_kwargs={"endpoint_url": ...}``), else from the standard environment
    variables ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``; credentials follow the usual AWS chain.

``hf://datasets/<org>/<repo>[@<revision>][/<subdir>]``
    A Hugging Face *dataset* repository, read with ``huggingface_hub.hf_hub_download`` (files land in the
    Hugging Face cache first, ``HF_HUB_CACHE`` / ``storage_options["cache_dir"]``) and written with
    ``HfApi.upload_folder`` (one commit per blackbox). With ``HF_HUB_OFFLINE=1`` only the Hugging Face
    cache is read, so a pre-filled cache works without network. ``storage_options`` may hold ``token``,
    ``revision``, ``cache_dir`` and ``endpoint``.
"""
from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HF_PREFIX = "hf://"
_TRUE = {"1", "on", "yes", "true"}


class RemoteFileMissing(FileNotFoundError):
    """A file the caller asked for is not at the remote root (or, offline, not in the local hub cache)."""


class RemoteRefetchImpossible(RuntimeError):
    """A file cannot be downloaded again (e.g. hub offline mode); carries the reason."""


def is_remote(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` names a remote root (a URL with a scheme other than ``file``)."""
    text = str(root)
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text)) and not text.startswith("file://")


def local_path(url: str | os.PathLike[str]) -> str | None:
    """The local path of ``url`` (a plain path or a ``file://`` URL), or None for any other fsspec URL.

    Sweeps write and ``arena plot`` reads local folders with the os module: importing fsspec (it scans every
    installed package's entry points) costs a sweep more than writing a results file.
    """
    url = os.fspath(url)
    if url.startswith("file://"):
        return url[len("file://"):]
    if "://" in url or "::" in url:  # a protocol, or fsspec's chained URLs
        return None
    return url


class LocalFiles:
    """The file-system calls the results writers and readers make, on the local disk, as fsspec's
    ``LocalFileSystem`` answers them (absolute paths, hidden names matched by ``*``, symbolic links followed).
    Local roots use it so that writing or reading a study does not import fsspec (its import scans every
    installed package's entry points, which costs a sweep more than writing a results file)."""

    protocol = ("file", "local")

    def open(self, path: str, mode: str = "rb", encoding: str | None = None):
        return open(path, mode, encoding=encoding) if "b" not in mode else open(path, mode)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def ls(self, path: str, detail: bool = False) -> list[str]:
        assert not detail, "only names are listed"
        return [posixpath.join(path, entry.name) for entry in os.scandir(path)]

    def glob(self, pattern: str) -> list[str]:
        return glob.glob(pattern, include_hidden=True)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        os.makedirs(path, exist_ok=exist_ok)

    def rm(self, path: str) -> None:
        os.remove(path)

    def size(self, path: str) -> int:
        return os.stat(path).st_size  # FileNotFoundError when absent, as fsspec raises


def _absolute(path: str) -> str:
    """A local path as fsspec's ``LocalFileSystem`` names it: absolute, "~" expanded, no trailing slash."""
    if path.startswith("~"):
        path = os.path.expanduser(path)
    elif not path.startswith("/"):
        path = f"{os.getcwd()}/{path[2:] if path.startswith('./') else '' if path == '.' else path}"
    return path.rstrip("/") or "/"


def filesystem(url: str | os.PathLike[str]):
    """(file system, path) of a root or file: ``LocalFiles`` for local paths, else fsspec's for the URL."""
    local = local_path(url) if os.sep == "/" else None
    if local is not None:
        return LocalFiles(), _absolute(local)
    import fsspec

    fs, path = fsspec.core.url_to_fs(os.fspath(url))
    return fs, path


def parse_root(root: str, storage_options: Mapping[str, Any] | None = None) -> RemoteRoot:
    """The remote root object for a URL (``hf://datasets/...`` or an fsspec URL)."""
    if root.startswith(HF_PREFIX):
        return HubRoot.from_url(root, storage_options)
    return FsspecRoot(root, dict(storage_options or {}))


def _sanitise(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80]


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RemoteRoot(ABC):
    """A place holding blackbox folders that is reached over the network."""

    url: str

    @property
    def cache_key(self) -> str:
        """Folder name under ``<cache>/remote/`` for this root: readable prefix + hash of what identifies it."""
        digest = hashlib.sha256(self._identity().encode("utf-8")).hexdigest()[:10]
        return f"{_sanitise(self.url)}-{digest}"

    def _identity(self) -> str:
        return self.url

    def file_url(self, relpath: str) -> str:
        return f"{self.url.rstrip('/')}/{relpath}"

    @abstractmethod
    def fetch(self, relpath: str, dest: Path, *, force: bool = False) -> None:
        """Copy ``<root>/<relpath>`` to the local file ``dest`` (``force``: bypass any intermediate cache)."""

    @abstractmethod
    def list_names(self) -> list[str]:
        """Names of the blackboxes (folders holding a ``metadata.json``) at this root."""

    @abstractmethod
    def upload_folder(self, local_dir: Path, name: str, files: list[str]) -> None:
        """Put ``files`` (relative to ``local_dir``) under ``<root>/<name>/``; ``metadata.json`` last."""


class FsspecRoot(RemoteRoot):
    """A root reached through fsspec (``s3://`` via s3fs, and any other fsspec protocol)."""

    def __init__(self, url: str, storage_options: dict[str, Any]):
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options)
        self.protocol = url.split("://", 1)[0]
        if self.protocol in ("s3", "s3a") and not self._explicit_endpoint():
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                self.storage_options["endpoint_url"] = endpoint
        self._fs = None

    def _explicit_endpoint(self) -> str | None:
        client_kwargs = self.storage_options.get("client_kwargs") or {}
        return self.storage_options.get("endpoint_url") or client_kwargs.get("endpoint_url")

    def _identity(self) -> str:
        # The same bucket name on two endpoints (AWS vs a local MinIO) must not share a cache folder.
        endpoint = self._explicit_endpoint()
        return self.url if not endpoint else f"{self.url} @ {endpoint}"

    @property
    def fs(self):
        if self._fs is None:
            import fsspec

            # fsspec shares one instance per (protocol, options): client set-up is paid once per process.
            # Its listings cache is dropped before every listing (list_names), so uploads are seen.
            self._fs, _ = fsspec.core.url_to_fs(self.url, **self.storage_options)
        return self._fs

    def _path(self, relpath: str) -> str:
        _, base = fsspec_split(self.url)
        return f"{base.rstrip('/')}/{relpath}" if base else relpath

    def fetch(self, relpath: str, dest: Path, *, force: bool = False) -> None:
        try:
            self.fs.get_file(self._path(relpath), str(dest))
        except FileNotFoundError:
            raise RemoteFileMissing(f"{self.file_url(relpath)} does not exist") from None

    def list_names(self) -> list[str]:
        pattern = self._path("*/metadata.json")
        self.fs.invalidate_cache()
        try:
            found = self.fs.glob(pattern)
        except FileNotFoundError:
            return []
        return sorted({p.rstrip("/").split("/")[-2] for p in found})

    def upload_folder(self, local_dir: Path, name: str, files: list[str]) -> None:
        ordered = [f for f in files if f != "metadata.json"] + ["metadata.json"]
        for rel in ordered:
            self.fs.put_file(str(local_dir / rel), self._path(f"{name}/{rel}"))
        self.fs.invalidate_cache()


def fsspec_split(url: str) -> tuple[str, str]:
    """``("s3", "bucket/prefix")`` for ``"s3://bucket/prefix"``."""
    protocol, _, rest = url.partition("://")
    return protocol, rest.rstrip("/")


def hub_offline() -> bool:
    """Offline mode of the hub: ``HF_HUB_OFFLINE`` read now (huggingface_hub reads it only at import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


class HubRoot(RemoteRoot):
    """A Hugging Face dataset repository (optionally a sub-folder of it) holding blackbox folders."""

    def __init__(self, repo_id: str, subdir: str = "", revision: str | None = None,
                 storage_options: Mapping[str, Any] | None = None, url: str | None = None):
        opts = dict(storage_options or {})
        self.repo_id = repo_id
        self.subdir = subdir.strip("/")
        self.revision = opts.pop("revision", None) or revision or "main"
        self.token = opts.pop("token", None)
        self.hf_cache_dir = opts.pop("cache_dir", None) or os.environ.get("HF_HUB_CACHE")
        self.endpoint = opts.pop("endpoint", None)
        if opts:
            raise ValueError(f"unknown storage_options for a Hugging Face root: {sorted(opts)} "
                             "(valid: token, revision, cache_dir, endpoint)")
        self.url = url or f"{HF_PREFIX}datasets/{repo_id}" + (f"/{self.subdir}" if self.subdir else "")

    @classmethod
    def from_url(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> HubRoot:
        rest = url[len(HF_PREFIX):].strip("/")
        parts = rest.split("/")
        if len(parts) < 3 or parts[0] != "datasets":
            raise ValueError(
                f"a Hugging Face root must look like hf://datasets/<org>/<repo>[/<subdir>], got {url!r} "
                "(blackboxes are stored in dataset repositories)"
            )
        org, repo = parts[1], parts[2]
        revision = None
        if "@" in repo:
            repo, revision = repo.split("@", 1)
        return cls(f"{org}/{repo}", "/".join(parts[3:]), revision, storage_options, url=url.rstrip("/"))

    def _identity(self) -> str:
        return f"{self.url} @ {self.revision}"

    def _filename(self, relpath: str) -> str:
        return f"{self.subdir}/{relpath}" if self.subdir else relpath

    def fetch(self, relpath: str, dest: Path, *, force: bool = False) -> None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

        offline = hub_offline()
        if force and offline:
            raise RemoteRefetchImpossible(
                "HF_HUB_OFFLINE=1 forbids downloading it again; unset HF_HUB_OFFLINE, or repair the "
                "Hugging Face cache (`hf cache delete`, or delete the repo folder under "
                f"{self.hf_cache_dir or '~/.cache/huggingface/hub'})"
            )
        try:
            cached = hf_hub_download(
                self.repo_id, self._filename(relpath), repo_type="dataset", revision=self.revision,
                cache_dir=self.hf_cache_dir, token=self.token, endpoint=self.endpoint,
                force_download=force, local_files_only=offline,
            )
        except EntryNotFoundError as err:  # includes the offline "not in the local cache" case
            where = "in the local Hugging Face cache (HF_HUB_OFFLINE=1)" if offline else "on the hub"
            raise RemoteFileMissing(f"{self.file_url(relpath)} was not found {where}: {err}") from None
        except HfHubHTTPError as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status == 404 or type(err).__name__ in (
                "RemoteEntryNotFoundError", "RepositoryNotFoundError", "RevisionNotFoundError"
            ):
                raise RemoteFileMissing(f"{self.file_url(relpath)} does not exist on the hub: {err}") from None
            raise
        # The hub cache keeps its own copy (a blob); ours must be independent of it.
        shutil.copyfile(cached, dest)

    def _cached_snapshot(self) -> Path | None:
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        cache = Path(self.hf_cache_dir or constants.HF_HUB_CACHE)
        repo_dir = cache / repo_folder_name(repo_id=self.repo_id, repo_type="dataset")
        ref = repo_dir / "refs" / self.revision
        commit = ref.read_text().strip() if ref.is_file() else self.revision
        snapshot = repo_dir / "snapshots" / commit
        return snapshot if snapshot.is_dir() else None

    def list_names(self) -> list[str]:
        if hub_offline():
            snapshot = self._cached_snapshot()
            if snapshot is None:
                return []
            base = snapshot / self.subdir if self.subdir else snapshot
            return sorted(p.parent.name for p in base.glob("*/metadata.json"))
        from huggingface_hub import HfApi

        files = HfApi(endpoint=self.endpoint, token=self.token).list_repo_files(
            self.repo_id, repo_type="dataset", revision=self.revision
        )
        prefix = f"{self.subdir}/" if self.subdir else ""
        names = set()
        for f in files:
            if f.startswith(prefix):
                parts = f[len(prefix):].split("/")
                if len(parts) == 2 and parts[1] == "metadata.json":
                    names.add(parts[0])
        return sorted(names)

    def upload_folder(self, local_dir: Path, name: str, files: list[str]) -> None:
        from huggingface_hub import HfApi

        if hub_offline():
            raise RuntimeError("cannot upload to the Hugging Face hub with HF_HUB_OFFLINE=1; unset it first")
        api = HfApi(endpoint=self.endpoint, token=self.token)
        api.create_repo(self.repo_id, repo_type="dataset", exist_ok=True)
        # One commit holds every file, so readers never see a half-uploaded blackbox.
        api.upload_folder(
            repo_id=self.repo_id, repo_type="dataset", folder_path=str(local_dir),
            path_in_repo=self._filename(name), revision=None if self.revision == "main" else self.revision,
            allow_patterns=list(files), commit_message=f"Upload blackbox {name} (hpo-arena)",
        )
