"""LCBench JSON converter: upstream nesting, values one by one, decisions (epochs, time, num_layers)."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.conversion.upstream_fixtures import LCBENCH_FIXED, lcbench_document, write_lcbench
from blackbox_repo.repository import load_blackbox

F32 = np.float32


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("lcbench") / "data_2k_lw.json"
    return path, write_lcbench(path, num_configs=6, seed=2)


def _config(cfg: dict) -> dict:
    keys = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout")
    out = {k: cfg[k] for k in keys}
    out["num_layers"] = 1 if cfg["num_layers"] is True else cfg["num_layers"]
    return out


def test_values_one_by_one(source):
    path, doc = source
    bbs = read("lcbench", path)
    assert list(bbs) == ["adult", "car"]
    bb = bbs["car"]
    assert bb.objectives_names[:7] == ["val_accuracy", "val_balanced_accuracy", "val_cross_entropy",
                                      "test_accuracy", "test_balanced_accuracy", "test_cross_entropy",
                                      "elapsed_time"]
    assert "gradient_norm" in bb.objectives_names and "epoch" not in bb.objectives_names
    assert bb.fidelity_values.tolist() == list(range(1, 51))
    tags = bb.metadata.extra["log_tags"]
    for task, bb in bbs.items():
        for cid, run in doc[task].items():
            row = bb.row(_config(run["config"]))
            assert row == int(cid)
            for tag, name in tags.items():
                oi = bb.objective_index(name)
                for e in (1, 25, 50):
                    want = run["log"][tag][e] - (run["log"]["time"][0] if tag == "time" else 0.0)
                    assert bb.objectives[row, 0, e - 1, oi] == F32(want)
    meta = bbs["adult"].metadata
    assert meta.default_metric == "val_accuracy" and meta.mode == "max"
    assert meta.objective_modes["val_cross_entropy"] == "min" and meta.time_objective == "elapsed_time"
    assert meta.extra["fixed_settings"] == LCBENCH_FIXED


def test_num_layers_true_is_one(source):
    path, doc = source
    bb = read("lcbench", path)["adult"]
    raw = [run["config"]["num_layers"] for run in doc["adult"].values()]
    stored = bb.hyperparameters["num_layers"].tolist()
    assert stored == [1 if v is True else v for v in raw]
    assert bb.hyperparameters["num_layers"].dtype == np.int64


def test_zip_input_and_repository(source, tmp_path):
    path, _ = source
    archive = tmp_path / "data_2k_lw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(path, "data_2k_lw.json")
    convert("lcbench", archive, tmp_path / "repo", progress=False)
    stored = load_blackbox("lcbench", root=str(tmp_path / "repo"), task="adult")
    np.testing.assert_array_equal(stored.objectives, read("lcbench", path)["adult"].objectives)


def test_bad_inputs(tmp_path):
    out = tmp_path / "repo"
    doc = lcbench_document(num_configs=3)
    doc["car"]["1"]["log"]["Train/val_accuracy"][7] = 180.0
    (tmp_path / "a.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="val_accuracy"):
        convert("lcbench", tmp_path / "a.json", out)
    doc = lcbench_document(num_configs=3)
    doc["car"]["2"]["log"]["Train/val_cross_entropy"] = [0.1] * 10
    (tmp_path / "b.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="config 2"):
        convert("lcbench", tmp_path / "b.json", out)
    doc = lcbench_document(num_configs=3)
    doc["car"]["0"]["config"]["batch_size"] += 1
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="differs"):
        convert("lcbench", tmp_path / "c.json", out)
    doc = lcbench_document(num_configs=3)
    del doc["adult"]["1"]["log"]["time"]
    (tmp_path / "d.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="time"):
        convert("lcbench", tmp_path / "d.json", out)
    (tmp_path / "e.json").write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        convert("lcbench", tmp_path / "e.json", out)
    assert not out.exists() or not any(out.iterdir())
