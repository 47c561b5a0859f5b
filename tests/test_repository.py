"""Local repository: layout, round trips, atomic writes, checksums, stamps, kinds, lookup of names."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blackbox_repo import repository as repo
from blackbox_repo.blackbox import (
    BlackboxLookupError,
    BlackboxMetadata,
    FunctionBlackbox,
    TabularBlackbox,
)
from blackbox_repo.repository import (
    BlackboxExistsError,
    BlackboxGroup,
    BlackboxNotFoundError,
    ChecksumError,
    UnknownBlackboxError,
    list_blackboxes,
    load_blackbox,
    read_metadata,
    register_kind,
    serialize,
    serialize_files,
)
from blackbox_repo.search_space import Categorical, Integer, LogUniform, Ordinal, SearchSpace


def make_tables(tasks=("cifar10", "svhn/ext"), n_seeds=2, fidelities=(1, 2, 4, 8)) -> dict[str, TabularBlackbox]:
    """A small mixed-type table: str, int, float and bool hyperparameters; NaN entries; several tasks."""
    space = SearchSpace({
        "op": Categorical(["conv", "pool", "skip"]),
        "depth": Integer(1, 3),
        "lr": LogUniform(1e-3, 1e-1),
        "bn": Ordinal([False, True]),
    })
    rows = [{"op": o, "depth": d, "lr": lr, "bn": bn}
            for o in ("conv", "pool", "skip") for d in (1, 2, 3) for lr in (1e-3, 1e-2, 1e-1) for bn in (False, True)]
    hp = pd.DataFrame(rows)
    meta = BlackboxMetadata(name="toy", default_metric="error", mode="min", time_objective="time",
                            source="unit test", licence="CC0-1.0", seeds=[777, 888])
    out = {}
    for k, task in enumerate(tasks):
        rng = np.random.default_rng(k)
        values = rng.random((len(rows), n_seeds, len(fidelities), 2)).astype(np.float32)
        values[3, -1, 2, 0] = np.nan  # a missing entry
        out[task] = TabularBlackbox(hp, values, space, ["error", "time"], meta, "epoch", list(fidelities), task)
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("HPO_ARENA_CACHE", str(path))
    return path


def test_layout_and_metadata(tmp_path, cache):
    tables = make_tables()
    where = serialize(tables, tmp_path / "root", "toy")
    folder = tmp_path / "root" / "toy"
    assert where == str(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["hyperparameters.parquet", "metadata.json", "objectives/cifar10.npy", "objectives/svhn%2Fext.npy"]
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["format_version"] == 1 and meta["name"] == "toy" and meta["kind"] == "tabular"
    assert meta["tasks"] == ["cifar10", "svhn/ext"]
    assert meta["fidelity"] == {"name": "epoch", "values": [1, 2, 4, 8]}
    assert meta["objectives"] == ["error", "time"] and meta["num_seeds"] == 2 and meta["num_configs"] == 54
    assert meta["value_dtype"] == "float32"
    assert meta["blackbox"]["time_objective"] == "time" and meta["blackbox"]["seeds"] == [777, 888]
    assert SearchSpace.from_dict(meta["configuration_space"]) == tables["cifar10"].configuration_space
    assert meta["task_files"] == {"cifar10": ["objectives/cifar10.npy"], "svhn/ext": ["objectives/svhn%2Fext.npy"]}
    for rel, spec in meta["files"].items():
        data = (folder / rel).read_bytes()
        assert spec == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert set(meta["files"]) == set(files) - {"metadata.json"}
    arr = np.load(folder / "objectives/cifar10.npy", mmap_mode="r")
    assert arr.dtype == np.float32 and arr.flags.c_contiguous and arr.shape == (54, 2, 4, 2)
    hp = pd.read_parquet(folder / "hyperparameters.parquet")
    assert hp["depth"].dtype == np.int64 and hp["lr"].dtype == np.float64 and hp["bn"].dtype == bool
    assert pd.api.types.is_string_dtype(hp["op"].dtype)
    # no temporary folders are left behind
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["toy"]


def test_round_trip_identical_values(tmp_path, cache):
    tables = make_tables()
    serialize(tables, tmp_path, "toy")
    group = load_blackbox("toy", tmp_path)
    assert isinstance(group, BlackboxGroup) and group.tasks == ["cifar10", "svhn/ext"] and group.kind == "tabular"
    for task, original in tables.items():
        loaded = group[task]
        assert isinstance(loaded, TabularBlackbox)
        # bit for bit, NaN included
        assert loaded.objectives.tobytes() == original.objectives.tobytes()
        assert loaded.metadata == original.metadata and loaded.task == task
        assert loaded.fidelity_values.tolist() == [1, 2, 4, 8]
        assert loaded.configuration_space == original.configuration_space
        assert loaded.all_configurations() == original.all_configurations()
        cfg = {"op": "pool", "depth": 2, "lr": 1e-2, "bn": True}
        assert np.array_equal(loaded.evaluate(cfg, 4, 1), original.evaluate(cfg, 4, 1))
    assert np.isnan(group["cifar10"].objectives[3, -1, 2, 0])
    single = load_blackbox("toy", tmp_path, task="svhn/ext")
    assert isinstance(single, TabularBlackbox) and single.task == "svhn/ext"


def test_loaded_objectives_are_read_only_memory_maps(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    objectives = load_blackbox("toy", tmp_path, task="cifar10").objectives
    assert type(objectives) is np.ndarray  # a plain view: fast indexing
    assert isinstance(objectives.base, np.memmap) and not objectives.flags.writeable


def test_float64_values_are_stored_as_float32(tmp_path, cache):
    table = make_tables(tasks=("t",))["t"]
    wide = table.with_objectives(table.objectives.astype(np.float64) + 1e-9)
    serialize({"t": wide}, tmp_path, "toy")
    loaded = load_blackbox("toy", tmp_path, task="t")
    assert loaded.objectives.dtype == np.float32
    assert loaded.objectives.tobytes() == wide.objectives.astype(np.float32).tobytes()


def test_blackbox_without_fidelity(tmp_path, cache):
    space = SearchSpace({"x": Categorical(["a", "b"])})
    meta = BlackboxMetadata(name="flat", default_metric="y")
    bb = TabularBlackbox(pd.DataFrame({"x": ["a", "b"]}), np.array([[[[1.0]]], [[[2.0]]]], dtype=np.float32),
                         space, ["y"], meta)
    serialize({"only": bb}, tmp_path, "flat")
    loaded = load_blackbox("flat", tmp_path, task="only")
    assert loaded.fidelity_values is None and loaded.objective({"x": "b"}) == {"y": 2.0}


def test_existing_blackbox_is_refused_then_replaced(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    with pytest.raises(BlackboxExistsError, match="overwrite=True"):
        serialize(make_tables(), tmp_path, "toy")
    replacement = make_tables(tasks=("only",))
    serialize(replacement, tmp_path, "toy", overwrite=True)
    group = load_blackbox("toy", tmp_path)
    assert group.tasks == ["only"]
    assert not (tmp_path / "toy" / "objectives" / "cifar10.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "toy"]


def test_failed_write_leaves_nothing(tmp_path, cache):
    tables = make_tables(tasks=("t",))
    bad = tables["t"]
    mixed = bad.hyperparameters.assign(op=["conv"] * 53 + [3])  # a column mixing str and int
    broken = TabularBlackbox(mixed, bad.objectives, bad.configuration_space, bad.objectives_names, bad.metadata,
                             "epoch", [1, 2, 4, 8], "t")
    with pytest.raises(ValueError, match="column 'op' mixes types"):
        serialize({"t": broken}, tmp_path / "root", "toy")
    assert list((tmp_path / "root").iterdir()) == []


def test_tasks_must_share_rows_and_layout(tmp_path, cache):
    tables = make_tables()
    other = tables["svhn/ext"]
    shuffled = TabularBlackbox(other.hyperparameters.iloc[::-1].reset_index(drop=True), other.objectives,
                               other.configuration_space, other.objectives_names, other.metadata, "epoch",
                               [1, 2, 4, 8], "svhn/ext")
    with pytest.raises(ValueError, match="other hyperparameter rows"):
        serialize({"cifar10": tables["cifar10"], "svhn/ext": shuffled}, tmp_path, "toy")
    fewer_seeds = make_tables(tasks=("x",), n_seeds=1)["x"]
    with pytest.raises(ValueError, match="number of seeds"):
        serialize({"cifar10": tables["cifar10"], "x": fewer_seeds}, tmp_path, "toy")


def test_invalid_names(tmp_path, cache):
    for name in ("", ".hidden", "a/b", "../up"):
        with pytest.raises(ValueError, match="invalid blackbox name"):
            serialize(make_tables(), tmp_path, name)
    with pytest.raises(ValueError, match="invalid file name"):
        serialize(make_tables(), tmp_path, "toy", extra_files={"../escape.txt": b"x"})


def test_extra_files_are_stored_and_checksummed(tmp_path, cache):
    licence = tmp_path / "LICENSE.txt"
    licence.write_text("CC0")
    serialize(make_tables(), tmp_path / "root", "toy", extra_files={"LICENSE": licence, "docs/README.md": b"hi"})
    meta, _ = read_metadata("toy", tmp_path / "root")
    assert meta["files"]["docs/README.md"] == {"sha256": hashlib.sha256(b"hi").hexdigest(), "size": 2}
    assert (tmp_path / "root" / "toy" / "LICENSE").read_text() == "CC0"


def test_sha256_once_then_sizes_and_stamp(tmp_path, cache, monkeypatch):
    serialize(make_tables(), tmp_path, "toy")
    calls = []
    real = repo.sha256_file
    monkeypatch.setattr(repo, "sha256_file", lambda p: calls.append(Path(p).name) or real(p))
    load_blackbox("toy", tmp_path)
    assert sorted(calls) == ["cifar10.npy", "hyperparameters.parquet", "svhn%2Fext.npy"]
    calls.clear()
    load_blackbox("toy", tmp_path)  # warm: stamp valid, only stat()
    assert calls == []
    load_blackbox("toy", tmp_path, verify=True)
    assert len(calls) == 3
    assert list((cache / "verified").glob("*.json"))


def test_corruption_is_detected(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    load_blackbox("toy", tmp_path)  # stamps the folder
    path = tmp_path / "toy" / "objectives" / "cifar10.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: the stat changes, so it is re-hashed
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        load_blackbox("toy", tmp_path)
    message = str(err.value)
    assert str(path) in message and "expected sha256" in message and "serialize(..., overwrite=True)" in message
    assert err.value.actual_sha256 == hashlib.sha256(bytes(data)).hexdigest()
    # the other task's files are intact: loading only that task works
    assert load_blackbox("toy", tmp_path, task="svhn/ext").task == "svhn/ext"


def test_truncated_file_is_detected_by_size(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    path = tmp_path / "toy" / "hyperparameters.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ChecksumError, match=r"\(100 bytes\)"):
        load_blackbox("toy", tmp_path)


def test_missing_files_give_clear_errors(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    (tmp_path / "toy" / "objectives" / "svhn%2Fext.npy").unlink()
    with pytest.raises(BlackboxNotFoundError, match=r"svhn%2Fext.npy is missing \(listed in"):
        load_blackbox("toy", tmp_path)
    (tmp_path / "toy" / "metadata.json").unlink()
    with pytest.raises(BlackboxNotFoundError, match=r"metadata.json is missing"):
        load_blackbox("toy", tmp_path)


def test_unknown_names_name_the_closest(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    with pytest.raises(UnknownBlackboxError, match=r"no blackbox named 'toi' .*did you mean 'toy'"):
        load_blackbox("toi", tmp_path)
    with pytest.raises(BlackboxLookupError, match=r"did you mean 'cifar10'"):
        load_blackbox("toy", tmp_path, task="cifar100")


def test_bad_metadata(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    meta_path = tmp_path / "toy" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(repo.RepositoryError, match="format_version 99"):
        load_blackbox("toy", tmp_path)
    meta_path.write_text("{not json")
    with pytest.raises(repo.RepositoryError, match="not valid JSON"):
        load_blackbox("toy", tmp_path)


def test_default_root_then_embedded(tmp_path, cache, monkeypatch):
    user_root, embedded = tmp_path / "user", tmp_path / "embedded"
    serialize(make_tables(tasks=("a",)), user_root, "mine")
    serialize(make_tables(tasks=("b",)), embedded, "shipped")
    monkeypatch.setenv("HPO_ARENA_REPOSITORY", str(user_root))
    monkeypatch.setattr(repo, "embedded_root", lambda: embedded)
    assert list_blackboxes() == ["mine", "shipped"]
    assert load_blackbox("mine").tasks == ["a"]
    assert load_blackbox("shipped").tasks == ["b"]
    assert read_metadata("shipped")[1] == str(embedded / "shipped")
    with pytest.raises(UnknownBlackboxError, match="did you mean 'shipped'"):
        load_blackbox("shiped")
    # an explicit root is searched alone
    with pytest.raises(UnknownBlackboxError):
        load_blackbox("shipped", user_root)


def test_list_skips_incomplete_folders(tmp_path, cache):
    serialize(make_tables(), tmp_path, "toy")
    (tmp_path / "half").mkdir()
    (tmp_path / ".toy.tmp-123").mkdir()
    assert list_blackboxes(tmp_path) == ["toy"]
    assert list_blackboxes(tmp_path / "absent") == []


# --- other kinds -------------------------------------------------------------------------------------------


def _load_linear(folder: Path, metadata: dict) -> dict:
    """A toy kind: y = a * x + b, one parameter file per task."""
    space = SearchSpace({"x": Integer(0, 10)})
    meta = BlackboxMetadata(name=metadata["name"], default_metric="y")
    out = {}
    for task in metadata["tasks"]:
        a, b = json.loads((folder / f"params/{task}.json").read_text())
        out[task] = FunctionBlackbox(lambda c, f, s, a=a, b=b: [a * c["x"] + b], space, ["y"], meta, task=task)
    return out


def test_register_kind_and_serialize_files(tmp_path, cache):
    register_kind("linear-test", _load_linear)
    metadata = {"kind": "linear-test", "tasks": ["up", "down"],
                "task_files": {"up": ["params/up.json"], "down": ["params/down.json"]}}
    files = {"params/up.json": b"[2, 1]", "params/down.json": b"[-1, 0]", "README": b"toy"}
    serialize_files(tmp_path, "lin", metadata, files)
    group = load_blackbox("lin", tmp_path)
    assert group.kind == "linear-test"
    assert group["up"].objective({"x": 3}) == {"y": 7.0} and group["down"].objective({"x": 3}) == {"y": -3.0}
    # one task needs only its own file plus the shared ones
    (tmp_path / "lin" / "params" / "down.json").unlink()
    assert load_blackbox("lin", tmp_path, task="up").objective({"x": 1}) == {"y": 3.0}
    with pytest.raises(BlackboxNotFoundError, match="down.json is missing"):
        load_blackbox("lin", tmp_path)
    with pytest.raises(ValueError, match="filled in by serialize_files"):
        serialize_files(tmp_path, "lin2", {**metadata, "files": {}}, files)
    with pytest.raises(ValueError, match="not in tasks"):
        serialize_files(tmp_path, "lin3", {**metadata, "task_files": {"sideways": []}}, files)


def test_unknown_kind_and_kind_module(tmp_path, cache, monkeypatch):
    serialize_files(tmp_path, "odd", {"kind": "mystery-kind", "tasks": ["t"]}, {"data.bin": b"\x00"})
    with pytest.raises(repo.RepositoryError, match="unknown blackbox kind 'mystery-kind'.*register_kind"):
        load_blackbox("odd", tmp_path)
    # a kind_module is imported on demand and registers its kind
    plugin = tmp_path / "plugins"
    plugin.mkdir()
    (plugin / "arena_test_plugin_kind.py").write_text(
        "from blackbox_repo.repository import register_kind\n"
        "from blackbox_repo.blackbox import FunctionBlackbox, BlackboxMetadata\n"
        "from blackbox_repo.search_space import SearchSpace, Integer\n"
        "def _load(folder, metadata):\n"
        "    n = (folder / 'n.txt').read_text()\n"
        "    sp = SearchSpace({'x': Integer(0, 3)})\n"
        "    m = BlackboxMetadata(name=metadata['name'], default_metric='y')\n"
        "    return {t: FunctionBlackbox(lambda c, f, s: [int(n) * c['x']], sp, ['y'], m, task=t)\n"
        "            for t in metadata['tasks']}\n"
        "register_kind('plugin-kind', _load)\n"
    )
    monkeypatch.syspath_prepend(str(plugin))
    serialize_files(tmp_path, "plug", {"kind": "plugin-kind", "kind_module": "arena_test_plugin_kind",
                                       "tasks": ["t"]}, {"n.txt": b"5"})
    try:
        assert load_blackbox("plug", tmp_path, task="t").objective({"x": 2}) == {"y": 10.0}
    finally:
        sys.modules.pop("arena_test_plugin_kind", None)


def test_serialize_needs_a_writer_for_other_kinds(tmp_path, cache):
    register_kind("linear-test", _load_linear)
    with pytest.raises(ValueError, match="has no writer"):
        serialize(make_tables(), tmp_path, "x", kind="linear-test")
    with pytest.raises(TypeError, match="not a TabularBlackbox"):
        serialize({"t": FunctionBlackbox(lambda c, f, s: [0.0], SearchSpace({"x": Integer(0, 1)}), ["y"],
                                         BlackboxMetadata(name="f", default_metric="y"))}, tmp_path, "x")


def test_replace_keeps_open_maps_valid(tmp_path, cache):
    """A process holding the old arrays keeps reading them after an atomic replacement."""
    serialize(make_tables(), tmp_path, "toy")
    old = load_blackbox("toy", tmp_path, task="cifar10")
    expected = old.objectives.copy()
    changed = {t: b.with_objectives(b.objectives + 1) for t, b in make_tables().items()}
    serialize(changed, tmp_path, "toy", overwrite=True)
    assert old.objectives.tobytes() == expected.tobytes()
    new = load_blackbox("toy", tmp_path, task="cifar10")
    assert new.objectives.tobytes() == (expected + 1).tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "toy"]
