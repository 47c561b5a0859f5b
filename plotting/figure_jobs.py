"""Writing a study's planned figures, one after another or in worker processes (``arena plot --jobs N``).

A planned figure (``plotting.study_figures.PlannedFigure``) says what it is drawn from, so that a worker process
can plan it again and draw it without the parent's objects:

* ``benchmark``: the runs of that benchmark alone (the aggregated curves of a single-objective benchmark; the
  hypervolume, Pareto-front and attainment figures of a multi-objective one). One task per benchmark carries the
  study's index restricted to it (``ExperimentIndex.restricted_to``: no folder is listed and no metadata read
  again), the benchmark's result frames the parent has read already (to plan the figures across benchmarks; a
  pickled frame is read faster than its Parquet file), the parent's styles and ``FigureOptions``; the worker
  reads only the rest of that benchmark's result files. It plans the benchmark's figures as the parent did (same
  setups in the same order, same colours, same bootstrap seeds).
* ``regret``: the normalised regret of every benchmark (``RegretCurves``, which the parent computed to plan the
  figures across benchmarks; a few MB at most). One task per such figure carries it.

With ``jobs > 1`` (``FigureWorkers``: ``jobs - 1`` workers, started before the figures are planned so that their
interpreters start while this process reads the results) this process and the workers draw at the same time:
the benchmarks' figures are queued first, then the figures across benchmarks in reverse plan order, each drawn
by whoever claims it first (an exclusive file creation in a temporary folder): this process, which holds their
data already and goes through them in plan order at once, or a worker that reaches one first. The work balances itself: with few workers this
process draws them all, with many the workers share them.

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
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass, field
from typing import Any, Self

from plotting.study_figures import FigureOptions, PlannedFigure

SINGLE_OBJECTIVE = "single"
MULTI_OBJECTIVE = "multi"
ACROSS_BENCHMARKS = "across"


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
class FigureTask:
    """Planned figures to be planned again and written in a worker process, from one benchmark's runs or from
    the normalised regret of every benchmark."""

    kind: str  # SINGLE_OBJECTIVE, MULTI_OBJECTIVE (the benchmark's figures) or ACROSS_BENCHMARKS
    names: tuple[str, ...]  # file stems of the figures to write, in plan order
    styles: dict[str, Any]
    options: FigureOptions
    output: FigureOutput
    benchmark: str | None = None
    index: Any = None  # results.store.ExperimentIndex restricted to ``benchmark``
    loaded: Any = None  # the benchmark's result frames the parent has read already (not read again)
    num_runs: int | None = None
    n_threads: int = 8
    regret: Any = None  # results.across_benchmarks.RegretCurves, for ACROSS_BENCHMARKS
    several_benchmarks: bool = True
    claims: str | None = None  # folder of ``claim``: draw a figure only when claiming it succeeds


def claim(claims: str, name: str) -> bool:
    """True for the first process that claims figure ``name`` (creates its file in ``claims``), False after."""
    try:
        os.close(os.open(os.path.join(claims, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _plan_again(task: FigureTask) -> list[PlannedFigure]:
    from plotting.study_figures import (
        figures_across_benchmarks,
        multi_objective_figures,
        single_objective_figures,
    )
    from results.comparative import ComparativeResults

    if task.kind == ACROSS_BENCHMARKS:
        return figures_across_benchmarks(task.regret, task.several_benchmarks, task.styles, task.options,
                                         wanted=set(task.names))
    comparative = ComparativeResults.from_index(task.index, num_runs=task.num_runs, n_threads=task.n_threads,
                                                loaded=task.loaded)
    if task.kind == SINGLE_OBJECTIVE:
        return single_objective_figures(comparative, task.styles, task.options, [], wanted={"benchmarks"})
    return multi_objective_figures(comparative, [task.benchmark], task.styles, task.options)


def run_figure_task(task: FigureTask) -> list[FigureOutcome]:
    """In a worker: plan the task's figures again from what it carries and write them."""
    outcomes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the parent applies its own filters when it issues them again
        planned = {figure.name: figure for figure in _plan_again(task)}
        for name in task.names:
            if task.claims is not None and not claim(task.claims, name):
                continue  # the parent draws it
            if name not in planned:  # the same plan from the same data: this would be a bug, say so plainly
                raise RuntimeError(f"a worker planned the figures {sorted(planned)}, not {name!r}")
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


def _warm_up() -> None:
    """Import what drawing needs while the parent reads the results (a worker's first task starts at once)."""
    import matplotlib.pyplot  # noqa: F401

    import plotting.figures
    import plotting.pareto  # noqa: F401
    import results.across_benchmarks
    import results.comparative  # noqa: F401


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


