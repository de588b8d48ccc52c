"""The one place that reads and writes model files.

Weights stored as external data are never copied into memory: the working copy keeps the
tensors' references and records the folder they live in (model metadata
``pkg.analogc.external_data_dir``), so models over protobuf's 2 GB limit load, shape-infer,
annotate and save like small ones. :func:`save_model` copies the referenced data next to the
output (holes in sparse files stay holes), writes everything into a temporary folder, checks
the result by path, then renames the files into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import onnx
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from onnx import external_data_helper, numpy_helper

from analogc.errors import ConfigError, ModelError

from .contrib_shapes import contrib_value_infos
from .graph_index import EXTERNAL_DIR_KEY, numel
from .metadata import get_model_meta, set_model_meta, without_model_meta
from .upgrade import MAX_OPSET, MIN_OPSET, upgrade_model

__all__ = [
    "EXTERNAL_DIR_KEY",
    "PROTOBUF_LIMIT",
    "external_data_dir",
    "infer_shapes",
    "load_model",
    "offload_weights",
    "restore_weights",
    "save_model",
    "write_bytes_atomic",
]

PROTOBUF_LIMIT = (1 << 31) - 1
"""Largest message protobuf serialises: bigger models must keep their weights external."""

_ALIGN = 4096  # offsets of tensors in a data file analogc writes (lets onnxruntime map pages)


def load_model(path: str | os.PathLike[str], *, upgrade: bool = True) -> onnx.ModelProto:
    """Load and check an ONNX file; with ``upgrade``, make it annotatable (see below).

    External data stays on disk (see the module docstring). With ``upgrade``, opsets 7-11 are
    converted to opset 13, opsets 22+ to 21 where possible, and IR < 4 graphs lose their
    initializer inputs, in memory only: :func:`analogc.passes.upgrade_model`. The file itself
    is only read.

    Raises:
        ModelError: if the file is missing, not ONNX, truncated, uses an opset analogc does not
            read, references external data that is missing, fails the ONNX checker, or cannot
            be converted to a supported opset.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, expected an .onnx file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(
            f"{path}: not a readable ONNX model ({_first_line(exc)}); is the file complete?"
        ) from exc
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({_first_line(exc)})") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not an ONNX model (empty or truncated file)")
    _check_opset(model, path)
    external = _check_external_data(model, path)
    try:
        onnx.checker.check_model(str(path))  # by path: external data and > 2 GB alike
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"{path}: fails the ONNX checker: {_first_line(exc)}") from exc
    if external and _inline_small_tensors(model, path.parent) < external:  # some stay out
        set_model_meta(model, EXTERNAL_DIR_KEY, str(path.parent.resolve()))
    if upgrade:
        try:
            upgrade_model(model)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from exc
    return model


def _check_opset(model: onnx.ModelProto, path: Path) -> None:
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        if any(n.domain in ("", "ai.onnx") for n in model.graph.node):
            raise ModelError(f"{path}: uses standard ONNX ops but imports no default opset")
        return
    if opset < MIN_OPSET:
        raise ModelError(
            f"{path}: uses ONNX opset {opset}; analogc reads opsets {MIN_OPSET} to {MAX_OPSET}: "
            f"re-export the model with opset {MIN_OPSET} or newer"
        )
    if opset > MAX_OPSET:
        raise ModelError(
            f"{path}: uses ONNX opset {opset}, newer than the installed onnx "
            f"{onnx.__version__} knows (up to {MAX_OPSET}): upgrade onnx and onnxruntime, or "
            f"export with opset {MAX_OPSET} or older"
        )


