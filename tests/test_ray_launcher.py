"""A real multirun through the Hydra CLI with hydra-ray-launcher on a private local Ray instance bound to
127.0.0.1 (`hydra/launcher=ray_local`): every experiment completes, and its results equal those of the basic
launcher with the same master seed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ray")
pytest.importorskip("hydra_plugins.hydra_ray_launcher")

from launchers.hydra_app import run_sweep_cli
from launchers.study import is_complete

BENCH = "xgboost-sklearn-breast_cancer"
REPO = Path(__file__).resolve().parents[1]


def _results(root: Path, seed: int) -> pd.DataFrame:
    frame = pd.read_parquet(root / "ray-study" / BENCH / "RS" / str(seed) / "results.parquet")
    return frame.drop(columns=["real_time"], errors="ignore")  # wall-clock, differs between runs


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_multirun_on_local_instance(tmp_path, monkeypatch, request):
    ray_root = tmp_path / "ray-results"
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for its session folder.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    request.addfinalizer(lambda: shutil.rmtree(ray_tmp, ignore_errors=True))
    env = {**os.environ, "HPO_ARENA_HYDRA_DIR": str(tmp_path / "hydra"), "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("RAY_ADDRESS", None)
    args = [sys.executable, "-m", "launchers.cli", "sweep", "-m", "method=RS", f"benchmark={BENCH}", "seed=0,1",
            "tag=ray-study", f"results_root={ray_root}", "master_seed=97", "hydra/launcher=ray_local",
            "hydra.launcher.ray.init.num_cpus=2", f"+hydra.launcher.ray.init._temp_dir={ray_tmp}"]
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "Ray Launcher is launching 2 jobs" in log
    assert "'_node_ip_address': '127.0.0.1'" in log and "'address': 'local'" in log
    for seed in (0, 1):
        path = ray_root / "ray-study" / BENCH / "RS" / str(seed)
        assert is_complete(str(path))
        meta = json.loads((path / "metadata.json").read_text())
        assert (meta["seed"], meta["master_seed"]) == (seed, 97)

    basic_root = tmp_path / "basic-results"
    monkeypatch.setenv("HPO_ARENA_HYDRA_DIR", str(tmp_path / "hydra-basic"))
    assert run_sweep_cli(["-m", "method=RS", f"benchmark={BENCH}", "seed=0,1", "tag=ray-study",
                          f"results_root={basic_root}", "master_seed=97"]) == 0
    for seed in (0, 1):
        pd.testing.assert_frame_equal(_results(ray_root, seed), _results(basic_root, seed))
