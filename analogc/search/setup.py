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
from .settings import SENSITIVITY_EXAMPLES, SearchSettings

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
    sensitivity_examples: the examples the sensitivities were measured on (0: not
        recorded, a study written by an older analogc).
    """

    uniform: int
    uniform_curve: tuple[Point, ...]
    sensitivity: dict[str, float]
    sensitivity_drop: dict[str, float]
    analytic: dict[str, int]
    analytic_points: tuple[Point, ...]
    bounds: dict[str, tuple[int, int]]
    sensitivity_examples: int = 0

    def to_attr(self, memo: list[list[object]]) -> dict[str, Any]:
        return {
            "uniform": self.uniform,
            "uniform_curve": [asdict(p) for p in self.uniform_curve],
            "sensitivity": self.sensitivity,
            "sensitivity_drop": self.sensitivity_drop,
            "analytic": self.analytic,
            "analytic_points": [asdict(p) for p in self.analytic_points],
            "bounds": self.bounds,
            "sensitivity_examples": self.sensitivity_examples,
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
            sensitivity_examples=int(data.get("sensitivity_examples", 0)),
        )


def compute_setup(problem: SearchProblem) -> Setup:
    """Uniform baseline, sensitivities at its N, analytic allocation, search boxes."""
    from .strategies.analytic import SENSITIVITY_PRECISION, analytic_allocation, sensitivities
    from .strategies.uniform import uniform_baseline

    settings = problem.settings
    uniform, curve = uniform_baseline(problem)
    # Output MSE over every element of every example: one noise seed and a few dozen
    # examples suffice (the drops alone are measured on the same examples).
    evaluator = problem.calibrated.evaluator
    with (
        problem.meter.phase("sensitivity"),
        evaluator.subset(sensitivity_examples(settings, evaluator.examples)) as measured_on,
    ):
        problem.on_step(
            f"sensitivity: noise in one layer at a time, on up to {measured_on} examples"
        )
        found = sensitivities(problem.calibrated, uniform, settings.search_seeds[:1])
        a, drops = found.a, found.drops
        used = sorted(found.examples.values())
        if used and used[0] < measured_on:
            problem.on_step(
                f"sensitivity: {sum(u < measured_on for u in used)} of {len(used)} layers known "
                f"within {SENSITIVITY_PRECISION:.0%} on fewer examples ({used[0]} to "
                f"{used[-1]}, mean {sum(used) / len(used):.0f})"
            )
    analytic, analytic_points = analytic_allocation(problem, a, uniform)
    bounds = {}
    for n in problem.names:
        if n in problem.pins:
            bounds[n] = (problem.pins[n], problem.pins[n])
            continue
        lo = max(1, min(uniform, math.floor(analytic[n] / settings.span)))
        hi = min(settings.max_repeats, max(uniform, math.ceil(analytic[n] * settings.span), lo + 1))
        bounds[n] = (lo, hi)
    return Setup(
        uniform, tuple(curve), a, drops, analytic, tuple(analytic_points), bounds, measured_on
    )


def sensitivity_examples(settings: SearchSettings, examples: int) -> int:
    """Examples to measure sensitivities on (0: all): ``settings.sensitivity_examples``, or
    :data:`SENSITIVITY_EXAMPLES` when the data holds at least twice as many."""
    wanted = settings.sensitivity_examples
    if wanted is None:
        wanted = SENSITIVITY_EXAMPLES if examples >= 2 * SENSITIVITY_EXAMPLES else 0
    return wanted if wanted < examples else 0


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
