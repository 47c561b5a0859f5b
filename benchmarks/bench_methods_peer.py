"""Our methods next to the peer's (Syne Tune) implementations of the same methods, on the same tables.

    python benchmarks/bench_methods_peer.py [--methods BOHB MOBSTER ...] [--seeds 5] [--quick]
        [--families lcbench-ce xgboost-sklearn] [--tasks adult higgs] [--n-jobs 2] [--sides both|ours|peer]
        [--peer16-python PATH] [--peer13-python PATH] [--out FILE.md] [--work-dir DIR]

The peer runs in its own virtual environments (never a dependency of hpo-arena): Syne Tune 0.16 and, for the
methods 0.14 removed (MOBSTER, SyncMOBSTER, Hyper-Tune, DyHPO, DEHB, SyncBOHB), Syne Tune 0.13.0. Their
interpreters come from ``--peer16-python`` / ``--peer13-python`` or ``HPO_ARENA_PEER16_PYTHON`` /
``HPO_ARENA_PEER13_PYTHON``; the README section "Comparing with the peer" says how to install them.

What is compared, per method of ``PEER_METHODS`` (ours -> peer version, class, arguments):

* the benchmarks of ``bench_methods.py`` (LCBench validation cross-entropy curves, the embedded
  xgboost-sklearn tables; the YAHPO surrogate family is left out because the peer cannot read our ONNX
  surrogate as a table), with the same budget (simulated seconds), workers, seeds and fidelities;
* ours through ``launchers.experiment.run_experiment`` with ``bench_methods``'s timing of every scheduler
  call; the peer through ``benchmarks/peer_driver.py`` in the peer's interpreter: the table is exported,
  written in the peer's blackbox format with its own ``serialize``, and simulated with its
  ``BlackboxRepositoryBackend`` and ``SimulatorCallback``; ``suggest``, ``on_trial_result`` and
  ``on_trial_complete`` of the peer's scheduler are timed the same way;
* configurations: ours are restricted to the table's rows; so is the peer where its searcher accepts
  ``restrict_configurations`` (0.13's random, Gaussian-process and BORE searchers); otherwise (0.16, KDE,
  DEHB) the peer's proposal is evaluated at the nearest table row (the peer's own protocol for LCBench);
  the table says which, per method;
* the peer's results are stored in our results layout (method ``ST<version>-<METHOD>``) and go through the
  same normalised-regret code as ours (``bench_methods.regret_curves``): regret is computed from every
  reported result, on the minimised scale, with the table's best and worst values as bounds.

Output: per method, IQM normalised regret at 25/50/100% of the budget with 95% stratified-bootstrap
intervals (ours, peer); median ``suggest`` time and all scheduler time per started trial, with peer/ours
ratios; trials and results per run on both sides (so a ratio never rewards doing less work).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_methods as bm
from comparison_helpers import (
    PeerClock,
    decision_summary,
    parse_method,
    peer_clock,
    print_report,
    ratio,
    regret_intervals,
)

from benchmark_definitions.definitions import SimulatedBenchmark

DRIVER = HERE / "peer_driver.py"
DONE_PREFIX = "ARENA_PEER_DONE "
FAMILIES = ("lcbench-ce", "xgboost-sklearn")  # tabulated families of bench_methods
FRACTIONS = (0.25, 0.5, 1.0)
PEER_TIME = "peer_elapsed_time"
MAX_RESOURCE_ATTR = "arena_max_fidelity"
BOOTSTRAP_SEED = 20240601
N_BOOT = 2000
PYTHON_ENV = {"0.16": "HPO_ARENA_PEER16_PYTHON", "0.13": "HPO_ARENA_PEER13_PYTHON"}
PYTHON_OPTION = {"0.16": "--peer16-python", "0.13": "--peer13-python"}
INSTALL = {
    "0.16": "python3 -m venv ENV && ENV/bin/pip install 'syne-tune==0.16.0' pandas pyarrow scikit-learn "
            "huggingface_hub fastparquet h5py",
    # xgboost for ASHA-BORE: the peer's ``bore`` extra pins GPy==1.12.0, which PyPI does not have for Python
    # 3.11; BORE's default classifier only needs xgboost.
    "0.13": "python3 -m venv ENV && ENV/bin/pip install 'syne-tune[gpsearchers,kde]==0.13.0' xgboost pandas "
            "pyarrow scikit-learn huggingface_hub fastparquet h5py",
}


@dataclass(frozen=True)
class PeerMethod:
    """One method of the peer: ``syne_tune.optimizer.baselines.<cls>(**kwargs)`` in a given version.

    ``restrict``: its searcher accepts ``restrict_configurations`` (only 0.13's random, GP and BORE searchers);
    otherwise proposals are evaluated at the nearest table row. ``brackets="all"`` in kwargs becomes the
    number of brackets Hyperband has for the benchmark's fidelities.
    """

    version: str
    cls: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    multi_fidelity: bool = True
    restrict: bool = False


_ASHA = {"grace_period": 1, "reduction_factor": 3, "brackets": 1}
_ASHA_13 = {"type": "stopping", **_ASHA}
_SYNC_13 = {"grace_period": 1, "reduction_factor": 3}

# ours -> peer version -> the peer's method. Arguments follow ours' defaults (grace period 1, reduction
# factor 3, one bracket for the asynchronous methods, stopping variant) and the peer's defaults otherwise.
PEER_METHODS: dict[str, dict[str, PeerMethod]] = {
    "RS": {"0.16": PeerMethod("0.16", "RandomSearch", multi_fidelity=False),
           "0.13": PeerMethod("0.13", "RandomSearch", multi_fidelity=False, restrict=True)},
    "ASHA": {"0.16": PeerMethod("0.16", "ASHA", dict(_ASHA)),
             "0.13": PeerMethod("0.13", "ASHA", dict(_ASHA_13), restrict=True)},
    "BOHB": {"0.16": PeerMethod("0.16", "BOHB", dict(_ASHA)),
             "0.13": PeerMethod("0.13", "BOHB", dict(_ASHA_13))},
    "ASHA-BORE": {"0.16": PeerMethod("0.16", "ASHABORE", dict(_ASHA)),
                  "0.13": PeerMethod("0.13", "ASHABORE", dict(_ASHA_13), restrict=True)},
    "SYNC-BOHB": {"0.13": PeerMethod("0.13", "SyncBOHB", dict(_SYNC_13))},
    "MOBSTER": {"0.13": PeerMethod("0.13", "MOBSTER", dict(_ASHA_13), restrict=True)},
    "SYNC-MOBSTER": {"0.13": PeerMethod("0.13", "SyncMOBSTER", dict(_SYNC_13), restrict=True)},
    "HYPERTUNE": {"0.13": PeerMethod("0.13", "HyperTune", {**_ASHA_13, "brackets": "all"}, restrict=True)},
    "DYHPO": {"0.13": PeerMethod("0.13", "DyHPO", {"grace_period": 1}, restrict=True)},
    "DEHB": {"0.13": PeerMethod("0.13", "DEHB", dict(_SYNC_13))},
}
DEFAULT_VERSION = {m: ("0.16" if "0.16" in v else "0.13") for m, v in PEER_METHODS.items()}


def peer_label(method: str, version: str) -> str:
    return f"ST{version}-{method}"


@dataclass(frozen=True)
class Entry:
    """One row of the comparison: our method and the peer's version of it."""

    method: str
    version: str

    @property
    def peer(self) -> PeerMethod:
        return PEER_METHODS[self.method][self.version]

    @property
    def label(self) -> str:
        return peer_label(self.method, self.version)


# ---------------------------------------------------------------------------------------------------------
# Export: our table -> a neutral folder the peer driver turns into the peer's format
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Export:
    benchmark: SimulatedBenchmark
    folder: Path
    clock: PeerClock
    n_rows: int


def export_table(bench: SimulatedBenchmark, repository: Path, out: Path) -> Export:
    """The table's rows holding the metric for this task, the metric and the (scaled) elapsed time."""
    from blackbox_repo.blackbox import TabularBlackbox
    from launchers.experiment import STEPS, benchmark_blackbox

    table = benchmark_blackbox(bench, bm.blackbox_root(bench, repository))
    if not isinstance(table, TabularBlackbox):
        raise TypeError(f"{bench.name}: the peer comparison needs a tabulated blackbox")
    time_name = STEPS if bench.time_objective == STEPS else (bench.time_objective or table.metadata.time_objective)
    objectives = np.asarray(table.objectives, dtype=np.float64)
    metric = objectives[..., table.objective_index(bench.metric)]
    elapsed = objectives[..., table.objective_index(time_name)]
    keep = ~np.isnan(metric[:, :, -1]).all(axis=1)
    metric, elapsed = metric[keep], elapsed[keep]
    if np.isnan(metric).any() or np.isnan(elapsed).any():
        raise ValueError(f"{bench.name}: the table has missing values inside kept rows; the peer's lookups "
                         "would return NaN, so the comparison cannot be made on it")
    clock = peer_clock(elapsed, bench.max_wallclock_time)
    folder = out / bench.name
    folder.mkdir(parents=True, exist_ok=True)
    table.hyperparameters[keep].reset_index(drop=True).to_parquet(folder / "hyperparameters.parquet", index=False)
    stacked = np.stack([metric, elapsed * clock.time_scale], axis=-1).astype(np.float64)
    np.save(folder / "objectives.npy", stacked)
    space_dict = table.configuration_space.to_dict()
    meta = {
        "benchmark": bench.name, "task": bench.task, "metric": bench.metric, "mode": bench.mode,
        "objectives": [bench.metric, PEER_TIME], "time_objective": PEER_TIME,
        "fidelity_name": table.fidelity_name, "fidelity_values": table.fidelity_values.tolist(),
        "space": space_dict, "space_names": [hp["name"] for hp in space_dict["hyperparameters"]],
        "time_scale": clock.time_scale,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return Export(bench, folder, clock, int(keep.sum()))


def peer_python(version: str, args: argparse.Namespace) -> str:
    given = getattr(args, f"peer{version.replace('0.', '')}_python") or os.environ.get(PYTHON_ENV[version])
    if not given:
        raise SystemExit(f"error: the peer Syne Tune {version} is needed; pass {PYTHON_OPTION[version]} PATH or set "
                         f"{PYTHON_ENV[version]} to its interpreter. Install it outside the project: "
                         f"{INSTALL[version]}")
    if not Path(given).is_file():
        raise SystemExit(f"error: the peer {version} interpreter {given!r} does not exist "
                         f"({PYTHON_OPTION[version]} / {PYTHON_ENV[version]})")
    return given


def call_driver(python: str, *args: str, timeout: float | None = None, stderr_file: Path | None = None) -> dict:
    """Runs the driver; its whole stderr goes to ``stderr_file`` when given (kept for post-mortems of crashes)."""
    try:
        done = subprocess.run([python, str(DRIVER), *args], capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired as err:
        if stderr_file is not None:
            stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            stderr_file.write_text(stderr)
        raise RuntimeError(f"peer driver {' '.join(args)} exceeded --peer-timeout ({timeout:g} s)") from None
    if stderr_file is not None:
        stderr_file.write_text(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith(DONE_PREFIX)]
    if done.returncode != 0 or not lines:
        last = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["(no stderr)"]
        raise RuntimeError(f"peer driver {' '.join(args)} failed (exit {done.returncode}): {last[0]}"
                           f"{f' (full stderr: {stderr_file})' if stderr_file is not None else ''}\n"
                           f"{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(DONE_PREFIX):])


# ---------------------------------------------------------------------------------------------------------
# Peer runs
# ---------------------------------------------------------------------------------------------------------

def n_brackets(fidelities: Sequence[float], grace_period: float, reduction_factor: float) -> int:
    return 1 + math.floor(math.log(max(fidelities) / grace_period) / math.log(reduction_factor) + 1e-9)


def peer_spec(entry: Entry, export: Export, repository: Path, seed: int, out: Path) -> dict[str, Any]:
    from launchers.experiment import ExperimentSpec, seeds_for

    backend_seed, method_seed = seeds_for(ExperimentSpec(export.benchmark, entry.method, seed, bm.MASTER_SEED,
                                                          bm.TAG, ""))
    kwargs = dict(entry.peer.kwargs)
    if kwargs.get("brackets") == "all":
        meta = json.loads((export.folder / "meta.json").read_text())
        kwargs["brackets"] = n_brackets(meta["fidelity_values"], kwargs.get("grace_period", 1),
                                        kwargs.get("reduction_factor", 3))
    return {
        "repository": str(repository), "export_dir": str(export.folder), "benchmark": export.benchmark.name,
        "version": entry.version, "class": entry.peer.cls, "kwargs": kwargs,
        "multi_fidelity": entry.peer.multi_fidelity, "restrict": entry.peer.restrict,
        "max_resource_attr": MAX_RESOURCE_ATTR if entry.version == "0.13" else None,
        "seed": seed, "backend_seed": backend_seed, "method_seed": method_seed % 2**31,
        "n_workers": export.benchmark.n_workers, "budget": export.benchmark.max_wallclock_time,
        "tick": export.clock.tick, "time_scale": export.clock.time_scale, "out": str(out),
    }


def store_peer_run(spec: dict[str, Any], output: dict[str, Any], export: Export, results_root: Path,
                   label: str) -> tuple[int, int]:
    """The peer's run in our results layout (results/trials parquet, metadata.json); returns (trials, results)
    within the budget."""
    import pandas as pd

    from launchers.results_writer import experiment_path, write_metadata

    bench = export.benchmark
    results = pd.DataFrame(output["results"], columns=["trial_id", "fidelity", "value", "sim_time", "decision"])
    last_time = float(results["sim_time"].max()) if len(results) else 0.0
    budget = bench.max_wallclock_time
    results = results[results["sim_time"] <= budget * (1 + 1e-9)].reset_index(drop=True)
    results = results.rename(columns={"value": bench.metric})
    path = Path(experiment_path(str(results_root), bm.TAG, bench.name, label, spec["seed"]))
    path.mkdir(parents=True, exist_ok=True)
    results.to_parquet(path / "results.parquet", index=False)
    configs = {int(k): v for k, v in output["configs"].items()}
    trial_ids = sorted(set(results["trial_id"].tolist()))
    counts = results.groupby("trial_id").size()
    trials = pd.DataFrame({"trial_id": trial_ids, "n_results": [int(counts[t]) for t in trial_ids],
                           **{f"config.{name}": [configs.get(t, {}).get(name) for t in trial_ids]
                              for name in json.loads((export.folder / "meta.json").read_text())["space_names"]}})
    trials.to_parquet(path / "trials.parquet", index=False)
    write_metadata(str(path), {
        "format_version": 1, "status": "complete", "tag": bm.TAG, "benchmark": bench.name, "method": label,
        "seed": spec["seed"], "master_seed": bm.MASTER_SEED, "backend_seed": spec["backend_seed"],
        "method_seed": spec["method_seed"], "metric": bench.metric, "mode": bench.mode,
        "objectives": [bench.metric], "fidelity_name": json.loads((export.folder / "meta.json").read_text())[
            "fidelity_name"], "n_workers": bench.n_workers, "budget": {"max_wallclock_time": budget},
        "blackbox": bench.blackbox, "task": bench.task, "simulated": True,
        "end_reason": "max_wallclock_time" if last_time >= budget else "peer tuner stopped (no configuration left)",
        "n_results": len(results), "n_trials": len(trial_ids),
        "peer": {"version": output["peer_version"], "class": spec["class"], "kwargs": spec["kwargs"],
                 "restrict_to_table": spec["restrict"], "tick": spec["tick"], "time_scale": spec["time_scale"],
                 "distinct_rows_evaluated": output.get("evaluated_rows"), "suggest_kinds": output["suggest_kinds"],
                 "table_exhausted": output.get("table_exhausted", []), "threads": output.get("threads"),
                 "numpy": output["numpy"], "pandas": output["pandas"]},
        "runtime_seconds": output["real_seconds"],
    })
    return len(trial_ids), len(results)


def _reusable(out: Path, spec_path: Path, spec: dict[str, Any]) -> bool:
    """A finished peer run in the work folder is reused when it was run from exactly this spec (same table
    export, class, arguments, seeds, budget, clock): the peer's GP methods take minutes per run, so adding
    seeds to a ``--work-dir`` only runs the new ones. Its recorded decision times are reused with it."""
    if not (out.is_file() and _same_spec(spec_path, spec)):
        return False
    try:
        return "calls" in json.loads(out.read_text())
    except json.JSONDecodeError:
        return False


def _same_spec(spec_path: Path, spec: dict[str, Any]) -> bool:
    try:
        return json.loads(spec_path.read_text()) == json.loads(json.dumps(spec))
    except (OSError, json.JSONDecodeError):
        return False


def run_peer_one(entry: Entry, export: Export, repository: Path, results_root: Path, seed: int, python: str,
                 scratch: Path, timeout: float | None, new_runs: bool = True) -> bm.RunRecord:
    out = scratch / f"{export.benchmark.name}-{entry.label}-{seed}.json"
    spec = peer_spec(entry, export, repository, seed, out)
    spec_path = out.with_suffix(".spec.json")
    crash = out.with_suffix(".crash.txt")
    t0 = time.perf_counter()
    if crash.is_file() and _same_spec(spec_path, spec):
        # The peer crashed on exactly this run before (a crash is deterministic: same seeds, same table);
        # delete the .crash.txt file to try again.
        return bm.RunRecord(export.benchmark.name, entry.label, seed, 0.0, {}, np.empty(0, dtype=np.int64),
                            error=crash.read_text())
    if not new_runs and not _reusable(out, spec_path, spec):
        timeout_file = out.with_suffix(".timeout.txt")
        earlier = timeout_file.read_text().strip().splitlines()[0] if timeout_file.is_file() and \
            _same_spec(spec_path, spec) else "RuntimeError: not finished yet"
        return bm.RunRecord(export.benchmark.name, entry.label, seed, 0.0, {}, np.empty(0, dtype=np.int64),
                            error=f"{earlier} (not run again: --no-new-peer-runs)")
    try:
        if not _reusable(out, spec_path, spec):
            out.unlink(missing_ok=True)
            out.with_suffix(".timeout.txt").unlink(missing_ok=True)
            crash.unlink(missing_ok=True)
            spec_path.write_text(json.dumps(spec))
            call_driver(python, "run", str(spec_path), timeout=timeout, stderr_file=out.with_suffix(".stderr.txt"))
        output = json.loads(out.read_text())
        store_peer_run(spec, output, export, results_root, entry.label)
    except Exception as err:  # noqa: BLE001 - a crashing peer run is reported, not fatal to the others
        error = f"{type(err).__name__}: {err}"
        # A timeout depends on the host's load: it is kept apart and retried (except with --no-new-peer-runs).
        (out.with_suffix(".timeout.txt") if "exceeded --peer-timeout" in error else crash).write_text(error)
        return bm.RunRecord(export.benchmark.name, entry.label, seed, time.perf_counter() - t0, {},
                            np.empty(0, dtype=np.int64), error=error)
    calls = {
        "suggest": np.asarray(output["calls"]["suggest"]),
        "on_result": np.asarray(output["calls"]["on_trial_result"]),
        "on_trial_complete": np.asarray(output["calls"]["on_trial_complete"]),
    }
    return bm.RunRecord(export.benchmark.name, entry.label, seed, time.perf_counter() - t0, calls,
                        np.empty(0, dtype=np.int64))


def run_peers(entries: list[Entry], exports: list[Export], repository: Path, results_root: Path,
              seeds: list[int], pythons: dict[str, str], n_jobs: int, scratch: Path,
              timeout: float | None, new_runs: bool = True) -> list[bm.RunRecord]:
    from joblib import Parallel, delayed

    jobs = [(e, x, s) for x in exports for e in entries for s in seeds]
    # Model-based peers are the slow ones; start them first so the processes finish together.
    jobs.sort(key=lambda j: j[0].peer.cls in ("RandomSearch", "ASHA"))
    records = []
    t0 = time.perf_counter()
    parallel = Parallel(n_jobs=n_jobs, backend="threading", return_as="generator_unordered")
    for i, record in enumerate(parallel(delayed(run_peer_one)(e, x, repository, results_root, s, pythons[e.version],
                                                               scratch, timeout, new_runs) for e, x, s in jobs),
                               start=1):
        records.append(record)
        status = "FAILED: " + record.error.splitlines()[0] if record.error else "ok"
        print(f"[{time.perf_counter() - t0:7.1f} s] peer {i}/{len(jobs)} ({record.benchmark} {record.method} seed "
              f"{record.seed}: {status}, {record.seconds:.1f} s)", file=sys.stderr, flush=True)
    return records


# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------

def _interval_cell(per_task: list[np.ndarray] | None) -> list[str]:
    if per_task is None:
        return ["n/a"] * len(FRACTIONS)
    intervals = regret_intervals(per_task, [bm.grid_index(f) for f in FRACTIONS], n_boot=N_BOOT,
                                 seed=BOOTSTRAP_SEED)
    return [f"{bm.fmt(i.point)} [{bm.fmt(i.lower)}, {bm.fmt(i.upper)}]" for i in intervals]


def partial_seed_regret(table: bm.RegretTable, plan: bm.Plan, ok: set[tuple[str, str, int]], results_root: Path,
                        repository: Path) -> dict[str, int]:
    """Methods that lack some seeds on a benchmark (a crashed or timed-out peer run) are left out of ``table``;
    where at least two seeds succeeded on every benchmark with a known table bound, their regret over those
    seeds is added to ``table`` and the method is returned with its number of seeds (the report says so)."""
    out: dict[str, int] = {}
    for name in plan.methods:
        missing = [b for b in plan.benchmarks if (b.name, name) not in table.values and b.name in table.bounds]
        if not missing:
            continue
        seeds = [s for s in plan.seeds if all((b.name, name, s) in ok for b in missing)]
        if len(seeds) < 2 or any(table.bound_source.get(b.name) != "table" for b in missing):
            continue  # bounds taken from the runs would change with the runs included
        sub = bm.regret_curves(results_root, repository, bm.Plan(missing, [name], seeds), ok)
        table.values.update(sub.values)
        out[name] = len(seeds)
    return out


def regret_markdown(entries: list[Entry], table: bm.RegretTable, groups: list[tuple[str, list[str]]],
                    sides: str, partial: dict[str, int] | None = None) -> list[str]:
    partial = partial or {}
    lines = [("IQM normalised regret over seeds x tasks at 25% / 50% / 100% of the budget, 95% stratified-bootstrap "
             f"intervals ({N_BOOT} resamples of the seeds within each task); lower is better; '(k seeds)': only k "
             "runs succeeded (see the run problems below), the cell is over those:"), ""]
    for group, members in groups:
        lines += [f"**{group}** ({len(members)} task{'s' if len(members) > 1 else ''}):", "",
                  "| method | side | 25% | 50% | 100% |", "|---|---|---|---|---|"]
        shown: set[str] = set()
        for entry in entries:
            for side, name in (("ours", entry.method), (f"peer {entry.version}", entry.label)):
                if (side == "ours" and sides == "peer") or (side != "ours" and sides == "ours") or name in shown:
                    continue  # ours appears once even when compared with both peer versions
                shown.add(name)
                parts = [table.values.get((b, name)) for b in members]
                cells = _interval_cell(None if any(p is None for p in parts) else parts)
                note = f" ({partial[name]} seeds)" if name in partial and cells[0] != "n/a" else ""
                lines.append(f"| {entry.method} | {side}{note} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def work_and_time_markdown(entries: list[Entry], records: list[bm.RunRecord], results_root: Path,
                           sides: str) -> list[str]:
    import pandas as pd

    counts: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.error:
            continue
        folder = Path(results_root) / bm.TAG / r.benchmark / r.method / str(r.seed)
        # Both sides counted the same way: trials with a result within the budget, and those results.
        results = pd.read_parquet(folder / "results.parquet", columns=["trial_id"])
        trials = int(results["trial_id"].nunique())
        summary = decision_summary(r.calls, trials)
        counts[r.method]["suggest"].append(summary.suggest_median)
        counts[r.method]["per_trial"].append(summary.seconds_per_trial)
        counts[r.method]["trials"].append(trials)
        counts[r.method]["results"].append(len(results))
        counts[r.method]["calls"].append(summary.suggest_calls)
        peer = json.loads((folder / "metadata.json").read_text()).get("peer", {})
        if peer.get("distinct_rows_evaluated") is not None:
            counts[r.method]["rows"].append(peer["distinct_rows_evaluated"])

    def med(name: str, key: str) -> float:
        values = counts.get(name, {}).get(key)
        return float(np.median(values)) if values else math.nan

    lines = [("Decision time and work per run (medians over runs): median `suggest` call (ms); all timed scheduler "
             "calls (`suggest`, result and completion callbacks) per trial (ms); ratio = peer / ours (target >= 5); "
             "trials with a result within the budget, results reported within it and `suggest` calls, per run; "
             "distinct table rows the peer evaluated under the nearest-row protocol (several proposals can land on one "
             "row; ours picks table rows, random search without replacement):"), "",
             ("| method | suggest ours | suggest peer | ratio | per trial ours | per trial peer | ratio | "
             "trials ours / peer | results ours / peer | suggest calls ours / peer | peer distinct rows |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(x: float) -> str:
        if not np.isfinite(x):
            return "n/a"
        x *= 1e3
        return f"{x:.3g}" if x < 100 else f"{x:,.0f}"

    def rt(x: float) -> str:
        return "n/a" if not np.isfinite(x) else f"{x:.1f}x"

    def count(name: str, key: str) -> str:
        x = med(name, key)
        return "n/a" if not np.isfinite(x) else f"{x:.0f}"

    for e in entries:
        o, p = e.method if sides != "peer" else "", e.label if sides != "ours" else ""
        lines.append(
            f"| {e.method} (peer {e.version}) | {ms(med(o, 'suggest'))} | {ms(med(p, 'suggest'))} | "
            f"{rt(ratio(med(p, 'suggest'), med(o, 'suggest')))} | {ms(med(o, 'per_trial'))} | "
            f"{ms(med(p, 'per_trial'))} | {rt(ratio(med(p, 'per_trial'), med(o, 'per_trial')))} | "
            f"{count(o, 'trials')} / {count(p, 'trials')} | {count(o, 'results')} / {count(p, 'results')} | "
            f"{count(o, 'calls')} / {count(p, 'calls')} | {count(p, 'rows') if e.peer.restrict is False else '-'} |")
    return lines


@dataclass
class PeerRunNotes:
    """Per peer label, over its finished runs: how many there are, how many used up a restricted table (the
    driver answered the peer's crash with "no configuration"), and how many ran with every BLAS/OpenMP pool at
    one thread (recorded by the driver; runs made before the driver recorded it have no record)."""

    runs: int = 0
    exhausted: int = 0
    one_thread: int = 0


def peer_run_notes(records: list[bm.RunRecord], results_root: Path) -> dict[str, PeerRunNotes]:
    out: dict[str, PeerRunNotes] = defaultdict(PeerRunNotes)
    for r in records:
        if r.error:
            continue
        metadata = Path(results_root) / bm.TAG / r.benchmark / r.method / str(r.seed) / "metadata.json"
        peer = json.loads(metadata.read_text()).get("peer")
        if peer is None:
            continue
        notes = out[r.method]
        notes.runs += 1
        notes.exhausted += bool(peer.get("table_exhausted"))
        threads = peer.get("threads")
        notes.one_thread += bool(threads) and all(lib["threads"] == 1 for lib in threads)
    return dict(out)


def settings_markdown(entries: list[Entry], exports: list[Export],
                      notes: dict[str, PeerRunNotes] | None = None) -> list[str]:
    notes = notes or {}
    lines = [("| method | our arguments | peer | class and arguments | peer's configurations | deviation from the "
              "peer's code |"), "|---|---|---|---|---|---|"]
    for e in entries:
        kwargs = ", ".join(f"{k}={v}" for k, v in e.peer.kwargs.items()) or "defaults"
        ours = ", ".join(f"{k}={v}" for k, v in PEER_ALIGNED_KWARGS.get(e.method, {}).items()) or "defaults"
        where = ("table rows (`restrict_configurations`)" if e.peer.restrict else
                 "anywhere in the space, evaluated at the nearest table row")
        note = notes.get(e.label, PeerRunNotes())
        deviation = (f"table used up in {note.exhausted} of {note.runs} runs: the peer's `ValueError` in "
                     "`generate_candidates_en_bulk` answered with no configuration (its tuner then lets running "
                     "trials finish), see below" if note.exhausted else "none")
        lines.append(f"| {e.method} | {ours} | Syne Tune {e.version} | `{e.peer.cls}({kwargs})` | {where} | "
                     f"{deviation} |")
    lines += ["", ("| benchmark | rows | metric (mode) | budget (simulated s) | workers | peer tick (s) | "
              "peer time scale |"), "|---|---|---|---|---|---|---|"]
    for x in exports:
        b = x.benchmark
        lines.append(f"| {b.name} | {x.n_rows} | {b.metric} ({b.mode}) | {b.max_wallclock_time:g} | {b.n_workers} | "
                     f"{x.clock.tick:.3g} | {x.clock.time_scale:g} |")
    capped = sum(n.one_thread for n in notes.values())
    total = sum(n.runs for n in notes.values())
    uncapped = ", ".join(f"{label} {n.runs - n.one_thread} of {n.runs}" for label, n in notes.items()
                         if n.one_thread < n.runs)
    lines += ["", ("Threads: ours runs every model-based decision on one BLAS thread (threadpoolctl) and BORE's "
              "classifier with n_jobs=1; `peer_driver.py` caps every BLAS/OpenMP pool of a peer run at one thread "
              "(environment variables and threadpoolctl, recorded per run): "
              f"{capped} of {total} peer runs here have that record"
              + (f"; without it (runs made before the driver capped threads, OpenBLAS's default of one thread "
                 f"per core): {uncapped}" if uncapped else "") + ".")]
    if any(n.exhausted for n in notes.values()):
        lines += ["", ("Used-up tables: Syne Tune 0.13's Gaussian-process searchers restricted to the table's rows raise "
                  "`ValueError: not enough values to unpack` in `RandomFromSetCandidateGenerator."
                  "generate_candidates_en_bulk` once every row has been proposed (its exclusion check knows no size "
                  "for a space with continuous hyperparameters). The driver catches exactly that error, checks that "
                  "every table row has been proposed, and answers no configuration, which is what the peer's "
                  "searchers return for an exhausted finite space: the tuner stops starting trials and the running "
                  "ones finish. Ours does the same when the table is used up (see '(ends at x)' below).")]
    return lines


def report(args: argparse.Namespace, plan: bm.Plan, entries: list[Entry], exports: list[Export],
           records: list[bm.RunRecord], results_root: Path, repository: Path, wall: float) -> str:
    names = ([e.method for e in entries] if args.sides != "peer" else []) + \
            ([e.label for e in entries] if args.sides != "ours" else [])
    full = bm.Plan(plan.benchmarks, list(dict.fromkeys(names)), plan.seeds)
    health, ok = bm.run_health(results_root, full, records)
    table = bm.regret_curves(results_root, repository, full, ok)
    partial = partial_seed_regret(table, full, ok, results_root, repository)
    groups = [(g, [b.name for b in plan.benchmarks if b.family == g and b.name in table.bounds]) for g in FAMILIES]
    groups = [(g, m) for g, m in groups if m]
    if len(groups) > 1:
        groups.append(("all", [n for _, m in groups for n in m]))
    lines = [f"## Our methods next to the peer's ({'quick' if args.quick else 'full'} mode)", "",
             (f"Seeds {plan.seeds[0]}..{plan.seeds[-1]} ({len(plan.seeds)} per benchmark), master seed {bm.MASTER_SEED}, "
             f"{args.n_jobs} processes, sides: {args.sides}. Command: `python benchmarks/bench_methods_peer.py "
             f"{' '.join(args.argv)}`."), ""]
    lines += settings_markdown(entries, exports, peer_run_notes(records, results_root)) + [""]
    lines += regret_markdown(entries, table, groups, args.sides, partial)
    lines += work_and_time_markdown(entries, records, results_root, args.sides) + [""]
    lines += health
    lines += ["", f"Total wall time: {wall:.0f} s."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=None,
                        help="our method names, optionally with a peer version (ASHA@0.13); default: every method "
                             f"with a peer counterpart ({', '.join(PEER_METHODS)})")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per benchmark (default 5; quick: 2)")
    parser.add_argument("--quick", action="store_true", help="one task per family, 2 seeds")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="keep only these tasks of the chosen families (e.g. adult higgs digits)")
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every benchmark's budget")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel processes per side (default 2)")
    parser.add_argument("--sides", choices=("both", "ours", "peer"), default="both",
                        help="run both implementations (default), or only ours / only the peer's")
    parser.add_argument("--peer16-python", default=None, help=f"Syne Tune 0.16 interpreter ({PYTHON_ENV['0.16']})")
    parser.add_argument("--peer13-python", default=None, help=f"Syne Tune 0.13 interpreter ({PYTHON_ENV['0.13']})")
    parser.add_argument("--peer-timeout", type=float, default=None,
                        help="real seconds after which a peer run is killed and reported as failed (default: none; "
                             "the peer's GP methods take minutes per run at full budget)")
    parser.add_argument("--data", type=Path, default=bm.DEFAULT_DATA, help="real data folder")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep exports, converted tables and results here (default: a temporary folder)")
    parser.add_argument("--no-new-peer-runs", action="store_true",
                        help="with --work-dir: report only the peer runs already finished there (a run that crashed "
                             "or timed out before is reported with that reason) instead of running the missing ones")
    parser.add_argument("--reuse-ours", action="store_true",
                        help="with --work-dir: take our finished runs stored in its results folder (e.g. copied from "
                             "a bench_methods.py --work-dir: same tag, master seed and benchmarks) instead of "
                             "running them again; peer runs are always reused when their spec is unchanged")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    if (args.reuse_ours or args.no_new_peer_runs) and args.work_dir is None:
        parser.error("--reuse-ours and --no-new-peer-runs need --work-dir")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    requested = args.methods or list(PEER_METHODS)
    entries = []
    for name in requested:
        try:
            entries.append(Entry(*parse_method(name, PEER_METHODS, DEFAULT_VERSION)))
        except ValueError as err:
            parser.error(str(err))
    if args.sides != "peer":
        from baselines.registry import list_methods

        ours = set(list_methods())
        missing = [e.method for e in entries if e.method not in ours]
        if missing:
            both = [m for m in PEER_METHODS if m in ours]
            parser.error(f"method(s) {missing} are not registered in hpo-arena (not merged yet?); methods with "
                         f"both sides: {', '.join(both)}; use --sides peer to run only the peer's")
    args.entries = list(dict.fromkeys(entries))
    if args.seeds is None:
        args.seeds = 2 if args.quick else 5
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.n_jobs < 1:
        parser.error("--n-jobs must be at least 1")
    if args.peer_timeout is not None and args.peer_timeout <= 0:
        parser.error("--peer-timeout must be positive")
    return args


def select_tasks(plan: bm.Plan, tasks: Sequence[str] | None) -> None:
    if tasks is None:
        return
    known = {b.task for b in plan.benchmarks}
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise SystemExit(f"error: tasks {unknown} are not in the chosen families; available: {sorted(known)}")
    plan.benchmarks = [b for b in plan.benchmarks if b.task in tasks]


# Our arguments aligned with the peer's algorithm where our default differs. Syne Tune's synchronous Hyperband
# (SyncBOHB, SyncMOBSTER) hands an idle worker a slot of the next bracket whenever the open brackets have no free
# slot (``SynchronousHyperbandBracketManager.next_job`` creates a new bracket), while our synchronous Hyperband
# defaults to the textbook one open bracket (workers wait for a rung to complete): unbounded open brackets are
# the peer's behaviour.
PEER_ALIGNED_KWARGS: dict[str, dict[str, Any]] = {
    "SYNC-BOHB": {"max_open_brackets": 10**6},
    "SYNC-MOBSTER": {"max_open_brackets": 10**6},
}


@dataclass
class PeerAlignedPlan(bm.Plan):
    """``bench_methods``'s plan with our methods' arguments aligned with the peer's (``PEER_ALIGNED_KWARGS``)."""

    def method_kwargs(self, bench: SimulatedBenchmark, method: str) -> dict[str, Any]:
        return {**super().method_kwargs(bench, method), **PEER_ALIGNED_KWARGS.get(method, {})}


def full_plan(args: argparse.Namespace) -> bm.Plan:
    # --tasks chooses among all tasks of the families (the quick subset would hide some).
    base = bm.make_plan(args.families, [], args.seeds, args.quick and args.tasks is None, args.budget_scale)
    plan = PeerAlignedPlan(base.benchmarks, base.methods, base.seeds, base.excluded)
    select_tasks(plan, args.tasks)
    plan.methods = list(dict.fromkeys(e.method for e in args.entries))
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"error: real data folder {args.data} not found; pass --data", file=sys.stderr)
        return 2
    pythons = {}
    if args.sides != "ours":
        pythons = {v: peer_python(v, args) for v in sorted({e.version for e in args.entries})}
    t0 = time.perf_counter()
    plan = full_plan(args)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-methods-peer-"))
    repository, results_root = work / "repository", work / "results"
    if not args.reuse_ours:
        shutil.rmtree(results_root / bm.TAG, ignore_errors=True)
    repository.mkdir(parents=True, exist_ok=True)
    try:
        bm.prepare_repository(plan, args.data, repository, probe=False)
        records: list[bm.RunRecord] = []
        exports: list[Export] = []
        for bench in plan.benchmarks:
            exports.append(export_table(bench, repository, work / "export"))
        if args.sides != "ours":
            for version, python in pythons.items():
                peer_repository = work / f"peer-{version}"
                for x in exports:
                    call_driver(python, "serialize", str(x.folder), str(peer_repository))
        if args.sides != "peer":
            records += bm.run_all(plan, repository, results_root, args.n_jobs, probe=False, reuse=args.reuse_ours)
        if args.sides != "ours":
            scratch = work / "peer-runs"
            scratch.mkdir(parents=True, exist_ok=True)
            for version in pythons:
                chosen = [e for e in args.entries if e.version == version]
                records += run_peers(chosen, exports, work / f"peer-{version}", results_root, plan.seeds,
                                     pythons, args.n_jobs, scratch, args.peer_timeout,
                                     new_runs=not args.no_new_peer_runs)
        text = report(args, plan, args.entries, exports, records, results_root, repository,
                      time.perf_counter() - t0)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
