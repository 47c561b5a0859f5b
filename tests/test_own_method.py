"""Methods from outside the package (baselines/external.py, launchers/user_methods.py) and other libraries'
optimizers (baselines/optuna_methods.py, baselines/dehb_reference.py).

- ``make_method("module:Class", ...)`` for a Scheduler subclass, a Searcher subclass (FIFO) and an ask/tell
  class; argument validation with the valid list; folder names;
- an external module in a temporary folder (not in the package) runs through ``arena sweep`` under the
  basic and joblib launchers, with byte-identical results, as a class path and as a user YAML (``_target_``)
  found through ``--config-dir`` and ``HPO_ARENA_CONFIG_DIR``; bad names and arguments are refused before
  any job starts;
- Optuna's samplers and pruners and the official DEHB run a short study each on the real embedded benchmark.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from baselines.ask_tell import AskTellScheduler
from baselines.external import method_folder_name
from baselines.fifo import FIFOScheduler
from baselines.registry import make_method, method_defaults, method_spec
from blackbox_repo.search_space import Integer, SearchSpace, Uniform

REPO = Path(__file__).resolve().parents[1]
SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "n": Integer(1, 8)})

USER_MODULE = textwrap.dedent('''
    """A user's methods, in a file outside the package."""
    from baselines.scheduler import Decision, Scheduler, Searcher, Suggestion


    class Greedy(Searcher):
        """Random configurations, half of them perturbing the best one so far."""

        def __init__(self, config_space, metric, mode="min", seed=0, restrict_to=None, explore: float = 0.5):
            super().__init__(config_space, metric, mode, seed)
            self.allowed = None if restrict_to is None else [dict(c) for c in restrict_to]
            self.explore = explore
            self.best = None

        def observe(self, trial_id, config, fidelity, value):
            if self.best is None or self._sign * value < self.best[0]:
                self.best = (self._sign * value, dict(config))

        def _suggest(self, trial_id):
            if self.allowed is not None:
                return dict(self.allowed[int(self.rng.integers(len(self.allowed)))])
            return self.config_space.sample(self.rng)


    class StopHalf(Scheduler):
        """Starts random configurations; at fidelity ``rung`` stops every trial that is not the best so far."""

        def __init__(self, config_space, metric, searcher, mode="min", seed=0, fidelity_name=None,
                     max_fidelity=None, fidelity_values=None, rung: float = 4.0):
            super().__init__(config_space, metric, mode, seed, fidelity_name, max_fidelity, fidelity_values)
            self.searcher, self.rung, self.seen = searcher, rung, []

        def suggest(self, trial_id):
            config = self.searcher.suggest(trial_id)
            return Suggestion.done() if config is None else Suggestion.start(config)

        def milestones(self, trial_id):
            return [self.rung]

        def on_result(self, trial_id, fidelity, metrics):
            value = self._sign * self.metric_value(metrics)
            best = min(self.seen, default=value)
            self.seen.append(value)
            return Decision.STOP if value > best else Decision.CONTINUE


    class AskTellRandom:
        def __init__(self, config_space, seed=0, warmup: int = 2):
            import numpy as np

            self.space, self.rng, self.warmup = config_space, np.random.default_rng(seed), warmup

        def ask(self):
            return self.space.sample(self.rng)

        def tell(self, config, loss):
            pass
