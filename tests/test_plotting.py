"""Figures rendered to PNG and checked for content (curves, legend entries), tables, and the CLI."""

import argparse
import os

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from plotting.cli import add_commands
from plotting.figures import (
    plot_aggregated_curves,
    plot_average_ranks,
    plot_performance_profiles,
    plot_probability_of_improvement,
    plot_trial_learning_curves,
    save_figure,
)
from plotting.style import ONE_COLUMN_WIDTH, TWO_COLUMN_WIDTH, figure_size, method_styles
from plotting.tables import latex_escape, summarise_final_values, to_latex, to_markdown
from results.across_benchmarks import (
    average_rank_over_time,
    normalised_regret_curves,
    performance_profiles,
    probability_of_improvement_table,
)
from results.comparative import ComparativeResults
from results.store import load_experiment
from results.synthetic import experiment_path, write_synthetic_study

METHODS = ["RS", "ASHA", "BO", "BOHB"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("plotting"))
    write_synthetic_study(path, "study", ["bench_1", "bench_2"], METHODS, range(3), n_results=50)
    return path


@pytest.fixture(scope="module")
def comparative(root):
    return ComparativeResults(root, setups=METHODS)


def _labelled_lines(ax):
    return [
        line for line in ax.get_lines() if isinstance(line, Line2D) and not line.get_label().startswith("_")
    ]


def test_agg_backend():
    assert matplotlib.get_backend().lower() == "agg"


def test_comparative_plot_has_one_curve_and_legend_entry_per_setup(comparative, tmp_path):
    fig = comparative.plot("bench_1", n_boot=50, n_grid=40)
    ax = fig.axes[0]
    assert len(_labelled_lines(ax)) == len(METHODS)
    (legend,) = fig.legends  # one legend for the figure, below the axes
    assert [t.get_text() for t in legend.get_texts()] == METHODS
    paths = save_figure(fig, str(tmp_path / "bench_1"))
    assert [os.path.splitext(p)[1] for p in paths] == [".pdf", ".png"]
    assert all(os.path.getsize(p) > 1000 for p in paths)
    with open(paths[0], "rb") as handle:
        assert handle.read(4) == b"%PDF"


def test_subplots_titles_and_consistent_styles(root):
    comparative = ComparativeResults(
        root, benchmarks=["bench_1"], metadata_to_subplot=lambda m: f"seed {m['seed'] % 2}"
    )
    styles = method_styles(METHODS)
    fig = comparative.plot(n_boot=20, n_grid=20, styles=styles, columns=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in visible) == ["seed 0", "seed 1"]
    assert fig.get_size_inches()[0] == pytest.approx(TWO_COLUMN_WIDTH)
    for ax in visible:
        for line in _labelled_lines(ax):
            assert matplotlib.colors.same_color(line.get_color(), styles[line.get_label()].color)
    # A figure with only some setups keeps each setup's colour.
    subset = ComparativeResults(root, benchmarks=["bench_1"], setups=["BO", "RS"])
    fig = subset.plot(n_boot=20, n_grid=20, styles=styles)
    colours = {line.get_label(): line.get_color() for line in _labelled_lines(fig.axes[0])}
    assert set(colours) == {"BO", "RS"}
    assert all(matplotlib.colors.same_color(colours[s], styles[s].color) for s in colours)


def test_method_styles_are_deterministic_and_distinct():
    many = [f"m{i}" for i in range(12)]
    styles = method_styles(many)
    assert styles == method_styles(many)
    assert len({(s.color, s.linestyle) for s in styles.values()}) == 12
    custom = method_styles(["a", "b"], palette={"a": "red", "b": "blue"})
    assert custom["b"].color == "blue"
    with pytest.raises(ValueError, match="no colour"):
        method_styles(["a", "c"], palette={"a": "red"})
    assert figure_size(1)[0] == ONE_COLUMN_WIDTH and figure_size(2, n_rows=2, n_cols=2)[0] == TWO_COLUMN_WIDTH


