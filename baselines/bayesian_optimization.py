"""Gaussian-process Bayesian optimisation with expected improvement (HyperDrive's BayesianParameterSampling
and the GP-BO baseline of the HPO literature).

Each decision:
1. fit a GP (``baselines.gaussian_process``: Matern 5/2 ARD, marginal-likelihood hyperparameters) to the
   encoded configurations (``baselines.encoding``: categorical one-hot, the rest in [0, 1]) and the
   standardised results of at most ``max_fit_points`` observations (see "Bounded data" below). The
   hyperparameters are re-optimised (from the last solution plus ``num_restarts`` seeded random starts, each
   L-BFGS-B run capped at ``max_fit_evaluations`` likelihood evaluations) once ``max(refit_every,
   refit_fraction * n_last)`` new observations arrived since the last such fit at ``n_last`` observations: every
   10 up to 100, then every 10%, so refits get rarer as they get dearer and their cost per decision stays flat.
   In between they are re-optimised from the last solution only while there are at most ``full_refit_until``
   observations, and kept fixed afterwards: the GP is then only conditioned on the new data, by a block update
   of its Cholesky factor (O(n^2) per new point instead of a refactorisation).
2. condition on the running (pending) trials with the *kriging believer*: their outcome is taken to be the
   posterior mean (which also counts for the incumbent). Their predictive variance collapses, so EI no
   longer favours them or their immediate surroundings and asynchronous workers do not pick the same point.
3. maximise expected improvement over ``num_candidates`` random members of the space, then refine the best
   ``num_local_starts`` of them: L-BFGS-B (numerical gradients of log EI) on the continuous columns and greedy
   neighbour moves on finite ones (another category; the next ordinal value).
4. propose the best configuration not proposed before.

Bounded data: a GP decision costs O(m^3) to refit and O(c m^2) to score c candidates on m fitted points, so m
is capped. Up to ``max_fit_points`` (default 200) observations the GP sees all of them. Beyond, it sees a
selection of ``keep = 4 * max_fit_points // 5`` observations: the ``keep // 2`` best (they decide where
expected improvement is high) and a uniform sample of the others drawn from a stream seeded by the searcher's
seed and the number of observations (they keep the model honest elsewhere). Later observations are appended to
the selection (block updates) until it holds ``max_fit_points``; then, and at every hyperparameter refit, a
new selection is drawn. The incumbent is the best of *all* observations. ``max_fit_points=None`` removes the
cap. The default was chosen from measurements (``benchmarks/bench_gp_decisions.py``): a decision at 3000
observations costs about what one at 200 does, and the methods benchmark's BO runs (at most ~120
observations) are unaffected.

With ``restrict_to`` (e.g. a table's rows), EI scores the unproposed allowed rows (a random subset of at most
``num_candidates``) and no local refinement is done: every proposal is a row.

Fed by a multi-fidelity scheduler, the model is fitted to the highest fidelity reached by at least
``min_points_per_fidelity`` trials, else to each trial's largest-fidelity result (see
``ObservationHistory.training_set``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr

from baselines.arguments import forwards_base_arguments
from baselines.encoding import ConfigEncoder
from baselines.gaussian_process import GaussianProcess
from baselines.searcher_common import LearningSearcher, TrainingSet
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import derive_seed, make_rng

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI for minimisation: E[max(best - f, 0)] with f ~ N(mean, std^2)
    = std * (z * Phi(z) + phi(z)), z = (best - mean) / std."""
    mean = np.asarray(mean, dtype=float)
    std = np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (best - mean) / std
    return std * (z * ndtr(z) + _INV_SQRT_2PI * np.exp(-0.5 * z * z))


