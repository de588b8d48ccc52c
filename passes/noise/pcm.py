"""PCM programming noise as aihwkit models it (``PCMLikeNoiseModel``; Nandakumar et al.,
ICECS 2019): a single device pair per weight, conductance-dependent error (DESIGN §2.1).

The op's weights map to conductances ``g = |W|·g_max/max|W|`` on the positive or the negative
device of a pair (the other at 0). Each device is programmed with a Gaussian error of std
``σ(g) = (c0 + c1·g/g_max + c2·(g/g_max)²)·g_max/25 µS · prog_noise_scale`` and clipped at
0 µS (aihwkit's coefficients: c = 0.26348, 1.9650, −1.1731, fitted at 25 µS); the weight is read
back as the difference of the pair. One draw per device per programmed chip: repeats do not
reduce it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, Draw, NoiseTerm, Param, above, at_least, one_of
from .quantize import quantization_error2

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel

PCM_COEFFS = (0.26348, 1.9650, -1.1731)
"""aihwkit 1.1 ``PCMLikeNoiseModel.prog_coeff`` (µS at g_max = 25 µS)."""
ZERO_CLIP = 1e-7


class PCMProgramming(NoiseTerm):
    name = "pcm_programming"
    summary = "PCM programming noise (aihwkit PCMLikeNoiseModel), one draw per device per chip"
    stage = "weight"
    reduced_by_repeats = False
    constant_weights_only = True
    params = (
        Param("g_max", float, 25.0, "conductance of the weights' abs-max, in µS", above(0)),
        Param("prog_noise_scale", float, 1.0, "scale of the programming noise", at_least(0)),
        Param("prog_c0", float, PCM_COEFFS[0], "programming noise polynomial, c0 (µS)"),
        Param("prog_c1", float, PCM_COEFFS[1], "programming noise polynomial, c1 (µS)"),
        Param("prog_c2", float, PCM_COEFFS[2], "programming noise polynomial, c2 (µS)"),
        Param(
            "g_scale",
            str,
            "tensor",
            "which abs-max maps to g_max: the op's (tensor, aihwkit's converter on one tile) "
            "or each output channel's (channel)",
            one_of("tensor", "channel"),
        ),
    )
    node_attributes = MappingProxyType(
        {name: FLOAT for name in ("g_max", "prog_scale", "prog_c0", "prog_c1", "prog_c2")}
    )
    draws = (
        Draw("eps_g_pos", like="weight", seed="seed_gp", slot=3, per="chip"),
        Draw("eps_g_neg", like="weight", seed="seed_gn", slot=4, per="chip"),
    )

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        scale = noise["prog_noise_scale"] * noise["g_max"] / 25.0
        return {
            "g_max": noise["g_max"],
            "prog_scale": scale,
            "prog_c0": noise["prog_c0"],
            "prog_c1": noise["prog_c1"],
            "prog_c2": noise["prog_c2"],
        }

    def _device(self, ctx: BodyContext, g: str, draw: str, like: str) -> str:
        """One device programmed at conductance ``g``: ``max(g + σ(g)·ε, 0)``."""
        b = ctx.b
        rel = b.op("Div", g, ctx.attr("g_max"))
        poly = b.op("Add", ctx.attr("prog_c0"), b.op("Mul", rel, ctx.attr("prog_c1")))
        poly = b.op("Add", poly, b.op("Mul", b.op("Mul", rel, rel), ctx.attr("prog_c2")))
        sigma = b.op("Mul", poly, ctx.attr("prog_scale"))
        noisy = b.op("Add", g, b.op("Mul", sigma, ctx.draw(draw, like)))
        return b.op("Max", noisy, b.const(0.0))

    def _abs_max(self, ctx: BodyContext, w: str) -> str:
        b, family = ctx.b, ctx.family
        if ctx.noise["g_scale"] == "tensor":
            return b.op("ReduceMax", b.op("Abs", w), keepdims=0)
        view = family.weight_view(b, w)
        amax = b.reduce("ReduceMax", b.op("Abs", view), family.channel_axes)
        return family.weight_from_view(b, amax)

    def _programmed(self, ctx: BodyContext, w: str) -> str:
        b = ctx.b
        wmax = b.op("Max", self._abs_max(ctx, w), b.const(ZERO_CLIP))
        ratio = b.op("Div", ctx.attr("g_max"), wmax)
        scaled = b.op("Mul", w, ratio)
        zero = b.const(0.0)
        g_pos = b.op("Clip", scaled, zero, ctx.attr("g_max"))
        g_neg = b.op("Clip", b.op("Neg", scaled), zero, ctx.attr("g_max"))
        diff = b.op(
            "Sub",
            self._device(ctx, g_pos, "eps_g_pos", w),
            self._device(ctx, g_neg, "eps_g_neg", w),
        )
        return b.op("Div", diff, ratio)

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        return self._programmed(ctx, w)

    def stats_variance(self, ctx: BodyContext) -> str:
        """The output error this chip's programming causes, measured."""
        w, x = ctx.clean_weight(), ctx.input()
        return quantization_error2(
            ctx.b, ctx.product_of(x, w), ctx.product_of(x, self._programmed(ctx, w))
        )
