"""The weights' full scale of the converters, as aihwkit's mapping sets it.

aihwkit stores a layer's weights on a tile divided by a scale that the digital periphery
multiplies back at the output (``MappingParameter.weight_scaling_omega``): each output
channel's abs-max weight (``weight_scaling_columnwise``), the whole op's abs-max, or no scale at
all (``weight_scaling_omega = 0``: the weights are the conductances). Output noise, the ADC's
range and weight noise are fixed in tile units, so in the model's units they scale with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import BodyContext

WEIGHT_SCALES = ("channel", "tensor", "unit")
"""``channel``: each output channel's abs-max weight; ``tensor``: the op's abs-max weight;
``unit``: 1 (the weights as they are)."""


def weight_full_scale(ctx: BodyContext, kind: str) -> str | None:
    """The weights' full scale laid out against Y, or None for ``unit`` (a factor of 1)."""
    if kind == "unit":
        return None
    b, family = ctx.b, ctx.family
    view = family.weight_view(b, ctx.clean_weight())
    if kind == "channel":
        return family.to_output(b, b.reduce("ReduceMax", b.op("Abs", view), family.channel_axes))
    return b.op("ReduceMax", b.op("Abs", view), keepdims=0)
