"""Transfer learning (issue 11): leave-one-task-out benchmarks, the transfer data the framework builds from the
other tasks only, the refusal of transfer methods elsewhere, and the four methods (ZERO-SHOT, BOUNDING-BOX,
ASHA-CTS, RUSH): their first suggestions from small hand-made other-task evaluations, runs through the simulator
and through ``arena sweep``. (The conformance check of every method is in tests/test_conformance.py.)
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _arena_cli import arena_sweep

from baselines.asynchronous_successive_halving import ASHA
from baselines.random_search import RandomSearcher
from baselines.registry import make_method, method_uses_transfer_data
from baselines.rush import RUSH
from baselines.scheduler import Decision
from baselines.transfer import TransferData
from baselines.zero_shot import greedy_portfolio
from benchmark_definitions.definitions import SimulatedBenchmark
from benchmark_definitions.registry import all_benchmarks, get_benchmark
from blackbox_repo.blackbox import TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace, Uniform
from launchers import experiment, transfer_data
from launchers.experiment import ExperimentSpec, build_scheduler, run_experiment
from launchers.method_checks import check_method_fits_benchmark
from launchers.transfer_data import TransferMismatch, build_transfer_data

REPO = Path(__file__).resolve().parents[1]
TRANSFER_METHODS = ["ZERO-SHOT", "BOUNDING-BOX", "ASHA-CTS", "RUSH"]
TARGET = "transfer-xgboost-sklearn-digits"
pytestmark = pytest.mark.timeout(300)


def _frames(rows: list[dict], values: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    return {task: pd.DataFrame(rows).assign(loss=v) for task, v in values.items()}


# ------------------------------------------------------------------------------------------------------------
# definitions
# ------------------------------------------------------------------------------------------------------------

def test_transfer_benchmarks_are_leave_one_task_out_variants_of_the_plain_ones():
    benchmarks = all_benchmarks()
    names = [n for n in benchmarks if n.startswith("transfer-")]
    assert {benchmarks[n].family for n in names} == {"transfer-xgboost-sklearn", "transfer-lcbench-ce",
                                                     "transfer-icml-xgboost"}
    assert len([n for n in names if n.startswith("transfer-lcbench-ce-")]) == 35
    bench = benchmarks["transfer-lcbench-ce-adult"]
    plain = benchmarks["lcbench-ce-adult"]
    assert bench.transfer and bench.source_tasks == [] and bench.restrict_to_table
    assert replace(bench, name=plain.name, transfer=False, family=plain.family,
                   description=plain.description) == plain
    assert not any(getattr(b, "transfer", False) for n, b in benchmarks.items() if not n.startswith("transfer-"))


def test_definitions_refuse_the_target_among_its_sources_and_sources_without_transfer():
    base = {"name": "t", "blackbox": "xgboost-sklearn", "task": "digits", "metric": "val_error", "mode": "min",
                "max_wallclock_time": 1.0}
    with pytest.raises(ValueError, match="target task 'digits' is among its own source_tasks"):
        SimulatedBenchmark(**base, transfer=True, source_tasks=["wine", "digits"])
    with pytest.raises(ValueError, match="source_tasks \\['wine'\\] are set but transfer is false"):
        SimulatedBenchmark(**base, source_tasks=["wine"])


# ------------------------------------------------------------------------------------------------------------
# leave-one-task-out isolation
# ------------------------------------------------------------------------------------------------------------

def test_transfer_data_holds_every_other_task_and_never_the_target(monkeypatch):
    from blackbox_repo import repository

    transfer_data._build.cache_clear()
    opened = []
    real = repository.load_blackbox

    def spy(name, root=None, task=None, **kwargs):
        opened.append(task)
        return real(name, root=root, task=task, **kwargs)

    monkeypatch.setattr(repository, "load_blackbox", spy)
    data = build_transfer_data(get_benchmark(TARGET))
    assert sorted(data.task_names) == ["breast_cancer", "diabetes", "wine"]
    assert "digits" not in opened  # the target's table is never even opened
    table = real("xgboost-sklearn", task="wine")
    wine = next(t for t in data.tasks if t.task == "wine")
    expected = np.nanmean(np.asarray(table.objectives[..., table.objective_index("val_error")], dtype=float), axis=1)
    np.testing.assert_allclose(wine.values, expected)  # seed means, every fidelity, to minimise
    explicit = replace(get_benchmark(TARGET), source_tasks=["wine"])
    assert build_transfer_data(explicit).task_names == ["wine"]
    with pytest.raises(ValueError, match="includes the target task"):
        TransferData("b", "wine", "m", "min", data.tasks)


def _poisoned_load(real, target: str):
    """``load_blackbox`` whose target task holds random values (what a method must not depend on)."""
    def load(name, root=None, task=None, **kwargs):
        table = real(name, root=root, task=task, **kwargs)
        if task != target:
            return table
        noise = np.random.default_rng(7).random(np.asarray(table.objectives).shape).astype(np.float32)
        return TabularBlackbox(table.hyperparameters, noise, table.configuration_space, table.objectives_names,
                               table.metadata, table.fidelity_name, table.fidelity_values, table.task)
    return load


@pytest.mark.parametrize("method", TRANSFER_METHODS)
def test_a_method_given_poisoned_target_values_proposes_exactly_the_same(method, monkeypatch):
    from blackbox_repo import repository

    def first_configs() -> list[dict]:
        experiment._load_task.cache_clear()
        transfer_data._build.cache_clear()
        scheduler = build_scheduler(ExperimentSpec(get_benchmark(TARGET), method, 0, 0, "t", "unused"))
        return [scheduler.suggest(i).config for i in range(20)]

    clean = first_configs()
    monkeypatch.setattr(repository, "load_blackbox", _poisoned_load(repository.load_blackbox, "digits"))
    poisoned = first_configs()
    experiment._load_task.cache_clear()
    transfer_data._build.cache_clear()
    assert poisoned == clean


# ------------------------------------------------------------------------------------------------------------
# refusal
# ------------------------------------------------------------------------------------------------------------

def test_a_transfer_method_is_refused_on_a_benchmark_without_transfer_data(tmp_path):
    assert all(method_uses_transfer_data(m) for m in TRANSFER_METHODS) and not method_uses_transfer_data("ASHA")
    plain = get_benchmark("xgboost-sklearn-digits")
    with pytest.raises(TransferMismatch, match="learns from the evaluations of other tasks.*transfer-\\*"):
        check_method_fits_benchmark("RUSH", plain)
    check_method_fits_benchmark("RUSH", get_benchmark(TARGET))
    spec = ExperimentSpec(plain, "ZERO-SHOT", 0, 0, "t", str(tmp_path / "results"))
    with pytest.raises(TransferMismatch):
        run_experiment(spec)
    assert not (tmp_path / "results").exists()
    with pytest.raises(ValueError, match="needs transfer data"):
        make_method("BOUNDING-BOX", SearchSpace({"x": Uniform(0, 1)}), "loss", "min", None, None, 0)


def test_arena_sweep_refuses_a_transfer_method_on_a_plain_benchmark_before_any_job(tmp_path):
    proc = arena_sweep(tmp_path, "method=RS,ZERO-SHOT", "benchmark=xgboost-sklearn-wine", "seed=0")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "method ZERO-SHOT learns from the evaluations of other tasks" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "results").exists()


def test_arena_sweep_runs_every_transfer_method_on_a_transfer_benchmark(tmp_path):
    bench = "transfer-xgboost-sklearn-wine"
    proc = arena_sweep(tmp_path, f"method={','.join(TRANSFER_METHODS)}", f"benchmark={bench}", "seed=0",
                        "tag=tr")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for method in TRANSFER_METHODS:
        folder = tmp_path / "results" / "tr" / bench / method / "0"
        assert json.loads((folder / "metadata.json").read_text())["status"] == "complete"
        assert len(pd.read_parquet(folder / "results.parquet")) > 0


# ------------------------------------------------------------------------------------------------------------
# the methods' first suggestions from hand-made other-task evaluations
# ------------------------------------------------------------------------------------------------------------

def test_zero_shot_picks_the_greedy_portfolio_not_the_best_average():
    space = SearchSpace({"a": Categorical([0, 1, 2, 3])})
    # normalised ranks per task (0 best): c0 (0, 2/3, 1), c1 (1/3, 1/3, 2/3), c2 (1, 0, 0), c3 (2/3, 1, 1/3)
    data = TransferData.from_frames(_frames([{"a": a} for a in range(4)], {
        "t1": [0.1, 0.2, 0.9, 0.5], "t2": [0.3, 0.2, 0.1, 0.9], "t3": [0.5, 0.4, 0.1, 0.2]}), "loss")
    # c2 has the best sum of ranks (1); then c0 covers t1 (sum 0); c1 and c3 add nothing: lower mean rank first.
    scheduler = make_method("ZERO-SHOT", space, "loss", "min", None, None, 0, transfer_data=data)
    assert [scheduler.suggest(i).config["a"] for i in range(4)] == [2, 0, 1, 3]
    assert greedy_portfolio(np.array([[0.0, 0.4], [1.0, 0.4]]), 1) == [1]  # sums 1.0 against 0.8
    # in "max" mode the values are negated, so the portfolio is built from the same ranks
    flipped = TransferData.from_frames(_frames([{"a": a} for a in range(4)], {
        "t1": [-0.1, -0.2, -0.9, -0.5], "t2": [-0.3, -0.2, -0.1, -0.9], "t3": [-0.5, -0.4, -0.1, -0.2]}),
        "loss", mode="max")
    scheduler = make_method("ZERO-SHOT", space, "loss", "max", None, None, 0, transfer_data=flipped)
    assert [scheduler.suggest(i).config["a"] for i in range(4)] == [2, 0, 1, 3]


def test_bounding_box_samples_only_inside_the_box_of_the_best_configurations():
    space = SearchSpace({"x": Uniform(0.0, 1.0), "c": Categorical(["a", "b", "c"])})
    rows = [{"x": 0.2, "c": "a"}, {"x": 0.6, "c": "b"}, {"x": 0.4, "c": "a"}, {"x": 0.9, "c": "c"}]
    data = TransferData.from_frames({
        "t1": pd.DataFrame(rows).assign(loss=[0.1, 0.5, 0.5, 0.9]),  # best: x=0.2, a
        "t2": pd.DataFrame(rows).assign(loss=[0.5, 0.1, 0.5, 0.9]),  # best: x=0.6, b
        "t3": pd.DataFrame(rows).assign(loss=[0.5, 0.5, 0.1, 0.9]),  # best: x=0.4, a
    }, "loss")
    scheduler = make_method("BOUNDING-BOX", space, "loss", "min", None, None, 0, transfer_data=data)
    configs = [scheduler.suggest(i).config for i in range(200)]
    xs = np.array([c["x"] for c in configs])
    assert xs.min() >= 0.2 and xs.max() <= 0.6 and xs.min() < 0.25 and xs.max() > 0.55
    assert {c["c"] for c in configs} == {"a", "b"}
    listed = [{"x": 0.1, "c": "a"}, {"x": 0.3, "c": "b"}, {"x": 0.5, "c": "a"}, {"x": 0.5, "c": "c"}]
    scheduler = make_method("BOUNDING-BOX", space, "loss", "min", None, None, 0, restrict_to=listed,
                            transfer_data=data)
    proposed = [scheduler.suggest(i) for i in range(5)]
    assert sorted(p.config["x"] for p in proposed[:2]) == [0.3, 0.5]  # inside the box first
    assert sorted(p.config["x"] for p in proposed[2:4]) == [0.1, 0.5] and proposed[4].kind == "done"


def test_asha_cts_proposes_where_every_task_is_good_whatever_each_task_s_scale():
    space = SearchSpace({"x": Uniform(0.0, 1.0)})
    grid = np.linspace(0.0, 1.0, 41)
    rows = [{"x": float(x)} for x in grid]

    def data(scales):
        return TransferData.from_frames(_frames(rows, {
            f"t{i}": list(scale * (grid - 0.3) ** 2 + i) for i, scale in enumerate(scales)}), "loss")

    def first(transfer):
        scheduler = make_method("ASHA-CTS", space, "loss", "min", "epoch", 9, 0, transfer_data=transfer)
        return [scheduler.suggest(i).config["x"] for i in range(5)]

    xs = first(data([1.0, 2.0, 3.0]))
    assert all(abs(x - 0.3) < 0.1 for x in xs), xs
    # the copula transform sees ranks only: rescaling a task by 1000 changes nothing
    assert first(data([1.0, 2.0, 3000.0])) == xs


def test_rush_evaluates_the_best_configurations_first_and_stops_trials_worse_than_them():
    space = SearchSpace({"a": Categorical([0, 1, 2, 3, 4, 5])})
    data = TransferData.from_frames(_frames([{"a": a} for a in range(4)], {
        "t1": [0.9, 0.1, 0.5, 0.5], "t2": [0.9, 0.5, 0.1, 0.5], "t3": [0.1, 0.5, 0.5, 0.5],
        "t4": [0.9, 0.5, 0.1, 0.5]}), "loss")  # t4's best (a=2) is t2's: evaluated once
    kwargs = {"fidelity_name": "epoch", "max_fidelity": 9, "seed": 0, "grace_period": 1, "reduction_factor": 3}
    rush = make_method("RUSH", space, "loss", "min", transfer_data=data, **kwargs)
    assert isinstance(rush, RUSH)
    assert [rush.suggest(i).config["a"] for i in range(3)] == [1, 2, 0]
    asha = ASHA(space, "loss", RandomSearcher(space, "loss", seed=0), fidelity_name="epoch", max_fidelity=9,
                grace_period=1, reduction_factor=3)
    for i in range(3):
        asha.suggest(i)
    # rung 1: warm starts report 0.5, 0.9, 0.95 (ASHA's 1/3 quantile is then 0.767); a new trial at 0.6 is
    # kept by ASHA but stopped by RUSH (worse than the best warm start, 0.5).
    for scheduler in (rush, asha):
        for trial, value in enumerate((0.5, 0.9, 0.95)):
            scheduler.on_result(trial, 1, {"loss": value, "epoch": 1})
        scheduler.suggest(3)
    assert asha.on_result(3, 1, {"loss": 0.6, "epoch": 1}) == Decision.CONTINUE
    assert rush.on_result(3, 1, {"loss": 0.6, "epoch": 1}) == Decision.STOP
    assert rush.thresholds == {1: 0.5}
    rush.suggest(4)
    assert rush.on_result(4, 1, {"loss": 0.4, "epoch": 1}) == Decision.CONTINUE


# ------------------------------------------------------------------------------------------------------------
# through the simulator
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", TRANSFER_METHODS)
def test_each_transfer_method_runs_through_the_simulator_and_repeats_bit_for_bit(method, tmp_path):
    frames = []
    for run in range(2):
        spec = ExperimentSpec(get_benchmark(TARGET), method, 3, 0, "t", str(tmp_path / f"r{run}"))
        frames.append(pd.read_parquet(Path(run_experiment(spec)) / "results.parquet"))
    assert len(frames[0]) > 20
    pd.testing.assert_frame_equal(frames[0], frames[1])


# ------------------------------------------------------------------------------------------------------------
# real data: LCBench curves, leave one task out
# ------------------------------------------------------------------------------------------------------------

SHARED = REPO.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "lcbench_curves").is_dir(), reason="needs ../shared/data/lcbench_curves")
def test_lcbench_leave_one_task_out_zero_shot_starts_with_the_best_sum_of_ranks(tmp_path):
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import load_blackbox

    tasks = ["adult", "higgs", "jannis", "volkert"]
    convert("lcbench-npz", SHARED / "lcbench_curves", tmp_path, tasks=tasks, progress=False)
    bench = get_benchmark("transfer-lcbench-ce-adult")
    data = build_transfer_data(bench, str(tmp_path))
    assert data.task_names == ["higgs", "jannis", "volkert"]
    # Independently: seed-mean final cross-entropy per source task, ranks per task, the lowest rank sum first.
    ranks = []
    for task in data.task_names:
        table = load_blackbox("lcbench-val-ce", root=str(tmp_path), task=task)
        final = np.nanmean(np.asarray(table.objectives[:, :, -1, table.objective_index(bench.metric)], float), axis=1)
        ranks.append(pd.Series(final).rank().to_numpy())
    first = int(np.argmin(np.sum(ranks, axis=0)))
    scheduler = build_scheduler(ExperimentSpec(bench, "ZERO-SHOT", 0, 0, "t", "unused", blackbox_root=str(tmp_path)))
    expected = load_blackbox("lcbench-val-ce", root=str(tmp_path), task="adult").all_configurations()[first]
    assert scheduler.suggest(0).config == expected
    results = pd.read_parquet(Path(run_experiment(ExperimentSpec(
        replace(bench, max_wallclock_time=200.0), "RUSH", 0, 0, "t", str(tmp_path / "results"),
        blackbox_root=str(tmp_path)))) / "results.parquet")
    assert len(results) > 0 and results[bench.metric].notna().all()
