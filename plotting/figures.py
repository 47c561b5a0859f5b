"""Paper figures from tidy results tables (matplotlib, Agg backend).

Every function returns a ``matplotlib.figure.Figure`` and takes ``styles`` (setup -> MethodStyle,
see ``plotting.style``) so that a method looks the same in every figure; ``save_figure`` writes
vector PDF and PNG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plotting.style import MethodStyle, figure_size, method_styles, paper_style


def _styles_for(setups: Sequence[str], styles: Mapping[str, MethodStyle] | None) -> Mapping[str, MethodStyle]:
    if styles is None:
        return method_styles(list(setups))
    missing = [s for s in setups if s not in styles]
    if missing:
        raise ValueError(f"no style for setups {missing}; build styles from the full list of setups")
    return styles


def _grid_shape(n_panels: int, columns: int) -> tuple[int, int]:
    max_cols = 2 if columns == 1 else 4
    n_cols = min(n_panels, max_cols)
    return math.ceil(n_panels / n_cols), n_cols


def save_figure(fig: Figure, path_stem: str, formats: Sequence[str] = ("pdf", "png")) -> list[str]:
    """Write ``fig`` to ``path_stem.<format>`` for each format (PDF is vector); return the paths."""
    directory = os.path.dirname(path_stem)
    if directory:
        os.makedirs(directory, exist_ok=True)
    paths = []
    with paper_style():
        for extension in formats:
            path = f"{path_stem}.{extension}"
            fig.savefig(path, format=extension)
            paths.append(path)
    return paths


def plot_aggregated_curves(
    aggregated: pd.DataFrame,
    setups: Sequence[str] | None = None,
    styles: Mapping[str, MethodStyle] | None = None,
    title: str | None = None,
    subplot_titles: Mapping[Hashable, str] | None = None,
    x_label: str = "wall-clock time (s, simulated)",
    y_label: str = "best metric so far",
    columns: int = 1,
    log_y: bool = False,
    band_alpha: float = 0.2,
) -> Figure:
    """Curves with interval bands from a tidy table (subplot, setup, x, center, lower, upper).

    One panel per distinct ``subplot`` value, one line (and one legend entry) per setup; the band
    between lower and upper is a filled area, not a line.
    """
    if aggregated.empty:
        raise ValueError("nothing to plot: the aggregated table is empty")
    setups = list(setups) if setups is not None else list(dict.fromkeys(aggregated["setup"]))
    styles = _styles_for(setups, styles)
    subplot_keys = list(dict.fromkeys(aggregated["subplot"].map(repr)))
    subplot_values = {repr(v): v for v in aggregated["subplot"]}
    n_rows, n_cols = _grid_shape(len(subplot_keys), columns)
    with paper_style():
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=figure_size(columns, n_rows, n_cols), squeeze=False, sharey=False
        )
        flat_axes = axes.reshape(-1)
        legend_handles: dict[str, object] = {}
        for ax, key in zip(flat_axes, subplot_keys):
            panel = aggregated[aggregated["subplot"].map(repr) == key]
            for setup in setups:
                rows = panel[panel["setup"] == setup]
                if rows.empty:
                    continue
                style = styles[setup]
                (line,) = ax.plot(
                    rows["x"], rows["center"], color=style.color, linestyle=style.linestyle, label=setup
                )
                legend_handles.setdefault(setup, line)
                if not np.allclose(rows["lower"], rows["upper"], equal_nan=True):
                    ax.fill_between(
                        rows["x"],
                        rows["lower"],
                        rows["upper"],
                        color=style.color,
                        alpha=band_alpha,
                        linewidth=0,
                    )
            subplot = subplot_values[key]
            if subplot is not None:
                ax.set_title(str((subplot_titles or {}).get(subplot, subplot)))
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            if log_y:
                ax.set_yscale("log")
            ax.grid(alpha=0.3, linewidth=0.4)
        for ax in flat_axes[len(subplot_keys) :]:
            ax.set_visible(False)
        ordered = [s for s in setups if s in legend_handles]
        flat_axes[0].legend([legend_handles[s] for s in ordered], ordered, frameon=False)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_trial_learning_curves(
    results: pd.DataFrame,
    metric: str,
    mode: str = "min",
    x: str = "fidelity",
    title: str | None = None,
    columns: int = 1,
) -> Figure:
    """Learning curve of every trial of one experiment (one thin line each); the best trial is highlighted.

    The best trial is the one with the best value of ``metric`` over all its reports; it is the only
    legend entry.
    """
    for column in ("trial_id", metric, x):
        if column not in results.columns:
            raise KeyError(f"column {column!r} missing from the results; columns are {list(results.columns)}")
    per_trial = results.groupby("trial_id", sort=True)[metric]
    best_values = per_trial.min() if mode == "min" else per_trial.max()
    best_trial = best_values.idxmin() if mode == "min" else best_values.idxmax()
    trial_ids = list(per_trial.groups)
    colormap = plt.get_cmap("viridis")
    with paper_style():
        fig, ax = plt.subplots(figsize=figure_size(columns))
        for i, (trial_id, rows) in enumerate(results.groupby("trial_id", sort=True)):
            if trial_id == best_trial:
                continue
            ax.plot(
                rows[x],
                rows[metric],
                color=colormap(i / max(1, len(trial_ids) - 1)),
                alpha=0.5,
                linewidth=0.6,
            )
        best_rows = results[results["trial_id"] == best_trial]
        ax.plot(
            best_rows[x], best_rows[metric], color="black", linewidth=1.6, label=f"best trial ({best_trial})"
        )
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.legend(frameon=False)
        ax.grid(alpha=0.3, linewidth=0.4)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def _plot_per_setup(
    table: pd.DataFrame,
    x: str,
    y: str,
    setups: Sequence[str] | None,
    styles: Mapping[str, MethodStyle] | None,
    x_label: str,
    y_label: str,
    columns: int,
    title: str | None,
    band: tuple[str, str] | None = None,
    y_limits: tuple[float, float] | None = None,
) -> Figure:
    """One line per setup (and an optional interval band) from a tidy table with a ``setup`` column."""
    setups = list(setups) if setups is not None else list(dict.fromkeys(table["setup"]))
    styles = _styles_for(setups, styles)
    with paper_style():
        fig, ax = plt.subplots(figsize=figure_size(columns))
        for setup in setups:
            rows = table[table["setup"] == setup]
            if rows.empty:
                continue
            style = styles[setup]
            ax.plot(rows[x], rows[y], color=style.color, linestyle=style.linestyle, label=setup)
            if band is not None:
                ax.fill_between(rows[x], rows[band[0]], rows[band[1]], color=style.color, alpha=0.2,
                                linewidth=0)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if y_limits is not None:
            ax.set_ylim(*y_limits)
        ax.legend(frameon=False)
        ax.grid(alpha=0.3, linewidth=0.4)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_average_ranks(
    ranks: pd.DataFrame,
    setups: Sequence[str] | None = None,
    styles: Mapping[str, MethodStyle] | None = None,
    x_label: str = "fraction of budget",
    columns: int = 1,
    title: str | None = None,
) -> Figure:
    """Average rank over time from a table (setup, x, rank); rank 1 is best."""
    return _plot_per_setup(ranks, "x", "rank", setups, styles, x_label, "average rank", columns, title)


def plot_performance_profiles(
    profiles: pd.DataFrame,
    setups: Sequence[str] | None = None,
    styles: Mapping[str, MethodStyle] | None = None,
    x_label: str = r"normalised regret $\tau$",
    y_label: str = r"fraction of runs with regret $\leq \tau$",
    columns: int = 1,
    title: str | None = None,
) -> Figure:
    """Performance profiles from a table (setup, tau, fraction, lower, upper), with interval bands."""
    return _plot_per_setup(profiles, "tau", "fraction", setups, styles, x_label, y_label, columns, title,
                           band=("lower", "upper"), y_limits=(-0.02, 1.02))


def plot_probability_of_improvement(
    table: pd.DataFrame, columns: int = 1, title: str | None = None
) -> Figure:
    """Horizontal intervals of P(X < Y) from a table (setup_x, setup_y, probability, lower, upper)."""
    with paper_style():
        height = max(1.2, 0.25 * len(table) + 0.6)
        fig, ax = plt.subplots(figsize=(figure_size(columns)[0], height))
        positions = np.arange(len(table))[::-1]
        ax.hlines(positions, table["lower"], table["upper"], color="#0072B2", linewidth=3, alpha=0.6)
        ax.plot(table["probability"], positions, "|", color="black", markersize=8)
        ax.set_yticks(positions, [f"P({x} < {y})" for x, y in zip(table["setup_x"], table["setup_y"])])
        ax.axvline(0.5, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability of improvement")
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig
