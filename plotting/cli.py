"""``arena plot ROOT`` and ``arena table ROOT``: figures and tables of a results root from the command line.

``launchers/cli.py`` calls ``add_commands(subparsers)`` and then ``args.func(args)`` (returns 0).

* ``arena plot`` writes, as PDF and PNG in ``--out``: one figure per benchmark (aggregated best-so-far
  curves); with several benchmarks the aggregate normalised regret across benchmarks, the average
  rank over time and a grid with one normalised-regret panel per benchmark (``benchmark_grid``);
  with >= 2 setups and >= 2 (benchmark, seed) blocks a critical-difference diagram of final
  normalised regret (``critical_difference``, needs the ``figures`` extra; skipped with a message
  naming it when absent). Colours come from the whole study's set of setups, so ``--setup``
  subsets keep them; the y axis is logarithmic when the curves span decades (``--y-scale``).
* ``arena plot --jobs N`` draws the figures in N worker processes (0: one per available core): a benchmark's
  figures from that benchmark's results alone, the figures across benchmarks from the normalised regret this
  process computes to plan them. The files, the printed paths and notes are those of ``--jobs 1``
  (``plotting.figure_jobs``).
* ``arena table`` prints (or writes to ``--out``) final values per benchmark and setup with intervals,
  best in bold, as Markdown or LaTeX.

Multi-objective studies are recognised from the runs' metadata.json (``metrics`` with two or more objectives,
``results.multiobjective.split_by_objectives``). For each such benchmark ``arena plot`` writes
``<benchmark>_hypervolume`` (normalised hypervolume over time, aggregated like the single-objective curves,
linear axis unless ``--y-scale`` says otherwise), ``<benchmark>_pareto_front`` (each setup's Pareto front of
all its seeds' results pooled) and ``<benchmark>_attainment`` (each setup's median attainment surface over
seeds); ``arena table`` gives the final normalised hypervolume per benchmark and setup (higher is better, best
in bold) under a caption stating the normalisation. A study mixing single- and multi-objective benchmarks is
split per benchmark: the single-objective part gets exactly the figures and table it would get alone (the
cross-benchmark figures see only those benchmarks), the multi-objective part follows, and ``arena table``
prints the single-objective table first. ``--metric``/``--mode`` apply to single-objective benchmarks only.
"""

from __future__ import annotations

import argparse
import os

from plotting.study_figures import FIGURES
from results.statistics import AGGREGATION_MODES


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", help="results root: a folder or an fsspec URL such as s3://bucket/prefix")
    parser.add_argument(
        "--tag", action="append", dest="tags", help="study tag (repeat to combine; default all)"
    )
    parser.add_argument(
        "--benchmark", action="append", dest="benchmarks", help="benchmark (repeat; default all)"
    )
    parser.add_argument("--setup", action="append", dest="setups", help="setups to show, in this order")
    parser.add_argument("--metric", default=None, help="result column (default: each run's tuned metric)")
    parser.add_argument("--mode", choices=["min", "max"], default=None, help="direction of --metric")
    parser.add_argument("--aggregate", choices=AGGREGATION_MODES, default="iqm_bootstrap")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument(
        "--num-runs", type=int, default=None, help="expected seeds per setup (warns otherwise)"
    )
    parser.add_argument("--since", default=None, help="keep runs started at or after this ISO date-time")
    parser.add_argument("--until", default=None, help="keep runs started at or before this ISO date-time")




