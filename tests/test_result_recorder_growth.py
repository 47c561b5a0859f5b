"""ResultRecorder buffers grow in place (or by copy when something else holds them) without changing a value,
and the rows beyond the used ones stay zero for the columns appends rely on ("continue", not final, no cost)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from launchers.simulator import SimulatorBackend
from launchers.tuner import ResultRecorder, StoppingCriterion, Tuner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _fill(recorder: ResultRecorder, rows: int) -> None:
    for i in range(rows):
        recorder.append_one(i // 3, float(i % 3 + 1), np.array([i, -2.0 * i]), 0.5 * i, 0.0, i % 4, i, i % 3,
                            None, i % 3 == 2)


def test_growth_keeps_rows_and_zero_tail():
    recorder = ResultRecorder(["a", "b"], capacity=16)
    _fill(recorder, 1000)
    assert recorder._capacity >= 1000
    assert recorder.view("trial_id").tolist() == [i // 3 for i in range(1000)]
    assert recorder.objectives[:1000, 1].tolist() == [-2.0 * i for i in range(1000)]
    finals = np.zeros(recorder._capacity, dtype=bool)
    finals[2:1000:3] = True
    # rows never written hold zero, in the used part and in the spare capacity alike
    assert np.array_equal(recorder.columns["final"], finals)
    assert not recorder.columns["decision"].any() and not recorder.columns["cost"].any()


def test_growth_copies_a_buffer_someone_else_holds():
    recorder = ResultRecorder(["a", "b"], capacity=16)
    _fill(recorder, 16)
    held = recorder.columns["sim_time"]  # e.g. a view kept by a caller: must stay valid
    before = held.copy()
    _fill(recorder, 1)
    assert recorder.columns["sim_time"] is not held
    assert np.array_equal(held, before)
    assert np.array_equal(recorder.view("sim_time")[:16], before)


def test_results_hold_only_the_written_columns():
    from bench_results_memory import METRIC, synthetic_table

    from baselines.registry import make_method

    table = synthetic_table(epochs=6)
    scheduler = make_method("ASHA", table.configuration_space, METRIC, "min", "epoch", 6.0, 0,
                            fidelity_values=table.fidelity_values.tolist(), grace_period=1, reduction_factor=2)
    results = Tuner(scheduler, SimulatorBackend(table, n_workers=4, seed=0),
                    StoppingCriterion(max_evaluations=500)).run()
    assert sorted(results.columns) == ["decision", "fidelity", "real_time", "sim_time", "trial_id", "worker"]
    assert results.n_results == 500 and all(len(c) == 500 for c in results.columns.values())
    assert results.objectives.shape == (500, 4)
    assert set(results.columns["decision"].tolist()) >= {0, 2}  # ASHA continued and stopped trials
