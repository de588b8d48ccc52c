"""What a search found, and how the plan is chosen among the configurations evaluated."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .cost import PhaseCost
from .problem import Point
from .settings import SearchSettings

if TYPE_CHECKING:
    from .confirm import Confirmation


@dataclass
class SearchResult:
    """What the search found; every figure here was measured on the search seeds.

    Attributes:
        repeats: the plan: the cheapest configuration meeting the budget (else the one
            closest to meeting it).
        feasible: whether the plan meets the budget.
        uniform_repeats, uniform_feasible: the uniform baseline and whether it meets it.
        analytic: the analytic allocation; ``sensitivity``/``sensitivity_drop`` per layer,
            measured on ``sensitivity_examples`` examples (0: not recorded).
        uniform_curve: the uniform configurations tried, by energy.
        trials: the configurations the strategy evaluated.
        front: those no other beats on both energy and metric.
        sampler: the strategy's method; ``finished_trials``/``skipped_trials``: trial counts.
        evaluations: noisy batch evaluations this process ran; ``wall_s``: its time.
        resumed: the setup was read from the study (a rerun, or a later worker).
        study_evaluations: noisy batch evaluations of every run of the study, this one
            included (None when not recorded).
        sequential: configurations were evaluated seed by seed, stopped once decided.
        confirmation: the plan and the uniform baseline on every example and seed (what
            ``repeats``, ``feasible`` and ``uniform_repeats`` are); None: not confirmed.
        cost: example-passes and seconds per phase of the search.
    """

    repeats: dict[str, int]
    feasible: bool
    uniform_repeats: int
    uniform_feasible: bool
    analytic: dict[str, int]
    sensitivity: dict[str, float]
    sensitivity_drop: dict[str, float]
    uniform_curve: list[Point]
    trials: list[Point]
    front: list[Point]
    study_name: str
    storage: str | None
    sampler: str
    finished_trials: int
    skipped_trials: int
    evaluations: int
    wall_s: float
    settings: SearchSettings
    resumed: bool = False
    sensitivity_examples: int = 0
    study_evaluations: int | None = None
    sequential: bool = False
    confirmation: Confirmation | None = None
    cost: list[PhaseCost] = field(default_factory=list)


def choose(points: Sequence[Point]) -> Point:
    """The cheapest evaluated configuration meeting the budget, else the least infeasible."""
    evaluated = [p for p in points if p.source != "inferred"]
    feasible = [p for p in evaluated if p.feasible]
    if feasible:
        return min(feasible, key=lambda p: (p.energy, p.margin))
    return min(evaluated or points, key=lambda p: (p.margin, p.energy))


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """Configurations no other one beats on both energy and metric, among those evaluated
    (an ``inferred`` point's metric is another configuration's: it is no measurement)."""
    measured = [p for p in points if p.source != "inferred"]
    ordered = sorted(measured, key=lambda p: (p.energy, -p.metric))
    front, best_metric = [], -math.inf
    for p in ordered:
        if p.metric > best_metric:
            front.append(p)
            best_metric = p.metric
    return front
