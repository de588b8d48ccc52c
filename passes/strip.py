"""Give back the original ops of an annotated model, keeping the plan as metadata.

For hardware toolchains that want the plan (repeats per layer) but not the noise simulation.
"""

from __future__ import annotations

import json

import onnx

from .discover import ANALOG_DOMAINS
from .expand_recurrent import restore_recurrent
from .metadata import META_PREFIX
from .result import PassResult
from .scopes import graphs

_KEEP_META = {"layer", "repeats", "noise"}


def strip(model: onnx.ModelProto) -> PassResult:
    """Replace every ``ai.analogc`` call by the op it came from. Mutates ``model``.

    The restored nodes keep ``pkg.analogc.layer``, ``.repeats`` and ``.noise`` metadata; the
    model keeps its ``pkg.analogc.plan`` entry. Helper nodes and tensors analogc added go, in
    subgraphs too. LSTM, GRU and RNN nodes that analogc expanded come back as they were, with
    their products' repeats in ``pkg.analogc.layers`` (:func:`restore_recurrent`).
    """
    modified = False
    # Children before parents: rebuilding a graph's node list copies the nodes it holds.
    for scope in reversed(graphs(model)):
        modified |= _strip_graph(scope.graph)
    # Then recurrent ops expanded into Scans come back (their products are MatMuls again).
    modified |= restore_recurrent(model)
    if not modified:
        return PassResult(model, False)
    functions = [f for f in model.functions if f.domain not in ANALOG_DOMAINS]
    del model.functions[:]
    model.functions.extend(functions)
    opsets = [o for o in model.opset_import if o.domain not in ANALOG_DOMAINS]
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    return PassResult(model, True)


def _strip_graph(graph: onnx.GraphProto) -> bool:
    aux: set[str] = set()
    new_nodes: list[onnx.NodeProto] = []
    modified = False
    for node in graph.node:
        meta = {
            e.key[len(META_PREFIX) :]: e.value
            for e in node.metadata_props
            if e.key.startswith(META_PREFIX)
        }
        if "helper" in meta:
            modified = True
            continue
        if node.domain not in ANALOG_DOMAINS:
            new_nodes.append(node)
            continue
        modified = True
        aux.update(json.loads(meta["aux"]))
        keep_attrs = set(json.loads(meta["original_attrs"]))
        n_inputs = int(meta["original_inputs"])
        restored = onnx.helper.make_node(
            meta["original_op"],
            list(node.input[:n_inputs]),
            [node.output[0]],
            name=node.name,
            domain=meta["original_domain"] or None,
        )
        restored.attribute.extend(a for a in node.attribute if a.name in keep_attrs)
        restored.doc_string = node.doc_string
        for key in sorted(_KEEP_META & meta.keys()):
            restored.metadata_props.add(key=META_PREFIX + key, value=meta[key])
        new_nodes.append(restored)
    if not modified:
        return False
    del graph.node[:]
    graph.node.extend(new_nodes)
    kept = [t for t in graph.initializer if t.name not in aux]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return True
