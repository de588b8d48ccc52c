"""LSTM, GRU and RNN expanded into a MatMul and a Scan (analogc.passes.expand_recurrent).

For every attribute, optional input and output the ONNX spec allows: the expanded model
reproduces onnxruntime's own kernel; annotated at zero noise it passes ``full_check``, runs in
stock onnxruntime and reproduces it too, as does analogc's simulation graph; ``strip`` gives
back the original node with the plan attached. What cannot be expanded stays digital with the
reason, its MACs counted.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import pytest
from helpers import annotated, plain_session, plan_for, run_plain
from onnx import TensorProto, helper, numpy_helper
from recurrent_builders import Variant, feed, recurrent_model, reference_outputs

from analogc.passes import (
    NoiseModel,
    discover,
    expand_recurrent,
    infer_shapes,
    is_annotated,
    name_nodes,
    read_plan,
    strip,
)
from analogc.passes.ops.recurrent import check
from analogc.passes.scopes import GraphIndex
from analogc.runtime.simulate import Simulator

META = "pkg.analogc."
ZERO = NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0)
ALL = NoiseModel(shot=True, thermal=True, weight=True)

ALL_ACTIVATIONS = (
    "Relu",
    "Tanh",
    "Sigmoid",
    "Affine",
    "LeakyRelu",
    "ThresholdedRelu",
    "ScaledTanh",
    "HardSigmoid",
    "Elu",
    "Softsign",
    "Softplus",
)

V = Variant
VARIANTS: dict[str, Variant] = {
    # LSTM
    "lstm": V(bias=False),
    "lstm_bias": V(),
    "lstm_reverse": V(direction="reverse"),
    "lstm_bidirectional": V(direction="bidirectional"),
    "lstm_layout1": V(layout=1),
    "lstm_layout1_bidirectional_lens_states": V(
        layout=1, direction="bidirectional", lens=True, initial_h=True, initial_c=True
    ),
    "lstm_lens": V(lens=True),
    "lstm_reverse_lens": V(direction="reverse", lens=True),
    "lstm_bidirectional_lens": V(direction="bidirectional", lens=True),
    "lstm_initial_states": V(initial_h=True, initial_c=True),
    "lstm_initial_c_only": V(initial_c=True),  # initial_h is "" between present inputs
    "lstm_peepholes": V(peepholes=True),
    "lstm_peepholes_no_bias": V(peepholes=True, bias=False),  # B is "" before P
    "lstm_peepholes_clip_states": V(
        direction="bidirectional", peepholes=True, clip=0.6, initial_h=True, initial_c=True
    ),
    "lstm_clip": V(clip=0.5),
    "lstm_input_forget": V(input_forget=True),
    "lstm_input_forget_peepholes_reverse": V(
        input_forget=True, peepholes=True, direction="reverse"
    ),
    "lstm_activations": V(
        direction="bidirectional",
        activations=("HardSigmoid", "LeakyRelu", "ScaledTanh", "Sigmoid", "Softsign", "Elu"),
        alpha=(0.3, 0.2, 0.9, 0.7),
        beta=(0.6, 1.3),
    ),
    "lstm_activations_defaults": V(
        activations=("HardSigmoid", "ThresholdedRelu", "Elu"), alpha=(0.25,)
    ),
    "lstm_only_y": V(outputs=("Y",)),
    "lstm_only_y_h": V(outputs=("Y_h",)),
    "lstm_only_y_c": V(outputs=("Y_c",), lens=True),
    "lstm_states_only": V(outputs=("Y_h", "Y_c"), direction="bidirectional"),
    "lstm_no_hidden_size_attr": V(hidden_size_attr=False),
    "lstm_opset12": V(opset=12, direction="bidirectional", lens=True),
    "lstm_opset21": V(opset=21, layout=1, peepholes=True),
    "lstm_float16": V(dtype=TensorProto.FLOAT16, initial_h=True),
    "lstm_float64": V(dtype=TensorProto.DOUBLE, direction="bidirectional", peepholes=True),
    # GRU
    "gru": V(op="GRU", bias=False),
    "gru_bias": V(op="GRU"),
    "gru_linear_before_reset": V(op="GRU", linear_before_reset=True),
    "gru_linear_before_reset_no_bias": V(op="GRU", linear_before_reset=True, bias=False),
    "gru_linear_before_reset_0_attr": V(op="GRU", linear_before_reset=False),
    "gru_reverse_lbr": V(op="GRU", direction="reverse", linear_before_reset=True),
    "gru_bidirectional": V(op="GRU", direction="bidirectional", initial_h=True),
    "gru_bidirectional_lens_lbr": V(
        op="GRU", direction="bidirectional", lens=True, linear_before_reset=True
    ),
    "gru_layout1": V(op="GRU", layout=1, lens=True, initial_h=True),
    "gru_clip": V(op="GRU", clip=0.4),
    "gru_clip_lbr": V(op="GRU", clip=0.4, linear_before_reset=True),
    "gru_activations": V(
        op="GRU",
        direction="bidirectional",
        activations=("Relu", "Affine", "HardSigmoid", "Softplus"),
        alpha=(0.8, 0.3),
        beta=(0.1, 0.4),
    ),
    "gru_only_y_h": V(op="GRU", outputs=("Y_h",), lens=True),
    "gru_only_y": V(op="GRU", outputs=("Y",)),
    "gru_float64": V(op="GRU", dtype=TensorProto.DOUBLE, linear_before_reset=True),
    # RNN
    "rnn": V(op="RNN", bias=False),
    "rnn_bias": V(op="RNN"),
    "rnn_reverse": V(op="RNN", direction="reverse", initial_h=True),
    "rnn_bidirectional": V(op="RNN", direction="bidirectional", lens=True),
    "rnn_layout1_bidirectional": V(op="RNN", layout=1, direction="bidirectional"),
    "rnn_clip": V(op="RNN", clip=0.3),
    "rnn_lens_initial_h": V(op="RNN", lens=True, initial_h=True),
    "rnn_reverse_lens_initial_h": V(op="RNN", direction="reverse", lens=True, initial_h=True),
    "gru_reverse_lens_initial_h": V(op="GRU", direction="reverse", lens=True, initial_h=True),
    "rnn_only_y_h": V(op="RNN", outputs=("Y_h",)),
    "rnn_opset13": V(op="RNN", opset=13, direction="reverse", initial_h=True),
    **{
        f"rnn_{name.lower()}": V(
            op="RNN",
            direction="bidirectional",
            activations=(name, name),
            alpha=(0.7, 1.2),
            beta=(0.2, -0.1),
        )
        for name in ALL_ACTIVATIONS
    },
    "rnn_defaults_thresholded_relu": V(op="RNN", activations=("ThresholdedRelu",)),
    "rnn_defaults_leaky_elu": V(
        op="RNN", direction="bidirectional", activations=("LeakyRelu", "Elu")
    ),
    "rnn_mixed_alpha_per_direction": V(
        op="RNN", direction="bidirectional", activations=("Tanh", "LeakyRelu"), alpha=(0.5, 0.3)
    ),
    "rnn_two_activations_one_direction": V(op="RNN", activations=("Relu", "Tanh")),
    "gru_lower_case_activations_defaults": V(op="GRU", activations=("hardsigmoid", "elu")),
}


def _tolerance(dtype: int) -> float:
    """float32: 1e-5; float16 models compute in float16 (and onnxruntime's kernel in float32)."""
    return 4e-3 if dtype == TensorProto.FLOAT16 else 1e-5


def assert_close(got: list[np.ndarray], want: list[np.ndarray], v: Variant, what: str) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    rtol = _tolerance(v.dtype)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}: output {k} {g.dtype}{g.shape}"
        np.testing.assert_allclose(
            g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=rtol, err_msg=what
        )


