"""Offline evaluations of Salinas, Shen & Perrone (ICML 2020) -> repository format.

Input: one of the csv.zip files published with "A Quantile-based Approach for Hyperparameter Transfer
Learning" (github.com/geoalgo/A-Quantile-based-Approach-for-Hyperparameter-Transfer-Learning,
``src/blackbox/offline_evaluations/``), or a folder holding it:

``XGBoost.csv.zip``  (source ``icml-xgboost``)
    5000 random configurations per LIBSVM task (10 tasks; different configurations on each task), one
    objective ``error`` (classification error, fraction). Hyperparameters are kept exactly as stored:
    four of them on the log2 scale (``log2_min_child_weight``, ...), with uniform domains over that scale.
``DeepAR.csv.zip``  (source ``icml-deepar``)
    about 230 random configurations per forecasting task (11 tasks; different on each task); objectives
    ``CRPS``, ``RMSE``, ``train_loss``, ``throughput``, ``time`` (seconds of the whole training, the time
    objective). The file stores every hyperparameter as a natural logarithm; the integer ones
    (``num_layers``, ``num_cells``, ``num_batches_per_epoch``) are stored as integers, the others stay on
    the log scale (``dropout_rate_log`` ...). Task constants (frequency, prediction length) go to metadata.
``nas_bench102.csv.zip``  (source ``icml-nasbench201``)
    NAS-Bench-201 after 200 epochs for 15625 architectures on cifar10, cifar100, ImageNet16-120:
    ``test_accuracy``, ``train_accuracy``, ``test_error`` (all percent, as stored), ``params`` (MB),
    ``latency`` (s). Hyperparameters are the six edges, named and valued as in the NAS-Bench-201 converter.

All are single fidelity with one seed. The repository stores one hyperparameter table per blackbox, so
for XGBoost and DeepAR (whose tasks evaluated different configurations) the rows are the union over tasks
and a task's objectives are NaN in the rows of other tasks' configurations (``metadata.extra`` gives the
row count per task). Domain bounds are the sampling ranges of the paper, which contain every stored value.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion import nasbench201 as nb201
from blackbox_repo.conversion.base import (
    ARCHIVE_ERRORS,
    InputError,
    check_configurations,
    check_range,
    damaged_archive,
    make_tabular,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import Integer, SearchSpace, Uniform

SOURCE = ("D. Salinas, H. Shen, V. Perrone, 'A Quantile-based Approach for Hyperparameter Transfer Learning', "
          "ICML 2020; offline evaluations from https://github.com/geoalgo/"
          "A-Quantile-based-Approach-for-Hyperparameter-Transfer-Learning")
LICENCE = "Apache-2.0"
FILES = {"icml-xgboost": "XGBoost.csv.zip", "icml-deepar": "DeepAR.csv.zip",
         "icml-nasbench201": "nas_bench102.csv.zip"}


def _read_csv(input_path: str | os.PathLike[str], source: str, required: Sequence[str]) -> tuple[Path, pd.DataFrame]:
    path = require_path(input_path, f"{source} input", f"Give {FILES[source]} or the folder holding it")
    if path.is_dir():
        path = path / FILES[source]
        if not path.is_file():
            raise InputError(f"{path.parent}: no {FILES[source]} in this folder")
    try:
        frame = pd.read_csv(path)
    except ARCHIVE_ERRORS as err:
        raise damaged_archive(path, err, f"download {FILES[source]} again (a complete copy opens with "
                                         "`unzip -t`) and rerun the conversion") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read {path} as a (zipped) CSV table: {err}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing} (columns: {list(frame.columns)})")
    if frame[list(required)].isna().any().any():
        col = next(c for c in required if frame[c].isna().any())
        raise InputError(f"{path}: column {col} has empty cells")
    return path, frame


def _union_tables(frame: pd.DataFrame, hp_columns: list[str], objective_columns: list[str], tasks: list[str],
                  space: SearchSpace, where: str) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, int]]:
    """Rows = union of every task's configurations (first-seen order); objectives NaN where not evaluated."""
    hyperparameters = frame[hp_columns].drop_duplicates(ignore_index=True)
    check_configurations(hyperparameters, space, where)
    index = pd.MultiIndex.from_frame(hyperparameters)
    tables: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for task in tasks:
        part = frame[frame["task"] == task]
        dup = part.duplicated(subset=hp_columns)
        if dup.any():
            raise InputError(f"{where}: task {task!r} evaluates configuration "
                             f"{part.loc[dup, hp_columns].iloc[0].to_dict()} twice")
        rows = index.get_indexer(pd.MultiIndex.from_frame(part[hp_columns]))
        arr = np.full((len(hyperparameters), 1, 1, len(objective_columns)), np.nan, dtype=np.float64)
        arr[rows, 0, 0, :] = part[objective_columns].to_numpy(dtype=np.float64)
        tables[task] = arr
        counts[task] = len(part)
    return hyperparameters, tables, counts


