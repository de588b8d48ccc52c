"""Input conversion: a DAC of finite resolution drives the analog product (DESIGN §2.1).

``x → clip(round(x/Δ)·Δ, −a, a)``, ``Δ = a/(2^(b−1)−1)``: ``a`` is the op's calibrated robust
abs-max input (``dac_range = "calibrated"``), or each input vector's own abs-max
(``"per_vector"``: aihwkit's ``noise_management = ABS_MAX``). A convolution's input vectors are
its patches (each converted on its own, as aihwkit's analog convolutions feed the tile the
rows of the unfolded input), so per-vector conversion unfolds X; a ConvTranspose's are
converted per example. Deterministic: every repeat sees the same converted input, so repeats
do not reduce it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, BodyContext, NoiseTerm, Param, at_least, one_of
from .quantize import levels, quantization_error2, quantize

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class DAC(NoiseTerm):
    name = "dac"
    summary = "input DAC, dac_bits of resolution over the input range (static)"
    stage = "input"
    reduced_by_repeats = False
    params = (
        Param(
            "dac_bits", float, 8.0, "DAC resolution in bits (2^(b-1)-1 levels a sign)", at_least(2)
        ),
        Param(
            "dac_range",
            str,
            "calibrated",
            "calibrated (the op's robust abs-max input) or per_vector (each vector's abs-max)",
            one_of("calibrated", "per_vector"),
        ),
    )
    node_attributes = MappingProxyType({"dac_levels": FLOAT, "x_absmax": FLOAT})
    facts = frozenset({"x_absmax"})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, float]:
        return {
            "dac_levels": levels(noise["dac_bits"]),
            "x_absmax": float(layer.x_absmax or 0.0),
        }

    def transform_input(self, ctx: BodyContext, x: str) -> str:
        if ctx.noise["dac_range"] == "per_vector" and ctx.family.unfolds:
            x = ctx.unfold(x)
            bound = ctx.family.patch_absmax(ctx.b, x)[0]
        elif ctx.noise["dac_range"] == "per_vector":
            bound = ctx.family.vector_absmax(ctx.b, x)[0]
        else:
            bound = ctx.attr("x_absmax")
        return quantize(ctx.b, x, bound, ctx.attr("dac_levels"))

    def stats_variance(self, ctx: BodyContext) -> str:
        """The output error the conversion causes: ``(W·(x_q − x))²``, clean weights."""
        w = ctx.clean_weight()
        converted = ctx.product_of(ctx.input(), w)
        return quantization_error2(ctx.b, ctx.product_of(ctx.clean_input(), w), converted)
