"""The documentation site's commands and code run as written, so the pages cannot rot.

Each page of ``launchers/docs`` is run in a fresh folder, its fenced blocks in order:

- a block with a title (```` ```python title="my_method.py" ````) is a file: it is written to that path;
- a ``bash`` block runs in ``bash -euo pipefail`` with ``arena`` being this checkout's command line;
- a ``python`` block is executed in one namespace per page (the reader's Python session), in that folder;
- other blocks (``text``, ``yaml`` without a title, generated help) are shown only.

A block that must not run (it installs the package, or submits jobs to a cluster or a cloud) says so with
``<!-- norun: REASON -->`` on the line before its fence; such blocks are rare (``MAX_NORUN``), each page
shows a local stand-in of what it cannot run, and every marker needs a reason. Each test then checks what the
page promises the reader gets. The site itself builds with ``mkdocs build --strict`` (``test_site_builds``).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "launchers" / "docs"
TUTORIALS = DOCS / "tutorials"
SHARED_DATA = REPO / ".." / "shared" / "data"
FENCE_OPEN = re.compile(r"^```(\w+)(.*)$")
NORUN = re.compile(r"^<!-- norun: (\S.*\S) -->$")
TITLE = re.compile(r'title="([^"]+)"')
MAX_NORUN = 6  # across the whole site: blocks shown but never run must stay the exception


@dataclass
class Block:
    language: str
    title: str | None  # a file's path relative to the page's folder
    body: str
    norun: str | None  # the reason a block is not run, None: it runs
    line: int


@dataclass
class BlockRun:
    block: Block
    stdout: str
    stderr: str = ""


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, in order."""
    lines = page.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{page.name}:{start + 1}: unclosed code block"
        title = TITLE.search(match.group(2))
        norun = NORUN.match(lines[start - 1]) if start else None
        out.append(Block(match.group(1), title.group(1) if title else None, "\n".join(body) + "\n",
                         norun.group(1) if norun else None, start + 1))
        i += 1
    return out


def page_environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_ARENA_RESULTS", "HPO_ARENA_HYDRA",
                                                                      "HPO_ARENA_CONFIG_DIR", "HPO_ARENA_SWEEP",
                                                                      "HPO_ARENA_REPOSITORY"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), str(REPO), env.get("PYTHONPATH")) if p)
    env["MPLBACKEND"] = "Agg"
    # a private repository: pages that convert data write there, never into the user's cache
    env["HPO_ARENA_REPOSITORY"] = str(folder / ".repository")
    return env


def run_page(page: Path, folder: Path, monkeypatch: pytest.MonkeyPatch | None = None,
             extra_env: dict[str, str] | None = None) -> list[BlockRun]:
    """Run every block of ``page`` in ``folder`` (see the module docstring); the runs of the executed blocks."""
    env = page_environment(folder) | (extra_env or {})
    prelude = f'arena() {{ "{sys.executable}" -m launchers.cli "$@"; }}\nset -euo pipefail\n'
    namespace: dict = {"__name__": "__main__"}
    done = []
    for block in blocks(page):
        where = f"{page.relative_to(DOCS)}:{block.line}"
        if block.norun:
            continue
        if block.title:
            path = folder / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body)
        elif block.language == "bash":
            proc = subprocess.run(["bash", "-c", prelude + block.body], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=600, check=False)
            assert proc.returncode == 0, f"{where}: block failed:\n{block.body}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            done.append(BlockRun(block, proc.stdout, proc.stderr))
        elif block.language == "python":
            assert monkeypatch is not None, f"{where}: a page with Python blocks needs the monkeypatch fixture"
            for key in list(os.environ):
                if key not in env:
                    monkeypatch.delenv(key)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            monkeypatch.chdir(folder)
            monkeypatch.syspath_prepend(str(folder))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(block.body, where, "exec"), namespace)  # noqa: S102 - the page's own code
                except Exception as error:
                    raise AssertionError(f"{where}: block failed:\n{block.body}\n{out.getvalue()[-3000:]}") from error
            done.append(BlockRun(block, out.getvalue()))
    return done


