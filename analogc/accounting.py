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
        e1: the layer's own energy of one pass per MAC (None: the hardware's).
        max_bits: the layer's ADC resolution, which no effective precision exceeds (None:
            no ADC).
        floor_variance: output variance the static converter terms add whatever the repeats
            (repeats whose temporal variance is below it buy nothing).
    """

    name: str
    op_type: str
    macs: int
    fan_in: float
    sigma1: float
    r_y: float
    y_ms: float
    static_sigma: float = 0.0
    e1: float | None = None
    max_bits: float | None = None
    floor_variance: float = 0.0

    def useful_repeats(self, e1: float, max_repeats: int) -> int:
        """The most repeats that still reduce the noise: past the point where the temporal
        variance σ1²/(N·e1) falls below the converter's floor, more repeats buy nothing."""
        if self.floor_variance <= 0 or self.sigma1 <= 0:
            return max_repeats
        e1 = self.e1 if self.e1 is not None else e1
        return int(min(max_repeats, max(1, math.ceil(self.sigma1**2 / (e1 * self.floor_variance)))))


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


def mean_energy_per_mac(
    macs: Mapping[str, int], repeats: Mapping[str, int], e1: float | Mapping[str, float]
) -> float:
    """Ē for a configuration: the quantity the search minimises (``e1`` per layer, or one
    value for all)."""
    total = sum(macs.values())
    if not total:
        return 0.0
    if isinstance(e1, Mapping):
        return sum(repeats[name] * e1[name] * m for name, m in macs.items()) / total
    return e1 * sum(repeats[name] * m for name, m in macs.items()) / total


def account(
    facts: Sequence[LayerFacts],
    repeats: Mapping[str, int],
    *,
    e1: float,
    joules_per_unit: float | None = None,
) -> Accounting:
    total_macs = sum(f.macs for f in facts)
    e1s = {f.name: e1 if f.e1 is None else f.e1 for f in facts}
    energies = {f.name: repeats[f.name] * e1s[f.name] * f.macs for f in facts}
    total_energy = sum(energies.values())
    layers = []
    for f in facts:
        n = repeats[f.name]
        sigma = noise_std(f.sigma1, f.static_sigma, n, e1s[f.name])
        bits = effective_bits(f.r_y, sigma)
        layers.append(
            LayerAccount(
                name=f.name,
                op_type=f.op_type,
                macs=f.macs,
                repeats=n,
                energy_per_mac=n * e1s[f.name],
                energy=energies[f.name],
                energy_share=energies[f.name] / total_energy if total_energy else 0.0,
                sigma=sigma,
                enob=bits if f.max_bits is None else min(bits, f.max_bits),
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
