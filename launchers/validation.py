"""The validation pass of ``arena sweep``: every job's full configuration is checked before any job starts and
before anything is written (not even ``study.json``).

What is checked, for every job of the sweep (Hydra's basic sweeper expansion of the command line):

- the tag is one plain folder name (``tag=..``, ``tag=a/b`` or ``tag=`` would write outside the results root or
  where ``arena results check`` and ``arena plot`` never look);
- the seed is a non-negative integer (``seed=1.5`` and ``seed=true`` used to run silently as seed 1);
- the benchmark's budget (``max_wallclock_time > 0``, ``n_workers >= 1``, ...: ``SimulatedBenchmark`` and
  ``RealBenchmark`` validate themselves when built);
- the method is built for the job's benchmark exactly as the job would build it
  (``launchers.experiment.build_scheduler``): unknown keys, wrong types (``method.grace_period=abc``), values
  out of range (negative ones) and method x benchmark incompatibilities (``GRID`` on a table of random
  configurations, whose grid holds none of them; a method that transfers checkpoints on a simulated
  benchmark) are refused by the registry and the constructors themselves, so the pass can never disagree with
  the run.

Every problem is collected and reported at once, grouped by message, as a short text without traceback. The
pass is cheap: Hydra composes each distinct method and benchmark choice once and every job's configuration is
assembled from those (``launchers.sweep_compose``), a method is built once per distinct (method, benchmark)
pair, and blackboxes are memory-mapped and cached per process (the first job of a sequential sweep reuses
them). The plan keeps every job's configuration, which ``arena sweep`` then runs for Hydra's basic and joblib
launchers without composing it again (``launchers.sweep_runner``).

``validate_sweep(argv)`` is what ``arena sweep`` calls; ``validate_jobs(configs)`` checks already composed job
configurations (one mapping per job with the keys of ``launchers/conf/config.yaml``) and can be called by any
other code that starts experiments.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
TAG_RULE = ("a tag is one folder name made of letters, digits, '.', '_' and '-' that starts with a letter or a "
            "digit (e.g. tag=my-study): results go to <results_root>/<tag>/, where `arena results check` and "
            "`arena plot` look for them")
SEED_RULE = "the seed is a non-negative integer (e.g. seed=0, or seed='range(0,5)' for seeds 0..4)"
_GROUPS = ("method", "benchmark")
MAX_JOBS_SHOWN = 3


def check_tag(tag: Any) -> str | None:
    """Why ``tag`` cannot name a study (None when it can)."""
    if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
        return f"tag={tag!r} is not a valid tag: {TAG_RULE}"
    return None


def check_seed(seed: Any) -> str | None:
    """Why ``seed`` cannot be an experiment's seed (None when it can)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return f"seed={seed!r} is not a valid seed: {SEED_RULE}"
    return None


@dataclass(frozen=True)
class Job:
    """One experiment of a sweep, as recorded in ``study.json``."""

    benchmark: str
    method: str
    seed: int

    def label(self) -> str:
        return f"{self.benchmark} / {self.method} / seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "method": self.method, "seed": self.seed}


@dataclass(frozen=True)
class JobProblem:
    """A problem of one job's configuration."""

    job: str  # "benchmark / method / seed" (or the job's overrides when they could not be composed)
    message: str


@dataclass(frozen=True)
class PlannedRun:
    """One job of the sweep, in the order of Hydra's basic sweeper: its overrides, its resolved configuration
    (keys of ``launchers/conf/config.yaml``) and its ``method`` group option (a user YAML's file name)."""

    overrides: tuple[str, ...]
    config: dict[str, Any]
    method_choice: str | None


