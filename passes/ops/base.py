"""The contract every op family meets, and the records discovery and lowering exchange.

An op family has two halves, both in its own module under ``passes/ops/``:

* an :class:`OpHandler` for the standard op it replaces (MatMul, Conv, ...): whether a node can
  run analog (or the reason it stays digital), its fan-in and MACs, which operand is the
  weight, and the ``ai.analogc`` call that replaces it (a :class:`Lowering`);
* one or more :class:`AnalogFamily` objects, the ``ai.analogc`` functions a handler lowers to:
  their inputs and attributes, the product itself, and the norms and layouts the noise terms
  need (:mod:`analogc.passes.noise`). The function library composes them with the noise terms;
  nothing outside the family's module branches on which family it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import onnx
from onnx import AttributeProto, numpy_helper

from ..function_body import FunctionBody
from ..graph_index import FLOAT_TYPES, GraphIndex

ShapeOf = Callable[[str], "tuple[int, ...] | None"]
"""Resolves a tensor name to its per-example shape (batch dims counted as 1), or None."""


@dataclass(frozen=True)
class Lowering:
    """How one op becomes an ``ai.analogc`` function call.

    Attributes:
        family: the ``ai.analogc`` function family the call uses.
        inputs: the call's inputs, original operands first ("" for an absent optional one).
        n_original_inputs: how many of ``inputs`` the original op had (``strip`` keeps those).
        attrs: attributes besides the common analog ones (the op's own, plus reduce axes).
        original_attrs: names of the original op's attributes among ``attrs``.
        initializers: small constant tensors the call needs (shapes, indices).
        nodes: helper nodes that must run before the call (dynamic shapes).
        dtype: element type of the operands (the product stays in it; the noise is computed
            in float32 and cast back).
    """

    family: AnalogFamily
    inputs: list[str]
    n_original_inputs: int
    attrs: dict[str, Any]
    original_attrs: list[str]
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    dtype: int = onnx.TensorProto.FLOAT


class AnalogFamily:
    """One ``ai.analogc`` function: ``Y = product(X, W)`` plus what the noise terms need.

    Subclasses set the class attributes and override the methods their product needs; every
    method appends nodes to ``b`` and returns the name of the tensor it made. ``x`` and ``w``
    are the operands in float32 (the product itself runs in the model's type).

    Attributes:
        name: the function's name in the ``ai.analogc`` domain (before the element-type and
            pooled-draw suffixes the library adds).
        inputs: the function's inputs, original operands first.
        attributes: the op's own attributes the body uses, with their ``AttributeProto`` types.
        static_fan_in: False when D is computed from the operands' run-time shapes (the node
            then carries no ``fan_in`` attribute).
        channel_axes: axes of :meth:`weight_view` holding one output channel's weights (a
            list, or the name of the attribute holding them).
        output_channel_axis: the axis of Y that indexes output channels, in the order of
            :meth:`weight_view`'s reduction (None when channels are not one axis of Y, as for
            a general contraction): per-channel calibration facts need it.
        unfolds: True when the op's input vectors overlap in X (a convolution's patches): a
            per-vector conversion then needs X unfolded (:meth:`unfold`), and products of the
            unfolded input use :meth:`patch_product`.
    """

    name: str = ""
    inputs: tuple[str, ...] = ("X", "W")
    attributes: Mapping[str, int] = MappingProxyType({})
    static_fan_in: bool = True
    channel_axes: tuple[int, ...] | str = "w_axes"
    output_channel_axis: int | None = None
    unfolds: bool = False

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        """The op itself (``x``, ``w`` in the operands' type)."""
        raise NotImplementedError

    def weight_view(self, b: FunctionBody, w: str) -> str:
        """W, viewed so that :attr:`channel_axes` reduce to one value per output channel."""
        return w

    def weight_from_view(self, b: FunctionBody, per_view: str) -> str:
        """A tensor laid out like :meth:`weight_view` (or broadcast to it), back in W's layout."""
        return per_view

    def to_output(self, b: FunctionBody, per_channel: str) -> str:
        """Per-output-channel weight statistics (view layout, keepdims) laid out to broadcast
        against Y, scaled as the op scales its weights (Gemm's alpha)."""
        return self.channel_layout(b, per_channel)

    def channel_layout(self, b: FunctionBody, per_channel: str) -> str:
        """Per-output-channel values (view layout, keepdims) laid out to broadcast against Y."""
        raise NotImplementedError

    def vector_absmax(self, b: FunctionBody, x: str) -> tuple[str, str]:
        """The abs-max of each input vector, laid out to broadcast against X and against Y: the
        scale of per-vector input conversion (aihwkit's ``ABS_MAX`` noise management). For a
        family that :attr:`unfolds`, the first is not used (vectors overlap in X)."""
        raise NotImplementedError

    def zero_input(self, b: FunctionBody, x: str) -> str | None:
        """An input of zeros whose product is the op's bias, laid out to broadcast against Y
        (what a digital bias adds after an ADC), or None for an op without a bias."""
        return None

    def unfold(self, b: FunctionBody, x: str) -> str:
        """:attr:`unfolds` families: X as its input vectors (a convolution's patches, zero
        padding included), one vector per output position, in :meth:`patch_product`'s layout."""
        raise NotImplementedError

    def patch_product(self, b: FunctionBody, patches: str, w: str) -> str:
        """:attr:`unfolds` families: the op computed from :meth:`unfold`'s patches."""
        raise NotImplementedError

    def patch_absmax(self, b: FunctionBody, patches: str) -> tuple[str, str]:
        """:attr:`unfolds` families: each input vector's abs-max from the patches, laid out to
        broadcast against them and against Y."""
        raise NotImplementedError

    def patches_norm2(self, b: FunctionBody, patches: str) -> str:
        """:attr:`unfolds` families: ‖x_(i)‖² from the patches, broadcastable against Y."""
        raise NotImplementedError

    def patch_norm2(self, b: FunctionBody, x: str) -> str:
        """‖x_(i)‖², broadcastable against Y."""
        raise NotImplementedError

    def weight_norm2(self, b: FunctionBody, w: str) -> str:
        """‖w_i‖², broadcastable against Y (for convolutions only the taps meeting the input)."""
        raise NotImplementedError

    def runtime_fan_in(self, b: FunctionBody) -> str:
        """D from the operands' run-time shapes, a float32 scalar (``static_fan_in`` False)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


FLOAT = AttributeProto.FLOAT
INT = AttributeProto.INT
INTS = AttributeProto.INTS
STRING = AttributeProto.STRING
ONE_F32 = numpy_helper.from_array(np.ones(1, np.float32))
"""The value of ``ConstantOfShape`` nodes that make ones."""


class OpHandler(Protocol):
    """One op family: decides whether it applies, counts its work, and lowers it."""

    op_type: str

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        """None if the node can run analog, else the reason it stays digital."""

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        """Length D of one output element's dot product (average for ConvTranspose)."""

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        """Multiply-accumulates per example, or None if a shape is unknown."""

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        """Whether the second operand (the one playing ``w``) is a constant weight."""

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        """The function call replacing ``node``; ``prefix`` makes helper names unique."""


def float_check(node: onnx.NodeProto, index: GraphIndex, names: list[str]) -> str | None:
    """Reason to stay digital unless the operands share one floating type.

    float32, float16, bfloat16 and float64 run analog: the product keeps the model's type,
    and the noise is computed in float32 (no underflow of small variances in float16).
    """
    types = []
    for name in names:
        dtype = index.dtypes.get(name)
        if dtype is None:
            return f"type of operand '{name}' is unknown after shape inference"
        if dtype not in FLOAT_TYPES:
            return (
                f"operand '{name}' is {onnx.TensorProto.DataType.Name(dtype).lower()}; "
                "only floating-point operands run analog (integer and quantized ops stay digital)"
            )
        types.append(dtype)
    if len(set(types)) > 1:
        names_types = ", ".join(
            f"{n}: {onnx.TensorProto.DataType.Name(t).lower()}"
            for n, t in zip(names, types, strict=True)
        )
        return f"operands have different types ({names_types})"
    return None


def operand_dtype(index: GraphIndex, name: str) -> int:
    """Element type of an operand already accepted by :func:`float_check`."""
    return index.dtypes.get(name, onnx.TensorProto.FLOAT)
