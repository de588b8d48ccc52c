"""Independent numpy reference of DESIGN §2 for a single-op model (no analogc code).

For one matrix-product node it computes, per output element ``y_i = w_i · x_(i)``:

* ``y``: the clean output (float64),
* ``xn2``: ‖x_(i)‖², the squared norm of the input vector / conv patch (padding holds zeros),
* ``wn2``: ‖w_i‖², counting only the weight taps that meet the input (zero padding excluded),
* ``rw``: r_w,i = max − min of output channel i's weights (all taps),
* ``taps``: how many (input, weight) pairs meet the input at that element,
* ``fan_in``: D (K; C_in/group·prod(kernel); MACs / output elements for ConvTranspose).

Convolutions are evaluated with explicit loops over output positions and kernel taps, not with
a convolution of masks, and Einsum contractions with explicit loops over output elements and
contracted indices (its own equation parser), so this is a second, independent implementation
of the same physics.

The analog node may sit in a subgraph of the test models built in ``builders.py``: an If branch
(the branch the test feeds runs once), a Loop body (the op runs once per iteration on
loop-invariant operands; the model stacks the results on axis 1) or a Scan body (the op runs on
one slice of the scanned input per step, which for a MatMul is the op on the whole input).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

ANALOG_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum")


@dataclass(frozen=True)
class Terms:
    y: np.ndarray
    xn2: np.ndarray
    wn2: np.ndarray
    rw: np.ndarray
    taps: np.ndarray
    fan_in: float
    xamax: np.ndarray | None = None
    """abs-max of each input vector (conv: of each patch, per group), per output element."""
    wamax: np.ndarray | None = None
    """abs-max of the output channel's (effective) weights, per output element."""

    def variances(
        self,
        *,
        shot: bool = False,
        thermal: bool = False,
        weight: bool = False,
        k_t: float = 0.01,
        k_w: float = 0.1,
        r_x: float = 1.0,
        energy: float = 1.0,
    ) -> np.ndarray:
        """Expected output-referred noise variance per element at E = ``energy`` (DESIGN §2)."""
        d = self.fan_in
        var = np.zeros_like(self.y)
        if shot:  # σ = ‖x‖·‖w‖ / sqrt(D·E)
            var = var + self.xn2 * self.wn2 / (d * energy)
        if thermal:  # σ = k_t · r_w · r_x · sqrt(D) / sqrt(E)
            var = var + (k_t * self.rw * r_x) ** 2 * d / energy
        if weight:  # W_ij += ε·k_w·r_w,i/sqrt(E)  =>  σ_y = ‖x‖·k_w·r_w,i/sqrt(E)
            var = var + self.xn2 * (k_w * self.rw) ** 2 / energy
        return var

    def stacked(self, copies: int, *, axis: int) -> Terms:
        """The same op run ``copies`` times, the results stacked on a new ``axis``."""

        def stack(a: np.ndarray) -> np.ndarray:
            return np.repeat(np.expand_dims(a, axis), copies, axis=axis)

        return Terms(
            stack(self.y),
            stack(self.xn2),
            stack(self.wn2),
            stack(self.rw),
            stack(np.broadcast_to(self.taps, self.y.shape)),
            self.fan_in,
            None if self.xamax is None else stack(self.xamax),
            None if self.wamax is None else stack(self.wamax),
        )

    def sigma(self, noise: Any, *, r_x: float = 1.0, energy: float = 1.0) -> np.ndarray:
        """Expected std per element for a NoiseModel-like object (shot/thermal/weight/k_t/k_w)."""
        return np.sqrt(
            self.variances(
                shot=noise.shot,
                thermal=noise.thermal,
                weight=noise.weight,
                k_t=noise.k_t,
                k_w=noise.k_w,
                r_x=r_x,
                energy=energy,
            )
        )


def analog_node(model: onnx.ModelProto) -> onnx.NodeProto:
    return _find(model.graph, [])[0]


def _find(
    graph: onnx.GraphProto, scopes: list[onnx.NodeProto]
) -> tuple[onnx.NodeProto, list[onnx.NodeProto]]:
    """The single analog node in ``graph`` or its subgraphs, and the control nodes above it."""
    found = []

    def visit(g: onnx.GraphProto, above: list[onnx.NodeProto]) -> None:
        for n in g.node:
            if n.op_type in ANALOG_OPS:
                found.append((n, above))
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH and not (
                    n.op_type == "If" and a.name == "else_branch"  # the tests feed cond=True
                ):
                    visit(a.g, [*above, n])

    visit(graph, scopes)
    assert len(found) == 1, f"reference needs exactly one analog node, found {len(found)}"
    return found[0]


