"""Blackboxes: the objective functions of a benchmark.

A blackbox maps (configuration, fidelity, seed) to a vector of objectives. Shapes returned by
``evaluate`` / ``evaluate_batch``:

=====================  ===============  ==================
call                   one seed         ``seed=None`` (all)
=====================  ===============  ==================
evaluate, fidelity     (O,)             (S, O)
evaluate, no fidelity  (F, O)           (S, F, O)
evaluate_batch, fid.   (N, O)           (N, S, O)
evaluate_batch, none   (N, F, O)        (N, S, F, O)
=====================  ===============  ==================

O = objectives (``objectives_names`` order), F = fidelities (``fidelity_values`` order), S = seeds.
Missing entries of a table are NaN.
"""
from __future__ import annotations

import operator
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.search_space import SearchSpace, closest_choices_message

Config = Mapping[str, Any]


class BlackboxLookupError(KeyError):
    """A configuration, fidelity, seed or objective that the blackbox does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class BlackboxMetadata:
    """What a blackbox says about itself (stored in ``metadata.json``)."""

    name: str
    default_metric: str
    mode: str = "min"  # direction of default_metric
    objective_modes: dict[str, str] = field(default_factory=dict)  # per objective, where known
    time_objective: str | None = None  # objective holding elapsed time
    time_is_cumulative: bool = True  # time objective counts from the trial's start (else: per fidelity step)
    source: str = ""
    licence: str = ""
    description: str = ""
    seeds: list[Any] = field(default_factory=list)  # upstream identities of the seed axis (e.g. 777, 888, 999)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "default_metric": self.default_metric, "mode": self.mode,
            "objective_modes": dict(self.objective_modes), "time_objective": self.time_objective,
            "time_is_cumulative": self.time_is_cumulative, "source": self.source, "licence": self.licence,
            "description": self.description, "seeds": list(self.seeds), "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BlackboxMetadata:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


class Blackbox(ABC):
    """Base class: configuration space, fidelities, objectives and evaluation."""

    def __init__(
        self,
        configuration_space: SearchSpace,
        objectives_names: Sequence[str],
        metadata: BlackboxMetadata,
        fidelity_name: str | None = None,
        fidelity_values: Sequence[float] | np.ndarray | None = None,
        num_seeds: int = 1,
        task: str | None = None,
    ):
        self.configuration_space = configuration_space
        self.objectives_names = list(objectives_names)
        if len(set(self.objectives_names)) != len(self.objectives_names):
            raise ValueError(f"objective names must be distinct: {self.objectives_names}")
        self.metadata = metadata
        self.task = task
        self.num_seeds = int(num_seeds)
        if (fidelity_name is None) != (fidelity_values is None):
            raise ValueError("give both fidelity_name and fidelity_values, or neither")
        self.fidelity_name = fidelity_name
        if fidelity_values is not None:
            fv = np.asarray(fidelity_values)
            if fv.ndim != 1 or fv.size == 0:
                raise ValueError("fidelity_values must be a non-empty 1-D sequence")
            if np.any(np.diff(fv.astype(float)) <= 0):
                raise ValueError("fidelity_values must be strictly increasing")
            self.fidelity_values: np.ndarray | None = fv
            self._fidelity_pos = {float(v): i for i, v in enumerate(fv.tolist())}
        else:
            self.fidelity_values = None
            self._fidelity_pos = {}
        self._objective_pos = {n: i for i, n in enumerate(self.objectives_names)}
        for name in (metadata.default_metric, metadata.time_objective):
            if name is not None and name not in self._objective_pos:
                raise ValueError(closest_choices_message("objective (in metadata)", name, self.objectives_names))

    # --- names and indices -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.metadata.name if self.task is None else f"{self.metadata.name}/{self.task}"

    @property
    def num_fidelities(self) -> int:
        return 0 if self.fidelity_values is None else len(self.fidelity_values)

    @property
    def fidelity_space(self) -> SearchSpace:
        from blackbox_repo.search_space import Ordinal

        if self.fidelity_name is None:
            return SearchSpace({})
        return SearchSpace({self.fidelity_name: Ordinal(self.fidelity_values.tolist())})

    @property
    def max_fidelity(self) -> float | None:
        return None if self.fidelity_values is None else self.fidelity_values[-1].item()

    def objective_index(self, name: str) -> int:
        try:
            return self._objective_pos[name]
        except KeyError:
            raise BlackboxLookupError(closest_choices_message("objective", name, self.objectives_names)) from None

    def fidelity_index(self, value: float) -> int:
        """Position of a fidelity value in ``fidelity_values`` (exact match)."""
        if self.fidelity_values is None:
            raise BlackboxLookupError(f"blackbox {self.name} has no fidelities; call without a fidelity")
        try:
            return self._fidelity_pos[float(value)]
        except (KeyError, TypeError, ValueError):
            pass
        fv = self.fidelity_values.astype(float)
        try:
            order = np.argsort(np.abs(fv - float(value)))[:3]
            close = ", ".join(str(fv[i].item() if fv[i] % 1 else int(fv[i])) for i in sorted(order))
        except (TypeError, ValueError):
            close = ", ".join(map(str, fv[:3]))
        raise BlackboxLookupError(
            f"fidelity {self.fidelity_name}={value!r} is not tabulated for {self.name}; closest valid: {close} "
            f"(range {fv[0]:g}..{fv[-1]:g}, {len(fv)} values)"
        )

    def seed_index(self, seed: int) -> int:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= int(seed) < self.num_seeds:
            raise BlackboxLookupError(
                f"seed {seed!r} is not available for {self.name}: valid seeds are 0..{self.num_seeds - 1}"
                + (f" (upstream seeds {self.metadata.seeds})" if self.metadata.seeds else "")
            )
        return int(seed)

    # --- evaluation --------------------------------------------------------------------------------------

    @abstractmethod
    def evaluate_batch(
        self, configs: Sequence[Config] | pd.DataFrame, fidelity: float | None = None, seed: int | None = 0
    ) -> np.ndarray:
        """Objectives for many configurations (shapes in the module docstring)."""

    def evaluate(self, config: Config, fidelity: float | None = None, seed: int | None = 0) -> np.ndarray:
        return self.evaluate_batch([config], fidelity=fidelity, seed=seed)[0]

    def objective(self, config: Config, fidelity: float | None = None, seed: int = 0) -> dict[str, float]:
        """``{objective name: value}`` at one fidelity (default: the largest)."""
        if fidelity is None and self.fidelity_values is not None:
            fidelity = self.fidelity_values[-1].item()
        values = self.evaluate(config, fidelity=fidelity, seed=seed)
        return {n: float(v) for n, v in zip(self.objectives_names, values)}

    __call__ = objective

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, {len(self.configuration_space)} hyperparameters, "
            f"{self.num_fidelities} fidelities, {self.num_seeds} seeds, objectives={self.objectives_names})"
        )


def _normalise_key_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same_value(a: Any, b: Any) -> bool:
    """Equality as a table lookup sees it (True is not 1 in a categorical column)."""
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and bool(a) == bool(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class _ColumnCodes:
    """Per-column integer codes of a table's hyperparameters, for vectorised lookups."""

    def __init__(self, column: pd.Series):
        values = column.to_numpy()
        self.numeric = pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)
        if self.numeric:
            self.uniques, self.codes = np.unique(values.astype(float), return_inverse=True)
        else:
            codes, uniques = pd.factorize(column, sort=False)
            self.codes = codes
            self.uniques = pd.Index(uniques)
        self.codes = np.asarray(self.codes, dtype=np.int64)

    def encode(self, query: np.ndarray | pd.Series) -> np.ndarray:
        """Codes of query values; -1 where the value is not in the column."""
        if self.numeric:
            try:
                q = np.asarray(query, dtype=float)
            except (TypeError, ValueError):
                return np.full(len(query), -1, dtype=np.int64)
            u = self.uniques
            pos = np.clip(np.searchsorted(u, q), 0, len(u) - 1)
            left = np.clip(pos - 1, 0, len(u) - 1)
            # Nearest neighbour within float32 precision: float32 inputs and 0.1 + 0.2 still match.
            pick = np.where(np.abs(u[left] - q) < np.abs(u[pos] - q), left, pos)
            # equal_nan: a NaN hyperparameter (an inactive conditional one) matches a NaN query.
            ok = np.isclose(u[pick], q, rtol=1e-6, atol=1e-12, equal_nan=True)
            return np.where(ok, pick, -1).astype(np.int64)
        try:
            # Factorise the query first (one hash pass, fast on pandas string columns), then map its few
            # distinct values to the table's codes.
            query_codes, query_uniques = pd.factorize(query)
        except TypeError:  # unhashable values: none of them is in the table
            return np.full(len(query), -1, dtype=np.int64)
        mapped = np.asarray(self.uniques.get_indexer(pd.Index(query_uniques, dtype=object)), dtype=np.int64)
        # factorize marks missing values with -1, which picks the appended -1: one gather, no temporaries.
        return np.append(mapped, -1)[query_codes]


