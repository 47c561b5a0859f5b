"""Benchmark definitions: a named tuning problem = what to tune, what to optimise, and the budget.

``SimulatedBenchmark`` runs against a blackbox from the repository (a table or a surrogate);
``RealBenchmark`` runs a training script for real through the local backend (or SageMaker);
``FunctionBenchmark`` runs against a Python function (``blackbox_repo.function``): a shipped synthetic
function by name, or a ``FunctionProblem`` of the user's as ``module.path:attribute`` / ``file.py:attribute``.
All are plain frozen dataclasses: Hydra turns them into config nodes and back.
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
    family: str = ""
    description: str = ""
    kind: str = "simulated"

    def __post_init__(self) -> None:
        check_budget(self)

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
    family: str = ""
    description: str = ""
    kind: str = "function"

    # What the simulated path of an experiment reads from any simulated benchmark (not settable here).
    time_objective = None
    resource_attr = None
    restrict_to_table = False
    surrogate = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Benchmark = SimulatedBenchmark | RealBenchmark | FunctionBenchmark
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
