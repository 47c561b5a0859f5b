"""``arena plot --jobs N``: the figures of single benchmarks drawn in worker processes give the files, printed paths
and notes of ``--jobs 1`` (PNG bytes equal, PDF bytes equal but for the creation date matplotlib stamps), for
single- and multi-objective studies of the embedded xgboost-sklearn benchmarks run through the simulator; an
error in a worker stops ``arena plot`` with that error and leaves no figure file half written, nor a worker."""
from __future__ import annotations

import re
from pathlib import Path

import psutil
import pytest
from _experiment_runs import run_benchmark

from benchmark_definitions.registry import EMBEDDED_BUDGETS
from launchers.cli import main

SINGLE = [f"xgboost-sklearn-{task}" for task in sorted(EMBEDDED_BUDGETS)][:3]
MULTI = [f"mo-xgboost-sklearn-{task}" for task in sorted(EMBEDDED_BUDGETS)][:2]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Single-objective study ``so`` (3 benchmarks, RS and ASHA, 2 seeds) and multi-objective study ``mo``
    (2 benchmarks, RS and MOASHA, 2 seeds), each run a fraction of its budget."""
    root = tmp_path_factory.mktemp("plot-jobs") / "results"
    for benchmarks, methods, tag in ((SINGLE, ("RS", "ASHA"), "so"), (MULTI, ("RS", "MOASHA"), "mo")):
        for benchmark in benchmarks:
            for method in methods:
                for seed in (0, 1):
                    run_benchmark(root, method, benchmark, tag, seed=seed,
                                  max_wallclock_time=EMBEDDED_BUDGETS[benchmark.split("sklearn-")[1]] / 4)
    return root


def _workers() -> list[psutil.Process]:
    """This process's loky workers (its resource trackers, one per interpreter, end when the interpreter does)."""
    return [p for p in psutil.Process().children(recursive=True) if "LokyProcess" in " ".join(p.cmdline())]


