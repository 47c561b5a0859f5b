"""Generate the embedded "xgboost-sklearn" benchmark: XGBoost learning curves on scikit-learn's bundled datasets.

Run (about 3-4 minutes on 2 cores; writes ``blackbox_repo/embedded/xgboost-sklearn/``)::

    python -m blackbox_repo.embedded.generate_xgboost_sklearn [--out DIR] [--n-configs N] [--n-rounds R] ...

What is measured
----------------
Tasks are four datasets that scikit-learn installs with itself (no download): ``breast_cancer`` (binary),
``digits`` (10 classes), ``wine`` (3 classes) and ``diabetes`` (regression). California housing is left out
on purpose: scikit-learn downloads it.

* Split: one stratified train/validation split per dataset (validation fraction 0.3), drawn from
  ``derive_seed(seed, "split", dataset)`` and the same for every configuration and replicate. The regression
  target is stratified on its quintiles and standardised with the training mean and standard deviation.
* Configurations: ``n_configs`` draws from :func:`configuration_space`, configuration ``i`` from its own
  stream ``make_rng(seed, "configuration", i)`` (so a smaller run holds the first rows of a larger one), each
  value rounded to 3 significant digits (the domains' bounds are 3-digit numbers, so rounded values stay
  members). The same configurations are used for every dataset.
* Training: ``xgboost.train`` with ``tree_method="hist"`` and ``nthread=1`` (deterministic), for ``n_rounds``
  boosting rounds; the fidelity ``boosting_round`` is 1..n_rounds.
* Replicates (seed axis): the seed changes XGBoost's own ``seed`` (row and column subsampling) and nothing
  else, so replicates differ only through subsampling. XGBoost seeds: ``derive_seed(seed, "xgboost", s)``.
* Objectives, recorded after every round (all to minimise):

  - ``val_error``: classification 1 - accuracy (XGBoost ``error`` / ``merror``); regression RMSE of the
    standardised target (XGBoost ``rmse``),
  - ``val_loss``: classification log-loss (``logloss`` / ``mlogloss``); regression mean absolute error of the
    standardised target (``mae``),
  - ``train_error``: ``val_error``'s metric on the training split,
  - ``elapsed_time``: seconds from the start of the trial (building the two DMatrix objects, then
    ``xgboost.train``) to the end of the round, including that round's metric evaluation on both splits,
    cumulative over rounds. ``--clock cpu`` (default) measures the process's CPU time
    (``time.process_time``): for this single-threaded training it is the wall-clock time the trial takes on
    a core of its own, and other programs competing for the cores do not inflate it. ``--clock wall``
    measures wall-clock time (``time.perf_counter``) while ``n_jobs`` such processes ran side by side: on a
    busy machine that is several times larger and noisy at the scale of one round (a few milliseconds), so
    it is only worth using on an idle machine.

With at most 64 rounds, learning rates near the lower bound (1e-3) barely move the predictions, so many such
configurations keep the majority-class error on the classification tasks: a flat curve, as in real tuning.
The load averages before and after the run are recorded in ``metadata.blackbox.extra.machine``.

Everything but ``elapsed_time`` is bit-identical across regenerations on the same library versions (recorded
in the metadata).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from joblib import Parallel, delayed
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.embedded import EMBEDDED_ROOT, XGBOOST_SKLEARN_NAME
from blackbox_repo.repository import serialize
from blackbox_repo.search_space import Integer, LogUniform, SearchSpace, Uniform
from blackbox_repo.seeding import derive_seed, make_rng

OBJECTIVES: list[str] = ["val_error", "val_loss", "train_error", "elapsed_time"]
FIDELITY_NAME = "boosting_round"
VALIDATION_FRACTION = 0.3
SIGNIFICANT_DIGITS = 3
REGRESSION_STRATA = 5  # quantile bins of the regression target used to stratify its split
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_MEANING = {
    "wall": "wall-clock seconds (time.perf_counter)",
    "cpu": "CPU seconds of the single-threaded training process (time.process_time; equals wall-clock time on "
           "an otherwise idle core)",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A scikit-learn bundled dataset and the XGBoost objective and metrics used on it."""

    loader: str  # name of the sklearn.datasets function
    kind: str  # "binary", "multiclass" or "regression"
    xgb_objective: str
    xgb_metrics: tuple[str, str]  # (error metric -> val_error/train_error, loss metric -> val_loss)
    val_error_meaning: str
    val_loss_meaning: str


