"""An Azure ML HyperDrive-style facade: a HyperDrive configuration becomes a ``Scheduler``, and the run queries
HyperDrive users rely on work on our stored results.

Configuration (semantics of /work/shared/SEMANTICS.md, B.1):

    config = HyperDriveConfig(
        hyperparameter_sampling=RandomParameterSampling({"lr": loguniform(-9, -2), "depth": choice(2, 4, 8)}),
        primary_metric_name="accuracy", primary_metric_goal="maximize",
        policy=BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5),
        max_total_runs=100, max_concurrent_runs=4)
    scheduler = config.scheduler(fidelity_name="epoch", max_fidelity=50, seed=0)

- ``RandomParameterSampling``: every HyperDrive distribution. ``GridParameterSampling``: ``choice`` only,
  the whole Cartesian product. ``BayesianParameterSampling``: ``choice``, ``uniform`` and ``quniform`` (integer
  arguments, at most 100,000 points) only; it refuses an early termination policy (HyperDrive raises
  ``HyperDriveNotImplemented``), and warns if ``max_concurrent_runs > 20`` or if ``max_total_runs`` is below
  20 runs per hyperparameter.
- Limits: ``max_total_runs`` in 1..1000, ``max_concurrent_runs`` in 1..100 (default: all runs at once).

Run queries (``HyperDriveRun``): ``get_best_run_by_primary_metric``, ``get_children_sorted_by_primary_metric``,
``get_hyperparameters``, ``get_metrics``, over in-memory child runs or a results table in the layout of
``results.parquet`` (layout in ARCHITECTURE.md). A child's primary metric is the best value it logged.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pandas as pd

from baselines.early_termination import (
    EarlyTerminationScheduler,
    NoTerminationPolicy,
    TerminationPolicy,
)
from baselines.random_search import RandomSearcher
from blackbox_repo import hyperdrive as expressions
from blackbox_repo.search_space import Categorical, Domain, QUniform, SearchSpace, Uniform

RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN = 20
RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN = 20
MAX_TOTAL_RUNS = 1000
MAX_CONCURRENT_RUNS = 100
MAX_QUNIFORM_POINTS_BAYESIAN = 100_000


class HyperDriveNotImplementedError(ValueError):
    """A combination HyperDrive refuses (its ``HyperDriveNotImplemented``)."""


class PrimaryMetricGoal(str, Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


def goal_to_mode(goal: PrimaryMetricGoal | str) -> str:
    """``"maximize"`` / ``PrimaryMetricGoal.MAXIMIZE`` -> ``"max"``; same for minimise (case-insensitive)."""
    text = goal.value if isinstance(goal, PrimaryMetricGoal) else str(goal)
    key = text.strip().lower()
    if key in ("maximize", "max"):
        return "max"
    if key in ("minimize", "min"):
        return "min"
    raise ValueError(f"primary_metric_goal must be 'maximize' or 'minimize', got {goal!r}")


def _as_space(parameter_space: Mapping[str, Any] | SearchSpace) -> SearchSpace:
    if isinstance(parameter_space, SearchSpace):
        return parameter_space
    return expressions.search_space(parameter_space)


@dataclass
class RandomParameterSampling:
    parameter_space: Mapping[str, Any] | SearchSpace

    def __post_init__(self) -> None:
        self.space = _as_space(self.parameter_space)


@dataclass
class GridParameterSampling:
    parameter_space: Mapping[str, Any] | SearchSpace

    def __post_init__(self) -> None:
        self.space = _as_space(self.parameter_space)
        bad = [n for n, d in self.space.items() if not isinstance(d, Categorical)]
        if bad:
            raise ValueError(f"GridParameterSampling supports only choice(...) hyperparameters; {bad} are not")


@dataclass
class BayesianParameterSampling:
    parameter_space: Mapping[str, Any] | SearchSpace

    def __post_init__(self) -> None:
        self.space = _as_space(self.parameter_space)
        for name, dom in self.space.items():
            _check_bayesian_domain(name, dom)


def _check_bayesian_domain(name: str, dom: Domain) -> None:
    if isinstance(dom, (Categorical, Uniform)):
        return
    if isinstance(dom, QUniform):
        if not all(float(x).is_integer() for x in (dom.lower, dom.upper, dom.q)):
            raise ValueError(f"BayesianParameterSampling: quniform {name!r} needs integer arguments, got {dom!r}")
        points = int((dom.upper - dom.lower) // dom.q) + 1
        if points > MAX_QUNIFORM_POINTS_BAYESIAN:
            raise ValueError(
                f"BayesianParameterSampling: quniform {name!r} has {points} points; at most "
                f"{MAX_QUNIFORM_POINTS_BAYESIAN} are allowed"
            )
        return
    raise ValueError(
        f"BayesianParameterSampling supports only choice, uniform and quniform; {name!r} is {dom!r}"
    )


ParameterSampling = RandomParameterSampling | GridParameterSampling | BayesianParameterSampling


class HyperDriveConfig:
    """HyperDrive's run configuration, turned into a scheduler by ``scheduler()`` (see the module docstring)."""

    def __init__(
        self,
        hyperparameter_sampling: ParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        policy: TerminationPolicy | None = None,
    ):
        if not isinstance(hyperparameter_sampling, (RandomParameterSampling, GridParameterSampling,
                                                    BayesianParameterSampling)):
            raise TypeError(
                "hyperparameter_sampling must be RandomParameterSampling, GridParameterSampling or "
                f"BayesianParameterSampling, got {hyperparameter_sampling!r}"
            )
        if isinstance(max_total_runs, bool) or not isinstance(max_total_runs, int) \
                or not 1 <= max_total_runs <= MAX_TOTAL_RUNS:
            raise ValueError(f"max_total_runs must be an integer in 1..{MAX_TOTAL_RUNS}, got {max_total_runs!r}")
        if max_concurrent_runs is not None and (
                isinstance(max_concurrent_runs, bool) or not isinstance(max_concurrent_runs, int)
                or not 1 <= max_concurrent_runs <= MAX_CONCURRENT_RUNS):
            raise ValueError(
                f"max_concurrent_runs must be an integer in 1..{MAX_CONCURRENT_RUNS}, got {max_concurrent_runs!r}"
            )
        self.sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.mode = goal_to_mode(primary_metric_goal)
        self.max_total_runs = max_total_runs
        self.max_concurrent_runs = max_concurrent_runs
        self.policy = NoTerminationPolicy() if policy is None else policy
        if isinstance(hyperparameter_sampling, BayesianParameterSampling):
            self._check_bayesian()

    def _check_bayesian(self) -> None:
        if not isinstance(self.policy, NoTerminationPolicy):
            raise HyperDriveNotImplementedError(
                "Bayesian sampling does not support early termination policies: each run informs the model "
                "with its final result. Use policy=None (or NoTerminationPolicy()), or random sampling."
            )
        if self.max_concurrent_runs is not None \
                and self.max_concurrent_runs > RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN:
            warnings.warn(
                f"max_concurrent_runs={self.max_concurrent_runs} is above "
                f"{RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN}, the recommended maximum for Bayesian sampling: "
                "fewer concurrent runs converge better because more runs learn from finished ones.",
                UserWarning, stacklevel=3,
            )
        num_parameters = len(self.sampling.space.tunable_names)
        recommended = RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN * num_parameters
        if self.max_total_runs < recommended:
            warnings.warn(
                f"max_total_runs={self.max_total_runs} is below the recommended {recommended} "
                f"({RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN} per hyperparameter, {num_parameters} "
                "hyperparameters) for Bayesian sampling.",
                UserWarning, stacklevel=3,
            )

    @property
    def config_space(self) -> SearchSpace:
        return self.sampling.space

    def scheduler(
        self,
        fidelity_name: str | None = None,
        max_fidelity: float | None = None,
        fidelity_values: Sequence[float] | None = None,
        seed: int = 0,
    ) -> EarlyTerminationScheduler:
        space = self.config_space
        metric, mode = self.primary_metric_name, self.mode
        if isinstance(self.sampling, RandomParameterSampling):
            searcher = RandomSearcher(space, metric, mode, seed, max_fidelity=max_fidelity)
        elif isinstance(self.sampling, GridParameterSampling):
            from baselines.grid_search import GridSearcher

            searcher = GridSearcher(space, metric, mode, seed, max_fidelity=max_fidelity)
        else:
            from baselines.bayesian_optimization import BOSearcher

            searcher = BOSearcher(space, metric, mode, seed, max_fidelity=max_fidelity)
        return EarlyTerminationScheduler(
            space, metric, searcher, mode, seed, fidelity_name, max_fidelity, fidelity_values,
            max_trials=self.max_total_runs, policy=self.policy, max_concurrent=self.max_concurrent_runs,
        )


