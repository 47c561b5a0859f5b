"""Running a validated sweep's jobs for Hydra's ``basic``, ``joblib`` and ``ray`` launchers, at a few
milliseconds of fixed cost per experiment.

Under Hydra each job costs about 0.1 s before it simulates anything: the basic sweeper composes the job's
configuration to validate the batch, the launcher composes it again, and Hydra's job wrapper sets up its output
folder, logging and global state. The validation pass of ``arena sweep`` (``launchers.validation``) has already
composed every job's configuration, with Hydra's semantics (``launchers.sweep_compose``), so for these
launchers ``arena sweep`` runs them from that plan instead:

- ``basic``: one after the other in the ``arena`` process, in the sweeper's order;
- ``joblib``: the jobs, ordered by benchmark, are cut into slices (``slices_of``: about 4 per worker, for
  balance) that ``joblib.Parallel`` runs with the launcher's options (``n_jobs``, ``verbose``, ``pre_dispatch``,
  ...; the backend is loky, as with Hydra's plugin). A worker process loads each table once and runs many
  experiments. With ``timeout`` set, every slice holds one job, so that the timeout still applies to each job.
  The loky workers are shut down when the sweep ends (Hydra's plugin left them idling for 5 minutes), and a
  worker whose sweep process disappears (SIGKILL) kills itself at once unless it is running a real-training
  experiment, whose backend first ends its trials and removes their work folder, then kills the process;
- ``ray`` (hydra-ray-launcher's ``RayLauncher``: ``hydra/launcher=ray`` or ``ray_local``): the same slices, one
  Ray task each, with the launcher's ``ray.remote`` options (``num_cpus``, ``memory``, ``resources``, ...);
  about 4 slices per task slot of the cluster (its CPUs, GPUs and custom resources divided by what one task
  asks for). Ray is started or joined with ``ray.init(**ray.init)`` unless it is already initialised in this
  process (then its instance runs the sweep and is left as it is), as hydra-ray-launcher does, including its
  object-store size (75 MiB unless set) for an instance it starts; unlike the plugin that size is not passed
  when joining an existing cluster, which Ray refuses. When the sweep initialised Ray it calls
  ``ray.shutdown()`` at the end: a private instance (``ray_local``) stops, the sweep disconnects from an
  existing cluster and leaves it running (what the plugin's driver did at exit). A Ray worker process is
  reused by later tasks, so it keeps its loaded tables. The sweep's own environment (progress counter,
  ``hydra.job.env_set``, the sweep process to watch) is handed to each task, since Ray's workers may have been
  started before the sweep. A task Ray loses (its worker died, it was cancelled) fails the jobs of its slice
  that are not complete.

Per job it writes what Hydra's wrapper wrote that anyone reads: ``<hydra.sweep.dir>/<job num>/.hydra/``
``config.yaml`` (the job's resolved configuration) and ``overrides.yaml``; ``multirun.yaml`` (the sweep's
configuration, with the ``hydra`` node) is written once in the sweep folder. The job itself, its output lines,
progress counter, statuses, results and failure semantics (every job runs; the sweep then fails, exit status
1, naming the first failed job's overrides with its traceback) are those of the Hydra path.

Hydra's own per-job path is kept for every other case: other launchers (submitit, Ray on AWS, SageMaker), other
sweepers, ``hydra.job.chdir=true``, a ``hydra.sweep.subdir`` other than the job number, Hydra callbacks, or the
environment variable ``HPO_ARENA_HYDRA_JOBS=1`` (to compare both paths).
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from launchers.validation import PlannedRun, SweepPlan

HYDRA_JOBS_ENV = "HPO_ARENA_HYDRA_JOBS"  # "1": run every job through Hydra's launcher (no fast path)
SLICES_PER_WORKER = 4
_BASIC_TARGET = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
_JOBLIB_TARGET = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
_RAY_TARGET = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
_BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
_LAUNCHER_OF_TARGET = {_BASIC_TARGET: "basic", _JOBLIB_TARGET: "joblib", _RAY_TARGET: "ray"}
# hydra-ray-launcher's object store for an instance it starts ("avoid allocating too little memory in CI")
RAY_OBJECT_STORE_BYTES = 78643200
# Flags after which Hydra's primary config or its output would differ from what the plan was composed with.
_HYDRA_ONLY_FLAGS = ("--config-name", "-cn", "--config-path", "-cp", "--experimental-rerun", "--package", "-p")


@dataclass(frozen=True)
class LaunchSettings:
    """How the sweep's jobs run when ``arena sweep`` runs them itself."""

    launcher: str  # "basic", "joblib" or "ray"
    sweep_dir: Path
    joblib_kwargs: dict[str, Any] = field(default_factory=dict)
    env_set: dict[str, str] = field(default_factory=dict)  # hydra.job.env_set
    multirun_yaml: str = ""  # the sweep's configuration, as Hydra's sweeper saves it
    ray_init: dict[str, Any] = field(default_factory=dict)  # hydra.launcher.ray.init: ray.init's keyword arguments
    ray_remote: dict[str, Any] = field(default_factory=dict)  # hydra.launcher.ray.remote: each task's options


