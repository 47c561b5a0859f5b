"""Rule "can method M run on benchmark B" for objectives: a multi-objective method needs a benchmark with at
least two objectives, and a constrained method (CBO) a benchmark with a constraint. (Single-objective methods
run on multi-objective benchmarks: they optimise the primary, first objective, which makes them the natural
baselines there; unconstrained methods run on constrained benchmarks and ignore the constraint.)

``check_objectives_fit`` is called by ``launchers.experiment.run_experiment`` before anything is written and
by ``arena sweep`` before the study starts (``check_sweep_objectives``).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

from benchmark_definitions.definitions import Benchmark, objectives_of


class ObjectivesMismatch(ValueError):
    """A method cannot optimise the benchmark's objectives."""


class ConstraintMissing(ObjectivesMismatch):
    """A constrained method on a benchmark without a constraint."""


def check_objectives_fit(method: str, benchmark: Benchmark, multi_objective: bool | None = None,
                         constrained: bool | None = None) -> None:
    """Raise ``ObjectivesMismatch`` when a multi-objective method meets a single-objective benchmark, and
    ``ConstraintMissing`` when a constrained method meets a benchmark without a constraint.

    ``multi_objective``/``constrained`` override the registry's flags (for methods built outside the registry).
    A name the registry does not hold (a class path, a user method YAML's name) counts as single-objective and
    unconstrained: such methods optimise the primary metric.
    """
    from baselines.registry import list_methods, method_is_constrained, method_is_multi_objective

    registered = str(method).upper() in set(list_methods())
    if multi_objective is None:
        multi_objective = registered and method_is_multi_objective(method)
    objectives = objectives_of(benchmark)
    if multi_objective and not objectives.is_multi_objective:
        raise ObjectivesMismatch(
            f"method {method} is multi-objective but benchmark {benchmark.name} has one objective "
            f"({objectives.describe()}); choose an mo-* benchmark (`arena benchmarks list 'mo-*'`) or a "
            "single-objective method"
        )
    if constrained is None:
        constrained = registered and method_is_constrained(method)
    if constrained and objectives.constraint_metric is None:
        raise ConstraintMissing(
            f"method {method} is constrained but benchmark {benchmark.name} has no constraint "
            f"({objectives.describe()}); choose a constrained-* benchmark (`arena benchmarks list 'constrained-*'`) "
            "or an unconstrained method"
        )


def check_sweep_objectives(methods: Iterable[str], benchmarks: Iterable[Benchmark]) -> None:
    """Every (method, benchmark) pair of a sweep; raises one ``ObjectivesMismatch`` listing every bad pair."""
    from baselines.registry import list_methods

    known = set(list_methods())
    problems = []
    for method, benchmark in itertools.product(list(methods), list(benchmarks)):
        if method.upper() not in known:
            continue  # unknown names are reported by the name check
        try:
            check_objectives_fit(method, benchmark)
        except ObjectivesMismatch as err:
            problems.append(str(err))
    if problems:
        raise ObjectivesMismatch("; ".join(problems))
