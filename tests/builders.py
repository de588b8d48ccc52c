"""Small single-op ONNX models (opset 17, dynamic batch dim ``N``) for the tests.

Every builder returns a :class:`Case`: the raw ModelProto (not yet shape-inferred or named), the
name of its matrix-product node, and the per-example shapes of its graph inputs. Weights are
drawn from ``np.random.default_rng(SEED)`` with a different scale per output channel, so that
a per-channel quantity (the range ``r_w,i``) computed over the wrong axis shows up in the tests.

Besides MatMul/Gemm/Conv/ConvTranspose in float32, the cases cover 1-D MatMul operands, Einsum
contractions, grouped ConvTranspose, float16 operands, and an analog op inside an If branch, a
Loop body and a Scan body (the graph output is then the op's output, one slice per iteration,
batch first). The ``*_dynk`` cases contract over a symbolic sequence axis ``S`` (attention's
``softmax(QKᵀ)·V`` exported with dynamic axes): D is known only at run time; their inputs are
fed with ``S = DYN_SEQ`` unless a test picks another length (:func:`with_seq`).
"""

from __future__ import annotations

import copy
import dataclasses
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
    dtype: type = np.float32
    fixed: dict[str, np.ndarray] = field(default_factory=dict)
    scale: float = 1.0

    def feed(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        """Random inputs with ``batch`` examples (plus the case's fixed, unbatched inputs)."""
        feed = {
            name: (self.scale * rng.standard_normal((batch, *shape))).astype(self.dtype)
            for name, shape in self.inputs.items()
        }
        return {**feed, **self.fixed}


def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _weights(gen: np.random.Generator, shape: Sequence[int], channel_axis: int) -> np.ndarray:
    """Normal weights, output channel c scaled by a different factor in [0.5, 2]."""
    w = gen.standard_normal(tuple(shape))
    scale_shape = [1] * len(shape)
    scale_shape[channel_axis] = shape[channel_axis]
    scales = np.linspace(0.5, 2.0, shape[channel_axis]).reshape(scale_shape)
    return (w * scales).astype(np.float32)


def _vi(
    name: str, shape: Sequence[int | str] | None, dtype: int = TensorProto.FLOAT
) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


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


def conv_transpose2d_group(*, group: int = 2, per_group: int = 3, c_in: int = 4) -> Case:
    """Grouped ConvTranspose x [N, C_in, 4, 4], W [C_in, C_out/G, 3, 3], stride 2, pad 1 -> 7x7.
    Output channel g·C_out/G + o is fed by group g's input channels only."""
    gen = rng()
    k, s, p = 3, 2, 1
    w = _weights(gen, (c_in, per_group, k, k), channel_axis=1)
    b = gen.standard_normal(per_group * group).astype(np.float32)
    out = conv_transpose_out(4, k, s, p, p, 0, 1)
    node = helper.make_node(
        "ConvTranspose",
        ["x", "W", "B"],
        ["y"],
        name=LAYER,
        group=group,
        kernel_shape=[k, k],
        strides=[s, s],
        pads=[p, p, p, p],
    )
    model = make_model(
        [node],
        [_vi("x", [BATCH, c_in, 4, 4])],
        [_vi("y", [BATCH, per_group * group, out, out])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    name = "conv_transpose2d_depthwise" if group == c_in else "conv_transpose2d_group"
    return Case(name, model, inputs={"x": (c_in, 4, 4)})


# -- 1-D MatMul operands -----------------------------------------------------------------------
def matvec(k: int = 16) -> Case:
    """x [N, 3, K] @ v [K] -> y [N, 3]: a 1-D second operand (one output channel)."""
    v = (rng().standard_normal(k) * 1.5).astype(np.float32)
    node = helper.make_node("MatMul", ["x", "v"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("x", [BATCH, 3, k])],
        [_vi("y", [BATCH, 3])],
        [numpy_helper.from_array(v, "v")],
    )
    return Case("matvec", model, inputs={"x": (3, k)})


def vecmat(k: int = 12, n: int = 5) -> Case:
    """c [K] @ w [N, K, n] -> y [N, n]: a constant 1-D first operand, the activation plays w."""
    c = rng().standard_normal(k).astype(np.float32)
    node = helper.make_node("MatMul", ["c", "w"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("w", [BATCH, k, n])],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(c, "c")],
    )
    return Case("vecmat", model, inputs={"w": (k, n)}, constant_weight=False)


# -- Einsum contractions -----------------------------------------------------------------------
def einsum(
    name: str,
    equation: str,
    x: tuple[int, ...],
    w: tuple[int, ...],
    out: tuple[int, ...],
    *,
    constant_w: bool = False,
    channel_axis: int = -1,
) -> Case:
    """Einsum of x [N, *x] (batch first) with w: an activation [N, *w], or a constant [*w]."""
    node = helper.make_node("Einsum", ["x", "w"], ["y"], name=LAYER, equation=equation)
    inits = []
    inputs = [_vi("x", [BATCH, *x])]
    case_inputs = {"x": x}
    if constant_w:
        inits.append(numpy_helper.from_array(_weights(rng(), w, channel_axis), "w"))
    else:
        inputs.append(_vi("w", [BATCH, *w]))
        case_inputs["w"] = w
    model = make_model(
        inputs=inputs, nodes=[node], outputs=[_vi("y", [BATCH, *out])], initializers=inits
    )
    return Case(name, model, inputs=case_inputs, constant_weight=constant_w)


EINSUMS: dict[str, Callable[[], Case]] = {
    # batched matrix product, both operands activations
    "einsum_bmm": lambda: einsum("einsum_bmm", "bij,bjk->bik", (4, 6), (6, 5), (4, 5)),
    # attention scores Q·Kᵀ over heads
    "einsum_attention": lambda: einsum(
        "einsum_attention", "bhqd,bhkd->bhqk", (2, 3, 8), (2, 4, 8), (2, 3, 4)
    ),
    # projection with a constant weight
    "einsum_projection": lambda: einsum(
        "einsum_projection", "bsd,df->bsf", (3, 8), (8, 5), (3, 5), constant_w=True
    ),
    # ellipsis, constant weight
    "einsum_ellipsis": lambda: einsum(
        "einsum_ellipsis", "...ij,jk->...ik", (2, 3, 6), (6, 4), (2, 3, 4), constant_w=True
    ),
    # output axes in another order than the operands'
    "einsum_permuted": lambda: einsum("einsum_permuted", "bij,bkj->bki", (3, 6), (4, 6), (4, 3)),
}


# -- contraction length known only at run time ---------------------------------------------------
SEQ = "S"
DYN_SEQ = 5
"""The sequence length the ``*_dynk`` cases are fed with (the models leave it symbolic)."""


def with_seq(case: Case, seq: int) -> Case:
    """``case`` fed with sequence length ``seq``: every per-example dim equal to the case's
    ``DYN_SEQ`` is a sequence dim in these builders (their other sizes differ from it)."""
    inputs = {n: tuple(seq if d == DYN_SEQ else d for d in s) for n, s in case.inputs.items()}
    return dataclasses.replace(case, inputs=inputs)


def matmul_attention_dynk(heads: int = 2, d: int = 4, *, dtype: type = np.float32) -> Case:
    """Attention's context product a [N, H, S, S] @ v [N, H, S, d] (both activations, v plays
    w) with S symbolic: K = S is not static after shape inference. float16, float64 and
    bfloat16 (``ml_dtypes.bfloat16``; onnxruntime has no CPU bfloat16 MatMul) too."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("MatMul", ["a", "v"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("a", [BATCH, heads, SEQ, SEQ], elem), _vi("v", [BATCH, heads, SEQ, d], elem)],
        [_vi("y", [BATCH, heads, SEQ, d], elem)],
    )
    suffix = {"float32": "", "float16": "_f16", "float64": "_f64", "bfloat16": "_bf16"}
    name = "matmul_attention_dynk" + suffix[np.dtype(dtype).name]
    return Case(
        name,
        model,
        inputs={"a": (heads, DYN_SEQ, DYN_SEQ), "v": (heads, DYN_SEQ, d)},
        constant_weight=False,
        dtype=dtype,
    )


def matmul_act_dynk(m: int = 3, n: int = 4) -> Case:
    """a [N, M, S] @ b [N, S, n] with S symbolic: K = S (a rectangular dynamic-K MatMul)."""
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("a", [BATCH, m, SEQ]), _vi("b", [BATCH, SEQ, n])],
        [_vi("y", [BATCH, m, n])],
    )
    inputs = {"a": (m, DYN_SEQ), "b": (DYN_SEQ, n)}
    return Case("matmul_act_dynk", model, inputs=inputs, constant_weight=False)


def einsum_dynk(
    name: str,
    equation: str,
    x: Sequence[int | str],
    w: Sequence[int | str],
    out: Sequence[int | str],
) -> Case:
    """Einsum of activations x [N, *x] and w [N, *w]; ``SEQ`` marks the symbolic dims."""
    node = helper.make_node("Einsum", ["x", "w"], ["y"], name=LAYER, equation=equation)
    model = make_model(
        [node],
        [_vi("x", [BATCH, *x]), _vi("w", [BATCH, *w])],
        [_vi("y", [BATCH, *out])],
    )

    def fed(dims: Sequence[int | str]) -> tuple[int, ...]:
        return tuple(DYN_SEQ if d == SEQ else int(d) for d in dims)

    return Case(name, model, inputs={"x": fed(x), "w": fed(w)}, constant_weight=False)


# -- float16 operands ---------------------------------------------------------------------------
def matmul_f16(k: int = 16, n: int = 8, *, dtype: type = np.float16) -> Case:
    """x [N, 4, K] @ W [K, n] in float16 (or float64): the product in that type, the noise
    computed in float32 and cast back."""
    w = _weights(rng(), (k, n), channel_axis=1).astype(dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name=LAYER)
    model = make_model(
        [node],
        [_vi("x", [BATCH, 4, k], elem)],
        [_vi("y", [BATCH, 4, n], elem)],
        [numpy_helper.from_array(w, "W")],
    )
    name = "matmul_f16" if dtype == np.float16 else "matmul_f64"
    return Case(name, model, inputs={"x": (4, k)}, dtype=dtype)


def matmul_f16_tiny(k: int = 16, n: int = 8) -> Case:
    """``matmul_f16`` with weights scaled by 3e-3 and inputs by 5e-3: the shot variance
    ‖x‖²·‖w‖²/D (~5e-9) is below float16's smallest subnormal (6e-8)."""
    case = matmul_f16(k, n)
    model = copy.deepcopy(case.model)
    for t in model.graph.initializer:
        small = (numpy_helper.to_array(t).astype(np.float32) * 3e-3).astype(np.float16)
        t.CopyFrom(numpy_helper.from_array(small, t.name))
    return Case("matmul_f16_tiny", model, inputs=case.inputs, dtype=np.float16, scale=5e-3)


def conv2d_f16() -> Case:
    """``conv2d_group`` in float16."""
    case = conv2d_group()
    model = copy.deepcopy(case.model)
    for t in model.graph.initializer:
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for vi in (*model.graph.input, *model.graph.output):
        vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(model, full_check=True)
    return Case("conv2d_f16", model, inputs=case.inputs, dtype=np.float16)


# -- analog ops inside subgraphs ---------------------------------------------------------------
def if_matmul(k: int = 16, n: int = 8) -> Case:
    """If(cond) { x @ W } else { x @ W2 }: the then branch runs (cond is fed True)."""
    gen = rng()
    w_then = _weights(gen, (k, n), channel_axis=1)
    w_else = _weights(gen, (k, n), channel_axis=1)
    then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y_then"], name=LAYER)],
        "then",
        [],
        [_vi("y_then", [BATCH, n])],
    )
    other = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W_else"], ["y_else"], name="else_layer")],
        "else",
        [],
        [_vi("y_else", [BATCH, n])],
    )
    node = helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then, else_branch=other)
    model = make_model(
        [node],
        [_typed("cond", TensorProto.BOOL, []), _vi("x", [BATCH, k])],
        [_vi("y", [BATCH, n])],
        [numpy_helper.from_array(w_then, "W"), numpy_helper.from_array(w_else, "W_else")],
    )
    return Case("if_matmul", model, inputs={"x": (k,)}, fixed={"cond": np.array(True)})


