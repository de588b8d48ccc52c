"""How repeats and the energy of one pass set the level of temporal noise (DESIGN §2).

Averaging N analog passes of energy e1 each is the same as one pass at ``E = N·e1``: every
temporal term's standard deviation is its E = 1 value times ``1/sqrt(N·e1)``. Static and
deterministic terms (:attr:`analogc.passes.noise.NoiseTerm.reduced_by_repeats` False) do not
scale. This module is the one place that law is written, for numbers and for graphs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..function_body import FunctionBody

__all__ = ["noise_std", "temporal_scale", "temporal_scale_node"]


def temporal_scale(repeats: float, e1: float) -> float:
    """``1/sqrt(N·e1)``: the factor on every temporal term's std at N repeats."""
    return 1.0 / math.sqrt(repeats * e1)


def temporal_scale_node(b: FunctionBody) -> str:
    """The same factor in a function body, from the node attributes ``repeats`` and ``e1``."""
    energy = b.op("Mul", b.attr_int_as_float("repeats"), b.attr_float("e1"))
    return b.op("Reciprocal", b.op("Sqrt", energy))


def noise_std(temporal_std1: float, static_std: float, repeats: float, e1: float) -> float:
    """Total noise std at N repeats: the temporal part (``temporal_std1`` at E = 1) scaled by
    the law, the static part as it is; their variances add."""
    return math.hypot(temporal_std1 / math.sqrt(repeats * e1), static_std)
