"""Population-based training (Jaderberg et al. 2017, "Population Based Training of Neural Networks").

A population of ``population_size`` members trains side by side. At every *perturbation point* (``I, 2I, 3I,
...`` below the maximum fidelity, ``I = perturbation_interval`` in fidelity units) the members are ranked on
their result there (metric in direction ``mode``; a NaN result ranks last; ties: the older trial ranks better):

- **exploit** (truncation selection): each member in the bottom ``quantile_fraction`` is stopped, and a new
  trial takes its slot, starting from a copy of the checkpoint of a member drawn uniformly from the top
  ``quantile_fraction`` (``Suggestion.start(config, checkpoint_from=donor)``). With ``n`` members the quantiles
  hold ``ceil(n * quantile_fraction)`` members, at most ``floor(n / 2)``, so no member is its own donor.
- **explore**: the new trial's configuration is the donor's with each hyperparameter either resampled from its
  domain (probability ``resample_probability``) or perturbed: numbers are multiplied by a factor drawn from
  ``perturbation_factors`` (0.8 or 1.2, as in the paper, Ray Tune and Syne Tune) and projected back into their
  domain (clipped, rounded for integers, quantised for q-domains; an integer that rounding leaves unchanged
  moves one unit in the factor's direction); categorical, ordinal and finite-range values move to a neighbouring
  value in the domain's order (from either end, to its only neighbour); constants are kept.

**Synchronous at perturbation points** (as Ray Tune's PBT with ``synch=True``). A member that reaches a
perturbation point waits there (PAUSE, checkpoint kept) until every live member has reached it; then the whole
population is ranked at that same fidelity, the bottom members are replaced by clones and the others resume.
Ranking at equal fidelity matters: an asynchronous ranking compares members at different training lengths,
and with fewer workers than members (the usual case on one machine) members more than one interval apart,
so it rewards being ahead rather than being good. Free workers start pending clones first, then resume the
paused member furthest behind (ties: lowest trial id), so the population advances in turns as if each member
had its own worker. The member whose result completes a ranking continues at once unless clones are pending.

**Fidelity of a started-from-checkpoint trial.** A clone starts from the donor's checkpoint as of the
perturbation point ``f`` of the ranking (the local backend copies a snapshot taken at the donor's last result
the scheduler saw; the donor is paused there until all its clones have started). Its training script resumes
from that checkpoint and reports fidelities ``f + 1, f + 2, ...``: the fidelity counts all training behind the
model, the clone keeps the population's perturbation points, and the reported steps of a whole run add up to
``population_size * max_fidelity`` when no trial fails (the budget of random search with as many trials,
each trained to the maximum).

New members (the initial population, and replacements for members whose training failed before the first
ranking; later failures shrink the population) come from the searcher: ``points_to_evaluate`` first, then
random draws. A member that reaches the maximum fidelity completes; the method is done when every member has.
Checkpoints must be real: the method runs on the local backend; a simulated table holds one learning curve per
configuration and nothing to continue from with other hyperparameters, so it refuses the method
(``transfers_checkpoints = True``). ``rankings`` records every ranking (point, scores, bottom, donors).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from baselines.arguments import forwards_base_arguments
from baselines.random_search import RandomSearcher
from baselines.scheduler import Decision, Scheduler, Searcher, Suggestion
from blackbox_repo.search_space import (
    Constant,
    Domain,
    FiniteDomain,
    Integer,
    LogNormal,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    SearchSpace,
)

_FIDELITY_TOL = 1e-9


@dataclass
class PBTMember:
    """One trial of the population (a slot's current occupant)."""

    trial_id: int
    slot: int
    config: dict[str, Any]
    start_fidelity: float  # 0 for a fresh member, the donor's perturbation point for a clone
    checkpoint_from: int | None = None
    #: running | waiting (paused at a perturbation point until the whole population reaches it) |
    #: paused (resumable) | ended
    status: str = "running"
    score: float = math.nan  # signed (lower is better) result at its last perturbation point; +inf for NaN
    score_fidelity: float = math.nan  # that perturbation point (also the fidelity of its checkpoint snapshot)

    @property
    def position(self) -> float:
        """The fidelity of its checkpoint: its last perturbation point, or where it started."""
        return self.start_fidelity if math.isnan(self.score_fidelity) else max(self.start_fidelity,
                                                                                self.score_fidelity)


@dataclass(frozen=True)
class _Exploit:
    slot: int
    donor: int
    config: dict[str, Any]


def quantile_size(n_ranked: int, quantile_fraction: float) -> int:
    """Members in each of the bottom and top quantiles: ``ceil(n * q)``, at most ``floor(n / 2)``."""
    return min(math.ceil(n_ranked * quantile_fraction - 1e-12), n_ranked // 2)


def split_quantiles(scores: Mapping[int, float], quantile_fraction: float) -> tuple[list[int], list[int]]:
    """(bottom, top) trial ids for signed scores (lower is better); ties broken by trial id (older ranks better).

    The bottom list is ordered worst first, the top list best first.
    """
    order = sorted(scores, key=lambda tid: (scores[tid], tid))
    k = quantile_size(len(order), quantile_fraction)
    if k == 0:
        return [], []
    return order[::-1][:k], order[:k]


def perturb_value(domain: Domain, value: Any, rng: np.random.Generator, resample_probability: float,
                  perturbation_factors: Sequence[float]) -> Any:
    """PBT's explore step for one hyperparameter (see the module docstring)."""
    if isinstance(domain, Constant):
        return domain.value
    if rng.random() < resample_probability:
        return domain.sample(rng)
    if isinstance(domain, Integer):
        factor = float(perturbation_factors[int(rng.integers(len(perturbation_factors)))])
        new = min(max(round(float(value) * factor), domain.lower), domain.upper)
        if new == int(value) and factor != 1.0:
            step = 1 if factor > 1.0 else -1
            new = min(max(int(value) + step, domain.lower), domain.upper)
        return new
    if isinstance(domain, FiniteDomain):  # categorical, ordinal, finite range: a neighbouring value
        values = domain.values()
        if len(values) == 1:
            return values[0]
        index = domain.index(value)
        step = 1 if rng.random() < 0.5 else -1
        if not 0 <= index + step < len(values):
            step = -step
        return values[index + step]
    factor = float(perturbation_factors[int(rng.integers(len(perturbation_factors)))])
    raw = float(value) * factor
    if isinstance(domain, (QUniform, QLogUniform)):  # the domains' own bounds: round(bound / q) * q
        low, high = _quantised(domain.lower, domain.q), _quantised(domain.upper, domain.q)
        return min(max(_quantised(raw, domain.q), low), high)
    if isinstance(domain, (QNormal, QLogNormal)):
        return _quantised(raw, domain.q)
    if isinstance(domain, (Normal, LogNormal)):
        return raw
    # Uniform, LogUniform: clip into the bounds
    return min(max(raw, float(domain.lower)), float(domain.upper))


def explore(config_space: SearchSpace, config: Mapping[str, Any], rng: np.random.Generator,
            resample_probability: float, perturbation_factors: Sequence[float]) -> dict[str, Any]:
    """A perturbed copy of ``config``: every hyperparameter resampled or perturbed (in the space's order)."""
    out = dict(config)
    for name, domain in config_space.items():
        out[name] = perturb_value(domain, config[name], rng, resample_probability, perturbation_factors)
    config_space.check(out)
    return out


@forwards_base_arguments
class PopulationBasedTraining(Scheduler):
    """Population-based training (see the module docstring)."""

    transfers_checkpoints: ClassVar[bool] = True

    def __init__(
        self,
        config_space: SearchSpace,
        metric: str,
        searcher: Searcher | None = None,
        *args: Any,
        population_size: int = 8,
        perturbation_interval: float = 10,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (0.8, 1.2),
        **kwargs: Any,
    ):
        super().__init__(config_space, metric, *args, **kwargs)
        if self.max_fidelity is None:
            raise ValueError("PBT needs the maximum fidelity (the training length of every member)")
        if isinstance(population_size, bool) or not isinstance(population_size, (int, np.integer)) \
                or population_size < 2:
            raise ValueError(f"population_size must be an integer >= 2 (PBT ranks members against each other), "
                             f"got {population_size!r}")
        if isinstance(perturbation_interval, bool) or not isinstance(perturbation_interval, (int, float)) \
                or not 0 < perturbation_interval < self.max_fidelity:
            raise ValueError(f"perturbation_interval must be a number of fidelity units in (0, max_fidelity="
                             f"{self.max_fidelity:g}), got {perturbation_interval!r}")
        if not (isinstance(quantile_fraction, (int, float)) and 0 < quantile_fraction <= 0.5):
            raise ValueError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}")
        if not (isinstance(resample_probability, (int, float)) and 0 <= resample_probability <= 1):
            raise ValueError(f"resample_probability must be in [0, 1], got {resample_probability!r}")
        factors = [float(f) for f in perturbation_factors]
        if not factors or any(not (f > 0 and math.isfinite(f)) for f in factors):
            raise ValueError(f"perturbation_factors must be a non-empty list of positive numbers, "
                             f"got {perturbation_factors!r}")
        self.searcher = searcher if searcher is not None else RandomSearcher(config_space, metric, self.mode, self.seed)
        self.population_size = int(population_size)
        self.perturbation_interval = float(perturbation_interval)
        self.quantile_fraction = float(quantile_fraction)
        self.resample_probability = float(resample_probability)
        self.perturbation_factors = tuple(factors)
        n_points = math.ceil(self.max_fidelity / self.perturbation_interval - _FIDELITY_TOL) - 1
        grid = self.perturbation_interval * np.arange(1, n_points + 1)
        self.perturbation_points: list[int | float] = [_plain(v) for v in grid
                                                       if v < self.max_fidelity - _FIDELITY_TOL]
        self.members: dict[int, PBTMember] = {}
        self.slots: list[int] = []  # slot -> trial id of its current (or last) member
        self._open_slots: list[int] = []  # slots of members that failed before the first ranking
        self._exploits: list[_Exploit] = []
        self._searcher_exhausted = False
        self._ranked_once = False
        #: every ranking, in order: (perturbation point, {trial id: signed score}, bottom ids, {bottom id: donor})
        self.rankings: list[tuple[float, dict[int, float], list[int], dict[int, int]]] = []

    # --- population -------------------------------------------------------------------------------------------

    def _population_started(self) -> bool:
        return (len(self.slots) >= self.population_size and not self._open_slots) or self._searcher_exhausted

    def _live(self) -> list[PBTMember]:
        return [m for m in self.members.values() if m.status != "ended"]

    def suggest(self, trial_id: int) -> Suggestion:
        if self._exploits:  # clones first: their donors stay paused (their snapshot unchanged) until then
            exploit = self._exploits.pop(0)
            donor = self.members[exploit.donor]
            self.members[trial_id] = PBTMember(trial_id, exploit.slot, exploit.config,
                                               start_fidelity=donor.score_fidelity, checkpoint_from=donor.trial_id)
            self.slots[exploit.slot] = trial_id
            return Suggestion.start(exploit.config, checkpoint_from=donor.trial_id)
        if not self._population_started():
            config = self.searcher.suggest(trial_id)
            if config is None:
                self._searcher_exhausted = True
                self._open_slots = []
                self._complete_generation_if_ready()
                return self.suggest(trial_id) if self._exploits else self._resume_or_wait()
            if self._open_slots:
                slot = self._open_slots.pop(0)
                self.slots[slot] = trial_id
            else:
                slot = len(self.slots)
                self.slots.append(trial_id)
            self.members[trial_id] = PBTMember(trial_id, slot, dict(config), start_fidelity=0.0)
            return Suggestion.start(config)
        return self._resume_or_wait()

    def _resume_or_wait(self) -> Suggestion:
        released = [m for m in self.members.values() if m.status == "paused"]
        if released:
            behind = min(released, key=lambda m: (m.position, m.trial_id))
            behind.status = "running"
            return Suggestion.resume(behind.trial_id)
        if any(m.status in ("running", "waiting") for m in self.members.values()):
            return Suggestion.wait()
        return Suggestion.done()

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        start = self.members[trial_id].start_fidelity
        return [p for p in self.perturbation_points if p > start + _FIDELITY_TOL]

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        member = self.members[trial_id]
        value = self.metric_value(metrics)
        self.searcher.observe(trial_id, member.config, fidelity, value)
        signed = self._sign * value
        member.score = math.inf if math.isnan(signed) else signed
        member.score_fidelity = float(fidelity)
        member.status = "waiting"  # at the barrier until every live member has reached this point
        self._complete_generation_if_ready()
        if member.status == "ended":  # in the bottom quantile: a clone of a top member takes its slot
            return Decision.STOP
        if member.status == "waiting":
            return Decision.PAUSE
        if self._exploits:  # its worker goes to a clone first (and a donor must not move before its clone starts)
            return Decision.PAUSE  # (status "paused": resumable)
        member.status = "running"
        return Decision.CONTINUE

    def _complete_generation_if_ready(self) -> None:
        """Rank the population once every live member waits at the same perturbation point; release them."""
        if not self._population_started():
            return
        live = self._live()
        if not live or any(m.status != "waiting" for m in live):
            return
        point = min(m.score_fidelity for m in live)
        scores = {m.trial_id: m.score for m in live}
        bottom, top = split_quantiles(scores, self.quantile_fraction)
        donors: dict[int, int] = {}
        for loser in bottom:
            donor = top[int(self.rng.integers(len(top)))]
            donors[loser] = donor
            config = explore(self.config_space, self.members[donor].config, self.rng, self.resample_probability,
                             self.perturbation_factors)
            self._exploits.append(_Exploit(self.members[loser].slot, donor, config))
            self._end(loser)
        for m in live:
            if m.status == "waiting":
                m.status = "paused"  # resumable
        self._ranked_once = True
        self.rankings.append((point, scores, bottom, donors))

    # --- trial ends ---------------------------------------------------------------------------------------------

    def _end(self, trial_id: int) -> PBTMember:
        member = self.members[trial_id]
        member.status = "ended"
        self.searcher.on_trial_end(trial_id)
        return member

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        member = self._end(trial_id)
        if metrics and self.metric in metrics:
            self.searcher.observe(trial_id, member.config, fidelity, self.metric_value(metrics))
        self._complete_generation_if_ready()

    def on_trial_stopped(self, trial_id: int) -> None:
        self._end(trial_id)

    def on_trial_paused(self, trial_id: int) -> None:
        """(Its state was set when its result was handled: waiting at the barrier, or paused for its turn.)"""

    def on_trial_failed(self, trial_id: int) -> None:
        member = self._end(trial_id)
        if not self._ranked_once and not self._searcher_exhausted:
            self._open_slots.append(member.slot)  # before the first ranking: a fresh member takes the slot
        self._complete_generation_if_ready()  # the generation may have waited only for this member


def _quantised(value: float, q: float) -> float:
    """HyperDrive's quantisation, as the q-domains apply it: ``round(value / q) * q`` (half to even)."""
    return float(np.round(value / q) * q)


def _plain(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value