LOOP_TRIPS = 3


def loop_matmul(k: int = 16, n: int = 8) -> Case:
    """A Loop of LOOP_TRIPS iterations whose body computes x @ W (a scan output, one slice per
    iteration, each with its own noise); the output is transposed to [N, trips, n]."""
    w = _weights(rng(), (k, n), channel_axis=1)
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop_cond"),
            helper.make_node("MatMul", ["x", "W"], ["step"], name=LAYER),
        ],
        "body",
        [_typed("i", TensorProto.INT64, []), _typed("cond_in", TensorProto.BOOL, [])],
        [_typed("cond_out", TensorProto.BOOL, []), _vi("step", [BATCH, n])],
    )
    nodes = [
        helper.make_node("Loop", ["trips", ""], ["steps"], name="loop", body=body),
        helper.make_node("Transpose", ["steps"], ["y"], name="to_batch_first", perm=[1, 0, 2]),
    ]
    model = make_model(
        nodes,
        [_vi("x", [BATCH, k])],
        [_vi("y", [BATCH, LOOP_TRIPS, n])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.asarray(LOOP_TRIPS, np.int64), "trips"),
        ],
    )
    return Case("loop_matmul", model, inputs={"x": (k,)})


def loop_attention_dynk(heads: int = 2, d: int = 4) -> Case:
    """A Loop of LOOP_TRIPS iterations whose body computes ``matmul_attention_dynk``'s
    a @ v on outer-scope operands (K = S symbolic; draws from a pool in the simulation graph);
    the output is transposed to [N, trips, H, S, d]."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop_cond"),
            helper.make_node("MatMul", ["a", "v"], ["step"], name=LAYER),
        ],
        "body",
        [_typed("i", TensorProto.INT64, []), _typed("cond_in", TensorProto.BOOL, [])],
        [_typed("cond_out", TensorProto.BOOL, []), _vi("step", [BATCH, heads, SEQ, d])],
    )
    nodes = [
        helper.make_node("Loop", ["trips", ""], ["steps"], name="loop", body=body),
        helper.make_node(
            "Transpose", ["steps"], ["y"], name="to_batch_first", perm=[1, 0, 2, 3, 4]
        ),
    ]
    model = make_model(
        nodes,
        [_vi("a", [BATCH, heads, SEQ, SEQ]), _vi("v", [BATCH, heads, SEQ, d])],
        [_vi("y", [BATCH, LOOP_TRIPS, heads, SEQ, d])],
        [numpy_helper.from_array(np.asarray(LOOP_TRIPS, np.int64), "trips")],
    )
    inputs = {"a": (heads, DYN_SEQ, DYN_SEQ), "v": (heads, DYN_SEQ, d)}
    return Case("loop_attention_dynk", model, inputs=inputs, constant_weight=False)


def scan_matmul(steps: int = 5, k: int = 12, n: int = 6) -> Case:
    """Scan over axis 1 of xs [N, steps, K]: each step computes xs[:, t] @ W, stacked on axis 1
    of the output [N, steps, n]; a running sum is the Scan's state."""
    w = _weights(rng(), (k, n), channel_axis=1)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["xt", "W"], ["step"], name=LAYER),
            helper.make_node("Add", ["acc", "step"], ["acc_next"], name="accumulate"),
        ],
        "body",
        [_vi("acc", [BATCH, n]), _vi("xt", [BATCH, k])],
        [_vi("acc_next", [BATCH, n]), _vi("step", [BATCH, n])],
    )
    node = helper.make_node(
        "Scan",
        ["acc0", "xs"],
        ["total", "y"],
        name="scan",
        body=body,
        num_scan_inputs=1,
        scan_input_axes=[1],
        scan_output_axes=[1],
    )
    model = make_model(
        [node],
        [_vi("acc0", [BATCH, n]), _vi("xs", [BATCH, steps, k])],
        [_vi("total", [BATCH, n]), _vi("y", [BATCH, steps, n])],
        [numpy_helper.from_array(w, "W")],
    )
    # The layer's output is the model's second output: put it first for the tests.
    outputs = list(model.graph.output)
    del model.graph.output[:]
    model.graph.output.extend([outputs[1], outputs[0]])
    return Case("scan_matmul", model, inputs={"acc0": (n,), "xs": (steps, k)})