# ---------------------------------------------------------------------------------------------------------
# Run queries
# ---------------------------------------------------------------------------------------------------------

_STATUS_NAMES = {"completed": "Completed", "stopped": "Canceled", "failed": "Failed", "running": "Running",
                 "paused": "Paused"}
_RESERVED = {"trial_id", "fidelity", "sim_time", "real_time", "worker", "decision"}


@dataclass
class ChildRun:
    """One HyperDrive child run: its hyperparameters, every logged value of each metric, and its status."""

    run_id: int
    hyperparameters: dict[str, Any]
    metrics: dict[str, list[float]] = field(default_factory=dict)
    status: str = "Completed"  # Completed | Canceled | Failed | Running | Paused


class HyperDriveRun:
    """The parent run's queries over its child runs."""

    def __init__(self, children: Sequence[ChildRun], primary_metric_name: str,
                 primary_metric_goal: PrimaryMetricGoal | str):
        self.children = list(children)
        self.primary_metric_name = primary_metric_name
        self.mode = goal_to_mode(primary_metric_goal)

    @classmethod
    def from_results(
        cls,
        results: pd.DataFrame,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        trials: pd.DataFrame | None = None,
    ) -> HyperDriveRun:
        """Child runs from a ``results.parquet`` table (and optionally ``trials.parquet`` for statuses and
        runs that never reported)."""
        config_cols = [c for c in results.columns if c.startswith("config.")]
        metric_cols = [c for c in results.columns if c not in _RESERVED and not c.startswith("config.")]
        if primary_metric_name not in metric_cols:
            raise KeyError(
                f"primary metric {primary_metric_name!r} is not a column of the results; metrics: {metric_cols}"
            )
        children: dict[int, ChildRun] = {}
        for trial_id, group in results.groupby("trial_id", sort=True):
            first = group.iloc[0]
            children[int(trial_id)] = ChildRun(
                run_id=int(trial_id),
                hyperparameters={c[len("config."):]: _scalar(first[c]) for c in config_cols},
                metrics={m: [float(v) for v in group[m].to_numpy()] for m in metric_cols},
            )
        if trials is not None:
            trial_configs = [c for c in trials.columns if c.startswith("config.")]
            for rec in trials.to_dict("records"):
                trial_id = int(rec["trial_id"])
                child = children.get(trial_id)
                if child is None:
                    child = ChildRun(trial_id, {c[len("config."):]: _scalar(rec[c]) for c in trial_configs}, {})
                    children[trial_id] = child
                child.status = _STATUS_NAMES.get(str(rec["status"]), str(rec["status"]))
        return cls([children[t] for t in sorted(children)], primary_metric_name, primary_metric_goal)

    # ----------------------------------------------------------------------------------------------------
    def best_primary_metric(self, child: ChildRun) -> float | None:
        """The best finite value of the primary metric the child logged (``None`` if it logged none)."""
        values = [v for v in child.metrics.get(self.primary_metric_name, []) if not math.isnan(v)]
        if not values:
            return None
        return max(values) if self.mode == "max" else min(values)

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """Children best first by their best primary metric (``reverse``: worst first). Children without the
        metric come last in either order (or are dropped with ``discard_no_metric``). ``top > 0`` keeps the
        first ``top``. Each entry: ``run_id``, ``hyperparameters``, ``best_primary_metric``, ``status``."""
        if top < 0:
            raise ValueError(f"top must be >= 0 (0 = all children), got {top}")
        scored = [(self.best_primary_metric(c), c) for c in self.children]
        with_metric = [(v, c) for v, c in scored if v is not None]
        without = [(v, c) for v, c in scored if v is None]
        sign = -1.0 if self.mode == "max" else 1.0
        with_metric.sort(key=lambda vc: (sign * vc[0], vc[1].run_id))
        if reverse:
            with_metric.reverse()
        ordered = with_metric + ([] if discard_no_metric else without)
        if top:
            ordered = ordered[:top]
        return [{"run_id": c.run_id, "hyperparameters": dict(c.hyperparameters), "best_primary_metric": v,
                 "status": c.status} for v, c in ordered]

    def get_best_run_by_primary_metric(
        self, include_failed: bool = True, include_canceled: bool = True
    ) -> ChildRun | None:
        """The child with the best primary metric (``None`` if no child logged it)."""
        excluded = set()
        if not include_failed:
            excluded.add("Failed")
        if not include_canceled:
            excluded.add("Canceled")
        best: tuple[float, int, ChildRun] | None = None
        sign = -1.0 if self.mode == "max" else 1.0
        for child in self.children:
            value = self.best_primary_metric(child)
            if value is None or child.status in excluded:
                continue
            key = (sign * value, child.run_id, child)
            if best is None or key[:2] < best[:2]:
                best = key
        return None if best is None else best[2]

    def get_hyperparameters(self) -> dict[int, dict[str, Any]]:
        return {c.run_id: dict(c.hyperparameters) for c in self.children}

    def get_metrics(self) -> dict[int, dict[str, list[float]]]:
        return {c.run_id: {m: list(v) for m, v in c.metrics.items()} for c in self.children}


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
