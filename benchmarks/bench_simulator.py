"""Simulator speed on a NAS-Bench-201-sized synthetic table, side by side with Syne Tune 0.16, in fresh processes.

    python benchmarks/bench_simulator.py [--pairs 5] [--peer-python PATH | --skip-peer]
                                         [--rs-wallclock 750000] [--asha-wallclock 20000] [--seed 0]

Prints one JSON line per measurement:

* ``table``: the synthetic table; ``lookup`` / ``peer_lookup`` / ``ratio_lookup``: single-result and whole-curve
  lookups, median microseconds inside one process of each side;
* ``pair``: one A/B pair of a workload (``rs``: random search, 4 workers, ``--rs-wallclock`` simulated seconds;
  ``asha``: stopping ASHA, grace period 1, reduction factor 3, max 200 epochs, 4 workers, ``--asha-wallclock``
  simulated seconds). A is a fresh Python process of ours, B a fresh process of the peer, run one after the
  other (A B A B ..., pair ``i`` uses seed ``seed + i`` on both sides). Each side starts the interpreter, imports
  its library, loads the same table from the same files (``hyperparameters.parquet``, ``objectives.npy``) and
  simulates. Two times per side, labelled:

  - ``process_s``: the whole process, measured by this script around ``subprocess.run`` (interpreter start,
    imports, table load, simulation, exit): what a researcher waits for;
  - ``simulation_s``: the simulation alone (``Tuner.run()`` on each side), measured inside the process (each
    side's ``load_s`` before it covers reading the files, building the table and one lookup, so that both
    tables' configuration indexes are built before the clock starts);
  - ``process_cpu_s`` and ``simulation_cpu_s``: the same two in CPU seconds (user + system; the process's from
    ``os.wait4``, the simulation's from ``time.process_time`` around ``Tuner.run()``). A busy machine stretches
    wall times unevenly, most for the shortest runs (our ASHA run takes a few hundredths of a second), so the
    per-pair ratios are printed for both clocks;

  and the work done: ``trials_started``, ``results_reported`` and ``trials_by_last_fidelity`` (how many trials
  ended at each rung level, at ``max_t``, or were still between levels when the budget ran out);
  ``floor_process_s`` is a third fresh process per pair that only imports numpy and pandas and reads the two
  files: the start-up floor any pandas-based simulator pays (ours: ``process_s - floor_process_s`` is our own
  start-up, imports of our packages and the simulation);
* ``summary``: per workload, medians of both times on both sides, the median of the per-pair ratios
  (``peer / ours``, on both clocks; >= 100 is the target for ASHA in time), the medians of the work counts, and for ASHA where
  the two stopping rules differ (``ASHA_RULES``).

The peer interpreter is ``--peer-python`` or the ``PEER_PYTHON`` environment variable (a virtual environment with
``syne-tune==0.16.0``; it runs ``benchmarks/peer_simulation.py``). Without one the peer side is skipped with a
message and only our processes are timed.

Table: 15625 configurations (6 operations out of 5 choices, as NAS-Bench-201) x 3 seeds x 200 epochs x 4
objectives, float32; each configuration has a constant epoch time drawn from 5..25 s (the real table's times
are per-configuration constants too), ``elapsed_time`` is cumulative.

``--child`` is this script's own entry point for side A (one simulation, one ``ARENA_CHILD_RESULT`` line).
"""

from __future__ import annotations

import time

_PROCESS_T0 = time.perf_counter()  # before the imports: the child reports how long they took

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from baselines.registry import make_method
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

_IMPORTS_S = time.perf_counter() - _PROCESS_T0

OPERATIONS = ["avg_pool_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none"]
OBJECTIVES = ["valid_error", "elapsed_time", "eval_runtime", "train_loss"]
METRIC = "valid_error"
N_EPOCHS = 200
N_WORKERS = 4
GRACE_PERIOD = 1
REDUCTION_FACTOR = 3
RUNG_LEVELS = [1, 3, 9, 27, 81]  # grace 1, factor 3, below 200: the same on both sides
PEER_PREFIX = "ARENA_PEER_RESULT "
CHILD_PREFIX = "ARENA_CHILD_RESULT "
WORKLOADS = ("rs", "asha")

