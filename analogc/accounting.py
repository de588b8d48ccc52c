"""Energy, precision and time accounting (DESIGN §2), from MACs, repeats and noise levels.

Pure arithmetic: the noise level of a layer at repeats N is its temporal E = 1 level scaled by
the law of :mod:`analogc.passes.noise.law`, plus its static level, so one calibration pass
prices every configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from analogc.passes.noise import noise_std

SQRT12 = math.sqrt(12.0)


def effective_bits(output_range: float, sigma: float) -> float:
    """ENOB of a layer: b = log2(1 + R / (sqrt(12)·σ)); a uniform quantiser with the same noise."""
    if sigma <= 0:
        return math.inf
    return math.log2(1.0 + output_range / (SQRT12 * sigma))


def snr_db(mean_square: float, sigma: float) -> float:
    """10·log10(E[y²] / σ²): the clean output's power over the noise power."""
    if sigma <= 0:
        return math.inf
    return 10.0 * math.log10(max(mean_square, 1e-300) / sigma**2)


@dataclass(frozen=True)
class LayerFacts:
    """What accounting needs to know about one analog layer, independent of repeats.

    Attributes:
        name, op_type: the layer.
        macs: multiply-accumulates per example.
        fan_in: dot-product length D.
        sigma1: RMS output noise std of the temporal terms at E = 1, on the calibration set.
        static_sigma: RMS output noise std of the terms repeats do not reduce (0 if none).
        r_y: robust range of the clean output.
        y_ms: mean square of the clean output.
    """

    name: str
    op_type: str
    macs: int
    fan_in: float
    sigma1: float
    r_y: float
    y_ms: float
    static_sigma: float = 0.0


@dataclass(frozen=True)
class LayerAccount:
    name: str
    op_type: str
    macs: int
    repeats: int
    energy_per_mac: float
    energy: float
    energy_share: float
    sigma: float
    enob: float
    snr_db: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Accounting:
    """Per-layer and network totals for one repeats configuration.

    Attributes:
        energy_per_mac: Ē = Σ E_l·MAC_l / Σ MAC_l over analog layers, in the hardware unit.
        joules_per_mac: Ē in joules (optical presets), else None.
        passes_per_mac: time cost of repeats, Σ N_l·MAC_l / Σ MAC_l.
    """

    layers: tuple[LayerAccount, ...]
    analog_macs: int
    energy_per_mac: float
    joules_per_mac: float | None
    passes_per_mac: float

    def to_dict(self) -> dict[str, object]:
        return {
            "analog_macs": self.analog_macs,
            "energy_per_mac": self.energy_per_mac,
            "joules_per_mac": self.joules_per_mac,
            "attojoules_per_mac": None
            if self.joules_per_mac is None
            else self.joules_per_mac * 1e18,
            "passes_per_mac": self.passes_per_mac,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def mean_energy_per_mac(macs: Mapping[str, int], repeats: Mapping[str, int], e1: float) -> float:
    """Ē for a configuration: the quantity the search minimises."""
    total = sum(macs.values())
    return e1 * sum(repeats[name] * m for name, m in macs.items()) / total if total else 0.0


def account(
    facts: Sequence[LayerFacts],
    repeats: Mapping[str, int],
    *,
    e1: float,
    joules_per_unit: float | None = None,
) -> Accounting:
    total_macs = sum(f.macs for f in facts)
    energies = {f.name: repeats[f.name] * e1 * f.macs for f in facts}
    total_energy = sum(energies.values())
    layers = []
    for f in facts:
        n = repeats[f.name]
        sigma = noise_std(f.sigma1, f.static_sigma, n, e1)
        layers.append(
            LayerAccount(
                name=f.name,
                op_type=f.op_type,
                macs=f.macs,
                repeats=n,
                energy_per_mac=n * e1,
                energy=energies[f.name],
                energy_share=energies[f.name] / total_energy if total_energy else 0.0,
                sigma=sigma,
                enob=effective_bits(f.r_y, sigma),
                snr_db=snr_db(f.y_ms, sigma),
            )
        )
    e_bar = total_energy / total_macs if total_macs else 0.0
    passes = sum(repeats[f.name] * f.macs for f in facts) / total_macs if total_macs else 0.0
    return Accounting(
        layers=tuple(layers),
        analog_macs=total_macs,
        energy_per_mac=e_bar,
        joules_per_mac=None if joules_per_unit is None else e_bar * joules_per_unit,
        passes_per_mac=passes,
    )
