"""The work every strategy starts from, done once per study and kept in it.

The uniform baseline (:mod:`.strategies.uniform`), the per-layer sensitivities and the analytic
allocation (:mod:`.strategies.analytic`), and each layer's search box around the allocation.
It lives in the study's user attributes, so rerunning a command resumes without redoing it and
several processes sharing a storage share one setup.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import optuna

from .problem import Point, SearchProblem

SETUP_KEY = "analogc_setup"


@dataclass(frozen=True)
class Setup:
    """Attributes:
    uniform: the smallest uniform repeats meeting the budget (``max_repeats`` if none does).
    uniform_curve: every uniform configuration tried, by energy.
    sensitivity: per layer, relative output noise power at N = 1 (``a_l``).
    sensitivity_drop: per layer, the metric drop with noise in that layer only at ``uniform``.
    analytic: the analytic allocation; ``analytic_points``: the configurations its
        bisection tried.
    bounds: per layer, the box ``[lo, hi]`` samplers search in (``[N, N]`` for a layer
        pinned at N).
    """

    uniform: int
    uniform_curve: tuple[Point, ...]
    sensitivity: dict[str, float]
    sensitivity_drop: dict[str, float]
    analytic: dict[str, int]
    analytic_points: tuple[Point, ...]
    bounds: dict[str, tuple[int, int]]

    def to_attr(self, memo: list[list[object]]) -> dict[str, Any]:
        return {
            "uniform": self.uniform,
            "uniform_curve": [asdict(p) for p in self.uniform_curve],
            "sensitivity": self.sensitivity,
            "sensitivity_drop": self.sensitivity_drop,
            "analytic": self.analytic,
            "analytic_points": [asdict(p) for p in self.analytic_points],
            "bounds": self.bounds,
            "memo": memo,
        }

    @classmethod
    def from_attr(cls, data: dict[str, Any]) -> Setup:
        return cls(
            uniform=int(data["uniform"]),
            uniform_curve=tuple(Point(**p) for p in data["uniform_curve"]),
            sensitivity={n: float(v) for n, v in data["sensitivity"].items()},
            sensitivity_drop={n: float(v) for n, v in data["sensitivity_drop"].items()},
            analytic={n: int(v) for n, v in data["analytic"].items()},
            analytic_points=tuple(Point(**p) for p in data.get("analytic_points", [])),
            bounds={n: (int(b[0]), int(b[1])) for n, b in data["bounds"].items()},
        )


def compute_setup(problem: SearchProblem) -> Setup:
    """Uniform baseline, sensitivities at its N, analytic allocation, search boxes."""
    from .strategies.analytic import analytic_allocation, sensitivities
    from .strategies.uniform import uniform_baseline

    settings = problem.settings
    uniform, curve = uniform_baseline(problem)
    problem.on_step("sensitivity: noise in one layer at a time")
    # Output MSE over every element of every example: one noise seed suffices.
    with problem.meter.phase("sensitivity"):
        a, drops = sensitivities(problem.calibrated, uniform, settings.search_seeds[:1])
    analytic, analytic_points = analytic_allocation(problem, a, uniform)
    bounds = {}
    for n in problem.names:
        if n in problem.pins:
            bounds[n] = (problem.pins[n], problem.pins[n])
            continue
        lo = max(1, min(uniform, math.floor(analytic[n] / settings.span)))
        hi = min(settings.max_repeats, max(uniform, math.ceil(analytic[n] * settings.span), lo + 1))
        bounds[n] = (lo, hi)
    return Setup(uniform, tuple(curve), a, drops, analytic, tuple(analytic_points), bounds)


def load_or_compute_setup(problem: SearchProblem, study: optuna.Study) -> tuple[Setup, bool]:
    """The study's setup (recalling the scores it holds), or a new one stored in it.

    Returns:
        The setup, and True when it was computed now (the caller enqueues the warm starts).
    """
    stored = study.user_attrs.get(SETUP_KEY)
    if stored is not None:
        problem.on_step("resuming: setup read from the study")
        problem.recall(stored["memo"])
        return Setup.from_attr(stored), False
    setup = compute_setup(problem)
    study.set_user_attr(SETUP_KEY, setup.to_attr(problem.memo_rows()))
    return setup, True
