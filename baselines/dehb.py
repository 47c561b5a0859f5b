"""DEHB: differential evolution inside Hyperband brackets (Awad, Mallik & Hutter, IJCAI 2021).

Budgets are the Hyperband levels of ``baselines.successive_halving`` (``grace_period * reduction_factor**k``
below the maximum, snapped to the reported fidelities, then the maximum): ``B`` budgets. DEHB's bracket
``i`` (``i = 0, 1, ...``) has ``s = B - 1 - (i mod B)`` halvings, starts at budget ``B - 1 - s`` and holds

    n_0 = floor(B / (s + 1)) * rf**s,   n_k = max(floor(n_0 / rf**k), 1),   k = 0..s

configurations (DEHB's formula: the floor is taken before multiplying, so sizes can be smaller than
Hyperband's ``ceil``; for ``rf = 3``, ``B = 4``: ``[27, 9, 3, 1]``, ``[9, 3, 1]``, ``[6, 2]``, ``[4]``).

Configurations live in the unit hypercube, one coordinate per tunable hyperparameter
(``SearchSpace.encode`` / ``decode``). Each budget keeps a subpopulation whose size is the largest number of
configurations any bracket runs at that budget, initialised uniformly at random (= the prior of every domain
under its encoding) with fitness +inf. A job is (configuration, budget, parent): its parent (the DE target) is
the next individual of the budget's subpopulation in a cycling order, and its result replaces the parent if
it is at least as good (DE selection; +inf for a failed or diverged trial). How a job's configuration is made:

- bracket 0, first rung: the initial subpopulation itself (``points_to_evaluate`` first), evaluated as drawn,
  as in the paper's algorithm (the reference code mutates these random vectors once more, which leaves them
  random);
- the other rungs of the first ``B`` brackets (DEHB's first Hyperband iteration): successive halving's
  promotion. The evaluated individuals of the previous budget's subpopulation, best first, that are not
  already in this budget's subpopulation, form a queue of at most ``n_k``; each job takes the next one (the
  best individual again if the queue is empty). The trial that evaluated it is resumed from its checkpoint
  when it is paused below this budget; otherwise the configuration starts afresh;
- everything else: ``rand/1/bin``. The parents of the mutation are the best ``n_k`` individuals of the
  previous budget's subpopulation (the same budget's for a bracket's first rung), completed, when fewer than
  3, with ``4 - n`` rand/1 mutants of the union of all subpopulations; three distinct ones
  ``r1, r2, r3`` (the target excluded) give ``mutant = r1 + mutation_factor * (r2 - r3)``; binomial crossover
  takes each coordinate from the mutant with probability ``crossover_prob`` (at least one) and from the target
  otherwise; coordinates outside [0, 1] are redrawn uniformly (``boundary_fix="random"``, the reference's
  default) or clipped (``"clip"``). The configuration starts as a new trial.

Within a bracket, a rung's jobs are handed out only once every result of the previous rung is in (synchronous
successive halving); asynchronous workers never wait for that: a free worker takes the next job of the oldest
bracket that has one ready and, if none has, opens the next bracket (DEHB's asynchronous scheduling). A trial
pauses at its job's budget while it may still be promoted (brackets of the first iteration) and is stopped
otherwise; at the maximum it completes.

``restrict_to``: initial individuals are encodings of allowed configurations drawn at random, and every new
configuration is the allowed one nearest (in the hypercube) to the DE vector among those not started yet; the
individual then holds that configuration's encoding. When none is left, no new trial starts (promotions of
paused trials still happen) and the run ends once the running trials end.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.multi_fidelity import (
    TrialStatus,
    check_positive_int,
    check_reduction_factor,
    fidelity_matches,
    rung_levels,
)
from baselines.scheduler import Decision, Scheduler, Suggestion
from baselines.searcher_common import config_key
from blackbox_repo.search_space import SearchSpace

BOUNDARY_FIXES = ("random", "clip")
_MIN_MUTATION_PARENTS = 3  # rand/1 needs three distinct individuals


# ---------------------------------------------------------------------------------------------------------
# DE operators (pure functions of an explicit generator)
# ---------------------------------------------------------------------------------------------------------

def rand1_parents(rng: np.random.Generator, population: np.ndarray, target: np.ndarray | None) -> np.ndarray:
    """Three distinct individuals of ``population`` (without the first row equal to ``target``), completed
    with uniform random vectors if fewer than three remain. Returns (3, d)."""
    pool = np.asarray(population, dtype=float)
    skip = -1  # the row left out (the target's first copy)
    if target is not None and len(pool) > 1:
        same = np.flatnonzero((pool == target).all(axis=1))
        if len(same):
            skip = int(same[0])
    remaining = len(pool) - (skip >= 0)
    if remaining < _MIN_MUTATION_PARENTS:
        if skip >= 0:
            pool = np.concatenate((pool[:skip], pool[skip + 1:]))
        pool = np.vstack([pool, rng.random((_MIN_MUTATION_PARENTS - remaining, pool.shape[1]))])
        return pool[rng.choice(len(pool), size=_MIN_MUTATION_PARENTS, replace=False)]
    # Draw among the remaining rows by index and step over the skipped one: the same draw as on the pool
    # without that row, without copying it.
    picks = rng.choice(remaining, size=_MIN_MUTATION_PARENTS, replace=False)
    if skip >= 0:
        picks[picks >= skip] += 1
    return pool[picks]


def rand1_mutation(parents: np.ndarray, mutation_factor: float) -> np.ndarray:
    """DE's rand/1 mutant ``r1 + F * (r2 - r3)``."""
    r1, r2, r3 = parents
    return r1 + mutation_factor * (r2 - r3)


