"""Per-scenario facts of YAHPO Gym that are not in the published data files.

YAHPO Gym keeps, in Python, the column order of the two ONNX inputs (``cat_names`` for the int32
``x_cat`` matrix, ``cont_names`` for the float32 ``x_cont`` matrix), the names and directions of the
outputs, the fidelity parameters, the instance parameter and the runtime target. ``config_space.json``
sorts parameter names alphabetically, so the model's input order cannot be recovered from the data:
every scenario is described here, from the tables of YAHPO Gym 1.0.2 / data 1.0.2 (see FORMATS §1.4).

Design choices recorded per scenario (``YahpoScenario``):

* ``fidelity_values``: the fidelity grid a blackbox exposes by default. lcbench 1..52 and nb301 1..98
  epochs; for ``trainsize`` the values present in the surrogate's training data (iaml: 0.05, 0.1, 0.2,
  0.4, 0.6, 0.8, 1; rbv2: 0.05, 0.1, 0.15, 0.2, 0.3, ..., 0.9, 1). Any value inside the parameter's
  range can still be queried.
* ``constant_params``: inputs held fixed rather than searched (rbv2 ``repl``: 10, the largest number of
  resampling replications, configurable per blackbox).
* ``time_is_cumulative``: lcbench ``time`` is the elapsed training time up to the epoch. rbv2/iaml
  ``timetrain`` is the time of ONE training run on ``trainsize`` of the data: a run at a larger
  trainsize starts from scratch, it does not continue the smaller one, so the value is not cumulative.
  nb301 ``runtime`` is taken to be cumulative (NAS-Bench-301 reports elapsed training time); its units
  are not documented upstream, which ``time_semantics`` says.
* ``objective_modes``: the upstream ``y_minimize`` flags, except rbv2 ``f1``, which upstream marks as
  minimised although a larger F1 is better; ``upstream_y_minimize`` keeps the original flags.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from blackbox_repo.search_space import closest_choices_message

#: Value YAHPO passes for an absent/inactive categorical input (its code is 0 in every encoding.json).
NA_LEVEL = "#na#"


@dataclass(frozen=True)
class YahpoScenario:
    """Everything needed to call one YAHPO scenario's ONNX model the way yahpo_gym does."""

    name: str
    y_names: tuple[str, ...]
    y_minimize: tuple[bool, ...]
    cat_names: tuple[str, ...]  # x_cat column order
    cont_names: tuple[str, ...]  # x_cont column order
    fidelity_params: tuple[str, ...]  # every fidelity parameter of the scenario (rbv2: trainsize, repl)
    fidelity_name: str  # the one exposed as the blackbox fidelity
    fidelity_values: tuple[float, ...]
    instance_param: str | None  # None: a single instance without an input column (nb301)
    runtime_name: str
    time_is_cumulative: bool
    time_semantics: str
    default_metric: str
    constant_params: Mapping[str, Any] = field(default_factory=dict)  # fidelity params held fixed
    drop_predict: tuple[str, ...] = ()  # categorical names not fed to the model
    default_instances: tuple[str, ...] = ()  # for scenarios without an instance parameter
    objective_mode_overrides: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.y_names) != len(self.y_minimize):
            raise ValueError(f"scenario {self.name}: {len(self.y_names)} y_names but {len(self.y_minimize)} flags")
        if self.runtime_name not in self.y_names:
            raise ValueError(f"scenario {self.name}: runtime {self.runtime_name!r} is not an output")
        if self.default_metric not in self.y_names:
            raise ValueError(f"scenario {self.name}: default metric {self.default_metric!r} is not an output")
        if self.fidelity_name not in self.fidelity_params:
            raise ValueError(f"scenario {self.name}: fidelity {self.fidelity_name!r} not in {self.fidelity_params}")
        extra_fids = set(self.fidelity_params) - {self.fidelity_name} - set(self.constant_params)
        if extra_fids:
            raise ValueError(f"scenario {self.name}: fidelity parameters {sorted(extra_fids)} need a constant value")
        if self.instance_param is not None and self.instance_param not in self.cat_names:
            raise ValueError(f"scenario {self.name}: instance parameter {self.instance_param!r} not in cat_names")
        if self.instance_param is None and not self.default_instances:
            raise ValueError(f"scenario {self.name}: without an instance parameter, name the default instance(s)")

    @property
    def objective_modes(self) -> dict[str, str]:
        modes = {n: ("min" if m else "max") for n, m in zip(self.y_names, self.y_minimize)}
        modes.update(self.objective_mode_overrides)
        return modes

    @property
    def model_input_names(self) -> tuple[str, ...]:
        """Every name the model reads (categorical inputs that are fed, then numeric inputs)."""
        return tuple(n for n in self.cat_names if n not in self.drop_predict) + self.cont_names

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "y_names": list(self.y_names), "y_minimize": list(self.y_minimize),
            "cat_names": list(self.cat_names), "cont_names": list(self.cont_names),
            "fidelity_params": list(self.fidelity_params), "fidelity_name": self.fidelity_name,
            "fidelity_values": list(self.fidelity_values), "instance_param": self.instance_param,
            "runtime_name": self.runtime_name, "time_is_cumulative": self.time_is_cumulative,
            "time_semantics": self.time_semantics, "default_metric": self.default_metric,
            "constant_params": dict(self.constant_params), "drop_predict": list(self.drop_predict),
            "default_instances": list(self.default_instances),
            "objective_mode_overrides": dict(self.objective_mode_overrides), "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> YahpoScenario:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown YAHPO scenario fields {sorted(unknown)} (valid: {sorted(known)})")
        kwargs = dict(d)
        for key in ("y_names", "y_minimize", "cat_names", "cont_names", "fidelity_params", "fidelity_values",
                    "drop_predict", "default_instances"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# The 14 scenarios of YAHPO data 1.0.2
# ---------------------------------------------------------------------------------------------------------

_LCBENCH_TIME = ("time: cumulative training time in seconds up to the epoch (epoch 1 = the untrained model; "
                 "predictions are not always increasing in the epoch)")
_TRAINSIZE_TIME = ("timetrain: seconds of ONE training run on `trainsize` of the data, not cumulative: a run "
                   "at a larger trainsize starts from scratch. A trial that reports at trainsizes f1 < f2 < ... "
                   "pays timetrain(f1) + timetrain(f2) + ..., which is what a simulator does with "
                   "time_is_cumulative=False (each reported fidelity step costs its own value). Predictions "
                   "are not monotone in trainsize.")
_NB301_TIME = ("runtime: taken as cumulative training time up to the epoch (NAS-Bench-301 reports elapsed "
               "time); units are not documented upstream")

_RBV2_Y = ("acc", "bac", "auc", "brier", "f1", "logloss", "timetrain", "timepredict", "memory")
# Upstream flags (f1 marked minimised, an upstream slip: corrected in objective modes).
_RBV2_MIN = (False, False, False, True, True, True, True, True, True)
_IAML_Y = ("mmce", "f1", "auc", "logloss", "ramtrain", "rammodel", "rampredict", "timetrain", "timepredict",
           "mec", "ias", "nf")
_IAML_MIN = (True, False, False, True, True, True, True, True, True, True, True, True)
_RBV2_TRAINSIZES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_IAML_TRAINSIZES = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Default number of resampling replications for rbv2 (its second fidelity parameter, range 1..10).
DEFAULT_RBV2_REPL = 10

_NB301_PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
_NB301_CATS = tuple(
    [f"{_NB301_PREFIX}edge_normal_{i}" for i in range(14)]
    + [f"{_NB301_PREFIX}edge_reduce_{i}" for i in range(14)]
    + [f"{_NB301_PREFIX}inputs_node_normal_{i}" for i in (3, 4, 5)]
    + [f"{_NB301_PREFIX}inputs_node_reduce_{i}" for i in (3, 4, 5)]
)


def _rbv2(name: str, cats: tuple[str, ...], conts: tuple[str, ...], learner: str) -> YahpoScenario:
    return YahpoScenario(
        name=name, y_names=_RBV2_Y, y_minimize=_RBV2_MIN, cat_names=("task_id",) + cats,
        cont_names=conts + ("trainsize", "repl"), fidelity_params=("trainsize", "repl"),
        fidelity_name="trainsize", fidelity_values=_RBV2_TRAINSIZES, instance_param="task_id",
        runtime_name="timetrain", time_is_cumulative=False, time_semantics=_TRAINSIZE_TIME, default_metric="acc",
        constant_params={"repl": DEFAULT_RBV2_REPL}, objective_mode_overrides={"f1": "max"},
        description=f"YAHPO Gym rbv2 surrogate of {learner} on OpenML datasets (mlr3 benchmark); fidelity: "
                    "fraction of the training data; repl: resampling replications (fixed)",
    )


def _iaml(name: str, cats: tuple[str, ...], conts: tuple[str, ...], learner: str) -> YahpoScenario:
    return YahpoScenario(
        name=name, y_names=_IAML_Y, y_minimize=_IAML_MIN, cat_names=("task_id",) + cats,
        cont_names=conts + ("trainsize",), fidelity_params=("trainsize",), fidelity_name="trainsize",
        fidelity_values=_IAML_TRAINSIZES, instance_param="task_id", runtime_name="timetrain",
        time_is_cumulative=False, time_semantics=_TRAINSIZE_TIME, default_metric="mmce",
        description=f"YAHPO Gym iaml surrogate of {learner} on 4 OpenML datasets, with interpretability "
                    "measures; fidelity: fraction of the training data",
    )


_XGB_CONTS = ("nrounds", "eta", "gamma", "lambda", "alpha", "subsample", "max_depth", "min_child_weight",
              "colsample_bytree", "colsample_bylevel", "rate_drop", "skip_drop")
_IMPUTE = "num.impute.selected.cpo"

SCENARIOS: dict[str, YahpoScenario] = {
    s.name: s
    for s in [
        YahpoScenario(
            name="lcbench",
            y_names=("time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy", "test_cross_entropy",
                     "test_balanced_accuracy"),
            y_minimize=(True, False, True, False, True, False),
            cat_names=("OpenML_task_id",),
            cont_names=("epoch", "batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
                        "max_units", "max_dropout"),
            fidelity_params=("epoch",), fidelity_name="epoch", fidelity_values=tuple(range(1, 53)),
            instance_param="OpenML_task_id", runtime_name="time", time_is_cumulative=True,
            time_semantics=_LCBENCH_TIME, default_metric="val_accuracy",
            description="YAHPO Gym surrogate of LCBench (funnel MLPs on 34 OpenML tasks); val_accuracy in "
                        "percent, balanced accuracies as fractions",
        ),
        YahpoScenario(
            name="nb301", y_names=("val_accuracy", "runtime"), y_minimize=(False, True),
            cat_names=_NB301_CATS, cont_names=("epoch",), fidelity_params=("epoch",), fidelity_name="epoch",
            fidelity_values=tuple(range(1, 99)), instance_param=None, default_instances=("CIFAR10",),
            runtime_name="runtime", time_is_cumulative=True, time_semantics=_NB301_TIME,
            default_metric="val_accuracy", drop_predict=("dataset",),
            description="YAHPO Gym surrogate of NAS-Bench-301 (DARTS cells on CIFAR-10)",
        ),
        _rbv2("rbv2_svm", ("kernel", _IMPUTE), ("cost", "gamma", "tolerance", "degree"), "an SVM"),
        _rbv2("rbv2_ranger", ("respect.unordered.factors", "splitrule", _IMPUTE),
              ("num.trees", "sample.fraction", "mtry.power", "min.node.size", "num.random.splits"),
              "a random forest (ranger)"),
        _rbv2("rbv2_rpart", (_IMPUTE,), ("cp", "maxdepth", "minbucket", "minsplit"), "a decision tree (rpart)"),
        _rbv2("rbv2_glmnet", (_IMPUTE,), ("alpha", "s"), "elastic-net regression (glmnet)"),
        _rbv2("rbv2_xgboost", ("booster", _IMPUTE), _XGB_CONTS, "gradient boosting (xgboost)"),
        _rbv2("rbv2_aknn", ("distance", _IMPUTE), ("k", "M", "ef", "ef_construction"),
              "approximate k-nearest neighbours (HNSW)"),
        _rbv2(
            "rbv2_super",
            ("learner_id", "svm.kernel", "ranger.respect.unordered.factors", "ranger.splitrule", "aknn.distance",
             "xgboost.booster", _IMPUTE),
            ("svm.cost", "svm.gamma", "svm.tolerance", "svm.degree", "glmnet.alpha", "glmnet.s", "rpart.cp",
             "rpart.maxdepth", "rpart.minbucket", "rpart.minsplit", "ranger.num.trees", "ranger.sample.fraction",
             "ranger.mtry.power", "ranger.min.node.size", "ranger.num.random.splits", "aknn.k", "aknn.M",
             "aknn.ef", "aknn.ef_construction")
            + tuple(f"xgboost.{n}" for n in _XGB_CONTS),
            "six learners with their hyperparameters (a hierarchical space)",
        ),
        _iaml("iaml_ranger", ("replace", "respect.unordered.factors", "splitrule"),
              ("num.trees", "sample.fraction", "mtry.ratio", "min.node.size", "num.random.splits"),
              "a random forest (ranger)"),
        _iaml("iaml_rpart", (), ("cp", "maxdepth", "minbucket", "minsplit"), "a decision tree (rpart)"),
        _iaml("iaml_glmnet", (), ("alpha", "s"), "elastic-net regression (glmnet)"),
        _iaml("iaml_xgboost", ("booster",), _XGB_CONTS, "gradient boosting (xgboost)"),
        _iaml(
            "iaml_super",
            ("learner", "ranger.replace", "ranger.respect.unordered.factors", "ranger.splitrule",
             "xgboost.booster"),
            ("ranger.num.trees", "ranger.sample.fraction", "ranger.mtry.ratio", "ranger.min.node.size",
             "ranger.num.random.splits", "rpart.cp", "rpart.maxdepth", "rpart.minbucket", "rpart.minsplit",
             "glmnet.alpha", "glmnet.s") + tuple(f"xgboost.{n}" for n in _XGB_CONTS),
            "four learners with their hyperparameters (a hierarchical space)",
        ),
    ]
}


def get_scenario(name: str) -> YahpoScenario:
    """The metadata of a known scenario; a clear error naming close names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(
            closest_choices_message("YAHPO scenario", name, sorted(SCENARIOS))
            + ". For another scenario, pass a YahpoScenario describing its model inputs and outputs."
        ) from None
