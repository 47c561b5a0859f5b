"""A paper-sized study through ``arena sweep``: methods x the 35 LCBench tasks x seeds, with joblib or Ray.

    python benchmarks/bench_study_scale.py [--scale 1.0] [--seeds 10] [--launcher joblib|ray] [--n-jobs 2]
                                           [--methods RS,BO,...] [--workdir DIR] [--data DIR]
                                           [--project 100 --target-hours 24]

The study: the methods of ``DEFAULT_METHODS`` (11, BO included) on the ``lcbench-ce-*`` benchmarks (LCBench
validation cross-entropy curves, converted once from ``../shared/data/lcbench_curves`` with the ``lcbench-npz``
converter into ``<workdir>/repository``), seeds ``0..seeds-1``, the benchmarks' default budgets (1000 simulated
s, 4 workers). ``--scale F`` keeps the first ``ceil(35 F)`` tasks in alphabetical order, so a larger scale is a
superset of a smaller one and reruns with one ``--workdir`` reuse every complete experiment (the sweep skips
them; only the new ones are timed as run).

It runs ``python -m launchers.cli sweep -m ...`` as a user would (``hydra/launcher=joblib`` with ``--n-jobs``
processes, or ``hydra/launcher=ray_local``: a private Ray instance on this machine with ``--n-jobs`` CPUs), and
prints one JSON line per measurement, then a summary:

* ``sweep``: wall seconds of the whole ``arena sweep`` process, experiments it ran (complete after minus
  complete before), experiments per second, the sum of in-experiment seconds, and seconds per experiment by
  method (from each experiment's ``metadata.json``: ``finished_at - started_at``, the time inside
  ``run_experiment`` on one core; the sweep's fixed cost per job is the rest of the wall time).
  CPU seconds per experiment by method come from the workers' CPU clocks (``/proc/<pid>/stat``, sampled
  every 0.25 s) over each job's span, so waiting for a core on a shared machine is not counted.
* ``memory``: peak resident memory per worker. Two independent readings: (1) each job appends its process's
  ``VmHWM`` from ``/proc/self/status`` (the kernel's resident high-water mark of that process image) to
  ``HPO_ARENA_JOB_STATS``; the peak of a worker is the largest value its jobs reported; (2) a sampler thread of
  this script reads ``/proc/<pid>/status`` of every descendant of the sweep process every 0.25 s and keeps each
  process's last ``VmHWM`` (a high-water mark, so sampling misses nothing of a process alive at one sample) and
  the largest sum of ``VmRSS`` over the whole tree (launcher, workers and, with Ray, its daemons: the machine
  footprint). ``ru_maxrss`` is not used: it survives ``execve``, so a worker spawned from a large parent would
  report at least the parent's size.
* ``disk``: bytes of the study's folder in the results root (every file; ``du`` apparent size), per
  experiment.
* ``aggregate``: seconds of ``results.ComparativeResults`` over the tag (indexing every run) plus the aggregated
  IQM-bootstrap curves (1000 samples, 200 grid points) of every benchmark.
* ``plot``: wall seconds of ``arena plot <root> --tag <tag>`` (every figure, PDF + PNG) in a fresh process.

With ``--project K`` it also prints the arithmetic for K times the full study on a cluster
(``benchmarks/scale_arithmetic.py``), from the seconds per experiment by method, memory per worker and bytes per
experiment measured here (pass ``--from-json FILE`` to reuse a previous run's summary instead of running).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from benchmark_definitions.registry import LCBENCH_TASKS

DEFAULT_METHODS = ("RS", "BO", "TPE", "KDE", "ASHA", "HB", "BOHB", "MOBSTER", "DEHB", "HYPERTUNE", "ASHA-BORE")
DEFAULT_DATA = REPO.parent / "shared" / "data"
TAG = "scale"
MASTER_SEED = 20261207
SAMPLE_PERIOD_S = 0.25


def study_tasks(scale: float) -> list[str]:
    if not 0 < scale <= 1:
        raise SystemExit(f"--scale must be in (0, 1], got {scale}")
    tasks = sorted(LCBENCH_TASKS)
    return tasks[: max(1, math.ceil(len(tasks) * scale - 1e-9))]


def prepare_repository(data: Path, root: Path) -> float:
    """Convert every LCBench task once into ``root`` (reused while its metadata is there); returns seconds."""
    if (root / "lcbench-val-ce" / "metadata.json").exists():
        return 0.0
    from blackbox_repo.conversion import convert

    curves = data / "lcbench_curves"
    if not curves.is_dir():
        raise SystemExit(f"LCBench curves not found in {curves}; pass --data DIR (the folder holding lcbench_curves)")
    start = time.perf_counter()
    convert("lcbench-npz", str(curves), str(root), progress=False, overwrite=True)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------
# Memory of the process tree, sampled from /proc
# ---------------------------------------------------------------------------------------------------------

def _status_fields(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS"):
                    out[name] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                text = stat.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: the ppid follows the last ')'
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children[ppid].append(int(entry))
    return children


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as comm:
            return comm.read().strip()
    except OSError:
        return "?"


class TreeMemorySampler(threading.Thread):
    """Polls the descendants of ``root_pid``: last VmHWM per process and the peak of the tree's summed VmRSS."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.hwm_kb: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.peak_tree_rss_kb = 0
        self.cpu_s: dict[int, float] = {}
        self.cpu_series: dict[int, list[tuple[float, float]]] = defaultdict(list)  # pid -> (epoch s, CPU s)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_PERIOD_S)

    def sample(self) -> None:
        children = _children_map()
        stack, tree_rss = [self.root_pid], 0
        while stack:
            pid = stack.pop()
            stack.extend(children.get(pid, ()))
            fields = _status_fields(pid)
            if "VmHWM" in fields:
                self.hwm_kb[pid] = fields["VmHWM"]
                cpu = _cpu_seconds(pid)
                if cpu is not None:
                    self.cpu_s[pid] = cpu
                    self.cpu_series[pid].append((time.time(), cpu))
                self.names.setdefault(pid, _comm(pid))
                tree_rss += fields.get("VmRSS", 0)
        self.peak_tree_rss_kb = max(self.peak_tree_rss_kb, tree_rss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# ---------------------------------------------------------------------------------------------------------
# The sweep and what it left
# ---------------------------------------------------------------------------------------------------------

def complete_experiments(study: Path) -> dict[tuple[str, str, str], dict]:
    """(benchmark, method, seed) -> metadata of every complete experiment under the study folder."""
    out = {}
    for meta_path in study.glob("*/*/*/metadata.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("status") == "complete":
            out[(meta_path.parts[-4], meta_path.parts[-3], meta_path.parts[-2])] = meta
    return out


def experiment_seconds(meta: dict) -> float:
    return (datetime.fromisoformat(meta["finished_at"]) - datetime.fromisoformat(meta["started_at"])).total_seconds()


def folder_bytes(folder: Path) -> tuple[int, int]:
    total = files = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            total += os.path.getsize(os.path.join(dirpath, name))
            files += 1
    return total, files


def launcher_overrides(launcher: str, n_jobs: int, ray_tmp: Path) -> list[str]:
    if launcher == "joblib":
        return ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"]
    if launcher == "ray":
        return ["hydra/launcher=ray_local", f"hydra.launcher.ray.init.num_cpus={n_jobs}",
                f"+hydra.launcher.ray.init._temp_dir={ray_tmp}"]
    raise SystemExit(f"--launcher must be joblib or ray, got {launcher!r}")


def run_sweep(workdir: Path, overrides: list[str], stats_file: Path) -> tuple[float, TreeMemorySampler]:
    env = dict(os.environ)
    env.update(
        HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
        HPO_ARENA_JOB_STATS=str(stats_file),
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
    )
    env.pop("RAY_ADDRESS", None)
    log = workdir / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}.log"
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides],
                                cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeMemorySampler(proc.pid)
        sampler.start()
        code = proc.wait()
    wall = time.perf_counter() - start
    sampler.stop()
    if code != 0:
        raise SystemExit(f"sweep failed ({code}); last lines of {log}:\n{log.read_text()[-4000:]}")
    return wall, sampler


