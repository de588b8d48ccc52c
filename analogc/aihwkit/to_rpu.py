"""An analogc plan as aihwkit configurations: one ``TorchInferenceRPUConfig`` per layer, for
hardware-aware training in aihwkit on analogc's plan.

Each layer's repeats are folded in: its temporal noise (read-out, weight noise) has std over
``sqrt(N·e1)``, the static terms (converters, programming noise) are as they are. The mapping
is the inverse of :func:`analogc.aihwkit.hardware_from_aihwkit`, which gives each layer's
noise model back:

* ``readout`` → ``forward.out_noise``; ``dac`` → ``forward.inp_res`` (``1/(2·levels)``);
  ``adc`` with ``adc_range = "full_scale"`` → ``forward.out_res``, ``out_bound``; per-vector
  input scaling → ``noise_management = ABS_MAX``, a calibrated one → ``CONSTANT`` at the
  layer's calibrated abs-max input (``nm_thres``); ``bound_management = NONE``;
* the weights' full scale (``readout_weight``, ``adc_weight``, ``g_scale``) → the mapping
  (``weight_scaling_omega`` 1, column-wise for ``channel``; 0 for ``unit``), one tile per
  layer (``max_input_size = max_output_size = 0``);
* ``weight`` (relative to the abs-max) → the training modifier ``ADD_NORMAL``
  (``rel_to_actual_wmax``): aihwkit 1.1's torch tile refuses ``forward.w_noise``, and the
  modifier draws once per forward pass, shared by the batch, as analogc does — in training
  mode only;
* ``pcm_programming`` → ``PCMLikeNoiseModel`` (its programming noise; its drift and read noise
  off unless ``drift="aihwkit"``); without it, a ``PCMLikeNoiseModel`` whose every scale is 0
  (programming changes nothing).

Terms aihwkit has no exact counterpart for (shot and thermal noise, weight levels, Gaussian
programming error, weight noise relative to the range, a calibrated ADC range, analogc's drift)
are refused, every one by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from analogc.errors import ConfigError
from analogc.passes import LayerPlan, NoiseModel, Plan
from analogc.passes.noise.quantize import levels

from .api import AihwkitAPI
from .loading import load_plan

__all__ = ["RPUSpec", "build_rpu_config", "rpu_configs_for_plan", "rpu_spec", "rpu_specs_for_plan"]

Drift = Literal["refuse", "aihwkit"]

NO_EQUIVALENT = {
    "shot": "shot noise grows with the signal's norms; aihwkit's out_noise does not",
    "thermal": "thermal noise scales with the weights' range and a calibrated input range",
    "levels": "aihwkit's torch tile has no static weight levels at inference",
    "programming": "aihwkit has no Gaussian programming error relative to the channel's "
    "abs-max (its noise models program conductances)",
}


@dataclass(frozen=True)
class RPUSpec:
    """One layer's aihwkit settings as plain values (enums by member name).

    Attributes:
        forward: ``IOParameters`` fields.
        mapping: ``MappingParameter`` fields.
        modifier: ``WeightModifierParameter`` fields (empty: none).
        noise_model: ``PCMLikeNoiseModel`` settings (``prog_coeff`` in µS at a g_max of
            ``prog_coeff_g_max_reference``).
        drift_compensation: a ``GlobalDriftCompensation``, or None.
        notes: what to know when using it.
    """

    forward: Mapping[str, Any]
    mapping: Mapping[str, Any]
    modifier: Mapping[str, Any] = field(default_factory=dict)
    noise_model: Mapping[str, Any] = field(default_factory=dict)
    drift_compensation: bool = False
    notes: tuple[str, ...] = ()


def _full_scales(noise: NoiseModel, problems: list[str]) -> str:
    """The mapping every term's weight full scale agrees on: channel, tensor or unit."""
    wanted: dict[str, set[str]] = {}
    if noise["readout"]:
        wanted[f"readout_weight = {noise['readout_weight']}"] = {noise["readout_weight"]}
    if noise["adc"] and noise["adc_range"] == "full_scale":
        wanted[f"adc_weight = {noise['adc_weight']}"] = {noise["adc_weight"]}
    if noise["weight"] and noise["weight_scale"] == "absmax":
        wanted["weight_scale = absmax"] = {"channel"}
    if noise["pcm_programming"]:
        g = noise["g_scale"]
        wanted[f"g_scale = {g}"] = {"channel"} if g == "channel" else {"tensor", "unit"}
    common = {"channel", "tensor", "unit"}
    for kinds in wanted.values():
        common &= kinds
    if not common:
        problems.append(
            "the terms assume different weight full scales ("
            + ", ".join(wanted)
            + "): aihwkit maps every term through one MappingParameter"
        )
        return "channel"
    return next(k for k in ("channel", "tensor", "unit") if k in common)


