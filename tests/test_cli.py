"""The command line as a user meets it: the README's commands, --help, and every error path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner, Result

from analogc.cli import cli
from analogc.report import EXIT_BUDGET_NOT_MET, EXIT_OK, EXIT_USAGE

MODELS = Path(__file__).resolve().parents[1] / "models"


def invoke(args: list[str], exit_code: int = EXIT_OK) -> Result:
    """Run the CLI in-process; on an unexpected exit code, show what it printed."""
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == exit_code, (
        f"analogc {' '.join(args)} exited {result.exit_code}, expected {exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("analogc: error:"), result.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The README's first command, ``analogc compile --demo``, run in a fresh folder."""
    cwd = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        result = invoke(["compile", "--demo"])
    return cwd / "digits_resnet.analogc", result


def test_demo_compile_prints_table_and_writes_outputs(demo_run: tuple[Path, Result]) -> None:
    out, result = demo_run
    for name in (
        "digits_resnet.analog.onnx",
        "report.json",
        "report.md",
        "tradeoff.png",
        "precision.png",
        "study.db",
    ):
        assert (out / name).exists(), name
    text = result.stdout
    assert "/block1/conv2/Conv" in text and "uniform baseline" in text and "energy saving" in text
    report = json.loads((out / "report.json").read_text())
    assert report["budget_met"] is True and report["saving"] > 0.3
    assert report["dynamic"]["energy_per_mac"] < report["uniform"]["energy_per_mac"]


