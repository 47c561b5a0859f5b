"""Determined's ``adaptive_asha`` searcher, following ``master/pkg/searcher/{adaptive_asha,asha,asha_stopping}.go``.

Bracket construction (``bracket_layout``, as Determined's code and documentation define it):

1. ``max_rungs <- min(max_rungs, int(log(max_length) / log(divisor)) + 1, int(log(max_trials) / log(divisor)) + 1)``
   (the same float expression as Determined's Go code).
2. Rung counts per bracket by mode: aggressive ``[max_rungs]``; standard ``[(max_rungs - 1) // 2 + 1 ..
   max_rungs]``; conservative ``[1 .. max_rungs]``; ``bracket_rungs`` overrides the mode. Sorted descending:
   the most aggressive bracket first.
3. Trials per bracket: ``max(int(w_i / sum(w) * max_trials), 1)`` with ``w_i = divisor**(r_i - 1) / r_i``; the
   rounding remainder goes to the most aggressive bracket.
4. Concurrency per bracket: ``max_concurrent_trials`` (default 16) is raised to at least the number of
   brackets and split evenly, the remainder going to the most aggressive brackets; ``0`` gives every bracket
   ``max(trials of the last bracket, divisor)``. A bracket never runs more than its ``max_trials`` at once.

Inside a bracket of ``R`` rungs, rung ``i`` trains to ``max(int(max_length / divisor**(R - 1 - i)), 1)`` (snapped
up to the fidelities the blackbox reports). Metrics are compared "smaller is better" (``mode="max"`` negates).

- Promotion (default, ``asha.go``): when a trial reports at rung ``i`` holding ``k`` results before it,
  ``old = int(k / divisor)``, ``new = int((k + 1) / divisor)``; its sorted position is the first entry with a
  strictly larger metric. If that position is ``< new`` the trial is promoted now (it continues); otherwise, if
  ``new != old`` and the entry at position ``old`` (after insertion) was not promoted yet, that trial is
  promoted (it resumes). Trials not promoted pause. A trial reaching the top rung completes.
- ``stop_once`` (``asha_stopping.go``): trials train on; at each rung the trial is inserted before equal
  metrics and continues iff its position ``< max(int(k / divisor), 1)`` with ``k`` counting it, else it stops.

Trials that fail ("exit early") count as the worst metric (``sys.float_info.max``) at the rung they were
running to; a failed trial that gets promoted is recorded, recursively, with the worst metric one rung up.
A bracket creates new trials while it has fewer than its ``max_trials``; it is finished once all its trials
were created and nothing is running or waiting to resume. The tournament hands a free worker first to a
queued promotion (most aggressive bracket first), then a new trial to the bracket with the lowest share of
its concurrency in use (ties: most aggressive), so brackets progress side by side as in Determined.
"""
from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import SearcherScheduler, TrialStatus, check_positive_int, snap_to_fidelities
from baselines.scheduler import Decision, Suggestion

ADAPTIVE_MODES = ("aggressive", "standard", "conservative")
EXITED_METRIC = sys.float_info.max  # Determined's ashaExitedMetricValue


def capped_max_rungs(max_rungs: int, max_length: float, max_trials: int, divisor: float) -> int:
    by_length = int(math.log(float(max_length)) / math.log(divisor)) + 1
    by_trials = int(math.log(float(max_trials)) / math.log(divisor)) + 1
    return min(max_rungs, by_length, by_trials)


