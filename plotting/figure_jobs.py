"""Writing a study's planned figures, one after another or in worker processes (``arena plot --jobs N``).

A planned figure (``plotting.study_figures.PlannedFigure``) that names its ``benchmark`` shows that benchmark's
runs alone: the aggregated curves of a single-objective benchmark; the hypervolume, Pareto-front and attainment
figures of a multi-objective one. With ``jobs > 1`` such figures are drawn in worker processes, one task per
benchmark: the task carries the study's index restricted to that benchmark (``ExperimentIndex.restricted_to``:
no folder is listed and no metadata read again; the worker reads only that benchmark's result files), the
parent's styles and ``FigureOptions``, so the worker plans the benchmark's figures again exactly as the parent
did (same setups in the same order, same colours, same bootstrap seeds). The figures across benchmarks need
every benchmark's curves, which the parent has already loaded to plan them: the parent draws them while the
workers run.

What the caller sees does not depend on ``jobs``: the files (each written atomically by ``save_figure``, so an
interrupted or failing run never leaves a truncated figure under its final name), the list of written paths
and the notes, both in plan order, and the warnings the drawing raised (recorded in the workers and issued
again by the parent, in plan order). A figure whose optional library is missing becomes a note; any other
error stops everything: the remaining tasks are cancelled, the workers are ended, and the worker's exception
is raised again in the parent with its own message (and a note naming the figure). The workers ignore Ctrl-C;
the parent, interrupted, ends them before passing the interruption on.

Workers come from loky (``joblib.externals.loky``, the process pool joblib itself uses): fresh interpreters,
which can be ended on demand and notice when the parent is gone.
"""
from __future__ import annotations

import os
import pickle
import signal
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass, field
from typing import Any

from plotting.study_figures import FigureOptions, PlannedFigure

SINGLE_OBJECTIVE = "single"
MULTI_OBJECTIVE = "multi"


@dataclass(frozen=True)
class FigureOutput:
    """Where and how figures are written: ``out/<name>.<format>`` for every format, PNG at ``dpi``."""

    out: str
    formats: tuple[str, ...]
    dpi: float | None = None


@dataclass
class FigureOutcome:
    """What writing one planned figure gave: the written paths, or a note when an optional library is missing;
    and the warnings raised meanwhile (message, category, file name, line) when they were recorded."""

    name: str
    paths: list[str] = field(default_factory=list)
    note: str | None = None
    warnings: list[tuple[str, type[Warning], str, int]] = field(default_factory=list)


def write_planned_figure(planned: PlannedFigure, output: FigureOutput) -> FigureOutcome:
    """Draw ``planned`` and write it in every format; a missing optional library (``ModuleNotFoundError`` from
    drawing) gives a note naming it, any other error is raised with a note naming the figure."""
    import matplotlib.pyplot as plt

    from plotting.figures import save_figure

    try:
        fig = planned.draw()
    except ModuleNotFoundError as error:
        return FigureOutcome(planned.name, note=f"no {planned.name.replace('_', '-')} figure: {error}")
    except Exception as error:
        error.add_note(f"arena plot: while drawing the figure {planned.name!r}")
        raise
    try:
        paths = save_figure(fig, os.path.join(output.out, planned.name), list(output.formats), dpi=output.dpi)
    except Exception as error:
        error.add_note(f"arena plot: while writing the figure {planned.name!r}")
        raise
    finally:
        plt.close(fig)
    return FigureOutcome(planned.name, paths)


@dataclass(frozen=True)
class BenchmarkTask:
    """The planned figures of one benchmark, to be planned again and written in a worker process."""

    kind: str  # SINGLE_OBJECTIVE or MULTI_OBJECTIVE: which plan the figures come from
    benchmark: str
    names: tuple[str, ...]  # file stems of the figures to write, in plan order
    index: Any  # results.store.ExperimentIndex restricted to ``benchmark``
    num_runs: int | None
    n_threads: int
    styles: dict[str, Any]
    options: FigureOptions
    output: FigureOutput


