"""Leave-one-task-out transfer data, built by the framework from the source tasks only, and the rule that a
transfer method needs a benchmark that has some.

``build_transfer_data(benchmark, root)`` reads the tables of ``benchmark.source_tasks`` (by default every task
of the blackbox except ``benchmark.task``) and never the target task's: the target is excluded before any table
is opened, and ``TransferData`` refuses to hold it. ``launchers.experiment.build_scheduler`` hands the result to
methods whose registry entry says ``transfer_learning``.

``check_transfer_fits(method, benchmark)`` refuses a transfer method on a benchmark without transfer data; it
is called from ``launchers.method_checks.check_method_fits_benchmark``, i.e. by ``run_experiment`` before
anything is written and by the sweep's validation before any job starts.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd

from baselines.transfer import TransferData, TransferTask
from benchmark_definitions.definitions import Benchmark, SimulatedBenchmark


class TransferMismatch(ValueError):
    """A transfer-learning method on a benchmark that offers no other tasks' evaluations."""


def has_transfer_data(benchmark: Benchmark) -> bool:
    return isinstance(benchmark, SimulatedBenchmark) and bool(benchmark.transfer)


def check_transfer_fits(method: str, benchmark: Benchmark, uses_transfer_data: bool | None = None) -> None:
    """Raise ``TransferMismatch`` if ``method`` learns from other tasks and ``benchmark`` offers none.

    ``uses_transfer_data`` defaults to the registry's flag (pass it for methods built outside the registry).
    """
    if uses_transfer_data is None:
        from baselines.registry import method_uses_transfer_data

        try:
            uses_transfer_data = method_uses_transfer_data(method)
        except ValueError:  # not a registered name: building the method reports that
            return
    if uses_transfer_data and not has_transfer_data(benchmark):
        raise TransferMismatch(
            f"method {method} learns from the evaluations of other tasks, but benchmark {benchmark.name} offers "
            "none; run it on a leave-one-task-out benchmark (`arena benchmarks list 'transfer-*'`), or set "
            "transfer: true (and optionally source_tasks) in a simulated benchmark's definition"
        )


def source_tasks(benchmark: SimulatedBenchmark, root: str | None = None) -> list[str]:
    """The benchmark's source tasks: ``source_tasks`` if set, else every other task of its blackbox."""
    if benchmark.source_tasks:
        return list(benchmark.source_tasks)
    from blackbox_repo.repository import load_blackbox
    from launchers.experiment import blackbox_root

    group = load_blackbox(benchmark.blackbox, root=blackbox_root(benchmark, root))
    return [task for task in group.tasks if task != benchmark.task]


def build_transfer_data(benchmark: SimulatedBenchmark, root: str | None = None) -> TransferData:
    """The source tasks' evaluations of ``benchmark``'s metric (see the module docstring)."""
    if not has_transfer_data(benchmark):
        raise TransferMismatch(f"benchmark {benchmark.name} has no transfer data (transfer is false)")
    from launchers.experiment import blackbox_root

    tasks = tuple(task for task in source_tasks(benchmark, root) if task != benchmark.task)
    return _build(benchmark.blackbox, benchmark.task, tasks, benchmark.metric, benchmark.mode,
                  benchmark.max_fidelity, blackbox_root(benchmark, root))


@functools.lru_cache(maxsize=4)
def _build(blackbox: str, target: str, tasks: tuple[str, ...], metric: str, mode: str, max_fidelity: float | None,
           root: str | None) -> TransferData:
    # Cached: the sweep's validation pass and the experiment build the same data for every job.
    from blackbox_repo.blackbox import TabularBlackbox
    from blackbox_repo.repository import load_blackbox

    if target in tasks:  # never reached from build_transfer_data; guards direct callers
        raise TransferMismatch(f"source tasks {list(tasks)} include the target task {target}")
    sign = 1.0 if mode == "min" else -1.0
    out = []
    for task in tasks:
        table = load_blackbox(blackbox, root=root, task=task)
        if not isinstance(table, TabularBlackbox):
            raise TransferMismatch(f"transfer data needs tabulated source tasks; {blackbox}/{task} is not a table")
        stop = None
        fidelities = np.array([1.0]) if table.fidelity_values is None else np.asarray(table.fidelity_values, float)
        if max_fidelity is not None and table.fidelity_values is not None:
            stop = int(np.searchsorted(fidelities, max_fidelity, side="right"))
            fidelities = fidelities[:stop]
        raw = np.asarray(table.objectives[:, :, :stop, table.objective_index(metric)], dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN seeds of unevaluated rows
            values = sign * np.nanmean(raw, axis=1)
        keep = np.isfinite(values[:, -1])
        if not keep.any():
            continue  # the table holds no value of this metric for the task
        # Normalised values (plain Python types), so they compare equal to the configurations methods propose.
        configurations = pd.DataFrame(table.all_configurations()).loc[keep].reset_index(drop=True)
        out.append(TransferTask(task, configurations, values[keep], fidelities))
    return TransferData(blackbox, target, metric, mode, tuple(out))
