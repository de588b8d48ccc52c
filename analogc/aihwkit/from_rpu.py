"""An aihwkit inference configuration as an analogc hardware model (``analogc hardware
from-aihwkit``).

The configuration is read by aihwkit 1.1's field names (``InferenceRPUConfig``,
``TorchInferenceRPUConfig`` and its presets: ``forward`` IO parameters, ``mapping``, the
``noise_model``, ``drift_compensation``), so anything with those fields works; aihwkit itself is
not imported. What maps (each checked against aihwkit 1.1's code, ``analog_mvm.py``,
``periphery.py``, ``inference/noise/pcm.py``):

* ``noise_management = ABS_MAX`` scales each input vector (a convolution's patch) by its
  abs-max; ``inp_res`` is then a DAC of ``1/(2·inp_res·inp_bound)`` levels a sign
  (``dac_range = "per_vector"``);
* ``out_noise`` is read-out noise in units of that input scale times the weights' mapping scale
  (``readout``); ``out_res``/``out_bound`` an ADC over ``out_bound`` such units
  (``adc_range = "full_scale"``); ``w_noise`` of type ``ADDITIVE_CONSTANT`` weight noise
  relative to the channel's abs-max (``weight_scale = "absmax"``);
* the mapping's ``weight_scaling_omega`` / ``weight_scaling_columnwise`` set the weights' full
  scale (``readout_weight``, ``adc_weight``, ``g_scale``), ``1/omega`` folded into the constants;
* ``PCMLikeNoiseModel`` on a single device pair is ``pcm_programming`` (its programming noise,
  what ``program_analog_weights`` applies).

Anything else that changes what the hardware computes is refused, every field by name in one
error: input noise, IR drop, output non-linearity, bound management that can re-run clipped
outputs, noise management other than ``ABS_MAX``, learned input ranges or output scales, other
noise models, and the PCM model's drift and 1/f read noise (its drift exponent depends on the
conductance; analogc's ``drift`` term has one distribution for every cell). Settings that only
shape hardware-aware training (``modifier``, ``clip``, ``remap``, ``backward``, ``update``) and
simulator settings (``runtime``, tile classes) have no effect at inference: they are listed in
the translation's notes, as are limits of the mapping (aihwkit's tiles of at most
``max_input_size`` inputs).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from analogc.errors import ConfigError
from analogc.hardware import HardwareConfig
from analogc.passes.noise import NoiseModel

__all__ = ["Translation", "hardware_from_aihwkit"]

FORWARD_FIELDS = frozenset(
    {
        "is_perfect",
        "mv_type",
        "inp_bound",
        "inp_noise",
        "inp_res",
        "inp_sto_round",
        "inp_asymmetry",
        "out_bound",
        "out_noise",
        "out_noise_std",
        "out_res",
        "out_sto_round",
        "out_scale",
        "out_asymmetry",
        "bound_management",
        "noise_management",
        "w_noise",
        "w_noise_type",
        "ir_drop",
        "ir_drop_g_ratio",
        "out_nonlinearity",
        "out_nonlinearity_std",
        "slope_calibration",
        "v_offset_std",
        "v_offset_w_min",
        "r_series",
        "w_read_asymmetry_dtod",
        "max_bm_factor",
        "max_bm_res",
        "bm_test_negative_bound",
        "nm_thres",
    }
)
"""aihwkit 1.1's ``IOParameters`` fields."""

MAPPING_FIELDS = frozenset(
    {
        "digital_bias",
        "weight_scaling_omega",
        "weight_scaling_columnwise",
        "weight_scaling_lr_compensation",
        "learn_out_scaling",
        "out_scaling_columnwise",
        "max_input_size",
        "max_output_size",
    }
)
TRAINING_ONLY = ("modifier", "clip", "remap")
"""Sections that act only while training (aihwkit calls them once per mini-batch)."""
NOT_HARDWARE = frozenset(
    {
        "tile_class",
        "tile_array_class",
        "simulator_tile_class",
        "runtime",
        "device",
        "backward",
        "update",
    }
)
"""Fields that describe the simulator or the training passes, not the inference hardware."""
KNOWN = NOT_HARDWARE | {"forward", "mapping", "noise_model", "drift_compensation", "pre_post"}
KNOWN |= set(TRAINING_ONLY)

