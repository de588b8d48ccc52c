"""Where conversions read from: an aihwkit configuration named ``module:attr``, and an
analogc plan (a :class:`~analogc.passes.Plan`, an annotated model, or a ``report.json``)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import onnx

from analogc.errors import ConfigError, ModelError
from analogc.passes import LayerPlan, NoiseModel, Plan, read_plan

from .api import AihwkitMissingError, is_missing_dependency

__all__ = ["load_plan", "load_rpu_config"]


def _module(name: str) -> Any:
    """A module by dotted name (the current directory on the path), or a ``.py`` file."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"{name}: no such Python file")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"{name}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if "" not in sys.path:
        sys.path.insert(0, "")
    return importlib.import_module(name)


def load_rpu_config(spec: str) -> Any:
    """The aihwkit RPUConfig ``module:attr`` names (``attr`` may be dotted): an instance, or
    a class or function returning one (called without arguments).

    Raises:
        AihwkitMissingError: when importing it needs aihwkit (or torch) and it is missing.
        ConfigError: when it cannot be imported or is not an RPUConfig.
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{spec!r}: name the configuration as module:attr (or file.py:attr)")
    try:
        value: Any = _module(module_name)
    except ModuleNotFoundError as exc:
        if is_missing_dependency(exc):
            raise AihwkitMissingError((exc.name or "aihwkit").split(".")[0]) from exc
        raise ConfigError(f"cannot import {module_name}: {exc}") from exc
    except ConfigError:
        raise
    except Exception as exc:  # the user's module failed: say where, in one line
        raise ConfigError(f"cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(value, part):
            raise ConfigError(f"{spec}: {module_name} has no attribute {attr!r}")
        value = getattr(value, part)
    if isinstance(value, type) or (callable(value) and not hasattr(value, "forward")):
        try:
            value = value()
        except Exception as exc:
            raise ConfigError(f"{spec}: calling it failed: {type(exc).__name__}: {exc}") from exc
    if not hasattr(value, "forward"):
        raise ConfigError(
            f"{spec} is a {type(value).__name__}, not an aihwkit RPUConfig "
            "(no forward IO parameters)"
        )
    return value


def _plan_from_report(path: Path, document: dict[str, Any]) -> Plan:
    """A plan from ``report.json``: the hardware's noise model and each layer's repeats (and
    energy per pass); calibration facts are not in the report."""
    try:
        hardware = document["hardware"]
        noise = NoiseModel.from_dict(hardware["noise"])
        e1 = float(hardware["e1"])
        rows = document["layers"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not an analogc compile report ({exc} missing)") from exc
    layers = {}
    for row in rows:
        label = row.get("noise") or noise.label
        if label != noise.label:
            raise ConfigError(
                f"{path}: layer {row['name']} has its own noise ({label}), whose constants the "
                "report does not keep: convert the annotated model instead"
            )
        repeats = int(row["repeats"])
        own_e1 = float(row["energy_per_mac"]) / repeats
        same = abs(own_e1 - e1) <= 1e-9 * e1
        layers[row["name"]] = LayerPlan(
            repeats=repeats, r_x=float(row["r_x"]), e1=None if same else own_e1
        )
    return Plan(noise=noise, e1=e1, layers=layers)


def load_plan(source: Plan | str | Path) -> Plan:
    """An analogc plan: as given, from an annotated model (its stored plan, with each layer's
    calibration facts), or from a compile ``report.json`` (repeats only).

    Raises:
        ModelError: a model that carries no plan.
        ConfigError: a file that is neither.
    """
    if isinstance(source, Plan):
        return source
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (give an annotated model or a report.json)")
    if path.suffix == ".json":
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not a readable JSON report ({exc})") from exc
        return _plan_from_report(path, document)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path}: not an ONNX model ({type(exc).__name__})") from exc
    plan = read_plan(model)
    if plan is None:
        raise ModelError(
            f"{path}: carries no analogc plan; convert the output of `analogc compile`"
        )
    return plan
