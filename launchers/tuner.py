"""The tuner loop: drives a scheduler against a backend until a stopping criterion holds.

Roles
-----
* The **scheduler** (``baselines.scheduler.Scheduler``) decides: what a free worker runs next, and CONTINUE /
  PAUSE / STOP on the results it asked to see (its milestones).
* A **backend** runs trials on ``n_workers`` workers and hands back *events*: a result the scheduler must see
  (a milestone), a trial that reached its maximum fidelity, a trial that finished early or failed. Results
  between milestones never become events; the backend writes them straight into the ``ResultRecorder``
  (in bulk for the simulator, which is where its speed comes from).
* The **tuner** (this module) owns the loop, the trial table, the stopping criteria and the final, ordered
  results.

Order of results
----------------
Every result row has the key ``(sim_time, segment, step)``: its time, the sequence number of the worker
segment (one start or resume of a trial on a worker) that produced it, and the fidelity index. Keys are unique,
and results are reported in key order (a stable lexicographic sort at the end; ties in time are broken by the
older segment first, then by fidelity). The simulator pops its events in the same key order.

Exact stopping by truncation
----------------------------
When the simulator pops the event with key E, every result with a key below E already exists: either it is
recorded, or it is *pending*, i.e. it lies between a running segment's last recorded result and that segment's
next event. Pending results are certain: a segment can only be paused or stopped at one of its events, and a
segment started later starts no earlier than E's time with a larger segment number, so all its results have
larger keys. Decisions only affect later results. Hence, as soon as the criterion holds for the results with
keys up to E, the first results in key order (the first N for ``max_evaluations``, those up to time T for
``max_wallclock_time``, ...) are exactly those of an unbounded run. The tuner then flushes the pending results
and truncates to the stopping key. The simulation may materialise a few results past that key; they are cut.
The scheduler is never called for an event beyond the stopping key, so every decision kept is one the
unbounded run would also have taken.

Criteria (``StoppingCriterion``); several can be combined, the earliest wins:

* ``max_wallclock_time``: results with ``sim_time <= T``.
* ``max_evaluations``: the first N results.
* ``max_trials_completed``: results up to and including the one at which the N-th trial reached its maximum
  fidelity.
* ``max_cost``: results up to and including the one at which the cumulative cost reaches the budget; a
  result's cost is the worker time of its step (or the value of ``cost_objective`` when given).
* ``max_trials_started``: at most N trials are started; the experiment ends at the result whose handling would
  start trial N+1 (that result and its decision are kept). To run N trials to completion use
  ``max_trials_completed``.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from baselines.scheduler import Decision, Scheduler

if TYPE_CHECKING:
    import pyarrow as pa

_perf_counter = time.perf_counter

DECISION_NAMES = np.array(["continue", "pause", "stop"], dtype=object)
DECISION_CODE = {Decision.CONTINUE: 0, Decision.PAUSE: 1, Decision.STOP: 2}

# Event keys: (sim_time, segment sequence, step). A key below every result (used for starts at time zero).
EventKey = tuple[float, int, int]
KEY_BEFORE_EVERYTHING: EventKey = (-math.inf, -1, -1)


# ------------------------------------------------------------------------------------------------------------
# Stopping criteria
# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoppingCriterion:
    """When an experiment ends (see the module docstring for the exact meaning of each budget)."""

    max_wallclock_time: float | None = None
    max_evaluations: int | None = None
    max_trials_started: int | None = None
    max_trials_completed: int | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_wallclock_time", "max_evaluations", "max_trials_started", "max_trials_completed",
                     "max_cost"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float, np.integer, np.floating))
                                          and not isinstance(value, bool) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"StoppingCriterion.{name} must be a finite number >= 0 or None, got {value!r}")
        for name in ("max_evaluations", "max_trials_started", "max_trials_completed"):
            value = getattr(self, name)
            if value is not None and int(value) != value:
                raise ValueError(f"StoppingCriterion.{name} must be an integer, got {value!r}")

    @property
    def is_bounded(self) -> bool:
        return any(v is not None for v in self.to_dict().values())

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "max_wallclock_time": self.max_wallclock_time, "max_evaluations": self.max_evaluations,
            "max_trials_started": self.max_trials_started, "max_trials_completed": self.max_trials_completed,
            "max_cost": self.max_cost,
        }


# ------------------------------------------------------------------------------------------------------------
# Result recording: growable columnar arrays
# ------------------------------------------------------------------------------------------------------------

class ResultRecorder:
    """Columnar, growable storage of result rows (amortised O(1) appends of whole blocks)."""

    _SCALAR_COLUMNS: ClassVar[dict[str, type]] = {
        "trial_id": np.int64, "fidelity": np.float64, "sim_time": np.float64, "real_time": np.float64,
        "worker": np.int32, "decision": np.int8, "segment": np.int64, "step": np.int32, "cost": np.float64,
        "final": np.bool_,
    }

    # Columns whose unused rows are kept at zero ("continue", not final, no cost), so appends skip those writes.
    _ZEROED_COLUMNS: ClassVar[frozenset[str]] = frozenset({"decision", "final", "cost"})

    def __init__(self, objectives_names: Sequence[str], capacity: int = 4096):
        self.objectives_names = list(objectives_names)
        self.n = 0
        self._capacity = max(16, int(capacity))
        self.columns: dict[str, np.ndarray] = {
            name: (np.zeros if name in self._ZEROED_COLUMNS else np.empty)(self._capacity, dtype=dtype)
            for name, dtype in self._SCALAR_COLUMNS.items()
        }
        self.objectives = np.empty((self._capacity, len(self.objectives_names)), dtype=np.float64)
        self.cost_total = 0.0
        self._bind_columns()

    def _bind_columns(self) -> None:
        # Direct references for append_one (one attribute read per column instead of a dict look-up).
        c = self.columns
        self._cols_one = (c["trial_id"], c["fidelity"], c["sim_time"], c["real_time"], c["worker"], c["decision"],
                          c["segment"], c["step"], c["cost"], c["final"])

    def _grow(self, needed: int) -> None:
        # 1.5x steps and buffers resized in place (realloc; large ones are remapped, not copied): the peak
        # stays near the capacity, at most 1.5x the rows, instead of old + new buffers at once.
        capacity = self._capacity
        while capacity < needed:
            capacity += capacity // 2
        self._cols_one = ()  # the recorder's only other references to its buffers
        for name in list(self.columns):
            column = self.columns.pop(name)  # held by this name only, as _grown's reference count expects
            self.columns[name] = _grown(column, self.n, capacity)
            del column
        objectives, self.objectives = self.objectives, np.empty((0, self.objectives.shape[1]))
        self.objectives = _grown(objectives, self.n, capacity)
        del objectives
        self._capacity = capacity
        self._bind_columns()

    def append_block(
        self, trial_id: int, fidelities: np.ndarray, objectives: np.ndarray, sim_times: np.ndarray,
        real_time: float, worker: int, segment: int, first_step: int, cost: np.ndarray | float, final_last: bool,
    ) -> int:
        """Append k consecutive results of one trial; returns the row index of the last one."""
        k = len(sim_times)
        start, end = self.n, self.n + k
        if end > self._capacity:
            self._grow(end)
        c = self.columns
        c["trial_id"][start:end] = trial_id
        c["fidelity"][start:end] = fidelities
        c["sim_time"][start:end] = sim_times
        c["real_time"][start:end] = real_time
        c["worker"][start:end] = worker
        # decision (0 = continue) and final (False) are already zero in unused rows
        c["segment"][start:end] = segment
        c["step"][start:end] = np.arange(first_step, first_step + k)
        if not (isinstance(cost, float) and cost == 0.0 and math.copysign(1.0, cost) > 0.0):
            c["cost"][start:end] = cost  # (unused rows hold +0.0 already)
        if final_last:
            c["final"][end - 1] = True
        self.objectives[start:end] = objectives
        if not isinstance(cost, float) or cost != 0.0:
            self.cost_total += float(np.sum(cost))
        self.n = end
        return end - 1

    def append_one(
        self, trial_id: int, fidelity: float, objectives: np.ndarray, sim_time: float, real_time: float,
        worker: int, segment: int, step: int, cost: float | None, final: bool,
    ) -> int:
        """Append one result (``append_block`` for a block of one, with scalar writes); returns its row.

        ``cost=None``: the cost is not tracked (recorded as 0).
        """
        i = self.n
        if i >= self._capacity:
            self._grow(i + 1)
        trial_ids, fidelities, sim_times, real_times, workers, _, segments, steps, costs, finals = self._cols_one
        trial_ids[i] = trial_id
        fidelities[i] = fidelity
        sim_times[i] = sim_time
        real_times[i] = real_time
        workers[i] = worker
        segments[i] = segment
        steps[i] = step
        if cost is not None:
            costs[i] = cost
            if cost != 0.0:
                self.cost_total += cost
        if final:
            finals[i] = True
        self.objectives[i] = objectives
        self.n = i + 1
        return i

    def add_objective(self, name: str) -> None:
        """A new objective column (NaN for the rows recorded so far); for backends that discover metrics."""
        if name in self.objectives_names:
            raise ValueError(f"objective {name!r} is already recorded")
        self.objectives_names.append(name)
        self.objectives = np.hstack([self.objectives, np.full((self.objectives.shape[0], 1), np.nan)])

    def set_decision(self, row: int, decision: Decision) -> None:
        # identity tests first: hashing an Enum member for the dict look-up is a Python-level call
        code = 2 if decision is Decision.STOP else 1 if decision is Decision.PAUSE else DECISION_CODE[decision]
        self.columns["decision"][row] = code

    def metrics(self, row: int) -> dict[str, float]:
        return dict(zip(self.objectives_names, self.objectives[row].tolist()))

    def key(self, row: int) -> EventKey:
        c = self.columns
        return float(c["sim_time"][row]), int(c["segment"][row]), int(c["step"][row])

    def view(self, name: str) -> np.ndarray:
        return self.columns[name][: self.n]


# Recorder columns the tuner loop needs but Results does not keep (nothing writes them).
_LOOP_ONLY_COLUMNS = ("segment", "step", "cost", "final")


def _grown(buffer: np.ndarray, n: int, capacity: int) -> np.ndarray:
    """``buffer`` with room for ``capacity`` rows, its first ``n`` rows kept and the new rows zero: resized in
    place when nothing else references it (as in ``_trimmed``: the caller holds it in one variable), else
    copied into a new zeroed buffer."""
    if buffer.base is None and buffer.flags.c_contiguous and buffer.flags.owndata and sys.getrefcount(buffer) <= 3:
        buffer.resize((capacity, *buffer.shape[1:]), refcheck=False)  # numpy zero-fills the new rows
        return buffer
    grown = np.zeros((capacity, *buffer.shape[1:]), dtype=buffer.dtype)
    grown[:n] = buffer[:n]
    return grown


def _trimmed(buffer: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows of a growable buffer as an array of its own, without a copy where possible: a buffer
    that owns its memory and is referenced by nobody else is shrunk in place (realloc), releasing the unused
    capacity; otherwise the rows are copied."""
    # Three references: the caller's variable, this parameter and getrefcount's argument. Any other (a view
    # keeps its base alive, so views count too) means the memory may still be read elsewhere: copy instead.
    if buffer.base is None and buffer.flags.c_contiguous and buffer.flags.owndata and sys.getrefcount(buffer) <= 3:
        buffer.resize((n, *buffer.shape[1:]), refcheck=False)
        return buffer
    return buffer[:n].copy()


