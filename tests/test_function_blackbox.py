"""Function blackboxes: the shipped synthetic functions against their literature optima, the contract of a
user's ``FunctionProblem`` (vectorised or not, from a module or a file), and runs through the simulator."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from scipy.optimize import minimize

from baselines.registry import make_method
from benchmark_definitions.definitions import FunctionBenchmark
from benchmark_definitions.registry import get_benchmark
from blackbox_repo.blackbox import BlackboxLookupError
from blackbox_repo.function import FunctionProblem, FunctionProblemError, load_problem
from blackbox_repo.search_space import Categorical, Integer, SearchSpace, Uniform
from blackbox_repo.synthetic_functions import SYNTHETIC_FUNCTIONS
from launchers.experiment import ExperimentSpec, run_experiment
from launchers.simulator import SimulatorBackend
from launchers.tuner import StoppingCriterion, Tuner

# Literature values (Surjanovic & Bingham, Virtual Library of Simulation Experiments; BoTorch's test functions
# quote the same): global minimum and one minimiser each.
LITERATURE = {
    "branin": (0.397887, [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]),
    "hartmann3": (-3.86278, [(0.114614, 0.555649, 0.852547)]),
    "hartmann6": (-3.32237, [(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)]),
    "rosenbrock": (0.0, [(1.0, 1.0, 1.0, 1.0)]),
    "ackley": (0.0, [(0.0,) * 5]),
}


def _config(problem: FunctionProblem, point) -> dict:
    return {name: float(v) for name, v in zip(problem.configuration_space.names, point)}


@pytest.mark.parametrize("name", sorted(LITERATURE))
def test_known_minimum_at_the_known_minimisers(name):
    minimum, minimisers = LITERATURE[name]
    problem = SYNTHETIC_FUNCTIONS[name]()
    assert problem.best_possible == pytest.approx(minimum, abs=1e-6)
    blackbox = problem.blackbox()
    for point in minimisers:
        assert blackbox.objective(_config(problem, point))["value"] == pytest.approx(minimum, abs=2e-5)


@pytest.mark.parametrize("name", ["branin", "hartmann3", "hartmann6"])
def test_nothing_in_the_domain_is_below_the_known_minimum(name):
    """20000 random points, then local search from the best 5, find the minimum but nothing lower."""
    minimum, _ = LITERATURE[name]
    problem = SYNTHETIC_FUNCTIONS[name]()
    space = problem.configuration_space
    bounds = [(space[n].lower, space[n].upper) for n in space.names]
    rng = np.random.default_rng(0)
    points = rng.uniform([b[0] for b in bounds], [b[1] for b in bounds], size=(20000, len(bounds)))
    values = np.asarray(problem.function({n: points[:, i] for i, n in enumerate(space.names)}, None)["value"])
    assert values.min() >= minimum - 1e-6
    found = min(
        minimize(lambda x: float(problem.function(dict(zip(space.names, x)), None)["value"]), points[i],
                 bounds=bounds, method="L-BFGS-B").fun
        for i in np.argsort(values)[:5]
    )
    assert minimum - 1e-6 <= found <= minimum + 1e-4


@pytest.mark.parametrize("name,base", [("mf-branin", "branin"), ("mf-hartmann3", "hartmann3"),
                                       ("mf-hartmann6", "hartmann6")])
def test_multi_fidelity_variants(name, base):
    problem, original = SYNTHETIC_FUNCTIONS[name](), SYNTHETIC_FUNCTIONS[base]()
    assert problem.fidelity_values == pytest.approx([k / 10 for k in range(1, 11)])
    assert problem.best_possible == original.best_possible
    rng = np.random.default_rng(1)
    configs = original.configuration_space.sample_many(rng, 50)
    curves = problem.blackbox().evaluate_batch(configs)  # (N, F, [value, cost])
    full = original.blackbox().evaluate_batch(configs)[:, 0]
    np.testing.assert_allclose(curves[:, -1, 0], full, rtol=1e-12)  # z = 1 is the original function
    # Cost model: cumulative 10 * z seconds, the same for every configuration.
    np.testing.assert_allclose(curves[:, :, 1], np.broadcast_to(np.arange(1, 11, dtype=float), (50, 10)))
    assert np.all(curves[:, :, 0] >= LITERATURE[base][0] - 1e-6)  # the minimum holds at every fidelity
    if base.startswith("hartmann"):  # a lower alpha_1 only raises the value
        assert np.all(np.diff(curves[:, :, 0], axis=1) <= 1e-12)
    else:
        assert not np.allclose(curves[:, 0, 0], curves[:, -1, 0])  # low fidelity differs from the truth
    cheap = SYNTHETIC_FUNCTIONS[name](n_fidelities=4, full_cost=2.0).blackbox()
    assert cheap.fidelity_values.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert cheap.evaluate(configs[0])[:, 1].tolist() == [0.5, 1.0, 1.5, 2.0]


def _quadratic(config, fidelity):
    loss = (config["x"] - 0.3) ** 2 + 0.1 * config["n"] + (0.0 if config["opt"] == "adam" else 0.5)
    return {"loss": loss / fidelity, "seconds": 2.0 * fidelity}


SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "n": Integer(1, 3), "opt": Categorical(["adam", "sgd"])})


def _problem(function=_quadratic, vectorized=False, **kwargs) -> FunctionProblem:
    return FunctionProblem(function=function, configuration_space=SPACE, objectives=("loss", "seconds"),
                           name="quad", fidelity_name="epoch", fidelity_values=(1, 2, 4),
                           time_objective="seconds", vectorized=vectorized, **kwargs)


def _quadratic_arrays(config, fidelity):
    loss = (config["x"] - 0.3) ** 2 + 0.1 * config["n"] + np.where(config["opt"] == "adam", 0.0, 0.5)
    return {"loss": loss / fidelity, "seconds": 2.0 * fidelity}


def test_vectorised_and_scalar_functions_agree_and_shapes_follow_the_blackbox_contract():
    scalar, vector = _problem().blackbox(), _problem(_quadratic_arrays, vectorized=True).blackbox()
    configs = SPACE.sample_many(np.random.default_rng(2), 7)
    for kwargs in ({}, {"fidelity": 2}, {"seed": None}, {"fidelity": 4, "seed": None}):
        a, b = scalar.evaluate_batch(configs, **kwargs), vector.evaluate_batch(configs, **kwargs)
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert scalar.evaluate_batch(configs).shape == (7, 3, 2)
    assert scalar.evaluate_batch(configs, seed=None).shape == (7, 1, 3, 2)
    c = {"x": 0.3, "n": 2, "opt": "sgd"}
    assert scalar.evaluate(c, fidelity=2).tolist() == pytest.approx([0.35, 4.0])
    with pytest.raises(BlackboxLookupError, match="not tabulated"):
        scalar.evaluate(c, fidelity=3)
    with pytest.raises(BlackboxLookupError, match="opt='rmsprop' is not in"):
        scalar.evaluate({**c, "opt": "rmsprop"})
    with pytest.raises(BlackboxLookupError, match="seed 1 is not available"):
        scalar.evaluate(c, seed=1)


def test_a_single_fidelity_problem_gets_a_time_objective_of_one_step_per_evaluation():
    problem = FunctionProblem(function=lambda c, f: {"y": c["x"] ** 2}, configuration_space=SPACE,
                              objectives=["y"], step_time=2.5)
    blackbox = problem.blackbox()
    assert blackbox.objectives_names == ["y", "time"] and blackbox.metadata.time_objective == "time"
    assert blackbox.evaluate({"x": 0.5, "n": 1, "opt": "adam"}).tolist() == [0.25, 2.5]


def test_bad_function_results_are_named():
    c = {"x": 0.3, "n": 2, "opt": "sgd"}
    with pytest.raises(FunctionProblemError, match="lacks objective 'seconds'"):
        _problem(lambda config, f: {"loss": 1.0}).blackbox().evaluate(c)
    with pytest.raises(FunctionProblemError, match="returned float, expected a mapping"):
        _problem(lambda config, f: 1.0).blackbox().evaluate(c)
    with pytest.raises(FunctionProblemError, match="'loss' is not numeric"):
        _problem(lambda config, f: {"loss": "low", "seconds": 1.0}).blackbox().evaluate(c)
    with pytest.raises(FunctionProblemError, match=r"shape \(2,\), expected \(3,\)"):
        _problem(lambda config, f: {"loss": np.zeros(2), "seconds": 1.0}, vectorized=True).blackbox().evaluate(c)
    with pytest.raises(FunctionProblemError, match="did you mean 'loss'"):
        _problem(metric="los")


def test_problems_are_found_by_name_module_path_and_file(tmp_path, monkeypatch):
    module = tmp_path / "my_problems.py"
    module.write_text(textwrap.dedent("""
        from blackbox_repo.function import FunctionProblem
        from blackbox_repo.search_space import SearchSpace, Uniform

        def bowl(config, fidelity):
            return {"y": sum((config[k] - 0.5) ** 2 for k in config)}

        def make(dim=2):
            space = SearchSpace({f"x{i}": Uniform(0.0, 1.0) for i in range(dim)})
            return FunctionProblem(function=bowl, configuration_space=space, objectives=["y"], name="bowl",
                                   best_possible=0.0)

        problem = make()
    """))
    from_file = load_problem(f"{module}:problem")
    assert from_file.configuration_space.names == ["x0", "x1"]
    assert load_problem("my_problems.py:make", {"dim": 3}, base_dir=tmp_path).configuration_space.names == \
        ["x0", "x1", "x2"]
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_problem("my_problems:make", {"dim": 4}).blackbox().evaluate(
        {f"x{i}": 0.5 for i in range(4)}).tolist() == [0.0, 1.0]
    assert load_problem("hartmann6").name == "hartmann6"
    with pytest.raises(FunctionProblemError, match="did you mean 'hartmann6'"):
        load_problem("hartman6")
    with pytest.raises(FunctionProblemError, match="looks like|wrap it"):
        load_problem("my_problems:bowl")
    with pytest.raises(FunctionProblemError, match="did you mean 'problem'"):
        load_problem("my_problems:problme")
    with pytest.raises(FunctionProblemError, match="cannot import module 'no_such_module'"):
        load_problem("no_such_module:problem")
    with pytest.raises(FunctionProblemError, match="function_kwargs .* cannot apply"):
        load_problem("my_problems:problem", {"dim": 3})


def test_a_user_problem_runs_in_the_simulator_like_a_table():
    """ASHA on a multi-fidelity function: every result lands at the simulated time the cost model gives."""
    blackbox = _problem(_quadratic_arrays, vectorized=True).blackbox()
    method = make_method("ASHA", SPACE, "loss", "min", fidelity_name="epoch", max_fidelity=4, seed=0,
                         fidelity_values=[1, 2, 4])
    results = Tuner(method, SimulatorBackend(blackbox, n_workers=2, seed=0),
                    StoppingCriterion(max_wallclock_time=60.0)).run()
    frame = results.to_frame()
    assert len(frame) > 10 and set(frame["fidelity"]) <= {1, 2, 4}
    for _, row in frame.iterrows():
        config = {k.removeprefix("config."): row[k] for k in frame.columns if k.startswith("config.")}
        expected = _quadratic(config, row["fidelity"])
        assert row["loss"] == pytest.approx(expected["loss"]) and row["seconds"] == expected["seconds"]
    # Each trial runs on one worker from its start: its result at fidelity f arrives 2 f seconds later.
    for _, trial in frame.groupby("trial_id"):
        start = trial["sim_time"].iloc[0] - 2.0 * trial["fidelity"].iloc[0]
        np.testing.assert_allclose(trial["sim_time"], start + 2.0 * trial["fidelity"])


@pytest.mark.parametrize("bench_name,method", [("synthetic-branin", "RS"), ("synthetic-mf-hartmann3", "ASHA")])
def test_synthetic_benchmarks_run_as_experiments_with_their_known_optimum(tmp_path, bench_name, method):
    bench = get_benchmark(bench_name)
    assert isinstance(bench, FunctionBenchmark)
    spec = ExperimentSpec(benchmark=bench, method=method, seed=0, master_seed=7, tag="t",
                          results_root=str(tmp_path))
    import json

    import pandas as pd

    folder = run_experiment(spec)
    metadata = json.loads((tmp_path / "t" / bench_name / method / "0" / "metadata.json").read_text())
    results = pd.read_parquet(f"{folder}/results.parquet")
    minimum = LITERATURE[bench_name.removeprefix("synthetic-").removeprefix("mf-")][0]
    assert metadata["status"] == "complete" and metadata["metric_best_possible"] == pytest.approx(minimum)
    assert metadata["benchmark_definition"]["kind"] == "function"
    assert results["value"].min() >= minimum - 1e-6
    # 4 workers, the budget in simulated seconds, one second per evaluation or fidelity step.
    assert results["sim_time"].max() <= bench.max_wallclock_time
    if method == "RS":
        assert len(results) == 4 * bench.max_wallclock_time
