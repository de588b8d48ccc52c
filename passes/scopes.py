"""Nodes in every graph of a model (If branches, Loop and Scan bodies), and how to see inside.

ONNX control flow keeps subgraphs in node attributes. :func:`walk` visits every node with the
chain of control nodes above it; :func:`expose` makes a value computed inside a subgraph
visible as a main-graph output (an If output, or a Loop/Scan scan output stacking one value per
iteration), which is how calibration measures tensors inside bodies and how the simulation
graph returns their noise statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .graph_index import GraphIndex

CONTROL_OPS = ("If", "Loop", "Scan")
LOOP_OPS = ("Loop", "Scan")


@dataclass(frozen=True)
class Scope:
    """One control-flow level: the subgraph held by attribute ``attr`` of node ``node``.

    Attributes:
        node: the control node (its graph holds it; mutating it mutates the model).
        attr: ``then_branch``, ``else_branch`` or ``body``.
        position: the control node's position in its graph.
    """

    node: onnx.NodeProto
    attr: str
    position: int = 0

    @property
    def op_type(self) -> str:
        return self.node.op_type

    @property
    def graph(self) -> onnx.GraphProto:
        found: onnx.GraphProto = next(a.g for a in self.node.attribute if a.name == self.attr)
        return found

    def describe(self) -> str:
        return f"{self.node.op_type} '{self.node.name}' {self.attr}"


@dataclass(frozen=True)
class Located:
    """A node, the graph that holds it, that graph's index and the scopes above it."""

    node: onnx.NodeProto
    graph: onnx.GraphProto
    index: GraphIndex
    scopes: tuple[Scope, ...] = ()

    @property
    def where(self) -> str:
        if not self.scopes:
            return "main graph"
        return " > ".join(s.describe() for s in self.scopes)

    @property
    def loops(self) -> tuple[Scope, ...]:
        return tuple(s for s in self.scopes if s.op_type in LOOP_OPS)

    @property
    def path(self) -> tuple[tuple[int, str], ...]:
        """Identifies the graph holding the node (positions and attributes of its scopes)."""
        return path_of(self.scopes)


@dataclass(frozen=True)
class GraphScope:
    graph: onnx.GraphProto
    index: GraphIndex
    scopes: tuple[Scope, ...]

    @property
    def path(self) -> tuple[tuple[int, str], ...]:
        return path_of(self.scopes)


