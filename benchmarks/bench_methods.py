"""Every registered method on real benchmarks: normalised regret at fixed fractions of the budget, the
fraction of the budget each method needs to reach random search's final quality, and time per decision.

    python benchmarks/bench_methods.py [--quick] [--seeds N] [--n-jobs 2] [--methods RS BO ...]
        [--families xgboost-sklearn lcbench-ce yahpo-lcbench] [--tasks adult ...] [--out FILE.md]
        [--work-dir DIR [--reuse [--rerun METHOD ...]]]

Benchmark families (real data only; ``../shared/data`` relative to the project root, or ``--data``):

* ``xgboost-sklearn``: the embedded benchmark (digits, breast_cancer), methods restricted to its 256
  tabulated configurations;
* ``lcbench-ce``: LCBench validation cross-entropy curves (converted from ``lcbench_curves/*.npz`` with the
  ``lcbench-npz`` converter), methods restricted to the 2000 tabulated configurations;
* ``yahpo-lcbench``: the YAHPO Gym lcbench ONNX surrogate (converted with the yahpo converter).

The needed blackboxes are converted into a temporary repository root, every (benchmark, method, seed) runs
through ``launchers.experiment.run_experiment`` into a temporary results root (``--n-jobs`` joblib processes),
and the results are read back with ``results.ComparativeResults``. Budgets are the benchmark definitions' own
(``max_wallclock_time``, simulated seconds) unless ``--budget-scale`` scales them; the Markdown states the
budgets used.

Normalised regret of a run at time t is ``(best so far - best) / (worst - best)`` on the minimised scale
(a maximised metric is negated). As in Syne Tune, every reported result counts for the best so far, also those
at low fidelity; so for a table, ``best`` is the best value anywhere in the table (any configuration, replicate
seed and fidelity: regret is never negative) and ``worst`` is the worst seed-averaged final value (the
``metric_worst_possible`` that ``run_experiment`` records). A surrogate holds no table: there best and worst
are the best and worst values seen over all runs of the benchmark. Aggregation: IQM over (seed, task) pairs.

Methods that cannot run on a benchmark are left out of it and listed: GRID on a tabulated benchmark whose
configurations are random draws (no table row is a grid point, so ``GridSearcher`` refuses the restriction).
On the surrogate, GRID uses 3 points per continuous hyperparameter; its integer hyperparameters contribute
every value (batch size 16..512, units 64..1024), so the grid has about 1.9e8 points. It runs with the
method's defaults otherwise, i.e. in product order (last hyperparameter fastest) as HyperDrive's grid
sampling does: within any budget here it explores one corner of the space (batch size 16, learning rate 1e-4,
no dropout, ...), which is what a user of grid search on such a space gets; ``shuffle=True`` would make it a
random search over the grid.

Time per decision: every scheduler call (``suggest``, ``on_result``, ``on_trial_complete``) of every run is
timed by wrapping the scheduler that ``run_experiment`` builds. A separate probe runs BO on an LCBench table
long enough to have more than 200 completed trials and reports its ``suggest`` times from 200 observations on.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from baselines.registry import list_methods, method_transfers_checkpoints
from benchmark_definitions.definitions import SimulatedBenchmark
from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec
from results.statistics import iqm

DEFAULT_DATA = REPO.parent / "shared" / "data"
TAG = "bench-methods"
MASTER_SEED = 20240601
N_GRID = 201  # grid points over the budget: fractions k/200, so 10%, 25%, 50% fall on grid points
FRACTIONS = (0.1, 0.25, 0.5, 1.0)

# family -> (tasks of the full run, tasks of --quick)
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "xgboost-sklearn": (("digits", "breast_cancer"), ("digits",)),
    "lcbench-ce": (("Fashion-MNIST", "adult", "higgs", "jasmine"), ("adult",)),
    "yahpo-lcbench": (("3945", "7593", "34539"), ("3945",)),
}
SINGLE_FIDELITY = ("RS", "GRID", "BO", "TPE", "BORE", "REA", "KDE", "OPTUNA-TPE", "OPTUNA-CMAES", "OPTUNA-GP",
                   "OPTUNA-NSGA2")
MODEL_BASED = ("BO", "TPE", "BORE", "ASHA-BO", "ASHA-TPE", "HB-TPE", "KDE", "BOHB", "SYNC-BOHB", "ASHA-BORE",
               "MOBSTER", "MOBSTER-PROMOTION", "MOBSTER-JOINT", "SYNC-MOBSTER", "HYPERTUNE", "DYHPO",
               "OPTUNA-TPE", "OPTUNA-CMAES", "OPTUNA-GP", "OPTUNA-MEDIAN", "OPTUNA-SH", "DEHB-REF")
# The papers' expectations on the time to reach RS's final quality: (method, reference, relation).
EXPECTED_SOONER = (("BOHB", "ASHA", "sooner than"), ("MOBSTER", "ASHA", "sooner than"),
                   ("DYHPO", "ASHA", "sooner than"), ("HYPERTUNE", "ASHA", "sooner than"),
                   ("DEHB", "HB", "at least as soon as"))
DECISION_CALLS = ("suggest", "on_result", "on_trial_complete")
BO_PROBE_OBSERVATIONS = 200
PROBE_BENCHMARK = "lcbench-ce-adult"


def benchmark_name(family: str, task: str) -> str:
    return f"{family}-{task}"


# ---------------------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    benchmarks: list[SimulatedBenchmark]
    methods: list[str]
    seeds: list[int]
    excluded: dict[tuple[str, str], str] = field(default_factory=dict)  # (benchmark, method) -> why

    def method_kwargs(self, bench: SimulatedBenchmark, method: str) -> dict[str, Any]:
        if method == "GRID":
            return {"num_points": 3}
        return {}

    def runs(self) -> list[tuple[SimulatedBenchmark, str, int]]:
        out = []
        for bench in self.benchmarks:
            for method in self.methods:
                if (bench.name, method) in self.excluded:
                    continue
                out.extend((bench, method, seed) for seed in self.seeds)
        return out


def make_plan(families: Sequence[str], methods: Sequence[str], seeds: int, quick: bool,
              budget_scale: float) -> Plan:
    benchmarks = []
    for family in families:
        full, short = FAMILIES[family]
        for task in short if quick else full:
            bench = get_benchmark(benchmark_name(family, task))
            if budget_scale != 1.0:
                bench = dataclasses.replace(bench, max_wallclock_time=bench.max_wallclock_time * budget_scale)
            benchmarks.append(bench)
    return Plan(benchmarks, list(methods), list(range(seeds)))


def exclude_impossible_grids(plan: Plan, repository: Path) -> None:
    """Leave GRID out of the restricted benchmarks whose table it refuses (no table row is a grid point)."""
    from baselines.grid_search import GridSearcher
    from launchers.experiment import benchmark_blackbox, table_configurations

    if "GRID" not in plan.methods:
        return
    for bench in plan.benchmarks:
        if not bench.restrict_to_table:
            continue
        root = blackbox_root(bench, repository)
        space = benchmark_blackbox(bench, root).configuration_space
        try:
            GridSearcher(space, bench.metric, mode=bench.mode, restrict_to=table_configurations(bench, root),
                         **plan.method_kwargs(bench, "GRID"))
        except ValueError as err:
            plan.excluded[(bench.name, "GRID")] = str(err).split(";")[0]


# ---------------------------------------------------------------------------------------------------------
# Data: convert what the plan needs into a temporary repository root
# ---------------------------------------------------------------------------------------------------------

def prepare_repository(plan: Plan, data: Path, root: Path, probe: bool) -> dict[str, float]:
    """Convert the LCBench curves and YAHPO lcbench tasks the plan (and the BO probe) use; returns seconds per
    conversion."""
    from blackbox_repo.conversion import convert

    seconds = {}
    lcbench = {b.task for b in plan.benchmarks if b.blackbox == "lcbench-val-ce"}
    lcbench = sorted(lcbench | ({PROBE_BENCHMARK.removeprefix("lcbench-ce-")} if probe else set()))
    yahpo = sorted({b.task for b in plan.benchmarks if b.blackbox == "yahpo-lcbench"})
    if lcbench:
        t0 = time.perf_counter()
        convert("lcbench-npz", str(data / "lcbench_curves"), str(root), tasks=lcbench, progress=False,
                overwrite=True)
        seconds["lcbench-val-ce"] = time.perf_counter() - t0
    if yahpo:
        from blackbox_repo.yahpo.convert import convert_yahpo

        t0 = time.perf_counter()
        convert_yahpo(data / "yahpo" / "lcbench", root, tasks=yahpo, overwrite=True)
        seconds["yahpo-lcbench"] = time.perf_counter() - t0
    return seconds


def blackbox_root(bench: SimulatedBenchmark, repository: Path) -> str | None:
    # The embedded benchmark ships with the package and is found by name with the default root only.
    return None if bench.blackbox == "xgboost-sklearn" else str(repository)


# ---------------------------------------------------------------------------------------------------------
# One run, with every scheduler call timed
# ---------------------------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    benchmark: str
    method: str
    seed: int
    seconds: float
    calls: dict[str, np.ndarray]  # call name -> durations (s)
    suggest_completed: np.ndarray  # completed trials when each suggest was called
    error: str = ""


def _instrument(scheduler, calls: dict[str, list[float]], suggest_completed: list[int]) -> None:
    """Time the scheduler's decision calls by shadowing its bound methods with timed ones."""
    completed = [0]
    for name in DECISION_CALLS:
        original = getattr(scheduler, name)

        def timed(*args, _original=original, _name=name):
            if _name == "suggest":
                suggest_completed.append(completed[0])
            t0 = time.perf_counter()
            out = _original(*args)
            calls[_name].append(time.perf_counter() - t0)
            if _name == "on_trial_complete":
                completed[0] += 1
            return out

        setattr(scheduler, name, timed)


