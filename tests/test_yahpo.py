"""YAHPO surrogates: config-space reading, encoding, exactness against hand-built onnxruntime calls,
sanity values of FORMATS §1.4, synthetic scenario folders, and the repository converter."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from blackbox_repo.search_space import Categorical, Integer, LogUniform, Uniform
from blackbox_repo.yahpo import (
    SCENARIOS,
    YahpoBlackbox,
    YahpoInputError,
    YahpoModel,
    YahpoScenario,
    convert_yahpo,
    load_scenario,
    parse_config_space,
)
from blackbox_repo.yahpo.config_space import AndConjunction, EqualsCondition, InCondition
from blackbox_repo.yahpo.surrogate import _SESSIONS

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "yahpo"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real YAHPO data folder {DATA} is absent")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

LCBENCH_CONFIG = {"batch_size": 64, "learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.001,
                  "num_layers": 3, "max_units": 256, "max_dropout": 0.2}


def _session(model_path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------------------
# Scenario metadata
# ---------------------------------------------------------------------------------------------------------


def test_all_fourteen_scenarios_with_input_widths_of_formats_table():
    widths = {  # (x_cat, x_cont, outputs) from FORMATS §1.4
        "lcbench": (1, 8, 6), "nb301": (34, 1, 2), "rbv2_svm": (3, 6, 9), "rbv2_ranger": (4, 7, 9),
        "rbv2_rpart": (2, 6, 9), "rbv2_glmnet": (2, 4, 9), "rbv2_xgboost": (3, 14, 9), "rbv2_aknn": (3, 6, 9),
        "rbv2_super": (8, 33, 9), "iaml_ranger": (4, 6, 12), "iaml_rpart": (1, 5, 12), "iaml_glmnet": (1, 3, 12),
        "iaml_xgboost": (2, 13, 12), "iaml_super": (6, 24, 12),
    }
    assert set(SCENARIOS) == set(widths)
    for name, (n_cat, n_cont, n_y) in widths.items():
        sc = SCENARIOS[name]
        assert (len(sc.cat_names), len(sc.cont_names), len(sc.y_names)) == (n_cat, n_cont, n_y), name
        assert YahpoScenario.from_dict(json.loads(json.dumps(sc.to_dict()))) == sc
    assert SCENARIOS["lcbench"].time_is_cumulative and SCENARIOS["lcbench"].runtime_name == "time"
    for name in ("rbv2_rpart", "iaml_glmnet"):
        assert not SCENARIOS[name].time_is_cumulative and SCENARIOS[name].runtime_name == "timetrain"
    assert SCENARIOS["rbv2_svm"].objective_modes["f1"] == "max"  # upstream marks it minimised (a slip)
    assert SCENARIOS["rbv2_svm"].constant_params == {"repl": 10}
    assert SCENARIOS["iaml_glmnet"].fidelity_values == (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)


# ---------------------------------------------------------------------------------------------------------
# ConfigSpace JSON
# ---------------------------------------------------------------------------------------------------------

TOY_SPACE = {
    "hyperparameters": [
        {"name": "degree", "type": "uniform_int", "log": False, "lower": 2, "upper": 5, "default": 3},
        {"name": "epoch", "type": "uniform_int", "log": False, "lower": 1, "upper": 10, "default": 5},
        {"name": "gamma", "type": "uniform_float", "log": True, "lower": 0.00010000000000000009,
         "upper": 999.9999999999998, "default": 1.0},
        {"name": "kernel", "type": "categorical", "choices": ["linear", "poly", "radial"], "default": "linear",
         "probabilities": None},
        {"name": "shrink", "type": "categorical", "choices": ["no", "yes"], "default": "no", "probabilities": None},
        {"name": "task", "type": "categorical", "choices": ["7", "12"], "default": "7", "probabilities": None},
        {"name": "tol", "type": "uniform_float", "log": False, "lower": 0.0, "upper": 1.0, "default": 0.5},
    ],
    "conditions": [
        {"child": "degree", "parent": "kernel", "type": "IN", "values": ["poly"]},
        {"child": "gamma", "parent": "kernel", "type": "EQ", "value": "radial"},
        {"child": "tol", "type": "AND", "conditions": [
            {"child": "tol", "parent": "kernel", "type": "IN", "values": ["poly", "radial"]},
            {"child": "tol", "parent": "shrink", "type": "EQ", "value": "yes"}]},
    ],
    "forbiddens": [], "python_module_version": "0.4.19", "json_format_version": 0.2,
}


def test_config_space_json_domains_and_conditions():
    space = parse_config_space(TOY_SPACE)
    assert space["degree"] == Integer(2, 5)
    assert space["gamma"] == LogUniform(1e-4, 1000.0)  # float noise of the bounds removed
    assert space["kernel"] == Categorical(["linear", "poly", "radial"])
    assert space["tol"] == Uniform(0.0, 1.0)
    assert isinstance(space.conditions[2], AndConjunction)
    assert space.conditions[0] == InCondition("degree", "kernel", ("poly",))
    assert space.conditions[1] == EqualsCondition("gamma", "kernel", "radial")
    base = {"task": "7", "epoch": 1, "shrink": "yes", "degree": 3, "gamma": 0.1, "tol": 0.2}
    assert space.active_names({**base, "kernel": "linear"}) == ["epoch", "kernel", "shrink", "task"]
    assert space.active_names({**base, "kernel": "poly"}) == ["degree", "epoch", "kernel", "shrink", "task", "tol"]
    assert space.active_names({**base, "kernel": "radial", "shrink": "no"}) == \
        ["epoch", "gamma", "kernel", "shrink", "task"]
    # Vectorised activity agrees with the per-config rule.
    cols = {"kernel": np.array(["linear", "poly", "radial", "radial"], dtype=object),
            "shrink": np.array(["yes", "yes", "yes", "no"], dtype=object)}
    mask = space.active_mask(cols, 4)
    assert mask["degree"].tolist() == [False, True, False, False]
    assert mask["gamma"].tolist() == [False, False, True, True]
    assert mask["tol"].tolist() == [False, True, True, False]
    # Sampling and decoding never hand out inactive hyperparameters; violations only ask for active ones.
    rng = np.random.default_rng(3)
    for config in space.sample_many(rng, 50) + [space.decode(rng.uniform(size=len(space.tunable_names)))]:
        assert set(config) == set(space.active_names(config))
        assert space.violations(config) == []
    assert space.violations({"task": "7", "epoch": 2, "kernel": "radial", "shrink": "no"}) == \
        ["missing active hyperparameters ['gamma']"]
    assert space.encode({"task": "7", "epoch": 1, "kernel": "linear", "shrink": "no"})[0] == 0.0  # inactive degree
    # Fixing parameters removes them; conditions on free parents are kept.
    reduced = space.without({"task": "7", "epoch": 10})
    assert reduced.names == ["degree", "gamma", "kernel", "shrink", "tol"]
    assert reduced.conditions == space.conditions
    # A condition whose parents are all fixed is decided: dropped if it holds, its child removed if not.
    no_and = parse_config_space({**TOY_SPACE, "conditions": TOY_SPACE["conditions"][:2]})
    assert no_and.without({"kernel": "radial"}).names == ["epoch", "gamma", "shrink", "task", "tol"]
    assert no_and.without({"kernel": "radial"}).conditions == ()
    assert no_and.without({"kernel": "linear"}).names == ["epoch", "shrink", "task", "tol"]


def test_without_refuses_mixed_fixed_and_free_parents():
    space = parse_config_space(TOY_SPACE)
    with pytest.raises(ValueError, match="mixes fixed parents"):
        space.without({"kernel": "poly"})


def test_config_space_round_trip_and_errors():
    space = parse_config_space(TOY_SPACE)
    again = type(space).from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space and again.conditions == space.conditions
    with pytest.raises(ValueError, match="unsupported condition type 'GT'"):
        parse_config_space({**TOY_SPACE, "conditions": [{"child": "tol", "parent": "epoch", "type": "GT",
                                                         "value": 3}]})
    with pytest.raises(ValueError, match="forbidden"):
        parse_config_space({**TOY_SPACE, "forbiddens": [{"name": "kernel", "type": "EQUALS", "value": "poly"}]})
    with pytest.raises(ValueError, match="unsupported type 'normal_float'"):
        parse_config_space({"hyperparameters": [{"name": "x", "type": "normal_float", "mu": 0, "sigma": 1}]})


@needs_data
def test_real_config_spaces():
    lc = YahpoModel(DATA / "lcbench")
    space = lc.full_space
    assert space["batch_size"] == Integer(16, 512, log=True)
    assert space["learning_rate"] == LogUniform(1e-4, 0.1)
    assert space["max_units"] == Integer(64, 1024, log=True)
    assert space["num_layers"] == Integer(1, 5)
    assert space["epoch"] == Integer(1, 52)
    assert len(lc.instances) == 34 and "3945" in lc.instances and all(isinstance(t, str) for t in lc.instances)
    bb = YahpoBlackbox(lc, "3945")
    assert bb.configuration_space.names == ["batch_size", "learning_rate", "max_dropout", "max_units", "momentum",
                                            "num_layers", "weight_decay"]
    rp = YahpoModel(DATA / "rbv2_rpart")
    assert len(rp.instances) == 117
    rbb = YahpoBlackbox(rp, rp.instances[0])
    assert "repl" not in rbb.configuration_space and "trainsize" not in rbb.configuration_space
    assert rbb.configuration_space["num.impute.selected.cpo"] == \
        Categorical(["impute.mean", "impute.median", "impute.hist"])


# ---------------------------------------------------------------------------------------------------------
# Exactness on the real models
# ---------------------------------------------------------------------------------------------------------


@needs_data
def test_lcbench_sanity_values_of_formats():
    bb = load_scenario(DATA / "lcbench")["3945"]
    curve = bb.evaluate(LCBENCH_CONFIG)
    assert curve.shape == (52, 6) and bb.fidelity_values.tolist() == list(range(1, 53))
    expected = {  # FORMATS §1.4: time, val_acc, val_ce, val_bal_acc, test_ce, test_bal_acc
        1: (20.78, 40.41, 0.683, 0.471, 0.654, 0.472), 2: (17.61, 81.65, 0.560, 0.630, 0.540, 0.628),
        10: (49.14, 88.69, 0.491, 0.704, 0.467, 0.681), 50: (153.23, 90.55, 0.361, 0.717, 0.436, 0.690),
        52: (155.77, 90.65, 0.354, 0.718, 0.435, 0.690),
    }
    for epoch, values in expected.items():
        got = curve[epoch - 1]
        np.testing.assert_allclose(got[:2], values[:2], atol=0.0051)
        np.testing.assert_allclose(got[2:], values[2:], atol=6e-4)  # FORMATS shows 0.68946 as 0.690
        np.testing.assert_allclose(bb.evaluate(LCBENCH_CONFIG, fidelity=epoch), got, atol=3e-3)
    assert bb.metadata.time_objective == "time" and bb.metadata.time_is_cumulative
    assert bb.metadata.default_metric == "val_accuracy" and bb.metadata.mode == "max"


@needs_data
def test_lcbench_matches_hand_built_onnxruntime_call():
    folder = DATA / "lcbench"
    encoding = json.loads((folder / "encoding.json").read_text())
    session = _session(folder / "model.onnx")
    rng = np.random.default_rng(0)
    bb = load_scenario(folder)["189906"]
    configs = [bb.configuration_space.sample(rng) for _ in range(4)]
    cont_order = ["batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout"]
    for config in configs:
        # Whole curve: one run of 52 rows, epoch first, then the hyperparameters in yahpo_gym's cont_names order.
        x_cat = np.full((52, 1), encoding["OpenML_task_id"]["189906"], dtype=np.int32)
        x_cont = np.array([[e] + [config[n] for n in cont_order] for e in range(1, 53)], dtype=np.float32)
        expected = session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
        np.testing.assert_array_equal(bb.evaluate(config), expected.astype(np.float64))
        # One fidelity: one run of one row (yahpo_gym's objective_function on a dict).
        one = session.run(None, {"x_cat": x_cat[:1], "x_cont": x_cont[29:30]})[0][0]
        np.testing.assert_array_equal(bb.evaluate(config, fidelity=30), one.astype(np.float64))
    # Batches are computed configuration by configuration: no dependence on the rest of the batch.
    batch = bb.evaluate_batch(configs)
    for i, config in enumerate(configs):
        np.testing.assert_array_equal(batch[i], bb.evaluate(config))
    single = bb.evaluate_batch(configs, fidelity=7)
    np.testing.assert_array_equal(single[2], bb.evaluate(configs[2], fidelity=7))
    assert bb.evaluate_batch(configs, seed=None).shape == (4, 1, 52, 6)
    consistent = YahpoBlackbox(bb.model, "189906", curve_consistent=True)
    np.testing.assert_array_equal(consistent.evaluate(configs[0], fidelity=7), batch[0, 6])


@needs_data
def test_iaml_glmnet_sanity_and_hand_built_call():
    folder = DATA / "iaml_glmnet"
    bb = load_scenario(folder)["40981"]
    got = [bb.objective({"alpha": 0.5, "s": 0.1}, fidelity=t)["timetrain"] for t in (0.05, 0.3, 1.0)]
    np.testing.assert_allclose(got, [0.246, 0.247, 0.213], atol=5e-4)
    assert bb.objective({"alpha": 0.5, "s": 0.1}, fidelity=1.0)["nf"] % 1 == 0  # integer target
    assert bb.fidelity_values.tolist() == [0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert bb.metadata.time_objective == "timetrain" and not bb.metadata.time_is_cumulative
    assert "not cumulative" in bb.metadata.extra["time_semantics"]
    encoding = json.loads((folder / "encoding.json").read_text())
    session = _session(folder / "model.onnx")
    x_cat = np.array([[encoding["task_id"]["40981"]]], dtype=np.int32)
    x_cont = np.array([[0.5, 0.1, 0.3]], dtype=np.float32)  # alpha, s, trainsize
    np.testing.assert_array_equal(bb.evaluate({"alpha": 0.5, "s": 0.1}, fidelity=0.3),
                                  session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0][0])


@needs_data
def test_rbv2_rpart_repl_and_categorical_encoding_match_hand_built_call():
    folder = DATA / "rbv2_rpart"
    encoding = json.loads((folder / "encoding.json").read_text())
    session = _session(folder / "model.onnx")
    config = {"cp": 0.01, "maxdepth": 10, "minbucket": 5, "minsplit": 20, "num.impute.selected.cpo": "impute.median"}
    model = YahpoModel(folder)
    default, five = YahpoBlackbox(model, "1040"), YahpoBlackbox(model, "1040", constants={"repl": 5})
    assert default.constants == {"repl": 10} and five.constants == {"repl": 5}
    for bb, repl in ((default, 10), (five, 5)):
        x_cat = np.array([[encoding["task_id"]["1040"], encoding["num.impute.selected.cpo"]["impute.median"]]],
                         dtype=np.int32)
        x_cont = np.array([[0.01, 10, 5, 20, 0.5, repl]], dtype=np.float32)
        np.testing.assert_array_equal(bb.evaluate(config, fidelity=0.5),
                                      session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0][0])
    assert not np.array_equal(default.evaluate(config, fidelity=0.5), five.evaluate(config, fidelity=0.5))
    assert default.fidelity_values.tolist() == [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    np.testing.assert_array_equal(default.evaluate(config, fidelity=0.37)[None],
                                  default.evaluate_batch([config], fidelity=0.37))  # any trainsize in range
    with pytest.raises(ValueError, match="repl"):
        YahpoBlackbox(model, "1040", constants={"repl": 11})


@needs_data
def test_errors_name_the_problem():
    bb = load_scenario(DATA / "rbv2_rpart")["1040"]
    config = {"cp": 0.01, "maxdepth": 10, "minbucket": 5, "minsplit": 20, "num.impute.selected.cpo": "impute.mean"}
    with pytest.raises(KeyError, match="did you mean 'minsplit'"):
        bb.evaluate({**config, "minsplt": 3})
    with pytest.raises(ValueError, match="impute.meen.*did you mean 'impute.mean'"):
        bb.evaluate({**config, "num.impute.selected.cpo": "impute.meen"})
    with pytest.raises(ValueError, match="maxdepth=31"):
        bb.evaluate({**config, "maxdepth": 31})
    assert np.isfinite(YahpoBlackbox(bb.model, "1040", check=False).evaluate({**config, "maxdepth": 31})).all()
    with pytest.raises(ValueError, match="lacks the active hyperparameter 'cp'"):
        bb.evaluate({k: v for k, v in config.items() if k != "cp"})
    with pytest.raises(KeyError, match=r"must be a number in \[0.03, 1\]"):
        bb.evaluate(config, fidelity=1.5)
    with pytest.raises(ValueError, match="pass it as"):
        bb.evaluate({**config, "trainsize": 0.5})
    with pytest.raises(ValueError, match="fixed to 10"):
        bb.evaluate({**config, "repl": 3})
    with pytest.raises(KeyError, match="instance"):
        YahpoBlackbox(bb.model, "99999999")
    with pytest.raises(KeyError, match="did you mean 'rbv2_rpart'"):
        YahpoModel(DATA / "rbv2_rpart", "rbv2_rpar")
    lc = load_scenario(DATA / "lcbench")["3945"]
    with pytest.raises(KeyError, match="must be an integer"):
        lc.evaluate(LCBENCH_CONFIG, fidelity=2.5)


@needs_data
def test_blackbox_pickles_and_reopens_its_session():
    bb = load_scenario(DATA / "iaml_glmnet")["1489"]
    before = bb.evaluate({"alpha": 0.2, "s": 3.0})
    again = pickle.loads(pickle.dumps(bb))
    np.testing.assert_array_equal(again.evaluate({"alpha": 0.2, "s": 3.0}), before)


# ---------------------------------------------------------------------------------------------------------
# Synthetic scenario folders (models built with onnx.helper)
# ---------------------------------------------------------------------------------------------------------


def _write_model(path: Path, n_cat: int, n_cont: int, weights: np.ndarray | None, low: np.ndarray,
                 high: np.ndarray, exp_columns: np.ndarray) -> None:
    """x_cat -> float, concat x_cont, [MatMul W + b -> Sigmoid -> *range + min], Exp on tlog columns.

    ``weights=None`` makes an echo model: output = the concatenated inputs (no sigmoid), to see the encoding.
    """
    from onnx import TensorProto, helper, numpy_helper

    n_in = n_cat + n_cont
    nodes = [helper.make_node("Cast", ["x_cat"], ["cat_f"], to=TensorProto.FLOAT),
             helper.make_node("Concat", ["cat_f", "x_cont"], ["h"], axis=1)]
    inits = []
    if weights is None:
        nodes.append(helper.make_node("Identity", ["h"], ["output"]))
        n_y = n_in
    else:
        n_y = weights.shape[1]
        inits += [numpy_helper.from_array(weights.astype(np.float32), "W"),
                  numpy_helper.from_array(np.linspace(-0.5, 0.5, n_y).astype(np.float32), "b"),
                  numpy_helper.from_array((high - low).astype(np.float32), "range"),
                  numpy_helper.from_array(low.astype(np.float32), "low"),
                  numpy_helper.from_array(exp_columns.astype(np.float32), "is_log"),
                  numpy_helper.from_array((1 - exp_columns).astype(np.float32), "is_lin")]
        nodes += [helper.make_node("MatMul", ["h", "W"], ["z0"]), helper.make_node("Add", ["z0", "b"], ["z"]),
                  helper.make_node("Sigmoid", ["z"], ["s"]), helper.make_node("Mul", ["s", "range"], ["sr"]),
                  helper.make_node("Add", ["sr", "low"], ["v"]), helper.make_node("Exp", ["v"], ["ev"]),
                  helper.make_node("Mul", ["ev", "is_log"], ["a"]), helper.make_node("Mul", ["v", "is_lin"], ["c"]),
                  helper.make_node("Add", ["a", "c"], ["output"])]
    graph = helper.make_graph(
        nodes, "synthetic_yahpo",
        [helper.make_tensor_value_info("x_cat", TensorProto.INT32, ["batch_size", n_cat]),
         helper.make_tensor_value_info("x_cont", TensorProto.FLOAT, ["batch_size", n_cont])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", n_y])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="hpo-arena-test")
    model.ir_version = 7
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def _write_iaml_rpart(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic 'iaml_rpart' folder (a scenario absent from shared/data) in the upstream layout."""
    folder.mkdir(parents=True)
    space = {"hyperparameters": [
        {"name": "cp", "type": "uniform_float", "log": True, "lower": 0.00010000000000000009, "upper": 1.0,
         "default": 0.01},
        {"name": "maxdepth", "type": "uniform_int", "log": False, "lower": 1, "upper": 30, "default": 30},
        {"name": "minbucket", "type": "uniform_int", "log": False, "lower": 1, "upper": 100, "default": 1},
        {"name": "minsplit", "type": "uniform_int", "log": False, "lower": 1, "upper": 100, "default": 20},
        {"name": "task_id", "type": "categorical", "choices": ["40981", "1067"], "default": "40981",
         "probabilities": None},
        {"name": "trainsize", "type": "uniform_float", "log": False, "lower": 0.03, "upper": 1.0, "default": 0.5}],
        "conditions": [], "forbiddens": [], "python_module_version": "0.4.19", "json_format_version": 0.2}
    (folder / "config_space.json").write_text(json.dumps(space))
    (folder / "encoding.json").write_text(json.dumps({"task_id": {"#na#": 0, "1067": 1, "40981": 2}}))
    rng = np.random.default_rng(7)
    weights = rng.normal(scale=0.05, size=(6, 12))
    low, high = np.zeros(12), np.linspace(1.0, 12.0, 12)
    exp_columns = np.zeros(12)
    exp_columns[7] = 1.0  # timetrain as a "tlog" target
    _write_model(folder / "model.onnx", 1, 5, weights, low, high, exp_columns)
    return weights, low, high, exp_columns


