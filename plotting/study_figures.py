"""Which figures a study gets, and how each one is drawn: the one plan behind ``arena plot`` (files) and
``arena report`` (one page).

A plan is a list of ``PlannedFigure`` (file stem, caption, a ``draw()`` that returns the matplotlib figure, and
what it is drawn from: one benchmark's runs or the normalised regret of all, for ``plotting.figure_jobs``).
Drawing is deferred so that a caller decides what a failing figure costs: ``arena plot`` stops on an error,
except for a missing optional library (the critical-difference diagram needs the ``figures`` extra), which it
reports; ``arena report`` turns any failure into a note, because mid-study some figures cannot be drawn yet.

* ``single_objective_figures``: per benchmark the aggregated best-so-far curve; with several benchmarks the
  aggregate normalised regret, the average rank over time and a grid with one panel per benchmark; with >= 2
  setups and >= 2 (benchmark, seed) blocks a critical-difference diagram of final normalised regret. With one
  benchmark and several setups only the diagram needs paired runs; when they are missing that is a note.
* ``figures_across_benchmarks``: the figures drawn from the normalised regret alone (what
  ``single_objective_figures`` plans after computing it; also how a worker process plans them again).
* ``multi_objective_figures``: per benchmark the normalised hypervolume over time (aggregated like the curves
  above, linear axis unless asked otherwise), the setups' pooled Pareto fronts and their median attainment
  surfaces.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

# The single-objective figures a caller can ask for by name (``arena plot --figure NAME``).
FIGURES = ("benchmarks", "normalised_regret", "average_rank", "benchmark_grid", "critical_difference")


@dataclass(frozen=True)
class FigureOptions:
    """How a study's figures are aggregated and drawn (the options ``arena plot`` and ``arena report`` share)."""

    aggregate: str = "iqm_bootstrap"
    n_boot: int = 1000
    seed: int = 0
    columns: int = 1
    y_scale: str = "auto"
    metric: str | None = None
    mode: str | None = None
    x: str = "sim_time"
    cost_column: str = "cost"
    n_grid: int = 200
    alpha: float = 0.05

    def spec_options(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode, "x": self.x, "cost_column": self.cost_column,
                "n_grid": self.n_grid}


@dataclass(frozen=True)
class PlannedFigure:
    name: str  # file stem
    caption: str
    draw: Callable[[], Any]  # -> matplotlib Figure
    # What the figure is drawn from, so that it can be planned again and drawn in a worker process (``arena plot
    # --jobs``): the runs of one benchmark alone (``benchmark``), or the normalised regret of every benchmark
    # (``regret``, a ``RegretCurves``, for the figures across benchmarks).
    benchmark: str | None = None
    regret: Any = None


def file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def single_objective_figures(comparative, styles, options: FigureOptions, notes: list[str],
                             wanted: Collection[str] = FIGURES) -> list[PlannedFigure]:
    """The figures of the single-objective benchmarks of ``comparative`` (see the module docstring); what cannot
    be planned (no paired runs across benchmarks) is explained in ``notes``."""
    from results.across_benchmarks import normalised_regret_curves

    spec_options = options.spec_options()
    plan: list[PlannedFigure] = []
    if "benchmarks" in wanted:
        for benchmark in comparative.benchmarks:
            plan.append(PlannedFigure(
                file_stem(benchmark), f"{benchmark}: {options.aggregate} of the best value so far over seeds",
                lambda b=benchmark: comparative.plot(b, aggregate_mode=options.aggregate, n_boot=options.n_boot,
                                                     seed=options.seed, styles=styles, columns=options.columns,
                                                     y_scale=options.y_scale, **spec_options),
                benchmark))
    several_benchmarks = len(comparative.benchmarks) > 1
    if not set(wanted) - {"benchmarks"} or (not several_benchmarks and len(comparative.setups) < 2):
        return plan
    try:
        regret = normalised_regret_curves(comparative, **spec_options)
    except ValueError as error:
        notes.append(f"no {'figures across benchmarks' if several_benchmarks else 'critical-difference diagram'}: "
                     f"{error}")
        return plan
    return plan + figures_across_benchmarks(regret, several_benchmarks, styles, options, wanted)


