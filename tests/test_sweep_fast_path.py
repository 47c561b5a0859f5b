"""Cheap experiments in ``arena sweep`` (``launchers.sweep_compose``, ``launchers.sweep_runner``).

- every job's configuration assembled from once-composed trees equals Hydra's own composition of the job, for
  built-in methods, the user's method YAMLs (with interpolations into the top level and ``@package _global_``),
  method and benchmark keys, ``+``/``++``/``~`` overrides; Hydra's errors are the same;
- the joblib launcher runs many experiments per worker process, loads each table once per worker, and no
  worker process is left when the sweep ends;
- a joblib sweep killed with SIGKILL while its workers run slices leaves no worker behind, its complete
  experiments intact and the others visibly incomplete; the rerun redoes exactly those, and every file equals
  that of a sweep run by Hydra's own launcher (``HPO_ARENA_HYDRA_JOBS=1``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from _processes import TOKEN_ENV, wait_until_gone

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ("xgboost-sklearn-breast_cancer", "xgboost-sklearn-wine")
SWEEP = ("method=RS,ASHA", f"benchmark={','.join(BENCHMARKS)}", "seed=range(0,3)",
         "benchmark.max_wallclock_time=0.3")
EXPERIMENTS = [(b, m, s) for b in BENCHMARKS for m in ("RS", "ASHA") for s in range(3)]
JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")

pytestmark = pytest.mark.timeout(600)


# ------------------------------------------------------------------------------------------------------------
# configurations: assembled == Hydra's composition
# ------------------------------------------------------------------------------------------------------------

USER_METHODS = {
    # a user's method YAML whose argument interpolates top-level keys (resolved on the whole job config)
    "MY-GREEDY": """
        _target_: my_methods.Greedy
        explore: 0.25
        label: run-${seed}-${tag}
        """,
    # a user's YAML that writes outside its node: only Hydra's full composition is right
    "GLOBAL-GREEDY": """
        # @package _global_
        method:
          _target_: my_methods.Greedy
          explore: 0.5
        written_by_method: 3
        """,
}

JOBS = [
    ["method=RS", f"benchmark={BENCHMARKS[0]}", "seed=0", "tag=a"],
    ["method=ASHA", f"benchmark={BENCHMARKS[1]}", "seed=3", "tag=a", "++method.grace_period=2",
     "benchmark.n_workers=2", "benchmark.max_wallclock_time=0.3", "hydra/launcher=joblib"],
    ["method=ASHA", f"benchmark={BENCHMARKS[0]}", "seed=1", "++method.reduction_factor=4",
     "++method.grace_period=3", "master_seed=7", "++method.new_node.sub=1", "++benchmark.surrogate_kwargs.k=2"],
    ["method=PBT", "++method.perturbation_factors=[0.5,2.0]", "seed=2", "+extra_key=1", "~skip_complete"],
    ["method=MY-GREEDY", "++method.explore=0.9", f"benchmark={BENCHMARKS[1]}", "seed=4", "tag=b"],
    ["method=MY-GREEDY", "seed=5", "tag=c", "results_root=/tmp/elsewhere"],
    ["method=GLOBAL-GREEDY", "seed=6"],
    ["benchmark=lcbench-ce-Fashion-MNIST", "seed=0", "tag=study-${seed}", "benchmark.n_workers=8"],
    ["method=BO", "benchmark=lcbench-ce-adult", "seed=9", "method.max_trials=null"],
]


@pytest.fixture()
def user_config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    (folder / "method").mkdir(parents=True)
    for name, text in USER_METHODS.items():
        (folder / "method" / f"{name}.yaml").write_text(textwrap.dedent(text))
    from launchers import hydra_app

    monkeypatch.setenv("HPO_ARENA_CONFIG_DIR", str(folder))
    hydra_app.register_configs([folder])
    yield folder
    monkeypatch.delenv("HPO_ARENA_CONFIG_DIR")
    hydra_app.register_configs([])


def test_assembled_job_configs_equal_hydras_composition(user_config_dir):
    from hydra import initialize_config_dir

    from launchers.hydra_app import CONF_DIR
    from launchers.sweep_compose import SweepComposer

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        composer = SweepComposer()
        assembled = [composer.compose(job) for job in JOBS]
        hydra_compositions = composer.hydra_compositions
        assert composer.full_compositions == 1  # GLOBAL-GREEDY writes outside its node: Hydra composes it
        for job, config in zip(JOBS, assembled):
            reference = composer.compose_full(job)
            assert config == reference, job
            assert list(config) == list(reference) and list(config["method"]) == list(reference["method"]), job
    by_job = dict(zip(map(tuple, JOBS), assembled))
    assert by_job[tuple(JOBS[1])]["method"]["grace_period"] == 2
    assert by_job[tuple(JOBS[1])]["benchmark"]["n_workers"] == 2
    assert by_job[tuple(JOBS[2])]["method"]["new_node"] == {"sub": 1}
    assert by_job[tuple(JOBS[2])]["benchmark"]["surrogate_kwargs"] == {"k": 2}
    assert by_job[tuple(JOBS[3])]["method"]["perturbation_factors"] == [0.5, 2.0]
    assert by_job[tuple(JOBS[3])]["extra_key"] == 1 and "skip_complete" not in by_job[tuple(JOBS[3])]
    assert by_job[tuple(JOBS[4])]["method"] == {"_target_": "my_methods.Greedy", "explore": 0.9,
                                                "label": "run-4-b"}
    assert by_job[tuple(JOBS[6])]["written_by_method"] == 3
    assert by_job[tuple(JOBS[7])]["tag"] == "study-0"
    # Hydra composed the default tree and each distinct method and benchmark choice once (the GLOBAL-GREEDY job
    # once more in full), not every job.
    distinct_choices = 1 + len({o for job in JOBS for o in job if o.split("=")[0] in ("method", "benchmark")})
    assert hydra_compositions <= distinct_choices + 1


def test_hydras_errors_are_raised_for_the_jobs_that_have_them(user_config_dir):
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    from launchers.hydra_app import CONF_DIR
    from launchers.sweep_compose import SweepComposer

    bad = [["method=ASHA", "method.grace_perod=2"], ["method=RS", "+seed=1"], ["benchmark=no-such-benchmark"],
           ["method=RS", "~blackbox_root"]]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        composer = SweepComposer()
        for job in bad:
            with pytest.raises(HydraException) as assembled:
                composer.compose(job)
            with pytest.raises(HydraException) as reference:
                composer.compose_full(job)
            assert str(assembled.value).splitlines()[0] == str(reference.value).splitlines()[0], job


def test_slices_group_jobs_by_benchmark_and_cover_each_job_once():
    from launchers.sweep_runner import slices_of
    from launchers.validation import PlannedRun

    jobs = [(i, PlannedRun((f"seed={i}",), {"benchmark": {"name": f"b{i % 3}"}}, None)) for i in range(20)]
    slices = slices_of(jobs, n_workers=2)
    assert len(slices) == 7  # ceil(20 / (2 workers x 4 slices)) = 3 jobs per slice
    assert sorted(num for piece in slices for num, _ in piece) == list(range(20))
    order = [run.config["benchmark"]["name"] for piece in slices for _, run in piece]
    assert order == sorted(order)  # a worker meets one benchmark after the other
    assert [len(piece) for piece in slices_of(jobs, 2, one_per_slice=True)] == [1] * 20


# ------------------------------------------------------------------------------------------------------------
# sweeps in subprocesses
# ------------------------------------------------------------------------------------------------------------


def _env(workdir: Path, token: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(workdir / "results"), HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
               HPO_ARENA_JOB_STATS=str(workdir / "job_stats.jsonl"), **{TOKEN_ENV: token}, **extra,
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    for key in ("HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HPO_ARENA_SWEEP_PID", "HPO_ARENA_HYDRA_JOBS",
                "HPO_ARENA_CONFIG_DIR"):
        env.pop(key, None)
    env.update(extra)
    return env


def _command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides]


def _metadata(workdir: Path, tag: str, exp: tuple[str, str, int]) -> dict | None:
    try:
        return json.loads((workdir / "results" / tag / exp[0] / exp[1] / str(exp[2]) / "metadata.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _files(workdir: Path, tag: str, exp: tuple[str, str, int]) -> dict[str, bytes]:
    folder = workdir / "results" / tag / exp[0] / exp[1] / str(exp[2])
    return {name: (folder / name).read_bytes() for name in ("results.parquet", "trials.parquet")}


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="scans /proc for left-over processes")
def test_joblib_workers_run_slices_and_end_with_the_sweep(tmp_path):
    token = uuid.uuid4().hex
    proc = subprocess.run(_command(*SWEEP, "tag=batched", "master_seed=11", *JOBLIB), cwd=tmp_path,
                          env=_env(tmp_path, token), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert not wait_until_gone(token, 5.0), "worker processes outlived the sweep"
    for exp in EXPERIMENTS:
        assert (_metadata(tmp_path, "batched", exp) or {}).get("status") == "complete", exp
    stats = [json.loads(line) for line in (tmp_path / "job_stats.jsonl").read_text().splitlines()]
    by_pid: dict[int, list[dict]] = {}
    for record in stats:
        by_pid.setdefault(record["pid"], []).append(record)
    assert len(stats) == len(EXPERIMENTS) and 1 <= len(by_pid) <= 2  # two worker processes at most
    assert proc.stdout.count("[arena] done:") == len(EXPERIMENTS)
    for records in by_pid.values():
        benchmarks = {r["experiment"].split(" / ")[0] for r in records}
        assert records[-1]["blackbox_loads"] == len(benchmarks)  # each table once per worker
    assert max(len(records) for records in by_pid.values()) >= len(EXPERIMENTS) // 2
    # What Hydra's job wrapper wrote, per job: its configuration and overrides.
    sweep_dir = next((tmp_path / "hydra" / "batched").glob("multirun-*"))
    assert (sweep_dir / "multirun.yaml").is_file()
    assert sorted(int(p.parent.parent.name) for p in sweep_dir.glob("*/.hydra/config.yaml")) == list(range(12))


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="scans /proc for left-over processes")
def test_killed_joblib_sweep_leaves_no_worker_and_resumes_to_hydras_files(tmp_path):
    token = uuid.uuid4().hex
    killed = tmp_path / "killed"
    killed.mkdir()
    log = killed / "sweep.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command(*SWEEP, "tag=k", "master_seed=5", *JOBLIB), cwd=killed,
                                env=_env(killed, token), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:  # kill once a worker has completed an experiment and claimed the next one of its slice
            states = {exp: (_metadata(killed, "k", exp) or {}).get("status") for exp in EXPERIMENTS}
            if "complete" in states.values() and "running" in states.values():
                break
            assert proc.poll() is None, f"the sweep ended before it could be killed:\n{log.read_text()}"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # the sweep process only: its workers must notice by themselves
    finally:
        proc.wait(timeout=30)
    left = wait_until_gone(token, 10.0)
    assert not left, f"worker processes left after the sweep was killed: {left}"
    states = {exp: (_metadata(killed, "k", exp) or {}).get("status") for exp in EXPERIMENTS}
    complete = [exp for exp, status in states.items() if status == "complete"]
    assert 1 <= len(complete) < len(EXPERIMENTS), states
    finished = {exp: _metadata(killed, "k", exp)["finished_at"] for exp in complete}

    rerun = subprocess.run(_command(*SWEEP, "tag=k", *JOBLIB), cwd=killed, env=_env(killed, token),
                           capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    assert not wait_until_gone(token, 5.0)
    for exp in EXPERIMENTS:
        label = f"{exp[0]} / {exp[1]} / seed {exp[2]}"
        assert (f"[arena] skip (complete): {label}" in rerun.stdout) == (exp in complete), label
        assert (_metadata(killed, "k", exp) or {}).get("status") == "complete", label
    for exp in complete:
        assert _metadata(killed, "k", exp)["finished_at"] == finished[exp]  # untouched

    # The same study run job by job by Hydra's own basic launcher writes the same bytes.
    hydra = tmp_path / "hydra-path"
    hydra.mkdir()
    reference = subprocess.run(_command(*SWEEP, "tag=k", "master_seed=5"), cwd=hydra,
                               env=_env(hydra, token, HPO_ARENA_HYDRA_JOBS="1"), capture_output=True, text=True,
                               timeout=300, check=False)
    assert reference.returncode == 0, reference.stdout[-2000:] + reference.stderr[-3000:]
    assert "launcher basic" not in reference.stdout  # really Hydra's path
    for exp in EXPERIMENTS:
        assert _files(killed, "k", exp) == _files(hydra, "k", exp), exp


def test_a_failing_job_does_not_stop_the_others_and_fails_the_sweep_as_hydra_does(tmp_path, capsys):
    from hydra import initialize_config_dir

    from launchers import hydra_app
    from launchers.hydra_app import CONF_DIR
    from launchers.sweep_compose import SweepComposer
    from launchers.sweep_runner import LaunchSettings, run_planned_sweep
    from launchers.validation import PlannedRun, SweepPlan

    hydra_app.register_configs([])
    jobs = [[f"benchmark={BENCHMARKS[0]}", f"seed={seed}", "tag=fails", f"results_root={tmp_path / 'results'}",
             "benchmark.max_wallclock_time=0.3", "master_seed=1"] for seed in (0, 1)]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        configs = [SweepComposer().compose(job) for job in jobs]
    configs[0]["master_seed"] = None  # the first job raises when it starts
    plan = SweepPlan("fails", str(tmp_path / "results"),
                     runs=[PlannedRun(tuple(job), config, None) for job, config in zip(jobs, configs)])
    assert run_planned_sweep(plan, LaunchSettings("basic", tmp_path / "sweep")) == 1
    captured = capsys.readouterr()
    assert f"Error executing job with overrides: {jobs[0]}" in captured.err
    assert "ValueError: master_seed is not set" in captured.err
    assert f"[arena] done: {BENCHMARKS[0]} / RS / seed 1" in captured.out  # the other job still ran
    assert _metadata(tmp_path, "fails", (BENCHMARKS[0], "RS", 1))["status"] == "complete"
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["0", "1", "multirun.yaml"]


def test_cached_method_nodes_equal_the_registrys_defaults(tmp_path, monkeypatch):
    from baselines.registry import list_methods, method_defaults
    from launchers import hydra_app

    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path))
    expected = {name: {"name": name, **method_defaults(name)} for name in list_methods()}
    assert hydra_app._method_nodes() == expected  # computed and written to the cache
    assert len(list((tmp_path / "hydra-conf").glob("methods-*.json"))) == 1
    assert hydra_app._method_nodes() == expected  # read back
