"""results.parquet from the column buffers: byte-identical to the pandas route, rows in report order."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from baselines.asynchronous_successive_halving import ASHA
from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from blackbox_repo.blackbox import BlackboxMetadata, FunctionBlackbox
from blackbox_repo.search_space import Categorical, Integer, SearchSpace, Uniform
from launchers.results_writer import _parquet_bytes, _table_parquet_bytes
from launchers.simulator import SimulatorBackend
from launchers.tuner import ResultRecorder, StoppingCriterion, Tuner

SPACE = SearchSpace({"lr": Uniform(0.0, 1.0), "opt": Categorical(["sgd", "adam", "rmsprop"]),
                     "layers": Integer(1, 4)})


def _blackbox():
    def fn(config, fidelity, seed):
        loss = config["lr"] / fidelity + 0.1 * config["layers"]
        if config["opt"] == "rmsprop" and fidelity >= 3:
            loss = math.nan  # diverged runs: NaN results must survive the trip
        return [loss, float(fidelity) * (1 + config["lr"])]

    meta = BlackboxMetadata("toy", "loss", time_objective="time", time_is_cumulative=True)
    return FunctionBlackbox(fn, SPACE, ["loss", "time"], meta, fidelity_name="epoch",
                            fidelity_values=list(range(1, 10)))


class _TaggingSearcher(RandomSearcher):
    """Adds a configuration name outside the space to some trials only (the rest write None for it)."""

    def _suggest(self, trial_id):
        config = super()._suggest(trial_id)
        if trial_id % 3 == 0:
            config = {**config, "note": f"t{trial_id}"}
        return config


def _run(kind: str, stop: StoppingCriterion):
    if kind == "rs":
        scheduler = FIFOScheduler(SPACE, "loss", RandomSearcher(SPACE, "loss", seed=3), seed=3,
                                  fidelity_name="epoch", max_fidelity=9)
    elif kind == "tagged":
        scheduler = FIFOScheduler(SPACE, "loss", _TaggingSearcher(SPACE, "loss", seed=4), seed=4,
                                  fidelity_name="epoch", max_fidelity=9)
    else:
        scheduler = ASHA(SPACE, "loss", seed=5, fidelity_name="epoch", max_fidelity=9, variant=kind,
                         brackets=None)
    return Tuner(scheduler, SimulatorBackend(_blackbox(), n_workers=3, seed=2), stop).run()


@pytest.mark.parametrize("kind", ["rs", "tagged", "promotion", "stopping"])
@pytest.mark.parametrize("stop", [StoppingCriterion(max_trials_started=40), StoppingCriterion(max_evaluations=157),
                                  StoppingCriterion(max_wallclock_time=60.0)])
def test_results_table_writes_the_bytes_of_the_pandas_route(kind, stop):
    results = _run(kind, stop)
    assert results.n_results > 20
    table = results.to_table()
    assert table.equals(pa.Table.from_pandas(results.to_frame(), preserve_index=False), check_metadata=True)
    assert _table_parquet_bytes(table) == _parquet_bytes(results.to_frame())
    if kind == "tagged":
        assert "config.note" in table.column_names and table.column("config.note").null_count > 0
    if kind == "promotion":
        assert set(table.column("decision").to_pylist()) == {"continue", "pause"}


def test_empty_results_table_matches_too():
    results = _run("rs", StoppingCriterion(max_evaluations=0))
    assert results.n_results == 0
    assert _table_parquet_bytes(results.to_table()) == _parquet_bytes(results.to_frame())


def test_collected_columns_are_in_event_key_order_whatever_the_append_order():
    rng = np.random.default_rng(0)
    recorder = ResultRecorder(["loss"], capacity=16)
    keys = [(float(rng.integers(0, 5)), int(rng.integers(0, 4)), int(step)) for step in range(60)]
    for i, (t, segment, step) in enumerate(keys):
        recorder.append_one(i, 1.0, np.array([float(i)]), t, 0.0, 0, segment, step, None, False)
    expected = np.lexsort(([k[2] for k in keys], [k[1] for k in keys], [k[0] for k in keys]))
    columns, objectives = Tuner._columns_in_report_order(recorder)
    assert columns["trial_id"].tolist() == expected.tolist()
    assert objectives[:, 0].tolist() == [float(i) for i in expected]
    assert all(len(column) == 60 for column in columns.values())

    in_order = ResultRecorder(["loss"], capacity=16)
    for i, (t, segment, step) in enumerate(sorted(keys)):
        in_order.append_one(i, 1.0, np.array([float(i)]), t, 0.0, 0, segment, step, None, False)
    columns, objectives = Tuner._columns_in_report_order(in_order)
    assert columns["trial_id"].tolist() == list(range(60)) and objectives.shape == (60, 1)
    assert objectives[:, 0].tolist() == [float(i) for i in range(60)]
    # the buffers (capacity 64 after growth) were trimmed to the used rows, not left as views of larger ones
    assert all(column.base is None and column.shape == (60,) for column in columns.values())


@pytest.mark.parametrize("kind", ["rs", "stopping", "tagged"])
def test_tables_of_a_repeated_experiment_skip_pandas_and_keep_the_bytes(kind, monkeypatch):
    """The second experiment with the same columns builds results.parquet and trials.parquet from Arrow arrays
    with the kept schema (no pandas frame at all), byte-identical to the pandas route; a config column of mixed
    values ("tagged": a str for some trials, None for the rest) always goes through pandas."""
    import launchers.tuner as tuner_module

    monkeypatch.setattr(tuner_module, "_ARROW_SCHEMAS", {})
    first = _run(kind, StoppingCriterion(max_evaluations=157))
    first_tables = (first.to_table(), first.trials_table())
    cached = len(tuner_module._ARROW_SCHEMAS)
    assert cached == (0 if kind == "tagged" else 2)
    second = _run(kind, StoppingCriterion(max_wallclock_time=60.0))
    expected = (_parquet_bytes(second.to_frame()), _parquet_bytes(second.trials_frame()))
    if kind != "tagged":
        def no_pandas(*args, **kwargs):
            raise AssertionError("the kept schema should have been used")

        monkeypatch.setattr(tuner_module.Results, "to_frame", no_pandas)
        monkeypatch.setattr(tuner_module.Results, "trials_frame", no_pandas)
    got = (_table_parquet_bytes(second.to_table()), _table_parquet_bytes(second.trials_table()))
    assert got == expected
    assert first_tables[0].schema.equals(second.to_table().schema, check_metadata=True)
    assert len(tuner_module._ARROW_SCHEMAS) == cached


def test_trials_table_keeps_nulls_of_times_errors_and_checkpoint_sources(monkeypatch):
    import launchers.tuner as tuner_module

    monkeypatch.setattr(tuner_module, "_ARROW_SCHEMAS", {})
    for _ in range(2):  # the second goes through the kept schema
        results = _run("rs", StoppingCriterion(max_evaluations=60))
        results.trials[1].checkpoint_from = 0
        results.trials[2].error = "ValueError: diverged"
        results.trials[-1].ended_at = math.nan
        table = results.trials_table()
        assert _table_parquet_bytes(table) == _parquet_bytes(results.trials_frame())
    assert table.column("checkpoint_from").to_pylist()[:3] == [None, 0, None]
    assert table.column("ended_at").null_count >= 1
    assert table.column("error").to_pylist()[2] == "ValueError: diverged"
