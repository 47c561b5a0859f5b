"""Synthetic experiment folders that follow the results contract (layout in ARCHITECTURE.md).

Used by the tests and by ``benchmarks/bench_aggregation.py``; nothing here runs a real tuner. Each
synthetic run tunes a 2-D toy problem: trials run on ``n_workers`` asynchronous workers, report at
every fidelity until they reach the maximum or are stopped, and a method's ``skill`` (0..1) pulls
its later configurations towards the optimum, so better methods give lower curves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT_VERSION = 1
OPTIMUM = np.array([0.3, 0.7])
BEST_POSSIBLE_ERROR = 0.05
WORST_POSSIBLE_ERROR = 1.6


@dataclass(frozen=True)
class SyntheticRun:
    """Parameters of one synthetic experiment (folder ``root/tag/benchmark/method/seed``)."""

    tag: str
    benchmark: str
    method: str
    seed: int
    skill: float = 0.5
    n_results: int = 200
    max_fidelity: int = 10
    n_workers: int = 4
    stop_probability: float = 0.3
    status: str = "complete"
    started_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    metric: str = "val_error"
    mode: str = "min"
    with_best_possible: bool = True
    master_seed: int = 1234


def experiment_path(root: str, tag: str, benchmark: str, method: str, seed: int) -> str:
    return os.path.join(root, tag, benchmark, method, str(seed))


def _benchmark_offset(benchmark: str) -> float:
    # Different benchmarks get different error floors and time scales, deterministically by name.
    return (sum(ord(c) for c in benchmark) % 17) / 40.0


def synthetic_tables(run: SyntheticRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build (results, trials) tables for ``run``; deterministic in (master_seed, benchmark, method, seed)."""
    entropy = [run.master_seed, run.seed, sum(map(ord, run.benchmark)), sum(map(ord, run.method))]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    offset = _benchmark_offset(run.benchmark)
    time_scale = 1.0 + 4.0 * offset

    columns: dict[str, list[np.ndarray]] = {
        name: []
        for name in (
            "trial_id",
            "fidelity",
            run.metric,
            "elapsed_time",
            "cost",
            "sim_time",
            "worker",
            "decision",
            "config.x0",
            "config.x1",
        )
    }
    trials: list[dict] = []
    worker_free = np.zeros(run.n_workers)
    n_rows = 0
    trial_id = 0
    while n_rows < run.n_results:
        progress = min(1.0, n_rows / run.n_results)
        uniform = rng.random(2)
        # Skilled methods sample closer to the optimum as the run progresses.
        config = OPTIMUM + (uniform - OPTIMUM) * (1.0 - run.skill * progress)
        quality = float(np.sum((config - OPTIMUM) ** 2))
        stopped = bool(rng.random() < run.stop_probability)
        n_steps = int(rng.integers(1, run.max_fidelity + 1)) if stopped else run.max_fidelity
        n_steps = min(n_steps, run.n_results - n_rows)
        worker = int(np.argmin(worker_free))
        started = float(worker_free[worker])
        step_times = time_scale * (0.5 + rng.random(n_steps))
        fidelity = np.arange(1, n_steps + 1, dtype=float)
        error = (
            BEST_POSSIBLE_ERROR
            + offset
            + quality
            + 0.8 * np.exp(-fidelity / 3.0)
            + 0.02 * rng.standard_normal(n_steps)
        )
        decision = np.full(n_steps, "continue", dtype=object)
        if stopped and n_steps < run.max_fidelity:
            decision[-1] = "stop"
        columns["trial_id"].append(np.full(n_steps, trial_id, dtype=np.int64))
        columns["fidelity"].append(fidelity)
        columns[run.metric].append(error if run.mode == "min" else 1.0 - error)
        columns["elapsed_time"].append(np.cumsum(step_times))
        columns["cost"].append(step_times * 0.01)
        columns["sim_time"].append(started + np.cumsum(step_times))
        columns["worker"].append(np.full(n_steps, worker, dtype=np.int32))
        columns["decision"].append(decision)
        columns["config.x0"].append(np.full(n_steps, config[0]))
        columns["config.x1"].append(np.full(n_steps, config[1]))
        clock = started + float(np.sum(step_times))
        worker_free[worker] = clock
        trials.append(
            {
                "trial_id": trial_id,
                "status": "stopped" if decision[-1] == "stop" else "completed",
                "started_at": started,
                "ended_at": clock,
                "n_results": n_steps,
                "error": "",
                "config.x0": float(config[0]),
                "config.x1": float(config[1]),
            }
        )
        n_rows += n_steps
        trial_id += 1

    results = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
    results["real_time"] = results["sim_time"] / 1000.0
    results["decision"] = results["decision"].astype(str)
    results = results.sort_values(["sim_time", "trial_id"], kind="stable").reset_index(drop=True)
    results["trial_id"] = results["trial_id"].astype("int64")
    results["worker"] = results["worker"].astype("int32")
    trials_frame = pd.DataFrame(trials)
    trials_frame["n_results"] = trials_frame["n_results"].astype("int64")
    return results, trials_frame


