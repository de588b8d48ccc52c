"""Per-layer hardware (DESIGN §2.2, issue 10 item 3): ``[[layer]]`` rules, ``--digital`` and
``--pin``. How rules select ops and combine; strict one-line errors; per-layer keys reaching
the annotated model exactly (``static_reference.py``); layers kept digital by choice; pinned
repeats the search never moves; the report; ``analogc eval`` using the plan's per-layer
hardware; the command line end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result
from helpers import plain_session, run_plain
from onnx import TensorProto, helper, numpy_helper
from static_reference import levels_of, quantize

import analogc
from analogc.calibrated import open_model
from analogc.cli import cli
from analogc.errors import AnalogcError, ConfigError
from analogc.hardware import HardwareConfig, load_hardware
from analogc.layer_rules import LayerRule, command_line_rules, resolve_layers
from analogc.passes import read_plan
from analogc.passes.discover import LayerInfo
from analogc.passes.noise import NoiseModel
from analogc.report import EXIT_OK, EXIT_USAGE, compile_markdown, compile_text
from analogc.search import SearchSettings

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"
CNN_LAYERS = ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm"]
QUICK = SearchSettings(trials=6, seeds=2, validation_seeds=2)


def _write(tmp_path: Path, text: str, name: str = "hw.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _hardware(tmp_path: Path, noise: str, rules: str = "") -> Path:
    return _write(tmp_path, f'name = "test-chip"\n[noise]\n{noise}\n{rules}')


# -- selecting ops and combining rules --------------------------------------------------------
LAYERS = [
    LayerInfo("/stem/conv/Conv", "Conv", True),
    LayerInfo("/block1/conv1/Conv", "Conv", True),
    LayerInfo("/fc/Gemm", "Gemm", True),
    LayerInfo("/fc2/MatMul", "MatMul", True),
]
SHOT = NoiseModel(shot=True, adc=True)


def _rule(index: int, **data: object) -> LayerRule:
    return LayerRule.from_dict(data, index=index)


def test_glob_matches_the_whole_node_name() -> None:
    resolved = resolve_layers([_rule(1, match="/fc/*", adc_bits=6)], LAYERS, SHOT)
    assert list(resolved) == ["/fc/Gemm"], "'/fc/*' must not select /fc2/MatMul"
    assert resolved["/fc/Gemm"].noise["adc_bits"] == 6.0
    stem = resolve_layers([_rule(1, match="*conv*")], LAYERS, SHOT)
    assert list(stem) == ["/stem/conv/Conv", "/block1/conv1/Conv"], "* spans '/' too"


def test_regex_is_searched_in_the_name_and_op_type_is_exact() -> None:
    found = resolve_layers([_rule(1, regex=r"conv\d")], LAYERS, SHOT)
    assert list(found) == ["/block1/conv1/Conv"]
    anchored = resolve_layers([_rule(1, regex=r"^/fc")], LAYERS, SHOT)
    assert list(anchored) == ["/fc/Gemm", "/fc2/MatMul"]
    gemm = resolve_layers([_rule(1, op_type="Gemm")], LAYERS, SHOT)
    assert list(gemm) == ["/fc/Gemm"]
    with pytest.raises(ConfigError, match="matches no analog op"):
        resolve_layers([_rule(1, op_type="gemm")], LAYERS, SHOT)  # op types are exact


def test_rules_apply_in_order_later_keys_override() -> None:
    rules = [
        _rule(1, op_type="Conv", adc_bits=6, repeats=16, e1=2.0),
        _rule(2, match="/stem/*", adc_bits=4),  # overrides adc_bits only
        _rule(3, regex="fc", digital=True),
        _rule(4, match="/fc2/*", digital=False, repeats=3),  # back to analog, pinned
    ]
    resolved = resolve_layers(rules, LAYERS, SHOT)
    stem, block, fc, fc2 = (resolved[x.name] for x in LAYERS)
    assert (stem.noise["adc_bits"], stem.repeats, stem.e1) == (4.0, 16, 2.0)
    assert stem.rules == ("layer[1]", "layer[2]") and stem.rule == "layer[1]+layer[2]"
    assert (block.noise["adc_bits"], block.repeats, block.rule) == (6.0, 16, "layer[1]")
    assert block.noise["shot"] and block.noise["adc"], "keys a rule does not set are kept"
    assert fc.digital and fc.rule == "layer[3]"
    assert not fc2.digital and fc2.repeats == 3 and fc2.rule == "layer[3]+layer[4]"
    assert fc2.noise == SHOT


def test_command_line_rules_come_after_the_file_and_are_globs() -> None:
    rules = command_line_rules(["/fc*"], {"/stem/*": 8, "/fc2/*": 2})
    assert [r.label for r in rules] == ["--digital[1]", "--pin[1]", "--pin[2]"]
    file_rule = _rule(1, match="/stem/*", repeats=64)
    resolved = resolve_layers([file_rule, *rules], LAYERS, SHOT)
    assert resolved["/stem/conv/Conv"].repeats == 8, "--pin overrides the file"
    assert resolved["/fc/Gemm"].digital
    assert resolved["/fc2/MatMul"].digital, "a pin does not make a digital layer analog"
    assert resolved["/fc2/MatMul"].repeats is None


def test_a_digital_layer_keeps_no_pin_or_noise_keys() -> None:
    resolved = resolve_layers(
        [_rule(1, match="/fc/*", adc_bits=3), _rule(2, match="/fc/*", digital=True)],
        LAYERS,
        SHOT,
    )
    fc = resolved["/fc/Gemm"]
    assert fc.digital and fc.noise == SHOT and fc.e1 is None and fc.repeats is None


def test_a_rule_leaving_a_layer_without_noise_says_to_keep_it_digital() -> None:
    with pytest.raises(ConfigError, match=r"layer\[1\].*no noise term.*digital = true"):
        resolve_layers([_rule(1, match="/fc/*", shot=False, adc=False)], LAYERS, SHOT)


# -- hardware files ---------------------------------------------------------------------------
RULES_TOML = """
[[layer]]
match = "/fc/*"
digital = true