def terms(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> Terms:
    """The reference quantities for the single analog node of ``model`` on ``feed``."""
    node, scopes = _find(model.graph, [])
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    bound: dict[str, str] = {}
    for control in scopes:
        if control.op_type == "Scan":  # a body input slice -> the whole scanned input
            body = next(a.g for a in control.attribute if a.name == "body")
            n_scan = next(a.i for a in control.attribute if a.name == "num_scan_inputs")
            n_state = len(control.input) - n_scan
            for inner, outer in zip(body.input[n_state:], control.input[n_state:], strict=True):
                bound[inner.name] = outer

    def value(name: str) -> np.ndarray | None:
        if not name:
            return None
        name = bound.get(name, name)
        return np.asarray(feed[name], np.float64) if name in feed else consts[name]

    args = [value(n) for n in node.input]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "MatMul":
        out = _matmul(args[0], args[1])
    elif node.op_type == "Gemm":
        out = _gemm(args[0], args[1], args[2] if len(args) > 2 else None, attrs)
    elif node.op_type == "Conv":
        out = _conv(args[0], args[1], args[2] if len(args) > 2 else None, attrs)
    elif node.op_type == "Einsum":
        equation = attrs["equation"]
        out = _einsum(equation.decode() if isinstance(equation, bytes) else equation, *args)
    else:
        out = _conv_transpose(args[0], args[1], args[2] if len(args) > 2 else None, attrs)
    for control in scopes:
        if control.op_type == "Loop":  # loop-invariant operands, one result per iteration
            trips = int(consts[control.input[0]])
            out = out.stacked(trips, axis=1)
    return out


def _matmul(a: np.ndarray, b: np.ndarray) -> Terms:
    """numpy matmul semantics: a 1-D operand is a row (a) or a column (b), then dropped."""
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = a[None, :] if a_vec else a
    b2 = b[:, None] if b_vec else b
    y = a2 @ b2
    k = a2.shape[-1]
    xn2 = np.broadcast_to((a2**2).sum(-1)[..., :, None], y.shape)
    wn2 = np.broadcast_to((b2**2).sum(-2)[..., None, :], y.shape)
    rw = np.broadcast_to((b2.max(-2) - b2.min(-2))[..., None, :], y.shape)
    taps = np.full(y.shape, k)
    xamax = np.broadcast_to(np.abs(a2).max(-1)[..., :, None], y.shape)
    wamax = np.broadcast_to(np.abs(b2).max(-2)[..., None, :], y.shape)
    axes = tuple(ax for ax, vec in ((-1, b_vec), (-2, a_vec)) if vec)
    if axes:
        y, xn2, wn2, rw, taps, xamax, wamax = (
            np.squeeze(t, axis=axes) for t in (y, xn2, wn2, rw, taps, xamax, wamax)
        )
    return Terms(y, xn2, wn2, rw, taps, float(k), xamax, wamax)


def _einsum_tokens(equation: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    """One token per axis; ``...`` becomes right-aligned tokens ``.2 .1 .0``."""
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    terms_ = lhs.split(",")
    inputs, width = [], 0
    for term, rank in zip(terms_, ranks, strict=True):
        if "..." in term:
            head, tail = term.split("...")
            n = rank - len(head) - len(tail)
            width = max(width, n)
            inputs.append([*head, *(f".{i}" for i in reversed(range(n))), *tail])
        else:
            inputs.append(list(term))
    dots = [f".{i}" for i in reversed(range(width))]
    if "->" not in equation:
        letters = [t for term in inputs for t in term if not t.startswith(".")]
        out = dots + sorted(t for t in set(letters) if letters.count(t) == 1)
    else:
        head, sep, tail = rhs.partition("...")
        out = [*head, *(dots if sep else []), *tail]
    return inputs, out


def _einsum(equation: str, x: np.ndarray, w: np.ndarray) -> Terms:
    """A two-operand contraction, one output element and one contracted index at a time."""
    (tx, tw), tout = _einsum_tokens(equation, [x.ndim, w.ndim])
    size: dict[str, int] = {}
    for tokens, arr in ((tx, x), (tw, w)):
        for t, d in zip(tokens, arr.shape, strict=True):
            size[t] = max(size.get(t, 1), d)
    contracted = [t for t in tx if t in tw and t not in tout]
    out_shape = tuple(size[t] for t in tout)
    y, xn2, wn2, rw = (np.zeros(out_shape) for _ in range(4))

    def at(arr: np.ndarray, tokens: list[str], where: dict[str, int]) -> float:
        return float(arr[tuple(where[t] if arr.shape[i] > 1 else 0 for i, t in enumerate(tokens))])

    for o in itertools.product(*(range(d) for d in out_shape)):
        where = dict(zip(tout, o, strict=True))
        ws = []
        for c in itertools.product(*(range(size[t]) for t in contracted)):
            where.update(zip(contracted, c, strict=True))
            xv, wv = at(x, tx, where), at(w, tw, where)
            y[o] += xv * wv
            xn2[o] += xv * xv
            wn2[o] += wv * wv
            ws.append(wv)
        rw[o] = max(ws) - min(ws)
    fan_in = float(np.prod([size[t] for t in contracted]))
    return Terms(y, xn2, wn2, rw, np.full(out_shape, int(fan_in)), fan_in)


def _gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, attrs: dict[str, Any]) -> Terms:
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b  # [K, N]: column i is output channel i
    y = alpha * a @ b
    if c is not None:
        y = y + beta * c
    k = a.shape[1]
    w = alpha * b  # the effective weights
    xn2 = np.broadcast_to((a**2).sum(1)[:, None], y.shape)
    wn2 = np.broadcast_to((w**2).sum(0)[None, :], y.shape)
    rw = np.broadcast_to((w.max(0) - w.min(0))[None, :], y.shape)
    xamax = np.broadcast_to(np.abs(a).max(1)[:, None], y.shape)
    wamax = np.broadcast_to(np.abs(w).max(0)[None, :], y.shape)
    return Terms(y, xn2, wn2, rw, np.full(y.shape, k), float(k), xamax, wamax)


def _conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, attrs: dict[str, Any]) -> Terms:
    n, _, *spatial = x.shape
    c_out, c_per_group, *kernel = w.shape
    nd = len(spatial)
    group = int(attrs.get("group", 1))
    strides = list(attrs.get("strides", [1] * nd))
    dil = list(attrs.get("dilations", [1] * nd))
    pads = _conv_pads(attrs, spatial, kernel, strides, dil)
    out = [
        (spatial[i] + pads[i] + pads[i + nd] - ((kernel[i] - 1) * dil[i] + 1)) // strides[i] + 1
        for i in range(nd)
    ]
    per_group = c_out // group
    y = np.zeros((n, c_out, *out))
    xn2 = np.zeros_like(y)
    wn2 = np.zeros((c_out, *out))
    taps = np.zeros((c_out, *out), dtype=np.int64)
    patch_amax = np.zeros((n, group, *out))  # padding holds zeros: it never raises a max
    xg = x.reshape(n, group, c_per_group, *spatial)
    wg = w.reshape(group, per_group, c_per_group, *kernel)
    for p in itertools.product(*(range(o) for o in out)):
        for t in itertools.product(*(range(k) for k in kernel)):
            q = [p[i] * strides[i] - pads[i] + t[i] * dil[i] for i in range(nd)]
            if not all(0 <= q[i] < spatial[i] for i in range(nd)):
                continue  # this tap meets zero padding
            xs = xg[(slice(None), slice(None), slice(None), *q)]  # [n, G, C/G]
            ws = wg[(slice(None), slice(None), slice(None), *t)]  # [G, Co/G, C/G]
            y[(slice(None), slice(None), *p)] += np.einsum("ngc,goc->ngo", xs, ws).reshape(n, -1)
            xn2[(slice(None), slice(None), *p)] += np.repeat((xs**2).sum(-1), per_group, axis=1)
            wn2[(slice(None), *p)] += (ws**2).sum(-1).reshape(-1)
            taps[(slice(None), *p)] += c_per_group
            at = (slice(None), slice(None), *p)
            patch_amax[at] = np.maximum(patch_amax[at], np.abs(xs).max(-1))
    if bias is not None:
        y += bias.reshape(1, -1, *([1] * nd))
    flat = w.reshape(c_out, -1)
    rw = (flat.max(1) - flat.min(1)).reshape(1, -1, *([1] * nd))
    fan_in = float(c_per_group * np.prod(kernel))
    xamax = np.repeat(patch_amax, per_group, axis=1)  # per patch, of the channel's group
    wamax = np.abs(flat).max(1).reshape(1, -1, *([1] * nd))
    return Terms(
        y,
        xn2,
        np.broadcast_to(wn2, y.shape),
        np.broadcast_to(rw, y.shape),
        np.broadcast_to(taps, y.shape),
        fan_in,
        np.broadcast_to(xamax, y.shape),
        np.broadcast_to(wamax, y.shape),
    )


