"""Simulator speed on a NAS-Bench-201-sized synthetic table, side by side with Syne Tune 0.16.

    python benchmarks/bench_simulator.py [--repeats 3] [--peer-python PATH | --skip-peer]

Prints one JSON line per measurement:

* ``lookup``: single-result and whole-curve lookups (median microseconds);
* ``random_search``: FIFO random search, 4 workers, 1000 trials x 200 epochs run to completion
  (targets: < 1 s and >= 200,000 results per real second), and the same under a simulated wall-clock budget;
* ``asha``: ASHA (stopping variant, grace period 1, reduction factor 3, max 200 epochs), 4 workers;
* ``peer_*``: the same lookups / random search / ASHA in Syne Tune 0.16, run in its own virtual environment
  (the interpreter given by ``--peer-python`` or the ``PEER_PYTHON`` environment variable; no default) through
  ``benchmarks/peer_simulation.py`` on the same table in its format, and ``ratio_*`` lines (targets >= 100x).
  Skipped with a message when no peer interpreter is given or it does not exist.

Table: 15625 configurations (6 operations out of 5 choices, as NAS-Bench-201) x 3 seeds x 200 epochs x 4
objectives, float32; each configuration has a constant epoch time drawn from 5..25 s (the real table's times
are per-configuration constants too), ``elapsed_time`` is cumulative.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

OPERATIONS = ["avg_pool_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none"]
OBJECTIVES = ["valid_error", "elapsed_time", "eval_runtime", "train_loss"]
METRIC = "valid_error"
N_EPOCHS = 200
N_WORKERS = 4
PEER_PREFIX = "ARENA_PEER_RESULT "


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
    space = SearchSpace({name: Categorical(OPERATIONS) for name in names})
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
        fidelity_values=np.arange(1, f + 1),
        task="synthetic",
    )


def make_asha(table: TabularBlackbox, seed: int):
    """The project's ASHA when present; otherwise a clearly labelled test-only stopping rule."""
    kwargs = {
        "mode": "min",
        "seed": seed,
        "fidelity_name": "epoch",
        "max_fidelity": N_EPOCHS,
        "fidelity_values": table.fidelity_values.tolist(),
        "grace_period": 1,
        "reduction_factor": 3,
    }
    try:
        from baselines.registry import make_method

        return make_method(
            "ASHA", config_space=table.configuration_space, metric=METRIC, **kwargs
        ), "baselines.registry.make_method('ASHA')"
    except ImportError:
        pass
    if (REPO / "baselines" / "asynchronous_successive_halving.py").exists():
        from baselines.asynchronous_successive_halving import ASHA

        return ASHA(
            table.configuration_space, METRIC, **kwargs
        ), "baselines.asynchronous_successive_halving.ASHA"
    return _test_only_stopping_rule(
        table, seed
    ), "TEST-ONLY stopping rule in bench_simulator.py (no ASHA yet)"


def _test_only_stopping_rule(table: TabularBlackbox, seed: int):
    from baselines.scheduler import Decision

    class StoppingRule(FIFOScheduler):
        """Test-only: stop a trial at rung 1, 3, 9, ... unless in the best third seen there (no promotions)."""

        rungs: ClassVar[list[int]] = [1, 3, 9, 27, 81]

        def __init__(self):
            space = table.configuration_space
            super().__init__(
                space,
                METRIC,
                RandomSearcher(space, METRIC, seed=seed),
                seed=seed,
                fidelity_name="epoch",
                max_fidelity=N_EPOCHS,
            )
            self.seen: dict[float, list[float]] = {r: [] for r in self.rungs}

        def milestones(self, trial_id):
            return self.rungs

        def on_result(self, trial_id, fidelity, metrics):
            previous = self.seen[fidelity]
            value = metrics[METRIC]
            previous.append(value)
            if len(previous) > 1 and value > np.quantile(previous[:-1], 1 / 3):
                return Decision.STOP
            return Decision.CONTINUE

    return StoppingRule()


