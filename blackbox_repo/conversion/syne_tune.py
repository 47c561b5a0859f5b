"""Syne Tune's published blackbox-repository layout -> repository format.

Input: one blackbox folder as Syne Tune writes it (e.g. ``~/.blackbox-repository/fcnet/`` or the same folder
of the Hugging Face dataset ``synetune/blackbox-repository``; ../shared/FORMATS.md section 2.1):

``hyperparameters.parquet``       N rows, one column per hyperparameter, shared by every task
``objectives_evaluations.npy``    float (T, N, S, F, O), tasks in ``metadata.json["task_names"]`` order
``fidelities_values.npy``         the F fidelity values
``configspace.json``              ``{name: {"domain_cls", "domain_kwargs", "sampler_cls"?, "sampler_kwargs"?}}``
                                  or a bare constant
``fidelityspace.json``            the same encoding, one entry (the fidelity's name)
``metadata.json``                 ``objectives_names``, ``task_names``, ``metric_elapsed_time``,
                                  ``metric_default``, ``time_attr`` (``resource_attr`` in files before v0.14)

Names are kept as they are (``hp_*``, ``metric_*``) so that configurations users already have keep working.
Syne Tune stores neither the direction of the default metric nor seed identities nor units: the mode is
``max`` for metrics named like accuracies/throughput and ``min`` otherwise (override with ``mode=``), and
the seeds are numbered 0..S-1. Constants of the configuration space that are not columns are recorded in
``metadata.extra["fixed_settings"]``.

Domain mapping (Syne Tune -> ours): Float+Uniform -> Uniform, Float+LogUniform -> LogUniform,
Float+Normal -> Normal, Integer -> Integer (log when sampled LogUniform), Categorical -> Categorical,
Ordinal / OrdinalNearestNeighbor -> Ordinal, FiniteRange -> FiniteRange (or Ordinal of Syne Tune's exact
values when our grid would differ in the last bits). Anything else is refused with its name.
"""
from __future__ import annotations

import json
import math
import os
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
    progress,
    require_files,
    require_keys,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import (
    Categorical,
    Domain,
    FiniteRange,
    Integer,
    LogUniform,
    Normal,
    Ordinal,
    SearchSpace,
    Uniform,
)

FILES = ("hyperparameters.parquet", "objectives_evaluations.npy", "fidelities_values.npy", "configspace.json",
         "fidelityspace.json", "metadata.json")
_MAX_WORDS = ("accuracy", "acc", "throughput", "auc", "f1", "precision", "recall")


def _syne_tune_finite_range_values(lower: float, upper: float, size: int, log_scale: bool,
                                   cast_int: bool) -> list[float | int]:
    """The values Syne Tune's FiniteRange enumerates (step in linear or log space, clipped, rint if int)."""
    lo = math.log(lower) if log_scale else lower
    hi = math.log(upper) if log_scale else upper
    step = (hi - lo) / (size - 1) if size > 1 else 0.0
    values: list[float | int] = []
    for i in range(size):
        y = i * step + lo
        if log_scale:
            y = math.exp(y)
        y = float(min(max(y, lower), upper))
        values.append(int(np.rint(y)) if cast_int else y)
    return values


