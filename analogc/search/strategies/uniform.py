"""Uniform precision: the same repeats in every layer, the smallest that meets the budget.

This is the baseline every plan is compared with (DESIGN §2, "the comparison that matters"):
double N to bracket the threshold, then bisect in log space. As a strategy on its own it plans
uniform precision.
"""

from __future__ import annotations

import optuna

from ..bisection import log_bisect
from ..problem import Point, SearchProblem
from ..setup import Setup
from .base import SetupStrategy


def uniform_baseline(problem: SearchProblem) -> tuple[int, list[Point]]:
    """Smallest uniform N meeting the budget, and every point tried (by energy); it stops
    where converters leave no layer anything to gain (:attr:`SearchProblem.max_uniform`)."""
    max_repeats = problem.max_uniform
    curve: list[Point] = []

    def probe(n: int) -> bool:
        point = problem.score(n, "uniform")
        curve.append(point)
        problem.on_step(f"uniform N={n}: {problem.calibrated.metric.format(point.metric)}")
        return point.feasible

    lo, hi = 0, 1
    while not probe(hi):
        lo = hi
        if hi >= max_repeats:
            return max_repeats, sorted(curve, key=lambda p: p.energy)
        hi = min(hi * 2, max_repeats)
    return log_bisect(probe, lo, hi), sorted(curve, key=lambda p: p.energy)


class UniformBisection(SetupStrategy):
    name = "uniform"
    summary = "the same repeats in every layer: the smallest N meeting the budget"
    sampler_name = "uniform bisection"

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        return list(setup.uniform_curve)
