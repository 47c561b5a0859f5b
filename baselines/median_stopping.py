"""Median stopping rule (Golovin et al. 2017, "Google Vizier", section 3.2.2).

Vizier: stop a trial at step ``s`` if its best value up to ``s`` is strictly worse than the median of the
running averages (over steps ``1..s``) of the completed trials. As in Ray Tune's and Syne Tune's versions, the
reference population here is every *other* trial that has reported at step ``s`` (running, completed or
stopped), so the rule works from the start of an asynchronous run instead of only after trials complete.
A step is a fidelity (e.g. an epoch); the running average of a trial at ``s`` is the mean of all results it
reported at fidelities ``<= s`` (the scheduler asks for every fidelity: ``milestones`` = ``None``).

Knobs: ``grace_period`` (no trial is stopped before this fidelity), ``min_samples`` (at least this many other
trials must have reported at ``s``), ``running_average`` (``False`` compares with the median of the other
trials' values *at* ``s`` instead of their running averages).
"""
from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import SearcherScheduler, check_positive_int
from baselines.scheduler import Decision, Suggestion


def median_of_sorted(sorted_values: list[float]) -> float:
    """Median of a non-empty ascending list (mean of the two middle values for an even length)."""
    n = len(sorted_values)
    mid = n // 2
    return sorted_values[mid] if n % 2 else 0.5 * (sorted_values[mid - 1] + sorted_values[mid])


class RunningMedian:
    """The median of a growing multiset, O(log n) per insertion (a sorted list costs O(n) per insertion,
    quadratic over a long run). A max-heap holds the lower half (one more value for an odd count), a min-heap the
    upper half; ``median()`` equals ``median_of_sorted`` of the sorted values exactly (the same one or two
    middle values, the same arithmetic)."""

    __slots__ = ("_high", "_low")

    def __init__(self) -> None:
        self._low: list[float] = []  # negated
        self._high: list[float] = []

    def __len__(self) -> int:
        return len(self._low) + len(self._high)

    def add(self, value: float) -> None:
        low, high = self._low, self._high
        if low and value > -low[0]:
            heapq.heappush(high, value)
        else:
            heapq.heappush(low, -value)
        if len(low) > len(high) + 1:
            heapq.heappush(high, -heapq.heappop(low))
        elif len(high) > len(low):
            heapq.heappush(low, -heapq.heappop(high))

    def median(self) -> float:
        if not self._low:
            raise ValueError("the median of no values is undefined")
        if len(self._low) > len(self._high):
            return -self._low[0]
        return 0.5 * (-self._low[0] + self._high[0])

    def sorted(self) -> list[float]:
        """The values, ascending (for inspection)."""
        return sorted([-v for v in self._low] + self._high)


@forwards_base_arguments
class MedianStoppingRule(SearcherScheduler):
    """Median stopping rule (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        grace_period: float = 1,
        min_samples: int = 3,
        running_average: bool = True,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        check_positive_int("min_samples", min_samples)
        if not grace_period > 0:
            raise ValueError(f"grace_period must be > 0, got {grace_period}")
        self.grace_period = grace_period
        self.min_samples = min_samples
        self.running_average = running_average
        self._reference: dict[float, RunningMedian] = {}  # per fidelity: running averages of trials
        self._sum: dict[int, float] = {}
        self._count: dict[int, int] = {}
        self._best: dict[int, float] = {}

    def suggest(self, trial_id: int) -> Suggestion:
        suggestion = self.start_new_trial(trial_id)
        return suggestion if suggestion is not None else Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return None

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        value = self.minimised(metrics)
        self._sum[trial_id] = self._sum.get(trial_id, 0.0) + value
        self._count[trial_id] = self._count.get(trial_id, 0) + 1
        best = min(self._best.get(trial_id, value), value)
        self._best[trial_id] = best
        key = float(fidelity)
        reference = self._reference.get(key)
        if reference is None:
            reference = self._reference[key] = RunningMedian()
        decision = Decision.CONTINUE
        if float(fidelity) >= self.grace_period and len(reference) >= self.min_samples \
                and best > reference.median():
            decision = Decision.STOP
        own = self._sum[trial_id] / self._count[trial_id] if self.running_average else value
        reference.add(own)
        return decision