CALLS_FILE = "decision_calls.npz"  # a run's timed scheduler calls, next to its results (for --reuse)


def _run_folder(spec: ExperimentSpec) -> Path:
    from launchers.results_writer import experiment_path

    return Path(experiment_path(spec.results_root, spec.tag, spec.benchmark.name, spec.method, spec.seed))


def save_calls(spec: ExperimentSpec, record: RunRecord) -> None:
    folder = _run_folder(spec)
    if folder.is_dir():
        np.savez(folder / CALLS_FILE, suggest_completed=record.suggest_completed, seconds=record.seconds,
                 **{f"call_{k}": v for k, v in record.calls.items()})


def stored_record(spec: ExperimentSpec) -> RunRecord | None:
    """The record of a finished run of exactly this (benchmark, method, seed, budget) in the results root, or
    None (not run, failed, another budget or master seed). A run stored without its decision times (copied from
    another results folder) is reused with none: it counts for regret and trials, not for the time table."""
    import json

    folder = _run_folder(spec)
    try:
        meta = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        stored = dict(np.load(folder / CALLS_FILE))
    except (OSError, ValueError):
        stored = {"seconds": np.float64(meta.get("runtime_seconds", math.nan)),
                  "suggest_completed": np.empty(0, dtype=np.int64)}
    same = (meta.get("status") == "complete" and meta.get("master_seed") == spec.master_seed
            and math.isclose(float(meta.get("budget", {}).get("max_wallclock_time", -1.0)),
                             float(spec.benchmark.max_wallclock_time))
            and meta.get("n_workers") == spec.benchmark.n_workers)
    if not same:
        return None
    calls = {k[len("call_"):]: np.asarray(v) for k, v in stored.items() if k.startswith("call_")}
    return RunRecord(spec.benchmark.name, spec.method, spec.seed, float(stored["seconds"]), calls,
                     np.asarray(stored["suggest_completed"]))


