"""Runs the peer (Syne Tune 0.13 or 0.16) on a table exported by ``bench_methods_peer.py``.

This script runs inside the peer's own virtual environment and imports nothing from hpo-arena (the peer's
environment does not have it). Two commands:

    PEER_PYTHON benchmarks/peer_driver.py serialize EXPORT_DIR REPOSITORY_DIR
    PEER_PYTHON benchmarks/peer_driver.py run SPEC.json

``serialize`` reads one benchmark exported in a neutral form (``hyperparameters.parquet``, ``objectives.npy``
of shape (configs, seeds, fidelities, objectives), ``meta.json``) and writes it with the peer's own
``blackbox_tabular.serialize`` into ``REPOSITORY_DIR/<benchmark>/``: the peer's on-disk blackbox format.

``run`` simulates one (method, seed) on such a blackbox with the peer's ``BlackboxRepositoryBackend`` and
``SimulatorCallback`` and writes every result the scheduler saw (trial, fidelity, metric value, simulated
time), the trials' configurations and the real duration of every ``suggest`` / ``on_trial_result`` /
``on_trial_complete`` call into the JSON file named in the spec. It prints one line starting with
``ARENA_PEER_DONE``.

How the simulation is set up, and why:

* The backend is ``BlackboxRepositoryBackend`` with its loader pointed at the local repository folder: the
  peer's ``load_blackbox`` only knows the names of its hub and always contacts the Hugging Face hub.
* Simulated time only counts training time, as ours does. The peer's simulator adds the real host time spent
  outside the backend (scheduler decisions, the tuner loop) to the simulated clock; that is switched off here
  (``SimulatedTimeKeeper.real_time_since_last_recent_exit`` returns 0), so a slow scheduler is not charged
  budget by one side only and the result does not depend on the host. Decision times are measured separately.
* The peer's simulator adds 0.05 s of simulated overhead to every trial start, stop and result; these delays
  are set to 0, as ours has none.
* The peer's tuner loop advances the simulated clock by ``tuner_sleep_time`` per iteration (5 s by default)
  and its backend forces at least 0.01 time units per reported step. The spec gives a tick small against the
  table's step durations and a ``time_scale`` that multiplies every elapsed time (and the budget) so the
  0.01 floor never binds; results are divided back, so times are in the table's own seconds.
* Configurations: methods whose searcher accepts ``restrict_configurations`` (0.13's random, Gaussian-process
  and BORE searchers) draw from the table's rows, exactly like ours. The others propose anywhere in the space; the
  backend then evaluates the nearest table row (Euclidean distance on the unit-cube encoding: log scale
  for log domains, one-hot for categorical values), which is the protocol of the peer's own LCBench
  benchmarks (a 1-nearest-neighbour surrogate) but keeps the per-trial replicate seed of the table.
* Table replicate seeds are drawn from numpy's global generator by the peer; it is seeded with the spec's
  ``backend_seed`` first.
* Threads: BLAS and OpenMP are capped at ``DEFAULT_THREADS`` (1; the spec's optional ``threads`` overrides it)
  for the whole run (environment variables for libraries loaded later, ``threadpoolctl`` for those already
  loaded), as our searchers run every model-based decision on one BLAS thread. The cap is a condition of the
  timing, not of the results (the peer's decisions do not depend on it), so it is not part of the spec's
  default content; the limits in force are recorded in the output (``threads``).
* A restricted table running out (0.13's Gaussian-process searchers, ``guard_table_exhaustion``): once every
  row has been proposed, 0.13's ``RandomFromSetCandidateGenerator.generate_candidates_en_bulk`` unpacks an empty
  list and raises ``ValueError`` instead of returning no candidate (its exclusion check only knows the size of
  finite spaces, and a space with a continuous hyperparameter has none). The driver turns exactly that error,
  after checking that every table row is among the proposed configurations, into the answer Syne Tune's own
  searchers give when a space is exhausted: no configuration (``None``), on which the peer's tuner stops
  starting trials and lets the running ones finish. Each such event is recorded (``table_exhausted``).
* Multi-objective and transfer-learning methods (``spec["recipe"]``, see ``build_recipe``): their classes live
  outside ``syne_tune.optimizer.baselines`` in 0.16 or take other arguments. Every objective the export's
  ``meta.json`` lists under ``metrics`` is recorded with each result (``results["metric:<name>"]``). Transfer
  methods read the other tasks' evaluations from ``spec["transfer_dir"]`` (written by
  ``benchmarks/peer_mo_transfer.py``, read by ``read_transfer_export``) as the peer's
  ``TransferLearningTaskEvaluations``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DONE_PREFIX = "ARENA_PEER_DONE "
TIMED_CALLS = ("suggest", "on_trial_result", "on_trial_complete")
DEFAULT_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# ---------------------------------------------------------------------------------------------------------
# Search space: hpo-arena's SearchSpace.to_dict() -> the peer's domains, and a unit-cube encoding
# ---------------------------------------------------------------------------------------------------------

def peer_config_space(space: dict[str, Any]) -> dict[str, Any]:
    from syne_tune import config_space as cs

    out: dict[str, Any] = {}
    for hp in space["hyperparameters"]:
        name, kind = hp["name"], hp["type"]
        if kind == "uniform":
            out[name] = cs.uniform(hp["lower"], hp["upper"])
        elif kind == "loguniform":
            out[name] = cs.loguniform(hp["lower"], hp["upper"])
        elif kind == "integer":
            out[name] = (cs.lograndint if hp.get("log") else cs.randint)(int(hp["lower"]), int(hp["upper"]))
        elif kind == "categorical":
            out[name] = cs.choice(list(hp["values"]))
        elif kind == "ordinal":
            out[name] = cs.ordinal(list(hp["values"]))
        elif kind == "finite_range":
            make = cs.logfinrange if hp.get("log") else cs.finrange
            out[name] = make(hp["lower"], hp["upper"], int(hp["size"]), cast_int=bool(hp.get("cast_int", False)))
        elif kind == "constant":
            out[name] = hp["value"]
        else:
            raise SystemExit(f"hyperparameter {name!r} has type {kind!r}, which the peer driver does not map; "
                             "supported: uniform, loguniform, integer, categorical, ordinal, finite_range, constant")
    return out


def encode_rows(space: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """(rows, features) in [0, 1]: linear or log position for numbers, one-hot for categorical values."""
    columns = []
    for hp in space["hyperparameters"]:
        name, kind = hp["name"], hp["type"]
        if kind == "constant":
            continue
        values = frame[name].to_numpy()
        if kind in ("categorical",):
            for choice in hp["values"]:
                columns.append((values == choice).astype(float))
        elif kind == "ordinal":
            index = {v: i for i, v in enumerate(hp["values"])}
            columns.append(np.array([index[v] for v in values], dtype=float) / max(1, len(hp["values"]) - 1))
        else:
            x = values.astype(float)
            low, high = float(hp["lower"]), float(hp["upper"])
            if kind == "loguniform" or hp.get("log"):
                x, low, high = np.log(x), math.log(low), math.log(high)
            columns.append((x - low) / (high - low) if high > low else np.zeros_like(x))
    return np.stack(columns, axis=1)


# ---------------------------------------------------------------------------------------------------------
# serialize: neutral export -> the peer's blackbox format
# ---------------------------------------------------------------------------------------------------------

def serialize_export(export_dir: Path, repository: Path) -> Path:
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular, serialize
    from syne_tune.config_space import randint

    meta = json.loads((export_dir / "meta.json").read_text())
    hyperparameters = pd.read_parquet(export_dir / "hyperparameters.parquet")
    objectives = np.load(export_dir / "objectives.npy")
    fidelities = np.asarray(meta["fidelity_values"])
    table = BlackboxTabular(
        hyperparameters=hyperparameters,
        configuration_space=peer_config_space(meta["space"]),
        fidelity_space={meta["fidelity_name"]: randint(int(fidelities[0]), int(fidelities[-1]))},
        objectives_evaluations=objectives,
        fidelity_values=fidelities,
        objectives_names=list(meta["objectives"]),
    )
    target = repository / meta["benchmark"]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    serialize({meta["task"]: table}, str(target), metadata={"hpo_arena": meta})
    (target / "arena_meta.json").write_text(json.dumps(meta))
    return target


# ---------------------------------------------------------------------------------------------------------
# run: one (method, seed)
# ---------------------------------------------------------------------------------------------------------

def peer_version() -> tuple[int, int]:
    import syne_tune

    major, minor = syne_tune.__version__.split(".")[:2]
    return int(major), int(minor)


def make_backend(repository: Path, meta: dict, spec: dict, rows: pd.DataFrame | None):
    """The peer's BlackboxRepositoryBackend, loading from the local folder and, if ``rows`` is given, mapping
    every configuration to its nearest table row before the lookup."""
    from syne_tune.blackbox_repository.blackbox_tabular import deserialize
    from syne_tune.blackbox_repository.simulated_tabular_backend import BlackboxRepositoryBackend

    encoded_rows = None if rows is None else encode_rows(meta["space"], rows)
    row_records = None if rows is None else rows.to_dict("records")

    class LocalRepositoryBackend(BlackboxRepositoryBackend):
        @property
        def blackbox(self):
            if self._blackbox is None:
                self._blackbox = deserialize(str(repository / self.blackbox_name))[self.dataset]
            return self._blackbox

        def config_objectives(self, config, seed):
            if encoded_rows is not None:
                point = encode_rows(meta["space"], pd.DataFrame([config]))
                row = int(np.argmin(((encoded_rows - point) ** 2).sum(axis=1)))
                self.evaluated_rows.append(row)
                config = {**config, **row_records[row]}
            return super().config_objectives(config, seed)

    from syne_tune.backend.simulator_backend.simulator_backend import SimulatorConfig

    # No simulated overheads: the peer adds 0.05 s per start, stop and result by default, ours none.
    no_delays = SimulatorConfig(delay_on_trial_result=0.0, delay_complete_after_final_report=0.0,
                                delay_complete_after_stop=0.0, delay_start=0.0, delay_stop=0.0)
    backend = LocalRepositoryBackend(
        simulator_config=no_delays,
        blackbox_name=meta["benchmark"],
        dataset=meta["task"],
        elapsed_time_attr=meta["time_objective"],
        max_resource_attr=spec.get("max_resource_attr"),
        tuner_sleep_time=spec["tick"] * spec["time_scale"],
    )
    backend.evaluated_rows = []
    return backend


# ---------------------------------------------------------------------------------------------------------
# Multi-objective and transfer-learning methods (their constructors differ between versions)
# ---------------------------------------------------------------------------------------------------------

TRANSFER_INDEX = "transfer.json"


def read_transfer_export(folder: Path) -> dict[str, tuple[pd.DataFrame, np.ndarray, list[str]]]:
    """The other tasks' evaluations written by ``peer_mo_transfer.export_transfer_data``: task -> (hyperparameters,
    evaluations of shape (configurations, 1, fidelities, 1), objective names)."""
    index = json.loads((Path(folder) / TRANSFER_INDEX).read_text())
    out = {}
    for entry in index["tasks"]:
        frame = pd.read_parquet(Path(folder) / entry["hyperparameters"])
        values = np.load(Path(folder) / entry["values"])
        if values.ndim != 2 or values.shape[0] != len(frame):
            raise SystemExit(f"transfer export {folder}: task {entry['task']} has values of shape {values.shape} "
                             f"for {len(frame)} configurations")
        out[entry["task"]] = (frame, values[:, None, :, None], [index["metric"]])
    return out


def load_transfer(folder: Path, config_space: dict[str, Any]) -> dict[str, Any]:
    try:  # 0.16 moved the class into its own module
        from syne_tune.optimizer.schedulers.transfer_learning.transfer_learning_task_evaluation import (
            TransferLearningTaskEvaluations,
        )
    except ImportError:
        from syne_tune.optimizer.schedulers.transfer_learning import TransferLearningTaskEvaluations

    return {task: TransferLearningTaskEvaluations(configuration_space=config_space, hyperparameters=frame,
                                                  objectives_names=names, objectives_evaluations=values)
            for task, (frame, values, names) in read_transfer_export(folder).items()}


RECIPES = ("moasha", "morea", "nsga2", "mobo-random", "mobo-linear", "zero-shot", "bounding-box")


def build_recipe(spec: dict, meta: dict, config_space: dict, transfer: dict | None):
    """One multi-objective or transfer method of the peer, in the version running this script.

    Objectives are all minimised here (the export refuses other modes); transfer values are already signed to
    minimise (ours are), so transfer methods run with ``mode="min"`` too."""
    recipe, kwargs, seed = spec["recipe"], dict(spec.get("kwargs", {})), int(spec["method_seed"])
    metrics = list(meta.get("metrics") or [meta["metric"]])
    fidelity, max_fidelity = meta["fidelity_name"], int(meta["fidelity_values"][-1])
    new = peer_version() >= (0, 14)
    minimise = ["min"] * len(metrics)  # 0.13 wants one mode per objective
    if recipe not in RECIPES:
        raise SystemExit(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    if recipe in ("zero-shot", "bounding-box") and transfer is None:
        raise SystemExit(f"recipe {recipe} needs transfer_dir in the spec")
    if recipe == "moasha":
        from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA

        common = {"metrics": metrics, "time_attr": fidelity, "max_t": max_fidelity, **kwargs}
        if new:
            return MOASHA(config_space, do_minimize=True, random_seed=seed, **common)
        return MOASHA(config_space, mode=minimise, **common)  # 0.13's MOASHA draws from numpy's global generator
    if recipe == "morea":
        if new:
            from syne_tune.optimizer.schedulers.single_fidelity_scheduler import SingleFidelityScheduler

            return SingleFidelityScheduler(config_space, metrics=metrics, do_minimize=True,
                                           searcher="regularized_evolution", random_seed=seed,
                                           searcher_kwargs={"random_seed": seed, **kwargs})
        from syne_tune.optimizer.baselines import MOREA

        return MOREA(config_space, metric=metrics, mode=minimise, random_seed=seed, **kwargs)
    if recipe in ("nsga2", "mobo-random", "mobo-linear"):
        if new:
            raise SystemExit(f"Syne Tune {'.'.join(map(str, peer_version()))} has no {recipe}; use 0.13")
        from syne_tune.optimizer import baselines

        if recipe == "nsga2":
            return baselines.NSGA2(config_space, metric=metrics, mode=minimise, random_seed=seed, **kwargs)
        if recipe == "mobo-random":
            return baselines.MORandomScalarizationBayesOpt(config_space, metric=metrics, mode=minimise,
                                                          random_seed=seed, **kwargs)
        return baselines.MOLinearScalarizationBayesOpt(config_space, metric=metrics, mode=minimise,
                                                      random_seed=seed, **kwargs)
    metric = meta["metric"]
    if recipe == "zero-shot":
        if new:
            from syne_tune.optimizer.schedulers.transfer_learning.zero_shot import ZeroShotTransfer

            return ZeroShotTransfer(config_space, metric=metric, transfer_learning_evaluations=transfer,
                                    do_minimize=True, random_seed=seed, **kwargs)
        from syne_tune.optimizer.baselines import ZeroShotTransfer

        return ZeroShotTransfer(config_space, transfer_learning_evaluations=transfer, metric=metric, mode="min",
                                random_seed=seed, **kwargs)
    from syne_tune.optimizer.schedulers.transfer_learning.bounding_box import BoundingBox

    with contextlib.redirect_stdout(sys.stderr):  # it prints the new box
        if new:
            from syne_tune.optimizer.baselines import RandomSearch

            def inner(space, name, do_minimize, random_seed):
                return RandomSearch(space, metrics=[name], do_minimize=do_minimize, random_seed=random_seed)

            return BoundingBox(inner, config_space, metric=metric, transfer_learning_evaluations=transfer,
                               do_minimize=True, random_seed=seed, **kwargs)
        from syne_tune.optimizer.baselines import RandomSearch

        def inner13(space, mode, name):  # 0.13 calls scheduler_fun(config_space, mode, metric)
            return RandomSearch(space, metric=name, mode=mode, random_seed=seed)

        return BoundingBox(inner13, config_space, metric=metric, transfer_learning_evaluations=transfer, mode="min",
                           **kwargs)


def make_scheduler(spec: dict, meta: dict, config_space: dict, restrict: list[dict] | None):
    from syne_tune.optimizer import baselines

    cls = getattr(baselines, spec["class"], None)
    if cls is None:
        raise SystemExit(f"the peer {spec['version']} has no syne_tune.optimizer.baselines.{spec['class']}")
    kwargs = dict(spec.get("kwargs", {}))
    metric, mode, seed = meta["metric"], meta["mode"], int(spec["method_seed"])
    fidelity, max_fidelity = meta["fidelity_name"], int(meta["fidelity_values"][-1])
    multi_fidelity = spec["multi_fidelity"]
    if peer_version() >= (0, 14):
        if restrict is not None:
            raise SystemExit("Syne Tune 0.14+ searchers take no restrict_configurations; use the nearest-row "
                             "protocol (restrict false) for this version")
        # 0.14+: single-fidelity schedulers take ``metrics`` (RandomSearch) or ``metric``; direction as
        # ``do_minimize``; multi-fidelity ones ``time_attr`` and ``max_t``. No restriction to a list.
        common: dict[str, Any] = {"do_minimize": mode == "min", "random_seed": seed}
        if spec["class"] == "RandomSearch":
            return cls(config_space, metrics=[metric], **common, **kwargs)
        if multi_fidelity:
            common.update(time_attr=fidelity, max_t=max_fidelity)
        return cls(config_space, metric=metric, **common, **kwargs)
    # 0.13: metric/mode, searcher options in ``search_options``; multi-fidelity schedulers read the maximum
    # resource from the configuration (``max_resource_attr``), which pause-and-resume methods need.
    search_options = dict(kwargs.pop("search_options", {}))
    search_options.setdefault("debug_log", False)
    if restrict is not None:
        # A copy: the peer's searchers remove proposed rows from this list in place, and the driver keeps the
        # whole table (``guard_table_exhaustion`` checks against it).
        search_options["restrict_configurations"] = [dict(row) for row in restrict]
    common = {"metric": metric, "mode": mode, "random_seed": seed, "search_options": search_options}
    if multi_fidelity:
        common.update(resource_attr=fidelity, max_resource_attr=spec["max_resource_attr"])
    return cls(config_space, **common, **kwargs)


def instrument(scheduler, calls: dict[str, list[float]], log: dict[str, list], kinds: dict[str, int],
               meta: dict, time_scale: float) -> None:
    """Time the scheduler's decision calls and record every result it is shown."""
    from syne_tune.constants import ST_TUNER_TIME

    metric, fidelity = meta["metric"], meta["fidelity_name"]
    extra_metrics = [name for name in meta.get("metrics") or [] if name != metric]

    def timed(name, original):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            out = original(*args, **kwargs)
            calls[name].append(time.perf_counter() - t0)
            if name == "suggest":
                if out is None:
                    kinds["none"] += 1
                elif getattr(out, "spawn_new_trial_id", True) and getattr(out, "checkpoint_trial_id", None) is None:
                    kinds["new"] += 1
                else:
                    kinds["resume"] += 1
            elif name == "on_trial_result":
                trial, result = args[0] if args else kwargs["trial"], args[1] if len(args) > 1 else kwargs["result"]
                log["trial_id"].append(int(trial.trial_id))
                log["fidelity"].append(float(result[fidelity]))
                log["value"].append(float(result[metric]))
                for objective in extra_metrics:
                    log[f"metric:{objective}"].append(float(result[objective]))
                log["sim_time"].append(float(result[ST_TUNER_TIME]) / time_scale)
                log["decision"].append(str(out))
            return out
        return call

    for name in TIMED_CALLS:
        setattr(scheduler, name, timed(name, getattr(scheduler, name)))


