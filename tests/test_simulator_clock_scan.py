"""The simulator's table-wide "valid clock" scan is deferred; results are the same whenever it happens.

A short run checks each trial's cumulative-time curve on its own; a long one scans the table once (after
``table elements / _VALID_CLOCK_TRIAL_ELEMENTS`` curves). Curves that are not a valid clock (NaN steps, a negative
start, decreasing times, a replicate with no timing at all) must be repaired identically on both paths.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines.fifo import FIFOScheduler
from baselines.random_search import RandomSearcher
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers import simulator
from launchers.tuner import StoppingCriterion, Tuner


def _table() -> TabularBlackbox:
    rng = np.random.default_rng(5)
    n, s, f = 300, 2, 20
    epochs = np.arange(1, f + 1)
    objectives = np.zeros((n, s, f, 2), dtype=np.float32)
    objectives[..., 0] = rng.uniform(0, 1, size=(n, s, 1)) / epochs
    objectives[..., 1] = rng.uniform(1, 9, size=(n, s, 1)) * epochs
    time = objectives[..., 1]
    time[::7, 0, 5] = np.nan  # a NaN step (imputed)
    time[::11, 1, 3:6] -= 50.0  # decreasing cumulative time (no time passes)
    time[::13, 0, 0] = -1.0  # negative start
    time[::17, 0, :] = np.nan  # a replicate without timing: the other replicate's curve is used
    space = SearchSpace({"x": Categorical(list(range(n)))})
    meta = BlackboxMetadata("clock-scan", "loss", time_objective="time", time_is_cumulative=True)
    return TabularBlackbox(pd.DataFrame({"x": range(n)}), objectives, space, ["loss", "time"], meta,
                           fidelity_name="epoch", fidelity_values=epochs.tolist())


def _run(table: TabularBlackbox) -> pd.DataFrame:
    space = table.configuration_space
    scheduler = FIFOScheduler(space, "loss", RandomSearcher(space, "loss", seed=3), seed=3, fidelity_name="epoch",
                              max_fidelity=20, max_trials=400)
    backend = simulator.SimulatorBackend(table, n_workers=3, seed=3, nan_time="impute")
    results = Tuner(scheduler, backend, StoppingCriterion()).run()
    return pd.concat([results.to_frame(), results.trials_frame().add_prefix("trial.")], axis=1)


@pytest.mark.parametrize("elements_per_curve", [10**12, 100])
def test_deferred_clock_scan_gives_the_same_results(monkeypatch, elements_per_curve):
    table = _table()
    with monkeypatch.context() as patch:
        patch.setattr(simulator, "_VALID_CLOCK_MAX_ELEMENTS", 0)  # no scan at all: every curve checked on its own
        reference = _run(table)
    assert not simulator._VALID_CLOCK_ROWS.get(table)
    # 300 configurations x 2 seeds x 20 fidelities = 12,000 elements: scanned at the first curve, or after 120
    monkeypatch.setattr(simulator, "_VALID_CLOCK_TRIAL_ELEMENTS", elements_per_curve)
    frame = _run(table)
    assert simulator._VALID_CLOCK_ROWS.get(table)  # the scan happened during the run
    assert (reference["trial.status"] == "completed").sum() > 100
    pd.testing.assert_frame_equal(frame, reference)
