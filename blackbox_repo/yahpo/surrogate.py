"""YAHPO Gym surrogates evaluated with onnxruntime, exactly as ``yahpo_gym`` does.

A scenario folder holds ``model.onnx``, ``config_space.json`` and ``encoding.json`` (FORMATS §1.4).
``YahpoModel`` is one scenario (one shared onnxruntime session); ``YahpoBlackbox`` is one instance
(task) of it, a ``Blackbox`` whose tasks are the scenario's instances (OpenML task/dataset ids).

Encoding (``yahpo_gym`` 1.0.2 ``BenchmarkSet.objective_function``):

* inactive hyperparameters (conditions of ``config_space.json``) are dropped, then the instance id, the
  fidelity and the held-fixed fidelity parameters (rbv2 ``repl``) are set;
* ``x_cat`` (int32): for each name of the scenario's ``cat_names``, the code of the value's level string in
  ``encoding.json``; an absent or inactive value gets ``"#na#"``, code 0;
* ``x_cont`` (float32): the raw values in ``cont_names`` order, an absent or inactive value gets 0;
* the first graph output, row by row, in ``y_names`` order. No transform in Python: the graph scales
  its inputs and maps its sigmoid outputs back to the targets' units itself.

Batching convention (results are bit-reproducible for it):
onnxruntime's float32 kernels give results that depend, by one float32 ulp of the model's sigmoid
output, on how many rows a ``session.run`` holds (differences up to 4.2e-3 were seen on lcbench ``time``,
whose values reach ~5e4 s, where one float32 step is 3.9e-3).
So every configuration is computed in its own ``session.run``, whatever the size of the batch it came in:

* ``fidelity=None`` (whole curve): ONE run of F rows, one per value of ``fidelity_values`` in order. This
  equals ``yahpo_gym``'s ``objective_function([config at each fidelity])`` (the list call Syne Tune made for
  curves);
* a single fidelity: ONE run of one row, equal to ``objective_function(config)`` for a dict.

``evaluate_batch(configs)[i]`` is therefore bit-identical to ``evaluate(configs[i])``, independent of
the other configurations. A single-fidelity value may differ from the same entry of the whole curve by
that one ulp; pass ``curve_consistent=True`` to read single tabulated fidelities from the whole-curve run
instead (then ``evaluate(c, f) == evaluate(c)[fidelity_index(f)]`` exactly, at the cost of F rows).

Fidelities: ``fidelity_values`` (see ``blackbox_repo.yahpo.scenarios``) is the grid a simulator steps
through, but any value inside the fidelity parameter's range can be evaluated (an integer one for
``epoch``). Time: ``metadata.time_objective`` is the scenario's ``runtime_name``; lcbench ``time`` is
cumulative (``time_is_cumulative=True``), rbv2/iaml ``timetrain`` is the cost of one training run at that
trainsize and is NOT cumulative (``time_is_cumulative=False``: a simulator charges each reported fidelity
step its own value). ``metadata.extra["time_semantics"]`` spells this out.

onnxruntime is an optional dependency (``pip install hpo-arena[yahpo]``), imported on first use.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackbox_repo.blackbox import Blackbox, BlackboxLookupError, BlackboxMetadata, Config
from blackbox_repo.search_space import Integer, LogUniform, Uniform, closest_choices_message
from blackbox_repo.yahpo.config_space import ConditionalSearchSpace, read_config_space
from blackbox_repo.yahpo.scenarios import NA_LEVEL, YahpoScenario, get_scenario

MODEL_FILE = "model.onnx"
CONFIG_SPACE_FILE = "config_space.json"
ENCODING_FILE = "encoding.json"
SCENARIO_FILES = (MODEL_FILE, CONFIG_SPACE_FILE, ENCODING_FILE)

BATCHING_CONVENTION = (
    "one onnxruntime session.run per configuration: its whole curve (fidelity_values order) as one run of F "
    "rows, or one row for a single fidelity; results do not depend on the other configurations of a batch"
)

_INSTALL_HINT = "YAHPO surrogates need onnxruntime: pip install hpo-arena[yahpo]  (or: pip install onnxruntime)"


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return onnxruntime


# One session per model file, shared by every blackbox (instance) of the scenario.
_SESSIONS: dict[tuple[str, int, int], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def get_session(model_path: str | Path) -> Any:
    """The shared CPU ``InferenceSession`` of a model file (1 intra-op and 1 inter-op thread)."""
    path = Path(model_path).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"no ONNX model at {path}") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)  # a replaced file gets a new session
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            ort = _onnxruntime()
            options = ort.SessionOptions()
            # One thread each: deterministic and no oversubscription when many simulations run in parallel.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            _SESSIONS[key] = session
    return session


def _static_width(shape: Sequence[Any]) -> int | None:
    return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None


class YahpoModel:
    """One YAHPO scenario: its ONNX model, encoding, full configuration space and metadata."""

    def __init__(self, directory: str | Path, scenario: YahpoScenario | str | None = None):
        self.directory = Path(directory)
        missing = [f for f in SCENARIO_FILES if not (self.directory / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.directory} is not a YAHPO scenario folder: missing {missing} "
                f"(a scenario folder holds {list(SCENARIO_FILES)})"
            )
        if scenario is None:
            scenario = self.directory.name
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.model_path = self.directory / MODEL_FILE
        self.full_space: ConditionalSearchSpace = read_config_space(self.directory / CONFIG_SPACE_FILE)
        try:
            self.encoding: dict[str, dict[str, int]] = json.loads((self.directory / ENCODING_FILE).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{self.directory / ENCODING_FILE} is not valid JSON: {err}") from None
        self._check_consistency()

    def _check_consistency(self) -> None:
        sc, where = self.scenario, self.directory
        for name in self.cat_input_names:
            if name not in self.encoding:
                raise ValueError(f"{where}/{ENCODING_FILE} has no codes for categorical input {name!r} "
                                 f"of scenario {sc.name} (it has {sorted(self.encoding)})")
            if self.encoding[name].get(NA_LEVEL) != 0:
                raise ValueError(f"{where}/{ENCODING_FILE}: {name!r} must code {NA_LEVEL!r} as 0")
        space_names = set(self.full_space.names)
        needed = [n for n in self.cat_input_names + sc.cont_names if n not in space_names]
        if needed:
            raise ValueError(
                f"{where}/{CONFIG_SPACE_FILE} lacks model inputs {needed} of scenario {sc.name}; is this folder "
                f"really scenario {sc.name!r}?"
            )
        fid_dom = self.full_space[sc.fidelity_name]
        if not isinstance(fid_dom, (Integer, Uniform, LogUniform)):
            raise TypeError(f"fidelity {sc.fidelity_name!r} of {sc.name} must be numeric, got {fid_dom!r}")

    # --- names -------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def cat_input_names(self) -> tuple[str, ...]:
        return tuple(n for n in self.scenario.cat_names if n not in self.scenario.drop_predict)

    @property
    def instances(self) -> list[str]:
        """The scenario's instances (tasks), as the strings YAHPO uses."""
        param = self.scenario.instance_param
        if param is None:
            return list(self.scenario.default_instances)
        return [str(v) for v in self.full_space[param].values()]

    # --- model -------------------------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        session = get_session(self.model_path)
        if not getattr(self, "_checked_graph", False):
            self._check_graph(session)
            self._checked_graph = True
        return session

    def _check_graph(self, session: Any) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 2 or not outputs:
            raise ValueError(f"{self.model_path}: expected 2 inputs (x_cat, x_cont) and an output, got "
                             f"{[i.name for i in inputs]} -> {[o.name for o in outputs]}")
        for inp, width, label in ((inputs[0], len(self.cat_input_names), "x_cat"),
                                  (inputs[1], len(self.scenario.cont_names), "x_cont")):
            got = _static_width(inp.shape)
            if got is not None and got != width:
                raise ValueError(
                    f"{self.model_path}: input {inp.name!r} has {got} columns but scenario {self.name} lists "
                    f"{width} {label} names; the scenario metadata does not match this model"
                )
        got = _static_width(outputs[0].shape)
        if got is not None and got != len(self.scenario.y_names):
            raise ValueError(f"{self.model_path}: output has {got} columns, scenario {self.name} names "
                             f"{len(self.scenario.y_names)} targets {list(self.scenario.y_names)}")
        self._input_names = (inputs[0].name, inputs[1].name)
        self._output_name = outputs[0].name

    def run(self, x_cat: np.ndarray, x_cont: np.ndarray) -> np.ndarray:
        """One ``session.run`` on already encoded rows: (n, n_cat) int32, (n, n_cont) float32 -> (n, n_y)."""
        session = self.session
        return session.run([self._output_name], {self._input_names[0]: x_cat, self._input_names[1]: x_cont})[0]

    def blackboxes(self, **kwargs: Any) -> dict[str, YahpoBlackbox]:
        """One blackbox per instance, ``{instance: YahpoBlackbox}`` (keyword arguments as for YahpoBlackbox)."""
        return {task: YahpoBlackbox(self, task, **kwargs) for task in self.instances}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_checked_graph", None)  # the session is re-created (and re-checked) in the new process
        return state

    def __repr__(self) -> str:
        return f"YahpoModel({self.name!r}, {self.directory}, {len(self.instances)} instances)"


