"""The contract every op handler meets, and the records discovery and lowering exchange."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import onnx

from ..graph_index import FLOAT_TYPES, GraphIndex

ShapeOf = Callable[[str], "tuple[int, ...] | None"]
"""Resolves a tensor name to its per-example shape (batch dims counted as 1), or None."""


@dataclass(frozen=True)
class Lowering:
    """How one op becomes an ``ai.analogc`` function call.

    Attributes:
        family: function name in the ``ai.analogc`` domain, e.g. ``AnalogConv``.
        inputs: the call's inputs, original operands first ("" for an absent optional one).
        n_original_inputs: how many of ``inputs`` the original op had (``strip`` keeps those).
        attrs: attributes besides the common analog ones (the op's own, plus reduce axes).
        original_attrs: names of the original op's attributes among ``attrs``.
        initializers: small constant tensors the call needs (shapes, indices).
        nodes: helper nodes that must run before the call (dynamic shapes).
        dtype: element type of the operands (the product stays in it; the noise is computed
            in float32 and cast back).
    """

    family: str
    inputs: list[str]
    n_original_inputs: int
    attrs: dict[str, Any]
    original_attrs: list[str]
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    dtype: int = onnx.TensorProto.FLOAT


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
