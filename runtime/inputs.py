"""What a model's inputs are, how each one is batched, and values fixed by the user.

Real models do not all take one plain batch: a voice-activity detector takes audio
``[batch, samples]``, a recurrent state ``[2, batch, 128]`` with the batch on axis 1, and a
sample rate that is a scalar. Each input therefore has a *batch axis* (an int) or none (it is
held fixed: the same value for every batch), found from the model's symbolic dimensions (see
:func:`infer_batch_axes`) and overridable per input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from analogc.errors import DataError

BatchAxes = Mapping[str, int | None]
"""Input name -> its batch axis, or None for an input held fixed."""

_BATCH_NAME = re.compile(r"batch|^n$|^b$|^bs$", re.IGNORECASE)


@dataclass(frozen=True)
class InputSpec:
    """A model input: name, numpy dtype and shape (ints, symbols, or None for unknown).

    Attributes:
        default: the input's default value (an initializer of the same name), if it has one;
            an input with a default need not be fed.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int | str | None, ...]
    default: np.ndarray | None = None

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"

    @property
    def scalar_like(self) -> bool:
        """One value (a scalar, or every dimension 1): a setting such as a sample rate."""
        return all(d == 1 for d in self.shape)


def _spec(vi: onnx.ValueInfoProto, default: np.ndarray | None = None) -> InputSpec:
    tt = vi.type.tensor_type
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type))
    return InputSpec(vi.name, dtype, tuple(dims), default)


def input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    """The inputs the data must give (those without a default value)."""
    initializers = {t.name for t in model.graph.initializer}
    return [_spec(vi) for vi in model.graph.input if vi.name not in initializers]


def defaulted_inputs(model: onnx.ModelProto) -> list[InputSpec]:
    """Inputs with a default value that is a single number (a setting the user may change
    with ``--set``). Larger defaulted inputs are weights (IR 3 lists every weight as an
    input), which analogc leaves alone."""
    if model.ir_version < 4:
        return []
    initializers = {t.name: t for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        tensor = initializers.get(vi.name)
        if tensor is None or int(np.prod(tensor.dims, dtype=np.int64)) != 1:
            continue
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            continue
        out.append(_spec(vi, numpy_helper.to_array(tensor)))
    return out


def output_shapes(model: onnx.ModelProto) -> list[tuple[int | str | None, ...]]:
    return [
        tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in vi.type.tensor_type.shape.dim
        )
        for vi in model.graph.output
    ]


def batch_symbol(
    specs: Sequence[InputSpec], outputs: Sequence[tuple[int | str | None, ...]] = ()
) -> str | None:
    """The symbolic dimension that is the batch, if the inputs share one.

    A symbol shared by two or more inputs is a candidate. Among candidates: a name that
    says batch (``batch``, ``batch_size``, ``N``, ``B``), then the symbol most inputs
    have, then one leading a model output, then one leading an input. With a single
    non-scalar input, its symbols are candidates.
    """
    shaped = [s for s in specs if s.shape]
    holders: dict[str, int] = {}
    for spec in shaped:
        for symbol in {d for d in spec.shape if isinstance(d, str)}:
            holders[symbol] = holders.get(symbol, 0) + 1
    minimum = 1 if len(shaped) == 1 else 2
    candidates = [s for s, count in holders.items() if count >= minimum]
    if not candidates:
        return None
    leads_output = {shape[0] for shape in outputs if shape and isinstance(shape[0], str)}
    leads_input = {s.shape[0] for s in shaped if isinstance(s.shape[0], str)}
    return max(
        candidates,
        key=lambda s: (
            bool(_BATCH_NAME.search(s)),
            holders[s],
            s in leads_output,
            s in leads_input,
        ),
    )


