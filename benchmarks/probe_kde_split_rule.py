"""Our SYNC-BOHB under three rules for when BOHB's KDE model starts and how results split into good and bad.

    python benchmarks/probe_kde_split_rule.py [--tasks digits breast_cancer] [--seeds 20] [--out FILE.md]

A probe for the SYNC-BOHB comparison of ``bench_methods_peer.py``, not a method: the rules only differ in
``KDESearcher.split`` / ``can_split`` (patched here, in this process), everything else is our SYNC-BOHB with the
peer-aligned arguments of ``bench_methods_peer.PEER_ALIGNED_KWARGS``, on the xgboost-sklearn tables, with the
seeds of ``bench_methods`` (so the ``hpbandster`` rows reproduce ``bench_methods_peer.py``'s SYNC-BOHB rows).
With ``n`` results at a fidelity, ``d`` hyperparameters, ``q`` = top_n_percent / 100, results sorted best first:

* ``hpbandster`` (ours, hpbandster's ``bohb.py``): ``n_good = max(d + 1, floor(q n))`` best, the next
  ``max(d + 1, floor((1 - q) n))`` bad; a model once both sets hold more than ``d`` points (from n = 2d + 2).
* ``paper`` (Falkner et al. 2018, Algorithm 2 and Eqs. 2-3 as printed): a model once ``n >= N_min + 2`` with
  ``N_min = d + 1``; ``n_good = max(N_min, floor(q n))`` best and the ``max(N_min, n - n_good)`` worst as bad (the
  two sets overlap while ``n < 2 N_min``).
* ``syne-tune-0.13`` (the peer's ``KernelDensityEstimator._check_data_shape_and_good_size``):
  ``n_good = max(d, floor(q n))`` best, every other result bad; a model once ``min(n_good, n - n_good) > d``,
  i.e. once ``floor(q n) > d`` (from n = 54 with d = 7 and q = 0.15).

Output: IQM normalised regret at 25/50/100% of the budget with 95% stratified-bootstrap intervals per rule and
task (the same code and bootstrap seed as ``bench_methods_peer.py``), and the median number of results at the
first model's fidelity when the first model-based proposal was made.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_methods as bm
import bench_methods_peer as bmp
from comparison_helpers import print_report

from baselines.kde import KDESearcher
from baselines.searcher_common import _NO_FIDELITY

RULES = ("hpbandster", "paper", "syne-tune-0.13")
METHOD = "SYNC-BOHB"


def _paper_split(self: KDESearcher, data) -> tuple[np.ndarray, np.ndarray] | None:
    n, n_min = len(data.y), self.dim + 1
    if n < n_min + 2:
        return None
    n_good = max(n_min, (self.top_n_percent * n) // 100)
    n_bad = max(n_min, n - n_good)
    order = np.argsort(data.y, kind="stable")
    return order[:n_good], order[n - n_bad:]


def _paper_can_split(self: KDESearcher, n: int) -> bool:
    return n >= self.dim + 3


def _peer_split(self: KDESearcher, data) -> tuple[np.ndarray, np.ndarray] | None:
    n = len(data.y)
    if not _peer_can_split(self, n):
        return None
    n_good = max(self.dim, (self.top_n_percent * n) // 100)
    order = np.argsort(data.y, kind="stable")
    return order[:n_good], order[n_good:]


def _peer_can_split(self: KDESearcher, n: int) -> bool:
    n_good = max(self.dim, (self.top_n_percent * n) // 100)
    return min(n_good, n - n_good) > self.dim


PATCHES = {"paper": (_paper_split, _paper_can_split), "syne-tune-0.13": (_peer_split, _peer_can_split)}


@contextlib.contextmanager
def split_rule(rule: str, first_model: list[int]) -> Iterator[None]:
    """KDESearcher with ``rule`` (see the module docstring); appends to ``first_model`` the number of results at
    the model's fidelity when each run's first model-based proposal is made."""
    original = KDESearcher.split, KDESearcher.can_split, KDESearcher._propose_from
    if rule in PATCHES:
        KDESearcher.split, KDESearcher.can_split = PATCHES[rule]

    def propose_from(self, model):
        if not getattr(self, "_probe_seen_model", False):
            self._probe_seen_model = True
            first_model.append(self._count_at[model.fidelity if model.fidelity is not None else _NO_FIDELITY])
        return original[2](self, model)

    KDESearcher._propose_from = propose_from
    try:
        yield
    finally:
        KDESearcher.split, KDESearcher.can_split, KDESearcher._propose_from = original


def run_rule(rule: str, plan: bm.Plan, root: Path) -> tuple[bm.RegretTable, dict[str, list[int]], list[str]]:
    """Every run of ``plan`` under ``rule``: the regret table, per benchmark the first model's data size of each
    run that used a model, and the failed runs."""
    from launchers.experiment import ExperimentSpec

    results_root = root / rule
    first_model: list[int] = []
    per_bench: dict[str, list[int]] = {b.name: [] for b in plan.benchmarks}
    failed, records = [], []
    with split_rule(rule, first_model):
        for bench, method, seed in plan.runs():
            spec = ExperimentSpec(bench, method, seed, bm.MASTER_SEED, bm.TAG, str(results_root),
                                  method_kwargs=plan.method_kwargs(bench, method),
                                  blackbox_root=bm.blackbox_root(bench, root / "repository"))
            before = len(first_model)
            record = bm.run_one(spec)
            per_bench[bench.name] += first_model[before:]
            if record.error:
                failed.append(f"{bench.name} seed {seed}: {record.error.strip().splitlines()[-1]}")
            records.append(record)
    _, ok = bm.run_health(results_root, plan, records)
    return bm.regret_curves(results_root, root / "repository", plan, ok), per_bench, failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["digits"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the runs here (results/<rule>/..., our results layout) instead of a temporary folder")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (bootstrap intervals)")
    t0 = time.perf_counter()
    base = bm.make_plan(["xgboost-sklearn"], [METHOD], args.seeds, False, 1.0)
    plan = bmp.PeerAlignedPlan(base.benchmarks, [METHOD], base.seeds, base.excluded)
    bmp.select_tasks(plan, args.tasks)
    lines = ["## SYNC-BOHB (ours) under three KDE split rules", "",
             (f"Seeds 0..{args.seeds - 1}, master seed {bm.MASTER_SEED}, arguments "
              f"{bmp.PEER_ALIGNED_KWARGS.get(METHOD, {})}. Command: `python benchmarks/probe_kde_split_rule.py "
              f"{' '.join(argv if argv is not None else sys.argv[1:])}`. IQM normalised regret, 95% stratified-"
              f"bootstrap intervals ({bmp.N_BOOT} resamples); 'first model at n': median number of results at the "
              "model's fidelity when a run's first model-based proposal was made."), "",
             "| task | rule | 25% | 50% | 100% | first model at n | failed runs |", "|---|---|---|---|---|---|---|"]
    problems: list[str] = []
    with contextlib.ExitStack() as stack:
        root = args.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="probe-kde-")))
        (root / "repository").mkdir(parents=True, exist_ok=True)
        for rule in args.rules:
            table, first_model, failed = run_rule(rule, plan, root)
            for bench in plan.benchmarks:
                values = table.values.get((bench.name, METHOD))
                cells = bmp._interval_cell(None if values is None else [values])
                sizes = first_model[bench.name]
                first = f"{np.median(sizes):.0f} ({len(sizes)} runs)" if sizes else "never"
                lost = sum(line.startswith(f"{bench.name} ") for line in failed)
                lines.append(f"| {bench.task} | {rule} | " + " | ".join(cells) + f" | {first} | {lost} |")
            problems += failed
            print(f"[{time.perf_counter() - t0:6.1f} s] rule {rule} done", file=sys.stderr, flush=True)
    lines += ["", "Failed runs: " + ("; ".join(problems) if problems else "none") + ".",
              f"Total wall time: {time.perf_counter() - t0:.0f} s."]
    text = "\n".join(lines) + "\n"
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
