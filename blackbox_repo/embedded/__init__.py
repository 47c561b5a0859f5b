"""Benchmarks that ship inside the package, so that the project runs on a fresh machine with no downloads.

Each sub-folder is one blackbox in the repository format (``metadata.json``, ``hyperparameters.parquet``,
``objectives/<task>.npy``); ``blackbox_repo.repository.load_blackbox`` finds them by name.

- ``xgboost-sklearn``: XGBoost learning curves on the datasets scikit-learn ships, made by
  ``python -m blackbox_repo.embedded.generate_xgboost_sklearn`` (see that module for what is measured).
"""
from __future__ import annotations

from pathlib import Path

EMBEDDED_ROOT: Path = Path(__file__).resolve().parent
XGBOOST_SKLEARN_NAME = "xgboost-sklearn"


def embedded_names() -> list[str]:
    """Names of the blackboxes shipped in this folder (sub-folders holding a ``metadata.json``)."""
    return sorted(p.name for p in EMBEDDED_ROOT.iterdir() if (p / "metadata.json").is_file())