class FigureWorkers:
    """``jobs - 1`` worker processes for one command (this process draws too: ``jobs`` draw at once), as a context manager: started on entry (each begins by
    importing what drawing needs), ended on exit; ended at once (running tasks killed) when the block raises,
    Ctrl-C included."""

    def __init__(self, jobs: int) -> None:
        if jobs < 2:
            raise ValueError(f"worker processes are for jobs >= 2 (this process and jobs - 1 workers), got {jobs}")
        self.jobs = jobs
        self.executor = None
        self.folders: set[str] = set()  # where the workers write figures

    def __enter__(self) -> Self:
        from joblib.externals.loky import ProcessPoolExecutor

        self.executor = ProcessPoolExecutor(max_workers=self.jobs - 1, initializer=_ignore_interrupts)
        for _ in range(self.jobs - 1):
            self.executor.submit(_warm_up)
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        from plotting.figures import remove_abandoned_temporaries

        self.executor.shutdown(wait=True, kill_workers=error_type is not None)
        if error_type is not None:  # a worker killed mid-write left its temporary file
            for folder in self.folders:
                remove_abandoned_temporaries(folder)

    def submit(self, task: FigureTask):
        self.folders.add(task.output.out)
        return self.executor.submit(run_figure_task, task)


def write_figures(plan: Sequence[PlannedFigure], output: FigureOutput, workers: FigureWorkers | None = None, *,
                  kind: str = SINGLE_OBJECTIVE, comparative=None, styles: dict[str, Any] | None = None,
                  options: FigureOptions | None = None) -> list[FigureOutcome]:
    """Write every planned figure; outcomes in plan order. With ``workers`` (and ``comparative``, the
    ``ComparativeResults`` the plan was made from, with the ``styles`` and ``options`` it was made with) the
    figures are shared between the workers and this process (module docstring)."""
    if workers is None or comparative is None or not any(p.benchmark for p in plan):
        return [write_planned_figure(planned, output) for planned in plan]
    if styles is None or options is None:
        raise ValueError("writing figures in worker processes needs the plan's styles and options")
    styles = dict(styles)
    per_benchmark: dict[str, list[str]] = {}
    for planned in plan:
        if planned.benchmark is not None:
            per_benchmark.setdefault(planned.benchmark, []).append(planned.name)
    futures = [workers.submit(FigureTask(kind, tuple(names), styles, options, output, benchmark=benchmark,
                                         index=comparative.index.restricted_to([benchmark]),
                                         num_runs=comparative.num_runs, n_threads=comparative.n_threads,
                                         loaded=comparative.loaded_results(benchmark)))
               for benchmark, names in per_benchmark.items()]
    # The figures across benchmarks are queued last, in reverse plan order; each is drawn by whoever claims it
    # first: this process, going through them in plan order, or a worker done with the benchmarks' figures
    # (they meet in the middle).
    several = len(comparative.benchmarks) > 1
    outcomes: dict[str, FigureOutcome] = {}
    with tempfile.TemporaryDirectory(prefix="arena-plot-claims-", ignore_cleanup_errors=True) as claims:
        futures += [workers.submit(FigureTask(ACROSS_BENCHMARKS, (planned.name,), styles, options, output,
                                              regret=planned.regret, several_benchmarks=several, claims=claims))
                    for planned in reversed(plan) if planned.benchmark is None and planned.regret is not None]
        for planned in plan:
            if planned.benchmark is None and (planned.regret is None or claim(claims, planned.name)):
                _raise_first_failure(futures)
                outcomes[planned.name] = write_planned_figure(planned, output)
        wait(futures, return_when=FIRST_EXCEPTION)
        _raise_first_failure(futures)
    for future in futures:
        for outcome in future.result():
            outcomes[outcome.name] = outcome
    ordered = [outcomes[planned.name] for planned in plan]
    registries: dict[str, dict] = {}
    for outcome in ordered:  # issue the workers' warnings again, in plan order, under this process's filters
        for message, category, filename, lineno in outcome.warnings:
            warnings.warn_explicit(message, category, filename, lineno, registry=registries.setdefault(filename, {}))
    return ordered


def _raise_first_failure(futures) -> None:
    """Raise the exception of the first failed task as its own error: the worker's traceback is not chained to
    it (the note added in the worker names the figure)."""
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is not None:
            error = future.exception()
            error.__cause__ = None
            error.__suppress_context__ = True
            raise error
