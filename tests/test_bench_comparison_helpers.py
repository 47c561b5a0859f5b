"""Pure helpers of benchmarks/bench_methods_peer.py (benchmarks/comparison_helpers.py); no peer needed."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from comparison_helpers import (
    add_study_arguments,
    decision_summary,
    parse_method,
    peer_clock,
    print_report,
    ratio,
    regret_intervals,
    step_durations,
)


def test_regret_intervals_pool_tasks_and_bracket_the_point():
    # Task A: runs with regret 0.0, 0.1, 0.2, 0.3 at the last grid point; task B: 0.4 .. 0.7.
    a = np.array([[1.0, 0.0], [1.0, 0.1], [1.0, 0.2], [1.0, 0.3]])
    b = np.array([[1.0, 0.4], [1.0, 0.5], [1.0, 0.6], [1.0, 0.7]])
    first, last = regret_intervals([a, b], [0, 1], n_boot=500, seed=3)
    # Pooled 8 values 0.0..0.7: IQM drops two from each end -> mean(0.2, 0.3, 0.4, 0.5) = 0.35.
    assert last.point == pytest.approx(0.35)
    assert 0.0 <= last.lower <= 0.35 <= last.upper <= 0.7
    assert last.upper - last.lower > 0.05
    # Identical runs: no spread, interval collapses on the value.
    assert (first.point, first.lower, first.upper) == (1.0, 1.0, 1.0)


def test_regret_intervals_are_reproducible_and_check_shapes():
    rng = np.random.default_rng(0)
    tasks = [rng.random((5, 3)), rng.random((5, 3))]
    assert regret_intervals(tasks, [2], seed=7) == regret_intervals(tasks, [2], seed=7)
    with pytest.raises(ValueError, match="same number of runs"):
        regret_intervals([rng.random((5, 3)), rng.random((4, 3))], [0])
    with pytest.raises(ValueError, match="at least one task"):
        regret_intervals([], [0])


def test_step_durations_from_cumulative_times():
    elapsed = np.array([[[1.0, 3.0, 3.0, np.nan]]])
    # First step counts from zero; a zero step and NaN are dropped.
    assert step_durations(elapsed).tolist() == [1.0, 2.0]


def test_peer_clock_scales_short_steps_and_keeps_ticks_below_steps():
    one_second_epochs = np.arange(1, 51, dtype=float)[None, None, :]
    clock = peer_clock(one_second_epochs, budget=1000.0)
    assert clock.time_scale == 1.0
    assert clock.tick == 0.25  # a quarter of the 1 s step, below budget / 1000
    millisecond_rounds = np.cumsum(np.full((4, 2, 64), 0.002), axis=-1)
    clock = peer_clock(millisecond_rounds, budget=1.6)
    assert clock.time_scale == 1000.0  # 0.002 s -> 2 units: the peer's 0.01 floor is 0.5% of a step
    assert clock.tick == pytest.approx(0.0005)
    # Very short steps against a long budget: the tick count is capped.
    clock = peer_clock(millisecond_rounds, budget=1000.0, max_ticks=1000)
    assert clock.tick == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no positive step"):
        peer_clock(np.zeros((1, 1, 3)), budget=1.0)


def test_decision_summary_and_ratio():
    calls = {"suggest": np.array([0.001, 0.003, 0.002]), "on_result": np.array([0.01, 0.01])}
    summary = decision_summary(calls, trials=2)
    assert summary.suggest_median == pytest.approx(0.002)
    assert summary.seconds_per_trial == pytest.approx((0.006 + 0.02) / 2)
    assert (summary.suggest_calls, summary.trials) == (3, 2)
    assert math.isnan(decision_summary({}, trials=0).seconds_per_trial)
    assert ratio(0.010, 0.002) == pytest.approx(5.0)
    assert math.isnan(ratio(0.01, 0.0)) and math.isnan(ratio(math.nan, 1.0))


def test_parse_method_versions_and_errors():
    versions = {"ASHA": {"0.16": 1, "0.13": 2}, "MOBSTER": {"0.13": 3}}
    default = {"ASHA": "0.16", "MOBSTER": "0.13"}
    assert parse_method("asha", versions, default) == ("ASHA", "0.16")
    assert parse_method("ASHA@0.13", versions, default) == ("ASHA", "0.13")
    with pytest.raises(ValueError, match="ASHA, MOBSTER"):
        parse_method("MOBSTR", versions, default)
    with pytest.raises(ValueError, match="version"):
        parse_method("MOBSTER@0.16", versions, default)


def test_print_report_prints_and_writes_one_final_newline(tmp_path, capsys):
    print_report("| a |\n|---|", tmp_path / "plain.md")
    print_report("| a |\n", tmp_path / "ended.md")
    print_report("only printed", None)
    assert capsys.readouterr().out == "| a |\n|---|\n| a |\n\nonly printed\n"
    assert (tmp_path / "plain.md").read_text() == "| a |\n|---|\n"
    assert (tmp_path / "ended.md").read_text() == "| a |\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["ended.md", "plain.md"]


def test_add_study_arguments_defaults_and_choices(tmp_path):
    parser = argparse.ArgumentParser()
    add_study_arguments(parser, ("RS", "BO"), ("bench-a",), tmp_path)
    args = parser.parse_args([])
    assert (args.seeds, args.n_jobs, args.methods, args.benchmarks) == (5, 2, ["RS", "BO"], ["bench-a"])
    assert (args.data, args.work_dir, args.out) == (tmp_path, None, None)
    args = parser.parse_args(["--methods", "CBO", "--seeds", "2", "--out", "x.md", "--work-dir", "w"])
    assert (args.methods, args.seeds, args.out, args.work_dir) == (["CBO"], 2, Path("x.md"), Path("w"))