DYNK: dict[str, Callable[[], Case]] = {
    "matmul_attention_dynk": matmul_attention_dynk,
    "matmul_attention_dynk_f16": lambda: matmul_attention_dynk(dtype=np.float16),
    "matmul_attention_dynk_f64": lambda: matmul_attention_dynk(dtype=np.float64),
    # a [N, 3, S] @ b [N, S, 4]: K = S is a's last axis only (its other axes are not S)
    "matmul_act_dynk": matmul_act_dynk,
    # softmax(QKᵀ)·V as an Einsum: k (the key position) contracted, S symbolic
    "einsum_attention_dynk": lambda: einsum_dynk(
        "einsum_attention_dynk", "bhqk,bhkd->bhqd", (2, SEQ, SEQ), (2, SEQ, 4), (2, SEQ, 4)
    ),
    # two contracted indices, in another order in w than in x; i (size S) symbolic
    "einsum_two_dynk": lambda: einsum_dynk(
        "einsum_two_dynk", "bij,bjik->bk", (SEQ, 3), (3, SEQ, 4), (4,)
    ),
    "loop_attention_dynk": loop_attention_dynk,
}


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
    "conv_transpose2d_group": conv_transpose2d_group,
    "conv_transpose2d_depthwise": lambda: conv_transpose2d_group(group=4, per_group=2),
    "matvec": matvec,
    "vecmat": vecmat,
    **EINSUMS,
    "matmul_f16": matmul_f16,
    "conv2d_f16": conv2d_f16,
    "matmul_f64": lambda: matmul_f16(dtype=np.float64),
    "if_matmul": if_matmul,
    "loop_matmul": loop_matmul,
    "scan_matmul": scan_matmul,
    **DYNK,
}
"""Every single-layer builder, by case name."""


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


