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


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom (``df`` = inf: the normal)."""
    if math.isinf(df):
        return NormalDist().cdf(t)
    x = df / (df + t * t)
    tail = 0.5 * incomplete_beta(x, df / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def t_one_sided(confidence: float, df: float) -> float:
    """The Student-t quantile t_{confidence, df} (0.95, 7 -> 1.8946): exact, by bisection on
    :func:`t_cdf`, so that a bound over few seeds is not the normal's optimistic one."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if df <= 0:
        return math.inf
    z = z_one_sided(confidence)
    if math.isinf(df):
        return z
    sign, p = (1.0, confidence) if confidence >= 0.5 else (-1.0, 1.0 - confidence)
    lo, hi = 0.0, abs(z) + 1.0
    while t_cdf(hi, df) < p:  # heavy tails at small df (df = 1, 99.5%: 63.66)
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return sign * 0.5 * (lo + hi)


def incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by Lentz's continued fraction
    (Numerical Recipes ``betai``): accurate to ~1e-14 for the t distribution's arguments."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


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
