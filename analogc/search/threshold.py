"""The smallest scale that meets the budget, found from predictions of where it lies.

The uniform baseline searches the repeats N shared by every layer, the analytic allocation a
scale λ of its per-layer repeats; both want the smallest value whose configuration meets the
budget. Doubling from N = 1 and then bisecting to one integer costs about two probes per
doubling of the answer (16 for the demo's N = 132, some 24 for an answer in the thousands),
the last ones near the threshold, where the acceptance test cannot stop early. But how the
metric falls with repeats is known in shape: a drop from the clean value falls as a power of
the scale (1/N when it is a variance, as 1 − cosine is; 1/√N when it counts flips, as
accuracy does), a score in dB rises by a fixed amount per decade. :func:`predict_crossing`
fits that shape through the two measurements nearest the threshold; :func:`smallest_feasible`
probes where it points (slightly past it while no point meets the budget, so that one does),
and steps ever further from an end that keeps moving (a plateau), up to a bisection step.
Every answer is still bracketed by a measured feasible point and a measured infeasible one, so
a wrong model costs probes, never the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analogc.budget import Acceptance

OVERSHOOT = 1.1
"""While bracketing, probe this factor past the predicted threshold (above it going up,
below it going down), so that the probe most likely lands on the threshold's other side."""

GROWTH = (1.25, 64.0)
"""The least and the most a bracketing step moves the scale by (a factor): at least enough
to leave a plateau, at most what one extrapolation from far away deserves."""

POWER = (0.25, 2.0)
"""Exponents p of drop ∝ scale^-p a fit from one side of the threshold accepts (1/N for a
variance, 1/√N for flips); outside this p = 1 is used instead. Between a bracket's ends any
falling fit is used, and none (a bisection step) when the two do not fall."""

DB_PER_DECADE = (2.5, 40.0)
"""Slopes of a dB score per decade of scale a one-sided fit accepts (10 for a power ratio
∝ N; 10 is used outside this)."""


COLLAPSED = 10.0
"""A bound this many times the allowed drop (or this many times under it) is off the power law
a fit assumes (accuracy near chance: the demo's 94× at N = 1, MiniLM's retrieval 74×); inside
a bracket with such an end, two points on the other side give the slope instead."""


Measured = tuple[float, float]
"""(scale, margin): the acceptance bound minus the allowed drop; feasible when ≤ 0."""


def predict_crossing(points: Sequence[Measured], allowed: float, *, db: bool) -> float | None:
    """The scale where the margin is predicted to reach 0, or None when nothing fits.

    Args:
        points: the measurements so far.
        allowed: the allowed drop (the bound is margin + allowed, a positive drop).
        db: the metric is a score in dB measured from a floor (the margin is floor − score
            + k·SE, linear in log scale) rather than a drop (a power law in the scale).
    """
    pair = _nearest_pair([p for p in points if p[0] > 0])
    if pair is None:
        return None
    (x0, m0), other = pair
    # Between a bracket's ends any falling fit lands inside it; from one side, only a
    # plausible slope is trusted.
    bracket = other is not None and (m0 > 0) != (other[1] > 0)
    if db:
        slope = 10.0
        if other is not None:
            fitted = (other[1] - m0) / math.log10(x0 / other[0])  # dB gained per decade
            if (bracket and fitted > 0) or DB_PER_DECADE[0] <= fitted <= DB_PER_DECADE[1]:
                slope = fitted
            elif bracket:
                return None
        return _exp(math.log(x0) + math.log(10) * m0 / slope)
    if allowed <= 0 or m0 + allowed <= 0:
        return None
    if bracket and other is not None and other[1] + allowed <= 0:
        # the feasible end scores as clean (a saturated metric: no drop left to fit), and
        # extrapolating from the other end alone would keep probing just inside it
        return None
    if bracket and other is not None:
        local = _one_side_guess(points, (x0, m0), other, allowed)
        if local is not None:
            return local
    power = 1.0
    if other is not None and other[1] + allowed > 0:
        fitted = _power((x0, m0), other, allowed)
        if (bracket and fitted > 0) or POWER[0] <= fitted <= POWER[1]:
            power = fitted
        elif bracket:
            return None
    return _extrapolate((x0, m0), power, allowed)


