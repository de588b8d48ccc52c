"""A small builder for ONNX function bodies: the ``ai.analogc`` ops are written with it.

Op families (:mod:`analogc.passes.ops`) and noise terms (:mod:`analogc.passes.noise`) each add
their part of a body through one :class:`FunctionBody`; the function library in
:mod:`analogc.runtime.functions` puts the parts together. Node outputs are numbered in the
order nodes are added (``t<k>_<OpType>``), so a body is a deterministic function of the calls
made: the same plan always gives byte-identical functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, helper, numpy_helper

__all__ = ["FunctionBody"]


class FunctionBody:
    """Appends nodes to a function body, naming each output uniquely.

    Args:
        opset: the default-domain opset of the body (that of the model it goes into).
        attribute_types: the function's own attributes and their ``AttributeProto`` types,
            so that a node attribute can refer to one (``refs``); attributes not listed are
            lists of ints.
    """

    def __init__(self, opset: int, attribute_types: Mapping[str, int] | None = None) -> None:
        self.opset = opset
        self.attribute_types = dict(attribute_types or {})
        self.nodes: list[onnx.NodeProto] = []

    def ref(self, name: str, ref: str) -> AttributeProto:
        """Node attribute ``name`` taking the value of the function's attribute ``ref``."""
        attr = AttributeProto()
        attr.name = name
        attr.ref_attr_name = ref
        attr.type = self.attribute_types.get(ref, AttributeProto.INTS)  # type: ignore[assignment]
        return attr

    def op(
        self, op_type: str, *inputs: str, refs: dict[str, str] | None = None, **attrs: Any
    ) -> str:
        """Add one node; returns the name of its (single) output."""
        out = f"t{len(self.nodes)}_{op_type}"
        node = helper.make_node(op_type, list(inputs), [out], **attrs)
        for name, ref in (refs or {}).items():
            node.attribute.append(self.ref(name, ref))
        self.nodes.append(node)
        return out

    def output(self, value: str, name: str) -> None:
        """Expose ``value`` as the body output ``name`` (onnxruntime drops the Identity)."""
        self.nodes.append(helper.make_node("Identity", [value], [name]))

    def const(self, value: float | list[int]) -> str:
        """A literal: a float scalar, or an int64 vector."""
        if isinstance(value, list):
            return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.int64)))
        return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.float32)))

    def const_i64(self, value: int) -> str:
        """An int64 scalar literal."""
        return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.int64)))

    def slice(self, x: str, start: int, end: int | None = None) -> str:
        """x[start:end] along axis 0 (opset-appropriate Slice)."""
        stop = np.iinfo(np.int64).max if end is None else end
        if self.opset >= 10:
            return self.op("Slice", x, self.const([start]), self.const([stop]), self.const([0]))
        return self.op("Slice", x, starts=[start], ends=[stop], axes=[0])

    def attr_float(self, ref: str) -> str:
        """The float attribute ``ref`` as a float32 scalar tensor."""
        return self.op("Constant", refs={"value_float": ref})

    def attr_int_as_float(self, ref: str) -> str:
        """The int attribute ``ref`` as a float32 scalar tensor."""
        return self.op(
            "Cast", self.op("Constant", refs={"value_int": ref}), to=onnx.TensorProto.FLOAT
        )

    def reduce(self, op_type: str, x: str, axes: Sequence[int] | str, keepdims: int = 1) -> str:
        """Reduce over literal axes or the axes held by attribute ``axes`` (a str ref); axes
        became an input at opset 13 for ReduceSum, 18 for the others."""
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            ax = (
                self.op("Constant", refs={"value_ints": axes})
                if isinstance(axes, str)
                else self.const(list(axes))
            )
            return self.op(op_type, x, ax, keepdims=keepdims)
        if isinstance(axes, str):
            return self.op(op_type, x, refs={"axes": axes}, keepdims=keepdims)
        return self.op(op_type, x, axes=list(axes), keepdims=keepdims)

    def squeeze(self, x: str, axes: int | list[int] | str) -> str:
        """Squeeze literal axes or the axes held by attribute ``axes`` (a str ref)."""
        return self._axes_op("Squeeze", x, [axes] if isinstance(axes, int) else axes)

    def unsqueeze(self, x: str, axes: list[int] | str) -> str:
        return self._axes_op("Unsqueeze", x, axes)

    def _axes_op(self, op_type: str, x: str, axes: list[int] | str) -> str:
        if self.opset >= 13:
            ax = (
                self.op("Constant", refs={"value_ints": axes})
                if isinstance(axes, str)
                else self.const(axes)
            )
            return self.op(op_type, x, ax)
        if isinstance(axes, str):
            return self.op(op_type, x, refs={"axes": axes})
        return self.op(op_type, x, axes=axes)

    def sum(self, values: list[str]) -> str:
        """values[0] + values[1] + ... (left to right)."""
        total = values[0]
        for value in values[1:]:
            total = self.op("Add", total, value)
        return total