@dataclass(frozen=True)
class JobFailure:
    num: int
    overrides: tuple[str, ...]
    error: str  # "Type: message"
    traceback: str


def launch_settings(argv: Sequence[str], plan: SweepPlan | None) -> LaunchSettings | None:
    """The settings to run ``plan`` with, or None when Hydra must run the jobs itself (see the module doc)."""
    if plan is None or not plan.runs or os.environ.get(HYDRA_JOBS_ENV, "") not in ("", "0"):
        return None
    if not any(a in ("-m", "--multirun") for a in argv):
        return None  # a single run: Hydra's run folder and mode
    if any(a.split("=", 1)[0] in _HYDRA_ONLY_FLAGS for a in argv):
        return None
    hydra_overrides = {tuple(o for o in run.overrides if _is_hydra_override(o)) for run in plan.runs}
    if len(hydra_overrides) != 1:
        return None  # a sweep over Hydra's own settings
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from launchers.hydra_app import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="arena-sweep"):
        cfg = compose(config_name="config", overrides=list(plan.runs[0].overrides), return_hydra_config=True)
    hydra_cfg = cfg.hydra
    launcher = _LAUNCHER_OF_TARGET.get(str(hydra_cfg.launcher.get("_target_")))
    if launcher is None or str(hydra_cfg.sweeper.get("_target_")) != _BASIC_SWEEPER:
        return None
    if hydra_cfg.job.chdir or hydra_cfg.get("callbacks"):
        return None
    if OmegaConf.to_container(hydra_cfg.sweep, resolve=False).get("subdir") != "${hydra.job.num}":  # type: ignore[union-attr]
        return None
    with _hydra_node_resolvable(cfg):
        sweep_dir = Path(str(hydra_cfg.sweep.dir))
        multirun_yaml = OmegaConf.to_yaml(cfg)
        options: dict[str, Any] = {k: v for k, v in OmegaConf.to_container(hydra_cfg.launcher, resolve=True).items()  # type: ignore[union-attr]
                                   if k != "_target_"}
    env_set = {str(k): str(v) for k, v in (OmegaConf.to_container(hydra_cfg.job.env_set, resolve=True) or {}).items()}  # type: ignore[union-attr]
    settings = LaunchSettings(launcher, sweep_dir, env_set=env_set, multirun_yaml=multirun_yaml)
    if launcher == "joblib":
        return replace(settings, joblib_kwargs=_joblib_kwargs(options))
    if launcher == "ray":
        ray_cfg = options.get("ray") or {}
        return replace(settings, ray_init=dict(ray_cfg.get("init") or {}), ray_remote=dict(ray_cfg.get("remote") or {}))
    return settings


