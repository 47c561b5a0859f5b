"""Synchronous successive halving (SH, Jamieson & Talwalkar 2016) and synchronous Hyperband (Li et al. 2018).

Rung levels ``L_0 < L_1 < ... < L_K = max_fidelity`` are ``grace_period * reduction_factor**k`` below the
maximum (snapped to the reported fidelities, see ``baselines.multi_fidelity.rung_levels``) followed by the
maximum itself. Hyperband's bracket ``b`` (``b = 0`` most aggressive) starts at ``L_b`` with ``s = K - b``
halvings and

    n = ceil((K + 1) / (s + 1) * rf**s) trials at L_b,   floor(n / rf**i) trials at L_(b+i), i = 0..s

(for ``rf = 3``, ``K = 3``: ``[27, 9, 3, 1]``, ``[12, 4, 1]``, ``[6, 2]``, ``[4]``). Successive halving is
bracket 0 alone (``n = rf**K``), repeated.

Each rung is filled with its fixed number of trials; every trial pauses at the rung level; once *all* results
of the rung are in, the best ``n_(i+1)`` (ties: lower trial id) are resumed to the next level. While a rung is
incomplete and nothing can be handed out, ``suggest`` answers ``wait``. ``max_open_brackets`` (default 1,
the textbook algorithm) lets that many brackets run at once: an idle worker then starts the next bracket
instead of waiting (Syne Tune's synchronous Hyperband behaves like a large value). Brackets are used in the
order 0, 1, ..., K, 0, 1, ... (SH: 0, 0, ...) until ``max_trials`` new trials were started.

A failed trial counts as the worst value at its rung (so the rung still completes) and is never promoted;
if too few trials survive, the next rung shrinks accordingly. When ``max_trials`` cuts the bottom rung short,
the bracket continues with the trials it has, the rung sizes capped by what the previous rung holds.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import (
    SearcherScheduler,
    TrialStatus,
    check_positive_int,
    fidelity_matches,
    rung_levels,
)
from baselines.scheduler import Decision, Suggestion


def hyperband_brackets(num_levels: int, reduction_factor: float) -> list[list[int]]:
    """Rung sizes of every Hyperband bracket, most aggressive first, for ``num_levels`` levels (max included)."""
    k_max = num_levels - 1
    brackets = []
    for b in range(num_levels):
        s = k_max - b
        n = math.ceil((k_max + 1) / (s + 1) * reduction_factor**s - 1e-9)
        brackets.append([max(int(n / reduction_factor**i + 1e-9), 1) for i in range(s + 1)])
    return brackets


@dataclass
class _Bracket:
    kind: int  # Hyperband bracket index b: starts at level index b
    levels: list[float]  # rung levels of this bracket; the last is max_fidelity
    sizes: list[int]
    rung: int = 0  # rung currently being filled
    started: int = 0  # new trials started into rung 0
    results: list[dict[int, float]] = field(default_factory=list)
    to_resume: list[int] = field(default_factory=list)
    members: set[int] = field(default_factory=set)  # trials running towards the current rung

    def __post_init__(self) -> None:
        self.results = [{} for _ in self.levels]

    @property
    def complete(self) -> bool:
        return self.rung >= len(self.levels)


@forwards_base_arguments
class SynchronousHyperband(SearcherScheduler):
    """Synchronous Hyperband; ``brackets=1`` is synchronous successive halving (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        grace_period: float = 1,
        reduction_factor: float = 3,
        brackets: int | None = None,
        max_open_brackets: int = 1,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        check_positive_int("brackets", brackets, allow_none=True)
        check_positive_int("max_open_brackets", max_open_brackets)
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.levels = [*rung_levels(grace_period, reduction_factor, self.max_fidelity, self.fidelity_values),
                       self.max_fidelity]
        all_sizes = hyperband_brackets(len(self.levels), reduction_factor)
        self.num_brackets = len(all_sizes) if brackets is None else min(brackets, len(all_sizes))
        self.bracket_sizes = all_sizes[: self.num_brackets]
        self.max_open_brackets = max_open_brackets
        self._open: list[_Bracket] = []
        self._opened = 0
        self.bracket_of: dict[int, _Bracket] = {}

    # ----------------------------------------------------------------------------------------------------
    def _open_bracket(self) -> _Bracket:
        kind = self._opened % self.num_brackets
        self._opened += 1
        bracket = _Bracket(kind, list(self.levels[kind:]), list(self.bracket_sizes[kind]))
        self._open.append(bracket)
        return bracket

    def _job(self, bracket: _Bracket, trial_id: int) -> Suggestion | None:
        if bracket.rung == 0 and bracket.started < bracket.sizes[0]:
            suggestion = self.start_new_trial(trial_id)
            if suggestion is not None:
                bracket.started += 1
                bracket.members.add(trial_id)
                self.bracket_of[trial_id] = bracket
                return suggestion
            # No new trial can start: the bottom rung holds what it has.
            bracket.sizes[0] = bracket.started
            self._advance_if_complete(bracket)
        if bracket.to_resume:
            trial = bracket.to_resume.pop(0)
            bracket.members.add(trial)
            return self.resume_trial(trial)
        return None

    def suggest(self, trial_id: int) -> Suggestion:
        for bracket in list(self._open):
            job = self._job(bracket, trial_id)
            if job is not None:
                return job
        self._open = [b for b in self._open if not b.complete]
        while len(self._open) < self.max_open_brackets and self.can_start_new:
            job = self._job(self._open_bracket(), trial_id)
            if job is not None:
                return job
        self._open = [b for b in self._open if not b.complete]
        if not self._open and not self.can_start_new:
            return Suggestion.done()
        return Suggestion.wait() if self._open or self.running_trials() else Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        bracket = self.bracket_of[trial_id]
        return [bracket.levels[bracket.rung]]

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        bracket = self.bracket_of[trial_id]
        if bracket.complete or trial_id not in bracket.members:
            return Decision.CONTINUE
        level = bracket.levels[bracket.rung]
        if float(fidelity) < level and not fidelity_matches(fidelity, level):
            return Decision.CONTINUE
        at_max = fidelity_matches(level, self.max_fidelity)
        if not at_max:
            self.status[trial_id] = TrialStatus.PAUSED  # before recording: it may be promoted right away
        self._record(bracket, trial_id, self.minimised(metrics))
        return Decision.CONTINUE if at_max else Decision.PAUSE  # at the maximum the trial completes

    def _record(self, bracket: _Bracket, trial_id: int, value: float) -> None:
        bracket.members.discard(trial_id)
        bracket.results[bracket.rung][trial_id] = value
        self._advance_if_complete(bracket)

    def _advance_if_complete(self, bracket: _Bracket) -> None:
        while not bracket.complete and not bracket.members and not bracket.to_resume \
                and len(bracket.results[bracket.rung]) >= bracket.sizes[bracket.rung] \
                and (bracket.rung > 0 or bracket.started >= bracket.sizes[0]):
            finished = bracket.results[bracket.rung]
            bracket.rung += 1
            if bracket.complete:
                return
            alive = sorted((v, t) for t, v in finished.items() if self.status[t] == TrialStatus.PAUSED)
            size = min(bracket.sizes[bracket.rung], len(alive))
            bracket.sizes[bracket.rung] = size
            bracket.to_resume = [t for _, t in alive[:size]]

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        bracket = self.bracket_of[trial_id]
        if trial_id in bracket.members:  # completed without on_result at max_fidelity
            self._record(bracket, trial_id, self.minimised(metrics) if self.metric in metrics else math.inf)
        super().on_trial_complete(trial_id, fidelity, metrics)

    def on_trial_failed(self, trial_id: int) -> None:
        super().on_trial_failed(trial_id)
        bracket = self.bracket_of[trial_id]
        if trial_id in bracket.members:
            self._record(bracket, trial_id, math.inf)

    def on_trial_stopped(self, trial_id: int) -> None:
        super().on_trial_stopped(trial_id)
        bracket = self.bracket_of[trial_id]
        if trial_id in bracket.members:
            self._record(bracket, trial_id, math.inf)


@forwards_base_arguments(fixed=("brackets",))
class SynchronousSuccessiveHalving(SynchronousHyperband):
    """Synchronous successive halving: Hyperband's most aggressive bracket, repeated."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, brackets=1, **kwargs)
