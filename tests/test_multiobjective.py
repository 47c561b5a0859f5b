"""Multi-objective pieces pinned on hand-made points: non-dominated sorting, crowding distance, the total order
MOASHA and MO-REA use, MOASHA's rung decisions, MO-REA's tournament, the scalarisations, hypervolume against
pymoo's independent implementation, and the objective declarations of benchmarks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from baselines.linear_scalarized import SCALARIZED_METRIC, LinearScalarizedScheduler
from baselines.moasha import MOASHA
from baselines.mobo import MultiObjectiveBOSearcher, augmented_chebyshev
from baselines.morea import MOREASearcher
from baselines.multiobjective import (
    ObjectiveVector,
    crowding_distance,
    epsilon_net_order,
    non_dominated_ranks,
    objective_scale,
    pareto_front_mask,
    pareto_order,
    pareto_position,
)
from baselines.nsga2 import NSGA2
from baselines.registry import (
    list_methods,
    make_method,
    method_defaults,
    method_is_multi_objective,
    method_spec,
)
from baselines.scheduler import Decision
from benchmark_definitions.definitions import SimulatedBenchmark, objectives_of
from blackbox_repo.search_space import Integer, SearchSpace, Uniform
from results.statistics import hypervolume

NAN = math.nan
# Hand-made: ranks worked out by hand (see test_non_dominated_ranks_on_hand_made_points).
POINTS = np.array([[1, 5], [2, 3], [3, 4], [4, 1], [5, 5], [2, 3], [6, 6], [NAN, 1]], dtype=float)


def test_non_dominated_ranks_on_hand_made_points():
    # [1,5], [2,3] (twice: equal points do not dominate each other) and [4,1] are non-dominated; [3,4] is
    # dominated by [2,3]; [5,5] by [3,4]; [6,6] by [5,5]; the NaN row ranks after every finite row.
    assert non_dominated_ranks(POINTS).tolist() == [0, 0, 1, 0, 2, 0, 3, 4]
    assert pareto_front_mask(POINTS).tolist() == [True, True, False, True, False, True, False, False]
    # Three objectives: only [0, 0, 1] dominates [1, 1, 1].
    assert non_dominated_ranks([[0, 0, 1], [1, 1, 1], [1, 0, 0]]).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="shape"):
        non_dominated_ranks([1.0, 2.0])


def test_crowding_distance_on_hand_made_points():
    # Objective 0: span 4, neighbours of [1,2] are 0 and 3 -> 0.75, of [3,1] are 1 and 4 -> 0.75.
    # Objective 1: span 4, neighbours of [1,2] are 1 and 4 -> 0.75, of [3,1] are 0 and 2 -> 0.5.
    distance = crowding_distance([[0, 4], [1, 2], [3, 1], [4, 0]])
    assert distance[0] == distance[3] == np.inf
    assert distance[1:3].tolist() == pytest.approx([1.5, 1.25])
    assert crowding_distance([[1, 1], [2, 0]]).tolist() == [np.inf, np.inf]
    # An objective without spread adds nothing.
    assert crowding_distance([[0, 7], [1, 7], [2, 7]]).tolist() == [np.inf, 1.0, np.inf]


def test_pareto_order_breaks_ties_by_crowding_then_index():
    # Front 0 = rows 0, 1, 3, 5. Extremes (rows 0 and 3) have infinite crowding and keep index order; row 5
    # (crowding 2/3 + 1/2) comes before row 1 (1/3 + 1/2): equal points, the one sorted later in each
    # objective sees the wider gap. Then fronts 1, 2, 3 and the NaN row.
    assert pareto_order(POINTS).tolist() == [0, 3, 5, 1, 2, 4, 6, 7]
    assert [pareto_position(POINTS, i) for i in range(8)] == [0, 3, 4, 1, 5, 2, 6, 7]
    assert pareto_order(POINTS, "crowding").tolist() == [0, 3, 5, 1, 2, 4, 6, 7]
    assert [pareto_position(POINTS, i, "crowding") for i in range(8)] == [0, 3, 4, 1, 5, 2, 6, 7]


def test_pareto_order_breaks_ties_by_epsilon_net_then_index():
    # Both objectives span 5 over the finite rows, so scaled distances order like raw ones. Front 0 = rows 0, 1,
    # 3, 5: seed row 0 (first objective 1); farthest from it row 3 (distance 5; rows 1 and 5 are at sqrt 5);
    # rows 1 and 5 are then equally far (sqrt 5 from row 0, sqrt 8 from row 3): the earlier, row 1; row 5 last
    # (distance 0 to row 1). Then fronts 1, 2, 3 and the NaN row, as with crowding.
    assert pareto_order(POINTS, "epsilon_net").tolist() == [0, 3, 1, 5, 2, 4, 6, 7]
    assert [pareto_position(POINTS, i, "epsilon_net") for i in range(8)] == [0, 2, 4, 1, 5, 3, 6, 7]
    with pytest.raises(ValueError, match=r"tie_break must be one of \['epsilon_net', 'crowding'\], got 'nearest'"):
        pareto_order(POINTS, "nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tie_break must be one of"):
        pareto_position(POINTS, 0, "nearest")  # type: ignore[arg-type]


# A front with an error in [0, 1] and a time in seconds: error range 1, time range 100.
SECONDS_FRONT = np.array([[0.0, 100.0], [0.3, 56.0], [0.9, 45.0], [1.0, 0.0]])


def test_epsilon_net_order_on_a_hand_made_two_dimensional_front():
    # Range-scaled: rows (0, 1), (.3, .56), (.9, .45), (1, 0). Seed row 0; farthest row 3 (sqrt 2, against
    # .53 and 1.06). Nearest chosen: row 1 min(.533, .896) = .533, row 2 min(1.055, .461) = .461: row 1, then 2.
    assert objective_scale(SECONDS_FRONT).tolist() == [1.0, 100.0]
    assert epsilon_net_order(SECONDS_FRONT).tolist() == [0, 3, 1, 2]
    # In raw units (Syne Tune's) the seconds decide: row 1 is 44.001 from row 0, row 2 45.0001 from row 3.
    assert epsilon_net_order(SECONDS_FRONT, scale=np.ones(2)).tolist() == [0, 3, 2, 1]
    # pareto_position stops once the row is chosen and agrees with the full order.
    assert [pareto_position(SECONDS_FRONT, i, "epsilon_net") for i in range(4)] == [0, 2, 3, 1]
    assert epsilon_net_order(SECONDS_FRONT, stop_at=3).tolist() == [0, 3]
    # The seed is the best first objective wherever it is stored.
    assert epsilon_net_order(SECONDS_FRONT[::-1]).tolist() == [3, 0, 2, 1]


def test_epsilon_net_order_in_three_dimensions_with_ties_and_duplicates():
    # Scale 2 per objective. Seed row 2 (first objective 0), at (0, .5, .5)... scaled (0, 1, 1); rows 1 and 3
    # are both sqrt 2 away, row 0 (the centre) sqrt .75: tie, the earlier row 1; then row 3 (sqrt 2 from both
    # chosen) before the centre.
    front = [[1, 1, 1], [2, 2, 0], [0, 2, 2], [2, 0, 2]]
    assert non_dominated_ranks(front).tolist() == [0, 0, 0, 0]
    assert epsilon_net_order(front).tolist() == [2, 1, 3, 0]
    # Equal seeds: the earlier row; a duplicate of a chosen point (distance 0) comes last.
    assert epsilon_net_order([[0, 1], [1, 0], [0, 1]]).tolist() == [0, 1, 2]
    assert epsilon_net_order([[1, 0], [0, 1], [0, 1]]).tolist() == [1, 0, 2]
    # One point, or a constant objective (range 0: scale 1, it adds nothing).
    assert epsilon_net_order([[3, 3]]).tolist() == [0]
    assert objective_scale([[0, 7], [2, 7]]).tolist() == [2.0, 1.0]
    assert epsilon_net_order([[0, 7], [2, 7], [1, 7]]).tolist() == [0, 1, 2]
    # An infinite coordinate sits one range beyond the finite ones: it is farthest from the seed.
    assert epsilon_net_order([[0, 1], [0.5, 0.5], [np.inf, 0.0]]).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="NaN-free"):
        epsilon_net_order([[0, 1], [NAN, 0]])


def test_epsilon_net_ranks_nan_rows_last_in_index_order():
    points = [[0.5, 0.5], [NAN, 0.1], [0.2, 0.9], [0.9, 0.2], [0.6, 0.6], [0.1, NAN]]
    # Front {0, 2, 3}: seed row 2, farthest row 3 (.99 against .5), then row 0; row 4 behind row 0; NaN rows.
    assert pareto_order(points, "epsilon_net").tolist() == [2, 3, 0, 4, 1, 5]
    assert [pareto_position(points, i, "epsilon_net") for i in range(6)] == [2, 4, 0, 1, 3, 5]


def test_objective_vector_negates_maximised_objectives_and_names_the_problem():
    vector = ObjectiveVector.build(["err", "acc"], ["min", "max"], "X")
    assert vector({"err": 0.2, "acc": 0.9, "other": 5}).tolist() == [0.2, -0.9]
    with pytest.raises(ValueError, match="at least two objectives"):
        ObjectiveVector.build(["err"], ["min"], "X")
    with pytest.raises(ValueError, match="one mode per metric"):
        ObjectiveVector.build(["err", "t"], ["min"], "X")
    with pytest.raises(KeyError, match="lacks the objective 'acc'"):
        vector({"err": 0.2})


# ---------------------------------------------------------------------------------------------------------
SPACE = SearchSpace({"x": Uniform(0.0, 1.0), "n": Integer(1, 8)})


def _moasha(modes=("min", "min"), second="time", tie_break="crowding") -> MOASHA:
    return MOASHA(SPACE, ["err", second], list(modes), seed=0, fidelity_name="epoch", max_fidelity=9,
                  grace_period=1, reduction_factor=3, tie_break=tie_break)


def _report(scheduler, trial_id, fidelity, err, second, name="time"):
    assert scheduler.suggest(trial_id).kind == "start"
    return scheduler.on_result(trial_id, fidelity, {"err": err, name: second, "epoch": fidelity})


def test_moasha_rung_decisions_on_a_hand_made_sequence():
    scheduler = _moasha()
    assert scheduler.levels == [1, 3] and scheduler.milestones
    decisions = [
        _report(scheduler, 0, 1, 0.5, 0.5),  # first at the rung: continues
        # n=2, keep ceil(2/3)=1: neither dominates, both extremes (infinite crowding): the earlier trial wins.
        # Single-objective ASHA would continue it (0.4 < 0.5).
        _report(scheduler, 1, 1, 0.4, 0.6),
        _report(scheduler, 2, 1, 0.3, 0.3),  # dominates everything: rank 0 alone
        _report(scheduler, 3, 1, 0.6, 0.6),  # n=4, keep 2: dominated by everyone: last
        _report(scheduler, 4, 1, 0.2, 0.9),  # n=5, keep 2: front {2, 4}, second by index: continues
        # n=6, keep 2: front {2, 4}; then {1, 5} with infinite crowding, trial 1 first: position 3
        _report(scheduler, 5, 1, 0.45, 0.45),
    ]
    assert decisions == [Decision.CONTINUE, Decision.STOP, Decision.CONTINUE, Decision.STOP, Decision.CONTINUE,
                         Decision.STOP]
    # Trial 0 reaches rung 3 first there: continues; a second result at the same rung is not judged again.
    assert scheduler.on_result(0, 3, {"err": 0.45, "time": 1.5, "epoch": 3}) == Decision.CONTINUE
    assert scheduler.on_result(0, 4, {"err": 0.44, "time": 2.0, "epoch": 4}) == Decision.CONTINUE
    assert scheduler.rung_points()[1][4] == (0.2, 0.9)
    assert list(scheduler.rung_points()[3]) == [0]


def test_moasha_respects_maximised_objectives_and_ranks_nan_last():
    # With "acc" maximised, trial 1 (err 0.4, acc 0.9) dominates trial 0 (0.5, 0.5): it continues. Were acc
    # minimised, neither would dominate and the index tie-break would stop trial 1.
    maximising = _moasha(("min", "max"), "acc")
    assert _report(maximising, 0, 1, 0.5, 0.5, "acc") == Decision.CONTINUE
    assert _report(maximising, 1, 1, 0.4, 0.9, "acc") == Decision.CONTINUE
    minimising = MOASHA(SPACE, ["err", "acc"], ["min", "min"], seed=0, max_fidelity=9, tie_break="crowding")
    assert _report(minimising, 0, 1, 0.5, 0.5, "acc") == Decision.CONTINUE
    assert _report(minimising, 1, 1, 0.4, 0.9, "acc") == Decision.STOP
    diverged = _moasha()
    assert _report(diverged, 0, 1, NAN, 0.1) == Decision.CONTINUE  # first at the rung
    assert _report(diverged, 1, 1, 0.9, 0.9) == Decision.CONTINUE  # the NaN row ranks last


def test_moasha_defaults_to_the_epsilon_net_and_decides_by_it():
    assert MOASHA(SPACE, ["err", "time"], ["min", "min"], seed=0, max_fidelity=9).tie_break == "epsilon_net"
    # The hand-made sequence above: only trial 1 changes. n=2, keep 1, front {0, 1}: the epsilon-net's seed is
    # the better error (trial 1, 0.4 < 0.5), where crowding's infinite-distance tie went to the earlier trial 0.
    scheduler = _moasha(tie_break="epsilon_net")
    decisions = [_report(scheduler, t, 1, err, time) for t, (err, time) in
                 enumerate([(0.5, 0.5), (0.4, 0.6), (0.3, 0.3), (0.6, 0.6), (0.2, 0.9), (0.45, 0.45)])]
    assert decisions == [Decision.CONTINUE, Decision.CONTINUE, Decision.CONTINUE, Decision.STOP,
                         Decision.CONTINUE, Decision.STOP]


@pytest.mark.parametrize(("tie_break", "last"), [("epsilon_net", Decision.CONTINUE), ("crowding", Decision.STOP)])
def test_moasha_tie_break_decides_within_a_dominated_front(tie_break, last):
    # Trial 0 dominates all; trials 1-3 form the second front: 1 fastest, 3 best error, 2 between. At trial 3
    # (n=4, keep 2) one place is left for that front. Crowding: both extremes infinite, the earlier (trial 1)
    # takes it and trial 3 stops; the epsilon-net seeds with the best error (trial 3): it continues.
    scheduler = _moasha(tie_break=tie_break)
    decisions = [_report(scheduler, t, 1, err, time) for t, (err, time) in
                 enumerate([(0.1, 0.1), (0.5, 0.2), (0.4, 0.4), (0.3, 0.6)])]
    assert decisions == [Decision.CONTINUE, Decision.STOP, Decision.STOP, last]


def test_moasha_epsilon_net_scales_objectives_by_the_rung_range():
    # Error in [0, 1], time in seconds; the rung's ranges are 1 and 100. Trials 2, 4, 5 are dominated. Trial 6
    # (n=7, keep 3) meets the front {0, 1, 3, 6}: seed 0 (error 0), then 1 (sqrt 2 away), then the farther of
    # 6 (scaled min(.533, .896)) and 3 (min(1.055, .461)): trial 6 takes the third place and continues. In raw
    # seconds trial 3 (45.0001 from trial 1) would beat trial 6 (44.001 from trial 0) and trial 6 would stop.
    scheduler = _moasha(tie_break="epsilon_net")
    rung = [(0.0, 100.0), (1.0, 0.0), (1.0, 100.0), (0.9, 45.0), (0.95, 99.0), (1.0, 99.0), (0.3, 56.0)]
    decisions = [_report(scheduler, t, 1, err, time) for t, (err, time) in enumerate(rung)]
    assert decisions == [Decision.CONTINUE] + [Decision.STOP] * 5 + [Decision.CONTINUE]
    front = np.array([rung[t] for t in (0, 1, 3, 6)])
    assert epsilon_net_order(front).tolist() == [0, 1, 3, 2]
    assert epsilon_net_order(front, scale=np.ones(2)).tolist() == [0, 1, 2, 3]  # raw units: trial 3 first
    with pytest.raises(ValueError, match="tie_break must be one of"):
        MOASHA(SPACE, ["err", "time"], ["min", "min"], seed=0, max_fidelity=9, tie_break="random")


def test_morea_tournament_takes_the_sampled_pareto_front_with_varying_tie_break():
    winners = set()
    a, b, c, d = (0.3, 0.9), (0.35, 0.2), (0.5, 0.5), (0.31, 0.95)  # front {a, b}; c, d dominated
    for seed in range(12):
        searcher = MOREASearcher(SPACE, "err", "min", seed=seed, metrics=["err", "time"], modes=["min", "min"],
                                 population_size=4, sample_size=4)
        for tid, vector in enumerate((a, b, c, d)):
            searcher.observe_objectives(tid, {"x": tid / 10, "n": 1}, None, np.array(vector))
        winners.add(searcher.tournament()["x"])
    # Regularised evolution on the first objective alone would always pick a (x=0.0).
    assert winners == {0.0, 0.1}
    with pytest.raises(TypeError, match="objective vectors"):
        searcher.observe(0, {"x": 0.0, "n": 1}, None, 1.0)


def test_scalarisations_on_hand_made_vectors():
    searcher = MultiObjectiveBOSearcher(SPACE, "err", "min", seed=0, metrics=["err", "time"], modes=["min", "min"],
                                        scalarization="linear", weights=[3, 1])
    for tid, vector in enumerate(((0.0, 10.0), (1.0, 20.0), (0.5, 30.0))):
        searcher.observe_objectives(tid, {"x": 0.1 * tid, "n": 1}, None, np.array(vector))
    # Scaled: (0, 0), (1, 0.5), (0.5, 1); weights normalised to (0.75, 0.25).
    assert searcher.scalarize([0, 1, 2]).tolist() == pytest.approx([0.0, 0.875, 0.625])
    # Augmented Chebyshev: max(0.2 * 1, 0.8 * 0.5) + 0.05 * (0.2 + 0.4).
    assert augmented_chebyshev(np.array([[1.0, 0.5]]), np.array([0.2, 0.8])).tolist() == pytest.approx([0.43])
    random = MultiObjectiveBOSearcher(SPACE, "err", "min", seed=0, metrics=["err", "time"], modes=["min", "min"])
    for tid, vector in enumerate(((0.0, 10.0), (1.0, 20.0))):
        random.observe_objectives(tid, {"x": 0.1 * tid, "n": 1}, None, np.array(vector))
    first = random.scalarize([0, 1]).copy(), random.last_weights.copy()
    second = random.scalarize([0, 1]).copy(), random.last_weights.copy()
    assert first[1].sum() == pytest.approx(1.0) and not np.allclose(first[1], second[1])  # new weights each time
    assert first[0][0] == 0.0 and first[0][1] == pytest.approx(max(first[1]) + 0.05)  # scaled (1, 1)
    with pytest.raises(ValueError, match="weights apply to scalarization='linear'"):
        MultiObjectiveBOSearcher(SPACE, "err", "min", metrics=["err", "time"], modes=["min", "min"], weights=[1, 1])


def test_linear_scalarized_wrapper_forwards_the_weighted_sum():
    base = make_method("RS", SPACE, SCALARIZED_METRIC, "min", None, None, seed=0)
    wrapper = LinearScalarizedScheduler(base, ["err", "acc"], ["min", "max"], weights=[1, 10])
    assert wrapper.scalarize({"err": 0.2, "acc": 0.5}) == pytest.approx(0.2 - 5.0)
    seen = []
    base.on_trial_complete = lambda tid, f, metrics: seen.append(metrics[SCALARIZED_METRIC])
    wrapper.on_trial_complete(0, 1, {"err": 0.3, "acc": 0.1})
    assert seen == [pytest.approx(0.3 - 1.0)]
    with pytest.raises(ValueError, match="weights must be 2 non-negative"):
        LinearScalarizedScheduler(base, ["err", "acc"], ["min", "max"], weights=[1, -1])


def test_registry_flags_agree_with_the_scheduler_classes_and_refuse_one_objective():
    multi = [m for m in list_methods() if method_is_multi_objective(m)]
    assert set(multi) == {"MOASHA", "MOBO-RANDOM", "MOBO-LINEAR", "MOREA", "NSGA2", "LINEAR-SCALARIZED"}
    for name in multi:
        kwargs = {"base_method": "RS"} if name == "LINEAR-SCALARIZED" else {}
        scheduler = make_method(name, SPACE, "err", "min", "epoch", 9, seed=0, metrics=["err", "time"],
                                modes=["min", "min"], **kwargs)
        assert type(scheduler).multi_objective, name
        with pytest.raises(ValueError, match="at least two objectives"):
            make_method(name, SPACE, "err", "min", "epoch", 9, seed=0, **kwargs)
    assert not type(make_method("ASHA", SPACE, "err", "min", "epoch", 9, seed=0)).multi_objective
    assert method_spec("MOBO-LINEAR").searcher_fixed == {"scalarization": "linear"}
    # MOBO-RANDOM draws its weights: they are not an argument of the method.
    assert "weights" in method_defaults("MOBO-LINEAR") and "weights" not in method_defaults("MOBO-RANDOM")
    with pytest.raises(ValueError, match="does not accept \\['weights'\\]"):
        make_method("MOBO-RANDOM", SPACE, "err", "min", None, None, seed=0, metrics=["err", "time"],
                    modes=["min", "min"], weights=[1, 1])
    with pytest.raises(ValueError, match="base_method must be a single-objective"):
        make_method("LINEAR-SCALARIZED", SPACE, "err", "min", "epoch", 9, seed=0, metrics=["err", "time"],
                    modes=["min", "min"], base_method="MOASHA")


# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_objectives,n_points", [(2, 60), (3, 40), (4, 25)])
def test_hypervolume_equals_pymoo_on_random_fronts(n_objectives, n_points):
    hv_module = pytest.importorskip("pymoo.indicators.hv")
    rng = np.random.default_rng(n_objectives)
    for trial in range(5):
        # Points on a concave front plus dominated noise, some outside the reference box.
        directions = np.abs(rng.normal(size=(n_points, n_objectives)))
        front = 1.0 - directions / np.linalg.norm(directions, axis=1, keepdims=True)
        points = np.vstack([front, front[: n_points // 2] + rng.uniform(0, 0.3, size=(n_points // 2, n_objectives))])
        reference = np.full(n_objectives, 1.05 + 0.1 * trial)
        inside = np.all(points < reference, axis=1)
        expected = hv_module.HV(ref_point=reference)(points[inside])
        assert hypervolume(points, reference) == pytest.approx(expected, rel=1e-10)


def test_benchmark_objectives_are_declared_consistently():
    base = {"name": "b", "blackbox": "t", "task": "x", "metric": "err", "mode": "min", "max_wallclock_time": 1.0}
    single = SimulatedBenchmark(**base)
    assert objectives_of(single).metrics == ("err",) and not objectives_of(single).is_multi_objective
    multi = SimulatedBenchmark(**base, metrics=["err", "time"], modes=["min", "min"],
                               constraint={"metric": "memory", "threshold": 2})
    assert objectives_of(multi).describe() == "err (min), time (min); s.t. memory <= 2"
    with pytest.raises(ValueError, match="same length"):
        SimulatedBenchmark(**base, metrics=["err", "time"], modes=["min"])
    with pytest.raises(ValueError, match="must be the primary metric"):
        SimulatedBenchmark(**base, metrics=["time", "err"], modes=["min", "min"])
    with pytest.raises(ValueError, match="constraint must be"):
        SimulatedBenchmark(**base, metrics=["err", "time"], modes=["min", "min"], constraint={"metric": "m"})


def test_nsga2_hands_out_one_generation_at_a_time_and_learns_from_it():
    pytest.importorskip("pymoo")
    scheduler = NSGA2(SPACE, ["err", "time"], ["min", "min"], seed=4, population_size=4)
    first = [scheduler.suggest(t) for t in range(4)]
    assert [s.kind for s in first] == ["start"] * 4
    assert scheduler.suggest(4).kind == "wait"  # the generation is still running
    for t, s in enumerate(first[:3]):
        scheduler.on_trial_complete(t, 1, {"err": s.config["x"], "time": 1 - s.config["x"]})
    scheduler.on_trial_failed(3)  # counts as the generation's worst value
    assert scheduler.generations_told == 0
    second = scheduler.suggest(4)
    assert second.kind == "start" and scheduler.generations_told == 1
    again = NSGA2(SPACE, ["err", "time"], ["min", "min"], seed=4, population_size=4)
    assert [again.suggest(t).config for t in range(4)] == [s.config for s in first]  # seeded: repeats exactly


def test_nsga2_restricted_to_a_table_proposes_each_row_once():
    pytest.importorskip("pymoo")
    rows = [{"x": i / 9, "n": 1 + i % 8} for i in range(10)]
    scheduler = NSGA2(SPACE, ["err", "time"], ["min", "max"], seed=0, population_size=4, restrict_to=rows)
    proposed = []
    for t in range(12):
        suggestion = scheduler.suggest(t)
        if suggestion.kind == "done":
            break
        assert suggestion.kind == "start"
        proposed.append(suggestion.config)
        scheduler.on_trial_complete(t, 1, {"err": suggestion.config["x"], "time": suggestion.config["n"]})
    assert len(proposed) == 10 and all(p in rows for p in proposed)
    assert len({(p["x"], p["n"]) for p in proposed}) == 10
    with pytest.raises(ValueError, match="population_size must be an integer >= 2"):
        NSGA2(SPACE, ["err", "time"], ["min", "min"], population_size=1)


def test_two_objective_sweep_matches_the_definition_on_random_points_with_ties():
    # Reference: peel fronts with the pairwise definition of dominance, written out here.
    rng = np.random.default_rng(5)
    for trial in range(100):
        points = rng.integers(0, 5, size=(int(rng.integers(1, 40)), 2)).astype(float)
        if trial % 4 == 0:
            points[int(rng.integers(len(points)))] = NAN
        expected = np.full(len(points), -1)
        remaining = [i for i in range(len(points)) if not np.isnan(points[i]).any()]
        rank = 0
        while remaining:
            front = [i for i in remaining if not any(
                np.all(points[j] <= points[i]) and np.any(points[j] < points[i]) for j in remaining)]
            expected[front] = rank
            remaining = [i for i in remaining if i not in front]
            rank += 1
        expected[expected == -1] = rank
        assert non_dominated_ranks(points).tolist() == expected.tolist()


def test_mobo_linear_with_all_weight_on_one_objective_decides_like_bo_on_it():
    from baselines.bayesian_optimization import BOSearcher

    rows = [{"x": i / 29, "n": 1 + (7 * i) % 8} for i in range(30)]
    multi = MultiObjectiveBOSearcher(SPACE, "err", "min", seed=3, restrict_to=rows, metrics=["err", "time"],
                                     modes=["min", "min"], scalarization="linear", weights=[1, 0],
                                     num_initial_random=4)
    single = BOSearcher(SPACE, "err", "min", seed=3, restrict_to=rows, num_initial_random=4)
    for tid in range(10):
        proposed = multi.suggest(tid)
        assert proposed == single.suggest(tid)
        err = (proposed["x"] - 0.6) ** 2 + 0.01 * proposed["n"]
        # The second objective (weight 0) carries no information: scaling makes err's scale irrelevant too.
        multi.observe_objectives(tid, proposed, None, np.array([err, 100.0 * proposed["n"]]))
        single.observe(tid, proposed, None, err)
        multi.on_trial_end(tid)
        single.on_trial_end(tid)
    assert multi.last_weights.tolist() == [1.0, 0.0]
