"""Multi-objective figures and tables: what the Pareto-front and attainment figures draw (hand-made runs whose
fronts are worked out by hand), and a study from ``arena sweep`` to ``arena plot`` and ``arena table`` whose
numbers are recomputed here from the runs' result files."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from plotting.pareto import plot_attainment_surfaces, plot_pareto_fronts
from plotting.style import study_styles
from results.multiobjective import BenchmarkFronts, RunPoints

REPO = Path(__file__).resolve().parents[1]


def _lines(fig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ax = fig.axes[0]
    return {line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata())) for line in ax.lines}


def _fronts() -> BenchmarkFronts:
    # Objectives: error (min) and accuracy-like "score" (max); reference point (error 10, score 0).
    # Method A, 3 seeds; in minimisation terms (error, -score):
    #   seed 0: (1, -4), (3, -6)    seed 1: (2, -5)    seed 2: (4, -8), (20, -9) (error beyond the reference)
    # Method B, 1 seed: (5, -1).
    runs_a = [
        RunPoints(0, "a0", np.array([[1.0, 4.0], [3.0, 6.0], [np.nan, 7.0]])),
        RunPoints(1, "a1", np.array([[2.0, 5.0], [2.5, 4.5]])),  # (2.5, 4.5) is dominated by (2, 5)
        RunPoints(2, "a2", np.array([[4.0, 8.0], [20.0, 9.0]])),
    ]
    runs_b = [RunPoints(0, "b0", np.array([[5.0, 1.0]]))]
    return BenchmarkFronts("mo-hand", ("error", "score"), ("min", "max"), np.array([10.0, 0.0]),
                           {"A": runs_a, "B": runs_b})


def test_attainment_figure_draws_the_median_surface_in_table_units():
    fronts = _fronts()
    # Median level for A: 2 of 3 runs. f(x) in -score: seed 0: -4 from 1, -6 from 3; seed 1: -5 from 2;
    # seed 2: -8 from 4, -9 from 20. Values at x = 1, 2, 3, 4, 20 (seeds 0, 1, 2): (-4, inf, inf),
    # (-4, -5, inf), (-6, -5, inf), (-6, -5, -8), (-6, -5, -9); second smallest: inf, -4, -5, -6, -6
    # -> corners (2, 4), (3, 5), (4, 6) in table units (seed 2's (20, 9) changes only the best case).
    np.testing.assert_array_equal(fronts.attainment_surface("A"), [[2, 4], [3, 5], [4, 6]])
    np.testing.assert_array_equal(fronts.attainment_surface("A", level=3), [[4, 5]])
    styles = study_styles(["B", "A", "C"])
    fig = plot_attainment_surfaces(fronts, styles)
    lines = _lines(fig)
    x, y = lines["A"]
    # Outline from (2, reference score 0) up to each corner and across, ending at the reference error 10.
    np.testing.assert_array_equal(x, [2, 2, 3, 3, 4, 4, 10])
    np.testing.assert_array_equal(y, [0, 4, 4, 5, 5, 6, 6])
    np.testing.assert_array_equal(lines["B"][0], [5, 5, 10])  # one run: its own front
    np.testing.assert_array_equal(lines["B"][1], [0, 1, 1])
    assert fig.axes[0].lines[0].get_color() == styles["A"].color  # the study-wide colour, C is absent
    assert "2 of 3" in fig._suptitle.get_text() and "1 of 1" in fig._suptitle.get_text()
    assert fig.axes[0].get_xlabel() == "error (lower is better)"
    assert fig.axes[0].get_ylabel() == "score (higher is better)"
    plt.close(fig)


def test_pareto_front_figure_pools_every_seed():
    fronts = _fronts()
    # Pooled A in (error, -score): (1,-4), (2,-5), (3,-6), (4,-8), (20,-9): none dominates another.
    np.testing.assert_array_equal(fronts.pooled_front("A"), [[1, 4], [2, 5], [3, 6], [4, 8], [20, 9]])
    fig = plot_pareto_fronts(fronts, study_styles(["A", "B"]))
    x, y = _lines(fig)["A"]
    np.testing.assert_array_equal(x, [1, 1, 2, 2, 3, 3, 4, 4, 10])
    np.testing.assert_array_equal(y, [0, 4, 4, 5, 5, 6, 6, 8, 8])
    assert "1-3 seeds pooled" in fig._suptitle.get_text()
    plt.close(fig)


def test_three_objectives_get_one_panel_per_pair():
    points = np.array([[1.0, 3.0, 2.0], [2.0, 1.0, 3.0]])
    fronts = BenchmarkFronts("mo-3", ("a", "b", "c"), ("min", "min", "min"), np.array([5.0, 5.0, 5.0]),
                             {"M": [RunPoints(0, "m", points)]})
    fig = plot_attainment_surfaces(fronts)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert [(ax.get_xlabel().split()[0], ax.get_ylabel().split()[0]) for ax in visible] == [
        ("a", "b"), ("a", "c"), ("b", "c")]
    # Objectives (b, c): (3, 2) and (1, 3) -> sorted by b: (1, 3), (3, 2).
    x, y = visible[2].lines[0].get_xdata(), visible[2].lines[0].get_ydata()
    np.testing.assert_array_equal(x, [1, 1, 3, 3, 5])
    np.testing.assert_array_equal(y, [5, 3, 3, 2, 2])
    assert "2-D projections" in fig._suptitle.get_text()
    plt.close(fig)


def test_fronts_hold_the_feasible_results_of_every_run_in_table_units(tmp_path):
    import dataclasses

    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment
    from results.comparative import ComparativeResults
    from results.multiobjective import benchmark_fronts, split_by_objectives

    bench = dataclasses.replace(get_benchmark("mo-xgboost-sklearn-wine"), max_wallclock_time=0.1,
                                constraint={"metric": "train_error", "threshold": 0.02})
    for method, seed in (("RS", 0), ("RS", 1), ("MOASHA", 0), ("MOASHA", 1)):
        run_experiment(ExperimentSpec(benchmark=bench, method=method, seed=seed, master_seed=4, tag="c",
                                      results_root=str(tmp_path)))
    comparative = ComparativeResults(str(tmp_path), tags="c")
    assert split_by_objectives(comparative) == ([], [bench.name])
    fronts = benchmark_fronts(comparative, bench.name)
    assert fronts.metrics == ("val_error", "elapsed_time") and sorted(fronts.setups) == ["MOASHA", "RS"]
    assert [run.seed for run in fronts.runs["RS"]] == [0, 1]
    for runs in fronts.runs.values():
        for run in runs:
            frame = pd.read_parquet(Path(run.path) / "results.parquet")
            feasible = frame[frame["train_error"] <= 0.02]
            assert 0 < len(feasible) < len(frame)  # the constraint removes some results, not all
            np.testing.assert_array_equal(run.points, feasible[["val_error", "elapsed_time"]].to_numpy())
    metadata = json.loads((Path(fronts.runs["RS"][0].path) / "metadata.json").read_text())
    for k, metric in enumerate(fronts.metrics):
        best, worst = metadata["objective_bounds"][metric]
        assert fronts.reference[k] == pytest.approx(best + 1.1 * (worst - best))
    # A run written without objectives (e.g. before the definition had them) cannot be mixed in silently.
    path = Path(fronts.runs["MOASHA"][0].path) / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "metrics": ["val_error"]}))
    with pytest.raises(ValueError, match="disagree on its objectives"):
        split_by_objectives(ComparativeResults(str(tmp_path), tags="c"))


# ------------------------------------------------------------------------------------------------------------
# From arena sweep to arena plot and arena table.


def _arena(workdir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(workdir / "results"), HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-m", "launchers.cli", *arguments], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"arena {arguments[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def _hypervolume_2d(points: np.ndarray, reference: np.ndarray) -> float:
    """Area dominated by ``points`` inside the box up to ``reference`` (sweep over the first objective)."""
    points = points[np.all(points < reference, axis=1)]
    area, best_y = 0.0, reference[1]
    for x, y in sorted(map(tuple, points)):
        if y < best_y:
            area += (reference[0] - x) * (best_y - y)
            best_y = y
    return area


def _interquartile_mean(values: list[float]) -> float:
    ordered = np.sort(values)
    cut = len(ordered) // 4
    return float(ordered[cut:len(ordered) - cut].mean())


def _in_process(capsys, *arguments: str) -> str:
    """``arena plot`` / ``arena table`` through the CLI entry point, in this process (no interpreter start-up)."""
    from launchers.cli import main

    capsys.readouterr()
    assert main(list(arguments)) == 0
    return capsys.readouterr().out


def _markdown_rows(text: str) -> dict[str, dict[str, float]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = {h: float(re.match(r"\**([-0-9.]+)", c).group(1)) for h, c in zip(header[1:], cells[1:])}
    return rows


def test_mixed_study_from_sweep_to_plot_and_table(tmp_path, capsys, recwarn):
    mo, so = "mo-xgboost-sklearn-digits", "xgboost-sklearn-wine"
    _arena(tmp_path, "sweep", "-m", "method=RS,MOASHA", f"benchmark={mo}", "seed=range(0,2)",
           "benchmark.max_wallclock_time=0.3", "tag=mo")
    results = tmp_path / "results"
    # The single-objective part of the study in this process (one interpreter start-up fewer).
    import dataclasses

    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    for seed in (0, 1):
        run_experiment(ExperimentSpec(benchmark=dataclasses.replace(get_benchmark(so), max_wallclock_time=0.1),
                                      method="RS", seed=seed, master_seed=8, tag="so", results_root=str(results)))

    plotted = _in_process(capsys, "plot", str(results), "--out", str(tmp_path / "figures"), "--n-boot", "200")
    written = set(plotted.split())
    expected = {str(tmp_path / "figures" / f"{stem}.{ext}") for ext in ("pdf", "png") for stem in
                (f"{mo}_hypervolume", f"{mo}_pareto_front", f"{mo}_attainment", so)}
    assert written == expected  # one single-objective benchmark: no cross-benchmark figures
    for path in expected:
        head = Path(path).read_bytes()[:8]
        assert head.startswith(b"%PDF" if path.endswith(".pdf") else b"\x89PNG")

    table = _in_process(capsys, "table", str(results), "--decimals", "4", "--n-boot", "200")
    single_part, multi_part = table.split("Final normalised hypervolume")
    assert "the whole box from the best values is 1.210 for 2 objectives" in multi_part and "IQM over seeds" in multi_part
    # Expected values from the result files alone: final best val_error, and the hypervolume of all results
    # normalised by the bounds the run recorded (reference point 1.1, 1.1), IQM over the two seeds.
    errors, volumes = [], {"RS": [], "MOASHA": []}
    for seed in (0, 1):
        errors.append(pd.read_parquet(results / "so" / so / "RS" / str(seed) / "results.parquet")["val_error"].min())
        for method, values in volumes.items():
            folder = results / "mo" / mo / method / str(seed)
            metadata = json.loads((folder / "metadata.json").read_text())
            frame = pd.read_parquet(folder / "results.parquet")
            normalised = np.column_stack([
                (frame[m].to_numpy() - metadata["objective_bounds"][m][0])
                / (metadata["objective_bounds"][m][1] - metadata["objective_bounds"][m][0])
                for m in ("val_error", "elapsed_time")])
            values.append(_hypervolume_2d(normalised, np.array([1.1, 1.1])))
    single_rows = _markdown_rows(single_part)
    assert list(single_rows) == [so]
    assert single_rows[so]["RS"] == pytest.approx(_interquartile_mean(errors), abs=1e-4)
    multi_rows = _markdown_rows(multi_part)
    assert list(multi_rows) == [mo]
    for method, values in volumes.items():
        assert 0 < values[0] <= 1.21 and multi_rows[mo][method] == pytest.approx(_interquartile_mean(values), abs=1e-4)
    best = max(multi_rows[mo], key=multi_rows[mo].get)
    assert re.search(rf"\*\*{multi_rows[mo][best]:.4f}\*\*", multi_part)  # higher hypervolume is bold

    latex = _in_process(capsys, "table", str(results), "--format", "latex", "--tag", "mo", "--n-boot", "200")
    assert latex.count(r"\begin{table}") == 1 and r"\label{tab:final-hypervolume}" in latex
    assert "mo-xgboost-sklearn-digits &" in latex and r"90\% quantile" in latex
    # MOASHA cannot run on the single-objective benchmark: no warning that its seeds are missing there.
    assert not [w for w in recwarn if "distinct seed" in str(w.message)]
