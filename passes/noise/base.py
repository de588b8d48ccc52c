"""The contract every noise term meets (DESIGN §2, §3 "one home per way of extending it").

A noise term is one module under ``passes/noise/`` holding one :class:`NoiseTerm` subclass, and
one line in :data:`analogc.passes.noise.TERMS`. The term owns everything about itself:

* its hardware keys (:attr:`NoiseTerm.flag` turns it on; :attr:`NoiseTerm.params` are its
  constants, with their types, defaults and checks) — hardware files, presets and plans read
  and validate them through the registry;
* its variance law: :attr:`NoiseTerm.reduced_by_repeats` says whether averaging N passes
  divides its variance by N (a temporal term, scaled by ``1/sqrt(N·e1)``: see
  :mod:`analogc.passes.noise.law`) or leaves it as it is (a static or deterministic term);
* its part of the ``ai.analogc`` function body (:meth:`NoiseTerm.transform_weight` for terms
  acting on the weights before the product, :meth:`NoiseTerm.output_variance` for terms adding
  noise at the output), the node attributes that part reads, and the random draws it needs
  (:attr:`NoiseTerm.draws`: made by ``RandomNormalLike`` in the deployable model, passed in as
  inputs in analogc's simulation graph, so every configuration sees the same draws);
* its contribution to the reported noise level, effective bits and SNR
  (:meth:`NoiseTerm.stats_variance`: the output-referred variance it causes at E = 1).

The function library (:mod:`analogc.runtime.functions`) composes the terms of a noise model
with an op family (:class:`analogc.passes.ops.AnalogFamily`) through a :class:`BodyContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from onnx import AttributeProto

from analogc.errors import ConfigError

FLOAT = AttributeProto.FLOAT
FLOATS = AttributeProto.FLOATS

if TYPE_CHECKING:
    from ..function_body import FunctionBody
    from ..ops.base import AnalogFamily
    from ..plan import LayerPlan
    from .model import NoiseModel

__all__ = [
    "FLOAT",
    "FLOATS",
    "BodyContext",
    "Draw",
    "NoiseTerm",
    "Param",
    "Quantity",
    "Stage",
    "above",
    "at_least",
    "one_of",
]

Stage = Literal["input", "weight", "output", "converter"]
"""Where a term acts, in the order of a body: the input operand (a DAC), the weights (levels,
programming error, drift, read noise), noise added at the output (shot, thermal, readout),
the output after the analog noise and averaging (an ADC, drift compensation)."""

Quantity = Literal["w_range", "w_range_view", "x_norm2", "w_norm2", "x_absmax"]
"""Shared quantities a term may need, computed once per body by the library:

* ``w_range``: ``r_w,i``, the range of output channel i's weights (clean W), laid out to
  broadcast against Y; ``w_range_view``: the same in the family's weight view (to scale
  weight draws); needing either computes both;
