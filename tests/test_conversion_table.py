"""``arena convert table``: a user's CSV or Parquet table becomes a blackbox; bad tables are refused with
messages naming the problem and nothing is written."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from blackbox_repo.conversion import InputError, convert, read
from blackbox_repo.conversion.cli import main
from blackbox_repo.repository import load_blackbox
from blackbox_repo.search_space import Categorical, Constant, Integer, LogUniform, Ordinal, Uniform


def user_table() -> pd.DataFrame:
    """12 configurations x 2 seeds x 3 epochs, with two (configuration, seed) curves stopped after epoch 2 and
    one empty objective cell."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        config = {
            "lr": float(10 ** rng.uniform(-5, -1)),  # 12 values over four decades -> LogUniform
            "momentum": float(rng.uniform(0.1, 0.9)),  # 12 values, one decade -> Uniform
            "layers": int(1 + i % 4),  # contiguous 1..4 -> Integer
            "width": int([16, 64, 256][i % 3]),  # three integers -> Ordinal
            "dropout": [0.0, 0.25, 0.5][i % 3],  # three floats -> Ordinal
            "optimizer": ["adam", "sgd"][i % 2],  # strings -> Categorical
            "nesterov": bool(i % 3 == 0),  # booleans -> Categorical
            "dataset": "cifar",  # one value -> Constant
        }
        for seed in (7, 9):
            for epoch in (1, 2, 3):
                if i in (3, 5) and seed == 9 and epoch == 3:
                    continue  # missing cells become NaN
                error = 1.0 / (epoch + i) + 0.01 * seed
                rows.append({**config, "seed": seed, "epoch": epoch, "error": error, "seconds": 2.0 * epoch,
                             "accuracy": 1.0 - error})
    frame = pd.DataFrame(rows)
    frame.loc[4, "accuracy"] = np.nan  # an empty objective cell is allowed
    return frame


OPTIONS = {"objectives": "error,accuracy", "modes": "min,max", "fidelity": "epoch", "seed_column": "seed",
           "time_objective": "seconds"}


@pytest.fixture()
def tables(tmp_path):
    frame = user_table()
    csv, parquet = tmp_path / "runs.csv", tmp_path / "runs.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return frame, csv, parquet


def test_csv_table_becomes_a_blackbox_with_an_inferred_space(tables, tmp_path):
    frame, csv, _ = tables
    with pytest.warns(UserWarning, match="2 \\(configuration, seed\\) curve\\(s\\) lack the time objective"):
        report = convert("table", csv, tmp_path / "repo", name="my-runs", progress=False, **OPTIONS)
    assert report.tasks == ["default"] and report.shape == (12, 2, 3, 3)
    bb = load_blackbox("my-runs", root=str(tmp_path / "repo"), task="default")
    space = bb.configuration_space
    lr = frame["lr"]
    assert isinstance(space["lr"], LogUniform) and (space["lr"].lower, space["lr"].upper) == (lr.min(), lr.max())
    assert isinstance(space["momentum"], Uniform)
    assert isinstance(space["layers"], Integer) and (space["layers"].lower, space["layers"].upper) == (1, 4)
    assert isinstance(space["width"], Ordinal) and space["width"].values() == [16, 64, 256]
    assert isinstance(space["dropout"], Ordinal) and space["dropout"].values() == [0.0, 0.25, 0.5]
    assert isinstance(space["optimizer"], Categorical) and space["optimizer"].values() == ["adam", "sgd"]
    assert isinstance(space["nesterov"], Categorical) and space["nesterov"].values() == [False, True]
    assert isinstance(space["dataset"], Constant) and space["dataset"].value == "cifar"
    assert bb.objectives_names == ["error", "accuracy", "seconds"]
    assert bb.fidelity_name == "epoch" and bb.fidelity_values.tolist() == [1, 2, 3]
    meta = bb.metadata
    assert (meta.default_metric, meta.mode, meta.time_objective) == ("error", "min", "seconds")
    assert meta.objective_modes == {"error": "min", "accuracy": "max", "seconds": "min"}
    assert meta.seeds == [7, 9] and bb.num_seeds == 2
    # Every row of the file is where it belongs; the two curves stopped early are NaN at epoch 3.
    for _, row in frame.iterrows():
        config = {k: row[k] for k in space.names}
        seed = [7, 9].index(row["seed"])
        got = bb.evaluate(config, fidelity=int(row["epoch"]), seed=seed)
        np.testing.assert_allclose(got, row[["error", "accuracy", "seconds"]].to_numpy(float), equal_nan=True)
    assert np.isnan(bb.objectives[:, 1, 2, 0]).sum() == 2 and np.isnan(bb.objectives[:, :, :, 0]).sum() == 2


def test_parquet_and_csv_give_the_same_blackbox(tables, tmp_path):
    _, csv, parquet = tables
    with pytest.warns(UserWarning, match="lack the time objective"):
        a = read("table", csv, name="t", **OPTIONS)["default"]
    with pytest.warns(UserWarning, match="lack the time objective"):
        b = read("table", parquet, name="t", **OPTIONS)["default"]
    assert a.configuration_space.to_dict() == b.configuration_space.to_dict()
    np.testing.assert_array_equal(a.objectives, b.objectives)
    pd.testing.assert_frame_equal(a.hyperparameters, b.hyperparameters)


