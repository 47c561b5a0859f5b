"""TensorBoard event files of one experiment: watch a study while it runs with ``tensorboard --logdir ROOT/TAG``.

What is written (folder ``<experiment>/tensorboard/``; TensorBoard shows every folder as a run, so a study's
runs are named ``<benchmark>/<method>/<seed>/tensorboard`` and ``.../tensorboard/trial_<id>``):

* the experiment's run, one point per result row of ``results.parquet`` (step = the row's index, in report
  order), with the scalar names Syne Tune's ``TensorboardCallback`` users know, grouped by prefix:
  ``best/<metric>`` (best-so-far of each optimised objective, by its mode; NaN counts as the worst value, so it
  stays NaN until the first number), ``result/<objective>`` (the value of every objective the result reported),
  ``result/fidelity``, ``result/trial_id``, ``config/<hyperparameter>`` (numeric hyperparameters of the
  result's trial), ``number_of_trials`` (trials that have reported so far), ``runtime`` (the result's
  ``sim_time``) and, for single-objective benchmarks, ``optimal/<hyperparameter>`` (numeric hyperparameters of
  the best-so-far configuration; Syne Tune's ``optimal_<name>``);
* one run per trial, ``trial_<id>/``, with ``trial/<objective>`` per result of that trial: its learning curve,
  with all trials overlaid in one chart per objective. Step = the fidelity when it is a whole number (epochs),
  else the result's position within the trial (1, 2, ...).

Time axis: every point's wall time is the experiment's start plus the result's ``sim_time`` (simulated seconds
for the simulator, real seconds since the start for real training), so TensorBoard's "relative" axis is the
experiment's clock and "step" is the result index. Values are float32, TensorBoard's scalar format.

When: real training (``LocalBackend``) writes after every event the tuner handles (each result the method
sees, each trial end), so the files grow while the experiment runs. Simulated experiments take seconds and
their results are ordered and truncated only at the end, so they are written once, at the end. Either way the
finished files hold exactly ``results.parquet``: if rows written live were later cut by the budget or put in
another order, the files are rewritten from the final table (a TensorBoard already showing them then needs a
reload).

The files are written with TensorBoard's own record format and protocol buffers (package ``tensorboard``, extra
``live``, with ``google-crc32c`` for the record checksums when installed): synchronously (no writer thread) and
flushed at every update, so a reader never sees a partial record. tensorboardX was not used because it
imports torch when torch is installed (seconds per process).
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import socket
import struct
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from launchers.tuner import ResultRecorder, Results, TrialRecord

EVENTS_FOLDER = "tensorboard"
TENSORBOARD_CHOICES = ("auto", "true", "false")
_file_counter = itertools.count()


def _masked_crc32c_google(data: bytes) -> int:
    """TFRecord's masked CRC-32C (rotate right by 15, add a constant), with google-crc32c's C implementation."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def require_tensorboard():
    """TensorBoard's protocol buffers and the record checksum (C google-crc32c when installed: tensorboard's
    own is pure Python, takes most of the writing time, and its module costs a second to import)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
    except ImportError as err:
        raise ImportError(
            f"TensorBoard event files need the package `tensorboard` ({err}): pip install 'hpo-arena[live]', "
            "or turn them off with tensorboard=false"
        ) from None
    try:
        import google_crc32c

        if google_crc32c.implementation == "c":
            return event_pb2, summary_pb2, _masked_crc32c_google
    except ImportError:
        pass
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return event_pb2, summary_pb2, masked_crc32c


def parse_tensorboard_option(value: Any) -> bool | None:
    """The sweep key ``tensorboard``: ``auto`` (None: on for real training, off for simulated experiments),
    ``true`` or ``false``. Raises ValueError naming the accepted values."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"tensorboard={value!r} is not one of auto, true, false (auto: event files for real-training "
                     "benchmarks only)")


