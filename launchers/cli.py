"""The ``arena`` command: the composition root that wires every package's subcommands together.

Each package contributes ``add_commands(subparsers)`` in its own ``cli`` module; heavy imports happen inside
the command functions so ``arena --help`` stays fast. ``arena sweep ...`` hands its arguments to the Hydra
app unchanged (Hydra parses them itself).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules providing ``add_commands(subparsers)``, in help order.
COMMAND_MODULES = (
    "blackbox_repo.cli",
    "blackbox_repo.conversion.cli",
    "blackbox_repo.data.cli",
    "benchmark_definitions.cli",
    "results.cli",
    "plotting.cli",
    "plotting.html_report",
    "launchers.method_cli",
)


# The module that registers each command: ``arena COMMAND ...`` imports only that module (the others pull in
# pandas, scipy and matplotlib: seconds of start-up for a command that needs none of them).
# tests/test_cli_lazy.py checks that it matches what the modules register.
COMMAND_MODULE_OF = {
    "blackboxes": "blackbox_repo.cli",
    "convert": "blackbox_repo.conversion.cli",
    "data": "blackbox_repo.data.cli",
    "benchmarks": "benchmark_definitions.cli",
    "results": "results.cli",
    "plot": "plotting.cli",
    "table": "plotting.cli",
    "report": "plotting.html_report",
    "check-method": "launchers.method_cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``arena`` parser with every command, or, given ``command``, with that one only."""
    parser = argparse.ArgumentParser(
        prog="arena",
        description="hpo-arena: blackbox repository, HPO baselines, simulated and real sweeps, comparisons.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    sweep = subparsers.add_parser(
        "sweep", help="run a study: a Hydra multirun over methods x benchmarks x seeds (see `arena sweep --help`)",
        add_help=False,
    )
    sweep.add_argument("hydra_args", nargs=argparse.REMAINDER)
    sweep.set_defaults(func=_sweep)
    modules = [COMMAND_MODULE_OF[command]] if command in COMMAND_MODULE_OF else COMMAND_MODULES
    for module_name in modules:
        importlib.import_module(module_name).add_commands(subparsers)
    return parser


def _sweep(args: argparse.Namespace) -> int:
    from launchers.hydra_app import run_sweep_cli

    return run_sweep_cli(args.hydra_args)


def _plain_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line read as messages, not as source locations."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.formatwarning = _plain_warning
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sweep":
        from launchers.hydra_app import run_sweep_cli

        return run_sweep_cli(argv[1:])
    parser = build_parser(argv[0] if argv and argv[0] in COMMAND_MODULE_OF else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