def _joblib_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """``joblib.Parallel``'s keyword arguments from the joblib launcher's resolved options."""
    kwargs = {**options, "backend": "loky"}  # as Hydra's plugin (_run_joblib passes a LokyBackend instance)
    for key in ("pre_dispatch", "batch_size", "max_nbytes"):  # numbers given as strings, as the plugin does
        value = kwargs.get(key)
        if isinstance(value, str) and value.isdigit():
            kwargs[key] = int(value)
    return kwargs


class _hydra_node_resolvable:
    """``${hydra:...}`` resolves against the global HydraConfig: set it to this config while resolving."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def __enter__(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        self.previous = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(self.cfg)

    def __exit__(self, *exc: object) -> None:
        from hydra.core.hydra_config import HydraConfig

        HydraConfig.instance().cfg = self.previous


def _is_hydra_override(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    return key.startswith(("hydra.", "hydra/")) and not key.startswith("hydra.searchpath")


def run_planned_sweep(plan: SweepPlan, settings: LaunchSettings) -> int:
    """Run every job of the plan; 0 when all succeeded, else 1 after reporting the first failure as Hydra does."""
    settings.sweep_dir.mkdir(parents=True, exist_ok=True)
    (settings.sweep_dir / "multirun.yaml").write_text(settings.multirun_yaml)
    jobs = list(enumerate(plan.runs))
    print(f"[arena] {len(jobs)} job(s), launcher {settings.launcher}, sweep folder {settings.sweep_dir}", flush=True)
    with _environment(settings.env_set):
        if settings.launcher == "basic":
            failures = run_slice(jobs, settings.sweep_dir)
        elif settings.launcher == "joblib":
            failures = _run_joblib(jobs, settings)
        else:
            failures = _run_ray(jobs, settings)
    if not failures:
        return 0
    failures.sort(key=lambda f: f.num)
    for failure in failures[1:]:
        sys.stderr.write(f"Job {failure.num} failed too: {failure.error} (overrides: {list(failure.overrides)})\n")
    first = failures[0]
    sys.stderr.write(f"Error executing job with overrides: {list(first.overrides)}\n{first.traceback}")
    sys.stderr.flush()
    return 1


def slices_of(jobs: Sequence[tuple[int, PlannedRun]], n_workers: int, one_per_slice: bool = False
              ) -> list[list[tuple[int, PlannedRun]]]:
    """Jobs ordered by benchmark (a worker then loads few tables), cut into about ``SLICES_PER_WORKER`` slices
    per worker of near-equal length."""
    if one_per_slice:
        return [[job] for job in jobs]
    ordered = sorted(jobs, key=lambda job: (str(job[1].config["benchmark"].get("name")), job[0]))
    n_slices = max(1, min(len(ordered), n_workers * SLICES_PER_WORKER))
    size = math.ceil(len(ordered) / n_slices)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _run_joblib(jobs: Sequence[tuple[int, PlannedRun]], settings: LaunchSettings) -> list[JobFailure]:
    from joblib import Parallel, delayed, effective_n_jobs
    from joblib._parallel_backends import LokyBackend

    kwargs = dict(settings.joblib_kwargs)
    n_workers = effective_n_jobs(kwargs.get("n_jobs", -1))
    slices = slices_of(jobs, n_workers, one_per_slice=kwargs.get("timeout") is not None)
    # Every worker watches the sweep process from its start (not only once it has a slice): a worker still
    # starting or idle when the sweep is killed would otherwise wait out loky's idle timeout (5 minutes).
    kwargs["backend"] = LokyBackend(initializer=_watch_sweep)
    try:
        results = Parallel(**kwargs)(delayed(run_slice)(piece, settings.sweep_dir) for piece in slices)
    finally:
        shutdown_loky_workers()
    return [failure for result in results for failure in result]


def shutdown_loky_workers() -> None:
    """End the reusable loky executor's worker processes (joblib keeps them for reuse otherwise)."""
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True)


