"""``arena report``: the HTML page of a small real study, checked as text and in a real headless Chromium.

The study: ``arena sweep`` of RS and ASHA on two embedded xgboost-sklearn benchmarks x 2 seeds (with
``tensorboard=true``), plus one experiment of every other status: a real-training experiment whose script
crashes (failed, with a stderr tail), one marked running by this live process, one whose process is gone
(interrupted), a copy of a complete experiment with a truncated results file (damaged) and a job recorded in
study.json without a folder (missing).

The browser test drives Debian's ``chromium`` with Playwright (``playwright install`` is never run). Where
chromium or playwright is missing it skips with the reason, except in CI (environment variable ``CI`` set to
anything but "", "0" or "false", as ``.ci/run`` does), where a missing browser is a failure.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from launchers.cli import main as arena

REPO = Path(__file__).resolve().parents[1]
TAG = "live"
METHODS = ("ASHA", "RS")
BENCHMARKS = ("xgboost-sklearn-breast_cancer", "xgboost-sklearn-wine")
CRASH_MESSAGE = "deliberate crash: the report must show this stderr tail"
CRASH_SCRIPT = textwrap.dedent(f'''
    import sys
    from launchers.report import trial_context

    trial = trial_context()
    print("loading the data of trial", trial.trial_id, file=sys.stderr)
    raise RuntimeError("{CRASH_MESSAGE}")
''')
EXPECTED_STATUS = {
    **{(b, m, str(s)): "complete" for b in BENCHMARKS for m in METHODS for s in (0, 1)},
    ("toy-crash", "RS", "0"): "failed",
    ("xgboost-sklearn-wine", "BO", "0"): "running",
    ("xgboost-sklearn-wine", "TPE", "3"): "interrupted",
    ("xgboost-sklearn-breast_cancer", "RS", "5"): "damaged",
    ("xgboost-sklearn-wine", "TPE", "9"): "missing",
}
FIGURES = {*BENCHMARKS, "normalised_regret", "average_rank", "benchmark_grid", "critical_difference"}
pytestmark = pytest.mark.timeout(600)


def _pythonpath() -> str:
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    from benchmark_definitions.definitions import RealBenchmark
    from benchmark_definitions.registry import get_benchmark
    from blackbox_repo.search_space import SearchSpace, Uniform
    from launchers.experiment import ExperimentFailed, ExperimentSpec, mark_status, run_experiment
    from launchers.study import record_sweep

    work = tmp_path_factory.mktemp("study")
    root = work / "results"
    env = dict(os.environ, HPO_ARENA_RESULTS=str(root), HPO_ARENA_HYDRA_DIR=str(work / "hydra"),
               PYTHONPATH=_pythonpath())
    sweep = subprocess.run(
        [sys.executable, "-m", "launchers.cli", "sweep", "-m", f"method={','.join(METHODS)}",
         f"benchmark={','.join(BENCHMARKS)}", "seed=range(0,2)", "benchmark.max_wallclock_time=0.3",
         f"tag={TAG}", "tensorboard=true"],
        check=False, cwd=work, env=env, capture_output=True, text=True, timeout=400)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    master_seed = json.loads((root / TAG / "study.json").read_text())["master_seed"]

    # failed: a real-training experiment whose every trial crashes
    script = work / "crash.py"
    script.write_text(CRASH_SCRIPT)
    crash = RealBenchmark(name="toy-crash", script=str(script), metric="loss", mode="min", resource_attr="epoch",
                          config_space=SearchSpace({"x": Uniform(0.0, 1.0)}).to_dict(), max_fidelity=2,
                          max_wallclock_time=1.0, n_workers=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", _pythonpath())
        with pytest.raises(ExperimentFailed):
            run_experiment(ExperimentSpec(crash, "RS", seed=0, master_seed=master_seed, tag=TAG,
                                          results_root=str(root)))
    # running (this process is alive) and interrupted (a process that has exited)
    wine = get_benchmark("xgboost-sklearn-wine")
    started = datetime.now(UTC).isoformat()
    mark_status(ExperimentSpec(wine, "BO", seed=0, master_seed=master_seed, tag=TAG, results_root=str(root)),
                started)
    interrupted = ExperimentSpec(wine, "TPE", seed=3, master_seed=master_seed, tag=TAG, results_root=str(root))
    mark_status(interrupted, started)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    metadata_path = Path(interrupted.path) / "metadata.json"
    metadata_path.write_text(json.dumps({**json.loads(metadata_path.read_text()), "pid": gone.pid}))
    # damaged: a complete experiment whose results file was truncated
    damaged = root / TAG / "xgboost-sklearn-breast_cancer" / "RS" / "5"
    shutil.copytree(root / TAG / "xgboost-sklearn-breast_cancer" / "RS" / "0", damaged)
    (damaged / "results.parquet").write_bytes(b"")
    # missing: a recorded job that never ran
    record_sweep(str(root), TAG, ["method=TPE", "seed=9"],
                 [{"benchmark": "xgboost-sklearn-wine", "method": "TPE", "seed": 9}])
    return root


@pytest.fixture(scope="module")
def page(study) -> Path:
    out = study.parent / "page" / "report.html"
    assert arena(["report", str(study), "--tag", TAG, "--out", str(out), "--n-boot", "200"]) == 0
    return out


class _Page(HTMLParser):
    """Tables (rows of cell texts, by table id), figures, attributes that load or link something, texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "action", "poster", "data"):
            if name in attrs and tag != "figure":
                self.links.append(attrs[name])
        if tag == "table":
            self._table = attrs.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "figure":
            self.figures.append(attrs["data-figure"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        self.text.append(data)


def _parse(path: Path) -> _Page:
    parsed = _Page()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def test_sweep_with_tensorboard_true_writes_event_files_of_the_results(study):
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    for benchmark in BENCHMARKS:
        for method in METHODS:
            folder = study / TAG / benchmark / method / "1"
            results = pd.read_parquet(folder / "results.parquet")
            accumulator = EventAccumulator(str(folder / "tensorboard"), size_guidance={SCALARS: 0})
            accumulator.Reload()
            best = [e.value for e in accumulator.Scalars("best/val_error")]
            assert len(best) == len(results)
            assert best[-1] == np.float32(results["val_error"].min())


def test_every_experiment_is_listed_with_its_status(page, study):
    rows = _parse(page).tables["table-experiments"]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["benchmark", "method", "seed", "status"]
    assert {(r[0], r[1], r[2]): r[3] for r in body} == EXPECTED_STATUS
    assert len(body) == len(EXPECTED_STATUS)
    summary = re.search(r'<p id="summary">(.*?)</p>', page.read_text()).group(1)
    assert "8 complete" in summary and "1 failed" in summary and "1 missing" in summary
    assert f"tensorboard --logdir {study / TAG}" in page.read_text()  # the sweep ran with tensorboard=true


def test_figures_and_the_table_of_final_values_come_from_complete_experiments(page, study, capsys):
    parsed = _parse(page)
    assert set(parsed.figures) == FIGURES
    table = parsed.tables["table-final-values"]
    assert table[0] == ["benchmark", *METHODS]  # the running BO and interrupted TPE are no setups yet
    assert [row[0] for row in table[1:]] == list(BENCHMARKS)
    # the same numbers as `arena table` (Markdown) prints for the study
    assert arena(["table", str(study), "--tag", TAG, "--n-boot", "200"]) == 0
    markdown = [line.strip("|").split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [[cell.strip().replace("**", "") for cell in line] for line in markdown] == table[1:]


def test_failures_show_the_error_and_the_stderr_tail(page):
    text = page.read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section class="failure" data-experiment="([^"]+)">(.*?)</section>', text,
                               re.DOTALL))
    crash = sections["toy-crash / RS / seed 0"]
    assert "loading the data of trial 0" in crash and CRASH_MESSAGE in crash and "Traceback" in crash
    assert "exit code 1" in crash
    assert "is gone; rerun the sweep" in sections["xgboost-sklearn-wine / TPE / seed 3"]
    assert "too short to be Parquet" in sections["xgboost-sklearn-breast_cancer / RS / seed 5"]
    assert not any(key.startswith(("xgboost-sklearn-wine / BO", "xgboost-sklearn-wine / TPE / seed 9"))
                   for key in sections)