def experiment_cpu_seconds(stats_file: Path, since_line: int, sampler: TreeMemorySampler,
                           new: dict[tuple[str, str, str], dict]) -> dict[tuple[str, str, str], float]:
    """CPU seconds of each new experiment: its worker's CPU clock (sampled every 0.25 s, interpolated) between
    the experiment's ``started_at`` and ``finished_at``. On a shared machine the wall seconds include waiting
    for a core; these do not."""
    job_of = {}
    if stats_file.exists():
        for line in stats_file.read_text().splitlines()[since_line:]:
            if line.strip():
                record = json.loads(line)
                benchmark, method, seed = record["experiment"].split(" / ")
                job_of[(benchmark, method, seed.removeprefix("seed ").strip())] = record
    out = {}
    for key, meta in new.items():
        record = job_of.get(key)
        series = sampler.cpu_series.get(record["pid"]) if record else None
        if not series or len(series) < 2:
            continue
        times, cpus = np.array(series).T
        # the whole job (building the method, loading the table, writing): the job's wall seconds up to the
        # moment its results were finished (metadata's started_at only covers the tuner loop)
        end = datetime.fromisoformat(meta["finished_at"]).timestamp()
        start = end - record["seconds"]
        out[key] = float(np.interp(end, times, cpus) - np.interp(start, times, cpus))
    return out