def einsum_diagonal_model() -> onnx.ModelProto:
    """Einsum 'ii,ij->j': the first operand's diagonal (stays digital)."""
    node = helper.make_node("Einsum", ["a", "b"], ["y"], name="diag", equation="ii,ij->j")
    return make_model([node], [_vi("a", [4, 4]), _vi("b", [4, 5])], [_vi("y", [5])])


def einsum_three_model() -> onnx.ModelProto:
    """Einsum 'ij,jk,kl->il' over three operands (stays digital)."""
    node = helper.make_node("Einsum", ["a", "b", "c"], ["y"], name="chain", equation="ij,jk,kl->il")
    inputs = [_vi("a", [2, 3]), _vi("b", [3, 4]), _vi("c", [4, 5])]
    return make_model([node], inputs, [_vi("y", [2, 5])])


def matmul_int_model(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """An int32 MatMul (stays digital: integer operands)."""
    w = numpy_helper.from_array(np.ones((k, n), np.int32), "W")
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="int")
    return make_model(
        [node],
        [_typed("x", TensorProto.INT32, [BATCH, k])],
        [_typed("y", TensorProto.INT32, [BATCH, n])],
        [w],
    )


def _counted_loop(
    name: str, trips: str, nodes: list[onnx.NodeProto], out: str, shape
) -> onnx.NodeProto:
    """A Loop running ``trips`` times whose body stacks ``out`` (a scan output)."""
    body = helper.make_graph(
        [helper.make_node("Identity", [f"{name}_c"], [f"{name}_c2"], name=f"{name}_cond"), *nodes],
        f"{name}_body",
        [_typed(f"{name}_i", TensorProto.INT64, []), _typed(f"{name}_c", TensorProto.BOOL, [])],
        [_typed(f"{name}_c2", TensorProto.BOOL, []), _vi(out, shape)],
    )
    return helper.make_node("Loop", [trips, ""], [f"{name}_out"], name=name, body=body)


