"""Reading stored experiments: index, completeness, run-count checks, filtering, HyperDrive queries."""

import argparse
import json
import os
import socket
import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from results.cli import add_commands
from results.hyperdrive_queries import (
    best_trial,
    hyperparameters,
    metrics,
    primary_metric_per_trial,
    sorted_trials,
)
from results.store import Experiment, index_experiments, load_experiment, read_results
from results.synthetic import SyntheticRun, experiment_path, write_synthetic_experiment, write_synthetic_study


@pytest.fixture(scope="module")
def study_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("results"))
    write_synthetic_study(root, "study", ["bench-a", "bench-b"], ["RS", "ASHA"], range(3), n_results=40)
    return root


def test_load_experiment_reads_schema_and_only_requested_columns(study_root):
    path = experiment_path(study_root, "study", "bench-a", "RS", 0)
    experiment = load_experiment(path)
    assert experiment.metadata["status"] == "complete"
    assert experiment.metric == "val_error" and experiment.mode == "min"
    assert len(experiment.results) == experiment.metadata["n_results"] == 40
    assert {"trial_id", "fidelity", "val_error", "sim_time", "real_time", "worker", "decision"} <= set(
        experiment.results.columns
    )
    assert np.all(np.diff(experiment.results["sim_time"]) >= 0)
    assert len(experiment.trials) == experiment.metadata["n_trials"]
    narrow = read_results(path, columns=["trial_id", "val_error", "not_a_column"])
    assert list(narrow.columns) == ["trial_id", "val_error"]


def test_index_by_benchmark_setup_subplot_seed(study_root):
    index = index_experiments(
        study_root,
        metadata_to_setup=lambda m: f"{m['method']}-w{m['n_workers']}",
        metadata_to_subplot=lambda m: m["benchmark"][-1],
    )
    assert len(index.table) == 12
    assert set(index.table["setup"]) == {"RS-w4", "ASHA-w4"}
    assert set(index.table["subplot"]) == {"a", "b"}
    assert sorted(index.table["seed"].unique()) == [0, 1, 2]
    assert index.check(num_runs=3) == []
    filtered = index_experiments(
        study_root, metadata_to_setup=lambda m: m["method"] if m["seed"] < 2 else None
    )
    assert len(filtered.table) == 8


def test_setups_argument_orders_and_warns_about_absent(study_root):
    with pytest.warns(UserWarning, match=r"setups \['BOHB'\] were asked for"):
        index = index_experiments(study_root, setups=["RS", "BOHB"])
    assert set(index.table["setup"]) == {"RS"}
    assert index.setups == ["RS", "BOHB"]


def test_missing_and_duplicated_seeds_are_warned(tmp_path):
    root = str(tmp_path)
    write_synthetic_study(root, "one", ["bench"], ["RS", "ASHA"], range(3), n_results=20)
    write_synthetic_study(root, "two", ["bench"], ["RS"], [1], n_results=20)  # seed 1 again
    os.remove(os.path.join(experiment_path(root, "one", "bench", "ASHA", 2), "metadata.json"))
    index = index_experiments(root)
    with pytest.warns(UserWarning) as caught:
        problems = index.check(num_runs=3)
    messages = [str(w.message) for w in caught]
    assert any("'ASHA'" in m and "missing seeds [2]" in m for m in messages)
    assert any("'RS'" in m and "seed 1 appears 2 times" in m for m in messages)
    assert {p.setup for p in problems} == {"RS", "ASHA"}
    # Combining only tag "one" gives no duplicates.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        only_one = index_experiments(root, tags="one")
    assert [p.setup for p in only_one.check(num_runs=None, warn=False)] == ["ASHA"]


def test_incomplete_experiments_are_skipped_and_reported(tmp_path):
    root = str(tmp_path)
    write_synthetic_experiment(root, SyntheticRun("t", "bench", "RS", 0, n_results=10))
    write_synthetic_experiment(root, SyntheticRun("t", "bench", "RS", 1, n_results=10, status="running"))
    with pytest.warns(UserWarning, match="not complete"):
        index = index_experiments(root)
    assert list(index.table["seed"]) == [0]
    assert list(index.skipped["status"]) == ["running"]


