"""What a training script needs to be tuned by ``LocalBackend``: its trial, ``report(**metrics)``, checkpoints.

A script run by the tuner finds its trial in environment variables (``trial_context()`` reads them; run by
hand, it falls back to ``--config-json '{...}' --checkpoint-dir DIR --trial-id N --max-fidelity F``)::

    from launchers.report import trial_context, report, save_checkpoint, load_checkpoint

    trial = trial_context()
    state = load_checkpoint() or {"epoch": 0, ...}       # resume after a pause
    for epoch in range(state["epoch"] + 1, int(trial.max_fidelity) + 1):
        ... train one epoch ...
        state["epoch"] = epoch
        save_checkpoint(state)                            # FIRST the checkpoint of this epoch,
        report(epoch=epoch, val_error=err)                # THEN its result

Protocol (under the tuner, ``HPO_ARENA_PROTOCOL=1``): ``report`` writes one line ``@@hpo-arena@@ {json}`` to
stdout and waits for the tuner's answer on stdin: ``continue`` returns; ``pause`` and ``stop`` end the
process at once (exit code 0). A script therefore never runs ahead of a decision, and the checkpoint saved
just before a report is exactly the one a paused trial resumes from. Without the tuner, ``report`` only prints.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_PREFIX = "@@hpo-arena@@ "
ENV_TRIAL_ID = "HPO_ARENA_TRIAL_ID"
ENV_CONFIG = "HPO_ARENA_CONFIG"
ENV_CHECKPOINT_DIR = "HPO_ARENA_CHECKPOINT_DIR"
ENV_MAX_FIDELITY = "HPO_ARENA_MAX_FIDELITY"
ENV_FIDELITY_NAME = "HPO_ARENA_FIDELITY_NAME"
ENV_PROTOCOL = "HPO_ARENA_PROTOCOL"
CHECKPOINT_FILE = "checkpoint.pkl"


@dataclass(frozen=True)
class TrialContext:
    trial_id: int
    config: dict[str, Any]
    checkpoint_dir: Path | None
    max_fidelity: float | None
    fidelity_name: str | None


def trial_context(argv: list[str] | None = None) -> TrialContext:
    """The trial this process runs (from the tuner's environment, else from command-line options)."""
    if ENV_CONFIG in os.environ:
        max_fidelity = os.environ.get(ENV_MAX_FIDELITY)
        directory = os.environ.get(ENV_CHECKPOINT_DIR)
        return TrialContext(
            trial_id=int(os.environ.get(ENV_TRIAL_ID, "0")),
            config=json.loads(os.environ[ENV_CONFIG]),
            checkpoint_dir=Path(directory) if directory else None,
            max_fidelity=float(max_fidelity) if max_fidelity else None,
            fidelity_name=os.environ.get(ENV_FIDELITY_NAME) or None,
        )
    parser = argparse.ArgumentParser(description="a training script tunable by hpo-arena")
    parser.add_argument("--config-json", default="{}", help="the configuration as a JSON object")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--trial-id", type=int, default=0)
    parser.add_argument("--max-fidelity", type=float, default=None)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        config = json.loads(args.config_json)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--config-json is not valid JSON ({error}): {args.config_json!r}") from None
    return TrialContext(args.trial_id, config, Path(args.checkpoint_dir) if args.checkpoint_dir else None,
                        args.max_fidelity, None)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value


def report(**metrics: Any) -> None:
    """Report one result (must include the fidelity, e.g. ``epoch=3``); under the tuner, wait for its answer."""
    if not metrics:
        raise ValueError("report() needs at least the fidelity and one metric, e.g. report(epoch=1, loss=0.3)")
    line = REPORT_PREFIX + json.dumps({k: _plain(v) for k, v in metrics.items()}, allow_nan=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if os.environ.get(ENV_PROTOCOL) != "1":
        return
    answer = sys.stdin.readline().strip()
    if answer == "continue":
        return
    # "pause", "stop", or end of input (the tuner went away): end now; the checkpoint is already saved.
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(0)


def checkpoint_dir() -> Path | None:
    """This trial's checkpoint folder (created on demand), or ``None`` when the script runs without one."""
    directory = os.environ.get(ENV_CHECKPOINT_DIR)
    if directory is None:
        return None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_checkpoint(state: Any, name: str = CHECKPOINT_FILE) -> Path | None:
    """Pickle ``state`` into the checkpoint folder atomically (write, then rename)."""
    directory = checkpoint_dir()
    if directory is None:
        return None
    target = directory / name
    temporary = directory / f".{name}.tmp"
    with open(temporary, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    return target


def load_checkpoint(name: str = CHECKPOINT_FILE) -> Any | None:
    """The last saved state, or ``None`` for a fresh start."""
    directory = os.environ.get(ENV_CHECKPOINT_DIR)
    if directory is None:
        return None
    path = Path(directory) / name
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        return pickle.load(handle)
