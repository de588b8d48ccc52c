"""Shapes known only at run time (issue 11, item 3): ops that shape inference leaves without a
rank or a static size become analog from the shapes calibration shows, and the annotated model
still reproduces the original at zero noise, for other batch sizes and lengths too."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

from corpus import ENTRIES
from helpers import annotated, plain_session, plan_for, run_plain

from analogc.calibrated import open_model
from analogc.hardware import load_hardware
from analogc.inputs import load_data
from analogc.passes import NoiseModel, discover
from analogc.passes.observed_shapes import unresolved_tensors, with_observed_shapes
from analogc.run_time_shapes import resolve_run_time_shapes
from analogc.runtime.data import Dataset
from analogc.runtime.metrics import METRICS

ZERO = NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0)
SAMPLE_RATE = next(e for e in ENTRIES if e.name == "sample_rate_if")


@pytest.fixture(scope="module")
def vad_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return SAMPLE_RATE.save(tmp_path_factory.mktemp("vad"))


def vad_feed(n: int, sr: int, seed: int = 0) -> dict[str, np.ndarray]:
    gen = np.random.default_rng(seed)
    return {
        "input": gen.standard_normal((n, 64)).astype(np.float32),
        "state": gen.standard_normal((2, n, 8)).astype(np.float32),
        "sr": np.array(sr, np.int64),
    }


def analog_names(model: onnx.ModelProto) -> set[str]:
    return {x.name for x in discover(model).analog}


@pytest.mark.parametrize(
    ("sr", "resolved", "digital"), [(16000, "conv16k", "conv8k"), (8000, "conv8k", "conv16k")]
)
def test_branch_conv_becomes_analog_from_calibration_shapes(
    vad_path: Path, sr: int, resolved: str, digital: str
) -> None:
    loaded = open_model(vad_path)
    assert {resolved, digital} <= set(unresolved_tensors(loaded.model, loaded.discovery))
    data = load_data(None, loaded.model, examples=12, values={"sr": sr})
    after, ops = resolve_run_time_shapes(loaded, data, batch_size=5)
    assert [op.name for op in ops] == [resolved], "only the branch the data takes is seen"
    assert not ops[0].fixed_sizes, "the rank sufficed: the plan holds for any size"
    assert ops[0].shapes[f"frames{resolved[4:]}"] == [[5, 1, 64], [2, 1, 64]], ops[0].shapes
    assert resolved in analog_names(after.model)
    assert digital not in analog_names(after.model), "a branch never run stays digital"
    reason = next(x.reason for x in after.discovery.digital if x.name == digital)
    assert "rank of the input is unknown" in reason, reason
    assert "no calibration batch ran it" in reason and "give data that takes" in reason, reason
    assert analog_names(loaded.model) == {"state_mm", "head"}, "the input model is not changed"


def test_resolved_model_reproduces_the_original_at_other_sizes(vad_path: Path) -> None:
    loaded = open_model(vad_path)
    data = load_data(None, loaded.model, examples=8, values={"sr": 16000})
    after, _ = resolve_run_time_shapes(loaded, data, batch_size=8)
    model = annotated(after.model, plan_for(sorted(analog_names(after.model)), ZERO, repeats=3))
    onnx.checker.check_model(model, full_check=True)
    original = onnx.load(str(vad_path))
    for n in (1, 5):  # calibration saw batches of 8 only
        feed = vad_feed(n, 16000, seed=n)
        want = run_plain(original, feed)
        got = run_plain(model, feed)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    noisy = annotated(
        after.model, plan_for(sorted(analog_names(after.model)), NoiseModel(shot=True), repeats=1)
    )
    session = plain_session(noisy)
    clean = run_plain(original, vad_feed(4, 16000))
    out = session.run(None, vad_feed(4, 16000))
    assert not np.allclose(out[0], clean[0]), "the resolved Conv adds noise"


def test_calibration_counts_the_resolved_ops_macs(vad_path: Path) -> None:
    from analogc.calibrated import CalibratedModel

    loaded = open_model(vad_path)
    data = load_data(None, loaded.model, examples=6, values={"sr": 16000})
    after, _ = resolve_run_time_shapes(loaded, data, batch_size=6)
    calibrated = CalibratedModel(
        after, load_hardware("optical-shot"), data, metric=METRICS["agreement"], batch_size=4
    )
    assert calibrated.macs["conv16k"] == 1 * 3 * 8 * 64, "C_in·k·C_out·T per example"
    assert calibrated.macs["state_mm"] == 2 * 8 * 8


def conv_transpose_model() -> onnx.ModelProto:
    """x[N, 2, H, W] -> ConvTranspose(3, k3, stride 2): the spatial size is known at run time."""
    weight = np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", strides=[2, 2])],
        "up",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H2", "W2"])],
        [numpy_helper.from_array(weight, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_conv_transpose_resolved_at_the_sizes_seen(tmp_path: Path) -> None:
    path = tmp_path / "up.onnx"
    onnx.save(conv_transpose_model(), str(path))
    loaded = open_model(path)
    reason = loaded.discovery.digital[0].reason
    assert "run-time spatial size" in reason, reason
    feed = {"x": np.random.default_rng(1).standard_normal((4, 2, 5, 5)).astype(np.float32)}

    after, ops = resolve_run_time_shapes(
        loaded, load_data(Dataset(feed), loaded.model), batch_size=3
    )
    assert [(op.name, op.fixed_sizes) for op in ops] == [("up", True)], ops
    info = after.discovery.analog[0]
    assert info.macs == 2 * 3 * 9 * 25, "C_in·C_out/G·k²·H·W per example"
    assert info.fan_in == pytest.approx(2 * 3 * 9 * 25 / (3 * 11 * 11)), "average fan-in at 5x5"
    model = annotated(after.model, plan_for(sorted(analog_names(after.model)), ZERO, repeats=2))
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_allclose(
        run_plain(model, feed)[0], run_plain(conv_transpose_model(), feed)[0], rtol=1e-5, atol=1e-5
    )


def test_observed_shapes_rank_only_and_sizes() -> None:
    """Rank only: every unknown dim stays unknown. With sizes: dims the same in every run,
    and the batch (equal to each run's example count) as the batch symbol."""
    model = conv_transpose_model()
    inferred = onnx.shape_inference.infer_shapes(model)
    observed = {"y": [(4, 3, 11, 11), (2, 3, 11, 13)]}
    rank = with_observed_shapes(inferred, {"y": [(4, 3, 11, 11)]}, examples=[4])
    sized = with_observed_shapes(inferred, observed, examples=[4, 2], sizes=True)

    def dims(m: onnx.ModelProto) -> list[object]:
        vi = next(v for v in (*m.graph.value_info, *m.graph.output) if v.name == "y")
        return [d.dim_value or d.dim_param or None for d in vi.type.tensor_type.shape.dim]

    assert dims(rank) == ["N", 3, "H2", "W2"], "rank only: symbols kept, nothing fixed"
    assert dims(sized) == ["N", 3, 11, "W2"], "sizes: the same in every run, else kept"
    # an intermediate tensor: restated
    inter = onnx.ModelProto()
    inter.CopyFrom(inferred)
    inter.graph.node.append(helper.make_node("Relu", ["y"], ["z"], name="relu"))
    inter.graph.output[0].CopyFrom(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    del inter.graph.value_info[:]
    inter = onnx.shape_inference.infer_shapes(inter)  # y: [N, 3, unk__0, unk__1]
    unknown = with_observed_shapes(inter, {"y": [(4, 3, 11, 11), (2, 3, 11, 13)]}, examples=[4, 2])
    fixed = with_observed_shapes(
        inter, {"y": [(4, 3, 11, 11), (2, 3, 11, 13)]}, examples=[4, 2], sizes=True
    )
    assert dims(unknown)[0] == "N" and dims(unknown)[1] == 3
    assert dims(fixed) == ["N", 3, 11, dims(unknown)[3]], dims(fixed)
    mixed = with_observed_shapes(inter, {"y": [(4, 3, 11), (2, 3, 11, 13)]}, examples=[4, 2])
    assert dims(mixed) == dims(unknown), "ranks that differ between runs: left alone"


def test_rank_unknown_matmul_in_main_graph(tmp_path: Path) -> None:
    """A Reshape to a shape computed at run time from a scalar input (frames per second)."""
    nodes = [
        helper.make_node("Div", ["sr", "hop"], ["frames"]),
        helper.make_node("Unsqueeze", ["frames", "zero"], ["frames1"]),
        helper.make_node("Concat", ["minus1", "frames1", "eight"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["grid"]),
        helper.make_node("Compress", ["grid", "keep"], ["kept"], axis=1),  # rank known
        helper.make_node("Squeeze", ["kept"], ["flat"]),  # no axes: rank unknown
        helper.make_node("MatMul", ["flat", "Wm"], ["y"], name="proj"),
    ]
    ints = {"hop": 8000, "zero": [0], "minus1": [-1], "eight": [8]}
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in ints.items()]
    inits += [
        numpy_helper.from_array(np.array([True, False]), "keep"),
        numpy_helper.from_array(np.ones((8, 4), np.float32), "Wm"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16]),
            helper.make_tensor_value_info("sr", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    assert "proj" not in analog_names(_named(inferred)), "the rank is lost statically"
    pending = unresolved_tensors(_named(inferred), discover(_named(inferred)))
    assert pending == {"proj": ["flat"]}, pending
    onnx.save(model, str(tmp_path / "frames.onnx"))
    loaded = open_model(tmp_path / "frames.onnx")
    gen = np.random.default_rng(2)
    feed = {"x": gen.standard_normal((6, 16)).astype(np.float32), "sr": np.array(16000)}

    after, ops = resolve_run_time_shapes(
        loaded, load_data(Dataset(feed), loaded.model), batch_size=4
    )
    assert [(op.name, op.fixed_sizes) for op in ops] == [("proj", False)]
    model_out = annotated(after.model, plan_for(["proj"], ZERO, repeats=2))
    onnx.checker.check_model(model_out, full_check=True)
    other = {"x": feed["x"][:3], "sr": feed["sr"]}
    np.testing.assert_allclose(
        run_plain(model_out, other)[0], run_plain(model, other)[0], rtol=1e-5
    )


def _named(model: onnx.ModelProto) -> onnx.ModelProto:
    from analogc.passes import name_nodes

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    name_nodes(copy)
    return copy


def test_models_without_unknown_shapes_are_left_alone(vad_path: Path) -> None:
    entry = next(e for e in ENTRIES if e.name == "state_batch_axis1")
    path = entry.save(vad_path.parent)
    loaded = open_model(path)
    data = load_data(None, loaded.model, examples=4)
    after, ops = resolve_run_time_shapes(loaded, data, batch_size=4)
    assert after is loaded and ops == []
