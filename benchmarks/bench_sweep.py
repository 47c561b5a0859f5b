"""Whole sweeps and a whole small study through the ``arena`` CLI, in fresh processes.

    python benchmarks/bench_sweep.py [--methods RS,ASHA] [--seeds 10,20] [--n-jobs 2] [--launchers basic,joblib]
                                     [--hydra-path] [--workdir DIR]
    python benchmarks/bench_sweep.py --study [--pairs 5] [--peer-python PATH] [--study-launcher basic]
                                     [--study-all-figures]
    python benchmarks/bench_sweep.py --study-only ...
    python benchmarks/bench_sweep.py --study-only --pairs 0 --floor   # only the floor (needs --peer-total-cpu)

**Per-experiment fixed cost** (default part). The sweep (``--methods`` x the embedded benchmarks
xgboost-sklearn-{digits,breast_cancer,wine} x seeds, default budgets) runs through the CLI in a subprocess
(``python -m launchers.cli sweep -m ...``) per launcher and per number of seeds in ``--seeds`` (fresh results
folder, same master seed). Every job records the wall time of its ``Tuner.run`` (the simulation) in
``HPO_ARENA_JOB_STATS``. Printed per launcher:

* ``(wall - sum of simulation) / experiments`` at each size: the literal figure, which also charges the
  sweep's own start-up (interpreter, imports, validation) to the experiments;
* the marginal fixed cost: the same difference between the two sizes divided by the experiments added, i.e.
  what one more experiment costs besides its simulation (start-up cancels out). For joblib the wall time is
  multiplied by the number of workers first (core-seconds per experiment);
* inside the jobs alone: mean of (job seconds - simulation seconds) over the jobs.

Collecting the job records (reading ``/proc/self/smaps`` for the memory figures below costs a few milliseconds
per job) is measured by each record (``stats_cpu_seconds``, ``stats_seconds``) and subtracted like the
simulation: a sweep without ``HPO_ARENA_JOB_STATS`` does not pay it.

``--hydra-path`` adds the same sweeps run by Hydra's own launchers (``HPO_ARENA_HYDRA_JOBS=1``), the
per-job composition and job wrapper the fast path replaces.

Memory (as before): every job appends its process id and, from ``/proc/self/status`` and
``/proc/self/smaps``, ``vmhwm_kb`` (peak RSS of the process), ``blackbox_loads`` (tables loaded so far in the
process: equal to the benchmarks it ran means once per process) and ``mapped_tables_rss_kb`` /
``mapped_tables_pss_kb`` (PSS < RSS: the memory-mapped pages are shared, not copied). The CLI process is
measured with ``os.wait4``. Also checks that every launcher wrote byte-identical ``results.parquet`` /
``trials.parquet`` files.

**The small study against Syne Tune 0.16** (``--study``): convert the LCBench curves of 3 tasks, sweep random
search and ASHA on ``lcbench-ce-<task>`` x 5 seeds (4 workers, 1000 simulated seconds each), plot. Ours: three
fresh processes, ``arena convert lcbench-npz``, ``arena sweep``, ``arena plot --figure benchmark_grid --dpi 140``
(``--study-all-figures``: every figure of ``arena plot``). The plot steps draw the same thing, ours never less:
the peer one figure of 3 panels (a panel per task), in each the mean over the 5 seeds of each method's
best-so-far validation cross-entropy against simulated time on 200 grid points, linear axes, no band,
``figure.pdf`` (Type 3 fonts) and ``figure.png`` (100 dpi, 960 x 260 pixels); ours one figure of 3 panels, in
each the IQM over the 5 seeds of each method's normalised regret on 200 grid points of the budget with a 95 %
bootstrap band (1000 resamples), log axes where the curves span decades, ``benchmark_grid.pdf`` (TrueType fonts
embedded) and ``benchmark_grid.png`` at 140 dpi, the lowest resolution at which our smaller figure (6.9 x 2.8 in)
has at least the peer's pixels in both directions (961 x 394). The summary prints, per side, what the figure
holds and what the files are (pixels, page size, fonts; read from the files). The peer: the same three steps as
three fresh processes of ``benchmarks/peer_study.py`` in the peer's interpreter (``--peer-python`` or
``HPO_ARENA_PEER16_PYTHON``). Ours and the peer's alternate (A B A B ...), ``--pairs`` pairs; printed: each
step's wall and CPU time per side (medians), per-pair ratios of the totals and their median, and trials and
results on both sides (so a ratio never rewards doing less work). Also ``python -X importtime`` of
``import launchers.cli`` and the start-up of an empty interpreter, to show what start-up costs.

**What 30x would take** (``--floor``, printed after the study): the target is the peer's median total CPU
divided by 30. Against it the script sets what no arrangement of our steps can avoid, measured here:

* the *stack floor*: CPU of fresh interpreters that only import the libraries each step needs (convert:
  numpy, pyarrow; sweep: numpy, pyarrow, Hydra; plot: numpy, pyarrow, matplotlib with its PNG and PDF
  backends), three processes as the study runs them and one process importing all of them. pandas is not in
  the floor (a step could in principle avoid it); its own import is printed beside it;
* *our work after imports*: one fresh process imports everything first (not counted), then runs the same three
  steps in-process through ``launchers.cli.main`` and times each with ``time.process_time``; the sweep's
  simulation (``Tuner.run``, from the jobs' records) and the plot's ``savefig`` calls are printed as parts.

The best case of our code is then one process: the one-process stack floor, pandas, our modules' imports and
that work; the script prints it and the ratio it would give.

Measurements on a machine busy with other work vary a lot; run under ``nice`` and compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARKS = "xgboost-sklearn-digits,xgboost-sklearn-breast_cancer,xgboost-sklearn-wine"
MASTER_SEED = 2024


def _env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HPO_ARENA_RESULTS=str(workdir / "results"),
        HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
        HPO_ARENA_JOB_STATS=str(workdir / "job_stats.jsonl"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
    )
    for key in ("HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HPO_ARENA_SWEEP_PID", "HPO_ARENA_HYDRA_JOBS"):
        env.pop(key, None)
    env.update(extra or {})
    return env


LAST_CPU_SECONDS = [0.0]  # CPU seconds (user + system) of the last command and the children it waited for


def run_command(command: list[str], workdir: Path, env: dict[str, str], name: str) -> tuple[float, int, str]:
    """Run ``command`` in ``workdir``; (wall seconds, peak RSS kB of the process, its stdout). Its CPU seconds
    (with its reaped children, e.g. joblib's workers) go to ``LAST_CPU_SECONDS[0]``."""
    stdout, stderr = workdir / f"{name}.stdout.txt", workdir / f"{name}.stderr.txt"
    start = time.perf_counter()
    with open(stdout, "w") as out, open(stderr, "w") as err:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    LAST_CPU_SECONDS[0] = usage.ru_utime + usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{name} failed ({code}): {' '.join(command)}\n{stdout.read_text()[-2000:]}\n"
                         f"{stderr.read_text()[-4000:]}")
    return wall, int(usage.ru_maxrss), stdout.read_text()


