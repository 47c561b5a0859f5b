"""Real training: one subprocess per running trial, ``n_workers`` at a time.

Each (re)start of a trial runs ``python SCRIPT [script_args]`` with the environment of ``launchers.report``
(``HPO_ARENA_CONFIG`` = the configuration as JSON, ``HPO_ARENA_CHECKPOINT_DIR`` = the trial's own checkpoint
folder, ``HPO_ARENA_TRIAL_ID``, ``HPO_ARENA_MAX_FIDELITY``, ``HPO_ARENA_FIDELITY_NAME``, ``HPO_ARENA_PROTOCOL=1``)
and the repository on ``PYTHONPATH``. The script reports with ``launchers.report.report(**metrics)``; each
report waits for the tuner's answer on stdin, so a PAUSE or STOP takes effect right after the reported step
(the script exits from ``report``; SIGTERM, then SIGKILL, follow after ``grace_period`` seconds if it does
not). A resumed trial runs the script again with the same checkpoint folder; the script continues after its
last saved step. Results whose fidelity is not above the trial's last reported one (a script that restarts
from scratch) are acknowledged but not recorded, so each fidelity is reported once.

Failures: a non-zero exit, an exit without any result, or a run longer than ``trial_timeout`` seconds (per
start/resume) marks the trial failed; the last ``stderr_tail_chars`` characters of its stderr are kept (in
``trials.parquet`` ``error``) and the tuner goes on. A clean exit before the maximum fidelity completes the
trial at its last result.

Starting from another trial's checkpoint (PBT's exploit step, ``trial.checkpoint_from``): when the scheduler
transfers checkpoints (the tuner calls ``enable_checkpoint_transfer``), the backend copies each trial's
checkpoint folder to ``checkpoint_snapshot/`` at every milestone result, i.e. every result the scheduler
decides on (the script saved its checkpoint before that report and is blocked in ``report`` waiting for the
answer, so the copy is consistent). A trial started from donor ``d`` gets a copy of ``d``'s snapshot as its own
checkpoint folder before its script starts: ``d``'s state as of its last milestone result, whether ``d`` is
still running (possibly writing a newer checkpoint), paused, stopped or completed by then. The script resumes
from it as from a pause and reports the steps after it (fidelities continue from the donor's). A donor without
a snapshot (no milestone result yet) or with an empty checkpoint folder is an error naming the fix.

Times: ``sim_time`` = ``real_time`` = wall-clock seconds since the experiment started.
Files: ``<workdir>/trial_<id>/checkpoint/`` (and ``checkpoint_snapshot/``) and ``stdout.log`` / ``stderr.log``
(appended across restarts).
"""
from __future__ import annotations

import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from launchers import report as report_protocol
from launchers.tuner import Backend, Event, ResultRecorder, TrialRecord

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Run:
    """One process: a start or resume of a trial."""

    seq: int
    trial: TrialRecord
    worker: int
    process: subprocess.Popen
    started: float
    milestones: np.ndarray | None  # None: every result is shown to the scheduler
    milestone_pos: int = 0
    awaiting_answer: bool = False
    detached: bool = False  # paused/stopped/completed: its remaining output is ignored
    detached_at: float = math.nan
    terminated_at: float = math.nan
    reader: threading.Thread | None = None
    errors: list[str] = field(default_factory=list)


