"""Azure ML HyperDrive parameter expressions, with HyperDrive's exact semantics.

``loguniform``, ``qloguniform`` take their bounds in natural-log space, as HyperDrive does:
``loguniform(min, max)`` is ``exp(uniform(min, max))``. Quantised expressions are ``round(x / q) * q``.
``randint(upper)`` draws integers in [0, upper).

``PrimaryMetricGoal`` / ``goal_to_mode`` translate HyperDrive's metric goal; they live here, below both the
method facade (``baselines.hyperdrive``) and the run queries (``results.hyperdrive_queries``), which must not
import each other.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

from blackbox_repo.search_space import (
    Categorical,
    Domain,
    Integer,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    SearchSpace,
    Uniform,
    Value,
)


class PrimaryMetricGoal(str, Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


def goal_to_mode(goal: PrimaryMetricGoal | str) -> str:
    """``"maximize"`` / ``PrimaryMetricGoal.MAXIMIZE`` -> ``"max"``; same for minimise (case-insensitive)."""
    text = goal.value if isinstance(goal, PrimaryMetricGoal) else str(goal)
    key = text.strip().lower()
    if key in ("maximize", "max"):
        return "max"
    if key in ("minimize", "min"):
        return "min"
    raise ValueError(f"primary_metric_goal must be 'maximize' or 'minimize', got {goal!r}")

def choice(*options: Value) -> Categorical:
    """``choice(1, 2, 3)`` or ``choice([1, 2, 3])`` / ``choice(range(5))``."""
    if len(options) == 1 and isinstance(options[0], (list, tuple, range)):
        options = tuple(options[0])
    return Categorical(list(options))


def randint(upper: int) -> Integer:
    if upper < 1:
        raise ValueError(f"randint(upper) needs upper >= 1, got {upper}")
    return Integer(0, int(upper) - 1)


def uniform(min_value: float, max_value: float) -> Uniform:
    return Uniform(min_value, max_value)


def loguniform(min_value: float, max_value: float) -> LogUniform:
    return LogUniform(math.exp(min_value), math.exp(max_value))


def normal(mu: float, sigma: float) -> Normal:
    return Normal(mu, sigma)


def lognormal(mu: float, sigma: float) -> LogNormal:
    return LogNormal(mu, sigma)


def quniform(min_value: float, max_value: float, q: float) -> QUniform:
    return QUniform(min_value, max_value, q)


def qloguniform(min_value: float, max_value: float, q: float) -> QLogUniform:
    return QLogUniform(math.exp(min_value), math.exp(max_value), q)


def qnormal(mu: float, sigma: float, q: float) -> QNormal:
    return QNormal(mu, sigma, q)


def qlognormal(mu: float, sigma: float, q: float) -> QLogNormal:
    return QLogNormal(mu, sigma, q)


_EXPRESSIONS = {
    "choice": choice, "randint": randint, "uniform": uniform, "loguniform": loguniform, "normal": normal,
    "lognormal": lognormal, "quniform": quniform, "qloguniform": qloguniform, "qnormal": qnormal,
    "qlognormal": qlognormal,
}


def expression(name: str, *args: Any) -> Domain:
    """Build a domain from an expression name and its arguments, e.g. ``expression("uniform", 0, 1)``."""
    try:
        fn = _EXPRESSIONS[name]
    except KeyError:
        raise ValueError(f"unknown HyperDrive expression {name!r}; valid: {sorted(_EXPRESSIONS)}") from None
    return fn(*args)


def search_space(parameters: Mapping[str, Any]) -> SearchSpace:
    """A space from ``{name: domain}`` or ``{name: ("expression", arg, ...)}``, e.g. ``{"lr": ("loguniform", -9, -2)}``.

    Names may carry HyperDrive's ``--`` script-argument prefix; it is stripped.
    """
    domains: dict[str, Domain] = {}
    for raw_name, spec in parameters.items():
        name = raw_name.lstrip("-")
        if isinstance(spec, Domain):
            domains[name] = spec
        elif isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], str):
            domains[name] = expression(spec[0], *spec[1:])
        else:
            raise ValueError(
                f"parameter {raw_name!r}: expected a domain or ('expression', args...), got {spec!r}"
            )
    return SearchSpace(domains)