def random_search(table: TabularBlackbox, seed: int, max_trials: int | None):
    space = table.configuration_space
    return FIFOScheduler(
        space,
        METRIC,
        RandomSearcher(space, METRIC, seed=seed),
        seed=seed,
        fidelity_name="epoch",
        max_fidelity=N_EPOCHS,
        max_trials=max_trials,
    )


def timed_run(scheduler, table, stop: StoppingCriterion, seed: int) -> dict:
    backend = SimulatorBackend(table, n_workers=N_WORKERS, seed=seed)
    t0 = time.perf_counter()
    results = Tuner(scheduler, backend, stop).run()
    seconds = time.perf_counter() - t0
    return {
        "run_real_s": seconds,
        "results_reported": results.n_results,
        "trials_started": results.n_trials,
        "results_per_real_s": results.n_results / seconds,
        "trials_per_real_s": results.n_trials / seconds,
        "sim_time_s": results.stop_time,
        "scheduler_real_s": results.scheduler_seconds,
        # throughput of the tuner loop + simulator alone (the time spent inside the method's own code removed)
        "results_per_real_s_excluding_scheduler": results.n_results / (seconds - results.scheduler_seconds),
    }


def median_of(runs: list[dict]) -> dict:
    best = sorted(runs, key=lambda r: r["run_real_s"])[len(runs) // 2]
    return dict(best, repeats=len(runs))


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


def write_peer_data(table: TabularBlackbox, folder: str) -> None:
    table.hyperparameters.to_parquet(os.path.join(folder, "hyperparameters.parquet"), index=False)
    np.save(os.path.join(folder, "objectives.npy"), np.asarray(table.objectives))
    meta = {
        "objectives": OBJECTIVES,
        "fidelity_values": table.fidelity_values.tolist(),
        "fidelity_name": "epoch",
        "choices": OPERATIONS,
        "metric": METRIC,
        "time_objective": "elapsed_time",
    }
    with open(os.path.join(folder, "meta.json"), "w") as handle:
        json.dump(meta, handle)


def run_peer(python: str, data_dir: str, *args: str) -> dict:
    script = str(REPO / "benchmarks" / "peer_simulation.py")
    done = subprocess.run([python, script, data_dir, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"peer run {args} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith(PEER_PREFIX)]
    if not lines:
        raise RuntimeError(f"peer run {args} printed no result line:\n{done.stdout[-3000:]}")
    return json.loads(lines[-1][len(PEER_PREFIX):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement of ours (median reported)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-peer", action="store_true", help="only measure hpo-arena")
    parser.add_argument("--peer-python", default=os.environ.get("PEER_PYTHON"),
                        help="Python interpreter of a virtual environment with syne-tune==0.16.0 "
                             "(default: $PEER_PYTHON; without either the peer is skipped)")
    parser.add_argument(
        "--rs-wallclock", type=float, default=750_000.0, help="simulated seconds (RS vs peer)"
    )
    parser.add_argument(
        "--asha-wallclock", type=float, default=20_000.0, help="simulated seconds (ASHA vs peer)"
    )
    args = parser.parse_args()
    seed = args.seed

    t0 = time.perf_counter()
    table = synthetic_nb201(seed)
    emit(
        {
            "what": "table",
            "shape": list(table.objectives.shape),
            "dtype": str(table.objectives.dtype),
            "build_s": time.perf_counter() - t0,
        }
    )
    ours_lookup = dict(time_lookups(table), what="lookup")
    emit(ours_lookup)

    rs_trials = median_of(
        [
            timed_run(random_search(table, seed + r, 1000), table, StoppingCriterion(), seed + r)
            for r in range(args.repeats)
        ]
    )
    rs_trials.update(
        what="random_search",
        budget="1000 trials x 200 epochs",
        n_workers=N_WORKERS,
        target_ok=bool(rs_trials["run_real_s"] < 1.0 and rs_trials["results_per_real_s"] >= 200_000),
    )
    emit(rs_trials)
    rs_wall = median_of(
        [
            timed_run(
                random_search(table, seed + r, None),
                table,
                StoppingCriterion(max_wallclock_time=args.rs_wallclock),
                seed + r,
            )
            for r in range(args.repeats)
        ]
    )
    rs_wall.update(
        what="random_search", budget=f"max_wallclock_time={args.rs_wallclock:g}", n_workers=N_WORKERS
    )
    emit(rs_wall)
    asha_runs = []
    for r in range(args.repeats):
        scheduler, asha_source = make_asha(table, seed + r)
        asha_runs.append(
            timed_run(scheduler, table, StoppingCriterion(max_wallclock_time=args.asha_wallclock), seed + r)
        )
    asha = median_of(asha_runs)
    asha.update(
        what="asha",
        implementation=asha_source,
        budget=f"max_wallclock_time={args.asha_wallclock:g}",
        n_workers=N_WORKERS,
    )
    emit(asha)
    scheduler, asha_source = make_asha(table, seed)
    asha_long = timed_run(
        scheduler, table, StoppingCriterion(max_wallclock_time=10 * args.asha_wallclock), seed
    )
    asha_long.update(
        what="asha",
        implementation=asha_source,
        budget=f"max_wallclock_time={10 * args.asha_wallclock:g}",
        n_workers=N_WORKERS,
    )
    emit(asha_long)

    if args.skip_peer:
        emit({"what": "peer", "skipped": "--skip-peer given"})
        return
    python = args.peer_python
    setup = ("create one with `python3 -m venv VENV && VENV/bin/pip install 'syne-tune==0.16.0' pandas pyarrow "
             "scikit-learn huggingface_hub fastparquet h5py` and pass --peer-python VENV/bin/python (or set "
             "PEER_PYTHON)")
    if not python or not os.path.exists(python):
        reason = "no peer interpreter given" if not python else f"peer interpreter {python} not found"
        emit({"what": "peer", "skipped": f"{reason}; {setup}"})
        return
    with tempfile.TemporaryDirectory(prefix="arena_peer_data_") as data_dir:
        write_peer_data(table, data_dir)
        peer_lookup = dict(run_peer(python, data_dir, "lookup"), what="peer_lookup")
        emit(peer_lookup)
        peer_rs = dict(
            run_peer(python, data_dir, "rs", str(args.rs_wallclock), str(seed)), what="peer_random_search"
        )
        emit(peer_rs)
        peer_asha = dict(
            run_peer(python, data_dir, "asha", str(args.asha_wallclock), str(seed)), what="peer_asha"
        )
        emit(peer_asha)
    emit(
        {
            "what": "ratio_lookup",
            "peer_us": peer_lookup["lookup_us_median"],
            "ours_us": ours_lookup["lookup_us_median"],
            "speedup": peer_lookup["lookup_us_median"] / ours_lookup["lookup_us_median"],
            "speedup_simulator_curve": peer_lookup["curve_lookup_us_median"]
            / ours_lookup["simulator_curve_lookup_us_median"],
        }
    )
    emit(
        {
            "what": "ratio_random_search_results_per_s",
            "peer": peer_rs["results_per_real_s"],
            "ours": rs_wall["results_per_real_s"],
            "speedup": rs_wall["results_per_real_s"] / peer_rs["results_per_real_s"],
        }
    )
    emit(
        {
            "what": "ratio_asha_results_per_s",
            "peer": peer_asha["results_per_real_s"],
            "ours": asha["results_per_real_s"],
            "speedup": asha["results_per_real_s"] / peer_asha["results_per_real_s"],
            "ours_long_run": asha_long["results_per_real_s"],
            "speedup_long_run": asha_long["results_per_real_s"] / peer_asha["results_per_real_s"],
            "ours_excluding_scheduler": asha["results_per_real_s_excluding_scheduler"],
            "speedup_excluding_scheduler": asha["results_per_real_s_excluding_scheduler"]
            / peer_asha["results_per_real_s"],
            "note": "ours includes the time spent in the method's own code (baselines ASHA + random searcher)",
        }
    )


if __name__ == "__main__":
    main()
