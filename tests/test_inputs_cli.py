"""``analogc compile`` and ``eval`` on streaming speech models as a new user meets them
(issue 11): a scalar sample rate read by an If, a state with the batch on axis 1, chunks of
any length; with a folder of feeds and without data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

from corpus import ENTRIES

from analogc.cli import cli
from analogc.report import EXIT_OK, EXIT_USAGE

FAST = ["-n", "4", "--max-drop", "100%", "-q"]  # fixed repeats, any drop: exit 0


def invoke(args: list[str], exit_code: int = EXIT_OK) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == exit_code, (
        f"analogc {' '.join(map(str, args))} exited {result.exit_code}, expected {exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("analogc: error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


def saved(name: str, folder: Path) -> Path:
    where = folder / name
    if not where.exists():
        where.mkdir()
        next(e for e in ENTRIES if e.name == name).save(where)
    return where / f"{name}.onnx"


def vad_feeds(folder: Path, sizes: tuple[int, ...] = (3, 5, 1, 4)) -> Path:
    """One complete feed per file, a different batch size in each, labels per feed."""
    feeds = folder / "vad_feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    gen = np.random.default_rng(7)
    for i, n in enumerate(sizes):
        np.savez(
            feeds / f"{i:03d}.npz",
            input=gen.standard_normal((n, 64)).astype(np.float32),
            state=gen.standard_normal((2, n, 8)).astype(np.float32),
            sr=np.array(16000, np.int64),
            labels=gen.integers(0, 4, n),
        )
    return feeds


def report_of(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def run_annotated(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def test_compile_with_a_folder_of_feeds(folder: Path) -> None:
    model = saved("sample_rate_if", folder)
    out = folder / "with_feeds"
    result = invoke(["compile", model, "-d", vad_feeds(folder), "--feeds", "-o", out, *FAST])
    report = report_of(out)
    data = report["data"]
    assert data["examples"] == 13 and data["feeds"] == 4, data
    assert data["batch_axes"] == {"input": 0, "sr": None, "state": 1}, data["batch_axes"]
    assert data["values"] == {"sr": {"value": 16000, "from": "data"}}, data["values"]
    assert [op["name"] for op in data["resolved_shapes"]] == ["conv16k"], data["resolved_shapes"]
    assert report["metric"]["name"] == "accuracy", "labels per feed give accuracy"
    layers = {row["name"]: row for row in report["layers"]}
    assert set(layers) == {"conv16k", "state_mm", "head"}, sorted(layers)
    assert layers["conv16k"]["macs"] == 3 * 8 * 64
    assert "sr = 16000 (from the data)" in result.stdout, result.stdout
    assert "analog from shapes seen in the data" in result.stdout and "conv16k" in result.stdout
    gen = np.random.default_rng(0)
    outputs = run_annotated(
        out / "sample_rate_if.analog.onnx",
        {
            "input": gen.standard_normal((2, 64)).astype(np.float32),
            "state": gen.standard_normal((2, 2, 8)).astype(np.float32),
            "sr": np.array(16000, np.int64),
        },
    )
    assert outputs[0].shape == (2, 4) and outputs[1].shape == (2, 2, 8)


def test_chunks_are_joined_along_each_inputs_batch_axis(folder: Path) -> None:
    """Without --feeds, files whose sizes agree are joined (the state along its axis 1)."""
    model = saved("sample_rate_if", folder)
    out = folder / "joined"
    invoke(["compile", model, "-d", vad_feeds(folder), "-o", out, *FAST])
    data = report_of(out)["data"]
    assert data["examples"] == 13 and data["feeds"] is None, data


def test_feeds_that_differ_are_not_joined_without_the_flag(folder: Path) -> None:
    model = saved("sample_rate_if", folder)
    feeds = vad_feeds(folder / "two_rates", (2, 3))
    first = dict(np.load(feeds / "000.npz"))
    np.savez(feeds / "000.npz", **{**first, "sr": np.array(8000, np.int64)})
    out = folder / "two_rates_out"
    result = invoke(["compile", model, "-d", feeds, "-o", out, *FAST], EXIT_USAGE)
    message = one_line_error(result)
    assert "input 'sr' is held fixed" in message and "--feeds" in message, message
    invoke(["compile", model, "-d", feeds, "--feeds", "-o", out, *FAST])
    assert report_of(out)["data"]["values"] == {"sr": {"value": "varies", "from": "data"}}


def test_compile_without_data_needs_the_sample_rate(folder: Path) -> None:
    model = saved("sample_rate_if", folder)
    result = invoke(["compile", model, "-o", folder / "no_rate", *FAST], EXIT_USAGE)
    message = one_line_error(result)
    assert "input 'sr'" in message and "--set sr=VALUE" in message, message
    assert not (folder / "no_rate").exists(), "nothing is written on a usage error"


def test_compile_without_data_with_set(folder: Path) -> None:
    model = saved("sample_rate_if", folder)
    out = folder / "synthetic"
    result = invoke(["compile", model, "--set", "sr=16000", "-o", out, *FAST])
    data = report_of(out)["data"]
    assert data["synthetic"] and data["examples"] == 64 and data["feeds"] is None
    assert data["values"] == {"sr": {"value": 16000, "from": "--set"}}
    assert "sr = 16000 (--set)" in result.stdout, result.stdout
    assert "conv16k" in {row["name"] for row in report_of(out)["layers"]}


def test_eval_with_feeds_and_another_rate(folder: Path) -> None:
    model = saved("sample_rate_if", folder)
    out = folder / "for_eval"
    invoke(["compile", model, "-d", vad_feeds(folder), "--feeds", "-o", out, *FAST])
    annotated = out / "sample_rate_if.analog.onnx"
    result = invoke(["eval", annotated, "-d", vad_feeds(folder), "--feeds", "--seeds", "2"])
    assert "accuracy on 13 examples" in result.stdout, result.stdout
    # Another rate takes the other branch, whose Conv was never planned: it runs digital.
    result = invoke(
        ["eval", annotated, "-d", vad_feeds(folder), "--feeds", "--set", "sr=8000", "--seeds", "2"]
    )
    assert "sr = 8000 (--set)" in result.stdout, result.stdout


def test_streaming_chunks_of_any_length(folder: Path) -> None:
    model = saved("streaming_chunk", folder)
    feeds = folder / "chunks"
    feeds.mkdir()
    gen = np.random.default_rng(3)
    for i, (n, t) in enumerate([(3, 32), (5, 48), (2, 20)]):
        np.savez(
            feeds / f"chunk{i}.npz",
            chunk=gen.standard_normal((n, t)).astype(np.float32),
            cache=gen.standard_normal((n, 4, 2)).astype(np.float32),
        )
    out = folder / "chunked"
    invoke(["compile", model, "-d", feeds, "--feeds", "-o", out, *FAST])
    report = report_of(out)
    assert report["data"]["feeds"] == 3 and report["data"]["examples"] == 10
    assert {row["name"] for row in report["layers"]} == {"conv1", "conv2", "head"}
    outputs = run_annotated(
        out / "streaming_chunk.analog.onnx",
        {"chunk": np.ones((1, 7), np.float32), "cache": np.zeros((1, 4, 2), np.float32)},
    )
    assert outputs[0].shape == (1, 3), "a length calibration never saw"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-axis", "state"], "'state' is not NAME=VALUE"),
        (["--batch-axis", "state=one"], "the axis is an integer, or none"),
        (["--set", "=3"], "'=3' is not NAME=VALUE"),
    ],
)
def test_malformed_options_are_usage_errors(folder: Path, args: list[str], expected: str) -> None:
    result = invoke(["compile", saved("sample_rate_if", folder), *args, *FAST], EXIT_USAGE)
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-axis", "state=5", "--set", "sr=1"], "input 'state' is float32[2, N, 8]"),
        (["--set", "sr=fast"], "--set sr=fast: not a int64 value for input 'sr'"),
        (["--set", "rate=16000"], "the model has no input 'rate'"),
    ],
)
def test_bad_values_are_one_line_errors(folder: Path, args: list[str], expected: str) -> None:
    result = invoke(["compile", saved("sample_rate_if", folder), *args, *FAST], EXIT_USAGE)
    assert expected in one_line_error(result)


def test_inspect_says_compile_resolves_run_time_shapes(folder: Path) -> None:
    result = invoke(["inspect", saved("sample_rate_if", folder)])
    assert "rank of the input is unknown after shape inference" in result.stdout
    assert "2 digital ops lack a shape known before run time (conv16k, conv8k)" in result.stdout
    assert "analogc compile" in result.stdout
