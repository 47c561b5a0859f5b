"""The SageMaker launcher against moto in server mode on 127.0.0.1 (S3 and the SageMaker training-job API).

A real multirun goes through the Hydra app (`arena sweep -m ... hydra/launcher=sagemaker`): the plugin is found
through our programmatic registration, the code tarball lands in the bucket, one training job is created per
slice (RS: every seed in one job; BO, expensive: one job per seed) with the right entry point, hyperparameters,
S3 paths and instance type, refusals for the account's job limit are retried with back-off, and experiments
already complete in S3 get no job. The entry point runs a slice locally from a fake /opt/ml.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from hydra.core.utils import JobStatus

s3fs = pytest.importorskip("s3fs")
pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("sagemaker.core.resources")

from _moto import FAKE_AWS_CREDENTIALS, moto_url
from botocore.awsrequest import AWSResponse

from launchers import sagemaker_entry
from launchers.hydra_app import run_sweep_cli
from launchers.sagemaker_launcher import (
    Backoff,
    SageMakerLauncher,
    Slice,
    SweepJob,
    build_source_tarball,
    format_seeds,
    parse_seeds,
    plan_slices,
    slice_hyperparameters,
)
from launchers.study import is_complete

BUCKET = "arena-bucket"
ROLE = "arn:aws:iam::123456789012:role/arena-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hpo-arena:latest"
BENCH = "xgboost-sklearn-breast_cancer"


@pytest.fixture
def moto(monkeypatch):
    """moto on a free port of 127.0.0.1; S3 clients reach it through AWS_ENDPOINT_URL_S3, SageMaker clients only
    through the launcher's endpoint_url setting."""
    with moto_url() as url:
        for key, value in {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL_S3": url}.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_SAGEMAKER", "HPO_ARENA_RESULTS", "SAGEMAKER_ROLE_ARN",
                    "HPO_ARENA_SAGEMAKER_IMAGE"):
            monkeypatch.delenv(key, raising=False)
        s3fs.S3FileSystem.clear_instance_cache()
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
        yield url
        s3fs.S3FileSystem.clear_instance_cache()


class Spy:
    """Records the launcher Hydra builds and what launch() returned; replaces its sleep (no real waiting)."""

    def __init__(self, monkeypatch, faults: list[str] | None = None, fail_jobs_with_seed: str | None = None):
        self.launchers: list[SageMakerLauncher] = []
        self.returns: list = []
        self.sleeps: list[float] = []
        self.faults = list(faults or [])
        self.refused = 0
        self.fail_seed = fail_jobs_with_seed
        spy = self
        setup, launch = SageMakerLauncher.setup, SageMakerLauncher.launch

        def recording_setup(launcher, **kwargs):
            spy.launchers.append(launcher)
            launcher.sleep = spy.sleeps.append
            session = launcher.boto_session
            session.events.register("before-call.sagemaker.CreateTrainingJob", spy.refuse)
            session.events.register("after-call.sagemaker.DescribeTrainingJob", spy.fail)
            return setup(launcher, **kwargs)

        def recording_launch(launcher, job_overrides, initial_job_idx):
            out = launch(launcher, job_overrides, initial_job_idx)
            spy.returns.extend(out)
            return out

        monkeypatch.setattr(SageMakerLauncher, "setup", recording_setup)
        monkeypatch.setattr(SageMakerLauncher, "launch", recording_launch)

    def refuse(self, **kwargs):
        """The account's job limit: the API refuses the first calls (moto never does it by itself)."""
        if self.faults:
            code = self.faults.pop(0)
            self.refused += 1
            return (AWSResponse("http://moto", 400, {}, None),
                    {"Error": {"Code": code, "Message": f"injected {code}"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}})
        return None

    def fail(self, parsed, **kwargs):
        if self.fail_seed is not None and parsed.get("HyperParameters", {}).get("arena_seeds") == self.fail_seed \
                and "method=BO" in parsed.get("HyperParameters", {}).values():
            parsed["TrainingJobStatus"] = "Failed"
            parsed["FailureReason"] = "AlgorithmError: injected failure"


