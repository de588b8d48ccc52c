"""Independent numpy reference of DESIGN §2 for a single-op model (no analogc code).

For one matrix-product node it computes, per output element ``y_i = w_i · x_(i)``:

* ``y``: the clean output (float64),
* ``xn2``: ‖x_(i)‖², the squared norm of the input vector / conv patch (padding holds zeros),
* ``wn2``: ‖w_i‖², counting only the weight taps that meet the input (zero padding excluded),
* ``rw``: r_w,i = max − min of output channel i's weights (all taps),
* ``taps``: how many (input, weight) pairs meet the input at that element,
* ``fan_in``: D (K; C_in/group·prod(kernel); MACs / output elements for ConvTranspose).

Convolutions are evaluated with explicit loops over output positions and kernel taps, not with
a convolution of masks, so this is a second, independent implementation of the same physics.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

ANALOG_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose")


@dataclass(frozen=True)
class Terms:
    y: np.ndarray
    xn2: np.ndarray
    wn2: np.ndarray
    rw: np.ndarray
    taps: np.ndarray
    fan_in: float

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
    nodes = [n for n in model.graph.node if n.op_type in ANALOG_OPS]
    assert len(nodes) == 1, f"reference needs exactly one analog node, found {len(nodes)}"
    return nodes[0]


def terms(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> Terms:
    """The reference quantities for the single analog node of ``model`` on ``feed``."""
    node = analog_node(model)
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}

    def value(name: str) -> np.ndarray | None:
        if not name:
            return None
        return np.asarray(feed[name], np.float64) if name in feed else consts[name]

    args = [value(n) for n in node.input]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "MatMul":
        return _matmul(args[0], args[1])
    if node.op_type == "Gemm":
        return _gemm(args[0], args[1], args[2] if len(args) > 2 else None, attrs)
    if node.op_type == "Conv":
        return _conv(args[0], args[1], args[2] if len(args) > 2 else None, attrs)
    return _conv_transpose(args[0], args[1], args[2] if len(args) > 2 else None, attrs)


def _matmul(a: np.ndarray, b: np.ndarray) -> Terms:
    y = a @ b
    k = a.shape[-1]
    xn2 = np.broadcast_to((a**2).sum(-1)[..., :, None], y.shape)
    wn2 = np.broadcast_to((b**2).sum(-2)[..., None, :], y.shape)
    rw = np.broadcast_to((b.max(-2) - b.min(-2))[..., None, :], y.shape)
    taps = np.full(y.shape, k)
    return Terms(y, xn2, wn2, rw, taps, float(k))


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
    return Terms(y, xn2, wn2, rw, np.full(y.shape, k), float(k))


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
    if bias is not None:
        y += bias.reshape(1, -1, *([1] * nd))
    flat = w.reshape(c_out, -1)
    rw = (flat.max(1) - flat.min(1)).reshape(1, -1, *([1] * nd))
    fan_in = float(c_per_group * np.prod(kernel))
    return Terms(
        y,
        xn2,
        np.broadcast_to(wn2, y.shape),
        np.broadcast_to(rw, y.shape),
        np.broadcast_to(taps, y.shape),
        fan_in,
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
    _, c_out, *kernel = w.shape
    nd = len(spatial)
    assert int(attrs.get("group", 1)) == 1
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
    xn2 = np.zeros((n, 1, *out))
    wn2 = np.zeros((c_out, *out))
    taps = np.zeros((c_out, *out), dtype=np.int64)
    for q in itertools.product(*(range(s) for s in spatial)):
        for t in itertools.product(*(range(k) for k in kernel)):
            p = [q[i] * strides[i] - pads[i] + t[i] * dil[i] for i in range(nd)]
            if not all(0 <= p[i] < out[i] for i in range(nd)):
                continue  # this product is cropped away by the padding
            xs = x[(slice(None), slice(None), *q)]  # [n, C_in]
            ws = w[(slice(None), slice(None), *t)]  # [C_in, C_out]
            y[(slice(None), slice(None), *p)] += xs @ ws
            xn2[(slice(None), 0, *p)] += (xs**2).sum(-1)
            wn2[(slice(None), *p)] += (ws**2).sum(0)
            taps[(slice(None), *p)] += c_in
    if bias is not None:
        y += bias.reshape(1, -1, *([1] * nd))
    per_channel = np.moveaxis(w, 1, 0).reshape(c_out, -1)
    rw = (per_channel.max(1) - per_channel.min(1)).reshape(1, -1, *([1] * nd))
    # MACs per example: every input pixel meets every kernel tap of every (C_in, C_out) pair.
    macs = c_in * c_out * int(np.prod(kernel)) * int(np.prod(spatial))
    fan_in = macs / (c_out * int(np.prod(out)))
    return Terms(
        y,
        np.broadcast_to(xn2, y.shape),
        np.broadcast_to(wn2, y.shape),
        np.broadcast_to(rw, y.shape),
        np.broadcast_to(taps, y.shape),
        float(fan_in),
    )
