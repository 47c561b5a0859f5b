"""Hydra launcher plugin running a sweep as SageMaker training jobs (``hydra/launcher=sagemaker``).

What one ``launch`` does:

1. composes every job's config first (a typo in a method or benchmark fails before anything is uploaded);
2. packages the project's installed package folders plus ``pyproject.toml`` into a reproducible source
   tarball (standard library only: fixed mtimes, owners and order, so the same sources give the same bytes)
   and uploads it once to ``s3://<bucket>/<prefix>/code/<sha256>.tar.gz`` (an existing object is reused);
3. groups the jobs into slices -- cheap methods: every seed of one (method, benchmark, other overrides) in
   one training job; expensive methods (``expensive_methods``, shell patterns): one training job per seed --
   and drops experiments already complete under the results root;
4. starts one training job per slice through sagemaker-core (``sagemaker.core.resources.TrainingJob``),
   at most ``max_parallel_jobs`` at a time, backing off with jitter when the account's job limit or the API
   rate is hit (``ResourceLimitExceeded`` / ``ThrottlingException``);
5. waits for the jobs (``wait: true``) and reports each experiment as a Hydra ``JobReturn`` -- failed when
   its training job failed -- or returns as soon as every slice is submitted (``wait: false``).

Inside the container, the job's entry point installs the tarball (it arrives in the ``code`` input
channel) and runs ``python -m launchers.sagemaker_entry``, which reads the slice from the job's
hyperparameters and writes each experiment's results under the S3 results root.

Why sagemaker-core rather than raw boto3: its ``TrainingJob.create`` takes a boto3 ``Session``, and a
custom endpoint (moto in the tests, a VPC endpoint in production) is reached by handing it a Session whose
``client()`` fills in ``endpoint_url`` (``_EndpointSession``), so nothing needs the lower-level API.
"""
from __future__ import annotations

import copy
import fnmatch
import functools
import gzip
import hashlib
import importlib.util
import io
import json
import logging
import re
import tarfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

# Hydra only instantiates launcher classes whose ``_target_`` lies under ``hydra_plugins.``; the class is
# registered under this alias as well as under its real name (see launchers/hydra_launchers.py).
SAGEMAKER_LAUNCHER_TARGET = "hydra_plugins.hpo_arena.SageMakerLauncher"
PROJECT_PACKAGES = ("blackbox_repo", "baselines", "benchmark_definitions", "launchers", "results", "plotting")
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")
ARCHIVE_ROOT = "hpo-arena"
CODE_CHANNEL = "code"
# Where SageMaker puts the files of an input channel inside the container.
CHANNEL_DIR = "/opt/ml/input/data"
RETRYABLE_ERRORS = frozenset({"ResourceLimitExceeded", "ThrottlingException", "Throttling",
                              "TooManyRequestsException", "LimitExceededException"})
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
# Hyperparameter keys of a slice (read back by launchers/sagemaker_entry.py).
HP_OVERRIDE_PREFIX = "arena_override_"
HP_SEEDS = "arena_seeds"
HP_CODE = "arena_code"
HP_RESULTS_ROOT = "arena_results_root"
MAX_HYPERPARAMETER_LENGTH = 256
MAX_HYPERPARAMETERS = 100


@dataclass
class RetryConf:
    max_attempts: int = 12            # attempts to start one job before giving up
    base_delay_seconds: float = 5.0   # first back-off; doubles per attempt
    max_delay_seconds: float = 300.0  # cap of one back-off
    seed: int = 0                     # seed of the jitter generator


