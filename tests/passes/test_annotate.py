"""annotate / lower_for_simulation / strip / read_plan on every op builder and the demo model."""

from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import pytest
from builders import CASES, chain_matmuls, make_model, rng
from helpers import annotated, opset_of, plain_session, plan_for, prepare, run_plain
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import ConfigError, UnsupportedModelError
from analogc.passes import (
    LayerPlan,
    NoiseModel,
    Plan,
    annotate,
    discover,
    is_annotated,
    lower_for_simulation,
    read_plan,
    strip,
)
from analogc.passes.scopes import walk
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.simulate import Simulator

NOISE_MODELS = {
    "shot": NoiseModel(shot=True),
    "thermal": NoiseModel(thermal=True),
    "weight": NoiseModel(weight=True),
    "shot+thermal": NoiseModel(shot=True, thermal=True),
    "shot+weight": NoiseModel(shot=True, weight=True),
    "thermal+weight": NoiseModel(thermal=True, weight=True),
    "all": NoiseModel(shot=True, thermal=True, weight=True),
}
META = "pkg.analogc."


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _meta(node: onnx.NodeProto) -> dict[str, str]:
    return {e.key: e.value for e in node.metadata_props}


def _plan(model: onnx.ModelProto, noise: NoiseModel, **kwargs) -> Plan:
    return plan_for([layer.name for layer in discover(model).analog], noise, **kwargs)


def _assert_same_outputs(
    a: list[np.ndarray], b: list[np.ndarray], what: str, rtol: float | None = None
) -> None:
    """Equal outputs: exactly, or within ``rtol`` (with an absolute floor of rtol·max|y|, since
    onnxruntime may pick another float32 kernel once the weight is no longer a constant, and
    an output that cancels to ~0 then differs by rounding only)."""
    assert len(a) == len(b), f"{what}: {len(a)} outputs vs {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x.shape == y.shape, f"{what}: output {i} shape {x.shape} vs {y.shape}"
        if rtol is None:
            np.testing.assert_array_equal(x, y, err_msg=f"{what}: output {i}")
        else:
            atol = rtol * float(np.abs(y).max())
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"{what}: output {i}")


# -- every op builder × every noise model ------------------------------------------------------
@pytest.mark.parametrize("noise_name", list(NOISE_MODELS))
@pytest.mark.parametrize("case_name", list(CASES))
def test_annotated_model_checks_and_runs_in_plain_onnxruntime(
    case_name: str, noise_name: str
) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS[noise_name], repeats=3, r_x=1.5)
    ann = copy.deepcopy(model)
    library = FunctionLibrary(noise=plan.noise, opset=opset_of(model), mode="standalone")
    result = annotate(ann, plan, library)
    assert result.modified, "annotate reported no change"
    assert result.model is ann, "annotate should mutate and return the model it was given"
    onnx.checker.check_model(ann, full_check=True)
    ops = [(loc.node.domain, loc.node.op_type) for loc in walk(ann) if loc.node.name == case.layer]
    assert len(ops) == 1 and ops[0][0] == "ai.analogc", f"layer not replaced: {ops}"
    assert is_annotated(ann), "is_annotated() is False on an annotated model"

    # Stock onnxruntime (no analogc code) runs it; shapes match the original.
    feed = case.feed(rng(), 3)
    clean = run_plain(model, feed)
    noisy = plain_session(ann).run(None, feed)
    assert [o.shape for o in noisy] == [o.shape for o in clean], "output shapes changed"
    assert all(np.all(np.isfinite(o)) for o in noisy), "non-finite noisy outputs"
    assert not np.allclose(noisy[0], clean[0]), f"{noise_name}: annotated model adds no noise"


@pytest.mark.parametrize("noise_name", list(NOISE_MODELS))
@pytest.mark.parametrize("case_name", list(CASES))
def test_simulator_with_zero_scales_reproduces_the_original(
    case_name: str, noise_name: str
) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    sim = Simulator(model, plan_for([case.layer], NOISE_MODELS[noise_name]), threads=1)
    feed = case.feed(rng(), 3)
    out = sim.run(feed, scales=sim.scales(None), seed=0, batch_index=0)
    _assert_same_outputs(out, run_plain(model, feed), f"{case_name} sim scales 0", rtol=1e-5)


