"""The accuracy budget and the rule that accepts a configuration under noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from analogc.errors import ConfigError
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.metrics import Metric
from analogc.runtime.stats import t_cdf, t_one_sided, z_one_sided


@dataclass(frozen=True)
class Budget:
    """How far the metric may fall under noise.

    ``Budget.parse("1%")`` is relative (1% of the clean value); ``Budget.parse("0.01")`` is
    absolute (0.01 of the metric, i.e. one point of accuracy); ``Budget.parse("30dB")`` is a
    minimum, the lowest score allowed in the metric's unit: the only budget that means
    something for SQNR, whose clean value is infinite.
    """

    value: float
    relative: bool
    minimum: bool = False

    @classmethod
    def parse(cls, text: str | float) -> Budget:
        raw = str(text).strip()
        if raw.lower().endswith("db"):
            return cls._parse_minimum(raw)
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

    @classmethod
    def _parse_minimum(cls, raw: str) -> Budget:
        try:
            value = float(raw[:-2])
        except ValueError:
            raise ConfigError(
                f"budget {raw!r} is not a number of dB: use e.g. 30dB (the lowest SQNR allowed)"
            ) from None
        if not math.isfinite(value):
            raise ConfigError(f"budget {raw!r} must be a finite number of dB")
        return cls(value, relative=False, minimum=True)

    def check(self, metric: Metric) -> None:
        """Refuse a budget that cannot mean what its author meant for ``metric``.

        Raises:
            ConfigError: a minimum in dB for a metric not in dB; a drop for a metric whose
                clean value is infinite (SQNR); an absolute drop at or above the metric's
                scale (``--max-drop 1`` on accuracy allows 100 points: anything passes).
        """
        if self.minimum:
            if metric.unit != "dB":
                raise ConfigError(
                    f"--max-drop {self}: a budget in dB is the lowest SQNR allowed, for "
                    f"--metric sqnr; metric {metric.name!r} takes a drop such as 1% or 0.01"
                )
            return
        if metric.infinite_clean:
            raise ConfigError(
                f"--max-drop {self}: metric {metric.name!r} compares noisy outputs with the clean "
                "ones, whose own score is infinite, so a drop from it means nothing; give the "
                "lowest value allowed in dB, e.g. --max-drop 30dB"
            )
        if not self.relative and metric.scale is not None and self.value >= metric.scale:
            scale = f"{metric.scale:g}" + (
                f" = {metric.format(metric.scale)}" if metric.unit == "%" else ""
            )
            raise ConfigError(
                f"--max-drop {self} is an absolute drop of {self.value:g} in {metric.name}, at "
                f"least its whole scale ({scale}), so any result would pass: write "
                f"{self.value:g}% for a relative drop or {self.value / 100:g} for an absolute one"
            )

    def allowed_drop(self, clean: float) -> float:
        if self.minimum:
            return 0.0
        return self.value * abs(clean) if self.relative else self.value

    def acceptance(
        self,
        clean: float,
        confidence: float = 0.95,
        *,
        quantile: Quantile = "student-t",
        seeds: int = 8,
    ) -> Acceptance:
        """The acceptance rule of this budget for a metric whose clean value is ``clean``."""
        if self.minimum:
            return Acceptance(0.0, confidence, floor=self.value, quantile=quantile, seeds=seeds)
        return Acceptance(self.allowed_drop(clean), confidence, quantile=quantile, seeds=seeds)

    def __str__(self) -> str:
        if self.minimum:
            return f"{self.value:g}dB"
        return f"{100 * self.value:g}%" if self.relative else f"{self.value:g}"


Quantile = Literal["student-t", "normal"]
"""The bound's multiplier: Student's t for the seeds used (exact for normal per-seed drops),
or the normal quantile (optimistic with few seeds: 1.645 where t with 7 df is 1.895)."""

Verdict = Literal["over", "within", "futile"]
"""A sequential test decided: over the budget, within it, or (asked for) futile: not over yet,
but unlikely to be accepted once every seed has run (:meth:`Acceptance.success_chance`)."""

QUANTILES: tuple[Quantile, ...] = ("student-t", "normal")

MIN_SEQUENTIAL_SEEDS = 3
"""Seeds a sequential evaluation always runs before it may stop (two would leave one degree
of freedom: t_{0.95,1} = 6.3, a bound too wide to decide anything)."""

FUTILITY = 0.1
"""By default, exploration stops a configuration (one that could become the plan, never the
uniform baseline) once its chance of being accepted on every seed falls below this: the
usual non-binding futility bound of group-sequential trials."""


@dataclass(frozen=True)
class Acceptance:
    """Accept when mean drop + k·SE ≤ allowed drop (one-sided bound over noise seeds), k the
    one-sided Student-t quantile for the seeds used (``quantile="normal"``: the normal's z).

    With a ``floor`` (a minimum budget, SQNR), the drop is measured from the floor instead of
    the clean value and none is allowed: accept when mean − k·SE ≥ floor.

    Attributes:
        allowed: the allowed drop, in metric units.
        confidence: one-sided confidence of the bound (0.95: t = 1.895 over 8 seeds, z = 1.645).
        floor: the lowest metric value allowed, or None for a drop from the clean value.
        quantile: ``student-t`` (n − 1 degrees of freedom for n seeds) or ``normal``.
        seeds: the seeds a full evaluation uses (what :attr:`quantile_value` and the rule
            line state).
    """

    allowed: float
    confidence: float = 0.95
    floor: float | None = None
    quantile: Quantile = "student-t"
    seeds: int = 8

    def __post_init__(self) -> None:
        if self.quantile not in QUANTILES:
            raise ConfigError(
                f"unknown quantile {self.quantile!r}; choose from {', '.join(QUANTILES)}"
            )

    @property
    def z(self) -> float:
        """The normal quantile at this confidence (the multiplier of ``quantile="normal"``)."""
        return z_one_sided(self.confidence)

    def multiplier(self, n: int, confidence: float | None = None) -> float:
        """k of the bound over ``n`` seeds (t with n − 1 degrees of freedom, or z)."""
        confidence = self.confidence if confidence is None else confidence
        if self.quantile == "normal":
            return z_one_sided(confidence)
        return t_one_sided(confidence, n - 1)

    @property
    def quantile_value(self) -> float:
        """k over the full :attr:`seeds` (t_{0.95,7} = 1.895 for 8 seeds)."""
        return self.multiplier(self.seeds)

    @property
    def rule(self) -> str:
        k = self.quantile_value
        which = "normal z" if self.quantile == "normal" else f"Student t, {self.seeds - 1} df"
        where = f"one-sided {100 * self.confidence:g}%, {which}, over noise seeds"
        if self.floor is not None:
            return f"mean − {k:.3f}·SE ≥ {self.floor:.6g} ({where})"
        return f"mean drop + {k:.3f}·SE ≤ {self.allowed:.6g} ({where})"

    def drops(self, evaluation: Evaluation) -> np.ndarray:
        """Per seed, how far the metric fell: from the clean value, or from the floor."""
        if self.floor is None:
            return evaluation.drops
        return self.floor - np.asarray(evaluation.values, dtype=np.float64)

    def bound_of(
        self, drops: Sequence[float] | np.ndarray, confidence: float | None = None
    ) -> float:
        """Mean drop + k·SE over these per-seed drops (SE 0 for one seed)."""
        drops = np.asarray(drops, dtype=np.float64)
        if len(drops) < 2:
            return float(np.mean(drops))
        se = float(drops.std(ddof=1)) / math.sqrt(len(drops))
        return float(np.mean(drops)) + self.multiplier(len(drops), confidence) * se

    def bound(self, evaluation: Evaluation) -> float:
        return self.bound_of(self.drops(evaluation))

    def margin(self, evaluation: Evaluation) -> float:
        """bound − allowed: feasible when ≤ 0 (Optuna's constraint convention)."""
        return self.bound(evaluation) - self.allowed

    def feasible(self, evaluation: Evaluation) -> bool:
        return self.margin(evaluation) <= 0

    def verdict(
        self, drops: Sequence[float] | np.ndarray, total: int, futility: float = 0.0
    ) -> Verdict | None:
        """The sequential test after the first of ``total`` seeds: ``over`` once the drop is
        over the budget at this confidence (mean − k·SE > allowed: the full rule would accept
        it only by chance), ``within`` once even the bound at a Bonferroni-split confidence
        (over the looks a sequential run takes) is within it; with a ``futility`` (a
        probability), ``futile`` once the chance that every seed's rule accepts it
        (:meth:`success_chance`) is below it; None: run another seed.

        Every verdict agrees with :meth:`margin` over the seeds run (``within``: margin ≤ 0;
        ``over`` and ``futile``: margin > 0), so a stopped configuration is recorded like a
        full one.
        """
        drops = np.asarray(drops, dtype=np.float64)
        n = len(drops)
        if n < MIN_SEQUENTIAL_SEEDS or n >= total:
            return None
        mean = float(drops.mean())
        se = float(drops.std(ddof=1)) / math.sqrt(n)
        if mean - self.multiplier(n) * se > self.allowed:
            return "over"
        looks = total - MIN_SEQUENTIAL_SEEDS
        strict = 1.0 - (1.0 - self.confidence) / looks
        if mean + self.multiplier(n, strict) * se <= self.allowed:
            return "within"
        if futility > 0 and self.success_chance(drops, total) < min(futility, 0.5):
            return "futile"
        return None

    def success_chance(self, drops: Sequence[float] | np.ndarray, total: int) -> float:
        """The predictive probability that the rule accepts the configuration once all
        ``total`` seeds have run, given the drops of the first ones.

        The seeds still to run are predicted from those run (a flat prior on the true mean:
        the final mean drop is Student-t about today's, with n − 1 degrees of freedom and
        scale SD·sqrt((T − n)/(T·n))), and the final bound takes today's SD. Below 1/2 the
        margin over the seeds run is positive: the mean already sits above the final
        rule's boundary, and the bound over fewer seeds is wider still.
        """
        drops = np.asarray(drops, dtype=np.float64)
        n = len(drops)
        mean = float(drops.mean())
        if n >= total:
            return 1.0 if self.bound_of(drops) <= self.allowed else 0.0
        sd = float(drops.std(ddof=1)) if n > 1 else 0.0
        boundary = self.allowed - self.multiplier(total) * sd / math.sqrt(total)
        if sd == 0.0:  # one seed, or seeds that agree exactly
            return 1.0 if mean <= boundary else 0.0
        scale = sd * math.sqrt((total - n) / (total * n))
        return t_cdf((boundary - mean) / scale, n - 1)
