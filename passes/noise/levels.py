"""Weight levels: each cell stores one of a finite number of conductance levels (DESIGN §2.1).

Each output channel's weights are rounded symmetrically to ``2^(b−1)−1`` levels a sign of its
abs-max. Deterministic (a property of the programmed chip): repeats do not reduce it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, NoiseTerm, Param, at_least
from .quantize import levels, quantization_error2, quantize

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class WeightLevels(NoiseTerm):
    name = "levels"
    summary = "weights stored on weight_bits levels per output channel (static)"
    stage = "weight"
    reduced_by_repeats = False
    constant_weights_only = True
    params = (
        Param(
            "weight_bits", float, 8.0, "weight resolution in bits (per output channel)", at_least(2)
        ),
    )
    node_attributes = MappingProxyType({"weight_levels": FLOAT})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {"weight_levels": levels(noise["weight_bits"])}

    def _levelled(self, ctx: BodyContext, w: str) -> str:
        b, family = ctx.b, ctx.family
        view = family.weight_view(b, w)
        bound = b.reduce("ReduceMax", b.op("Abs", view), family.channel_axes)
        return family.weight_from_view(b, quantize(b, view, bound, ctx.attr("weight_levels")))

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        return self._levelled(ctx, w)

    def stats_variance(self, ctx: BodyContext) -> str:
        """The output error the levels cause: ``(x·(W_q − W))²``."""
        w, x = ctx.clean_weight(), ctx.input()
        return quantization_error2(
            ctx.b, ctx.product_of(x, w), ctx.product_of(x, self._levelled(ctx, w))
        )
