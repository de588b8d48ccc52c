"""Programming error: each programmed weight lands off its target (DESIGN §2.1).

``W_ij += ε_ij · k_p · max_j |W_ij|``, one draw per programmed chip: the same for every run and
every repeat of that chip (repeats do not reduce it). analogc's noise seeds sample chips too.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, Draw, NoiseTerm, Param, at_least

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel

PROGRAMMING_DRAW = Draw("eps_p", like="weight", seed="seed_p", slot=2, per="chip")


class ProgrammingError(NoiseTerm):
    name = "programming"
    summary = "programming error, W += ε·k_p·max|W_i|, one draw per programmed chip"
    stage = "weight"
    reduced_by_repeats = False
    constant_weights_only = True
    params = (
        Param(
            "k_p",
            float,
            0.03,
            "programming error std over the channel's abs-max weight",
            at_least(0),
        ),
    )
    node_attributes = MappingProxyType({"k_p": FLOAT})
    draws = (PROGRAMMING_DRAW,)
    stats_needs = frozenset({"x_norm2"})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {"k_p": float(noise["k_p"])}

    def _sigma_view(self, ctx: BodyContext, w: str) -> str:
        b, family = ctx.b, ctx.family
        view = family.weight_view(b, w)
        amax = b.reduce("ReduceMax", b.op("Abs", view), family.channel_axes)
        return b.op("Mul", amax, ctx.attr("k_p"))

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        b = ctx.b
        sigma = ctx.family.weight_from_view(b, self._sigma_view(ctx, w))
        return b.op("Add", w, b.op("Mul", ctx.draw("eps_p", w), sigma))

    def stats_variance(self, ctx: BodyContext) -> str:
        """``‖x_(i)‖² · (k_p · max_j |W_ij|)²`` (padding taps hold zeros)."""
        b = ctx.b
        std = ctx.family.to_output(b, self._sigma_view(ctx, ctx.clean_weight()))
        return b.op("Mul", ctx.quantity("x_norm2"), b.op("Mul", std, std))
