"""Statistics pinned against hand-computed values and rliable's definitions."""

import numpy as np
import pytest
import scipy.stats

from results.statistics import (
    aggregate_curves,
    average_ranks,
    bootstrap_interval,
    bootstrap_replicates,
    hypervolume,
    hypervolume_curve,
    iqm,
    iqm_fractional,
    iqm_fractional_weights,
    mean_and_ci,
    median_percentiles,
    normalised_regret,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
    probability_of_improvement_interval,
    stratified_bootstrap,
    stratified_bootstrap_replicates,
)


def test_iqm_of_one_to_eight_is_mean_of_middle_half():
    assert iqm(np.arange(1, 9)) == 4.5


@pytest.mark.parametrize("n", [4, 5, 7, 10, 37])
def test_iqm_equals_scipy_trim_mean(n):
    values = np.random.default_rng(n).normal(size=n)
    assert iqm(values) == pytest.approx(scipy.stats.trim_mean(values, 0.25))


def test_iqm_over_runs_and_tasks_flattens_like_rliable():
    scores = np.random.default_rng(0).random((6, 5, 3))
    per_time = iqm(scores, axis=(0, 1))
    expected = [scipy.stats.trim_mean(scores[:, :, t].reshape(-1), 0.25) for t in range(3)]
    np.testing.assert_allclose(per_time, expected)
    np.testing.assert_allclose(
        iqm(scores[:, :, 0], axis=0), scipy.stats.trim_mean(scores[:, :, 0], 0.25, axis=0)
    )


def test_iqm_propagates_nan():
    assert np.isnan(iqm([1.0, 2.0, 3.0, np.nan, 5.0]))


def test_fractional_iqm_weights_and_value():
    np.testing.assert_allclose(iqm_fractional_weights(5), [0, 0.3, 0.4, 0.3, 0])
    # 0.3*2 + 0.4*3 + 0.3*4 = 3.0; the outlier has weight 0.
    assert iqm_fractional([10.0, 1.0, 2.0, 3.0, 4.0]) == pytest.approx(3.0)
    # rliable's IQM of the same 5 values drops floor(5/4)=1 from each end: mean(2, 3, 4) = 3.0 here too,
    # but differs in general:
    values = np.array([0.0, 1.0, 2.0, 10.0, 20.0])
    assert iqm(values) == pytest.approx(13.0 / 3.0)
    assert iqm_fractional(values) == pytest.approx(0.3 * 1 + 0.4 * 2 + 0.3 * 10)
    eight = np.random.default_rng(1).random(8)
    assert iqm_fractional(eight) == pytest.approx(iqm(eight))


def test_mean_median_optimality_gap():
    values = np.array([0.5, 1.5, 0.2, 0.8])
    assert optimality_gap(values, gamma=1.0) == pytest.approx(1.0 - np.mean([0.5, 1.0, 0.2, 0.8]))
    assert median_percentiles(values).point == pytest.approx(0.65)


def test_bootstrap_matches_manual_resampling_and_percentiles():
    values = np.random.default_rng(5).normal(size=11)
    generator = np.random.default_rng(3)
    indices = generator.integers(0, 11, size=(50, 11))
    manual = np.array([scipy.stats.trim_mean(values[row], 0.25) for row in indices])
    np.testing.assert_allclose(bootstrap_replicates(values, iqm, n_boot=50, rng=3), manual)
    interval = bootstrap_interval(values, iqm, n_boot=50, rng=3, level=0.9)
    assert interval.point == pytest.approx(scipy.stats.trim_mean(values, 0.25))
    assert interval.lower == pytest.approx(np.quantile(manual, 0.05))
    assert interval.upper == pytest.approx(np.quantile(manual, 0.95))


def test_bootstrap_reproducible_with_seed_and_different_otherwise():
    values = np.random.default_rng(0).random(20)
    first = bootstrap_interval(values, iqm, n_boot=200, rng=7)
    again = bootstrap_interval(values, iqm, n_boot=200, rng=np.random.default_rng(7))
    other = bootstrap_interval(values, iqm, n_boot=200, rng=8)
    assert (first.lower, first.upper) == (again.lower, again.upper)
    assert (first.lower, first.upper) != (other.lower, other.upper)
    with pytest.raises(TypeError, match="seed"):
        bootstrap_interval(values, iqm, rng=None)


def test_bootstrap_of_curves_resamples_whole_curves():
    curves = np.random.default_rng(2).random((9, 4))
    together = bootstrap_replicates(curves, iqm, n_boot=30, rng=11)
    for column in range(4):
        np.testing.assert_array_equal(
            together[:, column], bootstrap_replicates(curves[:, column], iqm, 30, 11)
        )


