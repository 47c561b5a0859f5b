"""RUSH (Zappella, Salinas, Donini & Archambeau 2021, "Resource-aware asynchronous online hyperparameter
tuning with transfer"): stopping ASHA warm-started with the best ``num_hyperparameters_per_task``
configurations of every source task, evaluated first (as ``points_to_evaluate``), whose results set a
threshold at each rung: any other trial whose value at a rung is worse than the best warm-start value recorded
there is stopped at once, whether or not ASHA's quantile rule would keep it. Warm-start trials themselves are
judged by ASHA's rule only. Duplicate warm-start configurations (tasks sharing a best one) run once.
"""
from __future__ import annotations

from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.asynchronous_successive_halving import ASHA
from baselines.scheduler import Decision, Searcher, Suggestion
from baselines.transfer import TransferData, check_transfer_data
from blackbox_repo.search_space import SearchSpace


def warm_start_configurations(transfer_data: TransferData, space: SearchSpace, per_task: int) -> list[dict[str, Any]]:
    """The best ``per_task`` configurations of each source task (tasks in order), without duplicates."""
    out: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for task in transfer_data.tasks:
        for record in task.best_configurations(per_task):
            config = {name: record[name] for name in space}
            key = tuple(config.values())
            if key not in seen:
                seen.add(key)
                out.append(config)
    return out


# Stopping ASHA with one bracket: the warm-start trials' rung results set the thresholds.
@forwards_base_arguments(fixed=("variant", "brackets"))
class RUSH(ASHA):
    uses_transfer_data = True

    def __init__(self, config_space: SearchSpace, metric: str, transfer_data: TransferData, searcher: Searcher,
                 *args: Any, num_hyperparameters_per_task: int = 1, **kwargs: Any):
        super().__init__(config_space, metric, searcher, *args, variant="stopping", brackets=1, **kwargs)
        transfer_data = check_transfer_data(transfer_data, "RUSH")
        if (isinstance(num_hyperparameters_per_task, bool) or not isinstance(num_hyperparameters_per_task, int)
                or num_hyperparameters_per_task < 1):
            raise ValueError("RUSH: num_hyperparameters_per_task must be an integer >= 1, got "
                             f"{num_hyperparameters_per_task!r}")
        self.warm_start = warm_start_configurations(transfer_data, config_space, num_hyperparameters_per_task)
        # The searcher evaluates the warm-start configurations first, before its own points and proposals.
        searcher._initial[:0] = [searcher._complete(dict(c)) for c in self.warm_start]
        self._warm_left = len(self.warm_start)
        self.warm_trials: set[int] = set()
        self.thresholds: dict[float, float] = {}  # rung level -> best warm-start value there (to minimise)

    def suggest(self, trial_id: int) -> Suggestion:
        suggestion = super().suggest(trial_id)
        if suggestion.kind == "start" and self._warm_left > 0:
            self._warm_left -= 1
            self.warm_trials.add(trial_id)
        return suggestion

    def _stopping_decision(self, trial_id: int, fidelity: float, value: float) -> Decision:
        rungs = self._rungs[0]
        judged = [k for k in self._rungs_reached(0, fidelity) if trial_id not in rungs[k].values]
        decision = super()._stopping_decision(trial_id, fidelity, value)
        if not judged:
            return decision
        level = rungs[judged[0]].level
        if trial_id in self.warm_trials:
            best = self.thresholds.get(level)
            self.thresholds[level] = value if best is None else min(best, value)
            return decision
        threshold = self.thresholds.get(level)
        if threshold is not None and value > threshold:
            return Decision.STOP
        return decision
