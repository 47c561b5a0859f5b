"""HyperDrive run queries (issue 12, points 15 and 16).

- without ``trials.parquet``, cancelled runs come from the decisions recorded in ``results.parquet`` (checked on
  a real simulated experiment of BANDIT, HyperDrive's policy, against the statuses of its trials table);
- ``include_resume_from_runs`` as in HyperDrive's signature (warm-start parents lend their children);
- one implementation: the store functions and ``HyperDriveRun`` agree, and ``baselines`` holds none of it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark_definitions.registry import get_benchmark
from launchers.experiment import ExperimentSpec, run_experiment
from results.hyperdrive_queries import ChildRun, HyperDriveRun, best_trial, sorted_trials
from results.store import load_experiment


def _results(decisions: dict[int, list[str]], values: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for trial, trial_values in values.items():
        for step, (value, decision) in enumerate(zip(trial_values, decisions[trial]), start=1):
            rows.append({"trial_id": trial, "fidelity": float(step), "acc": value, "sim_time": float(step),
                         "worker": 0, "decision": decision, "config.opt": f"c{trial}"})
    return pd.DataFrame(rows)


def test_cancelled_runs_are_derived_from_the_decisions_without_a_trials_table():
    # Trial 1 is the best but was stopped by the policy at its second result; trial 2 was paused.
    results = _results(
        decisions={0: ["continue", "continue", "continue"], 1: ["continue", "stop"], 2: ["pause"]},
        values={0: [0.5, 0.6, 0.7], 1: [0.8, 0.9], 2: [0.3]},
    )
    run = HyperDriveRun.from_results(results, "acc", "maximize")
    assert [c.status for c in run.children] == ["Completed", "Canceled", "Paused"]
    assert run.get_best_run_by_primary_metric().run_id == 1
    assert run.get_best_run_by_primary_metric(include_canceled=False).run_id == 0


@pytest.fixture(scope="module")
def bandit_experiment(tmp_path_factory):
    bench = get_benchmark("xgboost-sklearn-digits")
    spec = ExperimentSpec(benchmark=bench, method="BANDIT", seed=0, master_seed=3, tag="t",
                          results_root=str(tmp_path_factory.mktemp("results")),
                          method_kwargs={"slack_factor": 0.01})
    return load_experiment(run_experiment(spec))


def test_statuses_without_trials_match_the_trials_table_on_a_simulated_bandit_run(bandit_experiment):
    experiment = bandit_experiment
    stopped = set(experiment.trials.loc[experiment.trials["status"] == "stopped", "trial_id"].astype(int))
    assert stopped, "the policy cancelled no run: the test would not see the difference"
    without_trials = HyperDriveRun.from_results(experiment.results, experiment.metric, experiment.mode)
    with_trials = HyperDriveRun.from_results(experiment.results, experiment.metric, experiment.mode,
                                             trials=experiment.trials)
    assert {c.run_id for c in without_trials.children if c.status == "Canceled"} == stopped
    best = with_trials.get_best_run_by_primary_metric(include_canceled=False)
    assert without_trials.get_best_run_by_primary_metric(include_canceled=False).run_id == best.run_id
    assert best.run_id not in stopped


def test_include_resume_from_runs():
    parent = HyperDriveRun([ChildRun(0, {"x": 1}, {"loss": [0.1]}), ChildRun(1, {"x": 2}, {"loss": [0.5]})],
                           "loss", "minimize", name="previous-sweep")
    run = HyperDriveRun([ChildRun(0, {"x": 3}, {"loss": [0.3]}), ChildRun(1, {"x": 4}, {"loss": [0.4]})],
                        "loss", "minimize", resume_from=[parent])
    inherited = run.get_best_run_by_primary_metric()
    assert (inherited.run_id, inherited.resumed_from, inherited.hyperparameters) == (0, "previous-sweep", {"x": 1})
    own = run.get_best_run_by_primary_metric(include_resume_from_runs=False)
    assert (own.run_id, own.resumed_from, own.hyperparameters) == (0, None, {"x": 3})
    # The other queries list the run's own children, as HyperDrive's do.
    assert [c["hyperparameters"] for c in run.get_children_sorted_by_primary_metric()] == [{"x": 3}, {"x": 4}]
    with pytest.raises(ValueError, match="same primary metric"):
        HyperDriveRun([], "acc", "maximize", resume_from=[parent])


def test_store_queries_and_hyperdrive_run_agree_on_a_stored_experiment(bandit_experiment):
    experiment = bandit_experiment
    run = HyperDriveRun.from_experiment(experiment)
    for reverse in (False, True):
        from_run = [c["run_id"] for c in run.get_children_sorted_by_primary_metric(reverse=reverse)]
        assert [t["trial_id"] for t in sorted_trials(experiment, reverse=reverse)] == from_run
    assert best_trial(experiment, include_canceled=False)["trial_id"] == \
        run.get_best_run_by_primary_metric(include_canceled=False).run_id


def test_ties_keep_run_id_order_in_both_directions():
    children = [ChildRun(i, {}, {"acc": [v]}) for i, v in enumerate([0.5, 0.9, 0.5, 0.1])]
    run = HyperDriveRun(children, "acc", "maximize")
    assert [c["run_id"] for c in run.get_children_sorted_by_primary_metric()] == [1, 0, 2, 3]
    assert [c["run_id"] for c in run.get_children_sorted_by_primary_metric(reverse=True)] == [3, 0, 2, 1]
