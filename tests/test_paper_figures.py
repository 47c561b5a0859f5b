"""Publication figures: the log-scale rule, critical-difference diagrams, the per-benchmark grid, colours
that stay the same across the figures of a study, legends outside the data area, paper sizes and fonts."""

import argparse
import sys

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from matplotlib.lines import Line2D

import plotting.figures
from plotting.cli import add_commands
from plotting.figures import (
    plot_aggregated_curves,
    plot_average_ranks,
    plot_benchmark_grid,
    plot_critical_difference,
    plot_performance_profiles,
    plot_trial_learning_curves,
)
from plotting.style import (
    ONE_COLUMN_WIDTH,
    TWO_COLUMN_WIDTH,
    YScale,
    choose_y_scale,
    resolve_y_scale,
    study_styles,
)
from results.across_benchmarks import (
    average_rank_over_time,
    final_regret_blocks,
    final_regret_rank_test,
    normalised_regret_curves,
    performance_profiles,
    regret_over_time_per_benchmark,
)
from results.comparative import ComparativeResults
from results.statistics import friedman_rank_test, nemenyi_critical_difference
from results.store import load_experiment
from results.synthetic import experiment_path, write_synthetic_study

METHODS = ["RS", "ASHA", "BO", "BOHB"]
BENCHMARKS = ["suite-alpha", "suite-beta", "suite-gamma"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("paper_figures"))
    write_synthetic_study(path, "study", BENCHMARKS, METHODS, range(3), n_results=40)
    return path


@pytest.fixture(scope="module")
def regret(root):
    return normalised_regret_curves(ComparativeResults(root, setups=METHODS), n_grid=30)


def _curves(values_by_setup: dict[str, list[float]], subplot=None) -> pd.DataFrame:
    frames = []
    for setup, values in values_by_setup.items():
        values = np.asarray(values, dtype=float)
        frames.append(
            pd.DataFrame(
                {
                    "subplot": pd.Series([subplot] * len(values), dtype=object),
                    "setup": setup,
                    "x": np.arange(len(values), dtype=float),
                    "center": values,
                    "lower": values,
                    "upper": values,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- the log-scale rule -------------------------------------------------------------------------------


def test_log_scale_rule_on_hand_made_curves():
    # 0.5 / 0.1 is 0.7 decades: linear.
    assert choose_y_scale([0.5, 0.2, 0.1]) == YScale("linear")
    # Exactly one decade is not "more than one decade".
    assert choose_y_scale([1.0, 0.1]) == YScale("linear")
    # 0.5 / 0.01 is 1.7 decades: log, floor at the decade at or below the smallest value, nothing clipped.
    assert choose_y_scale([0.5, 0.05, 0.012]) == YScale("log", 0.01, clipped=False)
    # Zeros (regret of a run that found the optimum) are drawn at the floor, and that is recorded.
    assert choose_y_scale([0.3, 0.02, 0.0]) == YScale("log", 0.01, clipped=True)
    # A negative value (a run beat the stored optimum) keeps the axis linear so it stays visible.
    assert choose_y_scale([0.3, 0.001, -0.001]) == YScale("linear")
    # The floor is at most six decades under the largest value: 1e-12 does not squash the axis.
    assert choose_y_scale([1.0, 1e-12]) == YScale("log", 1e-6, clipped=True)
    # A single positive value gives no span.
    assert choose_y_scale([0.0, 0.0, 0.5]) == YScale("linear")
    assert resolve_y_scale("linear", np.array([1.0, 1e-5])) == YScale("linear")
    assert resolve_y_scale("log", np.array([0.5, 0.2])) == YScale("log", 0.1, clipped=False)
    with pytest.raises(ValueError, match="'auto', 'linear' or 'log'"):
        resolve_y_scale("logarithmic", np.array([1.0]))
    with pytest.raises(ValueError, match="positive"):
        resolve_y_scale("log", np.array([0.0, -1.0]))


def test_log_axis_in_rendered_figures_states_the_floor():
    fig = plot_aggregated_curves(_curves({"A": [0.4, 0.05, 0.0], "B": [0.3, 0.02, 0.01]}), y_label="regret")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    # The lowest tick is the floor 10^-2 and says values below it are drawn there.
    assert labels[0] == r"$\leq\!10^{-2}$"
    assert all(r"\leq" not in label for label in labels[1:])
    line_a = next(line for line in ax.get_lines() if line.get_label() == "A")
    assert line_a.get_ydata()[-1] == pytest.approx(0.01)  # the zero drawn at the floor
    # Curves within one decade stay linear.
    fig = plot_aggregated_curves(_curves({"A": [0.4, 0.2, 0.1], "B": [0.3, 0.2, 0.15]}))
    assert fig.axes[0].get_yscale() == "linear"
    # And the caller can force either scale.
    fig = plot_aggregated_curves(_curves({"A": [0.4, 0.2, 0.1]}), y_scale="log")
    assert fig.axes[0].get_yscale() == "log"


# --- critical-difference diagrams ---------------------------------------------------------------------


def test_rank_test_against_a_hand_computation():
    # Four blocks, three setups, lower is better; the within-block ranks are the values themselves.
    blocks = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3]], dtype=float)
    test = friedman_rank_test(blocks, ["a", "b", "c"])
    np.testing.assert_allclose(test.mean_ranks, [1.25, 2.0, 2.75])
    # chi2 = 12 N / (k (k + 1)) * sum(R_j^2) - 3 N (k + 1) = 4 * 13.125 - 48 = 4.5, two degrees of freedom.
    assert test.statistic == pytest.approx(4.5)
    assert test.p_value == pytest.approx(np.exp(-2.25))
    # Demsar (2006), Table 5: q_0.05 = 2.343 for k = 3; CD = q * sqrt(k (k + 1) / (6 N)).
    assert test.critical_difference == pytest.approx(2.343 * np.sqrt(12 / 24), abs=1e-3)
    assert nemenyi_critical_difference(2, 10) == pytest.approx(1.960 * np.sqrt(6 / 60), abs=1e-3)
    assert nemenyi_critical_difference(4, 10, alpha=0.10) == pytest.approx(2.291 * np.sqrt(20 / 60), abs=1e-3)


