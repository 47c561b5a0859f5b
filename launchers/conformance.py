"""Conformance check of a method (in the spirit of scikit-learn's ``check_estimator``).

    arena check-method ASHA
    arena check-method my_module:MyScheduler --kwargs eta=3

    from launchers.conformance import assert_conforms
    assert_conforms("my_module:MyScheduler")          # in a pytest test: fails naming each broken rule

The method runs through the real tuner loop (``launchers.tuner.Tuner`` + ``launchers.simulator.
SimulatorBackend``) on the embedded benchmark (XGBoost on scikit-learn's breast cancer data, boosting rounds
as fidelity, measured times, 4 workers); any configuration of the space evaluates as its nearest table row,
so methods may propose anywhere. Every scheduler call passes through an observer that checks the contract:

- ``runs``: the method runs without raising.
- ``in-space``: every configuration it starts is a member of the search space.
- ``deterministic``: two runs with the same seed give identical results (configurations, fidelities,
  decisions, simulated times).
- ``seed-used``: a run with another seed gives different results (skipped for methods that are
  deterministic by design, e.g. GRID, or with ``randomised=False``).
- ``milestones``: every milestone a trial declares (``milestones(trial_id)``, read when it starts or resumes)
  receives its result unless the trial was paused, stopped or cut by the budget first; and after the method
  lets a trial continue at a milestone, it wants no result at a higher fidelity that it did not declare
  (the backend reads milestones only at start and resume, so such a rung would never be judged: a trial
  "promoted on the spot" must have its next rungs declared).
- ``pause-resume``: only paused trials are resumed, and a resumed trial's next result lies beyond the
  fidelity it was paused at.
- ``mode``: maximising a metric makes exactly the decisions of minimising its negation (same seed). A rule
  defined on the metric's own scale breaks this by definition: HyperDrive's ``BanditPolicy`` with a
  ``slack_factor`` (a ratio to the best value) is checked with an additive ``slack_amount`` instead, or the
  rule is skipped (``skip_rules=("mode",)``).
- ``done``: once ``suggest`` answered done, it never starts or resumes a trial again (exercised with a small
  ``max_trials`` when the method has that argument).

Each broken rule is reported with its name and what was observed. Runs are short (a fraction of a second
each for most methods); five runs make one check.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from baselines.scheduler import Decision, Scheduler, Suggestion

RULES: dict[str, str] = {
    "runs": "the method runs through the simulator without raising",
    "in-space": "every configuration it starts lies in the search space",
    "deterministic": "the same seed gives identical results",
    "seed-used": "another seed gives different results (randomised methods)",
    "milestones": "every declared milestone receives its result, and no rung is wanted that was not declared "
                  "when the trial started or resumed",
    "pause-resume": "only paused trials are resumed, and they continue beyond the fidelity they paused at",
    "mode": "maximising a metric makes the same decisions as minimising its negation",
    "done": "no suggestion after the method said it is done",
}
DEFAULT_BLACKBOX = ("xgboost-sklearn", "breast_cancer", "val_error")
DETERMINISTIC_METHODS = frozenset({"GRID"})  # built-ins that ignore their seed by design
_EPS = 1e-9


class ConformanceViolation(Exception):
    """Raised by the observer the moment a rule is broken (the run cannot go on meaningfully)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"[{rule}] {message}")
        self.rule = rule
        self.message = message


class ConformanceError(AssertionError):
    """A method broke one or more rules (``report`` holds them)."""

    def __init__(self, report: ConformanceReport):
        super().__init__(report.summary())
        self.report = report


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


@dataclass
class ConformanceReport:
    method: str
    violations: list[Violation] = field(default_factory=list)
    exercised: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(RULES, False))
    seconds: float = 0.0
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def broken_rules(self) -> list[str]:
        return sorted({v.rule for v in self.violations})

    def add(self, rule: str, message: str) -> None:
        if not any(v.rule == rule and v.message == message for v in self.violations):
            self.violations.append(Violation(rule, message))

    def summary(self) -> str:
        lines = [f"conformance of method {self.method}: "
                 + ("all rules hold" if self.ok else f"{len(self.broken_rules)} rule(s) broken")
                 + f" ({self.seconds:.1f} s)"]
        for rule, description in RULES.items():
            broken = [v.message for v in self.violations if v.rule == rule]
            state = ("FAIL" if broken else "skipped" if rule in self.skipped
                     else "ok" if self.exercised.get(rule) else "not exercised")
            lines.append(f"  {state:13s} {rule:13s} {description}")
            lines += [f"      - {message}" for message in broken]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------
