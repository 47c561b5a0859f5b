"""Remote roots: S3 against a moto server on 127.0.0.1, the Hugging Face hub through an offline cache."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3
import huggingface_hub
import numpy as np
import pytest
from huggingface_hub import constants as hf_constants
from moto.server import ThreadedMotoServer

from blackbox_repo import remote as remote_mod
from blackbox_repo import repository as repo
from blackbox_repo.repository import (
    BlackboxExistsError,
    BlackboxNotFoundError,
    ChecksumError,
    UnknownBlackboxError,
    list_blackboxes,
    load_blackbox,
    read_metadata,
    serialize,
    upload,
)

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.test_repository import make_tables
except ImportError:
    from test_repository import make_tables

REPO_ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 with a bucket 'arena'."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
             "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN")
    saved = {k: os.environ.get(k) for k in names}
    for k in names:
        os.environ.pop(k, None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="arena")
    try:
        yield SimpleNamespace(endpoint=endpoint, client=client, options={"endpoint_url": endpoint})
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def local(tmp_path, monkeypatch):
    """A local root holding the blackbox 'toy' and an empty cache."""
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "unused-cache"))
    root = tmp_path / "local"
    tables = make_tables()
    serialize(tables, root, "toy")
    return SimpleNamespace(root=root, tables=tables, prefix=f"s3://arena/{tmp_path.name}")


def assert_same(group, tables):
    assert group.tasks == list(tables)
    for task, original in tables.items():
        loaded = group[task]
        assert loaded.objectives.dtype == np.float32
        assert loaded.objectives.tobytes() == original.objectives.tobytes()  # bit for bit, NaN included
        assert loaded.all_configurations() == original.all_configurations()
        assert loaded.configuration_space == original.configuration_space
        assert loaded.metadata == original.metadata


# --- S3 ----------------------------------------------------------------------------------------------------


def test_s3_round_trip_then_cache_without_network(s3, local, tmp_path, monkeypatch):
    url = upload("toy", local.root, local.prefix, storage_options=s3.options)
    assert url == f"{local.prefix}/toy"
    keys = sorted(o["Key"] for o in s3.client.list_objects_v2(Bucket="arena", Prefix=tmp_path.name)["Contents"])
    assert [k.split("/", 1)[1] for k in keys] == [
        "toy/hyperparameters.parquet", "toy/metadata.json", "toy/objectives/cifar10.npy",
        "toy/objectives/svhn%2Fext.npy"]
    cache = tmp_path / "cache"
    group = load_blackbox("toy", local.prefix, cache_dir=cache, storage_options=s3.options)
    assert_same(group, local.tables)
    (cached,) = (cache / "remote").iterdir()
    assert cached.name.startswith(f"s3_arena_{tmp_path.name}-") and group.directory == cached / "toy"
    assert (cached / "toy" / "objectives" / "svhn%2Fext.npy").is_file()
    assert list_blackboxes(local.prefix, storage_options=s3.options) == ["toy"]

    def no_network(*args, **kwargs):
        raise AssertionError("the cached copy must be used without network")

    monkeypatch.setattr(remote_mod.FsspecRoot, "fetch", no_network)
    assert_same(load_blackbox("toy", local.prefix, cache_dir=cache, storage_options=s3.options), local.tables)
    assert read_metadata("toy", local.prefix, cache_dir=cache, storage_options=s3.options)[0]["name"] == "toy"


def test_s3_endpoint_from_environment(s3, local, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    upload("toy", local.root, local.prefix)
    group = load_blackbox("toy", local.prefix, cache_dir=tmp_path / "cache")
    assert_same(group, local.tables)


def test_serialize_straight_to_s3(s3, local, tmp_path):
    url = serialize(local.tables, local.prefix, "direct", storage_options=s3.options)
    assert url == f"{local.prefix}/direct"
    with pytest.raises(BlackboxExistsError, match="overwrite=True"):
        serialize(local.tables, local.prefix, "direct", storage_options=s3.options)
    assert_same(load_blackbox("direct", local.prefix, cache_dir=tmp_path / "c", storage_options=s3.options),
                local.tables)


def test_s3_downloads_only_the_requested_task(s3, local, tmp_path):
    upload("toy", local.root, local.prefix, storage_options=s3.options)
    cache = tmp_path / "cache"
    one = load_blackbox("toy", local.prefix, task="cifar10", cache_dir=cache, storage_options=s3.options)
    assert one.objectives.tobytes() == local.tables["cifar10"].objectives.tobytes()
    (folder,) = (cache / "remote").iterdir()
    assert sorted(p.name for p in (folder / "toy" / "objectives").iterdir()) == ["cifar10.npy"]
    other = load_blackbox("toy", local.prefix, task="svhn/ext", cache_dir=cache, storage_options=s3.options)
    assert other.objectives.tobytes() == local.tables["svhn/ext"].objectives.tobytes()


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_cached_file_is_fetched_again(s3, local, tmp_path, damage):
    upload("toy", local.root, local.prefix, storage_options=s3.options)
    cache = tmp_path / "cache"
    load_blackbox("toy", local.prefix, cache_dir=cache, storage_options=s3.options)
    (folder,) = (cache / "remote").iterdir()
    path = folder / "toy" / "objectives" / "cifar10.npy"
    good = path.read_bytes()
    if damage == "flip":
        path.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    elif damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.unlink()
    group = load_blackbox("toy", local.prefix, cache_dir=cache, storage_options=s3.options)
    assert_same(group, local.tables)
    assert path.read_bytes() == good


def test_corrupt_remote_file_is_fetched_twice_then_reported(s3, local, tmp_path, monkeypatch):
    upload("toy", local.root, local.prefix, storage_options=s3.options)
    key = f"{tmp_path.name}/toy/hyperparameters.parquet"
    bad = b"not a parquet file"
    s3.client.put_object(Bucket="arena", Key=key, Body=bad)
    calls = []
    real_fetch = remote_mod.FsspecRoot.fetch
    monkeypatch.setattr(remote_mod.FsspecRoot, "fetch",
                        lambda self, rel, dest, force=False: calls.append(rel) or real_fetch(self, rel, dest, force=force))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        load_blackbox("toy", local.prefix, cache_dir=cache, storage_options=s3.options)
    message = str(err.value)
    expected = json.loads((local.root / "toy" / "metadata.json").read_text())["files"]["hyperparameters.parquet"]
    assert f"{local.prefix}/toy/hyperparameters.parquet" in message
    assert expected["sha256"] in message and hashlib.sha256(bad).hexdigest() in message
    assert "re-upload" in message and "arena blackboxes upload toy" in message
    assert calls.count("toy/hyperparameters.parquet") == 2
    # nothing half-downloaded is left for the next load to trust
    assert not (cache / "remote").exists() or not any((cache / "remote").glob("*/toy"))


def test_missing_remote_files_give_clear_errors(s3, local, tmp_path):
    upload("toy", local.root, local.prefix, storage_options=s3.options)
    s3.client.delete_object(Bucket="arena", Key=f"{tmp_path.name}/toy/objectives/cifar10.npy")
    with pytest.raises(BlackboxNotFoundError, match=r"toy/objectives/cifar10.npy does not exist"):
        load_blackbox("toy", local.prefix, cache_dir=tmp_path / "c1", storage_options=s3.options)
    with pytest.raises(UnknownBlackboxError, match=r"no blackbox named 'tyo' .*did you mean 'toy'"):
        load_blackbox("tyo", local.prefix, cache_dir=tmp_path / "c2", storage_options=s3.options)
    s3.client.delete_object(Bucket="arena", Key=f"{tmp_path.name}/toy/metadata.json")
    with pytest.raises(UnknownBlackboxError, match=r"toy/metadata.json does not exist"):
        load_blackbox("toy", local.prefix, cache_dir=tmp_path / "c3", storage_options=s3.options)


# --- Hugging Face hub (offline, pre-filled cache) -----------------------------------------------------------


def prefill_hub_cache(hf_cache: Path, repo_id: str, folder: Path, path_in_repo: str, revision: str = "main") -> str:
    """Write ``folder`` into ``hf_cache`` exactly as huggingface_hub's downloads do; returns the commit hash.

    Layout: ``datasets--<org>--<repo>/blobs/<etag>`` (sha256 for LFS files, git blob sha1 for small text
    files), ``snapshots/<commit>/<path>`` relative symlinks to the blobs, ``refs/<revision>`` = commit.
    """
    repo_dir = hf_cache / ("datasets--" + repo_id.replace("/", "--"))
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    commit = hashlib.sha1(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in files)).hexdigest()
    for p in files:
        data = p.read_bytes()
        if p.suffix in (".npy", ".parquet"):
            etag = hashlib.sha256(data).hexdigest()
        else:
            etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        blob = repo_dir / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = repo_dir / "snapshots" / commit / path_in_repo / p.relative_to(folder)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / revision).write_text(commit)
    return commit


@pytest.fixture
def hub(tmp_path, monkeypatch, local):
    hf_cache = tmp_path / "hf-cache"
    commit = prefill_hub_cache(hf_cache, "arena-org/bench", local.root / "toy", "v1/toy")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_cache))
    # huggingface_hub reads HF_HUB_OFFLINE at import; make the imported library agree too
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return SimpleNamespace(cache=hf_cache, commit=commit, url="hf://datasets/arena-org/bench/v1")


def test_prefilled_cache_has_the_real_layout(hub):
    info = huggingface_hub.scan_cache_dir(hub.cache)
    assert not info.warnings
    (cached_repo,) = info.repos
    assert cached_repo.repo_id == "arena-org/bench" and cached_repo.repo_type == "dataset"
    (revision,) = cached_repo.revisions
    assert revision.commit_hash == hub.commit and revision.refs == frozenset({"main"})
    found = huggingface_hub.try_to_load_from_cache("arena-org/bench", "v1/toy/metadata.json",
                                                   cache_dir=hub.cache, repo_type="dataset")
    assert isinstance(found, str) and json.loads(Path(found).read_text())["name"] == "toy"


def test_round_trip_local_s3_hub_identical(s3, local, hub, tmp_path):
    upload("toy", local.root, local.prefix, storage_options=s3.options)
    from_local = load_blackbox("toy", local.root, cache_dir=tmp_path / "c0")
    from_s3 = load_blackbox("toy", local.prefix, cache_dir=tmp_path / "c1", storage_options=s3.options)
    from_hub = load_blackbox("toy", hub.url, cache_dir=tmp_path / "c2")
    for group in (from_local, from_s3, from_hub):
        assert_same(group, local.tables)
    for task in local.tables:
        assert from_hub[task].objectives.tobytes() == from_s3[task].objectives.tobytes() \
            == from_local[task].objectives.tobytes()
    assert from_hub.directory.parent.parent == tmp_path / "c2" / "remote"
    # our cached copy is a real file, independent of the hub's blob
    assert not (from_hub.directory / "metadata.json").is_symlink()
    assert list_blackboxes(hub.url) == ["toy"]


def test_hub_offline_in_a_fresh_process(hub, local, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub.cache),
           "HPO_ARENA_CACHE": str(tmp_path / "proc-cache"), "PYTHONPATH": str(REPO_ROOT)}
    code = ("import hashlib; from blackbox_repo.repository import load_blackbox; "
            f"g = load_blackbox('toy', {hub.url!r}); "
            "print(hashlib.sha256(g['cifar10'].objectives.tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == hashlib.sha256(local.tables["cifar10"].objectives.tobytes()).hexdigest()


def test_hub_corrupt_blob_offline_is_reported(hub, tmp_path):
    meta = json.loads((tmp_path / "local" / "toy" / "metadata.json").read_text())
    sha = meta["files"]["objectives/cifar10.npy"]["sha256"]
    blob = next(hub.cache.glob(f"datasets--arena-org--bench/blobs/{sha}"))
    blob.write_bytes(blob.read_bytes()[:-8])
    with pytest.raises(ChecksumError) as err:
        load_blackbox("toy", hub.url, cache_dir=tmp_path / "c")
    message = str(err.value)
    assert "toy/objectives/cifar10.npy" in message and sha in message and "HF_HUB_OFFLINE" in message


def test_hub_missing_file_offline(hub, tmp_path):
    pointer = hub.cache / "datasets--arena-org--bench" / "snapshots" / hub.commit / "v1/toy/objectives/svhn%2Fext.npy"
    pointer.unlink()
    with pytest.raises(BlackboxNotFoundError, match=r"svhn%2Fext.npy was not found in the local Hugging Face cache"):
        load_blackbox("toy", hub.url, cache_dir=tmp_path / "c")
    with pytest.raises(UnknownBlackboxError, match=r"no blackbox named 'tyo'.*did you mean 'toy'"):
        load_blackbox("tyo", hub.url, cache_dir=tmp_path / "c")


def test_hub_upload_makes_one_folder_commit(local, monkeypatch, tmp_path):
    """HTTP is mocked here: HfApi.create_repo and HfApi.upload_folder are replaced by recorders."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw)))

    def fake_upload_folder(self, **kw):
        folder = Path(kw["folder_path"])
        calls.append(("upload_folder", kw, sorted(p.relative_to(folder).as_posix()
                                                  for p in folder.rglob("*") if p.is_file())))

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", fake_upload_folder)
    url = upload("toy", local.root, "hf://datasets/arena-org/bench/v1")
    assert url == "hf://datasets/arena-org/bench/v1/toy"
    assert calls[0] == ("create_repo", "arena-org/bench", {"repo_type": "dataset", "exist_ok": True})
    _, kw, present = calls[1]
    assert kw["repo_id"] == "arena-org/bench" and kw["repo_type"] == "dataset" and kw["path_in_repo"] == "v1/toy"
    assert sorted(kw["allow_patterns"]) == ["hyperparameters.parquet", "metadata.json",
                                            "objectives/cifar10.npy", "objectives/svhn%2Fext.npy"]
    assert set(kw["allow_patterns"]) <= set(present)


