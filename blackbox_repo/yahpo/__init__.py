"""YAHPO Gym surrogate benchmarks (ONNX models) as blackboxes.

``YahpoModel`` / ``YahpoBlackbox`` / ``load_scenario`` evaluate a scenario folder (``model.onnx``,
``config_space.json``, ``encoding.json``); ``convert_yahpo`` stores scenarios in a repository as kind
``"yahpo"``. Importing this package registers that kind with ``blackbox_repo.repository`` (stored
metadata names this module in ``kind_module``, so ``load_blackbox`` imports it by itself).
onnxruntime is needed only when a model is evaluated.
"""
from blackbox_repo.repository import register_kind
from blackbox_repo.yahpo.config_space import ConditionalSearchSpace, parse_config_space, read_config_space
from blackbox_repo.yahpo.convert import (
    KIND,
    YahpoInputError,
    convert_yahpo,
    find_scenario_folders,
    load_yahpo,
)
from blackbox_repo.yahpo.scenarios import SCENARIOS, YahpoScenario, get_scenario
from blackbox_repo.yahpo.surrogate import BATCHING_CONVENTION, YahpoBlackbox, YahpoModel, load_scenario

register_kind(KIND, load_yahpo)

__all__ = [
    "BATCHING_CONVENTION", "KIND", "SCENARIOS", "ConditionalSearchSpace", "YahpoBlackbox", "YahpoInputError",
    "YahpoModel", "YahpoScenario", "convert_yahpo", "find_scenario_folders", "get_scenario", "load_scenario",
    "load_yahpo", "parse_config_space", "read_config_space",
]
