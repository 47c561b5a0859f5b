"""ComparativeResults: best-so-far curves of many runs on a common grid, aggregated over seeds.

Semantics (compare Syne Tune's ``ComparativeResults``, SEMANTICS.md A.2):

* Per run, rows are taken in report order; ``y = cummin(multiplier * metric)`` for ``mode="min"``
  and ``cummax`` for ``"max"``. A maximised metric is turned into a minimised one by
  ``convert_to_min``: ``"one_minus"`` gives ``1 - multiplier * cummax`` (Syne Tune's choice, natural
  for accuracies), ``"negate"`` gives ``-multiplier * cummax`` (right for unbounded metrics), None
  keeps it maximised. NaN metric values never improve the best so far.
* x is the simulated time ``sim_time`` (default), the number of evaluations (1, 2, ...), or the
  cumulative sum of a cost column.
* Common grid: ``numpy.linspace(0, x_max, n_grid)``, with ``x_max`` the largest final x of any run of
  the benchmark (or ``CurveSpec.x_max``). Syne Tune uses the union of all runs' time stamps instead;
  a fixed grid keeps the arrays rectangular and cheap to aggregate. Step semantics: a run's value at
  grid point g is its best so far over the reports with x <= g (it holds until the next report; no
  look-ahead). Before a run's first report the value is NaN, and an aggregate at a grid point is NaN
  until every run has a value, so aggregated curves start once all seeds have reported.
* Aggregation over seeds at every grid point: ``iqm_bootstrap`` (default; rliable's IQM with a 95%
  percentile bootstrap interval, seeded), ``mean_and_ci`` (mean ± 1.96 s.e., ddof=1) or
  ``median_percentiles`` (median, 25th, 75th percentiles). See ``results.statistics``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from results.statistics import AGGREGATION_MODES, aggregate_curves
from results.store import DatetimeBound, ExperimentIndex, MetadataToValue, index_experiments

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ConvertToMin = Literal["one_minus", "negate"] | None
X_AXES = ("sim_time", "evaluations", "cost")
X_LABELS = {
    "sim_time": "wall-clock time (s, simulated)",
    "evaluations": "number of evaluations",
    "cost": "cumulative cost",
}
DerivedColumn = Callable[..., pd.Series]  # (frame) -> values, or (frame, metadata) if it sets needs_metadata


@dataclass(frozen=True)
class InitTrialsCurve:
    """Show, as an extra setup named ``label``, the curve of ``setup`` using only its first ``n_trials`` trials."""

    setup: str
    n_trials: int
    label: str = "initial trials"


@dataclass(frozen=True, eq=False)
class CurveSpec:
    """How to turn one run's results into a best-so-far curve on a grid."""

    metric: str | None = None  # default: metadata["metric"]
    mode: str | None = None  # default: metadata["mode"] for the tuned metric; required otherwise
    x: str = "sim_time"  # "sim_time" | "evaluations" | "cost"
    cost_column: str = "cost"
    metric_multiplier: float = 1.0
    convert_to_min: ConvertToMin = "one_minus"
    one_result_per_trial: bool = False
    derived_columns: Mapping[str, DerivedColumn] = field(default_factory=dict)
    show_init_trials: InitTrialsCurve | None = None
    n_grid: int = 200
    x_max: float | None = None

    def __post_init__(self) -> None:
        if self.x not in X_AXES:
            raise ValueError(f"x must be one of {X_AXES}, got {self.x!r}")
        if self.convert_to_min not in ("one_minus", "negate", None):
            raise ValueError(
                f"convert_to_min must be 'one_minus', 'negate' or None, got {self.convert_to_min!r}"
            )
        if self.mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.n_grid < 2:
            raise ValueError(f"n_grid must be at least 2, got {self.n_grid}")

    def metric_for(self, metadata: dict) -> str:
        return self.metric or metadata["metric"]

    def mode_for(self, metadata: dict) -> str:
        if self.mode is not None:
            return self.mode
        metric = self.metric_for(metadata)
        if metric == metadata.get("metric"):
            return metadata.get("mode", "min")
        raise ValueError(
            f"metric {metric!r} is not the tuned metric {metadata.get('metric')!r}, so its direction is "
            "unknown; pass mode='min' or mode='max'"
        )

    def transform(self, values: np.ndarray, mode: str) -> np.ndarray:
        """Apply the multiplier and, for maximised metrics, the conversion to a minimised scale."""
        scaled = self.metric_multiplier * np.asarray(values, dtype=float)
        if mode == "max" and self.convert_to_min == "one_minus":
            return 1.0 - scaled
        if mode == "max" and self.convert_to_min == "negate":
            return -scaled
        return scaled

    def lower_is_better(self, mode: str) -> bool:
        return mode == "min" or self.convert_to_min is not None

    def needed_columns(self, metadata: dict, extra_columns: Sequence[str] = ()) -> list[str] | None:
        """Result columns to read; None (all) when derived columns may need anything."""
        if self.derived_columns:
            return None
        columns = ["trial_id", "sim_time", self.metric_for(metadata), *extra_columns]
        if self.x == "cost":
            columns.append(self.cost_column)
        return list(dict.fromkeys(columns))