[[layer]]
op_type = "Conv"
adc_bits = 6
repeats = 16

[[layer]]
regex = "^/block"
e1 = 2.5

[layer.noise]
k_t = 0.05
"""


def test_hardware_file_reads_rules_in_order_and_round_trips(tmp_path: Path) -> None:
    path = _hardware(tmp_path, "thermal = true\nadc = true", RULES_TOML)
    hw = load_hardware(path)
    assert [r.label for r in hw.layers] == ["layer[1]", "layer[2]", "layer[3]"]
    fc, conv, block = hw.layers
    assert (fc.selector, fc.pattern, fc.digital) == ("match", "/fc/*", True)
    assert (conv.selector, conv.noise, conv.repeats) == ("op_type", {"adc_bits": 6.0}, 16)
    assert (block.selector, block.e1, block.noise) == ("regex", 2.5, {"k_t": 0.05})
    assert fc.origin == str(path)
    again = HardwareConfig.from_dict(hw.to_dict())
    assert [r.to_dict() for r in again.layers] == [r.to_dict() for r in hw.layers]
    as_json = _write(tmp_path, json.dumps(hw.to_dict()), "hw.json")
    assert [r.to_dict() for r in load_hardware(as_json).layers] == hw.to_dict()["layer"]


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    message = str(info.value)
    assert isinstance(info.value, AnalogcError)
    assert message and "\n" not in message, f"error should be one line: {message!r}"
    return message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            'match = "/fc/*"\nadc_bit = 6',
            r"layer\[1\].*unknown key 'adc_bit'.*did you mean 'adc_bits'",
        ),
        (
            'match = "/fc/*"\nadc_bits = 1',
            r"layer\[1\] \(match = \"/fc/\*\"\).*adc_bits must be >= 2, got 1",
        ),
        ('op_type = "Conv"\ndrift_t = -5.0', r"layer\[1\].*drift_t must be >= 0, got -5"),
        (
            'match = "/fc/*"\ndigital = "yes"',
            r"layer\[1\].*digital must be true or false, got 'yes'",
        ),
        ('match = "/fc/*"\nadc = "true"', r"layer\[1\].*adc must be true or false"),
        (
            'match = "/fc/*"\nop_type = "Gemm"',
            r"layer\[1\].*exactly one selector.*match and op_type",
        ),
        ("adc_bits = 6", r"layer\[1\].*exactly one selector.*got none"),
        ('match = ""', r"layer\[1\].*match must be a non-empty string"),
        ('regex = "fc(["', r"layer\[1\].*regex 'fc\(\[' is not a regular expression"),
        ('match = "/fc/*"\nrepeats = 0', r"layer\[1\].*repeats must be an integer >= 1, got 0"),
        ('match = "/fc/*"\nrepeats = 2.5', r"layer\[1\].*repeats must be an integer >= 1, got 2.5"),
        ('match = "/fc/*"\ne1 = -1', r"layer\[1\].*e1 must be a number > 0, got -1"),
        (
            'match = "/fc/*"\nenergy_unit = "pJ"',
            r"layer\[1\].*energy_unit applies to the whole network",
        ),
        (
            'match = "/fc/*"\ndigital = true\nrepeats = 4',
            r"layer\[1\].*repeats = 4 with digital = true",
        ),
        ('match = "/fc/*"\nk_t = 0.1\nnoise = { k_t = 0.2 }', r"layer\[1\].*k_t is set both"),
    ],
)
def test_bad_rules_get_one_line_errors_naming_rule_and_key(
    tmp_path: Path, rule: str, expected: str
) -> None:
    path = _hardware(tmp_path, "thermal = true", f"[[layer]]\n{rule}\n")
    message = _error(path)
    assert message.startswith(f"{path}: "), message
    assert re.search(expected, message), message


def test_second_rule_is_named_by_its_position(tmp_path: Path) -> None:
    rules = '[[layer]]\nmatch = "/a/*"\n[[layer]]\nop_type = "Conv"\nadc_bits = 1.5\n'
    assert 'layer[2] (op_type = "Conv")' in _error(_hardware(tmp_path, "thermal = true", rules))


def test_layer_must_be_a_list_of_tables(tmp_path: Path) -> None:
    path = _hardware(tmp_path, "thermal = true\n", "")
    path.write_text('name = "x"\nlayer = 3\n[noise]\nthermal = true\n')
    assert "layer must be a list of tables" in _error(path)


# -- per-layer keys reach the annotated model, exactly -----------------------------------------
def _gemm_model(b: np.ndarray, c: np.ndarray) -> onnx.ModelProto:
    """y = x @ bᵀ + c, one plain Gemm: the reference product (run by onnxruntime)."""
    node = helper.make_node("Gemm", ["x", "B", "C"], ["y"], transB=1)
    graph = helper.make_graph(
        [node],
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", b.shape[1]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", b.shape[0]])],
        [numpy_helper.from_array(b, "B"), numpy_helper.from_array(c, "C")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _chain(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """x [N, 16] -> /enc/Gemm -> h [N, 12] -> /head/Gemm -> y [N, 5]; outputs y and h. With
    calibration data (no labels: the metric is agreement with the clean model)."""
    gen = np.random.default_rng(7)
    weights = {
        "/enc/Gemm": (
            gen.normal(size=(12, 16)).astype(np.float32),
            gen.normal(size=12).astype(np.float32),
        ),
        "/head/Gemm": (
            gen.normal(size=(5, 12)).astype(np.float32),
            gen.normal(size=5).astype(np.float32),
        ),
    }
    (b1, c1), (b2, c2) = weights.values()
    nodes = [
        helper.make_node("Gemm", ["x", "B1", "C1"], ["h"], name="/enc/Gemm", transB=1),
        helper.make_node("Gemm", ["h", "B2", "C2"], ["y"], name="/head/Gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, ["N", 12]),
        ],
        [
            numpy_helper.from_array(b1, "B1"),
            numpy_helper.from_array(c1, "C1"),
            numpy_helper.from_array(b2, "B2"),
            numpy_helper.from_array(c2, "C2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "chain.onnx"
    onnx.save(model, str(path))
    data = tmp_path / "chain.npz"
    np.savez(data, x=gen.normal(size=(64, 16)).astype(np.float32))
    return path, data, weights


def test_a_rule_gives_one_layer_its_own_adc_exactly(tmp_path: Path) -> None:
    """/enc/Gemm with a 4-bit ADC, /head/Gemm with the hardware's 8 bits: two functions, and
    the standalone model's outputs are the exact quantisers of static_reference.py."""
    model, data, weights = _chain(tmp_path)
    rules = '[[layer]]\nmatch = "/enc/*"\nadc_bits = 4\n'
    hw = _hardware(tmp_path, "adc = true\nadc_bits = 8", rules)
    report = analogc.compile(
        model, hardware=hw, data=data, repeats=1, plots=False, output_dir=tmp_path / "out"
    )
    enc, head = report.layers
    assert (enc.rule, head.rule) == ("layer[1]", None)
    assert enc.noise is not None and enc.noise["adc_bits"] == 4.0 and head.noise is None
    assert enc.enob <= 4.0 and head.enob <= 8.0

    annotated = onnx.load(report.outputs.model)
    onnx.checker.check_model(annotated, full_check=True)
    nodes = {n.name: n for n in annotated.graph.node}
    levels = {
        name: next(a.f for a in nodes[name].attribute if a.name == "adc_levels") for name in weights
    }
    assert levels == {"/enc/Gemm": 7.0, "/head/Gemm": 127.0}
    assert nodes["/enc/Gemm"].op_type != nodes["/head/Gemm"].op_type, "one function per noise"

    plan = read_plan(annotated)
    assert plan is not None
    x = np.load(data)["x"]
    y, h = plain_session(annotated).run(None, {"x": x})
    bounds = {name: np.float32(plan.layers[name].y_absmax) for name in weights}
    want_h = quantize(
        run_plain(_gemm_model(*weights["/enc/Gemm"]), {"x": x})[0],
        bounds["/enc/Gemm"],
        levels_of(4),
    )
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-6)
    head_clean = run_plain(_gemm_model(*weights["/head/Gemm"]), {"x": want_h})[0]
    want_y = quantize(head_clean, bounds["/head/Gemm"], levels_of(8))
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
    assert len(np.unique(h)) <= 2 * 7 + 1 < len(np.unique(y))


