"""Gemm: Y = alpha·A'·B' + beta·C with transA/transB; noise on the output including C."""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

import onnx

from ..function_body import FunctionBody
from ..graph_index import GraphIndex, attribute_values, numel
from .base import FLOAT, INT, INTS, AnalogFamily, Lowering, ShapeOf, float_check, operand_dtype

_DEFAULTS = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}


class GemmFamily(AnalogFamily):
    """``AnalogGemm``: Y = alpha·A'·B' + beta·C; ``x_axes``/``w_axes`` give one norm per row
    of A' and per column of B'. alpha scales every weight: ``|alpha|·r_w``, ``alpha²·‖w‖²``."""

    name = "AnalogGemm"
    inputs = ("X", "W", "C")
    attributes = MappingProxyType(
        {
            "alpha": FLOAT,
            "beta": FLOAT,
            "transA": INT,
            "transB": INT,
            "x_axes": INTS,
            "w_axes": INTS,
        }
    )

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        refs = {a: a for a in ("alpha", "beta", "transA", "transB")}
        return b.op("Gemm", x, w, "C", refs=refs)

    def zero_input(self, b: FunctionBody, x: str) -> str | None:
        """Zeros like A: the product is beta·C as broadcast to Y (C may vary per row)."""
        return b.op("Mul", x, b.const(0.0))

    output_channel_axis = 1

    def to_output(self, b: FunctionBody, per_channel: str) -> str:
        row = self.channel_layout(b, per_channel)
        return b.op("Mul", row, b.op("Abs", b.attr_float("alpha")))

    def channel_layout(self, b: FunctionBody, per_channel: str) -> str:
        return b.op("Reshape", per_channel, b.const([1, -1]))

    def vector_absmax(self, b: FunctionBody, x: str) -> tuple[str, str]:
        against_x = b.reduce("ReduceMax", b.op("Abs", x), "x_axes")
        return against_x, b.op("Reshape", against_x, b.const([-1, 1]))

    def patch_norm2(self, b: FunctionBody, x: str) -> str:
        return b.op("Reshape", b.reduce("ReduceSumSquare", x, "x_axes"), b.const([-1, 1]))

    def weight_norm2(self, b: FunctionBody, w: str) -> str:
        alpha = b.attr_float("alpha")
        row = b.op("Reshape", b.reduce("ReduceSumSquare", w, "w_axes"), b.const([1, -1]))
        return b.op("Mul", row, b.op("Mul", alpha, alpha))


GEMM = GemmFamily()


class GemmHandler:
    op_type = "Gemm"

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        if self.fan_in(node, index) is None:
            return "contraction size K is not static"
        return float_check(node, index, list(node.input[:2]))

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        attrs = {**_DEFAULTS, **attribute_values(node)}
        a, b = index.shape(node.input[0]), index.shape(node.input[1])
        k_of_a = a[0 if attrs["transA"] else 1] if a is not None and len(a) == 2 else None
        if isinstance(k_of_a, int):
            return float(k_of_a)
        k_of_b = b[1 if attrs["transB"] else 0] if b is not None and len(b) == 2 else None
        if isinstance(k_of_b, int):
            return float(k_of_b)
        return None

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out, k = shape_of(node.output[0]), self.fan_in(node, index)
        return None if out is None or k is None else numel(out) * int(k)

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        return "constant" if index.is_constant(node.input[1]) else "activation"

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        attrs = {**_DEFAULTS, **attribute_values(node)}
        # Reduce axes that give one norm per row of A' and per column of B'.
        attrs["x_axes"] = [0] if attrs["transA"] else [1]
        attrs["w_axes"] = [1] if attrs["transB"] else [0]
        c = node.input[2] if len(node.input) > 2 else ""
        return Lowering(
            family=GEMM,
            inputs=[node.input[0], node.input[1], c],
            n_original_inputs=len(node.input),
            attrs=attrs,
            original_attrs=[a.name for a in node.attribute],
            dtype=operand_dtype(index, node.input[0]),
        )
