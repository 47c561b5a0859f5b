"""A user's own table (CSV or Parquet, one row per evaluation) -> repository format (source ``table``).

    arena convert table --input runs.csv --objectives error,seconds --modes min,min --fidelity epoch \\
        --seed-column seed --time-objective seconds --name my-table --out REPO

Columns play one role each: hyperparameters (``hyperparameters``, default: every column not named in another
role), objectives, and optionally the fidelity (numeric; its distinct values become the fidelity axis, in
increasing order), the seed (its distinct values become the seed axis, kept in ``metadata.seeds``) and the
task (each distinct value becomes a task of the blackbox; without a task column there is one task,
``task_name``, default ``default``). Rows sharing their hyperparameter values are one configuration.

Search space, column by column (``space`` overrides any column; everything else is inferred):

* booleans and strings -> ``Categorical`` of the values present (sorted);
* one distinct value -> ``Constant``;
* integers (integer column type; CSV integers without empty cells are read as such) forming a contiguous
  range lo..hi -> ``Integer(lo, hi)``; other integers with at most ``max_ordinal`` (default 10) distinct values
  -> ``Ordinal`` of those values, with more -> ``Integer(lo, hi)``;
* floats with at most ``max_ordinal`` distinct values -> ``Ordinal`` of those values (a grid: methods then
  propose exactly the tabulated values); with more -> ``Uniform(min, max)``;
* an ``Integer`` or ``Uniform`` whose values are all positive and span at least two decades (max / min >= 100)
  is log-scaled (``Integer(..., log=True)``, ``LogUniform``), as learning rates and regularisation weights
  are sampled in the literature.

Bounds are the table's minimum and maximum. A table is finite: to let methods propose configurations it does
not hold, use the benchmark with a surrogate or with ``restrict_to_table: true``.

Validation (everything is checked before anything is written; ``InputError`` names the problem and rows):
a named column missing; a column in two roles; an objective, fidelity or seed column with non-numeric or
infinite values (objective cells may be empty: NaN); an empty hyperparameter, fidelity, seed or task cell;
two rows for the same (task, configuration, seed, fidelity), reported with the offending row numbers; a
value outside an explicitly given domain. (configuration, seed, fidelity) combinations the table lacks are
NaN in the stored array.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion.base import (
    InputError,
    check_configurations,
    make_tabular,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Domain,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
    domain_from_dict,
)

DEFAULT_TASK = "default"
DEFAULT_MAX_ORDINAL = 10
LOG_SPAN = 100.0  # positive values spanning at least this ratio are log-scaled
# A dense (configurations x seeds x fidelities) array this many times larger than the table (and above
# SPARSE_MIN_CELLS) means the table is mostly empty, e.g. fidelities that differ for every configuration.
SPARSE_FACTOR = 20
SPARSE_MIN_CELLS = 5_000_000
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in items]
    if any(not n for n in names):
        raise InputError(f"{what}: empty name in {value!r} (give comma-separated column names)")
    if len(set(names)) != len(names):
        raise InputError(f"{what}: a column is named twice in {value!r}")
    return names


def read_frame(path: Path) -> tuple[pd.DataFrame, bool]:
    """The table and whether it is a CSV file (whose errors also cite line numbers)."""
    lower = path.name.lower()
    try:
        if lower.endswith(PARQUET_SUFFIXES):
            return pd.read_parquet(path), False
        if lower.endswith(CSV_SUFFIXES):
            return pd.read_csv(path, sep="\t" if ".tsv" in lower else ","), True
    except (OSError, ValueError, pd.errors.ParserError, ImportError) as err:
        raise InputError(f"cannot read {path} as a {'Parquet' if lower.endswith(PARQUET_SUFFIXES) else 'CSV'} "
                         f"table: {err}") from None
    raise InputError(f"{path}: unsupported file type; give a CSV ({', '.join(CSV_SUFFIXES)}) or Parquet "
                     f"({', '.join(PARQUET_SUFFIXES)}) file")


class _Rows:
    """Names rows in messages: 0-based data rows, plus the line numbers of a CSV file (header = line 1)."""

    def __init__(self, path: Path, csv: bool):
        self.path, self.csv = path, csv

    def __call__(self, rows: Sequence[int]) -> str:
        rows = [int(r) for r in rows]
        text = "row" + ("s " if len(rows) > 1 else " ") + ", ".join(map(str, rows))
        if self.csv:
            text += f" (line{'s' if len(rows) > 1 else ''} {', '.join(str(r + 2) for r in rows)})"
        return text


def _numeric(frame: pd.DataFrame, column: str, role: str, rows: _Rows, allow_nan: bool) -> np.ndarray:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        raise InputError(f"{rows.path}: {role} column {column!r} holds booleans; it must hold numbers")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & series.notna().to_numpy()
    if bad.any():
        first = np.flatnonzero(bad)
        raise InputError(f"{rows.path}: {role} column {column!r} is not numeric: {int(bad.sum())} cell(s) hold "
                         f"text, first at {rows(first[:3])}: {[series.iloc[i] for i in first[:3]]!r}")
    if np.isinf(values).any():
        first = np.flatnonzero(np.isinf(values))
        raise InputError(f"{rows.path}: {role} column {column!r} holds infinite values ({rows(first[:3])}); "
                         "leave the cell empty for a missing value")
    if not allow_nan and np.isnan(values).any():
        first = np.flatnonzero(np.isnan(values))
        raise InputError(f"{rows.path}: {role} column {column!r} has {len(first)} empty cell(s), first at "
                         f"{rows(first[:3])}; every row needs a {role}")
    return values


def _no_empty_cells(frame: pd.DataFrame, column: str, role: str, rows: _Rows) -> None:
    empty = frame[column].isna().to_numpy()
    if empty.any():
        first = np.flatnonzero(empty)
        raise InputError(f"{rows.path}: {role} column {column!r} has {len(first)} empty cell(s), first at "
                         f"{rows(first[:3])}; fill them (e.g. with a value meaning 'inactive') or leave the "
                         "column out")


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _axis_values(values: np.ndarray) -> list[int | float]:
    """Sorted distinct numbers, as ints when they all are integral."""
    unique = np.unique(values)
    if np.all(unique == np.round(unique)) and np.all(np.abs(unique) < 2 ** 53):
        return [int(v) for v in unique]
    return [float(v) for v in unique]


def infer_domain(column: pd.Series, max_ordinal: int = DEFAULT_MAX_ORDINAL) -> Domain:
    """The domain of one hyperparameter column (rules in the module docstring). No empty cells."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        values = sorted({bool(v) for v in column.unique()})
        return Constant(values[0]) if len(values) == 1 else Categorical(values)
    if pd.api.types.is_numeric_dtype(dtype):
        unique = np.unique(column.to_numpy())
        if len(unique) == 1:
            return Constant(_python(unique[0]))
        lo, hi = unique[0].item(), unique[-1].item()
        log = lo > 0 and hi / lo >= LOG_SPAN
        if pd.api.types.is_integer_dtype(dtype):
            if len(unique) == hi - lo + 1:
                return Integer(lo, hi, log=log)
            if len(unique) <= max_ordinal:
                return Ordinal([int(v) for v in unique])
            return Integer(lo, hi, log=log)
        if len(unique) <= max_ordinal:
            return Ordinal([float(v) for v in unique])
        return LogUniform(float(lo), float(hi)) if log else Uniform(float(lo), float(hi))
    distinct = list(column.unique())  # type-check the few distinct values, not every row
    kinds = {type(v).__name__ for v in distinct}
    if kinds != {"str"}:
        raise InputError(f"hyperparameter column {column.name!r} mixes value types {sorted(kinds)}; give it one "
                         "type (all numbers or all strings)")
    values = sorted(distinct)
    return Constant(values[0]) if len(values) == 1 else Categorical(values)


