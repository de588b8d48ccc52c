"""MatMul: batched and broadcast, weight constant or both operands activations, 1-D operands.

Operands of rank >= 2 lower to ``AnalogMatMul``. A 1-D operand (numpy semantics: a vector is
promoted to a matrix and the added axis removed from the result) lowers to ``AnalogMatVec``,
whose norms are reduced over the contracted axis and laid out like the output: see
:func:`contraction_layout`.

When the contraction length K is not static after shape inference (attention's ``A·V``
contracts over a dynamic sequence axis), the op still runs analog: it lowers to the ``DynK``
variant of its family, whose body takes D = K from ``Shape(X)`` at run time, so the noise is
exact for every length. Its ``fan_in`` is then None (no attribute on the node) and its MACs per
example are known only from run-time shapes (calibration measures them).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Literal

import onnx

from ..function_body import FunctionBody
from ..graph_index import GraphIndex, numel
from .base import INTS, AnalogFamily, Lowering, ShapeOf, float_check, operand_dtype


def contraction_layout(
    kept_positions: Sequence[int], output_rank: int, prefix: str
) -> dict[str, list[int]]:
    """Attributes that lay out a reduced operand like the output (see ``AnalogEinsum``).

    The function body reduces an operand over its contracted axes (``keepdims=0``), which
    leaves its other axes in the operand's order. ``kept_positions[k]`` is the output axis of
    the k-th of them. The body then unsqueezes two leading axes, transposes with ``perm`` so
    that the kept axes follow the output's order, unsqueezes a third leading axis and a 1 at
    every output axis the operand lacks (``unsq``), and squeezes the three leading axes.
    The leading axes keep both lists non-empty, as ONNX requires.
    """
    order = sorted(range(len(kept_positions)), key=lambda k: kept_positions[k])
    missing = [p for p in range(output_rank) if p not in set(kept_positions)]
    return {
        f"{prefix}_perm": [0, 1, *(2 + k for k in order)],
        f"{prefix}_unsq": [0, *(3 + m for m in missing)],
    }


class MatMulFamily(AnalogFamily):
    """``AnalogMatMul``: numpy matmul of operands of rank >= 2; W's column i is ``w_i``."""

    channel_axes = (-2,)
    output_channel_axis = -1

    def __init__(self, *, static_fan_in: bool = True) -> None:
        self.static_fan_in = static_fan_in
        self.name = "AnalogMatMul" + ("" if static_fan_in else "DynK")

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        return b.op("MatMul", x, w)

    def channel_layout(self, b: FunctionBody, per_channel: str) -> str:
        return per_channel

    def vector_absmax(self, b: FunctionBody, x: str) -> tuple[str, str]:
        m = b.reduce("ReduceMax", b.op("Abs", x), [-1])
        return m, m

    def patch_norm2(self, b: FunctionBody, x: str) -> str:
        return b.reduce("ReduceSumSquare", x, [-1])

    def weight_norm2(self, b: FunctionBody, w: str) -> str:
        return b.reduce("ReduceSumSquare", w, [-2])

    def runtime_fan_in(self, b: FunctionBody) -> str:
        """K = ``X.shape[-1]``."""
        k = b.op("Gather", b.op("Shape", "X"), b.const_i64(-1), axis=0)
        return b.op("Cast", k, to=onnx.TensorProto.FLOAT)


CONTRACTION_ATTRIBUTES = MappingProxyType(
    {name: INTS for name in ("x_axes", "w_axes", "x_perm", "x_unsq", "w_perm", "w_unsq")}
)


class ContractionFamily(AnalogFamily):
    """A contraction whose norms are reduced over the contracted axes (``x_axes``,
    ``w_axes``) and laid out like the output by :func:`contraction_layout`'s attributes."""

    attributes = CONTRACTION_ATTRIBUTES

    def channel_layout(self, b: FunctionBody, per_channel: str) -> str:
        return _layout(b, b.squeeze(per_channel, "w_axes"), "w")

    def vector_absmax(self, b: FunctionBody, x: str) -> tuple[str, str]:
        a = b.op("Abs", x)
        against_x = b.reduce("ReduceMax", a, "x_axes")
        return against_x, _layout(b, b.reduce("ReduceMax", a, "x_axes", keepdims=0), "x")

    def patch_norm2(self, b: FunctionBody, x: str) -> str:
        return _layout(b, b.reduce("ReduceSumSquare", x, "x_axes", keepdims=0), "x")

    def weight_norm2(self, b: FunctionBody, w: str) -> str:
        return _layout(b, b.reduce("ReduceSumSquare", w, "w_axes", keepdims=0), "w")

    def runtime_fan_in(self, b: FunctionBody) -> str:
        """The product over the contracted axes of the larger of X's and W's size
        (``x_axes`` and ``w_axes`` list them index by index in the same order, so a broadcast
        size 1 gives way, as in the pass's static count)."""
        sizes = []
        for name, axes in (("X", "x_axes"), ("W", "w_axes")):
            dims = b.op(
                "Gather", b.op("Shape", name), b.op("Constant", refs={"value_ints": axes}), axis=0
            )
            sizes.append(b.op("Cast", dims, to=onnx.TensorProto.FLOAT))
        return b.op("ReduceProd", b.op("Max", *sizes), keepdims=0)


