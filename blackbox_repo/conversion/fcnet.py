"""FCNet tabular benchmarks (Klein & Hutter 2019) -> repository format.

Input: the folder ``fcnet_tabular_benchmarks/`` with the four HDF5 files
``fcnet_{protein_structure,naval_propulsion,parkinsons_telemonitoring,slice_localization}_data.hdf5``
(../shared/FORMATS.md section 1.2). Each file has one group per configuration, named by the configuration
as ``json.dumps(config, sort_keys=True)``, holding ``train_loss``/``valid_loss`` (repetitions, epochs) and
``final_test_error``/``runtime``/``n_params`` (repetitions,).

Output: one task per dataset; the configurations found in the files (the full grid has 62208), in the
files' own (byte-sorted name) order; fidelity ``epoch`` 1..100; 4 seeds = the 4 repetitions in file order.

Objectives (MSE on z-scored targets, as trained upstream):
``valid_loss``, ``train_loss`` per epoch (the ``*_mse`` datasets repeat them and are not stored);
``final_test_loss`` (test MSE after the last epoch, repeated at every epoch: it is a final value);
``n_params``; ``runtime`` (seconds per epoch) and ``elapsed_time`` (cumulative, the time objective).
Upstream records only the total wall time of a run (training, per-epoch validation and the final test),
so time is split linearly: ``runtime = total / E`` and ``elapsed_time(e) = total * e / E`` (E = 100), which
is exactly the cost the upstream API charges for a budget of e epochs.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion.base import (
    InputError,
    check_configurations,
    check_range,
    make_tabular,
    progress,
    require_files,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import Categorical, Ordinal, SearchSpace

TASKS = ("protein_structure", "naval_propulsion", "parkinsons_telemonitoring", "slice_localization")
HYPERPARAMETERS = ("activation_fn_1", "activation_fn_2", "batch_size", "dropout_1", "dropout_2", "init_lr",
                   "lr_schedule", "n_units_1", "n_units_2")
OBJECTIVES = ("valid_loss", "train_loss", "final_test_loss", "n_params", "runtime", "elapsed_time")
SOURCE = ("FCNet tabular benchmarks: A. Klein, F. Hutter, 'Tabular Benchmarks for Joint Architecture and "
          "Hyperparameter Optimization', arXiv:1905.04970, 2019; "
          "http://ml4aad.org/wp-content/uploads/2019/01/fcnet_tabular_benchmarks.tar.gz")
LICENCE = "Apache-2.0 (automl/nas_benchmarks)"
_CURVES = ("train_loss", "valid_loss")
_FINALS = ("final_test_error", "runtime", "n_params")


def file_name(task: str) -> str:
    return f"fcnet_{task}_data.hdf5"


def configuration_space() -> SearchSpace:
    return SearchSpace({
        "activation_fn_1": Categorical(["tanh", "relu"]),
        "activation_fn_2": Categorical(["tanh", "relu"]),
        "batch_size": Ordinal([8, 16, 32, 64]),
        "dropout_1": Ordinal([0.0, 0.3, 0.6]),
        "dropout_2": Ordinal([0.0, 0.3, 0.6]),
        "init_lr": Ordinal([0.0005, 0.001, 0.005, 0.01, 0.05, 0.1]),
        "lr_schedule": Categorical(["cosine", "const"]),
        "n_units_1": Ordinal([16, 32, 64, 128, 256, 512]),
        "n_units_2": Ordinal([16, 32, 64, 128, 256, 512]),
    })


def _parse_group_name(name: str, where: str) -> dict:
    try:
        config = json.loads(name)
    except json.JSONDecodeError:
        raise InputError(f"{where}: group {name!r} is not a JSON configuration") from None
    if not isinstance(config, dict) or sorted(config) != sorted(HYPERPARAMETERS):
        keys = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise InputError(f"{where}: group {name!r} has keys {keys}, expected {sorted(HYPERPARAMETERS)}")
    return config


def _read_file(path: Path, names: list[str] | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(group names, curves (N, S, E, 2) float64, finals (N, S, 3) float64) of one HDF5 file.

    Reads through h5py's low-level API straight into preallocated arrays: the high-level wrappers cost
    about a millisecond per dataset, which is minutes for 62208 groups x 5 datasets.
    """
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"cannot open {path} as HDF5: {err}") from None
    with handle:
        file_names = list(handle.keys())
        if not file_names:
            raise InputError(f"{path}: no configuration groups")
        if names is None:
            names = file_names
        else:
            present = set(file_names)
            absent = [n for n in names if n not in present]
            extra = present.difference(names)
            if absent or extra:
                example = absent[0] if absent else next(iter(extra))
                raise InputError(
                    f"{path}: the configurations differ from the first file ({len(absent)} missing, "
                    f"{len(extra)} extra, e.g. {example!r}); all four files must hold the same grid"
                )
        first = handle[names[0]]
        if not isinstance(first, h5py.Group) or "valid_loss" not in first:
            raise InputError(f"{path} group {names[0]!r}: expected a group with a valid_loss dataset")
        if len(first["valid_loss"].shape) != 2:
            raise InputError(f"{path} group {names[0]!r}: valid_loss has shape {first['valid_loss'].shape}, "
                             "expected (repetitions, epochs)")
        reps, epochs = first["valid_loss"].shape
        curves = np.empty((len(names), 2, reps, epochs), dtype=np.float64)
        finals = np.empty((len(names), 3, reps), dtype=np.float64)
        expected = {"valid_loss": (reps, epochs), "train_loss": (reps, epochs), "final_test_error": (reps,),
                    "runtime": (reps,), "n_params": (reps,)}
        fid = handle.id
        for i, name in enumerate(progress(names, total=len(names), desc=path.name)):
            try:
                gid = h5py.h5g.open(fid, name.encode())
            except (KeyError, ValueError, TypeError):
                raise InputError(f"{path}: {name!r} is not a group") from None
            targets = (curves[i, 0], curves[i, 1], finals[i, 0], finals[i, 1], finals[i, 2])
            for (key, shape), out in zip(expected.items(), targets):
                try:
                    did = h5py.h5d.open(gid, key.encode())
                except KeyError:
                    present = sorted(handle[name].keys())
                    raise InputError(f"{path} group {name!r}: missing dataset {key!r} (present: {present})") \
                        from None
                got = did.shape
                if tuple(got) != shape and not (len(shape) == 1 and tuple(got) in ((shape[0], 1), (1, shape[0]))):
                    raise InputError(f"{path} group {name!r}: {key} has shape {tuple(got)}, expected {shape}")
                did.read(h5py.h5s.ALL, h5py.h5s.ALL, out.reshape(got) if tuple(got) != shape else out)
    return names, curves.transpose(0, 2, 3, 1), finals.transpose(0, 2, 1)


