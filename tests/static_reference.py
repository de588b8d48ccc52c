"""Independent numpy references of the terms repeats do not reduce (DESIGN §2.1).

For the contract ops (a MatMul, a Gemm with alpha and transB, a grouped Conv), each function
gives the output the annotated op must produce, from the clean operands, the plan's
calibration facts and the chip's standard-normal draws. Quantisers are applied in float32
with the same operation order as the specification (divide by the step, round half to even,
multiply, clip), so they are exact; products go through the model itself run by onnxruntime
on modified operands (a plain op, no analogc code).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from helpers import run_plain
from onnx import numpy_helper
from reference import _conv_pads

from analogc.passes import LayerPlan, NoiseModel

F32 = np.float32


@dataclass(frozen=True)
class OpData:
    """A contract op: its model, input, weight (as stored) and how its channels lie."""

    model: onnx.ModelProto
    x: np.ndarray
    weight_name: str
    w: np.ndarray
    contracted: tuple[int, ...]
    """Axes of the stored weight summed by one output channel's dot product."""
    channel_axis_y: int
    per_vector_axes: tuple[int, ...]
    """Axes of x reduced for one input vector's abs-max (a conv's vectors are its patches:
    see :func:`patches`)."""

    @property
    def is_conv(self) -> bool:
        return self.model.graph.node[0].op_type == "Conv"

    def run(self, x: np.ndarray | None = None, w: np.ndarray | None = None) -> np.ndarray:
        """The plain op on (possibly modified) operands, by onnxruntime."""
        model = copy.deepcopy(self.model)
        if w is not None:
            for i, t in enumerate(model.graph.initializer):
                if t.name == self.weight_name:
                    model.graph.initializer[i].CopyFrom(
                        numpy_helper.from_array(w.astype(F32), self.weight_name)
                    )
        return run_plain(model, {"x": self.x if x is None else x})[0]


def op_data(case_name: str, model: onnx.ModelProto, x: np.ndarray) -> OpData:
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if case_name == "matmul":
        return OpData(model, x, "W", weights["W"], (0,), -1, (-1,))
    if case_name == "gemm":  # B [n, k], transB = 1
        return OpData(model, x, "B", weights["B"], (1,), -1, (-1,))
    if case_name == "conv2d_group":
        w = weights["W"]
        return OpData(model, x, "W", w, (1, 2, 3), 1, (1, 2, 3))
    raise ValueError(f"no static reference for case {case_name!r}")


def _conv_attrs(op: OpData) -> dict[str, list[int] | int]:
    node = op.model.graph.node[0]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    spatial = op.w.ndim - 2
    strides = list(attrs.get("strides", [1] * spatial))
    dilations = list(attrs.get("dilations", [1] * spatial))
    kernel = list(op.w.shape[2:])
    pads = _conv_pads(attrs, list(op.x.shape[2:]), kernel, strides, dilations)
    return {
        "group": int(attrs.get("group", 1)),
        "strides": strides,
        "pads": pads,
        "dilations": dilations,
    }