def _power(a: Measured, b: Measured, allowed: float) -> float:
    """p of bound ∝ scale^-p through two measurements (both bounds positive)."""
    return (math.log(a[1] + allowed) - math.log(b[1] + allowed)) / math.log(b[0] / a[0])


def _extrapolate(a: Measured, power: float, allowed: float) -> float:
    """Where bound ∝ scale^-power through ``a`` reaches the allowed drop."""
    return _exp(math.log(a[0]) + (math.log(a[1] + allowed) - math.log(allowed)) / power)


def _one_side_guess(
    points: Sequence[Measured], lo_end: Measured, hi_end: Measured, allowed: float
) -> float | None:
    """Inside a bracket whose other end is :data:`COLLAPSED`, the crossing extrapolated from
    two points on one side that are not, when it falls inside.

    An end far past the budget (a collapsed metric: accuracy near chance, a drop of 70× the
    allowed) lies outside the power law the fit assumes; a line from it to the other end
    points just inside that end, probe after probe. Two points near the threshold on the
    same side give the local slope instead."""
    lo, hi = sorted((lo_end, hi_end))

    def distance(p: Measured) -> float:
        bound = p[1] + allowed
        return abs(math.log(bound / allowed)) if bound > 0 else math.inf

    if max(distance(lo), distance(hi)) < math.log(COLLAPSED):
        return None
    below = sorted((p for p in points if p[0] < lo[0]), key=lambda p: -p[0])
    above = sorted((p for p in points if p[0] > hi[0]), key=lambda p: p[0])
    best: tuple[float, Measured, Measured] | None = None
    for end, runner in ((lo, below[0] if below else None), (hi, above[0] if above else None)):
        if runner is None or (runner[1] > 0) != (end[1] > 0):
            continue
        far = max(distance(end), distance(runner))
        if far < math.log(COLLAPSED) and (best is None or far < best[0]):
            best = (far, end, runner)
    if best is None:
        return None
    _, end, runner = best
    power = _power(end, runner, allowed)
    if not power > 0:
        return None
    guess = _extrapolate(end, power, allowed)
    return guess if lo[0] < guess < hi[0] else None


def _exp(u: float) -> float:
    return math.exp(u) if u < 700 else math.inf


def _nearest_pair(points: Sequence[Measured]) -> tuple[Measured, Measured | None] | None:
    """The two measurements nearest the threshold in scale: the bracket's ends (the smallest
    feasible scale and the largest infeasible one) when there is a bracket, else the two on
    the one side closest to it. Interpolating between the sides beats extrapolating."""
    over = sorted((p for p in points if p[1] > 0), key=lambda p: -p[0])
    within = sorted((p for p in points if p[1] <= 0), key=lambda p: p[0])
    if over and within:
        return over[0], within[0]
    side = over or within
    if not side:
        return None
    rest = [p for p in side[1:] if p[0] != side[0][0]]
    return side[0], rest[0] if rest else None


Inner = Callable[[float, float, float | None], float | None]
"""inner(lo, hi, guess): the scale to probe strictly between lo and hi, near ``guess`` (a
geometric midpoint when None); None when nothing between them is worth probing."""


