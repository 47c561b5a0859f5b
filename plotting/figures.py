"""Paper figures from tidy results tables (matplotlib, Agg backend).

Every function returns a ``matplotlib.figure.Figure`` and takes ``styles`` (setup -> MethodStyle,
see ``plotting.style``; default ``study_styles`` of the plotted setups) so that a method looks the
same in every figure; ``save_figure`` writes vector PDF and PNG.

Legends never cover data: they sit in a row of their own below the axes (constrained layout makes
room for them). Curve figures take ``y_scale`` ("auto", "linear", "log"; see
``plotting.style.choose_y_scale`` for the automatic rule), decided per panel.
``plot_critical_difference`` draws a critical-difference diagram with scikit-posthocs (the optional
``figures`` extra).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Hashable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
from matplotlib.transforms import ScaledTranslation

from plotting.style import (
    MethodStyle,
    YScale,
    figure_size,
    paper_style,
    resolve_y_scale,
    study_styles,
)
from results.statistics import RankTest

FIGURES_EXTRA_HINT = "pip install 'hpo-arena[figures]'"
MAX_PANEL_HEIGHT = 1.8  # inches: a full-width one-column panel is 3.25 x 1.8 in, not 3.25 x 2.4


def _styles_for(setups: Sequence[str], styles: Mapping[str, MethodStyle] | None) -> Mapping[str, MethodStyle]:
    if styles is None:
        return study_styles(list(setups))
    missing = [s for s in setups if s not in styles]
    if missing:
        raise ValueError(f"no style for setups {missing}; build styles from the full list of setups")
    return styles


def _grid_shape(n_panels: int, columns: int) -> tuple[int, int]:
    max_cols = 2 if columns == 1 else 4
    n_cols = min(n_panels, max_cols)
    return math.ceil(n_panels / n_cols), n_cols


def _legend_columns(labels: Sequence[str], width_inches: float, fontsize: float = 8.0) -> int:
    """How many legend entries fit side by side in ``width_inches`` (handle, gap and label of the longest)."""
    longest = max((len(label) for label in labels), default=1)
    entry_points = fontsize * (0.55 * longest + 2.0 + 0.8 + 1.5)  # label, handle, pad, column spacing (em)
    return max(1, min(len(labels), int(width_inches * 72.0 // entry_points)))


def _legend_below(fig: Figure, handles: Sequence[object], labels: Sequence[str]) -> None:
    """A legend in its own row(s) under the axes (the figure must use the constrained layout): as many
    entries side by side as fit in the figure's width, measured on the rendered legend."""
    if not labels:
        return
    renderer = fig.canvas.get_renderer()
    figure_width = fig.bbox.width
    for ncols in range(len(labels), 0, -1):
        legend = fig.legend(
            list(handles),
            list(labels),
            loc="outside lower center",
            ncols=ncols,
            frameon=False,
            handlelength=2.0,
            columnspacing=1.5,
        )
        if ncols == 1 or legend.get_window_extent(renderer).width <= 0.98 * figure_width:
            return
        legend.remove()


def _decade_label(value: float, floor: float | None) -> str:
    exponent = round(math.log10(value))
    if floor is not None and math.isclose(value, floor, rel_tol=1e-9):
        return rf"$\leq\!10^{{{exponent}}}$"
    return rf"$10^{{{exponent}}}$"


def _apply_y_scale(ax: Axes, scale: YScale, top: float, bottom: float) -> None:
    """Log axis. Without clipped values it spans the data (``bottom`` to ``top``, matplotlib's ticks);
    with values clipped to the floor it starts at the floor, with decade ticks, and the floor's tick
    reads "<= 10^e"."""
    if scale.kind != "log":
        return
    floor = float(scale.floor)
    ax.set_yscale("log")
    if not scale.clipped:
        ax.set_ylim(bottom=bottom / 10.0**0.08, top=top * 10.0**0.08)
        return
    low_exponent = round(math.log10(floor))
    high_exponent = max(low_exponent + 1, math.ceil(math.log10(max(top, floor))))
    step = max(1, math.ceil((high_exponent - low_exponent) / 6))
    ticks = [10.0**e for e in range(low_exponent, high_exponent + 1, step)]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _decade_label(v, floor)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    # A little room under the floor so lines drawn at it are not hidden by the spine.
    ax.set_ylim(bottom=floor / 10.0**0.08, top=max(top, floor * 10.0) * 10.0**0.08)


