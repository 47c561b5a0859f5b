"""Benchmark definitions: a named tuning problem = what to tune, what to optimise, and the budget.

``SimulatedBenchmark`` runs against a blackbox from the repository (a table or a surrogate);
``RealBenchmark`` runs a training script for real through the local backend (or SageMaker);
``FunctionBenchmark`` runs against a Python function (``blackbox_repo.function``): a shipped synthetic
function by name, or a ``FunctionProblem`` of the user's as ``module.path:attribute`` / ``file.py:attribute``.
All are plain frozen dataclasses: Hydra turns them into config nodes and back.

Multi-objective benchmarks (``SimulatedBenchmark`` and ``FunctionBenchmark``) list their objectives in
``metrics`` with one direction each in ``modes``; ``metric``/``mode`` stay the first of them (the primary
objective, which single-objective methods optimise). ``metrics=[]`` (the default) is a single-objective
benchmark. A ``constraint`` ``{"metric": NAME, "threshold": VALUE}`` marks results with ``NAME <= VALUE`` as
feasible (a property of the problem, recorded with the results). See ``objectives_of``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_budget(benchmark: SimulatedBenchmark | RealBenchmark) -> None:
    """Refuse budgets that would run nothing or never stop, all problems in one message.

    ``max_wallclock_time=0`` used to complete with no result at all (and ``arena table`` then showed
    ``nan [nan, nan]``); ``n_workers=0`` would never start a trial.
    """
    problems = []
    if not (_is_number(benchmark.max_wallclock_time) and math.isfinite(benchmark.max_wallclock_time)
            and benchmark.max_wallclock_time > 0):
        problems.append(f"max_wallclock_time must be a number of seconds > 0, got {benchmark.max_wallclock_time!r}")
    if isinstance(benchmark.n_workers, bool) or not isinstance(benchmark.n_workers, int) or benchmark.n_workers < 1:
        problems.append(f"n_workers must be an integer >= 1, got {benchmark.n_workers!r}")
    max_evaluations = getattr(benchmark, "max_evaluations", None)
    if max_evaluations is not None and (isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int)
                                        or max_evaluations < 1):
        problems.append(f"max_evaluations must be an integer >= 1 (or null for no cap), got {max_evaluations!r}")
    if benchmark.max_fidelity is not None and not (_is_number(benchmark.max_fidelity) and benchmark.max_fidelity > 0):
        problems.append(f"max_fidelity must be a number > 0, got {benchmark.max_fidelity!r}")
    trial_timeout = getattr(benchmark, "trial_timeout", None)
    if isinstance(benchmark, RealBenchmark) and not (_is_number(trial_timeout) and trial_timeout > 0):
        problems.append(f"trial_timeout must be a number of seconds > 0, got {trial_timeout!r}")
    if benchmark.mode not in ("min", "max"):
        problems.append(f"mode must be 'min' or 'max', got {benchmark.mode!r}")
    if problems:
        raise ValueError(f"benchmark {benchmark.name}: " + "; ".join(problems))


@dataclass(frozen=True)
class SimulatedBenchmark:
    name: str
    blackbox: str  # repository name, e.g. "fcnet"
    task: str  # the blackbox's task (dataset), e.g. "protein_structure"
    metric: str
    mode: str  # "min" | "max"
    max_wallclock_time: float  # simulated seconds
    n_workers: int = 4
    time_objective: str | None = None  # None: the blackbox's own (metadata.time_objective)
    resource_attr: str | None = None  # None: the blackbox's fidelity name
    max_fidelity: float | None = None  # None: the blackbox's largest fidelity
    max_evaluations: int | None = None  # optional cap on reported results
    surrogate: str | None = None  # e.g. "knn"; None: query the table as it is
    surrogate_kwargs: dict[str, Any] = field(default_factory=dict)
    restrict_to_table: bool = False  # methods only propose configurations the table holds
    repository: str | None = None  # where the blackbox is stored; None: the sweep's blackbox_root / default
    metrics: list[str] = field(default_factory=list)  # multi-objective: every objective, metrics[0] == metric
    modes: list[str] = field(default_factory=list)  # one "min" | "max" per entry of metrics
    constraint: dict[str, Any] | None = None  # {"metric": NAME, "threshold": VALUE}: feasible iff NAME <= VALUE
    # Leave-one-task-out transfer (``launchers.transfer_data``): transfer methods get the evaluations of the
    # source tasks, never of ``task``; empty ``source_tasks``: every other task of the blackbox.
    transfer: bool = False
    source_tasks: list[str] = field(default_factory=list)
    family: str = ""
    description: str = ""
    kind: str = "simulated"

    def __post_init__(self) -> None:
        check_budget(self)
        check_objectives(self)
        check_transfer(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RealBenchmark:
    name: str
    script: str  # path relative to the project root, or absolute
    config_space: dict[str, Any]  # SearchSpace.to_dict()
    metric: str
    mode: str
    resource_attr: str
    max_fidelity: float
    max_wallclock_time: float  # real seconds
    n_workers: int = 2
    trial_timeout: float = 600.0  # seconds per trial before it is killed and marked failed
    script_args: list[str] = field(default_factory=list)  # extra command-line arguments of the script
    # Keep the trials' work folder (checkpoints, stdout/stderr logs) after the experiment; its path is recorded
    # in metadata.json ``workdir``. By default it is removed (stderr tails of failed trials are in trials.parquet).
    keep_workdir: bool = False
    sagemaker_instance_type: str = "ml.m5.large"
    family: str = ""
    description: str = ""
    kind: str = "real"

    def __post_init__(self) -> None:
        check_budget(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FunctionBenchmark:
    """A simulated benchmark whose blackbox is a Python function (``blackbox_repo.function.FunctionProblem``).

    ``function`` is a synthetic function's name (``blackbox_repo.synthetic_functions``), or
    ``module.path:attribute`` / ``path/to/file.py:attribute`` naming a ``FunctionProblem`` or a function
    returning one (called with ``function_kwargs``). Time comes from the problem's time model.
    """

    name: str
    function: str
    metric: str
    mode: str
    max_wallclock_time: float  # simulated seconds
    n_workers: int = 4
    function_kwargs: dict[str, Any] = field(default_factory=dict)
    max_fidelity: float | None = None  # None: the function's largest fidelity
    max_evaluations: int | None = None  # optional cap on reported results
    metrics: list[str] = field(default_factory=list)  # multi-objective: every objective, metrics[0] == metric
    modes: list[str] = field(default_factory=list)  # one "min" | "max" per entry of metrics
    constraint: dict[str, Any] | None = None  # {"metric": NAME, "threshold": VALUE}: feasible iff NAME <= VALUE
    family: str = ""
    description: str = ""
    kind: str = "function"

    def __post_init__(self) -> None:
        check_objectives(self)

    # What the simulated path of an experiment reads from any simulated benchmark (not settable here).
    time_objective = None
    resource_attr = None
    restrict_to_table = False
    surrogate = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Benchmark = SimulatedBenchmark | RealBenchmark | FunctionBenchmark


@dataclass(frozen=True)
class Objectives:
    """What a benchmark optimises: its objective names with their directions, and an optional constraint."""

    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    constraint_metric: str | None = None
    constraint_threshold: float | None = None

    @property
    def is_multi_objective(self) -> bool:
        return len(self.metrics) > 1

    def describe(self) -> str:
        text = ", ".join(f"{m} ({mode})" for m, mode in zip(self.metrics, self.modes))
        if self.constraint_metric is not None:
            text += f"; s.t. {self.constraint_metric} <= {self.constraint_threshold:g}"
        return text


def objectives_of(benchmark: Benchmark) -> Objectives:
    """The objectives of any benchmark: ``metrics``/``modes`` when set, else the single ``metric``/``mode``."""
    metrics = list(getattr(benchmark, "metrics", None) or [benchmark.metric])
    modes = list(getattr(benchmark, "modes", None) or [benchmark.mode])
    constraint = getattr(benchmark, "constraint", None)
    if constraint:
        return Objectives(tuple(metrics), tuple(modes), str(constraint["metric"]), float(constraint["threshold"]))
    return Objectives(tuple(metrics), tuple(modes))


def check_objectives(benchmark: SimulatedBenchmark | FunctionBenchmark) -> None:
    """Refuse inconsistent objective declarations, naming the field to fix."""
    name, metrics, modes = benchmark.name, list(benchmark.metrics), list(benchmark.modes)
    if metrics or modes:
        if len(metrics) != len(modes):
            raise ValueError(f"benchmark {name!r}: metrics {metrics} and modes {modes} must have the same length "
                             "(one direction per objective)")
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"benchmark {name!r}: metrics {metrics} lists an objective twice")
        bad = [m for m in modes if m not in ("min", "max")]
        if bad:
            raise ValueError(f"benchmark {name!r}: modes must be 'min' or 'max', got {bad}")
        if metrics[0] != benchmark.metric or modes[0] != benchmark.mode:
            raise ValueError(
                f"benchmark {name!r}: the first objective ({metrics[0]!r}, {modes[0]!r}) must be the primary "
                f"metric and mode ({benchmark.metric!r}, {benchmark.mode!r}); set metric/mode to the first of "
                "metrics/modes"
            )
    if benchmark.constraint is not None:
        constraint = benchmark.constraint
        if not isinstance(constraint, dict) or set(constraint) != {"metric", "threshold"}:
            raise ValueError(f"benchmark {name!r}: constraint must be {{'metric': NAME, 'threshold': VALUE}}, "
                             f"got {constraint!r}")
        try:
            float(constraint["threshold"])
        except (TypeError, ValueError):
            raise ValueError(f"benchmark {name!r}: constraint threshold must be a number, got "
                             f"{constraint['threshold']!r}") from None
        if constraint["metric"] in metrics:
            raise ValueError(f"benchmark {name!r}: the constraint metric {constraint['metric']!r} is also an "
                             "objective; constrain a different metric")
def check_transfer(benchmark: SimulatedBenchmark) -> None:
    """Refuse source tasks without transfer, and a target task among its own sources."""
    if not isinstance(benchmark.transfer, bool):
        raise ValueError(  # noqa: TRY004 - definitions report every bad field as a ValueError
            f"benchmark {benchmark.name!r}: transfer must be true or false, got {benchmark.transfer!r}")
    sources = list(benchmark.source_tasks)
    if sources and not benchmark.transfer:
        raise ValueError(f"benchmark {benchmark.name!r}: source_tasks {sources} are set but transfer is false; "
                         "set transfer: true to give transfer methods those tasks' evaluations")
    if benchmark.task in sources:
        raise ValueError(f"benchmark {benchmark.name!r}: the target task {benchmark.task!r} is among its own "
                         "source_tasks; transfer methods must never see the target's evaluations, remove it")
    if len(set(sources)) != len(sources):
        raise ValueError(f"benchmark {benchmark.name!r}: source_tasks {sources} lists a task twice")


BENCHMARK_KINDS: dict[str, type] = {"simulated": SimulatedBenchmark, "real": RealBenchmark,
                                    "function": FunctionBenchmark}


def benchmark_from_dict(d: dict[str, Any]) -> Benchmark:
    d = dict(d)
    kind = d.get("kind", "simulated")
    cls = BENCHMARK_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"benchmark kind must be one of {sorted(BENCHMARK_KINDS)}, got {kind!r}")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown keys {unknown} for a {kind} benchmark; valid keys: {sorted(known)}")
    return cls(**d)
