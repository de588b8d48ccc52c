"""Read-only lookups over a ModelProto's main graph: shapes, constants, opset, batch symbols."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import numpy_helper

Dim = int | str | None
Shape = tuple[Dim, ...]


def _shape_of(type_proto: onnx.TypeProto) -> Shape | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in type_proto.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


class GraphIndex:
    """Lookups over ``model.graph`` after shape inference. Never mutates the model."""

    def __init__(self, model: onnx.ModelProto) -> None:
        graph = model.graph
        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.initializers = {t.name: t for t in graph.initializer}
        self.constant_nodes = {
            n.output[0]: n
            for n in graph.node
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx")
        }
        self.shapes: dict[str, Shape | None] = {}
        self.dtypes: dict[str, int] = {}
        for vi in [*graph.input, *graph.value_info, *graph.output]:
            self.shapes[vi.name] = _shape_of(vi.type)
            if vi.type.HasField("tensor_type"):
                self.dtypes[vi.name] = vi.type.tensor_type.elem_type
        for t in graph.initializer:
            self.shapes[t.name] = tuple(int(d) for d in t.dims)
            self.dtypes[t.name] = t.data_type
        self.graph_inputs = [i.name for i in graph.input if i.name not in self.initializers]
        self.batch_symbols: set[str] = set()
        for name in self.graph_inputs:
            shape = self.shapes.get(name)
            if shape and isinstance(shape[0], str):
                self.batch_symbols.add(shape[0])
        self.producers = {out: n for n in graph.node for out in n.output if out}

    def is_constant(self, name: str) -> bool:
        return name in self.initializers or name in self.constant_nodes

    def constant(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant-node output, else None."""
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.constant_nodes.get(name)
        if node is not None and node.attribute and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def per_example_shape(self, name: str) -> tuple[int, ...] | None:
        """Shape with batch symbols counted as 1; None if any other dim is unknown."""
        shape = self.shapes.get(name)
        if shape is None:
            return None
        dims: list[int] = []
        for d in shape:
            if isinstance(d, int):
                dims.append(d)
            elif isinstance(d, str) and d in self.batch_symbols:
                dims.append(1)
            else:
                return None
        return tuple(dims)


def attribute_values(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