def test_the_page_is_self_contained(page):
    parsed = _parse(page)
    external = [link for link in parsed.links if not link.startswith(("data:image/png;base64,", "#"))]
    assert external == []
    assert "<script" not in page.read_text() and "<link" not in page.read_text()
    assert "url(" not in page.read_text()  # no CSS resource


def test_regenerating_replaces_the_page_whole_in_the_study_folder_by_default(study):
    default = study / TAG / "report.html"
    default.write_text("stale page of an earlier run")
    assert arena(["report", str(study), "--tag", TAG, "--n-boot", "50", "--refresh", "30"]) == 0
    text = default.read_text()
    assert "stale page" not in text and text.rstrip().endswith("</html>")
    assert '<meta http-equiv="refresh" content="30">' in text
    assert set(_parse(default).figures) == FIGURES
    assert not [p.name for p in (study / TAG).iterdir() if ".tmp-" in p.name]  # no temporary file left


def test_a_study_without_complete_experiments_gets_a_page_of_statuses(tmp_path):
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, mark_status

    spec = ExperimentSpec(get_benchmark("xgboost-sklearn-wine"), "RS", seed=2, master_seed=1, tag="early",
                          results_root=str(tmp_path))
    mark_status(spec, datetime.now(UTC).isoformat())
    out = tmp_path / "early.html"
    assert arena(["report", str(tmp_path), "--tag", "early", "--out", str(out)]) == 0
    parsed = _parse(out)
    assert parsed.figures == [] and "table-final-values" not in parsed.tables
    assert parsed.tables["table-experiments"][1][:4] == ["xgboost-sklearn-wine", "RS", "2", "running"]
    assert "No figure yet" in out.read_text()


