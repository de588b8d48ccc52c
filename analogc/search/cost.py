"""What a plan cost, per phase: noisy example forward passes (the evaluator's count: each
example of each batch run once under one seed) and seconds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analogc.runtime.evaluate import Evaluator


@dataclass(frozen=True)
class PhaseCost:
    """Attributes: phase (``sensitivity``, ``exploration``, ``confirmation``, ...),
    example_passes (noisy example forward passes), seconds."""

    phase: str
    example_passes: int
    seconds: float


class CostMeter:
    """Charges the evaluator's example-passes and the clock to the phase running: a phase
    inside another (the sensitivities inside the setup) is charged to itself only."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.totals: dict[str, tuple[int, float]] = {}
        self.current: str | None = None
        self._mark()

    def _mark(self) -> None:
        self._time = time.perf_counter()
        self._passes = self.evaluator.example_passes

    def _charge(self) -> None:
        if self.current is not None:
            passes, seconds = self.totals.get(self.current, (0, 0.0))
            self.totals[self.current] = (
                passes + self.evaluator.example_passes - self._passes,
                seconds + time.perf_counter() - self._time,
            )
        self._mark()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._charge()
        previous, self.current = self.current, name
        try:
            yield
        finally:
            self._charge()
            self.current = previous

    def phases(self) -> list[PhaseCost]:
        return [PhaseCost(name, p, s) for name, (p, s) in self.totals.items()]
