"""Running ``arena sweep`` as a user would, in a subprocess, for end-to-end tests.

Results and Hydra's run folders go below ``workdir`` (``HPO_ARENA_RESULTS``, ``HPO_ARENA_HYDRA_DIR``), and this
checkout comes first on ``PYTHONPATH`` so the subprocess runs the code under test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def arena_sweep(workdir: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``arena sweep -m OVERRIDES...`` run in ``workdir``; never raises on failure (check ``returncode``)."""
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(workdir / "results"), HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p))
    return subprocess.run([sys.executable, "-m", "launchers.cli", "sweep", "-m", *overrides], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
