"""The accuracy budget and the rule that accepts a configuration under noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analogc.errors import ConfigError
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.stats import z_one_sided


@dataclass(frozen=True)
class Budget:
    """Largest allowed metric drop against the clean model on the same data.

    ``Budget.parse("1%")`` is relative (1% of the clean value); ``Budget.parse("0.01")`` is
    absolute (0.01 of the metric, i.e. one point of accuracy).
    """

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str | float) -> Budget:
        raw = str(text).strip()
        relative = raw.endswith("%")
        try:
            value = float(raw[:-1] if relative else raw)
        except ValueError:
            raise ConfigError(
                f"budget {raw!r} is not a number: use e.g. 0.01 (absolute) or 1% (relative)"
            ) from None
        if relative:
            value /= 100.0
        if not (value >= 0 and math.isfinite(value)) or (relative and value > 1):
            raise ConfigError(f"budget {raw!r} must be >= 0 (and at most 100% when relative)")
        return cls(value, relative)

    def allowed_drop(self, clean: float) -> float:
        return self.value * abs(clean) if self.relative else self.value

    def __str__(self) -> str:
        return f"{100 * self.value:g}%" if self.relative else f"{self.value:g}"


@dataclass(frozen=True)
class Acceptance:
    """Accept when mean drop + z·SE ≤ allowed drop (one-sided bound over noise seeds).

    Attributes:
        allowed: the allowed drop, in metric units.
        confidence: one-sided confidence of the bound (0.95 gives z = 1.645).
    """

    allowed: float
    confidence: float = 0.95

    @property
    def z(self) -> float:
        return z_one_sided(self.confidence)

    @property
    def rule(self) -> str:
        return (
            f"mean drop + {self.z:.3f}·SE ≤ {self.allowed:.6g} "
            f"(one-sided {100 * self.confidence:g}%, over noise seeds)"
        )

    def bound(self, evaluation: Evaluation) -> float:
        drops = evaluation.drops
        se = float(drops.std(ddof=1)) / math.sqrt(len(drops)) if len(drops) > 1 else 0.0
        return float(np.mean(drops)) + self.z * se

    def margin(self, evaluation: Evaluation) -> float:
        """bound − allowed: feasible when ≤ 0 (Optuna's constraint convention)."""
        return self.bound(evaluation) - self.allowed

    def feasible(self, evaluation: Evaluation) -> bool:
        return self.margin(evaluation) <= 0
