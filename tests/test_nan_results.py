"""Every registered method meets NaN results (a diverged or broken training run) through the simulator.

The defined semantics (``baselines/scheduler.py``): a NaN value of the metric counts as the worst value there
is. So, for each method and each mode,

* replacing every NaN of a table by the worst infinity (+inf when minimising, -inf when maximising) changes
  no decision, no trial and no configuration of the run;
* for methods whose searcher is random (all decisions come from ranking results), replacing NaN by a finite
  value worse than every other one changes nothing either.

New methods are picked up from the registry, so this is a conformance check for them as well.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baselines.registry import (
    list_methods,
    make_method,
    method_spec,
    method_transfers_checkpoints,
)
from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

N_CONFIGS, N_EPOCHS = 36, 9


def nan_table(fill: float, mode: str) -> TabularBlackbox:
    """A third of the configurations never yield a finite value; a sixth diverge from epoch 4 on."""
    xs = np.round(np.linspace(0.01, 0.99, N_CONFIGS), 4)
    sign = 1.0 if mode == "min" else -1.0
    objectives = np.zeros((N_CONFIGS, 1, N_EPOCHS, 2), dtype=np.float32)
    objectives[:, 0, :, 0] = sign * (xs[:, None] + 1.0 / np.arange(1, N_EPOCHS + 1)[None, :])
    objectives[:, 0, :, 1] = np.arange(1, N_EPOCHS + 1)
    rows = np.arange(N_CONFIGS)
    objectives[rows % 3 == 0, 0, :, 0] = fill
    objectives[rows % 6 == 1, 0, 3:, 0] = fill
    space = SearchSpace({"x": Categorical(xs.tolist())})
    meta = BlackboxMetadata("nan-table", "loss", time_objective="time", time_is_cumulative=True)
    return TabularBlackbox(pd.DataFrame({"x": xs}), objectives, space, ["loss", "time"], meta, "epoch",
                           list(range(1, N_EPOCHS + 1)))


def decisions(method: str, fill: float, mode: str) -> pd.DataFrame:
    table = nan_table(fill, mode)
    # Constrained methods (CBO) need a constraint: the time at the end (9 epochs) is always feasible here.
    constraint = {"metric": "time", "threshold": float(N_EPOCHS)} if method_spec(method).constrained else None
    # Multi-objective methods need a second objective: the time (epochs), which NaN never touches.
    extra = {"metrics": ["loss", "time"], "modes": [mode, "min"]} if method_spec(method).multi_objective else {}
    if method_spec(method).transfer_learning:  # other tasks' (finite) evaluations, best at the first 12 rows
        from baselines.transfer import TransferData

        xs = table.hyperparameters["x"]
        sources = {f"s{i}": pd.DataFrame({"x": xs, "loss": (xs - xs[i]) ** 2}) for i in range(12)}
        extra["transfer_data"] = TransferData.from_frames(sources, "loss")
    scheduler = make_method(method, table.configuration_space, "loss", mode, fidelity_name="epoch",
                            max_fidelity=N_EPOCHS, seed=0, fidelity_values=list(range(1, N_EPOCHS + 1)),
                            constraint=constraint, **extra)
    results = Tuner(scheduler, SimulatorBackend(table, n_workers=3, seed=0),
                    StoppingCriterion(max_evaluations=90)).run()
    frame = results.to_frame()
    if np.isnan(fill):
        assert frame.loss.isna().any()  # the NaN results are recorded as NaN
    return frame[["trial_id", "fidelity", "decision", "config.x"]]


# Methods that continue other trials' checkpoints (PBT) run on real training only, never on a table.
SIMULABLE = [m for m in list_methods() if not method_transfers_checkpoints(m)]


@pytest.mark.parametrize("method", SIMULABLE)
def test_nan_is_treated_as_the_worst_infinity(method):
    for mode, worst in (("min", np.inf), ("max", -np.inf)):
        with_nan = decisions(method, np.nan, mode)
        pd.testing.assert_frame_equal(with_nan, decisions(method, worst, mode), obj=f"{method} ({mode})")


@pytest.mark.parametrize("method", [m for m in SIMULABLE if method_spec(m).searcher == "random"])
def test_nan_ranks_below_every_finite_result(method):
    pd.testing.assert_frame_equal(decisions(method, np.nan, "min"), decisions(method, 1e6, "min"), obj=method)