class TabularBlackbox(Blackbox):
    """A table: hyperparameters (one row per configuration) and a dense objectives array.

    ``objectives`` has shape (configs, seeds, fidelities, objectives), float32 (often a read-only memory map).
    Row i of ``hyperparameters`` holds the configuration of ``objectives[i]``. A configuration is found by
    hashing the tuple of its values (a dict lookup), never by scanning; batches are looked up vectorised.
    """

    def __init__(
        self,
        hyperparameters: pd.DataFrame,
        objectives: np.ndarray,
        configuration_space: SearchSpace,
        objectives_names: Sequence[str],
        metadata: BlackboxMetadata,
        fidelity_name: str | None = None,
        fidelity_values: Sequence[float] | np.ndarray | None = None,
        task: str | None = None,
    ):
        if objectives.ndim != 4:
            raise ValueError(f"objectives must have shape (configs, seeds, fidelities, objectives), got {objectives.shape}")
        n, s, f, o = objectives.shape
        if fidelity_values is None:
            if f != 1:
                raise ValueError(f"objectives have {f} fidelities but no fidelity_values were given")
        elif len(fidelity_values) != f:
            raise ValueError(f"{len(fidelity_values)} fidelity values for an array with {f} fidelities")
        if len(objectives_names) != o:
            raise ValueError(f"{len(objectives_names)} objective names for an array with {o} objectives")
        if len(hyperparameters) != n:
            raise ValueError(f"{len(hyperparameters)} hyperparameter rows for an array with {n} configurations")
        cols = list(hyperparameters.columns)
        if cols != configuration_space.names:
            raise ValueError(
                f"hyperparameter columns {cols} must equal the configuration space names {configuration_space.names}"
            )
        super().__init__(configuration_space, objectives_names, metadata, fidelity_name, fidelity_values, s, task)
        self.hyperparameters = hyperparameters.reset_index(drop=True)
        self.objectives = objectives
        self._names = cols
        self._row_of: dict[tuple, int] | None = None
        # itemgetter builds the lookup tuple in C (a generator expression costs about a microsecond more).
        getter = operator.itemgetter(*cols)
        self._key_of = getter if len(cols) > 1 else (lambda config: (getter(config),))
        self._codes: list[_ColumnCodes] | None = None
        self._key_index: pd.Index | None = None

    # --- index construction (lazy: loading stays instant) ------------------------------------------------

    @property
    def num_configs(self) -> int:
        return self.objectives.shape[0]

    def _build_row_index(self) -> dict[tuple, int]:
        columns = [self.hyperparameters[c].tolist() for c in self._names]
        # Built in C (a third of the Python loop's time: it is paid by every fresh simulation process); the loop
        # below only runs to name a duplicated configuration.
        row_of = dict(zip(zip(*columns), range(len(self.hyperparameters))))
        if len(row_of) == len(self.hyperparameters):
            self._row_of = row_of
            return row_of
        row_of = {}
        for i, key in enumerate(zip(*columns)):
            if key in row_of:
                raise ValueError(
                    f"{self.name}: configuration {dict(zip(self._names, key))} appears twice (rows "
                    f"{row_of[key]} and {i}); put replicates on the seed axis"
                )
            row_of[key] = i
        self._row_of = row_of
        return row_of

    def _build_codes(self) -> None:
        self._codes = [_ColumnCodes(self.hyperparameters[c]) for c in self._names]
        self._key_index = pd.Index(self._combine([c.codes for c in self._codes]))

    def _combine(self, codes: list[np.ndarray]) -> np.ndarray:
        """One int64 key per row from per-column codes (mixed radix, or a 64-bit mix when that overflows)."""
        cards = [max(len(c.uniques), 1) for c in self._codes]
        if float(np.prod(np.asarray(cards, dtype=float))) < 2.0 ** 62:
            key = np.zeros(len(codes[0]), dtype=np.int64)
            for c, card in zip(codes, cards):
                key *= card  # in place: batches of millions of rows allocate one array, not two per column
                key += c
            return key
        key = np.zeros(len(codes[0]), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in codes:
                x = key ^ (c.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
                x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
                x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
                key = x ^ (x >> np.uint64(31))
        return key.view(np.int64)

    # --- lookups -----------------------------------------------------------------------------------------

    def row(self, config: Config) -> int:
        """Row of a configuration; raises ``BlackboxLookupError`` naming the closest rows if absent."""
        row_of = self._row_of if self._row_of is not None else self._build_row_index()
        try:
            key = self._key_of(config)
        except KeyError:
            missing = [n for n in self._names if n not in config]
            raise BlackboxLookupError(
                f"configuration {dict(config)} lacks hyperparameters {missing} of {self.name} "
                f"(expected {self._names})"
            ) from None
        try:
            return row_of[key]
        except KeyError:
            pass
        except TypeError:  # unhashable value
            pass
        rows = self.rows([config], missing="ignore")
        if rows[0] >= 0:
            return int(rows[0])
        raise BlackboxLookupError(self._not_in_table_message(config))

    def rows(self, configs: Sequence[Config] | pd.DataFrame, missing: str = "raise") -> np.ndarray:
        """Rows of many configurations, vectorised. ``missing="ignore"`` gives -1 for absent ones."""
        if self._codes is None:
            self._build_codes()
        assert self._codes is not None and self._key_index is not None
        if isinstance(configs, pd.DataFrame):
            frame = configs
        else:
            frame = pd.DataFrame.from_records(list(configs), columns=self._names) if len(configs) else \
                pd.DataFrame(columns=self._names)
        absent_cols = [n for n in self._names if n not in frame.columns]
        if absent_cols:
            raise BlackboxLookupError(f"configurations lack hyperparameters {absent_cols} of {self.name}")
        codes = [cc.encode(frame[n]) for cc, n in zip(self._codes, self._names)]
        bad = np.zeros(len(frame), dtype=bool)
        for c in codes:
            bad |= c < 0
        # Keys of rows with an absent value are meaningless; those rows are set to -1 right after.
        rows = np.asarray(self._key_index.get_indexer(self._combine(codes)), dtype=np.int64)
        rows[bad] = -1
        if rows.size and (rows >= 0).any() and self._uses_hash():
            # Verify hashed matches code by code (a 64-bit collision must not return a wrong row).
            ok = rows >= 0
            for cc, c in zip(self._codes, codes):
                ok &= cc.codes[np.where(rows >= 0, rows, 0)] == c
            rows[~ok] = -1
        if missing == "raise" and (rows < 0).any():
            first = int(np.flatnonzero(rows < 0)[0])
            cfg = {n: _normalise_key_value(frame[n].iloc[first]) for n in self._names}
            raise BlackboxLookupError(self._not_in_table_message(cfg))
        return rows

    def _uses_hash(self) -> bool:
        assert self._codes is not None
        return float(np.prod([float(max(len(c.uniques), 1)) for c in self._codes])) >= 2.0 ** 62

    def _not_in_table_message(self, config: Config) -> str:
        """Say which values the table lacks and name the closest configurations it holds.

        Closeness is per column, so a value outside the domain (a misspelt category, a string for a number)
        still ranks the rows: cost 0 for an equal value, 1 for a different category (less for a closer spelling), 1 + d / (1 + d) for a
        different number at distance d (relative to the column's range, log scale for log domains), 2 for a
        value of the wrong type; rows are ranked by total cost, so fewer differing columns come first.
        """
        base = f"configuration {dict(config)} is not in the table of {self.name} ({self.num_configs} rows)."
        tail = (" Use a surrogate (blackbox_repo.surrogate) to evaluate configurations outside the table, or "
                "restrict the method to the table's configurations.")
        try:
            if self._codes is None:
                self._build_codes()
            assert self._codes is not None
            total = np.zeros(self.num_configs, dtype=float)
            differs: list[np.ndarray] = []
            notes: list[str] = []
            for name, cc in zip(self._names, self._codes):
                costs, note = self._column_costs(name, cc, config.get(name))
                per_row = costs[cc.codes]
                total += per_row
                differs.append(per_row > 0)
                if note:
                    notes.append(note)
            order = np.argsort(total, kind="stable")[:2]
            close = []
            for i in order:
                # Column by column: a row of a mixed-type frame (iloc) would turn integers into floats.
                row = {k: _normalise_key_value(self.hyperparameters[k].iat[int(i)]) for k in self._names}
                changed = [n for n, d in zip(self._names, differs) if d[i]]
                close.append(f"{row} (differs in {', '.join(changed)})" if changed else str(row))
            hint = "".join(f" {n}." for n in notes)
            if close:
                hint += f" Closest configurations in the table: {'; '.join(close)}."
        except Exception as err:  # noqa: BLE001 - the hint must never hide the lookup error itself
            hint = f" (closest configurations unavailable: {type(err).__name__}: {err})"
        return base + hint + tail

    def _column_costs(self, name: str, cc: _ColumnCodes, value: Any) -> tuple[np.ndarray, str | None]:
        """Cost of each distinct value of a column against ``value``, and a note when no row has ``value``."""
        value = _normalise_key_value(value)
        domain = self.configuration_space.domains.get(name)
        outside = "" if domain is None or domain.contains(value) else f"; it is outside the domain {domain!r}"
        if cc.numeric:
            u = np.asarray(cc.uniques, dtype=float)
            try:
                if isinstance(value, str):
                    raise TypeError(value)
                v = float(value)
            except (TypeError, ValueError):
                return np.full(len(u), 2.0), f"{name}={value!r} is not a number{outside}"
            equal = np.isclose(u, v, rtol=1e-6, atol=1e-12, equal_nan=True)
            log_scale = bool(getattr(domain, "log", False)) or type(domain).__name__ in ("LogUniform", "QLogUniform")
            with np.errstate(all="ignore"):
                if log_scale and v > 0 and np.all(u[np.isfinite(u)] > 0):
                    uu, vv = np.log(u), np.log(v)
                else:
                    uu, vv = u, v
                finite = uu[np.isfinite(uu)]
                span = float(finite.max() - finite.min()) if finite.size else 0.0
                dist = np.abs(uu - vv) / (span if span > 0 else 1.0)
                squashed = dist / (1.0 + dist)  # keeps the order of values beyond the column's range
            costs = np.where(equal, 0.0, 1.0 + np.nan_to_num(squashed, nan=1.0))
            if equal.any():
                return costs, None
            as_int = pd.api.types.is_integer_dtype(self.hyperparameters[name].dtype)
            nearest = ", ".join(repr(int(u[i]) if as_int else float(u[i]))
                                for i in sorted(np.argsort(costs, kind="stable")[:2]))
            return costs, f"{name}={value!r} does not occur in the table (nearest values: {nearest}){outside}"
        uniques = [_normalise_key_value(x) for x in cc.uniques]
        import difflib

        # A different category costs 1 to 1.5: a closer spelling ranks first ('bb' -> 'b').
        costs = np.array([
            0.0 if _same_value(x, value) else
            1.0 + 0.5 * (1.0 - difflib.SequenceMatcher(None, str(x), str(value)).ratio())
            for x in uniques
        ])
        if (costs == 0).any():
            return costs, None

        close = difflib.get_close_matches(str(value), [str(x) for x in uniques], n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(repr(x) for x in uniques[:20]) + (", ..." if len(uniques) > 20 else "")
        return costs, f"{name}={value!r} does not occur in the table{hint} (values: {shown}){outside}"

    def evaluate_rows(
        self, rows: np.ndarray | int, fidelity_index: int | None = None, seed: int | None = 0
    ) -> np.ndarray:
        """Fast path for callers that already hold row numbers (the simulator)."""
        block = self.objectives[rows]
        if seed is not None:
            block = block[..., self.seed_index(seed), :, :] if np.ndim(rows) else block[self.seed_index(seed)]
        if fidelity_index is None and self.fidelity_values is None:
            fidelity_index = 0  # no fidelity axis to speak of: the table's F axis has length 1
        if fidelity_index is not None:
            block = block[..., fidelity_index, :]
        return np.array(block, dtype=np.float64)

    def evaluate(self, config: Config, fidelity: float | None = None, seed: int | None = 0) -> np.ndarray:
        r = self.row(config)
        if seed is not None and fidelity is not None:
            # The common single lookup, kept lean: one indexing operation, one float64 copy.
            fi = self._fidelity_pos.get(fidelity)
            if fi is None:
                fi = self.fidelity_index(fidelity)
            if seed.__class__ is not int or not 0 <= seed < self.num_seeds:
                seed = self.seed_index(seed)
            return self.objectives[r, seed, fi].astype(np.float64)
        block = self.objectives[r]
        if seed is not None:
            block = block[self.seed_index(seed)]
        if fidelity is not None:
            block = block[..., self.fidelity_index(fidelity), :]
        elif self.fidelity_values is None:
            block = block[..., 0, :]  # shapes as FunctionBlackbox: no F axis without fidelities
        return np.array(block, dtype=np.float64)

    def evaluate_batch(
        self, configs: Sequence[Config] | pd.DataFrame, fidelity: float | None = None, seed: int | None = 0
    ) -> np.ndarray:
        rows = self.rows(configs)
        fi = None if fidelity is None else self.fidelity_index(fidelity)
        if fi is None and self.fidelity_values is None:
            fi = 0  # shapes as FunctionBlackbox: no F axis without fidelities
        si = None if seed is None else self.seed_index(seed)
        block = self.objectives[rows]
        if si is not None:
            block = block[:, si]
        if fi is not None:
            block = block[..., fi, :]
        return np.asarray(block, dtype=np.float64)

    def all_configurations(self) -> list[dict[str, Any]]:
        return [
            {k: _normalise_key_value(v) for k, v in rec.items()}
            for rec in self.hyperparameters.to_dict("records")
        ]

    def best_value(self, objective: str | None = None, mode: str | None = None, fidelity: str = "max") -> float:
        """Best seed-averaged value of an objective over the table (at the largest fidelity by default)."""
        objective = objective or self.metadata.default_metric
        mode = mode or (self.metadata.mode if objective == self.metadata.default_metric
                        else self.metadata.objective_modes.get(objective, "min"))
        oi = self.objective_index(objective)
        values = self.objectives[:, :, -1, oi] if fidelity == "max" else self.objectives[:, :, :, oi]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (missing entries) are expected
            mean = np.nanmean(np.asarray(values, dtype=np.float64), axis=1)
        return float(np.nanmin(mean) if mode == "min" else np.nanmax(mean))

    def with_objectives(self, objectives: np.ndarray) -> TabularBlackbox:
        return TabularBlackbox(
            self.hyperparameters, objectives, self.configuration_space, self.objectives_names, self.metadata,
            self.fidelity_name, self.fidelity_values, self.task,
        )

    def with_metadata(self, **changes: Any) -> TabularBlackbox:
        return TabularBlackbox(
            self.hyperparameters, self.objectives, self.configuration_space, self.objectives_names,
            replace(self.metadata, **changes), self.fidelity_name, self.fidelity_values, self.task,
        )


class FunctionBlackbox(Blackbox):
    """A blackbox computed by a Python function ``fn(config, fidelity, seed) -> sequence of objectives``.

    Handy for tests and for analytic benchmarks; ``fidelity`` is ``None`` when the blackbox has none.
    """

    def __init__(self, fn, configuration_space: SearchSpace, objectives_names: Sequence[str],
                 metadata: BlackboxMetadata, fidelity_name: str | None = None,
                 fidelity_values: Sequence[float] | None = None, num_seeds: int = 1, task: str | None = None):
        super().__init__(configuration_space, objectives_names, metadata, fidelity_name, fidelity_values,
                         num_seeds, task)
        self._fn = fn

    def evaluate_batch(self, configs, fidelity=None, seed=0):
        if isinstance(configs, pd.DataFrame):
            configs = configs.to_dict("records")
        seeds = range(self.num_seeds) if seed is None else [self.seed_index(seed)]
        if fidelity is not None:
            self.fidelity_index(fidelity)
            fids = [fidelity]
        else:
            fids = [None] if self.fidelity_values is None else self.fidelity_values.tolist()
        out = np.array(
            [[[self._fn(c, f, s) for f in fids] for s in seeds] for c in configs], dtype=np.float64
        ).reshape(len(configs), len(seeds), len(fids), len(self.objectives_names))
        if seed is not None:
            out = out[:, 0]
        if fidelity is not None or self.fidelity_values is None:
            out = out[..., 0, :]
        return out
