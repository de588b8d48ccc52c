"""Expand LSTM, GRU and RNN into standard ops, so that their gate products can run analog.

Each direction of a recurrent node becomes:

* ``<name>/input_product``: one MatMul ``X·Wᵀ`` for every step at once, on X as the node
  reads it ([seq, batch, I], or [batch, seq, I] with ``layout = 1``), plus the biases that do
  not depend on the state;
* a Scan ``<name>/scan`` over the steps (in reverse for the reverse direction) whose body
  computes ``<name>/recurrent_product`` (``H·Rᵀ``, a MatMul), the gates, the cell state,
  peepholes, clip and activations (:mod:`analogc.passes.recurrent_cells`);
* with ``sequence_lens``, a mask per step: past an example's length its output is 0 and its
  state is held, and an example of length 0 reports a zero final state, as onnxruntime does.

A bidirectional node's names carry the direction (``<name>/forward/...``,
``<name>/reverse/...``). At zero noise the expansion computes what the node computes (the tests
compare it with onnxruntime's own kernels).

W and R that are initializers used by this node only are replaced by per-direction transposed
copies, so that the analog products multiply by stored weights. The first Scan of an expansion
keeps the original node (serialised) and the recipe to rebuild W and R in
``pkg.analogc.recurrent.*`` metadata: :func:`restore_recurrent` (called by
:func:`analogc.passes.strip`) gives the node back. Nodes that cannot be expanded stay as they
are; discovery lists them as digital with the reason (:func:`analogc.passes.ops.recurrent.check`).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import ModelError

from .graph_builder import GraphBuilder
from .graph_index import GraphIndex
from .metadata import META_PREFIX
from .ops.recurrent import OPS, RecurrentSpec, check, parse
from .recurrent_cells import StepWeights, step
from .result import PassResult
from .scopes import GraphScope, all_names, fresh, graphs

__all__ = ["ORIGINAL_KEY", "expand_recurrent", "restore_recurrent"]

ORIGINAL_KEY = META_PREFIX + "recurrent.original"
"""On the first Scan of an expansion: the original node, serialised, base64."""
_NAME_KEY = META_PREFIX + "recurrent.name"
_NODES_KEY = META_PREFIX + "recurrent.nodes"
_INITS_KEY = META_PREFIX + "recurrent.initializers"
_REBUILD_KEY = META_PREFIX + "recurrent.rebuild"
_PLAN_KEYS = ("layer", "repeats")


@dataclass
class _Expansion:
    nodes: list[onnx.NodeProto]
    initializers: list[TensorProto]
    replaced: list[str] = field(default_factory=list)  # initializers the node alone used


def expand_recurrent(model: onnx.ModelProto) -> PassResult:
    """Rewrite every LSTM, GRU and RNN that can run analog into standard ops. Mutates ``model``.

    Run it on a shape-inferred model, and infer shapes again afterwards (the Scan bodies' value
    types come from that). Nodes inside Loop or Scan bodies, and nodes
    :func:`analogc.passes.ops.recurrent.check` refuses, are left as they are.
    """
    scopes = graphs(model)
    opset = GraphIndex(model).opset
    values = all_names(model)
    node_names = {n.name for s in scopes for n in s.graph.node if n.name}
    uses = Counter(name for s in scopes for n in s.graph.node for name in n.input if name)
    for s in scopes:
        uses.update(o.name for o in s.graph.output)
    modified = False
    # Children before parents: rebuilding a graph's node list copies the nodes it holds.
    for scope in reversed(scopes):
        done: dict[int, _Expansion] = {}
        for position, node in enumerate(scope.graph.node):
            if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
                continue
            if check(node, scope.index, scope.scopes) is not None:
                continue
            spec = parse(node, scope.index)
            base = node.name or fresh(f"{node.op_type}_{position}", node_names)
            builder = GraphBuilder(
                values=values, nodes=node_names, opset=opset, dtype=spec.dtype, prefix=base
            )
            done[position] = _expand(node, spec, base, scope, builder, uses)
        if done:
            _replace(scope.graph, done)
            modified = True
    return PassResult(model, modified)


def _replace(graph: onnx.GraphProto, done: dict[int, _Expansion]) -> None:
    nodes: list[onnx.NodeProto] = []
    replaced: set[str] = set()
    for position, node in enumerate(graph.node):
        expansion = done.get(position)
        if expansion is None:
            nodes.append(node)
            continue
        nodes.extend(expansion.nodes)
        graph.initializer.extend(expansion.initializers)
        replaced.update(expansion.replaced)
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [t for t in graph.initializer if t.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _expand(
    node: onnx.NodeProto,
    spec: RecurrentSpec,
    base: str,
    scope: GraphScope,
    g: GraphBuilder,
    uses: Counter[str],
) -> _Expansion:
    index = scope.index
    x = spec.inputs["X"]
    seq_axis = spec.layout  # X is [seq, batch, I] (layout 0) or [batch, seq, I] (layout 1)
    batch_dim = index.shape(x)[1 - seq_axis]  # type: ignore[index]
    lens = spec.inputs["sequence_lens"]
    masks = _masks(g, base, x, lens, seq_axis) if lens else None
    # Per output: one value per direction, gathered at the end.
    finals: dict[str, list[str]] = {"Y": [], "Y_h": [], "Y_c": []}
    weights = _Weights(g, index, spec, uses)
    anchor: onnx.NodeProto | None = None
    for d, direction in enumerate(spec.directions):
        tag = base if len(spec.directions) == 1 else f"{base}/{direction}"
        xw = g.op("MatMul", [x, weights.input(d, tag)], f"{tag}/input_product")
        bias, reset_bias = _biases(g, spec, d, tag)
        if bias is not None:
            xw = g.op("Add", [xw, bias], f"{tag}/input_bias")
        states = [_initial(g, spec, "initial_h", d, tag, x)]
        if spec.op_type == "LSTM":
            states.append(_initial(g, spec, "initial_c", d, tag, x))
        step_weights = StepWeights(
            recurrent=weights.recurrent(d, tag),
            peepholes=_peepholes(g, spec, d, tag),
            reset_bias=reset_bias,
        )
        scan_inputs = [xw] + ([masks[0]] if masks else [])
        body = _body(g, spec, d, tag, batch_dim, step_weights, has_mask=masks is not None)
        reverse = int(direction == "reverse")
        n_states = len(states)
        want_y = bool(spec.outputs["Y"])
        outputs = [g.value(f"{tag}/final_{k}") for k in range(n_states)]
        if want_y:
            outputs.append(g.value(f"{tag}/y"))
        attrs: dict[str, Any] = {
            "body": body,
            "num_scan_inputs": len(scan_inputs),
            "scan_input_axes": [seq_axis] * len(scan_inputs),
            "scan_input_directions": [reverse] * len(scan_inputs),
        }
        if want_y:
            attrs.update(scan_output_axes=[seq_axis], scan_output_directions=[reverse])
        g.op_outputs("Scan", [*states, *scan_inputs], f"{tag}/scan", outputs=outputs, **attrs)
        if anchor is None:
            anchor = g.nodes[-1]
        finals["Y_h"].append(outputs[0])
        if spec.op_type == "LSTM":
            finals["Y_c"].append(outputs[1])
        if want_y:
            finals["Y"].append(outputs[-1])
    _outputs(g, spec, base, finals, masks[1] if masks else None)
    assert anchor is not None
    _remember(anchor, node, base, g, weights)
    return _Expansion(g.nodes, g.initializers, weights.replaced)


def _masks(g: GraphBuilder, base: str, x: str, lens: str, seq_axis: int) -> tuple[str, str]:
    """Laid out like X with one feature, true where step t is within example b's length;
    and [batch, 1]: the length is > 0."""
    shape = g.op("Shape", [x], f"{base}/mask/shape")
    seq = g.op("Gather", [shape, g.ints(seq_axis, "seq_axis")], f"{base}/mask/seq")
    steps = g.op("Range", [g.ints(0, "start"), seq, g.ints(1, "one")], f"{base}/mask/steps")
    lens64 = g.op("Cast", [lens], f"{base}/mask/lens", to=TensorProto.INT64)
    column = g.unsqueeze(lens64, [1], f"{base}/mask/lens_column")  # [batch, 1]
    if seq_axis == 0:  # [seq, 1] against [batch]: [seq, batch]
        within = g.op(
            "Less",
            [g.unsqueeze(steps, [1], f"{base}/mask/steps_column"), lens64],
            f"{base}/mask/within",
        )
    else:  # [seq] against [batch, 1]: [batch, seq]
        within = g.op("Less", [steps, column], f"{base}/mask/within")
    valid = g.op("Greater", [column, g.ints(0, "zero")], f"{base}/mask/nonempty")
    return g.unsqueeze(within, [2], f"{base}/mask"), valid


class _Weights:
    """W and R of each direction, transposed: new initializers where the originals are
    initializers this node alone uses (those go, and :func:`restore_recurrent` rebuilds them),
    copies where they are initializers shared with other nodes, else computed in the graph
    (Gather, Slice, Transpose)."""

    def __init__(
        self,
        g: GraphBuilder,
        index: GraphIndex,
        spec: RecurrentSpec,
        uses: Counter[str],
    ) -> None:
        self.g, self.spec = g, spec
        self.rebuild: dict[str, list[list[str]]] = {}
        self.replaced: list[str] = []
        self._stored: dict[str, np.ndarray] = {}
        own = {t.name for t in index.graph.initializer}
        for role in ("W", "R"):
            name = spec.inputs[role]
            value = index.constant(name) if name in index.initializers else None
            if value is None:
                continue
            self._stored[name] = value
            if name in own and uses[name] == 1:
                self.rebuild[name] = [[] for _ in spec.directions]
                self.replaced.append(name)

    def input(self, d: int, tag: str) -> str:
        gh = self.spec.gates * self.spec.hidden
        return self._part("W", d, 0, gh, f"{tag}/W_transposed")

    def recurrent(self, d: int, tag: str) -> tuple[str, ...]:
        """One matrix for every gate, or (z and r, h) for a GRU without linear_before_reset."""
        h, gates = self.spec.hidden, self.spec.gates
        if self.spec.op_type == "GRU" and not self.spec.linear_before_reset:
            return (
                self._part("R", d, 0, 2 * h, f"{tag}/R_zr_transposed"),
                self._part("R", d, 2 * h, 3 * h, f"{tag}/R_h_transposed"),
            )
        return (self._part("R", d, 0, gates * h, f"{tag}/R_transposed"),)

    def _part(self, role: str, d: int, start: int, end: int, label: str) -> str:
        """Rows start:end of direction d of W or R, transposed ([columns, rows])."""
        name, g = self.spec.inputs[role], self.g
        value = self._stored.get(name)
        if value is None:
            one = g.op("Gather", [name, g.ints(d, "direction")], f"{label}/direction")
            rows = g.slice(one, start, end, 0, f"{label}/rows")
            return g.op("Transpose", [rows], label, perm=[1, 0])
        part = numpy_helper.from_array(np.ascontiguousarray(value[d, start:end].T))
        part.name = g.value(label)
        g.initializers.append(part)
        if name in self.rebuild:
            self.rebuild[name][d].append(part.name)
        return part.name


def _biases(
    g: GraphBuilder, spec: RecurrentSpec, d: int, tag: str
) -> tuple[str | None, str | None]:
    """(Wb + Rb, added to the input products; Rbh, added inside the step) for direction d.

    A GRU with ``linear_before_reset`` keeps Rbh inside the step (the reset gate multiplies
    it); every other bias is added once, before the loop.
    """
    b = spec.inputs["B"]
    if not b:
        return None, None
    gh, h = spec.gates * spec.hidden, spec.hidden
    both = g.op("Gather", [b, g.ints(d, "direction")], f"{tag}/bias")
    wb = g.slice(both, 0, gh, 0, f"{tag}/bias_w")
    rb = g.slice(both, gh, 2 * gh, 0, f"{tag}/bias_r")
    if spec.op_type == "GRU" and spec.linear_before_reset:
        np_type = helper.tensor_dtype_to_np_dtype(spec.dtype)
        keep = np.concatenate([np.ones(2 * h), np.zeros(h)]).astype(np_type)
        outside = g.op("Mul", [rb, g.constant(keep, "bias_r_zr")], f"{tag}/bias_r_zr")
        reset_bias = g.slice(rb, 2 * h, 3 * h, 0, f"{tag}/bias_r_h")
        return g.op("Add", [wb, outside], f"{tag}/bias_input"), reset_bias
    return g.op("Add", [wb, rb], f"{tag}/bias_input"), None


def _peepholes(
    g: GraphBuilder, spec: RecurrentSpec, d: int, tag: str
) -> tuple[str, str, str] | None:
    p = spec.inputs.get("P", "")
    if spec.op_type != "LSTM" or not p:
        return None
    h = spec.hidden
    one = g.op("Gather", [p, g.ints(d, "direction")], f"{tag}/peepholes")
    i, o, f = (
        g.slice(one, k * h, (k + 1) * h, 0, f"{tag}/peephole_{n}") for k, n in enumerate("iof")
    )
    return i, o, f


def _initial(g: GraphBuilder, spec: RecurrentSpec, role: str, d: int, tag: str, x: str) -> str:
    """This direction's initial state [batch, H]: from the input, or zeros."""
    given = spec.inputs.get(role, "")
    if given:
        axis = 1 if spec.layout else 0
        return g.op("Gather", [given, g.ints(d, "direction")], f"{tag}/{role}", axis=axis)
    x_shape = g.op("Shape", [x], f"{tag}/{role}_x_shape")
    batch_axis = g.ints([1 - spec.layout], "batch_axis")
    batch = g.op("Gather", [x_shape, batch_axis], f"{tag}/{role}_batch")
    shape = g.op("Concat", [batch, g.ints([spec.hidden], "hidden")], f"{tag}/{role}_shape", axis=0)
    zero = numpy_helper.from_array(np.zeros(1, helper.tensor_dtype_to_np_dtype(spec.dtype)))
    return g.op("ConstantOfShape", [shape], f"{tag}/{role}", value=zero)


