"""Small synthetic files in the exact upstream layouts (../shared/FORMATS.md section 6).

Used by the converter tests and ``benchmarks/bench_conversion.py``, and handy for anyone checking a
converter without the multi-GB originals. Values are random (from an explicit seed); shapes, key spellings
and types are those of the real files. Each writer returns the raw content it wrote so a test can compare
converted values one by one.
"""
from __future__ import annotations

import bz2
import itertools
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.conversion import fcnet as fcnet_module
from blackbox_repo.conversion import nasbench201 as nb201
from blackbox_repo.seeding import make_rng

NB201_DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")


def _nb201_result(rng: np.random.Generator, dataset: str, seed: int, epochs: int, train_time: float,
                  eval_time: float, cost: tuple[float, float, float]) -> dict[str, Any]:
    """One ResultsCount state dict with the per-dataset evaluation keys of the real budget-200 entries."""
    last = epochs - 1
    acc = {e: float(rng.uniform(10, 99)) for e in range(epochs)}
    if dataset == "cifar10-valid":
        names = ["x-valid", "ori-test"]
        acc_keys = [f"x-valid@{e}" for e in range(epochs)] + [f"ori-test@{last}"]
    elif dataset == "cifar10":
        names = ["ori-test"]
        acc_keys = [f"ori-test@{e}" for e in range(epochs)]
    else:
        names = ["ori-test", "x-valid", "x-test"]
        acc_keys = [f"ori-test@{e}" for e in range(epochs)] + [f"x-valid@{last}", f"x-test@{last}"]
    time_keys = [f"{n}@{e}" for n in names for e in range(epochs)]
    params, flop, latency = cost
    return {
        "name": dataset, "seed": f"{seed:04d}", "epochs": epochs,
        "train_acc1es": acc, "train_acc5es": None,
        "train_losses": {e: float(rng.uniform(0, 3)) for e in range(epochs)},
        "train_times": {e: train_time for e in range(epochs)},
        "eval_names": names,
        "eval_acc1es": {k: float(rng.uniform(10, 99)) for k in acc_keys},
        "eval_losses": {k: float(rng.uniform(0, 3)) for k in acc_keys},
        "eval_times": {k: eval_time for k in time_keys},
        "params": np.float64(params), "flop": float(flop), "latency": [np.float64(latency)],
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": "", "class_num": 10},
        "net_state_dict": None,
    }