def _check_external_data(model: onnx.ModelProto, path: Path) -> int:
    """How many tensors keep their data in another file; each such file must be there."""
    found = 0
    base = path.parent.resolve()
    for tensor in external_tensors(model):
        found += 1
        info = external_data_helper.ExternalDataInfo(tensor)
        where = (base / info.location).resolve()
        if Path(info.location).is_absolute() or not where.is_relative_to(base):
            raise ModelError(
                f"{path}: tensor '{tensor.name}' keeps its data at {info.location!r}, outside "
                "the model's folder; external data must sit next to the model"
            )
        if not where.is_file():
            raise ModelError(
                f"{path}: tensor '{tensor.name}' keeps its data in {info.location!r}, which is "
                f"missing; copy that file next to the model (into {base})"
            )
        length: int = int(info.length or 0)
        end = int(info.offset or 0) + length
        if length and where.stat().st_size < end:
            raise ModelError(
                f"{path}: external data file {info.location!r} is truncated: tensor "
                f"'{tensor.name}' needs bytes up to {end}, the file has {where.stat().st_size}"
            )
    return found


INLINE_BYTES = 1024
"""Integer and boolean external tensors smaller than this (onnx's default ``size_threshold``)
are read into the working copy: they are the constants shape inference and onnxruntime's
session need the values of (a Slice's starts, a Split's sizes, Unsqueeze axes, pads), which
neither reads from external data. Weights stay on disk."""

_SHAPE_TYPES = {
    onnx.TensorProto.INT64,
    onnx.TensorProto.INT32,
    onnx.TensorProto.INT16,
    onnx.TensorProto.INT8,
    onnx.TensorProto.UINT64,
    onnx.TensorProto.UINT32,
    onnx.TensorProto.UINT16,
    onnx.TensorProto.UINT8,
    onnx.TensorProto.BOOL,
}


def _inline_small_tensors(model: onnx.ModelProto, folder: Path) -> int:
    """Read the small integer and boolean external tensors into ``model`` (see
    :data:`INLINE_BYTES`); returns how many."""
    count = 0
    for tensor in list(external_tensors(model)):
        if tensor.data_type not in _SHAPE_TYPES:
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        size = info.length or numel(tensor.dims) * _itemsize(tensor.data_type)
        if size >= INLINE_BYTES:
            continue
        external_data_helper.load_external_data_for_tensor(tensor, str(folder))
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
        count += 1
    return count


def _itemsize(data_type: int) -> int:
    return int(onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize)


def external_data_dir(model: onnx.ModelProto) -> Path | None:
    """The folder the model's external-data locations are relative to (None if none)."""
    value = get_model_meta(model, EXTERNAL_DIR_KEY)
    return Path(value) if value else None


def external_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the model (initializers, attributes, subgraphs, functions) kept outside."""
    for tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            yield tensor


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        for node in function.node:
            yield from _node_tensors(node)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for g in attr.graphs:
            yield from _graph_tensors(g)


def offload_weights(model: onnx.ModelProto, folder: Path, *, min_bytes: int = 1 << 16) -> int:
    """Move the main graph's inline initializers of ``min_bytes`` or more into
    ``folder/weights.data``, so that copies and serialisations of the working model are cheap
    and onnxruntime maps the weights from the file instead of holding one copy per session.
    Mutates ``model``; returns the bytes moved (0 if the model already keeps data outside).
    """
    if external_data_dir(model) is not None:
        return 0
    data_name = "weights.data"
    offset = 0
    with open(folder / data_name, "wb") as data:
        for tensor in model.graph.initializer:
            if (
                tensor.data_location == onnx.TensorProto.EXTERNAL
                or tensor.data_type == onnx.TensorProto.STRING
            ):
                continue
            if _tensor_bytes(tensor) < min_bytes:
                continue
            offset = _move_out(tensor, data, data_name, offset)
        data.truncate(offset)
    if offset:
        set_model_meta(model, EXTERNAL_DIR_KEY, str(folder.resolve()))
    return offset


def restore_weights(model: onnx.ModelProto) -> None:
    """Bring weights moved by :func:`offload_weights` back into ``model`` (mutates it)."""
    folder = external_data_dir(model)
    if folder is None:
        return
    external_data_helper.load_external_data_for_model(model, str(folder))
    model.CopyFrom(without_model_meta(model, EXTERNAL_DIR_KEY))


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape inference with data propagation (shapes computed from Shape/Reshape chains).

    Weights kept as external data are not read, so this works for models over 2 GB. Common
    ``com.microsoft`` ops, which onnx does not know, get their output types from
    :mod:`analogc.passes._contrib`, so inference carries on past them.
    """
    inferred = _infer(model)
    for _ in range(len(model.graph.node)):
        extra = contrib_value_infos(inferred.graph)
        if not extra:
            break
        inferred.graph.value_info.extend(extra)
        inferred = _infer(inferred)
    return inferred


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except ValueError as exc:
        if "2GB" in str(exc) or "too large" in str(exc):
            raise ModelError(
                "the model is over 2 GB in memory: save it with its weights as external data "
                "(onnx.save_model(model, path, save_as_external_data=True)) and pass the file"
            ) from exc
        raise ModelError(f"shape inference failed: {_first_line(exc)}") from exc
    except Exception as exc:  # onnx raises several types here; all mean "cannot infer"
        raise ModelError(f"shape inference failed: {_first_line(exc)}") from exc


