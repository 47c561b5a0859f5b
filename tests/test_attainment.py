"""Pareto fronts and empirical attainment surfaces (``results.attainment``) on hand-made runs whose surfaces are
worked out by hand in the comments."""
from __future__ import annotations

import numpy as np
import pytest

from results.attainment import (
    attainment_counts,
    attainment_surface,
    median_attainment_surface,
    median_level,
    pareto_front,
    project,
    staircase,
    to_minimisation,
)

# Three runs, two minimised objectives.
#   A = {(1, 4), (3, 2)}:  f_A(x) = inf for x < 1, 4 on [1, 3), 2 from 3 on
#   B = {(2, 3), (4, 1)}:  f_B(x) = inf for x < 2, 3 on [2, 4), 1 from 4 on
#   C = {(0, 6), (5, 0)}:  f_C(x) = 6 on [0, 5), 0 from 5 on
# Sorted values of (f_A, f_B, f_C) at the candidate x = 0..5:
#   x=0: 6 inf inf | x=1: 4 6 inf | x=2: 3 4 6 | x=3: 2 3 6 | x=4: 1 2 6 | x=5: 0 1 2
RUN_A = np.array([[1.0, 4.0], [3.0, 2.0]])
RUN_B = np.array([[2.0, 3.0], [4.0, 1.0]])
RUN_C = np.array([[0.0, 6.0], [5.0, 0.0]])
RUNS = [RUN_A, RUN_B, RUN_C]


def test_best_attainment_surface_is_the_pooled_pareto_front():
    # k = 1: first column above, dropping nothing (it strictly decreases): every point of the three runs.
    expected = [[0, 6], [1, 4], [2, 3], [3, 2], [4, 1], [5, 0]]
    np.testing.assert_array_equal(attainment_surface(RUNS, 1), expected)
    np.testing.assert_array_equal(pareto_front(np.vstack(RUNS)), expected)


def test_median_attainment_surface_of_three_runs():
    # k = 2: second column: inf, 6, 4, 3, 2, 1 -> a corner at every x from 1 on.
    expected = [[1, 6], [2, 4], [3, 3], [4, 2], [5, 1]]
    assert median_level(3) == 2
    np.testing.assert_array_equal(median_attainment_surface(RUNS), expected)
    np.testing.assert_array_equal(attainment_surface(RUNS, 2), expected)


def test_worst_attainment_surface_keeps_only_the_strict_drops():
    # k = 3: third column: inf, inf, 6, 6, 6, 2 -> corners where it first becomes finite and where it drops.
    np.testing.assert_array_equal(attainment_surface(RUNS, 3), [[2, 6], [5, 2]])
    # (2, 6) is attained by all three runs: A by (1, 4), B by (2, 3), C by (0, 6); (4, 5) only by A and B.
    np.testing.assert_array_equal(attainment_counts(RUNS, [[2, 6], [4, 5], [0.5, 100]]), [3, 2, 1])


def test_surface_corners_are_attained_often_enough_and_nothing_below_them_is():
    rng = np.random.default_rng(7)
    runs = [rng.random((int(rng.integers(1, 9)), 2)) for _ in range(6)]
    for level in range(1, 7):
        corners = attainment_surface(runs, level)
        assert np.all(np.diff(corners[:, 0]) > 0) and np.all(np.diff(corners[:, 1]) < 0)
        assert np.all(attainment_counts(runs, corners) >= level)
        # Moving a corner down in either objective leaves the attained region (brute force count).
        assert np.all(attainment_counts(runs, corners - [1e-9, 0]) < level)
        assert np.all(attainment_counts(runs, corners - [0, 1e-9]) < level)
        # A random goal is attained by >= level runs exactly when some corner weakly dominates it.
        goals = rng.random((200, 2))
        covered = np.any(np.all(corners[None] <= goals[:, None], axis=2), axis=1)
        np.testing.assert_array_equal(covered, attainment_counts(runs, goals) >= level)


