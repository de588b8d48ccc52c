"""Errors a user can fix, kept apart from bugs.

Every error analogc raises on purpose derives from :class:`AnalogcError`; the CLI turns those
into one line and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "AnalogcError",
    "ConfigError",
    "DataError",
    "InfeasibleBudgetError",
    "ModelError",
    "StorageError",
    "UnsupportedModelError",
]


class AnalogcError(Exception):
    """Base class for errors the user can fix (model, data, configuration, budget)."""


class ConfigError(AnalogcError, ValueError):
    """Raised when a hardware configuration, preset or option value is invalid."""


class ModelError(AnalogcError):
    """Raised when the model file is missing, unreadable, not ONNX, or fails the ONNX checker."""


class UnsupportedModelError(AnalogcError):
    """Raised when a valid ONNX model uses something analogc cannot handle (yet)."""


class DataError(AnalogcError, ValueError):
    """Raised when calibration or evaluation data does not match the model."""


class InfeasibleBudgetError(AnalogcError):
    """Raised when no configuration within the search bounds meets the accuracy budget."""


class StorageError(AnalogcError):
    """Raised when the study storage cannot be used: unsupported URL, missing database driver,
    unreachable server, or a connection lost during the search."""
