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
- ``epsilon_net_order(points, scale)``: an epsilon-net order of one set (normally one front; Clarkson 2005, used
  for MOASHA by Salinas et al. 2021 and Schmucker et al. 2021): the seed is the point best in the first objective,
  then, repeatedly, the point whose Euclidean distance to the nearest point already chosen is largest. Distances
  are measured on objectives divided by ``scale`` (MOASHA passes each objective's range over the rung, see
  ``baselines.moasha``). Ties (equal first objective for the seed, equal distances later) go to the earlier row;
  duplicates of a chosen point (distance 0) come last, in row order.
- ``pareto_order(points, tie_break)``: a total order, best first: by Pareto rank, then within the rank by the
  tie-break, then by row index (earlier first). ``tie_break="crowding"`` (the default here: NSGA-II's
  crowded-comparison operator, what MO-REA uses): larger crowding distance first, so points in sparse regions of
  a front are kept before crowded ones. ``tie_break="epsilon_net"``: the front's epsilon-net order, objectives
  scaled by their range over all finite rows of ``points`` (MOASHA's default). NaN rows rank last in row order.
- ``pareto_position(points, i, tie_break)``: where row ``i`` lands in ``pareto_order`` (ordering only its own
  front, and for the epsilon-net stopping as soon as row ``i`` is chosen: what a rung decision needs).
- ``pareto_position_is_below(points, i, keep, tie_break)``: ``pareto_position(...) < keep`` (a rung decision),
  answered from a dominance count or the rank-0 rows alone where that settles it.
- ``pareto_front_mask(points)``: the non-dominated rows.
"""
from __future__ import annotations

import bisect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

TieBreak = Literal["epsilon_net", "crowding"]
TIE_BREAKS: tuple[str, ...] = ("epsilon_net", "crowding")


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
    # The distinct rows sorted by (first, second): a lexsort and a comparison of neighbours (np.unique(axis=0)
    # gives the same rows but sorts a structured view, several times slower on MOASHA's hot path).
    order = np.lexsort((p[:, 1], p[:, 0]))
    ordered = p[order]
    starts = np.ones(len(p), dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    front_min: list[float] = []
    unique_ranks = np.empty(int(starts.sum()), dtype=np.int64)
    for i, y in enumerate(ordered[starts, 1].tolist()):
        k = bisect.bisect_right(front_min, y)
        if k == len(front_min):
            front_min.append(y)
        else:
            front_min[k] = y
        unique_ranks[i] = k
    ranks = np.empty(len(p), dtype=np.int64)
    ranks[order] = unique_ranks[np.cumsum(starts) - 1]
    return ranks


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


def check_tie_break(tie_break: str) -> None:
    """Raise a ValueError naming the valid choices for an unknown within-front tie-break."""
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {list(TIE_BREAKS)}, got {tie_break!r}")


def objective_scale(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Per-objective range over the finite values of ``points`` (1 where the range is zero or undefined).

    Dividing by it makes the epsilon-net's distances unit-free: without it an objective measured in seconds
    (hundreds) would decide every distance against an error in [0, 1].
    """
    p = _as_points(points)
    finite = np.where(np.isfinite(p), p, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: its range is undefined
        span = np.nanmax(finite, axis=0) - np.nanmin(finite, axis=0)
    return np.where(np.isfinite(span) & (span > 0), span, 1.0)


def epsilon_net_order(points: np.ndarray | Sequence[Sequence[float]], scale: np.ndarray | None = None,
                      stop_at: int | None = None) -> np.ndarray:
    """Row indices of a NaN-free set in epsilon-net order (see the module doc); ``scale`` divides each objective.

    ``stop_at``: return the order only up to and including that row (what ``pareto_position`` needs). Each step
    updates every remaining row's distance to its nearest chosen row with the one new row: O(n d) per step,
    O(n^2 d) for the whole order, memory O(n d). Infinite coordinates are placed one range beyond the finite ones.
    """
    p = _as_points(points)
    n = len(p)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if np.isnan(p).any():
        raise ValueError("epsilon_net_order needs NaN-free points; rank NaN rows separately (pareto_order does)")
    scaled = p / (objective_scale(p) if scale is None else np.asarray(scale, dtype=float))
    if not np.isfinite(scaled).all():
        finite = np.where(np.isfinite(scaled), scaled, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
        low, high = np.nan_to_num(low), np.nan_to_num(high)
        scaled = np.where(scaled == np.inf, high + 1.0, np.where(scaled == -np.inf, low - 1.0, scaled))
    order = np.empty(n, dtype=np.int64)
    chosen = np.zeros(n, dtype=bool)
    # The seed: smallest first objective, the earlier row among equals (argmin returns the first).
    current = int(np.argmin(scaled[:, 0]))
    nearest = np.full(n, np.inf)
    for step in range(n):
        order[step] = current
        chosen[current] = True
        if current == stop_at or step == n - 1:
            return order[: step + 1]
        nearest = np.minimum(nearest, np.sqrt(((scaled - scaled[current]) ** 2).sum(axis=1)))
        # Farthest from everything chosen; chosen rows are excluded, equal distances go to the earlier row.
        current = int(np.argmax(np.where(chosen, -1.0, nearest)))
    return order


def pareto_order(points: np.ndarray | Sequence[Sequence[float]], tie_break: TieBreak = "crowding") -> np.ndarray:
    """Row indices best first: Pareto rank, then the within-rank tie-break, then row index (see the module doc)."""
    check_tie_break(tie_break)
    p = _as_points(points)
    ranks = non_dominated_ranks(p)
    if tie_break == "epsilon_net":
        scale = objective_scale(p)
        within = np.zeros(len(p), dtype=np.int64)
        for rank in np.unique(ranks):
            members = np.flatnonzero(ranks == rank)
            if np.isnan(p[members]).any():
                continue  # NaN rows: no geometry, ordered by index
            within[members[epsilon_net_order(p[members], scale)]] = np.arange(len(members))
        return np.lexsort((np.arange(len(p)), within, ranks))
    crowding = np.zeros(len(p))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        front = p[members]
        if np.isnan(front).any():
            continue  # NaN rows: no geometry, ordered by index
        crowding[members] = crowding_distance(front)
    # lexsort sorts by the last key first: rank, then -crowding, then index.
    return np.lexsort((np.arange(len(p)), -crowding, ranks))


def pareto_position(points: np.ndarray | Sequence[Sequence[float]], i: int,
                    tie_break: TieBreak = "crowding") -> int:
    """The position of row ``i`` in ``pareto_order(points, tie_break)`` (0 = best), ordering only its front."""
    check_tie_break(tie_break)
    p = _as_points(points)
    ranks = non_dominated_ranks(p)
    members = np.flatnonzero(ranks == ranks[i])
    ahead = int((ranks < ranks[i]).sum())
    if np.isnan(p[members]).any():
        return ahead + int((members < i).sum())  # the NaN rank: index order
    mine = int(np.flatnonzero(members == i)[0])
    if tie_break == "epsilon_net":
        return ahead + len(epsilon_net_order(p[members], objective_scale(p), stop_at=mine)) - 1
    crowding = crowding_distance(p[members])
    own = crowding[mine]
    return ahead + int(((crowding > own) | ((crowding == own) & (members < i))).sum())


def _non_dominated_2d(p: np.ndarray) -> np.ndarray:
    """Rank-0 mask of NaN-free 2-D points in O(n log n), vectorised (``non_dominated_ranks(p) == 0``).

    Row j is dominated iff some row has a smaller second objective and a first one no larger, or a smaller
    first objective and a second one no larger. Sorted by (first, second), the rows before j hold every row
    with a first objective no larger (and equal rows; an equal row does not dominate), so the first test is the
    exclusive prefix minimum of the second objective, the second test that minimum over the rows whose first
    objective is strictly smaller (a prefix too).
    """
    order = np.lexsort((p[:, 1], p[:, 0]))
    first, second = p[order, 0], p[order, 1]
    prefix_min = np.minimum.accumulate(second)
    before = np.concatenate(([np.inf], prefix_min[:-1]))  # min over the rows sorted before j
    strictly_left = np.searchsorted(first, first, side="left")  # rows with a smaller first objective
    left_min = np.where(strictly_left > 0, prefix_min[np.maximum(strictly_left - 1, 0)], np.inf)
    dominated = (before < second) | (left_min <= second)
    mask = np.empty(len(p), dtype=bool)
    mask[order] = ~dominated
    return mask


def pareto_position_is_below(points: np.ndarray | Sequence[Sequence[float]], i: int, keep: int,
                             tie_break: TieBreak = "crowding") -> bool:
    """``pareto_position(points, i, tie_break) < keep``, computed cheaply where the answer is clear.

    Every row dominating row ``i`` has a smaller Pareto rank, so it is ahead of ``i``: with at least ``keep``
    of them the answer is False after one vectorised dominance count. A row nothing dominates has rank 0, so
    only the rank-0 rows (``_non_dominated_2d`` for two objectives) are ordered. Otherwise, with NaN in row
    ``i``, or with more than two objectives, ``pareto_position`` decides. Same answer in every case (MOASHA's
    rung decisions use it; tests compare the two on random points with ties and NaN).
    """
    check_tie_break(tie_break)
    p = _as_points(points)
    row = p[i]
    if np.isnan(row).any():
        return pareto_position(p, i, tie_break) < keep
    # NaN comparisons are False: a NaN row dominates nothing, and it ranks after every finite row anyway.
    dominators = int((np.all(p <= row, axis=1) & np.any(p < row, axis=1)).sum())
    if dominators >= keep:
        return False
    if dominators > 0 or p.shape[1] != 2:
        return pareto_position(p, i, tie_break) < keep
    finite = np.flatnonzero(~np.isnan(p).any(axis=1))
    members = finite[_non_dominated_2d(p[finite])]
    if len(members) <= keep:
        return True
    mine = int(np.flatnonzero(members == i)[0])
    if tie_break == "epsilon_net":
        return len(epsilon_net_order(p[members], objective_scale(p), stop_at=mine)) - 1 < keep
    crowding = crowding_distance(p[members])
    own = crowding[mine]
    return int(((crowding > own) | ((crowding == own) & (members < i))).sum()) < keep


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
