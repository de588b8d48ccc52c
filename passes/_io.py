"""The one place that reads and writes model files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from analogc.errors import ModelError


def load_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load and check an ONNX file, with one-line errors for the usual ways it goes wrong.

    Raises:
        ModelError: if the file is missing, not ONNX, truncated, or fails the ONNX checker.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, expected an .onnx file")
    try:
        model = onnx.load(str(path))
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from exc
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({_first_line(exc)})") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not an ONNX model (empty or truncated file)")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"{path}: fails the ONNX checker: {_first_line(exc)}") from exc
    return model


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape inference with data propagation (shapes computed from Shape/Reshape chains)."""
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # onnx raises several types here; all mean "cannot infer"
        raise ModelError(f"shape inference failed: {_first_line(exc)}") from exc


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str], *, check: bool = True) -> None:
    """Check, then write atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    if check:
        onnx.checker.check_model(model, full_check=True)
    write_bytes_atomic(path, model.SerializeToString())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
