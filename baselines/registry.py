"""Short method names -> schedulers.

    scheduler = make_method("ASHA", config_space, "val_error", "min", "epoch", 52, seed=0, grace_period=1)

Every method takes the benchmark's space, metric, mode, fidelity (name, maximum, optional list of values)
and seed; ``restrict_to`` (e.g. a table's configurations) is handed to the searcher. Other keyword arguments
are the method's own hyperparameters, routed to the scheduler or to the searcher by name; unknown ones are
rejected with the list of valid ones. Searcher modules are imported when a method is built, so a missing
optional dependency of one searcher never breaks the others.

Methods (``list_methods()``, ``describe_methods()``):

- single-fidelity, each configuration trained to the maximum (FIFO): RS, GRID, BO, TPE, BORE, REA
- asynchronous multi-fidelity: ASHA (stopping), ASHA-PROMOTION, ASYNC-HB (asynchronous Hyperband, every
  bracket by default), PASHA, MSR (median stopping rule)
- synchronous multi-fidelity: SH (successive halving), HB (Hyperband)
- HyperDrive early termination over random search: BANDIT (slack_factor 0.1 by default), MEDIAN-STOPPING,
  TRUNCATION (truncation_percentage 20 by default)
- Determined: ADAPTIVE-ASHA (max_trials 500 by default, Determined's recommended minimum)
- model-based multi-fidelity: ASHA-BO (GP-BO proposing for stopping ASHA, MOBSTER-like), ASHA-TPE (BOHB-like,
  asynchronous), HB-TPE (BOHB: TPE proposing for synchronous Hyperband)
- BOHB family (``baselines.kde``): KDE (single-fidelity, FIFO), BOHB (KDE proposing for stopping ASHA),
  SYNC-BOHB (KDE proposing for synchronous Hyperband); ASHA-BORE (``baselines.asha_bore``)
- DEHB (``baselines.dehb``): differential evolution inside Hyperband brackets; it makes its own configurations
  (no searcher), so ``restrict_to`` and ``points_to_evaluate`` go to the scheduler
- population-based training: PBT (exploit/explore between trials' checkpoints; real training only, refused on
  simulated tables: ``method_transfers_checkpoints``)
- other libraries, behind optional extras (``MethodSpec.target``/``extra``): OPTUNA-TPE, OPTUNA-CMAES, OPTUNA-GP,
  OPTUNA-NSGA2 (Optuna's samplers), OPTUNA-MEDIAN, OPTUNA-SH (its pruners), DEHB-REF (the official dehb);
  building one without its library raises ImportError naming the extra to install

A name may also be a class path ``module:Class`` (or ``module.Class``): a Scheduler subclass, a Searcher
subclass (run under FIFO) or an ask/tell class, built with the arguments its constructor names
(``baselines.external``); ``method_defaults`` then lists that class's own arguments.
- GP-based multi-fidelity: MOBSTER (independent per-rung GPs, stopping ASHA), MOBSTER-PROMOTION (pause and
  resume), MOBSTER-JOINT (joint exponential-decay GP over (x, r)), SYNC-MOBSTER (synchronous Hyperband),
  HYPERTUNE (Hyper-Tune: ranking-consistency brackets and ensemble over asynchronous Hyperband), DYHPO
  (one-step promotions by multi-fidelity EI)

A ``MethodSpec`` may fix searcher defaults of its own (``searcher_defaults``, e.g. MOBSTER-JOINT's
``model="joint"``); they are overridable like any other keyword argument.
- multi-objective (``MethodSpec.multi_objective``; ``make_method(..., metrics=[...], modes=[...])``, refused
  with fewer than two objectives): MOASHA (``baselines.moasha``), MOBO-RANDOM and MOBO-LINEAR
  (``baselines.mobo``), MOREA (``baselines.morea``), NSGA2 (``baselines.nsga2``, pymoo), LINEAR-SCALARIZED (``baselines.linear_scalarized``: any
  single-objective method, ``base_method``, on a weighted sum of the objectives). Single-objective methods run
  on multi-objective benchmarks too and optimise the first (primary) objective.
- constrained (``MethodSpec.constrained``; ``make_method(..., constraint={"metric": NAME, "threshold": VALUE})``,
  refused without one): CBO (``baselines.cbo``). Other methods ignore a benchmark's constraint.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.arguments import UnknownMethodArgumentError, check_argument_types
from baselines.scheduler import Scheduler, Searcher
from blackbox_repo.search_space import SearchSpace, closest_choices_message

# searcher key -> (module, class name)
_SEARCHERS: dict[str, tuple[str, str]] = {
    "random": ("baselines.random_search", "RandomSearcher"),
    "grid": ("baselines.grid_search", "GridSearcher"),
    "bo": ("baselines.bayesian_optimization", "BOSearcher"),
    "tpe": ("baselines.tpe", "TPESearcher"),
    "bore": ("baselines.bore", "BORESearcher"),
    "rea": ("baselines.regularized_evolution", "REASearcher"),
    "kde": ("baselines.kde", "KDESearcher"),
    "bore-mf": ("baselines.asha_bore", "MultiFidelityBORESearcher"),
    "mobster": ("baselines.mobster", "MultiFidelityGPSearcher"),
    "hypertune": ("baselines.hyper_tune", "HyperTuneSearcher"),
    "mobo": ("baselines.mobo", "MultiObjectiveBOSearcher"),
    "morea": ("baselines.morea", "MOREASearcher"),
    "cbo": ("baselines.cbo", "ConstrainedBOSearcher"),
    "zero-shot": ("baselines.zero_shot", "ZeroShotSearcher"),
    "bounding-box": ("baselines.bounding_box", "BoundingBoxSearcher"),
    "cts": ("baselines.asha_cts", "CopulaThompsonSearcher"),
}
# Arguments the registry fills in itself (never user keyword arguments).
_SEARCHER_FIXED = {"self", "config_space", "metric", "mode", "seed", "max_fidelity", "restrict_to", "metrics",
                   "modes", "constraint_metric", "constraint_threshold", "transfer_data"}


def _searcher_class(key: str) -> type[Searcher]:
    module_name, class_name = _SEARCHERS[key]
    module = importlib.import_module(module_name)
    return getattr(module, class_name)


@dataclass(frozen=True)
class _Context:
    config_space: SearchSpace
    metric: str
    mode: str
    seed: int
    fidelity_name: str | None
    max_fidelity: float | None
    fidelity_values: Sequence[float] | None
    metrics: tuple[str, ...] = ()  # multi-objective methods: every objective (metrics[0] == metric)
    modes: tuple[str, ...] = ()

    def common(self) -> dict[str, Any]:
        return {"config_space": self.config_space, "metric": self.metric, "mode": self.mode, "seed": self.seed,
                "fidelity_name": self.fidelity_name, "max_fidelity": self.max_fidelity,
                "fidelity_values": self.fidelity_values}


# ---------------------------------------------------------------------------------------------------------
# Scheduler factories: their keyword arguments are the method's scheduler hyperparameters.
# ---------------------------------------------------------------------------------------------------------


def _fifo(ctx: _Context, searcher: Searcher, max_trials: int | None = None) -> Scheduler:
    from baselines.fifo import FIFOScheduler

    return FIFOScheduler(searcher=searcher, max_trials=max_trials, **ctx.common())


def _asha_factory(variant: str, default_brackets: int | None) -> Callable[..., Scheduler]:
    def factory(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
                max_trials: int | None = None) -> Scheduler:
        from baselines.asynchronous_successive_halving import ASHA

        return ASHA(searcher=searcher, max_trials=max_trials, variant=variant, grace_period=grace_period,
                    reduction_factor=reduction_factor, brackets=default_brackets, **ctx.common())

    return factory


def _async_hyperband(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
                     brackets: int | None = None, variant: str = "stopping",
                     max_trials: int | None = None) -> Scheduler:
    from baselines.asynchronous_successive_halving import ASHA

    return ASHA(searcher=searcher, max_trials=max_trials, variant=variant, grace_period=grace_period,
                reduction_factor=reduction_factor, brackets=brackets, **ctx.common())


def _successive_halving(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
                        max_open_brackets: int = 1, max_trials: int | None = None) -> Scheduler:
    from baselines.successive_halving import SynchronousSuccessiveHalving

    return SynchronousSuccessiveHalving(searcher=searcher, max_trials=max_trials, grace_period=grace_period,
                                        reduction_factor=reduction_factor, max_open_brackets=max_open_brackets,
                                        **ctx.common())


def _hyperband(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
               brackets: int | None = None, max_open_brackets: int = 1, max_trials: int | None = None) -> Scheduler:
    from baselines.successive_halving import SynchronousHyperband

    return SynchronousHyperband(searcher=searcher, max_trials=max_trials, grace_period=grace_period,
                                reduction_factor=reduction_factor, brackets=brackets,
                                max_open_brackets=max_open_brackets, **ctx.common())


def _pasha(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
           epsilon: float | None = None, max_trials: int | None = None) -> Scheduler:
    from baselines.pasha import PASHA

    return PASHA(searcher=searcher, max_trials=max_trials, grace_period=grace_period,
                 reduction_factor=reduction_factor, epsilon=epsilon, **ctx.common())


def _median_stopping_rule(ctx: _Context, searcher: Searcher, grace_period: float = 1, min_samples: int = 3,
                          running_average: bool = True, max_trials: int | None = None) -> Scheduler:
    from baselines.median_stopping import MedianStoppingRule

    return MedianStoppingRule(searcher=searcher, max_trials=max_trials, grace_period=grace_period,
                              min_samples=min_samples, running_average=running_average, **ctx.common())


def _early_termination(ctx: _Context, searcher: Searcher, policy: Any, max_trials: int | None,
                       max_concurrent: int | None) -> Scheduler:
    from baselines.early_termination import EarlyTerminationScheduler

    return EarlyTerminationScheduler(searcher=searcher, max_trials=max_trials, policy=policy,
                                     max_concurrent=max_concurrent, **ctx.common())


def _bandit(ctx: _Context, searcher: Searcher, slack_factor: float | None = None, slack_amount: float | None = None,
            evaluation_interval: int = 1, delay_evaluation: int = 0, max_trials: int | None = None,
            max_concurrent: int | None = None) -> Scheduler:
    from baselines.early_termination import BanditPolicy

    if slack_factor is None and slack_amount is None:
        slack_factor = 0.1
    policy = BanditPolicy(slack_factor, slack_amount, evaluation_interval, delay_evaluation)
    return _early_termination(ctx, searcher, policy, max_trials, max_concurrent)


def _median_stopping_policy(ctx: _Context, searcher: Searcher, evaluation_interval: int = 1,
                            delay_evaluation: int = 0, max_trials: int | None = None,
                            max_concurrent: int | None = None) -> Scheduler:
    from baselines.early_termination import MedianStoppingPolicy

    policy = MedianStoppingPolicy(evaluation_interval, delay_evaluation)
    return _early_termination(ctx, searcher, policy, max_trials, max_concurrent)


def _truncation(ctx: _Context, searcher: Searcher, truncation_percentage: int = 20, evaluation_interval: int = 1,
                delay_evaluation: int = 0, exclude_finished_jobs: bool = False, max_trials: int | None = None,
                max_concurrent: int | None = None) -> Scheduler:
    from baselines.early_termination import TruncationSelectionPolicy

    policy = TruncationSelectionPolicy(truncation_percentage, evaluation_interval, delay_evaluation,
                                       exclude_finished_jobs)
    return _early_termination(ctx, searcher, policy, max_trials, max_concurrent)


def _adaptive_asha(ctx: _Context, searcher: Searcher, max_trials: int = 500, max_length: float | None = None,
                   adaptive_mode: str = "standard", divisor: float = 4, max_rungs: int = 5,
                   max_concurrent_trials: int = 16, stop_once: bool = False,
                   bracket_rungs: Sequence[int] | None = None) -> Scheduler:
    from baselines.determined_adaptive_asha import DeterminedAdaptiveASHA

    return DeterminedAdaptiveASHA(searcher=searcher, max_trials=max_trials, max_length=max_length,
                                  adaptive_mode=adaptive_mode, divisor=divisor, max_rungs=max_rungs,
                                  max_concurrent_trials=max_concurrent_trials, stop_once=stop_once,
                                  bracket_rungs=bracket_rungs, **ctx.common())


def _dehb(ctx: _Context, searcher: None, grace_period: float = 1, reduction_factor: float = 3,
          mutation_factor: float = 0.5, crossover_prob: float = 0.5, boundary_fix: str = "random",
          points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
          restrict_to: Sequence[Mapping[str, Any]] | None = None, max_trials: int | None = None) -> Scheduler:
    from baselines.dehb import DEHB

    return DEHB(grace_period=grace_period, reduction_factor=reduction_factor, mutation_factor=mutation_factor,
                crossover_prob=crossover_prob, boundary_fix=boundary_fix, points_to_evaluate=points_to_evaluate,
                restrict_to=restrict_to, max_trials=max_trials, **ctx.common())


def _pbt(ctx: _Context, searcher: Searcher, population_size: int = 8, perturbation_interval: float = 10,
         quantile_fraction: float = 0.25, resample_probability: float = 0.25,
         perturbation_factors: Sequence[float] = (0.8, 1.2)) -> Scheduler:
    from baselines.pbt import PopulationBasedTraining

    return PopulationBasedTraining(searcher=searcher, population_size=population_size,
                                   perturbation_interval=perturbation_interval, quantile_fraction=quantile_fraction,
                                   resample_probability=resample_probability,
                                   perturbation_factors=perturbation_factors, **ctx.common())


def _mobster(default_variant: str) -> Callable[..., Scheduler]:
    def factory(ctx: _Context, searcher: Searcher, variant: str = default_variant, grace_period: float = 1,
                reduction_factor: float = 3, brackets: int | None = 1, max_trials: int | None = None) -> Scheduler:
        from baselines.asynchronous_successive_halving import ASHA

        return ASHA(searcher=searcher, max_trials=max_trials, variant=variant, grace_period=grace_period,
                    reduction_factor=reduction_factor, brackets=brackets, **ctx.common())

    return factory


def _hypertune(ctx: _Context, searcher: Searcher, variant: str = "stopping", grace_period: float = 1,
               reduction_factor: float = 3, brackets: int | None = None,
               max_trials: int | None = None) -> Scheduler:
    from baselines.hyper_tune import HyperTune

    return HyperTune(searcher=searcher, max_trials=max_trials, variant=variant, grace_period=grace_period,
                     reduction_factor=reduction_factor, brackets=brackets, **ctx.common())


def _dyhpo(ctx: _Context, searcher: Searcher, grace_period: float = 1, rung_increment: float = 2,
           probability_sh: float = 0.25, num_new_candidates: int = 250, sparse_data: bool = True,
           max_trials: int | None = None) -> Scheduler:
    from baselines.dyhpo import DyHPO

    return DyHPO(searcher=searcher, max_trials=max_trials, grace_period=grace_period, rung_increment=rung_increment,
                 probability_sh=probability_sh, num_new_candidates=num_new_candidates, sparse_data=sparse_data,
                 **ctx.common())


def _multi_objective_common(ctx: _Context) -> dict[str, Any]:
    return {"config_space": ctx.config_space, "metrics": list(ctx.metrics), "modes": list(ctx.modes),
            "seed": ctx.seed, "fidelity_name": ctx.fidelity_name, "max_fidelity": ctx.max_fidelity,
            "fidelity_values": ctx.fidelity_values}


def _moasha(ctx: _Context, searcher: Searcher, grace_period: float = 1, reduction_factor: float = 3,
            brackets: int | None = 1, max_trials: int | None = None, tie_break: str = "epsilon_net") -> Scheduler:
    from baselines.moasha import MOASHA

    return MOASHA(searcher=searcher, max_trials=max_trials, grace_period=grace_period,
                  reduction_factor=reduction_factor, brackets=brackets, tie_break=tie_break,  # type: ignore[arg-type]
                  **_multi_objective_common(ctx))


def _multi_objective_fifo(ctx: _Context, searcher: Searcher, max_trials: int | None = None) -> Scheduler:
    from baselines.mo_fifo import MultiObjectiveFIFO

    return MultiObjectiveFIFO(searcher=searcher, max_trials=max_trials,  # type: ignore[arg-type]
                              **_multi_objective_common(ctx))


def _linear_scalarized(ctx: _Context, searcher: None, base_method: str = "ASHA",
                       weights: Sequence[float] | None = None, base_kwargs: Mapping[str, Any] | None = None,
                       restrict_to: Sequence[Mapping[str, Any]] | None = None) -> Scheduler:
    from baselines.linear_scalarized import SCALARIZED_METRIC, LinearScalarizedScheduler

    if method_spec(base_method).multi_objective:
        raise ValueError(f"LINEAR-SCALARIZED: base_method must be a single-objective method, {base_method} is "
                         "multi-objective")
    base = make_method(base_method, ctx.config_space, SCALARIZED_METRIC, "min", ctx.fidelity_name,
                       ctx.max_fidelity, ctx.seed, ctx.fidelity_values, restrict_to, **dict(base_kwargs or {}))
    return LinearScalarizedScheduler(base, list(ctx.metrics), list(ctx.modes), weights)


def _constrained_fifo(ctx: _Context, searcher: Searcher, max_trials: int | None = None) -> Scheduler:
    from baselines.cbo import ConstrainedFIFO

    return ConstrainedFIFO(searcher=searcher, max_trials=max_trials, **ctx.common())  # type: ignore[arg-type]


def _nsga2(ctx: _Context, searcher: None, population_size: int = 20, max_trials: int | None = None,
           restrict_to: Sequence[Mapping[str, Any]] | None = None) -> Scheduler:
    from baselines.nsga2 import NSGA2

    return NSGA2(population_size=population_size, max_trials=max_trials, restrict_to=restrict_to,
                 **_multi_objective_common(ctx))


def _rush(ctx: _Context, searcher: Searcher, transfer_data: Any, num_hyperparameters_per_task: int = 1,
          grace_period: float = 1, reduction_factor: float = 3, max_trials: int | None = None) -> Scheduler:
    from baselines.rush import RUSH

    return RUSH(searcher=searcher, transfer_data=transfer_data,
                num_hyperparameters_per_task=num_hyperparameters_per_task, max_trials=max_trials, grace_period=grace_period, reduction_factor=reduction_factor, **ctx.common())


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    factory: Callable[..., Scheduler] | None
    searcher: str | None  # key of _SEARCHERS; None: the method makes its own configurations (factory gets
    # restrict_to)
    #: the method starts trials from other trials' checkpoints (its scheduler's ``transfers_checkpoints``):
    #: it needs real checkpoints, so simulated benchmarks refuse it before any job starts
    transfers_checkpoints: bool = False
    searcher_defaults: Mapping[str, Any] = field(default_factory=dict)  # this method's own searcher defaults
    multi_objective: bool = False  # needs metrics/modes with >= 2 objectives (the scheduler's class attribute)
    #: learns from other tasks' evaluations (``transfer_data``, ``baselines.transfer``): needs a transfer-* benchmark
    transfer_learning: bool = False
    searcher_fixed: Mapping[str, Any] = field(default_factory=dict)  # searcher arguments the method fixes
    constrained: bool = False  # needs the benchmark's constraint (make_method's ``constraint``)
    # Methods wrapping another library: the class (``module:Class``, see ``baselines.external``) and the
    # optional extra that installs the library (``pip install hpo-arena[EXTRA]``) with its import names.
    target: str | None = None
    extra: str | None = None
    requires: tuple[str, ...] = ()

    def missing_requirements(self) -> list[str]:
        """Import names of the libraries this method needs that are not installed."""
        import importlib.util

        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def check_available(self) -> None:
        missing = self.missing_requirements()
        if missing:
            raise ImportError(f"method {self.name} needs {', '.join(missing)}: pip install 'hpo-arena[{self.extra}]'")

    def scheduler_kwargs(self) -> list[str]:
        if self.factory is None:
            return []
        params = inspect.signature(self.factory).parameters
        return [n for n in params if n not in ("ctx", "searcher", "restrict_to", "transfer_data")]

    def searcher_kwargs(self) -> list[str]:
        if self.searcher is None:
            return []
        params = inspect.signature(_searcher_class(self.searcher).__init__).parameters
        return [n for n, p in params.items() if n not in _SEARCHER_FIXED and n not in self.searcher_fixed
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


_METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("RS", "random search, every trial to the maximum fidelity", _fifo, "random"),
        MethodSpec("GRID", "grid search, every trial to the maximum fidelity", _fifo, "grid"),
        MethodSpec("BO", "Gaussian-process Bayesian optimisation (EI)", _fifo, "bo"),
        MethodSpec("TPE", "tree-structured Parzen estimator", _fifo, "tpe"),
        MethodSpec("BORE", "Bayesian optimisation by density-ratio estimation", _fifo, "bore"),
        MethodSpec("REA", "regularised evolution", _fifo, "rea"),
        MethodSpec("ASHA", "asynchronous successive halving, stopping variant", _asha_factory("stopping", 1),
                   "random"),
        MethodSpec("ASHA-PROMOTION", "asynchronous successive halving, promotion variant (pause and resume)",
                   _asha_factory("promotion", 1), "random"),
        MethodSpec("SH", "synchronous successive halving", _successive_halving, "random"),
        MethodSpec("HB", "synchronous Hyperband", _hyperband, "random"),
        MethodSpec("ASYNC-HB", "asynchronous Hyperband (random bracket per trial)", _async_hyperband, "random"),
        MethodSpec("PASHA", "progressive ASHA: the maximum fidelity grows only when rankings change", _pasha,
                   "random"),
        MethodSpec("MSR", "median stopping rule (Vizier)", _median_stopping_rule, "random"),
        MethodSpec("BANDIT", "HyperDrive BanditPolicy over random search", _bandit, "random"),
        MethodSpec("MEDIAN-STOPPING", "HyperDrive MedianStoppingPolicy over random search",
                   _median_stopping_policy, "random"),
        MethodSpec("TRUNCATION", "HyperDrive TruncationSelectionPolicy over random search", _truncation, "random"),
        MethodSpec("ADAPTIVE-ASHA", "Determined adaptive ASHA", _adaptive_asha, "random"),
        MethodSpec("ASHA-BO", "GP Bayesian optimisation proposing for stopping ASHA (MOBSTER-like)",
                   _asha_factory("stopping", 1), "bo"),
        MethodSpec("ASHA-TPE", "TPE proposing for stopping ASHA (asynchronous BOHB-like)",
                   _asha_factory("stopping", 1), "tpe"),
        MethodSpec("HB-TPE", "TPE proposing for synchronous Hyperband (BOHB)", _hyperband, "tpe"),
        MethodSpec("KDE", "BOHB's multivariate kernel density searcher, every trial to the maximum fidelity",
                   _fifo, "kde"),
        MethodSpec("BOHB", "BOHB, asynchronous: KDE fitted on the highest rung with enough data proposing for "
                   "stopping ASHA", _asha_factory("stopping", 1), "kde"),
        MethodSpec("SYNC-BOHB", "BOHB: KDE fitted on the highest rung with enough data proposing for synchronous "
                   "Hyperband", _hyperband, "kde"),
        MethodSpec("ASHA-BORE", "BORE's classifier fitted on the highest rung with enough data proposing for "
                   "stopping ASHA", _asha_factory("stopping", 1), "bore-mf"),
        MethodSpec("DEHB", "differential evolution inside Hyperband brackets, asynchronous workers (Awad et al. "
                   "2021)", _dehb, None),
        MethodSpec("PBT", "population-based training: exploit better members' checkpoints, explore their "
                   "hyperparameters (real training only)", _pbt, "random", transfers_checkpoints=True),
        MethodSpec("MOBSTER", "MOBSTER: GP (independent per-rung models) proposing for ASHA", _mobster("stopping"),
                   "mobster"),
        MethodSpec("MOBSTER-PROMOTION", "MOBSTER on promotion-type ASHA (pause and resume)", _mobster("promotion"),
                   "mobster"),
        MethodSpec("MOBSTER-JOINT", "MOBSTER with the joint exponential-decay GP over (x, r)", _mobster("stopping"),
                   "mobster", searcher_defaults={"model": "joint"}),
        MethodSpec("SYNC-MOBSTER", "MOBSTER's GP proposing for synchronous Hyperband", _hyperband, "mobster"),
        MethodSpec("HYPERTUNE", "Hyper-Tune: ranking-consistency bracket choice and per-rung GP ensemble over "
                   "asynchronous Hyperband", _hypertune, "hypertune"),
        MethodSpec("DYHPO", "DyHPO: one-step promotions of the trial with the best multi-fidelity EI (GP "
                   "surrogate)", _dyhpo, "mobster", searcher_defaults={"model": "joint"}),
        # Other libraries' optimizers (optional extras), driven with their own defaults.
        *(MethodSpec(name, description, None, None, target=f"baselines.optuna_methods:{cls}", extra="optuna",
                     requires=("optuna", *more))
          for name, description, cls, more in (
              ("OPTUNA-TPE", "Optuna's TPESampler (its defaults), every trial to the maximum fidelity",
               "OptunaTPE", ()),
              ("OPTUNA-CMAES", "Optuna's CmaEsSampler (its defaults), every trial to the maximum fidelity",
               "OptunaCMAES", ("cmaes",)),
              ("OPTUNA-GP", "Optuna's GPSampler (its defaults), every trial to the maximum fidelity", "OptunaGP",
               ("torch",)),
              ("OPTUNA-NSGA2", "Optuna's NSGAIISampler (its defaults), every trial to the maximum fidelity",
               "OptunaNSGA2", ()),
              ("OPTUNA-MEDIAN", "Optuna's MedianPruner stopping trials of its TPESampler", "OptunaMedian", ()),
              ("OPTUNA-SH", "Optuna's SuccessiveHalvingPruner stopping trials of its TPESampler", "OptunaSH", ()),
          )),
        MethodSpec("DEHB-REF", "the official dehb package (DEHB, its defaults) through its ask/tell interface",
                   None, None, target="baselines.dehb_reference:DEHBReference", extra="dehb",
                   requires=("dehb", "ConfigSpace")),
        MethodSpec("MOASHA", "multi-objective ASHA: rung decisions by non-dominated sorting, epsilon-net "
                   "tie-break (Schmucker et al. 2021; tie_break='crowding' for NSGA-II crowding distance)", _moasha, "random", multi_objective=True),
        MethodSpec("MOBO-RANDOM", "multi-objective GP-EI on random augmented-Chebyshev scalarisations, new weights "
                   "every decision (Paria et al. 2019, ParEGO-style single GP)", _multi_objective_fifo, "mobo",
                   multi_objective=True, searcher_fixed={"scalarization": "random", "weights": None}),
        MethodSpec("MOBO-LINEAR", "multi-objective GP-EI on a fixed weighted sum of the range-scaled objectives",
                   _multi_objective_fifo, "mobo", multi_objective=True, searcher_fixed={"scalarization": "linear"}),
        MethodSpec("MOREA", "multi-objective regularised evolution: tournament by Pareto rank and crowding "
                   "distance", _multi_objective_fifo, "morea", multi_objective=True),
        MethodSpec("NSGA2", "NSGA-II (Deb et al. 2002) from pymoo through ask/tell, one generation at a time "
                   "(needs the moo extra)", _nsga2, None, multi_objective=True),
        MethodSpec("LINEAR-SCALARIZED", "any single-objective method (base_method, default ASHA) on a fixed "
                   "weighted sum of the raw objectives", _linear_scalarized, None, multi_objective=True),
        MethodSpec("CBO", "constrained Bayesian optimisation: EI over the best feasible value times the "
                   "probability of feasibility from a second GP (Gardner et al. 2014; needs a constraint)",
                   _constrained_fifo, "cbo", constrained=True),
        MethodSpec("ZERO-SHOT", "zero-shot transfer: greedy portfolio of the configurations that best cover the "
                   "other tasks, evaluated in order, then random search (Wistuba et al. 2015)", _fifo, "zero-shot",
                   transfer_learning=True),
        MethodSpec("BOUNDING-BOX", "random search inside the bounding box of the other tasks' best configurations "
                   "(Perrone et al. 2019)", _fifo, "bounding-box", transfer_learning=True),
        MethodSpec("ASHA-CTS", "Gaussian-copula Thompson sampling fitted on the other tasks' quantile-transformed "
                   "values, proposing for stopping ASHA (Salinas et al. 2020)", _asha_factory("stopping", 1), "cts",
                   transfer_learning=True),
        MethodSpec("RUSH", "ASHA warm-started with the other tasks' best configurations, whose rung results stop "
                   "worse trials (Zappella et al. 2021)", _rush, "random", transfer_learning=True),
    )
}


def list_methods() -> list[str]:
    return list(_METHODS)


def _external(name: str):
    """The ``ExternalMethod`` behind ``name`` (a class path, or a registered wrapper of another library),
    or None for a built-in method."""
    from baselines.external import ExternalMethod, is_external_name

    if is_external_name(name):
        return ExternalMethod.load(name)
    spec = _METHODS.get(str(name).upper())
    if spec is not None and spec.target is not None:
        spec.check_available()
        return ExternalMethod.load(spec.target)
    return None


def describe_methods() -> dict[str, str]:
    return {name: spec.description for name, spec in _METHODS.items()}


def method_transfers_checkpoints(name: str) -> bool:
    """Whether method ``name`` starts trials from other trials' checkpoints (PBT): only a backend with real
    checkpoints can run it."""
    return method_spec(name).transfers_checkpoints


def method_is_multi_objective(name: str) -> bool:
    """Whether method ``name`` optimises several objectives (it then needs a multi-objective benchmark)."""
    return method_spec(name).multi_objective


def method_is_constrained(name: str) -> bool:
    """Whether method ``name`` needs the benchmark's constraint (it then needs a constrained benchmark)."""
    return method_spec(name).constrained


