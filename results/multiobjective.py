"""Hypervolume over time of multi-objective runs, comparable across runs and methods of one benchmark.

Reference-point rule (fixed per benchmark): every objective is normalised by the bounds the experiment
recorded in ``metadata["objective_bounds"]`` = ``{objective: [best, worst]}`` over the *whole table* (every
configuration, seed and fidelity up to the benchmark's maximum, ``launchers.experiment.objective_bounds``):
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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from results.comparative import CurveSpec
from results.statistics import hypervolume_curve

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
