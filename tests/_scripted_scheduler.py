"""A scheduler that follows a script, for backend tests (simulator, local backend): it starts the given
configurations in order, then resumes the paused trials (oldest first), then is done, and logs every callback.
Subclasses say where a trial's first segment reports (``milestones``) and what is decided there
(``first_segment_decision``); a resumed trial always continues."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baselines.scheduler import Decision, Scheduler, Suggestion
from blackbox_repo.search_space import SearchSpace


class InOrderScheduler(Scheduler):
    """Starts the given configurations in order, then resumes paused trials (oldest first), then is done."""

    def __init__(self, space: SearchSpace, configs: Sequence[Mapping[str, Any]], max_fidelity: float = 4):
        super().__init__(space, "loss", "min", 0, "epoch", max_fidelity)
        self.configs = list(configs)
        self.paused: list[int] = []
        self.resumed: set[int] = set()
        self.log: list[tuple] = []

    def suggest(self, trial_id):
        if self.configs:
            return Suggestion.start(self.configs.pop(0))
        if self.paused:
            tid = self.paused.pop(0)
            self.resumed.add(tid)
            return Suggestion.resume(tid)
        return Suggestion.done()

    def first_segment_decision(self, trial_id: int, fidelity: float) -> Decision:
        return Decision.CONTINUE

    def on_result(self, trial_id, fidelity, metrics):
        self.log.append(("result", trial_id, fidelity))
        if trial_id in self.resumed:
            return Decision.CONTINUE
        return self.first_segment_decision(trial_id, fidelity)

    def on_trial_complete(self, trial_id, fidelity, metrics):
        self.log.append(("complete", trial_id, fidelity))

    def on_trial_paused(self, trial_id):
        self.log.append(("paused", trial_id))
        self.paused.append(trial_id)

    def on_trial_stopped(self, trial_id):
        self.log.append(("stopped", trial_id))

    def on_trial_failed(self, trial_id):
        self.log.append(("failed", trial_id))
