"""Conv and ConvTranspose (1-D/2-D/3-D, strides, pads, dilations, auto_pad, groups).

The noise needs two maps besides the convolution itself: the squared norm of each input patch
(a convolution of X² with a ones kernel, one channel per group) and the squared norm of the
weight taps that meet the input at each output position (a convolution of a ones image with W²,
which onnxruntime folds into a constant when the spatial shape is static).

A convolution's input vectors are its patches (aihwkit unfolds them into the rows its tile
converts), so per-vector conversion works on X unfolded: one channel per (input channel, tap),
zero padding included, computed by a convolution of each input channel with a one-hot kernel
per tap; the op is then a 1×1 convolution of the patches. This costs prod(kernel) times X's
memory, and is only built for the terms that need it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..function_body import FunctionBody
from ..graph_index import GraphIndex, attribute_values, numel
from .base import (
    INT,
    INTS,
    ONE_F32,
    STRING,
    AnalogFamily,
    Lowering,
    ShapeOf,
    float_check,
    operand_dtype,
)

_CONV_ATTRIBUTES = {
    "auto_pad": STRING,
    "dilations": INTS,
    "group": INT,
    "kernel_shape": INTS,
    "pads": INTS,
    "strides": INTS,
}


class ConvFamily(AnalogFamily):
    """``AnalogConv``, ``AnalogGroupConv``, ``AnalogConvTranspose``, ``AnalogGroupConvTranspose``.

    Besides the op's inputs, the call takes ``mask_shape`` ([1, C_in, *spatial] of X, for the
    border-aware weight norms) and ``ones_shape`` (the ones kernel of the patch norms). A grouped
    convolution (not depthwise) also takes ``group_index``, the group of each output channel;
    a grouped ConvTranspose also ``w_group_shape`` ([G, C_in/G, C_out/G, *k], the view in which
    one output channel's weights are contiguous) and ``channel_shape`` ([-1, 1, ...]).
    """

    def __init__(self, *, transpose: bool, grouped: bool) -> None:
        self.transpose = transpose
        self.grouped = grouped
        self.op_type = "ConvTranspose" if transpose else "Conv"
        self.name = f"Analog{'Group' if grouped else ''}{self.op_type}"
        inputs = ["X", "W", "B", "mask_shape", "ones_shape"]
        if grouped:
            inputs.append("group_index")
        if grouped and transpose:
            inputs += ["w_group_shape", "channel_shape"]
        self.inputs = tuple(inputs)
        extra = {"output_padding": INTS, "output_shape": INTS} if transpose else {}
        self.attributes = {**_CONV_ATTRIBUTES, **extra, "w_axes": INTS}
        self.refs = {a: a for a in self.attributes if a != "w_axes"}
        self.unfolds = not transpose

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        return b.op(self.op_type, x, w, "B", refs=self.refs)

    def weight_view(self, b: FunctionBody, w: str) -> str:
        if self.grouped and self.transpose:
            return b.op("Reshape", w, "w_group_shape")
        return w

    def weight_from_view(self, b: FunctionBody, per_view: str) -> str:
        if self.grouped and self.transpose:
            full = b.op("Expand", per_view, "w_group_shape")
            return b.op("Reshape", full, b.op("Shape", "W"))
        return per_view

    output_channel_axis = 1

    def channel_layout(self, b: FunctionBody, per_channel: str) -> str:
        if self.grouped and self.transpose:
            return b.op("Reshape", per_channel, "channel_shape")
        return b.squeeze(per_channel, 0 if self.transpose else 1)

    def vector_absmax(self, b: FunctionBody, x: str) -> tuple[str, str]:
        """Per patch and group for a convolution (:meth:`patch_absmax` of the unfolded X);
        per example for a ConvTranspose, whose input vectors do not map to outputs one to
        one: [N, 1, ..., 1]."""
        if self.unfolds:
            return self.patch_absmax(b, self.unfold(b, x))
        flat = b.op("Flatten", b.op("Abs", x), axis=1)
        per_example = b.reduce("ReduceMax", flat, [1])
        ones = b.op("Add", b.op("Mul", b.slice("mask_shape", 1), b.const([0])), b.const([1]))
        shape = b.op("Concat", b.const([-1]), ones, axis=0)
        m = b.op("Reshape", per_example, shape)
        return m, m

    def zero_input(self, b: FunctionBody, x: str) -> str | None:
        """One example of zeros: its product is B per output channel, for every example."""
        return b.op("Mul", b.slice(x, 0, 1), b.const(0.0))

    def unfold(self, b: FunctionBody, x: str) -> str:
        """[N, C_in·K, *out] (K = prod(kernel)), channel ``c·K + k`` holding tap ``k`` of input
        channel ``c``: the order of W's [C_out, C_in/G, *kernel] flattened per output channel,
        so one group's patches are contiguous channels."""
        kernel = b.slice("ones_shape", 2)
        taps = b.reduce("ReduceProd", kernel, [0])
        square = b.op("ConstantOfShape", b.op("Concat", taps, taps, axis=0), value=ONE_F32)
        one_hot = b.op(
            "Reshape", b.op("EyeLike", square), b.op("Concat", taps, b.const([1]), kernel, axis=0)
        )
        shape = b.op("Shape", x)
        rows = b.op("Reshape", x, b.op("Concat", b.const([-1, 1]), b.slice(shape, 2), axis=0))
        window = {a: a for a in ("auto_pad", "dilations", "pads", "strides")}
        per_tap = b.op("Conv", rows, one_hot, refs=window)
        out_shape = b.op(
            "Concat",
            b.slice(shape, 0, 1),
            b.const([-1]),
            b.slice(b.op("Shape", per_tap), 2),
            axis=0,
        )
        return b.op("Reshape", per_tap, out_shape)

    def patch_product(self, b: FunctionBody, patches: str, w: str) -> str:
        """A 1×1 convolution of the patches with W as [C_out, C_in/G·K, 1, ...]."""
        ones = b.op("Add", b.op("Mul", b.slice("ones_shape", 2), b.const([0])), b.const([1]))
        w_shape = b.op("Concat", b.slice(b.op("Shape", w), 0, 1), b.const([-1]), ones, axis=0)
        return b.op("Conv", patches, b.op("Reshape", w, w_shape), "B", refs={"group": "group"})

    def _grouped(self, b: FunctionBody, patches: str) -> str:
        """The patches as [N, G, C_in/G·K, *out]: one input vector per (example, group,
        output position); on X itself, [N, G, C_in/G, *spatial]."""
        shape = b.op("Shape", patches)
        grouped = b.op(
            "Concat",
            b.slice(shape, 0, 1),
            b.slice("ones_shape", 0, 1),
            b.const([-1]),
            b.slice(shape, 2),
            axis=0,
        )
        return b.op("Reshape", patches, grouped)

    def _against_y(self, b: FunctionBody, per_group: str) -> str:
        """[N, G, *out] against Y: as it is (G is 1 or C_out), or each channel's group's."""
        if self.grouped:
            return b.op("Gather", per_group, "group_index", axis=1)
        return per_group

    def patch_absmax(self, b: FunctionBody, patches: str) -> tuple[str, str]:
        grouped = self._grouped(b, b.op("Abs", patches))
        amax = b.reduce("ReduceMax", grouped, [2])
        full = b.op("Expand", amax, b.op("Shape", grouped))
        against_patches = b.op("Reshape", full, b.op("Shape", patches))
        return against_patches, self._against_y(b, b.squeeze(amax, 2))

    def patches_norm2(self, b: FunctionBody, patches: str) -> str:
        norm2 = b.reduce("ReduceSumSquare", self._grouped(b, patches), [2], keepdims=0)
        return self._against_y(b, norm2)

    def patch_norm2(self, b: FunctionBody, x: str) -> str:
        if self.transpose:
            ones = b.op("ConstantOfShape", "ones_shape", value=ONE_F32)
            n2 = b.op("ConvTranspose", b.op("Mul", x, x), ones, refs=self.refs)
        else:
            n2 = self._conv_patch_norm2(b, x)
        if self.grouped:  # one map per group: each output channel picks its group's
            n2 = b.op("Gather", n2, "group_index", axis=1)
        return n2

    def _conv_patch_norm2(self, b: FunctionBody, x: str) -> str:
        """Σ over each group's channels and the kernel window of X², one map per group.

        Summing channels first and then the window (a per-group box filter with the op's own
        strides, pads and dilations) gives exactly the one-step convolution of X² with a ones
        kernel [G, C_in/G, *k], at 1/prod(k) + G/C_in of its cost: 3×3 kernels on 64
        channels, ~8× fewer MACs. The channel sum is a ``ReduceSumSquare`` over X viewed as
        [N, G, C_in/G, ...]: as a 1×1 convolution with ones it wrote X² first, and
        onnxruntime's blocked layout computed 16 output channels for each group's one (on a
        ResNet-50, 9% of the noisy graph's time). ``ones_shape`` holds
        [G, C_in/G, *k]; the two kernel shapes are derived from it and constant-folded.
        """
        kernel = b.slice("ones_shape", 2)
        box_shape = b.op("Concat", b.slice("ones_shape", 0, 1), b.const([1]), kernel, axis=0)
        # X as [N, G, C_in/G, *spatial], squared and summed over each group's channels
        channels = b.reduce("ReduceSumSquare", self._grouped(b, x), [2], keepdims=0)
        box = b.op("ConstantOfShape", box_shape, value=ONE_F32)
        return b.op("Conv", channels, box, refs=self.refs)

    def weight_norm2(self, b: FunctionBody, w: str) -> str:
        mask = b.op("ConstantOfShape", "mask_shape", value=ONE_F32)
        return b.op(self.op_type, mask, b.op("Mul", w, w), refs=self.refs)


CONV = ConvFamily(transpose=False, grouped=False)
GROUP_CONV = ConvFamily(transpose=False, grouped=True)
CONV_TRANSPOSE = ConvFamily(transpose=True, grouped=False)
GROUP_CONV_TRANSPOSE = ConvFamily(transpose=True, grouped=True)


def _int64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _mask_shape(
    x: str, channels: int, index: GraphIndex, prefix: str
) -> tuple[str, list[onnx.TensorProto], list[onnx.NodeProto]]:
    """[1, C, *spatial] of ``x``: a constant when static, else computed from Shape(x)."""
    name = f"{prefix}/mask_shape"
    shape = index.shape(x)
    spatial = [d for d in shape[2:] if isinstance(d, int)] if shape is not None else []
    if shape is not None and len(spatial) == len(shape) - 2:
        return name, [_int64(name, [1, channels, *spatial])], []
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
        family = CONV
        if groups not in (1, c_out):
            # Patch norms come out one per group; each output channel picks its group's map.
            family = GROUP_CONV
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
        family, w_axes = CONV_TRANSPOSE, [0, *range(2, len(w))]
        if groups != 1:
            # W is [C_in, C_out/G, *k]: output channel g·C_out/G + o is fed by group g's input
            # channels only. Its weights are found in the view [G, C_in/G, C_out/G, *k].
            family, w_axes = GROUP_CONV_TRANSPOSE, [1, *range(3, len(w) + 1)]
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
