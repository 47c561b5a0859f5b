"""benchmarks/peer_driver.py run in the peer's own interpreter (Syne Tune 0.13, ``HPO_ARENA_PEER13_PYTHON``):
the handling of a restricted table that runs out, and the thread cap. Skipped when that interpreter is not
installed (it is never a dependency of hpo-arena; README "Comparing with the peer" says how to install it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import peer_driver

PEER13 = os.environ.get("HPO_ARENA_PEER13_PYTHON", "")
needs_peer13 = pytest.mark.skipif(not Path(PEER13).is_file(),
                                  reason="Syne Tune 0.13 interpreter not installed (HPO_ARENA_PEER13_PYTHON)")

N_ROWS = 8


def _tiny_export(folder: Path) -> Path:
    """8 configurations of two continuous hyperparameters (the peer's table lookup needs two or more), 3
    fidelities; the error falls with x; a step takes 1 s to 3.8 s (by row), so trials end at different times."""
    folder.mkdir(parents=True)
    x = np.linspace(0.05, 0.95, N_ROWS)
    pd.DataFrame({"x": x, "y": x[::-1]}).to_parquet(folder / "hyperparameters.parquet", index=False)
    fidelities = [1, 2, 3]
    error = (1.0 - x)[:, None] / np.asarray(fidelities, dtype=float)[None, :]
    elapsed = (1.0 + 0.4 * np.arange(N_ROWS))[:, None] * np.arange(1, 4, dtype=float)[None, :]
    np.save(folder / "objectives.npy", np.stack([error, elapsed], axis=-1)[:, None])  # (rows, seeds, fid, obj)
    space = {"hyperparameters": [{"name": name, "type": "uniform", "lower": 0.0, "upper": 1.0} for name in "xy"]}
    meta = {"benchmark": "tiny", "task": "t", "metric": "error", "mode": "min", "objectives": ["error", "time"],
            "time_objective": "time", "fidelity_name": "epoch", "fidelity_values": fidelities, "space": space,
            "space_names": ["x", "y"], "time_scale": 1.0}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def _peer(*args: str) -> str:
    done = subprocess.run([PEER13, *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@needs_peer13
def test_peer_mobster_on_a_used_up_table_stops_proposing_and_lets_trials_finish(tmp_path):
    export = _tiny_export(tmp_path / "export")
    repository = tmp_path / "repository"
    _peer(str(BENCHMARKS / "peer_driver.py"), "serialize", str(export), str(repository))
    out = tmp_path / "run.json"
    spec = {"repository": str(repository), "export_dir": str(export), "benchmark": "tiny", "version": "0.13",
            "class": "MOBSTER", "kwargs": {"type": "stopping", "grace_period": 1, "reduction_factor": 3,
                                           "brackets": 1, "search_options": {"num_init_random": 3}},
            "multi_fidelity": True, "restrict": True, "max_resource_attr": "arena_max_fidelity", "seed": 0,
            "backend_seed": 1, "method_seed": 2, "n_workers": 2, "budget": 100.0, "tick": 0.1, "time_scale": 1.0,
            "out": str(out)}  # no "threads": the driver's default cap of one thread
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    _peer(str(BENCHMARKS / "peer_driver.py"), "run", str(tmp_path / "spec.json"))
    output = json.loads(out.read_text())
    # Every row was proposed once; the next (model-based) request found the table used up: one event, answered
    # with no configuration (the peer's own 'space exhausted' path), and the run ended normally.
    assert sorted(round(c["x"], 6) for c in output["configs"].values()) == \
        sorted(round(v, 6) for v in np.linspace(0.05, 0.95, N_ROWS))
    events = output["table_exhausted"]
    assert len(events) == 1
    assert events[0]["table_rows"] == N_ROWS and events[0]["proposed"] == N_ROWS
    assert output["suggest_kinds"] == {"new": N_ROWS, "none": 1}
    # The trial still running when the table ran out reported afterwards, and the run ended with the work, well
    # before the 100 s budget.
    times = output["results"]["sim_time"]
    assert len(times) > events[0]["results_so_far"] and max(times) > events[0]["last_result_time"]
    assert max(times) < spec["budget"] / 2
    # One BLAS thread in force for every library threadpoolctl sees.
    assert output["threads"] and all(lib["threads"] == 1 for lib in output["threads"])


@needs_peer13
def test_exhaustion_guard_lets_other_candidate_generator_errors_through(tmp_path):
    """The same ValueError with table rows not yet proposed is not an exhausted table: it propagates (as a
    RuntimeError naming the rows left), and an unrelated ValueError propagates unchanged."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(BENCHMARKS)!r})
        import numpy as np
        import peer_driver
        from syne_tune.optimizer.schedulers.searchers.bayesopt.tuning_algorithms.bo_algorithm_components import (
            RandomFromSetCandidateGenerator,
        )

        class Excluded:
            def __init__(self, xs): self.xs = set(xs)
            def contains(self, config): return config["x"] in self.xs
            def __len__(self): return len(self.xs)

        class Searcher:
            _restrict_configurations = [{{"x": 0.1}}]
            def _get_config_modelbased(self, exclusion_candidates, **kwargs):
                if kwargs.get("other"):
                    raise ValueError("something else")
                generator = RandomFromSetCandidateGenerator(self._restrict_configurations, np.random.RandomState(0))
                return generator.generate_candidates_en_bulk(5, exclusion_list=exclusion_candidates)

        class Scheduler:
            searcher = Searcher()

        table = [{{"x": 0.1}}, {{"x": 0.2}}]
        events, log = [], {{"trial_id": [3], "sim_time": [1.5]}}
        scheduler = Scheduler()
        assert peer_driver.guard_table_exhaustion(scheduler, table, events, log)
        try:
            scheduler.searcher._get_config_modelbased(exclusion_candidates=Excluded([0.1]))
        except RuntimeError as err:
            assert "1 of 2 table rows not proposed" in str(err), err
        else:
            raise AssertionError("a table with a row left was taken as used up")
        try:
            scheduler.searcher._get_config_modelbased(exclusion_candidates=Excluded([0.1, 0.2]), other=True)
        except ValueError as err:
            assert str(err) == "something else"
        else:
            raise AssertionError("an unrelated ValueError was swallowed")
        assert events == []
        assert scheduler.searcher._get_config_modelbased(exclusion_candidates=Excluded([0.1, 0.2]),
                                                         trial_id="9") is None
        assert events == [{{"trial_id": "9", "table_rows": 2, "proposed": 2, "results_so_far": 1,
                           "last_result_time": 1.5}}], events
        print("GUARD_OK")
    """)
    assert "GUARD_OK" in _peer("-c", script)


_BULK_MODULE = "syne_tune.optimizer.schedulers.searchers.bayesopt.tuning_algorithms.bo_algorithm_components"


class _RowsGenerator:
    """Stands in for Syne Tune 0.13's ``RandomFromSetCandidateGenerator`` (so the guard's logic is tested where the
    peer is not installed, as in CI): its bulk method fails on a used-up row list exactly as the peer's does,
    unpacking ``zip(*[])`` into two names."""

    def __init__(self, rows):
        self.rows = rows

    def generate_candidates_en_bulk(self, num_cands, exclusion_list):
        left = [(row, pos) for pos, row in enumerate(self.rows) if not exclusion_list.contains(row)][:num_cands]
        configs, _positions = zip(*left)
        return list(configs)


class _Excluded:
    def __init__(self, xs):
        self.xs = set(xs)

    def contains(self, config):
        return config["x"] in self.xs

    def __len__(self):
        return len(self.xs)


def test_exhaustion_guard_decides_from_where_the_error_arose_and_what_is_left(monkeypatch):
    """The guard in-process, with the peer's generator replaced by one failing the same way: a used-up table is
    answered with no configuration and recorded; the same error with rows left, and any other ValueError,
    propagate."""
    import types

    parts = _BULK_MODULE.split(".")
    for depth in range(1, len(parts) + 1):
        monkeypatch.setitem(sys.modules, ".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth])))
    sys.modules[_BULK_MODULE].RandomFromSetCandidateGenerator = _RowsGenerator

    class Searcher:
        def __init__(self):
            self._restrict_configurations = [{"x": 0.1}, {"x": 0.2}]

        def _get_config_modelbased(self, exclusion_candidates, **kwargs):
            if kwargs.get("other"):
                raise ValueError("something else")
            rows = self._restrict_configurations if kwargs.get("full", True) else []
            return _RowsGenerator(rows).generate_candidates_en_bulk(5, exclusion_list=exclusion_candidates)[0]

    scheduler = types.SimpleNamespace(searcher=Searcher())
    table = [{"x": 0.1}, {"x": 0.2}]
    events, log = [], {"trial_id": [3], "sim_time": [1.5]}
    assert peer_driver.guard_table_exhaustion(scheduler, table, events, log)
    assert scheduler.searcher._get_config_modelbased(exclusion_candidates=_Excluded([0.1])) == {"x": 0.2}
    with pytest.raises(RuntimeError, match="1 of 2 table rows not proposed"):  # the error, but a row is left
        scheduler.searcher._get_config_modelbased(exclusion_candidates=_Excluded([0.1]), full=False)
    with pytest.raises(ValueError, match="something else"):
        scheduler.searcher._get_config_modelbased(exclusion_candidates=_Excluded([0.1, 0.2]), other=True)
    assert events == []
    assert scheduler.searcher._get_config_modelbased(exclusion_candidates=_Excluded([0.1, 0.2]), trial_id="9") is None
    assert events == [{"trial_id": "9", "table_rows": 2, "proposed": 2, "results_so_far": 1,
                       "last_result_time": 1.5}]
    # A searcher that is not restricted to the table is left alone.
    assert not peer_driver.guard_table_exhaustion(types.SimpleNamespace(searcher=object()), table, [], log)


def test_driver_refuses_a_bad_thread_count(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"threads": 0}))  # checked before anything is read
    with pytest.raises(SystemExit, match="threads must be a positive integer"):
        peer_driver.run(spec)


def test_report_names_used_up_tables_and_runs_without_the_thread_record(tmp_path):
    import bench_methods as bm
    from bench_methods_peer import Entry, Export, peer_run_notes, settings_markdown
    from comparison_helpers import peer_clock

    from benchmark_definitions.registry import get_benchmark

    one_thread = [{"api": "blas", "library": "openblas", "threads": 1}]
    peers = {0: {"table_exhausted": [{"trial_id": "256"}], "threads": one_thread},  # used up, capped
             1: {"table_exhausted": [], "threads": one_thread},
             2: {"table_exhausted": []}}  # an earlier run: no thread record
    records = []
    for seed, peer in peers.items():
        folder = tmp_path / bm.TAG / "xgboost-sklearn-digits" / "ST0.13-MOBSTER" / str(seed)
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text(json.dumps({"peer": peer}))
        records.append(bm.RunRecord("xgboost-sklearn-digits", "ST0.13-MOBSTER", seed, 1.0, {}, np.empty(0)))
    records.append(bm.RunRecord("xgboost-sklearn-digits", "ST0.13-MOBSTER", 3, 1.0, {}, np.empty(0),
                                error="RuntimeError: timed out"))  # a failed run counts nowhere
    notes = peer_run_notes(records, tmp_path)
    assert (notes["ST0.13-MOBSTER"].runs, notes["ST0.13-MOBSTER"].exhausted,
            notes["ST0.13-MOBSTER"].one_thread) == (3, 1, 2)
    bench = get_benchmark("xgboost-sklearn-digits")
    export = Export(bench, tmp_path, peer_clock(np.ones((1, 1, 2)), 1.0), 256)
    text = "\n".join(settings_markdown([Entry("MOBSTER", "0.13"), Entry("DYHPO", "0.13")], [export], notes))
    mobster = next(line for line in text.splitlines() if line.startswith("| MOBSTER |"))
    dyhpo = next(line for line in text.splitlines() if line.startswith("| DYHPO |"))
    assert "table used up in 1 of 3 runs" in mobster and dyhpo.endswith("| none |")
    assert "2 of 3 peer runs here have that record" in text and "ST0.13-MOBSTER 1 of 3" in text
    assert "Used-up tables:" in text
