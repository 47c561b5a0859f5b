"""One experiment of a registered benchmark through ``launchers.experiment.run_experiment`` (the simulator), for
tests that check what a method does on a benchmark: the run's ``metadata.json`` and ``results.parquet``."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec, run_experiment


def run_benchmark(results_root: Path, method: str, benchmark: str, tag: str, seed: int = 0,
                  blackbox_root: str | None = None, master_seed: int = 3,
                  method_kwargs: dict[str, Any] | None = None, **overrides: Any) -> tuple[dict, pd.DataFrame]:
    """``method`` on ``benchmark`` (its definition's fields replaced by ``overrides``); (metadata, results)."""
    bench = get_benchmark(benchmark)
    if overrides:
        bench = dataclasses.replace(bench, **overrides)
    spec = ExperimentSpec(benchmark=bench, method=method, seed=seed, master_seed=master_seed, tag=tag,
                          results_root=str(results_root), blackbox_root=blackbox_root,
                          method_kwargs=dict(method_kwargs or {}))
    path = Path(run_experiment(spec))
    return json.loads((path / "metadata.json").read_text()), pd.read_parquet(path / "results.parquet")
