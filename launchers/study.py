"""A study: many experiments under one tag, sharing one master seed.

``<results root>/<tag>/study.json`` records the master seed the first time the study runs; every later run
(resume, another launcher, another machine) reuses it, so the experiments of a study stay paired across
methods. The root may be a local path or an fsspec URL (s3://...).
"""
from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from blackbox_repo.remote import filesystem, local_path

STUDY_FILE = "study.json"


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def experiment_path(results_root: str, tag: str, benchmark: str, method: str, seed: int) -> str:
    return _join(results_root, tag, benchmark, method, str(seed))


def read_study(results_root: str, tag: str) -> dict[str, Any] | None:
    fs, fs_path = filesystem(_join(results_root, tag, STUDY_FILE))
    if not fs.exists(fs_path):
        return None
    with fs.open(fs_path, "r") as fh:
        return json.load(fh)


def ensure_study(results_root: str, tag: str, master_seed: int | None = None) -> int:
    """The study's master seed: the recorded one, else ``master_seed``, else a fresh random one (recorded).

    Giving a ``master_seed`` that differs from the recorded one is an error: it would silently break pairing.
    """
    existing = read_study(results_root, tag)
    if existing is not None:
        recorded = int(existing["master_seed"])
        if master_seed is not None and int(master_seed) != recorded:
            raise ValueError(
                f"study {tag!r} under {results_root} was started with master_seed={recorded}, but "
                f"master_seed={master_seed} was given; drop the override to resume it, or use a new tag"
            )
        return recorded
    seed = int(master_seed) if master_seed is not None else secrets.randbelow(2**31 - 1)
    path = _join(results_root, tag, STUDY_FILE)
    payload = json.dumps(
        {"tag": tag, "master_seed": seed, "created_at": datetime.now(UTC).isoformat()}, indent=2
    )
    local = local_path(path)
    if local is not None:
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        # Exclusive create: when parallel jobs race to start a study, exactly one seed wins.
        try:
            with open(local, "x", encoding="utf-8") as fh:
                fh.write(payload)
        except FileExistsError:
            return int(read_study(results_root, tag)["master_seed"])  # type: ignore[index]
    else:
        fs, fs_path = filesystem(path)
        fs.makedirs(fs_path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(fs_path, "w") as fh:
            fh.write(payload)
    return seed


def _write_study(results_root: str, tag: str, study: dict[str, Any]) -> None:
    """Replace study.json as a whole: a temporary sibling renamed over it locally (never half-written);
    object stores replace an object atomically on upload."""
    path = _join(results_root, tag, STUDY_FILE)
    payload = json.dumps(study, indent=2)
    local = local_path(path)
    if local is not None:
        tmp = f"{local}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, local)
    else:
        fs, fs_path = filesystem(path)
        with fs.open(fs_path, "w") as fh:
            fh.write(payload)


def record_sweep(results_root: str, tag: str, overrides: list[str], jobs: list[dict[str, Any]]) -> None:
    """Add a sweep (its command-line overrides and every job it runs: benchmark, method, seed) to study.json.

    ``arena results check`` expects a folder for every recorded job, so it notices jobs that failed before
    creating one. A rerun of the same jobs adds nothing.
    """
    study = read_study(results_root, tag)
    if study is None:
        raise ValueError(f"no study {tag!r} under {results_root}: start it first (ensure_study)")
    sweeps = study.setdefault("sweeps", [])
    if any(sweep.get("jobs") == jobs for sweep in sweeps):
        return
    sweeps.append({"overrides": list(overrides), "jobs": jobs, "recorded_at": datetime.now(UTC).isoformat()})
    _write_study(results_root, tag, study)


def is_complete(path: str) -> bool:
    """An experiment is complete when its metadata.json exists and says so (it is written last)."""
    fs, fs_path = filesystem(_join(path, "metadata.json"))
    try:
        with fs.open(fs_path, "r") as fh:
            return json.load(fh).get("status") == "complete"
    except (json.JSONDecodeError, OSError):  # FileNotFoundError included: not started, not complete
        return False
