"""Writing one experiment's folder (layout in ARCHITECTURE.md): results.parquet, trials.parquet,
real_times.parquet and metadata.json.

Every file is written to a temporary name and renamed into place; ``metadata.json`` comes last, so a reader
that sees ``status == "complete"`` also sees complete tables. Paths are local folders or fsspec URLs
(``s3://bucket/prefix/...``); on object stores the rename is a copy, and the metadata-last rule still holds.
"""
from __future__ import annotations

import functools
import io
import json
import os
import platform
import posixpath
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from blackbox_repo.remote import LocalFiles, filesystem

if TYPE_CHECKING:
    from launchers.tuner import Results

FORMAT_VERSION = 1
REQUIRED_METADATA = ("tag", "benchmark", "method", "seed", "metric", "mode")
RESERVED_COLUMNS = ("trial_id", "fidelity", "sim_time", "real_time", "worker", "decision")


def experiment_path(root: str, tag: str, benchmark: str, method: str, seed: int) -> str:
    """``<root>/<tag>/<benchmark>/<method>/<seed>`` (``root`` may be an fsspec URL)."""
    for name, part in (("tag", tag), ("benchmark", benchmark), ("method", method)):
        if not part or "/" in str(part) or str(part) in (".", ".."):
            raise ValueError(f"{name} {part!r} cannot be a folder name (empty, '.', '..' or containing '/')")
    return posixpath.join(str(root).rstrip("/"), tag, benchmark, method, str(int(seed)))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def library_versions() -> dict[str, str]:
    return {**_library_versions()}


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict[str, str]:
    """Read once per process (a distribution lookup scans every installed package's metadata)."""
    from importlib import metadata as importlib_metadata

    versions = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
                "pyarrow": pa.__version__}
    try:
        versions["hpo-arena"] = importlib_metadata.version("hpo-arena")
    except importlib_metadata.PackageNotFoundError:
        versions["hpo-arena"] = "unknown"
    return versions


def _folder(path: str):
    """(file system, the folder's path) of an experiment folder, the folder created."""
    fs, folder = filesystem(path)
    fs.makedirs(folder, exist_ok=True)
    return fs, folder


def _write_bytes_atomically(fs, path: str, payload: bytes) -> None:
    """Write ``payload`` to a temporary sibling and rename it over ``path``."""
    temporary = f"{path}.tmp-{os.getpid()}"
    if isinstance(fs, LocalFiles):
        with open(temporary, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
        return
    with fs.open(temporary, "wb") as handle:
        handle.write(payload)
    fs.mv(temporary, path)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    return _table_parquet_bytes(pa.Table.from_pandas(frame, preserve_index=False))


def _table_parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def write_metadata(path: str, metadata: Mapping[str, Any]) -> None:
    """Write ``metadata.json`` atomically (e.g. with ``status: "running"`` when an experiment starts)."""
    fs, folder = _folder(path)
    payload = json.dumps(dict(metadata), indent=1, default=_json_default, allow_nan=False).encode("utf-8")
    _write_bytes_atomically(fs, posixpath.join(folder, "metadata.json"), payload)


def write_trials(path: str, results: Results) -> None:
    """Write ``trials.parquet`` alone (an experiment that failed keeps its trials' statuses and errors)."""
    fs, folder = _folder(path)
    _write_bytes_atomically(fs, posixpath.join(folder, "trials.parquet"), _table_parquet_bytes(results.trials_table()))


def write_experiment(path: str, results: Results, metadata: Mapping[str, Any]) -> str:
    """Write ``results`` into the folder ``path``; ``metadata`` supplies the study fields.

    Required metadata: tag, benchmark, method, seed, metric, mode. Filled in when absent: format_version,
    objectives, n_workers, versions, started_at / finished_at, status ("complete"), n_results, n_trials,
    simulated (True). The metric must be one of the result objectives.
    """
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {missing} (required: {list(REQUIRED_METADATA)})")
    if metadata["mode"] not in ("min", "max"):
        raise ValueError(f"metadata mode must be 'min' or 'max', got {metadata['mode']!r}")
    if metadata["metric"] not in results.objectives_names:
        raise ValueError(
            f"metadata metric {metadata['metric']!r} is not a result objective ({results.objectives_names})"
        )
    clash = [n for n in results.objectives_names if n in RESERVED_COLUMNS or n.startswith("config.")]
    if clash:
        raise ValueError(f"objective names {clash} collide with reserved result columns {RESERVED_COLUMNS}")
    finished = _utc_now()
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "objectives": list(results.objectives_names),
        "n_workers": results.n_workers,
        "versions": library_versions(),
        "started_at": (finished - timedelta(seconds=results.real_seconds)).isoformat(),
        "simulated": True,
    }
    meta.update(dict(metadata))
    meta.update({
        "status": "complete", "finished_at": finished.isoformat(),
        "n_results": int(results.n_results), "n_trials": int(results.n_trials),
        "end_reason": results.end_reason, "stop_time": float(results.stop_time),
    })
    fs, folder = _folder(path)
    _write_bytes_atomically(fs, posixpath.join(folder, "results.parquet"), _table_parquet_bytes(results.to_table()))
    _write_bytes_atomically(fs, posixpath.join(folder, "trials.parquet"), _table_parquet_bytes(results.trials_table()))
    # One float column: built by Arrow directly (the pandas route costs more than writing it).
    real_times = pa.table({"real_time": pa.array(np.asarray(results.columns["real_time"], dtype=np.float64))})
    _write_bytes_atomically(fs, posixpath.join(folder, "real_times.parquet"), _table_parquet_bytes(real_times))
    write_metadata(path, meta)
    return path
