"""Benchmarks from the user's config folder (``DIR/benchmark/NAME.yaml``), nothing inside the package:
validation with messages naming the file and the key, ``arena benchmarks list --config-dir``, and a user's
CSV and Parquet tables plus a user's function run end to end through ``arena sweep``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark_definitions.definitions import FunctionBenchmark, SimulatedBenchmark
from benchmark_definitions.registry import all_benchmarks
from benchmark_definitions.user import UserBenchmarkError, load_user_benchmarks
from blackbox_repo.conversion.cli import main as convert_main
from launchers.cli import main as arena_main
from launchers.hydra_app import _without_config_dir_flags, user_config_dirs

REPO = Path(__file__).resolve().parents[1]

TABLE_YAML = """\
blackbox: {blackbox}
task: default
metric: error
mode: min
max_wallclock_time: 12
n_workers: 2
restrict_to_table: true
repository: ../../repo
"""
FUNCTION_YAML = """\
kind: function
function: ../problems.py:make
function_kwargs: {levels: 3}
metric: y
mode: min
max_wallclock_time: 15
n_workers: 2
"""
PROBLEMS = """\
import numpy as np

from blackbox_repo.function import FunctionProblem
from blackbox_repo.search_space import SearchSpace, Uniform


def bowl(config, fidelity):
    return {"y": (config["a"] - 0.25) ** 2 + (config["b"] - 0.75) ** 2 + 0.1 / fidelity}


def make(levels=4):
    return FunctionProblem(function=bowl, configuration_space=SearchSpace({"a": Uniform(0, 1), "b": Uniform(0, 1)}),
                           objectives=["y"], name="bowl", fidelity_name="epoch",
                           fidelity_values=tuple(range(1, levels + 1)), best_possible=0.1 / levels)
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


@pytest.fixture()
def config_dir(tmp_path) -> Path:
    return _write(tmp_path / "cfg", {
        "benchmark/my-csv.yaml": TABLE_YAML.format(blackbox="my-csv"),
        "benchmark/my-fn.yaml": FUNCTION_YAML,
        "problems.py": PROBLEMS,
    })


