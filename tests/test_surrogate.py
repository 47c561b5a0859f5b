"""Surrogate interpolators over tabulated blackboxes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsRegressor

from blackbox_repo.blackbox import BlackboxLookupError, BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import (
    Categorical,
    FiniteRange,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
)
from blackbox_repo.surrogate import (
    FeatureEncoder,
    SurrogateBlackbox,
    forward_fill_fidelities,
    make_estimator,
    restrict_to_table,
)

SPACE = SearchSpace({
    "x": Uniform(0.0, 1.0),
    "lr": LogUniform(1e-4, 1e-1),
    "n": Integer(1, 8),
    "kind": Categorical(["a", "b", "c"]),
})
FIDELITIES = np.array([1, 2, 4, 8, 16])


def make_table(num_configs: int = 40, num_seeds: int = 2, seed: int = 0, nan: bool = False) -> TabularBlackbox:
    rng = np.random.default_rng(seed)
    configs = SPACE.sample_many(rng, num_configs)
    frame = pd.DataFrame(configs, columns=SPACE.names)
    base = rng.uniform(0.5, 1.0, size=(num_configs, num_seeds, 1))
    loss = base / np.sqrt(FIDELITIES)[None, None, :]  # (N, S, F), decreasing with the fidelity
    step_time = rng.uniform(1.0, 2.0, size=(num_configs, num_seeds, 1)) * np.diff(np.r_[0, FIDELITIES])
    time = np.cumsum(step_time, axis=2)
    objectives = np.stack([loss, time], axis=-1).astype(np.float32)
    if nan:
        objectives[3, 0, 3:, :] = np.nan  # a run that stopped after fidelity 4: imputed from fidelity 4
        objectives[5, :, 0, 0] = np.nan  # no value at the first fidelity: this config is dropped
    metadata = BlackboxMetadata(name="toy", default_metric="loss", mode="min", time_objective="time",
                                time_is_cumulative=True)
    return TabularBlackbox(frame, objectives, SPACE, ["loss", "time"], metadata, "budget", FIDELITIES, task="t0")


@pytest.fixture()
def cache_dir(tmp_path):
    return tmp_path / "surrogates"


def test_1nn_returns_exact_table_values(cache_dir):
    table = make_table(num_seeds=1)
    surrogate = SurrogateBlackbox(table, cache_dir=cache_dir)
    configs = table.all_configurations()
    np.testing.assert_array_equal(surrogate.evaluate_batch(configs), table.evaluate_batch(configs))
    np.testing.assert_array_equal(surrogate.evaluate(configs[7], fidelity=8), table.evaluate(configs[7], fidelity=8))
    assert surrogate.num_seeds == 1 and surrogate.objectives_names == ["loss", "time"]
    # Pooled seeds (default): the seed mean of the table.
    table2 = make_table(num_seeds=2)
    pooled = SurrogateBlackbox(table2, cache_dir=cache_dir)
    mean = np.asarray(table2.objectives, dtype=np.float64).mean(axis=1)
    np.testing.assert_allclose(pooled.evaluate_batch(table2.all_configurations()), mean, rtol=1e-12)
    # Fidelity as an input feature: still exact at table points.
    flat = SurrogateBlackbox(table, predict_curves=False, cache_dir=cache_dir)
    np.testing.assert_array_equal(flat.evaluate_batch(configs), table.evaluate_batch(configs))
    np.testing.assert_array_equal(flat.evaluate(configs[2], fidelity=4), table.evaluate(configs[2], fidelity=4))


def test_off_table_configurations_get_the_nearest_in_encoded_space(cache_dir):
    table = make_table(num_seeds=1)
    surrogate = SurrogateBlackbox(table, cache_dir=cache_dir)
    config = dict(table.all_configurations()[11])
    config["lr"] = config["lr"] * 1.001  # a tiny step on the log scale: same neighbour
    np.testing.assert_array_equal(surrogate.evaluate(config), table.evaluate(table.all_configurations()[11]))


def test_fidelities_between_table_points_are_interpolated_linearly(cache_dir):
    table = make_table(num_seeds=1)
    config = table.all_configurations()[4]
    for predict_curves in (True, False):
        surrogate = SurrogateBlackbox(table, predict_curves=predict_curves, cache_dir=cache_dir)
        at4, at8 = table.evaluate(config, fidelity=4), table.evaluate(config, fidelity=8)
        np.testing.assert_allclose(surrogate.evaluate(config, fidelity=5), 0.75 * at4 + 0.25 * at8, rtol=1e-12)
        at16 = table.evaluate(config, fidelity=16)
        np.testing.assert_allclose(surrogate.evaluate(config, fidelity=12.0), 0.5 * at8 + 0.5 * at16, rtol=1e-12)
        with pytest.raises(BlackboxLookupError, match=r"outside the table's range \[1, 16\]"):
            surrogate.evaluate(config, fidelity=20)


def test_fit_differences_keep_predicted_time_monotone(cache_dir):
    table = make_table(num_seeds=1)
    rng = np.random.default_rng(1)
    configs = SPACE.sample_many(rng, 200)
    forest = make_estimator("random_forest", seed=0, n_estimators=10)
    plain = SurrogateBlackbox(table, forest, cache_dir=cache_dir)
    diffed = SurrogateBlackbox(table, forest, fit_differences=["time"], cache_dir=cache_dir)
    time_plain = plain.evaluate_batch(configs)[..., 1]
    time_diffed = diffed.evaluate_batch(configs)[..., 1]
    assert (np.diff(time_diffed, axis=1) >= 0).all()
    assert time_plain.shape == time_diffed.shape == (200, 5)
    # 1-NN on differences gives the table's cumulative times back (up to summation rounding).
    knn = SurrogateBlackbox(table, fit_differences=["time"], cache_dir=cache_dir)
    configs_t = table.all_configurations()
    np.testing.assert_allclose(knn.evaluate_batch(configs_t), table.evaluate_batch(configs_t), rtol=1e-6)
    flat = SurrogateBlackbox(table, predict_curves=False, fit_differences=["time"], cache_dir=cache_dir)
    np.testing.assert_allclose(flat.evaluate(configs_t[3], fidelity=8), table.evaluate(configs_t[3], fidelity=8),
                               rtol=1e-6)
    # Differences are clipped at zero: a decreasing table time becomes flat, never decreasing.
    objectives = np.array(table.objectives)
    objectives[:, :, 2, 1] = objectives[:, :, 1, 1] - 0.5
    clipped = SurrogateBlackbox(table.with_objectives(objectives), fit_differences=["time"], cache=False)
    t = clipped.evaluate(configs_t[0])[:, 1]
    assert (np.diff(t) >= 0).all() and t[2] == pytest.approx(t[1])
    with pytest.raises(KeyError, match="did you mean 'time'"):
        SurrogateBlackbox(table, fit_differences=["tme"], cache=False)


def test_separate_seeds_one_model_per_seed(cache_dir):
    table = make_table(num_seeds=3)
    surrogate = SurrogateBlackbox(table, separate_seeds=True, cache_dir=cache_dir)
    assert surrogate.num_seeds == 3 and len(surrogate.estimators) == 3
    configs = table.all_configurations()[:6]
    for s in range(3):
        np.testing.assert_array_equal(surrogate.evaluate_batch(configs, seed=s), table.evaluate_batch(configs, seed=s))
    everything = surrogate.evaluate_batch(configs, seed=None)
    assert everything.shape == (6, 3, 5, 2)
    np.testing.assert_array_equal(everything, table.evaluate_batch(configs, seed=None))
    np.testing.assert_array_equal(surrogate.evaluate(configs[0], fidelity=2, seed=None),
                                  table.evaluate(configs[0], fidelity=2, seed=None))
    with pytest.raises(BlackboxLookupError, match="valid seeds are 0..2"):
        surrogate.evaluate(configs[0], seed=3)
    with pytest.raises(BlackboxLookupError, match="valid seeds are 0..0"):
        SurrogateBlackbox(table, cache_dir=cache_dir).evaluate(configs[0], seed=1)


def test_missing_values_imputed_from_previous_fidelity_or_dropped(cache_dir):
    arr = np.array([[np.nan, 1.0, np.nan, np.nan, 4.0]])
    np.testing.assert_array_equal(forward_fill_fidelities(arr, axis=1), [[np.nan, 1.0, 1.0, 1.0, 4.0]])
    table = make_table(num_seeds=2, nan=True)
    separate = SurrogateBlackbox(table, separate_seeds=True, cache_dir=cache_dir)
    (x0, _), (x1, _) = separate.training_data()
    assert len(x0) == len(x1) == 39  # config 5 has no first value in either seed
    configs = table.all_configurations()
    curve = separate.evaluate(configs[3], seed=0)
    np.testing.assert_array_equal(curve[3:], np.repeat(table.evaluate(configs[3], fidelity=4)[None], 2, axis=0))
    assert np.isfinite(separate.evaluate(configs[5], seed=0)).all()  # answered by a neighbour
    pooled = SurrogateBlackbox(table, cache_dir=cache_dir)
    (xp, _), = pooled.training_data()
    assert len(xp) == 39
    expected = np.nanmean(forward_fill_fidelities(table.objectives)[3], axis=0)  # imputed seed 0, real seed 1
    np.testing.assert_allclose(pooled.evaluate(configs[3]), expected, rtol=1e-12)
    flat = SurrogateBlackbox(table, predict_curves=False, separate_seeds=True, cache_dir=cache_dir)
    (xf, _), _ = flat.training_data()
    assert len(xf) == 40 * 5 - 1  # only the (config 5, fidelity 1) row is dropped


def test_cache_is_used_the_second_time(cache_dir):
    CountingKNN.fits = 0
    table = make_table()
    first = SurrogateBlackbox(table, CountingKNN(n_neighbors=1), cache_dir=cache_dir)
    assert CountingKNN.fits == 1 and not first.loaded_from_cache and first.cache_path.is_file()
    second = SurrogateBlackbox(table, CountingKNN(n_neighbors=1), cache_dir=cache_dir)
    assert CountingKNN.fits == 1 and second.loaded_from_cache and second.cache_path == first.cache_path
    configs = table.all_configurations()[:5]
    np.testing.assert_array_equal(second.evaluate_batch(configs), first.evaluate_batch(configs))
    # Anything that changes the fit changes the key: other data, other arguments, other model parameters.
    objectives = np.array(table.objectives)
    objectives[0, 0, 0, 0] += 1.0
    SurrogateBlackbox(table.with_objectives(objectives), CountingKNN(n_neighbors=1), cache_dir=cache_dir)
    SurrogateBlackbox(table, CountingKNN(n_neighbors=1), max_fit_samples=10, cache_dir=cache_dir)
    SurrogateBlackbox(table, CountingKNN(n_neighbors=2), cache_dir=cache_dir)
    assert CountingKNN.fits == 4
    # A corrupt cache file is refitted and replaced.
    first.cache_path.write_bytes(b"not a joblib file")
    again = SurrogateBlackbox(table, CountingKNN(n_neighbors=1), cache_dir=cache_dir)
    assert CountingKNN.fits == 5 and not again.loaded_from_cache
    assert SurrogateBlackbox(table, CountingKNN(n_neighbors=1), cache_dir=cache_dir).loaded_from_cache
    SurrogateBlackbox(table, CountingKNN(n_neighbors=1), cache=False)
    assert CountingKNN.fits == 6
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_ARENA_CACHE", str(tmp_path / "env-cache"))
    surrogate = SurrogateBlackbox(make_table())
    assert surrogate.cache_path.parent == tmp_path / "env-cache" / "surrogates"


def test_max_fit_samples_is_seeded(cache_dir):
    table = make_table()
    a = SurrogateBlackbox(table, max_fit_samples=12, seed=3, cache=False).training_data()[0][0]
    b = SurrogateBlackbox(table, max_fit_samples=12, seed=3, cache=False).training_data()[0][0]
    c = SurrogateBlackbox(table, max_fit_samples=12, seed=4, cache=False).training_data()[0][0]
    assert a.shape == (12, 6) and np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="max_fit_samples"):
        SurrogateBlackbox(table, max_fit_samples=0)


def test_restrict_to_table(cache_dir):
    table = make_table()
    surrogate = SurrogateBlackbox(table, cache_dir=cache_dir)
    rows = restrict_to_table(surrogate)
    assert rows == surrogate.restrict_to_table() == table.all_configurations()
    assert len(rows) == 40 and set(rows[0]) == set(SPACE.names)
    assert all(type(r["n"]) is int and type(r["x"]) is float for r in rows)
    with pytest.raises(TypeError, match="holds no table"):
        restrict_to_table(object())  # type: ignore[arg-type]


def test_features_use_the_domains_unit_encoding():
    space = SearchSpace({"u": Uniform(-1, 3), "lg": LogUniform(1e-3, 10.0), "i": Integer(1, 9),
                         "il": Integer(2, 512, log=True), "o": Ordinal([1, 5, 10]),
                         "fr": FiniteRange(0.1, 1.0, 4, log=True), "c": Categorical(["x", "y"])})
    encoder = FeatureEncoder(space)
    assert encoder.columns == ["u", "lg", "i", "il", "o", "fr", "c=x", "c=y"]
    configs = space.sample_many(np.random.default_rng(0), 30)
    features = encoder.transform(configs)
    for row, config in zip(features, configs):
        expected = [space[n].encode(config[n]) for n in ("u", "lg", "i", "il", "o", "fr")]
        np.testing.assert_allclose(row[:6], expected, rtol=1e-12, atol=1e-15)
        assert row[6:].tolist() == ([1.0, 0.0] if config["c"] == "x" else [0.0, 1.0])
    with pytest.raises(KeyError, match="did you mean 'x'"):
        encoder.transform([{**configs[0], "c": "xx"}])
    with pytest.raises(KeyError, match="lack hyperparameters"):
        encoder.transform([{"u": 0.0}])


@pytest.mark.parametrize("model, kwargs", [
    ("random_forest", {"n_estimators": 5}),
    ("mlp", {"hidden_layer_sizes": (16,), "max_iter": 30, "early_stopping": False}),
    ("xgboost", {"n_estimators": 5}),
])
def test_named_models_fit_and_predict(model, kwargs, cache_dir):
    table = make_table(num_configs=30, num_seeds=1)
    configs = SPACE.sample_many(np.random.default_rng(2), 7)
    for predict_curves in (True, False):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a 30-iteration MLP does not converge, on purpose
            surrogate = SurrogateBlackbox(table, model, model_kwargs=kwargs, predict_curves=predict_curves,
                                          cache_dir=cache_dir)
        out = surrogate.evaluate_batch(configs)
        assert out.shape == (7, 5, 2) and np.isfinite(out).all()
        again = SurrogateBlackbox(table, model, model_kwargs=kwargs, predict_curves=predict_curves,
                                  cache_dir=cache_dir)
        assert again.loaded_from_cache
        np.testing.assert_array_equal(again.evaluate_batch(configs), out)


def test_bad_arguments():
    table = make_table()
    with pytest.raises(ValueError, match="did you mean 'random_forest'"):
        SurrogateBlackbox(table, "random_forrest")
    with pytest.raises(TypeError, match="estimator with fit/predict"):
        SurrogateBlackbox(table, 3)
    with pytest.raises(ValueError, match="model_kwargs apply to a named model"):
        SurrogateBlackbox(table, KNeighborsRegressor(), model_kwargs={"n_neighbors": 2})
    with pytest.raises(TypeError, match="TabularBlackbox"):
        SurrogateBlackbox(SurrogateBlackbox(table, cache=False), cache=False)  # type: ignore[arg-type]


class CountingKNN(KNeighborsRegressor):
    """A 1-NN regressor that counts its fits (module level, so joblib can pickle it)."""

    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        return super().fit(X, y)