def _positive_dpi(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--dpi takes a number of dots per inch, e.g. 150; got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"--dpi must be positive (e.g. 150 for screens, 300 for print); got {text}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a number of worker processes, e.g. 4 (0: one per core); "
                                         f"got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--jobs must be 0 (one worker per core) or positive; got {value}")
    return value


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    plot = subparsers.add_parser("plot", help="figures of aggregated best-so-far curves per benchmark")
    _add_common(plot)
    plot.add_argument("--out", default="figures", help="output folder")
    plot.add_argument("--x", choices=["sim_time", "evaluations", "cost"], default="sim_time")
    plot.add_argument("--cost-column", default="cost")
    plot.add_argument("--n-grid", type=int, default=200, help="points of the common grid")
    plot.add_argument("--columns", type=int, choices=[1, 2], default=1, help="paper columns the figure spans")
    plot.add_argument("--format", action="append", dest="formats", help="pdf, png, svg (default pdf and png)")
    plot.add_argument("--dpi", type=_positive_dpi, default=None,
                      help="resolution of PNG files in dots per inch (default 300, print quality); PDF and SVG "
                      "are vector and keep the same layout")
    plot.add_argument(
        "--y-scale",
        choices=["auto", "linear", "log"],
        default="auto",
        help="auto: log when the curves' positive values span more than one decade (zeros drawn at a "
        "stated floor), else linear",
    )
    plot.add_argument("--log-y", action="store_const", const="log", dest="y_scale", help="same as --y-scale log")
    plot.add_argument("--alpha", type=float, default=0.05, help="level of the Nemenyi test of the CD diagram")
    plot.add_argument("--figure", action="append", dest="figures", choices=FIGURES,
                      help="only these figures (repeat; default all): benchmarks = one figure per benchmark; "
                      "the others need several benchmarks (critical_difference: several setups); multi-objective "
                      "benchmarks always get their hypervolume, front and attainment figures")
    plot.add_argument("--jobs", type=_jobs, default=1,
                      help="processes drawing the figures: this one and N-1 workers (default 1: all in this "
                      "process; 0: one per available core); the files written are the same")
    plot.set_defaults(func=run_plot)

    table = subparsers.add_parser("table", help="final values per benchmark and setup, best in bold")
    _add_common(table)
    table.add_argument("--format", choices=["markdown", "latex"], default="markdown")
    table.add_argument("--decimals", type=int, default=3)
    table.add_argument("--out", default=None, help="write to this file instead of printing")
    table.set_defaults(func=run_table)


def _comparative(args: argparse.Namespace, benchmarks: list[str] | None = None):
    from results.comparative import ComparativeResults

    bounds = (args.since, args.until) if (args.since or args.until) else None
    return ComparativeResults(
        args.root,
        tags=args.tags,
        setups=args.setups,
        num_runs=args.num_runs,
        datetime_bounds=bounds,
        benchmarks=benchmarks if benchmarks is not None else args.benchmarks,
    )


def _study_setups(args: argparse.Namespace, comparative) -> list[str]:
    """Every setup of the selected studies, also those ``--setup`` leaves out (for stable colours)."""
    if not args.setups:
        return comparative.setups
    from results.store import index_experiments

    bounds = (args.since, args.until) if (args.since or args.until) else None
    index = index_experiments(args.root, tags=args.tags, benchmarks=args.benchmarks, datetime_bounds=bounds)
    return list(dict.fromkeys(list(index.setups) + comparative.setups))


def _by_objectives(args: argparse.Namespace, action: str):
    """The whole selection, and its single- and multi-objective parts (None when empty), each a
    ``ComparativeResults``. In a mixed study each part is indexed on its own, so that run-count warnings
    concern the part (a multi-objective method has no runs on a single-objective benchmark by design)."""
    import warnings

    from results.multiobjective import split_by_objectives

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        comparative = _comparative(args)
    if not comparative.benchmarks:
        raise SystemExit(f"no complete experiment under {args.root}; nothing to {action}")
    single, multi = split_by_objectives(comparative)
    if single and multi:
        return comparative, _comparative(args, benchmarks=single), _comparative(args, benchmarks=multi)
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return comparative, (comparative if single else None), (comparative if multi else None)


def _figure_workers(args: argparse.Namespace, n_benchmarks: int):
    """The worker processes of ``--jobs`` (started before the figures are planned, so that they start up while
    the results are read), no more than there are tasks (one per benchmark, one per figure across benchmarks);
    none for ``--jobs 1``."""
    import contextlib

    from plotting.figure_jobs import FigureWorkers, available_cores

    jobs = getattr(args, "jobs", 1)
    n_tasks = n_benchmarks + len(FIGURES) - 1  # FIGURES[0], "benchmarks", stands for the per-benchmark figures
    jobs = min(available_cores() if jobs == 0 else jobs, 1 + n_tasks)
    return FigureWorkers(jobs) if jobs > 1 else contextlib.nullcontext(None)


def run_plot(args: argparse.Namespace) -> int:
    from plotting.style import study_styles

    written: list[str] = []
    comparative, single, multi = _by_objectives(args, "plot")
    with _figure_workers(args, len(comparative.benchmarks)) as workers:
        styles = study_styles(_study_setups(args, comparative))
        if single is not None:
            # In a mixed study the single-objective figures (and the cross-benchmark ones) see only the
            # single-objective benchmarks, exactly as a study of those alone.
            written += _plot_single_objective(args, single, styles, workers)
        if multi is not None:
            written += _plot_multi_objective(args, multi, multi.benchmarks, styles, workers)
    if not written:
        import sys

        print(f"arena plot: none of the figures {sorted(set(args.figures or FIGURES))} applies to "
              f"{len(comparative.benchmarks)} benchmark(s) and {len(comparative.setups)} setup(s); nothing written",
              file=sys.stderr)
    for path in written:
        print(path)
    return 0