def run_benchmark_task(task: BenchmarkTask) -> list[FigureOutcome]:
    """In a worker: plan the benchmark's figures from its runs alone and write the ones the parent planned."""
    from plotting.study_figures import multi_objective_figures, single_objective_figures
    from results.comparative import ComparativeResults

    outcomes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the parent applies its own filters when it issues them again
        comparative = ComparativeResults.from_index(task.index, num_runs=task.num_runs, n_threads=task.n_threads)
        if task.kind == SINGLE_OBJECTIVE:
            plan = single_objective_figures(comparative, task.styles, task.options, [], wanted={"benchmarks"})
        else:
            plan = multi_objective_figures(comparative, [task.benchmark], task.styles, task.options)
        planned = {figure.name: figure for figure in plan}
        for name in task.names:
            if name not in planned:  # the same plan from the same runs: this would be a bug, say so plainly
                raise RuntimeError(f"the worker's plan for {task.benchmark!r} has no figure {name!r} "
                                   f"(it has {sorted(planned)})")
            try:
                outcome = write_planned_figure(planned[name], task.output)
            except Exception as error:  # noqa: BLE001 - every error goes to the parent, as itself if it can
                raise _transportable(error) from None
            outcome.warnings = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
            caught.clear()
            outcomes.append(outcome)
    return outcomes


def _transportable(error: Exception) -> Exception:
    """``error`` itself when it survives pickling (the parent raises the same type and message), else a
    RuntimeError with its type and message (an exception class whose arguments do not rebuild it)."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any failure to rebuild means: send the text instead
        plain = RuntimeError(f"{type(error).__name__}: {error}")
        for note in getattr(error, "__notes__", []):
            plain.add_note(note)
        return plain


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which ends them (no traceback from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def write_figures(plan: Sequence[PlannedFigure], output: FigureOutput, jobs: int = 1, *, kind: str = SINGLE_OBJECTIVE,
                  comparative=None, styles: dict[str, Any] | None = None,
                  options: FigureOptions | None = None) -> list[FigureOutcome]:
    """Write every planned figure; outcomes in plan order. With ``jobs > 1`` (and ``comparative``, the
    ``ComparativeResults`` the plan was made from, with the ``styles`` and ``options`` it was made with) the
    figures of single benchmarks are written by up to ``jobs`` worker processes (module docstring)."""
    per_benchmark: dict[str, list[str]] = {}
    for planned in plan:
        if planned.benchmark is not None:
            per_benchmark.setdefault(planned.benchmark, []).append(planned.name)
    if jobs <= 1 or not per_benchmark or comparative is None:
        return [write_planned_figure(planned, output) for planned in plan]
    if styles is None or options is None:
        raise ValueError("writing figures in worker processes needs the plan's styles and options")
    from joblib.externals.loky import ProcessPoolExecutor

    tasks = [BenchmarkTask(kind, benchmark, tuple(names), comparative.index.restricted_to([benchmark]),
                           comparative.num_runs, comparative.n_threads, dict(styles), options, output)
             for benchmark, names in per_benchmark.items()]
    outcomes: dict[str, FigureOutcome] = {}
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_ignore_interrupts)
    try:
        futures = [executor.submit(run_benchmark_task, task) for task in tasks]
        for planned in plan:  # the figures across benchmarks, here while the workers draw the others
            if planned.benchmark is None:
                _raise_first_failure(futures)
                outcomes[planned.name] = write_planned_figure(planned, output)
        wait(futures, return_when=FIRST_EXCEPTION)
        _raise_first_failure(futures)
        for future in futures:
            for outcome in future.result():
                outcomes[outcome.name] = outcome
    except BaseException:
        executor.shutdown(wait=True, kill_workers=True)
        raise
    executor.shutdown(wait=True)
    ordered = [outcomes[planned.name] for planned in plan]
    registries: dict[str, dict] = {}
    for outcome in ordered:  # issue the workers' warnings again, in plan order, under this process's filters
        for message, category, filename, lineno in outcome.warnings:
            warnings.warn_explicit(message, category, filename, lineno, registry=registries.setdefault(filename, {}))
    return ordered


def _raise_first_failure(futures) -> None:
    """Raise the exception of the first failed task (in plan order), as its own error: the worker's traceback
    is not chained to it (the note added in the worker names the figure)."""
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is not None:
            error = future.exception()
            error.__cause__ = None
            error.__suppress_context__ = True
            raise error
