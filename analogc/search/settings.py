"""How hard to search, and which strategy: one frozen, keyword-only settings object."""

from __future__ import annotations

from dataclasses import dataclass

from analogc.budget import FUTILITY, QUANTILES, Quantile
from analogc.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class SearchSettings:
    """How hard to search.

    Attributes:
        strategy: a key of :data:`analogc.search.STRATEGIES` (``tpe``, ``nsga2``, ``analytic``,
            ``uniform``); ``pareto=True`` is the same as ``strategy="nsga2"``.
        trials: Optuna trials in total (a resumed study counts the finished ones).
        timeout: stop starting new trials after this many seconds (None: no limit).
        seed: seed of the sampler (and nothing else: noise seeds are 0..seeds-1).
        seeds: noise seeds per evaluation in the search (common to all configurations).
        validation_seeds: fresh noise seeds for the final figures (no selection bias).
        max_repeats: upper bound on any layer's repeats.
        span: each layer's box is [N_analytic / span, N_analytic · span].
        confidence: one-sided confidence of the acceptance bound.
        quantile: the bound's multiplier: ``student-t`` for the seeds used, or ``normal``
            (z, optimistic with few seeds).
        sequential: evaluate a configuration seed by seed and stop once the one-sided test
            is decided either way (:meth:`analogc.budget.Acceptance.verdict`); off where it is
            not sound (NSGA-II, whose objective is the bound itself) and with 3 seeds or
            fewer (it never stops before the third).
        futility: with ``sequential``, also stop a configuration once its chance of being
            accepted on every seed is below this (:meth:`analogc.budget.Acceptance.verdict`):
            not a uniform one, whose verdicts the report's baseline rests on; 0: off.
        explore_examples: explore (setup and trials) on this many of the examples, then
            confirm the plan and the uniform baseline on all of them; 0: explore on all; None:
            a quarter of them, at least 128, when there are at least 256.
        sensitivity_examples: measure the per-layer sensitivities on at most this many of
            the examples explored on (0: all of them; None: ``SENSITIVITY_EXAMPLES``); a layer
            known within 10% on fewer stops there (:func:`.strategies.analytic.sensitivities`).
            They are output noise powers averaged over every output element, which a few dozen
            examples estimate well, and they only shape the analytic warm start.
        pareto: multi-objective search (NSGA-II) returning the energy/drop front.
        storage: Optuna storage URL (None: in memory); ``sqlite:///PATH`` or ``postgresql://``.
        study_name: the study's name in the storage.
        heartbeat_s: seconds between a worker's heartbeats; the trial of a worker silent for
            ``analogc.storage.GRACE_BEATS`` of them is failed and retried by another worker.
        progress: show a progress bar on stderr.
    """

    strategy: str = "tpe"
    trials: int = 60
    timeout: float | None = None
    seed: int = 0
    seeds: int = 8
    validation_seeds: int = 16
    max_repeats: int = 1 << 16
    span: float = 8.0
    confidence: float = 0.95
    quantile: Quantile = "student-t"
    sequential: bool = True
    futility: float = FUTILITY
    explore_examples: int | None = None
    sensitivity_examples: int | None = None
    pareto: bool = False
    storage: str | None = None
    study_name: str | None = None
    heartbeat_s: int = 10
    progress: bool = False

    def __post_init__(self) -> None:
        from .strategies import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown search strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}"
            )
        if self.pareto:
            if self.strategy not in ("tpe", "nsga2"):
                raise ConfigError(f"pareto=True asks for nsga2, not {self.strategy!r}")
            object.__setattr__(self, "strategy", "nsga2")
        elif self.strategy == "nsga2":
            object.__setattr__(self, "pareto", True)
        if self.quantile not in QUANTILES:
            raise ConfigError(
                f"unknown quantile {self.quantile!r}; choose from {', '.join(QUANTILES)}"
            )
        if not 0.0 <= self.futility <= 0.5:
            raise ConfigError(
                f"futility must be in [0, 0.5] (a chance of acceptance), got {self.futility}"
            )
        for name in ("explore_examples", "sensitivity_examples"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        for name in ("trials", "seeds", "validation_seeds", "max_repeats", "heartbeat_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def search_seeds(self) -> list[int]:
        return list(range(self.seeds))

    @property
    def fresh_seeds(self) -> list[int]:
        return list(range(self.seeds, self.seeds + self.validation_seeds))


SENSITIVITY_EXAMPLES = 64
"""By default, the examples the per-layer sensitivities are measured on (all of them when the
data holds fewer than twice as many)."""
