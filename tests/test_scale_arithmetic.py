"""The cluster arithmetic of benchmarks/scale_arithmetic.py on hand-computed cases."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from scale_arithmetic import InstanceType, StudyMeasurements, measurements_from_summary, plan_cluster


def _study(**changes) -> StudyMeasurements:
    values = {"cpu_seconds_by_method": {"RS": 1.0, "BO": 9.0}, "experiments_by_method": {"RS": 100, "BO": 100},
              "worker_memory_mb": 500.0, "bytes_per_experiment": 1e5, "files_per_experiment": 4.0,
              "launcher_cpu_seconds_per_job": 0.0, "aggregate_seconds_per_experiment": 0.01}
    values.update(changes)
    return StudyMeasurements(**values)


def test_workers_cost_and_requests_by_hand():
    # 100 x (100 x 1 s + 100 x 9 s) = 100,000 core-s; target 1000 s at utilisation 0.5 -> 200 slots
    # = 25 instances of 8 vCPUs (8 GiB hold 16 workers of 500 MB, so vCPUs bind).
    instance = InstanceType("test.2xlarge", 8, 8.0, 2.0)
    plan = plan_cluster(_study(), 100, 1000.0, instance, utilisation=0.5, startup_s=0.0)
    assert (plan.experiments, plan.instances, plan.workers) == (20_000, 25, 200)
    assert plan.compute_hours == pytest.approx(1000 / 3600)
    assert plan.bottleneck == "compute"
    assert plan.compute_usd == pytest.approx(25 * 2.0 * 1000 / 3600)
    assert plan.s3_puts == 20_000 * 5  # 4 files + metadata.json written twice
    assert plan.s3_put_usd == pytest.approx(100_000 / 1000 * 0.005)
    assert plan.results_gb == pytest.approx(20_000 * 1e5 / 1e9)
    assert plan.aggregation_hours == pytest.approx(20_000 * 0.01 / 3600)


def test_memory_limits_workers_per_instance():
    # 2 GiB hold 2 workers of 1000 MB on a 4-vCPU instance: 200 slots need 100 instances.
    instance = InstanceType("small", 4, 2.0, 1.0)
    assert instance.workers(1000.0) == 2
    plan = plan_cluster(_study(worker_memory_mb=1000.0), 100, 1000.0, instance, utilisation=0.5, startup_s=0.0)
    assert (plan.instances, plan.workers) == (100, 200)
    with pytest.raises(ValueError, match="cannot hold one worker"):
        plan_cluster(_study(worker_memory_mb=4000.0), 1, 1000.0, instance)


def test_serial_launch_becomes_the_bottleneck():
    # 20,000 jobs x 0.2 s composed one after another = 4000 s > the 1000 s of compute (+ 60 s start-up).
    instance = InstanceType("test", 8, 32.0, 1.0)
    plan = plan_cluster(_study(launcher_cpu_seconds_per_job=0.2), 100, 1000.0, instance, utilisation=0.5,
                        startup_s=60.0)
    assert plan.bottleneck == "serial config composition in the launching process"
    assert plan.wall_hours == pytest.approx((4000 + 60) / 3600)
    faster = plan_cluster(_study(launcher_cpu_seconds_per_job=0.2), 100, 1000.0, instance, utilisation=0.5,
                          startup_s=60.0, launcher_cpu_seconds_per_job=0.01)
    assert faster.bottleneck == "compute" and faster.launch_hours == pytest.approx(200 / 3600)


def test_longest_experiment_bounds_the_wall_time():
    plan = plan_cluster(_study(cpu_seconds_by_method={"RS": 1.0, "BO": 5000.0}), 1, 100.0,
                        InstanceType("big", 64, 256.0, 1.0), startup_s=0.0)
    assert plan.bottleneck == "longest experiment" and plan.wall_hours == pytest.approx(5000 / 3600)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no CPU seconds measured"):
        _study(experiments_by_method={"RS": 1, "TPE": 1})
    with pytest.raises(ValueError, match="vcpus"):
        InstanceType("none", 0, 1.0, 1.0)
    with pytest.raises(ValueError, match="utilisation"):
        plan_cluster(_study(), 1, 10.0, InstanceType("x", 1, 4.0, 1.0), utilisation=0.0)


def test_measurements_from_a_bench_summary_scale_to_the_full_study():
    summary = {"methods": ["RS", "BO"],
               "sweep": {"cpu_seconds_per_experiment_by_method": {"RS": 0.5, "BO": 2.0},
                         "seconds_per_experiment_by_method": {"RS": 1.0, "BO": 4.0}, "launcher_cpu_s_per_job": 0.1},
               "memory": {"worker_peak_rss_mb_max": 300.0},
               "disk": {"experiments": 20, "bytes_per_experiment": 1000, "files_per_experiment": 4.05},
               "aggregate": {"aggregate_s": 2.0}}
    study = measurements_from_summary(summary)
    assert study.experiments == 700 and study.core_seconds == pytest.approx(350 * 2.5)
    assert study.aggregate_seconds_per_experiment == pytest.approx(0.1)
