"""Multi-objective building blocks: objective vectors, non-dominated sorting, crowding distance, a total order.

Everything here works on points to *minimise*, shape ``(n, d)``: a maximised objective is multiplied by -1
first (``ObjectiveVector``). Pure numpy, no state; the methods (MOASHA, MO-REA, MOBO) build on them.

- ``non_dominated_ranks(points)``: Pareto rank of every point (0 = non-dominated, 1 = non-dominated once rank
  0 is removed, ...): NSGA-II's fast non-dominated sorting (Deb et al. 2002) with a vectorised dominance
  matrix, and an O(n log n) sweep for two objectives (the common case, and MOASHA's hot path). A point dominates another if it is no worse in every objective and better in at least one; equal
  points share a rank. Rows holding NaN (a diverged or failed evaluation) rank after every finite row.
- ``crowding_distance(points)``: NSGA-II's crowding distance within one set (normally one front): per objective,
  the points are sorted, the two extremes get infinity and every other point the gap between its neighbours
  divided by the objective's range; the distances are summed over objectives. An objective with zero range
  adds nothing. Ties in an objective are ordered by row index (stable sort), so the result is deterministic.
- ``pareto_order(points)``: a total order, best first: by Pareto rank, then by crowding distance within the
  rank (larger first: points in sparse regions of a front are kept before crowded ones, NSGA-II's
  crowded-comparison operator), then by row index (earlier first). This is the tie-break MOASHA uses.
- ``pareto_position(points, i)``: where row ``i`` lands in ``pareto_order`` (computing crowding only in its
  own front: what a rung decision needs).
- ``pareto_front_mask(points)``: the non-dominated rows.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def _as_points(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"points must have shape (n, objectives), got shape {array.shape}")
    return array


def dominance_matrix(points: np.ndarray) -> np.ndarray:
    """``D[i, j]`` is True when point i dominates point j (all objectives <=, at least one <)."""
    p = _as_points(points)
    no_worse = np.all(p[:, None, :] <= p[None, :, :], axis=2)
    better = np.any(p[:, None, :] < p[None, :, :], axis=2)
    return no_worse & better


def _ranks_2d(p: np.ndarray) -> np.ndarray:
    """Pareto ranks of NaN-free 2-D points in O(n log n).

    Distinct points are visited by (first, second) objective ascending; every point visited before has a first
    objective no larger, so front k dominates the current point iff the smallest second objective seen in
    front k is <= its own. Those minima never decrease with k, so the point's rank is found by bisection and it
    becomes its front's new minimum. Equal points share their rank (computed once on the distinct rows).
    """
    unique, inverse = np.unique(p, axis=0, return_inverse=True)  # rows sorted by (first, second)
    front_min: list[float] = []
    unique_ranks = np.empty(len(unique), dtype=np.int64)
    for i, y in enumerate(unique[:, 1].tolist()):
        k = bisect.bisect_right(front_min, y)
        if k == len(front_min):
            front_min.append(y)
        else:
            front_min[k] = y
        unique_ranks[i] = k
    return unique_ranks[inverse.reshape(-1)]


def non_dominated_ranks(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Pareto rank of every row (0 = the non-dominated front); NaN rows rank last (see the module doc)."""
    p = _as_points(points)
    n = len(p)
    ranks = np.full(n, -1, dtype=np.int64)
    finite = ~np.isnan(p).any(axis=1)
    index = np.flatnonzero(finite)
    if p.shape[1] == 2:
        ranks[index] = _ranks_2d(p[index])
        ranks[~finite] = ranks[index].max() + 1 if len(index) else 0
        return ranks
    dominated_by = dominance_matrix(p[index])  # (m, m)
    counts = dominated_by.sum(axis=0)  # how many remaining points dominate each point
    remaining = np.ones(len(index), dtype=bool)
    rank = 0
    while remaining.any():
        front = remaining & (counts == 0)
        ranks[index[front]] = rank
        remaining &= ~front
        counts = counts - dominated_by[front].sum(axis=0)
        rank += 1
    ranks[~finite] = rank
    return ranks


def pareto_front_mask(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """True for the non-dominated rows (NaN rows never are)."""
    p = _as_points(points)
    return (non_dominated_ranks(p) == 0) & ~np.isnan(p).any(axis=1)


def crowding_distance(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """NSGA-II crowding distance of every row within the given set (see the module doc)."""
    p = _as_points(points)
    n, d = p.shape
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for k in range(d):
        order = np.argsort(p[:, k], kind="stable")
        values = p[order, k]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0 and np.isfinite(span):
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def pareto_order(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Row indices best first: Pareto rank, then larger crowding distance within the rank, then row index."""
    p = _as_points(points)
    ranks = non_dominated_ranks(p)
    crowding = np.zeros(len(p))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        front = p[members]
        if np.isnan(front).any():
            continue  # NaN rows: no geometry, ordered by index
        crowding[members] = crowding_distance(front)
    # lexsort sorts by the last key first: rank, then -crowding, then index.
    return np.lexsort((np.arange(len(p)), -crowding, ranks))


def pareto_position(points: np.ndarray | Sequence[Sequence[float]], i: int) -> int:
    """The position of row ``i`` in ``pareto_order(points)`` (0 = best), without ordering the other fronts."""
    p = _as_points(points)
    ranks = non_dominated_ranks(p)
    members = np.flatnonzero(ranks == ranks[i])
    ahead = int((ranks < ranks[i]).sum())
    if np.isnan(p[members]).any():
        return ahead + int((members < i).sum())  # the NaN rank: index order
    crowding = crowding_distance(p[members])
    mine = crowding[members == i][0]
    return ahead + int(((crowding > mine) | ((crowding == mine) & (members < i))).sum())


@dataclass(frozen=True)
class ObjectiveVector:
    """Turns a result's metrics into a vector to minimise (maximised objectives negated)."""

    metrics: tuple[str, ...]
    modes: tuple[str, ...]

    @staticmethod
    def build(metrics: Sequence[str] | None, modes: Sequence[str] | None, method: str) -> ObjectiveVector:
        """Validate a multi-objective method's objectives, with messages naming the fix."""
        metrics = list(metrics or [])
        modes = list(modes or [])
        if len(metrics) < 2:
            raise ValueError(
                f"{method} is a multi-objective method: it needs at least two objectives (metrics=[...], "
                f"modes=[...]), got metrics={metrics}; run it on an mo-* benchmark"
            )
        if len(modes) != len(metrics):
            raise ValueError(f"{method}: give one mode per metric, got metrics={metrics} and modes={modes}")
        bad = [m for m in modes if m not in ("min", "max")]
        if bad:
            raise ValueError(f"{method}: modes must be 'min' or 'max', got {bad}")
        return ObjectiveVector(tuple(metrics), tuple(modes))

    @property
    def signs(self) -> np.ndarray:
        return np.array([1.0 if m == "min" else -1.0 for m in self.modes])

    def __call__(self, result: Mapping[str, float]) -> np.ndarray:
        try:
            raw = np.array([float(result[m]) for m in self.metrics])
        except KeyError as err:
            raise KeyError(f"result lacks the objective {err.args[0]!r}; it has {sorted(result)}") from None
        return self.signs * raw
