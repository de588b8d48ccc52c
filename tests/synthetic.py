"""A model whose optimal per-layer repeats are known in closed form (for the search tests).

Parallel branches ``y_l = c_l · (x @ W_l)`` concatenated. With thermal noise (signal-independent)
and the cosine metric, the expected drop is ``Σ_l a_l / N_l`` with ``a_l`` computable from the
weights, so ``min Σ N_l·MAC_l`` s.t. ``Σ a_l/N_l ≤ B`` has the Lagrange optimum
``N_l = sqrt(a_l/MAC_l) · Σ_k sqrt(a_k·MAC_k) / B``.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

K = 32
WIDTHS = (8, 32, 64, 16)
GAINS = (4.0, 1.0, 0.5, 2.0)
K_T = 0.01


def branches_model(seed: int = 7) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((K, n)).astype(np.float32) / math.sqrt(K) for n in WIDTHS]
    nodes, inits, outs = [], [], []
    for i, (w, c) in enumerate(zip(weights, GAINS, strict=True)):
        inits.append(numpy_helper.from_array(w, f"W{i}"))
        inits.append(numpy_helper.from_array(np.asarray(c, np.float32), f"c{i}"))
        nodes.append(helper.make_node("MatMul", ["x", f"W{i}"], [f"y{i}"], name=f"branch{i}"))
        nodes.append(helper.make_node("Mul", [f"y{i}", f"c{i}"], [f"s{i}"], name=f"gain{i}"))
        outs.append(f"s{i}")
    nodes.append(helper.make_node("Concat", outs, ["out"], axis=1, name="concat"))
    graph = helper.make_graph(
        nodes,
        "branches",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", K])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", sum(WIDTHS)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, weights


def cosine_drop_coefficients(
    weights: list[np.ndarray], x: np.ndarray, r_x: dict[str, float]
) -> dict[str, float]:
    """a_l such that E[1 − cos(y, y + n)] ≈ Σ_l a_l / N_l (thermal noise, e1 = 1).

    To first order 1 − cos ≈ ‖n_⊥‖² / (2‖y‖²); the component of isotropic noise orthogonal to
    y carries (d − 1)/d of its power.
    """
    y = np.concatenate([c * (x @ w) for w, c in zip(weights, GAINS, strict=True)], axis=1).astype(
        np.float64
    )
    d = y.shape[1]
    inv = np.mean(1.0 / (2.0 * (y * y).sum(axis=1)))
    a = {}
    for i, (w, c) in enumerate(zip(weights, GAINS, strict=True)):
        r_w = w.max(axis=0) - w.min(axis=0)
        sigma2 = (K_T * r_w * r_x[f"branch{i}"] * math.sqrt(K)) ** 2
        # Thermal noise is isotropic only within a branch; the (d-1)/d factor is the same
        # first-order correction for each branch's share of the output.
        a[f"branch{i}"] = c * c * float(sigma2.sum()) * inv * (d - 1) / d
    return a


def optimum(
    a: dict[str, float], macs: dict[str, int], budget: float
) -> tuple[dict[str, float], float]:
    """Continuous Lagrange optimum: per-layer N and the energy per MAC it costs (e1 = 1)."""
    s = sum(math.sqrt(a[n] * macs[n]) for n in a)
    repeats = {n: math.sqrt(a[n] / macs[n]) * s / budget for n in a}
    energy = sum(repeats[n] * macs[n] for n in a) / sum(macs.values())
    return repeats, energy
