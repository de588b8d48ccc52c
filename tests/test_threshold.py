"""The threshold search behind the uniform baseline and the analytic allocation: the exact
smallest feasible integer whatever the metric's shape, in few probes when the shape is the
expected one (analogc.search.threshold)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analogc.search.confirm import confirm_uniform
from analogc.search.threshold import predict_crossing, smallest_feasible

ALLOWED = 0.01


def power_law(threshold: int, power: float, quantum: float = 0.0) -> Callable[[float], float]:
    """Margin of a drop bound ∝ N^-power that meets ALLOWED from ``threshold`` on, capped
    like a saturated metric, optionally rounded down to plateaus of ``quantum``."""
    scale = ALLOWED * threshold**power

    def margin(n: float) -> float:
        bound = min(0.9, scale * n**-power)
        if quantum:
            bound = (math.floor(bound / quantum) + 0.5) * quantum
        return bound - ALLOWED

    return margin


def log_bisect(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest N in (lo, hi] with ``ok(N)``, given ``ok(hi)`` and not ``ok(lo)``,
    splitting at the geometric mean (what analogc searched with before the predictions)."""
    while hi - lo > 1:
        mid = max(lo + 1, min(hi - 1, round(math.sqrt(max(lo, 1) * hi))))
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def doubling_then_bisection(feasible: Callable[[int], bool], top: int) -> int:
    """What the uniform baseline did before the predictions: double from 1, then bisect."""
    lo, hi = 0, 1
    while not feasible(hi):
        lo, hi = hi, min(2 * hi, top)
    return log_bisect(feasible, lo, hi)


def search(margin: Callable[[float], float], top: int = 2**20) -> tuple[int | None, list[int]]:
    probes: list[int] = []

    def measure(n: float) -> float:
        assert n == int(n) and 1 <= n <= top, n
        probes.append(int(n))
        return margin(n)

    found = smallest_feasible(
        measure,
        1,
        lambda points: predict_crossing(points, ALLOWED, db=False),
        integer=True,
        top=top,
        steps=64,
    )
    return (None if found is None else int(found)), probes


def continuous_inner(lo: float, hi: float, guess: float | None) -> float | None:
    """A continuous scale's inner(): the guess kept 1% inside, within 3%."""
    if hi / lo <= 1.03:
        return None
    return math.sqrt(lo * hi) if guess is None else min(hi / 1.01, max(lo * 1.01, guess))


def exact_threshold(margin: Callable[[float], float], top: int = 2**20) -> int:
    return doubling_then_bisection(lambda n: margin(n) <= 0, top)


@pytest.mark.parametrize("power", [0.5, 1.0])
@pytest.mark.parametrize("threshold", [3, 50, 1000, 20000])
def test_a_smooth_power_law_is_found_exactly_in_a_few_probes(power: float, threshold: int) -> None:
    margin = power_law(threshold, power)
    found, probes = search(margin)
    assert found == exact_threshold(margin)
    assert len(probes) <= 6, probes
    assert len(set(probes)) == len(probes)  # nothing measured twice


@pytest.mark.parametrize("power", [0.5, 1.0])
@pytest.mark.parametrize("threshold", [7, 132, 2500, 7000, 20000])
def test_plateaus_cost_no_more_probes_than_doubling_and_bisection(
    power: float, threshold: int
) -> None:
    """A metric with a few hundred examples moves in steps: the fit keeps pointing at a
    plateau's edge, and the gallop away from it must not cost more than plain bisection."""
    margin = power_law(threshold, power, quantum=0.0005)
    old: list[int] = []
    answer = doubling_then_bisection(lambda n: (old.append(n), margin(n) <= 0)[1], 2**20)
    found, probes = search(margin)
    assert found == answer
    assert len(probes) <= len(old), (probes, old)


