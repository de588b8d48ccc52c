"""Noise terms: one module per physical mechanism, one registry (see :mod:`.base`).

To add a term, write a module with a :class:`NoiseTerm` subclass and add one line to
:data:`TERMS` in ``registry.py`` (``docs/adding-a-noise-term.md`` works through an example).
"""

from .base import BodyContext, Draw, NoiseTerm, Param, Quantity, at_least
from .law import noise_std, temporal_scale, temporal_scale_node
from .model import NoiseModel
from .registry import TERMS

__all__ = [
    "TERMS",
    "BodyContext",
    "Draw",
    "NoiseModel",
    "NoiseTerm",
    "Param",
    "Quantity",
    "at_least",
    "noise_std",
    "temporal_scale",
    "temporal_scale_node",
]
