"""``arena COMMAND`` imports only the module that provides COMMAND (start-up of every CLI process)."""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

from launchers.cli import COMMAND_MODULE_OF, COMMAND_MODULES

REPO = Path(__file__).resolve().parents[1]


def test_the_command_map_names_the_module_that_registers_each_command():
    registered = {}
    for module in COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).add_commands(subparsers)
        registered.update(dict.fromkeys(subparsers.choices, module))
    assert registered == COMMAND_MODULE_OF


def test_convert_and_sweep_do_not_import_plotting_or_statistics():
    code = ("import sys\nfrom launchers.cli import build_parser\nbuild_parser('convert')\n"
            "import launchers.hydra_app, launchers.experiment, baselines.searcher_common, launchers.transfer_data\n"
            "print(sorted(m for m in ('matplotlib', 'scipy.stats', 'scipy.optimize', 'results.comparative') "
            "if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
