"""Effective bits, SNR and energy accounting (DESIGN §2 "Effective bits", "Energy and cost")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analogc.accounting import (
    LayerFacts,
    account,
    effective_bits,
    mean_energy_per_mac,
    snr_db,
)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 12, 16])
@pytest.mark.parametrize("sigma", [1e-3, 0.37, 5.0])
def test_quantiser_range_gives_exactly_b_bits(bits: int, sigma: float) -> None:
    """A uniform quantiser with L = 2^b levels over R has noise std R/((L−1)·sqrt(12))."""
    r = math.sqrt(12) * sigma * (2**bits - 1)
    assert effective_bits(r, sigma) == pytest.approx(bits, abs=1e-9)


def test_effective_bits_matches_a_measured_quantiser() -> None:
    """Quantise uniform data to 6 bits, measure the error std, get 6 bits back."""
    bits, r = 6, 3.0
    step = r / (2**bits - 1)
    x = np.random.default_rng(20261126).uniform(0, r, 400_000)
    sigma = float(np.std(np.round(x / step) * step - x))
    assert effective_bits(r, sigma) == pytest.approx(bits, abs=0.01)


def test_doubling_repeats_adds_half_a_bit_asymptotically() -> None:
    """sigma ∝ 1/sqrt(N): each doubling of N adds 0.5 bit, each 4× one bit (for R ≫ sigma)."""
    r, sigma1 = 1.0, 1e-7
    for n in (1, 2, 8, 64):
        s = sigma1 / math.sqrt(n)
        gain2 = effective_bits(r, s / math.sqrt(2)) - effective_bits(r, s)
        gain4 = effective_bits(r, s / 2) - effective_bits(r, s)
        assert gain2 == pytest.approx(0.5, abs=1e-5), f"N={n}: doubling adds {gain2} bits"
        assert gain4 == pytest.approx(1.0, abs=1e-5), f"N={n}: 4x adds {gain4} bits"


def test_doubling_repeats_adds_less_than_half_a_bit_at_low_precision() -> None:
    """The +1 inside log2 makes the gain smaller when R/sigma is small, approaching 0.5."""
    gains = [
        effective_bits(1.0, s / math.sqrt(2)) - effective_bits(1.0, s) for s in (10, 1, 0.1, 0.01)
    ]
    assert all(0 < g < 0.5 for g in gains), gains
    assert gains == sorted(gains), f"gain should grow towards 0.5 with R/sigma: {gains}"


def test_effective_bits_edge_cases() -> None:
    assert effective_bits(1.0, 0.0) == math.inf, "noise-free output: infinite bits"
    assert effective_bits(0.0, 1.0) == 0.0, "zero range: zero bits"
    assert effective_bits(2.0, 1.0) == pytest.approx(math.log2(1 + 2 / math.sqrt(12)))


@pytest.mark.parametrize(
    ("mean_square", "sigma", "expected"),
    [(1.0, 0.1, 20.0), (4.0, 1.0, 10 * math.log10(4)), (1.0, 1.0, 0.0), (0.01, 1.0, -20.0)],
)
def test_snr_db(mean_square: float, sigma: float, expected: float) -> None:
    assert snr_db(mean_square, sigma) == pytest.approx(expected, abs=1e-9)


def test_snr_db_edge_cases() -> None:
    assert snr_db(1.0, 0.0) == math.inf
    assert snr_db(0.0, 1.0) < -1000, "a silent output has a hugely negative SNR"


def test_snr_rises_3db_per_doubling_of_repeats() -> None:
    s = 0.2
    assert snr_db(1.0, s / math.sqrt(2)) - snr_db(1.0, s) == pytest.approx(10 * math.log10(2))


def test_mean_energy_per_mac_is_mac_weighted() -> None:
    """Ē = e1 · Σ N_l·MAC_l / Σ MAC_l."""
    macs = {"a": 1000, "b": 3000}
    repeats = {"a": 8, "b": 2}
    assert mean_energy_per_mac(macs, repeats, e1=0.5) == pytest.approx(
        0.5 * (8 * 1000 + 2 * 3000) / 4000
    )


def test_account_totals() -> None:
    facts = [
        LayerFacts("a", "Conv", macs=1000, fan_in=9.0, sigma1=0.4, r_y=2.0, y_ms=0.5),
        LayerFacts("b", "Gemm", macs=3000, fan_in=32.0, sigma1=0.1, r_y=1.0, y_ms=0.2),
    ]
    result = account(facts, {"a": 16, "b": 4}, e1=2.0, joules_per_unit=1e-19)
    assert result.analog_macs == 4000
    assert result.energy_per_mac == pytest.approx(2.0 * (16 * 1000 + 4 * 3000) / 4000)
    assert result.passes_per_mac == pytest.approx((16 * 1000 + 4 * 3000) / 4000)
    assert result.joules_per_mac == pytest.approx(result.energy_per_mac * 1e-19)
    a, b = result.layers
    assert a.sigma == pytest.approx(0.4 / math.sqrt(16 * 2.0)), "sigma = sigma1/sqrt(N·e1)"
    assert b.sigma == pytest.approx(0.1 / math.sqrt(4 * 2.0))
    assert a.enob == pytest.approx(math.log2(1 + 2.0 / (math.sqrt(12) * a.sigma)))
    assert b.snr_db == pytest.approx(10 * math.log10(0.2 / b.sigma**2))
    assert a.energy_share + b.energy_share == pytest.approx(1.0)
    assert a.energy_share == pytest.approx(16 * 1000 / (16 * 1000 + 4 * 3000))


def test_photons_per_mac_to_attojoules() -> None:
    """DESIGN: at 1550 nm one photon is 0.128 aJ, so 12.5 photons/MAC is 1.6 aJ/MAC."""
    photon = 6.62607015e-34 * 2.99792458e8 / 1550e-9
    facts = [LayerFacts("a", "Conv", macs=10, fan_in=9.0, sigma1=1.0, r_y=1.0, y_ms=1.0)]
    result = account(facts, {"a": 1}, e1=12.5, joules_per_unit=photon)
    assert result.joules_per_mac * 1e18 == pytest.approx(1.6, abs=0.01)