def _body(
    g: GraphBuilder,
    spec: RecurrentSpec,
    d: int,
    tag: str,
    batch_dim: int | str | None,
    weights: StepWeights,
    *,
    has_mask: bool,
) -> onnx.GraphProto:
    """The Scan body: states and this step's slices in; new states and this step's Y out."""
    b = g.child(f"{tag}/step")
    h, gh, dtype = spec.hidden, spec.gates * spec.hidden, spec.dtype
    lstm = spec.op_type == "LSTM"
    h_prev = b.value(f"{tag}/step/h_prev")
    c_prev = b.value(f"{tag}/step/c_prev") if lstm else None
    xw = b.value(f"{tag}/step/input_product")
    mask = b.value(f"{tag}/step/within_length") if has_mask else None
    hidden, cell = step(b, spec, d, tag, xw=xw, h_prev=h_prev, c_prev=c_prev, weights=weights)
    outputs = [hidden] + ([cell] if cell is not None else [])
    y = None
    if mask is not None:
        previous = [h_prev] + ([c_prev] if c_prev is not None else [])
        held = [
            b.op("Where", [mask, new, old], f"{tag}/step/held_{k}")
            for k, (new, old) in enumerate(zip(outputs, previous, strict=False))
        ]
        if spec.outputs["Y"]:
            y = b.op("Where", [mask, hidden, b.scalar(0.0, "zero")], f"{tag}/step/y")
        outputs = held
    elif spec.outputs["Y"]:
        y = b.op("Identity", [hidden], f"{tag}/step/y")
    if y is not None:
        outputs.append(y)

    def info(name: str, width: int, elem: int = dtype) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, elem, [batch_dim, width])

    inputs = [info(h_prev, h)] + ([info(c_prev, h)] if c_prev is not None else [])
    inputs.append(info(xw, gh))
    if mask is not None:
        inputs.append(info(mask, 1, TensorProto.BOOL))
    return helper.make_graph(
        b.nodes,
        f"{tag}/step",
        inputs,
        [info(name, h) for name in outputs],
        b.initializers,
    )