def save_model(
    model: onnx.ModelProto,
    path: str | os.PathLike[str],
    *,
    check: bool = True,
    inline_limit: int = PROTOBUF_LIMIT,
    inline_external: bool = False,
) -> None:
    """Check, then write atomically; weights go to ``<name>.data`` when they must.

    With ``inline_external``, the main graph's external initializers are a working copy
    (:func:`offload_weights`): when the model fits ``inline_limit`` with them inline, it is
    written as one file, streamed tensor by tensor from the data file (:func:`_save_inlined`),
    never holding a second copy of the weights in memory.

    A model without external data whose serialised size is under ``inline_limit`` is written
    as one file (a temporary file in the same folder, then a rename). Otherwise every tensor
    kept outside, and the largest inline tensors until the rest fits, go to one data file
    ``<path name>.data`` next to it; both files are written into a temporary folder, checked
    there by path (``full_check``), then renamed into place, the model last. ``model`` itself
    is never changed.

    Raises:
        ConfigError: if ``path`` cannot be written.
        onnx.checker.ValidationError: if the model fails the checker (a bug in analogc).
    """
    path = Path(path)
    external = list(external_tensors(model))
    try:
        if external and inline_external:
            size = _inline_size(model)
            if size is not None and size <= inline_limit:
                _save_inlined(model, path, check=check)
                return
        if not external and _serialised_size(model) <= inline_limit:
            if get_model_meta(model, EXTERNAL_DIR_KEY) is not None:
                model = without_model_meta(model, EXTERNAL_DIR_KEY)
            # Checked by path once written (before the rename): one serialised copy in memory.
            verify = (
                (lambda tmp: onnx.checker.check_model(str(tmp), full_check=True)) if check else None
            )
            write_bytes_atomic(path, model.SerializeToString(), verify=verify)
            return
        _save_with_external_data(model, path, check=check, inline_limit=inline_limit)
    except OSError as exc:  # a missing or read-only folder, a file in the way, a full disk
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot write {path}: {reason}; choose another output") from exc


def _inline_size(model: onnx.ModelProto) -> int | None:
    """Bytes ``model`` serialises to with its main graph's external initializers inline (the
    metadata entry of the working folder left out), computed without reading them; None when
    another tensor is external or one's length is not recorded."""
    skeleton = without_model_meta(model, EXTERNAL_DIR_KEY)
    inits = list(skeleton.graph.initializer)
    del skeleton.graph.initializer[:]
    if any(True for _ in external_tensors(skeleton)):
        return None
    size = skeleton.ByteSize()
    for tensor in inits:
        inline = _inline_form(tensor)
        if inline is None:
            return None
        size += _field_size(inline[0].ByteSize() + _bytes_field_size(inline[1]))
    return int(size)


