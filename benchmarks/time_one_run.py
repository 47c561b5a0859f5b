"""Time one run of ``bench_methods.py`` in CPU seconds and check it against a stored run of the same spec.

On a shared machine wall-clock times swing several-fold with the load; the process's CPU time does not. This
script runs one (benchmark, method, seed) exactly as ``bench_methods.py`` does (same master seed, tag and spec),
times every scheduler decision and the whole run with ``time.process_time``, and, given ``--compare-with`` (a
``bench_methods`` work dir), checks that the run's results and trials equal the stored run's in every column but
the real-time one: a speed-up that keeps the method's decisions produces the same files.

    python benchmarks/time_one_run.py yahpo-lcbench-7593 DYHPO 4 --work-dir BENCH_DIR --compare-with BENCH_DIR

(``BENCH_DIR``: the ``--work-dir`` of a ``bench_methods.py`` run.)

For a before/after pair, run a copy of this script inside each code root (it imports the code next to it), e.g.
a ``git archive`` of the old commit and the current tree, at the same time so that both see the same load. ``--profile FILE`` also writes a cProfile (CPU clock).
Exit status 1 when the run fails or differs from the stored one.
"""
from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_methods  # a sibling script, not a package

from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec

REAL_TIME_COLUMNS = ("real_time",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", help="benchmark name, e.g. yahpo-lcbench-7593")
    parser.add_argument("method", help="registered method name, e.g. DYHPO")
    parser.add_argument("seed", type=int, help="seed index as in bench_methods (0..seeds-1)")
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="a bench_methods work dir whose converted repository/ the run reads")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="a bench_methods work dir holding a stored run of the same spec to compare with")
    parser.add_argument("--profile", type=Path, default=None, help="also write a cProfile (CPU clock) here")
    return parser.parse_args(argv)


def stored_frames_equal(new_folder: Path, stored_folder: Path) -> dict[str, bool]:
    import pandas as pd

    verdicts = {}
    for name in ("results.parquet", "trials.parquet"):
        new, stored = pd.read_parquet(new_folder / name), pd.read_parquet(stored_folder / name)
        columns = [c for c in new.columns if c not in REAL_TIME_COLUMNS]
        verdicts[name] = (list(new.columns) == list(stored.columns) and new.shape == stored.shape
                          and new[columns].equals(stored[columns]))
    return verdicts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    repository = args.work_dir / "repository"
    if not repository.is_dir():
        print(f"error: {repository} not found; pass the --work-dir of a bench_methods run", file=sys.stderr)
        return 2
    bench = get_benchmark(args.benchmark)
    # Decisions and the run timed in CPU seconds: bench_methods reads time.perf_counter from its module.
    bench_methods.time = types.SimpleNamespace(perf_counter=time.process_time)
    with tempfile.TemporaryDirectory(prefix="time-one-run-") as out:
        spec = ExperimentSpec(bench, args.method, args.seed, bench_methods.MASTER_SEED, bench_methods.TAG, out,
                              blackbox_root=bench_methods.blackbox_root(bench, repository))
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        if profiler:
            profiler.enable()
        record = bench_methods.run_one(spec)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(args.profile))
        if record.error:
            print(record.error, file=sys.stderr)
            return 1
        suggest = record.calls.get("suggest", np.zeros(0))
        print(f"{args.benchmark} {args.method} seed {args.seed}: {record.seconds:.1f} CPU s per run; suggest: "
              f"{len(suggest)} calls, median {1e3 * np.median(suggest):.2f} ms, mean {1e3 * np.mean(suggest):.2f} ms, "
              f"max {1e3 * np.max(suggest):.0f} ms, total {np.sum(suggest):.1f} s (CPU)")
        if args.compare_with is None:
            return 0
        new_folder = bench_methods._run_folder(spec)
        stored_folder = args.compare_with / "results" / new_folder.relative_to(out)
        if not (stored_folder / "results.parquet").is_file():
            print(f"error: no stored run at {stored_folder}", file=sys.stderr)
            return 2
        verdicts = stored_frames_equal(new_folder, stored_folder)
        print("same as the stored run: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in verdicts.items()))
        return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
