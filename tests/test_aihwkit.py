"""aihwkit interoperability: an RPUConfig as an analogc hardware file (and the CLI command),
and an analogc plan as one RPUConfig per layer.

The conversions read and build aihwkit's classes by their field names, so they are tested on
stand-ins with aihwkit 1.1's names and defaults (``aihwkit_standins.py``); the tests at the end
run on aihwkit itself when it is installed (and check that the stand-ins mirror it).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import aihwkit_standins as aw
import numpy as np
import onnx
import pytest
from builders import CASES, rng
from click.testing import CliRunner, Result
from helpers import annotated, plan_for, prepare

from analogc.aihwkit import (
    AihwkitAPI,
    AihwkitMissingError,
    build_rpu_config,
    hardware_file,
    hardware_from_aihwkit,
    load_plan,
    load_rpu_config,
    rpu_configs_for_plan,
    rpu_spec,
    rpu_specs_for_plan,
)
from analogc.cli import cli
from analogc.errors import ConfigError, ModelError
from analogc.hardware import HardwareConfig, load_hardware
from analogc.hardware_toml import hardware_toml
from analogc.passes import LayerPlan, NoiseModel, Plan

HAVE_AIHWKIT = all(
    __import__("importlib").util.find_spec(m) is not None for m in ("torch", "aihwkit")
)
needs_aihwkit = pytest.mark.skipif(not HAVE_AIHWKIT, reason="aihwkit is not installed")


def translate(config: Any, **options: Any) -> NoiseModel:
    return hardware_from_aihwkit(config, **options).hardware.noise


# -- RPUConfig -> analogc ------------------------------------------------------------------------


def test_aihwkit_defaults_translate_term_by_term() -> None:
    """aihwkit 1.1's defaults (bound management off): 7-bit DAC, 9-bit ADC over ±12, output
    noise 0.06, PCM programming, the weights not scaled (weight_scaling_omega = 0)."""
    translation = hardware_from_aihwkit(aw.default_config())
    noise = translation.hardware.noise
    assert noise.terms == ("readout", "dac", "pcm_programming", "adc")
    assert noise.out_noise == 0.06 and noise.readout_input == "per_vector"
    assert noise.readout_weight == "unit" and noise.adc_weight == "unit"
    assert noise.dac_bits == 7.0 and noise.dac_range == "per_vector"  # 1/(2^7 − 2)
    assert noise.adc_bits == 9.0 and noise.adc_range == "full_scale" and noise.adc_bound == 12.0
    assert noise.g_max == 25.0 and noise.g_scale == "tensor" and noise.prog_noise_scale == 1.0
    assert (noise.prog_c0, noise.prog_c1, noise.prog_c2) == (0.26348, 1.9650, -1.1731)
    notes = " ".join(translation.notes)
    assert "max_input_size" in notes and "drift and 1/f read noise" in notes
    assert "nothing to compensate" in notes


@pytest.mark.parametrize(
    ("omega", "columnwise", "kind", "factor"),
    [(1.0, True, "channel", 1.0), (1.0, False, "tensor", 1.0), (2.0, True, "channel", 0.5)],
)
def test_the_mapping_sets_the_weights_full_scale(
    omega: float, columnwise: bool, kind: str, factor: float
) -> None:
    """Tile units are the weights over omega: out_noise and out_bound scale by 1/omega."""
    config = aw.default_config()
    config.mapping = aw.MappingParameter(
        weight_scaling_omega=omega, weight_scaling_columnwise=columnwise
    )
    noise = translate(config)
    assert noise.readout_weight == kind and noise.adc_weight == kind
    assert noise.out_noise == pytest.approx(0.06 * factor)
    assert noise.adc_bound == pytest.approx(12.0 * factor)
    assert noise.g_scale == ("channel" if kind == "channel" else "tensor")


@pytest.mark.parametrize(
    ("inp_res", "inp_bound", "bits"),
    [
        (1 / 126, 1.0, 7.0),
        (254.0, 1.0, 8.0),  # a number of steps: 127 levels a sign
        (1 / 60, 1.0, 1 + math.log2(31)),  # 30 levels: fractional bits, exact at bound 1
        (1 / 252, 2.0, 7.0),  # the step 2·res·bound is what counts
    ],
)
def test_dac_levels_follow_aihwkits_step(inp_res: float, inp_bound: float, bits: float) -> None:
    noise = translate(aw.default_config(inp_res=inp_res, inp_bound=inp_bound))
    assert noise.dac_bits == pytest.approx(bits)


def test_explicit_pcm_coefficients_keep_aihwkits_reference_conductance() -> None:
    """aihwkit fits explicit coefficients at the model's own g_max, analogc's at 25 µS."""
    config = aw.default_config()
    config.noise_model = aw.PCMLikeNoiseModel(prog_coeff=[0.1, 0.2, 0.3], g_max=10.0)
    noise = translate(config)
    assert noise.g_max == 10.0
    assert (noise.prog_c0, noise.prog_c1, noise.prog_c2) == pytest.approx((0.25, 0.5, 0.75))


def test_weight_noise_relative_to_each_channel() -> None:
    config = aw.default_config(
        w_noise=0.02, w_noise_type=aw.WeightNoiseType.ADDITIVE_CONSTANT, out_noise=0.0
    )
    config.mapping = aw.MappingParameter(weight_scaling_omega=1.0, weight_scaling_columnwise=True)
    noise = translate(config)
    assert noise.weight and noise.k_w == 0.02 and noise.weight_scale == "absmax"
    assert not noise.readout


def test_no_programming_and_a_perfect_forward_pass() -> None:
    config = aw.default_config()
    noise = translate(config, program=False)
    assert "pcm_programming" not in noise.terms
    config.forward.is_perfect = True
    assert translate(config).terms == ("pcm_programming",)
    with pytest.raises(ConfigError, match="nothing to translate"):
        hardware_from_aihwkit(config, program=False)


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        obj = getattr(obj, parent)
    setattr(obj, name, value)


REFUSED = [
    ("forward.bound_management", aw.BoundManagementType.ITERATIVE, "bound_management"),
    ("forward.noise_management", aw.NoiseManagementType.NONE, "noise_management"),
    ("forward.noise_management", aw.NoiseManagementType.CONSTANT, "noise_management"),
    ("forward.nm_thres", 0.5, "forward.nm_thres"),
    ("forward.inp_bound", 0.5, "forward.inp_bound"),
    ("forward.inp_noise", 0.01, "forward.inp_noise"),
    ("forward.inp_sto_round", True, "forward.inp_sto_round"),
    ("forward.inp_asymmetry", 0.1, "forward.inp_asymmetry"),
    ("forward.out_noise_std", 0.3, "forward.out_noise_std"),
    ("forward.out_sto_round", True, "forward.out_sto_round"),
    ("forward.out_scale", 2.0, "forward.out_scale"),
    ("forward.out_asymmetry", 0.1, "forward.out_asymmetry"),
    ("forward.mv_type", aw.AnalogMVType.POS_NEG_SEPARATE, "forward.mv_type"),
    ("forward.ir_drop", 1.0, "forward.ir_drop"),
    ("forward.out_nonlinearity", 0.1, "forward.out_nonlinearity"),
    ("forward.slope_calibration", 0.5, "forward.slope_calibration"),
    ("forward.v_offset_std", 0.1, "forward.v_offset_std"),
    ("forward.r_series", 0.1, "forward.r_series"),
    ("forward.w_read_asymmetry_dtod", 0.1, "forward.w_read_asymmetry_dtod"),
    ("forward.w_noise", 0.02, "forward.w_noise"),  # ADDITIVE_CONSTANT on unscaled weights
    ("mapping.digital_bias", False, "mapping.digital_bias"),
    ("mapping.learn_out_scaling", True, "mapping.learn_out_scaling"),
    ("pre_post.input_range.enable", True, "pre_post.input_range.enable"),
    ("modifier.enable_during_test", True, "modifier.enable_during_test"),
    (
        "noise_model",
        aw.StateIndependentNoiseModel(),
        "noise_model = StateIndependentNoiseModel(...)",
    ),
    (
        "noise_model",
        aw.PCMLikeNoiseModel(g_converter=aw.DualPairConductanceConverter()),
        "noise_model.g_converter",
    ),
    ("noise_model.g_converter.g_min", 2.0, "g_min"),
    ("noise_model.prog_coeff", [0.1, 0.2, 0.3, 0.4], "noise_model.prog_coeff"),
]


@pytest.mark.parametrize(("path", "value", "named"), REFUSED, ids=[r[0] for r in REFUSED])
def test_fields_without_an_analogc_equivalent_are_named(path: str, value: Any, named: str) -> None:
    config = aw.default_config()
    if path == "forward.w_noise":
        config.forward.w_noise_type = aw.WeightNoiseType.ADDITIVE_CONSTANT
    _set(config, path, value)
    with pytest.raises(ConfigError, match="cannot translate") as info:
        hardware_from_aihwkit(config)
    assert named in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"w_noise": 0.02, "w_noise_type": aw.WeightNoiseType.PCM_READ}, "w_noise_type"),
        ({"out_res": -1.0}, "forward.out_bound"),  # clipping without an ADC
        ({"inp_res": 1 / 50, "inp_bound": 1.5}, "forward.inp_res"),  # 16.7 levels: off grid
        ({"out_res": 0.9}, "forward.out_res"),  # fewer than 2 bits
    ],
)
def test_combinations_without_an_equivalent_are_named(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        hardware_from_aihwkit(aw.default_config(**changes))


def test_every_problem_is_named_in_one_line() -> None:
    config = aw.default_config(inp_noise=0.01, ir_drop=1.0)
    config.forward.bound_management = aw.BoundManagementType.ITERATIVE
    with pytest.raises(ConfigError) as info:
        hardware_from_aihwkit(config, t_inference=3600.0)
    message = str(info.value)
    for name in ("inp_noise", "ir_drop", "bound_management", "t_inference = 3600"):
        assert name in message
    assert "\n" not in message


def test_pcm_drift_is_refused_and_says_why() -> None:
    with pytest.raises(ConfigError, match="drift exponent depends on the conductance"):
        hardware_from_aihwkit(aw.default_config(), t_inference=0.0)


def test_fields_aihwkit_11_does_not_have_are_refused() -> None:
    @dataclasses.dataclass
    class LaterIOParameters(aw.IOParameters):
        adc_frequency: float = 6.24

    config = aw.default_config()
    config.forward = LaterIOParameters(bound_management=aw.BoundManagementType.NONE)
    with pytest.raises(ConfigError, match=r"forward\.adc_frequency .*no known meaning"):
        hardware_from_aihwkit(config)


def test_training_settings_are_noted_not_refused() -> None:
    config = aw.default_config()
    config.modifier = aw.WeightModifierParameter(
        type=aw.WeightModifierType.ADD_NORMAL, std_dev=0.05, pdrop=0.1
    )
    config.clip = aw.WeightClipParameter(type=aw.WeightClipType.FIXED_VALUE, fixed_value=1.0)
    notes = " ".join(hardware_from_aihwkit(config).notes)
    assert "modifier (ADD_NORMAL)" in notes and "clip (FIXED_VALUE)" in notes
    assert "pdrop = 0.1" in notes


def test_not_an_rpu_config() -> None:
    with pytest.raises(ConfigError, match="not an aihwkit RPUConfig"):
        hardware_from_aihwkit(object())


# -- the hardware file ---------------------------------------------------------------------------


def test_hardware_file_reads_back_as_the_same_model() -> None:
    text, translation = hardware_file(aw.default_config(), name="my-pcm")
    assert text.startswith(
        "# analogc hardware file translated from aihwkit TorchInferenceRPUConfig"
    )
    assert all(f"# {note}" in text for note in translation.notes)
    back = HardwareConfig.from_dict(tomllib.loads(text))
    assert back.noise == translation.hardware.noise and back.name == "my-pcm"
    assert back.to_dict() == translation.hardware.to_dict()


@pytest.mark.parametrize("preset", ["optical-shot", "photonic-converters", "pcm-crossbar"])
def test_any_hardware_model_round_trips_through_toml(preset: str) -> None:
    hardware = load_hardware(preset)
    back = HardwareConfig.from_dict(tomllib.loads(hardware_toml(hardware)))
    assert back.to_dict() == hardware.to_dict()


def test_per_layer_rules_round_trip_through_toml() -> None:
    layers = [
        {"match": "/fc/*", "digital": True},
        {"op_type": "Conv", "adc_bits": 6, "repeats": 16, "e1": 2.0},
        {"regex": "^/stem", "out_noise": 0.1},
    ]
    data = {**load_hardware("pcm-crossbar").to_dict(), "layer": layers}
    hardware = HardwareConfig.from_dict(data)
    text = hardware_toml(hardware)
    assert text.count("[[layer]]") == 3
    assert HardwareConfig.from_dict(tomllib.loads(text)).to_dict() == hardware.to_dict()


# -- the CLI -------------------------------------------------------------------------------------

CONFIG_MODULE = """
import aihwkit_standins as aw

