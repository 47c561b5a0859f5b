"""Pre-flight of ``arena sweep``: every benchmark's data is present, or the sweep stops naming the command.

Checked before the study folder is created, from ``metadata.json`` alone (nothing is downloaded or loaded), for
the plain ``benchmark=`` values of the command line (``glob(...)`` sweeps are expanded by Hydra later; a job
whose data is missing then fails with the same command in its error).
"""
from __future__ import annotations

import os
from collections.abc import Sequence


def missing_data(names: Sequence[str], root: str | None,
                 config_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[str]:
    """One line per benchmark among ``names`` whose blackbox (or task) is not stored, with how to get it."""
    from benchmark_definitions.definitions import SimulatedBenchmark
    from benchmark_definitions.registry import all_benchmarks
    from blackbox_repo.data.catalogue import missing_hint
    from blackbox_repo.repository import RepositoryError, read_metadata

    benchmarks = all_benchmarks(config_dirs)
    problems = []
    for name in dict.fromkeys(names):
        bench = benchmarks.get(name)
        if not isinstance(bench, SimulatedBenchmark):
            continue  # unknown names are check_names' business; functions and real scripts need no data
        where = bench.repository or root
        try:
            metadata, location = read_metadata(bench.blackbox, where)
        except (RepositoryError, OSError, ValueError):
            hint = missing_hint(bench.blackbox, where)
            problems.append(f"{name}: blackbox {bench.blackbox!r} is not in "
                            f"{where or 'the configured repository'}" + (f"; {hint}" if hint else ""))
            continue
        if bench.task not in metadata.get("tasks", []):
            problems.append(f"{name}: {location} has no task {bench.task!r} (it holds "
                            f"{', '.join(metadata.get('tasks', [])[:8])}...)")
    return problems


def require_data(names: Sequence[str], root: str | None,
                 config_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """``SystemExit`` listing every benchmark of the sweep whose data is missing (nothing else happens)."""
    problems = missing_data(names, None if root in (None, "", "null") else root, config_dirs)
    if problems:
        raise SystemExit("arena sweep: data missing, nothing was started:\n  " + "\n  ".join(problems))
