"""The interface every search strategy meets.

A strategy is one module in ``analogc/search/strategies/`` and one line in
:data:`analogc.search.STRATEGIES`. The search (:func:`analogc.search.run_search`) creates the
study with the strategy's sampler and directions, computes or resumes the shared setup (uniform
baseline, sensitivities, analytic allocation: :mod:`analogc.search.setup`), lets the strategy
seed the study, and asks it for the configurations it found; it then keeps the cheapest one
meeting the budget. It never branches on which strategy it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import optuna

    from ..problem import Point, SearchProblem
    from ..settings import SearchSettings
    from ..setup import Setup


Direction = Literal["minimize", "maximize"]
"""An objective's direction, as :func:`optuna.create_study` takes it."""


class SearchStrategy(Protocol):
    """Attributes:
    name: the key in :data:`analogc.search.STRATEGIES` and ``--strategy``.
    summary: one line for ``--help`` and the report.
    sampler_name: what the report calls the method.
    directions: the study's optimisation directions.
    sequential: whether a configuration may be evaluated seed by seed and stopped once the
        acceptance test is decided (not where the bound itself is an objective: NSGA-II).
    """

    name: str
    summary: str
    sampler_name: str
    directions: tuple[Direction, ...]
    sequential: bool

    def sampler(self, settings: SearchSettings) -> optuna.samplers.BaseSampler | None:
        """The study's sampler (None for strategies that do not sample)."""

    def warm_start(self, study: optuna.Study, setup: Setup, problem: SearchProblem) -> None:
        """Seed a new study (enqueue configurations worth trying first)."""

    def search(self, problem: SearchProblem, setup: Setup, study: optuna.Study) -> list[Point]:
        """Every configuration the strategy evaluated; the cheapest feasible one is the plan."""


class SetupStrategy:
    """A strategy whose answer is part of the setup itself: no sampling, no trials."""

    directions: tuple[Direction, ...] = ("minimize",)
    sequential = True

    def sampler(self, settings: SearchSettings) -> optuna.samplers.BaseSampler | None:
        return None

    def warm_start(self, study: optuna.Study, setup: Setup, problem: SearchProblem) -> None:
        return None
