"""Analytic allocation from per-layer sensitivities (DESIGN §2, "choosing per-layer repeats").

A first-order model ``Δ ≈ Σ_l a_l / N_l``, with ``a_l`` measured by injecting noise into one
layer at a time, gives ``N_l ∝ sqrt(a_l / MAC_l)`` (Lagrange) when ``Σ N_l·MAC_l`` is minimised
under ``Σ a_l/N_l ≤ B``; the scale is found against the real metric, probing where the
measurements so far predict the threshold (:mod:`..threshold`). Cheap, and the warm start of
the Optuna strategies. As a strategy on its own it plans this allocation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import optuna

from analogc.passes.noise import temporal_scale

from ..problem import Point, SearchProblem
from ..setup import Setup
from ..threshold import crossing, smallest_feasible
from .base import SetupStrategy

if TYPE_CHECKING:
    from analogc.calibrated import CalibratedModel


def sensitivities(
    calibrated: CalibratedModel, reference: int, seeds: Sequence[int]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per layer: relative output noise power at N = 1 (``a_l``), and the metric drop at N_ref.

    The noise is injected into one layer at a time at ``reference`` repeats; the output noise
    power relative to the clean output's power is multiplied by ``reference`` (MSE ∝ 1/N).
    """
    evaluator = calibrated.evaluator
    clean = evaluator.clean_outputs
    power = float(np.mean([np.mean(np.square(batch[0], dtype=np.float64)) for batch in clean]))
    # The temporal noise's own effect: against the outputs with only the static terms (each
    # seed is a chip), which are the clean outputs when there are none.
    off = dict.fromkeys(calibrated.names, 0.0)
    static = {s: evaluator.outputs(off, s) for s in seeds} if calibrated.static_terms else {}
    a: dict[str, float] = {}
    drops: dict[str, float] = {}
    for name in calibrated.names:
        scales = dict(off)
        scales[name] = temporal_scale(reference, calibrated.base_plan.e1_of(name))
        mse, values = [], []
        for seed in seeds:
            outputs = evaluator.outputs(scales, seed)
            base = static.get(seed, clean)
            mse.append(
                np.mean(
                    [
                        np.mean((o[0] - c[0]) ** 2, dtype=np.float64)
                        for o, c in zip(outputs, base, strict=True)
                    ]
                )
            )
            values.append(evaluator.score(outputs))
        a[name] = float(np.mean(mse)) / max(power, 1e-300) * reference
        drops[name] = evaluator.clean - float(np.mean(values))
    return a, drops


def analytic_allocation(
    problem: SearchProblem, a: Mapping[str, float], uniform: int
) -> tuple[dict[str, int], list[Point]]:
    """N_l = λ·sqrt(a_l/MAC_l), with the smallest λ (within 3%) meeting the budget,
    each layer capped where its converter's floor makes more repeats useless; pinned layers
    stay at their pins."""
    names, caps, pins = problem.free, problem.caps, problem.pins
    macs = problem.calibrated.macs
    direction = {n: math.sqrt(max(a[n], 1e-30) / max(macs[n], 1)) for n in names}

    def config(lam: float) -> dict[str, int]:
        free = {n: int(min(caps[n], max(1, round(lam * direction[n])))) for n in names}
        return {**free, **pins}

    points: list[Point] = []

    def measure(lam: float) -> float:
        point = problem.score(config(lam), "analytic")
        points.append(point)
        problem.on_step(f"analytic λ={lam:.3g}: Ē={point.energy:.4g}")
        return point.margin

    def inner(lo: float, hi: float, guess: float | None) -> float | None:
        """Inside (lo, hi): the predicted λ, else the geometric midpoint; none once the bracket
        is within 3% or no λ in it gives a configuration of its own."""
        if hi / lo <= 1.03:
            return None
        ends = (config(lo), config(hi))
        options = [] if guess is None else [min(hi / 1.01, max(lo * 1.01, guess))]
        for lam in [*options, math.sqrt(lo * hi)]:
            if config(lam) not in ends:
                return lam
        return None

    total = sum(macs[n] for n in names)
    start = uniform * total / sum(direction[n] * macs[n] for n in names)  # uniform's energy
    found = smallest_feasible(measure, start, crossing(problem.acceptance), inner=inner)
    if found is None:  # nothing met the budget: the most repeats tried
        return max(points, key=lambda p: p.energy).repeats, points
    return config(found), points


class AnalyticAllocation(SetupStrategy):
    name = "analytic"
    summary = "per-layer repeats ∝ sqrt(sensitivity / MACs), scaled to the budget"
    sampler_name = "analytic allocation"

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        return list(setup.analytic_points)