def test_annotated_demo_runs_in_plain_onnxruntime(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    model = onnx.load(str(out / "digits_resnet.analog.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert {n.op_type for n in model.graph.node} >= {"AnalogConv", "AnalogGroupConv", "AnalogGemm"}
    data = np.load(MODELS / "digits_test.npz")
    session = ort.InferenceSession(
        str(out / "digits_resnet.analog.onnx"), providers=["CPUExecutionProvider"]
    )
    logits = session.run(None, {"image": data["image"]})[0]
    assert (logits.argmax(1) == data["labels"]).mean() > 0.9


def test_eval_reports_mean_and_ci(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    result = invoke(
        ["eval", str(out / "digits_resnet.analog.onnx"), "--data", "demo:test", "--seeds", "4"]
    )
    assert "noisy" in result.stdout and "± " in result.stdout and "95% CI, 4 seeds" in result.stdout
    doc = json.loads(
        invoke(
            [
                "eval",
                str(out / "digits_resnet.analog.onnx"),
                "-d",
                "demo:test",
                "--seeds",
                "3",
                "--json",
            ]
        ).stdout
    )
    assert len(doc["evaluation"]["values"]) == 3 and doc["metric"]["name"] == "accuracy"


def test_strip_round_trip_gives_back_original_ops(
    demo_run: tuple[Path, Result], tmp_path: Path
) -> None:
    out, _ = demo_run
    stripped = tmp_path / "stripped.onnx"
    invoke(["strip", str(out / "digits_resnet.analog.onnx"), "-o", str(stripped)])
    original = onnx.load(str(MODELS / "digits_resnet.onnx"))
    back = onnx.load(str(stripped))
    assert [n.op_type for n in back.graph.node] == [n.op_type for n in original.graph.node]
    repeats = {e.key: e.value for n in back.graph.node for e in n.metadata_props}
    assert "pkg.analogc.repeats" in repeats
    inspect = invoke(["inspect", str(stripped)])
    assert "9 analog ops" in inspect.stdout


def test_inspect_lists_layers() -> None:
    result = invoke(["inspect", str(MODELS / "digits_cnn.onnx")])
    assert (
        "/conv2/Conv" in result.stdout
        and "/fc1/Gemm" in result.stdout
        and "4 analog ops" in result.stdout
    )
    doc = json.loads(invoke(["inspect", str(MODELS / "digits_cnn.onnx"), "--json"]).stdout)
    assert [x["macs"] for x in doc["layers"]] == [9 * 16 * 64, 144 * 32 * 16, 512 * 64, 64 * 10]


@pytest.mark.parametrize(
    "command", [[], ["inspect"], ["compile"], ["eval"], ["strip"], ["presets"]]
)
def test_help(command: list[str]) -> None:
    result = invoke([*command, "--help"])
    assert "Usage:" in result.stdout


def test_fixed_repeats_over_budget_exits_1(tmp_path: Path) -> None:
    result = invoke(
        [
            "compile",
            str(MODELS / "digits_cnn.onnx"),
            "-d",
            "demo:calib",
            "--repeats",
            "1",
            "-o",
            str(tmp_path / "o"),
            "-q",
        ],
        exit_code=EXIT_BUDGET_NOT_MET,
    )
    assert "NOT MET" in result.stdout and "this plan does not meet the budget" in result.stderr
    assert (tmp_path / "o" / "digits_cnn.analog.onnx").exists()


def test_without_data_synthesises_and_says_so(tmp_path: Path) -> None:
    result = invoke(
        [
            "compile",
            str(MODELS / "digits_cnn.onnx"),
            "--repeats",
            "4096",
            "-H",
            "electronic-thermal",
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert "synthesising" in result.stderr and "SYNTHETIC" in result.stdout


def _bad_model(tmp_path: Path) -> Path:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"this is not a protobuf")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "missing.onnx"], "no such file"),
        (["compile", "missing.onnx"], "no such file"),
        (["inspect", "{broken}"], "not a readable ONNX model"),
        (["compile", "{cnn}", "-H", "no-such-preset"], "unknown hardware"),
        (["compile", "{cnn}", "-d", "{bad_npz}", "-n", "4"], "input 'image' is float64"),
        (["compile", "{cnn}", "-d", "nothing-here.npz"], "no such data file"),
        (["compile", "{cnn}", "--max-drop", "lots"], "is not a number"),
        (["compile", "{cnn}", "-d", "demo:calib", "--metric", "bleu"], "unknown metric"),
        (["eval", "{cnn}", "-d", "demo:test"], "carries no analogc plan"),
        (["strip", "{cnn}", "-o", "{tmp}/s.onnx"], "no ai.analogc ops"),
        (["strip", "{cnn}", "-o", "{cnn}"], "would overwrite"),
        (["compile", "{hw_bad}"], "not a readable ONNX model"),
        (["compile", "{cnn}", "-H", "{hw_bad}"], "unknown keys ['photons']"),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    bad_npz = tmp_path / "bad.npz"
    np.savez(bad_npz, image=np.zeros((4, 1, 8, 8)))
    hw_bad = tmp_path / "hw.toml"
    hw_bad.write_text("photons = 3\n[noise]\nshot = true\n")
    values = {
        "broken": str(_bad_model(tmp_path)),
        "cnn": str(MODELS / "digits_cnn.onnx"),
        "bad_npz": str(bad_npz),
        "tmp": str(tmp_path),
        "hw_bad": str(hw_bad),
    }
    result = invoke([a.format(**values) for a in args], exit_code=EXIT_USAGE)
    assert message in one_line_error(result)


def test_annotated_model_is_refused_by_compile(demo_run: tuple[Path, Result]) -> None:
    out, _ = demo_run
    result = invoke(
        ["compile", str(out / "digits_resnet.analog.onnx"), "-n", "4"], exit_code=EXIT_USAGE
    )
    assert "already annotated" in one_line_error(result)


def test_validation_seeds_set_the_final_figures_seeds(tmp_path: Path) -> None:
    """``--validation-seeds 3``: the plan's figures come from 3 fresh seeds after the search's."""
    out = tmp_path / "o"
    cnn = str(MODELS / "digits_cnn.onnx")
    args = ["compile", cnn, "-d", "demo:calib", "-n", "1024", "--seeds", "2", "-q", "-o", str(out)]
    invoke([*args, "--validation-seeds", "3"])
    report = json.loads((out / "report.json").read_text())
    assert report["dynamic"]["evaluation"]["seeds"] == [2, 3, 4]
    assert len(report["dynamic"]["evaluation"]["values"]) == 3
    too_few = invoke(["compile", "--demo", "--validation-seeds", "1"], exit_code=EXIT_USAGE)
    assert "--validation-seeds" in too_few.stderr and "Traceback" not in too_few.stderr


def test_input_file_is_never_modified(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    src.write_bytes((MODELS / "digits_cnn.onnx").read_bytes())
    before = src.read_bytes()
    invoke(
        ["compile", str(src), "-d", "demo:calib", "-n", "256", "-o", str(tmp_path / "o"), "-q"],
        exit_code=EXIT_OK,
    )
    assert src.read_bytes() == before
