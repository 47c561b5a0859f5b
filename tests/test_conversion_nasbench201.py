"""NAS-Bench-201 converter: both upstream layouts, value by value, imputation, bad inputs."""
from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import numpy as np
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.conversion import nasbench201 as nb201
from blackbox_repo.conversion.upstream_fixtures import write_nasbench201
from blackbox_repo.repository import load_blackbox

F32 = np.float32
DROP = [(0, "cifar10", 888), (1, "cifar100", 777), (1, "cifar100", 999), (2, "cifar10-valid", 999)]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb201") / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    raw = write_nasbench201(path, num_archs=4, drop=DROP, seed=3)
    return path, raw


def _config(arch: str) -> dict:
    return dict(zip(nb201.EDGES, nb201.parse_arch_string(arch)))


def test_arch_string_round_trip():
    ops = ("avg_pool_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_1x1", "skip_connect", "skip_connect")
    s = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert nb201.parse_arch_string(s) == ops
    assert nb201.arch_string(ops) == s
    with pytest.raises(InputError, match="edge"):
        nb201.parse_arch_string("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_full_pickle_values_one_by_one(full):
    path, raw = full
    bbs = read("nasbench201", path)
    assert list(bbs) == ["cifar10", "cifar100", "ImageNet16-120"]
    col = {n: i for i, n in enumerate(nb201.OBJECTIVES)}
    for task, bb in bbs.items():
        assert bb.objectives.shape == (4, 3, 200, len(nb201.OBJECTIVES))
        assert bb.fidelity_values.tolist() == list(range(1, 201))
        for a, arch in enumerate(raw["meta_archs"]):
            row = bb.row(_config(arch))
            results = raw["arch2infos"][a]["200"]["all_results"]
            for si, seed in enumerate(nb201.SEEDS):
                res = results.get((task, seed))
                if res is None:
                    continue
                got = bb.objectives[row, si]
                for e in (0, 57, 199):
                    assert got[e, col["test_error"]] == F32(1 - res["eval_acc1es"][f"ori-test@{e}"] / 100)
                    assert got[e, col["test_loss"]] == F32(res["eval_losses"][f"ori-test@{e}"])
                    assert got[e, col["train_error"]] == F32(1 - res["train_acc1es"][e] / 100)
                    assert got[e, col["train_loss"]] == F32(res["train_losses"][e])
                    runtime = res["train_times"][e] + res["eval_times"][f"ori-test@{e}"]
                    assert got[e, col["runtime"]] == F32(runtime)
                    assert got[e, col["eval_time"]] == F32(res["eval_times"][f"ori-test@{e}"])
                    assert got[e, col["elapsed_time"]] == pytest.approx(runtime * (e + 1), rel=1e-6)
                    assert got[e, col["params"]] == F32(res["params"])
                    assert got[e, col["flops"]] == F32(res["flop"])
                    assert got[e, col["latency"]] == F32(res["latency"][0])
                if task == "cifar10":
                    valid = results.get(("cifar10-valid", seed))
                    if valid is not None:
                        assert got[5, col["valid_error"]] == F32(1 - valid["eval_acc1es"]["x-valid@5"] / 100)
                        assert got[5, col["valid_loss"]] == F32(valid["eval_losses"]["x-valid@5"])
                else:
                    assert np.isnan(got[:199, col["valid_error"]]).all()
                    assert got[199, col["valid_error"]] == F32(1 - res["eval_acc1es"]["x-valid@199"] / 100)


def test_missing_seeds_imputed_by_mean_of_available(full):
    path, raw = full
    bb = read("nasbench201", path)["cifar100"]
    row = bb.row(_config(raw["meta_archs"][1]))  # only seed 888 exists for cifar100
    only = raw["arch2infos"][1]["200"]["all_results"][("cifar100", 888)]
    expected = F32(1 - only["eval_acc1es"]["ori-test@10"] / 100)
    ti = bb.objective_index("test_error")
    assert bb.objectives[row, 0, 10, ti] == expected and bb.objectives[row, 2, 10, ti] == expected
    bb10 = read("nasbench201", path)["cifar10"]
    row = bb10.row(_config(raw["meta_archs"][0]))  # seed 888 missing for cifar10
    results = raw["arch2infos"][0]["200"]["all_results"]
    accs = [results[("cifar10", s)]["eval_acc1es"]["ori-test@3"] for s in (777, 999)]
    mean = np.mean([F32(1 - a / 100) for a in accs], dtype=np.float64)
    assert bb10.objectives[row, 1, 3, ti] == pytest.approx(mean, rel=1e-6)
    meta = bb10.metadata.extra["missing_seeds"]
    assert meta["cifar100"]["missing_entries"] == 2 and meta["cifar10"]["missing_entries"] == 1


def test_no_imputation_keeps_nan_but_costs_fall_back(full):
    path, raw = full
    bb = read("nasbench201", path, impute_missing_seeds=False)["cifar100"]
    row = bb.row(_config(raw["meta_archs"][1]))
    assert np.isnan(bb.objectives[row, 0, :, bb.objective_index("test_error")]).all()
    only = raw["arch2infos"][1]["200"]["all_results"][("cifar100", 888)]
    assert bb.objectives[row, 0, 0, bb.objective_index("params")] == F32(only["params"])
    assert bb.objectives[row, 0, 0, bb.objective_index("latency")] == F32(only["latency"][0])


def test_simple_layout_equals_full(tmp_path):
    write_nasbench201(tmp_path / "full.pickle.pbz2", num_archs=3, seed=9)
    write_nasbench201(tmp_path / "simple", num_archs=3, seed=9, layout="simple")
    a, b = read("nasbench201", tmp_path / "full.pickle.pbz2"), read("nasbench201", tmp_path / "simple")
    for task in a:
        np.testing.assert_array_equal(a[task].objectives, b[task].objectives)
        assert a[task].hyperparameters.equals(b[task].hyperparameters)


def test_convert_writes_repository_and_metadata(full, tmp_path):
    path, _ = full
    report = convert("nasbench201", path, tmp_path / "repo", progress=False)
    group = load_blackbox("nasbench201", root=str(tmp_path / "repo"))
    bb = group["ImageNet16-120"]
    assert bb.metadata.time_objective == "elapsed_time" and bb.metadata.seeds == [777, 888, 999]
    assert bb.metadata.default_metric == "test_error" and bb.metadata.mode == "min"
    assert report.shape == (4, 3, 200, 12)


def _write(path: Path, obj) -> None:
    with bz2.BZ2File(path, "wb") as fh:
        pickle.dump(obj, fh)


def test_bad_inputs_raise_and_write_nothing(tmp_path):
    out = tmp_path / "repo"
    with pytest.raises(InputError, match="not found"):
        convert("nasbench201", tmp_path / "absent.pbz2", out)
    bad = tmp_path / "bad.pickle.pbz2"
    _write(bad, {"meta_archs": ["x"], "total_archs": 1})
    with pytest.raises(InputError, match="arch2infos"):
        convert("nasbench201", bad, out)
    raw = write_nasbench201(tmp_path / "ok.pickle.pbz2", num_archs=2, seed=1)
    infos = raw["arch2infos"]
    infos[1]["200"]["all_results"][("cifar10", 777)]["train_acc1es"][4] = 140.0  # percent > 100
    _write(bad, {"meta_archs": raw["meta_archs"], "total_archs": 2, "arch2infos": infos})
    with pytest.raises(InputError, match="train_acc"):
        convert("nasbench201", bad, out)
    infos[1]["200"]["all_results"][("cifar10", 777)]["train_acc1es"][4] = 40.0
    del infos[1]["200"]["all_results"][("cifar10", 888)]["eval_times"]
    _write(bad, {"meta_archs": raw["meta_archs"], "total_archs": 2, "arch2infos": infos})
    with pytest.raises(InputError, match="eval_times"):
        convert("nasbench201", bad, out)
    simple = tmp_path / "simple"
    write_nasbench201(simple, num_archs=3, layout="simple")
    (simple / "000001.pickle.pbz2").unlink()
    with pytest.raises(InputError, match="missing"):
        convert("nasbench201", simple, out)
    assert not out.exists() or not any(out.iterdir())


def test_refuses_code_in_pickles(tmp_path):
    bad = tmp_path / "evil.pickle.pbz2"
    _write(bad, {"meta_archs": [Path("x")]})
    with pytest.raises(InputError, match="pathlib"):
        read("nasbench201", bad)
