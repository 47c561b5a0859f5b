"""The tutorials' commands run as written, so the pages cannot rot.

Each page's fenced blocks are taken in order: a block whose info string names a file (```python
file=my_method.py```) is written to that file, and every ``bash`` block runs in a fresh folder with ``arena``
being this checkout's command line. The test then checks what the page promises the reader gets.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "launchers" / "docs" / "tutorials"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(page: Path) -> list[tuple[str, dict[str, str], str]]:
    """(language, options such as file=..., body) of every fenced block, in order."""
    out = []
    for language, info, body in FENCE.findall(page.read_text()):
        options = dict(item.split("=", 1) for item in info.split() if "=" in item)
        out.append((language, options, body))
    return out


def run_page(page: Path, folder: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_ARENA_RESULTS", "HPO_ARENA_HYDRA",
                                                                      "HPO_ARENA_CONFIG_DIR", "HPO_ARENA_SWEEP"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    prelude = f'arena() {{ "{sys.executable}" -m launchers.cli "$@"; }}\nset -euo pipefail\n'
    done = []
    for language, options, body in blocks(page):
        if "file" in options:
            path = folder / options["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif language == "bash":
            proc = subprocess.run(["bash", "-c", prelude + body], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=600, check=False)
            assert proc.returncode == 0, f"{page.name}: block failed:\n{body}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            done.append(proc)
    return done


@pytest.mark.slow
def test_own_method_tutorial(tmp_path):
    pytest.importorskip("optuna", reason="the tutorial compares against OPTUNA-TPE: pip install 'hpo-arena[optuna]'")
    page = TUTORIALS / "own-method.md"
    check, check_named, sweep, table, _plot = run_page(page, tmp_path)
    assert "all rules hold" in check.stdout and "all rules hold" in check_named.stdout
    assert "(24 of 24 done)" in sweep.stdout
    header = table.stdout.splitlines()[0]
    for method in ("ASHA", "BO", "OPTUNA-TPE", "my_method-LocalSearch"):
        assert method in header
    for benchmark in ("breast_cancer", "wine", "diabetes"):
        assert f"xgboost-sklearn-{benchmark}" in table.stdout
        assert (tmp_path / "figures" / f"xgboost-sklearn-{benchmark}.pdf").is_file()
    meta = (tmp_path / "arena-results" / "tutorial" / "xgboost-sklearn-wine" / "my_method-LocalSearch" / "1"
            / "metadata.json").read_text()
    assert '"method_target": "my_method:LocalSearch"' in meta