def test_bootstrap_accepts_statistics_without_axis():
    values = np.random.default_rng(0).random(15)
    looped = bootstrap_interval(values, lambda a: float(np.mean(a)), n_boot=40, rng=1)
    vectorised = bootstrap_interval(values, np.mean, n_boot=40, rng=1)
    assert looped.lower == pytest.approx(vectorised.lower)
    assert looped.upper == pytest.approx(vectorised.upper)


def test_stratified_bootstrap_keeps_runs_within_their_task_and_whole_curves():
    n_runs, n_tasks, n_time = 5, 3, 4
    run_value = 100 * np.arange(n_tasks)[None, :] + np.arange(n_runs)[:, None]
    scores = np.repeat(run_value[:, :, None], n_time, axis=2).astype(float)
    seen = []

    def capture(values, axis):
        seen.append(values.copy())
        return values.mean(axis=axis)

    stratified_bootstrap_replicates(scores, capture, n_boot=25, rng=0)
    resampled = np.concatenate(seen)
    assert resampled.shape == (25, n_runs, n_tasks, n_time)
    for task in range(n_tasks):
        assert set(np.unique(resampled[:, :, task])) <= set(100 * task + np.arange(n_runs))
    # Whole curves: every resampled curve is constant over time, as each original curve is.
    assert np.all(resampled == resampled[..., :1])


def test_stratified_bootstrap_interval_contains_point_and_repeats():
    scores = np.random.default_rng(4).random((10, 6))
    first = stratified_bootstrap(scores, iqm, n_boot=300, rng=2)
    assert first.point == pytest.approx(scipy.stats.trim_mean(scores.reshape(-1), 0.25))
    assert first.lower <= first.point <= first.upper
    again = stratified_bootstrap(scores, iqm, n_boot=300, rng=2)
    assert (again.lower, again.upper) == (first.lower, first.upper)


def test_probability_of_improvement_by_hand():
    same = np.random.default_rng(0).random((7, 3))
    assert probability_of_improvement(same, same) == pytest.approx(0.5)
    assert probability_of_improvement([1.0, 2.0], [0.0, 3.0]) == pytest.approx(0.5)
    assert probability_of_improvement([2.0, 3.0], [1.0, 1.0]) == pytest.approx(1.0)
    assert probability_of_improvement([2.0, 3.0], [1.0, 1.0], lower_is_better=True) == pytest.approx(0.0)
    # Two tasks: task 0 -> 1.0, task 1 -> ties 0.5; averaged 0.75.
    assert probability_of_improvement([[2.0, 1.0]], [[1.0, 1.0]]) == pytest.approx(0.75)
    x, y = np.random.default_rng(1).random(8), np.random.default_rng(2).random(6)
    u = scipy.stats.mannwhitneyu(x, y, alternative="greater").statistic
    assert probability_of_improvement(x, y) == pytest.approx(u / (8 * 6))


def test_probability_of_improvement_interval_reproducible():
    x, y = np.random.default_rng(1).random((8, 2)), np.random.default_rng(2).random((5, 2))
    first = probability_of_improvement_interval(x, y, n_boot=200, rng=3)
    assert first.lower <= first.point <= first.upper
    assert first == probability_of_improvement_interval(x, y, n_boot=200, rng=3)


def test_performance_profile_by_hand():
    scores = np.array([[0.1, 0.5], [0.3, 0.9]])
    np.testing.assert_allclose(performance_profile(scores, [0.2, 1.0], lower_is_better=True), [0.25, 1.0])
    np.testing.assert_allclose(performance_profile(scores, [0.2]), [0.75])


def test_average_ranks_by_hand():
    curves = np.array([[[1.0, 5.0]], [[2.0, 5.0]]])  # (methods=2, runs=1, tasks=2)
    np.testing.assert_allclose(average_ranks(curves), [1.25, 1.75])
    np.testing.assert_allclose(average_ranks(curves, lower_is_better=False), [1.75, 1.25])


def test_normalised_regret_and_mean_ci():
    np.testing.assert_allclose(normalised_regret([1.0, 2.0, 3.0], best=1.0, worst=3.0), [0.0, 0.5, 1.0])
    interval = mean_and_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    half = 1.96 * np.std([1, 2, 3, 4], ddof=1) / 2.0
    assert interval.lower == pytest.approx(2.5 - half)
    assert interval.upper == pytest.approx(2.5 + half)


