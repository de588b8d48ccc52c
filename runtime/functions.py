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

DTYPE_SUFFIX: dict[int, str] = {
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
    noise: NoiseModel
    dtype: int = TensorProto.FLOAT
    x32: str = "X"
    w32: str = "W"
    quantities: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    patches: set[str] = field(default_factory=set)
    """Tensors holding the input unfolded into its vectors (products of them use the
    family's :meth:`~analogc.passes.ops.AnalogFamily.patch_product`)."""
    y: str = ""
    x: str = "X"
    low: bool = False
    _runtime_fan_in: str | None = None
    _y32: str | None = None

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

    def product(self) -> str:
        """The clean product Y in float32 (cast once, when first needed)."""
        if self._y32 is None:
            self._y32 = self.b.op("Cast", self.y, to=TensorProto.FLOAT) if self.low else self.y
        return self._y32

    def attr(self, name: str) -> str:
        return self.b.attr_float(name)

    def floats(self, name: str) -> str:
        return self.b.op("Constant", refs={"value_floats": name})

    def input(self) -> str:
        return self.x

    def clean_input(self) -> str:
        return self.x32

    def clean_weight(self) -> str:
        return self.w32

    def product_of(self, x: str, w: str) -> str:
        b = self.b
        if not self.low:
            return self.operands_product(x, w)
        patches = x in self.patches
        x, w = (b.op("Cast", t, to=self.dtype) for t in (x, w))
        if patches:
            self.patches.add(x)
        return b.op("Cast", self.operands_product(x, w), to=TensorProto.FLOAT)

    def operands_product(self, x: str, w: str) -> str:
        """The family's product of operands in their own type (of patches, if ``x`` is)."""
        if x in self.patches:
            return self.family.patch_product(self.b, x, w)
        return self.family.product(self.b, x, w)

    def bias(self) -> str | None:
        zeros = self.family.zero_input(self.b, self.x)
        if zeros is None:
            return None
        if self.x in self.patches:
            self.patches.add(zeros)
        return self.product_of(zeros, self.w32)

    def unfold(self, x: str) -> str:
        p = self.family.unfold(self.b, x)
        self.patches.add(p)
        return p

    def input_norm2(self) -> str:
        """‖x_(i)‖² of the input the product sees."""
        if self.x in self.patches:
            return self.family.patches_norm2(self.b, self.x)
        return self.family.patch_norm2(self.b, self.x)

    def input_absmax(self) -> str:
        """Each input vector's abs-max, against Y."""
        if self.x in self.patches:
            return self.family.patch_absmax(self.b, self.x)[1]
        return self.family.vector_absmax(self.b, self.x)[1]

    def per_channel(self, values: str) -> str:
        """A vector of one value per output channel, laid out to broadcast against Y."""
        b, family = self.b, self.family
        view = family.weight_view(b, self.w32)
        shape = b.op("Shape", b.reduce("ReduceMax", view, family.channel_axes))
        return family.channel_layout(b, b.op("Reshape", values, shape))

    def draw(self, name: str, like: str) -> str:
        b = self.b
        draw = next(d for d in _all_draws() if d.name == name)
        if draw.per == "chip":  # stored (standalone, float16) or an input (simulate), whole
            return b.op("Cast", name, to=TensorProto.FLOAT)
        if self.mode == "standalone":
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
    """Builds the ``ai.analogc`` function bodies for a noise model and an opset.

    Args:
        noise: the noise terms; the bodies contain only the enabled ones. Layers with a noise
            model of their own (per-layer hardware) get their own functions: pass their
            model as ``noise`` to the methods (their names carry a suffix).
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
    def draws_of(self, noise: NoiseModel | None = None) -> list[Draw]:
        """Every draw the terms of ``noise`` (default: the library's) need."""
        return _unique_draws((noise or self.noise).enabled)

    def chip_inputs(self, noise: NoiseModel | None = None) -> list[str]:
        """Inputs a deployable call takes after the family's own ones: its chip's draws."""
        if self.mode != "standalone":
            return []
        return [d.name for d in self.draws_of(noise) if d.per == "chip"]

    def sim_inputs(self, noise: NoiseModel | None = None) -> list[str]:
        """Inputs a simulate-mode call takes after the family's own ones."""
        if self.mode != "simulate":
            return []
        return ["scale", *(d.name for d in self.draws_of(noise))]

    def outputs(self, noise: NoiseModel | None = None) -> list[str]:
        return ["Y", *self.variance_outputs(noise)]

    def variance_outputs(self, noise: NoiseModel | None = None) -> list[str]:
        """Names of the per-term variance outputs (``stats`` only), in term order."""
        terms = (noise or self.noise).enabled
        return [f"var_{term.name}" for term in terms] if self.stats else []

    def _attribute_types(
        self, family: AnalogFamily, noise: NoiseModel | None = None
    ) -> dict[str, int]:
        """The function's attributes and their types, in signature order."""
        noise = noise or self.noise
        types = dict(family.attributes)
        common = dict(COMMON_ATTRIBUTES)
        if not family.static_fan_in:  # D comes from the operands' run-time shapes
            del common["fan_in"]
        if self.mode != "standalone":
            del common["repeats"], common["e1"]
        types.update(common)
        for term in noise.enabled:
            types.update(term.node_attributes)
        if self.mode == "standalone":
            run_draws = [d for d in self.draws_of(noise) if d.per == "run"]
            types.update({d.seed: AttributeProto.FLOAT for d in run_draws})
        return types

    def attributes(self, family: AnalogFamily, noise: NoiseModel | None = None) -> list[str]:
        return list(self._attribute_types(family, noise))

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
        noise = layer.noise or plan.noise
        values: dict[str, Any] = {"fan_in": fan_in}
        if self.mode == "standalone":
            e1 = plan.e1 if layer.e1 is None else layer.e1
            values.update(repeats=int(layer.repeats), e1=float(e1))
            values.update({d.seed: seeds[d.seed] for d in self.draws_of(noise)})
        for term in noise.enabled:
            values.update(term.attribute_values(noise, layer))
        allowed = self._attribute_types(family, noise)
        return {k: v for k, v in values.items() if k in allowed}

    def function_name(
        self,
        family: AnalogFamily,
        *,
        dtype: int = TensorProto.FLOAT,
        pooled: bool = False,
        noise: NoiseModel | None = None,
    ) -> str:
        """The family's name plus the operand type's suffix, ``Pooled`` for pooled draws, and
        for a layer's own noise model a suffix naming it (its terms and a short hash)."""
        if dtype not in DTYPE_SUFFIX:
            raise ValueError(f"no analog variant for element type {dtype}")
        name = family.name + DTYPE_SUFFIX[dtype] + ("Pooled" if pooled else "")
        if noise is not None and noise != self.noise:
            name += f"_{noise.label.replace('+', '_')}_{noise.fingerprint()[:6]}"
        return name

    # -- bodies -----------------------------------------------------------------------------
    def function(
        self,
        family: AnalogFamily,
        *,
        dtype: int = TensorProto.FLOAT,
        pooled: bool = False,
        noise: NoiseModel | None = None,
    ) -> onnx.FunctionProto:
        """The body of ``family`` for operands of type ``dtype``.

        Args:
            family: the op family (from the op's :class:`analogc.passes.ops.Lowering`).
            dtype: the operands' ``TensorProto`` element type.
            pooled: simulate mode only: draws come from flat pools, from ``offset`` on.
            noise: a layer's own noise model (default: the library's).
        """
        name = self.function_name(family, dtype=dtype, pooled=pooled, noise=noise)
        noise = noise or self.noise
        if pooled and self.mode != "simulate":
            raise ValueError("pooled draws exist only in simulate mode")
        terms = noise.enabled
        types = self._attribute_types(family, noise)
        b = FunctionBody(self.opset, types)
        scale = "scale" if self.mode == "simulate" else temporal_scale_node(b)
        low = dtype != TensorProto.FLOAT
        ctx = _Context(b, family, scale, self.mode, pooled, noise, dtype=dtype, low=low)
        x32 = ctx.x32 = b.op("Cast", "X", to=TensorProto.FLOAT) if low else "X"
        w32 = ctx.w32 = b.op("Cast", "W", to=TensorProto.FLOAT) if low else "W"
        needs = self._needs(terms)
        view = family.weight_view(b, w32)
        if needs & {"w_range", "w_range_view"}:
            axes = family.channel_axes
            ranged = b.op(
                "Sub", b.reduce("ReduceMax", view, axes), b.reduce("ReduceMin", view, axes)
            )
            ctx.quantities["w_range_view"] = ranged
            ctx.quantities["w_range"] = family.to_output(b, ranged)
        x_in = self._inputs(ctx, terms, x32, dtype)
        y = ctx.y = ctx.operands_product(x_in, self._weights(ctx, terms, w32, dtype))
        if "x_norm2" in needs:
            ctx.quantities["x_norm2"] = ctx.input_norm2()
        if "w_norm2" in needs:
            ctx.quantities["w_norm2"] = b.op("Div", family.weight_norm2(b, w32), ctx.fan_in())
        if "x_absmax" in needs:
            ctx.quantities["x_absmax"] = ctx.input_absmax()
        for term in terms:
            term.prepare(ctx)
        b.output(self._output(ctx, terms, y, dtype), "Y")
        if self.stats:
            for term, output in zip(terms, self.variance_outputs(noise), strict=True):
                full = b.op("Expand", term.stats_variance(ctx), b.op("Shape", y))
                b.nodes.append(helper.make_node("ReduceMean", [full], [output], keepdims=0))
        inputs = [
            *family.inputs,
            *self.chip_inputs(noise),
            *self.sim_inputs(noise),
            *(["offset"] if pooled else []),
        ]
        type_name = TensorProto.DataType.Name(dtype).lower()
        run_time_d = (
            "" if family.static_fan_in else " D is taken from the operands' run-time shapes."
        )
        return helper.make_function(
            self.domain,
            name,
            inputs,
            self.outputs(noise),
            b.nodes,
            [helper.make_opsetid("", self.opset)],
            attributes=list(types),
            doc_string=(
                f"{family.name} ({type_name} operands) with {noise.label} noise "
                f"(analogc, DESIGN §2).{run_time_d}"
            ),
        )

    def _needs(self, terms: tuple[NoiseTerm, ...]) -> set[str]:
        needs: set[str] = set()
        for term in terms:
            needs |= term.needs | (term.stats_needs if self.stats else frozenset())
        return needs

    @staticmethod
    def _inputs(ctx: _Context, terms: tuple[NoiseTerm, ...], x32: str, dtype: int) -> str:
        """X after the ``input``-stage terms, in the operands' type (X itself if none)."""
        ctx.x = x32
        input_terms = [t for t in terms if t.acts_in("input")]
        if not input_terms:
            return "X"
        for term in input_terms:
            unfolded = len(ctx.patches)
            x = term.transform_input(ctx, ctx.x)
            if ctx.x in ctx.patches or len(ctx.patches) > unfolded:
                ctx.patches.add(x)  # a term that unfolded X returns patches
            ctx.x = x
        if dtype == TensorProto.FLOAT:
            return ctx.x
        cast = ctx.b.op("Cast", ctx.x, to=dtype)
        if ctx.x in ctx.patches:
            ctx.patches.add(cast)
        return cast

    @staticmethod
    def _weights(ctx: _Context, terms: tuple[NoiseTerm, ...], w32: str, dtype: int) -> str:
        """W after the ``weight``-stage terms, in the operands' type (W itself if none): the
        programmed state (static terms) first, then what changes at every read."""
        weight_terms = [t for t in terms if t.acts_in("weight")]
        if not weight_terms:
            return "W"
        w = w32
        ordered = sorted(weight_terms, key=lambda t: t.reduced_by_repeats)  # stable: static first
        for term in ordered:
            w = term.transform_weight(ctx, w)
        return ctx.b.op("Cast", w, to=dtype) if dtype != TensorProto.FLOAT else w

    @staticmethod
    def _output(ctx: _Context, terms: tuple[NoiseTerm, ...], y: str, dtype: int) -> str:
        """Y plus one Gaussian per element carrying every ``output``-stage term, then the
        ``converter``-stage terms (after the noise and the averaging of repeats)."""
        b = ctx.b
        output_terms = [t for t in terms if t.acts_in("output")]
        converters = [t for t in terms if t.acts_in("converter")]
        if not output_terms and not converters:
            return y
        if output_terms:
            if len(output_terms) == 1:
                sigma = output_terms[0].output_std(ctx, ctx.scale)
            else:
                total = b.sum([t.output_variance(ctx) for t in output_terms])
                sigma = b.op("Mul", b.op("Sqrt", total), ctx.scale)
            out = ctx.product()
            eps = ctx.draw(output_terms[0].draws[0].name, out)
            out = b.op("Add", out, b.op("Mul", eps, sigma))
        else:
            out = ctx.product()
        for term in converters:
            out = term.transform_output(ctx, out)
        return b.op("Cast", out, to=dtype) if dtype != TensorProto.FLOAT else out