def test_datetime_bounds_filter_on_started_at(tmp_path):
    root = str(tmp_path)
    for seed, day in [(0, 1), (1, 5), (2, 9)]:
        started = datetime(2026, 3, day, tzinfo=UTC)
        write_synthetic_experiment(
            root, SyntheticRun("t", "bench", "RS", seed, n_results=10, started_at=started)
        )
    index = index_experiments(root, datetime_bounds=("2026-03-02", datetime(2026, 3, 8, tzinfo=UTC)))
    assert list(index.table["seed"]) == [1]
    assert list(
        index_experiments(root, datetime_bounds=(None, "2026-03-05T00:00:00+00:00")).table["seed"]
    ) == [0, 1]


def test_results_check_command_exit_status(tmp_path, capsys):
    root = str(tmp_path)
    write_synthetic_study(root, "t", ["bench"], ["RS", "ASHA"], range(2), n_results=10)
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["results", "check", root, "--num-runs", "2"])
    assert args.func(args) == 0
    args = parser.parse_args(["results", "check", root, "--num-runs", "3"])
    assert args.func(args) == 1
    assert "expected 3" in capsys.readouterr().out


def test_missing_root_warns_and_gives_empty_index(tmp_path):
    with pytest.warns(UserWarning, match="no complete experiment"):
        index = index_experiments(str(tmp_path / "nothing"))
    assert index.table.empty


# ---------------------------------------------------------------- HyperDrive queries


def _experiment(mode: str = "min") -> Experiment:
    results = pd.DataFrame(
        {
            "trial_id": [0, 1, 0, 2, 1, 3],
            "fidelity": [1.0, 1.0, 2.0, 1.0, 2.0, 1.0],
            "acc": [0.5, 0.7, 0.4, np.nan, 0.9, 0.2],
            "sim_time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "decision": ["continue"] * 6,
            "config.lr": [0.1, 0.01, 0.1, 0.5, 0.01, 0.2],
        }
    )
    trials = pd.DataFrame(
        {
            "trial_id": [0, 1, 2, 3, 4],
            "status": ["completed", "completed", "failed", "stopped", "running"],
            "config.lr": [0.1, 0.01, 0.5, 0.2, 0.3],
        }
    )
    metadata = {"metric": "acc", "mode": mode, "objectives": ["acc"]}
    return Experiment(path="memory", metadata=metadata, results=results, trials=trials)


def test_sorted_trials_best_first_with_missing_metric_last():
    experiment = _experiment("max")
    # Best value per trial (max mode): 0 -> 0.5, 1 -> 0.9, 3 -> 0.2; trials 2 and 4 have none.
    order = [t["trial_id"] for t in sorted_trials(experiment)]
    assert order == [1, 0, 3, 2, 4]
    assert [t["trial_id"] for t in sorted_trials(experiment, reverse=True)] == [3, 0, 1, 2, 4]
    assert [t["trial_id"] for t in sorted_trials(experiment, top=2)] == [1, 0]
    top = sorted_trials(experiment, top=1)[0]
    assert top["acc"] == 0.9 and top["status"] == "completed" and top["hyperparameters"] == {"lr": 0.01}
    assert sorted_trials(experiment)[-1]["acc"] is None


def test_sorted_trials_min_mode_uses_minimum_per_trial():
    experiment = _experiment("min")
    values = primary_metric_per_trial(experiment)
    assert values.loc[0] == 0.4 and values.loc[1] == 0.7 and np.isnan(values.loc[2])
    assert [t["trial_id"] for t in sorted_trials(experiment)] == [3, 0, 1, 2, 4]
    assert best_trial(experiment)["trial_id"] == 3


def test_hyperparameters_and_metrics():
    experiment = _experiment()
    assert hyperparameters(experiment) == {
        0: {"lr": 0.1},
        1: {"lr": 0.01},
        2: {"lr": 0.5},
        3: {"lr": 0.2},
        4: {"lr": 0.3},
    }
    all_metrics = metrics(experiment)
    assert all_metrics[0] == {"fidelity": [1.0, 2.0], "acc": [0.5, 0.4]}
    assert all_metrics[4] == {}
    with pytest.raises(ValueError, match="pass mode"):
        sorted_trials(experiment, metric="fidelity")


def test_best_trial_is_none_without_metric_values():
    experiment = _experiment()
    experiment.results["acc"] = np.nan
    assert best_trial(experiment) is None