* ``x_norm2``: ``‖x_(i)‖²``, the squared norm of the input vector (conv patch) of output i;
* ``w_norm2``: ``‖w_i‖²/D``, the squared norm of the weights meeting the input, over D;
* ``x_absmax``: the abs-max of each input vector (conv: of each example), against Y.
"""


@dataclass(frozen=True)
class Param:
    """One hardware key a term owns: a constant of its noise law.

    Attributes:
        name: the key in hardware files (``[noise]`` table), plans and reports.
        kind: ``float``, ``int``, ``bool`` or ``str``; values of another type are refused (a
            string ``"1"`` is not a number, ``1`` is not a boolean).
        default: the value when a hardware file does not give it.
        doc: what it is, with its unit.
        check: returns a problem (``"must be >= 0"``) or None.
    """

    name: str
    kind: type
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None

    def validate(self, value: Any, *, where: str = "") -> Any:
        """``value`` converted to :attr:`kind`, or a :class:`ConfigError` naming the key."""
        label = f"{where}{self.name}"
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{label} must be true or false, got {value!r}")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{label} must be an integer, got {value!r}")
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{label} must be a number, got {value!r}")
            value = float(value)
        elif self.kind is str and not isinstance(value, str):
            raise ConfigError(f"{label} must be a string, got {value!r}")
        problem = self.check(value) if self.check is not None else None
        if problem:
            raise ConfigError(f"{label} {problem}, got {value!r}")
        return value


def at_least(bound: float) -> Callable[[Any], str | None]:
    """A :attr:`Param.check`: the value is >= ``bound`` (NaN refused)."""
    return lambda v: None if v >= bound else f"must be >= {bound:g}"


def above(bound: float) -> Callable[[Any], str | None]:
    """A :attr:`Param.check`: the value is > ``bound`` (NaN refused)."""
    return lambda v: None if v > bound else f"must be > {bound:g}"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    """A :attr:`Param.check`: the value is one of ``choices``."""
    return lambda v: None if v in choices else f"must be one of {', '.join(map(repr, choices))}"


@dataclass(frozen=True)
class Draw:
    """Standard-normal draws a term needs, shaped like the output or the weight.

    Terms that share a draw (shot and thermal noise both ride on one Gaussian per output
    element, their variances adding) name the same draw. In the deployable model a draw is a
    ``RandomNormalLike`` whose seed is the node attribute :attr:`seed`; in the simulation graph
    it is a graph input. ``slot`` numbers the draw among all draws analogc knows: a layer's
    seeds are derived from (plan seed, layer position, slot), so that enabling another term
    does not change the others' draws.
    """

    name: str
    like: Literal["output", "weight"]
    seed: str
    slot: int
    per: Literal["run", "chip"] = "run"
    """``run``: fresh on every run (temporal noise). ``chip``: drawn once per programmed chip,
    the same for every run and every repeat of it (programming error, drift): the deployable
    model stores its chip's draws (float16) as an initializer; the simulation draws one chip
    per noise seed."""


class BodyContext(Protocol):
    """What a term sees while the function library builds one body."""

    b: FunctionBody
    family: AnalogFamily
    scale: str
    """The temporal noise scale ``1/sqrt(N·e1)`` (a float32 scalar)."""
    values: dict[str, str]
    """Tensors a term made in :meth:`NoiseTerm.prepare` for its later hooks, by its own keys."""

    def quantity(self, name: Quantity) -> str:
        """A shared quantity the term declared in :attr:`NoiseTerm.needs`."""

    def fan_in(self) -> str:
        """D, a float32 scalar (an attribute, or computed from run-time shapes)."""

    def product(self) -> str:
        """The clean product Y in float32 (for terms that scale with the signal)."""

    def draw(self, name: str, like: str) -> str:
        """The standard-normal draws ``name``, shaped like the float32 tensor ``like``."""

    noise: NoiseModel
    """The layer's noise model (string constants shape the body: ``dac_range``, ...)."""

    def attr(self, name: str) -> str:
        """The float node attribute ``name`` as a float32 scalar tensor."""

    def floats(self, name: str) -> str:
        """The float-list node attribute ``name`` as a float32 vector."""

    def input(self) -> str:
        """The input operand X in float32, after the ``input``-stage terms so far."""

    def clean_input(self) -> str:
        """The input operand X in float32, as the model gives it."""

    def bias(self) -> str | None:
        """The op's bias (Conv's B, Gemm's beta·C) in float32 against Y, or None without one."""

    def unfold(self, x: str) -> str:
        """``x`` unfolded into the op's input vectors (a convolution's patches: families whose
        :attr:`~analogc.passes.ops.AnalogFamily.unfolds`); what an ``input``-stage term
        returns from them is patches too, and products of it use the patch product."""

    def clean_weight(self) -> str:
        """The weight operand W in float32, as stored."""

    def product_of(self, x: str, w: str) -> str:
        """The op's product of float32 operands, in float32 (for terms measuring their own
        error: bias and the op's type handled)."""

    def per_channel(self, values: str) -> str:
        """A vector of one value per output channel, laid out to broadcast against Y."""


