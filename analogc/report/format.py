"""Numbers and tables as people read them (terminal and Markdown)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def num(value: Any, digits: int = 4) -> str:
    """A cell: ints with thousands separators, floats to ``digits`` significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}g}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, markdown: bool = False) -> str:
    """Left-aligned first column, right-aligned numbers; or a Markdown table."""
    cells = [[num(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in cells]
    return "\n".join(out)


def metric_value(value: float | None, unit: str) -> str:
    """A metric value in its unit: a fraction as a percentage, else with its unit."""
    if value is None:
        return "-"
    if math.isinf(value):  # SQNR of the clean outputs against themselves
        return f"{'+' if value > 0 else '-'}∞{' ' + unit if unit and unit != '%' else ''}"
    if unit == "%":
        return f"{100 * value:.2f}%"
    return f"{value:.4g}{' ' + unit if unit else ''}"
