"""Per-layer repeats: least energy per MAC within the accuracy budget (DESIGN §2).

Steps, each reusing the same noise seeds (common random numbers):

1. **Setup** (:mod:`.setup`, kept in the study): the uniform baseline, the smallest repeats N
   used by every layer that meets the budget; per-layer sensitivities; the analytic allocation
   ``N_l ∝ sqrt(a_l / MAC_l)`` scaled to the budget.
2. **A strategy** from :data:`STRATEGIES` (``--strategy``): Optuna TPE around the analytic
   allocation (the default), NSGA-II for the energy/accuracy front, or the analytic allocation
   or uniform precision on their own.
3. **The plan**: the cheapest configuration the strategy evaluated that meets the budget.

Rerunning a command resumes its study; several processes on one storage share it.
"""

from .problem import Point, SearchProblem
from .result import SearchResult
from .run import run_search, strategy_for
from .settings import SearchSettings
from .strategies import STRATEGIES, SearchStrategy

__all__ = [
    "STRATEGIES",
    "Point",
    "SearchProblem",
    "SearchResult",
    "SearchSettings",
    "SearchStrategy",
    "run_search",
    "strategy_for",
]