def smallest_feasible(
    measure: Callable[[float], float],
    start: float,
    predict: Callable[[Sequence[Measured]], float | None],
    *,
    integer: bool = False,
    inner: Inner | None = None,
    top: float = math.inf,
    steps: int = 12,
    overshoot: float = OVERSHOOT,
    least_growth: float = GROWTH[0],
) -> float | None:
    """The smallest scale found with ``measure(scale) <= 0``, or None when none up to ``top``
    (or within ``steps`` bracketing steps) is.

    Args:
        measure: the margin at a scale (feasible when ≤ 0); assumed to fall as it grows.
        start: the first scale probed.
        predict: where the margin crosses 0, from the measurements so far.
        integer: scales are integers ≥ 1 (repeats); the answer is then exact.
        inner: chooses the probe inside a bracket (see :data:`Inner`; for integers,
            :func:`integer_inner` unless given).
        top: the largest scale allowed.
        steps: bracketing steps allowed in either direction.
        overshoot: how far past the predicted threshold a bracketing probe aims (a factor;
            1 when the start is known to lie next to the threshold, as in confirmation).
        least_growth: the least factor a bracketing step moves the scale by. Integer steps
            also move at least 1, 2, 4, ... (the i-th step 2^i), so that a plateau the
            predictions keep pointing just past is left at a gallop.
    """
    if inner is None:
        if not integer:
            raise ValueError("a continuous scale needs its own inner()")
        inner = integer_inner
    up = math.ceil if integer else float
    down = math.floor if integer else float
    bottom = 1.0 if integer else 0.0
    points: list[Measured] = []

    def probe(x: float) -> bool:
        margin = measure(x)
        points.append((x, margin))
        return margin <= 0

    lo: float | None = None
    hi: float | None = None
    x = float(up(start))
    if probe(x):
        hi = x
        for step in range(steps):  # down until a probe fails
            guess = predict(points)
            target = hi / 2 if guess is None else guess / overshoot
            x = min(hi / least_growth, max(hi / GROWTH[1], target))
            x = float(max(bottom, down(min(x, hi - 2**step))) if integer else x)
            if x < bottom or x >= hi:
                return hi
            if not probe(x):
                lo = x
                break
            hi = x
        else:
            return hi
    else:
        lo = x
        for step in range(steps):  # up until a probe passes
            if lo >= top:
                return None
            guess = predict(points)
            target = lo * 2 if guess is None else guess * overshoot
            x = max(lo * least_growth, min(lo * GROWTH[1], target))
            x = float(min(top, up(max(x, lo + 2**step) if integer else x)))
            if not probe(x):
                lo = x
                continue
            hi = x
            break
        else:
            return None
    assert lo is not None and hi is not None
    # Once the same end has moved twice running (a plateau, or a fit that keeps pointing just
    # inside that end), the probe steps away from it by a gap that doubles each time (1, 2, 4,
    # ... integers, or 1%, 2%, 4%, ...), never past the bracket's geometric midpoint: one-sided
    # convergence becomes a gallop, and no worse than bisection.
    moved, run = "", 0
    while True:
        guess = predict(points)
        if guess is not None and run >= 2:
            units = 2 ** (run - 1)
            middle = math.sqrt(lo * hi)
            if moved == "hi":
                pushed = min(hi - units, hi / 1.01**units) if integer else hi / 1.01**units
                guess = min(guess, pushed) if pushed > middle else None
            else:
                pushed = max(lo + units, lo * 1.01**units) if integer else lo * 1.01**units
                guess = max(guess, pushed) if pushed < middle else None
        x_next = inner(lo, hi, guess)
        if x_next is None:
            return hi
        end = "hi" if probe(x_next) else "lo"
        if end == "hi":
            hi = x_next
        else:
            lo = x_next
        run = run + 1 if end == moved else 1
        moved = end


def scale_inner(config: Callable[[float], object], tolerance: float) -> Inner:
    """The inner() of a continuous scale whose configurations are ``config(scale)``: the
    predicted scale (kept 1% inside the bracket), else the geometric midpoint; none once the
    bracket is within ``tolerance`` (a factor) or no scale in it gives a configuration of its
    own."""

    def inner(lo: float, hi: float, guess: float | None) -> float | None:
        if hi / lo <= tolerance:
            return None
        ends = (config(lo), config(hi))
        options = [] if guess is None else [min(hi / 1.01, max(lo * 1.01, guess))]
        for scale in [*options, math.sqrt(lo * hi)]:
            if config(scale) not in ends:
                return scale
        return None

    return inner


def integer_inner(lo: float, hi: float, guess: float | None) -> float | None:
    """The integer to probe in (lo, hi): the predicted smallest feasible one, ⌈guess⌉, or the
    geometric midpoint (repeats act on the noise as 1/√N)."""
    if hi - lo <= 1:
        return None
    if guess is None or not math.isfinite(guess):
        return float(max(lo + 1, min(hi - 1, round(math.sqrt(max(lo, 1) * hi)))))
    return float(max(lo + 1, min(hi - 1, math.ceil(guess - 1e-9))))


def crossing(acceptance: Acceptance) -> Callable[[Sequence[Measured]], float | None]:
    """The threshold predictor for an acceptance rule: a drop's power law, or a floor in dB."""

    def predict(points: Sequence[Measured]) -> float | None:
        return predict_crossing(points, acceptance.allowed, db=acceptance.floor is not None)

    return predict
