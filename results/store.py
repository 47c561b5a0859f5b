"""Reading stored experiments (layout ``<root>/<tag>/<benchmark>/<method>/<seed>/``, layout in ARCHITECTURE.md).

A root is a local folder or any fsspec URL (``s3://bucket/prefix`` through s3fs). Only experiments
whose ``metadata.json`` says ``status == "complete"`` are indexed; the others are listed in
``ExperimentIndex.skipped`` and announced with one warning. Result tables are read with only the
columns asked for, in parallel threads (parquet decoding releases the GIL).
"""

from __future__ import annotations

import json
import posixpath
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from blackbox_repo.remote import LocalFiles as _LocalFiles  # noqa: F401 (tests check the local reader)
from blackbox_repo.remote import filesystem as _filesystem

METADATA_FILE = "metadata.json"
STUDY_FILE = "study.json"
RESULTS_FILE = "results.parquet"
TRIALS_FILE = "trials.parquet"
RESERVED_RESULT_COLUMNS = ("trial_id", "fidelity", "sim_time", "real_time", "worker", "decision")
INDEX_COLUMNS = ["benchmark", "setup", "subplot", "seed", "tag", "method", "started_at", "path"]

MetadataToValue = Callable[[dict], Hashable | None]
DatetimeBound = datetime | str | None


def _is_local(fs) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _full_url(fs, path: str) -> str:
    """A path that ``_filesystem`` can open again: plain for local files, with protocol otherwise."""
    return path if _is_local(fs) else fs.unstrip_protocol(path)


def read_metadata(path: str) -> dict:
    """Read ``metadata.json`` of the experiment folder ``path`` (local or fsspec URL)."""
    fs, folder = _filesystem(path)
    with fs.open(posixpath.join(folder, METADATA_FILE), "r", encoding="utf-8") as handle:
        return json.load(handle)


def _read_parquet(path: str, file_name: str, columns: Sequence[str] | None) -> pd.DataFrame:
    fs, folder = _filesystem(path)
    with fs.open(posixpath.join(folder, file_name), "rb") as handle:
        parquet = pq.ParquetFile(handle)
        if columns is not None:
            available = set(parquet.schema_arrow.names)
            # Ask only for the columns present; a missing optional column (e.g. a cost) is simply absent.
            columns = [c for c in dict.fromkeys(columns) if c in available]
        return parquet.read(columns=columns).to_pandas()


