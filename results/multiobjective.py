"""Hypervolume over time of multi-objective runs, comparable across runs and methods of one benchmark.

Reference-point rule (fixed per benchmark): every objective is normalised by the bounds the experiment
recorded in ``metadata["objective_bounds"]`` = ``{objective: [best, worst]}`` over the *whole table* (every
configuration, seed and fidelity up to the benchmark's maximum, ``launchers.experiment.objective_bounds``; a
surrogate's "table" is 1000 configurations drawn with a fixed seed at every fidelity, so a run can beat its best):
best is the table's best value, worst the value 90% of the table's entries beat (a quantile rather than the
worst entry, so a few diverged entries do not squash the scale). ``z = (value - best) / (worst - best)``, so
0 is the best tabulated value and 1 the 90% quantile, maximised objectives turned into minimised ones. The
reference point is ``1.1`` in every normalised objective (10% of the range beyond that quantile); results
beyond it add no volume. The bounds depend on
the table only, never on the runs, so every run, method and seed of a benchmark is measured against the same
point, and normalised hypervolumes of different benchmarks share the scale [0, 1.1**d].

Which results count: every reported result (a model trained to the reported fidelity is a candidate one could
keep, with its error and cost at that point), in report order; with a ``constraint`` recorded, only feasible
results (constraint metric <= threshold). The hypervolume after each result is that of all counted results so
far (``results.statistics.hypervolume_curve``, exact in any number of objectives).

``hypervolume_curve_spec()`` plugs this into ``results.comparative.ComparativeResults``, so curves on a common
time grid and their IQM with bootstrap intervals over seeds (``aggregate``) come for free.

Fronts for figures: ``benchmark_fronts(comparative, benchmark)`` collects, per setup and seed, the objective
values (in the table's own units) of the results the hypervolume counts, with the reference point in the same
units; ``BenchmarkFronts`` gives each setup's pooled Pareto front and median attainment surface
(``results.attainment``) in any two of the objectives. ``split_by_objectives`` tells multi-objective benchmarks
of a study (every run records two or more ``metrics``) from single-objective ones.

Across benchmarks: ``aggregate_final_hypervolume`` divides each benchmark's final hypervolumes by a reference
(the hypervolume of the table's own Pareto front, ``table_front_hypervolume``, where the table is finite; else the
best final hypervolume of any run compared), takes the IQM over every (benchmark, seed) with a stratified
bootstrap interval, and counts per-benchmark wins, ties (overlapping intervals) and losses against a baseline.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from results.attainment import attainment_surface, median_level, pareto_front, project, to_minimisation
from results.comparative import CurveSpec
from results.statistics import Interval, hypervolume_curve

if TYPE_CHECKING:
    from results.comparative import ComparativeResults

REFERENCE_MARGIN = 1.1  # reference point in every normalised objective
HYPERVOLUME = "hypervolume"


def run_objectives(metadata: dict) -> tuple[list[str], dict[str, list[float]]]:
    """A run's objectives and their table bounds, or a clear error for runs that have none."""
    metrics = list(metadata.get("metrics") or [])
    where = f"{metadata.get('benchmark')}/{metadata.get('method')}/{metadata.get('seed')}"
    if len(metrics) < 2:
        raise ValueError(f"run {where} is single-objective (metrics={metrics or [metadata.get('metric')]}); "
                         "hypervolume needs an mo-* benchmark's runs")
    bounds = metadata.get("objective_bounds")
    if not bounds:
        raise ValueError(f"run {where} recorded no objective_bounds (its blackbox is not a table), so no fixed "
                         "reference point exists for it")
    return metrics, bounds


def normalised_objectives(results: pd.DataFrame, metadata: dict) -> np.ndarray:
    """Result rows as normalised points to minimise, shape (n, d); infeasible rows become NaN (never counted)."""
    metrics, bounds = run_objectives(metadata)
    missing = [m for m in metrics if m not in results.columns]
    if missing:
        raise KeyError(f"objectives {missing} are not result columns; columns are {list(results.columns)}")
    columns = []
    for m in metrics:
        best, worst = (float(v) for v in bounds[m])
        span = worst - best if worst != best else 1.0
        columns.append((results[m].to_numpy(dtype=float) - best) / span)
    points = np.column_stack(columns)
    constraint = metadata.get("constraint")
    if constraint:
        values = results[constraint["metric"]].to_numpy(dtype=float)
        points[~(values <= float(constraint["threshold"]))] = np.nan
    return points


