"""Surrogate interpolators on real LCBench curves, and YAHPO lcbench throughput.

For a few LCBench tasks (../shared/data/lcbench_curves/<task>.npz: 2000 configurations x validation
cross-entropy curves), 10% of the configurations are held out (seeded), each regressor is fitted on the
rest (whole curves, ``predict_curves=True``, no cache) and reports:

* fit time (s);
* prediction throughput: configurations per second, whole curves, one batched call over all 2000;
* held-out error: R^2 over every (configuration, epoch) value, and Spearman rank correlation of the
  final-epoch values across the held-out configurations (what matters for ranking configurations).

Then the YAHPO lcbench surrogate (../shared/data/yahpo/lcbench): configurations per second for whole
52-epoch curves (batched ``evaluate_batch``; one ``session.run`` per configuration, see
``blackbox_repo.yahpo.surrogate``) and for single-fidelity rows, plus the time of ``convert_yahpo``.

Run: ``python benchmarks/bench_surrogates.py [--tasks Fashion-MNIST adult higgs] [--models knn ...]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blackbox_repo.blackbox import TabularBlackbox
from blackbox_repo.conversion.lcbench_npz import read_lcbench_npz
from blackbox_repo.seeding import make_rng
from blackbox_repo.surrogate import MODELS, SurrogateBlackbox

DATA = ROOT / ".." / "shared" / "data"


def load_lcbench_task(task: str) -> tuple[TabularBlackbox, float]:
    """The task's table (through the npz converter) and the time it took to build."""
    start = time.perf_counter()
    table = read_lcbench_npz(DATA / "lcbench_curves", tasks=[task])[task]
    return table, time.perf_counter() - start


def split(table: TabularBlackbox, holdout: float, seed: int) -> tuple[TabularBlackbox, np.ndarray]:
    n = table.num_configs
    order = make_rng(seed, "holdout", str(table.task)).permutation(n)
    num_test = round(holdout * n)
    test, train = np.sort(order[:num_test]), np.sort(order[num_test:])
    train_table = TabularBlackbox(
        table.hyperparameters.iloc[train].reset_index(drop=True),
        np.ascontiguousarray(table.objectives[train]),
        table.configuration_space,
        table.objectives_names,
        table.metadata,
        table.fidelity_name,
        table.fidelity_values,
        task=table.task,
    )
    return train_table, test


def bench_regressors(tasks: list[str], models: list[str], holdout: float, seed: int) -> list[dict]:
    rows = []
    for task in tasks:
        table, convert_s = load_lcbench_task(task)
        print(f"\n{task}: table {table.objectives.shape} built in {convert_s:.2f} s", flush=True)
        train, test = split(table, holdout, seed)
        test_frame = table.hyperparameters.iloc[test].reset_index(drop=True)
        truth = np.asarray(table.objectives[test][:, 0, :, 0], dtype=np.float64)  # (n_test, F)
        for model in models:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                surrogate = SurrogateBlackbox(train, model, seed=seed, cache=False)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            surrogate.evaluate_batch(table.hyperparameters)
            predict_s = time.perf_counter() - start
            pred = surrogate.evaluate_batch(test_frame)[:, :, 0]
            r2 = 1.0 - np.sum((pred - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
            rho = spearmanr(pred[:, -1], truth[:, -1]).statistic
            row = {
                "task": task,
                "model": model,
                "fit_s": fit_s,
                "configs_per_s": table.num_configs / predict_s,
                "r2": r2,
                "spearman_final": rho,
            }
            rows.append(row)
            print(
                f"  {model:14s} fit {fit_s:7.2f} s  predict {row['configs_per_s']:10.0f} configs/s  "
                f"held-out R^2 {r2:6.3f}  Spearman(final epoch) {rho:6.3f}",
                flush=True,
            )
    return rows


def bench_yahpo(num_configs: int, seed: int) -> None:
    folder = DATA / "yahpo" / "lcbench"
    if not folder.is_dir():
        print(f"\nYAHPO: {folder} absent, skipped")
        return
    from blackbox_repo.yahpo import convert_yahpo, load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        convert_yahpo(folder, tmp)
        convert_s = time.perf_counter() - start
    bb = load_scenario(folder)["3945"]
    configs = bb.configuration_space.sample_many(make_rng(seed, "yahpo-bench"), num_configs)
    bb.evaluate(configs[0])  # session creation outside the timing
    start = time.perf_counter()
    curves = bb.evaluate_batch(configs)
    curve_s = time.perf_counter() - start
    start = time.perf_counter()
    bb.evaluate_batch(configs, fidelity=52)
    row_s = time.perf_counter() - start
    print(
        f"\nYAHPO lcbench (task 3945): convert {convert_s:.2f} s; {num_configs} configs, curves {curves.shape}: "
        f"{num_configs / curve_s:.0f} configs/s whole 52-epoch curves "
        f"({num_configs * 52 / curve_s:.0f} rows/s), {num_configs / row_s:.0f} configs/s at one epoch"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", default=["Fashion-MNIST", "adult", "higgs"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--yahpo-configs", type=int, default=500)
    args = parser.parse_args()
    if not (DATA / "lcbench_curves").is_dir():
        sys.exit(f"LCBench curves not found in {DATA / 'lcbench_curves'}")
    rows = bench_regressors(args.tasks, args.models, args.holdout, args.seed)
    summary = pd.DataFrame(rows).groupby("model", sort=False)[
        ["fit_s", "configs_per_s", "r2", "spearman_final"]
    ]
    print("\nmean over tasks:\n" + summary.mean().to_string(float_format=lambda v: f"{v:.3f}"))
    bench_yahpo(args.yahpo_configs, args.seed)


if __name__ == "__main__":
    main()
