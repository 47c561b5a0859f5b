"""NSGA-II (Deb et al. 2002) from pymoo, driven through pymoo's ask/tell interface.

pymoo's ``NSGA2`` (binary tournament on rank and crowding distance, simulated binary crossover, polynomial
mutation, rank-and-crowding survival) works on the unit cube of the search space's encoding
(``SearchSpace.encode``/``decode``: one coordinate in [0, 1] per non-constant hyperparameter; integers,
ordinals and categories are decoded from their bins). The scheduler hands out one generation at a time:

1. ``ask`` gives ``population_size`` individuals; each free worker starts the next one, run to the maximum
   fidelity (NSGA-II is single-fidelity);
2. while trials of the generation still run, free workers wait (NSGA-II is generational, so with more workers
   than individuals left some idle);
3. once every trial of the generation ended, its objective vectors (to minimise) are told to pymoo and the
   next generation is asked. A failed or stopped trial counts as the generation's worst value in every
   objective (pymoo needs finite values).

With ``restrict_to`` (a table's rows), each asked individual is replaced by the closest allowed configuration
not proposed before (Euclidean distance in the encoding), and pymoo is told that configuration's encoding,
so the population holds what was evaluated. pymoo draws from its own generator seeded from ``seed``, so runs
repeat exactly. Requires the ``moo`` extra (``pip install 'hpo-arena[moo]'``).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.multiobjective import ObjectiveVector
from baselines.scheduler import Scheduler, Suggestion
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import derive_seed


def _pymoo():
    try:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem
        from pymoo.problems.static import StaticProblem
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("NSGA2 needs pymoo: pip install 'hpo-arena[moo]' (or pip install pymoo)") from err
    return PymooNSGA2, Evaluator, Problem, StaticProblem


# The first objective stands for the base's metric/mode.
@forwards_base_arguments(fixed=("metric", "mode"))
class NSGA2(Scheduler):
    """NSGA-II through pymoo's ask/tell interface (see the module docstring)."""

    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        config_space: SearchSpace,
        metrics: Sequence[str],
        modes: Sequence[str],
        seed: int = 0,
        *,
        population_size: int = 20,
        restrict_to: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        **kwargs: Any,
    ):
        self.objectives = ObjectiveVector.build(metrics, modes, "NSGA2")
        super().__init__(config_space, self.objectives.metrics[0], self.objectives.modes[0], seed, **kwargs)
        if isinstance(population_size, bool) or not isinstance(population_size, int) or population_size < 2:
            raise ValueError(f"population_size must be an integer >= 2, got {population_size!r}")
        if max_trials is not None and max_trials < 1:
            raise ValueError(f"max_trials must be >= 1, got {max_trials}")
        self._dim = len(config_space.encode(config_space.sample(np.random.default_rng(0))))
        if self._dim == 0:
            raise ValueError("NSGA2: the search space has no tunable hyperparameter")
        pymoo_nsga2, evaluator_cls, problem_cls, self._static_problem = _pymoo()
        self._evaluator = evaluator_cls()
        self.population_size = population_size
        self.max_trials = max_trials
        self._problem = problem_cls(n_var=self._dim, n_obj=len(self.objectives.metrics), xl=0.0, xu=1.0)
        self._algorithm = pymoo_nsga2(pop_size=population_size)
        self._algorithm.setup(self._problem, termination=("n_gen", 2**62), seed=derive_seed(seed, "nsga2") % 2**32,
                              verbose=False)
        self._pool: list[dict[str, Any]] | None = None
        if restrict_to is not None:
            self._pool = [dict(c) for c in restrict_to]
            if not self._pool:
                raise ValueError("restrict_to is empty: give at least one allowed configuration")
            self._pool_X = np.vstack([config_space.encode(c) for c in self._pool])
            self._pool_free = np.ones(len(self._pool), dtype=bool)
        self._generation = None  # the pymoo Population being evaluated
        self._F = np.empty((0, len(self.objectives.metrics)))
        self._queue: deque[tuple[int, dict[str, Any]]] = deque()  # (index in the generation, configuration)
        self._index: dict[int, int] = {}  # trial id -> index in the generation
        self._open = 0  # trials of the generation handed out and not yet ended
        self._started = 0
        self.generations_told = 0

    # ----------------------------------------------------------------------------------------------------
    def _nearest_free_row(self, x: np.ndarray) -> int | None:
        free = np.flatnonzero(self._pool_free)
        if len(free) == 0:
            return None
        row = int(free[np.argmin(((self._pool_X[free] - x) ** 2).sum(axis=1))])
        self._pool_free[row] = False
        return row

    def _next_generation(self) -> bool:
        """Tell the finished generation, ask the next; False when no configuration is left to propose."""
        if self._generation is not None:
            F = self._F.copy()
            finite = np.isfinite(F)
            worst = np.array([F[finite[:, k], k].max() if finite[:, k].any() else 0.0 for k in range(F.shape[1])])
            F = np.where(finite, F, worst)
            self._evaluator.eval(self._static_problem(self._problem, F=F), self._generation)
            self._algorithm.tell(infills=self._generation)
            self.generations_told += 1
        population = self._algorithm.ask()
        X = np.clip(np.asarray(population.get("X"), dtype=float), 0.0, 1.0)
        configs = []
        if self._pool is not None:
            keep = []
            for i, x in enumerate(X):
                row = self._nearest_free_row(x)
                if row is None:
                    break
                X[i] = self._pool_X[row]
                keep.append(i)
                configs.append(dict(self._pool[row]))
            population = population[keep]
            X = X[: len(keep)]
            population.set("X", X)
        else:
            configs = [self.config_space.decode(x) for x in X]
        if len(configs) == 0:
            self._generation = None
            return False
        self._generation = population
        self._F = np.full((len(configs), len(self.objectives.metrics)), np.nan)
        self._queue = deque(enumerate(configs))
        return True

    def suggest(self, trial_id: int) -> Suggestion:
        if self.max_trials is not None and self._started >= self.max_trials:
            return Suggestion.done()
        if not self._queue:
            if self._open > 0:
                return Suggestion.wait()  # the generation is still being evaluated
            if not self._next_generation():
                return Suggestion.done()
        index, config = self._queue.popleft()
        self._index[trial_id] = index
        self._open += 1
        self._started += 1
        return Suggestion.start(config)

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return ()  # single-fidelity: only the completed trial matters

    def _end(self, trial_id: int, vector: np.ndarray | None) -> None:
        index = self._index.pop(trial_id, None)
        if index is None:
            return
        if vector is not None:
            self._F[index] = vector
        self._open -= 1

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        self._end(trial_id, self.objectives(metrics))

    def on_trial_stopped(self, trial_id: int) -> None:
        self._end(trial_id, None)

    def on_trial_failed(self, trial_id: int) -> None:
        self._end(trial_id, None)