def run_sweep(workdir: Path, overrides: list[str], extra_env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``arena sweep -m <overrides>``; returns (wall seconds, peak RSS kB of the CLI process)."""
    wall, rss, _ = run_command([sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides], workdir,
                               _env(workdir, extra_env), "sweep")
    return wall, rss


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
    simulation = sum(r.get("tuner_seconds", 0.0) for r in records)
    simulation_cpu = sum(r.get("tuner_cpu_seconds", 0.0) for r in records)
    return {
        "jobs": len(records),
        "job_seconds_total": round(sum(r["seconds"] for r in records), 3),
        "simulation_seconds_total": round(simulation, 3),
        "simulation_cpu_seconds_total": round(simulation_cpu, 3),
        # collecting the job records themselves (/proc/self/smaps): instrumentation, not the sweep's cost
        "stats_seconds_total": round(sum(r.get("stats_seconds", 0.0) for r in records), 3),
        "stats_cpu_seconds_total": round(sum(r.get("stats_cpu_seconds", 0.0) for r in records), 3),
        "in_job_fixed_ms": round(1000 * (sum(r["seconds"] for r in records) - simulation) / max(1, len(records)), 2),
        "workers": workers,
    }


def identical_results(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.parquet") if p.name != "real_times.parquet")
    files_b = sorted(p.relative_to(b) for p in b.rglob("*.parquet") if p.name != "real_times.parquet")
    return files_a == files_b and all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)


# ---------------------------------------------------------------------------------------------------------
# per-experiment fixed cost
# ---------------------------------------------------------------------------------------------------------

def fixed_cost(args: argparse.Namespace, base: Path) -> None:
    sizes = [int(s) for s in str(args.seeds).split(",")]
    n_benchmarks, n_methods = len(args.benchmarks.split(",")), len(args.methods.split(","))
    launcher_overrides = {
        "basic": [],
        "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"],
    }
    variants = [(name, False) for name in args.launchers.split(",")]
    if args.hydra_path:
        variants += [(name, True) for name in args.launchers.split(",")]
    rows = []
    for launcher, hydra_path in variants:
        label = f"{launcher}{' (Hydra jobs)' if hydra_path else ''}"
        for seeds in sizes:
            workdir = base / f"{launcher}{'-hydra' if hydra_path else ''}-{seeds}"
            workdir.mkdir(parents=True, exist_ok=False)
            study = [f"method={args.methods}", f"benchmark={args.benchmarks}", f"seed=range(0,{seeds})",
                     f"master_seed={MASTER_SEED}", "tag=bench", *launcher_overrides[launcher]]
            wall, main_rss_kb = run_sweep(workdir, study, {"HPO_ARENA_HYDRA_JOBS": "1"} if hydra_path else None)
            cpu = LAST_CPU_SECONDS[0]
            jobs = summarise_jobs(workdir / "job_stats.jsonl")
            n = n_methods * n_benchmarks * seeds
            workers = args.n_jobs if launcher == "joblib" else 1
            row = {
                "launcher": label, "n_jobs": workers, "experiments": n, "wall_seconds": round(wall, 3),
                "literal_fixed_ms": round(
                    1000 * (wall - jobs["simulation_seconds_total"] - jobs["stats_seconds_total"] / workers) / n, 2),
                "cpu_seconds": round(cpu, 3),
                "literal_fixed_cpu_ms": round(
                    1000 * (cpu - jobs["simulation_cpu_seconds_total"] - jobs["stats_cpu_seconds_total"]) / n, 2),
                "main_process_peak_rss_mb": round(main_rss_kb / 1024, 1), "workdir": str(workdir), **jobs,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    print()
    print(f"{args.methods} x {args.benchmarks} x seeds {sizes} (machine load average "
          f"{os.getloadavg()[0]:.1f} at the end)")
    print(f"{'launcher':<20} {'exps':>5} {'wall s':>7} {'sim s':>6} {'(wall-sim)/n ms':>15} {'CPU s':>6} "
          f"{'(CPU-simCPU)/n ms':>17} "
          f"{'in-job ms':>9} {'workers':>7} {'worker peak RSS MB':>18} {'loads/worker':>12}")
    for row in rows:
        workers = row["workers"]
        peaks = "/".join(f"{w['peak_rss_mb']:.0f}" for w in workers)
        print(f"{row['launcher']:<20} {row['experiments']:>5} {row['wall_seconds']:>7.2f} "
              f"{row['simulation_seconds_total']:>6.2f} {row['literal_fixed_ms']:>15.1f} {row['cpu_seconds']:>6.2f} "
              f"{row['literal_fixed_cpu_ms']:>17.1f} {row['in_job_fixed_ms']:>9.1f} "
              f"{len(workers):>7} {peaks:>18} "
              f"{'/'.join(str(w['blackbox_loads']) for w in workers):>12}")
    if len(sizes) >= 2:
        print()
        print("per-experiment fixed cost, marginal (start-up cancels out): "
              "((wall x workers - simulation) at the larger size - the same at the smaller) / experiments added")
        for launcher, hydra_path in variants:
            label = f"{launcher}{' (Hydra jobs)' if hydra_path else ''}"
            mine = [r for r in rows if r["launcher"] == label]
            small, large = mine[0], mine[-1]
            cost = lambda r: r["wall_seconds"] * r["n_jobs"] - r["simulation_seconds_total"] - r["stats_seconds_total"]
            added = large["experiments"] - small["experiments"]
            unit = "core-ms" if launcher == "joblib" else "ms"
            cpu_cost = lambda r: r["cpu_seconds"] - r["simulation_cpu_seconds_total"] - r["stats_cpu_seconds_total"]
            print(f"  {label:<20} {1000 * (cost(large) - cost(small)) / added:8.1f} {unit} per experiment (wall); "
                  f"{1000 * (cpu_cost(large) - cpu_cost(small)) / added:6.1f} CPU-ms (CPU time of every process "
                  "minus the simulations' CPU time and the job records' own collection)")
    for row in rows:
        for w in row["workers"]:
            if w["blackbox_loads"] != w["benchmarks_run"]:
                print(f"WARNING: {row['launcher']} worker {w['pid']} loaded {w['blackbox_loads']} tables for "
                      f"{w['benchmarks_run']} benchmarks")
    for size in sizes:
        same_size = [r for r in rows if r["experiments"] == n_methods * n_benchmarks * size]
        if len(same_size) > 1:
            first = Path(same_size[0]["workdir"]) / "results"
            same = all(identical_results(first, Path(r["workdir"]) / "results") for r in same_size[1:])
            print(f"{size} seeds: results.parquet / trials.parquet byte-identical across "
                  f"{', '.join(r['launcher'] for r in same_size)}: {same}")
    print(f"outputs in {base}")


# ---------------------------------------------------------------------------------------------------------
# the small study, ours and the peer's in alternating fresh processes
# ---------------------------------------------------------------------------------------------------------

STUDY_TASKS = ("Fashion-MNIST", "adult", "higgs")
STUDY_SEEDS = 5
# Our PNG's resolution in the study: the peer writes 100 dpi on a 9.6 x 2.6 in figure (960 x 260 pixels); our
# grid is 6.9 x 2.8 in, so 140 dpi (961 x 394 pixels) is the lowest whole resolution at which our PNG has at
# least the peer's pixels in both directions (never less raster work than the peer's figure).
STUDY_PNG_DPI = 140
STUDY_N_BOOT = 1000  # `arena plot`'s default bootstrap resamples for the grid's 95 % bands
STUDY_N_GRID = 200  # `arena plot`'s default grid, the peer's 200 points too
LCBENCH_CURVES = REPO.parent / "shared" / "data" / "lcbench_curves"


def _study_steps(workdir: Path, all_figures: bool = False, launcher: list[str] | None = None) -> dict[str, list[str]]:
    """Our three steps of the small study, each a ``python -m launchers.cli ...`` command line."""
    python = [sys.executable, "-m", "launchers.cli"]
    repo = workdir / "repo"
    # Like the peer's one figure (a panel per task, PDF and PNG): the benchmark grid; or every figure.
    figures = [] if all_figures else ["--figure", "benchmark_grid"]
    return {
        "convert": [*python, "convert", "lcbench-npz", "--input", str(LCBENCH_CURVES), "--out", str(repo),
                    "--no-progress", *[a for t in STUDY_TASKS for a in ("--task", t)]],
        "sweep": [*python, "sweep", "-m", "method=RS,ASHA",
                  f"benchmark={','.join('lcbench-ce-' + t for t in STUDY_TASKS)}", f"seed=range(0,{STUDY_SEEDS})",
                  f"blackbox_root={repo}", "tag=study", f"master_seed={MASTER_SEED}", *(launcher or [])],
        "plot": [*python, "plot", str(workdir / "results"), "--tag", "study", "--out", str(workdir / "figures"),
                 *figures, "--dpi", str(STUDY_PNG_DPI), "--n-boot", str(STUDY_N_BOOT), "--n-grid", str(STUDY_N_GRID)],
    }


def our_study(workdir: Path, launcher: list[str], all_figures: bool = False) -> dict:
    workdir.mkdir(parents=True)
    env = _env(workdir)
    env.pop("HPO_ARENA_JOB_STATS")
    steps, cpu = {}, {}
    for name, command in _study_steps(workdir, all_figures, launcher).items():
        steps[name], _, _ = run_command(command, workdir, env, name)
        cpu[f"{name}_cpu"] = LAST_CPU_SECONDS[0]
    trials = results = runs = 0
    for meta in (workdir / "results" / "study").glob("*/*/*/metadata.json"):
        data = json.loads(meta.read_text())
        if data.get("status") == "complete":
            runs += 1
            trials += int(data["n_trials"])
            results += int(data["n_results"])
    figures = len(list((workdir / "figures").glob("*.*")))
    draws = figure_files(sorted((workdir / "figures").glob("*.*")))
    return {"side": "ours", "draws": draws, **{k: round(v, 3) for k, v in steps.items()}, "total": round(sum(steps.values()), 3),
            **{k: round(v, 3) for k, v in cpu.items()}, "total_cpu": round(sum(cpu.values()), 3),
            "runs": runs, "trials": trials, "results": results, "figure_files": figures}


def peer_study(workdir: Path, python: str) -> dict:
    workdir.mkdir(parents=True)
    script = [python, str(REPO / "benchmarks" / "peer_study.py")]
    env = dict(os.environ)
    steps, counts, cpu = {}, {}, {}
    for name, args in (
        ("convert", ["convert", str(LCBENCH_CURVES), str(workdir / "repo"), *STUDY_TASKS]),
        ("sweep", ["sweep", str(workdir / "repo"), str(workdir / "results"), str(STUDY_SEEDS), *STUDY_TASKS]),
        ("plot", ["plot", str(workdir / "results"), str(workdir / "figure")]),
    ):
        steps[name], _, out = run_command([*script, *args], workdir, env, f"peer-{name}")
        cpu[f"{name}_cpu"] = LAST_CPU_SECONDS[0]
        line = next(line for line in out.splitlines() if line.startswith("ARENA_PEER_STUDY "))
        counts[name] = json.loads(line.split(" ", 1)[1])
    plot = {k: v for k, v in counts["plot"].items() if k != "step"}
    content = (f"1 figure, {plot['panels']} panels, {plot['curves']} curves ({plot['aggregate']} of best-so-far "
               f"validation cross-entropy), {plot['bands']} bands, {plot['grid_points']} grid points, x simulated "
               "time, linear axes")
    draws = [content, *figure_files(sorted(workdir.glob("figure.*")))]
    return {"side": "peer", "draws": draws, **{k: round(v, 3) for k, v in steps.items()},
            "total": round(sum(steps.values()), 3),
            **{k: round(v, 3) for k, v in cpu.items()}, "total_cpu": round(sum(cpu.values()), 3),
            "runs": counts["sweep"]["runs"], "trials": counts["sweep"]["trials"],
            "results": counts["sweep"]["results"], "figure_files": len(list(workdir.glob("figure.*")))}


def figure_files(paths: list[Path]) -> list[str]:
    """What each figure file holds, read from the files: PNG pixel size, PDF page size and font embedding."""
    import re
    import struct

    out = []
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            out.append(f"{path.name}: {width} x {height} px, {len(data) // 1024} kB")
        elif path.suffix == ".pdf":
            box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", data)
            fonts = ("Type 3" if b"/Type3" in data else "") + (" TrueType (embedded)" if b"/FontFile2" in data else "")
            size = f"{float(box[3]) / 72:.2f} x {float(box[4]) / 72:.2f} in" if box else "?"
            out.append(f"{path.name}: {size}, fonts {fonts.strip() or 'none embedded'}, {len(data) // 1024} kB")
        else:
            out.append(f"{path.name}: {len(data) // 1024} kB")
    return out


def start_up_costs(workdir: Path) -> dict:
    """Seconds of an empty interpreter, of ``import launchers.cli``, and the heaviest imports of the CLI path
    of ``arena sweep`` (``python -X importtime``)."""
    env = _env(workdir)
    empty, _, _ = run_command([sys.executable, "-c", "pass"], workdir, env, "empty")
    cli, _, _ = run_command([sys.executable, "-c", "import launchers.cli"], workdir, env, "import-cli")
    code = "import launchers.cli, launchers.hydra_app, launchers.experiment, launchers.simulator, launchers.tuner"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=workdir, env=env,
                          capture_output=True, text=True, check=True)
    top = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            top.append((int(parts[1]), parts[2].strip()))
    top.sort(reverse=True)
    return {"empty_interpreter_s": round(empty, 3), "import_launchers_cli_s": round(cli, 3),
            "sweep_path_imports_top": [(name, round(us / 1e6, 3)) for us, name in top[:8]]}


# ---------------------------------------------------------------------------------------------------------
# what 30x would take: the stack's import floor and our work after imports
# ---------------------------------------------------------------------------------------------------------

# The libraries each step of the study needs (the project's stack: numpy/pyarrow for data, Hydra for
# configuration, matplotlib for figures). pandas is left out of the floor and measured on its own.
STACK_IMPORTS = {
    "convert": "import numpy, pyarrow.parquet",
    "sweep": "import numpy, pyarrow.parquet, hydra, hydra.compose, omegaconf",
    "plot": "import numpy, pyarrow.parquet, matplotlib.pyplot, matplotlib.backends.backend_agg, "
            "matplotlib.backends.backend_pdf",
}
ONE_PROCESS_IMPORTS = ("import numpy, pyarrow.parquet, hydra, hydra.compose, omegaconf, matplotlib.pyplot, "
                       "matplotlib.backends.backend_agg, matplotlib.backends.backend_pdf")
FLOOR_TARGET = 30.0


def _process_cpu(code: str, workdir: Path, env: dict[str, str], repeats: int) -> float:
    """Median CPU seconds of fresh ``python -c code`` processes."""
    times = []
    for i in range(repeats):
        run_command([sys.executable, "-c", code], workdir, env, f"floor-{i}")
        times.append(LAST_CPU_SECONDS[0])
    return statistics.median(times)


def stack_floor(workdir: Path, repeats: int = 5) -> dict:
    """CPU seconds of interpreters that only import what each step needs, and of one importing everything."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir)
    out = {f"{step}_s": _process_cpu(code, workdir, env, repeats) for step, code in STACK_IMPORTS.items()}
    out["three_processes_s"] = sum(out[f"{step}_s"] for step in STACK_IMPORTS)
    out["one_process_s"] = _process_cpu(ONE_PROCESS_IMPORTS, workdir, env, repeats)
    out["pandas_on_top_s"] = _process_cpu(ONE_PROCESS_IMPORTS + ", pandas", workdir, env, repeats) - \
        out["one_process_s"]
    out["empty_interpreter_s"] = _process_cpu("pass", workdir, env, repeats)
    return {k: round(v, 3) for k, v in out.items()}


def work_after_imports(workdir: Path) -> dict:
    """Run ``--floor-child`` once in a fresh process: our three steps in one process, imports not counted."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir)
    _, _, stdout = run_command([sys.executable, str(Path(__file__).resolve()), "--floor-child", str(workdir)],
                               workdir, env, "floor-child")
    line = next(line for line in stdout.splitlines() if line.startswith("ARENA_FLOOR "))
    return json.loads(line.split(" ", 1)[1])


def floor_child(workdir: Path) -> None:
    """Import everything the study's steps use (timed apart), then run convert, sweep and plot in-process."""
    t0 = time.process_time()
    exec(ONE_PROCESS_IMPORTS + ", pandas")  # noqa: S102 - a fixed import line
    stack = time.process_time() - t0
    import importlib

    for module in ("launchers.cli", "launchers.hydra_app", "launchers.simulator", "launchers.sweep_runner",
                   "launchers.tuner", "plotting.cli", "plotting.figures", "plotting.study_figures",
                   "results.comparative", "blackbox_repo.conversion.lcbench"):
        importlib.import_module(module)
    from matplotlib.figure import Figure

    from launchers import cli

    ours = time.process_time() - t0 - stack
    saving = [0.0]
    savefig = Figure.savefig

    def timed_savefig(self, *args, **kwargs):
        start = time.process_time()
        try:
            return savefig(self, *args, **kwargs)
        finally:
            saving[0] += time.process_time() - start

    Figure.savefig = timed_savefig
    steps = {}
    for name, argv in _study_steps(workdir).items():
        start = time.process_time()
        code = cli.main(argv[3:])  # without "python -m launchers.cli"
        steps[name] = time.process_time() - start
        if code:
            raise SystemExit(f"{name} failed ({code})")
    stats = summarise_jobs(Path(os.environ["HPO_ARENA_JOB_STATS"]))
    # The job records (read for the simulation's CPU time) cost a few ms per job to collect: not the sweep's work.
    steps["sweep"] -= stats["stats_cpu_seconds_total"]
    print("ARENA_FLOOR " + json.dumps({
        "stack_imports_s": round(stack, 3), "our_imports_s": round(ours, 3),
        **{f"{k}_s": round(v, 3) for k, v in steps.items()},
        "simulation_s": stats["simulation_cpu_seconds_total"], "savefig_s": round(saving[0], 3),
        "job_records_s": stats["stats_cpu_seconds_total"],
        "experiments": stats["jobs"]}), flush=True)


def floor_summary(peer_total_cpu: float, stack: dict, work: dict, ours_three_processes: float | None) -> None:
    budget = peer_total_cpu / FLOOR_TARGET
    work_total = work["convert_s"] + work["sweep_s"] + work["plot_s"]
    best = stack["one_process_s"] + stack["pandas_on_top_s"] + work["our_imports_s"] + work_total
    print()
    print(f"what {FLOOR_TARGET:.0f}x would take: the peer's median total {peer_total_cpu:.2f} CPU s / "
          f"{FLOOR_TARGET:.0f} = {budget:.2f} CPU s for our whole study")
    print(f"  stack floor, fresh interpreters importing only what each step needs (no pandas): convert "
          f"{stack['convert_s']:.2f} + sweep {stack['sweep_s']:.2f} + plot {stack['plot_s']:.2f} = "
          f"{stack['three_processes_s']:.2f} s in three processes; {stack['one_process_s']:.2f} s in one "
          f"(an empty interpreter: {stack['empty_interpreter_s']:.2f} s; pandas adds {stack['pandas_on_top_s']:.2f} s)")
    print(f"  our work after every import, one process: convert {work['convert_s']:.2f} + sweep "
          f"{work['sweep_s']:.2f} (simulating the {work['experiments']} runs: {work['simulation_s']:.2f}) + plot "
          f"{work['plot_s']:.2f} (writing the PNG and PDF: {work['savefig_s']:.2f}) = {work_total:.2f} s; our "
          f"modules' imports {work['our_imports_s']:.2f} s")
    print(f"  best case of our code, one process: {stack['one_process_s']:.2f} + {stack['pandas_on_top_s']:.2f} + "
          f"{work['our_imports_s']:.2f} + {work_total:.2f} = {best:.2f} s -> {peer_total_cpu / best:.1f}x"
          + (f" (three processes, as measured: {ours_three_processes:.2f} s -> "
             f"{peer_total_cpu / ours_three_processes:.1f}x)" if ours_three_processes else ""))
    print(f"  left for all our work at {FLOOR_TARGET:.0f}x after the one-process stack floor: "
          f"{budget - stack['one_process_s']:.2f} s; the simulation and the figure files alone take "
          f"{work['simulation_s'] + work['savefig_s']:.2f} s")


def study(args: argparse.Namespace, base: Path) -> None:
    python = args.peer_python or os.environ.get("HPO_ARENA_PEER16_PYTHON")
    if not python and args.pairs:
        raise SystemExit("--study needs the peer's interpreter: --peer-python PATH or HPO_ARENA_PEER16_PYTHON "
                         "(README: Comparing with the peer)")
    if not LCBENCH_CURVES.is_dir():
        raise SystemExit(f"--study needs the LCBench curves at {LCBENCH_CURVES}")
    if args.pairs == 0 and not args.floor:
        raise SystemExit("--pairs 0 runs no study; add --floor (with --peer-total-cpu) to measure only the floor")
    launcher = [] if args.study_launcher == "basic" else ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]
    print(json.dumps({"start_up": start_up_costs(base)}), flush=True)
    pairs = []
    for i in range(args.pairs):
        ours = our_study(base / f"ours-{i}", launcher, args.study_all_figures)
        print(json.dumps(ours), flush=True)
        peer = peer_study(base / f"peer-{i}", python)
        print(json.dumps(peer), flush=True)
        pairs.append((ours, peer))
        study_summary(args, base, pairs)
    if args.floor:
        peer_total = args.peer_total_cpu or (statistics.median(p[1]["total_cpu"] for p in pairs) if pairs else None)
        if peer_total is None:
            raise SystemExit("--floor with --pairs 0 needs --peer-total-cpu (the peer's median total CPU s)")
        stack = stack_floor(base / "floor")
        print(json.dumps({"stack_floor": stack}), flush=True)
        work = work_after_imports(base / "floor-work")
        print(json.dumps({"work_after_imports": work}), flush=True)
        ours_total = statistics.median(p[0]["total_cpu"] for p in pairs) if pairs else None
        floor_summary(peer_total, stack, work, ours_total)