''')


# ------------------------------------------------------------------------------------------------------------
# make_method with class paths
# ------------------------------------------------------------------------------------------------------------

@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "my_methods.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("my_methods", None)
    yield folder
    sys.modules.pop("my_methods", None)


def _make(name, **kwargs):
    return make_method(name, SPACE, "loss", "min", "epoch", 9, seed=1, fidelity_values=list(range(1, 10)), **kwargs)


def test_class_paths_build_schedulers_searchers_under_fifo_and_ask_tell_objects(user_module):
    stop_half = _make("my_methods:StopHalf", rung=3)
    assert type(stop_half).__name__ == "StopHalf" and stop_half.rung == 3
    assert type(stop_half.searcher).__name__ == "RandomSearcher"  # a seeded random searcher is supplied
    greedy = _make("my_methods:Greedy", explore=0.25, max_trials=5)
    assert isinstance(greedy, FIFOScheduler) and greedy.searcher.explore == 0.25 and greedy.max_trials == 5
    ask_tell = _make("my_methods.AskTellRandom")  # Hydra's _target_ spelling
    assert isinstance(ask_tell, AskTellScheduler) and not ask_tell.multi_fidelity
    assert method_defaults("my_methods:Greedy") == {"explore": 0.5, "max_trials": None}


def test_class_path_arguments_are_checked_against_the_signature(user_module):
    with pytest.raises(ValueError, match=r"does not accept \['explor'\]; valid keyword arguments: "
                                         r"\['explore', 'max_trials'\]"):
        _make("my_methods:Greedy", explor=0.1)
    with pytest.raises(ImportError, match="no module named 'not_my_methods'.*PYTHONPATH"):
        _make("not_my_methods:Greedy")
    with pytest.raises(ImportError, match="has no attribute 'Greed'.*'Greedy'"):
        _make("my_methods:Greed")
    with pytest.raises(TypeError, match="neither a Scheduler nor a Searcher"):
        _make("json:JSONDecoder")


def test_folder_names_of_class_paths_are_safe():
    assert method_folder_name("my_package.my_module:MyScheduler") == "my_package.my_module-MyScheduler"
    assert method_folder_name("ASHA") == "ASHA"
    assert method_folder_name("../evil:Thing") == "evil-Thing"


# ------------------------------------------------------------------------------------------------------------
# arena sweep with methods from outside the package
# ------------------------------------------------------------------------------------------------------------

def _env(workdir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HPO_ARENA_RESULTS=str(workdir / "results"), HPO_ARENA_HYDRA_DIR=str(workdir / "hydra"),
               PYTHONPATH=os.pathsep.join([str(REPO), str(workdir / "user")]), **extra)
    for key in ("HPO_ARENA_JOB_STATS", "HPO_ARENA_SWEEP_ID", "HPO_ARENA_SWEEP_SIZE", "HYDRA_FULL_ERROR",
                "HPO_ARENA_CONFIG_DIR", "HPO_ARENA_EXTERNAL_METHODS_CONF"):
        if key not in extra:
            env.pop(key, None)
    return env


def _sweep(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launchers.cli", "sweep", "-m", *args], cwd=workdir,
                          env=_env(workdir, **env), capture_output=True, text=True, timeout=300, check=False)


def _ok(proc):
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture()
def workdir(tmp_path):
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "my_methods.py").write_text(USER_MODULE)
    conf = tmp_path / "conf" / "method"
    conf.mkdir(parents=True)
    (conf / "MY-GREEDY.yaml").write_text("_target_: my_methods.Greedy\nexplore: 0.9\n")
    return tmp_path


SWEEP = ("benchmark=xgboost-sklearn-wine", "benchmark.max_wallclock_time=0.1", "seed=range(0,2)", "master_seed=42")
ONE_SEED = ("benchmark=xgboost-sklearn-wine", "benchmark.max_wallclock_time=0.1", "seed=1", "master_seed=42")


@pytest.mark.slow
def test_external_methods_sweep_under_basic_and_joblib_launchers(workdir):
    methods = "method=my_methods:StopHalf,my_methods:AskTellRandom,RS"
    _ok(_sweep(workdir, methods, *SWEEP, "tag=basic"))
    _ok(_sweep(workdir, methods, *SWEEP, "tag=joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"))
    for folder in ("my_methods-StopHalf", "my_methods-AskTellRandom", "RS"):
        for seed in (0, 1):
            basic = workdir / "results" / "basic" / "xgboost-sklearn-wine" / folder / str(seed)
            joblib = workdir / "results" / "joblib" / "xgboost-sklearn-wine" / folder / str(seed)
            meta = json.loads((basic / "metadata.json").read_text())
            assert meta["status"] == "complete" and meta["method"] == folder
            assert meta.get("method_target", folder) == folder.replace("my_methods-", "my_methods:")
            for name in ("results.parquet", "trials.parquet"):
                assert (basic / name).read_bytes() == (joblib / name).read_bytes(), (folder, seed, name)
    stop_half = pd.read_parquet(workdir / "results" / "basic" / "xgboost-sklearn-wine" / "my_methods-StopHalf"
                                / "0" / "results.parquet")
    assert "stop" in set(stop_half.decision)  # the user's scheduler decided


@pytest.mark.slow
def test_method_yaml_in_the_config_folder_via_config_dir_and_env(workdir):
    _ok(_sweep(workdir, "method=MY-GREEDY", *ONE_SEED, "tag=cd", "--config-dir", str(workdir / "conf")))
    _ok(_sweep(workdir, "method=MY-GREEDY", *ONE_SEED, "tag=env", HPO_ARENA_CONFIG_DIR=str(workdir / "conf")))
    for tag in ("cd", "env"):
        meta = json.loads((workdir / "results" / tag / "xgboost-sklearn-wine" / "MY-GREEDY" / "1"
                           / "metadata.json").read_text())
        assert meta["status"] == "complete" and meta["method_target"] == "my_methods.Greedy"
        assert meta["method_kwargs"]["explore"] == 0.9


def test_bad_external_methods_are_refused_before_any_job_starts(workdir):
    proc = _sweep(workdir, "method=my_methods:Greedy,RS", "method.explor=0.1", *ONE_SEED, "tag=bad")
    assert proc.returncode != 0
    assert "does not accept ['explor']; valid keyword arguments: ['explore', 'max_trials']" in proc.stderr
    assert not (workdir / "results").exists()  # nothing was written, not even study.json


@pytest.mark.parametrize(("args", "message"), [
    (("method=my_methods:Gready",), "has no attribute 'Gready'"),
    (("method=nowhere_module:Greedy",), "no module named 'nowhere_module'"),
    (("method=MY-GREEDY", "method.explor=1"), "MY-GREEDY.yaml) does not accept ['explor']"),
    (("method=MY-GREEDDY",), "unknown method 'MY-GREEDDY'"),
])
def test_the_sweep_check_names_the_problem(workdir, monkeypatch, args, message):
    from launchers.hydra_app import check_names
    from launchers.user_methods import EXTERNAL_CONF_ENV

    monkeypatch.syspath_prepend(str(workdir / "user"))
    monkeypatch.delenv(EXTERNAL_CONF_ENV, raising=False)
    with pytest.raises(SystemExit) as refused:
        check_names([*args, "benchmark=xgboost-sklearn-wine", "--config-dir", str(workdir / "conf")])
    assert message in str(refused.value)


# ------------------------------------------------------------------------------------------------------------
# Other libraries' optimizers: a short study each on the embedded benchmark (restricted to its table)
# ------------------------------------------------------------------------------------------------------------

LIBRARY_METHODS = ["OPTUNA-TPE", "OPTUNA-CMAES", "OPTUNA-GP", "OPTUNA-NSGA2", "OPTUNA-MEDIAN", "OPTUNA-SH",
                   "DEHB-REF"]


@pytest.mark.parametrize("name", LIBRARY_METHODS)
def test_library_methods_run_a_short_study(name, tmp_path):
    spec = method_spec(name)
    missing = spec.missing_requirements()
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}: pip install 'hpo-arena[{spec.extra}]'")
    from dataclasses import replace

    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment, table_configurations

    bench = replace(get_benchmark("xgboost-sklearn-breast_cancer"), max_wallclock_time=0.2)
    kwargs = {"n_startup_trials": 4, "max_trials": 8} if name == "OPTUNA-GP" else {}
    spec_ = ExperimentSpec(bench, name, 0, 123, "lib", str(tmp_path), method_kwargs=kwargs)
    folder = Path(run_experiment(spec_))
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["n_trials"] >= 4
    trials = pd.read_parquet(folder / "trials.parquet")
    table = pd.DataFrame(table_configurations(bench))
    configs = trials[[f"config.{c}" for c in table.columns]].set_axis(list(table.columns), axis=1)
    assert len(configs.merge(table.drop_duplicates(), how="inner")) == len(configs)  # every one a table row
    assert not configs.duplicated().any()  # each row once
    results = pd.read_parquet(folder / "results.parquet")
    if name in ("OPTUNA-MEDIAN", "OPTUNA-SH"):
        assert "stop" in set(results.decision)  # the pruner pruned
    if name == "DEHB-REF":
        assert "pause" in set(results.decision)  # DEHB's lower-fidelity jobs, promoted configurations resume


# ------------------------------------------------------------------------------------------------------------
# Ask/tell under the local backend (real processes, checkpoints): pending asks with 2 workers, promotions resume
# ------------------------------------------------------------------------------------------------------------

TRAIN_SCRIPT = textwrap.dedent('''
    from launchers.report import load_checkpoint, report, save_checkpoint, trial_context

    trial = trial_context()
    state = load_checkpoint() or {"epoch": 0, "starts": 0}
    state["starts"] += 1
    for epoch in range(state["epoch"] + 1, int(trial.max_fidelity) + 1):
        state["epoch"] = epoch
        save_checkpoint(state)
        report(epoch=epoch, loss=trial.config["x"] + 1.0 / epoch, starts=state["starts"])