def test_synthetic_scenario_folder_not_in_shared_data(tmp_path):
    folder = tmp_path / "iaml_rpart"
    weights, low, high, exp_columns = _write_iaml_rpart(folder)
    bbs = load_scenario(folder)
    assert sorted(bbs) == ["1067", "40981"]
    bb = bbs["1067"]
    config = {"cp": 0.05, "maxdepth": 7, "minbucket": 3, "minsplit": 40}
    curve = bb.evaluate(config)
    assert curve.shape == (7, 12)
    # The same maths in numpy (float32): inputs in cat_names + cont_names order, task 1067 has code 1.
    h = np.array([[1.0, 0.05, 7, 3, 40, t] for t in bb.fidelity_values], dtype=np.float32)
    v = 1 / (1 + np.exp(-(h @ weights.astype(np.float32) + np.linspace(-0.5, 0.5, 12, dtype=np.float32))))
    v = v * (high - low) + low
    expected = np.where(exp_columns == 1, np.exp(v), v)
    np.testing.assert_allclose(curve, expected, rtol=2e-6)
    assert bb.metadata.time_objective == "timetrain" and not bb.metadata.time_is_cumulative


def _echo_scenario() -> YahpoScenario:
    return YahpoScenario(
        name="toy_echo", y_names=("task_code", "kernel_code", "shrink_code", "degree", "gamma", "tol", "epoch"),
        y_minimize=(True,) * 7, cat_names=("task", "kernel", "shrink"), cont_names=("degree", "gamma", "tol", "epoch"),
        fidelity_params=("epoch",), fidelity_name="epoch", fidelity_values=(1, 5, 10), instance_param="task",
        runtime_name="epoch", time_is_cumulative=True, time_semantics="test", default_metric="gamma",
    )


