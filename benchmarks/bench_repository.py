"""I/O benchmark of the blackbox repository on a NAS-Bench-201-sized table.

Builds a synthetic table of 15625 configurations (6 categorical hyperparameters of 5 operations each,
the full grid) x 3 seeds x 200 fidelities x 4 objectives (float32, 150 MB), serializes it into a temporary
folder and prints one JSON line per measurement:

* ``first_load``: fresh process, pages evicted from the page cache, no verification stamp (includes the
  sha256 of every file, done once per folder);
* ``cold_load``: fresh process, pages evicted, stamp present;
* ``warm_load``: fresh process, page cache warm (the target: < 0.5 s);
* ``page_sharing``: a second process touching every page of the objectives while a first one holds
  them: its file-backed RSS is shared (its PSS is about half of it);
* ``single_lookup``: median latency of ``evaluate(config, fidelity, seed)`` over 10000 random calls
  (target < 10 us);
* ``batched_lookup``: ``rows()`` of 1e6 configurations (a DataFrame) plus the gather of one objective
  vector each at a random seed and fidelity (target >= 1e6 configs/s).

Run: ``python benchmarks/bench_repository.py`` (about a minute; needs ~0.5 GB of temporary disk).
Load times are measured around ``load_blackbox`` only (module imports are reported separately).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

NAME = "nb201-synthetic"
TASK = "cifar10"
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
EDGES = [f"edge_{i}" for i in range(6)]
SEEDS, FIDELITIES, OBJECTIVES = 3, 200, ["valid_error", "train_loss", "runtime", "latency"]


def build_table(seed: int = 0):
    import pandas as pd

    from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
    from blackbox_repo.search_space import Categorical, SearchSpace

    space = SearchSpace({e: Categorical(OPS) for e in EDGES})
    grid = np.stack(np.meshgrid(*[np.arange(len(OPS))] * len(EDGES), indexing="ij"), axis=-1).reshape(
        -1, len(EDGES)
    )
    ops = np.asarray(OPS, dtype=object)
    hp = pd.DataFrame({e: ops[grid[:, i]].astype(str) for i, e in enumerate(EDGES)})
    rng = np.random.default_rng(seed)
    objectives = rng.random((len(hp), SEEDS, FIDELITIES, len(OBJECTIVES)), dtype=np.float32)
    meta = BlackboxMetadata(
        name=NAME,
        default_metric="valid_error",
        time_objective="runtime",
        source="synthetic (benchmarks/bench_repository.py)",
        licence="CC0-1.0",
    )
    return TabularBlackbox(
        hp, objectives, space, OBJECTIVES, meta, "epoch", list(range(1, FIDELITIES + 1)), TASK
    )


def _memory() -> dict[str, float]:
    out: dict[str, float] = {}
    # VmHWM is this process's peak RSS (getrusage's ru_maxrss survives exec and shows the parent's peak).
    for path, keys in (
        ("/proc/self/status", ("VmHWM", "VmRSS", "RssAnon", "RssFile")),
        ("/proc/self/smaps_rollup", ("Pss", "Pss_File", "Pss_Anon")),
    ):
        try:
            for line in Path(path).read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in keys:
                    out[key + "_MB"] = round(int(rest.split()[0]) / 1024, 1)
        except OSError:
            pass
    return out


def worker(args: argparse.Namespace) -> None:
    """One loading process (run in a fresh interpreter)."""
    t0 = time.perf_counter()
    from blackbox_repo.repository import load_blackbox

    t1 = time.perf_counter()
    bb = load_blackbox(NAME, args.root, task=TASK, cache_dir=args.cache)
    t2 = time.perf_counter()
    report = {
        "import_s": round(t1 - t0, 3),
        "load_s": round(t2 - t1, 4),
        **{f"after_load_{k}": v for k, v in _memory().items()},
    }
    if args.touch:
        checksum = float(np.asarray(bb.objectives).sum(dtype=np.float64))  # reads every page
        report.update({"checksum": checksum, **{f"after_touch_{k}": v for k, v in _memory().items()}})
    print(json.dumps(report), flush=True)
    if args.hold:
        sys.stdin.readline()  # keep the pages mapped until the parent says so


def _spawn(root: str, cache: str, *flags: str) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--worker", "--root", root, "--cache", cache, *flags]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def _run_worker(root: str, cache: str, *flags: str) -> dict:
    proc = _spawn(root, cache, *flags)
    out, _ = proc.communicate("\n")
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _evict(folder: Path) -> None:
    """Drop the folder's (clean) pages from the page cache, so the next read comes from disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--touch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help="folder for the synthetic blackbox (default: a temporary folder)")
    parser.add_argument("--cache", help="cache folder (default: a temporary folder)")
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    from blackbox_repo.repository import load_blackbox, serialize

    with tempfile.TemporaryDirectory(prefix="bench-repo-") as tmp:
        root = args.root or str(Path(tmp) / "root")
        cache = args.cache or str(Path(tmp) / "cache")
        t = time.perf_counter()
        table = build_table()
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        folder = Path(serialize({TASK: table}, root, NAME, overwrite=True))
        emit(
            {
                "step": "serialize",
                "shape": list(table.objectives.shape),
                "build_s": round(build_s, 2),
                "serialize_s": round(time.perf_counter() - t, 2),
                "bytes_on_disk": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
            }
        )
        del table

        _evict(folder)
        emit({"step": "first_load", **_run_worker(root, cache)})
        _evict(folder)
        emit({"step": "cold_load", **_run_worker(root, cache)})
        _run_worker(root, cache, "--touch")  # pages now in the page cache
        warm = [_run_worker(root, cache) for _ in range(3)]
        emit(
            {
                "step": "warm_load",
                "target_s": 0.5,
                "load_s_runs": [w["load_s"] for w in warm],
                "load_s": min(w["load_s"] for w in warm),
                "ok": max(w["load_s"] for w in warm) < 0.5,
                **{k: v for k, v in warm[0].items() if k != "load_s"},
            }
        )

        holder = _spawn(root, cache, "--touch", "--hold")
        first = json.loads(holder.stdout.readline())
        second = _run_worker(root, cache, "--touch")
        holder.communicate("\n")
        rss_file, pss_file = second.get("after_touch_RssFile_MB"), second.get("after_touch_Pss_File_MB")
        emit(
            {
                "step": "page_sharing",
                "first_process": {k: v for k, v in first.items() if "touch" in k},
                "second_process": {k: v for k, v in second.items() if "touch" in k},
                "shared": bool(rss_file and pss_file is not None and pss_file < 0.75 * rss_file),
            }
        )

        # Lookups in this process (warm pages).
        bb = load_blackbox(NAME, root, task=TASK, cache_dir=cache)
        rng = np.random.default_rng(1)
        configs = bb.all_configurations()
        picks = rng.integers(0, len(configs), size=args.lookups)
        fids = rng.integers(1, FIDELITIES + 1, size=args.lookups).tolist()
        seeds = rng.integers(0, SEEDS, size=args.lookups).tolist()
        queries = [dict(configs[i]) for i in picks]
        t = time.perf_counter()
        bb.evaluate(queries[0], fids[0], seeds[0])
        index_s = time.perf_counter() - t
        clock = time.perf_counter_ns
        times = []
        for q, f, s in zip(queries, fids, seeds):
            t0 = clock()
            bb.evaluate(q, f, s)
            times.append(clock() - t0)
        median_us = statistics.median(times) / 1000
        emit(
            {
                "step": "single_lookup",
                "calls": args.lookups,
                "index_build_s": round(index_s, 3),
                "median_us": round(median_us, 2),
                "p90_us": round(float(np.percentile(times, 90)) / 1000, 2),
                "target_us": 10,
                "ok": median_us < 10,
            }
        )

        rows_idx = rng.integers(0, bb.num_configs, size=args.batch)
        frame = bb.hyperparameters.iloc[rows_idx].reset_index(drop=True)
        seed_idx = rng.integers(0, SEEDS, size=args.batch)
        fid_idx = rng.integers(0, FIDELITIES, size=args.batch)
        bb.rows(frame.iloc[:10])  # builds the column codes once
        t = time.perf_counter()
        rows = bb.rows(frame)
        t_rows = time.perf_counter() - t
        values = bb.objectives[rows, seed_idx, fid_idx]
        elapsed = time.perf_counter() - t
        assert np.array_equal(rows, rows_idx) and values.shape == (args.batch, len(OBJECTIVES))
        emit(
            {
                "step": "batched_lookup",
                "configs": args.batch,
                "rows_s": round(t_rows, 3),
                "total_s": round(elapsed, 3),
                "configs_per_s": round(args.batch / elapsed),
                "target_configs_per_s": 1_000_000,
                "ok": args.batch / elapsed >= 1_000_000,
            }
        )


if __name__ == "__main__":
    main()