PCM_REFERENCE_G_MAX = 25.0
"""analogc's PCM coefficients are in µS at g_max = 25 µS (aihwkit's default fit)."""


@dataclass(frozen=True)
class Translation:
    """The hardware model, and what the hardware file cannot say by itself.

    Attributes:
        hardware: the analogc hardware model (``e1 = 1``, relative energy).
        notes: one line each: settings with no effect at inference, and limits of the
            translation (written as comments at the top of the hardware file).
    """

    hardware: HardwareConfig
    notes: tuple[str, ...] = ()


@dataclass
class _Scale:
    """The weights' full scale the mapping sets: its kind and the factor 1/omega."""

    kind: str = "unit"
    factor: float = 1.0


@dataclass
class _Reader:
    """Collects the translated keys, the refusals and the notes."""

    noise: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def refuse(self, where: str, value: Any, why: str) -> None:
        self.problems.append(f"{where} = {_show(value)} ({why})")


def _show(value: Any) -> str:
    """A value as a user wrote it: enums by class and member, floats short, other objects by
    their class."""
    if isinstance(value, bool | int | str | list | tuple):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return f"{type(value).__name__}.{name}"
    return f"{type(value).__name__}(...)"


def _member(value: Any) -> str:
    """An enum member's name (aihwkit's enums, a stand-in's, or the name itself)."""
    return str(getattr(value, "name", value))


