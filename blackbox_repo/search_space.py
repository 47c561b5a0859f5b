"""Search spaces: hyperparameter domains and whole spaces.

Every domain can
- sample from a ``numpy.random.Generator`` (one value, or ``size`` values as a numpy array / list),
- check membership (``contains``),
- encode a value to the unit interval and decode it back (model-based methods work in [0, 1]^d;
  unbounded domains go through their distribution's CDF),
- round-trip through a JSON-able dict (``to_dict`` / ``domain_from_dict``).

Semantics follow Azure ML HyperDrive's parameter expressions (see ``blackbox_repo.hyperdrive``) and
Determined's hyperparameter types (see ``blackbox_repo.determined``). Values handed out are plain Python
scalars (``int``, ``float``, ``str``, ``bool``), never numpy scalars, so that table lookups and JSON
serialisation see exactly the values a user would type.
"""
from __future__ import annotations

import itertools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

# CDF-encoded values are clipped away from 0 and 1 so that decoding stays finite.
_CDF_EPS = 1e-12
# Tolerance (relative to q) for "is a multiple of q"; quantised values are float products round(x/q)*q.
_Q_TOL = 1e-9

Value = int | float | str | bool


def _py(value: Any) -> Value:
    """Convert numpy scalars to the matching Python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class Domain(ABC):
    """One hyperparameter's set of values and sampling distribution."""

    type_name: ClassVar[str]

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """One value (``size=None``) or ``size`` values."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` can be produced by this domain."""

    @abstractmethod
    def encode(self, value: Any) -> float:
        """Map a member to [0, 1]."""

    @abstractmethod
    def decode(self, u: float) -> Value:
        """Map a point of [0, 1] to a member (inverse of ``encode`` on members)."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able)."""

    @property
    def is_finite(self) -> bool:
        return False

    def values(self) -> list[Value]:
        """All members of a finite domain, in order."""
        raise TypeError(f"{self!r} is not finite: it has no list of values; give a number of grid points")

    def grid(self, num_points: int | None = None) -> list[Value]:
        """Grid points: every value of a finite domain, or ``num_points`` evenly spaced in encoded space."""
        if self.is_finite:
            return self.values()
        if num_points is None or num_points < 1:
            raise ValueError(
                f"{self!r} is continuous: pass a number of grid points (e.g. num_points=5) to grid over it"
            )
        if num_points == 1:
            return [self.decode(0.5)]
        us = np.linspace(0.0, 1.0, num_points)
        if isinstance(self, Normal):
            # Unbounded: the end points would decode to +-infinity; stay inside the CDF's open interval.
            us = np.clip(us, 1e-6, 1 - 1e-6)
        out: list[Value] = []
        for u in us:
            v = self.decode(float(u))
            if v not in out:
                out.append(v)
        return out

    def encode_many(self, values: Sequence[Any]) -> np.ndarray:
        return np.array([self.encode(v) for v in values], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, **self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.type_name, json.dumps(self.params(), sort_keys=True, default=str)))


# ---------------------------------------------------------------------------------------------------------
# Finite domains
# ---------------------------------------------------------------------------------------------------------


class FiniteDomain(Domain):
    """Shared behaviour of domains with a finite, ordered list of values."""

    _values: list[Value]

    @property
    def is_finite(self) -> bool:
        return True

    def values(self) -> list[Value]:
        return list(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def index(self, value: Any) -> int:
        value = _py(value)
        try:
            return self._index[value]
        except (KeyError, TypeError):
            pass
        if _is_number(value):
            for i, v in enumerate(self._values):
                if _is_number(v) and math.isclose(float(v), float(value), rel_tol=1e-9, abs_tol=1e-12):
                    return i
        raise ValueError(f"{value!r} is not one of {self._values!r}")

    def _build_index(self) -> None:
        self._index: dict[Any, int] = {}
        for i, v in enumerate(self._values):
            self._index.setdefault(v, i)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        n = len(self._values)
        if size is None:
            # floor(U * n) from one double: ~10x cheaper than a scalar rng.integers call, which matters when
            # simulations sample thousands of configurations; the bias is below 2**-53 * n.
            return self._values[min(int(rng.random() * n), n - 1)]
        idx = rng.integers(0, n, size=size)
        return [self._values[i] for i in idx]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self._values)

    def decode(self, u: float) -> Value:
        n = len(self._values)
        i = min(max(math.floor(float(u) * n), 0), n - 1)
        return self._values[i]