def run_one(spec: ExperimentSpec) -> RunRecord:
    """``run_experiment(spec)`` with the scheduler's calls timed; errors are returned, not raised."""
    from baselines import registry
    from launchers.experiment import run_experiment

    calls: dict[str, list[float]] = defaultdict(list)
    suggest_completed: list[int] = []
    build = registry.make_method

    def make_instrumented(*args, **kwargs):
        scheduler = build(*args, **kwargs)
        _instrument(scheduler, calls, suggest_completed)
        return scheduler

    t0 = time.perf_counter()
    error = ""
    registry.make_method = make_instrumented  # run_experiment imports it from the module at call time
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_experiment(spec, skip_complete=False)
    except Exception:  # noqa: BLE001 - a crashing method is reported in the table, not fatal to the others
        error = traceback.format_exc(limit=6)
    finally:
        registry.make_method = build
    record = RunRecord(spec.benchmark.name, spec.method, spec.seed, time.perf_counter() - t0,
                       {k: np.asarray(v, dtype=np.float64) for k, v in calls.items()},
                       np.asarray(suggest_completed, dtype=np.int64), error)
    if not error:
        save_calls(spec, record)
    return record


def bo_probe_spec(repository: Path, results_root: Path, observations: int) -> ExperimentSpec:
    """BO on an LCBench table with a budget for ~observations + 20 completed trials (4 workers, 50 epochs)."""
    bench = get_benchmark(PROBE_BENCHMARK)
    budget = (observations + 20) * 50 / bench.n_workers
    bench = dataclasses.replace(bench, name=f"bo-probe-{PROBE_BENCHMARK}", max_wallclock_time=float(budget))
    return ExperimentSpec(bench, "BO", 0, MASTER_SEED, "bo-probe", str(results_root),
                          blackbox_root=str(repository))


