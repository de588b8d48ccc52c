"""Read-only lookups over one graph of a ModelProto: shapes, constants, opset, batch symbols.

A subgraph's index (an If branch, a Loop or Scan body) also sees the enclosing graphs' values,
as ONNX's outer-scope rule does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

Dim = int | str | None
Shape = tuple[Dim, ...]

EXTERNAL_DIR_KEY = "pkg.analogc.external_data_dir"
"""Model metadata: the folder external-data locations are relative to (see ``_io``)."""

FLOAT_TYPES = (
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
    onnx.TensorProto.DOUBLE,
)
"""Element types analog ops accept (the noise itself is always computed in float32)."""


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
    """Lookups over one graph after shape inference. Never mutates the model.

    Args:
        model: the model (opset, external data folder, and the main graph by default).
        graph: a subgraph of ``model`` to index instead of the main graph.
        outer: the index of the graph enclosing ``graph`` (its values are visible inside).
    """

    def __init__(
        self,
        model: onnx.ModelProto,
        graph: onnx.GraphProto | None = None,
        outer: GraphIndex | None = None,
    ) -> None:
        graph = model.graph if graph is None else graph
        self.model = model
        self.graph = graph
        self.outer = outer
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        meta = next((e.value for e in model.metadata_props if e.key == EXTERNAL_DIR_KEY), None)
        self.external_dir = Path(meta) if meta else None
        own_inits = {t.name: t for t in graph.initializer}
        own_consts = {
            n.output[0]: n
            for n in graph.node
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx")
        }
        self.initializers: dict[str, onnx.TensorProto] = {
            **(outer.initializers if outer else {}),
            **own_inits,
        }
        self.constant_nodes: dict[str, onnx.NodeProto] = {
            **(outer.constant_nodes if outer else {}),
            **own_consts,
        }
        self.shapes: dict[str, Shape | None] = dict(outer.shapes) if outer else {}
        self.dtypes: dict[str, int] = dict(outer.dtypes) if outer else {}
        for vi in [*graph.input, *graph.value_info, *graph.output]:
            self.shapes[vi.name] = _shape_of(vi.type)
            if vi.type.HasField("tensor_type"):
                self.dtypes[vi.name] = vi.type.tensor_type.elem_type
        for t in graph.initializer:
            self.shapes[t.name] = tuple(int(d) for d in t.dims)
            self.dtypes[t.name] = t.data_type
        for name, node in own_consts.items():
            attr = node.attribute[0] if node.attribute else None
            if attr is not None and attr.name == "value":
                self.shapes[name] = tuple(int(d) for d in attr.t.dims)
                self.dtypes[name] = attr.t.data_type
        if outer is None:
            self.graph_inputs = [i.name for i in graph.input if i.name not in own_inits]
            # The batch: a symbol leading a graph input, or leading a graph output and found
            # in an input (time-major recurrent models have it second in their inputs).
            self.batch_symbols: set[str] = set()
            in_inputs: set[str] = set()
            for name in self.graph_inputs:
                shape = self.shapes.get(name) or ()
                in_inputs.update(d for d in shape if isinstance(d, str))
                if shape and isinstance(shape[0], str):
                    self.batch_symbols.add(shape[0])
            for output in graph.output:
                out_shape = self.shapes.get(output.name)
                if out_shape and isinstance(out_shape[0], str) and out_shape[0] in in_inputs:
                    self.batch_symbols.add(out_shape[0])
        else:
            self.graph_inputs = list(outer.graph_inputs)
            self.batch_symbols = set(outer.batch_symbols)
        own_producers = {out: n for n in graph.node for out in n.output if out}
        self.producers: dict[str, onnx.NodeProto] = {
            **(outer.producers if outer else {}),
            **own_producers,
        }

    def is_constant(self, name: str) -> bool:
        return name in self.initializers or name in self.constant_nodes

    def constant(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant-node output, else None."""
        if name in self.initializers:
            tensor = self.initializers[name]
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                if self.external_dir is None:
                    return None
                return numpy_helper.to_array(tensor, base_dir=str(self.external_dir))
            return numpy_helper.to_array(tensor)
        node = self.constant_nodes.get(name)
        if node is not None and node.attribute and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def static_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape if every dimension is a known integer, else None."""
        shape = self.shapes.get(name)
        if shape is None or not all(isinstance(d, int) for d in shape):
            return None
        return tuple(int(d) for d in shape)  # type: ignore[arg-type]

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
