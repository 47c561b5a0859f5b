"""A tiny deterministic event loop driving a Scheduler, for tests (no simulator needed).

Each trial reports at every fidelity of ``fidelities``; a step takes ``step_time(config)`` simulated seconds.
Events are processed in time order (ties: lower trial id first). The loop honours start/resume/wait/done,
milestones (``on_result`` only at milestones; ``None`` = all) and CONTINUE/PAUSE/STOP, and calls
``on_trial_complete`` at the last fidelity. It checks the scheduler's contract as it goes (configurations in the
space, resumes only of paused trials) and returns the log of every decision and suggestion.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baselines.scheduler import Decision, Scheduler


def synthetic_objective(scheduler: Scheduler) -> Callable[[Mapping[str, Any], float], float]:
    """A smooth deterministic learning curve: better configurations (small encoded sum) reach lower values."""
    space = scheduler.config_space

    def f(config: Mapping[str, Any], fidelity: float) -> float:
        u = space.encode(config)
        quality = float(((u - 0.3) ** 2).sum()) if len(u) else 0.0
        return quality + 1.0 / (1.0 + float(fidelity)) + 0.01 * math.sin(7.0 * float(fidelity) * (1 + quality))

    return f


@dataclass
class DriveLog:
    events: list[tuple] = field(default_factory=list)  # ("start", tid, config) / ("resume", tid) / ("result", ...)
    configs: dict[int, dict[str, Any]] = field(default_factory=dict)
    final: dict[int, str] = field(default_factory=dict)  # trial -> completed / stopped / paused

    def decisions(self) -> list[tuple[int, float, str]]:
        return [(e[1], e[2], e[3]) for e in self.events if e[0] == "result" and e[3] is not None]


def drive(
    scheduler: Scheduler,
    fidelities: Sequence[float],
    n_workers: int = 2,
    max_results: int = 500,
    objective: Callable[[Mapping[str, Any], float], float] | None = None,
    step_time: Callable[[Mapping[str, Any]], float] | None = None,
) -> DriveLog:
    objective = objective or synthetic_objective(scheduler)
    step_time = step_time or (lambda config: 1.0 + 0.5 * float(scheduler.config_space.encode(config).sum()))
    log = DriveLog()
    position: dict[int, int] = {}  # index into fidelities of the last reported result (-1: none)
    wanted: dict[int, set | None] = {}
    paused: set[int] = set()
    heap: list[tuple[float, int]] = []
    now = 0.0
    next_id = 0
    free = n_workers
    done = False
    results = 0
    while results < max_results:
        while free > 0 and not done:
            s = scheduler.suggest(next_id)
            if s.kind == "start":
                assert scheduler.config_space.contains(s.config), scheduler.config_space.violations(s.config)
                tid = next_id
                next_id += 1
                log.configs[tid] = dict(s.config)
                position[tid] = -1
                if s.checkpoint_from is not None:  # continues from the donor's last reported fidelity
                    assert s.checkpoint_from in position, f"checkpoint_from names unknown trial {s.checkpoint_from}"
                    position[tid] = position[s.checkpoint_from]
                log.events.append(("start", tid, dict(s.config)) if s.checkpoint_from is None
                                  else ("start", tid, dict(s.config), s.checkpoint_from))
            elif s.kind == "resume":
                tid = s.trial_id
                assert tid in paused, f"resume of trial {tid}, which is not paused"
                paused.discard(tid)
                log.events.append(("resume", tid))
            elif s.kind == "wait":
                break
            else:
                done = True
                break
            m = scheduler.milestones(tid)
            wanted[tid] = None if m is None else {float(x) for x in m}
            heapq.heappush(heap, (now + step_time(log.configs[tid]), tid))
            free -= 1
        if not heap:
            break
        now, tid = heapq.heappop(heap)
        position[tid] += 1
        fidelity = fidelities[position[tid]]
        metrics = {scheduler.metric: objective(log.configs[tid], fidelity)}
        results += 1
        decision = None
        if wanted[tid] is None or float(fidelity) in wanted[tid]:
            decision = scheduler.on_result(tid, fidelity, metrics)
        log.events.append(("result", tid, fidelity, None if decision is None else decision.value))
        if position[tid] == len(fidelities) - 1:
            scheduler.on_trial_complete(tid, fidelity, metrics)
            log.final[tid] = "completed"
            free += 1
        elif decision == Decision.PAUSE:
            scheduler.on_trial_paused(tid)
            paused.add(tid)
            log.final[tid] = "paused"
            free += 1
        elif decision == Decision.STOP:
            scheduler.on_trial_stopped(tid)
            log.final[tid] = "stopped"
            free += 1
        else:
            heapq.heappush(heap, (now + step_time(log.configs[tid]), tid))
    return log
