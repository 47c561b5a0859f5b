"""Finding the processes a test started, by a token in their environment: tests that kill sweeps or trials
check with these that nothing they started outlives them."""
from __future__ import annotations

import os
import time
from pathlib import Path

TOKEN_ENV = "HPO_ARENA_TEST_TOKEN"


def processes_with(token: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose environment holds ``HPO_ARENA_TEST_TOKEN=token``: (pid, cmdline)."""
    marker = f"{TOKEN_ENV}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()  # empty for zombies
            if marker not in environ.split(b"\0"):
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        found.append((int(entry), cmdline.strip()))
    return found


def wait_until_gone(token: str, timeout: float) -> list[tuple[int, str]]:
    """The processes with ``token`` still alive after waiting up to ``timeout`` seconds for them to end."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes_with(token)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