def _inline_form(tensor: onnx.TensorProto) -> tuple[onnx.TensorProto, int] | None:
    """``tensor`` as onnx's ``load_external_data_for_model`` leaves it, without its bytes
    (raw_data to be set), and the number of bytes; None when the length is not recorded."""
    out = onnx.TensorProto()
    out.CopyFrom(tensor)
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return out, -1
    # onnx's ExternalDataInfo declares length None and sets it from the entries.
    length = int(getattr(external_data_helper.ExternalDataInfo(tensor), "length", 0) or 0)
    if not length:
        return None
    del out.external_data[:]
    out.data_location = onnx.TensorProto.DEFAULT
    return out, length


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field_size(length: int) -> int:
    """Bytes of ``raw_data`` (field 9) holding ``length`` bytes (0 when not set: -1)."""
    return 0 if length < 0 else 1 + len(_varint(length)) + length


def _field_size(length: int) -> int:
    """Bytes of a length-delimited field numbered below 16 whose payload is ``length``."""
    return 1 + len(_varint(length)) + length


_GRAPH_FIELD = 7  # ModelProto.graph
_INITIALIZER_FIELD = 5  # GraphProto.initializer


def _split(message: onnx.ModelProto | onnx.GraphProto, number: int) -> tuple[bytes, bytes]:
    """``message`` serialised as the fields numbered below ``number`` and those above it:
    protobuf writes fields in number order, so head + field ``number`` + tail is the
    message's own serialisation."""
    head, tail = type(message)(), type(message)()
    head.CopyFrom(message)
    tail.CopyFrom(message)
    for field, _ in message.ListFields():
        (tail if field.number < number else head).ClearField(field.name)
    head.ClearField(message.DESCRIPTOR.fields_by_number[number].name)
    tail.ClearField(message.DESCRIPTOR.fields_by_number[number].name)
    return head.SerializeToString(), tail.SerializeToString()


def _save_inlined(model: onnx.ModelProto, path: Path, *, check: bool) -> None:
    """Write ``model`` as one file with its external initializers inline, byte for byte what
    ``SerializeToString`` gives once they are loaded, one tensor in memory at a time.

    The check runs on the model as it is, with its weights still referenced (the checker
    reads their shapes, not their values), and each tensor's bytes are checked against its
    shape as they are copied.
    """
    source_dir = external_data_dir(model)
    out = without_model_meta(model, EXTERNAL_DIR_KEY)
    if check:
        _check_referencing(out, source_dir)
    model_head, model_tail = _split(out, _GRAPH_FIELD)
    graph_head, graph_tail = _split(out.graph, _INITIALIZER_FIELD)
    forms = []
    for tensor in out.graph.initializer:
        form = _inline_form(tensor)
        if form is None or (form[1] >= 0 and source_dir is None):
            raise ModelError(f"tensor '{tensor.name}' has no data analogc can find to write")
        forms.append((tensor, form[1], form[0].ByteSize() + _bytes_field_size(form[1])))
    graph_size = len(graph_head) + sum(_field_size(n) for _, _, n in forms) + len(graph_tail)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model_head)
            f.write(bytes([_GRAPH_FIELD << 3 | 2]) + _varint(graph_size))
            f.write(graph_head)
            for source, length, size in forms:
                f.write(bytes([_INITIALIZER_FIELD << 3 | 2]) + _varint(size))
                f.write(_encoded_inline(source, source_dir, length, size))
            f.write(graph_tail)
            f.write(model_tail)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _encoded_inline(
    tensor: onnx.TensorProto, source_dir: Path | None, length: int, size: int
) -> bytes:
    """``tensor`` serialised with its bytes inline. A message of its own, dropped once
    serialised: a protobuf message keeps the memory of every value it ever held."""
    inline, _ = _inline_form(tensor) or (onnx.TensorProto(), -1)
    if length >= 0:
        inline.raw_data = _read_external(tensor, source_dir, length)  # type: ignore[arg-type]
    encoded: bytes = inline.SerializeToString()
    if len(encoded) != size:
        raise ModelError(f"tensor '{tensor.name}': {len(encoded)} bytes, {size} expected")
    return encoded