def reference_point(n_objectives: int) -> np.ndarray:
    return np.full(n_objectives, REFERENCE_MARGIN)


def hypervolume_over_time(results: pd.DataFrame, metadata: dict) -> np.ndarray:
    """Normalised hypervolume after each result row (report order), shape (n,)."""
    points = normalised_objectives(results, metadata)
    return hypervolume_curve(points, reference_point(points.shape[1]))


@dataclass(frozen=True)
class HypervolumeColumn:
    """A derived result column for ``CurveSpec``: the run's hypervolume after each row (needs the metadata)."""

    needs_metadata: bool = True

    def __call__(self, frame: pd.DataFrame, metadata: dict) -> np.ndarray:
        return hypervolume_over_time(frame, metadata)


def hypervolume_curve_spec(**options) -> CurveSpec:
    """``CurveSpec`` of hypervolume over time (higher is better), e.g.
    ``ComparativeResults(...).aggregate(benchmark, spec=hypervolume_curve_spec())``."""
    return CurveSpec(metric=HYPERVOLUME, mode="max", convert_to_min=None,
                     derived_columns={HYPERVOLUME: HypervolumeColumn()}, **options)


# --------------------------------------------------------------------------------------------------
# Which benchmarks of a study are multi-objective, and their fronts for figures.


def is_multi_objective_run(metadata: dict) -> bool:
    """A run of a benchmark with two or more objectives (metadata.json ``metrics``), whatever its method."""
    return len(metadata.get("metrics") or []) >= 2


def split_by_objectives(comparative: ComparativeResults) -> tuple[list[str], list[str]]:
    """(single-objective, multi-objective) benchmarks of ``comparative``, each in index order.

    A benchmark is multi-objective when every run records two or more ``metrics``; runs of one benchmark that
    disagree (e.g. runs written before the definition gained objectives) are an error naming the benchmark.
    """
    single, multi = [], []
    for benchmark in comparative.benchmarks:
        paths = comparative.index.for_benchmark(benchmark)["path"]
        flags = {is_multi_objective_run(comparative.index.metadata[path]) for path in paths}
        if len(flags) > 1:
            raise ValueError(f"runs of benchmark {benchmark!r} disagree on its objectives: some record several "
                             "metrics, some one; select one kind with --tag or --since")
        (multi if flags == {True} else single).append(benchmark)
    return single, multi


@dataclass(frozen=True)
class RunPoints:
    """The counted results of one run: objective values in table units, shape (n, d), feasible rows only."""

    seed: object
    path: str
    points: np.ndarray


