"""Entry point of an hpo-arena SageMaker training job: ``python -m launchers.sagemaker_entry``.

The launcher (launchers/sagemaker_launcher.py) starts each job with the slice it must run in its
hyperparameters: the Hydra overrides shared by the slice (``arena_override_00``, ``arena_override_01``, ...),
its seeds (``arena_seeds``, e.g. ``"0-4,7"``) and the results root (``arena_results_root``, an s3:// URL).
This module composes the sweep's config for each seed, exactly as the Hydra app would, and runs the
experiment with ``launchers.hydra_app.run_job`` (complete experiments are skipped, so a retried job resumes).

Hyperparameters are read from ``<SageMaker root>/input/config/hyperparameters.json`` (SageMaker writes every
value as a string), else from the ``SM_HPS`` environment variable (JSON); the SageMaker root is ``/opt/ml``
or ``$HPO_ARENA_SM_ROOT``. When an experiment fails, the others of the slice still run, the failures are
written to ``<root>/output/failure`` (SageMaker shows it as the job's FailureReason) and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from launchers.sagemaker_launcher import HP_OVERRIDE_PREFIX, HP_RESULTS_ROOT, HP_SEEDS, parse_seeds

SM_ROOT_ENV = "HPO_ARENA_SM_ROOT"
DEFAULT_SM_ROOT = "/opt/ml"


def sm_root() -> Path:
    return Path(os.environ.get(SM_ROOT_ENV, DEFAULT_SM_ROOT))


def read_hyperparameters(path: str | Path | None = None) -> dict[str, str]:
    """The job's hyperparameters: ``path``, else SageMaker's file, else ``$SM_HPS``."""
    file = Path(path) if path is not None else sm_root() / "input" / "config" / "hyperparameters.json"
    if file.is_file():
        raw = json.loads(file.read_text(encoding="utf-8"))
    elif path is None and os.environ.get("SM_HPS"):
        raw = json.loads(os.environ["SM_HPS"])
    else:
        raise FileNotFoundError(f"no hyperparameters: {file} does not exist and SM_HPS is not set")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def slice_from_hyperparameters(hp: Mapping[str, str]) -> tuple[list[str], list[int]]:
    """(Hydra overrides without the seed, seeds) of the slice this job runs."""
    if HP_SEEDS not in hp:
        raise ValueError(f"hyperparameter {HP_SEEDS!r} is missing: this job was not started by the hpo-arena "
                         "SageMaker launcher")
    keys = sorted(k for k in hp if k.startswith(HP_OVERRIDE_PREFIX))
    overrides = [hp[k] for k in keys]
    root = hp.get(HP_RESULTS_ROOT)
    if root and not any(o.lstrip("+").startswith("results_root=") for o in overrides):
        overrides.append(f"results_root={root}")
    return overrides, parse_seeds(hp[HP_SEEDS])


def run_slice(overrides: Sequence[str], seeds: Sequence[int]) -> list[tuple[int, str]]:
    """Run the slice's experiments; returns (seed, error text) of those that failed."""
    from hydra import initialize_config_dir

    from launchers.hydra_app import CONF_DIR, register_configs, run_job
    from launchers.sweep_compose import SweepComposer

    register_configs()
    failures: list[tuple[int, str]] = []
    # The method's group option names a user YAML's results folder, as in the sweep's own jobs.
    choice = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+") == "method"), None)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="sagemaker"):
        composer = SweepComposer()  # the slice's method and benchmark are composed once, not once per seed
        for seed in seeds:
            try:
                run_job(composer.compose([*overrides, f"seed={seed}"]), choice)
            except Exception:  # noqa: BLE001 -- one failed experiment must not lose the others of the slice
                text = traceback.format_exc()
                print(text, file=sys.stderr, flush=True)
                failures.append((seed, text))
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launchers.sagemaker_entry",
                                     description="run the slice of an hpo-arena sweep given to this job")
    parser.add_argument("--hyperparameters", default=None,
                        help="hyperparameters JSON (default: SageMaker's, under $HPO_ARENA_SM_ROOT or /opt/ml)")
    args = parser.parse_args(argv)
    overrides, seeds = slice_from_hyperparameters(read_hyperparameters(args.hyperparameters))
    print(f"[arena] SageMaker job: seeds {seeds} with {' '.join(overrides)}", flush=True)
    failures = run_slice(overrides, seeds)
    if failures:
        message = "; ".join(f"seed {seed}: {text.strip().splitlines()[-1]}" for seed, text in failures)
        out = sm_root() / "output"
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / "failure").write_text(message[:1000], encoding="utf-8")
        except OSError:
            pass
        print(f"[arena] {len(failures)} of {len(seeds)} experiment(s) failed: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
