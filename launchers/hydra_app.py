"""The Hydra app behind ``arena sweep``: one job is one experiment (method, benchmark, seed).

Config groups:
- ``method``: one node per registered method name (``baselines.registry``), holding its default arguments,
  so ``method.grace_period=3`` overrides a default and a misspelt key fails before any job starts;
- ``benchmark``: one node per benchmark definition (``benchmark_definitions``), e.g. ``benchmark.n_workers=8``;
- ``hydra/launcher``: Hydra's ``basic`` (sequential, default), ``joblib`` (processes on one machine),
  ``submitit_local`` / ``submitit_slurm`` (Slurm), ``ray`` (a Ray cluster) and ``sagemaker``.

``run_sweep_cli`` prepares the study before Hydra starts any job: it reads or draws the master seed (printed
and recorded in ``<results_root>/<tag>/study.json``) and passes it to every job as ``master_seed=...``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

CONF_DIR = str(Path(__file__).parent / "conf")
_registered = False


def register_configs() -> None:
    """Put every method and benchmark into Hydra's config store (idempotent)."""
    global _registered
    if _registered:
        return
    from baselines.registry import list_methods, method_defaults
    from benchmark_definitions.registry import all_benchmarks

    cs = ConfigStore.instance()
    for name in list_methods():
        cs.store(group="method", name=name, node={"name": name, **method_defaults(name)})
    for name, bench in all_benchmarks().items():
        cs.store(group="benchmark", name=name, node=bench.to_dict())
    from launchers import hydra_launchers

    hydra_launchers.register()
    _registered = True


def experiment_spec_from_config(cfg: DictConfig):
    from benchmark_definitions.definitions import benchmark_from_dict
    from launchers.experiment import ExperimentSpec

    if cfg.master_seed is None:
        raise ValueError("master_seed is not set: start sweeps with `arena sweep` (it records the study's seed), "
                         "or pass master_seed=<int>")
    method_cfg: dict[str, Any] = OmegaConf.to_container(cfg.method, resolve=True)  # type: ignore[assignment]
    name = method_cfg.pop("name")
    bench = benchmark_from_dict(OmegaConf.to_container(cfg.benchmark, resolve=True))  # type: ignore[arg-type]
    return ExperimentSpec(
        benchmark=bench, method=name, seed=int(cfg.seed), master_seed=int(cfg.master_seed), tag=str(cfg.tag),
        results_root=str(cfg.results_root), method_kwargs=method_cfg,
        blackbox_root=None if cfg.blackbox_root is None else str(cfg.blackbox_root),
    )


def run_job(cfg: DictConfig) -> str:
    from launchers.experiment import run_experiment
    from launchers.study import is_complete

    spec = experiment_spec_from_config(cfg)
    label = f"{spec.benchmark.name} / {spec.method} / seed {spec.seed}"
    if cfg.skip_complete and is_complete(spec.path):
        print(f"[arena] skip (complete): {label}", flush=True)
        return spec.path
    print(f"[arena] start: {label}", flush=True)
    path = run_experiment(spec, skip_complete=bool(cfg.skip_complete))
    print(f"[arena] done: {label} -> {path}", flush=True)
    return path


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> str:
    return run_job(cfg)


def _simple_override(argv: Sequence[str], key: str) -> str | None:
    for arg in argv:
        if arg.startswith(f"{key}=") or arg.startswith(f"+{key}="):
            return arg.split("=", 1)[1]
    return None


def prepare_study(argv: Sequence[str]) -> list[str]:
    """Resolve the study's master seed and return argv with ``master_seed=<seed>`` set."""
    from launchers.study import ensure_study

    base = OmegaConf.load(Path(CONF_DIR) / "config.yaml")
    tag = _simple_override(argv, "tag") or str(base.tag)
    root = _simple_override(argv, "results_root") or os.environ.get("HPO_ARENA_RESULTS", "arena-results")
    given = _simple_override(argv, "master_seed")
    if tag and ("," in tag or "(" in tag):
        raise SystemExit("tag must be a single value (one study per sweep)")
    master = ensure_study(root, tag, None if given in (None, "null") else int(given))
    print(f"[arena] study {tag!r} in {root}: master seed {master}", flush=True)
    rest = [a for a in argv if not (a.startswith("master_seed=") or a.startswith("+master_seed="))]
    return [*rest, f"master_seed={master}"]


def run_sweep_cli(argv: Sequence[str]) -> int:
    """``arena sweep [hydra args]``: register configs, fix the master seed, run Hydra."""
    register_configs()
    argv = list(argv)
    if any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c") for a in argv):
        sys.argv = ["arena sweep", *argv]
        _hydra_main()
        return 0
    argv = prepare_study(argv)
    sys.argv = ["arena sweep", *argv]
    _hydra_main()
    return 0


def main() -> None:  # python -m launchers.hydra_app ...
    raise SystemExit(run_sweep_cli(sys.argv[1:]))


if __name__ == "__main__":
    main()
