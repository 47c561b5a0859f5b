"""Population-based training: quantiles, explore, the exploit/explore decisions on hand-made sequences, the
checkpoint copy of the local backend, the refusal on simulated benchmarks, and a short real study."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _arena_cli import arena_sweep

from baselines.pbt import PopulationBasedTraining, explore, perturb_value, quantile_size, split_quantiles
from baselines.random_search import RandomSearcher
from baselines.registry import make_method, method_defaults, method_transfers_checkpoints
from baselines.scheduler import Decision, Scheduler, Suggestion
from benchmark_definitions.registry import get_benchmark
from blackbox_repo.blackbox import BlackboxMetadata, FunctionBlackbox
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Integer,
    LogUniform,
    Ordinal,
    QUniform,
    SearchSpace,
    Uniform,
)
from launchers.experiment import ExperimentSpec, run_experiment
from launchers.local_backend import LocalBackend
from launchers.method_checks import MethodBenchmarkMismatch, check_method_fits_benchmark
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, TrialRecord, Tuner

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "launchers" / "examples" / "train_pbt_toy.py"
LR_SPACE = SearchSpace({"lr": LogUniform(0.003, 1.0)})


# --- quantiles and explore -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, fraction, expected", [(8, 0.25, 2), (4, 0.25, 1), (3, 0.25, 1), (2, 0.5, 1),
                                                   (5, 0.5, 2), (1, 0.25, 0), (10, 0.2, 2), (7, 0.3, 3)])
def test_quantile_size_is_ceil_capped_at_half(n, fraction, expected):
    assert quantile_size(n, fraction) == expected


def test_split_quantiles_orders_worst_first_and_best_first_and_breaks_ties_by_trial_id():
    scores = {0: 0.5, 1: 0.1, 2: 0.9, 3: 0.1, 4: 0.3, 5: math.inf, 6: 0.2, 7: 0.4}
    bottom, top = split_quantiles(scores, 0.25)
    assert bottom == [5, 2] and top == [1, 3]
    assert split_quantiles({3: 1.0}, 0.5) == ([], [])


def test_perturb_numbers_multiplies_by_a_factor_and_projects_into_the_domain():
    rng = np.random.default_rng(0)
    assert perturb_value(LogUniform(0.01, 1.0), 0.1, rng, 0.0, (0.5,)) == pytest.approx(0.05)
    assert perturb_value(LogUniform(0.01, 1.0), 0.9, rng, 0.0, (1.2,)) == 1.0  # clipped at the upper bound
    assert perturb_value(Uniform(0.2, 1.0), 0.21, rng, 0.0, (0.8,)) == 0.2  # clipped at the lower bound
    assert perturb_value(QUniform(0.0, 10.0, 0.5), 3.0, rng, 0.0, (1.2,)) == 3.5  # 3.6 quantised to 3.5
    # integers: rounding 2 * 1.2 = 2.4 back to 2 would not move it: one unit in the factor's direction instead
    assert perturb_value(Integer(1, 10), 2, rng, 0.0, (1.2,)) == 3
    assert perturb_value(Integer(1, 10), 2, rng, 0.0, (0.8,)) == 1
    assert perturb_value(Integer(1, 100), 50, rng, 0.0, (1.2,)) == 60
    assert perturb_value(Integer(1, 10), 10, rng, 0.0, (1.2,)) == 10
    assert perturb_value(Constant("adam"), "adam", rng, 1.0, (1.2,)) == "adam"


def test_perturb_uses_each_factor_and_resamples_with_its_probability():
    rng = np.random.default_rng(1)
    values = [perturb_value(LogUniform(0.01, 1.0), 0.1, rng, 0.0, (0.8, 1.2)) for _ in range(400)]
    assert set(np.round(values, 12)) == {0.08, 0.12}
    assert 150 < sum(v < 0.1 for v in values) < 250
    resampled = [perturb_value(LogUniform(0.01, 1.0), 0.1, rng, 0.25, (0.8, 1.2)) for _ in range(2000)]
    off_grid = [v for v in resampled if not (math.isclose(v, 0.08) or math.isclose(v, 0.12))]
    assert 400 < len(off_grid) < 600  # about a quarter resampled from the whole domain
    assert min(off_grid) < 0.02 and max(off_grid) > 0.5


def test_perturb_categorical_and_ordinal_move_to_a_neighbour():
    rng = np.random.default_rng(2)
    ordinal = Ordinal([16, 32, 64, 128])
    assert {perturb_value(ordinal, 32, rng, 0.0, (0.8, 1.2)) for _ in range(100)} == {16, 64}
    assert {perturb_value(ordinal, 128, rng, 0.0, (0.8, 1.2)) for _ in range(50)} == {64}  # from an end
    assert {perturb_value(ordinal, 16, rng, 0.0, (0.8, 1.2)) for _ in range(50)} == {32}
    categorical = Categorical(["sgd", "adam", "rmsprop"])
    assert {perturb_value(categorical, "adam", rng, 0.0, (0.8, 1.2)) for _ in range(100)} == {"sgd", "rmsprop"}
    assert perturb_value(Categorical(["only"]), "only", rng, 0.0, (0.8, 1.2)) == "only"


def test_explore_is_reproducible_from_the_seed_and_stays_in_the_space():
    space = SearchSpace({"lr": LogUniform(1e-4, 1.0), "layers": Integer(1, 8), "opt": Categorical(["a", "b", "c"]),
                         "tag": Constant("x")})
    config = {"lr": 0.01, "layers": 4, "opt": "b", "tag": "x"}
    first = [explore(space, config, np.random.default_rng(7), 0.25, (0.8, 1.2)) for _ in range(3)]
    again = [explore(space, config, np.random.default_rng(7), 0.25, (0.8, 1.2)) for _ in range(3)]
    assert first == again
    rng = np.random.default_rng(8)
    for _ in range(200):
        new = explore(space, config, rng, 0.25, (0.8, 1.2))
        assert space.contains(new) and new["tag"] == "x" and new["opt"] in ("a", "b", "c")


# --- decisions on hand-made sequences ---------------------------------------------------------------------------

def _pbt(mode: str = "min", population: int = 4, **kwargs) -> PopulationBasedTraining:
    points = [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}, {"lr": 0.4}][:population]
    searcher = RandomSearcher(LR_SPACE, "loss", mode, seed=0, points_to_evaluate=points)
    defaults = {"perturbation_interval": 10, "resample_probability": 0.0, "perturbation_factors": (0.8, 1.2)}
    return PopulationBasedTraining(LR_SPACE, "loss", searcher=searcher, mode=mode, seed=0, fidelity_name="step",
                                   max_fidelity=30, population_size=population, **{**defaults, **kwargs})


@pytest.mark.parametrize("mode", ["min", "max"])
def test_exploit_stops_the_bottom_member_and_clones_a_top_one_once_all_reached_the_point(mode):
    pbt = _pbt(mode)
    sign = 1.0 if mode == "min" else -1.0
    starts = [pbt.suggest(t) for t in range(4)]
    assert [s.config for s in starts] == [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}, {"lr": 0.4}]  # points first
    assert all(s.kind == "start" and s.checkpoint_from is None for s in starts)
    assert pbt.milestones(0) == [10, 20]  # perturbation points below the maximum fidelity 30
    # trials 0, 1, 2 reach step 10 and wait there (the population is not all there yet): nothing is ranked
    for tid, loss in ((0, 0.5), (1, 0.4), (2, 0.3)):
        assert pbt.on_result(tid, 10, {"loss": sign * loss, "step": 10}) is Decision.PAUSE
        pbt.on_trial_paused(tid)
    assert pbt.rankings == [] and pbt.suggest(4).kind == "wait"
    # the last one completes the ranking: trial 0 (worst) is replaced by a clone of trial 3 (best)
    assert pbt.on_result(3, 10, {"loss": sign * 0.2, "step": 10}) is Decision.PAUSE  # its worker goes to the clone
    point, scores, bottom, donors = pbt.rankings[0]
    assert point == 10 and bottom == [0] and donors == {0: 3}
    assert scores == {0: 0.5, 1: 0.4, 2: 0.3, 3: 0.2}  # signed: lower is better in both modes
    clone = pbt.suggest(4)
    assert clone.kind == "start" and clone.checkpoint_from == 3
    assert clone.config["lr"] in (pytest.approx(0.4 * 0.8), pytest.approx(0.4 * 1.2))
    assert pbt.members[4].start_fidelity == 10 and pbt.milestones(4) == [20]
    assert pbt.members[0].status == "ended"
    # then the paused members resume, furthest behind first (all at 10: lowest trial id first)
    assert [pbt.suggest(t).trial_id for t in (5, 5, 5)] == [1, 2, 3]
    assert pbt.suggest(5).kind == "wait"


def test_the_member_completing_a_ranking_is_stopped_when_it_is_in_the_bottom_quantile():
    pbt = _pbt()
    for t in range(4):
        pbt.suggest(t)
    for tid, loss in ((0, 0.1), (1, 0.2), (2, 0.3)):
        pbt.on_result(tid, 10, {"loss": loss, "step": 10})
        pbt.on_trial_paused(tid)
    assert pbt.on_result(3, 10, {"loss": float("nan"), "step": 10}) is Decision.STOP  # NaN ranks last
    pbt.on_trial_stopped(3)
    assert pbt.rankings[0][2] == [3] and pbt.rankings[0][3] == {3: 0}
    clone = pbt.suggest(4)
    assert clone.checkpoint_from == 0 and clone.config["lr"] in (pytest.approx(0.08), pytest.approx(0.12))


def test_donors_resume_after_their_clones_started_and_the_run_ends_when_every_member_completed():
    pbt = _pbt(population=2, quantile_fraction=0.5)
    pbt.suggest(0), pbt.suggest(1)
    assert pbt.on_result(0, 10, {"loss": 0.1}) is Decision.PAUSE
    assert pbt.on_result(1, 10, {"loss": 0.2}) is Decision.STOP  # the bottom one of two
    pbt.on_trial_stopped(1)
    assert pbt.suggest(2).checkpoint_from == 0
    assert pbt.suggest(3).trial_id == 0  # the donor resumes only after its clone started
    assert pbt.on_result(2, 20, {"loss": 0.3}) is Decision.PAUSE  # waits for trial 0 to reach 20
    assert pbt.on_result(0, 20, {"loss": 0.05}) is Decision.PAUSE  # ranks 2 last; its worker goes to the clone
    assert pbt.rankings[-1][0] == 20 and pbt.rankings[-1][3] == {2: 0}
    clone = pbt.suggest(4)
    assert clone.checkpoint_from == 0 and pbt.milestones(4) == []  # no perturbation point left before 30
    assert pbt.suggest(5).trial_id == 0 and pbt.suggest(5).kind == "wait"
    pbt.on_trial_complete(0, 30, {"loss": 0.01})
    assert pbt.suggest(5).kind == "wait"  # the clone still runs
    pbt.on_trial_complete(4, 30, {"loss": 0.02})
    assert pbt.suggest(5).kind == "done"


def test_a_failure_before_the_first_ranking_is_replaced_by_a_new_member():
    pbt = _pbt()
    for t in range(4):
        pbt.suggest(t)
    pbt.on_trial_failed(2)
    new = pbt.suggest(4)
    assert new.kind == "start" and new.checkpoint_from is None and pbt.members[4].slot == 2
    for tid in (0, 1, 3, 4):
        pbt.on_result(tid, 10, {"loss": 0.1 * (tid + 1)})
    assert len(pbt.rankings) == 1 and set(pbt.rankings[0][1]) == {0, 1, 3, 4}


def test_pbt_arguments_are_checked():
    with pytest.raises(ValueError, match="population_size"):
        _pbt(population=1)
    with pytest.raises(ValueError, match="perturbation_interval"):
        _pbt(perturbation_interval=30)
    with pytest.raises(ValueError, match="quantile_fraction"):
        _pbt(quantile_fraction=0.6)
    with pytest.raises(ValueError, match="perturbation_factors"):
        _pbt(perturbation_factors=())
    with pytest.raises(ValueError, match="restricted"):
        make_method("PBT", LR_SPACE, "loss", "min", "step", 30, seed=0, restrict_to=[{"lr": 0.1}])


def test_registry_knows_pbt():
    assert method_transfers_checkpoints("PBT") and not method_transfers_checkpoints("ASHA")
    assert method_defaults("PBT") == {"population_size": 8, "perturbation_interval": 10, "quantile_fraction": 0.25,
                                      "resample_probability": 0.25, "perturbation_factors": [0.8, 1.2],
                                      "points_to_evaluate": None, "allow_duplicates": True}
    scheduler = make_method("PBT", LR_SPACE, "loss", "max", "step", 30, seed=0, population_size=4,
                            perturbation_interval=5, points_to_evaluate=[{"lr": 0.5}])
    assert isinstance(scheduler, PopulationBasedTraining) and scheduler.transfers_checkpoints
    assert scheduler.suggest(0).config == {"lr": 0.5} and scheduler.perturbation_points == [5, 10, 15, 20, 25]


# --- refusal on simulated benchmarks -----------------------------------------------------------------------------

def _tiny_blackbox() -> FunctionBlackbox:
    meta = BlackboxMetadata("tiny", default_metric="loss", time_objective="time", time_is_cumulative=True)
    return FunctionBlackbox(lambda config, fidelity, seed: [config["lr"] / fidelity, float(fidelity)], LR_SPACE,
                            ["loss", "time"], meta, fidelity_name="step", fidelity_values=list(range(1, 31)))


def test_the_simulator_refuses_a_method_that_transfers_checkpoints():
    backend = SimulatorBackend(_tiny_blackbox(), n_workers=2, seed=0)
    with pytest.raises(ValueError, match="a table holds one learning curve per configuration"):
        Tuner(_pbt(), backend, StoppingCriterion(max_evaluations=10))
    trial = TrialRecord(0, {"lr": 0.1}, checkpoint_from=3)
    with pytest.raises(ValueError, match="cannot start a trial from another trial's checkpoint"):
        backend.launch(trial, 0, None, resume=False)


def test_check_method_fits_benchmark():
    check_method_fits_benchmark("PBT", get_benchmark("real-pbt-regression"))
    check_method_fits_benchmark("ASHA", get_benchmark("xgboost-sklearn-digits"))
    with pytest.raises(MethodBenchmarkMismatch, match="no checkpoint to continue from"):
        check_method_fits_benchmark("PBT", get_benchmark("xgboost-sklearn-digits"))
    with pytest.raises(MethodBenchmarkMismatch):  # a method built outside the registry says it itself
        check_method_fits_benchmark("MY-PBT", get_benchmark("xgboost-sklearn-digits"), transfers_checkpoints=True)


def test_run_experiment_refuses_pbt_on_a_table_and_writes_nothing(tmp_path):
    spec = ExperimentSpec(get_benchmark("xgboost-sklearn-digits"), "PBT", seed=0, master_seed=1, tag="t",
                          results_root=str(tmp_path / "results"))
    with pytest.raises(MethodBenchmarkMismatch, match="simulated benchmark xgboost-sklearn-digits"):
        run_experiment(spec)
    assert not (tmp_path / "results").exists()


def test_arena_sweep_refuses_pbt_on_a_simulated_benchmark_before_anything_is_written(tmp_path):
    proc = arena_sweep(tmp_path, "method=RS,PBT", "benchmark=xgboost-sklearn-digits", "seed=0,1")
    assert proc.returncode != 0
    assert "method PBT cannot run on the simulated benchmark xgboost-sklearn-digits" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()  # not even study.json: no job started, RS's neither
    # A glob: the sweep's validation pass expands it and refuses every PBT job before anything is written.
    proc = arena_sweep(tmp_path, "method=PBT", "benchmark=glob(xgboost-sklearn-d*)", "tag=globbed")
    assert proc.returncode != 0 and "no checkpoint to continue from" in proc.stderr + proc.stdout
    assert not (tmp_path / "results" / "globbed").exists()


# --- checkpoint transfer in the tuner and the local backend ------------------------------------------------------

class _CloneOnce(Scheduler):
    """Starts trial 0, which it sees at step 3 (and lets continue); then trial 1 starts from trial 0's checkpoint
    with the same config: right after that result (``clone_after="result"``, trial 0 trains on meanwhile) or once
    trial 0 completed (``"complete"``, its checkpoint folder then holds step 6)."""

    transfers_checkpoints = True

    def __init__(self, donor: int = 0, clone_after: str = "result"):
        super().__init__(LR_SPACE, "val_loss", "min", 0, "step", 6)
        self.donor = donor
        self.clone_after = clone_after
        self.started = 0
        self.ready = False

    def suggest(self, trial_id):
        if self.started == 0:
            self.started = 1
            return Suggestion.start({"lr": 0.1})
        if self.started == 1 and (self.ready or self.donor != 0):
            self.started = 2
            return Suggestion.start({"lr": 0.1}, checkpoint_from=self.donor)
        return Suggestion.wait() if self.started < 2 else Suggestion.done()

    def milestones(self, trial_id):
        return [3] if trial_id == 0 else []

    def on_result(self, trial_id, fidelity, metrics):
        self.ready = self.clone_after == "result"
        return Decision.CONTINUE

    def on_trial_complete(self, trial_id, fidelity, metrics):
        self.ready = True


class _CloneOnceUndeclared(_CloneOnce):
    transfers_checkpoints = False


def _reports_by_hand(tmp_path: Path, max_fidelity: int) -> list[dict]:
    """The toy script's reports for trial 0 with lr 0.1, run without the tuner and without interruption."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    for key in ("HPO_ARENA_CONFIG", "HPO_ARENA_CHECKPOINT_DIR", "HPO_ARENA_PROTOCOL"):
        env.pop(key, None)
    out = subprocess.run([sys.executable, str(TOY), "--config-json", '{"lr": 0.1}', "--trial-id", "0",
                          "--max-fidelity", str(max_fidelity)], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    return [json.loads(line.split(" ", 1)[1]) for line in out.stdout.splitlines() if line.startswith("@@hpo-arena@@")]


@pytest.mark.parametrize("clone_after", ["result", "complete"])
def test_a_trial_started_from_a_checkpoint_continues_from_the_donors_state_at_its_milestone(tmp_path, clone_after):
    backend = LocalBackend(TOY, n_workers=2, fidelity_name="step", max_fidelity=6, workdir=tmp_path / "work",
                           objectives_names=["val_loss", "excess_loss", "lr"])
    results = Tuner(_CloneOnce(clone_after=clone_after), backend, StoppingCriterion()).run()
    frame = results.to_frame()
    reference = pd.DataFrame(_reports_by_hand(tmp_path, 6))
    donor, clone = frame[frame.trial_id == 0], frame[frame.trial_id == 1]
    np.testing.assert_array_equal(donor.fidelity, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(donor.val_loss, reference.val_loss)
    # the donor trained on past step 3 (to 6 when "complete"): the clone still got its state of step 3
    np.testing.assert_array_equal(clone.fidelity, [4, 5, 6])
    np.testing.assert_array_equal(clone.val_loss, reference.val_loss[3:])  # weights and sample stream continue
    trials = results.trials_frame()
    assert trials.checkpoint_from.tolist()[0] is pd.NA and trials.checkpoint_from.tolist()[1] == 0
    assert str(trials.checkpoint_from.dtype) == "Int64"


def test_the_tuner_checks_the_donor(tmp_path):
    backend = LocalBackend(TOY, n_workers=1, fidelity_name="step", max_fidelity=6, workdir=tmp_path / "a")
    with pytest.raises(ValueError, match="trial 7, which does not exist"):
        Tuner(_CloneOnce(donor=7), backend, StoppingCriterion()).run()
    backend = LocalBackend(TOY, n_workers=1, fidelity_name="step", max_fidelity=6, workdir=tmp_path / "b")
    with pytest.raises(ValueError, match="does not declare transfers_checkpoints"):
        Tuner(_CloneOnceUndeclared(donor=7), backend, StoppingCriterion()).run()


# --- a short PBT study, for real, on 2 workers ---------------------------------------------------------------------

def test_short_pbt_study_on_two_workers(tmp_path):
    population, max_steps, interval = 4, 12, 4
    scheduler = make_method("PBT", LR_SPACE, "val_loss", "min", "step", max_steps, seed=3,
                            population_size=population, perturbation_interval=interval)
    backend = LocalBackend(TOY, n_workers=2, fidelity_name="step", max_fidelity=max_steps, workdir=tmp_path / "w",
                           objectives_names=["val_loss", "excess_loss", "lr"], trial_timeout=60)
    results = Tuner(scheduler, backend, StoppingCriterion()).run()
    frame, trials = results.to_frame(), results.trials_frame()
    assert results.end_reason == "all trials ended"
    assert len(frame) == population * max_steps  # clones continue the donors' step count: no step is redone
    # two rankings (steps 4 and 8), one member replaced at each (quantile 0.25 of 4)
    assert [r[0] for r in scheduler.rankings] == [4, 8] and [len(r[2]) for r in scheduler.rankings] == [1, 1]
    clones = trials[trials.checkpoint_from.notna()]
    assert len(clones) == 2 and len(trials) == population + 2
    first_step = frame.groupby("trial_id").fidelity.min()
    for (point, scores, _, donors), (_, clone) in zip(scheduler.rankings, clones.iterrows()):
        for tid, score in scores.items():  # every member reported at the point and was ranked on that result
            assert frame[(frame.trial_id == tid) & (frame.fidelity == point)].val_loss.item() == score
        (loser, donor), = donors.items()
        assert loser == max(scores, key=scores.get) and donor == min(scores, key=scores.get)
        assert clone.checkpoint_from == donor
        assert first_step[clone.trial_id] == point + 1  # the step after the donor's checkpoint
        assert trials.loc[trials.trial_id == loser, "status"].item() in ("stopped", "paused")
    completed = trials[trials.status == "completed"]
    assert len(completed) == population
    assert (frame.groupby("trial_id").fidelity.max()[completed.trial_id] == max_steps).all()
    path = results.write(str(tmp_path / "out"), {"tag": "t", "benchmark": "real-pbt-regression", "method": "PBT",
                                                   "seed": 0, "metric": "val_loss", "mode": "min"})
    stored = pd.read_parquet(Path(path) / "trials.parquet")
    assert stored.checkpoint_from.dropna().astype(int).tolist() == clones.checkpoint_from.astype(int).tolist()


def test_arena_sweep_runs_pbt_on_the_real_benchmark(tmp_path):
    proc = arena_sweep(tmp_path, "method=PBT", "benchmark=real-pbt-regression", "method.population_size=4",
                  "method.perturbation_interval=5", "method.perturbation_factors=[0.5,2.0]",
                  "method.resample_probability=0",
                  "benchmark.max_fidelity=15", "tag=real")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    folder = tmp_path / "results" / "real" / "real-pbt-regression" / "PBT" / "0"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["method_kwargs"]["perturbation_factors"] == [0.5, 2.0]
    trials = pd.read_parquet(folder / "trials.parquet")
    results = pd.read_parquet(folder / "results.parquet")
    assert len(results) == 4 * 15 and (trials.status == "completed").sum() == 4
    clones = trials[trials.checkpoint_from.notna()]
    assert len(clones) == 2  # one per ranking (steps 5 and 10)
    for _, clone in clones.iterrows():
        donor_lr = trials.loc[trials.trial_id == clone.checkpoint_from, "config.lr"].item()
        lr = clone["config.lr"]  # the donor's, times 0.5 or 2, clipped into [0.003, 1]
        assert lr in (pytest.approx(min(donor_lr * 2, 1.0)), pytest.approx(max(donor_lr / 2, 0.003)))


def test_a_donor_whose_script_saves_no_checkpoint_is_an_error_naming_the_fix(tmp_path):
    script = tmp_path / "no_checkpoint.py"
    script.write_text("from launchers.report import report, trial_context\n"
                      "trial = trial_context()\n"
                      "for step in range(1, int(trial.max_fidelity) + 1):\n"
                      "    report(step=step, val_loss=1.0 / step)\n")
    backend = LocalBackend(script, n_workers=2, fidelity_name="step", max_fidelity=6, workdir=tmp_path / "w")
    with pytest.raises(ValueError, match=r"no_checkpoint.py must save one before each report"):
        Tuner(_CloneOnce(), backend, StoppingCriterion()).run()