def nested_loop_model(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """A Loop (3 trips) in a Loop (2 trips) computing x @ W: stays digital (nested loops)."""
    w = _weights(rng(), (k, n), channel_axis=1)
    inner = _counted_loop(
        "inner", "two", [helper.make_node("MatMul", ["x", "W"], ["p"], name="mm")], "p", [BATCH, n]
    )
    outer = _counted_loop("outer", "three", [inner], "inner_out", [2, BATCH, n])
    return make_model(
        [outer],
        [_vi("x", [BATCH, k])],
        [_vi("outer_out", [3, 2, BATCH, n])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.asarray(2, np.int64), "two"),
            numpy_helper.from_array(np.asarray(3, np.int64), "three"),
        ],
    )


def if_in_loop_model(k: int = 16, n: int = 8) -> onnx.ModelProto:
    """A Loop (3 trips) whose body holds If(cond) { x @ W } else { x }: stays digital."""
    w = _weights(rng(), (k, k), channel_axis=1)
    then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["t"], name="mm")],
        "then",
        [],
        [_vi("t", [BATCH, k])],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"], name="keep")],
        "else",
        [],
        [_vi("e", [BATCH, k])],
    )
    branch = helper.make_node("If", ["cond"], ["r"], name="if", then_branch=then, else_branch=other)
    loop = _counted_loop("loop", "three", [branch], "r", [BATCH, k])
    return make_model(
        [loop],
        [_typed("cond", TensorProto.BOOL, []), _vi("x", [BATCH, k])],
        [_vi("loop_out", [3, BATCH, k])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.asarray(3, np.int64), "three"),
        ],
    )


def local_function_model(k: int = 16) -> onnx.ModelProto:
    """Linear(X, W) = Relu(X @ W), a model-local function, called twice."""
    gen = rng()
    linear = helper.make_function(
        "tests.lib",
        "Linear",
        ["X", "W"],
        ["Y"],
        [helper.make_node("MatMul", ["X", "W"], ["P"]), helper.make_node("Relu", ["P"], ["Y"])],
        [helper.make_opsetid("", OPSET)],
    )
    nodes = [
        helper.make_node("Linear", ["x", "W1"], ["h"], name="first", domain="tests.lib"),
        helper.make_node("Linear", ["h", "W2"], ["y"], name="second", domain="tests.lib"),
    ]
    graph = helper.make_graph(
        nodes,
        "functions",
        [_vi("x", [BATCH, k])],
        [_vi("y", [BATCH, 4])],
        [
            numpy_helper.from_array(_weights(gen, (k, k), 1), "W1"),
            numpy_helper.from_array(_weights(gen, (k, 4), 1), "W2"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("tests.lib", 1)],
        functions=[linear],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
