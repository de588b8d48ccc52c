"""``analogc hardware from-aihwkit``: an aihwkit configuration written as a hardware file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from analogc import __version__
from analogc.errors import ConfigError
from analogc.hardware_toml import hardware_toml

from .from_rpu import Translation, hardware_from_aihwkit
from .loading import load_rpu_config

__all__ = ["hardware_file", "write_text_atomically"]


def hardware_file(
    config: Any,
    *,
    name: str | None = None,
    program: bool = True,
    t_inference: float | None = None,
) -> tuple[str, Translation]:
    """The TOML hardware file of an aihwkit configuration (or of the ``module:attr`` naming
    one), and the translation it was written from; the notes head the file as comments.

    Raises:
        AihwkitMissingError: loading the configuration needs aihwkit and it is missing.
        ConfigError: the configuration cannot be loaded, or has fields analogc cannot model.
    """
    spec = config if isinstance(config, str) else ""
    if spec:
        config = load_rpu_config(spec)
    translation = hardware_from_aihwkit(
        config, name=name, source=spec, program=program, t_inference=t_inference
    )
    header = (
        f"analogc hardware file translated from aihwkit {type(config).__name__}"
        + (f" ({spec})" if spec else "")
        + f" by analogc {__version__} (analogc hardware from-aihwkit)."
    )
    return hardware_toml(translation.hardware, comments=[header, *translation.notes]), translation


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{path}: its folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
