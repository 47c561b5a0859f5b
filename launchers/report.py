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

Protocol (under the tuner, ``HPO_ARENA_PROTOCOL=2``): the tuner hands the script two pipe ends of its own,
named by ``HPO_ARENA_REPORT_FD`` (write) and ``HPO_ARENA_ANSWER_FD`` (read). ``report`` writes one JSON object
per line to the report pipe (NaN and infinities as the JSON extensions ``NaN`` / ``Infinity``, so they arrive
as such) and waits for the tuner's answer on the answer pipe: ``continue`` returns; ``pause`` and ``stop`` end
the process at once (exit code 0), and so does the end of the answer pipe (the tuner went away). A script
therefore never runs ahead of a decision, and the checkpoint saved just before a report is exactly the one a
paused trial resumes from. stdout, stderr and stdin stay the script's own: nothing it prints or reads can be
taken for a report or swallow an answer. Without the tuner, ``report`` only prints the line
``@@hpo-arena@@ {json}`` to stdout.
"""
from __future__ import annotations

import argparse
import json
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
ENV_REPORT_FD = "HPO_ARENA_REPORT_FD"
ENV_ANSWER_FD = "HPO_ARENA_ANSWER_FD"
PROTOCOL_VERSION = "2"
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


def _payload(metrics: dict[str, Any]) -> str:
    plain = {}
    for name, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
            value = value.item()
        plain[name] = value  # float NaN and infinities included: they travel as such
    try:
        return json.dumps(plain, allow_nan=True)
    except TypeError as error:
        bad = [n for n, v in plain.items() if not _serialisable(v)]
        raise TypeError(f"report(): values of {bad} cannot be sent ({error}); report numbers or strings") from None


def _serialisable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=True)
    except TypeError:
        return False
    return True


class _Channel:
    """The script's ends of the tuner's two pipes (opened once, on the first report)."""

    def __init__(self, report_fd: int, answer_fd: int):
        # Not handed down to processes the script starts (they would hold the pipes open).
        os.set_inheritable(report_fd, False)
        os.set_inheritable(answer_fd, False)
        self.report_fd = report_fd
        self.answers = os.fdopen(answer_fd, "rb", buffering=0)
        self.pending = b""

    def send(self, line: bytes) -> None:
        view = memoryview(line)
        try:
            while view:  # a pipe write of more than PIPE_BUF bytes may be partial
                view = view[os.write(self.report_fd, view):]
        except BrokenPipeError:
            raise SystemExit(0) from None  # the tuner is gone: nobody will read this result

    def receive(self) -> str:
        while b"\n" not in self.pending:
            chunk = self.answers.read(64)
            if not chunk:
                return ""  # the tuner is gone
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("ascii", errors="replace").strip()


_channel: _Channel | None = None


def _keep_tuner_pipes_private() -> None:
    """At import: the tuner's pipe ends are not inherited by programs the script runs before its first report."""
    for name in (ENV_REPORT_FD, ENV_ANSWER_FD):
        try:
            os.set_inheritable(int(os.environ[name]), False)
        except (KeyError, ValueError, OSError):
            pass  # not under the tuner (or not a descriptor of ours): nothing to protect


if os.environ.get(ENV_PROTOCOL) == PROTOCOL_VERSION:
    _keep_tuner_pipes_private()


def _tuner_channel() -> _Channel | None:
    """The pipes to the tuner, or ``None`` when the script runs by hand."""
    global _channel
    if _channel is not None:
        return _channel
    if os.environ.get(ENV_PROTOCOL) != PROTOCOL_VERSION:
        return None
    try:
        report_fd, answer_fd = int(os.environ[ENV_REPORT_FD]), int(os.environ[ENV_ANSWER_FD])
        _channel = _Channel(report_fd, answer_fd)
    except (KeyError, ValueError, OSError) as error:
        raise RuntimeError(
            f"{ENV_PROTOCOL}={PROTOCOL_VERSION} but the tuner's pipes ({ENV_REPORT_FD}, {ENV_ANSWER_FD}) are not "
            f"usable ({error}); run the script through LocalBackend, or without {ENV_PROTOCOL} to only print"
        ) from None
    return _channel


def report(**metrics: Any) -> None:
    """Report one result (must include the fidelity, e.g. ``epoch=3``); under the tuner, wait for its answer.

    Values are numbers (NaN and infinities allowed: a diverged run reports ``loss=float("nan")``) or strings
    (recorded nowhere, for the log only).
    """
    if not metrics:
        raise ValueError("report() needs at least the fidelity and one metric, e.g. report(epoch=1, loss=0.3)")
    payload = _payload(metrics)
    channel = _tuner_channel()
    if channel is None:
        sys.stdout.write(REPORT_PREFIX + payload + "\n")
        sys.stdout.flush()
        return
    channel.send(payload.encode("utf-8") + b"\n")
    answer = channel.receive()
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
