"""Rules that decide, before anything runs, whether a method can run on a benchmark.

``check_method_fits_benchmark`` is called by ``launchers.experiment.run_experiment`` before it writes anything,
and by the sweep's validation before any job starts, so a sweep that pairs a method with a benchmark it
cannot run fails at once with the reason instead of after other jobs ran.
"""
from __future__ import annotations

from benchmark_definitions.definitions import Benchmark, RealBenchmark


class MethodBenchmarkMismatch(ValueError):
    """A method that cannot run on a benchmark (the message says why and what to do)."""


def check_method_fits_benchmark(method: str, benchmark: Benchmark, transfers_checkpoints: bool | None = None) -> None:
    """Raise ``MethodBenchmarkMismatch`` if ``method`` cannot run on ``benchmark``.

    A method that starts trials from copies of other trials' checkpoints (``transfers_checkpoints``, e.g. PBT)
    needs real checkpoints; a simulated benchmark's table holds one learning curve per configuration and no
    checkpoint to continue from with other hyperparameters, so it is refused there. A transfer-learning method
    on a benchmark without other tasks' evaluations is refused too (``launchers.transfer_data.TransferMismatch``,
    a subclass of ``ValueError`` like ``MethodBenchmarkMismatch``). ``transfers_checkpoints``
    defaults to what the method registry says of ``method`` (pass it for methods built outside the registry).
    """
    from launchers.transfer_data import check_transfer_fits

    check_transfer_fits(method, benchmark)  # a transfer method needs a leave-one-task-out benchmark
    if transfers_checkpoints is None:
        from baselines.registry import method_transfers_checkpoints

        try:
            transfers_checkpoints = method_transfers_checkpoints(method)
        except ValueError:  # not a registered name: building the method reports that (or knows better)
            return
    if transfers_checkpoints and not isinstance(benchmark, RealBenchmark):
        raise MethodBenchmarkMismatch(
            f"method {method} cannot run on the simulated benchmark {benchmark.name}: it starts trials from copies "
            "of other trials' checkpoints with other hyperparameters, and a table holds one learning curve per "
            "configuration, no checkpoint to continue from. Run it on a real benchmark (local training, e.g. "
            "benchmark=real-pbt-regression)"
        )
