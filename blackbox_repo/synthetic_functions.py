"""The classic synthetic test functions of global and multi-fidelity optimisation, as ``FunctionProblem``s.

All are minimised, vectorised over numpy arrays, deterministic, and carry their known global minimum as
``best_possible`` (values from the Virtual Library of Simulation Experiments, Surjanovic & Bingham,
sfu.ca/~ssurjano, which the tests pin at the known minimisers):

==============  ==========================  =========================================  ==================
name            domain                      minimum                                    at
==============  ==========================  =========================================  ==================
branin          [-5, 10] x [0, 15]          0.397887                                   (-pi, 12.275), (pi, 2.275), (9.42478, 2.475)
hartmann3       [0, 1]^3                    -3.86278                                   (0.114614, 0.555649, 0.852547)
hartmann6       [0, 1]^6                    -3.32237                                   (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
rosenbrock      [-5, 10]^d (d=4)            0                                          (1, ..., 1)
ackley          [-32.768, 32.768]^d (d=5)   0                                          (0, ..., 0)
==============  ==========================  =========================================  ==================

Multi-fidelity variants (Kandasamy et al., "Multi-fidelity Bayesian Optimisation with Continuous
Approximations", ICML 2017; the forms BoTorch ships as ``AugmentedBranin`` / ``AugmentedHartmann``) add a
fidelity z in (0, 1], z = 1 being the original function:

* ``mf-branin``: b becomes b - 0.1 (1 - z) in Branin's quadratic term;
* ``mf-hartmann3`` / ``mf-hartmann6``: the first weight alpha_1 becomes alpha_1 - 0.1 (1 - z).

In both the minimum over every fidelity is the original minimum: Branin's squared term and cosine term are
bounded below exactly as at z = 1, and lowering alpha_1 only raises Hartmann's value (its terms are negative).
So ``best_possible`` holds for best-so-far curves that mix fidelities.

Fidelities are ``n_fidelities`` evenly spaced levels z_k = k / n (k = 1..n, default 10), walked through in
order like epochs. Cost model (the ``cost`` objective, the simulator's clock): the cumulative time to reach
fidelity z is ``full_cost * z`` seconds (default 10 s for z = 1), i.e. linear in z, the affine cost
c(z) = c0 + z of the MF-BO literature with no fixed part, so every level costs the same (like an epoch) and a
paused trial pays only the levels it has not run. Single-fidelity functions cost ``step_time`` = 1 simulated
second per evaluation (the added ``time`` objective).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from blackbox_repo.function import FunctionProblem
from blackbox_repo.search_space import SearchSpace, Uniform

METRIC = "value"
COST = "cost"
VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments, https://www.sfu.ca/~ssurjano/"
KANDASAMY = ("Kandasamy, Dasarathy, Schneider, Poczos, 'Multi-fidelity Bayesian Optimisation with Continuous "
             "Approximations', ICML 2017")

# Hartmann constants (Surjanovic & Bingham).
HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN3_A = np.array([[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]])
HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
HARTMANN6_A = np.array([
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
])
HARTMANN6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])

# Known global minima and minimisers (literature values, see the module docstring).
BRANIN_MINIMUM = 0.397887
BRANIN_MINIMISERS = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))
HARTMANN3_MINIMUM = -3.86278
HARTMANN3_MINIMISER = (0.114614, 0.555649, 0.852547)
HARTMANN6_MINIMUM = -3.32237
HARTMANN6_MINIMISER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def _matrix(columns: Mapping[str, object], names: list[str]) -> np.ndarray:
    """(n, d) float array of the named columns (scalars of a single configuration give n = 1)."""
    return np.stack([np.atleast_1d(np.asarray(columns[n], dtype=np.float64)) for n in names], axis=-1)


def _fidelity(fidelity: object, n: int) -> np.ndarray:
    return np.broadcast_to(np.atleast_1d(np.asarray(1.0 if fidelity is None else fidelity, dtype=np.float64)),
                           (n,))


def _output(values: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(values[0]) if scalar else values


# --- the functions (numpy, x of shape (n, d), z of shape (n,)) -------------------------------------------


def branin_values(x: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    b = 5.1 / (4 * math.pi ** 2)
    if z is not None:
        b = b - 0.1 * (1.0 - z)
    x1, x2 = x[:, 0], x[:, 1]
    return (x2 - b * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * np.cos(x1) + 10


def hartmann_values(x: np.ndarray, a: np.ndarray, p: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    alpha = np.broadcast_to(HARTMANN_ALPHA, (len(x), 4)).copy()
    if z is not None:
        alpha[:, 0] -= 0.1 * (1.0 - z)
    inner = np.einsum("ij,nij->ni", a, (x[:, None, :] - p[None, :, :]) ** 2)
    return -np.sum(alpha * np.exp(-inner), axis=1)


def rosenbrock_values(x: np.ndarray) -> np.ndarray:
    return np.sum(100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (x[:, :-1] - 1.0) ** 2, axis=1)


def ackley_values(x: np.ndarray, a: float = 20.0, b: float = 0.2, c: float = 2 * math.pi) -> np.ndarray:
    d = x.shape[1]
    return (-a * np.exp(-b * np.sqrt(np.sum(x ** 2, axis=1) / d)) - np.exp(np.sum(np.cos(c * x), axis=1) / d)
            + a + math.e)


# --- problems --------------------------------------------------------------------------------------------


def _single(name: str, names: list[str], space: SearchSpace, values: Callable[[np.ndarray], np.ndarray],
            best: float, description: str) -> FunctionProblem:
    def function(config: Mapping[str, object], fidelity: object = None) -> dict[str, object]:
        scalar = np.ndim(config[names[0]]) == 0
        return {METRIC: _output(values(_matrix(config, names)), scalar)}

    return FunctionProblem(function=function, configuration_space=space, objectives=(METRIC,), name=name,
                           metric=METRIC, mode="min", vectorized=True, best_possible=best,
                           description=description, source=VLSE)


def _multi_fidelity(name: str, names: list[str], space: SearchSpace,
                    values: Callable[[np.ndarray, np.ndarray], np.ndarray], best: float, description: str,
                    n_fidelities: int, full_cost: float) -> FunctionProblem:
    if int(n_fidelities) < 1 or int(n_fidelities) != n_fidelities:
        raise ValueError(f"n_fidelities must be a positive integer, got {n_fidelities!r}")
    if not full_cost > 0:
        raise ValueError(f"full_cost must be positive, got {full_cost!r}")
    levels = tuple(k / int(n_fidelities) for k in range(1, int(n_fidelities) + 1))

    def function(config: Mapping[str, object], fidelity: object = None) -> dict[str, object]:
        scalar = np.ndim(config[names[0]]) == 0
        x = _matrix(config, names)
        z = _fidelity(fidelity, len(x))
        return {METRIC: _output(values(x, z), scalar), COST: _output(full_cost * z, scalar)}

    return FunctionProblem(
        function=function, configuration_space=space, objectives=(METRIC, COST), name=name, metric=METRIC,
        mode="min", objective_modes={COST: "min"}, fidelity_name="fidelity", fidelity_values=levels,
        time_objective=COST, time_is_cumulative=True, vectorized=True, best_possible=best,
        description=f"{description}; {int(n_fidelities)} fidelity levels z = k/{int(n_fidelities)}, cumulative "
                    f"cost {full_cost:g} * z seconds", source=f"{KANDASAMY}; {VLSE}",
    )


def _unit_cube(d: int) -> tuple[list[str], SearchSpace]:
    names = [f"x{i}" for i in range(1, d + 1)]
    return names, SearchSpace({n: Uniform(0.0, 1.0) for n in names})


def _branin_space() -> tuple[list[str], SearchSpace]:
    return ["x1", "x2"], SearchSpace({"x1": Uniform(-5.0, 10.0), "x2": Uniform(0.0, 15.0)})


def branin() -> FunctionProblem:
    names, space = _branin_space()
    return _single("branin", names, space, branin_values, BRANIN_MINIMUM, "Branin-Hoo function, 2 dimensions")


def hartmann3() -> FunctionProblem:
    names, space = _unit_cube(3)
    return _single("hartmann3", names, space, lambda x: hartmann_values(x, HARTMANN3_A, HARTMANN3_P),
                   HARTMANN3_MINIMUM, "Hartmann function, 3 dimensions")


def hartmann6() -> FunctionProblem:
    names, space = _unit_cube(6)
    return _single("hartmann6", names, space, lambda x: hartmann_values(x, HARTMANN6_A, HARTMANN6_P),
                   HARTMANN6_MINIMUM, "Hartmann function, 6 dimensions")


def rosenbrock(dim: int = 4) -> FunctionProblem:
    if int(dim) < 2:
        raise ValueError(f"rosenbrock needs dim >= 2, got {dim!r}")
    names = [f"x{i}" for i in range(1, int(dim) + 1)]
    space = SearchSpace({n: Uniform(-5.0, 10.0) for n in names})
    return _single("rosenbrock", names, space, rosenbrock_values, 0.0, f"Rosenbrock function, {dim} dimensions")


def ackley(dim: int = 5) -> FunctionProblem:
    if int(dim) < 1:
        raise ValueError(f"ackley needs dim >= 1, got {dim!r}")
    names = [f"x{i}" for i in range(1, int(dim) + 1)]
    space = SearchSpace({n: Uniform(-32.768, 32.768) for n in names})
    return _single("ackley", names, space, ackley_values, 0.0,
                   f"Ackley function (a=20, b=0.2, c=2 pi), {dim} dimensions")


def mf_branin(n_fidelities: int = 10, full_cost: float = 10.0) -> FunctionProblem:
    names, space = _branin_space()
    return _multi_fidelity("mf-branin", names, space, branin_values, BRANIN_MINIMUM,
                           "multi-fidelity Branin (b - 0.1 (1 - z))", n_fidelities, full_cost)


def mf_hartmann3(n_fidelities: int = 10, full_cost: float = 10.0) -> FunctionProblem:
    names, space = _unit_cube(3)
    return _multi_fidelity("mf-hartmann3", names, space,
                           lambda x, z: hartmann_values(x, HARTMANN3_A, HARTMANN3_P, z), HARTMANN3_MINIMUM,
                           "multi-fidelity Hartmann 3 (alpha_1 - 0.1 (1 - z))", n_fidelities, full_cost)


def mf_hartmann6(n_fidelities: int = 10, full_cost: float = 10.0) -> FunctionProblem:
    names, space = _unit_cube(6)
    return _multi_fidelity("mf-hartmann6", names, space,
                           lambda x, z: hartmann_values(x, HARTMANN6_A, HARTMANN6_P, z), HARTMANN6_MINIMUM,
                           "multi-fidelity Hartmann 6 (alpha_1 - 0.1 (1 - z))", n_fidelities, full_cost)


# Name -> factory (called with a benchmark definition's ``function_kwargs``).
SYNTHETIC_FUNCTIONS: dict[str, Callable[..., FunctionProblem]] = {
    "branin": branin, "hartmann3": hartmann3, "hartmann6": hartmann6, "rosenbrock": rosenbrock,
    "ackley": ackley, "mf-branin": mf_branin, "mf-hartmann3": mf_hartmann3, "mf-hartmann6": mf_hartmann6,
}