# ------------------------------------------------------------------------------------------------------------
# Trials, events and the backend interface
# ------------------------------------------------------------------------------------------------------------

@dataclass(slots=True)  # slots: no per-instance __dict__, about 100 bytes less per trial in long runs
class TrialRecord:
    """What the tuner knows about one trial."""

    trial_id: int
    config: dict[str, Any]
    status: str = "running"  # running | paused | completed | stopped | failed
    started_at: float = math.nan
    ended_at: float = math.nan
    last_step: int = -1  # fidelity index of the last reported result (the checkpoint); -1: none
    last_fidelity: float = math.nan
    worker: int = -1
    error: str = ""
    #: the trial started from a copy of this trial's checkpoint (PBT's exploit step); None: from scratch
    checkpoint_from: int | None = None


@dataclass(slots=True)  # slots: one is created per result the tuner handles
class Event:
    """Something the tuner must react to.

    kind "result": a milestone result (``needs_decision``) and/or the result at the maximum fidelity
    (``final``); its row is already in the recorder. kind "finished": the trial ended by itself before its
    maximum fidelity (real scripts), ``row`` is its last result or -1. kind "failed": it crashed or timed out.
    """

    kind: str
    trial_id: int
    worker: int
    time: float
    key: EventKey
    row: int = -1
    fidelity: float = math.nan
    needs_decision: bool = False
    final: bool = False
    error: str = ""


