"""Conv and ConvTranspose (1-D/2-D/3-D, strides, pads, dilations, auto_pad, groups).

The noise needs two maps besides the convolution itself: the squared norm of each input patch
(a convolution of X² with a ones kernel, one channel per group) and the squared norm of the
weight taps that meet the input at each output position (a convolution of a ones image with W²,
which onnxruntime folds into a constant when the spatial shape is static).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..graph_index import GraphIndex, attribute_values, numel
from .base import Lowering, ShapeOf, float_check, operand_dtype


def _int64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _mask_shape(
    x: str, channels: int, index: GraphIndex, prefix: str
) -> tuple[str, list[onnx.TensorProto], list[onnx.NodeProto]]:
    """[1, C, *spatial] of ``x``: a constant when static, else computed from Shape(x)."""
    name = f"{prefix}/mask_shape"
    shape = index.shape(x)
    if shape is not None and all(isinstance(d, int) for d in shape[2:]):
        return name, [_int64(name, [1, channels, *shape[2:]])], []
    head = f"{prefix}/mask_head"
    nodes = [helper.make_node("Shape", [x], [f"{prefix}/x_shape"], name=f"{prefix}/Shape")]
    if index.opset >= 10:
        inits = [
            _int64(head, [1, channels]),
            _int64(f"{prefix}/starts", [2]),
            _int64(f"{prefix}/ends", [np.iinfo(np.int64).max]),
        ]
        slice_inputs = [f"{prefix}/x_shape", f"{prefix}/starts", f"{prefix}/ends"]
        nodes.append(
            helper.make_node("Slice", slice_inputs, [f"{prefix}/spatial"], name=f"{prefix}/Slice")
        )
    else:
        inits = [_int64(head, [1, channels])]
        nodes.append(
            helper.make_node(
                "Slice",
                [f"{prefix}/x_shape"],
                [f"{prefix}/spatial"],
                name=f"{prefix}/Slice",
                starts=[2],
                ends=[np.iinfo(np.int64).max],
                axes=[0],
            )
        )
    nodes.append(
        helper.make_node(
            "Concat", [head, f"{prefix}/spatial"], [name], name=f"{prefix}/Concat", axis=0
        )
    )
    return name, inits, nodes


class ConvHandler:
    op_type = "Conv"

    def _weight_shape(self, node: onnx.NodeProto, index: GraphIndex) -> tuple[int, ...] | None:
        shape = index.shape(node.input[1])
        if shape is None or not all(isinstance(d, int) for d in shape):
            return None
        return tuple(int(d) for d in shape)  # type: ignore[arg-type]

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        if self._weight_shape(node, index) is None:
            return "weight shape is not static"
        if index.rank(node.input[0]) is None:
            return "rank of the input is unknown after shape inference"
        return float_check(node, index, list(node.input[:2]))

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        w = self._weight_shape(node, index)
        return None if w is None else float(numel(w[1:]))

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        out, d = shape_of(node.output[0]), self.fan_in(node, index)
        return None if out is None or d is None else numel(out) * int(d)

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        return "constant" if index.is_constant(node.input[1]) else "activation"

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        attrs = attribute_values(node)
        w = self._weight_shape(node, index)
        assert w is not None  # guaranteed by check()
        groups = int(attrs.get("group", 1))  # type: ignore[call-overload]
        c_out, c_in = w[0], w[1] * groups
        mask, inits, nodes = _mask_shape(node.input[0], c_in, index, prefix)
        ones = f"{prefix}/ones_shape"
        inits.append(_int64(ones, [groups, w[1], *w[2:]]))
        inputs = [
            node.input[0],
            node.input[1],
            node.input[2] if len(node.input) > 2 else "",
            mask,
            ones,
        ]
        family = "AnalogConv"
        if groups not in (1, c_out):
            # Patch norms come out one per group; each output channel picks its group's map.
            family = "AnalogGroupConv"
            gidx = f"{prefix}/group_index"
            inits.append(_int64(gidx, [c // (c_out // groups) for c in range(c_out)]))
            inputs.append(gidx)
        return Lowering(
            family=family,
            inputs=inputs,
            n_original_inputs=len(node.input),
            attrs={**attrs, "w_axes": list(range(1, len(w)))},
            original_attrs=list(attrs),
            initializers=inits,
            nodes=nodes,
            dtype=operand_dtype(index, node.input[0]),
        )


class ConvTransposeHandler(ConvHandler):
    op_type = "ConvTranspose"

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        x, y = index.per_example_shape(node.input[0]), index.per_example_shape(node.output[0])
        if x is None or y is None:
            return "ConvTranspose with run-time spatial size: its average fan-in is not static"
        return super().check(node, index)

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        """Average contributions per output element: MACs / output elements."""
        w = self._weight_shape(node, index)
        x, y = index.per_example_shape(node.input[0]), index.per_example_shape(node.output[0])
        if w is None:
            return None
        if x is None or y is None:
            return None
        return float(numel(w) * numel(x[2:]) / numel(y[1:]))

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        w, x = self._weight_shape(node, index), shape_of(node.input[0])
        return None if w is None or x is None else numel(w) * numel(x[2:])

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        attrs = attribute_values(node)
        w = self._weight_shape(node, index)
        assert w is not None
        groups = int(attrs.get("group", 1))  # type: ignore[call-overload]
        c_in, per_group, kernel = w[0], w[1], list(w[2:])
        mask, inits, nodes = _mask_shape(node.input[0], c_in, index, prefix)
        ones = f"{prefix}/ones_shape"
        inits.append(_int64(ones, [c_in, 1, *kernel]))
        inputs = [
            node.input[0],
            node.input[1],
            node.input[2] if len(node.input) > 2 else "",
            mask,
            ones,
        ]
        family, w_axes = "AnalogConvTranspose", [0, *range(2, len(w))]
        if groups != 1:
            # W is [C_in, C_out/G, *k]: output channel g·C_out/G + o is fed by group g's input
            # channels only. Its weights are found in the view [G, C_in/G, C_out/G, *k].
            family, w_axes = "AnalogGroupConvTranspose", [1, *range(3, len(w) + 1)]
            c_out = per_group * groups
            gidx, wshape, cshape = (f"{prefix}/{n}" for n in ("group_index", "w_group", "channel"))
            inits.append(_int64(gidx, [c // per_group for c in range(c_out)]))
            inits.append(_int64(wshape, [groups, c_in // groups, per_group, *kernel]))
            inits.append(_int64(cshape, [-1, *([1] * len(kernel))]))
            inputs += [gidx, wshape, cshape]
        return Lowering(
            family=family,
            inputs=inputs,
            n_original_inputs=len(node.input),
            attrs={**attrs, "w_axes": w_axes},
            original_attrs=list(attrs),
            initializers=inits,
            nodes=nodes,
            dtype=operand_dtype(index, node.input[0]),
        )
