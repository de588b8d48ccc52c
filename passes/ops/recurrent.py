"""LSTM, GRU and RNN: what each op computes, when analogc can expand it, and its MACs.

The gate products of a recurrent op (``X·Wᵀ`` and ``H·Rᵀ`` at every step) run analog once
:func:`analogc.passes.expand_recurrent` has rewritten the op into standard ops: one MatMul for
the input products of all steps, and a Scan whose body holds the recurrent product(s) and the
gate equations. This module holds the facts that rewrite needs: the attributes read the way
onnxruntime reads them (:func:`parse`), the reasons an op stays digital (:func:`check`) and
the MAC count (:func:`macs`).

Activation parameters follow onnxruntime 1.32's kernels where the spec leaves room (measured
there, for all three ops). Names are case-insensitive. ``activation_alpha``/``activation_beta``
are consumed in order, one value per function that takes one; a function whose value runs out
gets onnxruntime's default (LeakyRelu alpha 0.01, HardSigmoid 0.2/0.5, Elu 1.0, every other
one 0: ThresholdedRelu included, where the ONNX operator's own default would be 1.0). A
one-direction RNN listing two activations (the RNN schema's default does) uses the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnx

from ..graph_index import FLOAT_TYPES, GraphIndex, attribute_values
from ..scopes import LOOP_OPS, Scope
from .base import ShapeOf

__all__ = [
    "ACTIVATIONS",
    "OPS",
    "Activation",
    "RecurrentSpec",
    "check",
    "digital_reason",
    "macs",
    "parse",
]

OPS = ("LSTM", "GRU", "RNN")

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
"""Gate blocks stacked in W and R (LSTM: i, o, f, c; GRU: z, r, h; RNN: one)."""

DEFAULT_ACTIVATIONS = {
    "LSTM": ("sigmoid", "tanh", "tanh"),
    "GRU": ("sigmoid", "tanh"),
    "RNN": ("tanh",),
}
"""Per direction: LSTM (f, g, h), GRU (f, g), RNN (f)."""

ACTIVATIONS: dict[str, tuple[bool, bool, float, float]] = {
    "relu": (False, False, 0.0, 0.0),
    "tanh": (False, False, 0.0, 0.0),
    "sigmoid": (False, False, 0.0, 0.0),
    "affine": (True, True, 0.0, 0.0),
    "leakyrelu": (True, False, 0.01, 0.0),
    "thresholdedrelu": (True, False, 0.0, 0.0),
    "scaledtanh": (True, True, 0.0, 0.0),
    "hardsigmoid": (True, True, 0.2, 0.5),
    "elu": (True, False, 1.0, 0.0),
    "softsign": (False, False, 0.0, 0.0),
    "softplus": (False, False, 0.0, 0.0),
}
"""Lower-case name -> (takes alpha, takes beta, default alpha, default beta), as onnxruntime."""

_INPUTS = {
    "LSTM": ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"),
    "GRU": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
    "RNN": ("X", "W", "R", "B", "sequence_lens", "initial_h"),
}
_OUTPUTS = {"LSTM": ("Y", "Y_h", "Y_c"), "GRU": ("Y", "Y_h"), "RNN": ("Y", "Y_h")}
_COMMON_ATTRS = {
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
}
_ATTRS = {
    "LSTM": _COMMON_ATTRS | {"input_forget"},
    "GRU": _COMMON_ATTRS | {"linear_before_reset"},
    "RNN": _COMMON_ATTRS,
}
_DIRECTIONS = {
    "forward": ("forward",),
    "reverse": ("reverse",),
    "bidirectional": ("forward", "reverse"),
}


@dataclass(frozen=True)
class Activation:
    """One activation function with the alpha and beta onnxruntime gives it."""

    name: str
    alpha: float = 0.0
    beta: float = 0.0


@dataclass(frozen=True)
class RecurrentSpec:
    """One recurrent node, its optional inputs and outputs by role ("" when absent).

    Attributes:
        op_type: LSTM, GRU or RNN.
        directions: ``("forward",)``, ``("reverse",)`` or ``("forward", "reverse")``.
        activations: per direction, the functions in the spec's order (f, g, h).
        hidden: hidden size H.
        input_size: I, the last axis of X.
        layout: 0 (X is [seq, batch, I]) or 1 ([batch, seq, I]).
        clip: bound applied to every activation's input, or None.
        input_forget: LSTM: the forget gate is 1 - the input gate.
        linear_before_reset: GRU: the reset gate multiplies ``H·Rhᵀ + Rbh``.
        dtype: the element type of X, W and R.
    """

    op_type: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    directions: tuple[str, ...]
    activations: tuple[tuple[Activation, ...], ...]
    hidden: int
    input_size: int
    layout: int
    clip: float | None
    input_forget: bool
    linear_before_reset: bool
    dtype: int

    @property
    def gates(self) -> int:
        return GATES[self.op_type]


class NotExpandable(ValueError):
    """Why a recurrent node stays digital (the message is the reason)."""


def _role_map(names: Sequence[str], values: Sequence[str]) -> dict[str, str]:
    return {role: (values[i] if i < len(values) else "") for i, role in enumerate(names)}


def _activations(
    op_type: str, attrs: dict[str, object], n_dirs: int
) -> tuple[tuple[Activation, ...], ...]:
    per_dir = len(DEFAULT_ACTIVATIONS[op_type])
    default = DEFAULT_ACTIVATIONS[op_type] * n_dirs
    listed: list[str | bytes] = attrs.get("activations", default)  # type: ignore[assignment]
    names = [(a.decode() if isinstance(a, bytes) else str(a)).lower() for a in listed]
    if op_type == "RNN" and n_dirs == 1 and len(names) == 2:
        names = names[:1]  # the RNN schema's default lists two; onnxruntime takes the first
    if len(names) != per_dir * n_dirs:
        raise NotExpandable(
            f"'activations' lists {len(names)} functions; this {op_type} takes {per_dir * n_dirs} "
            f"({per_dir} per direction)"
        )
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown:
        raise NotExpandable(
            f"activation {unknown[0]!r} is not one the ONNX spec allows ({', '.join(ACTIVATIONS)})"
        )
    alphas = [float(a) for a in attrs.get("activation_alpha", [])]  # type: ignore[attr-defined]
    betas = [float(b) for b in attrs.get("activation_beta", [])]  # type: ignore[attr-defined]
    parsed = _consumed(names, alphas, betas)
    return tuple(tuple(parsed[d * per_dir : (d + 1) * per_dir]) for d in range(n_dirs))


def _consumed(names: list[str], alphas: list[float], betas: list[float]) -> list[Activation]:
    """Each function that takes an alpha (beta) consumes the next one, or gets its default."""
    parsed = []
    for name in names:
        takes_alpha, takes_beta, alpha, beta = ACTIVATIONS[name]
        if takes_alpha and alphas:
            alpha = alphas.pop(0)
        if takes_beta and betas:
            beta = betas.pop(0)
        parsed.append(Activation(name, alpha, beta))
    return parsed


def parse(node: onnx.NodeProto, index: GraphIndex) -> RecurrentSpec:
    """The node's attributes and inputs as the expansion uses them.

    Raises:
        NotExpandable: with the reason the node stays digital.
    """
    op_type = node.op_type
    attrs = attribute_values(node)
    extra = sorted(set(attrs) - _ATTRS[op_type])
    if extra:
        raise NotExpandable(f"attribute {extra[0]!r} is not handled by analogc's expansion")
    inputs = _role_map(_INPUTS[op_type], list(node.input))
    outputs = _role_map(_OUTPUTS[op_type], list(node.output))
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    if direction not in _DIRECTIONS:
        raise NotExpandable(f"direction {direction!r} is not forward, reverse or bidirectional")
    directions = _DIRECTIONS[direction]
    layout = int(attrs.get("layout", 0))  # type: ignore[call-overload]
    if layout not in (0, 1):
        raise NotExpandable(f"layout {layout} is not 0 or 1")
    x_shape = index.shape(inputs["X"])
    if x_shape is None or len(x_shape) != 3:
        what = "unknown" if x_shape is None else f"rank {len(x_shape)}"
        raise NotExpandable(f"input X ('{inputs['X']}') has {what} after shape inference; 3 needed")
    w_shape, r_shape = index.static_shape(inputs["W"]), index.static_shape(inputs["R"])
    for role, shape in (("W", w_shape), ("R", r_shape)):
        if shape is None or len(shape) != 3:
            raise NotExpandable(
                f"the shape of {role} ('{inputs[role]}') is not static after shape inference"
            )
    assert w_shape is not None and r_shape is not None
    hidden, gates = r_shape[2], GATES[op_type]
    if w_shape[0] != len(directions) or r_shape[0] != len(directions):
        raise NotExpandable(
            f"W and R hold {w_shape[0]} and {r_shape[0]} directions; direction {direction!r} "
            f"needs {len(directions)}"
        )
    if w_shape[1] != gates * hidden or r_shape[1] != gates * hidden:
        raise NotExpandable(f"W {list(w_shape)} and R {list(r_shape)} do not hold {gates} gates")
    declared = attrs.get("hidden_size", hidden)
    if declared != hidden:
        raise NotExpandable(f"hidden_size {declared} but R has {hidden} columns")
    if isinstance(x_shape[2], int) and x_shape[2] != w_shape[2]:
        raise NotExpandable(f"X has {x_shape[2]} features but W expects {w_shape[2]}")
    dtypes = {role: index.dtypes.get(inputs[role]) for role in ("X", "W", "R")}
    if any(t is None for t in dtypes.values()):
        raise NotExpandable("the type of X, W or R is unknown after shape inference")
    if len(set(dtypes.values())) > 1 or dtypes["X"] not in FLOAT_TYPES:
        names = ", ".join(
            f"{role}: {onnx.TensorProto.DataType.Name(t or 0).lower()}"
            for role, t in dtypes.items()
        )
        raise NotExpandable(f"X, W and R must share one floating type ({names})")
    producer = index.producers.get(inputs["X"])
    if dtypes["X"] == onnx.TensorProto.FLOAT16 and producer and producer.op_type == "Transpose":
        raise NotExpandable(
            "X is float16 and comes from a Transpose: onnxruntime 1.32 crashes creating a session "
            "for a float16 Transpose feeding a MatMul, which the input product would be; "
            "convert the model to float32 to run it analog"
        )
    clip = attrs.get("clip")
    return RecurrentSpec(
        op_type=op_type,
        inputs=inputs,
        outputs=outputs,
        directions=directions,
        activations=_activations(op_type, attrs, len(directions)),
        hidden=hidden,
        input_size=w_shape[2],
        layout=layout,
        clip=None if clip is None else float(clip),  # type: ignore[arg-type]
        input_forget=bool(attrs.get("input_forget", 0)),
        linear_before_reset=bool(attrs.get("linear_before_reset", 0)),
        dtype=int(dtypes["X"]),
    )


def check(node: onnx.NodeProto, index: GraphIndex, scopes: Sequence[Scope]) -> str | None:
    """None if :func:`analogc.passes.expand_recurrent` can expand the node, else the reason."""
    for scope in scopes:
        if scope.op_type in LOOP_OPS:
            return (
                f"inside the {scope.describe()}: expanding it would put a loop in a loop, which "
                "analogc does not handle; move the recurrent op out of the loop to run it analog"
            )
        if scope.op_type != "If" or scope.node.domain not in ("", "ai.onnx"):
            return f"inside the {scope.describe()} subgraph: only If branches are expanded"
    try:
        parse(node, index)
    except NotExpandable as exc:
        return str(exc)
    return None


REASON = (
    "recurrent op ({}) left as it is: analogc.passes.expand_recurrent rewrites it into a Scan "
    "whose gate products run analog (analogc's commands do this when they load a model)"
)
"""Why a recurrent op that could be expanded is still digital (discovery ran before it)."""


def digital_reason(node: onnx.NodeProto, index: GraphIndex, scopes: Sequence[Scope]) -> str:
    """The reason listed for a recurrent op that discovery finds in the graph."""
    reason = check(node, index, scopes)
    if reason is None:
        return REASON.format(node.op_type)
    return f"recurrent op ({node.op_type}) stays digital: {reason}"


def macs(node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
    """seq · directions · gates·H · (I + H): the input and recurrent products of every step
    (W is [directions, gates·H, I] and R is [directions, gates·H, H])."""
    x, w = index.shape(node.input[0]), index.static_shape(node.input[1])
    r = index.static_shape(node.input[2])
    if x is None or w is None or r is None or len(x) != 3:
        return None
    layout = int(attribute_values(node).get("layout", 0))  # type: ignore[call-overload]
    seq = x[1] if layout else x[0]
    if not isinstance(seq, int):
        return None
    directions, gates_hidden, inputs = w
    return seq * directions * gates_hidden * (inputs + r[2])
