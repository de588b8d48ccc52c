"""A compatibility corpus, built here from onnx.helper (no downloads, no exporters).

Each :class:`Entry` is a small model standing for one shape exported models come in (issue 5,
item 1): opsets 7 to the newest onnx knows and IR versions 3 up, external data, a weight over
2 GB, dynamic dimensions, every MatMul/Gemm/Conv/ConvTranspose/Einsum form, analog ops inside
If/Loop/Scan bodies, float16/bfloat16/float64, ai.onnx.ml and com.microsoft ops elsewhere in the
graph, LSTM/GRU/RNN in their variants (expanded, analog), attention, fused and quantized ops.
Each entry states, counted by hand here (independently of analogc's own counting), the MACs
per example analogc must report as analog and as digital, so that ``analogc inspect`` is
checked to account for every MAC.

Batch dimensions are the symbol ``N``; MACs are per example (N = 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
N = "N"
SEED = 20261126
MAX_OPSET = onnx.defs.onnx_opset_version()
MAX_IR = onnx.IR_VERSION


@dataclass(frozen=True)
class Entry:
    """One corpus model and what analogc must find in it.

    Attributes:
        name: test id.
        build: makes the ModelProto.
        inputs: graph input -> (shape with ``N`` for the batch, numpy dtype).
        analog: MACs per example that must run analog.
        digital: MACs per example that stay digital (each with a reason).
        unknown: ops whose MACs depend on run-time shapes (not counted in the two above).
        analog_ops: how many ops run analog.
        runner: ``ort`` (stock onnxruntime runs original and annotated model), ``reference``
            (onnx.reference runs them: onnxruntime lacks a CPU kernel the model or its
            annotated form needs), or ``none`` (too big to run).
        simulate: onnxruntime runs analogc's simulation graph (which has no random ops).
        covers: the item(s) of the issue this entry stands for.
        write: saves the model into a folder and returns the model file's path.
        fixed: inputs fed as they are (not batched).
    """

    name: str
    build: Callable[[], onnx.ModelProto]
    inputs: dict[str, tuple[tuple[int | str, ...], type]]
    analog: int
    digital: int = 0
    unknown: frozenset[str] = frozenset()
    analog_ops: int | None = None
    runner: Literal["ort", "reference", "none"] = "ort"
    simulate: bool = True
    covers: str = ""
    write: Callable[[onnx.ModelProto, Path], Path] | None = None
    fixed: dict[str, np.ndarray] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        model = self.build()
        if self.write is not None:
            return self.write(model, folder)
        path = folder / f"{self.name}.onnx"
        onnx.save_model(model, str(path))
        return path

    def feed(self, batch: int = 2) -> dict[str, np.ndarray]:
        gen = np.random.default_rng(SEED)
        sizes = {N: batch, **self.dims}
        out = {}
        for name, (shape, dtype) in self.inputs.items():
            dims = [sizes[d] if isinstance(d, str) else d for d in shape]
            if np.issubdtype(np.dtype(dtype), np.integer):
                out[name] = gen.integers(0, 255, dims).astype(dtype)
            else:
                out[name] = gen.standard_normal(dims).astype(dtype)
        return {**out, **self.fixed}


# -- building blocks ---------------------------------------------------------------------------
def _gen(salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([SEED, salt])


def w(name: str, shape: Sequence[int], salt: int = 0, dtype: type = np.float32) -> onnx.TensorProto:
    scale = 1.0 / math.sqrt(max(1, int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]))
    value = (_gen(salt).standard_normal(tuple(shape)) * scale).astype(dtype)
    return numpy_helper.from_array(value, name)


def const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def vi(name: str, shape: Sequence[int | str] | None, dtype: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def node(op: str, inputs: list[str], outputs: list[str], name: str = "", **attrs) -> onnx.NodeProto:
    domain = attrs.pop("domain", None)
    return helper.make_node(op, inputs, outputs, name=name or None, domain=domain, **attrs)


def model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    inits: list[onnx.TensorProto] = (),  # type: ignore[assignment]
    *,
    opset: int = 17,
    ir: int = 8,
    extra: Sequence[tuple[str, int]] = (),
    inits_as_inputs: bool = False,
    check: bool = True,
) -> onnx.ModelProto:
    inits = list(inits)
    if inits_as_inputs:  # IR 3 required every initializer to be a graph input too
        inputs = [*inputs, *(vi(t.name, list(t.dims), t.data_type) for t in inits)]
    graph = helper.make_graph(nodes, "corpus", inputs, outputs, inits)
    opsets = [helper.make_opsetid("", opset), *(helper.make_opsetid(d, v) for d, v in extra)]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="analogc-corpus")
    m.ir_version = ir
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m


def matmul_macs(k: int, out: Sequence[int]) -> int:
    return k * math.prod(out)


def conv_macs(c_in: int, group: int, kernel: Sequence[int], c_out: int, out: Sequence[int]) -> int:
    return c_in // group * math.prod(kernel) * c_out * math.prod(out)


# -- opsets and IR versions ----------------------------------------------------------------------
def mlp(opset: int, ir: int) -> onnx.ModelProto:
    """x[N,12] -Gemm(16, transB)-> Relu -MatMul-> [N,5]."""
    nodes = [
        node("Gemm", ["x", "W1", "b1"], ["h"], "fc1", transB=1),
        node("Relu", ["h"], ["r"], "relu"),
        node("MatMul", ["r", "W2"], ["y"], "fc2"),
    ]
    inits = [w("W1", (16, 12), 1), w("b1", (16,), 2), w("W2", (16, 5), 3)]
    return model(
        nodes,
        [vi("x", [N, 12])],
        [vi("y", [N, 5])],
        inits,
        opset=opset,
        ir=ir,
        inits_as_inputs=ir < 4,
    )


MLP_MACS = 12 * 16 + 16 * 5


def cnn(opset: int, ir: int) -> onnx.ModelProto:
    """Conv(3->6, 3x3, pad 1) -> BatchNorm -> Relu -> MaxPool 2 -> Flatten -> Gemm(10) ->
    Softmax on x[N,3,8,8] (ops every opset from 7 has)."""
    nodes = [
        node("Conv", ["x", "W", "B"], ["c"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], "bn"),
        node("Relu", ["n"], ["r"], "relu"),
        node("MaxPool", ["r"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
        node("Flatten", ["p"], ["f"], "flatten"),
        node("Gemm", ["f", "G", "g"], ["l"], "fc", transB=1),
        node("Softmax", ["l"], ["y"], "softmax"),
    ]
    ones, zeros = np.ones(6, np.float32), np.zeros(6, np.float32)
    inits = [
        w("W", (6, 3, 3, 3), 1),
        w("B", (6,), 2),
        const("s", ones),
        const("b", zeros),
        const("m", zeros),
        const("v", ones),
        w("G", (10, 96), 3),
        w("g", (10,), 4),
    ]
    return model(
        nodes,
        [vi("x", [N, 3, 8, 8])],
        [vi("y", [N, 10])],
        inits,
        opset=opset,
        ir=ir,
        inits_as_inputs=ir < 4,
    )


CNN_MACS = conv_macs(3, 1, (3, 3), 6, (8, 8)) + 96 * 10


def reduce_axes_input(opset: int) -> onnx.ModelProto:
    """Opset 18 moved ReduceMean's axes to an input: MatMul -> ReduceMean(axes) -> MatMul."""
    nodes = [
        node("MatMul", ["x", "W1"], ["h"], "proj"),
        node("ReduceMean", ["h", "axes"], ["m"], "mean", keepdims=0),
        node("MatMul", ["m", "W2"], ["y"], "head"),
    ]
    inits = [w("W1", (8, 6), 1), w("W2", (6, 3), 2), const("axes", np.array([1], np.int64))]
    return model(
        nodes, [vi("x", [N, 4, 8])], [vi("y", [N, 3])], inits, opset=opset, ir=min(10, MAX_IR)
    )