@dataclass
class SweepPlan:
    """What a valid sweep will run."""

    tag: str
    results_root: str
    jobs: list[Job] = field(default_factory=list)  # distinct experiments (recorded in study.json)
    runs: list[PlannedRun] = field(default_factory=list)  # every job, duplicates included, in sweep order

    def with_master_seed(self, master_seed: int) -> SweepPlan:
        """The plan with the study's master seed in every job (``arena sweep`` resolves it after validation and
        passes it to Hydra's jobs as the override ``master_seed=<seed>``)."""
        override = f"master_seed={master_seed}"
        runs = [PlannedRun((*(o for o in run.overrides if o.lstrip("+").split("=", 1)[0] != "master_seed"),
                            override), {**run.config, "master_seed": master_seed}, run.method_choice)
                for run in self.runs]
        return SweepPlan(self.tag, self.results_root, list(self.jobs), runs)


class SweepValidationError(ValueError):
    """One or more jobs of a sweep are invalid; the message lists every problem once."""

    def __init__(self, problems: Sequence[JobProblem], n_jobs: int):
        self.problems = list(problems)
        self.n_jobs = n_jobs
        super().__init__(format_problems(self.problems, n_jobs))


def format_problems(problems: Sequence[JobProblem], n_jobs: int) -> str:
    """Problems grouped by message: each message once, with (a few of) the jobs it concerns."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        grouped.setdefault(problem.message, [])
        if problem.job and problem.job not in grouped[problem.message]:
            grouped[problem.message].append(problem.job)
    lines = [(f"{len(grouped)} problem(s) in the sweep ({n_jobs} job(s)); no job was started and nothing was "
              "written:")]
    for message, jobs in grouped.items():
        shown = ", ".join(jobs[:MAX_JOBS_SHOWN]) + (f" and {len(jobs) - MAX_JOBS_SHOWN} more"
                                                    if len(jobs) > MAX_JOBS_SHOWN else "")
        lines.append(f"  - {message}" + (f" [{shown}]" if shown else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Command line -> one override list per job
# ---------------------------------------------------------------------------------------------------------


def force_method_overrides(argv: Sequence[str]) -> list[str]:
    """``method.KEY=V`` -> ``++method.KEY=V``.

    In a multirun Hydra first composes the sweep's config with the default method and checks
    ``method.grace_period=2`` against it (failing with "Key 'grace_period' is not in struct" when the default
    method lacks the key, although every swept method has it). ``++`` sets the key whether or not the node has
    it; keys that the job's method does not accept are then refused by the validation pass, with the list of
    valid ones, before any job starts.
    """
    return [f"++{arg}" if arg.startswith("method.") and "=" in arg else arg for arg in argv]


# Hydra's command-line flags that take a value as the next argument.
_FLAGS_WITH_VALUE = {"--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn",
                     "--experimental-rerun"}


def split_command_line(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(overrides, config folders given with ``--config-dir``) of an ``arena sweep`` command line."""
    overrides: list[str] = []
    config_dirs: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        flag, _, inline = arg.partition("=")
        if arg.startswith("-") and flag in _FLAGS_WITH_VALUE:
            value = inline if inline else (args[i + 1] if i + 1 < len(args) else "")
            if flag in ("--config-dir", "-cd") and value:
                config_dirs.append(value)
            i += 1 if inline else 2
            continue
        if not arg.startswith("-"):
            overrides.append(arg)
        i += 1
    return overrides, config_dirs