def _sweep_args(url: str, tmp_path, *extra: str) -> list[str]:
    return ["-m", "method=RS,BO", f"benchmark={BENCH}", "seed=0,1,2", "tag=sm-study",
            f"results_root=s3://{BUCKET}/results", "hydra/launcher=sagemaker",
            f"hydra.launcher.role_arn={ROLE}", f"hydra.launcher.image_uri={IMAGE}",
            "hydra.launcher.instance_type=ml.c5.xlarge", f"hydra.launcher.endpoint_url={url}",
            "hydra.launcher.prefix=arena", "hydra.launcher.max_parallel_jobs=2",
            "hydra.launcher.retry.base_delay_seconds=2", "hydra.launcher.poll_interval_seconds=7",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", *extra]


def _jobs(url: str) -> dict[str, dict]:
    client = boto3.client("sagemaker", endpoint_url=url)
    names = [j["TrainingJobName"] for j in client.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]
    return {name: client.describe_training_job(TrainingJobName=name) for name in names}


def _master_seed() -> int:
    fs = s3fs.S3FileSystem()
    return json.loads(fs.cat_file(f"{BUCKET}/results/sm-study/study.json"))["master_seed"]


def test_sweep_starts_one_job_per_slice_with_retries(moto, tmp_path, monkeypatch):
    # BO seed 2 is already complete in S3: it must not get a training job.
    done = f"s3://{BUCKET}/results/sm-study/{BENCH}/BO/2"
    s3fs.S3FileSystem().pipe(f"{done[5:]}/metadata.json", json.dumps({"status": "complete"}).encode())
    spy = Spy(monkeypatch, faults=["ResourceLimitExceeded", "ResourceLimitExceeded", "ThrottlingException"])
    assert run_sweep_cli(_sweep_args(moto, tmp_path)) == 0
    master = _master_seed()

    # The code tarball: content-addressed, holding the packages, the embedded benchmark and pyproject.toml.
    s3 = boto3.client("s3", endpoint_url=moto)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="arena/code/")["Contents"]]
    assert len(keys) == 1
    data = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()
    assert keys[0] == f"arena/code/{hashlib.sha256(data).hexdigest()}.tar.gz"
    assert data == build_source_tarball()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
    assert {"hpo-arena/pyproject.toml", "hpo-arena/launchers/sagemaker_entry.py",
            "hpo-arena/baselines/registry.py"} <= names
    assert any(n.startswith("hpo-arena/blackbox_repo/embedded/") and n.endswith(".npy") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    code_uri = f"s3://{BUCKET}/{keys[0]}"

    jobs = _jobs(moto)
    assert len(jobs) == 3  # RS seeds 0-2 in one job; BO seeds 0 and 1 alone; BO seed 2 complete
    # Hydra's sweeper escapes ':' in override values; compose() inside the job reads them back.
    common = [f"benchmark={BENCH}", "tag=sm-study", rf"results_root=s3\://{BUCKET}/results", f"master_seed={master}"]
    by_slice = {}
    for name, job in jobs.items():
        hp = job["HyperParameters"]
        overrides = [hp[k] for k in sorted(hp) if k.startswith("arena_override_")]
        by_slice[(overrides[0], hp["arena_seeds"])] = job
        assert overrides[1:] == common
        assert hp["arena_code"] == code_uri and hp["arena_results_root"] == f"s3://{BUCKET}/results"
        spec = job["AlgorithmSpecification"]
        assert spec["TrainingImage"] == IMAGE and spec["ContainerEntrypoint"] == ["/bin/sh", "-c"]
        assert spec["ContainerArguments"] == [(
            "set -e; python -m pip install --quiet --disable-pip-version-check --no-deps "
            f"/opt/ml/input/data/code/{keys[0].rsplit('/', 1)[1]}; exec python -m launchers.sagemaker_entry")]
        assert job["InputDataConfig"][0]["ChannelName"] == "code"
        assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == code_uri
        assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/arena/output"
        assert job["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
        assert job["RoleArn"] == ROLE
        assert name.startswith("arena-sm-study-") and len(name) <= 63
    assert sorted(by_slice) == [("method=BO", "0"), ("method=BO", "1"), ("method=RS", "0-2")]
    client = boto3.client("sagemaker", endpoint_url=moto)
    tags = client.list_tags(ResourceArn=by_slice[("method=RS", "0-2")]["TrainingJobArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"hpo-arena:tag": "sm-study", "hpo-arena:method": "RS",
                                                    "hpo-arena:benchmark": BENCH, "hpo-arena:seeds": "0-2"}

    # Back-off: three refusals, each followed by a jittered wait in [d/2, d], d = 2 s * 2**attempt.
    launcher = spy.launchers[-1]
    assert spy.refused == 3
    assert len(launcher.backoff.delays) == 3
    for attempt, delay in enumerate(launcher.backoff.delays):
        assert 2.0 * 2 ** attempt / 2 <= delay <= 2.0 * 2 ** attempt
    assert launcher.backoff.delays == [d for d in spy.sleeps if d != 7]
    # Hydra gets one JobReturn per experiment, all completed (moto completes jobs at once).
    assert len(spy.returns) == 6 and all(r.status == JobStatus.COMPLETED for r in spy.returns)
    assert [(r.cfg.method.name, r.cfg.seed, r.hydra_cfg.job.num) for r in spy.returns] == [
        ("RS", 0, 0), ("RS", 1, 1), ("RS", 2, 2), ("BO", 0, 3), ("BO", 1, 4), ("BO", 2, 5)]
    assert min(r.return_value for r in spy.returns) == f"s3://{BUCKET}/results/sm-study/{BENCH}/BO/0"
    summary = json.loads((tmp_path / "sweep" / "sagemaker_jobs.json").read_text())
    assert sorted((s["method"], tuple(s["seeds"]), s["status"]) for s in summary) == [
        ("BO", (0,), "Completed"), ("BO", (1,), "Completed"), ("RS", (0, 1, 2), "Completed")]


def test_failed_job_fails_its_experiments_and_fire_and_forget_does_not_wait(moto, tmp_path, monkeypatch):
    spy = Spy(monkeypatch, fail_jobs_with_seed="1")
    with pytest.raises(SystemExit):  # Hydra reports the failed experiment and exits non-zero
        run_sweep_cli(_sweep_args(moto, tmp_path))
    failed = [r for r in spy.returns if r.status == JobStatus.FAILED]
    assert [r.overrides for r in failed] == [
        ["method=BO", f"benchmark={BENCH}", "seed=1", "tag=sm-study", rf"results_root=s3\://{BUCKET}/results",
         f"master_seed={_master_seed()}"]]
    with pytest.raises(RuntimeError, match=r"ended Failed: AlgorithmError: injected failure"):
        _ = failed[0].return_value
    assert sum(r.status == JobStatus.COMPLETED for r in spy.returns) == 5

    spy = Spy(monkeypatch)
    assert run_sweep_cli(_sweep_args(moto, tmp_path, "hydra.launcher.wait=false",
                                     "hydra.launcher.max_parallel_jobs=10")) == 0
    launcher = spy.launchers[-1]
    assert len(launcher.submitted) == 4 and {j.status for j in launcher.submitted} == {"InProgress"}
    assert spy.sleeps == []  # never polled
    assert all(r.status == JobStatus.COMPLETED for r in spy.returns)


def test_missing_role_or_image_fails_before_any_upload(moto, tmp_path, capsys):
    args = [a for a in _sweep_args(moto, tmp_path) if "role_arn" not in a]
    with pytest.raises(SystemExit):
        run_sweep_cli(args)
    assert "the sagemaker launcher needs hydra.launcher.role_arn=..." in capsys.readouterr().err
    s3 = boto3.client("s3", endpoint_url=moto)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="arena/code/")


def _job(idx: int, method: str, seed: int) -> SweepJob:
    return SweepJob(idx, (f"method={method}", f"benchmark={BENCH}", f"seed={seed}", "tag=t"), method, BENCH, seed,
                    f"root/t/{BENCH}/{method}/{seed}")


def test_slices_seeds_and_hyperparameters():
    jobs = [_job(i, m, s) for i, (m, s) in enumerate(
        [("RS", 0), ("ASHA-BO", 0), ("RS", 1), ("ASHA-BO", 1), ("HB", 3), ("MY-GP-METHOD", 0), ("RS", 5)])]
    slices = plan_slices(jobs, ["BO", "BORE", "ASHA-BO", "*GP*"])
    assert [(s.method, s.seeds) for s in slices] == [
        ("RS", [0, 1, 5]), ("ASHA-BO", [0]), ("ASHA-BO", [1]), ("HB", [3]), ("MY-GP-METHOD", [0])]
    assert slices[0].overrides == ("method=RS", f"benchmark={BENCH}", "tag=t")
    assert format_seeds([7, 0, 1, 2, 5, 8, 2]) == "0-2,5,7-8"
    assert parse_seeds("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    assert parse_seeds(format_seeds(range(100))) == list(range(100))
    hp = slice_hyperparameters(slices[0], "s3://b/code/x.tar.gz", "s3://b/results")
    assert hp == {"arena_seeds": "0-1,5", "arena_code": "s3://b/code/x.tar.gz",
                  "arena_results_root": "s3://b/results", "arena_override_00": "method=RS",
                  "arena_override_01": f"benchmark={BENCH}", "arena_override_02": "tag=t"}
    long = Slice(overrides=("method.points_to_evaluate=" + "x" * 300,), jobs=[jobs[0]])
    with pytest.raises(ValueError, match="SageMaker allows 256"):
        slice_hyperparameters(long, "s3://b/c", "s3://b/r")


def test_backoff_is_seeded_and_gives_up_with_a_clear_error():
    from botocore.exceptions import ClientError

    def refused():
        raise ClientError({"Error": {"Code": "ResourceLimitExceeded", "Message": "limit"}}, "CreateTrainingJob")

    waits: list[float] = []
    backoff = Backoff(base=1.0, cap=4.0, max_attempts=5, seed=3, sleep=waits.append)
    with pytest.raises(RuntimeError, match="after 5 attempts; lower hydra.launcher.max_parallel_jobs"):
        backoff.call(refused, "starting job x")
    assert waits == backoff.delays and len(waits) == 4
    for delay, cap in zip(waits, [1.0, 2.0, 4.0, 4.0]):
        assert cap / 2 <= delay <= cap
    again = Backoff(base=1.0, cap=4.0, max_attempts=5, seed=3, sleep=lambda d: None)
    with pytest.raises(RuntimeError):
        again.call(refused, "starting job x")
    assert again.delays == waits

    def invalid():
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "CreateTrainingJob")

    with pytest.raises(ClientError, match="ValidationException"):
        Backoff(base=1.0, cap=4.0, max_attempts=5, sleep=waits.append).call(invalid, "x")


def test_entry_point_runs_its_slice_from_a_fake_opt_ml(tmp_path, monkeypatch):
    """`python -m launchers.sagemaker_entry` on SageMaker's hyperparameters file, results to a local root; the
    experiments equal those of the basic launcher with the same master seed."""
    root = tmp_path / "results"
    sl = Slice(overrides=("method=RS", f"benchmark={BENCH}", "tag=entry", "master_seed=1234"),
               jobs=[_job(0, "RS", 0), _job(1, "RS", 1)])
    hp = slice_hyperparameters(sl, "s3://b/code/x.tar.gz", str(root))
    config = tmp_path / "opt_ml" / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hp))
    monkeypatch.setenv("HPO_ARENA_SM_ROOT", str(tmp_path / "opt_ml"))
    assert sagemaker_entry.main([]) == 0
    for seed in (0, 1):
        path = f"{root}/entry/{BENCH}/RS/{seed}"
        assert is_complete(path)
        meta = json.loads(Path(path, "metadata.json").read_text())
        assert (meta["method"], meta["seed"], meta["master_seed"], meta["tag"]) == ("RS", seed, 1234, "entry")
    assert not (tmp_path / "opt_ml" / "output" / "failure").exists()

    basic_root = tmp_path / "basic"
    monkeypatch.setenv("HPO_ARENA_HYDRA_DIR", str(tmp_path / "hydra"))
    assert run_sweep_cli(["-m", "method=RS", f"benchmark={BENCH}", "seed=1", "tag=entry",
                          f"results_root={basic_root}", "master_seed=1234"]) == 0
    ours = pd.read_parquet(f"{root}/entry/{BENCH}/RS/1/results.parquet").drop(columns=["real_time"], errors="ignore")
    basic = pd.read_parquet(f"{basic_root}/entry/{BENCH}/RS/1/results.parquet").drop(columns=["real_time"], errors="ignore")
    pd.testing.assert_frame_equal(ours, basic)

    # A failing experiment is reported in /opt/ml/output/failure and by the exit status.
    bad = slice_hyperparameters(Slice(overrides=("method=RS", f"benchmark={BENCH}", "tag=entry",
                                                 "master_seed=1234", "+method.no_such_option=1"),
                                      jobs=[_job(0, "RS", 7)]), "s3://b/c", str(tmp_path / "bad"))
    (config / "hyperparameters.json").write_text(json.dumps(bad))
    assert sagemaker_entry.main([]) == 1
    failure = (tmp_path / "opt_ml" / "output" / "failure").read_text()
    assert failure.startswith("seed 7: ") and "no_such_option" in failure