def _write_echo(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "config_space.json").write_text(json.dumps(TOY_SPACE))
    (folder / "encoding.json").write_text(json.dumps({
        "task": {"#na#": 0, "12": 1, "7": 2}, "kernel": {"#na#": 0, "linear": 1, "poly": 2, "radial": 3},
        "shrink": {"#na#": 0, "no": 1, "yes": 2}}))
    _write_model(folder / "model.onnx", 3, 4, None, np.zeros(0), np.zeros(0), np.zeros(0))


def test_inactive_parameters_are_fed_as_na_and_zero(tmp_path):
    folder = tmp_path / "echo"
    _write_echo(folder)
    bb = load_scenario(folder, _echo_scenario())["7"]
    assert set(bb.configuration_space.names) == {"degree", "gamma", "kernel", "shrink", "tol"}
    configs = [
        {"kernel": "linear", "shrink": "yes", "degree": 4, "gamma": 2.0, "tol": 0.3},  # all three inactive
        {"kernel": "poly", "shrink": "yes", "degree": 4, "tol": 0.3},
        {"kernel": "radial", "shrink": "no", "gamma": 2.0},
    ]
    got = bb.evaluate_batch(configs, fidelity=5)
    # x_cat codes (task 7 -> 2, #na# -> 0), then the raw x_cont values as float32 (inactive -> 0).
    expected = np.array([[2, 1, 2, 0, 0, 0, 5], [2, 2, 2, 4, 0, 0.3, 5], [2, 3, 1, 0, 2.0, 0, 5]], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="lacks the active hyperparameter 'degree'"):
        bb.evaluate({"kernel": "poly", "shrink": "no"}, fidelity=1)