def test_aggregate_curves_modes_and_nan_before_all_runs_report():
    curves = np.array([[np.nan, 3.0, 2.0], [4.0, 3.0, 1.0], [5.0, 1.0, 1.0], [6.0, 2.0, 0.0]])
    for mode in ("iqm_bootstrap", "mean_and_ci", "median_percentiles"):
        interval = aggregate_curves(curves, mode, n_boot=50, rng=0)
        assert np.isnan(interval.point[0]) and np.isnan(interval.lower[0])
        assert np.all(np.isfinite(interval.point[1:]))
    assert aggregate_curves(curves, "iqm_bootstrap", n_boot=50, rng=0).point[1] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="aggregation mode"):
        aggregate_curves(curves, "best")


def test_hypervolume_2d_by_hand():
    front = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(front, [4.0, 4.0]) == pytest.approx(6.0)
    with_extras = np.vstack([front, [[3.0, 3.0], [5.0, 0.0], [2.0, 2.0]]])  # dominated, outside, duplicate
    assert hypervolume(with_extras, [4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0


def test_hypervolume_3d_by_hand():
    assert hypervolume([[1.0, 1.0, 1.0]], [2.0, 3.0, 4.0]) == pytest.approx(6.0)
    # Two boxes of volume 4 and 2 overlapping in a unit cube.
    assert hypervolume([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [2.0, 2.0, 2.0]) == pytest.approx(5.0)
    flat = np.array([[1.0, 3.0, 0.0], [2.0, 2.0, 0.0], [3.0, 1.0, 0.0]])
    assert hypervolume(flat, [4.0, 4.0, 2.0]) == pytest.approx(12.0)


def test_hypervolume_curve_equals_prefix_volumes():
    points = np.random.default_rng(0).random((30, 2))
    curve = hypervolume_curve(points, [1.0, 1.0])
    expected = [hypervolume(points[: i + 1], [1.0, 1.0]) for i in range(30)]
    np.testing.assert_allclose(curve, expected)
    assert np.all(np.diff(curve) >= 0)


def test_bootstrap_of_curves_with_repeated_columns_equals_full_computation():
    steps = np.random.default_rng(6).random((12, 5))
    curves = np.repeat(steps, [1, 3, 1, 4, 2], axis=1)  # best-so-far style: columns repeat
    curves[0, :2] = np.nan  # a run that reports late
    compact = bootstrap_interval(curves, iqm, n_boot=60, rng=9)
    replicates = bootstrap_replicates(curves, iqm, n_boot=60, rng=9)
    lower, upper = np.quantile(replicates, [0.025, 0.975], axis=0)
    # Equal up to summation order (sliced columns take a different SIMD path).
    np.testing.assert_allclose(compact.lower, lower, rtol=1e-12, atol=0)
    np.testing.assert_allclose(compact.upper, upper, rtol=1e-12, atol=0)
    np.testing.assert_allclose(compact.point, iqm(curves, axis=0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_stratified_bootstrap_of_curves_with_repeated_points_equals_full_computation(task_bootstrap):
    """Curves whose points repeat (best-so-far on a fine grid) are resampled once per run of equal points: the
    interval equals the one computed from the replicates at every point, and the point estimate is exactly the
    statistic of all the points."""
    rng = np.random.default_rng(4)
    steps = rng.random((7, 3, 6))  # runs, tasks, distinct points
    curves = np.repeat(steps, [2, 1, 5, 3, 1, 4], axis=2)
    curves[1, 0, :3] = np.nan  # a run that reports late
    curves[:, 2, 9:12] = 0.25  # a stretch where only some tasks are flat: those points stay distinct
    interval = stratified_bootstrap(curves, iqm, n_boot=80, rng=3, task_bootstrap=task_bootstrap)
    replicates = stratified_bootstrap_replicates(curves, iqm, n_boot=80, rng=3, task_bootstrap=task_bootstrap)
    lower, upper = np.quantile(replicates, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(interval.lower, lower, rtol=1e-12, atol=0)
    np.testing.assert_allclose(interval.upper, upper, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(interval.point, iqm(curves, axis=(0, 1)))
    assert np.isnan(interval.point[:2]).all() and np.isnan(interval.lower[:2]).all()
    # the copies follow the runs of equal points: equal neighbours where every run and task is flat
    flat = np.all(curves[:, :, 1:] == curves[:, :, :-1], axis=(0, 1))
    assert flat.any() and not flat.all()
    np.testing.assert_array_equal(interval.lower[1:][flat], interval.lower[:-1][flat])