@pytest.mark.parametrize(
    "noise",
    [
        NoiseModel(thermal=True, k_t=0.0),
        NoiseModel(weight=True, k_w=0.0),
        NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0),
    ],
    ids=["thermal k_t=0", "weight k_w=0", "thermal+weight zero"],
)
@pytest.mark.parametrize("case_name", list(CASES))
def test_standalone_with_zero_constants_reproduces_the_original(
    case_name: str, noise: NoiseModel
) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    ann = annotated(model, plan_for([case.layer], noise, r_x=2.0))
    feed = case.feed(rng(), 3)
    _assert_same_outputs(
        run_plain(ann, feed), run_plain(model, feed), f"{case_name} zero noise", rtol=1e-5
    )


@pytest.mark.parametrize("case_name", list(CASES))
def test_lowered_simulation_graph_interface(case_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS["all"])
    library = FunctionLibrary(noise=plan.noise, opset=opset_of(model), mode="simulate")
    result, interface = lower_for_simulation(model, plan, library)
    assert result.modified
    assert [layer.name for layer in interface.layers] == [case.layer]
    inputs = {i.name for i in result.model.graph.input}
    layer = interface.layers[0]
    assert set(layer.draws) == {"eps_y", "eps_w"}, layer.draws
    for name in (layer.scale, *(d.input for d in layer.draws.values())):
        assert name in inputs, f"simulation input {name} is not a graph input"


@pytest.mark.parametrize("stats", [False, True])
@pytest.mark.parametrize(
    "case_name", ["matmul", "matmul_f16", "if_matmul", "loop_matmul", "scan_matmul"]
)
def test_lowered_simulation_graph_passes_the_checker(case_name: str, stats: bool) -> None:
    """Also with ops in subgraphs: pooled draws, Scan counters, exposed variance outputs."""
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS["all"])
    library = FunctionLibrary(noise=plan.noise, opset=opset_of(model), mode="simulate", stats=stats)
    result, interface = lower_for_simulation(model, plan, library)
    onnx.checker.check_model(result.model, full_check=True)
    (layer,) = interface.layers
    assert layer.pooled == (case_name in ("if_matmul", "loop_matmul", "scan_matmul"))
    outputs = {o.name for o in result.model.graph.output}
    assert set(layer.variances) == ({"shot", "thermal", "weight"} if stats else set())
    assert all(var in outputs for var in layer.variances.values()), (layer.variances, outputs)


# -- already annotated, unsupported layers -----------------------------------------------------
@pytest.mark.parametrize("case_name", ["matmul", "conv2d_group", "conv_transpose2d"])
def test_annotating_an_annotated_model_raises(case_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS["shot"])
    ann = annotated(model, plan)
    with pytest.raises(UnsupportedModelError, match="already annotated"):
        annotated(ann, plan)
    library = FunctionLibrary(noise=plan.noise, opset=opset_of(model), mode="simulate")
    with pytest.raises(UnsupportedModelError):
        lower_for_simulation(copy.deepcopy(ann), plan, library)
    with pytest.raises(UnsupportedModelError):
        annotated(ann, Plan(noise=plan.noise))  # even with an empty plan


def test_planned_layer_missing_raises() -> None:
    model = prepare(CASES["matmul"]().model)
    with pytest.raises(UnsupportedModelError, match="not found"):
        annotated(model, plan_for(["no_such_layer"], NOISE_MODELS["shot"]))


def test_planned_layer_that_cannot_run_analog_raises() -> None:
    w = numpy_helper.from_array(np.ones((16, 8), np.int32), "W")
    node = helper.make_node("MatMul", ["x", "W"], ["y"], name="int")
    model = make_model(
        [node],
        [helper.make_tensor_value_info("x", TensorProto.INT32, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["N", 8])],
        [w],
    )
    with pytest.raises(UnsupportedModelError, match=r"cannot run analog.*int32"):
        annotated(prepare(model), plan_for(["int"], NOISE_MODELS["shot"]))


