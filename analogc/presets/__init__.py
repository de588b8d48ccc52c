"""Hardware presets: one TOML file each in this folder, one line each in :data:`PRESET_FILES`.

A preset is a hardware file like any user's (``analogc compile -H my-chip.toml``), shipped with
analogc; its header comment and ``description`` say where its figures come from.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PRESET_FILES: dict[str, str] = {
    "optical-shot": "optical-shot.toml",
    "electronic-thermal": "electronic-thermal.toml",
    "weight-noise": "weight-noise.toml",
    "photonic-converters": "photonic-converters.toml",
    "pcm-crossbar": "pcm-crossbar.toml",
    "rram-crossbar": "rram-crossbar.toml",
}
"""Preset name (``-H NAME``) -> its file in this folder."""


def preset_path(name: str) -> Path:
    return Path(str(resources.files(__name__).joinpath(PRESET_FILES[name])))
