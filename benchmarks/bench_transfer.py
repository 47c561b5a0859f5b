"""Transfer methods against their non-transfer counterparts on LCBench, leave one task out.

Every LCBench task of ``../shared/data/lcbench_curves`` is converted into a temporary repository; each target
task is tuned as ``transfer-lcbench-ce-TASK`` (validation cross-entropy, 50 epochs, 4 workers, 1000 simulated
seconds = 1000 epochs, methods restricted to the 2000 tabulated configurations), the transfer methods learning
from the other tasks' evaluations (never the target's). Pairs: ZERO-SHOT and BOUNDING-BOX against RS (every
trial to 50 epochs), ASHA-CTS and RUSH against ASHA.

Printed: the normalised regret of the best validation cross-entropy found so far, ``(best so far - table
best) / (table worst - table best)`` of the target, at 5%, 10%, 25% and 100% of the budget; IQM over (target
tasks x seeds) with 95% stratified-bootstrap intervals (``benchmarks.comparison_helpers.regret_intervals``).

    python benchmarks/bench_transfer.py --targets adult higgs jannis volkert christine --seeds 5
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

METHODS = ("RS", "ZERO-SHOT", "BOUNDING-BOX", "ASHA", "ASHA-CTS", "RUSH")
TARGETS = ("adult", "higgs", "jannis", "volkert", "christine")
FRACTIONS = (0.05, 0.1, 0.25, 1.0)
METRIC = "val_cross_entropy"


def _one(args: tuple) -> str:
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    target, method, seed, results_root, blackbox_root = args
    return run_experiment(ExperimentSpec(benchmark=get_benchmark(f"transfer-lcbench-ce-{target}"), method=method,
                                         seed=seed, master_seed=2026, tag="transfer-bench",
                                         results_root=results_root, blackbox_root=blackbox_root))


def regret_curve(path: str, grid: np.ndarray) -> np.ndarray:
    """Normalised regret of the best value found by each time of ``grid`` (1 before any result)."""
    meta = json.loads((Path(path) / "metadata.json").read_text())
    best, worst = meta["metric_best_possible"], meta["metric_worst_possible"]
    results = pd.read_parquet(Path(path) / "results.parquet", columns=["sim_time", METRIC]).sort_values("sim_time")
    values = np.fmin.accumulate(results[METRIC].fillna(np.inf).to_numpy(dtype=float))
    index = np.searchsorted(results["sim_time"].to_numpy(dtype=float), grid, side="right") - 1
    found = np.where(index >= 0, values[np.maximum(index, 0)], worst)
    return np.clip((found - best) / (worst - best), 0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    from comparison_helpers import regret_intervals
    from joblib import Parallel, delayed

    from benchmark_definitions.registry import LCBENCH_TASKS, get_benchmark
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import list_blackboxes

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    repository, results_root = work / "repository", work / "results"
    if "lcbench-val-ce" not in (list_blackboxes(repository) if repository.is_dir() else []):
        if not (args.data / "lcbench_curves").is_dir():
            raise SystemExit(f"needs the LCBench curves in {args.data / 'lcbench_curves'} (--data DIR)")
        convert("lcbench-npz", args.data / "lcbench_curves", repository, tasks=list(LCBENCH_TASKS), progress=False)
    jobs = [(target, method, seed, str(results_root), str(repository))
            for target in args.targets for method in args.methods for seed in range(args.seeds)]
    t0 = time.perf_counter()
    paths = Parallel(n_jobs=args.n_jobs)(delayed(_one)(job) for job in jobs)
    elapsed = time.perf_counter() - t0

    budget = get_benchmark(f"transfer-lcbench-ce-{args.targets[0]}").max_wallclock_time
    grid = np.array(FRACTIONS) * budget
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    for (target, method, _, _, _), path in zip(jobs, paths):
        curves.setdefault((method, target), []).append(regret_curve(path, grid))
    lines = [(f"Normalised regret of the best validation cross-entropy so far, IQM over {len(args.targets)} target "
             f"tasks x {args.seeds} seeds [95% stratified-bootstrap interval], leave-one-task-out over the "
             f"{len(LCBENCH_TASKS)} LCBench tasks (targets: {', '.join(args.targets)}); lower is better."), "",
             "| method | " + " | ".join(f"{f:.0%} of budget" for f in FRACTIONS) + " |",
             "|---|" + "---|" * len(FRACTIONS)]
    for method in args.methods:
        per_task = [np.stack(curves[(method, target)]) for target in args.targets]
        cells = regret_intervals(per_task, list(range(len(FRACTIONS))))
        lines.append(f"| {method} | " + " | ".join(f"{c.point:.4f} [{c.lower:.4f}, {c.upper:.4f}]" for c in cells)
                     + " |")
    lines += ["", (f"{len(jobs)} runs in {elapsed:.0f} s with {args.n_jobs} processes (complete runs in --work-dir "
              "are reused).")]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
