"""Conductance drift after programming (DESIGN §2.1; aihwkit's ``t0 = 20 s`` convention).

``W_ij(t) = W_ij · ((t + t0)/t0)^(−ν_ij)``, ``ν_ij ~ N(ν̄, σ_ν)`` clipped at 0, drawn once per
programmed chip, ``t`` the time since programming (aihwkit's ``t_inference``). With
``drift_compensation``, the output is multiplied by ``α = Σ_ij |W_ij| / Σ_ij |W_ij(t)|``, the
ratio of the mean absolute read-out of one-hot inputs before and after the drift (aihwkit
1.1's ``GlobalDriftCompensation``, whose read-out tensor is the identity), after the ADC.
aihwkit reads those one-hot vectors out through its noisy, quantised forward pass; analogc
reads the weights exactly. Repeats do not reduce it.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, Draw, NoiseTerm, Param, above, at_least
from .quantize import quantization_error2

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class Drift(NoiseTerm):
    name = "drift"
    summary = "conductance drift W·((t+t0)/t0)^(−ν), ν ~ N(ν̄, σ_ν) per cell and chip"
    stage = "weight"
    also = frozenset({"converter"})
    reduced_by_repeats = False
    constant_weights_only = True
    params = (
        Param("drift_t", float, 3600.0, "time since programming, in seconds", at_least(0)),
        Param("drift_t0", float, 20.0, "reference time of the drift law, in seconds", above(0)),
        Param("drift_nu", float, 0.06, "mean drift exponent ν̄", at_least(0)),
        Param("drift_nu_std", float, 0.02, "std of the drift exponent σ_ν", at_least(0)),
        Param("drift_compensation", bool, False, "global drift compensation of the output"),
    )
    node_attributes = MappingProxyType(
        {"drift_nu": FLOAT, "drift_nu_std": FLOAT, "drift_log_ratio": FLOAT}
    )
    draws = (Draw("eps_nu", like="weight", seed="seed_nu", slot=5, per="chip"),)

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        ratio = (noise["drift_t"] + noise["drift_t0"]) / noise["drift_t0"]
        return {
            "drift_nu": noise["drift_nu"],
            "drift_nu_std": noise["drift_nu_std"],
            "drift_log_ratio": math.log(ratio),
        }

    def _drifted(self, ctx: BodyContext, w: str) -> str:
        b = ctx.b
        nu = b.op(
            "Add",
            ctx.attr("drift_nu"),
            b.op("Mul", ctx.attr("drift_nu_std"), ctx.draw("eps_nu", w)),
        )
        nu = b.op("Max", nu, b.const(0.0))
        factor = b.op("Exp", b.op("Neg", b.op("Mul", nu, ctx.attr("drift_log_ratio"))))
        return b.op("Mul", w, factor)

    def _readout(self, ctx: BodyContext, w: str) -> str:
        """``Σ_ij |W_ij|``: the read-out of every one-hot input, summed."""
        b = ctx.b
        return b.op("ReduceSum", b.op("Abs", w), keepdims=0)

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        drifted = self._drifted(ctx, w)
        if ctx.noise["drift_compensation"]:
            b = ctx.b
            after = b.op("Max", self._readout(ctx, drifted), b.const(1e-30))
            ctx.values["drift.alpha"] = b.op("Div", self._readout(ctx, w), after)
        return drifted

    def transform_output(self, ctx: BodyContext, y: str) -> str:
        alpha = ctx.values.get("drift.alpha")
        return y if alpha is None else ctx.b.op("Mul", y, alpha)

    def stats_variance(self, ctx: BodyContext) -> str:
        """The output error this chip's drift causes (compensated, if enabled), measured."""
        b, w, x = ctx.b, ctx.clean_weight(), ctx.input()
        drifted = ctx.product_of(x, self._drifted(ctx, w))
        alpha = ctx.values.get("drift.alpha")
        if alpha is not None:
            drifted = b.op("Mul", drifted, alpha)
        return quantization_error2(b, ctx.product_of(x, w), drifted)