def _conv_pads(
    attrs: dict[str, Any],
    spatial: list[int],
    kernel: list[int],
    strides: list[int],
    dil: list[int],
) -> list[int]:
    """Explicit pads [begin..., end...], resolving auto_pad SAME_UPPER/SAME_LOWER/VALID."""
    nd = len(spatial)
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        return list(attrs.get("pads", [0] * (2 * nd)))
    if auto == "VALID":
        return [0] * (2 * nd)
    begin, end = [], []
    for i in range(nd):
        out = -(-spatial[i] // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - spatial[i], 0)
        small, large = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else large)
        end.append(large if auto == "SAME_UPPER" else small)
    return begin + end


def _conv_transpose(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, attrs: dict[str, Any]
) -> Terms:
    n, c_in, *spatial = x.shape
    _, per_group, *kernel = w.shape
    nd = len(spatial)
    group = int(attrs.get("group", 1))
    c_out = per_group * group
    in_per_group = c_in // group
    strides = list(attrs.get("strides", [1] * nd))
    dil = list(attrs.get("dilations", [1] * nd))
    pads = list(attrs.get("pads", [0] * (2 * nd)))
    out_pad = list(attrs.get("output_padding", [0] * nd))
    out = [
        (spatial[i] - 1) * strides[i]
        + out_pad[i]
        + (kernel[i] - 1) * dil[i]
        + 1
        - pads[i]
        - pads[i + nd]
        for i in range(nd)
    ]
    y = np.zeros((n, c_out, *out))
    xn2 = np.zeros((n, c_out, *out))
    wn2 = np.zeros((c_out, *out))
    taps = np.zeros((c_out, *out), dtype=np.int64)
    for q in itertools.product(*(range(s) for s in spatial)):
        for t in itertools.product(*(range(k) for k in kernel)):
            p = [q[i] * strides[i] - pads[i] + t[i] * dil[i] for i in range(nd)]
            if not all(0 <= p[i] < out[i] for i in range(nd)):
                continue  # this product is cropped away by the padding
            for g in range(group):
                cin = slice(g * in_per_group, (g + 1) * in_per_group)
                cout = slice(g * per_group, (g + 1) * per_group)
                xs = x[(slice(None), cin, *q)]  # [n, C_in/G]
                ws = w[(cin, slice(None), *t)]  # [C_in/G, C_out/G]
                y[(slice(None), cout, *p)] += xs @ ws
                xn2[(slice(None), cout, *p)] += (xs**2).sum(-1)[:, None]
                wn2[(cout, *p)] += (ws**2).sum(0)
                taps[(cout, *p)] += in_per_group
    if bias is not None:
        y += bias.reshape(1, -1, *([1] * nd))
    # Output channel g·C_out/G + o: the weights W[group g's input channels, o, all taps].
    wg = w.reshape(group, in_per_group, per_group, -1)
    per_channel = np.moveaxis(wg, 2, 1).reshape(c_out, -1)
    rw = (per_channel.max(1) - per_channel.min(1)).reshape(1, -1, *([1] * nd))
    # MACs per example: every input pixel meets every tap of every weight.
    macs = w.size * int(np.prod(spatial))
    fan_in = macs / (c_out * int(np.prod(out)))
    return Terms(
        y,
        xn2,
        np.broadcast_to(wn2, y.shape),
        np.broadcast_to(rw, y.shape),
        np.broadcast_to(taps, y.shape),
        float(fan_in),
    )