@dataclass
class SageMakerLauncherConf:
    _target_: str = SAGEMAKER_LAUNCHER_TARGET
    role_arn: str | None = "${oc.env:SAGEMAKER_ROLE_ARN,null}"
    image_uri: str | None = "${oc.env:HPO_ARENA_SAGEMAKER_IMAGE,null}"
    bucket: str | None = None      # code + job outputs; null: the bucket of results_root
    prefix: str = "hpo-arena"
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = 30
    max_runtime_seconds: int = 86400
    max_parallel_jobs: int = 10
    expensive_methods: list[str] = field(default_factory=lambda: ["BO", "BORE", "ASHA-BO", "*GP*"])
    wait: bool = True                 # false: return once every slice is submitted (fire and forget)
    poll_interval_seconds: float = 30.0
    region: str | None = None      # null: the boto3 default (AWS_DEFAULT_REGION, ~/.aws/config)
    endpoint_url: str | None = None     # SageMaker API endpoint (null: AWS's)
    s3_endpoint_url: str | None = None  # S3 endpoint for the code upload (null: AWS's)
    job_name_prefix: str = "arena"
    pip_install_options: str = "--no-deps"  # the image provides the dependencies; "" installs them too
    entry_point: str = "python -m launchers.sagemaker_entry"
    environment: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    skip_complete: bool = True        # do not start jobs for experiments already complete in results_root
    retry: RetryConf = field(default_factory=RetryConf)


# ------------------------------------------------------------------------------------------------------
# Packaging the project
# ------------------------------------------------------------------------------------------------------


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"cannot package the project: package {name!r} is not importable")
    return Path(next(iter(spec.submodule_search_locations)))


def project_files() -> list[tuple[str, Path]]:
    """(name inside the archive, file) of every file shipped to the jobs, in a fixed order."""
    dirs = [_package_dir(name) for name in PROJECT_PACKAGES]
    root = dirs[0].parent
    if not (root / "pyproject.toml").is_file():
        raise RuntimeError(
            f"cannot package the project: no pyproject.toml next to the packages in {root}; "
            "install hpo-arena from a source checkout (pip install -e .) to launch SageMaker jobs"
        )
    out: list[tuple[str, Path]] = []
    for folder in dirs:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file() or any(p == "__pycache__" or p.startswith(".") or p.endswith(".egg-info")
                                         for p in rel.parts) or path.suffix in (".pyc", ".pyo"):
                continue
            out.append((f"{ARCHIVE_ROOT}/{folder.name}/{rel.as_posix()}", path))
    for name in PROJECT_FILES:
        if (root / name).is_file():
            out.append((f"{ARCHIVE_ROOT}/{name}", root / name))
    return out


def build_source_tarball(files: Iterable[tuple[str, Path]] | None = None) -> bytes:
    """A gzipped tar of the project; identical sources give identical bytes (so the S3 key is stable)."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, path in (project_files() if files is None else files):
            data = path.read_bytes()
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


# ------------------------------------------------------------------------------------------------------
# Slicing a sweep
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepJob:
    """One Hydra job of the sweep = one experiment."""
    idx: int
    overrides: tuple[str, ...]
    method: str
    benchmark: str
    seed: int
    path: str                 # the experiment's results folder


@dataclass
class Slice:
    """The experiments one training job runs: same overrides except the seed."""
    overrides: tuple[str, ...]   # without the seed override
    jobs: list[SweepJob]

    @property
    def method(self) -> str:
        return self.jobs[0].method

    @property
    def benchmark(self) -> str:
        return self.jobs[0].benchmark

    @property
    def seeds(self) -> list[int]:
        return [job.seed for job in self.jobs]


def _is_seed_override(override: str) -> bool:
    return override.lstrip("+~").startswith("seed=")


def is_expensive(method: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(method, pattern) for pattern in patterns)


def plan_slices(jobs: Sequence[SweepJob], expensive_methods: Sequence[str]) -> list[Slice]:
    """Group jobs into training jobs: one per seed for expensive methods, else one per seed-less override set.

    Slices keep the order in which their first job appears in the sweep.
    """
    slices: dict[tuple, Slice] = {}
    for job in jobs:
        rest = tuple(o for o in job.overrides if not _is_seed_override(o))
        key: tuple = (rest, job.seed) if is_expensive(job.method, expensive_methods) else (rest,)
        if key not in slices:
            slices[key] = Slice(overrides=rest, jobs=[])
        slices[key].jobs.append(job)
    return list(slices.values())


def format_seeds(seeds: Iterable[int]) -> str:
    """Seeds as compact ranges: [0, 1, 2, 5, 7, 8] -> "0-2,5,7-8" (keeps hyperparameters short)."""
    values = sorted({int(s) for s in seeds})
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)


def parse_seeds(text: str) -> list[int]:
    """Inverse of ``format_seeds``."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, sep, high = part.partition("-") if not part.startswith("-") else (part, "", "")
        if sep:
            seeds.extend(range(int(low), int(high) + 1))
        else:
            seeds.append(int(part))
    return seeds


