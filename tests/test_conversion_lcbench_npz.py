"""LCBench npz curves: the real files in ../shared/data, values equal, bad inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.repository import load_blackbox

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lcbench_curves"


@pytest.fixture(scope="module")
def real():
    if not DATA.is_dir():
        pytest.skip(f"real LCBench curves not available at {DATA}")
    return read("lcbench-npz", DATA)


def test_real_curves_equal_source(real):
    assert len(real) == 35
    for task in ("adult", "Fashion-MNIST", "numerai28.6"):
        with np.load(DATA / f"{task}.npz") as z:
            x, y = z["X"], z["Y"]
        bb = real[task]
        assert bb.objectives.shape == (2000, 1, 50, 1)
        np.testing.assert_array_equal(bb.objectives[:, 0, :, 0], y[:, 1:51].astype(np.float32))
        cols = bb.hyperparameters.columns.tolist()
        np.testing.assert_array_equal(bb.hyperparameters.to_numpy(dtype=float), x[:, : len(cols)])
        config = bb.all_configurations()[123]
        assert bb.evaluate(config, fidelity=7)[0] == np.float32(y[123, 7])


def test_real_configuration_space(real):
    bb = real["adult"]
    assert bb.fidelity_values.tolist() == list(range(1, 51))
    assert sorted(bb.hyperparameters["num_layers"].unique().tolist()) == [1, 2, 3, 4]
    for config in bb.all_configurations()[:50]:
        assert bb.configuration_space.contains(config)
    assert bb.metadata.time_objective is None


def _write(folder: Path, name: str, x: np.ndarray, y: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{name}.npz", X=x, Y=y)


def _x(n: int = 4) -> np.ndarray:
    return np.array([[16 + i, 1e-3, 0.5, 1e-3, 1 + i % 4, 64 + i, 0.1] for i in range(n)], dtype=float)


def test_small_files_and_repository(tmp_path):
    y = np.arange(4 * 52, dtype=float).reshape(4, 52) / 100
    _write(tmp_path / "in", "a", _x(), y)
    _write(tmp_path / "in", "b", _x(), y + 1)
    convert("lcbench-npz", tmp_path / "in", tmp_path / "repo", progress=False)
    bb = load_blackbox("lcbench-val-ce", root=str(tmp_path / "repo"), task="b")
    assert bb.objectives[2, 0, 0, 0] == np.float32(y[2, 1] + 1)
    assert bb.objectives[3, 0, 49, 0] == np.float32(y[3, 50] + 1)


def test_bad_inputs(tmp_path):
    out = tmp_path / "repo"
    _write(tmp_path / "a", "t", _x()[:, :6], np.ones((4, 52)))
    with pytest.raises(InputError, match="X has shape"):
        convert("lcbench-npz", tmp_path / "a", out)
    _write(tmp_path / "b", "t", _x(), np.ones((4, 52)))
    _write(tmp_path / "b", "u", _x() * 1.01, np.ones((4, 52)))
    with pytest.raises(InputError, match="X differs"):
        convert("lcbench-npz", tmp_path / "b", out)
    _write(tmp_path / "c", "t", _x(), -np.ones((4, 52)))
    with pytest.raises(InputError, match="outside"):
        convert("lcbench-npz", tmp_path / "c", out)
    x = _x()
    x[0, 0] = 2000
    _write(tmp_path / "d", "t", x, np.ones((4, 52)))
    with pytest.raises(InputError, match="batch_size=2000"):
        convert("lcbench-npz", tmp_path / "d", out)
    with pytest.raises(InputError, match="no .npz"):
        (tmp_path / "e").mkdir()
        convert("lcbench-npz", tmp_path / "e", out)
    assert not out.exists() or not any(out.iterdir())