def binomial_crossover(rng: np.random.Generator, target: np.ndarray, mutant: np.ndarray,
                       crossover_prob: float) -> np.ndarray:
    """Each coordinate from the mutant with probability ``crossover_prob``, at least one (drawn uniformly)."""
    d = len(target)
    if d == 0:
        return np.array(target, dtype=float)
    take = rng.random(d) < crossover_prob
    if not take.any():
        take[rng.integers(d)] = True
    return np.where(take, mutant, target)


def fix_boundary(rng: np.random.Generator, vector: np.ndarray, kind: str) -> np.ndarray:
    """Coordinates outside [0, 1] redrawn uniformly (``"random"``) or clipped (``"clip"``)."""
    out = np.array(vector, dtype=float)
    if out.size == 0 or (out.min() >= 0.0 and out.max() <= 1.0):
        return out
    outside = (out < 0.0) | (out > 1.0)
    if kind == "random":
        out[outside] = rng.random(int(outside.sum()))
    else:
        out = np.clip(out, 0.0, 1.0)
    return out


def dehb_brackets(num_budgets: int, reduction_factor: float) -> list[list[int]]:
    """Configurations per rung of DEHB's brackets ``0 .. num_budgets - 1`` (the module docstring's formula)."""
    sizes = []
    for i in range(num_budgets):
        s = num_budgets - 1 - i
        n0 = int(math.floor(num_budgets / (s + 1)) * reduction_factor**s + 1e-9)
        sizes.append([max(int(n0 * reduction_factor ** (-k) + 1e-9), 1) for k in range(s + 1)])
    return sizes


