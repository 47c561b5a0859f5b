"""Transfer data: what a transfer-learning method knows of the *other* tasks of a benchmark's blackbox.

A leave-one-task-out benchmark (``transfer-*``, ``SimulatedBenchmark.transfer``) tunes one task of a blackbox
(the target) and lets transfer methods read the evaluations of the blackbox's other tasks (the sources). The
framework builds a ``TransferData`` from the source tasks only (``launchers.transfer_data``) and hands it to
methods whose scheduler declares ``Scheduler.uses_transfer_data``; the target task's evaluations are never
read, so a method cannot peek at the answers it is judged on.

Values are stored in the method's minimisation direction (``sign * value``, ``sign = -1`` for ``mode="max"``),
averaged over the table's seeds, one column per fidelity; ``final`` is the column of the benchmark's maximum
fidelity. Configurations whose final value is missing (tables that share rows across tasks leave other tasks'
rows NaN) are left out.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from baselines.arguments import forwards_base_arguments
from baselines.scheduler import Searcher
from blackbox_repo.search_space import SearchSpace


@dataclass(frozen=True)
class TransferTask:
    """The evaluations of one source task."""

    task: str
    configurations: pd.DataFrame  # one row per configuration, one column per hyperparameter
    values: np.ndarray  # (n_configurations, n_fidelities), seed-mean metric to minimise; NaN: not evaluated
    fidelities: np.ndarray  # (n_fidelities,)

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape != (len(self.configurations), len(self.fidelities)):
            raise ValueError(f"transfer task {self.task}: values of shape {self.values.shape} do not match "
                             f"{len(self.configurations)} configurations x {len(self.fidelities)} fidelities")
        if len(self.configurations) == 0:
            raise ValueError(f"transfer task {self.task} holds no evaluated configuration")

    @property
    def final(self) -> np.ndarray:
        """Final values (at the largest fidelity), to minimise."""
        return self.values[:, -1]

    def records(self) -> list[dict[str, Any]]:
        return self.configurations.to_dict("records")

    def frame(self) -> pd.DataFrame:
        """Configurations with their final value (column ``value``, to minimise)."""
        return self.configurations.assign(value=self.final)

    def best_configurations(self, k: int = 1) -> list[dict[str, Any]]:
        """The ``k`` configurations with the best final values, best first (ties: table order)."""
        order = np.argsort(self.final, kind="stable")[:k]
        records = self.records()
        return [records[i] for i in order]


@dataclass(frozen=True)
class TransferData:
    """Evaluations of the source tasks of a leave-one-task-out benchmark (never of ``target_task``)."""

    blackbox: str
    target_task: str
    metric: str
    mode: str  # the benchmark's direction; values are already signed to minimise
    tasks: tuple[TransferTask, ...]

    def __post_init__(self) -> None:
        names = [t.task for t in self.tasks]
        if not names:
            raise ValueError(f"transfer data for {self.blackbox}/{self.target_task} holds no source task")
        if self.target_task in names:
            raise ValueError(f"transfer data for {self.blackbox} includes the target task {self.target_task}: "
                             "a method must never see the evaluations it is judged on")
        if len(set(names)) != len(names):
            raise ValueError(f"transfer data lists a source task twice: {names}")

    @property
    def task_names(self) -> list[str]:
        return [t.task for t in self.tasks]

    @staticmethod
    def from_frames(frames: Mapping[str, pd.DataFrame], metric: str, mode: str = "min", target_task: str = "target",
                    blackbox: str = "hand-made") -> TransferData:
        """Build from one frame per source task: hyperparameter columns plus ``metric`` (final values, in the
        benchmark's direction ``mode``). For hand-made data, tests and user scripts."""
        sign = 1.0 if mode == "min" else -1.0
        tasks = []
        for task, frame in frames.items():
            if metric not in frame.columns:
                raise ValueError(f"transfer frame of task {task} lacks the metric column {metric!r}")
            values = sign * frame[metric].to_numpy(dtype=np.float64)[:, None]
            tasks.append(TransferTask(task, frame.drop(columns=[metric]).reset_index(drop=True), values,
                                      np.array([1.0])))
        return TransferData(blackbox, target_task, metric, mode, tuple(tasks))


def check_transfer_data(transfer_data: Any, method: str) -> TransferData:
    if not isinstance(transfer_data, TransferData):  # a ValueError: the sweep's validation reports it as a problem
        raise ValueError(  # noqa: TRY004
            f"method {method} learns from other tasks' evaluations and needs transfer data "
            f"(a baselines.transfer.TransferData), got {type(transfer_data).__name__}; run it on a "
            "leave-one-task-out benchmark (`arena benchmarks list 'transfer-*'`)")
    return transfer_data


@forwards_base_arguments
class TransferSearcher(Searcher):
    """A searcher built with the other tasks' evaluations (``transfer_data``, required, third argument).

    ``restrict_to`` (a table's configurations) is kept as a list of dicts in ``self.restrict_to`` for the
    subclass to propose from; ``method`` names the method in error messages.
    """

    method: ClassVar[str]

    def __init__(self, config_space: SearchSpace, metric: str, transfer_data: TransferData, *args: Any,
                 restrict_to: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any):
        super().__init__(config_space, metric, *args, **kwargs)
        self.transfer_data = check_transfer_data(transfer_data, self.method)
        self.restrict_to = None if restrict_to is None else [dict(c) for c in restrict_to]

    def check_count(self, name: str, value: Any) -> None:
        """Refuse anything but an integer >= 1 for the argument ``name``."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{self.method}: {name} must be an integer >= 1, got {value!r}")


def normal_quantiles(values: np.ndarray) -> np.ndarray:
    """Gaussian-copula transform of one task's values: ``Phi^-1`` of the empirical CDF (ranks / (n + 1), ties
    averaged), so every task's values become standard-normal scores whatever their scale (Salinas et al. 2020)."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    from scipy.special import ndtri  # the standard normal quantile; scipy.stats costs ~0.3 s to import

    return ndtri(ranks / (len(values) + 1))


def normalised_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [0, 1] (0: the best value, 1: the worst; ties averaged)."""
    if len(values) == 1:
        return np.zeros(1)
    ranks = pd.Series(values).rank(method="average").to_numpy()
    return (ranks - 1.0) / (len(values) - 1.0)


def scores_at(candidates: Sequence[Mapping[str, Any]], task: TransferTask, task_scores: np.ndarray,
              space: SearchSpace) -> np.ndarray:
    """``task_scores`` (one per configuration of ``task``) looked up for each candidate: the score of the same
    configuration if the task evaluated it, else of its nearest evaluated neighbour in the encoded space (so
    tasks whose tables hold different configurations still score every candidate)."""
    from baselines.encoding import ConfigEncoder

    names = list(space)
    index = {tuple(rec[n] for n in names): i for i, rec in enumerate(task.records())}
    out = np.empty(len(candidates))
    missing = []
    for j, config in enumerate(candidates):
        i = index.get(tuple(config[n] for n in names))
        if i is None:
            missing.append(j)
        else:
            out[j] = task_scores[i]
    if missing:
        encoder = ConfigEncoder(space)
        source = encoder.encode_many(task.records())
        queried = encoder.encode_many([candidates[j] for j in missing])
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(source).query(queried, k=1)
        out[np.asarray(missing)] = task_scores[nearest]
    return out
