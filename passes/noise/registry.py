"""The noise terms analogc knows: one line per term, in the order their flags, constants and
draws appear in hardware files, plans and function signatures."""

from __future__ import annotations

from .base import NoiseTerm
from .shot import ShotNoise
from .thermal import ThermalNoise
from .weight import WeightNoise

TERMS: dict[str, NoiseTerm] = {
    "shot": ShotNoise(),
    "thermal": ThermalNoise(),
    "weight": WeightNoise(),
}
"""Term name -> term. A test may register a term of its own with ``monkeypatch.setitem``."""