def _fields(obj: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of a dataclass's fields, or of an object's public attributes."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield f.name, getattr(obj, f.name)
    else:
        for name, value in vars(obj).items():
            if not name.startswith("_"):
                yield name, value


def _unknown(r: _Reader, section: str, obj: Any, known: frozenset[str] | set[str]) -> None:
    """Refuse fields aihwkit 1.1 does not have (a later version's, a subclass's)."""
    names = sorted(n for n, v in _fields(obj) if n not in known and v is not None)
    if names:
        where = ", ".join(f"{section}{n}" for n in names)
        r.problems.append(f"{where} (not fields of aihwkit 1.1's configuration: no known meaning)")


def _resolution(res: float) -> float:
    """aihwkit's resolution convention: a value above 1 is a number of steps."""
    return 1.0 / res if res > 1.0 else res


def _levels(r: _Reader, where: str, res: float, bound: float, *, whole: bool) -> float | None:
    """Levels a sign of a converter of step ``2·res·bound`` over ``[-1, 1]``, or None (refused).

    ``whole``: the levels must be a whole number (the DAC: aihwkit clips at ``inp_bound``,
    analogc at the abs-max itself, which differ only when the top level is not on the grid).
    """
    levels = 1.0 / (2.0 * res * bound)
    nearest = round(levels)
    if abs(levels - nearest) <= 1e-6 * levels:
        levels = float(nearest)
    elif whole:
        r.refuse(where, res, f"{levels:.4g} levels a sign is not a whole number")
        return None
    if levels < 1.0:
        r.refuse(where, res, "fewer than 2 bits")
        return None
    return levels


def _bits(levels: float) -> float:
    """The bits of a symmetric converter with ``levels`` levels a sign: 2^(b−1) − 1 = levels."""
    return 1.0 + math.log2(levels + 1.0)


def _mapping(r: _Reader, mapping: Any) -> _Scale:
    if mapping is None:
        return _Scale()
    _unknown(r, "mapping.", mapping, MAPPING_FIELDS)
    if not getattr(mapping, "digital_bias", True):
        r.refuse(
            "mapping.digital_bias",
            False,
            "an analog bias is a tile column under the input's scaling; analogc's bias is exact",
        )
    if getattr(mapping, "learn_out_scaling", False):
        r.refuse(
            "mapping.learn_out_scaling",
            True,
            "learned output scales replace the weights' abs-max as their full scale",
        )
    omega = float(getattr(mapping, "weight_scaling_omega", 0.0) or 0.0)
    columnwise = bool(getattr(mapping, "weight_scaling_columnwise", False))
    sizes = [int(getattr(mapping, n, 0) or 0) for n in ("max_input_size", "max_output_size")]
    if any(s > 0 for s in sizes):
        r.notes.append(
            f"aihwkit splits a layer with more than {sizes[0] or 'any'} inputs or "
            f"{sizes[1] or 'any'} outputs (mapping.max_input_size, max_output_size) over several "
            "tiles, each with its own converters and noise, summed digitally; analogc models "
            "each layer as one tile: layers within those sizes are the same."
        )
    if omega <= 0:
        return _Scale("unit", 1.0)
    return _Scale("channel" if columnwise else "tensor", 1.0 / omega)


def _inputs(r: _Reader, io: Any) -> None:
    """Noise management, input bound and the DAC."""
    nm = _member(io.noise_management)
    if nm != "ABS_MAX":
        r.refuse(
            "forward.noise_management",
            io.noise_management,
            "analogc scales each input vector by its abs-max (ABS_MAX)",
        )
    elif io.nm_thres > 0:
        r.refuse("forward.nm_thres", io.nm_thres, "caps each vector's scale, clipping inputs")
    bound = float(io.inp_bound)
    if 0 < bound < 1:
        r.refuse("forward.inp_bound", bound, "clips inputs below their abs-max")
    if io.inp_noise > 0:
        r.refuse("forward.inp_noise", io.inp_noise, "analogc has no input noise")
    if io.inp_asymmetry != 0:
        r.refuse("forward.inp_asymmetry", io.inp_asymmetry, "no analogc equivalent")
    res = _resolution(float(io.inp_res))
    if res <= 0:
        return
    if bound <= 0:
        r.refuse("forward.inp_bound", bound, "a DAC (inp_res > 0) needs a positive bound")
        return
    if io.inp_sto_round:
        r.refuse("forward.inp_sto_round", True, "analogc's DAC rounds to nearest")
    levels = _levels(r, "forward.inp_res", res, bound, whole=bound != 1.0)
    if levels is not None:
        r.noise.update(dac=True, dac_bits=_bits(levels), dac_range="per_vector")


def _outputs(r: _Reader, io: Any, scale: _Scale) -> None:
    """Output noise, the ADC and its bound, bound management."""
    if io.out_noise > 0:
        r.noise.update(
            readout=True,
            out_noise=float(io.out_noise) * scale.factor,
            readout_input="per_vector",
            readout_weight=scale.kind,
        )
    if io.out_noise_std > 0:
        r.refuse(
            "forward.out_noise_std",
            io.out_noise_std,
            "analogc's out_noise is the same on every output",
        )
    bound = float(io.out_bound)
    res = _resolution(float(io.out_res))
    if res > 0 and bound <= 0:
        r.refuse("forward.out_bound", bound, "an ADC (out_res > 0) needs a positive bound")
    elif res > 0:
        if io.out_sto_round:
            r.refuse("forward.out_sto_round", True, "analogc's ADC rounds to nearest")
        levels = _levels(r, "forward.out_res", res, 1.0, whole=False)
        if levels is not None:
            r.noise.update(
                adc=True,
                adc_bits=_bits(levels),
                adc_range="full_scale",
                adc_bound=bound * scale.factor,
                adc_weight=scale.kind,
            )
    elif bound > 0:
        r.refuse(
            "forward.out_bound",
            bound,
            "clips outputs with no ADC (out_res <= 0); analogc clips in its ADC only: set "
            "out_bound = 0 or an out_res",
        )
    if bound > 0 and _member(io.bound_management) != "NONE":
        r.refuse(
            "forward.bound_management",
            io.bound_management,
            "re-runs a clipped output at a smaller input scale; analogc's ADC clips: use NONE",
        )
    if io.out_scale != 1:
        r.refuse("forward.out_scale", io.out_scale, "no analogc equivalent")
    if io.out_asymmetry != 0:
        r.refuse("forward.out_asymmetry", io.out_asymmetry, "no analogc equivalent")


def _weight_noise(r: _Reader, io: Any, scale: _Scale) -> None:
    kind = _member(io.w_noise_type)
    if io.w_noise <= 0 or kind == "NONE":
        return
    if kind != "ADDITIVE_CONSTANT":
        r.refuse("forward.w_noise_type", io.w_noise_type, "analogc's weight noise is additive")
    elif scale.kind != "channel":
        r.refuse(
            "forward.w_noise",
            io.w_noise,
            f"relative to the mapping's {scale.kind} weight scale; analogc's weight noise is "
            "relative to each channel's abs-max (weight_scaling_columnwise)",
        )
    else:
        r.noise.update(weight=True, k_w=float(io.w_noise) * scale.factor, weight_scale="absmax")


def _forward(r: _Reader, io: Any, scale: _Scale) -> None:
    _unknown(r, "forward.", io, FORWARD_FIELDS)
    if io.is_perfect or _member(io.mv_type) == "IDEAL":
        return  # aihwkit disregards every other forward setting
    if _member(io.mv_type) != "ONE_PASS":
        r.refuse("forward.mv_type", io.mv_type, "analogc computes each product in one pass")
    _inputs(r, io)
    _outputs(r, io, scale)
    _weight_noise(r, io, scale)
    for name, why in (
        ("ir_drop", "no IR drop in analogc"),
        ("out_nonlinearity", "no output non-linearity in analogc"),
        ("slope_calibration", "no output non-linearity in analogc"),
        ("v_offset_std", "no voltage offsets in analogc"),
        ("r_series", "no series resistance in analogc"),
        ("w_read_asymmetry_dtod", "no polarity-dependent reads in analogc"),
    ):
        value = getattr(io, name, 0.0)
        if value > 0:
            r.refuse(f"forward.{name}", value, why)


def _pcm(r: _Reader, model: Any, scale: _Scale, t_inference: float | None) -> None:
    """``PCMLikeNoiseModel``'s programming noise on a single device pair."""
    converter: Any = getattr(model, "g_converter", None)
    if type(converter).__name__ != "SinglePairConductanceConverter":
        r.refuse(
            "noise_model.g_converter",
            converter,
            "analogc programs each weight on one device pair (SinglePairConductanceConverter)",
        )
    elif float(getattr(converter, "g_min", 0.0)) != 0.0:
        r.refuse("noise_model.g_converter.g_min", converter.g_min, "analogc's g_min is 0")
    g_max = float(model.g_max)
    reference = float(getattr(model, "prog_coeff_g_max_reference", None) or g_max)
    coeffs = [float(c) for c in model.prog_coeff]
    if len(coeffs) > 3 and any(coeffs[3:]):
        r.refuse("noise_model.prog_coeff", coeffs, "analogc's polynomial is of degree 2")
    coeffs = [*coeffs, 0.0, 0.0, 0.0][:3]
    # aihwkit: σ = Σ c_i (g/g_max)^i · g_max/reference; analogc: Σ c'_i (g/g_max)^i · g_max/25.
    rescale = PCM_REFERENCE_G_MAX / reference
    r.noise.update(
        pcm_programming=True,
        g_max=g_max,
        prog_noise_scale=float(model.prog_noise_scale),
        prog_c0=coeffs[0] * rescale,
        prog_c1=coeffs[1] * rescale,
        prog_c2=coeffs[2] * rescale,
        g_scale="channel" if scale.kind == "channel" else "tensor",
    )
    if t_inference is None:
        r.notes.append(
            "PCMLikeNoiseModel: its programming noise (program_analog_weights) is translated; "
            "its drift and 1/f read noise (drift_analog_weights) are not: analogc's drift term "
            "has one drift-exponent distribution for every cell and no read noise."
        )
        return
    r.problems.append(
        f"noise_model = PCMLikeNoiseModel(...) drifted to t_inference = {t_inference:g} s (its "
        "drift exponent depends on the conductance and it adds 1/f read noise; analogc's drift "
        "has one distribution for every cell: translate the programmed state, no t_inference, "
        "and set analogc's drift keys yourself)"
    )


def _noise_model(
    r: _Reader, config: Any, scale: _Scale, program: bool, t_inference: float | None
) -> None:
    model = getattr(config, "noise_model", None)
    compensation = getattr(config, "drift_compensation", None)
    if not program:
        if model is not None:
            r.notes.append(
                f"noise_model ({type(model).__name__}) not translated: the weights are used as "
                "set, never programmed (program = False)."
            )
        return
    if model is None:
        return
    name = type(model).__name__
    if name != "PCMLikeNoiseModel":
        r.refuse(
            "noise_model",
            model,
            "analogc models PCMLikeNoiseModel's programming noise only (pcm_programming)",
        )
        return
    _pcm(r, model, scale, t_inference)
    if compensation is not None and t_inference is None:
        r.notes.append(
            f"drift_compensation ({type(compensation).__name__}): nothing drifts in the "
            "programmed state, so there is nothing to compensate."
        )


def _training(r: _Reader, config: Any) -> None:
    """Training-only sections: a note when set, a refusal when they act at inference."""
    modifier = getattr(config, "modifier", None)
    if modifier is not None and getattr(modifier, "enable_during_test", False):
        r.refuse(
            "modifier.enable_during_test",
            True,
            "the training weight modifier would act at inference",
        )
    active = []
    for section in TRAINING_ONLY:
        value = getattr(config, section, None)
        kind = _member(getattr(value, "type", "NONE")) if value is not None else "NONE"
        if kind != "NONE":
            active.append(f"{section} ({kind})")
    if modifier is not None and getattr(modifier, "pdrop", 0.0) > 0:
        active.append(f"modifier drop-connect (pdrop = {modifier.pdrop:g})")
    if active:
        r.notes.append(
            "hardware-aware training settings, no effect at inference, not translated: "
            + ", ".join(active)
            + "."
        )


def _pre_post(r: _Reader, config: Any) -> None:
    pre_post = getattr(config, "pre_post", None)
    if pre_post is None:
        return
    _unknown(r, "pre_post.", pre_post, frozenset({"input_range"}))
    input_range = getattr(pre_post, "input_range", None)
    if input_range is not None and getattr(input_range, "enable", False):
        r.refuse(
            "pre_post.input_range.enable",
            True,
            "a learned input range clips and scales inputs instead of each vector's abs-max",
        )


def hardware_from_aihwkit(
    config: Any,
    *,
    name: str | None = None,
    source: str = "",
    program: bool = True,
    t_inference: float | None = None,
) -> Translation:
    """The analogc hardware model of an aihwkit 1.1 inference configuration.

    Args:
        config: an aihwkit RPUConfig (or any object with its fields).
        name: the hardware model's name (default: ``aihwkit-<class name>``).
        source: where the configuration came from (``module:attr``), for the file's
            ``source``.
        program: the weights are programmed (``program_analog_weights``: the noise model's
            programming noise applies); False: used as set.
        t_inference: the time aihwkit drifts the weights to (``drift_analog_weights``), if
            any: PCM drift has no analogc equivalent, so this is refused for the PCM model.

    Raises:
        ConfigError: naming every field that changes what the hardware computes and that
            analogc cannot model, in one line.
    """
    if not hasattr(config, "forward"):
        raise ConfigError(
            f"{type(config).__name__} is not an aihwkit RPUConfig (it has no forward IO parameters)"
        )
    r = _Reader()
    _unknown(r, "", config, KNOWN)
    scale = _mapping(r, getattr(config, "mapping", None))
    _forward(r, config.forward, scale)
    _noise_model(r, config, scale, program, t_inference)
    _pre_post(r, config)
    _training(r, config)
    if r.problems:
        raise ConfigError("cannot translate to analogc: " + "; ".join(r.problems))
    if not any(
        r.noise.get(term) for term in ("dac", "adc", "readout", "weight", "pcm_programming")
    ):
        raise ConfigError(
            "nothing to translate: this configuration adds no noise analogc models "
            "(a perfect forward pass and no programmed weights)"
        )
    kind = type(config).__name__
    hardware = HardwareConfig(
        name=name or f"aihwkit-{kind}",
        description=f"translated from aihwkit {kind}" + (f" ({source})" if source else ""),
        source=f"aihwkit {kind}{f' {source}' if source else ''} via analogc hardware from-aihwkit",
        noise=NoiseModel(**r.noise),
    )
    return Translation(hardware=hardware, notes=tuple(r.notes))
