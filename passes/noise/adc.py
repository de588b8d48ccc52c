"""Output conversion: one ADC reads each output after the analog noise and the averaging of
the repeats (DESIGN §2.1).

``y → clip(round(y/Δ)·Δ, −c, c)``, ``Δ = c/(2^(b−1)−1)``. The range ``c``:

* ``adc_range = "calibrated"``: ``adc_headroom`` × the op's calibrated robust abs-max clean
  output (per op, or with ``adc_per_channel`` per output channel);
* ``adc_range = "full_scale"``: ``adc_bound · s_x · s_w,i``, a bound in units of the
  converters' full scale (each input vector's abs-max — a convolution's: each patch's — times
  the weights' full scale, :mod:`.full_scale`: by default the output channel's abs-max
  weight), as aihwkit's ``out_bound`` and ``out_res`` with ``noise_management = ABS_MAX``.
  The ADC then reads the analog product only: the op's bias is added digitally after it, as
  aihwkit's ``digital_bias`` does (an all-zero patch reads 0 and keeps its bias).

Deterministic: repeats do not reduce it, and once the temporal noise is below its quantisation
noise ``Δ²/12`` more repeats buy nothing (the search's floor).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .base import FLOAT, FLOATS, BodyContext, NoiseTerm, Param, above, at_least, one_of
from .full_scale import WEIGHT_SCALES, weight_full_scale
from .quantize import levels, quantization_error2, quantize

if TYPE_CHECKING:
    from ..plan import LayerPlan
    from .model import NoiseModel


class ADC(NoiseTerm):
    name = "adc"
    summary = "output ADC after the averaged analog passes, adc_bits over the output range"
    stage = "converter"
    reduced_by_repeats = False
    masks_averaging = True
    params = (
        Param(
            "adc_bits", float, 8.0, "ADC resolution in bits (2^(b-1)-1 levels a sign)", at_least(2)
        ),
        Param("adc_headroom", float, 1.0, "ADC range over the calibrated abs-max output", above(0)),
        Param("adc_per_channel", bool, False, "one ADC range per output channel (else per op)"),
        Param(
            "adc_range",
            str,
            "calibrated",
            "calibrated (from the clean outputs) or full_scale (adc_bound × the full scale)",
            one_of("calibrated", "full_scale"),
        ),
        Param("adc_bound", float, 12.0, "full_scale range in full-scale units", above(0)),
        Param(
            "adc_weight",
            str,
            "channel",
            "full_scale: the weights' full scale, channel (abs-max per output channel), tensor "
            "(the op's) or unit (1: aihwkit's mapping without weight scaling)",
            one_of(*WEIGHT_SCALES),
        ),
    )
    node_attributes = MappingProxyType(
        {"adc_levels": FLOAT, "adc_range": FLOAT, "adc_ranges": FLOATS, "adc_bound": FLOAT}
    )
    facts = frozenset({"y_absmax", "y_absmax_channels"})
    needs = frozenset({"x_absmax"})

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, object]:
        headroom = noise["adc_headroom"]
        values: dict[str, object] = {
            "adc_levels": levels(noise["adc_bits"]),
            "adc_range": headroom * float(layer.y_absmax or 0.0),
            "adc_bound": noise["adc_bound"],
        }
        if noise["adc_per_channel"]:
            values["adc_ranges"] = [headroom * v for v in layer.y_absmax_channels or ()]
        return values

    def transform_output(self, ctx: BodyContext, y: str) -> str:
        return self._converted(ctx, y)

    def _converted(self, ctx: BodyContext, y: str) -> str:
        """``y`` through the ADC; at full scale, its bias added digitally after it."""
        b = ctx.b
        bias = ctx.bias() if ctx.noise["adc_range"] == "full_scale" else None
        analog = y if bias is None else b.op("Sub", y, bias)
        out = quantize(b, analog, self._bound(ctx), ctx.attr("adc_levels"))
        return out if bias is None else b.op("Add", out, bias)

    def _bound(self, ctx: BodyContext) -> str:
        if ctx.noise["adc_range"] == "full_scale":
            b = ctx.b
            scale = ctx.quantity("x_absmax")
            s_w = weight_full_scale(ctx, ctx.noise["adc_weight"])
            if s_w is not None:
                scale = b.op("Mul", scale, s_w)
            return b.op("Mul", scale, ctx.attr("adc_bound"))
        if not ctx.noise["adc_per_channel"]:
            return ctx.attr("adc_range")
        return ctx.per_channel(ctx.floats("adc_ranges"))

    def stats_variance(self, ctx: BodyContext) -> str:
        """The quantisation error of the clean output (its clipping included)."""
        y = ctx.product()
        return quantization_error2(ctx.b, y, self._converted(ctx, y))
