"""``arena report ROOT --tag T``: one self-contained HTML page of a study, also while it runs.

The page holds, in this order: a summary (experiments per status, master seed), the study's figures (the
ones ``arena plot`` draws: aggregated best-so-far curves per benchmark and, when they apply, normalised regret
across benchmarks, average rank, the benchmark grid and the critical-difference diagram), the table of final
values (``plotting.tables``, best in bold), the status of every experiment, and the failures with their
error and stderr tails. Everything is inline: CSS in a ``<style>`` element, figures as base64 PNG ``data:``
images, no script and no external URL, so the file can be mailed, archived or opened offline.

Status of an experiment (folder ``<root>/<tag>/<benchmark>/<method>/<seed>/``, jobs from ``study.json``):

* ``complete``: ``metadata.json`` says so and ``results.parquet`` is there (``results.store`` checks);
* ``running``: ``metadata.json`` says ``running``; ``interrupted`` when it names this machine and its process
  is gone (a killed sweep: rerun it to redo the experiment);
* ``failed``: the experiment raised or produced no result (``metadata.json`` holds the error,
  ``trials.parquet`` every trial's stderr tail);
* ``damaged``: unreadable metadata, or a complete experiment whose results file is missing or truncated;
* ``missing``: a job recorded in ``study.json`` without a folder (not started yet, or lost).

Safe while the study runs: figures and tables use complete experiments only (the others are listed by
status), and the page is written to a temporary sibling and renamed over the target, so a browser never
reads half a page. ``--refresh SECONDS`` adds a meta refresh for a page regenerated periodically.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import os
import posixpath
import socket
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("complete", "running", "interrupted", "failed", "damaged", "missing")
MAX_TRIAL_ERRORS_PER_EXPERIMENT = 5
MAX_TAIL_CHARS = 4000


# ------------------------------------------------------------------------------------------------------------
# Status of every experiment
# ------------------------------------------------------------------------------------------------------------

@dataclass
class ExperimentState:
    """What the results root says about one experiment of the study."""

    benchmark: str
    method: str
    seed: str
    status: str
    path: str
    started_at: str = ""
    finished_at: str = ""
    n_results: int | None = None
    n_trials: int | None = None
    n_failed_trials: int = 0
    tensorboard: bool = False  # the experiment writes TensorBoard event files (launchers/tensorboard_log.py)
    detail: str = ""  # the experiment's error, or why it is damaged / interrupted / missing
    trial_errors: list[tuple[int, str]] = field(default_factory=list)  # (trial id, error with stderr tail)


def _process_gone(metadata: dict) -> bool:
    """True when the metadata names a process of this machine that no longer exists."""
    pid = metadata.get("pid")
    if metadata.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


def _failed_trials(fs, folder: str) -> tuple[int, list[tuple[int, str]]] | None:
    """(number of failed trials, their first errors) from trials.parquet, or None when it is absent."""
    import pyarrow.parquet as pq

    path = posixpath.join(folder, "trials.parquet")
    if not fs.exists(path):
        return None
    try:
        with fs.open(path, "rb") as handle:
            table = pq.read_table(handle, columns=["trial_id", "status", "error"]).to_pandas()
    except Exception as err:  # noqa: BLE001 - a damaged file is reported, never fatal to the page
        return 0, [(-1, f"trials.parquet is unreadable: {type(err).__name__}: {err}")]
    failed = table[table["status"] == "failed"]
    errors = [(int(t), str(e) if e is not None else "") for t, e in
              zip(failed["trial_id"].head(MAX_TRIAL_ERRORS_PER_EXPERIMENT), failed["error"])]
    return len(failed), errors


def experiment_states(root: str, tag: str) -> list[ExperimentState]:
    """Every experiment of study ``tag`` under ``root`` with its status, sorted by (benchmark, method, seed)."""
    import fsspec

    from results.store import _read_metadata_with, expected_jobs, read_study

    fs, base = fsspec.core.url_to_fs(root)
    study_folder = posixpath.join(base.rstrip("/"), tag)
    if not fs.exists(study_folder):
        raise FileNotFoundError(f"no study {tag!r} under {root} (expected the folder {study_folder}); "
                                "`arena results check ROOT` lists the tags there")
    folders = sorted(p for p, info in fs.glob(posixpath.join(study_folder, "*", "*", "*"), detail=True).items()
                     if info.get("type") == "directory")
    states: dict[tuple[str, str, str], ExperimentState] = {}
    for folder in folders:
        benchmark, method, seed = folder.rstrip("/").split("/")[-3:]
        state = ExperimentState(benchmark, method, seed, "damaged", folder)
        states[(benchmark, method, seed)] = state
        if not fs.exists(posixpath.join(folder, "metadata.json")):
            state.detail = "no metadata.json (not written by `arena sweep`, or damaged)"
            continue
        metadata = _read_metadata_with(fs, folder)
        if isinstance(metadata, str):
            state.detail = metadata
            continue
        status = str(metadata.get("status"))
        state.started_at = str(metadata.get("started_at") or "")
        state.finished_at = str(metadata.get("finished_at") or "")
        state.n_results = metadata.get("n_results")
        state.n_trials = metadata.get("n_trials")
        if status == "running" and _process_gone(metadata):
            state.status = "interrupted"
            state.detail = (f"process {metadata.get('pid')} on {metadata.get('host')} is gone; rerun the sweep to "
                            "redo this experiment")
        elif status in ("complete", "running", "failed"):
            state.status = status
            state.detail = str(metadata.get("error") or "")
        else:
            state.detail = f"unknown status {status!r} in metadata.json"
        state.tensorboard = fs.exists(posixpath.join(folder, "tensorboard"))
        trials = _failed_trials(fs, folder)
        if trials is not None:
            state.n_failed_trials, state.trial_errors = trials
    study = read_study(root, tag)
    for benchmark, method, seed in expected_jobs(study) if study else []:
        key = (benchmark, method, str(seed))
        if key not in states:
            states[key] = ExperimentState(benchmark, method, str(seed), "missing",
                                          posixpath.join(study_folder, benchmark, method, str(seed)),
                                          detail="recorded in study.json, no folder yet")

    def order(key: tuple[str, str, str]) -> tuple:
        benchmark, method, seed = key
        return benchmark, method, (0, int(seed), "") if seed.isdigit() else (1, 0, seed)

    return [states[k] for k in sorted(states, key=order)]


# ------------------------------------------------------------------------------------------------------------
# Figures and tables
# ------------------------------------------------------------------------------------------------------------

@dataclass
class ReportFigure:
    name: str
    caption: str
    png: bytes


@dataclass
class ReportOptions:
    aggregate: str = "iqm_bootstrap"
    n_boot: int = 1000
    seed: int = 0
    alpha: float = 0.05
    columns: int = 2
    y_scale: str = "auto"
    dpi: int = 150
    refresh: float | None = None


def _png(fig, dpi: int) -> bytes:
    import matplotlib.pyplot as plt

    from plotting.style import paper_style

    buffer = io.BytesIO()
    with paper_style():
        fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def study_figures(comparative, options: ReportOptions, notes: list[str], single_part=None) -> list[ReportFigure]:
    """The figures ``arena plot`` draws for the study (``plotting.study_figures``, the same plan), as PNG;
    multi-objective benchmarks get their hypervolume, front and attainment figures. A figure that cannot be drawn
    yet (e.g. too few complete runs while the study runs) is left out with a note saying why."""
    from plotting.study_figures import FigureOptions, multi_objective_figures, single_objective_figures
    from plotting.style import study_styles
    from results.multiobjective import split_by_objectives

    styles = study_styles(comparative.setups)
    figure_options = FigureOptions(aggregate=options.aggregate, n_boot=options.n_boot, seed=options.seed,
                                   columns=options.columns, y_scale=options.y_scale, alpha=options.alpha)
    single, multi = split_by_objectives(comparative)
    plan = []
    if single:
        # In a mixed study the single-objective figures compare only those benchmarks, as ``arena plot`` does.
        part = comparative if not multi else single_part
        plan += single_objective_figures(part, styles, figure_options, notes)
    if multi:
        plan += multi_objective_figures(comparative, multi, styles, figure_options)
    figures: list[ReportFigure] = []
    for planned in plan:
        try:
            fig = planned.draw()
        except Exception as err:  # noqa: BLE001 - mid-study, a figure that cannot be drawn must not cost the page
            notes.append(f"figure {planned.name!r} is not drawn: {type(err).__name__}: {err}")
            continue
        figures.append(ReportFigure(planned.name, planned.caption, _png(fig, options.dpi)))
    return figures


def final_values_table(comparative, options: ReportOptions) -> tuple[list[str], list[str], list[list[str]]]:
    """(benchmarks, setups, cells) of ``arena table`` for the single-objective benchmarks: ``centre [lower,
    upper]`` of the final best value, best of a row in bold."""
    from plotting.tables import _cells, summarise_final_values
    from results.multiobjective import split_by_objectives

    single, _ = split_by_objectives(comparative)
    if not single:
        raise ValueError("the study has no single-objective benchmark")
    summary = summarise_final_values(comparative.final_values(), aggregate_mode=options.aggregate,
                                     n_boot=options.n_boot, seed=options.seed)
    # _cells marks the best with the format string; a placeholder survives escaping, then becomes <strong>.
    return _cells(summary, comparative.setups, 3, True, True, "\x00{}\x01")


def final_hypervolume_table(comparative, options: ReportOptions) -> tuple[list[str], list[str], list[list[str]]] | None:
    """(benchmarks, setups, cells) of ``arena table`` for the multi-objective benchmarks (final normalised
    hypervolume, higher is better), or None when the study has none."""
    from plotting.tables import _cells, final_hypervolume_summary
    from results.multiobjective import split_by_objectives

    _, multi = split_by_objectives(comparative)
    if not multi:
        return None
    summary = final_hypervolume_summary(comparative, multi, aggregate_mode=options.aggregate,
                                        n_boot=options.n_boot, seed=options.seed)
    return _cells(summary, comparative.setups, 3, True, False, "\x00{}\x01")


# ------------------------------------------------------------------------------------------------------------
# The page
# ------------------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #d0d0d0; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#table-experiments td:nth-child(-n+9) { white-space: nowrap; }
figure { display: inline-block; margin: 0 1em 1.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; max-width: 40em; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: .6em; overflow-x: auto; font-size: .8em;
      max-height: 24em; white-space: pre-wrap; }
.status { font-weight: 600; padding: .05em .4em; border-radius: .3em; }
.status-complete { background: #dff3e0; } .status-running { background: #dde9fb; }
.status-interrupted { background: #fff0c8; } .status-failed { background: #fbdcdc; }
.status-damaged { background: #f6d5f0; } .status-missing { background: #e8e8e8; }
.notes li { color: #6b4b00; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _tail(text: str) -> str:
    return text if len(text) <= MAX_TAIL_CHARS else "[...]\n" + text[-MAX_TAIL_CHARS:]


def _html_table(element_id: str, table: tuple[list[str], list[str], list[list[str]]]) -> list[str]:
    benchmarks, setups, rows = table
    out = [f'<table id="{element_id}"><thead><tr><th>benchmark</th>'
           + "".join(f"<th>{_e(s)}</th>" for s in setups) + "</tr></thead><tbody>"]
    for benchmark, cells in zip(benchmarks, rows):
        rendered = "".join(
            '<td class="num">' + _e(c).replace("\x00", "<strong>").replace("\x01", "</strong>") + "</td>"
            for c in cells)
        out.append(f'<tr data-benchmark="{_e(benchmark)}"><th>{_e(benchmark)}</th>{rendered}</tr>')
    out.append("</tbody></table>")
    return out


def render_report(root: str, tag: str, states: Sequence[ExperimentState], figures: Sequence[ReportFigure],
                  table: tuple[list[str], list[str], list[list[str]]] | None, notes: Sequence[str],
                  study: dict | None, options: ReportOptions,
                  hypervolume_table: tuple[list[str], list[str], list[list[str]]] | None = None) -> str:
    counts = {status: sum(s.status == status for s in states) for status in STATUSES}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out: list[str] = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">']
    if options.refresh:
        out.append(f'<meta http-equiv="refresh" content="{float(options.refresh):g}">')
    out += [f"<title>Study {_e(tag)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
            f"<h1>Study <code>{_e(tag)}</code></h1>",
            f"<p>Results root <code>{_e(root)}</code>; generated {now}"
            + (f"; master seed {_e(study.get('master_seed'))}" if study else "") + ".</p>",
            *([f"<p>TensorBoard event files: <code>tensorboard --logdir {_e(posixpath.join(root, tag))}</code></p>"]
              if any(s.tensorboard for s in states) else []),
            '<p id="summary">' + ", ".join(f'<span class="status status-{s}">{counts[s]} {s}</span>'
                                           for s in STATUSES if counts[s]) + "</p>",
            ('<nav><a href="#figures">Figures</a> · <a href="#final-values">Final values</a> · '
             '<a href="#experiments">Experiments</a> · <a href="#failures">Failures</a></nav>')]

    out.append('<h2 id="figures">Figures</h2>')
    if not figures:
        out.append("<p>No figure yet: no experiment is complete.</p>")
    for fig in figures:
        data = base64.b64encode(fig.png).decode("ascii")
        out.append(f'<figure id="figure-{_e(fig.name)}" data-figure="{_e(fig.name)}">'
                   f'<img src="data:image/png;base64,{data}" alt="{_e(fig.caption)}">'
                   f"<figcaption>{_e(fig.caption)}</figcaption></figure>")

    out.append('<h2 id="final-values">Final values</h2>')
    if table is None and hypervolume_table is None:
        out.append("<p>No table yet: no experiment is complete.</p>")
    if table is not None:
        out.append(f"<p>{_e(options.aggregate)} of each run's final best value (lower is better, maximised "
                   "metrics converted), with its 95% interval; the best of each row in bold.</p>")
        out += _html_table("table-final-values", table)
    if hypervolume_table is not None:
        out.append(f"<p>{_e(options.aggregate)} of each run's final normalised hypervolume (higher is better; "
                   "each objective normalised by the benchmark's bounds, reference point 1.1), with its 95% "
                   "interval; the best of each row in bold.</p>")
        out += _html_table("table-final-hypervolume", hypervolume_table)

    out.append('<h2 id="experiments">Experiments</h2>')
    out.append('<table id="table-experiments"><thead><tr><th>benchmark</th><th>method</th><th>seed</th>'
               "<th>status</th><th>results</th><th>trials</th><th>failed trials</th><th>started</th>"
               "<th>finished</th><th>detail</th></tr></thead><tbody>")
    for s in states:
        out.append(
            f'<tr data-status="{_e(s.status)}"><td>{_e(s.benchmark)}</td><td>{_e(s.method)}</td>'
            f'<td class="num">{_e(s.seed)}</td><td><span class="status status-{_e(s.status)}">{_e(s.status)}'
            f'</span></td><td class="num">{_e(s.n_results)}</td><td class="num">{_e(s.n_trials)}</td>'
            f'<td class="num">{s.n_failed_trials or ""}</td><td>{_e(s.started_at[:19].replace("T", " "))}</td>'
            f"<td>{_e(s.finished_at[:19].replace('T', ' '))}</td><td>{_e(s.detail.splitlines()[0] if s.detail else '')}</td></tr>")
    out.append("</tbody></table>")

    out.append('<h2 id="failures">Failures</h2>')
    failing = [s for s in states if s.status in ("failed", "damaged", "interrupted") or s.trial_errors]
    if not failing:
        out.append("<p>None.</p>")
    for s in failing:
        label = f"{s.benchmark} / {s.method} / seed {s.seed}"
        out.append(f'<section class="failure" data-experiment="{_e(label)}"><h3>{_e(label)} '
                   f'<span class="status status-{_e(s.status)}">{_e(s.status)}</span></h3>'
                   f"<p><code>{_e(s.path)}</code></p>")
        if s.detail:
            out.append(f'<pre class="error">{_e(_tail(s.detail))}</pre>')
        for trial_id, error in s.trial_errors:
            name = "trials.parquet" if trial_id < 0 else f"trial {trial_id}"
            out.append(f'<details open><summary>{_e(name)} failed</summary><pre class="stderr">'
                       f"{_e(_tail(error))}</pre></details>")
        if s.n_failed_trials > len(s.trial_errors):
            out.append(f"<p>{s.n_failed_trials - len(s.trial_errors)} more failed trials in trials.parquet.</p>")
        out.append("</section>")

    if notes:
        out.append('<h2 id="notes">Notes</h2><ul class="notes">'
                   + "".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(notes)) + "</ul>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def build_report(root: str, tag: str, options: ReportOptions | None = None) -> str:
    """The HTML page of study ``tag`` under ``root`` (a folder or an fsspec URL)."""
    from results.comparative import ComparativeResults
    from results.multiobjective import split_by_objectives
    from results.store import read_study

    options = options or ReportOptions()
    states = experiment_states(root, tag)
    notes: list[str] = []
    figures: list[ReportFigure] = []
    table = None
    hypervolume_table = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        comparative = ComparativeResults(root, tags=[tag])
        if comparative.benchmarks:
            single, multi = split_by_objectives(comparative)
            single_part = ComparativeResults(root, tags=[tag], benchmarks=single) if single and multi else None
            figures = study_figures(comparative, options, notes, single_part)
            if single:
                try:
                    table = final_values_table(single_part or comparative, options)
                except Exception as err:  # noqa: BLE001 - as for figures: say why, keep the rest of the page
                    notes.append(f"no table of final values: {type(err).__name__}: {err}")
            try:
                hypervolume_table = final_hypervolume_table(comparative, options)
            except Exception as err:  # noqa: BLE001
                notes.append(f"no table of final hypervolume: {type(err).__name__}: {err}")
    # Readers announce incomplete runs in one warning; the status table shows them one by one already.
    notes += [str(w.message) for w in caught if "are not complete and were left out" not in str(w.message)]
    return render_report(root, tag, states, figures, table, notes, read_study(root, tag), options,
                         hypervolume_table)


def default_output(root: str, tag: str) -> str:
    if "://" in root and not root.startswith("file://"):
        raise ValueError(f"the results root {root} is remote: give --out FILE.html for the page")
    return os.path.join(root.removeprefix("file://"), tag, "report.html")


def write_report(root: str, tag: str, out: str | None = None, options: ReportOptions | None = None) -> str:
    """Build the page and write it atomically (a temporary sibling renamed over ``out``); returns the path."""
    page = build_report(root, tag, options)
    path = out or default_output(root, tag)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.replace(temporary, path)
    return path


# ------------------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------------------

def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from results.statistics import AGGREGATION_MODES

    report = subparsers.add_parser(
        "report", help="one self-contained HTML page of a study: figures, tables, status, failures (also mid-run)")
    report.add_argument("root", help="results root: a folder or an fsspec URL such as s3://bucket/prefix")
    report.add_argument("--tag", required=True, help="the study's tag")
    report.add_argument("--out", default=None, help="the HTML file (default: ROOT/TAG/report.html)")
    report.add_argument("--aggregate", choices=AGGREGATION_MODES, default="iqm_bootstrap")
    report.add_argument("--n-boot", type=int, default=1000, help="bootstrap samples")
    report.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    report.add_argument("--columns", type=int, choices=[1, 2], default=2, help="paper columns of the figures")
    report.add_argument("--y-scale", choices=["auto", "linear", "log"], default="auto")
    report.add_argument("--alpha", type=float, default=0.05, help="level of the Nemenyi test of the CD diagram")
    report.add_argument("--refresh", type=float, default=None,
                        help="seconds after which a browser reloads the page (for a page regenerated "
                        "periodically)")
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    if args.refresh is not None and args.refresh <= 0:
        raise SystemExit(f"--refresh {args.refresh} must be a positive number of seconds")
    options = ReportOptions(aggregate=args.aggregate, n_boot=args.n_boot, seed=args.seed, alpha=args.alpha,
                            columns=args.columns, y_scale=args.y_scale, refresh=args.refresh)
    try:
        path = write_report(args.root, args.tag, args.out, options)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"arena report: {err}") from None
    print(path)
    return 0
