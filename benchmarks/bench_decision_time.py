"""Median time a searcher takes to decide (one ``suggest`` call) after 50, 100 and 200 observations.

Usage: python benchmarks/bench_decision_time.py [--repeats 11] [--sizes 50 100 200] [--searchers BO TPE]

The space mixes continuous, log, integer, ordinal and categorical hyperparameters (7 dimensions, 10 encoded
columns). For each size n, a searcher first observes n random configurations of a synthetic objective, then
makes ``repeats`` decisions, each followed by its result (so periodic work such as BO's hyperparameter refits
every ``refit_every`` observations is included at its natural frequency). Printed: median and maximum seconds
per decision. Times are wall-clock on this machine; other load on it inflates them.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from baselines.bayesian_optimization import BOSearcher
from baselines.bore import BORESearcher
from baselines.random_search import RandomSearcher
from baselines.regularized_evolution import REASearcher
from baselines.tpe import TPESearcher
from blackbox_repo.search_space import (
    Categorical,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
)
from blackbox_repo.seeding import make_rng

SPACE = SearchSpace({
    "lr": LogUniform(1e-5, 1e-1),
    "momentum": Uniform(0.0, 0.99),
    "dropout": Uniform(0.0, 0.5),
    "layers": Integer(1, 8),
    "width": Ordinal([64, 128, 256, 512, 1024]),
    "optimizer": Categorical(["sgd", "adam", "adamw", "rmsprop"]),
    "batch_size": Integer(16, 512, log=True),
})

SEARCHERS = {
    "RS": lambda seed: RandomSearcher(SPACE, "loss", seed=seed),
    "BO": lambda seed: BOSearcher(SPACE, "loss", seed=seed),
    "TPE": lambda seed: TPESearcher(SPACE, "loss", seed=seed),
    "BORE": lambda seed: BORESearcher(SPACE, "loss", seed=seed),
    "BORE-RF": lambda seed: BORESearcher(SPACE, "loss", seed=seed, classifier="random_forest"),
    "REA": lambda seed: REASearcher(SPACE, "loss", seed=seed, population_size=20, sample_size=5),
}


def objective(config: dict) -> float:
    opt_penalty = {"sgd": 0.3, "adam": 0.0, "adamw": 0.05, "rmsprop": 0.2}[config["optimizer"]]
    return ((math.log10(config["lr"]) + 3.0) ** 2 + (config["momentum"] - 0.9) ** 2 + config["dropout"]
            + 0.1 * abs(config["layers"] - 4) + 0.05 * abs(math.log2(config["width"]) - 8) + opt_penalty
            + 0.02 * abs(math.log2(config["batch_size"]) - 7))


def decision_times(name: str, n: int, repeats: int, seed: int = 0) -> list[float]:
    searcher = SEARCHERS[name](seed)
    rng = make_rng(seed, "bench-history")
    for trial_id, config in enumerate(SPACE.sample_many(rng, n)):
        searcher.observe(trial_id, config, None, objective(config))
    times = []
    for k in range(repeats):
        trial_id = n + k
        start = time.perf_counter()
        config = searcher.suggest(trial_id)
        times.append(time.perf_counter() - start)
        assert config is not None and SPACE.contains(config)
        searcher.observe(trial_id, config, None, objective(config))
        searcher.on_trial_end(trial_id)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--searchers", nargs="+", default=list(SEARCHERS), choices=list(SEARCHERS))
    args = parser.parse_args()
    header = f"{'searcher':<10}" + "".join(f"{f'n={n} median/max [s]':>26}" for n in args.sizes)
    print(header)
    for name in args.searchers:
        cells = []
        for n in args.sizes:
            t = decision_times(name, n, args.repeats)
            cells.append(f"{np.median(t):>14.4f} / {max(t):<9.4f}")
        print(f"{name:<10}" + "".join(f"{c:>26}" for c in cells))


if __name__ == "__main__":
    main()