def read_fcnet(
    input_path: str | os.PathLike[str], *, tasks: Sequence[str] | None = None
) -> dict[str, TabularBlackbox]:
    """Read the FCNet HDF5 files of a folder; returns {task: TabularBlackbox}."""
    folder = require_path(input_path, "FCNet folder",
                          "Download and extract fcnet_tabular_benchmarks.tar.gz and give its folder")
    task_list = select_tasks(TASKS, tasks, "fcnet")
    paths = require_files(folder, [file_name(t) for t in task_list], "FCNet folder",
                          "expected the files of fcnet_tabular_benchmarks.tar.gz")
    space = configuration_space()
    names: list[str] | None = None
    tables: dict[str, np.ndarray] = {}
    hyperparameters: pd.DataFrame | None = None
    num_epochs = num_reps = 0
    for task, path in zip(task_list, paths):
        names, curves, finals = _read_file(path, names)
        if hyperparameters is None:
            configs = [_parse_group_name(n, str(path)) for n in names]
            hyperparameters = pd.DataFrame([[c[h] for h in HYPERPARAMETERS] for c in configs],
                                           columns=list(HYPERPARAMETERS))
            check_configurations(hyperparameters, space, str(path))
            num_reps, num_epochs = curves.shape[1:3]
        elif curves.shape[1:3] != (num_reps, num_epochs):
            raise InputError(f"{path}: curves have {curves.shape[1:3]} (repetitions, epochs), other files "
                             f"have {(num_reps, num_epochs)}")
        where = str(path)
        check_range(curves, "train_loss/valid_loss", where, lower=0.0)
        check_range(finals[..., 0], "final_test_error", where, lower=0.0)
        check_range(finals[..., 1], "runtime", where, lower=0.0)
        check_range(finals[..., 2], "n_params", where, lower=0.0)
        tables[task] = _objectives(curves, finals)
    assert hyperparameters is not None
    metadata = _metadata(num_epochs, num_reps)
    fidelities = np.arange(1, num_epochs + 1, dtype=np.int64)
    return {t: make_tabular(hyperparameters, arr, space, OBJECTIVES, metadata, t, "epoch", fidelities)
            for t, arr in tables.items()}


def _objectives(curves: np.ndarray, finals: np.ndarray) -> np.ndarray:
    n, s, e, _ = curves.shape
    out = np.empty((n, s, e, len(OBJECTIVES)), dtype=np.float32)
    out[..., 0] = curves[..., 0]
    out[..., 1] = curves[..., 1]
    out[..., 2] = finals[:, :, None, 0]
    out[..., 3] = finals[:, :, None, 2]
    total = finals[:, :, None, 1]
    out[..., 4] = np.broadcast_to(total / e, (n, s, e))
    out[..., 5] = total * np.arange(1, e + 1, dtype=np.float64) / e
    return out


def _metadata(num_epochs: int, num_reps: int) -> BlackboxMetadata:
    return BlackboxMetadata(
        name="fcnet",
        default_metric="valid_loss",
        mode="min",
        objective_modes={name: "min" for name in OBJECTIVES},
        time_objective="elapsed_time",
        time_is_cumulative=True,
        source=SOURCE,
        licence=LICENCE,
        description="Two-layer fully connected regression networks, full grid of 9 hyperparameters, "
                    f"{num_epochs} epochs, {num_reps} independent repetitions (the seed axis).",
        seeds=[f"repetition {i}" for i in range(num_reps)],
        extra={
            "units": {"valid_loss": "MSE on z-scored targets", "train_loss": "MSE on z-scored targets",
                      "final_test_loss": "MSE on z-scored targets, after the last epoch (repeated per epoch)",
                      "n_params": "count", "runtime": "seconds per epoch (linear split)",
                      "elapsed_time": "seconds, cumulative (linear split)"},
            "time_split": "upstream stores one total runtime per run; elapsed_time(e) = runtime * e / "
                          f"{num_epochs} and runtime per epoch = runtime / {num_epochs}",
            "ignored_datasets": "train_mse and valid_mse (copies of train_loss and valid_loss)",
            "num_epochs": num_epochs,
        },
    )
