"""Fewer samples per plan, same answer: the t quantile, sequential acceptance, exploration on a
subset of the examples confirmed on all of them, and what a plan cost per phase."""

from __future__ import annotations

import math

import pytest

from analogc.budget import Acceptance, Budget
from analogc.runtime.evaluate import Evaluation
from analogc.runtime.stats import t_cdf, t_one_sided, z_one_sided


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 6.3138), (2, 2.9200), (3, 2.3534), (7, 1.8946), (10, 1.8125), (30, 1.6973)],
)
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_one_sided(0.95, df) == pytest.approx(expected, abs=5e-5)


def test_t_quantile_other_levels_and_limits() -> None:
    assert t_one_sided(0.975, 1) == pytest.approx(12.7062, abs=5e-4)
    assert t_one_sided(0.995, 7) == pytest.approx(3.4995, abs=5e-4)
    assert t_one_sided(0.05, 7) == pytest.approx(-1.8946, abs=5e-5), "lower tail: symmetric"
    assert t_one_sided(0.95, 10**7) == pytest.approx(z_one_sided(0.95), abs=1e-5)
    assert t_one_sided(0.95, math.inf) == z_one_sided(0.95)
    assert t_one_sided(0.95, 0) == math.inf, "one seed: no spread to bound"
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(t_one_sided(0.9, 4), 4) == pytest.approx(0.9, abs=1e-10)


def test_acceptance_uses_t_for_the_seeds_used() -> None:
    values = (0.88, 0.89, 0.87, 0.86, 0.88, 0.87, 0.89, 0.86)
    ev = Evaluation("accuracy", 0.9, values, tuple(range(8)))
    drops = [0.9 - v for v in values]
    mean = sum(drops) / 8
    se = math.sqrt(sum((d - mean) ** 2 for d in drops) / 7) / math.sqrt(8)
    t_rule = Acceptance(allowed=0.05)
    assert t_rule.quantile == "student-t" and t_rule.quantile_value == pytest.approx(
        1.8946, abs=1e-4
    )
    assert t_rule.bound(ev) == pytest.approx(mean + 1.8945786 * se, rel=1e-6)
    assert Acceptance(allowed=0.05, quantile="normal").bound(ev) < t_rule.bound(ev)
    assert "1.895" in t_rule.rule and "Student t, 7 df" in t_rule.rule, t_rule.rule
    four = Evaluation("accuracy", 0.9, values[:4], (0, 1, 2, 3))
    assert t_rule.bound(four) == pytest.approx(
        float(t_rule.drops(four).mean()) + 2.3534 * float(t_rule.drops(four).std(ddof=1)) / 2,
        rel=1e-4,
    ), "four seeds: t with 3 degrees of freedom, whatever the full count"


def test_budget_passes_the_quantile_on() -> None:
    acceptance = Budget.parse("0.02").acceptance(0.9, quantile="normal", seeds=4)
    assert acceptance.quantile_value == pytest.approx(z_one_sided(0.95))
    assert "normal z" in acceptance.rule
    assert Budget.parse("0.02").acceptance(0.9, seeds=4).quantile_value == pytest.approx(
        2.3534, abs=1e-4
    )
