"""The run queries Azure ML HyperDrive users know, over stored experiments: the one implementation.

HyperDrive (SDK v1) answers, on a parent run: ``get_best_run_by_primary_metric(include_failed,
include_canceled, include_resume_from_runs)``, ``get_children_sorted_by_primary_metric(top, reverse,
discard_no_metric)``, ``get_hyperparameters()`` and ``get_metrics()``. Here a trial plays the role of a child run:

- its *primary metric* is the best finite value of the metric it logged (mode aware), like HyperDrive's
  ``best_primary_metric``;
- its *status* is HyperDrive's: ``Completed``, ``Canceled`` (stopped early by the method), ``Failed``,
  ``Running``, ``Paused``. It comes from ``trials.parquet`` when given; without it, from the decisions in
  ``results.parquet``: a trial whose last result was answered ``stop`` was cancelled, ``pause`` paused, any
  other finished (so ``include_canceled=False`` leaves cancelled trials out in both cases);
- ordering: best first (``reverse``: worst first); children that never logged the metric come last in either
  order (or are dropped with ``discard_no_metric``); ties keep run-id order in both directions;
- warm start: HyperDrive's ``resume_from`` parents lend their children to the new run. ``HyperDriveRun(...,
  resume_from=[parent, ...])`` does the same: the parents' children are inherited (``ChildRun.resumed_from``
  names the parent) and ``get_best_run_by_primary_metric(include_resume_from_runs=True)`` considers them, as
  HyperDrive does; the other queries list the run's own children.

``HyperDriveRun`` is built from in-memory child runs, from results/trials tables (``from_results``) or from a
stored experiment (``from_experiment``). The functions below it (``sorted_trials``, ``best_trial``,
``hyperparameters``, ``metrics``, ``primary_metric_per_trial``) are the same queries over an ``Experiment``,
in the results store's vocabulary (trial ids, statuses as in ``trials.parquet``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.hyperdrive import PrimaryMetricGoal, goal_to_mode
from results.store import RESERVED_RESULT_COLUMNS, Experiment

# trials.parquet status -> HyperDrive's run status
HYPERDRIVE_STATUS = {"completed": "Completed", "stopped": "Canceled", "failed": "Failed", "running": "Running",
                     "paused": "Paused"}
STORE_STATUS = {v: k for k, v in HYPERDRIVE_STATUS.items()}
# the last decision a trial received in results.parquet -> its status, when trials.parquet is not given
_STATUS_FROM_DECISION = {"stop": "Canceled", "pause": "Paused"}


@dataclass
class ChildRun:
    """One HyperDrive child run: its hyperparameters, every logged value of each metric, and its status."""

    run_id: int
    hyperparameters: dict[str, Any]
    metrics: dict[str, list[float]] = field(default_factory=dict)
    status: str = "Completed"  # Completed | Canceled | Failed | Running | Paused
    resumed_from: str | None = None  # the warm-start parent it was inherited from (None: the run's own)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _metric_columns(results: pd.DataFrame) -> list[str]:
    """Logged values: every result column but configurations and bookkeeping (the fidelity is logged too)."""
    return [c for c in results.columns
            if not c.startswith("config.") and (c not in RESERVED_RESULT_COLUMNS or c == "fidelity")]


def child_runs(results: pd.DataFrame, trials: pd.DataFrame | None = None) -> list[ChildRun]:
    """Child runs of a ``results.parquet`` table, with statuses and never-reporting trials from
    ``trials.parquet`` when given (else statuses derived from the decisions, see the module docstring)."""
    config_columns = [c for c in results.columns if c.startswith("config.")]
    metric_columns = _metric_columns(results)
    children: dict[int, ChildRun] = {}
    for trial_id, group in results.groupby("trial_id", sort=True):
        first = group.iloc[0]
        status = "Completed"
        if "decision" in group.columns and len(group):
            status = _STATUS_FROM_DECISION.get(str(group["decision"].iloc[-1]), "Completed")
        children[int(trial_id)] = ChildRun(
            run_id=int(trial_id),
            hyperparameters={c.removeprefix("config."): _plain(first[c]) for c in config_columns},
            metrics={m: [_plain(v) for v in group[m].tolist()] for m in metric_columns},
            status=status,
        )
    if trials is not None and "trial_id" in trials.columns:
        trial_configs = [c for c in trials.columns if c.startswith("config.")]
        for record in trials.to_dict("records"):
            trial_id = int(record["trial_id"])
            child = children.get(trial_id)
            if child is None:
                child = ChildRun(trial_id, {c.removeprefix("config."): _plain(record[c]) for c in trial_configs})
                children[trial_id] = child
            elif trial_configs:  # trials.parquet holds every trial's configuration, results only reporters'
                child.hyperparameters = {c.removeprefix("config."): _plain(record[c]) for c in trial_configs}
            if "status" in record:
                child.status = HYPERDRIVE_STATUS.get(str(record["status"]), str(record["status"]))
    return [children[t] for t in sorted(children)]


class HyperDriveRun:
    """The parent run's queries over its child runs (see the module docstring)."""

    def __init__(self, children: Sequence[ChildRun], primary_metric_name: str,
                 primary_metric_goal: PrimaryMetricGoal | str, resume_from: Sequence[HyperDriveRun] = (),
                 name: str | None = None):
        self.children = list(children)
        self.primary_metric_name = primary_metric_name
        self.mode = goal_to_mode(primary_metric_goal)
        self.name = name
        self.inherited: list[ChildRun] = []
        for i, parent in enumerate(resume_from):
            if parent.primary_metric_name != primary_metric_name or parent.mode != self.mode:
                raise ValueError(
                    f"resume_from run {parent.name or i} optimises {parent.primary_metric_name!r} ({parent.mode}), "
                    f"this run {primary_metric_name!r} ({self.mode}); warm start needs the same primary metric"
                )
            label = parent.name or f"resume_from[{i}]"
            for child in [*parent.children, *parent.inherited]:
                self.inherited.append(ChildRun(child.run_id, dict(child.hyperparameters),
                                               {m: list(v) for m, v in child.metrics.items()}, child.status,
                                               child.resumed_from or label))

    @classmethod
    def from_results(cls, results: pd.DataFrame, primary_metric_name: str,
                     primary_metric_goal: PrimaryMetricGoal | str, trials: pd.DataFrame | None = None,
                     resume_from: Sequence[HyperDriveRun] = (), name: str | None = None) -> HyperDriveRun:
        """Child runs from a ``results.parquet`` table (and optionally ``trials.parquet``)."""
        metrics = _metric_columns(results)
        if primary_metric_name not in metrics:
            raise KeyError(
                f"primary metric {primary_metric_name!r} is not a column of the results; metrics: {metrics}"
            )
        return cls(child_runs(results, trials), primary_metric_name, primary_metric_goal, resume_from, name)

    @classmethod
    def from_experiment(cls, experiment: Experiment, metric: str | None = None, mode: str | None = None,
                        resume_from: Sequence[HyperDriveRun] = ()) -> HyperDriveRun:
        """The queries over one stored experiment (primary metric: the experiment's tuned one by default)."""
        metric, mode = _metric_and_mode(experiment, metric, mode)
        trials = experiment.trials if "trial_id" in experiment.trials.columns else None
        return cls(child_runs(experiment.results, trials), metric, mode, resume_from, name=experiment.path)

    # ----------------------------------------------------------------------------------------------------
    def best_primary_metric(self, child: ChildRun) -> float | None:
        """The best finite value of the primary metric the child logged (``None`` if it logged none)."""
        values = [float(v) for v in child.metrics.get(self.primary_metric_name, [])
                  if v is not None and not math.isnan(float(v))]
        if not values:
            return None
        return max(values) if self.mode == "max" else min(values)

    def _ranked(self, children: Sequence[ChildRun], reverse: bool = False) -> tuple[list, list]:
        scored = [(self.best_primary_metric(c), c) for c in children]
        with_metric = [(v, c) for v, c in scored if v is not None]
        without = [(v, c) for v, c in scored if v is None]
        best_first = -1.0 if self.mode == "max" else 1.0
        sign = -best_first if reverse else best_first
        # Python's sort is stable: equal values keep run-id order whichever direction is asked for.
        with_metric.sort(key=lambda vc: sign * vc[0])
        return with_metric, without

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """The run's children best first (``reverse``: worst first); ``top > 0`` keeps the first ``top``.
        Each entry: ``run_id``, ``hyperparameters``, ``best_primary_metric``, ``status``."""
        if top < 0:
            raise ValueError(f"top must be >= 0 (0 = all children), got {top}")
        with_metric, without = self._ranked(self.children, reverse)
        ordered = with_metric + ([] if discard_no_metric else without)
        if top:
            ordered = ordered[:top]
        return [{"run_id": c.run_id, "hyperparameters": dict(c.hyperparameters), "best_primary_metric": v,
                 "status": c.status} for v, c in ordered]

    def get_best_run_by_primary_metric(self, include_failed: bool = True, include_canceled: bool = True,
                                       include_resume_from_runs: bool = True) -> ChildRun | None:
        """The child with the best primary metric (``None`` if no eligible child logged it); the run's own
        child wins a tie with an inherited one, then the lower run id."""
        excluded = ({"Failed"} if not include_failed else set()) | ({"Canceled"} if not include_canceled else set())
        candidates = [c for c in self.children if c.status not in excluded]
        if include_resume_from_runs:
            candidates += [c for c in self.inherited if c.status not in excluded]
        with_metric, _ = self._ranked(candidates)
        return with_metric[0][1] if with_metric else None

    def get_hyperparameters(self) -> dict[int, dict[str, Any]]:
        return {c.run_id: dict(c.hyperparameters) for c in self.children}

    def get_metrics(self) -> dict[int, dict[str, list[float]]]:
        return {c.run_id: {m: list(v) for m, v in c.metrics.items()} for c in self.children}


