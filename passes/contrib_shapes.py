"""Output types of common ``com.microsoft`` and ``ai.onnx.ml`` ops onnx's inference skips.

onnx stops inferring at an op whose schema it lacks (onnxruntime's fused ops: Gelu,
SkipLayerNormalization, FusedMatMul, Attention, MatMulNBits, ...) or whose schema has no
inference function (ai.onnx.ml Normalizer, Scaler, ...), so every op after it would lose its
shapes and, with them, its MAC count and its chance to run analog. :func:`contrib_value_infos`
gives the output type of the ops listed here from their inputs' types and attributes; ``_io``
adds them as value_info and runs onnx's inference again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import onnx
from onnx import helper

from .graph_index import Dim, Shape, attribute_values

Types = Mapping[str, tuple[int, Shape | None]]
Rule = Callable[[onnx.NodeProto, Types], "tuple[int, Shape | None] | None"]

MS = "com.microsoft"


def _like_input(i: int = 0) -> Rule:
    def rule(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
        return types.get(node.input[i]) if len(node.input) > i else None

    return rule


def _float_like_input(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
    """ai.onnx.ml ops that map a tensor to a float tensor of the same shape."""
    found = types.get(node.input[0]) if node.input else None
    return None if found is None else (onnx.TensorProto.FLOAT, found[1])


def _broadcast(a: Shape, b: Shape) -> Shape:
    out: list[Dim] = []
    for i in range(max(len(a), len(b))):
        da = a[len(a) - 1 - i] if i < len(a) else 1
        db = b[len(b) - 1 - i] if i < len(b) else 1
        out.append(db if da == 1 else da if db == 1 or da == db else (da if db is None else db))
    return tuple(reversed(out))


def _fused_matmul(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
    attrs = attribute_values(node)
    if attrs.get("transBatchA") or attrs.get("transBatchB"):
        return None
    a, b = types.get(node.input[0]), types.get(node.input[1])
    if a is None or b is None or a[1] is None or b[1] is None:
        return None
    sa, sb = list(a[1]), list(b[1])
    if len(sa) < 2 or len(sb) < 2:
        return None
    if attrs.get("transA"):
        sa[-2], sa[-1] = sa[-1], sa[-2]
    if attrs.get("transB"):
        sb[-2], sb[-1] = sb[-1], sb[-2]
    batch = _broadcast(tuple(sa[:-2]), tuple(sb[:-2]))
    return a[0], (*batch, sa[-2], sb[-1])


def _matmul_nbits(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
    a = types.get(node.input[0])
    n = attribute_values(node).get("N")
    if a is None or a[1] is None or n is None:
        return None
    return a[0], (*a[1][:-1], int(n))  # type: ignore[call-overload]


def _attention(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
    x, w = types.get(node.input[0]), types.get(node.input[1])
    if x is None or x[1] is None or len(x[1]) != 3:
        return None
    sizes = attribute_values(node).get("qkv_hidden_sizes")
    if sizes:
        v_hidden: Dim = int(list(sizes)[2])  # type: ignore[call-overload]
    elif w is not None and w[1] is not None and isinstance(w[1][1], int):
        v_hidden = w[1][1] // 3
    else:
        return None
    return x[0], (x[1][0], x[1][1], v_hidden)


def _multi_head_attention(node: onnx.NodeProto, types: Types) -> tuple[int, Shape | None] | None:
    q = types.get(node.input[0])
    v = types.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if q is None or q[1] is None or len(q[1]) != 3:
        return None
    hidden = v[1][2] if v is not None and v[1] is not None and len(v[1]) == 3 else q[1][2]
    return q[0], (q[1][0], q[1][1], hidden)


RULES: Mapping[tuple[str, str], Rule] = {
    **{
        (MS, op): _like_input(0)
        for op in (
            "Gelu",
            "FastGelu",
            "BiasGelu",
            "QuickGelu",
            "BiasAdd",
            "BiasSoftmax",
            "BiasDropout",
            "SkipLayerNormalization",
            "SkipSimplifiedLayerNormalization",
            "SimplifiedLayerNormalization",
            "LayerNormalization",
            "RotaryEmbedding",
        )
    },
    **{
        ("ai.onnx.ml", op): _float_like_input
        for op in ("Normalizer", "Scaler", "Binarizer", "Imputer")
    },
    (MS, "FusedMatMul"): _fused_matmul,
    (MS, "MatMulNBits"): _matmul_nbits,
    (MS, "MatMulBnb4"): _matmul_nbits,
    (MS, "Attention"): _attention,
    (MS, "MultiHeadAttention"): _multi_head_attention,
}
"""(domain, op type) -> the type of the op's first output."""


def contrib_value_infos(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Value infos for the first output of listed ops whose output type is not known yet."""
    types: dict[str, tuple[int, Shape | None]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        if vi.type.HasField("tensor_type"):
            tt = vi.type.tensor_type
            shape: Shape | None = None
            if tt.HasField("shape"):
                shape = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tt.shape.dim
                )
            if tt.elem_type:
                types[vi.name] = (tt.elem_type, shape)
    for t in graph.initializer:
        types[t.name] = (t.data_type, tuple(int(d) for d in t.dims))
    out = []
    for node in graph.node:
        rule = RULES.get((node.domain, node.op_type))
        if rule is None or not node.output or node.output[0] in types:
            continue
        found = rule(node, types)
        if found is None:
            continue
        dtype, shape = found
        types[node.output[0]] = found
        out.append(
            helper.make_tensor_value_info(
                node.output[0], dtype, None if shape is None else list(shape)
            )
        )
    return out
