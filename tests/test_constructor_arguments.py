"""Constructors that forward their base class's arguments (``baselines.arguments.forwards_base_arguments``):
their signature still lists every argument with its default and type, so the registry validates method
keyword arguments by name, type and range exactly as when each constructor spelled them all out."""
from __future__ import annotations

import inspect
from typing import Any

import pytest

from baselines.arguments import UnknownMethodArgumentError, forwards_base_arguments
from baselines.registry import make_method, method_defaults
from baselines.scheduler import Searcher
from blackbox_repo.search_space import SearchSpace, Uniform

SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "y": Uniform(-1.0, 1.0)})


class _Base(Searcher):
    def __init__(self, config_space: SearchSpace, metric: str, mode: str = "min", seed: int = 0,
                 width: float = 1.0, depth: int = 2):
        super().__init__(config_space, metric, mode, seed)
        self.width, self.depth = width, depth

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        return self.config_space.sample(self.rng)


@forwards_base_arguments
class _Child(_Base):
    def __init__(self, *args: Any, depth: int = 5, shape: str = "round", **kwargs: Any):
        super().__init__(*args, depth=depth, **kwargs)
        self.shape = shape


@forwards_base_arguments(fixed=("width",))
class _Grandchild(_Child):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, width=0.5, **kwargs)


def _described(cls: type) -> list[tuple[str, Any, Any, str]]:
    return [(p.name, p.default, p.annotation, p.kind.name) for p in inspect.signature(cls).parameters.values()]


def test_signature_lists_base_arguments_with_redeclared_defaults_and_new_ones_last() -> None:
    empty = inspect.Parameter.empty
    assert _described(_Child) == [
        ("config_space", empty, SearchSpace, "POSITIONAL_OR_KEYWORD"),
        ("metric", empty, str, "POSITIONAL_OR_KEYWORD"),
        ("mode", "min", str, "POSITIONAL_OR_KEYWORD"),
        ("seed", 0, int, "POSITIONAL_OR_KEYWORD"),
        ("width", 1.0, float, "POSITIONAL_OR_KEYWORD"),
        ("depth", 5, int, "KEYWORD_ONLY"),  # redeclared: the child's default, only by name from here on
        ("shape", "round", str, "KEYWORD_ONLY"),
    ]


def test_fixed_arguments_leave_the_signature_and_the_value_is_the_subclass_s() -> None:
    assert [p.name for p in inspect.signature(_Grandchild).parameters.values()] == [
        "config_space", "metric", "mode", "seed", "depth", "shape"]
    searcher = _Grandchild(SPACE, "loss", "max", 3, shape="square")
    assert (searcher.width, searcher.depth, searcher.shape, searcher.mode, searcher.seed) == (
        0.5, 5, "square", "max", 3)


def test_forwarded_arguments_bind_as_the_signature_says() -> None:
    child = _Child(SPACE, "loss", "max", 7, 2.5, shape="flat")
    assert (child.mode, child.seed, child.width, child.depth, child.shape) == ("max", 7, 2.5, 5, "flat")
    inspect.signature(_Child).bind(SPACE, "loss", "max", 7, 2.5, shape="flat")
    with pytest.raises(TypeError):  # depth is keyword-only in the signature
        inspect.signature(_Child).bind(SPACE, "loss", "max", 7, 2.5, 3)


def test_decorating_a_constructor_without_kwargs_is_refused() -> None:
    with pytest.raises(TypeError, match="must take \\*\\*kwargs"):
        @forwards_base_arguments
        class _Closed(_Base):
            def __init__(self, config_space: SearchSpace, metric: str):
                super().__init__(config_space, metric)


def test_registry_sees_inherited_arguments_with_the_subclass_defaults() -> None:
    tpe = method_defaults("TPE")
    assert (tpe["num_initial_random"], tpe["gamma"], tpe["min_points_per_fidelity"], tpe["allow_duplicates"]) == (
        10, 0.15, 5, False)
    asha_bore = method_defaults("ASHA-BORE")
    assert asha_bore["min_points_per_fidelity"] == 10 and asha_bore["gamma"] == 0.25
    assert "num_initial_random" not in asha_bore  # fixed at 0: random until a rung holds enough results
    assert "min_points_per_level" not in method_defaults("HYPERTUNE")
    assert method_defaults("MOBSTER")["refit_fraction"] == 0.2


def _build(name: str, **kwargs: Any):
    return make_method(name, SPACE, "loss", "min", "epoch", 9, seed=0, **kwargs)


def test_inherited_arguments_are_type_checked_and_fixed_ones_refused() -> None:
    with pytest.raises(ValueError, match="method TPE: allow_duplicates must be a boolean"):
        _build("TPE", allow_duplicates="yes")
    with pytest.raises(ValueError, match="method BORE: num_initial_random must be an integer, got 'many'"):
        _build("BORE", num_initial_random="many")
    with pytest.raises(UnknownMethodArgumentError, match="ASHA-BORE does not accept \\['num_initial_random'\\]"):
        _build("ASHA-BORE", num_initial_random=3)
    with pytest.raises(ValueError, match="min_points_per_fidelity must be >= 1, got 0"):  # the base's range check
        _build("ASHA-BORE", min_points_per_fidelity=0)


def test_inherited_and_own_arguments_reach_the_searcher() -> None:
    scheduler = _build("ASHA-TPE", gamma=0.3, num_initial_random=4, allow_duplicates=True)
    searcher = scheduler.searcher
    assert (searcher.gamma, searcher.num_initial_random, searcher.allow_duplicates, searcher.seed) == (
        0.3, 4, True, 0)
