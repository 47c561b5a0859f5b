"""Transfer methods against their non-transfer counterparts on LCBench, leave one task out.

Every LCBench task of ``../shared/data/lcbench_curves`` is converted into a temporary repository; each target
task is tuned as ``transfer-lcbench-ce-TASK`` (validation cross-entropy, 50 epochs, 4 workers, 1000 simulated
seconds = 1000 epochs, methods restricted to the 2000 tabulated configurations), the transfer methods learning
from the other tasks' evaluations (never the target's). Pairs: ZERO-SHOT and BOUNDING-BOX against RS (every
trial to 50 epochs), ASHA-CTS and RUSH against ASHA.

Printed: the normalised regret of the best validation cross-entropy found so far, ``(best so far - table
best) / (table worst - table best)`` of the target, at 5%, 10%, 25%, 50% and 100% of the budget; IQM over
(target tasks x seeds) with 95% stratified-bootstrap intervals (``benchmarks.comparison_helpers.regret_intervals``);
then each transfer method against its non-transfer counterpart (the difference of the IQMs, and in how many of
the target x seed pairs the transfer method's regret is lower, ties apart).

With ``--peer-methods ZERO-SHOT BOUNDING-BOX RS`` (``NAME@0.13`` for the older peer) the peer's
``ZeroShotTransfer`` and ``BoundingBox`` (around its ``RandomSearch``) and its random search run on the same
targets, budgets, workers and seeds through ``peer_driver.py`` in the peer's interpreter (``--peer16-python`` /
``--peer13-python`` or ``HPO_ARENA_PEER16_PYTHON`` / ``HPO_ARENA_PEER13_PYTHON``). Their transfer data is ours:
the ``TransferData`` our framework builds for the target (``launchers.transfer_data.build_transfer_data``: the
other tasks' evaluations, seed-averaged, every fidelity) written as the peer's
``TransferLearningTaskEvaluations`` (``peer_mo_transfer.export_transfer_data``), so both sides learn from the
same source tasks and values, never the target's. The peer scores a source configuration by its best value over
the fidelities, ours by its final value (each side's own rule). The peer's proposals are evaluated at the nearest
table row; its regret is computed by the same function from every result within the budget.

    python benchmarks/bench_transfer.py --targets adult higgs jannis volkert christine --seeds 5 \
        --peer-methods ZERO-SHOT BOUNDING-BOX RS --work-dir DIR --out FILE.md
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

METHODS = ("RS", "ZERO-SHOT", "BOUNDING-BOX", "ASHA", "ASHA-CTS", "RUSH")
TARGETS = ("adult", "higgs", "jannis", "volkert", "christine")
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
PAIRS = (("ZERO-SHOT", "RS"), ("BOUNDING-BOX", "RS"), ("ASHA-CTS", "ASHA"), ("RUSH", "ASHA"))
METRIC = "val_cross_entropy"


def _one(args: tuple) -> str:
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    target, method, seed, results_root, blackbox_root = args
    return run_experiment(ExperimentSpec(benchmark=get_benchmark(f"transfer-lcbench-ce-{target}"), method=method,
                                         seed=seed, master_seed=2026, tag="transfer-bench",
                                         results_root=results_root, blackbox_root=blackbox_root))


def regret_curve(path: str, grid: np.ndarray) -> np.ndarray:
    """Normalised regret of the best value found by each time of ``grid`` (1 before any result)."""
    meta = json.loads((Path(path) / "metadata.json").read_text())
    results = pd.read_parquet(Path(path) / "results.parquet", columns=["sim_time", METRIC])
    return regret_from_results(results, grid, meta["metric_best_possible"], meta["metric_worst_possible"])


def regret_from_results(results: pd.DataFrame, grid: np.ndarray, best: float, worst: float) -> np.ndarray:
    """``regret_curve`` of a result frame (``sim_time`` and the metric) against the table's best and worst."""
    results = results.sort_values("sim_time", kind="stable")
    values = np.fmin.accumulate(results[METRIC].fillna(np.inf).to_numpy(dtype=float))
    index = np.searchsorted(results["sim_time"].to_numpy(dtype=float), grid, side="right") - 1
    found = np.where(index >= 0, values[np.maximum(index, 0)], worst)
    return np.clip((found - best) / (worst - best), 0.0, 1.0)