@settings(max_examples=200, deadline=None)
@given(
    cut=st.integers(1, 5000),
    values=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
)
def test_any_monotone_margin_gives_the_exact_smallest_feasible_integer(
    cut: int, values: list[float]
) -> None:
    """Whatever the shape (steps, cliffs, flat stretches the fit cannot read), the answer is
    bracketed by measurements: a wrong model costs probes, never the answer."""
    levels = sorted(values, reverse=True)

    def margin(n: float) -> float:
        if n >= cut:
            return -min(levels) * 0.01
        # decreasing, positive, with arbitrary flat stretches below the cut
        return ALLOWED * (1 + levels[min(len(levels) - 1, int(math.log2(n)))]) + (cut - n) * 1e-9

    found, probes = search(margin, top=8192)
    assert found == cut
    assert len(probes) <= 60


def test_none_when_nothing_up_to_the_top_is_feasible() -> None:
    found, probes = search(lambda n: 0.5, top=300)
    assert found is None
    assert probes[-1] == 300


def test_a_feasible_start_walks_down_to_the_threshold() -> None:
    """The analytic allocation starts at uniform's energy, usually feasible: the search goes
    down until a probe fails, then narrows (here on a continuous scale)."""
    margin = power_law(40, 1.0)

    probes: list[float] = []
    found = smallest_feasible(
        lambda x: (probes.append(x), margin(x))[1],
        400.0,
        lambda points: predict_crossing(points, ALLOWED, db=False),
        inner=continuous_inner,
    )
    assert found is not None and 40 <= found <= 40 * 1.03
    assert len(probes) <= 4, probes


def test_a_db_floor_is_predicted_from_its_slope_per_decade() -> None:
    """SQNR rises ~10 dB per decade of repeats: the margin from a 30 dB floor at 10 repeats,
    15 dB short, points to 10^2.5 ≈ 316 repeats; two points fit their own slope."""
    assert predict_crossing([(10.0, 15.0)], 0.0, db=True) == pytest.approx(10**2.5)
    # 20 dB per decade measured between 10 and 100: 10 dB short at 100 -> 100·10^0.5
    guess = predict_crossing([(10.0, 30.0), (100.0, 10.0)], 0.0, db=True)
    assert guess == pytest.approx(100 * 10**0.5)


def test_the_power_is_fitted_from_two_points_and_bounded_from_one_side() -> None:
    # drop ∝ 1/√N through (100, 0.04) and (400, 0.02): reaches 0.01 at 1600
    points = [(100.0, 0.04 - ALLOWED), (400.0, 0.02 - ALLOWED)]
    assert predict_crossing(points, ALLOWED, db=False) == pytest.approx(1600)
    # an implausible slope from one side (p = 10) falls back on p = 1
    points = [(100.0, 0.04 - ALLOWED), (101.0, 0.04 / 1.01**10 - ALLOWED)]
    expected = 101 * (0.04 / 1.01**10) / ALLOWED
    assert predict_crossing(points, ALLOWED, db=False) == pytest.approx(expected)
    # nothing to fit: no drop at all
    assert predict_crossing([(5.0, -ALLOWED)], ALLOWED, db=False) is None


class _Full:
    """Stands in for confirmation's FullRule: the full data's margin at uniform N."""

    def __init__(self, margin: Callable[[float], float]) -> None:
        self.margin = margin
        self.probes: list[int] = []

        class Problem:
            class acceptance:
                allowed = ALLOWED
                floor = None

        self.problem = Problem

    def __call__(self, n: int, source: str) -> object:
        self.probes.append(n)
        margin = self.margin(n)
        return type("P", (), {"margin": margin, "feasible": margin <= 0})()


@pytest.mark.parametrize("power", [0.5, 1.0])
@pytest.mark.parametrize(
    ("explored", "threshold"), [(71, 71), (71, 72), (71, 79), (71, 66), (71, 50), (20, 400)]
)
def test_confirmation_finds_the_full_datas_uniform_n_from_the_explored_one(
    explored: int, threshold: int, power: float
) -> None:
    """The explored N is near the full data's: N and N − 1 settle a right one, a few probes a
    wrong one (ResNet-50: explored 71 on a third of the data, the doubling and bisection then
    took some 8 configurations on all 512 examples)."""
    full = _Full(lambda n: ALLOWED * ((threshold - 0.5) / n) ** power - ALLOWED)
    n = confirm_uniform(full, explored, 10_000)  # type: ignore[arg-type]
    assert n == threshold, full.probes
    if threshold == explored:
        assert sorted(set(full.probes)) == [explored - 1, explored]
    elif abs(math.log(threshold / explored)) < 0.15:
        # N, N − 1 (always probed first), then the predictions: at most 3 more
        assert len(set(full.probes)) <= 5, full.probes
    old: list[int] = []
    lo_hi = doubling_then_bisection(lambda m: (old.append(m), full.margin(m) <= 0)[1], 10_000)
    assert lo_hi == threshold
    assert len(set(full.probes)) <= len(set(old)), (full.probes, old)


