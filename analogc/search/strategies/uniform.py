"""Uniform precision: the same repeats in every layer, the smallest that meets the budget.

This is the baseline every plan is compared with (DESIGN §2, "the comparison that matters"):
from N = 1, probe where the measurements so far predict the threshold, bracket it, and narrow
the bracket to one integer (:mod:`..threshold`). As a strategy on its own it plans uniform
precision.
"""

from __future__ import annotations

import optuna

from ..problem import Point, SearchProblem
from ..setup import Setup
from ..threshold import crossing, smallest_feasible
from .base import SetupStrategy


def uniform_baseline(problem: SearchProblem) -> tuple[int, list[Point]]:
    """Smallest uniform N meeting the budget, and every point tried (by energy); it stops
    where converters leave no layer anything to gain (:attr:`SearchProblem.max_uniform`)."""
    max_repeats = problem.max_uniform
    curve: list[Point] = []

    def measure(n: float) -> float:
        point = problem.score(int(n), "uniform")
        curve.append(point)
        problem.on_step(f"uniform N={int(n)}: {problem.calibrated.metric.format(point.metric)}")
        return point.margin

    found = smallest_feasible(
        measure, 1, crossing(problem.acceptance), integer=True, top=max_repeats, steps=64
    )
    n = max_repeats if found is None else int(found)
    return n, sorted(curve, key=lambda p: p.energy)


class UniformBisection(SetupStrategy):
    name = "uniform"
    summary = "the same repeats in every layer: the smallest N meeting the budget"
    sampler_name = "uniform bisection"

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        return list(setup.uniform_curve)