def _figure_options(args: argparse.Namespace):
    from plotting.study_figures import FigureOptions

    return FigureOptions(aggregate=args.aggregate, n_boot=args.n_boot, seed=args.seed, columns=args.columns,
                         y_scale=args.y_scale, metric=args.metric, mode=args.mode, x=args.x,
                         cost_column=args.cost_column, n_grid=args.n_grid, alpha=args.alpha)


def _write_figures(args: argparse.Namespace, plan, notes: list[str], comparative, styles, kind: str,
                   workers) -> list[str]:
    """Draw and write every planned figure (in ``--jobs`` worker processes: ``plotting.figure_jobs``); a figure
    whose optional library is missing is skipped with a message naming the extra (``ModuleNotFoundError`` says
    which), any other error stops ``arena plot``."""
    import sys

    from plotting.figure_jobs import FigureOutput, write_figures

    output = FigureOutput(args.out, tuple(args.formats or ["pdf", "png"]), getattr(args, "dpi", None))
    outcomes = write_figures(plan, output, workers, kind=kind, comparative=comparative, styles=styles,
                             options=_figure_options(args))
    written = [path for outcome in outcomes for path in outcome.paths]
    notes += [outcome.note for outcome in outcomes if outcome.note is not None]
    for note in notes:
        print(f"arena plot: {note}", file=sys.stderr)
    return written


def _plot_single_objective(args: argparse.Namespace, comparative, styles, workers=None) -> list[str]:
    from plotting.figure_jobs import SINGLE_OBJECTIVE
    from plotting.study_figures import single_objective_figures

    notes: list[str] = []
    plan = single_objective_figures(comparative, styles, _figure_options(args), notes,
                                    wanted=set(args.figures or FIGURES))
    return _write_figures(args, plan, notes, comparative, styles, SINGLE_OBJECTIVE, workers)


def _plot_multi_objective(args: argparse.Namespace, comparative, benchmarks: list[str], styles,
                          workers=None) -> list[str]:
    """Per multi-objective benchmark: hypervolume over time (aggregated as the single-objective curves), the
    methods' pooled Pareto fronts and their median attainment surfaces."""
    from plotting.figure_jobs import MULTI_OBJECTIVE
    from plotting.study_figures import multi_objective_figures

    notes: list[str] = []
    if args.metric is not None:
        notes.append(f"--metric {args.metric} applies to single-objective benchmarks; the multi-objective ones "
                     f"({', '.join(benchmarks)}) show hypervolume, Pareto fronts and attainment surfaces")
    return _write_figures(args, multi_objective_figures(comparative, benchmarks, styles, _figure_options(args)),
                          notes, comparative, styles, MULTI_OBJECTIVE, workers)


def run_table(args: argparse.Namespace) -> int:
    from plotting.tables import (
        final_hypervolume_summary,
        hypervolume_caption,
        summarise_final_values,
        to_latex,
        to_markdown,
    )

    _, single, multi = _by_objectives(args, "tabulate")
    parts = []
    if single is not None:
        final = single.final_values(metric=args.metric, mode=args.mode)
        summary = summarise_final_values(final, aggregate_mode=args.aggregate, n_boot=args.n_boot, seed=args.seed)
        render = to_latex if args.format == "latex" else to_markdown
        parts.append(render(summary, setups=single.setups, decimals=args.decimals))
    if multi is not None:
        summary = final_hypervolume_summary(
            multi, multi.benchmarks, aggregate_mode=args.aggregate, n_boot=args.n_boot, seed=args.seed
        )
        setups = [s for s in multi.setups if s in set(summary["setup"])]
        n_objectives = [len(multi.index.metadata[p]["metrics"]) for p in multi.index.table["path"]]
        caption = hypervolume_caption(args.aggregate, n_objectives)
        if args.format == "latex":
            parts.append(to_latex(summary, setups=setups, decimals=args.decimals, lower_is_better=False,
                                  caption=caption, label="tab:final-hypervolume"))
        else:
            parts.append(caption + "\n\n" + to_markdown(summary, setups=setups, decimals=args.decimals,
                                                        lower_is_better=False))
    text = "\n".join(parts)
    if args.out:
        directory = os.path.dirname(args.out)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(args.out)
    else:
        print(text, end="")
    return 0
