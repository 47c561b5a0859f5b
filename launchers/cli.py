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


def build_parser() -> argparse.ArgumentParser:
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
    for module_name in COMMAND_MODULES:
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
    parser = build_parser()
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
