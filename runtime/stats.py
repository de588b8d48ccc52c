"""Small statistics helpers (no SciPy): Student-t quantiles and confidence intervals."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# Two-sided 95% Student-t quantiles t_{0.975, df}, df = 1..30.
_T975 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t (two-sided 95% intervals)."""
    if df < 1:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def z_one_sided(confidence: float) -> float:
    """Normal quantile for a one-sided bound at ``confidence`` (0.95 -> 1.645)."""
    return NormalDist().inv_cdf(confidence)


def mean_ci95(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% t interval (0 for one value)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, 0.0
    se = float(values.std(ddof=1)) / math.sqrt(len(values))
    return mean, t975(len(values) - 1) * se
