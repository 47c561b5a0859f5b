"""Comparisons across benchmarks: normalised regret, aggregate IQM with stratified bootstrap intervals,
average ranks over time, performance profiles, probability of improvement (rliable), hypervolume curves.

Runs of different benchmarks have different time scales, so each benchmark's curves are taken on
its own grid ``linspace(0, x_max_b, n_grid)`` and compared at the same *fraction of the budget*
(grid index). Runs are paired by seed: only the seeds every (setup, benchmark) has are used
(dropped seeds are warned about), which makes the arrays ``(runs, tasks, n_grid)`` rectangular.

Normalised regret per benchmark is ``(y - best) / (worst - best)`` on the minimised scale of the
curves. ``best`` and ``worst`` come from the metadata (``metric_best_possible`` and
``metric_worst_possible``, transformed like the curves) when present, otherwise from the best and
worst values observed over all setups, seeds and grid points of that benchmark. A run can then go
below 0 only when the metadata's best is not truly the best; it is not clipped.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from results.comparative import BenchmarkCurves, ComparativeResults, CurveSpec
from results.statistics import (
    RankTest,
    average_ranks,
    friedman_rank_test,
    hypervolume_curve,
    iqm,
    normalised_regret,
    performance_profile,
    probability_of_improvement_interval,
    stratified_bootstrap,
)


@dataclass
class RegretCurves:
    """Normalised regret of every setup on every benchmark, runs paired by seed."""

    setups: list[str]
    benchmarks: list[str]
    seeds: list
    fraction: np.ndarray  # (n_grid,) fraction of each benchmark's x range
    values: dict[str, np.ndarray]  # setup -> (runs, tasks, n_grid)
    final: dict[str, np.ndarray]  # setup -> (runs, tasks): regret at the end of each run
    best: dict[str, float]
    worst: dict[str, float]


def _bounds_from_metadata(metadata: dict, spec: CurveSpec) -> tuple[float | None, float | None]:
    if spec.metric is not None and spec.metric != metadata.get("metric"):
        return None, None  # the stored bounds describe the tuned metric only
    mode = spec.mode_for(metadata)
    bounds = []
    for key in ("metric_best_possible", "metric_worst_possible"):
        value = metadata.get(key)
        bounds.append(None if value is None else float(spec.transform(np.array([value]), mode)[0]))
    return bounds[0], bounds[1]


def _group_by_setup(curves: BenchmarkCurves) -> dict[str, tuple[list, np.ndarray, np.ndarray]]:
    by_setup: dict[str, tuple[list, np.ndarray, np.ndarray]] = {}
    for (subplot, setup), runs in curves.groups.items():
        if setup in by_setup:
            raise ValueError(
                f"setup {setup!r} appears in several subplots of {curves.benchmark!r}; across-benchmark "
                "comparisons need one curve set per setup, so give each variant its own setup name"
            )
        by_setup[setup] = (runs.seeds, runs.values, runs.final)
    return by_setup


def normalised_regret_curves(
    comparative: ComparativeResults,
    benchmarks: Sequence[str] | None = None,
    setups: Sequence[str] | None = None,
    spec: CurveSpec | None = None,
    **spec_options,
) -> RegretCurves:
    """Normalised-regret curves of ``setups`` on ``benchmarks`` (default: all), runs paired by seed."""
    spec = replace(spec or CurveSpec(), **spec_options) if spec_options else (spec or CurveSpec())
    benchmarks = list(benchmarks) if benchmarks is not None else comparative.benchmarks
    curves_by_benchmark = {b: comparative.curves(b, spec) for b in benchmarks}
    grouped = {b: _group_by_setup(c) for b, c in curves_by_benchmark.items()}
    if setups is None:
        setups = [s for s in comparative.setups if all(s in grouped[b] for b in benchmarks)]
        skipped = [s for s in comparative.setups if s not in setups]
        if skipped:
            warnings.warn(f"setups {skipped} lack runs on some benchmarks and are left out", stacklevel=2)
    setups = list(setups)
    for benchmark, curves in curves_by_benchmark.items():
        if not curves.lower_is_better:
            raise ValueError(
                f"curves of {benchmark!r} are maximised; regret needs a minimised scale, "
                "so set convert_to_min='one_minus' or 'negate'"
            )
        absent = [s for s in setups if s not in grouped[benchmark]]
        if absent:
            raise ValueError(f"setups {absent} have no runs on benchmark {benchmark!r}")

    seed_sets = [set(grouped[b][s][0]) for b in benchmarks for s in setups]
    common = sorted(set.intersection(*seed_sets)) if seed_sets else []
    dropped = sorted(set.union(*seed_sets) - set(common)) if seed_sets else []
    if dropped:
        warnings.warn(
            f"seeds {dropped} are not present for every (setup, benchmark) and are left out of the "
            f"paired comparison; {len(common)} seeds remain",
            stacklevel=2,
        )
    if not common:
        raise ValueError("no seed is shared by every (setup, benchmark); cannot pair runs")

    values: dict[str, list[np.ndarray]] = {s: [] for s in setups}
    finals: dict[str, list[np.ndarray]] = {s: [] for s in setups}
    best_by_benchmark, worst_by_benchmark = {}, {}
    for benchmark in benchmarks:
        selected = {}
        for setup in setups:
            seeds, curve_values, final = grouped[benchmark][setup]
            rows = [seeds.index(seed) for seed in common]  # first run of a duplicated seed
            selected[setup] = (curve_values[rows], final[rows])
        first_path = comparative.index.for_benchmark(benchmark)["path"].iloc[0]
        metadata = comparative.index.metadata[first_path]
        best, worst = _bounds_from_metadata(metadata, spec)
        observed = np.concatenate([np.concatenate([v.reshape(-1), f]) for v, f in selected.values()])
        if best is None:
            best = float(np.nanmin(observed))
        if worst is None:
            worst = float(np.nanmax(observed))
        best, worst = min(best, worst), max(best, worst)
        best_by_benchmark[benchmark], worst_by_benchmark[benchmark] = best, worst
        for setup, (curve_values, final) in selected.items():
            values[setup].append(normalised_regret(curve_values, best, worst))
            finals[setup].append(normalised_regret(final, best, worst))
    n_grid = spec.n_grid
    return RegretCurves(
        setups=setups,
        benchmarks=benchmarks,
        seeds=common,
        fraction=np.linspace(0.0, 1.0, n_grid),
        values={s: np.stack(v, axis=1) for s, v in values.items()},
        final={s: np.stack(f, axis=1) for s, f in finals.items()},
        best=best_by_benchmark,
        worst=worst_by_benchmark,
    )


def aggregate_regret_over_time(
    regret: RegretCurves,
    statistic=iqm,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    n_threads: int = 2,
) -> pd.DataFrame:
    """Aggregate (default IQM) of normalised regret over runs and benchmarks at each fraction of the budget,
    with a stratified bootstrap interval (runs resampled within each benchmark, whole curves).

    Columns: benchmark ("all"), subplot (None), setup, x, center, lower, upper, n_runs, so the table
    plots with ``plotting.figures.plot_aggregated_curves``. Setup i uses ``default_rng([seed, i])``,
    so the result does not depend on ``n_threads``.
    """

    def one(i: int) -> pd.DataFrame:
        setup = regret.setups[i]
        interval = stratified_bootstrap(
            regret.values[setup], statistic, n_boot=n_boot, rng=np.random.default_rng([seed, i]), level=level
        )
        return pd.DataFrame(
            {
                "benchmark": "all",
                "subplot": pd.Series([None] * len(regret.fraction), dtype=object),
                "setup": setup,
                "x": regret.fraction,
                "center": interval.point,
                "lower": interval.lower,
                "upper": interval.upper,
                "n_runs": regret.values[setup].shape[0],
            }
        )

    with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(regret.setups)))) as pool:
        frames = list(pool.map(one, range(len(regret.setups))))
    return pd.concat(frames, ignore_index=True)


def regret_over_time_per_benchmark(
    regret: RegretCurves,
    statistic=iqm,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Aggregate (default IQM) of normalised regret over the seeds of each benchmark separately, with
    bootstrap intervals over whole curves, as a tidy table whose ``subplot`` is the benchmark (one panel
    per benchmark with ``plotting.figures.plot_benchmark_grid``). Setup i on benchmark j uses
    ``default_rng([seed, j, i])``."""
    frames = []
    for j, benchmark in enumerate(regret.benchmarks):
        for i, setup in enumerate(regret.setups):
            runs = regret.values[setup][:, j : j + 1, :]
            interval = stratified_bootstrap(
                runs, statistic, n_boot=n_boot, rng=np.random.default_rng([seed, j, i]), level=level
            )
            frames.append(
                pd.DataFrame(
                    {
                        "benchmark": benchmark,
                        "subplot": benchmark,
                        "setup": setup,
                        "x": regret.fraction,
                        "center": interval.point,
                        "lower": interval.lower,
                        "upper": interval.upper,
                        "n_runs": runs.shape[0],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def final_regret_blocks(regret: RegretCurves) -> tuple[np.ndarray, list[tuple[str, object]]]:
    """Final normalised regret as blocks for a rank test: ``(n_tasks * n_seeds, n_setups)`` and the
    (benchmark, seed) of each row, benchmark-major."""
    columns = [regret.final[s].T.reshape(-1) for s in regret.setups]  # (tasks, runs) flattened
    labels = [(b, seed) for b in regret.benchmarks for seed in regret.seeds]
    return np.stack(columns, axis=1), labels


def final_regret_rank_test(regret: RegretCurves, alpha: float = 0.05) -> RankTest:
    """Friedman test and Nemenyi critical difference on final normalised regret, one block per
    (benchmark, seed) pair (runs are paired by seed, so every setup is scored in every block)."""
    blocks, _ = final_regret_blocks(regret)
    return friedman_rank_test(blocks, regret.setups, alpha=alpha, lower_is_better=True)


def aggregate_final_regret(
    regret: RegretCurves, statistic=iqm, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Aggregate final normalised regret over runs and benchmarks with stratified bootstrap intervals."""
    rows = []
    for i, setup in enumerate(regret.setups):
        interval = stratified_bootstrap(
            regret.final[setup], statistic, n_boot=n_boot, rng=np.random.default_rng([seed, i]), level=level
        )
        rows.append(
            {"setup": setup, "center": interval.point, "lower": interval.lower, "upper": interval.upper}
        )
    return pd.DataFrame(rows)


def average_rank_over_time(regret: RegretCurves) -> pd.DataFrame:
    """Average rank (1 = best) of each setup at each fraction of the budget, over seeds and benchmarks."""
    stacked = np.stack([regret.values[s] for s in regret.setups])
    ranks = average_ranks(stacked, lower_is_better=True)
    return pd.DataFrame(
        {
            "setup": np.repeat(regret.setups, len(regret.fraction)),
            "x": np.tile(regret.fraction, len(regret.setups)),
            "rank": ranks.reshape(-1),
        }
    )


def performance_profiles(
    regret: RegretCurves,
    taus: Sequence[float] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Fraction of (run, benchmark) pairs whose final normalised regret is <= tau, with stratified
    bootstrap intervals. Default taus: 101 points from 0 to the largest final regret."""
    if taus is None:
        largest = max(float(np.nanmax(f)) for f in regret.final.values())
        taus = np.linspace(0.0, max(largest, 1e-12), 101)
    taus = np.asarray(taus, dtype=float)
    profile = functools.partial(performance_profile, taus=taus, lower_is_better=True)
    frames = []
    for i, setup in enumerate(regret.setups):
        interval = stratified_bootstrap(
            regret.final[setup], profile, n_boot=n_boot, rng=np.random.default_rng([seed, i]), level=level
        )
        frames.append(
            pd.DataFrame(
                {
                    "setup": setup,
                    "tau": taus,
                    "fraction": interval.point,
                    "lower": interval.lower,
                    "upper": interval.upper,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def probability_of_improvement_table(
    regret: RegretCurves,
    pairs: Sequence[tuple[str, str]] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """P(setup_x has lower final regret than setup_y) per pair, averaged over benchmarks (rliable),
    with intervals from resampling each setup's runs independently within each benchmark.
    Default pairs: every (earlier, later) pair in setup order."""
    if pairs is None:
        pairs = [(a, b) for i, a in enumerate(regret.setups) for b in regret.setups[i + 1 :]]
    rows = []
    for i, (setup_x, setup_y) in enumerate(pairs):
        interval = probability_of_improvement_interval(
            regret.final[setup_x],
            regret.final[setup_y],
            n_boot=n_boot,
            rng=np.random.default_rng([seed, i]),
            level=level,
            lower_is_better=True,
        )
        rows.append(
            {
                "setup_x": setup_x,
                "setup_y": setup_y,
                "probability": interval.point,
                "lower": interval.lower,
                "upper": interval.upper,
            }
        )
    return pd.DataFrame(rows)


def hypervolume_column(
    objectives: Sequence[str],
    reference_point: Sequence[float],
    modes: Sequence[str] | None = None,
):
    """A derived column (callable(results) -> Series): hypervolume of all results reported so far.

    Objectives with mode "max" are negated, together with their reference coordinate, so the
    hypervolume is computed for minimisation; the reference point is given in the original units.
    """
    objectives = list(objectives)
    modes = list(modes) if modes is not None else ["min"] * len(objectives)
    if len(modes) != len(objectives) or len(reference_point) != len(objectives):
        raise ValueError("objectives, modes and reference_point must have the same length")
    signs = np.array([1.0 if m == "min" else -1.0 for m in modes])
    reference = signs * np.asarray(reference_point, dtype=float)

    def column(results: pd.DataFrame) -> pd.Series:
        missing = [o for o in objectives if o not in results.columns]
        if missing:
            raise KeyError(f"objective columns {missing} are not in the results")
        points = results[objectives].to_numpy(dtype=float) * signs
        return pd.Series(hypervolume_curve(points, reference), index=results.index)

    return column


def hypervolume_curves(
    comparative: ComparativeResults,
    benchmark: str | None,
    objectives: Sequence[str],
    reference_point: Sequence[float],
    modes: Sequence[str] | None = None,
    **spec_options,
) -> BenchmarkCurves:
    """Hypervolume-so-far curve of every run of ``benchmark`` (higher is better) on the common grid;
    aggregate with ``results.comparative.aggregate_benchmark_curves``."""
    spec = CurveSpec(
        metric="hypervolume",
        mode="max",
        convert_to_min=None,
        derived_columns={"hypervolume": hypervolume_column(objectives, reference_point, modes)},
        **spec_options,
    )
    return comparative.curves(benchmark, spec)
