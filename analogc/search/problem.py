"""What every strategy works on: the model's configurations, scored on the search seeds.

A :class:`SearchProblem` prices a configuration (energy per MAC, from MACs alone) and scores
it (the metric under noise over the search seeds, common to every configuration), remembering
every score; :meth:`SearchProblem.inferred` gives the verdicts monotonicity implies without a
run. Strategies only call these; they never run the model themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analogc.budget import Acceptance
from analogc.workers import Crew

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

    def score(self, repeats: Mapping[str, int] | int, source: str = "") -> Point:
        """Evaluate (or recall) ``repeats`` on the search seeds (one count: every layer the
        search moves; pinned layers always at their pins)."""
        repeats = self.calibrated.configuration(repeats)
        key = self.key(repeats)
        if key not in self.memo:
            evaluation = self.calibrated.evaluate(dict(repeats), self.seeds)
            self.memo[key] = (evaluation.mean, self.acceptance.margin(evaluation))
        metric, margin = self.memo[key]
        return Point(dict(repeats), self.energy(repeats), metric, margin, source)

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
