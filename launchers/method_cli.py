"""``arena check-method``: the conformance check of a method (``launchers.conformance``) from the shell.

    arena check-method ASHA
    arena check-method my_module:MyScheduler --kwargs eta=3 grace_period=2
    arena check-method MY-TPE --config-dir conf        # conf/method/MY-TPE.yaml holds a _target_

Exit status 0 when every rule holds, 1 when one is broken (each broken rule is printed with what was seen).
"""
from __future__ import annotations

import argparse


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-method", help="check that a method (built-in name, module:Class or a method YAML) keeps the "
                             "scheduler contract, through the simulator on the embedded benchmark",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("method", help="a registered name, a class path module:Class, or the name of a method "
                                       "YAML in the config folder")
    parser.add_argument("--kwargs", nargs="*", default=[], metavar="NAME=VALUE",
                        help="method arguments (values read as YAML: 3, 0.5, true, null, [1, 2])")
    parser.add_argument("--config-dir", action="append", default=[], metavar="DIR",
                        help="user config folder holding method/NAME.yaml (also $HPO_ARENA_CONFIG_DIR)")
    parser.add_argument("--seed", type=int, default=0, help="method seed of the runs (the other seed is +1)")
    parser.add_argument("--budget", type=float, default=0.4, help="simulated seconds per run (default 0.4)")
    parser.add_argument("--max-trials-started", type=int, default=24, help="trials per run at most (default 24)")
    parser.add_argument("--deterministic", action="store_true",
                        help="the method ignores its seed by design: do not require another seed to change it")
    parser.add_argument("--skip-rule", action="append", default=[], choices=["seed-used", "mode"],
                        help="a rule the method breaks by definition (reported as skipped)")
    parser.set_defaults(func=_check_method)


def _check_method(args: argparse.Namespace) -> int:
    from pathlib import Path

    from launchers.conformance import check_method, parse_kwargs
    from launchers.user_methods import config_dirs, load_user_method, user_method_files

    try:
        kwargs = parse_kwargs(args.kwargs)
    except ValueError as err:
        raise SystemExit(f"arena check-method: {err}") from None
    files = user_method_files([Path(d).expanduser().resolve() for d in args.config_dir] + config_dirs())
    target = args.method
    from baselines.registry import list_methods

    if args.method in files and args.method not in list_methods():
        try:
            target, arguments = load_user_method(files[args.method])
        except (TypeError, ValueError) as err:
            raise SystemExit(f"arena check-method: {err}") from None
        kwargs = {**arguments, **kwargs}
    try:
        report = check_method(target, kwargs, randomised=False if args.deterministic else None, seed=args.seed,
                              budget=args.budget, max_trials_started=args.max_trials_started,
                              skip_rules=args.skip_rule)
    except ValueError as err:
        raise SystemExit(f"arena check-method: {err}") from None
    report.method = args.method
    print(report.summary())
    return 0 if report.ok else 1