def method_uses_transfer_data(name: str) -> bool:
    """Whether method ``name`` learns from other tasks' evaluations (it then needs a transfer-* benchmark)."""
    return method_spec(name).transfer_learning


def method_spec(name: str) -> MethodSpec:
    key = str(name).upper()
    if key not in _METHODS:
        raise ValueError(closest_choices_message("method", name, list(_METHODS)))
    return _METHODS[key]


def make_method(
    name: str,
    config_space: SearchSpace,
    metric: str,
    mode: str,
    fidelity_name: str | None,
    max_fidelity: float | None,
    seed: int,
    fidelity_values: Sequence[float] | None = None,
    restrict_to: Sequence[Mapping[str, Any]] | None = None,
    metrics: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
    constraint: Mapping[str, Any] | None = None,
    transfer_data: Any = None,
    **kwargs: Any,
) -> Scheduler:
    """Build method ``name`` for a benchmark (see the module docstring).

    ``name`` is a registered short name or a class path ``module:Class`` (``baselines.external``).
    ``metrics``/``modes``: the benchmark's objectives (``metrics[0]``/``modes[0]`` are ``metric``/``mode``);
    multi-objective methods require at least two, single-objective ones optimise ``metric`` and ignore them.
    ``constraint``: the benchmark's ``{"metric": NAME, "threshold": VALUE}`` (feasible iff NAME <= VALUE);
    constrained methods (CBO) require it, the others ignore it.
    ``transfer_data``: the other tasks' evaluations (``baselines.transfer.TransferData``), required by transfer
    methods (``method_uses_transfer_data``) and ignored by the others.
    """
    if max_fidelity is None and fidelity_values is not None and len(fidelity_values):
        max_fidelity = float(list(fidelity_values)[-1])
    external = _external(name)
    if external is not None:
        return external.build(config_space, metric, mode, fidelity_name, max_fidelity, seed,
                              fidelity_values=fidelity_values, restrict_to=restrict_to, **kwargs)
    spec = method_spec(name)
    objectives: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    if spec.multi_objective:
        from baselines.multiobjective import ObjectiveVector

        vector = ObjectiveVector.build(metrics, modes, spec.name)
        if (vector.metrics[0], vector.modes[0]) != (metric, mode):
            raise ValueError(f"method {spec.name}: metric/mode ({metric}, {mode}) must be the first of metrics/modes "
                             f"({vector.metrics[0]}, {vector.modes[0]})")
        objectives = (vector.metrics, vector.modes)
    if spec.constrained and constraint and (not isinstance(constraint, Mapping)
                                            or set(constraint) != {"metric", "threshold"}):
        raise ValueError(f"method {spec.name}: constraint must be {{'metric': NAME, 'threshold': VALUE}}, got "
                         f"{constraint!r}")
    if spec.constrained and not constraint:
        raise ValueError(f"method {spec.name} needs a constraint {{'metric': NAME, 'threshold': VALUE}} (the "
                         "benchmark's `constraint`); choose a constrained-* benchmark (`arena benchmarks list "
                         "'constrained-*'`) or an unconstrained method")
    scheduler_names = spec.scheduler_kwargs()
    searcher_names = spec.searcher_kwargs()
    unknown = [k for k in kwargs if k not in scheduler_names and k not in searcher_names]
    if unknown:
        raise UnknownMethodArgumentError(spec.name, unknown, sorted(set(scheduler_names) | set(searcher_names)))
    signatures = [inspect.signature(spec.factory, eval_str=True)]
    if spec.searcher is not None:  # a method that makes its own configurations has no searcher
        signatures.insert(0, inspect.signature(_searcher_class(spec.searcher).__init__, eval_str=True))
    check_argument_types(spec.name, kwargs, signatures)
    scheduler_kwargs = {k: v for k, v in kwargs.items() if k in scheduler_names}
    searcher_kwargs = {**spec.searcher_defaults, **{k: v for k, v in kwargs.items() if k not in scheduler_names}}
    if max_fidelity is None and fidelity_values is not None and len(fidelity_values):
        max_fidelity = float(list(fidelity_values)[-1])
    ctx = _Context(config_space, metric, mode, seed, fidelity_name, max_fidelity, fidelity_values, *objectives)
    if spec.transfer_learning:
        from baselines.transfer import check_transfer_data

        transfer_data = check_transfer_data(transfer_data, spec.name)
        if "transfer_data" in inspect.signature(spec.factory).parameters:
            scheduler_kwargs["transfer_data"] = transfer_data
        else:
            searcher_kwargs["transfer_data"] = transfer_data
    if spec.searcher is None:
        return spec.factory(ctx, None, restrict_to=restrict_to, **scheduler_kwargs)
    searcher_cls = _searcher_class(spec.searcher)
    if restrict_to is not None and spec.transfers_checkpoints:
        raise ValueError(f"method {spec.name} cannot be restricted to a list of configurations: its explore step "
                         "perturbs hyperparameters to values outside any list (and tables cannot run it)")
    if restrict_to is not None:
        if "restrict_to" not in inspect.signature(searcher_cls.__init__).parameters:
            raise ValueError(f"method {spec.name}'s searcher {searcher_cls.__name__} cannot be restricted to a "
                             "list of configurations")
        searcher_kwargs["restrict_to"] = restrict_to
    searcher_kwargs.update(spec.searcher_fixed)
    if "metrics" in inspect.signature(searcher_cls.__init__).parameters and spec.multi_objective:
        searcher_kwargs.update(metrics=list(ctx.metrics), modes=list(ctx.modes))
    if spec.constrained:
        assert constraint is not None
        searcher_kwargs.update(constraint_metric=str(constraint["metric"]),
                               constraint_threshold=float(constraint["threshold"]))
    searcher = searcher_cls(config_space, metric, mode=mode, seed=seed, max_fidelity=max_fidelity,
                            **searcher_kwargs)
    return spec.factory(ctx, searcher, **scheduler_kwargs)


