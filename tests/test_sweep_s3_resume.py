"""A sweep writing to an S3 results root (moto server on 127.0.0.1), killed with SIGKILL mid-way and rerun,
ends with exactly the files of an uninterrupted run (issue 12): complete experiments are skipped, the
half-written one is redone, nothing is duplicated or left behind (no temporary object either).

The jobs reach moto through ``AWS_ENDPOINT_URL_S3`` (read by botocore, hence by s3fs in the sweep's process).
The uninterrupted reference is computed in this process with ``run_experiment`` (what each sweep job runs,
with the method node's default arguments, as Hydra passes them) into a local folder: results files do not
depend on the root, and the two sweeps in subprocesses are the part under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _moto import FAKE_AWS_CREDENTIALS, moto_url

from baselines.registry import method_defaults
from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec, run_experiment

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")

REPO = Path(__file__).resolve().parents[1]
BUCKET = "arena-results"
METHODS = ("RS", "ASHA")
BENCHMARKS = ("xgboost-sklearn-wine",)
SEEDS = (0, 1)
BUDGET = 0.3
SWEEP = (f"method={','.join(METHODS)}", f"benchmark={','.join(BENCHMARKS)}",
         f"seed={','.join(map(str, SEEDS))}", f"benchmark.max_wallclock_time={BUDGET}")
EXPERIMENTS = [(b, m, s) for b in BENCHMARKS for m in METHODS for s in SEEDS]
FOLDER_FILES = {"metadata.json", "results.parquet", "trials.parquet", "real_times.parquet"}
MASTER_SEED = 20261207

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def s3(tmp_path):
    with moto_url() as url:
        env = {key: value for key, value in os.environ.items()
               if key not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "HPO_ARENA_RESULTS",
                              "HPO_ARENA_JOB_STATS", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE")}
        env.update(FAKE_AWS_CREDENTIALS, AWS_ENDPOINT_URL_S3=url, HPO_ARENA_HYDRA_DIR=str(tmp_path / "hydra"),
                   PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        client = boto3.client("s3", endpoint_url=url, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client, env


def _command(tag: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "launchers.cli", "sweep", "-m", *SWEEP, f"results_root=s3://{BUCKET}/root",
            f"tag={tag}", *extra]


def _key(tag: str, benchmark: str, method: str, seed: int, name: str = "") -> str:
    return f"root/{tag}/{benchmark}/{method}/{seed}/{name}"


def _status(client, tag: str, experiment: tuple[str, str, int]) -> str | None:
    try:
        body = client.get_object(Bucket=BUCKET, Key=_key(tag, *experiment, "metadata.json"))["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return json.loads(body).get("status")


def _files(client, tag: str, experiment: tuple[str, str, int]) -> dict[str, bytes]:
    prefix = _key(tag, *experiment)
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"][len(prefix):]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for item in listing}


def _reference(root: Path, experiment: tuple[str, str, int]) -> dict[str, bytes]:
    from dataclasses import replace

    benchmark, method, seed = experiment
    spec = ExperimentSpec(benchmark=replace(get_benchmark(benchmark), max_wallclock_time=BUDGET), method=method,
                          seed=seed, master_seed=MASTER_SEED, tag="reference", results_root=str(root),
                          method_kwargs=method_defaults(method))
    folder = Path(run_experiment(spec))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.slow  # two sweeps in subprocesses against a moto server: about 10 s on an idle 2-core machine
def test_sweep_on_s3_killed_midway_and_rerun_equals_an_uninterrupted_sweep(s3, tmp_path):
    client, env = s3

    log = tmp_path / "killed.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command("killed", f"master_seed={MASTER_SEED}"), cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Kill once one experiment is complete and another has claimed its folder (status "running").
        deadline = time.monotonic() + 180
        while True:
            states = [_status(client, "killed", exp) for exp in EXPERIMENTS]
            if "complete" in states and "running" in states:
                break
            assert proc.poll() is None, f"the sweep ended before it could be killed:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no experiment completed in time:\n{log.read_text()}"
            time.sleep(0.05)  # the moto server shares this process: leave it the CPU
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    states = {exp: _status(client, "killed", exp) for exp in EXPERIMENTS}
    complete = [exp for exp, status in states.items() if status == "complete"]
    assert 1 <= len(complete) < len(EXPERIMENTS)
    before = {exp: _files(client, "killed", exp)["metadata.json"] for exp in complete}

    rerun = subprocess.run(_command("killed"), cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300, check=False)  # no master_seed: the one recorded in study.json
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"master seed {MASTER_SEED}" in rerun.stdout
    for benchmark, method, seed in EXPERIMENTS:
        label = f"{benchmark} / {method} / seed {seed}"
        skipped = f"[arena] skip (complete): {label}" in rerun.stdout
        assert skipped == ((benchmark, method, seed) in complete), label
    for exp in EXPERIMENTS:
        killed, uninterrupted = _files(client, "killed", exp), _reference(tmp_path / "reference", exp)
        assert set(killed) == FOLDER_FILES == set(uninterrupted), (exp, sorted(killed))
        for name in ("results.parquet", "trials.parquet"):
            assert killed[name] == uninterrupted[name], (exp, name)
        assert json.loads(killed["metadata.json"])["status"] == "complete"
    for exp in complete:  # untouched by the rerun
        assert _files(client, "killed", exp)["metadata.json"] == before[exp]
    # The study's folder holds the study file and the experiments, nothing else.
    top = client.list_objects_v2(Bucket=BUCKET, Prefix="root/killed/", Delimiter="/")
    assert [p["Key"] for p in top.get("Contents", [])] == ["root/killed/study.json"]
    # ... and `arena results check` finds the study whole on S3, every job recorded in study.json present.
    check = subprocess.run([sys.executable, "-m", "launchers.cli", "results", "check", f"s3://{BUCKET}/root",
                            "--tag", "killed", "--num-runs", str(len(SEEDS))], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 recorded job(s) without a folder" in check.stdout and "every setup has its runs" in check.stdout