def tensorboard_enabled(option: bool | None, simulated: bool, experiment_path: str) -> bool:
    """Whether an experiment writes event files: the option, or (auto) only real training on a local folder.

    Event files are written only to local folders (TensorBoard itself reads s3:// only through TensorFlow):
    ``tensorboard=true`` with a remote results root is an error.
    """
    local = "://" not in experiment_path or experiment_path.startswith("file://")
    if option is None:
        if not local or simulated:
            return False
        try:
            require_tensorboard()
        except ImportError:  # auto never fails an experiment: it just has no live view
            warnings.warn("tensorboard is not installed, so this real-training experiment writes no TensorBoard "
                          "event files (pip install 'hpo-arena[live]')", stacklevel=2)
            return False
        return True
    if option and not local:
        raise ValueError(f"tensorboard=true writes event files into the results folder, which must be local; "
                         f"{experiment_path} is not (use tensorboard=false, or a local results_root)")
    return option


class EventFile:
    """One append-only TensorBoard event file (TFRecord framing of ``Event`` protocol buffers)."""

    def __init__(self, folder: Path):
        self._event_pb2, self._summary_pb2, self._masked_crc32c = require_tensorboard()
        folder.mkdir(parents=True, exist_ok=True)
        # TensorBoard reads a run's files in name order; the name starts with the creation time as it expects
        # and ends with a per-process counter, so a file reopened for a resumed trial never collides.
        self.path = folder / (f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.{os.getpid()}."
                              f"{next(_file_counter)}")
        self._handle = open(self.path, "ab")  # noqa: SIM115 - appended to across calls, closed by close()
        self._write_event(self._event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))
        self._handle.flush()

    def _write_event(self, event) -> None:
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._handle.write(header + struct.pack("<I", self._masked_crc32c(header)) + data
                           + struct.pack("<I", self._masked_crc32c(data)))

    def add_scalars(self, step: int, wall_time: float, values: Sequence[tuple[str, float]]) -> None:
        """One event holding every scalar of one step."""
        summary = self._summary_pb2.Summary(
            value=[self._summary_pb2.Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values])
        self._write_event(self._event_pb2.Event(wall_time=wall_time, step=int(step), summary=summary))

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class ExperimentEvents:
    """The event files of one experiment (layout and scalar names in the module docstring).

    ``metrics``/``modes``: the optimised objectives (``best/...``); ``start_wall_time``: seconds since the
    epoch at which the experiment started. Rows are fed in report order, either live (``on_progress``, called
    by the Tuner after each event) or all at once (``finish``).
    """

    def __init__(self, experiment_path: str, metrics: Sequence[str], modes: Sequence[str],
                 start_wall_time: float):
        if len(metrics) != len(modes) or not metrics:
            raise ValueError(f"metrics {list(metrics)} and modes {list(modes)} must be non-empty and pair up")
        bad = [m for m in modes if m not in ("min", "max")]
        if bad:
            raise ValueError(f"modes must be 'min' or 'max', got {bad}")
        require_tensorboard()  # fail before the experiment starts, not after it ran
        self.folder = Path(experiment_path.removeprefix("file://")) / EVENTS_FOLDER
        self.metrics = list(metrics)
        self.signs = [1.0 if mode == "min" else -1.0 for mode in modes]
        self.start_wall_time = float(start_wall_time)
        # A rerun of an incomplete experiment starts from nothing: an earlier attempt's files would mix in.
        shutil.rmtree(self.folder, ignore_errors=True)
        self._reset()

    def _reset(self) -> None:
        self._main: EventFile | None = None
        self._trial_files: dict[int, EventFile] = {}
        self._trial_counts: dict[int, int] = {}
        self._signed_best = [math.nan] * len(self.metrics)
        self._best_trial: int | None = None
        self._seen_trials: set[int] = set()
        self._written_keys: list[tuple[int, float, float]] = []  # (trial_id, fidelity, sim_time) per written row

    # --- writing rows -----------------------------------------------------------------------------------------

    def _trial_file(self, trial_id: int) -> EventFile:
        handle = self._trial_files.get(trial_id)
        if handle is None:
            handle = self._trial_files[trial_id] = EventFile(self.folder / f"trial_{trial_id}")
        return handle

    def _write_rows(self, trial_ids: np.ndarray, fidelities: np.ndarray, sim_times: np.ndarray,
                    objectives: np.ndarray, objectives_names: Sequence[str],
                    config_of: Callable[[int], Mapping[str, Any]]) -> None:
        if self._main is None:
            self._main = EventFile(self.folder)
        columns = [list(objectives_names).index(m) if m in objectives_names else -1 for m in self.metrics]
        single = len(self.metrics) == 1
        result_tags = [f"result/{name}" for name in objectives_names]
        trial_tags = [f"trial/{name}" for name in objectives_names]
        for i in range(len(trial_ids)):
            trial_id = int(trial_ids[i])
            fidelity = float(fidelities[i])
            values_row = objectives[i].tolist()
            step = len(self._written_keys)
            wall_time = self.start_wall_time + float(sim_times[i])
            self._seen_trials.add(trial_id)
            scalars: list[tuple[str, float]] = []
            for k, (column, sign) in enumerate(zip(columns, self.signs)):
                value = values_row[column] if column >= 0 else math.nan
                best = self._signed_best[k]
                if not math.isnan(value) and (math.isnan(best) or sign * value < best):
                    self._signed_best[k] = sign * value
                    if k == 0:
                        self._best_trial = trial_id
                scalars.append((f"best/{self.metrics[k]}", self.signs[k] * self._signed_best[k]))
            scalars += zip(result_tags, values_row)
            scalars += [("result/fidelity", fidelity), ("result/trial_id", trial_id),
                        ("number_of_trials", len(self._seen_trials)), ("runtime", float(sim_times[i]))]
            scalars += [(f"config/{name}", value) for name, value in config_of(trial_id).items() if _is_number(value)]
            if single and self._best_trial is not None:
                scalars += [(f"optimal/{name}", value) for name, value in config_of(self._best_trial).items()
                            if _is_number(value)]
            self._main.add_scalars(step, wall_time, scalars)
            count = self._trial_counts.get(trial_id, 0) + 1
            self._trial_counts[trial_id] = count
            trial_step = int(fidelity) if math.isfinite(fidelity) and fidelity == int(fidelity) else count
            self._trial_file(trial_id).add_scalars(trial_step, wall_time, list(zip(trial_tags, values_row)))
            self._written_keys.append((trial_id, fidelity, float(sim_times[i])))

    def _flush(self) -> None:
        if self._main is not None:
            self._main.flush()
        for handle in self._trial_files.values():
            handle.flush()

    # --- live and final ---------------------------------------------------------------------------------------

    def on_progress(self, recorder: ResultRecorder, trials: list[TrialRecord]) -> None:
        """Write the rows recorded since the last call (the Tuner's ``progress`` hook), then flush; files of
        trials that are no longer running are closed (a resumed trial opens a new file in its folder)."""
        start, end = len(self._written_keys), recorder.n
        if end > start:
            c = recorder.columns
            self._write_rows(c["trial_id"][start:end], c["fidelity"][start:end], c["sim_time"][start:end],
                             recorder.objectives[start:end], recorder.objectives_names,
                             lambda trial_id: trials[trial_id].config)
            self._flush()
        for trial_id in [t for t in self._trial_files if trials[t].status != "running"]:
            self._trial_files.pop(trial_id).close()

    def finish(self, results: Results) -> None:
        """Make the files hold exactly ``results`` (report order, after truncation), then close them."""
        c = results.columns
        n_written = len(self._written_keys)
        keys_match = n_written <= results.n_results and all(
            key == (int(c["trial_id"][i]), float(c["fidelity"][i]), float(c["sim_time"][i]))
            for i, key in enumerate(self._written_keys))
        if not keys_match:  # rows written live were cut or reordered at the end: rewrite from the final table
            self.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            self._reset()
            n_written = 0
        configs = [t.config for t in results.trials]
        self._write_rows(c["trial_id"][n_written:], c["fidelity"][n_written:], c["sim_time"][n_written:],
                         results.objectives[n_written:], results.objectives_names, configs.__getitem__)
        self.close()

    def close(self) -> None:
        for handle in self._trial_files.values():
            handle.close()
        self._trial_files.clear()
        if self._main is not None:
            self._main.close()
            self._main = None
