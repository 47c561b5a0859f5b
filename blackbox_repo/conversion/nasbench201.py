"""NAS-Bench-201 (NATS-Bench topology search space, "tss") -> repository format.

Input, either of the two layouts NATS-Bench publishes (../shared/FORMATS.md section 1.1):

* ``NATS-tss-v1_0-3ffb9.pickle.pbz2``: one bz2 pickle holding every architecture (needs a lot of RAM);
* ``NATS-tss-v1_0-3ffb9-simple/``: ``meta.pickle.pbz2`` plus one ``NNNNNN.pickle.pbz2`` per architecture
  (read one file at a time, so memory stays at the size of the output).

Output: tasks ``cifar10``, ``cifar100``, ``ImageNet16-120``; 15625 architectures (six categorical edges,
columns ``edge_0_to_1`` ... ``edge_2_to_3`` in arch-string order); fidelity ``epoch`` 1..200 (file epoch
e is stored at fidelity e + 1); seeds 777, 888, 999 in that order.

Objectives (errors are fractions in [0, 1]; upstream accuracies are percent):

``test_error`` / ``test_loss``
    on ``ori-test``, the original test set, at every epoch. Syne Tune stores this number under the name
    ``metric_valid_error``; we name it for what it is.
``valid_error`` / ``valid_loss``
    on the held-out validation split ``x-valid``. For ``cifar10`` it comes from the ``cifar10-valid`` run
    of the same architecture and seed (trained on the 25k-image train split; the ``cifar10`` run trains on
    train+valid and has no validation split), at every epoch. For ``cifar100`` / ``ImageNet16-120`` the
    source has ``x-valid`` only after the last epoch, so the value is NaN before epoch 200.
``train_error`` / ``train_loss``
    on the training data, per epoch.
``runtime``
    seconds of one epoch: training time + ``ori-test`` evaluation time (as Syne Tune).
``eval_time``
    seconds of that epoch's ``ori-test`` evaluation.
``elapsed_time``
    cumulative ``runtime`` from the start of training (the time objective). NATS-Bench times are
    *pseudo-times*: one estimated per-epoch time repeated for every epoch, so elapsed time is exactly
    linear in the epoch.
``params`` (MB), ``flops`` (MFLOPs), ``latency`` (seconds per inference batch)
    architecture properties, read from each seed's own entry; a seed without an entry takes them from
    the seeds that exist (Syne Tune reads them from seed 777 only and fails without it).

Missing seeds: with ``impute_missing_seeds=True`` (default) a (architecture, seed) entry absent from the
source gets, cell by cell, the mean of the seeds that *are* present (an architecture with one seed gets
that seed's values in the two others); with False it stays NaN. The counts are in the metadata.
"""
from __future__ import annotations

import functools
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
    impute_missing_seeds,
    load_data_pickle,
    make_tabular,
    progress,
    require_keys,
    require_path,
    select_tasks,
)
from blackbox_repo.search_space import Categorical, SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ("edge_0_to_1", "edge_0_to_2", "edge_1_to_2", "edge_0_to_3", "edge_1_to_3", "edge_2_to_3")
TASKS = ("cifar10", "cifar100", "ImageNet16-120")
SEEDS = (777, 888, 999)
BUDGET = "200"
OBJECTIVES = (
    "test_error", "valid_error", "train_error", "test_loss", "valid_loss", "train_loss",
    "runtime", "eval_time", "elapsed_time", "params", "flops", "latency",
)
_COST = ("params", "flops", "latency")
_VALID = ("valid_error", "valid_loss")
SOURCE = ("NATS-Bench topology search space (NATS-tss-v1_0-3ffb9); X. Dong, L. Liu, K. Musial, B. Gabrys, "
          "'NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and Size', TPAMI 2021; "
          "https://github.com/D-X-Y/NATS-Bench")
LICENCE = "MIT (D-X-Y/NATS-Bench)"
_RESULT_KEYS = ("epochs", "train_acc1es", "train_losses", "train_times", "eval_acc1es", "eval_losses",
                "eval_times", "params", "flop", "latency")


