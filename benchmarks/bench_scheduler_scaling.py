"""Trials per real second of every multi-fidelity scheduler at 1k, 10k and 100k trials, through the simulator.

    python benchmarks/bench_scheduler_scaling.py [--sizes 1000 10000 100000] [--methods ASHA ASHA-PROMOTION ...]
                                                 [--workers 4] [--seed 0]

Each method runs on the simulator (``launchers.simulator.SimulatorBackend`` + ``launchers.tuner.Tuner``) with
random search proposing, until ``max_trials_started`` = size trials have been started (plus the trials already
running then, which finish). The table is a cheap synthetic one (4096 configurations = 4 categorical
hyperparameters with 8 values, 1 seed, 27 epochs, 2 objectives; curves ``final + (1 - final) exp(-epoch / speed)``,
a constant epoch time per configuration of 1..10 s), so the run time is dominated by the tuner loop and the
scheduler's own decisions, which is what this measures. Rungs: grace period 1, reduction factor 3 (levels 1, 3,
9 below 27 epochs).

Printed, one JSON line per (method, size): ``trials_per_s`` (trials started per real second of the whole run),
``run_s``, ``scheduler_s`` (real seconds inside the scheduler's callbacks, as the tuner counts them),
``results`` and ``trials_per_s_ratio_to_1k`` (1.0 = linear; a quadratic scheduler falls roughly 10x per decade).
A final line compares ASHA-PROMOTION's time at the largest size with stopping ASHA's (issue 13 target: within
2x). Nothing is asserted; times are wall-clock on this machine and other load inflates them (run it under
``nice`` on a shared machine and read the ratios).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.registry import make_method
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

METHODS = ["ASHA", "ASHA-PROMOTION", "ASYNC-HB", "HB", "SH", "PASHA", "MSR", "ADAPTIVE-ASHA", "BANDIT",
           "MEDIAN-STOPPING", "TRUNCATION"]
N_EPOCHS = 27
METRIC = "valid_error"


def learning_curves(rng: np.random.Generator, n: int, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic curves of ``n`` configurations, float32 of shape ``(n, 1, epochs)``: the metric
    ``final + (1 - final) exp(-epoch / speed)`` and the cumulative elapsed time at a constant epoch time of 1..10 s
    (``final``, ``speed`` and the epoch time drawn from ``rng`` in that order). ``bench_results_memory`` builds its
    table on them too."""
    steps = np.arange(1, epochs + 1, dtype=np.float32)
    final = rng.uniform(0.05, 0.9, size=(n, 1, 1)).astype(np.float32)
    speed = rng.uniform(1.0, epochs / 3, size=(n, 1, 1)).astype(np.float32)
    metric = final + (1.0 - final) * np.exp(-steps / speed)
    elapsed = rng.uniform(1.0, 10.0, size=(n, 1, 1)).astype(np.float32) * steps
    return metric, elapsed


def synthetic_table(seed: int = 0) -> TabularBlackbox:
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(4)]
    choices = [str(v) for v in range(8)]
    hyperparameters = pd.DataFrame(list(itertools.product(choices, repeat=4)), columns=names)
    objectives = np.stack(learning_curves(rng, len(hyperparameters), N_EPOCHS), axis=-1)
    metadata = BlackboxMetadata("synthetic-scaling", METRIC, "min", time_objective="elapsed_time",
                                time_is_cumulative=True, description="synthetic, for scheduler scaling")
    return TabularBlackbox(hyperparameters, objectives, SearchSpace({k: Categorical(choices) for k in names}),
                           [METRIC, "elapsed_time"], metadata, fidelity_name="epoch",
                           fidelity_values=np.arange(1, N_EPOCHS + 1), task="synthetic")


def build(method: str, table: TabularBlackbox, size: int, seed: int):
    kwargs = {}
    if method in ("ASHA", "ASHA-PROMOTION", "ASYNC-HB", "HB", "SH", "PASHA"):
        kwargs = {"grace_period": 1, "reduction_factor": 3}
    if method == "ADAPTIVE-ASHA":
        kwargs = {"max_trials": size}  # its bracket layout is sized by the trial budget
    return make_method(method, table.configuration_space, METRIC, "min", "epoch", N_EPOCHS, seed,
                       fidelity_values=table.fidelity_values.tolist(), **kwargs)


def run_one(method: str, table: TabularBlackbox, size: int, workers: int, seed: int) -> dict:
    scheduler = build(method, table, size, seed)
    backend = SimulatorBackend(table, n_workers=workers, seed=seed)
    start = time.perf_counter()
    results = Tuner(scheduler, backend, StoppingCriterion(max_trials_started=size)).run()
    seconds = time.perf_counter() - start
    return {"method": method, "trials": results.n_trials, "results": results.n_results, "run_s": round(seconds, 3),
            "scheduler_s": round(results.scheduler_seconds, 3),
            "trials_per_s": round(results.n_trials / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = synthetic_table(args.seed)
    seconds: dict[tuple[str, int], float] = {}
    for method in args.methods:
        first_rate = None
        for size in sorted(args.sizes):
            record = run_one(method, table, size, args.workers, args.seed)
            record["size"] = size
            seconds[method, size] = record["run_s"]
            first_rate = first_rate or record["trials_per_s"]
            record["trials_per_s_ratio_to_smallest"] = round(record["trials_per_s"] / first_rate, 3)
            print(json.dumps(record), flush=True)
    largest = max(args.sizes)
    if ("ASHA", largest) in seconds and ("ASHA-PROMOTION", largest) in seconds:
        ratio = seconds["ASHA-PROMOTION", largest] / seconds["ASHA", largest]
        print(json.dumps({"comparison": "ASHA-PROMOTION time / ASHA (stopping) time", "size": largest,
                          "ratio": round(ratio, 3), "target": "<= 2"}), flush=True)


if __name__ == "__main__":
    main()
