"""Optuna's samplers and pruners as arena methods (``pip install 'hpo-arena[optuna]'``).

Names: ``OPTUNA-TPE``, ``OPTUNA-CMAES``, ``OPTUNA-GP``, ``OPTUNA-NSGA2`` (samplers; every trial runs to the
maximum fidelity, through ``baselines.ask_tell``), ``OPTUNA-MEDIAN`` and ``OPTUNA-SH`` (``MedianPruner`` and
``SuccessiveHalvingPruner`` stopping the trials of a ``TPESampler``, as schedulers). Every sampler and pruner
is built with Optuna's own defaults; only the seed is set (``seed mod 2**32``, Optuna's range). Each arena
method argument is passed on unchanged as a keyword of the sampler (samplers) or of the pruner (pruners),
e.g. ``method.n_startup_trials=20``; see Optuna's documentation for their meaning.

The study always minimises: it is told ``sign * metric`` (the ask/tell adapter's loss), so a maximised
metric needs no special handling. Several trials are asked before any is told when ``n_workers > 1``; the
running trials stay ``RUNNING`` in the study, which is how Optuna itself sees parallel workers.

Search spaces (``blackbox_repo.search_space`` -> Optuna distributions):

- ``Uniform`` / ``LogUniform`` -> ``FloatDistribution(lower, upper, log=False/True)``;
- ``Integer(lower, upper, log)`` -> ``IntDistribution(lower, upper, log=log)``;
- ``Categorical`` -> ``CategoricalDistribution`` of the same values (no order: TPE and GP treat it as a
  category; CMA-ES cannot and samples it with its independent sampler, Optuna's own fallback);
- ``Ordinal`` and ``FiniteRange`` (ordered finite values, possibly log-spaced) -> ``IntDistribution`` over
  the positions ``0 .. n-1``, mapped back to the values: the order is kept and a log-spaced range is uniform
  in position, as on its own scale;
- ``Constant`` -> not shown to Optuna, added to every configuration;
- the other domains (quantised and normal ones) -> ``FloatDistribution(0, 1)`` over the domain's own [0, 1]
  encoding (its CDF for normal ones), decoded with ``Domain.decode``: the quantisation and the prior are
  the arena's;
- conditional hyperparameters: the arena's spaces are flat (every hyperparameter is always active), so
  every trial suggests every parameter in the same order; nothing conditional reaches Optuna.

On a benchmark restricted to a table's configurations, the samplers' proposals are mapped to the nearest
unused table row by the ask/tell adapter (``baselines.ask_tell``); the pruners' sampler proposals likewise.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from baselines.ask_tell import NearestAllowed
from baselines.scheduler import Decision, Scheduler, Suggestion
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    FiniteRange,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
)


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class SpaceTranslation:
    """Our ``SearchSpace`` as Optuna distributions, and Optuna parameters back to a configuration."""

    def __init__(self, config_space: SearchSpace):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        self.config_space = config_space
        self.distributions: dict[str, Any] = {}
        self._decoders: dict[str, Any] = {}
        self.constants: dict[str, Any] = {}
        for name, domain in config_space.items():
            if isinstance(domain, Constant):
                self.constants[name] = domain.values()[0]
            elif isinstance(domain, (Uniform, LogUniform)):
                self.distributions[name] = FloatDistribution(domain.lower, domain.upper,
                                                             log=isinstance(domain, LogUniform))
            elif isinstance(domain, Integer):
                self.distributions[name] = IntDistribution(domain.lower, domain.upper, log=domain.log)
            elif isinstance(domain, Categorical):
                self.distributions[name] = CategoricalDistribution(list(domain.values()))
            elif isinstance(domain, (Ordinal, FiniteRange)):
                values = list(domain.values())
                self.distributions[name] = IntDistribution(0, len(values) - 1)
                self._decoders[name] = values.__getitem__
            else:
                self.distributions[name] = FloatDistribution(0.0, 1.0)
                self._decoders[name] = domain.decode

    def config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.config_space:
            if name in self.constants:
                out[name] = self.constants[name]
                continue
            value = params[name]
            decode = self._decoders.get(name)
            out[name] = decode(value) if decode is not None else value
        return out


def _seed(seed: int) -> int:
    return int(seed) % 2**32


def _keyword_arguments(cls: type, exclude: Sequence[str] = ("seed",)) -> dict[str, Any]:
    """The keyword arguments of one of Optuna's classes with their defaults."""
    import inspect

    return {p.name: p.default for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
            if p.name not in exclude and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


class _OptunaSampler:
    """Ask/tell wrapper of a study with one of Optuna's samplers (single fidelity)."""

    sampler_name = ""

    def __init__(self, config_space: SearchSpace, seed: int = 0, **sampler_kwargs: Any):
        optuna = _optuna()
        self.space = SpaceTranslation(config_space)
        sampler_cls = getattr(optuna.samplers, self.sampler_name)
        self.sampler = sampler_cls(seed=_seed(seed), **sampler_kwargs)
        self.study = optuna.create_study(direction="minimize", sampler=self.sampler)
        self._trials: dict[tuple, list[Any]] = {}  # configuration -> its running Optuna trials

    @classmethod
    def arena_arguments(cls) -> dict[str, Any]:
        return _keyword_arguments(getattr(_optuna().samplers, cls.sampler_name))

    def ask(self) -> dict[str, Any]:
        trial = self.study.ask(self.space.distributions)
        config = self.space.config(trial.params)
        self._trials.setdefault(_key(config), []).append(trial)
        return config

    def tell(self, config: Mapping[str, Any], loss: float) -> None:
        trial = self._trials[_key(config)].pop(0)
        state = None if math.isfinite(loss) else _optuna().trial.TrialState.FAIL
        if state is None:
            self.study.tell(trial, loss)
        else:
            self.study.tell(trial, state=state)


def _key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items()))


