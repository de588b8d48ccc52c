"""Give every node a unique, stable name: plans and reports are keyed by it.

Names are unique across the whole model, subgraphs (If branches, Loop and Scan bodies)
included, since an analog op inside a body is planned like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx

from .result import PassResult


def _graphs(graph: onnx.GraphProto, prefix: str = "") -> Iterator[tuple[onnx.GraphProto, str]]:
    yield graph, prefix
    for position, node in enumerate(graph.node):
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                owner = node.name or f"{node.op_type}_{position}"
                yield from _graphs(attr.g, f"{prefix}{owner}/{attr.name}/")


def name_nodes(model: onnx.ModelProto) -> PassResult:
    """Name unnamed or duplicate nodes ``<OpType>_<position>``. Mutates ``model``.

    Existing unique names are kept, so names users see in Netron stay valid. Nodes inside a
    subgraph are named ``<control node>/<attribute>/<OpType>_<position>``.
    """
    counts: dict[str, int] = {}
    for graph, _ in _graphs(model.graph):
        for node in graph.node:
            counts[node.name] = counts.get(node.name, 0) + 1
    taken = {name for name, c in counts.items() if c == 1 and name}
    modified = False
    # Main graph first, so that its names do not depend on the subgraphs.
    for graph, prefix in _graphs(model.graph):
        for position, node in enumerate(graph.node):
            if node.name and counts[node.name] == 1:
                continue
            base = f"{prefix}{node.op_type}_{position}"
            name, k = base, 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            node.name = name
            taken.add(name)
            modified = True
    return PassResult(model, modified)
