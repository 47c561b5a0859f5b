"""Arithmetic for running K times a measured study on a cluster: workers, cost and where the bottleneck moves.

Pure functions over the figures ``bench_study_scale.py`` measures (CPU seconds per experiment by method, peak
memory per worker, bytes and files per experiment, the launching process's CPU seconds per job, aggregation
seconds per experiment). Prices are inputs, never looked up: ``ASSUMED_INSTANCES`` holds on-demand list prices
(us-east-1, Linux) as assumptions to be checked against the provider's current price list before use.

How a plan is computed (``plan_cluster``):

* compute: ``core_s = K x sum over methods of (experiments of the method x CPU s per experiment)``; one
  experiment runs on one vCPU, so the slots needed for a target wall time ``T`` are
  ``ceil(core_s / (T x utilisation))`` (utilisation < 1 covers the tail where the last long experiments run
  while other slots idle), but never fewer than the instances' memory allows: an instance of ``v`` vCPUs and
  ``g`` GiB holds ``min(v, floor(g / worker memory))`` workers.
* the wall time achieved is the largest of: compute (``core_s / (slots x utilisation)``), the longest single
  experiment, and the serial work of the launching process (``jobs x launcher CPU s per job``: Hydra composes
  every job's config in the launching process, one after the other, whatever the launcher), plus the
  instances' start-up. The largest term is the bottleneck.
* cost: instances x their price x (wall hours + start-up); S3 PUTs = experiments x (files + 1) (metadata.json
  is written twice: "running", then "complete"), at the S3 request price; storage per month.
* aggregation: experiments x aggregation seconds per experiment (measured on local disk; reading from S3 adds
  one GET per file, counted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

S3_PUT_USD_PER_1000 = 0.005  # assumption: S3 Standard PUT/COPY/POST/LIST, us-east-1
S3_GET_USD_PER_1000 = 0.0004  # assumption: S3 Standard GET
S3_USD_PER_GB_MONTH = 0.023  # assumption: S3 Standard, first 50 TB
S3_PUTS_PER_S_PER_PREFIX = 3500  # S3's documented request rate per partitioned prefix


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    usd_per_hour: float  # on-demand; an assumption, see ASSUMED_INSTANCES

    def __post_init__(self) -> None:
        if self.vcpus < 1 or self.memory_gib <= 0 or self.usd_per_hour < 0:
            raise ValueError(f"instance {self.name!r}: vcpus >= 1, memory_gib > 0 and usd_per_hour >= 0 needed")

    def workers(self, worker_memory_mb: float) -> int:
        """Experiments it runs at once: one per vCPU, fewer when their memory does not fit."""
        by_memory = math.floor(self.memory_gib * 1024 / worker_memory_mb) if worker_memory_mb > 0 else self.vcpus
        return max(0, min(self.vcpus, by_memory))


# Assumed on-demand prices (us-east-1, Linux, USD per hour), to be checked before use.
ASSUMED_INSTANCES: dict[str, InstanceType] = {
    "c7i.8xlarge": InstanceType("c7i.8xlarge", 32, 64.0, 1.428),
    "m7i.8xlarge": InstanceType("m7i.8xlarge", 32, 128.0, 1.6128),
    "c7i.large": InstanceType("c7i.large", 2, 4.0, 0.08925),
    # A SageMaker training job runs its slice's experiments one after another (launchers/sagemaker_entry.py):
    # one experiment at a time on the 2-vCPU ml.m5.large, so it is counted as one slot per job.
    "ml.m5.large": InstanceType("ml.m5.large", 1, 8.0, 0.115),
}


@dataclass(frozen=True)
class StudyMeasurements:
    """One study's measured costs (``bench_study_scale.py``); ``experiments_by_method`` is the full study's."""

    cpu_seconds_by_method: Mapping[str, float]
    experiments_by_method: Mapping[str, int]
    worker_memory_mb: float
    bytes_per_experiment: float
    files_per_experiment: float
    launcher_cpu_seconds_per_job: float
    aggregate_seconds_per_experiment: float

    def __post_init__(self) -> None:
        missing = sorted(set(self.experiments_by_method) - set(self.cpu_seconds_by_method))
        if missing:
            raise ValueError(f"no CPU seconds measured for methods {missing}; measure them or drop them")

    @property
    def experiments(self) -> int:
        return sum(self.experiments_by_method.values())

    @property
    def core_seconds(self) -> float:
        return sum(n * self.cpu_seconds_by_method[m] for m, n in self.experiments_by_method.items())

    @property
    def longest_experiment_s(self) -> float:
        return max(self.cpu_seconds_by_method[m] for m in self.experiments_by_method)


@dataclass(frozen=True)
class ClusterPlan:
    instance: str
    factor: float
    experiments: int
    core_hours: float
    instances: int
    workers: int
    compute_hours: float
    launch_hours: float
    wall_hours: float
    bottleneck: str
    compute_usd: float
    s3_puts: int
    s3_put_usd: float
    puts_per_second: float
    results_gb: float
    storage_usd_per_month: float
    aggregation_hours: float
    terms: dict[str, float] = field(default_factory=dict)


def plan_cluster(study: StudyMeasurements, factor: float, target_wall_s: float, instance: InstanceType,
                 utilisation: float = 0.9, startup_s: float = 300.0,
                 launcher_cpu_seconds_per_job: float | None = None) -> ClusterPlan:
    """Instances of ``instance`` to run ``factor`` times ``study`` in about ``target_wall_s``, and what it costs.

    ``launcher_cpu_seconds_per_job`` overrides the measured serial cost per job in the launching process (e.g.
    the 10 ms the sweep aims at).
    """
    if factor <= 0 or target_wall_s <= 0 or not 0 < utilisation <= 1 or startup_s < 0:
        raise ValueError("factor > 0, target_wall_s > 0, 0 < utilisation <= 1 and startup_s >= 0 needed")
    per_instance = instance.workers(study.worker_memory_mb)
    if per_instance == 0:
        raise ValueError(f"{instance.name} ({instance.memory_gib} GiB) cannot hold one worker of "
                         f"{study.worker_memory_mb} MB; choose an instance with more memory")
    experiments = round(study.experiments * factor)
    core_s = study.core_seconds * factor
    instances = max(1, math.ceil(core_s / (target_wall_s * utilisation) / per_instance))
    workers = instances * per_instance
    compute_s = core_s / (workers * utilisation)
    per_job = study.launcher_cpu_seconds_per_job if launcher_cpu_seconds_per_job is None \
        else launcher_cpu_seconds_per_job
    launch_s = experiments * per_job
    terms = {"compute": compute_s, "longest experiment": study.longest_experiment_s,
             "serial config composition in the launching process": launch_s}
    bottleneck = max(terms, key=terms.__getitem__)
    wall_s = terms[bottleneck] + startup_s
    puts = round(experiments * (study.files_per_experiment + 1))
    results_gb = experiments * study.bytes_per_experiment / 1e9
    return ClusterPlan(
        instance=instance.name, factor=factor, experiments=experiments, core_hours=core_s / 3600,
        instances=instances, workers=workers, compute_hours=compute_s / 3600, launch_hours=launch_s / 3600,
        wall_hours=wall_s / 3600, bottleneck=bottleneck,
        compute_usd=instances * instance.usd_per_hour * wall_s / 3600,
        s3_puts=puts, s3_put_usd=puts / 1000 * S3_PUT_USD_PER_1000,
        puts_per_second=puts / max(wall_s - startup_s, 1e-9),
        results_gb=results_gb, storage_usd_per_month=results_gb * S3_USD_PER_GB_MONTH,
        aggregation_hours=experiments * study.aggregate_seconds_per_experiment / 3600, terms=terms,
    )


def measurements_from_summary(summary: Mapping, tasks: int = 35, seeds: int = 10) -> StudyMeasurements:
    """The full study's measurements from a ``bench_study_scale.py`` summary (run at any scale)."""
    sweep = summary["sweep"]
    cpu = sweep.get("cpu_seconds_per_experiment_by_method") or sweep["seconds_per_experiment_by_method"]
    methods = summary["methods"]
    aggregate = summary.get("aggregate", {})
    complete = max(1, summary["disk"]["experiments"])
    return StudyMeasurements(
        cpu_seconds_by_method={m: float(cpu[m]) for m in methods},
        experiments_by_method={m: tasks * seeds for m in methods},
        worker_memory_mb=float(summary["memory"]["worker_peak_rss_mb_max"]),
        bytes_per_experiment=float(summary["disk"]["bytes_per_experiment"]),
        files_per_experiment=float(summary["disk"]["files_per_experiment"]),
        launcher_cpu_seconds_per_job=float(sweep["launcher_cpu_s_per_job"]),
        aggregate_seconds_per_experiment=float(aggregate.get("aggregate_s", 0.0)) / complete,
    )


