"""Zero-shot transfer (Wistuba, Schilling & Schmidt-Thieme 2015, "Sequential model-free hyperparameter tuning").

Before seeing any result of the target task, pick a portfolio of configurations greedily: each step adds the
candidate that most lowers the sum over source tasks of the best score the portfolio reaches on that task
(a task is covered once any member does well on it). Scores are each source task's normalised ranks (0: its
best configuration, 1: its worst), or its values min-max normalised (``score="value"``), so tasks of different
scales weigh alike. The portfolio is evaluated in order; afterwards the searcher draws random configurations.

Candidates are the benchmark's configurations (``restrict_to``, e.g. the target table's rows) or else every
configuration the source tasks evaluated; a candidate a source task did not evaluate gets the score of its
nearest evaluated neighbour there (``baselines.transfer.scores_at``). Ties of the greedy criterion go to the
candidate with the lowest mean score, then to the first listed.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.random_search import RandomSearcher
from baselines.transfer import (
    TransferSearcher,
    normalised_ranks,
    scores_at,
)

SCORES = ("rank", "value")


def greedy_portfolio(scores: np.ndarray, size: int) -> list[int]:
    """Indices (columns of ``scores``, shape (n_tasks, n_candidates), lower is better) of a greedy portfolio of
    at most ``size`` candidates minimising ``sum_t min_{c in portfolio} scores[t, c]``."""
    n_tasks, n_candidates = scores.shape
    covered = np.full(n_tasks, np.inf)
    mean = scores.mean(axis=0)
    chosen: list[int] = []
    available = np.ones(n_candidates, dtype=bool)
    for _ in range(min(size, n_candidates)):
        totals = np.minimum(covered[:, None], scores).sum(axis=0)
        candidates = np.flatnonzero(available)
        order = np.lexsort((candidates, mean[candidates], totals[candidates]))  # last key sorts first
        best = int(candidates[order[0]])
        chosen.append(best)
        available[best] = False
        covered = np.minimum(covered, scores[:, best])
    return chosen


@forwards_base_arguments
class ZeroShotSearcher(TransferSearcher):
    """Proposes the greedy portfolio first, then random configurations (see the module docstring)."""

    method = "ZERO-SHOT"

    def __init__(self, *args: Any, portfolio_size: int = 100, score: str = "rank", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.check_count("portfolio_size", portfolio_size)
        if score not in SCORES:
            raise ValueError(f"ZERO-SHOT: score must be one of {SCORES}, got {score!r}")
        self.portfolio_size = portfolio_size
        self.score = score
        self._portfolio: list[dict[str, Any]] | None = None  # computed at the first suggestion
        self._proposed: set[tuple] = set()
        self._random = RandomSearcher(self.config_space, self.metric, self.mode, self.seed,
                                      restrict_to=self.restrict_to)

    def _key(self, config: Mapping[str, Any]) -> tuple:
        return tuple(config[name] for name in self.config_space)

    def _candidates(self) -> list[dict[str, Any]]:
        if self.restrict_to is not None:
            return self.restrict_to
        seen: dict[tuple, dict[str, Any]] = {}
        for task in self.transfer_data.tasks:
            for record in task.records():
                config = {name: record[name] for name in self.config_space}
                seen.setdefault(self._key(config), config)
        return list(seen.values())

    def _task_scores(self, values: np.ndarray) -> np.ndarray:
        if self.score == "rank":
            return normalised_ranks(values)
        low, high = values.min(), values.max()
        return np.zeros_like(values) if high == low else (values - low) / (high - low)

    def portfolio(self) -> list[dict[str, Any]]:
        """The greedy portfolio, best first (computed once)."""
        if self._portfolio is None:
            candidates = self._candidates()
            scores = np.stack([
                scores_at(candidates, task, self._task_scores(task.final), self.config_space)
                for task in self.transfer_data.tasks
            ])
            self._portfolio = [dict(candidates[i]) for i in greedy_portfolio(scores, self.portfolio_size)]
        return self._portfolio

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        portfolio = self.portfolio()
        if portfolio:
            config = portfolio.pop(0)
            self._proposed.add(self._key(config))
            return config
        while True:  # random search, skipping what the portfolio already evaluated
            config = self._random.suggest(trial_id)
            if config is None:
                return None
            self._random.pending.pop(trial_id, None)
            if self.restrict_to is None or self._key(config) not in self._proposed:
                return config
