"""The ``ai.analogc`` function library: ONNX function bodies that make the custom ops runnable.

Each body is an op family (:class:`analogc.passes.ops.AnalogFamily`: the product and the norms
and layouts it offers) composed with the enabled noise terms (:mod:`analogc.passes.noise`),
all from standard ops, so stock onnxruntime runs the annotated model with no extension. In
order, a body:

1. computes the temporal noise scale ``s = 1/sqrt(repeats·e1)`` (:mod:`analogc.passes.noise.law`);
2. computes the shared quantities the terms declared (the channel weight range, then, after the
   product, ‖x_(i)‖² and ‖w_i‖²/D), each once;
3. lets ``weight``-stage terms change the weights (read noise), then runs the product;
4. adds the ``output``-stage terms' noise with one Gaussian per output element: their variances
   add (a single term gives its std directly);
5. in simulate mode with ``stats``, returns each term's mean output-referred variance at E = 1.

``D`` is the node's ``fan_in`` attribute, or, for a family whose contraction length is known
only at run time (the ``DynK`` variants), computed from the operands' shapes. Weight statistics
are computed from ``W`` in the body; for constant weights onnxruntime folds them at session
start, so they cost nothing per run.

Operands of another floating type (float16, bfloat16, float64) get a variant of each function
(``AnalogMatMulF16``, ...): the product keeps the model's type, while norms, ranges, sigma and
draws are computed in float32 and the noise cast back once, so small variances do not
underflow.

Two modes share one builder. ``standalone`` reads repeats and seeds from node attributes and
draws with RandomNormalLike (the artifact users deploy). ``simulate`` takes the scale and the
draws as inputs, so one session serves every repeats configuration with common random numbers.
A ``pooled`` simulate variant (for ops inside If/Loop/Scan bodies) takes flat pools of draws and
an int64 ``offset`` (the iteration), and uses the pool's values from ``offset × size`` on,
wrapping around.

This module needs only ``onnx``: :func:`analogc.passes.annotate` receives a library instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import onnx
from onnx import AttributeProto, TensorProto, helper

from analogc.passes.function_body import FunctionBody
from analogc.passes.noise import (
    TERMS,
    Draw,
    NoiseModel,
    NoiseTerm,
    Quantity,
    temporal_scale_node,
)
from analogc.passes.ops import AnalogFamily
from analogc.passes.plan import LayerPlan, Plan

__all__ = ["DOMAIN", "DTYPE_SUFFIX", "SIM_DOMAIN", "FunctionLibrary"]

DOMAIN = "ai.analogc"
SIM_DOMAIN = "ai.analogc.sim"

DTYPE_SUFFIX = {
    TensorProto.FLOAT: "",
    TensorProto.FLOAT16: "F16",
    TensorProto.BFLOAT16: "BF16",
    TensorProto.DOUBLE: "F64",
}
"""Function-name suffix of each operand type's variant."""

COMMON_ATTRIBUTES = {
    "fan_in": AttributeProto.FLOAT,
    "repeats": AttributeProto.INT,
    "e1": AttributeProto.FLOAT,
}
"""Attributes of every analog node (``repeats``, ``e1`` in the deployable form only)."""


@dataclass
class _Context:
    """One body under construction: what terms reach through
    :class:`analogc.passes.noise.BodyContext`."""

    b: FunctionBody
    family: AnalogFamily
    scale: str
    mode: str
    pooled: bool
    quantities: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    _runtime_fan_in: str | None = None

    def quantity(self, name: Quantity) -> str:
        if name not in self.quantities:
            raise KeyError(f"quantity {name!r} was not declared in the term's needs")
        return self.quantities[name]

    def fan_in(self) -> str:
        """The ``fan_in`` attribute, or (run-time D) computed once from the shapes."""
        if self.family.static_fan_in:
            return self.b.attr_float("fan_in")
        if self._runtime_fan_in is None:
            self._runtime_fan_in = self.family.runtime_fan_in(self.b)
        return self._runtime_fan_in

    def draw(self, name: str, like: str) -> str:
        b = self.b
        if self.mode == "standalone":
            draw = next(d for d in _all_draws() if d.name == name)
            return b.op("RandomNormalLike", like, refs={"seed": draw.seed})
        if not self.pooled:
            return name
        size = b.op("Size", like)
        start = b.op("Mul", "offset", size)
        index = b.op("Range", start, b.op("Add", start, size), b.const_i64(1))
        index = b.op("Mod", index, b.op("Size", name))
        return b.op("Reshape", b.op("Gather", name, index, axis=0), b.op("Shape", like))


