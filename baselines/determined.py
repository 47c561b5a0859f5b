"""Determined's searchers configured from an experiment config (the YAML's ``searcher:`` and ``hyperparameters:``).

    scheduler = scheduler_from_determined(yaml_text_or_dict, max_fidelity=52, fidelity_values=range(1, 53))

Searchers (``searcher.name``):

- ``single``: one trial with hyperparameters drawn at random from the space (Determined samples too), trained
  to ``max_length``.
- ``random``: ``max_trials`` random trials, each trained to ``max_length``, at most ``max_concurrent_trials``
  (default 16) at once.
- ``grid``: the Cartesian product of every hyperparameter's grid, each trained to ``max_length``. Numeric
  hyperparameters need a ``count``: ``int`` -> ``round(minval + i * (maxval - minval) / (count - 1))`` with the
  count clamped to the number of integers in range; ``double`` -> evenly spaced; ``log`` -> evenly spaced
  exponents; ``count: 1`` gives the midpoint (``base ** mid`` for ``log``). ``categorical`` -> every value,
  ``const`` -> its value. The first hyperparameter varies slowest. ``max_trials`` is not used.
- ``adaptive_asha``: ``baselines.determined_adaptive_asha.DeterminedAdaptiveASHA`` with ``mode``, ``divisor``,
  ``max_rungs``, ``max_trials``, ``max_concurrent_trials``, ``stop_once``, ``bracket_rungs``.

Common keys: ``metric`` (required), ``smaller_is_better`` (default true), ``max_length`` (an integer, or
``{epochs|batches|records: N}``) or, in newer configs, ``max_time`` with ``time_metric``: the training length in
units of the blackbox's fidelity. Without either, the blackbox's ``max_fidelity`` is used. Unknown keys, and
the warm-start keys ``source_trial_id`` / ``source_checkpoint_uuid`` (no checkpoints exist in a simulation),
are rejected with the list of accepted keys.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from baselines.arguments import forwards_base_arguments
from baselines.determined_adaptive_asha import DeterminedAdaptiveASHA
from baselines.multi_fidelity import SearcherScheduler, check_positive_int, snap_to_fidelities
from baselines.random_search import RandomSearcher
from baselines.scheduler import Decision, Scheduler, Searcher, Suggestion
from blackbox_repo.determined import search_space_from_determined
from blackbox_repo.search_space import SearchSpace, closest_choices_message

SEARCHER_NAMES = ("single", "random", "grid", "adaptive_asha")
_COMMON_KEYS = ("name", "metric", "smaller_is_better", "max_length", "max_time", "time_metric")
_SEARCHER_KEYS = {
    "single": _COMMON_KEYS,
    "random": (*_COMMON_KEYS, "max_trials", "max_concurrent_trials"),
    "grid": (*_COMMON_KEYS, "max_trials", "max_concurrent_trials"),
    "adaptive_asha": (*_COMMON_KEYS, "max_trials", "mode", "divisor", "max_rungs", "max_concurrent_trials",
                      "stop_once", "bracket_rungs"),
}
_LENGTH_UNITS = ("epochs", "batches", "records")
DEFAULT_MAX_CONCURRENT_TRIALS = 16


class ListSearcher(Searcher):
    """Proposes an explicit list of configurations in order, then reports exhaustion."""

    def __init__(self, config_space: SearchSpace, metric: str, configs: Sequence[Mapping[str, Any]],
                 mode: str = "min", seed: int = 0):
        super().__init__(config_space, metric, mode, seed)
        self._configs = [dict(c) for c in configs]
        for config in self._configs:
            config_space.check(config)
        self._next = 0

    def _suggest(self, trial_id: int) -> dict[str, Any] | None:
        if self._next >= len(self._configs):
            return None
        self._next += 1
        return dict(self._configs[self._next - 1])


@forwards_base_arguments
class FixedLengthScheduler(SearcherScheduler):
    """Trains each configuration to ``max_length`` (stopping it there if that is below ``max_fidelity``) with at
    most ``max_concurrent`` trials at once: Determined's single, random and grid searchers."""

    def __init__(
        self,
        *args: Any,
        max_length: float | None = None,
        max_concurrent: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        check_positive_int("max_concurrent", max_concurrent, allow_none=True)
        length = self.max_fidelity if max_length is None else snap_to_fidelities(max_length, self.fidelity_values)
        if float(length) > float(self.max_fidelity) + 1e-9:
            raise ValueError(f"max_length={max_length} exceeds the blackbox's max_fidelity={self.max_fidelity}")
        self.max_length = length
        self.max_concurrent = max_concurrent

    def suggest(self, trial_id: int) -> Suggestion:
        if self.max_concurrent is not None and len(self.running_trials()) >= self.max_concurrent:
            return Suggestion.wait()
        suggestion = self.start_new_trial(trial_id)
        if suggestion is not None:
            return suggestion
        return Suggestion.done()

    def _stops_early(self) -> bool:
        return float(self.max_length) < float(self.max_fidelity) - 1e-9

    def milestones(self, trial_id: int) -> Sequence[float] | None:
        return [self.max_length] if self._stops_early() else ()

    def on_result(self, trial_id: int, fidelity: float, metrics: Mapping[str, float]) -> Decision:
        self.observe(trial_id, fidelity, self.metric_value(metrics))
        if self._stops_early() and float(fidelity) >= float(self.max_length) - 1e-9:
            return Decision.STOP  # trained for max_length: Determined closes the trial
        return Decision.CONTINUE


# ---------------------------------------------------------------------------------------------------------
# Grid
# ---------------------------------------------------------------------------------------------------------


def _grid_axis(name: str, spec: Mapping[str, Any]) -> list[Any]:
    kind = spec.get("type")
    if kind == "const":
        return [spec["val"]]
    if kind == "categorical":
        return list(spec["vals"])
    if "count" not in spec:
        raise ValueError(f"grid search: hyperparameter {name!r} of type {kind!r} needs a 'count' of grid points")
    count = spec["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"grid search: hyperparameter {name!r} needs an integer count >= 1, got {count!r}")
    lo, hi = spec["minval"], spec["maxval"]
    if kind == "int":
        lo, hi = int(lo), int(hi)
        count = min(count, hi - lo + 1)
        if count == 1:
            return [_go_round((lo + hi) / 2.0)]
        return [_go_round(lo + i * (hi - lo) / (count - 1)) for i in range(count)]
    if kind == "double":
        lo, hi = float(lo), float(hi)
        if count == 1:
            return [(lo + hi) / 2.0]
        return [lo + i * (hi - lo) / (count - 1) for i in range(count)]
    if kind == "log":
        base = float(spec.get("base", 10.0))
        lo, hi = float(lo), float(hi)
        if count == 1:
            return [base ** ((lo + hi) / 2.0)]
        return [min(max(base ** (lo + i * (hi - lo) / (count - 1)), base**lo), base**hi) for i in range(count)]
    raise ValueError(f"grid search: hyperparameter {name!r} has unknown type {kind!r}")


def _go_round(x: float) -> int:
    """Go's ``math.Round``: halves away from zero (Python's ``round`` rounds halves to even)."""
    return int(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))


def determined_grid(hyperparameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every grid configuration of a Determined ``hyperparameters`` section (nested names joined with ``.``)."""
    axes: list[tuple[str, list[Any]]] = []

    def visit(prefix: str, node: Mapping[str, Any]) -> None:
        for key, spec in node.items():
            name = f"{prefix}{key}"
            if isinstance(spec, Mapping) and "type" in spec:
                axes.append((name, _grid_axis(name, spec)))
            elif isinstance(spec, Mapping):
                visit(f"{name}.", spec)
            else:
                axes.append((name, [spec]))

    visit("", hyperparameters)
    configs: list[dict[str, Any]] = [{}]
    for name, values in axes:
        configs = [{**c, name: v} for c in configs for v in values]
    return configs


# ---------------------------------------------------------------------------------------------------------
# Experiment config
# ---------------------------------------------------------------------------------------------------------


def _parse_length(searcher: Mapping[str, Any], fidelity_name: str | None) -> float | None:
    if "max_length" in searcher and "max_time" in searcher:
        raise ValueError("searcher: give max_length or max_time, not both")
    if "max_time" in searcher:
        time_metric = searcher.get("time_metric")
        if time_metric is None:
            raise ValueError("searcher: max_time needs a time_metric naming the training-length unit")
        if fidelity_name is not None and time_metric != fidelity_name:
            raise ValueError(
                f"searcher.time_metric={time_metric!r} but the blackbox's fidelity is {fidelity_name!r}; "
                "max_time must be counted in the blackbox's fidelity"
            )
        return float(searcher["max_time"])
    if "max_length" not in searcher:
        return None
    length = searcher["max_length"]
    if isinstance(length, Mapping):
        units = [k for k in length if k in _LENGTH_UNITS]
        if len(length) != 1 or not units:
            raise ValueError(f"searcher.max_length must be a number or one of {{epochs|batches|records: N}}, "
                             f"got {dict(length)!r}")
        length = length[units[0]]
    if isinstance(length, bool) or not isinstance(length, (int, float)) or length <= 0:
        raise ValueError(f"searcher.max_length must be a positive number, got {length!r}")
    return float(length)


def scheduler_from_determined(
    experiment: Mapping[str, Any] | str,
    fidelity_name: str | None = None,
    max_fidelity: float | None = None,
    fidelity_values: Sequence[float] | None = None,
    seed: int = 0,
    searcher: Searcher | None = None,
) -> Scheduler:
    """A scheduler from a Determined experiment config (a dict, or YAML text) with ``searcher`` and
    ``hyperparameters`` sections. ``searcher`` (optional) replaces random sampling in random/adaptive_asha."""
    if isinstance(experiment, str):
        import yaml

        experiment = yaml.safe_load(experiment)
    if not isinstance(experiment, Mapping):
        raise TypeError(f"a Determined experiment config must be a mapping, got {type(experiment).__name__}")
    for section in ("searcher", "hyperparameters"):
        if section not in experiment:
            raise ValueError(f"the experiment config has no {section!r} section")
    config = dict(experiment["searcher"])
    name = config.get("name")
    if name not in _SEARCHER_KEYS:
        raise ValueError(closest_choices_message("Determined searcher", name, SEARCHER_NAMES))
    for key in ("source_trial_id", "source_checkpoint_uuid"):
        if config.get(key) is not None:
            raise ValueError(f"searcher.{key} (warm start from a checkpoint) is not supported: simulated trials "
                             "have no checkpoints")
        config.pop(key, None)
    unknown = [k for k in config if k not in _SEARCHER_KEYS[name]]
    if unknown:
        raise ValueError(f"searcher {name!r} does not accept keys {unknown}; accepted: {list(_SEARCHER_KEYS[name])}")
    if "metric" not in config:
        raise ValueError("searcher.metric is required (the validation metric to optimise)")
    metric = str(config["metric"])
    smaller = config.get("smaller_is_better", True)
    if smaller not in (True, False):
        raise ValueError(f"searcher.smaller_is_better must be true or false, got {smaller!r}")
    mode = "min" if smaller else "max"
    max_length = _parse_length(config, fidelity_name)
    if max_fidelity is None and fidelity_values is None:
        if max_length is None:
            raise ValueError("give max_fidelity (the blackbox's) or searcher.max_length")
        max_fidelity = max_length
    hyperparameters = experiment["hyperparameters"]
    space = search_space_from_determined(hyperparameters)
    common = {"fidelity_name": fidelity_name, "max_fidelity": max_fidelity, "fidelity_values": fidelity_values}
    concurrent = config.get("max_concurrent_trials", DEFAULT_MAX_CONCURRENT_TRIALS)

    if name == "adaptive_asha":
        if "max_trials" not in config:
            raise ValueError("searcher adaptive_asha needs max_trials")
        kwargs = {k: config[k] for k in ("divisor", "max_rungs", "stop_once", "bracket_rungs") if k in config}
        if "mode" in config:
            kwargs["adaptive_mode"] = config["mode"]
        return DeterminedAdaptiveASHA(space, metric, searcher, mode, seed, **common,
                                      max_trials=config["max_trials"], max_length=max_length,
                                      max_concurrent_trials=concurrent, **kwargs)
    if name == "grid":
        grid_searcher = ListSearcher(space, metric, determined_grid(hyperparameters), mode, seed)
        return FixedLengthScheduler(space, metric, grid_searcher, mode, seed, **common, max_length=max_length,
                                    max_concurrent=concurrent or None)
    if name == "single":
        one = searcher or RandomSearcher(space, metric, mode, seed)
        return FixedLengthScheduler(space, metric, one, mode, seed, **common, max_trials=1, max_length=max_length)
    if "max_trials" not in config:
        raise ValueError("searcher random needs max_trials")
    return FixedLengthScheduler(space, metric, searcher, mode, seed, **common, max_trials=config["max_trials"],
                                max_length=max_length, max_concurrent=concurrent or None)