def test_tasks_explicit_space_and_max_ordinal(tmp_path):
    frame = pd.DataFrame({
        "dataset": ["a", "a", "b", "b", "b"], "lr": [0.1, 0.2, 0.1, 0.3, 0.4], "depth": [1, 2, 1, 2, 3],
        "loss": [1.0, 2.0, 3.0, 4.0, 5.0],
    })
    path = tmp_path / "multi.csv"
    frame.to_csv(path, index=False)
    space = {"lr": {"type": "loguniform", "lower": 0.01, "upper": 1.0}}
    out = read("table", path, name="multi", objectives="loss", task_column="dataset", space=json.dumps(space),
               max_ordinal=2)
    assert list(out) == ["a", "b"]
    a, b = out["a"], out["b"]
    assert isinstance(a.configuration_space["lr"], LogUniform) and a.configuration_space["lr"].upper == 1.0
    assert isinstance(a.configuration_space["depth"], Integer)
    # One hyperparameter table shared by the tasks: a task's values are NaN in the other task's rows.
    assert len(a.hyperparameters) == 4
    assert a.evaluate({"lr": 0.2, "depth": 2}).tolist() == [2.0] and np.isnan(a.evaluate({"lr": 0.4, "depth": 3})[0])
    assert b.evaluate({"lr": 0.1, "depth": 1}).tolist() == [3.0]
    assert list(read("table", path, name="multi", objectives="loss", task_column="dataset", tasks=["b"])) == ["b"]
    with pytest.raises(InputError, match=r"lr holds 2 value\(s\) outside the given domain .*: 0.3 at row 3 \(line 5\), 0.4 at row 4"):
        read("table", path, name="m", objectives="loss", task_column="dataset",
             space={"lr": {"type": "uniform", "lower": 0.0, "upper": 0.25}})
    with pytest.raises(InputError, match=r"names \['lrr'\], which are not hyperparameter columns"):
        read("table", path, name="m", objectives="loss", task_column="dataset", space={"lrr": {"type": "uniform",
                                                                                              "lower": 0, "upper": 1}})


def _refused(tmp_path, capsys, frame: pd.DataFrame, *args: str) -> str:
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "repo"
    rc = main(["convert", "table", "--input", str(path), "--out", str(out), "--name", "bad", *args])
    err = capsys.readouterr().err
    assert rc == 1 and "nothing was written" in err, err
    assert not out.exists() or not any(out.iterdir())
    return err


def test_bad_tables_are_refused_with_the_offending_rows_and_nothing_is_written(tmp_path, capsys):
    good = pd.DataFrame({"x": [1, 2, 3, 1], "seed": [0, 0, 0, 1], "err": [0.5, 0.4, 0.3, 0.6]})
    err = _refused(tmp_path, capsys, pd.concat([good, good.iloc[[1]]]), "--objectives", "err",
                   "--seed-column", "seed")
    assert "1 (configuration, seed) combination(s) appear more than once" in err
    assert "rows 1, 4 (lines 3, 6): configuration {'x': 2}, seed=0" in err
    err = _refused(tmp_path, capsys, good, "--objectives", "err,time")
    assert "no column(s) ['time']" in err and "['x', 'seed', 'err']" in err
    text = good.astype({"err": object})
    text.loc[2, "err"] = "low"
    err = _refused(tmp_path, capsys, text, "--objectives", "err", "--seed-column", "seed")
    assert "objective column 'err' is not numeric" in err and "row 2 (line 4): ['low']" in err
    err = _refused(tmp_path, capsys, good, "--objectives", "err", "--hyperparameters", "x")  # x=1 twice
    assert "appear more than once" in err and "--seed-column" in err
    empty = good.astype({"x": float})
    empty.loc[0, "x"] = np.nan
    err = _refused(tmp_path, capsys, empty, "--objectives", "err", "--seed-column", "seed")
    assert "hyperparameter column 'x' has 1 empty cell(s), first at row 0 (line 2)" in err
    err = _refused(tmp_path, capsys, good, "--objectives", "err", "--fidelity", "err")
    assert "cannot be both the objective and the fidelity column" in err
    err = _refused(tmp_path, capsys, good.set_index("x").reset_index().rename(columns={"x": "Unnamed: 0"}),
                   "--objectives", "err", "--seed-column", "seed")
    assert "['Unnamed: 0'] look like a saved row index" in err


def test_command_line_refuses_table_options_elsewhere_and_missing_ones(tables, tmp_path, capsys):
    _, csv, _ = tables
    out = str(tmp_path / "repo")
    assert main(["convert", "lcbench", "--input", str(csv), "--out", out, "--objectives", "x"]) == 2
    assert "--objectives applies to the table source only" in capsys.readouterr().err
    assert main(["convert", "table", "--input", str(csv), "--out", out, "--name", "n"]) == 2
    assert "--objectives" in capsys.readouterr().err
    assert main(["convert", "table", "--input", str(csv), "--out", out, "--objectives", "error"]) == 2
    assert "--name" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="lack the time objective"):
        assert main(["convert", "table", "--input", str(csv), "--out", out, "--name", "ok", "--objectives",
                     "error,accuracy", "--modes", "min,max", "--fidelity", "epoch", "--seed-column", "seed",
                     "--time-objective", "seconds", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote ok" in printed and "12 configurations x 2 seed(s) x 3 fidelities x 3 objective(s)" in printed
    assert "lr: LogUniform(" in printed and "width: Ordinal(values=[16, 64, 256])" in printed
    # --dry-run validates and prints the space without a repository.
    with pytest.warns(UserWarning, match="lack the time objective"):
        assert main(["convert", "table", "--input", str(csv), "--name", "dry", "--objectives", "error,accuracy",
                     "--fidelity", "epoch", "--seed-column", "seed", "--time-objective", "seconds", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "is valid (nothing written)" in printed and "optimizer: Categorical(values=['adam', 'sgd'])" in printed
    assert not (tmp_path / "repo" / "dry").exists()
    assert main(["convert", "table", "--input", str(csv), "--name", "x", "--objectives", "error"]) == 2
    assert "--out" in capsys.readouterr().err