def test_rank_test_agrees_with_scipy_and_scikit_posthocs():
    scikit_posthocs = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 5, size=(30, 4)).astype(float)  # many ties
    blocks[:, 0] -= 1.0  # setup 0 tends to be best
    setups = ["w", "x", "y", "z"]
    test = friedman_rank_test(blocks, setups)
    reference = scipy.stats.friedmanchisquare(*blocks.T)
    assert test.statistic == pytest.approx(reference.statistic)
    assert test.p_value == pytest.approx(reference.pvalue)
    p_values = scikit_posthocs.posthoc_nemenyi_friedman(blocks)
    for i in range(4):
        for j in range(i + 1, 4):
            differ = abs(test.mean_ranks[i] - test.mean_ranks[j]) > test.critical_difference
            assert differ == (p_values.iloc[i, j] < test.alpha)


def test_rank_test_rejects_incomplete_blocks():
    blocks = np.array([[0.1, 0.2], [np.nan, 0.3], [0.2, 0.1]])
    with pytest.raises(ValueError, match="1 blocks hold a NaN"):
        friedman_rank_test(blocks, ["a", "b"])
    with pytest.raises(ValueError, match=">= 2 blocks"):
        friedman_rank_test(blocks[:1], ["a", "b"])


def test_critical_difference_diagram_on_a_study(regret):
    pytest.importorskip("scikit_posthocs")
    blocks, labels = final_regret_blocks(regret)
    assert blocks.shape == (len(BENCHMARKS) * 3, len(METHODS))
    assert labels[:2] == [("suite-alpha", 0), ("suite-alpha", 1)]
    test = final_regret_rank_test(regret)
    # Blocks are (benchmark, seed) pairs: mean ranks recomputed directly from the stored final regret.
    finals = np.stack([regret.final[s].T.reshape(-1) for s in METHODS], axis=1)
    np.testing.assert_allclose(test.mean_ranks, scipy.stats.rankdata(finals, axis=1).mean(axis=0))
    styles = study_styles(METHODS)
    fig = plot_critical_difference(test, blocks, styles)
    assert fig.get_size_inches()[0] == pytest.approx(ONE_COLUMN_WIDTH)
    texts = {t.get_text(): t for t in fig.axes[0].texts}
    for setup, rank in zip(METHODS, test.mean_ranks):
        label = next(t for text, t in texts.items() if setup in text.split() and f"{rank:.2f}" in text)
        assert matplotlib.colors.same_color(label.get_color(), styles[setup].color)
    assert f"CD = {test.critical_difference:.2f}" in texts


def test_critical_difference_names_the_extra_when_the_library_is_missing(regret, monkeypatch):
    monkeypatch.setitem(sys.modules, "scikit_posthocs", None)
    blocks, _ = final_regret_blocks(regret)
    with pytest.raises(ModuleNotFoundError, match=r"hpo-arena\[figures\]"):
        plot_critical_difference(final_regret_rank_test(regret), blocks)


# --- grid, colours, legends, sizes --------------------------------------------------------------------


def test_grid_has_one_panel_per_benchmark(regret):
    per_benchmark = regret_over_time_per_benchmark(regret, n_boot=20)
    assert sorted(per_benchmark["subplot"].unique()) == BENCHMARKS
    fig = plot_benchmark_grid(per_benchmark, setups=METHODS)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(BENCHMARKS)
    # The shared prefix moves to the figure title so panel titles fit.
    assert [ax.get_title() for ax in visible] == ["alpha", "beta", "gamma"]
    assert fig._suptitle.get_text() == "suite-*"
    assert fig.get_size_inches()[0] == pytest.approx(TWO_COLUMN_WIDTH)
    assert all(len([line for line in ax.get_lines() if not line.get_label().startswith("_")]) == 4 for ax in visible)


