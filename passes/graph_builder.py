"""Appends standard ops with fresh, readable names: for passes that expand one op into many.

Names are made unique against every node and value name of the model (subgraphs included),
so an expansion can be placed in any graph, and a Scan body built with a :meth:`child`
builder shares the same name spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .scopes import fresh

__all__ = ["GraphBuilder"]


class GraphBuilder:
    """Collects nodes and initializers for one graph.

    Args:
        values: value names already taken in the model (updated as names are made).
        nodes: node names already taken in the model (updated likewise).
        opset: the model's default-domain opset (Unsqueeze takes its axes as an input from 13).
        dtype: element type of the floating-point constants made by :meth:`scalar`.
        prefix: leads the names of the constants this builder makes.
    """

    def __init__(
        self, *, values: set[str], nodes: set[str], opset: int, dtype: int, prefix: str = ""
    ) -> None:
        self.prefix = prefix
        self.values = values
        self.node_names = nodes
        self.opset = opset
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._constants: dict[tuple[int, tuple[int, ...], bytes], str] = {}

    def child(self, prefix: str) -> GraphBuilder:
        """A builder for a subgraph: its own nodes and constants, the same name spaces."""
        return GraphBuilder(
            values=self.values,
            nodes=self.node_names,
            opset=self.opset,
            dtype=self.dtype,
            prefix=prefix,
        )

    def value(self, label: str) -> str:
        """A fresh value name."""
        return fresh(label, self.values)

    def op(
        self,
        op_type: str,
        inputs: Sequence[str],
        label: str,
        *,
        outputs: Sequence[str] | None = None,
        n_outputs: int = 1,
        **attrs: Any,
    ) -> str:
        """Append one node named ``label`` (made unique); returns its first output."""
        return self.op_outputs(
            op_type, inputs, label, outputs=outputs, n_outputs=n_outputs, **attrs
        )[0]

    def op_outputs(
        self,
        op_type: str,
        inputs: Sequence[str],
        label: str,
        *,
        outputs: Sequence[str] | None = None,
        n_outputs: int = 1,
        **attrs: Any,
    ) -> list[str]:
        """As :meth:`op`, returning every output."""
        name = fresh(label, self.node_names)
        if outputs is None:
            outputs = [
                self.value(label if n_outputs == 1 else f"{label}_{k}") for k in range(n_outputs)
            ]
        self.nodes.append(
            helper.make_node(op_type, list(inputs), list(outputs), name=name, **attrs)
        )
        return list(outputs)

    def constant(self, value: np.ndarray, label: str) -> str:
        """An initializer holding ``value`` (one per distinct value and type)."""
        tensor = numpy_helper.from_array(np.asarray(value))
        key = (tensor.data_type, tuple(tensor.dims), tensor.SerializeToString())
        if key not in self._constants:
            tensor.name = self.value(f"{self.prefix}/{label}" if self.prefix else label)
            self.initializers.append(tensor)
            self._constants[key] = tensor.name
        return self._constants[key]

    def scalar(self, value: float, label: str) -> str:
        """A scalar of the builder's floating-point type."""
        np_type = helper.tensor_dtype_to_np_dtype(self.dtype)
        return self.constant(np.asarray(value, np_type), label)

    def ints(self, values: Sequence[int] | int, label: str) -> str:
        """An int64 constant: 1-D from a sequence, a scalar from an int."""
        return self.constant(np.asarray(values, np.int64), label)

    def unsqueeze(self, x: str, axes: Sequence[int], label: str, **kw: Any) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.ints(list(axes), "axes")], label, **kw)
        return self.op("Unsqueeze", [x], label, axes=list(axes), **kw)

    def slice(self, x: str, start: int, end: int, axis: int, label: str) -> str:
        starts, ends = self.ints([start], "start"), self.ints([end], "end")
        return self.op("Slice", [x, starts, ends, self.ints([axis], "axis")], label)
