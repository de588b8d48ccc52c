"""analogc: per-layer precision planning and noisy simulation of ONNX models on analog hardware.

The Python API (the CLI is a thin layer over it)::

    import analogc

    report = analogc.compile("model.onnx", hardware="electronic-thermal", data="calib.npz")
    print(report.saving, report.dynamic.energy_per_mac)
    analogc.evaluate("model.analogc/model.analog.onnx", data="test.npz").evaluation.mean
    analogc.inspect("model.onnx").macs.analog
    analogc.strip("model.analogc/model.analog.onnx", "plain.onnx")
    analogc.check("model.onnx", "baseline/report.json", data="calib.npz").passed  # the CI gate

Names are imported on first use, so ``import analogc`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from analogc.errors import AnalogcError, ConfigError, DataError, ModelError
    from analogc.gate import check_model as check
    from analogc.hardware import HardwareConfig
    from analogc.pipeline import compile_model as compile
    from analogc.pipeline import evaluate_model as evaluate
    from analogc.pipeline import inspect_model as inspect
    from analogc.pipeline import strip_model as strip
    from analogc.report import CompileReport, EvalReport, InspectReport
    from analogc.report.schema import CheckReport
    from analogc.runtime.data import Dataset
    from analogc.search import SearchSettings
    from analogc.settings import CompileSettings, EvaluateSettings

_EXPORTS = {
    "compile": ("analogc.pipeline", "compile_model"),
    "evaluate": ("analogc.pipeline", "evaluate_model"),
    "inspect": ("analogc.pipeline", "inspect_model"),
    "strip": ("analogc.pipeline", "strip_model"),
    "check": ("analogc.gate", "check_model"),
    "CheckReport": ("analogc.report.schema", "CheckReport"),
    "CompileSettings": ("analogc.settings", "CompileSettings"),
    "EvaluateSettings": ("analogc.settings", "EvaluateSettings"),
    "SearchSettings": ("analogc.search", "SearchSettings"),
    "HardwareConfig": ("analogc.hardware", "HardwareConfig"),
    "Dataset": ("analogc.runtime.data", "Dataset"),
    "CompileReport": ("analogc.report", "CompileReport"),
    "EvalReport": ("analogc.report", "EvalReport"),
    "InspectReport": ("analogc.report", "InspectReport"),
    "AnalogcError": ("analogc.errors", "AnalogcError"),
    "ConfigError": ("analogc.errors", "ConfigError"),
    "DataError": ("analogc.errors", "DataError"),
    "ModelError": ("analogc.errors", "ModelError"),
}

__all__ = [
    "AnalogcError",
    "CheckReport",
    "CompileReport",
    "CompileSettings",
    "ConfigError",
    "DataError",
    "Dataset",
    "EvalReport",
    "EvaluateSettings",
    "HardwareConfig",
    "InspectReport",
    "ModelError",
    "SearchSettings",
    "__version__",
    "check",
    "compile",
    "evaluate",
    "inspect",
    "strip",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'analogc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
