"""Asynchronous successive halving (ASHA, Li et al. 2020) and asynchronous Hyperband.

Rung levels are ``r_k = grace_period * reduction_factor**k`` below ``max_fidelity`` (snapped to the fidelities
the blackbox reports, see ``baselines.multi_fidelity.rung_levels``). A trial reaching ``max_fidelity`` is
complete. Values are compared "to minimise" (``sign * metric``); NaN counts as the worst value.

Two variants (``variant``):

- ``"stopping"`` (Ray Tune / Syne Tune ``type="stopping"``): trials run on; when a trial first reports at a
  rung, the values recorded *before it* at that rung give the cutoff ``q = quantile(previous, 1 / rf)``
  (numpy's linear interpolation). The trial continues iff its value ``<= q``, else it is stopped. The first
  trial at a rung always continues. This is Syne Tune's ``StoppingRungSystem`` rule.
- ``"promotion"`` (the ASHA paper's algorithm): every trial pauses at each rung. When a worker is free, the
  rungs are scanned from the top down; a paused trial is promoted (resumed up to the next rung) if it is
  among the best ``floor(n_k / rf)`` of the ``n_k`` results at its rung and was not promoted from there
  before (ties broken by the lower trial id). If no trial is promotable, a new trial starts at the bottom.

``brackets > 1`` (``None``: every possible bracket) gives asynchronous Hyperband (ASYNC-HB): bracket ``b`` starts at rung ``b`` (so bracket 0 is
ASHA and the last possible bracket, ``b = number of rungs``, runs trials straight to ``max_fidelity``). Each new
trial draws its bracket at random with Hyperband's proportions: bracket ``b`` with ``s = K - b`` halvings
(``K`` = number of rung levels) has weight ``(K + 1) / (s + 1) * rf**s``, Hyperband's initial number of
configurations ``n_s``. Brackets keep separate rungs. In the promotion variant, promotions of every bracket are
looked at (most aggressive bracket first) before a new trial is started.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import (
    SearcherScheduler,
    TrialStatus,
    check_positive_int,
    fidelity_matches,
    rung_levels,
)
from baselines.scheduler import Decision, Suggestion

VARIANTS = ("stopping", "promotion")


def hyperband_bracket_weights(num_levels: int, reduction_factor: float, num_brackets: int) -> np.ndarray:
    """Probabilities of brackets ``0 .. num_brackets - 1`` (Hyperband's ``n_s``, normalised)."""
    s = num_levels - np.arange(num_brackets)
    weights = (num_levels + 1) / (s + 1) * float(reduction_factor) ** s
    return weights / weights.sum()


class _PromotionRung:
    """A rung of the promotion variant: answers "which trial is promotable" without scanning the rung.

    A trial is promotable when it is among the best ``num_top = floor(n / rf)`` of the ``n`` results at the rung
    (ranked by ``(value, trial id)``), was not promoted from here before and is paused; the best such trial is
    chosen. Three heaps keep that O(log n) per result and per question:

    - ``_top`` (a max-heap, keys negated) holds the ``num_top`` best keys and ``_rest`` (a min-heap) the others,
      so the rank threshold is the head of ``_top``. ``num_top`` only grows (results are never removed), so
      rebalancing moves heads from ``_rest`` to ``_top``.
    - ``_candidates`` (a min-heap) holds the keys of trials not yet promoted from this rung; promoted trials are
      dropped lazily when they reach the head. The best candidate is promotable iff its key is within the
      threshold: every better key belongs to a trial that cannot be promoted, so when the best candidate is
      outside the top, no candidate is inside it. Candidates found not paused (which the simulator never
      produces: a trial recorded here pauses at once) are parked in ``_not_paused`` and looked at again on the
      next question, so the decisions are exactly those of scanning the sorted rung.
    """

    __slots__ = ("_candidates", "_not_paused", "_rest", "_top", "level", "promoted", "values")

    def __init__(self, level: float):
        self.level = level
        self.values: dict[int, float] = {}
        self.promoted: set[int] = set()
        self._top: list[tuple[float, int]] = []  # (-value, -trial id): the worst of the top at the head
        self._rest: list[tuple[float, int]] = []  # (value, trial id)
        self._candidates: list[tuple[float, int]] = []
        self._not_paused: list[tuple[float, int]] = []

    @property
    def sorted(self) -> list[tuple[float, int]]:
        """``(value, trial id)`` pairs, ascending (built on demand, for inspection)."""
        return sorted((value, trial_id) for trial_id, value in self.values.items())

    def __len__(self) -> int:
        return len(self.values)

    def add(self, trial_id: int, value: float) -> None:
        self.values[trial_id] = value
        key = (value, trial_id)
        top = self._top
        if top and key < (-top[0][0], -top[0][1]):
            # Better than the worst of the top: it enters the top and pushes that one out.
            value_out, id_out = heapq.heappushpop(top, (-value, -trial_id))
            heapq.heappush(self._rest, (-value_out, -id_out))
        else:
            heapq.heappush(self._rest, key)
        heapq.heappush(self._candidates, key)

    def pop_promotable(self, num_top: int, status: Mapping[int, TrialStatus]) -> int | None:
        """The best paused, not yet promoted trial among the ``num_top`` best, marked promoted; else ``None``."""
        top, rest = self._top, self._rest
        while len(top) < num_top and rest:
            value, trial_id = heapq.heappop(rest)
            heapq.heappush(top, (-value, -trial_id))
        if not top:
            return None
        candidates = self._candidates
        if self._not_paused:
            parked, self._not_paused = self._not_paused, []
            for key in parked:
                if status[key[1]] == TrialStatus.PAUSED:
                    heapq.heappush(candidates, key)
                else:
                    self._not_paused.append(key)
        while candidates:
            trial_id = candidates[0][1]
            if trial_id in self.promoted:
                heapq.heappop(candidates)
            elif status[trial_id] != TrialStatus.PAUSED:
                self._not_paused.append(heapq.heappop(candidates))
            else:
                break
        if not candidates:
            return None
        worst_value, worst_id = top[0]
        if candidates[0] > (-worst_value, -worst_id):
            return None
        _, trial_id = heapq.heappop(candidates)
        self.promoted.add(trial_id)
        return trial_id


class _QuantileRung:
    """A rung of the stopping variant, which only ever needs one quantile of the recorded values.

    A sorted list costs O(n) per insertion (quadratic over a long run with tens of thousands of trials at the
    bottom rung); here the values are split into a max-heap of the smallest ``floor((n - 1) * q) + 1`` and a
    min-heap of the rest, so the two order statistics the interpolated quantile needs are the heads: O(log n)
    per result. The quantile equals ``numpy.quantile(values, q)`` (linear interpolation) exactly: the same two
    order statistics, the same arithmetic. ``sorted`` is rebuilt on demand for inspection.
    """

    __slots__ = ("_high", "_low", "level", "promoted", "values")

    def __init__(self, level: float):
        self.level = level
        self.values: dict[int, float] = {}
        self.promoted: set[int] = set()
        self._low: list[float] = []  # negated values: heapq's min-heap as a max-heap
        self._high: list[float] = []

    @property
    def sorted(self) -> list[tuple[float, int]]:
        return sorted((value, trial_id) for trial_id, value in self.values.items())

    def add(self, trial_id: int, value: float) -> None:
        self.values[trial_id] = value
        low = self._low
        if low and value < -low[0]:
            heapq.heappush(low, -value)
        else:
            heapq.heappush(self._high, value)

    def __len__(self) -> int:
        return len(self.values)

    def cutoff(self, q: float) -> float | None:
        n = len(self.values)
        if n == 0:
            return None
        pos = (n - 1) * q
        lo = math.floor(pos)
        low, high = self._low, self._high
        while len(low) > lo + 1:
            heapq.heappush(high, -heapq.heappop(low))
        while len(low) < lo + 1:
            heapq.heappush(low, -heapq.heappop(high))
        frac = pos - lo
        a = -low[0]
        if min(lo + 1, n - 1) == lo:  # the last value: no interpolation partner
            return a
        b = high[0]
        if frac == 0.0 or a == b:
            return a
        return a + (b - a) * frac


@forwards_base_arguments
class ASHA(SearcherScheduler):
    """ASHA (stopping or promotion variant); ``brackets > 1`` is asynchronous Hyperband. See the module doc."""

    def __init__(
        self,
        *args: Any,
        variant: str = "stopping",
        grace_period: float = 1,
        reduction_factor: float = 3,
        brackets: int | None = 1,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"unknown ASHA variant {variant!r}; valid: {', '.join(VARIANTS)}")
        check_positive_int("brackets", brackets, allow_none=True)
        self.variant = variant
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.levels = rung_levels(grace_period, reduction_factor, self.max_fidelity, self.fidelity_values)
        # At most one bracket per rung level plus the one running straight to max_fidelity (brackets=None).
        self.num_brackets = len(self.levels) + 1 if brackets is None else min(brackets, len(self.levels) + 1)
        self.bracket_probabilities = hyperband_bracket_weights(len(self.levels), reduction_factor,
                                                               self.num_brackets)
        rung_class = _QuantileRung if variant == "stopping" else _PromotionRung
        self._rungs: list[list[_PromotionRung | _QuantileRung]] = [
            [rung_class(level) for level in self.levels] for _ in range(self.num_brackets)
        ]
        self.bracket_of: dict[int, int] = {}
        self._target_rung: dict[int, int] = {}  # promotion: index of the rung level the trial is running to
        # (bracket, fidelity) -> indices of the bracket's rungs reached at that fidelity, highest first (the
        # levels never change, so the tolerant comparisons are done once per fidelity, not per result).
        self._reached_cache: dict[tuple[int, float], tuple[int, ...]] = {}

    # ----------------------------------------------------------------------------------------------------
    def _sample_bracket(self) -> int:
        if self.num_brackets == 1:
            return 0
        return int(self.rng.choice(self.num_brackets, p=self.bracket_probabilities))

    def _level_cap(self) -> float:
        """The largest fidelity trials may currently reach (PASHA lowers it; ASHA: the maximum)."""
        return float(self.max_fidelity)

    def _next_level(self, rung_index: int) -> float:
        return self.levels[rung_index] if rung_index < len(self.levels) else self.max_fidelity

    def suggest(self, trial_id: int) -> Suggestion:
        if self.variant == "promotion":
            promoted = self._find_promotable()
            if promoted is not None:
                return self.resume_trial(promoted)
        if self.can_start_new:
            bracket = self._sample_bracket()
            suggestion = self.start_new_trial(trial_id)
            if suggestion is not None:
                self.bracket_of[trial_id] = bracket
                self._target_rung[trial_id] = bracket
                return suggestion
        if self.variant == "stopping":
            return Suggestion.done()  # running trials never create work in the stopping variant
        return self.idle()

    def _find_promotable(self) -> int | None:
        cap = self._level_cap()
        for bracket, rungs in enumerate(self._rungs):
            for k in range(len(rungs) - 1, bracket - 1, -1):
                rung = rungs[k]
                if float(self._next_level(k + 1)) > cap + 1e-9:
                    continue  # PASHA: nothing may go beyond the current maximum level
                trial_id = rung.pop_promotable(int(len(rung) / self.reduction_factor), self.status)
                if trial_id is not None:
                    self._target_rung[trial_id] = k + 1
                    return trial_id
        return None

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        bracket = self.bracket_of[trial_id]
        if self.variant == "stopping":
            return list(self.levels[bracket:])
        return [self._next_level(self._target_rung[trial_id])]

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        raw = self.metric_value(metrics)
        self.observe(trial_id, fidelity, raw)
        value = self.minimised(metrics)
        if self.variant == "stopping":
            return self._stopping_decision(trial_id, fidelity, value)
        return self._promotion_decision(trial_id, fidelity, value)

    def _rungs_reached(self, bracket: int, fidelity: float) -> tuple[int, ...]:
        key = (bracket, fidelity)
        reached = self._reached_cache.get(key)
        if reached is None:
            rungs = self._rungs[bracket]
            reached = tuple(k for k in range(len(rungs) - 1, bracket - 1, -1)
                            if float(fidelity) >= rungs[k].level or fidelity_matches(fidelity, rungs[k].level))
            if len(self._reached_cache) < 10_000:
                self._reached_cache[key] = reached
        return reached

    def _stopping_decision(self, trial_id: int, fidelity: float, value: float) -> Decision:
        bracket = self.bracket_of[trial_id]
        rungs = self._rungs[bracket]
        # The highest rung reached (by this result) that the trial has not been judged at yet.
        for k in self._rungs_reached(bracket, fidelity):
            rung = rungs[k]
            if trial_id not in rung.values:
                # The quantile of the values recorded before this one.
                cutoff = rung.cutoff(1.0 / self.reduction_factor)
                rung.add(trial_id, value)
                if cutoff is not None and value > cutoff:
                    return Decision.STOP
                return Decision.CONTINUE
        return Decision.CONTINUE

    def _promotion_decision(self, trial_id: int, fidelity: float, value: float) -> Decision:
        k = self._target_rung[trial_id]
        if k >= len(self.levels):
            return Decision.CONTINUE  # on its way to max_fidelity
        rung = self._rungs[self.bracket_of[trial_id]][k]
        if float(fidelity) < rung.level and not fidelity_matches(fidelity, rung.level):
            return Decision.CONTINUE
        rung.add(trial_id, value)
        self.status[trial_id] = TrialStatus.PAUSED
        return Decision.PAUSE

    # ----------------------------------------------------------------------------------------------------
    def rung_results(self, bracket: int = 0) -> dict[float, dict[int, float]]:
        """Recorded values (to minimise) per rung level of a bracket (for inspection and tests)."""
        return {rung.level: dict(rung.values) for rung in self._rungs[bracket][bracket:]}

