"""Per-experiment queries Azure ML HyperDrive users know, over one stored experiment.

HyperDrive (SDK v1) offers ``get_best_run_by_primary_metric``, ``get_children_sorted_by_primary_metric
(top, reverse, discard_no_metric)``, ``get_hyperparameters`` and ``get_metrics``. Here a trial plays
the role of a child run and its primary-metric value is the best value it reported (mode aware),
like HyperDrive's ``best_primary_metric``. Trials without any value of the metric are put last,
whatever the order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from results.store import RESERVED_RESULT_COLUMNS, Experiment


def _metric_and_mode(experiment: Experiment, metric: str | None, mode: str | None) -> tuple[str, str]:
    metric = metric or experiment.metric
    if mode is None:
        if metric != experiment.metric:
            raise ValueError(f"metric {metric!r} is not the primary metric; pass mode='min' or mode='max'")
        mode = experiment.mode
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if metric not in experiment.results.columns:
        raise KeyError(
            f"metric {metric!r} is not a result column; columns are {list(experiment.results.columns)}"
        )
    return metric, mode


def _trial_ids(experiment: Experiment) -> list[int]:
    """Every trial of the experiment: from trials.parquet when loaded, else those with results."""
    ids = set(experiment.results["trial_id"].tolist())
    if "trial_id" in experiment.trials.columns:
        ids |= set(experiment.trials["trial_id"].tolist())
    return sorted(int(i) for i in ids)


def _config_columns(experiment: Experiment) -> tuple[pd.DataFrame, list[str]]:
    source = experiment.trials if "trial_id" in experiment.trials.columns else experiment.results
    columns = [c for c in source.columns if c.startswith("config.")]
    return source, columns


def hyperparameters(experiment: Experiment) -> dict[int, dict]:
    """trial_id -> configuration (names without the ``config.`` prefix)."""
    source, columns = _config_columns(experiment)
    first = source.drop_duplicates("trial_id", keep="first").set_index("trial_id")
    configs = {}
    for trial_id, row in first[columns].iterrows():
        configs[int(trial_id)] = {c.removeprefix("config."): _plain(row[c]) for c in columns}
    return configs


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def metrics(experiment: Experiment) -> dict[int, dict[str, list]]:
    """trial_id -> {result column -> list of reported values in report order} (objectives and fidelity)."""
    results = experiment.results
    columns = [
        c
        for c in results.columns
        if not c.startswith("config.") and (c not in RESERVED_RESULT_COLUMNS or c == "fidelity")
    ]
    output: dict[int, dict[str, list]] = {trial_id: {} for trial_id in _trial_ids(experiment)}
    for trial_id, rows in results.groupby("trial_id", sort=True):
        output[int(trial_id)] = {c: [_plain(v) for v in rows[c].tolist()] for c in columns}
    return output


def primary_metric_per_trial(
    experiment: Experiment, metric: str | None = None, mode: str | None = None
) -> pd.Series:
    """Best reported value of ``metric`` per trial (NaN for trials that never reported it), indexed by trial_id."""
    metric, mode = _metric_and_mode(experiment, metric, mode)
    grouped = experiment.results.groupby("trial_id")[metric]
    best = grouped.min() if mode == "min" else grouped.max()
    return best.reindex(_trial_ids(experiment))


def sorted_trials(
    experiment: Experiment,
    top: int = 0,
    reverse: bool = False,
    metric: str | None = None,
    mode: str | None = None,
) -> list[dict]:
    """Trials sorted best first by their primary-metric value (``reverse`` puts the worst first).

    ``top`` > 0 keeps the first ``top`` of the order; trials without the metric come last in either
    order (ties keep trial-id order). Each entry: trial_id, metric value (None if absent), status,
    hyperparameters.
    """
    if top < 0:
        raise ValueError(f"top must be >= 0 (0 means all), got {top}")
    metric, mode = _metric_and_mode(experiment, metric, mode)
    values = primary_metric_per_trial(experiment, metric, mode)
    with_metric = values.dropna()
    best_first_ascending = mode == "min"
    ascending = best_first_ascending != reverse
    ordered = with_metric.sort_values(ascending=ascending, kind="stable")
    order = list(ordered.index) + [t for t in values.index if np.isnan(values[t])]
    if top:
        order = order[:top]
    configs = hyperparameters(experiment)
    statuses = {}
    if "status" in experiment.trials.columns:
        statuses = dict(zip(experiment.trials["trial_id"].astype(int), experiment.trials["status"]))
    return [
        {
            "trial_id": int(t),
            metric: None if np.isnan(values[t]) else float(values[t]),
            "status": statuses.get(int(t)),
            "hyperparameters": configs.get(int(t), {}),
        }
        for t in order
    ]


def best_trial(experiment: Experiment, metric: str | None = None, mode: str | None = None) -> dict | None:
    """The trial with the best primary-metric value (None if no trial reported the metric)."""
    ranking = sorted_trials(experiment, top=1, metric=metric, mode=mode)
    if not ranking or ranking[0][metric or experiment.metric] is None:
        return None
    return ranking[0]
