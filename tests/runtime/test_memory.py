"""Memory a run frees goes back to the system when memory limits the batch
(analogc/runtime/memory.py). What it saves is measured by bench/memory.py; here: glibc takes
the setting, and compile asks for it exactly when the batch had to shrink."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders import chain_matmuls

import analogc.calibrated as calibrated_module
from analogc.calibrated import CalibratedModel, open_model
from analogc.hardware import load_hardware
from analogc.runtime.data import Dataset
from analogc.runtime.memory import return_freed_memory
from analogc.runtime.metrics import METRICS


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt's M_MMAP_THRESHOLD is glibc's",
)
def test_glibc_takes_the_fixed_threshold() -> None:
    assert return_freed_memory() is True


@pytest.mark.parametrize(("budget", "asked"), [(1 << 30, False), (16 * 64 * 4, True)])
def test_asked_only_when_the_batch_shrinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int, asked: bool
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(calibrated_module, "return_freed_memory", lambda: calls.append(True))
    path = tmp_path / "m.onnx"
    onnx.save(chain_matmuls(), path)
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    CalibratedModel(
        open_model(path),
        load_hardware("optical-shot"),
        Dataset({"x": x}, source="gaussian"),
        metric=METRICS["cosine"],
        batch_size=64,
        memory_budget=budget,
    )
    assert calls == ([True] if asked else [])