def test_missing_onnxruntime_gives_install_hint(tmp_path, monkeypatch):
    folder = tmp_path / "iaml_rpart"
    _write_iaml_rpart(folder)
    bb = load_scenario(folder)["40981"]  # building blackboxes needs no onnxruntime
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    _SESSIONS.clear()
    with pytest.raises(ImportError, match=r"pip install hpo-arena\[yahpo\]"):
        bb.evaluate({"cp": 0.05, "maxdepth": 7, "minbucket": 3, "minsplit": 40})


def test_model_that_does_not_match_the_scenario_is_refused(tmp_path):
    folder = tmp_path / "iaml_glmnet"  # the iaml_rpart model (5 numeric inputs) under another scenario's name
    _write_iaml_rpart(folder)
    space = json.loads((folder / "config_space.json").read_text())
    space["hyperparameters"] += [{"name": "alpha", "type": "uniform_float", "log": False, "lower": 0, "upper": 1},
                                 {"name": "s", "type": "uniform_float", "log": True, "lower": 1e-4, "upper": 1e3}]
    (folder / "config_space.json").write_text(json.dumps(space))
    bb = load_scenario(folder, check=False)["1067"]
    with pytest.raises(ValueError, match="5 columns but scenario iaml_glmnet lists 3"):
        bb.evaluate({"alpha": 0.5, "s": 0.1})


