"""Ops that contain matrix products but stay digital: the reason, and their MACs per example.

Every such op is listed by :func:`analogc.passes.discover` so that a report accounts for all
the multiply-accumulates of a model: analog ones, and digital ones with the reason. MACs are
counted from shapes and attributes where they are static (per example: batch dimensions count
as 1), else left unknown (None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import onnx

from ..graph_index import GraphIndex, attribute_values, numel
from ..scopes import Scope
from . import recurrent
from .base import ShapeOf

MacsFn = Callable[[onnx.NodeProto, GraphIndex, ShapeOf], "int | None"]
ReasonFn = Callable[[onnx.NodeProto, GraphIndex, Sequence[Scope]], str]


@dataclass(frozen=True)
class DigitalOp:
    """Why an op stays digital, and how to count its MACs.

    Attributes:
        reason: the reason, for every node of this op type.
        macs: counts a node's MACs per example.
        explain: a node's own reason, where it depends on the node (else ``reason``).
    """

    reason: str
    macs: MacsFn
    explain: ReasonFn | None = None

    def reason_for(self, node: onnx.NodeProto, index: GraphIndex, scopes: Sequence[Scope]) -> str:
        return self.reason if self.explain is None else self.explain(node, index, scopes)


def _none(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    return None


def _input(node: onnx.NodeProto, i: int) -> str:
    return node.input[i] if len(node.input) > i else ""


def _matmul_like(a: int, b: int, *, trans_attr: bool = False) -> MacsFn:
    """numel(output) × K, K from operand ``a``'s last axis (or B's, with transposes)."""

    def count(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out = shape_of(node.output[0])
        attrs = attribute_values(node) if trans_attr else {}
        sa, sb = index.shape(_input(node, a)), index.shape(_input(node, b))
        k = None
        if sa:
            dim = sa[-2] if attrs.get("transA") and len(sa) >= 2 else sa[-1]
            k = dim if isinstance(dim, int) else None
        if k is None and sb:
            dim = sb[-1] if attrs.get("transB") or len(sb) == 1 else sb[-2]
            k = dim if isinstance(dim, int) else None
        return None if out is None or k is None else numel(out) * int(k)

    return count


def _conv_like(w: int) -> MacsFn:
    """numel(output) × C_in/group × prod(kernel), from the weight at input ``w``."""

    def count(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out, ws = shape_of(node.output[0]), index.static_shape(_input(node, w))
        return None if out is None or ws is None else numel(out) * numel(ws[1:])

    return count


def _gemm_like(a: int, b: int) -> MacsFn:
    return _matmul_like(a, b, trans_attr=True)


def _attention_onnx(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """ai.onnx Attention (opset 23): Q·Kᵀ and A·V, per query head."""
    q, k, v = (shape_of(_input(node, i)) for i in range(3))
    if q is None or k is None or v is None:
        return None
    attrs = attribute_values(node)
    if len(q) == 4:  # [B, heads, S, head_size]
        heads, s_q, head = q[1], q[2], q[3]
        s_kv, v_head = k[2], v[3]
    elif len(q) == 3:  # [B, S, heads·head_size]
        heads = int(attrs.get("q_num_heads", 1))  # type: ignore[call-overload]
        kv_heads = int(attrs.get("kv_num_heads", heads))  # type: ignore[call-overload]
        s_q, head = q[1], q[2] // heads
        s_kv, v_head = k[1], v[2] // kv_heads
    else:
        return None
    return heads * s_q * s_kv * (head + v_head)


def _attention_ms(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """com.microsoft Attention: the QKV projection, then Q·Kᵀ and A·V."""
    x, w = shape_of(node.input[0]), index.static_shape(node.input[1])
    if x is None or w is None or len(x) != 3:
        return None
    seq, hidden_in = x[1], x[2]
    sizes = attribute_values(node).get("qkv_hidden_sizes")
    q_h, _, v_h = list(sizes) if sizes else [w[1] // 3] * 3  # type: ignore[call-overload]
    projection = seq * hidden_in * w[1]
    return projection + seq * seq * (q_h + v_h)


def _mha_ms(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """com.microsoft MultiHeadAttention with separate query, key and value [B, S, hidden]."""
    q, k, v = (shape_of(_input(node, i)) for i in range(3))
    if q is None or k is None or v is None or len(q) != 3 or len(k) != 3 or len(v) != 3:
        return None
    return q[1] * k[1] * (q[2] + v[2])


def _matmul_nbits(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    out = shape_of(node.output[0])
    k = attribute_values(node).get("K")
    return None if out is None or k is None else numel(out) * int(k)  # type: ignore[call-overload]


def _linear_ml(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """ai.onnx.ml LinearClassifier/LinearRegressor: one product per coefficient."""
    coefficients = attribute_values(node).get("coefficients")
    return None if coefficients is None else len(coefficients)  # type: ignore[arg-type]


def _svm_ml(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """ai.onnx.ml SVM: a kernel of the input with each support vector (or the coefficients)."""
    attrs = attribute_values(node)
    vectors = attrs.get("support_vectors")
    if vectors:
        return len(vectors)  # type: ignore[arg-type]
    coefficients = attrs.get("coefficients")
    return None if coefficients is None else len(coefficients)  # type: ignore[arg-type]


def _quantized(name: str) -> str:
    return f"quantized integer op ({name}): analog ops take floating-point operands"


def _fused(name: str) -> str:
    return (
        f"fused com.microsoft {name}: onnxruntime-specific, analogc does not rewrite it; "
        "export without fusion (or with onnxruntime graph optimisations off) to run it analog"
    )


DIGITAL: Mapping[tuple[str, str], DigitalOp] = {
    **{
        ("", op): DigitalOp(recurrent.REASON.format(op), recurrent.macs, recurrent.digital_reason)
        for op in recurrent.OPS
    },
    ("", "Attention"): DigitalOp(
        "fused Attention op (opset 23): analogc does not decompose it; export attention as "
        "MatMul/Softmax to run its products analog",
        _attention_onnx,
    ),
    ("", "DeformConv"): DigitalOp(
        "deformable convolution: its sampling grid is data-dependent", _conv_like(1)
    ),
    ("", "QLinearConv"): DigitalOp(_quantized("QLinearConv"), _conv_like(3)),
    ("", "QLinearMatMul"): DigitalOp(_quantized("QLinearMatMul"), _matmul_like(0, 3)),
    ("", "MatMulInteger"): DigitalOp(_quantized("MatMulInteger"), _matmul_like(0, 1)),
    ("", "ConvInteger"): DigitalOp(_quantized("ConvInteger"), _conv_like(1)),
    ("com.microsoft", "Attention"): DigitalOp(_fused("Attention"), _attention_ms),
    ("com.microsoft", "MultiHeadAttention"): DigitalOp(_fused("MultiHeadAttention"), _mha_ms),
    ("com.microsoft", "GroupQueryAttention"): DigitalOp(_fused("GroupQueryAttention"), _none),
    ("com.microsoft", "PackedAttention"): DigitalOp(_fused("PackedAttention"), _none),
    ("com.microsoft", "DecoderAttention"): DigitalOp(_fused("DecoderAttention"), _none),
    ("com.microsoft", "FusedMatMul"): DigitalOp(
        _fused("FusedMatMul"), _matmul_like(0, 1, trans_attr=True)
    ),
    ("com.microsoft", "FusedConv"): DigitalOp(_fused("FusedConv"), _conv_like(1)),
    ("com.microsoft", "FusedGemm"): DigitalOp(_fused("FusedGemm"), _gemm_like(0, 1)),
    ("com.microsoft", "GemmFastGelu"): DigitalOp(_fused("GemmFastGelu"), _matmul_like(0, 1)),
    ("com.microsoft", "MatMulNBits"): DigitalOp(
        "weight-only quantized com.microsoft MatMulNBits (packed integer weights)", _matmul_nbits
    ),
    ("com.microsoft", "MatMulBnb4"): DigitalOp(
        "weight-only quantized com.microsoft MatMulBnb4 (packed integer weights)", _matmul_nbits
    ),
    ("com.microsoft", "QAttention"): DigitalOp(_quantized("com.microsoft QAttention"), _none),
    ("com.microsoft", "QOrderedMatMul"): DigitalOp(
        _quantized("com.microsoft QOrderedMatMul"), _matmul_like(0, 2)
    ),
    ("com.microsoft", "QGemm"): DigitalOp(_quantized("com.microsoft QGemm"), _gemm_like(0, 3)),
    ("com.microsoft", "DynamicQuantizeMatMul"): DigitalOp(
        _quantized("com.microsoft DynamicQuantizeMatMul"), _matmul_like(0, 1)
    ),
    ("com.microsoft", "MatMulIntegerToFloat"): DigitalOp(
        _quantized("com.microsoft MatMulIntegerToFloat"), _matmul_like(0, 1)
    ),
    ("ai.onnx.ml", "LinearClassifier"): DigitalOp(
        "ai.onnx.ml LinearClassifier: a classical-ML op analogc leaves as it is", _linear_ml
    ),
    ("ai.onnx.ml", "LinearRegressor"): DigitalOp(
        "ai.onnx.ml LinearRegressor: a classical-ML op analogc leaves as it is", _linear_ml
    ),
    ("ai.onnx.ml", "SVMClassifier"): DigitalOp(
        "ai.onnx.ml SVMClassifier: a classical-ML op analogc leaves as it is", _svm_ml
    ),
    ("ai.onnx.ml", "SVMRegressor"): DigitalOp(
        "ai.onnx.ml SVMRegressor: a classical-ML op analogc leaves as it is", _svm_ml
    ),
}
"""(domain, op type) -> why an op that contains matrix products stays digital, and its MACs."""
