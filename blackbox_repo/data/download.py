"""Resumable, verified HTTP(S) downloads of upstream files.

``fetch(file, dest_dir)`` leaves ``dest_dir/<filename>`` only once the whole file arrived and passed every
check of its ``UpstreamFile`` (see ``catalogue``). Bytes arrive in ``<filename>.part``; what the server
said about them (URL, ``ETag``, ``Last-Modified``, total length) is kept next to it in
``<filename>.part.json``. A later call continues where the previous one stopped with an HTTP ``Range``
request, guarded by ``If-Range`` so that a file that changed upstream in the meantime is downloaded from the
start instead of being spliced. A file that fails a check is deleted (the next call starts over) and
reported with what was expected, what arrived and where it came from.

Plain ``urllib`` (no extra dependency): the transfer is one GET per attempt and the range logic is a few
lines; a tqdm bar shows progress when stderr is a terminal (``HPO_ARENA_PROGRESS`` forces it on/off).
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from blackbox_repo.data.catalogue import UpstreamFile

CHUNK = 1 << 20
RETRY_BACKOFF_SECONDS = 1.0  # wait before the n-th retry: this x 2**(n-1), at most 30 s
USER_AGENT = "hpo-arena (arena data get)"


class DownloadError(RuntimeError):
    """A transfer failed (network, HTTP status); what arrived is kept for the next call to resume."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable  # False for answers that another attempt would not change (404, 403, ...)


class IntegrityError(RuntimeError):
    """A complete download does not match what the upstream publishes; it was deleted."""


@dataclass(frozen=True)
class FetchReport:
    path: Path
    url: str
    downloaded_bytes: int  # transferred by this call (0 when the file was already there)
    resumed_from: int  # bytes of a previous .part file this call continued from
    verification: str


def _progress_enabled() -> bool:
    from blackbox_repo.conversion.base import _progress_enabled as enabled

    return enabled()


def _part_paths(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def _read_state(state_path: Path) -> dict:
    try:
        return json.loads(state_path.read_text())
    except (OSError, ValueError):
        return {}


def _total_from_headers(status: int, headers, offset: int) -> int | None:
    """The complete file's length as the server announced it (None when it did not say)."""
    content_range = headers.get("Content-Range")
    if content_range:
        match = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+|\*)", content_range.strip())
        if match and match.group(1) != "*":
            return int(match.group(1))
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit():
        return int(length) + (offset if status == 206 else 0)
    return None


def _open(url: str, offset: int, state: dict, timeout: float):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        etag = state.get("etag")
        # A weak ETag must not be used in If-Range (RFC 9110 13.1.5): fall back to the modification date.
        validator = etag if etag and not etag.startswith("W/") else state.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def fetch(file: UpstreamFile, dest_dir: str | os.PathLike[str], *, mirror: str | None = None,
          retries: int = 3, timeout: float = 60.0) -> FetchReport:
    """Download ``file`` into ``dest_dir`` (resuming a ``.part`` file), verify it, return where it is.

    ``retries``: how many times an interrupted transfer is resumed within this call before giving up
    (the ``.part`` file stays, so running the command again resumes too).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    locks = dest_dir / ".locks"  # kept (deleting a lock file while others may wait on it is a race)
    locks.mkdir(exist_ok=True)
    with _exclusive(locks / f"{file.filename}.lock"):
        return _fetch(file, dest_dir / file.filename, file.mirrored(mirror), retries, timeout)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One download of a file at a time: two processes appending to the same .part would corrupt it."""
    import fcntl

    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"another process is downloading {lock_path.name.removesuffix('.lock')} into "
                                f"{lock_path.parent.parent} right now; wait for it to finish, then run this again") \
                from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch(file: UpstreamFile, dest: Path, url: str, retries: int, timeout: float) -> FetchReport:
    if dest.is_file():
        try:
            verify(file, dest, url)
            return FetchReport(dest, url, 0, 0, file.verification)
        except IntegrityError as err:
            print(f"arena data: the existing {dest} fails its checks ({err}); downloading it again",
                  file=sys.stderr)
            dest.unlink()
    part, state_path = _part_paths(dest)
    state = _read_state(state_path)
    if part.exists() and state.get("url") != url:
        part.unlink()  # bytes from another URL (an earlier --mirror): they cannot be continued here
        state = {}
    resumed_from = part.stat().st_size if part.exists() else 0
    transferred = 0
    attempt = 0
    while True:
        try:
            transferred += _transfer(url, part, state_path, state, timeout)
            break
        except DownloadError as err:
            attempt += 1
            if attempt > retries or not err.retryable:
                raise
            state = _read_state(state_path)
            print(f"arena data: {err}\narena data: retrying {url} from byte "
                  f"{part.stat().st_size if part.exists() else 0} (attempt {attempt + 1} of {retries + 1})",
                  file=sys.stderr)
            time.sleep(min(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1), 30.0))
    try:
        verify(file, part, url)
    except IntegrityError:
        part.unlink(missing_ok=True)
        state_path.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    state_path.unlink(missing_ok=True)
    return FetchReport(dest, url, transferred, resumed_from, file.verification)