@forwards_base_arguments
class BOSearcher(LearningSearcher):
    """GP-EI Bayesian optimisation (see the module docstring)."""

    def __init__(
        self,
        config_space: SearchSpace,
        *args: Any,
        num_initial_random: int | None = None,
        num_candidates: int = 2000,
        num_local_starts: int = 3,
        local_max_iterations: int = 20,
        full_refit_until: int = 30,
        refit_every: int = 10,
        num_restarts: int = 1,
        lengthscale_prior_sd: float | None = 1.5,
        max_fit_points: int | None = 200,
        refit_fraction: float = 0.1,
        max_fit_evaluations: int | None = 200,
        **kwargs: Any,
    ):
        if num_initial_random is None:
            # Enough random points to see every input column vary, bounded for high-dimensional spaces.
            num_initial_random = min(10, max(5, ConfigEncoder(config_space).dim + 1))
        super().__init__(config_space, *args, num_initial_random=num_initial_random, **kwargs)
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        if refit_every < 1:
            raise ValueError(f"refit_every must be >= 1, got {refit_every}")
        for name, value in (("num_local_starts", num_local_starts), ("local_max_iterations", local_max_iterations),
                            ("full_refit_until", full_refit_until)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if num_restarts < 1:
            raise ValueError(f"num_restarts must be >= 1 (one fit of the GP hyperparameters), got {num_restarts}")
        if lengthscale_prior_sd is not None and not lengthscale_prior_sd > 0:
            raise ValueError(f"lengthscale_prior_sd must be > 0 (or None for no prior), got {lengthscale_prior_sd}")
        if max_fit_points is not None and (isinstance(max_fit_points, bool) or int(max_fit_points) != max_fit_points
                                           or max_fit_points < 10):
            raise ValueError(f"max_fit_points must be an integer >= 10 or None (no cap), got {max_fit_points!r}")
        if not 0.0 <= refit_fraction <= 1.0:
            raise ValueError(f"refit_fraction must be in [0, 1], got {refit_fraction}")
        if max_fit_evaluations is not None and max_fit_evaluations < 1:
            raise ValueError(f"max_fit_evaluations must be >= 1 or None, got {max_fit_evaluations}")
        self.max_fit_points = None if max_fit_points is None else int(max_fit_points)
        self.refit_fraction = float(refit_fraction)
        self.num_candidates = num_candidates
        self.num_local_starts = num_local_starts
        self.local_max_iterations = local_max_iterations
        self.full_refit_until = full_refit_until
        self.refit_every = refit_every
        self._model_rng = make_rng(self.seed, "searcher", "bo-candidates")
        self.gp = GaussianProcess(self.encoder.dim, seed=derive_seed(self.seed, "bo-gp"), num_restarts=num_restarts,
                                  lengthscale_prior_sd=lengthscale_prior_sd, max_evaluations=max_fit_evaluations)
        self._fit_count: int | None = None  # training-set size at the last hyperparameter fit
        self._fit_fidelity: float | None = None
        # The rows of the training set the GP is conditioned on (positions), and the training set they index.
        self._rows = np.zeros(0, dtype=np.int64)
        self._seen_ids: list[int] = []
        self._seen_y = np.zeros(0)

    # ------------------------------------------------------------------------------------------------
    def refit_due(self, n: int, fidelity: float | None) -> bool:
        """Whether the hyperparameters are re-optimised (warm start plus restarts) at training-set size ``n``:
        the first fit, a new fidelity level or a shrunken set, else once ``max(refit_every, refit_fraction *
        n_last_fit)`` new observations arrived (every 10 up to 100 observations, then every 10%)."""
        if self._fit_count is None or fidelity != self._fit_fidelity or n < self._fit_count:
            return True
        return n - self._fit_count >= max(self.refit_every, math.ceil(self.refit_fraction * self._fit_count))

    def fit_rows(self, data: TrainingSet, reselect: bool) -> np.ndarray:
        """Positions of the training set the GP is fitted on (see "Bounded data" in the module docstring).

        Below the cap, every observation. Above it, a selection is made afresh (when ``reselect``, when the
        training set changed other than by appending, or when appending would pass the cap) of
        ``keep = 4 * max_fit_points // 5`` points: the ``keep // 2`` best and a seeded uniform sample of the
        others; later observations are appended to it until the cap is reached again.
        """
        n = len(data.y)
        cap = self.max_fit_points
        m = len(self._seen_ids)
        appended = (m <= n and data.trial_ids[:m] == self._seen_ids and np.array_equal(data.y[:m], self._seen_y))
        if cap is None or n <= cap:
            rows = np.arange(n)
        elif appended and not reselect and len(self._rows) + (n - m) <= cap:
            rows = np.concatenate([self._rows, np.arange(m, n)])
        else:
            keep = 4 * cap // 5
            order = np.argsort(data.y, kind="stable")
            best = order[: keep // 2]
            rng = make_rng(self.seed, "searcher", "bo-fit-subset", n)
            others = np.sort(order[keep // 2:])
            sample = others[np.sort(rng.choice(len(others), size=keep - len(best), replace=False))]
            rows = np.sort(np.concatenate([best, sample]))
        self._rows, self._seen_ids, self._seen_y = rows, list(data.trial_ids), data.y.copy()
        return rows

    def _fit(self, data: TrainingSet) -> None:
        n = len(data.y)
        full = self.refit_due(n, data.fidelity)
        rows = self.fit_rows(data, reselect=full)
        X = self.encoder.encode_many([data.configs[i] for i in rows])
        y = data.y[rows]
        if full:  # warm start plus seeded restarts
            self.gp.fit(X, y, optimize=True)
            self._fit_count, self._fit_fidelity = n, data.fidelity
        elif n <= self.full_refit_until:  # cheap while data are few: warm-started local re-optimisation
            self.gp.fit(X, y, optimize=True, num_restarts=0)
        else:  # keep the hyperparameters, condition on the new data (a block update of the Cholesky factor)
            self.gp.fit(X, y, optimize=False)

    def acquisition(self, data: TrainingSet) -> tuple[GaussianProcess, float]:
        """The GP (with pending fantasies) used to score candidates, and the incumbent value."""
        self._fit(data)
        best = float(np.min(data.y))
        pending = self.pending_configs(exclude=data.trial_ids)
        if not pending:
            return self.gp, best
        X_pending = self.encoder.encode_many(pending)
        # Fantasised outcomes count as observations, also for the incumbent: otherwise points next to a pending
        # point whose believed value beats the incumbent keep a large EI and workers cluster there.
        believed, _ = self.gp.predict(X_pending)
        return self.gp.with_fantasies(X_pending), min(best, float(np.min(believed)))

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        if self.encoder.dim == 0:
            return None
        model, best = self.acquisition(data)

        def ei(X: np.ndarray) -> np.ndarray:
            mean, std = model.predict(X)
            return expected_improvement(mean, std, best)

        return self.maximise_acquisition(ei)

    def maximise_acquisition(self, score: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any] | None:
        """The best new configuration by ``score`` (on encoded points, larger is better): the best allowed row
        of a random subset when restricted, else the best of ``num_candidates`` random points and local ascents
        from the ``num_local_starts`` best of them."""
        if self.pool is not None:
            idx, Xc = self.candidate_pool(self._model_rng, self.num_candidates)
            order = np.argsort(-score(Xc), kind="stable")
            return dict(self.pool.configs[int(idx[order[0]])])

        Xc = self.encoder.sample(self._model_rng, self.num_candidates)
        scores = score(Xc)
        starts = np.argsort(-scores, kind="stable")[: self.num_local_starts]
        refined = [self._refine(Xc[i], score) for i in starts]
        if refined:
            Xr = np.vstack(refined)
            Xc = np.vstack([Xr, Xc])
            scores = np.concatenate([score(Xr), scores])
        for i in np.argsort(-scores, kind="stable"):
            config = self.encoder.decode(Xc[i])
            if self.is_new(config):
                return config
        return None

    # ------------------------------------------------------------------------------------------------
    def _refine(self, x0: np.ndarray, ei) -> np.ndarray:
        """Local ascent of EI from ``x0``: L-BFGS-B on continuous columns, then greedy finite moves."""
        x = x0.copy()
        cols = self.encoder.continuous_columns
        if len(cols) and self.local_max_iterations > 0:
            def neg_log_ei(z: np.ndarray) -> tuple[float, np.ndarray]:
                # One batched prediction gives the value and forward/backward differences in every column.
                h = 1e-6
                steps = np.where(z + h <= 1.0, h, -h)
                batch = np.repeat(x[None, :], len(cols) + 1, axis=0)
                batch[:, cols] = z
                batch[np.arange(1, len(cols) + 1), cols] += steps
                values = -np.log(np.maximum(ei(batch), 1e-300))
                return float(values[0]), (values[1:] - values[0]) / steps

            z0 = x[cols].copy()
            res = minimize(neg_log_ei, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(cols),
                           options={"maxiter": self.local_max_iterations})
            if res.fun <= neg_log_ei(z0)[0]:
                x[cols] = res.x
            x = self.encoder.snap(x)[0]
        current = float(ei(x[None, :])[0])
        for _ in range(3):
            neighbours = self._finite_neighbours(x)
            if len(neighbours) == 0:
                break
            values = ei(neighbours)
            j = int(np.argmax(values))
            if values[j] <= current:
                break
            x, current = neighbours[j], float(values[j])
        return x

    def _finite_neighbours(self, x: np.ndarray) -> np.ndarray:
        """Points differing from ``x`` in one finite hyperparameter: any other category, or the adjacent
        value of an ordered one."""
        out = []
        for b in self.encoder.blocks:
            if not b.is_finite:
                continue
            if b.is_categorical:
                current = int(np.argmax(x[b.start:b.stop]))
                for k in range(b.stop - b.start):
                    if k != current:
                        y = x.copy()
                        y[b.start:b.stop] = 0.0
                        y[b.start + k] = 1.0
                        out.append(y)
            else:
                step = 1.0 / b.num_values if b.num_values > 1 else 0.0
                for delta in (-step, step):
                    u = x[b.start] + delta
                    if step and 0.0 <= u <= 1.0:
                        y = x.copy()
                        y[b.start] = u
                        out.append(y)
        if not out:
            return np.zeros((0, len(x)))
        return self.encoder.snap(np.vstack(out))