def test_even_number_of_runs_uses_the_upper_middle_level_and_ties_count_as_attained():
    # Two runs: the median level is 1 (goals at least half of the runs attain), i.e. the union.
    # Equal points: (1, 1) in both runs attains the goal (1, 1) twice (weak dominance).
    runs = [np.array([[1.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 3.0]])]
    assert median_level(2) == 1 and median_level(4) == 2 and median_level(5) == 3
    np.testing.assert_array_equal(median_attainment_surface(runs), [[0, 3], [1, 1]])
    np.testing.assert_array_equal(attainment_surface(runs, 2), [[1, 1]])
    np.testing.assert_array_equal(attainment_counts(runs, [[1.0, 1.0]]), [2])


def test_runs_without_points_and_nan_rows():
    # The infeasible (NaN) row and the empty run attain nothing; one run of three has a point.
    runs = [np.array([[np.nan, np.nan], [2.0, 2.0]]), np.empty((0, 2)), np.array([[np.nan, 1.0]])]
    np.testing.assert_array_equal(attainment_surface(runs, 1), [[2, 2]])
    assert attainment_surface(runs, 2).shape == (0, 2)
    with pytest.raises(ValueError, match="level must be between 1 and the number of runs"):
        attainment_surface(runs, 4)
    with pytest.raises(ValueError, match="at least one run"):
        median_level(0)


def test_pareto_front_in_three_objectives():
    points = np.array([[1, 2, 3], [2, 1, 3], [1, 2, 3], [2, 2, 3], [0, 5, 5], [1, 2, 4], [3, 3, 0]], dtype=float)
    # (2,2,3) is dominated by (1,2,3); (1,2,4) by (1,2,3); the duplicate (1,2,3) appears once.
    np.testing.assert_array_equal(pareto_front(points), [[0, 5, 5], [1, 2, 3], [2, 1, 3], [3, 3, 0]])


def test_projection_of_three_objective_runs_is_the_attainment_with_the_third_objective_free():
    # Run 1 reaches (1, 1) in objectives (0, 1) only with a large third objective; run 2 reaches (2, 2).
    runs = [np.array([[1.0, 1.0, 9.0], [3.0, 3.0, 0.0]]), np.array([[2.0, 2.0, 1.0]])]
    projected = [project(run, (0, 1)) for run in runs]
    # Level 2 in objectives 0 and 1: f_1 = 1 from x = 1; f_2 = 2 from x = 2 -> second smallest: inf, 2.
    np.testing.assert_array_equal(attainment_surface(projected, 2), [[2, 2]])
    # The same goal with the third objective unbounded is attained by both runs in 3-D.
    np.testing.assert_array_equal(attainment_counts(runs, [[2.0, 2.0, np.inf], [2.0, 2.0, 0.5]]), [2, 0])
    with pytest.raises(ValueError, match="two distinct columns"):
        project(runs[0], (1, 1))


def test_maximised_objectives_are_negated():
    points = np.array([[0.1, 0.9], [0.2, 0.95]])  # (error, accuracy): min, max
    np.testing.assert_array_equal(to_minimisation(points, ["min", "max"]), [[0.1, -0.9], [0.2, -0.95]])
    # As minimisation both are on the front: lower error or higher accuracy.
    assert len(pareto_front(to_minimisation(points, ["min", "max"]))) == 2
    with pytest.raises(ValueError, match="do not match 3 modes"):
        to_minimisation(points, ["min", "min", "min"])


def test_staircase_outlines_the_dominated_region_inside_the_box():
    corners = np.array([[1.0, 4.0], [3.0, 2.0], [6.0, 0.5]])  # (6, 0.5) lies beyond upper x = 5
    x, y = staircase(corners, upper=(5.0, 5.0))
    np.testing.assert_array_equal(x, [1, 1, 3, 3, 5])
    np.testing.assert_array_equal(y, [5, 4, 4, 2, 2])
    x, y = staircase(np.array([[7.0, 7.0]]), upper=(5.0, 5.0))
    assert x.size == 0 and y.size == 0
