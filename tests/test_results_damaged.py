"""``arena results check`` on missing roots, tags and jobs (issue 12, point 11), and damaged runs skipped with a
warning naming the file by ``arena plot``, ``arena table`` and ``ComparativeResults`` (point 12)."""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from launchers.study import ensure_study, record_sweep
from plotting.cli import add_commands as add_plot_commands
from results.cli import add_commands as add_results_commands
from results.comparative import ComparativeResults
from results.store import index_experiments
from results.synthetic import experiment_path, write_synthetic_study

METHODS = ["RS", "ASHA"]
SEEDS = range(3)


def _run(add_commands, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="arena")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def _study(root: Path, tag: str = "t", seeds=SEEDS) -> Path:
    write_synthetic_study(str(root), tag, ["bench"], METHODS, seeds, n_results=20)
    return root


# ------------------------------------------------------------------------------------------------------------
# point 11
# ------------------------------------------------------------------------------------------------------------


def test_check_fails_on_a_missing_root(tmp_path, capsys):
    assert _run(add_results_commands, "results", "check", str(tmp_path / "nowhere"), "--num-runs", "3") == 1
    err = capsys.readouterr().err
    assert f"results root {tmp_path / 'nowhere'} does not exist" in err


def test_check_fails_on_a_missing_tag_and_names_the_studies_found(tmp_path, capsys):
    root = _study(tmp_path / "results")
    assert _run(add_results_commands, "results", "check", str(root), "--tag", "typo", "--num-runs", "3") == 1
    err = capsys.readouterr().err
    assert "no study 'typo'" in err and "studies found: t" in err
    assert _run(add_results_commands, "results", "check", str(root), "--tag", "t", "--num-runs", "3") == 0


def test_check_fails_on_an_empty_root(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert _run(add_results_commands, "results", "check", str(tmp_path / "empty")) == 1
    assert "holds no study" in capsys.readouterr().err


def test_check_reports_recorded_jobs_that_never_created_a_folder(tmp_path, capsys):
    root = str(_study(tmp_path / "results"))
    ensure_study(root, "t", 7)
    jobs = [{"benchmark": b, "method": m, "seed": s} for b in ("bench", "corrupt-bench") for m in METHODS
            for s in SEEDS]
    record_sweep(root, "t", ["-m", "benchmark=bench,corrupt-bench"], jobs)
    assert _run(add_results_commands, "results", "check", root, "--num-runs", "3") == 1
    out = capsys.readouterr().out
    assert "6 recorded job(s) without a folder" in out
    assert "no folder: t/corrupt-bench/RS/0" in out and "no folder: t/corrupt-bench/ASHA/2" in out
    assert "benchmark 'corrupt-bench', setup 'RS': 0 complete run(s), expected 3" in out
    # Without --num-runs the recorded seeds give the expectation.
    assert _run(add_results_commands, "results", "check", root) == 1
    assert "setup 'ASHA': 0 complete run(s), expected 3" in capsys.readouterr().out


def test_record_sweep_keeps_one_entry_per_distinct_sweep(tmp_path):
    root = str(tmp_path)
    ensure_study(root, "t", 1)
    jobs = [{"benchmark": "b", "method": "RS", "seed": 0}]
    record_sweep(root, "t", ["seed=0"], jobs)
    record_sweep(root, "t", ["seed=0"], jobs)  # a rerun
    study = json.loads((tmp_path / "t" / "study.json").read_text())
    assert study["master_seed"] == 1 and len(study["sweeps"]) == 1


# ------------------------------------------------------------------------------------------------------------
# point 12
# ------------------------------------------------------------------------------------------------------------


def _damage(root: Path) -> dict[str, Path]:
    """A 0-byte results.parquet, a truncated metadata.json and a results.parquet of garbage."""
    files = {
        "empty": Path(experiment_path(str(root), "t", "bench", "RS", 0)) / "results.parquet",
        "truncated": Path(experiment_path(str(root), "t", "bench", "ASHA", 1)) / "metadata.json",
        "garbage": Path(experiment_path(str(root), "t", "bench", "ASHA", 2)) / "results.parquet",
    }
    files["empty"].write_bytes(b"")
    text = files["truncated"].read_text()
    files["truncated"].write_text(text[: len(text) // 2])
    files["garbage"].write_bytes(b"PAR1" + os.urandom(200) + b"PAR1")
    return files


def _messages(records) -> str:
    return "\n".join(str(r.message) for r in records)


def test_comparative_results_skip_damaged_runs_with_a_warning_naming_the_file(tmp_path):
    root = _study(tmp_path / "results")
    files = _damage(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        comparative = ComparativeResults(str(root))
        final = comparative.final_values()
    text = _messages(caught)
    for path in files.values():
        assert f"{path} is damaged" in text, text
    assert sorted(zip(final["setup"], final["seed"])) == [("ASHA", 0), ("RS", 1), ("RS", 2)]
    assert set(comparative.index.skipped["path"]) == {str(p.parent) for p in files.values()}


def test_arena_table_and_plot_skip_damaged_runs(tmp_path, capsys):
    root = _study(tmp_path / "results")
    files = _damage(root)
    with pytest.warns(UserWarning) as caught:
        assert _run(add_plot_commands, "table", str(root), "--n-boot", "20") == 0
    assert "| RS" in capsys.readouterr().out
    assert all(f"{p} is damaged" in _messages(caught) for p in files.values())
    with pytest.warns(UserWarning) as caught:
        code = _run(add_plot_commands, "plot", str(root), "--n-boot", "20", "--n-grid", "20",
                    "--out", str(tmp_path / "figures"), "--format", "png")
    assert code == 0 and any((tmp_path / "figures").glob("*.png"))
    assert f"{files['garbage']} is damaged" in _messages(caught)


def test_a_complete_run_without_any_result_is_left_out_of_tables(tmp_path, capsys):
    # What `max_wallclock_time=0` wrote before budgets were validated: `arena table` showed nan [nan, nan].
    root = _study(tmp_path / "results", seeds=[0])
    folder = Path(experiment_path(str(root), "t", "bench", "RS", 0))
    results = pd.read_parquet(folder / "results.parquet")
    results.iloc[:0].to_parquet(folder / "results.parquet", index=False)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["n_results"] = 0
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.warns(UserWarning, match="holds no result"):
        assert _run(add_plot_commands, "table", str(root), "--n-boot", "20") == 0
    assert "nan" not in capsys.readouterr().out


def test_results_check_lists_damaged_runs(tmp_path, capsys):
    root = _study(tmp_path / "results")
    files = _damage(root)
    assert _run(add_results_commands, "results", "check", str(root)) == 1
    out = capsys.readouterr().out
    assert f"damaged: {files['empty'].parent}" in out and "0 bytes, too short to be Parquet" in out
    assert f"damaged: {files['truncated'].parent}" in out and "JSONDecodeError" in out
    # A file of the right size but garbage inside is only found when read; the index then drops it.
    with pytest.warns(UserWarning, match="is damaged"):
        index = index_experiments(str(root))
    assert len(index.table) == 4
    with pytest.warns(UserWarning, match=f"{files['garbage']} is damaged"):
        loaded = index.load_results()
    assert len(loaded) == 3 and len(index.table) == 3 and str(files["garbage"].parent) in set(index.skipped["path"])
