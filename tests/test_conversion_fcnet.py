"""FCNet converter: the four HDF5 files (h5py, upstream layout), values one by one, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("h5py")
import h5py

from blackbox_repo.conversion import (
    InputError,
    convert,
    fcnet,
    read,
)
from blackbox_repo.conversion.upstream_fixtures import fcnet_subgrid, write_fcnet
from blackbox_repo.repository import load_blackbox

F32 = np.float32


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("fcnet")
    configs = fcnet_subgrid(2)[:48]
    raw = write_fcnet(path, configs, seed=5)
    return path, raw


def test_values_one_by_one(folder):
    path, raw = folder
    bbs = read("fcnet", path)
    assert list(bbs) == list(fcnet.TASKS)
    for task, bb in bbs.items():
        assert bb.objectives.shape == (48, 4, 100, 6)
        assert bb.fidelity_values.tolist() == list(range(1, 101))
        for name, data in list(raw[task].items())[::7]:
            row = bb.row(json.loads(name))
            got = bb.objectives[row]
            for s in range(4):
                for e in (0, 41, 99):
                    assert got[s, e, 0] == F32(data["valid_loss"][s, e])
                    assert got[s, e, 1] == F32(data["train_loss"][s, e])
                    assert got[s, e, 2] == F32(data["final_test_error"][s])
                    assert got[s, e, 3] == F32(data["n_params"][s])
                    assert got[s, e, 4] == F32(data["runtime"][s] / 100)
                    assert got[s, e, 5] == F32(data["runtime"][s] * (e + 1) / 100)
    meta = bbs["slice_localization"].metadata
    assert meta.time_objective == "elapsed_time" and meta.default_metric == "valid_loss" and meta.mode == "min"


def test_rows_follow_sorted_group_names(folder):
    path, raw = folder
    bb = read("fcnet", path, tasks=["naval_propulsion"])["naval_propulsion"]
    names = sorted(raw["naval_propulsion"])
    assert [json.dumps(c, sort_keys=True) for c in bb.all_configurations()] == names


def test_convert_round_trip(folder, tmp_path):
    path, _ = folder
    convert("fcnet", path, tmp_path / "repo", progress=False)
    group = load_blackbox("fcnet", root=str(tmp_path / "repo"))
    direct = read("fcnet", path)
    np.testing.assert_array_equal(group["protein_structure"].objectives, direct["protein_structure"].objectives)


def test_bad_inputs(tmp_path):
    out = tmp_path / "repo"
    write_fcnet(tmp_path / "a", fcnet_subgrid(1), tasks=fcnet.TASKS[:3])
    with pytest.raises(InputError, match="missing file"):
        convert("fcnet", tmp_path / "a", out)
    configs = fcnet_subgrid(1) + [dict(fcnet_subgrid(1)[0], batch_size=16)]
    write_fcnet(tmp_path / "b", configs)
    with h5py.File(tmp_path / "b" / fcnet.file_name("slice_localization"), "a") as fh:
        del fh[json.dumps(configs[1], sort_keys=True)]
    with pytest.raises(InputError, match="differ from the first file"):
        convert("fcnet", tmp_path / "b", out)
    write_fcnet(tmp_path / "c", [dict(fcnet_subgrid(1)[0], batch_size=12)])
    with pytest.raises(InputError, match="batch_size=12"):
        convert("fcnet", tmp_path / "c", out)
    write_fcnet(tmp_path / "d", fcnet_subgrid(1), epochs=10)
    with h5py.File(tmp_path / "d" / fcnet.file_name("naval_propulsion"), "a") as fh:
        group = fh[json.dumps(fcnet_subgrid(1)[0], sort_keys=True)]
        del group["runtime"]
        group.create_dataset("runtime", data=np.zeros(3))
    with pytest.raises(InputError, match="runtime has shape"):
        convert("fcnet", tmp_path / "d", out)
    write_fcnet(tmp_path / "e", fcnet_subgrid(1), epochs=10)
    with h5py.File(tmp_path / "e" / fcnet.file_name("protein_structure"), "a") as fh:
        group = fh[json.dumps(fcnet_subgrid(1)[0], sort_keys=True)]
        group["valid_loss"][0, 3] = -1.0
    with pytest.raises(InputError, match="outside"):
        convert("fcnet", tmp_path / "e", out)
    assert not out.exists() or not any(out.iterdir())