class Backend(ABC):
    """Where trials run. The tuner calls ``bind`` once, then launches trials and consumes events."""

    n_workers: int
    #: whether the backend's clock may be advanced by the measured time of scheduler calls
    charge_scheduler_time: bool = False
    #: whether ``launch`` can start a trial from a copy of another trial's checkpoint (``trial.checkpoint_from``)
    supports_checkpoint_transfer: ClassVar[bool] = False

    def enable_checkpoint_transfer(self) -> None:
        """The scheduler starts trials from other trials' checkpoints (called before ``bind``): keep what that
        needs. Only backends with ``supports_checkpoint_transfer`` override this."""
        raise ValueError(f"{type(self).__name__} cannot start a trial from another trial's checkpoint")

    @abstractmethod
    def bind(self, recorder: ResultRecorder, trials: list[TrialRecord], cost_objective: str | None,
             track_cost: bool = True) -> None:
        """Attach the tuner's recorder and trial list (called once before the first launch).

        ``track_cost=False``: no ``max_cost`` budget, the per-result cost need not be computed.
        """

    @property
    @abstractmethod
    def objectives_names(self) -> list[str]:
        """Names of the objective columns of every result."""

    @property
    @abstractmethod
    def fidelity_values(self) -> np.ndarray:
        """The fidelities a trial reports at, in order, up to the maximum used."""

    @abstractmethod
    def now(self) -> float:
        """Current time of the backend's clock (simulated seconds, or wall clock for real runs)."""

    @abstractmethod
    def launch(self, trial: TrialRecord, worker: int, milestones: Sequence[float] | None, resume: bool) -> None:
        """Start (``resume=False``) or resume the trial on the worker; it continues after ``trial.last_step``."""

    @abstractmethod
    def next_event(self, deadline: float | None) -> Event | None:
        """The next event, or ``None`` when nothing runs any more or the clock passed ``deadline``."""

    @abstractmethod
    def continue_trial(self, trial_id: int) -> None:
        """The scheduler answered CONTINUE on the trial's last event."""

    @abstractmethod
    def pause_trial(self, trial_id: int) -> None:
        """Free the trial's worker, keeping its checkpoint (the last reported fidelity)."""

    @abstractmethod
    def stop_trial(self, trial_id: int) -> None:
        """Free the trial's worker for good."""

    @abstractmethod
    def release_trial(self, trial_id: int) -> None:
        """The trial ended (completed, finished or failed): drop whatever the backend keeps for it."""

    def pending_before(self, key: EventKey) -> tuple[int, float]:
        """Number and cost of certain but unrecorded results with a key below ``key`` (simulator only)."""
        return 0, 0.0

    def pending_total(self) -> tuple[int, float]:
        """Number and cost of all certain but unrecorded results (a cheap bound for the budget checks)."""
        return 0, 0.0

    def add_overhead(self, seconds: float) -> None:
        """Advance the clock by real scheduler time (only called when ``charge_scheduler_time``)."""

    @abstractmethod
    def finish(self) -> None:
        """The experiment ends: record pending results (simulator) or terminate running processes (local)."""

    def abort(self) -> None:
        """The run was interrupted (Ctrl-C) or raised: end whatever runs outside this process, at once.

        Nothing to do for a backend that runs nothing outside the tuner's process (the simulator)."""


# ------------------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------------------

# Arrow schemas of results.parquet / trials.parquet (with their pandas metadata), per process, under the
# column names and dtypes that determine them (see ``Results.to_table``).
_ARROW_SCHEMAS: dict[tuple, Any] = {}
# Plain Python types of config values and the dtype pandas gives a column holding only that type.
_PLAIN_CONFIG_DTYPES: dict[type, Any] = {int: np.int64, float: np.float64, bool: np.bool_, str: object}