class _ListedDomain(FiniteDomain):
    """A domain given by its list of distinct values (messages name the subclass's ``type_name``)."""

    def __init__(self, values: Sequence[Value]):
        vals = [_py(v) for v in values]
        if not vals:
            article = "an" if self.type_name[0] in "aeiou" else "a"
            raise ValueError(f"{article} {self.type_name} domain needs at least one value")
        if len(set(map(repr, vals))) != len(vals):
            raise ValueError(f"{self.type_name} values must be distinct, got {vals!r}")
        self._values = vals
        self._build_index()

    def params(self) -> dict[str, Any]:
        return {"values": list(self._values)}


class Categorical(_ListedDomain):
    """Unordered choice among values (HyperDrive ``choice``, Determined ``categorical``)."""

    type_name = "categorical"


class Ordinal(_ListedDomain):
    """Ordered choice among values: neighbours in the list are close (used by model-based methods)."""

    type_name = "ordinal"


class FiniteRange(FiniteDomain):
    """``size`` evenly spaced values in [lower, upper], linearly or on a log scale, optionally rounded to int."""

    type_name = "finite_range"

    def __init__(self, lower: float, upper: float, size: int, log: bool = False, cast_int: bool = False):
        if size < 1:
            raise ValueError(f"finite_range needs size >= 1, got {size}")
        if upper < lower:
            raise ValueError(f"finite_range needs lower <= upper, got [{lower}, {upper}]")
        if log and lower <= 0:
            raise ValueError(f"a log finite_range needs lower > 0, got {lower}")
        self.lower, self.upper, self.size, self.log, self.cast_int = lower, upper, int(size), log, cast_int
        if size == 1:
            raw = np.array([lower], dtype=float)
        elif log:
            raw = np.exp(np.linspace(math.log(lower), math.log(upper), size))
            raw[0], raw[-1] = lower, upper  # exact end points despite exp(log(x)) rounding
        else:
            raw = np.linspace(lower, upper, size)
        vals: list[Value] = [round(float(v)) for v in raw] if cast_int else [float(v) for v in raw]
        if len(set(vals)) != len(vals):
            raise ValueError(f"finite_range({lower}, {upper}, {size}, cast_int={cast_int}) has repeated values")
        self._values = vals
        self._build_index()

    def params(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "size": self.size, "log": self.log,
                "cast_int": self.cast_int}


class Integer(FiniteDomain):
    """Integers in [lower, upper] (both inclusive), uniform or log-uniform.

    HyperDrive ``randint(upper)`` is ``Integer(0, upper - 1)``; Determined ``int`` is ``Integer(minval, maxval)``.
    """

    type_name = "integer"

    def __init__(self, lower: int, upper: int, log: bool = False):
        lower, upper = int(lower), int(upper)
        if upper < lower:
            raise ValueError(f"integer domain needs lower <= upper, got [{lower}, {upper}]")
        if log and lower < 1:
            raise ValueError(f"a log integer domain needs lower >= 1, got {lower}")
        self.lower, self.upper, self.log = lower, upper, log

    # The value list is never materialised: ranges can be huge.
    def values(self) -> list[Value]:
        return list(range(self.lower, self.upper + 1))

    def __len__(self) -> int:
        return self.upper - self.lower + 1

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        if self.log:
            lo, hi = math.log(self.lower - 0.5 if self.lower > 1 else self.lower), math.log(self.upper + 0.5)
            raw = np.exp(rng.uniform(lo, hi, size=size))
            v = np.clip(np.round(raw), self.lower, self.upper).astype(np.int64)
        else:
            v = rng.integers(self.lower, self.upper + 1, size=size)
        if size is None:
            return int(v)
        return np.asarray(v, dtype=np.int64)

    def contains(self, value: Any) -> bool:
        value = _py(value)
        if isinstance(value, bool) or not _is_number(value):
            return False
        return float(value).is_integer() and self.lower <= value <= self.upper

    def index(self, value: Any) -> int:
        if not self.contains(value):
            raise ValueError(f"{value!r} is not an integer in [{self.lower}, {self.upper}]")
        return int(value) - self.lower

    def encode(self, value: Any) -> float:
        v = float(_py(value))
        if self.log:
            if self.upper == self.lower:
                return 0.5
            lo, hi = math.log(self.lower - 0.5 if self.lower > 1 else self.lower), math.log(self.upper + 0.5)
            return min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)
        return (v - self.lower + 0.5) / (self.upper - self.lower + 1)

    def decode(self, u: float) -> Value:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.lower - 0.5 if self.lower > 1 else self.lower), math.log(self.upper + 0.5)
            return int(min(max(round(math.exp(lo + u * (hi - lo))), self.lower), self.upper))
        n = self.upper - self.lower + 1
        return self.lower + min(math.floor(u * n), n - 1)

    def params(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "log": self.log}


