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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import optuna

from analogc.passes.noise import temporal_scale

from ..problem import Point, SearchProblem
from ..setup import Setup
from ..threshold import crossing, scale_inner, smallest_feasible
from .base import SetupStrategy

if TYPE_CHECKING:
    from analogc.calibrated import CalibratedModel


SENSITIVITY_PRECISION = 0.1
"""A layer's sensitivity stops once its relative standard error is this small. The
allocation's energy is at its minimum in the sensitivities, so an error ε in one costs only
O(ε²) of energy (10%: well under 1%); and the scale is found against the real metric, so an
error never costs the budget."""

MIN_SENSITIVITY_EXAMPLES = 16
"""The fewest examples a layer's sensitivity is measured on before it may stop."""

MIN_SENSITIVITY_BATCHES = 4
"""The fewest batches behind a sensitivity's standard error before it may stop (batches are
its samples: on fewer, the error is not known well enough to trust)."""


@dataclass(frozen=True)
class Sensitivities:
    """Attributes:
    a: per layer, relative output noise power at N = 1 (``a_l``).
    drops: per layer, the metric drop at the reference repeats with noise in it alone.
    examples: per layer, the examples it was measured on.
    """

    a: dict[str, float]
    drops: dict[str, float]
    examples: dict[str, int]


def sensitivities(
    calibrated: CalibratedModel, reference: int, seeds: Sequence[int]
) -> Sensitivities:
    """Per layer: relative output noise power at N = 1 (``a_l``), and the metric drop at N_ref.

    The noise is injected into one layer at a time at ``reference`` repeats; the output noise
    power relative to the clean output's power is multiplied by ``reference`` (MSE ∝ 1/N).
    Sequentially: batch by batch, spread over the data (:func:`spread_order`), until the
    layer's ``a_l`` is known within :data:`SENSITIVITY_PRECISION` (at least
    :data:`MIN_SENSITIVITY_EXAMPLES` examples in :data:`MIN_SENSITIVITY_BATCHES` batches), or
    every batch has run (then exactly the mean over all of them).
    """
    evaluator = calibrated.evaluator
    clean = evaluator.clean_outputs
    power = float(np.mean([np.mean(np.square(batch[0], dtype=np.float64)) for batch in clean]))
    clean_scores = (
        []
        if evaluator.metric.infinite_clean
        else [evaluator.example_scores(c, b) for b, c in enumerate(clean)]
    )
    # The temporal noise's own effect: against the outputs with only the static terms (each
    # seed is a chip), which are the clean outputs when there are none; run when first needed.
    off = dict.fromkeys(calibrated.names, 0.0)
    static: dict[tuple[int, int], list[np.ndarray]] = {}

    def base(seed: int, b: int) -> list[np.ndarray]:
        if not calibrated.static_terms:
            return clean[b]
        if (seed, b) not in static:
            static[seed, b] = evaluator.batch_outputs(off, seed, b)
        return static[seed, b]

    order = [(seed, b) for b in spread_order(len(clean)) for seed in seeds]
    result = Sensitivities({}, {}, {})
    for name in calibrated.names:
        scales = dict(off)
        scales[name] = temporal_scale(reference, calibrated.base_plan.e1_of(name))
        mse: dict[tuple[int, int], float] = {}
        scores: dict[tuple[int, int], np.ndarray] = {}
        for seed, b in order:
            outputs = evaluator.batch_outputs(scales, seed, b)
            mse[seed, b] = float(np.mean((outputs[0] - base(seed, b)[0]) ** 2, dtype=np.float64))
            scores[seed, b] = evaluator.example_scores(outputs, b)
            if _known(mse, evaluator.batch_examples):
                break
        # in the data's order: every batch run gives exactly the mean over the data
        done = sorted(mse, key=lambda k: (k[1], seeds.index(k[0])))
        result.a[name] = float(np.mean([mse[k] for k in done])) / max(power, 1e-300) * reference
        batches = list(dict.fromkeys(k[1] for k in done))
        clean_score = (
            math.inf
            if evaluator.metric.infinite_clean
            else float(np.concatenate([clean_scores[b] for b in batches]).mean())
        )
        noisy = [
            float(np.concatenate([scores[s, b] for b in batches if (s, b) in scores]).mean())
            for s in dict.fromkeys(k[0] for k in done)
        ]
        result.drops[name] = clean_score - float(np.mean(noisy))
        result.examples[name] = sum(evaluator.batch_examples[b] for b in batches)
    return result


def _known(mse: Mapping[tuple[int, int], float], batch_examples: Sequence[int]) -> bool:
    """Whether the mean of ``mse`` (per (seed, batch)) is within
    :data:`SENSITIVITY_PRECISION` of its own value, one standard error, on enough data."""
    examples = sum(batch_examples[b] for b in {b for _, b in mse})
    if len(mse) < MIN_SENSITIVITY_BATCHES or examples < MIN_SENSITIVITY_EXAMPLES:
        return False
    values = np.fromiter(mse.values(), np.float64)
    mean = float(values.mean())
    if mean <= 0:
        return False
    return float(values.std(ddof=1)) / math.sqrt(len(values)) <= SENSITIVITY_PRECISION * mean


def spread_order(n: int) -> list[int]:
    """0..n-1 in an order whose every prefix spreads over the range (van der Corput): the
    first batches of a sequential measurement sample all of the data, not its start (data
    may be sorted by class)."""
    order: list[int] = []
    seen: set[int] = set()
    bits = max(1, (n - 1).bit_length())
    for j in range(1 << bits):
        i = int(f"{j:0{bits}b}"[::-1], 2) * n >> bits
        if i not in seen:
            seen.add(i)
            order.append(i)
    return order


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

    total = sum(macs[n] for n in names)
    start = uniform * total / sum(direction[n] * macs[n] for n in names)  # uniform's energy
    found = smallest_feasible(
        measure, start, crossing(problem.acceptance), inner=scale_inner(config, 1.03)
    )
    if found is None:  # nothing met the budget: the most repeats tried
        return max(points, key=lambda p: p.energy).repeats, points
    return config(found), points


class AnalyticAllocation(SetupStrategy):
    name = "analytic"
    summary = "per-layer repeats ∝ sqrt(sensitivity / MACs), scaled to the budget"
    sampler_name = "analytic allocation"

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        return list(setup.analytic_points)
