"""discover(): which ops run analog, their MACs and fan-in, and why the others stay digital."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from builders import (
    CASES,
    DYN_SEQ,
    DYNK,
    einsum_diagonal_model,
    einsum_model,
    einsum_three_model,
    grouped_conv_transpose,
    if_in_loop_model,
    if_model,
    local_function_model,
    loop_model,
    lstm_model,
    make_model,
    matmul_1d,
    matmul_constant_node,
    matmul_fp16,
    matmul_int_model,
    nested_loop_model,
)
from helpers import prepare
from onnx import TensorProto, helper

from analogc.passes import HANDLERS, discover, is_annotated, name_nodes, upgrade_model
from analogc.passes.scopes import locate

# Hand-computed per-example MACs and fan-in D (DESIGN §2 "Energy and cost accounting"):
#   Conv: (C_in/group)·prod(kernel)·C_out·prod(out_spatial), D = (C_in/group)·prod(kernel)
#   MatMul/Gemm: K · output elements, D = K
#   ConvTranspose: every input pixel meets every tap: C_in·C_out·prod(kernel)·prod(in_spatial),
#   D = MACs / output elements (per example).
EXPECTED = {
    # x [N,16] @ W[16,8]
    "matmul": (16 * 8, 16.0),
    # x [N,4,16] @ W[16,8]
    "matmul_batched": (16 * 4 * 8, 16.0),
    # a [N,4,12] @ b [N,12,5]
    "matmul_act": (12 * 4 * 5, 12.0),
    # x [N,16] · B[8,16]ᵀ
    "gemm": (16 * 8, 16.0),
    "gemm_neg_alpha": (16 * 8, 16.0),
    # C_in 3, 3x3, C_out 4, stride 2 pad 1: 7x7 -> 4x4
    "conv2d": (3 * 9 * 4 * 16, 27.0),
    # C_in 4, group 2 -> 2 channels per group, C_out 6, 4x4 out
    "conv2d_group": (2 * 9 * 6 * 16, 18.0),
    # depthwise: 1 channel per group
    "conv2d_depthwise": (1 * 9 * 4 * 16, 9.0),
    "conv2d_depthwise_x2": (1 * 9 * 8 * 16, 9.0),
    # 1-D: C_in 3, kernel 3 (dilation 2), C_out 5, pads (2, 1): 10 -> 9
    "conv1d": (3 * 3 * 5 * 9, 9.0),
    # C_in 3, C_out 2, 3x3, input 4x4 -> output 7x7: 864 MACs over 2·49 outputs
    "conv_transpose2d": (3 * 2 * 9 * 16, 3 * 2 * 9 * 16 / (2 * 49)),
    # ... and 8x8 with output_padding 1
    "conv_transpose2d_outpad": (3 * 2 * 9 * 16, 3 * 2 * 9 * 16 / (2 * 64)),
    # grouped: W [C_in 4, C_out/G 3, 3, 3] (C_out 6), 4x4 -> 7x7: every weight meets every pixel
    "conv_transpose2d_group": (4 * 3 * 9 * 16, 4 * 3 * 9 * 16 / (6 * 49)),
    # depthwise, multiplier 2: W [4, 2, 3, 3] (C_out 8)
    "conv_transpose2d_depthwise": (4 * 2 * 9 * 16, 4 * 2 * 9 * 16 / (8 * 49)),
    # x [N,3,16] @ v [16] -> [N,3]
    "matvec": (16 * 3, 16.0),
    # c [12] @ w [N,12,5] -> [N,5]
    "vecmat": (12 * 5, 12.0),
    # bij,bjk->bik: [4,6]·[6,5] -> [4,5]
    "einsum_bmm": (6 * 4 * 5, 6.0),
    # bhqd,bhkd->bhqk: d = 8 contracted, [2,3,4] out
    "einsum_attention": (8 * 2 * 3 * 4, 8.0),
    # bsd,df->bsf: d = 8, [3,5] out
    "einsum_projection": (8 * 3 * 5, 8.0),
    # ...ij,jk->...ik: j = 6, [2,3,4] out
    "einsum_ellipsis": (6 * 2 * 3 * 4, 6.0),
    # bij,bkj->bki: j = 6, [4,3] out
    "einsum_permuted": (6 * 4 * 3, 6.0),
    # float16: x [N,4,16] @ W [16,8]
    "matmul_f16": (16 * 4 * 8, 16.0),
    # float16 conv2d_group
    "conv2d_f16": (2 * 9 * 6 * 16, 18.0),
    # float64: x [N,4,16] @ W [16,8]
    "matmul_f64": (16 * 4 * 8, 16.0),
    # If then-branch x [N,16] @ W [16,8]
    "if_matmul": (16 * 8, 16.0),
    # Loop body x @ W, 3 iterations
    "loop_matmul": (3 * 16 * 8, 16.0),
    # Scan body xs[:, t] [N,12] @ W [12,6], 5 steps
    "scan_matmul": (5 * 12 * 6, 12.0),
    # *_dynk: the contraction runs over the symbolic sequence axis S: D and the MACs per
    # example are known only at run time (see test_dynamic_contraction_runs_analog)
    "matmul_attention_dynk": (None, None),
    "matmul_attention_dynk_f16": (None, None),
    "matmul_attention_dynk_f64": (None, None),
    "matmul_act_dynk": (None, None),
    "einsum_attention_dynk": (None, None),
    "einsum_two_dynk": (None, None),
    "loop_attention_dynk": (None, None),
}
WHERE = {
    "if_matmul": "If 'if' then_branch",
    "loop_matmul": "Loop 'loop' body",
    "scan_matmul": "Scan 'scan' body",
    "loop_attention_dynk": "Loop 'loop' body",
}


def test_every_case_has_expected_values() -> None:
    assert set(EXPECTED) == set(CASES), "add the hand-computed values for new builders"


def _layer(case_name: str):
    case = CASES[case_name]()
    found = discover(prepare(case.model))
    layers = [x for x in found.layers if x.name == case.layer]
    assert len(layers) == 1, f"{case_name}: found {found.layers}"
    return layers[0]


@pytest.mark.parametrize("case_name", list(CASES))
def test_macs_and_fan_in(case_name: str) -> None:
    layer = _layer(case_name)
    macs, fan_in = EXPECTED[case_name]
    assert layer.analog and layer.reason is None, f"{case_name}: digital because {layer.reason}"
    assert layer.where == WHERE.get(case_name, "main graph"), layer.where
    assert layer.macs == macs, f"{case_name}: {layer.macs} MACs, hand count {macs}"
    if fan_in is None:
        assert layer.fan_in is None, f"{case_name}: D = {layer.fan_in}, not known statically"
    else:
        assert layer.fan_in == pytest.approx(fan_in), f"{case_name}: D = {layer.fan_in} != {fan_in}"


@pytest.mark.parametrize("case_name", list(CASES))
def test_operand_kind(case_name: str) -> None:
    case = CASES[case_name]()
    layer = _layer(case_name)
    expected = "constant" if case.constant_weight else "activation"
    assert layer.operand == expected, f"{case_name}: operand {layer.operand}, not {expected}"


def test_constant_node_weight_is_a_constant_operand() -> None:
    found = discover(prepare(matmul_constant_node()))
    assert [(x.name, x.analog, x.operand) for x in found.layers] == [("layer", True, "constant")]


def test_macs_do_not_depend_on_the_batch() -> None:
    """Per example: the same layer with a static batch of 1 counts the same MACs."""
    case = CASES["conv2d_group"]()
    dynamic = discover(prepare(case.model)).layers[0]
    static = prepare(case.model)
    for vi in (*static.graph.input, *static.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = 1
    assert discover(prepare(static)).layers[0].macs == dynamic.macs


# -- ops that stay digital, and ops that used to -----------------------------------------------
@pytest.mark.parametrize(
    ("builder", "op_type", "words", "macs"),
    [
        # seq 5 · 1 direction · 4 gates·6 hidden · (8 inputs + 6 hidden)
        (lstm_model, "LSTM", "recurrent", 5 * 1 * 24 * (8 + 6)),
        # 'ii,ij->j' : a diagonal; products as written: i·j = 4·5
        (einsum_diagonal_model, "Einsum", "diagonal", 4 * 5),
        # three operands 'ij,jk,kl->il': index space i·j·k·l · 2 products
        (einsum_three_model, "Einsum", "two-operand", 2 * 3 * 4 * 5 * 2),
        # int32 MatMul [N,16]·[16,8]
        (matmul_int_model, "MatMul", "int32", 16 * 8),
    ],
    ids=["LSTM", "Einsum diagonal", "Einsum three operands", "int32 MatMul"],
)
def test_digital_ops_carry_a_reason_and_their_macs(builder, op_type: str, words: str, macs) -> None:
    found = discover(prepare(builder()))
    assert len(found.layers) == 1, f"expected one matrix-product op, found {found.layers}"
    layer = found.layers[0]
    assert layer.op_type == op_type
    assert not layer.analog, f"{op_type} should stay digital"
    assert found.digital == (layer,) and not found.analog
    assert layer.reason and words in layer.reason.lower(), (
        f"{op_type}: reason {layer.reason!r} does not mention {words!r}"
    )
    assert layer.macs == macs, f"{op_type}: {layer.macs} MACs, hand count {macs}"


@pytest.mark.parametrize(
    "builder",
    [einsum_model, matmul_1d, matmul_fp16, grouped_conv_transpose],
    ids=["Einsum", "1-D MatMul", "float16 MatMul", "grouped ConvTranspose"],
)
def test_formerly_digital_ops_run_analog(builder) -> None:
    found = discover(prepare(builder()))
    assert len(found.layers) == 1 and found.layers[0].analog, found.layers


@pytest.mark.parametrize(
    ("builder", "expected_layers"),
    [(if_model, {"mm_then", "mm_else"}), (loop_model, {"mm_body"})],
    ids=["If", "Loop"],
)
def test_matmul_inside_a_subgraph_runs_analog(builder, expected_layers: set[str]) -> None:
    model = prepare(builder())
    found = discover(model)
    assert {x.name for x in found.layers} == expected_layers, f"found {found.layers}"
    control = model.graph.node[0].op_type
    for layer in found.layers:
        assert layer.analog, f"{layer.name} inside {control}: {layer.reason}"
        assert control in layer.where and layer.where != "main graph", layer.where


# Per dynamic-K case: (D, MACs per example) as functions of the sequence length S.
DYNK_FACTS = {
    # a [N,2,S,S] @ v [N,2,S,4]: K = S, output [2,S,4]
    "matmul_attention_dynk": (lambda s: s, lambda s: s * 2 * s * 4),
    "matmul_attention_dynk_f16": (lambda s: s, lambda s: s * 2 * s * 4),
    "matmul_attention_dynk_f64": (lambda s: s, lambda s: s * 2 * s * 4),
    # a [N,3,S] @ b [N,S,4]: K = S, output [3,4]
    "matmul_act_dynk": (lambda s: s, lambda s: s * 3 * 4),
    # bhqk,bhkd->bhqd on [2,S,S], [2,S,4]: k = S contracted, output [2,S,4]
    "einsum_attention_dynk": (lambda s: s, lambda s: s * 2 * s * 4),
    # bij,bjik->bk on [S,3], [3,S,4]: i·j = 3S contracted, output [4]
    "einsum_two_dynk": (lambda s: 3 * s, lambda s: 3 * s * 4),
    # loop_attention_dynk: matmul_attention_dynk's product, per iteration (the body's op)
    "loop_attention_dynk": (lambda s: s, lambda s: s * 2 * s * 4),
}


def test_every_dynamic_case_has_facts() -> None:
    assert set(DYNK_FACTS) == set(DYNK)


@pytest.mark.parametrize("case_name", list(DYNK))
def test_dynamic_contraction_runs_analog(case_name: str) -> None:
    """A contraction over a symbolic axis (attention's A·V with a dynamic sequence) runs
    analog: D is taken from the run-time shapes (the DynK family, no fan_in attribute); its
    MACs count from observed shapes, as calibration counts them."""
    case = CASES[case_name]()
    model = prepare(case.model)
    (layer,) = discover(model).layers
    assert layer.analog and layer.reason is None, f"{case_name}: digital because {layer.reason}"
    assert layer.fan_in is None and layer.macs is None, layer
    assert layer.operand == "activation"
    loc = locate(model)[case.layer]
    handler = HANDLERS[loc.node.op_type]
    low = handler.lower(loc.node, loc.index, "p")
    assert not low.family.static_fan_in and low.family.name.endswith("DynK"), low.family
    d_of, macs_of = DYNK_FACTS[case_name]
    for seq in (DYN_SEQ, 11):  # MACs from per-example shapes seen at run time (batch as 1)
        shapes = {
            name: (1, *(seq if d == "S" else d for d in dims[1:]))
            for name, dims in loc.index.shapes.items()
            if dims is not None
        }
        macs = handler.macs(loc.node, loc.index, lambda t, shapes=shapes: shapes.get(t))
        assert macs == macs_of(seq), f"S={seq}: {macs} MACs, hand count {macs_of(seq)}"
        out = shapes[loc.node.output[0]]
        assert macs == d_of(seq) * int(np.prod(out)), "MACs are not D × output elements"


def test_static_contraction_keeps_its_family() -> None:
    """K known after shape inference: the static family, D in the fan_in attribute."""
    for case_name in ("matmul_act", "einsum_attention", "matvec"):
        case = CASES[case_name]()
        model = prepare(case.model)
        loc = locate(model)[case.layer]
        low = HANDLERS[loc.node.op_type].lower(loc.node, loc.index, "p")
        assert low.family.static_fan_in, (case_name, low.family)
        assert not low.family.name.endswith("DynK"), (case_name, low.family)


def test_loop_with_a_run_time_trip_count_has_unknown_macs() -> None:
    """``loop_model``'s trip count is a graph input: MACs per run are known after calibration."""
    (layer,) = discover(prepare(loop_model())).layers
    assert layer.analog and layer.iterations is None and layer.macs is None, layer


@pytest.mark.parametrize(
    ("builder", "words"),
    [(nested_loop_model, "nested"), (if_in_loop_model, "if branch within")],
    ids=["Loop in Loop", "If in Loop"],
)
def test_deeper_nesting_stays_digital_with_a_reason(builder, words: str) -> None:
    (layer,) = discover(prepare(builder())).layers
    assert not layer.analog and words in (layer.reason or "").lower(), layer
    assert layer.macs is not None, "static trip counts: the MACs are still counted"


def test_subgraph_nodes_get_unique_names() -> None:
    """Both branches name their MatMul 'mm': the names become unique model-wide."""
    model = if_model()
    for attr in model.graph.node[0].attribute:
        attr.g.node[0].name = "mm"
    names = [x.name for x in discover(prepare(model)).layers]
    assert len(set(names)) == 2, names


def test_discovery_keeps_graph_order_and_splits_analog_from_digital() -> None:
    """A model mixing an analog MatMul, an Einsum and a second MatMul."""
    w = onnx.numpy_helper.from_array(np.ones((16, 16), np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["a"], name="first"),
        helper.make_node("Einsum", ["a", "W"], ["b"], name="mid", equation="ij,jj->ij"),
        helper.make_node("MatMul", ["b", "W"], ["y"], name="last"),
    ]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 16]) for n in ("x", "y")]
    found = discover(prepare(make_model(nodes, vi[:1], vi[1:], [w])))
    assert [x.name for x in found.layers] == ["first", "mid", "last"]
    assert [x.name for x in found.analog] == ["first", "last"]
    assert [x.name for x in found.digital] == ["mid"]
    assert "diagonal" in (found.digital[0].reason or "")