def method_defaults(name: str) -> dict[str, Any]:
    """The method's keyword arguments with their defaults (what a Hydra ``method`` node holds).

    Only arguments with plain values (numbers, strings, booleans, None, lists of those) appear; list-valued
    ones such as ``points_to_evaluate`` default to None and can be set from a config file.
    """
    from baselines.external import is_external_name, plain_defaults

    if not is_external_name(name) and method_spec(name).missing_requirements():
        return {}  # its library is not installed: building it says which extra to install
    external = _external(name)
    if external is not None:
        return plain_defaults(external.arguments())
    spec = method_spec(name)
    out: dict[str, Any] = {}
    signatures = [inspect.signature(spec.factory).parameters]
    if spec.searcher is not None:
        signatures.append(inspect.signature(_searcher_class(spec.searcher).__init__).parameters)
    allowed = set(spec.scheduler_kwargs()) | set(spec.searcher_kwargs())
    out.update({k: v for k, v in spec.searcher_defaults.items() if k in allowed})
    for params in signatures:
        for pname, param in params.items():
            if pname not in allowed or pname == "restrict_to" or pname in out or pname in spec.searcher_fixed:
                continue
            default = param.default
            if default is inspect.Parameter.empty:
                continue
            if default is None or isinstance(default, (bool, int, float, str)):
                out[pname] = default
            elif isinstance(default, (list, tuple)) and all(isinstance(v, (bool, int, float, str)) for v in default):
                out[pname] = list(default)
    return out