def run_peer_side(args, entries: list, repository: Path, work: Path) -> dict:
    """Every (peer method, target, seed): {(method label, target): [PeerRun, ...]}."""
    import bench_methods_peer as bmp
    from peer_mo_transfer import export_transfer_data, run_peer_jobs, serialize_for_peers

    from benchmark_definitions.registry import get_benchmark
    from launchers.transfer_data import build_transfer_data

    pythons = {v: bmp.peer_python(v, args) for v in sorted({e.version for e in entries})}
    exports, transfer_dirs = {}, {}
    for target in args.targets:
        bench = get_benchmark(f"transfer-lcbench-ce-{target}")
        exports[target] = bmp.export_table(bench, repository, work / "peer-export")
        transfer_dirs[target] = export_transfer_data(build_transfer_data(bench, str(repository)),
                                                     work / "peer-transfer" / target)
        serialize_for_peers(exports[target], pythons, work)
    jobs = [(e, exports[t], s, [METRIC], transfer_dirs[t] if e.peer.cls != "RandomSearch" else None)
            for t in args.targets for e in entries for s in range(args.seeds)]
    out: dict = {}
    for run in run_peer_jobs(jobs, work, pythons, args,
                             shown_name=lambda run: run.benchmark.removeprefix("transfer-lcbench-ce-")):
        out.setdefault((run.label, run.benchmark.removeprefix("transfer-lcbench-ce-")), []).append(run)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown to this file")
    from comparison_helpers import add_peer_run_arguments, print_report

    add_peer_run_arguments(parser, "also run the peer's ZERO-SHOT, BOUNDING-BOX and RS (NAME or NAME@0.13)")
    args = parser.parse_args(argv)
    try:
        from peer_mo_transfer import PEER_TRANSFER_METHODS, peer_entries

        entries = peer_entries(args.peer_methods, PEER_TRANSFER_METHODS)
    except ValueError as err:
        parser.error(str(err))

    from comparison_helpers import regret_intervals
    from joblib import Parallel, delayed

    from benchmark_definitions.registry import LCBENCH_TASKS, get_benchmark
    from blackbox_repo.conversion import convert
    from blackbox_repo.repository import list_blackboxes

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    repository, results_root = work / "repository", work / "results"
    if "lcbench-val-ce" not in (list_blackboxes(repository) if repository.is_dir() else []):
        if not (args.data / "lcbench_curves").is_dir():
            raise SystemExit(f"needs the LCBench curves in {args.data / 'lcbench_curves'} (--data DIR)")
        convert("lcbench-npz", args.data / "lcbench_curves", repository, tasks=list(LCBENCH_TASKS), progress=False)
    jobs = [(target, method, seed, str(results_root), str(repository))
            for target in args.targets for method in args.methods for seed in range(args.seeds)]
    t0 = time.perf_counter()
    paths = Parallel(n_jobs=args.n_jobs)(delayed(_one)(job) for job in jobs)
    elapsed = time.perf_counter() - t0
    peer_runs = run_peer_side(args, entries, repository, work) if entries else {}
    peer_elapsed = time.perf_counter() - t0 - elapsed

    budget = get_benchmark(f"transfer-lcbench-ce-{args.targets[0]}").max_wallclock_time
    grid = np.array(FRACTIONS) * budget
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    for (target, method, _, _, _), path in zip(jobs, paths):
        curves.setdefault((method, target), []).append(regret_curve(path, grid))
        meta = json.loads((Path(path) / "metadata.json").read_text())
        bounds[target] = (meta["metric_best_possible"], meta["metric_worst_possible"])
    failures = []
    for (label, target), runs in peer_runs.items():
        for run in sorted(runs, key=lambda r: r.seed):
            if run.error:
                failures.append(f"{target} {label} seed {run.seed}: {run.error.splitlines()[-1]}")
                continue
            curves.setdefault((label, target), []).append(regret_from_results(run.results, grid, *bounds[target]))

    def row(name: str, shown: str) -> str | None:
        per_task = [np.stack(curves[(name, t)]) for t in args.targets if (name, t) in curves]
        if len(per_task) != len(args.targets) or len({len(p) for p in per_task}) != 1:
            return None
        cells = regret_intervals(per_task, list(range(len(FRACTIONS))))
        return f"| {shown} | " + " | ".join(f"{c.point:.4f} [{c.lower:.4f}, {c.upper:.4f}]" for c in cells) + " |"

    header = ["| method | " + " | ".join(f"{f:.0%} of budget" for f in FRACTIONS) + " |",
              "|---|" + "---|" * len(FRACTIONS)]
    lines = [(f"Normalised regret of the best validation cross-entropy so far, IQM over {len(args.targets)} target "
             f"tasks x {args.seeds} seeds [95% stratified-bootstrap interval], leave-one-task-out over the "
             f"{len(LCBENCH_TASKS)} LCBench tasks (targets: {', '.join(args.targets)}); lower is better."), ""]
    lines += header
    for method in args.methods:
        lines.append(row(method, method) or f"| {method} | incomplete |")
    for e in entries:
        lines.append(row(e.label, f"peer {e.version} {e.method}") or f"| peer {e.version} {e.method} | incomplete "
                     "(see failures) |")
    pairs = [(a, b) for a, b in PAIRS if a in args.methods and b in args.methods]
    pairs += [(e.label, x.label) for e in entries for x in entries
              if e.method != "RS" and x.method == "RS" and e.version == x.version]
    if pairs:
        lines += ["", ("Transfer against non-transfer, per budget fraction: IQM of the transfer method's regret minus "
                       "the counterpart's (negative: transfer better), and the target x seed pairs where the "
                       "transfer method's regret is lower / higher."), ""]
        lines += ["| transfer vs counterpart | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |",
                  "|---|" + "---|" * len(FRACTIONS)]
        from results.statistics import iqm

        for a, b in pairs:
            if not all((m, t) in curves for m in (a, b) for t in args.targets):
                continue
            x = np.concatenate([np.stack(curves[(a, t)]) for t in args.targets])
            y = np.concatenate([np.stack(curves[(b, t)]) for t in args.targets])
            if x.shape != y.shape:
                continue
            cells = [f"{float(iqm(x[:, i]) - iqm(y[:, i])):+.4f} ({int((x[:, i] < y[:, i]).sum())} / "
                     f"{int((x[:, i] > y[:, i]).sum())})" for i in range(len(FRACTIONS))]
            lines.append(f"| {a} vs {b} | " + " | ".join(cells) + " |")
    if entries:
        lines += ["", ("Peer classes: " + "; ".join(
            f"{e.method} = Syne Tune {e.version} `{e.peer.cls}`"
            f"({', '.join(f'{k}={v}' for k, v in e.peer.kwargs.items()) or 'defaults'})" for e in entries)
            + f". The peer's runs: {sum(len(v) for v in peer_runs.values())} in {peer_elapsed:.0f} s.")]
        if failures:
            lines += ["", "Failed peer runs (their rows are incomplete): " + "; ".join(failures)]
    lines += ["", (f"{len(jobs)} runs of ours in {elapsed:.0f} s with {args.n_jobs} processes (complete runs in "
              f"--work-dir are reused). Command: `python benchmarks/bench_transfer.py "
              f"{' '.join(sys.argv[1:] if argv is None else argv)}`.")]
    print_report("\n".join(lines), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