# ---------------------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Subpopulation:
    """DE's population at one budget."""

    budget: float
    vectors: np.ndarray  # (n, d) points of the unit hypercube
    fitness: np.ndarray  # (n,) values to minimise; +inf = not evaluated (or failed)
    trial_of: np.ndarray  # (n,) the trial that evaluated the individual at this budget, -1 if none
    parent_counter: int = 0
    promotion_queue: list[tuple[np.ndarray, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fitness)

    def next_parent(self) -> int:
        parent = self.parent_counter
        self.parent_counter = (self.parent_counter + 1) % len(self)
        return parent

    def best_first(self) -> np.ndarray:
        return np.argsort(self.fitness, kind="stable")


@dataclass
class DEHBBracket:
    """One successive-halving bracket: jobs not yet handed out and results back, per rung.

    Rungs are handed out in order (``current_rung`` moves on when its last job is handed out), so every rung
    below ``current_rung`` has been handed out whole; the counters below keep the questions ``suggest`` asks
    (a job to hand out? a lower rung still waiting for results? finished?) O(1) instead of scans over rungs."""

    index: int
    budgets: list[float]
    sizes: list[int]
    to_hand_out: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    current_rung: int = 0
    first_level: int = 0  # the budget index of rung 0 (rung k runs at budget ``first_level + k``)
    num_to_hand_out: int = 0  # sum of to_hand_out
    num_outstanding: int = 0  # jobs handed out whose results are not back, over all rungs
    num_outstanding_below: int = 0  # the same, over the rungs below current_rung

    def __post_init__(self) -> None:
        self.to_hand_out = list(self.sizes)
        self.returned = [0] * len(self.sizes)
        self.num_to_hand_out = sum(self.sizes)

    def waiting(self, rung: int) -> bool:
        """Results of handed-out jobs of ``rung`` are still out."""
        return self.returned[rung] + self.to_hand_out[rung] < self.sizes[rung]

    def previous_rung_waits(self) -> bool:
        return self.num_outstanding_below > 0

    def has_jobs(self) -> bool:
        return self.num_to_hand_out > 0

    def ready(self) -> bool:
        """A job can be handed out now."""
        return self.num_to_hand_out > 0 and self.num_outstanding_below == 0

    def done(self) -> bool:
        return self.num_to_hand_out == 0 and self.num_outstanding == 0

    def next_rung(self) -> int:
        if self.to_hand_out[self.current_rung] > 0:
            return self.current_rung
        return self.current_rung + 1

    def register(self, rung: int) -> None:
        self.to_hand_out[rung] -= 1
        self.num_to_hand_out -= 1
        self.num_outstanding += 1
        if rung < self.current_rung:
            self.num_outstanding_below += 1
        if self.to_hand_out[self.current_rung] == 0 and self.current_rung + 1 < len(self.sizes):
            rung_done = self.current_rung
            self.num_outstanding_below += self.sizes[rung_done] - self.to_hand_out[rung_done] - self.returned[rung_done]
            self.current_rung += 1

    def complete(self, rung: int) -> None:
        self.returned[rung] += 1
        self.num_outstanding -= 1
        if rung < self.current_rung:
            self.num_outstanding_below -= 1


@dataclass
class Job:
    trial_id: int
    bracket: DEHBBracket
    rung: int
    budget: float
    parent_id: int
    vector: np.ndarray
    kind: str  # "initial" | "promotion" | "evolution"
    level: int = 0  # index of ``budget`` in ``DEHB.budgets`` (its subpopulation)


# ---------------------------------------------------------------------------------------------------------
# The scheduler
# ---------------------------------------------------------------------------------------------------------

@forwards_base_arguments
class DEHB(Scheduler):
    """DEHB (see the module docstring)."""

    def __init__(
        self,
        config_space: SearchSpace,
        *args: Any,
        grace_period: float = 1,
        reduction_factor: float = 3,
        mutation_factor: float = 0.5,
        crossover_prob: float = 0.5,
        boundary_fix: str = "random",
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        restrict_to: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(config_space, *args, **kwargs)
        if self.max_fidelity is None:
            raise ValueError("DEHB is a multi-fidelity method: give max_fidelity (or fidelity_values)")
        check_reduction_factor(reduction_factor)
        check_positive_int("max_trials", max_trials, allow_none=True)
        if not 0.0 < mutation_factor <= 2.0:
            raise ValueError(f"mutation_factor must be in (0, 2], got {mutation_factor}")
        if not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(f"crossover_prob must be in [0, 1], got {crossover_prob}")
        if boundary_fix not in BOUNDARY_FIXES:
            raise ValueError(f"unknown boundary_fix {boundary_fix!r}; valid: {', '.join(BOUNDARY_FIXES)}")
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.mutation_factor = float(mutation_factor)
        self.crossover_prob = float(crossover_prob)
        self.boundary_fix = boundary_fix
        self.max_trials = max_trials
        self.names = config_space.names
        self.dim = len(config_space.tunable_names)
        self.budgets: list[float] = [
            *rung_levels(grace_period, reduction_factor, self.max_fidelity, self.fidelity_values), self.max_fidelity
        ]
        self.num_budgets = len(self.budgets)
        self.bracket_sizes = dehb_brackets(self.num_budgets, reduction_factor)
        self.population_sizes = self._population_sizes()

        self._pool_vectors: np.ndarray | None = None
        self._pool_columns: np.ndarray | None = None  # the pool vectors transposed (d, n), for distances
        self._pool_configs: list[dict[str, Any]] = []
        self._pool_index: dict[tuple, int] = {}
        self._pool_free: np.ndarray | None = None
        self._num_pool_free = 0
        if restrict_to is not None:
            self._init_pool(restrict_to)
        self.subpopulations: list[Subpopulation] = [
            self._random_subpopulation(budget, size) for budget, size in zip(self.budgets, self.population_sizes)
        ]
        if points_to_evaluate:
            self._seed_initial_points(points_to_evaluate)

        self.brackets: list[DEHBBracket] = []  # open brackets, oldest first
        self.num_brackets_opened = 0
        self.jobs: dict[int, Job] = {}  # trial -> its current (unfinished) job
        self.configs: dict[int, dict[str, Any]] = {}
        self.status: dict[int, TrialStatus] = {}
        self._num_running = 0
        self.reached: dict[int, float] = {}  # trial -> largest fidelity it reported at a milestone
        self.num_started = 0
        self._exhausted = False
        #: Every job handed out, in order (for inspection and tests).
        self.job_log: list[Job] = []

    # ------------------------------------------------------------------------------------------------
    def _population_sizes(self) -> list[int]:
        sizes = [0] * self.num_budgets
        for i, bracket in enumerate(self.bracket_sizes):
            first = self.num_budgets - len(bracket)
            for k, n in enumerate(bracket):
                sizes[first + k] = max(sizes[first + k], n)
        return sizes

    def _init_pool(self, restrict_to: Sequence[Mapping[str, Any]]) -> None:
        if hasattr(restrict_to, "to_dict") and hasattr(restrict_to, "columns"):  # a pandas DataFrame
            restrict_to = restrict_to.to_dict("records")  # type: ignore[union-attr]
        for i, raw in enumerate(restrict_to):
            config = {n: (raw[n].item() if isinstance(raw[n], np.generic) else raw[n]) for n in self.names if n in raw}
            problems = self.config_space.violations(config)
            if problems:
                raise ValueError(f"restrict_to entry {i} is not a member of the search space: " + "; ".join(problems))
            key = config_key(config, self.names)
            if key not in self._pool_index:
                self._pool_index[key] = len(self._pool_configs)
                self._pool_configs.append(config)
        if not self._pool_configs:
            raise ValueError("restrict_to is empty: give at least one allowed configuration")
        self._pool_vectors = np.array([self.config_space.encode(c) for c in self._pool_configs]).reshape(
            len(self._pool_configs), self.dim)
        self._pool_columns = np.ascontiguousarray(self._pool_vectors.T)
        self._pool_free = np.ones(len(self._pool_configs), dtype=bool)
        self._num_pool_free = len(self._pool_configs)

    def _random_vectors(self, n: int) -> np.ndarray:
        if self._pool_vectors is None:
            return self.rng.random((n, self.dim))
        rows = self.rng.choice(len(self._pool_vectors), size=n, replace=n > len(self._pool_vectors))
        return self._pool_vectors[rows].copy()

    def _random_subpopulation(self, budget: float, size: int) -> Subpopulation:
        return Subpopulation(budget, self._random_vectors(size), np.full(size, math.inf),
                             np.full(size, -1, dtype=np.int64))

    def _seed_initial_points(self, points: Sequence[Mapping[str, Any]]) -> None:
        bottom = self.subpopulations[0]
        if len(points) > len(bottom):
            raise ValueError(f"DEHB takes at most {len(bottom)} points_to_evaluate (the first bracket's first rung "
                             f"with these budgets), got {len(points)}; pass fewer points or a larger grace_period "
                             "range")
        for i, point in enumerate(points):
            config = {n: point[n] if n in point else dom.decode(0.5) for n, dom in self.config_space.items()}
            extra = set(point) - set(self.config_space)
            if extra:
                raise ValueError(f"points_to_evaluate entry has unknown hyperparameters {sorted(extra)}")
            self.config_space.check(config)
            if self._pool_vectors is not None and config_key(config, self.names) not in self._pool_index:
                raise ValueError(f"points_to_evaluate entry {i} is not among the restrict_to configurations")
            bottom.vectors[i] = self.config_space.encode(config)

    # ------------------------------------------------------------------------------------------------
    # Configurations from vectors
    def _config_for(self, vector: np.ndarray) -> tuple[dict[str, Any], np.ndarray, int | None] | None:
        """The configuration a vector stands for, the vector the individual keeps and the allowed row (restricted:
        the nearest allowed configuration not started yet, its encoding and row); None when none is left."""
        if self._pool_vectors is None:
            return self.config_space.decode(np.clip(vector, 0.0, 1.0)), np.array(vector, dtype=float), None
        assert self._pool_free is not None and self._pool_columns is not None
        if self._num_pool_free == 0:
            return None
        # Distances to every row, the started ones masked out: argmin picks the same row as over the free rows
        # alone (the first of equal ones), without gathering them.
        # Coordinates as rows (d, n): the per-row sums run as d vectorised additions in coordinate order, the
        # same order (and so the same bits) as summing each (n, d) row, at a fraction of the cost.
        d2 = ((self._pool_columns - vector[:, None]) ** 2).sum(axis=0)
        d2[~self._pool_free] = math.inf
        row = int(np.argmin(d2))
        return dict(self._pool_configs[row]), self._pool_vectors[row].copy(), row

    def _mark_started(self, config: Mapping[str, Any], row: int | None = None) -> None:
        if self._pool_free is not None:
            if row is None:
                row = self._pool_index.get(config_key(config, self.names))
            if row is not None and self._pool_free[row]:
                self._pool_free[row] = False
                self._num_pool_free -= 1

    # ------------------------------------------------------------------------------------------------
    # Job creation
    def _open_bracket(self) -> DEHBBracket:
        index = self.num_brackets_opened
        self.num_brackets_opened += 1
        sizes = self.bracket_sizes[index % self.num_budgets]
        first = self.num_budgets - len(sizes)
        bracket = DEHBBracket(index, list(self.budgets[first:]), list(sizes), first_level=first)
        self.brackets.append(bracket)
        return bracket

    def promotion_candidate(self, lower: Subpopulation, upper: Subpopulation, num_configs: int) -> tuple[np.ndarray, int]:
        """The next individual (vector, trial) promoted from ``lower`` to ``upper`` (see the module docstring)."""
        order = lower.best_first()
        if not upper.promotion_queue:
            # The evaluated individuals best first (up to the first non-finite fitness), without those already
            # in the upper subpopulation (keeps the population diverse), at most num_configs of them.
            finite = np.isfinite(lower.fitness[order])
            evaluated = order[:len(order) if finite.all() else int(np.argmin(finite))]
            candidates = lower.vectors[evaluated]
            above = (candidates[:, None, :] == upper.vectors[None, :, :]).all(axis=2).any(axis=1)
            chosen = evaluated[~above][:num_configs]
            upper.promotion_queue.extend(
                (vector, int(trial)) for vector, trial in zip(lower.vectors[chosen], lower.trial_of[chosen]))
        if upper.promotion_queue:
            return upper.promotion_queue.pop(0)
        best = int(order[0])
        return lower.vectors[best].copy(), int(lower.trial_of[best])

    def mutation_parents(self, lower: Subpopulation, num_configs: int, target: np.ndarray) -> np.ndarray:
        """The individuals a rand/1 mutant is drawn from: the best ``num_configs`` of ``lower``, completed with
        mutants of the union of all subpopulations when fewer than 3."""
        parents = lower.vectors[lower.best_first()[:num_configs]]
        if len(parents) < _MIN_MUTATION_PARENTS:
            union = np.vstack([s.vectors for s in self.subpopulations])
            filler = _MIN_MUTATION_PARENTS - len(parents) + 1
            extra = np.array([rand1_mutation(rand1_parents(self.rng, union, target), self.mutation_factor)
                              for _ in range(filler)]).reshape(filler, self.dim)
            parents = np.vstack([parents, extra])
        return parents

    def evolve(self, target: np.ndarray, parents: np.ndarray) -> np.ndarray:
        """rand/1/bin with the boundary fix: the DE trial vector for ``target``."""
        mutant = rand1_mutation(rand1_parents(self.rng, parents, target), self.mutation_factor)
        trial = binomial_crossover(self.rng, target, mutant, self.crossover_prob)
        return fix_boundary(self.rng, trial, self.boundary_fix)

    def _make_job(self, trial_id: int, bracket: DEHBBracket, rung: int) -> Suggestion | None:
        budget = bracket.budgets[rung]
        level = bracket.first_level + rung
        sub = self.subpopulations[level]
        lower = self.subpopulations[max(level - 1, 0)] if rung > 0 else sub
        num_configs = bracket.sizes[rung]
        parent_id = sub.next_parent()
        target = sub.vectors[parent_id]
        if bracket.index == 0 and rung == 0:
            kind, vector = "initial", target.copy()
        elif bracket.index < self.num_budgets and rung > 0:
            kind = "promotion"
            vector, source = self.promotion_candidate(lower, sub, num_configs)
            if source >= 0 and self.status.get(source) == TrialStatus.PAUSED \
                    and float(self.reached.get(source, 0.0)) < float(budget) \
                    and not fidelity_matches(self.reached.get(source, 0.0), budget):
                self._register(Job(source, bracket, rung, budget, parent_id, vector, kind, level))
                self._set_status(source, TrialStatus.RUNNING)
                return Suggestion.resume(source)
            if source >= 0 and self._can_start():
                # The configuration itself (exactly, also in restricted mode) starts afresh at this budget.
                return self._start(trial_id, Job(trial_id, bracket, rung, budget, parent_id, vector, kind, level),
                                   dict(self.configs[source]))
            if source >= 0:
                sub.promotion_queue.insert(0, (vector, source))  # not handed out: it keeps its place
        else:
            kind, vector = "evolution", self.evolve(target, self.mutation_parents(lower, num_configs, target))
        made = self._config_for(vector) if self._can_start() else None
        if made is None:
            if self._can_start():
                self._exhausted = True  # restricted: every allowed configuration has been started
            sub.parent_counter = parent_id  # the job is not handed out: the parent keeps its turn
            return None
        config, vector, row = made
        return self._start(trial_id, Job(trial_id, bracket, rung, budget, parent_id, vector, kind, level), config, row)

    def _start(self, trial_id: int, job: Job, config: dict[str, Any], row: int | None = None) -> Suggestion:
        self._register(job)
        self.configs[trial_id] = config
        self._set_status(trial_id, TrialStatus.RUNNING)
        self.num_started += 1
        self._mark_started(config, row)
        return Suggestion.start(config)

    def _register(self, job: Job) -> None:
        job.bracket.register(job.rung)
        self.jobs[job.trial_id] = job
        self.job_log.append(job)

    def _set_status(self, trial_id: int, status: TrialStatus) -> None:
        # Keeps the number of running trials, so that suggest need not scan every trial's status.
        self._num_running += (status == TrialStatus.RUNNING) - (self.status.get(trial_id) == TrialStatus.RUNNING)
        self.status[trial_id] = status

    def _can_start(self) -> bool:
        return not self._exhausted and (self.max_trials is None or self.num_started < self.max_trials)

    # ------------------------------------------------------------------------------------------------
    # Scheduler interface
    def suggest(self, trial_id: int) -> Suggestion:
        if trial_id in self.configs:
            raise ValueError(f"trial id {trial_id} was already used; the tuner must pass a new id")
        self.brackets = [b for b in self.brackets if not b.done()]
        if self._can_start():
            bracket = next((b for b in self.brackets if b.ready()), None)
            if bracket is None:
                bracket = self._open_bracket()
            job = self._make_job(trial_id, bracket, bracket.next_rung())
            if job is not None:
                return job
        # No new trial can start: only promotions of paused trials (resumes) are still possible.
        for bracket in self.brackets:
            if bracket.ready() and bracket.index < self.num_budgets and bracket.next_rung() > 0:
                job = self._make_job(trial_id, bracket, bracket.next_rung())
                if job is not None:
                    return job
        return Suggestion.wait() if self._num_running else Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return [self.jobs[trial_id].budget]

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        job = self.jobs.get(trial_id)
        if job is None or (float(fidelity) < float(job.budget) and not fidelity_matches(fidelity, job.budget)):
            return Decision.CONTINUE
        self.reached[trial_id] = float(fidelity)
        self._finish_job(job, self._minimised(metrics))
        if fidelity_matches(job.budget, self.max_fidelity):
            return Decision.CONTINUE  # the trial completes at the maximum
        if job.bracket.index < self.num_budgets:
            self._set_status(trial_id, TrialStatus.PAUSED)  # it may still be promoted (first iteration)
            return Decision.PAUSE
        self._set_status(trial_id, TrialStatus.STOPPED)
        return Decision.STOP

    def _minimised(self, metrics: Mapping[str, float]) -> float:
        value = self._sign * self.metric_value(metrics)
        return math.inf if math.isnan(value) else value

    def _finish_job(self, job: Job, value: float) -> None:
        del self.jobs[job.trial_id]
        job.bracket.complete(job.rung)
        sub = self.subpopulations[job.level]
        if value <= sub.fitness[job.parent_id]:  # DE selection (ties go to the newcomer, as in DE)
            sub.vectors[job.parent_id] = job.vector
            sub.fitness[job.parent_id] = value
            sub.trial_of[job.parent_id] = job.trial_id

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        job = self.jobs.get(trial_id)
        if job is not None:  # completed without a result at its budget (e.g. a lower maximum fidelity)
            self._finish_job(job, self._minimised(metrics) if self.metric in metrics else math.inf)
        self._set_status(trial_id, TrialStatus.COMPLETED)

    def on_trial_paused(self, trial_id: int) -> None:
        self._set_status(trial_id, TrialStatus.PAUSED)

    def on_trial_stopped(self, trial_id: int) -> None:
        job = self.jobs.get(trial_id)
        if job is not None:
            self._finish_job(job, math.inf)
        self._set_status(trial_id, TrialStatus.STOPPED)

    def on_trial_failed(self, trial_id: int) -> None:
        job = self.jobs.get(trial_id)
        if job is not None:
            self._finish_job(job, math.inf)
        self._set_status(trial_id, TrialStatus.FAILED)