def test_a_layers_own_e1_prices_its_energy(tmp_path: Path) -> None:
    model, data, _ = _chain(tmp_path)
    hw = _hardware(tmp_path, "thermal = true", '[[layer]]\nmatch = "/head/*"\ne1 = 10.0\n')
    report = analogc.compile(
        model, hardware=hw, data=data, repeats=3, plots=False, output_dir=tmp_path / "out"
    )
    enc, head = report.layers
    assert (enc.energy_per_mac, head.energy_per_mac) == (3.0, 30.0)
    expected = (3.0 * enc.macs + 30.0 * head.macs) / (enc.macs + head.macs)
    assert report.dynamic.energy_per_mac == pytest.approx(expected, rel=1e-12)


# -- digital by choice ------------------------------------------------------------------------
def test_a_layer_kept_digital_is_exact_and_out_of_the_energy_account(tmp_path: Path) -> None:
    model, data, weights = _chain(tmp_path)
    hw = _hardware(tmp_path, "thermal = true\nk_t = 0.05")
    report = analogc.compile(
        model,
        hardware=hw,
        data=data,
        repeats=2,
        digital=["/head/*"],
        plots=False,
        output_dir=tmp_path / "out",
    )
    assert [layer.name for layer in report.layers] == ["/enc/Gemm"]
    (row,) = report.digital
    assert row.name == "/head/Gemm" and row.rule == "--digital[1]"
    assert row.reason == 'digital by choice (rule --digital[1]: match = "/head/*")'
    assert row.macs == 12 * 5
    assert report.macs.digital == report.macs.digital_by_choice == 12 * 5
    assert report.macs.analog == report.dynamic.analog_macs == 16 * 12
    assert report.dynamic.energy_per_mac == pytest.approx(2.0), "only /enc/Gemm is priced"
    assert [r.layers for r in report.rules] == [["/head/Gemm"]]
    assert "digital by choice (/head/Gemm)" in compile_text(report)
    assert "digital by choice (rule --digital[1]" in compile_markdown(report)

    annotated = onnx.load(report.outputs.model)
    head = next(n for n in annotated.graph.node if n.name == "/head/Gemm")
    assert (head.domain, head.op_type) == ("", "Gemm"), "a digital layer is not annotated"
    x = np.load(data)["x"]
    y, h = plain_session(annotated).run(None, {"x": x})
    clean_h = run_plain(_gemm_model(*weights["/enc/Gemm"]), {"x": x})[0]
    assert np.abs(h - clean_h).max() > 1e-3, "the analog layer before it is noisy"
    exact = run_plain(_gemm_model(*weights["/head/Gemm"]), {"x": h})[0]
    np.testing.assert_allclose(y, exact, rtol=1e-6, atol=1e-6)

    evaluated = analogc.evaluate(report.outputs.model, data=data, seeds=2)
    assert evaluated.dynamic.energy_per_mac == pytest.approx(report.dynamic.energy_per_mac)
    assert evaluated.dynamic.analog_macs == report.macs.analog