class OptunaTPE(_OptunaSampler):
    """``optuna.samplers.TPESampler`` with its defaults."""

    sampler_name = "TPESampler"


class OptunaCMAES(_OptunaSampler):
    """``optuna.samplers.CmaEsSampler`` with its defaults."""

    sampler_name = "CmaEsSampler"


class OptunaGP(_OptunaSampler):
    """``optuna.samplers.GPSampler`` with its defaults (needs PyTorch).

    Its model is fitted with one PyTorch thread: an arena job is one process among several sharing the cores
    (as ``baselines.gaussian_process`` keeps BLAS single-threaded); PyTorch's default of one thread per core
    made each fit several times slower on a loaded machine. The thread count is restored after each ``ask``.
    """

    sampler_name = "GPSampler"

    def ask(self) -> dict[str, Any]:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().ask()
        finally:
            torch.set_num_threads(threads)


class OptunaNSGA2(_OptunaSampler):
    """``optuna.samplers.NSGAIISampler`` with its defaults (single objective: a genetic algorithm)."""

    sampler_name = "NSGAIISampler"


class _OptunaPruning(Scheduler):
    """A TPE study whose trials report every fidelity to one of Optuna's pruners; pruned trials stop.

    Trials report at every fidelity (Optuna's ``trial.report(value, step)``), with ``step`` the fidelity if it
    is a whole number, else its 1-based position among the benchmark's fidelities. ``max_trials`` caps the
    number of trials started.
    """

    pruner_name = ""

    def __init__(self, config_space: SearchSpace, metric: str, mode: str = "min", seed: int = 0,
                 fidelity_name: str | None = None, max_fidelity: float | None = None,
                 fidelity_values: Sequence[float] | None = None,
                 restrict_to: Sequence[Mapping[str, Any]] | None = None, max_trials: int | None = None,
                 **pruner_kwargs: Any):
        super().__init__(config_space, metric, mode, seed, fidelity_name, max_fidelity, fidelity_values)
        optuna = _optuna()
        self.space = SpaceTranslation(config_space)
        self.pruner = getattr(optuna.pruners, self.pruner_name)(**pruner_kwargs)
        self.study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=_seed(seed)),
                                         pruner=self.pruner)
        self.max_trials = max_trials
        self._allowed = None if restrict_to is None else NearestAllowed(restrict_to, config_space)
        self._trials: dict[int, Any] = {}
        self._integral = self.fidelity_values is not None and all(float(f).is_integer() for f in self.fidelity_values)

    @classmethod
    def arena_arguments(cls) -> dict[str, Any]:
        return {**_keyword_arguments(getattr(_optuna().pruners, cls.pruner_name)), "max_trials": None}

    def suggest(self, trial_id: int) -> Suggestion:
        if self.max_trials is not None and len(self._trials) >= self.max_trials:
            return Suggestion.done()
        if self._allowed is not None and self._allowed.exhausted:
            return Suggestion.done()
        trial = self.study.ask(self.space.distributions)
        config = self.space.config(trial.params)
        if self._allowed is not None:
            config = self._allowed.take(config)
        self._trials[trial_id] = trial
        return Suggestion.start(config)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return None  # Optuna's pruners look at every intermediate value

    def _step(self, fidelity: float) -> int:
        if self.fidelity_values is None or self._integral:
            return round(float(fidelity))
        return int((self.fidelity_values <= float(fidelity) + 1e-9).sum())

    def _loss(self, metrics: Mapping[str, float]) -> float:
        value = self._sign * self.metric_value(metrics)
        return math.inf if math.isnan(value) else value

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        trial = self._trials[trial_id]
        loss = self._loss(metrics)
        if math.isfinite(loss):
            trial.report(loss, self._step(fidelity))
        if self.max_fidelity is not None and float(fidelity) >= self.max_fidelity - 1e-9:
            return Decision.CONTINUE  # the last result: on_trial_complete tells the study
        return Decision.STOP if trial.should_prune() else Decision.CONTINUE

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        loss = self._loss(metrics)
        trial = self._trials[trial_id]
        if math.isfinite(loss):
            self.study.tell(trial, loss)
        else:
            self.study.tell(trial, state=_optuna().trial.TrialState.FAIL)

    def on_trial_stopped(self, trial_id: int) -> None:
        self.study.tell(self._trials[trial_id], state=_optuna().trial.TrialState.PRUNED)

    def on_trial_failed(self, trial_id: int) -> None:
        self.study.tell(self._trials[trial_id], state=_optuna().trial.TrialState.FAIL)


class OptunaMedian(_OptunaPruning):
    """``optuna.pruners.MedianPruner`` with its defaults over ``TPESampler``."""

    pruner_name = "MedianPruner"


class OptunaSH(_OptunaPruning):
    """``optuna.pruners.SuccessiveHalvingPruner`` with its defaults over ``TPESampler``."""

    pruner_name = "SuccessiveHalvingPruner"