def slice_hyperparameters(sl: Slice, code_uri: str, results_root: str) -> dict[str, str]:
    """The training job's hyperparameters (str -> str, each at most 256 characters, at most 100 keys)."""
    hp = {HP_SEEDS: format_seeds(sl.seeds), HP_CODE: code_uri, HP_RESULTS_ROOT: results_root}
    for i, override in enumerate(sl.overrides):
        hp[f"{HP_OVERRIDE_PREFIX}{i:02d}"] = override
    if len(hp) > MAX_HYPERPARAMETERS:
        raise ValueError(f"a slice has {len(sl.overrides)} overrides; SageMaker allows at most "
                         f"{MAX_HYPERPARAMETERS - 3}: move some of them into a config file")
    for key, value in hp.items():
        if len(value) > MAX_HYPERPARAMETER_LENGTH:
            raise ValueError(f"hyperparameter {key}={value[:60]}... is {len(value)} characters long; SageMaker "
                             f"allows {MAX_HYPERPARAMETER_LENGTH}: shorten the override or split the seeds")
    return hp


def _slug(text: str, length: int) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:length].strip("-") or "x"


def job_name(prefix: str, tag: str, index: int, sl: Slice, stamp: str) -> str:
    """A unique, valid training-job name (at most 63 characters of [a-zA-Z0-9-])."""
    digest = hashlib.sha256("\0".join([*sl.overrides, format_seeds(sl.seeds)]).encode()).hexdigest()[:6]
    return f"{_slug(prefix, 10)}-{_slug(tag, 16)}-{index:04d}-{digest}-{stamp}"[:63].rstrip("-")


def _tag_value(value: Any) -> str:
    """An AWS tag value: at most 256 of letters, digits, spaces and _.:/=+-@ (so seeds "0-2,5" -> "0-2 5")."""
    return re.sub(r"[^\w .:/=+\-@]", " ", str(value))[:256]


def _split_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3:// URL")
    bucket, _, key = url[5:].partition("/")
    return bucket, key.strip("/")


# ------------------------------------------------------------------------------------------------------
# AWS access
# ------------------------------------------------------------------------------------------------------


