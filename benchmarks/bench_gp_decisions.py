"""Seconds per Bayesian-optimisation decision at 50 / 200 / 1000 / 3000 observations: ours next to the peer's.

    python benchmarks/bench_gp_decisions.py [--sizes 50 200 1000 3000] [--repeats 11] [--pairs 1]
                                            [--peer-python PATH] [--peer-kind st13|st16] [--no-peer]

Ours: ``baselines.bayesian_optimization.BOSearcher`` with its defaults (GP fitted on at most ``max_fit_points``
observations, Cholesky block updates between hyperparameter refits, refits every ``max(10, 10%)``
observations). The peer: Syne Tune 0.13's GP searcher (``GPFIFOSearcher``, the GP-EI searcher behind its
``BayesianOptimization``; ``--peer-kind st13``, default) or Syne Tune 0.16's BoTorch searcher
(``--peer-kind st16``, needs botorch in that environment). The peer's interpreter comes from ``--peer-python`` or
the environment variable ``HPO_ARENA_PEER13_PYTHON`` (st13) / ``HPO_ARENA_PEER16_PYTHON`` (st16); without one the
peer is skipped with a message.

Each measurement is a fresh process (``--worker``), ours and the peer's alternating (A B A B) for each size: the
searcher observes n seeded random configurations of the space of ``bench_decision_time.py`` (7 hyperparameters,
10 encoded columns) with a synthetic objective, then makes ``repeats`` decisions, each followed by its result
(so periodic refits count at their natural frequency). Printed per process: median, mean and maximum seconds per
decision and the prefill time; then per size the median over pairs and the peer / ours ratio of the medians
(issue 13 targets: ours < 0.2 s at 3000 and >= 5x faster than the peer). Wall-clock on this machine; other load
inflates both sides.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "ARENA_GP_RESULT "

# The peer's version of bench_decision_time's space and objective (run inside the peer's interpreter).
PEER_SCRIPT = r'''
import json, math, sys, time, logging
logging.disable(logging.WARNING)
import numpy as np
kind, n, repeats, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
from syne_tune.config_space import loguniform, uniform, randint, choice, lograndint
space = {"lr": loguniform(1e-5, 1e-1), "momentum": uniform(0.0, 0.99), "dropout": uniform(0.0, 0.5),
         "layers": randint(1, 8), "width": choice([64, 128, 256, 512, 1024]),
         "optimizer": choice(["sgd", "adam", "adamw", "rmsprop"]), "batch_size": lograndint(16, 512)}
def objective(c):
    pen = {"sgd": 0.3, "adam": 0.0, "adamw": 0.05, "rmsprop": 0.2}[c["optimizer"]]
    return ((math.log10(c["lr"]) + 3.0) ** 2 + (c["momentum"] - 0.9) ** 2 + c["dropout"]
            + 0.1 * abs(c["layers"] - 4) + 0.05 * abs(math.log2(c["width"]) - 8) + pen
            + 0.02 * abs(math.log2(c["batch_size"]) - 7))
rng = np.random.default_rng(seed)
def sample():
    return {"lr": float(10 ** rng.uniform(-5, -1)), "momentum": float(rng.uniform(0, 0.99)),
            "dropout": float(rng.uniform(0, 0.5)), "layers": int(rng.integers(1, 9)),
            "width": int(rng.choice([64, 128, 256, 512, 1024])),
            "optimizer": str(rng.choice(["sgd", "adam", "adamw", "rmsprop"])),
            "batch_size": int(round(2 ** rng.uniform(4, 9)))}
t0 = time.perf_counter()
if kind == "st13":
    from syne_tune.optimizer.schedulers.searchers import GPFIFOSearcher
    searcher = GPFIFOSearcher(space, metric="loss", mode="min", random_seed=seed)
    for i in range(n):
        c = sample()
        searcher._update(trial_id=str(i), config=c, result={"loss": objective(c)})
    def decide(i):
        return searcher.get_config(trial_id=str(i))
    def report(i, c):
        searcher._update(trial_id=str(i), config=c, result={"loss": objective(c)})
else:
    from syne_tune.optimizer.schedulers.searchers.botorch import BoTorchSearcher
    searcher = BoTorchSearcher(space, metric="loss", mode="min", random_seed=seed)
    for i in range(n):
        c = sample()
        searcher.on_trial_result(str(i), c, {"loss": objective(c)}, update=True)
        searcher.on_trial_complete(str(i), c, {"loss": objective(c)})
    def decide(i):
        return searcher.get_config(trial_id=str(i))
    def report(i, c):
        searcher.on_trial_complete(str(i), c, {"loss": objective(c)})
prefill = time.perf_counter() - t0
times = []
for k in range(repeats):
    i = n + k
    s = time.perf_counter()
    c = decide(i)
    times.append(time.perf_counter() - s)
    report(i, c)
print("ARENA_GP_RESULT " + json.dumps({"times": times, "prefill_s": prefill}), flush=True)
'''


def ours_worker(n: int, repeats: int, seed: int) -> dict:
    # The project found through PYTHONPATH (this checkout, or --baseline-path's), its benchmarks folder for the space.
    root = Path(os.environ.get("PYTHONPATH", str(REPO)).split(os.pathsep)[0])
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(root / "benchmarks"))
    from bench_decision_time import SPACE, objective

    from baselines.bayesian_optimization import BOSearcher
    from blackbox_repo.seeding import make_rng

    start = time.perf_counter()
    searcher = BOSearcher(SPACE, "loss", seed=seed)
    rng = make_rng(seed, "bench-history")
    for trial_id, config in enumerate(SPACE.sample_many(rng, n)):
        searcher.observe(trial_id, config, None, objective(config))
    prefill = time.perf_counter() - start
    times = []
    for k in range(repeats):
        trial_id = n + k
        t0 = time.perf_counter()
        config = searcher.suggest(trial_id)
        times.append(time.perf_counter() - t0)
        searcher.observe(trial_id, config, None, objective(config))
        searcher.on_trial_end(trial_id)
    return {"times": times, "prefill_s": prefill}


def run_process(cmd: list[str], env: dict | None = None) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX):])
    raise RuntimeError(f"{cmd[0]} failed:\n{out.stderr[-2000:]}")


def summary(who: str, n: int, record: dict) -> dict:
    times = record["times"]
    return {"who": who, "observations": n, "median_s": round(statistics.median(times), 4),
            "mean_s": round(statistics.fmean(times), 4), "max_s": round(max(times), 4),
            "prefill_s": round(record["prefill_s"], 3), "decisions": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--pairs", type=int, default=1, help="alternating (ours, peer) process pairs per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-kind", choices=["st13", "st16"], default="st13")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--baseline-path", default=None,
                        help="also time the BO of another checkout of this project (e.g. before a change), in the "
                             "same alternation: ours, baseline, peer")
    parser.add_argument("--worker", nargs=3, type=int, metavar=("N", "REPEATS", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(PREFIX + json.dumps(ours_worker(*args.worker)), flush=True)
        return
    env_name = "HPO_ARENA_PEER13_PYTHON" if args.peer_kind == "st13" else "HPO_ARENA_PEER16_PYTHON"
    peer_python = None if args.no_peer else (args.peer_python or os.environ.get(env_name))
    if peer_python is None and not args.no_peer:
        print(json.dumps({"peer": "skipped", "why": f"give --peer-python or set {env_name}"}), flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for n in args.sizes:
        ours_medians, peer_medians, baseline_medians = [], [], []
        for _ in range(args.pairs):
            record = summary("ours", n, run_process([sys.executable, __file__, "--worker", str(n), str(args.repeats),
                                                     str(args.seed)], env))
            ours_medians.append(record["median_s"])
            print(json.dumps(record), flush=True)
            if args.baseline_path:
                base = Path(args.baseline_path).resolve()
                record = summary("baseline", n, run_process(
                    [sys.executable, str(base / "benchmarks" / Path(__file__).name) if (
                        base / "benchmarks" / Path(__file__).name).exists() else __file__,
                     "--worker", str(n), str(args.repeats), str(args.seed)], dict(os.environ, PYTHONPATH=str(base))))
                baseline_medians.append(record["median_s"])
                print(json.dumps(record), flush=True)
            if peer_python:
                peer_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                try:
                    raw = run_process([peer_python, "-c", PEER_SCRIPT, args.peer_kind, str(n), str(args.repeats),
                                       str(args.seed)], peer_env)
                except RuntimeError as error:
                    print(json.dumps({"who": f"peer-{args.peer_kind}", "observations": n,
                                      "error": str(error).splitlines()[-1]}), flush=True)
                    continue
                record = summary(f"peer-{args.peer_kind}", n, raw)
                peer_medians.append(record["median_s"])
                print(json.dumps(record), flush=True)
        line = {"observations": n, "ours_median_s": statistics.median(ours_medians), "target_3000": "< 0.2 s"}
        if baseline_medians:
            line["baseline_median_s"] = statistics.median(baseline_medians)
        if peer_medians:
            peer = statistics.median(peer_medians)
            line.update({"peer_median_s": peer, "peer_over_ours": round(peer / max(line["ours_median_s"], 1e-9), 2),
                         "target_ratio": ">= 5"})
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
