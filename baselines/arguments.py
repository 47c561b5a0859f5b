"""Checking a method's keyword arguments before it is built: names (``UnknownMethodArgumentError``, with the
closest valid name) and types against the constructors' annotations (``check_argument_types``).

Kept apart from ``registry.py`` so that any code building methods (the registry, a user's ``pkg.module:Class``)
can use the same checks.
"""
from __future__ import annotations

import collections.abc
import difflib
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class UnknownMethodArgumentError(ValueError):
    """Keyword arguments a method does not have (a misspelt or misplaced override)."""

    def __init__(self, method: str, unknown: Sequence[str], valid: Sequence[str]):
        self.method, self.unknown, self.valid = method, sorted(unknown), list(valid)
        hints = []
        for key in self.unknown:
            close = difflib.get_close_matches(key, self.valid, n=1)
            if close:
                hints.append(f"{key!r}: did you mean {close[0]!r}?")
        super().__init__(
            f"method {method} does not accept {self.unknown}" + (f" ({'; '.join(hints)})" if hints else "")
            + f"; valid keyword arguments: {self.valid}"
        )


def _describe_type(annotation: Any) -> str | None:
    """What a value of an argument annotated ``annotation`` must be, or None when we do not check it."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [_describe_type(a) for a in args if a is not type(None)]
        if any(i is None for i in inner):
            return None
        return " or ".join(inner) + (" or None" if type(None) in args else "")
    if annotation is bool:
        return "a boolean (true/false)"
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        return "a list"
    if origin in (Mapping, dict, collections.abc.Mapping):
        return "a mapping"
    return None


def _matches(value: Any, annotation: Any) -> bool:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, a) for a in args)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, (bool, np.bool_))
    if annotation is int:  # a bool is an int to Python, never to a user who wrote max_trials=true
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if annotation is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if annotation is str:
        return isinstance(value, str)
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        return isinstance(value, collections.abc.Sequence) and not isinstance(value, str)
    if origin in (Mapping, dict, collections.abc.Mapping):
        return isinstance(value, collections.abc.Mapping)
    return True  # an annotation we do not check (Any, a class): the constructor validates it


def check_argument_types(method: str, kwargs: Mapping[str, Any], signatures: Sequence[inspect.Signature]) -> None:
    """Refuse keyword arguments whose type does not match the annotations of ``signatures``, all at once
    (a later signature wins for a name in several).

    Values from the command line arrive parsed by Hydra (``grace_period=abc`` is the string 'abc'); without
    this check they would reach arithmetic deep inside a method, or, like ``max_trials=true``, be silently
    taken as 1. Ranges are each constructor's business (e.g. ``grace_period`` must be > 0).
    """
    params: dict[str, inspect.Parameter] = {}
    for signature in signatures:
        params.update(signature.parameters)
    wrong = []
    for key, value in kwargs.items():
        param = params.get(key)
        if param is None or param.annotation is inspect.Parameter.empty:
            continue
        expected = _describe_type(param.annotation)
        if expected is not None and not _matches(value, param.annotation):
            wrong.append(f"{key} must be {expected}, got {value!r}")
    if wrong:
        raise ValueError(f"method {method}: " + "; ".join(wrong))


def forwards_base_arguments(cls: type | None = None, *, fixed: Sequence[str] = ()) -> Any:
    """Class decorator: ``cls.__init__`` forwards ``*args``/``**kwargs`` to its base class; give it the full
    signature of what it accepts, so that a subclass names only its own arguments and still shows all of them.

    Searchers and schedulers share a run of arguments (``config_space``, ``metric``, ``mode``, ``seed``, ...)
    whose validation lives in their base class. A subclass writes only what it adds or changes::

        @forwards_base_arguments
        class TPESearcher(LearningSearcher):
            def __init__(self, *args: Any, gamma: float = 0.15, num_initial_random: int = 10, **kwargs: Any):
                super().__init__(*args, num_initial_random=num_initial_random, **kwargs)

    and its ``inspect.signature`` is the base's, each argument it redeclares replaced (a new default or
    annotation) and the new ones appended, keyword-only. The registry, ``method_defaults`` and
    ``check_argument_types`` read that signature, so every argument keeps its name, default and type check.
    Base arguments the subclass sets itself (``fixed=(NAME, ...)``) are left out: they are not the user's to
    choose. Annotations are evaluated here (the modules use ``from __future__ import annotations``) so the
    type checks see real types.
    """
    if cls is None:
        return lambda decorated: forwards_base_arguments(decorated, fixed=fixed)
    init = cls.__dict__.get("__init__")
    own_params = [] if init is None else list(inspect.signature(init, eval_str=True).parameters.values())
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own_params):
        raise TypeError(f"{cls.__name__}.__init__ must take **kwargs to forward to its base class")
    base = next(b for b in cls.__mro__[1:] if "__init__" in b.__dict__)
    base_params = list(inspect.signature(base.__dict__["__init__"], eval_str=True).parameters.values())
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    var_kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    forwards_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in own_params)
    # The subclass's leading positional arguments come first (they stand for the base's leading ones, or are
    # new, like a scheduler's ``searcher``); ``*args`` then fills the base's remaining positional arguments.
    merged = [p for p in own_params if p.kind in positional_kinds]
    placed = {p.name for p in merged}
    redeclared = {p.name: p for p in own_params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    keyword_only = not forwards_positional  # without ``*args``, the base's arguments can only come by name
    for param in base_params:
        if param.name in placed or param.name in fixed or param.kind in var_kinds:
            continue
        if param.name in redeclared:
            param = redeclared.pop(param.name)
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            keyword_only = True  # once an argument can only be given by name, so can every later one
        elif keyword_only:
            param = param.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        merged.append(param)
    merged.extend(redeclared.values())
    init.__signature__ = inspect.Signature(merged)  # type: ignore[union-attr]
    return cls
