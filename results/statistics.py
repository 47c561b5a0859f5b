"""Statistics for comparing HPO methods: small pure functions over numpy arrays.

Definitions follow rliable (Agarwal et al., 2021) so that numbers agree with the community's:

* ``iqm`` is ``scipy.stats.trim_mean(x, 0.25)`` over the flattened values: sort, drop
  ``floor(0.25 * N)`` values from each end, average the rest. When N is not a multiple of 4 the cut
  is rounded down; this is NOT the fractional-weight IQM.
* ``iqm_fractional`` is the variant used by Syne Tune's ``iqm_bootstrap`` mode: every value carries
  probability mass 1/N, mass 1/4 is removed from each end and the value at the boundary keeps a
  fractional weight (N = 5 gives weights 0, .3, .4, .3, 0). It equals ``iqm`` when N is a multiple
  of 4. Our default aggregation uses ``iqm`` (rliable's definition).
* Bootstrap intervals are percentile intervals (the ``(1-level)/2`` and ``(1+level)/2`` quantiles
  of the bootstrap distribution, numpy's linear interpolation), the point estimate is the statistic
  of the original data. Unlike rliable (which draws from numpy's global RNG), every random function
  here takes an explicit ``numpy.random.Generator`` or integer seed: the same seed gives the same
  interval, bit for bit.
* ``stratified_bootstrap`` resamples runs with replacement within each task. For curves of shape
  ``(runs, tasks, T)`` a replicate resamples WHOLE CURVES: one run index per (replicate, run, task)
  is applied to every time step. rliable draws an independent run index per (run, task, time) cell;
  pointwise intervals have the same distribution either way, but ours stay valid for statistics
  across time (e.g. area under the curve).

Aggregate functions take an ``axis`` argument (an int, a tuple of ints or None) like numpy
reductions, which is how the bootstrap evaluates them on all replicates at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Axis = int | tuple[int, ...] | None
SeedOrGenerator = int | np.random.Generator

# Bootstrap replicates are processed in blocks whose gathered array holds at most this many values,
# which bounds memory (about 160 MB of float64) whatever n_boot is.
_MAX_VALUES_PER_BLOCK = 20_000_000
# Smaller blocks for the plain bootstrap: a gathered block that fits in cache sorts much faster.
_CACHE_FRIENDLY_BLOCK_VALUES = 1_000_000


def as_generator(seed_or_rng: SeedOrGenerator) -> np.random.Generator:
    """Return a Generator from an explicit seed or Generator (None is refused: results must repeat)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, (int, np.integer)) and not isinstance(seed_or_rng, bool):
        return np.random.default_rng(int(seed_or_rng))
    raise TypeError(
        f"expected an integer seed or a numpy.random.Generator, got {seed_or_rng!r}; "
        "pass e.g. rng=0 so that intervals are reproducible"
    )


def _move_axes_last(values: np.ndarray, axis: Axis) -> np.ndarray:
    """Move the reduced axes to the end and merge them into one, so reductions see a single last axis."""
    values = np.asarray(values, dtype=float)
    if axis is None:
        return values.reshape(-1)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(a % values.ndim for a in axes)
    kept = [a for a in range(values.ndim) if a not in axes]
    moved = np.transpose(values, kept + list(axes))
    return moved.reshape([values.shape[a] for a in kept] + [-1])


def iqm(values: np.ndarray, axis: Axis = None) -> np.ndarray | float:
    """Interquartile mean as rliable and ``scipy.stats.trim_mean(x, 0.25)`` define it.

    The values along ``axis`` (all values when None; a tuple merges several axes, e.g. runs and
    tasks) are sorted, ``floor(N/4)`` are dropped from each end and the rest averaged. A NaN among
    the values gives NaN.
    """
    flat = _move_axes_last(values, axis)
    n = flat.shape[-1]
    if n == 0:
        raise ValueError("iqm of an empty array is undefined")
    cut = int(0.25 * n)
    ordered = np.sort(flat, axis=-1)
    result = ordered[..., cut : n - cut].mean(axis=-1)
    # np.sort puts NaN last, so a NaN could be trimmed away silently; propagate it instead.
    result = np.where(np.isnan(flat).any(axis=-1), np.nan, result)
    return float(result) if np.ndim(result) == 0 else result


