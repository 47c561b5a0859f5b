"""LCBench (Zimmer, Lindauer, Hutter 2021) -> repository format.

Input: ``data_2k_lw.json`` or ``data_2k.json`` (or the ``.zip`` that holds it), one JSON document
``{dataset: {config id: {"config": {...}, "log": {tag: [L numbers]}, "results": {...}}}}``
(../shared/FORMATS.md section 1.3).

Output: one task per dataset, in file order; the configurations in id order (the same on every dataset,
checked); one seed; fidelity ``epoch`` 1..L-2 (50 for the published files).

Decisions:

* Log entry 0 is the untrained model (evaluated before the first update) and is not a training budget;
  the last entry (51) is an extra final evaluation that repeats entry 50 for most runs. Both are dropped,
  so fidelity e holds log entry e (as in Syne Tune's table; YAHPO's surrogate is shifted by one).
* Every numeric log tag is an objective, named without the ``Train/`` prefix; ``Train/test_result`` is
  ``test_accuracy``, ``Train/loss`` is ``train_loss``, ``time`` becomes ``elapsed_time`` = time minus
  entry 0 (seconds since training began, cumulative; the time objective). ``epoch`` is the fidelity.
* Units as upstream: ``*_accuracy`` in percent, ``*_balanced_accuracy`` as fractions in [0, 1].
* ``num_layers`` holds the JSON literal ``true`` for one layer; it is stored as 1 (YAHPO and the derived
  npz curves use 1 as well).
* The ten ``config`` keys that are the same in every row (optimizer, scheduler, ...) are not
  hyperparameters; their values are recorded in ``metadata.extra["fixed_settings"]``.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion.base import (
    ARCHIVE_ERRORS,
    InputError,
    check_configurations,
    check_range,
    damaged_archive,
    make_tabular,
    progress,
    require_keys,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import Integer, LogUniform, SearchSpace, Uniform

# LCBench's own order (also the column order of the derived npz curves).
HYPERPARAMETERS = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units",
                   "max_dropout")
_INTEGER = ("batch_size", "num_layers", "max_units")
# Tags Syne Tune reads come first, in its order.
_TAG_NAMES = {
    "Train/val_accuracy": "val_accuracy",
    "Train/val_balanced_accuracy": "val_balanced_accuracy",
    "Train/val_cross_entropy": "val_cross_entropy",
    "Train/test_result": "test_accuracy",
    "Train/test_balanced_accuracy": "test_balanced_accuracy",
    "Train/test_cross_entropy": "test_cross_entropy",
    "time": "elapsed_time",
    "Train/loss": "train_loss",
}
FIDELITY_TAG = "epoch"
SOURCE = ("LCBench: L. Zimmer, M. Lindauer, F. Hutter, 'Auto-PyTorch Tabular: Multi-Fidelity MetaLearning "
          "for Efficient and Robust AutoDL', TPAMI 2021; https://github.com/automl/LCBench, data on figshare "
          "(project 74151, data_2k_lw.zip / data_2k.zip)")
LICENCE = "Apache-2.0 (data), MIT (automl/LCBench code)"


def configuration_space() -> SearchSpace:
    return SearchSpace({
        "batch_size": Integer(16, 512, log=True),
        "learning_rate": LogUniform(1e-4, 1e-1),
        "momentum": Uniform(0.1, 0.99),
        "weight_decay": Uniform(1e-5, 1e-1),
        "num_layers": Integer(1, 5),
        "max_units": Integer(64, 1024, log=True),
        "max_dropout": Uniform(0.0, 1.0),
    })


def objective_name(tag: str) -> str:
    if tag in _TAG_NAMES:
        return _TAG_NAMES[tag]
    return tag.split("/", 1)[1] if tag.startswith("Train/") else tag.replace("/", "_")


def objective_mode(name: str) -> str | None:
    if name.endswith("accuracy"):
        return "max"
    if name.endswith(("cross_entropy", "loss")) or name == "elapsed_time":
        return "min"
    return None


def hyperparameter_frame(values: np.ndarray | Sequence[Sequence[Any]], where: str) -> pd.DataFrame:
    """Rows of the 7 sampled hyperparameters (LCBench order) -> typed frame; num_layers ``True`` -> 1."""
    frame = pd.DataFrame(list(values) if not isinstance(values, np.ndarray) else values,
                         columns=list(HYPERPARAMETERS))
    for name in HYPERPARAMETERS:
        column = frame[name].map(lambda v: 1 if v is True else v)
        try:
            numeric = pd.to_numeric(column, errors="raise").astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{where}: hyperparameter {name} holds non-numeric values "
                             f"{sorted(set(map(repr, column)))[:5]}") from None
        if name in _INTEGER:
            not_int = ~np.isclose(numeric, np.round(numeric))
            if not_int.any():
                i = int(np.flatnonzero(not_int.to_numpy())[0])
                raise InputError(f"{where}: {name} must be an integer, row {i} holds {numeric.iloc[i]!r}")
            frame[name] = np.round(numeric).astype(np.int64)
        else:
            frame[name] = numeric
    return frame


def _load_json(path: Path) -> Any:
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.endswith(".json")]
                if len(members) != 1:
                    raise InputError(f"{path}: expected exactly one .json file inside, found {members}")
                with zf.open(members[0]) as fh:
                    return json.load(fh)
        with open(path, "rb") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path} as LCBench JSON: {err}") from None
    except ARCHIVE_ERRORS as err:
        raise damaged_archive(path, err, "download it again (a complete .zip passes `unzip -t`) and rerun the "
                                         "conversion") from None


def read_lcbench(
    input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
) -> dict[str, TabularBlackbox]:
    """Read ``data_2k_lw.json`` / ``data_2k.json`` (or a zip of it); returns {task: TabularBlackbox}."""
    path = require_path(input_path, "LCBench file", "Give data_2k_lw.json, data_2k.json or their .zip")
    if path.is_dir():
        candidates = [path / n for n in ("data_2k_lw.json", "data_2k.json", "data_2k_lw.zip", "data_2k.zip")]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise InputError(f"{path}: no data_2k_lw.json / data_2k.json (or .zip) in this folder")
        path = found[0]
    data = _load_json(path)
    if not isinstance(data, Mapping) or not data:
        raise InputError(f"{path}: expected a JSON object {{dataset: {{config id: ...}}}}")
    task_list = select_tasks(list(data), tasks, "lcbench")

    space = configuration_space()
    reference_ids: list[str] | None = None
    reference_configs: list[Mapping[str, Any]] | None = None
    tags: list[str] | None = None
    length = 0
    tables: dict[str, np.ndarray] = {}
    for task in progress(task_list, total=len(task_list), desc="lcbench datasets"):
        runs = data[task]
        where = f"{path} dataset {task!r}"
        if not isinstance(runs, Mapping) or not runs:
            raise InputError(f"{where}: expected a non-empty object {{config id: run}}")
        try:
            ids = sorted(runs, key=int)
        except ValueError:
            raise InputError(f"{where}: config ids must be integers as strings, got e.g. {next(iter(runs))!r}") \
                from None
        for cid in ids:
            require_keys(runs[cid], ("config", "log"), f"{where} config {cid}")
        if reference_ids is None:
            reference_ids = ids
            reference_configs = [runs[c]["config"] for c in ids]
            first_log = runs[ids[0]]["log"]
            if not isinstance(first_log, Mapping):
                raise InputError(f"{where} config {ids[0]}: 'log' must be an object of tag -> list")
            present = [t for t in first_log if t != FIDELITY_TAG]
            # Syne Tune's seven objectives first (in its order), then every other tag in file order.
            tags = [t for t in _TAG_NAMES if t in present] + [t for t in present if t not in _TAG_NAMES]
            if "time" not in tags:
                raise InputError(f"{where} config {ids[0]}: log has no 'time' tag (tags: {list(first_log)})")
            length = len(first_log["time"])
            if length < 3:
                raise InputError(f"{where}: log lists have {length} entries; need the untrained entry, "
                                 "at least one epoch and the final entry")
        else:
            if ids != reference_ids:
                raise InputError(f"{where}: config ids differ from dataset {task_list[0]!r}; every dataset "
                                 "must hold the same configurations")
            assert reference_configs is not None
            for cid, ref in zip(ids, reference_configs):
                if runs[cid]["config"] != ref:
                    raise InputError(f"{where} config {cid}: differs from the same id on {task_list[0]!r}")
        assert tags is not None
        arrays = []
        for tag in tags:
            try:
                rows = [runs[c]["log"][tag] for c in ids]
            except KeyError:
                bad = next(c for c in ids if tag not in runs[c]["log"])
                raise InputError(f"{where} config {bad}: log lacks tag {tag!r}") from None
            try:
                arr = np.array(rows, dtype=np.float64)
            except (TypeError, ValueError):
                bad = next(c for c, r in zip(ids, rows) if not isinstance(r, list) or len(r) != length)
                raise InputError(f"{where} config {bad}: log tag {tag!r} is not a list of {length} numbers") \
                    from None
            if arr.shape != (len(ids), length):
                raise InputError(f"{where}: log tag {tag!r} has shape {arr.shape}, expected "
                                 f"({len(ids)}, {length})")
            arrays.append(_validated(arr, tag, where))
        stacked = np.stack(arrays, axis=-1)  # (N, L, O)
        tables[task] = stacked[:, None, 1:length - 1, :]  # drop the untrained and the final entry
    assert reference_configs is not None and tags is not None

    hyperparameters, fixed = _hyperparameters(reference_configs, str(path))
    check_configurations(hyperparameters, space, str(path))
    names = [objective_name(t) for t in tags]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: log tags {tags} map to repeated objective names {names}")
    metadata = _metadata(names, tags, fixed, length)
    fidelities = np.arange(1, length - 1, dtype=np.int64)
    return {t: make_tabular(hyperparameters, arr, space, names, metadata, t, "epoch", fidelities)
            for t, arr in tables.items()}


def _validated(arr: np.ndarray, tag: str, where: str) -> np.ndarray:
    name = objective_name(tag)
    if tag == "time":
        check_range(arr, tag, where, lower=0.0)
        elapsed = arr - arr[:, :1]
        check_range(elapsed, "time minus entry 0", where, lower=0.0)
        return elapsed
    if name.endswith("balanced_accuracy"):
        check_range(arr, tag, where, lower=0.0, upper=1.0)
    elif name.endswith("accuracy"):
        check_range(arr, tag + " (percent)", where, lower=0.0, upper=100.0)
    elif name.endswith("cross_entropy"):
        check_range(arr, tag, where, lower=0.0)
    return arr


def _hyperparameters(configs: list[Mapping[str, Any]], where: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, Mapping):
            raise InputError(f"{where}: config {i} is not an object")
        missing = [h for h in HYPERPARAMETERS if h not in cfg]
        if missing:
            raise InputError(f"{where}: config {i} lacks hyperparameter(s) {missing}")
    fixed: dict[str, Any] = {}
    for key in configs[0]:
        if key in HYPERPARAMETERS:
            continue
        first = configs[0][key]
        varying = next((i for i, c in enumerate(configs) if c.get(key) != first), None)
        if varying is not None:
            raise InputError(f"{where}: config key {key!r} varies (config 0: {first!r}, config {varying}: "
                             f"{configs[varying].get(key)!r}) but is not one of LCBench's sampled "
                             f"hyperparameters {list(HYPERPARAMETERS)}")
        fixed[key] = first
    frame = hyperparameter_frame([[c[h] for h in HYPERPARAMETERS] for c in configs], where)
    return frame, fixed


def _metadata(names: list[str], tags: list[str], fixed: dict[str, Any], length: int) -> BlackboxMetadata:
    modes = {n: m for n in names if (m := objective_mode(n)) is not None}
    return BlackboxMetadata(
        name="lcbench",
        default_metric="val_accuracy" if "val_accuracy" in names else names[0],
        mode="max" if "val_accuracy" in names else modes.get(names[0], "min"),
        objective_modes=modes,
        time_objective="elapsed_time",
        time_is_cumulative=True,
        source=SOURCE,
        licence=LICENCE,
        description="Funnel-shaped MLPs (Auto-PyTorch) on 35 OpenML datasets, 2000 random configurations of 7 "
                    f"hyperparameters, {length - 2} epochs, one seed.",
        seeds=[0],
        extra={
            "units": {"*_accuracy": "percent", "*_balanced_accuracy": "fraction in [0, 1]",
                      "*_cross_entropy": "nats", "elapsed_time": "seconds since training began, cumulative"},
            "log_tags": dict(zip(tags, names)),
            "dropped_log_entries": "entry 0 (untrained model) and the last entry (extra final evaluation, "
                                   "equal to the last epoch for most runs); fidelity e = log entry e",
            "elapsed_time_definition": "time[e] - time[0]",
            "num_layers": "the JSON literal true is stored as 1",
            "fixed_settings": fixed,
        },
    )
