"""Shared pieces of the converters: input errors, validation helpers, progress display, table assembly.

Every converter reads the upstream files completely, validates them, and only then hands the finished
``TabularBlackbox`` objects to ``blackbox_repo.repository.serialize`` (which writes atomically). So a bad
input raises ``InputError`` before a single byte of output exists.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import pickle
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import SearchSpace

T = TypeVar("T")

# Progress bars are on by default when stderr is a terminal; ``set_progress`` or HPO_ARENA_PROGRESS overrides.
_PROGRESS: bool | None = None


class InputError(ValueError):
    """The input files are missing, malformed, of the wrong shape, or hold values out of range."""


# What reading a truncated or corrupt compressed download raises (zip central directory missing, a member's
# CRC or deflate stream broken, a gzip/bz2/xz stream cut short).
ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile,
                                                   lzma.LZMAError)


def damaged_archive(path: str | os.PathLike[str], err: BaseException, fix: str) -> InputError:
    """The one-line error for a download that is truncated or corrupt: names the file, the cause and the fix."""
    return InputError(f"{path} is truncated or corrupt ({type(err).__name__}: {err}); {fix}")


def set_progress(enabled: bool | None) -> None:
    """Force progress bars on (True) or off (False); None restores the default (on for terminals)."""
    global _PROGRESS
    _PROGRESS = enabled


def _progress_enabled() -> bool:
    if _PROGRESS is not None:
        return _PROGRESS
    env = os.environ.get("HPO_ARENA_PROGRESS")
    if env is not None:
        return env.strip().lower() in {"1", "true", "yes", "on"}
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """``iterable`` wrapped in a tqdm bar on stderr when progress display is enabled."""
    if not _progress_enabled():
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, total=total, desc=desc, unit="it", file=sys.stderr, leave=False,
                    dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def require_path(path: str | os.PathLike[str], what: str, hint: str = "") -> Path:
    """``path`` as a Path, or an InputError saying what was expected there."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{what} not found: {p}" + (f". {hint}" if hint else ""))
    return p


def require_files(folder: Path, names: Sequence[str], what: str, hint: str = "") -> list[Path]:
    """All of ``names`` inside ``folder``, or an InputError listing the missing ones."""
    if not folder.is_dir():
        raise InputError(f"{what}: expected a folder, got {folder}" + (f". {hint}" if hint else ""))
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        present = sorted(p.name for p in folder.iterdir())[:10]
        raise InputError(
            f"{what}: missing file(s) {missing} in {folder} (found: {present or 'nothing'})"
            + (f". {hint}" if hint else "")
        )
    return [folder / n for n in names]


# Pickles of the benchmarks hold only builtins, OrderedDict and numpy scalars/arrays; refuse anything else
# so that converting a file never runs code from it.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"the pickle references {module}.{name}, which a benchmark data file never holds"
        )


def load_data_pickle(path: Path, *, compressed: bool | None = None) -> Any:
    """Unpickle a data file (bz2-compressed when the name ends in .pbz2/.bz2), allowing only data types."""
    if compressed is None:
        compressed = path.suffix in {".pbz2", ".bz2"}
    try:
        with (bz2.BZ2File(path, "rb") if compressed else open(path, "rb")) as fh:
            return _DataOnlyUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, ImportError) as err:
        raise InputError(f"cannot read {path} as a {'bz2-compressed ' if compressed else ''}pickle: {err}") \
            from None


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------


def check_range(values: np.ndarray, name: str, where: str, *, lower: float | None = None,
                upper: float | None = None, allow_nan: bool = True) -> None:
    """InputError naming the first value of ``values`` outside [lower, upper] (NaN allowed if asked)."""
    arr = np.asarray(values, dtype=np.float64)
    bad = np.zeros(arr.shape, dtype=bool)
    nan = np.isnan(arr)
    if not allow_nan:
        bad |= nan
    if lower is not None:
        bad |= ~nan & (arr < lower)
    if upper is not None:
        bad |= ~nan & (arr > upper)
    bad |= np.isinf(arr) & ((lower is not None) | (upper is not None))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        rng = f"[{'-inf' if lower is None else lower}, {'inf' if upper is None else upper}]"
        raise InputError(
            f"{where}: {name} holds {int(bad.sum())} value(s) outside {rng}"
            f"{'' if allow_nan else ' or NaN'}; first at index {idx}: {float(arr[idx])!r}"
        )


