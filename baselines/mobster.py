"""MOBSTER (Klein, Tiao, Lienart, Archambeau, Seeger 2020, "Model-based asynchronous hyperparameter and neural
architecture search"): Gaussian-process Bayesian optimisation proposing the new configurations of ASHA
(``MOBSTER``, stopping variant; ``MOBSTER-PROMOTION``, pause and resume) or of synchronous Hyperband
(``SYNC-MOBSTER``). The scheduler decides how long trials run exactly as ASHA / Hyperband do; only where new
trials come from changes. This module holds the searcher, shared with Hyper-Tune and DyHPO.

Data. The searcher sees every result the scheduler looks at: ``(trial, resource level, value)`` at the rung
levels (and at the maximum fidelity when a trial completes). Values are turned into "to minimise" (a maximised
metric is negated), so mode ``max`` needs nothing else.

Surrogate models (``model``):

- ``"independent"`` (Syne Tune's ``gp_independent``): one GP per rung level, each fitted to the results at
  that level only (Matern 5/2 ARD, ``baselines.gaussian_process``). Unlike Syne Tune, which shares the ARD
  lengthscales between the levels, each level's GP has its own hyperparameters (a weak log-normal prior on the
  lengthscales keeps the sparse high levels well posed).
- ``"joint"`` (Syne Tune's ``gp_multitask`` with the ``exp-decay-sum`` resource kernel): one GP over
  ``(x, r)`` with the exponential-decay (freeze-thaw) kernel, ``ExponentialDecayResourceGP``; the resource is
  scaled to ``r / max_fidelity``.

Acquisition. Expected improvement at the resource level ``r_acq`` chosen by BOHB's rule (Syne Tune's
``resource_acq="bohb"``): the highest level with at least ``min_points_per_level`` results (default 3, as in
Syne Tune), else the lowest level with any. The incumbent is the best result at ``r_acq``. EI is maximised as
by ``BOSearcher``: ``num_candidates`` (1000) random candidates, then local refinement from the best one
(``num_local_starts=1``, as Syne Tune refines its best initial candidate only); with ``restrict_to``, the
unproposed rows of the table are scored instead. The first ``num_initial_random`` trials (default 6, as in Syne Tune) and
``points_to_evaluate`` are not model-based.

Pending evaluations. As in ``BOSearcher``: every running trial without a result at ``r_acq`` is conditioned on
with the kriging believer (its outcome at ``r_acq`` taken to be the posterior mean, which also counts for the
incumbent), so asynchronous workers do not all pick the same point. (Syne Tune averages over 20 sampled
fantasies instead.) A trial that a promotion-type scheduler resumes is not pending for the searcher (its
configuration is already known and not proposable again); DyHPO, which owns its resumes, registers them.

Bounded decision time. (1) The GP sees at most ``max_size_data_for_model`` results (default 500, Syne Tune's
default). Results are taken level by level from the top (``cap_observations``): the scarce high-level results
are what the acquisition level needs, and the bottom levels hold most of the data (ASHA starts ``rf^K`` times
more trials than it finishes). Within the level where the cap bites, the best ``max_size_top_fraction`` (25%)
of the places go to the best results, which locate the optimum, and the rest to a seeded random subset of the
others, which keeps the model informed about the whole space. Keeping the *most recent* results instead would,
with a model-based searcher, keep mostly points near the incumbent: the model would forget the bad regions and
become overconfident away from them. The subset is redrawn from a stream keyed by the number of observations,
so reruns are identical. (2) Hyperparameters are re-fitted by marginal likelihood (warm start plus
``num_restarts`` random starts) only when ``max(refit_every, refit_fraction * m)`` new results arrived since the
last fit, ``m`` being the number the model had seen at that fit (so refits become geometrically rarer), each
L-BFGS-B run capped at ``max_fit_iterations`` iterations and twice as many likelihood evaluations, re-optimised locally from the last solution while ``n <= full_refit_until``, and otherwise kept while
the GP is only re-conditioned: a Cholesky factorisation of at most 500 points. (Syne Tune refits at every
decision.)
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.bayesian_optimization import BOSearcher
from baselines.gaussian_process import ExponentialDecayResourceGP, GaussianProcess
from baselines.searcher_common import TrainingSet
from blackbox_repo.seeding import derive_seed, make_rng

MODELS = ("independent", "joint")


def cap_observations(tiers: np.ndarray, values: np.ndarray, max_size: int, top_fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Indices (ascending) of at most ``max_size`` observations, chosen tier by tier.

    Tier 0 first, then tier 1, ...: a tier is kept whole while it fits. In the first tier that does not fit,
    the remaining ``room`` places go to its ``ceil(top_fraction * room)`` best (smallest) values and to a
    uniformly random subset of its other observations; later tiers are dropped. Ties in value are broken by
    position (stable sort), so the choice depends on the data and ``rng`` only.
    """
    n = len(values)
    if n <= max_size:
        return np.arange(n)
    order = np.argsort(tiers, kind="stable")
    sorted_tiers = tiers[order]
    boundaries = np.flatnonzero(np.diff(sorted_tiers)) + 1
    kept: list[np.ndarray] = []
    room = max_size
    for group in np.split(order, boundaries):
        if len(group) <= room:
            kept.append(group)
            room -= len(group)
            continue
        if room > 0:
            by_value = group[np.argsort(values[group], kind="stable")]
            num_best = min(room, math.ceil(top_fraction * room))
            rest = by_value[num_best:]
            kept.append(by_value[:num_best])
            kept.append(rng.choice(rest, size=room - num_best, replace=False))
        break
    return np.sort(np.concatenate(kept))


