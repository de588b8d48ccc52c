"""Ops that stay digital only because a shape is unknown before run time, made analog from
the shapes the calibration data shows (see :mod:`analogc.passes.observed_shapes`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import onnx

from analogc.calibrated import LoadedModel
from analogc.passes import Discovery, discover
from analogc.passes.observed_shapes import unresolved_tensors, with_observed_shapes
from analogc.runtime.data import Batch, Dataset
from analogc.runtime.observe import distinct_batches, observe_shapes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedOp:
    """An op made analog from run-time shapes.

    Attributes:
        name: the op.
        op_type: its type.
        shapes: each unknown tensor -> the shapes seen (one per distinct batch shape).
        fixed_sizes: True if the op needed static sizes (its plan then holds for the sizes
            seen only); False if the rank sufficed (the plan holds for any size).
    """

    name: str
    op_type: str
    shapes: dict[str, list[list[int]]]
    fixed_sizes: bool

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        seen = "; ".join(f"'{t}' {_shapes(s)}" for t, s in self.shapes.items())
        holds = "for the sizes seen only" if self.fixed_sizes else "for any size"
        return f"{self.op_type} '{self.name}' ({seen}; the plan holds {holds})"


def _shapes(shapes: list[list[int]]) -> str:
    if len(shapes) > 3:
        return f"{shapes[0]} or {len(shapes) - 1} other shapes"
    return " or ".join(map(str, shapes))


def resolve_run_time_shapes(
    loaded: LoadedModel,
    dataset: Dataset,
    *,
    batch_size: int,
    threads: int | None = None,
    only: Collection[str] | None = None,
) -> tuple[LoadedModel, list[ResolvedOp]]:
    """``loaded`` with the shapes its digital-for-unknown-shape ops need, seen on
    ``dataset``; and the ops that became analog. Unchanged if there are none.

    Args:
        only: resolve these ops only (``eval``: the ops the plan has).
    """
    pending = unresolved_tensors(loaded.model, loaded.discovery)
    if only is not None:
        pending = {name: tensors for name, tensors in pending.items() if _planned(name, only)}
    if not pending:
        return loaded, []
    batches = _runs(dataset, batch_size)
    examples = [b.examples for b in batches]
    observed = observe_shapes(loaded.model, pending, batches, threads=threads)
    model = with_observed_shapes(loaded.model, observed, examples=examples)
    discovery = discover(model)
    model, discovery, fixed = _sized_if_needed(model, discovery, pending, observed, examples)
    resolved = _resolved_ops(loaded, discovery, pending, observed, fixed, dataset, batch_size)
    never_run = [
        name
        for name in _digital(discovery, pending)
        if all(s is None for t in pending[name] for s in observed.get(t, [None]))
    ]
    if not resolved and not never_run:
        return loaded, []
    for op in resolved:
        log.info("shape known at run time only, taken from the data: %s", op.describe())
    if not resolved:
        model, discovery = loaded.model, loaded.discovery
    discovery = _with_note(
        discovery,
        never_run,
        "; no calibration batch ran it (an If branch the data never takes), so its shapes "
        "stay unknown: give data that takes that branch",
    )
    return dataclasses.replace(loaded, model=model, discovery=discovery), resolved


def _sized_if_needed(
    model: onnx.ModelProto,
    discovery: Discovery,
    pending: Mapping[str, Sequence[str]],
    observed: Mapping[str, list[tuple[int, ...] | None]],
    examples: list[int],
) -> tuple[onnx.ModelProto, Discovery, set[str]]:
    """Ops still digital with the observed ranks may need the observed sizes too: the model
    with the sizes where that made any op analog, and those ops."""
    still = _digital(discovery, pending)
    if not still:
        return model, discovery, set()
    sized = {t: observed[t] for name in still for t in pending[name] if t in observed}
    model_sized = with_observed_shapes(model, sized, examples=examples, sizes=True)
    discovery_sized = discover(model_sized)
    fixed = set(still) - set(_digital(discovery_sized, still))
    if fixed:
        return model_sized, discovery_sized, fixed
    return model, discovery, fixed


def _resolved_ops(
    loaded: LoadedModel,
    discovery: Discovery,
    pending: Mapping[str, Sequence[str]],
    observed: Mapping[str, list[tuple[int, ...] | None]],
    fixed: set[str],
    dataset: Dataset,
    batch_size: int,
) -> list[ResolvedOp]:
    """The pending ops that are analog now, with the distinct shapes the data gave them."""
    # (a recurrent op made analog is no longer there: its expansion's products are)
    types = {x.name: x.op_type for x in (*loaded.discovery.layers, *discovery.layers)}
    seen_in_data = len(distinct_batches(dataset.split(batch_size)))
    digital = _digital(discovery, pending)
    return [
        ResolvedOp(
            name,
            types[name],
            {
                t: [
                    list(s)
                    for s in dict.fromkeys(observed.get(t, [])[:seen_in_data])
                    if s is not None
                ]
                for t in pending[name]
            },
            name in fixed,
        )
        for name in pending
        if name not in digital
    ]


def _planned(name: str, only: Collection[str]) -> bool:
    """Whether the plan has op ``name``, or products of it (a recurrent op's expansion)."""
    return name in only or any(layer.startswith(f"{name}/") for layer in only)


def _runs(dataset: Dataset, batch_size: int) -> list[Batch]:
    """One batch per distinct input shape; and one example alone if every batch has the same
    number of examples, so that the runs show which axis is the batch."""
    batches = distinct_batches(dataset.split(batch_size))
    sizes = {b.examples for b in batches}
    if len(sizes) == 1 and sizes.pop() > 1 and not dataset.static_batch:
        batches.append(dataset.head(1).split(1)[0])
    return batches


def _with_note(discovery: Discovery, names: Collection[str], note: str) -> Discovery:
    """The discovery with ``note`` added to the reasons of ops ``names`` stay digital."""
    return Discovery(
        tuple(
            dataclasses.replace(x, reason=f"{x.reason}{note}") if x.name in names else x
            for x in discovery.layers
        )
    )


def _digital(discovery: Discovery, names: Iterable[str]) -> list[str]:
    digital = {x.name for x in discovery.digital}
    return [n for n in names if n in digital]
