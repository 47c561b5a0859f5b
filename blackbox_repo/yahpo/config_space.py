"""ConfigSpace JSON (format 0.2) to our search spaces, with conditions, without the ConfigSpace package.

YAHPO ships each scenario's space as ``config_space.json`` written by ConfigSpace 0.4.x:

* hyperparameters ``categorical`` (``choices``), ``ordinal`` (``sequence``), ``constant`` (``value``),
  ``uniform_int`` / ``uniform_float`` (``lower``, ``upper``, ``log``);
* conditions ``EQ`` (``child``, ``parent``, ``value``), ``NEQ``, ``IN`` (``values``) and the
  conjunctions ``AND`` / ``OR`` (``conditions``: a list of the former);
* ``forbiddens`` (none in any YAHPO scenario; refused with a clear error).

Mapping to ``blackbox_repo.search_space`` domains: a categorical with one choice becomes ``Constant``;
``uniform_int`` becomes ``Integer(lower, upper, log)``; ``uniform_float`` becomes ``Uniform`` or, with
``log``, ``LogUniform``. Float bounds are rounded to 12 significant digits: ConfigSpace stores log-scale
bounds as ``exp(log(x))`` with float noise (``0.00010000000000000009``), and a user typing the documented
bound must be inside the domain.

A hyperparameter is *active* when it has no condition, or when its condition holds and every parent the
condition reads is itself active (ConfigSpace's rule). ``ConditionalSearchSpace`` keeps the conditions:
``sample``/``decode``/``grid`` drop inactive hyperparameters from the configurations they return, and
``violations`` only asks for the active ones. Inactive values that a caller passes anyway are ignored
(``active_config`` removes them); YAHPO then feeds the model ``"#na#"`` / ``0`` for them.
"""
from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from blackbox_repo.search_space import (
    Categorical,
    Constant,
    Domain,
    Integer,
    LogUniform,
    Ordinal,
    SearchSpace,
    Uniform,
)


def _same(a: Any, b: Any) -> bool:
    """Equality of a configuration value and a condition value (numbers compare as floats)."""
    if isinstance(a, (int, float, np.integer, np.floating)) and isinstance(b, (int, float, np.integer, np.floating)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0) or float(a) == float(b)
    return a == b


def _isin_column(column: np.ndarray, values: Sequence[Any]) -> np.ndarray:
    """Vectorised membership of a column's values in ``values`` (strings or numbers)."""
    return pd.Series(column, dtype=object).isin(list(values)).to_numpy(dtype=bool) | (
        _numeric_isin(column, values)
    )