def test_queries_on_a_stored_experiment(study_root):
    experiment = load_experiment(experiment_path(study_root, "study", "bench-a", "ASHA", 1))
    ranking = sorted_trials(experiment)
    values = [r["val_error"] for r in ranking]
    assert values == sorted(values)
    assert best_trial(experiment)["val_error"] == pytest.approx(experiment.results["val_error"].min())
    with open(os.path.join(experiment.path, "metadata.json")) as handle:
        assert json.load(handle)["n_trials"] == len(hyperparameters(experiment))


# ---------------------------------------------------------------- S3 through fsspec (moto server)


@pytest.fixture
def s3_root(tmp_path, monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("fsspec")
    import fsspec.config

    s3fs = pytest.importorskip("s3fs")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # fsspec passes these options to every s3:// filesystem, which is how users point at MinIO etc.
    monkeypatch.setitem(
        fsspec.config.conf,
        "s3",
        {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"},
    )
    try:
        fs = fsspec.filesystem("s3")
        fs.mkdir("bucket")
        local = str(tmp_path / "local")
        write_synthetic_study(local, "t", ["bench"], ["RS", "BO"], range(2), n_results=15)
        write_synthetic_experiment(local, SyntheticRun("t", "bench", "BO", 2, n_results=5, status="failed"))
        fs.put(os.path.join(local, "t"), "bucket/prefix/t", recursive=True)
        yield "s3://bucket/prefix", local
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def test_reading_from_s3_matches_local(s3_root):
    from results.comparative import ComparativeResults

    url, local = s3_root
    with pytest.warns(UserWarning, match="not complete"):
        index = index_experiments(url)
    assert min(index.table["path"]) == "s3://bucket/prefix/t/bench/BO/0"
    assert list(index.skipped["status"]) == ["failed"]
    remote = load_experiment(min(index.table["path"]))
    pd.testing.assert_frame_equal(remote.results, read_results(experiment_path(local, "t", "bench", "BO", 0)))
    with pytest.warns(UserWarning, match="not complete"):
        from_s3 = ComparativeResults(url, num_runs=2).aggregate("bench", n_boot=20, n_grid=10)
    with pytest.warns(UserWarning, match="not complete"):
        from_disk = ComparativeResults(local, num_runs=2).aggregate("bench", n_boot=20, n_grid=10)
    pd.testing.assert_frame_equal(from_s3, from_disk)


def test_local_roots_are_read_as_fsspec_reads_them(tmp_path, monkeypatch):
    """Local roots are read without fsspec (``results.store._LocalFiles``); the index, its paths, the skipped
    runs, the warnings and the tables equal what fsspec's LocalFileSystem gives, for a relative root, a root
    reached through a symbolic link, a trailing slash and a file:// URL, with a hidden tag and a damaged run."""
    import fsspec

    from results import store

    real = tmp_path / "real"
    for tag in ("study", ".hidden"):
        write_synthetic_study(str(real), tag, ["bench-a"], ["RS", "ASHA"], range(2), n_results=12)
    write_synthetic_experiment(str(real), SyntheticRun("study", "bench-a", "RS", 5, n_results=10, status="running"))
    damaged = real / "study" / "bench-a" / "ASHA" / "1" / "results.parquet"
    damaged.write_bytes(b"PAR")
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)

    def read(root):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            index = index_experiments(root)
            tables = index.load_results(columns=["trial_id", "sim_time"])
        return (index.table.to_dict("list"), index.skipped.to_dict("list"), sorted(index.metadata),
                [str(w.message) for w in caught], {p: t.to_dict("list") for p, t in tables.items()},
                store.list_tags(root), store.read_study(root, "study"))

    roots = ["real", "./link/", str(real) + "/", f"file://{real}"]
    ours = [read(root) for root in roots]
    assert isinstance(store._filesystem("real")[0], store._LocalFiles)
    skipped, tags = ours[0][1], ours[0][5]
    assert skipped["status"] == ["damaged", "running"] and tags == [".hidden", "study"]
    assert len(ours[0][2]) == 7 and ours[1][0]["path"][0].startswith(f"{tmp_path}/link/")  # the link is kept
    monkeypatch.setattr(store, "_filesystem", lambda url: fsspec.core.url_to_fs(url))
    assert ours == [read(root) for root in roots]