def test_styles_depend_only_on_the_set_of_setups():
    styles = study_styles(METHODS)
    assert styles == study_styles(list(reversed(METHODS))) == study_styles(["BOHB", "RS", "BO", "ASHA"])
    assert len({(s.color, s.linestyle) for s in styles.values()}) == len(METHODS)
    with pytest.raises(ValueError, match="unique"):
        study_styles(["RS", "RS"])


def test_arena_plot_keeps_study_colours_in_every_figure_of_a_subset(root, tmp_path, monkeypatch):
    pytest.importorskip("scikit_posthocs")
    figures = {}

    def keep(fig, path_stem, formats=("pdf", "png"), dpi=None):
        figures[path_stem.rsplit("/", 1)[-1]] = fig
        return [f"{path_stem}.png"]

    monkeypatch.setattr(plotting.figures, "save_figure", keep)
    monkeypatch.setattr(matplotlib.pyplot, "close", lambda fig=None: None)
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["plot", root, "--out", str(tmp_path), "--n-boot", "20", "--n-grid", "20", "--setup", "BO", "--setup", "RS"]
    )
    assert args.func(args) == 0
    assert {"benchmark_grid", "critical_difference", "normalised_regret", "average_rank"} <= set(figures)
    expected = study_styles(METHODS)  # the whole study's mapping, not the subset's
    assert expected["BO"] != study_styles(["BO", "RS"])["BO"]  # so the check below can fail
    seen = set()
    for fig in figures.values():
        for ax in fig.axes:
            for line in ax.get_lines():
                if line.get_label() in ("BO", "RS"):
                    assert matplotlib.colors.same_color(line.get_color(), expected[line.get_label()].color)
                    seen.add(line.get_label())
            for text in ax.texts:
                name = next((s for s in ("BO", "RS") if s in text.get_text().split()), None)
                if name:
                    assert matplotlib.colors.same_color(text.get_color(), expected[name].color)
    assert seen == {"BO", "RS"}


def _assert_legend_outside_data_area(fig):
    fig.canvas.draw()
    assert fig.legends, "the figure has no legend"
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel"
    for ax in fig.axes:
        assert ax.get_legend() is None


def test_legends_never_cover_the_data_area(root, regret):
    many = {f"method-{i}": list(np.linspace(1.0, 0.01 * (i + 1), 20)) for i in range(9)}
    _assert_legend_outside_data_area(plot_aggregated_curves(_curves(many)))
    _assert_legend_outside_data_area(plot_aggregated_curves(_curves(many), columns=2))
    per_benchmark = regret_over_time_per_benchmark(regret, n_boot=20)
    _assert_legend_outside_data_area(plot_benchmark_grid(per_benchmark, setups=METHODS))
    _assert_legend_outside_data_area(plot_average_ranks(average_rank_over_time(regret), METHODS))
    _assert_legend_outside_data_area(plot_performance_profiles(performance_profiles(regret, n_boot=20), METHODS))
    experiment = load_experiment(experiment_path(root, "study", "suite-alpha", "RS", 0))
    _assert_legend_outside_data_area(plot_trial_learning_curves(experiment.results, "val_error"))
    # Nine long names do not fit in one row of a one-column figure: the legend wraps instead of spilling.
    fig = plot_aggregated_curves(_curves(many))
    fig.canvas.draw()
    assert fig.legends[0].get_window_extent().width <= fig.bbox.width


def test_one_and_two_column_sizes_and_fonts():
    curves = _curves({"A": [0.4, 0.2, 0.1], "B": [0.3, 0.2, 0.15]})
    for columns, width in ((1, ONE_COLUMN_WIDTH), (2, TWO_COLUMN_WIDTH)):
        fig = plot_aggregated_curves(curves, columns=columns, title="t")
        assert fig.get_size_inches()[0] == pytest.approx(width)
        fig.canvas.draw()
        ax = fig.axes[0]
        assert ax.xaxis.label.get_fontsize() == 9 and fig._suptitle.get_fontsize() == 9
        assert all(t.get_fontsize() == 8 for t in ax.get_xticklabels() + ax.get_yticklabels())
        assert all(t.get_fontsize() == 8 for t in fig.legends[0].get_texts())
    assert isinstance(fig.axes[0].get_lines()[0], Line2D)


def test_arena_plot_makes_the_cd_diagram_without_the_grid_for_one_benchmark(root, tmp_path):
    pytest.importorskip("scikit_posthocs")
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command"))
    out = tmp_path / "one"
    args = parser.parse_args(
        ["plot", root, "--benchmark", "suite-beta", "--out", str(out), "--n-boot", "20", "--n-grid", "20",
         "--format", "png"]
    )
    assert args.func(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["critical_difference.png", "suite-beta.png"]
    # One method: nothing to rank.
    out = tmp_path / "single"
    args = parser.parse_args(
        ["plot", root, "--benchmark", "suite-beta", "--setup", "RS", "--out", str(out), "--n-boot", "20",
         "--n-grid", "20", "--format", "png"]
    )
    assert args.func(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["suite-beta.png"]