def best_so_far(values: np.ndarray, mode: str) -> np.ndarray:
    """Running best (min or max); NaN values never improve it, leading NaNs stay NaN."""
    values = np.asarray(values, dtype=float)
    if mode == "min":
        return np.fmin.accumulate(values) if len(values) else values
    if mode == "max":
        return np.fmax.accumulate(values) if len(values) else values
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


def step_values_on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of the step function (x, y) at each grid point: y of the last x <= g, NaN before the first x."""
    positions = np.searchsorted(np.asarray(x, dtype=float), grid, side="right") - 1
    values = np.asarray(y, dtype=float)[np.clip(positions, 0, None)] if len(y) else np.full(len(grid), np.nan)
    return np.where(positions >= 0, values, np.nan)


def run_curve(
    results: pd.DataFrame, metadata: dict, spec: CurveSpec, max_trials: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """x and best-so-far y (after ``spec.transform``) of one run, one point per kept report."""
    frame = results
    for name, column in spec.derived_columns.items():
        # A column with ``needs_metadata = True`` is called with the run's metadata too (e.g. hypervolume,
        # whose normalisation is recorded there).
        values = column(frame, metadata) if getattr(column, "needs_metadata", False) else column(frame)
        frame = frame.assign(**{name: np.asarray(values, dtype=float)})
    if spec.one_result_per_trial:
        frame = frame[~frame["trial_id"].duplicated(keep="last")]
    if max_trials is not None:
        frame = frame[frame["trial_id"] < max_trials]
    metric = spec.metric_for(metadata)
    if metric not in frame.columns:
        raise KeyError(
            f"metric {metric!r} is not a result column of {metadata.get('benchmark')}/{metadata.get('method')}"
            f"/{metadata.get('seed')}; columns are {list(frame.columns)}"
        )
    mode = spec.mode_for(metadata)
    y = spec.transform(best_so_far(frame[metric].to_numpy(dtype=float), mode), mode)
    if spec.x == "sim_time":
        x = frame["sim_time"].to_numpy(dtype=float)
    elif spec.x == "evaluations":
        x = np.arange(1, len(frame) + 1, dtype=float)
    else:
        if spec.cost_column not in frame.columns:
            raise KeyError(f"cost column {spec.cost_column!r} is not in the results; set cost_column")
        x = np.cumsum(np.nan_to_num(frame[spec.cost_column].to_numpy(dtype=float)))
    return x, y


@dataclass
class RunCurves:
    """Curves of the runs of one (subplot, setup) on the benchmark grid."""

    seeds: list
    paths: list[str]
    values: np.ndarray  # (n_runs, n_grid)
    final: np.ndarray  # (n_runs,) best value at the end of each run


@dataclass
class BenchmarkCurves:
    """All run curves of one benchmark on its common grid, keyed by (subplot, setup) in setup order."""

    benchmark: str
    grid: np.ndarray
    x_label: str
    lower_is_better: bool
    groups: dict[tuple[Hashable, str], RunCurves]

    @property
    def setups(self) -> list[str]:
        return list(dict.fromkeys(setup for _, setup in self.groups))

    @property
    def subplots(self) -> list[Hashable]:
        return list(dict.fromkeys(subplot for subplot, _ in self.groups))

    def to_frame(self) -> pd.DataFrame:
        """Tidy per-run curves: benchmark, subplot, setup, seed, x, value."""
        frames = []
        for (subplot, setup), runs in self.groups.items():
            n_runs, n_grid = runs.values.shape
            frames.append(
                pd.DataFrame(
                    {
                        "benchmark": self.benchmark,
                        "subplot": pd.Series([subplot] * (n_runs * n_grid), dtype=object),
                        "setup": setup,
                        "seed": np.repeat(np.asarray(runs.seeds, dtype=object), n_grid),
                        "x": np.tile(self.grid, n_runs),
                        "value": runs.values.reshape(-1),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


AGGREGATE_COLUMNS = ["benchmark", "subplot", "setup", "x", "center", "lower", "upper", "n_runs"]


class ComparativeResults:
    """Compare setups (methods) over many seeds and benchmarks from stored experiments.

    ``roots`` is a results root (local folder or fsspec URL) or a list of them; ``tags`` selects
    studies (all when None; several tags are combined). ``metadata_to_setup`` names the setup of a
    run (default: its method; None drops the run), ``metadata_to_subplot`` its subplot,
    ``setups`` keeps and orders setups, ``num_runs`` is the expected number of seeds per setup
    (missing or duplicated seeds are warned about), ``datetime_bounds`` filters on ``started_at``.
    """

    def __init__(
        self,
        roots: str | Sequence[str],
        tags: str | Sequence[str] | None = None,
        setups: Sequence[str] | None = None,
        metadata_to_setup: MetadataToValue | None = None,
        metadata_to_subplot: MetadataToValue | None = None,
        num_runs: int | None = None,
        datetime_bounds: tuple[DatetimeBound, DatetimeBound] | None = None,
        benchmarks: Sequence[str] | None = None,
        n_threads: int = 8,
    ) -> None:
        index = index_experiments(
            roots,
            tags=tags,
            metadata_to_setup=metadata_to_setup,
            metadata_to_subplot=metadata_to_subplot,
            setups=setups,
            benchmarks=benchmarks,
            datetime_bounds=datetime_bounds,
            n_threads=n_threads,
        )
        self._attach(index, num_runs, n_threads, warn=True)

    def _attach(self, index: ExperimentIndex, num_runs: int | None, n_threads: int, warn: bool,
                loaded: Mapping[tuple[str, tuple[str, ...] | None], pd.DataFrame] | None = None) -> None:
        """Hold ``index`` and its run-count problems (warned about with ``warn``); ``loaded``: result frames
        read before, keyed as ``_results_cache``."""
        self.n_threads = n_threads
        self.index: ExperimentIndex = index
        self.num_runs = num_runs
        self.run_problems = index.check(num_runs=num_runs, warn=warn)
        self._results_cache: dict[tuple[str, tuple[str, ...] | None], pd.DataFrame] = dict(loaded or {})

    @classmethod
    def from_index(cls, index: ExperimentIndex, num_runs: int | None = None, n_threads: int = 8,
                   loaded: Mapping[tuple[str, tuple[str, ...] | None], pd.DataFrame] | None = None
                   ) -> ComparativeResults:
        """Comparative results of runs indexed before (e.g. ``ExperimentIndex.restricted_to`` a few benchmarks of
        a study, in a worker process): no folder is listed or metadata read again, and run-count problems are
        found but not warned about again (whoever indexed the study did). ``loaded``: result frames read before
        (``loaded_results``), not read again."""
        comparative = cls.__new__(cls)
        comparative._attach(index, num_runs, n_threads, warn=False, loaded=loaded)
        return comparative

    def loaded_results(self, benchmark: str) -> dict[tuple[str, tuple[str, ...] | None], pd.DataFrame]:
        """The result frames of ``benchmark``'s runs read so far, keyed by (path, columns): for ``from_index``."""
        paths = set(self.index.for_benchmark(benchmark)["path"])
        return {key: frame for key, frame in self._results_cache.items() if key[0] in paths}

    @property
    def benchmarks(self) -> list[str]:
        return self.index.benchmarks

    @property
    def setups(self) -> list[str]:
        return list(self.index.setups)

    def metadata_values(self, key: str) -> dict[str, list]:
        """Per setup, the values of metadata ``key`` of its runs (e.g. to check n_workers agrees)."""
        values: dict[str, list] = {setup: [] for setup in self.setups}
        for setup, path in zip(self.index.table["setup"], self.index.table["path"]):
            values[setup].append(self.index.metadata[path].get(key))
        return values

    def _resolve_benchmark(self, benchmark: str | None) -> str:
        if benchmark is not None:
            if benchmark not in self.benchmarks:
                raise KeyError(f"benchmark {benchmark!r} has no complete runs; available: {self.benchmarks}")
            return benchmark
        if len(self.benchmarks) != 1:
            raise ValueError(f"several benchmarks are indexed, pick one of {self.benchmarks}")
        return self.benchmarks[0]

    def results(
        self, benchmark: str, columns_for: Callable[[dict], list[str] | None]
    ) -> dict[str, pd.DataFrame]:
        """Results of every indexed run of ``benchmark`` (cached), with the columns ``columns_for(metadata)``."""
        table = self.index.for_benchmark(benchmark)
        wanted = {}
        for path in table["path"]:
            columns = columns_for(self.index.metadata[path])
            wanted[path] = None if columns is None else tuple(columns)
        missing = [p for p, cols in wanted.items() if (p, cols) not in self._results_cache]
        by_columns: dict[tuple[str, ...] | None, list[str]] = {}
        for path in missing:
            by_columns.setdefault(wanted[path], []).append(path)
        for columns, paths in by_columns.items():
            loaded = self.index.load_results(paths, columns=columns, n_threads=self.n_threads)
            for path, frame in loaded.items():
                self._results_cache[(path, columns)] = frame
        # A damaged file was skipped with a warning and its run left out of the index.
        return {p: self._results_cache[(p, wanted[p])] for p in wanted if (p, wanted[p]) in self._results_cache}

    def _spec(self, spec: CurveSpec | None, overrides: dict) -> CurveSpec:
        base = spec or CurveSpec()
        return replace(base, **overrides) if overrides else base

    def curves(
        self, benchmark: str | None = None, spec: CurveSpec | None = None, **spec_options
    ) -> BenchmarkCurves:
        """Best-so-far curve of every run of ``benchmark`` on the common grid (see module docstring)."""
        benchmark = self._resolve_benchmark(benchmark)
        spec = self._spec(spec, spec_options)
        frames = self.results(benchmark, spec.needed_columns)
        table = self.index.for_benchmark(benchmark)  # after loading: damaged runs have left the index
        raw: dict[tuple[Hashable, str], list[tuple]] = {}
        modes = set()
        for row in table.itertuples(index=False):
            metadata = self.index.metadata[row.path]
            modes.add(spec.mode_for(metadata))
            x, y = run_curve(frames[row.path], metadata, spec)
            raw.setdefault((row.subplot, row.setup), []).append((row.seed, row.path, x, y))
        if spec.show_init_trials is not None:
            init = spec.show_init_trials
            for (subplot, setup), runs in list(raw.items()):
                if setup != init.setup:
                    continue
                raw[(subplot, init.label)] = [
                    (seed, path, *run_curve(frames[path], self.index.metadata[path], spec, init.n_trials))
                    for seed, path, _, _ in runs
                ]
        if len(modes) > 1 and spec.convert_to_min is None:
            raise ValueError(f"runs of {benchmark!r} mix modes {modes}; set convert_to_min to compare them")
        x_max = spec.x_max
        if x_max is None:
            x_max = max((x[-1] for runs in raw.values() for *_, x, _ in runs if len(x)), default=1.0)
        grid = np.linspace(0.0, float(x_max), spec.n_grid)
        order = {setup: i for i, setup in enumerate(self.setups)}
        if spec.show_init_trials is not None:
            order[spec.show_init_trials.label] = len(order)
        groups: dict[tuple[Hashable, str], RunCurves] = {}
        for key in sorted(raw, key=lambda k: (order.get(k[1], len(order)), repr(k[0]))):
            runs = sorted(raw[key], key=lambda run: (str(type(run[0])), run[0]))
            values = np.vstack([step_values_on_grid(x, y, grid) for _, _, x, y in runs])
            final = np.array([y[-1] if len(y) else np.nan for *_, y in runs])
            groups[key] = RunCurves(
                seeds=[run[0] for run in runs], paths=[run[1] for run in runs], values=values, final=final
            )
        lower_is_better = all(spec.lower_is_better(mode) for mode in modes)
        return BenchmarkCurves(benchmark, grid, X_LABELS[spec.x], lower_is_better, groups)

    def aggregate(
        self,
        benchmark: str | None = None,
        aggregate_mode: str = "iqm_bootstrap",
        n_boot: int = 1000,
        seed: int = 0,
        level: float = 0.95,
        spec: CurveSpec | None = None,
        curves: BenchmarkCurves | None = None,
        **spec_options,
    ) -> pd.DataFrame:
        """Tidy aggregated curves: benchmark, subplot, setup, x, center, lower, upper, n_runs.

        Group i (in setup order) draws its bootstrap from ``numpy.random.default_rng([seed, i])``,
        so results repeat exactly and do not depend on thread scheduling.
        """
        if aggregate_mode not in AGGREGATION_MODES:
            raise ValueError(f"unknown aggregate_mode {aggregate_mode!r}; choose one of {AGGREGATION_MODES}")
        if curves is None:
            curves = self.curves(benchmark, spec, **spec_options)
        return aggregate_benchmark_curves(curves, aggregate_mode, n_boot, seed, level, self.n_threads)

    def final_values(
        self,
        benchmark: str | None = None,
        extra_columns: Sequence[str] = (),
        spec: CurveSpec | None = None,
        **spec_options,
    ) -> pd.DataFrame:
        """One row per run: benchmark, subplot, setup, seed, tag, path, ``best`` (final best so far,
        transformed as the curves) and the last value of each ``extra_columns`` result column."""
        benchmarks = self.benchmarks if benchmark is None else [self._resolve_benchmark(benchmark)]
        spec = self._spec(spec, spec_options)
        rows = []
        for name in benchmarks:
            frames = self.results(name, lambda m: spec.needed_columns(m, extra_columns))
            for row in self.index.for_benchmark(name).itertuples(index=False):
                frame = frames[row.path]
                _, y = run_curve(frame, self.index.metadata[row.path], spec)
                record = {
                    "benchmark": name,
                    "subplot": row.subplot,
                    "setup": row.setup,
                    "seed": row.seed,
                    "tag": row.tag,
                    "path": row.path,
                    "best": float(y[-1]) if len(y) else np.nan,
                }
                for column in extra_columns:
                    record[column] = (
                        frame[column].iloc[-1] if column in frame.columns and len(frame) else np.nan
                    )
                rows.append(record)
        return pd.DataFrame(rows)

    def plot(
        self,
        benchmark: str | None = None,
        aggregate_mode: str = "iqm_bootstrap",
        n_boot: int = 1000,
        seed: int = 0,
        level: float = 0.95,
        title: str | None = None,
        subplot_titles: Mapping[Hashable, str] | None = None,
        styles=None,
        columns: int = 1,
        ylabel: str | None = None,
        y_scale: str = "auto",
        spec: CurveSpec | None = None,
        **spec_options,
    ) -> Figure:
        """Figure of the aggregated curves of ``benchmark``: one subplot per subplot value, legend, title.

        Drawing lives in ``plotting.figures`` (imported here, not at module level, so that results does
        not need matplotlib unless a figure is asked for); colours come from ``plotting.style`` so a
        setup looks the same in every figure. ``y_scale`` is "auto" (log when the curves span decades,
        ``plotting.style.choose_y_scale``), "linear" or "log".
        """
        from plotting.figures import plot_aggregated_curves

        resolved = self._spec(spec, spec_options)
        curves = self.curves(benchmark, resolved)
        aggregated = aggregate_benchmark_curves(curves, aggregate_mode, n_boot, seed, level, self.n_threads)
        setups = self.setups
        if resolved.show_init_trials is not None:
            setups = setups + [resolved.show_init_trials.label]
        if ylabel is None:
            metric = resolved.metric
            if metric is None:  # each run's tuned metric: name it when the runs of this benchmark agree
                table = self.index.table
                paths = table.loc[table["benchmark"] == curves.benchmark, "path"]
                names = {self.index.metadata[p].get("metric") for p in paths}
                modes = {self.index.metadata[p].get("mode") for p in paths}
                metric = names.pop() if len(names) == 1 else None
                if metric is not None and modes == {"max"} and resolved.convert_to_min == "one_minus":
                    metric = f"1 - {metric}"
                elif metric is not None and modes == {"max"} and resolved.convert_to_min == "negate":
                    metric = f"-{metric}"
            ylabel = f"best {metric} so far" if metric else "best metric so far"
        return plot_aggregated_curves(
            aggregated,
            setups=setups,
            styles=styles,
            title=title if title is not None else curves.benchmark,
            subplot_titles=subplot_titles,
            x_label=curves.x_label,
            y_label=ylabel,
            columns=columns,
            y_scale=y_scale,
        )


def aggregate_benchmark_curves(
    curves: BenchmarkCurves,
    aggregate_mode: str = "iqm_bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    n_threads: int = 2,
) -> pd.DataFrame:
    """Aggregate every (subplot, setup) of ``curves`` over its runs; groups run in parallel threads."""
    keys = list(curves.groups)

    def one(i: int) -> pd.DataFrame:
        subplot, setup = keys[i]
        runs = curves.groups[keys[i]]
        interval = aggregate_curves(
            runs.values, aggregate_mode, n_boot=n_boot, rng=np.random.default_rng([seed, i]), level=level
        )
        return pd.DataFrame(
            {
                "benchmark": curves.benchmark,
                "subplot": pd.Series([subplot] * len(curves.grid), dtype=object),
                "setup": setup,
                "x": curves.grid,
                "center": interval.point,
                "lower": interval.lower,
                "upper": interval.upper,
                "n_runs": runs.values.shape[0],
            }
        )

    if not keys:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(keys)))) as pool:
        frames = list(pool.map(one, range(len(keys))))
    return pd.concat(frames, ignore_index=True)[AGGREGATE_COLUMNS]