class Constant(FiniteDomain):
    """A fixed value (Determined ``const``); sampled, encoded and gridded as a single point."""

    type_name = "constant"

    def __init__(self, value: Value):
        self.value = _py(value)
        self._values = [self.value]
        self._build_index()

    def params(self) -> dict[str, Any]:
        return {"value": self.value}


# ---------------------------------------------------------------------------------------------------------
# Continuous domains
# ---------------------------------------------------------------------------------------------------------


def _as_output(raw: np.ndarray | float, size: int | None) -> Any:
    if size is None:
        return float(raw)
    return np.asarray(raw, dtype=float)


def _quantise(x: np.ndarray | float, q: float) -> np.ndarray | float:
    # HyperDrive: round(value / q) * q, with numpy's round-half-to-even.
    return np.round(np.asarray(x, dtype=float) / q) * q


def _is_multiple(value: float, q: float) -> bool:
    r = value / q
    return abs(r - round(r)) <= _Q_TOL * max(1.0, abs(r))


def _linear_position(value: Any, lower: float, upper: float) -> float:
    """Where ``value`` lies in [lower, upper], as a fraction clipped to [0, 1] (0.5 when the range is a point)."""
    if upper == lower:
        return 0.5
    return min(max((float(value) - lower) / (upper - lower), 0.0), 1.0)


class _ContinuousRange(Domain):
    """Shared by the unquantised ranges: any number between the bounds."""

    lower: float
    upper: float

    def contains(self, value: Any) -> bool:
        value = _py(value)
        return _is_number(value) and self.lower <= value <= self.upper

    def params(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper}


class Uniform(_ContinuousRange):
    """Floats uniform on [lower, upper] (HyperDrive ``uniform``, Determined ``double``)."""

    type_name = "uniform"

    def __init__(self, lower: float, upper: float):
        if not upper >= lower:
            raise ValueError(f"uniform needs lower <= upper, got [{lower}, {upper}]")
        self.lower, self.upper = float(lower), float(upper)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(rng.uniform(self.lower, self.upper, size=size), size)

    def encode(self, value: Any) -> float:
        return _linear_position(value, self.lower, self.upper)

    def decode(self, u: float) -> Value:
        u = min(max(float(u), 0.0), 1.0)
        return min(max(self.lower + u * (self.upper - self.lower), self.lower), self.upper)


class LogUniform(_ContinuousRange):
    """Floats whose logarithm is uniform: values in [lower, upper] (value-space bounds).

    HyperDrive's ``loguniform(min, max)`` takes bounds in natural-log space and is
    ``LogUniform(exp(min), exp(max))``; Determined's ``log`` (``base ** uniform(minval, maxval)``) is
    ``LogUniform(base ** minval, base ** maxval)``: the distribution does not depend on the base.
    """

    type_name = "loguniform"

    def __init__(self, lower: float, upper: float):
        if not (0 < lower <= upper):
            raise ValueError(f"loguniform needs 0 < lower <= upper, got [{lower}, {upper}]")
        self.lower, self.upper = float(lower), float(upper)
        self._lo, self._hi = math.log(self.lower), math.log(self.upper)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        raw = np.clip(np.exp(rng.uniform(self._lo, self._hi, size=size)), self.lower, self.upper)
        return _as_output(raw, size)

    def encode(self, value: Any) -> float:
        if self._hi == self._lo:
            return 0.5
        return min(max((math.log(float(value)) - self._lo) / (self._hi - self._lo), 0.0), 1.0)

    def decode(self, u: float) -> Value:
        u = min(max(float(u), 0.0), 1.0)
        return min(max(math.exp(self._lo + u * (self._hi - self._lo)), self.lower), self.upper)