def _check_referencing(model: onnx.ModelProto, source_dir: Path | None) -> None:
    """The checker's full check of ``model`` whose weights stay in ``source_dir``, by path
    (the checker resolves external data only for a file, and refuses links): the model is
    written beside its data for the check, then removed."""
    folder = source_dir if source_dir is not None else Path(tempfile.gettempdir())
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".analogc-check-", suffix=".onnx")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
        onnx.checker.check_model(tmp, full_check=True)
    finally:
        Path(tmp).unlink(missing_ok=True)


_WHOLE_BYTE_TYPES = {
    getattr(onnx.TensorProto, name)
    for name in (
        "FLOAT",
        "DOUBLE",
        "FLOAT16",
        "BFLOAT16",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "BOOL",
        "COMPLEX64",
        "COMPLEX128",
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
    )
    if hasattr(onnx.TensorProto, name)
}
"""Element types one or more whole bytes wide, whose byte count the shape gives."""


def _read_external(tensor: onnx.TensorProto, folder: Path, length: int) -> bytes:
    """The ``length`` bytes of an external tensor, checked against its shape and type."""
    info = external_data_helper.ExternalDataInfo(tensor)
    with open(folder / info.location, "rb") as data:
        data.seek(info.offset or 0)
        raw = data.read(length)
    whole_bytes = tensor.data_type in _WHOLE_BYTE_TYPES  # not strings, not packed 4-bit types
    expected = numel(tensor.dims) * _itemsize(tensor.data_type) if whole_bytes else length
    if len(raw) != length or len(raw) != expected:
        raise ModelError(
            f"tensor '{tensor.name}': {len(raw)} bytes in {folder / info.location}, "
            f"{expected} expected from its shape"
        )
    return raw


def _save_with_external_data(
    model: onnx.ModelProto, path: Path, *, check: bool, inline_limit: int
) -> None:
    source_dir = external_data_dir(model)
    out = without_model_meta(model, EXTERNAL_DIR_KEY)
    data_name = f"{path.name}.data"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp_dir:
        tmp = Path(tmp_dir)
        with open(tmp / data_name, "wb") as data:
            offset = _copy_external(out, source_dir, data, data_name)
            offset = _externalise_inline(out, data, data_name, offset, inline_limit)
            data.truncate(offset)
        (tmp / path.name).write_bytes(out.SerializeToString())
        if check:
            onnx.checker.check_model(str(tmp / path.name), full_check=True)
        os.replace(tmp / data_name, path.parent / data_name)
        os.replace(tmp / path.name, path)


def _copy_external(
    out: onnx.ModelProto, source_dir: Path | None, data: BinaryIO, data_name: str
) -> int:
    """Copy each source file the model's external tensors use into ``data``; repoint them."""
    bases: dict[str, int] = {}
    offset = 0
    for tensor in external_tensors(out):
        info = external_data_helper.ExternalDataInfo(tensor)
        if source_dir is None:
            raise ModelError(
                f"tensor '{tensor.name}' refers to external data {info.location!r}, but the "
                "model does not say where that file is: load it with analogc.passes.load_model"
            )
        if not (source_dir / info.location).is_file():
            raise ModelError(
                f"tensor '{tensor.name}' keeps its data in {source_dir / info.location}, which "
                "is gone; it was there when the model was loaded"
            )
        if info.location not in bases:
            bases[info.location] = offset
            size = _copy_sparse(source_dir / info.location, data, offset)
            offset = _aligned(offset + size)
        length = info.length or (source_dir / info.location).stat().st_size - (info.offset or 0)
        _point(tensor, data_name, bases[info.location] + (info.offset or 0), length)
    return offset


