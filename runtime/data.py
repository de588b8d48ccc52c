"""Calibration and evaluation data: loading, checking against the model, synthesising.

Data sets here are small enough to hold in memory (calibration sets are hundreds to a few
thousand examples), which keeps every noisy evaluation on exactly the same batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from analogc.errors import DataError

LABELS = "labels"


@dataclass(frozen=True)
class InputSpec:
    """A model input: name, numpy dtype and shape (ints, symbols, or None for unknown)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...]

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


def input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    initializers = {t.name for t in model.graph.initializer}
    specs = []
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        tt = vi.type.tensor_type
        dims: list[int | str | None] = []
        for d in tt.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
        specs.append(
            InputSpec(
                vi.name, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)), tuple(dims)
            )
        )
    return specs


@dataclass(frozen=True)
class Dataset:
    """Model inputs (first axis: examples) and optional integer labels.

    Attributes:
        inputs: input name -> array, all with the same number of examples.
        labels: class index per example, or None (metrics then compare with the clean model).
        source: where the data came from, for reports.
        synthetic: True when analogc made the data up from the input specs.
    """

    inputs: Mapping[str, np.ndarray]
    labels: np.ndarray | None = None
    source: str = ""
    synthetic: bool = False
    _n: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        sizes = {name: len(a) for name, a in self.inputs.items()}
        if not sizes:
            raise DataError("the data has no input arrays")
        if len(set(sizes.values())) != 1:
            raise DataError(f"input arrays have different numbers of examples: {sizes}")
        n = next(iter(sizes.values()))
        if n == 0:
            raise DataError("the data is empty (0 examples)")
        if self.labels is not None and len(self.labels) != n:
            raise DataError(
                f"'labels' has {len(self.labels)} entries but the inputs have {n} examples"
            )
        object.__setattr__(self, "_n", n)

    def __len__(self) -> int:
        return self._n

    def batches(self, batch_size: int) -> list[dict[str, np.ndarray]]:
        return [
            {name: a[start : start + batch_size] for name, a in self.inputs.items()}
            for start in range(0, self._n, batch_size)
        ]

    def head(self, n: int) -> Dataset:
        """The first ``n`` examples."""
        labels = None if self.labels is None else self.labels[:n]
        return Dataset(
            {k: v[:n] for k, v in self.inputs.items()}, labels, self.source, self.synthetic
        )


