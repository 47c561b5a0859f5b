"""The one way to turn seeds into random generators.

Every random choice in the project flows from an explicit integer seed through ``make_rng`` (or
``derive_seed``), so the same seed gives the same stream on every machine. A path of names or integers
derives independent child streams (``make_rng(seed, "method")`` vs ``make_rng(seed, "blackbox-seed")``)
without the children depending on how many numbers another child drew.
"""
from __future__ import annotations

import hashlib

import numpy as np


def _path_key(part: str | int) -> int:
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
        if part < 0:
            raise ValueError(f"seed path entries must be non-negative, got {part}")
        return int(part)
    digest = hashlib.sha256(str(part).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little")


def seed_sequence(seed: int, *path: str | int) -> np.random.SeedSequence:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
    return np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(_path_key(p) for p in path))


def make_rng(seed: int, *path: str | int) -> np.random.Generator:
    """A generator for ``seed`` and an optional path of stream names."""
    return np.random.default_rng(seed_sequence(seed, *path))


def derive_seed(seed: int, *path: str | int) -> int:
    """A 31-bit integer seed derived from ``seed`` and a path (for libraries that take an int seed)."""
    return int(seed_sequence(seed, *path).generate_state(1, dtype=np.uint32)[0] >> 1)
