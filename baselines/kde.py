"""BOHB's multivariate kernel density searcher (KDE; Falkner et al., ICML 2018), as in hpbandster.

This is the model behind the methods ``KDE`` (FIFO), ``BOHB`` (stopping ASHA) and ``SYNC-BOHB`` (synchronous
Hyperband); the schedulers only decide how long trials run, every new configuration comes from here.

Data and the modelled fidelity. The searcher keeps every result it is shown, per fidelity (a multi-fidelity
scheduler shows it the results at its rungs and at the maximum). A model can be fitted at a fidelity when
it holds at least ``min_points_in_model`` results and both density sets below have more points than there
are hyperparameters (hpbandster's two conditions: a kernel density in ``d`` dimensions needs ``d + 1``
points). The model used is the one at the *highest* fidelity where this holds, so with enough data at the
maximum it models final quality, and before that the best-populated lower rung. No fidelity qualifies: the
configuration is drawn at random.

Good/bad split at that fidelity, with ``n`` results sorted from best to worst (ties keep arrival order):
``n_good = max(min_points_in_model, floor(top_n_percent * n / 100))`` best results are "good" and the next
``n_bad = max(min_points_in_model, floor((100 - top_n_percent) * n / 100))`` are "bad".

Densities: a product-kernel density ``l`` over the good points and ``g`` over the bad ones, one coordinate per
hyperparameter (a vector like ConfigSpace's): categorical hyperparameters as their index with the
Aitchison-Aitken kernel (``1 - lambda`` on the point's own category, ``lambda / (c - 1)`` on each of the
``c - 1`` others); every other domain (continuous, integer, ordinal, quantised; hpbandster treats integers as
continuous and refuses ordinals, here they keep their order) as its unit-interval encoding
(``Domain.encode``) with a Gaussian kernel. Bandwidths are statsmodels' normal reference rule,
``1.06 * std * n ** (-1 / (4 + d))`` per coordinate, floored at ``min_bandwidth``; a categorical ``lambda`` is
also capped at ``(c - 1) / c``, the uniform kernel (statsmodels leaves it uncapped and counts only the
categories present in the data; we count the domain's categories).

Acquisition (hpbandster's ``get_config``): with probability ``random_fraction`` (and whenever no model exists)
a uniformly random configuration; otherwise ``num_samples`` candidates are drawn around good points (a good
point at random; each continuous coordinate from a Gaussian truncated to [0, 1] with its bandwidth times
``bandwidth_factor``; each categorical kept with probability ``1 - lambda``, else a uniform category) and the
one minimising ``max(g, 1e-32) / max(l, 1e-32)`` is proposed (the best one not proposed before; ties: the
earlier draw). Results that are not finite (failed or diverged evaluations) are not modelled.

Running trials are not added to the model (hpbandster does not either; the random draws keep asynchronous
workers apart). With ``restrict_to``, each candidate is snapped to the nearest allowed configuration not
proposed yet (in ``baselines.encoding``'s space: a categorical mismatch outweighs any numeric distance) and
the snapped candidates are scored, so the proposal is always an allowed row.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from baselines.arguments import forwards_base_arguments
from baselines.searcher_common import _NO_FIDELITY, LearningSearcher, TrainingSet
from blackbox_repo.seeding import make_rng

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_FLOOR = math.log(1e-32)  # hpbandster floors both densities at 1e-32 before taking their ratio


@dataclass(frozen=True)
class ProductKDE:
    """A multivariate product-kernel density over KDE vectors (see the module docstring).

    ``data``: (n, d) points; column ``j`` is continuous in [0, 1] when ``num_categories[j] == 0`` and a
    category index otherwise. ``bandwidths``: (d,) Gaussian standard deviations or Aitchison-Aitken lambdas.
    The remaining fields are derived once in ``__post_init__`` (a model is scored many times between fits).
    """

    data: np.ndarray
    bandwidths: np.ndarray
    num_categories: np.ndarray
    _continuous: np.ndarray = field(init=False, repr=False, compare=False)
    _categorical: np.ndarray = field(init=False, repr=False, compare=False)
    _log_norm: float = field(init=False, repr=False, compare=False)
    _log_same: np.ndarray = field(init=False, repr=False, compare=False)
    _log_other: np.ndarray = field(init=False, repr=False, compare=False)
    _scale: np.ndarray = field(init=False, repr=False, compare=False)  # bandwidths of the continuous columns
    _scaled: np.ndarray = field(init=False, repr=False, compare=False)  # continuous data / bandwidths
    _scaled_sq: np.ndarray = field(init=False, repr=False, compare=False)  # its squared row norms

    def __post_init__(self) -> None:
        c = np.asarray(self.num_categories, dtype=np.int64)
        continuous = np.flatnonzero(c == 0)
        categorical = np.flatnonzero(c > 0)
        h = self.bandwidths
        # Gaussian part: -sum_j (log h_j + log sqrt(2 pi)); the mean over the n data points: -log n.
        log_norm = -float(np.sum(np.log(h[continuous]))) - len(continuous) * _LOG_SQRT_2PI - math.log(len(self.data))
        hc, cc = h[categorical], c[categorical]
        several = cc > 1
        with np.errstate(divide="ignore"):
            log_same = np.where(several, np.log1p(-np.where(several, hc, 0.0)), 0.0)
            log_other = np.where(several, np.log(hc / np.maximum(cc - 1, 1)), -np.inf)
        scale = h[continuous]
        scaled = self.data[:, continuous] / scale
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_scaled", scaled)
        object.__setattr__(self, "_scaled_sq", (scaled * scaled).sum(axis=1))
        object.__setattr__(self, "_continuous", continuous)
        object.__setattr__(self, "_categorical", categorical)
        object.__setattr__(self, "_log_norm", log_norm)
        object.__setattr__(self, "_log_same", log_same)
        object.__setattr__(self, "_log_other", log_other)

    @staticmethod
    def fit(data: np.ndarray, num_categories: np.ndarray, min_bandwidth: float) -> ProductKDE:
        data = np.asarray(data, dtype=float)
        n, d = data.shape
        # statsmodels' "normal_reference" rule, the one hpbandster uses (population standard deviation).
        bandwidths = 1.06 * data.std(axis=0) * n ** (-1.0 / (4 + d))
        bandwidths = np.maximum(bandwidths, min_bandwidth)
        categorical = num_categories > 0
        cap = (num_categories[categorical] - 1) / np.maximum(num_categories[categorical], 1)
        bandwidths[categorical] = np.minimum(bandwidths[categorical], cap)
        return ProductKDE(data, bandwidths, np.asarray(num_categories, dtype=np.int64))

    def log_pdf(self, X: np.ndarray) -> np.ndarray:
        """log density at the rows of ``X`` (m, d): the log of the mean over data points of the kernel product.

        One (m, n) kernel matrix for all coordinates at once: squared scaled distances over the continuous
        columns, plus the Aitchison-Aitken log weights of the categorical ones; then a log-sum-exp per row.
        """
        X = np.asarray(X, dtype=float)
        cont, cat = self._continuous, self._categorical
        log_k = np.zeros((len(X), len(self.data)))
        if len(cont):
            # Squared scaled distances as |x|^2 - 2 x.y + |y|^2 (one matrix product instead of an (m, n, d)
            # tensor); clipped at 0 against rounding, so a candidate equal to a data point gets distance 0.
            Xs = X[:, cont] / self._scale
            d2 = (Xs * Xs).sum(axis=1)[:, None] - 2.0 * (Xs @ self._scaled.T) + self._scaled_sq[None, :]
            log_k = -0.5 * np.maximum(d2, 0.0)
        if len(cat):
            same = X[:, None, cat] == self.data[None, :, cat]
            log_k = log_k + np.where(same, self._log_same, self._log_other).sum(axis=2)
        # log-sum-exp over the data points (numpy: scipy's wrapper costs more than the sum at these sizes).
        top = log_k.max(axis=1)
        finite = np.isfinite(top)
        shift = np.where(finite, top, 0.0)
        with np.errstate(divide="ignore"):
            lse = np.log(np.exp(log_k - shift[:, None]).sum(axis=1)) + shift
        return lse + self._log_norm

    def sample(self, rng: np.random.Generator, n: int, bandwidth_factor: float) -> np.ndarray:
        """``n`` draws around data points chosen uniformly (hpbandster's sampling: continuous coordinates from a
        Gaussian truncated to [0, 1] with the bandwidth widened by ``bandwidth_factor``; categorical ones keep
        the point's category with probability ``1 - lambda``, else a uniform category).

        Random numbers are drawn coordinate by coordinate (the stream does not depend on how the arithmetic is
        batched); the truncated-Gaussian inversion then runs on all continuous coordinates at once."""
        centres = self.data[rng.integers(0, len(self.data), size=n)]
        out = centres.copy()
        cont = self._continuous
        if len(self._categorical) == 0:
            U = rng.random((len(cont), n)).T  # the same numbers as one rng.random(n) per coordinate
        else:
            U = np.empty((n, len(cont)))
            k = 0
            for j in range(self.data.shape[1]):
                c = self.num_categories[j]
                u = rng.random(n)
                if c == 0:
                    U[:, k] = u
                    k += 1
                else:
                    resample = u >= 1.0 - self.bandwidths[j]
                    out[resample, j] = rng.integers(0, c, size=int(resample.sum()))
        if len(cont):
            mu = centres[:, cont]
            sigma = self.bandwidths[cont] * bandwidth_factor
            lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
            p = np.clip(lo + U * (hi - lo), 1e-15, 1 - 1e-15)
            out[:, cont] = np.clip(mu + sigma * ndtri(p), 0.0, 1.0)
        return out


@dataclass(frozen=True)
class KDEModel:
    """The good and bad densities fitted at one fidelity."""

    fidelity: float | None  # None: results reported without a fidelity (FIFO)
    good: ProductKDE
    bad: ProductKDE
    good_trial_ids: list[int]
    bad_trial_ids: list[int]

    def log_ratio(self, X: np.ndarray) -> np.ndarray:
        """``log(max(l, 1e-32) / max(g, 1e-32))``: larger is better (hpbandster minimises the inverse)."""
        return np.maximum(self.good.log_pdf(X), _LOG_FLOOR) - np.maximum(self.bad.log_pdf(X), _LOG_FLOOR)


# The model starts once ``min_points_in_model`` results hold at one fidelity (BOHB's rule).
@forwards_base_arguments(fixed=("num_initial_random", "min_points_per_fidelity"))
class KDESearcher(LearningSearcher):
    """BOHB's kernel density searcher (see the module docstring)."""

    # The KDE's matrices are (num_samples x points in a density), far below where BLAS threads matter, and
    # limiting the thread pools around each decision costs more than a whole KDE decision.
    limit_blas_threads = False

    def __init__(
        self,
        *args: Any,
        top_n_percent: int = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3.0,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, num_initial_random=0, min_points_per_fidelity=1, **kwargs)
        if isinstance(top_n_percent, bool) or not isinstance(top_n_percent, (int, np.integer)) \
                or not 0 < top_n_percent < 100:
            raise ValueError(f"top_n_percent must be an integer in 1..99, got {top_n_percent!r}")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        if not bandwidth_factor > 0:
            raise ValueError(f"bandwidth_factor must be > 0, got {bandwidth_factor}")
        if not min_bandwidth > 0:
            raise ValueError(f"min_bandwidth must be > 0, got {min_bandwidth}")
        self.blocks = self.encoder.blocks
        self.dim = len(self.blocks)
        if min_points_in_model is None:
            min_points_in_model = self.dim + 1
        if isinstance(min_points_in_model, bool) or not isinstance(min_points_in_model, (int, np.integer)) \
                or min_points_in_model < 1:
            raise ValueError(f"min_points_in_model must be a positive integer, got {min_points_in_model!r}")
        self.top_n_percent = int(top_n_percent)
        self.num_samples = int(num_samples)
        self.random_fraction = float(random_fraction)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth = float(min_bandwidth)
        self.min_points_in_model = int(min_points_in_model)
        self.num_categories = np.array([b.stop - b.start if b.is_categorical else 0 for b in self.blocks],
                                       dtype=np.int64)
        self._model_rng = make_rng(self.seed, "searcher", "kde")
        #: The model behind the last proposal (None: the last proposal was random). For inspection and tests.
        self.last_model: KDEModel | None = None
        # Decision-time caches; none changes a decision. The fitted model depends only on the results seen,
        # so it is kept until ``observe`` records a new one (several suggestions typically come between two
        # results). Each trial's KDE vector is computed once, from the configuration the history keeps.
        # Per fidelity: how many results it has been shown (a version) and the densities fitted at that version
        # (None: too few results there for a model).
        self._version_at: dict[float, int] = {}
        # Per fidelity: the results the history holds there. Whether a model can be fitted at a fidelity depends
        # only on this count (``can_split``), so the fidelity of the model is known without gathering any data.
        self._count_at: dict[float, int] = {}
        self._fit_at: dict[float, tuple[int, KDEModel | None]] = {}
        self._vectors: dict[int, np.ndarray] = {}
        self._pool_vectors: np.ndarray | None = None
        self._pool_sq_norms: np.ndarray | None = None

    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        f = _NO_FIDELITY if fidelity is None else float(fidelity)
        # The history keeps one finite value per (trial, fidelity): count the distinct ones it holds.
        adds_point = math.isfinite(float(value)) and f not in self.history.values.get(trial_id, {})
        super().observe(trial_id, config, fidelity, value)
        self._version_at[f] = self._version_at.get(f, 0) + 1
        if adds_point:
            self._count_at[f] = self._count_at.get(f, 0) + 1

    # ------------------------------------------------------------------------------------------------
    # KDE vectors: one coordinate per hyperparameter
    def to_vectors(self, X_encoded: np.ndarray) -> np.ndarray:
        """Encoder rows (one-hot categoricals) -> KDE vectors (category indices)."""
        V = np.zeros((len(X_encoded), self.dim))
        for j, b in enumerate(self.blocks):
            V[:, j] = np.argmax(X_encoded[:, b.start:b.stop], axis=1) if b.is_categorical else X_encoded[:, b.start]
        return V

    def to_encoded(self, V: np.ndarray) -> np.ndarray:
        """KDE vectors -> encoder rows, snapped to members of the space."""
        X = np.zeros((len(V), self.encoder.dim))
        for j, b in enumerate(self.blocks):
            if b.is_categorical:
                X[np.arange(len(V)), b.start + V[:, j].astype(np.int64)] = 1.0
            else:
                X[:, b.start] = V[:, j]
        return self.encoder.snap(X)

    # ------------------------------------------------------------------------------------------------
    def split(self, data: TrainingSet) -> tuple[np.ndarray, np.ndarray] | None:
        """Indices into ``data`` of the good and bad sets, or None if a density cannot be fitted."""
        n = len(data.y)
        if n < self.min_points_in_model:
            return None
        n_good = max(self.min_points_in_model, (self.top_n_percent * n) // 100)
        n_bad = max(self.min_points_in_model, ((100 - self.top_n_percent) * n) // 100)
        order = np.argsort(data.y, kind="stable")
        good, bad = order[:n_good], order[n_good:n_good + n_bad]
        if len(good) <= self.dim or len(bad) <= self.dim:
            return None
        return good, bad

    def can_split(self, n: int) -> bool:
        """Whether ``split`` of ``n`` results gives two densities (it depends on the number alone)."""
        if n < self.min_points_in_model:
            return False
        n_good = min(n, max(self.min_points_in_model, (self.top_n_percent * n) // 100))
        n_bad = min(n - n_good, max(self.min_points_in_model, ((100 - self.top_n_percent) * n) // 100))
        return n_good > self.dim and n_bad > self.dim

    def model_fidelity(self) -> float | None:
        """The highest fidelity with enough results for a model (see the module docstring), or None."""
        if self.dim == 0:
            return None
        return max((f for f, n in self._count_at.items() if self.can_split(n)), default=None)

    def fit_model(self) -> KDEModel | None:
        """The densities at the highest fidelity with enough data (see the module docstring), or None.

        The densities at a fidelity depend only on the results at that fidelity, so they are refitted only
        after a new result there: with ASHA most results arrive at the lowest rung while the model sits on a
        higher one, and between two results several suggestions reuse the same fit."""
        fidelity = self.model_fidelity()
        if fidelity is None:
            return None
        version = self._version_at[fidelity]
        cached = self._fit_at.get(fidelity)
        if cached is None or cached[0] != version:
            cached = (version, self._fit_at_fidelity(fidelity))
            self._fit_at[fidelity] = cached
        return cached[1]

    def _fit_at_fidelity(self, fidelity: float) -> KDEModel | None:
        data = self._data_at(fidelity)
        split = self.split(data)
        if split is None:
            return None
        good, bad = split
        V = self._trial_vectors(data.trial_ids)
        return KDEModel(
            None if fidelity == _NO_FIDELITY else fidelity,
            ProductKDE.fit(V[good], self.num_categories, self.min_bandwidth),
            ProductKDE.fit(V[bad], self.num_categories, self.min_bandwidth),
            [data.trial_ids[i] for i in good],
            [data.trial_ids[i] for i in bad],
        )

    def _trial_vectors(self, trial_ids: Sequence[int]) -> np.ndarray:
        """KDE vectors of the trials' configurations (as the history keeps them), encoded once per trial."""
        missing = [t for t in trial_ids if t not in self._vectors]
        if missing:
            V = self.to_vectors(self.encoder.encode_many([self.history.configs[t] for t in missing]))
            self._vectors.update(zip(missing, V))
        return np.array([self._vectors[t] for t in trial_ids]).reshape(len(trial_ids), self.dim)

    def _data_at(self, fidelity: float) -> TrainingSet:
        values = self.history.values
        ids = [t for t, per_fidelity in values.items() if fidelity in per_fidelity]
        y = np.array([values[t][fidelity] for t in ids], dtype=float)
        return TrainingSet(ids, [self.history.configs[t] for t in ids], y, fidelity)

    # ------------------------------------------------------------------------------------------------
    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.pool is not None and not self.pool.available.any():
            return None
        # As hpbandster: the random-fraction coin is only thrown once a model exists; whether one exists is
        # known from the counts, so a random proposal never pays for fitting the densities.
        if self.model_fidelity() is None or self._model_rng.random() < self.random_fraction:
            self.last_model = None
            return self.random_new_config()
        model = self.fit_model()
        assert model is not None  # model_fidelity has enough results for both densities
        config = self._propose_from(model)
        self.last_model = model if config is not None else None
        return config if config is not None else self.random_new_config()

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:  # pragma: no cover - _suggest is overridden
        model = self.fit_model()
        return None if model is None else self._propose_from(model)

    def _propose_from(self, model: KDEModel) -> dict[str, Any] | None:
        V = model.good.sample(self._model_rng, self.num_samples, self.bandwidth_factor)
        X = self.to_encoded(V)
        if self.pool is not None:
            rows = self._nearest_available(X)
            if len(rows) == 0:
                return None
            if self._pool_vectors is None:
                self._pool_vectors = self.to_vectors(self.pool.X)
            # Many candidates snap to the same row: score each row once (identical rows score identically, so
            # the first candidate with the best score is the same as when scoring all of them).
            unique_rows, inverse = np.unique(rows, return_inverse=True)
            scores = model.log_ratio(self._pool_vectors[unique_rows])[inverse]
            return dict(self.pool.configs[int(rows[int(np.argmax(scores))])])
        scores = model.log_ratio(self.to_vectors(X))
        order = np.argsort(-scores, kind="stable")
        return self.first_new(self.encoder.decode(X[i]) for i in order)

    def _nearest_available(self, X: np.ndarray) -> np.ndarray:
        """For each row of ``X``, the index of the nearest allowed configuration not proposed yet."""
        assert self.pool is not None
        free = self.pool.available_indices()
        if len(free) == 0:
            return free
        if self._pool_sq_norms is None:
            self._pool_sq_norms = (self.pool.X * self.pool.X).sum(1)
        d2 = (X * X).sum(1)[:, None] - 2.0 * X @ self.pool.X[free].T + self._pool_sq_norms[free][None, :]
        return free[np.argmin(d2, axis=1)]