class _QuantisedRange(Domain):
    """Shared by the quantised ranges: values are multiples of ``q`` between the quantised bounds."""

    lower: float
    upper: float
    q: float

    def contains(self, value: Any) -> bool:
        value = _py(value)
        if not _is_number(value) or not _is_multiple(float(value), self.q):
            return False
        lo, hi = _quantise(self.lower, self.q), _quantise(self.upper, self.q)
        return lo - _Q_TOL * self.q <= value <= hi + _Q_TOL * self.q

    def params(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "q": self.q}


class QUniform(_QuantisedRange):
    """HyperDrive ``quniform(min, max, q)``: ``round(uniform(min, max) / q) * q``."""

    type_name = "quniform"

    def __init__(self, lower: float, upper: float, q: float):
        if not upper >= lower:
            raise ValueError(f"quniform needs lower <= upper, got [{lower}, {upper}]")
        if not q > 0:
            raise ValueError(f"quniform needs q > 0, got {q}")
        self.lower, self.upper, self.q = float(lower), float(upper), float(q)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(_quantise(rng.uniform(self.lower, self.upper, size=size), self.q), size)

    def encode(self, value: Any) -> float:
        return _linear_position(value, self.lower, self.upper)

    def decode(self, u: float) -> Value:
        u = min(max(float(u), 0.0), 1.0)
        return float(_quantise(self.lower + u * (self.upper - self.lower), self.q))


class QLogUniform(_QuantisedRange):
    """HyperDrive ``qloguniform(min, max, q)``: ``round(exp(uniform(min, max)) / q) * q``.

    Bounds are given in value space here (``lower = exp(min)``), as for ``LogUniform``.
    """

    type_name = "qloguniform"

    def __init__(self, lower: float, upper: float, q: float):
        if not (0 < lower <= upper):
            raise ValueError(f"qloguniform needs 0 < lower <= upper, got [{lower}, {upper}]")
        if not q > 0:
            raise ValueError(f"qloguniform needs q > 0, got {q}")
        self.lower, self.upper, self.q = float(lower), float(upper), float(q)
        self._lo, self._hi = math.log(self.lower), math.log(self.upper)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        raw = np.clip(np.exp(rng.uniform(self._lo, self._hi, size=size)), self.lower, self.upper)
        return _as_output(_quantise(raw, self.q), size)

    def encode(self, value: Any) -> float:
        if self._hi == self._lo:
            return 0.5
        v = max(float(value), self.lower)
        return min(max((math.log(v) - self._lo) / (self._hi - self._lo), 0.0), 1.0)

    def decode(self, u: float) -> Value:
        u = min(max(float(u), 0.0), 1.0)
        return float(_quantise(math.exp(self._lo + u * (self._hi - self._lo)), self.q))


class Normal(Domain):
    """HyperDrive ``normal(mu, sigma)``: unbounded; encoded through the normal CDF."""

    type_name = "normal"

    def __init__(self, mu: float, sigma: float):
        if not sigma > 0:
            raise ValueError(f"normal needs sigma > 0, got {sigma}")
        self.mu, self.sigma = float(mu), float(sigma)

    def _draw(self, rng: np.random.Generator, size: int | None) -> np.ndarray | float:
        return rng.normal(self.mu, self.sigma, size=size)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(self._draw(rng, size), size)

    def contains(self, value: Any) -> bool:
        value = _py(value)
        return _is_number(value) and math.isfinite(value)

    def _z(self, value: float) -> float:
        return (float(value) - self.mu) / self.sigma

    def encode(self, value: Any) -> float:
        # scipy.special costs ~0.3 s to import; only normal hyperparameters need it, so it is imported here
        # rather than with the module (every simulation process imports this module).
        from scipy.special import ndtr

        return float(np.clip(ndtr(self._z(value)), _CDF_EPS, 1 - _CDF_EPS))

    def _inverse(self, u: float) -> float:
        from scipy.special import ndtri  # lazily, as in ``encode``

        u = min(max(float(u), _CDF_EPS), 1 - _CDF_EPS)
        return self.mu + self.sigma * float(ndtri(u))

    def decode(self, u: float) -> Value:
        return self._inverse(u)

    def params(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma}


class LogNormal(Normal):
    """HyperDrive ``lognormal(mu, sigma)``: ``exp(normal(mu, sigma))``."""

    type_name = "lognormal"

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(np.exp(self._draw(rng, size)), size)

    def contains(self, value: Any) -> bool:
        value = _py(value)
        return _is_number(value) and 0 < value < math.inf

    def _z(self, value: float) -> float:
        return (math.log(float(value)) - self.mu) / self.sigma

    def decode(self, u: float) -> Value:
        return math.exp(self._inverse(u))