def test_an_unknown_tag_is_an_error_naming_it(study):
    with pytest.raises(SystemExit, match="no study 'nope' under"):
        arena(["report", str(study), "--tag", "nope"])


# ------------------------------------------------------------------------------------------------------------
# in a real browser
# ------------------------------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _browser_or_skip():
    problems = []
    chromium = shutil.which("chromium") or CHROMIUM
    if not os.access(chromium, os.X_OK):
        problems.append("chromium is not installed (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problems.append("playwright is not installed (pip install -e '.[dev]')")
        sync_playwright = None
    if problems:
        message = "the browser test needs " + "; ".join(problems)
        if _in_ci():
            pytest.fail(f"{message} (CI must run it: the README's test command installs both)")
        pytest.skip(message)
    return sync_playwright, chromium


def test_the_page_in_headless_chromium_shows_every_figure_and_table_without_console_errors(page):
    sync_playwright, chromium = _browser_or_skip()
    console_errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
            tab.on("pageerror", lambda error: console_errors.append(str(error)))
            tab.on("request", lambda request: requests.append(request.url))
            tab.goto(page.as_uri(), wait_until="load")
            images = tab.evaluate("""() => Array.from(document.querySelectorAll('figure')).map(f => {
                const img = f.querySelector('img'); const box = img.getBoundingClientRect();
                return {name: f.dataset.figure, complete: img.complete, width: img.naturalWidth,
                        height: img.naturalHeight, shown: box.width > 0 && box.height > 0};
            })""")
            tables = tab.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('table')).map(
                t => [t.id, Array.from(t.tBodies[0].rows).map(
                    r => Array.from(r.cells).map(c => c.innerText))]))""")
            body = tab.inner_text("body")
        finally:
            browser.close()
    assert {image["name"] for image in images} == FIGURES
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0 and image["shown"], image
    assert [row[0] for row in tables["table-final-values"]] == list(BENCHMARKS)
    assert {(r[0], r[1], r[2]): r[3] for r in tables["table-experiments"]} == EXPECTED_STATUS
    assert CRASH_MESSAGE in body and "loading the data of trial 0" in body
    assert console_errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_a_missing_browser_skips_in_a_clone_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(outcome, match="chromium is not installed"):
        _browser_or_skip()


def test_a_mixed_study_gets_the_figures_and_tables_of_arena_plot_and_arena_table(tmp_path, capsys):
    """A study with a multi-objective benchmark: the page shows its hypervolume, Pareto-front and attainment
    figures and a final-hypervolume table (the values `arena table` prints), beside the single-objective
    benchmark's figure and table, which see only that benchmark."""
    from benchmark_definitions.registry import get_benchmark
    from launchers.experiment import ExperimentSpec, run_experiment

    root = tmp_path / "results"
    multi, single = "mo-xgboost-sklearn-wine", "xgboost-sklearn-wine"
    for benchmark, methods in ((multi, ("RS", "MOASHA")), (single, ("RS",))):
        bench = get_benchmark(benchmark)
        for method in methods:
            for seed in (0, 1):
                run_experiment(ExperimentSpec(bench, method, seed=seed, master_seed=5, tag="mixed",
                                              results_root=str(root)))
    out = tmp_path / "report.html"
    assert arena(["report", str(root), "--tag", "mixed", "--out", str(out), "--n-boot", "200"]) == 0
    parsed = _parse(out)
    assert set(parsed.figures) == {single, f"{multi}_hypervolume", f"{multi}_pareto_front", f"{multi}_attainment"}
    assert [row[0] for row in parsed.tables["table-final-values"][1:]] == [single]
    hypervolume_rows = parsed.tables["table-final-hypervolume"]
    assert hypervolume_rows[0] == ["benchmark", "MOASHA", "RS"] and hypervolume_rows[1][0] == multi
    capsys.readouterr()
    assert arena(["table", str(root), "--tag", "mixed", "--benchmark", multi, "--n-boot", "200"]) == 0
    printed = capsys.readouterr().out
    for cell in hypervolume_rows[1][1:]:  # the page's cells are `arena table`'s (bold markers aside)
        assert cell in printed.replace("**", "")