def domain_from_syne_tune(name: str, entry: Any, where: str) -> Domain | None:
    """Our domain for one configspace.json entry; None for a bare constant."""
    if not isinstance(entry, Mapping):
        return None
    require_keys(entry, ("domain_cls", "domain_kwargs"), f"{where} hyperparameter {name!r}")
    cls, kw = entry["domain_cls"], dict(entry["domain_kwargs"])
    sampler = entry.get("sampler_cls")
    try:
        if cls == "Float":
            if sampler in (None, "Uniform"):
                return Uniform(kw["lower"], kw["upper"])
            if sampler == "LogUniform":
                return LogUniform(kw["lower"], kw["upper"])
            if sampler == "Normal":
                sk = entry.get("sampler_kwargs", {})
                return Normal(sk.get("mean", 0.0), sk.get("sd", 1.0))
        elif cls == "Integer":
            if sampler in (None, "Uniform", "LogUniform"):
                return Integer(kw["lower"], kw["upper"], log=sampler == "LogUniform")
        elif cls == "Categorical":
            return Categorical(kw["categories"])
        elif cls in ("Ordinal", "OrdinalNearestNeighbor"):
            return Ordinal(kw["categories"])
        elif cls == "FiniteRange":
            args = (kw["lower"], kw["upper"], int(kw["size"]), bool(kw.get("log_scale", False)),
                    bool(kw.get("cast_int", False)))
            theirs = _syne_tune_finite_range_values(*args)
            try:
                ours = FiniteRange(args[0], args[1], args[2], log=args[3], cast_int=args[4])
                if ours.values() == theirs:
                    return ours
            except ValueError:
                pass
            return Ordinal(theirs)
    except KeyError as err:
        raise InputError(f"{where} hyperparameter {name!r}: {cls} lacks argument {err}") from None
    except (TypeError, ValueError) as err:
        raise InputError(f"{where} hyperparameter {name!r}: bad {cls} arguments {kw}: {err}") from None
    raise InputError(
        f"{where} hyperparameter {name!r}: domain {cls} with sampler {sampler} has no equivalent here "
        "(supported: Float with Uniform/LogUniform/Normal, Integer, Categorical, Ordinal, "
        "OrdinalNearestNeighbor, FiniteRange)"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path} as JSON: {err}") from None


def _guess_mode(metric: str) -> str:
    lowered = metric.lower()
    return "max" if any(w in lowered.replace("-", "_").split("_") for w in _MAX_WORDS) else "min"


