"""``arena convert``: success, clear refusals, nothing written on failure, existing targets kept."""
from __future__ import annotations

import numpy as np
import pytest

from blackbox_repo.conversion.cli import main
from blackbox_repo.conversion.upstream_fixtures import write_lcbench
from blackbox_repo.repository import load_blackbox


@pytest.fixture()
def lcbench_file(tmp_path):
    path = tmp_path / "data_2k_lw.json"
    write_lcbench(path, num_configs=4, seed=1)
    return path


def test_convert_command(lcbench_file, tmp_path, capsys):
    out = tmp_path / "repo"
    rc = main(["convert", "lcbench", "--input", str(lcbench_file), "--out", str(out), "--name", "lc-small",
               "--task", "car", "--no-progress"])
    assert rc == 0
    assert "wrote lc-small" in capsys.readouterr().out
    bb = load_blackbox("lc-small", root=str(out), task="car")
    assert bb.metadata.name == "lc-small" and bb.objectives.shape == (4, 1, 50, 13)
    # A second run refuses to replace it, --overwrite replaces it.
    assert main(["convert", "lcbench", "--input", str(lcbench_file), "--out", str(out), "--name", "lc-small"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["convert", "lcbench", "--input", str(lcbench_file), "--out", str(out), "--name", "lc-small",
                 "--overwrite", "--no-progress"]) == 0


def test_refusals_write_nothing(tmp_path, capsys):
    out = tmp_path / "repo"
    assert main(["convert", "lcbnch", "--input", "x", "--out", str(out)]) == 2
    assert "did you mean 'lcbench'" in capsys.readouterr().err
    assert main(["convert", "fcnet", "--input", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and "nothing was written" in err
    assert main(["convert", "lcbench", "--input", str(tmp_path), "--out", str(out), "--no-impute"]) == 2
    assert not out.exists() or not any(out.iterdir())


def test_arena_entry_point_has_convert(lcbench_file, tmp_path):
    cli = pytest.importorskip("launchers.cli")
    out = tmp_path / "repo"
    assert cli.main(["convert", "lcbench", "--input", str(lcbench_file), "--out", str(out), "--no-progress"]) == 0
    assert np.isfinite(load_blackbox("lcbench", root=str(out), task="adult").objectives).all()