def infer_batch_axes(
    specs: Sequence[InputSpec],
    outputs: Sequence[tuple[int | str | None, ...]] = (),
    overrides: BatchAxes | None = None,
) -> dict[str, int | None]:
    """Each input's batch axis, or None for an input held fixed.

    With a batch symbol (:func:`batch_symbol`), an input is batched along the axis holding
    that symbol and held fixed if it has none (``state [2, 'batch', 128]`` -> 1; ``sr []``
    -> None). Without one (static shapes, or symbols no two inputs share), every input but
    the scalars is batched on its first axis. ``overrides`` (``--batch-axis NAME=AXIS``)
    win; a negative axis counts from the end.

    Raises:
        DataError: an override names no input, or an axis the input does not have.
    """
    symbol = batch_symbol(specs, outputs)
    axes: dict[str, int | None] = {}
    for spec in specs:
        if not spec.shape:
            axes[spec.name] = None
        elif symbol is None:
            axes[spec.name] = 0
        else:
            axes[spec.name] = spec.shape.index(symbol) if symbol in spec.shape else None
    by_name = {s.name: s for s in specs}
    for name, axis in (overrides or {}).items():
        found = by_name.get(name)
        if found is None:
            raise DataError(
                f"--batch-axis {name}=...: the model has no input '{name}' to batch "
                f"(inputs: {', '.join(repr(s.name) for s in specs) or 'none'})"
            )
        if axis is None:
            axes[name] = None
            continue
        rank = len(found.shape)
        if not -rank <= axis < rank:
            raise DataError(
                f"--batch-axis {name}={axis}: input '{name}' is {found.describe()}, "
                f"with axes 0 to {rank - 1}"
                + (" (a scalar has none: use none)" if not rank else "")
            )
        axes[name] = axis % rank
    return axes


def output_batch_axes(model: onnx.ModelProto) -> list[int | None]:
    """Each model output's batch axis (None: the output has none), from the inputs' batch
    symbol; the first axis when the inputs share no symbol (as metrics always assumed)."""
    specs = [*input_specs(model), *defaulted_inputs(model)]
    shapes = output_shapes(model)
    symbol = batch_symbol(specs, shapes)
    if symbol is None:
        return [0 if shape else None for shape in shapes]
    return [shape.index(symbol) if symbol in shape else None for shape in shapes]


def parse_value(spec: InputSpec, value: object) -> np.ndarray:
    """A value for input ``spec`` (``--set NAME=VALUE``), parsed by the input's dtype.

    Text is a number (``16000``, ``0.5``), ``true``/``false``, or comma-separated numbers
    filling the input's static shape. Arrays and Python numbers are converted.

    Raises:
        DataError: naming the input, if the value does not parse or fit its shape.
    """
    where = f"--set {spec.name}"
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")] if value.strip() else []
        try:
            parsed = [_parse_one(item, spec.dtype) for item in items]
        except ValueError:
            raise DataError(
                f"{where}={value}: not a {spec.dtype} value for input '{spec.name}' "
                f"({spec.describe()})"
            ) from None
        array = np.asarray(parsed, dtype=spec.dtype)
    else:
        array = np.asarray(value)
        if array.dtype != spec.dtype:
            numeric = array.dtype.kind in "biuf"
            converted = array.astype(spec.dtype) if numeric else array
            if not numeric or (spec.dtype.kind != "f" and not np.array_equal(converted, array)):
                raise DataError(
                    f"{where}: {value!r} is not a {spec.dtype} value for input '{spec.name}'"
                )
            array = converted
    shape = spec.shape
    static = [d for d in shape if isinstance(d, int)]
    if len(static) == len(shape):
        if array.size != math.prod(static):
            raise DataError(
                f"{where}: {array.size} value(s) given, input '{spec.name}' is "
                f"{spec.describe()} ({math.prod(static)} values)"
            )
        return array.reshape(tuple(static))
    if array.ndim > len(shape) or (array.ndim < len(shape) and array.size != 1):
        raise DataError(
            f"{where}: a value of shape {list(array.shape)} does not fit input "
            f"'{spec.name}' {spec.describe()}"
        )
    return array.reshape((1,) * (len(shape) - array.ndim) + array.shape)


def _parse_one(text: str, dtype: np.dtype) -> object:
    if dtype == np.bool_:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(text)
    if dtype.kind in "iu":
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    if dtype.kind in "fc":
        return float(text)
    raise ValueError(text)