def write_nasbench201(path: Path, *, num_archs: int = 4, epochs: int = 200, layout: str = "full",
                      drop: Sequence[tuple[int, str, int]] = (), seed: int = 0) -> dict[str, Any]:
    """Write ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (layout "full", ``path`` is the file) or the ``-simple``
    folder (``path`` is the folder). ``drop`` lists (arch id, dataset, seed) entries to leave out."""
    rng = make_rng(seed, "nasbench201-fixture")
    all_archs = list(itertools.product(nb201.OPS, repeat=6))
    picks = rng.choice(len(all_archs), size=num_archs, replace=False)
    arch_strings = [nb201.arch_string(all_archs[i]) for i in picks]
    dropped = set(drop)
    infos: dict[int, dict[str, Any]] = {}
    for i, arch in enumerate(arch_strings):
        results: dict[tuple[str, int], Any] = {}
        dataset_seed: dict[str, list[int]] = {}
        base_time = float(rng.uniform(5, 20))
        for dataset in NB201_DATASETS:
            cost = (float(rng.uniform(0.1, 1.5)), float(rng.uniform(5, 200)), float(rng.uniform(0.01, 0.03)))
            train_time = base_time / 2 if dataset == "cifar10-valid" else base_time
            eval_time = float(rng.uniform(0.5, 2))
            for s in nb201.SEEDS:
                if (i, dataset, s) in dropped:
                    continue
                res = _nb201_result(rng, dataset, s, epochs, train_time, eval_time, cost)
                res["arch_config"]["arch_str"] = arch
                results[(dataset, s)] = res
                dataset_seed.setdefault(dataset, []).append(s)
        state = {"arch_index": i, "arch_str": arch, "all_results": results, "dataset_seed": dataset_seed,
                 "clear_net_done": True}
        infos[i] = {"12": {"arch_index": i, "arch_str": arch, "all_results": {}, "dataset_seed": {},
                           "clear_net_done": True}, "200": state}
    meta = {"meta_archs": arch_strings, "total_archs": num_archs, "evaluated_indexes": set(range(num_archs))}
    path = Path(path)
    if layout == "full":
        path.parent.mkdir(parents=True, exist_ok=True)
        with bz2.BZ2File(path, "wb") as fh:
            pickle.dump({**meta, "arch2infos": infos}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    elif layout == "simple":
        path.mkdir(parents=True, exist_ok=True)
        with bz2.BZ2File(path / "meta.pickle.pbz2", "wb") as fh:
            pickle.dump({**meta, "arch2infos": None, "evaluated_indexes": set()}, fh)
        for i, info in infos.items():
            with bz2.BZ2File(path / f"{i:06d}.pickle.pbz2", "wb") as fh:
                pickle.dump(info, fh)
    else:
        raise ValueError(f"layout must be 'full' or 'simple', got {layout!r}")
    return {"meta_archs": arch_strings, "arch2infos": infos}


def fcnet_subgrid(values_per_hyperparameter: int = 2) -> list[dict[str, Any]]:
    """Configurations of a sub-grid (the first k values of every hyperparameter), Python types."""
    space = fcnet_module.configuration_space()
    axes = [space[h].values()[:values_per_hyperparameter] for h in fcnet_module.HYPERPARAMETERS]
    return [dict(zip(fcnet_module.HYPERPARAMETERS, combo)) for combo in itertools.product(*axes)]


def write_fcnet(folder: Path, configs: Sequence[dict[str, Any]] | None = None, *, repetitions: int = 4,
                epochs: int = 100, seed: int = 0, tasks: Sequence[str] = fcnet_module.TASKS
                ) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """One ``fcnet_<task>_data.hdf5`` per task, groups named ``json.dumps(config, sort_keys=True)``."""
    import h5py

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = list(configs) if configs is not None else fcnet_subgrid(2)
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for task in tasks:
        rng = make_rng(seed, "fcnet-fixture", task)
        out[task] = {}
        with h5py.File(folder / fcnet_module.file_name(task), "w") as fh:
            for cfg in configs:
                name = json.dumps(cfg, sort_keys=True)
                train = rng.uniform(0, 1, size=(repetitions, epochs))
                valid = rng.uniform(0, 1, size=(repetitions, epochs))
                data = {
                    "train_loss": train, "train_mse": train.copy(), "valid_loss": valid, "valid_mse": valid.copy(),
                    "final_test_error": rng.uniform(0, 1, size=repetitions),
                    "runtime": rng.uniform(50, 500, size=repetitions),
                    "n_params": np.full(repetitions, float(rng.integers(100, 10000))),
                }
                group = fh.create_group(name)
                for key, arr in data.items():
                    group.create_dataset(key, data=arr.astype(np.float64))
                out[task][name] = data
    return out


LCBENCH_FIXED = {
    "imputation_strategy": "mean", "learning_rate_scheduler": "cosine_annealing", "loss": "cross_entropy_weighted",
    "network": "shapedmlpnet", "normalization_strategy": "standardize", "optimizer": "sgd",
    "cosine_annealing_T_max": 50, "cosine_annealing_eta_min": 1e-08, "activation": "relu", "mlp_shape": "funnel",
}
LCBENCH_TAGS = ("time", "epoch", "Train/loss", "Train/train_accuracy", "Train/val_accuracy",
                "Train/train_cross_entropy", "Train/val_cross_entropy", "Train/train_balanced_accuracy",
                "Train/val_balanced_accuracy", "Train/test_result", "Train/test_cross_entropy",
                "Train/test_balanced_accuracy", "Train/gradient_norm", "Train/lr")


def lcbench_document(*, datasets: Sequence[str] = ("adult", "car"), num_configs: int = 5, entries: int = 52,
                     seed: int = 0) -> dict[str, Any]:
    """The ``data_2k_lw.json`` object: the 17 config keys in upstream order, 52 entries per log tag."""
    rng = make_rng(seed, "lcbench-fixture")
    configs = []
    for _ in range(num_configs):
        layers = int(rng.integers(1, 5))
        configs.append({
            "batch_size": int(rng.integers(16, 513)), "imputation_strategy": LCBENCH_FIXED["imputation_strategy"],
            "learning_rate_scheduler": LCBENCH_FIXED["learning_rate_scheduler"], "loss": LCBENCH_FIXED["loss"],
            "network": LCBENCH_FIXED["network"], "max_dropout": float(rng.uniform(0, 1)),
            "normalization_strategy": LCBENCH_FIXED["normalization_strategy"],
            "optimizer": LCBENCH_FIXED["optimizer"], "cosine_annealing_T_max": 50,
            "cosine_annealing_eta_min": 1e-08, "activation": "relu", "max_units": int(rng.integers(64, 1025)),
            "mlp_shape": "funnel", "num_layers": True if layers == 1 else layers,
            "learning_rate": float(np.exp(rng.uniform(np.log(1e-4), np.log(0.1)))),
            "momentum": float(rng.uniform(0.1, 0.99)), "weight_decay": float(rng.uniform(1e-5, 0.1)),
        })
    doc: dict[str, Any] = {}
    for dataset in datasets:
        runs = {}
        for cid, cfg in enumerate(configs):
            log: dict[str, list[float]] = {}
            for tag in LCBENCH_TAGS:
                if tag == "time":
                    values = np.cumsum(rng.uniform(0.5, 3.0, size=entries))
                elif tag == "epoch":
                    values = np.arange(entries, dtype=float)
                elif tag.endswith("balanced_accuracy"):
                    values = rng.uniform(0, 1, size=entries)
                elif tag.endswith("accuracy") or tag == "Train/test_result":
                    values = rng.uniform(0, 100, size=entries)
                else:
                    values = rng.uniform(0, 3, size=entries)
                values = values.tolist()
                if tag != "epoch" and cid % 4 != 3:  # the final entry repeats the last epoch for most runs
                    values[-1] = values[-2]
                log[tag] = values
            runs[str(cid)] = {"config": dict(cfg), "log": log,
                              "results": {"final_val_accuracy": log["Train/val_accuracy"][-1]}}
        doc[dataset] = runs
    return doc


def write_lcbench(path: Path, **kwargs: Any) -> dict[str, Any]:
    doc = lcbench_document(**kwargs)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc))
    return doc


