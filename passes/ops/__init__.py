"""Op handlers: one module per op family, one explicit registry (no import-time magic)."""

from __future__ import annotations

from collections.abc import Mapping

from .base import Lowering, OpHandler, ShapeOf
from .conv import ConvHandler, ConvTransposeHandler
from .gemm import GemmHandler
from .matmul import MatMulHandler

__all__ = ["DIGITAL_REASONS", "HANDLERS", "Lowering", "OpHandler", "ShapeOf"]

HANDLERS: Mapping[str, OpHandler] = {
    "MatMul": MatMulHandler(),
    "Gemm": GemmHandler(),
    "Conv": ConvHandler(),
    "ConvTranspose": ConvTransposeHandler(),
}
"""Standard-domain op type -> handler, for ops that can run analog."""

DIGITAL_REASONS: Mapping[tuple[str, str], str] = {
    ("", "Einsum"): "Einsum contractions are not handled yet",
    ("", "LSTM"): "recurrent op (LSTM): its matrix products are not handled yet",
    ("", "GRU"): "recurrent op (GRU): its matrix products are not handled yet",
    ("", "RNN"): "recurrent op (RNN): its matrix products are not handled yet",
    ("", "Attention"): "fused Attention op is not handled yet",
    ("", "QLinearConv"): "quantized integer op (QLinearConv)",
    ("", "QLinearMatMul"): "quantized integer op (QLinearMatMul)",
    ("", "MatMulInteger"): "quantized integer op (MatMulInteger)",
    ("", "ConvInteger"): "quantized integer op (ConvInteger)",
    ("com.microsoft", "Attention"): "fused com.microsoft Attention is not handled yet",
    (
        "com.microsoft",
        "MultiHeadAttention",
    ): "fused com.microsoft MultiHeadAttention is not handled yet",
    ("com.microsoft", "FusedMatMul"): "fused com.microsoft FusedMatMul is not handled yet",
    ("com.microsoft", "FusedConv"): "fused com.microsoft FusedConv is not handled yet",
    ("com.microsoft", "FusedGemm"): "fused com.microsoft FusedGemm is not handled yet",
    ("com.microsoft", "MatMulNBits"): "quantized com.microsoft MatMulNBits",
    ("com.microsoft", "QAttention"): "quantized com.microsoft QAttention",
    ("com.microsoft", "QOrderedMatMul"): "quantized com.microsoft QOrderedMatMul",
}
"""(domain, op type) -> why an op that contains matrix products stays digital."""