def test_annotate_refuses_a_simulate_library_and_lower_a_standalone_one() -> None:
    model = prepare(CASES["matmul"]().model)
    plan = plan_for(["layer"], NOISE_MODELS["shot"])
    sim_lib = FunctionLibrary(noise=plan.noise, opset=17, mode="simulate")
    std_lib = FunctionLibrary(noise=plan.noise, opset=17, mode="standalone")
    with pytest.raises(ValueError):
        annotate(copy.deepcopy(model), plan, sim_lib)
    with pytest.raises(ValueError):
        lower_for_simulation(copy.deepcopy(model), plan, std_lib)


# -- strip -------------------------------------------------------------------------------------
def _assert_same_nodes(
    orig_nodes: list[onnx.NodeProto], new_nodes: list[onnx.NodeProto], plan: Plan, what: str
) -> None:
    """Same nodes, attributes and edges, subgraphs compared the same way; planned nodes carry
    their plan as metadata, the others none."""
    assert [n.name for n in new_nodes] == [n.name for n in orig_nodes], f"{what}: node names"
    for o, s in zip(orig_nodes, new_nodes, strict=True):
        label = f"{what}: node {o.name}"
        assert (s.domain, s.op_type) == (o.domain, o.op_type), f"{label}: op {s.op_type}"
        assert list(s.input) == list(o.input), f"{label}: inputs {list(s.input)}"
        assert list(s.output) == list(o.output), f"{label}: outputs {list(s.output)}"
        graphs_o = {a.name: a.g for a in o.attribute if a.type == onnx.AttributeProto.GRAPH}
        graphs_s = {a.name: a.g for a in s.attribute if a.type == onnx.AttributeProto.GRAPH}
        assert set(graphs_s) == set(graphs_o), f"{label}: subgraph attributes"
        for attr, g in graphs_o.items():
            _assert_same_nodes(list(g.node), list(graphs_s[attr].node), plan, f"{label} {attr}")
            assert [t.name for t in graphs_s[attr].initializer] == [t.name for t in g.initializer]
            assert [v.name for v in graphs_s[attr].output] == [v.name for v in g.output]
        plain = {k: v for k, v in _attrs(s).items() if k not in graphs_s}
        assert plain == {k: v for k, v in _attrs(o).items() if k not in graphs_o}, (
            f"{label}: attributes {_attrs(s)} vs {_attrs(o)}"
        )
        meta = _meta(s)
        if o.name in plan.layers:
            assert meta.get(META + "layer") == o.name, f"{label}: metadata {meta}"
            assert meta.get(META + "repeats") == str(plan.layers[o.name].repeats), label
            assert meta.get(META + "noise") == plan.noise.label, f"{label}: metadata {meta}"
        else:
            assert not meta, f"{label}: a node outside the plan got metadata {meta}"


def _assert_stripped_equals_original(
    original: onnx.ModelProto, stripped: onnx.ModelProto, plan: Plan, what: str
) -> None:
    _assert_same_nodes(list(original.graph.node), list(stripped.graph.node), plan, what)
    orig_inits = {t.name: numpy_helper.to_array(t) for t in original.graph.initializer}
    new_inits = {t.name: numpy_helper.to_array(t) for t in stripped.graph.initializer}
    assert set(new_inits) == set(orig_inits), (
        f"{what}: initializers differ: extra {set(new_inits) - set(orig_inits)}, "
        f"missing {set(orig_inits) - set(new_inits)}"
    )
    for name, value in orig_inits.items():
        np.testing.assert_array_equal(new_inits[name], value, err_msg=f"{what}: {name}")
    assert not stripped.functions, f"{what}: functions left: {[f.name for f in stripped.functions]}"
    assert [o.domain for o in stripped.opset_import] == [o.domain for o in original.opset_import]
    assert not is_annotated(stripped), f"{what}: still annotated after strip"
    assert read_plan(stripped) == plan, f"{what}: the model-level plan was not kept"
    onnx.checker.check_model(stripped, full_check=True)


@pytest.mark.parametrize("noise_name", ["shot", "weight", "all"])
@pytest.mark.parametrize("case_name", list(CASES))
def test_strip_gives_back_the_original(case_name: str, noise_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS[noise_name], repeats=5, r_x=0.5, seed=3)
    result = strip(annotated(model, plan))
    assert result.modified, "strip reported no change on an annotated model"
    _assert_stripped_equals_original(model, result.model, plan, case_name)
    feed = case.feed(rng(), 3)
    _assert_same_outputs(run_plain(result.model, feed), run_plain(model, feed), "stripped")


