"""Surrogate interpolators: evaluate a tabulated benchmark anywhere in its configuration space.

``SurrogateBlackbox(table, model="knn")`` fits a regressor on the table's configurations and answers
``evaluate``/``evaluate_batch`` for any configuration of the space (and any fidelity between the
table's fidelities).

Features. Each hyperparameter is encoded as the search space encodes it for model-based methods
(``Domain.encode``: log-scaled domains on a log scale, integers and finite ranges by position, all in
[0, 1]); categorical hyperparameters become one-hot columns; constants are left out. Raw values are never
standardised: a log-uniform learning rate spread over 1e-4..1e-1 is spread evenly in feature space, so
nearest neighbours and tree splits see the distances the space defines.

Targets.

* ``predict_curves=True`` (default): one multi-output regression from features to the whole (F, O)
  curve, flattened fidelity-major (the F values of objective 0..O-1 at fidelity 0, then at fidelity 1,
  ...). A curve is predicted in one call; properties kept by averaging training curves (e.g. monotone
  time) survive for nearest neighbours.
* ``predict_curves=False``: the fidelity is an extra feature (min-max scaled to [0, 1]) and the model
  predicts the O objectives of one (configuration, fidelity) row.

Fidelities between two table fidelities are interpolated linearly in the fidelity value between the
predictions at the two neighbouring table fidelities; fidelities outside the table's range are refused.

``fit_differences=["time"]``: those objectives (cumulative times) are fitted as per-step increments
(value at fidelity i minus value at fidelity i-1; the first step is the value itself). Predicted
increments are clipped at >= 0 and summed back, so predicted cumulative times never decrease.

Seeds. By default seeds are pooled: the target is the mean over the table's seeds (NaN seeds ignored),
and the surrogate has one seed. ``separate_seeds=True`` fits one model per table seed on that seed's
values, and ``evaluate(..., seed=s)`` uses model s (``num_seeds`` equals the table's).

Missing values (NaN). Before fitting, a missing value is replaced by the value at the previous fidelity
of the same configuration, seed and objective (a run that stopped early keeps its last value); values
still missing (nothing earlier to copy) drop their training row: the configuration (per seed model) in
curve mode, the (configuration, fidelity) row in fidelity mode. Done with array operations, no loops.

``max_fit_samples`` subsamples training rows without replacement, with a generator derived from
``seed``; models with a ``random_state`` get one derived from ``seed`` too, so a fit is reproducible.

Cache. The fitted models are stored with ``joblib`` under ``$HPO_ARENA_CACHE/surrogates`` (default
``~/.cache/hpo-arena/surrogates``), keyed by a hash of the table's content (hyperparameters, objective
values, names and fidelities), the model and every argument that changes the fit. The file is written to
a temporary name and renamed, so concurrent processes never read half a file; the second construction
with the same inputs loads it instead of fitting (``loaded_from_cache`` tells which happened).

``restrict_to_table(blackbox)`` lists the table's configurations, for methods that should only propose
configurations the table holds (``RandomSearcher(..., restrict_to=...)``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import Blackbox, BlackboxLookupError, Config, TabularBlackbox
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Domain,
    FiniteRange,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
    closest_choices_message,
)
from blackbox_repo.seeding import derive_seed, make_rng

MODELS = ("knn", "random_forest", "mlp", "xgboost")
CACHE_FORMAT = 1
ENV_CACHE = "HPO_ARENA_CACHE"


def surrogate_cache_dir() -> Path:
    """``$HPO_ARENA_CACHE/surrogates`` (default ``~/.cache/hpo-arena/surrogates``)."""
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/hpo-arena").expanduser() / "surrogates"


def restrict_to_table(blackbox: Blackbox) -> list[dict[str, Any]]:
    """The configurations a table holds (of a ``TabularBlackbox`` or of the table under a surrogate)."""
    if isinstance(blackbox, SurrogateBlackbox):
        blackbox = blackbox.table
    if not isinstance(blackbox, TabularBlackbox):
        raise TypeError(f"{type(blackbox).__name__} holds no table of configurations; restrict_to_table needs a "
                        "TabularBlackbox or a SurrogateBlackbox")
    return blackbox.all_configurations()


# ---------------------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------------------


def make_estimator(model: str, seed: int = 0, **kwargs: Any) -> Any:
    """A scikit-learn style regressor by name (multi-output capable); ``kwargs`` override the defaults.

    ``knn``: ``KNeighborsRegressor(n_neighbors=1)``; ``random_forest``: ``RandomForestRegressor``
    (100 trees); ``mlp``: ``MLPRegressor`` (two layers of 64, Adam, early stopping) on standardised
    targets; ``xgboost``: ``XGBRegressor`` (hist trees, one multi-output tree per round).
    """
    random_state = derive_seed(seed, "surrogate-model")
    if model == "knn":
        from sklearn.neighbors import KNeighborsRegressor

        return KNeighborsRegressor(**{"n_neighbors": 1, **kwargs})
    if model == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(**{"n_estimators": 100, "n_jobs": 1, "random_state": random_state, **kwargs})
    if model == "mlp":
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPRegressor
        from sklearn.preprocessing import StandardScaler

        params = {"hidden_layer_sizes": (64, 64), "max_iter": 200, "early_stopping": True,
                  "random_state": random_state, **kwargs}
        # Targets of very different scales (time in seconds, losses) need standardising for an MLP.
        return TransformedTargetRegressor(regressor=MLPRegressor(**params), transformer=StandardScaler())
    if model == "xgboost":
        try:
            from xgboost import XGBRegressor
        except ImportError as err:
            raise ImportError("the xgboost surrogate needs xgboost: pip install xgboost") from err
        params = {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1, "tree_method": "hist",
                  "multi_strategy": "multi_output_tree", "n_jobs": 1, "random_state": random_state, **kwargs}
        return XGBRegressor(**params)
    raise ValueError(closest_choices_message("surrogate model", model, MODELS)
                     + "; or pass a scikit-learn style estimator instance")


def _estimator_spec(estimator: Any) -> str:
    """A stable text identity of an estimator instance (class and parameters), for the cache key."""
    cls = type(estimator)
    try:
        params = estimator.get_params(deep=True)
    except AttributeError:
        params = {}
    clean = {k: (v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else
                 f"{type(v).__module__}.{type(v).__qualname__}") for k, v in params.items()}
    return json.dumps({"class": f"{cls.__module__}.{cls.__qualname__}", "params": clean}, sort_keys=True,
                      default=repr)


# ---------------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------------


def _float_column(values: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"hyperparameter {name!r} must be numeric, got e.g. {values[:3]!r}") from None


def _encode_column(domain: Domain, values: np.ndarray, name: str) -> np.ndarray:
    """Vectorised ``domain.encode`` (same numbers) for the usual domains, a loop for the others."""
    if isinstance(domain, Uniform):
        v = _float_column(values, name)
        if domain.upper == domain.lower:
            return np.full(len(v), 0.5)
        return np.clip((v - domain.lower) / (domain.upper - domain.lower), 0.0, 1.0)
    if isinstance(domain, LogUniform):
        v = _float_column(values, name)
        lo, hi = np.log(domain.lower), np.log(domain.upper)
        if hi == lo:
            return np.full(len(v), 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip((np.log(v) - lo) / (hi - lo), 0.0, 1.0)
    if isinstance(domain, Integer):
        v = _float_column(values, name)
        if domain.log:
            if domain.upper == domain.lower:
                return np.full(len(v), 0.5)
            lo = np.log(domain.lower - 0.5 if domain.lower > 1 else domain.lower)
            hi = np.log(domain.upper + 0.5)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.clip((np.log(v) - lo) / (hi - lo), 0.0, 1.0)
        return (v - domain.lower + 0.5) / (domain.upper - domain.lower + 1)
    if isinstance(domain, (Ordinal, FiniteRange)):
        index = pd.Index(domain.values())
        pos = index.get_indexer(pd.Index(values))
        if (pos < 0).any():
            try:
                pos = np.array([domain.index(v) for v in values])
            except ValueError as err:
                raise ValueError(f"hyperparameter {name!r}: {err}") from None
        return (pos + 0.5) / len(index)
    try:
        return np.array([domain.encode(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"hyperparameter {name!r}: cannot encode values {values[:3]!r} ({err})") from None


class FeatureEncoder:
    """Configurations -> feature matrix: one-hot categoricals, unit-encoded others, constants left out."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.columns: list[str] = []
        for name, dom in space.items():
            if isinstance(dom, Constant):
                continue
            if isinstance(dom, Categorical):
                self.columns += [f"{name}={v}" for v in dom.values()]
            else:
                self.columns.append(name)

    @property
    def width(self) -> int:
        return len(self.columns)

    def transform(self, configs: Sequence[Config] | pd.DataFrame) -> np.ndarray:
        frame = configs if isinstance(configs, pd.DataFrame) else pd.DataFrame.from_records(list(configs))
        n = len(frame)
        needed = [nm for nm, d in self.space.items() if not isinstance(d, Constant)]
        missing = [nm for nm in needed if nm not in frame.columns]
        if missing:
            raise BlackboxLookupError(f"configurations lack hyperparameters {missing} (space: {self.space.names})")
        blocks = []
        for name in needed:
            dom = self.space[name]
            values = frame[name].to_numpy()
            if isinstance(dom, Categorical):
                levels = dom.values()
                pos = pd.Index(levels).get_indexer(pd.Index(values, dtype=object))
                if (pos < 0).any():
                    bad = values[np.flatnonzero(pos < 0)[0]]
                    raise BlackboxLookupError(f"{name}={bad!r}: "
                                              + closest_choices_message(f"value of {name}", bad, levels))
                onehot = np.zeros((n, len(levels)))
                onehot[np.arange(n), pos] = 1.0
                blocks.append(onehot)
            else:
                blocks.append(_encode_column(dom, values, name)[:, None])
        if not blocks:
            return np.zeros((n, 0))
        return np.hstack(blocks)


