"""Time loading and aggregating a large synthetic study (issue 7's performance target).

Default: 10 methods x 20 benchmarks x 20 seeds = 4,000 runs of 1,000 results each, curves on a
1,000-point grid, IQM with 1,000 bootstrap samples per (benchmark, method) and grid point. Target:
aggregation under 60 s on 2 cores. The synthetic folders are written once to --root and reused.

    python benchmarks/bench_aggregation.py [--root /tmp/hpo-arena-bench] [--methods 10] [--benchmarks 20]
"""

from __future__ import annotations

import argparse
import os
import time

from results.across_benchmarks import aggregate_regret_over_time, normalised_regret_curves
from results.comparative import ComparativeResults, aggregate_benchmark_curves
from results.synthetic import write_synthetic_study

TAG = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default="/tmp/hpo-arena-bench")
    parser.add_argument("--methods", type=int, default=10)
    parser.add_argument("--benchmarks", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--results-per-run", type=int, default=1000)
    parser.add_argument("--n-grid", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--across-grid", type=int, default=200, help="grid of the across-benchmark part (0: skip)"
    )
    args = parser.parse_args()

    methods = [f"method-{i:02d}" for i in range(args.methods)]
    benchmarks = [f"benchmark-{i:02d}" for i in range(args.benchmarks)]
    n_runs = args.methods * args.benchmarks * args.seeds
    marker = os.path.join(
        args.root, TAG, f".complete-{args.methods}-{args.benchmarks}-{args.seeds}-{args.results_per_run}"
    )
    if not os.path.exists(marker):
        start = time.perf_counter()
        write_synthetic_study(
            args.root, TAG, benchmarks, methods, range(args.seeds), n_results=args.results_per_run
        )
        open(marker, "w").close()
        print(f"wrote {n_runs} synthetic runs in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    comparative = ComparativeResults(args.root, tags=TAG, num_runs=args.seeds, n_threads=max(4, args.threads))
    indexed = time.perf_counter() - start
    start = time.perf_counter()
    all_curves = [comparative.curves(b, n_grid=args.n_grid) for b in comparative.benchmarks]
    loaded = time.perf_counter() - start

    start = time.perf_counter()
    n_rows = 0
    for curves in all_curves:
        table = aggregate_benchmark_curves(
            curves, "iqm_bootstrap", n_boot=args.n_boot, seed=0, n_threads=args.threads
        )
        n_rows += len(table)
    aggregated = time.perf_counter() - start

    print(
        f"runs: {len(comparative.index.table)} ({args.results_per_run} results each), grid {args.n_grid}, "
        f"bootstrap {args.n_boot}, threads {args.threads}, cpus {os.cpu_count()}"
    )
    print(f"index metadata: {indexed:.1f} s")
    print(f"load results + best-so-far curves on grid: {loaded:.1f} s")
    print(f"IQM + bootstrap aggregation of {len(all_curves)} benchmarks ({n_rows} rows): {aggregated:.1f} s")
    print(f"total: {indexed + loaded + aggregated:.1f} s")

    if args.across_grid:
        start = time.perf_counter()
        regret = normalised_regret_curves(comparative, n_grid=args.across_grid)
        regret_time = time.perf_counter() - start
        start = time.perf_counter()
        aggregate_regret_over_time(regret, n_boot=args.n_boot, n_threads=args.threads)
        across_time = time.perf_counter() - start
        print(
            f"across benchmarks (grid {args.across_grid}): normalised regret curves {regret_time:.1f} s, "
            f"IQM over time with stratified bootstrap ({args.n_boot}) {across_time:.1f} s"
        )


if __name__ == "__main__":
    main()
