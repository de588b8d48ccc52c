"""Hardware models: the presets' physics constants, and loading TOML/JSON files with one-line
errors for every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analogc.errors import AnalogcError, ConfigError
from analogc.hardware import PRESETS, HardwareConfig, load_hardware
from analogc.passes.plan import NoiseModel

H = 6.62607015e-34  # Planck constant, J·s (exact, SI 2019)
C = 2.99792458e8  # speed of light, m/s (exact)

FULL_TOML = """\
name = "my-chip"
description = "a test chip"
e1 = 2.5
energy_unit = "photons"
wavelength_nm = 1310

[noise]
shot = true
thermal = true
weight = true
k_t = 0.02
k_w = 0.3
"""

FULL = HardwareConfig(
    name="my-chip",
    description="a test chip",
    noise=NoiseModel(shot=True, thermal=True, weight=True, k_t=0.02, k_w=0.3),
    e1=2.5,
    energy_unit="photons",
    wavelength_nm=1310.0,
)


def config_error(spec: str | Path) -> str:
    """load_hardware(spec) must raise a ConfigError with a one-line message; return it."""
    with pytest.raises(ConfigError) as info:
        load_hardware(spec)
    message = str(info.value)
    assert isinstance(info.value, AnalogcError), "ConfigError must derive from AnalogcError"
    assert message and "\n" not in message, f"error should be one line: {message!r}"
    return message


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- presets --------------------------------------------------------------------------------------
def test_preset_names() -> None:
    assert {"optical-shot", "electronic-thermal", "weight-noise"} <= set(PRESETS), sorted(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.name == name, f"preset {name} is named {preset.name}"
        assert load_hardware(name) is preset, f"load_hardware({name!r}) returns the preset"


def test_optical_shot_preset() -> None:
    hw = PRESETS["optical-shot"]
    assert hw.noise.terms == ("shot",), f"shot noise only, got {hw.noise.terms}"
    assert hw.energy_unit == "photons" and hw.wavelength_nm == 1550.0 and hw.e1 == 1.0
    photon = H * C / 1550e-9
    assert hw.joules_per_unit == pytest.approx(photon, rel=1e-12), "one photon is h·c/λ"
    attojoules = hw.joules_per_unit * 1e18
    assert round(attojoules, 3) == 0.128, f"one 1550 nm photon is 0.128 aJ, got {attojoules}"
    # DESIGN §2: 1.6 aJ/MAC = 12.5 photons/MAC
    assert 12.5 * attojoules == pytest.approx(1.6, abs=0.005)


def test_electronic_thermal_preset() -> None:
    hw = PRESETS["electronic-thermal"]
    assert hw.noise.terms == ("thermal",), hw.noise.terms
    assert hw.noise.k_t == 0.01, hw.noise.k_t
    assert hw.joules_per_unit is None, "a relative energy unit has no joules"


def test_weight_noise_preset() -> None:
    hw = PRESETS["weight-noise"]
    assert hw.noise.terms == ("weight",), hw.noise.terms
    assert hw.noise.k_w == 0.1, hw.noise.k_w
    assert hw.joules_per_unit is None


def test_joules_only_for_photons() -> None:
    hw = HardwareConfig(name="x", noise=NoiseModel(shot=True), energy_unit="pJ", wavelength_nm=1550)
    assert hw.joules_per_unit is None, "wavelength converts photons only"


# -- files ----------------------------------------------------------------------------------------
def test_toml_file_all_fields(tmp_path: Path) -> None:
    hw = load_hardware(write(tmp_path, "chip.toml", FULL_TOML))
    assert hw == FULL, f"{hw} != {FULL}"
    assert hw.joules_per_unit == pytest.approx(H * C / 1310e-9)


def test_toml_file_as_path_string(tmp_path: Path) -> None:
    assert load_hardware(str(write(tmp_path, "chip.toml", FULL_TOML))) == FULL


def test_json_file_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, "chip.json", json.dumps(FULL.to_dict()))
    hw = load_hardware(path)
    assert hw == FULL, f"{hw} != {FULL}"
    assert hw.to_dict() == FULL.to_dict()


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_round_trip_through_json(tmp_path: Path, preset: str) -> None:
    original = PRESETS[preset]
    path = write(tmp_path, f"{preset}.json", json.dumps(original.to_dict()))
    assert load_hardware(path) == original
    assert HardwareConfig.from_dict(original.to_dict()) == original


def test_defaults(tmp_path: Path) -> None:
    hw = load_hardware(write(tmp_path, "min.toml", "[noise]\nthermal = true\n"))
    assert hw.noise == NoiseModel(thermal=True), "k_t/k_w defaults"
    assert hw.noise.k_t == 0.01 and hw.noise.k_w == 0.1
    assert hw.e1 == 1.0 and hw.energy_unit == "relative" and hw.wavelength_nm is None
    assert hw.name.endswith("min.toml"), f"default name is the source: {hw.name}"


# -- errors ---------------------------------------------------------------------------------------
def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.toml", 'colour = "blue"\n[noise]\nshot = true\n'))
    assert "unknown keys ['colour']" in message, message
    for key in ("name", "description", "e1", "energy_unit", "wavelength_nm", "noise"):
        assert repr(key) in message, f"allowed key {key} not listed: {message}"


def test_unknown_noise_key(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.toml", "[noise]\nshot = true\nk_s = 1\n"))
    assert "[noise]" in message and "['k_s']" in message, message
    for key in ("shot", "thermal", "weight", "k_t", "k_w"):
        assert repr(key) in message, f"allowed [noise] key {key} not listed: {message}"


def test_unknown_key_in_json(tmp_path: Path) -> None:
    data = {**FULL.to_dict(), "photons": 3}
    message = config_error(write(tmp_path, "c.json", json.dumps(data)))
    assert "c.json" in message and "unknown keys ['photons']" in message, message


@pytest.mark.parametrize("text", ['name = "x"\n', 'noise = "shot"\n'], ids=["absent", "string"])
def test_no_noise_table(tmp_path: Path, text: str) -> None:
    message = config_error(write(tmp_path, "c.toml", text))
    assert "[noise] table" in message and "shot/thermal/weight" in message, message


def test_no_enabled_term(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[noise]\nshot = false\nk_t = 0.01\n")
    message = config_error(path)
    assert "c.toml" in message and "at least one of shot, thermal, weight" in message, message


@pytest.mark.parametrize(("key", "value"), [("k_t", -0.01), ("k_w", -1)])
def test_negative_constant(tmp_path: Path, key: str, value: float) -> None:
    message = config_error(write(tmp_path, "c.toml", f"[noise]\nthermal = true\n{key} = {value}\n"))
    assert key in message and ">= 0" in message and str(value) in message, message


@pytest.mark.parametrize("e1", [0, -1.5])
def test_e1_must_be_positive(tmp_path: Path, e1: float) -> None:
    message = config_error(write(tmp_path, "c.toml", f"e1 = {e1}\n[noise]\nshot = true\n"))
    assert "e1" in message and "> 0" in message and "c.toml" in message, message


def test_wavelength_must_be_positive(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.toml", "wavelength_nm = 0\n[noise]\nshot = true\n"))
    assert "wavelength_nm must be > 0" in message, message


def test_wrong_value_type(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.toml", 'e1 = "lots"\n[noise]\nshot = true\n'))
    assert "c.toml" in message, message


def test_invalid_toml(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.toml", "[noise\nshot = true\n"))
    assert "c.toml" in message and "not valid TOML" in message, message


def test_invalid_json(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "c.json", '{"noise": {"shot": true},}'))
    assert "c.json" in message and "not valid JSON" in message, message


@pytest.mark.parametrize("name", ["missing.toml", "missing.json"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    message = config_error(tmp_path / name)
    assert name in message and "no such hardware config file" in message, message


@pytest.mark.parametrize("spec", ["optical", "Optical-Shot", "thermal"])
def test_unknown_preset(spec: str) -> None:
    message = config_error(spec)
    assert f"unknown hardware '{spec}'" in message, message
    for preset in PRESETS:
        assert preset in message, f"message should list preset {preset}: {message}"
    assert ".toml/.json" in message, message


def test_config_object_passes_through() -> None:
    assert load_hardware(FULL) is FULL


# Strict types for every key (issue 12): a string where a number or a flag belongs is refused
# with a line naming the key, never converted (`shot = "false"` must not turn shot noise on).
@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ('e1 = "1"', "e1", "must be a number, got '1'"),
        ("e1 = true", "e1", "must be a number, got True"),
        ('wavelength_nm = "1550"', "wavelength_nm", "must be a number, got '1550'"),
        ("name = 3", "name", "must be a string, got 3"),
        ("description = [1, 2]", "description", "must be a string, got [1, 2]"),
        ("energy_unit = 1.5", "energy_unit", "must be a string, got 1.5"),
    ],
)
def test_top_level_keys_are_strictly_typed(
    tmp_path: Path, line: str, key: str, expected: str
) -> None:
    message = config_error(write(tmp_path, "c.toml", f"{line}\n[noise]\nshot = true\n"))
    assert f"{key} {expected}" in message and "c.toml" in message, message
    assert "\n" not in message, message


@pytest.mark.parametrize(
    ("noise", "expected"),
    [
        ('shot = "false"\nthermal = true', "[noise] shot must be true or false, got 'false'"),
        ('thermal = true\nk_t = "0.01"', "k_t must be a number, got '0.01'"),
    ],
)
def test_noise_keys_are_strictly_typed(tmp_path: Path, noise: str, expected: str) -> None:
    message = config_error(write(tmp_path, "c.toml", f"[noise]\n{noise}\n"))
    assert expected in message, message


def test_json_null_wavelength_reads_as_none(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", json.dumps({"wavelength_nm": None, "noise": {"shot": True}}))
    assert load_hardware(path).wavelength_nm is None