def expanded(model: onnx.ModelProto) -> onnx.ModelProto:
    """What analogc's commands work on: shapes inferred, recurrent ops expanded, nodes named."""
    model = infer_shapes(copy.deepcopy(model))
    assert expand_recurrent(model).modified
    model = infer_shapes(model)
    name_nodes(model)
    return model


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def case(request: pytest.FixtureRequest) -> tuple[Variant, onnx.ModelProto, dict, list]:
    v = VARIANTS[request.param]
    model = recurrent_model(v)
    inputs = feed(v)
    return v, model, inputs, reference_outputs(v, inputs)


def test_expansion_reproduces_onnxruntime(case) -> None:
    v, model, inputs, want = case
    model = expanded(model)
    onnx.checker.check_model(model, full_check=True)
    assert not any(n.op_type == v.op for n in model.graph.node)
    assert_close(run_plain(model, inputs), want, v, "expanded")


def test_gate_products_are_analog_and_named_after_the_node(case) -> None:
    v, model, _, _ = case
    found = discover(expanded(model))
    assert not found.digital, found.digital
    tags = ["rec/forward", "rec/reverse"] if v.directions == 2 else ["rec"]
    products = ["input_product", "recurrent_product"]
    if v.op == "GRU" and not v.linear_before_reset:
        products.append("reset_product")
    assert sorted(x.name for x in found.analog) == sorted(
        f"{t}/{p}" for t in tags for p in products
    )
    for layer in found.analog:
        assert layer.op_type == "MatMul" and layer.operand == "constant", layer
        if layer.name.endswith("input_product"):
            assert layer.where == "main graph"
        else:
            assert layer.where.startswith("Scan 'rec/") and layer.where.endswith("/scan' body")