def _run_ray(jobs: Sequence[tuple[int, PlannedRun]], settings: LaunchSettings) -> list[JobFailure]:
    """The slices as Ray tasks (see the module doc); the failures of every job, including those of slices Ray
    lost."""
    import ray
    from ray.exceptions import RayError

    initialised_here = _start_ray(settings.ray_init)
    try:
        # As hydra-ray-launcher: ray.remote(**options) when options are given (ray.remote() alone is refused).
        task = ray.remote(**settings.ray_remote)(run_slice) if settings.ray_remote else ray.remote(run_slice)
        slices = slices_of(jobs, ray_task_slots(ray.cluster_resources(), settings.ray_remote))
        env = {**{key: os.environ[key] for key in _sweep_env_names() if key in os.environ}, **settings.env_set}
        pending = [(task.remote(piece, settings.sweep_dir, env), piece) for piece in slices]
        failures: list[JobFailure] = []
        for ref, piece in pending:  # every task runs meanwhile; waiting in order changes nothing
            try:
                failures += ray.get(ref)
            except RayError as err:
                failures += _lost_slice_failures(piece, err)
        return failures
    finally:
        if initialised_here:
            ray.shutdown()


def _start_ray(init: Mapping[str, Any]) -> bool:
    """Start or join Ray as hydra-ray-launcher does; True when this call initialised it (the sweep then shuts it
    down), False when Ray was already initialised in this process."""
    import ray

    if ray.is_initialized():
        print("[arena] Ray is already initialised in this process: the sweep runs on its instance", flush=True)
        return False
    kwargs = dict(init)
    try:
        if _starts_ray_instance(kwargs):
            kwargs.setdefault("object_store_memory", RAY_OBJECT_STORE_BYTES)
        print(f"[arena] ray.init({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})", flush=True)
        ray.init(**kwargs)
    except ConnectionError as err:  # no cluster at that address
        raise SystemExit(f"arena sweep: Ray found no cluster to join with hydra.launcher.ray.init.address="
                         f"{kwargs.get('address')!r}: {err} Give the head's address (e.g. ray://head:10001), "
                         "start a cluster (`ray start --head`), or use hydra/launcher=ray_local for a private "
                         "instance on this machine.") from None
    return True


def _starts_ray_instance(init: Mapping[str, Any]) -> bool:
    """Whether ``ray.init(**init)`` starts a new instance (rather than joining a running cluster): Ray's own
    reading of the address (``None`` and ``auto`` look at ``RAY_ADDRESS`` and the last cluster started here)."""
    address = init.get("address")
    if isinstance(address, str) and address.startswith("ray://"):
        return False  # Ray Client
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # another Ray layout: the addresses that always start an instance
        return address in (None, "local")
    return canonicalize_bootstrap_address(address, init.get("_temp_dir")) is None