def _job_pids(stats_file: Path, since_line: int) -> set[int]:
    if not stats_file.exists():
        return set()
    return {json.loads(line)["pid"] for line in stats_file.read_text().splitlines()[since_line:] if line.strip()}


def identical_to_other_studies(root: Path, tag: str) -> dict[str, str]:
    """For every other study in the root, whether the experiments both hold have byte-identical results.parquet
    and trials.parquet (real_times.parquet holds wall-clock times and differs by design)."""
    out = {}
    mine = root / tag
    for other in sorted(p for p in root.iterdir() if p.is_dir() and p.name != tag):
        common = same = 0
        for path in mine.glob("*/*/*/results.parquet"):
            twin = other / path.relative_to(mine)
            if not twin.exists():
                continue
            common += 1
            same += all((path.parent / name).read_bytes() == (twin.parent / name).read_bytes()
                        for name in ("results.parquet", "trials.parquet"))
        if common:
            out[other.name] = f"{same}/{common} experiments byte-identical"
    return out


def worker_memory(stats_file: Path, sampler: TreeMemorySampler, since_line: int, sweep_pid_hwm: int) -> dict:
    records = []
    if stats_file.exists():
        records = [json.loads(line) for line in stats_file.read_text().splitlines()[since_line:] if line.strip()]
    by_pid: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_pid[record["pid"]].append(record)
    job_workers = {pid: max(r.get("vmhwm_kb", 0) for r in recs) for pid, recs in by_pid.items()}
    sampled = {pid: sampler.hwm_kb.get(pid) for pid in job_workers}
    others = {f"{sampler.names[pid]}:{pid}": kb for pid, kb in sampler.hwm_kb.items()
              if pid not in job_workers and pid != sampler.root_pid}
    peaks = list(job_workers.values())
    return {
        "workers": len(job_workers),
        "jobs_per_worker": sorted(len(r) for r in by_pid.values()),
        "worker_peak_rss_mb_max": round(max(peaks) / 1024, 1) if peaks else None,
        "worker_peak_rss_mb_median": round(sorted(peaks)[len(peaks) // 2] / 1024, 1) if peaks else None,
        "worker_peak_rss_mb_sampled_max": round(max((v for v in sampled.values() if v), default=0) / 1024, 1),
        "launcher_process_peak_rss_mb": round(sweep_pid_hwm / 1024, 1),
        "other_processes": len(others),
        "other_processes_peak_rss_mb_sum": round(sum(others.values()) / 1024, 1),
        "tree_peak_rss_mb": round(sampler.peak_tree_rss_kb / 1024, 1),
    }


def aggregate_seconds(root: Path, tag: str) -> dict:
    from results.comparative import ComparativeResults

    start = time.perf_counter()
    comparative = ComparativeResults(str(root), tags=tag, n_threads=4)
    indexed = time.perf_counter() - start
    rows = 0
    for benchmark in comparative.benchmarks:
        rows += len(comparative.aggregate(benchmark, n_boot=1000, n_grid=200))
    total = time.perf_counter() - start
    return {"aggregate": tag, "benchmarks": len(comparative.benchmarks), "setups": len(comparative.setups),
            "index_s": round(indexed, 2), "aggregate_s": round(total, 2), "aggregated_rows": rows}


def plot_seconds(workdir: Path, root: Path, tag: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    out = workdir / "figures"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "launchers.cli", "plot", str(root), "--tag", tag, "--out", str(out)],
                          cwd=workdir, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"arena plot failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return {"plot": tag, "plot_s": round(wall, 2), "files": len(list(out.glob("*")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 35 LCBench tasks (first in "
                        "alphabetical order)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--launcher", choices=["joblib", "ray"], default="joblib")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="joblib processes / Ray CPUs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-study-scale"),
                        help="repository, results root and logs; reused by reruns")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding lcbench_curves/")
    parser.add_argument("--tag", default=None, help=f"study tag (default {TAG}-<launcher>)")
    parser.add_argument("--no-aggregate", action="store_true", help="skip the aggregation and plotting timings")
    parser.add_argument("--project", type=float, default=0.0, help="also print the arithmetic for this many "
                        "times the full study on a cluster (e.g. 100)")
    parser.add_argument("--target-hours", type=float, default=24.0, help="wall time of the projected study")
    parser.add_argument("--from-json", type=Path, default=None, help="skip running: project from this summary")
    args = parser.parse_args()

    if args.from_json is not None:
        summary = json.loads(args.from_json.read_text())
    else:
        summary = run_study(args)
    if args.project:
        from scale_arithmetic import print_projection

        print_projection(summary, factor=args.project, target_hours=args.target_hours)