def run_all(plan: Plan, repository: Path, results_root: Path, n_jobs: int, probe: bool,
            reuse: bool = False) -> list[RunRecord]:
    """Every run of the plan (and the BO probe); with ``reuse``, finished runs found in ``results_root`` (with
    their stored decision times) are taken as they are instead of being run again."""
    from joblib import Parallel, delayed

    specs = [ExperimentSpec(bench, method, seed, MASTER_SEED, TAG, str(results_root),
                            method_kwargs=plan.method_kwargs(bench, method),
                            blackbox_root=blackbox_root(bench, repository))
             for bench, method, seed in plan.runs()]
    records = []
    if reuse:
        stored = [stored_record(s) for s in specs]
        records = [r for r in stored if r is not None]
        specs = [s for s, r in zip(specs, stored) if r is None]
        print(f"reusing {len(records)} finished runs from {results_root}; {len(specs)} to run", file=sys.stderr,
              flush=True)
    if probe:
        specs.append(bo_probe_spec(repository, results_root, BO_PROBE_OBSERVATIONS))
    # Longest first (surrogate, model-based), so the two processes finish together.
    def cost(spec: ExperimentSpec) -> float:
        surrogate = 10.0 if spec.benchmark.blackbox.startswith("yahpo") else 1.0
        model = 5.0 if spec.method in MODEL_BASED or spec.benchmark.name.startswith("bo-probe") else 1.0
        return surrogate * model
    specs.sort(key=cost, reverse=True)
    t0 = time.perf_counter()
    parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    for i, record in enumerate(parallel(delayed(run_one)(s) for s in specs), start=1):
        records.append(record)
        if i % 20 == 0 or i == len(specs) or record.error:
            status = "FAILED" if record.error else "ok"
            print(f"[{time.perf_counter() - t0:7.1f} s] {i}/{len(specs)} runs done (last: {record.benchmark} "
                  f"{record.method} seed {record.seed}: {status}, {record.seconds:.1f} s)", file=sys.stderr,
                  flush=True)
    return records


# ---------------------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------------------

@dataclass
class RegretTable:
    fraction: np.ndarray  # (N_GRID,)
    values: dict[tuple[str, str], np.ndarray]  # (benchmark, method) -> (seeds, N_GRID) normalised regret
    bounds: dict[str, tuple[float, float]]  # benchmark -> (best, worst) in the metric's own units
    bound_source: dict[str, str]


def table_bounds(bench: SimulatedBenchmark, root: str | None) -> tuple[float, float] | None:
    """(best, worst) in the metric's units for a tabulated blackbox, None for a surrogate.

    best: the best value anywhere in the table (any configuration, replicate seed and fidelity), since every
    reported result counts for the best so far; worst: the worst seed-averaged final value (the
    ``metric_worst_possible`` that ``run_experiment`` records), the scale of a bad final model.
    """
    from blackbox_repo.blackbox import TabularBlackbox
    from blackbox_repo.repository import load_blackbox

    table = load_blackbox(bench.blackbox, root=root, task=bench.task)
    if not isinstance(table, TabularBlackbox):
        return None
    values = np.asarray(table.objectives[..., table.objective_index(bench.metric)], dtype=np.float64)
    best = float(np.nanmin(values) if bench.mode == "min" else np.nanmax(values))
    flip = "max" if bench.mode == "min" else "min"
    return best, table.best_value(bench.metric, flip)


