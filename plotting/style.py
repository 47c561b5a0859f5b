"""Paper style: one colour and line style per method, the same in every figure, and figure sizes.

The mapping is deterministic: setup i of an ordered list gets colour ``palette[i % n_colours]`` and
line style ``LINESTYLES[(i // n_colours) % n_linestyles]``, so the first ``n_colours`` setups are
told apart by colour alone and later ones also by line style. Build the mapping once from the full,
ordered list of setups of a study and pass it to every figure, so a method keeps its look even in
figures that show only some of the methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib

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
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
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