def patches(op: OpData, x: np.ndarray) -> np.ndarray:
    """A convolution's input vectors: [N, G, C_in/G, K, *out] (K taps, zero padding included),
    cut from ``x`` by explicit slicing (no convolution involved)."""
    a = _conv_attrs(op)
    kernel = op.w.shape[2:]
    spatial = len(kernel)
    pads = a["pads"]
    assert isinstance(pads, list)
    width = [(0, 0), (0, 0), *((pads[i], pads[i + spatial]) for i in range(spatial))]
    padded = np.pad(x, width)
    strides, dilations = a["strides"], a["dilations"]
    assert isinstance(strides, list) and isinstance(dilations, list)
    out = [
        (padded.shape[2 + i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1
        for i in range(spatial)
    ]
    taps = []
    for tap in np.ndindex(*kernel):
        index = tuple(
            slice(
                tap[i] * dilations[i],
                tap[i] * dilations[i] + strides[i] * (out[i] - 1) + 1,
                strides[i],
            )
            for i in range(spatial)
        )
        taps.append(padded[(slice(None), slice(None), *index)])
    stacked = np.stack(taps, axis=2)  # [N, C, K, *out]
    g = int(a["group"])  # type: ignore[arg-type]
    n, c = stacked.shape[:2]
    return stacked.reshape(n, g, c // g, *stacked.shape[2:])


def patch_product(op: OpData, p: np.ndarray) -> np.ndarray:
    """The conv from its patches [N, G, C/G, K, *out]: y[n, o] = Σ W[o, c, k]·p[n, g(o), c, k]."""
    n, g, cg, k = p.shape[:4]
    c_out = op.w.shape[0]
    w = op.w.reshape(g, c_out // g, cg, k).astype(np.float64)
    y = np.einsum("gocK,ngcK...->ngo...", w, p.astype(np.float64))
    y = y.reshape(n, c_out, *p.shape[4:])
    node = op.model.graph.node[0]
    if len(node.input) > 2 and node.input[2]:
        bias = next(t for t in op.model.graph.initializer if t.name == node.input[2])
        y = y + numpy_helper.to_array(bias).reshape(1, -1, *([1] * (y.ndim - 2)))
    return y.astype(F32)


def vector_absmax_y(op: OpData, y: np.ndarray) -> np.ndarray:
    """Each input vector's abs-max, laid out like y (a conv's: each patch's, per group)."""
    if not op.is_conv:
        return np.broadcast_to(np.abs(op.x).max(axis=op.per_vector_axes, keepdims=True), y.shape)
    amax = np.abs(patches(op, op.x)).max(axis=(2, 3))  # [N, G, *out]
    g = amax.shape[1]
    return np.repeat(amax, y.shape[1] // g, axis=1)


def quantize(v: np.ndarray, bound: np.ndarray | float, levels: float) -> np.ndarray:
    """clip(round(v/Δ)·Δ, −bound, bound), Δ = bound/levels, in float32."""
    bound = np.asarray(bound, F32)
    step = np.maximum(bound / F32(levels), F32(1e-30))
    return np.clip(np.round(v.astype(F32) / step) * step, -bound, bound).astype(F32)


def levels_of(bits: float) -> float:
    return float(np.float32(2.0 ** (bits - 1.0) - 1.0))


def dac(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    if noise["dac_range"] == "per_vector" and op.is_conv:
        p = patches(op, op.x)
        bound = np.abs(p).max(axis=(2, 3), keepdims=True)
        return patch_product(op, quantize(p, bound, levels_of(noise["dac_bits"])))
    if noise["dac_range"] == "per_vector":
        bound = np.abs(op.x).max(axis=op.per_vector_axes, keepdims=True)
    else:
        bound = np.float32(layer.x_absmax)
    return op.run(x=quantize(op.x, bound, levels_of(noise["dac_bits"])))


def weight_levels(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    bound = np.abs(op.w).max(axis=op.contracted, keepdims=True)
    return op.run(w=quantize(op.w, bound, levels_of(noise["weight_bits"])))


def _full_scale(op: OpData, y: np.ndarray) -> np.ndarray:
    """Each input vector's abs-max times each output channel's abs-max (effective) weight,
    laid out like y."""
    x_max = vector_absmax_y(op, y).astype(np.float64)
    if op.weight_name == "B":  # Gemm: effective weights alpha·B, channels on B's axis 0
        alpha = next(a.f for a in op.model.graph.node[0].attribute if a.name == "alpha")
        w_max = abs(alpha) * np.abs(op.w).max(axis=1)
    else:
        w_max = np.abs(op.w).max(axis=op.contracted)
    shape = [1] * y.ndim
    shape[op.channel_axis_y] = -1
    return x_max * w_max.reshape(shape)


def adc(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    y = op.run()
    headroom = noise["adc_headroom"]
    if noise["adc_range"] == "full_scale":  # the analog product; the bias added after
        bias = op.run(x=np.zeros_like(op.x))
        bound = (_full_scale(op, y) * noise["adc_bound"]).astype(F32)
        analog = (y - bias).astype(F32)
        return quantize(analog, bound, levels_of(noise["adc_bits"])) + bias
    if noise["adc_per_channel"]:
        shape = [1] * y.ndim
        shape[op.channel_axis_y] = -1
        bound = (F32(headroom) * np.asarray(layer.y_absmax_channels, F32)).reshape(shape)
    else:
        bound = F32(headroom) * F32(layer.y_absmax)
    return quantize(y, bound, levels_of(noise["adc_bits"]))


def programming(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    amax = np.abs(op.w).max(axis=op.contracted, keepdims=True)
    return op.run(w=op.w + draws["eps_p"] * noise["k_p"] * amax)


def pcm_programming(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    """aihwkit's PCMLikeNoiseModel programming on a single device pair (g_min = 0)."""
    g_max = noise["g_max"]
    if noise["g_scale"] == "channel":
        ratio = g_max / np.maximum(np.abs(op.w).max(axis=op.contracted, keepdims=True), 1e-7)
    else:
        ratio = g_max / max(np.abs(op.w).max(), 1e-7)
    scaled = op.w.astype(np.float64) * ratio
    coeffs = (noise["prog_c0"], noise["prog_c1"], noise["prog_c2"])

    def device(g: np.ndarray, eps: np.ndarray) -> np.ndarray:
        rel = g / g_max
        sigma = (coeffs[0] + coeffs[1] * rel + coeffs[2] * rel**2) * g_max / 25.0
        return np.maximum(g + noise["prog_noise_scale"] * sigma * eps, 0.0)

    pos = device(np.clip(scaled, 0, g_max), draws["eps_g_pos"])
    neg = device(np.clip(-scaled, 0, g_max), draws["eps_g_neg"])
    return op.run(w=(pos - neg) / ratio)


def drift(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    nu = np.maximum(noise["drift_nu"] + noise["drift_nu_std"] * draws["eps_nu"], 0.0)
    ratio = (noise["drift_t"] + noise["drift_t0"]) / noise["drift_t0"]
    drifted = op.w.astype(np.float64) * ratio ** (-nu)
    y = op.run(w=drifted)
    if noise["drift_compensation"]:

        def readout(w: np.ndarray) -> float:
            """aihwkit 1.1's GlobalDriftCompensation: one-hot inputs, mean |output|."""
            return float(np.abs(w).sum())

        y = y * readout(op.w) / readout(drifted)
    return y


Exact = Callable[[OpData, NoiseModel, LayerPlan, Mapping[str, np.ndarray]], np.ndarray]

EXACT: dict[str, Exact] = {
    "dac": dac,
    "levels": weight_levels,
    "adc": adc,
    "programming": programming,
    "pcm_programming": pcm_programming,
    "drift": drift,
}
"""Each static term's exact reference output."""
