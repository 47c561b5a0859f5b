"""The Hydra app behind ``arena sweep``: one job is one experiment (method, benchmark, seed).

Config groups:
- ``method``: one node per registered method name (``baselines.registry``), holding its default arguments,
  so ``method.grace_period=3`` overrides a default and a misspelt key fails before any job starts;
- ``benchmark``: one node per benchmark definition (``benchmark_definitions``), e.g. ``benchmark.n_workers=8``;
- ``hydra/launcher``: Hydra's ``basic`` (sequential, default), ``joblib`` (processes on one machine),
  ``submitit_local`` / ``submitit_slurm`` (Slurm), ``ray`` (a Ray cluster) and ``sagemaker``.

User config folders (``--config-dir DIR``, ``hydra.searchpath=[file://DIR]``, ``$HPO_ARENA_CONFIG_DIR``; see
``user_config_dirs``) add benchmarks from ``DIR/benchmark/NAME.yaml``: they are validated before Hydra starts
and written, normalised, into the generated folder with the built-in ones.

``run_sweep_cli`` prepares the study before Hydra starts any job: it reads or draws the master seed (printed
and recorded in ``<results_root>/<tag>/study.json``) and passes it to every job as ``master_seed=...``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf

from launchers.validation import (
    SweepPlan,
    SweepValidationError,
    check_seed,
    force_method_overrides,
    validate_sweep,
)

CONF_DIR = str(Path(__file__).parent / "conf")
_registered = False

# Set by ``run_sweep_cli`` for the jobs it starts (inherited by joblib / submitit / local Ray processes):
SWEEP_ID_ENV = "HPO_ARENA_SWEEP_ID"  # names this invocation's progress counter
SWEEP_SIZE_ENV = "HPO_ARENA_SWEEP_SIZE"  # how many jobs this invocation runs, when it can be counted
# Optional, set by the user (benchmarks/bench_sweep.py): every job appends one JSON line with its process id,
# peak RSS, number of blackbox loads and the resident/proportional size of the memory-mapped tables.
JOB_STATS_ENV = "HPO_ARENA_JOB_STATS"


def generated_config_dir(config_dirs: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Write one YAML file per method and per benchmark into a content-addressed folder; return it.

    Hydra reads group options from files lazily; registering ~200 structured nodes in the ConfigStore instead
    made it deep-copy all of them for every job (about half a second per job). The folder's name is a hash of
    its content, so it is written once per version of the registries and shared by every process.
    """
    import hashlib
    import json

    import yaml

    from benchmark_definitions.registry import all_benchmarks

    groups = {
        "method": _method_nodes(),
        "benchmark": {name: bench.to_dict() for name, bench in all_benchmarks(config_dirs).items()},
    }
    digest = hashlib.sha256(json.dumps(groups, sort_keys=True, default=str).encode()).hexdigest()[:16]
    from blackbox_repo.repository import default_cache_dir

    folder = default_cache_dir() / "hydra-conf" / digest
    if (folder / ".complete").is_file():
        return folder
    tmp = folder.with_name(f".{digest}.tmp-{os.getpid()}")
    for group, nodes in groups.items():
        (tmp / group).mkdir(parents=True, exist_ok=True)
        for name, node in nodes.items():
            (tmp / group / f"{name}.yaml").write_text(yaml.safe_dump(node, sort_keys=False))
    (tmp / ".complete").write_text(digest)
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race: its folder has the same content
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _source_fingerprint(package: Path) -> str:
    """A hash of the names, sizes and modification times of a package's Python files (and the Python
    version): it changes whenever the code that defines the method nodes changes."""
    import hashlib

    entries = sorted((str(p.relative_to(package)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in package.rglob("*.py"))
    return hashlib.sha256(json.dumps([sys.version, str(package), entries]).encode()).hexdigest()[:16]


def _method_nodes() -> dict[str, dict[str, Any]]:
    """``{name: {"name": name, **defaults}}`` of every registered method.

    Reading the defaults imports every method's module (seconds); the nodes are kept in the cache under a
    fingerprint of the ``baselines`` sources and of which methods' optional libraries are missing, so a sweep
    pays that only after the code or the installed extras changed.
    """
    import hashlib

    import baselines
    from baselines.registry import list_methods, method_spec
    from blackbox_repo.repository import default_cache_dir

    # A method whose optional library is missing has no defaults: which libraries are installed is part of the key.
    missing = {name: method_spec(name).missing_requirements() for name in list_methods()}
    key = hashlib.sha256(json.dumps([_source_fingerprint(Path(baselines.__file__).parent), missing],
                                    sort_keys=True).encode()).hexdigest()[:16]
    cache = default_cache_dir() / "hydra-conf" / f"methods-{key}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    from baselines.registry import method_defaults

    nodes = {name: {"name": name, **method_defaults(name)} for name in list_methods()}
    try:
        payload = json.dumps(nodes)
    except (TypeError, ValueError):  # a default JSON cannot hold: never cached, always recomputed
        return nodes
    if json.loads(payload) == nodes:  # a faithful round trip (no tuples, no non-string keys)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
        tmp.write_text(payload)
        os.replace(tmp, cache)
    return nodes


class _GeneratedConfigs(SearchPathPlugin):
    """Adds the generated method/benchmark folder to Hydra's search path.

    A search-path plugin (rather than a ``hydra.searchpath`` override) is needed because Hydra resolves
    sweeps such as ``benchmark='glob(lcbench-*)'`` against the search path it was created with.
    """

    folder: Path | None = None
    user_dirs: tuple[Path, ...] = ()  # the user's config folders (--config-dir, $HPO_ARENA_CONFIG_DIR)

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from launchers.user_methods import search_path_folders

        if _GeneratedConfigs.folder is not None:
            search_path.append(provider="hpo-arena", path=f"file://{_GeneratedConfigs.folder}")
        # The user's folders (--config-dir, $HPO_ARENA_CONFIG_DIR) and the generated nodes of class-path methods.
        for folder in dict.fromkeys([*_GeneratedConfigs.user_dirs, *search_path_folders()]):
            search_path.append(provider="hpo-arena-user", path=f"file://{folder}")


def user_config_dirs(argv: Sequence[str] = ()) -> list[Path]:
    """The user's config folders for a sweep: ``--config-dir DIR`` (``--config-dir=DIR``, ``-cd DIR``; may be
    repeated), ``file://`` entries of ``hydra.searchpath=[...]``, then ``$HPO_ARENA_CONFIG_DIR``; each must
    exist."""
    from benchmark_definitions.user import config_dirs

    explicit: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            explicit.append(argv[i + 1])
        elif arg.startswith(("--config-dir=", "-cd=")):
            explicit.append(arg.split("=", 1)[1])
        elif arg.startswith(("hydra.searchpath=", "+hydra.searchpath=", "++hydra.searchpath=")):
            from hydra.core.override_parser.overrides_parser import OverridesParser
            from hydra.errors import HydraException

            try:
                entries = OverridesParser.create().parse_override(arg.lstrip("+")).value()
            except HydraException:
                continue  # Hydra reports a malformed override itself
            for entry in entries if isinstance(entries, list) else [entries]:
                entry = str(entry)
                if entry.startswith("file://"):
                    explicit.append(entry.removeprefix("file://"))
                elif "://" not in entry:
                    explicit.append(entry)
    return config_dirs(explicit)


def _without_config_dir_flags(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--config-dir``/``-cd`` flags: the search-path plugin adds every user folder itself
    (Hydra would keep only the last one, and an option between overrides splits them for its parser)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--config-dir", "-cd"):
            skip = True
        elif not arg.startswith(("--config-dir=", "-cd=")):
            out.append(arg)
    return out


def register_configs(config_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Make methods, benchmarks (built-in and from the user's config folders: ``config_dirs`` and
    ``$HPO_ARENA_CONFIG_DIR``) and launchers known to Hydra; the user's folders go on Hydra's search path after
    the generated one. The plugin is registered once; folders follow the latest call."""
    global _registered
    from benchmark_definitions.user import config_dirs as resolve_config_dirs

    folders = resolve_config_dirs(config_dirs)
    _GeneratedConfigs.folder = generated_config_dir(folders)
    _GeneratedConfigs.user_dirs = tuple(folders)
    if _registered:
        return
    from launchers import hydra_launchers

    Plugins.instance().register(_GeneratedConfigs)
    hydra_launchers.register()
    _registered = True


def experiment_spec_from_config(cfg: DictConfig | Mapping[str, Any], method_choice: str | None = None):
    """The experiment of a job's configuration (a Hydra config or its resolved container); ``method_choice``
    is the ``method`` group option (a user YAML's file name), read from the running Hydra job when None."""
    from benchmark_definitions.definitions import benchmark_from_dict
    from launchers.experiment import ExperimentSpec

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        method_choice = method_choice or _method_choice()
    if cfg["master_seed"] is None:
        raise ValueError("master_seed is not set: start sweeps with `arena sweep` (it records the study's seed), "
                         "or pass master_seed=<int>")
    problem = check_seed(cfg["seed"])
    if problem:  # never coerce: seed=1.5 or seed=true used to run silently as seed 1
        raise ValueError(problem)
    from launchers.user_methods import resolve_method_node

    name, target, method_cfg = resolve_method_node(dict(cfg["method"]), method_choice)
    bench = benchmark_from_dict(dict(cfg["benchmark"]))
    from launchers.tensorboard_log import parse_tensorboard_option

    return ExperimentSpec(
        benchmark=bench, method=name, seed=int(cfg["seed"]), master_seed=int(cfg["master_seed"]),
        tag=str(cfg["tag"]), results_root=str(cfg["results_root"]), method_kwargs=method_cfg,
        method_target=target, blackbox_root=None if cfg["blackbox_root"] is None else str(cfg["blackbox_root"]),
        tensorboard=parse_tensorboard_option(cfg.get("tensorboard", "auto")),
    )


def _method_choice() -> str | None:
    """The ``method`` group option of the running job (the user YAML's name), when Hydra runs the job."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return HydraConfig.get().runtime.choices.get("method")
    except ValueError:  # not inside a Hydra job (e.g. a SageMaker slice)
        return None


def _append_line(path: Path | str, line: bytes) -> int:
    """Append with O_APPEND (one atomic write on a local file system); returns the file's size after it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        return os.lseek(fd, 0, os.SEEK_CUR)
    finally:
        os.close(fd)


def _progress(sweep_dir: Path | None = None) -> str:
    """`` (k of N done)`` for this ``arena sweep`` invocation, whatever process the job runs in.

    Each finished job appends one byte to a counter file in the sweep folder (``sweep_dir``, else the running
    Hydra job's); the file offset right after that atomic append is the number of jobs finished so far. Empty
    outside an ``arena sweep`` multirun (e.g. SageMaker slices) or when the folder is not writable: progress is
    informative, never fatal.
    """
    sweep_id = os.environ.get(SWEEP_ID_ENV)
    if not sweep_id:
        return ""
    try:
        if sweep_dir is None:
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            hydra_cfg = HydraConfig.get()
            if hydra_cfg.mode != RunMode.MULTIRUN:
                return ""
            sweep_dir = Path(hydra_cfg.runtime.output_dir).parent
        done = _append_line(Path(sweep_dir) / f".arena-progress-{sweep_id}", b"+")
    except (ValueError, OSError):
        return ""
    total = os.environ.get(SWEEP_SIZE_ENV)
    return f" ({done} of {total} done)" if total else f" ({done} done)"


def _mapped_tables_kb() -> dict[str, int]:
    """Resident and proportional set size (kB) of this process's memory-mapped ``.npy`` tables (Linux).

    PSS divides each page among the processes that map it, so PSS < RSS shows the pages are shared."""
    rss = pss = 0
    in_table = False
    try:
        with open("/proc/self/smaps", encoding="utf-8") as smaps:
            for line in smaps:
                head = line.split(maxsplit=1)[0]
                if not head.endswith(":"):  # a mapping's header line: address range, perms, ..., path
                    in_table = line.rstrip().endswith(".npy")
                elif in_table and head == "Rss:":
                    rss += int(line.split()[1])
                elif in_table and head == "Pss:":
                    pss += int(line.split()[1])
    except OSError:
        return {}
    return {"mapped_tables_rss_kb": rss, "mapped_tables_pss_kb": pss}


def _status_kb(*fields: str) -> dict[str, int]:
    """Memory figures (kB) from /proc/self/status, e.g. VmHWM (peak resident set size); empty off Linux."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in fields:
                    out[f"{name.lower()}_kb"] = int(value.split()[0])
    except OSError:
        pass
    return out


def _record_job_stats(label: str, status: str, started: float) -> None:
    path = os.environ.get(JOB_STATS_ENV)
    if not path:
        return
    import resource

    from launchers.experiment import _load_task, last_run

    cpu0, wall0 = time.process_time(), time.perf_counter()
    record = {
        "pid": os.getpid(), "experiment": label, "status": status, "seconds": time.perf_counter() - started,
        "tuner_seconds": last_run.tuner_seconds if status == "done" else 0.0,
        "tuner_cpu_seconds": last_run.tuner_cpu_seconds if status == "done" else 0.0,
        # kB on Linux; getrusage's maximum survives execve, so a worker forked from a big parent reports at
        # least the parent's size there: VmHWM (this process image's own peak) is the figure to use.
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, **_status_kb("VmHWM", "VmRSS"),
        "blackbox_loads": _load_task.cache_info().misses, **_mapped_tables_kb(),
    }
    # What collecting this record cost (reading /proc/self/smaps takes milliseconds): the benchmark subtracts
    # it, as it subtracts the simulation, so the instrumentation is not counted as the sweep's fixed cost.
    record["stats_cpu_seconds"] = time.process_time() - cpu0
    record["stats_seconds"] = time.perf_counter() - wall0
    _append_line(path, (json.dumps(record) + "\n").encode())


def run_job(cfg: DictConfig | Mapping[str, Any], method_choice: str | None = None,
            sweep_dir: Path | None = None) -> str:
    """Run one job of a sweep (skipped when complete), printing its start, end and the sweep's progress.

    Called by Hydra with the job's config, and by ``launchers.sweep_runner`` with an already resolved one
    (``method_choice``: the ``method`` group option; ``sweep_dir``: where the progress counter lives).
    """
    from launchers.experiment import run_experiment
    from launchers.study import is_complete

    started = time.perf_counter()
    spec = experiment_spec_from_config(cfg, method_choice)
    skip_complete = bool(cfg["skip_complete"])
    label = f"{spec.benchmark.name} / {spec.method} / seed {spec.seed}"
    if skip_complete and is_complete(spec.path):
        print(f"[arena] skip (complete): {label}{_progress(sweep_dir)}", flush=True)
        _record_job_stats(label, "skipped", started)
        return spec.path
    print(f"[arena] start: {label}", flush=True)
    path = run_experiment(spec, skip_complete=skip_complete)
    print(f"[arena] done: {label} -> {path}{_progress(sweep_dir)}", flush=True)
    _record_job_stats(label, "done", started)
    return path


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> str:
    return run_job(cfg)


def _simple_override(argv: Sequence[str], key: str) -> str | None:
    for arg in argv:
        if arg.startswith((f"{key}=", f"+{key}=")):
            return arg.split("=", 1)[1]
    return None


def _override_values(argv: Sequence[str], key: str) -> list[str]:
    """Plain values given to ``key=`` (comma lists split; sweep functions such as glob(...) left out)."""
    values: list[str] = []
    for arg in argv:
        if not arg.startswith(f"{key}="):
            continue
        value = arg.split("=", 1)[1].strip()
        if "(" in value:  # glob(...), choice(...), range(...): Hydra expands and checks these itself
            continue
        values += [v.strip().strip("'\"") for v in value.split(",") if v.strip()]
    return values


def check_names(argv: Sequence[str], config_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Fail before anything is written (not even study.json) when a method or benchmark name is unknown."""
    from baselines.registry import list_methods
    from benchmark_definitions.registry import all_benchmarks
    from blackbox_repo.search_space import closest_choices_message
    from launchers.user_methods import prepare as prepare_user_methods

    # Class paths and the user's method YAMLs are checked (and class paths' nodes written) here.
    unknown_methods = prepare_user_methods(argv, _override_values(argv, "method"), list_methods())
    for key, valid in (("method", list_methods()), ("benchmark", list(all_benchmarks(config_dirs)))):
        for value in _override_values(argv, key):
            if value not in valid and (key != "method" or value in unknown_methods):
                raise SystemExit(f"arena sweep: {closest_choices_message(key, value, valid)}")
    _check_objectives(argv, config_dirs)


def _check_objectives(argv: Sequence[str], config_dirs: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse multi-objective methods on single-objective benchmarks before the study starts."""
    from benchmark_definitions.registry import all_benchmarks
    from launchers.objective_checks import ObjectivesMismatch, check_sweep_objectives

    benchmarks = all_benchmarks(config_dirs)
    try:
        check_sweep_objectives(_override_values(argv, "method"),
                               [benchmarks[b] for b in _override_values(argv, "benchmark")])
    except ObjectivesMismatch as err:
        raise SystemExit(f"arena sweep: {err}") from None


def prepare_study(argv: Sequence[str], plan: SweepPlan | None = None) -> list[str]:
    """Resolve the study's master seed and return argv with ``master_seed=<seed>`` set; record the sweep's
    jobs in ``study.json`` (what ``arena results check`` expects to find)."""
    from launchers.study import ensure_study, record_sweep

    base = OmegaConf.load(Path(CONF_DIR) / "config.yaml")
    tag = _simple_override(argv, "tag") or str(base.tag)
    root = _simple_override(argv, "results_root") or os.environ.get("HPO_ARENA_RESULTS", "arena-results")
    if plan is not None:  # the values every job resolved (interpolations included)
        tag, root = plan.tag, plan.results_root
    given = _simple_override(argv, "master_seed")
    if tag and ("," in tag or "(" in tag):
        raise SystemExit("tag must be a single value (one study per sweep)")
    try:
        requested = None if given in (None, "null") else int(given)
    except ValueError:
        raise SystemExit(f"arena sweep: master_seed must be an integer, got {given!r}") from None
    try:
        master = ensure_study(root, tag, requested)
    except ValueError as err:  # a different seed than the recorded one: would break the pairing
        raise SystemExit(f"arena sweep: {err}") from None
    rest = [a for a in argv if not a.startswith(("master_seed=", "+master_seed="))]
    if plan is not None:
        record_sweep(root, tag, rest, [job.to_dict() for job in plan.jobs])
    print(f"[arena] study {tag!r} in {root}: master seed {master}", flush=True)
    return _insert_override(rest, f"master_seed={master}")


# Hydra's flags that take a value (the value is not an override).
_VALUE_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn", "--package", "-p",
                "--experimental-rerun", "--cfg", "-c", "--info", "-i")


def _insert_override(argv: Sequence[str], override: str) -> list[str]:
    """``argv`` with ``override`` right after the last other override: Hydra's argument parser takes them as one
    run of positional arguments, so an override after a flag such as ``--config-dir DIR`` would be refused."""
    args = list(argv)
    last = [i for i, arg in enumerate(args)
            if not arg.startswith("-") and "=" in arg and (i == 0 or args[i - 1] not in _VALUE_FLAGS)]
    if not last:
        return [override, *args]  # no other override: in front of the flags
    return [*args[: last[-1] + 1], override, *args[last[-1] + 1:]]


class _GroupOptions:
    """The one method of Hydra's ConfigLoader the override parser needs to expand ``glob(...)`` sweeps."""

    def get_group_options(self, group_name: str, results_filter: Any = None, config_name: str | None = None,
                          overrides: list[str] | None = None) -> list[str]:
        from launchers.user_methods import search_path_folders

        folders = [Path(CONF_DIR) / group_name]
        if _GeneratedConfigs.folder is not None:
            folders.append(_GeneratedConfigs.folder / group_name)
        folders += [folder / group_name for folder in search_path_folders()]
        return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})


def count_sweep_jobs(argv: Sequence[str]) -> int | None:
    """How many jobs Hydra's basic sweeper makes of ``argv`` (the product of the sweeps' lengths, the last
    override of a key winning), or None when it cannot tell (another sweeper, command-line flags, overrides
    Hydra will reject with its own message)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    if not any(a in ("-m", "--multirun") for a in argv):
        return 1
    overrides = [a for a in argv if a not in ("-m", "--multirun")]
    if any(a.startswith(("-", "hydra/sweeper", "hydra.sweeper")) for a in overrides):
        return None
    try:
        parser = OverridesParser.create(config_loader=_GroupOptions())  # type: ignore[arg-type]
        parsed = parser.parse_overrides(overrides)
        sizes = {o.get_key_element(): len(list(o.sweep_string_iterator())) if o.is_sweep_override() else 1
                 for o in parsed}
    except (HydraException, ValueError, TypeError):
        return None
    return math.prod(sizes.values())


def run_sweep_cli(argv: Sequence[str]) -> int:
    """``arena sweep [hydra args]``: register configs, fix the master seed, run Hydra."""
    from benchmark_definitions.user import UserBenchmarkError

    try:
        config_dirs = user_config_dirs(argv)
        register_configs(config_dirs)
    except UserBenchmarkError as err:
        raise SystemExit(f"arena sweep: {err}") from None
    argv = list(argv)
    if any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c") for a in argv):
        sys.argv = ["arena sweep", *argv]
        _hydra_main()
        return 0
    check_names(argv, config_dirs)
    from benchmark_definitions.data_check import require_data  # names `arena data get ...` for missing data

    require_data(_override_values(argv, "benchmark"), _simple_override(argv, "blackbox_root"), config_dirs)
    argv = force_method_overrides(argv)
    try:
        plan = validate_sweep(argv)  # every job's configuration, before anything is written
    except SweepValidationError as err:
        raise SystemExit(f"arena sweep: {err}") from None
    argv = prepare_study(argv, plan)
    # Last, so that every check above sees the folders as given; Hydra gets them from the search-path plugin.
    argv = _without_config_dir_flags(argv)
    size = count_sweep_jobs(argv)
    from launchers.local_backend import SWEEP_PID_ENV

    sweep_env = {SWEEP_ID_ENV: f"{os.getpid()}-{time.time_ns()}",
                 SWEEP_SIZE_ENV: None if size is None else str(size),
                 SWEEP_PID_ENV: str(os.getpid())}  # jobs in worker processes end with a killed sweep
    previous = {key: os.environ.get(key) for key in sweep_env}
    _set_env(sweep_env)  # read by the jobs, in this process or in the launcher's child processes
    try:
        from launchers.sweep_runner import launch_settings, run_planned_sweep

        # basic / joblib / ray: run the validated plan's configurations (no second composition, no per-job wrapper)
        settings = launch_settings(argv, plan)
        if settings is not None:
            assert plan is not None
            return run_planned_sweep(plan.with_master_seed(int(_simple_override(argv, "master_seed") or 0)),
                                     settings)
        sys.argv = ["arena sweep", *argv]
        _hydra_main()
    finally:
        _set_env(previous)
    return 0


def _set_env(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def main() -> None:  # python -m launchers.hydra_app ...
    raise SystemExit(run_sweep_cli(sys.argv[1:]))


if __name__ == "__main__":
    main()
