"""Signal-independent (thermal) noise of an analog electronic readout (DESIGN §2).

``y_i += ε · k_t · r_w,i · r_x · sqrt(D) / sqrt(E)``: the noise does not depend on the signal,
only on the full scale the layer is built for (weight range of the channel, calibrated input
range ``r_x``, fan-in). Averaging N passes divides its variance by N.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, NoiseTerm, Param, at_least
from .shot import OUTPUT_DRAW

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class ThermalNoise(NoiseTerm):
    name = "thermal"
    summary = "signal-independent noise, σ = k_t·r_w·r_x·sqrt(D)/sqrt(E)"
    stage = "output"
    params = (Param("k_t", float, 0.01, "thermal noise constant (σ at E = 1, D = 1)", at_least(0)),)
    node_attributes = MappingProxyType({"k_t": FLOAT, "r_x": FLOAT})
    draws = (OUTPUT_DRAW,)
    needs = frozenset({"w_range"})
    stats_needs = needs

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {"k_t": float(noise["k_t"]), "r_x": float(layer.r_x)}

    def prepare(self, ctx: BodyContext) -> None:
        """``k_t · r_x · sqrt(D)``: the std at E = 1 per unit of channel weight range."""
        b = ctx.b
        constant = b.op("Mul", b.attr_float("k_t"), b.attr_float("r_x"))
        ctx.values["thermal.c_t"] = b.op("Mul", constant, b.op("Sqrt", ctx.fan_in()))

    def output_variance(self, ctx: BodyContext) -> str:
        b = ctx.b
        std = b.op("Mul", ctx.quantity("w_range"), ctx.values["thermal.c_t"])
        return b.op("Mul", std, std)

    def output_std(self, ctx: BodyContext, scale: str) -> str:
        b = ctx.b
        return b.op("Mul", ctx.quantity("w_range"), b.op("Mul", ctx.values["thermal.c_t"], scale))