def test_every_layer_digital_is_a_one_line_error(tmp_path: Path) -> None:
    model, data, _ = _chain(tmp_path)
    with pytest.raises(ConfigError, match="every analog op is kept digital"):
        analogc.compile(model, data=data, digital=["*"], repeats=1, output_dir=tmp_path / "o")


# -- pinned repeats ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> analogc.CompileReport:
    """A TPE search on the digits CNN with /conv1/Conv pinned at 16 by a file rule and
    /fc2/Gemm at 3 by ``pins``."""
    tmp = tmp_path_factory.mktemp("pins")
    hw = _hardware(tmp, "thermal = true", '[[layer]]\nmatch = "/conv1/*"\nrepeats = 16\n')
    return analogc.compile(
        CNN,
        hardware=hw,
        data="demo:calib",
        max_drop="1%",
        search=QUICK,
        pins={"/fc2/*": 3},
        plots=False,
        output_dir=tmp / "out",
    )


PINS = {"/conv1/Conv": 16, "/fc2/Gemm": 3}


def test_the_search_never_moves_a_pinned_layer(pinned: analogc.CompileReport) -> None:
    search = pinned.search
    assert search is not None and pinned.analytic is not None and pinned.uniform is not None
    configurations = [
        *(p.repeats for p in search.points),
        *(p.repeats for p in search.uniform_curve),
        pinned.analytic.repeats,
        {layer.name: layer.repeats for layer in pinned.layers},
        {layer.name: layer.uniform_repeats for layer in pinned.layers},
    ]
    assert len(search.points) >= 2
    for repeats in configurations:
        assert {n: repeats[n] for n in PINS} == PINS, repeats