# ---------------------------------------------------------------------------------------------------------
# The same queries over an Experiment, in the results store's vocabulary
# ---------------------------------------------------------------------------------------------------------


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


def hyperparameters(experiment: Experiment) -> dict[int, dict]:
    """trial_id -> configuration (names without the ``config.`` prefix)."""
    return {c.run_id: dict(c.hyperparameters) for c in _children(experiment)}


def metrics(experiment: Experiment) -> dict[int, dict[str, list]]:
    """trial_id -> {result column -> list of reported values in report order} (objectives and fidelity)."""
    return {c.run_id: {m: list(v) for m, v in c.metrics.items()} for c in _children(experiment)}


def _children(experiment: Experiment) -> list[ChildRun]:
    trials = experiment.trials if "trial_id" in experiment.trials.columns else None
    return child_runs(experiment.results, trials)


def primary_metric_per_trial(
    experiment: Experiment, metric: str | None = None, mode: str | None = None
) -> pd.Series:
    """Best reported value of ``metric`` per trial (NaN for trials that never reported it), indexed by trial_id."""
    run = HyperDriveRun.from_experiment(experiment, metric, mode)
    values = {c.run_id: run.best_primary_metric(c) for c in run.children}
    return pd.Series({t: np.nan if v is None else v for t, v in values.items()}, dtype=float, name=run.primary_metric_name)