def expand_sweep(argv: Sequence[str]) -> list[list[str]] | None:
    """One override list per job, as Hydra's basic sweeper forms them (None for another sweeper, or a command
    line Hydra will refuse with its own message).

    Raises ``SweepValidationError`` when a sweep holds no value (``seed='range(0,0)'``, a ``glob(...)`` that
    matches no name), naming the override.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from launchers.hydra_app import _GroupOptions

    overrides, config_dirs = split_command_line(argv)
    if any(a.startswith(("hydra/sweeper", "hydra.sweeper")) for a in overrides):
        return None
    parser = OverridesParser.create(config_loader=_GroupOptions())  # type: ignore[arg-type]
    try:
        parsed = parser.parse_overrides(overrides)
    except HydraException:  # a syntax error: Hydra reports it with its own message when it starts
        return None
    empty = []
    for override in parsed:
        if override.is_sweep_override() and not list(override.sweep_string_iterator()):
            key = override.get_key_element()
            text = override.input_line or key
            if key == "seed":
                empty.append(JobProblem("", f"{text}: the seed range is empty, so the sweep holds no experiment; "
                                            "give e.g. seed='range(0,5)' for seeds 0..4"))
            elif key in _GROUPS:
                hint = " (see `arena benchmarks list`)" if key == "benchmark" else ""
                empty.append(JobProblem("", f"the sweep holds no experiment: {text}: a glob(...) matched no "
                                            f"{key} name{hint}"))
            else:
                empty.append(JobProblem("", f"{text} holds no value, so the sweep holds no experiment"))
    if empty:
        raise SweepValidationError(empty, 0)
    batches = BasicSweeper.split_arguments(parsed, None)
    extra = [f"hydra.searchpath=[{','.join('file://' + os.path.abspath(d) for d in config_dirs)}]"] \
        if config_dirs else []
    return [[*job, *extra] for batch in batches for job in batch]


def compose_job_configs(jobs: Sequence[Sequence[str]]) -> tuple[list[dict[str, Any] | None], list[JobProblem]]:
    """The resolved configuration of every job (None for a job Hydra could not compose, with its problem).

    ``launchers.sweep_compose.SweepComposer``: Hydra composes each distinct method and benchmark choice once,
    and each job's configuration is assembled from those trees with its value overrides applied by Hydra's
    own function (equal to Hydra's composition of the job, a few milliseconds instead of ~0.1 s).
    """
    from launchers.sweep_compose import compose_configs

    configs: list[dict[str, Any] | None] = []
    problems: list[JobProblem] = []
    for job, composed in zip(jobs, compose_configs(jobs)):
        if isinstance(composed, Exception):
            text = str(composed).strip()
            problems.append(JobProblem(" ".join(job), text.splitlines()[0] if text else repr(composed)))
            configs.append(None)
        else:
            configs.append(composed)
    return configs, problems


# ---------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------


def _method_problem(err: Exception) -> str:
    from baselines.registry import UnknownMethodArgumentError

    if isinstance(err, UnknownMethodArgumentError):
        keys = ", ".join(f"method.{k}" for k in err.unknown)
        return f"{keys}: {err}"
    if isinstance(err, (ValueError, KeyError)):
        return str(err).strip("'\"") if isinstance(err, KeyError) else str(err)
    return f"{type(err).__name__}: {err}"


def validate_jobs(configs: Iterable[Mapping[str, Any]]) -> list[JobProblem]:
    """Check composed job configurations (keys of ``launchers/conf/config.yaml``); returns every problem.

    Nothing is written and no experiment runs; each distinct (method, benchmark, blackbox root) is built once.
    """
    from benchmark_definitions.definitions import RealBenchmark, benchmark_from_dict
    from launchers.experiment import ExperimentSpec, build_scheduler, resolve_script
    from launchers.tensorboard_log import parse_tensorboard_option, require_tensorboard
    from launchers.user_methods import resolve_method_node

    problems: list[JobProblem] = []
    built: dict[str, list[str]] = {}
    pending: list[tuple[str, str, Mapping[str, Any], Mapping[str, Any], str | None]] = []
    for cfg in configs:
        try:  # a built-in name, a class path, or a user YAML's _target_ (as the job itself resolves it)
            method, target, method_cfg = resolve_method_node(dict(cfg.get("method") or {}), None)
        except ValueError as err:
            problems.append(JobProblem(f"{(cfg.get('benchmark') or {}).get('name', '?')} / seed {cfg.get('seed')}",
                                       str(err)))
            continue
        bench_cfg = dict(cfg.get("benchmark") or {})
        seed = cfg.get("seed")
        label = f"{bench_cfg.get('name', '?')} / {method} / seed {seed}"
        for message in (check_tag(cfg.get("tag")), check_seed(seed)):
            if message:
                problems.append(JobProblem(label, message))
        master_seed = cfg.get("master_seed")
        if master_seed is not None and (isinstance(master_seed, bool) or not isinstance(master_seed, int)
                                        or master_seed < 0):
            problems.append(JobProblem(label, f"master_seed={master_seed!r} must be a non-negative integer"))
        root = cfg.get("results_root")
        if not isinstance(root, str) or not root.strip():
            problems.append(JobProblem(label, f"results_root={root!r} must name a folder or an fsspec URL"))
        try:
            if parse_tensorboard_option(cfg.get("tensorboard", "auto")):
                if isinstance(root, str) and "://" in root and not root.startswith("file://"):
                    raise ValueError(f"tensorboard=true writes event files into the results folder, which must be "
                                     f"local; results_root={root} is not (use tensorboard=false or a local root)")
                require_tensorboard()
        except (ValueError, ImportError) as err:
            problems.append(JobProblem(label, str(err)))
        blackbox_root = cfg.get("blackbox_root")
        key = json.dumps([method, target, method_cfg, bench_cfg, blackbox_root], sort_keys=True, default=str)
        pending.append((key, label, method_cfg, bench_cfg, None if blackbox_root is None else str(blackbox_root)))

    # Build each distinct (method, benchmark) once, grouped by benchmark so cached blackboxes are reused.
    for key, label, method_cfg, bench_cfg, blackbox_root in sorted(pending, key=lambda p: str(p[3].get("name"))):
        if key not in built:
            built[key] = []
            try:
                bench = benchmark_from_dict(bench_cfg)
                if isinstance(bench, RealBenchmark):
                    try:
                        resolve_script(bench.script)
                    except FileNotFoundError as err:
                        built[key].append(str(err))
                method, target = json.loads(key)[:2]
                spec = ExperimentSpec(benchmark=bench, method=method, seed=0, master_seed=0, tag="validation",
                                      results_root="unused", method_kwargs=dict(method_cfg), method_target=target,
                                      blackbox_root=blackbox_root)
                build_scheduler(spec)
            except Exception as err:  # noqa: BLE001 - any error the job would hit building its method is a problem
                built[key].append(_method_problem(err))
        problems += [JobProblem(label, message) for message in built[key]]
    return problems


def validate_sweep(argv: Sequence[str]) -> SweepPlan | None:
    """Check every job of ``arena sweep ARGV``; the plan of what will run, or None when the sweep uses a
    sweeper other than Hydra's basic one (its jobs are not known in advance).

    Raises ``SweepValidationError`` listing every problem.
    """
    jobs = expand_sweep(argv)
    if jobs is None:
        return None
    configs, problems = compose_job_configs(jobs)
    valid = [c for c in configs if c is not None]
    problems += validate_jobs(valid)
    if problems:
        raise SweepValidationError(problems, len(jobs))
    tags = {str(c["tag"]) for c in valid}
    roots = {str(c["results_root"]) for c in valid}
    if len(tags) > 1 or len(roots) > 1:
        raise SweepValidationError(
            [JobProblem("sweep", "tag and results_root must each take a single value (one study per sweep)")],
            len(jobs),
        )
    plan = SweepPlan(tag=tags.pop(), results_root=roots.pop())
    from launchers.user_methods import resolve_method_node

    configs_of: dict[Job, set[str]] = {}
    for overrides, cfg in zip(jobs, configs):
        if cfg is None:
            continue
        # The folder name the job will use: a user YAML's file name (its group choice), else the method's name.
        choice = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+") == "method"), None)
        method = resolve_method_node(cfg["method"], choice)[0]
        plan.runs.append(PlannedRun(tuple(overrides), cfg, choice))
        job = Job(str(cfg["benchmark"]["name"]), method, int(cfg["seed"]))
        if job not in configs_of:
            configs_of[job] = set()
            plan.jobs.append(job)
        configs_of[job].add(json.dumps([cfg["method"], cfg["benchmark"]], sort_keys=True, default=str))
    clashes = [JobProblem(job.label(), f"{len(keys)} jobs with different method or benchmark settings would "
                                       f"write the same folder <tag>/{job.benchmark}/{job.method}/{job.seed}; "
                                       "sweep their settings in separate tags, or give them distinct names")
               for job, keys in configs_of.items() if len(keys) > 1]
    if clashes:
        raise SweepValidationError(clashes, len(jobs))
    return plan