def test_annotated_at_zero_noise_checks_runs_and_reproduces(case) -> None:
    v, model, inputs, want = case
    work = expanded(model)
    plan = plan_for([x.name for x in discover(work).analog], ZERO, repeats=3)
    deployed = annotated(work, plan)
    onnx.checker.check_model(deployed, full_check=True)
    assert is_annotated(deployed)
    assert_close(plain_session(deployed).run(None, inputs), want, v, "annotated, zero noise")


def test_simulation_graph_reproduces_at_zero_noise(case) -> None:
    v, model, inputs, want = case
    work = expanded(model)
    sim = Simulator(work, plan_for([x.name for x in discover(work).analog], ALL), threads=1)
    assert_close(sim.run(inputs, scales=sim.scales(None), seed=0, batch_index=0), want, v, "sim")
    noisy = sim.run(inputs, scales=sim.scales(1), seed=0, batch_index=0)
    assert all(np.all(np.isfinite(o.astype(np.float64))) for o in noisy)
    assert any(not np.array_equal(n, w) for n, w in zip(noisy, want, strict=True))


def _without_plan(node: onnx.NodeProto) -> onnx.NodeProto:
    out = copy.deepcopy(node)
    kept = [e for e in out.metadata_props if not e.key.startswith(META)]
    del out.metadata_props[:]
    out.metadata_props.extend(kept)
    return out


def test_strip_gives_back_the_original_node_with_its_plan(case) -> None:
    _, model, _, _ = case
    work = expanded(model)
    names = [x.name for x in discover(work).analog]
    plan = plan_for(names, ALL, repeats={n: 2 + k for k, n in enumerate(names)})
    stripped = annotated(work, plan)
    assert strip(stripped).modified
    (node,) = stripped.graph.node
    original = model.graph.node[0]
    assert _without_plan(node) == original, f"{node}\nvs\n{original}"
    meta = {e.key: e.value for e in node.metadata_props}
    assert json.loads(meta[META + "layers"]) == {n: 2 + k for k, n in enumerate(names)}
    assert meta[META + "noise"] == ALL.label
    want = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    got = {t.name: numpy_helper.to_array(t) for t in stripped.graph.initializer}
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert not stripped.functions and not is_annotated(stripped)
    assert read_plan(stripped) == plan
    # analogc eval strips, then expands again: the same layers must come back.
    again = discover(expanded(stripped))
    assert [x.name for x in again.analog] == names


