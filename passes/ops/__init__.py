"""Op handlers: one module per op family, one explicit registry (no import-time magic)."""

from __future__ import annotations

from collections.abc import Mapping

from .base import AnalogFamily, Lowering, OpHandler, ShapeOf
from .conv import ConvHandler, ConvTransposeHandler
from .digital import DIGITAL, DigitalOp
from .einsum import EinsumHandler
from .gemm import GemmHandler
from .matmul import MatMulHandler

__all__ = [
    "DIGITAL",
    "DIGITAL_REASONS",
    "HANDLERS",
    "AnalogFamily",
    "DigitalOp",
    "Lowering",
    "OpHandler",
    "ShapeOf",
]

HANDLERS: Mapping[str, OpHandler] = {
    "MatMul": MatMulHandler(),
    "Gemm": GemmHandler(),
    "Conv": ConvHandler(),
    "ConvTranspose": ConvTransposeHandler(),
    "Einsum": EinsumHandler(),
}
"""Standard-domain op type -> handler, for ops that can run analog."""

DIGITAL_REASONS: Mapping[tuple[str, str], str] = {key: op.reason for key, op in DIGITAL.items()}
"""(domain, op type) -> why an op that contains matrix products stays digital."""