def read_icml_xgboost(input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
                      ) -> dict[str, TabularBlackbox]:
    space = SearchSpace({
        "log2_min_child_weight": Uniform(-8.0, 6.0),
        "subsample": Uniform(0.5, 1.0),
        "colsample_bytree": Uniform(0.3, 1.0),
        "log2_gamma": Uniform(-20.0, 6.0),
        "log2_lambda": Uniform(-10.0, 8.0),
        "eta": Uniform(0.0, 1.0),
        "max_depth_index": Integer(0, 12),
        "log2_alpha": Uniform(-20.0, 8.0),
    })
    source_columns = ["hp_" + n for n in space.names]
    path, frame = _read_csv(input_path, "icml-xgboost", source_columns + ["metric_error", "task"])
    frame = frame.rename(columns={c: c[3:] for c in source_columns})
    check_range(frame["metric_error"].to_numpy(), "metric_error", str(path), lower=0.0, upper=1.0)
    if not np.allclose(frame["max_depth_index"], np.round(frame["max_depth_index"])):
        raise InputError(f"{path}: hp_max_depth_index must hold integers")
    frame["max_depth_index"] = np.round(frame["max_depth_index"]).astype(np.int64)
    task_list = select_tasks(list(dict.fromkeys(frame["task"])), tasks, "icml-xgboost")
    hyperparameters, tables, counts = _union_tables(frame, space.names, ["metric_error"], task_list, space,
                                                    str(path))
    metadata = BlackboxMetadata(
        name="icml-xgboost", default_metric="error", mode="min", objective_modes={"error": "min"},
        time_objective=None, source=SOURCE, licence=LICENCE,
        description="XGBoost on 10 LIBSVM datasets, random configurations, classification error.",
        seeds=[0],
        extra={"rows_evaluated_per_task": counts, "units": {"error": "fraction"},
               "log2_hyperparameters": "log2_* columns hold log2 of min_child_weight, gamma, lambda, alpha",
               "max_depth_index": "index into the paper's list of max_depth values, as stored"},
    )
    return {t: make_tabular(hyperparameters, tables[t], space, ["error"], metadata, t) for t in task_list}


def read_icml_deepar(input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
                     ) -> dict[str, TabularBlackbox]:
    space = SearchSpace({
        "num_layers": Integer(2, 4),
        "num_cells": Integer(30, 120),
        "dropout_rate_log": Uniform(math.log(0.01), math.log(0.51)),
        "learning_rate_log": Uniform(math.log(1e-4), math.log(0.1)),
        "num_batches_per_epoch": Integer(10, 10000, log=True),
        "context_length_ratio_log": Uniform(math.log(0.05), math.log(4.0)),
    })
    stored = {"num_layers": "hp_num_layers", "num_cells": "hp_num_cells",
              "dropout_rate_log": "hp_dropout_rate_log", "learning_rate_log": "hp_learning_rate_log",
              "num_batches_per_epoch": "hp_num_batches_per_epoch_log",
              "context_length_ratio_log": "hp_context_length_ratio_log"}
    metrics = {"metric_CRPS": "CRPS", "metric_RMSE": "RMSE", "metric_train_loss": "train_loss",
               "metric_throughput": "throughput", "metric_time": "time"}
    path, frame = _read_csv(input_path, "icml-deepar", list(stored.values()) + list(metrics) +
                            ["task", "dataset_time_freq", "dataset_prediction_length"])
    data = pd.DataFrame({name: frame[col] for name, col in stored.items()})
    for name in ("num_layers", "num_cells", "num_batches_per_epoch"):
        value = np.exp(data[name].to_numpy(dtype=np.float64))
        if not np.allclose(value, np.round(value), rtol=0, atol=1e-6):
            raise InputError(f"{path}: {stored[name]} must be the log of an integer; exp gives e.g. "
                             f"{value[~np.isclose(value, np.round(value))][0]!r}")
        data[name] = np.round(value).astype(np.int64)
    for col, name in metrics.items():
        data[name] = frame[col].to_numpy(dtype=np.float64)
    data["task"] = frame["task"]
    for name in ("CRPS", "RMSE", "throughput", "time"):
        check_range(data[name].to_numpy(), name, str(path), lower=0.0)
    task_list = select_tasks(list(dict.fromkeys(frame["task"])), tasks, "icml-deepar")
    hyperparameters, tables, counts = _union_tables(data, space.names, list(metrics.values()), task_list, space,
                                                    str(path))
    constants = {t: {"time_freq": str(frame.loc[frame.task == t, "dataset_time_freq"].iloc[0]),
                     "prediction_length": int(frame.loc[frame.task == t, "dataset_prediction_length"].iloc[0])}
                 for t in task_list}
    metadata = BlackboxMetadata(
        name="icml-deepar", default_metric="CRPS", mode="min",
        objective_modes={"CRPS": "min", "RMSE": "min", "train_loss": "min", "throughput": "max", "time": "min"},
        time_objective="time", time_is_cumulative=True, source=SOURCE, licence=LICENCE,
        description="DeepAR (GluonTS) on 11 forecasting datasets, random configurations.",
        seeds=[0],
        extra={"rows_evaluated_per_task": counts, "task_settings": constants,
               "units": {"time": "seconds (whole training)", "throughput": "as stored upstream"},
               "log_hyperparameters": "*_log columns hold natural logarithms, as stored"},
    )
    return {t: make_tabular(hyperparameters, tables[t], space, list(metrics.values()), metadata, t)
            for t in task_list}


