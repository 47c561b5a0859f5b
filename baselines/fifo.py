"""FIFO: every trial runs to the maximum fidelity; a searcher chooses the configurations."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import check_positive_int
from baselines.scheduler import Scheduler, Searcher, Suggestion
from blackbox_repo.search_space import SearchSpace


@forwards_base_arguments
class FIFOScheduler(Scheduler):
    """Runs each suggested configuration to completion. With a random searcher this is random search."""

    def __init__(self, config_space: SearchSpace, metric: str, searcher: Searcher, *args: Any,
                 max_trials: int | None = None, **kwargs: Any):
        super().__init__(config_space, metric, *args, **kwargs)
        check_positive_int("max_trials", max_trials, allow_none=True)
        self.searcher = searcher
        self.max_trials = max_trials
        self._started = 0
        self._configs: dict[int, dict[str, Any]] = {}

    def suggest(self, trial_id: int) -> Suggestion:
        if self.max_trials is not None and self._started >= self.max_trials:
            return Suggestion.done()
        config = self.searcher.suggest(trial_id)
        if config is None:
            return Suggestion.done()
        self._started += 1
        self._configs[trial_id] = config
        return Suggestion.start(config)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return ()  # FIFO never intervenes; it only learns from completed trials

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        self.searcher.observe(trial_id, self._configs[trial_id], fidelity, self.metric_value(metrics))
        self.searcher.on_trial_end(trial_id)

    def on_trial_stopped(self, trial_id: int) -> None:
        self.searcher.on_trial_end(trial_id)

    def on_trial_failed(self, trial_id: int) -> None:
        self.searcher.on_trial_end(trial_id)