def _plot(capsys, out: Path, *arguments: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["plot", *arguments, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def _without_creation_date(pdf: bytes) -> bytes:
    stamped = re.subn(rb"/CreationDate \(D:\d+Z?\)", b"", pdf)
    assert stamped[1] == 1, "matplotlib stamps one creation date per PDF"
    return stamped[0]


def _assert_same_figures(serial: Path, parallel: Path) -> list[str]:
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in parallel.iterdir())  # also: no temporary file left
    for name in names:
        one, other = (serial / name).read_bytes(), (parallel / name).read_bytes()
        if name.endswith(".pdf"):
            one, other = _without_creation_date(one), _without_creation_date(other)
        assert one == other, name
    return names


def test_jobs_writes_the_files_and_prints_the_paths_of_one_job(results, tmp_path, capsys):
    options = [str(results), "--tag", "so", "--n-boot", "50", "--n-grid", "50", "--seed", "3", "--setup", "ASHA",
               "--setup", "RS", "--y-scale", "log", "--dpi", "80"]
    out_serial, err_serial = _plot(capsys, tmp_path / "serial", *options)
    out_parallel, err_parallel = _plot(capsys, tmp_path / "parallel", *options, "--jobs", "2")
    names = _assert_same_figures(tmp_path / "serial", tmp_path / "parallel")
    stems = [*SINGLE, "normalised_regret", "average_rank", "benchmark_grid", "critical_difference"]
    assert names == sorted(f"{stem}.{ext}" for stem in stems for ext in ("pdf", "png"))
    # The same paths in the same order: per benchmark first, then the figures across benchmarks.
    assert out_parallel.replace(str(tmp_path / "parallel"), "OUT") == out_serial.replace(str(tmp_path / "serial"),
                                                                                        "OUT")
    assert out_serial.split() == [str(tmp_path / "serial" / f"{stem}.{ext}") for stem in stems
                                  for ext in ("pdf", "png")]
    assert err_parallel == err_serial
    assert not _workers()  # the workers ended with the command


def test_jobs_on_a_multi_objective_and_mixed_study(results, tmp_path, capsys):
    # The whole root mixes studies: the single-objective part (with its figures across benchmarks) and the
    # multi-objective part (hypervolume, front and attainment figures per benchmark); --metric gives a note.
    options = [str(results), "--n-boot", "30", "--n-grid", "40", "--format", "png", "--format", "pdf",
               "--metric", "val_error", "--mode", "min"]
    out_serial, err_serial = _plot(capsys, tmp_path / "serial", *options)
    out_parallel, err_parallel = _plot(capsys, tmp_path / "parallel", *options, "--jobs", "2")
    names = _assert_same_figures(tmp_path / "serial", tmp_path / "parallel")
    for benchmark in MULTI:
        assert {f"{benchmark}_{kind}.png" for kind in ("hypervolume", "pareto_front", "attainment")} <= set(names)
    assert out_parallel.replace(str(tmp_path / "parallel"), "OUT") == out_serial.replace(str(tmp_path / "serial"),
                                                                                        "OUT")
    assert "--metric val_error applies to single-objective benchmarks" in err_serial
    assert err_parallel == err_serial


def test_an_error_in_a_worker_stops_arena_plot_with_that_error(results, tmp_path, capsys):
    # An unknown metric fails in every per-benchmark figure (no figure across benchmarks is asked for, so the
    # parent does not meet it while planning): the workers' error is the serial one, naming the figure.
    options = [str(results), "--tag", "so", "--figure", "benchmarks", "--metric", "no_such_column", "--mode", "min",
               "--n-boot", "20"]
    with pytest.raises(KeyError, match="'no_such_column' is not a result column") as serial:
        main(["plot", *options, "--out", str(tmp_path / "serial")])
    with pytest.raises(KeyError, match="'no_such_column' is not a result column") as parallel:
        main(["plot", *options, "--out", str(tmp_path / "parallel"), "--jobs", "2"])
    assert serial.value.args == parallel.value.args
    assert any(re.fullmatch(r"arena plot: while drawing the figure '(.+)'", note) and note.split("'")[1] in SINGLE
               for note in parallel.value.__notes__)
    assert parallel.value.__cause__ is None  # no worker traceback chained to it
    assert not list(tmp_path.glob("parallel/*"))  # every figure failed before writing: no file, no temporary
    assert not _workers()
    capsys.readouterr()


def test_jobs_must_be_a_count(results, capsys):
    for bad in ("-1", "two"):
        with pytest.raises(SystemExit):
            main(["plot", str(results), "--jobs", bad])
        assert "--jobs" in capsys.readouterr().err


def test_a_failing_write_leaves_no_file_under_the_figure_name(tmp_path, monkeypatch):
    """``save_figure`` writes through a temporary file: a write that fails half-way leaves neither a truncated
    figure nor the temporary file; one that succeeds leaves only the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from plotting.figures import save_figure

    fig = plt.figure()
    fig.gca().plot([0, 1], [1, 0])
    save_figure(fig, str(tmp_path / "ok"), ["png"])
    assert [p.name for p in tmp_path.iterdir()] == ["ok.png"]

    def half_written(self, target, **kwargs):
        Path(target).write_bytes(b"\x89PNG partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="No space left"):
        save_figure(fig, str(tmp_path / "full"), ["png"])
    assert [p.name for p in tmp_path.iterdir()] == ["ok.png"]
    plt.close(fig)


def test_figures_across_benchmarks_drawn_in_a_worker_are_those_drawn_here(results, tmp_path):
    """The figures across benchmarks, planned again in a worker from the pickled normalised regret (what a
    worker does when it claims one before this process), are the files this process writes."""
    from plotting.figure_jobs import (
        ACROSS_BENCHMARKS,
        FigureOutput,
        FigureTask,
        FigureWorkers,
        write_planned_figure,
    )
    from plotting.study_figures import FigureOptions, single_objective_figures
    from plotting.style import study_styles
    from results.comparative import ComparativeResults

    comparative = ComparativeResults(str(results), tags=["so"])
    styles, options = study_styles(comparative.setups), FigureOptions(n_boot=40, n_grid=30, seed=1)
    across = [p for p in single_objective_figures(comparative, styles, options, []) if p.benchmark is None]
    assert [p.name for p in across] == ["normalised_regret", "average_rank", "benchmark_grid", "critical_difference"]
    here, there = FigureOutput(str(tmp_path / "here"), ("png", "pdf")), FigureOutput(str(tmp_path / "there"),
                                                                                      ("png", "pdf"))
    for planned in across:
        write_planned_figure(planned, here)
    with FigureWorkers(2) as workers:
        futures = [workers.submit(FigureTask(ACROSS_BENCHMARKS, (p.name,), styles, options, there, regret=p.regret))
                   for p in across]
        outcomes = [outcome for future in futures for outcome in future.result()]
    assert [o.name for o in outcomes] == [p.name for p in across]
    assert _assert_same_figures(tmp_path / "here", tmp_path / "there")
    assert not _workers()
