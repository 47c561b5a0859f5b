"""The validation pass of ``arena sweep`` (issue 12, points 7-10): every job's full configuration is checked
before any job starts and before anything is written, and every problem is reported at once.

Most cases call ``validate_sweep`` in-process (what ``arena sweep`` calls, on the same command-line
overrides); two run ``arena sweep`` itself to check the exit status, the absence of a traceback and of any
written file, and that a key shared by several swept methods reaches every one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _arena_cli import arena_sweep

from baselines import registry
from baselines.fifo import FIFOScheduler
from benchmark_definitions.definitions import SimulatedBenchmark
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.repository import serialize
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from launchers import hydra_app
from launchers.validation import SweepValidationError, validate_jobs, validate_sweep

BENCH = "xgboost-sklearn-wine"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def _configs(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_RESULTS", str(tmp_path / "results"))
    hydra_app.register_configs()


def _problems(*overrides: str) -> str:
    with pytest.raises(SweepValidationError) as info:
        validate_sweep(hydra_app.force_method_overrides(["-m", *overrides]))
    return str(info.value)


# ------------------------------------------------------------------------------------------------------------
# point 7: tags
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["..", "a/b", "", ".hidden", "x*"])
def test_tags_that_escape_the_root_or_are_unreadable_are_refused_with_the_rule(tag):
    message = _problems("method=RS", f"benchmark={BENCH}", "seed=0", f"tag={tag}")
    assert f"tag={tag!r} is not a valid tag" in message
    assert "letters, digits, '.', '_' and '-'" in message


def test_a_plain_tag_is_accepted():
    plan = validate_sweep(["-m", "method=RS", f"benchmark={BENCH}", "seed=0,1", "tag=my-study_2.0"])
    assert plan.tag == "my-study_2.0"
    assert [(j.benchmark, j.method, j.seed) for j in plan.jobs] == [(BENCH, "RS", 0), (BENCH, "RS", 1)]


# ------------------------------------------------------------------------------------------------------------
# point 8: seeds, budgets, method arguments
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["1.5", "true", "-1"])
def test_seeds_that_are_not_non_negative_integers_are_refused(seed):
    message = _problems("method=RS", f"benchmark={BENCH}", f"seed={seed}")
    assert "is not a valid seed: the seed is a non-negative integer" in message


def test_an_empty_seed_range_says_so_rather_than_blaming_a_glob():
    message = _problems("method=RS", f"benchmark={BENCH}", "seed=range(0,0)")
    assert "seed=range(0,0): the seed range is empty" in message
    assert "glob" not in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("benchmark.max_wallclock_time=0", "max_wallclock_time must be a number of seconds > 0, got 0"),
        ("benchmark.max_wallclock_time=-5", "max_wallclock_time must be a number of seconds > 0, got -5"),
        ("benchmark.n_workers=0", "n_workers must be an integer >= 1, got 0"),
        ("benchmark.n_workers=-2", "n_workers must be an integer >= 1, got -2"),
        ("method.grace_period=abc", "method ASHA: grace_period must be a number, got 'abc'"),
        ("method.grace_period=-1", "grace_period must be > 0, got -1"),
        ("method.max_trials=true", "max_trials must be an integer or None, got True"),
        ("method.reduction_factor=0.5", "reduction_factor must be a number > 1, got 0.5"),
    ],
)
def test_budgets_and_method_arguments_are_checked_by_type_and_range(override, expected):
    assert expected in _problems("method=ASHA", f"benchmark={BENCH}", "seed=0", override)


@pytest.mark.parametrize(
    ("method", "override", "expected"),
    [
        ("RS", "method.max_trials=-3", "max_trials must be a positive integer, got -3"),
        ("MSR", "method.grace_period=-1", "grace_period must be > 0, got -1"),
        ("BO", "method.num_restarts=0", "num_restarts must be >= 1"),
        ("BORE", "method.local_sigma=-0.1", "local_sigma must be > 0, got -0.1"),
        ("TPE", "method.max_restricted_candidates=0", "max_restricted_candidates must be >= 1, got 0"),
        ("REA", "method.local_sigma=0", "local_sigma must be > 0, got 0"),
    ],
)
def test_constructors_refuse_out_of_range_arguments(method, override, expected):
    assert expected in _problems(f"method={method}", f"benchmark={BENCH}", "seed=0", override)


def test_every_problem_of_every_job_is_reported_together():
    message = _problems(
        "method=ASHA,RS", f"benchmark={BENCH}", "seed=0,1.5", "tag=..", "benchmark.n_workers=0",
    )
    assert "tag='..' is not a valid tag" in message
    assert "seed=1.5 is not a valid seed" in message
    assert "n_workers must be an integer >= 1" in message
    assert message.startswith("3 problem(s) in the sweep (4 job(s))")


# ------------------------------------------------------------------------------------------------------------
# point 9: method x benchmark compatibility
# ------------------------------------------------------------------------------------------------------------


def _random_table_root(root: Path) -> Path:
    """A table of 40 randomly drawn configurations (as icml-xgboost or LCBench hold), none on a grid."""
    rng = np.random.default_rng(0)
    space = SearchSpace({"x": Uniform(0.0, 1.0), "kind": Categorical(["a", "b"])})
    configs = pd.DataFrame({"x": rng.uniform(0.013, 0.987, 40), "kind": rng.choice(["a", "b"], 40)})
    objectives = np.stack([rng.uniform(size=(40, 1, 3)), np.cumsum(np.ones((40, 1, 3)), axis=2)], axis=3)
    table = TabularBlackbox(
        configs, objectives.astype(np.float32), space, ["error", "time"],
        BlackboxMetadata(name="random-table", default_metric="error", time_objective="time"),
        fidelity_name="epoch", fidelity_values=[1, 2, 3], task="t",
    )
    serialize({"t": table}, root, "random-table")
    return root


def _job(method: str, bench: SimulatedBenchmark, blackbox_root: Path, **method_kwargs) -> dict:
    return {"tag": "t", "seed": 0, "master_seed": None, "results_root": "unused", "skip_complete": True,
            "blackbox_root": str(blackbox_root), "method": {"name": method, **method_kwargs},
            "benchmark": bench.to_dict()}


def test_grid_search_on_a_table_of_random_configurations_is_refused_before_any_job(tmp_path):
    root = _random_table_root(tmp_path / "repo")
    bench = SimulatedBenchmark(name="random-table-t", blackbox="random-table", task="t", metric="error",
                               mode="min", max_wallclock_time=10.0, restrict_to_table=True)
    problems = validate_jobs([_job("GRID", bench, root, num_points=5), _job("RS", bench, root)])
    assert len(problems) == 1
    assert problems[0].job == "random-table-t / GRID / seed 0"
    assert "none of the 40 configurations in restrict_to is a point of the grid" in problems[0].message


class _CheckpointTransfer(FIFOScheduler):
    transfers_checkpoints = True


def test_a_method_that_transfers_checkpoints_is_refused_on_a_simulated_benchmark(tmp_path, monkeypatch):
    def factory(ctx, searcher, max_trials=None):
        return _CheckpointTransfer(searcher=searcher, max_trials=max_trials, **ctx.common())

    monkeypatch.setitem(registry._METHODS, "CKPT", registry.MethodSpec("CKPT", "test", factory, "random"))
    root = _random_table_root(tmp_path / "repo")
    bench = SimulatedBenchmark(name="random-table-t", blackbox="random-table", task="t", metric="error",
                               mode="min", max_wallclock_time=10.0)
    problems = validate_jobs([_job("CKPT", bench, root), _job("RS", bench, root)])
    assert [p.job for p in problems] == ["random-table-t / CKPT / seed 0"]
    assert "cannot run on the simulated benchmark" in problems[0].message and "Run it on a real benchmark" in problems[0].message


# ------------------------------------------------------------------------------------------------------------
# point 10: a method key shared by several swept methods
# ------------------------------------------------------------------------------------------------------------


def test_a_key_every_swept_method_has_is_accepted():
    plan = validate_sweep(hydra_app.force_method_overrides(
        ["-m", "method=ASHA,ASHA-PROMOTION", "method.grace_period=2", f"benchmark={BENCH}", "seed=0"]))
    assert [j.method for j in plan.jobs] == ["ASHA", "ASHA-PROMOTION"]


def test_a_key_no_swept_method_has_is_refused_with_the_valid_keys():
    message = _problems("method=ASHA,ASHA-PROMOTION", "method.grace_perod=2", f"benchmark={BENCH}", "seed=0")
    assert "method.grace_perod: method ASHA does not accept ['grace_perod']" in message
    assert "did you mean 'grace_period'?" in message
    assert "valid keyword arguments: ['allow_duplicates', 'grace_period'" in message
    assert "method ASHA-PROMOTION does not accept" in message


def test_a_key_only_some_swept_methods_have_is_refused_for_the_others():
    message = _problems("method=ASHA,RS", "method.grace_period=2", f"benchmark={BENCH}", "seed=0")
    assert "method.grace_period: method RS does not accept ['grace_period']" in message
    assert "method ASHA " not in message


# ------------------------------------------------------------------------------------------------------------
# through `arena sweep`
# ------------------------------------------------------------------------------------------------------------


def test_arena_sweep_refuses_a_bad_sweep_without_traceback_and_writes_nothing(tmp_path):
    proc = arena_sweep(tmp_path, "method=ASHA,GRID", f"benchmark={BENCH}", "seed=0,true", "tag=..",
                        "benchmark.max_wallclock_time=0")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    for expected in ("tag='..' is not a valid tag", "seed=True is not a valid seed",
                     "max_wallclock_time must be a number of seconds > 0, got 0"):
        assert expected in proc.stderr, proc.stderr
    assert "[arena] start" not in proc.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / "hydra").exists()


def test_arena_sweep_passes_a_shared_method_key_to_every_swept_method(tmp_path):
    proc = arena_sweep(tmp_path, "method=ASHA,ASHA-PROMOTION", "method.grace_period=2", f"benchmark={BENCH}",
                        "seed=0", "tag=shared", "benchmark.max_wallclock_time=0.3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for method in ("ASHA", "ASHA-PROMOTION"):
        meta = json.loads((tmp_path / "results" / "shared" / BENCH / method / "0" / "metadata.json").read_text())
        assert meta["status"] == "complete" and meta["method_kwargs"]["grace_period"] == 2
    study = json.loads((tmp_path / "results" / "shared" / "study.json").read_text())
    assert study["sweeps"][0]["jobs"] == [{"benchmark": BENCH, "method": m, "seed": 0}
                                          for m in ("ASHA", "ASHA-PROMOTION")]


# ------------------------------------------------------------------------------------------------------------
# jobs that would share a folder; user config folders
# ------------------------------------------------------------------------------------------------------------


def test_sweeping_a_method_argument_in_one_tag_is_refused_because_the_jobs_share_a_folder():
    # Before the pass, the second job found the first one's folder complete and silently skipped itself.
    message = _problems("method=ASHA", "method.grace_period=1,3", f"benchmark={BENCH}", "seed=0")
    assert f"2 jobs with different method or benchmark settings would write the same folder <tag>/{BENCH}/ASHA/0" \
        in message


def test_methods_from_a_config_dir_are_validated(tmp_path):
    (tmp_path / "conf" / "method").mkdir(parents=True)
    (tmp_path / "conf" / "method" / "ASHA-COARSE.yaml").write_text("name: ASHA\ngrace_period: -2\n")
    for flag in (["--config-dir", str(tmp_path / "conf")], [f"--config-dir={tmp_path / 'conf'}"]):
        message = _problems(*flag, "method=ASHA-COARSE", f"benchmark={BENCH}", "seed=0")
        assert "grace_period must be > 0, got -2" in message


def test_a_real_benchmark_is_checked_without_starting_its_script():
    message = _problems("method=ASHA", "benchmark=real-mlp-wine", "seed=0", "benchmark.script=missing_train.py",
                        "method.grace_period=0")
    assert "training script 'missing_train.py' not found" in message
    assert "grace_period must be > 0, got 0" in message
    assert validate_sweep(["-m", "method=ASHA,RS", "benchmark=real-mlp-wine", "seed=0"]).jobs
