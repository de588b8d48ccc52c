"""One time step of LSTM, GRU and RNN in standard ops: the body of the Scan that expands them.

The step receives ``xw`` (this step's input products ``Xt·Wᵀ`` plus the biases that can be
added before the loop) and the previous state, and follows the ONNX equations::

    LSTM  i = f(xw_i + H·Ri + Pi⊙C)    f = f(xw_f + H·Rf + Pf⊙C)   (1 - i with input_forget)
          c = g(xw_c + H·Rc)   C' = f⊙C + i⊙c   o = f(xw_o + H·Ro + Po⊙C')   H' = o⊙h(C')
    GRU   z = f(xw_z + H·Rz)   r = f(xw_r + H·Rr)
          h = g(xw_h + (r⊙H)·Rh)            (linear_before_reset = 0)
          h = g(xw_h + r⊙(H·Rh + Rbh))      (linear_before_reset = 1)
          H' = (1 - z)⊙h + z⊙H
    RNN   H' = f(xw + H·R)

``clip`` bounds the gates' inputs (peepholes included), not the cell state that ``h`` reads,
as onnxruntime does. The
products with R are MatMul nodes named ``<tag>/recurrent_product`` (and, for a GRU without
``linear_before_reset``, ``<tag>/reset_product``): those run analog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .graph_builder import GraphBuilder
from .ops.recurrent import Activation, RecurrentSpec

__all__ = ["RECURRENT_PRODUCT", "RESET_PRODUCT", "StepWeights", "activate", "step"]

RECURRENT_PRODUCT = "recurrent_product"
RESET_PRODUCT = "reset_product"


@dataclass(frozen=True)
class StepWeights:
    """Values of the enclosing graph that one direction's step reads.

    Attributes:
        recurrent: R of this direction, transposed ([H, columns]): one matrix for every gate,
            or (z and r, h) for a GRU without ``linear_before_reset``.
        peepholes: LSTM ``(Pi, Po, Pf)``, each [H], or None.
        reset_bias: GRU with ``linear_before_reset``: Rbh [H], or None.
    """

    recurrent: tuple[str, ...]
    peepholes: tuple[str, str, str] | None = None
    reset_bias: str | None = None


Emit = Callable[[GraphBuilder, Activation, str, str], str]


def _plain(op_type: str) -> Emit:
    return lambda g, act, x, label: g.op(op_type, [x], label)


def _with_alpha(op_type: str) -> Emit:
    return lambda g, act, x, label: g.op(op_type, [x], label, alpha=act.alpha)


def _affine(g: GraphBuilder, act: Activation, x: str, label: str) -> str:
    scaled = g.op("Mul", [x, g.scalar(act.alpha, "alpha")], f"{label}/scale")
    return g.op("Add", [scaled, g.scalar(act.beta, "beta")], label)


def _scaled_tanh(g: GraphBuilder, act: Activation, x: str, label: str) -> str:
    inner = g.op("Mul", [x, g.scalar(act.beta, "beta")], f"{label}/scale_in")
    tanh = g.op("Tanh", [inner], f"{label}/tanh")
    return g.op("Mul", [tanh, g.scalar(act.alpha, "alpha")], label)


def _hard_sigmoid(g: GraphBuilder, act: Activation, x: str, label: str) -> str:
    return g.op("HardSigmoid", [x], label, alpha=act.alpha, beta=act.beta)


_EMIT: dict[str, Emit] = {
    "relu": _plain("Relu"),
    "tanh": _plain("Tanh"),
    "sigmoid": _plain("Sigmoid"),
    "softsign": _plain("Softsign"),
    "softplus": _plain("Softplus"),
    "leakyrelu": _with_alpha("LeakyRelu"),
    "thresholdedrelu": _with_alpha("ThresholdedRelu"),
    "elu": _with_alpha("Elu"),
    "hardsigmoid": _hard_sigmoid,
    "affine": _affine,
    "scaledtanh": _scaled_tanh,
}


def activate(g: GraphBuilder, act: Activation, x: str, label: str, clip: float | None) -> str:
    """``act(clip(x))`` in standard ops."""
    if clip is not None:
        x = g.op(
            "Clip", [x, g.scalar(-clip, "clip_low"), g.scalar(clip, "clip_high")], f"{label}/clip"
        )
    return _EMIT[act.name](g, act, x, label)


@dataclass(frozen=True)
class _Step:
    g: GraphBuilder
    spec: RecurrentSpec
    acts: tuple[Activation, ...]
    tag: str

    def label(self, what: str) -> str:
        return f"{self.tag}/step/{what}"

    def gate(self, x: str, k: int, what: str) -> str:
        """Block ``k`` (of H columns) of ``x``."""
        h = self.spec.hidden
        return self.g.slice(x, k * h, (k + 1) * h, 1, self.label(what))

    def add(self, a: str, b: str, what: str) -> str:
        return self.g.op("Add", [a, b], self.label(what))

    def mul(self, a: str, b: str, what: str) -> str:
        return self.g.op("Mul", [a, b], self.label(what))

    def act(self, which: int, x: str, what: str, *, clip: bool = True) -> str:
        bound = self.spec.clip if clip else None
        return activate(self.g, self.acts[which], x, self.label(what), bound)

    def product(self, h: str, r: str, name: str) -> str:
        return self.g.op("MatMul", [h, r], f"{self.tag}/{name}")


def step(
    g: GraphBuilder,
    spec: RecurrentSpec,
    direction: int,
    tag: str,
    *,
    xw: str,
    h_prev: str,
    c_prev: str | None,
    weights: StepWeights,
) -> tuple[str, str | None]:
    """Append one step for ``direction``; returns the new hidden state (and LSTM cell state)."""
    s = _Step(g, spec, spec.activations[direction], tag)
    return _STEPS[spec.op_type](s, xw, h_prev, c_prev, weights)


def _lstm(
    s: _Step, xw: str, h_prev: str, c_prev: str | None, w: StepWeights
) -> tuple[str, str | None]:
    assert c_prev is not None
    gates = s.add(xw, s.product(h_prev, w.recurrent[0], RECURRENT_PRODUCT), "gates")
    i, o, f, c = (s.gate(gates, k, name) for k, name in enumerate("iofc"))
    if w.peepholes is not None:
        p_i, _, p_f = w.peepholes  # Po reads the new cell state, below
        i = s.add(i, s.mul(p_i, c_prev, "peephole_i"), "i_peephole")
        f = s.add(f, s.mul(p_f, c_prev, "peephole_f"), "f_peephole")
    i = s.act(0, i, "input_gate")
    if s.spec.input_forget:
        f = s.g.op("Sub", [s.g.scalar(1.0, "one"), i], s.label("forget_gate"))
    else:
        f = s.act(0, f, "forget_gate")
    c = s.act(1, c, "cell_gate")
    cell = s.add(s.mul(f, c_prev, "keep"), s.mul(i, c, "write"), "cell")
    if w.peepholes is not None:
        o = s.add(o, s.mul(w.peepholes[1], cell, "peephole_o"), "o_peephole")
    o = s.act(0, o, "output_gate")
    # onnxruntime does not clip the cell state before h (only the gates' inputs).
    return s.mul(o, s.act(2, cell, "cell_out", clip=False), "hidden"), cell


def _gru(
    s: _Step, xw: str, h_prev: str, c_prev: str | None, w: StepWeights
) -> tuple[str, str | None]:
    x_z, x_r, x_h = (s.gate(xw, k, f"x_{name}") for k, name in enumerate("zrh"))
    recurrent = s.product(h_prev, w.recurrent[0], RECURRENT_PRODUCT)
    z = s.act(0, s.add(x_z, s.gate(recurrent, 0, "h_z"), "z_in"), "update_gate")
    r = s.act(0, s.add(x_r, s.gate(recurrent, 1, "h_r"), "r_in"), "reset_gate")
    if s.spec.linear_before_reset:
        h_h = s.gate(recurrent, 2, "h_h")
        if w.reset_bias is not None:
            h_h = s.add(h_h, w.reset_bias, "h_h_bias")
        h_in = s.add(x_h, s.mul(r, h_h, "reset"), "h_in")
    else:
        reset = s.product(s.mul(r, h_prev, "reset"), w.recurrent[1], RESET_PRODUCT)
        h_in = s.add(x_h, reset, "h_in")
    candidate = s.act(1, h_in, "candidate")
    keep = s.g.op("Sub", [s.g.scalar(1.0, "one"), z], s.label("keep_gate"))
    hidden = s.add(s.mul(keep, candidate, "new"), s.mul(z, h_prev, "old"), "hidden")
    return hidden, None


def _rnn(
    s: _Step, xw: str, h_prev: str, c_prev: str | None, w: StepWeights
) -> tuple[str, str | None]:
    total = s.add(xw, s.product(h_prev, w.recurrent[0], RECURRENT_PRODUCT), "pre")
    return s.act(0, total, "hidden"), None


_STEPS = {"LSTM": _lstm, "GRU": _gru, "RNN": _rnn}