ASHA_RULES = (
    "Both: stopping-type ASHA, rungs 1, 3, 9, 27, 81 epochs, a trial is judged once per rung, at the highest rung "
    "its result reaches that it was not judged at, against the values recorded there before it; the first trial "
    "at a rung continues; a trial reaching 200 epochs ends. They differ in the cutoff. Ours (Ray Tune's rule, "
    "baselines/asynchronous_successive_halving.py): continue iff value <= numpy.quantile(previous, 1/3) "
    "(linear interpolation between order statistics). Syne Tune 0.16 (schedulers/asha.py Bracket.on_result): "
    "rank = (number of previous values strictly better) / (previous + 1), stop iff rank > 1/3, i.e. continue "
    "iff at most (n + 1) / 3 of the n previous values are strictly better. The peer's rule keeps slightly more "
    "trials (e.g. with 2 previous values a < b, every value in (a, b) continues there; ours continues only up "
    "to a + (b - a) / 3), and ties always go the trial's way; so the two sides do not run the same number of "
    "epochs for the same budget: compare the work counts (trials_started, results_reported, "
    "trials_by_last_fidelity) next to the times. Both draw configurations uniformly at random, from different "
    "random streams."
)


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def synthetic_nb201(seed: int = 0) -> TabularBlackbox:
    rng = np.random.default_rng(seed)
    names = [f"hp_x{i}" for i in range(6)]
    hyperparameters = pd.DataFrame(list(itertools.product(OPERATIONS, repeat=6)), columns=names)
    n, s, f = len(hyperparameters), 3, N_EPOCHS
    epochs = np.arange(1, f + 1, dtype=np.float32)
    final = rng.uniform(0.05, 0.9, size=(n, 1, 1)).astype(np.float32) + rng.normal(
        0.0, 0.01, size=(n, s, 1)
    ).astype(np.float32)
    speed = rng.uniform(2.0, f / 4, size=(n, 1, 1)).astype(np.float32)
    objectives = np.empty((n, s, f, 4), dtype=np.float32)
    objectives[..., 0] = final + (1.0 - final) * np.exp(-epochs / speed)
    epoch_seconds = rng.uniform(5.0, 25.0, size=(n, 1, 1)).astype(np.float32)
    objectives[..., 1] = epoch_seconds * epochs  # constant epoch time per configuration, cumulative
    objectives[..., 2] = 0.1 * epoch_seconds
    objectives[..., 3] = 0.5 * objectives[..., 0] + rng.normal(0, 0.002, size=(n, s, f)).astype(np.float32)
    return _table(hyperparameters, objectives)


def _table(hyperparameters: pd.DataFrame, objectives: np.ndarray) -> TabularBlackbox:
    space = SearchSpace({name: Categorical(OPERATIONS) for name in hyperparameters.columns})
    metadata = BlackboxMetadata(
        "synthetic-nb201",
        METRIC,
        "min",
        time_objective="elapsed_time",
        time_is_cumulative=True,
        description="synthetic, NAS-Bench-201 shaped",
    )
    return TabularBlackbox(
        hyperparameters,
        objectives,
        space,
        OBJECTIVES,
        metadata,
        fidelity_name="epoch",
        fidelity_values=np.arange(1, objectives.shape[2] + 1),
        task="synthetic",
    )


def load_table(data_dir: str) -> TabularBlackbox:
    """The table from the files the peer reads too (so both sides load the same bytes)."""
    hyperparameters = pd.read_parquet(os.path.join(data_dir, "hyperparameters.parquet"))
    return _table(hyperparameters, np.load(os.path.join(data_dir, "objectives.npy")))


def write_table_files(table: TabularBlackbox, folder: str) -> None:
    table.hyperparameters.to_parquet(os.path.join(folder, "hyperparameters.parquet"), index=False)
    np.save(os.path.join(folder, "objectives.npy"), np.asarray(table.objectives))
    meta = {
        "objectives": OBJECTIVES,
        "fidelity_values": table.fidelity_values.tolist(),
        "fidelity_name": "epoch",
        "choices": OPERATIONS,
        "metric": METRIC,
        "time_objective": "elapsed_time",
        "rung_levels": RUNG_LEVELS,  # for the peer's per-level trial counts
    }
    with open(os.path.join(folder, "meta.json"), "w") as handle:
        json.dump(meta, handle)