_CLASSIFICATION_ERROR = "1 - accuracy on the validation split"
_LOGLOSS = "log-loss (cross-entropy) on the validation split"
DATASETS: dict[str, DatasetSpec] = {
    "breast_cancer": DatasetSpec("load_breast_cancer", "binary", "binary:logistic", ("error", "logloss"),
                                 _CLASSIFICATION_ERROR, _LOGLOSS),
    "digits": DatasetSpec("load_digits", "multiclass", "multi:softprob", ("merror", "mlogloss"),
                          _CLASSIFICATION_ERROR, _LOGLOSS),
    "wine": DatasetSpec("load_wine", "multiclass", "multi:softprob", ("merror", "mlogloss"),
                        _CLASSIFICATION_ERROR, _LOGLOSS),
    "diabetes": DatasetSpec("load_diabetes", "regression", "reg:squarederror", ("rmse", "mae"),
                            "RMSE of the standardised target on the validation split",
                            "mean absolute error of the standardised target on the validation split"),
}

# Our hyperparameter name -> XGBoost's native parameter name.
XGBOOST_PARAMETER = {
    "learning_rate": "eta", "max_depth": "max_depth", "min_child_weight": "min_child_weight",
    "subsample": "subsample", "colsample_bytree": "colsample_bytree", "reg_lambda": "lambda",
    "reg_alpha": "alpha",
}


def configuration_space() -> SearchSpace:
    """XGBoost's main hyperparameters (bounds are 3-significant-digit numbers: rounded draws stay inside)."""
    return SearchSpace({
        "learning_rate": LogUniform(1e-3, 1.0),
        "max_depth": Integer(1, 10),
        "min_child_weight": LogUniform(0.1, 100.0),
        "subsample": Uniform(0.5, 1.0),
        "colsample_bytree": Uniform(0.3, 1.0),
        "reg_lambda": LogUniform(1e-3, 10.0),
        "reg_alpha": LogUniform(1e-3, 10.0),
    })


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that determines the generated table (``n_jobs`` and ``clock`` only affect the times)."""

    n_configs: int = 256
    n_rounds: int = 64
    n_seeds: int = 3
    datasets: tuple[str, ...] = ("breast_cancer", "digits", "wine", "diabetes")
    seed: int = 0
    n_jobs: int = 2
    clock: str = "cpu"  # "cpu": time.process_time; "wall": time.perf_counter (see the module docstring)

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {self.clock!r}")
        for name in ("n_configs", "n_rounds", "n_seeds", "n_jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")
        if not self.datasets:
            raise ValueError(f"give at least one dataset among {sorted(DATASETS)}")
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown:
            raise ValueError(f"unknown datasets {unknown}; valid: {sorted(DATASETS)}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"datasets must be distinct, got {list(self.datasets)}")

    @property
    def xgboost_seeds(self) -> list[int]:
        return [derive_seed(self.seed, "xgboost", s) for s in range(self.n_seeds)]


# ---------------------------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------------------------


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (the float nearest to the short decimal)."""
    return float(f"{value:.{digits}g}")


def sample_configurations(n_configs: int, seed: int = 0) -> pd.DataFrame:
    """``n_configs`` rounded configurations; row ``i`` depends only on ``(seed, i)``."""
    space = configuration_space()
    rows: list[dict[str, Any]] = []
    for i in range(n_configs):
        raw = space.sample(make_rng(seed, "configuration", i))
        rows.append({
            name: (int(v) if isinstance(space[name], Integer) else round_significant(v))
            for name, v in raw.items()
        })
    frame = pd.DataFrame.from_records(rows, columns=space.names)
    frame["max_depth"] = frame["max_depth"].astype(np.int64)
    duplicated = frame.duplicated()
    if duplicated.any():
        raise ValueError(
            f"configurations {np.flatnonzero(duplicated).tolist()} repeat earlier ones after rounding; "
            "change the seed"
        )
    for rec in frame.to_dict("records"):
        space.check(rec)
    return frame


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """A fixed train/validation split of one dataset (regression targets standardised on the train part)."""

    dataset: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int  # 0 for regression
    info: dict[str, Any] = field(default_factory=dict)