def _transfer(url: str, part: Path, state_path: Path, state: dict, timeout: float) -> int:
    """One GET continuing ``part``; returns the bytes received. Leaves ``part`` complete or raises."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, state, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            total = _total_from_headers(416, err.headers, 0)
            if total == offset:
                return 0  # the .part file already holds everything
            part.unlink()  # the server's file is shorter than what we hold: start over
            state_path.unlink(missing_ok=True)
            state.clear()
            raise DownloadError(f"{url}: the partial download does not fit the server's file; starting over") \
                from None
        hint = " (the file is not at this address: check the --mirror layout with `arena data list`)" \
            if err.code == 404 else ""
        transient = err.code in (408, 429) or err.code >= 500
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}{hint}", retryable=transient) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"cannot reach {url}: {reason}") from None
    with response:
        status = response.status
        if status == 206 and offset:
            match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                raise DownloadError(f"{url}: asked for bytes from {offset}, the server answered "
                                    f"{response.headers.get('Content-Range')!r}")
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # 200: the whole file (no range support, or it changed: If-Range)
        total = _total_from_headers(status, response.headers, offset)
        state.clear()
        state.update(url=url, etag=response.headers.get("ETag"),
                     last_modified=response.headers.get("Last-Modified"), total=total)
        state_path.write_text(json.dumps(state))
        received = 0
        bar = None
        if _progress_enabled():
            from tqdm import tqdm

            bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=part.name.removesuffix(".part"), file=sys.stderr, dynamic_ncols=True)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError) as err:
                        raise DownloadError(
                            f"{url}: the transfer broke off after {offset + received:,} of "
                            f"{'?' if total is None else f'{total:,}'} bytes ({type(err).__name__}); the "
                            f"partial file {part} is kept: run the same command again to resume") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    have = offset + received
    if total is not None and have < total:
        raise DownloadError(f"{url}: the connection closed after {have:,} of {total:,} bytes; the partial file "
                            f"{part} is kept: run the same command again to resume")
    if total is not None and have > total:
        part.unlink()
        state_path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: received {have:,} bytes but the server announced {total:,}; starting over")
    return received


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(file: UpstreamFile, path: Path, url: str) -> None:
    """Check a complete file against everything known about it; raise ``IntegrityError`` naming the problem."""
    size = path.stat().st_size
    where = f"{file.filename} from {url}"
    origin = f" (as published by {file.checksum_origin})" if file.checksum_origin else ""
    if file.magic is not None:
        with open(path, "rb") as fh:
            head = fh.read(max(len(file.magic), 64))
        if not head.startswith(file.magic):
            looks = " (it looks like an HTML page: the host served an error or confirmation page)" \
                if head.lstrip()[:1] == b"<" else ""
            raise IntegrityError(f"{where} is not a {_format_name(file.magic)} file: it starts with "
                                 f"{head[:16]!r}{looks}")
    if file.size is not None and size != file.size:
        raise IntegrityError(f"{where} has {size:,} bytes, expected {file.size:,}{origin}")
    for algorithm, expected in (("sha256", file.sha256), ("md5", file.md5)):
        if expected:
            actual = _digest(path, algorithm)
            if actual != expected:
                raise IntegrityError(f"{where} has {algorithm} {actual}, expected {expected}{origin}")
    if file.archive == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise IntegrityError(f"{where} is not a readable zip archive: {err}") from None
        if bad is not None:
            raise IntegrityError(f"{where}: member {bad!r} fails its CRC check")
    elif file.archive == "tar.gz":
        try:
            with tarfile.open(path, "r:gz") as tf:
                for member in tf:
                    if member.isfile():
                        extracted = tf.extractfile(member)
                        if extracted is not None:
                            while extracted.read(CHUNK):
                                pass
        except (tarfile.TarError, OSError, EOFError) as err:
            raise IntegrityError(f"{where} is not a complete .tar.gz archive: {err}") from None


def _format_name(magic: bytes) -> str:
    return {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"BZh": "bz2"}.get(magic, repr(magic))