def regret_curves(results_root: Path, repository: Path, plan: Plan, ok: set[tuple[str, str, int]]) -> RegretTable:
    from results.comparative import ComparativeResults, CurveSpec
    from results.statistics import normalised_regret

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparative = ComparativeResults(str(results_root), tags=TAG, n_threads=2)
    values, bounds, source = {}, {}, {}
    for bench in plan.benchmarks:
        methods = [m for m in plan.methods if all((bench.name, m, s) in ok for s in plan.seeds)]
        if not methods:
            continue
        # Minimised scale: a maximised metric is negated (so the bounds map back by a sign).
        sign = 1.0 if bench.mode == "min" else -1.0
        spec = CurveSpec(n_grid=N_GRID, x_max=bench.max_wallclock_time, convert_to_min="negate")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curves = comparative.curves(bench.name, spec)
        runs = {setup: group for (_, setup), group in curves.groups.items() if setup in methods}
        known = table_bounds(bench, blackbox_root(bench, repository))
        if known is not None:
            best, worst = sign * known[0], sign * known[1]
            source[bench.name] = "table"
        else:
            observed = np.concatenate([np.concatenate([g.values.ravel(), g.final]) for g in runs.values()])
            best, worst = float(np.nanmin(observed)), float(np.nanmax(observed))
            source[bench.name] = "runs"
        bounds[bench.name] = (sign * best, sign * worst)
        for method in methods:
            group = runs[method]
            order = [group.seeds.index(seed) for seed in plan.seeds]
            values[(bench.name, method)] = normalised_regret(group.values[order], best, worst)
    return RegretTable(np.linspace(0.0, 1.0, N_GRID), values, bounds, source)


def stacked(table: RegretTable, benchmarks: Sequence[str], method: str) -> np.ndarray | None:
    """(seeds x tasks, N_GRID) regret of ``method`` over ``benchmarks``; None if a benchmark lacks it."""
    parts = [table.values.get((b, method)) for b in benchmarks]
    if not parts or any(p is None for p in parts):
        return None
    return np.concatenate(parts, axis=0)


def iqm_curve(values: np.ndarray) -> np.ndarray:
    return np.asarray(iqm(values, axis=0), dtype=float)


def grid_index(fraction: float) -> int:
    return round(fraction * (N_GRID - 1))


def first_reach(curve: np.ndarray, target: float) -> float | None:
    """Smallest budget fraction at which the IQM curve is at or below ``target`` (None: never)."""
    hit = np.flatnonzero(curve <= target + 1e-12)
    return None if len(hit) == 0 else float(hit[0] / (N_GRID - 1))


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _groups(plan: Plan, table: RegretTable) -> list[tuple[str, list[str]]]:
    groups = []
    for family in FAMILIES:
        members = [b.name for b in plan.benchmarks if b.family == family and b.name in table.bounds]
        if members:
            groups.append((family, members))
    everything = [name for _, members in groups for name in members]
    if len(groups) > 1:
        groups.append(("all", everything))
    return groups


