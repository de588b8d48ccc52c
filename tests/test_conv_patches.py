"""A convolution's input vectors are its patches (as aihwkit unfolds them): per-vector
conversion and full-scale read-out use each patch's abs-max, per group.

Exact against ``static_reference`` (patches cut from X by slicing, no convolution) for the DAC
and the full-scale ADC on every kind of convolution, in the simulator and the deployable
model; the read-out noise has the per-patch std (statistical, ``term_contract``).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from builders import CASES, conv2d_group_dynamic, rng
from helpers import annotated, plain_session, plan_for, prepare, run_plain
from onnx import TensorProto, helper, numpy_helper
from static_reference import EXACT, OpData, patches
from term_contract import TERM_REFERENCES, check_statistics

from analogc.passes import NoiseModel
from analogc.runtime.simulate import Simulator

CONVS = [
    "conv2d",
    "conv2d_group",
    "conv2d_group_dynamic",
    "conv2d_depthwise",
    "conv2d_depthwise_x2",
    "conv1d",
]
NOISES = {
    "dac": NoiseModel(dac=True, dac_bits=4, dac_range="per_vector"),
    "adc": NoiseModel(adc=True, adc_bits=5, adc_range="full_scale", adc_bound=2.0),
}


def _op(model: onnx.ModelProto, x: np.ndarray) -> OpData:
    w = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "W"))
    return OpData(model, x, "W", w, tuple(range(1, w.ndim)), 1, ())


def _conv_same_upper_3d() -> onnx.ModelProto:
    """A 3-D conv with auto_pad SAME_UPPER, stride 2 and no kernel_shape attribute."""
    w = rng().standard_normal((4, 2, 2, 3, 3)).astype(np.float32)
    node = helper.make_node(
        "Conv", ["x", "W"], ["y"], name="layer", auto_pad="SAME_UPPER", strides=[2, 2, 1]
    )
    graph = helper.make_graph(
        [node],
        "conv3d",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _case(name: str) -> tuple[onnx.ModelProto, np.ndarray]:
    if name == "conv3d_same_upper":
        model = prepare(_conv_same_upper_3d())
        x = rng().standard_normal((3, 2, 5, 6, 4)).astype(np.float32)
    else:
        case = conv2d_group_dynamic() if name == "conv2d_group_dynamic" else CASES[name]()
        model = prepare(case.model)
        x = case.feed(rng(), 3)["x"]
    return model, np.maximum(x, 0) * np.linspace(0.2, 2, x.shape[-1], dtype=np.float32)


@pytest.mark.parametrize("term", list(NOISES))
@pytest.mark.parametrize("name", [*CONVS, "conv3d_same_upper"])
def test_per_patch_conversion_is_exact(term: str, name: str) -> None:
    """ReLU'd, unevenly scaled inputs: a scale per patch differs from one per example."""
    model, x = _case(name)
    noise = NOISES[term]
    plan = plan_for(["layer"], noise)
    want = EXACT[term](_op(model, x), noise, plan.layers["layer"], {})
    sim = Simulator(model, plan, threads=1)
    got = sim.run({"x": x}, scales=sim.scales(1), seed=0, batch_index=0)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{term} simulator")
    deploy = annotated(model, plan)
    onnx.checker.check_model(deploy, full_check=True)
    got = plain_session(deploy).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{term} annotated")


def test_a_scale_per_patch_is_not_one_per_example() -> None:
    """The reference itself tells the two apart on these inputs (the test above can fail)."""
    model, x = _case("conv2d")
    per_patch = np.abs(patches(_op(model, x), x)).max(axis=(2, 3))
    per_example = np.abs(x).reshape(len(x), -1).max(1)
    assert (per_patch < 0.9 * per_example[:, None, None, None]).mean() > 0.3


def test_per_patch_dac_in_float16() -> None:
    case = CASES["conv2d_f16"]()
    model = prepare(case.model)
    x = case.feed(rng(), 3)["x"]
    noise = NOISES["dac"]
    plan = plan_for([case.layer], noise)
    op = _op(model, x.astype(np.float32))
    want = EXACT["dac"](op, noise, plan.layers[case.layer], {})
    got = plain_session(annotated(model, plan)).run(None, {"x": x})[0]
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float32), want, rtol=2e-2, atol=2e-2)
    clean = run_plain(model, {"x": x})[0].astype(np.float32)
    assert not np.allclose(got.astype(np.float32), clean, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", ["conv2d", "conv2d_depthwise_x2", "conv1d"])
def test_readout_noise_scales_with_each_patch(name: str) -> None:
    check_statistics("readout", TERM_REFERENCES["readout"], name, "simulator")


def test_readout_after_a_per_patch_dac() -> None:
    """With the DAC unfolding X, the read-out's scale comes from the converted patches."""
    case = CASES["conv2d_group"]()
    model = prepare(case.model)
    x = case.feed(rng(), 2)["x"]
    noise = NoiseModel(readout=True, out_noise=0.1, dac=True, dac_bits=6, dac_range="per_vector")
    plan = plan_for([case.layer], noise)
    sim = Simulator(model, plan, threads=1)
    op = _op(model, x)
    converted = EXACT["dac"](
        op, NoiseModel(dac=True, dac_bits=6, dac_range="per_vector"), plan.layers[case.layer], {}
    )
    draws = np.stack(
        [sim.run({"x": x}, scales=sim.scales(1), seed=s, batch_index=0)[0] for s in range(400)]
    )
    amax = np.abs(patches(op, x)).max(axis=(2, 3))  # [N, G, *out]
    w = op.w.reshape(op.w.shape[0], -1)
    expected = 0.1 * np.repeat(amax, 3, axis=1) * np.abs(w).max(1)[None, :, None, None]
    z = (draws - converted) / expected
    assert abs(z.std() - 1) < 5 * np.sqrt(1 / (2 * z.size))


def test_the_adc_reads_the_analog_product_and_the_bias_is_digital() -> None:
    """aihwkit's digital bias: an all-zero patch (an image's background) converts to 0 and
    keeps its bias exactly, however small the patch's scale."""
    case = CASES["conv2d"]()
    model = prepare(case.model)
    x = case.feed(rng(), 2)["x"]
    x[:, :, :, 4:] = 0.0  # the right half is background
    bias = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "B"))
    plan = plan_for([case.layer], NOISES["adc"])
    got = plain_session(annotated(model, plan)).run(None, {"x": x})[0]
    background = got[:, :, :, -1]  # output column 3 sees input columns 5-7 only
    np.testing.assert_array_equal(
        background, np.broadcast_to(bias[None, :, None], background.shape)
    )