def fixed_values(
    specs: Sequence[InputSpec],
    axes: BatchAxes,
    values: Mapping[str, object] | None,
) -> dict[str, np.ndarray]:
    """Parse ``--set NAME=VALUE`` values: each names an input held fixed (or one with a
    default), and is parsed by its dtype.

    Raises:
        DataError: naming the input: unknown, batched, or a value that does not parse.
    """
    by_name = {s.name: s for s in specs}
    out = {}
    for name, value in (values or {}).items():
        spec = by_name.get(name)
        if spec is None:
            raise DataError(
                f"--set {name}=...: the model has no input '{name}' "
                f"(inputs: {', '.join(repr(s.name) for s in specs) or 'none'})"
            )
        axis = axes.get(name)
        if axis is not None:
            raise DataError(
                f"--set {name}=...: input '{name}' {spec.describe()} is batched (axis {axis}); "
                "--set fixes inputs that have no batch axis, such as a sample rate: give its "
                f"values in --data, or hold it fixed with --batch-axis {name}=none"
            )
        out[name] = parse_value(spec, value)
    return out


def settings_used(
    specs: Sequence[InputSpec],
    axes: BatchAxes,
    values: Mapping[str, np.ndarray],
    given: Mapping[str, Sequence[np.ndarray]],
) -> dict[str, dict[str, object]]:
    """The single-number inputs held fixed and where their values came from.

    Args:
        specs: every input, those with a default included.
        axes: batch axes (None: held fixed).
        values: values set with ``--set``.
        given: input name -> its value in each feed of the data.

    Returns:
        name -> ``{"value": number or "varies", "from": "--set" | "data" | "default"}``.
    """
    out: dict[str, dict[str, object]] = {}
    for spec in specs:
        if not spec.scalar_like or axes.get(spec.name, None) is not None:
            continue
        if spec.name in values:
            out[spec.name] = {"value": _number(values[spec.name]), "from": "--set"}
        elif spec.name in given:
            seen = {_number(v) for v in given[spec.name]}
            value = seen.pop() if len(seen) == 1 else "varies"
            out[spec.name] = {"value": value, "from": "data"}
        elif spec.default is not None:
            out[spec.name] = {"value": _number(spec.default), "from": "default"}
    return out


def _number(a: np.ndarray) -> object:
    return np.asarray(a).reshape(-1)[0].item() if np.size(a) == 1 else "varies"


@dataclass(frozen=True)
class InputLayout:
    """How a model's inputs are fed: which exist, each one's batch axis, values fixed by the
    user.

    Attributes:
        specs: the inputs the data must give, then the single-number inputs with a default
            (which the data or ``--set`` may give).
        axes: input name -> batch axis, or None for an input held fixed.
        values: input name -> value fixed with ``--set`` (parsed by its dtype).
    """

    specs: tuple[InputSpec, ...]
    axes: dict[str, int | None]
    values: dict[str, np.ndarray]

    @classmethod
    def of(
        cls,
        model: onnx.ModelProto,
        *,
        batch_axes: BatchAxes | None = None,
        values: Mapping[str, object] | None = None,
    ) -> InputLayout:
        specs = (*input_specs(model), *defaulted_inputs(model))
        axes = infer_batch_axes(specs, output_shapes(model), batch_axes)
        return cls(specs, axes, fixed_values(specs, axes, values))

    @property
    def static_batch(self) -> int | None:
        """The batch size the model was exported with, if its batch axis is static.

        Raises:
            DataError: if the inputs' static batch sizes disagree.
        """
        sizes: dict[str, int] = {}
        for s in self.specs:
            axis = self.axes.get(s.name)
            size = None if axis is None else s.shape[axis]
            if isinstance(size, int):
                sizes[s.name] = size
        if len(set(sizes.values())) > 1:
            raise DataError(
                f"inputs have different static batch sizes {sizes}: say which axis is the batch "
                "with --batch-axis NAME=AXIS (NAME=none holds an input fixed)"
            )
        return next(iter(sizes.values())) if sizes else None

    def settings(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> dict[str, dict[str, object]]:
        """The single-number inputs held fixed, their values and where those came from."""
        given: dict[str, list[np.ndarray]] = {}
        for feed in feeds:
            for name, value in feed.items():
                given.setdefault(name, []).append(value)
        return settings_used(self.specs, self.axes, self.values, given)