def make_scheduler(workload: str, table: TabularBlackbox, seed: int):
    space = table.configuration_space
    if workload == "rs":
        return FIFOScheduler(space, METRIC, RandomSearcher(space, METRIC, seed=seed), seed=seed,
                             fidelity_name="epoch", max_fidelity=N_EPOCHS)
    if workload == "asha":
        return make_method("ASHA", config_space=space, metric=METRIC, mode="min", seed=seed,
                           fidelity_name="epoch", max_fidelity=N_EPOCHS,
                           fidelity_values=table.fidelity_values.tolist(), grace_period=GRACE_PERIOD,
                           reduction_factor=REDUCTION_FACTOR)  # the registry's ASHA: the stopping variant
    raise ValueError(f"unknown workload {workload!r}; valid: {', '.join(WORKLOADS)}")


FLOOR_CODE = (
    "import os, sys, numpy, pandas; d = sys.argv[1]; "
    "pandas.read_parquet(os.path.join(d, 'hyperparameters.parquet')); numpy.load(os.path.join(d, 'objectives.npy'))"
)


def run_floor(data_dir: str) -> float:
    """Seconds for a process that only imports numpy and pandas and reads the table files: the floor for any
    pandas-based simulator in a fresh process (ours and the peer's both do this and more)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR_CODE, data_dir], check=True, capture_output=True)
    return time.perf_counter() - t0


def trials_by_last_fidelity(last_fidelity: np.ndarray) -> dict[str, int]:
    """How many trials ended at each rung level / at max_t; ``between`` = cut by the budget between levels."""
    counts = {str(level): int(np.count_nonzero(last_fidelity == level)) for level in [*RUNG_LEVELS, N_EPOCHS]}
    counts["between"] = int(len(last_fidelity) - sum(counts.values()))
    return counts


def child(workload: str, data_dir: str, wallclock: float, seed: int) -> None:
    """Side A of a pair: load the table, simulate once, print one result line."""
    # The peer's side measures its memory with the same function (imported here, outside imports_s).
    from peer_simulation import peak_rss_mb

    t0 = time.perf_counter()
    table = load_table(data_dir)
    # One lookup before the clock starts, as the peer's side does: both tables build their configuration index
    # (ours lazily, the peer's partly in its constructor, partly at the first lookup) inside load_s.
    table.evaluate(table.hyperparameters.iloc[0].to_dict(), fidelity=1, seed=0)
    load_s = time.perf_counter() - t0
    scheduler = make_scheduler(workload, table, seed)
    backend = SimulatorBackend(table, n_workers=N_WORKERS, seed=seed)
    t0, cpu0 = time.perf_counter(), time.process_time()
    results = Tuner(scheduler, backend, StoppingCriterion(max_wallclock_time=wallclock)).run()
    simulation_s, simulation_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    trial_ids = results.columns["trial_id"]
    last = np.zeros(results.n_trials)
    np.maximum.at(last, trial_ids, results.columns["fidelity"])
    out = {
        "imports_s": _IMPORTS_S,
        "load_s": load_s,
        "simulation_s": simulation_s,
        "simulation_cpu_s": simulation_cpu_s,
        "scheduler_s": results.scheduler_seconds,
        "trials_started": results.n_trials,
        "results_reported": results.n_results,
        "trials_by_last_fidelity": trials_by_last_fidelity(last),
        "sim_time_s": results.stop_time,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(CHILD_PREFIX + json.dumps(out), flush=True)


def _run_process(command: list[str], prefix: str, what: str) -> tuple[dict, float, float]:
    """Run ``command``; (its result line, wall seconds, CPU seconds of the process and its children)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        process_s = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{what} failed (exit {code}):\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    if not lines:
        raise RuntimeError(f"{what} printed no result line:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return json.loads(lines[-1][len(prefix):]), process_s, usage.ru_utime + usage.ru_stime


def run_ours(workload: str, data_dir: str, wallclock: float, seed: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", workload, data_dir, repr(wallclock),
               str(seed)]
    out, process_s, process_cpu_s = _run_process(command, CHILD_PREFIX, f"our {workload} process")
    return dict(out, process_s=process_s, process_cpu_s=process_cpu_s)


def run_peer(python: str, data_dir: str, *args: str) -> dict:
    script = str(REPO / "benchmarks" / "peer_simulation.py")
    out, process_s, process_cpu_s = _run_process([python, script, data_dir, *args], PEER_PREFIX, f"peer run {args}")
    if "run_real_s" in out:
        out["simulation_s"] = out.pop("run_real_s")
        out["simulation_cpu_s"] = out.pop("run_cpu_s")
    return dict(out, process_s=process_s, process_cpu_s=process_cpu_s)


def time_lookups(table: TabularBlackbox, n: int = 2000) -> dict:
    rng = np.random.default_rng(1)
    configs = table.hyperparameters.iloc[rng.integers(0, table.num_configs, size=n)].to_dict("records")
    fidelities = rng.integers(1, N_EPOCHS + 1, size=n)
    seeds = rng.integers(0, table.num_seeds, size=n)
    for config in configs[:50]:
        table.evaluate(config, fidelity=5, seed=0)
    single, curve, fast = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        table.evaluate(configs[i], fidelity=int(fidelities[i]), seed=int(seeds[i]))
        single[i] = time.perf_counter() - t0
    for i in range(n):
        t0 = time.perf_counter()
        table.evaluate(configs[i], seed=int(seeds[i]))
        curve[i] = time.perf_counter() - t0
    objectives = table.objectives
    for i in range(n):  # what the simulator does per trial: hash lookup of the row + a view of the curve
        t0 = time.perf_counter()
        objectives[table.row(configs[i]), int(seeds[i])]
        fast[i] = time.perf_counter() - t0
    return {
        "lookup_us_median": float(np.median(single) * 1e6),
        "curve_lookup_us_median": float(np.median(curve) * 1e6),
        "simulator_curve_lookup_us_median": float(np.median(fast) * 1e6),
        "n": n,
    }


# Ratios per pair (peer / ours): wall seconds, which a busy machine inflates unevenly for short runs, and CPU
# seconds (user + system: the process's from wait4, the simulation's from time.process_time around Tuner.run).
RATIO_KEYS = ("process_s", "process_cpu_s", "simulation_s", "simulation_cpu_s")


def _work(side: dict) -> dict:
    return {key: side.get(key) for key in ("trials_started", "results_reported", "trials_by_last_fidelity")}


def summarise(workload: str, wallclock: float, pairs: list[dict], with_peer: bool) -> dict:
    def median(side: str, key: str) -> float:
        return statistics.median(pair[side][key] for pair in pairs)

    summary: dict = {"what": "summary", "workload": workload, "max_wallclock_sim_s": wallclock,
                     "n_workers": N_WORKERS, "pairs": len(pairs)}
    summary["floor_process_s_median"] = statistics.median(pair["floor_process_s"] for pair in pairs)
    summary["floor_note"] = "a fresh process that only imports numpy + pandas and reads the two table files"
    for key in ("process_s", "process_cpu_s", "simulation_s", "simulation_cpu_s", "imports_s", "load_s",
                "scheduler_s", "trials_started", "results_reported", "peak_rss_mb"):
        summary[f"ours_{key}_median"] = median("ours", key)
    if with_peer:
        for key in ("process_s", "process_cpu_s", "simulation_s", "simulation_cpu_s", "load_s", "trials_started",
                    "results_reported", "peak_rss_mb"):
            summary[f"peer_{key}_median"] = median("peer", key)
        for key in RATIO_KEYS:
            ratios = [pair[f"ratio_{key}"] for pair in pairs]
            summary[f"ratio_{key}_median"] = statistics.median(ratios)
            summary[f"ratio_{key}_min"] = min(ratios)
        summary["ratio_note"] = "peer seconds / our seconds, per pair, then the median (higher: ours faster)"
    if workload == "asha":
        summary["asha_rules"] = ASHA_RULES
        if with_peer:
            summary["target_asha_100x_process"] = bool(summary["ratio_process_s_median"] >= 100)
            summary["target_asha_100x_simulation"] = bool(summary["ratio_simulation_s_median"] >= 100)
            summary["target_asha_100x_simulation_cpu"] = bool(summary["ratio_simulation_cpu_s_median"] >= 100)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs of fresh processes per workload")
    parser.add_argument("--seed", type=int, default=0, help="pair i uses seed + i on both sides")
    parser.add_argument("--skip-peer", action="store_true", help="only time our processes")
    parser.add_argument("--peer-python", default=os.environ.get("PEER_PYTHON"),
                        help="Python interpreter of a virtual environment with syne-tune==0.16.0 "
                             "(default: $PEER_PYTHON; without either the peer is skipped)")
    parser.add_argument("--rs-wallclock", type=float, default=750_000.0, help="simulated seconds (random search)")
    parser.add_argument("--asha-wallclock", type=float, default=20_000.0, help="simulated seconds (ASHA)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--skip-lookup", action="store_true", help="leave out the lookup timings")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error(f"--pairs must be >= 1, got {args.pairs}")
    for name in ("rs_wallclock", "asha_wallclock"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0 simulated seconds, got {getattr(args, name)}")

    python = None if args.skip_peer else args.peer_python
    if args.skip_peer:
        emit({"what": "peer", "skipped": "--skip-peer given"})
    elif not python or not os.path.exists(python):
        reason = "no peer interpreter given" if not python else f"peer interpreter {python} not found"
        emit({"what": "peer", "skipped": (
            f"{reason}; create one with `python3 -m venv VENV && VENV/bin/pip install 'syne-tune==0.16.0' pandas "
            "pyarrow scikit-learn huggingface_hub fastparquet h5py` and pass --peer-python VENV/bin/python (or set "
            "PEER_PYTHON)")})
        python = None

    t0 = time.perf_counter()
    table = synthetic_nb201(args.seed)
    emit({"what": "table", "shape": list(table.objectives.shape), "dtype": str(table.objectives.dtype),
          "build_s": time.perf_counter() - t0})
    with tempfile.TemporaryDirectory(prefix="arena_bench_table_") as data_dir:
        write_table_files(table, data_dir)
        if not args.skip_lookup:
            ours_lookup = dict(time_lookups(table), what="lookup")
            emit(ours_lookup)
            if python:
                peer_lookup = dict(run_peer(python, data_dir, "lookup"), what="peer_lookup")
                emit(peer_lookup)
                emit({"what": "ratio_lookup", "peer_us": peer_lookup["lookup_us_median"],
                      "ours_us": ours_lookup["lookup_us_median"],
                      "speedup": peer_lookup["lookup_us_median"] / ours_lookup["lookup_us_median"],
                      "speedup_simulator_curve": peer_lookup["curve_lookup_us_median"]
                      / ours_lookup["simulator_curve_lookup_us_median"]})
        del table  # the children load their own copy; this one would only add to the machine's memory pressure
        for workload in args.workloads:
            wallclock = args.rs_wallclock if workload == "rs" else args.asha_wallclock
            pairs = []
            for i in range(args.pairs):
                seed = args.seed + i
                pair: dict = {"what": "pair", "workload": workload, "pair": i, "seed": seed,
                              "floor_process_s": run_floor(data_dir),
                              "ours": run_ours(workload, data_dir, wallclock, seed)}
                if python:
                    pair["peer"] = run_peer(python, data_dir, workload, repr(wallclock), str(seed))
                    for key in RATIO_KEYS:
                        pair[f"ratio_{key}"] = pair["peer"][key] / pair["ours"][key]
                emit(pair)
                pairs.append(pair)
            emit(summarise(workload, wallclock, pairs, python is not None))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        if len(sys.argv) != 6:
            raise SystemExit("usage: bench_simulator.py --child {rs|asha} DATA_DIR MAX_WALLCLOCK_SIM_S SEED")
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
