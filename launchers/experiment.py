"""One experiment: a method on a benchmark with one seed, from definition to a complete results folder.

Seeds: the study's master seed and the experiment's seed number derive every generator
(``blackbox_repo.seeding``). The backend's stream (which replicate seed of the table each trial sees) and the
method's stream depend on (master seed, seed number) only, never on the method, so every method meets the
same sequence of table seeds and the comparison is paired.
"""
from __future__ import annotations

import functools
import importlib.metadata
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from benchmark_definitions.definitions import Benchmark, FunctionBenchmark, RealBenchmark, SimulatedBenchmark
from blackbox_repo.blackbox import Blackbox, TabularBlackbox
from blackbox_repo.seeding import derive_seed
from launchers.study import experiment_path, is_complete

if TYPE_CHECKING:
    from launchers.tuner import Results


@dataclass(frozen=True)
class ExperimentSpec:
    benchmark: Benchmark
    method: str
    seed: int
    master_seed: int
    tag: str
    results_root: str
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    blackbox_root: str | None = None  # repository root; None: the configured one (plus embedded benchmarks)
    # The class behind ``method`` when it is not a registered name (``module:Class``; baselines.external):
    # ``method`` is then the folder-safe name results are stored under.
    method_target: str | None = None
    # TensorBoard event files in <experiment>/tensorboard/ (launchers/tensorboard_log.py): True, False, or None
    # (the sweep's tensorboard=auto): on for real training, off for simulated experiments.
    tensorboard: bool | None = None

    @property
    def path(self) -> str:
        from baselines.external import method_folder_name

        return experiment_path(self.results_root, self.tag, self.benchmark.name, method_folder_name(self.method),
                               self.seed)


@functools.lru_cache(maxsize=8)
def _load_task(blackbox: str, task: str, root: str | None) -> Blackbox:
    """Loaded once per process; tables are memory-mapped, so parallel processes share the pages."""
    from blackbox_repo.repository import load_blackbox

    return load_blackbox(blackbox, root=root, task=task)


@functools.lru_cache(maxsize=8)
def _with_surrogate(blackbox: str, task: str, root: str | None, surrogate: str, kwargs_key: tuple) -> Blackbox:
    from blackbox_repo.surrogate import SurrogateBlackbox

    table = _load_task(blackbox, task, root)
    return SurrogateBlackbox(table, model=surrogate, **dict(kwargs_key))


STEPS = "steps"
OBJECTIVE_WORST_QUANTILE = 0.9  # see objective_bounds


@functools.lru_cache(maxsize=8)
def _with_step_time(blackbox: str, task: str, root: str | None) -> TabularBlackbox:
    """The table plus a cumulative ``steps`` objective: each fidelity step takes one simulated second."""
    import numpy as np

    table = _load_task(blackbox, task, root)
    if not isinstance(table, TabularBlackbox):
        raise TypeError(f"time_objective='steps' needs a tabulated blackbox; {blackbox}/{task} is not one")
    n, s, f, _ = table.objectives.shape
    steps = np.broadcast_to(np.arange(1, f + 1, dtype=np.float32)[None, None, :, None], (n, s, f, 1))
    objectives = np.concatenate([np.asarray(table.objectives), steps], axis=3)
    from dataclasses import replace

    return TabularBlackbox(
        table.hyperparameters, objectives, table.configuration_space, [*table.objectives_names, STEPS],
        replace(table.metadata, time_objective=STEPS, time_is_cumulative=True), table.fidelity_name,
        table.fidelity_values, table.task,
    )


@functools.lru_cache(maxsize=8)
def _load_function(function: str, kwargs_json: str) -> Blackbox:
    """A function benchmark's blackbox, built once per process (a definition's kwargs as sorted JSON)."""
    import json

    from blackbox_repo.function import load_problem

    return load_problem(function, json.loads(kwargs_json)).blackbox()