def test_user_benchmarks_are_loaded_normalised_and_listed(config_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HPO_ARENA_CONFIG_DIR", raising=False)
    user = load_user_benchmarks([config_dir])
    assert list(user) == ["my-csv", "my-fn"]
    table, function = user["my-csv"].benchmark, user["my-fn"].benchmark
    assert isinstance(table, SimulatedBenchmark) and isinstance(function, FunctionBenchmark)
    assert table.name == "my-csv" and table.family == "user" and table.restrict_to_table
    assert table.repository == str((tmp_path / "repo").resolve())  # relative to the YAML file's folder
    assert function.function == f"{(config_dir / 'problems.py').resolve()}:make"
    assert function.function_kwargs == {"levels": 3}
    assert "my-csv" not in all_benchmarks()
    monkeypatch.setenv("HPO_ARENA_CONFIG_DIR", str(config_dir))
    assert {"my-csv", "my-fn"} <= set(all_benchmarks())
    monkeypatch.delenv("HPO_ARENA_CONFIG_DIR")

    assert arena_main(["benchmarks", "list", "my-*", "--config-dir", str(config_dir), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["my-csv"]["data"] == "missing" and rows["my-fn"]["data"] == "function"
    assert rows["my-fn"]["defined_in"] == str(config_dir.resolve() / "benchmark" / "my-fn.yaml")
    assert arena_main(["benchmarks", "list", "--config-dir", str(config_dir)]) == 0
    printed = capsys.readouterr().out
    assert "my-fn" in printed and "2 user benchmark(s) from" in printed and "synthetic-branin" in printed


@pytest.mark.parametrize("file_text,message", [
    ("blackbox: t\ntask: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping of keys, got a list"),
    ("", "the file is empty"),
    (TABLE_YAML.format(blackbox="t") + "n_worker: 3\n",
     "unknown key 'n_worker' for a simulated benchmark; did you mean 'n_workers'?"),
    ("blackbox: t\ntask: default\nmode: min\nmax_wallclock_time: 10\n", r"missing required key(s) ['metric']"),
    (TABLE_YAML.format(blackbox="t").replace("n_workers: 2", "n_workers: four"),
     "key 'n_workers' must be an integer, got 'four'"),
    (TABLE_YAML.format(blackbox="t").replace("mode: min", "mode: minimise"), "key 'mode' must be 'min' or 'max'"),
    (TABLE_YAML.format(blackbox="t").replace("max_wallclock_time: 12", "max_wallclock_time: 1e3"),
     "YAML reads '1e3' as text, write it as 1.0e+3"),
    (TABLE_YAML.format(blackbox="t") + "name: other\n", "key 'name' is 'other', but a benchmark's name is its file's"),
    ("kind: surrogate\n", "key 'kind' must be one of"),
    (FUNCTION_YAML.replace("../problems.py:make", "braninn"), "did you mean 'branin'?"),
])
def test_bad_files_are_refused_naming_the_file_and_the_key(tmp_path, file_text, message):
    folder = _write(tmp_path / "cfg", {"benchmark/mine.yaml": file_text})
    with pytest.raises(UserBenchmarkError) as info:
        load_user_benchmarks([folder])
    assert str(folder / "benchmark" / "mine.yaml") in str(info.value)
    assert message in str(info.value)


def test_shadowing_and_duplicate_names_are_refused(tmp_path, capsys):
    shadow = _write(tmp_path / "a", {"benchmark/synthetic-branin.yaml": FUNCTION_YAML})
    with pytest.raises(UserBenchmarkError, match="shadows the built-in benchmark"):
        load_user_benchmarks([shadow])
    assert arena_main(["benchmarks", "list", "--config-dir", str(shadow)]) == 2
    assert "synthetic-branin.yaml: benchmark 'synthetic-branin' shadows" in capsys.readouterr().err
    one = _write(tmp_path / "b", {"benchmark/mine.yaml": FUNCTION_YAML})
    two = _write(tmp_path / "c", {"benchmark/mine.yaml": FUNCTION_YAML})
    with pytest.raises(UserBenchmarkError, match="is also defined in"):
        load_user_benchmarks([one, two])
    with pytest.raises(UserBenchmarkError, match="does not exist"):
        load_user_benchmarks([tmp_path / "nowhere"])


def test_sweep_arguments_name_the_config_folders(tmp_path, monkeypatch):
    folders = [tmp_path / n for n in "abcde"]
    for f in folders:
        f.mkdir()
    monkeypatch.setenv("HPO_ARENA_CONFIG_DIR", str(folders[4]))
    argv = ["-m", "method=RS", "--config-dir", str(folders[0]), "-cd", str(folders[1]), f"--config-dir={folders[2]}",
            f"hydra.searchpath=[file://{folders[3]},pkg://somewhere]", "seed=0"]
    assert user_config_dirs(argv) == [f.resolve() for f in folders]
    # The folders reach Hydra through the search-path plugin; the flags are dropped so overrides stay together.
    assert _without_config_dir_flags(argv) == ["-m", "method=RS", argv[-2], "seed=0"]


def _table(seed: int) -> pd.DataFrame:
    """24 configurations x 2 seeds x 4 epochs, complete."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(24):
        config = {"lr": float(10 ** rng.uniform(-4, -1)), "depth": int(1 + i % 5), "act": ["relu", "tanh"][i % 2]}
        for s in (0, 1):
            elapsed = 0.0
            for epoch in range(1, 5):
                elapsed += 0.5 + 0.1 * config["depth"]
                error = abs(np.log10(config["lr"]) + 2.5) / epoch + 0.05 * s + 0.01 * config["depth"]
                rows.append({**config, "seed": s, "epoch": epoch, "error": error, "elapsed": elapsed})
    return pd.DataFrame(rows)


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(workdir / "results"), HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    for key in ("HPO_ARENA_CONFIG_DIR", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HPO_ARENA_JOB_STATS"):
        env.pop(key, None)
    return env


def _sweep(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launchers.cli", "sweep", *args], cwd=workdir, env=_env(workdir),
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.timeout(300)
def test_user_tables_and_function_run_end_to_end_through_arena_sweep(tmp_path):
    """CSV and Parquet copies of one table, converted with `arena convert table`, and a function in the config
    folder, swept from YAML files outside the package with a shipped synthetic benchmark alongside."""
    frame = _table(0)
    frame.to_csv(tmp_path / "runs.csv", index=False)
    frame.to_parquet(tmp_path / "runs.parquet", index=False)
    for name, file in (("my-csv", "runs.csv"), ("my-parquet", "runs.parquet")):
        assert convert_main(["convert", "table", "--input", str(tmp_path / file), "--out", str(tmp_path / "repo"),
                             "--name", name, "--objectives", "error", "--fidelity", "epoch", "--seed-column", "seed",
                             "--time-objective", "elapsed", "--no-progress"]) == 0
    config = _write(tmp_path / "cfg", {
        "benchmark/my-csv.yaml": TABLE_YAML.format(blackbox="my-csv"),
        "benchmark/my-parquet.yaml": TABLE_YAML.format(blackbox="my-parquet"),
        "benchmark/my-fn.yaml": FUNCTION_YAML,
        "problems.py": PROBLEMS,
    })
    benchmarks = ["my-csv", "my-parquet", "my-fn", "synthetic-mf-branin"]
    proc = _sweep(tmp_path, "-m", "method=RS,ASHA", f"benchmark={','.join(benchmarks)}", "seed=0", "tag=mine",
                  "benchmark.max_wallclock_time=12", "--config-dir", str(config))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    root = tmp_path / "results" / "mine"
    for bench in benchmarks:
        for method in ("RS", "ASHA"):
            folder = root / bench / method / "0"
            meta = json.loads((folder / "metadata.json").read_text())
            assert meta["status"] == "complete", (bench, method)
            results = pd.read_parquet(folder / "results.parquet")
            assert len(results) > 0 and results["sim_time"].max() <= 12
    # The same table from CSV and from Parquet gives bit-identical runs.
    for method in ("RS", "ASHA"):
        assert (root / "my-csv" / method / "0" / "results.parquet").read_bytes() == \
            (root / "my-parquet" / method / "0" / "results.parquet").read_bytes()
    # Every result of the table benchmark is a value the table holds for that configuration and epoch.
    results = pd.read_parquet(root / "my-csv" / "ASHA" / "0" / "results.parquet")
    lookup = frame.set_index(["lr", "depth", "act", "epoch", "seed"])["error"]
    for _, row in results.iterrows():
        candidates = [lookup[(row["config.lr"], row["config.depth"], row["config.act"], int(row["fidelity"]), s)]
                      for s in (0, 1)]
        assert any(abs(row["error"] - c) < 1e-6 for c in candidates)
    fn_meta = json.loads((root / "my-fn" / "RS" / "0" / "metadata.json").read_text())
    assert fn_meta["metric_best_possible"] == pytest.approx(0.1 / 3)
    assert fn_meta["fidelity_name"] == "epoch" and fn_meta["max_fidelity"] == 3
    mf = json.loads((root / "synthetic-mf-branin" / "ASHA" / "0" / "metadata.json").read_text())
    assert mf["metric_best_possible"] == pytest.approx(0.397887)

    # A broken file in the folder stops the sweep before any job, naming the file and the key.
    (config / "benchmark" / "broken.yaml").write_text(TABLE_YAML.format(blackbox="x") + "worker: 2\n")
    proc = _sweep(tmp_path, "-m", "method=RS", "benchmark=my-fn", "seed=1", "tag=mine", "--config-dir", str(config))
    assert proc.returncode != 0
    assert "broken.yaml: unknown key 'worker'" in proc.stderr
    assert not (root / "my-fn" / "RS" / "1").exists()
