"""The embedded xgboost-sklearn benchmark: its generator (tiny runs) and the committed table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blackbox_repo.embedded import EMBEDDED_ROOT, XGBOOST_SKLEARN_NAME, embedded_names
from blackbox_repo.embedded import generate_xgboost_sklearn as gen
from blackbox_repo.repository import load_blackbox

COMMITTED = EMBEDDED_ROOT / XGBOOST_SKLEARN_NAME
REPO_ROOT = Path(__file__).resolve().parents[1]
NON_TIME = slice(0, 3)  # val_error, val_loss, train_error
TINY = gen.GenerationSettings(n_configs=3, n_rounds=5, n_seeds=2, datasets=("wine",), n_jobs=1, clock="wall")


@pytest.fixture(scope="module")
def tiny_runs():
    return gen.generate(TINY), gen.generate(TINY)


@pytest.fixture
def isolated_repository(tmp_path, monkeypatch):
    """An empty default root and cache, so only the embedded folder can answer."""
    monkeypatch.setenv("HPO_ARENA_REPOSITORY", str(tmp_path / "repo"))
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def committed(isolated_repository):
    return load_blackbox(XGBOOST_SKLEARN_NAME)


# --- generator ------------------------------------------------------------------------------------------


def test_round_significant_hand_values():
    assert gen.round_significant(0.0123456) == 0.0123
    assert gen.round_significant(123456.0) == 123000.0
    assert gen.round_significant(0.99951) == 1.0
    assert gen.round_significant(7.0) == 7.0


def test_configurations_are_rounded_members_and_prefix_stable():
    space = gen.configuration_space()
    big = gen.sample_configurations(20, seed=0)
    small = gen.sample_configurations(4, seed=0)
    assert small.equals(big.iloc[:4])  # row i depends only on (seed, i)
    assert not gen.sample_configurations(4, seed=1).equals(small)
    assert big["max_depth"].dtype == np.int64
    for rec in big.to_dict("records"):
        assert space.contains(rec)
        for name, v in rec.items():
            if name != "max_depth":
                assert float(f"{v:.3g}") == v


def test_settings_reject_bad_input():
    with pytest.raises(ValueError, match="unknown datasets.*california"):
        gen.GenerationSettings(datasets=("california",))
    with pytest.raises(ValueError, match="n_rounds must be >= 1"):
        gen.GenerationSettings(n_rounds=0)
    with pytest.raises(ValueError, match="clock must be one of"):
        gen.GenerationSettings(clock="gpu")
    with pytest.raises(SystemExit):
        gen.main(["--datasets", "iris"])


def test_split_is_stratified_and_fixed():
    split = gen.load_split("wine", 0)
    assert (len(split.y_train), len(split.y_val)) == (124, 54)
    full = np.concatenate([split.y_train, split.y_val])
    for c in range(3):  # stratified: each class's validation share is within one row of 30 %
        assert abs((split.y_val == c).sum() - 0.3 * (full == c).sum()) <= 1
    reg = gen.load_split("diabetes", 0)
    assert abs(reg.y_train.mean()) < 1e-5 and abs(reg.y_train.std() - 1) < 1e-5  # standardised on train
    assert gen.load_split.__wrapped__("wine", 0).y_val.tobytes() == split.y_val.tobytes()


def test_tiny_generation_is_deterministic_apart_from_time(tiny_runs):
    a, b = tiny_runs
    oa, ob = a["wine"].objectives, b["wine"].objectives
    assert oa.shape == (3, 2, 5, 4) and oa.dtype == np.float32
    assert oa[..., NON_TIME].tobytes() == ob[..., NON_TIME].tobytes()
    times = oa[..., 3]
    assert (times > 0).all() and (np.diff(times, axis=-1) > 0).all()
    assert not np.isnan(oa).any()
    assert a["wine"].fidelity_values.tolist() == [1, 2, 3, 4, 5]


def test_clock_changes_only_the_times(tiny_runs):
    cpu = gen.generate(gen.GenerationSettings(n_configs=3, n_rounds=5, n_seeds=2, datasets=("wine",), n_jobs=1,
                                              clock="cpu"))["wine"]
    assert cpu.objectives[..., NON_TIME].tobytes() == tiny_runs[0]["wine"].objectives[..., NON_TIME].tobytes()
    times = cpu.objectives[..., 3]
    assert (times > 0).all() and (np.diff(times, axis=-1) > 0).all()
    assert "time.process_time" in cpu.metadata.description
    assert "time.perf_counter" in tiny_runs[0]["wine"].metadata.description


def test_seed_changes_only_subsampling():
    base = {"learning_rate": 0.3, "max_depth": 3, "min_child_weight": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.001}
    s1, s2 = gen.GenerationSettings(n_seeds=2).xgboost_seeds
    full = dict(base, subsample=1.0, colsample_bytree=1.0)
    a, b = (gen.train_curve("breast_cancer", full, s, 8)[:, NON_TIME] for s in (s1, s2))
    np.testing.assert_array_equal(a, b)  # nothing random left: replicates coincide
    sub = dict(base, subsample=0.5, colsample_bytree=0.5)
    a, b = (gen.train_curve("breast_cancer", sub, s, 8)[:, NON_TIME] for s in (s1, s2))
    assert not np.array_equal(a, b)


def test_command_line_in_parallel_writes_the_same_values(tiny_runs, tmp_path):
    """The documented command (a subprocess, 2 worker processes) reproduces the in-process serial run."""
    cmd = [sys.executable, "-m", "blackbox_repo.embedded.generate_xgboost_sklearn", "--out", str(tmp_path),
           "--n-configs", "3", "--n-rounds", "5", "--n-seeds", "2", "--datasets", "wine", "--n-jobs", "2",
           "--quiet"]
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    group = load_blackbox(XGBOOST_SKLEARN_NAME, root=str(tmp_path), cache_dir=tmp_path / "cache")
    assert list(group) == ["wine"]
    stored = np.asarray(group["wine"].objectives)
    assert stored[..., NON_TIME].tobytes() == tiny_runs[0]["wine"].objectives[..., NON_TIME].tobytes()
    assert group["wine"].metadata.extra["settings"]["n_jobs"] == 2


def test_main_rejects_bad_arguments_and_writes_several_tasks(tmp_path):
    with pytest.raises(SystemExit):
        gen.main(["--n-configs", "0"])
    assert gen.main(["--out", str(tmp_path), "--n-configs", "2", "--n-rounds", "3", "--n-seeds", "1",
                     "--datasets", "diabetes", "breast_cancer", "--n-jobs", "1", "--quiet"]) == 0
    group = load_blackbox(XGBOOST_SKLEARN_NAME, root=str(tmp_path), cache_dir=tmp_path / "cache")
    assert list(group) == ["diabetes", "breast_cancer"]
    assert group["diabetes"].objectives.shape == (2, 1, 3, 4)
    assert group["diabetes"].metadata.extra["tasks"]["diabetes"]["kind"] == "regression"


# --- the committed table --------------------------------------------------------------------------------


def test_committed_folder_is_small_and_found_by_name(isolated_repository):
    assert XGBOOST_SKLEARN_NAME in embedded_names()
    size = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert size <= 4 * 1024 * 1024, f"embedded benchmark is {size / 2**20:.2f} MiB"
    group = load_blackbox(XGBOOST_SKLEARN_NAME)
    assert list(group) == ["breast_cancer", "digits", "wine", "diabetes"]
    assert load_blackbox(XGBOOST_SKLEARN_NAME, task="wine").task == "wine"


def test_committed_shapes_objectives_and_metadata(committed):
    for task, bb in committed.items():
        assert bb.objectives.shape == (256, 3, 64, 4)
        assert bb.objectives_names == ["val_error", "val_loss", "train_error", "elapsed_time"]
        assert bb.fidelity_name == "boosting_round"
        assert bb.fidelity_values.tolist() == list(range(1, 65))
        md = bb.metadata
        assert (md.default_metric, md.mode, md.time_objective, md.time_is_cumulative) == \
               ("val_error", "min", "elapsed_time", True)
        assert "BSD-3-Clause" in md.licence and "load_digits" in md.source
        assert md.seeds == gen.GenerationSettings().xgboost_seeds
        # The committed table is what the documented default command makes.
        defaults = gen.GenerationSettings()
        assert md.extra["settings"] == {**vars(defaults), "datasets": list(defaults.datasets)}
        assert "time.process_time" in md.description
        assert md.extra["tasks"][task]["sklearn_loader"] == f"sklearn.datasets.{gen.DATASETS[task].loader}"


def test_committed_values_are_sane(committed):
    for task, bb in committed.items():
        o = np.asarray(bb.objectives)
        assert not np.isnan(o).any(), task
        times = o[..., 3]
        assert (times > 0).all() and (np.diff(times, axis=2) > 0).all(), task
        if task != "diabetes":
            assert ((o[..., [0, 2]] >= 0) & (o[..., [0, 2]] <= 1)).all(), task
        assert (o[..., NON_TIME] >= 0).all()
        # Replicates are real: subsampling makes them differ for most configurations.
        assert (o[:, 0, -1, 1] != o[:, 1, -1, 1]).mean() > 0.3, task
    best = {task: bb.best_value("val_error") for task, bb in committed.items()}
    assert best["breast_cancer"] < 0.06 and best["digits"] < 0.06 and best["wine"] < 0.06
    assert 0.5 < best["diabetes"] < 0.85  # standardised RMSE: diabetes is hard to predict


def test_committed_space_contains_every_row_and_lookups_work(committed):
    bb = committed["digits"]
    space = bb.configuration_space
    assert space.to_dict() == gen.configuration_space().to_dict()
    configs = bb.all_configurations()
    assert all(space.contains(c) for c in configs)
    assert bb.rows(bb.hyperparameters).tolist() == list(range(256))
    assert bb.row(configs[17]) == 17
    assert bb.hyperparameters.equals(gen.sample_configurations(256, seed=0))


def test_committed_table_is_reproduced_by_the_generator(committed):
    """A tiny regeneration equals the committed table's first rows (same library versions only)."""
    recorded = json.loads((COMMITTED / "metadata.json").read_text())["blackbox"]["extra"]["versions"]
    import sklearn
    import xgboost

    if (recorded["xgboost"], recorded["scikit-learn"]) != (xgboost.__version__, sklearn.__version__):
        pytest.skip(f"table made with xgboost {recorded['xgboost']} / scikit-learn {recorded['scikit-learn']}; "
                    f"installed {xgboost.__version__} / {sklearn.__version__} may round differently")
    settings = gen.GenerationSettings(n_configs=3, n_rounds=5, n_seeds=2, datasets=("wine", "diabetes"), n_jobs=1)
    fresh = gen.generate(settings)
    for task, bb in fresh.items():
        stored = np.asarray(committed[task].objectives[:3, :2, :5, NON_TIME])
        assert bb.objectives[..., NON_TIME].tobytes() == stored.tobytes(), task


def test_package_path_is_the_embedded_folder():
    assert COMMITTED == Path(gen.__file__).resolve().parent / "xgboost-sklearn"
    assert (COMMITTED / "objectives" / "digits.npy").is_file()