# -- beyond one node ------------------------------------------------------------------------------
def test_an_unnamed_node_gets_a_name_and_strip_keeps_it() -> None:
    v = Variant(direction="bidirectional")
    model = recurrent_model(v)
    model.graph.node[0].name = ""
    work = expanded(model)
    assert sorted(x.name for x in discover(work).analog)[0] == "LSTM_0/forward/input_product"
    plan = plan_for([x.name for x in discover(work).analog], ALL)
    stripped = annotated(work, plan)
    strip(stripped)
    (node,) = stripped.graph.node
    assert node.name == "LSTM_0"
    node.name = ""
    assert _without_plan(node) == model.graph.node[0]


def test_weights_that_are_graph_inputs_or_shared_are_left_in_place() -> None:
    """W as a graph input is transposed in the graph (an activation operand); R shared with
    another op is copied for the expansion and kept; strip restores the graph as it was."""
    v = Variant(op="GRU", linear_before_reset=True)
    model = recurrent_model(v)
    w = next(t for t in model.graph.initializer if t.name == "W")
    r = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "R"))
    kept = [t for t in model.graph.initializer if t.name != "W"]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w.dims)))
    model.graph.node.append(helper.make_node("ReduceSum", ["R"], ["r_sum"], name="uses_r"))
    model.graph.output.append(helper.make_tensor_value_info("r_sum", TensorProto.FLOAT, None))
    inputs = {**feed(v), "W": numpy_helper.to_array(w)}
    want = run_plain(model, inputs)
    work = expanded(model)
    assert_close(run_plain(work, inputs), want, v, "W as input, R shared")
    operands = {x.name: x.operand for x in discover(work).analog}
    assert operands == {"rec/input_product": "activation", "rec/recurrent_product": "constant"}
    assert "R" in {t.name for t in work.graph.initializer}
    plan = plan_for(list(operands), ZERO)
    deployed = annotated(work, plan)
    assert_close(plain_session(deployed).run(None, inputs), want, v, "annotated")
    strip(deployed)
    assert [n.op_type for n in deployed.graph.node] == ["GRU", "ReduceSum"]
    restored = {t.name: numpy_helper.to_array(t) for t in deployed.graph.initializer}
    assert set(restored) == {"R", "B"}
    np.testing.assert_array_equal(restored["R"], r)


