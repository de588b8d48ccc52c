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
    """Axes of x reduced for one input vector's abs-max (conv: the whole example)."""

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
    x_max = np.abs(op.x).max(axis=op.per_vector_axes, keepdims=True).astype(np.float64)
    if op.weight_name == "B":  # Gemm: effective weights alpha·B, channels on B's axis 0
        alpha = next(a.f for a in op.model.graph.node[0].attribute if a.name == "alpha")
        w_max = abs(alpha) * np.abs(op.w).max(axis=1)
    else:
        w_max = np.abs(op.w).max(axis=op.contracted)
    shape = [1] * y.ndim
    shape[op.channel_axis_y] = -1
    return np.broadcast_to(x_max, y.shape) * w_max.reshape(shape)


def adc(
    op: OpData, noise: NoiseModel, layer: LayerPlan, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    y = op.run()
    headroom = noise["adc_headroom"]
    if noise["adc_range"] == "full_scale":
        bound = (_full_scale(op, y) * noise["adc_bound"]).astype(F32)
    elif noise["adc_per_channel"]:
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
            return float(np.abs(w.sum(axis=op.contracted)).sum())

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
