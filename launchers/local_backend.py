"""Real training: one subprocess per running trial, ``n_workers`` at a time (POSIX: Linux, macOS).

Starting a trial
----------------
Each (re)start of a trial runs ``python SCRIPT [script_args]`` in the trial's folder with the environment of
``launchers.report`` (``HPO_ARENA_CONFIG`` = the configuration as JSON, ``HPO_ARENA_CHECKPOINT_DIR`` = the
trial's own checkpoint folder, ``HPO_ARENA_TRIAL_ID``, ``HPO_ARENA_MAX_FIDELITY``, ``HPO_ARENA_FIDELITY_NAME``,
``HPO_ARENA_PROTOCOL=2`` and the two pipe descriptors below), the repository on ``PYTHONPATH`` and
``PYTHONFAULTHANDLER=1`` (a crashing interpreter writes where it crashed into the stderr tail).

Report protocol
---------------
Reports never travel on stdout. The script gets a pipe of its own to write reports to
(``HPO_ARENA_REPORT_FD``, one JSON object per line) and one to read the tuner's answers from
(``HPO_ARENA_ANSWER_FD``); ``launchers.report.report(**metrics)`` speaks it. Each report waits for the answer,
so a PAUSE or STOP takes effect right after the reported step (the script exits from ``report``). stdout is
only logged (bytes as they come: partial lines, binary data, text that looks like a report), stdin is
``/dev/null``. NaN and infinities arrive as such (JSON ``NaN`` / ``Infinity``) and are recorded as such.

Metrics: with ``objectives_names`` the columns are fixed; without, every numeric metric the script reports
becomes a column, in order of appearance. ``metric`` (the one the method optimises) is a column from the
start, and a report without a numeric value for it fails its trial with an error naming the keys it had
(NaN is a value, and so is ``None``, recorded as NaN). Results whose fidelity is not above the trial's last reported one (a script that
restarts from scratch) are acknowledged but not recorded, so each fidelity is reported once.

Processes
---------
Each run lives in its own process group, whose leader is a tiny *sentinel* (``sh``) started just before the
script: the script and everything it starts (data-loader workers, shells, ...) belong to that group, and
ending a run always signals the whole group. A run ends when the *script process* exits, whatever its
children do with stdout; its group is then killed, so a helper it left behind dies with it. The sentinel
blocks reading a *lifeline* pipe whose only writer is this process; when this process dies in any way
(SIGKILL included) the pipe closes, the sentinel wakes and kills its group. While ``Tuner.run`` runs in the
main thread with the default SIGTERM disposition, SIGTERM first kills every trial's group and removes the work
folder, then terminates the process as usual; Ctrl-C (KeyboardInterrupt) and any exception reach
``Tuner.run``, which calls ``abort()`` (kill every group now). Trials run in their own process group, not in
the terminal's foreground group, so Ctrl-C reaches only the tuner. Limit: a process that leaves the group
(``setsid``, a daemonising double fork with a new session) escapes all of this.

Under ``arena sweep`` with a launcher that runs jobs in worker processes (joblib, submitit-local, a local
Ray), the job process outlives a killed sweep process (a worker runs its current job to its end). The sweep
therefore names its process in ``HPO_ARENA_SWEEP_PID``; when that process is an ancestor of the experiment's
process, the backend watches it (a pidfd on Linux, the parent pid elsewhere) and, once it is gone, kills every
trial's group, removes the work folder (unless kept) and ends the orphaned job process with SIGKILL.

Failures: a non-zero exit or death by a signal (named in the error), an exit without any result, a malformed
report or a run longer than ``trial_timeout`` seconds (per start/resume) marks the trial failed; the last
``stderr_tail_chars`` characters of its stderr are kept (in ``trials.parquet`` ``error``) and the tuner goes
on. A clean exit before the maximum fidelity completes the trial at its last result. After a PAUSE or STOP,
or when the experiment ends, a script that does not exit gets SIGTERM (its group), then SIGKILL, each after
``grace_period`` seconds.

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
A work folder the backend made itself (``workdir=None``: ``$TMPDIR/hpo-arena-local-*``) is removed when the
experiment ends, one the caller named is kept; ``keep_workdir`` overrides both. Checkpoints stay in place
while the experiment runs (a paused trial resumes from its own, and PBT copies another trial's).
"""
from __future__ import annotations

