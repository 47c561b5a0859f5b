"""Copying stored studies from a remote results root (s3://bucket/prefix, any fsspec URL) to a local folder.

``pull_results(source, dest)`` mirrors ``<tag>/study.json`` and, for every experiment folder
``<tag>/<benchmark>/<method>/<seed>/``, ``metadata.json``, ``results.parquet`` and ``trials.parquet``:

- only complete experiments by default (``status == "complete"``), so a study still running on SageMaker can be
  pulled repeatedly;
- a file already present locally with the same size and content is not downloaded again: the content is
  compared through the object's ETag when it is a plain MD5 (single-part S3 uploads), else through the ETag
  recorded in ``<dest>/.arena-pull.json`` at the previous pull, else by MD5 of both sides;
- atomically per experiment: the files are downloaded to a temporary folder first; then the local
  ``metadata.json`` is removed, the data files are moved into place and ``metadata.json`` is written last,
  so a reader (``results.store``) never sees a complete experiment with partly replaced files.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from results.store import METADATA_FILE, RESULTS_FILE, TRIALS_FILE

STUDY_FILE = "study.json"
EXPERIMENT_FILES = (RESULTS_FILE, TRIALS_FILE)  # metadata.json is handled separately (it is written last)
MANIFEST_FILE = ".arena-pull.json"
_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class PullReport:
    experiments_pulled: list[str] = field(default_factory=list)     # relative folders updated
    experiments_unchanged: list[str] = field(default_factory=list)  # already identical locally
    experiments_incomplete: list[str] = field(default_factory=list)  # skipped (not complete)
    files_downloaded: int = 0
    bytes_downloaded: int = 0

    def summary(self) -> str:
        return (f"{len(self.experiments_pulled)} experiment(s) pulled, {len(self.experiments_unchanged)} "
                f"unchanged, {len(self.experiments_incomplete)} not complete (skipped); "
                f"{self.files_downloaded} file(s), {self.bytes_downloaded} bytes downloaded")


def _md5_local(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _md5_remote(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with fs.open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _etag(info: dict[str, Any]) -> str | None:
    tag = info.get("ETag") or info.get("etag")
    return str(tag).strip('"').lower() if tag else None


class _Puller:
    def __init__(self, source: str, dest: str | Path) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(source)
        self.root = self.root.rstrip("/")
        # fsspec filesystems are cached per process with their listings: forget what an earlier pull saw.
        self.fs.invalidate_cache()
        self.dest = Path(dest)
        self.manifest_path = self.dest / MANIFEST_FILE
        self.manifest: dict[str, dict[str, Any]] = {}
        if self.manifest_path.is_file():
            try:
                self.manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                self.manifest = {}
        self.report = PullReport()

    def identical(self, rel: str, info: dict[str, Any]) -> bool:
        """Is the local copy of ``rel`` the same as the remote object described by ``info``?"""
        local = self.dest / rel
        if not local.is_file() or local.stat().st_size != int(info["size"]):
            return False
        etag = _etag(info)
        if etag and _PLAIN_MD5.match(etag):
            return _md5_local(local) == etag
        known = self.manifest.get(rel)
        if etag and known and known.get("etag") == etag and known.get("size") == int(info["size"]):
            return True
        return _md5_local(local) == _md5_remote(self.fs, info["name"])

    def remember(self, rel: str, info: dict[str, Any]) -> None:
        self.manifest[rel] = {"size": int(info["size"]), "etag": _etag(info)}

    def save_manifest(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    def download(self, remote: str, local: Path) -> int:
        local.parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open(remote, "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return local.stat().st_size

    def pull_study_file(self, tag: str) -> None:
        remote = posixpath.join(self.root, tag, STUDY_FILE)
        if not self.fs.exists(remote):
            return
        rel = f"{tag}/{STUDY_FILE}"
        info = self.fs.info(remote)
        if self.identical(rel, info):
            return
        target = self.dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{STUDY_FILE}.pulling")
        self._count(self.download(remote, tmp))
        os.replace(tmp, target)
        self.remember(rel, info)

    def _count(self, size: int) -> None:
        self.report.files_downloaded += 1
        self.report.bytes_downloaded += size

    def pull_experiment(self, folder: str, include_incomplete: bool) -> None:
        rel_folder = posixpath.relpath(folder, self.root)
        meta_remote = posixpath.join(folder, METADATA_FILE)
        meta_info = self.fs.info(meta_remote)
        # Read metadata.json once; these exact bytes are what gets written locally (last).
        meta_bytes = self.fs.cat_file(meta_remote)
        try:
            status = json.loads(meta_bytes).get("status")
        except json.JSONDecodeError:
            status = None
        if status != "complete" and not include_incomplete:
            self.report.experiments_incomplete.append(rel_folder)
            return
        infos = {}
        for name in EXPERIMENT_FILES:
            path = posixpath.join(folder, name)
            if self.fs.exists(path):
                infos[name] = self.fs.info(path)
        meta_rel = f"{rel_folder}/{METADATA_FILE}"
        stale = [name for name, info in infos.items() if not self.identical(f"{rel_folder}/{name}", info)]
        local_meta = self.dest / meta_rel
        if not stale and local_meta.is_file() and local_meta.read_bytes() == meta_bytes:
            self.report.experiments_unchanged.append(rel_folder)
            return
        target = self.dest / rel_folder
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=target) as tmp_dir:
            tmp = Path(tmp_dir)
            for name in stale:
                self._count(self.download(infos[name]["name"], tmp / name))
            (tmp / METADATA_FILE).write_bytes(meta_bytes)
            self._count(len(meta_bytes))
            # Metadata first out, last in: the folder is never "complete" with a mix of old and new files.
            local_meta.unlink(missing_ok=True)
            for name in stale:
                os.replace(tmp / name, target / name)
            os.replace(tmp / METADATA_FILE, local_meta)
        for name, info in infos.items():
            self.remember(f"{rel_folder}/{name}", info)
        self.remember(meta_rel, meta_info)
        self.report.experiments_pulled.append(rel_folder)


def pull_results(source: str, dest: str | Path, tags: Sequence[str] | None = None,
                 include_incomplete: bool = False) -> PullReport:
    """Mirror the studies under ``source`` (all, or those in ``tags``) into the local folder ``dest``."""
    puller = _Puller(source, dest)
    fs, root = puller.fs, puller.root
    if not fs.exists(root):
        raise FileNotFoundError(f"results root {source!r} does not exist")
    if tags:
        missing = [t for t in tags if not fs.exists(posixpath.join(root, t))]
        if missing:
            present = sorted(posixpath.basename(p) for p in fs.ls(root, detail=False))
            raise FileNotFoundError(f"no study {missing} under {source}; studies there: {present}")
        tag_list = list(tags)
    else:
        tag_list = sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(root, detail=False)
                          if fs.isdir(p))
    try:
        for tag in tag_list:
            puller.pull_study_file(tag)
            pattern = posixpath.join(root, tag, "*", "*", "*", METADATA_FILE)
            for meta in sorted(fs.glob(pattern)):
                puller.pull_experiment(posixpath.dirname(meta), include_incomplete)
    finally:
        puller.save_manifest()
    return puller.report