def check_shape(array: np.ndarray, expected: tuple[int | None, ...], name: str, where: str) -> None:
    """InputError unless ``array`` has ``len(expected)`` axes matching ``expected`` (None = any length)."""
    shape = np.shape(array)
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise InputError(f"{where}: {name} has shape {shape}, expected {want}")


def require_keys(mapping: Any, keys: Iterable[str], where: str) -> None:
    if not isinstance(mapping, Mapping):
        raise InputError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise InputError(f"{where}: missing key(s) {missing} (present: {sorted(map(str, mapping))[:20]})")


def check_configurations(frame: pd.DataFrame, space: SearchSpace, where: str) -> None:
    """InputError naming the first row whose values are outside the configuration space."""
    for name in space.names:
        dom = space[name]
        column = frame[name]
        # Check each distinct value once (tables repeat values a lot), then name the first bad row.
        bad = [v for v in pd.unique(column) if not dom.contains(v.item() if isinstance(v, np.generic) else v)]
        if bad:
            i = int(np.flatnonzero(column.isin(bad).to_numpy())[0])
            value = column.iloc[i]
            value = value.item() if isinstance(value, np.generic) else value
            raise InputError(f"{where}: row {i} has {name}={value!r}, which is outside {dom!r}")
    duplicated = frame.duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError(f"{where}: configuration {frame.iloc[i].to_dict()} appears twice (row {i})")


def make_tabular(
    hyperparameters: pd.DataFrame,
    objectives: np.ndarray,
    space: SearchSpace,
    objectives_names: Sequence[str],
    metadata: BlackboxMetadata,
    task: str,
    fidelity_name: str | None = None,
    fidelity_values: Sequence[float] | np.ndarray | None = None,
) -> TabularBlackbox:
    """A TabularBlackbox with float32 (N, S, F, O) objectives, C-contiguous."""
    arr = np.ascontiguousarray(objectives, dtype=np.float32)
    return TabularBlackbox(
        hyperparameters=hyperparameters.reset_index(drop=True), objectives=arr, configuration_space=space,
        objectives_names=list(objectives_names), metadata=metadata, fidelity_name=fidelity_name,
        fidelity_values=None if fidelity_values is None else np.asarray(fidelity_values), task=task,
    )


def select_tasks(available: Sequence[str], requested: Sequence[str] | None, what: str) -> list[str]:
    """The requested tasks (all if None), in the order given, or an InputError naming close valid ones."""
    from blackbox_repo.search_space import closest_choices_message

    if requested is None:
        return list(available)
    out = []
    for t in requested:
        if t not in available:
            raise InputError(closest_choices_message(f"{what} task", t, list(available)))
        out.append(t)
    if not out:
        raise InputError(f"no {what} task selected; valid tasks: {list(available)}")
    return out


def impute_missing_seeds(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Fill whole missing seed entries with the mean of the seeds that exist.

    ``values`` (N, S, ...) float64; ``missing`` (N, S) bool, True where the source has no entry for that
    configuration and seed. A missing cell gets the mean over the *available* seeds of that configuration
    (ignoring NaN values they may hold); a configuration with no available seed stays NaN. Cells of
    available seeds are never changed. (Syne Tune's converter averages with NaNs included, so an entry
    with a single available seed kept NaN in its two other seeds.)
    """
    if not missing.any():
        return values
    available = np.where(missing.reshape(missing.shape + (1,) * (values.ndim - 2)), np.nan, values)
    with np.errstate(all="ignore"), _ignore_mean_of_empty():
        mean = np.nanmean(available, axis=1, keepdims=True)
    out = values.copy()
    fill = np.broadcast_to(missing.reshape(missing.shape + (1,) * (values.ndim - 2)), values.shape)
    out[fill] = np.broadcast_to(mean, values.shape)[fill]
    return out


class _ignore_mean_of_empty:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
