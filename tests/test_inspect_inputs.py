"""``analogc inspect`` lists the model's inputs, which the data must match, and says so when no
op can run analog (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from click.testing import CliRunner, Result
from onnx import TensorProto, helper, numpy_helper

from analogc.cli import cli

MODELS = Path(__file__).resolve().parents[1] / "models"


def inspect(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["inspect", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


def save(model: onnx.ModelProto, path: Path) -> str:
    model.ir_version = 8
    onnx.save(model, path)
    return str(path)


def rate_model() -> onnx.ModelProto:
    """x [batch, 8] @ W, plus a sample rate ``sr`` with a default of 16000."""
    w = np.ones((8, 3), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["y"], name="proj"),
            helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT, name="cast"),
            helper.make_node("Mul", ["y", "srf"], ["out"], name="scale"),
        ],
        "rate",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
            helper.make_tensor_value_info("sr", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(np.array(16000, np.int64), "sr"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def no_matmul_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "elementwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_inspect_lists_the_inputs_the_data_needs() -> None:
    cnn = str(MODELS / "digits_cnn.onnx")
    text = inspect(cnn).stdout
    header, _, row = text.splitlines()[:3]
    assert header.split() == ["input", "dtype", "shape", "batch", "axis"], header
    assert row.split() == ["image", "float32", "[batch,", "1,", "8,", "8]", "0"], row
    document = json.loads(inspect(cnn, "--json").stdout)
    assert document["inputs"] == [
        {
            "name": "image",
            "dtype": "float32",
            "shape": ["batch", 1, 8, 8],
            "batch_axis": 0,
            "default": None,
        }
    ]


def test_inspect_shows_inputs_held_fixed_and_their_defaults(tmp_path: Path) -> None:
    path = save(rate_model(), tmp_path / "rate.onnx")
    text = inspect(path).stdout
    assert "default" in text.splitlines()[0]
    rows = {line.split()[0]: line for line in text.splitlines()[2:4]}
    assert rows["x"].split() == ["x", "float32", "[batch,", "8]", "0"], rows
    assert rows["sr"].split() == ["sr", "int64", "[]", "held", "fixed", "16000"], rows
    document = json.loads(inspect(path, "--json").stdout)
    assert document["inputs"][1] == {
        "name": "sr",
        "dtype": "int64",
        "shape": [],
        "batch_axis": None,
        "default": 16000,
    }


def test_inspect_says_when_nothing_can_run_analog(tmp_path: Path) -> None:
    text = inspect(save(no_matmul_model(), tmp_path / "relu.onnx")).stdout
    assert "no matrix-product op" in text
    assert text.splitlines()[-1].startswith("no op of this model can run analog"), text
