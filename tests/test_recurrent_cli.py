"""An LSTM model through the front end: inspect, compile, eval and strip; batch sizing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from recurrent_builders import Variant, recurrent_model
from test_cli import invoke

from analogc.calibrated import fit_batch_size
from analogc.passes import discover, expand_recurrent, infer_shapes, name_nodes

H, FEATURES, CLASSES = 5, 4, 3


def lstm_classifier(seq: int | str = 6) -> onnx.ModelProto:
    """x[N, seq, 4] -> Transpose -> LSTM(H 5, bias) -> last state -> Gemm(3): an exported
    batch-first LSTM classifier."""
    gen = np.random.default_rng(11)
    weights = {
        "W": gen.standard_normal((1, 4 * H, FEATURES)) / np.sqrt(FEATURES),
        "R": gen.standard_normal((1, 4 * H, H)) / np.sqrt(H),
        "B": 0.1 * gen.standard_normal((1, 8 * H)),
        "head": gen.standard_normal((H, CLASSES)),
        "shape": np.array([-1, H]),
    }
    inits = [
        numpy_helper.from_array(v.astype(np.int64 if k == "shape" else np.float32), k)
        for k, v in weights.items()
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], name="time_major", perm=[1, 0, 2]),
        helper.make_node("LSTM", ["xt", "W", "R", "B"], ["", "h"], name="lstm", hidden_size=H),
        helper.make_node("Reshape", ["h", "shape"], ["last"], name="last_state"),
        helper.make_node("Gemm", ["last", "head"], ["logits"], name="classifier"),
    ]
    graph = helper.make_graph(
        nodes,
        "lstm_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", seq, FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lstm") / "lstm.onnx"
    onnx.save(lstm_classifier(), str(path))
    return path


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_inspect_lists_the_gate_products_as_analog(model_path: Path) -> None:
    result = invoke(["inspect", str(model_path), "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)["layers"]}
    assert set(rows) == {"lstm/input_product", "lstm/recurrent_product", "classifier"}
    assert all(r["analog"] for r in rows.values()), rows
    # per step × sequence length: 6 steps · 4 gates·5 · (4 inputs, 5 hidden)
    assert rows["lstm/input_product"]["macs"] == 6 * 20 * 4
    assert rows["lstm/recurrent_product"]["macs"] == 6 * 20 * 5
    assert rows["lstm/input_product"]["fan_in"] == FEATURES
    assert rows["lstm/recurrent_product"]["fan_in"] == H
    assert rows["lstm/recurrent_product"]["where"] == "Scan 'lstm/scan' body"
    assert rows["lstm/recurrent_product"]["operand"] == "constant"
    text = invoke(["inspect", str(model_path)]).stdout
    assert "lstm/recurrent_product" in text and "3 analog ops" in text


def test_compile_eval_and_strip_an_lstm(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    invoke(
        ["compile", str(model_path), "--repeats", "4", "--max-drop", "100%", "-o", str(out), "-q"]
    )
    annotated = out / "lstm.analog.onnx"
    onnx.checker.check_model(str(annotated), full_check=True)
    report = json.loads((out / "report.json").read_text())
    rows = {r["name"]: r for r in report["layers"]}
    assert rows["lstm/recurrent_product"]["repeats"] == 4
    assert rows["lstm/recurrent_product"]["macs"] == 6 * 20 * 5
    assert report["macs"]["digital"] == 0 and not report["digital"]

    x = np.random.default_rng(0).standard_normal((8, 6, FEATURES)).astype(np.float32)
    clean = _session(model_path).run(None, {"x": x})[0]
    noisy = _session(annotated).run(None, {"x": x})[0]  # stock onnxruntime, no analogc
    assert noisy.shape == clean.shape and np.all(np.isfinite(noisy))
    assert not np.array_equal(noisy, clean)

    np.savez(tmp_path / "data.npz", x=x)
    result = invoke(["eval", str(annotated), "-d", str(tmp_path / "data.npz"), "--seeds", "2"])
    assert "clean  100.00%" in result.stdout and "noisy" in result.stdout

    stripped = tmp_path / "stripped.onnx"
    invoke(["strip", str(annotated), "-o", str(stripped)])
    model = onnx.load(str(stripped))
    lstm = next(n for n in model.graph.node if n.op_type == "LSTM")
    meta = {e.key: e.value for e in lstm.metadata_props}
    assert json.loads(meta["pkg.analogc.layers"]) == {
        "lstm/input_product": 4,
        "lstm/recurrent_product": 4,
    }
    np.testing.assert_array_equal(_session(stripped).run(None, {"x": x})[0], clean)


def test_compile_measures_macs_of_a_dynamic_sequence(tmp_path: Path) -> None:
    """Sequence length S only known at run time: calibration counts MACs per example (the
    batch is the second axis of the time-major input product) × the steps it saw (16, the
    length synthesised for an unknown axis)."""
    path = tmp_path / "dynamic.onnx"
    onnx.save(lstm_classifier(seq="S"), str(path))
    inspected = json.loads(invoke(["inspect", str(path), "--json"]).stdout)
    assert inspected["macs"]["unknown"] == ["lstm/input_product", "lstm/recurrent_product"]
    invoke(
        [
            "compile",
            str(path),
            "--repeats",
            "2",
            "--max-drop",
            "100%",
            "-o",
            str(tmp_path / "out"),
            "-q",
        ]
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rows = {r["name"]: r for r in report["layers"]}
    assert rows["lstm/input_product"]["macs"] == 16 * 20 * 4
    assert rows["lstm/recurrent_product"]["macs"] == 16 * 20 * 5


def test_batch_size_counts_every_step_of_a_recurrent_product() -> None:
    """Per example the input product holds X [40·16] and 3 × Y [40·128] once; the recurrent
    product holds H [32] and 3 × [128] at each of the 40 steps: 4 bytes × 32,640."""
    model = infer_shapes(recurrent_model(Variant(seq=40, hidden=32, input_size=16, lens=True)))
    expand_recurrent(model)
    model = infer_shapes(model)
    name_nodes(model)
    names = [x.name for x in discover(model).analog]
    per_example = 4 * ((40 * 16 + 3 * 40 * 128) + 40 * (32 + 3 * 128))
    assert fit_batch_size(model, names, 256, 10 * per_example) == 10
    assert fit_batch_size(model, names, 256, 10 * per_example - 1) == 9
