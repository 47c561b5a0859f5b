"""Paper style: one colour and line style per method, the same in every figure, figure sizes, y scales.

Colours. ``method_styles(setups)`` is positional: setup i of an ordered list gets colour
``palette[i % n_colours]`` and line style ``LINESTYLES[(i // n_colours) % n_linestyles]``, so the first
``n_colours`` setups are told apart by colour alone and later ones also by line style.
``study_styles(setups)`` applies it to the setups sorted by name, so the mapping depends only on the
SET of methods of a study, not on the order runs were found or listed: build it once from every setup
of the study and pass it to every figure, and a method keeps its look in figures that show only some
of the methods (``arena plot --setup`` does this).

Sizes. ``ONE_COLUMN_WIDTH`` (3.25 in) is a column of the common two-column templates (ICML, CVPR,
ACM, AAAI 3.3 in, IEEE 3.5 in) and ``TWO_COLUMN_WIDTH`` (6.75 in) their full text width (NeurIPS and
ICLR single-column text is 5.5 in: use ``columns=2`` and scale, or pass ``figsize``). ``PAPER_RC``
sets 9 pt labels and titles and 8 pt ticks and legends, so text printed at 100 % matches the 9-10 pt
captions and body of those templates; fonts are embedded as TrueType.

Y scales. ``choose_y_scale`` is the rule for ``y_scale="auto"``: a logarithmic axis when every plotted
value is >= 0 and the positive values of the curves span more than ``LOG_SCALE_DECADES`` (one) decades,
since a linear axis then squeezes the lower curves (regret below a few percent) into a flat band; zeros
and values below the floor are drawn at the floor, a power of ten at or below the smallest positive
value, and the floor's tick is labelled "<= 10^e" so the axis says so. The floor is never more than
``MAX_LOG_DECADES`` below the largest value. With a negative value (for regret: a run beat the stored
optimum) the axis stays linear so the value remains visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
import numpy as np

matplotlib.use("Agg")  # figures are files; never require a display

import matplotlib.pyplot as plt

ONE_COLUMN_WIDTH = 3.25  # inches, a column of a two-column paper
TWO_COLUMN_WIDTH = 6.75  # inches, the full text width of a two-column paper

# Okabe-Ito colour-blind-safe palette (without yellow, which prints poorly), then grey.
DEFAULT_PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#E69F00",
    "#000000",
    "#999999",
)
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

PAPER_RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "figure.titlesize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.2,
    "axes.linewidth": 0.6,
    "pdf.fonttype": 42,  # embed TrueType so text stays editable and journals accept the PDF
    "ps.fonttype": 42,
    "savefig.bbox": "tight",
    "savefig.dpi": 300,
}


@dataclass(frozen=True)
class MethodStyle:
    color: str
    linestyle: str
    marker: str


def method_styles(
    setups: Sequence[str], palette: Sequence[str] | Mapping[str, str] | None = None
) -> dict[str, MethodStyle]:
    """Style of each setup from its position in ``setups``; ``palette`` is a colour list or setup -> colour."""
    if len(set(setups)) != len(setups):
        raise ValueError(f"setup names must be unique, got {list(setups)}")
    styles = {}
    if isinstance(palette, Mapping):
        missing = [s for s in setups if s not in palette]
        if missing:
            raise ValueError(f"the palette gives no colour for setups {missing}")
        for i, setup in enumerate(setups):
            styles[setup] = MethodStyle(palette[setup], LINESTYLES[0], MARKERS[i % len(MARKERS)])
        return styles
    colours = tuple(palette) if palette is not None else DEFAULT_PALETTE
    if not colours:
        raise ValueError("the palette must hold at least one colour")
    for i, setup in enumerate(setups):
        styles[setup] = MethodStyle(
            color=colours[i % len(colours)],
            linestyle=LINESTYLES[(i // len(colours)) % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)],
        )
    return styles


def study_styles(
    setups: Sequence[str], palette: Sequence[str] | Mapping[str, str] | None = None
) -> dict[str, MethodStyle]:
    """Style of each setup from the set of setups alone (sorted by name, then ``method_styles``).

    Pass every setup of the study, even to figures that show a subset, so colours agree across figures.
    """
    if len(set(setups)) != len(setups):
        raise ValueError(f"setup names must be unique, got {list(setups)}")
    return method_styles(sorted(setups, key=lambda name: (name.casefold(), name)), palette)


LOG_SCALE_DECADES = 1.0
MAX_LOG_DECADES = 6


@dataclass(frozen=True)
class YScale:
    """``kind`` is "linear" or "log"; ``floor`` (log only) is the power of ten values are clipped to."""

    kind: str
    floor: float | None = None
    clipped: bool = False  # some value was below the floor (drawn at it)


def choose_y_scale(values: np.ndarray | Sequence[float], threshold_decades: float = LOG_SCALE_DECADES) -> YScale:
    """The ``y_scale="auto"`` rule (see the module docstring) applied to the plotted values of a panel."""
    values = np.asarray(values, dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    if positive.size < 2 or (values < 0).any():
        return YScale("linear")
    top = float(positive.max())
    if np.log10(top / float(positive.min())) <= threshold_decades:
        return YScale("linear")
    return log_y_scale(values)


def log_y_scale(values: np.ndarray | Sequence[float]) -> YScale:
    """A log scale for ``values`` with its floor: a power of ten at or below the smallest positive value,
    at most ``MAX_LOG_DECADES`` below the largest; raises when no value is positive."""
    values = np.asarray(values, dtype=float).reshape(-1)
    values = values[np.isfinite(values)]
    positive = values[values > 0]
    if positive.size == 0:
        raise ValueError("a log scale needs positive values; every plotted value is <= 0 (use a linear scale)")
    top_exponent = int(np.ceil(np.log10(positive.max())))
    exponent = max(int(np.floor(np.log10(positive.min()))), top_exponent - MAX_LOG_DECADES)
    floor = 10.0**exponent
    return YScale("log", floor, clipped=bool((values < floor).any()))


def resolve_y_scale(y_scale: str, values: np.ndarray) -> YScale:
    """``y_scale`` is "auto" (the rule), "linear" or "log" (log with the floor rule)."""
    if y_scale == "auto":
        return choose_y_scale(values)
    if y_scale == "linear":
        return YScale("linear")
    if y_scale == "log":
        return log_y_scale(values)
    raise ValueError(f"y_scale must be 'auto', 'linear' or 'log', got {y_scale!r}")


def figure_size(
    columns: int = 1, n_rows: int = 1, n_cols: int = 1, aspect: float = 0.75
) -> tuple[float, float]:
    """(width, height) in inches for a figure one or two paper columns wide with n_rows x n_cols panels."""
    if columns not in (1, 2):
        raise ValueError(f"columns must be 1 or 2, got {columns}")
    width = ONE_COLUMN_WIDTH if columns == 1 else TWO_COLUMN_WIDTH
    panel_width = width / n_cols
    return width, panel_width * aspect * n_rows


@contextmanager
def paper_style():
    """Context in which figures use the paper font sizes and embeddable fonts."""
    with plt.rc_context(PAPER_RC):
        yield
