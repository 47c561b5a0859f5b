"""ICML-2020 offline evaluations: the real csv.zip tables load, values equal, bad inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blackbox_repo.conversion import InputError, convert, read

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "icml2020"


@pytest.fixture(scope="module")
def data():
    if not DATA.is_dir():
        pytest.skip(f"real ICML-2020 tables not available at {DATA}")
    return DATA


def test_xgboost_real(data):
    bbs = read("icml-xgboost", data / "XGBoost.csv.zip")
    raw = pd.read_csv(data / "XGBoost.csv.zip")
    assert len(bbs) == 10
    bb = bbs["heart"]
    assert bb.objectives.shape == (50000, 1, 1, 1)
    assert bb.metadata.extra["rows_evaluated_per_task"]["heart"] == 5000
    assert np.isfinite(bb.objectives[:, 0, 0, 0]).sum() == 5000
    row = raw[raw.task == "heart"].iloc[17]
    config = {c[3:]: row[c] for c in raw.columns if c.startswith("hp_")}
    config["max_depth_index"] = int(config["max_depth_index"])
    assert bb.evaluate(config)[0] == np.float32(row["metric_error"])


def test_deepar_real(data):
    bbs = read("icml-deepar", data)
    raw = pd.read_csv(data / "DeepAR.csv.zip")
    assert len(bbs) == 11
    bb = bbs["electricity"]
    assert bb.metadata.time_objective == "time"
    row = raw[raw.task == "electricity"].iloc[3]
    config = {"num_layers": round(np.exp(row.hp_num_layers)), "num_cells": round(np.exp(row.hp_num_cells)),
              "dropout_rate_log": row.hp_dropout_rate_log, "learning_rate_log": row.hp_learning_rate_log,
              "num_batches_per_epoch": round(np.exp(row.hp_num_batches_per_epoch_log)),
              "context_length_ratio_log": row.hp_context_length_ratio_log}
    got = bb.objective(config)
    assert got["CRPS"] == pytest.approx(np.float32(row.metric_CRPS)) and got["time"] == row.metric_time
    assert bb.metadata.extra["task_settings"]["electricity"]["prediction_length"] == row.dataset_prediction_length


def test_nasbench201_real(data):
    bbs = read("icml-nasbench201", data / "nas_bench102.csv.zip")
    assert list(bbs) == ["cifar100", "cifar10", "ImageNet16-120"]
    bb = bbs["cifar10"]
    assert bb.objectives.shape == (15625, 1, 1, 5) and not np.isnan(bb.objectives).any()
    config = {"edge_0_to_1": "avg_pool_3x3", "edge_0_to_2": "nor_conv_1x1", "edge_1_to_2": "skip_connect",
              "edge_0_to_3": "nor_conv_1x1", "edge_1_to_3": "skip_connect", "edge_2_to_3": "skip_connect"}
    got = bb.objective(config)
    assert got["test_accuracy"] == pytest.approx(86.18, abs=1e-4) and got["params"] == pytest.approx(0.129306)


def test_bad_inputs(tmp_path):
    out = tmp_path / "repo"
    frame = pd.DataFrame({"hp_x0": [0], "task": ["t"]})
    frame.to_csv(tmp_path / "nas_bench102.csv.zip", index=False)
    with pytest.raises(InputError, match="missing column"):
        convert("icml-nasbench201", tmp_path / "nas_bench102.csv.zip", out)
    xgb = pd.DataFrame({"hp_log2_min_child_weight": [0.0], "hp_subsample": [0.7], "hp_colsample_bytree": [0.5],
                        "hp_log2_gamma": [0.0], "hp_log2_lambda": [0.0], "hp_eta": [0.3], "hp_max_depth_index": [3],
                        "hp_log2_alpha": [0.0], "metric_error": [1.5], "blackbox": ["XGBoost"], "task": ["t"]})
    xgb.to_csv(tmp_path / "XGBoost.csv.zip", index=False)
    with pytest.raises(InputError, match="metric_error"):
        convert("icml-xgboost", tmp_path, out)
    xgb["metric_error"] = 0.2
    xgb["hp_subsample"] = 0.1
    xgb.to_csv(tmp_path / "XGBoost.csv.zip", index=False)
    with pytest.raises(InputError, match="subsample=0.1"):
        convert("icml-xgboost", tmp_path, out)
    assert not out.exists() or not any(out.iterdir())
