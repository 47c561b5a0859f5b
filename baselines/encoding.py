"""Feature vectors for model-based searchers: a configuration <-> a point of [0, 1]^D.

Each tunable hyperparameter becomes a *block* of columns:

- ``Categorical`` with k values: k one-hot columns (unordered values get no spurious distance);
- every other domain (``Ordinal``, ``Integer``, ``FiniteRange``, continuous and quantised ones): one column
  holding the domain's own unit-interval encoding (``Domain.encode``), so ordinal values stay ordered and
  log-scaled / CDF-encoded domains are modelled on their natural scale.

Constants are left out (they carry no information). ``snap`` rounds arbitrary points of [0, 1]^D to the
encodings of actual members, so a model scores exactly what would be evaluated.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Domain,
    FiniteDomain,
    Integer,
    LogUniform,
    Normal,
    SearchSpace,
    Uniform,
)

# Domains whose encode(decode(u)) is u itself (up to clipping): no snapping needed, continuous optimisation ok.
_PLAIN_CONTINUOUS = (Uniform, LogUniform)
_CDF_EPS = 1e-12


@dataclass(frozen=True)
class Block:
    """The columns ``start:stop`` of the feature vector that describe hyperparameter ``name``."""

    name: str
    domain: Domain
    start: int
    stop: int

    @property
    def is_categorical(self) -> bool:
        return isinstance(self.domain, Categorical)

    @property
    def is_finite(self) -> bool:
        return self.domain.is_finite

    @property
    def num_values(self) -> int:
        """Number of members of a finite domain (0 for continuous ones)."""
        return len(self.domain) if self.domain.is_finite else 0  # type: ignore[arg-type]


class ConfigEncoder:
    """Maps configurations of ``space`` to feature vectors and back (see the module docstring)."""

    def __init__(self, space: SearchSpace):
        self.space = space
        blocks: list[Block] = []
        start = 0
        for name, dom in space.items():
            if isinstance(dom, Constant):
                continue
            width = len(dom) if isinstance(dom, Categorical) else 1
            blocks.append(Block(name, dom, start, start + width))
            start += width
        self.blocks: list[Block] = blocks
        self.dim: int = start
        # Columns an optimiser may move continuously (their domain has no finite list of values).
        self.continuous_columns = np.array(
            [b.start for b in blocks if not b.is_finite], dtype=np.int64
        )

    # ------------------------------------------------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        return self.encode_many([config])[0]

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        n = len(configs)
        out = np.zeros((n, self.dim), dtype=float)
        for b in self.blocks:
            dom = b.domain
            try:
                if b.is_categorical:
                    idx = np.fromiter((dom.index(c[b.name]) for c in configs), dtype=np.int64, count=n)
                    out[np.arange(n), b.start + idx] = 1.0
                else:
                    out[:, b.start] = np.fromiter((dom.encode(c[b.name]) for c in configs), dtype=float,
                                                  count=n)
            except KeyError:
                raise KeyError(f"configuration lacks hyperparameter {b.name!r}") from None
        return out

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise ValueError(f"expected a feature vector of length {self.dim}, got shape {x.shape}")
        values: dict[str, Any] = {}
        for b in self.blocks:
            if b.is_categorical:
                values[b.name] = b.domain.values()[int(np.argmax(x[b.start:b.stop]))]
            else:
                values[b.name] = b.domain.decode(float(x[b.start]))
        return {name: values.get(name, getattr(dom, "value", None)) for name, dom in self.space.items()}

    def decode_many(self, X: np.ndarray) -> list[dict[str, Any]]:
        return [self.decode(x) for x in np.asarray(X, dtype=float)]

    # ------------------------------------------------------------------------------------------------
    def snap(self, X: np.ndarray) -> np.ndarray:
        """Round rows of ``X`` to the encodings of members of the space (one-hot blocks to their argmax)."""
        X = np.array(X, dtype=float, copy=True, ndmin=2)
        for b in self.blocks:
            dom = b.domain
            if b.is_categorical:
                idx = np.argmax(X[:, b.start:b.stop], axis=1)
                X[:, b.start:b.stop] = 0.0
                X[np.arange(len(X)), b.start + idx] = 1.0
                continue
            col = np.clip(X[:, b.start], 0.0, 1.0)
            if isinstance(dom, _PLAIN_CONTINUOUS):
                X[:, b.start] = col
            elif type(dom) is Normal:  # the CDF encoding is clipped away from 0 and 1
                X[:, b.start] = np.clip(col, _CDF_EPS, 1 - _CDF_EPS)
            elif isinstance(dom, FiniteDomain) or (isinstance(dom, Integer) and not dom.log):
                # Both use index = floor(u * n), encoding = (index + 0.5) / n.
                n = len(dom)  # type: ignore[arg-type]
                idx = np.minimum(np.floor(col * n), n - 1)
                X[:, b.start] = (idx + 0.5) / n
            else:  # quantised, log-integer, log-normal ...: let the domain say what its members are
                X[:, b.start] = [dom.encode(dom.decode(float(u))) for u in col]
        return X

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` encoded members drawn uniformly in encoded space (= each domain's prior for most domains)."""
        X = np.zeros((n, self.dim), dtype=float)
        for b in self.blocks:
            if b.is_categorical:
                idx = rng.integers(0, b.stop - b.start, size=n)
                X[np.arange(n), b.start + idx] = 1.0
            else:
                X[:, b.start] = rng.random(n)
        return self.snap(X)

    def block_of_column(self) -> np.ndarray:
        """For each column, the index of its block."""
        out = np.zeros(self.dim, dtype=np.int64)
        for i, b in enumerate(self.blocks):
            out[b.start:b.stop] = i
        return out
