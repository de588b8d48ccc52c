"""What a command reads besides the model: data, the metric, the demo files; and the facts
that identify them (versions, fingerprints)."""

from __future__ import annotations

import logging
import platform
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx

from analogc.errors import ConfigError, DataError, ModelError
from analogc.run_time_shapes import resolve_run_time_shapes
from analogc.runtime.data import (
    Dataset,
    load_directory,
    load_npz,
    load_reader,
    synthesize,
    validate,
)
from analogc.runtime.inputs import InputLayout
from analogc.runtime.metrics import METRICS, Metric, custom_metric, default_metric

if TYPE_CHECKING:
    from analogc.calibrated import LoadedModel

log = logging.getLogger(__name__)

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
    data: DataSource,
    model: onnx.ModelProto,
    *,
    examples: int = 64,
    seed: int = 0,
    batch_axes: Mapping[str, int | None] | None = None,
    values: Mapping[str, object] | None = None,
    feeds: bool = False,
) -> Dataset:
    """Resolve ``--data``: an .npz, a folder, a reader ``module:function``,
    ``demo:calib``/``demo:test``, a Dataset, or None (synthetic).

    Args:
        batch_axes: ``--batch-axis``: input name -> batch axis, or None to hold it fixed
            (default: from the model's symbolic dimensions, see
            :func:`analogc.runtime.inputs.infer_batch_axes`).
        values: ``--set``: values of inputs held fixed (a sample rate), parsed by dtype.
        feeds: each .npz of a folder, or each batch of a reader, is one complete feed.
    """
    layout = InputLayout.of(model, batch_axes=batch_axes, values=values)
    static = layout.static_batch  # first: a model whose static batch sizes disagree says so
    dataset = _load_data(
        data, layout, overridden=set(batch_axes or {}), examples=examples, seed=seed, feeds=feeds
    )
    return dataset.with_static_batch(static)


def _load_data(
    data: DataSource,
    layout: InputLayout,
    *,
    overridden: Collection[str],
    examples: int,
    seed: int,
    feeds: bool,
) -> Dataset:
    specs, axes, fixed = layout.specs, layout.axes, layout.values
    if isinstance(data, Dataset):
        # Axes the Dataset states itself are kept, unless batch_axes names the input.
        chosen = set(overridden) if data.explicit_axes else set(axes)
        wanted = {n: axes[n] if n in chosen else a for n, a in data.batch_axes.items()}
        dataset = data if wanted == data.batch_axes else data.with_batch_axes(wanted)
        dataset = dataset.with_values(fixed)
        validate(dataset, specs)
        return dataset
    if data is None:
        return synthesize(specs, examples=examples, seed=seed, batch_axes=axes, values=fixed)
    text = str(data)
    options: dict[str, Any] = {"axes": axes, "values": fixed}
    if text in DEMO_DATA:
        return load_npz(demo_file(DEMO_DATA[text]), specs, **options)
    path = Path(text)
    if path.is_dir():
        return load_directory(path, specs, feeds=feeds, **options)
    if path.suffix == ".npz" or path.is_file():
        if feeds:
            raise DataError(
                f"{text}: --feeds needs a folder of .npz files (one feed each) or a reader "
                "module:function; one .npz is one feed already"
            )
        return load_npz(path, specs, **options)
    if READER.fullmatch(text) and not path.exists():
        return load_reader(text, specs, feeds=feeds, **options)
    raise DataError(
        f"{text}: no such data file or folder (give an .npz with arrays named like the model inputs, "
        "a folder of .npy/.npz files, a reader module:function, or demo:calib)"
    )


@dataclass(frozen=True)
class InputsInfo:
    """How the data met the model's inputs (the report's ``data`` section).

    Attributes:
        batch_axes: input -> its batch axis, or None when held fixed.
        feeds: how many complete feeds the data is (None when it was joined into one set).
        values: inputs held fixed -> ``{"value": ..., "from": "--set" | "data" | "default"}``.
        resolved_shapes: ops whose shapes were known only at run time, taken from the data.
    """

    batch_axes: dict[str, int | None]
    feeds: int | None
    values: dict[str, dict[str, Any]]
    resolved_shapes: list[dict[str, Any]]


def prepare_inputs(
    loaded: LoadedModel,
    data: DataSource,
    *,
    batch_axes: Mapping[str, int | None] | None,
    values: Mapping[str, object] | None,
    feeds: bool,
    seed: int,
    batch_size: int,
    threads: int | None,
    only: Collection[str] | None = None,
) -> tuple[LoadedModel, Dataset, InputsInfo]:
    """The data laid out by the model's inputs, the model with the shapes the data shows, and
    the report's account of both: batch axes, feeds, values held fixed, shapes resolved."""
    dataset = load_data(
        data, loaded.model, seed=seed, batch_axes=batch_axes, values=values, feeds=feeds
    )
    layout = InputLayout.of(loaded.model, batch_axes=batch_axes, values=values)
    settings = layout.settings([f.inputs for f in dataset.feeds])
    source = {"--set": "--set", "data": "the data", "default": "the model's default"}
    for name, used in settings.items():
        log.info("input '%s' = %s (from %s)", name, used["value"], source[str(used["from"])])
    if dataset.fixed or not dataset.joined:
        log.info("data: %s", dataset.describe())
    loaded, resolved = resolve_run_time_shapes(
        loaded, dataset, batch_size=batch_size, threads=threads, only=only
    )
    info = InputsInfo(
        batch_axes=dict(sorted(dataset.batch_axes.items())),
        feeds=None if dataset.joined else len(dataset.feeds),
        values=settings,
        resolved_shapes=[op.to_dict() for op in resolved],
    )
    return loaded, dataset, info


def resolve_metric(name: str, dataset: Dataset) -> Metric:
    """``--metric``: ``auto``, a built-in name, or ``module:function``.

    ``auto`` here only looks at the labels; the commands choose with the model's output
    shape too (:func:`analogc.metric_choice.choose_metric`)."""
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
