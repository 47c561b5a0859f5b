"""LCBench validation cross-entropy curves in the derived npz layout -> repository format.

Input: a folder of ``<dataset>.npz`` files, each with ``X`` (N, 7): the sampled configurations in LCBench's
column order (batch_size, learning_rate, momentum, weight_decay, num_layers, max_units, max_dropout) and
``Y`` (N, L): validation cross-entropy after log entries 0..L-1 (../shared/data/README.md). Every file
must hold the same ``X``.

Output: one task per file (its stem), one seed, fidelity ``epoch`` 1..L-2 holding log entries 1..L-2 (the
untrained entry 0 and the extra final entry are dropped, exactly as the JSON converter does), one
objective ``val_cross_entropy``. These files have no time, so the blackbox has no time objective.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion.base import (
    InputError,
    check_configurations,
    check_range,
    check_shape,
    make_tabular,
    progress,
    require_path,
    select_tasks,
)
from blackbox_repo.conversion.lcbench import (
    HYPERPARAMETERS,
    SOURCE,
    configuration_space,
    hyperparameter_frame,
)

OBJECTIVES = ("val_cross_entropy",)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "Y") if k not in z.files]
            if missing:
                raise InputError(f"{path}: missing array(s) {missing} (has {z.files})")
            return np.asarray(z["X"]), np.asarray(z["Y"])
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise InputError(f"cannot read {path} as an npz file: {err}") from None


def read_lcbench_npz(
    input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
) -> dict[str, TabularBlackbox]:
    folder = require_path(input_path, "LCBench curves folder", "Give the folder holding <dataset>.npz files")
    if not folder.is_dir():
        raise InputError(f"{folder}: expected a folder of <dataset>.npz files")
    files = {p.stem: p for p in sorted(folder.glob("*.npz"))}
    if not files:
        raise InputError(f"{folder}: no .npz files")
    task_list = select_tasks(list(files), tasks, "lcbench-npz")
    reference_x: np.ndarray | None = None
    tables: dict[str, np.ndarray] = {}
    for task in progress(task_list, total=len(task_list), desc="lcbench npz"):
        path = files[task]
        x, y = _load(path)
        check_shape(x, (None, len(HYPERPARAMETERS)), "X", str(path))
        check_shape(y, (x.shape[0], None), "Y", str(path))
        if y.shape[1] < 3:
            raise InputError(f"{path}: Y has {y.shape[1]} log entries; need the untrained entry, at least one "
                             "epoch and the final entry")
        if reference_x is None:
            reference_x = x
        elif x.shape != reference_x.shape or not np.array_equal(x, reference_x):
            raise InputError(f"{path}: X differs from {files[task_list[0]].name}; every file must hold the same "
                             "configurations")
        elif y.shape[1] != next(iter(tables.values())).shape[2] + 2:
            raise InputError(f"{path}: Y has {y.shape[1]} entries per curve, other files have "
                             f"{next(iter(tables.values())).shape[2] + 2}")
        check_range(y, "Y (validation cross-entropy)", str(path), lower=0.0)
        tables[task] = y[:, None, 1:-1, None]
    assert reference_x is not None
    space = configuration_space()
    hyperparameters = hyperparameter_frame(reference_x, str(folder))
    check_configurations(hyperparameters, space, str(folder))
    length = next(iter(tables.values())).shape[2] + 2
    metadata = BlackboxMetadata(
        name="lcbench-val-ce",
        default_metric="val_cross_entropy",
        mode="min",
        objective_modes={"val_cross_entropy": "min"},
        time_objective=None,
        source=SOURCE + "; validation cross-entropy curves in npz form",
        licence="Apache-2.0 (data), MIT (automl/LCBench code)",
        description="LCBench validation cross-entropy curves only (no time, no other metric).",
        seeds=[0],
        extra={"dropped_log_entries": "entry 0 (untrained) and the last entry; fidelity e = log entry e",
               "units": {"val_cross_entropy": "nats"}, "num_log_entries": int(length)},
    )
    fidelities = np.arange(1, length - 1, dtype=np.int64)
    return {t: make_tabular(hyperparameters, arr, space, OBJECTIVES, metadata, t, "epoch", fidelities)
            for t, arr in tables.items()}
