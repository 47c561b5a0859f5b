"""Syne Tune's on-disk blackbox layout: (T, N, S, F, O) read back value by value, domains mapped, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.conversion.syne_tune import domain_from_syne_tune
from blackbox_repo.conversion.upstream_fixtures import write_syne_tune
from blackbox_repo.repository import load_blackbox
from blackbox_repo.search_space import Categorical, FiniteRange, Integer, LogUniform, Ordinal, Uniform


@pytest.fixture()
def folder(tmp_path):
    path = tmp_path / "my-fcnet"
    return path, write_syne_tune(path, seed=4)


def test_values_one_by_one(folder):
    path, raw = folder
    bbs = read("syne-tune", path)
    assert list(bbs) == raw["tasks"]
    hp = raw["hyperparameters"]
    for t, task in enumerate(raw["tasks"]):
        bb = bbs[task]
        assert bb.fidelity_name == "hp_epoch" and bb.fidelity_values.tolist() == [1, 2, 3]
        for i, config in enumerate(hp.to_dict("records")):
            row = bb.row(config)
            np.testing.assert_array_equal(bb.objectives[row], raw["objectives"][t, i])
    meta = bbs["task-0"].metadata
    assert meta.default_metric == "metric_valid_error" and meta.mode == "min"
    assert meta.objective_modes["metric_accuracy"] == "max" and meta.time_objective == "metric_elapsed_time"
    assert meta.extra["fixed_settings"] == {"hp_epochs_total": 100}
    space = bbs["task-0"].configuration_space
    assert isinstance(space["hp_batch_size"], FiniteRange) and space["hp_batch_size"].values() == [8, 16, 32, 64]
    assert isinstance(space["hp_lr"], LogUniform) and isinstance(space["hp_momentum"], Uniform)
    assert isinstance(space["hp_layers"], Integer) and isinstance(space["hp_activation"], Categorical)


def test_domain_mapping():
    assert domain_from_syne_tune("x", {"domain_cls": "Integer", "domain_kwargs": {"lower": 1, "upper": 9},
                                       "sampler_cls": "LogUniform", "sampler_kwargs": {}}, "w") == \
        Integer(1, 9, log=True)
    assert domain_from_syne_tune("x", {"domain_cls": "OrdinalNearestNeighbor",
                                       "domain_kwargs": {"categories": [1, 2, 4], "log_scale": True}}, "w") == \
        Ordinal([1, 2, 4])
    assert domain_from_syne_tune("x", 5, "w") is None
    with pytest.raises(InputError, match="ReverseLogUniform"):
        domain_from_syne_tune("x", {"domain_cls": "Float", "domain_kwargs": {"lower": 0.1, "upper": 0.9},
                                    "sampler_cls": "ReverseLogUniform"}, "w")


def test_convert_keeps_folder_name(folder, tmp_path):
    path, raw = folder
    convert("syne-tune", path, tmp_path / "repo", progress=False)
    bb = load_blackbox("my-fcnet", root=str(tmp_path / "repo"), task="task-1")
    np.testing.assert_array_equal(bb.objectives, raw["objectives"][1])


def test_bad_inputs(folder, tmp_path):
    path, raw = folder
    out = tmp_path / "repo"
    np.save(path / "objectives_evaluations.npy", raw["objectives"][:, :-1])
    with pytest.raises(InputError, match="axis 1"):
        convert("syne-tune", path, out)
    np.save(path / "objectives_evaluations.npy", raw["objectives"])
    space = dict(raw["configspace"])
    space["hp_layers"] = {"domain_cls": "Integer", "domain_kwargs": {"lower": 2, "upper": 3},
                          "sampler_cls": "Uniform", "sampler_kwargs": {}}
    (path / "configspace.json").write_text(json.dumps(space))
    if (raw["hyperparameters"]["hp_layers"].isin([1, 4])).any():
        with pytest.raises(InputError, match="hp_layers="):
            convert("syne-tune", path, out)
    (path / "fidelities_values.npy").unlink()
    with pytest.raises(InputError, match="fidelities_values.npy"):
        convert("syne-tune", path, out)
    assert not out.exists() or not any(out.iterdir())