def study_summary(args: argparse.Namespace, base: Path, pairs: list[tuple[dict, dict]]) -> None:

    print()
    print(f"small study: convert 3 LCBench tasks, RS and ASHA x {STUDY_SEEDS} seeds on lcbench-ce-"
          f"{{{','.join(STUDY_TASKS)}}}, plot ({'every figure' if args.study_all_figures else 'benchmark grid'}); "
          f"{len(pairs)} alternating pairs (ours, peer), launcher "
          f"{args.study_launcher}; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'wall s':<8} {'ours median':>13} {'peer median':>13} {'peer/ours':>9}")
    for step in ("convert", "sweep", "plot", "total"):
        a = statistics.median(p[0][step] for p in pairs)
        b = statistics.median(p[1][step] for p in pairs)
        print(f"{step:<8} {a:>13.2f} {b:>13.2f} {b / a:>9.1f}")
    print(f"{'CPU s':<8} {'ours median':>13} {'peer median':>13} {'peer/ours':>9}   (user + system, all processes)")
    for step in ("convert_cpu", "sweep_cpu", "plot_cpu", "total_cpu"):
        a = statistics.median(p[0][step] for p in pairs)
        b = statistics.median(p[1][step] for p in pairs)
        print(f"{step.removesuffix('_cpu'):<8} {a:>13.2f} {b:>13.2f} {b / a:>9.1f}")
    cpu_ratios = [p[1]["total_cpu"] / p[0]["total_cpu"] for p in pairs]
    print(f"per-pair CPU ratios: {', '.join(f'{r:.1f}' for r in cpu_ratios)}; median {statistics.median(cpu_ratios):.1f}x")
    ratios = [p[1]["total"] / p[0]["total"] for p in pairs]
    print(f"per-pair ratios (peer total / our total): {', '.join(f'{r:.1f}' for r in ratios)}; "
          f"median {statistics.median(ratios):.1f}x")
    for side, k in (("ours", 0), ("peer", 1)):
        last = pairs[-1][k]
        print(f"{side}: {last['runs']} runs, {last['trials']} trials, {last['results']} results, "
              f"{last['figure_files']} figure files (last pair)")
    print("what the plot steps draw (last pair):")
    if not args.study_all_figures:
        print(f"  ours: 1 figure (arena plot --figure benchmark_grid), {len(STUDY_TASKS)} panels, "
              f"{2 * len(STUDY_TASKS)} curves (IQM over seeds of normalised regret), {2 * len(STUDY_TASKS)} bands "
              f"(95 % bootstrap, {STUDY_N_BOOT} resamples), {STUDY_N_GRID} grid points, x fraction of the budget, "
              f"log y axes where the curves span decades; PNG at {STUDY_PNG_DPI} dpi")
    for line in pairs[-1][0]["draws"]:
        print(f"    {line}")
    print(f"  peer: {pairs[-1][1]['draws'][0]}")
    for line in pairs[-1][1]["draws"][1:]:
        print(f"    {line}")
    print(f"outputs in {base}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="RS,ASHA")
    parser.add_argument("--benchmarks", default=DEFAULT_BENCHMARKS)
    parser.add_argument("--seeds", default="10,20", help="seeds per sweep: one or two sizes, e.g. 10,20")
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib processes")
    parser.add_argument("--launchers", default="basic,joblib")
    parser.add_argument("--hydra-path", action="store_true",
                        help="also run every sweep through Hydra's own launchers (HPO_ARENA_HYDRA_JOBS=1)")
    parser.add_argument("--study", action="store_true", help="also run the small study against the peer")
    parser.add_argument("--study-only", action="store_true", help="only the small study")
    parser.add_argument("--pairs", type=int, default=5, help="alternating (ours, peer) pairs of the study")
    parser.add_argument("--study-launcher", choices=("basic", "joblib"), default="basic")
    parser.add_argument("--peer-python", default=None, help="Syne Tune 0.16's interpreter")
    parser.add_argument("--study-all-figures", action="store_true",
                        help="our plot step writes every figure of `arena plot` (default: the benchmark grid, one "
                        "figure with a panel per task like the peer's)")
    parser.add_argument("--floor", action="store_true",
                        help="after the study, print what 30x would take: the stack's import floor and our work "
                        "after imports")
    parser.add_argument("--peer-total-cpu", type=float, default=None,
                        help="the peer's total CPU s for --floor without pairs (--pairs 0)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the outputs here (default: a temp dir)"
    )
    parser.add_argument("--floor-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_child is not None:
        floor_child(args.floor_child)
        return
    base = args.workdir or Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    base.mkdir(parents=True, exist_ok=True)
    if not args.study_only:
        fixed_cost(args, base)
    if args.study or args.study_only:
        study(args, base)


if __name__ == "__main__":
    main()