def regret_markdown(plan: Plan, table: RegretTable) -> list[str]:
    lines = []
    groups = _groups(plan, table)
    lines.append("Normalised regret, IQM over seeds x tasks, at 10% / 25% / 50% / 100% of the budget "
                 "(lower is better; RS row first for reference):")
    lines.append("")
    lines.append("| method | " + " | ".join(f"{g} ({len(m)} task{'s' if len(m) > 1 else ''})"
                                          for g, m in groups) + " |")
    lines.append("|---|" + "---|" * len(groups))
    for method in plan.methods:
        cells = []
        for _, members in groups:
            values = stacked(table, members, method)
            if values is None:
                cells.append("n/a")
                continue
            curve = iqm_curve(values)
            cells.append(" / ".join(fmt(curve[grid_index(f)]) for f in FRACTIONS))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def per_benchmark_markdown(plan: Plan, table: RegretTable) -> list[str]:
    names = [b.name for b in plan.benchmarks if b.name in table.bounds]
    lines = ["Final normalised regret per benchmark (IQM over seeds):", "",
             "| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for method in plan.methods:
        cells = []
        for name in names:
            values = table.values.get((name, method))
            cells.append("n/a" if values is None else fmt(float(iqm(values[:, -1]))))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def time_to_random_search(plan: Plan, table: RegretTable) -> list[str]:
    groups = _groups(plan, table)
    lines = [("Fraction of the budget at which the method's IQM regret curve first reaches random search's final "
             "IQM regret (RS final value in the header; '>1' = never within the budget):"), ""]
    rs_final = {}
    for group, members in groups:
        rs = stacked(table, members, "RS")
        rs_final[group] = None if rs is None else float(iqm_curve(rs)[-1])
    lines.append("| method | kind | " + " | ".join(f"{g} (RS {fmt(rs_final[g])})" for g, _ in groups) + " |")
    lines.append("|---|---|" + "---|" * len(groups))
    for method in plan.methods:
        if method == "RS":
            continue
        kind = "single-fidelity" if method in SINGLE_FIDELITY else "multi-fidelity"
        cells = []
        for group, members in groups:
            values = stacked(table, members, method)
            if values is None or rs_final[group] is None:
                cells.append("n/a")
                continue
            reached = first_reach(iqm_curve(values), rs_final[group])
            cells.append(">1" if reached is None else f"{reached:.2f}")
        lines.append(f"| {method} | {kind} | " + " | ".join(cells) + " |")
    return lines


def decision_time_markdown(plan: Plan, records: list[RunRecord]) -> list[str]:
    by_method: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    run_seconds: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.benchmark.startswith("bo-probe"):
            continue
        for name, durations in r.calls.items():
            by_method[r.method][name].append(durations)
        run_seconds[r.method].append(r.seconds)
    lines = [("Real seconds per scheduler call over all runs (median / max; milliseconds), and real seconds per "
             "run (median / max):"), "",
             "| method | suggest (ms) | on_result (ms) | on_trial_complete (ms) | calls | run (s) |",
             "|---|---|---|---|---|---|"]
    for method in plan.methods:
        if method not in by_method:
            continue
        cells, n_calls = [], 0
        for name in DECISION_CALLS:
            parts = by_method[method].get(name, [])
            durations = np.concatenate(parts) if parts else np.empty(0)
            n_calls += len(durations)
            cells.append("-" if len(durations) == 0 else
                         f"{1e3 * np.median(durations):.2f} / {1e3 * durations.max():.1f}")
        seconds = np.asarray(run_seconds[method])
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {n_calls} | {np.median(seconds):.2f} / "
                     f"{seconds.max():.2f} |")
    probe = [r for r in records if r.benchmark.startswith("bo-probe")]
    if probe:
        r = probe[0]
        lines.append("")
        if r.error:
            lines.append(f"BO probe failed: {r.error.strip().splitlines()[-1]}")
        else:
            suggest = r.calls.get("suggest", np.empty(0))
            mask = r.suggest_completed >= BO_PROBE_OBSERVATIONS
            at = suggest[mask[: len(suggest)]]
            if len(at):
                lines.append(f"BO probe ({PROBE_BENCHMARK} table, 4 workers): {len(at)} suggest calls with "
                             f">= {BO_PROBE_OBSERVATIONS} completed trials observed (up to "
                             f"{int(r.suggest_completed.max())}): median {1e3 * np.median(at):.1f} ms, max "
                             f"{1e3 * at.max():.1f} ms per decision.")
            else:
                lines.append(f"BO probe: only {int(r.suggest_completed.max(initial=0))} trials completed, fewer "
                             f"than {BO_PROBE_OBSERVATIONS}.")
    return lines


def checks_markdown(plan: Plan, table: RegretTable) -> list[str]:
    """The expected outcomes of issue 5, checked per family and over all families."""
    lines = [("Expected outcomes (final IQM regret vs RS; multi-fidelity: reaches RS's final IQM within the "
             "budget):"), ""]
    for group, members in _groups(plan, table):
        rs = stacked(table, members, "RS")
        if rs is None:
            continue
        rs_final = float(iqm_curve(rs)[-1])
        beat, lost = [], []
        for method in MODEL_BASED:
            values = stacked(table, members, method) if method in plan.methods else None
            if values is None:
                continue
            final = float(iqm_curve(values)[-1])
            (beat if final <= rs_final else lost).append(f"{method} {fmt(final)}")
        fast, slow = [], []
        for method in plan.methods:
            if method in SINGLE_FIDELITY:
                continue
            values = stacked(table, members, method)
            if values is None:
                continue
            reached = first_reach(iqm_curve(values), rs_final)
            (fast if reached is not None and reached < 1.0 else slow).append(
                f"{method} {'>1' if reached is None else f'{reached:.2f}'}")
        lines.append(f"- **{group}** (RS final {fmt(rs_final)}): model-based at or below RS: "
                     f"{', '.join(beat) or 'none'}; above RS: {', '.join(lost) or 'none'}. Multi-fidelity reaching "
                     f"RS's final quality before the end: {', '.join(fast) or 'none'}; not: "
                     f"{', '.join(slow) or 'none'}.")
        for method, reference, relation in EXPECTED_SOONER:
            pair = [stacked(table, members, m) if m in plan.methods else None for m in (method, reference)]
            if pair[0] is None or pair[1] is None:
                continue
            t_method, t_reference = (first_reach(iqm_curve(v), rs_final) for v in pair)
            a = math.inf if t_method is None else t_method
            b = math.inf if t_reference is None else t_reference
            holds = a < b if relation == "sooner than" else a <= b
            lines.append(f"  - {method} reaches RS's final quality {relation} {reference}: "
                         f"{'yes' if holds else 'NO'} ({method} {'>1' if t_method is None else f'{a:.3f}'}, "
                         f"{reference} {'>1' if t_reference is None else f'{b:.3f}'})")
    return lines


