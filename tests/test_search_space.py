"""Search spaces: membership, encoding round trips, HyperDrive and Determined semantics, JSON, grids."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blackbox_repo import determined, hyperdrive
from blackbox_repo.search_space import (
    Categorical,
    Constant,
    FiniteRange,
    Integer,
    LogNormal,
    LogUniform,
    Normal,
    Ordinal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    SearchSpace,
    Uniform,
    domain_from_dict,
)

DOMAINS = [
    Categorical(["relu", "tanh", 3, 0.5, True]),
    Ordinal([8, 16, 32, 64]),
    FiniteRange(0.0, 0.6, 3),
    FiniteRange(8, 64, 4, log=True, cast_int=True),
    FiniteRange(1e-4, 1e-1, 7, log=True),
    Integer(0, 9),
    Integer(16, 512, log=True),
    Integer(5, 5),
    Constant("sgd"),
    Uniform(-2.0, 3.0),
    LogUniform(1e-5, 1e2),
    QUniform(0.0, 10.0, 0.5),
    QUniform(0.0, 1.0, 0.1),
    QLogUniform(1.0, 1000.0, 5.0),
    Normal(1.0, 2.0),
    LogNormal(0.0, 1.0),
    QNormal(0.0, 5.0, 2.0),
    QLogNormal(1.0, 1.0, 0.5),
]
QUANTISED = [d for d in DOMAINS if hasattr(d, "q")]


@pytest.mark.parametrize("domain", DOMAINS, ids=repr)
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_samples_are_members_and_round_trip(domain, seed):
    rng = np.random.default_rng(seed)
    value = domain.sample(rng)
    assert domain.contains(value), value
    assert not isinstance(value, np.generic)
    u = domain.encode(value)
    assert 0.0 <= u <= 1.0
    back = domain.decode(u)
    assert domain.contains(back)
    if isinstance(value, float):
        assert back == pytest.approx(value, rel=1e-9, abs=1e-12)
    else:
        assert back == value


@pytest.mark.parametrize("domain", DOMAINS, ids=repr)
@settings(max_examples=40, deadline=None)
@given(u=st.floats(0.0, 1.0))
def test_decode_of_any_unit_point_is_a_member(domain, u):
    assert domain.contains(domain.decode(u))


@pytest.mark.parametrize("domain", QUANTISED, ids=repr)
@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_quantised_domains_only_yield_multiples_of_q(domain, seed):
    values = domain.sample(np.random.default_rng(seed), size=200)
    ratios = np.asarray(values) / domain.q
    np.testing.assert_allclose(ratios, np.round(ratios), atol=1e-9)


def test_vectorised_samples_are_members():
    rng = np.random.default_rng(0)
    for domain in DOMAINS:
        values = domain.sample(rng, size=500)
        assert len(values) == 500
        assert all(domain.contains(v) for v in np.asarray(values, dtype=object).tolist()), domain


def test_hyperdrive_loguniform_is_exp_of_uniform():
    dom = hyperdrive.loguniform(math.log(1e-4), math.log(1e-1))
    values = np.asarray(dom.sample(np.random.default_rng(0), size=20000))
    assert values.min() >= 1e-4 * (1 - 1e-12) and values.max() <= 1e-1 * (1 + 1e-12)
    # exp(uniform): log-values are uniform, so each decade holds a third of the mass
    counts = np.histogram(np.log10(values), bins=[-4, -3, -2, -1])[0] / values.size
    np.testing.assert_allclose(counts, [1 / 3] * 3, atol=0.02)
    # the same stream: exp of the underlying uniform draw
    expected = np.exp(np.random.default_rng(5).uniform(math.log(1e-4), math.log(1e-1), size=10))
    np.testing.assert_allclose(dom.sample(np.random.default_rng(5), size=10), expected, rtol=1e-15)


def test_hyperdrive_randint_is_half_open():
    dom = hyperdrive.randint(3)
    values = set(np.asarray(dom.sample(np.random.default_rng(1), size=1000)).tolist())
    assert values == {0, 1, 2}
    assert not dom.contains(3) and dom.contains(0)


def test_hyperdrive_quantised_expressions_round_half_to_even():
    # round(value / q) * q with numpy rounding: uniform draws -> hand-computed quantised values
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    raw = rng_a.uniform(0, 10, size=50)
    np.testing.assert_array_equal(hyperdrive.quniform(0, 10, 2).sample(rng_b, size=50), np.round(raw / 2) * 2)
    # decode(0.5) is 5.0; 5 / 2 = 2.5 rounds half to even to 2, times q = 4
    assert QUniform(0, 10, 2).decode(0.5) == 4.0
    # qloguniform(min, max, q) = round(exp(uniform(min, max)) / q) * q, bounds in log space
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    raw = np.exp(rng_a.uniform(0.0, math.log(100.0), size=50))
    np.testing.assert_allclose(hyperdrive.qloguniform(0.0, math.log(100.0), 5).sample(rng_b, size=50),
                               np.round(raw / 5) * 5)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    raw = rng_a.normal(1.0, 3.0, size=50)
    np.testing.assert_array_equal(hyperdrive.qnormal(1.0, 3.0, 0.5).sample(rng_b, size=50), np.round(raw / 0.5) * 0.5)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    np.testing.assert_array_equal(hyperdrive.lognormal(0.5, 0.2).sample(rng_b, size=50),
                                  np.exp(rng_a.normal(0.5, 0.2, size=50)))


def test_hyperdrive_space_strips_script_argument_prefix():
    space = hyperdrive.search_space({"--lr": ("loguniform", -6, -1), "--batch": hyperdrive.choice(16, 32)})
    assert space.names == ["lr", "batch"]
    with pytest.raises(ValueError, match="unknown HyperDrive expression 'unifrom'"):
        hyperdrive.search_space({"x": ("unifrom", 0, 1)})


def test_determined_hyperparameters():
    space = determined.search_space_from_determined({
        "global_batch_size": 64,
        "lr": {"type": "log", "minval": -4, "maxval": -1, "base": 10},
        "layers": {"type": "int", "minval": 1, "maxval": 4},
        "dropout": {"type": "double", "minval": 0.0, "maxval": 0.5},
        "act": {"type": "categorical", "vals": ["relu", "gelu"]},
        "opt": {"momentum": {"type": "const", "val": 0.9}},
    })
    assert space.names == ["global_batch_size", "lr", "layers", "dropout", "act", "opt.momentum"]
    assert space["lr"] == LogUniform(1e-4, 1e-1)
    assert space["layers"].values() == [1, 2, 3, 4]  # Determined's int bounds are inclusive
    assert space["global_batch_size"] == Constant(64)
    assert space.tunable_names == ["lr", "layers", "dropout", "act"]
    with pytest.raises(ValueError, match="missing keys \\['maxval'\\]"):
        determined.search_space_from_determined({"x": {"type": "int", "minval": 1}})
    with pytest.raises(ValueError, match="unknown Determined type 'float'"):
        determined.search_space_from_determined({"x": {"type": "float", "minval": 1, "maxval": 2}})


def test_finite_ranges_hold_exact_upstream_values():
    assert FiniteRange(8, 64, 4, log=True, cast_int=True).values() == [8, 16, 32, 64]
    assert FiniteRange(16, 512, 6, log=True, cast_int=True).values() == [16, 32, 64, 128, 256, 512]
    assert FiniteRange(0.0, 0.6, 3).values() == [0.0, 0.3, 0.6]


def test_space_json_round_trip_and_encoding():
    space = SearchSpace({f"p{i}": d for i, d in enumerate(DOMAINS)})
    again = SearchSpace.from_json(space.to_json())
    assert again == space
    rng = np.random.default_rng(11)
    for _ in range(50):
        config = space.sample(rng)
        assert space.contains(config)
        u = space.encode(config)
        assert u.shape == (len(space.tunable_names),)
        back = space.decode(u)
        assert space.contains(back)
        for name, value in config.items():
            if isinstance(value, float):
                assert back[name] == pytest.approx(value, rel=1e-9, abs=1e-12)
            else:
                assert back[name] == value


def test_sample_many_matches_domains():
    space = SearchSpace({"a": Integer(1, 3), "b": Categorical(["x", "y"]), "c": Uniform(0, 1)})
    configs = space.sample_many(np.random.default_rng(0), 100)
    assert len(configs) == 100 and all(space.contains(c) for c in configs)
    assert all(type(c["a"]) is int and type(c["c"]) is float for c in configs)


def test_grid_over_finite_space():
    space = SearchSpace({"a": Categorical(["x", "y"]), "b": Integer(0, 2), "c": Constant(1.5)})
    grid = list(space.grid())
    assert space.grid_size() == 6 == len(grid)
    assert grid[0] == {"a": "x", "b": 0, "c": 1.5} and grid[-1] == {"a": "y", "b": 2, "c": 1.5}
    assert len({tuple(g.values()) for g in grid}) == 6
    continuous = SearchSpace({"lr": LogUniform(1e-3, 1e-1)})
    with pytest.raises(ValueError, match="continuous: pass a number of grid points"):
        list(continuous.grid())
    points = [g["lr"] for g in continuous.grid(num_points=3)]
    assert points == pytest.approx([1e-3, 1e-2, 1e-1], rel=1e-5)


def test_violations_name_the_problem():
    space = SearchSpace({"a": Integer(1, 3), "b": Categorical(["x", "y"])})
    problems = space.violations({"a": 7, "c": 1})
    assert any("missing hyperparameters ['b']" in p for p in problems)
    assert any("unknown hyperparameters ['c']" in p for p in problems)
    assert any("a=7 is not in Integer" in p for p in problems)
    with pytest.raises(ValueError, match="invalid configuration"):
        space.check({"a": 7, "b": "x"})
    with pytest.raises(KeyError, match="did you mean 'a'"):
        space["aa"]


@pytest.mark.parametrize("bad", [
    {"type": "uniform", "lower": 2, "upper": 1},
    {"type": "loguniform", "lower": 0, "upper": 1},
    {"type": "quniform", "lower": 0, "upper": 1, "q": 0},
    {"type": "categorical", "values": []},
    {"type": "gaussian", "mu": 0},
    {"type": "normal", "mu": 0, "sigma": 1, "extra": 2},
])
def test_malformed_domains_are_refused(bad):
    with pytest.raises(ValueError):
        domain_from_dict(bad)


def test_unit_encoding_of_unbounded_domains_goes_through_the_cdf():
    dom = Normal(2.0, 0.5)
    assert dom.encode(2.0) == pytest.approx(0.5)
    assert dom.encode(2.0 + 0.5 * 1.959963984540054) == pytest.approx(0.975)
    assert LogNormal(0.0, 1.0).encode(1.0) == pytest.approx(0.5)