def _outputs(
    g: GraphBuilder,
    spec: RecurrentSpec,
    base: str,
    finals: dict[str, list[str]],
    nonempty: str | None,
) -> None:
    """Y, Y_h and Y_c in the node's layout, under the node's output names."""
    for role, per_direction in finals.items():
        name = spec.outputs.get(role, "")
        if not name:
            continue
        if role == "Y":
            axis = 2 if spec.layout else 1  # [seq, dirs, batch, H] or [batch, seq, dirs, H]
        else:
            axis = 1 if spec.layout else 0  # [dirs, batch, H] or [batch, dirs, H]
            if nonempty is not None:  # an empty sequence reports a zero state
                zero = g.scalar(0.0, "zero")
                per_direction = [
                    g.op("Where", [nonempty, v, zero], f"{base}/{role}_nonempty")
                    for v in per_direction
                ]
        if len(per_direction) == 1:
            g.unsqueeze(per_direction[0], [axis], f"{base}/{role}", outputs=[name])
            continue
        parts = [g.unsqueeze(v, [axis], f"{base}/{role}_direction") for v in per_direction]
        g.op("Concat", parts, f"{base}/{role}", outputs=[name], axis=axis)


def _remember(
    anchor: onnx.NodeProto, node: onnx.NodeProto, base: str, g: GraphBuilder, w: _Weights
) -> None:
    """What :func:`restore_recurrent` needs, on the expansion's first Scan."""
    entries = {
        ORIGINAL_KEY: base64.b64encode(node.SerializeToString()).decode(),
        _NAME_KEY: base,
        _NODES_KEY: json.dumps([n.name for n in g.nodes]),
        _INITS_KEY: json.dumps([t.name for t in g.initializers]),
        _REBUILD_KEY: json.dumps(w.rebuild),
    }
    for key, value in entries.items():
        anchor.metadata_props.add(key=key, value=value)