def _save_external(m: onnx.ModelProto, folder: Path, name: str) -> Path:
    path = folder / f"{name}.onnx"
    onnx.save_model(
        m,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=False,
        size_threshold=0,
    )
    return path


def _save_big(m: onnx.ModelProto, folder: Path) -> Path:
    """The big entry: its 2.15 GB weight as a sparse file (no disk, no memory used)."""
    with open(folder / "big.bin", "wb") as f:
        f.truncate(BIG_K * BIG_N * 4)
    path = folder / "over_2gb.onnx"
    path.write_bytes(m.SerializeToString())
    return path


BIG_K, BIG_N = 32768, 16400


def over_2gb() -> onnx.ModelProto:
    weight = TensorProto(name="W", data_type=F, dims=[BIG_K, BIG_N])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (
        ("location", "big.bin"),
        ("offset", "0"),
        ("length", str(BIG_K * BIG_N * 4)),
    ):
        weight.external_data.add(key=key, value=value)
    return model(
        [node("MatMul", ["x", "W"], ["y"], "big")],
        [vi("x", [N, BIG_K])],
        [vi("y", [N, BIG_N])],
        [weight],
        check=False,  # its data file is written next to it by _save_big
    )


def dynamic_dims() -> onnx.ModelProto:
    """x[N, S, 16] with a symbolic sequence length: the MatMul's MACs depend on S; after a
    ReduceMean over S, the head's do not; a Conv on an image of symbolic size likewise."""
    nodes = [
        node("MatMul", ["x", "W1"], ["h"], "seq_proj"),
        node("ReduceMean", ["h"], ["m"], "pool", axes=[1], keepdims=0),
        node("Gemm", ["m", "W2"], ["y"], "head"),
        node("Conv", ["img", "K"], ["c"], "image_conv", kernel_shape=[3, 3]),
    ]
    inits = [w("W1", (16, 8), 1), w("W2", (8, 4), 2), w("K", (2, 1, 3, 3), 3)]
    return model(
        nodes,
        [vi("x", [N, "S", 16]), vi("img", [N, 1, "H", "W"])],
        [vi("y", [N, 4]), vi("c", [N, 2, "H2", "W2"])],
        inits,
    )


# -- MatMul, Gemm ----------------------------------------------------------------------------------
def matmul_forms() -> onnx.ModelProto:
    """Batched, broadcast, both operands activations, and 1-D operands."""
    nodes = [
        node("MatMul", ["x", "W"], ["a"], "batched"),  # [N,4,8]@[8,6] -> [N,4,6]
        node("Unsqueeze", ["a", "one"], ["a1"], "unsq"),  # [N,1,4,6]
        node("MatMul", ["a1", "Wb"], ["b"], "broadcast"),  # [N,1,4,6]@[3,6,5] -> [N,3,4,5]
        node("Transpose", ["b"], ["bt"], "bt", perm=[0, 1, 3, 2]),  # [N,3,5,4]
        node("MatMul", ["b", "bt"], ["s"], "both_activations"),  # [N,3,4,5]@[N,3,5,4]->[N,3,4,4]
        node("MatMul", ["s", "v"], ["c"], "mat_vec"),  # [N,3,4,4]@[4] -> [N,3,4]
        node("MatMul", ["u", "c"], ["d"], "vec_mat"),  # [3]@[N,3,4] -> [N,4]
        node("MatMul", ["d", "z"], ["y"], "vec_vec_like"),  # [N,4]@[4] -> [N]
    ]
    inits = [
        w("W", (8, 6), 1),
        w("Wb", (3, 6, 5), 2),
        w("v", (4,), 3),
        w("u", (3,), 4),
        w("z", (4,), 5),
        const("one", np.array([1], np.int64)),
    ]
    return model(nodes, [vi("x", [N, 4, 8])], [vi("y", [N])], inits, opset=17)


MATMUL_MACS = (
    matmul_macs(8, (4, 6))
    + matmul_macs(6, (3, 4, 5))
    + matmul_macs(5, (3, 4, 4))
    + matmul_macs(4, (3, 4))
    + matmul_macs(3, (4,))
    + matmul_macs(4, ())
)


def gemm_forms() -> onnx.ModelProto:
    """transA, transB, alpha/beta, C as a scalar, a row, a column, or absent."""
    nodes = [
        node("Transpose", ["x"], ["xt"], "xt", perm=[1, 0]),  # [12, N]
        node("Gemm", ["xt", "A", "c0"], ["a"], "transA", transA=1, alpha=0.5, beta=2.0),
        node("Gemm", ["a", "B", "c1"], ["b"], "transB_row", transB=1),  # C [6]
        node("Gemm", ["b", "C"], ["c"], "no_bias", alpha=-1.5),
        node("Gemm", ["c", "D", "c2"], ["y"], "column_bias", beta=0.25),  # C [1, 1]
    ]
    inits = [
        w("A", (12, 8), 1),
        const("c0", np.array(0.3, np.float32)),
        w("B", (6, 8), 2),
        w("c1", (6,), 3),
        w("C", (6, 7), 4),
        w("D", (7, 3), 5),
        const("c2", np.ones((1, 1), np.float32)),
    ]
    return model(nodes, [vi("x", [N, 12])], [vi("y", [N, 3])], inits)


GEMM_MACS = 12 * 8 + 8 * 6 + 6 * 7 + 7 * 3


