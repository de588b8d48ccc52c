"""Find the ops that can run analog, and account for those that cannot, with the reason.

Every graph is searched: the main graph, If branches, and Loop and Scan bodies. An analog op
inside an If branch, or directly inside one Loop or Scan body, runs analog like any other (its
MACs per example count each iteration, when the trip count is static). Deeper nesting stays
digital with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from .ops import DIGITAL, HANDLERS
from .scopes import CONTROL_OPS, LOOP_OPS, Located, Scope, walk

ANALOG_DOMAINS = ("ai.analogc", "ai.analogc.sim")


@dataclass(frozen=True)
class LayerInfo:
    """One op that contains matrix products.

    Attributes:
        name: node name (unique in the model after :func:`name_nodes`).
        op_type: the ONNX op type.
        analog: True if analogc can run it analog.
        reason: why it stays digital (None for analog ops).
        fan_in: dot-product length D (None if unknown).
        macs: multiply-accumulates per example (None if a shape is unknown until run time);
            inside a Loop or Scan body, summed over the iterations.
        operand: ``constant`` when the second operand is a stored weight, else ``activation``.
        where: ``main graph`` or the subgraph holding the op.
        iterations: times the op runs per model run (a Loop's trip count, a Scan's length;
            None if only known at run time).
    """

    name: str
    op_type: str
    analog: bool
    reason: str | None = None
    fan_in: float | None = None
    macs: int | None = None
    operand: str | None = None
    where: str = "main graph"
    iterations: int | None = 1


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
        loc.node.domain in ANALOG_DOMAINS for loc in walk(model)
    )


def discover(model: onnx.ModelProto) -> Discovery:
    """List every matrix-product op of ``model`` (shape-inferred, nodes named), in graph order.

    Ops inside model-local functions (:func:`analogc.passes.load_model` inlines those) are
    listed as digital, with the reason.
    """
    functions = {(f.domain, f.name): f for f in model.functions if f.domain not in ANALOG_DOMAINS}
    layers: list[LayerInfo] = []
    for loc in walk(model):
        info = layer_info(loc)
        if info is not None:
            layers.append(info)
        function = functions.get((loc.node.domain, loc.node.op_type))
        if function is not None:
            layers.extend(_function_layers(function, loc.node.name, functions, set()))
    return Discovery(tuple(layers))


def _function_layers(
    function: onnx.FunctionProto,
    caller: str,
    functions: dict[tuple[str, str], onnx.FunctionProto],
    seen: set[tuple[str, str]],
) -> list[LayerInfo]:
    """Matrix-product ops in a local function's body (and the functions it calls): digital."""
    seen = seen | {(function.domain, function.name)}
    where = f"function {function.domain}.{function.name} (called by '{caller}')"
    reason = (
        f"inside the model-local {where}: analogc.passes.load_model inlines functions so that "
        "their ops can run analog"
    )
    layers = []
    for position, node in enumerate(function.node):
        domain = "" if node.domain == "ai.onnx" else node.domain
        if (domain == "" and node.op_type in HANDLERS) or (domain, node.op_type) in DIGITAL:
            name = f"{caller}/{node.name or f'{node.op_type}_{position}'}"
            layers.append(LayerInfo(name, node.op_type, False, reason, where=where))
        inner = functions.get((node.domain, node.op_type))
        if inner is not None and (inner.domain, inner.name) not in seen:
            layers.extend(_function_layers(inner, caller, functions, seen))
    return layers


def layer_info(loc: Located) -> LayerInfo | None:
    """The :class:`LayerInfo` of a node that contains matrix products, else None."""
    node, index = loc.node, loc.index
    domain = "" if node.domain == "ai.onnx" else node.domain
    iterations = iteration_count(loc)
    handler = HANDLERS.get(node.op_type) if domain == "" else None
    if handler is not None:
        reason = handler.check(node, index) or scope_reason(loc.scopes)
        macs = handler.macs(node, index, index.per_example_shape)
        return LayerInfo(
            name=node.name,
            op_type=node.op_type,
            analog=reason is None,
            reason=reason,
            fan_in=handler.fan_in(node, index),
            macs=_times(macs, iterations),
            operand=handler.operand(node, index),
            where=loc.where,
            iterations=iterations,
        )
    digital = DIGITAL.get((domain, node.op_type))
    if digital is not None:
        macs = digital.macs(node, index, index.per_example_shape)
        return LayerInfo(
            node.name,
            node.op_type,
            False,
            digital.reason_for(node, index, loc.scopes),
            macs=_times(macs, iterations),
            where=loc.where,
            iterations=iterations,
        )
    return None


def _times(macs: int | None, iterations: int | None) -> int | None:
    return None if macs is None or iterations is None else macs * iterations


def scope_reason(scopes: tuple[Scope, ...]) -> str | None:
    """Why an op in this subgraph cannot run analog (None: it can)."""
    for scope in scopes:
        if scope.op_type not in CONTROL_OPS or scope.node.domain not in ("", "ai.onnx"):
            return (
                f"inside the {scope.describe()} subgraph: only If, Loop and Scan bodies are handled"
            )
    loops = [i for i, s in enumerate(scopes) if s.op_type in LOOP_OPS]
    if len(loops) > 1:
        return "inside nested Loop/Scan bodies: one loop level is handled"
    if loops and any(s.op_type == "If" for s in scopes[loops[0] + 1 :]):
        return (
            f"inside an If branch within {scopes[loops[0]].describe()}: an If directly in a "
            "Loop/Scan body is not handled"
        )
    return None


def iteration_count(loc: Located) -> int | None:
    """How often a node runs per model run: the product of its loops' static trip counts."""
    total = 1
    for scope in loc.scopes:
        if scope.op_type not in LOOP_OPS:
            continue
        count = _trips(scope, loc)
        if count is None:
            return None
        total *= count
    return total


def _trips(scope: Scope, loc: Located) -> int | None:
    node, index = scope.node, loc.index
    if node.op_type == "Loop":
        trips = node.input[0] if node.input else ""
        value = index.constant(trips) if trips else None
        if value is None or value.size != 1:
            return None
        cond = node.input[1] if len(node.input) > 1 else ""
        body = scope.graph
        if cond:
            start = index.constant(cond)
            if (
                start is None
                or not bool(start.reshape(-1)[0])
                or not _passes_condition_through(body)
            ):
                return None  # the loop may stop early, or not start
        return int(value.reshape(()))
    # Scan: the length of the first scan input along its scan axis (a batch axis counts 1).
    n_states = len(node.input) - _scan_inputs(node)
    first = node.input[n_states]
    axes = next((list(a.ints) for a in node.attribute if a.name == "scan_input_axes"), [0])
    shape = index.shape(first)
    if shape is None:
        return None
    dim = shape[axes[0] % len(shape)]
    if isinstance(dim, int):
        return dim
    return 1 if dim in index.batch_symbols else None


def _scan_inputs(node: onnx.NodeProto) -> int:
    return next(int(a.i) for a in node.attribute if a.name == "num_scan_inputs")


def _passes_condition_through(body: onnx.GraphProto) -> bool:
    """True if the body's output condition is its input condition, unchanged."""
    cond_in, cond_out = body.input[1].name, body.output[0].name
    if cond_in == cond_out:
        return True
    producer = next((n for n in body.node if cond_out in n.output), None)
    return producer is not None and producer.op_type == "Identity" and producer.input[0] == cond_in
