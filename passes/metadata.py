"""Model-level ``metadata_props``: where analogc keeps its plan, hardware and bookkeeping.

Every key analogc writes starts with :data:`META_PREFIX` (``pkg.analogc.``), on the model and on
the nodes it adds or rewrites, so that ``strip`` and ``eval`` can find them again.
"""

from __future__ import annotations

import copy

import onnx

__all__ = ["META_PREFIX", "get_model_meta", "set_model_meta", "without_model_meta"]

META_PREFIX = "pkg.analogc."


def get_model_meta(model: onnx.ModelProto, key: str) -> str | None:
    """The value stored under ``key``, or None."""
    return next((e.value for e in model.metadata_props if e.key == key), None)


def set_model_meta(model: onnx.ModelProto, key: str, value: str) -> None:
    """Store ``value`` under ``key``, replacing an existing entry in place. Mutates ``model``."""
    for entry in model.metadata_props:
        if entry.key == key:
            entry.value = value
            return
    model.metadata_props.add(key=key, value=value)


def without_model_meta(model: onnx.ModelProto, key: str) -> onnx.ModelProto:
    """A copy of ``model`` without the entry ``key``."""
    out = copy.deepcopy(model)
    kept = [e for e in out.metadata_props if e.key != key]
    del out.metadata_props[:]
    out.metadata_props.extend(kept)
    return out
