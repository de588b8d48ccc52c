"""Read noise of stored weights (DESIGN §2).

``W_ij += ε_ij · k_w · r_w,i / sqrt(E)``, one draw per run shared by the whole batch: every
read of an analog memory cell is noisy, in proportion to the channel's weight range. The
output-referred variance it causes is ``‖x_(i)‖² · (k_w · r_w,i)²`` at E = 1 (padding taps hold
zeros). Averaging N reads divides its variance by N.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, Draw, NoiseTerm, Param, at_least, one_of

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class WeightNoise(NoiseTerm):
    name = "weight"
    summary = "weight read noise, W += ε·k_w·r_w/sqrt(E), one draw per run"
    stage = "weight"
    params = (
        Param("k_w", float, 0.1, "weight noise constant (σ / r_w at E = 1)", at_least(0)),
        Param(
            "weight_scale",
            str,
            "range",
            "what k_w is relative to: range (max − min of the channel) or absmax (aihwkit's "
            "w_noise, relative to the channel's abs-max weight)",
            one_of("range", "absmax"),
        ),
    )
    node_attributes = MappingProxyType({"k_w": FLOAT})
    draws = (Draw("eps_w", like="weight", seed="seed_w", slot=1),)
    needs = frozenset({"w_range"})
    stats_needs = frozenset({"w_range", "x_norm2"})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {"k_w": float(noise["k_w"])}

    def _spread(self, ctx: BodyContext, *, output: bool) -> str:
        """What k_w is relative to: the channel's range, or its abs-max weight (view layout,
        or laid out against Y)."""
        if ctx.noise["weight_scale"] == "range":
            return ctx.quantity("w_range" if output else "w_range_view")
        b, family = ctx.b, ctx.family
        view = family.weight_view(b, ctx.clean_weight())
        amax = b.reduce("ReduceMax", b.op("Abs", view), family.channel_axes)
        return family.to_output(b, amax) if output else amax

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        b = ctx.b
        eps = ctx.draw("eps_w", w)
        sigma = b.op(
            "Mul", self._spread(ctx, output=False), b.op("Mul", b.attr_float("k_w"), ctx.scale)
        )
        sigma = ctx.family.weight_from_view(b, sigma)
        return b.op("Add", w, b.op("Mul", eps, sigma))

    def stats_variance(self, ctx: BodyContext) -> str:
        b = ctx.b
        std = b.op("Mul", self._spread(ctx, output=True), b.attr_float("k_w"))
        return b.op("Mul", ctx.quantity("x_norm2"), b.op("Mul", std, std))