def run_health(results_root: Path, plan: Plan, records: list[RunRecord]) -> tuple[list[str], set]:
    """Crashes, runs without results, budget violations; returns Markdown lines and the healthy runs."""
    import json

    import pandas as pd

    problems, ok = [], set()
    budgets = {b.name: b.max_wallclock_time for b in plan.benchmarks}
    trials: dict[tuple[str, str], list[int]] = defaultdict(list)
    ended_early: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if r.benchmark.startswith("bo-probe"):
            continue
        if r.error:
            problems.append(f"- {r.benchmark} {r.method} seed {r.seed}: crashed: "
                            f"{r.error.strip().splitlines()[-1]}")
            continue
        path = results_root / TAG / r.benchmark / r.method / str(r.seed)
        results = pd.read_parquet(path / "results.parquet", columns=["trial_id", "sim_time"])
        metadata = json.loads((path / "metadata.json").read_text())
        if len(results) == 0:
            problems.append(f"- {r.benchmark} {r.method} seed {r.seed}: no results "
                            f"(end reason: {metadata.get('end_reason')})")
            continue
        if results["sim_time"].max() > budgets[r.benchmark] * (1 + 1e-9):
            problems.append(f"- {r.benchmark} {r.method} seed {r.seed}: result at {results['sim_time'].max():.1f} "
                            f"s exceeds the budget {budgets[r.benchmark]:.1f} s")
        trials[(r.benchmark, r.method)].append(int(results["trial_id"].nunique()))
        if metadata.get("end_reason") != "max_wallclock_time":
            ended_early[(r.benchmark, r.method)].append(float(results["sim_time"].max()) / budgets[r.benchmark])
        ok.add((r.benchmark, r.method, r.seed))
    lines = [("Trials per run (median over seeds) per benchmark; '(ends at x)': the runs ran out of configurations "
             "(a restricted table exhausted) before the budget, the last result at fraction x of it (median):"), "",
             "| method | " + " | ".join(b.name for b in plan.benchmarks) + " |",
             "|---|" + "---|" * len(plan.benchmarks)]
    for method in plan.methods:
        cells = []
        for b in plan.benchmarks:
            counts = trials.get((b.name, method))
            early = ended_early.get((b.name, method))
            cell = "n/a" if not counts else str(int(np.median(counts)))
            if counts and early and len(early) * 2 > len(counts):
                cell += f" (ends at {np.median(early):.2f})"
            cells.append(cell)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Run problems: " + ("none (no crash, every run has results, none exceeds its budget)."
                                     if not problems else ""))
    lines.extend(problems)
    return lines, ok


