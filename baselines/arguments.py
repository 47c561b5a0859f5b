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
