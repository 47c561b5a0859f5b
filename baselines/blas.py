"""Limiting BLAS threads around small linear algebra (kept apart from ``gaussian_process`` so that searchers
that only need this do not import scipy.optimize and scipy.linalg at start-up)."""
from __future__ import annotations

from typing import Any

_THREADPOOLS: Any = None  # a threadpoolctl.ThreadpoolController, created at the first use


def single_threaded_blas():
    """Context manager limiting BLAS to one thread.

    Kernel matrices here have at most a few thousand rows: multi-threaded BLAS gains nothing on them and,
    on a machine busy with other work (parallel experiments, test runners), its thread hand-offs make a
    200 x 200 Cholesky hundreds of times slower. Searchers wrap each decision in this context.
    """
    global _THREADPOOLS
    if _THREADPOOLS is None:
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1, user_api="blas")
