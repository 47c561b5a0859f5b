"""Damaged inputs and edited metadata (issue 12, point 13).

- ``arena convert icml-*`` / ``lcbench`` on a truncated or corrupt zip: one line naming the file and the fix,
  exit status 1, nothing written;
- a blackbox's own metadata.json carries a sha256 of its content: an edited metric direction is refused on
  load; metadata written before the checksum existed still loads; the embedded benchmark carries it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.conversion.cli import main
from blackbox_repo.conversion.upstream_fixtures import write_lcbench
from blackbox_repo.repository import (
    METADATA_CHECKSUM_KEY,
    MetadataChecksumError,
    embedded_root,
    load_blackbox,
    metadata_checksum,
    read_metadata,
    serialize,
)
from blackbox_repo.search_space import Categorical, SearchSpace

ICML_ZIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "icml2020" / "XGBoost.csv.zip"


def _convert_fails(capsys, source: str, path: Path, out: Path, expected: str) -> str:
    assert main(["convert", source, "--input", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("arena convert")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"{path} is truncated or corrupt" in lines[0] and expected in lines[0], lines[0]
    assert "nothing was written" in lines[0]
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


def test_convert_icml_on_a_file_that_is_not_a_zip(tmp_path, capsys):
    path = tmp_path / "XGBoost.csv.zip"
    path.write_bytes(b"<html>403 Forbidden</html>")
    _convert_fails(capsys, "icml-xgboost", path, tmp_path / "out", "download XGBoost.csv.zip again")


@pytest.mark.skipif(not ICML_ZIP.is_file(), reason="needs ../shared/data/icml2020")
def test_convert_icml_on_a_truncated_and_on_a_corrupt_zip(tmp_path, capsys):
    data = ICML_ZIP.read_bytes()
    truncated = tmp_path / "truncated" / "XGBoost.csv.zip"
    truncated.parent.mkdir()
    truncated.write_bytes(data[: len(data) // 3])
    _convert_fails(capsys, "icml-xgboost", truncated, tmp_path / "out", "BadZipFile")
    corrupt = tmp_path / "corrupt" / "XGBoost.csv.zip"
    corrupt.parent.mkdir()
    damaged = bytearray(data)
    damaged[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # the member's deflate stream, not the directory
    corrupt.write_bytes(bytes(damaged))
    _convert_fails(capsys, "icml-xgboost", corrupt, tmp_path / "out", "Bad CRC-32")


def test_convert_lcbench_on_a_truncated_zip(tmp_path, capsys):
    source = tmp_path / "data_2k_lw.json"
    write_lcbench(source)
    archive = tmp_path / "data_2k_lw.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(source, "data_2k_lw.json")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) - 40])
    _convert_fails(capsys, "lcbench", archive, tmp_path / "out", "download it again")


# ------------------------------------------------------------------------------------------------------------
# metadata checksum
# ------------------------------------------------------------------------------------------------------------


def _toy_root(root: Path) -> Path:
    space = SearchSpace({"x": Categorical([1, 2, 3])})
    table = TabularBlackbox(
        pd.DataFrame({"x": [1, 2, 3]}), np.arange(6, dtype=np.float32).reshape(3, 1, 2, 1), space, ["error"],
        BlackboxMetadata(name="toy", default_metric="error", mode="min"), fidelity_name="epoch",
        fidelity_values=[1, 2], task="t",
    )
    serialize({"t": table}, root, "toy")
    return root / "toy" / "metadata.json"


def test_an_edited_metric_direction_is_refused_on_load(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "cache"))
    meta_path = _toy_root(tmp_path / "repo")
    metadata = json.loads(meta_path.read_text())
    assert metadata[METADATA_CHECKSUM_KEY] == metadata_checksum(metadata)
    assert load_blackbox("toy", root=tmp_path / "repo", task="t").metadata.mode == "min"
    text = meta_path.read_text()
    assert text.count('"mode": "min"') == 1
    meta_path.write_text(text.replace('"mode": "min"', '"mode": "max"'))
    for load in (lambda: load_blackbox("toy", root=tmp_path / "repo", task="t"),
                 lambda: read_metadata("toy", root=tmp_path / "repo")):
        with pytest.raises(MetadataChecksumError, match="was modified after it was written") as info:
            load()
        assert str(meta_path) in str(info.value)


def test_metadata_without_a_checksum_still_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "cache"))
    meta_path = _toy_root(tmp_path / "repo")
    metadata = json.loads(meta_path.read_text())
    del metadata[METADATA_CHECKSUM_KEY]
    meta_path.write_text(json.dumps(metadata, indent=1))
    assert load_blackbox("toy", root=tmp_path / "repo", task="t").metadata.mode == "min"


def test_the_embedded_benchmark_carries_its_metadata_checksum():
    metadata = json.loads((embedded_root() / "xgboost-sklearn" / "metadata.json").read_text())
    assert metadata[METADATA_CHECKSUM_KEY] == metadata_checksum(metadata)