class MatVecFamily(ContractionFamily):
    """``AnalogMatVec``: a MatMul with a 1-D operand (numpy's promotion rules)."""

    def __init__(self, *, static_fan_in: bool = True) -> None:
        self.static_fan_in = static_fan_in
        self.name = "AnalogMatVec" + ("" if static_fan_in else "DynK")

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        return b.op("MatMul", x, w)


def _layout(b: FunctionBody, reduced: str, prefix: str) -> str:
    """A tensor holding an operand's uncontracted axes, laid out like the output
    (see :func:`contraction_layout`)."""
    t = b.unsqueeze(reduced, [0, 1])
    t = b.op("Transpose", t, refs={"perm": f"{prefix}_perm"})
    t = b.unsqueeze(t, f"{prefix}_unsq")
    return b.squeeze(t, [0, 1, 2])


MATMUL = MatMulFamily()
MATMUL_DYNK = MatMulFamily(static_fan_in=False)
MATVEC = MatVecFamily()
MATVEC_DYNK = MatVecFamily(static_fan_in=False)


class MatMulHandler:
    op_type = "MatMul"

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        a, b = node.input[0], node.input[1]
        for name in (a, b):
            rank = index.rank(name)
            if rank is None:
                return f"rank of operand '{name}' is unknown after shape inference"
            if rank == 0:
                return f"operand '{name}' is a scalar; MatMul needs rank >= 1"
        if index.rank(node.output[0]) is None:
            return "rank of the output is unknown after shape inference"
        return float_check(node, index, [a, b])

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        """K if shape inference knows it, else None (D is then taken at run time)."""
        for name, axis in ((node.input[0], -1), (node.input[1], -2)):
            shape = index.shape(name)
            dim = shape[max(axis, -len(shape))] if shape else None
            if isinstance(dim, int):
                return float(dim)
        return None

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out, k = shape_of(node.output[0]), self.fan_in(node, index)
        if k is None:  # K from the shapes ``shape_of`` gives (e.g. those observed at run time)
            k = _contraction_length(node, shape_of)
        return None if out is None or k is None else numel(out) * int(k)

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        return "constant" if index.is_constant(node.input[1]) else "activation"

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        ra, rb = index.rank(node.input[0]), index.rank(node.input[1])
        ry = index.rank(node.output[0])
        assert ra is not None and rb is not None and ry is not None  # guaranteed by check()
        dtype = operand_dtype(index, node.input[0])
        static = self.fan_in(node, index) is not None
        if ra >= 2 and rb >= 2:
            family = MATMUL if static else MATMUL_DYNK
            return Lowering(family, list(node.input[:2]), 2, {}, [], dtype=dtype)
        # 1-D operands: the output holds A's batch and row axes, then B's batch and column
        # axes, right-aligned (broadcast batch axes are shared).
        attrs: dict[str, Any] = {"x_axes": [ra - 1], "w_axes": [rb - 1 if rb == 1 else rb - 2]}
        if ra == 1:
            x_kept: list[int] = []
        else:  # A's axes but the last, right-aligned against the output (B is a vector)
            x_kept = [ry - (ra - 1) + k for k in range(ra - 1)]
        if rb == 1:
            w_kept: list[int] = []
        else:  # B's batch axes (aligned with the output's batch axes) and its column axis
            n_batch = rb - 2
            batch_end = ry - 1 if ra == 1 else ry - 2
            w_kept = [batch_end - n_batch + k for k in range(n_batch)] + [ry - 1]
        attrs.update(contraction_layout(x_kept, ry, "x"))
        attrs.update(contraction_layout(w_kept, ry, "w"))
        vector_family = MATVEC if static else MATVEC_DYNK
        return Lowering(vector_family, list(node.input[:2]), 2, attrs, [], dtype=dtype)


def _contraction_length(node: onnx.NodeProto, shape_of: ShapeOf) -> int | None:
    """K from per-example shapes: A's last axis, or B's second-to-last (its only one if 1-D).

    The larger of the two, as ``shape_of`` counts a leading axis equal to the batch as 1.
    """
    ks = []
    for name, axis in ((node.input[0], -1), (node.input[1], -2)):
        shape = shape_of(name)
        if shape:
            ks.append(int(shape[max(axis, -len(shape))]))
    return max(ks) if ks else None
