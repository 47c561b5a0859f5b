"""Pareto fronts and empirical attainment surfaces of repeated multi-objective runs (all objectives minimised).

Definitions (Fonseca & Fleming 1996; Grunert da Fonseca, Fonseca & Hall 2001). A run *attains* a goal ``z``
(a point of objective space) when one of its points ``p`` weakly dominates it, ``p <= z`` in every objective.
Over ``n`` runs of one method, the empirical attainment function is ``alpha(z) = #{runs attaining z} / n``;
the ``k``-th attainment surface (``1 <= k <= n``) is the lower boundary of ``{z : at least k runs attain z}``,
described here by its minimal points (its "corners"). ``k = 1`` is the best case over the runs (the Pareto
front of all runs pooled), ``k = n`` the worst case (goals every run attained), and the median attainment
surface is ``k = ceil(n / 2)``: goals attained in at least half of the runs (for even ``n`` this is the more
optimistic of the two middle levels, as in the ``eaf`` R package's 50% surface).

In two objectives the surface is computed exactly: run ``r``'s best second objective among its points with
first objective ``<= x`` is a non-increasing step function ``f_r(x)``, and goal ``(x, y)`` is attained by at
least ``k`` runs exactly when ``y`` is at least the ``k``-th smallest of ``f_1(x), ..., f_n(x)``. That k-th
smallest value ``g_k(x)`` only changes at the first coordinates of the runs' points, so evaluating it there and
keeping the points where it strictly drops gives every corner (``attainment_surface``). With more than two
objectives, ``attainment_surface`` of the runs projected onto two objectives (``project``) is exactly the
attainment function restricted to goals that leave the other objectives unbounded: "k runs reach at most x in
objective i and at most y in objective j, whatever their other objectives" -- figures state this.

Maximised objectives are turned into minimised ones by ``to_minimisation`` (sign flip) and back for drawing.
Every function is pure numpy; NaN rows (e.g. infeasible results) are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _as_points(points: np.ndarray | Sequence[Sequence[float]], n_objectives: int | None = None) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, n_objectives or 0)
    if array.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n_points, n_objectives), got shape {array.shape}")
    if n_objectives is not None and array.shape[1] != n_objectives:
        raise ValueError(f"points have {array.shape[1]} objectives, expected {n_objectives}")
    return array[~np.isnan(array).any(axis=1)]


def to_minimisation(points: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """``points`` (n, d) with every "max" objective negated, so all are minimised (its own inverse)."""
    points = np.asarray(points, dtype=float)
    unknown = [mode for mode in modes if mode not in ("min", "max")]
    if unknown:
        raise ValueError(f"modes must be 'min' or 'max', got {list(modes)}")
    if points.ndim != 2 or points.shape[1] != len(modes):
        raise ValueError(f"points of shape {points.shape} do not match {len(modes)} modes {list(modes)}")
    signs = np.array([1.0 if mode == "min" else -1.0 for mode in modes])
    return points * signs


def pareto_front(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """The non-dominated rows of ``points`` (minimisation), duplicates once, sorted lexicographically.

    A row is dropped when another row is at most as large in every objective and smaller in one.
    """
    p = np.unique(_as_points(points), axis=0)  # sorted lexicographically, duplicates removed
    if len(p) <= 1:
        return p
    if p.shape[1] == 2:
        # Sorted by x then y: a row is dominated exactly when an earlier row has y <= its y.
        earlier_best = np.concatenate(([np.inf], np.minimum.accumulate(p[:-1, 1])))
        return p[p[:, 1] < earlier_best]
    keep = np.ones(len(p), dtype=bool)
    for i in range(len(p)):  # O(n^2 d) in chunks of one row: fronts of a run are small after the first pass
        if not keep[i]:
            continue
        dominated = np.all(p[i] <= p, axis=1) & np.any(p[i] < p, axis=1)
        keep &= ~dominated
    return p[keep]


def attainment_counts(fronts: Sequence[np.ndarray], goals: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """How many of the runs ``fronts`` (each (n_r, d), minimisation) attain each goal (m, d): shape (m,)."""
    goals = np.asarray(goals, dtype=float)
    if goals.ndim != 2:
        raise ValueError(f"goals must be a 2-D array (n_goals, n_objectives), got shape {goals.shape}")
    counts = np.zeros(len(goals), dtype=np.int64)
    for front in fronts:
        points = _as_points(front, goals.shape[1])
        if len(points):
            counts += np.any(np.all(points[None, :, :] <= goals[:, None, :], axis=2), axis=1)
    return counts


def median_level(n_runs: int) -> int:
    """The attainment level of the median (50%) surface over ``n_runs`` runs: ``ceil(n_runs / 2)``."""
    if n_runs < 1:
        raise ValueError(f"an attainment surface needs at least one run, got {n_runs}")
    return math.ceil(n_runs / 2)


def attainment_surface(fronts: Sequence[np.ndarray], level: int) -> np.ndarray:
    """Corners of the ``level``-th attainment surface of 2-objective runs (minimisation), exactly.

    ``fronts`` holds one (n_r, 2) array per run (any points; dominated ones change nothing, a run may have
    none). Returns (m, 2) points sorted by the first objective ascending, second strictly descending: goal
    ``z`` is attained by at least ``level`` runs exactly when one of them weakly dominates ``z``.
    Empty (0, 2) when fewer than ``level`` runs have a point.
    """
    n_runs = len(fronts)
    if not 1 <= level <= max(n_runs, 1) or n_runs == 0:
        raise ValueError(f"level must be between 1 and the number of runs ({n_runs}), got {level}")
    runs = [_as_points(front, 2) for front in fronts]
    xs = np.unique(np.concatenate([run[:, 0] for run in runs]))
    if len(xs) == 0:
        return np.empty((0, 2))
    best_y = np.full((n_runs, len(xs)), np.inf)  # f_r(x) at every candidate x
    for r, run in enumerate(runs):
        if len(run) == 0:
            continue
        order = np.lexsort((run[:, 1], run[:, 0]))
        run_x = run[order, 0]
        running_min = np.minimum.accumulate(run[order, 1])
        position = np.searchsorted(run_x, xs, side="right") - 1
        best_y[r] = np.where(position >= 0, running_min[np.clip(position, 0, None)], np.inf)
    surface_y = np.partition(best_y, level - 1, axis=0)[level - 1]  # g_level(x)
    previous = np.concatenate(([np.inf], surface_y[:-1]))
    corner = np.isfinite(surface_y) & (surface_y < previous)
    return np.column_stack([xs[corner], surface_y[corner]])


def median_attainment_surface(fronts: Sequence[np.ndarray]) -> np.ndarray:
    """Corners of the median (``ceil(n/2)``-th) attainment surface of 2-objective runs (minimisation)."""
    return attainment_surface(fronts, median_level(len(fronts)))


def project(points: np.ndarray, objectives: tuple[int, int]) -> np.ndarray:
    """The columns ``objectives`` (i, j) of ``points`` (n, d): a run seen in two of its objectives."""
    points = np.asarray(points, dtype=float)
    i, j = objectives
    if points.ndim != 2 or not (0 <= i < points.shape[1] and 0 <= j < points.shape[1]) or i == j:
        raise ValueError(f"objectives {objectives} must be two distinct columns of points of shape {points.shape}")
    return points[:, [i, j]]


def staircase(corners: np.ndarray, upper: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the boundary of the region a 2-D front (or attainment surface) dominates, up to ``upper``.

    From ``(x_0, upper_y)`` down to the first corner, then alternately right and down through the corners
    sorted by x, and right to ``(upper_x, y_last)``: the outline one draws for an attainment surface. Corners
    beyond ``upper`` in either objective are left out (they dominate nothing inside the box).
    """
    corners = pareto_front(corners) if len(corners) else np.empty((0, 2))
    upper_x, upper_y = (float(v) for v in upper)
    inside = corners[(corners[:, 0] < upper_x) & (corners[:, 1] < upper_y)]
    if len(inside) == 0:
        return np.empty(0), np.empty(0)
    x = [inside[0, 0]]
    y = [upper_y]
    for k, (cx, cy) in enumerate(inside):
        x.append(cx)
        y.append(cy)
        next_x = inside[k + 1, 0] if k + 1 < len(inside) else upper_x
        x.append(next_x)
        y.append(cy)
    return np.asarray(x), np.asarray(y)