def sorted_trials(
    experiment: Experiment,
    top: int = 0,
    reverse: bool = False,
    metric: str | None = None,
    mode: str | None = None,
) -> list[dict]:
    """``get_children_sorted_by_primary_metric`` over an experiment. Each entry: trial_id, metric value (None if
    absent), status (as in trials.parquet: completed, stopped, failed, running, paused), hyperparameters."""
    run = HyperDriveRun.from_experiment(experiment, metric, mode)
    return [
        {
            "trial_id": entry["run_id"],
            run.primary_metric_name: entry["best_primary_metric"],
            "status": STORE_STATUS.get(entry["status"], entry["status"]),
            "hyperparameters": entry["hyperparameters"],
        }
        for entry in run.get_children_sorted_by_primary_metric(top=top, reverse=reverse)
    ]


def best_trial(experiment: Experiment, metric: str | None = None, mode: str | None = None,
               include_failed: bool = True, include_canceled: bool = True) -> dict | None:
    """``get_best_run_by_primary_metric`` over an experiment, as a ``sorted_trials`` entry (None if no trial
    reported the metric)."""
    run = HyperDriveRun.from_experiment(experiment, metric, mode)
    child = run.get_best_run_by_primary_metric(include_failed=include_failed, include_canceled=include_canceled)
    if child is None:
        return None
    return {"trial_id": child.run_id, run.primary_metric_name: run.best_primary_metric(child),
            "status": STORE_STATUS.get(child.status, child.status), "hyperparameters": dict(child.hyperparameters)}
