"""Sweeps with hydra-ray-launcher (``hydra/launcher=ray_local`` / ``ray``) on one private local Ray instance bound to
127.0.0.1 with 2 CPUs, started once for the module through the sweep runner's own ``ray.init`` call.

- a Ray sweep runs the validated plan (no per-job Hydra composition) in slices as Ray tasks: every experiment
  complete with its status and Hydra's per-job files, several experiments per worker process and each table
  loaded once per process, and results byte-identical to those of the basic launcher;
- a rerun after an interrupted sweep (an experiment left "running", one never started) redoes exactly those and
  leaves the complete ones untouched;
- a failing job does not stop the others and fails the sweep as Hydra does; a slice whose Ray worker dies fails
  its incomplete jobs only;
- ``HPO_ARENA_HYDRA_JOBS=1`` still runs every job through hydra-ray-launcher, to the same bytes;
- the launcher's options: ``ray.init`` / ``ray.remote`` as given, the object store size of hydra-ray-launcher for
  an instance the sweep starts only, ``ray.shutdown()`` exactly when the sweep initialised Ray, task slots from
  the cluster's resources; an address with no cluster behind it is refused with the fix.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("hydra_plugins.hydra_ray_launcher")

from launchers.hydra_app import JOB_STATS_ENV, run_sweep_cli
from launchers.validation import PlannedRun, SweepPlan

BENCH = "xgboost-sklearn-breast_cancer"
REPO = Path(__file__).resolve().parents[1]
SWEEP = ["-m", "method=RS,ASHA", f"benchmark={BENCH}", "seed=range(0,6)", "benchmark.max_wallclock_time=0.3",
         "tag=ray-study", "master_seed=97"]
EXPERIMENTS = [(method, seed) for method in ("RS", "ASHA") for seed in range(6)]
RAY_LOCAL = ["hydra/launcher=ray_local", "hydra.launcher.ray.init.num_cpus=2"]

pytestmark = pytest.mark.timeout(300)


def _plan(*overrides: str) -> SweepPlan:
    return SweepPlan("t", "r", runs=[PlannedRun(tuple(overrides), {}, None)])


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for the module, started by the sweep runner from ``ray_local``'s settings; its
    workers append a record per job to the returned stats file (``HPO_ARENA_JOB_STATS``, inherited at start)."""
    import ray

    from launchers.hydra_app import register_configs
    from launchers.sweep_runner import RAY_OBJECT_STORE_BYTES, _start_ray, launch_settings

    assert not ray.is_initialized()
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for its session folder.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    stats = Path(ray_tmp) / "job_stats.jsonl"
    register_configs([])
    settings = launch_settings(["-m", *RAY_LOCAL, f"+hydra.launcher.ray.init._temp_dir={ray_tmp}"],
                               _plan(*RAY_LOCAL, f"+hydra.launcher.ray.init._temp_dir={ray_tmp}"))
    assert settings is not None and settings.launcher == "ray"
    assert settings.ray_init == {"address": "local", "include_dashboard": False, "_node_ip_address": "127.0.0.1",
                                 "num_cpus": 2, "_temp_dir": ray_tmp}
    assert settings.ray_remote == {"num_cpus": 1}
    with pytest.MonkeyPatch.context() as env:  # what the worker processes inherit
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv(JOB_STATS_ENV, str(stats))
        env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env.delenv("RAY_ADDRESS", raising=False)
        assert _start_ray(settings.ray_init) is True
    assert ray.cluster_resources()["CPU"] == 2
    assert ray.available_resources()["object_store_memory"] <= RAY_OBJECT_STORE_BYTES
    try:
        yield stats
    finally:
        ray.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)


