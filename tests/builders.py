"""Small single-op ONNX models (float32, opset 17, dynamic batch dim ``N``) for the tests.

Every builder returns a :class:`Case`: the raw ModelProto (not yet shape-inferred or named), the
name of its matrix-product node, and the per-example shapes of its graph inputs. Weights are
drawn from ``np.random.default_rng(SEED)`` with a different scale per output channel, so that
a per-channel quantity (the range ``r_w,i``) computed over the wrong axis shows up in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261126
OPSET = 17
BATCH = "N"
LAYER = "layer"


@dataclass(frozen=True)
class Case:
    """One test model.

    Attributes:
        name: short id used in test ids.
        model: the ModelProto as built (run ``prepare`` before discovery or annotation).
        layer: name of the matrix-product node.
        inputs: graph input name -> per-example shape (batch dim excluded).
        constant_weight: True when the second operand is an initializer.
    """

    name: str
    model: onnx.ModelProto
    layer: str = LAYER
    inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    constant_weight: bool = True

    def feed(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        """Random float32 inputs with ``batch`` examples."""
        return {
            name: rng.standard_normal((batch, *shape)).astype(np.float32)
            for name, shape in self.inputs.items()
        }


def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _weights(gen: np.random.Generator, shape: Sequence[int], channel_axis: int) -> np.ndarray:
    """Normal weights, output channel c scaled by a different factor in [0.5, 2]."""
    w = gen.standard_normal(tuple(shape))
    scale_shape = [1] * len(shape)
    scale_shape[channel_axis] = shape[channel_axis]
    scales = np.linspace(0.5, 2.0, shape[channel_axis]).reshape(scale_shape)
    return (w * scales).astype(np.float32)


def _vi(name: str, shape: Sequence[int | str] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    *,
    opset: int = OPSET,
    name: str = "test",
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="analogc-tests"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def conv_out(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dil: int) -> int:
    return (size + pad_begin + pad_end - ((kernel - 1) * dil + 1)) // stride + 1


def conv_transpose_out(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, out_pad: int, dil: int
) -> int:
    return (size - 1) * stride + out_pad + (kernel - 1) * dil + 1 - pad_begin - pad_end


# -- MatMul ------------------------------------------------------------------------------------
def matmul(k: int = 16, n: int = 8, *, name: str = "matmul") -> Case:
    """x [N, K] @ W [K, n] (W an initializer)."""
    w = _weights(rng(), (k, n), channel_axis=1)
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("x", [BATCH, k])],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(w, "W")],
    )
    return Case(name, model, inputs={"x": (k,)})


def matmul_batched(m: int = 4, k: int = 16, n: int = 8) -> Case:
    """x [N, M, K] @ W [K, n]."""
    w = _weights(rng(), (k, n), channel_axis=1)
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("x", [BATCH, m, k])],
        [_vi("y", [BATCH, m, n])],
        [numpy_helper.from_array(w, "W")],
    )
    return Case("matmul_batched", model, inputs={"x": (m, k)})


def matmul_act(m: int = 4, k: int = 12, n: int = 5) -> Case:
    """a [N, M, K] @ b [N, K, n]: both operands are activations (b plays w)."""
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("a", [BATCH, m, k]), _vi("b", [BATCH, k, n])],
        [_vi("y", [BATCH, m, n])],
    )
    return Case("matmul_act", model, inputs={"a": (m, k), "b": (k, n)}, constant_weight=False)


# -- Gemm --------------------------------------------------------------------------------------
def gemm(k: int = 16, n: int = 8, *, alpha: float = 1.5, beta: float = 0.5) -> Case:
    """alpha · x [N, K] @ B[n, K]ᵀ + beta · C[n] (transB = 1)."""
    gen = rng()
    b = _weights(gen, (n, k), channel_axis=0)
    c = gen.standard_normal(n).astype(np.float32)
    node = helper.make_node(
        "Gemm", ["x", "B", "C"], ["y"], name=LAYER, alpha=alpha, beta=beta, transB=1
    )
    model = make_model(
        [node],
        [_vi("x", [BATCH, k])],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(b, "B"), numpy_helper.from_array(c, "C")],
    )
    name = "gemm" if alpha > 0 else "gemm_neg_alpha"
    return Case(name, model, inputs={"x": (k,)})


# -- Conv --------------------------------------------------------------------------------------
def conv(
    name: str,
    *,
    c_in: int,
    c_out: int,
    group: int,
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int] | None = None,
    bias: bool = True,
    dynamic_spatial: bool = False,
) -> Case:
    """Conv x [N, c_in, *spatial] with W [c_out, c_in/group, *kernel]; with
    ``dynamic_spatial`` the spatial dims are symbols, unknown until run time."""
    nd = len(spatial)
    dilations = list(dilations or [1] * nd)
    gen = rng()
    w = _weights(gen, (c_out, c_in // group, *kernel), channel_axis=0)
    inits = [numpy_helper.from_array(w, "W")]
    inputs = ["x", "W"]
    if bias:
        inits.append(numpy_helper.from_array(gen.standard_normal(c_out).astype(np.float32), "B"))
        inputs.append("B")
    out = [
        conv_out(spatial[i], kernel[i], strides[i], pads[i], pads[i + nd], dilations[i])
        for i in range(nd)
    ]
    node = helper.make_node(
        "Conv",
        inputs,
        ["y"],
        name=LAYER,
        group=group,
        kernel_shape=list(kernel),
        strides=list(strides),
        pads=list(pads),
        dilations=dilations,
    )
    in_shape: list[int | str] = [BATCH, c_in, *spatial]
    out_shape: list[int | str] = [BATCH, c_out, *out]
    if dynamic_spatial:
        in_shape = [BATCH, c_in, *(f"S{i}" for i in range(nd))]
        out_shape = [BATCH, c_out, *(f"O{i}" for i in range(nd))]
    model = make_model([node], [_vi("x", in_shape)], [_vi("y", out_shape)], inits)
    return Case(name, model, inputs={"x": (c_in, *spatial)})


def conv2d() -> Case:
    """Plain 2-D conv, 3x3, stride 2, pad 1, 7x7 -> 4x4 (both edges are borders), with bias."""
    return conv(
        "conv2d",
        c_in=3,
        c_out=4,
        group=1,
        spatial=(7, 7),
        kernel=(3, 3),
        strides=(2, 2),
        pads=(1, 1, 1, 1),
    )


def conv2d_group() -> Case:
    """Grouped conv, 1 < G=2 < C_out=6, no bias."""
    return conv(
        "conv2d_group",
        c_in=4,
        c_out=6,
        group=2,
        spatial=(7, 7),
        kernel=(3, 3),
        strides=(2, 2),
        pads=(1, 1, 1, 1),
        bias=False,
    )


def conv2d_group_dynamic() -> Case:
    """``conv2d_group`` with input [N, 4, S0, S1]: the border maps come from Shape(x)."""
    return conv(
        "conv2d_group_dynamic",
        c_in=4,
        c_out=6,
        group=2,
        spatial=(7, 7),
        kernel=(3, 3),
        strides=(2, 2),
        pads=(1, 1, 1, 1),
        bias=False,
        dynamic_spatial=True,
    )


def conv2d_depthwise(multiplier: int = 1) -> Case:
    """Depthwise conv (group = C_in = 4), channel multiplier 1 or 2."""
    return conv(
        "conv2d_depthwise" if multiplier == 1 else f"conv2d_depthwise_x{multiplier}",
        c_in=4,
        c_out=4 * multiplier,
        group=4,
        spatial=(7, 7),
        kernel=(3, 3),
        strides=(2, 2),
        pads=(1, 1, 1, 1),
    )


def conv1d() -> Case:
    """1-D conv, kernel 3, dilation 2, asymmetric pads (2, 1), 10 -> 9."""
    return conv(
        "conv1d",
        c_in=3,
        c_out=5,
        group=1,
        spatial=(10,),
        kernel=(3,),
        strides=(1,),
        pads=(2, 1),
        dilations=(2,),
    )


def conv_transpose2d(*, output_padding: int = 0, dynamic_spatial: bool = False) -> Case:
    """ConvTranspose x [N, 3, 4, 4], W [3, 2, 3, 3], stride 2, pad 1 -> 7x7 (8x8 with
    output_padding 1). Some products fall in the cropped padding, so the average fan-in
    MACs / output elements (54·16/(2·49) = 8.82) differs from C_in·prod(k)/prod(strides) = 6.75.
    """
    gen = rng()
    c_in, c_out, k, s, p, op = 3, 2, 3, 2, 1, output_padding
    w = _weights(gen, (c_in, c_out, k, k), channel_axis=1)
    b = gen.standard_normal(c_out).astype(np.float32)
    out = conv_transpose_out(4, k, s, p, p, op, 1)
    attrs: dict[str, object] = {"kernel_shape": [k, k], "strides": [s, s], "pads": [p, p, p, p]}
    if op:
        attrs["output_padding"] = [op, op]
    node = helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name=LAYER, **attrs)
    in_shape: list[int | str] = [BATCH, c_in, 4, 4]
    out_shape: list[int | str] = [BATCH, c_out, out, out]
    if dynamic_spatial:
        in_shape, out_shape = [BATCH, c_in, "H", "W"], [BATCH, c_out, "H_out", "W_out"]
    model = make_model(
        [node],
        [_vi("x", in_shape)],
        [_vi("y", out_shape)],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    name = "conv_transpose2d" + ("_outpad" if op else "") + ("_dynamic" if dynamic_spatial else "")
    return Case(name, model, inputs={"x": (c_in, 4, 4)})


CASES: dict[str, Callable[[], Case]] = {
    "matmul": matmul,
    "matmul_batched": matmul_batched,
    "matmul_act": matmul_act,
    "gemm": gemm,
    "gemm_neg_alpha": lambda: gemm(alpha=-0.75, beta=2.0),
    "conv2d": conv2d,
    "conv2d_group": conv2d_group,
    "conv2d_depthwise": conv2d_depthwise,
    "conv2d_depthwise_x2": lambda: conv2d_depthwise(2),
    "conv1d": conv1d,
    "conv_transpose2d": conv_transpose2d,
    "conv_transpose2d_outpad": lambda: conv_transpose2d(output_padding=1),
}
"""Every single-op builder, by case name."""


# -- multi-layer and digital-op models ---------------------------------------------------------
def parallel_matmuls(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """x -> MatMul(W) -> y1 and x -> MatMul(W) -> y2: two analog layers with the same weight."""
    w = _weights(rng(), (k, n), channel_axis=1)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["y1"], name="first"),
        helper.make_node("MatMul", ["x", "W"], ["y2"], name="second"),
    ]
    return make_model(
        nodes,
        [_vi("x", [BATCH, k])],
        [_vi("y1", [BATCH, n]), _vi("y2", [BATCH, n])],
        [numpy_helper.from_array(w, "W")],
    )


def chain_matmuls(k: int = 16) -> onnx.ModelProto:
    """x -> MatMul(W1) -> Relu -> MatMul(W2) -> y, unnamed nodes."""
    gen = rng()
    w1 = _weights(gen, (k, k), channel_axis=1)
    w2 = _weights(gen, (k, 4), channel_axis=1)
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "W2"], ["y"]),
    ]
    return make_model(
        nodes,
        [_vi("x", [BATCH, k])],
        [_vi("y", [BATCH, 4])],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")],
    )


def prod(values: Sequence[int]) -> int:
    return math.prod(values)


def _typed(name: str, dtype: int, shape: Sequence[int | str] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def einsum_model() -> onnx.ModelProto:
    """Einsum 'bij,jk->bik' with a constant right operand."""
    w = _weights(rng(), (16, 8), channel_axis=1)
    node = helper.make_node("Einsum", ["x", "W"], ["y"], name="einsum", equation="bij,jk->bik")
    return make_model(
        [node],
        [_vi("x", [BATCH, 4, 16])],
        [_vi("y", [BATCH, 4, 8])],
        [numpy_helper.from_array(w, "W")],
    )


def lstm_model(seq: int = 5, features: int = 8, hidden: int = 6) -> onnx.ModelProto:
    gen = rng()
    w = gen.standard_normal((1, 4 * hidden, features)).astype(np.float32)
    r = gen.standard_normal((1, 4 * hidden, hidden)).astype(np.float32)
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm", hidden_size=hidden)
    return make_model(
        [node],
        [_vi("x", [seq, BATCH, features])],
        [_vi("y", [seq, 1, BATCH, hidden])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")],
    )


def if_model(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """If(cond) with a MatMul in each branch (outer-scope weights)."""
    gen = rng()
    w_then = _weights(gen, (k, n), channel_axis=1)
    w_else = _weights(gen, (k, n), channel_axis=1)
    branches = {}
    for label in ("then", "else"):
        branches[label] = helper.make_graph(
            [helper.make_node("MatMul", ["x", f"W_{label}"], [f"{label}_y"], name=f"mm_{label}")],
            f"{label}_branch",
            [],
            [_vi(f"{label}_y", [BATCH, n])],
        )
    node = helper.make_node(
        "If",
        ["cond"],
        ["y"],
        name="if",
        then_branch=branches["then"],
        else_branch=branches["else"],
    )
    return make_model(
        [node],
        [_typed("cond", TensorProto.BOOL, []), _vi("x", [BATCH, k])],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(w_then, "W_then"), numpy_helper.from_array(w_else, "W_else")],
    )


def loop_model(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """Loop accumulating x @ W over trip_count iterations (MatMul in the body)."""
    w = _weights(rng(), (k, n), channel_axis=1)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["prod"], name="mm_body"),
            helper.make_node("Add", ["acc_in", "prod"], ["acc_out"], name="add_body"),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="id_body"),
        ],
        "body",
        [
            _typed("iter", TensorProto.INT64, []),
            _typed("cond_in", TensorProto.BOOL, []),
            _vi("acc_in", [BATCH, n]),
        ],
        [_typed("cond_out", TensorProto.BOOL, []), _vi("acc_out", [BATCH, n])],
    )
    node = helper.make_node("Loop", ["trips", "", "acc0"], ["y"], name="loop", body=body)
    return make_model(
        [node],
        [
            _typed("trips", TensorProto.INT64, []),
            _vi("x", [BATCH, k]),
            _vi("acc0", [BATCH, n]),
        ],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(w, "W")],
    )


def matmul_1d(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """x [K] @ W [K, n]: a 1-D left operand."""
    w = _weights(rng(), (k, n), channel_axis=1)
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="vec")
    return make_model([node], [_vi("x", [k])], [_vi("y", [n])], [numpy_helper.from_array(w, "W")])


def matmul_fp16(k: int = 16, n: int = 8) -> onnx.ModelProto:
    w = _weights(rng(), (k, n), channel_axis=1).astype(np.float16)
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="half")
    return make_model(
        [node],
        [_typed("x", TensorProto.FLOAT16, [BATCH, k])],
        [_typed("y", TensorProto.FLOAT16, [BATCH, n])],
        [numpy_helper.from_array(w, "W")],
    )


def matmul_constant_node(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """The weight comes from a Constant node rather than an initializer."""
    w = _weights(rng(), (k, n), channel_axis=1)
    nodes = [
        helper.make_node("Constant", [], ["W"], name="w", value=numpy_helper.from_array(w)),
        helper.make_node("MatMul", ["x", "W"], ["y"], name=LAYER),
    ]
    return make_model(nodes, [_vi("x", [BATCH, k])], [_vi("y", [BATCH, n])])


def grouped_conv_transpose() -> onnx.ModelProto:
    w = _weights(rng(), (4, 1, 3, 3), channel_axis=0)
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="convt_g", group=2)
    return make_model(
        [node],
        [_vi("x", [BATCH, 4, 5, 5])],
        [_vi("y", [BATCH, 2, 7, 7])],
        [numpy_helper.from_array(w, "W")],
    )
