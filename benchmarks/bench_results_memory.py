"""Memory per result and results-writing time against simulation time: random search at 100k trials.

    python benchmarks/bench_results_memory.py [--trials 100000] [--epochs 52] [--workers 4] [--seed 0]
                                              [--out DIR] [--no-memory]

Random search (FIFO, every trial to the last epoch) on a synthetic LCBench-shaped table: 4096 configurations
of 2 categorical (string) hyperparameters, an integer and an ordinal float one, 1 seed, ``--epochs`` epochs and 4
objectives, so 100k trials report 100k x epochs results (5.2M at 52 epochs).

Printed, one JSON line each:

* ``run``: real (and CPU) seconds of ``Tuner.run`` and results count;
* ``write``: real seconds of ``Results.write`` (results.parquet, trials.parquet, real_times.parquet, metadata)
  and of results.parquet alone (from the column buffers, ``Results.to_table``; and, for comparison, through a
  pandas DataFrame as before, with a check that both give the same bytes; medians of ``--repeats`` alternating
  timings), the file's size and bytes per row
  on disk, and ``write_s / run_s`` (target < 1);
* ``memory`` (a second run under ``tracemalloc``, which slows it): bytes per result held by the ``Results``
  object after the run, peak bytes per result during the run + collection, and during the write; next to the
  in-memory size of one row of results.parquet's columns (8 bytes per number, the decision as its code, config
  values as per-trial references), the floor a columnar store can reach.

Times are wall-clock on this machine; other load inflates them (run under ``nice`` and compare the ratio).
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_scheduler_scaling import learning_curves  # the same synthetic curves

from baselines.registry import make_method
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, Integer, Ordinal, SearchSpace
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

METRIC = "valid_error"
OBJECTIVES = [METRIC, "elapsed_time", "train_loss", "valid_accuracy"]


def synthetic_table(epochs: int, seed: int = 0) -> TabularBlackbox:
    rng = np.random.default_rng(seed)
    optimizers = ["sgd", "adam", "adamw", "rmsprop"]
    activations = ["relu", "tanh", "gelu", "elu"]
    layers = list(range(1, 17))
    dropouts = [round(0.05 * i, 2) for i in range(16)]
    hyperparameters = pd.DataFrame(list(itertools.product(optimizers, activations, layers, dropouts)),
                                   columns=["optimizer", "activation", "num_layers", "dropout"])
    n = len(hyperparameters)
    objectives = np.empty((n, 1, epochs, 4), dtype=np.float32)
    objectives[..., 0], objectives[..., 1] = learning_curves(rng, n, epochs)
    objectives[..., 2] = 0.8 * objectives[..., 0]
    objectives[..., 3] = 1.0 - objectives[..., 0]
    space = SearchSpace({"optimizer": Categorical(optimizers), "activation": Categorical(activations),
                         "num_layers": Integer(1, 16), "dropout": Ordinal(dropouts)})
    metadata = BlackboxMetadata("synthetic-results", METRIC, "min", time_objective="elapsed_time",
                                time_is_cumulative=True, description="synthetic, for results memory")
    return TabularBlackbox(hyperparameters, objectives, space, OBJECTIVES, metadata, fidelity_name="epoch",
                           fidelity_values=np.arange(1, epochs + 1), task="synthetic")


def run(table: TabularBlackbox, trials: int, workers: int, seed: int):
    space = table.configuration_space
    scheduler = make_method("RS", space, METRIC, "min", "epoch", float(table.fidelity_values[-1]), seed,
                            fidelity_values=table.fidelity_values.tolist(),
                            restrict_to=None)
    backend = SimulatorBackend(table, n_workers=workers, seed=seed)
    return Tuner(scheduler, backend, StoppingCriterion(max_trials_started=trials)).run()


def metadata(seed: int) -> dict:
    return {"tag": "bench", "benchmark": "synthetic-results", "method": "RS", "seed": seed, "metric": METRIC,
            "mode": "min"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=52)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for the written experiment (default: a temporary one)")
    parser.add_argument("--no-memory", action="store_true", help="skip the (slower) tracemalloc run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timings of the two results.parquet "
                        "routes (medians printed)")
    args = parser.parse_args()
    table = synthetic_table(args.epochs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        start, start_cpu = time.perf_counter(), time.process_time()
        results = run(table, args.trials, args.workers, args.seed)
        run_s, run_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        n = results.n_results
        print(json.dumps({"run": "RS", "trials": results.n_trials, "results": n, "run_s": round(run_s, 3),
                          "run_cpu_s": round(run_cpu_s, 3)}), flush=True)
        from launchers.results_writer import _parquet_bytes, _table_parquet_bytes

        arrow_s, pandas_s = [], []
        identical = True
        for _ in range(args.repeats):  # alternating, so load on the machine hits both routes alike
            start = time.perf_counter()
            payload = _table_parquet_bytes(results.to_table())
            arrow_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            pandas_payload = _parquet_bytes(results.to_frame())
            pandas_s.append(time.perf_counter() - start)
            identical = identical and payload == pandas_payload
            del payload, pandas_payload
        results_parquet_s, pandas_route_s = statistics.median(arrow_s), statistics.median(pandas_s)
        folder = str(out / "experiment")
        start, start_cpu = time.perf_counter(), time.process_time()
        results.write(folder, metadata(args.seed))
        write_s, write_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        size = (out / "experiment" / "results.parquet").stat().st_size
        print(json.dumps({"write": "RS", "write_s": round(write_s, 3), "results_parquet_s": round(results_parquet_s, 3),
                          "results_parquet_via_pandas_s": round(pandas_route_s, 3),
                          "byte_identical_to_pandas_route": identical,
                          "results_parquet_bytes": size, "bytes_per_row_on_disk": round(size / n, 2),
                          "write_s_over_run_s": round(write_s / run_s, 3), "target": "< 1",
                          # CPU seconds: the same ratio without the waits of a shared machine
                          "write_cpu_s": round(write_cpu_s, 3),
                          "write_cpu_s_over_run_cpu_s": round(write_cpu_s / run_cpu_s, 3)}), flush=True)
        del results
        gc.collect()
        if args.no_memory:
            return
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        results = run(table, args.trials, args.workers, args.seed)
        held, peak_run = tracemalloc.get_traced_memory()
        n = results.n_results
        tracemalloc.reset_peak()
        results.write(str(out / "experiment-traced"), metadata(args.seed))
        peak_write = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        row = 8 * (3 + len(results.objectives_names)) + 4 + 1  # ids, fidelity, sim_time, objectives; worker; decision
        print(json.dumps({"memory": "RS", "results": n,
                          "held_bytes_per_result": round((held - before) / n, 1),
                          "peak_run_bytes_per_result": round((peak_run - before) / n, 1),
                          "peak_write_bytes_per_result": round((peak_write - before) / n, 1),
                          "row_bytes_in_memory_floor": row,
                          # + the real_time column, kept for real_times.parquet
                          "row_bytes_with_real_time": row + 8}), flush=True)


if __name__ == "__main__":
    main()