def test_the_uniform_baseline_sets_every_unpinned_layer(pinned: analogc.CompileReport) -> None:
    assert pinned.search is not None and pinned.uniform is not None
    for point in pinned.search.uniform_curve:
        free = {point.repeats[n] for n in CNN_LAYERS if n not in PINS}
        assert len(free) == 1, point.repeats
    for layer in pinned.layers:
        want = PINS.get(layer.name, pinned.uniform.repeats)
        assert layer.uniform_repeats == want, layer.name


def test_the_report_marks_pins_and_names_the_rules(pinned: analogc.CompileReport) -> None:
    rows = {layer.name: layer for layer in pinned.layers}
    assert {n for n, row in rows.items() if row.pinned} == set(PINS)
    assert rows["/conv1/Conv"].rule == "layer[1]" and rows["/fc2/Gemm"].rule == "--pin[1]"
    assert rows["/conv2/Conv"].rule is None
    doc = pinned.document
    assert [r["label"] for r in doc["rules"]] == ["layer[1]", "--pin[1]"]
    assert doc["rules"][1] == {
        "label": "--pin[1]",
        "origin": "",
        "selector": "match",
        "pattern": "/fc2/*",
        "sets": {"repeats": 3},
        "layers": ["/fc2/Gemm"],
    }
    assert doc["hardware"]["layer"] == [{"match": "/conv1/*", "repeats": 16}]
    text = compile_text(pinned)
    assert "16*" in text and "N*: repeats pinned" in text and "in every unpinned layer" in text
    assert 'layer[1]: match = "/conv1/*" -> repeats = 16 (1 op)' in text


