"""Property-based tests: random small graphs of the analog ops, random shapes and attributes.

For every generated model: the annotated model passes ``onnx.checker`` (full_check) and runs
in stock onnxruntime; with zero noise (and in the simulation graph at zero scales) it
reproduces the original; annotating it again is refused with a clear message; ``strip`` gives
back a model with the original outputs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import onnx
import pytest
from helpers import plain_session, plan_for, prepare
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import UnsupportedModelError
from analogc.passes import NoiseModel, annotate, discover, strip
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.simulate import Simulator

F = TensorProto.FLOAT
N = "N"
ZERO = NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0)
ALL = NoiseModel(shot=True, thermal=True, weight=True)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, print_blob=True)


@dataclass
class Layer:
    """One analog op, its graph inputs (``N`` marks the batch axis) and weights."""

    node: onnx.NodeProto
    inputs: dict[str, tuple[int | str, ...]]
    output: str
    rank: int
    inits: list[onnx.TensorProto] = field(default_factory=list)


def _w(name: str, shape: tuple[int, ...], seed: int) -> onnx.TensorProto:
    gen = np.random.default_rng(seed)
    return numpy_helper.from_array(gen.standard_normal(shape).astype(np.float32), name)


@st.composite
def matmul(draw: st.DrawFn, i: int) -> Layer:
    k, m, rows = (draw(st.integers(1, 6)) for _ in range(3))
    form = draw(
        st.sampled_from(["matrix", "batched", "broadcast", "activations", "vec_w", "vec_x"])
    )
    x, w, y = f"x{i}", f"w{i}", f"y{i}"
    node = helper.make_node("MatMul", [x, w], [y], name=f"matmul{i}")
    if form == "matrix":
        return Layer(node, {x: (N, k)}, y, 2, [_w(w, (k, m), i)])
    if form == "batched":
        return Layer(node, {x: (N, rows, k)}, y, 3, [_w(w, (k, m), i)])
    if form == "broadcast":  # [N, 1, rows, k] @ [2, k, m] -> [N, 2, rows, m]
        return Layer(node, {x: (N, 1, rows, k)}, y, 4, [_w(w, (2, k, m), i)])
    if form == "activations":
        return Layer(node, {x: (N, rows, k), w: (N, k, m)}, y, 3)
    if form == "vec_w":  # [N, rows, k] @ [k] -> [N, rows]
        return Layer(node, {x: (N, rows, k)}, y, 2, [_w(w, (k,), i)])
    # a constant vector first: [k] @ [N, k, m] -> [N, m]
    node = helper.make_node("MatMul", [w, x], [y], name=f"matmul{i}")
    return Layer(node, {x: (N, k, m)}, y, 2, [_w(w, (k,), i)])


@st.composite
def gemm(draw: st.DrawFn, i: int) -> Layer:
    k, m = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    alpha = draw(st.sampled_from([1.0, 0.5, -1.25]))
    beta = draw(st.sampled_from([1.0, 2.0, 0.0]))
    bias = draw(st.sampled_from(["none", "scalar", "row", "full_row"]))
    a, b, c, y = f"a{i}", f"b{i}", f"c{i}", f"y{i}"
    inputs = {a: (k, N) if trans_a else (N, k)}
    inits = [_w(b, (m, k) if trans_b else (k, m), i)]
    names = [a, b]
    if bias != "none":
        shape = {"scalar": (), "row": (m,), "full_row": (1, m)}[bias]
        inits.append(_w(c, shape, i + 100))
        names.append(c)
    node = helper.make_node(
        "Gemm",
        names,
        [y],
        name=f"gemm{i}",
        transA=int(trans_a),
        transB=int(trans_b),
        alpha=alpha,
        beta=beta,
    )
    return Layer(node, inputs, y, 2, inits)


@st.composite
def conv(draw: st.DrawFn, i: int) -> Layer:
    nd = draw(st.integers(1, 3))
    group = draw(st.integers(1, 3))
    c_in, c_out = group * draw(st.integers(1, 2)), group * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3 if nd < 3 else 2)) for _ in range(nd)]
    dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    strides = [draw(st.integers(1, 2)) for _ in range(nd)]
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dil, strict=True)]
    spatial = [e + draw(st.integers(0, 3 if nd < 3 else 1)) for e in extent]
    attrs: dict[str, object] = {"kernel_shape": kernel, "dilations": dil, "strides": strides}
    mode = draw(st.sampled_from(["pads", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if mode.startswith("SAME"):  # onnxruntime refuses dilations with SAME padding
        attrs["dilations"] = [1] * nd
    if mode == "pads":
        attrs["pads"] = [draw(st.integers(0, k - 1)) for k in kernel * 2]
    else:
        attrs["auto_pad"] = mode
    x, w, b, y = f"x{i}", f"w{i}", f"b{i}", f"y{i}"
    inits = [_w(w, (c_out, c_in // group, *kernel), i)]
    names = [x, w]
    if draw(st.booleans()):
        inits.append(_w(b, (c_out,), i + 100))
        names.append(b)
    node = helper.make_node("Conv", names, [y], name=f"conv{i}", group=group, **attrs)
    return Layer(node, {x: (N, c_in, *spatial)}, y, 2 + nd, inits)


@st.composite
def conv_transpose(draw: st.DrawFn, i: int) -> Layer:
    nd = draw(st.integers(1, 2))
    group = draw(st.integers(1, 2))
    c_in, per_group = group * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel * 2]
    out_pad = [draw(st.integers(0, s - 1)) for s in strides]
    spatial = [draw(st.integers(2, 4)) for _ in range(nd)]
    x, w, y = f"x{i}", f"w{i}", f"y{i}"
    node = helper.make_node(
        "ConvTranspose",
        [x, w],
        [y],
        name=f"convT{i}",
        group=group,
        kernel_shape=kernel,
        strides=strides,
        pads=pads,
        output_padding=out_pad,
    )
    return Layer(node, {x: (N, c_in, *spatial)}, y, 2 + nd, [_w(w, (c_in, per_group, *kernel), i)])


EINSUMS = {
    # equation: (x axes, w axes or None if w is batched like x, output rank), sizes by letter
    "bij,bjk->bik": ("ij", "jk", True),
    "bij,jk->bik": ("ij", "jk", False),
    "bhqd,bhkd->bhqk": ("hqd", "hkd", True),
    "...ij,jk->...ik": ("aij", "jk", False),
    "bij,bkj->bki": ("ij", "kj", True),
    "bi,ij": ("i", "ij", False),
}


@st.composite
def einsum(draw: st.DrawFn, i: int) -> Layer:
    equation = draw(st.sampled_from(sorted(EINSUMS)))
    x_axes, w_axes, batched = EINSUMS[equation]
    size = {c: draw(st.integers(1, 4)) for c in "aijkhqd"}
    x, w, y = f"x{i}", f"w{i}", f"y{i}"
    node = helper.make_node("Einsum", [x, w], [y], name=f"einsum{i}", equation=equation)
    x_shape = (N, *(size[c] for c in x_axes))
    w_shape = tuple(size[c] for c in w_axes)
    rank = len(
        np.einsum(
            equation,
            np.zeros([1, *x_shape[1:]]),
            np.zeros([1, *w_shape]) if batched else np.zeros(w_shape),
        ).shape
    )
    if batched:
        return Layer(node, {x: x_shape, w: (N, *w_shape)}, y, rank)
    return Layer(node, {x: x_shape}, y, rank, [_w(w, w_shape, i)])


LAYERS = [matmul, gemm, conv, conv_transpose, einsum]


def _renamed(node: onnx.NodeProto, suffix: str) -> onnx.NodeProto:
    out = copy.deepcopy(node)
    out.name += suffix
    out.output[0] += suffix
    return out


@st.composite
def models(draw: st.DrawFn) -> tuple[onnx.ModelProto, dict[str, tuple[int | str, ...]]]:
    """1-3 analog ops in the main graph, in both branches of an If, or in a Loop body."""
    count = draw(st.integers(1, 3))
    layers = [draw(draw(st.sampled_from(LAYERS))(i)) for i in range(count)]
    opset = draw(st.sampled_from([13, 17, 21]))
    where = draw(st.sampled_from(["main", "main", "if", "loop"]))
    inputs, feeds, inits, nodes, outputs = [], {}, [], [], []
    for layer in layers:
        for name, shape in layer.inputs.items():
            inputs.append(helper.make_tensor_value_info(name, F, list(shape)))
            feeds[name] = shape
        inits += layer.inits
    if where == "main":
        nodes = [layer.node for layer in layers]
        outputs = [helper.make_tensor_value_info(x.output, F, [None] * x.rank) for x in layers]
    elif where == "if":
        branches = {}
        for attr, suffix in (("then_branch", "_then"), ("else_branch", "_else")):
            branches[attr] = helper.make_graph(
                [_renamed(x.node, suffix) for x in layers],
                attr,
                [],
                [helper.make_tensor_value_info(x.output + suffix, F, None) for x in layers],
            )
        outs = [x.output for x in layers]
        nodes = [helper.make_node("If", ["cond"], outs, name="if", **branches)]
        outputs = [helper.make_tensor_value_info(x.output, F, [None] * x.rank) for x in layers]
        inputs.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    else:
        body = helper.make_graph(
            [helper.make_node("Identity", ["c"], ["c2"], name="keep"), *(x.node for x in layers)],
            "body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            ],
            [
                helper.make_tensor_value_info("c2", TensorProto.BOOL, []),
                *(helper.make_tensor_value_info(x.output, F, None) for x in layers),
            ],
        )
        outs = [f"{x.output}_steps" for x in layers]
        nodes = [helper.make_node("Loop", ["trips", ""], outs, name="loop", body=body)]
        inits.append(numpy_helper.from_array(np.asarray(2, np.int64), "trips"))
        outputs = [
            helper.make_tensor_value_info(o, F, [None] * (x.rank + 1))
            for o, x in zip(outs, layers, strict=True)
        ]
    graph = helper.make_graph(nodes, "random", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, feeds


def _feed(shapes: dict[str, tuple[int | str, ...]], batch: int = 2) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(7)
    feed = {
        name: gen.standard_normal([batch if d == N else d for d in shape]).astype(np.float32)
        for name, shape in shapes.items()
    }
    return {**feed, "cond": np.array(True)}


def _annotate(model: onnx.ModelProto, noise: NoiseModel) -> onnx.ModelProto:
    names = [x.name for x in discover(model).analog]
    out = copy.deepcopy(model)
    opset = next(o.version for o in model.opset_import if o.domain == "")
    annotate(
        out, plan_for(names, noise, repeats=3, r_x=1.25), FunctionLibrary(noise=noise, opset=opset)
    )
    return out


def _same(got: list[np.ndarray], want: list[np.ndarray], exact: bool = False) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            atol = 1e-5 * max(1.0, float(np.abs(w).max()))
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=atol)


@SETTINGS
@given(models())
def test_annotated_random_models_check_run_and_reproduce(case) -> None:
    raw, shapes = case
    model = prepare(raw)
    found = discover(model)
    assert found.layers and all(x.analog for x in found.layers), [
        (x.name, x.reason) for x in found.layers
    ]
    assert all(x.macs and x.macs > 0 for x in found.layers)
    names = {i.name for i in model.graph.input}
    feed = {k: v for k, v in _feed(shapes).items() if k in names}
    clean = plain_session(model).run(None, feed)

    noisy_model = _annotate(model, ALL)
    onnx.checker.check_model(noisy_model, full_check=True)
    noisy = plain_session(noisy_model).run(None, feed)
    assert [o.shape for o in noisy] == [o.shape for o in clean]
    assert all(np.all(np.isfinite(o)) for o in noisy)

    zero = _annotate(model, ZERO)
    _same(plain_session(zero).run(None, feed), clean)

    sim = Simulator(model, plan_for([x.name for x in found.layers], ALL), threads=1)
    _same(sim.run(feed, scales=sim.scales(None), seed=0, batch_index=0), clean)

    with pytest.raises(UnsupportedModelError, match=r"already annotated.*strip"):
        _annotate(noisy_model, ALL)

    stripped = strip(copy.deepcopy(noisy_model)).model
    onnx.checker.check_model(stripped, full_check=True)
    _same(plain_session(stripped).run(None, feed), clean, exact=True)