def _plain_config_columns(trials: Sequence[TrialRecord],
                          config_names: Sequence[str]) -> dict[str, tuple[str, np.ndarray]] | None:
    """``{name: (kind, per-trial values)}`` when every config column holds values of exactly one plain Python
    type (so pandas' dtype inference is known: int -> int64, float -> float64, bool -> bool, str -> object);
    None when a column mixes types, misses values, holds other types (numpy scalars, None, ...) or there is
    no trial (the caller then goes through pandas)."""
    if not trials:
        return None
    out = {}
    for name in config_names:
        values = [t.config.get(name) for t in trials]
        kinds = set(map(type, values))
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        dtype = _PLAIN_CONFIG_DTYPES.get(kind)
        if dtype is None:
            return None
        try:
            array = np.array(values, dtype=dtype)
        except OverflowError:  # an int beyond int64: pandas picks uint64 or object
            return None
        out[name] = (kind.__name__, array)
    return out


@dataclass
class Results:
    """Outcome of one experiment: columnar result arrays (in report order) and the trial table."""

    objectives_names: list[str]
    config_names: list[str]
    columns: dict[str, np.ndarray]  # trial_id, fidelity, sim_time, real_time, worker, decision (codes)
    objectives: np.ndarray  # (n, O)
    trials: list[TrialRecord]
    segments: dict[str, np.ndarray]  # trial_id, worker, start, end (NaN while running at the end)
    end_reason: str
    stop_time: float
    n_workers: int
    real_seconds: float
    scheduler_seconds: float = 0.0  # real time spent inside scheduler calls (the rest is tuner + backend)

    @property
    def n_results(self) -> int:
        return len(self.columns["trial_id"])

    @property
    def n_trials(self) -> int:
        return len(self.trials)

    def objective(self, name: str) -> np.ndarray:
        try:
            return self.objectives[:, self.objectives_names.index(name)]
        except ValueError:
            raise KeyError(f"no objective {name!r}; objectives are {self.objectives_names}") from None

    def _config_columns(self, trial_index: np.ndarray) -> dict[str, Any]:
        out = {}
        for name in self.config_names:
            per_trial = pd.Series([t.config.get(name) for t in self.trials])
            out[f"config.{name}"] = per_trial.to_numpy()[trial_index] if len(per_trial) else per_trial.to_numpy()
        return out

    def to_frame(self) -> pd.DataFrame:
        """``results.parquet`` as a DataFrame (columns as in ARCHITECTURE.md, "One experiment's results")."""
        c = self.columns
        data: dict[str, Any] = {"trial_id": c["trial_id"], "fidelity": c["fidelity"]}
        for i, name in enumerate(self.objectives_names):
            data[name] = self.objectives[:, i]
        data["sim_time"] = c["sim_time"]
        data["worker"] = c["worker"]
        data["decision"] = DECISION_NAMES[c["decision"]]
        data.update(self._config_columns(c["trial_id"]))
        frame = pd.DataFrame(data)
        frame["decision"] = frame["decision"].astype("string")
        return frame

    def to_table(self) -> pa.Table:
        """``results.parquet`` as an Arrow table, built from the columns without a per-result Python object.

        The same table as ``pa.Table.from_pandas(self.to_frame(), preserve_index=False)`` (schema, pandas
        metadata and values), so the written file is byte-identical, but in a fraction of the time and memory:
        numbers are handed over as they are, the decision is a take from its three names, and each config
        column is converted once per trial and taken by trial.

        The schema (with its pandas metadata) depends only on the column names and on the dtypes pandas
        infers, so it is kept per process under those (``_ArrowSchemas``): when every config column holds one
        plain Python type (int, float, bool or str), the column's dtype is known without pandas and a
        repeated experiment builds its table from Arrow arrays alone. Otherwise, and the first time, schema
        and per-trial config arrays come from ``from_pandas`` of a frame holding the first result row of every
        trial that has one: each column of it holds the same set of values as the whole column, so pandas
        infers the same dtypes.
        """
        import pyarrow as pa

        c = self.columns
        n = self.n_results
        if n == 0:
            return pa.Table.from_pandas(self.to_frame(), preserve_index=False)
        trial_ids = c["trial_id"]
        # np.unique(return_index, return_inverse) without its sort: trial ids are small non-negative integers,
        # so counting gives each present id's rank (position) and a minimum its first row, in O(n)
        present = np.bincount(trial_ids) > 0
        position = (np.cumsum(present) - 1)[trial_ids]
        per_trial = _plain_config_columns(self.trials, self.config_names)
        key = None
        if per_trial is not None:
            key = ("results", tuple(self.objectives_names), str(self.objectives.dtype),
                   *(str(c[name].dtype) for name in ("trial_id", "fidelity", "sim_time", "worker")),
                   *((name, kind) for name, (kind, _) in per_trial.items()))
        schema = _ARROW_SCHEMAS.get(key)
        config_arrays: dict[str, pa.Array] = {}
        if schema is None:
            first_row = np.full(len(present), n, dtype=np.int64)
            np.minimum.at(first_row, trial_ids, np.arange(n, dtype=np.int64))
            first_row = first_row[present]
            sample = pa.Table.from_pandas(Results._sample_frame(self, first_row), preserve_index=False)
            schema = sample.schema
            if key is not None:
                _ARROW_SCHEMAS[key] = schema
            for name in self.config_names:
                config_arrays[name] = sample.column(f"config.{name}").combine_chunks()
        else:
            # the trials with a result, in trial-id order: what the sample's rows would be
            with_result = np.flatnonzero(present)
            for name, (_, values) in per_trial.items():
                field = schema.field(f"config.{name}")
                config_arrays[name] = pa.array(values[with_result], type=field.type, from_pandas=True)
        decision_names = pa.array(DECISION_NAMES.tolist(), type=schema.field("decision").type)
        take_positions = pa.array(position.astype(np.int64))
        arrays: list[pa.Array] = []
        for field in schema:
            name = field.name
            if name in ("trial_id", "fidelity", "sim_time", "worker"):
                arrays.append(pa.array(c[name], type=field.type, from_pandas=True))  # NaN -> null, as pandas
            elif name == "decision":
                arrays.append(decision_names.take(pa.array(c["decision"])))
            elif name.startswith("config.") and name[len("config."):] in self.config_names:
                arrays.append(config_arrays[name[len("config."):]].take(take_positions))
            else:
                arrays.append(pa.array(self.objective(name), type=field.type, from_pandas=True))
        return pa.Table.from_arrays(arrays, schema=schema)

    def _sample_frame(self, rows: np.ndarray) -> pd.DataFrame:
        """``to_frame`` restricted to ``rows`` (the same construction, so the same dtypes)."""
        sub = copy.copy(self)
        sub.columns = {name: column[rows] for name, column in self.columns.items()}
        sub.objectives = self.objectives[rows]
        return sub.to_frame()

    def real_times_frame(self) -> pd.DataFrame:
        """``real_times.parquet``: the real seconds since the start at which each result row was produced.

        Kept out of ``results.parquet`` because it is the only value that changes between two runs of the
        same experiment; without it ``results.parquet`` is bit-identical across reruns and launchers.
        """
        return pd.DataFrame({"real_time": np.asarray(self.columns["real_time"], dtype=np.float64)})

    def trials_frame(self) -> pd.DataFrame:
        """``trials.parquet`` as a DataFrame."""
        counts = np.bincount(self.columns["trial_id"], minlength=self.n_trials) if self.n_trials else np.zeros(0)
        data: dict[str, Any] = {
            "trial_id": np.arange(self.n_trials, dtype=np.int64),
            "status": pd.array([t.status for t in self.trials], dtype="string"),
            "started_at": np.array([t.started_at for t in self.trials], dtype=np.float64),
            "ended_at": np.array([t.ended_at for t in self.trials], dtype=np.float64),
            "n_results": counts.astype(np.int64),
            "error": pd.array([t.error for t in self.trials], dtype="string"),
            # the trial whose checkpoint this one started from (PBT's lineage); <NA>: it started from scratch
            "checkpoint_from": pd.array([t.checkpoint_from for t in self.trials], dtype="Int64"),
        }
        data.update(self._config_columns(np.arange(self.n_trials)))
        return pd.DataFrame(data)

    def trials_table(self) -> pa.Table:
        """``trials.parquet`` as an Arrow table: ``pa.Table.from_pandas(self.trials_frame(),
        preserve_index=False)``, schema and pandas metadata included, so the file is byte-identical.

        The schema depends only on the config columns' dtypes (the other columns have fixed ones), so when
        every config column holds one plain Python type and the statuses, errors and checkpoint sources are
        plain ``str`` / ``int`` (or None), a repeated experiment builds the table from Arrow arrays with the
        schema kept per process (``_ArrowSchemas``) and without pandas.
        """
        import pyarrow as pa

        per_trial = _plain_config_columns(self.trials, self.config_names)
        trials = self.trials
        statuses = [t.status for t in trials]
        errors = [t.error for t in trials]
        sources = [t.checkpoint_from for t in trials]
        plain = (per_trial is not None and all(type(v) is str for v in statuses)
                 and all(v is None or type(v) is str for v in errors)
                 and all(v is None or type(v) is int for v in sources))
        key = ("trials", *((name, kind) for name, (kind, _) in per_trial.items())) if plain else None
        schema = _ARROW_SCHEMAS.get(key)
        if schema is None:
            table = pa.Table.from_pandas(self.trials_frame(), preserve_index=False)
            if key is not None:
                _ARROW_SCHEMAS[key] = table.schema
            return table
        n = self.n_trials
        counts = np.bincount(self.columns["trial_id"], minlength=n)
        columns: dict[str, Any] = {
            "trial_id": np.arange(n, dtype=np.int64),
            "status": statuses,
            "started_at": np.array([t.started_at for t in trials], dtype=np.float64),
            "ended_at": np.array([t.ended_at for t in trials], dtype=np.float64),
            "n_results": counts.astype(np.int64),
            "error": errors,
            "checkpoint_from": sources,
        }
        for name, (_, values) in per_trial.items():
            columns[f"config.{name}"] = values
        arrays = [pa.array(columns[field.name], type=field.type, from_pandas=True) for field in schema]
        return pa.Table.from_arrays(arrays, schema=schema)

    def write(self, path: str, metadata: Mapping[str, Any]) -> str:
        """Write the experiment folder atomically (see ``launchers.results_writer.write_experiment``)."""
        from launchers.results_writer import write_experiment

        return write_experiment(path, self, metadata)