# The observer: a scheduler that forwards every call and checks the contract
# ------------------------------------------------------------------------------------------------------------

@dataclass
class _TrialState:
    status: str = "running"
    fidelity: float = 0.0  # fidelity of its last result (0 before any)
    declared: tuple[float, ...] | None = ()  # milestones of the current segment not reached yet (None: all)
    declared_at_launch: tuple[float, ...] | None = ()
    resumed_from: float | None = None


class _Observer(Scheduler):
    def __init__(self, inner: Scheduler, fidelity_values: np.ndarray, report: ConformanceReport):
        # No super().__init__: every attribute not defined here is the inner scheduler's (__getattr__).
        self.inner = inner
        self.transfers_checkpoints = inner.transfers_checkpoints
        self.fidelities = np.asarray(fidelity_values, dtype=float)
        self.top = float(self.fidelities[-1])
        self.report = report
        self.trials: dict[int, _TrialState] = {}
        self.said_done = False

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _snap(self, values: Sequence[float]) -> tuple[float, ...]:
        out = set()
        for v in values:
            above = self.fidelities[self.fidelities >= float(v) - _EPS]
            if len(above):
                out.add(float(above[0]))
        return tuple(sorted(out))

    def suggest(self, trial_id: int) -> Suggestion:
        answer = self.inner.suggest(trial_id)
        if answer.kind in ("start", "resume") and self.said_done:
            raise ConformanceViolation("done", f"suggest answered {answer.kind!r} (trial "
                                       f"{answer.trial_id if answer.kind == 'resume' else trial_id}) after it had "
                                       "answered done")
        if answer.kind == "done":
            self.said_done = True
            self.report.exercised["done"] = True
        elif answer.kind == "start":
            problems = self.inner.config_space.violations(answer.config or {})
            self.report.exercised["in-space"] = True
            if problems:
                raise ConformanceViolation("in-space", f"trial {trial_id} started with {answer.config}, outside "
                                           f"the search space: {'; '.join(problems)}")
            self.trials[trial_id] = _TrialState()
        elif answer.kind == "resume":
            self.report.exercised["pause-resume"] = True
            state = self.trials.get(answer.trial_id)  # type: ignore[arg-type]
            if state is None or state.status != "paused":
                raise ConformanceViolation("pause-resume", f"suggest resumed trial {answer.trial_id}, which is "
                                           f"{'unknown' if state is None else state.status}, not paused")
            state.status = "running"
            state.resumed_from = state.fidelity
        return answer

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        wanted = self.inner.milestones(trial_id)
        state = self.trials[trial_id]
        if wanted is None:
            state.declared = None
        else:
            self.report.exercised["milestones"] = True
            state.declared = tuple(m for m in self._snap(wanted) if m > state.fidelity + _EPS)
        state.declared_at_launch = state.declared
        return wanted

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        state = self.trials[trial_id]
        fidelity = float(fidelity)
        if state.resumed_from is not None:
            if fidelity <= state.resumed_from + _EPS:
                raise ConformanceViolation("pause-resume", f"trial {trial_id} was resumed at fidelity "
                                           f"{state.resumed_from} but reported fidelity {fidelity} next")
            state.resumed_from = None
        self._check_received(trial_id, state, fidelity)
        decision = self.inner.on_result(trial_id, fidelity, metrics)
        state.fidelity = fidelity
        if decision == Decision.CONTINUE and state.declared is not None and fidelity < self.top - _EPS:
            # What the method wants now, above this fidelity, must have been declared at the start or resume:
            # the backend will not ask again until the trial is relaunched.
            now = self.inner.milestones(trial_id)
            if now is not None:
                missing = [m for m in self._snap(now) if m > fidelity + _EPS and m not in state.declared
                           and m < self.top - _EPS]  # the top fidelity is always shown (completion)
                if missing:
                    raise ConformanceViolation(
                        "milestones", f"trial {trial_id} was let continue at fidelity {fidelity:g} and the method "
                        f"now wants results at {[float(f'{m:g}') for m in missing]}, which it did not declare "
                        f"when the trial started or resumed (it declared {list(state.declared_at_launch)}); milestones() is "
                        "read only at start and resume, so those rungs are never judged: declare every "
                        "remaining rung")
        return decision

    def _check_received(self, trial_id: int, state: _TrialState, fidelity: float) -> None:
        if state.declared is None:
            return
        skipped = [m for m in state.declared if m < fidelity - _EPS]
        if skipped:
            raise ConformanceViolation("milestones", f"trial {trial_id} declared milestones {skipped} but its next "
                                       f"result shown to the method was at fidelity {fidelity:g}")
        state.declared = tuple(m for m in state.declared if m > fidelity + _EPS)

    def on_trial_complete(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> None:
        state = self.trials[trial_id]
        self._check_received(trial_id, state, float(fidelity))
        state.status, state.fidelity = "complete", float(fidelity)
        self.inner.on_trial_complete(trial_id, fidelity, metrics)

    def on_trial_paused(self, trial_id: int) -> None:
        self.trials[trial_id].status = "paused"
        self.inner.on_trial_paused(trial_id)

    def on_trial_stopped(self, trial_id: int) -> None:
        self.trials[trial_id].status = "stopped"
        self.inner.on_trial_stopped(trial_id)

    def on_trial_failed(self, trial_id: int) -> None:
        self.trials[trial_id].status = "failed"
        self.inner.on_trial_failed(trial_id)


# ------------------------------------------------------------------------------------------------------------
# Runs
# ------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _blackbox(blackbox: str, task: str, metric: str, negate: bool):
    """The table made total: any configuration of the space evaluates as its nearest table row (Euclidean
    distance in the space's [0, 1] encoding), so methods are free to propose anywhere. ``negate`` flips the
    metric's sign (for the mode rule)."""
    from blackbox_repo.blackbox import FunctionBlackbox
    from blackbox_repo.repository import load_blackbox

    table = load_blackbox(blackbox, task=task)
    space = table.configuration_space
    objectives = np.array(table.objectives, dtype=np.float64)  # (rows, seeds, fidelities, objectives)
    if negate:
        objectives[..., table.objective_index(metric)] *= -1.0
    encoded = np.stack([space.encode(c) for c in table.all_configurations()])
    fidelity_index = {float(f): i for i, f in enumerate(table.fidelity_values)}
    nearest: dict[tuple, int] = {}

    def row_of(config: Mapping[str, Any]) -> int:
        key = tuple(config[n] for n in space)
        if key not in nearest:
            nearest[key] = int(np.argmin(((encoded - space.encode(config)) ** 2).sum(axis=1)))
        return nearest[key]

    def evaluate(config: Mapping[str, Any], fidelity: float, seed: int) -> np.ndarray:
        return objectives[row_of(config), seed, fidelity_index[float(fidelity)]]

    modes = dict(table.metadata.objective_modes)
    if negate:
        modes[metric] = "max"
    return FunctionBlackbox(evaluate, space, list(table.objectives_names),
                            replace(table.metadata, objective_modes=modes), table.fidelity_name,
                            table.fidelity_values.tolist(), num_seeds=table.num_seeds, task=task)


@dataclass(frozen=True)
class _Setting:
    method: str
    method_kwargs: Mapping[str, Any]
    blackbox: tuple[str, str, str]
    budget: float
    n_workers: int
    backend_seed: int
    max_trials_started: int


def _is_multi_objective(method: str) -> bool:
    from baselines.registry import method_is_multi_objective

    try:
        return method_is_multi_objective(method)
    except ValueError:  # a class path: single-objective
        return False


def _is_constrained(method: str) -> bool:
    from baselines.registry import method_is_constrained

    try:
        return method_is_constrained(method)
    except ValueError:  # a class path: unconstrained
        return False


def _uses_transfer_data(method: str) -> bool:
    from baselines.registry import method_uses_transfer_data

    try:
        return method_uses_transfer_data(method)
    except ValueError:  # a class path: gets no transfer data
        return False


def _transfer_data(blackbox: str, task: str, metric: str, mode: str):
    """Leave-one-task-out data for a transfer method: the other tasks of the same table. Their values are in
    the minimisation direction whatever ``mode`` (the mode rule negates the metric of the target only, and
    a method sees values to minimise), so both runs of the mode rule get the same data."""
    from dataclasses import replace as replace_field

    from blackbox_repo.repository import load_blackbox
    from launchers.transfer_data import _build

    others = tuple(t for t in load_blackbox(blackbox).tasks if t != task)
    return replace_field(_build(blackbox, task, others, metric, "min", None, None), mode=mode)


def _run(setting: _Setting, seed: int, mode: str, report: ConformanceReport, extra_kwargs: Mapping[str, Any] = ()):
    """One run; returns its results frame, or None when it stopped on a broken rule or an error."""
    from baselines.registry import make_method
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    name, task, metric = setting.blackbox
    blackbox = _blackbox(name, task, metric, mode == "max")
    fidelities = np.asarray(blackbox.fidelity_values, dtype=float)
    objectives: dict[str, Any] = {}
    if _is_multi_objective(setting.method):
        # A second objective that never flips: the mode rule then checks that maximising -m while minimising the
        # other is the same as minimising both.
        second = next(o for o in blackbox.objectives_names if o != metric and o != blackbox.metadata.time_objective)
        objectives = {"metrics": [metric, second], "modes": [mode, "min"]}
    if _is_constrained(setting.method):
        # A constraint on another objective (never flipped by the mode rule), at its median over the table's
        # final-fidelity entries: about half of the evaluations are feasible, so both acquisition phases run.
        from blackbox_repo.repository import load_blackbox

        table = load_blackbox(name, task=task)
        constrained = next(o for o in table.objectives_names if o != metric and o != table.metadata.time_objective)
        final = np.asarray(table.objectives[:, :, -1, table.objective_index(constrained)], dtype=float)
        objectives["constraint"] = {"metric": constrained, "threshold": float(np.nanmedian(final))}
    if _uses_transfer_data(setting.method):
        objectives["transfer_data"] = _transfer_data(name, task, metric, mode)
    try:
        scheduler = make_method(setting.method, blackbox.configuration_space, metric, mode,
                                fidelity_name=blackbox.fidelity_name, max_fidelity=float(fidelities[-1]), seed=seed,
                                fidelity_values=fidelities.tolist(), **objectives,
                                **{**setting.method_kwargs, **dict(extra_kwargs)})
        observer = _Observer(scheduler, fidelities, report)
        backend = SimulatorBackend(blackbox, n_workers=setting.n_workers, seed=setting.backend_seed)
        stop = StoppingCriterion(max_wallclock_time=setting.budget, max_trials_started=setting.max_trials_started)
        results = Tuner(observer, backend, stop).run()
    except ConformanceViolation as err:
        report.add(err.rule, err.message)
        return None
    except Exception as err:  # noqa: BLE001 - any crash of the method (or of a call it got wrong) breaks "runs"
        report.add("runs", f"{type(err).__name__}: {err}")
        return None
    report.exercised["runs"] = True
    return results.to_frame()  # results.parquet's columns: no clock of the real world


def _differences(a, b, columns: Sequence[str]) -> str | None:
    """None if the frames agree on ``columns``, else a short description of the first difference."""
    if len(a) != len(b):
        return f"{len(a)} results vs {len(b)}"
    for column in columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        same = (x == y) | (_missing(x) & _missing(y))
        if not np.all(same):
            row = int(np.argmin(same))
            return f"column {column!r} differs first at result {row}: {x[row]!r} vs {y[row]!r}"
    return None


def _missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def check_method(
    method: str,
    method_kwargs: Mapping[str, Any] | None = None,
    *,
    randomised: bool | None = None,
    seed: int = 0,
    budget: float = 0.4,
    n_workers: int = 4,
    max_trials: int = 6,
    max_trials_started: int = 24,
    skip_rules: Sequence[str] = (),
    blackbox: tuple[str, str, str] = DEFAULT_BLACKBOX,
) -> ConformanceReport:
    """Run the checks (see the module docstring) and return the report (``report.ok``).

    ``randomised``: whether another seed must change the results (default: True except for the built-ins in
    ``DETERMINISTIC_METHODS``). ``budget``: simulated seconds per run, and at most ``max_trials_started`` trials
    (model-based methods slow down with many). ``max_trials``: the cap used for the ``done`` rule when the
    method has a ``max_trials`` argument. ``skip_rules``: rules not checked (``seed-used``, ``mode``), for a
    method that breaks them by definition (reported as skipped).
    """
    from baselines.registry import method_defaults, method_transfers_checkpoints

    try:
        transfers = method_transfers_checkpoints(method)
    except ValueError:  # a class path: its runs below say whether it can be simulated
        transfers = False
    if transfers:
        raise ValueError(f"method {method} starts trials from other trials' checkpoints: it runs on real training "
                         "only, and this check simulates a table (tests/test_pbt.py checks PBT on real studies)")
    unknown = sorted(set(skip_rules) - {"seed-used", "mode"})
    if unknown:
        raise ValueError(f"only the rules 'seed-used' and 'mode' can be skipped, not {unknown}")
    started = time.perf_counter()
    report = ConformanceReport(method, skipped=tuple(skip_rules))
    setting = _Setting(method, dict(method_kwargs or {}), blackbox, budget, n_workers, backend_seed=20260101,
                       max_trials_started=max_trials_started)
    first = _run(setting, seed, "min", report)
    if first is not None:
        compared = [c for c in first.columns if c != "worker"]
        again = _run(setting, seed, "min", report)
        if again is not None:
            report.exercised["deterministic"] = True
            diff = _differences(first, again, compared)
            if diff is not None:
                report.add("deterministic", f"two runs with seed {seed} differ: {diff}")
        if randomised is None:
            randomised = str(method).upper() not in DETERMINISTIC_METHODS
        if not randomised:
            report.skipped = (*report.skipped, "seed-used")  # deterministic by design
        elif "seed-used" not in skip_rules:
            other = _run(setting, seed + 1, "min", report)
            if other is not None:
                report.exercised["seed-used"] = True
                if _differences(first, other, compared) is None:
                    report.add("seed-used", f"seeds {seed} and {seed + 1} give identical results: the method "
                               "ignores its seed (or draws from a global random state)")
        flipped = None if "mode" in skip_rules else _run(setting, seed, "max", report)
        if flipped is not None:
            report.exercised["mode"] = True
            metric = blackbox[2]
            diff = _differences(first, flipped, [c for c in compared if c != metric])
            if diff is not None:
                report.add("mode", f"maximising -{metric} is not the same as minimising {metric} with the same "
                           f"seed: {diff}")
        try:
            has_max_trials = "max_trials" in method_defaults(method)
        except (ImportError, TypeError, ValueError):  # reported by the runs above
            has_max_trials = False
        if has_max_trials and "max_trials" not in setting.method_kwargs:
            _run(setting, seed, "min", report, {"max_trials": max_trials})
    report.seconds = time.perf_counter() - started
    return report


def assert_conforms(method: str, method_kwargs: Mapping[str, Any] | None = None, **options: Any) -> ConformanceReport:
    """``check_method`` for tests: raises ``ConformanceError`` (an AssertionError) naming every broken rule."""
    report = check_method(method, method_kwargs, **options)
    if not report.ok:
        raise ConformanceError(report)
    return report


def parse_kwargs(items: Sequence[str]) -> dict[str, Any]:
    """``name=value`` pairs (values parsed as YAML: numbers, booleans, null, lists) for the command line."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"method argument {item!r} is not of the form name=value")
        out[name.strip()] = yaml.safe_load(value)
    return out