def test_every_layer_pinned_plans_without_a_search(tmp_path: Path) -> None:
    model, data, _ = _chain(tmp_path)
    report = analogc.compile(
        model,
        hardware="electronic-thermal",
        data=data,
        pins={"/enc/*": 5, "/head/*": 7},
        plots=False,
        output_dir=tmp_path / "out",
    )
    assert report.search is None and report.mode == "fixed"
    assert [layer.repeats for layer in report.layers] == [5, 7]
    assert "every layer pinned" in compile_text(report)


def test_fixed_repeats_keep_the_pins(tmp_path: Path) -> None:
    model, data, _ = _chain(tmp_path)
    report = analogc.compile(
        model,
        hardware="electronic-thermal",
        data=data,
        repeats=2,
        pins={"/head/*": 9},
        plots=False,
        output_dir=tmp_path / "out",
    )
    assert [layer.repeats for layer in report.layers] == [2, 9]
    assert "uniform repeats N=2 (pinned layers at their pins)" in compile_text(report)


def test_bad_pins_and_patterns_in_settings() -> None:
    with pytest.raises(ConfigError, match="pins"):
        analogc.CompileSettings(pins={"/fc/*": 0})
    with pytest.raises(ConfigError, match="digital patterns"):
        analogc.CompileSettings(digital=[""])
    assert analogc.CompileSettings(digital="/fc/*").digital == ("/fc/*",)


# -- analogc eval uses the plan's per-layer hardware -----------------------------------------
def test_eval_reproduces_compile_with_per_layer_hardware(tmp_path: Path) -> None:
    """Same seeds, same numbers: eval reads each layer's own ADC, and which layers are
    digital, from the plan (seeds 2 and 3 are compile's fresh seeds with seeds=2)."""
    rules = (
        '[[layer]]\nop_type = "Conv"\nadc_bits = 4\n[[layer]]\nmatch = "/fc2/*"\ndigital = true\n'
    )
    hw = _hardware(tmp_path, "thermal = true\nk_t = 0.05\nadc = true\nadc_bits = 8", rules)
    report = analogc.compile(
        CNN,
        hardware=hw,
        data="demo:calib",
        repeats=2,
        search=SearchSettings(seeds=2, validation_seeds=2),
        plots=False,
        output_dir=tmp_path / "out",
    )
    evaluated = analogc.evaluate(report.outputs.model, data="demo:calib", seeds=4)
    compiled = report.dynamic.evaluation
    assert compiled.seeds == (2, 3)
    assert evaluated.evaluation.values[2:] == compiled.values
    assert evaluated.dynamic.energy_per_mac == pytest.approx(report.dynamic.energy_per_mac)
    assert evaluated.dynamic.analog_macs == report.macs.analog