class NoiseTerm:
    """One physical noise mechanism. Subclasses set the class attributes and override the
    hooks of their :attr:`stage`.

    Attributes:
        name: registry key; also the hardware flag that turns the term on (``shot = true``).
        summary: one line for ``analogc presets`` and reports.
        stage: ``weight`` (changes W before the product) or ``output`` (adds noise to Y).
        reduced_by_repeats: True when averaging N passes divides the variance by N.
        params: the hardware keys the term owns.
        node_attributes: float attributes the body reads, beyond :attr:`params` values that
            go on the node (name -> ``AttributeProto`` type).
        draws: the standard-normal draws the term needs.
        needs: shared quantities its noise uses; ``stats_needs``: those its
            :meth:`stats_variance` uses.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    stage: ClassVar[Stage]
    also: ClassVar[frozenset[Stage]] = frozenset()
    """Other stages the term has a hook in (drift: the weights, and its compensation after
    the ADC)."""
    reduced_by_repeats: ClassVar[bool] = True
    params: ClassVar[tuple[Param, ...]] = ()
    node_attributes: ClassVar[Mapping[str, int]] = {}
    draws: ClassVar[tuple[Draw, ...]] = ()
    needs: ClassVar[frozenset[Quantity]] = frozenset()
    stats_needs: ClassVar[frozenset[Quantity]] = frozenset()
    facts: ClassVar[frozenset[str]] = frozenset()
    """Calibration facts of a layer (:class:`analogc.passes.LayerPlan` fields) it reads."""
    masks_averaging: ClassVar[bool] = False
    """True for a converter after the averaging (an ADC): once the temporal noise is below
    its own error, more repeats no longer change what it reads out (the search's floor)."""
    constant_weights_only: ClassVar[bool] = False
    """True for terms about stored weights (programming error, drift, weight levels): an op
    whose second operand is an activation (attention ``Q·Kᵀ``) runs without them."""

    def acts_in(self, stage: Stage) -> bool:
        return stage == self.stage or stage in self.also

    @property
    def flag(self) -> Param:
        return Param(self.name, bool, False, f"enable {self.summary or self.name}")

    def attribute_values(self, noise: NoiseModel, layer: LayerPlan) -> dict[str, Any]:
        """Values of :attr:`node_attributes` for one layer's node."""
        return {}

    def prepare(self, ctx: BodyContext) -> None:
        """Compute what the term needs after the product, before the output noise."""

    def transform_input(self, ctx: BodyContext, x: str) -> str:
        """``input`` stage: the float32 input the product uses, from the float32 ``x``."""
        raise NotImplementedError

    def transform_weight(self, ctx: BodyContext, w: str) -> str:
        """``weight`` stage: the float32 weights the product uses, from the float32 ``w``.

        Static weight terms (the programmed state: levels, programming error, drift) apply
        before temporal ones (read noise)."""
        raise NotImplementedError

    def transform_output(self, ctx: BodyContext, y: str) -> str:
        """``converter`` stage: the float32 output after the analog noise and averaging (an
        ADC), or a digital correction after it."""
        raise NotImplementedError

    def output_variance(self, ctx: BodyContext) -> str:
        """``output`` stage: the output-referred variance at E = 1, broadcastable against Y."""
        raise NotImplementedError

    def output_std(self, ctx: BodyContext, scale: str) -> str:
        """``output`` stage, when the term is the only one at the output: its std times
        ``scale``. Terms whose std is a product of factors override this to skip the square
        root of a square (exact, and what the body computed before terms were modules)."""
        return ctx.b.op("Mul", ctx.b.op("Sqrt", self.output_variance(ctx)), scale)

    def stats_variance(self, ctx: BodyContext) -> str:
        """Output-referred noise variance the term causes at E = 1 (for σ, ENOB, SNR)."""
        return self.output_variance(ctx)
