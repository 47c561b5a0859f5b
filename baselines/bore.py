"""BORE: Bayesian optimisation by density-ratio estimation (Tiao et al., ICML 2021).

The expected improvement of TPE equals (up to a monotone map) the density ratio ``l(x) / g(x)``, and that
ratio is a monotone function of the probability ``P(y <= y_gamma | x)``. BORE therefore labels the best
``ceil(gamma * n)`` results 1 and the rest 0, fits a probabilistic classifier to the encoded configurations
(``baselines.encoding``), and proposes the candidate with the highest predicted probability.

Classifiers (``classifier=``): ``"xgboost"`` (``xgboost.XGBClassifier``, the paper's tree model),
``"random_forest"`` (``sklearn.ensemble.RandomForestClassifier``) or ``"mlp"``
(``sklearn.neural_network.MLPClassifier``, the paper's main model); ``classifier_kwargs`` override their
settings. All are made deterministic (single thread, seeded); XGBoost uses its exact tree method, which on
the few hundred points BORE sees is several times faster than ``hist`` (whose set-up dominates).

Candidates: ``num_candidates`` random members plus local perturbations of the best observed configurations
(tree classifiers are piecewise constant, so ties are broken at random by the searcher's seed). Running trials
are added with label 0 (a constant liar) so that parallel workers do not pile onto the same point. With
``restrict_to`` the allowed unproposed configurations are scored instead. Multi-fidelity results are used as
described in ``ObservationHistory.training_set``.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.searcher_common import LearningSearcher, TrainingSet
from blackbox_repo.seeding import derive_seed, make_rng

CLASSIFIERS = ("xgboost", "random_forest", "mlp")


def make_classifier(name: str, seed: int, **kwargs: Any):
    """A fresh, seeded, single-threaded classifier with ``fit`` / ``predict_proba``."""
    if name == "xgboost":
        from xgboost import XGBClassifier

        params: dict[str, Any] = {"n_estimators": 100, "max_depth": 6, "learning_rate": 0.3,
                                  "tree_method": "exact", "n_jobs": 1, "random_state": seed, "verbosity": 0}
        params.update(kwargs)
        return XGBClassifier(**params)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        params = {"n_estimators": 100, "min_samples_leaf": 1, "n_jobs": 1, "random_state": seed}
        params.update(kwargs)
        return RandomForestClassifier(**params)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        params = {"hidden_layer_sizes": (32, 32), "solver": "lbfgs", "alpha": 1e-3, "max_iter": 500,
                  "random_state": seed}
        params.update(kwargs)
        return MLPClassifier(**params)
    raise ValueError(f"unknown BORE classifier {name!r}; valid: {', '.join(CLASSIFIERS)}")


@forwards_base_arguments
class BORESearcher(LearningSearcher):
    """Classifier-based Bayesian optimisation (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        num_initial_random: int = 10,
        gamma: float = 0.25,
        classifier: str = "xgboost",
        classifier_kwargs: Mapping[str, Any] | None = None,
        num_candidates: int = 500,
        num_local_parents: int = 5,
        local_samples_per_parent: int = 20,
        local_sigma: float = 0.1,
        max_restricted_candidates: int = 2000,
        **kwargs: Any,
    ):
        super().__init__(*args, num_initial_random=num_initial_random, **kwargs)
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {gamma}")
        if classifier not in CLASSIFIERS:
            raise ValueError(f"unknown BORE classifier {classifier!r}; valid: {', '.join(CLASSIFIERS)}")
        for name, value in (("num_candidates", num_candidates), ("max_restricted_candidates", max_restricted_candidates)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, value in (("num_local_parents", num_local_parents),
                            ("local_samples_per_parent", local_samples_per_parent)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not local_sigma > 0:
            raise ValueError(f"local_sigma must be > 0, got {local_sigma}")
        self.gamma = gamma
        self.classifier = classifier
        self.classifier_kwargs = dict(classifier_kwargs or {})
        self.num_candidates = num_candidates
        self.num_local_parents = num_local_parents
        self.local_samples_per_parent = local_samples_per_parent
        self.local_sigma = local_sigma
        self.max_restricted_candidates = max_restricted_candidates
        self._model_rng = make_rng(self.seed, "searcher", "bore-candidates")
        self._classifier_seed = derive_seed(self.seed, "bore-classifier")

    def labelled_data(self, data: TrainingSet) -> tuple[np.ndarray, np.ndarray]:
        """Encoded inputs and 0/1 labels (1 = among the best ``gamma`` fraction; pending trials are 0)."""
        X = self.encoder.encode_many(data.configs)
        order = np.argsort(data.y, kind="stable")
        labels = np.zeros(len(order), dtype=np.int64)
        labels[order[: max(1, math.ceil(self.gamma * len(order)))]] = 1
        pending = self.pending_configs(exclude=data.trial_ids)
        if pending:
            X = np.vstack([X, self.encoder.encode_many(pending)])
            labels = np.concatenate([labels, np.zeros(len(pending), dtype=np.int64)])
        return X, labels

    def fit_classifier(self, X: np.ndarray, labels: np.ndarray):
        from sklearn.exceptions import ConvergenceWarning  # lazily: scikit-learn adds ~1 s to every start

        model = make_classifier(self.classifier, self._classifier_seed, **self.classifier_kwargs)
        with warnings.catch_warnings():
            # The MLP's lbfgs often stops at max_iter on tiny data sets; its fit is still usable.
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            model.fit(X, labels)
        return model

    def local_candidates(self, data: TrainingSet) -> np.ndarray:
        """Perturbations of the best observed configurations: Gaussian steps on numeric columns and, for each
        categorical hyperparameter, a resample with probability 1 / (number of hyperparameters)."""
        if self.num_local_parents <= 0 or self.local_samples_per_parent <= 0:
            return np.zeros((0, self.encoder.dim))
        best = np.argsort(data.y, kind="stable")[: self.num_local_parents]
        parents = self.encoder.encode_many([data.configs[i] for i in best])
        X = np.repeat(parents, self.local_samples_per_parent, axis=0)
        n = len(X)
        p_resample = 1.0 / max(1, len(self.encoder.blocks))
        for b in self.encoder.blocks:
            if b.is_categorical:
                flip = self._model_rng.random(n) < p_resample
                idx = self._model_rng.integers(0, b.stop - b.start, size=n)
                X[flip, b.start:b.stop] = 0.0
                X[np.flatnonzero(flip), b.start + idx[flip]] = 1.0
            else:
                X[:, b.start] += self.local_sigma * self._model_rng.standard_normal(n)
        return self.encoder.snap(X)

    def _ranked(self, scores: np.ndarray) -> np.ndarray:
        """Indices by decreasing score, ties in a seeded random order."""
        return np.lexsort((self._model_rng.random(len(scores)), -scores))

    def _propose(self, data: TrainingSet) -> dict[str, Any] | None:
        if self.encoder.dim == 0:
            return None
        X, labels = self.labelled_data(data)
        if labels.min() == labels.max():
            return None  # one class only: nothing to learn yet
        model = self.fit_classifier(X, labels)
        if self.pool is not None:
            idx, Xc = self.candidate_pool(self._model_rng, self.max_restricted_candidates)
            best = self._ranked(model.predict_proba(Xc)[:, 1])[0]
            return dict(self.pool.configs[int(idx[best])])
        Xc = np.vstack([self.encoder.sample(self._model_rng, self.num_candidates), self.local_candidates(data)])
        order = self._ranked(model.predict_proba(Xc)[:, 1])
        return self.first_new(self.encoder.decode(Xc[i]) for i in order)
