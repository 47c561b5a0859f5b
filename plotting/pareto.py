"""Figures of multi-objective runs: each method's final Pareto front and its median attainment surface.

Both take a ``results.multiobjective.BenchmarkFronts`` (the results the hypervolume counts, in table units) and
draw one panel per pair of objectives (one panel for two objectives; for three or more, every pair, each an
exact 2-D projection: see ``results.attainment``; projections always span the full text width). Axes end at the benchmark's hypervolume reference point, so
a panel shows exactly the region the hypervolume measures; an axis is logarithmic when its drawn values are
positive and span more than a decade (``plotting.style.choose_y_scale``'s rule). Colours, line styles and
markers come from ``styles`` (``plotting.style.study_styles`` of the whole study), so a method looks the same as
in the hypervolume curves.

* ``plot_pareto_fronts``: per method, the non-dominated points of all its seeds' results pooled (markers),
  joined by the outline of the region they dominate. Pooling shows everything a method found over the seeds
  (the best-case, 1st attainment surface); the median attainment surface shows a typical run.
* ``plot_attainment_surfaces``: per method, the outline of the median (``ceil(n/2)`` of ``n`` seeds)
  attainment surface: goals on or above it were reached in at least half of the method's runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from plotting.figures import MAX_PANEL_HEIGHT, _grid_shape, _legend_below, _legend_columns, _styles_for
from plotting.style import MethodStyle, choose_y_scale, figure_size, paper_style
from results.attainment import median_level, staircase, to_minimisation
from results.multiobjective import BenchmarkFronts


def _axis_label(fronts: BenchmarkFronts, k: int) -> str:
    mode = fronts.modes[k]
    return f"{fronts.metrics[k]} ({'lower' if mode == 'min' else 'higher'} is better)"


def _outline(corners: np.ndarray, reference: np.ndarray, modes: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Staircase of table-unit corners up to the reference point, in table units (computed to minimise)."""
    minimised = to_minimisation(corners, modes) if len(corners) else np.empty((0, 2))
    upper = to_minimisation(reference[None, :], modes)[0]
    x, y = staircase(minimised, upper)
    if x.size == 0:
        return x, y
    back = to_minimisation(np.column_stack([x, y]), modes)
    return back[:, 0], back[:, 1]


def _set_axis_scale(ax, axis: str, values: np.ndarray, reference: float) -> None:
    """Log when every drawn value and the reference are positive and they span more than a decade; limits from
    the drawn values to the reference point, with a small margin on the far side."""
    values = np.append(values[np.isfinite(values)], reference)
    log = bool((values > 0).all() and choose_y_scale(values).kind == "log")
    low, high = float(values.min()), float(values.max())
    if log:
        margin = (high / low) ** 0.04
        limits = (low / margin, high) if reference >= high else (low, high * margin)
    else:
        margin = 0.04 * (high - low if high > low else abs(high) or 1.0)
        limits = (low - margin, high) if reference >= high else (low, high + margin)
    set_scale, set_limits = (ax.set_xscale, ax.set_xlim) if axis == "x" else (ax.set_yscale, ax.set_ylim)
    set_scale("log" if log else "linear")
    set_limits(*limits)
    if log:  # ticks at 1, 2 and 5 times powers of ten, plainly labelled: readable on a narrow panel
        target = ax.xaxis if axis == "x" else ax.yaxis
        target.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        target.set_minor_formatter(NullFormatter())


def _front_figure(
    fronts: BenchmarkFronts,
    corners_of: Callable[[str, tuple[int, int]], np.ndarray],
    markers: bool,
    title: str,
    styles: Mapping[str, MethodStyle] | None,
    columns: int,
) -> Figure:
    setups = fronts.setups
    if not setups:
        raise ValueError(f"nothing to plot: benchmark {fronts.benchmark!r} has no runs")
    styles = _styles_for(setups, styles)
    pairs = fronts.objective_pairs()
    if len(pairs) > 1:  # projections side by side need the full text width to stay legible
        columns = 2
    n_rows, n_cols = _grid_shape(len(pairs), columns)
    width, panels_height = figure_size(columns, n_rows, n_cols, aspect=0.8)
    panels_height = n_rows * min(panels_height / n_rows, MAX_PANEL_HEIGHT * 1.3)
    legend_rows = math.ceil(len(setups) / _legend_columns(setups, width))
    height = panels_height + 0.4 * n_rows + 0.45 + 0.05 + 0.16 * legend_rows
    with paper_style():
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False, layout="constrained")
        handles: dict[str, object] = {}
        for ax, pair in zip(axes.reshape(-1), pairs):
            modes = (fronts.modes[pair[0]], fronts.modes[pair[1]])
            reference = fronts.reference_in(pair)
            drawn_x, drawn_y = [], []
            for setup in setups:
                style = styles[setup]
                corners = corners_of(setup, pair)
                x, y = _outline(corners, reference, modes)
                (line,) = ax.plot(x, y, color=style.color, linestyle=style.linestyle, linewidth=1.0, label=setup,
                                  marker=style.marker if markers else None, markevery=slice(1, None, 2),
                                  markersize=3.5)
                handles.setdefault(setup, line)
                drawn_x.append(x)
                drawn_y.append(y)
            _set_axis_scale(ax, "x", np.concatenate(drawn_x), float(reference[0]))
            _set_axis_scale(ax, "y", np.concatenate(drawn_y), float(reference[1]))
            ax.set_xlabel(_axis_label(fronts, pair[0]))
            ax.set_ylabel(_axis_label(fronts, pair[1]))
            ax.grid(alpha=0.3, linewidth=0.4)
        for ax in axes.reshape(-1)[len(pairs):]:
            ax.set_visible(False)
        _legend_below(fig, [handles[s] for s in setups], setups)
        fig.suptitle(title)
    return fig


def plot_pareto_fronts(
    fronts: BenchmarkFronts, styles: Mapping[str, MethodStyle] | None = None, columns: int = 1
) -> Figure:
    """Each method's final Pareto front over all its seeds pooled (markers on the corners), one panel per pair
    of objectives, axes up to the hypervolume reference point."""
    seeds = {setup: len(runs) for setup, runs in fronts.runs.items()}
    counts = sorted(set(seeds.values()))
    pooled = f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} seeds"
    title = f"{fronts.benchmark}\nPareto front of all results ({pooled} pooled)"
    if len(fronts.metrics) > 2:
        title += ", 2-D projections"
    return _front_figure(fronts, fronts.pooled_front, True, title, styles, columns)


def plot_attainment_surfaces(
    fronts: BenchmarkFronts, styles: Mapping[str, MethodStyle] | None = None, columns: int = 1
) -> Figure:
    """Each method's median attainment surface over its seeds (``ceil(n/2)`` of ``n`` runs), one panel per pair of
    objectives (for three or more objectives: the attainment of goals in two objectives, the others free)."""
    levels = sorted({f"{median_level(len(runs))} of {len(runs)}" for runs in fronts.runs.values()})
    title = f"{fronts.benchmark}\nmedian attainment surface ({', '.join(levels)} runs)"
    if len(fronts.metrics) > 2:
        title += ", 2-D projections"
    return _front_figure(fronts, fronts.attainment_surface, False, title, styles, columns)