@cache
def load_split(dataset: str, seed: int = 0) -> Split:
    """The dataset's stratified split (cached per process, so its arrays are read-only)."""
    spec = DATASETS[dataset]
    x, y = getattr(sk_datasets, spec.loader)(return_X_y=True)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if spec.kind == "regression":
        edges = np.quantile(y, np.linspace(0, 1, REGRESSION_STRATA + 1)[1:-1])
        strata = np.digitize(y, edges)
    else:
        strata = y
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, stratify=strata, random_state=derive_seed(seed, "split", dataset)
    )
    info: dict[str, Any] = {
        "kind": spec.kind, "sklearn_loader": f"sklearn.datasets.{spec.loader}", "n_train": len(y_train),
        "n_validation": len(y_val), "n_features": x.shape[1], "xgboost_objective": spec.xgb_objective,
        "xgboost_metrics": list(spec.xgb_metrics), "val_error": spec.val_error_meaning,
        "val_loss": spec.val_loss_meaning,
    }
    if spec.kind == "regression":
        mean, std = float(np.mean(y_train)), float(np.std(y_train))
        y_train, y_val = (y_train - mean) / std, (y_val - mean) / std
        info.update(target_train_mean=mean, target_train_std=std)
        num_classes = 0
    else:
        num_classes = int(np.unique(y).size)
        info["n_classes"] = num_classes
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in (x_train, y_train, x_val, y_val)]
    for a in arrays:
        a.setflags(write=False)
    return Split(dataset, *arrays, num_classes=num_classes, info=info)


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


def xgboost_params(config: dict[str, Any], dataset: str, num_classes: int, xgboost_seed: int) -> dict[str, Any]:
    """Native ``xgboost.train`` parameters for one configuration."""
    spec = DATASETS[dataset]
    params: dict[str, Any] = {
        "objective": spec.xgb_objective, "eval_metric": list(spec.xgb_metrics), "tree_method": "hist",
        "nthread": 1, "seed": int(xgboost_seed), "verbosity": 0,
    }
    if spec.kind == "multiclass":
        params["num_class"] = num_classes
    for name, value in config.items():
        params[XGBOOST_PARAMETER[name]] = value
    return params


class _RoundClock(xgb.callback.TrainingCallback):
    """Seconds since ``start`` on ``clock`` at the end of every round.

    XGBoost calls callbacks after it evaluated the round's metrics, so each time includes that evaluation.
    """

    def __init__(self, clock: Any, start: float):
        super().__init__()
        self.clock = clock
        self.start = start
        self.elapsed: list[float] = []

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.elapsed.append(self.clock() - self.start)
        return False


def train_curve(dataset: str, config: dict[str, Any], xgboost_seed: int, n_rounds: int,
                split_seed: int = 0, clock: str = "cpu") -> np.ndarray:
    """One training run: objectives after every round, shape (n_rounds, len(OBJECTIVES)), float64."""
    split = load_split(dataset, split_seed)
    _warm_up(dataset, split_seed)
    params = xgboost_params(config, dataset, split.num_classes, xgboost_seed)
    error_metric, loss_metric = DATASETS[dataset].xgb_metrics

    now = CLOCKS[clock]
    start = now()
    dtrain = xgb.DMatrix(split.x_train, label=split.y_train, nthread=1)
    dval = xgb.DMatrix(split.x_val, label=split.y_val, nthread=1)
    timer = _RoundClock(now, start)
    history: dict[str, dict[str, list[float]]] = {}
    xgb.train(params, dtrain, num_boost_round=n_rounds, evals=[(dtrain, "train"), (dval, "val")],
              evals_result=history, verbose_eval=False, callbacks=[timer])
    out = np.empty((n_rounds, len(OBJECTIVES)), dtype=np.float64)
    out[:, 0] = history["val"][error_metric]
    out[:, 1] = history["val"][loss_metric]
    out[:, 2] = history["train"][error_metric]
    out[:, 3] = timer.elapsed
    return out


