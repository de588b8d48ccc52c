"""``--metric auto``: a metric that fits the model's output, and the reason, said out loud.

Top-1 agreement reads the first output as class scores; on an output that is not one score
per class (a sequence of embeddings ``[batch, 5, 16]``) it would compare the argmax of 80
flattened values, which means nothing. ``auto`` therefore looks at the output's shape:

- labels given: top-1 accuracy;
- ``[batch, C]`` (C > 1): top-1 agreement with the clean model, read as class scores;
- more axes per example (``[batch, 5, 16]``): cosine similarity to the clean output;
- one value per example (``[batch]``, ``[batch, 1]``): no default fits (agreement would
  always be 1, cosine a sign test), so the user is asked to choose;
- a rank unknown before run time: agreement, as before, saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx

from analogc.errors import ConfigError
from analogc.inputs import resolve_metric
from analogc.runtime.data import Dataset
from analogc.runtime.inputs import output_batch_axes, output_shapes
from analogc.runtime.metrics import METRICS, Metric

__all__ = ["ChosenMetric", "choose_metric"]


@dataclass(frozen=True)
class ChosenMetric:
    """The metric to use; ``reason`` says why when ``auto`` chose it (None otherwise)."""

    metric: Metric
    reason: str | None = None


def choose_metric(spec: str, dataset: Dataset, model: onnx.ModelProto) -> ChosenMetric:
    """``--metric``: a name or ``module:function`` as given, or ``auto`` chosen from the data's
    labels and the shape of the model's first output.

    Raises:
        ConfigError: ``auto`` on an output with one value per example (no default fits).
    """
    if spec != "auto":
        return ChosenMetric(resolve_metric(spec, dataset))
    if dataset.labels is not None:
        return ChosenMetric(METRICS["accuracy"], "the data has labels: top-1 accuracy")
    name = model.graph.output[0].name
    per_example = _per_example_shape(model)
    if per_example is None:
        return ChosenMetric(
            METRICS["agreement"],
            f"no labels; output '{name}' has a rank unknown before run time: top-1 agreement "
            "with the clean model (give --metric cosine if it is not class scores)",
        )
    shown = "[" + ", ".join(["batch", *(_dim(d) for d in per_example)]) + "]"
    size = math.prod(d for d in per_example if isinstance(d, int))
    if len(per_example) == 1 and (size > 1 or not isinstance(per_example[0], int)):
        return ChosenMetric(
            METRICS["agreement"],
            f"no labels; output '{name}' is {shown}, read as class scores: top-1 agreement with "
            "the clean model (for embeddings give --metric cosine)",
        )
    if len(per_example) > 1 and (size > 1 or not all(isinstance(d, int) for d in per_example)):
        return ChosenMetric(
            METRICS["cosine"],
            f"no labels; output '{name}' is {shown}, not one score per class: cosine "
            "similarity to the clean output",
        )
    raise ConfigError(
        f"--metric auto: output '{name}' is {shown}, one value per example, and no default "
        "metric fits it; give --metric sqnr --max-drop 30dB (lowest SQNR in dB) or a "
        "module:function metric"
    )


def _per_example_shape(model: onnx.ModelProto) -> tuple[int | str | None, ...] | None:
    """The first output's shape without its batch axis (None when its rank is unknown)."""
    output = model.graph.output[0]
    if not output.type.tensor_type.HasField("shape"):
        return None
    shape = output_shapes(model)[0]
    axis = output_batch_axes(model)[0]
    return shape if axis is None else shape[:axis] + shape[axis + 1 :]


def _dim(d: int | str | None) -> str:
    return "?" if d is None else str(d)