def of_language(runs: list[BlockRun], language: str) -> list[BlockRun]:
    return [run for run in runs if run.block.language == language]


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md"))


# ---------------------------------------------------------------------------------------------------------
# the site as a whole
# ---------------------------------------------------------------------------------------------------------


def test_norun_blocks_are_rare_and_justified():
    norun = [(page.name, block) for page in pages() for block in blocks(page) if block.norun]
    assert len(norun) <= MAX_NORUN, [f"{name}:{b.line} {b.norun}" for name, b in norun]
    for name, block in norun:
        assert len(block.norun.split()) >= 4, f"{name}:{block.line}: say why the block cannot run"
        assert block.language in ("bash", "python"), f"{name}:{block.line}: only code blocks run"
    # a norun marker that is not directly above a fence would silently do nothing
    for page in pages():
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            if NORUN.match(line):
                assert i + 1 < len(lines) and FENCE_OPEN.match(lines[i + 1]), f"{page.name}:{i + 1}: misplaced"


def test_every_page_with_code_has_a_test():
    tested = {path for path, _ in PAGE_TESTS} | {"tutorials/own-method.md"}
    for page in pages():
        runnable = [b for b in blocks(page) if b.language in ("bash", "python") and not b.norun and not b.title]
        if runnable:
            assert str(page.relative_to(DOCS)) in tested, f"{page.relative_to(DOCS)} runs code but no test runs it"


