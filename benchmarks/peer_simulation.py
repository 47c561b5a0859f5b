"""Times Syne Tune 0.16 (the peer) on the synthetic table written by ``bench_simulator.py``.

Runs inside the peer's own virtual environment (never imported by hpo-arena). Usage:

    PEER_PYTHON benchmarks/peer_simulation.py DATA_DIR {lookup | rs | asha} [MAX_WALLCLOCK_SIM_S] [SEED] [N_WORKERS]

DATA_DIR holds ``hyperparameters.parquet`` and ``objectives.npy`` (configs, seeds, fidelities, objectives),
``meta.json`` (objective names, fidelity values, choices, metric, time objective). Prints one JSON line
prefixed with ``ARENA_PEER_RESULT ``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd

RESULT_PREFIX = "ARENA_PEER_RESULT "  # the peer prints its own progress too; our line is marked


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB). ``VmHWM`` starts afresh at ``exec``; ``ru_maxrss`` (the fallback
    where /proc is missing) is inherited from the parent on Linux, so a child would report the parent's peak.
    ``bench_simulator.py`` measures our side with this function too (this module imports nothing of hpo-arena)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_table(data_dir: str):
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import choice, randint

    with open(os.path.join(data_dir, "meta.json")) as handle:
        meta = json.load(handle)
    hyperparameters = pd.read_parquet(os.path.join(data_dir, "hyperparameters.parquet"))
    objectives = np.load(os.path.join(data_dir, "objectives.npy"))
    fidelities = np.asarray(meta["fidelity_values"])
    table = BlackboxTabular(
        hyperparameters=hyperparameters,
        configuration_space={name: choice(meta["choices"]) for name in hyperparameters.columns},
        fidelity_space={meta["fidelity_name"]: randint(int(fidelities[0]), int(fidelities[-1]))},
        objectives_evaluations=objectives,
        fidelity_values=fidelities,
        objectives_names=meta["objectives"],
    )
    return table, meta


def time_lookups(table, meta, n: int = 2000) -> dict:
    rng = np.random.default_rng(1)
    rows = rng.integers(0, len(table.hyperparameters), size=n)
    configs = table.hyperparameters.iloc[rows].to_dict("records")
    fidelities = rng.integers(1, int(meta["fidelity_values"][-1]) + 1, size=n)
    seeds = rng.integers(0, table.num_seeds, size=n)
    for config in configs[:50]:  # warm-up
        table.objective_function(config, fidelity=5, seed=0)
    single = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        table.objective_function(configs[i], fidelity=int(fidelities[i]), seed=int(seeds[i]))
        single[i] = time.perf_counter() - t0
    curve = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        table.objective_function(configs[i], seed=int(seeds[i]))
        curve[i] = time.perf_counter() - t0
    return {
        "lookup_us_median": float(np.median(single) * 1e6),
        "curve_lookup_us_median": float(np.median(curve) * 1e6),
        "n": n,
    }


def simulate(table, meta, method: str, max_wallclock: float, seed: int, n_workers: int) -> dict:
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.optimizer.baselines import ASHA, RandomSearch

    np.random.seed(seed)  # the peer draws table seeds from numpy's global state
    backend = UserBlackboxBackend(blackbox=table, elapsed_time_attr=meta["time_objective"])
    space = dict(table.configuration_space)
    if method == "rs":
        scheduler = RandomSearch(space, metrics=[meta["metric"]], do_minimize=True, random_seed=seed)
    elif method == "asha":
        scheduler = ASHA(
            space,
            metric=meta["metric"],
            time_attr=meta["fidelity_name"],
            max_t=int(meta["fidelity_values"][-1]),
            do_minimize=True,
            random_seed=seed,
            grace_period=1,
            reduction_factor=3,
        )
    else:
        raise SystemExit(f"unknown method {method!r}: use rs or asha")
    tuner = Tuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_wallclock_time=max_wallclock),
        n_workers=n_workers,
        sleep_time=0,
        callbacks=[SimulatorCallback()],
        save_tuner=False,
        tuner_name=f"arena-peer-{method}-{seed}",
        print_update_interval=1e9,
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the peer prints every trial
        tuner.run()
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    status = tuner.tuning_status
    n_results = int(status.overall_metric_statistics.count)
    # How far each trial got (the fidelity is reported as a metric; its maximum per trial is where it ended),
    # counted as bench_simulator.py counts ours.
    fidelity_name = meta["fidelity_name"]
    last = np.array([stats.max_metrics.get(fidelity_name, 0) for stats in status.trial_metric_statistics.values()])
    levels = [int(v) for v in meta.get("rung_levels", [])] + [int(meta["fidelity_values"][-1])]
    by_last = {str(level): int(np.count_nonzero(last == level)) for level in levels}
    by_last["between"] = int(len(last) - sum(by_last.values()))
    return {
        "method": method,
        "max_wallclock_sim_s": max_wallclock,
        "n_workers": n_workers,
        "seed": seed,
        "run_real_s": seconds,
        "run_cpu_s": cpu_seconds,
        "trials_started": int(status.num_trials_started),
        "results_reported": n_results,
        "trials_by_last_fidelity": by_last,
        "results_per_real_s": n_results / seconds,
        "trials_per_real_s": status.num_trials_started / seconds,
    }


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    data_dir, mode = argv[0], argv[1]
    max_wallclock = float(argv[2]) if len(argv) > 2 else 20000.0
    seed = int(argv[3]) if len(argv) > 3 else 0
    n_workers = int(argv[4]) if len(argv) > 4 else 4
    os.environ.setdefault("SYNETUNE_FOLDER", tempfile.mkdtemp(prefix="arena_peer_"))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("syne_tune").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    table, meta = load_table(data_dir)
    # One lookup inside load_s, as bench_simulator.py's side does: pandas builds the MultiIndex's hash table at
    # the first .loc, so the table's index is complete before any timed simulation or lookup starts.
    table.objective_function(table.hyperparameters.iloc[0].to_dict(), fidelity=1, seed=0)
    out = {"peer": "syne-tune", "mode": mode, "load_s": time.perf_counter() - t0}
    if mode == "lookup":
        out.update(time_lookups(table, meta))
    else:
        out.update(simulate(table, meta, mode, max_wallclock, seed, n_workers))
    out["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