def test_upload_refuses_offline_and_local_destinations(local, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE"):
        upload("toy", local.root, "hf://datasets/arena-org/bench")
    with pytest.raises(ValueError, match="remote destination"):
        upload("toy", local.root, "/tmp/elsewhere")


def test_root_url_parsing():
    hub_root = remote_mod.parse_root("hf://datasets/org/name@v2/sub/dir")
    assert (hub_root.repo_id, hub_root.revision, hub_root.subdir) == ("org/name", "v2", "sub/dir")
    with pytest.raises(ValueError, match="hf://datasets/<org>/<repo>"):
        remote_mod.parse_root("hf://models/org/name")
    assert remote_mod.is_remote("s3://b/p") and remote_mod.is_remote("hf://datasets/a/b")
    assert not remote_mod.is_remote("/tmp/x") and not remote_mod.is_remote("file:///tmp/x")
    # one bucket on two endpoints: two cache folders
    a = remote_mod.parse_root("s3://b/p", {"endpoint_url": "http://127.0.0.1:1"})
    b = remote_mod.parse_root("s3://b/p", {"endpoint_url": "http://127.0.0.1:2"})
    assert a.cache_key != b.cache_key and a.cache_key.startswith("s3_b_p-")
    assert repo.stored_size({"files": {"a": {"size": 3, "sha256": ""}, "b": {"size": 4, "sha256": ""}}}) == 7