def _function_blackbox(benchmark: FunctionBenchmark) -> Blackbox:
    import json

    return _load_function(benchmark.function, json.dumps(benchmark.function_kwargs, sort_keys=True))


def blackbox_root(benchmark: Benchmark, root: str | None) -> str | None:
    """Where a benchmark's blackbox is stored: its own ``repository`` if it names one, else ``root``."""
    return getattr(benchmark, "repository", None) or root


def benchmark_blackbox(benchmark: SimulatedBenchmark | FunctionBenchmark, root: str | None = None) -> Blackbox:
    if isinstance(benchmark, FunctionBenchmark):
        return _function_blackbox(benchmark)
    root = blackbox_root(benchmark, root)
    if benchmark.surrogate:
        key = tuple(sorted(benchmark.surrogate_kwargs.items()))
        return _with_surrogate(benchmark.blackbox, benchmark.task, root, benchmark.surrogate, key)
    if benchmark.time_objective == STEPS:
        return _with_step_time(benchmark.blackbox, benchmark.task, root)
    return _load_task(benchmark.blackbox, benchmark.task, root)


def table_configurations(benchmark: SimulatedBenchmark, root: str | None = None) -> list[dict[str, Any]]:
    """The table's configurations that hold a value of the metric for this task (some tables share rows
    across tasks and leave the other tasks' rows NaN). Computed once per process and table; each call returns
    fresh dictionaries (a method may keep and change them)."""
    rows = _table_configurations(benchmark.blackbox, benchmark.task, blackbox_root(benchmark, root), benchmark.metric,
                                 benchmark.name)
    return [dict(row) for row in rows]


