"""An Azure ML HyperDrive-style facade: a HyperDrive configuration (SDK v1 ``HyperDriveConfig``) becomes a
``Scheduler``. The run queries HyperDrive users rely on (``HyperDriveRun``) live in
``results.hyperdrive_queries``: they read stored results, and ``baselines`` (methods) does not depend on the
results store (see the import rules in ARCHITECTURE.md).

Configuration, with HyperDrive's semantics (early-termination policies in ``baselines.early_termination``,
parameter expressions in ``blackbox_repo.hyperdrive``):

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
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from baselines.early_termination import (
    EarlyTerminationScheduler,
    NoTerminationPolicy,
    TerminationPolicy,
)
from baselines.random_search import RandomSearcher
from blackbox_repo import hyperdrive as expressions
from blackbox_repo.hyperdrive import PrimaryMetricGoal, goal_to_mode

__all__ = [
    "BayesianParameterSampling", "GridParameterSampling", "HyperDriveConfig", "HyperDriveNotImplementedError",
    "ParameterSampling", "PrimaryMetricGoal", "RandomParameterSampling", "goal_to_mode",
]
from blackbox_repo.search_space import Categorical, Domain, QUniform, SearchSpace, Uniform

RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN = 20
RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN = 20
MAX_TOTAL_RUNS = 1000
MAX_CONCURRENT_RUNS = 100
MAX_QUNIFORM_POINTS_BAYESIAN = 100_000


class HyperDriveNotImplementedError(ValueError):
    """A combination HyperDrive refuses (its ``HyperDriveNotImplemented``)."""


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