def parse_space(space: str | os.PathLike[str] | Mapping[str, Any] | SearchSpace | None) -> dict[str, Domain]:
    """Explicit domains: a SearchSpace, ``SearchSpace.to_dict()`` (``{"hyperparameters": [...]}``), a mapping
    ``{name: {"type": ..., ...}}``, JSON text of either, or the path of a JSON file holding either."""
    if space is None:
        return {}
    if isinstance(space, SearchSpace):
        return dict(space.domains)
    if isinstance(space, (str, os.PathLike)):
        text = str(space)
        if not text.lstrip().startswith("{"):
            path = require_path(text, "search space file", "Give a JSON file or JSON text")
            text = path.read_text(encoding="utf-8")
        try:
            space = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"the search space is not valid JSON: {err}") from None
    if not isinstance(space, Mapping):
        raise InputError(f"the search space must be a JSON object, got {type(space).__name__}")
    try:
        if "hyperparameters" in space and isinstance(space["hyperparameters"], list):
            return dict(SearchSpace.from_dict(space).domains)
        out = {}
        for name, entry in space.items():
            if not isinstance(entry, Mapping):
                raise TypeError(f"hyperparameter {name!r}: expected a domain object like "
                                 '{"type": "loguniform", "lower": 1e-4, "upper": 1}, got ' + repr(entry))
            out[str(name)] = domain_from_dict(entry)
        return out
    except (TypeError, ValueError) as err:
        raise InputError(f"bad search space: {err}") from None