def path_of(scopes: tuple[Scope, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((s.position, s.attr) for s in scopes)


def graphs(model: onnx.ModelProto) -> list[GraphScope]:
    """Every graph of the model, each before the subgraphs it holds."""
    out: list[GraphScope] = []

    def visit(graph: onnx.GraphProto, index: GraphIndex, scopes: tuple[Scope, ...]) -> None:
        out.append(GraphScope(graph, index, scopes))
        for position, node in enumerate(graph.node):
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    sub = (*scopes, Scope(node, attr.name, position))
                    visit(attr.g, GraphIndex(model, attr.g, index), sub)

    visit(model.graph, GraphIndex(model), ())
    return out


def walk(model: onnx.ModelProto) -> Iterator[Located]:
    """Every node in graph order; a subgraph's nodes come right after the node holding it."""

    def visit(
        graph: onnx.GraphProto, index: GraphIndex, scopes: tuple[Scope, ...]
    ) -> Iterator[Located]:
        for position, node in enumerate(graph.node):
            yield Located(node, graph, index, scopes)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    sub = (*scopes, Scope(node, attr.name, position))
                    yield from visit(attr.g, GraphIndex(model, attr.g, index), sub)

    yield from visit(model.graph, GraphIndex(model), ())


def locate(model: onnx.ModelProto) -> dict[str, Located]:
    """Named nodes of every graph, by name (run :func:`name_nodes` first for unique names)."""
    return {loc.node.name: loc for loc in walk(model) if loc.node.name}


def all_names(model: onnx.ModelProto) -> set[str]:
    """Every value name used anywhere in the model (for fresh, collision-free names)."""
    names: set[str] = set()
    for gs in graphs(model):
        g = gs.graph
        names.update(t.name for t in g.initializer)
        names.update(v.name for v in (*g.input, *g.output, *g.value_info))
        for node in g.node:
            names.update(n for n in (*node.input, *node.output) if n)
    return names


def fresh(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _defines(graph: onnx.GraphProto, name: str) -> bool:
    return (
        any(t.name == name for t in graph.initializer)
        or any(i.name == name for i in graph.input)
        or any(name in n.output for n in graph.node)
    )


def defining_depth(name: str, scopes: tuple[Scope, ...], main: onnx.GraphProto) -> int:
    """How many scopes deep ``name`` is defined (0: the main graph)."""
    chain = [main, *(s.graph for s in scopes)]
    for depth in range(len(chain) - 1, -1, -1):
        if _defines(chain[depth], name):
            return depth
    return 0


class Exposer:
    """Adds main-graph outputs that carry values computed inside subgraphs. Mutates the model.

    An If branch's value becomes an If output (the other branch gives an empty tensor of the
    same rank, or 0 for a scalar); a Loop or Scan body's value becomes a scan output, one
    value per iteration stacked on axis 0. Values defined in an enclosing graph are exposed
    from there. Each value is exposed once.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.taken = all_names(model)
        self.done: dict[str, str] = {}
        self.main_outputs = {o.name for o in model.graph.output}

    def expose(
        self, name: str, scopes: tuple[Scope, ...], dtype: int, rank: int | None
    ) -> tuple[str, int]:
        """The main-graph output carrying ``name``, and how many loop levels stack it."""
        depth = defining_depth(name, scopes, self.model.graph)
        scopes = scopes[:depth]
        stacked = sum(1 for s in scopes if s.op_type in LOOP_OPS)
        key = f"{depth}:{name}"
        if key in self.done:
            return self.done[key], stacked
        current = name
        for level in range(len(scopes) - 1, -1, -1):
            scope = scopes[level]
            inner_rank = (
                None
                if rank is None
                else rank + sum(1 for s in scopes[level + 1 :] if s.op_type in LOOP_OPS)
            )
            current = self._lift(scope, current, dtype, inner_rank)
        if current not in self.main_outputs:
            shape = None if rank is None else [None] * (rank + stacked)
            self.model.graph.output.append(helper.make_tensor_value_info(current, dtype, shape))
            self.main_outputs.add(current)
        self.done[key] = current
        return current, stacked

    def _lift(self, scope: Scope, name: str, dtype: int, rank: int | None) -> str:
        """Make ``name`` (inside ``scope``'s subgraph) an output of the control node."""
        node, body = scope.node, scope.graph
        # A fresh alias: the value may already be a body output (an output name appears once).
        alias = fresh(f"{name}/analogc_seen", self.taken)
        body.node.append(helper.make_node("Identity", [name], [alias], name=alias))
        body.output.append(helper.make_tensor_value_info(alias, dtype, None))
        if node.op_type == "If":
            other_attr = "else_branch" if scope.attr == "then_branch" else "then_branch"
            other = next(a.g for a in node.attribute if a.name == other_attr)
            dummy = fresh(f"{name}/analogc_absent", self.taken)
            shape = () if rank == 0 else (0,) * (rank or 1)
            value = np.zeros(shape, onnx.helper.tensor_dtype_to_np_dtype(dtype))
            other.node.append(
                helper.make_node(
                    "Constant", [], [dummy], name=dummy, value=numpy_helper.from_array(value)
                )
            )
            other.output.append(helper.make_tensor_value_info(dummy, dtype, None))
        elif node.op_type == "Scan":
            for attr in node.attribute:
                if attr.name in ("scan_output_axes", "scan_output_directions"):
                    attr.ints.append(0)
        out = fresh(f"{name}/analogc_{node.op_type.lower()}", self.taken)
        node.output.append(out)
        return out
