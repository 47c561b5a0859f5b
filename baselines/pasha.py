"""PASHA: progressive ASHA (Bohdal, Balles, Wistuba, Ermis, Archambeau, Zappella, ICLR 2023).

PASHA is promotion-type ASHA whose maximum fidelity grows only when needed. With rung levels
``r_0 < r_1 < ... < r_(K-1)`` below ``max_fidelity``, trials may at first reach only ``r_1`` (the "current
maximum"): the two current top rungs are ``r_0`` and ``r_1``. After every result, the trials recorded at the
current top rung are ranked by their top-rung value and, separately, by their value at the rung below. If
the two rankings disagree (beyond the soft-ranking tolerance), the current maximum moves up one rung level
(after ``r_(K-1)`` it becomes ``max_fidelity``), so paused trials of the former top rung become promotable.

Soft ranking (the paper's criterion): sort the top-rung trials by their previous-rung values; the trial at
position ``i`` of that order forms a group with every neighbour whose previous-rung value is within
``epsilon`` of its own (walking outwards while the gap holds). The rankings agree when, for each ``i``, the
``i``-th best trial *by top-rung value* belongs to group ``i``.

``epsilon``: by default estimated from the data as the paper does: among pairs of trials that both reported
at a fidelity ``e`` in ``(r_below, r_top]`` whose learning curves swapped order at an earlier fidelity and then
swapped back (they "criss-cross"), take the 90th percentile of their value gaps at ``e`` (each pair counted
once, at the highest such fidelity). Before any such pair exists ``epsilon = 0`` (exact ranking); with fewer
than two trials in the top rung it is also 0. A fixed ``epsilon`` (>= 0) can be given instead. This needs every
fidelity's result, so PASHA asks for results at all fidelities (``milestones`` = ``None``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.asynchronous_successive_halving import ASHA
from baselines.scheduler import Decision

EPSILON_PERCENTILE = 90.0


# One bracket of promotion-type ASHA whose top rung grows.
@forwards_base_arguments(fixed=("variant", "brackets"))
class PASHA(ASHA):
    """Progressive ASHA (see the module docstring)."""

    def __init__(self, *args: Any, epsilon: float | None = None, **kwargs: Any):
        super().__init__(*args, variant="promotion", brackets=1, **kwargs)
        if epsilon is not None and not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0 (or None to estimate it), got {epsilon}")
        self.fixed_epsilon = epsilon
        self.epsilon = 0.0 if epsilon is None else float(epsilon)
        # Index (into self.levels) of the current top rung; len(self.levels) once max_fidelity is allowed.
        self.top_rung = min(1, len(self.levels))
        self.curves: dict[int, dict[float, float]] = {}  # every result, to minimise, per trial and fidelity
        self.max_history: list[float] = [self.current_max_fidelity]

    @property
    def current_max_fidelity(self) -> float:
        return self.levels[self.top_rung] if self.top_rung < len(self.levels) else self.max_fidelity

    def _level_cap(self) -> float:
        return float(self.current_max_fidelity)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return None

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        decision = super().on_result(trial_id, fidelity, metrics)
        self.curves.setdefault(trial_id, {})[float(fidelity)] = self.minimised(metrics)
        if self.top_rung < len(self.levels) and len(self.levels) >= 2:
            top_level = self.levels[min(self.top_rung, len(self.levels) - 1)]
            below_level = self.levels[min(self.top_rung, len(self.levels) - 1) - 1]
            if self.fixed_epsilon is None and below_level < float(fidelity) <= top_level + 1e-9:
                self.epsilon = self._estimate_epsilon(below_level, top_level)
            if self._rankings_disagree():
                self.top_rung += 1
                self.max_history.append(self.current_max_fidelity)
                if self.fixed_epsilon is None and self.top_rung < len(self.levels):
                    self.epsilon = self._estimate_epsilon(self.levels[self.top_rung - 1],
                                                          self.levels[self.top_rung])
        return decision

    # ----------------------------------------------------------------------------------------------------
    def _top_two(self) -> tuple[dict[int, float], dict[int, float]]:
        k = min(self.top_rung, len(self.levels) - 1)
        rungs = self._rungs[0]
        return rungs[k].values, rungs[k - 1].values

    def _rankings_disagree(self) -> bool:
        top, below = self._top_two()
        if len(top) < 2:
            return False
        by_top = [t for _, t in sorted((v, t) for t, v in top.items())]
        by_below = sorted(((below[t], t) for t in top), key=lambda e: (e[0], e[1]))
        eps = self.epsilon
        values = [v for v, _ in by_below]
        ids = [t for _, t in by_below]
        for i, trial in enumerate(by_top):
            lo = i
            while lo > 0 and values[lo - 1] >= values[i] - eps:
                lo -= 1
            hi = i
            while hi + 1 < len(values) and values[hi + 1] <= values[i] + eps:
                hi += 1
            if trial not in ids[lo:hi + 1]:
                return True
        return False

    def _estimate_epsilon(self, below_level: float, top_level: float) -> float:
        """90th percentile of the gaps of criss-crossing pairs at fidelities in ``(below_level, top_level]``."""
        trials = [t for t, c in self.curves.items() if any(below_level < f <= top_level + 1e-9 for f in c)]
        if len(trials) < 2:
            return self.epsilon
        fidelities = sorted({f for t in trials for f in self.curves[t] if f <= top_level + 1e-9})
        col = {f: j for j, f in enumerate(fidelities)}
        curves = np.full((len(trials), len(fidelities)), np.nan)
        for i, t in enumerate(trials):
            for f, v in self.curves[t].items():
                if f in col:
                    curves[i, col[f]] = v
        seen = np.zeros((len(trials), len(trials)), dtype=bool)
        gaps: list[np.ndarray] = []
        iu, ju = np.triu_indices(len(trials), k=1)
        for j in range(len(fidelities) - 1, -1, -1):
            if fidelities[j] <= below_level or fidelities[j] > top_level + 1e-9:
                continue
            present = ~np.isnan(curves[:, j])
            pairs = present[iu] & present[ju] & ~seen[iu, ju]
            if not pairs.any() or j == 0:
                continue
            a, b = iu[pairs], ju[pairs]
            seen[a, b] = True
            order_now = curves[a, j] > curves[b, j]
            # Earlier fidelities, latest first: an opposite order followed (further back) by the same order.
            earlier = curves[a, :j][:, ::-1] > curves[b, :j][:, ::-1]
            opposite = earlier != order_now[:, None]
            same = ~opposite
            n = earlier.shape[1]
            first_opposite = np.where(opposite.any(axis=1), opposite.argmax(axis=1), n)
            last_same = np.where(same.any(axis=1), n - 1 - same[:, ::-1].argmax(axis=1), -1)
            crossing = last_same > first_opposite
            if crossing.any():
                gaps.append(np.abs(curves[a, j] - curves[b, j])[crossing])
        if not gaps:
            return self.epsilon
        return float(np.percentile(np.concatenate(gaps), EPSILON_PERCENTILE))
