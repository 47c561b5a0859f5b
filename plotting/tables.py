"""Tables of final values per benchmark and setup, as Markdown and LaTeX, best in bold, intervals shown.

``summarise_final_values`` turns one row per run (``ComparativeResults.final_values``) into one row
per (benchmark, setup) with a centre and an interval; ``to_markdown`` and ``to_latex`` lay it out
with benchmarks as rows and setups as columns. The best centre of each row is bold (all tied
best values are bold).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from results.statistics import AGGREGATION_MODES, bootstrap_interval, iqm, mean_and_ci, median_percentiles

SUMMARY_COLUMNS = ["benchmark", "setup", "center", "lower", "upper", "n_runs"]


def summarise_final_values(
    final_values: pd.DataFrame,
    value_column: str = "best",
    aggregate_mode: str = "iqm_bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (benchmark, setup): centre and interval of ``value_column`` over the runs.

    Group i (in order of appearance) bootstraps with ``numpy.random.default_rng([seed, i])``.
    """
    if aggregate_mode not in AGGREGATION_MODES:
        raise ValueError(f"unknown aggregate_mode {aggregate_mode!r}; choose one of {AGGREGATION_MODES}")
    rows = []
    groups = final_values.groupby(["benchmark", "setup"], sort=False)[value_column]
    for i, ((benchmark, setup), values) in enumerate(groups):
        array = values.to_numpy(dtype=float)
        if aggregate_mode == "iqm_bootstrap":
            interval = bootstrap_interval(
                array, iqm, n_boot=n_boot, rng=np.random.default_rng([seed, i]), level=level
            )
        elif aggregate_mode == "mean_and_ci":
            interval = mean_and_ci(array)
        else:
            interval = median_percentiles(array)
        rows.append(
            {
                "benchmark": benchmark,
                "setup": setup,
                "center": float(interval.point),
                "lower": float(interval.lower),
                "upper": float(interval.upper),
                "n_runs": len(array),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _best_mask(centres: pd.DataFrame, lower_is_better: bool) -> pd.DataFrame:
    best = centres.min(axis=1) if lower_is_better else centres.max(axis=1)
    return centres.eq(best, axis=0)


def _cells(
    summary: pd.DataFrame,
    setups: Sequence[str] | None,
    decimals: int,
    show_interval: bool,
    lower_is_better: bool,
    bold: str,
) -> tuple[list[str], list[str], list[list[str]]]:
    setups = list(setups) if setups is not None else list(dict.fromkeys(summary["setup"]))
    benchmarks = list(dict.fromkeys(summary["benchmark"]))
    indexed = summary.set_index(["benchmark", "setup"])
    centres = pd.DataFrame(
        [[indexed["center"].get((b, s), np.nan) for s in setups] for b in benchmarks],
        index=benchmarks,
        columns=setups,
    )
    best = _best_mask(centres.round(decimals), lower_is_better)
    rows = []
    for benchmark in benchmarks:
        cells = []
        for setup in setups:
            if (benchmark, setup) not in indexed.index:
                cells.append("–")
                continue
            entry = indexed.loc[(benchmark, setup)]
            text = f"{entry['center']:.{decimals}f}"
            if best.loc[benchmark, setup]:
                text = bold.format(text)
            if show_interval:
                text += f" [{entry['lower']:.{decimals}f}, {entry['upper']:.{decimals}f}]"
            cells.append(text)
        rows.append(cells)
    return benchmarks, setups, rows


def to_markdown(
    summary: pd.DataFrame,
    setups: Sequence[str] | None = None,
    decimals: int = 3,
    show_interval: bool = True,
    lower_is_better: bool = True,
) -> str:
    """Markdown table: benchmarks as rows, setups as columns, ``centre [lower, upper]``, best in bold."""
    benchmarks, setups, rows = _cells(summary, setups, decimals, show_interval, lower_is_better, "**{}**")
    lines = [
        "| benchmark | " + " | ".join(setups) + " |",
        "|---|" + "---|" * len(setups),
    ]
    for benchmark, cells in zip(benchmarks, rows):
        lines.append(f"| {benchmark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(character, character) for character in str(text))


def to_latex(
    summary: pd.DataFrame,
    setups: Sequence[str] | None = None,
    decimals: int = 3,
    show_interval: bool = True,
    lower_is_better: bool = True,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """LaTeX (booktabs) table: benchmarks as rows, setups as columns, best in ``\\textbf``, intervals small."""
    benchmarks, setups, rows = _cells(summary, setups, decimals, False, lower_is_better, r"\textbf{{{}}}")
    if show_interval:
        indexed = summary.set_index(["benchmark", "setup"])
        for benchmark, cells in zip(benchmarks, rows):
            for j, setup in enumerate(setups):
                if (benchmark, setup) in indexed.index:
                    entry = indexed.loc[(benchmark, setup)]
                    cells[j] += (
                        rf" {{\scriptsize [{entry['lower']:.{decimals}f}, {entry['upper']:.{decimals}f}]}}"
                    )
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [
        r"\begin{tabular}{l" + "c" * len(setups) + "}",
        r"\toprule",
        "benchmark & " + " & ".join(latex_escape(s) for s in setups) + r" \\",
        r"\midrule",
    ]
    for benchmark, cells in zip(benchmarks, rows):
        lines.append(
            latex_escape(benchmark) + " & " + " & ".join(c.replace("–", "--") for c in cells) + r" \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


AGGREGATE_DESCRIPTIONS = {
    "iqm_bootstrap": "IQM over seeds [95% bootstrap interval]",
    "mean_and_ci": "mean over seeds [95% normal interval]",
    "median_percentiles": "median over seeds [25th, 75th percentile]",
}


def hypervolume_caption(aggregate_mode: str = "iqm_bootstrap", n_objectives: Sequence[int] = (2,)) -> str:
    """What a final-hypervolume table shows (``results.multiobjective``'s normalisation and reference point)."""
    boxes = ", ".join(f"{1.1 ** d:.3f} for {d} objectives" for d in sorted(set(n_objectives)))
    return (
        "Final normalised hypervolume (higher is better; each objective scaled so that the table's best value is 0 "
        "and its 90% quantile 1 -- for a surrogate, those of 1000 configurations drawn with a fixed seed -- with "
        f"reference point 1.1 per objective: the whole box from the best values is {boxes}), "
        f"{AGGREGATE_DESCRIPTIONS[aggregate_mode]}."
    )


def final_hypervolume_summary(
    comparative,
    benchmarks: Sequence[str],
    aggregate_mode: str = "iqm_bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (multi-objective benchmark, setup): centre and interval of the runs' final normalised
    hypervolume (``results.multiobjective.hypervolume_curve_spec``), as ``summarise_final_values``."""
    from results.multiobjective import hypervolume_curve_spec

    frames = [comparative.final_values(benchmark, spec=hypervolume_curve_spec()) for benchmark in benchmarks]
    if not frames:
        raise ValueError("no multi-objective benchmark to tabulate")
    final = pd.concat(frames, ignore_index=True)
    return summarise_final_values(final, aggregate_mode=aggregate_mode, n_boot=n_boot, seed=seed, level=level)
