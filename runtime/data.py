"""Calibration and evaluation data: loading, checking against the model, synthesising.

Data sets here are small enough to hold in memory (calibration sets are hundreds to a few
thousand examples), which keeps every noisy evaluation on exactly the same batches.

A data set is one or more *feeds*, each a complete set of model inputs with optional labels.
Each input is batched along its own axis, or held fixed (see :mod:`analogc.runtime.inputs`);
:meth:`Dataset.split` cuts feeds into batches along those axes and passes fixed inputs
unchanged. Loaded chunks (a folder of .npz files, a reader's batches) are joined into one feed
along the batch axes; with ``feeds=True`` each stays a feed of its own, run as it is, which is
how inputs whose sizes differ from file to file (sequence lengths, batch sizes) are given.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import numpy as np

from analogc.errors import DataError

from .inputs import BatchAxes, InputSpec, infer_batch_axes, input_specs

__all__ = [
    "LABELS",
    "Batch",
    "Dataset",
    "Feed",
    "FeedReader",
    "InputSpec",
    "input_specs",
    "is_feed_reader",
    "load_directory",
    "load_feed_reader",
    "load_npz",
    "load_reader",
    "synthesize",
    "validate",
]

LABELS = "labels"


@dataclass(frozen=True)
class Feed:
    """One complete set of model inputs, with optional labels (one per example).

    Attributes:
        inputs: input name -> array.
        labels: class index per example, or None.
        source: where it came from (a file), for error messages.
    """

    inputs: Mapping[str, np.ndarray]
    labels: np.ndarray | None = None
    source: str = ""


@dataclass(frozen=True)
class Batch:
    """What one onnxruntime run gets: the feed, its labels and how many examples it holds
    (``source``: the index of the data set's feed it was cut from)."""

    feed: dict[str, np.ndarray]
    labels: np.ndarray | None
    examples: int
    source: int = 0


def default_axes(inputs: Mapping[str, np.ndarray]) -> dict[str, int | None]:
    """Before the model is known: first axis of every array, scalars held fixed."""
    return {name: (0 if np.ndim(a) else None) for name, a in inputs.items()}


class Dataset:
    """Model inputs and optional integer labels, as one or more feeds.

    Args:
        inputs: input name -> array (one feed); or give ``feeds``.
        labels: class index per example of ``inputs``, or None (metrics then compare with
            the clean model).
        source: where the data came from, for reports.
        synthetic: True when analogc made the data up from the input specs.
        batch_axes: input name -> batch axis, or None for an input held fixed. Without it,
            every array is batched on its first axis and scalars are fixed until
            :func:`analogc.pipeline.load_data` lays the data out by the model's inputs.
        feeds: complete feeds evaluated one by one (never joined), instead of ``inputs``.
        static_batch: the model takes batches of exactly this many examples (it was exported
            with a static batch size): every batch has it, whatever size is asked for.

    Raises:
        DataError: if the batched inputs of a feed disagree on their number of examples, or
            the labels do not have one entry per example (on construction with
            ``batch_axes``, else when the examples are first counted).
    """

    def __init__(
        self,
        inputs: Mapping[str, np.ndarray] | None = None,
        labels: np.ndarray | None = None,
        source: str = "",
        synthetic: bool = False,
        *,
        batch_axes: BatchAxes | None = None,
        feeds: Sequence[Feed] | None = None,
        static_batch: int | None = None,
    ) -> None:
        if (inputs is None) == (feeds is None):
            raise TypeError("Dataset takes either inputs (one feed) or feeds")
        self.feeds: tuple[Feed, ...] = (
            (Feed(dict(inputs), labels, source),) if inputs is not None else tuple(feeds or ())
        )
        if not self.feeds:
            raise DataError(f"{source + ': ' if source else ''}the data holds no feeds")
        self.source = source
        self.synthetic = synthetic
        self.joined = inputs is not None
        self.explicit_axes = batch_axes is not None
        names = {n for f in self.feeds for n in f.inputs}
        given = dict(batch_axes or {})
        guessed = {n: a for f in self.feeds for n, a in default_axes(f.inputs).items()}
        self.batch_axes: dict[str, int | None] = {n: given.get(n, guessed.get(n)) for n in names}
        for name, axis in given.items():
            self.batch_axes.setdefault(name, axis)  # an input --set will provide later
        has_labels = {f.labels is not None for f in self.feeds}
        if len(has_labels) > 1:
            raise DataError(f"{source}: some feeds have 'labels' and some do not")
        # With the model's batch axes, counts are checked now; without them, when first
        # needed (load_data lays the data out by the model first: a state [2, batch, 8]
        # would not count right on axis 0).
        self._counted: list[int] | None = None
        self.static_batch = static_batch
        if self.explicit_axes:
            self._counted = [self._examples(f) for f in self.feeds]
        if static_batch is not None:
            for feed, n in zip(self.feeds, self._sizes, strict=True):
                if n % static_batch:
                    where = feed.source or source
                    raise DataError(
                        f"{where + ': ' if where else ''}{n} examples, but the model takes "
                        f"batches of exactly {static_batch} (a static batch size): give a "
                        f"multiple of {static_batch}, or export the model with a dynamic batch"
                    )

    @property
    def _sizes(self) -> list[int]:
        if self._counted is None:
            self._counted = [self._examples(f) for f in self.feeds]
        return self._counted

    def _examples(self, feed: Feed) -> int:
        where = f"{feed.source}: " if feed.source else (f"{self.source}: " if self.source else "")
        if not feed.inputs:
            raise DataError(f"{where}the data has no input arrays")
        sizes = {}
        for name, a in feed.inputs.items():
            axis = self.batch_axes.get(name)
            if axis is None:
                continue
            if np.ndim(a) <= axis:
                raise DataError(
                    f"{where}input '{name}' has shape {list(np.shape(a))}: no batch axis {axis} "
                    f"(give --batch-axis {name}=AXIS, or {name}=none to hold it fixed)"
                )
            sizes[name] = int(np.shape(a)[axis])
        if len(set(sizes.values())) > 1:
            where_axes = ", ".join(
                f"'{n}' axis {self.batch_axes[n]}" for n in sizes if self.batch_axes[n] != 0
            )
            hint = (
                f" (batch axes: {where_axes})"
                if where_axes
                else " (if an input is batched on another axis, say so with "
                "--batch-axis NAME=AXIS; NAME=none holds it fixed)"
            )
            counts = ", ".join(f"'{n}': {s}" for n, s in sorted(sizes.items()))
            raise DataError(
                f"{where}input arrays have different numbers of examples: {{{counts}}}{hint}"
            )
        n = next(iter(sizes.values()), 1)  # no batched input: the feed is one example
        if n == 0:
            raise DataError(f"{where}the data is empty (0 examples)")
        if feed.labels is not None and len(feed.labels) != n:
            raise DataError(
                f"{where}'labels' has {len(feed.labels)} entries but the inputs have {n} examples"
            )
        return n

    # -- what callers read ----------------------------------------------------------------
    def __len__(self) -> int:
        return sum(self._sizes)

    def __repr__(self) -> str:
        return f"Dataset({len(self.feeds)} feed(s), {self.source!r})"

    @property
    def inputs(self) -> Mapping[str, np.ndarray]:
        """The arrays of a one-feed data set (a data set of several feeds has no one set)."""
        if len(self.feeds) != 1:
            raise TypeError(f"{self!r} holds several feeds: read .feeds")
        return self.feeds[0].inputs

    @property
    def labels(self) -> np.ndarray | None:
        """Every example's label in order, or None."""
        if self.feeds[0].labels is None:
            return None
        return np.concatenate([np.asarray(f.labels) for f in self.feeds])

    @property
    def fixed(self) -> list[str]:
        """Inputs held fixed (no batch axis)."""
        return [n for n, a in self.batch_axes.items() if a is None]

    def split(self, batch_size: int) -> list[Batch]:
        """Batches of at most ``batch_size`` examples, feed by feed, in order."""
        out = []
        batch_size = self.static_batch or batch_size
        for i, (feed, n) in enumerate(zip(self.feeds, self._sizes, strict=True)):
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                out.append(replace(self._slice(feed, start, stop), source=i))
        return out

    def batches(self, batch_size: int) -> list[dict[str, np.ndarray]]:
        return [b.feed for b in self.split(batch_size)]

    def _slice(self, feed: Feed, start: int, stop: int) -> Batch:
        arrays = {}
        for name, a in feed.inputs.items():
            axis = self.batch_axes.get(name)
            if axis is None:
                arrays[name] = a
            else:
                index = [slice(None)] * np.ndim(a)
                index[axis] = slice(start, stop)
                arrays[name] = a[tuple(index)]
        labels = None if feed.labels is None else feed.labels[start:stop]
        return Batch(arrays, labels, stop - start)

    def head(self, n: int) -> Dataset:
        """The first ``n`` examples."""
        feeds, left = [], n
        for feed, size in zip(self.feeds, self._sizes, strict=True):
            if left <= 0:
                break
            part = self._slice(feed, 0, min(size, left))
            feeds.append(Feed(part.feed, part.labels, feed.source))
            left -= part.examples
        return self._like(feeds)

    def _like(self, feeds: Sequence[Feed], **changes: object) -> Dataset:
        options: dict[str, object] = {
            "source": self.source,
            "synthetic": self.synthetic,
            "batch_axes": self.batch_axes if self.explicit_axes else None,
            "static_batch": self.static_batch,
        }
        options.update(changes)
        if self.joined and len(feeds) == 1:
            return Dataset(feeds[0].inputs, feeds[0].labels, **options)  # type: ignore[arg-type]
        return Dataset(feeds=feeds, **options)  # type: ignore[arg-type]

    def with_batch_axes(self, axes: BatchAxes) -> Dataset:
        """The same arrays laid out by ``axes`` (checked again)."""
        return self._like(self.feeds, batch_axes=dict(axes))

    def with_static_batch(self, size: int | None) -> Dataset:
        """The same data, run in batches of exactly ``size`` (checked)."""
        return self if size == self.static_batch else self._like(self.feeds, static_batch=size)

    def with_values(self, values: Mapping[str, np.ndarray]) -> Dataset:
        """Every feed with these inputs set (``--set``): held fixed, replacing the data's."""
        if not values:
            return self
        feeds = [Feed({**f.inputs, **values}, f.labels, f.source) for f in self.feeds]
        axes = {**self.batch_axes, **dict.fromkeys(values)}
        return self._like(feeds, batch_axes=axes)

    def fingerprint(self) -> str:
        """Hash of the arrays, labels and layout: same data, same study."""
        h = hashlib.sha256()
        if not self.joined or any(a != 0 for a in self.batch_axes.values()):
            # (one plain batch hashes as before feeds and batch axes existed: studies resume)
            h.update(repr(sorted(self.batch_axes.items())).encode())
            h.update(b"joined" if self.joined else b"feeds")
        if self.static_batch:
            h.update(f"static batch {self.static_batch}".encode())
        for feed in self.feeds:
            for name in sorted(feed.inputs):
                a = np.ascontiguousarray(feed.inputs[name])
                h.update(name.encode())
                h.update(str(a.dtype).encode() + str(a.shape).encode())
                h.update(a.tobytes())
            if feed.labels is not None:
                h.update(np.ascontiguousarray(feed.labels).tobytes())
        return h.hexdigest()

    def describe(self) -> str:
        """How the data is laid out, in one line, for logs."""
        feeds = "" if self.joined else f" in {len(self.feeds)} feeds"
        axes = ", ".join(
            f"{n} {'fixed' if a is None else f'axis {a}'}"
            for n, a in sorted(self.batch_axes.items())
        )
        return f"{len(self)} examples{feeds} ({axes})"


# -- loaders --------------------------------------------------------------------------------------
def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from exc


def _feed(arrays: dict[str, np.ndarray], source: str) -> Feed:
    labels = arrays.pop(LABELS, None)
    return Feed(arrays, labels, source)


def _finish(
    parts: Sequence[Feed],
    specs: Sequence[InputSpec],
    *,
    source: str,
    axes: BatchAxes | None,
    values: Mapping[str, np.ndarray] | None,
    feeds: bool,
    check_parts: bool = True,
) -> Dataset:
    """Join the parts along their batch axes (or keep them as feeds), apply ``values``
    and check the result against the model; with ``check_parts``, each part first (so that
    an error names the file it is in)."""
    if axes is None:
        axes = infer_batch_axes(specs)
    values = values or {}
    axes = {**axes, **dict.fromkeys(values)}
    if check_parts and len(parts) > 1:
        for part in parts:
            with_values = Feed({**part.inputs, **values}, part.labels, part.source)
            validate(Dataset(feeds=[with_values], source=part.source, batch_axes=axes), specs)
    if feeds:
        dataset = Dataset(feeds=parts, source=source, batch_axes=axes)
    elif len(parts) == 1:
        dataset = Dataset(parts[0].inputs, parts[0].labels, source, batch_axes=axes)
    else:
        dataset = _join(parts, source=source, axes=axes)
    dataset = dataset.with_values(values)
    validate(dataset, specs)
    return dataset


def load_npz(
    path: str | os.PathLike[str],
    specs: Sequence[InputSpec],
    *,
    axes: BatchAxes | None = None,
    values: Mapping[str, np.ndarray] | None = None,
) -> Dataset:
    """An .npz holding one array per model input (same names) and optionally ``labels``."""
    path = Path(path)
    part = _feed(_read_npz(path), str(path))
    return _finish([part], specs, source=str(path), axes=axes, values=values, feeds=False)


def load_directory(
    path: str | os.PathLike[str],
    specs: Sequence[InputSpec],
    *,
    axes: BatchAxes | None = None,
    values: Mapping[str, np.ndarray] | None = None,
    feeds: bool = False,
) -> Dataset:
    """A folder of ``<input>.npy`` files (plus optional ``labels.npy``), or of .npz files.

    The .npz files are read in file-name order. By default they are chunks of one data set,
    joined along each input's batch axis (inputs held fixed must then be equal in every
    file); with ``feeds`` each file is one complete feed, run as it is (sizes may differ from
    file to file).
    """
    path = Path(path)
    npy = sorted(path.glob("*.npy"))
    npz = sorted(path.glob("*.npz"))
    if npy and npz:
        raise DataError(f"{path}: holds both .npy and .npz files; use one kind")
    if npy:
        if feeds:
            raise DataError(
                f"{path}: a folder of .npy files is one feed; for feeds give one .npz per feed"
            )
        arrays = {}
        for f in npy:
            try:
                arrays[f.stem] = np.load(f, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataError(f"{f}: not a readable .npy file ({exc})") from exc
        parts = [_feed(arrays, str(path))]
    elif npz:
        parts = [_feed(_read_npz(f), str(f)) for f in npz]
    else:
        raise DataError(f"{path}: no .npy or .npz files in this folder")
    return _finish(parts, specs, source=str(path), axes=axes, values=values, feeds=feeds)


def load_reader(
    spec: str,
    specs: Sequence[InputSpec],
    *,
    axes: BatchAxes | None = None,
    values: Mapping[str, np.ndarray] | None = None,
    feeds: bool = False,
) -> Dataset:
    """``module:function``: a function (no arguments) returning an iterable of batches, each a
    dict of input name -> array, optionally with ``labels``. The batches are joined along the
    batch axes, or with ``feeds`` each is one complete feed. The module is imported from the
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
    return _load_batches(
        func(), f"data reader {spec!r}", specs, source=spec, axes=axes, values=values, feeds=feeds
    )


class FeedReader(Protocol):
    """onnxruntime's ``CalibrationDataReader``, or anything shaped like it (its duck typing):
    ``get_next()`` returns one batch (input name -> array) per call, then None."""

    def get_next(self) -> Mapping[str, Any] | None: ...


def is_feed_reader(data: object) -> TypeGuard[FeedReader]:
    """Whether ``data`` is read with ``get_next()`` (a CalibrationDataReader or the like)."""
    return not isinstance(data, str | os.PathLike) and callable(getattr(data, "get_next", None))


def load_feed_reader(
    reader: FeedReader,
    specs: Sequence[InputSpec],
    *,
    axes: BatchAxes | None = None,
    values: Mapping[str, np.ndarray] | None = None,
    feeds: bool = False,
) -> Dataset:
    """The batches of a ``CalibrationDataReader`` (``get_next()`` until None), read once and
    held in memory like any data set, so that every evaluation sees the same batches. A
    batch may carry ``labels``. The batches are joined along the batch axes, or with
    ``feeds`` each is one complete feed."""
    name = type(reader).__name__

    def batches() -> Iterator[object]:
        while (batch := reader.get_next()) is not None:
            yield batch

    what = f"data reader {name}"
    hint = " (already read to the end? call its rewind(), or make a new one)"
    return _load_batches(
        batches(),
        what,
        specs,
        source=f"{name}.get_next()",
        axes=axes,
        values=values,
        feeds=feeds,
        empty_hint=hint,
    )


def _load_batches(
    batches: Iterable[object],
    what: str,
    specs: Sequence[InputSpec],
    *,
    source: str,
    axes: BatchAxes | None,
    values: Mapping[str, np.ndarray] | None,
    feeds: bool,
    empty_hint: str = "",
) -> Dataset:
    """Batches from a reader: each a dict of input name -> array (optionally ``labels``)."""
    parts = []
    for i, batch in enumerate(batches):
        if not isinstance(batch, Mapping):
            raise DataError(
                f"{what}: batch {i} is a {type(batch).__name__}, expected a dict of arrays"
            )
        part_source = f"{source} (batch {i})" if feeds else source
        parts.append(_feed({str(k): np.asarray(v) for k, v in batch.items()}, part_source))
    if not parts:
        raise DataError(f"{what} yielded no batches{empty_hint}")
    return _finish(
        parts, specs, source=source, axes=axes, values=values, feeds=feeds, check_parts=False
    )


def _join(parts: Sequence[Feed], *, source: str, axes: BatchAxes) -> Dataset:
    """One feed from chunks: batched inputs concatenated along their batch axes; inputs
    held fixed must be the same in every chunk."""
    names = set(parts[0].inputs)
    for i, part in enumerate(parts):
        if set(part.inputs) != names:
            raise DataError(
                f"{source}: part {i} has arrays {sorted(part.inputs)}, the first has {sorted(names)}"
            )
    has_labels = {part.labels is not None for part in parts}
    if len(has_labels) > 1:
        raise DataError(f"{source}: some parts have 'labels' and some do not")
    inputs = {}
    for name in sorted(names):
        arrays = [part.inputs[name] for part in parts]
        axis = axes[name] if name in axes else default_axes({name: arrays[0]})[name]
        if axis is None:
            for i, a in enumerate(arrays[1:], 1):
                if a.shape != arrays[0].shape or not np.array_equal(a, arrays[0]):
                    raise DataError(
                        f"{source}: input '{name}' is held fixed (it has no batch axis) but part "
                        f"{i} ({parts[i].source}) gives another value than part 0; to run each "
                        "file as its own feed, pass --feeds"
                    )
            inputs[name] = arrays[0]
            continue
        try:
            inputs[name] = np.concatenate(arrays, axis=axis)
        except ValueError as exc:
            raise DataError(
                f"{source}: parts do not stack along the example axis ({exc}); to run each "
                "part as its own feed (sizes may then differ), pass --feeds"
            ) from exc
    labels = np.concatenate([p.labels for p in parts]) if True in has_labels else None
    return Dataset(inputs, labels, source=source, batch_axes=axes)


# -- checks ---------------------------------------------------------------------------------------
def validate(dataset: Dataset, specs: Sequence[InputSpec]) -> None:
    """Check names, dtypes, ranks, static dims and values against the model's inputs.

    Inputs with a default value (:func:`analogc.runtime.inputs.defaulted_inputs`) may be
    given (``--set``) or left out; every other input must be in every feed.

    Raises:
        DataError: naming the input and what the model expects.
    """
    for feed in dataset.feeds:
        _validate_feed(feed, dataset, specs)


def _validate_feed(feed: Feed, dataset: Dataset, specs: Sequence[InputSpec]) -> None:
    required = {s.name: s for s in specs if s.default is None}
    expected = {s.name: s for s in specs}
    source = feed.source or dataset.source
    where = f"{source}: " if source else ""
    missing = sorted(set(required) - set(feed.inputs))
    extra = sorted(set(feed.inputs) - set(expected))
    if missing or extra:
        want = ", ".join(f"'{s.name}' {s.describe()}" for s in specs if s.default is None)
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        hint = ""
        settable = [n for n in missing if expected[n].scalar_like]
        if settable:
            hint = f" (or give {', '.join(f'--set {n}=VALUE' for n in settable)})"
        raise DataError(
            f"{where}arrays do not match the model inputs ({'; '.join(parts)}); "
            f"the model expects {want} (plus optional '{LABELS}'){hint}"
        )
    for name, array in feed.inputs.items():
        spec = expected[name]
        axis = dataset.batch_axes.get(name)
        if array.dtype != spec.dtype:
            raise DataError(
                f"{where}input '{name}' is {array.dtype}, the model expects {spec.describe()} "
                f"(convert with .astype(np.{spec.dtype}))"
            )
        if array.ndim != len(spec.shape):
            raise DataError(
                f"{where}input '{name}' has shape {list(array.shape)}, the model expects {spec.describe()}"
            )
        for k, (have, dim) in enumerate(zip(array.shape, spec.shape, strict=True)):
            if k != axis and isinstance(dim, int) and dim > 0 and have != dim:
                raise DataError(
                    f"{where}input '{name}' has shape {list(array.shape)}, "
                    f"the model expects {spec.describe()} (axis {k})"
                )
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise DataError(f"{where}input '{name}' contains NaN or infinite values")
    if feed.labels is not None:
        labels = feed.labels
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{where}'{LABELS}' must be a 1-D integer array of class indices, "
                f"got {labels.dtype}{list(labels.shape)}"
            )


# -- synthetic data -------------------------------------------------------------------------------
UNKNOWN_DIM = 16
"""Size given to an unknown, non-batch dimension of a synthesised input."""


def synthesize(
    specs: Sequence[InputSpec],
    *,
    examples: int = 64,
    seed: int = 0,
    batch_axes: BatchAxes | None = None,
    values: Mapping[str, np.ndarray] | None = None,
) -> Dataset:
    """Random inputs shaped like the model's, for a first look without data.

    Floats are standard normal; integers are 0 or 1 (valid token ids and indices); each
    batched input has ``examples`` entries on its batch axis and 16 on other unknown dims.
    A model whose batch axis has a static size (an export for batch 1) is run in batches of
    that size. Inputs in ``values`` take those values; other inputs
    held fixed are drawn once, except a single number (a setting such as a sample rate),
    which analogc cannot make up.

    Raises:
        DataError: for an input that is a single number with no value given.
    """
    axes = dict(batch_axes) if batch_axes is not None else infer_batch_axes(specs)
    values = dict(values or {})
    rng = np.random.default_rng(seed)
    fixed: dict[str, np.ndarray] = {}
    batched: list[tuple[InputSpec, list[int], int]] = []
    for spec in specs:
        if spec.name in values or spec.default is not None:
            continue  # a value given with --set, or the model's own default
        axis = axes.get(spec.name)
        if axis is None and spec.scalar_like:
            raise DataError(
                f"input '{spec.name}' is {'a scalar' if not spec.shape else spec.describe()} "
                "the model needs a value for (such as a sample rate), and has no default: give "
                f"it with --set {spec.name}=VALUE, or give data with --data"
            )
        dims = [d if isinstance(d, int) and d > 0 else UNKNOWN_DIM for d in spec.shape]
        if axis is None:
            fixed[spec.name] = _random(rng, spec.dtype, dims)
        else:
            batched.append((spec, dims, axis))
    per_run = _static_batch(batched)
    n = max(per_run or 1, examples - examples % (per_run or 1))  # whole batches of a static size
    inputs = dict(fixed)
    for spec, dims, axis in batched:
        inputs[spec.name] = _random(rng, spec.dtype, [*dims[:axis], n, *dims[axis + 1 :]])
    inputs.update(values)
    axes = {**{n: a for n, a in axes.items() if n in inputs}, **dict.fromkeys(values)}
    return Dataset(
        inputs,
        None,
        "synthetic (random inputs from the model's input specs)",
        synthetic=True,
        batch_axes=axes,
        static_batch=per_run,
    )


def _static_batch(batched: Sequence[tuple[InputSpec, list[int], int]]) -> int | None:
    """The batch size the batched inputs state (an export for batch 1), if any.

    Raises:
        DataError: when they state different sizes.
    """
    static = {s.name: s.shape[a] for s, _, a in batched if isinstance(s.shape[a], int)}
    if len(set(static.values())) > 1:
        raise DataError(
            f"inputs have different static batch sizes {static}: say which axis is the batch "
            "with --batch-axis NAME=AXIS (NAME=none holds an input fixed)"
        )
    size = next(iter(static.values()), None)
    return size if isinstance(size, int) else None


def _random(rng: np.random.Generator, dtype: np.dtype, dims: list[int]) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(dims).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, dims).astype(bool)
    return rng.integers(0, 2, dims).astype(dtype)