def configuration_space() -> SearchSpace:
    """Six categorical edges, values in NAS-Bench-201's op order."""
    return SearchSpace({edge: Categorical(list(OPS)) for edge in EDGES})


def parse_arch_string(arch: str) -> tuple[str, ...]:
    """The six ops of ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, in edge order 0->1, 0->2, 1->2, 0->3, ..."""
    if not isinstance(arch, str):
        raise InputError(f"architecture string expected, got {arch!r}")
    nodes = arch.split("+")
    ops: list[str] = []
    if len(nodes) != 3:
        raise InputError(f"architecture string {arch!r} must have 3 nodes separated by '+'")
    for target, node in enumerate(nodes, start=1):
        edges = [e for e in node.strip("|").split("|")]
        if len(edges) != target:
            raise InputError(f"architecture string {arch!r}: node {target} needs {target} edges, has {len(edges)}")
        for source, edge in enumerate(edges):
            op, _, src = edge.partition("~")
            if op not in OPS or src != str(source):
                raise InputError(
                    f"architecture string {arch!r}: edge {edge!r} must be 'op~{source}' with op in {list(OPS)}"
                )
            ops.append(op)
    return tuple(ops)


def arch_string(ops: Sequence[str]) -> str:
    """Inverse of ``parse_arch_string``."""
    o = list(ops)
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


# ---------------------------------------------------------------------------------------------------------
# Reading the two layouts
# ---------------------------------------------------------------------------------------------------------


def _arch_file(folder: Path, i: int) -> Path:
    return folder / f"{i:06d}.pickle.pbz2"


def _open_source(path: Path) -> tuple[dict[str, Any], Any]:
    """(meta dict, function arch id -> per-budget dict) for either layout; checks files before reading."""
    if path.is_dir():
        meta_path = path / "meta.pickle.pbz2"
        if not meta_path.is_file():
            raise InputError(
                f"{path} is a folder but has no meta.pickle.pbz2: expected the NATS-tss-v1_0-3ffb9-simple "
                "layout (meta.pickle.pbz2 + 000000.pickle.pbz2 ... 015624.pickle.pbz2)"
            )
        meta = load_data_pickle(meta_path)
        _check_meta(meta, meta_path)
        n = len(meta["meta_archs"])
        missing = [i for i in range(n) if not _arch_file(path, i).is_file()]
        if missing:
            raise InputError(
                f"{path}: {len(missing)} of {n} per-architecture files are missing, e.g. "
                f"{[_arch_file(path, i).name for i in missing[:3]]}; extract the whole -simple archive"
            )

        def per_arch(i: int) -> Any:
            return load_data_pickle(_arch_file(path, i))

        return meta, per_arch
    meta = load_data_pickle(path)
    _check_meta(meta, path)
    infos = meta.get("arch2infos")
    if not isinstance(infos, Mapping):
        raise InputError(
            f"{path}: 'arch2infos' is {type(infos).__name__}, expected a dict; a -simple meta file must be "
            "converted by giving its folder, not the meta file"
        )
    n = len(meta["meta_archs"])
    absent = [i for i in range(n) if i not in infos]
    if absent:
        raise InputError(f"{path}: arch2infos lacks {len(absent)} architecture ids, e.g. {absent[:3]}")
    return meta, infos.__getitem__


def _check_meta(meta: Any, where: Path) -> None:
    require_keys(meta, ("meta_archs", "arch2infos"), str(where))
    archs = meta["meta_archs"]
    if not isinstance(archs, (list, tuple)) or not archs:
        raise InputError(f"{where}: 'meta_archs' must be a non-empty list of architecture strings")
    total = meta.get("total_archs", len(archs))
    if total != len(archs):
        raise InputError(f"{where}: total_archs={total} but meta_archs has {len(archs)} entries")


@functools.lru_cache(maxsize=8)
def _split_keys(split: str, num_epochs: int) -> tuple[str, ...]:
    """``("<split>@0", ..., "<split>@<E-1>")``, built once instead of once per entry."""
    return tuple(f"{split}@{e}" for e in range(num_epochs))