def read_results(path: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``results.parquet`` of one experiment, restricted to ``columns`` (those present) when given."""
    return _read_parquet(path, RESULTS_FILE, columns)


def read_trials(path: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``trials.parquet`` of one experiment (empty DataFrame if the file is absent)."""
    fs, folder = _filesystem(path)
    if not fs.exists(posixpath.join(folder, TRIALS_FILE)):
        return pd.DataFrame()
    return _read_parquet(path, TRIALS_FILE, columns)


@dataclass
class Experiment:
    """One experiment: its metadata, its results (one row per report) and its trials."""

    path: str
    metadata: dict
    results: pd.DataFrame
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def metric(self) -> str:
        return self.metadata["metric"]

    @property
    def mode(self) -> str:
        return self.metadata.get("mode", "min")

    @property
    def objectives(self) -> list[str]:
        return list(self.metadata.get("objectives", [self.metric]))

    @property
    def hyperparameter_columns(self) -> list[str]:
        return [c for c in self.results.columns if c.startswith("config.")]


def load_experiment(path: str, columns: Sequence[str] | None = None, with_trials: bool = True) -> Experiment:
    """Load metadata, results (optionally only ``columns``) and trials of the experiment folder ``path``."""
    metadata = read_metadata(path)
    results = read_results(path, columns)
    trials = read_trials(path) if with_trials else pd.DataFrame()
    return Experiment(path=path, metadata=metadata, results=results, trials=trials)


def parse_datetime(value: DatetimeBound) -> datetime | None:
    """Parse an ISO 8601 string or datetime; naive values are taken as UTC."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class RunCountProblem:
    """A (benchmark, subplot, setup) group whose runs are missing or duplicated."""

    benchmark: str
    subplot: Hashable | None
    setup: str
    n_runs: int
    expected_runs: int | None
    missing_seeds: tuple
    duplicated_seeds: dict

    def message(self) -> str:
        where = f"benchmark {self.benchmark!r}, setup {self.setup!r}"
        if self.subplot is not None:
            where += f", subplot {self.subplot!r}"
        parts = [f"{where}: {self.n_runs} distinct seed(s)"]
        if self.expected_runs is not None:
            parts[0] += f", expected {self.expected_runs}"
        if self.missing_seeds:
            parts.append(f"missing seeds {list(self.missing_seeds)}")
        for seed, paths in self.duplicated_seeds.items():
            parts.append(f"seed {seed} appears {len(paths)} times ({', '.join(paths)})")
        return "; ".join(parts)


@dataclass
class ExperimentIndex:
    """Complete experiments found under one or more roots and tags, with their setup, subplot and seed."""

    table: pd.DataFrame
    metadata: dict[str, dict]
    skipped: pd.DataFrame
    setups: list[str]

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(self.table["benchmark"]))

    def for_benchmark(self, benchmark: str) -> pd.DataFrame:
        return self.table[self.table["benchmark"] == benchmark]

    def restricted_to(self, benchmarks: Sequence[str]) -> ExperimentIndex:
        """The runs of ``benchmarks`` only, with the same setups in the same order (no file is read): what a
        worker process needs to draw the figures of a few benchmarks of a study indexed once."""
        table = self.table[self.table["benchmark"].isin(list(benchmarks))].reset_index(drop=True)
        metadata = {path: self.metadata[path] for path in table["path"]}
        return ExperimentIndex(table=table, metadata=metadata, skipped=self.skipped.iloc[0:0],
                               setups=list(self.setups))

    def check(self, num_runs: int | None = None, warn: bool = True) -> list[RunCountProblem]:
        """Find (benchmark, subplot, setup) groups whose seeds are missing or duplicated.

        Expected seeds of a group are those any setup of the same (benchmark, subplot) has (runs are
        paired by seed), and, when ``num_runs`` is given, the group must hold that many distinct
        seeds. Each problem is also emitted with ``warnings.warn`` unless ``warn`` is False.
        """
        problems: list[RunCountProblem] = []
        table = self.table.assign(_subplot_key=self.table["subplot"].map(repr))
        for (benchmark, subplot_key), group in table.groupby(["benchmark", "_subplot_key"], sort=False):
            subplot = group["subplot"].iloc[0]
            all_seeds = set(group["seed"])
            present_setups = set(group["setup"])
            for setup in self.setups:
                runs = group[group["setup"] == setup]
                if setup not in present_setups:
                    missing = tuple(sorted(all_seeds))
                    problems.append(RunCountProblem(benchmark, subplot, setup, 0, num_runs, missing, {}))
                    continue
                counts = runs["seed"].value_counts()
                duplicated = {
                    seed: list(runs.loc[runs["seed"] == seed, "path"])
                    for seed in sorted(counts[counts > 1].index)
                }
                seeds = set(runs["seed"])
                missing = tuple(sorted(all_seeds - seeds))
                wrong_count = num_runs is not None and len(seeds) != num_runs
                if missing or duplicated or wrong_count:
                    problems.append(
                        RunCountProblem(benchmark, subplot, setup, len(seeds), num_runs, missing, duplicated)
                    )
        if warn:
            for problem in problems:
                warnings.warn(problem.message(), stacklevel=2)
        return problems

    def load_results(
        self,
        paths: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        n_threads: int = 8,
    ) -> dict[str, pd.DataFrame]:
        """Read ``results.parquet`` of ``paths`` (default: all indexed) in parallel threads: path -> DataFrame.

        A file that cannot be read (truncated, corrupt) is skipped with a warning naming it, and its run is
        dropped from the index (moved to ``skipped``), so that every later query sees the same runs.
        """
        paths = list(self.table["path"] if paths is None else paths)
        if not paths:
            return {}

        def read(path: str) -> pd.DataFrame | Exception:
            try:
                return read_results(path, columns)
            except Exception as err:  # noqa: BLE001 - a decoding error of one file must not lose the other runs
                return err

        with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(paths)))) as pool:
            frames = list(pool.map(read, paths))
        damaged = {p: f for p, f in zip(paths, frames) if isinstance(f, Exception)}
        for path, err in damaged.items():
            self.drop_damaged(path, f"{posixpath.join(path, RESULTS_FILE)} is damaged ({type(err).__name__}: {err})")
        return {p: f for p, f in zip(paths, frames) if not isinstance(f, Exception)}

    def drop_damaged(self, path: str, reason: str) -> None:
        """Leave the run at ``path`` out of the index (it moves to ``skipped``), with a warning."""
        warnings.warn(f"skipping a damaged run: {reason}; rerun the sweep to redo it (delete its folder first)",
                      stacklevel=3)
        self.table = self.table[self.table["path"] != path].reset_index(drop=True)
        status = self.metadata.pop(path, {}).get("status")
        row = pd.DataFrame([{"path": path, "status": status, "reason": reason}], columns=self.skipped.columns)
        self.skipped = row if self.skipped.empty else pd.concat([self.skipped, row], ignore_index=True)


def list_tags(root: str) -> list[str]:
    """The study tags under a results root (its sub-folders), sorted; FileNotFoundError if the root is absent."""
    fs, base = _filesystem(root)
    base = base.rstrip("/")
    if not fs.exists(base) or not fs.isdir(base):
        raise FileNotFoundError(f"results root {root} does not exist (or is not a folder)")
    return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(base, detail=False) if fs.isdir(p))


def read_study(root: str, tag: str) -> dict | None:
    """``<root>/<tag>/study.json`` written by ``arena sweep`` (None when absent).

    It holds the study's master seed and, under ``sweeps``, every sweep started on the study with its
    overrides and its jobs (``{"benchmark", "method", "seed"}``): the runs the study is expected to hold.
    """
    fs, base = _filesystem(root)
    path = posixpath.join(base.rstrip("/"), tag, STUDY_FILE)
    if not fs.exists(path):
        return None
    try:
        with fs.open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{_full_url(fs, path)} is damaged ({err}); restore it, or delete it and rerun the "
                         "sweep with master_seed=<the study's seed>") from None


def expected_jobs(study: dict) -> list[tuple[str, str, int]]:
    """(benchmark, method, seed) of every job of the study's recorded sweeps (union, first-seen order)."""
    seen: dict[tuple[str, str, int], None] = {}
    for sweep in study.get("sweeps", []):
        for job in sweep.get("jobs", []):
            seen[(str(job["benchmark"]), str(job["method"]), int(job["seed"]))] = None
    return list(seen)


def _find_metadata_files(root: str, tags: list[str] | None) -> list[tuple[Any, str]]:
    fs, base = _filesystem(root)
    base = base.rstrip("/")
    patterns = (
        [posixpath.join(base, "*", "*", "*", "*", METADATA_FILE)]
        if tags is None
        else [posixpath.join(base, tag, "*", "*", "*", METADATA_FILE) for tag in tags]
    )
    found = []
    for pattern in patterns:
        found.extend((fs, posixpath.dirname(p)) for p in sorted(fs.glob(pattern)))
    return found


REQUIRED_METADATA_KEYS = ("status", "benchmark", "method", "metric")
MIN_PARQUET_BYTES = 12  # magic "PAR1", footer length, magic "PAR1": a shorter file cannot be Parquet


def _read_metadata_with(fs, folder: str) -> dict | str:
    """The experiment's metadata, or why the experiment is damaged (a sentence naming the file).

    For a complete experiment, also checks that results.parquet exists and is long enough to be Parquet
    (a size from the listing, no read): a run killed while copying, or a full disk, leaves 0-byte files; and
    that it holds results (a run with a zero budget, written before budgets were validated, holds none).
    """
    metadata_path = posixpath.join(folder, METADATA_FILE)
    try:
        with fs.open(metadata_path, "r", encoding="utf-8") as handle:
            metadata = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return f"{_full_url(fs, metadata_path)} is damaged ({type(err).__name__}: {err})"
    if not isinstance(metadata, dict):
        return f"{_full_url(fs, metadata_path)} is damaged (not a JSON object)"
    if metadata.get("status") != "complete":
        return metadata
    missing = [k for k in REQUIRED_METADATA_KEYS if k not in metadata]
    if missing:
        return f"{_full_url(fs, metadata_path)} is damaged (keys {missing} are missing)"
    results_path = posixpath.join(folder, RESULTS_FILE)
    try:
        size = fs.size(results_path)
    except FileNotFoundError:
        return f"{_full_url(fs, results_path)} is missing although {METADATA_FILE} says the run is complete"
    if size is not None and size < MIN_PARQUET_BYTES:
        return f"{_full_url(fs, results_path)} is damaged ({size} bytes, too short to be Parquet)"
    if metadata.get("n_results") == 0:  # e.g. a zero budget: its curve would be all NaN in every table
        return (f"{_full_url(fs, results_path)} holds no result (n_results is 0 in {METADATA_FILE}); rerun it with "
                "a budget > 0")
    return metadata


def index_experiments(
    roots: str | Sequence[str],
    tags: str | Sequence[str] | None = None,
    metadata_to_setup: MetadataToValue | None = None,
    metadata_to_subplot: MetadataToValue | None = None,
    setups: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    datetime_bounds: tuple[DatetimeBound, DatetimeBound] | None = None,
    n_threads: int = 8,
) -> ExperimentIndex:
    """Index the experiments of ``tags`` (all tags when None) under one or several ``roots``.

    ``metadata_to_setup(metadata)`` names the setup (default: the method), or returns None to leave
    the run out; ``metadata_to_subplot`` gives the subplot (default None: one plot). ``setups``
    keeps only those setups and fixes their order (a listed setup without runs is warned about).
    ``datetime_bounds=(lower, upper)`` keeps runs whose ``started_at`` lies within the bounds
    (inclusive; either may be None), e.g. to drop early failed attempts.
    """
    root_list = _as_list(roots) or []
    if not root_list:
        raise ValueError("give at least one results root (a folder or an fsspec URL)")
    tag_list = _as_list(tags)
    to_setup = metadata_to_setup or (lambda metadata: metadata["method"])
    to_subplot = metadata_to_subplot or (lambda metadata: None)
    lower, upper = (parse_datetime(b) for b in (datetime_bounds or (None, None)))

    folders = [item for root in root_list for item in _find_metadata_files(root, tag_list)]
    with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(folders) or 1))) as pool:
        metadatas = list(pool.map(lambda item: _read_metadata_with(*item), folders))

    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    metadata_by_path: dict[str, dict] = {}
    damaged: list[str] = []
    for (fs, folder), metadata in zip(folders, metadatas):
        path = _full_url(fs, folder)
        if isinstance(metadata, str):
            skipped.append({"path": path, "status": "damaged", "reason": metadata})
            damaged.append(metadata)
            continue
        status = metadata.get("status")
        if status != "complete":
            skipped.append({"path": path, "status": status, "reason": f"status is {status!r}"})
            continue
        if benchmarks is not None and metadata.get("benchmark") not in benchmarks:
            continue
        started_at = parse_datetime(metadata.get("started_at"))
        if (lower is not None or upper is not None) and started_at is None:
            skipped.append({"path": path, "status": status, "reason": "no started_at to filter on"})
            continue
        if (lower is not None and started_at < lower) or (upper is not None and started_at > upper):
            continue
        setup = to_setup(metadata)
        if setup is None or (setups is not None and setup not in setups):
            continue
        rows.append(
            {
                "benchmark": metadata["benchmark"],
                "setup": setup,
                "subplot": to_subplot(metadata),
                "seed": metadata.get("seed"),
                "tag": metadata.get("tag"),
                "method": metadata.get("method"),
                "started_at": started_at,
                "path": path,
            }
        )
        metadata_by_path[path] = metadata

    table = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    table["subplot"] = table["subplot"].astype(object)
    skipped_table = pd.DataFrame(skipped, columns=["path", "status", "reason"])
    for reason in damaged:
        warnings.warn(f"skipping a damaged run: {reason}; rerun the sweep to redo it (delete its folder first)",
                      stacklevel=2)
    if len(skipped_table):
        warnings.warn(
            f"{len(skipped_table)} experiment(s) are not complete and were left out: "
            + ", ".join(f"{p} ({r})" for p, r in zip(skipped_table["path"], skipped_table["reason"])),
            stacklevel=2,
        )
    found_setups = list(dict.fromkeys(table["setup"]))
    if setups is not None:
        absent = [s for s in setups if s not in found_setups]
        if absent:
            warnings.warn(
                f"setups {absent} were asked for but no complete experiment maps to them; "
                f"setups found: {found_setups}",
                stacklevel=2,
            )
        ordered_setups = list(setups)
    else:
        ordered_setups = found_setups
    if table.empty:
        warnings.warn(
            f"no complete experiment found under {root_list} (tags {tag_list or 'all'}); "
            "expected folders <root>/<tag>/<benchmark>/<method>/<seed>/metadata.json",
            stacklevel=2,
        )
    return ExperimentIndex(
        table=table, metadata=metadata_by_path, skipped=skipped_table, setups=ordered_setups
    )
