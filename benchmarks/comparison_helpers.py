"""Pure helpers of ``bench_methods_peer.py`` (no I/O, no peer): regret intervals at budget fractions, the
peer simulator's time settings, decision-time summaries and method-name parsing; and what the comparison scripts
share around them: the peer options of their command lines and where their report goes (``print_report``, the one
helper here that writes). Tested in ``tests/test_bench_comparison_helpers.py``.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from results.statistics import Interval, iqm, stratified_bootstrap


def regret_intervals(per_task: Sequence[np.ndarray], grid_indices: Sequence[int], n_boot: int = 2000,
                     seed: int = 0, level: float = 0.95) -> list[Interval]:
    """IQM over (runs x tasks) of normalised-regret curves, with stratified-bootstrap percentile intervals, at
    the given grid points.

    ``per_task``: one ``(runs, n_grid)`` array per task, every task with the same number of runs (seeds). The
    point estimate is the IQM of all runs of all tasks pooled (what ``bench_methods`` prints); the interval
    resamples runs with replacement within each task, whole curves at a time.
    """
    if not per_task:
        raise ValueError("regret_intervals needs at least one task")
    runs = {np.shape(values)[0] for values in per_task}
    if len(runs) != 1:
        raise ValueError(f"every task needs the same number of runs, got {sorted(runs)}")
    scores = np.stack([np.asarray(values, dtype=float)[:, list(grid_indices)] for values in per_task], axis=1)
    interval = stratified_bootstrap(scores, iqm, n_boot=n_boot, rng=seed, level=level)  # (len(grid_indices),)
    point, lower, upper = (np.atleast_1d(np.asarray(x, dtype=float)) for x in
                           (interval.point, interval.lower, interval.upper))
    return [Interval(float(p), float(lo), float(hi)) for p, lo, hi in zip(point, lower, upper)]


def step_durations(elapsed: np.ndarray) -> np.ndarray:
    """Positive durations of single fidelity steps from cumulative elapsed times ``(..., fidelities)``
    (the first step counts from 0); NaN and non-positive steps are dropped."""
    elapsed = np.asarray(elapsed, dtype=float)
    steps = np.diff(elapsed, axis=-1, prepend=0.0).ravel()
    return steps[np.isfinite(steps) & (steps > 0)]


@dataclass(frozen=True)
class PeerClock:
    """Settings that make the peer's tick-based simulator close to an event-driven one.

    ``time_scale`` multiplies every elapsed time given to the peer (its backend forces at least 0.01 time
    units per step; scaled, the shortest typical step is at least 1 unit, so the floor is under 1% of it).
    ``tick`` is the simulated seconds (unscaled) the peer's tuner loop advances per iteration: a quarter of the
    median step, and at most a thousandth of the budget.
    """

    time_scale: float
    tick: float

    @property
    def ticks_per_budget(self) -> float:
        return math.nan if self.tick <= 0 else 1.0 / self.tick


def peer_clock(elapsed: np.ndarray, budget: float, max_ticks: int = 20_000) -> PeerClock:
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    steps = step_durations(elapsed)
    if len(steps) == 0:
        raise ValueError("the table has no positive step duration; cannot simulate time")
    shortest = float(np.quantile(steps, 0.01))
    time_scale = 1.0 if shortest >= 1.0 else 10.0 ** math.ceil(-math.log10(shortest))
    tick = min(budget / 1000.0, float(np.median(steps)) / 4.0)
    tick = max(tick, budget / max_ticks)  # bounds the peer's real run time
    return PeerClock(time_scale=time_scale, tick=tick)


@dataclass(frozen=True)
class DecisionSummary:
    """Per-run decision cost: median duration of a ``suggest`` call, and all timed scheduler calls of the run
    divided by the trials it started (which charges work a method moves out of ``suggest`` too)."""

    suggest_median: float  # seconds
    seconds_per_trial: float
    suggest_calls: int
    trials: int


def decision_summary(calls: Mapping[str, np.ndarray], trials: int) -> DecisionSummary:
    suggest = np.asarray(calls.get("suggest", ()), dtype=float)
    total = float(sum(np.sum(np.asarray(v, dtype=float)) for v in calls.values()))
    return DecisionSummary(
        suggest_median=float(np.median(suggest)) if len(suggest) else math.nan,
        seconds_per_trial=total / trials if trials > 0 else math.nan,
        suggest_calls=len(suggest),
        trials=int(trials),
    )


def ratio(peer: float, ours: float) -> float:
    """peer / ours (how many times faster ours is); NaN when either is missing or ours is 0."""
    if not (np.isfinite(peer) and np.isfinite(ours)) or ours <= 0:
        return math.nan
    return peer / ours


def parse_method(name: str, versions: Mapping[str, Mapping[str, object]],
                 default_version: Mapping[str, str]) -> tuple[str, str]:
    """``"ASHA"`` -> ("ASHA", its default peer version); ``"ASHA@0.13"`` -> ("ASHA", "0.13").

    Errors name the available methods (and versions) so a typo or an unmerged method is obvious.
    """
    method, _, version = str(name).partition("@")
    method = method.strip().upper()
    if method not in versions:
        raise ValueError(f"unknown method {name!r}; methods with a peer counterpart: "
                         f"{', '.join(sorted(versions))}")
    version = version.strip() or default_version[method]
    if version not in versions[method]:
        raise ValueError(f"the peer has {method} in version(s) {', '.join(sorted(versions[method]))}, "
                         f"not {version!r}")
    return method, version


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_study_arguments(parser: argparse.ArgumentParser, methods: Sequence[str], benchmarks: Sequence[str],
                        data: Path) -> None:
    """The options of a script that runs methods x benchmarks x seeds into one Markdown table
    (``bench_constrained.py``, ``bench_multiobjective.py``): what to run, with how many processes, the real data
    folder (default ``data``), a work folder whose complete runs are reused, and where the report also goes."""
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(methods))
    parser.add_argument("--benchmarks", nargs="+", default=list(benchmarks))
    parser.add_argument("--data", type=Path, default=data,
                        help="the real data folder (default ../shared/data from the project root)")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)


def add_peer_run_arguments(parser: argparse.ArgumentParser, methods_help: str) -> None:
    """The options every script that runs the peer's methods beside ours takes (``--peer-methods`` and where the
    peer's interpreters are, how long a run may take, whether to start new runs)."""
    parser.add_argument("--peer-methods", nargs="+", default=[], help=methods_help)
    parser.add_argument("--peer16-python", default=None, help="Syne Tune 0.16 interpreter (HPO_ARENA_PEER16_PYTHON)")
    parser.add_argument("--peer13-python", default=None, help="Syne Tune 0.13 interpreter (HPO_ARENA_PEER13_PYTHON)")
    parser.add_argument("--peer-timeout", type=_positive_seconds, default=None,
                        help="real seconds after which a peer run is killed and reported as failed")
    parser.add_argument("--peer-reuse-only", action="store_true",
                        help="report the peer runs finished in --work-dir before; start none (missing ones are "
                             "listed as not run)")


def print_report(text: str, out: Path | None) -> None:
    """Print a script's Markdown report and, with ``--out FILE``, write it to the file too (ending in one
    newline)."""
    print(text)
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n")