@given(
    steps=st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True),
    explored=st.integers(1, 600),
)
@settings(max_examples=200, deadline=None)
def test_confirmation_is_exact_for_any_monotone_margin(steps: list[int], explored: int) -> None:
    cut = max(steps)  # the margin steps down at each of ``steps``, below 0 at the last

    def margin(n: float) -> float:
        return 0.01 * sum(n < s for s in steps) - ALLOWED / 2

    full = _Full(margin)
    assert confirm_uniform(full, explored, 1000) == cut  # type: ignore[arg-type]


def test_confirmation_tries_n_minus_1_first_even_when_the_margin_predicts_far_below() -> None:
    """A cliff (well within the budget at N, over it at N − 1) predicts a threshold far
    below N; N − 1 is still probed first: when exploration ran on every example it has
    measured both already, and the confirmation then runs nothing new."""
    full = _Full(lambda n: -0.009 if n >= 71 else 0.01)
    assert confirm_uniform(full, 71, 10_000) == 71  # type: ignore[arg-type]
    assert full.probes == [71, 70]


def test_a_saturated_feasible_end_gives_a_bisection_step_not_an_extrapolation() -> None:
    """MiniLM's retrieval: from N = 16 on it scores as clean (margin = −allowed). A bracket
    whose feasible end is saturated cannot be fitted; extrapolating from the infeasible end
    pointed past the bracket every time and the search crept down from 64 (17 probes)."""
    table = {1: 0.9912, 6: 0.08785, 8: 0.00214, 9: -0.00367, 10: -0.00718}

    def margin(n: float) -> float:
        return table.get(int(n), -ALLOWED if n > 10 else 0.1)

    found, probes = search(margin, top=65536)
    assert found == 9 and len(probes) <= 9, probes


@pytest.mark.parametrize("power", [1.5, 2.0, 3.0])
def test_an_end_collapsed_far_past_the_budget_does_not_steer_the_fit(power: float) -> None:
    """A metric that collapses below some scale (accuracy at chance, retrieval at 0.26: a
    drop 75× the allowed) is off the power law: a line from there to the feasible end points
    just inside that end, probe after probe (nine probes here, as MiniLM's analytic scale
    took ten). The two feasible points nearest the threshold give the local slope instead."""
    threshold = 6.0

    def margin(x: float) -> float:
        bound = ALLOWED * (threshold / x) ** power if x >= 0.7 * threshold else 0.75
        return bound - ALLOWED

    probes: list[float] = []
    found = smallest_feasible(
        lambda x: (probes.append(x), margin(x))[1],
        10.0,
        lambda points: predict_crossing(points, ALLOWED, db=False),
        inner=continuous_inner,
    )
    assert found is not None and threshold <= found <= threshold * 1.03
    assert len(probes) <= 5, probes


def test_a_one_sided_fit_inside_a_bracket_needs_both_points_nearer_than_the_far_end() -> None:
    collapsed, near, nearer = (3.0, 0.74), (10.0, 0.0034 - ALLOWED), (8.0, 0.0056 - ALLOWED)
    guess = predict_crossing([near, collapsed, nearer], ALLOWED, db=False)
    slope = math.log(0.0056 / 0.0034) / math.log(10.0 / 8.0)
    assert guess == pytest.approx(8.0 * (0.0056 / ALLOWED) ** (1 / slope))
    mild = (3.0, 0.05 - ALLOWED)  # five times the allowed: on the power law, the ends are used
    ends = predict_crossing([near, mild, nearer], ALLOWED, db=False)
    assert ends != pytest.approx(guess) and 3.0 < ends < 8.0  # type: ignore[operator]