# ---------------------------------------------------------------------------------------------------------
# Converter and repository
# ---------------------------------------------------------------------------------------------------------


@needs_data
def test_convert_real_scenarios_and_load_through_repository(tmp_path):
    from blackbox_repo.repository import load_blackbox

    written = convert_yahpo(DATA, tmp_path / "repo")
    assert sorted(Path(p).name for p in written) == ["yahpo-iaml_glmnet", "yahpo-lcbench", "yahpo-rbv2_rpart"]
    meta = json.loads((tmp_path / "repo" / "yahpo-lcbench" / "metadata.json").read_text())
    assert meta["kind"] == "yahpo" and len(meta["tasks"]) == 34
    assert meta["scenario"]["cont_names"][0] == "epoch"
    assert set(meta["files"]) == {"model.onnx", "config_space.json", "encoding.json", "README.txt",
                                  "LICENSE-2.0.txt"}
    assert meta["blackbox"]["time_is_cumulative"] is True
    lc = load_blackbox("yahpo-lcbench", tmp_path / "repo", task="3945")
    direct = load_scenario(DATA / "lcbench")["3945"]
    np.testing.assert_array_equal(lc.evaluate(LCBENCH_CONFIG), direct.evaluate(LCBENCH_CONFIG))
    group = load_blackbox("yahpo-rbv2_rpart", tmp_path / "repo")
    assert len(group) == 117
    rb = group["40981"]
    assert rb.metadata.time_objective == "timetrain" and rb.metadata.time_is_cumulative is False
    config = {"cp": 0.01, "maxdepth": 10, "minbucket": 5, "minsplit": 20, "num.impute.selected.cpo": "impute.mean"}
    np.testing.assert_array_equal(rb.evaluate(config), load_scenario(DATA / "rbv2_rpart")["40981"].evaluate(config))