def test_strip_on_a_partial_plan_of_a_two_layer_model() -> None:
    model = prepare(chain_matmuls())
    names = [layer.name for layer in discover(model).analog]
    assert len(names) == 2
    plan = plan_for(names[1:], NOISE_MODELS["all"], repeats=7)
    ann = annotated(model, plan)
    untouched = next(n for n in ann.graph.node if n.name == names[0])
    assert untouched.op_type == "MatMul" and untouched.domain == "", "unplanned layer changed"
    stripped = strip(ann).model
    _assert_stripped_equals_original(model, stripped, plan, "chain")
    feed = {"x": rng().standard_normal((4, 16)).astype(np.float32)}
    _assert_same_outputs(run_plain(stripped, feed), run_plain(model, feed), "chain stripped")


def test_a_stripped_model_can_be_annotated_again() -> None:
    case = CASES["conv2d_depthwise_x2"]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS["all"], repeats=2)
    stripped = strip(annotated(model, plan)).model
    again = annotated(stripped, plan.with_repeats(8))
    onnx.checker.check_model(again, full_check=True)
    assert read_plan(again) == plan.with_repeats(8), "re-annotation did not store the new plan"
    node = next(n for n in again.graph.node if n.name == case.layer)
    assert _attrs(node)["repeats"] == 8


def test_strip_on_a_plain_model_changes_nothing() -> None:
    model = prepare(CASES["conv2d"]().model)
    before = model.SerializeToString()
    result = strip(model)
    assert not result.modified, "strip reported a change on a model analogc never touched"
    assert result.model.SerializeToString() == before


# -- plans -------------------------------------------------------------------------------------
def test_plan_round_trips_through_json() -> None:
    plan = Plan(
        noise=NoiseModel(shot=True, weight=True, k_t=0.02, k_w=0.3),
        e1=12.5,
        seed=42,
        layers={"a": LayerPlan(repeats=3, r_x=0.75), "/b/Conv": LayerPlan(repeats=64, r_x=2.0)},
    )
    text = plan.to_json()
    json.loads(text)  # valid JSON
    back = Plan.from_json(text)
    assert back == plan, f"round trip changed the plan: {back} vs {plan}"
    assert list(back.layers) == list(plan.layers), "layer order was not kept"


def test_plan_validation() -> None:
    with pytest.raises(ConfigError):
        NoiseModel()  # no term
    with pytest.raises(ConfigError):
        NoiseModel(thermal=True, k_t=-0.1)
    with pytest.raises(ConfigError):
        LayerPlan(repeats=0)
    with pytest.raises(ConfigError):
        LayerPlan(repeats=2.5)
    with pytest.raises(ConfigError):
        Plan(noise=NoiseModel(shot=True), e1=0.0)
    plan = plan_for(["a", "b"], NoiseModel(shot=True), repeats=2)
    assert {k: v.repeats for k, v in plan.with_repeats(8).layers.items()} == {"a": 8, "b": 8}
    assert plan.with_repeats({"b": 3}).layers["a"].repeats == 2
    with pytest.raises(ConfigError):
        plan.with_repeats({"c": 3})
    data = plan.to_dict()
    data["format"] = 99
    with pytest.raises(ConfigError):
        Plan.from_dict(data)


def test_function_library_needs_opset_12() -> None:
    with pytest.raises(ValueError, match="opset"):
        FunctionLibrary(noise=NoiseModel(shot=True), opset=11)


@pytest.mark.parametrize("case_name", ["gemm", "conv1d"])
def test_annotated_model_carries_its_plan(case_name: str) -> None:
    case = CASES[case_name]()
    model = prepare(case.model)
    plan = plan_for([case.layer], NOISE_MODELS["thermal"], repeats=9, r_x=3.25, e1=0.5, seed=11)
    ann = annotated(model, plan)
    assert read_plan(ann) == plan, "read_plan does not give back the plan annotate stored"
    assert read_plan(model) is None, "a plain model should carry no plan"
    node = next(n for n in ann.graph.node if n.name == case.layer)
    meta = _meta(node)
    assert meta[META + "repeats"] == "9" and meta[META + "noise"] == "thermal", meta
    assert meta[META + "original_op"] == model.graph.node[0].op_type, meta


