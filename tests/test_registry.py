"""The method registry, plus property tests over every method: configurations stay in the space, runs are
deterministic given the seed, and mode max on -f decides exactly as mode min on f."""
from __future__ import annotations

import pytest
from _scheduler_driver import drive, synthetic_objective
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baselines.asynchronous_successive_halving import ASHA
from baselines.registry import (
    describe_methods,
    list_methods,
    make_method,
    method_is_constrained,
    method_is_multi_objective,
    method_spec,
)
from blackbox_repo.search_space import (
    Categorical,
    FiniteRange,
    Integer,
    LogUniform,
    Normal,
    Ordinal,
    QUniform,
    SearchSpace,
    Uniform,
)

REQUIRED = ["RS", "GRID", "BO", "TPE", "BORE", "REA", "ASHA", "ASHA-PROMOTION", "SH", "HB", "ASYNC-HB", "PASHA",
            "MSR", "BANDIT", "MEDIAN-STOPPING", "TRUNCATION", "ADAPTIVE-ASHA", "ASHA-BO", "ASHA-TPE", "HB-TPE",
            "KDE", "BOHB", "SYNC-BOHB", "ASHA-BORE", "DEHB", "PBT",
            "MOBSTER", "MOBSTER-PROMOTION", "MOBSTER-JOINT", "SYNC-MOBSTER", "HYPERTUNE", "DYHPO"]
# Other libraries' optimizers behind optional extras (tests/test_own_method.py, tests/test_conformance.py).
LIBRARY_METHODS = ["OPTUNA-TPE", "OPTUNA-CMAES", "OPTUNA-GP", "OPTUNA-NSGA2", "OPTUNA-MEDIAN", "OPTUNA-SH", "DEHB-REF"]
# Model-based searchers are slower per decision: fewer results in the property runs.
SLOW = {"BO", "BORE", "ASHA-BO", "ASHA-BORE", "MOBSTER", "MOBSTER-PROMOTION", "MOBSTER-JOINT", "SYNC-MOBSTER",
        "HYPERTUNE", "DYHPO"}
FIDELITIES = list(range(1, 10))
SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "n": Integer(1, 5), "c": Categorical(["a", "b", "c"])})


def build(name, space=SPACE, mode="min", seed=0, **kwargs):
    if name == "GRID" and any(not d.is_finite for d in space.values()):
        kwargs.setdefault("num_points", 3)
    if name == "PBT":  # its default interval (10) is longer than these runs (9 epochs)
        kwargs.setdefault("perturbation_interval", 2)
        kwargs.setdefault("population_size", 4)
    return make_method(name, space, "loss", mode, "epoch", 9, seed, fidelity_values=FIDELITIES, **kwargs)


# Multi-objective methods need several objectives; tests/test_multiobjective*.py cover them.
MULTI_OBJECTIVE = ["MOASHA", "MOBO-RANDOM", "MOBO-LINEAR", "MOREA", "NSGA2", "LINEAR-SCALARIZED"]
# Constrained methods need a constraint; tests/test_cbo.py covers them.
CONSTRAINED = ["CBO"]


# Transfer-learning methods need other tasks' evaluations; tests/test_transfer.py covers them.
TRANSFER = ["ZERO-SHOT", "BOUNDING-BOX", "ASHA-CTS", "RUSH"]


def test_every_required_method_is_registered():
    special = set(MULTI_OBJECTIVE) | set(CONSTRAINED) | set(TRANSFER)
    assert [m for m in list_methods() if m not in special] == REQUIRED + LIBRARY_METHODS
    assert [m for m in list_methods() if method_is_multi_objective(m)] == MULTI_OBJECTIVE
    assert [m for m in list_methods() if method_is_constrained(m)] == CONSTRAINED
    assert [m for m in list_methods() if method_spec(m).transfer_learning] == TRANSFER
    assert set(describe_methods()) == set(REQUIRED + LIBRARY_METHODS) | special


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError) as err:
        build("ASHA-PROMOTIN")
    assert "did you mean 'ASHA-PROMOTION'" in str(err.value)
    assert "RS" in str(err.value) and "ADAPTIVE-ASHA" in str(err.value)


def test_unknown_kwargs_are_rejected_naming_the_valid_ones():
    with pytest.raises(ValueError) as err:
        build("ASHA", grace=2)
    message = str(err.value)
    assert "['grace']" in message and "grace_period" in message and "reduction_factor" in message