def ray_task_slots(resources: Mapping[str, float], remote: Mapping[str, Any]) -> int:
    """How many tasks with these ``ray.remote`` options the cluster runs at once: for every resource a task
    asks for (1 CPU unless ``num_cpus`` says otherwise, ``num_gpus``, ``resources``), the cluster's amount
    divided by the task's, the smallest of them; at least 1."""
    num_cpus = remote.get("num_cpus")
    asked = {"CPU": 1.0 if num_cpus is None else float(num_cpus), "GPU": float(remote.get("num_gpus") or 0),
             **{str(k): float(v) for k, v in (remote.get("resources") or {}).items()}}
    fits = [int(resources.get(name, 0) // amount) for name, amount in asked.items() if amount > 0]
    if not fits:  # a task that asks for nothing: as many at once as the cluster has CPUs
        fits = [int(resources.get("CPU", 1))]
    return max(1, min(fits))


def _lost_slice_failures(piece: Sequence[tuple[int, PlannedRun]], err: Exception) -> list[JobFailure]:
    """The jobs of a slice whose Ray task failed as a whole, except those whose experiment is complete."""
    error = f"the Ray task running its slice failed: {type(err).__name__}: {err}"
    return [JobFailure(num, run.overrides, error, f"{error}\n") for num, run in piece if not _known_complete(run)]


def _known_complete(run: PlannedRun) -> bool:
    """Whether this process sees the job's experiment complete (False when it cannot tell, e.g. its results
    root is on a cluster node)."""
    from launchers.hydra_app import experiment_spec_from_config
    from launchers.study import is_complete

    try:
        return is_complete(experiment_spec_from_config(run.config, run.method_choice).path)
    except Exception:  # noqa: BLE001 - cannot tell from here: the job is reported as failed
        return False


def _sweep_env_names() -> tuple[str, ...]:
    """The variables ``arena sweep`` sets for its jobs (progress counter, sweep size, the process to watch)."""
    from launchers.hydra_app import SWEEP_ID_ENV, SWEEP_SIZE_ENV
    from launchers.local_backend import SWEEP_PID_ENV

    return SWEEP_ID_ENV, SWEEP_SIZE_ENV, SWEEP_PID_ENV


def run_slice(jobs: Sequence[tuple[int, PlannedRun]], sweep_dir: Path,
              env: Mapping[str, str] | None = None) -> list[JobFailure]:
    """Run the jobs one after the other in this process (a failed job does not stop the others); returns the
    failures. ``env``: environment variables set while the slice runs, then restored (a Ray worker outlives the
    sweep). In a worker process, watch the sweep process (see ``_watch_sweep``)."""
    from launchers.hydra_app import run_job

    if env:
        with _environment(env):
            return run_slice(jobs, sweep_dir)
    _watch_sweep()
    failures: list[JobFailure] = []
    for num, run in jobs:
        _write_job_files(sweep_dir / str(num), run)
        state.real_training = run.config.get("benchmark", {}).get("kind") == "real" or "script" in run.config.get(
            "benchmark", {})
        try:
            run_job(run.config, run.method_choice, sweep_dir)
        except Exception as err:  # noqa: BLE001 - as Hydra: every job runs, the sweep fails at the end
            failures.append(JobFailure(num, run.overrides, f"{type(err).__name__}: {err}", traceback.format_exc()))
        finally:
            state.real_training = False
    return failures


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """These environment variables set inside the block, the previous values (or their absence) after it."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _write_job_files(job_dir: Path, run: PlannedRun) -> None:
    """``<job dir>/.hydra/config.yaml`` and ``overrides.yaml``, as Hydra's job wrapper writes them."""
    import yaml

    folder = job_dir / ".hydra"
    folder.mkdir(parents=True, exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    (folder / "config.yaml").write_text(yaml.dump(dict(run.config), Dumper=dumper, sort_keys=False))
    (folder / "overrides.yaml").write_text(yaml.dump(list(run.overrides), Dumper=dumper, sort_keys=False))


@dataclass
class _WorkerState:
    watching: bool = False
    real_training: bool = False  # the running experiment trains for real: its backend ends it (local_backend)


state = _WorkerState()


def _watch_sweep() -> None:
    """In a worker process of the sweep: SIGKILL this process as soon as the sweep process is gone.

    A real-training experiment is left to its backend's own watcher, which kills its trials' process groups and
    removes their work folder first, then kills the process. Results already written stay valid; a simulated
    experiment cut short keeps its "running" status and is redone by the next run of the sweep.
    """
    from launchers.local_backend import SWEEP_PID_ENV, _is_ancestor, _pidfd

    value = os.environ.get(SWEEP_PID_ENV, "")
    if state.watching or not value.isdigit():
        return
    sweep_pid = int(value)
    if sweep_pid == os.getpid() or not _is_ancestor(sweep_pid):
        return  # the sweep process itself (basic launcher)
    state.watching = True
    parent = os.getppid()
    pidfd = _pidfd(sweep_pid)

    def watch() -> None:
        import select

        while True:
            if pidfd is not None:
                select.select([pidfd], [], [])
                break
            if os.getppid() != parent:
                break
            threading.Event().wait(0.5)
        while state.real_training:  # the local backend's watcher ends the trials, then this process
            threading.Event().wait(0.1)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="hpo-arena-sweep-worker-watch").start()


def run_config_mapping(config: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of a job configuration (for callers that keep the plan and mutate configs)."""
    import copy

    return copy.deepcopy(dict(config))