def test_plain_model_is_not_annotated() -> None:
    assert not is_annotated(prepare(CASES["conv2d"]().model))


# -- name_nodes --------------------------------------------------------------------------------
def _relu_chain(names: list[str]) -> onnx.ModelProto:
    tensors = ["x", *[f"t{i}" for i in range(len(names) - 1)], "y"]
    nodes = [
        helper.make_node("Relu", [tensors[i]], [tensors[i + 1]], name=name)
        for i, name in enumerate(names)
    ]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in ("x", "y")]
    model = make_model(nodes, vi[:1], vi[1:])
    for node, name in zip(model.graph.node, names, strict=True):
        node.name = name  # make_node drops an empty name; keep duplicates as given
    return model


def test_name_nodes_names_unnamed_and_duplicate_nodes() -> None:
    model = _relu_chain(["", "dup", "keep", "dup", "", "Relu_0"])
    result = name_nodes(model)
    names = [n.name for n in model.graph.node]
    assert result.modified and result.model is model
    assert all(names), f"a node is still unnamed: {names}"
    assert len(set(names)) == len(names), f"names are not unique: {names}"
    assert names[2] == "keep", f"a unique name was changed: {names}"
    assert names[5] == "Relu_0", f"a unique name was changed: {names}"


def test_name_nodes_keeps_unique_names_and_is_idempotent() -> None:
    model = _relu_chain(["a", "b", "c"])
    assert not name_nodes(model).modified, "renamed a model whose names were all unique"
    assert [n.name for n in model.graph.node] == ["a", "b", "c"]
    model = _relu_chain(["", "", "c"])
    assert name_nodes(model).modified
    first = [n.name for n in model.graph.node]
    assert not name_nodes(model).modified, "a second pass renamed nodes again"
    assert [n.name for n in model.graph.node] == first


def test_ops_inside_local_functions_are_listed_until_inlined() -> None:
    """Not inlined (an in-memory model), a function's MatMul is listed as digital with the
    reason; through load_model's upgrade it is inlined and runs analog."""
    raw = local_function_model()
    found = discover(prepare(raw))
    assert [x.analog for x in found.layers] == [False, False], found.layers
    assert all("inline" in (x.reason or "") for x in found.layers)
    assert [x.name for x in found.layers] == ["first/MatMul_0", "second/MatMul_0"]
    model = prepare(raw)
    assert upgrade_model(model).modified and not model.functions
    found = discover(prepare(model))
    assert [x.analog for x in found.layers] == [True, True]