def read_icml_nasbench201(input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
                          ) -> dict[str, TabularBlackbox]:
    digits = [f"hp_x{i}" for i in range(6)]
    metrics = {"metric_test_accuracy": "test_accuracy", "metric_train_accuracy": "train_accuracy",
               "metric_error": "test_error", "metric_params_size": "params", "metric_latency": "latency"}
    path, frame = _read_csv(input_path, "icml-nasbench201", digits + ["arch_str", "task"] + list(metrics))
    ops = np.array(nb201.OPS, dtype=object)
    codes = frame[digits].to_numpy()
    if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= len(ops):
        raise InputError(f"{path}: hp_x0..hp_x5 must be op indices 0..{len(ops) - 1}")
    configs = pd.DataFrame(ops[codes], columns=list(nb201.EDGES))
    # The digit columns must agree with the architecture strings they came from.
    for arch in frame["arch_str"].drop_duplicates().head(50):
        row = frame.index[frame["arch_str"] == arch][0]
        if tuple(configs.loc[row]) != nb201.parse_arch_string(arch):
            raise InputError(f"{path}: row {row}: hp_x0..hp_x5 {tuple(codes[row])} disagree with arch_str {arch!r}")
    for col in ("metric_test_accuracy", "metric_train_accuracy", "metric_error"):
        check_range(frame[col].to_numpy(), col + " (percent)", str(path), lower=0.0, upper=100.0)
    for col in ("metric_params_size", "metric_latency"):
        check_range(frame[col].to_numpy(), col, str(path), lower=0.0)
    data = configs.assign(task=frame["task"].to_numpy())
    for col, name in metrics.items():
        data[name] = frame[col].to_numpy(dtype=np.float64)
    task_list = select_tasks(list(dict.fromkeys(frame["task"])), tasks, "icml-nasbench201")
    space = nb201.configuration_space()
    hyperparameters, tables, counts = _union_tables(data, space.names, list(metrics.values()), task_list, space,
                                                    str(path))
    metadata = BlackboxMetadata(
        name="icml-nasbench201", default_metric="test_error", mode="min",
        objective_modes={"test_error": "min", "test_accuracy": "max", "train_accuracy": "max", "params": "min",
                         "latency": "min"},
        time_objective=None, source=SOURCE + "; NAS-Bench-201 (Dong & Yang, ICLR 2020)", licence=LICENCE,
        description="NAS-Bench-201 after 200 epochs (ICML 2020 export), single fidelity.",
        seeds=[0],
        extra={"rows_evaluated_per_task": counts,
               "units": {"test_error": "percent (100 - test_accuracy)", "test_accuracy": "percent",
                         "train_accuracy": "percent", "params": "MB", "latency": "seconds"}},
    )
    return {t: make_tabular(hyperparameters, tables[t], space, list(metrics.values()), metadata, t)
            for t in task_list}