def run_study(args: argparse.Namespace) -> dict:
    methods = [m for m in args.methods.split(",") if m]
    tasks = study_tasks(args.scale)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repository, root = workdir / "repository", workdir / "results"
    tag = args.tag or f"{TAG}-{args.launcher}"
    convert_s = prepare_repository(args.data, repository)
    planned = len(methods) * len(tasks) * args.seeds
    study = root / tag
    before = complete_experiments(study)
    stats_file = workdir / f"job_stats-{tag}.jsonl"
    since_line = len(stats_file.read_text().splitlines()) if stats_file.exists() else 0
    ray_tmp = Path(f"/tmp/ray-scale-{os.getpid()}")
    overrides = [f"method={','.join(methods)}", f"benchmark={','.join(f'lcbench-ce-{t}' for t in tasks)}",
                 f"seed=range(0,{args.seeds})", f"tag={tag}", f"master_seed={MASTER_SEED}",
                 f"blackbox_root={repository}", f"results_root={root}",
                 *launcher_overrides(args.launcher, args.n_jobs, ray_tmp)]
    print(json.dumps({"study": tag, "methods": methods, "tasks": len(tasks), "seeds": args.seeds,
                      "experiments": planned, "already_complete": len(before), "launcher": args.launcher,
                      "n_jobs": args.n_jobs, "convert_s": round(convert_s, 2), "cores": os.cpu_count(),
                      "load_average": os.getloadavg()}), flush=True)
    try:
        wall, sampler = run_sweep(workdir, overrides, stats_file)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)  # the Ray session's files (logs, sockets) of this run
    after = complete_experiments(study)
    new = {key: meta for key, meta in after.items() if key not in before}
    # seconds by method from this invocation's experiments (all complete ones when it ran none)
    by_method: dict[str, list[float]] = defaultdict(list)
    for (_, method, _), meta in (new or after).items():
        if method in methods:
            by_method[method].append(experiment_seconds(meta))
    new_seconds = sum(experiment_seconds(meta) for meta in new.values())
    job_pids = _job_pids(stats_file, since_line)
    worker_cpu = sum(sampler.cpu_s.get(pid, 0.0) for pid in job_pids)
    cpu_by_experiment = experiment_cpu_seconds(stats_file, since_line, sampler, new)
    cpu_by_method: dict[str, list[float]] = defaultdict(list)
    for (_, method, _), seconds in cpu_by_experiment.items():
        cpu_by_method[method].append(seconds)
    sweep = {
        "sweep": tag, "wall_s": round(wall, 2), "experiments_run": len(new), "complete": len(after),
        "planned": planned, "experiments_per_s": round(len(new) / wall, 3) if new else None,
        "in_experiment_wall_s": round(new_seconds, 1),
        "worker_cpu_s": round(worker_cpu, 1),
        "cpu_share": round(worker_cpu / new_seconds, 3) if new_seconds > 0 else None,
        "launcher_cpu_s": round(sampler.cpu_s.get(sampler.root_pid, 0.0), 1),
        "launcher_cpu_s_per_job": round(sampler.cpu_s.get(sampler.root_pid, 0.0) / planned, 4),
        "fixed_wall_s_per_experiment": round((wall * args.n_jobs - new_seconds) / len(new), 3) if new else None,
        "load_average_after": os.getloadavg(),
        "seconds_per_experiment_by_method": {m: round(sum(v) / len(v), 3) for m, v in sorted(by_method.items())},
        "cpu_seconds_per_experiment_by_method": {m: round(sum(v) / len(v), 3) for m, v in sorted(cpu_by_method.items())},
        "cpu_seconds_in_experiments": round(sum(cpu_by_experiment.values()), 1),
        "experiments_by_method": {m: len(v) for m, v in sorted(by_method.items())},
    }
    print(json.dumps(sweep), flush=True)
    memory = {"memory": tag, **worker_memory(stats_file, sampler, since_line,
                                             sampler.hwm_kb.get(sampler.root_pid, 0))}
    print(json.dumps(memory), flush=True)
    size, files = folder_bytes(study)
    disk = {"disk": tag, "bytes": size, "files": files, "experiments": len(after),
            "bytes_per_experiment": round(size / max(1, len(after))), "files_per_experiment":
            round(files / max(1, len(after)), 2)}
    print(json.dumps(disk), flush=True)
    identical = identical_to_other_studies(root, tag)
    if identical:
        print(json.dumps({"identical": tag, **identical}), flush=True)
    summary = {"study": tag, "launcher": args.launcher, "n_jobs": args.n_jobs, "methods": methods,
               "tasks": len(tasks), "seeds": args.seeds, "sweep": sweep, "identical": identical, "memory": memory, "disk": disk}
    if not args.no_aggregate:
        summary["aggregate"] = aggregate_seconds(root, tag)
        print(json.dumps(summary["aggregate"]), flush=True)
        summary["plot"] = plot_seconds(workdir, root, tag)
        print(json.dumps(summary["plot"]), flush=True)
    out = workdir / f"summary-{tag}.json"
    out.write_text(json.dumps(summary, indent=1))
    print_summary(summary)
    print(f"summary in {out}")
    return summary


