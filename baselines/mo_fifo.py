"""Multi-objective FIFO: every trial runs to the maximum fidelity and its whole objective vector goes to a
multi-objective searcher (``MultiObjectiveSearcher``: MOBO-RANDOM, MOBO-LINEAR, MO-REA)."""
from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.fifo import FIFOScheduler
from baselines.multiobjective import ObjectiveVector
from baselines.scheduler import Searcher
from blackbox_repo.search_space import SearchSpace


class MultiObjectiveSearcher(Searcher):
    """A searcher that learns from objective vectors (to minimise) rather than from one value."""

    def objective_vector(self, metrics: Sequence[str] | None, modes: Sequence[str] | None) -> ObjectiveVector:
        """The validated objectives, whose first must be the searcher's ``metric``/``mode``."""
        objectives = ObjectiveVector.build(metrics, modes, type(self).__name__)
        if objectives.metrics[0] != self.metric or objectives.modes[0] != self.mode:
            raise ValueError(f"metric/mode ({self.metric}, {self.mode}) must be the first of metrics/modes "
                             f"({objectives.metrics[0]}, {objectives.modes[0]})")
        return objectives

    @abstractmethod
    def observe_objectives(self, trial_id: int, config: Mapping[str, Any], fidelity: float | None,
                           vector: np.ndarray) -> None:
        """A result's objective vector, maximised objectives already negated."""


# The first objective stands for the base's metric/mode.
@forwards_base_arguments(fixed=("metric", "mode"))
class MultiObjectiveFIFO(FIFOScheduler):
    """FIFO whose completed trials report their objective vector to a ``MultiObjectiveSearcher``."""

    multi_objective: ClassVar[bool] = True

    def __init__(self, config_space: SearchSpace, metrics: Sequence[str], modes: Sequence[str],
                 searcher: MultiObjectiveSearcher, seed: int = 0, **kwargs: Any):
        self.objectives = ObjectiveVector.build(metrics, modes, type(searcher).__name__)
        if not isinstance(searcher, MultiObjectiveSearcher):
            raise TypeError(f"MultiObjectiveFIFO needs a multi-objective searcher, got {type(searcher).__name__}")
        super().__init__(config_space, self.objectives.metrics[0], searcher, self.objectives.modes[0], seed,
                         **kwargs)

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        searcher: MultiObjectiveSearcher = self.searcher  # type: ignore[assignment]
        searcher.observe_objectives(trial_id, self._configs[trial_id], fidelity, self.objectives(metrics))
        searcher.on_trial_end(trial_id)