def _metadata(run: SyntheticRun, results: pd.DataFrame, n_trials: int) -> dict:
    offset = _benchmark_offset(run.benchmark)
    best = BEST_POSSIBLE_ERROR + offset
    worst = WORST_POSSIBLE_ERROR + offset
    if run.mode == "max":
        best, worst = 1.0 - best, 1.0 - worst
    metadata = {
        "format_version": FORMAT_VERSION,
        "tag": run.tag,
        "benchmark": run.benchmark,
        "method": run.method,
        "seed": run.seed,
        "master_seed": run.master_seed,
        "n_workers": run.n_workers,
        "budget": {
            "max_wallclock_time": None,
            "max_evaluations": run.n_results,
            "max_trials_started": None,
            "max_trials_completed": None,
            "max_cost": None,
        },
        "metric": run.metric,
        "mode": run.mode,
        "objectives": [run.metric, "elapsed_time", "cost"],
        "fidelity_name": "epoch",
        "max_fidelity": run.max_fidelity,
        "time_objective": "elapsed_time",
        "blackbox": "synthetic",
        "task": run.benchmark,
        "config_space": {
            "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
        },
        "method_kwargs": {"skill": run.skill},
        "versions": {"hpo-arena": "0.1.0"},
        "data_checksum": "synthetic",
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": (run.started_at + timedelta(seconds=float(results["real_time"].max()))).isoformat(),
        "n_results": len(results),
        "n_trials": int(n_trials),
        "simulated": True,
    }
    if run.with_best_possible:
        metadata["metric_best_possible"] = best
        metadata["metric_worst_possible"] = worst
    return metadata


def write_synthetic_experiment(root: str, run: SyntheticRun) -> str:
    """Write one experiment folder (parquet tables first, metadata.json last and atomically); return its path."""
    path = experiment_path(root, run.tag, run.benchmark, run.method, run.seed)
    os.makedirs(path, exist_ok=True)
    results, trials = synthetic_tables(run)
    pq.write_table(pa.Table.from_pandas(results, preserve_index=False), os.path.join(path, "results.parquet"))
    pq.write_table(pa.Table.from_pandas(trials, preserve_index=False), os.path.join(path, "trials.parquet"))
    temporary = os.path.join(path, "metadata.json.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(_metadata(run, results, len(trials)), handle, indent=1)
    os.replace(temporary, os.path.join(path, "metadata.json"))
    return path


def write_synthetic_study(
    root: str,
    tag: str,
    benchmarks: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    n_results: int = 200,
    skills: dict[str, float] | None = None,
    **run_options,
) -> list[str]:
    """Write every (benchmark, method, seed) experiment of a study; method i gets skill i/(n-1) unless given."""
    if skills is None:
        denominator = max(1, len(methods) - 1)
        skills = {method: i / denominator for i, method in enumerate(methods)}
    paths = []
    for benchmark in benchmarks:
        for method in methods:
            for seed in seeds:
                run = SyntheticRun(
                    tag=tag,
                    benchmark=benchmark,
                    method=method,
                    seed=int(seed),
                    skill=skills[method],
                    n_results=n_results,
                    **run_options,
                )
                paths.append(write_synthetic_experiment(root, run))
    return paths
