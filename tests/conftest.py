"""Shared fixtures. Model builders live in ``builders.py``, helpers in ``helpers.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from builders import SEED

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def gen() -> np.random.Generator:
    """A fresh generator with the suite's seed (every test sees the same stream)."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def demo_path() -> Path:
    path = MODELS / "digits_resnet.onnx"
    if not path.exists():
        pytest.skip(f"demo model {path} is missing")
    return path


@pytest.fixture(scope="session")
def demo_data() -> dict[str, np.ndarray]:
    path = MODELS / "digits_calib.npz"
    if not path.exists():
        pytest.skip(f"demo data {path} is missing")
    with np.load(path) as data:
        return {"image": data["image"].astype(np.float32), "labels": data["labels"]}


@pytest.fixture(scope="session")
def demo_model(demo_path: Path) -> onnx.ModelProto:
    """The demo ResNet, loaded, shape-inferred and named (do not mutate: deep-copy first)."""
    from analogc.passes import infer_shapes, load_model, name_nodes

    model = infer_shapes(load_model(demo_path))
    name_nodes(model)
    return model