def _entry_values(res: Mapping[str, Any], num_epochs: int, where: str) -> dict[str, np.ndarray | float]:
    """One (dataset, seed) ResultsCount state dict -> per-epoch arrays (percent accuracies untouched)."""
    require_keys(res, _RESULT_KEYS, where)
    if int(res["epochs"]) != num_epochs:
        raise InputError(f"{where}: epochs={res['epochs']}, but other entries have {num_epochs}")
    epochs = range(num_epochs)
    nan = float("nan")
    train_acc, train_loss, train_time = res["train_acc1es"], res["train_losses"], res["train_times"]
    eval_acc, eval_loss, eval_time = res["eval_acc1es"], res["eval_losses"], res["eval_times"]
    for key, d in (("train_acc1es", train_acc), ("train_losses", train_loss), ("train_times", train_time),
                   ("eval_acc1es", eval_acc), ("eval_losses", eval_loss), ("eval_times", eval_time)):
        if not isinstance(d, Mapping):
            raise InputError(f"{where}: {key} must be a dict, got {type(d).__name__}")
    latency = res["latency"]
    if isinstance(latency, (list, tuple)):
        if not latency:
            raise InputError(f"{where}: latency is an empty list")
        latency = latency[0]
    try:
        out: dict[str, np.ndarray | float] = {
            "train_acc": np.array([train_acc.get(e, nan) for e in epochs], dtype=np.float64),
            "train_loss": np.array([train_loss.get(e, nan) for e in epochs], dtype=np.float64),
            "train_time": np.array([train_time.get(e, nan) for e in epochs], dtype=np.float64),
            "params": float(res["params"]), "flops": float(res["flop"]), "latency": float(latency),
        }
        for split in ("ori-test", "x-valid"):
            keys = _split_keys(split, num_epochs)
            out[f"{split}_acc"] = np.array([eval_acc.get(k, nan) for k in keys], dtype=np.float64)
            out[f"{split}_loss"] = np.array([eval_loss.get(k, nan) for k in keys], dtype=np.float64)
            out[f"{split}_time"] = np.array([eval_time.get(k, nan) for k in keys], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: non-numeric value ({err})") from None
    if np.isnan(out["ori-test_acc"]).all():
        raise InputError(f"{where}: no 'ori-test@<epoch>' accuracy in eval_acc1es (keys: "
                         f"{sorted(eval_acc)[:5]}...)")
    for key in ("train_acc", "ori-test_acc", "x-valid_acc"):
        _check(out[key], 0.0, 100.0, f"{where}: {key} (percent)")
    for key in ("train_loss", "ori-test_loss", "x-valid_loss", "train_time", "ori-test_time"):
        _check(out[key], 0.0, None, f"{where}: {key}")
    for key in ("params", "flops", "latency"):
        _check(np.array([out[key]]), 0.0, None, f"{where}: {key}")
    return out


def _check(values: np.ndarray, lower: float | None, upper: float | None, what: str) -> None:
    v = np.asarray(values, dtype=np.float64)
    bad = np.isinf(v) | (v < lower if lower is not None else False) | (v > upper if upper is not None else False)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} has value {float(v[i])!r} at position {i}, outside "
                         f"[{lower if lower is not None else '-inf'}, {upper if upper is not None else 'inf'}]")


def _fill(block: np.ndarray, main: Mapping[str, Any] | None, valid: Mapping[str, Any] | None,
          valid_split_in_main: bool) -> None:
    """Write one seed's (F, O) block from the main entry (and the cifar10-valid entry for cifar10)."""
    col = {n: i for i, n in enumerate(OBJECTIVES)}
    if main is not None:
        block[:, col["test_error"]] = 1.0 - main["ori-test_acc"] / 100.0
        block[:, col["test_loss"]] = main["ori-test_loss"]
        block[:, col["train_error"]] = 1.0 - main["train_acc"] / 100.0
        block[:, col["train_loss"]] = main["train_loss"]
        runtime = main["train_time"] + main["ori-test_time"]
        block[:, col["runtime"]] = runtime
        block[:, col["eval_time"]] = main["ori-test_time"]
        block[:, col["elapsed_time"]] = np.cumsum(runtime)
        for name in _COST:
            block[:, col[name]] = main[name]
        if valid_split_in_main:
            block[:, col["valid_error"]] = 1.0 - main["x-valid_acc"] / 100.0
            block[:, col["valid_loss"]] = main["x-valid_loss"]
    if valid is not None:
        block[:, col["valid_error"]] = 1.0 - valid["x-valid_acc"] / 100.0
        block[:, col["valid_loss"]] = valid["x-valid_loss"]


