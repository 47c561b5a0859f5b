"""benchmarks/time_one_run.py: the stored-run comparison and the refusal of a work dir without a repository."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from time_one_run import main, stored_frames_equal


def _write_run(folder: Path, values: list[float], real_times: list[float]) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame({"trial_id": [0, 1], "fidelity": [1.0, 1.0], "loss": values, "real_time": real_times}
                 ).to_parquet(folder / "results.parquet")
    pd.DataFrame({"trial_id": [0, 1], "status": ["completed", "paused"]}).to_parquet(folder / "trials.parquet")


def test_runs_equal_up_to_real_time_and_a_changed_result_is_caught(tmp_path):
    _write_run(tmp_path / "stored", [0.5, 0.25], [1.0, 2.0])
    _write_run(tmp_path / "same", [0.5, 0.25], [7.0, 9.0])  # another machine load: real time differs only
    _write_run(tmp_path / "other", [0.5, 0.2500001], [1.0, 2.0])
    assert stored_frames_equal(tmp_path / "same", tmp_path / "stored") == {"results.parquet": True,
                                                                         "trials.parquet": True}
    assert stored_frames_equal(tmp_path / "other", tmp_path / "stored")["results.parquet"] is False


def test_a_work_dir_without_a_converted_repository_is_refused(tmp_path, capsys):
    assert main(["xgboost-sklearn-digits", "DYHPO", "0", "--work-dir", str(tmp_path)]) == 2
    assert "repository" in capsys.readouterr().err