def iqm_fractional_weights(n: int) -> np.ndarray:
    """Weights of the sorted values in Syne Tune's fractional IQM (sum to 1): mass 1/4 cut off each end."""
    if n < 1:
        raise ValueError(f"need at least one value, got n={n}")
    lower_edges = np.arange(n) / n
    upper_edges = np.arange(1, n + 1) / n
    overlap = np.clip(np.minimum(upper_edges, 0.75) - np.maximum(lower_edges, 0.25), 0.0, None)
    return 2.0 * overlap


def iqm_fractional(values: np.ndarray, axis: Axis = None) -> np.ndarray | float:
    """Fractional-weight IQM (Syne Tune's ``iqm_bootstrap`` point estimate); equals ``iqm`` when N % 4 == 0."""
    flat = _move_axes_last(values, axis)
    ordered = np.sort(flat, axis=-1)
    result = ordered @ iqm_fractional_weights(flat.shape[-1])
    result = np.where(np.isnan(flat).any(axis=-1), np.nan, result)
    return float(result) if np.ndim(result) == 0 else result


def mean(values: np.ndarray, axis: Axis = None) -> np.ndarray | float:
    """Arithmetic mean (for a rectangular runs x tasks array, equal to rliable's mean of per-task means)."""
    result = _move_axes_last(values, axis).mean(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def median(values: np.ndarray, axis: Axis = None) -> np.ndarray | float:
    """Median of all values along ``axis`` (note: rliable's ``aggregate_median`` is the median of per-task means)."""
    result = np.median(_move_axes_last(values, axis), axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def optimality_gap(values: np.ndarray, gamma: float = 1.0, axis: Axis = None) -> np.ndarray | float:
    """rliable's optimality gap ``gamma - mean(min(x, gamma))`` (for higher-is-better normalised scores)."""
    result = gamma - _move_axes_last(np.minimum(values, gamma), axis).mean(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def probability_of_improvement(x: np.ndarray, y: np.ndarray, lower_is_better: bool = False) -> float:
    """P(X improves on Y): Mann-Whitney U / (n_x * n_y) per task, averaged over tasks (rliable).

    ``x`` has shape ``(n_runs_x, n_tasks)`` and ``y`` ``(n_runs_y, n_tasks)`` (1-D arrays are one
    task). Ties count one half, so identical samples give 0.5. With ``lower_is_better`` (regret),
    improving means being smaller.
    """
    x2, y2 = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x2.shape[1] != y2.shape[1]:
        raise ValueError(f"x has {x2.shape[1]} tasks but y has {y2.shape[1]}; they must match")
    return float(_probability_of_improvement_batched(x2[None], y2[None], lower_is_better)[0])


def _as_runs_by_tasks(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return values[:, None]
    if values.ndim != 2:
        raise ValueError(f"expected shape (runs, tasks), got {values.shape}")
    return values


def _probability_of_improvement_batched(x: np.ndarray, y: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """x: (b, nx, tasks), y: (b, ny, tasks) -> (b,) probabilities averaged over tasks."""
    if lower_is_better:
        x, y = -x, -y
    diff = x[:, :, None, :] - y[:, None, :, :]
    per_pair = (diff > 0) + 0.5 * (diff == 0)
    return per_pair.mean(axis=(1, 2)).mean(axis=-1)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval; arrays for curves, floats for scalars."""

    point: np.ndarray | float
    lower: np.ndarray | float
    upper: np.ndarray | float


def _accepts_axis(statistic: Callable) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):
        return False


def _apply_statistic(statistic: Callable, values: np.ndarray, axis: Axis) -> np.ndarray:
    """Evaluate ``statistic`` over ``axis``; statistics without an ``axis`` argument are looped over."""
    if _accepts_axis(statistic):
        return np.asarray(statistic(values, axis=axis), dtype=float)
    flat = _move_axes_last(values, axis)
    outer = flat.reshape(-1, flat.shape[-1])
    results = np.array([statistic(row) for row in outer], dtype=float)
    return results.reshape(flat.shape[:-1] + results.shape[1:])


def _percentile_interval(replicates: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 1.0 - level
    lower, upper = np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return lower, upper


def _scalar_or_array(values: np.ndarray) -> np.ndarray | float:
    return float(values) if np.ndim(values) == 0 else values


def bootstrap_replicates(
    values: np.ndarray,
    statistic: Callable = iqm,
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
) -> np.ndarray:
    """Statistic of ``n_boot`` resamples of the rows (axis 0) of ``values``: shape ``(n_boot, *values.shape[1:])``.

    One index matrix ``(n_boot, n_rows)`` is drawn and applied to every column, so for a
    ``(n_runs, n_grid)`` matrix of curves each replicate resamples whole curves.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ValueError("bootstrap needs at least one value along axis 0")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    generator = as_generator(rng)
    n_rows = values.shape[0]
    indices = generator.integers(0, n_rows, size=(n_boot, n_rows))
    rest = values.shape[1:]
    block = max(1, _CACHE_FRIENDLY_BLOCK_VALUES // max(1, values.size))
    # Gather with the resampled axis last and contiguous, so sorting (IQM) needs no extra copy.
    columns_last = np.moveaxis(values, 0, -1)
    replicates = np.empty((n_boot,) + rest)
    for start in range(0, n_boot, block):
        gathered = columns_last[..., indices[start : start + block]]  # rest + (b, n_rows)
        statistic_values = _apply_statistic(statistic, gathered, axis=-1)  # rest + (b,)
        replicates[start : start + block] = np.moveaxis(statistic_values, -1, 0)
    return replicates


def bootstrap_interval(
    values: np.ndarray,
    statistic: Callable = iqm,
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
    level: float = 0.95,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over the rows (axis 0) of ``values``.

    ``values`` of shape ``(n,)`` gives scalars; ``(n_runs, n_grid)`` gives one interval per grid
    point, computed from the same resampled runs at every point. Columns containing NaN give NaN.
    The statistic must act column by column (as every aggregate here does).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 2 and values.shape[1] > 1:
        # Best-so-far curves on a fine grid repeat the same column until some run improves. With one
        # index matrix for all columns, equal columns give equal results, so compute each run of
        # equal consecutive columns once and copy it: exact, and several times faster.
        same_as_previous = np.all(
            (values[:, 1:] == values[:, :-1]) | (np.isnan(values[:, 1:]) & np.isnan(values[:, :-1])), axis=0
        )
        distinct = np.concatenate(([True], ~same_as_previous))
        if not distinct.all():
            compact = bootstrap_interval(values[:, distinct], statistic, n_boot, rng, level)
            source = np.cumsum(distinct) - 1
            return Interval(compact.point[source], compact.lower[source], compact.upper[source])
    replicates = bootstrap_replicates(values, statistic, n_boot, rng)
    point = _apply_statistic(statistic, values, axis=0)
    lower, upper = _percentile_interval(replicates, level)
    return Interval(_scalar_or_array(point), _scalar_or_array(lower), _scalar_or_array(upper))


def stratified_bootstrap_replicates(
    scores: np.ndarray,
    statistic: Callable = iqm,
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
    task_bootstrap: bool = False,
) -> np.ndarray:
    """Statistic of stratified resamples of ``scores`` of shape ``(runs, tasks[, ...])``.

    Each replicate draws, for every task, ``runs`` run indices with replacement (whole curves when
    there are trailing axes), so every task keeps its run count. ``statistic`` is called with
    ``axis=(1, 2)`` on arrays of shape ``(b, runs, tasks, ...)``. With ``task_bootstrap`` the tasks
    are resampled with replacement too.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim < 2:
        raise ValueError(f"scores must have shape (runs, tasks[, ...]), got {scores.shape}")
    n_runs, n_tasks = scores.shape[:2]
    if n_runs == 0 or n_tasks == 0:
        raise ValueError(f"scores must hold at least one run and one task, got shape {scores.shape}")
    generator = as_generator(rng)
    run_indices = generator.integers(0, n_runs, size=(n_boot, n_runs, n_tasks))
    task_indices = (
        generator.integers(0, n_tasks, size=(n_boot, 1, n_tasks))
        if task_bootstrap
        else np.broadcast_to(np.arange(n_tasks), (n_boot, 1, n_tasks))
    )
    block = max(1, _MAX_VALUES_PER_BLOCK // max(1, scores.size))
    replicates = None
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        tasks = task_indices[start:stop]
        # A resampled task takes its runs from the original task's run indices of that slot.
        gathered = scores[run_indices[start:stop], tasks]  # (b, runs, tasks, ...)
        values = _apply_statistic(statistic, gathered, axis=(1, 2))
        if replicates is None:
            replicates = np.empty((n_boot,) + values.shape[1:])
        replicates[start:stop] = values
    return replicates


def stratified_bootstrap(
    scores: np.ndarray,
    statistic: Callable = iqm,
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
    level: float = 0.95,
    task_bootstrap: bool = False,
) -> Interval:
    """Percentile interval of ``statistic`` (aggregating runs and tasks) under the stratified bootstrap.

    ``scores``: ``(runs, tasks)`` for final scores or ``(runs, tasks, T)`` for curves (whole curves
    are resampled together; see the module docstring for the difference from rliable). The statistic must
    act on each point of the curves separately (as every aggregate here does).
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 3 and scores.shape[2] > 1:
        # Best-so-far curves on a fine grid repeat the same point until some run improves. The resampled
        # indices do not depend on the points, so equal consecutive points give equal replicates: resample
        # each run of equal points once and copy its interval (several times faster). The point estimate,
        # one evaluation, is taken from all the points as before (numpy may sum a different number of
        # columns in another order, a last-bit difference).
        same_as_previous = np.all(
            (scores[:, :, 1:] == scores[:, :, :-1]) | (np.isnan(scores[:, :, 1:]) & np.isnan(scores[:, :, :-1])),
            axis=(0, 1),
        )
        distinct = np.concatenate(([True], ~same_as_previous))
        if not distinct.all():
            compact = stratified_bootstrap(scores[:, :, distinct], statistic, n_boot, rng, level, task_bootstrap)
            source = np.cumsum(distinct) - 1
            point = _apply_statistic(statistic, scores[None], axis=(1, 2))[0]
            return Interval(point, compact.lower[source], compact.upper[source])
    replicates = stratified_bootstrap_replicates(scores, statistic, n_boot, rng, task_bootstrap)
    point = _apply_statistic(statistic, scores[None], axis=(1, 2))[0]
    lower, upper = _percentile_interval(replicates, level)
    return Interval(_scalar_or_array(point), _scalar_or_array(lower), _scalar_or_array(upper))


def probability_of_improvement_interval(
    x: np.ndarray,
    y: np.ndarray,
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
    level: float = 0.95,
    lower_is_better: bool = False,
) -> Interval:
    """P(X improves on Y) with a percentile interval; x and y are resampled independently within each task.

    This is rliable's ``StratifiedIndependentBootstrap``: the two methods may have different run counts.
    """
    x2, y2 = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x2.shape[1] != y2.shape[1]:
        raise ValueError(f"x has {x2.shape[1]} tasks but y has {y2.shape[1]}; they must match")
    generator = as_generator(rng)
    tasks = np.arange(x2.shape[1])
    x_indices = generator.integers(0, x2.shape[0], size=(n_boot,) + x2.shape)
    y_indices = generator.integers(0, y2.shape[0], size=(n_boot,) + y2.shape)
    per_replicate = x2.shape[0] * y2.shape[0] * x2.shape[1]
    block = max(1, _MAX_VALUES_PER_BLOCK // per_replicate)
    replicates = np.empty(n_boot)
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        replicates[start:stop] = _probability_of_improvement_batched(
            x2[x_indices[start:stop], tasks], y2[y_indices[start:stop], tasks], lower_is_better
        )
    lower, upper = _percentile_interval(replicates, level)
    point = probability_of_improvement(x2, y2, lower_is_better)
    return Interval(point, float(lower), float(upper))


def performance_profile(
    scores: np.ndarray,
    taus: Sequence[float] | np.ndarray,
    lower_is_better: bool = False,
    axis: Axis = None,
) -> np.ndarray:
    """Run-score distribution (rliable): fraction of runs with score > tau, averaged over tasks.

    ``scores``: ``(runs, tasks)``; the fraction over all runs and tasks equals the mean over tasks of
    per-task fractions because every task has the same number of runs. With ``lower_is_better``
    (normalised regret) the fraction of runs with score <= tau is returned instead. The result has
    the shape of the non-reduced axes followed by ``len(taus)``.
    """
    taus = np.asarray(taus, dtype=float)
    flat = _move_axes_last(scores, axis)[..., None]
    hits = flat <= taus if lower_is_better else flat > taus
    return hits.mean(axis=-2)


def average_ranks(curves: np.ndarray, lower_is_better: bool = True) -> np.ndarray:
    """Rank methods at every (run, task[, time]) cell and average over runs and tasks.

    ``curves``: ``(methods, runs, tasks[, T])`` with runs paired across methods (same seeds). Rank 1
    is best; ties share the average rank. Returns ``(methods[, T])``. Cells where any method is NaN
    are ignored.
    """
    import scipy.stats  # here: ~0.3 s of start-up for every `arena plot` otherwise

    curves = np.asarray(curves, dtype=float)
    if curves.ndim < 3:
        raise ValueError(f"curves must have shape (methods, runs, tasks[, T]), got {curves.shape}")
    oriented = curves if lower_is_better else -curves
    ranks = scipy.stats.rankdata(oriented, axis=0, method="average", nan_policy="propagate")
    ranks = np.where(np.isnan(oriented).any(axis=0, keepdims=True), np.nan, ranks)
    counts = np.sum(~np.isnan(ranks), axis=(1, 2))
    totals = np.nansum(ranks, axis=(1, 2))
    # Time steps where no cell is complete (before the first reports) give NaN, without a warning.
    return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def normalised_regret(values: np.ndarray, best: float | np.ndarray, worst: float | np.ndarray) -> np.ndarray:
    """``(value - best) / (worst - best)`` for minimised values: 0 at the best, 1 at the worst.

    Where ``worst == best`` (nothing to distinguish) the regret is 0 where the value equals best.
    """
    values = np.asarray(values, dtype=float)
    best = np.asarray(best, dtype=float)
    span = np.asarray(worst, dtype=float) - best
    safe_span = np.where(span == 0, 1.0, span)
    return (values - best) / safe_span


def mean_and_ci(values: np.ndarray, axis: int = 0, z: float = 1.96) -> Interval:
    """Mean ± z·s.e. with the sample standard deviation (ddof=1).

    Syne Tune's ``mean_and_ci`` uses z = 1.95 and ddof = 0; we use the textbook 1.96 and the
    unbiased sample standard deviation. With one run the half-width is 0.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    centre = values.mean(axis=axis)
    if n > 1:
        half_width = z * values.std(axis=axis, ddof=1) / np.sqrt(n)
    else:
        half_width = np.zeros_like(centre)
    return Interval(centre, centre - half_width, centre + half_width)


def median_percentiles(values: np.ndarray, axis: int = 0) -> Interval:
    """Median with the 25th and 75th percentiles as lower and upper (a spread, not a confidence interval)."""
    values = np.asarray(values, dtype=float)
    lower, centre, upper = np.percentile(values, [25.0, 50.0, 75.0], axis=axis)
    return Interval(centre, lower, upper)


AGGREGATION_MODES = ("iqm_bootstrap", "mean_and_ci", "median_percentiles")


def aggregate_curves(
    curves: np.ndarray,
    mode: str = "iqm_bootstrap",
    n_boot: int = 1000,
    rng: SeedOrGenerator = 0,
    level: float = 0.95,
) -> Interval:
    """Aggregate run curves ``(n_runs, n_grid)`` at every grid point.

    ``iqm_bootstrap``: IQM with a percentile bootstrap interval (whole curves resampled);
    ``mean_and_ci``: mean ± 1.96 s.e.; ``median_percentiles``: median, 25th and 75th percentiles.
    A grid point where some run has no value yet (NaN) gives NaN, so the aggregate starts once
    every run has reported.
    """
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2:
        raise ValueError(f"curves must have shape (n_runs, n_grid), got {curves.shape}")
    if mode == "iqm_bootstrap":
        if curves.shape[0] == 1:
            row = curves[0]
            return Interval(row.copy(), row.copy(), row.copy())
        return bootstrap_interval(curves, iqm, n_boot=n_boot, rng=rng, level=level)
    if mode == "mean_and_ci":
        return mean_and_ci(curves, axis=0)
    if mode == "median_percentiles":
        return median_percentiles(curves, axis=0)
    raise ValueError(f"unknown aggregation mode {mode!r}; choose one of {AGGREGATION_MODES}")


# --------------------------------------------------------------------------------------------------
# Hypervolume (minimisation, with a reference point every counted point must strictly dominate).


def _pareto_front_2d(points: np.ndarray) -> np.ndarray:
    """Non-dominated points of a 2-D set, sorted by the first objective ascending."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    ordered = points[order]
    previous_best = np.concatenate(([np.inf], np.minimum.accumulate(ordered[:, 1])[:-1]))
    return ordered[ordered[:, 1] < previous_best]


def _hypervolume_2d(points: np.ndarray, reference: np.ndarray) -> float:
    if len(points) == 0:
        return 0.0
    front = _pareto_front_2d(points)
    next_x = np.append(front[1:, 0], reference[0])
    return float(np.sum((next_x - front[:, 0]) * (reference[1] - front[:, 1])))


def _hypervolume_recursive(points: np.ndarray, reference: np.ndarray) -> float:
    """Exact hypervolume by slicing along the last objective (cost grows as n^(d-1) log n)."""
    if len(points) == 0:
        return 0.0
    d = points.shape[1]
    if d == 1:
        return float(reference[0] - points[:, 0].min())
    if d == 2:
        return _hypervolume_2d(points, reference)
    order = np.argsort(points[:, -1], kind="stable")
    ordered = points[order]
    boundaries = np.append(ordered[1:, -1], reference[-1])
    total = 0.0
    for i in range(len(ordered)):
        thickness = boundaries[i] - ordered[i, -1]
        if thickness > 0:
            total += thickness * _hypervolume_recursive(ordered[: i + 1, :-1], reference[:-1])
    return total


def hypervolume(points: np.ndarray, reference_point: Sequence[float] | np.ndarray) -> float:
    """Hypervolume dominated by ``points`` (n, d) and bounded by ``reference_point`` (all objectives minimised).

    Exact for any d; 2-D is O(n log n), higher dimensions slice recursively (fine for d <= 4 and a
    few hundred non-dominated points). Points not strictly better than the reference in every
    objective contribute nothing; NaN rows are ignored.
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    reference = np.asarray(reference_point, dtype=float)
    if points.shape[1] != reference.shape[0]:
        raise ValueError(
            f"points have {points.shape[1]} objectives but the reference point has {reference.shape[0]}"
        )
    valid = np.all(points < reference, axis=1) & ~np.isnan(points).any(axis=1)
    return _hypervolume_recursive(points[valid], reference)


def hypervolume_curve(points: np.ndarray, reference_point: Sequence[float] | np.ndarray) -> np.ndarray:
    """Hypervolume of the first i+1 points for every i (points in report order): shape (n,).

    The volume is recomputed only when a new point is not weakly dominated by the current front.
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    reference = np.asarray(reference_point, dtype=float)
    curve = np.zeros(len(points))
    front = np.empty((0, points.shape[1]))
    current = 0.0
    for i, point in enumerate(points):
        inside = np.all(point < reference) and not np.isnan(point).any()
        if inside and not np.any(np.all(front <= point, axis=1)):
            # Drop front members the new point dominates; they no longer add volume.
            front = np.vstack([front[~np.all(point <= front, axis=1)], point])
            current = _hypervolume_recursive(front, reference)
        curve[i] = current
    return curve


@dataclass(frozen=True)
class RankTest:
    """Friedman test over blocks and the Nemenyi critical difference of the mean ranks (Demšar, 2006).

    ``mean_ranks[j]`` is the average over blocks of setup j's rank within its block (1 = best, ties
    share the average rank); two setups differ significantly at level ``alpha`` under the Nemenyi
    test when their mean ranks differ by more than ``critical_difference``.
    """

    setups: list[str]
    mean_ranks: np.ndarray  # (k,)
    n_blocks: int
    statistic: float  # Friedman chi-square, corrected for ties
    p_value: float
    critical_difference: float
    alpha: float


def nemenyi_critical_difference(n_setups: int, n_blocks: int, alpha: float = 0.05) -> float:
    """``q_alpha * sqrt(k (k + 1) / (6 N))`` with ``q_alpha`` the studentized range quantile / sqrt(2).

    ``q_alpha`` is the (1 - alpha) quantile of the studentized range of ``k`` means with infinite
    degrees of freedom divided by sqrt(2): 1.960, 2.343, 2.569 for k = 2, 3, 4 at alpha = 0.05
    (Demšar's Table 5).
    """
    import scipy.stats  # here: ~0.3 s of start-up for every `arena plot` otherwise

    if n_setups < 2 or n_blocks < 1:
        raise ValueError(f"a critical difference needs >= 2 setups and >= 1 block, got {n_setups} and {n_blocks}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    q_alpha = scipy.stats.studentized_range.ppf(1.0 - alpha, n_setups, np.inf) / np.sqrt(2.0)
    return float(q_alpha * np.sqrt(n_setups * (n_setups + 1) / (6.0 * n_blocks)))


def friedman_rank_test(
    blocks: np.ndarray, setups: Sequence[str], alpha: float = 0.05, lower_is_better: bool = True
) -> RankTest:
    """Mean ranks, Friedman test and Nemenyi critical difference of ``blocks`` ``(n_blocks, k)``.

    Each row is one block (for HPO: one (task, seed) pair) holding the score of every setup; rows
    with a NaN are an error, since the test needs complete blocks. The Friedman statistic uses the
    tie correction of ``scipy.stats.friedmanchisquare`` (it equals scipy's for k >= 3 and is also
    defined for k = 2); when every block is a full tie the statistic is 0 and the p-value 1.
    """
    import scipy.stats  # here: ~0.3 s of start-up for every `arena plot` otherwise

    blocks = np.asarray(blocks, dtype=float)
    setups = list(setups)
    if blocks.ndim != 2 or blocks.shape[1] != len(setups):
        raise ValueError(f"blocks must have shape (n_blocks, {len(setups)}), got {blocks.shape}")
    n_blocks, k = blocks.shape
    if k < 2 or n_blocks < 2:
        raise ValueError(f"a rank test needs >= 2 setups and >= 2 blocks, got {k} setups and {n_blocks} blocks")
    if np.isnan(blocks).any():
        bad = int(np.isnan(blocks).any(axis=1).sum())
        raise ValueError(f"{bad} blocks hold a NaN score; a rank test needs every setup scored in every block")
    ranks = scipy.stats.rankdata(blocks if lower_is_better else -blocks, axis=1, method="average")
    rank_sums = ranks.sum(axis=0)
    # Tie correction: sum over blocks and tie groups of t^3 - t.
    ties = 0.0
    for row in np.sort(blocks, axis=1):
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts.astype(float) ** 3 - counts))
    denominator = 1.0 - ties / (n_blocks * k * (k * k - 1))
    raw = 12.0 / (n_blocks * k * (k + 1)) * float(np.sum(rank_sums**2)) - 3.0 * n_blocks * (k + 1)
    if denominator <= 0.0:
        statistic, p_value = 0.0, 1.0
    else:
        statistic = raw / denominator
        p_value = float(scipy.stats.chi2.sf(statistic, k - 1))
    return RankTest(
        setups=setups,
        mean_ranks=rank_sums / n_blocks,
        n_blocks=n_blocks,
        statistic=float(statistic),
        p_value=p_value,
        critical_difference=nemenyi_critical_difference(k, n_blocks, alpha),
        alpha=alpha,
    )