def mode_brackets(adaptive_mode: str, max_rungs: int) -> list[int]:
    if adaptive_mode == "aggressive":
        return [max_rungs]
    if adaptive_mode == "standard":
        return list(range((max_rungs - 1) // 2 + 1, max_rungs + 1))
    if adaptive_mode == "conservative":
        return list(range(1, max_rungs + 1))
    raise ValueError(f"unknown adaptive_asha mode {adaptive_mode!r}; valid: {', '.join(ADAPTIVE_MODES)}")


def bracket_max_trials(max_trials: int, divisor: float, brackets: Sequence[int]) -> list[int]:
    weights = [divisor ** (r - 1) / r for r in brackets]
    total = sum(weights)
    trials = [max(int(w / total * max_trials), 1) for w in weights]
    trials[0] += max(max_trials - sum(trials), 0)
    return trials


def bracket_max_concurrent_trials(max_concurrent_trials: int, divisor: float, max_trials: Sequence[int]) -> list[int]:
    n = len(max_trials)
    remainder = 0
    if max_concurrent_trials == 0:
        base = max(max_trials[-1], int(divisor))
    else:
        total = max(max_concurrent_trials, n)
        base, remainder = divmod(total, n)
    out = [base] * n
    for i in range(remainder):
        out[i] += 1
    return out


def rung_lengths(max_length: float, divisor: float, num_rungs: int) -> list[int]:
    return [max(int(float(max_length) / divisor ** (num_rungs - 1 - i)), 1) for i in range(num_rungs)]


@dataclass(frozen=True)
class BracketLayout:
    rungs: list[int]  # rung count per bracket, most aggressive first
    max_trials: list[int]
    max_concurrent: list[int]
    max_rungs: int  # after capping (the largest rung count when brackets were derived from the mode)


def bracket_layout(
    max_trials: int,
    max_length: float,
    adaptive_mode: str = "standard",
    divisor: float = 4,
    max_rungs: int = 5,
    max_concurrent_trials: int = 16,
    bracket_rungs: Sequence[int] | None = None,
) -> BracketLayout:
    if bracket_rungs:
        brackets = [int(r) for r in bracket_rungs]
        capped = max(brackets)
    else:
        capped = capped_max_rungs(max_rungs, max_length, max_trials, divisor)
        brackets = mode_brackets(adaptive_mode, capped)
    brackets = sorted(brackets, reverse=True)
    trials = bracket_max_trials(max_trials, divisor, brackets)
    concurrent = bracket_max_concurrent_trials(max_concurrent_trials, divisor, trials)
    return BracketLayout(brackets, trials, concurrent, capped)


@dataclass
class _Bracket:
    index: int
    lengths: list[float]
    max_trials: int
    max_concurrent: int
    metrics: list[list[float]] = field(default_factory=list)  # per rung, sorted
    entries: list[list[list]] = field(default_factory=list)  # per rung, [metric, trial, promoted], same order
    trial_rung: dict[int, int] = field(default_factory=dict)
    created: int = 0
    to_resume: list[int] = field(default_factory=list)
    early_exit: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.metrics = [[] for _ in self.lengths]
        self.entries = [[] for _ in self.lengths]

    @property
    def top(self) -> int:
        return len(self.lengths) - 1


@forwards_base_arguments
class DeterminedAdaptiveASHA(SearcherScheduler):
    """Determined's adaptive ASHA (see the module docstring). ``max_length`` defaults to ``max_fidelity``."""

    def __init__(
        self,
        *args: Any,
        max_fidelity: float | None = None,  # named here: max_length stands in for a missing one
        fidelity_values: Sequence[float] | None = None,
        max_trials: int = 500,
        max_length: float | None = None,
        adaptive_mode: str = "standard",
        divisor: float = 4,
        max_rungs: int = 5,
        max_concurrent_trials: int = 16,
        stop_once: bool = False,
        bracket_rungs: Sequence[int] | None = None,
        **kwargs: Any,
    ):
        if max_fidelity is None and max_length is not None and fidelity_values is None:
            max_fidelity = max_length
        super().__init__(*args, max_fidelity=max_fidelity, fidelity_values=fidelity_values, max_trials=max_trials,
                         **kwargs)
        check_positive_int("max_trials", max_trials)
        check_positive_int("max_rungs", max_rungs)
        if adaptive_mode not in ADAPTIVE_MODES:
            raise ValueError(f"unknown adaptive_asha mode {adaptive_mode!r}; valid: {', '.join(ADAPTIVE_MODES)}")
        if not (isinstance(divisor, (int, float)) and divisor > 1):
            raise ValueError(f"divisor must be a number > 1, got {divisor!r}")
        if isinstance(max_concurrent_trials, bool) or not isinstance(max_concurrent_trials, int) \
                or max_concurrent_trials < 0:
            raise ValueError(f"max_concurrent_trials must be an integer >= 0, got {max_concurrent_trials!r}")
        if bracket_rungs is not None and (not bracket_rungs or any(int(r) < 1 for r in bracket_rungs)):
            raise ValueError(f"bracket_rungs must be a non-empty list of positive rung counts, got {bracket_rungs!r}")
        self.max_length = float(self.max_fidelity if max_length is None else max_length)
        if self.max_length > float(self.max_fidelity) + 1e-9:
            raise ValueError(f"max_length={max_length} exceeds the blackbox's max_fidelity={self.max_fidelity}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be >= 1 (a number of training units), got {max_length}")
        self.divisor = divisor
        self.stop_once = stop_once
        self.layout = bracket_layout(max_trials, self.max_length, adaptive_mode, divisor, max_rungs,
                                     max_concurrent_trials, bracket_rungs)
        self.brackets: list[_Bracket] = []
        for i, (r, n, c) in enumerate(zip(self.layout.rungs, self.layout.max_trials, self.layout.max_concurrent)):
            lengths = [snap_to_fidelities(x, self.fidelity_values) for x in rung_lengths(self.max_length, divisor, r)]
            if any(float(a) >= float(b) for a, b in itertools.pairwise(lengths)):
                raise ValueError(
                    f"bracket with {r} rungs has rung lengths {lengths} that do not increase: max_length="
                    f"{self.max_length} is too short for {r} rungs with divisor {divisor} (on fidelities "
                    f"{None if self.fidelity_values is None else list(self.fidelity_values)}); use fewer rungs"
                )
            self.brackets.append(_Bracket(i, lengths, n, min(c, n)))
        self.bracket_of: dict[int, _Bracket] = {}
        self._last_metric: dict[int, float] = {}

    # ----------------------------------------------------------------------------------------------------
    def _running_in(self, bracket: _Bracket) -> int:
        # Over the running trials, not the bracket's whole history (a scan of that made long runs quadratic).
        return sum(1 for t in self.status.running if self.bracket_of[t] is bracket)

    def suggest(self, trial_id: int) -> Suggestion:
        for bracket in self.brackets:
            while bracket.to_resume:
                trial = bracket.to_resume.pop(0)
                if self.status[trial] == TrialStatus.PAUSED:
                    return self.resume_trial(trial)
        if self.can_start_new:
            candidates = []
            for bracket in self.brackets:
                running = self._running_in(bracket)
                if bracket.created < bracket.max_trials and running < bracket.max_concurrent:
                    candidates.append((running / bracket.max_concurrent, bracket.index))
            if candidates:
                bracket = self.brackets[min(candidates)[1]]
                suggestion = self.start_new_trial(trial_id)
                if suggestion is not None:
                    bracket.created += 1
                    bracket.trial_rung[trial_id] = 0
                    self.bracket_of[trial_id] = bracket
                    return suggestion
        if self.running_trials():
            return Suggestion.wait()
        return Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        bracket = self.bracket_of[trial_id]
        if self.stop_once:
            return list(bracket.lengths)
        # Every rung from the one the trial is heading to, not only that one: a trial promoted on the spot
        # (CONTINUE at rung i) must be judged again at rung i + 1 without being relaunched.
        return list(bracket.lengths[bracket.trial_rung[trial_id]:])

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        value = self._sign * self.metric_value(metrics)
        if math.isnan(value):
            value = EXITED_METRIC
        bracket = self.bracket_of[trial_id]
        if self.stop_once:
            return self._stop_once_decision(bracket, trial_id, float(fidelity), value)
        rung = bracket.trial_rung[trial_id]
        if float(fidelity) < float(bracket.lengths[rung]) - 1e-9:
            return Decision.CONTINUE
        if rung == bracket.top:
            return self._closed_at_top(bracket)
        self._last_metric[trial_id] = value
        runs = self._arrive(bracket, trial_id, value)
        bracket.to_resume.extend(t for t in runs if t != trial_id)
        if trial_id in runs:
            return Decision.CONTINUE
        self.status[trial_id] = TrialStatus.PAUSED
        return Decision.PAUSE

    def _closed_at_top(self, bracket: _Bracket) -> Decision:
        """A trial that finished its top rung is done: it completes at ``max_fidelity``, or is stopped when
        ``max_length`` is shorter than the blackbox's maximum."""
        if float(bracket.lengths[-1]) >= float(self.max_fidelity) - 1e-9:
            return Decision.CONTINUE
        return Decision.STOP

    # ----------------------------------------------------------------------------------------------------
    def _promotions(self, bracket: _Bracket, rung: int, trial_id: int, value: float) -> list[int]:
        metrics, entries = bracket.metrics[rung], bracket.entries[rung]
        old = int(len(metrics) / self.divisor)
        new = int((len(metrics) + 1) / self.divisor)
        index = bisect.bisect_right(metrics, value)  # first entry with a strictly larger metric
        promote_now = index < new
        metrics.insert(index, value)
        entries.insert(index, [value, trial_id, promote_now])
        if promote_now:
            return [trial_id]
        if new != old and not entries[old][2]:
            entries[old][2] = True
            return [entries[old][1]]
        return []

    def _arrive(self, bracket: _Bracket, trial_id: int, value: float) -> list[int]:
        """Record ``trial_id`` at its rung; the trials that now run to the next rung."""
        rung = bracket.trial_rung[trial_id]
        if rung == bracket.top:
            return []
        out: list[int] = []
        for promoted in self._promotions(bracket, rung, trial_id, value):
            bracket.trial_rung[promoted] = rung + 1
            if promoted in bracket.early_exit:
                return self._arrive(bracket, promoted, EXITED_METRIC)
            out.append(promoted)
        return out

    def _stop_once_decision(self, bracket: _Bracket, trial_id: int, fidelity: float, value: float) -> Decision:
        rung = bracket.trial_rung[trial_id]
        while rung <= bracket.top:
            bracket.trial_rung[trial_id] = rung
            if fidelity < float(bracket.lengths[rung]) - 1e-9:
                return Decision.CONTINUE
            index = bisect.bisect_left(bracket.metrics[rung], value)  # before equal metrics
            bracket.metrics[rung].insert(index, value)
            bracket.entries[rung].insert(index, [value, trial_id, False])
            if rung == bracket.top:
                bracket.trial_rung[trial_id] = rung + 1
                return self._closed_at_top(bracket)
            if index >= max(int(len(bracket.metrics[rung]) / self.divisor), 1):
                return Decision.STOP
            rung += 1
        return Decision.CONTINUE

    def on_trial_failed(self, trial_id: int) -> None:
        super().on_trial_failed(trial_id)
        bracket = self.bracket_of[trial_id]
        bracket.early_exit.add(trial_id)
        rung = bracket.trial_rung[trial_id]
        if rung > bracket.top:
            return
        if self.stop_once:
            index = bisect.bisect_left(bracket.metrics[rung], EXITED_METRIC)
            bracket.metrics[rung].insert(index, EXITED_METRIC)
            bracket.entries[rung].insert(index, [EXITED_METRIC, trial_id, False])
            return
        runs = self._arrive(bracket, trial_id, EXITED_METRIC)
        bracket.to_resume.extend(t for t in runs if t != trial_id)

    def rung_metrics(self, bracket: int) -> list[list[tuple[float, int, bool]]]:
        """Per rung of a bracket: sorted (metric to minimise, trial id, promoted) entries (for tests)."""
        return [[(m, t, p) for m, t, p in rung] for rung in self.brackets[bracket].entries]
