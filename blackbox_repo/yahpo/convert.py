"""``arena convert yahpo``: YAHPO scenario folders -> repository blackboxes of kind ``"yahpo"``.

Input: a scenario folder (``model.onnx``, ``config_space.json``, ``encoding.json``; its name is the
scenario name unless ``scenario`` is given) or a ``yahpo_data`` folder holding several scenario folders
(every subfolder with a ``model.onnx`` is converted, or those named in ``scenarios``).

Output, per scenario: ``<root>/yahpo-<scenario>/`` with the three files copied unchanged (plus the
scenario's ``README.txt`` / ``LICENSE-2.0.txt`` when present) and ``metadata.json``: ``kind: "yahpo"``,
``kind_module: "blackbox_repo.yahpo"`` (importing it registers the loader), ``tasks`` = the instances,
``scenario`` (the full ``YahpoScenario``: input column orders, outputs, directions, fidelity, runtime and
whether it is cumulative), ``configuration_space`` (of one task, with conditions), ``fidelity``,
``objectives``, ``num_seeds`` and ``blackbox`` (``BlackboxMetadata``), and ``data_version`` when the
input has a ``VERSION`` file. Everything is validated (files present, scenario metadata matching the
space, the encoding and, when onnxruntime is installed, the model's input widths) before anything is
written; the repository writes atomically, so a failed conversion leaves nothing behind.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blackbox_repo.conversion.base import InputError
from blackbox_repo.search_space import closest_choices_message
from blackbox_repo.yahpo.scenarios import YahpoScenario
from blackbox_repo.yahpo.surrogate import MODEL_FILE, SCENARIO_FILES, YahpoBlackbox, YahpoModel

KIND = "yahpo"
KIND_MODULE = "blackbox_repo.yahpo"
OPTIONAL_FILES = ("README.txt", "LICENSE-2.0.txt")


class YahpoInputError(InputError):
    """The input is not a YAHPO scenario folder or data folder, or its files do not fit together."""


def blackbox_name(scenario: str) -> str:
    return f"yahpo-{scenario}"


def find_scenario_folders(input_path: str | os.PathLike[str],
                          scenarios: Sequence[str] | None = None) -> dict[str, Path]:
    """``{scenario name: folder}`` of a scenario folder or of a data folder holding scenario folders."""
    path = Path(input_path).expanduser()
    if not path.is_dir():
        raise YahpoInputError(f"YAHPO input not found or not a folder: {path} (give a yahpo_data folder or one "
                              f"scenario folder holding {list(SCENARIO_FILES)})")
    if (path / MODEL_FILE).is_file():
        found = {path.name: path}
    else:
        found = {p.name: p for p in sorted(path.iterdir()) if p.is_dir() and (p / MODEL_FILE).is_file()}
        if not found:
            raise YahpoInputError(f"{path} holds no YAHPO scenario: no {MODEL_FILE} in it or in its subfolders")
    if scenarios is not None:
        if len(found) == 1 and len(scenarios) == 1 and (path / MODEL_FILE).is_file():
            return {scenarios[0]: path}  # one folder converted under an explicit scenario name
        missing = [s for s in scenarios if s not in found]
        if missing:
            raise YahpoInputError(f"scenario folder(s) {missing} not found in {path} (found: {sorted(found)})")
        found = {s: found[s] for s in scenarios}
    return found


def _check_model(model: YahpoModel) -> None:
    try:
        model.session  # noqa: B018 - opening the session checks the graph's input/output widths
    except ImportError:
        pass  # without onnxruntime the graph is checked when the blackbox is first evaluated
    except ValueError as err:
        raise YahpoInputError(str(err)) from None
    except Exception as err:  # noqa: BLE001 - onnxruntime's own exception types for unreadable models
        raise YahpoInputError(f"{model.model_path} is not a readable ONNX model: {err}") from None


def scenario_metadata(model: YahpoModel, data_version: str | None = None,
                      tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``metadata.json`` fields of a converted scenario (besides those the repository adds)."""
    if tasks is None:
        tasks = model.instances
    else:
        unknown = [t for t in tasks if t not in model.instances]
        if unknown:
            raise YahpoInputError("; ".join(
                closest_choices_message(f"instance of {model.name}", t, model.instances) for t in unknown))
        tasks = list(tasks)
    example: YahpoBlackbox = YahpoBlackbox(model, tasks[0])
    meta: dict[str, Any] = {
        "kind": KIND,
        "kind_module": KIND_MODULE,
        "tasks": tasks,
        "scenario": model.scenario.to_dict(),
        "configuration_space": example.configuration_space.to_dict(),
        "fidelity": {"name": example.fidelity_name, "values": example.fidelity_values.tolist()},
        "objectives": list(example.objectives_names),
        "num_seeds": 1,
        "blackbox": example.metadata.to_dict(),
    }
    if data_version:
        meta["data_version"] = data_version
    return meta


def convert_yahpo(
    input_path: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    *,
    scenarios: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    name: str | None = None,
    scenario_metadata_override: Mapping[str, YahpoScenario] | None = None,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Convert YAHPO scenario folder(s) into ``out_root``; returns the written blackbox locations.

    ``tasks`` keeps only those instances (one scenario only); ``name`` replaces ``yahpo-<scenario>`` (one
    scenario only). ``scenario_metadata_override`` describes scenarios this package does not know
    ({name: YahpoScenario}). All scenarios are validated before the first one is written.
    """
    from blackbox_repo.repository import serialize_files

    folders = find_scenario_folders(input_path, scenarios)
    if (tasks is not None or name is not None) and len(folders) != 1:
        raise YahpoInputError(f"--task/--name apply to one scenario, but {sorted(folders)} were found; pick one "
                              "scenario folder as input")
    overrides = dict(scenario_metadata_override or {})
    root = Path(input_path).expanduser()
    version_file = root / "VERSION" if (root / "VERSION").is_file() else root.parent / "VERSION"
    data_version = version_file.read_text().strip() if version_file.is_file() else None
    prepared = []
    for scenario, folder in folders.items():
        try:
            model = YahpoModel(folder, overrides.get(scenario, scenario))
        except (FileNotFoundError, KeyError, ValueError, TypeError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise YahpoInputError(f"{folder}: {message}") from None
        _check_model(model)
        meta = scenario_metadata(model, data_version, tasks)
        files = {f: folder / f for f in SCENARIO_FILES}
        files.update({f: folder / f for f in OPTIONAL_FILES if (folder / f).is_file()})
        prepared.append((name or blackbox_name(scenario), meta, files))
    return [serialize_files(out_root, bb_name, meta, files, overwrite=overwrite, storage_options=storage_options)
            for bb_name, meta, files in prepared]


def load_yahpo(directory: Path, metadata: dict) -> dict[str, YahpoBlackbox]:
    """Repository loader of kind ``"yahpo"``: ``{task: YahpoBlackbox}`` for ``metadata["tasks"]``."""
    scenario = YahpoScenario.from_dict(metadata["scenario"])
    model = YahpoModel(directory, scenario)
    fidelity = metadata.get("fidelity") or {}
    return {task: YahpoBlackbox(model, task, fidelity_values=fidelity.get("values")) for task in metadata["tasks"]}