def _numeric_isin(column: np.ndarray, values: Sequence[Any]) -> np.ndarray:
    nums = [float(v) for v in values if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
    if not nums:
        return np.zeros(len(column), dtype=bool)
    as_float = pd.to_numeric(pd.Series(column, dtype=object), errors="coerce").to_numpy(dtype=float)
    return np.isin(as_float, np.asarray(nums, dtype=float))


# ---------------------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------------------


class Condition(ABC):
    """When ``child`` is active, as a function of its parents' values."""

    child: str

    @property
    @abstractmethod
    def parents(self) -> tuple[str, ...]:
        """Every hyperparameter the condition reads."""

    @abstractmethod
    def holds(self, config: Mapping[str, Any]) -> bool:
        """Whether the condition holds (a parent absent from ``config`` makes a leaf condition false)."""

    @abstractmethod
    def holds_columns(self, columns: Mapping[str, np.ndarray], active: Mapping[str, np.ndarray]) -> np.ndarray:
        """Vectorised ``holds`` over rows; ``active[p]`` says where parent ``p`` is active."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """ConfigSpace JSON 0.2 form."""

    def with_child(self, child: str) -> Condition:
        return self  # leaf conditions carry their child already


@dataclass(frozen=True)
class _ParentCondition(Condition):
    """A leaf condition: reads the value of one parent."""

    child: str
    parent: str

    @property
    def parents(self) -> tuple[str, ...]:
        return (self.parent,)


@dataclass(frozen=True)
class _ValueCondition(_ParentCondition):
    """The parent equals (EQ) or differs from (NEQ) one value; a parent absent from the configuration makes
    either false."""

    value: Any
    kind: ClassVar[str]

    def holds(self, config: Mapping[str, Any]) -> bool:
        if self.parent not in config:
            return False
        equal = _same(config[self.parent], self.value)
        return equal if self.kind == "EQ" else not equal

    def holds_columns(self, columns, active):
        equal = _isin_column(columns[self.parent], [self.value])
        return (equal if self.kind == "EQ" else ~equal) & active[self.parent]

    def to_dict(self) -> dict[str, Any]:
        return {"child": self.child, "parent": self.parent, "type": self.kind, "value": self.value}


@dataclass(frozen=True)
class EqualsCondition(_ValueCondition):
    kind: ClassVar[str] = "EQ"


@dataclass(frozen=True)
class NotEqualsCondition(_ValueCondition):
    kind: ClassVar[str] = "NEQ"


@dataclass(frozen=True)
class InCondition(_ParentCondition):
    values: tuple[Any, ...]

    def holds(self, config: Mapping[str, Any]) -> bool:
        return self.parent in config and any(_same(config[self.parent], v) for v in self.values)

    def holds_columns(self, columns, active):
        return _isin_column(columns[self.parent], self.values) & active[self.parent]

    def to_dict(self) -> dict[str, Any]:
        return {"child": self.child, "parent": self.parent, "type": "IN", "values": list(self.values)}


@dataclass(frozen=True)
class _Conjunction(Condition):
    """Conditions combined with AND (all must hold) or OR (any may hold)."""

    child: str
    conditions: tuple[Condition, ...]
    kind: ClassVar[str]

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for c in self.conditions for p in c.parents))

    def holds(self, config: Mapping[str, Any]) -> bool:
        results = (c.holds(config) for c in self.conditions)
        return all(results) if self.kind == "AND" else any(results)

    def holds_columns(self, columns, active):
        parts = [c.holds_columns(columns, active) for c in self.conditions]
        return np.logical_and.reduce(parts) if self.kind == "AND" else np.logical_or.reduce(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"child": self.child, "type": self.kind, "conditions": [c.to_dict() for c in self.conditions]}


@dataclass(frozen=True)
class AndConjunction(_Conjunction):
    kind: ClassVar[str] = "AND"


@dataclass(frozen=True)
class OrConjunction(_Conjunction):
    kind: ClassVar[str] = "OR"


_LEAF_TYPES = {"EQ": EqualsCondition, "NEQ": NotEqualsCondition}


def condition_from_dict(d: Mapping[str, Any]) -> Condition:
    """Parse one ConfigSpace JSON 0.2 condition."""
    kind = d.get("type")
    try:
        if kind in _LEAF_TYPES:
            return _LEAF_TYPES[kind](child=d["child"], parent=d["parent"], value=d["value"])
        if kind == "IN":
            return InCondition(child=d["child"], parent=d["parent"], values=tuple(d["values"]))
        if kind in ("AND", "OR"):
            parts = tuple(condition_from_dict(c) for c in d["conditions"])
            cls = AndConjunction if kind == "AND" else OrConjunction
            return cls(child=d["child"], conditions=parts)
    except KeyError as err:
        raise ValueError(f"condition {dict(d)!r} lacks the key {err.args[0]!r}") from None
    raise ValueError(
        f"unsupported condition type {kind!r} in {dict(d)!r}; supported: EQ, NEQ, IN, AND, OR "
        "(ConfigSpace GT/LT conditions are not used by YAHPO)"
    )


# ---------------------------------------------------------------------------------------------------------
# A search space with conditions
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionalSearchSpace(SearchSpace):
    """A ``SearchSpace`` whose hyperparameters may be active only under conditions on others.

    Configurations handed out (``sample``, ``sample_many``, ``decode``, ``grid``) hold only active
    hyperparameters. ``encode`` maps an inactive (absent) hyperparameter to 0, so vectors keep a fixed
    length. Without conditions it behaves exactly like ``SearchSpace``.
    """

    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__post_init__()
        seen: set[str] = set()
        for cond in self.conditions:
            if cond.child not in self.domains:
                raise ValueError(f"condition on unknown hyperparameter {cond.child!r}")
            if cond.child in seen:
                raise ValueError(f"hyperparameter {cond.child!r} has two conditions; combine them with AND/OR")
            seen.add(cond.child)
            for p in cond.parents:
                if p not in self.domains:
                    raise ValueError(f"condition of {cond.child!r} reads unknown hyperparameter {p!r}")
        object.__setattr__(self, "_order", self._topological_order())

    def __hash__(self) -> int:
        return hash(self.to_json())

    def _topological_order(self) -> tuple[Condition, ...]:
        """Conditions ordered so that a parent's activity is known before its children's."""
        by_child = {c.child: c for c in self.conditions}
        order: list[Condition] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2 or name not in by_child:
                return
            if state.get(name) == 1:
                raise ValueError(f"conditions form a cycle: {' -> '.join(path + (name,))}")
            state[name] = 1
            for p in by_child[name].parents:
                visit(p, path + (name,))
            state[name] = 2
            order.append(by_child[name])

        for c in self.conditions:
            visit(c.child, ())
        return tuple(order)

    @property
    def conditional_names(self) -> list[str]:
        return [c.child for c in self.conditions]

    # --- activity ----------------------------------------------------------------------------------------

    def active_names(self, config: Mapping[str, Any]) -> list[str]:
        """Names active under ``config`` (in space order)."""
        inactive: set[str] = set()
        for cond in self._order:  # type: ignore[attr-defined]
            if any(p in inactive for p in cond.parents) or not cond.holds(config):
                inactive.add(cond.child)
        return [n for n in self.domains if n not in inactive]

    def active_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` without inactive hyperparameters (and without names the space does not know)."""
        active = set(self.active_names(config))
        return {n: config[n] for n in self.domains if n in active and n in config}

    def active_mask(self, columns: Mapping[str, np.ndarray], num_rows: int) -> dict[str, np.ndarray]:
        """Vectorised activity: ``{name: bool array}`` over rows of column arrays (missing columns: absent)."""
        filled = {n: (np.asarray(columns[n], dtype=object) if n in columns else np.full(num_rows, None, dtype=object))
                  for n in self.domains}
        active = {n: np.ones(num_rows, dtype=bool) for n in self.domains}
        for cond in self._order:  # type: ignore[attr-defined]
            active[cond.child] = cond.holds_columns(filled, active)
        return active

    # --- sampling and checking ---------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return self.active_config(super().sample(rng))

    def sample_many(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        return [self.active_config(c) for c in super().sample_many(rng, n)]

    def violations(self, config: Mapping[str, Any]) -> list[str]:
        active = self.active_names(config)
        problems = []
        missing = [n for n in active if n not in config]
        if missing:
            problems.append(f"missing active hyperparameters {missing}")
        extra = [n for n in config if n not in self.domains]
        if extra:
            problems.append(f"unknown hyperparameters {extra} (valid: {self.names})")
        for name in active:
            if name in config and not self.domains[name].contains(config[name]):
                problems.append(f"{name}={config[name]!r} is not in {self.domains[name]!r}")
        return problems

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        active = set(self.active_names(config))
        return np.array(
            [self.domains[n].encode(config[n]) if n in active and n in config else 0.0 for n in self.tunable_names],
            dtype=float,
        )

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        return self.active_config(super().decode(u))

    def grid(self, num_points: int | None = None) -> Iterator[dict[str, Any]]:
        """The Cartesian grid with inactive hyperparameters removed (duplicates skipped)."""
        seen: set[tuple] = set()
        for config in super().grid(num_points):
            reduced = self.active_config(config)
            key = tuple(sorted((k, repr(v)) for k, v in reduced.items()))
            if key not in seen:
                seen.add(key)
                yield reduced

    def grid_size(self, num_points: int | None = None) -> int:
        if not self.conditions:
            return super().grid_size(num_points)
        return sum(1 for _ in self.grid(num_points))

    # --- restriction -------------------------------------------------------------------------------------

    def without(self, fixed: Mapping[str, Any]) -> ConditionalSearchSpace:
        """The space of the other hyperparameters once those in ``fixed`` take the given values.

        A condition reading only fixed parents is decided now: if it holds, it is dropped; if not, its
        child is never active and is removed as well (recursively).
        """
        fixed = dict(fixed)
        unknown = [n for n in fixed if n not in self.domains]
        if unknown:
            raise ValueError(f"cannot fix unknown hyperparameters {unknown} (valid: {self.names})")
        never_active: set[str] = set()
        kept_conditions: list[Condition] = []
        for cond in self._order:  # type: ignore[attr-defined]  (parents before children)
            if cond.child in fixed:
                continue
            parents = set(cond.parents)
            decidable = parents <= set(fixed) | never_active
            if decidable:
                # Never-active parents are absent from the values, so leaf conditions on them are false.
                if not cond.holds({p: fixed[p] for p in parents if p in fixed}):
                    never_active.add(cond.child)
                continue
            if parents & (set(fixed) | never_active):
                raise ValueError(
                    f"condition of {cond.child!r} mixes fixed parents "
                    f"{sorted(parents & (set(fixed) | never_active))} with free ones; not supported"
                )
            kept_conditions.append(cond)
        removed = set(fixed) | never_active
        domains = {n: d for n, d in self.domains.items() if n not in removed}
        order = {n: i for i, n in enumerate(self.conditional_names)}
        kept_conditions.sort(key=lambda c: order[c.child])
        return ConditionalSearchSpace(domains, tuple(kept_conditions))

    # --- JSON --------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["conditions"] = [c.to_dict() for c in self.conditions]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConditionalSearchSpace:
        base = SearchSpace.from_dict(d)
        conditions = tuple(condition_from_dict(c) for c in d.get("conditions", []))
        return cls(dict(base.domains), conditions)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {d!r}" for n, d in self.domains.items())
        return f"ConditionalSearchSpace({{{inner}}}, {len(self.conditions)} conditions)"


# ---------------------------------------------------------------------------------------------------------
# Reading ConfigSpace JSON
# ---------------------------------------------------------------------------------------------------------


def _clean_bound(x: float) -> float:
    return float(f"{float(x):.12g}")


def domain_from_configspace(entry: Mapping[str, Any]) -> Domain:
    """One ConfigSpace JSON 0.2 hyperparameter as a domain."""
    kind = entry.get("type")
    name = entry.get("name")
    try:
        if kind == "categorical":
            choices = list(entry["choices"])
            return Constant(choices[0]) if len(choices) == 1 else Categorical(choices)
        if kind == "ordinal":
            return Ordinal(list(entry["sequence"]))
        if kind == "constant":
            return Constant(entry["value"])
        if kind == "uniform_int":
            return Integer(int(entry["lower"]), int(entry["upper"]), log=bool(entry.get("log", False)))
        if kind == "uniform_float":
            lower, upper = _clean_bound(entry["lower"]), _clean_bound(entry["upper"])
            return LogUniform(lower, upper) if entry.get("log", False) else Uniform(lower, upper)
    except KeyError as err:
        raise ValueError(f"hyperparameter {name!r} ({kind}) lacks the key {err.args[0]!r}") from None
    raise ValueError(
        f"hyperparameter {name!r} has unsupported type {kind!r}; supported: categorical, ordinal, constant, "
        "uniform_int, uniform_float"
    )


def parse_config_space(data: Mapping[str, Any]) -> ConditionalSearchSpace:
    """A ConfigSpace JSON 0.2 document (already parsed) as a ``ConditionalSearchSpace``."""
    if not isinstance(data, Mapping) or "hyperparameters" not in data:
        raise ValueError("a ConfigSpace JSON document needs a 'hyperparameters' list")
    version = data.get("json_format_version")
    if version is not None and float(version) != 0.2:
        raise ValueError(f"ConfigSpace JSON format {version} is not supported (expected 0.2)")
    if data.get("forbiddens"):
        raise ValueError(
            f"the space has {len(data['forbiddens'])} forbidden clauses, which are not supported "
            "(no YAHPO scenario has any)"
        )
    domains: dict[str, Domain] = {}
    for entry in data["hyperparameters"]:
        name = entry.get("name")
        if not name:
            raise ValueError(f"hyperparameter entry without a name: {entry!r}")
        if name in domains:
            raise ValueError(f"hyperparameter {name!r} appears twice")
        domains[name] = domain_from_configspace(entry)
    conditions = tuple(condition_from_dict(c) for c in data.get("conditions", []))
    return ConditionalSearchSpace(domains, conditions)


def read_config_space(path: str | Path) -> ConditionalSearchSpace:
    """Read a ``config_space.json`` file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"no ConfigSpace JSON file at {path}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    return parse_config_space(data)