# -- the command line -------------------------------------------------------------------------
def invoke(args: list[object], exit_code: int = EXIT_OK) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == exit_code, (
        f"analogc {' '.join(map(str, args))} exited {result.exit_code}, expected {exit_code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result


def _one_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("analogc: error:"), result.stderr
    return lines[-1]


def test_cli_digital_and_pin_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        [
            "compile",
            CNN,
            "-d",
            "demo:calib",
            "-n",
            "2",
            "--max-drop",
            "50%",
            "-q",
            "-o",
            out,
            "--digital",
            "/fc2/*",
            "--pin",
            "/conv1/*=8",
            "--pin",
            "/fc1/Gemm=4",
        ]
    )
    text = result.stdout
    assert "rule" in text.splitlines()[0] and "--pin[1]" in text and "8*" in text
    assert "digital by choice (/fc2/Gemm)" in text
    doc = json.loads((out / "report.json").read_text())
    rows = {layer["name"]: layer for layer in doc["layers"]}
    assert list(rows) == ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm"]
    assert [rows[n]["repeats"] for n in rows] == [8, 2, 4]
    assert [rows[n]["rule"] for n in rows] == ["--pin[1]", None, "--pin[2]"]
    assert doc["digital"][0]["rule"] == "--digital[1]"
    model = out / "digits_cnn.analog.onnx"
    evaluated = invoke(["eval", model, "-d", "demo:calib", "--seeds", "2"])
    assert f"Ē = {doc['dynamic']['energy_per_mac']:.4g}" in evaluated.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--digital", "/nope/*"], r'--digital\[1\] \(match = "/nope/\*"\) matches no analog op'),
        (["--pin", "/nope/*=4"], r"--pin\[1\] .* matches no analog op \(analog ops: /conv1/Conv"),
    ],
)
def test_cli_pattern_matching_nothing_exits_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = invoke(
        ["compile", CNN, "-d", "demo:calib", "-n", "1", "-o", tmp_path, *args], EXIT_USAGE
    )
    assert re.search(expected, _one_line(result)), result.stderr
    assert not any(tmp_path.iterdir()), "nothing written on a usage error"


def test_cli_bad_hardware_rule_exits_2(tmp_path: Path) -> None:
    hw = _hardware(tmp_path, "thermal = true", '[[layer]]\nop_type = "Conv"\ndigital = "yes"\n')
    result = invoke(["compile", CNN, "-d", "demo:calib", "-H", hw, "-n", "1"], EXIT_USAGE)
    line = _one_line(result)
    assert 'layer[1] (op_type = "Conv"): digital must be true or false' in line, line
    stale = '[[layer]]\nmatch = "/stem/*"\nadc_bits = 6\n'
    hw = _hardware(tmp_path, "thermal = true", stale)
    result = invoke(["compile", CNN, "-d", "demo:calib", "-H", hw, "-n", "1"], EXIT_USAGE)
    assert 'layer[1] (match = "/stem/*") matches no analog op' in _one_line(result)


@pytest.mark.parametrize("pin", ["/fc1/*", "/fc1/*=0", "/fc1/*=two", "=3"])
def test_cli_bad_pin_exits_2(pin: str) -> None:
    result = invoke(["compile", CNN, "-n", "1", "--pin", pin], EXIT_USAGE)
    assert "--pin" in result.stderr and "GLOB=N" in result.stderr


def test_the_readme_example_loads_and_selects_demo_layers(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Per-layer hardware", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    hw = load_hardware(_hardware(tmp_path, "shot = true\nadc = true", example))
    demo = open_model(MODELS / "digits_resnet.onnx")
    resolved = resolve_layers(hw.layers, demo.discovery.analog, hw.noise)
    assert resolved["/fc/Gemm"].digital
    convs = [x.name for x in demo.discovery.analog if x.op_type == "Conv"]
    assert convs and all(resolved[n].repeats == 16 for n in convs)
    assert all(resolved[n].noise["adc_bits"] == 6.0 for n in convs)