def read_nasbench201(
    input_path: str | os.PathLike[str],
    *,
    tasks: Sequence[str] | None = None,
    impute_missing_seeds: bool = True,
) -> dict[str, TabularBlackbox]:
    """Read the full NATS-tss pickle or the ``-simple`` folder; returns {task: TabularBlackbox}."""
    path = require_path(input_path, "NAS-Bench-201 input",
                        "Give NATS-tss-v1_0-3ffb9.pickle.pbz2 or the extracted NATS-tss-v1_0-3ffb9-simple folder")
    task_list = select_tasks(TASKS, tasks, "nasbench201")
    meta, per_arch = _open_source(path)
    arch_strings: list[str] = list(meta["meta_archs"])
    configs = [parse_arch_string(a) for a in arch_strings]
    space = configuration_space()
    hyperparameters = pd.DataFrame(configs, columns=list(EDGES))
    check_configurations(hyperparameters, space, str(path))

    n, s, o = len(configs), len(SEEDS), len(OBJECTIVES)
    values: dict[str, np.ndarray] = {}
    missing_main = {t: np.zeros((n, s), dtype=bool) for t in task_list}
    missing_valid = {t: np.zeros((n, s), dtype=bool) for t in task_list}
    num_epochs: int | None = None
    for i in progress(range(n), total=n, desc="nasbench201 architectures"):
        infos = per_arch(i)
        where = f"{path} architecture {i}"
        if not isinstance(infos, Mapping) or BUDGET not in infos:
            keys = list(infos) if isinstance(infos, Mapping) else type(infos).__name__
            raise InputError(
                f"{where}: no '{BUDGET}'-epoch results (keys: {keys}); NAS-Bench-201 .pth files ('full'/'less') "
                "are not supported: convert NATS-tss-v1_0-3ffb9 instead"
            )
        state = infos[BUDGET]
        require_keys(state, ("all_results",), where)
        if state.get("arch_str", arch_strings[i]) != arch_strings[i]:
            raise InputError(f"{where}: arch_str {state['arch_str']!r} differs from meta_archs[{i}] "
                             f"{arch_strings[i]!r}")
        results = state["all_results"]
        if not isinstance(results, Mapping):
            raise InputError(f"{where}: all_results must be a dict keyed by (dataset, seed)")
        if num_epochs is None:
            first = next((r for r in results.values() if isinstance(r, Mapping) and "epochs" in r), None)
            if first is None:
                raise InputError(f"{where}: all_results holds no entry with 'epochs'")
            num_epochs = int(first["epochs"])
            if num_epochs < 1:
                raise InputError(f"{where}: epochs={num_epochs}")
            values = {t: np.full((n, s, num_epochs, o), np.nan, dtype=np.float32) for t in task_list}
        for t in task_list:
            for si, seed in enumerate(SEEDS):
                raw = results.get((t, seed))
                main = None if raw is None else _entry_values(raw, num_epochs, f"{where} ({t}, seed {seed})")
                valid = None
                if t == "cifar10":
                    raw_v = results.get(("cifar10-valid", seed))
                    valid = None if raw_v is None else _entry_values(
                        raw_v, num_epochs, f"{where} (cifar10-valid, seed {seed})")
                    missing_valid[t][i, si] = valid is None
                missing_main[t][i, si] = main is None
                if t != "cifar10":
                    missing_valid[t][i, si] = main is None
                block = np.full((num_epochs, o), np.nan, dtype=np.float64)
                _fill(block, main, valid, valid_split_in_main=t != "cifar10")
                values[t][i, si] = block
    assert num_epochs is not None

    tables: dict[str, np.ndarray] = {}
    counts: dict[str, dict[str, int]] = {}
    for t in task_list:
        if missing_main[t].all():
            raise InputError(f"{path}: no architecture has results for dataset {t!r} at budget {BUDGET}")
        arr = values.pop(t)
        _fill_costs_and_impute(arr, missing_main[t], missing_valid[t], impute_missing_seeds)
        counts[t] = {"missing_entries": int(missing_main[t].sum()),
                     "missing_validation_entries": int(missing_valid[t].sum()),
                     "architectures_without_any_seed": int(missing_main[t].all(axis=1).sum())}
        tables[t] = arr
    metadata = _metadata(counts, impute_missing_seeds, num_epochs)
    return {
        t: make_tabular(hyperparameters, arr, space, OBJECTIVES, metadata, t, "epoch",
                        np.arange(1, num_epochs + 1, dtype=np.int64))
        for t, arr in tables.items()
    }


