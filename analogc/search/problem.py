"""What every strategy works on: the model's configurations, scored on the search seeds.

A :class:`SearchProblem` prices a configuration (energy per MAC, from MACs alone) and scores
it (the metric under noise over the search seeds, common to every configuration), remembering
every score; :meth:`SearchProblem.inferred` gives the verdicts monotonicity implies without a
run. Strategies only call these; they never run the model themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analogc.budget import MIN_SEQUENTIAL_SEEDS, Acceptance
from analogc.runtime.evaluate import Evaluation
from analogc.workers import Crew

from .cost import CostMeter

if TYPE_CHECKING:
    from analogc.calibrated import CalibratedModel

    from .settings import SearchSettings


@dataclass(frozen=True)
class Point:
    """One evaluated configuration.

    Attributes:
        repeats: layer -> repeats.
        energy: Ē, energy per MAC in the hardware's unit.
        metric: mean metric over the search seeds.
        margin: acceptance bound minus the allowed drop (feasible when <= 0).
        source: what proposed it (``uniform``, ``analytic``, ``sampler``, ``local``, or
            ``inferred`` when its verdict came from monotonicity, not a run).
    """

    repeats: dict[str, int]
    energy: float
    metric: float
    margin: float
    source: str
    seeds: int = 0
    """Noise seeds it was evaluated on (fewer than the search's when a sequential evaluation
    stopped it early; 0 where not recorded)."""

    @property
    def feasible(self) -> bool:
        return self.margin <= 0


class SearchProblem:
    """The configurations of one calibrated model, priced and scored on the search seeds.

    Args:
        calibrated: the model, calibrated on its data under its hardware.
        acceptance: the rule that accepts a configuration.
        settings: the search settings (seeds, bounds, trials, ...).
        on_step: receives a line for each step worth telling the user.
        crew: the other workers on the study, if any (:mod:`analogc.workers`).
    """

    def __init__(
        self,
        calibrated: CalibratedModel,
        acceptance: Acceptance,
        settings: SearchSettings,
        on_step: Callable[[str], None] = lambda msg: None,
        crew: Crew | None = None,
    ) -> None:
        self.calibrated = calibrated
        self.acceptance = acceptance
        self.settings = settings
        self.on_step = on_step
        self.seeds = list(settings.search_seeds)
        self.names = calibrated.names
        self.pins = dict(calibrated.pins)
        """Layers pinned by a per-layer rule: every configuration keeps them at their pins."""
        self.free = calibrated.free
        """The layers the search moves (and the uniform baseline sets to one N)."""
        self.memo: dict[tuple[int, ...], tuple[float, float]] = {}
        self.caps = calibrated.useful_repeats(settings.max_repeats)
        """Per layer, the most repeats that still reduce its noise (a converter's floor)."""
        self.crew = crew or Crew.alone()
        self.sequential = settings.sequential and len(self.seeds) > MIN_SEQUENTIAL_SEEDS
        """Evaluate seed by seed, stopping once the one-sided test is decided (the search
        turns it off for strategies where it is not sound; with no more seeds than the test
        needs before it may stop, nothing could stop early: off too)."""
        self.futility = settings.futility if self.sequential else 0.0
        """Exploration stops a configuration other than a uniform one whose chance of being
        accepted on every seed falls below this (:meth:`analogc.budget.Acceptance.verdict`)."""
        self.meter = CostMeter(calibrated.evaluator)
        """Example-passes and seconds per phase of the search."""
        self.values: dict[tuple[int, ...], tuple[float, ...]] = {}
        """Per configuration evaluated here, its metric per seed run (fewer than the seeds
        when stopped early: the confirmation runs only the rest)."""

    @property
    def max_uniform(self) -> int:
        """Uniform precision stops where no layer it moves gains from more repeats."""
        return max((self.caps[n] for n in self.free), default=self.settings.max_repeats)

    def uniform(self, repeats: int) -> dict[str, int]:
        """The uniform configuration: ``repeats`` in every layer the search moves, pinned
        layers at their pins."""
        return self.calibrated.configuration(repeats)

    def key(self, repeats: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(int(repeats[n]) for n in self.names)

    def energy(self, repeats: Mapping[str, int] | int) -> float:
        return self.calibrated.energy(repeats)

    def score(
        self,
        repeats: Mapping[str, int] | int,
        source: str = "",
        *,
        stop: Callable[[int, float], bool] | None = None,
    ) -> Point:
        """Evaluate (or recall) ``repeats`` on the search seeds (one count: every layer the
        search moves; pinned layers always at their pins).

        Sequentially, ``stop(k, drop)`` hears each seed's drop and says whether to stop (an
        Optuna trial's pruner); without it, the acceptance's own verdict decides: "over"
        stops, "futile" too (not for a uniform configuration: :meth:`futility_for`),
        "within" only for a configuration not cheaper than the cheapest one measured within
        the budget on every seed (it cannot become the plan; any cheaper one might, and is
        measured on every seed).
        """
        repeats = self.calibrated.configuration(repeats)
        key = self.key(repeats)
        if key not in self.memo:
            evaluation = self.evaluate(repeats, stop)
            self.memo[key] = (evaluation.mean, self.acceptance.margin(evaluation))
            self.values[key] = evaluation.values
        metric, margin = self.memo[key]
        seeds = len(self.values.get(key, ()))
        return Point(dict(repeats), self.energy(repeats), metric, margin, source, seeds)

    def evaluate(
        self, repeats: Mapping[str, int], stop: Callable[[int, float], bool] | None = None
    ) -> Evaluation:
        """The metric on the search seeds: all at once, or seed by seed until decided."""
        if not self.sequential:
            return self.calibrated.evaluate(dict(repeats), self.seeds)
        acceptance, total = self.acceptance, len(self.seeds)
        stops = ("over", "within") if self.energy(repeats) >= self.best_energy() else ("over",)
        futility = self.futility_for(repeats)
        values: list[float] = []
        clean = 0.0
        for k, seed in enumerate(self.seeds, start=1):
            one = self.calibrated.evaluate(dict(repeats), [seed])
            clean = one.clean
            values.append(one.values[0])
            so_far = Evaluation(one.metric, clean, tuple(values), tuple(self.seeds[:k]))
            drops = acceptance.drops(so_far)
            if stop is not None:
                if stop(k, float(drops[-1])):
                    return so_far
            elif acceptance.verdict(drops, total, futility) in (*stops, "futile"):
                return so_far
        return Evaluation(self.calibrated.metric.name, clean, tuple(values), tuple(self.seeds))

    def futility_for(self, repeats: Mapping[str, int]) -> float:
        """The futility bound for this configuration: none for a uniform one (every layer the
        search moves at one N), whose early stop confirmation would take as final, and
        which the report compares the plan with; :attr:`futility` for any other, which can
        only make the plan dearer by stopping."""
        return self.futility if len({int(repeats[n]) for n in self.free}) > 1 else 0.0

    def best_energy(self) -> float:
        """The least Ē among configurations measured here within the budget on every seed."""
        total = len(self.seeds)
        return min(
            (
                self.energy(dict(zip(self.names, key, strict=True)))
                for key, (_, margin) in self.memo.items()
                if margin <= 0 and len(self.values.get(key, ())) == total
            ),
            default=math.inf,
        )

    def inferred(self, repeats: Mapping[str, int]) -> tuple[float, float] | None:
        """A verdict implied by monotonicity: more repeats everywhere than a feasible
        configuration is feasible; fewer everywhere than an infeasible one is infeasible."""
        if self.key(repeats) in self.memo:
            return None  # evaluated exactly: not an inference
        key = np.array(self.key(repeats))
        for known, (metric, margin) in self.memo.items():
            k = np.array(known)
            if margin <= 0 and np.all(key >= k):
                return metric, margin
            if margin > 0 and np.all(key <= k):
                return metric, margin
        return None

    def memo_rows(self) -> list[list[object]]:
        """The memo as JSON rows (kept in the study, for resumed and cooperating runs)."""
        return [[list(k), v[0], v[1]] for k, v in self.memo.items()]

    def recall(self, rows: Sequence[Sequence[object]]) -> None:
        for key, metric, margin in rows:
            self.memo[tuple(key)] = (float(metric), float(margin))  # type: ignore[arg-type]