def figures_across_benchmarks(regret, several_benchmarks: bool, styles, options: FigureOptions,
                              wanted: Collection[str] = FIGURES) -> list[PlannedFigure]:
    """The figures drawn from the normalised regret of every benchmark (``regret``, a ``RegretCurves``): with
    ``several_benchmarks`` the aggregate, the average rank and the grid; the critical-difference diagram when
    there are >= 2 setups and >= 2 (benchmark, seed) blocks."""
    from plotting.figures import (
        plot_aggregated_curves,
        plot_average_ranks,
        plot_benchmark_grid,
        plot_critical_difference,
    )
    from results.across_benchmarks import (
        aggregate_regret_over_time,
        average_rank_over_time,
        final_regret_blocks,
        regret_over_time_per_benchmark,
    )

    plan: list[PlannedFigure] = []
    if several_benchmarks:
        n = len(regret.benchmarks)
        if "normalised_regret" in wanted:
            plan.append(PlannedFigure(
                "normalised_regret", f"IQM of normalised regret over {n} benchmarks",
                lambda: plot_aggregated_curves(
                    aggregate_regret_over_time(regret, n_boot=options.n_boot, seed=options.seed),
                    setups=regret.setups, styles=styles, title=f"IQM over {n} benchmarks",
                    x_label="fraction of budget", y_label="normalised regret", columns=options.columns,
                    y_scale=options.y_scale), regret=regret))
        if "average_rank" in wanted:
            plan.append(PlannedFigure(
                "average_rank", "average rank over time (1 = best)",
                lambda: plot_average_ranks(average_rank_over_time(regret), regret.setups, styles,
                                           columns=options.columns), regret=regret))
        if "benchmark_grid" in wanted:
            plan.append(PlannedFigure(
                "benchmark_grid", "normalised regret, one panel per benchmark",
                lambda: plot_benchmark_grid(
                    regret_over_time_per_benchmark(regret, n_boot=options.n_boot, seed=options.seed),
                    setups=regret.setups, styles=styles, y_scale=options.y_scale), regret=regret))
    blocks, _ = final_regret_blocks(regret)
    if "critical_difference" in wanted and len(regret.setups) > 1 and len(blocks) > 1:
        def draw_critical_difference():
            from results.statistics import friedman_rank_test

            test = friedman_rank_test(blocks, regret.setups, alpha=options.alpha)
            return plot_critical_difference(test, blocks, styles, columns=options.columns)

        plan.append(PlannedFigure(
            "critical_difference",
            f"critical-difference diagram of final normalised regret (Friedman, Nemenyi, alpha={options.alpha})",
            draw_critical_difference, regret=regret))
    return plan


def multi_objective_figures(comparative, benchmarks: list[str], styles, options: FigureOptions) -> list[PlannedFigure]:
    """Per multi-objective benchmark: hypervolume over time, pooled Pareto fronts, median attainment surfaces."""
    from plotting.pareto import plot_attainment_surfaces, plot_pareto_fronts
    from results.multiobjective import benchmark_fronts, hypervolume_curve_spec

    spec = hypervolume_curve_spec(x=options.x, cost_column=options.cost_column, n_grid=options.n_grid)
    # Hypervolume rises from 0 to at most 1.1^d: a linear axis unless asked otherwise.
    y_scale = "linear" if options.y_scale == "auto" else options.y_scale
    plan: list[PlannedFigure] = []
    for benchmark in benchmarks:
        stem = file_stem(benchmark)
        fronts: dict[str, Any] = {}

        def fronts_of(b: str = benchmark, cache: dict[str, Any] = fronts):
            if b not in cache:  # the front and attainment figures share one read of the results
                cache[b] = benchmark_fronts(comparative, b)
            return cache[b]

        plan += [
            PlannedFigure(f"{stem}_hypervolume", f"{benchmark}: {options.aggregate} of the normalised hypervolume",
                          lambda b=benchmark: comparative.plot(b, aggregate_mode=options.aggregate,
                                                               n_boot=options.n_boot, seed=options.seed,
                                                               styles=styles, columns=options.columns,
                                                               y_scale=y_scale, ylabel="normalised hypervolume",
                                                               spec=spec),
                          benchmark),
            PlannedFigure(f"{stem}_pareto_front", f"{benchmark}: each setup's Pareto front, all seeds pooled",
                          lambda f=fronts_of: plot_pareto_fronts(f(), styles, columns=options.columns), benchmark),
            PlannedFigure(f"{stem}_attainment", f"{benchmark}: each setup's median attainment surface over seeds",
                          lambda f=fronts_of: plot_attainment_surfaces(f(), styles, columns=options.columns),
                          benchmark),
        ]
    return plan