# ------------------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------------------

class Tuner:
    """Runs ``scheduler`` on ``backend`` until ``stop`` holds (or the scheduler is done and nothing runs).

    ``cost_objective``: objective summed for ``max_cost`` (default: the worker time of each step).
    ``progress``: called with the recorder and the trial table after every event the tuner handles (e.g.
    ``launchers.tensorboard_log.ExperimentEvents.on_progress``, which writes live event files); the rows it sees
    are in arrival order and may still be cut by the stopping criterion at the end.
    """

    def __init__(self, scheduler: Scheduler, backend: Backend, stop: StoppingCriterion,
                 cost_objective: str | None = None,
                 progress: Callable[[ResultRecorder, list[TrialRecord]], None] | None = None):
        if not isinstance(stop, StoppingCriterion):
            raise TypeError(f"stop must be a StoppingCriterion, got {type(stop).__name__}")
        if scheduler.transfers_checkpoints and not backend.supports_checkpoint_transfer:
            try:
                backend.enable_checkpoint_transfer()  # raises, naming the backend's reason
            except ValueError as err:
                raise ValueError(f"{type(scheduler).__name__} starts trials from copies of other trials' "
                                 f"checkpoints: {err}") from None
            raise ValueError(f"{type(scheduler).__name__} starts trials from copies of other trials' checkpoints, "
                             f"which {type(backend).__name__} cannot do")
        if cost_objective is not None and backend.objectives_names \
                and cost_objective not in backend.objectives_names:
            raise ValueError(
                f"cost_objective {cost_objective!r} is not an objective of the backend ({backend.objectives_names})"
            )
        self.scheduler = scheduler
        self.backend = backend
        self.stop = stop
        self.cost_objective = cost_objective
        self.progress = progress
        self._ran = False

    # --- helpers ---------------------------------------------------------------------------------------------

    def _timed(self, fn, *args):
        t0 = _perf_counter()
        out = fn(*args)
        spent = _perf_counter() - t0
        self._scheduler_seconds += spent
        if self._charge_scheduler_time:
            self.backend.add_overhead(spent)
        return out

    def _free(self, trial: TrialRecord, status: str, at: float) -> None:
        trial.status = status
        trial.ended_at = at
        self._segment_end[self._open_segment.pop(trial.trial_id)] = at
        self._free_workers.append(trial.worker)

    def _complete(self, trial: TrialRecord, event: Event, metrics: dict[str, float]) -> bool:
        """The trial reached its maximum fidelity (its last result, or the backend's "finished"): free its worker
        and tell the scheduler. Returns whether that completion reaches ``max_trials_completed`` (the run ends)."""
        self._free(trial, "completed", event.time)
        self.backend.release_trial(event.trial_id)
        self._timed(self.scheduler.on_trial_complete, event.trial_id, event.fidelity, metrics)
        self._n_completed += 1
        cap = self.stop.max_trials_completed
        if cap is not None and self._n_completed >= cap:
            self._end_reason = "max_trials_completed"
            return True
        return False

    def _fill_workers(self) -> bool:
        """Ask the scheduler what each free or waiting worker runs. Returns False if the experiment must end."""
        if self._waiting:
            candidates = self._free_workers + sorted(self._waiting)
            self._waiting = set()
        else:
            candidates = self._free_workers
        self._free_workers = []
        suggest = self.scheduler.suggest
        for worker in candidates:
            trial_id = len(self._trials)
            t0 = _perf_counter()  # self._timed inlined (once per trial)
            suggestion = suggest(trial_id)
            spent = _perf_counter() - t0
            self._scheduler_seconds += spent
            if self._charge_scheduler_time:
                self.backend.add_overhead(spent)
            kind = suggestion.kind
            if kind == "start":
                if self.stop.max_trials_started is not None and trial_id >= self.stop.max_trials_started:
                    self._end_reason = "max_trials_started"
                    self._stop_key = self._current_key
                    return False
                if suggestion.config is None:
                    raise ValueError("Suggestion.start needs a configuration")
                trial = TrialRecord(trial_id, dict(suggestion.config))
                if suggestion.checkpoint_from is not None:
                    trial.checkpoint_from = self._checked_donor(suggestion.checkpoint_from)
                self._trials.append(trial)
                self._launch(trial, worker, resume=False)
            elif kind == "resume":
                tid = suggestion.trial_id
                if tid is None or not 0 <= tid < len(self._trials) or self._trials[tid].status != "paused":
                    state = "unknown" if tid is None or not 0 <= tid < len(self._trials) else self._trials[tid].status
                    raise ValueError(
                        f"scheduler {type(self.scheduler).__name__} asked to resume trial {tid}, which is {state}; "
                        "only paused trials can be resumed"
                    )
                self._launch(self._trials[tid], worker, resume=True)
            elif kind == "wait":
                self._waiting.add(worker)
            elif kind == "done":
                self._retired.add(worker)
            else:
                raise ValueError(f"unknown suggestion kind {kind!r} (expected start, resume, wait or done)")
        return True

    def _checked_donor(self, donor: Any) -> int:
        """The trial id a new trial copies its checkpoint from, after checking it can be copied."""
        name = type(self.scheduler).__name__
        if not self.scheduler.transfers_checkpoints:
            raise ValueError(f"scheduler {name} asked to start from trial {donor}'s checkpoint but does not declare "
                             "transfers_checkpoints = True (which lets backends that cannot copy checkpoints "
                             "refuse it before the experiment starts)")
        if isinstance(donor, bool) or not isinstance(donor, (int, np.integer)) \
                or not 0 <= donor < len(self._trials):
            raise ValueError(f"scheduler {name} asked to start from the checkpoint of trial {donor!r}, which does "
                             f"not exist ({len(self._trials)} trials so far)")
        if self._trials[donor].last_step < 0:
            raise ValueError(f"scheduler {name} asked to start from the checkpoint of trial {donor}, which has not "
                             "reported any result (it has no checkpoint yet)")
        return int(donor)

    def _launch(self, trial: TrialRecord, worker: int, resume: bool) -> None:
        t0 = _perf_counter()  # self._timed inlined (once per trial)
        milestones = self.scheduler.milestones(trial.trial_id)
        spent = _perf_counter() - t0
        self._scheduler_seconds += spent
        if self._charge_scheduler_time:
            self.backend.add_overhead(spent)
        trial.worker = worker
        trial.status = "running"
        now = self.backend.now()
        if not resume:
            trial.started_at = now
        trial.ended_at = math.nan
        self._open_segment[trial.trial_id] = len(self._segment_trial)
        self._segment_trial.append(trial.trial_id)
        self._segment_worker.append(worker)
        self._segment_start.append(now)
        self._segment_end.append(math.nan)
        self.backend.launch(trial, worker, milestones, resume)

    def _evaluations_stop(self, event: Event) -> tuple[bool, bool]:
        """(stop before handling the event, stop right after handling it) for count/cost budgets."""
        recorder = self._recorder
        before = after = False
        n_max, c_max = self.stop.max_evaluations, self.stop.max_cost
        pending_n_total, pending_cost_total = self.backend.pending_total()
        if n_max is not None and recorder.n + pending_n_total >= n_max:
            pending, _ = self.backend.pending_before(event.key)
            n_below = self._rows_below(event) + pending
            before |= n_below >= n_max
            after |= n_below + (1 if event.row >= 0 else 0) >= n_max
        if c_max is not None and recorder.cost_total + pending_cost_total >= c_max:
            _, pending_cost = self.backend.pending_before(event.key)
            cost_row = float(recorder.columns["cost"][event.row]) if event.row >= 0 else 0.0
            cost_below = self._cost_below(event) + pending_cost
            before |= cost_below >= c_max
            after |= cost_below + cost_row >= c_max
        return before, after

    def _rows_below(self, event: Event) -> int:
        # Recorded rows all have keys <= the event's key; the event's own row is the only one equal to it.
        return self._recorder.n - (1 if event.row >= 0 else 0)

    def _cost_below(self, event: Event) -> float:
        recorder = self._recorder
        own = float(recorder.columns["cost"][event.row]) if event.row >= 0 else 0.0
        return recorder.cost_total - own

    # --- main loop ------------------------------------------------------------------------------------------

    def run(self) -> Results:
        """Run the experiment to its end; if anything interrupts it (an exception, Ctrl-C), the backend's
        ``abort`` ends its running trials before the exception propagates."""
        if self._ran:
            raise RuntimeError("a Tuner runs once; build a new scheduler, backend and Tuner for another run")
        self._ran = True
        try:
            return self._run()
        except BaseException:
            self.backend.abort()
            raise

    def _run(self) -> Results:
        t_real0 = time.perf_counter()
        backend = self.backend
        self._recorder = ResultRecorder(backend.objectives_names)
        self._trials: list[TrialRecord] = []
        if self.scheduler.transfers_checkpoints:
            backend.enable_checkpoint_transfer()
        backend.bind(self._recorder, self._trials, self.cost_objective, track_cost=self.stop.max_cost is not None)
        self._free_workers: list[int] = list(range(backend.n_workers))
        self._waiting: set[int] = set()
        self._retired: set[int] = set()
        self._open_segment: dict[int, int] = {}
        self._segment_trial: list[int] = []
        self._segment_worker: list[int] = []
        self._segment_start: list[float] = []
        self._segment_end: list[float] = []
        self._current_key: EventKey = KEY_BEFORE_EVERYTHING
        self._stop_key: EventKey | None = None
        self._end_reason = ""
        self._scheduler_seconds = 0.0
        self._charge_scheduler_time = bool(backend.charge_scheduler_time)
        self._n_completed = 0
        stop = self.stop
        deadline = stop.max_wallclock_time
        scheduler = self.scheduler
        recorder = self._recorder
        check_counts = stop.max_evaluations is not None or stop.max_cost is not None
        fidelity_name = scheduler.fidelity_name
        next_event = backend.next_event
        charge = self._charge_scheduler_time
        progress = self.progress

        running = self._fill_workers()
        while running:
            event = next_event(deadline)
            if event is None:
                if deadline is not None and backend.now() > deadline:
                    self._end_reason = "max_wallclock_time"
                else:
                    self._end_reason = "all trials ended" if not self._waiting else "scheduler waits, nothing runs"
                break
            if deadline is not None and event.time > deadline:
                self._end_reason = "max_wallclock_time"
                break
            stop_after = False
            if check_counts:
                stop_before, stop_after = self._evaluations_stop(event)
                if stop_before:
                    self._end_reason = "max_evaluations" if stop.max_evaluations is not None else "max_cost"
                    break
            self._current_key = event.key
            trial = self._trials[event.trial_id]
            if event.kind == "result":
                row = event.row
                trial.last_step = int(recorder.columns["step"][row])
                trial.last_fidelity = event.fidelity
                metrics = recorder.metrics(row) if (event.needs_decision or event.final) else None
                if metrics is not None and fidelity_name is not None:
                    metrics[fidelity_name] = event.fidelity
                decision = Decision.CONTINUE
                if event.needs_decision:
                    # self._timed inlined: this is the most frequent scheduler call
                    t0 = _perf_counter()
                    decision = scheduler.on_result(event.trial_id, event.fidelity, metrics)
                    spent = _perf_counter() - t0
                    self._scheduler_seconds += spent
                    if charge:
                        backend.add_overhead(spent)
                    if decision.__class__ is not Decision:
                        decision = Decision(decision)
                if event.final:
                    # The trial is done whatever was answered; its last result keeps "continue" (schema).
                    if self._complete(trial, event, metrics):
                        break
                elif decision is Decision.CONTINUE:
                    backend.continue_trial(event.trial_id)
                elif decision is Decision.PAUSE:
                    recorder.set_decision(event.row, decision)
                    backend.pause_trial(event.trial_id)
                    self._free(trial, "paused", event.time)
                    self._timed(scheduler.on_trial_paused, event.trial_id)
                else:
                    recorder.set_decision(event.row, decision)
                    backend.stop_trial(event.trial_id)
                    self._free(trial, "stopped", event.time)
                    t0 = _perf_counter()  # self._timed inlined (most trials end here under stopping methods)
                    scheduler.on_trial_stopped(event.trial_id)
                    spent = _perf_counter() - t0
                    self._scheduler_seconds += spent
                    if charge:
                        backend.add_overhead(spent)
            elif event.kind == "finished":
                metrics = recorder.metrics(event.row) if event.row >= 0 else {}
                if metrics and scheduler.fidelity_name is not None:
                    metrics[scheduler.fidelity_name] = event.fidelity
                if self._complete(trial, event, metrics):
                    break
            elif event.kind == "failed":
                trial.error = event.error
                self._free(trial, "failed", event.time)
                backend.release_trial(event.trial_id)
                self._timed(scheduler.on_trial_failed, event.trial_id)
            else:
                raise ValueError(f"backend produced an unknown event kind {event.kind!r}")
            if stop_after:
                self._end_reason = "max_evaluations" if stop.max_evaluations is not None else "max_cost"
                break
            if progress is not None:
                progress(recorder, self._trials)
            if self._free_workers or self._waiting:  # most results keep their worker busy: nothing to fill
                running = self._fill_workers()
        stop_time_now = backend.now()
        backend.finish()
        return self._collect(t_real0, stop_time_now)

    # --- results ----------------------------------------------------------------------------------------------

    @staticmethod
    def _columns_in_report_order(recorder: ResultRecorder) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The recorder's columns sorted by event key, trimmed to the rows used; the recorder is emptied.

        Memory: one column at a time is reordered and the recorder's buffer of it dropped at once, so the
        peak is the buffers plus one column, not two copies of everything. When the rows are already in
        report order, no reordering copy is made; the simulator appends whole blocks of a trial, so usually the
        rows are reordered, each scalar column into a new buffer and the objectives in place, one at a time.
        The buffers (up to 1.5x larger than the rows) are then shrunk in place.
        """
        n = recorder.n
        sim_time, segment, step = (recorder.view(name) for name in ("sim_time", "segment", "step"))
        in_order = bool(n < 2 or np.all(
            (sim_time[1:] > sim_time[:-1]) | ((sim_time[1:] == sim_time[:-1]) & (
                (segment[1:] > segment[:-1]) | ((segment[1:] == segment[:-1]) & (step[1:] > step[:-1]))))))
        order = None if in_order else np.lexsort((step, segment, sim_time))
        del sim_time, segment, step
        recorder._cols_one = ()  # the recorder's only other references to its buffers
        cols: dict[str, np.ndarray] = {}
        for name in list(recorder.columns):
            column = recorder.columns.pop(name)
            cols[name] = _trimmed(column, n) if order is None else column[:n][order]
            del column
        objectives = recorder.objectives
        recorder.objectives = np.empty((0, objectives.shape[1]))
        if order is not None:  # reordered in place one objective at a time: a transient of one column, not all
            for j in range(objectives.shape[1]):
                objectives[:n, j] = objectives[:n, j][order]
        return cols, _trimmed(objectives, n)

    def _collect(self, t_real0: float, clock_at_end: float) -> Results:
        recorder = self._recorder
        n = recorder.n
        cols, objectives = self._columns_in_report_order(recorder)
        keep = n
        stop = self.stop
        if stop.max_wallclock_time is not None:
            keep = min(keep, int(np.searchsorted(cols["sim_time"], stop.max_wallclock_time, side="right")))
        if stop.max_evaluations is not None:
            keep = min(keep, int(stop.max_evaluations))
        if stop.max_trials_completed is not None:
            finals = np.flatnonzero(cols["final"])
            if len(finals) >= stop.max_trials_completed > 0:
                keep = min(keep, int(finals[stop.max_trials_completed - 1]) + 1)
            elif stop.max_trials_completed == 0:
                keep = 0
        if stop.max_cost is not None:
            reached = np.flatnonzero(np.cumsum(cols["cost"]) >= stop.max_cost)
            if stop.max_cost == 0:
                keep = 0
            elif len(reached):
                keep = min(keep, int(reached[0]) + 1)
        if self._stop_key is not None:
            t, seg, step = self._stop_key
            below = (cols["sim_time"] < t) | ((cols["sim_time"] == t) & (
                (cols["segment"] < seg) | ((cols["segment"] == seg) & (cols["step"] <= step))))
            keep = min(keep, int(np.count_nonzero(below)))
        # The event-key, cost and completion columns served the loop and the cut above; a Results holds only
        # what is written (results.parquet's columns and real_time), 21 bytes per result fewer.
        for name in _LOOP_ONLY_COLUMNS:
            del cols[name]
        if keep < n:  # shrunk in place where possible (else copied), so the full-length buffers are freed
            trimmed = {}
            for name in list(cols):
                column = cols.pop(name)  # held by this name only, as _trimmed's reference count expects
                trimmed[name] = _trimmed(column, keep)
                del column
            cols = trimmed
            objectives = _trimmed(objectives, keep)
        if keep:
            stop_time = float(cols["sim_time"][-1])
        else:
            stop_time = 0.0
        if self._end_reason == "max_wallclock_time":
            stop_time = float(stop.max_wallclock_time)
        elif self._end_reason in ("all trials ended", "scheduler waits, nothing runs"):
            stop_time = max(stop_time, clock_at_end if math.isfinite(clock_at_end) else 0.0)
        config_names = list(self.scheduler.config_space.names)
        known = set(config_names)
        for trial in self._trials:
            if trial.status == "running":
                trial.ended_at = math.nan
            if not known.issuperset(trial.config):  # (a C-level check: most configurations add no name)
                for name in trial.config:
                    if name not in known:
                        config_names.append(name)
                        known.add(name)
        segments = {
            "trial_id": np.asarray(self._segment_trial, dtype=np.int64),
            "worker": np.asarray(self._segment_worker, dtype=np.int32),
            "start": np.asarray(self._segment_start, dtype=np.float64),
            "end": np.asarray(self._segment_end, dtype=np.float64),
        }
        return Results(
            objectives_names=list(recorder.objectives_names), config_names=config_names,
            columns={k: v for k, v in cols.items()}, objectives=objectives, trials=self._trials,
            segments=segments, end_reason=self._end_reason or "stopped", stop_time=stop_time,
            n_workers=self.backend.n_workers, real_seconds=time.perf_counter() - t_real0,
            scheduler_seconds=self._scheduler_seconds,
        )