def _all_draws() -> list[Draw]:
    return _unique_draws(TERMS.values())


def _unique_draws(terms: Iterable[NoiseTerm]) -> list[Draw]:
    draws: dict[str, Draw] = {}
    for term in terms:
        for draw in term.draws:
            draws.setdefault(draw.name, draw)
    return list(draws.values())


class FunctionLibrary:
    """Builds the ``ai.analogc`` function bodies for one noise model and opset.

    Args:
        noise: the noise terms; the bodies contain only the enabled ones.
        opset: the model's default-domain opset (function bodies must use the same).
        mode: ``standalone`` (attributes + RandomNormalLike) or ``simulate`` (inputs).
        stats: in simulate mode, add one output per term: its mean output-referred noise
            variance at E = 1 (``var_<term>``).
    """

    def __init__(
        self,
        *,
        noise: NoiseModel,
        opset: int,
        mode: Literal["standalone", "simulate"] = "standalone",
        stats: bool = False,
    ) -> None:
        if opset < 12:
            raise ValueError(
                f"the analog function library needs opset >= 12, got {opset} "
                "(analogc.passes.load_model converts older models)"
            )
        if stats and mode != "simulate":
            raise ValueError("stats outputs exist only in simulate mode")
        self.noise = noise
        self.opset = opset
        self.mode = mode
        self.stats = stats
        self.domain = DOMAIN if mode == "standalone" else SIM_DOMAIN
        self.terms: tuple[NoiseTerm, ...] = noise.enabled
        self.draws: list[Draw] = _unique_draws(self.terms)

    # -- signatures -------------------------------------------------------------------------
    def sim_inputs(self) -> list[str]:
        """Inputs a simulate-mode call takes after the family's own ones."""
        if self.mode != "simulate":
            return []
        return ["scale", *(d.name for d in self.draws)]

    def outputs(self) -> list[str]:
        return ["Y", *self.variance_outputs()]

    def variance_outputs(self) -> list[str]:
        """Names of the per-term variance outputs (``stats`` only), in term order."""
        return [f"var_{term.name}" for term in self.terms] if self.stats else []

    def _attribute_types(self, family: AnalogFamily) -> dict[str, int]:
        """The function's attributes and their types, in signature order."""
        types = dict(family.attributes)
        common = dict(COMMON_ATTRIBUTES)
        if not family.static_fan_in:  # D comes from the operands' run-time shapes
            del common["fan_in"]
        if self.mode != "standalone":
            del common["repeats"], common["e1"]
        types.update(common)
        for term in self.terms:
            types.update(term.node_attributes)
        if self.mode == "standalone":
            types.update({d.seed: AttributeProto.FLOAT for d in self.draws})
        return types

    def attributes(self, family: AnalogFamily) -> list[str]:
        return list(self._attribute_types(family))

    def node_attributes(
        self,
        family: AnalogFamily,
        *,
        plan: Plan,
        layer: LayerPlan,
        fan_in: float | None,
        seeds: dict[str, float],
    ) -> dict[str, Any]:
        """The analog attributes of one layer's node (the op's own come from the pass).

        Args:
            seeds: per-draw seed values (keyed by :attr:`Draw.seed`), for the deployable form.
        """
        values: dict[str, Any] = {"fan_in": fan_in}
        if self.mode == "standalone":
            values.update(repeats=int(layer.repeats), e1=float(plan.e1))
            values.update({d.seed: seeds[d.seed] for d in self.draws})
        for term in self.terms:
            values.update(term.attribute_values(self.noise, layer))
        allowed = self._attribute_types(family)
        return {k: v for k, v in values.items() if k in allowed}

    def function_name(
        self, family: AnalogFamily, *, dtype: int = TensorProto.FLOAT, pooled: bool = False
    ) -> str:
        """The family's name plus the operand type's suffix (and ``Pooled`` for pooled draws)."""
        if dtype not in DTYPE_SUFFIX:
            raise ValueError(f"no analog variant for element type {dtype}")
        return family.name + DTYPE_SUFFIX[dtype] + ("Pooled" if pooled else "")

    # -- bodies -----------------------------------------------------------------------------
    def function(
        self, family: AnalogFamily, *, dtype: int = TensorProto.FLOAT, pooled: bool = False
    ) -> onnx.FunctionProto:
        """The body of ``family`` for operands of type ``dtype``.

        Args:
            family: the op family (from the op's :class:`analogc.passes.ops.Lowering`).
            dtype: the operands' ``TensorProto`` element type.
            pooled: simulate mode only: draws come from flat pools, from ``offset`` on.
        """
        name = self.function_name(family, dtype=dtype, pooled=pooled)
        if pooled and self.mode != "simulate":
            raise ValueError("pooled draws exist only in simulate mode")
        types = self._attribute_types(family)
        b = FunctionBody(self.opset, types)
        scale = "scale" if self.mode == "simulate" else temporal_scale_node(b)
        ctx = _Context(b, family, scale, self.mode, pooled)
        low = dtype != TensorProto.FLOAT
        x32 = b.op("Cast", "X", to=TensorProto.FLOAT) if low else "X"
        w32 = b.op("Cast", "W", to=TensorProto.FLOAT) if low else "W"
        needs = self._needs()
        view = family.weight_view(b, w32)
        if needs & {"w_range", "w_range_view"}:
            axes = family.channel_axes
            ranged = b.op(
                "Sub", b.reduce("ReduceMax", view, axes), b.reduce("ReduceMin", view, axes)
            )
            ctx.quantities["w_range_view"] = ranged
            ctx.quantities["w_range"] = family.to_output(b, ranged)
        y = family.product(b, "X", self._weights(ctx, w32, dtype))
        if "x_norm2" in needs:
            ctx.quantities["x_norm2"] = family.patch_norm2(b, x32)
        if "w_norm2" in needs:
            ctx.quantities["w_norm2"] = b.op("Div", family.weight_norm2(b, w32), ctx.fan_in())
        for term in self.terms:
            term.prepare(ctx)
        b.output(self._output_noise(ctx, y, dtype), "Y")
        if self.stats:
            for term, output in zip(self.terms, self.variance_outputs(), strict=True):
                full = b.op("Expand", term.stats_variance(ctx), b.op("Shape", y))
                b.nodes.append(helper.make_node("ReduceMean", [full], [output], keepdims=0))
        inputs = [*family.inputs, *self.sim_inputs(), *(["offset"] if pooled else [])]
        type_name = TensorProto.DataType.Name(dtype).lower()
        run_time_d = (
            "" if family.static_fan_in else " D is taken from the operands' run-time shapes."
        )
        return helper.make_function(
            self.domain,
            name,
            inputs,
            self.outputs(),
            b.nodes,
            [helper.make_opsetid("", self.opset)],
            attributes=list(types),
            doc_string=(
                f"{family.name} ({type_name} operands) with {self.noise.label} noise "
                f"(analogc, DESIGN §2).{run_time_d}"
            ),
        )

    def _needs(self) -> set[str]:
        needs: set[str] = set()
        for term in self.terms:
            needs |= term.needs | (term.stats_needs if self.stats else frozenset())
        return needs

    def _weights(self, ctx: _Context, w32: str, dtype: int) -> str:
        """W after the ``weight``-stage terms, in the operands' type (W itself if none)."""
        weight_terms = [t for t in self.terms if t.stage == "weight"]
        if not weight_terms:
            return "W"
        w = w32
        for term in weight_terms:
            w = term.transform_weight(ctx, w)
        return ctx.b.op("Cast", w, to=dtype) if dtype != TensorProto.FLOAT else w

    def _output_noise(self, ctx: _Context, y: str, dtype: int) -> str:
        """Y plus one Gaussian per element carrying every ``output``-stage term."""
        b = ctx.b
        output_terms = [t for t in self.terms if t.stage == "output"]
        if not output_terms:
            return y
        if len(output_terms) == 1:
            sigma = output_terms[0].output_std(ctx, ctx.scale)
        else:
            total = b.sum([t.output_variance(ctx) for t in output_terms])
            sigma = b.op("Mul", b.op("Sqrt", total), ctx.scale)
        low = dtype != TensorProto.FLOAT
        y32 = b.op("Cast", y, to=TensorProto.FLOAT) if low else y
        eps = ctx.draw(output_terms[0].draws[0].name, y32)
        out = b.op("Add", y32, b.op("Mul", eps, sigma))
        return b.op("Cast", out, to=dtype) if low else out
