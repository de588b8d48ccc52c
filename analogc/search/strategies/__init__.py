"""Search strategies: one module each, one line each in :data:`STRATEGIES`."""

from __future__ import annotations

from .analytic import AnalyticAllocation
from .base import SearchStrategy
from .nsga2 import NSGA2
from .tpe import TPE
from .uniform import UniformBisection

STRATEGIES: dict[str, SearchStrategy] = {
    "tpe": TPE(),
    "nsga2": NSGA2(),
    "analytic": AnalyticAllocation(),
    "uniform": UniformBisection(),
}
"""Strategy name (``--strategy``) -> strategy."""

__all__ = ["STRATEGIES", "SearchStrategy"]
