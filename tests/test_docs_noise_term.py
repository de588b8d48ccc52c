"""``docs/adding-a-noise-term.md`` works as written: its example term, registered for the
test, passes the noise-term contract, and its hardware file plans with it."""

from __future__ import annotations

import re
import tomllib
import types
from pathlib import Path

import pytest
from term_contract import (
    TERM_REFERENCES,
    check_noise_off_and_checker,
    check_statistics,
    check_stats_output,
)

from analogc.hardware import HardwareConfig
from analogc.passes.noise import TERMS, NoiseModel

PAGE = Path(__file__).resolve().parents[1] / "docs" / "adding-a-noise-term.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


@pytest.fixture
def rin(monkeypatch: pytest.MonkeyPatch) -> str:
    """The page's module, executed and registered (only for this test), and its reference."""
    module_code, _registry_line, reference_code = _blocks("python")
    assert len(module_code.strip().splitlines()) <= 35, "the example should stay ~30 lines"
    module = types.ModuleType("rin_example")
    exec(compile(module_code, str(PAGE), "exec"), module.__dict__)
    monkeypatch.setitem(TERMS, "rin", module.RelativeIntensityNoise())
    references = dict(TERM_REFERENCES)
    exec(reference_code, {"TERM_REFERENCES": references})
    monkeypatch.setitem(TERM_REFERENCES, "rin", references["rin"])
    return "rin"


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("case_name", ["matmul", "conv2d_group", "gemm"])
def test_example_term_noise_has_the_reference_std(rin: str, case_name: str, runtime: str) -> None:
    check_statistics(rin, TERM_REFERENCES[rin], case_name, runtime)


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
def test_example_term_follows_the_repeats_law(rin: str, runtime: str) -> None:
    check_statistics(rin, TERM_REFERENCES[rin], "conv2d_group", runtime, repeats=9)


def test_example_term_stats_and_noise_off(rin: str) -> None:
    for case_name in ("matmul", "conv2d_group", "gemm"):
        check_stats_output(rin, TERM_REFERENCES[rin], case_name)
        check_noise_off_and_checker(rin, case_name)


def test_example_hardware_file_reads(rin: str) -> None:
    (toml_text,) = _blocks("toml")
    hw = HardwareConfig.from_dict(tomllib.loads(toml_text), source="the page's hardware file")
    assert hw.noise.terms == ("shot", "rin") and hw.noise["k_rin"] == 0.02, hw.noise
    with pytest.raises(Exception, match="k_rin"):
        NoiseModel(rin=True, k_rin=-1.0)


def test_example_term_is_not_registered_outside_its_test() -> None:
    assert "rin" not in TERMS