def test_convert_synthetic_and_refuse_bad_input(tmp_path):
    from blackbox_repo.repository import load_blackbox

    _write_iaml_rpart(tmp_path / "data" / "iaml_rpart")
    _write_echo(tmp_path / "data" / "echo")
    with pytest.raises(YahpoInputError, match="did you mean"):  # 'echo' is no known scenario: nothing written
        convert_yahpo(tmp_path / "data", tmp_path / "repo")
    assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").iterdir())
    written = convert_yahpo(tmp_path / "data", tmp_path / "repo",
                            scenario_metadata_override={"echo": _echo_scenario()})
    assert len(written) == 2
    echo = load_blackbox("yahpo-echo", tmp_path / "repo", task="12")
    np.testing.assert_array_equal(echo.evaluate({"kernel": "radial", "shrink": "no", "gamma": 2.0}, fidelity=1),
                                  [1, 3, 1, 0, 2.0, 0, 1])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.onnx").write_bytes(b"")
    with pytest.raises(YahpoInputError, match="missing"):
        convert_yahpo(tmp_path / "broken", tmp_path / "repo2", scenarios=["iaml_rpart"])
    assert not (tmp_path / "repo2").exists() or not any((tmp_path / "repo2").iterdir())
    only = convert_yahpo(tmp_path / "data" / "iaml_rpart", tmp_path / "repo", tasks=["1067"], name="rpart-1067")
    assert Path(only[0]).name == "rpart-1067"
    assert list(load_blackbox("rpart-1067", tmp_path / "repo")) == ["1067"]
    with pytest.raises(YahpoInputError, match="did you mean '1067'"):
        convert_yahpo(tmp_path / "data" / "iaml_rpart", tmp_path / "repo", tasks=["1068"], name="x")
    (tmp_path / "data" / "iaml_rpart" / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(YahpoInputError, match="not a readable ONNX model"):
        convert_yahpo(tmp_path / "data" / "iaml_rpart", tmp_path / "repo", name="y")
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["rpart-1067", "yahpo-echo", "yahpo-iaml_rpart"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(YahpoInputError, match="no YAHPO scenario"):
        convert_yahpo(tmp_path / "empty", tmp_path / "repo3")
    with pytest.raises(YahpoInputError, match=r"scenario folder\(s\) \['nope'\] not found"):
        convert_yahpo(tmp_path / "data", tmp_path / "repo3", scenarios=["nope"])