def _input_scaling(
    noise: NoiseModel, layer: LayerPlan, forward: dict[str, Any], problems: list[str]
) -> None:
    """Noise management: per vector (ABS_MAX) or the calibrated abs-max (CONSTANT)."""
    wanted = set()
    if noise["dac"]:
        wanted.add(noise["dac_range"])
    if noise["readout"]:
        wanted.add(noise["readout_input"])
    if noise["adc"] and noise["adc_range"] == "full_scale":
        wanted.add("per_vector")
    if len(wanted) > 1:
        problems.append(
            "the DAC, read-out and ADC scale inputs differently (per vector and calibrated): "
            "aihwkit has one noise management per tile"
        )
    elif wanted == {"calibrated"}:
        if not layer.x_absmax:
            problems.append(
                "a calibrated input range needs the layer's calibrated abs-max input, which "
                "this plan does not hold (convert the annotated model)"
            )
        forward.update(noise_management="CONSTANT", nm_thres=float(layer.x_absmax or 0.0))
        if not noise["dac"]:
            forward["inp_bound"] = 0.0  # no DAC: aihwkit then clips nothing


def rpu_spec(
    noise: NoiseModel,
    layer: LayerPlan,
    *,
    e1: float = 1.0,
    drift: Drift = "refuse",
    where: str = "",
) -> RPUSpec:
    """The aihwkit settings of one analog layer (its repeats folded into temporal noise).

    Raises:
        ConfigError: naming every term aihwkit has no exact counterpart for.
    """
    problems = [f"{name} ({why})" for name, why in NO_EQUIVALENT.items() if noise[name]]
    if noise["weight"] and noise["weight_scale"] != "absmax":
        problems.append("weight with weight_scale = range (aihwkit's is relative to the abs-max)")
    if noise["adc"] and noise["adc_range"] != "full_scale":
        problems.append(
            "adc with adc_range = calibrated (aihwkit's ADC range is out_bound full-scale units: "
            "use adc_range = full_scale)"
        )
    if noise["drift"] and drift == "refuse":
        problems.append(
            "drift (ν ~ N(ν̄, σ_ν) for every cell; aihwkit's PCMLikeNoiseModel makes ν depend "
            'on the conductance and adds 1/f read noise: pass drift="aihwkit" to use its own)'
        )
    notes: list[str] = []
    temporal = 1.0 / math.sqrt(layer.repeats * e1)
    kind = _full_scales(noise, problems)
    forward: dict[str, Any] = {
        "is_perfect": not (noise["dac"] or noise["adc"] or noise["readout"]),
        "inp_res": -1.0,
        "inp_bound": 1.0,
        "out_res": -1.0,
        "out_noise": 0.0,
        "out_bound": 0.0,
        "noise_management": "ABS_MAX",
        "nm_thres": 0.0,
        "bound_management": "NONE",
        "w_noise": 0.0,
        "w_noise_type": "NONE",
    }
    _input_scaling(noise, layer, forward, problems)
    if noise["dac"]:
        forward["inp_res"] = 1.0 / (2.0 * levels(noise["dac_bits"]))
    if noise["readout"]:
        forward["out_noise"] = noise["out_noise"] * temporal
    if noise["adc"]:
        forward["out_res"] = 1.0 / (2.0 * levels(noise["adc_bits"]))
        forward["out_bound"] = noise["adc_bound"]
    mapping = {
        "weight_scaling_omega": 0.0 if kind == "unit" else 1.0,
        "weight_scaling_columnwise": kind == "channel",
        "max_input_size": 0,
        "max_output_size": 0,
        "digital_bias": True,
    }
    modifier: dict[str, Any] = {}
    if noise["weight"]:
        modifier = {
            "type": "ADD_NORMAL",
            "std_dev": noise["k_w"] * temporal,
            "rel_to_actual_wmax": True,
        }
        notes.append(
            "weight noise is the training modifier ADD_NORMAL (aihwkit 1.1's torch tile "
            "refuses forward.w_noise): it acts in training mode only."
        )
    live = drift == "aihwkit" and noise["drift"]
    pcm = {
        "g_max": noise["g_max"] if noise["pcm_programming"] else 25.0,
        "prog_noise_scale": noise["prog_noise_scale"] if noise["pcm_programming"] else 0.0,
        "prog_coeff": [noise["prog_c0"], noise["prog_c1"], noise["prog_c2"]],
        "prog_coeff_g_max_reference": 25.0,
        "read_noise_scale": 1.0 if live else 0.0,
        "drift_scale": 1.0 if live else 0.0,
    }
    if live:
        notes.append(
            f"drift: aihwkit's PCM drift and read noise, not analogc's: evaluate with "
            f"drift_analog_weights({noise['drift_t']:g})."
        )
    if problems:
        raise ConfigError(f"{where}no aihwkit equivalent: " + "; ".join(problems))
    return RPUSpec(
        forward=forward,
        mapping=mapping,
        modifier=modifier,
        noise_model=pcm,
        drift_compensation=bool(live and noise["drift_compensation"]),
        notes=tuple(notes),
    )


