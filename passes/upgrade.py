"""Bring a model into the opset range analogc annotates (12 to 21) and to IR >= 4.

* Opsets 7-11: the ``ai.analogc`` function bodies use ``Constant`` with attribute references
  (opset 12), and an ONNX local function must import the same default opset as the model. These
  models are converted to opset 13 with ``onnx.version_converter``.
* Opsets 22 and newer: ONNX revised RandomNormalLike (with every random op) in opset 22, and
  onnxruntime's CPU provider registers no kernel for the new version (microsoft/onnxruntime#32201,
  open), so an annotated model at opset 22+ would not run. These models are converted down to
  opset 21 when the converter can (the opset-22+ revisions of most ops only widened their
  types). A model using an op that has no opset-21 form (e.g. the opset-23 Attention) keeps its
  opset: it annotates and passes the checker, and its analogc simulation runs, but the
  standalone annotated model needs an onnxruntime with the opset-22 random kernels.
* IR 3 graphs had to list every initializer as a graph input too; those inputs go (otherwise
  they become inputs a caller may override, and onnxruntime would no longer fold the weight
  statistics).
* Model-local functions (exporters wrap modules in them) are inlined, so that the matrix
  products inside them are found and can run analog; their names are recorded in the model
  metadata ``pkg.analogc.inlined_functions``.

Only the working copy changes: the file the model came from is never written. The original
opset is recorded in the model metadata ``pkg.analogc.source_opset``.
"""

from __future__ import annotations

import logging

import onnx
from onnx import inliner, version_converter

from analogc.errors import ModelError

from .result import PassResult

__all__ = [
    "LIBRARY_OPSET",
    "MAX_OPSET",
    "MIN_OPSET",
    "RANDOM_KERNEL_OPSET",
    "SOURCE_OPSET_KEY",
    "upgrade_model",
]

log = logging.getLogger(__name__)

MIN_OPSET = 7
"""Oldest default-domain opset analogc reads."""

MAX_OPSET = onnx.defs.onnx_opset_version()
"""Newest default-domain opset the installed onnx knows."""

LIBRARY_OPSET = 12
"""Oldest opset the ``ai.analogc`` function bodies can be written in."""

TARGET_OPSET = 13
"""Opset that older models are converted to."""

RANDOM_KERNEL_OPSET = 21
"""Newest opset whose RandomNormalLike onnxruntime runs (see the module docstring)."""

SOURCE_OPSET_KEY = "pkg.analogc.source_opset"
"""Model metadata: the opset of the file, when the working copy was converted."""

INLINED_KEY = "pkg.analogc.inlined_functions"
"""Model metadata: the model-local functions inlined into the working copy."""

ANALOG_DOMAINS = ("ai.analogc", "ai.analogc.sim")


def default_opset(model: onnx.ModelProto) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def upgrade_model(model: onnx.ModelProto) -> PassResult:
    """Convert opsets 7-11 to 13 and 22+ to 21 (when possible); drop IR 3's initializer
    inputs. Mutates ``model``.

    Node names, metadata and every other domain's ops are kept.

    Raises:
        ModelError: if ``onnx.version_converter`` cannot convert an opset 7-11 model.
    """
    modified = _inline_functions(model)
    ir_version = model.ir_version
    opset = default_opset(model)
    if opset is not None and opset < LIBRARY_OPSET:
        try:
            _convert(model, opset, TARGET_OPSET)
        except _ConversionError as exc:
            raise ModelError(
                f"opset {opset} is older than the {LIBRARY_OPSET} analogc annotates, and "
                f"onnx.version_converter could not convert it to opset {TARGET_OPSET} ({exc}); "
                f"re-export the model with opset {LIBRARY_OPSET} or newer"
            ) from exc
        modified = True
    elif opset is not None and opset > RANDOM_KERNEL_OPSET:
        try:
            _convert(model, opset, RANDOM_KERNEL_OPSET)
            modified = True
        except _ConversionError as exc:
            log.warning(
                "opset %d kept (%s): the annotated model passes the ONNX checker, but "
                "onnxruntime runs it only once it has kernels for the opset-22 random ops "
                "(microsoft/onnxruntime#32201); analogc's own evaluation is not affected",
                opset,
                exc,
            )
    if ir_version < 4:
        initializers = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in initializers]
        if len(inputs) != len(model.graph.input):
            del model.graph.input[:]
            model.graph.input.extend(inputs)
        model.ir_version = max(model.ir_version, 4)
        modified = True
    return PassResult(model, modified)


class _ConversionError(Exception):
    pass


def _inline_functions(model: onnx.ModelProto) -> bool:
    """Inline every model-local function but analogc's own. True if there was one."""
    ids = [(f.domain, f.name) for f in model.functions if f.domain not in ANALOG_DOMAINS]
    if not ids:
        return False
    meta = [(e.key, e.value) for e in model.metadata_props]
    inlined = inliner.inline_selected_functions(model, ids, exclude=False)
    model.CopyFrom(inlined)
    del model.metadata_props[:]
    for key, value in meta:
        model.metadata_props.add(key=key, value=value)
    model.metadata_props.add(key=INLINED_KEY, value=",".join(f"{d}.{n}" for d, n in ids))
    return True


def _convert(model: onnx.ModelProto, opset: int, target: int) -> None:
    names = [n.name for n in model.graph.node]
    meta = [(e.key, e.value) for e in model.metadata_props]
    try:
        converted = version_converter.convert_version(model, target)
        onnx.checker.check_model(converted)
    except Exception as exc:  # the converter raises several types; all mean "cannot convert"
        text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise _ConversionError(text) from exc
    if [n.name for n in converted.graph.node][: len(names)] != names:
        # The converter inserts nodes (e.g. Constant inputs); keep the user's names when it can.
        by_output = {tuple(n.output): n.name for n in model.graph.node}
        for node in converted.graph.node:
            name = by_output.get(tuple(node.output))
            if name:
                node.name = name
    ir_version = model.ir_version
    model.CopyFrom(converted)
    del model.metadata_props[:]
    for key, value in meta:
        model.metadata_props.add(key=key, value=value)
    model.metadata_props.add(key=SOURCE_OPSET_KEY, value=str(opset))
    model.ir_version = max(ir_version, 7) if target == TARGET_OPSET else ir_version