def _externalise_inline(
    out: onnx.ModelProto, data: BinaryIO, data_name: str, offset: int, inline_limit: int
) -> int:
    """Move the largest inline tensors into ``data`` until the model fits ``inline_limit``."""
    if _serialised_size(out) <= inline_limit:
        return offset
    tensors = [
        t
        for t in _all_tensors(out)
        if t.data_location != onnx.TensorProto.EXTERNAL and t.data_type != onnx.TensorProto.STRING
    ]
    tensors.sort(key=_tensor_bytes, reverse=True)
    excess = _serialised_size(out) - inline_limit
    for tensor in tensors:
        if excess <= 0:
            break
        excess -= _tensor_bytes(tensor)
        offset = _move_out(tensor, data, data_name, offset)
    return offset


def _move_out(tensor: onnx.TensorProto, data: BinaryIO, data_name: str, offset: int) -> int:
    """Write ``tensor``'s bytes at ``offset`` of the open file ``data`` and make it refer to
    them; the next aligned offset."""
    raw = (
        tensor.raw_data if tensor.HasField("raw_data") else numpy_helper.to_array(tensor).tobytes()
    )
    data.seek(offset)
    data.write(raw)
    for field in _TYPED_FIELDS:
        tensor.ClearField(field)
    tensor.ClearField("raw_data")
    _point(tensor, data_name, offset, len(raw))
    return _aligned(offset + len(raw))


def _point(tensor: onnx.TensorProto, location: str, offset: int, length: int) -> None:
    """Make ``tensor`` refer to ``length`` bytes at ``offset`` of file ``location``."""
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.data_location = onnx.TensorProto.EXTERNAL


_TYPED_FIELDS = (
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "double_data",
    "uint64_data",
)


def _tensor_bytes(tensor: onnx.TensorProto) -> int:
    if tensor.HasField("raw_data"):
        return len(tensor.raw_data)
    return int(tensor.ByteSize())


def _serialised_size(model: onnx.ModelProto) -> int:
    """Bytes the model would serialise to (computed without serialising it)."""
    try:
        return int(model.ByteSize())
    except Exception:  # some protobuf builds refuse sizes over 2 GB
        return PROTOBUF_LIMIT + 1


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _copy_sparse(source: Path, data: BinaryIO, offset: int) -> int:
    """Copy ``source`` into the open file ``data`` at ``offset``; holes stay holes. Its size."""
    size = source.stat().st_size
    with open(source, "rb") as src:
        fd_in, fd_out = src.fileno(), data.fileno()
        try:
            pos = 0
            while pos < size:
                try:
                    start = os.lseek(fd_in, pos, os.SEEK_DATA)
                except OSError:  # no data after pos: the rest is a hole
                    break
                end = os.lseek(fd_in, start, os.SEEK_HOLE)
                _copy_range(fd_in, fd_out, start, offset + start, end - start)
                pos = end
        except (AttributeError, OSError):  # no SEEK_DATA here: a plain copy, zeros skipped
            src.seek(0)
            data.seek(offset)
            _copy_skipping_zeros(src, data)
            data.flush()  # the next copy writes through the file descriptor
    return size


def _copy_range(fd_in: int, fd_out: int, src: int, dst: int, count: int) -> None:
    while count > 0:
        if hasattr(os, "copy_file_range"):
            done = os.copy_file_range(fd_in, fd_out, count, src, dst)
        else:
            chunk = os.pread(fd_in, min(count, 1 << 24), src)
            done = os.pwrite(fd_out, chunk, dst)
        if done <= 0:
            raise OSError(f"short copy of external data at byte {src}")
        src, dst, count = src + done, dst + done, count - done


def _copy_skipping_zeros(src: BinaryIO, dst: BinaryIO, chunk_size: int = 1 << 20) -> None:
    zeros = bytes(chunk_size)
    while chunk := src.read(chunk_size):
        if chunk == zeros[: len(chunk)]:
            dst.seek(len(chunk), os.SEEK_CUR)
        else:
            dst.write(chunk)


def write_bytes_atomic(
    path: Path, data: bytes, *, verify: Callable[[Path], None] | None = None
) -> None:
    """Write ``data`` to a temporary file beside ``path``, ``verify`` it, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if verify is not None:
            verify(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