# -- Conv, ConvTranspose ---------------------------------------------------------------------------
def conv_forms() -> onnx.ModelProto:
    """1-D (dilation, asymmetric pads), 2-D (groups, depthwise, SAME_UPPER, SAME_LOWER,
    VALID, stride), 3-D."""
    nodes = [
        node("Conv", ["s", "K1"], ["s1"], "conv1d", kernel_shape=[3], dilations=[2], pads=[2, 1]),
        node(
            "Conv",
            ["x", "K2", "B2"],
            ["a"],
            "grouped",
            group=2,
            kernel_shape=[3, 3],
            auto_pad="SAME_UPPER",
            strides=[2, 2],
        ),  # [N,4,9,9] -> [N,6,5,5]
        node(
            "Conv",
            ["a", "K3"],
            ["b"],
            "depthwise",
            group=6,
            kernel_shape=[3, 3],
            auto_pad="SAME_LOWER",
        ),
        node("Conv", ["b", "K4"], ["c"], "valid", kernel_shape=[2, 2], auto_pad="VALID"),  # 4x4
        node("Conv", ["v", "K5"], ["d"], "conv3d", kernel_shape=[2, 2, 2], pads=[1, 0, 0, 0, 1, 1]),
    ]
    inits = [
        w("K1", (4, 2, 3), 1),
        w("K2", (6, 2, 3, 3), 2),
        w("B2", (6,), 3),
        w("K3", (12, 1, 3, 3), 4),
        w("K4", (5, 12, 2, 2), 5),
        w("K5", (3, 2, 2, 2, 2), 6),
    ]
    return model(
        nodes,
        [vi("s", [N, 2, 10]), vi("x", [N, 4, 9, 9]), vi("v", [N, 2, 4, 4, 4])],
        [vi("s1", [N, 4, 9]), vi("c", [N, 5, 4, 4]), vi("d", [N, 3, 4, 4, 4])],
        inits,
    )


CONV_MACS = (
    conv_macs(2, 1, (3,), 4, (9,))  # 10 + (2 + 1) pads - ((3 - 1)·2 + 1) + 1 = 9
    + conv_macs(4, 2, (3, 3), 6, (5, 5))  # SAME_UPPER, stride 2: ceil(9 / 2) = 5
    + conv_macs(6, 6, (3, 3), 12, (5, 5))  # SAME_LOWER, stride 1
    + conv_macs(12, 1, (2, 2), 5, (4, 4))  # VALID: 5 - 2 + 1
    + conv_macs(2, 1, (2, 2, 2), 3, (4, 4, 4))  # each axis 4 + 1 pad - 2 + 1
)


def conv_transpose_forms() -> onnx.ModelProto:
    """2-D (stride, pads, output_padding), grouped, output_shape, 1-D and 3-D."""
    nodes = [
        node(
            "ConvTranspose",
            ["x", "T1", "b1"],
            ["a"],
            "convT2d",
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            output_padding=[1, 1],
        ),  # [N,4,5,5] -> [N,3,10,10]
        node("ConvTranspose", ["x", "T2"], ["b"], "convT_grouped", group=2, kernel_shape=[2, 2]),
        node(
            "ConvTranspose",
            ["s", "T3"],
            ["c"],
            "convT1d_output_shape",
            kernel_shape=[3],
            strides=[2],
            output_shape=[12],
        ),
        node("ConvTranspose", ["v", "T4"], ["d"], "convT3d", kernel_shape=[2, 2, 2]),
    ]
    inits = [
        w("T1", (4, 3, 3, 3), 1),
        w("b1", (3,), 2),
        w("T2", (4, 3, 2, 2), 3),  # group 2: C_out 6
        w("T3", (2, 3, 3), 4),
        w("T4", (2, 2, 2, 2, 2), 5),
    ]
    return model(
        nodes,
        [vi("x", [N, 4, 5, 5]), vi("s", [N, 2, 6]), vi("v", [N, 2, 3, 3, 3])],
        [
            vi("a", [N, 3, 10, 10]),
            vi("b", [N, 6, 6, 6]),
            vi("c", [N, 3, 12]),
            vi("d", [N, 2, 4, 4, 4]),
        ],
        inits,
    )


# Every input pixel meets every weight: numel(W) · prod(input spatial).
CONV_T_MACS = 4 * 3 * 9 * 25 + 4 * 3 * 4 * 25 + 2 * 3 * 3 * 6 + 2 * 2 * 8 * 27


# -- Einsum --------------------------------------------------------------------------------------
def einsum_forms() -> onnx.ModelProto:
    """The three contractions of the issue, ellipsis and implicit output (analog), and a
    diagonal, a three-operand chain and a transpose (digital)."""
    nodes = [
        node("Einsum", ["q", "k"], ["s"], "scores", equation="bhqd,bhkd->bhqk"),  # [N,2,4,5]
        node("Einsum", ["s", "v"], ["o"], "weighted", equation="bhqk,bhkd->bhqd"),  # [N,2,4,8]
        node("Reshape", ["o", "shape"], ["o2"], "merge"),  # [N,4,16]
        node("Einsum", ["o2", "P"], ["p"], "projection", equation="bsd,df->bsf"),  # [N,4,6]
        node("Einsum", ["p", "E"], ["e"], "ellipsis", equation="...ij,jk->...ik"),  # [N,4,3]
        node("Einsum", ["e", "I"], ["i"], "implicit", equation="bij,jk"),  # [N,4,2]
        node("Einsum", ["i", "D"], ["g"], "diagonal", equation="bij,jj->bij"),  # digital
        node("Einsum", ["g", "C1", "C2"], ["c"], "three_operands", equation="bij,jk,kl->bil"),
        node("Einsum", ["c"], ["y"], "transpose_only", equation="bil->bli"),
    ]
    inits = [
        w("P", (16, 6), 1),
        w("E", (6, 3), 2),
        w("I", (3, 2), 3),
        w("D", (2, 2), 4),
        w("C1", (2, 3), 5),
        w("C2", (3, 2), 6),
        const("shape", np.array([0, 4, 16], np.int64)),
    ]
    return model(
        nodes,
        [vi("q", [N, 2, 4, 8]), vi("k", [N, 2, 5, 8]), vi("v", [N, 2, 5, 8])],
        [vi("y", [N, 2, 4])],
        inits,
    )


EINSUM_ANALOG = 8 * (2 * 4 * 5) + 5 * (2 * 4 * 8) + 16 * (4 * 6) + 6 * (4 * 3) + 3 * (4 * 2)
# As written: index space × (operands − 1); diagonal b,i,j = 4·2; chain b,i,j,k,l = 4·2·3·2 ×2.
EINSUM_DIGITAL = 4 * 2 + 4 * 2 * 3 * 2 * 2 + 0


# -- subgraphs -------------------------------------------------------------------------------------
def _body_loop(
    trips: str, nodes: list[onnx.NodeProto], out: str, shape, name: str
) -> onnx.NodeProto:
    body = helper.make_graph(
        [node("Identity", [f"{name}_c"], [f"{name}_c2"], f"{name}_cond"), *nodes],
        f"{name}_body",
        [vi(f"{name}_i", [], TensorProto.INT64), vi(f"{name}_c", [], TensorProto.BOOL)],
        [vi(f"{name}_c2", [], TensorProto.BOOL), vi(out, shape)],
    )
    return node("Loop", [trips, ""], [f"{name}_out"], name, body=body)


