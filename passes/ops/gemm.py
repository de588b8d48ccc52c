"""Gemm: Y = alpha·A'·B' + beta·C with transA/transB; noise on the output including C."""

from __future__ import annotations

from typing import Literal

import onnx

from ..graph_index import GraphIndex, attribute_values, numel
from .base import Lowering, ShapeOf, float_check, operand_dtype

_DEFAULTS = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}


class GemmHandler:
    op_type = "Gemm"

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        if self.fan_in(node, index) is None:
            return "contraction size K is not static"
        return float_check(node, index, list(node.input[:2]))

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        attrs = {**_DEFAULTS, **attribute_values(node)}
        a, b = index.shape(node.input[0]), index.shape(node.input[1])
        if a is not None and len(a) == 2 and isinstance(a[0 if attrs["transA"] else 1], int):
            return float(a[0 if attrs["transA"] else 1])
        if b is not None and len(b) == 2 and isinstance(b[1 if attrs["transB"] else 0], int):
            return float(b[1 if attrs["transB"] else 0])
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
            family="AnalogGemm",
            inputs=[node.input[0], node.input[1], c],
            n_original_inputs=len(node.input),
            attrs=attrs,
            original_attrs=[a.name for a in node.attribute],
            dtype=operand_dtype(index, node.input[0]),
        )
