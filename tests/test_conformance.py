"""The conformance check (launchers/conformance.py) through the simulator.

- every registered method passes it (parametrised over ``list_methods()``, so methods added later are covered);
  methods of an optional library are skipped, with the extra to install, only where that library is absent;
- ask/tell methods (single- and multi-fidelity, several asks pending with 4 workers) pass it;
- deliberately broken methods fail it with the broken rule named;
- ADAPTIVE-ASHA (issue 12, point 14): a trial promoted on the spot is judged at its next rungs.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from baselines.determined_adaptive_asha import DeterminedAdaptiveASHA
from baselines.registry import list_methods, make_method, method_spec
from baselines.scheduler import Decision, Scheduler, Searcher, Suggestion
from launchers.conformance import RULES, ConformanceError, assert_conforms, check_method

# Per-method options of the check. GRID needs points per continuous hyperparameter. HyperDrive's BanditPolicy
# with a slack_factor is a ratio to the best value, defined on the metric's own scale, so maximising -m is not
# minimising m by definition: the mode rule is checked with its additive slack_amount. Model-based methods
# get fewer trials per run (a GP fit per suggestion); OPTUNA-GP starts modelling after 4 trials, not 10.
# Transfer methods (ZERO-SHOT, BOUNDING-BOX, ASHA-CTS, RUSH) get the other tasks of the table as transfer data.
CHECK_OPTIONS: dict[str, dict] = {
    "GRID": {"method_kwargs": {"num_points": 2}},
    "BANDIT": {"method_kwargs": {"slack_amount": 0.02}},
    "BO": {"max_trials_started": 12},
    "CBO": {"max_trials_started": 16},  # past its initial random points (a GP decision per trial)
    "BORE": {"max_trials_started": 12},
    "ASHA-BO": {"max_trials_started": 12},
    "OPTUNA-MEDIAN": {"max_trials_started": 16},
    "OPTUNA-SH": {"max_trials_started": 16},
    "OPTUNA-GP": {"method_kwargs": {"n_startup_trials": 3}, "max_trials_started": 6},
    # The greedy portfolio is the same for every seed by design; a short one lets the random phase show the seed.
    "ZERO-SHOT": {"method_kwargs": {"portfolio_size": 4}},
    "ASHA-CTS": {"method_kwargs": {"max_iter": 20, "num_candidates": 200}},  # ten model fits per check
}
SLOW = {"OPTUNA-GP"}  # PyTorch's import and first fit: about 15 s


# Methods that continue other trials' checkpoints (PBT) cannot be simulated on a table; tests/test_pbt.py runs
# them on real training.
SIMULABLE = [n for n in list_methods() if not method_spec(n).transfers_checkpoints]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SIMULABLE])
def test_every_registered_method_conforms(name):
    spec = method_spec(name)
    missing = spec.missing_requirements()
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}: pip install 'hpo-arena[{spec.extra}]'")
    options = dict(CHECK_OPTIONS.get(name, {}))
    report = assert_conforms(name, options.pop("method_kwargs", None), **options)
    assert report.exercised["runs"] and report.exercised["in-space"] and report.exercised["deterministic"]


@pytest.mark.parametrize("tie_break", ["epsilon_net", "crowding"])
def test_moasha_conforms_with_either_tie_break(tie_break):
    # The default (epsilon_net) also runs in test_every_registered_method_conforms; crowding is the option.
    report = assert_conforms("MOASHA", {"tie_break": tie_break})
    assert report.exercised["runs"] and report.exercised["in-space"] and report.exercised["deterministic"]


# ------------------------------------------------------------------------------------------------------------
# Ask/tell methods
# ------------------------------------------------------------------------------------------------------------

class RandomAskTell:
    """Single fidelity: random proposals, remembers the best."""

    def __init__(self, config_space, seed=0):
        self.space = config_space
        self.rng = np.random.default_rng(seed)
        self.told: list[float] = []

    def ask(self):
        return self.space.sample(self.rng)

    def tell(self, config, loss):
        self.told.append(loss)


class HalvingAskTell:
    """Multi-fidelity: rounds of successive halving (eta 3) from fidelity 1; asks while results are pending."""

    def __init__(self, config_space, seed=0, max_fidelity=None, n_first: int = 9):
        self.space = config_space
        self.rng = np.random.default_rng(seed)
        self.max_fidelity = max_fidelity
        self.n_first = n_first
        self._new_round()

    def _new_round(self):
        self.queue = [(self.space.sample(self.rng), 1.0) for _ in range(self.n_first)]
        self.results: list[tuple[float, dict]] = []
        self.fidelity, self.expected = 1.0, self.n_first

    def ask(self):
        if self.queue:
            return self.queue.pop(0)
        return None  # waiting for this rung's results

    def tell(self, config, fidelity, loss):
        self.results.append((loss, config))
        if len(self.results) < self.expected:
            return
        keep = self.expected // 3
        best = [c for _, c in sorted(self.results, key=lambda r: r[0])[:keep]]
        nxt = self.fidelity * 3
        if keep < 1 or nxt > self.max_fidelity:
            self._new_round()
            return
        self.queue = [(c, nxt) for c in best]
        self.results, self.fidelity, self.expected = [], nxt, keep


def test_single_fidelity_ask_tell_conforms():
    report = assert_conforms(f"{__name__}:RandomAskTell")
    assert report.exercised["done"]  # max_trials reached: the adapter says done and never starts again


def test_multi_fidelity_ask_tell_conforms_and_resumes_promoted_configurations():
    report = assert_conforms(f"{__name__}:HalvingAskTell")
    assert report.exercised["pause-resume"] and report.exercised["milestones"]


def test_multi_fidelity_ask_tell_continues_promoted_trials_from_their_checkpoint():
    from launchers.conformance import _blackbox
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    blackbox = _blackbox("xgboost-sklearn", "breast_cancer", "val_error", False)
    fidelities = blackbox.fidelity_values.tolist()
    scheduler = make_method(f"{__name__}:HalvingAskTell", blackbox.configuration_space, "val_error", "min",
                            blackbox.fidelity_name, fidelities[-1], seed=3, fidelity_values=fidelities)
    results = Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4, seed=0),
                    StoppingCriterion(max_trials_started=20)).run()
    frame = results.to_frame()
    first_round = frame[frame.trial_id < 9]
    per_trial = first_round.groupby("trial_id").fidelity.agg(["min", "max", "count"])
    # Nine configurations to fidelity 1, three of them on to 3, one on to 9: each trial's results are
    # contiguous from 1 (a promotion resumes the paused trial; nothing is trained twice).
    assert sorted(per_trial["max"].tolist()) == [1.0] * 6 + [3.0] * 2 + [9.0]
    assert (per_trial["min"] == 1.0).all() and (per_trial["count"] == per_trial["max"]).all()
    assert set(results.trials_frame().status[:9]) <= {"paused", "completed", "running"}


# ------------------------------------------------------------------------------------------------------------
# Broken methods: each fails with its rule named
# ------------------------------------------------------------------------------------------------------------

class SuggestsOutside(Searcher):
    """Every third configuration has a learning rate of 5 (the space ends at 1)."""

    def _suggest(self, trial_id):
        config = self.config_space.sample(self.rng)
        if trial_id % 3 == 2:
            config["learning_rate"] = 5.0
        return config


class IgnoresSeed(Searcher):
    """Draws from a fixed generator whatever its seed."""

    def __init__(self, config_space, metric, mode="min", seed=0):
        super().__init__(config_space, metric, mode, seed)
        self.fixed = np.random.default_rng(12345)

    def _suggest(self, trial_id):
        return self.config_space.sample(self.fixed)


class DropsMilestone(DeterminedAdaptiveASHA):
    """ADAPTIVE-ASHA as it was before the fix: declares only the rung a trial heads to."""

    def milestones(self, trial_id):
        bracket = self.bracket_of[trial_id]
        return [bracket.lengths[bracket.trial_rung[trial_id]]]


class IgnoresMode(Searcher):
    """Local search around the configuration with the lowest raw value, whatever the mode."""

    def __init__(self, config_space, metric, mode="min", seed=0):
        super().__init__(config_space, metric, mode, seed)
        self.best: tuple[float, dict] | None = None

    def observe(self, trial_id, config, fidelity, value):
        if self.best is None or value < self.best[0]:
            self.best = (value, dict(config))

    def _suggest(self, trial_id):
        config = self.config_space.sample(self.rng)
        if self.best is not None and trial_id % 2:
            config = dict(self.best[1], subsample=config["subsample"])
        return config


class StartsAfterDone(Scheduler):
    """Says done at its fifth suggestion, then starts trials again."""

    def __init__(self, config_space, metric, mode="min", seed=0, **kwargs):
        super().__init__(config_space, metric, mode, seed, **kwargs)
        self.calls = 0

    def suggest(self, trial_id):
        self.calls += 1
        if self.calls == 5:
            return Suggestion.done()
        return Suggestion.start(self.config_space.sample(self.rng))


class ResumesRunningTrial(Scheduler):
    """Pauses nothing, but asks to resume trial 0 once three trials were started."""

    def __init__(self, config_space, metric, mode="min", seed=0, **kwargs):
        super().__init__(config_space, metric, mode, seed, **kwargs)

    def suggest(self, trial_id):
        if trial_id == 3:
            return Suggestion.resume(0)
        return Suggestion.start(self.config_space.sample(self.rng))

    def on_result(self, trial_id, fidelity, metrics):
        return Decision.CONTINUE


@pytest.mark.parametrize(("cls", "rule", "fragment"), [
    ("SuggestsOutside", "in-space", "learning_rate"),
    ("IgnoresSeed", "seed-used", "ignores its seed"),
    ("DropsMilestone", "milestones", "did not declare"),
    ("IgnoresMode", "mode", "maximising -val_error"),
    ("StartsAfterDone", "done", "after it had answered done"),
    ("ResumesRunningTrial", "pause-resume", "not paused"),
])
def test_broken_method_fails_naming_the_rule(cls, rule, fragment):
    with pytest.raises(ConformanceError) as failure:
        assert_conforms(f"{__name__}:{cls}")
    report = failure.value.report
    assert report.broken_rules == [rule]
    message = str(failure.value)
    assert f"FAIL          {rule}" in message and fragment in message
    assert rule in RULES


def test_a_method_that_cannot_be_built_breaks_runs_with_the_reason():
    report = check_method("no_such_module_anywhere:Method")
    assert report.broken_rules == ["runs"]
    assert "no module named 'no_such_module_anywhere'" in report.violations[0].message


# ------------------------------------------------------------------------------------------------------------
# Issue 12, point 14: ADAPTIVE-ASHA judges a trial promoted on the spot at its next rungs
# ------------------------------------------------------------------------------------------------------------

def _adaptive_asha_rungs(cls_path: str) -> list[list[tuple[int, int]]]:
    """(results, promotions) per rung of every bracket after ADAPTIVE-ASHA ran to the end on the embedded
    table (simulator, 4 workers, 64 trials)."""
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import benchmark_blackbox, table_configurations
    from launchers.simulator import SimulatorBackend
    from launchers.tuner import StoppingCriterion, Tuner

    bench = get_benchmark("xgboost-sklearn-breast_cancer")
    blackbox = benchmark_blackbox(bench)
    fidelities = blackbox.fidelity_values.tolist()
    scheduler = make_method(cls_path, blackbox.configuration_space, "val_error", "min", blackbox.fidelity_name,
                            fidelities[-1], seed=7, fidelity_values=fidelities,
                            restrict_to=table_configurations(bench), max_trials=64)
    Tuner(scheduler, SimulatorBackend(blackbox, n_workers=4, seed=1), StoppingCriterion()).run()
    return [[(len(rung), sum(1 for entry in rung if entry[2])) for rung in bracket.entries]
            for bracket in scheduler.brackets]


def test_adaptive_asha_judges_trials_promoted_on_the_spot_at_their_next_rungs():
    fixed = _adaptive_asha_rungs("ADAPTIVE-ASHA")
    before_fix = _adaptive_asha_rungs(f"{__name__}:DropsMilestone")
    # Every trial promoted from rung r (on the spot or resumed later) is judged at rung r + 1 below the top
    # (the top rung completes trials and keeps no table): the run goes to the end, so the results at rung
    # r + 1 are exactly the promotions from rung r.
    for bracket in fixed:
        for (_, promoted), (arrived, _) in itertools.pairwise(bracket[:-1]):
            assert arrived == promoted, fixed
    # Before the fix, trials promoted on the spot ran to the maximum unseen: rung r + 1 got fewer results.
    assert any(arrived < promoted for bracket in before_fix
               for (_, promoted), (arrived, _) in itertools.pairwise(bracket[:-1])), before_fix
    assert fixed[0][0][0] == before_fix[0][0][0]  # same first rung: the difference starts at promotions


def test_arena_check_method_exits_1_naming_the_broken_rule(capsys):
    from launchers.cli import main

    assert main(["check-method", f"{__name__}:IgnoresSeed"]) == 1
    out = capsys.readouterr().out
    assert "FAIL          seed-used" in out and "ok            in-space" in out
    assert main(["check-method", f"{__name__}:IgnoresSeed", "--deterministic"]) == 0
    assert "skipped       seed-used" in capsys.readouterr().out
    assert main(["check-method", "ASHA", "--kwargs", "grace_period=2", "reduction_factor=2"]) == 0
    with pytest.raises(SystemExit, match="not of the form name=value"):
        main(["check-method", "ASHA", "--kwargs", "grace_period"])


def test_a_method_that_transfers_checkpoints_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="runs on real training only"):
        assert_conforms("PBT")
