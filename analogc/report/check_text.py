"""``analogc check`` on the terminal: the verdict and a diff that fits on one screen."""

from __future__ import annotations

import math

from .format import metric_value, table
from .schema import CheckReport, LayerChange

__all__ = ["check_text"]

MAX_LAYER_ROWS = 15
"""Layers listed at most (those whose repeats changed most first); the rest are counted."""


def _change(x: LayerChange) -> tuple[str, float]:
    """The change in words, and its size for ordering (new or removed layers first)."""
    if x.baseline is None:
        return "new layer", float("inf")
    if x.new is None:
        return "removed", float("inf")
    if x.new == x.baseline:
        return "", 0.0
    ratio = x.new / x.baseline
    return f"{x.new - x.baseline:+,} ({100 * (ratio - 1):+.0f}%)", abs(ratio - 1)


def layer_diff(report: CheckReport) -> list[str]:
    """The layers whose repeats changed, biggest change first, at most MAX_LAYER_ROWS."""
    changed = [(x, *_change(x)) for x in report.layers]
    changed = [c for c in changed if c[1]]
    if not changed:
        return [f"per-layer repeats: the same in all {len(report.layers)} layers"]
    changed.sort(key=lambda c: -c[2])
    rows = [[x.name, x.baseline, x.new, text] for x, text, _ in changed[:MAX_LAYER_ROWS]]
    lines = table(["layer", "N baseline", "N new", "change"], rows).splitlines()
    rest = len(changed) - MAX_LAYER_ROWS
    unchanged = len(report.layers) - len(changed)
    notes = [
        f"{rest} more changed" if rest > 0 else "",
        f"{unchanged} unchanged" if unchanged else "",
    ]
    if any(notes):
        lines.append("(" + ", ".join(n for n in notes if n) + ")")
    return lines


def _value(value: float, unit: str) -> str:
    """A metric value; a clean SQNR (infinite, stored as null) reads as the reference."""
    return metric_value(value, unit) if math.isfinite(value) else "∞"


def check_text(report: CheckReport) -> str:
    base, new, unit = report.baseline, report.new, report.metric_unit
    budget = report.budget
    metric = report.metric
    seeds = "fresh seeds"
    rows = [
        [
            f"Ē ({report.energy_unit}/MAC)",
            f"{base.energy_per_mac:.4g}",
            f"{new.energy_per_mac:.4g}",
            f"{100 * report.energy_change:+.1f}%",
        ],
        [
            f"{metric} ({seeds})",
            _value(base.metric, unit),
            _value(new.metric, unit),
            "",
        ],
        [f"{metric} clean", _value(base.clean, unit), _value(new.clean, unit), ""],
        [
            "budget",
            "MET" if base.budget_met else "NOT MET",
            "MET" if new.budget_met else "NOT MET",
            "",
        ],
    ]
    same = " (same model)" if base.sha256 and base.sha256 == new.sha256 else ""
    lines = [
        f"analogc check: {new.model}{same} against the plan in {base.report}",
        f"same budget: max drop {budget.max_drop} of {metric} ({budget.rule}); the baseline's "
        "hardware, metric and search settings",
        "",
        *layer_diff(report),
        "",
        *table(["", "baseline", "new", "change"], rows).splitlines(),
        "",
    ]
    if report.passed:
        lines.append(
            f"OK: Ē {base.energy_per_mac:.4g} → {new.energy_per_mac:.4g} {report.energy_unit}/MAC "
            f"({100 * report.energy_change:+.1f}%, tolerance {100 * report.tolerance:g}%), "
            "budget met"
        )
    else:
        lines += [f"REGRESSION: {reason}" for reason in report.regressions]
    lines.append(f"new plan: {new.report} (commit it as the baseline when the change is meant)")
    return "\n".join(line.rstrip() for line in lines)
