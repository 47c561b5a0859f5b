"""PBT against random search on the PBT example script, for real, at equal budget.

    python benchmarks/bench_pbt.py [--seeds 5] [--population-size 8] [--interval 10] [--workers 2] [--out FILE.md]

Both methods tune ``lr`` of ``launchers/examples/train_pbt_toy.py`` (the ``real-pbt-regression`` benchmark:
SGD on an ill-conditioned noisy linear regression, 100 steps, ``lr`` log-uniform in [0.003, 1]) through the
``Tuner`` and the ``LocalBackend`` (one process per trial, ``--workers`` at a time). Equal budget: PBT runs until its whole population
reached step 100, random search runs ``population_size`` trials to step 100: both report
``population_size * 100`` steps (the same number of SGD updates; the table shows the counts). The method seed of seed ``s``
is ``derive_seed(0, "method", s)`` for both methods, and the script's training streams are seeded by the
trial id, so both methods' first ``population_size`` trials start from the same configurations and streams.

Figures (lower is better), in excess validation loss (``val_loss`` minus the true model's error, so 0 is the
best any model can do; the ranking is the same as on ``val_loss``):

* **final**: the best model trained for the full 100 steps, i.e. the best ``excess_loss`` at step 100 (for PBT,
  the best member at the end of training; for random search, the best trial). This is what each method hands
  its user, and what PBT is meant to improve: the final model after a schedule of hyperparameters.
* **best anywhere**: the best ``excess_loss`` reported at any step by any trial. With SGD's jitter, this also
  rewards lucky dips of a noisy trajectory (a model one would only have if it was saved at that step).

Per seed, then mean and IQM (``results.statistics.iqm``) over seeds, and how many seeds PBT wins.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from baselines.registry import make_method
from benchmark_definitions.registry import get_benchmark
from blackbox_repo.search_space import SearchSpace
from blackbox_repo.seeding import derive_seed
from launchers.experiment import resolve_script
from launchers.local_backend import LocalBackend
from launchers.tuner import StoppingCriterion, Tuner
from results.statistics import iqm

BENCHMARK = "real-pbt-regression"


def run_one(method: str, seed: int, population_size: int, interval: float, workers: int,
            workdir: Path) -> dict[str, float]:
    bench = get_benchmark(BENCHMARK)
    space = SearchSpace.from_dict(bench.config_space)
    # Equal budget: PBT ends when its whole population reached the maximum; RS runs as many trials to the end.
    kwargs = ({"population_size": population_size, "perturbation_interval": interval} if method == "PBT"
              else {"max_trials": population_size})
    scheduler = make_method(method, space, bench.metric, bench.mode, bench.resource_attr, bench.max_fidelity,
                            seed=derive_seed(0, "method", seed), **kwargs)
    backend = LocalBackend(resolve_script(bench.script), n_workers=workers, fidelity_name=bench.resource_attr,
                           max_fidelity=bench.max_fidelity, workdir=workdir / f"{method}-{seed}",
                           trial_timeout=bench.trial_timeout, objectives_names=["val_loss", "excess_loss", "lr"])
    t0 = time.perf_counter()
    out = Tuner(scheduler, backend, StoppingCriterion()).run()
    frame = out.to_frame()
    at_end = frame[frame["fidelity"] == bench.max_fidelity]
    return {
        "final": float(np.nanmin(at_end["excess_loss"])) if len(at_end) else float("nan"),
        "anywhere": float(np.nanmin(frame["excess_loss"])),
        "steps": float(len(frame)), "trials": float(out.n_trials), "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--population-size", type=int, default=8)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"PBT": [], "RS": []}
    with tempfile.TemporaryDirectory(prefix="bench-pbt-") as tmp:
        for seed in range(args.seeds):
            for method, runs in rows.items():
                runs.append(run_one(method, seed, args.population_size, args.interval, args.workers, Path(tmp)))
                r = runs[-1]
                print(f"seed {seed} {method:>3}: final {r['final']:.4f}  anywhere {r['anywhere']:.4f}  "
                      f"({int(r['steps'])} steps, {int(r['trials'])} trials, {r['seconds']:.1f} s)", flush=True)
    title = (f"PBT (population {args.population_size}, interval {args.interval:g}) vs RS on {BENCHMARK}, "
             f"{args.workers} workers, budget {args.population_size * 100} steps each; excess validation loss "
             "(lower is better)")
    lines = [title, "",
             "| seed | PBT final | RS final | PBT anywhere | RS anywhere |", "|---|---|---|---|---|"]
    for seed in range(args.seeds):
        p, r = rows["PBT"][seed], rows["RS"][seed]
        lines.append(f"| {seed} | {p['final']:.4f} | {r['final']:.4f} | {p['anywhere']:.4f} | {r['anywhere']:.4f} |")
    for name, statistic in (("mean", np.mean), ("IQM", iqm)):
        cells = [float(statistic(np.array([row[key] for row in rows[m]])))
                 for key in ("final", "anywhere") for m in ("PBT", "RS")]
        lines.append(f"| {name} | {cells[0]:.4f} | {cells[1]:.4f} | {cells[2]:.4f} | {cells[3]:.4f} |")
    lines.append("")
    for key in ("final", "anywhere"):
        wins = sum(p[key] < r[key] for p, r in zip(rows["PBT"], rows["RS"]))
        lines.append(f"PBT better than RS ({key}) on {wins} of {args.seeds} seeds")
    text = "\n".join(lines)
    print("\n" + text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
