"""`arena results pull s3://...`: complete experiments copied byte for byte, incomplete ones skipped, unchanged
files not downloaded again. S3 is moto in server mode on 127.0.0.1."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

s3fs = pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from _moto import FAKE_AWS_CREDENTIALS, moto_url

from launchers.cli import main as arena
from results.store import index_experiments
from results.sync import MANIFEST_FILE, pull_results
from results.synthetic import SyntheticRun, write_synthetic_experiment

BUCKET = "arena-bucket"
PREFIX = "studies"


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on a free port; the AWS variables point every client at it."""
    with moto_url() as url:
        for key, value in {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": url}.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(endpoint_url=url)
        fs.mkdir(BUCKET)
        yield fs
        s3fs.S3FileSystem.clear_instance_cache()


def _upload_study(fs, tmp_path: Path) -> Path:
    """Two complete experiments and one still running, plus study.json, written locally then put in S3."""
    local = tmp_path / "written"
    for run in (SyntheticRun(tag="study-a", benchmark="bench-1", method="RS", seed=0, n_results=40),
                SyntheticRun(tag="study-a", benchmark="bench-1", method="ASHA", seed=0, n_results=40),
                SyntheticRun(tag="study-a", benchmark="bench-1", method="ASHA", seed=1, n_results=40,
                             status="running"),
                SyntheticRun(tag="study-b", benchmark="bench-2", method="RS", seed=3, n_results=40)):
        write_synthetic_experiment(str(local), run)
    (local / "study-a" / "study.json").write_text(json.dumps({"tag": "study-a", "master_seed": 7}))
    fs.put(str(local) + "/", f"{BUCKET}/{PREFIX}/", recursive=True)
    return local


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST_FILE}


def test_pull_copies_complete_experiments_byte_for_byte(s3, tmp_path):
    written = _upload_study(s3, tmp_path)
    dest = tmp_path / "pulled"
    status = arena(["results", "pull", f"s3://{BUCKET}/{PREFIX}", "--to", str(dest)])
    assert status == 0
    expected = {rel: data for rel, data in _files(written).items() if "ASHA/1/" not in rel}
    assert _files(dest) == expected
    assert sorted(expected) == [
        "study-a/bench-1/ASHA/0/metadata.json", "study-a/bench-1/ASHA/0/results.parquet",
        "study-a/bench-1/ASHA/0/trials.parquet", "study-a/bench-1/RS/0/metadata.json",
        "study-a/bench-1/RS/0/results.parquet", "study-a/bench-1/RS/0/trials.parquet",
        "study-a/study.json", "study-b/bench-2/RS/3/metadata.json", "study-b/bench-2/RS/3/results.parquet",
        "study-b/bench-2/RS/3/trials.parquet",
    ]
    index = index_experiments(str(dest))
    assert sorted(index.table["method"]) == ["ASHA", "RS", "RS"]


def test_pull_skips_identical_files_and_refreshes_changed_ones(s3, tmp_path):
    written = _upload_study(s3, tmp_path)
    dest = tmp_path / "pulled"
    first = pull_results(f"s3://{BUCKET}/{PREFIX}", dest, tags=["study-a"])
    assert sorted(first.experiments_pulled) == ["study-a/bench-1/ASHA/0", "study-a/bench-1/RS/0"]
    assert first.experiments_incomplete == ["study-a/bench-1/ASHA/1"]
    assert first.files_downloaded == 7  # 2 x 3 experiment files + study.json
    assert not (dest / "study-b").exists()

    again = pull_results(f"s3://{BUCKET}/{PREFIX}", dest, tags=["study-a"])
    assert again.files_downloaded == 0 and again.bytes_downloaded == 0
    assert sorted(again.experiments_unchanged) == ["study-a/bench-1/ASHA/0", "study-a/bench-1/RS/0"]

    # The running experiment completes remotely and RS/0 is rerun with other results.
    rerun = write_synthetic_experiment(str(tmp_path / "rerun"), SyntheticRun(
        tag="study-a", benchmark="bench-1", method="RS", seed=0, n_results=55))
    s3.put(rerun + "/", f"{BUCKET}/{PREFIX}/study-a/bench-1/RS/0/", recursive=True)
    done = write_synthetic_experiment(str(tmp_path / "done"), SyntheticRun(
        tag="study-a", benchmark="bench-1", method="ASHA", seed=1, n_results=40))
    s3.put(done + "/", f"{BUCKET}/{PREFIX}/study-a/bench-1/ASHA/1/", recursive=True)
    third = pull_results(f"s3://{BUCKET}/{PREFIX}", dest, tags=["study-a"])
    assert sorted(third.experiments_pulled) == ["study-a/bench-1/ASHA/1", "study-a/bench-1/RS/0"]
    assert third.experiments_unchanged == ["study-a/bench-1/ASHA/0"]
    for rel_folder, source in (("study-a/bench-1/RS/0", Path(rerun)), ("study-a/bench-1/ASHA/1", Path(done))):
        for name in ("metadata.json", "results.parquet", "trials.parquet"):
            assert (dest / rel_folder / name).read_bytes() == (source / name).read_bytes()
    assert (dest / "study-a/bench-1/ASHA/0/results.parquet").read_bytes() == (
        written / "study-a/bench-1/ASHA/0/results.parquet").read_bytes()
    assert not list(dest.rglob(".pull-*"))  # temporary folders are gone


def test_pull_incomplete_on_request_and_unknown_tag_error(s3, tmp_path):
    _upload_study(s3, tmp_path)
    dest = tmp_path / "pulled"
    report = pull_results(f"s3://{BUCKET}/{PREFIX}", dest, tags=["study-a"], include_incomplete=True)
    assert "study-a/bench-1/ASHA/1" in report.experiments_pulled
    meta = json.loads((dest / "study-a/bench-1/ASHA/1/metadata.json").read_text())
    assert meta["status"] == "running"
    with pytest.raises(FileNotFoundError, match=r"no study \['study-c'\].*studies there: \['study-a', 'study-b'\]"):
        pull_results(f"s3://{BUCKET}/{PREFIX}", dest, tags=["study-c"])
