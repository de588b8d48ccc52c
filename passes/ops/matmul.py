"""MatMul: batched and broadcast, weight constant or both operands activations."""

from __future__ import annotations

from typing import Literal

import onnx

from .._index import GraphIndex, numel
from .base import Lowering, ShapeOf, float_check


class MatMulHandler:
    op_type = "MatMul"

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        a, b = node.input[0], node.input[1]
        for name in (a, b):
            rank = index.rank(name)
            if rank is None:
                return f"rank of operand '{name}' is unknown after shape inference"
            if rank < 2:
                return f"operand '{name}' is 1-D; only matrices (rank >= 2) are handled"
        if self.fan_in(node, index) is None:
            return "contraction size K is not static"
        return float_check(node, index, [a, b])

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        for name, axis in ((node.input[0], -1), (node.input[1], -2)):
            shape = index.shape(name)
            if shape and isinstance(shape[axis], int):
                return float(shape[axis])
        return None

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out, k = shape_of(node.output[0]), self.fan_in(node, index)
        return None if out is None or k is None else numel(out) * int(k)

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        return "constant" if index.is_constant(node.input[1]) else "activation"

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        return Lowering(
            family="AnalogMatMul",
            inputs=[node.input[0], node.input[1]],
            n_original_inputs=2,
            attrs={},
            original_attrs=[],
        )