def read_syne_tune(
    input_path: str | os.PathLike[str],
    *,
    tasks: Sequence[str] | None = None,
    name: str | None = None,
    mode: str | None = None,
) -> dict[str, TabularBlackbox]:
    folder = require_path(input_path, "Syne Tune blackbox folder",
                          "Give one blackbox folder of a Syne Tune repository (e.g. ~/.blackbox-repository/fcnet)")
    paths = dict(zip(FILES, require_files(folder, FILES, "Syne Tune blackbox folder")))
    meta = _read_json(paths["metadata.json"])
    require_keys(meta, ("objectives_names", "task_names"), str(paths["metadata.json"]))
    objectives_names = list(meta["objectives_names"])
    task_names = [str(t) for t in meta["task_names"]]
    task_list = select_tasks(task_names, tasks, "syne-tune blackbox")

    try:
        objectives = np.load(paths["objectives_evaluations.npy"], mmap_mode="r", allow_pickle=False)
        fidelities = np.load(paths["fidelities_values.npy"], allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(f"{folder}: cannot read the .npy files: {err}") from None
    try:
        hyperparameters = pd.read_parquet(paths["hyperparameters.parquet"])
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {paths['hyperparameters.parquet']}: {err}") from None
    where = str(folder)
    if objectives.ndim != 5:
        raise InputError(f"{where}: objectives_evaluations.npy has shape {objectives.shape}, expected "
                         "(tasks, configs, seeds, fidelities, objectives)")
    s, f = objectives.shape[2], objectives.shape[3]
    expected = (len(task_names), len(hyperparameters), None, len(np.ravel(fidelities)), len(objectives_names))
    for axis, (got, want, what) in enumerate(zip(objectives.shape, expected, (
            "tasks (metadata task_names)", "configurations (hyperparameters.parquet rows)", "seeds",
            "fidelities (fidelities_values.npy)", "objectives (metadata objectives_names)"))):
        if want is not None and got != want:
            raise InputError(f"{where}: objectives_evaluations.npy axis {axis} has {got} {what}, expected {want}")
    fidelities = np.ravel(fidelities)
    if f > 1 and np.any(np.diff(fidelities.astype(float)) <= 0):
        raise InputError(f"{where}: fidelities_values.npy must be strictly increasing, got {fidelities[:10]}...")

    configspace = _read_json(paths["configspace.json"])
    if not isinstance(configspace, Mapping):
        raise InputError(f"{paths['configspace.json']}: expected an object {{name: domain}}")
    domains: dict[str, Domain] = {}
    fixed: dict[str, Any] = {}
    for hp, entry in configspace.items():
        dom = domain_from_syne_tune(hp, entry, str(paths["configspace.json"]))
        if dom is None:
            fixed[hp] = entry
        else:
            domains[hp] = dom
    columns = list(hyperparameters.columns)
    absent = [c for c in columns if c not in domains and c not in fixed]
    if absent:
        raise InputError(f"{where}: hyperparameters.parquet columns {absent} are not in configspace.json "
                         f"({sorted(configspace)})")
    missing = [h for h in domains if h not in columns]
    if missing:
        raise InputError(f"{where}: configspace.json hyperparameters {missing} have no column in "
                         f"hyperparameters.parquet ({columns})")
    from blackbox_repo.search_space import Constant

    space = SearchSpace({c: domains[c] if c in domains else Constant(fixed.pop(c)) for c in columns})
    hyperparameters = _python_typed(hyperparameters, space)
    check_configurations(hyperparameters, space, str(paths["hyperparameters.parquet"]))

    fidelity_space = _read_json(paths["fidelityspace.json"])
    if not isinstance(fidelity_space, Mapping) or len(fidelity_space) != 1:
        raise InputError(f"{paths['fidelityspace.json']}: expected one entry {{fidelity name: domain}}, got "
                         f"{fidelity_space!r}")
    fidelity_name = meta.get("time_attr") or meta.get("resource_attr") or next(iter(fidelity_space))

    default_metric = meta.get("metric_default") or objectives_names[0]
    time_objective = meta.get("metric_elapsed_time")
    for key, value in (("metric_default", default_metric), ("metric_elapsed_time", time_objective)):
        if value is not None and value not in objectives_names:
            raise InputError(f"{paths['metadata.json']}: {key}={value!r} is not in objectives_names "
                             f"{objectives_names}")
    if mode is not None and mode not in ("min", "max"):
        raise InputError(f"mode must be 'min' or 'max', got {mode!r}")
    blackbox_name = name or folder.name
    metadata = BlackboxMetadata(
        name=blackbox_name,
        default_metric=default_metric,
        mode=mode or _guess_mode(default_metric),
        objective_modes={obj: _guess_mode(obj) for obj in objectives_names},
        time_objective=time_objective,
        time_is_cumulative=True,
        source=f"Syne Tune blackbox repository ({blackbox_name}); https://github.com/syne-tune/syne-tune",
        licence="as the original benchmark; Syne Tune is Apache-2.0",
        description=f"Imported from Syne Tune's on-disk layout ({folder}).",
        seeds=list(range(s)),
        extra={
            "mode_source": "given" if mode else "guessed from the metric name (Syne Tune does not store it)",
            "fixed_settings": fixed,
            "syne_tune_metadata": {k: v for k, v in meta.items() if k not in ("objectives_names", "task_names")},
            "fidelity_space": fidelity_space,
        },
    )
    out: dict[str, TabularBlackbox] = {}
    for task in progress(task_list, total=len(task_list), desc="syne-tune tasks"):
        block = np.asarray(objectives[task_names.index(task)], dtype=np.float32)
        out[task] = make_tabular(hyperparameters, block, space, objectives_names, metadata, task,
                                 fidelity_name, fidelities)
    return out


def _python_typed(frame: pd.DataFrame, space: SearchSpace) -> pd.DataFrame:
    """Integer-valued columns of integer domains as int64, so that lookups match what users type."""
    out = frame.copy()
    for c in space.names:
        dom = space[c]
        values = dom.values() if dom.is_finite and not isinstance(dom, Integer) else None
        wants_int = isinstance(dom, Integer) or (values is not None and all(
            isinstance(v, int) and not isinstance(v, bool) for v in values))
        if wants_int and pd.api.types.is_float_dtype(out[c].dtype):
            col = out[c].to_numpy()
            if np.all(np.isfinite(col)) and np.all(col == np.round(col)):
                out[c] = col.astype(np.int64)
    return out