def load_npz(path: str | os.PathLike[str], specs: Sequence[InputSpec]) -> Dataset:
    """An .npz holding one array per model input (same names) and optionally ``labels``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from exc
    labels = arrays.pop(LABELS, None)
    dataset = Dataset(arrays, labels, source=str(path))
    validate(dataset, specs)
    return dataset


def load_directory(path: str | os.PathLike[str], specs: Sequence[InputSpec]) -> Dataset:
    """A folder of ``<input>.npy`` files (plus optional ``labels.npy``), or of .npz chunks
    that are concatenated along the example axis in file-name order."""
    path = Path(path)
    npy = sorted(path.glob("*.npy"))
    npz = sorted(path.glob("*.npz"))
    if npy and npz:
        raise DataError(f"{path}: holds both .npy and .npz files; use one kind")
    if npy:
        arrays = {}
        for f in npy:
            try:
                arrays[f.stem] = np.load(f, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataError(f"{f}: not a readable .npy file ({exc})") from exc
        labels = arrays.pop(LABELS, None)
        dataset = Dataset(arrays, labels, source=str(path))
    elif npz:
        parts = [load_npz(f, specs) for f in npz]
        dataset = _concat(parts, source=str(path))
    else:
        raise DataError(f"{path}: no .npy or .npz files in this folder")
    validate(dataset, specs)
    return dataset


def load_reader(spec: str, specs: Sequence[InputSpec]) -> Dataset:
    """``module:function``: a function (no arguments) returning an iterable of batches, each a
    dict of input name -> array, optionally with ``labels``. The module is imported from the
    current directory or the Python path."""
    import importlib
    import sys

    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise DataError(f"{spec!r}: a data reader is given as module:function")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"cannot load data reader {spec!r}: {exc}") from exc
    parts = []
    for i, batch in enumerate(func()):
        if not isinstance(batch, Mapping):
            raise DataError(
                f"data reader {spec!r}: batch {i} is a {type(batch).__name__}, expected a dict of arrays"
            )
        arrays = {k: np.asarray(v) for k, v in batch.items()}
        labels = arrays.pop(LABELS, None)
        parts.append(Dataset(arrays, labels, source=spec))
    if not parts:
        raise DataError(f"data reader {spec!r} yielded no batches")
    dataset = _concat(parts, source=spec)
    validate(dataset, specs)
    return dataset


def _concat(parts: Sequence[Dataset], *, source: str) -> Dataset:
    names = set(parts[0].inputs)
    for i, part in enumerate(parts):
        if set(part.inputs) != names:
            raise DataError(
                f"{source}: part {i} has arrays {sorted(part.inputs)}, the first has {sorted(names)}"
            )
    has_labels = {part.labels is not None for part in parts}
    if len(has_labels) > 1:
        raise DataError(f"{source}: some parts have 'labels' and some do not")
    try:
        inputs = {name: np.concatenate([part.inputs[name] for part in parts]) for name in names}
    except ValueError as exc:
        raise DataError(f"{source}: parts do not stack along the example axis ({exc})") from exc
    labels = np.concatenate([part.labels for part in parts]) if True in has_labels else None  # type: ignore[misc]
    return Dataset(inputs, labels, source=source)


def validate(dataset: Dataset, specs: Sequence[InputSpec]) -> None:
    """Check names, dtypes, ranks, static dims and values against the model's inputs.

    Raises:
        DataError: naming the input and what the model expects.
    """
    expected = {s.name: s for s in specs}
    where = f"{dataset.source}: " if dataset.source else ""
    missing = sorted(set(expected) - set(dataset.inputs))
    extra = sorted(set(dataset.inputs) - set(expected))
    if missing or extra:
        want = ", ".join(f"'{s.name}' {s.describe()}" for s in specs)
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise DataError(
            f"{where}arrays do not match the model inputs ({'; '.join(parts)}); "
            f"the model expects {want} (plus optional '{LABELS}')"
        )
    for name, spec in expected.items():
        array = dataset.inputs[name]
        if array.dtype != spec.dtype:
            raise DataError(
                f"{where}input '{name}' is {array.dtype}, the model expects {spec.describe()} "
                f"(convert with .astype(np.{spec.dtype}))"
            )
        if array.ndim != len(spec.shape):
            raise DataError(
                f"{where}input '{name}' has shape {list(array.shape)}, the model expects {spec.describe()}"
            )
        for axis, (have, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
            if axis > 0 and isinstance(want, int) and want > 0 and have != want:
                raise DataError(
                    f"{where}input '{name}' has shape {list(array.shape)}, "
                    f"the model expects {spec.describe()} (axis {axis})"
                )
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise DataError(f"{where}input '{name}' contains NaN or infinite values")
    if dataset.labels is not None:
        labels = dataset.labels
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{where}'{LABELS}' must be a 1-D integer array of class indices, "
                f"got {labels.dtype}{list(labels.shape)}"
            )


def synthesize(specs: Sequence[InputSpec], *, examples: int = 64, seed: int = 0) -> Dataset:
    """Random inputs shaped like the model's, for a first look without data.

    Floats are standard normal; integers are 0 or 1 (valid token ids and indices); the batch
    (first) axis has ``examples`` entries and other unknown dims are 16.
    """
    rng = np.random.default_rng(seed)
    inputs = {}
    for spec in specs:
        dims = [examples] + [d if isinstance(d, int) and d > 0 else 16 for d in spec.shape[1:]]
        if not spec.shape:
            raise DataError(
                f"input '{spec.name}' is a scalar; analogc needs a batch axis to synthesise data"
            )
        if np.issubdtype(spec.dtype, np.floating):
            inputs[spec.name] = rng.standard_normal(dims).astype(spec.dtype)
        elif spec.dtype == np.bool_:
            inputs[spec.name] = rng.integers(0, 2, dims).astype(bool)
        else:
            inputs[spec.name] = rng.integers(0, 2, dims).astype(spec.dtype)
    return Dataset(
        inputs,
        None,
        source="synthetic (random inputs from the model's input specs)",
        synthetic=True,
    )
