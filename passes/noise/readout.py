"""Read-out (output) noise relative to full scale, as aihwkit's ``out_noise`` (DESIGN §2.1).

``y_i += ε · out_noise · s_x · s_w,i / sqrt(E)``: the analog output is normalised to the
converters' full scale — the input by ``s_x`` (each input vector's abs-max, aihwkit's
``noise_management = ABS_MAX``; for a convolution, each patch: the rows aihwkit's analog
convolutions feed the tile — or the op's calibrated abs-max input), the weights by ``s_w,i``
(:mod:`.full_scale`: the output channel's abs-max weight, aihwkit's column-wise weight scaling;
the op's; or 1, aihwkit's mapping without weight scaling) — and the read-out adds noise of std
``out_noise`` in those units. Averaging N passes divides its variance by N.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, NoiseTerm, Param, at_least, one_of
from .full_scale import WEIGHT_SCALES, weight_full_scale
from .shot import OUTPUT_DRAW

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class ReadoutNoise(NoiseTerm):
    name = "readout"
    summary = "read-out noise, σ = out_noise·s_x·s_w/sqrt(E) (aihwkit out_noise)"
    stage = "output"
    params = (
        Param(
            "out_noise",
            float,
            0.04,
            "output noise std relative to full scale at E = 1",
            at_least(0),
        ),
        Param(
            "readout_input",
            str,
            "per_vector",
            "input full scale: per_vector (abs-max of each vector) or calibrated",
            one_of("per_vector", "calibrated"),
        ),
        Param(
            "readout_weight",
            str,
            "channel",
            "weight full scale: channel (abs-max per output channel), tensor (the op's) or unit "
            "(1: aihwkit's mapping without weight scaling)",
            one_of(*WEIGHT_SCALES),
        ),
    )
    node_attributes = MappingProxyType({"out_noise": FLOAT, "x_absmax": FLOAT})
    draws = (OUTPUT_DRAW,)
    needs = frozenset({"x_absmax"})
    facts = frozenset({"x_absmax"})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {"out_noise": noise["out_noise"], "x_absmax": float(layer.x_absmax or 0.0)}

    def _full_scale(self, ctx: BodyContext) -> str:
        per_vector = ctx.noise["readout_input"] == "per_vector"
        s_x = ctx.quantity("x_absmax") if per_vector else ctx.attr("x_absmax")
        s_w = weight_full_scale(ctx, ctx.noise["readout_weight"])
        return s_x if s_w is None else ctx.b.op("Mul", s_x, s_w)

    def output_variance(self, ctx: BodyContext) -> str:
        b = ctx.b
        std = b.op("Mul", self._full_scale(ctx), ctx.attr("out_noise"))
        return b.op("Mul", std, std)

    def output_std(self, ctx: BodyContext, scale: str) -> str:
        b = ctx.b
        return b.op("Mul", self._full_scale(ctx), b.op("Mul", ctx.attr("out_noise"), scale))