def write_syne_tune(folder: Path, *, num_tasks: int = 2, num_configs: int = 6, num_seeds: int = 2,
                    num_fidelities: int = 3, seed: int = 0) -> dict[str, Any]:
    """A Syne Tune blackbox folder as ``blackbox_tabular.serialize`` writes it (FORMATS 2.1)."""
    rng = make_rng(seed, "syne-tune-fixture")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hp = pd.DataFrame({
        "hp_activation": rng.choice(["relu", "tanh"], size=num_configs).tolist(),
        "hp_batch_size": rng.choice([8, 16, 32, 64], size=num_configs).astype(np.int64),
        "hp_dropout": rng.choice([0.0, 0.3, 0.6], size=num_configs).astype(np.float64),
        "hp_lr": np.exp(rng.uniform(np.log(1e-4), np.log(1e-1), size=num_configs)),
        "hp_layers": rng.integers(1, 5, size=num_configs).astype(np.int64),
        "hp_momentum": rng.uniform(0.1, 0.99, size=num_configs),
    })
    hp["hp_activation"] = hp["hp_activation"].astype(str)
    hp = hp.drop_duplicates(ignore_index=True)
    n = len(hp)
    configspace = {
        "hp_activation": {"domain_cls": "Categorical", "domain_kwargs": {"categories": ["relu", "tanh"]},
                          "sampler_cls": "Uniform", "sampler_kwargs": {}},
        "hp_batch_size": {"domain_cls": "FiniteRange", "domain_kwargs": {
            "lower": 8, "upper": 64, "log_scale": True, "cast_int": True, "size": 4}},
        "hp_dropout": {"domain_cls": "FiniteRange", "domain_kwargs": {
            "lower": 0.0, "upper": 0.6, "log_scale": False, "cast_int": False, "size": 3}},
        "hp_lr": {"domain_cls": "Float", "domain_kwargs": {"lower": 1e-4, "upper": 1e-1},
                  "sampler_cls": "LogUniform", "sampler_kwargs": {"base": float(np.e)}},
        "hp_layers": {"domain_cls": "Integer", "domain_kwargs": {"lower": 1, "upper": 4},
                      "sampler_cls": "Uniform", "sampler_kwargs": {}},
        "hp_momentum": {"domain_cls": "Float", "domain_kwargs": {"lower": 0.1, "upper": 0.99},
                        "sampler_cls": "Uniform", "sampler_kwargs": {}},
        "hp_epochs_total": 100,
    }
    objectives = rng.uniform(0, 1, size=(num_tasks, n, num_seeds, num_fidelities, 3)).astype(np.float32)
    objectives[..., 2] = np.cumsum(objectives[..., 2], axis=-1)
    tasks = [f"task-{i}" for i in range(num_tasks)]
    hp.to_parquet(folder / "hyperparameters.parquet", index=False)
    np.save(folder / "objectives_evaluations.npy", objectives)
    np.save(folder / "fidelities_values.npy", np.arange(1, num_fidelities + 1, dtype=np.int64))
    (folder / "configspace.json").write_text(json.dumps(configspace))
    (folder / "fidelityspace.json").write_text(json.dumps({"hp_epoch": {
        "domain_cls": "Integer", "domain_kwargs": {"lower": 1, "upper": num_fidelities},
        "sampler_cls": "Uniform", "sampler_kwargs": {}}}))
    (folder / "metadata.json").write_text(json.dumps({
        "metric_elapsed_time": "metric_elapsed_time", "metric_default": "metric_valid_error",
        "time_attr": "hp_epoch", "objectives_names": ["metric_valid_error", "metric_accuracy",
                                                      "metric_elapsed_time"], "task_names": tasks}))
    return {"hyperparameters": hp, "objectives": objectives, "tasks": tasks, "configspace": configspace}