# -- strip ----------------------------------------------------------------------------------------
def restore_recurrent(model: onnx.ModelProto) -> bool:
    """Put back every recurrent node :func:`expand_recurrent` expanded. Mutates ``model``.

    The restored node is the original (named after its expansion if it had no name), with the
    plan of its analog products attached: ``pkg.analogc.layers`` (JSON, product -> repeats)
    and ``pkg.analogc.noise``, read from the MatMuls :func:`analogc.passes.strip` restored.
    Returns whether anything changed.
    """
    modified = False
    for scope in reversed(graphs(model)):
        modified |= _restore_graph(scope.graph, scope.index)
    return modified


def _meta(node: onnx.NodeProto) -> dict[str, str]:
    return {e.key: e.value for e in node.metadata_props}


def _restore_graph(graph: onnx.GraphProto, index: GraphIndex) -> bool:
    anchors = [n for n in graph.node if any(e.key == ORIGINAL_KEY for e in n.metadata_props)]
    if not anchors:
        return False
    drop_nodes: dict[str, onnx.NodeProto] = {}  # expansion node name -> restored original
    drop_inits: set[str] = set()
    rebuilt: list[TensorProto] = []
    for anchor in anchors:
        meta = _meta(anchor)
        original = onnx.NodeProto()
        original.ParseFromString(base64.b64decode(meta[ORIGINAL_KEY]))
        if not original.name:
            original.name = meta[_NAME_KEY]
        members = set(json.loads(meta[_NODES_KEY]))
        _attach_plan(original, [n for n in graph.node if n.name in members])
        for name in members:
            drop_nodes[name] = original
        drop_inits.update(json.loads(meta[_INITS_KEY]))
        for name, directions in json.loads(meta[_REBUILD_KEY]).items():
            stored = [[_stored(index, p).T for p in parts] for parts in directions]
            value = np.stack([np.concatenate(ps, axis=0) for ps in stored])
            rebuilt.append(numpy_helper.from_array(value, name))
    nodes: list[onnx.NodeProto] = []
    placed: set[int] = set()
    for node in graph.node:
        restored = drop_nodes.get(node.name)
        if restored is None:
            nodes.append(node)
        elif id(restored) not in placed:  # where the expansion began
            nodes.append(restored)
            placed.add(id(restored))
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [t for t in graph.initializer if t.name not in drop_inits]
    del graph.initializer[:]
    graph.initializer.extend([*kept, *rebuilt])
    return True


def _stored(index: GraphIndex, name: str) -> np.ndarray:
    value = index.constant(name)
    if value is None:
        raise ModelError(f"cannot read initializer '{name}' to rebuild a recurrent op's weights")
    return value


def _attach_plan(original: onnx.NodeProto, members: list[onnx.NodeProto]) -> None:
    """The repeats of the expansion's analog products, on the restored node."""
    layers: dict[str, int] = {}
    noise = None
    for node in _with_bodies(members):
        meta = {
            k[len(META_PREFIX) :]: v for k, v in _meta(node).items() if k.startswith(META_PREFIX)
        }
        if all(k in meta for k in _PLAN_KEYS):
            layers[meta["layer"]] = int(meta["repeats"])
            noise = meta.get("noise", noise)
    if layers:
        original.metadata_props.add(key=META_PREFIX + "layers", value=json.dumps(layers))
    if noise is not None:
        original.metadata_props.add(key=META_PREFIX + "noise", value=noise)


def _with_bodies(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    out = []
    for node in nodes:
        out.append(node)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                out.extend(_with_bodies(list(attr.g.node)))
    return out