def load_scenario(directory: str | Path, scenario: YahpoScenario | str | None = None,
                  **kwargs: Any) -> dict[str, YahpoBlackbox]:
    """``{instance: YahpoBlackbox}`` for a scenario folder (scenario name: the folder's name by default)."""
    return YahpoModel(directory, scenario).blackboxes(**kwargs)


class YahpoBlackbox(Blackbox):
    """One instance (task) of a YAHPO scenario.

    ``configuration_space`` is the scenario's space without the instance, fidelity and held-fixed
    parameters, with its conditions (a ``ConditionalSearchSpace``). ``constants`` overrides held-fixed
    fidelity parameters (``{"repl": 5}`` for rbv2). ``check=True`` refuses values outside their domains
    and missing active hyperparameters (``yahpo_gym`` with ``check=False`` would extrapolate silently).
    """

    def __init__(
        self,
        model: YahpoModel,
        task: str,
        fidelity_values: Sequence[float] | None = None,
        constants: Mapping[str, Any] | None = None,
        check: bool = True,
        curve_consistent: bool = False,
    ):
        sc = model.scenario
        task = str(task)
        if task not in model.instances:
            raise BlackboxLookupError(closest_choices_message(f"instance of YAHPO {sc.name}", task, model.instances))
        self.model = model
        self.scenario = sc
        self.check = check
        self.curve_consistent = curve_consistent
        self.constants = dict(sc.constant_params)
        for name, value in (constants or {}).items():
            if name not in self.constants:
                raise ValueError(f"{name!r} is not a held-fixed parameter of {sc.name} "
                                 f"(held fixed: {sorted(self.constants) or 'none'})")
            if not model.full_space[name].contains(value):
                raise ValueError(f"{name}={value!r} is outside its domain {model.full_space[name]!r}")
            self.constants[name] = value
        self._fidelity_domain = model.full_space[sc.fidelity_name]
        fv = np.asarray(sc.fidelity_values if fidelity_values is None else fidelity_values)
        for v in fv.tolist():
            self._check_fidelity(v)
        fixed: dict[str, Any] = {sc.fidelity_name: fv[-1].item(), **self.constants}
        if sc.instance_param is not None:
            fixed[sc.instance_param] = task
        space = model.full_space.without(fixed)
        modes = sc.objective_modes
        metadata = BlackboxMetadata(
            name=f"yahpo-{sc.name}", default_metric=sc.default_metric, mode=modes[sc.default_metric],
            objective_modes=modes, time_objective=sc.runtime_name, time_is_cumulative=sc.time_is_cumulative,
            source="YAHPO Gym surrogate (slds-lmu/yahpo_data), evaluated with onnxruntime as yahpo_gym 1.0.2 does",
            licence="Apache-2.0", description=sc.description,
            extra={"scenario": sc.name, "instance_param": sc.instance_param, "constants": dict(self.constants),
                   "time_semantics": sc.time_semantics, "batching": BATCHING_CONVENTION,
                   "upstream_y_minimize": list(sc.y_minimize)},
        )
        super().__init__(space, sc.y_names, metadata, sc.fidelity_name, fv, num_seeds=1, task=task)
        self._cat_codes = {n: model.encoding[n] for n in model.cat_input_names}
        if sc.instance_param is not None and task not in self._cat_codes.get(sc.instance_param, {task: 0}):
            raise ValueError(f"{ENCODING_FILE} of {sc.name} has no code for instance {task!r}")
        self._fixed_inputs = fixed

    # --- fidelity ----------------------------------------------------------------------------------------

    def _check_fidelity(self, value: Any) -> float:
        dom = self._fidelity_domain
        lo, hi = dom.lower, dom.upper  # type: ignore[attr-defined]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise BlackboxLookupError(f"fidelity {self.scenario.fidelity_name}={value!r} is not a number") from None
        if not lo <= v <= hi or (isinstance(dom, Integer) and not v.is_integer()):
            kind = "an integer" if isinstance(dom, Integer) else "a number"
            raise BlackboxLookupError(
                f"fidelity {self.scenario.fidelity_name}={value!r} of YAHPO {self.scenario.name} must be {kind} "
                f"in [{lo:g}, {hi:g}]"
            )
        return v

    # --- encoding ----------------------------------------------------------------------------------------

    def _columns(self, configs: Sequence[Config] | pd.DataFrame) -> tuple[dict[str, np.ndarray], int]:
        space_names = self.model.full_space.names
        if isinstance(configs, pd.DataFrame):
            n = len(configs)
            given = list(configs.columns)
            columns = {c: configs[c].to_numpy(dtype=object) for c in given if c in space_names}
        else:
            configs = list(configs)
            n = len(configs)
            given_set: dict[str, None] = {}
            for c in configs:
                given_set.update(dict.fromkeys(c))
            given = list(given_set)
            columns = {k: np.array([c.get(k) for c in configs], dtype=object) for k in given if k in space_names}
        unknown = [c for c in given if c not in space_names]
        if unknown:
            raise BlackboxLookupError(
                "; ".join(closest_choices_message("hyperparameter", u, self.configuration_space.names)
                          for u in unknown)
            )
        fid = self.scenario.fidelity_name
        if fid in columns:
            raise ValueError(f"configurations must not hold the fidelity {fid!r}: pass it as "
                             f"evaluate(..., fidelity=value) (or fidelity=None for the whole curve)")
        for name, value in self._fixed_inputs.items():
            if name == fid:
                continue
            if name in columns:
                col = columns[name]
                if any(v is not None and v != value and str(v) != str(value) for v in col):
                    raise ValueError(f"{name} is fixed to {value!r} for blackbox {self.name}; configurations "
                                     f"must not set another value (got {sorted(set(map(str, col)))})")
            columns[name] = np.full(n, value, dtype=object)
        return columns, n

    def encode(self, configs: Sequence[Config] | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(x_cat int32 (N, n_cat), x_cont float32 (N, n_cont))``; the fidelity column is left at 0."""
        columns, n = self._columns(configs)
        space = self.model.full_space
        active = space.active_mask(columns, n)
        sc = self.scenario
        for name in self.configuration_space.names:
            col = columns.get(name)
            present = np.zeros(n, dtype=bool) if col is None else pd.notna(pd.Series(col, dtype=object)).to_numpy()
            if self.check:
                missing = active[name] & ~present
                if missing.any():
                    raise ValueError(
                        f"configuration {int(np.flatnonzero(missing)[0])} lacks the active hyperparameter {name!r} "
                        f"of {self.name}"
                    )
        x_cat = np.zeros((n, len(self._cat_codes)), dtype=np.int32)
        for j, name in enumerate(self._cat_codes):
            col = columns.get(name)
            if col is None:
                continue  # absent everywhere: "#na#" = 0
            use = active[name] & pd.notna(pd.Series(col, dtype=object)).to_numpy()
            codes = pd.Series(col[use], dtype=object).map(self._cat_codes[name])
            bad = codes.isna().to_numpy()
            if bad.any():
                value = col[use][np.flatnonzero(bad)[0]]
                levels = [k for k in self._cat_codes[name] if k != NA_LEVEL]
                raise ValueError(f"{name}={value!r}: " + closest_choices_message(f"level of {name}", value, levels))
            x_cat[use, j] = codes.to_numpy(dtype=np.int64)
        x_cont = np.zeros((n, len(sc.cont_names)), dtype=np.float32)
        for j, name in enumerate(sc.cont_names):
            col = columns.get(name)
            if name == sc.fidelity_name or col is None:
                continue
            use = active[name] & pd.notna(pd.Series(col, dtype=object)).to_numpy()
            try:
                values = np.asarray(col[use], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be numeric for {self.name}, got {list(col[use][:3])}") from None
            if self.check and values.size and name in self.configuration_space:
                dom = self.configuration_space[name]
                lo, hi = dom.lower, dom.upper  # type: ignore[attr-defined]
                outside = ~((values >= lo) & (values <= hi))
                if isinstance(dom, Integer):
                    outside |= values != np.round(values)
                if outside.any():
                    raise ValueError(f"{name}={col[use][np.flatnonzero(outside)[0]]!r} is outside {dom!r} "
                                     f"(pass check=False to extrapolate like yahpo_gym check=False)")
            x_cont[use, j] = values.astype(np.float32)
        return x_cat, x_cont

    # --- evaluation --------------------------------------------------------------------------------------

    def _fidelity_column(self) -> int:
        return self.scenario.cont_names.index(self.scenario.fidelity_name)

    def evaluate_batch(
        self, configs: Sequence[Config] | pd.DataFrame, fidelity: float | None = None, seed: int | None = 0
    ) -> np.ndarray:
        if seed is not None:
            self.seed_index(seed)
        x_cat, x_cont = self.encode(configs)
        n, fcol = len(x_cat), self._fidelity_column()
        curve_index = None
        if fidelity is not None:
            f = self._check_fidelity(fidelity)
            if self.curve_consistent and float(f) in self._fidelity_pos:
                curve_index = self._fidelity_pos[float(f)]
        if fidelity is None or curve_index is not None:
            fv = self.fidelity_values.astype(np.float32)
            out = np.empty((n, len(fv), len(self.objectives_names)), dtype=np.float64)
            rows_cont = np.empty((len(fv), x_cont.shape[1]), dtype=np.float32)
            for i in range(n):
                rows_cont[:] = x_cont[i]
                rows_cont[:, fcol] = fv
                out[i] = self.model.run(np.repeat(x_cat[i:i + 1], len(fv), axis=0), rows_cont)
            if curve_index is not None:
                out = out[:, curve_index]
        else:
            x_cont[:, fcol] = np.float32(f)
            out = np.empty((n, len(self.objectives_names)), dtype=np.float64)
            for i in range(n):
                out[i] = self.model.run(x_cat[i:i + 1], x_cont[i:i + 1])[0]
        if seed is None:
            out = out[:, None]
        return out

    def __reduce__(self):
        return (YahpoBlackbox, (self.model, self.task, self.fidelity_values.tolist(), self.constants, self.check,
                                self.curve_consistent))
