"""The official ``dehb`` package (Awad, Mallik and Hutter, 2021) as the method ``DEHB-REF``.

``pip install 'hpo-arena[dehb]'``. The package's ``DEHB`` object is driven through its own ask/tell interface
(``ask() -> job_info``, ``tell(job_info, {"fitness", "cost"})``) by ``baselines.ask_tell`` in its
multi-fidelity form: each job is a configuration and a fidelity; a configuration DEHB promotes to a higher
fidelity continues its paused trial from the checkpoint. Arguments are DEHB's own with its defaults
(``mutation_factor=0.5``, ``crossover_prob=0.5``, ``strategy="rand1_bin"``, ``eta=3``, ...); the fidelity
range is the benchmark's: ``min_fidelity`` its first tabulated fidelity (or 1) unless given, ``max_fidelity``
its maximum. DEHB's fidelities ``max_fidelity * eta**-k`` are trained to the first tabulated fidelity at or
above them.

Search spaces: DEHB searches the unit hypercube and maps it to the user's space (through ConfigSpace when
given one). Here DEHB gets the number of hyperparameters (``dimensions``) and its vectors are decoded with
the arena space's own [0, 1] encoding (``SearchSpace.decode``): log-scaled domains on a log scale, integers
and finite domains (categorical, ordinal) by equal-width bins, normal priors through their CDF; constants
are added. That is DEHB's own convention for ConfigSpace spaces, without a ConfigSpace round trip. The arena's
spaces are flat, so nothing conditional reaches DEHB.

DEHB always writes a log file into its ``output_path``; it gets a temporary folder that is removed with
the object. No state is saved (``save_freq="end"``; nothing calls ``run``). Its seed is the method seed
modulo 2**32 (DEHB's range).
"""
from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from blackbox_repo.search_space import SearchSpace

# ``dehb.DEHB.__init__`` keywords the user may set, with their defaults (the others are set by the wrapper:
# cs, f, dimensions, min/max_fidelity, seed, n_workers, client, configspace, save_freq, resume; and max_age,
# whose default is infinite, is left to DEHB).
DEHB_DEFAULTS: dict[str, Any] = {
    "mutation_factor": 0.5, "crossover_prob": 0.5, "strategy": "rand1_bin", "eta": 3, "min_clip": None,
    "max_clip": None, "boundary_fix_type": "random", "async_strategy": "immediate",
}
DEHB_FIXED = ("cs", "f", "dimensions", "min_fidelity", "max_fidelity", "seed", "n_workers", "client", "configspace",
              "save_freq", "resume", "max_age")


def _dehb_class():
    from dehb import DEHB

    return DEHB


class DEHBReference:
    """Multi-fidelity ask/tell wrapper of ``dehb.DEHB`` (see the module docstring)."""

    def __init__(self, config_space: SearchSpace, seed: int = 0, max_fidelity: float | None = None,
                 fidelity_values: Sequence[float] | None = None, min_fidelity: float | None = None,
                 **dehb_kwargs: Any):
        if max_fidelity is None:
            raise ValueError("DEHB-REF needs a benchmark with a fidelity (it is a multi-fidelity method)")
        if min_fidelity is None:
            min_fidelity = float(fidelity_values[0]) if fidelity_values is not None and len(fidelity_values) else 1.0
        if not 0 < float(min_fidelity) < float(max_fidelity):
            raise ValueError(f"DEHB-REF needs 0 < min_fidelity < max_fidelity, got {min_fidelity} and {max_fidelity}")
        self.config_space = config_space
        self._names = list(config_space.tunable_names)
        self._output = tempfile.mkdtemp(prefix="hpo-arena-dehb-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._output, True)
        self.dehb = _dehb_class()(
            cs=None, dimensions=max(len(self._names), 1), min_fidelity=float(min_fidelity),
            max_fidelity=float(max_fidelity), seed=int(seed) % 2**32, n_workers=1, output_path=self._output,
            save_freq="end", **dehb_kwargs,
        )
        self._jobs: dict[tuple, list[dict[str, Any]]] = {}  # configuration -> DEHB jobs asked, not told

    @classmethod
    def arena_arguments(cls) -> dict[str, Any]:
        """DEHB's own arguments and defaults (dehb 0.1.2), listed here because importing dehb takes seconds
        (it imports dask.distributed) and every ``arena sweep`` lists every method's arguments. A test checks
        the list against the installed package's signature."""
        return {"min_fidelity": None, **DEHB_DEFAULTS}

    def _decode(self, vector: np.ndarray) -> dict[str, Any]:
        return self.config_space.decode(np.clip(np.asarray(vector, dtype=float)[: len(self._names)], 0.0, 1.0))

    def ask(self) -> tuple[dict[str, Any], float]:
        job = self.dehb.ask()
        config = self._decode(job["config"])
        self._jobs.setdefault(_key(config), []).append(job)
        return config, float(job["fidelity"])

    def tell(self, config: Mapping[str, Any], fidelity: float, loss: float) -> None:
        job = self._jobs[_key(config)].pop(0)
        fitness = float(loss) if np.isfinite(loss) else float(np.finfo(np.float64).max)
        self.dehb.tell(job, {"fitness": fitness, "cost": float(fidelity)})

    def close(self) -> None:
        self._cleanup()


def _key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in config.items()))
