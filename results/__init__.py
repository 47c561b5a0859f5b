"""Stored experiment results: reading them, statistics, and comparisons of methods.

Layout of one experiment: ``<root>/<tag>/<benchmark>/<method>/<seed>/`` holding ``metadata.json``,
``results.parquet`` and ``trials.parquet`` (layout in ARCHITECTURE.md).
"""

from results.comparative import BenchmarkCurves, ComparativeResults, CurveSpec, InitTrialsCurve
from results.store import Experiment, ExperimentIndex, index_experiments, load_experiment

__all__ = [
    "BenchmarkCurves",
    "ComparativeResults",
    "CurveSpec",
    "Experiment",
    "ExperimentIndex",
    "InitTrialsCurve",
    "index_experiments",
    "load_experiment",
]
