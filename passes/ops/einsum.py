"""Einsum: two-operand contractions run analog (``AnalogEinsum``); other forms stay digital.

A contraction ``y[o] = Σ_c x[.., c, ..] · w[.., c, ..]`` has, for each output element, a dot
product over the contracted indices (in both operands, not in the output). Batch indices (in
both operands and the output) and free indices (in one operand and the output) select the
output element; the second operand plays ``w`` (DESIGN §2). ``D`` is the product of the
contracted sizes; ``‖x_(i)‖²`` and ``‖w_i‖²`` are sums of squares over the contracted axes,
and ``r_w,i`` the range over them, laid out like the output by the attributes the pass
computes here (see :func:`analogc.passes.ops.matmul.contraction_layout`).

When a contracted size is not static after shape inference (a contraction over a dynamic
sequence axis), the op lowers to ``AnalogEinsumDynK``, whose body takes D from the operands'
run-time shapes; its ``fan_in`` is None and its MACs are known from run-time shapes only.

Digital, with the reason: not two operands; a repeated index within one operand (a diagonal);
an index summed in one operand only; no contracted index (an outer or element-wise product).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import onnx

from ..function_body import FunctionBody
from ..graph_index import GraphIndex, attribute_values, numel
from .base import STRING, Lowering, ShapeOf, float_check, operand_dtype
from .matmul import CONTRACTION_ATTRIBUTES, ContractionFamily, contraction_layout


class EinsumFamily(ContractionFamily):
    """``AnalogEinsum``: a two-operand contraction given by its ``equation``."""

    attributes = MappingProxyType({"equation": STRING, **CONTRACTION_ATTRIBUTES})

    def __init__(self, *, static_fan_in: bool = True) -> None:
        self.static_fan_in = static_fan_in
        self.name = "AnalogEinsum" + ("" if static_fan_in else "DynK")

    def product(self, b: FunctionBody, x: str, w: str) -> str:
        return b.op("Einsum", x, w, refs={"equation": "equation"})


EINSUM = EinsumFamily()
EINSUM_DYNK = EinsumFamily(static_fan_in=False)


@dataclass(frozen=True)
class Subscripts:
    """An equation with ellipses expanded: one token per axis, ellipsis axes right-aligned."""

    inputs: tuple[tuple[str, ...], ...]
    output: tuple[str, ...]


def parse_equation(equation: str, ranks: list[int]) -> Subscripts:
    """Expand ``...`` to one token per axis (``...0`` the last ellipsis axis) and make an
    implicit output explicit (numpy's rule: ellipsis axes, then letters used once, sorted).

    Raises:
        ValueError: if the equation does not match the operand ranks.
    """
    text = equation.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"{len(terms)} operand terms for {len(ranks)} operands")
    inputs: list[tuple[str, ...]] = []
    n_ellipsis = 0
    for term, rank in zip(terms, ranks, strict=True):
        head, dots, tail = term.partition("...")
        letters = len(head) + len(tail)
        if not dots:
            if letters != rank:
                raise ValueError(f"term '{term}' has {letters} indices for a rank-{rank} operand")
            inputs.append(tuple(term))
            continue
        extra = rank - letters
        if extra < 0:
            raise ValueError(f"term '{term}' has more indices than its rank {rank}")
        n_ellipsis = max(n_ellipsis, extra)
        inputs.append((*head, *(f"...{k}" for k in range(extra - 1, -1, -1)), *tail))
    ellipsis = tuple(f"...{k}" for k in range(n_ellipsis - 1, -1, -1))
    if arrow:
        out_head, out_dots, out_tail = rhs.partition("...")
        output = (*out_head, *(ellipsis if out_dots else ()), *out_tail)
    else:
        used = [t for term in inputs for t in term if not t.startswith("...")]
        once = sorted(c for c in set(used) if used.count(c) == 1)  # ASCII, as numpy
        output = (*ellipsis, *once)
    return Subscripts(tuple(inputs), tuple(output))


@dataclass(frozen=True)
class Contraction:
    """A two-operand contraction: which axes of x and w are contracted, where the rest go."""

    x_axes: list[int]
    w_axes: list[int]
    x_kept_positions: list[int]
    w_kept_positions: list[int]
    output_rank: int
    contracted: tuple[str, ...]


def analyse(sub: Subscripts) -> Contraction | str:
    """The contraction structure, or the reason this Einsum is not a plain contraction."""
    if len(sub.inputs) != 2:
        return f"Einsum with {len(sub.inputs)} operand(s): only two-operand contractions run analog"
    x, w = sub.inputs
    for label, term in (("first", x), ("second", w)):
        repeated = sorted({t for t in term if term.count(t) > 1})
        if repeated:
            return f"index {_show(repeated[0])} repeats in the {label} operand (a diagonal)"
    out = set(sub.output)
    for label, term, other in (("first", x, w), ("second", w, x)):
        alone = [t for t in term if t not in out and t not in other]
        if alone:
            return f"index {_show(alone[0])} of the {label} operand is summed alone"
    contracted = tuple(t for t in x if t in w and t not in out)
    if not contracted:
        return "no contracted index (an outer or element-wise product)"
    position = {t: p for p, t in enumerate(sub.output)}
    return Contraction(
        x_axes=[a for a, t in enumerate(x) if t in contracted],
        w_axes=[a for a, t in enumerate(w) if t in contracted],
        x_kept_positions=[position[t] for t in x if t not in contracted],
        w_kept_positions=[position[t] for t in w if t not in contracted],
        output_rank=len(sub.output),
        contracted=contracted,
    )


def _show(token: str) -> str:
    return "'...'" if token.startswith("...") else f"'{token}'"


def _equation(node: onnx.NodeProto) -> str:
    value = attribute_values(node).get("equation", b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def _subscripts(node: onnx.NodeProto, index: GraphIndex) -> Subscripts | str:
    ranks = [index.rank(name) for name in node.input]
    unknown = [name for name, r in zip(node.input, ranks, strict=True) if r is None]
    if unknown:
        return f"rank of operand '{unknown[0]}' is unknown after shape inference"
    try:
        return parse_equation(_equation(node), [int(r) for r in ranks])  # type: ignore[arg-type]
    except ValueError as exc:
        return f"cannot read the equation '{_equation(node)}': {exc}"


def _sizes(node: onnx.NodeProto, index: GraphIndex, sub: Subscripts) -> dict[str, int | None]:
    """Size of every index (None if unknown); a broadcast axis of size 1 gives way."""
    dims: dict[str, list[object]] = {}
    for name, term in zip(node.input, sub.inputs, strict=True):
        shape = index.shape(name) or (None,) * len(term)
        for token, dim in zip(term, shape, strict=True):
            dims.setdefault(token, []).append(dim)
    sizes: dict[str, int | None] = {}
    for token, values in dims.items():
        known = [int(d) for d in values if isinstance(d, int)]
        if len(known) == len(values) or (known and max(known) > 1):
            sizes[token] = max(known)
        else:
            sizes[token] = None
    return sizes


class EinsumHandler:
    op_type = "Einsum"

    def _analysis(
        self, node: onnx.NodeProto, index: GraphIndex
    ) -> tuple[Subscripts, Contraction] | str:
        sub = _subscripts(node, index)
        if isinstance(sub, str):
            return sub
        found = analyse(sub)
        if isinstance(found, str):
            return found
        return sub, found

    def check(self, node: onnx.NodeProto, index: GraphIndex) -> str | None:
        found = self._analysis(node, index)
        if isinstance(found, str):
            return found
        return float_check(node, index, list(node.input[:2]))

    def fan_in(self, node: onnx.NodeProto, index: GraphIndex) -> float | None:
        """D if shape inference knows every contracted size, else None (D is then taken at
        run time)."""
        found = self._analysis(node, index)
        if isinstance(found, str):
            return None
        sub, contraction = found
        sizes = _sizes(node, index, sub)
        dims = [sizes.get(t) for t in contraction.contracted]
        if any(d is None for d in dims):
            return None
        return float(math.prod(dims))  # type: ignore[arg-type]

    def macs(self, node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf) -> int | None:
        """Contraction size × output elements; for the digital forms, every product of the
        equation as written (the size of the whole index space, times operands − 1)."""
        found = self._analysis(node, index)
        if not isinstance(found, str):
            out, d = shape_of(node.output[0]), self.fan_in(node, index)
            if d is None:  # contracted sizes from the shapes ``shape_of`` gives
                sub, contraction = found
                d = _contracted_size(node, sub, contraction, shape_of)
            return None if out is None or d is None else numel(out) * int(d)
        return einsum_macs_as_written(node, index, shape_of)

    def operand(self, node: onnx.NodeProto, index: GraphIndex) -> Literal["constant", "activation"]:
        name = node.input[1] if len(node.input) > 1 else node.input[0]
        return "constant" if index.is_constant(name) else "activation"

    def lower(self, node: onnx.NodeProto, index: GraphIndex, prefix: str) -> Lowering:
        found = self._analysis(node, index)
        assert not isinstance(found, str)  # guaranteed by check()
        sub, c = found
        dynamic = self.fan_in(node, index) is None
        # DynK: W's contracted axes listed index by index like X's (the body pairs them to
        # take D from the shapes); the reductions do not depend on the order.
        w_axes = [sub.inputs[1].index(t) for t in c.contracted] if dynamic else c.w_axes
        attrs = {
            "equation": _equation(node),
            "x_axes": c.x_axes,
            "w_axes": w_axes,
            **contraction_layout(c.x_kept_positions, c.output_rank, "x"),
            **contraction_layout(c.w_kept_positions, c.output_rank, "w"),
        }
        return Lowering(
            family=EINSUM_DYNK if dynamic else EINSUM,
            inputs=list(node.input[:2]),
            n_original_inputs=2,
            attrs=attrs,
            original_attrs=["equation"],
            dtype=operand_dtype(index, node.input[0]),
        )


def _contracted_size(
    node: onnx.NodeProto, sub: Subscripts, contraction: Contraction, shape_of: ShapeOf
) -> int | None:
    """D from per-example shapes: per contracted index the larger of its sizes in the two
    operands (a broadcast 1, or a leading axis ``shape_of`` counts as 1, gives way)."""
    sizes: dict[str, int] = {}
    for name, term in zip(node.input, sub.inputs, strict=True):
        shape = shape_of(name)
        if shape is None or len(shape) != len(term):
            continue
        for token, dim in zip(term, shape, strict=True):
            sizes[token] = max(sizes.get(token, 1), int(dim))
    if any(t not in sizes for t in contraction.contracted):
        return None
    return math.prod(sizes[t] for t in contraction.contracted)


def einsum_macs_as_written(
    node: onnx.NodeProto, index: GraphIndex, shape_of: ShapeOf
) -> int | None:
    """Products an Einsum performs as written: index-space size × (operands − 1)."""
    sub = _subscripts(node, index)
    if isinstance(sub, str) or len(sub.inputs) < 2:
        return None if isinstance(sub, str) else 0
    sizes: dict[str, int] = {}
    for name, term in zip(node.input, sub.inputs, strict=True):
        shape = shape_of(name)
        if shape is None:
            return None
        for token, dim in zip(term, shape, strict=False):
            sizes[token] = max(sizes.get(token, 1), int(dim))
    return math.prod(sizes.values()) * (len(sub.inputs) - 1)
