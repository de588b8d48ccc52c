"""A ``report.json`` read back into its typed report (:mod:`.schema`): what ``analogc check``
compares a new plan with, and what renderers take.

Non-finite floats are written as ``null`` (JSON has no infinity), so a float field read as
``null`` comes back as NaN; keys a newer analogc added are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from analogc.errors import AnalogcError, ConfigError
from analogc.hardware import HardwareConfig
from analogc.runtime.evaluate import Evaluation

from .schema import SCHEMA_VERSION, CompileReport

T = TypeVar("T")


def load_compile_report(path: str | Path) -> CompileReport:
    """Read a ``report.json`` written by ``analogc compile``.

    Raises:
        ConfigError: if the file is missing or unreadable, is not a compile report, or was
            written with another schema version.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such report (give the report.json of a compile)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable report.json ({exc})") from exc
    return compile_report_from_document(document, source=str(path))


def compile_report_from_document(document: object, *, source: str) -> CompileReport:
    """The typed report of a ``report.json`` document (see :func:`load_compile_report`)."""
    if not isinstance(document, Mapping) or document.get("command") != "compile":
        raise ConfigError(f"{source}: not the report.json of `analogc compile`")
    version = document.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: report schema version {version}, this analogc reads version "
            f"{SCHEMA_VERSION}; make the report again with this analogc's `analogc compile`"
        )
    report = _build(CompileReport, document, source)
    assert isinstance(report, CompileReport)
    return report


def _build(kind: Any, value: Any, where: str) -> Any:
    """``value`` (JSON data) as an instance of the type ``kind``, checked on the way."""
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _build(inner, value, where)
    if kind is Any:
        return value
    if kind is HardwareConfig:
        return HardwareConfig.from_dict(_mapping(value, where), source=where)
    if kind is Evaluation:
        data = _mapping(value, where)
        return Evaluation(
            metric=_build(str, data.get("metric"), f"{where}.metric"),
            clean=_build(float, data.get("clean"), f"{where}.clean"),
            values=tuple(_build(list[float], data.get("values"), f"{where}.values")),
            seeds=tuple(_build(list[int], data.get("seeds"), f"{where}.seeds")),
        )
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, _mapping(value, where), where)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _wrong(where, "a list", value)
        items = [_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin in (dict, Mapping):
        return {
            str(k): _build(args[1], v, f"{where}.{k}") for k, v in _mapping(value, where).items()
        }
    return _scalar(kind, value, where)


def _dataclass(kind: type[T], data: Mapping[str, Any], where: str) -> T:
    hints = get_type_hints(kind)
    values = {}
    for f in dataclasses.fields(kind):  # type: ignore[arg-type]  # (checked by the caller)
        if f.name in data:
            values[f.name] = _build(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: lacks the key {f.name!r}")
    return kind(**values)


_SCALARS: dict[Any, tuple[type, ...]] = {
    float: (int, float),
    int: (int,),
    bool: (bool,),
    str: (str,),
}


def _scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is float and value is None:
        return math.nan  # a non-finite float, written as null
    accepted = _SCALARS.get(kind)
    if accepted is None:
        raise AnalogcError(f"{where}: cannot read a {kind!r} from a report")
    if isinstance(value, accepted) and (kind is bool or not isinstance(value, bool)):
        return float(value) if kind is float else value  # type: ignore[arg-type]
    raise _wrong(where, f"a {kind.__name__}", value)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _wrong(where, "an object", value)
    return value


def _wrong(where: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{where}: expected {expected}, got {json.dumps(value)[:40]}")
