"""Bisection on the log scale: the smallest repeat count that meets the budget."""

from __future__ import annotations

import math
from collections.abc import Callable


def log_bisect(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest N in (lo, hi] with ``ok(N)``, given ``ok(hi)`` and not ``ok(lo)`` (lo = 0:
    nothing below tested). Splits at the geometric mean: repeats act on the noise as 1/√N, so
    the threshold is as likely at 100 as at 10 relative to its bracket."""
    while hi - lo > 1:
        mid = max(lo + 1, min(hi - 1, round(math.sqrt(max(lo, 1) * hi))))
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
