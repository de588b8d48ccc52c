"""The aihwkit classes analogc builds configurations from, loaded only when needed.

aihwkit is optional: ``pip install 'analogc[aihwkit]'`` installs what it needs beside it, and
aihwkit itself goes in with ``pip install --no-deps aihwkit==1.1.0`` (the only release with a
CPython 3.11 wheel; its declared dependencies would pull torchvision, cmake and mypy). Tests pass
stand-ins with aihwkit's field names instead (:class:`AihwkitAPI` is just the names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analogc.errors import ConfigError

__all__ = ["INSTALL", "AihwkitAPI", "AihwkitMissingError"]

INSTALL = (
    "pip install 'analogc[aihwkit]' && pip install --no-deps aihwkit==1.1.0 "
    "(aihwkit 1.1.0 beside torch==2.13.0; see the README's aihwkit section)"
)
"""How to install aihwkit where analogc runs."""


class AihwkitMissingError(ConfigError):
    """Raised when an aihwkit conversion needs aihwkit (or torch) and it is not installed."""

    def __init__(self, missing: str = "aihwkit") -> None:
        what = "aihwkit is" if missing == "aihwkit" else f"{missing} (which aihwkit needs) is"
        super().__init__(f"{what} not installed: {INSTALL}")


@dataclass(frozen=True)
class AihwkitAPI:
    """The aihwkit 1.1 classes and enums an RPUConfig is built from."""

    TorchInferenceRPUConfig: Any
    IOParameters: Any
    MappingParameter: Any
    WeightModifierParameter: Any
    PCMLikeNoiseModel: Any
    GlobalDriftCompensation: Any
    NoiseManagementType: Any
    BoundManagementType: Any
    WeightNoiseType: Any
    WeightModifierType: Any

    @classmethod
    def load(cls) -> AihwkitAPI:
        """The real aihwkit, or :class:`AihwkitMissingError` saying how to install it."""
        try:
            from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel
            from aihwkit.simulator.configs import TorchInferenceRPUConfig
            from aihwkit.simulator.parameters import (
                BoundManagementType,
                IOParameters,
                MappingParameter,
                NoiseManagementType,
                WeightModifierParameter,
                WeightModifierType,
                WeightNoiseType,
            )
        except ModuleNotFoundError as exc:
            raise AihwkitMissingError(_missing(exc)) from exc
        return cls(
            TorchInferenceRPUConfig=TorchInferenceRPUConfig,
            IOParameters=IOParameters,
            MappingParameter=MappingParameter,
            WeightModifierParameter=WeightModifierParameter,
            PCMLikeNoiseModel=PCMLikeNoiseModel,
            GlobalDriftCompensation=GlobalDriftCompensation,
            NoiseManagementType=NoiseManagementType,
            BoundManagementType=BoundManagementType,
            WeightNoiseType=WeightNoiseType,
            WeightModifierType=WeightModifierType,
        )


def _missing(exc: ModuleNotFoundError) -> str:
    """The missing top-level package of an import error (aihwkit, torch, ...)."""
    return (exc.name or "aihwkit").split(".")[0]


def is_missing_dependency(exc: ModuleNotFoundError) -> bool:
    """True when an import failed for want of aihwkit or what it needs."""
    return _missing(exc) in {"aihwkit", "torch", "scipy", "sklearn", "requests", "google"}
