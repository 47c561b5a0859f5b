"""TabularBlackbox: lookups, shapes, errors naming the closest choices, float tolerance, NaN, one column."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from blackbox_repo.blackbox import BlackboxLookupError, BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, Integer, LogUniform, SearchSpace, Uniform

OPS = ["conv", "pool", "skip"]


@pytest.fixture
def table() -> TabularBlackbox:
    """3 ops x 4 depths x 3 lrs = 36 rows; value of (row, seed, fidelity, objective) = 1000 r + 100 s + 10 f + o."""
    space = SearchSpace({"op": Categorical(OPS), "depth": Integer(1, 4), "lr": LogUniform(1e-3, 1.0)})
    rows = [{"op": o, "depth": d, "lr": lr} for o in OPS for d in (1, 2, 3, 4) for lr in (0.001, 0.1, 0.3)]
    r, s, f, o = np.meshgrid(np.arange(36), np.arange(2), np.arange(3), np.arange(2), indexing="ij")
    values = (1000 * r + 100 * s + 10 * f + o).astype(np.float32)
    values[5, 1, 2, 0] = np.nan
    meta = BlackboxMetadata(name="toy", default_metric="error", time_objective="time")
    return TabularBlackbox(pd.DataFrame(rows), values, space, ["error", "time"], meta, "epoch", [1, 5, 25], "t")


def test_lookups_and_shapes(table):
    cfg = {"op": "pool", "depth": 2, "lr": 0.1}  # row 1*12 + 1*3 + 1 = 16
    assert table.row(cfg) == 16
    assert table.evaluate(cfg, 5, 1).tolist() == [16110.0, 16111.0]
    assert table.evaluate(cfg, seed=1).shape == (3, 2)
    assert table.evaluate(cfg, 25, seed=None).tolist() == [[16020.0, 16021.0], [16120.0, 16121.0]]
    assert table.evaluate(cfg, seed=None).shape == (2, 3, 2)
    assert table.objective(cfg) == {"error": 16020.0, "time": 16021.0}  # largest fidelity, seed 0
    batch = [cfg, {"op": "conv", "depth": 1, "lr": 0.001}]
    assert table.evaluate_batch(batch, 1).tolist() == [[16000.0, 16001.0], [0.0, 1.0]]
    assert table.evaluate_batch(batch).shape == (2, 3, 2)
    assert table.evaluate_batch(batch, seed=None).shape == (2, 2, 3, 2)
    assert table.evaluate_rows(np.array([16, 0]), 2, 1).tolist() == [[16120.0, 16121.0], [120.0, 121.0]]
    frame = pd.DataFrame(batch + [{"op": "conv", "depth": 9, "lr": 0.1}])
    assert table.rows(frame, missing="ignore").tolist() == [16, 0, -1]


def test_float32_and_rounding_inputs_match(table):
    assert table.row({"op": "conv", "depth": 1, "lr": np.float32(0.1)}) == 1
    assert table.row({"op": "conv", "depth": 1, "lr": 0.1 + 0.2}) == 2  # 0.30000000000000004
    assert table.row({"op": "conv", "depth": np.int32(3), "lr": 0.001}) == 6
    assert table.row({"op": "conv", "depth": 3.0, "lr": 0.001}) == 6
    assert table.rows([{"op": "skip", "depth": 4, "lr": np.float32(0.3)}]).tolist() == [35]


def test_nan_entries(table):
    assert np.isnan(table.evaluate({"op": "conv", "depth": 2, "lr": 0.3}, 25, 1)[0])
    # seed means at the last fidelity are 1000 r + 70; row 5 lacks seed 1 there, so its mean is 5020
    assert table.best_value("error", "min") == 70.0
    assert table.best_value("error", "max") == 35070.0
    nan_values = table.objectives.copy()
    nan_values[:, :, -1, 0] = np.nan
    nan_values[7, 0, -1, 0] = 3.0
    assert table.with_objectives(nan_values).best_value("error", "min") == 3.0


def test_nan_hyperparameter_matches_nan():
    space = SearchSpace({"kind": Categorical(["a", "b"]), "gamma": Uniform(0.0, 1.0)})
    hp = pd.DataFrame({"kind": ["a", "b", "b"], "gamma": [np.nan, 0.5, 0.25]})  # gamma inactive for 'a'
    values = np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1)
    bb = TabularBlackbox(hp, values, space, ["y"], BlackboxMetadata(name="cond", default_metric="y"))
    assert bb.row({"kind": "a", "gamma": float("nan")}) == 0
    assert bb.rows([{"kind": "a", "gamma": np.nan}, {"kind": "b", "gamma": 0.25}]).tolist() == [0, 2]
    assert bb.objective({"kind": "b", "gamma": 0.5}) == {"y": 1.0}


def test_single_hyperparameter_table():
    space = SearchSpace({"width": Integer(8, 64, log=True)})
    hp = pd.DataFrame({"width": [8, 16, 32, 64]})
    values = np.array([4.0, 3.0, 2.0, 1.0], dtype=np.float32).reshape(4, 1, 1, 1)
    bb = TabularBlackbox(hp, values, space, ["loss"], BlackboxMetadata(name="one", default_metric="loss"))
    assert bb.row({"width": 32}) == 2
    assert bb.evaluate_batch([{"width": 64}, {"width": 8}]).tolist() == [[1.0], [4.0]]
    assert bb.rows(pd.DataFrame({"width": [16, 17]}), missing="ignore").tolist() == [1, -1]
    with pytest.raises(BlackboxLookupError, match=r"width=40 does not occur in the table \(nearest values: 32, 64\)"):
        bb.row({"width": 40})


def test_unknown_objective_fidelity_seed(table):
    with pytest.raises(BlackboxLookupError, match=r"unknown objective 'eror'; did you mean 'error'"):
        table.objective_index("eror")
    with pytest.raises(BlackboxLookupError, match=r"fidelity epoch=6 .*closest valid: 1, 5, 25"):
        table.evaluate({"op": "conv", "depth": 1, "lr": 0.001}, 6)
    with pytest.raises(BlackboxLookupError, match=r"valid seeds are 0..1"):
        table.evaluate({"op": "conv", "depth": 1, "lr": 0.001}, 5, seed=2)
    with pytest.raises(BlackboxLookupError, match=r"lacks hyperparameters \['lr'\]"):
        table.row({"op": "conv", "depth": 1})


def test_misspelt_category_names_closest_rows(table):
    with pytest.raises(BlackboxLookupError) as err:
        table.row({"op": "pol", "depth": 2, "lr": 0.1})
    message = str(err.value)
    assert "op='pol' does not occur in the table; did you mean 'pool'?" in message
    assert "outside the domain Categorical" in message
    # the closest row differs only in op, and the closer spelling comes first
    assert "Closest configurations in the table: {'op': 'pool', 'depth': 2, 'lr': 0.1} (differs in op)" in message


def test_out_of_domain_number_and_wrong_type(table):
    with pytest.raises(BlackboxLookupError) as err:
        table.evaluate({"op": "skip", "depth": 9, "lr": 0.3}, 5)
    message = str(err.value)
    assert "depth=9 does not occur in the table (nearest values: 3, 4)" in message
    assert "{'op': 'skip', 'depth': 4, 'lr': 0.3} (differs in depth)" in message
    with pytest.raises(BlackboxLookupError) as err:
        table.rows([{"op": "conv", "depth": 1, "lr": "fast"}])
    message = str(err.value)
    assert "lr='fast' is not a number" in message
    assert "Closest configurations in the table: {'op': 'conv', 'depth': 1, 'lr': 0.001} (differs in lr)" in message


def test_value_between_table_values_uses_log_scale(table):
    # lr is log-uniform: from 0.02, 0.1 (ratio 5) and 0.3 (ratio 15) are nearer than 0.001 (ratio 20) in log
    # space, though 0.001 is the nearest linearly
    with pytest.raises(BlackboxLookupError) as err:
        table.row({"op": "conv", "depth": 1, "lr": 0.02})
    assert ("Closest configurations in the table: {'op': 'conv', 'depth': 1, 'lr': 0.1} (differs in lr); "
            "{'op': 'conv', 'depth': 1, 'lr': 0.3} (differs in lr)") in str(err.value)