def test_two_recurrent_layers_in_sequence() -> None:
    """A batch-first model: Transpose -> LSTM -> Squeeze -> GRU(layout 1), then both restored."""
    lstm = recurrent_model(Variant(direction="bidirectional"), name="lstm")
    gru = recurrent_model(Variant(op="GRU", layout=1, input_size=10, hidden=3), name="gru")
    nodes = [
        helper.make_node("Transpose", ["x"], ["X"], name="to_time", perm=[1, 0, 2]),
        lstm.graph.node[0],
        helper.make_node("Transpose", ["Y"], ["yt"], name="to_batch", perm=[2, 0, 1, 3]),
        helper.make_node("Reshape", ["yt", "shape"], ["g_in"], name="merge_directions"),
    ]
    second = copy.deepcopy(gru.graph.node[0])
    second.input[0] = "g_in"
    del second.output[:]
    second.output.extend(["", "y"])
    nodes.append(second)
    inits = [
        *lstm.graph.initializer,
        *(
            numpy_helper.from_array(numpy_helper.to_array(t), f"g_{t.name}")
            for t in gru.graph.initializer
        ),
        numpy_helper.from_array(np.array([0, 6, 10], np.int64), "shape"),
    ]
    for k, name in enumerate(("W", "R", "B")):
        second.input[k + 1] = f"g_{name}"
    graph = helper.make_graph(
        nodes,
        "two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(3).standard_normal((2, 6, 4)).astype(np.float32)
    work = expanded(model)
    found = discover(work)
    assert len(found.analog) == 4 + 3 and not found.digital  # GRU: input, recurrent, reset
    # per example: LSTM 2 directions · 6 steps · 20 · (4 + 5); GRU 6 · 9 · (10 + 3)
    assert sum(layer.macs for layer in found.analog) == 2 * 6 * 20 * 9 + 6 * 9 * 13
    # onnxruntime cannot run the layout-1 GRU: compare with its layout-0 twin.
    twin = copy.deepcopy(model)
    g = twin.graph.node[4]
    g.attribute.remove(next(a for a in g.attribute if a.name == "layout"))
    g.input[0] = "g_in_t"
    twin.graph.node.insert(
        4, helper.make_node("Transpose", ["g_in"], ["g_in_t"], name="t", perm=[1, 0, 2])
    )
    g.output[1] = "y_t"
    twin.graph.node.append(helper.make_node("Transpose", ["y_t"], ["y"], perm=[1, 0, 2]))
    want = run_plain(twin, {"x": x})
    assert_close(run_plain(work, {"x": x}), want, Variant(), "two layers")
    plan = plan_for([x.name for x in found.analog], ZERO)
    deployed = annotated(work, plan)
    onnx.checker.check_model(deployed, full_check=True)
    assert_close(plain_session(deployed).run(None, {"x": x}), want, Variant(), "annotated")
    strip(deployed)
    assert [n.op_type for n in deployed.graph.node] == [n.op_type for n in model.graph.node]


def _in_if(v: Variant) -> onnx.ModelProto:
    """The recurrent node in an If's then-branch (the else-branch passes X's first step)."""
    inner = recurrent_model(v)
    node = inner.graph.node[0]
    out_vi = next(o for o in inner.graph.output if o.name == "Y_h")
    then_g = helper.make_graph([node], "then", [], [out_vi])
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["h0"], ["Y_h_else"], name="keep")],
        "else",
        [],
        [helper.make_tensor_value_info("Y_h_else", TensorProto.FLOAT, None)],
    )
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    graph = helper.make_graph(
        [
            helper.make_node(
                "If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g
            )
        ],
        "if",
        [*inner.graph.input, cond],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(inner.graph.initializer),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_recurrent_op_in_an_if_branch_is_expanded() -> None:
    v = Variant(op="LSTM", initial_h=True, outputs=("Y_h",), lens=True)
    model = _in_if(v)
    inputs = {**feed(v), "cond": np.array(True)}
    (want,) = reference_outputs(v, {k: a for k, a in inputs.items() if k != "cond"})
    work = expanded(model)
    found = discover(work)
    assert [x.analog for x in found.layers] == [True, True], found.layers
    assert_close(run_plain(work, inputs), [want], v, "in an If branch")
    plan = plan_for([x.name for x in found.analog], ZERO)
    deployed = annotated(work, plan)
    onnx.checker.check_model(deployed, full_check=True)
    assert_close(plain_session(deployed).run(None, inputs), [want], v, "annotated")
    sim = Simulator(work, plan_for([x.name for x in found.analog], ALL), threads=1)
    assert_close(sim.run(inputs, scales=sim.scales(None), seed=0, batch_index=0), [want], v, "sim")
    strip(deployed)
    branch = next(a.g for a in deployed.graph.node[0].attribute if a.name == "then_branch")
    assert [n.op_type for n in branch.node] == ["LSTM"]


# -- what stays digital ---------------------------------------------------------------------------
def _in_loop(v: Variant, trips: int = 3) -> onnx.ModelProto:
    inner = recurrent_model(v)
    node = inner.graph.node[0]
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"], name="cond"), node],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None),
        ],
    )
    del node.output[:]
    node.output.extend(["", "Y_h"])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", ""], ["stacked"], name="loop", body=body)],
        "loop",
        list(inner.graph.input),
        [helper.make_tensor_value_info("stacked", TensorProto.FLOAT, None)],
        [*inner.graph.initializer, numpy_helper.from_array(np.array(trips, np.int64), "trips")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_recurrent_op_inside_a_loop_stays_digital_with_its_macs() -> None:
    v = Variant(lens=True)  # lens [N]: N is the batch, so MACs are known per example
    model = infer_shapes(_in_loop(v))
    assert not expand_recurrent(model).modified
    name_nodes(model)
    (layer,) = discover(model).layers
    assert not layer.analog and "loop in a loop" in (layer.reason or "")
    assert layer.reason.startswith("recurrent op (LSTM) stays digital: inside the Loop 'loop'")
    assert layer.macs == 3 * v.macs()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"activations": ["Sigmoid", "Tanh", "Tanh"], "direction": "bidirectional"}, "takes 6"),
        ({"activations": ["Sigmoid", "Gelu", "Tanh"]}, "'gelu' is not one"),
        ({"direction": "sideways"}, "direction 'sideways'"),
        ({"hidden_size": 7}, "hidden_size 7"),
        ({"output_sequence": 1}, "attribute 'output_sequence'"),
    ],
    ids=["activation count", "unknown activation", "direction", "hidden_size", "old attribute"],
)
def test_what_cannot_be_expanded_stays_digital_with_the_reason(change, words: str) -> None:
    v = Variant(lens=True)
    model = recurrent_model(v)
    node = model.graph.node[0]
    for key, value in change.items():
        existing = [a for a in node.attribute if a.name == key]
        for a in existing:
            node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(key, value))
    if change.get("direction") == "bidirectional":  # weights for two directions
        for t in model.graph.initializer:
            value = numpy_helper.to_array(t)
            t.CopyFrom(numpy_helper.from_array(np.concatenate([value, value]), t.name))
    model = infer_shapes(model) if "hidden_size" not in change else model
    name_nodes(model)
    assert not expand_recurrent(model).modified
    (layer,) = discover(model).layers
    assert not layer.analog and words in (layer.reason or ""), layer.reason
    assert layer.reason.startswith("recurrent op (LSTM) stays digital: ")
    assert layer.macs == (2 if "bidirectional" in str(change) else 1) * v.macs()


