"""``arena blackboxes list|show|eval|upload`` through an argparse parser built with add_commands."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from blackbox_repo import repository as repo
from blackbox_repo.cli import add_commands, parse_value
from blackbox_repo.repository import serialize
from blackbox_repo.search_space import Categorical, FiniteRange, Integer, Ordinal, Uniform

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.test_repository import make_tables
except ImportError:
    from test_repository import make_tables


def run(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["blackboxes", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HPO_ARENA_REPOSITORY", str(tmp_path / "default-root"))
    monkeypatch.setattr(repo, "embedded_root", lambda: tmp_path / "embedded")
    tables = make_tables()
    serialize(tables, tmp_path / "root", "toy")
    serialize({"only": tables["cifar10"]}, tmp_path / "root", "solo")
    return tmp_path / "root"


def test_list(capsys, root):
    code, out, _ = run(capsys, "list", "--root", str(root))
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "KIND", "TASKS", "CONFIGS", "SIZE", "WHERE"]
    assert lines[1].split()[:4] == ["solo", "tabular", "1", "54"]
    assert lines[2].split()[:4] == ["toy", "tabular", "2", "54"] and lines[2].endswith(str(root / "toy"))
    code, out, _ = run(capsys, "list")
    assert code == 0 and out.strip() == "no blackboxes in the default repository or the embedded benchmarks"


def test_show(capsys, root):
    code, out, _ = run(capsys, "show", "toy", "--root", str(root))
    assert code == 0
    meta = json.loads((root / "toy" / "metadata.json").read_text())
    size_kb = sum(f["size"] for f in meta["files"].values()) / 1000
    assert out.splitlines()[0] == f"toy (tabular, format 1) at {root / 'toy'}"
    for expected in ("source:       unit test", "licence:      CC0-1.0", f"size on disk: {size_kb:.1f} kB in 3 files",
                     "tasks (2):    cifar10, svhn/ext", "fidelity:     epoch, 4 values: 1, 2, 4, 8",
                     "seeds:        2 (upstream [777, 888])",
                     "objectives:   error (min, default metric), time (time, cumulative)",
                     "configurations: 54", "search space (4 hyperparameters):",
                     "op     categorical values=['conv', 'pool', 'skip']", "depth  integer lower=1, upper=3, log=False"):
        assert expected in out, expected


def test_eval_prints_objectives(capsys, root):
    tables = make_tables()
    cfg = {"op": "pool", "depth": 2, "lr": 0.01, "bn": True}
    code, out, _ = run(capsys, "eval", "toy", "--root", str(root), "--task", "svhn/ext", "--fidelity", "4",
                       "--seed", "1", "op=pool", "depth=2", "lr=0.01", "bn=true")
    expected = tables["svhn/ext"].evaluate(cfg, 4, 1)
    assert code == 0
    assert out.splitlines() == ["toy / svhn/ext  (epoch=4, seed 1)", f"  error  {expected[0]:.6g}",
                                f"  time   {expected[1]:.6g}"]
    # assignments before the options, default fidelity (the largest), JSON output
    code, out, _ = run(capsys, "eval", "solo", "op=pool", "depth=2", "lr=1e-2", "bn=True", "--root", str(root),
                       "--json")
    record = json.loads(out)
    assert code == 0 and record["task"] == "only" and record["fidelity"] == 8 and record["config"] == cfg
    assert record["objectives"] == tables["cifar10"].objective(cfg, 8, 0)


@pytest.mark.parametrize("argv, message", [
    (["toi"], "no blackbox named 'toi' at {root}; did you mean 'toy'?"),
    (["toy"], "toy has 2 tasks; choose one with --task (cifar10, svhn/ext)"),
    (["toy", "--task", "cifar"], "unknown task of toy 'cifar'; did you mean 'cifar10'?"),
    (["solo", "opp=pool"], "unknown hyperparameter 'opp'; did you mean 'op'?"),
    (["solo", "op=poo", "depth=2", "lr=0.01", "bn=true"], "unknown value for op 'poo'; did you mean 'pool'?"),
    (["solo", "op=pool", "depth=two", "lr=0.01", "bn=true"], "depth='two': expected an integer in [1, 3]"),
    (["solo", "op=pool", "depth=2"], "missing hyperparameters ['lr', 'bn']"),
    (["solo", "op=pool", "depth=2", "lr=0.05", "bn=true"], "lr=0.05 does not occur in the table (nearest values"),
    (["solo", "op=pool", "depth=2", "lr=0.01", "bn=true", "--fidelity", "3"],
     "fidelity epoch=3 is not tabulated for toy/only; closest valid: 1, 2, 4 (range 1..8, 4 values)"),
    (["solo", "op=pool", "depth=2", "lr=0.01", "bn=true", "--seed", "5"], "seed 5 is not available"),
])
def test_eval_errors_name_the_closest(capsys, root, argv, message):
    code, out, err = run(capsys, "eval", *argv, "--root", str(root))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message.format(root=root) in err


def test_parse_value_types():
    assert parse_value("d", Integer(1, 5), "3") == 3 and isinstance(parse_value("d", Integer(1, 5), "3.0"), int)
    assert parse_value("x", Uniform(0, 1), "0.25") == 0.25
    assert parse_value("b", Ordinal([False, True]), "False") is False
    assert parse_value("n", Categorical([16, 32]), "32") == 32 and isinstance(parse_value("n", Categorical([16, 32]), "32"), int)
    values = FiniteRange(0.001, 0.1, 3, log=True).values()
    assert parse_value("lr", FiniteRange(0.001, 0.1, 3, log=True), "1e-2") == values[1]
    with pytest.raises(ValueError, match=r"outside its domain"):
        parse_value("x", Uniform(0, 1), "2")


def test_upload_to_s3(capsys, root, tmp_path):
    """Uploads to a moto S3 server on 127.0.0.1 and loads the result back."""
    from moto.server import ThreadedMotoServer

    try:
        from tests.test_remote import _free_port
    except ImportError:
        from test_remote import _free_port
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        import boto3

        mp = pytest.MonkeyPatch()
        endpoint = f"http://127.0.0.1:{port}"
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        try:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="cli")
            code, out, _ = run(capsys, "upload", "toy", "--root", str(root), "--to", "s3://cli/bench")
            assert code == 0 and out.strip() == "uploaded toy to s3://cli/bench/toy"
            group = repo.load_blackbox("toy", "s3://cli/bench", cache_dir=tmp_path / "c")
            assert np.array_equal(group["cifar10"].objectives, make_tables()["cifar10"].objectives, equal_nan=True)
            code, out, _ = run(capsys, "list", "--root", "s3://cli/bench")
            assert code == 0 and out.splitlines()[1].split()[:3] == ["toy", "tabular", "2"]
        finally:
            mp.undo()
    finally:
        server.stop()