def print_projection(summary: Mapping, factor: float, target_hours: float) -> None:
    """The plans for ``factor`` times the full study, for the target and 1 h walls, measured and 10 ms launch cost."""
    study = measurements_from_summary(summary)
    print()
    print(f"{factor:g}x the full study ({study.experiments} experiments -> {round(study.experiments * factor)}), "
          f"{study.core_seconds / 3600:.2f} core-hours measured per study; prices are ASSUMED on-demand list "
          f"prices (us-east-1)")
    print(f"{'target h':>8} {'instance':<12} {'launch s/job':>12} {'inst':>5} {'workers':>7} {'wall h':>7} "
          f"{'bottleneck':<11} {'compute $':>9} {'PUTs':>9} {'PUT $':>6} {'PUT/s':>6} {'GB':>6} {'agg h':>6}")
    for target in sorted({target_hours, 1.0}, reverse=True):
        for name in ("c7i.8xlarge", "ml.m5.large"):
            for per_job in (None, 0.01):
                plan = plan_cluster(study, factor, target * 3600, ASSUMED_INSTANCES[name],
                                    launcher_cpu_seconds_per_job=per_job)
                launch = study.launcher_cpu_seconds_per_job if per_job is None else per_job
                print(f"{target:>8g} {name:<12} {launch:>12.3f} {plan.instances:>5} {plan.workers:>7} "
                      f"{plan.wall_hours:>7.1f} {plan.bottleneck.split()[0]:<11} {plan.compute_usd:>9.0f} "
                      f"{plan.s3_puts:>9} {plan.s3_put_usd:>6.1f} {plan.puts_per_second:>6.1f} "
                      f"{plan.results_gb:>6.1f} {plan.aggregation_hours:>6.2f}")
