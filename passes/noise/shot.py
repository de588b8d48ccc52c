"""Shot noise of homodyne optical detection (DESIGN §2).

``y_i += ε · ‖x_(i)‖ · ‖w_i‖ / sqrt(D·E)``: photon counting noise grows with the optical
power of both operands; its variance falls as 1/E, so repeats (or brighter light) reduce it.
E is in photons per MAC.
"""

from __future__ import annotations

from .base import BodyContext, Draw, NoiseTerm

OUTPUT_DRAW = Draw("eps_y", like="output", seed="seed_y", slot=0)
"""One Gaussian per output element, shared by every term that adds noise at the output."""


class ShotNoise(NoiseTerm):
    name = "shot"
    summary = "shot noise, σ = ‖x‖·‖w‖/sqrt(D·E) (homodyne optics)"
    stage = "output"
    draws = (OUTPUT_DRAW,)
    needs = frozenset({"x_norm2", "w_norm2"})
    stats_needs = needs

    def output_variance(self, ctx: BodyContext) -> str:
        return ctx.b.op("Mul", ctx.quantity("x_norm2"), ctx.quantity("w_norm2"))

    def output_std(self, ctx: BodyContext, scale: str) -> str:
        b = ctx.b
        x_norm = b.op("Sqrt", ctx.quantity("x_norm2"))
        return b.op("Mul", x_norm, b.op("Mul", b.op("Sqrt", ctx.quantity("w_norm2")), scale))
