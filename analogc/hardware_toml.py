"""A hardware model written back as a hardware file (TOML), the form ``--hardware`` reads.

Only what is on is written: the enabled terms' flags and every constant they own, so the file
says everything the model does (defaults included) and nothing it does not, then the per-layer
``[[layer]]`` rules as they were given. Reading the text back with
:meth:`analogc.hardware.HardwareConfig.from_dict` gives the same model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from analogc.hardware import HardwareConfig

__all__ = ["hardware_toml"]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        number = value
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    return json.dumps(str(value), ensure_ascii=False)


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines() or [""]]


def hardware_toml(hardware: HardwareConfig, *, comments: Sequence[str] = ()) -> str:
    """The TOML text of ``hardware``, ``comments`` first (one ``#`` line per line of each)."""
    lines = [line for text in comments for line in _comment(text)]
    if lines:
        lines.append("")
    lines += [
        f"name = {_value(hardware.name)}",
        f"description = {_value(hardware.description)}",
    ]
    if hardware.source:
        lines.append(f"source = {_value(hardware.source)}")
    lines += [f"e1 = {_value(hardware.e1)}", f"energy_unit = {_value(hardware.energy_unit)}"]
    if hardware.wavelength_nm is not None:
        lines.append(f"wavelength_nm = {_value(hardware.wavelength_nm)}")
    lines += ["", "[noise]"]
    noise = hardware.noise
    for term in noise.enabled:
        lines.append(f"{term.name} = true")
        lines += [f"{param.name} = {_value(noise[param.name])}" for param in term.params]
    for rule in hardware.layers:
        lines += ["", "[[layer]]"]
        lines += [f"{key} = {_value(value)}" for key, value in rule.to_dict().items()]
    return "\n".join(lines) + "\n"
