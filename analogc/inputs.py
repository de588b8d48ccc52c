"""What a command reads besides the model: data, the metric, the demo files; and the facts
that identify them (versions, fingerprints)."""

from __future__ import annotations

import hashlib
import platform
import re
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import onnx

from analogc.errors import ConfigError, DataError, ModelError
from analogc.runtime.data import (
    Dataset,
    input_specs,
    load_directory,
    load_npz,
    load_reader,
    synthesize,
    validate,
)
from analogc.runtime.metrics import METRICS, Metric, custom_metric, default_metric

DEMO_MODEL = "digits_resnet.onnx"
DEMO_DATA = {"demo:calib": "digits_calib.npz", "demo:test": "digits_test.npz"}
READER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # module.path:function

DataSource = str | Path | Dataset | None
"""``--data``: a file or folder, ``module:function``, ``demo:calib``, a Dataset, or None."""


def demo_file(name: str) -> Path:
    """A file shipped in ``analogc.models`` (the demo model and its data)."""
    path = Path(str(resources.files("analogc.models").joinpath(name)))
    if not path.exists():
        raise ModelError(f"demo file {name} is missing from the installation ({path})")
    return path


def load_data(
    data: DataSource, model: onnx.ModelProto, *, examples: int = 64, seed: int = 0
) -> Dataset:
    """Resolve ``--data``: an .npz, ``demo:calib``/``demo:test``, a Dataset, or None (synthetic)."""
    specs = input_specs(model)
    if isinstance(data, Dataset):
        validate(data, specs)
        return data
    if data is None:
        return synthesize(specs, examples=examples, seed=seed)
    text = str(data)
    if text in DEMO_DATA:
        return load_npz(demo_file(DEMO_DATA[text]), specs)
    path = Path(text)
    if path.is_dir():
        return load_directory(path, specs)
    if path.suffix == ".npz" or path.is_file():
        return load_npz(path, specs)
    if READER.fullmatch(text) and not path.exists():
        return load_reader(text, specs)
    raise DataError(
        f"{text}: no such data file or folder (give an .npz with arrays named like the model inputs, "
        "a folder of .npy/.npz files, a reader module:function, or demo:calib)"
    )


def resolve_metric(name: str, dataset: Dataset) -> Metric:
    """``--metric``: ``auto``, a built-in name, or ``module:function``."""
    if name == "auto":
        return default_metric(dataset.labels is not None)
    if ":" in name:
        return custom_metric(name)
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}; choose from auto, {', '.join(METRICS)}, or module:function"
        )
    metric = METRICS[name]
    if metric.needs_labels and dataset.labels is None:
        raise DataError(
            f"metric {name!r} needs labels: add a 'labels' array to the data, or use --metric agreement"
        )
    return metric


def versions() -> dict[str, str]:
    """Python and the packages whose versions change results."""
    out = {"python": platform.python_version()}
    for pkg in ("onnx", "onnxruntime", "optuna", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "?"
    return out


def data_fingerprint(dataset: Dataset) -> str:
    """sha256 of the data's arrays (names, dtypes, shapes, bytes) and labels."""
    h = hashlib.sha256()
    for name in sorted(dataset.inputs):
        a = np.ascontiguousarray(dataset.inputs[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    if dataset.labels is not None:
        h.update(np.ascontiguousarray(dataset.labels).tobytes())
    return h.hexdigest()