def guard_table_exhaustion(scheduler, table_rows: list[dict], events: list[dict], log: dict[str, list]) -> bool:
    """Lets a 0.13 model-based searcher restricted to ``table_rows`` answer "no configuration" when the table is
    used up, instead of crashing (see the module docstring). Only a ``ValueError`` raised inside
    ``RandomFromSetCandidateGenerator.generate_candidates_en_bulk`` while every table row is in the searcher's
    exclusion list (the configurations already proposed) is caught; anything else propagates. Returns whether the
    searcher was guarded (it has a restricted model-based ``_get_config_modelbased``)."""
    searcher = getattr(scheduler, "searcher", None)
    if getattr(searcher, "_restrict_configurations", None) is None or \
            not hasattr(searcher, "_get_config_modelbased"):
        return False
    from syne_tune.optimizer.schedulers.searchers.bayesopt.tuning_algorithms.bo_algorithm_components import (
        RandomFromSetCandidateGenerator,
    )

    bulk = RandomFromSetCandidateGenerator.generate_candidates_en_bulk.__code__
    original = searcher._get_config_modelbased

    def guarded(exclusion_candidates, **kwargs):
        try:
            return original(exclusion_candidates=exclusion_candidates, **kwargs)
        except ValueError as err:
            innermost = traceback.extract_tb(err.__traceback__)[-1]
            if (innermost.name, innermost.filename) != (bulk.co_name, bulk.co_filename):
                raise
            unproposed = sum(not exclusion_candidates.contains(row) for row in table_rows)
            if unproposed:
                raise RuntimeError(f"the peer's candidate generator failed with {unproposed} of {len(table_rows)} "
                                   "table rows not proposed yet: not an exhausted table") from err
            events.append({"trial_id": kwargs.get("trial_id"), "table_rows": len(table_rows),
                           "proposed": len(exclusion_candidates), "results_so_far": len(log["trial_id"]),
                           "last_result_time": log["sim_time"][-1] if log["sim_time"] else None})
            return None

    searcher._get_config_modelbased = guarded
    return True


