"""MOASHA's rung decisions: the cheap decision path (``pareto_position_is_below``) against the full order on random
points with ties and NaN, the vectorised rank-0 mask, and a whole simulated run replayed decision by decision with a
brute-force implementation of the rule written here (Pareto fronts by pairwise dominance, epsilon-net by plain
loops, keep ``ceil(n / rf)`` of the ``n`` results at a rung)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines.multiobjective import (
    _non_dominated_2d,
    non_dominated_ranks,
    pareto_position,
    pareto_position_is_below,
)
from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec, run_experiment


def _random_points(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    points = rng.integers(0, 5, size=(n, d)).astype(float)  # a coarse grid: many ties and duplicates
    points[rng.random(n) < 0.1] = np.nan
    return points


@pytest.mark.parametrize("tie_break", ["epsilon_net", "crowding"])
@pytest.mark.parametrize("d", [2, 3])
def test_position_is_below_answers_like_the_full_order(tie_break, d):
    rng = np.random.default_rng(11)
    checked = {False: 0, True: 0}
    for _ in range(40):
        points = _random_points(rng, int(rng.integers(1, 20)), d)
        for i in range(len(points)):
            position = pareto_position(points, i, tie_break)
            # Both sides of the boundary, and the extremes.
            for keep in {0, position, position + 1, math.ceil(len(points) / 3), len(points) + 1}:
                below = pareto_position_is_below(points, i, keep, tie_break)
                assert below == (position < keep), (points.tolist(), i, keep)
                checked[below] += 1
    assert min(checked.values()) > 300


def test_non_dominated_2d_equals_rank_zero_with_duplicates():
    hand = np.array([[1, 5], [2, 3], [2, 3], [1, 6], [3, 3], [0, 9], [3, 1], [2, 4]], dtype=float)
    # (1, 6) is dominated by (1, 5) (equal first, larger second), (3, 3) by (2, 3), (2, 4) by (2, 3);
    # the two (2, 3) do not dominate each other.
    np.testing.assert_array_equal(_non_dominated_2d(hand), [True, True, True, False, False, True, True, False])
    rng = np.random.default_rng(5)
    for _ in range(200):
        points = rng.integers(0, 6, size=(int(rng.integers(1, 40)), 2)).astype(float)
        np.testing.assert_array_equal(_non_dominated_2d(points), non_dominated_ranks(points) == 0)


def _fronts(points: np.ndarray) -> list[list[int]]:
    left, fronts = set(range(len(points))), []
    while left:
        front = [i for i in left if not any(np.all(points[j] <= points[i]) and np.any(points[j] < points[i])
                                            for j in left if j != i)]
        fronts.append(sorted(front))
        left -= set(front)
    return fronts


def _epsilon_net(points: np.ndarray, members: list[int], scale: np.ndarray) -> list[int]:
    scaled = points / scale
    chosen = [min(members, key=lambda r: (scaled[r, 0], r))]
    while len(chosen) < len(members):
        distance = {r: min(float(np.linalg.norm(scaled[r] - scaled[c])) for c in chosen)
                    for r in members if r not in chosen}
        chosen.append(max(distance, key=lambda r: (distance[r], -r)))
    return chosen


def _expected_decision(points: np.ndarray, reduction_factor: float) -> str:
    """Continue iff the newest row (the last) is among the first ceil(n / rf) of the Pareto order."""
    span = points.max(axis=0) - points.min(axis=0)
    scale = np.where(span > 0, span, 1.0)
    order = [row for front in _fronts(points) for row in _epsilon_net(points, front, scale)]
    return "continue" if order.index(len(points) - 1) < math.ceil(len(points) / reduction_factor) else "stop"


def test_simulated_moasha_run_follows_the_rule_at_every_rung(tmp_path):
    bench = dataclasses.replace(get_benchmark("mo-xgboost-sklearn-wine"), max_wallclock_time=0.06)
    path = Path(run_experiment(ExperimentSpec(benchmark=bench, method="MOASHA", seed=1, master_seed=7, tag="d",
                                              results_root=str(tmp_path))))
    metadata = json.loads((path / "metadata.json").read_text())
    results = pd.read_parquet(path / "results.parquet")
    levels = [1.0, 3.0, 9.0, 27.0]  # grace period 1, reduction factor 3, below the maximum of 64 rounds
    rungs: dict[float, list[list[float]]] = {level: [] for level in levels}
    judged: dict[float, set] = {level: set() for level in levels}
    decisions = 0
    for row in results.itertuples(index=False):
        reached = [lv for lv in reversed(levels) if row.fidelity >= lv and row.trial_id not in judged[lv]]
        expected = "continue"
        if reached:
            level = reached[0]
            judged[level].add(row.trial_id)
            rungs[level].append([row.val_error, row.elapsed_time])  # both minimised
            expected = _expected_decision(np.array(rungs[level]), 3)
            decisions += 1
        assert row.decision == expected, (row.trial_id, row.fidelity)
    assert metadata["metrics"] == ["val_error", "elapsed_time"]
    assert decisions > 80 and (results["decision"] == "stop").sum() > 30 and len(rungs[9.0]) > 3