def test_trial_learning_curves_one_line_per_trial(root):
    experiment = load_experiment(experiment_path(root, "study", "bench_1", "RS", 0))
    fig = plot_trial_learning_curves(experiment.results, "val_error")
    n_trials = experiment.results["trial_id"].nunique()
    assert len(fig.axes[0].get_lines()) == n_trials
    assert len(fig.legends[0].get_texts()) == 1
    fig.savefig(os.devnull, format="png")


def test_across_benchmark_figures(comparative):
    regret = normalised_regret_curves(comparative, n_grid=20)
    styles = method_styles(METHODS)
    fig = plot_average_ranks(average_rank_over_time(regret), METHODS, styles)
    assert len(_labelled_lines(fig.axes[0])) == 4
    fig = plot_performance_profiles(performance_profiles(regret, n_boot=20), METHODS, styles)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == METHODS
    table = probability_of_improvement_table(regret, n_boot=20)
    fig = plot_probability_of_improvement(table)
    assert len(fig.axes[0].get_yticklabels()) == len(table) == 6


def test_aggregated_curves_reject_empty_and_unstyled():
    with pytest.raises(ValueError, match="empty"):
        plot_aggregated_curves(pd.DataFrame(columns=["subplot", "setup", "x", "center", "lower", "upper"]))
    frame = pd.DataFrame(
        {"subplot": [None], "setup": ["X"], "x": [0.0], "center": [1.0], "lower": [1.0], "upper": [1.0]}
    )
    with pytest.raises(ValueError, match="no style"):
        plot_aggregated_curves(frame, styles=method_styles(["Y"]))


SUMMARY = pd.DataFrame(
    {
        "benchmark": ["b_1", "b_1", "b2", "b2"],
        "setup": ["RS", "BO", "RS", "BO"],
        "center": [0.5, 0.25, 0.1, 0.3],
        "lower": [0.4, 0.2, 0.05, 0.2],
        "upper": [0.6, 0.3, 0.15, 0.4],
        "n_runs": [5, 5, 5, 5],
    }
)


def test_markdown_table_bold_best_with_intervals():
    text = to_markdown(SUMMARY, decimals=2)
    lines = text.strip().splitlines()
    assert lines[0] == "| benchmark | RS | BO |"
    assert lines[2] == "| b_1 | 0.50 [0.40, 0.60] | **0.25** [0.20, 0.30] |"
    assert lines[3] == "| b2 | **0.10** [0.05, 0.15] | 0.30 [0.20, 0.40] |"
    higher = to_markdown(SUMMARY, decimals=2, lower_is_better=False, show_interval=False)
    assert "| b_1 | **0.50** | 0.25 |" in higher


def test_latex_table_escapes_and_bolds():
    text = to_latex(SUMMARY, decimals=2, caption="Final regret", label="tab:final")
    assert r"b\_1 & 0.50 {\scriptsize [0.40, 0.60]} & \textbf{0.25} {\scriptsize [0.20, 0.30]} \\" in text
    assert r"\toprule" in text and r"\label{tab:final}" in text
    assert latex_escape("a_b&c%") == r"a\_b\&c\%"


def test_summarise_final_values_matches_statistics():
    final = pd.DataFrame({"benchmark": ["b"] * 8, "setup": ["A"] * 8, "best": np.arange(1.0, 9.0)})
    summary = summarise_final_values(final, n_boot=50)
    assert summary.loc[0, "center"] == pytest.approx(4.5)
    assert summary.loc[0, "lower"] <= 4.5 <= summary.loc[0, "upper"]
    assert summarise_final_values(final, aggregate_mode="mean_and_ci").loc[0, "center"] == pytest.approx(4.5)


