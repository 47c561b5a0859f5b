"""Exact discrete-event simulation of asynchronous HPO on a blackbox.

Model
-----
``n_workers`` workers share a simulated clock. A trial running on a worker reports one result per fidelity step;
the duration of each step comes from the blackbox's time objective. When a trial first starts, its *whole*
curve is fetched with one lookup (a view into the table for a ``TabularBlackbox``; one
``evaluate(config, fidelity=None, seed=s)`` call for any other ``Blackbox``) and kept until the trial can no
longer run. A run of a trial on a worker (a start or a resume) is a *segment*: if it starts at ``t0`` after the
checkpoint at step ``r`` (``r = -1`` for a fresh start), its result at step ``k > r`` is reported at
``t0 + cum[k] - cum[r]`` (``cum[-1] = 0``), where ``cum`` is the trial's cumulative time. A resumed trial thus
pays only the steps it has not run yet, never one twice.

Only the results the scheduler wants to see (``Scheduler.milestones``; ``None`` = all) and the result at the
maximum fidelity become heap events; the results in between are written to the recorder in bulk, as numpy
blocks, when the segment's next event is popped. The heap is keyed ``(time, segment number, step)``, the same
key that orders the results, so ties are broken deterministically (older segment first) and the tuner can
stop exactly (see ``launchers.tuner``).

Time objective
--------------
``time_objective`` (default: ``blackbox.metadata.time_objective``) is cumulative since the trial's start when
``time_is_cumulative`` (default: the metadata's flag); per-step durations are then its differences, the first
one being its value at the first fidelity. Otherwise it already holds per-step durations. Bad values are handled
explicitly, never passed on as non-monotone times:

* negative durations (a cumulative time that decreases, a negative per-step time) count as 0: the cumulative
  time is replaced by its running maximum (clipped at 0);
* Missing replicates: a trial whose drawn replicate seed the table lacks for its configuration (time NaN at every
  step) sees the next replicate the configuration has (cyclically), recorded in ``trial_seeds``.
* NaN: ``nan_time="raise"`` (default) raises ``SimulationError`` naming the trial, configuration, fidelity and
  replicate seed; ``nan_time="impute"`` replaces each undefined step duration by the median of the trial's
  defined ones (an all-NaN time curve still raises).

Randomness
----------
The replicate seed of a trial (which of the table's seeds it sees) is drawn from
``make_rng(seed, "blackbox-seed")`` when the trial is created, in trial-id order, and kept on resume; or fixed
with ``blackbox_seed``. Nothing reads global random state, so the same seed reproduces the run bit for bit.

``charge_scheduler_time=True`` adds the measured real duration of each scheduler call to the clock (the
scheduler is modelled as one process whose calls delay the starts they decide). It is off by default because
real durations vary, which breaks bit-for-bit reproducibility.
"""
from __future__ import annotations

import heapq
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from blackbox_repo.blackbox import Blackbox, TabularBlackbox
from blackbox_repo.seeding import make_rng
from launchers.tuner import Backend, Event, EventKey, ResultRecorder, TrialRecord


class SimulationError(RuntimeError):
    """The blackbox cannot place a trial's results in time (e.g. its time objective is NaN)."""


# Tables whose cumulative time column is checked once, vectorised, instead of once per trial: which (row, seed)
# curves are already a valid clock (no NaN, >= 0 at the first fidelity, non-decreasing), so a trial's cumulative
# time is just the column in float64 and only the other curves are repaired (running maximum, NaN handling).
# Keyed by table, time objective index and number of fidelities used. Tables are treated as immutable once
# simulated (as the table's own row index already is); a table above the size limit keeps the per-trial check
# (a one-off scan of a huge memory-mapped table would cost more than it saves).
_VALID_CLOCK_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_VALID_CLOCK_MAX_ELEMENTS = 100_000_000
_VALID_CLOCK_CHUNK_ELEMENTS = 4_000_000
# The scan costs about as much as checking this many elements per trial's curve (the per-trial check is a few
# numpy calls on one curve, ~ microseconds); a run first checks curves one by one and scans the table once it has
# fetched ``table elements / _VALID_CLOCK_TRIAL_ELEMENTS`` curves. A short run in a fresh process (ASHA for
# 20,000 simulated seconds: ~600 trials, a 24 ms scan of a NAS-Bench-201-sized table) then never pays for the
# scan, and a long one pays for it at most once more than the per-trial checks it replaces (rent or buy).
# Both paths give the same cumulative times (see ``_fetch_curve``).
_VALID_CLOCK_TRIAL_ELEMENTS = 2_000