# -- the demo model ----------------------------------------------------------------------------
def _demo_feed(demo_data: dict[str, np.ndarray], n: int = 64) -> dict[str, np.ndarray]:
    return {"image": demo_data["image"][:n]}


def test_demo_model_discovery(demo_model: onnx.ModelProto) -> None:
    found = discover(demo_model)
    ops = sorted(layer.op_type for layer in found.analog)
    assert ops == ["Conv"] * 8 + ["Gemm"], f"demo analog layers: {ops}"
    assert not found.digital, f"demo digital layers: {found.digital}"
    assert all(layer.operand == "constant" for layer in found.analog)
    assert all(layer.macs and layer.macs > 0 for layer in found.analog)


def test_demo_model_clean_accuracy(demo_model: onnx.ModelProto, demo_data) -> None:
    logits = run_plain(demo_model, {"image": demo_data["image"]})[0]
    accuracy = float(np.mean(logits.argmax(1) == demo_data["labels"]))
    assert accuracy == pytest.approx(298 / 300), f"clean calib accuracy {accuracy:.4f}"


@pytest.mark.parametrize("noise_name", ["shot", "thermal", "weight", "all"])
def test_demo_model_annotates_checks_and_runs(
    demo_model: onnx.ModelProto, demo_data, noise_name: str
) -> None:
    plan = _plan(demo_model, NOISE_MODELS[noise_name], repeats=4)
    ann = annotated(demo_model, plan)
    onnx.checker.check_model(ann, full_check=True)
    assert sum(n.domain == "ai.analogc" for n in ann.graph.node) == 9
    feed = _demo_feed(demo_data)
    clean = run_plain(demo_model, feed)[0]
    noisy = run_plain(ann, feed)[0]
    assert noisy.shape == clean.shape == (64, 10)
    assert np.all(np.isfinite(noisy))
    assert not np.allclose(noisy, clean), "no noise in the annotated demo model"


def test_demo_model_zero_noise(demo_model: onnx.ModelProto, demo_data) -> None:
    feed = _demo_feed(demo_data)
    clean = run_plain(demo_model, feed)
    ann = annotated(demo_model, _plan(demo_model, NoiseModel(weight=True, k_w=0.0)))
    _assert_same_outputs(run_plain(ann, feed), clean, "demo k_w=0", rtol=1e-5)
    sim = Simulator(demo_model, _plan(demo_model, NOISE_MODELS["all"]), threads=1)
    out = sim.run(feed, scales=sim.scales(None), seed=0, batch_index=0)
    _assert_same_outputs(out, clean, "demo simulator scales 0", rtol=1e-5)


def test_demo_model_strip_round_trip(demo_model: onnx.ModelProto, demo_data) -> None:
    plan = _plan(demo_model, NOISE_MODELS["all"], repeats=2, seed=5)
    stripped = strip(annotated(demo_model, plan)).model
    _assert_stripped_equals_original(demo_model, stripped, plan, "demo")
    feed = _demo_feed(demo_data)
    _assert_same_outputs(run_plain(stripped, feed), run_plain(demo_model, feed), "demo stripped")


def test_demo_model_noise_shrinks_with_repeats(demo_model: onnx.ModelProto, demo_data) -> None:
    """End to end: the logit noise std falls as 1/sqrt(N) (common random numbers, so the
    ratio is close even though noise propagates through nonlinear layers)."""
    sim = Simulator(demo_model, _plan(demo_model, NOISE_MODELS["shot"]), threads=1)
    feed = _demo_feed(demo_data)
    clean = run_plain(demo_model, feed)[0]
    stds = {
        n: float(np.std(sim.run(feed, scales=sim.scales(n), seed=0, batch_index=0)[0] - clean))
        for n in (100, 400)
    }
    assert stds[400] == pytest.approx(stds[100] / 2, rel=0.05), f"logit noise stds {stds}"