''')


class TwoRungAskTell:
    """Four configurations at fidelity 1 (asked before any result), then the best two to fidelity 3."""

    def __init__(self, config_space, seed=0):
        import numpy as np

        rng = np.random.default_rng(seed)
        self.queue = [(config_space.sample(rng), 1.0) for _ in range(4)]
        self.results: list[tuple[float, dict]] = []
        self.asked_before_first_tell = 0

    def ask(self):
        if not self.results and self.queue:
            self.asked_before_first_tell += 1
        return self.queue.pop(0) if self.queue else None

    def tell(self, config, fidelity, loss):
        if fidelity == 1.0:
            self.results.append((loss, config))
            if len(self.results) == 4:
                self.queue = [(c, 3.0) for _, c in sorted(self.results, key=lambda r: r[0])[:2]]


def test_ask_tell_runs_under_the_local_backend_with_pending_asks_and_resumes(tmp_path):
    from launchers.local_backend import LocalBackend
    from launchers.tuner import StoppingCriterion, Tuner

    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    space = SearchSpace({"x": Uniform(0.0, 1.0)})
    scheduler = AskTellScheduler(TwoRungAskTell(space, seed=5), space, "loss", "min", seed=5,
                                 fidelity_name="epoch", max_fidelity=3, fidelity_values=[1, 2, 3])
    backend = LocalBackend(script, n_workers=2, fidelity_name="epoch", max_fidelity=3,
                           objectives_names=["loss", "starts"], workdir=tmp_path / "work", grace_period=2.0)
    results = Tuner(scheduler, backend, StoppingCriterion()).run()
    frame = results.to_frame()
    assert scheduler.optimizer.asked_before_first_tell >= 2  # two workers asked before any result came back
    assert results.n_trials == 4  # promotions continue their trial, they do not start new ones
    per_trial = frame.groupby("trial_id").agg(top=("fidelity", "max"), starts=("starts", "max"))
    assert sorted(per_trial.top.tolist()) == [1.0, 1.0, 3.0, 3.0]
    promoted = per_trial[per_trial.top == 3.0]
    assert (promoted.starts == 2).all()  # resumed from the checkpoint in a second process
    best_two = frame[frame.fidelity == 1.0].nsmallest(2, "loss").trial_id.tolist()
    assert sorted(best_two) == sorted(promoted.index.tolist())


def test_dehb_reference_lists_dehbs_own_arguments_and_defaults():
    pytest.importorskip("dehb", reason="DEHB-REF needs the dehb extra: pip install 'hpo-arena[dehb]'")
    import inspect

    import numpy as np
    from dehb import DEHB

    from baselines.dehb_reference import DEHB_DEFAULTS, DEHB_FIXED

    params = list(inspect.signature(DEHB.__init__).parameters.values())[1:]
    installed = {p.name: p.default for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    assert set(installed) == set(DEHB_DEFAULTS) | set(DEHB_FIXED)
    assert {k: installed[k] for k in DEHB_DEFAULTS} == DEHB_DEFAULTS
    assert installed["max_age"] == np.inf


def test_a_library_method_without_its_library_says_which_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    assert method_defaults("OPTUNA-TPE") == {}  # `arena sweep` still lists it
    with pytest.raises(ImportError, match=r"OPTUNA-TPE needs optuna: pip install 'hpo-arena\[optuna\]'"):
        _make("OPTUNA-TPE")
    from launchers.hydra_app import check_names

    with pytest.raises(SystemExit, match=r"method OPTUNA-TPE needs optuna"):
        check_names(["method=OPTUNA-TPE,RS", "benchmark=xgboost-sklearn-wine"])


def test_the_study_seed_goes_next_to_the_overrides_not_after_hydra_flags():
    from launchers.hydra_app import _insert_override

    assert _insert_override(["-m", "method=A", "--config-dir", "conf"], "master_seed=1") == \
        ["-m", "method=A", "master_seed=1", "--config-dir", "conf"]
    assert _insert_override(["-m", "--config-dir", "a=b", "seed=2"], "master_seed=1") == \
        ["-m", "--config-dir", "a=b", "seed=2", "master_seed=1"]  # a=b is the folder, not an override
    assert _insert_override(["-m", "--config-dir", "conf"], "master_seed=1") == \
        ["master_seed=1", "-m", "--config-dir", "conf"]