# ---------------------------------------------------------------------------------------------------------
# Training data
# ---------------------------------------------------------------------------------------------------------


def forward_fill_fidelities(values: np.ndarray, axis: int = 2) -> np.ndarray:
    """Each NaN replaced by the last non-NaN value at an earlier fidelity (along ``axis``); leading NaNs stay."""
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    nan = np.isnan(values)
    if not nan.any():
        return np.moveaxis(values.copy(), -1, axis)
    idx = np.where(~nan, np.arange(values.shape[-1]), 0)
    np.maximum.accumulate(idx, axis=-1, out=idx)
    filled = np.take_along_axis(values, idx, axis=-1)
    return np.moveaxis(filled, -1, axis)


def _table_checksum(table: TabularBlackbox) -> str:
    """Hash of a table's content (configurations, values, names, fidelities); chunked for memory maps."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(json.dumps({
        "columns": list(table.hyperparameters.columns), "objectives": table.objectives_names,
        "fidelity": table.fidelity_name,
        "fidelity_values": None if table.fidelity_values is None else table.fidelity_values.tolist(),
        "shape": list(table.objectives.shape), "space": table.configuration_space.to_dict(),
    }, sort_keys=True, default=str).encode())
    digest.update(pd.util.hash_pandas_object(table.hyperparameters, index=False).to_numpy().tobytes())
    arr = table.objectives
    step = max(1, (64 << 20) // max(1, arr[:1].nbytes))
    for start in range(0, arr.shape[0], step):
        digest.update(np.ascontiguousarray(arr[start:start + step], dtype=np.float32).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# The surrogate blackbox
# ---------------------------------------------------------------------------------------------------------


class SurrogateBlackbox(Blackbox):
    """A regressor fitted on a ``TabularBlackbox``, queried like the table (see the module docstring).

    ``model``: ``"knn"`` (1-nearest neighbour, default), ``"random_forest"``, ``"mlp"``, ``"xgboost"``, or
    any scikit-learn style estimator instance (cloned per seed model); ``model_kwargs`` override the named
    model's defaults. ``configuration_space``: the space queries come from (default: the table's).
    ``cache=False`` always fits; ``cache_dir`` replaces the default cache folder.
    """

    def __init__(
        self,
        blackbox: TabularBlackbox,
        model: str | Any = "knn",
        *,
        model_kwargs: Mapping[str, Any] | None = None,
        predict_curves: bool = True,
        fit_differences: Sequence[str] | None = None,
        separate_seeds: bool = False,
        max_fit_samples: int | None = None,
        seed: int = 0,
        configuration_space: SearchSpace | None = None,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ):
        if not isinstance(blackbox, TabularBlackbox):
            raise TypeError(f"a surrogate is fitted on a TabularBlackbox, got {type(blackbox).__name__}")
        if isinstance(model, str):
            if model not in MODELS:
                raise ValueError(closest_choices_message("surrogate model", model, MODELS)
                                 + "; or pass a scikit-learn style estimator instance")
        elif not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise TypeError(f"model must be one of {MODELS} or an estimator with fit/predict, got {model!r}")
        elif model_kwargs:
            raise ValueError("model_kwargs apply to a named model; configure the estimator instance instead")
        if max_fit_samples is not None and max_fit_samples < 1:
            raise ValueError(f"max_fit_samples must be >= 1 (or None for all rows), got {max_fit_samples}")
        self.table = blackbox
        self.model = model
        self.model_kwargs = dict(model_kwargs or {})
        self.predict_curves = bool(predict_curves)
        self.fit_differences = list(fit_differences or [])
        for name in self.fit_differences:
            blackbox.objective_index(name)  # clear error for an unknown objective
        if self.fit_differences and blackbox.fidelity_values is None:
            raise ValueError("fit_differences needs a blackbox with fidelities (differences are taken along them)")
        self.separate_seeds = bool(separate_seeds)
        self.max_fit_samples = max_fit_samples
        self.seed = int(seed)
        space = configuration_space if configuration_space is not None else blackbox.configuration_space
        self.encoder = FeatureEncoder(space)
        super().__init__(
            space, blackbox.objectives_names, blackbox.metadata, blackbox.fidelity_name, blackbox.fidelity_values,
            num_seeds=blackbox.num_seeds if self.separate_seeds else 1, task=blackbox.task,
        )
        self._diff_index = np.array([blackbox.objective_index(n) for n in self.fit_differences], dtype=np.int64)
        self.cache_path: Path | None = None
        self.loaded_from_cache = False
        self.estimators: list[Any] = []
        self._fit_or_load(cache, cache_dir)

    # --- fitting -----------------------------------------------------------------------------------------

    @property
    def _fidelities(self) -> np.ndarray:
        return np.zeros(1) if self.fidelity_values is None else self.fidelity_values.astype(np.float64)

    def _fidelity_feature(self, values: np.ndarray) -> np.ndarray:
        f = self._fidelities
        if len(f) == 1 or f[-1] == f[0]:
            return np.full(len(values), 0.5)
        return (np.asarray(values, dtype=np.float64) - f[0]) / (f[-1] - f[0])

    def _cache_key(self) -> str:
        spec = {
            "format": CACHE_FORMAT,
            "data": _table_checksum(self.table),
            "model": self.model if isinstance(self.model, str) else _estimator_spec(self.model),
            "model_kwargs": self.model_kwargs, "predict_curves": self.predict_curves,
            "fit_differences": self.fit_differences, "separate_seeds": self.separate_seeds,
            "max_fit_samples": self.max_fit_samples, "seed": self.seed, "features": self.encoder.columns,
            "space": self.configuration_space.to_dict(),
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=repr).encode()).hexdigest()

    def _fit_or_load(self, cache: bool, cache_dir: str | os.PathLike[str] | None) -> None:
        if not cache:
            self.estimators = self._fit()
            return
        key = self._cache_key()
        folder = Path(cache_dir).expanduser() if cache_dir is not None else surrogate_cache_dir()
        label = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.name}-{self.model if isinstance(self.model, str) else type(self.model).__name__}")
        self.cache_path = folder / f"{label}-{key[:32]}.joblib"
        import joblib

        if self.cache_path.is_file():
            try:
                stored = joblib.load(self.cache_path)
            except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is refitted and replaced
                stored = None
            if isinstance(stored, dict) and stored.get("key") == key:
                self.estimators = stored["estimators"]
                self.loaded_from_cache = True
                return
        self.estimators = self._fit()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.cache_path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            joblib.dump({"key": key, "estimators": self.estimators}, tmp)
            os.replace(tmp, self.cache_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def training_data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(X, y)]`` per model (one, or one per seed) after imputation, differencing and subsampling."""
        table = self.table
        values = forward_fill_fidelities(table.objectives, axis=2)  # (N, S, F, O) float64
        if self._diff_index.size:
            d = values[..., self._diff_index]
            d[..., 1:, :] = np.diff(d, axis=2)
            values[..., self._diff_index] = d
        if self.separate_seeds:
            groups = [values[:, s] for s in range(values.shape[1])]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN seeds -> NaN, dropped below
                groups = [np.nanmean(values, axis=1)]
        features = self.encoder.transform(table.hyperparameters)
        n, f, o = groups[0].shape
        out = []
        for g, y in enumerate(groups):
            if self.predict_curves:
                x_rows, y_rows = features, y.reshape(n, f * o)
            else:
                fid = np.repeat(self._fidelity_feature(self._fidelities)[None, :], n, axis=0).reshape(-1, 1)
                x_rows = np.hstack([np.repeat(features, f, axis=0), fid])
                y_rows = y.reshape(n * f, o)
            keep = np.flatnonzero(np.isfinite(y_rows).all(axis=1))
            if keep.size == 0:
                raise ValueError(f"{self.table.name}: no complete training row"
                                 + (f" for seed {g}" if self.separate_seeds else "") + " after imputation")
            if self.max_fit_samples is not None and keep.size > self.max_fit_samples:
                rng = make_rng(self.seed, "surrogate-subsample", g)
                keep = np.sort(rng.choice(keep, size=self.max_fit_samples, replace=False))
            out.append((x_rows[keep], y_rows[keep]))
        return out

    def _new_estimator(self, group: int) -> Any:
        if isinstance(self.model, str):
            return make_estimator(self.model, derive_seed(self.seed, "group", group), **self.model_kwargs)
        from sklearn.base import clone

        est = clone(self.model)
        try:
            if "random_state" in est.get_params() and est.get_params()["random_state"] is None:
                est.set_params(random_state=derive_seed(self.seed, "surrogate-model", group))
        except AttributeError:
            pass
        return est

    def _fit(self) -> list[Any]:
        estimators = []
        for g, (x, y) in enumerate(self.training_data()):
            est = self._new_estimator(g)
            est.fit(x, y[:, 0] if y.shape[1] == 1 else y)  # single targets as 1-D (what regressors expect)
            estimators.append(est)
        return estimators

    # --- prediction --------------------------------------------------------------------------------------

    def _predict(self, group: int, features: np.ndarray, fidelity_indices: np.ndarray) -> np.ndarray:
        """Values (N, len(fidelity_indices), O) at table fidelities, differences already summed back."""
        est = self.estimators[group]
        n, o = len(features), len(self.objectives_names)
        f_all = len(self._fidelities)
        if self.predict_curves:
            pred = np.asarray(est.predict(features), dtype=np.float64).reshape(n, f_all, o)
            upto = f_all
        else:
            # Differenced objectives need every step up to the last requested fidelity.
            upto = int(fidelity_indices.max()) + 1 if self._diff_index.size else None
            wanted = np.arange(upto) if upto is not None else fidelity_indices
            fid = self._fidelity_feature(self._fidelities[wanted])
            rows = np.hstack([np.repeat(features, len(wanted), axis=0), np.tile(fid, n)[:, None]])
            pred = np.asarray(est.predict(rows), dtype=np.float64).reshape(n, len(wanted), o)
            if upto is None:
                return pred
        if self._diff_index.size:
            steps = np.clip(pred[..., self._diff_index], 0.0, None)
            pred[..., self._diff_index] = np.cumsum(steps, axis=1)
        return pred[:, fidelity_indices]

    def _fidelity_plan(self, fidelity: float) -> tuple[np.ndarray, np.ndarray]:
        """Table fidelity indices and weights whose combination gives ``fidelity`` (linear interpolation)."""
        if self.fidelity_values is None:
            raise BlackboxLookupError(f"blackbox {self.name} has no fidelities; call without a fidelity")
        try:
            v = float(fidelity)
        except (TypeError, ValueError):
            raise BlackboxLookupError(f"fidelity {fidelity!r} is not a number") from None
        f = self._fidelities
        if v in self._fidelity_pos:
            return np.array([self._fidelity_pos[v]]), np.array([1.0])
        if not f[0] <= v <= f[-1]:
            raise BlackboxLookupError(
                f"fidelity {self.fidelity_name}={fidelity!r} is outside the table's range [{f[0]:g}, {f[-1]:g}] "
                f"of {self.name}; the surrogate interpolates between table fidelities but does not extrapolate"
            )
        hi = int(np.searchsorted(f, v))
        lo = hi - 1
        w = (v - f[lo]) / (f[hi] - f[lo])
        return np.array([lo, hi]), np.array([1.0 - w, w])

    def evaluate_batch(
        self, configs: Sequence[Config] | pd.DataFrame, fidelity: float | None = None, seed: int | None = 0
    ) -> np.ndarray:
        features = self.encoder.transform(configs)
        groups = range(self.num_seeds) if seed is None else [self.seed_index(seed)]
        if fidelity is None:
            indices, weights = np.arange(len(self._fidelities)), None
        else:
            indices, weights = self._fidelity_plan(fidelity)
        per_seed = []
        for g in groups:
            pred = self._predict(g, features, indices)
            if weights is not None:
                pred = np.einsum("nfo,f->no", pred, weights)
            elif self.fidelity_values is None:
                pred = pred[:, 0]
            per_seed.append(pred)
        out = np.stack(per_seed, axis=1)
        return out[:, 0] if seed is not None else out

    def restrict_to_table(self) -> list[dict[str, Any]]:
        """The table's configurations (see the module function)."""
        return restrict_to_table(self.table)

    def __repr__(self) -> str:
        model = self.model if isinstance(self.model, str) else type(self.model).__name__
        return (f"SurrogateBlackbox({self.name!r}, model={model!r}, predict_curves={self.predict_curves}, "
                f"{self.num_fidelities} fidelities, {self.num_seeds} seeds, objectives={self.objectives_names})")
