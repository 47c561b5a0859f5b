"""Determined's hyperparameter types, read from the ``hyperparameters`` section of an experiment YAML.

Types: ``int`` (minval, maxval inclusive, uniform), ``double`` (uniform), ``log`` (``base ** uniform(minval,
maxval)``, base 10 by default), ``categorical`` (vals) and ``const`` (val). A bare scalar is a constant.
Nested dicts without a ``type`` are flattened with ``.`` separators, as Determined nests hyperparameters.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Domain,
    Integer,
    LogUniform,
    SearchSpace,
    Uniform,
)

_REQUIRED = {
    "int": ("minval", "maxval"),
    "double": ("minval", "maxval"),
    "log": ("minval", "maxval"),
    "categorical": ("vals",),
    "const": ("val",),
}


def domain_from_determined(name: str, spec: Mapping[str, Any]) -> Domain:
    kind = spec.get("type")
    if kind not in _REQUIRED:
        raise ValueError(
            f"hyperparameter {name!r}: unknown Determined type {kind!r}; valid: {sorted(_REQUIRED)}"
        )
    missing = [k for k in _REQUIRED[kind] if k not in spec]
    if missing:
        raise ValueError(f"hyperparameter {name!r} of type {kind!r} is missing keys {missing}")
    if kind == "int":
        return Integer(int(spec["minval"]), int(spec["maxval"]))
    if kind == "double":
        return Uniform(float(spec["minval"]), float(spec["maxval"]))
    if kind == "log":
        base = float(spec.get("base", 10.0))
        if base <= 0 or base == 1:
            raise ValueError(f"hyperparameter {name!r}: log base must be > 0 and != 1, got {base}")
        return LogUniform(base ** float(spec["minval"]), base ** float(spec["maxval"]))
    if kind == "categorical":
        return Categorical(list(spec["vals"]))
    return Constant(spec["val"])


def search_space_from_determined(hyperparameters: Mapping[str, Any]) -> SearchSpace:
    domains: dict[str, Domain] = {}

    def visit(prefix: str, node: Mapping[str, Any]) -> None:
        for key, spec in node.items():
            name = f"{prefix}{key}"
            if isinstance(spec, Mapping) and "type" in spec:
                domains[name] = domain_from_determined(name, spec)
            elif isinstance(spec, Mapping):
                visit(f"{name}.", spec)
            else:
                domains[name] = Constant(spec)

    visit("", hyperparameters)
    return SearchSpace(domains)
