"""The small study of ``bench_sweep.py --study``, done with Syne Tune 0.16 (the peer), one step per process.

Runs inside the peer's own virtual environment and imports nothing from hpo-arena (only ``peer_driver.py``
beside it, which does not either). Three commands, the same three steps as ours (``arena convert``,
``arena sweep``, ``arena plot``):

    PEER_PYTHON benchmarks/peer_study.py convert NPZ_DIR REPOSITORY TASK [TASK ...]
    PEER_PYTHON benchmarks/peer_study.py sweep REPOSITORY RESULTS_DIR SEEDS TASK [TASK ...]
    PEER_PYTHON benchmarks/peer_study.py plot RESULTS_DIR FIGURE_STEM

``convert`` reads each task's LCBench curves (``<task>.npz``: ``X`` configurations, ``Y`` validation
cross-entropy after log entries 0..51), keeps entries 1..50 as epochs 1..50 (as our ``lcbench-npz``
converter does), adds a cumulative time of one second per epoch (our ``lcbench-ce-*`` benchmarks' time axis)
and writes them with the peer's own ``serialize``. ``sweep`` runs random search and ASHA (grace period 1,
reduction factor 3, stopping) with 4 workers and a budget of 1000 simulated seconds per run, for every task and
seed, as ``peer_driver.py`` sets the peer's simulator up (no simulated overheads, the host's time not added to
the simulated clock, proposals evaluated at the nearest table row since 0.16 cannot restrict to the rows), and
stores each run's results as JSON. ``plot`` draws best-so-far validation cross-entropy against simulated time,
mean over seeds, one panel per task, to PDF and PNG. Each command prints one line starting with
``ARENA_PEER_STUDY`` with its counts.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer_driver

PREFIX = "ARENA_PEER_STUDY "
BLACKBOX = "lcbench-val-ce"
HYPERPARAMETERS = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units",
                   "max_dropout")
# The LCBench space of blackbox_repo/conversion/lcbench.py, in SearchSpace.to_dict() form (peer_driver maps it).
SPACE = {"hyperparameters": [
    {"name": "batch_size", "type": "integer", "lower": 16, "upper": 512, "log": True},
    {"name": "learning_rate", "type": "loguniform", "lower": 1e-4, "upper": 1e-1},
    {"name": "momentum", "type": "uniform", "lower": 0.1, "upper": 0.99},
    {"name": "weight_decay", "type": "uniform", "lower": 1e-5, "upper": 1e-1},
    {"name": "num_layers", "type": "integer", "lower": 1, "upper": 5},
    {"name": "max_units", "type": "integer", "lower": 64, "upper": 1024, "log": True},
    {"name": "max_dropout", "type": "uniform", "lower": 0.0, "upper": 1.0},
]}
METRIC, TIME, FIDELITY = "val_cross_entropy", "steps", "epoch"
BUDGET, N_WORKERS, TICK = 1000.0, 4, 0.25  # simulated s; a tick of a quarter epoch, as peer_clock gives


def _meta(task: str) -> dict:
    return {"benchmark": BLACKBOX, "task": task, "metric": METRIC, "mode": "min", "time_objective": TIME,
            "fidelity_name": FIDELITY, "fidelity_values": list(range(1, 51)), "space": SPACE,
            "space_names": list(HYPERPARAMETERS), "objectives": [METRIC, TIME]}


def convert(npz_dir: Path, repository: Path, tasks: list[str]) -> dict:
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular, serialize
    from syne_tune.config_space import randint

    tables = {}
    hyperparameters = None
    for task in tasks:
        with np.load(npz_dir / f"{task}.npz") as data:
            x, y = np.asarray(data["X"]), np.asarray(data["Y"])
        curves = y[:, 1:-1]  # epochs 1..50
        epochs = curves.shape[1]
        steps = np.broadcast_to(np.arange(1, epochs + 1, dtype=np.float64), curves.shape)
        objectives = np.stack([curves, steps], axis=-1)[:, None, :, :]  # (configs, seeds, fidelities, objectives)
        frame = pd.DataFrame(x, columns=list(HYPERPARAMETERS))
        for name in ("batch_size", "num_layers", "max_units"):
            frame[name] = frame[name].round().astype(np.int64)
        hyperparameters = frame
        tables[task] = BlackboxTabular(
            hyperparameters=frame, configuration_space=peer_driver.peer_config_space(SPACE),
            fidelity_space={FIDELITY: randint(1, epochs)}, objectives_evaluations=objectives,
            fidelity_values=np.arange(1, epochs + 1), objectives_names=[METRIC, TIME],
        )
    target = repository / BLACKBOX
    target.mkdir(parents=True, exist_ok=True)
    serialize(tables, str(target), metadata={"hpo_arena": _meta(tasks[0])})
    assert hyperparameters is not None
    hyperparameters.to_parquet(repository / "rows.parquet")
    return {"step": "convert", "tasks": len(tasks), "configurations": len(hyperparameters)}


def sweep(repository: Path, results: Path, seeds: int, tasks: list[str]) -> dict:
    folder = tempfile.mkdtemp(prefix="arena_peer_study_")
    os.environ["SYNETUNE_FOLDER"] = folder
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.backend.simulator_backend.time_keeper import SimulatedTimeKeeper
    from syne_tune.optimizer.baselines import ASHA, RandomSearch

    SimulatedTimeKeeper.real_time_since_last_recent_exit = lambda self: 0.0  # simulated time = training only
    rows = pd.read_parquet(repository / "rows.parquet")
    results.mkdir(parents=True, exist_ok=True)
    n_trials = n_results = 0
    for task in tasks:
        meta = _meta(task)
        space = peer_driver.peer_config_space(SPACE)
        for method in ("RS", "ASHA"):
            for seed in range(seeds):
                np.random.seed(seed)  # the peer draws table seeds from numpy's global state
                spec = {"tick": TICK, "time_scale": 1.0, "max_resource_attr": None}
                backend = peer_driver.make_backend(repository, meta, spec, rows)
                if method == "RS":
                    scheduler = RandomSearch(space, metrics=[METRIC], do_minimize=True, random_seed=seed)
                else:
                    scheduler = ASHA(space, metric=METRIC, time_attr=FIDELITY, max_t=50, do_minimize=True,
                                     random_seed=seed, grace_period=1, reduction_factor=3)
                calls: dict = defaultdict(list)
                log: dict = defaultdict(list)
                kinds: dict = defaultdict(int)
                peer_driver.instrument(scheduler, calls, log, kinds, meta, 1.0)
                tuner = Tuner(trial_backend=backend, scheduler=scheduler,
                              stop_criterion=StoppingCriterion(max_wallclock_time=BUDGET), n_workers=N_WORKERS,
                              sleep_time=0, callbacks=[SimulatorCallback()], results_update_interval=1e9,
                              print_update_interval=1e9, save_tuner=False,
                              tuner_name=f"arena-study-{task}-{method}-{seed}".replace("_", "-"))
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # it prints every trial
                    tuner.run()
                trials = len(backend._trial_dict)
                n_trials += trials
                n_results += len(log["value"])
                (results / f"{task}__{method}__{seed}.json").write_text(json.dumps(
                    {"task": task, "method": method, "seed": seed, "trials": trials,
                     "sim_time": log["sim_time"], "value": log["value"]}))
    return {"step": "sweep", "runs": len(tasks) * 2 * seeds, "trials": n_trials, "results": n_results}


def plot(results: Path, stem: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    tasks = sorted({r["task"] for r in runs})
    grid = np.linspace(0.0, BUDGET, 200)
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 2.6), squeeze=False)
    n_curves = 0
    for ax, task in zip(axes[0], tasks):
        for method in ("RS", "ASHA"):
            curves = []
            for run in (r for r in runs if r["task"] == task and r["method"] == method):
                order = np.argsort(run["sim_time"], kind="stable")
                times = np.asarray(run["sim_time"])[order]
                best = np.minimum.accumulate(np.asarray(run["value"])[order])
                index = np.searchsorted(times, grid, side="right") - 1
                curves.append(np.where(index >= 0, best[np.clip(index, 0, None)], np.nan))
            with warnings.catch_warnings():  # before any run's first result a grid point has no value
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(grid, np.nanmean(np.asarray(curves), axis=0), label=method)
            n_curves += 1
        ax.set_title(task)
        ax.set_xlabel("simulated time (s)")
    axes[0][0].set_ylabel("best validation cross-entropy")
    axes[0][0].legend()
    fig.tight_layout()
    for suffix in ("pdf", "png"):
        fig.savefig(f"{stem}.{suffix}")
    # What the figure shows, for the benchmark's side-by-side description (counted, not extra work).
    return {"step": "plot", "runs": len(runs), "panels": len(tasks), "curves": n_curves, "bands": 0,
            "aggregate": "mean over seeds", "grid_points": len(grid), "dpi": fig.dpi}


def main(argv: list[str]) -> None:
    if len(argv) >= 4 and argv[0] == "convert":
        out = convert(Path(argv[1]), Path(argv[2]), argv[3:])
    elif len(argv) >= 5 and argv[0] == "sweep":
        out = sweep(Path(argv[1]), Path(argv[2]), int(argv[3]), argv[4:])
    elif len(argv) == 3 and argv[0] == "plot":
        out = plot(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit(__doc__)
    print(PREFIX + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
