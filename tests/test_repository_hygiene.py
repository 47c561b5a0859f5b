"""Checks on the repository itself (issue 12, points 16 and 17).

- no file of the project points to a path of one machine (a home folder, a shared mount) for its semantics or
  its defaults: the project's own docs say what the semantics are, and tools take paths from options or the
  environment;
- the import rules of ARCHITECTURE.md hold (``baselines`` imports neither ``results`` nor ``launchers`` nor
  ``plotting``; nothing but ``launchers`` imports ``launchers``), and the HyperDrive run queries exist once, in
  ``results/hyperdrive_queries.py``;
- every dependency extra named in pyproject.toml exists in the installed distribution (``s3fs[boto3]`` no
  longer does).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("blackbox_repo", "baselines", "benchmark_definitions", "launchers", "results", "plotting")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".txt"}
# Built from pieces so that this file does not match itself.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(" + "|".join(["wo" + "rk", "ho" + "me", "Us" + "ers", "ro" + "ot"]) + r")/")


def _project_files() -> list[Path]:
    files = [p for p in REPO.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return [p for p in files if not any(part.startswith(".") or part == "__pycache__"
                                        for part in p.relative_to(REPO).parts)]


def test_no_file_points_to_a_path_of_one_machine():
    offenders = []
    for path in _project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "absolute paths of one machine:\n" + "\n".join(offenders)


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


def test_import_rules_of_the_architecture_hold():
    forbidden = {
        "blackbox_repo": {"baselines", "benchmark_definitions", "launchers", "results", "plotting"},
        "baselines": {"benchmark_definitions", "launchers", "results", "plotting"},
        "benchmark_definitions": {"launchers", "results", "plotting"},
        "results": {"launchers"},
        "plotting": {"launchers"},
    }
    violations = []
    for package, banned in forbidden.items():
        for path in sorted((REPO / package).rglob("*.py")):
            bad = _imported_packages(path) & banned
            if bad:
                violations.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_hyperdrive_run_queries_have_one_implementation():
    defining = sorted(
        str(path.relative_to(REPO))
        for package in PACKAGES for path in (REPO / package).rglob("*.py")
        if re.search(r"def get_best_run_by_primary_metric\b", path.read_text(encoding="utf-8"))
    )
    assert defining == ["results/hyperdrive_queries.py"]
    import baselines.hyperdrive as facade

    assert not hasattr(facade, "HyperDriveRun") and not hasattr(facade, "ChildRun")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_extra_exists():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"],
                    *(r for extra in project["optional-dependencies"].values() for r in extra)]
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        if not requirement.extras:
            continue
        try:
            provided = set(importlib.metadata.metadata(requirement.name).get_all("Provides-Extra") or [])
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here: nothing to compare with
        absent = {e for e in requirement.extras if _normalise(e) not in {_normalise(p) for p in provided}}
        if absent:
            missing.append(f"{text}: {requirement.name} has no extra {sorted(absent)}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("stale", ["2.8e-3"])
def test_yahpo_batching_figure_is_the_measured_one(stale):
    text = (REPO / "blackbox_repo" / "yahpo" / "surrogate.py").read_text(encoding="utf-8")
    assert stale not in text and "4.2e-3" in text


def test_ci_runs_exactly_the_readme_test_command():
    # The README promises that its second command is what CI runs; a step added to one and not the other would
    # make CI pass on a machine that a user's copy of the command does not prepare (or the other way round).
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    test_commands = [b.strip() for b in blocks if "pytest" in b and "\n" not in b.strip()]
    assert len(test_commands) == 1, f"expected one single-line README command running pytest, found {test_commands}"
    ci_lines = [ln for ln in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci_lines[-1].strip() == test_commands[0]