def valid_clock_rows(blackbox: TabularBlackbox, time_index: int, n_steps: int,
                     scan: bool = True) -> np.ndarray | None:
    """Boolean (configurations, seeds): whether the first ``n_steps`` cumulative times form a valid clock.

    ``None`` when the table is too large to scan (see ``_VALID_CLOCK_MAX_ELEMENTS``), or, with ``scan=False``,
    when it has not been scanned yet in this process.
    """
    objectives = blackbox.objectives
    n_rows, n_seeds = objectives.shape[:2]
    if n_rows * n_seeds * n_steps > _VALID_CLOCK_MAX_ELEMENTS:
        return None
    try:
        per_table = _VALID_CLOCK_ROWS.setdefault(blackbox, {})
    except TypeError:  # a table type that cannot be weakly referenced or hashed
        return None
    key = (time_index, n_steps)
    flags = per_table.get(key)
    if flags is None and scan:
        flags = np.empty((n_rows, n_seeds), dtype=bool)
        chunk = max(1, _VALID_CLOCK_CHUNK_ELEMENTS // max(1, n_seeds * n_steps))
        for lo in range(0, n_rows, chunk):
            column = objectives[lo: lo + chunk, :, :n_steps, time_index]
            ok = column[..., 0] >= 0  # False for NaN
            if n_steps > 1:
                ok &= (column[..., 1:] >= column[..., :-1]).all(axis=-1)  # False at any NaN
            flags[lo: lo + chunk] = ok
        per_table[key] = flags
    return flags


class _Curve:
    """A trial's whole learning curve (up to the maximum fidelity used) and its time/cost per step."""

    __slots__ = ("cost", "cum", "objectives", "seed_index")

    def __init__(self, objectives: np.ndarray, cum: np.ndarray, cost: np.ndarray, seed_index: int):
        self.objectives = objectives  # (F, O), possibly a float32 view into the table
        # (F,) non-decreasing time since the trial's first start: float64, or a view into a float32 table column
        # (exact in float64; every use converts it to float64 before any arithmetic)
        self.cum = cum
        self.cost = cost  # (F,) float64 cost of each step
        self.seed_index = seed_index


class _Segment:
    """One start or resume of a trial on a worker."""

    __slots__ = (
        "base",
        "curve",
        "event_step",
        "every_step",
        "milestone_pos",
        "milestone_steps",
        "seq",
        "t_start",
        "trial_id",
        "worker",
        "written",
    )

    def __init__(self, seq: int, trial_id: int, worker: int, t_start: float, base: float, written: int,
                 every_step: bool, milestone_steps: tuple[int, ...], curve: _Curve):
        self.seq = seq
        self.trial_id = trial_id
        self.worker = worker
        self.t_start = t_start
        self.base = base
        self.written = written  # last step already in the recorder (the checkpoint before the segment: -1 or r)
        self.event_step = -1
        self.every_step = every_step
        self.milestone_steps = milestone_steps  # fidelity indices (Python ints, ascending)
        self.milestone_pos = 0
        self.curve = curve

    def times(self, first: int, last: int) -> np.ndarray:
        out = np.subtract(self.curve.cum[first: last + 1], self.base, dtype=np.float64)
        out += self.t_start  # in place: the same float64 operations as t_start + (cum - base)
        return out


#: Why a simulated table cannot run a method that starts trials from other trials' checkpoints (PBT).
CHECKPOINT_TRANSFER_REFUSAL = (
    "the simulator cannot start a trial from another trial's checkpoint: a table holds one learning curve per "
    "configuration, and no checkpoint to continue from with other hyperparameters. Run such a method on real "
    "training (the local backend, e.g. a real-* benchmark)"
)


def _running_max_clock(column: np.ndarray) -> np.ndarray | None:
    """The cumulative clock of a cumulative time column, as float64, or None if the column holds a NaN.

    Running maximum: a decreasing cumulative time counts as no time passing (exact otherwise); negative times
    count as 0. NaN propagates through np.maximum, so one look at the last value detects any NaN. The maximum
    picks values, so it is taken in the column's own dtype (float32 for tables, no casting loop) and converted
    after: float32 -> float64 is exact, the result is the float64 running maximum.
    """
    cum = np.maximum.accumulate(column).astype(np.float64, copy=False)
    if cum[-1] != cum[-1]:
        return None
    if cum[0] < 0.0:
        np.maximum(cum, 0.0, out=cum)
    return cum


class SimulatorBackend(Backend):
    """Simulated workers on a ``Blackbox`` (fast path for ``TabularBlackbox``)."""

    def __init__(
        self,
        blackbox: Blackbox,
        n_workers: int,
        seed: int,
        time_objective: str | None = None,
        time_is_cumulative: bool | None = None,
        max_fidelity: float | None = None,
        charge_scheduler_time: bool = False,
        nan_time: str = "raise",
        blackbox_seed: int | None = None,
    ):
        if not isinstance(n_workers, (int, np.integer)) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        if nan_time not in ("raise", "impute"):
            raise ValueError(f"nan_time must be 'raise' or 'impute', got {nan_time!r}")
        self.blackbox = blackbox
        self.n_workers = int(n_workers)
        self.seed = seed
        self.charge_scheduler_time = bool(charge_scheduler_time)
        self.nan_time = nan_time
        time_objective = time_objective or blackbox.metadata.time_objective
        if time_objective is None:
            raise ValueError(
                f"blackbox {blackbox.name} names no time objective (metadata.time_objective is None); pass "
                f"time_objective= one of {blackbox.objectives_names} so the simulator knows how long steps take"
            )
        self.time_objective = time_objective
        self._time_index = blackbox.objective_index(time_objective)
        self.time_is_cumulative = blackbox.metadata.time_is_cumulative if time_is_cumulative is None \
            else bool(time_is_cumulative)
        if blackbox.fidelity_values is None:
            fidelities = np.array([1.0])
        else:
            fidelities = np.asarray(blackbox.fidelity_values, dtype=np.float64)
        if max_fidelity is not None:
            n_used = int(np.searchsorted(fidelities, float(max_fidelity), side="right"))
            if n_used == 0:
                raise ValueError(
                    f"max_fidelity={max_fidelity} is below the first fidelity {fidelities[0]:g} of {blackbox.name}"
                )
            fidelities = fidelities[:n_used]
        self._fidelities = fidelities
        self._n_steps = len(fidelities)
        self._last_step = self._n_steps - 1
        self._blackbox_seed = None if blackbox_seed is None else blackbox.seed_index(blackbox_seed)
        self._seed_rng = make_rng(seed, "blackbox-seed")
        self._seed_draws: list[int] = []  # replicate seed indices drawn ahead, next one last
        self._seed_block = 8
        self._tabular = isinstance(blackbox, TabularBlackbox)
        self.trial_seeds: list[int] = []
        self._curves: dict[int, _Curve] = {}
        self._active: dict[int, _Segment] = {}
        self._heap: list[tuple[float, int, int, int]] = []
        self._now = 0.0
        self._seq = 0
        self._recorder: ResultRecorder | None = None
        self._trials: list[TrialRecord] = []
        self._cost_index: int | None = None
        self._track_cost = False
        self._milestone_cache: dict[tuple, tuple[int, ...]] = {}
        self._valid_clock: np.ndarray | None = None  # see valid_clock_rows; set in bind or after enough trials
        self._curves_until_scan = -1  # tabular curves to fetch one by one before scanning (-1: never scan)
        self._fidelity_list: list[float] = self._fidelities.tolist()  # scalar reads without numpy scalars
        self._t_real0 = time.perf_counter()
        self._bound = False

    # --- Backend interface ----------------------------------------------------------------------------------

    def enable_checkpoint_transfer(self) -> None:
        raise ValueError(CHECKPOINT_TRANSFER_REFUSAL)

    def bind(self, recorder: ResultRecorder, trials: list[TrialRecord], cost_objective: str | None,
             track_cost: bool = True) -> None:
        if self._bound:
            raise RuntimeError("a SimulatorBackend serves one Tuner run; build a new one for another run")
        self._bound = True
        self._recorder = recorder
        self._trials = trials
        self._cost_index = None if cost_objective is None else self.blackbox.objective_index(cost_objective)
        self._track_cost = bool(track_cost)
        if self._tabular and self.time_is_cumulative:
            # A table already scanned in this process is used at once; otherwise the scan waits (see
            # _VALID_CLOCK_TRIAL_ELEMENTS).
            self._valid_clock = valid_clock_rows(self.blackbox, self._time_index, self._n_steps, scan=False)
            if self._valid_clock is None:
                n_rows, n_seeds = self.blackbox.objectives.shape[:2]
                self._curves_until_scan = n_rows * n_seeds * self._n_steps // _VALID_CLOCK_TRIAL_ELEMENTS
        self._t_real0 = time.perf_counter()

    @property
    def objectives_names(self) -> list[str]:
        return list(self.blackbox.objectives_names)

    @property
    def fidelity_values(self) -> np.ndarray:
        return self._fidelities

    def now(self) -> float:
        return self._now

    def add_overhead(self, seconds: float) -> None:
        self._now += seconds

    def launch(self, trial: TrialRecord, worker: int, milestones: Sequence[float] | None, resume: bool) -> None:
        tid = trial.trial_id
        if trial.checkpoint_from is not None and not resume:
            raise ValueError(f"trial {tid} was asked to start from trial {trial.checkpoint_from}'s checkpoint: "
                             + CHECKPOINT_TRANSFER_REFUSAL)
        if resume:
            curve = self._curves[tid]
        else:
            if tid != len(self.trial_seeds):
                raise RuntimeError(f"trials must be created in id order; got {tid} after {len(self.trial_seeds)}")
            seed_index = self._blackbox_seed if self._blackbox_seed is not None else self._draw_seed_index()
            self.trial_seeds.append(seed_index)
            curve = self._fetch_curve(trial, seed_index)
            self._curves[tid] = curve
        checkpoint = trial.last_step
        if checkpoint >= self._last_step:
            raise RuntimeError(f"trial {tid} already reported its maximum fidelity; it cannot be resumed")
        if milestones is None:
            every, steps = True, ()
        else:
            every, steps = False, self._milestone_steps(milestones)
        base = float(curve.cum[checkpoint]) if checkpoint >= 0 else 0.0
        seg = _Segment(self._seq, tid, worker, self._now, base, checkpoint, every, steps, curve)
        self._seq += 1
        self._active[tid] = seg
        self._push_next(seg)

    def next_event(self, deadline: float | None) -> Event | None:
        if not self._heap:
            return None
        t, seq, step, tid = heapq.heappop(self._heap)
        seg = self._active[tid]
        row = self._write(seg, step)
        self._now = max(self._now, t)
        pos = seg.milestone_pos
        needs = seg.every_step or (pos < len(seg.milestone_steps) and seg.milestone_steps[pos] == step)
        return Event("result", tid, seg.worker, t, (t, seq, step), row, self._fidelity_list[step], needs,
                     step == self._last_step)

    def continue_trial(self, trial_id: int) -> None:
        self._push_next(self._active[trial_id])

    def pause_trial(self, trial_id: int) -> None:
        del self._active[trial_id]  # the curve (and so the checkpoint) stays for a resume

    def stop_trial(self, trial_id: int) -> None:
        del self._active[trial_id]
        self._curves.pop(trial_id, None)

    def release_trial(self, trial_id: int) -> None:
        self._active.pop(trial_id, None)
        self._curves.pop(trial_id, None)

    def pending_total(self) -> tuple[int, float]:
        n, cost = 0, 0.0
        for seg in self._active.values():
            if seg.event_step > seg.written:
                n += seg.event_step - seg.written
                if seg.curve.cost is not None:
                    cost += float(np.sum(seg.curve.cost[seg.written + 1: seg.event_step + 1]))
        return n, cost

    def pending_before(self, key: EventKey) -> tuple[int, float]:
        t, key_seq, _ = key
        n, cost = 0, 0.0
        for seg in self._active.values():
            if seg.event_step <= seg.written:
                continue
            times = seg.times(seg.written + 1, seg.event_step)
            # Same time: an older segment comes first (its key is smaller), a younger one after.
            count = int(np.searchsorted(times, t, side="right" if seg.seq < key_seq else "left"))
            if count:
                n += count
                if seg.curve.cost is not None:
                    cost += float(np.sum(seg.curve.cost[seg.written + 1: seg.written + 1 + count]))
        return n, cost

    def finish(self) -> None:
        # Record the certain results of running segments (up to their next event); the tuner truncates.
        for seg in sorted(self._active.values(), key=lambda s: s.seq):
            if seg.event_step > seg.written:
                self._write(seg, seg.event_step)
        self._heap.clear()

    # --- internals ------------------------------------------------------------------------------------------

    def _draw_seed_index(self) -> int:
        draws = self._seed_draws
        if not draws:
            # Generator.integers yields the same stream in one vectorised call as in as many scalar calls (PCG64
            # keeps its spare 32-bit half in the generator's state), so drawing ahead in growing blocks gives
            # every trial the same replicate seed as one scalar draw per trial, at a fraction of the cost. Only
            # how far this private stream has advanced differs.
            block = self._seed_rng.integers(self.blackbox.num_seeds, size=self._seed_block).tolist()
            draws.extend(reversed(block))
            self._seed_block = min(2 * self._seed_block, 1024)
        return draws.pop()

    def _milestone_steps(self, milestones: Sequence[float]) -> tuple[int, ...]:
        try:
            key = tuple(milestones)
            cached = self._milestone_cache.get(key)
        except TypeError:  # unhashable entries: convert below, uncached
            key, cached = None, None
        if cached is not None:
            return cached
        steps = self._milestone_steps_uncached(milestones)
        if key is not None and len(self._milestone_cache) < 10_000:
            self._milestone_cache[key] = steps
        return steps

    def _milestone_steps_uncached(self, milestones: Sequence[float]) -> tuple[int, ...]:
        values = np.asarray(list(milestones), dtype=np.float64)
        if values.size == 0:
            return ()
        if np.isnan(values).any():
            raise ValueError(f"milestones must be fidelity values, got {list(milestones)}")
        # A milestone between tabulated fidelities is seen at the first fidelity at or above it.
        steps = np.searchsorted(self._fidelities, values, side="left")
        return tuple(np.unique(steps[steps < self._n_steps]).tolist())

    def _push_next(self, seg: _Segment) -> None:
        after = seg.written
        if seg.every_step:
            step = after + 1
        else:
            ms = seg.milestone_steps
            pos = seg.milestone_pos
            n_ms = len(ms)
            while pos < n_ms and ms[pos] <= after:
                pos += 1
            seg.milestone_pos = pos
            step = ms[pos] if pos < n_ms else self._last_step
        seg.event_step = step
        t = seg.t_start + (float(seg.curve.cum[step]) - seg.base)
        heapq.heappush(self._heap, (t, seg.seq, step, seg.trial_id))

    def _write(self, seg: _Segment, last: int) -> int:
        first = seg.written + 1
        curve = seg.curve
        if first == last:
            # One result (the common case for methods that stop most trials at their first rung): scalar
            # writes, the same float64 arithmetic as the block path.
            seg.written = last
            return self._recorder.append_one(
                seg.trial_id, self._fidelity_list[last], curve.objectives[last],
                seg.t_start + (float(curve.cum[last]) - seg.base), time.perf_counter() - self._t_real0,
                seg.worker, seg.seq, last, None if curve.cost is None else float(curve.cost[last]),
                last == self._last_step,
            )
        row = self._recorder.append_block(
            seg.trial_id, self._fidelities[first: last + 1], curve.objectives[first: last + 1],
            seg.times(first, last), time.perf_counter() - self._t_real0, seg.worker, seg.seq, first,
            0.0 if curve.cost is None else curve.cost[first: last + 1], final_last=last == self._last_step,
        )
        seg.written = last
        return row

    def _present_seed(self, row: int, seed_index: int) -> int:
        """``seed_index``, or, when the table lacks that replicate for this configuration (its time column is
        NaN at every step, e.g. NAS-Bench-201 architectures trained with fewer seeds), the next replicate it
        has, cyclically. Deterministic, so runs stay reproducible; a table without any replicate of the
        configuration still raises in ``_cumulative_time``."""
        times = self.blackbox.objectives[row, :, : self._n_steps, self._time_index]
        if not np.isnan(times[seed_index]).all():
            return seed_index
        n = times.shape[0]
        for offset in range(1, n):
            candidate = (seed_index + offset) % n
            if not np.isnan(times[candidate]).all():
                return candidate
        return seed_index

    def _fetch_curve(self, trial: TrialRecord, seed_index: int) -> _Curve:
        bb = self.blackbox
        if self._tabular:
            row = bb.row(trial.config)
            if self._curves_until_scan >= 0:
                if self._curves_until_scan == 0:
                    self._valid_clock = valid_clock_rows(bb, self._time_index, self._n_steps)
                self._curves_until_scan -= 1
            if self._valid_clock is not None and self._valid_clock[row, seed_index]:
                # Already a valid clock: the running maximum would return it unchanged, so the column itself
                # (a view, converted exactly to float64 where it is used) is the cumulative time.
                objectives = bb.objectives[row, seed_index, : self._n_steps]
                return self._make_curve(objectives, objectives[:, self._time_index], seed_index)
            if self._valid_clock is None and self.time_is_cumulative:
                # Not scanned yet: a clock without NaN also says the replicate is present (no other to look for).
                objectives = bb.objectives[row, seed_index, : self._n_steps]
                cum = _running_max_clock(objectives[:, self._time_index])
                if cum is not None:
                    return self._make_curve(objectives, cum, seed_index)
            seed_index = self._present_seed(row, seed_index)
            self.trial_seeds[trial.trial_id] = seed_index
            objectives = bb.objectives[row, seed_index, : self._n_steps]
        else:
            values = np.asarray(bb.evaluate(trial.config, fidelity=None, seed=seed_index), dtype=np.float64)
            objectives = values.reshape(-1, len(bb.objectives_names))[: self._n_steps]
            if objectives.shape[0] != self._n_steps:
                raise SimulationError(
                    f"{bb.name}.evaluate returned {objectives.shape[0]} fidelities for trial {trial.trial_id}, "
                    f"expected {self._n_steps}"
                )
        cum = self._cumulative_time(objectives[:, self._time_index], trial, seed_index)
        return self._make_curve(objectives, cum, seed_index)

    def _make_curve(self, objectives: np.ndarray, cum: np.ndarray, seed_index: int) -> _Curve:
        if not self._track_cost:
            cost = None
        elif self._cost_index is None:
            cost = np.empty(len(cum), dtype=np.float64)
            cost[0] = cum[0]
            np.subtract(cum[1:], cum[:-1], out=cost[1:], dtype=np.float64)
        else:
            cost = np.nan_to_num(objectives[:, self._cost_index].astype(np.float64), nan=0.0)
        return _Curve(objectives, cum, cost, seed_index)

    def _cumulative_time(self, column: np.ndarray, trial: TrialRecord, seed_index: int) -> np.ndarray:
        if self.time_is_cumulative:
            cum = _running_max_clock(column)
            if cum is None:
                return self._impute_time(column.astype(np.float64), trial, seed_index)
            return cum
        raw = column.astype(np.float64)
        if np.isnan(raw).any():
            return self._impute_time(raw, trial, seed_index)
        return np.cumsum(np.maximum(raw, 0.0))

    def _impute_time(self, raw: np.ndarray, trial: TrialRecord, seed_index: int) -> np.ndarray:
        nan = np.isnan(raw)
        if self.nan_time == "raise" or nan.all():
            step = int(np.flatnonzero(nan)[0])
            raise SimulationError(
                f"trial {trial.trial_id} {trial.config}: time objective {self.time_objective!r} of "
                f"{self.blackbox.name} is NaN at fidelity {self._fidelities[step]:g} (replicate seed index "
                f"{seed_index}), so its results cannot be placed in time. "
                + ("Every step is NaN; this configuration has no timing at all."
                   if nan.all() else "Pass nan_time='impute' to use the median step duration instead.")
            )
        durations = np.diff(raw, prepend=0.0) if self.time_is_cumulative else raw.copy()
        if self.time_is_cumulative:
            # A step is undefined when its own or its predecessor's cumulative value is NaN.
            durations[1:][nan[:-1]] = np.nan
        undefined = np.isnan(durations)
        durations[undefined] = np.median(durations[~undefined]) if (~undefined).any() else 0.0
        return np.cumsum(np.maximum(durations, 0.0))

    # --- introspection for tests and reports ----------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "blackbox": self.blackbox.name, "n_workers": self.n_workers, "seed": self.seed,
            "time_objective": self.time_objective, "time_is_cumulative": self.time_is_cumulative,
            "max_fidelity": float(self._fidelities[-1]), "charge_scheduler_time": self.charge_scheduler_time,
            "nan_time": self.nan_time,
        }