def _duplicates_message(frame: pd.DataFrame, key: list[str], rows: _Rows, hp_columns: list[str],
                        seed_column: str | None, fidelity: str | None) -> str:
    dup = frame.duplicated(subset=key, keep=False).to_numpy()
    groups = frame[dup].groupby(key, sort=False, dropna=False).indices
    lines = []
    for indices in list(groups.values())[:3]:
        positions = np.flatnonzero(dup)[indices]
        first = int(positions[0])
        what = {c: _python(frame[c].iloc[first]) for c in hp_columns}
        extra = "".join(f", {c}={_python(frame[c].iloc[first])!r}" for c in (seed_column, fidelity) if c is not None)
        lines.append(f"  {rows(positions)}: configuration {what}{extra}")
    axes = [c for c in (seed_column, fidelity) if c]
    what = f"(configuration, {', '.join(axes)}) combination(s)" if axes else "configuration(s)"
    fix = ("" if seed_column else " If they are replicates, name the column telling them apart with "
           "--seed-column.") + (" If they are steps of a curve, give --fidelity." if not fidelity else "")
    return (f"{rows.path}: {len(groups)} {what} appear more than once ({int(dup.sum())} rows):\n"
            + "\n".join(lines) + f"\nKeep one row per combination.{fix}")


def read_table(input_path: str | os.PathLike[str], *, objectives: str | Sequence[str], name: str | None = None,
               modes: str | Sequence[str] | None = None, fidelity: str | None = None,
               seed_column: str | None = None, hyperparameters: str | Sequence[str] | None = None,
               time_objective: str | None = None, time_is_cumulative: bool = True,
               task_column: str | None = None, task_name: str = DEFAULT_TASK, tasks: Sequence[str] | None = None,
               space: str | os.PathLike[str] | Mapping[str, Any] | SearchSpace | None = None,
               max_ordinal: int = DEFAULT_MAX_ORDINAL) -> dict[str, TabularBlackbox]:
    """Read and validate a user's table: ``{task: TabularBlackbox}`` (nothing is written here)."""
    if not name:
        raise InputError("a converted table needs a blackbox name: give --name NAME (name=...)")
    path = require_path(input_path, "table", "Give a CSV or Parquet file")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the CSV or Parquet file itself")
    frame, is_csv = read_frame(path)
    rows = _Rows(path, is_csv)
    if frame.empty:
        raise InputError(f"{path}: the table has no rows")
    frame.columns = [str(c) for c in frame.columns]
    repeated = sorted(c for c in set(frame.columns) if list(frame.columns).count(c) > 1)
    if repeated:
        raise InputError(f"{path}: column names repeat: {repeated}; give every column its own name")
    if isinstance(max_ordinal, bool) or not isinstance(max_ordinal, int) or max_ordinal < 0:
        raise InputError(f"max_ordinal must be an integer >= 0, got {max_ordinal!r}")

    objective_names = _names(objectives, "--objectives")
    if not objective_names:
        raise InputError("give at least one objective column (--objectives err,time)")
    if time_objective is not None and time_objective not in objective_names:
        objective_names.append(time_objective)  # the time column is an objective the simulator reads
    mode_list = _names(modes, "--modes") or ["min"] * len(objective_names)
    if time_objective is not None and len(mode_list) == len(objective_names) - 1:
        mode_list.append("min")
    if len(mode_list) != len(objective_names):
        raise InputError(f"--modes gives {len(mode_list)} direction(s) for {len(objective_names)} objective(s) "
                         f"{objective_names}; give one per objective (min or max)")
    bad_modes = [m for m in mode_list if m not in ("min", "max")]
    if bad_modes:
        raise InputError(f"--modes: {bad_modes} are not directions; use min or max")

    roles: dict[str, str] = {}
    for role, columns in (("objective", objective_names), ("fidelity", [fidelity] if fidelity else []),
                          ("seed", [seed_column] if seed_column else []),
                          ("task", [task_column] if task_column else [])):
        for column in columns:
            if column in roles:
                raise InputError(f"column {column!r} cannot be both the {roles[column]} and the {role} column")
            roles[column] = role
    hp_columns = _names(hyperparameters, "--hyperparameters")
    if not hp_columns:
        hp_columns = [c for c in frame.columns if c not in roles]
        saved_index = [c for c in hp_columns if c.startswith("Unnamed: ")]
        if saved_index:  # pandas' name for a row index written to CSV: as a hyperparameter, every row differs
            raise InputError(f"{path}: column(s) {saved_index} look like a saved row index, not a hyperparameter; "
                             "drop them or name the hyperparameter columns with --hyperparameters")
    for column in hp_columns:
        if column in roles:
            raise InputError(f"column {column!r} cannot be both a hyperparameter and the {roles[column]} column")
        roles[column] = "hyperparameter"
    missing = [c for c in roles if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: no column(s) {missing} (roles: "
                         f"{', '.join(roles[c] for c in missing)}); the table's columns are {list(frame.columns)}")
    if not hp_columns:
        raise InputError(f"{path}: no hyperparameter column left (columns: {list(frame.columns)}); the table "
                         "needs at least one column describing the configuration")

    values = np.stack([_numeric(frame, c, "objective", rows, allow_nan=True) for c in objective_names], axis=-1)
    too_large = np.flatnonzero((np.abs(values) > np.finfo(np.float32).max).any(axis=1))
    if too_large.size:  # objectives are stored as float32
        raise InputError(f"{path}: objective values beyond the float32 range at {rows(too_large[:3])}")
    if time_objective is not None:
        times = values[:, objective_names.index(time_objective)]
        negative = np.flatnonzero(times < 0)
        if negative.size:
            raise InputError(f"{path}: time objective {time_objective!r} is negative at {rows(negative[:3])}")
    for column in hp_columns:
        _no_empty_cells(frame, column, "hyperparameter", rows)

    explicit = parse_space(space)
    unknown = [n for n in explicit if n not in hp_columns]
    if unknown:
        raise InputError(f"the search space names {unknown}, which are not hyperparameter columns "
                         f"({hp_columns})")
    try:
        domains = {c: explicit.get(c) or infer_domain(frame[c], max_ordinal) for c in hp_columns}
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    configuration_space = SearchSpace(domains)
    for column, domain in explicit.items():
        outside = [v for v in pd.unique(frame[column]) if not domain.contains(_python(v))]
        if outside:
            first = np.flatnonzero(frame[column].isin(outside).to_numpy())
            where = ", ".join(f"{_python(frame[column].iloc[i])!r} at {rows([i])}" for i in first[:3])
            raise InputError(f"{path}: {column} holds {len(first)} value(s) outside the given domain {domain!r}: "
                             f"{where}")

    fidelity_values: list[int | float] | None = None
    fidelity_codes = np.zeros(len(frame), dtype=np.int64)
    if fidelity:
        raw = _numeric(frame, fidelity, "fidelity", rows, allow_nan=False)
        fidelity_values = _axis_values(raw)
        fidelity_codes = np.searchsorted(np.asarray(fidelity_values, dtype=np.float64), raw)
    seed_codes = np.zeros(len(frame), dtype=np.int64)
    seeds: list[Any] = []
    if seed_column:
        _no_empty_cells(frame, seed_column, "seed", rows)
        column = frame[seed_column]
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
            seeds = _axis_values(column.to_numpy(dtype=np.float64))
            seed_codes = np.searchsorted(np.asarray(seeds, dtype=np.float64), column.to_numpy(dtype=np.float64))
        else:
            seed_codes, uniques = pd.factorize(column.astype(str), sort=True)
            seeds = list(uniques)
    if task_column:
        _no_empty_cells(frame, task_column, "task", rows)
        task_labels = frame[task_column].astype(str)
        task_list = select_tasks(list(dict.fromkeys(task_labels)), tasks, f"table {path.name}")
    else:
        if tasks is not None and list(tasks) != [task_name]:
            raise InputError(f"--task selects tasks of a --task-column; this table has one task, {task_name!r}")
        task_labels = pd.Series(task_name, index=frame.index)
        task_list = [task_name]

    key = ([task_column] if task_column else []) + hp_columns + [c for c in (seed_column, fidelity) if c]
    if frame.duplicated(subset=key).any():
        raise InputError(_duplicates_message(frame, key, rows, hp_columns, seed_column, fidelity))

    selected = task_labels.isin(task_list).to_numpy()
    config_frame = frame.loc[selected, hp_columns]
    config_codes = config_frame.groupby(hp_columns, sort=False).ngroup().to_numpy()
    first_rows = np.unique(config_codes, return_index=True)[1]
    hyperparameter_table = config_frame.iloc[first_rows].reset_index(drop=True)
    check_configurations(hyperparameter_table, configuration_space, str(path))

    n_configs, n_seeds = len(hyperparameter_table), max(len(seeds), 1)
    n_fidelities = 1 if fidelity_values is None else len(fidelity_values)
    dense = n_configs * n_seeds * n_fidelities
    if dense > SPARSE_MIN_CELLS and dense > SPARSE_FACTOR * int(selected.sum()):
        raise InputError(
            f"{path}: {n_configs} configurations x {n_seeds} seeds x {n_fidelities} fidelities make a dense table "
            f"of {dense} cells for {int(selected.sum())} rows; the table is mostly empty. Are the fidelity values "
            "(or the seeds) different for every configuration? Round them to a common set of levels")

    metadata = BlackboxMetadata(
        name=name, default_metric=objective_names[0], mode=mode_list[0],
        objective_modes=dict(zip(objective_names, mode_list)), time_objective=time_objective,
        time_is_cumulative=bool(time_is_cumulative), source=f"user table {path.name}",
        description=f"converted with `arena convert table` from {path.name}", seeds=[_python(s) for s in seeds],
        extra={"input_file": path.name, "rows": int(selected.sum()),
               "inferred_hyperparameters": [c for c in hp_columns if c not in explicit],
               "columns": {"objectives": objective_names, "fidelity": fidelity, "seed": seed_column,
                           "task": task_column}},
    )
    out: dict[str, TabularBlackbox] = {}
    selected_labels = task_labels[selected].to_numpy()
    selected_values = values[selected]
    seed_sel, fid_sel = seed_codes[selected], fidelity_codes[selected]
    for task in task_list:
        mask = selected_labels == task
        array = np.full((n_configs, n_seeds, n_fidelities, len(objective_names)), np.nan, dtype=np.float64)
        array[config_codes[mask], seed_sel[mask], fid_sel[mask]] = selected_values[mask]
        if time_objective is not None:
            _warn_time_gaps(array[..., objective_names.index(time_objective)], task, time_objective, fidelity)
        out[task] = make_tabular(hyperparameter_table, array, configuration_space, objective_names, metadata, task,
                                 fidelity_name=fidelity, fidelity_values=fidelity_values)
    return out


def _warn_time_gaps(times: np.ndarray, task: str, time_objective: str, fidelity: str | None) -> None:
    """Warn when (configuration, seed) curves have some but not all time cells: the simulator cannot place
    such a trial's results in time (it raises, unless its ``nan_time="impute"`` is used)."""
    present = ~np.isnan(times)
    partial = present.any(axis=-1) & ~present.all(axis=-1)
    if partial.any():
        warnings.warn(
            f"task {task!r}: {int(partial.sum())} (configuration, seed) curve(s) lack the time objective "
            f"{time_objective!r} at some {fidelity or 'fidelity'} values; simulating such a trial raises "
            "SimulationError (SimulatorBackend(nan_time='impute') fills in the median step time instead)",
            stacklevel=3)
