"""Real training scripts that misbehave, run as subprocesses by ``LocalBackend`` (issue 12, points 1-6).

Each test writes a tiny script; every process it starts carries a unique token in its environment
(``HPO_ARENA_TEST_TOKEN``), so "no process of it is left" is checked by scanning ``/proc`` for that token
(a process that merely lingers re-parented to init is found as well). Leftovers are killed by process id at
teardown so a failing test does not leak processes into the rest of the suite.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _processes import TOKEN_ENV, processes_with, wait_until_gone

from baselines.scheduler import Decision, Scheduler, Suggestion
from benchmark_definitions.definitions import RealBenchmark
from blackbox_repo.search_space import SearchSpace, Uniform
from launchers.experiment import ExperimentSpec, run_experiment
from launchers.local_backend import LocalBackend
from launchers.tuner import StoppingCriterion, Tuner

REPO = Path(__file__).resolve().parents[1]
SPACE = SearchSpace({"x": Uniform(0.0, 1.0)})

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="scans /proc for left-over processes"),
    pytest.mark.timeout(120),
]


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------

@pytest.fixture()
def token():
    value = uuid.uuid4().hex
    yield value
    for pid, _ in processes_with(value):  # a failing test must not leak its processes
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def write_script(tmp_path: Path, body: str, name: str = "train.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def local_backend(script: Path, tmp_path: Path, token: str, **kwargs) -> LocalBackend:
    options = {"n_workers": 1, "fidelity_name": "epoch", "max_fidelity": 3, "objectives_names": ["loss"],
               "workdir": tmp_path / "work", "grace_period": 1.0, "trial_timeout": 20.0, "env": {TOKEN_ENV: token}}
    options.update(kwargs)
    return LocalBackend(script, **options)


class InOrder(Scheduler):
    """Starts ``n`` trials one after another and lets each run to the end (records what it was told)."""

    def __init__(self, n: int, max_fidelity: float = 3, metric: str = "loss"):
        super().__init__(SPACE, metric, "min", 0, "epoch", max_fidelity)
        self.left = n
        self.log: list[tuple] = []

    def suggest(self, trial_id):
        if self.left == 0:
            return Suggestion.done()
        self.left -= 1
        return Suggestion.start({"x": 0.25 * (trial_id + 1)})

    def on_result(self, trial_id, fidelity, metrics):
        self.log.append(("result", trial_id, fidelity, metrics[self.metric]))
        return Decision.CONTINUE

    def on_trial_complete(self, trial_id, fidelity, metrics):
        self.log.append(("complete", trial_id, fidelity))

    def on_trial_failed(self, trial_id):
        self.log.append(("failed", trial_id))


def real_benchmark(script: Path, **kwargs) -> RealBenchmark:
    options = {"name": "test-real", "script": str(script), "config_space": SPACE.to_dict(), "metric": "loss",
               "mode": "min", "resource_attr": "epoch", "max_fidelity": 3, "max_wallclock_time": 3.0, "n_workers": 1,
               "trial_timeout": 20.0}
    options.update(kwargs)
    return RealBenchmark(**options)


def experiment(tmp_path: Path, bench: RealBenchmark, method: str = "RS") -> ExperimentSpec:
    return ExperimentSpec(benchmark=bench, method=method, seed=0, master_seed=7, tag="t",
                          results_root=str(tmp_path / "results"))


# ------------------------------------------------------------------------------------------------------------
# 1. no trial reports a result
# ------------------------------------------------------------------------------------------------------------

NO_REPORT = '''
    import sys
    from launchers.report import trial_context
    trial = trial_context()
    print(f"trial {trial.trial_id}: could not find the data set, nothing to train", file=sys.stderr)
'''


def test_no_result_at_all_writes_trials_and_a_failed_status_naming_the_cause(tmp_path, token, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, token)
    spec = experiment(tmp_path, real_benchmark(write_script(tmp_path, NO_REPORT), max_wallclock_time=2.0))
    with pytest.raises(RuntimeError, match="no trial reported a result") as raised:
        run_experiment(spec)
    assert "stderr of trial 0" in str(raised.value) and "trial 0: could not find the data set" in str(raised.value)
    folder = Path(spec.path)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["status"] == "failed"
    assert meta["error"].startswith("no trial reported a result")
    assert "trial 0: could not find the data set" in meta["error"]
    assert meta["n_results"] == 0 and meta["n_trials"] >= 1
    trials = pd.read_parquet(folder / "trials.parquet")
    assert len(trials) == meta["n_trials"]
    ended = trials[trials.status != "running"]
    assert len(ended) >= 1 and (ended.status == "failed").all()
    for trial_id, error in zip(ended.trial_id, ended.error):  # every stderr tail is kept
        assert "exited without reporting any result" in error
        assert f"trial {trial_id}: could not find the data set" in error
    assert not wait_until_gone(token, 5.0)


# ------------------------------------------------------------------------------------------------------------
# 2. NaN / inf metrics
# ------------------------------------------------------------------------------------------------------------

NAN_FIRST = '''
    from launchers.report import report, trial_context
    trial = trial_context()
    for epoch in range(1, int(trial.max_fidelity) + 1):
        if trial.trial_id == 0:
            loss = float("nan") if epoch == 1 else float("inf") if epoch == 2 else 0.5
        else:
            loss = trial.config["x"] / epoch
        report(epoch=epoch, loss=loss, note="text values are not metrics")
'''


def test_nan_in_the_first_report_is_recorded_as_nan_and_the_experiment_completes(tmp_path, token, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, token)
    bench = real_benchmark(write_script(tmp_path, NAN_FIRST), max_wallclock_time=3.0, n_workers=1)
    path = run_experiment(experiment(tmp_path, bench, method="ASHA"))
    meta = json.loads(Path(path, "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["objectives"] == ["loss"]
    frame = pd.read_parquet(Path(path, "results.parquet"))
    first = frame[frame.trial_id == 0]
    assert math.isnan(first.loss.iloc[0]) and first.fidelity.iloc[0] == 1.0
    if len(first) > 1:  # ASHA may stop the NaN trial at its first rung (NaN counts as the worst value)
        assert first.loss.iloc[1] == math.inf
    others = frame[frame.trial_id > 0]
    assert len(others) and np.isfinite(others.loss).all()


def test_nan_results_reach_the_scheduler_as_nan(tmp_path, token):
    script = write_script(tmp_path, NAN_FIRST)
    scheduler = InOrder(1)
    be = local_backend(script, tmp_path, token, objectives_names=None, metric="loss")
    results = Tuner(scheduler, be, StoppingCriterion()).run()
    assert results.objectives_names == ["loss"]
    values = [entry[3] for entry in scheduler.log if entry[0] == "result"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == 0.5
    assert results.trials_frame().status.tolist() == ["completed"]


def test_a_report_without_the_metric_fails_the_trial_with_a_clear_error(tmp_path, token):
    script = write_script(tmp_path, '''
        from launchers.report import report, trial_context
        if trial_context().trial_id == 0:
            report(epoch=1, loss=None)  # no value this time: recorded as NaN
            report(epoch=2, accuracy=0.9)
        else:
            report(epoch=1, loss="low")
    ''')
    be = local_backend(script, tmp_path, token, objectives_names=None, metric="loss")
    scheduler = InOrder(2)
    results = Tuner(scheduler, be, StoppingCriterion()).run()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["failed", "failed"]
    assert "lacks the metric 'loss'" in trials.error[0] and "['accuracy', 'epoch']" in trials.error[0]
    assert "lacks the metric 'loss'" in trials.error[1]
    assert math.isnan(results.to_frame().loss.tolist()[0]) and results.n_results == 1
    assert scheduler.log[0][:3] == ("result", 0, 1.0) and math.isnan(scheduler.log[0][3])


# ------------------------------------------------------------------------------------------------------------
# 3. the trial's whole process group ends; the tuner reaps its trials when interrupted
# ------------------------------------------------------------------------------------------------------------

HANG_WITH_CHILD = '''
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("started a helper process, now stuck", file=sys.stderr, flush=True)
    time.sleep(600)
'''


def test_a_hanging_trial_times_out_and_its_whole_group_is_killed(tmp_path, token):
    script = write_script(tmp_path, HANG_WITH_CHILD)
    t0 = time.monotonic()
    results = Tuner(InOrder(1), local_backend(script, tmp_path, token, trial_timeout=2.0),
                    StoppingCriterion()).run()
    elapsed = time.monotonic() - t0
    trials = results.trials_frame()
    assert trials.status.tolist() == ["failed"]
    assert "timed out after 2 s" in trials.error[0] and "now stuck" in trials.error[0]
    assert elapsed < 10.0
    assert not wait_until_gone(token, 3.0)


def test_a_segfault_fails_the_trial_naming_the_signal_and_where_it_crashed(tmp_path, token):
    script = write_script(tmp_path, '''
        import os, signal
        from launchers.report import report
        report(epoch=1, loss=0.5)
        def crash_here():
            os.kill(os.getpid(), signal.SIGSEGV)
        crash_here()
    ''')
    results = Tuner(InOrder(1), local_backend(script, tmp_path, token), StoppingCriterion()).run()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["failed"] and trials.n_results.tolist() == [1]
    assert "killed by signal SIGSEGV" in trials.error[0]
    assert "crash_here" in trials.error[0]  # the interpreter's fault handler wrote where it crashed


class InterruptAt(InOrder):
    """Raises KeyboardInterrupt (what Ctrl-C does) while the tuner handles a result."""

    def on_result(self, trial_id, fidelity, metrics):
        if trial_id == 1:
            raise KeyboardInterrupt
        return super().on_result(trial_id, fidelity, metrics)


def test_an_interrupted_tuner_kills_every_trial_and_its_children(tmp_path, token):
    script = write_script(tmp_path, '''
        import subprocess, sys, time
        from launchers.report import report, trial_context
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        trial = trial_context()
        if trial.trial_id == 0:
            time.sleep(600)  # still training when the tuner is interrupted
        report(epoch=1, loss=0.1)
        time.sleep(600)
    ''')
    be = local_backend(script, tmp_path, token, n_workers=2)
    with pytest.raises(KeyboardInterrupt):
        Tuner(InterruptAt(2), be, StoppingCriterion()).run()
    assert not wait_until_gone(token, 3.0)


# ------------------------------------------------------------------------------------------------------------
# 4. a child process that outlives the script
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exit_detection", ["pidfd", "polling"])
def test_a_script_that_leaves_a_child_holding_stdout_completes_and_the_child_is_killed(tmp_path, token,
                                                                                       exit_detection, monkeypatch):
    if exit_detection == "polling":  # what systems without pidfd_open (macOS) do
        monkeypatch.setattr("launchers.local_backend._pidfd", lambda pid: None)
    script = write_script(tmp_path, '''
        import subprocess, sys
        from launchers.report import report
        for epoch in (1, 2):
            report(epoch=epoch, loss=1.0 / epoch)
        # a helper that inherits stdout and stderr and outlives the script (e.g. a data-loader daemon)
        subprocess.Popen([sys.executable, "-c", "import time; print('helper up', flush=True); time.sleep(600)"])
    ''')
    t0 = time.monotonic()
    results = Tuner(InOrder(1, max_fidelity=4), local_backend(script, tmp_path, token, max_fidelity=4,
                                                               trial_timeout=8.0), StoppingCriterion()).run()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["completed"], trials.error.tolist()
    assert trials.n_results.tolist() == [2]
    assert time.monotonic() - t0 < 6.0  # not after the trial timeout
    assert not wait_until_gone(token, 3.0)


# ------------------------------------------------------------------------------------------------------------
# 5. what a script prints cannot confuse the report protocol
# ------------------------------------------------------------------------------------------------------------

def test_partial_lines_binary_garbage_spoofed_reports_and_stdin_reads_are_just_logged(tmp_path, token):
    script = write_script(tmp_path, '''
        import sys
        from launchers.report import report
        print("input:", repr(sys.stdin.read()))  # the script's stdin is not the tuner's channel
        sys.stdout.buffer.write(b"\\xff\\xfe\\x80 not utf-8\\n")
        print('@@hpo-arena@@ {"epoch": 99, "loss": -1}')  # looks like a report, is only output
        for epoch in (1, 2, 3):
            print(".", end="", flush=True)  # a progress bar without a newline
            report(epoch=epoch, loss=1.0 / epoch)
        sys.stdout.buffer.write(b"\\x00\\xc3(")
    ''')
    t0 = time.monotonic()
    results = Tuner(InOrder(1), local_backend(script, tmp_path, token, trial_timeout=5.0),
                    StoppingCriterion()).run()
    trials = results.trials_frame()
    assert trials.status.tolist() == ["completed"], trials.error.tolist()
    frame = results.to_frame()
    assert frame.fidelity.tolist() == [1.0, 2.0, 3.0] and frame.loss.tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert time.monotonic() - t0 < 4.0
    log = (tmp_path / "work" / "trial_0" / "stdout.log").read_bytes()
    assert b"input: ''" in log and b"\xff\xfe\x80 not utf-8\n" in log and b"@@hpo-arena@@ {\"epoch\": 99" in log
    assert log.endswith(b"...\x00\xc3(")


# ------------------------------------------------------------------------------------------------------------
# 6. work folders
# ------------------------------------------------------------------------------------------------------------

CHECKPOINTING = '''
    from launchers.report import report, save_checkpoint
    for epoch in (1, 2, 3):
        save_checkpoint({"epoch": epoch})
        report(epoch=epoch, loss=1.0 / epoch)
'''


def test_a_temporary_work_folder_is_removed_unless_kept(tmp_path, token):
    script = write_script(tmp_path, CHECKPOINTING)
    removed = local_backend(script, tmp_path, token, workdir=None)
    Tuner(InOrder(2), removed, StoppingCriterion()).run()
    assert removed.workdir.name.startswith("hpo-arena-local-") and not removed.workdir.exists()
    kept = local_backend(script, tmp_path, token, workdir=None, keep_workdir=True)
    try:
        Tuner(InOrder(2), kept, StoppingCriterion()).run()
        assert (kept.workdir / "trial_1" / "checkpoint" / "checkpoint.pkl").is_file()
        assert (kept.workdir / "trial_1" / "stderr.log").is_file()
    finally:
        import shutil

        shutil.rmtree(kept.workdir, ignore_errors=True)
    named = local_backend(script, tmp_path, token, workdir=tmp_path / "named", keep_workdir=False)
    Tuner(InOrder(1), named, StoppingCriterion()).run()
    assert not (tmp_path / "named").exists()


def test_an_experiment_keeps_its_work_folder_only_when_asked(tmp_path, token, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, token)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where LocalBackend makes hpo-arena-local-*
    script = write_script(tmp_path, CHECKPOINTING)
    path = run_experiment(experiment(tmp_path, real_benchmark(script, max_wallclock_time=1.5)))
    meta = json.loads(Path(path, "metadata.json").read_text())
    assert meta["status"] == "complete" and "workdir" not in meta
    assert list(temporary.iterdir()) == []
    spec = ExperimentSpec(benchmark=real_benchmark(script, max_wallclock_time=1.5, keep_workdir=True), method="RS",
                          seed=1, master_seed=7, tag="t", results_root=str(tmp_path / "results"))
    meta = json.loads(Path(run_experiment(spec), "metadata.json").read_text())
    kept = Path(meta["workdir"])
    try:
        assert (kept / "trial_0" / "checkpoint" / "checkpoint.pkl").is_file()
    finally:
        import shutil

        shutil.rmtree(kept, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------------
# 3 (sweep): `arena sweep` on a real benchmark stopped by SIGINT, SIGTERM or SIGKILL leaves nothing running
# ------------------------------------------------------------------------------------------------------------

SWEEP_SCRIPT = '''
    import os, subprocess, sys, time
    from pathlib import Path
    from launchers.report import report, trial_context
    trial = trial_context()
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # e.g. a data-loader worker
    report(epoch=1, val_error=0.5)
    Path(os.environ["SWEEP_MARKS"], f"trial-{trial.trial_id}-{os.getpid()}").write_text(str(os.getpid()))
    time.sleep(600)  # a long epoch: the sweep is stopped while it trains
'''


def start_sweep(tmp_path: Path, script: Path, token: str, marks: Path, *overrides: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({TOKEN_ENV: token, "SWEEP_MARKS": str(marks), "HPO_ARENA_RESULTS": str(tmp_path / "results"),
                "HPO_ARENA_HYDRA_DIR": str(tmp_path / "hydra"), "TMPDIR": str(tmp_path / "tmp"),
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)})
    (tmp_path / "tmp").mkdir()
    for key in ("HPO_ARENA_JOB_STATS", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HPO_ARENA_SWEEP_PID"):
        env.pop(key, None)
    command = [sys.executable, "-m", "launchers.cli", "sweep", "-m", "benchmark=real-mlp-digits",
               f"benchmark.script='{script}'", "benchmark.n_workers=2", "benchmark.max_wallclock_time=300",
               "benchmark.trial_timeout=300", "tag=stopped", *overrides]
    with open(tmp_path / "sweep.log", "wb") as log:  # a file: processes left behind cannot block reading it
        return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)


SWEEP_CASES = {  # label: (signal sent to the `arena sweep` process, overrides, trials that run at once)
    "basic-SIGINT": (signal.SIGINT, ("method=RS",), 2),
    "basic-SIGTERM": (signal.SIGTERM, ("method=RS",), 2),
    "basic-SIGKILL": (signal.SIGKILL, ("method=RS",), 2),
    # two jobs in joblib worker processes, which outlive the killed sweep process
    "joblib-SIGKILL": (signal.SIGKILL, ("method=RS,ASHA", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"), 4),
}


def test_a_sweep_stopped_by_sigint_sigterm_or_sigkill_leaves_no_training_process(tmp_path):
    """Several sweeps at once (one per case, each with its own token) to keep the test short."""
    script = write_script(tmp_path, SWEEP_SCRIPT)
    cases = {}
    for label, (how, overrides, n_trials) in SWEEP_CASES.items():
        folder = tmp_path / label
        (folder / "marks").mkdir(parents=True)
        token = uuid.uuid4().hex
        cases[label] = (how, n_trials, token, folder / "marks",
                        start_sweep(folder, script, token, folder / "marks", *overrides))
    try:
        deadline = time.monotonic() + 60
        waiting = dict(cases)
        while waiting:  # signal each sweep as soon as all its trials train (each has started a helper)
            for label, (how, n_trials, token, marks, sweep) in list(waiting.items()):
                assert sweep.poll() is None, (marks.parent / "sweep.log").read_text(errors="replace")
                if len(list(marks.iterdir())) == n_trials:
                    trial_pids = {int(p.read_text()) for p in marks.iterdir()}
                    assert trial_pids <= {pid for pid, _ in processes_with(token)}
                    sweep.send_signal(how)
                    del waiting[label]
            assert time.monotonic() < deadline, f"the trials of the sweeps {sorted(waiting)} did not start"
            time.sleep(0.1)
        for label, (how, _, token, marks, sweep) in cases.items():
            sweep.wait(timeout=30)
            output = (marks.parent / "sweep.log").read_text(errors="replace")
            left = wait_until_gone(token, 10.0)
            assert not left, f"processes left after {label}: {left}\n{output[-2000:]}"
            if how is not signal.SIGINT:
                assert sweep.returncode == -how, (label, sweep.returncode)  # it still ends as the signal would
            else:
                assert sweep.returncode != 0, output[-2000:]  # interrupted, not a clean end
            work_folders = list((marks.parent / "tmp").glob("hpo-arena-local-*"))
            if label == "basic-SIGKILL":  # nothing of the killed process runs: its work folder stays behind
                assert len(work_folders) == 1
            else:  # removed by the SIGTERM handler, the tuner's abort or the sweep watcher
                assert work_folders == [], label
    finally:
        for _, _, token, _, sweep in cases.values():
            if sweep.poll() is None:
                sweep.kill()
                sweep.wait()
            for pid, _ in processes_with(token):
                os.kill(pid, signal.SIGKILL)