def test_plot_and_table_commands(root, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    out = tmp_path / "figures"
    args = parser.parse_args(
        ["plot", root, "--out", str(out), "--n-boot", "20", "--n-grid", "20", "--format", "png"]
    )
    assert args.func(args) == 0
    assert sorted(os.listdir(out)) == [
        "average_rank.png",
        "bench_1.png",
        "bench_2.png",
        "benchmark_grid.png",
        "critical_difference.png",
        "normalised_regret.png",
    ]
    # --figure: only the figures asked for
    only = tmp_path / "only"
    args = parser.parse_args(["plot", root, "--out", str(only), "--n-boot", "20", "--n-grid", "20", "--format", "png",
                              "--figure", "benchmark_grid", "--figure", "benchmarks"])
    assert args.func(args) == 0
    assert sorted(os.listdir(only)) == ["bench_1.png", "bench_2.png", "benchmark_grid.png"]
    capsys.readouterr()
    args = parser.parse_args(["table", root, "--n-boot", "20", "--setup", "RS", "--setup", "BO"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| benchmark | RS | BO |" in printed and printed.count("**") == 4
    target = tmp_path / "table.tex"
    args = parser.parse_args(["table", root, "--format", "latex", "--n-boot", "20", "--out", str(target)])
    assert args.func(args) == 0
    assert r"\begin{tabular}{lcccc}" in target.read_text()


def test_save_figure_lays_out_once_and_writes_what_savefig_alone_writes(comparative, tmp_path):
    """Both formats share one layout: the PNG is the one ``savefig`` alone writes under the paper style (a
    fresh figure, constrained layout and tight box computed by ``savefig``), the PDF page has the PNG's size,
    and the figure keeps its layout engine."""
    import re
    from pathlib import Path

    from PIL import Image

    from plotting.style import paper_style

    build = lambda: comparative.plot("bench_1", n_boot=30, n_grid=40, styles=method_styles(METHODS), columns=2)
    alone = build()
    with paper_style():
        alone.savefig(tmp_path / "alone.png")
    fig = build()
    engine = fig.get_layout_engine()
    pdf, png = save_figure(fig, str(tmp_path / "both"))
    assert (tmp_path / "alone.png").read_bytes() == Path(png).read_bytes()
    assert fig.get_layout_engine() is engine
    width, height = Image.open(png).size
    box = re.search(rb"MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", Path(pdf).read_bytes())
    dpi = 300  # the paper style's savefig.dpi
    assert abs(float(box.group(1)) - width / dpi * 72) < 72 / dpi
    assert abs(float(box.group(2)) - height / dpi * 72) < 72 / dpi


def test_plot_dpi_sets_the_png_resolution_and_keeps_the_pdf_page(root, tmp_path, capsys):
    """``arena plot --dpi``: the PNG is written at that resolution (pixels = page inches x dpi), the PDF page
    is the same figure; a non-positive or non-numeric value is refused by the parser with the option named."""
    import re

    from PIL import Image

    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    sizes = {}
    for dpi in ("100", "200"):
        out = tmp_path / f"dpi{dpi}"
        args = parser.parse_args(["plot", root, "--out", str(out), "--n-boot", "20", "--n-grid", "20",
                                  "--figure", "benchmark_grid", "--dpi", dpi])
        assert args.func(args) == 0
        width, height = Image.open(out / "benchmark_grid.png").size
        box = re.search(rb"MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", (out / "benchmark_grid.pdf").read_bytes())
        page = float(box.group(1)) / 72, float(box.group(2)) / 72
        assert abs(width - page[0] * float(dpi)) <= 1 and abs(height - page[1] * float(dpi)) <= 1
        sizes[dpi] = (width, height)
    assert abs(sizes["200"][0] - 2 * sizes["100"][0]) <= 2
    for bad in ("0", "-5", "high"):
        with pytest.raises(SystemExit):
            parser.parse_args(["plot", root, "--dpi", bad])
        assert "--dpi" in capsys.readouterr().err
