"""Uniform symmetric quantisation, shared by the converter and weight-level terms."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..function_body import FunctionBody

TINY = 1e-30
"""A floor under quantisation steps, so that an all-zero range quantises to zero, not NaN."""


def levels(bits: float) -> float:
    """Levels a sign of a symmetric ``bits``-bit quantiser: ``2^(b−1) − 1`` (127 for 8 bits)."""
    return float(2.0 ** (bits - 1.0) - 1.0)


def quantize(b: FunctionBody, x: str, bound: str, n_levels: str) -> str:
    """``clip(round(x/Δ)·Δ, −bound, bound)`` with ``Δ = bound/n_levels`` (round half to even,
    as numpy and onnxruntime do). ``bound`` broadcasts against ``x``."""
    step = b.op("Max", b.op("Div", bound, n_levels), b.const(TINY))
    rounded = b.op("Mul", b.op("Round", b.op("Div", x, step)), step)
    # Min/Max, not Clip: the bound may be a tensor (per vector, per channel).
    return b.op("Max", b.op("Min", rounded, bound), b.op("Neg", bound))


def quantization_error2(b: FunctionBody, x: str, quantized: str) -> str:
    """The squared error of a quantiser, elementwise."""
    error = b.op("Sub", quantized, x)
    return b.op("Mul", error, error)
