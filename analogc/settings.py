"""Typed settings of the commands (keyword-only, frozen, checked on construction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analogc.errors import ConfigError
from analogc.hardware import HardwareConfig
from analogc.inputs import DataSource
from analogc.search import SearchSettings


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class CompileSettings:
    """What ``analogc compile`` plans for, and how.

    Attributes:
        hardware: a preset name, a TOML/JSON file, or a :class:`HardwareConfig`.
        data: calibration data (.npz, folder, ``module:function``, ``demo:calib``, a
            Dataset); None synthesises inputs from the model's input specs.
        output_dir: where to write; default ``./<model stem>.analogc``.
        repeats: one repeats count for every layer instead of a search.
        metric: ``auto`` (accuracy with labels; else agreement for class scores, cosine for
            other outputs: see :mod:`analogc.metric_choice`), a built-in metric name, or
            ``module:function``.
        max_drop: allowed metric drop: absolute (``0.01``) or relative (``"1%"``); for
            ``sqnr``, the lowest SQNR allowed in dB (``"30dB"``).
        search: search settings (strategy, trials, seeds, storage, ...).
        batch_size: examples per onnxruntime run (lowered to fit memory).
        seed: seed of the noise draws baked into the annotated model.
        threads: onnxruntime threads (default: the CPUs this process may use).
        plots: write the trade-off and precision plots.
        batch_axes: input name -> its batch axis, or None to hold it fixed (default: from the
            model's symbolic dimensions).
        values: input name -> the value of an input held fixed (a sample rate), like ``--set``.
        feeds: each .npz of a data folder, or each batch of a reader, is one complete feed.
        digital: node-name globs of analog ops to keep exact, like ``--digital`` (per-layer
            rules applied after the hardware file's ``[[layer]]`` sections).
        pins: node-name glob -> repeats for the ops it selects, like ``--pin GLOB=N`` (the
            search and the uniform baseline keep them; applied after ``digital``).
    """

    hardware: str | Path | HardwareConfig = "optical-shot"
    data: DataSource = None
    output_dir: str | Path | None = None
    repeats: int | None = None
    metric: str = "auto"
    max_drop: str | float = "1%"
    search: SearchSettings = field(default_factory=SearchSettings)
    batch_size: int = 256
    seed: int = 0
    threads: int | None = None
    plots: bool = True
    batch_axes: Mapping[str, int | None] | None = None
    values: Mapping[str, object] | None = None
    feeds: bool = False
    digital: Sequence[str] = ()
    pins: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.digital, str):
            object.__setattr__(self, "digital", (self.digital,))
        object.__setattr__(self, "digital", tuple(self.digital))
        for pattern in self.digital:
            if not isinstance(pattern, str) or not pattern:
                raise ConfigError(f"digital patterns must be non-empty strings, got {pattern!r}")
        object.__setattr__(self, "pins", dict(self.pins))
        for pattern, n in self.pins.items():
            if not isinstance(pattern, str) or not pattern:
                raise ConfigError(f"pin patterns must be non-empty strings, got {pattern!r}")
            _positive_int(f"pins[{pattern!r}]", n)
        if self.repeats is not None:
            _positive_int("repeats", self.repeats)
        _positive_int("batch_size", self.batch_size)
        if self.threads is not None:
            _positive_int("threads", self.threads)


@dataclass(frozen=True, kw_only=True)
class EvaluateSettings:
    """What ``analogc eval`` measures an annotated model on.

    Attributes:
        data: evaluation data (as for :class:`CompileSettings`).
        seeds: noise seeds (each also a programmed chip, for per-chip terms).
        metric, batch_size, threads, batch_axes, values, feeds: as for
            :class:`CompileSettings`.
    """

    data: DataSource = None
    seeds: int = 10
    metric: str = "auto"
    batch_size: int = 256
    threads: int | None = None
    batch_axes: Mapping[str, int | None] | None = None
    values: Mapping[str, object] | None = None
    feeds: bool = False

    def __post_init__(self) -> None:
        _positive_int("seeds", self.seeds)
        _positive_int("batch_size", self.batch_size)
        if self.threads is not None:
            _positive_int("threads", self.threads)