rpu_config = aw.default_config()
refused = aw.default_config(inp_noise=0.02)

def make():
    return aw.default_config(out_noise=0.1)

class NotAConfig:
    pass
"""


def invoke(args: list[str], exit_code: int = 0) -> Result:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == exit_code, result.output
    return result


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    path = tmp_path / "my_configs.py"
    path.write_text(CONFIG_MODULE)
    return path


def test_from_aihwkit_writes_a_hardware_file_compile_reads(configs: Path, tmp_path: Path) -> None:
    out = tmp_path / "chip.toml"
    result = invoke(["hardware", "from-aihwkit", f"{configs}:rpu_config", "-o", str(out)])
    assert "note:" in result.output and f"wrote {out}" in result.output
    hardware = load_hardware(out)
    assert hardware.noise == translate(aw.default_config())
    printed = invoke(["hardware", "from-aihwkit", f"{configs}:make"]).stdout
    assert HardwareConfig.from_dict(tomllib.loads(printed)).noise.out_noise == 0.1


def test_from_aihwkit_module_on_the_path(configs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(configs.parent)
    monkeypatch.delitem(sys.modules, "my_configs", raising=False)
    printed = invoke(["hardware", "from-aihwkit", "my_configs:rpu_config"]).stdout
    assert "readout = true" in printed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{path}:refused", "forward.inp_noise = 0.02"),
        ("{path}:missing", "has no attribute 'missing'"),
        ("{path}:NotAConfig", "not an aihwkit RPUConfig"),
        ("no_colon", "module:attr"),
        ("no_such_module_anywhere:config", "cannot import no_such_module_anywhere"),
    ],
)
def test_from_aihwkit_errors_are_one_line_exit_2(
    spec: str, message: str, configs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never.toml"
    result = invoke(
        ["hardware", "from-aihwkit", spec.format(path=configs), "-o", str(out)], exit_code=2
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists() and list(tmp_path.glob(".never.toml*")) == []


def test_missing_aihwkit_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aihwkit", None)  # import aihwkit fails as if absent
    needs = tmp_path / "needs_aihwkit.py"
    needs.write_text("from aihwkit.simulator.configs import TorchInferenceRPUConfig\n")
    result = invoke(["hardware", "from-aihwkit", f"{needs}:TorchInferenceRPUConfig"], exit_code=2)
    assert "pip install --no-deps aihwkit==1.1.0" in result.stderr
    assert "torch==2.13.0" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(AihwkitMissingError, match=r"analogc\[aihwkit\]"):
        AihwkitAPI.load()


# -- analogc plan -> one RPUConfig per layer -----------------------------------------------------

AIHWKIT_LIKE = {
    "default mapping": NoiseModel(
        readout=True,
        readout_weight="unit",
        dac=True,
        dac_bits=7,
        dac_range="per_vector",
        adc=True,
        adc_bits=9,
        adc_range="full_scale",
        adc_weight="unit",
        pcm_programming=True,
    ),
    "columnwise": NoiseModel(
        readout=True,
        out_noise=0.04,
        dac=True,
        dac_bits=8,
        dac_range="per_vector",
        adc=True,
        adc_bits=8,
        adc_range="full_scale",
        adc_bound=10.0,
        pcm_programming=True,
        g_scale="channel",
        g_max=10.0,
        prog_c0=0.1,
    ),
    "read-out only, per layer": NoiseModel(readout=True, readout_weight="tensor"),
    "PCM only": NoiseModel(pcm_programming=True, prog_noise_scale=0.5),
}


@pytest.mark.parametrize("name", list(AIHWKIT_LIKE))
def test_plan_to_aihwkit_and_back_is_the_same_noise(name: str) -> None:
    noise = AIHWKIT_LIKE[name]
    spec = rpu_spec(noise, LayerPlan(repeats=1))
    config = build_rpu_config(spec, aw.API)
    assert isinstance(config, aw.TorchInferenceRPUConfig)
    assert config.mapping.max_input_size == 0 and config.mapping.max_output_size == 0
    assert translate(config, program=noise.pcm_programming) == noise


def test_repeats_divide_the_temporal_noise_only() -> None:
    noise = NoiseModel(
        readout=True,
        out_noise=0.06,
        weight=True,
        k_w=0.04,
        weight_scale="absmax",
        dac=True,
        dac_bits=7,
        dac_range="per_vector",
        pcm_programming=True,
        g_scale="channel",
    )
    spec = rpu_spec(noise, LayerPlan(repeats=8), e1=2.0)
    assert spec.forward["out_noise"] == pytest.approx(0.06 / 4)
    assert spec.modifier["std_dev"] == pytest.approx(0.04 / 4)
    assert spec.modifier["type"] == "ADD_NORMAL" and spec.modifier["rel_to_actual_wmax"]
    assert spec.forward["inp_res"] == pytest.approx(1 / 126)  # static: as it is
    assert spec.noise_model["prog_noise_scale"] == 1.0
    assert any("training mode only" in note for note in spec.notes)
    config = build_rpu_config(spec, aw.API)
    assert config.modifier.type is aw.WeightModifierType.ADD_NORMAL


def test_a_calibrated_input_range_is_constant_noise_management() -> None:
    noise = NoiseModel(dac=True, dac_bits=6, readout=True, readout_input="calibrated")
    spec = rpu_spec(noise, LayerPlan(repeats=1, x_absmax=2.5))
    assert spec.forward["noise_management"] == "CONSTANT" and spec.forward["nm_thres"] == 2.5
    config = build_rpu_config(spec, aw.API)
    assert config.forward.noise_management is aw.NoiseManagementType.CONSTANT
    with pytest.raises(ConfigError, match="calibrated abs-max input"):
        rpu_spec(noise, LayerPlan(repeats=1))


@pytest.mark.parametrize(
    ("noise", "named"),
    [
        (NoiseModel(shot=True), "shot"),
        (NoiseModel(thermal=True), "thermal"),
        (NoiseModel(levels=True), "levels"),
        (NoiseModel(programming=True), "programming"),
        (NoiseModel(weight=True), "weight_scale = range"),
        (NoiseModel(adc=True), "adc_range = calibrated"),
        (NoiseModel(readout=True, drift=True), "drift"),
        (NoiseModel(readout=True, pcm_programming=True), "different weight full scales"),
        (
            NoiseModel(dac=True, dac_range="per_vector", readout=True, readout_input="calibrated"),
            "one noise management per tile",
        ),
    ],
)
def test_terms_aihwkit_cannot_express_are_named(noise: NoiseModel, named: str) -> None:
    with pytest.raises(ConfigError, match="no aihwkit equivalent") as info:
        rpu_spec(noise, LayerPlan(repeats=1, x_absmax=1.0))
    assert named in str(info.value)


def test_drift_may_use_aihwkits_own_model() -> None:
    noise = NoiseModel(pcm_programming=True, drift=True, drift_compensation=True)
    spec = rpu_spec(noise, LayerPlan(repeats=1), drift="aihwkit")
    assert spec.noise_model["drift_scale"] == 1.0 and spec.drift_compensation
    assert any("drift_analog_weights(3600)" in note for note in spec.notes)
    config = build_rpu_config(spec, aw.API)
    assert isinstance(config.drift_compensation, aw.GlobalDriftCompensation)
    quiet = build_rpu_config(rpu_spec(NoiseModel(pcm_programming=True), LayerPlan()), aw.API)
    assert quiet.drift_compensation is None and quiet.noise_model.drift_scale == 0.0


def _annotated_file(tmp_path: Path, noise: NoiseModel) -> tuple[Path, Plan]:
    case = CASES["conv2d"]()
    model = prepare(case.model)
    plan = plan_for([case.layer], noise, repeats=9, e1=1.0, x_absmax=1.5)
    path = tmp_path / "model.analog.onnx"
    onnx.save(annotated(model, plan), path)
    return path, plan


def test_rpu_configs_for_an_annotated_model(tmp_path: Path) -> None:
    noise = AIHWKIT_LIKE["columnwise"]
    path, plan = _annotated_file(tmp_path, noise)
    assert load_plan(path) == plan
    configs = rpu_configs_for_plan(path, api=aw.API)
    (config,) = configs.values()
    assert config.forward.out_noise == pytest.approx(0.04 / 3)
    assert rpu_specs_for_plan(plan)[case_layer()].forward["out_noise"] == pytest.approx(0.04 / 3)


def case_layer() -> str:
    return CASES["conv2d"]().layer


def test_rpu_configs_from_a_report(tmp_path: Path) -> None:
    noise = AIHWKIT_LIKE["default mapping"]
    hardware = HardwareConfig(name="hw", noise=noise, e1=2.0)
    row = {"name": "a", "repeats": 8, "r_x": 1.0, "energy_per_mac": 16.0, "noise": noise.label}
    other = {**row, "name": "b", "repeats": 2, "energy_per_mac": 2.0}
    report = tmp_path / "report.json"
    report.write_text(
        __import__("json").dumps({"hardware": hardware.to_dict(), "layers": [row, other]})
    )
    plan = load_plan(report)
    assert plan.e1 == 2.0 and plan.layers["a"].e1 is None and plan.layers["b"].e1 == 1.0
    specs = rpu_specs_for_plan(plan)
    assert specs["a"].forward["out_noise"] == pytest.approx(noise.out_noise / 4)  # 8 × 2
    assert specs["b"].forward["out_noise"] == pytest.approx(noise.out_noise / math.sqrt(2))
    own = {**row, "noise": "readout"}
    report.write_text(__import__("json").dumps({"hardware": hardware.to_dict(), "layers": [own]}))
    with pytest.raises(ConfigError, match="convert the annotated model"):
        load_plan(report)


def test_a_model_without_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "plain.onnx"
    onnx.save(CASES["conv2d"]().model, path)
    with pytest.raises(ModelError, match="carries no analogc plan"):
        load_plan(path)
    with pytest.raises(ConfigError, match="no such file"):
        load_plan(tmp_path / "missing.onnx")


def test_load_rpu_config_calls_classes_and_factories(configs: Path) -> None:
    assert load_rpu_config(f"{configs}:make").forward.out_noise == 0.1
    assert isinstance(
        load_rpu_config("aihwkit_standins:TorchInferenceRPUConfig"), aw.TorchInferenceRPUConfig
    )


# -- aihwkit itself ------------------------------------------------------------------------------

STANDIN_PAIRS = [
    ("IOParameters", "aihwkit.simulator.parameters"),
    ("MappingParameter", "aihwkit.simulator.parameters"),
    ("WeightModifierParameter", "aihwkit.simulator.parameters"),
    ("WeightClipParameter", "aihwkit.simulator.parameters"),
    ("WeightRemapParameter", "aihwkit.simulator.parameters"),
    ("InputRangeParameter", "aihwkit.simulator.parameters"),
]
ENUMS = [
    "NoiseManagementType",
    "BoundManagementType",
    "WeightNoiseType",
    "AnalogMVType",
    "WeightModifierType",
    "WeightClipType",
    "WeightRemapType",
]


@needs_aihwkit
@pytest.mark.parametrize(("name", "module"), STANDIN_PAIRS)
def test_standins_mirror_aihwkit(name: str, module: str) -> None:
    real = getattr(__import__("importlib").import_module(module), name)()
    fake = getattr(aw, name)()
    names = [f.name for f in dataclasses.fields(real)]
    assert names == [f.name for f in dataclasses.fields(fake)]
    for field_name in names:
        a, b = getattr(real, field_name), getattr(fake, field_name)
        assert getattr(a, "name", a) == getattr(b, "name", b), field_name


@needs_aihwkit
@pytest.mark.parametrize("name", ENUMS)
def test_standin_enums_mirror_aihwkit(name: str) -> None:
    from aihwkit.simulator.parameters import enums

    real = getattr(enums, name)
    assert [(m.name, m.value) for m in real] == [(m.name, m.value) for m in getattr(aw, name)]


@needs_aihwkit
def test_real_aihwkit_round_trip_and_a_forward_pass() -> None:
    import torch
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import TorchInferenceRPUConfig
    from aihwkit.simulator.parameters import BoundManagementType

    config = TorchInferenceRPUConfig()
    config.forward.bound_management = BoundManagementType.NONE
    noise = translate(config)
    assert noise == translate(aw.default_config())
    spec = rpu_spec(noise, LayerPlan(repeats=4))
    real = build_rpu_config(spec, AihwkitAPI.load())
    assert translate(real) == noise.replace(out_noise=0.03)
    layer = convert_to_analog(torch.nn.Linear(8, 4), real).eval()
    x = torch.from_numpy(rng().standard_normal((5, 8)).astype(np.float32))
    assert layer(x).shape == (5, 4)


@needs_aihwkit
def test_real_presets_are_refused_field_by_field() -> None:
    from aihwkit.simulator.presets import StandardHWATrainingPreset

    with pytest.raises(ConfigError) as info:
        hardware_from_aihwkit(StandardHWATrainingPreset())
    for name in ("learn_out_scaling", "noise_management", "PCM_READ", "ir_drop", "input_range"):
        assert name in str(info.value)