def _fill_costs_and_impute(arr: np.ndarray, missing_main: np.ndarray, missing_valid: np.ndarray,
                           impute: bool) -> None:
    """In place on the float32 (N, S, F, O) array; only rows with a missing entry are touched."""
    rows = np.flatnonzero(missing_main.any(axis=1) | missing_valid.any(axis=1))
    if rows.size == 0:
        return
    col = {n: i for i, n in enumerate(OBJECTIVES)}
    cost = [col[c] for c in _COST]
    valid = [col[c] for c in _VALID]
    main = [i for i in range(len(OBJECTIVES)) if i not in cost and i not in valid]
    block = arr[rows].astype(np.float64)
    mm, mv = missing_main[rows], missing_valid[rows]
    # Cost metrics are properties of the architecture: always taken from the seeds that have them.
    block[..., cost] = impute_missing_seeds(block[..., cost], mm)
    if impute:
        block[..., main] = impute_missing_seeds(block[..., main], mm)
        block[..., valid] = impute_missing_seeds(block[..., valid], mv)
    arr[rows] = block.astype(np.float32)


def _metadata(counts: dict[str, dict[str, int]], impute: bool, num_epochs: int) -> BlackboxMetadata:
    modes = {name: "min" for name in OBJECTIVES}
    return BlackboxMetadata(
        name="nasbench201",
        default_metric="test_error",
        mode="min",
        objective_modes=modes,
        time_objective="elapsed_time",
        time_is_cumulative=True,
        source=SOURCE,
        licence=LICENCE,
        description=(
            "NAS-Bench-201 cell search space (15625 architectures), 200 training epochs. test_error is the "
            "error on the original test set (ori-test), which the NAS literature and Syne Tune use as the "
            "tuning metric; valid_error is the x-valid validation split (cifar10: from the cifar10-valid run "
            "of the same architecture; cifar100/ImageNet16-120: only after the last epoch)."
        ),
        seeds=list(SEEDS),
        extra={
            "units": {"test_error": "fraction", "valid_error": "fraction", "train_error": "fraction",
                      "test_loss": "cross-entropy", "valid_loss": "cross-entropy", "train_loss": "cross-entropy",
                      "runtime": "seconds per epoch", "eval_time": "seconds per epoch",
                      "elapsed_time": "seconds, cumulative", "params": "MB (millions of parameters)",
                      "flops": "MFLOPs", "latency": "seconds"},
            "pseudo_times": "NATS-Bench stores one estimated per-epoch time repeated for every epoch, so "
                            "runtime is constant in the epoch and elapsed_time is exactly linear",
            "runtime_definition": "train_times[e] + eval_times['ori-test@e']",
            "fidelity_mapping": "fidelity epoch e holds file epoch e - 1",
            "valid_error_source": {"cifar10": "cifar10-valid run, x-valid, every epoch",
                                   "cifar100": "x-valid, last epoch only (NaN before)",
                                   "ImageNet16-120": "x-valid, last epoch only (NaN before)"},
            "missing_seeds": counts,
            "seed_imputation": ("missing (architecture, seed) entries filled with the mean of the seeds "
                                "present" if impute else "missing (architecture, seed) entries left NaN"),
            "cost_metrics": "params/flops/latency read per seed; a missing seed takes the mean of those present",
            "num_epochs": num_epochs,
        },
    )
