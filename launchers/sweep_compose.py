"""Every job's configuration of a sweep, with Hydra's semantics, at a few milliseconds per job.

Hydra composes a job's configuration from scratch: it builds the defaults tree, loads and merges every file,
then applies the job's value overrides (``seed=3``, ``++method.grace_period=2``) in command-line order. For a
sweep of N jobs that is N full compositions (2N under Hydra's basic sweeper, which composes each job once more
to validate the batch), about 50 ms each.

A job's configuration is determined by two things only: its group choices (``method=ASHA``,
``benchmark=lcbench-ce-Fashion-MNIST``), which decide which files are merged, and its value overrides, which
Hydra applies to the merged tree (``ConfigLoaderImpl._apply_overrides_to_config``). ``SweepComposer`` therefore

1. composes, with Hydra, the configuration with the default choices once, and takes each distinct method and
   benchmark choice's node from its file through Hydra's config repository (or, when the file has a defaults
   list or another package, from Hydra's composition of that choice), keeping each tree unresolved;
2. assembles a job's tree from the default tree with its method and benchmark nodes put in place, turns on
   struct mode as Hydra does, and applies the job's value overrides with Hydra's own function, in order;
3. resolves interpolations only then, on the whole assembled tree, as Hydra does when a job reads its config.

When a tree's only interpolations read environment variables (``results_root: ${oc.env:...}``), nothing in it
depends on the values a job overrides: it is resolved once per combination of choices, and plain overrides
(``key=value`` / ``++key=value`` with a number, string, boolean or null) are applied to a copy of it as
``OmegaConf.update`` would (about 0.1 ms per job instead of 2 ms). Any other override goes through OmegaConf.

The result equals Hydra's composition of the job (``tests/test_sweep_compose.py`` compares them for built-in
methods, user method YAMLs, class paths, benchmark and method keys, ``+``/``++``/``~`` overrides and
interpolations). Whatever the assembly cannot reproduce is composed by Hydra in full, per job: a group option
that writes outside its own node (``# @package _global_`` or its own defaults list), groups other than
``method`` / ``benchmark`` / ``hydra/...``, package overrides (``method@x=``), deleting or adding a group, and
dictionaries given as a group's value.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_GROUPS = ("method", "benchmark")


class SweepComposer:
    """Compose job configurations (resolved plain containers, without the ``hydra`` node).

    Use inside Hydra's ``initialize_config_dir(CONF_DIR)`` (or any initialised GlobalHydra holding the sweep's
    primary config ``config``), with the search-path plugin registered (``hydra_app.register_configs``).
    Raises what Hydra raises for a job it cannot compose (``HydraException`` / ``OmegaConfBaseException``).
    """

    def __init__(self, config_name: str = "config") -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.config_name = config_name
        self._parser = OverridesParser.create()
        self._parsed: dict[str, Any] = {}  # override string -> parsed Override (shared by many jobs)
        self._trees: dict[tuple[str, ...], dict[str, Any] | Exception] = {}  # overrides -> unresolved tree
        self._assembled: dict[Any, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        self._primary_keys: set[str] | None = None  # top-level keys of the primary config file
        self.full_compositions = 0  # jobs composed by Hydra in full (nothing to assemble from)
        self.hydra_compositions = 0  # calls of Hydra's compose, for the benchmark and the tests

    # -- Hydra ------------------------------------------------------------------------------------------
    def _hydra_compose(self, overrides: Sequence[str]) -> Any:
        from hydra import compose

        self.hydra_compositions += 1
        return compose(config_name=self.config_name, overrides=list(overrides))

    def _tree(self, overrides: tuple[str, ...]) -> dict[str, Any]:
        """The unresolved tree of ``overrides`` (group choices and search path only), composed once."""
        from omegaconf import OmegaConf

        if overrides not in self._trees:
            try:
                self._trees[overrides] = OmegaConf.to_container(self._hydra_compose(overrides), resolve=False)
            except Exception as err:  # noqa: BLE001 - re-raised for every job that needs this tree
                self._trees[overrides] = err
        tree = self._trees[overrides]
        if isinstance(tree, Exception):
            raise tree
        return tree  # type: ignore[return-value]

    def _parse(self, override: str) -> Any:
        if override not in self._parsed:
            self._parsed[override] = self._parser.parse_override(override)
        return self._parsed[override]

    # -- jobs -------------------------------------------------------------------------------------------
    def compose_full(self, overrides: Sequence[str]) -> dict[str, Any]:
        """Hydra's own composition of one job, resolved (what the assembly is checked against)."""
        from omegaconf import OmegaConf

        self.full_compositions += 1
        return OmegaConf.to_container(self._hydra_compose(overrides), resolve=True)  # type: ignore[return-value]

    def compose(self, overrides: Sequence[str]) -> dict[str, Any]:
        """The resolved configuration of the job with these overrides (as Hydra would compose it)."""
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from omegaconf import OmegaConf

        plan = self._assembly_plan(overrides)
        if plan is None:
            return self.compose_full(overrides)
        choices, searchpath, values = plan
        key = (tuple(sorted(choices.items())), searchpath)
        if key not in self._assembled:
            self._assembled[key] = self._assemble(choices, searchpath)
        tree, resolved = self._assembled[key]
        if tree is None:
            return self.compose_full(overrides)
        if resolved is not None:
            plain = _deep_copy(resolved)
            if all(_apply_plain(plain, override) for override in values):
                return plain
        cfg = OmegaConf.create(tree)
        OmegaConf.set_struct(cfg, True)  # as Hydra does before applying the command line's value overrides
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]

    def _assemble(self, choices: dict[str, str], searchpath: tuple[str, ...]
                  ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(unresolved tree, resolved tree or None) of a combination of group choices; (None, None) when the
        assembly cannot reproduce Hydra's composition. The resolved tree is given when the tree's only
        interpolations read environment variables (``${oc.env:...}``): nothing in it then depends on the
        values a job overrides, and plain overrides can be applied to a copy of it directly."""
        from omegaconf import OmegaConf

        base = self._tree(searchpath)
        tree = dict(base)
        for group in _GROUPS:
            if group not in choices:
                continue
            node = self._option_node(group, choices[group]) if not searchpath else None
            if node is not None:
                tree[group] = node
                continue
            composed = self._tree((choices[group], *searchpath))
            # A group option that also wrote outside its node (@package _global_, its own defaults list):
            # only Hydra's full composition is right.
            if any(composed.get(key) != base.get(key) for key in {*composed, *base} - {group}):
                return None, None
            tree[group] = composed[group]
        if not all(_env_only(text) for text in _strings(tree) if "${" in text):
            return tree, None
        return tree, OmegaConf.to_container(OmegaConf.create(tree), resolve=True)  # type: ignore[return-value]

    def _option_node(self, group: str, line: str) -> dict[str, Any] | None:
        """The node of a group option read straight from its file, when that is all Hydra's composition would
        put under ``group``: the file has no defaults list and the group's own package, and the primary config
        holds nothing under ``group``. None otherwise (the caller composes it with Hydra)."""
        from hydra.core.global_hydra import GlobalHydra
        from omegaconf import OmegaConf

        if self._primary_keys is None:
            loader = GlobalHydra.instance().config_loader()
            primary = loader.repository.load_config(self.config_name)  # type: ignore[attr-defined]
            self._primary_keys = set() if primary is None else set(primary.config.keys())  # type: ignore[union-attr]
        if group in self._primary_keys:
            return None
        name = self._parse(line).value()
        try:
            result = GlobalHydra.instance().config_loader().repository.load_config(f"{group}/{name}")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - Hydra's composition reports it
            return None
        if (result is None or result.defaults_list or result.is_schema_source
                or result.header.get("package") not in (None, "_group_", group)):
            return None
        node = OmegaConf.to_container(result.config, resolve=False)
        return node if isinstance(node, dict) and "defaults" not in node else None

    def _assembly_plan(self, overrides: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...], list[Any]] | None:
        """(group choice override per group, search-path overrides, parsed value overrides in order), or None
        when the job must be composed by Hydra in full."""
        choices: dict[str, str] = {}
        searchpath: list[str] = []
        values: list[Any] = []
        base_keys: set[str] | None = None
        for line in overrides:
            override = self._parse(line)
            key = override.key_or_group
            if key == "hydra.searchpath":
                searchpath.append(line)
                continue
            if override.is_hydra_override():
                continue  # only the hydra node, which a job's configuration does not hold
            if override.package is not None:
                return None
            if key in _GROUPS:
                value = override.value()
                if override.is_delete() or override.is_add() or override.is_force_add() or not isinstance(value, str):
                    return None
                choices[key] = line
                continue
            if "." not in key:  # a top-level key: a value of config.yaml, or a group we do not assemble
                if base_keys is None:
                    base_keys = set(self._tree(tuple(o for o in overrides
                                                     if self._parse(o).key_or_group == "hydra.searchpath")))
                if key not in base_keys and not (override.is_add() or override.is_force_add()):
                    return None
            values.append(override)
        return choices, tuple(searchpath), values


_PRIMITIVES = (bool, int, float, str, type(None))


def _strings(node: Any):
    """Every string value in a tree of dicts and lists."""
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _env_only(text: str) -> bool:
    """Whether an interpolation string only reads an environment variable (``${oc.env:NAME,default}``)."""
    return text.startswith("${oc.env:") and text.endswith("}") and text.count("${") == 1


def _deep_copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _deep_copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_deep_copy(v) for v in node]
    return node


def _apply_plain(cfg: dict[str, Any], override: Any) -> bool:
    """Apply a ``key=value`` or ``++key=value`` override with a primitive value to a resolved plain tree as
    Hydra's ``OmegaConf.update`` would (an existing key keeps its place, a new one goes last; ``key=`` needs the
    key to exist). False, leaving ``cfg`` unusable, for anything else: the caller then lets Hydra apply them."""
    from hydra.core.override_parser.types import OverrideType

    if override.type not in (OverrideType.CHANGE, OverrideType.FORCE_ADD):
        return False
    value = override.value()
    if not isinstance(value, _PRIMITIVES) or (isinstance(value, str) and "${" in value):
        return False
    *parents, last = override.key_or_group.split(".")
    node: Any = cfg
    for part in parents:
        child = node.get(part) if isinstance(node, dict) else None
        if child is None and override.type == OverrideType.FORCE_ADD and isinstance(node, dict) and part not in node:
            child = node[part] = {}
        if not isinstance(child, dict):
            return False
        node = child
    if override.type == OverrideType.CHANGE and last not in node:
        return False  # Hydra refuses it: let it say so
    if isinstance(node.get(last), (dict, list)):
        return False  # merging into a container: Hydra's rules
    node[last] = value
    return True


def compose_configs(jobs: Sequence[Sequence[str]], composer: SweepComposer | None = None
                    ) -> list[dict[str, Any] | Exception]:
    """Each job's resolved configuration, or the exception Hydra raised composing it."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from launchers.hydra_app import CONF_DIR

    def run(composer: SweepComposer) -> list[dict[str, Any] | Exception]:
        out: list[dict[str, Any] | Exception] = []
        for job in jobs:
            try:
                out.append(composer.compose(job))
            except Exception as err:  # noqa: BLE001 - reported per job by the caller
                out.append(err)
        return out

    if GlobalHydra.instance().is_initialized():
        return run(composer or SweepComposer())
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="arena-compose"):
        return run(composer or SweepComposer())