def test_site_builds(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra builds the site: pip install 'hpo-arena[docs]'")
    pytest.importorskip("mkdocstrings", reason="the docs extra builds the site: pip install 'hpo-arena[docs]'")
    env = page_environment(tmp_path)
    env["NO_MKDOCS_2_WARNING"] = "1"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "launchers" / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    site = tmp_path / "site"
    for page in pages():
        html = site / page.relative_to(DOCS).with_suffix(".html")
        assert html.is_file(), f"{page} was not built"
    cli = (site / "cli.html").read_text()
    assert "usage: arena data get" in cli and "--mirror URL" in cli and "usage: arena results check" in cli
    from baselines.registry import list_methods

    methods = (site / "methods.html").read_text()
    for name in list_methods():
        assert f"<code>{name}</code>" in methods, name
    assert "class ComparativeResults" in (site / "reference" / "results.html").read_text() or \
        "ComparativeResults" in (site / "reference" / "results.html").read_text()
    assert "<!-- arena-" not in cli  # every marker was expanded
    # nothing points outside the site: no web fonts, no CDN scripts
    index = (site / "index.html").read_text()
    assert "fonts.googleapis.com" not in index and "cdn.jsdelivr" not in index


def test_cli_page_documents_every_command():
    from launchers.docs_hooks import command_parsers

    text = (DOCS / "cli.md").read_text()
    documented = set(re.findall(r"^<!-- arena-help: ([^>]*?) -->$", text, re.MULTILINE))
    parsers = command_parsers()
    for words in parsers:
        is_group = any(other[:len(words)] == words and other != words for other in parsers)
        if words and words != ("sweep",) and not is_group:
            assert " ".join(words) in documented, f"`arena {' '.join(words)}` has no section on cli.md"
    assert "<!-- arena-sweep-config -->" in text


def test_markers_name_real_commands():
    from launchers.docs_hooks import DocsMarkerError, expand_markers

    text = expand_markers("<!-- arena-help: results check -->", "p.md")
    assert text.startswith("```text\n$ arena results check --help\nusage: arena results check")
    with pytest.raises(DocsMarkerError, match="p.md: no command `arena results chek`"):
        expand_markers("<!-- arena-help: results chek -->", "p.md")


# ---------------------------------------------------------------------------------------------------------
# every page's code, and what it promises
# ---------------------------------------------------------------------------------------------------------


def check_getting_started(runs: list[BlockRun], folder: Path) -> None:
    sweep, table = of_language(runs, "bash")[:2]
    assert "(12 of 12 done)" in sweep.stdout
    assert "xgboost-sklearn-wine" in table.stdout and "ASHA" in table.stdout.splitlines()[0]
    assert (folder / "figures" / "normalised_regret.png").is_file()
    (python,) = of_language(runs, "python")
    assert "ASHA" in python.stdout and "RS" in python.stdout


def check_cli(runs: list[BlockRun], folder: Path) -> None:
    (sweep, refused, blackboxes, data, convert, benchmarks, check_method, results, table, multi_objective,
     _report) = of_language(runs, "bash")
    assert "(6 of 6 done)" in sweep.stdout
    assert "method.grace_period" in refused.stderr + refused.stdout and not (folder / "arena-results" / "typo").exists()
    assert "xgboost-sklearn" in blackboxes.stdout and "val_error     0.611111" in blackboxes.stdout
    assert "lcbench" in data.stdout and "md5 26c8493006358a15ce12041c0bfc12a2" in data.stdout
    assert "my-runs" in convert.stdout and "epoch" in convert.stdout
    assert "xgboost-sklearn-wine" in benchmarks.stdout and "arena data get" in benchmarks.stdout
    assert "all rules hold" in check_method.stdout
    assert "every setup has its runs" in results.stdout
    assert (folder / "copy-of-results" / "cli-demo" / "xgboost-sklearn-wine" / "ASHA" / "2" / "results.parquet").is_file()
    assert "\\begin{tabular}" in table.stdout and "xgboost-sklearn-wine" in table.stdout
    assert "(4 of 4 done)" in multi_objective.stdout
    assert (folder / "mo-figures" / "mo-xgboost-sklearn-wine_pareto_front.png").is_file()
    assert (folder / "mo-figures" / "mo-xgboost-sklearn-wine_attainment.png").is_file()
    assert "hypervolume" in multi_objective.stdout and "| mo-xgboost-sklearn-wine |" in multi_objective.stdout
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "cli-demo" in page and "complete" in page and "data:image/png;base64," in page


def check_hyperdrive(runs: list[BlockRun], folder: Path) -> None:
    bandit, queries, grid, queries_stored = of_language(runs, "python")
    statuses = [line.split()[1] for line in bandit.stdout.splitlines()[1:]]
    assert len(statuses) == 8 and "stopped" in statuses and "completed" in statuses  # the policy cancelled some
    assert "best run:" in queries.stdout and "Completed" in queries.stdout
    grid_lines = grid.stdout.splitlines()
    assert len(grid_lines) == 4 and "'learning_rate': 0.03" in grid_lines[0]  # sorted best first
    (study,) = of_language(runs, "bash")
    assert "| benchmark | BANDIT | MEDIAN-STOPPING | RS |" in study.stdout
    assert "256 trials: {'stopped': 255, 'completed': 1}" in queries_stored.stdout


def check_determined(runs: list[BlockRun], folder: Path) -> None:
    layout, trials, = of_language(runs, "python")
    assert layout.stdout.splitlines() == ["bracket 0: rungs at epochs [1, 3, 9], 8 trials, 2 at once",
                                          "bracket 1: rungs at epochs [3, 9], 4 trials, 2 at once"]
    rows = [line.split() for line in trials.stdout.splitlines()[2:]]
    assert len(rows) == 12
    finished = [row for row in rows if row[1] == "completed"]
    assert finished and all(row[2] == "9" for row in finished)  # promoted trials resumed up to 9 epochs
    assert {row[2] for row in rows if row[1] == "paused"} <= {"1", "3"}
    (study,) = of_language(runs, "bash")
    assert "| benchmark | ADAPTIVE-ASHA | ASHA |" in study.stdout
    assert (folder / "figures" / "normalised_regret.pdf").is_file()


def check_index(runs: list[BlockRun], folder: Path) -> None:
    (study,) = of_language(runs, "bash")
    assert "(6 of 6 done)" in study.stdout and "| benchmark | ASHA | RS |" in study.stdout


def check_concepts(runs: list[BlockRun], folder: Path) -> None:
    space, benchmark, _sweep, experiment = runs
    assert "LogUniform" in space.stdout and "boosting_round 64" in space.stdout
    assert benchmark.stdout.split() == ["xgboost-sklearn", "wine", "val_error", "min", "0.16", "4"]
    assert experiment.stdout.startswith("val_error min ") and "'completed'" in experiment.stdout


def check_add_data(runs: list[BlockRun], folder: Path) -> None:
    get, sweep, copy, convert = of_language(runs, "bash")
    assert "XGBoost.csv.zip: downloaded; checked" in get.stdout and "sha256" in get.stdout
    assert "10 benchmarks, 10 with data here" in get.stdout
    assert "(2 of 2 done)" in sweep.stdout
    assert "icml-xgboost" in copy.stdout and (folder / "shared-repo" / "icml-xgboost" / "metadata.json").is_file()
    assert "val_error  0.25" in convert.stdout and "seconds    30.9" in convert.stdout


def check_add_benchmark(runs: list[BlockRun], folder: Path) -> None:
    _convert, study, _refused = of_language(runs, "bash")
    assert "my-runs" in study.stdout and "bowl" in study.stdout and "(8 of 8 done)" in study.stdout
    assert "| benchmark | ASHA | RS |" in study.stdout
    assert not (folder / "conf" / "benchmark" / "typo.yaml").exists()


def check_add_method(runs: list[BlockRun], folder: Path) -> None:
    check_and_sweep, named = of_language(runs, "bash")
    assert "all rules hold" in check_and_sweep.stdout and "(8 of 8 done)" in check_and_sweep.stdout
    assert "| benchmark | NEAREST | RS | my_searcher-NearestToBest |" in named.stdout
    meta = (folder / "arena-results" / "searcher" / "synthetic-branin" / "my_searcher-NearestToBest" / "0"
            / "metadata.json").read_text()
    assert '"method_target": "my_searcher:NearestToBest"' in meta
    (python,) = of_language(runs, "python")
    assert 0.0 <= float(python.stdout) < 0.2


def check_launchers(runs: list[BlockRun], folder: Path) -> None:
    same_results, _submitit, pulled, real, watch = of_language(runs, "bash")
    assert "(4 of 4 done)" in same_results.stdout  # cmp found the basic and joblib files identical
    assert any((folder / "arena-outputs" / "submitit").rglob(".submitit"))
    assert (folder / "arena-results" / "submitit" / "xgboost-sklearn-wine" / "ASHA" / "0" / "results.parquet").is_file()
    assert "4 experiment(s) pulled" in pulled.stdout and "every setup has its runs" in pulled.stdout
    assert "every setup has its runs" in real.stdout
    assert "trial_" in watch.stdout or "events.out.tfevents" in watch.stdout  # TensorBoard files of real training
    assert "real-logreg" in (folder / "real-report.html").read_text(encoding="utf-8")


def check_statistics(runs: list[BlockRun], folder: Path) -> None:
    (python,) = runs
    # 15 values: floor(15/4) = 3 cut from each end, the mean of the 9 in the middle
    assert "IQM over all 15 values: 0.1411" in python.stdout


def check_syne_tune_study(runs: list[BlockRun], folder: Path) -> None:
    convert, study, figure = of_language(runs, "bash")
    assert "3 task(s) (adult, airlines, Fashion-MNIST), 2000 configurations" in convert.stdout
    assert "3 benchmarks, 3 with data here" in convert.stdout
    assert "(27 of 27 done)" in study.stdout and "every setup has its runs" in study.stdout
    assert "\\begin{tabular}" in figure.stdout
    for name in ("normalised_regret", "benchmark_grid", "average_rank", "lcbench-ce-adult"):
        assert (folder / "figures" / f"{name}.pdf").is_file()
    comparison, paper = of_language(runs, "python")
    assert "['lcbench-ce-Fashion-MNIST', 'lcbench-ce-adult', 'lcbench-ce-airlines']" in comparison.stdout
    assert (folder / "adult.pdf").is_file() and (folder / "figures" / "my-regret.pdf").is_file()
    final = {line.split()[0]: float(line.split()[1]) for line in paper.stdout.splitlines()[2:]}
    assert set(final) == {"RS", "ASHA", "BOHB"} and all(0 <= v <= 1 for v in final.values())


PAGE_TESTS = [
    ("index.md", check_index),
    ("getting-started.md", check_getting_started),
    ("concepts.md", check_concepts),
    ("cli.md", check_cli),
    ("statistics.md", check_statistics),
    ("guides/add-data.md", check_add_data),
    ("guides/add-benchmark.md", check_add_benchmark),
    ("guides/add-method.md", check_add_method),
    ("launchers.md", check_launchers),
    ("tutorials/hyperdrive.md", check_hyperdrive),
    ("tutorials/determined-asha.md", check_determined),
    ("tutorials/syne-tune-study.md", check_syne_tune_study),
]


# Pages that start from files the reader has (upstream data): the test puts the real files there.
STAGED = {
    "guides/add-data.md": {"mirror": SHARED_DATA / "icml2020"},
    "tutorials/syne-tune-study.md": {"lcbench_curves": SHARED_DATA / "lcbench_curves"},
}


# pages running several studies or real training (10-40 s of CPU each) are marked slow; CI runs them all
SLOW_PAGES = {"cli.md", "launchers.md", "tutorials/hyperdrive.md", "tutorials/determined-asha.md",
              "tutorials/syne-tune-study.md"}


@pytest.mark.parametrize("path, check", [
    pytest.param(path, check, id=path, marks=[pytest.mark.slow] if path in SLOW_PAGES else [])
    for path, check in PAGE_TESTS
])
def test_page_runs(path, check, tmp_path, monkeypatch):
    for name, source in STAGED.get(path, {}).items():
        if not source.is_dir():
            pytest.skip(f"the page starts from real upstream files, not available at {source}")
        (tmp_path / name).symlink_to(source.resolve(), target_is_directory=True)
    # downloads go to a private cache, so that the page really fetches its files
    extra_env = {"HPO_ARENA_CACHE": str(tmp_path / ".cache")} if path == "guides/add-data.md" else None
    check(run_page(DOCS / path, tmp_path, monkeypatch, extra_env), tmp_path)


@pytest.mark.slow
def test_own_method_tutorial(tmp_path, monkeypatch):
    pytest.importorskip("optuna", reason="the tutorial compares against OPTUNA-TPE: pip install 'hpo-arena[optuna]'")
    page = TUTORIALS / "own-method.md"
    runs = run_page(page, tmp_path, monkeypatch)
    check, check_named, sweep, table, _plot = (run.stdout for run in of_language(runs, "bash"))
    assert "all rules hold" in check and "all rules hold" in check_named
    assert "(24 of 24 done)" in sweep
    header = table.splitlines()[0]
    for method in ("ASHA", "BO", "OPTUNA-TPE", "my_method-LocalSearch"):
        assert method in header
    for benchmark in ("breast_cancer", "wine", "diabetes"):
        assert f"xgboost-sklearn-{benchmark}" in table
        assert (tmp_path / "figures" / f"xgboost-sklearn-{benchmark}.pdf").is_file()
    meta = (tmp_path / "arena-results" / "tutorial" / "xgboost-sklearn-wine" / "my_method-LocalSearch" / "1"
            / "metadata.json").read_text()
    assert '"method_target": "my_method:LocalSearch"' in meta