def test_unknown_input_rank_stays_digital() -> None:
    model = recurrent_model(Variant())
    model.graph.input[0].type.tensor_type.ClearField("shape")
    model = infer_shapes(model)
    node = model.graph.node[0]
    assert check(node, GraphIndex(model), ()) == (
        "input X ('X') has unknown after shape inference; 3 needed"
    )


def test_discovery_without_expansion_says_how_to_expand() -> None:
    model = infer_shapes(recurrent_model(Variant(lens=True)))
    name_nodes(model)
    (layer,) = discover(model).layers
    assert not layer.analog and "expand_recurrent" in (layer.reason or "")
    assert layer.macs == Variant().macs()


def test_expansion_is_idempotent_and_leaves_other_models_alone() -> None:
    work = expanded(recurrent_model(Variant()))
    before = work.SerializeToString()
    assert not expand_recurrent(work).modified
    assert work.SerializeToString() == before


def test_the_users_model_is_not_modified() -> None:
    model = recurrent_model(Variant(direction="bidirectional"))
    before = model.SerializeToString()
    expanded(model)
    assert model.SerializeToString() == before


def test_float16_variant_is_really_float16() -> None:
    """The float16 expansion computes in float16: its products lower to the F16 family."""
    v = VARIANTS["lstm_float16"]
    work = expanded(recurrent_model(v))
    plan = plan_for([x.name for x in discover(work).analog], ALL)
    deployed = annotated(work, plan)
    assert {f.name for f in deployed.functions} == {"AnalogMatMulF16"}
