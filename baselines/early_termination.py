"""Azure ML HyperDrive's early termination policies, as one scheduler parametrised by the policy.

Semantics of HyperDrive (Azure ML SDK v1), as its documentation states them. An *interval* is one reported
result of a run (one fidelity step): a run's ``n``-th result is its interval ``n``. A policy is applied to a run when it reports interval
``N`` with ``N % evaluation_interval == 0`` and ``N >= delay_evaluation`` (``delay_evaluation=200``,
``evaluation_interval=100``: first check at 200). Runs are compared on the primary metric in the direction of
``mode``; values below are in the metric's own units. A policy that fires cancels the run (``STOP``).

- ``BanditPolicy(slack_factor | slack_amount)``: ``B`` = the best value any run reported at an interval
  ``<= N`` (fair to young runs; this run included), ``Y`` = the run's best value up to ``N``.
  Maximise: cancel if ``Y * (1 + slack_factor) < B`` (i.e. ``Y < B / (1 + slack_factor)``) or
  ``Y < B - slack_amount``. Minimise (mirror rule; HyperDrive documents no example): cancel if
  ``Y > B * (1 + slack_factor)`` or ``Y > B + slack_amount``.
- ``MedianStoppingPolicy``: the running average of each run over its intervals ``1..N`` (for every run that
  reached ``N``, this one included); cancel if the run's best value up to ``N`` is worse than their median.
- ``TruncationSelectionPolicy(truncation_percentage)``: the pool holds, for every run (this one included),
  its latest value at an interval ``<= N`` (runs are only compared with what others had by interval ``N``).
  With ``n`` runs in the pool, the ``k = floor(n * truncation_percentage / 100)`` worst are cut: this run is
  cancelled iff the number of pool runs with a value *at least as bad* as its own (itself included) is
  ``<= k``. Flooring never cancels more than the stated percentage; ties are resolved in the run's favour.
  ``exclude_finished_jobs=True`` leaves runs that already ended (completed, cancelled or failed) out of the
  pool.
- ``NoTerminationPolicy`` (or ``policy=None``): every run goes to completion.

Truncation's count is answered by a scan of every run while there are fewer than ``scan_below_runs`` (2,000)
runs, then by ``_TruncationPool`` in O(log(runs) * log(intervals)) per result (see its docstring); the decisions
are those of the scan either way.

NaN results count as the worst value. ``max_concurrent`` (HyperDrive's ``max_concurrent_runs``) makes
``suggest`` wait while that many runs are active; ``max_trials`` is ``max_total_runs``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from baselines.arguments import forwards_base_arguments
from baselines.median_stopping import RunningMedian
from baselines.multi_fidelity import SearcherScheduler, TrialStatus, check_positive_int
from baselines.scheduler import Decision, Suggestion


def _check_intervals(evaluation_interval: int, delay_evaluation: int) -> None:
    if isinstance(evaluation_interval, bool) or not isinstance(evaluation_interval, int) or evaluation_interval < 1:
        raise ValueError(
            f"evaluation_interval must be an integer >= 1 (1 = apply the policy at every interval), got "
            f"{evaluation_interval!r}"
        )
    if isinstance(delay_evaluation, bool) or not isinstance(delay_evaluation, int) or delay_evaluation < 0:
        raise ValueError(f"delay_evaluation must be an integer >= 0, got {delay_evaluation!r}")


@dataclass(frozen=True)
class BanditPolicy:
    slack_factor: float | None = None
    slack_amount: float | None = None
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        if (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError("BanditPolicy needs exactly one of slack_factor or slack_amount")
        slack = self.slack_factor if self.slack_factor is not None else self.slack_amount
        if not slack > 0:
            raise ValueError(f"BanditPolicy slack must be > 0, got {slack}")
        _check_intervals(self.evaluation_interval, self.delay_evaluation)


@dataclass(frozen=True)
class MedianStoppingPolicy:
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        _check_intervals(self.evaluation_interval, self.delay_evaluation)


@dataclass(frozen=True)
class TruncationSelectionPolicy:
    truncation_percentage: int
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    exclude_finished_jobs: bool = False

    def __post_init__(self) -> None:
        p = self.truncation_percentage
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 99:
            raise ValueError(f"truncation_percentage must be an integer in 1..99, got {p!r}")
        _check_intervals(self.evaluation_interval, self.delay_evaluation)


@dataclass(frozen=True)
class NoTerminationPolicy:
    pass


TerminationPolicy = BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy | NoTerminationPolicy


def is_evaluation_point(interval: int, evaluation_interval: int, delay_evaluation: int) -> bool:
    """Whether a policy is applied at ``interval`` (1-based)."""
    return interval % evaluation_interval == 0 and interval >= delay_evaluation


class _TruncationPool:
    """Counts, for TruncationSelectionPolicy, the pool runs whose value at interval ``N`` is at least a given value.

    A pool run's value at ``N`` is its value at ``min(length, N)``. Runs that reached ``N`` contribute their
    value *at* ``N``, which never changes afterwards: one sorted multiset per evaluation point (``_at``), filled
    as runs report that interval. Runs still behind ``N`` contribute their *latest* value, which changes with
    every result: points ``(length, latest)`` in a Fenwick tree over lengths whose nodes are sorted multisets, so
    "behind ``N`` and at least ``v``" is a prefix query over lengths ``< N`` (``log(intervals)`` nodes, a bisection
    in each) and moving a run one interval on is a removal and an insertion along two node paths. Per result
    that is O(log(runs) * log(intervals)) instead of the O(runs) scan. With ``exclude_finished_jobs`` a run that
    ends is taken out of every multiset it is in (once per run, so amortised O(log) per result).

    Values are compared as stored (already "to minimise"); NaN is stored as +inf, the worst value, as the scan
    did. Ties count as "at least as bad" (``>=``), so equal values are resolved in the run's favour as before.
    """

    __slots__ = ("_at", "_capacity", "_tree", "size")

    @classmethod
    def build(cls, runs: Sequence[Sequence[float]], evaluated: Sequence[bool]) -> _TruncationPool:
        """The pool of ``runs`` (each the values at its intervals ``1..length``, stored keys), built in one pass."""
        pool = cls()
        longest = max((len(values) for values in runs), default=0)
        while pool._capacity < longest:
            pool._capacity *= 2
        nodes: list[list[float]] = [[] for _ in range(pool._capacity + 1)]
        at: dict[int, list[float]] = {}
        for values in runs:
            i = len(values)
            while i <= pool._capacity:
                nodes[i].append(values[-1])
                i += i & -i
            for interval, value in enumerate(values, start=1):
                if evaluated[interval - 1]:
                    at.setdefault(interval, []).append(value)
        pool._tree = [SortedList(node) for node in nodes]
        pool._at = {interval: SortedList(values) for interval, values in at.items()}
        pool.size = len(runs)
        return pool

    def __init__(self) -> None:
        self._capacity = 16  # a power of two: the Fenwick tree's top node covers every length
        self._tree: list[SortedList] = [SortedList() for _ in range(self._capacity + 1)]  # node 0 unused
        self._at: dict[int, SortedList] = {}
        self.size = 0  # runs in the pool

    def _grow(self, length: int) -> None:
        while length > self._capacity:
            # Nodes capacity+1 .. 2*capacity-1 cover lengths above the old capacity (none yet); the new top
            # node covers every length, i.e. what the old top node holds.
            old_top = self._tree[self._capacity]
            self._tree.extend(SortedList() for _ in range(self._capacity - 1))
            self._tree.append(SortedList(old_top))
            self._capacity *= 2

    def _insert(self, length: int, value: float) -> None:
        if length > self._capacity:
            self._grow(length)
        tree, i = self._tree, length
        while i <= self._capacity:
            tree[i].add(value)
            i += i & -i

    def _remove(self, length: int, value: float) -> None:
        tree, i = self._tree, length
        while i <= self._capacity:
            tree[i].remove(value)
            i += i & -i

    def record(self, length: int, value: float, previous: float | None, evaluated: bool) -> None:
        """A pool run reported interval ``length`` (``previous``: its value at ``length - 1``, None if first)."""
        if previous is None:
            self.size += 1
        else:
            self._remove(length - 1, previous)
        self._insert(length, value)
        if evaluated:
            at = self._at.get(length)
            if at is None:
                at = self._at[length] = SortedList()
            at.add(value)

    def leave(self, values: Sequence[float], evaluated: Sequence[bool]) -> None:
        """A run leaves the pool: ``values[i]`` is its value at interval ``i + 1`` (every interval it reported)."""
        self.size -= 1
        self._remove(len(values), values[-1])
        for i, value in enumerate(values):
            if evaluated[i]:
                self._at[i + 1].remove(value)

    def count_at_least(self, interval: int, value: float) -> int:
        """Pool runs whose value at ``interval`` is ``>= value``."""
        at = self._at.get(interval)
        count = len(at) - at.bisect_left(value) if at is not None else 0
        tree, i = self._tree, min(interval - 1, self._capacity)
        while i > 0:
            node = tree[i]
            count += len(node) - node.bisect_left(value)
            i -= i & -i
        return count


@forwards_base_arguments
class EarlyTerminationScheduler(SearcherScheduler):
    """Runs a searcher's configurations to completion unless the HyperDrive ``policy`` cancels them."""

    requires_max_fidelity = False
    # Truncation below this many runs scans them (a few numpy calls, cheaper than keeping ``_TruncationPool``
    # up to date: ~10 sorted-list operations per result); at this many the pool is built once and kept. Measured
    # with benchmarks/bench_scheduler_scaling.py: the scan costs ~3 us + 12 ns per run and evaluation, the pool
    # ~22 us per result, so they cross near 1,600 runs. Both give the same decisions.
    scan_below_runs: int = 2_000

    def __init__(
        self,
        *args: Any,
        policy: TerminationPolicy | None = None,
        max_concurrent: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        policy = NoTerminationPolicy() if policy is None else policy
        if not isinstance(policy, (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy,
                                   NoTerminationPolicy)):
            raise TypeError(
                f"policy must be a BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy or "
                f"NoTerminationPolicy, got {policy!r}"
            )
        check_positive_int("max_concurrent", max_concurrent, allow_none=True)
        self.policy = policy
        self.max_concurrent = max_concurrent
        self._row: dict[int, int] = {}
        self._values = np.full((64, 16), np.nan)  # [run, interval - 1], to minimise
        self._lengths = np.zeros(64, dtype=np.int64)
        self._finished = np.zeros(64, dtype=bool)  # the run ended: completed, cancelled or failed
        self._row_trial: list[int] = []
        self._interval_best = np.full(16, np.inf)  # best value reported at each interval by any run
        self._best: dict[int, float] = {}
        self._sum: dict[int, float] = {}
        self._averages: dict[int, RunningMedian] = {}  # interval -> running averages (MedianStoppingPolicy only)
        self._pool: _TruncationPool | None = None  # built once the pool has scan_below_runs runs

    # ----------------------------------------------------------------------------------------------------
    def suggest(self, trial_id: int) -> Suggestion:
        if self.max_concurrent is not None and len(self.running_trials()) >= self.max_concurrent:
            return Suggestion.wait()
        suggestion = self.start_new_trial(trial_id)
        return suggestion if suggestion is not None else Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        if isinstance(self.policy, NoTerminationPolicy):
            return ()
        return None  # best-so-far values and running averages need every interval

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        value = self.minimised(metrics)
        interval = self._record(trial_id, value)
        policy = self.policy
        if isinstance(policy, NoTerminationPolicy):
            return Decision.CONTINUE
        if not is_evaluation_point(interval, policy.evaluation_interval, policy.delay_evaluation):
            return Decision.CONTINUE
        if isinstance(policy, BanditPolicy):
            cancel = self._bandit_cancels(trial_id, interval, policy)
        elif isinstance(policy, MedianStoppingPolicy):
            cancel = self._best[trial_id] > self._averages[interval].median()
        else:
            cancel = self._truncation_cancels(trial_id, interval, policy)
        return Decision.STOP if cancel else Decision.CONTINUE

    # ----------------------------------------------------------------------------------------------------
    def _record(self, trial_id: int, value: float) -> int:
        row = self._row.get(trial_id)
        if row is None:
            row = len(self._row_trial)
            self._row[trial_id] = row
            self._row_trial.append(trial_id)
            if row >= self._values.shape[0]:
                self._values = np.vstack([self._values, np.full_like(self._values, np.nan)])
                self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
                self._finished = np.concatenate([self._finished, np.zeros_like(self._finished)])
        interval = int(self._lengths[row]) + 1
        if interval > self._values.shape[1]:
            width = self._values.shape[1]
            self._values = np.hstack([self._values, np.full((self._values.shape[0], width), np.nan)])
            self._interval_best = np.concatenate([self._interval_best, np.full(width, np.inf)])
        if self._pool is not None and not (self._finished[row] and self.policy.exclude_finished_jobs):
            previous = None if interval == 1 else float(self._pool_key(self._values[row, interval - 2]))
            self._pool.record(interval, self._pool_key(value), previous, self._is_evaluated(interval))
        self._values[row, interval - 1] = value
        self._lengths[row] = interval
        self._interval_best[interval - 1] = min(self._interval_best[interval - 1], value)
        self._best[trial_id] = min(self._best.get(trial_id, math.inf), value)
        self._sum[trial_id] = self._sum.get(trial_id, 0.0) + value
        if isinstance(self.policy, MedianStoppingPolicy):  # the other policies never read the averages
            averages = self._averages.get(interval)
            if averages is None:
                averages = self._averages[interval] = RunningMedian()
            averages.add(self._sum[trial_id] / interval)
        return interval

    @staticmethod
    def _pool_key(value: float) -> float:
        return math.inf if math.isnan(value) else float(value)

    def _is_evaluated(self, interval: int) -> bool:
        policy = self.policy
        return is_evaluation_point(interval, policy.evaluation_interval, policy.delay_evaluation)

    def _end(self, trial_id: int, status: TrialStatus) -> None:
        super()._end(trial_id, status)
        row = self._row.get(trial_id)
        if row is not None:
            if (self._pool is not None and self.policy.exclude_finished_jobs and not self._finished[row]):
                length = int(self._lengths[row])
                self._pool.leave([self._pool_key(v) for v in self._values[row, :length].tolist()],
                                 [self._is_evaluated(i) for i in range(1, length + 1)])
            self._finished[row] = True

    def _bandit_cancels(self, trial_id: int, interval: int, policy: BanditPolicy) -> bool:
        best_all = float(self._interval_best[:interval].min())
        if not math.isfinite(best_all):
            return False  # no finite result anywhere yet: nothing to compare with
        best_raw = self._sign * best_all
        own_raw = self._sign * self._best[trial_id]
        if math.isnan(own_raw) or math.isinf(own_raw):
            return True  # the run never produced a finite value
        if self.mode == "max":
            if policy.slack_factor is not None:
                return own_raw * (1.0 + policy.slack_factor) < best_raw
            return own_raw < best_raw - policy.slack_amount
        if policy.slack_factor is not None:
            return own_raw > best_raw * (1.0 + policy.slack_factor)
        return own_raw > best_raw + policy.slack_amount

    def _build_pool(self) -> _TruncationPool:
        exclude = self.policy.exclude_finished_jobs
        num_rows = len(self._row_trial)
        longest = int(self._lengths[:num_rows].max()) if num_rows else 0
        evaluated = [self._is_evaluated(i) for i in range(1, longest + 1)]
        runs = [[self._pool_key(v) for v in self._values[row, : self._lengths[row]].tolist()]
                for row in range(num_rows) if not (exclude and self._finished[row])]
        return _TruncationPool.build(runs, evaluated)

    def _truncation_cancels(self, trial_id: int, interval: int, policy: TruncationSelectionPolicy) -> bool:
        if self._pool is None:
            if len(self._row_trial) < self.scan_below_runs:
                return self._truncation_cancels_by_scan(trial_id, interval, policy)
            self._pool = self._build_pool()  # from now on kept up to date by _record and _end
        # Pool: every run that reported (unfinished ones only with exclude_finished_jobs), this one always.
        row = self._row[trial_id]
        outside = bool(policy.exclude_finished_jobs and self._finished[row])  # reporting after it ended
        raw = float(self._values[row, interval - 1])
        num_cut = ((self._pool.size + outside) * policy.truncation_percentage) // 100
        if num_cut == 0:
            return False
        if math.isnan(raw):  # (minimised() never records NaN) nothing compares >= NaN: the run is cut
            return True
        own = self._pool_key(raw)
        # Runs at least as bad as this one (itself included: own >= own).
        at_least_as_bad = self._pool.count_at_least(interval, own) + outside
        return at_least_as_bad <= num_cut

    def _truncation_cancels_by_scan(self, trial_id: int, interval: int,
                                    policy: TruncationSelectionPolicy) -> bool:
        """The same decision from a scan of every run's value at ``min(length, interval)`` (small pools)."""
        num_rows = len(self._row_trial)
        lengths = self._lengths[:num_rows]
        in_pool = lengths >= 1
        if policy.exclude_finished_jobs:
            in_pool &= ~self._finished[:num_rows]
        in_pool[self._row[trial_id]] = True
        rows = np.flatnonzero(in_pool)
        latest = self._values[rows, np.minimum(lengths[rows], interval) - 1]
        latest = np.where(np.isnan(latest), np.inf, latest)
        own = self._values[self._row[trial_id], interval - 1]
        num_cut = (len(rows) * policy.truncation_percentage) // 100
        at_least_as_bad = int(np.count_nonzero(latest >= own))
        return num_cut > 0 and at_least_as_bad <= num_cut