def test_kwargs_reach_the_scheduler_and_the_searcher():
    asha = build("ASHA", grace_period=1, reduction_factor=2)
    assert isinstance(asha, ASHA) and asha.levels == [1, 2, 4, 8]
    assert asha.variant == "stopping" and asha.num_brackets == 1
    promotion = build("ASHA-PROMOTION")
    assert promotion.variant == "promotion"
    hyperband = build("ASYNC-HB")
    assert hyperband.num_brackets == 3  # rungs 1, 3 below 9, plus the bracket straight to 9
    points = [{"x": 0.5, "n": 2, "c": "b"}]
    rs = build("RS", points_to_evaluate=points)
    assert rs.suggest(0).config == points[0]
    bandit = build("BANDIT", slack_amount=0.3, delay_evaluation=2)
    assert bandit.policy.slack_amount == 0.3 and bandit.policy.slack_factor is None
    assert build("BANDIT").policy.slack_factor == 0.1
    assert build("TRUNCATION").policy.truncation_percentage == 20
    adaptive = build("ADAPTIVE-ASHA", max_trials=64, adaptive_mode="conservative")
    assert adaptive.layout.rungs == [2, 1]


def test_restrict_to_limits_the_configurations():
    table = [{"x": 0.1 * i, "n": 1 + i % 5, "c": "abc"[i % 3]} for i in range(6)]
    for name in ("RS", "ASHA", "TPE", "HB", "KDE", "BOHB", "SYNC-BOHB", "ASHA-BORE", "DEHB"):
        log = drive(build(name, restrict_to=table), FIDELITIES, n_workers=2, max_results=200)
        keys = {tuple(c.values()) for c in log.configs.values()}
        assert keys <= {tuple(c.values()) for c in table}, name


# ---------------------------------------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------------------------------------

DOMAINS = st.sampled_from([
    lambda: Uniform(-1.0, 2.0),
    lambda: LogUniform(1e-4, 1e-1),
    lambda: Integer(0, 7),
    lambda: Integer(1, 1000, log=True),
    lambda: Categorical(["relu", "tanh", "gelu"]),
    lambda: Ordinal([16, 32, 64]),
    lambda: FiniteRange(0.1, 0.9, 5),
    lambda: QUniform(0.0, 10.0, 0.5),
    lambda: Normal(0.0, 1.0),
])


@st.composite
def spaces(draw):
    makers = draw(st.lists(DOMAINS, min_size=1, max_size=3))
    return SearchSpace({f"h{i}": make() for i, make in enumerate(makers)})


def _run(name, space, seed, n_workers, mode="min", flip=False, **kwargs):
    scheduler = build(name, space, mode=mode, seed=seed, **kwargs)
    base = synthetic_objective(scheduler)
    objective = (lambda c, f: -base(c, f)) if flip else base
    max_results = 40 if name in SLOW else 120
    return drive(scheduler, FIDELITIES, n_workers=n_workers, max_results=max_results, objective=objective)


@pytest.mark.parametrize("name", REQUIRED)
@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces(), seed=st.integers(0, 10_000), n_workers=st.integers(1, 4))
def test_methods_stay_in_the_space_and_are_deterministic(name, space, seed, n_workers):
    first = _run(name, space, seed, n_workers)  # the driver asserts every configuration is in the space
    second = _run(name, space, seed, n_workers)
    assert first.events == second.events
    assert first.configs  # every method starts trials


@pytest.mark.parametrize("name", REQUIRED)
def test_mode_max_on_negated_metric_decides_like_mode_min(name):
    # BanditPolicy's slack_factor is a ratio of the raw metric (HyperDrive's rule): negating the metric changes
    # the cutoff from B * 1.1 to B / 1.1, so the symmetry is checked with the additive slack_amount.
    kwargs = {"slack_amount": 0.05} if name == "BANDIT" else {}
    minimise = _run(name, SPACE, seed=7, n_workers=3, mode="min", **kwargs)
    maximise = _run(name, SPACE, seed=7, n_workers=3, mode="max", flip=True, **kwargs)
    assert [e[:2] + e[3:] if e[0] == "result" else e for e in minimise.events] == \
        [e[:2] + e[3:] if e[0] == "result" else e for e in maximise.events]