class LocalBackend(Backend):
    """Runs a training script locally for each trial (see the module docstring)."""

    supports_checkpoint_transfer = True

    def __init__(
        self,
        script: str | os.PathLike,
        n_workers: int,
        fidelity_name: str,
        max_fidelity: float,
        objectives_names: Sequence[str] | None = None,
        workdir: str | os.PathLike | None = None,
        python: str = sys.executable,
        script_args: Sequence[str] = (),
        trial_timeout: float | None = None,
        grace_period: float = 5.0,
        env: Mapping[str, str] | None = None,
        stderr_tail_chars: int = 4000,
    ):
        self.script = Path(script).resolve()
        if not self.script.is_file():
            raise FileNotFoundError(f"training script {self.script} does not exist")
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        names = [] if objectives_names is None else list(objectives_names)
        # Without a list, every numeric metric the script reports becomes an objective (in order of appearance).
        self._discover = objectives_names is None
        if fidelity_name in names:
            raise ValueError(f"fidelity {fidelity_name!r} is recorded in its own column; drop it from objectives")
        if trial_timeout is not None and trial_timeout <= 0:
            raise ValueError(f"trial_timeout must be positive seconds or None, got {trial_timeout!r}")
        self.n_workers = n_workers
        self._objectives = names
        self.fidelity_name = fidelity_name
        self.max_fidelity = float(max_fidelity)
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="hpo-arena-local-"))
        self.python = python
        self.script_args = list(script_args)
        self.trial_timeout = trial_timeout
        self.grace_period = float(grace_period)
        self.extra_env = dict(env or {})
        self.stderr_tail_chars = int(stderr_tail_chars)
        self._messages: queue.Queue = queue.Queue()
        self._runs: dict[int, _Run] = {}  # trial id -> its current run
        self._exiting: list[_Run] = []  # detached runs that still have to end
        self._recorder: ResultRecorder | None = None
        self._cost_objective: str | None = None
        self._seq = 0
        self._t0 = time.perf_counter()
        self._last_report_time: dict[int, float] = {}
        self._unknown_metrics_warned: set[str] = set()
        self._snapshot_checkpoints = False  # set by enable_checkpoint_transfer

    # --- Backend interface ----------------------------------------------------------------------------------

    @property
    def objectives_names(self) -> list[str]:
        return list(self._objectives)

    @property
    def fidelity_values(self) -> np.ndarray:
        return np.arange(1.0, math.floor(self.max_fidelity) + 1.0)

    def bind(self, recorder: ResultRecorder, trials: list[TrialRecord], cost_objective: str | None,
             track_cost: bool = True) -> None:
        self._recorder = recorder
        self._cost_objective = cost_objective
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def enable_checkpoint_transfer(self) -> None:
        self._snapshot_checkpoints = True

    def trial_dir(self, trial_id: int) -> Path:
        return self.workdir / f"trial_{trial_id}"

    def launch(self, trial: TrialRecord, worker: int, milestones: Sequence[float] | None, resume: bool) -> None:
        folder = self.trial_dir(trial.trial_id)
        checkpoint = folder / "checkpoint"
        if trial.checkpoint_from is not None and not resume:
            self._copy_donor_checkpoint(trial.checkpoint_from, checkpoint)
        checkpoint.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update({
            report_protocol.ENV_TRIAL_ID: str(trial.trial_id),
            report_protocol.ENV_CONFIG: json.dumps(trial.config),
            report_protocol.ENV_CHECKPOINT_DIR: str(checkpoint),
            report_protocol.ENV_MAX_FIDELITY: repr(self.max_fidelity),
            report_protocol.ENV_FIDELITY_NAME: self.fidelity_name,
            report_protocol.ENV_PROTOCOL: "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        })
        with open(folder / "stderr.log", "ab") as stderr:  # the child keeps its own handle
            process = subprocess.Popen(
                [self.python, str(self.script), *self.script_args], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=folder, start_new_session=True, text=True,
                bufsize=1,
            )
        steps = None if milestones is None else np.unique(np.asarray(list(milestones), dtype=np.float64))
        run = _Run(self._seq, trial, worker, process, self.now(), steps)
        if steps is not None and not math.isnan(trial.last_fidelity):
            run.milestone_pos = int(np.searchsorted(steps, trial.last_fidelity, side="right"))  # already passed
        self._seq += 1
        run.reader = threading.Thread(target=self._read_stdout, args=(run, folder / "stdout.log"), daemon=True)
        run.reader.start()
        self._runs[trial.trial_id] = run
        self._last_report_time[trial.trial_id] = run.started

    def next_event(self, deadline: float | None) -> Event | None:
        while True:
            self._reap_exiting()
            if not self._runs:
                return None
            now = self.now()
            if deadline is not None and now > deadline:
                return None
            expired = self._timed_out(now)
            if expired is not None:
                return expired
            wait = 0.5
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.0) + 1e-3)
            if self.trial_timeout is not None:
                nearest = min(r.started + self.trial_timeout for r in self._runs.values())
                wait = min(wait, max(nearest - now, 0.0) + 1e-3)
            try:
                kind, run, payload = self._messages.get(timeout=wait)
            except queue.Empty:
                continue
            if run.detached or self._runs.get(run.trial.trial_id) is not run:
                continue  # output of a process we already let go
            if kind == "report":
                event = self._on_report(run, payload)
            else:
                event = self._on_exit(run)
            if event is not None:
                return event

    def continue_trial(self, trial_id: int) -> None:
        self._answer(self._runs[trial_id], "continue")

    def pause_trial(self, trial_id: int) -> None:
        self._detach(trial_id, "pause")

    def stop_trial(self, trial_id: int) -> None:
        self._detach(trial_id, "stop")

    def release_trial(self, trial_id: int) -> None:
        run = self._runs.get(trial_id)
        if run is not None:
            # Completed at the maximum fidelity: let the script finish normally (it may save a final model).
            self._detach(trial_id, "continue")

    def finish(self) -> None:
        for trial_id in list(self._runs):
            self._detach(trial_id, "stop")
        deadline = time.perf_counter() + 2 * self.grace_period + 1.0
        while self._exiting and time.perf_counter() < deadline:
            self._reap_exiting()
            time.sleep(0.02)
        for run in self._exiting:
            _kill(run.process, signal.SIGKILL)
        self._exiting = []

    # --- internals ------------------------------------------------------------------------------------------

    def _read_stdout(self, run: _Run, log_path: Path) -> None:
        try:
            with open(log_path, "a", encoding="utf-8") as log, run.process.stdout as stream:
                for line in stream:
                    if line.startswith(report_protocol.REPORT_PREFIX):
                        self._messages.put(("report", run, line[len(report_protocol.REPORT_PREFIX):]))
                    else:
                        log.write(line)
                        log.flush()
        except (OSError, ValueError):
            pass  # the stream was torn down with its process
        self._messages.put(("exit", run, None))

    def _answer(self, run: _Run, answer: str) -> None:
        run.awaiting_answer = False
        try:
            run.process.stdin.write(answer + "\n")
            run.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process is gone; its exit message follows

    def _detach(self, trial_id: int, answer: str) -> None:
        run = self._runs.pop(trial_id)
        run.detached = True
        run.detached_at = time.perf_counter()
        if run.awaiting_answer:
            self._answer(run, answer)  # blocked in report(): it ends (or finishes) by itself
        elif answer != "continue":
            _kill(run.process, signal.SIGTERM)  # still training (the experiment ends): ask it to end now
            run.terminated_at = run.detached_at
        self._exiting.append(run)

    def _reap_exiting(self) -> None:
        still = []
        now = time.perf_counter()
        for run in self._exiting:
            if run.process.poll() is not None:
                _close(run.process)
                continue
            if now - run.detached_at > self.grace_period and math.isnan(run.terminated_at):
                _kill(run.process, signal.SIGTERM)
                run.terminated_at = now
            elif not math.isnan(run.terminated_at) and now - run.terminated_at > self.grace_period:
                _kill(run.process, signal.SIGKILL)
            still.append(run)
        self._exiting = still

    def _timed_out(self, now: float) -> Event | None:
        if self.trial_timeout is None:
            return None
        for trial_id, run in sorted(self._runs.items()):
            if now - run.started > self.trial_timeout:
                _kill(run.process, signal.SIGKILL)
                try:
                    run.process.wait(timeout=self.grace_period)
                except subprocess.TimeoutExpired:
                    pass
                del self._runs[trial_id]
                _close(run.process)
                error = f"timed out after {self.trial_timeout:g} s (killed)\n" + self._stderr_tail(trial_id)
                return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40), error=error)
        return None

    def _stderr_tail(self, trial_id: int) -> str:
        path = self.trial_dir(trial_id) / "stderr.log"
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - self.stderr_tail_chars))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _on_report(self, run: _Run, payload: str) -> Event | None:
        now = self.now()
        trial = run.trial
        run.awaiting_answer = True
        try:
            metrics = json.loads(payload)
            fidelity = float(metrics[self.fidelity_name])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return self._fail_run(run, now, f"report without a numeric {self.fidelity_name!r}: {payload.strip()}")
        if not math.isnan(trial.last_fidelity) and fidelity <= trial.last_fidelity:
            self._answer(run, "continue")  # a restart from scratch re-reports old steps: not recorded twice
            return None
        if self._discover:
            for name, value in metrics.items():
                if name != self.fidelity_name and name not in self._objectives \
                        and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._objectives.append(name)
                    self._recorder.add_objective(name)
        values = np.full((1, len(self._objectives)), np.nan)
        for i, name in enumerate(self._objectives):
            value = metrics.get(name)
            if value is not None:
                try:
                    values[0, i] = float(value)
                except (TypeError, ValueError):
                    pass
        step = trial.last_step + 1
        duration = now - self._last_report_time.get(trial.trial_id, run.started)
        self._last_report_time[trial.trial_id] = now
        if self._cost_objective is None or self._cost_objective not in self._objectives:
            cost = duration
        else:
            cost = float(np.nan_to_num(values[0, self._objectives.index(self._cost_objective)]))
        final = fidelity >= self.max_fidelity
        row = self._recorder.append_block(
            trial.trial_id, np.array([fidelity]), values, np.array([now]), now, run.worker, run.seq, step,
            np.array([cost]), final_last=final,
        )
        trial.last_step = step
        trial.last_fidelity = fidelity
        needs = run.milestones is None
        if run.milestones is not None:
            ms = run.milestones
            pos = run.milestone_pos
            while pos < len(ms) and ms[pos] <= fidelity:
                pos += 1
                needs = True  # the first result at or above a milestone is the one the scheduler sees
            run.milestone_pos = pos
        if not needs and not final:
            self._answer(run, "continue")
            return None
        if needs and self._snapshot_checkpoints:
            self._snapshot_checkpoint(trial.trial_id)
        return Event("result", trial.trial_id, run.worker, now, (now, run.seq, step), row=row,
                     fidelity=fidelity, needs_decision=needs, final=final)

    def _snapshot_checkpoint(self, trial_id: int) -> None:
        """Copy the trial's checkpoint folder as of the result just reported (its script waits for the answer)."""
        folder = self.trial_dir(trial_id)
        target, temporary = folder / "checkpoint_snapshot", folder / ".checkpoint_snapshot.tmp"
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(folder / "checkpoint", temporary)
        shutil.rmtree(target, ignore_errors=True)
        temporary.rename(target)

    def _copy_donor_checkpoint(self, donor: int, checkpoint: Path) -> None:
        snapshot = self.trial_dir(donor) / "checkpoint_snapshot"
        if not self._snapshot_checkpoints:
            raise ValueError(f"a trial was asked to start from trial {donor}'s checkpoint, but checkpoint transfer "
                             "is not enabled (the Tuner enables it for schedulers with transfers_checkpoints)")
        if not snapshot.is_dir():
            raise ValueError(f"trial {donor} has no checkpoint snapshot to start from: a donor must have reported "
                             "a result the scheduler saw (one of its milestones)")
        if not any(snapshot.iterdir()):
            raise ValueError(f"trial {donor}'s checkpoint folder was empty at its last reported result: to start "
                             f"trials from checkpoints, {self.script.name} must save one before each report "
                             "(launchers.report.save_checkpoint)")
        if checkpoint.exists():
            shutil.rmtree(checkpoint)
        shutil.copytree(snapshot, checkpoint)

    def _fail_run(self, run: _Run, now: float, message: str) -> Event:
        trial_id = run.trial.trial_id
        self._runs.pop(trial_id, None)
        _kill(run.process, signal.SIGKILL)
        try:
            run.process.wait(timeout=self.grace_period)
        except subprocess.TimeoutExpired:
            pass
        _close(run.process)
        return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                     error=message + "\n" + self._stderr_tail(trial_id))

    def _on_exit(self, run: _Run) -> Event | None:
        trial_id = run.trial.trial_id
        try:
            code = run.process.wait(timeout=self.grace_period)
        except subprocess.TimeoutExpired:  # closed stdout but still alive: treat as a crash
            return self._fail_run(run, self.now(), "closed its output but did not exit")
        now = self.now()
        self._runs.pop(trial_id, None)
        _close(run.process)
        if code != 0:
            return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                         error=f"exit code {code}\n" + self._stderr_tail(trial_id))
        trial = run.trial
        if trial.last_step < 0:
            return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                         error="exited without reporting any result\n" + self._stderr_tail(trial_id))
        # Ended by itself before the maximum fidelity: complete at its last result.
        last_rows = np.flatnonzero(self._recorder.view("trial_id") == trial_id)
        row = int(last_rows[-1]) if len(last_rows) else -1
        return Event("finished", trial_id, run.worker, now, (now, run.seq, 1 << 40), row=row,
                     fidelity=trial.last_fidelity)


def _kill(process: subprocess.Popen, sig: int) -> None:
    """Signal the process group of a trial (the script and anything it spawned)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass


def _close(process: subprocess.Popen) -> None:
    """Close our end of the script's stdin (its stdout belongs to the reader thread, which closes it)."""
    try:
        if process.stdin is not None:
            process.stdin.close()
    except (OSError, ValueError):
        pass