def sparsify_by_buckets(trials: np.ndarray, levels: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the observations kept when each trial keeps at most one per bucket: its result at
    the largest level in each bucket ``(edges[k-1], edges[k]]`` (levels above the last edge form one more
    bucket). Syne Tune's DyHPO thins its dense learning curves the same way, on geometric buckets."""
    if len(levels) == 0:
        return np.arange(0)
    bucket = np.searchsorted(edges, levels * (1.0 - 1e-9), side="left")
    order = np.lexsort((-levels, bucket, trials))  # per (trial, bucket), the largest level first
    pairs = np.stack([trials[order], bucket[order]], axis=1)
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)
    return np.sort(order[first])


def acquisition_level(level_counts: Mapping[float, int], threshold: int) -> float:
    """BOHB's rule: the highest level with at least ``threshold`` results, else the lowest level with any."""
    supported = [level for level, count in level_counts.items() if count >= threshold]
    return max(supported) if supported else min(level_counts)


class ClampedResource:
    """A view of a joint GP over ``(x, r)`` as a model over ``x`` at a fixed scaled resource ``r``."""

    def __init__(self, gp: GaussianProcess, resource: float):
        self.gp = gp
        self.resource = float(resource)

    def extend(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        return np.hstack([X, np.full((len(X), 1), self.resource)])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(self.extend(X))

    def posterior_covariance(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.posterior_covariance(self.extend(X))


@dataclass
class _FitRecord:
    """When a model's hyperparameters were last fitted: how many observations it had seen by then."""

    seen_at_fit: int
    key: Any


# Its own models fit every (trial, level) result (``min_points_per_level``, ``max_size_data_for_model``,
# ``max_fit_iterations``) in place of BO's single training set and fit caps.
@forwards_base_arguments(fixed=("min_points_per_fidelity", "max_fit_points", "max_fit_evaluations"))
class MultiFidelityGPSearcher(BOSearcher):
    """The MOBSTER searcher (see the module docstring); ``model`` picks the surrogate."""

    def __init__(
        self,
        *args: Any,
        model: str = "independent",
        num_initial_random: int | None = 6,
        min_points_per_level: int = 3,
        max_size_data_for_model: int | None = 500,
        max_size_top_fraction: float = 0.25,
        num_candidates: int = 1000,
        num_local_starts: int = 1,
        refit_fraction: float = 0.2,
        max_fit_iterations: int = 50,
        **kwargs: Any,
    ):
        # refit_fraction is checked and set below (any value >= 0, where BO's must be at most 1).
        super().__init__(*args, num_initial_random=num_initial_random, num_candidates=num_candidates,
                         num_local_starts=num_local_starts, min_points_per_fidelity=1, **kwargs)
        if model not in MODELS:
            raise ValueError(f"unknown surrogate model {model!r}; valid: {', '.join(MODELS)}")
        if self.max_fidelity is None or not self.max_fidelity > 0:
            raise ValueError(f"{type(self).__name__} models results over resource levels: give max_fidelity > 0, "
                             f"got {self.max_fidelity!r}")
        if min_points_per_level < 1:
            raise ValueError(f"min_points_per_level must be >= 1, got {min_points_per_level}")
        if max_size_data_for_model is not None and max_size_data_for_model < 2:
            raise ValueError(f"max_size_data_for_model must be >= 2 or None, got {max_size_data_for_model}")
        if not 0.0 <= max_size_top_fraction <= 1.0:
            raise ValueError(f"max_size_top_fraction must be in [0, 1], got {max_size_top_fraction}")
        if refit_fraction < 0:
            raise ValueError(f"refit_fraction must be >= 0, got {refit_fraction}")
        self.model = model
        self.min_points_per_level = min_points_per_level
        self.max_size_data_for_model = max_size_data_for_model
        self.max_size_top_fraction = max_size_top_fraction
        self.refit_fraction = refit_fraction
        self.max_fit_iterations = max_fit_iterations
        # Every result seen: parallel lists, one entry per (trial, level); a repeated report overwrites.
        self._obs_trial: list[int] = []
        self._obs_level: list[float] = []
        self._obs_value: list[float] = []
        self._obs_index: dict[tuple[int, float], int] = {}
        self.level_counts: dict[float, int] = {}
        # Encoded configuration per trial, as rows of one array indexed by trial id (``encoded`` gathers from it:
        # every decision of DyHPO and Hyper-Tune looks up hundreds of trials).
        self._x_rows = np.zeros((0, self.encoder.dim))
        self._x_known = np.zeros(0, dtype=bool)  # which rows of ``_x_rows`` hold an encoding
        self._obs_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # ``observations()``, cached
        self._num_observed = 0  # observations ever received (overwrites included): drives refits and subsets
        self._models: dict[Any, GaussianProcess] = {}
        self._fits: dict[Any, _FitRecord] = {}
        self._seen: dict[Any, int] = {}
        self._bucket_edges: np.ndarray | None = None  # see ``sparsify_joint_data``

    def sparsify_joint_data(self, edges: Sequence[float] | None) -> None:
        """Thin the joint model's data to one result per trial and bucket ``(edges[k-1], edges[k]]`` (the one
        at the largest level; ``sparsify_by_buckets``) before the size cap; ``None`` keeps every result.

        For schedulers that record results at many closely spaced levels (DyHPO's linear levels): a trial run
        to level 50 would otherwise bring 25 nearly collinear points of one learning curve, which cost cubic
        time in the GP but add little beyond the latest point of each stretch of the curve."""
        self._bucket_edges = None if edges is None else np.sort(np.asarray(edges, dtype=float))

    # ------------------------------------------------------------------------------------------------
    # Data
    def observe(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None, value: float) -> None:
        super().observe(trial_id, config, fidelity, value)
        if not self._has_encoding(trial_id):  # also for a diverged trial: a paused one may still be scored for promotion
            self._store_encoding(trial_id, self.encoder.encode(config))
        value = self._sign * float(value)
        if not math.isfinite(value):  # NaN and infinities stay out of the GP's data (the worst result)
            return
        level = float(self.max_fidelity if fidelity is None else fidelity)
        key = (trial_id, level)
        index = self._obs_index.get(key)
        self._obs_arrays = None
        if index is None:
            self._obs_index[key] = len(self._obs_value)
            self._obs_trial.append(trial_id)
            self._obs_level.append(level)
            self._obs_value.append(value)
            self.level_counts[level] = self.level_counts.get(level, 0) + 1
        else:
            self._obs_value[index] = value
        self._num_observed += 1

    @property
    def num_observations(self) -> int:
        return len(self._obs_value)

    def has_result(self, trial_id: int, level: float) -> bool:
        return (trial_id, float(level)) in self._obs_index

    def observations(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every result seen: trial ids, levels and values to minimise (read-only arrays of equal length, built
        once per new result)."""
        if self._obs_arrays is None:
            arrays = (np.asarray(self._obs_trial, dtype=np.int64), np.asarray(self._obs_level, dtype=float),
                      np.asarray(self._obs_value, dtype=float))
            for array in arrays:
                array.flags.writeable = False
            self._obs_arrays = arrays
        return self._obs_arrays

    def _has_encoding(self, trial_id: int) -> bool:
        return trial_id < len(self._x_known) and bool(self._x_known[trial_id])

    def encoded_trials(self) -> np.ndarray:
        """Ids (ascending) of the trials whose configuration is encoded: every trial with a result, and running
        ones that a decision looked up."""
        return np.flatnonzero(self._x_known)

    def _store_encoding(self, trial_id: int, x: np.ndarray) -> None:
        if trial_id >= len(self._x_rows):  # grow geometrically: amortised O(1) per trial
            size = max(2 * len(self._x_rows), trial_id + 1, 64)
            rows, known = np.zeros((size, self.encoder.dim)), np.zeros(size, dtype=bool)
            rows[:len(self._x_rows)], known[:len(self._x_known)] = self._x_rows, self._x_known
            self._x_rows, self._x_known = rows, known
        self._x_rows[trial_id] = x
        self._x_known[trial_id] = True

    def encoded(self, trial_ids: np.ndarray) -> np.ndarray:
        """Encoded configurations of trials that reported a result or are running (a new array)."""
        trial_ids = np.asarray(trial_ids, dtype=np.int64).reshape(-1)
        unknown = trial_ids >= len(self._x_known)
        inside = ~unknown
        unknown[inside] = ~self._x_known[trial_ids[inside]]
        for t in np.unique(trial_ids[unknown]):  # running, no result yet
            self._store_encoding(int(t), self.encoder.encode(self.pending[int(t)]))
        return self._x_rows[trial_ids]

    def scaled_resource(self, level: float | np.ndarray) -> float | np.ndarray:
        return np.asarray(level, dtype=float) / float(self.max_fidelity)

    def _cap(self, tiers: np.ndarray, values: np.ndarray) -> np.ndarray:
        if self.max_size_data_for_model is None:
            return np.arange(len(values))
        rng = make_rng(self.seed, "searcher", "mobster-cap", self._num_observed)
        return cap_observations(tiers, values, self.max_size_data_for_model, self.max_size_top_fraction, rng)

    def data_at_level(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Trial ids and values of the results at ``level`` (capped; see ``cap_observations``)."""
        trials, levels, values = self.observations()
        at = np.flatnonzero(levels == float(level))
        keep = at[self._cap(np.zeros(len(at), dtype=np.int64), values[at])]
        return trials[keep], values[keep]

    def joint_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Trial ids, levels and values for the joint model (capped level by level from the top)."""
        trials, levels, values = self.observations()
        if self._bucket_edges is not None:
            thin = sparsify_by_buckets(trials, levels, self._bucket_edges)
            trials, levels, values = trials[thin], levels[thin], values[thin]
        tiers = np.unique(-levels, return_inverse=True)[1]  # 0 = the highest level
        keep = self._cap(tiers, values)
        return trials[keep], levels[keep], values[keep]

    # ------------------------------------------------------------------------------------------------
    # Models
    def _new_gp(self, joint: bool, key: Any) -> GaussianProcess:
        cls = ExponentialDecayResourceGP if joint else GaussianProcess
        return cls(self.encoder.dim, seed=derive_seed(self.seed, "mobster-gp", str(key)),
                   num_restarts=self.gp.num_restarts, max_iterations=self.max_fit_iterations,
                   lengthscale_prior_sd=self.gp.lengthscale_prior_sd,
                   max_evaluations=2 * self.max_fit_iterations)

    def fit_model(self, key: Any, X: np.ndarray, y: np.ndarray, seen: int, joint: bool = False) -> GaussianProcess:
        """Condition model ``key`` on ``(X, y)``, re-fitting its hyperparameters on the schedule of the module
        docstring; ``seen`` counts the observations this model has received so far."""
        gp = self._models.get(key)
        if gp is None:
            gp = self._models[key] = self._new_gp(joint, key)
        record = self._fits.get(key)
        n = len(y)
        if record is None or seen - record.seen_at_fit >= max(self.refit_every,
                                                              self.refit_fraction * record.seen_at_fit):
            gp.fit(X, y, optimize=True)
            self._fits[key] = _FitRecord(seen, key)
        elif n <= self.full_refit_until:
            gp.fit(X, y, optimize=True, num_restarts=0)
        else:
            gp.fit(X, y, optimize=False)
        return gp

    def level_model(self, level: float) -> GaussianProcess:
        """The independent model of ``level`` fitted to its (capped) results."""
        trials, y = self.data_at_level(level)
        return self.fit_model(("level", float(level)), self.encoded(trials), y, self.level_counts.get(level, 0))

    def joint_model(self) -> GaussianProcess:
        """The joint exponential-decay model fitted to the (capped) results at every level."""
        trials, levels, y = self.joint_data()
        X = np.hstack([self.encoded(trials), self.scaled_resource(levels)[:, None]])
        return self.fit_model("joint", X, y, self._num_observed, joint=True)

    def pending_without_result(self, level: float) -> tuple[list[int], np.ndarray]:
        """Running trials that have no result at ``level`` yet, and their encodings."""
        ids = [t for t in self.pending if not self.has_result(t, level)]
        X = np.stack([self.encoder.encode(self.pending[t]) for t in ids]) if ids else np.zeros((0, self.encoder.dim))
        return ids, X

    def model_at_level(self, level: float) -> tuple[Any, float]:
        """A model over encoded configurations at ``level`` conditioned on the pending trials (kriging believer),
        and the incumbent: the best result at ``level`` or believed outcome of a pending trial there."""
        level = float(level)
        _, X_pending = self.pending_without_result(level)
        _, levels, values = self.observations()
        best = float(np.min(values[levels == level]))
        if self.model == "joint":
            view = ClampedResource(self.joint_model(), float(self.scaled_resource(level)))
            if len(X_pending):
                believed, _ = view.predict(X_pending)
                view = ClampedResource(view.gp.with_fantasies(view.extend(X_pending)), view.resource)
                best = min(best, float(np.min(believed)))
            return view, best
        gp = self.level_model(level)
        if len(X_pending):
            believed, _ = gp.predict(X_pending)
            gp = gp.with_fantasies(X_pending)
            best = min(best, float(np.min(believed)))
        return gp, best

    # ------------------------------------------------------------------------------------------------
    # Proposals (the candidate search itself is BOSearcher's)
    def acquisition_level(self) -> float:
        return acquisition_level(self.level_counts, self.min_points_per_level)

    def acquisition(self, data: TrainingSet | None) -> tuple[Any, float]:
        return self.model_at_level(self.acquisition_level())

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.pool is not None and not self.pool.available.any():
            return None
        if len(self.history) >= max(self.num_initial_random, 1) and self.num_observations:
            config = self._propose(None)  # type: ignore[arg-type]
            if config is not None and self.is_new(config):
                return config
        return self.random_new_config()

    def accept(self, trial_id: int, config: Mapping[str, Any]) -> dict[str, Any]:
        """Book a configuration chosen outside ``suggest`` (DyHPO's scoring) as if ``suggest`` had proposed it."""
        config = dict(config)
        self.pending[trial_id] = config
        key = self.key(config)
        self._proposed.add(key)
        if self.pool is not None:
            self.pool.mark_used(key)
        return config

    def candidates(self, rng: np.random.Generator, num: int) -> tuple[np.ndarray, np.ndarray]:
        """Encodings of ``num`` new configurations to score and, when restricted, their rows of the table
        (``-1`` rows otherwise); ``decode_candidate`` turns a winner into a configuration."""
        if self.pool is not None:
            idx, X = self.candidate_pool(rng, num)
            return X, idx
        return self.encoder.sample(rng, num), np.full(num, -1)

    def decode_candidate(self, x: np.ndarray, row: int) -> dict[str, Any] | None:
        """The configuration of a scored candidate, ``None`` if it was proposed before."""
        config = dict(self.pool.configs[int(row)]) if row >= 0 and self.pool is not None else self.encoder.decode(x)
        return config if self.is_new(config) else None