@dataclass
class BenchmarkFronts:
    """Per setup, the runs' counted results of one multi-objective benchmark, with the hypervolume reference
    point in table units (``reference``: the normalised 1.1 mapped back through the recorded bounds)."""

    benchmark: str
    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    reference: np.ndarray
    runs: dict[str, list[RunPoints]] = field(default_factory=dict)

    @property
    def setups(self) -> list[str]:
        return list(self.runs)

    def objective_pairs(self) -> list[tuple[int, int]]:
        """Every pair (i, j), i < j, of objectives: one panel each (one for two objectives)."""
        d = len(self.metrics)
        return [(i, j) for i in range(d) for j in range(i + 1, d)]

    def _minimised(self, points: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
        return to_minimisation(project(points, pair), [self.modes[pair[0]], self.modes[pair[1]]])

    def _in_table_units(self, points: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
        return to_minimisation(points, [self.modes[pair[0]], self.modes[pair[1]]])  # a sign flip is its own inverse

    def pooled_front(self, setup: str, pair: tuple[int, int] = (0, 1)) -> np.ndarray:
        """Non-dominated points, in objectives ``pair`` and table units, of all seeds' results pooled (the
        best-case, 1st attainment surface); sorted by the first objective, best first."""
        pooled = np.vstack([self._minimised(run.points, pair) for run in self.runs[setup]])
        return self._in_table_units(pareto_front(pooled), pair)

    def attainment_surface(self, setup: str, pair: tuple[int, int] = (0, 1), level: int | None = None) -> np.ndarray:
        """Corners of the ``level``-th attainment surface (default the median, ``ceil(n/2)`` of the setup's
        ``n`` runs) in objectives ``pair`` and table units."""
        fronts = [self._minimised(run.points, pair) for run in self.runs[setup]]
        level = median_level(len(fronts)) if level is None else level
        return self._in_table_units(attainment_surface(fronts, level), pair)

    def reference_in(self, pair: tuple[int, int]) -> np.ndarray:
        return self.reference[list(pair)]


def _objective_key(metadata: dict) -> tuple:
    metrics, bounds = run_objectives(metadata)
    return (tuple(metrics), tuple(metadata.get("modes") or ["min"] * len(metrics)),
            tuple(tuple(float(v) for v in bounds[m]) for m in metrics),
            tuple(sorted((metadata.get("constraint") or {}).items())))


def benchmark_fronts(comparative: ComparativeResults, benchmark: str) -> BenchmarkFronts:
    """The counted results (``normalised_objectives``' rule: every reported result, feasible ones only) of every
    run of ``benchmark``, per setup in setup order and per seed in seed order, in table units."""
    table = comparative.index.for_benchmark(benchmark)
    if table.empty:
        raise KeyError(f"benchmark {benchmark!r} has no complete runs; available: {comparative.benchmarks}")
    keys = {_objective_key(comparative.index.metadata[path]) for path in table["path"]}
    if len(keys) > 1:
        raise ValueError(f"runs of {benchmark!r} record different objectives, modes, bounds or constraints "
                         f"({sorted(keys)}); their fronts are not comparable")
    metrics, modes, bounds, constraint = keys.pop()
    constraint = dict(constraint)

    def columns_for(metadata: dict) -> list[str]:
        return list(dict.fromkeys(["trial_id", *metrics, *([constraint["metric"]] if constraint else [])]))

    frames = comparative.results(benchmark, columns_for)
    table = comparative.index.for_benchmark(benchmark)  # damaged runs have left the index while loading
    best = np.array([b for b, _ in bounds])
    worst = np.array([w for _, w in bounds])
    reference = best + REFERENCE_MARGIN * (worst - best)
    fronts = BenchmarkFronts(benchmark, metrics, modes, reference)
    order = {setup: i for i, setup in enumerate(comparative.setups)}
    rows = sorted(table.itertuples(index=False), key=lambda r: (order.get(r.setup, len(order)), str(type(r.seed)), r.seed))
    for row in rows:
        metadata = comparative.index.metadata[row.path]
        frame = frames[row.path]
        counted = ~np.isnan(normalised_objectives(frame, metadata)).any(axis=1)
        points = frame[list(metrics)].to_numpy(dtype=float)[counted]
        fronts.runs.setdefault(row.setup, []).append(RunPoints(row.seed, row.path, points))
    return fronts


# --------------------------------------------------------------------------------------------------
# Final hypervolume across benchmarks.


def table_front_hypervolume(values: np.ndarray, metrics: list[str] | tuple[str, ...],
                            bounds: dict[str, list[float]]) -> float:
    """Normalised hypervolume (this module's rule: ``bounds`` = a run's ``objective_bounds``, reference point
    1.1 per objective) of objective rows ``values`` (n, d) in table units, columns in ``metrics`` order; NaN rows
    are ignored. Given every entry of a table, it is the most hypervolume any run of the benchmark can reach."""
    from results.statistics import hypervolume

    values = np.atleast_2d(np.asarray(values, dtype=float))
    if values.shape[1] != len(metrics):
        raise ValueError(f"values have {values.shape[1]} columns but {len(metrics)} metrics were named: {metrics}")
    frame = pd.DataFrame(values, columns=list(metrics))
    points = normalised_objectives(frame, {"metrics": list(metrics), "objective_bounds": bounds})
    return hypervolume(points, reference_point(len(metrics)))


@dataclass(frozen=True)
class FinalHypervolumeAggregate:
    """``aggregate_final_hypervolume``'s result.

    ``reference[b]`` divides benchmark b's final hypervolumes (``reference_source[b]`` says where it came from);
    ``normalised[method]`` has shape (seeds, aggregated benchmarks); ``interval[method]`` is the IQM over all
    its (benchmark, seed) values with a stratified-bootstrap interval; ``versus[method]`` counts, over every
    benchmark where the method and the baseline both ran, (wins, ties, losses) against the baseline by the
    per-benchmark IQM intervals (tie = the intervals overlap). ``left_out`` names benchmarks not aggregated
    (a method without runs there, or seed counts that differ) with the reason.
    """

    methods: list[str]
    baseline: str
    benchmarks: list[str]
    reference: dict[str, float]
    reference_source: dict[str, str]
    normalised: dict[str, np.ndarray]
    interval: dict[str, Interval]
    per_benchmark: dict[tuple[str, str], Interval]
    versus: dict[str, tuple[int, int, int]]
    left_out: dict[str, str]


def aggregate_final_hypervolume(finals: Mapping[tuple[str, str], Sequence[float]], methods: Sequence[str],
                                benchmarks: Sequence[str], table_reference: Mapping[str, float | None] | None = None,
                                baseline: str = "RS", n_boot: int = 2000, rng: int = 0,
                                level: float = 0.95) -> FinalHypervolumeAggregate:
    """Final hypervolumes of several methods on several benchmarks, made comparable and aggregated.

    ``finals[(benchmark, method)]``: one final normalised hypervolume per seed (seed order). Each benchmark's
    values are divided by a reference hypervolume: ``table_reference[benchmark]`` when given (the hypervolume of
    the table's own Pareto front, ``table_front_hypervolume``, for a finite table), otherwise the best final
    hypervolume any run of ``methods`` reached on it. 1 is then the best known and the scale no longer depends on
    how much of the normalised square a benchmark's front can cover. The aggregate is the IQM over every
    (benchmark, seed) value with a stratified bootstrap (``results.statistics.stratified_bootstrap``: seeds
    resampled within each benchmark); the per-benchmark intervals (``bootstrap_interval`` of the IQM over seeds,
    the same ``n_boot``/``rng``) decide wins, ties and losses against ``baseline``.
    """
    from results.statistics import bootstrap_interval, iqm, stratified_bootstrap

    methods, benchmarks = list(methods), list(benchmarks)
    table_reference = dict(table_reference or {})
    values = {key: np.asarray(v, dtype=float) for key, v in finals.items()}
    reference: dict[str, float] = {}
    source: dict[str, str] = {}
    for b in benchmarks:
        if table_reference.get(b) is not None:
            reference[b], source[b] = float(table_reference[b]), "table front"
        else:
            observed = [values[(b, m)] for m in methods if len(values.get((b, m), ()))]
            if not observed:
                continue
            reference[b], source[b] = float(np.max(np.concatenate(observed))), "best run"
        if not reference[b] > 0:
            raise ValueError(f"benchmark {b!r}: the reference hypervolume is {reference[b]}; nothing to divide by")
    left_out: dict[str, str] = {}
    kept = []
    for b in benchmarks:
        counts = {m: len(values.get((b, m), ())) for m in methods}
        if b not in reference or min(counts.values()) == 0:
            left_out[b] = "no runs of " + ", ".join(m for m, c in counts.items() if c == 0)
        elif len(set(counts.values())) > 1:
            left_out[b] = "seed counts differ: " + ", ".join(f"{m} {c}" for m, c in counts.items())
        else:
            kept.append(b)
    per_benchmark = {(b, m): bootstrap_interval(values[(b, m)], iqm, n_boot=n_boot, rng=rng, level=level)
                     for b in benchmarks for m in methods if len(values.get((b, m), ()))}
    normalised: dict[str, np.ndarray] = {}
    interval: dict[str, Interval] = {}
    for m in methods:
        if not kept:
            continue
        normalised[m] = np.column_stack([values[(b, m)] / reference[b] for b in kept])
        interval[m] = stratified_bootstrap(normalised[m], iqm, n_boot=n_boot, rng=rng, level=level)
    versus: dict[str, tuple[int, int, int]] = {}
    for m in methods:
        wins = ties = losses = 0
        for b in benchmarks:
            mine, theirs = per_benchmark.get((b, m)), per_benchmark.get((b, baseline))
            if mine is None or theirs is None:
                continue
            if mine.lower > theirs.upper:
                wins += 1
            elif mine.upper < theirs.lower:
                losses += 1
            else:
                ties += 1
        versus[m] = (wins, ties, losses)
    return FinalHypervolumeAggregate(methods, baseline, kept, reference, source, normalised, interval,
                                     per_benchmark, versus, left_out)
