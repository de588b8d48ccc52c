"""The plan: which noise model applies, and each analog layer's repeats and calibration facts.

A plan is plain data (ORT quantization's "mark first, build later"): discovery and calibration
produce it, the search edits repeats, and only :func:`analogc.passes.annotate` turns it into
graph edits. It round-trips through JSON so that it can live in the annotated model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from analogc.errors import ConfigError

from .noise import NoiseModel

__all__ = ["LayerPlan", "NoiseModel", "Plan"]

PLAN_FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class LayerPlan:
    """One analog op's precision, the calibration facts its noise needs, and its own hardware
    where it differs from the plan's (per-layer hardware rules).

    Attributes:
        repeats: number of averaged analog passes, N >= 1.
        r_x: robust range of the op's input on the calibration set (thermal noise).
        x_absmax: robust abs-max of the input (a DAC's calibrated range).
        y_absmax: robust abs-max of the clean output (an ADC's range, per op).
        y_absmax_channels: abs-max of the clean output per output channel (an ADC's range,
            per channel).
        noise: this layer's noise model (None: the plan's).
        e1: this layer's energy of one pass per MAC (None: the plan's).
    """

    repeats: int = 1
    r_x: float = 1.0
    x_absmax: float | None = None
    y_absmax: float | None = None
    y_absmax_channels: tuple[float, ...] | None = None
    noise: NoiseModel | None = None
    e1: float | None = None

    def __post_init__(self) -> None:
        if int(self.repeats) != self.repeats or self.repeats < 1:
            raise ConfigError(f"repeats must be an integer >= 1, got {self.repeats}")
        if not self.r_x >= 0:
            raise ConfigError(f"input range r_x must be >= 0, got {self.r_x}")
        if self.e1 is not None and not self.e1 > 0:
            raise ConfigError(f"energy per pass e1 must be > 0, got {self.e1}")

    def to_dict(self) -> dict[str, Any]:
        """``repeats`` and ``r_x``, then only the facts and overrides that are set."""
        out: dict[str, Any] = {"repeats": self.repeats, "r_x": self.r_x}
        for name in ("x_absmax", "y_absmax", "y_absmax_channels", "e1"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.noise is not None:
            out["noise"] = self.noise.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerPlan:
        values = dict(data)
        if values.get("noise") is not None:
            values["noise"] = NoiseModel.from_dict(values["noise"], allow_empty=True)
        if values.get("y_absmax_channels") is not None:
            values["y_absmax_channels"] = tuple(float(v) for v in values["y_absmax_channels"])
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The noise model, the energy of one pass, and a :class:`LayerPlan` per analog op.

    Attributes:
        noise: the noise terms and constants, shared by every analog op.
        e1: energy of one analog pass per MAC (photons/MAC for optics, relative otherwise).
        layers: analog op name -> its plan; ops not listed stay digital.
        seed: base seed of the noise draws baked into the annotated model.
    """

    noise: NoiseModel
    e1: float = 1.0
    layers: Mapping[str, LayerPlan] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.e1 > 0:
            raise ConfigError(f"energy per pass e1 must be > 0, got {self.e1}")

    def noise_of(self, layer: str) -> NoiseModel:
        """The noise model of ``layer`` (its own, or the plan's)."""
        return self.layers[layer].noise or self.noise

    def e1_of(self, layer: str) -> float:
        """The energy of one pass per MAC of ``layer`` (its own, or the plan's)."""
        own = self.layers[layer].e1
        return self.e1 if own is None else own

    def with_repeats(self, repeats: Mapping[str, int] | int) -> Plan:
        """A copy with new repeats: one count for every layer, or a per-layer mapping."""
        if isinstance(repeats, int):
            repeats = dict.fromkeys(self.layers, repeats)
        unknown = set(repeats) - set(self.layers)
        if unknown:
            raise ConfigError(f"repeats given for unknown layers: {sorted(unknown)}")
        layers = {
            name: replace(lp, repeats=int(repeats.get(name, lp.repeats)))
            for name, lp in self.layers.items()
        }
        return replace(self, layers=layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "noise": self.noise.to_dict(),
            "e1": self.e1,
            "seed": self.seed,
            "layers": {name: lp.to_dict() for name, lp in self.layers.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("format") != PLAN_FORMAT:
            raise ConfigError(
                f"unsupported plan format {data.get('format')!r}; expected {PLAN_FORMAT}"
            )
        return cls(
            noise=NoiseModel.from_dict(data["noise"]),
            e1=float(data["e1"]),
            seed=int(data["seed"]),
            layers={name: LayerPlan.from_dict(lp) for name, lp in data["layers"].items()},
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))
