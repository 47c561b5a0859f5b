"""End-to-end sweeps through ``arena sweep`` (Hydra multirun) in subprocesses, on the embedded benchmark.

- the basic, joblib (2 processes) and submitit-local launchers write byte-identical results files;
- a sweep killed with SIGKILL mid-way and rerun ends with exactly the files of an uninterrupted sweep:
  complete experiments are skipped, the half-written one is redone, nothing is duplicated or lost;
- the master seed is drawn once, printed, recorded in ``<root>/<tag>/study.json`` and reused; a conflicting
  explicit seed is refused;
- a misspelt method, benchmark or override key fails before any job starts;
- method and benchmark overrides reach the experiment (metadata and behaviour).

Budgets are cut to 0.3 simulated seconds so that each experiment takes a fraction of a real second; the
cost of this file is mostly process start-up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
METHODS = ("RS", "ASHA")
BENCHMARKS = ("xgboost-sklearn-breast_cancer", "xgboost-sklearn-wine")
SEEDS = range(3)
BUDGET = "benchmark.max_wallclock_time=0.3"
SWEEP = (
    f"method={','.join(METHODS)}",
    f"benchmark={','.join(BENCHMARKS)}",
    f"seed=range(0,{len(SEEDS)})",
    BUDGET,
)
EXPERIMENTS = [(b, m, s) for b in BENCHMARKS for m in METHODS for s in SEEDS]
DETERMINISTIC_FILES = (
    "results.parquet",
    "trials.parquet",
)  # real_times.parquet and metadata.json hold clocks
FOLDER_FILES = {"metadata.json", "results.parquet", "trials.parquet", "real_times.parquet"}

pytestmark = pytest.mark.timeout(600)


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HPO_ARENA_RESULTS=str(workdir / "results"),
        HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
    )
    for key in ("HPO_ARENA_JOB_STATS", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HYDRA_FULL_ERROR"):
        env.pop(key, None)
    return env


def _command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides]


def _sweep(workdir: Path, *overrides: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*overrides),
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (
        f"sweep failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def _folder(workdir: Path, tag: str, benchmark: str, method: str, seed: int) -> Path:
    return workdir / "results" / tag / benchmark / method / str(seed)


def _label(benchmark: str, method: str, seed: int) -> str:
    return f"{benchmark} / {method} / seed {seed}"


def _metadata(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "metadata.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _experiment_folders(workdir: Path, tag: str) -> list[tuple[str, str, int]]:
    """Every <benchmark>/<method>/<seed> folder under the tag, complete or not."""
    root = workdir / "results" / tag
    return sorted((p.parts[-3], p.parts[-2], int(p.parts[-1])) for p in root.glob("*/*/*") if p.is_dir())


def _assert_complete_study(workdir: Path, tag: str, experiments: list[tuple[str, str, int]]) -> None:
    assert _experiment_folders(workdir, tag) == sorted(experiments)
    for exp in experiments:
        folder = _folder(workdir, tag, *exp)
        assert {p.name for p in folder.iterdir()} == FOLDER_FILES, folder
        meta = _metadata(folder)
        assert meta is not None and meta["status"] == "complete"
        assert (meta["benchmark"], meta["method"], meta["seed"], meta["tag"]) == (*exp, tag)


def _assert_same_files(
    workdir_a: Path, tag_a: str, workdir_b: Path, tag_b: str, experiments: list[tuple[str, str, int]]
) -> None:
    for exp in experiments:
        for name in DETERMINISTIC_FILES:
            a = (_folder(workdir_a, tag_a, *exp) / name).read_bytes()
            b = (_folder(workdir_b, tag_b, *exp) / name).read_bytes()
            assert a == b, f"{name} of {exp} differs between {tag_a} and {tag_b}"


# ------------------------------------------------------------------------------------------------------------
# the reference: an uninterrupted sweep with the basic launcher and a freshly drawn master seed
# ------------------------------------------------------------------------------------------------------------


class Reference:
    def __init__(self, workdir: Path, proc: subprocess.CompletedProcess[str]):
        self.workdir, self.proc = workdir, proc
        self.master_seed = int(
            json.loads((workdir / "results" / "basic" / "study.json").read_text())["master_seed"]
        )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    workdir = tmp_path_factory.mktemp("reference")
    proc = _ok(_sweep(workdir, *SWEEP, "tag=basic"))
    return Reference(workdir, proc)


def test_basic_sweep_writes_every_experiment_once_and_reports_progress(reference):
    _assert_complete_study(reference.workdir, "basic", EXPERIMENTS)
    # Hydra's own outputs (configs, logs) go to HPO_ARENA_HYDRA_DIR, nothing into the working folder.
    assert sorted(p.name for p in reference.workdir.iterdir()) == ["hydra", "results"]
    assert len(list((reference.workdir / "hydra" / "basic").glob("multirun-*/0/.hydra/config.yaml"))) == 1
    out = reference.proc.stdout
    n = len(EXPERIMENTS)
    for exp in EXPERIMENTS:
        path = _folder(reference.workdir, "basic", *exp)
        assert re.search(
            rf"\[arena\] done: {re.escape(_label(*exp))} -> {re.escape(str(path))} "
            rf"\(\d+ of {n} done\)",
            out,
        ), _label(*exp)
    # The basic launcher runs jobs in order, so the counter reads 1, 2, ..., n.
    assert [int(k) for k in re.findall(rf"\((\d+) of {n} done\)", out)] == list(range(1, n + 1))


def test_master_seed_is_drawn_once_printed_and_recorded(reference):
    seed = reference.master_seed
    assert 0 <= seed < 2**31
    assert (
        f"[arena] study 'basic' in {reference.workdir / 'results'}: master seed {seed}"
        in reference.proc.stdout
    )
    study = json.loads((reference.workdir / "results" / "basic" / "study.json").read_text())
    assert study["tag"] == "basic"
    seeds = {
        (_metadata(_folder(reference.workdir, "basic", *exp)) or {}).get("master_seed") for exp in EXPERIMENTS
    }
    assert seeds == {seed}


def test_joblib_and_submitit_launchers_write_identical_files(reference, tmp_path):
    seed = reference.master_seed
    _ok(
        _sweep(
            tmp_path,
            *SWEEP,
            "tag=joblib",
            f"master_seed={seed}",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        )
    )
    _assert_complete_study(tmp_path, "joblib", EXPERIMENTS)
    _assert_same_files(reference.workdir, "basic", tmp_path, "joblib", EXPERIMENTS)

    # submitit starts one process per job: a slice of the sweep keeps this affordable on 2 cores.
    subset = [(b, m, s) for b, m, s in EXPERIMENTS if b == BENCHMARKS[1] and s < 2]
    _ok(
        _sweep(
            tmp_path,
            f"method={','.join(METHODS)}",
            f"benchmark={BENCHMARKS[1]}",
            "seed=0,1",
            BUDGET,
            "tag=submitit",
            f"master_seed={seed}",
            "hydra/launcher=submitit_local",
        )
    )
    _assert_complete_study(tmp_path, "submitit", subset)
    _assert_same_files(reference.workdir, "basic", tmp_path, "submitit", subset)
    # Job output goes to submitit's log files; each job reports the progress of the whole sweep there.
    logs = "".join(p.read_text() for p in (tmp_path / "hydra" / "submitit").rglob("*_log.out"))
    assert sorted(int(k) for k in re.findall(r"\((\d+) of 4 done\)", logs)) == [1, 2, 3, 4]


def test_sweep_killed_midway_and_rerun_equals_an_uninterrupted_sweep(reference, tmp_path):
    seed = reference.master_seed
    log = tmp_path / "killed.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            _command(*SWEEP, "tag=killed", f"master_seed={seed}"),
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Kill once one experiment is complete and the next one has claimed its folder (status "running"). The
        # sweep is frozen (SIGSTOP) while its folders are read, so the states seen are the states it is killed
        # in: an experiment takes milliseconds, and without the freeze the "running" one may complete between
        # the read and the kill.
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"sweep ended before it could be killed:\n{log.read_text()}"
            os.killpg(proc.pid, signal.SIGSTOP)
            states = {
                exp: (_metadata(_folder(tmp_path, "killed", *exp)) or {}).get("status") for exp in EXPERIMENTS
            }
            if "complete" in states.values() and "running" in states.values():
                break
            os.killpg(proc.pid, signal.SIGCONT)
            assert time.monotonic() < deadline, f"no experiment completed in time:\n{log.read_text()}"
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    states = {exp: (_metadata(_folder(tmp_path, "killed", *exp)) or {}).get("status") for exp in EXPERIMENTS}
    complete = [exp for exp, status in states.items() if status == "complete"]
    half_written = [exp for exp, status in states.items() if status is not None and status != "complete"]
    assert 1 <= len(complete) < len(EXPERIMENTS) and half_written
    finished_at = {exp: _metadata(_folder(tmp_path, "killed", *exp))["finished_at"] for exp in complete}

    rerun = _ok(_sweep(tmp_path, *SWEEP, "tag=killed"))  # no master_seed: the recorded one is reused
    assert f"master seed {seed}" in rerun.stdout
    for exp in EXPERIMENTS:
        skipped = f"[arena] skip (complete): {_label(*exp)}" in rerun.stdout
        started = f"[arena] start: {_label(*exp)}\n" in rerun.stdout
        assert skipped == (exp in complete) and started == (exp not in complete), _label(*exp)
    for exp in complete:  # untouched
        assert _metadata(_folder(tmp_path, "killed", *exp))["finished_at"] == finished_at[exp]
    _assert_complete_study(tmp_path, "killed", EXPERIMENTS)
    _assert_same_files(reference.workdir, "basic", tmp_path, "killed", EXPERIMENTS)
    for exp in half_written:
        assert pd.read_parquet(_folder(tmp_path, "killed", *exp) / "results.parquet").shape[0] > 0


def test_rerun_with_a_different_master_seed_is_refused(reference):
    before = sorted((reference.workdir / "results").rglob("*"))
    proc = _sweep(
        reference.workdir,
        "method=RS",
        f"benchmark={BENCHMARKS[0]}",
        "seed=0",
        "tag=basic",
        f"master_seed={reference.master_seed + 1}",
    )
    assert proc.returncode != 0
    assert f"was started with master_seed={reference.master_seed}" in proc.stderr
    assert "use a new tag" in proc.stderr and "Traceback" not in proc.stderr
    assert "[arena] start" not in proc.stdout
    assert sorted((reference.workdir / "results").rglob("*")) == before


def test_typos_fail_before_any_job_starts(tmp_path):
    cases = {
        "method-typo": (
            ["method=RS,ASAH", f"benchmark={BENCHMARKS[0]}", "seed=0,1"],
            ["unknown method 'ASAH'; did you mean 'ASHA'", "valid: RS, GRID, BO"],
        ),
        "benchmark-typo": (
            ["method=RS", "benchmark=xgboost-sklearn-wnie", "seed=0"],
            ["unknown benchmark 'xgboost-sklearn-wnie'; did you mean 'xgboost-sklearn-wine'"],
        ),
        "benchmark-glob-typo": (
            ["method=RS", "benchmark=glob(xgboost-sklaern-*)", "seed=0"],
            ["the sweep holds no experiment: benchmark=glob(xgboost-sklaern-*): a glob(...) matched no benchmark name"],
        ),
        "key-typo": (
            ["method=ASHA", "method.grace_perod=3", f"benchmark={BENCHMARKS[0]}", "seed=0,1"],
            ["method.grace_perod: method ASHA does not accept ['grace_perod']", "did you mean 'grace_period'"],
        ),
    }
    # Started together: each is mostly interpreter start-up.
    procs = {
        tag: subprocess.Popen(
            _command(*args, f"tag={tag}"),
            cwd=tmp_path,
            env=_env(tmp_path),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag, (args, _) in cases.items()
    }
    for tag, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode != 0, tag
        for expected in cases[tag][1]:
            assert expected in stderr, f"{tag}: {expected!r} not in\n{stderr}"
        assert "[arena] start" not in stdout and "[arena] done" not in stdout
        assert "Traceback" not in stderr
        # Names and every job's configuration are checked before the study is recorded: nothing is written.
        assert not (tmp_path / "results" / tag).exists(), tag


def test_method_and_benchmark_overrides_reach_the_experiment(tmp_path):
    _ok(
        _sweep(
            tmp_path,
            "method=ASHA",
            "method.grace_period=3",
            f"benchmark={BENCHMARKS[1]}",
            "benchmark.n_workers=2",
            BUDGET,
            "seed=0",
            "tag=overrides",
        )
    )
    folder = _folder(tmp_path, "overrides", BENCHMARKS[1], "ASHA", 0)
    meta = _metadata(folder)
    assert meta["status"] == "complete"
    assert meta["method_kwargs"]["grace_period"] == 3 and meta["method_kwargs"]["reduction_factor"] == 3
    assert meta["benchmark_definition"]["n_workers"] == 2 and meta["n_workers"] == 2
    assert (
        meta["benchmark_definition"]["max_wallclock_time"] == 0.3
        and meta["budget"]["max_wallclock_time"] == 0.3
    )
    results = pd.read_parquet(folder / "results.parquet")
    assert set(results["worker"]) == {0, 1}
    assert results["sim_time"].max() <= 0.3
    # ASHA's rungs are grace_period * reduction_factor^k = 3, 9, 27: no trial is paused or stopped elsewhere.
    decided = results.loc[results["decision"].isin(["pause", "stop"]), "fidelity"]
    assert len(decided) > 0 and set(decided) <= {3, 9, 27}


def test_model_based_multi_fidelity_methods_run_in_a_sweep(tmp_path):
    methods = ("KDE", "BOHB", "SYNC-BOHB", "ASHA-BORE", "DEHB")
    _ok(_sweep(tmp_path, f"method={','.join(methods)}", f"benchmark={BENCHMARKS[0]}",
               "benchmark.max_wallclock_time=2", "seed=0", "tag=methods-ii"))
    for method in methods:
        folder = _folder(tmp_path, "methods-ii", BENCHMARKS[0], method, 0)
        meta = _metadata(folder)
        assert meta is not None and meta["status"] == "complete", method
        results = pd.read_parquet(folder / "results.parquet")
        assert len(results) > 0 and results["trial_id"].nunique() > 1, method
        if method != "KDE":  # multi-fidelity: decisions only at the rungs 1, 3, 9, 27
            decided = results.loc[results["decision"].isin(["pause", "stop"]), "fidelity"]
            assert len(decided) > 0 and set(decided) <= {1, 3, 9, 27}, method