def control_flow() -> onnx.ModelProto:
    """If (a MatMul in each branch), Loop (3 trips, a MatMul and a Gemm per trip), Scan (a
    MatMul per step), plus an If inside a Loop body and a Loop inside a Loop body (digital)."""
    then = helper.make_graph(
        [node("MatMul", ["x", "Wt"], ["t"], "if_then_mm")], "then", [], [vi("t", [N, 8])]
    )
    other = helper.make_graph(
        [node("MatMul", ["x", "We"], ["e"], "if_else_mm")], "else", [], [vi("e", [N, 8])]
    )
    branch = node("If", ["cond"], ["h"], "branch", then_branch=then, else_branch=other)
    loop = _body_loop(
        "three",
        [
            node("MatMul", ["h", "Wl"], ["l1"], "loop_mm"),
            node("Gemm", ["l1", "Gl"], ["l2"], "loop_gemm"),
        ],
        "l2",
        [N, 4],
        "loop",
    )  # loop_out [3, N, 4]
    scan_body = helper.make_graph(
        [
            node("MatMul", ["st", "Ws"], ["so"], "scan_mm"),
            node("Add", ["acc", "so"], ["acc2"], "scan_add"),
        ],
        "scan_body",
        [vi("acc", [N, 2]), vi("st", [N, 4])],
        [vi("acc2", [N, 2]), vi("so", [N, 2])],
    )
    scan = node(
        "Scan",
        ["acc0", "seq"],
        ["total", "steps"],
        "scan",
        body=scan_body,
        num_scan_inputs=1,
        scan_input_axes=[1],
    )  # 3 steps over seq [N, 3, 4]
    inner_then = helper.make_graph(
        [node("MatMul", ["h", "Wi"], ["it"], "if_in_loop_mm")], "inner_then", [], [vi("it", [N, 8])]
    )
    inner_else = helper.make_graph(
        [node("Identity", ["h"], ["ie"], "if_in_loop_keep")], "inner_else", [], [vi("ie", [N, 8])]
    )
    loop2 = _body_loop(
        "two",
        [node("If", ["cond"], ["r"], "if_in_loop", then_branch=inner_then, else_branch=inner_else)],
        "r",
        [N, 8],
        "loop2",
    )
    innermost = _body_loop(
        "two", [node("MatMul", ["h", "Wn"], ["nn"], "nested_mm")], "nn", [N, 8], "inner"
    )
    outer = _body_loop("three", [innermost], "inner_out", [2, N, 8], "outer")
    inits = [
        w("Wt", (8, 8), 1),
        w("We", (8, 8), 2),
        w("Wl", (8, 6), 3),
        w("Gl", (6, 4), 4),
        w("Ws", (4, 2), 5),
        w("Wi", (8, 8), 6),
        w("Wn", (8, 8), 7),
        const("three", np.array(3, np.int64)),
        const("two", np.array(2, np.int64)),
    ]
    return model(
        [branch, loop, scan, loop2, outer],
        [
            vi("cond", [], TensorProto.BOOL),
            vi("x", [N, 8]),
            vi("acc0", [N, 2]),
            vi("seq", [N, 3, 4]),
        ],
        [
            vi("total", [N, 2]),
            vi("steps", [3, N, 2]),
            vi("loop_out", [3, N, 4]),
            vi("loop2_out", [2, N, 8]),
            vi("outer_out", [3, 2, N, 8]),
        ],
        inits,
    )


CONTROL_ANALOG = 8 * 8 + 8 * 8 + 3 * (8 * 6 + 6 * 4) + 3 * (4 * 2)
CONTROL_DIGITAL = 2 * (8 * 8) + 3 * 2 * (8 * 8)


# -- element types -------------------------------------------------------------------------------------
def typed_mlp(dtype: int, np_dtype: type, opset: int = 17) -> onnx.ModelProto:
    """x[N,4,8] -MatMul-> Relu -Gemm-> ... in one element type (Conv too, where it exists)."""
    nodes = [
        node("MatMul", ["x", "W1"], ["h"], "mm"),
        node("Relu", ["h"], ["r"], "relu"),
        node("Reshape", ["r", "shape"], ["f"], "flat"),
        node("Gemm", ["f", "W2", "b2"], ["y"], "fc", transB=1),
    ]
    inits = [
        w("W1", (8, 6), 1, np_dtype),
        w("W2", (3, 24), 2, np_dtype),
        w("b2", (3,), 3, np_dtype),
        const("shape", np.array([-1, 24], np.int64)),
    ]
    return model(nodes, [vi("x", [N, 4, 8], dtype)], [vi("y", [N, 3], dtype)], inits, opset=opset)


TYPED_MACS = 8 * 4 * 6 + 24 * 3