def report(plan: Plan, records: list[RunRecord], results_root: Path, repository: Path, conversions: dict[str, float],
           wall_seconds: float, args: argparse.Namespace) -> str:
    health, ok = run_health(results_root, plan, records)
    table = regret_curves(results_root, repository, plan, ok)
    lines = [f"## Methods benchmark ({'quick' if args.quick else 'full'} mode)", ""]
    lines.append(f"Seeds {plan.seeds[0]}..{plan.seeds[-1]} ({len(plan.seeds)} per benchmark), master seed "
                 f"{MASTER_SEED}, {args.n_jobs} processes; {len(records)} runs "
                 f"({'with' if any(r.benchmark.startswith('bo-probe') for r in records) else 'without'} the BO "
                 "probe).")
    lines.append("")
    lines.append("| benchmark | blackbox | metric (mode) | budget (simulated s) | workers | regret bounds (best, "
                 "worst; source) |")
    lines.append("|---|---|---|---|---|---|")
    for b in plan.benchmarks:
        best, worst = table.bounds.get(b.name, (float("nan"), float("nan")))
        lines.append(f"| {b.name} | {b.blackbox} | {b.metric} ({b.mode}) | {b.max_wallclock_time:g} | "
                     f"{b.n_workers} | {fmt(best, 4)}, {fmt(worst, 4)}; {table.bound_source.get(b.name, '-')} |")
    if plan.excluded:
        lines.append("")
        for (bench, method), why in sorted(plan.excluded.items()):
            lines.append(f"- {method} not run on {bench}: {why}.")
    lines += [""] + regret_markdown(plan, table)
    lines += [""] + per_benchmark_markdown(plan, table)
    lines += [""] + time_to_random_search(plan, table)
    lines += [""] + checks_markdown(plan, table)
    lines += [""] + decision_time_markdown(plan, records)
    lines += [""] + health
    lines += ["", (f"Conversion: {', '.join(f'{k} {v:.1f} s' for k, v in conversions.items()) or 'none'}. "
                  f"Total wall time: {wall_seconds:.0f} s.")]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one task per family, 2 seeds (default seeds), under 5 minutes on 2 cores")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per benchmark (default: 5; quick: 2)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="only these tasks of the chosen families (default: the families' full-run tasks)")
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="multiply every benchmark's max_wallclock_time (default 1: the definitions' budgets)")
    parser.add_argument("--no-probe", action="store_true", help="skip the BO decision-time probe")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"real data folder (default {DEFAULT_DATA})")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the converted repository and the results here (default: a temporary folder, "
                             "deleted at the end)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work-dir: keep the finished runs stored there (same benchmark, method, seed, "
                             "budget) and run only the missing ones, e.g. to add methods or families to a report")
    parser.add_argument("--rerun", nargs="+", default=[], metavar="METHOD",
                        help="with --reuse: run these methods again (e.g. after changing them)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    if args.reuse and args.work_dir is None:
        parser.error("--reuse needs --work-dir (the folder holding the runs to reuse)")
    if args.rerun and not args.reuse:
        parser.error("--rerun only makes sense with --reuse")
    args.rerun = [m.upper() for m in args.rerun]
    # Methods that start trials from other trials' checkpoints (PBT) cannot run on tables (bench_pbt.py runs PBT).
    valid = [m for m in list_methods() if not method_transfers_checkpoints(m)]
    methods = args.methods or valid
    unknown = [m for m in methods if m.upper() not in valid]
    if unknown:
        parser.error(f"unknown methods {unknown}, or methods that cannot run on simulated tables; valid: {valid}")
    args.methods = [m.upper() for m in methods]
    if "RS" not in args.methods:
        args.methods.insert(0, "RS")  # the reference of every comparison
    if args.seeds is None:
        args.seeds = 2 if args.quick else 5
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from comparison_helpers import print_report  # a sibling script: benchmarks/ is on sys.path when run

    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"error: real data folder {args.data} not found; pass --data", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    plan = make_plan(args.families, args.methods, args.seeds, args.quick and args.tasks is None, args.budget_scale)
    if args.tasks is not None:
        known = {b.task for b in plan.benchmarks}
        unknown = [t for t in args.tasks if t not in known]
        if unknown:
            print(f"error: tasks {unknown} are not in the chosen families; available: {sorted(known)}",
                  file=sys.stderr)
            return 2
        plan.benchmarks = [b for b in plan.benchmarks if b.task in args.tasks]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-methods-"))
    repository, results_root = work / "repository", work / "results"
    if results_root.exists():
        if args.reuse:
            from launchers.results_writer import experiment_path

            for bench in plan.benchmarks:  # stale runs of the methods to run again
                for method in args.rerun:
                    for seed in plan.seeds:
                        shutil.rmtree(experiment_path(str(results_root), TAG, bench.name, method, seed),
                                      ignore_errors=True)
        else:
            shutil.rmtree(results_root / TAG, ignore_errors=True)
        shutil.rmtree(results_root / "bo-probe", ignore_errors=True)
    repository.mkdir(parents=True, exist_ok=True)
    try:
        probe = not args.no_probe
        conversions = prepare_repository(plan, args.data, repository, probe)
        exclude_impossible_grids(plan, repository)
        records = run_all(plan, repository, results_root, args.n_jobs, probe, reuse=args.reuse)
        text = report(plan, records, results_root, repository, conversions, time.perf_counter() - t0, args)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