class _CountHydraCompositions:
    """Counts Hydra's per-job composition (``load_sweep_config``: the basic sweeper's batch validation and
    hydra-ray-launcher's driver both compose each job with it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        self.calls = 0
        original = ConfigLoaderImpl.load_sweep_config

        def counted(loader, *args, **kwargs):
            self.calls += 1
            return original(loader, *args, **kwargs)

        monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counted)


def _sweep(monkeypatch, workdir: Path, *extra: str) -> int:
    monkeypatch.setenv("HPO_ARENA_HYDRA_DIR", str(workdir / "hydra"))
    return run_sweep_cli([*SWEEP, f"results_root={workdir / 'results'}", *extra])


def _folder(workdir: Path, method: str, seed: int) -> Path:
    return workdir / "results" / "ray-study" / BENCH / method / str(seed)


def _metadata(workdir: Path, method: str, seed: int) -> dict:
    return json.loads((_folder(workdir, method, seed) / "metadata.json").read_text())


def _files(workdir: Path, method: str, seed: int) -> dict[str, bytes]:
    folder = _folder(workdir, method, seed)
    return {name: (folder / name).read_bytes() for name in ("results.parquet", "trials.parquet")}


def _job_records(stats: Path, since: int) -> list[dict]:
    """The records the Ray workers appended since line ``since`` (the driver's own jobs write none: the
    variable is only in the workers' environment)."""
    lines = stats.read_text().splitlines() if stats.exists() else []
    return [json.loads(line) for line in lines[since:] if line.strip()]


def test_joining_no_cluster_is_refused_with_the_fix(monkeypatch, tmp_path):
    """First in the module: before its Ray instance exists (Ray's ``auto`` would find that one)."""
    from launchers import sweep_runner

    monkeypatch.setattr("ray.is_initialized", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray_tmp = tmp_path / "no-ray"  # no cluster was ever started with this session folder
    with pytest.raises(SystemExit, match=r"Ray found no cluster to join .*address='auto'.*hydra/launcher=ray_local"):
        sweep_runner._start_ray({"address": "auto", "_temp_dir": str(ray_tmp)})


def test_ray_sweep_runs_the_plan_in_slices_and_resumes_to_the_basic_launchers_bytes(
        ray_instance, tmp_path, monkeypatch, capsys):
    import ray

    stats = ray_instance
    before = len(_job_records(stats, 0))
    hydra = _CountHydraCompositions(monkeypatch)
    ray_dir = tmp_path / "ray"
    assert _sweep(monkeypatch, ray_dir, *RAY_LOCAL) == 0
    out = capsys.readouterr().out
    assert "[arena] 12 job(s), launcher ray, sweep folder" in out
    assert "Ray is already initialised in this process" in out
    assert hydra.calls == 0  # every job ran from the validated plan
    assert ray.is_initialized()  # an instance the sweep did not start is left running
    for method, seed in EXPERIMENTS:
        assert _metadata(ray_dir, method, seed)["status"] == "complete", (method, seed)
    sweep_dir = next((ray_dir / "hydra" / "ray-study").glob("multirun-*"))
    assert (sweep_dir / "multirun.yaml").is_file()
    assert sorted(int(p.parent.parent.name) for p in sweep_dir.glob("*/.hydra/config.yaml")) == list(range(12))

    records = _job_records(stats, before)
    assert len(records) == len(EXPERIMENTS) and all(r["pid"] != os.getpid() for r in records)
    by_pid: dict[int, list[dict]] = {}
    for record in records:
        by_pid.setdefault(record["pid"], []).append(record)
    assert max(len(jobs) for jobs in by_pid.values()) >= 3  # slices: many experiments per worker process
    assert all(jobs[-1]["blackbox_loads"] == 1 for jobs in by_pid.values())  # the table once per process

    basic_dir = tmp_path / "basic"
    assert _sweep(monkeypatch, basic_dir) == 0
    for method, seed in EXPERIMENTS:
        assert _files(ray_dir, method, seed) == _files(basic_dir, method, seed), (method, seed)

    # What a killed sweep leaves: an experiment claimed but not finished ("running"), one never started.
    running, missing = ("ASHA", 2), ("RS", 4)
    meta = _metadata(ray_dir, *running)
    (_folder(ray_dir, *running) / "metadata.json").write_text(json.dumps({**meta, "status": "running"}))
    shutil.rmtree(_folder(ray_dir, *missing))
    finished = {exp: _metadata(ray_dir, *exp)["finished_at"] for exp in EXPERIMENTS if exp not in (running, missing)}
    before = len(_job_records(stats, 0))
    assert _sweep(monkeypatch, ray_dir, *RAY_LOCAL) == 0
    assert hydra.calls == 0
    for exp, stamp in finished.items():
        assert _metadata(ray_dir, *exp)["finished_at"] == stamp, exp  # skipped, untouched
    for exp in (running, missing):
        assert _metadata(ray_dir, *exp)["status"] == "complete", exp
        assert _files(ray_dir, *exp) == _files(basic_dir, *exp), exp
    statuses = sorted(r["status"] for r in _job_records(stats, before))
    assert statuses == ["done"] * 2 + ["skipped"] * (len(EXPERIMENTS) - 2)


def _two_job_plan(tmp_path: Path) -> tuple[list[list[str]], SweepPlan]:
    from hydra import initialize_config_dir

    from launchers import hydra_app
    from launchers.hydra_app import CONF_DIR
    from launchers.sweep_compose import SweepComposer

    hydra_app.register_configs([])
    jobs = [[f"benchmark={BENCH}", f"seed={seed}", "tag=fails", f"results_root={tmp_path / 'results'}",
             "benchmark.max_wallclock_time=0.3", "master_seed=1"] for seed in (0, 1)]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        configs = [SweepComposer().compose(job) for job in jobs]
    return jobs, SweepPlan("fails", str(tmp_path / "results"),
                           runs=[PlannedRun(tuple(job), config, None) for job, config in zip(jobs, configs)])


def test_a_failing_ray_job_does_not_stop_the_others_and_fails_the_sweep(ray_instance, tmp_path, capsys):
    from launchers.sweep_runner import LaunchSettings, run_planned_sweep

    jobs, plan = _two_job_plan(tmp_path)
    plan.runs[0].config["master_seed"] = None  # the first job raises when it starts, in its Ray worker
    assert run_planned_sweep(plan, LaunchSettings("ray", tmp_path / "sweep", ray_remote={"num_cpus": 1})) == 1
    err = capsys.readouterr().err
    assert f"Error executing job with overrides: {jobs[0]}" in err
    assert "ValueError: master_seed is not set" in err
    meta = json.loads((tmp_path / "results" / "fails" / BENCH / "RS" / "1" / "metadata.json").read_text())
    assert meta["status"] == "complete"  # the other job still ran
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["0", "1", "multirun.yaml"]


def test_a_slice_whose_ray_worker_dies_fails_its_jobs_and_not_the_others(ray_instance, tmp_path, monkeypatch,
                                                                          capsys):
    from launchers import sweep_runner
    from launchers.sweep_runner import LaunchSettings, run_planned_sweep

    real_run_slice = sweep_runner.run_slice

    def dies_on_job_1(jobs, sweep_dir, env=None):  # a local function: Ray ships it by value
        import os

        if any(num == 1 for num, _ in jobs):
            os._exit(1)  # the worker process dies (as when the OOM killer or a SIGKILL hits it)
        return real_run_slice(jobs, sweep_dir, env)

    monkeypatch.setattr(sweep_runner, "run_slice", dies_on_job_1)
    jobs, plan = _two_job_plan(tmp_path)
    settings = LaunchSettings("ray", tmp_path / "sweep", ray_remote={"num_cpus": 1, "max_retries": 0})
    assert run_planned_sweep(plan, settings) == 1
    err = capsys.readouterr().err
    assert f"Error executing job with overrides: {jobs[1]}" in err
    assert "the Ray task running its slice failed: " in err
    assert str(jobs[0]) not in err  # the other slice's job completed
    meta = json.loads((tmp_path / "results" / "fails" / BENCH / "RS" / "0" / "metadata.json").read_text())
    assert meta["status"] == "complete"


def test_hydra_jobs_env_still_runs_every_job_through_hydra_ray_launcher(ray_instance, tmp_path, monkeypatch,
                                                                         capsys):
    sweep = ["method=RS", "seed=0,1"]
    fast_dir, hydra_dir = tmp_path / "fast", tmp_path / "hydra-path"
    assert _sweep(monkeypatch, fast_dir, *RAY_LOCAL, *sweep) == 0
    assert "[arena] 2 job(s), launcher ray" in capsys.readouterr().out
    hydra = _CountHydraCompositions(monkeypatch)
    monkeypatch.setenv("HPO_ARENA_HYDRA_JOBS", "1")
    assert _sweep(monkeypatch, hydra_dir, *RAY_LOCAL, *sweep) == 0
    out = capsys.readouterr().out
    assert "launcher ray" not in out and "Ray Launcher is launching 2 jobs" in out
    assert hydra.calls >= 2  # Hydra composed the jobs (the sweeper's validation, the Ray launcher's driver)
    for seed in (0, 1):
        assert _metadata(hydra_dir, "RS", seed)["status"] == "complete"
        assert _files(hydra_dir, "RS", seed) == _files(fast_dir, "RS", seed), seed


# ------------------------------------------------------------------------------------------------------------
# the launcher's options (no Ray instance needed)
# ------------------------------------------------------------------------------------------------------------


def test_launch_settings_read_the_ray_launchers_init_and_remote_options(monkeypatch):
    from launchers.hydra_app import register_configs
    from launchers.sweep_runner import launch_settings

    register_configs([])
    overrides = ("hydra/launcher=ray", "hydra.launcher.ray.init.address=auto",
                 "+hydra.launcher.ray.remote.num_cpus=2", "+hydra.launcher.ray.remote.memory=1000000000",
                 "+hydra.job.env_set.MY_FLAG=on")
    settings = launch_settings(["-m", *overrides], _plan(*overrides))
    assert settings is not None and settings.launcher == "ray"
    assert settings.ray_init == {"address": "auto"}
    assert settings.ray_remote == {"num_cpus": 2, "memory": 1000000000}
    assert settings.env_set == {"MY_FLAG": "on"}
    monkeypatch.setenv("HPO_ARENA_HYDRA_JOBS", "1")
    assert launch_settings(["-m", *overrides], _plan(*overrides)) is None


def test_ray_task_slots_divide_the_clusters_resources_by_a_tasks():
    from launchers.sweep_runner import ray_task_slots

    cluster = {"CPU": 8.0, "GPU": 2.0, "memory": 1e10, "big": 3.0}
    assert ray_task_slots(cluster, {}) == 8  # Ray's default: one CPU per task
    assert ray_task_slots(cluster, {"num_cpus": None}) == 8
    assert ray_task_slots(cluster, {"num_cpus": 3}) == 2
    assert ray_task_slots(cluster, {"num_cpus": 0.5}) == 16
    assert ray_task_slots(cluster, {"num_cpus": 1, "num_gpus": 1}) == 2
    assert ray_task_slots(cluster, {"num_cpus": 0, "resources": {"big": 1}}) == 3
    assert ray_task_slots(cluster, {"num_cpus": 0}) == 8  # asks for nothing: as many as CPUs
    assert ray_task_slots(cluster, {"resources": {"absent": 1}}) == 1  # at least one (Ray queues the rest)


def test_ray_is_started_and_shut_down_as_the_launcher_did(monkeypatch, tmp_path):
    """hydra-ray-launcher's ``ray.init`` call: its 75 MiB object store for an instance it starts (not passed when
    joining a cluster, which Ray refuses); ``ray.shutdown()`` after the sweep when the sweep initialised Ray."""
    import ray

    from launchers import sweep_runner
    from launchers.sweep_runner import RAY_OBJECT_STORE_BYTES, LaunchSettings, run_planned_sweep

    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(("init", kwargs)))
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append(("shutdown", {})))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(sweep_runner, "slices_of", lambda jobs, n_workers: [])  # nothing to run

    def sweep(init: dict) -> list[tuple[str, dict]]:
        calls.clear()
        assert run_planned_sweep(_plan("seed=0"), LaunchSettings("ray", tmp_path / "sweep", ray_init=init)) == 0
        return list(calls)

    assert sweep({"address": "local", "num_cpus": 2}) == [
        ("init", {"address": "local", "num_cpus": 2, "object_store_memory": RAY_OBJECT_STORE_BYTES}),
        ("shutdown", {})]
    assert sweep({"address": "local", "object_store_memory": 10**9}) == [
        ("init", {"address": "local", "object_store_memory": 10**9}), ("shutdown", {})]
    # Joining a running cluster: ray.shutdown() disconnects this driver and leaves the cluster running.
    assert sweep({"address": "ray://head:10001"}) == [("init", {"address": "ray://head:10001"}), ("shutdown", {})]
    assert sweep({"address": "10.0.0.7:6379"}) == [("init", {"address": "10.0.0.7:6379"}), ("shutdown", {})]