def rpu_specs_for_plan(plan: Plan, *, drift: Drift = "refuse") -> dict[str, RPUSpec]:
    """Every layer's aihwkit settings, by layer name.

    Raises:
        ConfigError: naming the first layer (and every one of its terms) aihwkit cannot
            express.
    """
    return {
        name: rpu_spec(
            plan.noise_of(name), layer, e1=plan.e1_of(name), drift=drift, where=f"layer {name}: "
        )
        for name, layer in plan.layers.items()
    }


def build_rpu_config(spec: RPUSpec, api: AihwkitAPI) -> Any:
    """A ``TorchInferenceRPUConfig`` from :class:`RPUSpec` (with the classes of ``api``)."""
    enums = {
        "noise_management": api.NoiseManagementType,
        "bound_management": api.BoundManagementType,
        "w_noise_type": api.WeightNoiseType,
    }
    config = api.TorchInferenceRPUConfig()
    config.forward = api.IOParameters(
        **{k: enums[k][v] if k in enums else v for k, v in spec.forward.items()}
    )
    config.mapping = api.MappingParameter(**spec.mapping)
    if spec.modifier:
        modifier = dict(spec.modifier)
        modifier["type"] = api.WeightModifierType[modifier["type"]]
        config.modifier = api.WeightModifierParameter(**modifier)
    pcm = dict(spec.noise_model)
    coeffs, reference = pcm.pop("prog_coeff"), pcm.pop("prog_coeff_g_max_reference")
    model = api.PCMLikeNoiseModel(**pcm)
    # Set after construction: aihwkit 1.1 leaves the reference unset when both are given.
    model.prog_coeff = list(coeffs)
    model.prog_coeff_g_max_reference = reference
    config.noise_model = model
    config.drift_compensation = api.GlobalDriftCompensation() if spec.drift_compensation else None
    return config


def rpu_configs_for_plan(
    source: Plan | str | Path, *, drift: Drift = "refuse", api: AihwkitAPI | None = None
) -> dict[str, Any]:
    """One aihwkit ``TorchInferenceRPUConfig`` per analog layer of a plan, by layer name.

    Args:
        source: a :class:`~analogc.passes.Plan`, an annotated model (``*.analog.onnx``) or
            its ``report.json`` (no calibration facts: calibrated input ranges need the model).
        drift: ``refuse`` analogc's drift term, or replace it by aihwkit's own PCM drift.
        api: the aihwkit classes (default: aihwkit itself, which must be installed).

    Raises:
        AihwkitMissingError: aihwkit is not installed (the message says how to install it).
        ConfigError: a term aihwkit cannot express, named with its layer.
    """
    specs = rpu_specs_for_plan(load_plan(source), drift=drift)
    api = api or AihwkitAPI.load()
    return {name: build_rpu_config(spec, api) for name, spec in specs.items()}
