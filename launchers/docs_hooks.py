"""MkDocs hooks of the documentation site (``launchers/mkdocs.yml``): pages that cannot drift from the code.

A page writes a marker, an HTML comment on a line of its own, and the build replaces it with text generated
from the code at build time:

- ``<!-- arena-help: data get -->``: the ``--help`` of ``arena data get``, formatted by the real argparse
  parser (``launchers.cli.build_parser``), 100 columns wide;
- ``<!-- arena-sweep-config -->``: the sweep's top-level configuration, ``launchers/conf/config.yaml``;
- ``<!-- arena-methods -->``: one table row per registered method (``baselines.registry``): its short name,
  description, arguments with their defaults, and the extra it needs.

An unknown marker or command stops the build with the marker's page named. ``tests/test_docs_site.py`` also
checks that every ``arena`` command has a section on the command-line page.
"""
from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- arena-(help|sweep-config|methods)(?::\s*([^>]*?))?\s*-->$", re.MULTILINE)
HELP_COLUMNS = 100
CONFIG_YAML = Path(__file__).resolve().parent / "conf" / "config.yaml"


class DocsMarkerError(ValueError):
    """A page names a command or marker the code does not have."""


def command_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every ``arena`` (sub)command's parser, keyed by its words, e.g. ``("data", "get")``."""
    from launchers.cli import build_parser

    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
        found[words] = parser
        for action in parser._actions:  # argparse keeps subparsers only here
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*words, name))

    walk(build_parser(), ())
    return found


def command_help(words: tuple[str, ...] | list[str]) -> str:
    """The ``--help`` text of ``arena WORDS...`` as the terminal shows it, at a fixed width."""
    parsers = command_parsers()
    words = tuple(words)
    if words not in parsers:
        known = ", ".join(" ".join(w) for w in sorted(parsers) if w)
        raise DocsMarkerError(f"no command `arena {' '.join(words)}`; commands: {known}")
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)  # argparse wraps to the terminal width it reads from COLUMNS
    try:
        return parsers[words].format_help().rstrip() + "\n"
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def methods_table() -> str:
    """A Markdown table of every registered method: name, description, arguments (defaults), extra."""
    from baselines.registry import describe_methods, method_defaults, method_spec

    rows = ["| method | what it is | arguments (`method.KEY=VALUE`, defaults) | needs |", "|---|---|---|---|"]
    for name, description in describe_methods().items():
        spec = method_spec(name)
        arguments = ", ".join(f"`{key}={value!r}`" for key, value in method_defaults(name).items()) or "none"
        needs = []
        if spec.extra:
            needs.append(f"`pip install 'hpo-arena[{spec.extra}]'`")
        if spec.transfers_checkpoints:
            needs.append("real training (checkpoints)")
        if spec.multi_objective:
            needs.append("a multi-objective benchmark (`mo-*`)")
        if spec.constrained:
            needs.append("a constrained benchmark (`constrained-*`)")
        if spec.transfer_learning:
            needs.append("a transfer benchmark (`transfer-*`)")
        rows.append(f"| `{name}` | {_markdown_cell(description)} | {_markdown_cell(arguments)} | "
                    f"{'; '.join(needs) or 'nothing more'} |")
    return "\n".join(rows) + "\n"


def expand_markers(markdown: str, page_name: str = "<page>") -> str:
    """Replace every marker of ``markdown`` by the text generated from the code (see the module docstring)."""

    def replace(match: re.Match[str]) -> str:
        kind, argument = match.group(1), (match.group(2) or "").strip()
        try:
            if kind == "help":
                command = " ".join(["arena", *argument.split(), "--help"])
                return f"```text\n$ {command}\n{command_help(argument.split())}```"
            if kind == "sweep-config":
                return f"```yaml\n{CONFIG_YAML.read_text()}```"
            return methods_table()
        except DocsMarkerError as error:
            raise DocsMarkerError(f"{page_name}: {error}") from None

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs hook: expand the markers of each page before it is rendered."""
    return expand_markers(markdown, page.file.src_uri)