@functools.lru_cache(maxsize=8)
def _table_configurations(blackbox: str, task: str, root: str | None, metric: str,
                          name: str) -> tuple[dict[str, Any], ...]:
    import numpy as np

    table = _load_task(blackbox, task, root)
    if not isinstance(table, TabularBlackbox):
        raise TypeError(f"{name}: restrict_to_table needs a tabulated blackbox")
    values = np.asarray(table.objectives[:, :, -1, table.objective_index(metric)], dtype=np.float64)
    keep = ~np.isnan(values).all(axis=1)
    configs = table.all_configurations()
    return tuple(c for c, k in zip(configs, keep) if k)


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: looking a distribution up scans every installed package's metadata."""
    out = {"python": platform.python_version()}
    for dist in ("hpo-arena", "numpy", "pandas", "pyarrow", "scikit-learn", "xgboost", "scipy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return tuple(out.items())


def _versions() -> dict[str, str]:
    return dict(_installed_versions())


def resolve_script(script: str) -> str:
    """A script path as given if it exists, else relative to the project root (where the examples live)."""
    from pathlib import Path

    path = Path(script).expanduser()
    if path.is_file():
        return str(path.resolve())
    candidate = Path(__file__).resolve().parent.parent / script
    if candidate.is_file():
        return str(candidate)
    raise FileNotFoundError(f"training script {script!r} not found (looked in the current folder and {candidate})")


def mark_status(spec: ExperimentSpec, started_at: str, status: str = "running", **extra: Any) -> None:
    """Claim the experiment's folder before running it: drop temporary files a killed writer left behind and
    write ``metadata.json`` with ``status: "running"`` (``"failed"`` plus ``error`` when the run raised).

    A sweep killed mid-way thus leaves visible, incomplete folders (results readers skip them, ``is_complete``
    is False), and the rerun redoes them; their complete files replace the marker atomically at the end.
    """
    import glob
    import os
    import socket

    from blackbox_repo.remote import filesystem
    from launchers.results_writer import write_metadata

    if status == "running":
        fs, folder = filesystem(spec.path)
        if fs.exists(folder):
            for stale in fs.glob(f"{glob.escape(folder.rstrip('/'))}/*.tmp-*"):
                fs.rm(stale)
    write_metadata(spec.path, {
        "status": status, "tag": spec.tag, "benchmark": spec.benchmark.name, "method": spec.method,
        "seed": spec.seed, "master_seed": spec.master_seed, "started_at": started_at,
        "host": socket.gethostname(), "pid": os.getpid(), **extra,
    })


def seeds_for(spec: ExperimentSpec) -> tuple[int, int]:
    """(backend seed, method seed) of an experiment."""
    return (derive_seed(spec.master_seed, "backend", spec.seed),
            derive_seed(spec.master_seed, "method", spec.seed))


def build_scheduler(spec: ExperimentSpec):
    """The experiment's method, built exactly as ``run_experiment`` builds it (the sweep's validation pass
    calls it for every job, so a constructor that refuses its arguments does so before any job starts).

    Refuses a method that transfers checkpoints between trials (``Scheduler.transfers_checkpoints``, e.g.
    PBT) on a simulated benchmark: a table holds one curve per configuration and no checkpoint to continue
    from with other hyperparameters; and a registered multi-objective method on a single-objective benchmark or
    a constrained one (CBO) on a benchmark without a constraint (``launchers.objective_checks``). Registered
    methods get the benchmark's ``metrics``, ``modes`` and ``constraint``.
    """
    from baselines.external import is_external_name
    from baselines.registry import make_method
    from benchmark_definitions.definitions import objectives_of
    from launchers.method_checks import check_method_fits_benchmark
    from launchers.objective_checks import check_objectives_fit

    bench = spec.benchmark
    _, method_seed = seeds_for(spec)
    goals = objectives_of(bench)
    if not is_external_name(spec.method_target or spec.method):  # a class path optimises the primary metric
        check_objectives_fit(spec.method, bench)  # before the table is loaded (the sweep's validation pass too)
        method_kwargs = {"metrics": list(goals.metrics), "modes": list(goals.modes),
                         "constraint": getattr(bench, "constraint", None), **spec.method_kwargs}
    else:
        method_kwargs = dict(spec.method_kwargs)
    if isinstance(bench, RealBenchmark):
        from blackbox_repo.search_space import SearchSpace

        return make_method(
            spec.method_target or spec.method, SearchSpace.from_dict(bench.config_space), bench.metric, bench.mode,
            fidelity_name=bench.resource_attr, max_fidelity=bench.max_fidelity, seed=method_seed, **method_kwargs,
        )
    check_method_fits_benchmark(spec.method, bench)  # registered methods: before the table is even loaded
    blackbox = benchmark_blackbox(bench, spec.blackbox_root)
    fidelity_name = bench.resource_attr or blackbox.fidelity_name
    max_fidelity = bench.max_fidelity if bench.max_fidelity is not None else blackbox.max_fidelity
    if bench.restrict_to_table:
        method_kwargs["restrict_to"] = table_configurations(bench, spec.blackbox_root)
    if _uses_transfer_data(spec):
        from launchers.transfer_data import build_transfer_data

        # Built from the source tasks only: the target task's table is never read for the method.
        method_kwargs["transfer_data"] = build_transfer_data(bench, spec.blackbox_root)
    scheduler = make_method(
        spec.method_target or spec.method, blackbox.configuration_space, bench.metric, bench.mode,
        fidelity_name=fidelity_name, max_fidelity=max_fidelity, seed=method_seed,
        fidelity_values=_fidelities(blackbox, max_fidelity), **method_kwargs,
    )
    check_method_fits_benchmark(spec.method, bench, transfers_checkpoints=scheduler.transfers_checkpoints)
    return scheduler


def _uses_transfer_data(spec: ExperimentSpec) -> bool:
    from baselines.external import is_external_name
    from baselines.registry import method_uses_transfer_data

    name = spec.method_target or spec.method
    return not is_external_name(name) and method_uses_transfer_data(name)


def run_experiment(spec: ExperimentSpec, skip_complete: bool = True, progress: bool = False) -> str:
    """Run (or skip, if already complete) one experiment; returns its folder."""
    from benchmark_definitions.definitions import objectives_of
    from launchers.method_checks import check_method_fits_benchmark
    from launchers.objective_checks import check_objectives_fit
    from launchers.tuner import StoppingCriterion, Tuner

    path = spec.path
    last_run.tuner_seconds = last_run.tuner_cpu_seconds = 0.0
    if skip_complete and is_complete(path):
        return path
    bench = spec.benchmark
    check_method_fits_benchmark(spec.method, bench)  # before anything is loaded or written
    check_objectives_fit(spec.method, bench)
    goals = objectives_of(bench)
    backend_seed, method_seed = seeds_for(spec)
    started_at = datetime.now(UTC).isoformat()
    t0 = time.perf_counter()
    if isinstance(bench, RealBenchmark):
        from launchers.local_backend import LocalBackend

        scheduler = build_scheduler(spec)
        backend = LocalBackend(
            resolve_script(bench.script), n_workers=bench.n_workers, trial_timeout=bench.trial_timeout,
            fidelity_name=bench.resource_attr, max_fidelity=bench.max_fidelity, script_args=bench.script_args,
            metric=bench.metric, keep_workdir=bench.keep_workdir,
        )
        stop = StoppingCriterion(max_wallclock_time=bench.max_wallclock_time)
        extra: dict[str, Any] = {"simulated": False, "script": bench.script}
        if bench.keep_workdir:
            extra["workdir"] = str(backend.workdir)
        objectives = None
        fidelity_name, max_fidelity, time_objective = bench.resource_attr, bench.max_fidelity, None
        best = worst = None
    else:
        from launchers.simulator import SimulatorBackend

        blackbox = benchmark_blackbox(bench, spec.blackbox_root)
        fidelity_name = bench.resource_attr or blackbox.fidelity_name
        max_fidelity = bench.max_fidelity if bench.max_fidelity is not None else blackbox.max_fidelity
        scheduler = build_scheduler(spec)
        backend = SimulatorBackend(
            blackbox, n_workers=bench.n_workers, seed=backend_seed,
            time_objective=None if bench.time_objective == STEPS else bench.time_objective,
            max_fidelity=max_fidelity,
        )
        stop = StoppingCriterion(max_wallclock_time=bench.max_wallclock_time,
                                 max_evaluations=bench.max_evaluations)
        objectives = list(blackbox.objectives_names)
        time_objective = backend.time_objective
        extra = {"simulated": True}
        best, worst = _metric_range(bench, spec.blackbox_root, max_fidelity)
        if goals.is_multi_objective:
            extra["objective_bounds"] = objective_bounds(blackbox, goals.metrics, goals.modes, max_fidelity)
    events = _experiment_events(spec, simulated=bool(extra["simulated"]), goals=goals)
    mark_status(spec, started_at)
    try:
        # Real training writes event files as results arrive; simulated runs are written once, at the end.
        progress = events.on_progress if events is not None and not extra["simulated"] else None
        cpu0 = time.process_time()
        results = Tuner(scheduler, backend, stop, progress=progress).run()
        last_run.tuner_seconds, last_run.tuner_cpu_seconds = results.real_seconds, time.process_time() - cpu0
    except Exception as err:
        if events is not None:
            events.close()
        mark_status(spec, started_at, status="failed", error=f"{type(err).__name__}: {err}")
        raise
    if events is not None:
        events.finish(results)  # before metadata.json says complete: a complete experiment has its files
    if results.n_results == 0:
        # Nothing to compare: record why (with every trial's error in trials.parquet) instead of a complete,
        # empty experiment; a rerun redoes it.
        from launchers.results_writer import write_trials

        error = no_result_error(results)
        write_trials(path, results)
        mark_status(spec, started_at, status="failed", error=error, n_trials=results.n_trials, n_results=0,
                    end_reason=results.end_reason, **extra)
        raise ExperimentFailed(f"{bench.name} / {spec.method} / seed {spec.seed}: {error}")
    metadata = {
        "format_version": 1,
        "tag": spec.tag, "benchmark": bench.name, "method": spec.method, "seed": spec.seed,
        "master_seed": spec.master_seed, "backend_seed": backend_seed, "method_seed": method_seed,
        "n_workers": bench.n_workers, "budget": stop.to_dict(),
        "metric": bench.metric, "mode": bench.mode,
        "metrics": list(goals.metrics), "modes": list(goals.modes),
        "constraint": getattr(bench, "constraint", None),
        "objectives": objectives if objectives is not None else results.objectives_names,
        "fidelity_name": fidelity_name, "max_fidelity": max_fidelity, "time_objective": time_objective,
        "blackbox": getattr(bench, "blackbox", None), "task": getattr(bench, "task", None),
        "metric_best_possible": best, "metric_worst_possible": worst,
        "config_space": scheduler.config_space.to_dict(),
        "method_kwargs": {k: v for k, v in spec.method_kwargs.items()},
        **({"method_target": spec.method_target} if spec.method_target else {}),
        "benchmark_definition": bench.to_dict(),
        "versions": _versions(),
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "runtime_seconds": time.perf_counter() - t0,
        **extra,
    }
    return results.write(path, metadata)


def _experiment_events(spec: ExperimentSpec, simulated: bool, goals):
    """The experiment's TensorBoard writer, or None when event files are off (``spec.tensorboard``)."""
    from launchers.tensorboard_log import ExperimentEvents, tensorboard_enabled

    if not tensorboard_enabled(spec.tensorboard, simulated, spec.path):
        return None
    return ExperimentEvents(spec.path, goals.metrics, goals.modes, start_wall_time=time.time())


@dataclass
class LastRun:
    """What this process's latest ``run_experiment`` measured (read by the sweep's job statistics,
    ``HPO_ARENA_JOB_STATS``, to separate simulation time from the fixed cost of an experiment)."""

    tuner_seconds: float = 0.0  # wall time of ``Tuner.run``: the simulation (or real training) itself
    tuner_cpu_seconds: float = 0.0  # CPU time of this process during ``Tuner.run`` (robust to a busy machine)


last_run = LastRun()


class ExperimentFailed(RuntimeError):
    """The experiment ran but produced nothing usable; its metadata.json says ``failed`` and why."""


def no_result_error(results: Results) -> str:
    """Why an experiment has no result, naming the first failed trial's cause and stderr tail."""
    failed = [t for t in results.trials if t.status == "failed"]
    text = (f"no trial reported a result ({results.n_trials} trial(s) started, {len(failed)} failed; "
            f"the experiment ended by {results.end_reason or 'stopping'})")
    if failed:
        first = failed[0]
        cause, _, tail = first.error.partition("\n")
        text += f"; trial {first.trial_id}: {cause}; stderr of trial {first.trial_id}: {tail.strip() or '(empty)'}"
    return text


def _fidelities(blackbox: Blackbox, max_fidelity: float | None):
    if blackbox.fidelity_values is None:
        return None
    values = blackbox.fidelity_values
    if max_fidelity is not None:
        values = values[values <= max_fidelity]
    return values.tolist()


def _metric_range(bench: SimulatedBenchmark | FunctionBenchmark, root: str | None,
                  max_fidelity: float | None) -> tuple[float | None, float | None]:
    """Best and worst value of the metric anywhere in the table (any configuration, seed and fidelity up to
    the benchmark's maximum), i.e. the extremes a best-so-far curve can reach: normalised regret against
    them lies in [0, 1]. None for surrogates, whose range is not known in advance. For a function, the
    problem's known best (and worst) value of its default metric, None where unknown."""
    import numpy as np

    if isinstance(bench, FunctionBenchmark):
        problem = _function_blackbox(bench).problem  # type: ignore[attr-defined]
        if bench.metric != problem.default_metric or bench.mode != problem.mode:
            return None, None  # the known optimum is that of the default metric in its own direction
        return problem.best_possible, problem.worst_possible
    table = _load_task(bench.blackbox, bench.task, blackbox_root(bench, root))
    if not isinstance(table, TabularBlackbox):
        return None, None
    values = table.objectives[..., table.objective_index(bench.metric)]
    if max_fidelity is not None and table.fidelity_values is not None:
        values = values[:, :, : int(np.searchsorted(table.fidelity_values, max_fidelity, side="right"))]
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).all():
        return None, None
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return (low, high) if bench.mode == "min" else (high, low)


