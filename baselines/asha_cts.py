"""ASHA-CTS: quantile-based Gaussian-copula transfer with Thompson sampling (Salinas, Shen & Perrone 2020, "A
quantile-based approach for hyperparameter transfer learning"), proposing for stopping ASHA.

Each source task's final values are mapped to standard-normal quantiles (``Phi^-1`` of their empirical CDF,
``baselines.transfer.normal_quantiles``), which puts tasks of any scale and distribution on one footing. A
regressor of those quantiles on the encoded configurations, pooled over the source tasks, estimates how good
a configuration tends to be across tasks (``mu``); the spread of its residuals (``sigma``, one value: the root
mean square residual on held-out rows) says how much tasks disagree. Each proposal scores fresh candidates
(``num_candidates`` random members drawn uniformly in the encoded space, or the not yet proposed rows of ``restrict_to``) with a Thompson
sample ``mu + sigma * N(0, 1)`` and takes the lowest. The model is fitted once, at the first proposal, from
the source tasks only: this is the copula Thompson sampler (CTS) of the paper, without the target-task GP.

The regressor is scikit-learn's histogram gradient boosting (``max_iter`` trees); at most
``max_points_per_task`` rows per task are used (a seeded subsample), which bounds the fit at about a second.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.encoding import ConfigEncoder
from baselines.transfer import TransferSearcher, normal_quantiles
from blackbox_repo.seeding import derive_seed, make_rng


@forwards_base_arguments
class CopulaThompsonSearcher(TransferSearcher):
    method = "ASHA-CTS"

    def __init__(self, *args: Any, num_candidates: int = 2000, max_points_per_task: int = 1000, max_iter: int = 100,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, value in (("num_candidates", num_candidates), ("max_points_per_task", max_points_per_task),
                            ("max_iter", max_iter)):
            self.check_count(name, value)
        self.num_candidates = num_candidates
        self.max_points_per_task = max_points_per_task
        self.max_iter = max_iter
        self.encoder = ConfigEncoder(self.config_space)
        self._left = None if self.restrict_to is None else np.ones(len(self.restrict_to), dtype=bool)
        self._restrict_mu: np.ndarray | None = None  # the model is fixed: predicted once for the listed rows
        self._model = None
        self.sigma: float | None = None

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Encoded configurations and their per-task normal quantiles, pooled over the source tasks."""
        rng = make_rng(derive_seed(self.seed, "cts-subsample"), "searcher")
        features, targets = [], []
        for task in self.transfer_data.tasks:
            quantiles = normal_quantiles(task.final)
            rows = np.arange(len(quantiles))
            if len(rows) > self.max_points_per_task:
                rows = np.sort(rng.choice(rows, self.max_points_per_task, replace=False))
            records = task.records()
            features.append(self.encoder.encode_many([records[i] for i in rows]))
            targets.append(quantiles[rows])
        return np.concatenate(features), np.concatenate(targets)

    def fit(self) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        # One thread: the fit is small, and OpenMP threads contending with parallel experiments slow it 30x.
        with threadpool_limits(1):
            self._fit(HistGradientBoostingRegressor)

    def _fit(self, regressor: type) -> None:
        X, y = self.training_data()
        # sigma from held-out rows (every fifth), so it measures disagreement, not the fit's own error.
        held_out = np.zeros(len(y), dtype=bool)
        held_out[::5] = True
        model = regressor(max_iter=self.max_iter, early_stopping=False,
                                              random_state=derive_seed(self.seed, "cts-model") % 2**32)
        if held_out.all() or not held_out.any() or len(y) < 10:
            self.sigma = float(np.std(y)) if len(y) > 1 else 1.0
        else:
            model.fit(X[~held_out], y[~held_out])
            self.sigma = float(np.sqrt(np.mean((model.predict(X[held_out]) - y[held_out]) ** 2)))
        self._model = model.fit(X, y)

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self._model is None:
            self.fit()
        if self.restrict_to is not None:
            if self._restrict_mu is None:
                from threadpoolctl import threadpool_limits

                with threadpool_limits(1):
                    self._restrict_mu = self._model.predict(self.encoder.encode_many(self.restrict_to))
            rows = np.flatnonzero(self._left)
            if len(rows) == 0:
                return None
            if len(rows) > self.num_candidates:
                rows = np.sort(self.rng.choice(rows, self.num_candidates, replace=False))
            mu = self._restrict_mu[rows]
        else:
            from threadpoolctl import threadpool_limits

            candidates = self.encoder.sample(self.rng, self.num_candidates)  # members, uniform in encoded space
            with threadpool_limits(1):
                mu = self._model.predict(candidates)
        sample = mu + self.sigma * self.rng.standard_normal(len(mu))
        best = int(np.argmin(sample))
        if self.restrict_to is not None:
            row = int(rows[best])
            self._left[row] = False
            return dict(self.restrict_to[row])
        return self.encoder.decode(candidates[best])
