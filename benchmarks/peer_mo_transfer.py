"""The peer's (Syne Tune's) multi-objective and transfer-learning methods on our tables, for
``bench_multiobjective.py --peer-methods`` and ``bench_transfer.py --peer-methods``.

Reuses ``bench_methods_peer`` (table export, driver calls, seeds, the peer's clock) and ``peer_driver.py`` (run
inside the peer's interpreter; ``build_recipe`` there builds the methods listed here). What this module adds:

* ``export_mo_table``: a multi-objective table in the neutral export form, every objective of the benchmark as
  an objective of the peer's blackbox (plus the scaled elapsed time the peer's simulator advances by), so the
  peer sees exactly the values our simulator reports;
* ``export_transfer_data``: our leave-one-task-out ``TransferData`` (the source tasks' seed-averaged values, as
  ``launchers.transfer_data`` builds them for our methods) written for the peer's
  ``TransferLearningTaskEvaluations``: the same source tasks, configurations and values, never the target's;
* ``run_peer``: one (method, seed) of the peer, its results kept as a parquet file under the work folder (a
  rerun with the same folder reuses it) with one column per objective, ``sim_time`` in the table's seconds,
  and the real duration of every ``suggest`` call;
* ``serialize_for_peers`` and ``run_peer_jobs``: what both scripts do around it (each peer version's copy of an
  exported table, written once; all runs in threads with a progress line each);
* which version of the peer has which method (``PEER_MO_METHODS``, ``PEER_TRANSFER_METHODS``; checked in the
  peer's source): 0.16 has MOASHA, multi-objective regularised evolution (as a searcher of its
  ``SingleFidelityScheduler``), BoundingBox and ZeroShotTransfer (which does not work there:
  ``NOT_WORKING_IN_016``); only 0.13 has NSGA2 (pymoo 0.6.0, the ``moo`` extra) and the two scalarised
  multi-objective BOs.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_methods_peer import (
    PEER_TIME,
    Entry,
    Export,
    PeerMethod,
    call_driver,
    peer_spec,
)
from comparison_helpers import peer_clock

TRANSFER_INDEX = "transfer.json"  # same name as peer_driver.TRANSFER_INDEX (that module imports no hpo-arena)

_MOASHA = {"grace_period": 1, "reduction_factor": 3, "brackets": 1}  # ours: baselines/moasha.py defaults
_MOREA = {"population_size": 100, "sample_size": 10}  # ours: baselines/morea.py defaults
# ``cls`` of a PeerMethod is the driver's recipe (peer_driver.build_recipe) or, for "RandomSearch", the class of
# ``syne_tune.optimizer.baselines``.
PEER_MO_METHODS: dict[str, dict[str, PeerMethod]] = {
    "MOASHA": {"0.16": PeerMethod("0.16", "moasha", dict(_MOASHA)),
               "0.13": PeerMethod("0.13", "moasha", dict(_MOASHA))},
    "MOREA": {"0.16": PeerMethod("0.16", "morea", dict(_MOREA), multi_fidelity=False),
              "0.13": PeerMethod("0.13", "morea", dict(_MOREA), multi_fidelity=False)},
    "NSGA2": {"0.13": PeerMethod("0.13", "nsga2", {"population_size": 20}, multi_fidelity=False)},
    "MOBO-RANDOM": {"0.13": PeerMethod("0.13", "mobo-random", {}, multi_fidelity=False)},
    "MOBO-LINEAR": {"0.13": PeerMethod("0.13", "mobo-linear", {}, multi_fidelity=False)},
}
PEER_TRANSFER_METHODS: dict[str, dict[str, PeerMethod]] = {
    "ZERO-SHOT": {"0.16": PeerMethod("0.16", "zero-shot", {}, multi_fidelity=False),
                  "0.13": PeerMethod("0.13", "zero-shot", {}, multi_fidelity=False)},
    "BOUNDING-BOX": {"0.16": PeerMethod("0.16", "bounding-box", {"num_hyperparameters_per_task": 1},
                                        multi_fidelity=False),
                     "0.13": PeerMethod("0.13", "bounding-box", {"num_hyperparameters_per_task": 1},
                                        multi_fidelity=False)},
    # The counterpart of both: random search anywhere in the space, evaluated at the nearest row (as the
    # transfer methods' proposals and BoundingBox's inner RandomSearch are), not 0.13's restrict_configurations.
    "RS": {"0.16": PeerMethod("0.16", "RandomSearch", multi_fidelity=False),
           "0.13": PeerMethod("0.13", "RandomSearch", multi_fidelity=False)},
}
# Syne Tune 0.16's ZeroShotTransfer computes its portfolio in ``get_config``, but its scheduler's ``suggest`` asks
# the default random searcher and never calls ``get_config``: in 0.16 it is random search (checked: ``suggest``
# returns random points where ``get_config`` returns the portfolio's best). 0.13's works, so it is the default.
NOT_WORKING_IN_016 = {"ZERO-SHOT"}
RECIPES = {"moasha", "morea", "nsga2", "mobo-random", "mobo-linear", "zero-shot", "bounding-box"}
# The peer's NSGA2 (0.13) raises as soon as a configuration is asked for while another is pending ("NSGA-2 does
# not support asynchronous scheduling ... set num_workers = 1"). It runs with one worker and the benchmark's
# budget times its workers: the same compute (worker-seconds), so about as many evaluations as the others.
SEQUENTIAL = {"nsga2"}


def effective_budget(method: PeerMethod, budget: float, n_workers: int) -> tuple[float, int]:
    """(simulated budget, workers) the peer runs ``method`` with (see ``SEQUENTIAL``)."""
    if method.cls in SEQUENTIAL:
        return budget * n_workers, 1
    return budget, n_workers


def default_versions(methods: dict[str, dict[str, PeerMethod]]) -> dict[str, str]:
    """0.16 where it has a working method, else 0.13 (the issue's rule; ``NOT_WORKING_IN_016``)."""
    return {m: ("0.16" if "0.16" in v and m not in NOT_WORKING_IN_016 else "0.13") for m, v in methods.items()}


def peer_entries(names: list[str], table: dict[str, dict[str, PeerMethod]]) -> list[Entry]:
    """``--peer-methods`` values (``NAME`` or ``NAME@VERSION``) as ``bench_methods_peer.Entry`` rows, in order,
    without repeats. ``Entry.peer`` looks methods up in ``bench_methods_peer.PEER_METHODS``, so the chosen ones of
    ``table`` are registered there (in this process only)."""
    import bench_methods_peer as bmp
    from comparison_helpers import parse_method

    entries = []
    for name in names:
        method, version = parse_method(name, table, default_versions(table))
        bmp.PEER_METHODS.setdefault(method, {})[version] = table[method][version]
        entries.append(Entry(method, version))
    return list(dict.fromkeys(entries))


# ---------------------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------------------

def export_mo_table(bench, repository: Path, out: Path) -> Export:
    """Every objective of a multi-objective benchmark, per (configuration, seed, fidelity), and the scaled
    elapsed time, in the neutral export form ``peer_driver.serialize_export`` reads."""
    import bench_methods as bm

    from blackbox_repo.blackbox import TabularBlackbox
    from launchers.experiment import STEPS, benchmark_blackbox

    metrics, modes = list(bench.metrics or []), list(bench.modes or [])
    if len(metrics) < 2:
        raise ValueError(f"{bench.name} is single-objective; export_mo_table needs an mo-* benchmark")
    if any(mode != "min" for mode in modes):
        raise ValueError(f"{bench.name}: objectives {metrics} have modes {modes}; the peer comparison runs every "
                         "objective minimised, so every mode must be 'min'")
    table = benchmark_blackbox(bench, bm.blackbox_root(bench, repository))
    if not isinstance(table, TabularBlackbox):
        raise TypeError(f"{bench.name}: the peer comparison needs a tabulated blackbox")
    time_name = STEPS if bench.time_objective == STEPS else (bench.time_objective or table.metadata.time_objective)
    objectives = np.asarray(table.objectives, dtype=np.float64)
    values = np.stack([objectives[..., table.objective_index(m)] for m in metrics], axis=-1)
    elapsed = objectives[..., table.objective_index(time_name)]
    keep = ~np.isnan(values[:, :, -1, 0]).all(axis=1)
    values, elapsed = values[keep], elapsed[keep]
    if np.isnan(values).any() or np.isnan(elapsed).any():
        raise ValueError(f"{bench.name}: the table has missing values inside kept rows; the peer's lookups would "
                         "return NaN")
    clock = peer_clock(elapsed, bench.max_wallclock_time)
    folder = out / bench.name
    folder.mkdir(parents=True, exist_ok=True)
    # Each file replaced whole: a peer run starting meanwhile (a second invocation on the same --work-dir)
    # reads the old or the new copy, never half of one; both hold the same values.
    scratch = folder / f".writing-{os.getpid()}"
    table.hyperparameters[keep].reset_index(drop=True).to_parquet(scratch.with_suffix(".parquet"), index=False)
    os.replace(scratch.with_suffix(".parquet"), folder / "hyperparameters.parquet")
    stacked = np.concatenate([values, (elapsed * clock.time_scale)[..., None]], axis=-1)
    np.save(scratch.with_suffix(".npy"), stacked.astype(np.float64))
    os.replace(scratch.with_suffix(".npy"), folder / "objectives.npy")
    space = table.configuration_space.to_dict()
    meta = {
        "benchmark": bench.name, "task": bench.task, "metric": bench.metric, "mode": bench.mode,
        "metrics": metrics, "objectives": [*metrics, PEER_TIME], "time_objective": PEER_TIME,
        "fidelity_name": table.fidelity_name, "fidelity_values": table.fidelity_values.tolist(),
        "space": space, "space_names": [hp["name"] for hp in space["hyperparameters"]],
        "time_scale": clock.time_scale,
    }
    scratch.with_suffix(".json").write_text(json.dumps(meta))
    os.replace(scratch.with_suffix(".json"), folder / "meta.json")
    return Export(bench, folder, clock, int(keep.sum()))


def export_transfer_data(data, folder: Path) -> Path:
    """Write a ``baselines.transfer.TransferData`` for the peer: per source task its configurations
    (``hyperparameters_<i>.parquet``) and values ``(configurations, fidelities)`` (``values_<i>.npy``, already
    signed to minimise), plus ``transfer.json`` naming them. Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = []
    for i, task in enumerate(data.tasks):
        if data.target_task == task.task:  # TransferData refuses this already; the export must never leak it
            raise ValueError(f"transfer data includes the target task {task.task}")
        hyperparameters, values = f"hyperparameters_{i}.parquet", f"values_{i}.npy"
        task.configurations.reset_index(drop=True).to_parquet(folder / hyperparameters, index=False)
        np.save(folder / values, np.asarray(task.values, dtype=np.float64))
        tasks.append({"task": task.task, "hyperparameters": hyperparameters, "values": values,
                      "fidelities": np.asarray(task.fidelities, dtype=float).tolist()})
    index = {"blackbox": data.blackbox, "target_task": data.target_task, "metric": data.metric,
             "signed_to_minimise_from": data.mode, "tasks": tasks}
    (folder / TRANSFER_INDEX).write_text(json.dumps(index))
    return folder


# ---------------------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeerRun:
    """One finished (or failed) peer run: its results within the budget and its ``suggest`` durations."""

    benchmark: str
    label: str
    seed: int
    results: pd.DataFrame | None  # trial_id, fidelity, sim_time and one column per objective
    suggest_seconds: np.ndarray
    real_seconds: float
    error: str = ""


def results_frame(output: dict[str, Any], metrics: list[str], budget: float) -> pd.DataFrame:
    """The driver's result log as a frame with one column per objective, cut at the budget."""
    raw = output["results"]
    primary = metrics[0]
    frame = pd.DataFrame({"trial_id": raw.get("trial_id", []), "fidelity": raw.get("fidelity", []),
                          "sim_time": raw.get("sim_time", []), primary: raw.get("value", [])})
    for name in metrics[1:]:
        frame[name] = raw.get(f"metric:{name}", [])
    return frame[frame["sim_time"] <= budget * (1 + 1e-9)].reset_index(drop=True)


def run_peer(entry: Entry, export: Export, repository: Path, scratch: Path, seed: int, python: str,
             metrics: list[str], timeout: float | None, transfer_dir: Path | None = None,
             reuse_only: bool = False) -> PeerRun:
    """One peer run through ``peer_driver.py run``; a finished run in ``scratch`` is reused. With
    ``reuse_only``, a run not finished before is reported as not run instead of started."""
    bench = export.benchmark
    out = scratch / f"{bench.name}-{entry.label}-{seed}.json"
    t0 = time.perf_counter()
    if reuse_only and not out.is_file():
        return PeerRun(bench.name, entry.label, seed, None, np.empty(0), 0.0,
                       error="not run: no finished run in the work folder (--peer-reuse-only)")
    try:
        if not out.is_file():
            spec = peer_spec(entry, export, repository, seed, out)
            if entry.peer.cls in RECIPES:
                spec["recipe"] = entry.peer.cls
                spec["max_resource_attr"] = None  # the recipes read the maximum fidelity from the table
            if transfer_dir is not None:
                spec["transfer_dir"] = str(transfer_dir)
            spec["budget"], spec["n_workers"] = effective_budget(entry.peer, spec["budget"], spec["n_workers"])
            spec_path = out.with_suffix(".spec.json")
            spec_path.write_text(json.dumps(spec))
            partial = out.with_suffix(".partial.json")
            spec["out"] = str(partial)
            spec_path.write_text(json.dumps(spec))
            call_driver(python, "run", str(spec_path), timeout=timeout)
            partial.replace(out)  # only complete runs are reused
        output = json.loads(out.read_text())
    except Exception as err:  # noqa: BLE001 - a failed peer run is reported in the table, not fatal
        return PeerRun(bench.name, entry.label, seed, None, np.empty(0), time.perf_counter() - t0,
                       error=f"{type(err).__name__}: {str(err)[-1500:]}")
    budget, _ = effective_budget(entry.peer, bench.max_wallclock_time, bench.n_workers)
    frame = results_frame(output, metrics, budget)
    return PeerRun(bench.name, entry.label, seed, frame, np.asarray(output["calls"]["suggest"], dtype=float),
                   float(output["real_seconds"]))


def serialize_for_peers(export: Export, pythons: dict[str, str], work: Path) -> None:
    """The exported table in each peer version's own repository (``work/peer-VERSION``), written once: a rerun
    with the same work folder reuses it."""
    for version, python in pythons.items():
        if not (work / f"peer-{version}" / export.benchmark.name / "arena_meta.json").is_file():
            call_driver(python, "serialize", str(export.folder), str(work / f"peer-{version}"))


def run_peer_jobs(jobs: list[tuple[Entry, Export, int, list[str], Path | None]], work: Path,
                  pythons: dict[str, str], args, shown_name: Callable[[PeerRun], str]) -> list[PeerRun]:
    """Every (entry, export, seed, metrics, transfer folder) job through ``run_peer``, ``args.n_jobs`` at a time
    (threads: each waits on its own driver process), with ``args.peer_timeout`` and ``args.peer_reuse_only``.
    Runs are returned as they end, each announced on stderr under ``shown_name(run)``."""
    from joblib import Parallel, delayed

    scratch = work / "peer-runs"
    scratch.mkdir(parents=True, exist_ok=True)
    runs = []
    t0 = time.perf_counter()
    parallel = Parallel(n_jobs=args.n_jobs, backend="threading", return_as="generator_unordered")
    calls = (delayed(run_peer)(e, x, work / f"peer-{e.version}", scratch, s, pythons[e.version], metrics,
                               args.peer_timeout, transfer_dir, args.peer_reuse_only)
             for e, x, s, metrics, transfer_dir in jobs)
    for i, run in enumerate(parallel(calls), start=1):
        runs.append(run)
        status = "FAILED: " + run.error.splitlines()[-1] if run.error else "ok"
        print(f"[{time.perf_counter() - t0:7.1f} s] peer {i}/{len(jobs)} {shown_name(run)} {run.label} seed "
              f"{run.seed}: {status} ({run.real_seconds:.1f} s)", file=sys.stderr, flush=True)
    return runs


def median_or_nan(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.median(values)) if len(values) else math.nan
