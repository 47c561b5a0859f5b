"""DyHPO (Wistuba, Kadra, Grabocka 2022, "Supervising the multi-fidelity race of hyperparameter configurations",
NeurIPS): grow the most promising trial by one step at a time.

Rung levels are linearly spaced, ``grace_period + k * rung_increment`` below ``max_fidelity`` (snapped to the
reported fidelities); every trial pauses at each of them. Whenever a worker is free, DyHPO scores

- every paused trial at its *next* level (the next rung, or ``max_fidelity`` after the last rung), and
- a set of new configurations at the first level (``num_new_candidates`` random draws, default 250 as Syne
  Tune's ``num_init_candidates``, at least as many as there are paused trials; the unproposed rows of the table with ``restrict_to``),

by expected improvement at that level (the multi-fidelity EI of the paper): EI of the posterior of ``f(x, r)``
against the best result observed at ``r``, or the best result at any level when ``r`` has none. The winner is
resumed for one more step, or started as a new trial. Ties go to paused trials (lower id first), then to the
candidates in draw order.

The surrogate: the paper fits a GP with a deep kernel over (configuration, budget, learning curve). As in the
peer (Syne Tune 0.13's ``DyHPO``), this implementation replaces it with MOBSTER's joint GP over
``(x, r)`` with the exponential-decay (freeze-thaw) resource kernel (``baselines.mobster``, ``model="joint"``;
the independent per-level model cannot extrapolate to a level without data and is refused). Running trials are
conditioned on at their next level with the kriging believer.

Bounded decision time: every step of every trial is a result, so the GP's data are thinned before MOBSTER's
size cap (``max_size_data_for_model``): each trial keeps one result per geometric bucket
``(grace_period * 3^(k-1), grace_period * 3^k]`` (its result at the largest level there), as Syne Tune's DyHPO
does (``SubsampleMFDenseDataStateConverter``; it thins only down to the cap, we always thin, so the GP stays
small). ``sparse_data=False`` keeps every result.

Also as in Syne Tune (not in the paper): with probability ``probability_sh`` (default 0.25, Syne Tune's
default; 0 gives the paper's rule) a free worker first tries the successive-halving promotion rule: scanning
rungs from the top, the best paused trial among the best ``floor(n_k * r_k / r_(k+1))`` of the ``n_k`` results at
rung ``k`` is resumed. This keeps trials being promoted while the model still prefers new configurations,
which it does early on when no level above the first has data. The first ``num_initial_random`` trials of the
searcher (and ``points_to_evaluate``) are started before any scoring. Syne Tune's effective defaults are
``grace_period=1``, ``rung_increment=2`` (levels 1, 3, 5, ...), which are ours.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.bayesian_optimization import expected_improvement
from baselines.blas import single_threaded_blas
from baselines.mobster import MultiFidelityGPSearcher
from baselines.multi_fidelity import (
    SearcherScheduler,
    TrialStatus,
    fidelity_matches,
    snap_to_fidelities,
)
from baselines.scheduler import Decision, Suggestion
from blackbox_repo.seeding import make_rng


def linear_rung_levels(grace_period: float, rung_increment: float, max_fidelity: float,
                       fidelity_values: Sequence[float] | np.ndarray | None = None) -> list[int | float]:
    """``grace_period + k * rung_increment`` strictly below ``max_fidelity``, snapped up to the reported
    fidelities (levels snapping onto an earlier one or onto ``max_fidelity`` are dropped)."""
    if not grace_period > 0:
        raise ValueError(f"grace_period must be > 0, got {grace_period}")
    if not rung_increment > 0:
        raise ValueError(f"rung_increment must be > 0, got {rung_increment}")
    if grace_period > max_fidelity:
        raise ValueError(f"grace_period={grace_period} exceeds max_fidelity={max_fidelity}; choose a grace period "
                         "at most the maximum fidelity")
    levels: list[int | float] = []
    k = 0
    while True:
        raw = grace_period + k * rung_increment
        if raw > max_fidelity or fidelity_matches(raw, max_fidelity):
            return levels
        level = snap_to_fidelities(raw, fidelity_values)
        if fidelity_matches(level, max_fidelity) or float(level) > max_fidelity:
            return levels
        if not levels or not fidelity_matches(level, levels[-1]):
            levels.append(level)
        k += 1


def geometric_buckets(grace_period: float, max_fidelity: float, reduction_factor: float = 3.0) -> list[float]:
    """Bucket edges ``grace_period * reduction_factor^k`` below ``max_fidelity``, then ``max_fidelity``."""
    edges = []
    level = float(grace_period)
    while level < max_fidelity and not fidelity_matches(level, max_fidelity):
        edges.append(level)
        level *= reduction_factor
    return [*edges, float(max_fidelity)]


@forwards_base_arguments
class DyHPO(SearcherScheduler):
    """DyHPO (see the module docstring); the searcher must be a joint-model ``MultiFidelityGPSearcher``."""

    def __init__(
        self,
        *args: Any,
        grace_period: float = 1,
        rung_increment: float = 2,
        probability_sh: float = 0.25,
        num_new_candidates: int = 250,
        sparse_data: bool = True,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        searcher = self.searcher
        if not (isinstance(searcher, MultiFidelityGPSearcher) and searcher.model == "joint"):
            raise ValueError("DyHPO scores paused trials at levels without data and needs the joint GP searcher: "
                             "MultiFidelityGPSearcher(model='joint') (make_method('DYHPO', ...) builds it)")
        if not 0.0 <= probability_sh < 1.0:
            raise ValueError(f"probability_sh must be in [0, 1), got {probability_sh}")
        self.gp_searcher: MultiFidelityGPSearcher = searcher
        self.grace_period = grace_period
        self.rung_increment = rung_increment
        self.probability_sh = probability_sh
        if num_new_candidates < 1:
            raise ValueError(f"num_new_candidates must be >= 1, got {num_new_candidates}")
        self.num_new_candidates = num_new_candidates
        self.levels = linear_rung_levels(grace_period, rung_increment, self.max_fidelity, self.fidelity_values)
        # The GP's data: one result per trial and geometric bucket (grace_period * 3^k), see the module docstring.
        self.sparse_data = bool(sparse_data)
        searcher.sparsify_joint_data(geometric_buckets(grace_period, self.max_fidelity) if sparse_data else None)
        self.targets: list[float] = [*self.levels, self.max_fidelity]  # where a trial runs to, by position
        self.position: dict[int, int] = {}  # index into targets the trial runs to or is paused at
        self.rung_values: list[dict[int, float]] = [{} for _ in self.levels]
        self._decision_rng = make_rng(self.seed, "scheduler", "dyhpo-candidates")
        self.decisions: list[tuple[int, str, float]] = []  # (trial, "start" | "dyhpo" | "sh", level it runs to)

    # ----------------------------------------------------------------------------------------------------
    def paused_trials(self) -> list[int]:
        """Paused trials below the maximum fidelity, by id."""
        return sorted(t for t, s in self.status.items() if s == TrialStatus.PAUSED and self.position[t] < len(self.levels))

    def _resume(self, trial_id: int, how: str) -> Suggestion:
        self.position[trial_id] += 1
        self.gp_searcher.pending[trial_id] = self.configs[trial_id]  # running again: conditioned on as pending
        self.decisions.append((trial_id, how, float(self.targets[self.position[trial_id]])))
        return self.resume_trial(trial_id)

    def _start(self, trial_id: int, config: Mapping[str, Any] | None) -> Suggestion | None:
        if config is None:
            suggestion = self.start_new_trial(trial_id)  # the searcher's initial or random configuration
            if suggestion is None:
                return None
        else:
            self.configs[trial_id] = self.gp_searcher.accept(trial_id, config)
            self.status[trial_id] = TrialStatus.RUNNING
            suggestion = Suggestion.start(self.configs[trial_id])
        self.position[trial_id] = 0
        self.decisions.append((trial_id, "start", float(self.targets[0])))
        return suggestion

    def successive_halving_choice(self) -> int | None:
        """The paused trial the asynchronous successive-halving rule promotes (None: none qualifies)."""
        for k in range(len(self.levels) - 1, -1, -1):
            rung = self.rung_values[k]
            num_top = int(len(rung) * float(self.levels[k]) / float(self.targets[k + 1]) + 1e-9)
            for _, trial_id in sorted((v, t) for t, v in rung.items())[:num_top]:
                if self.status[trial_id] == TrialStatus.PAUSED and self.position[trial_id] == k:
                    return trial_id
        return None

    def _in_initial_phase(self) -> bool:
        searcher = self.gp_searcher
        return bool(searcher._initial) or len(searcher.history) < max(searcher.num_initial_random, 1) \
            or searcher.num_observations == 0

    def suggest(self, trial_id: int) -> Suggestion:
        paused = self.paused_trials()
        if paused and self.probability_sh > 0 and self.rng.random() < self.probability_sh:
            chosen = self.successive_halving_choice()
            if chosen is not None:
                return self._resume(chosen, "sh")
        if self.can_start_new and self._in_initial_phase():
            started = self._start(trial_id, None)
            if started is not None:
                return started
        if not paused and not self.can_start_new:
            return self.idle()
        kind, payload = self.score(trial_id, paused)
        if kind == "resume":
            return self._resume(int(payload), "dyhpo")
        if kind == "start":
            started = self._start(trial_id, payload)
            if started is not None:
                return started
        return self.idle()

    def score(self, trial_id: int, paused: Sequence[int]) -> tuple[str, Any]:
        """DyHPO's choice among ``paused`` trials (at their next level) and new configurations (at the first
        level): ``("resume", trial_id)``, ``("start", config)`` or ``("none", None)``."""
        searcher = self.gp_searcher
        X_new, rows = np.zeros((0, searcher.encoder.dim)), np.zeros(0, dtype=np.int64)
        if self.can_start_new:
            X_new, rows = searcher.candidates(self._decision_rng, max(self.num_new_candidates, len(paused)))
        if not paused and not len(X_new):
            return "none", None
        if searcher.num_observations == 0:  # nothing to model yet: promote the oldest paused trial
            return ("resume", paused[0]) if paused else ("none", None)
        with single_threaded_blas():
            scores = self._scores(paused, X_new)
        # Best first; a stable sort keeps paused trials (by id) before new configurations on ties. A candidate
        # proposed before (possible in a finite space) gives way to the next best.
        for i in np.argsort(-scores, kind="stable"):
            if i < len(paused):
                return "resume", paused[i]
            config = searcher.decode_candidate(X_new[i - len(paused)], int(rows[i - len(paused)]))
            if config is not None:
                return "start", config
        return "none", None

    def _scores(self, paused: Sequence[int], X_new: np.ndarray) -> np.ndarray:
        searcher = self.gp_searcher
        gp = searcher.joint_model()
        running = [t for t in self.running_trials() if t in self.position]
        if running:
            X_running = np.hstack([searcher.encoded(np.asarray(running)),
                                   searcher.scaled_resource(np.array([self.targets[self.position[t]]
                                                                      for t in running]))[:, None]])
            gp = gp.with_fantasies(X_running)
        levels = np.array([float(self.targets[self.position[t] + 1]) for t in paused]
                          + [float(self.targets[0])] * len(X_new))
        X = np.vstack([searcher.encoded(np.asarray(paused, dtype=np.int64)), X_new])
        X = np.hstack([X, searcher.scaled_resource(levels)[:, None]])
        mean, std = gp.predict(X)
        _, obs_levels, obs_values = searcher.observations()
        overall_best = float(np.min(obs_values))
        scores = np.empty(len(levels))
        for level in np.unique(levels):
            at = levels == level
            seen = obs_values[obs_levels == level]
            best = float(np.min(seen)) if len(seen) else overall_best
            scores[at] = expected_improvement(mean[at], std[at], best)
        return scores

    # ----------------------------------------------------------------------------------------------------
    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return [self.targets[self.position[trial_id]]]

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        k = self.position[trial_id]
        if k >= len(self.levels):
            return Decision.CONTINUE  # on its way to max_fidelity, where it completes
        level = self.levels[k]
        if float(fidelity) < float(level) and not fidelity_matches(fidelity, level):
            return Decision.CONTINUE
        value = self.minimised(metrics)
        self.rung_values[k][trial_id] = value
        self.status[trial_id] = TrialStatus.PAUSED
        return Decision.PAUSE

    def on_trial_failed(self, trial_id: int) -> None:
        super().on_trial_failed(trial_id)
        k = self.position.get(trial_id, len(self.levels))
        if k < len(self.levels) and trial_id not in self.rung_values[k]:
            self.rung_values[k][trial_id] = math.inf