OBJECTIVE_BOUNDS_SAMPLES = 1000  # configurations standing for a surrogate's table (see objective_bounds)


def _sampled_objectives(blackbox: Blackbox, stop: int | None):
    """Objectives (configurations, fidelities, objectives) of ``OBJECTIVE_BOUNDS_SAMPLES`` configurations drawn
    with a fixed seed, at every fidelity up to index ``stop`` (seed 0 of the blackbox); None when the blackbox
    cannot draw configurations."""
    import numpy as np

    from blackbox_repo.seeding import make_rng

    space = blackbox.configuration_space
    if not hasattr(space, "sample_many"):
        return None
    configs = space.sample_many(make_rng(0, "objective-bounds", blackbox.name), OBJECTIVE_BOUNDS_SAMPLES)
    fidelities = [None] if blackbox.fidelity_values is None else list(blackbox.fidelity_values[:stop])
    return np.stack([np.asarray(blackbox.evaluate_batch(configs, fidelity=None if f is None else f.item(), seed=0),
                                dtype=np.float64).reshape(len(configs), -1) for f in fidelities], axis=1)


def objective_bounds(blackbox: Blackbox, metrics: tuple[str, ...] | list[str], modes: tuple[str, ...] | list[str],
                     max_fidelity: float | None) -> dict[str, list[float]] | None:
    """``{objective: [best, worst]}`` over the whole table (every configuration, seed and fidelity up to the
    benchmark's maximum): best is the best value, worst the value 90% of the entries are better than
    (``OBJECTIVE_WORST_QUANTILE``), not the worst entry, so that a few diverged entries (FCNet's validation MSE
    reaches 1951 where almost all values are below 1) do not squash the scale. Fixed per benchmark, so
    hypervolumes of different runs and methods share one normalisation and reference point
    (``results.multiobjective``). A surrogate (not a table) stands for the table it was fitted on: its
    ``OBJECTIVE_BOUNDS_SAMPLES`` configurations drawn from a fixed seed, evaluated at every fidelity up to the
    maximum, are that table (the same for every run of the benchmark). None for a blackbox of neither kind."""
    import numpy as np

    stop = None
    if max_fidelity is not None and blackbox.fidelity_values is not None:
        stop = int(np.searchsorted(blackbox.fidelity_values, max_fidelity, side="right"))
    if isinstance(blackbox, TabularBlackbox):
        table = blackbox.objectives[:, :, :stop]
    else:
        table = _sampled_objectives(blackbox, stop)
        if table is None:
            return None
    out: dict[str, list[float]] = {}
    for metric, mode in zip(metrics, modes):
        values = np.asarray(table[..., blackbox.objective_index(metric)], dtype=np.float64)
        if np.isnan(values).all():
            return None
        if mode == "min":
            out[metric] = [float(np.nanmin(values)), float(np.nanquantile(values, OBJECTIVE_WORST_QUANTILE))]
        else:
            out[metric] = [float(np.nanmax(values)), float(np.nanquantile(values, 1 - OBJECTIVE_WORST_QUANTILE))]
    return out