import json
import math
import os
import queue
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from launchers import report as report_protocol
from launchers.tuner import Backend, Event, ResultRecorder, TrialRecord

REPO_ROOT = Path(__file__).resolve().parents[1]
# Set by `arena sweep` (launchers.hydra_app) for its jobs: the process id of the sweep itself.
SWEEP_PID_ENV = "HPO_ARENA_SWEEP_PID"

# The sentinel: block on the lifeline (its stdin) until the tuner's process is gone, then kill the group.
_SENTINEL_SCRIPT = "read -r _; kill -KILL 0"
# After the script exited, at most this many reads per pipe collect what it wrote before (a helper it left
# behind may go on writing; it is killed right after).
_DRAIN_READS = 64
_READ_SIZE = 65536


@dataclass
class _Run:
    """One start or resume of a trial: the script process and its process group."""

    seq: int
    trial: TrialRecord
    worker: int
    process: subprocess.Popen
    sentinel: subprocess.Popen  # leader of the run's process group (its pid is the group id)
    report_fd: int  # our read end of the report pipe (owned by the pump thread)
    answer_fd: int  # our write end of the answer pipe
    started: float
    milestones: np.ndarray | None  # None: every result is shown to the scheduler
    pidfd: int | None = None  # Linux: readable once the script exited
    milestone_pos: int = 0
    awaiting_answer: bool = False
    detached: bool = False  # paused/stopped/completed: its remaining output is ignored
    detached_at: float = math.nan
    terminated_at: float = math.nan
    ended: bool = False  # its group was killed and its sentinel reaped
    pump: threading.Thread | None = None

    @property
    def pgid(self) -> int:
        return self.sentinel.pid


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
        metric: str | None = None,
        keep_workdir: bool | None = None,
    ):
        if os.name != "posix":
            raise RuntimeError(
                "LocalBackend needs a POSIX system (Linux or macOS): it runs each trial in its own process group "
                f"and talks to it over inherited pipes, which {sys.platform} does not offer; use the simulator, "
                "or run real training through the SageMaker launcher"
            )
        self.script = Path(script).resolve()
        if not self.script.is_file():
            raise FileNotFoundError(f"training script {self.script} does not exist")
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        names = [] if objectives_names is None else list(objectives_names)
        # Without a list, every numeric metric the script reports becomes an objective (in order of appearance).
        self._discover = objectives_names is None
        if fidelity_name in names or fidelity_name == metric:
            raise ValueError(f"fidelity {fidelity_name!r} is recorded in its own column; drop it from objectives")
        if metric is not None and metric not in names:
            if not self._discover:
                raise ValueError(f"metric {metric!r} is not one of objectives_names {names}")
            names.append(metric)
        if trial_timeout is not None and trial_timeout <= 0:
            raise ValueError(f"trial_timeout must be positive seconds or None, got {trial_timeout!r}")
        sentinel_shell = shutil.which("sh") or "/bin/sh"
        if not Path(sentinel_shell).is_file():
            raise RuntimeError("LocalBackend needs a POSIX shell (sh) for its process-group sentinels; none found")
        self._sentinel_shell = sentinel_shell
        self.n_workers = n_workers
        self._objectives = names
        self.metric = metric
        self.fidelity_name = fidelity_name
        self.max_fidelity = float(max_fidelity)
        self.keep_workdir = (workdir is not None) if keep_workdir is None else bool(keep_workdir)
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
        self._live: dict[int, _Run] = {}  # run seq -> every run whose group was not killed yet
        self._recorder: ResultRecorder | None = None
        self._cost_objective: str | None = None
        self._seq = 0
        self._t0 = time.perf_counter()
        self._last_report_time: dict[int, float] = {}
        self._lifeline: tuple[int, int] | None = None  # (read end for the sentinels, our write end)
        self._previous_sigterm: Any = None
        self._sigterm_installed = False
        self._sweep_watch_stop: int | None = None  # write end of the pipe that ends the sweep watcher
        # Held by launch() and, for good, by the sweep watcher once the sweep is gone: no trial starts after it.
        self._launch_lock = threading.Lock()
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
        if self._lifeline is None:
            self._lifeline = os.pipe()  # not inheritable: only the sentinels get the read end, as their stdin
        self._install_sigterm_handler()
        self._watch_sweep()
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def enable_checkpoint_transfer(self) -> None:
        self._snapshot_checkpoints = True

    def trial_dir(self, trial_id: int) -> Path:
        return self.workdir / f"trial_{trial_id}"

    def launch(self, trial: TrialRecord, worker: int, milestones: Sequence[float] | None, resume: bool) -> None:
        if self._lifeline is None:
            raise RuntimeError("LocalBackend.launch before bind: run trials through Tuner.run")
        with self._launch_lock:
            self._launch(trial, worker, milestones, resume)

    def _launch(self, trial: TrialRecord, worker: int, milestones: Sequence[float] | None, resume: bool) -> None:
        folder = self.trial_dir(trial.trial_id)
        checkpoint = folder / "checkpoint"
        if trial.checkpoint_from is not None and not resume:
            self._copy_donor_checkpoint(trial.checkpoint_from, checkpoint)
        checkpoint.mkdir(parents=True, exist_ok=True)
        report_read, report_write = os.pipe()
        answer_read, answer_write = os.pipe()
        env = dict(os.environ)
        env.setdefault("PYTHONFAULTHANDLER", "1")
        env.update(self.extra_env)
        env.update({
            report_protocol.ENV_TRIAL_ID: str(trial.trial_id),
            report_protocol.ENV_CONFIG: json.dumps(trial.config),
            report_protocol.ENV_CHECKPOINT_DIR: str(checkpoint),
            report_protocol.ENV_MAX_FIDELITY: repr(self.max_fidelity),
            report_protocol.ENV_FIDELITY_NAME: self.fidelity_name,
            report_protocol.ENV_PROTOCOL: report_protocol.PROTOCOL_VERSION,
            report_protocol.ENV_REPORT_FD: str(report_write),
            report_protocol.ENV_ANSWER_FD: str(answer_read),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        })
        sentinel = process = None
        try:
            # The sentinel first: it founds the run's process group (in our session, so the terminal's Ctrl-C
            # does not reach it), and the script joins that group before it runs any code of its own.
            sentinel = subprocess.Popen(
                [self._sentinel_shell, "-c", _SENTINEL_SCRIPT], stdin=self._lifeline[0],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=folder, process_group=0,
            )
            with open(folder / "stderr.log", "ab") as stderr:  # the child keeps its own handle
                process = subprocess.Popen(
                    [self.python, str(self.script), *self.script_args], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=folder, process_group=sentinel.pid,
                    pass_fds=(report_write, answer_read), bufsize=0,
                )
        except BaseException:
            if sentinel is not None:
                _signal_group(sentinel.pid, signal.SIGKILL)
                sentinel.wait()
            for fd in (report_read, answer_write):
                os.close(fd)
            raise
        finally:
            os.close(report_write)  # the script holds these ends now
            os.close(answer_read)
        steps = None if milestones is None else np.unique(np.asarray(list(milestones), dtype=np.float64))
        run = _Run(self._seq, trial, worker, process, sentinel, report_read, answer_write, self.now(), steps,
                   pidfd=_pidfd(process.pid))
        if steps is not None and not math.isnan(trial.last_fidelity):
            run.milestone_pos = int(np.searchsorted(steps, trial.last_fidelity, side="right"))  # already passed
        self._seq += 1
        self._live[run.seq] = run
        run.pump = threading.Thread(target=self._pump, args=(run, folder / "stdout.log"), daemon=True,
                                    name=f"hpo-arena-trial-{trial.trial_id}")
        run.pump.start()
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
        """The experiment ends: ask running scripts to stop (SIGTERM, then SIGKILL), kill every group, clean up."""
        try:
            for trial_id in list(self._runs):
                self._detach(trial_id, "stop")
            deadline = time.perf_counter() + 2 * self.grace_period + 1.0
            while self._exiting and time.perf_counter() < deadline:
                self._reap_exiting()
                time.sleep(0.02)
        finally:
            self.abort()

    def abort(self) -> None:
        """End every run now (SIGKILL to each group), then close the lifeline and remove the work folder
        (unless kept). Safe to call several times and after ``finish``."""
        for run in list(self._live.values()):
            _signal_group(run.pgid, signal.SIGKILL)
        for run in list(self._live.values()):
            self._end_group(run)
        self._runs.clear()
        self._exiting = []
        self._cleanup()

    # --- internals: processes -------------------------------------------------------------------------------

    def _pump(self, run: _Run, log_path: Path) -> None:
        """Per run, in its own thread: log stdout, pass reports on, and say when the script exited.

        The run ends when the script *process* exits (not when its pipes close: a helper it started may hold
        them); what the script wrote before exiting is collected first, so its last reports come before its
        exit. Without a pidfd (macOS), the exit is polled every 0.1 s.
        """
        stdout_fd = run.process.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(stdout_fd, selectors.EVENT_READ, "stdout")
        selector.register(run.report_fd, selectors.EVENT_READ, "report")
        if run.pidfd is not None:
            selector.register(run.pidfd, selectors.EVENT_READ, "exit")
        pending = bytearray()
        try:
            log = open(log_path, "ab")  # noqa: SIM115 (closed in the finally clause)
        except OSError:  # the folder went away (the experiment was aborted): pump all the same
            log = open(os.devnull, "wb")  # noqa: SIM115
        try:
            with log:
                exited = False
                while not exited:
                    for key, _ in selector.select(None if run.pidfd is not None else 0.1):
                        if key.data == "exit":
                            exited = True
                        else:
                            self._pump_read(run, selector, key, log, pending)
                    if run.pidfd is None and run.process.poll() is not None:
                        exited = True
                if run.pidfd is not None:
                    selector.unregister(run.pidfd)
                for _ in range(_DRAIN_READS):
                    ready = selector.select(0)
                    if not ready:
                        break
                    for key, _ in ready:
                        self._pump_read(run, selector, key, log, pending)
        finally:
            selector.close()
            for closer in (run.process.stdout.close, lambda: os.close(run.report_fd)):
                try:
                    closer()
                except OSError:
                    pass
            if run.pidfd is not None:
                os.close(run.pidfd)
            self._messages.put(("exit", run, None))

    def _pump_read(self, run: _Run, selector: selectors.BaseSelector, key: selectors.SelectorKey, log,
                   pending: bytearray) -> None:
        chunk = os.read(key.fd, _READ_SIZE)
        if not chunk:
            selector.unregister(key.fd)
            return
        if key.data == "stdout":
            try:
                log.write(chunk)
                log.flush()
            except OSError:
                pass  # e.g. a full disk: the output is lost, the trial goes on
            return
        pending += chunk
        while True:
            end = pending.find(b"\n")
            if end < 0:
                return
            line = bytes(pending[:end])
            del pending[: end + 1]
            self._messages.put(("report", run, line.decode("utf-8", errors="replace")))

    def _answer(self, run: _Run, answer: str) -> None:
        run.awaiting_answer = False
        try:
            os.write(run.answer_fd, answer.encode("ascii") + b"\n")
        except OSError:
            pass  # the process is gone (or the pipe closed); its exit message follows

    def _detach(self, trial_id: int, answer: str) -> None:
        run = self._runs.pop(trial_id)
        run.detached = True
        run.detached_at = time.perf_counter()
        if run.awaiting_answer:
            self._answer(run, answer)  # blocked in report(): it ends (or finishes) by itself
        elif answer != "continue":
            _signal_group(run.pgid, signal.SIGTERM)  # still training (the experiment ends): ask it to end now
            run.terminated_at = run.detached_at
        self._exiting.append(run)

    def _reap_exiting(self) -> None:
        still = []
        now = time.perf_counter()
        for run in self._exiting:
            if run.process.poll() is not None:
                self._end_group(run)  # helpers it left behind die with the group
                continue
            if now - run.detached_at > self.grace_period and math.isnan(run.terminated_at):
                _signal_group(run.pgid, signal.SIGTERM)
                run.terminated_at = now
            elif not math.isnan(run.terminated_at) and now - run.terminated_at > self.grace_period:
                _signal_group(run.pgid, signal.SIGKILL)
            still.append(run)
        self._exiting = still

    def _end_group(self, run: _Run) -> None:
        """Kill whatever is left of the run's group, reap the script and the sentinel, close our pipe end.

        The sentinel is reaped last: until then its pid (the group id) cannot be reused, so the group signal
        never reaches a stranger's processes.
        """
        if run.ended:
            return
        _signal_group(run.pgid, signal.SIGKILL)
        for process in (run.process, run.sentinel):
            try:
                process.wait(timeout=max(self.grace_period, 1.0))
            except subprocess.TimeoutExpired:  # unkillable (e.g. stuck in the kernel): leave it
                pass
        try:
            os.close(run.answer_fd)
        except OSError:
            pass
        run.ended = True
        self._live.pop(run.seq, None)

    def _cleanup(self) -> None:
        for run in list(self._live.values()):
            self._end_group(run)
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None
        self._restore_sigterm_handler()
        if self._sweep_watch_stop is not None:
            os.close(self._sweep_watch_stop)  # the watcher sees the end of its stop pipe and returns
            self._sweep_watch_stop = None
        if not self.keep_workdir and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- internals: the sweep process ----------------------------------------------------------------------

    def _watch_sweep(self) -> None:
        """In a job process started by `arena sweep`'s launcher, end everything once the sweep is gone."""
        value = os.environ.get(SWEEP_PID_ENV, "")
        if self._sweep_watch_stop is not None or not value.isdigit():
            return
        sweep_pid = int(value)
        if sweep_pid == os.getpid() or not _is_ancestor(sweep_pid):
            return  # the sweep runs this experiment itself (its SIGTERM handler and lifeline suffice)
        parent = os.getppid()
        pidfd = _pidfd(sweep_pid)
        stop_read, stop_write = os.pipe()
        self._sweep_watch_stop = stop_write
        threading.Thread(target=self._sweep_watcher, args=(sweep_pid, pidfd, parent, stop_read), daemon=True,
                         name="hpo-arena-sweep-watch").start()

    def _sweep_watcher(self, sweep_pid: int, pidfd: int | None, parent: int, stop_read: int) -> None:
        watched = [stop_read] if pidfd is None else [stop_read, pidfd]
        try:
            while True:
                ready, _, _ = select.select(watched, [], [], None if pidfd is not None else 0.5)
                if stop_read in ready:
                    return  # the experiment ended normally
                if pidfd in ready or (pidfd is None and os.getppid() != parent):
                    break
        finally:
            os.close(stop_read)
            if pidfd is not None:
                os.close(pidfd)
        print(f"hpo-arena: the sweep (process {sweep_pid}) that started this experiment is gone: killing its "
              f"trials and this job process ({os.getpid()})", file=sys.stderr, flush=True)
        self._launch_lock.acquire()  # never released: the tuner starts no trial any more
        live = list(self._live.copy().values())  # (copy: atomic, the main thread may be changing it)
        for run in live:
            _signal_group(run.pgid, signal.SIGKILL)
        for run in live:  # dead before their folders go (a dying script may still be writing a checkpoint)
            try:
                run.process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGKILL)

    # --- internals: SIGTERM ---------------------------------------------------------------------------------

    def _install_sigterm_handler(self) -> None:
        """While trials run, SIGTERM (default disposition, main thread) first reaps them (module docstring)."""
        if self._sigterm_installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # the program handles SIGTERM itself; the lifeline still ends the trials when it exits
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._sigterm_installed = True

    def _restore_sigterm_handler(self) -> None:
        if self._sigterm_installed and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._sigterm_installed = False

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.abort()  # kill every group, remove the work folder, restore the default disposition
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # then end as SIGTERM would have

    # --- internals: events ----------------------------------------------------------------------------------

    def _timed_out(self, now: float) -> Event | None:
        if self.trial_timeout is None:
            return None
        for trial_id, run in sorted(self._runs.items()):
            if now - run.started > self.trial_timeout:
                del self._runs[trial_id]
                self._end_group(run)
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
        except json.JSONDecodeError:
            return self._fail_run(run, now, f"malformed report (not JSON): {payload.strip()[:200]}")
        if not isinstance(metrics, dict):
            return self._fail_run(run, now, f"malformed report (not a JSON object): {payload.strip()[:200]}")
        fidelity = _number(metrics.get(self.fidelity_name))
        if fidelity is None or not math.isfinite(fidelity):
            return self._fail_run(run, now, f"report without a finite numeric {self.fidelity_name!r}: "
                                            f"{payload.strip()[:200]}")
        if self.metric is not None and (self.metric not in metrics or (
                metrics[self.metric] is not None and _number(metrics[self.metric]) is None)):
            return self._fail_run(
                run, now, f"report lacks the metric {self.metric!r} (a number; NaN or None when there is none) "
                          f"that the method optimises; it has {sorted(metrics)}")
        if not math.isnan(trial.last_fidelity) and fidelity <= trial.last_fidelity:
            self._answer(run, "continue")  # a restart from scratch re-reports old steps: not recorded twice
            return None
        if self._discover:
            for name, value in metrics.items():
                if name != self.fidelity_name and name not in self._objectives and _number(value) is not None:
                    self._objectives.append(name)
                    self._recorder.add_objective(name)
        values = np.full((1, len(self._objectives)), np.nan)
        for i, name in enumerate(self._objectives):
            value = _number(metrics.get(name))
            if value is not None:
                values[0, i] = value
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
        self._end_group(run)
        return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                     error=message + "\n" + self._stderr_tail(trial_id))

    def _on_exit(self, run: _Run) -> Event | None:
        trial_id = run.trial.trial_id
        self._runs.pop(trial_id, None)
        self._end_group(run)  # the script exited: whatever it left behind goes with its group
        code = run.process.returncode
        now = self.now()
        if code is None or code != 0:
            how = ("did not exit when its group was killed" if code is None
                   else f"exit code {code}" if code > 0 else f"killed by signal {_signal_name(-code)}")
            return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                         error=how + "\n" + self._stderr_tail(trial_id))
        trial = run.trial
        if trial.last_step < 0:
            return Event("failed", trial_id, run.worker, now, (now, run.seq, 1 << 40),
                         error="exited without reporting any result\n" + self._stderr_tail(trial_id))
        # Ended by itself before the maximum fidelity: complete at its last result.
        last_rows = np.flatnonzero(self._recorder.view("trial_id") == trial_id)
        row = int(last_rows[-1]) if len(last_rows) else -1
        return Event("finished", trial_id, run.worker, now, (now, run.seq, 1 << 40), row=row,
                     fidelity=trial.last_fidelity)


def _number(value: Any) -> float | None:
    """A reported value as a float (NaN and infinities included), or None if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _signal_group(pgid: int, sig: int) -> None:
    """Signal a run's process group (the sentinel, the script and anything it spawned)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # every member is gone already


def _is_ancestor(pid: int) -> bool:
    """Whether ``pid`` is this process's parent, grandparent, ... (beyond the parent: Linux ``/proc`` only)."""
    current = os.getppid()
    for _ in range(64):
        if current == pid:
            return True
        if current <= 1:
            return False
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            return False
        current = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: the parent's pid
    return False


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process exits (Linux >= 5.3), else None (polling)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None