def _boto3_session_class() -> type:
    import boto3

    class _EndpointSession(boto3.Session):
        """A boto3 Session whose clients go to the configured endpoints (sagemaker-core takes a Session)."""

        def __init__(self, endpoints: dict[str, str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._endpoints = endpoints

        def client(self, service_name: str, region_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("endpoint_url") is None and service_name in self._endpoints:
                kwargs["endpoint_url"] = self._endpoints[service_name]
            return super().client(service_name, region_name, *args, **kwargs)

    return _EndpointSession


@functools.lru_cache(maxsize=1)
def _shared_data_loader() -> Any:
    """botocore's loader of service models, shared by our sessions: sagemaker-core builds four clients per
    session and the SageMaker model alone takes seconds to parse, so it is parsed once per process."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def make_boto_session(region: str | None, endpoint_url: str | None, s3_endpoint_url: str | None) -> Any:
    import botocore.session

    endpoints = {}
    if endpoint_url:
        endpoints["sagemaker"] = endpoint_url
    if s3_endpoint_url:
        endpoints["s3"] = s3_endpoint_url
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_data_loader())
    return _boto3_session_class()(endpoints, botocore_session=core, region_name=region)


def _error_code(err: BaseException) -> str | None:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


@dataclass
class Backoff:
    """Exponential back-off with jitter: attempt k waits U(d/2, d) with d = min(cap, base * 2**k)."""
    base: float
    cap: float
    max_attempts: int
    seed: int = 0
    sleep: Callable[[float], None] = time.sleep
    delays: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def call(self, fn: Callable[[], Any], what: str) -> Any:
        for attempt in range(self.max_attempts):
            try:
                return fn()
            except Exception as err:  # botocore ClientError, possibly re-raised by sagemaker-core
                code = _error_code(err)
                if code not in RETRYABLE_ERRORS:
                    raise
                if attempt == self.max_attempts - 1:
                    raise RuntimeError(
                        f"{what}: still refused with {code} after {self.max_attempts} attempts; lower "
                        "hydra.launcher.max_parallel_jobs or ask AWS to raise the training-job quota"
                    ) from err
                cap = min(self.cap, self.base * 2.0 ** attempt)
                delay = float(cap / 2 + self._rng.uniform(0.0, cap / 2))
                self.delays.append(delay)
                log.warning("%s: %s, retrying in %.1f s (attempt %d/%d)", what, code, delay, attempt + 1,
                            self.max_attempts)
                self.sleep(delay)
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------------------
# The launcher
# ------------------------------------------------------------------------------------------------------


@dataclass
class SubmittedJob:
    name: str
    slice: Slice
    status: str = "InProgress"
    failure_reason: str = ""


class SageMakerLauncher(Launcher):
    """Hydra launcher: one SageMaker training job per slice of the sweep (see the module docstring)."""

    def __init__(self, **settings: Any) -> None:
        defaults = OmegaConf.structured(SageMakerLauncherConf)
        merged = OmegaConf.merge(defaults, {k: v for k, v in settings.items() if k != "_target_"})
        self.settings: SageMakerLauncherConf = OmegaConf.to_object(merged)  # type: ignore[assignment]
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.config: DictConfig | None = None
        self.sleep: Callable[[float], None] = time.sleep
        self.submitted: list[SubmittedJob] = []
        self._session: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config

    # -- AWS ------------------------------------------------------------------------------------------

    @property
    def boto_session(self) -> Any:
        if self._session is None:
            s = self.settings
            self._session = make_boto_session(s.region, s.endpoint_url, s.s3_endpoint_url)
        return self._session

    @property
    def region(self) -> str:
        region = self.settings.region or self.boto_session.region_name
        if not region:
            raise ValueError("no AWS region: set hydra.launcher.region=... or AWS_DEFAULT_REGION")
        return region

    def upload_code(self, bucket: str, prefix: str) -> str:
        """Upload the project tarball (once per content) and return its s3:// URI."""
        from botocore.exceptions import ClientError

        data = build_source_tarball()
        key = "/".join(p for p in (prefix.strip("/"), "code", f"{hashlib.sha256(data).hexdigest()}.tar.gz") if p)
        s3 = self.boto_session.client("s3", region_name=self.region)
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            if head["ContentLength"] == len(data):
                log.info("code s3://%s/%s already uploaded", bucket, key)
                return f"s3://{bucket}/{key}"
        except ClientError as err:
            if _error_code(err) not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/gzip")
        log.info("uploaded code (%d bytes) to s3://%s/%s", len(data), bucket, key)
        return f"s3://{bucket}/{key}"

    def _entry_command(self, code_uri: str) -> str:
        tarball = f"{CHANNEL_DIR}/{CODE_CHANNEL}/{code_uri.rsplit('/', 1)[1]}"
        options = self.settings.pip_install_options.strip()
        pip = " ".join(p for p in ("python -m pip install --quiet --disable-pip-version-check", options, tarball)
                       if p)
        return f"set -e; {pip}; exec {self.settings.entry_point}"

    def create_training_job(self, name: str, sl: Slice, code_uri: str, results_root: str, output_uri: str,
                            tag: str) -> None:
        from sagemaker.core.resources import TrainingJob
        from sagemaker.core.shapes import (
            AlgorithmSpecification,
            Channel,
            DataSource,
            OutputDataConfig,
            ResourceConfig,
            S3DataSource,
            StoppingCondition,
        )

        s = self.settings
        tags = {"hpo-arena:tag": tag, "hpo-arena:method": sl.method, "hpo-arena:benchmark": sl.benchmark,
                "hpo-arena:seeds": format_seeds(sl.seeds), **s.tags}
        TrainingJob.create(
            training_job_name=name,
            role_arn=s.role_arn,
            algorithm_specification=AlgorithmSpecification(
                training_image=s.image_uri, training_input_mode="File",
                container_entrypoint=["/bin/sh", "-c"], container_arguments=[self._entry_command(code_uri)],
            ),
            hyper_parameters=slice_hyperparameters(sl, code_uri, results_root),
            input_data_config=[Channel(
                channel_name=CODE_CHANNEL,
                data_source=DataSource(s3_data_source=S3DataSource(
                    s3_data_type="S3Prefix", s3_uri=code_uri, s3_data_distribution_type="FullyReplicated")),
            )],
            output_data_config=OutputDataConfig(s3_output_path=output_uri),
            resource_config=ResourceConfig(instance_type=s.instance_type, instance_count=1,
                                           volume_size_in_gb=s.volume_size_gb),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=s.max_runtime_seconds),
            environment=dict(s.environment) or None,
            tags=[{"key": k, "value": _tag_value(v)} for k, v in tags.items()],
            session=self.boto_session, region=self.region,
        )

    def describe_status(self, name: str) -> tuple[str, str]:
        from sagemaker.core.resources import TrainingJob

        job = TrainingJob.get(training_job_name=name, session=self.boto_session, region=self.region)
        reason = job.failure_reason if isinstance(job.failure_reason, str) else ""
        return str(job.training_job_status), reason

    # -- the sweep ------------------------------------------------------------------------------------

    def _check_settings(self) -> None:
        s = self.settings
        missing = [k for k, v in (("role_arn", s.role_arn), ("image_uri", s.image_uri)) if not v]
        if missing:
            raise ValueError(
                "the sagemaker launcher needs " + " and ".join(f"hydra.launcher.{k}=..." for k in missing)
                + " (or the environment variables SAGEMAKER_ROLE_ARN / HPO_ARENA_SAGEMAKER_IMAGE)"
            )
        if s.max_parallel_jobs < 1:
            raise ValueError("hydra.launcher.max_parallel_jobs must be at least 1")

    def sweep_jobs(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
                   ) -> tuple[list[SweepJob], list[DictConfig]]:
        from launchers.study import experiment_path

        assert self.hydra_context is not None and self.config is not None, "setup() was not called"
        jobs, configs = [], []
        # Composing a config costs Hydra a fraction of a second; jobs differing only in a plain `seed=N`
        # share one composition (a sweep of 10 seeds composes once per method x benchmark).
        composed: dict[tuple[str, ...], DictConfig] = {}
        for i, overrides in enumerate(job_overrides):
            seed_values = [o.split("=", 1)[1] for o in overrides if o.startswith("seed=")]
            rest = tuple(o for o in overrides if not o.startswith("seed="))
            if len(seed_values) == 1 and seed_values[0].isdigit() and rest in composed:
                cfg = copy.deepcopy(composed[rest])
                with open_dict(cfg):
                    cfg.seed = int(seed_values[0])
                    cfg.hydra.overrides.task = list(overrides)
            else:
                cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                composed.setdefault(rest, cfg)
            with open_dict(cfg):
                cfg.hydra.job.num = initial_job_idx + i
            configs.append(cfg)
            jobs.append(SweepJob(
                idx=initial_job_idx + i, overrides=tuple(filter_overrides(overrides)),
                method=str(cfg.method.name), benchmark=str(cfg.benchmark.name), seed=int(cfg.seed),
                path=experiment_path(str(cfg.results_root), str(cfg.tag), str(cfg.benchmark.name),
                                     str(cfg.method.name), int(cfg.seed)),
            ))
        return jobs, configs

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from launchers.study import is_complete

        self._check_settings()
        s = self.settings
        jobs, configs = self.sweep_jobs(job_overrides, initial_job_idx)
        if not jobs:
            return []
        roots = {str(c.results_root) for c in configs}
        tags = {str(c.tag) for c in configs}
        if len(roots) != 1 or len(tags) != 1:
            raise ValueError("a SageMaker sweep writes one study: results_root and tag must be single values")
        results_root, tag = roots.pop(), tags.pop()
        if not results_root.startswith("s3://"):
            raise ValueError(f"SageMaker jobs write their results to S3, but results_root={results_root!r}; "
                             "pass results_root=s3://bucket/prefix (or set HPO_ARENA_RESULTS)")
        bucket = s.bucket or _split_s3(results_root)[0]

        done = {job.idx for job, cfg in zip(jobs, configs) if s.skip_complete and cfg.skip_complete
                and is_complete(job.path)}
        slices = plan_slices([j for j in jobs if j.idx not in done], s.expensive_methods)
        log.info("SageMaker launcher: %d experiment(s), %d already complete, %d training job(s) to start",
                 len(jobs), len(done), len(slices))
        outcome: dict[int, SubmittedJob] = {}
        try:
            if slices:
                code_uri = self.upload_code(bucket, s.prefix)
                output_uri = "s3://" + "/".join(p for p in (bucket, s.prefix.strip("/"), "output") if p)
                for submitted in self._run_slices(slices, code_uri, results_root, output_uri, tag):
                    for job in submitted.slice.jobs:
                        outcome[job.idx] = submitted
        finally:  # also when starting a job failed: say which jobs are running
            self._write_summary(configs[0])
        return [self._job_return(job, cfg, outcome.get(job.idx)) for job, cfg in zip(jobs, configs)]

    def _run_slices(self, slices: list[Slice], code_uri: str, results_root: str, output_uri: str,
                    tag: str) -> list[SubmittedJob]:
        s = self.settings
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        backoff = Backoff(s.retry.base_delay_seconds, s.retry.max_delay_seconds, s.retry.max_attempts,
                          seed=s.retry.seed, sleep=self.sleep)
        self.backoff = backoff
        pending = deque(enumerate(slices))
        running: list[SubmittedJob] = []
        finished: list[SubmittedJob] = []
        while pending or (running and s.wait):
            while pending and len(running) < s.max_parallel_jobs:
                index, sl = pending.popleft()
                name = job_name(s.job_name_prefix, tag, index, sl, stamp)
                backoff.call(functools.partial(self.create_training_job, name, sl, code_uri, results_root,
                                               output_uri, tag), f"starting training job {name}")
                log.info("started %s: %s on %s, seed(s) %s", name, sl.method, sl.benchmark, format_seeds(sl.seeds))
                job = SubmittedJob(name, sl)
                self.submitted.append(job)
                running.append(job)
            if not pending and not s.wait:
                break
            still = []
            for job in running:
                job.status, job.failure_reason = backoff.call(functools.partial(self.describe_status, job.name),
                                                              f"describing {job.name}")
                if job.status in TERMINAL_STATUSES:
                    log.info("%s: %s %s", job.name, job.status, job.failure_reason)
                    finished.append(job)
                else:
                    still.append(job)
            if len(still) == len(running) and (pending or still):
                self.sleep(s.poll_interval_seconds)
            running = still
        return finished + running

    def _job_return(self, job: SweepJob, cfg: DictConfig, submitted: SubmittedJob | None) -> JobReturn:
        ret = JobReturn(overrides=list(job.overrides), cfg=cfg, hydra_cfg=cfg.hydra,
                        working_dir=job.path, task_name=str(cfg.hydra.job.name))
        submitted_only = not self.settings.wait and submitted is not None and \
            submitted.status not in TERMINAL_STATUSES
        if submitted is None or submitted.status == "Completed" or submitted_only:
            # Complete already, completed now, or (fire and forget) started.
            ret.status, ret.return_value = JobStatus.COMPLETED, job.path
        else:
            ret.status = JobStatus.FAILED
            ret.return_value = RuntimeError(
                f"SageMaker training job {submitted.name} ended {submitted.status}"
                + (f": {submitted.failure_reason}" if submitted.failure_reason else "")
            )
        return ret

    def _write_summary(self, cfg: DictConfig) -> None:
        """``<sweep dir>/sagemaker_jobs.json``: which training job ran which experiments."""
        sweep_dir = Path(str(cfg.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        summary = [{"training_job": j.name, "status": j.status, "failure_reason": j.failure_reason,
                    "method": j.slice.method, "benchmark": j.slice.benchmark, "seeds": j.slice.seeds,
                    "overrides": list(j.slice.overrides)} for j in self.submitted]
        (sweep_dir / "sagemaker_jobs.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