def float16_cnn() -> onnx.ModelProto:
    nodes = [
        node("Conv", ["x", "K"], ["c"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=2),
        node("ConvTranspose", ["c", "T"], ["y"], "convT", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    inits = [w("K", (4, 2, 3, 3), 1, np.float16), w("T", (4, 2, 2, 2), 2, np.float16)]
    return model(
        nodes,
        [vi("x", [N, 4, 6, 6], TensorProto.FLOAT16)],
        [vi("y", [N, 2, 12, 12], TensorProto.FLOAT16)],
        inits,
    )


F16_CNN_MACS = conv_macs(4, 2, (3, 3), 4, (6, 6)) + 4 * 2 * 4 * 36


# -- other domains, recurrent, attention, fused, quantized --------------------------------------------
def ml_domain() -> onnx.ModelProto:
    """A Gemm feeding ai.onnx.ml LinearClassifier, an ai.onnx.ml Normalizer on the input."""
    coefficients = list(np.round(_gen(9).standard_normal(3 * 6), 3).astype(float))
    nodes = [
        node("Normalizer", ["x"], ["xn"], "normalize", domain="ai.onnx.ml", norm="L2"),
        node("Gemm", ["xn", "W"], ["h"], "features"),
        node(
            "LinearClassifier",
            ["h"],
            ["label", "scores"],
            "classifier",
            domain="ai.onnx.ml",
            coefficients=coefficients,
            intercepts=[0.0, 0.1, -0.1],
            classlabels_ints=[0, 1, 2],
        ),
    ]
    return model(
        nodes,
        [vi("x", [N, 10])],
        [vi("label", [N], TensorProto.INT64), vi("scores", [N, 3])],
        [w("W", (10, 6), 1)],
        extra=[("ai.onnx.ml", 1)],
    )


def microsoft_domain() -> onnx.ModelProto:
    """com.microsoft Attention -> MatMul -> Gelu -> SkipLayerNormalization -> FusedMatMul ->
    MatMulNBits: shapes flow on past the contrib ops, the MatMul runs analog."""
    k = 16
    nodes = [
        node(
            "Attention",
            ["x", "Wqkv", "bqkv"],
            ["a"],
            "attention",
            domain="com.microsoft",
            num_heads=2,
        ),
        node("MatMul", ["a", "W"], ["m"], "proj"),
        node("Gelu", ["m"], ["g"], "gelu", domain="com.microsoft"),
        node(
            "SkipLayerNormalization",
            ["g", "x", "gamma", "beta"],
            ["n"],
            "skipln",
            domain="com.microsoft",
        ),
        node(
            "FusedMatMul", ["n", "F"], ["f"], "fused", domain="com.microsoft", transB=1, alpha=0.5
        ),
        node(
            "MatMulNBits",
            ["f", "Q", "S"],
            ["y"],
            "nbits",
            domain="com.microsoft",
            K=k,
            N=4,
            bits=4,
            block_size=16,
        ),
    ]
    inits = [
        w("Wqkv", (8, 24), 1),
        const("bqkv", np.zeros(24, np.float32)),
        w("W", (8, 8), 2),
        const("gamma", np.ones(8, np.float32)),
        const("beta", np.zeros(8, np.float32)),
        w("F", (k, 8), 3),
        const("Q", (_gen(4).integers(0, 255, (4, 1, 8))).astype(np.uint8)),
        const("S", np.full(4, 0.05, np.float32)),
    ]
    return model(
        nodes, [vi("x", [N, 5, 8])], [vi("y", [N, 5, 4])], inits, extra=[("com.microsoft", 1)]
    )


# Attention: projection S·in·3h + Q·Kᵀ S·S·h + A·V S·S·h; FusedMatMul 5·8·16; NBits 5·16·4.
MS_DIGITAL = 5 * 8 * 24 + 5 * 5 * 8 + 5 * 5 * 8 + 5 * 16 * 8 + 5 * 16 * 4
MS_ANALOG = 5 * 8 * 8


def recurrent() -> onnx.ModelProto:
    """LSTM, GRU (bidirectional) and RNN over x[6, N, 4], then a Gemm on the last state."""
    h = 5
    nodes = [
        node("LSTM", ["x", "Wl", "Rl"], ["yl"], "lstm", hidden_size=h),
        node("GRU", ["x", "Wg", "Rg"], ["yg"], "gru", hidden_size=h, direction="bidirectional"),
        node("RNN", ["x", "Wr", "Rr"], ["yr"], "rnn", hidden_size=h),
        node("Gather", ["yl", "last"], ["ll"], "last_step", axis=0),  # [1, N, 5]
        node("Squeeze", ["ll", "zero"], ["ls"], "squeeze"),
        node("Gemm", ["ls", "Wo"], ["y"], "head"),
    ]
    inits = [
        w("Wl", (1, 4 * h, 4), 1),
        w("Rl", (1, 4 * h, h), 2),
        w("Wg", (2, 3 * h, 4), 3),
        w("Rg", (2, 3 * h, h), 4),
        w("Wr", (1, h, 4), 5),
        w("Rr", (1, h, h), 6),
        w("Wo", (h, 3), 7),
        const("last", np.array(5, np.int64)),
        const("zero", np.array([0], np.int64)),
    ]
    return model(
        nodes,
        [vi("x", [6, N, 4])],
        [vi("y", [N, 3]), vi("yg", [6, 2, N, h]), vi("yr", [6, 1, N, h])],
        inits,
    )


RECURRENT_DIGITAL = 6 * (4 * 5 * (4 + 5) + 2 * 3 * 5 * (4 + 5) + 5 * (4 + 5))
# Expanded by analogc, all of them run analog: input and recurrent products (the GRU, without
# linear_before_reset, has a third, (r⊙H)·Rhᵀ, per direction), 1 + 2 + 2·3 + 2 ops.
RECURRENT_ANALOG = 5 * 3 + RECURRENT_DIGITAL


def lstm_variants() -> onnx.ModelProto:
    """x[N, 7, 3] -> Transpose -> bidirectional LSTM(H 4) with bias, sequence lengths, initial
    states, peepholes, clip, input_forget and six activations with alpha/beta; Y, Y_h, Y_c."""
    h = 4
    lstm = node(
        "LSTM",
        ["xt", "W", "R", "B", "lens", "h0", "c0", "P"],
        ["Y", "Y_h", "Y_c"],
        "lstm",
        hidden_size=h,
        direction="bidirectional",
        clip=2.0,
        input_forget=1,
        activations=["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Softsign", "ScaledTanh"],
        activation_alpha=[0.3, 0.9],
        activation_beta=[0.55, 1.1],
    )
    nodes = [node("Transpose", ["x"], ["xt"], "time_major", perm=[1, 0, 2]), lstm]
    inits = [
        w("W", (2, 4 * h, 3), 1),
        w("R", (2, 4 * h, h), 2),
        w("B", (2, 8 * h), 3),
        w("P", (2, 3 * h), 4),
    ]
    state = [2, N, h]
    return model(
        nodes,
        [
            vi("x", [N, 7, 3]),
            vi("lens", [N], TensorProto.INT32),
            vi("h0", state),
            vi("c0", state),
        ],
        [vi("Y", [7, 2, N, h]), vi("Y_h", state), vi("Y_c", state)],
        inits,
    )


LSTM_VARIANTS_MACS = 7 * 2 * 16 * (3 + 4)


def gru_variants() -> onnx.ModelProto:
    """Two GRUs over x[5, N, 3]: reverse with linear_before_reset and bias (Y_h only), forward
    with clip, sequence lengths, no bias and HardSigmoid/Relu activations (Y only)."""
    h = 5
    nodes = [
        node(
            "GRU",
            ["x", "Wa", "Ra", "Ba"],
            ["", "ya_h"],
            "gru_reverse",
            hidden_size=h,
            direction="reverse",
            linear_before_reset=1,
        ),
        node(
            "GRU",
            ["x", "Wb", "Rb", "", "lens"],
            ["yb"],
            "gru_clipped",
            hidden_size=h,
            clip=1.5,
            activations=["HardSigmoid", "Relu"],
        ),
    ]
    inits = [
        w("Wa", (1, 3 * h, 3), 1),
        w("Ra", (1, 3 * h, h), 2),
        w("Ba", (1, 6 * h), 3),
        w("Wb", (1, 3 * h, 3), 4),
        w("Rb", (1, 3 * h, h), 5),
    ]
    return model(
        nodes,
        [vi("x", [5, N, 3]), vi("lens", [N], TensorProto.INT32)],
        [vi("ya_h", [1, N, h]), vi("yb", [5, 1, N, h])],
        inits,
    )


GRU_VARIANTS_MACS = 2 * 5 * 15 * (3 + 5)


def rnn_variants() -> onnx.ModelProto:
    """x[N, 4, 5] -> Transpose -> bidirectional RNN(H 6), Relu and LeakyRelu(0.2), initial
    state, bias; Y and Y_h."""
    h = 6
    nodes = [
        node("Transpose", ["x"], ["xt"], "time_major", perm=[1, 0, 2]),
        node(
            "RNN",
            ["xt", "W", "R", "B", "", "h0"],
            ["Y", "Y_h"],
            "rnn",
            hidden_size=h,
            direction="bidirectional",
            activations=["Relu", "LeakyRelu"],
            activation_alpha=[0.2],
        ),
    ]
    inits = [w("W", (2, h, 5), 1), w("R", (2, h, h), 2), w("B", (2, 2 * h), 3)]
    return model(
        nodes,
        [vi("x", [N, 4, 5]), vi("h0", [2, N, h])],
        [vi("Y", [4, 2, N, h]), vi("Y_h", [2, N, h])],
        inits,
    )


RNN_VARIANTS_MACS = 4 * 2 * 6 * (5 + 6)


def attention_opset23() -> onnx.ModelProto:
    """Q, K, V projections (MatMul, analog) into the opset-23 Attention op (digital)."""
    nodes = [
        node("MatMul", ["x", "Wq"], ["q"], "q_proj"),
        node("MatMul", ["x", "Wk"], ["k"], "k_proj"),
        node("MatMul", ["x", "Wv"], ["v"], "v_proj"),
        node("Attention", ["q", "k", "v"], ["y"], "attention", q_num_heads=2, kv_num_heads=2),
    ]
    inits = [w("Wq", (8, 8), 1), w("Wk", (8, 8), 2), w("Wv", (8, 8), 3)]
    return model(
        nodes, [vi("x", [N, 4, 8])], [vi("y", [N, 4, 8])], inits, opset=23, ir=min(11, MAX_IR)
    )


ATTENTION23_ANALOG = 3 * 4 * 8 * 8
ATTENTION23_DIGITAL = 2 * 4 * 4 * (4 + 4)


def quantized() -> onnx.ModelProto:
    """MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv (digital), and a float MatMul
    after a DequantizeLinear (analog)."""
    u8 = TensorProto.UINT8
    nodes = [
        node("MatMulInteger", ["xq", "Bq"], ["mi"], "matmul_integer"),  # [N,8]@[8,4] int32
        node(
            "QLinearMatMul", ["xq", "s", "zp", "Bq", "s", "zp", "s", "zp"], ["qm"], "qlinear_matmul"
        ),
        node("ConvInteger", ["iq", "Kq"], ["ci"], "conv_integer", kernel_shape=[3, 3]),
        node(
            "QLinearConv",
            ["iq", "s", "zp", "Kq", "s", "zp", "s", "zp"],
            ["qc"],
            "qlinear_conv",
            kernel_shape=[3, 3],
        ),
        node("DequantizeLinear", ["qm", "s", "zp"], ["dq"], "dequantize"),
        node("MatMul", ["dq", "W"], ["y"], "float_mm"),
    ]
    inits = [
        const("Bq", _gen(1).integers(0, 255, (8, 4)).astype(np.uint8)),
        const("Kq", _gen(2).integers(0, 255, (2, 1, 3, 3)).astype(np.uint8)),
        const("s", np.array(0.05, np.float32)),
        const("zp", np.array(128, np.uint8)),
        w("W", (4, 3), 3),
    ]
    return model(
        nodes,
        [vi("xq", [N, 8], u8), vi("iq", [N, 1, 5, 5], u8)],
        [
            vi("y", [N, 3]),
            vi("mi", [N, 4], TensorProto.INT32),
            vi("ci", [N, 2, 3, 3], TensorProto.INT32),
            vi("qc", [N, 2, 3, 3], u8),
        ],
        inits,
    )


QUANTIZED_DIGITAL = 2 * (8 * 4) + 2 * conv_macs(1, 1, (3, 3), 2, (3, 3))


def transformer_block() -> onnx.ModelProto:
    """Self-attention written with MatMul (Q·Kᵀ and A·V with both operands activations),
    Softmax, LayerNormalization and an MLP: everything runs analog."""
    d, s = 8, 4
    nodes = [
        node("MatMul", ["x", "Wq"], ["q"], "q"),
        node("MatMul", ["x", "Wk"], ["k"], "k"),
        node("MatMul", ["x", "Wv"], ["v"], "v"),
        node("Transpose", ["k"], ["kt"], "kt", perm=[0, 2, 1]),
        node("MatMul", ["q", "kt"], ["sc"], "scores"),
        node("Mul", ["sc", "scale"], ["scs"], "scale"),
        node("Softmax", ["scs"], ["p"], "softmax", axis=-1),
        node("MatMul", ["p", "v"], ["att"], "context"),
        node("Add", ["x", "att"], ["r1"], "residual"),
        node("LayerNormalization", ["r1", "gamma", "beta"], ["n1"], "norm", axis=-1),
        node("MatMul", ["n1", "W1"], ["h"], "mlp_in"),
        node("Relu", ["h"], ["hr"], "mlp_act"),
        node("MatMul", ["hr", "W2"], ["y"], "mlp_out"),
    ]
    inits = [
        w("Wq", (d, d), 1),
        w("Wk", (d, d), 2),
        w("Wv", (d, d), 3),
        const("scale", np.array(1 / math.sqrt(d), np.float32)),
        const("gamma", np.ones(d, np.float32)),
        const("beta", np.zeros(d, np.float32)),
        w("W1", (d, 16), 4),
        w("W2", (16, d), 5),
    ]
    return model(nodes, [vi("x", [N, s, d])], [vi("y", [N, s, d])], inits)


TRANSFORMER_MACS = 3 * 4 * 8 * 8 + 8 * 4 * 4 + 4 * 4 * 8 + 4 * 8 * 16 + 4 * 16 * 8


def bert_attention_dynamic() -> onnx.ModelProto:
    """Multi-head self-attention as BERT/MiniLM export it with a dynamic sequence axis:
    x [N, S, 8] -> q, k, v -> Reshape [0, -1, 2, 4] and Transpose to heads [N, 2, S, 4];
    scores q·kᵀ [N, 2, S, S] contract over d = 4 (static); the context softmax(·)·v contracts
    over S (known only at run time: a DynK op), once as a MatMul and once as an Einsum; the
    heads merge back and an output projection follows. Every op runs analog; all MACs depend
    on S (the reshaped sequence axis is not even a symbol after shape inference)."""
    d, h = 8, 2
    nodes = [node("MatMul", ["x", f"W{p}"], [p], f"proj_{p}") for p in ("q", "k", "v")]
    for p, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes.append(node("Reshape", [p, "heads"], [f"{p}4"], f"split_{p}"))
        nodes.append(node("Transpose", [f"{p}4"], [f"{p}h"], f"heads_{p}", perm=perm))
    nodes += [
        node("MatMul", ["qh", "kh"], ["sc"], "scores"),  # [N,2,S,4]@[N,2,4,S] -> [N,2,S,S]
        node("Mul", ["sc", "scale"], ["scs"], "scale"),
        node("Softmax", ["scs"], ["p"], "softmax", axis=-1),
        node("MatMul", ["p", "vh"], ["c1"], "context"),  # [N,2,S,S]@[N,2,S,4], K = S
        node("Einsum", ["p", "vh"], ["c2"], "context_einsum", equation="bhqk,bhkd->bhqd"),
        node("Add", ["c1", "c2"], ["c"], "sum"),
        node("Transpose", ["c"], ["ct"], "merge", perm=[0, 2, 1, 3]),
        node("Reshape", ["ct", "merged"], ["cm"], "merge_heads"),
        node("MatMul", ["cm", "Wo"], ["y"], "proj_out"),
    ]
    inits = [
        w("Wq", (d, d), 1),
        w("Wk", (d, d), 2),
        w("Wv", (d, d), 3),
        w("Wo", (d, d), 4),
        const("heads", np.array([0, -1, h, d // h], np.int64)),
        const("merged", np.array([0, -1, d], np.int64)),
        const("scale", np.array(1 / math.sqrt(d // h), np.float32)),
    ]
    return model(nodes, [vi("x", [N, "S", d])], [vi("y", [N, "S", d])], inits)


BERT_DYNAMIC_OPS = frozenset(
    {"proj_q", "proj_k", "proj_v", "scores", "context", "context_einsum", "proj_out"}
)


def local_functions() -> onnx.ModelProto:
    """Exporters wrap modules in model-local functions: Linear(X, W) = Relu(X @ W), called
    twice, and Block(X) calling Linear (a function calling a function)."""
    linear = helper.make_function(
        "corpus.lib",
        "Linear",
        ["X", "W"],
        ["Y"],
        [node("MatMul", ["X", "W"], ["P"]), node("Relu", ["P"], ["Y"])],
        [helper.make_opsetid("", 17)],
    )
    block = helper.make_function(
        "corpus.lib",
        "Block",
        ["X", "W"],
        ["Y"],
        [node("Linear", ["X", "W"], ["H"], domain="corpus.lib"), node("Neg", ["H"], ["Y"])],
        [helper.make_opsetid("", 17), helper.make_opsetid("corpus.lib", 1)],
    )
    nodes = [
        node("Linear", ["x", "W1"], ["h"], "linear1", domain="corpus.lib"),
        node("Linear", ["h", "W2"], ["g"], "linear2", domain="corpus.lib"),
        node("Block", ["g", "W3"], ["y"], "block", domain="corpus.lib"),
    ]
    m = model(
        nodes,
        [vi("x", [N, 4])],
        [vi("y", [N, 2])],
        [w("W1", (4, 3), 1), w("W2", (3, 3), 2), w("W3", (3, 2), 3)],
        extra=[("corpus.lib", 1)],
        check=False,
    )
    m.functions.extend([linear, block])
    onnx.checker.check_model(m, full_check=True)
    return m


def _write_external(name: str) -> Callable[[onnx.ModelProto, Path], Path]:
    return lambda m, folder: _save_external(m, folder, name)


def _fixed_cond() -> dict[str, np.ndarray]:
    return {"cond": np.array(True)}


ENTRIES: list[Entry] = [
    Entry(
        "local_functions",
        local_functions,
        {"x": ((N, 4), np.float32)},
        4 * 3 + 3 * 3 + 3 * 2,
        analog_ops=3,
        covers="model-local functions (inlined, then analog)",
    ),
    Entry(
        "opset7_ir3_mlp",
        lambda: mlp(7, 3),
        {"x": ((N, 12), np.float32)},
        MLP_MACS,
        analog_ops=2,
        covers="opset 7, IR 3 (initializers as inputs)",
    ),
    Entry(
        "opset8_ir3_cnn",
        lambda: cnn(8, 3),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 8, IR 3",
    ),
    Entry(
        "opset9_ir4_cnn",
        lambda: cnn(9, 4),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 9, IR 4",
    ),
    Entry(
        "opset10_ir5_cnn",
        lambda: cnn(10, 5),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 10, IR 5",
    ),
    Entry(
        "opset11_ir6_cnn",
        lambda: cnn(11, 6),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 11, IR 6",
    ),
    Entry(
        "opset12_ir7_mlp",
        lambda: mlp(12, 7),
        {"x": ((N, 12), np.float32)},
        MLP_MACS,
        analog_ops=2,
        covers="opset 12 (oldest annotated as is), IR 7",
    ),
    Entry(
        "opset13_ir7_cnn",
        lambda: cnn(13, 7),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 13",
    ),
    Entry(
        "opset18_ir8_reduce",
        lambda: reduce_axes_input(18),
        {"x": ((N, 4, 8), np.float32)},
        4 * 8 * 6 + 6 * 3,
        analog_ops=2,
        covers="opset 18 (reduce axes as inputs), IR 8+",
    ),
    Entry(
        "opset21_cnn",
        lambda: cnn(21, min(10, MAX_IR)),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="opset 21, IR 10",
    ),
    Entry(
        f"opset{MAX_OPSET}_newest",
        lambda: cnn(MAX_OPSET, MAX_IR),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="the newest opset and IR version onnx knows",
    ),
    Entry(
        "external_data",
        lambda: cnn(17, 8),
        {"x": ((N, 3, 8, 8), np.float32)},
        CNN_MACS,
        analog_ops=2,
        covers="external data (one file per tensor)",
        write=_write_external("external_data"),
    ),
    Entry(
        "over_2gb",
        over_2gb,
        {"x": ((N, BIG_K), np.float32)},
        BIG_K * BIG_N,
        analog_ops=1,
        runner="none",
        simulate=False,
        covers="a model over the 2 GB protobuf limit (sparse weight file)",
        write=lambda m, folder: _save_big(m, folder),
    ),
    Entry(
        "dynamic_dims",
        dynamic_dims,
        {"x": ((N, "S", 16), np.float32), "img": ((N, 1, "H", "W"), np.float32)},
        8 * 4,
        unknown=frozenset({"seq_proj", "image_conv"}),
        analog_ops=3,
        covers="dynamic dimensions (batch, sequence, image size)",
        dims={"S": 5, "H": 7, "W": 6},
    ),
    Entry(
        "matmul_forms",
        matmul_forms,
        {"x": ((N, 4, 8), np.float32)},
        MATMUL_MACS,
        analog_ops=6,
        covers="MatMul batched, broadcast, both operands activations, 1-D operands",
    ),
    Entry(
        "gemm_forms",
        gemm_forms,
        {"x": ((N, 12), np.float32)},
        GEMM_MACS,
        analog_ops=4,
        covers="Gemm transA/transB/alpha/beta, broadcast C",
    ),
    Entry(
        "conv_forms",
        conv_forms,
        {
            "s": ((N, 2, 10), np.float32),
            "x": ((N, 4, 9, 9), np.float32),
            "v": ((N, 2, 4, 4, 4), np.float32),
        },
        CONV_MACS,
        analog_ops=5,
        covers="Conv 1-D/2-D/3-D, groups, depthwise, dilations, auto_pad, asymmetric pads",
    ),
    Entry(
        "conv_transpose_forms",
        conv_transpose_forms,
        {
            "x": ((N, 4, 5, 5), np.float32),
            "s": ((N, 2, 6), np.float32),
            "v": ((N, 2, 3, 3, 3), np.float32),
        },
        CONV_T_MACS,
        analog_ops=4,
        covers="ConvTranspose 1-D/2-D/3-D, grouped, output_padding, output_shape",
    ),
    Entry(
        "einsum_forms",
        einsum_forms,
        {
            "q": ((N, 2, 4, 8), np.float32),
            "k": ((N, 2, 5, 8), np.float32),
            "v": ((N, 2, 5, 8), np.float32),
        },
        EINSUM_ANALOG,
        EINSUM_DIGITAL,
        analog_ops=5,
        covers="Einsum contractions (analog) and other Einsums (digital, MACs counted)",
    ),
    Entry(
        "control_flow",
        control_flow,
        {"x": ((N, 8), np.float32), "acc0": ((N, 2), np.float32), "seq": ((N, 3, 4), np.float32)},
        CONTROL_ANALOG,
        CONTROL_DIGITAL,
        analog_ops=5,
        covers="analog ops in If/Loop/Scan bodies; If in Loop and Loop in Loop stay digital",
        fixed=_fixed_cond(),
    ),
    Entry(
        "float16_mlp",
        lambda: typed_mlp(TensorProto.FLOAT16, np.float16),
        {"x": ((N, 4, 8), np.float16)},
        TYPED_MACS,
        analog_ops=2,
        covers="float16 operands",
    ),
    Entry(
        "float16_cnn",
        float16_cnn,
        {"x": ((N, 4, 6, 6), np.float16)},
        F16_CNN_MACS,
        analog_ops=2,
        covers="float16 Conv and ConvTranspose",
    ),
    Entry(
        "bfloat16_mlp",
        lambda: typed_mlp(TensorProto.BFLOAT16, ml_dtypes.bfloat16),
        {"x": ((N, 4, 8), ml_dtypes.bfloat16)},
        TYPED_MACS,
        analog_ops=2,
        runner="reference",
        simulate=False,
        covers="bfloat16 operands (onnxruntime has no CPU bfloat16 MatMul: onnx.reference runs it)",
    ),
    Entry(
        "float64_mlp",
        lambda: typed_mlp(TensorProto.DOUBLE, np.float64),
        {"x": ((N, 4, 8), np.float64)},
        TYPED_MACS,
        analog_ops=2,
        covers="float64 operands",
    ),
    Entry(
        "ai_onnx_ml",
        ml_domain,
        {"x": ((N, 10), np.float32)},
        10 * 6,
        3 * 6,
        analog_ops=1,
        covers="ai.onnx.ml ops elsewhere in the graph",
    ),
    Entry(
        "com_microsoft",
        microsoft_domain,
        {"x": ((N, 5, 8), np.float32)},
        MS_ANALOG,
        MS_DIGITAL,
        analog_ops=1,
        covers="com.microsoft ops elsewhere (Attention, Gelu, SkipLayerNormalization, FusedMatMul, MatMulNBits)",
    ),
    Entry(
        "recurrent",
        recurrent,
        {"x": ((6, N, 4), np.float32)},
        RECURRENT_ANALOG,
        analog_ops=11,
        covers="LSTM, GRU (bidirectional), RNN: expanded, gate products analog",
    ),
    Entry(
        "lstm_variants",
        lstm_variants,
        {
            "x": ((N, 7, 3), np.float32),
            "h0": ((2, N, 4), np.float32),
            "c0": ((2, N, 4), np.float32),
        },
        LSTM_VARIANTS_MACS,
        analog_ops=4,
        covers=(
            "bidirectional LSTM after a Transpose: bias, sequence_lens, initial states, "
            "peepholes, clip, input_forget, activations with alpha/beta"
        ),
        fixed={"lens": np.array([7, 4], np.int32)},
    ),
    Entry(
        "gru_variants",
        gru_variants,
        {"x": ((5, N, 3), np.float32)},
        GRU_VARIANTS_MACS,
        analog_ops=2 + 3,
        covers=(
            "GRU reverse with linear_before_reset (Y_h only); GRU with clip, sequence_lens, "
            "no bias, HardSigmoid/Relu (Y only)"
        ),
        fixed={"lens": np.array([5, 2], np.int32)},
    ),
    Entry(
        "rnn_variants",
        rnn_variants,
        {"x": ((N, 4, 5), np.float32), "h0": ((2, N, 6), np.float32)},
        RNN_VARIANTS_MACS,
        analog_ops=4,
        covers="bidirectional RNN after a Transpose: Relu/LeakyRelu(alpha), initial state",
    ),
    Entry(
        "attention_opset23",
        attention_opset23,
        {"x": ((N, 4, 8), np.float32)},
        ATTENTION23_ANALOG,
        ATTENTION23_DIGITAL,
        analog_ops=3,
        runner="reference",
        covers=(
            "the opset-23 Attention op (digital, MACs counted); it has no opset-21 form, so the "
            "annotated model keeps opset 23, which onnxruntime 1.32 cannot run (no "
            "RandomNormalLike-22 kernel): onnx.reference runs it, onnxruntime runs the simulation"
        ),
    ),
    Entry(
        "quantized",
        quantized,
        {"xq": ((N, 8), np.uint8), "iq": ((N, 1, 5, 5), np.uint8)},
        4 * 3,
        QUANTIZED_DIGITAL,
        analog_ops=1,
        covers="quantized integer ops (digital, MACs counted)",
    ),
    Entry(
        "transformer_block",
        transformer_block,
        {"x": ((N, 4, 8), np.float32)},
        TRANSFORMER_MACS,
        analog_ops=7,
        covers="attention written as MatMul/Softmax/LayerNorm (opset 17)",
    ),
    Entry(
        "bert_attention_dynamic",
        bert_attention_dynamic,
        {"x": ((N, "S", 8), np.float32)},
        0,
        unknown=BERT_DYNAMIC_OPS,
        analog_ops=7,
        covers=(
            "BERT-style attention exported with a dynamic sequence axis: the context product "
            "softmax(q·kᵀ)·v contracts over S, known only at run time (DynK, MatMul and Einsum)"
        ),
        dims={"S": 5},
    ),
]

from inputs_corpus import INPUT_ENTRIES  # noqa: E402  (it builds on the helpers above)
from vad_corpus import VAD_ENTRIES  # noqa: E402  (it builds on the helpers above)

ENTRIES += INPUT_ENTRIES
ENTRIES += VAD_ENTRIES