@cache
def _warm_up(dataset: str, split_seed: int) -> None:
    """One unmeasured training per process and dataset, so no measured run pays first-call costs."""
    split = load_split(dataset, split_seed)
    params = xgboost_params(dict(_WARM_UP_CONFIG), dataset, split.num_classes, 0)
    dtrain = xgb.DMatrix(split.x_train, label=split.y_train, nthread=1)
    xgb.train(params, dtrain, num_boost_round=2, evals=[(dtrain, "train")], verbose_eval=False)


_WARM_UP_CONFIG = {"learning_rate": 0.3, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
                   "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.001}


def _train_all_seeds(dataset: str, config: dict[str, Any], xgboost_seeds: Sequence[int], n_rounds: int,
                     split_seed: int, clock: str) -> np.ndarray:
    """Objectives of one configuration for every replicate: (S, R, O)."""
    return np.stack([train_curve(dataset, config, s, n_rounds, split_seed, clock) for s in xgboost_seeds])


# ---------------------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------------------


def _library_versions() -> dict[str, str]:
    return {"xgboost": xgb.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not available on every OS
        return None


def make_metadata(settings: GenerationSettings, task_info: dict[str, dict[str, Any]],
                  generation_seconds: float | None = None,
                  load_average: dict[str, list[float] | None] | None = None) -> BlackboxMetadata:
    loaders = ", ".join(f"sklearn.datasets.{DATASETS[d].loader}" for d in settings.datasets)
    extra: dict[str, Any] = {
        "generator": f"python -m {__name__}",
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
        "xgboost_seeds": settings.xgboost_seeds,
        "validation_fraction": VALIDATION_FRACTION,
        "significant_digits": SIGNIFICANT_DIGITS,
        "xgboost_parameter_names": dict(XGBOOST_PARAMETER),
        "xgboost_fixed_parameters": {"tree_method": "hist", "nthread": 1},
        "versions": _library_versions(),
        # Other processes competing for the cores inflate measured times: the 1/5/15-minute load averages
        # before and after the generation say how quiet the machine was.
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "load_average": load_average},
        "tasks": task_info,
    }
    if generation_seconds is not None:
        extra["generation_wall_seconds"] = round(generation_seconds, 1)
    return BlackboxMetadata(
        name=XGBOOST_SKLEARN_NAME,
        default_metric="val_error",
        mode="min",
        objective_modes={name: "min" for name in OBJECTIVES},
        time_objective="elapsed_time",
        time_is_cumulative=True,
        source=(f"Generated by the hpo-arena script blackbox_repo/embedded/generate_xgboost_sklearn.py "
                f"(XGBoost trained on scikit-learn's bundled datasets: {loaders})."),
        licence=("BSD-3-Clause: the datasets are distributed with scikit-learn under its BSD-3-Clause licence; "
                 "the table itself is produced by this project's generator."),
        description=(
            "XGBoost (tree_method=hist, nthread=1) learning curves over boosting rounds 1.."
            f"{settings.n_rounds} for {settings.n_configs} configurations x {settings.n_seeds} replicates. "
            "val_error: classification 1 - accuracy, regression RMSE of the standardised target; val_loss: "
            "classification log-loss, regression MAE of the standardised target; train_error: val_error's "
            "metric on the training split. Each dataset has one fixed stratified 70/30 train/validation "
            "split; replicates differ only in XGBoost's seed (row/column subsampling). elapsed_time: "
            f"{CLOCK_MEANING[settings.clock]} from the trial's start (DMatrix construction, then "
            "xgboost.train) to the end of each round including that round's metric evaluation on both "
            f"splits, cumulative; measured with {settings.n_jobs} single-threaded training processes "
            "running side by side."
        ),
        seeds=settings.xgboost_seeds,
        extra=extra,
    )


def generate(settings: GenerationSettings = GenerationSettings(), verbose: bool = False
             ) -> dict[str, TabularBlackbox]:
    """Train every (dataset, configuration, replicate) and return one ``TabularBlackbox`` per dataset."""
    began = time.perf_counter()
    load_before = _load_average()
    space = configuration_space()
    hyperparameters = sample_configurations(settings.n_configs, settings.seed)
    configs = hyperparameters.to_dict("records")
    configs = [{k: (int(v) if k == "max_depth" else float(v)) for k, v in c.items()} for c in configs]
    seeds = settings.xgboost_seeds
    units = [(d, i) for d in settings.datasets for i in range(len(configs))]
    jobs = (delayed(_train_all_seeds)(d, configs[i], seeds, settings.n_rounds, settings.seed, settings.clock) for d, i in units)
    if settings.n_jobs == 1:
        results = [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    else:
        results = Parallel(n_jobs=settings.n_jobs, backend="loky", verbose=5 if verbose else 0)(jobs)
    arrays = {d: np.empty((len(configs), settings.n_seeds, settings.n_rounds, len(OBJECTIVES)), dtype=np.float32)
              for d in settings.datasets}
    for (d, i), res in zip(units, results):
        arrays[d][i] = res
    task_info = {d: load_split(d, settings.seed).info for d in settings.datasets}
    metadata = make_metadata(settings, task_info, time.perf_counter() - began,
                             {"before": load_before, "after": _load_average()})
    fidelities = np.arange(1, settings.n_rounds + 1, dtype=np.int64)
    return {
        d: TabularBlackbox(hyperparameters, arrays[d], space, OBJECTIVES, metadata, FIDELITY_NAME, fidelities,
                           task=d)
        for d in settings.datasets
    }


def write(blackboxes: dict[str, TabularBlackbox], out: str | Path = EMBEDDED_ROOT) -> str:
    """Write the blackboxes as ``<out>/xgboost-sklearn`` in the repository format (replacing it)."""
    return serialize(blackboxes, str(out), XGBOOST_SKLEARN_NAME, overwrite=True)


def main(argv: Sequence[str] | None = None) -> int:
    defaults = GenerationSettings()
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}",
        description="Generate the embedded xgboost-sklearn benchmark (XGBoost on scikit-learn's bundled datasets).",
    )
    parser.add_argument("--out", default=str(EMBEDDED_ROOT),
                        help=f"repository root; the benchmark goes to OUT/{XGBOOST_SKLEARN_NAME} (default: the "
                             "package's embedded folder)")
    parser.add_argument("--n-configs", type=int, default=defaults.n_configs)
    parser.add_argument("--n-rounds", type=int, default=defaults.n_rounds)
    parser.add_argument("--n-seeds", type=int, default=defaults.n_seeds)
    parser.add_argument("--datasets", nargs="+", default=list(defaults.datasets), choices=sorted(DATASETS))
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--n-jobs", type=int, default=defaults.n_jobs,
                        help="parallel training processes (affects measured times only)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default=defaults.clock,
                        help="elapsed_time clock: wall (time.perf_counter) or cpu (time.process_time, robust to "
                             "other programs loading the machine)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        settings = GenerationSettings(n_configs=args.n_configs, n_rounds=args.n_rounds, n_seeds=args.n_seeds,
                                      datasets=tuple(args.datasets), seed=args.seed, n_jobs=args.n_jobs,
                                      clock=args.clock)
    except ValueError as err:
        parser.error(str(err))
    began = time.perf_counter()
    blackboxes = generate(settings, verbose=not args.quiet)
    path = write(blackboxes, args.out)
    if not args.quiet:
        for task, bb in blackboxes.items():
            print(f"{task}: best seed-mean val_error at round {settings.n_rounds} = {bb.best_value('val_error'):.4f}")
        print(f"wrote {path} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: worker processes must find the training
    # functions by their module name to unpickle the jobs.
    from blackbox_repo.embedded.generate_xgboost_sklearn import main as _importable_main

    raise SystemExit(_importable_main())
