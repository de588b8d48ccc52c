"""Give every main-graph node a unique, stable name: plans and reports are keyed by it."""

from __future__ import annotations

import onnx

from .result import PassResult


def name_nodes(model: onnx.ModelProto) -> PassResult:
    """Name unnamed or duplicate nodes ``<OpType>_<position>``. Mutates ``model``.

    Existing unique names are kept, so names users see in Netron stay valid.
    """
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.name] = counts.get(node.name, 0) + 1
    taken = {name for name, c in counts.items() if c == 1 and name}
    modified = False
    for position, node in enumerate(model.graph.node):
        if node.name and counts[node.name] == 1:
            continue
        base = f"{node.op_type}_{position}"
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        node.name = name
        taken.add(name)
        modified = True
    return PassResult(model, modified)