class QNormal(Normal):
    """HyperDrive ``qnormal(mu, sigma, q)``: ``round(normal(mu, sigma) / q) * q``."""

    type_name = "qnormal"

    def __init__(self, mu: float, sigma: float, q: float):
        super().__init__(mu, sigma)
        if not q > 0:
            raise ValueError(f"qnormal needs q > 0, got {q}")
        self.q = float(q)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(_quantise(self._draw(rng, size), self.q), size)

    def contains(self, value: Any) -> bool:
        return super().contains(value) and _is_multiple(float(value), self.q)

    def decode(self, u: float) -> Value:
        return float(_quantise(self._inverse(u), self.q))

    def params(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma, "q": self.q}


class QLogNormal(QNormal):
    """HyperDrive ``qlognormal(mu, sigma, q)``: ``round(exp(normal(mu, sigma)) / q) * q``."""

    type_name = "qlognormal"

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _as_output(_quantise(np.exp(self._draw(rng, size)), self.q), size)

    def contains(self, value: Any) -> bool:
        value = _py(value)
        return _is_number(value) and 0 <= value < math.inf and _is_multiple(float(value), self.q)

    def _z(self, value: float) -> float:
        # A quantised value can be 0 (exp(x) < q/2); encode it at the bottom of the distribution.
        v = float(value)
        return (math.log(v) - self.mu) / self.sigma if v > 0 else -math.inf

    def decode(self, u: float) -> Value:
        return float(_quantise(math.exp(self._inverse(u)), self.q))


_DOMAIN_TYPES: dict[str, type[Domain]] = {
    cls.type_name: cls
    for cls in (Categorical, Ordinal, FiniteRange, Integer, Constant, Uniform, LogUniform, QUniform,
                QLogUniform, Normal, LogNormal, QNormal, QLogNormal)
}


def domain_from_dict(d: Mapping[str, Any]) -> Domain:
    """Inverse of ``Domain.to_dict``."""
    try:
        kind = d["type"]
    except (KeyError, TypeError):
        raise ValueError(f"a domain dict needs a 'type' key, got {d!r}") from None
    try:
        cls = _DOMAIN_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown domain type {kind!r}; valid types: {sorted(_DOMAIN_TYPES)}") from None
    kwargs = {k: v for k, v in d.items() if k != "type"}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"bad arguments for domain type {kind!r}: {kwargs!r} ({err})") from None


