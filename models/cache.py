"""Where large built models live, outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "ANALOGC_CACHE"


def cache_dir() -> Path:
    """``$ANALOGC_CACHE`` if set, else ``~/.cache/analogc`` (created by whoever writes there)."""
    root = os.environ.get(ENV)
    return Path(root) if root else Path.home() / ".cache" / "analogc"
