"""Hardware models: which noise terms, their constants, and what one analog pass costs.

A hardware model is a preset name or a TOML/JSON file::

    name = "my-photonic-chip"
    description = "homodyne MZI mesh, shot-noise limited"
    e1 = 1.0                 # energy of one pass per MAC, in energy_unit
    energy_unit = "photons"  # "photons" (then wavelength_nm converts to joules) or any label
    wavelength_nm = 1550

    [noise]
    shot = true
    thermal = false
    weight = false
    k_t = 0.01
    k_w = 0.1

    [[layer]]                # per-layer sections (analogc.layer_rules), applied in order
    match = "/fc/*"
    digital = true
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analogc.errors import ConfigError
from analogc.layer_rules import LayerRule
from analogc.passes.noise import TERMS, NoiseModel
from analogc.presets import PRESET_FILES, preset_path

__all__ = ["PRESETS", "HardwareConfig", "load_hardware"]

PLANCK = 6.62607015e-34  # J·s
LIGHT = 2.99792458e8  # m/s


@dataclass(frozen=True, kw_only=True)
class HardwareConfig:
    """An analog accelerator as analogc sees it.

    Attributes:
        name: short identifier, shown in reports.
        description: one line for humans.
        source: where the figures come from (papers, a simulator's defaults).
        noise: noise terms and constants (DESIGN §2).
        e1: energy of one analog pass per MAC, in ``energy_unit``; E_l = repeats · e1.
        energy_unit: ``photons`` for optics (photons per MAC), else a free label.
        wavelength_nm: optical wavelength, converts photons to joules; None otherwise.
        layers: per-layer sections (``[[layer]]``), applied in order to the ops they select.
    """

    name: str
    description: str = ""
    source: str = ""
    noise: NoiseModel
    e1: float = 1.0
    energy_unit: str = "relative"
    wavelength_nm: float | None = None
    layers: tuple[LayerRule, ...] = ()

    def __post_init__(self) -> None:
        if not self.e1 > 0:
            raise ConfigError(f"e1 (energy of one pass per MAC) must be > 0, got {self.e1}")
        if self.wavelength_nm is not None and not self.wavelength_nm > 0:
            raise ConfigError(f"wavelength_nm must be > 0, got {self.wavelength_nm}")

    @property
    def joules_per_unit(self) -> float | None:
        """Joules per ``energy_unit`` (one photon at the wavelength), or None if not physical."""
        if self.energy_unit == "photons" and self.wavelength_nm:
            return PLANCK * LIGHT / (self.wavelength_nm * 1e-9)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "noise": self.noise.to_dict(),
            "e1": self.e1,
            "energy_unit": self.energy_unit,
            "wavelength_nm": self.wavelength_nm,
            "layer": [rule.to_dict() for rule in self.layers],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "hardware config"
    ) -> HardwareConfig:
        allowed = {
            "name",
            "description",
            "source",
            "e1",
            "energy_unit",
            "wavelength_nm",
            "noise",
            "layer",
        }
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}; allowed: {sorted(allowed)}")
        noise = data.get("noise")
        if not isinstance(noise, Mapping):
            raise ConfigError(
                f"{source}: needs a [noise] table with at least one of {'/'.join(TERMS)} = true"
            )
        layers = _layer_rules(data.get("layer", []), source)
        try:
            return cls(
                name=_text(data, "name", source),
                description=_text(data, "description", ""),
                source=_text(data, "source", ""),
                noise=NoiseModel.from_dict(noise, where="[noise] "),
                e1=_number(data, "e1", 1.0),
                energy_unit=_text(data, "energy_unit", "relative"),
                wavelength_nm=None
                if data.get("wavelength_nm") is None
                else _number(data, "wavelength_nm", None),
                layers=layers,
            )
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> HardwareConfig:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read hardware config ({exc.strerror})") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc})"
            ) from exc
        return cls.from_dict(data, source=str(path))


def _text(data: Mapping[str, Any], key: str, default: str) -> str:
    """A string key, strictly: ``name = 3`` is refused, not turned into ``"3"``."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _number(data: Mapping[str, Any], key: str, default: float | None) -> float:
    """A numeric key, strictly: ``e1 = "1"`` (a string) or ``e1 = true`` is refused."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def _layer_rules(sections: Any, source: str) -> tuple[LayerRule, ...]:
    if not isinstance(sections, list):
        raise ConfigError(
            f"{source}: layer must be a list of tables ([[layer]] sections), got {sections!r}"
        )
    return tuple(
        LayerRule.from_dict(section, index=i, origin=source)
        for i, section in enumerate(sections, 1)
    )


class _Presets(Mapping[str, HardwareConfig]):
    """The built-in presets (:mod:`analogc.presets`), each read from its file when first used."""

    def __init__(self) -> None:
        self._loaded: dict[str, HardwareConfig] = {}

    def __getitem__(self, name: str) -> HardwareConfig:
        if name not in PRESET_FILES:
            raise KeyError(name)
        if name not in self._loaded:
            self._loaded[name] = HardwareConfig.from_file(preset_path(name))
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(PRESET_FILES)

    def __len__(self) -> int:
        return len(PRESET_FILES)


PRESETS: Mapping[str, HardwareConfig] = _Presets()
"""Preset name -> hardware model (the files in ``analogc/presets``)."""


def load_hardware(spec: str | Path | HardwareConfig) -> HardwareConfig:
    """A preset by name, or a TOML/JSON file.

    Raises:
        ConfigError: if ``spec`` is neither a preset nor a readable, valid file.
    """
    if isinstance(spec, HardwareConfig):
        return spec
    if str(spec) in PRESETS:
        return PRESETS[str(spec)]
    path = Path(spec)
    if path.suffix in (".toml", ".json") or path.exists():
        if not path.exists():
            raise ConfigError(f"{path}: no such hardware config file")
        return HardwareConfig.from_file(path)
    raise ConfigError(
        f"unknown hardware '{spec}': use a preset ({', '.join(PRESETS)}) or a .toml/.json file"
    )
