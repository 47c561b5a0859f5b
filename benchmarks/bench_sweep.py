"""Wall time and memory of a whole study through ``arena sweep``: 3 methods x 3 benchmarks x 10 seeds.

    python benchmarks/bench_sweep.py [--methods RS,ASHA,BO] [--seeds 10] [--n-jobs 2]
                                     [--launchers basic,joblib] [--workdir DIR]

The default study is RS, ASHA and BO on the embedded benchmarks xgboost-sklearn-{digits,breast_cancer,wine}
with their default budgets, seeds 0-9 (90 experiments), run once per launcher through the CLI in a subprocess
(``python -m launchers.cli sweep -m ...``) with a fresh results folder and the same master seed.

How memory is measured: the benchmark sets ``HPO_ARENA_JOB_STATS``, and every job (``launchers.hydra_app.
run_job``) appends one JSON line with its process id and, from ``/proc/self/status`` and ``/proc/self/smaps``:

* ``vmhwm_kb``: the peak resident set size of the process so far (the kernel's high-water mark). The
  per-worker peak is the largest value a process reported. (``ru_maxrss`` is recorded too but not used: it
  survives ``execve``, so a worker spawned by a large parent reports at least the parent's size at spawn.)
* ``blackbox_loads``: how many (blackbox, task) tables the process has loaded (misses of the per-process
  cache); equal to the number of distinct benchmarks it ran means each table is loaded once per process.
* ``mapped_tables_rss_kb`` / ``mapped_tables_pss_kb``: resident and proportional size of the memory-mapped
  objective tables (``.npy``). PSS charges each shared page 1/k to each of the k processes mapping it, so
  PSS < RSS shows the pages are shared with other processes (page cache), not copied into each worker.
  (Other processes of the machine mapping the same files also lower PSS.)

The CLI's main process is measured with ``os.wait4`` (its own peak RSS); with the basic launcher the jobs run
in it. Prints one JSON line per launcher, then a summary table. Also checks that every launcher wrote
byte-identical ``results.parquet`` / ``trials.parquet`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARKS = "xgboost-sklearn-digits,xgboost-sklearn-breast_cancer,xgboost-sklearn-wine"
MASTER_SEED = 2024


def run_sweep(workdir: Path, overrides: list[str]) -> tuple[float, int]:
    """Run ``arena sweep -m <overrides>``; returns (wall seconds, peak RSS kB of the CLI process)."""
    env = dict(os.environ)
    env.update(
        HPO_ARENA_RESULTS=str(workdir / "results"),
        HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
        HPO_ARENA_JOB_STATS=str(workdir / "job_stats.jsonl"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
    )
    stdout, stderr = workdir / "stdout.txt", workdir / "stderr.txt"
    start = time.perf_counter()
    with open(stdout, "w") as out, open(stderr, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(
            f"sweep failed ({code}):\n{stdout.read_text()[-2000:]}\n{stderr.read_text()[-4000:]}"
        )
    return wall, int(usage.ru_maxrss)


def summarise_jobs(stats_file: Path) -> dict:
    records = [json.loads(line) for line in stats_file.read_text().splitlines() if line.strip()]
    by_pid: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_pid[record["pid"]].append(record)
    workers = []
    for pid, recs in sorted(by_pid.items()):
        last = recs[-1]
        benchmarks = {r["experiment"].split(" / ")[0] for r in recs}
        workers.append(
            {
                "pid": pid,
                "jobs": len(recs),
                "peak_rss_mb": round(max(r.get("vmhwm_kb", 0) for r in recs) / 1024, 1),
                "blackbox_loads": last["blackbox_loads"],
                "benchmarks_run": len(benchmarks),
                "mapped_tables_rss_kb": last.get("mapped_tables_rss_kb"),
                "mapped_tables_pss_kb": last.get("mapped_tables_pss_kb"),
            }
        )
    return {
        "jobs": len(records),
        "job_seconds_total": round(sum(r["seconds"] for r in records), 2),
        "workers": workers,
    }


def identical_results(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.parquet") if p.name != "real_times.parquet")
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.parquet") if p.name != "real_times.parquet")
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="RS,ASHA,BO")
    parser.add_argument("--benchmarks", default=DEFAULT_BENCHMARKS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib processes")
    parser.add_argument("--launchers", default="basic,joblib")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the results here (default: a temp dir)"
    )
    args = parser.parse_args()

    n_experiments = len(args.methods.split(",")) * len(args.benchmarks.split(",")) * args.seeds
    study = [
        f"method={args.methods}",
        f"benchmark={args.benchmarks}",
        f"seed=range(0,{args.seeds})",
        f"master_seed={MASTER_SEED}",
    ]
    launcher_overrides = {
        "basic": [],
        "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"],
    }
    base = args.workdir or Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    rows = []
    for launcher in args.launchers.split(","):
        workdir = base / launcher
        workdir.mkdir(parents=True, exist_ok=False)
        wall, main_rss_kb = run_sweep(workdir, [*study, "tag=bench", *launcher_overrides[launcher]])
        jobs = summarise_jobs(workdir / "job_stats.jsonl")
        row = {
            "launcher": launcher,
            "n_jobs": args.n_jobs if launcher == "joblib" else 1,
            "experiments": n_experiments,
            "wall_seconds": round(wall, 2),
            "main_process_peak_rss_mb": round(main_rss_kb / 1024, 1),
            **jobs,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    print()
    print(f"{n_experiments} experiments ({args.methods} x {args.benchmarks} x {args.seeds} seeds)")
    print(
        f"{'launcher':<8} {'wall s':>7} {'sum job s':>9} {'main RSS MB':>11} {'workers':>7} "
        f"{'worker peak RSS MB':>18} {'loads/worker':>12} {'tables RSS/PSS kB':>18}"
    )
    for row in rows:
        workers = row["workers"]
        peaks = "/".join(f"{w['peak_rss_mb']:.0f}" for w in workers)
        loads = "/".join(f"{w['blackbox_loads']}" for w in workers)
        mapped = "/".join(f"{w['mapped_tables_rss_kb']}:{w['mapped_tables_pss_kb']}" for w in workers)
        print(
            f"{row['launcher']:<8} {row['wall_seconds']:>7.1f} {row['job_seconds_total']:>9.1f} "
            f"{row['main_process_peak_rss_mb']:>11.0f} {len(workers):>7} {peaks:>18} {loads:>12} {mapped:>18}"
        )
    for row in rows:
        for w in row["workers"]:
            if w["blackbox_loads"] != w["benchmarks_run"]:
                print(
                    f"WARNING: {row['launcher']} worker {w['pid']} loaded {w['blackbox_loads']} tables for "
                    f"{w['benchmarks_run']} benchmarks"
                )
    joblib = next((r for r in rows if r["launcher"] == "joblib"), None)
    if joblib is not None:
        shared = all(
            w["mapped_tables_pss_kb"] < w["mapped_tables_rss_kb"]
            for w in joblib["workers"]
            if w["mapped_tables_rss_kb"]
        )
        print(f"joblib workers share the memory-mapped tables (PSS < RSS in every worker): {shared}")
    if len(rows) > 1:
        same = all(
            identical_results(base / rows[0]["launcher"] / "results", base / r["launcher"] / "results")
            for r in rows[1:]
        )
        print(f"results.parquet / trials.parquet byte-identical across launchers: {same}")
    print(f"outputs in {base}")


if __name__ == "__main__":
    main()
