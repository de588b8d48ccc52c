"""Find the ops that can run analog, and account for those that cannot, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import onnx

from ._index import GraphIndex
from .ops import DIGITAL_REASONS, HANDLERS

ANALOG_DOMAINS = ("ai.analogc", "ai.analogc.sim")


@dataclass(frozen=True)
class LayerInfo:
    """One op that contains matrix products.

    Attributes:
        name: node name (unique in the main graph after :func:`name_nodes`).
        op_type: the ONNX op type.
        analog: True if analogc can run it analog.
        reason: why it stays digital (None for analog ops).
        fan_in: dot-product length D (None if unknown).
        macs: multiply-accumulates per example (None if a shape is unknown until run time).
        operand: ``constant`` when the second operand is a stored weight, else ``activation``.
        where: ``main graph`` or the subgraph holding the op.
    """

    name: str
    op_type: str
    analog: bool
    reason: str | None = None
    fan_in: float | None = None
    macs: int | None = None
    operand: str | None = None
    where: str = "main graph"


@dataclass(frozen=True)
class Discovery:
    layers: tuple[LayerInfo, ...]

    @property
    def analog(self) -> tuple[LayerInfo, ...]:
        return tuple(layer for layer in self.layers if layer.analog)

    @property
    def digital(self) -> tuple[LayerInfo, ...]:
        return tuple(layer for layer in self.layers if not layer.analog)


def is_annotated(model: onnx.ModelProto) -> bool:
    return any(o.domain in ANALOG_DOMAINS for o in model.opset_import) or any(
        n.domain in ANALOG_DOMAINS for n in model.graph.node
    )


def discover(model: onnx.ModelProto) -> Discovery:
    """List every matrix-product op of ``model`` (shape-inferred, nodes named), in graph order."""
    index = GraphIndex(model)
    layers: list[LayerInfo] = []
    for node in model.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        handler = HANDLERS.get(node.op_type) if domain == "" else None
        if handler is not None:
            reason = handler.check(node, index)
            layers.append(
                LayerInfo(
                    name=node.name,
                    op_type=node.op_type,
                    analog=reason is None,
                    reason=reason,
                    fan_in=handler.fan_in(node, index),
                    macs=handler.macs(node, index, index.per_example_shape),
                    operand=handler.operand(node, index),
                )
            )
        elif (domain, node.op_type) in DIGITAL_REASONS:
            layers.append(
                LayerInfo(node.name, node.op_type, False, DIGITAL_REASONS[(domain, node.op_type)])
            )
        for where, sub in _subgraphs(node):
            layers.extend(_subgraph_layers(sub, where))
    return Discovery(tuple(layers))


def _subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield f"{node.op_type} '{node.name}' {attr.name}", attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            for i, g in enumerate(attr.graphs):
                yield f"{node.op_type} '{node.name}' {attr.name}[{i}]", g


def _subgraph_layers(graph: onnx.GraphProto, where: str) -> list[LayerInfo]:
    layers = []
    for position, node in enumerate(graph.node):
        domain = "" if node.domain == "ai.onnx" else node.domain
        if (domain == "" and node.op_type in HANDLERS) or (domain, node.op_type) in DIGITAL_REASONS:
            name = node.name or f"{node.op_type}_{position}"
            reason = f"inside the {where} subgraph: subgraphs are not handled yet"
            layers.append(LayerInfo(name, node.op_type, False, reason, where=where))
        for inner, sub in _subgraphs(node):
            layers.extend(_subgraph_layers(sub, f"{where} > {inner}"))
    return layers