def save_figure(fig: Figure, path_stem: str, formats: Sequence[str] = ("pdf", "png"),
                dpi: float | None = None) -> list[str]:
    """Write ``fig`` to ``path_stem.<format>`` for each format (PDF is vector); return the paths.

    ``dpi``: resolution of the raster formats (PNG), default the paper style's ``savefig.dpi`` (300). The
    layout is measured at that resolution too, so the PDF keeps the PNG's layout and page size.

    The figure is laid out once for all formats. ``savefig`` with a layout engine and ``bbox_inches="tight"``
    (the paper style) draws the figure twice per file: once to run the constrained layout and measure the
    tight bounding box, once to render. Here the layout and the box are computed once, with the raster
    renderer at the paper style's ``savefig.dpi`` (what writing the PNG alone does), and every format is then
    rendered with that layout frozen and that box: the PNG is pixel for pixel what ``savefig`` alone writes,
    and the PDF has the same layout and page size as the PNG (before, the PDF was laid out with its own
    72-dpi text metrics, which could move an edge by a fraction of a point).
    """
    directory = os.path.dirname(path_stem)
    if directory:
        os.makedirs(directory, exist_ok=True)
    if dpi is not None and not (math.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    paths = []
    with paper_style(), plt.rc_context({} if dpi is None else {"savefig.dpi": dpi}):
        box, engine = _layout_once(fig)
        try:
            for extension in formats:
                path = f"{path_stem}.{extension}"
                _save_atomically(fig, path, extension, box)
                paths.append(path)
        finally:
            fig.set_layout_engine(engine)
    return paths


def _save_atomically(fig: Figure, path: str, extension: str, box) -> None:
    """``fig.savefig(path)`` through a hidden temporary file in the same folder, renamed over ``path`` once
    complete: an interrupted or failing write never leaves a truncated file under the figure's name."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        fig.savefig(temporary, format=extension, bbox_inches=box)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # ``_save_atomically``'s name: .<file name>.<pid>.tmp


def remove_abandoned_temporaries(directory: str) -> list[str]:
    """Remove the temporary files ``save_figure`` left in ``directory`` from processes that no longer exist
    (killed mid-write, e.g. ``arena plot --jobs`` workers ended on Ctrl-C); return their paths."""
    removed = []
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        match = _TEMPORARY.match(name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
            continue  # its process still runs (and removes it when it fails)
        except ProcessLookupError:
            pass
        except PermissionError:  # another user's process
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
    return removed


def _layout_once(fig: Figure):
    """Run ``fig``'s layout engine and measure the box ``savefig`` would crop to under the current rc
    settings, as ``savefig`` does before rendering a PNG; then freeze the layout (engine off). Returns (the box
    in inches, or None when ``savefig.bbox`` is not "tight"; the layout engine to restore)."""
    import matplotlib as mpl

    engine = fig.get_layout_engine()
    tight = mpl.rcParams["savefig.bbox"] == "tight"
    if engine is None and not tight:
        return None, None
    dpi = mpl.rcParams["savefig.dpi"]
    original_dpi = fig.dpi
    if dpi != "figure":
        fig.set_dpi(dpi)
    try:
        if engine is not None:
            engine.execute(fig)  # the layout, measured with the renderer a PNG is drawn by
        box = None
        if tight:
            pad = mpl.rcParams["savefig.pad_inches"]
            box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad)
    finally:
        fig.set_dpi(original_dpi)
    fig.set_layout_engine("none")
    return box, engine


def plot_aggregated_curves(
    aggregated: pd.DataFrame,
    setups: Sequence[str] | None = None,
    styles: Mapping[str, MethodStyle] | None = None,
    title: str | None = None,
    subplot_titles: Mapping[Hashable, str] | None = None,
    x_label: str = "wall-clock time (s, simulated)",
    y_label: str = "best metric so far",
    columns: int = 1,
    y_scale: str = "auto",
    band_alpha: float = 0.2,
) -> Figure:
    """Curves with interval bands from a tidy table (subplot, setup, x, center, lower, upper).

    One panel per distinct ``subplot`` value, one line (and one legend entry) per setup; the band
    between lower and upper is a filled area, not a line. The legend is a row below the panels; with
    several panels only the bottom row carries x labels and the left column y labels. ``y_scale`` is
    chosen per panel from its curves (the centres).
    """
    if aggregated.empty:
        raise ValueError("nothing to plot: the aggregated table is empty")
    setups = list(setups) if setups is not None else list(dict.fromkeys(aggregated["setup"]))
    styles = _styles_for(setups, styles)
    subplot_keys = list(dict.fromkeys(aggregated["subplot"].map(repr)))
    subplot_values = {repr(v): v for v in aggregated["subplot"]}
    n_rows, n_cols = _grid_shape(len(subplot_keys), columns)
    width, panels_height = figure_size(columns, n_rows, n_cols)
    has_subplot_titles = any(subplot_values[key] is not None for key in subplot_keys)
    panels_height = n_rows * min(panels_height / n_rows, MAX_PANEL_HEIGHT)
    legend_rows = math.ceil(len(setups) / _legend_columns(setups, width))
    # Text outside the panels gets its own height, so the panels keep their aspect whatever is around them.
    height = (
        panels_height
        + 0.4  # x ticks and label of the bottom row
        + (0.2 * n_rows if has_subplot_titles else 0.0)
        + (0.22 if title else 0.0)
        + 0.05 + 0.16 * legend_rows
    )
    with paper_style():
        fig, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=(width, height),
            squeeze=False,
            sharey=False,
            layout="constrained",
        )
        flat_axes = axes.reshape(-1)
        legend_handles: dict[str, object] = {}
        for index, (ax, key) in enumerate(zip(flat_axes, subplot_keys)):
            panel = aggregated[aggregated["subplot"].map(repr) == key]
            panel = panel[panel["setup"].isin(setups)]
            scale = resolve_y_scale(y_scale, panel["center"].to_numpy(dtype=float))
            floor = scale.floor if scale.kind == "log" else None
            if floor is not None and (panel["lower"].to_numpy(dtype=float) < floor).any():
                scale = YScale(scale.kind, floor, clipped=True)
            for setup in setups:
                rows = panel[panel["setup"] == setup]
                if rows.empty:
                    continue
                style = styles[setup]
                center, lower, upper = (rows[c].to_numpy(dtype=float) for c in ("center", "lower", "upper"))
                if floor is not None:
                    center, lower, upper = (np.maximum(v, floor) for v in (center, lower, upper))
                (line,) = ax.plot(rows["x"], center, color=style.color, linestyle=style.linestyle, label=setup)
                legend_handles.setdefault(setup, line)
                if not np.allclose(lower, upper, equal_nan=True):
                    ax.fill_between(rows["x"], lower, upper, color=style.color, alpha=band_alpha, linewidth=0)
            if floor is not None:
                drawn = np.maximum(panel[["center", "lower", "upper"]].to_numpy(dtype=float), floor)
                _apply_y_scale(ax, scale, float(np.nanmax(drawn)), float(np.nanmin(drawn)))
            subplot = subplot_values[key]
            if subplot is not None:
                ax.set_title(str((subplot_titles or {}).get(subplot, subplot)))
            row, col = divmod(index, n_cols)
            below_is_empty = index + n_cols >= len(subplot_keys)
            if n_rows == 1 or row == n_rows - 1 or below_is_empty:
                ax.set_xlabel(x_label)
            if col == 0:
                ax.set_ylabel(y_label)
            ax.grid(alpha=0.3, linewidth=0.4)
        for ax in flat_axes[len(subplot_keys) :]:
            ax.set_visible(False)
        ordered = [s for s in setups if s in legend_handles]
        _legend_below(fig, [legend_handles[s] for s in ordered], ordered)
        if title:
            fig.suptitle(title)
    return fig


def _common_prefix(names: Sequence[str]) -> str:
    """Longest common prefix of ``names`` that ends with a separator ("-", "_", "/", ".")."""
    prefix = os.path.commonprefix(list(names))
    cut = max(prefix.rfind(sep) for sep in "-_/.")
    return prefix[: cut + 1] if cut >= 0 else ""


def plot_benchmark_grid(
    per_benchmark: pd.DataFrame,
    setups: Sequence[str] | None = None,
    styles: Mapping[str, MethodStyle] | None = None,
    title: str | None = None,
    x_label: str = "fraction of budget",
    y_label: str = "normalised regret",
    columns: int = 2,
    y_scale: str = "auto",
) -> Figure:
    """One panel per benchmark (the ``subplot`` column of ``per_benchmark``, e.g. from
    ``results.across_benchmarks.regret_over_time_per_benchmark``), one shared legend row.

    Panel titles drop the prefix all benchmark names share (``xgboost-sklearn-``), which goes into the
    figure title instead, so titles fit narrow panels.
    """
    if per_benchmark.empty:
        raise ValueError("nothing to plot: the per-benchmark table is empty")
    names = [str(b) for b in dict.fromkeys(per_benchmark["subplot"])]
    prefix = _common_prefix(names) if len(names) > 1 else ""
    titles = {name: name[len(prefix) :] or name for name in names}
    if title is None:
        title = f"{prefix}*" if prefix else None
    return plot_aggregated_curves(
        per_benchmark,
        setups=setups,
        styles=styles,
        title=title,
        subplot_titles=titles,
        x_label=x_label,
        y_label=y_label,
        columns=columns,
        y_scale=y_scale,
    )


def _import_posthocs():
    try:
        import scikit_posthocs
    except ImportError as error:
        raise ModuleNotFoundError(
            f"critical-difference diagrams need scikit-posthocs, which is not installed; {FIGURES_EXTRA_HINT}"
        ) from error
    return scikit_posthocs


def nemenyi_p_values(blocks: np.ndarray, setups: Sequence[str]) -> pd.DataFrame:
    """Pairwise Nemenyi p-values (scikit-posthocs' ``posthoc_nemenyi_friedman``) of ``blocks``
    ``(n_blocks, k)``, indexed by setup; lower scores rank better."""
    posthocs = _import_posthocs()
    matrix = posthocs.posthoc_nemenyi_friedman(np.asarray(blocks, dtype=float))
    matrix.index = list(setups)
    matrix.columns = list(setups)
    return matrix


def plot_critical_difference(
    test: RankTest,
    blocks: np.ndarray,
    styles: Mapping[str, MethodStyle] | None = None,
    columns: int = 1,
    title: str | None = None,
    block_name: str = "(benchmark, seed) blocks",
) -> Figure:
    """Critical-difference diagram (Demšar, 2006) drawn by scikit-posthocs: mean ranks on the axis
    (1 = best, on the left), setups joined by a bar when the Nemenyi test does not tell them apart at
    ``test.alpha``, and the critical difference drawn above the axis. ``blocks`` are the scores the
    test ranked, ``(n_blocks, k)`` in ``test.setups`` order."""
    posthocs = _import_posthocs()
    setups = list(test.setups)
    styles = _styles_for(setups, styles)
    p_values = nemenyi_p_values(blocks, setups)
    ranks = pd.Series(test.mean_ranks, index=setups)
    label_chars = max(len(f"{s} ({r:.2f})") for s, r in zip(setups, test.mean_ranks))
    label_inches = (label_chars + 1) * 0.6 * 8.0 / 72.0  # room for the labels at 8 pt on both sides
    with paper_style():
        width = figure_size(columns)[0]
        rows_per_side = math.ceil(len(setups) / 2)
        above_axis = 0.32 + 0.45  # two title lines, then the CD bar and its label (inches)
        height = above_axis + 0.35 + 0.2 * rows_per_side
        fig, ax = plt.subplots(figsize=(width, height))
        margin = min(0.45, label_inches / width)
        fig.subplots_adjust(left=margin, right=1.0 - margin, bottom=0.04, top=1.0 - above_axis / height)
        drawn = posthocs.critical_difference_diagram(
            ranks,
            p_values,
            alpha=test.alpha,
            ax=ax,
            color_palette={s: styles[s].color for s in setups},
            label_fmt_left="{label} ({rank:.2f})",
            label_fmt_right="({rank:.2f}) {label}",
            label_props={"fontsize": 8},
            marker_props={"s": 12, "zorder": 3},
            elbow_props={"linewidth": 1.0},
            crossbar_props={"linewidth": 1.6, "color": "black"},
        )
        # scikit-posthocs joins a crossbar's points in the order of a set of setup names, which depends on the
        # process's string hashing: in rank order, the PDF is the same in every process (same drawing).
        for crossbar in drawn.get("crossbars", []):
            for line in crossbar:
                x, y = (np.asarray(values) for values in line.get_data())
                order = np.argsort(x, kind="stable")
                line.set_data(x[order], y[order])
        # The critical difference as a bar above the rank axis and its tick labels (offsets in points
        # from the axis line, so it never meets them), starting at the best mean rank.
        best_rank = float(np.min(test.mean_ranks))
        cd_end = best_rank + test.critical_difference
        left, right = ax.get_xlim()
        ax.set_xlim(left, max(right, cd_end + 0.02 * (right - left)))
        above_labels = 4.0 + 8.0 * 1.3 + 4.0  # tick, tick label, gap (points)
        bar = ax.get_xaxis_transform() + ScaledTranslation(0.0, above_labels / 72.0, fig.dpi_scale_trans)
        ax.plot([best_rank, cd_end], [1.0, 1.0], color="black", linewidth=1.0, marker="|", markersize=5,
                transform=bar, clip_on=False)
        ax.text((best_rank + cd_end) / 2.0, 1.0, f"CD = {test.critical_difference:.2f}", ha="center",
                va="bottom", fontsize=8, transform=bar + ScaledTranslation(0.0, 3.0 / 72.0, fig.dpi_scale_trans))
        if title is None:
            title = (
                f"Friedman p = {test.p_value:.2g}, Nemenyi CD at alpha = {test.alpha:g}\n"
                f"mean rank (1 = best) over {test.n_blocks} {block_name}"
            )
        fig.suptitle(title, fontsize=8, y=0.99, va="top")
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
        fig, ax = plt.subplots(figsize=figure_size(columns), layout="constrained")
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
        label = f"best trial ({best_trial})"
        (best_line,) = ax.plot(best_rows[x], best_rows[metric], color="black", linewidth=1.6, label=label)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        _legend_below(fig, [best_line], [label])
        ax.grid(alpha=0.3, linewidth=0.4)
        if title:
            ax.set_title(title)
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
        fig, ax = plt.subplots(figsize=figure_size(columns), layout="constrained")
        handles, labels = [], []
        for setup in setups:
            rows = table[table["setup"] == setup]
            if rows.empty:
                continue
            style = styles[setup]
            (line,) = ax.plot(rows[x], rows[y], color=style.color, linestyle=style.linestyle, label=setup)
            handles.append(line)
            labels.append(setup)
            if band is not None:
                ax.fill_between(rows[x], rows[band[0]], rows[band[1]], color=style.color, alpha=0.2,
                                linewidth=0)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        if y_limits is not None:
            ax.set_ylim(*y_limits)
        _legend_below(fig, handles, labels)
        ax.grid(alpha=0.3, linewidth=0.4)
        if title:
            ax.set_title(title)
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
