"""The noise terms analogc knows: one line per term, in the order their flags, constants and
draws appear in hardware files, plans and function signatures. Within a stage, terms act in
this order (static weight terms before temporal ones): levels, then programming error, then
drift; the ADC before the drift compensation."""

from __future__ import annotations

from .adc import ADC
from .base import NoiseTerm
from .dac import DAC
from .drift import Drift
from .levels import WeightLevels
from .pcm import PCMProgramming
from .programming import ProgrammingError
from .readout import ReadoutNoise
from .shot import ShotNoise
from .thermal import ThermalNoise
from .weight import WeightNoise

TERMS: dict[str, NoiseTerm] = {
    "shot": ShotNoise(),
    "thermal": ThermalNoise(),
    "weight": WeightNoise(),
    "readout": ReadoutNoise(),
    "dac": DAC(),
    "levels": WeightLevels(),
    "programming": ProgrammingError(),
    "pcm_programming": PCMProgramming(),
    "adc": ADC(),
    "drift": Drift(),
}
"""Term name -> term. A test may register a term of its own with ``monkeypatch.setitem``."""
