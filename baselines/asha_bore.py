"""ASHA-BORE: stopping ASHA whose new configurations come from BORE's classifier (as Syne Tune's ASHABORE).

The classifier, candidates and acquisition are BORE's (``baselines.bore``); what changes is the data it is
fitted to. A multi-fidelity scheduler shows the searcher results at its rungs; following BOHB, the classifier
is fitted to the results at the *highest rung holding at least* ``min_points_per_fidelity`` *results* (all
labelled at that rung: the best ``ceil(gamma * n)`` are 1), and until some rung holds that many, new
configurations are drawn at random. This replaces single-fidelity BORE's rule (a random start of
``num_initial_random`` trials, then a fit to each trial's latest result when no fidelity is well populated),
which mixes values from different fidelities in one ranking; single-fidelity ``BORE`` keeps its own rule and
its results.

Running trials are added with label 0 (BORE's constant liar) whatever rung they are heading for.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.bore import BORESearcher
from baselines.searcher_common import _NO_FIDELITY, TrainingSet


# No random start of its own: configurations are random until a rung holds enough results.
@forwards_base_arguments(fixed=("num_initial_random",))
class MultiFidelityBORESearcher(BORESearcher):
    """BORE fitted on the highest rung with enough data (see the module docstring)."""

    def __init__(self, *args: Any, min_points_per_fidelity: int = 10, **kwargs: Any):
        super().__init__(*args, num_initial_random=0, min_points_per_fidelity=min_points_per_fidelity, **kwargs)
        #: The fidelity the classifier behind the last proposal was fitted on (None: the proposal was random).
        self.last_fit_fidelity: float | None = None

    def rung_training_set(self) -> TrainingSet | None:
        """The results at the highest fidelity with at least ``min_points_per_fidelity`` of them, or None."""
        counts: dict[float, int] = {}
        for per_fidelity in self.history.values.values():
            for f in per_fidelity:
                counts[f] = counts.get(f, 0) + 1
        eligible = [f for f, c in counts.items() if c >= self.history.min_points_per_fidelity]
        if not eligible:
            return None
        level = max(eligible)
        ids = [t for t, per_fidelity in self.history.values.items() if level in per_fidelity]
        y = np.array([self.history.values[t][level] for t in ids], dtype=float)
        return TrainingSet(ids, [self.history.configs[t] for t in ids], y,
                           None if level == _NO_FIDELITY else level)

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self.pool is not None and not self.pool.available.any():
            return None
        self.last_fit_fidelity = None
        data = self.rung_training_set()
        if data is not None:
            config = self._propose(data)
            if config is not None and self.is_new(config):
                self.last_fit_fidelity = data.fidelity
                return config
        return self.random_new_config()