def thread_limits(threads: int):
    """Caps BLAS and OpenMP threads at ``threads`` for libraries loaded from now on (environment) and for those
    already loaded (threadpoolctl); returns the threadpoolctl context to enter around the run."""
    from threadpoolctl import threadpool_limits

    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    return threadpool_limits(limits=threads)


def thread_report() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    return [{"api": lib.get("user_api"), "library": lib.get("internal_api"), "threads": lib.get("num_threads")}
            for lib in threadpool_info()]


def run(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    threads = spec.get("threads", DEFAULT_THREADS)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SystemExit(f"spec {spec_path}: threads must be a positive integer or absent (default "
                         f"{DEFAULT_THREADS}), got {threads!r}")
    limits = thread_limits(threads)
    repository = Path(spec["repository"])
    meta = json.loads((repository / spec["benchmark"] / "arena_meta.json").read_text())
    folder = tempfile.mkdtemp(prefix="arena_peer_st_")
    os.environ["SYNETUNE_FOLDER"] = folder
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    import syne_tune
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.backend.simulator_backend.time_keeper import SimulatedTimeKeeper

    # Simulated time = training time only (see the module docstring).
    SimulatedTimeKeeper.real_time_since_last_recent_exit = lambda self: 0.0
    np.random.seed(int(spec["backend_seed"]) % 2**32)

    rows = pd.read_parquet(Path(spec["export_dir"]) / "hyperparameters.parquet")
    config_space = peer_config_space(meta["space"])
    if spec["multi_fidelity"] and spec.get("max_resource_attr"):
        config_space[spec["max_resource_attr"]] = int(meta["fidelity_values"][-1])
    restrict = None
    if spec["restrict"]:
        restrict = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                    for r in rows.to_dict("records")]
    backend = make_backend(repository, meta, spec, None if spec["restrict"] else rows)
    if spec.get("recipe"):
        if restrict is not None:
            raise SystemExit(f"recipe {spec['recipe']} draws its own configurations; set restrict false")
        transfer = load_transfer(Path(spec["transfer_dir"]), config_space) if spec.get("transfer_dir") else None
        scheduler = build_recipe(spec, meta, config_space, transfer)
    else:
        scheduler = make_scheduler(spec, meta, config_space, restrict)
    calls: dict[str, list[float]] = defaultdict(list)
    log: dict[str, list] = defaultdict(list)
    kinds: dict[str, int] = defaultdict(int)
    instrument(scheduler, calls, log, kinds, meta, spec["time_scale"])
    exhausted: list[dict] = []
    if restrict is not None:
        guard_table_exhaustion(scheduler, restrict, exhausted, log)
    tuner = Tuner(
        trial_backend=backend,
        scheduler=scheduler,
        stop_criterion=StoppingCriterion(max_wallclock_time=spec["budget"] * spec["time_scale"]),
        n_workers=int(spec["n_workers"]),
        sleep_time=0,
        callbacks=[SimulatorCallback()],
        results_update_interval=1e9,
        print_update_interval=1e9,
        save_tuner=False,
        tuner_name=f"arena-peer-{spec['seed']}",
    )
    t0 = time.perf_counter()
    with limits, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the peer prints every trial
        tuner.run()
        threads_in_force = thread_report()
    seconds = time.perf_counter() - t0
    configs = {}
    for trial_id, trial in backend._trial_dict.items():
        configs[int(trial_id)] = {k: (v.item() if hasattr(v, "item") else v)
                                  for k, v in trial.config.items() if k in meta["space_names"]}
    out = {
        "peer_version": syne_tune.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "real_seconds": seconds,
        "results": dict(log),
        "calls": {name: calls.get(name, []) for name in TIMED_CALLS},
        "suggest_kinds": dict(kinds),
        "configs": configs,
        "evaluated_rows": len(set(backend.evaluated_rows)) if not spec["restrict"] else None,
        "ticks": math.ceil(spec["budget"] / spec["tick"]),
        "threads": threads_in_force,
        "table_exhausted": exhausted,
    }
    Path(spec["out"]).write_text(json.dumps(out))
    shutil.rmtree(folder, ignore_errors=True)
    print(DONE_PREFIX + json.dumps({"out": spec["out"], "real_seconds": seconds}), flush=True)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "serialize":
        target = serialize_export(Path(argv[1]), Path(argv[2]))
        print(DONE_PREFIX + json.dumps({"serialized": str(target)}), flush=True)
    elif len(argv) == 2 and argv[0] == "run":
        run(Path(argv[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