def print_summary(summary: dict) -> None:
    sweep, memory, disk = summary["sweep"], summary["memory"], summary["disk"]
    print()
    print(f"{summary['study']}: {len(summary['methods'])} methods x {summary['tasks']} LCBench tasks x "
          f"{summary['seeds']} seeds = {sweep['planned']} experiments, {summary['launcher']} with "
          f"{summary['n_jobs']} workers")
    print(f"  ran {sweep['experiments_run']} in {sweep['wall_s']} s: {sweep['experiments_per_s']} experiments/s; "
          f"workers' CPU {sweep['worker_cpu_s']} s for {sweep['in_experiment_wall_s']} s inside experiments "
          f"(CPU share {sweep['cpu_share']}); launcher process CPU {sweep['launcher_cpu_s']} s")
    print(f"  peak RSS per worker: max {memory['worker_peak_rss_mb_max']} MB, median "
          f"{memory['worker_peak_rss_mb_median']} MB; launcher process {memory['launcher_process_peak_rss_mb']} "
          f"MB; whole tree {memory['tree_peak_rss_mb']} MB")
    print(f"  results: {disk['bytes'] / 1e6:.1f} MB, {disk['bytes_per_experiment'] / 1e3:.1f} kB per experiment")
    if "aggregate" in summary:
        print(f"  aggregation {summary['aggregate']['aggregate_s']} s, arena plot {summary['plot']['plot_s']} s")
    cpu = sweep["cpu_seconds_per_experiment_by_method"] or {}
    if cpu and set(cpu) == set(summary["methods"]):
        # extrapolation to the whole study from the CPU seconds by method measured here
        full = len(LCBENCH_TASKS) * 10
        core_h = sum(cpu.values()) * full / 3600
        workers = summary["n_jobs"]
        share = sweep["cpu_share"] or 1.0
        print(f"  full study ({len(cpu) * full} experiments): {core_h:.2f} core-hours of experiments; on "
              f"{workers} idle cores about {core_h / workers:.1f} h (plus the launching process's "
              f"{sweep['launcher_cpu_s_per_job']} s per job); at this run's CPU share ({share}) about "
              f"{core_h / workers / min(1.0, share):.0f} h")
    print(f"  {'method':<10} {'wall s/exp':>10} {'CPU s/exp':>10}")
    for method, seconds in sweep["seconds_per_experiment_by_method"].items():
        print(f"  {method:<10} {seconds:>10.3f} {cpu.get(method, float('nan')):>10.3f}")


if __name__ == "__main__":
    main()