# ---------------------------------------------------------------------------------------------------------
# Whole spaces
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSpace(Mapping[str, Domain]):
    """An ordered mapping from hyperparameter name to domain.

    ``encode`` maps a configuration to a point of [0, 1]^d, where d counts the non-constant
    hyperparameters (``tunable_names``); ``decode`` is its inverse and fills constants back in.
    """

    domains: dict[str, Domain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, dom in self.domains.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"hyperparameter names must be non-empty strings, got {name!r}")
            if not isinstance(dom, Domain):
                raise TypeError(f"hyperparameter {name!r}: expected a Domain, got {dom!r}")
        # Sampling plan when every domain draws its value as ``values[floor(U * n)]`` from one double U (the
        # finite domains that keep FiniteDomain.sample): one ``rng.random(d)`` call then gives the very same
        # doubles, in the same order, as d scalar calls, several times faster (simulations sample thousands
        # of configurations). ``None``: sample domain by domain.
        plan: tuple[tuple[str, list[Value], int], ...] | None = tuple(
            (name, dom._values, len(dom._values)) for name, dom in self.domains.items()
            if isinstance(dom, FiniteDomain) and type(dom).sample is FiniteDomain.sample
        )
        if len(plan) != len(self.domains) or not plan:
            plan = None
        object.__setattr__(self, "_finite_plan", plan)

    # Mapping protocol
    def __getitem__(self, name: str) -> Domain:
        try:
            return self.domains[name]
        except KeyError:
            raise KeyError(_unknown_name_message("hyperparameter", name, list(self.domains))) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.domains)

    def __len__(self) -> int:
        return len(self.domains)

    def __hash__(self) -> int:
        return hash(self.to_json())

    @property
    def names(self) -> list[str]:
        return list(self.domains)

    @property
    def tunable_names(self) -> list[str]:
        return [n for n, d in self.domains.items() if not isinstance(d, Constant)]

    # Sampling and checking
    def sample(self, rng: np.random.Generator) -> dict[str, Value]:
        plan = self._finite_plan
        if plan is not None and len(plan) == len(self.domains):
            config = {}
            for (name, values, n), u in zip(plan, rng.random(len(plan)).tolist()):
                i = int(u * n)
                config[name] = values[i if i < n else n - 1]
            return config
        return {name: dom.sample(rng) for name, dom in self.domains.items()}

    def sample_many(self, rng: np.random.Generator, n: int) -> list[dict[str, Value]]:
        """``n`` configurations, drawn column by column (fast); a different stream than n ``sample`` calls."""
        columns = {name: dom.sample(rng, size=n) for name, dom in self.domains.items()}
        out: list[dict[str, Value]] = []
        for i in range(n):
            out.append({name: _py(col[i]) for name, col in columns.items()})
        return out

    def contains(self, config: Mapping[str, Any]) -> bool:
        return not self.violations(config)

    def violations(self, config: Mapping[str, Any]) -> list[str]:
        """Human-readable reasons why ``config`` is not a member (empty if it is)."""
        problems = []
        missing = [n for n in self.domains if n not in config]
        if missing:
            problems.append(f"missing hyperparameters {missing}")
        extra = [n for n in config if n not in self.domains]
        if extra:
            problems.append(f"unknown hyperparameters {extra} (valid: {self.names})")
        for name, dom in self.domains.items():
            if name in config and not dom.contains(config[name]):
                problems.append(f"{name}={config[name]!r} is not in {dom!r}")
        return problems

    def check(self, config: Mapping[str, Any]) -> None:
        problems = self.violations(config)
        if problems:
            raise ValueError("invalid configuration: " + "; ".join(problems))

    # Encoding
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        return np.array([self.domains[n].encode(config[n]) for n in self.tunable_names], dtype=float)

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Value]:
        names = self.tunable_names
        if len(u) != len(names):
            raise ValueError(f"expected a vector of length {len(names)} ({names}), got length {len(u)}")
        it = iter(u)
        out: dict[str, Value] = {}
        for name, dom in self.domains.items():
            out[name] = dom.value if isinstance(dom, Constant) else dom.decode(float(next(it)))
        return out

    # Grids
    def grid_size(self, num_points: int | None = None) -> int:
        return math.prod(len(d.grid(num_points)) for d in self.domains.values())

    def grid(self, num_points: int | None = None) -> Iterator[dict[str, Value]]:
        """Cartesian product of every domain's grid, last hyperparameter varying fastest."""
        names = self.names
        axes = [self.domains[n].grid(num_points) for n in names]
        for combo in itertools.product(*axes):
            yield dict(zip(names, combo))

    # JSON
    def to_dict(self) -> dict[str, Any]:
        return {"hyperparameters": [{"name": n, **d.to_dict()} for n, d in self.domains.items()]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        try:
            entries = d["hyperparameters"]
        except (KeyError, TypeError):
            raise ValueError("a search-space dict needs a 'hyperparameters' list") from None
        domains: dict[str, Domain] = {}
        for entry in entries:
            entry = dict(entry)
            name = entry.pop("name", None)
            if name is None:
                raise ValueError(f"search-space entry without a 'name': {entry!r}")
            if name in domains:
                raise ValueError(f"hyperparameter {name!r} appears twice")
            domains[name] = domain_from_dict(entry)
        return cls(domains)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {d!r}" for n, d in self.domains.items())
        return f"SearchSpace({{{inner}}})"


def _unknown_name_message(kind: str, name: Any, valid: Sequence[Any]) -> str:
    """Error text naming the closest valid choices."""
    import difflib

    valid_str = [str(v) for v in valid]
    close = difflib.get_close_matches(str(name), valid_str, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = valid_str if len(valid_str) <= 20 else valid_str[:20] + [f"... ({len(valid_str)} in all)"]
    return f"unknown {kind} {name!r}{hint} (valid: {', '.join(shown)})"


def closest_choices_message(kind: str, name: Any, valid: Sequence[Any]) -> str:
    """Public wrapper: the message used everywhere for unknown names."""
    return _unknown_name_message(kind, name, valid)
