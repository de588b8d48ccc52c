"""Everything needed to price and score repeats configurations of one model on one data set."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from analogc.accounting import Accounting, LayerFacts, account, mean_energy_per_mac
from analogc.errors import ConfigError, UnsupportedModelError
from analogc.hardware import HardwareConfig
from analogc.layer_rules import LayerHardware
from analogc.passes import (
    Discovery,
    LayerPlan,
    Plan,
    discover,
    expand_recurrent,
    infer_shapes,
    is_annotated,
    load_model,
    name_nodes,
    offload_weights,
)
from analogc.passes.discover import LayerInfo, iteration_count
from analogc.passes.noise import TERMS, NoiseModel
from analogc.passes.scopes import locate
from analogc.runtime.calibrate import Calibration, LayerStats, calibrate
from analogc.runtime.data import Dataset
from analogc.runtime.evaluate import Evaluation, Evaluator
from analogc.runtime.inputs import output_batch_axes
from analogc.runtime.memory import return_freed_memory
from analogc.runtime.metrics import Metric
from analogc.runtime.simulate import Simulator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model ready for analysis: shape-inferred, nodes named, ops discovered.

    Attributes:
        path: the file it came from (never written to).
        model: analogc's working copy; large weights may live in ``scratch`` (see below).
        discovery: every matrix-product op, analog or digital with the reason.
        sha256: hash of the file's bytes (identifies the model in studies and reports).
        scratch: a temporary folder holding the working copy's large weights, when they were
            moved out of memory (:data:`OFFLOAD_BYTES`); removed with this object.
    """

    path: Path
    model: onnx.ModelProto
    discovery: Discovery
    sha256: str
    scratch: tempfile.TemporaryDirectory[str] | None = None

    @property
    def opset(self) -> int:
        return next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), 0)


OFFLOAD_BYTES = 32 << 20
"""Models with more inline weight bytes than this keep them in a scratch file while analogc
works: every copy, serialisation and onnxruntime session then shares one mapped file instead
of holding its own copy (ResNet-50: compile's peak memory falls by several copies of 100 MB)."""


def _lighten(model: onnx.ModelProto) -> tempfile.TemporaryDirectory[str] | None:
    inline = sum(len(t.raw_data) for t in model.graph.initializer if t.HasField("raw_data"))
    if inline < OFFLOAD_BYTES:
        return None
    scratch = tempfile.TemporaryDirectory(prefix="analogc-weights-")
    if not offload_weights(model, Path(scratch.name)):
        scratch.cleanup()
        return None
    return scratch


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_model(path: str | Path, *, allow_annotated: bool = False) -> LoadedModel:
    """Load, check, shape-infer, name and discover; the file itself is only read."""
    path = Path(path)
    model = load_model(path)
    if is_annotated(model) and not allow_annotated:
        raise UnsupportedModelError(
            f"{path}: already annotated by analogc; pass the original model, or run `analogc strip` first"
        )
    scratch = _lighten(model)
    model = _expanded(infer_shapes(model))
    name_nodes(model)
    return LoadedModel(path, model, discover(model), _sha256(path), scratch)


def load_model_proto(model: onnx.ModelProto, *, path: Path, sha256: str) -> LoadedModel:
    """As :func:`open_model`, for a model already in memory (e.g. a stripped annotated model)."""
    scratch = _lighten(model)
    model = _expanded(infer_shapes(model))
    name_nodes(model)
    return LoadedModel(path, model, discover(model), sha256, scratch)


def _expanded(model: onnx.ModelProto) -> onnx.ModelProto:
    """LSTM/GRU/RNN rewritten into Scans whose gate products can run analog (shapes inferred
    again for the new bodies)."""
    return infer_shapes(model) if expand_recurrent(model).modified else model


def layer_plan(
    info: LayerInfo, stats: LayerStats, noise: NoiseModel, *, default: NoiseModel | None = None
) -> LayerPlan:
    """A layer's plan at one repeat: its calibration facts, and its own noise model where it
    differs from the plan's ``default`` (``noise`` itself unless a per-layer rule gave the
    layer its own): stored-weight terms off for an activation operand; one ADC range per op
    where channels are not one axis of the output."""
    default = noise if default is None else default
    own = noise
    if info.operand != "constant":
        stored = [t.name for t in noise.enabled if t.constant_weights_only]
        if stored:
            own = own.without(stored)
    if own["adc"] and own["adc_per_channel"] and stats.y_absmax_channels is None:
        own = own.replace(adc_per_channel=False)
    if own != noise:
        log.info("layer %s: noise %s (of %s)", info.name, own.label or "none", noise.label)
    needed = {fact for term in own.enabled for fact in term.facts}
    return LayerPlan(
        repeats=1,
        r_x=float(stats.r_x),
        x_absmax=float(stats.x_absmax) if "x_absmax" in needed else None,
        y_absmax=float(stats.y_absmax) if "y_absmax" in needed else None,
        y_absmax_channels=stats.y_absmax_channels
        if "y_absmax_channels" in needed and own["adc_per_channel"]
        else None,
        noise=None if own == default else own,
    )


def _own_plan(
    info: LayerInfo, stats: LayerStats, hardware: HardwareConfig, own: LayerHardware | None
) -> LayerPlan:
    """A layer's plan with its per-layer hardware: its own noise model and e1."""
    if own is None:
        return layer_plan(info, stats, hardware.noise)
    plan = layer_plan(info, stats, own.noise, default=hardware.noise)
    return plan if own.e1 is None else replace(plan, e1=own.e1)


def _hardware_facts(plan: Plan, name: str, variances: Mapping[str, float]) -> dict[str, Any]:
    """A layer's own e1, its ADC resolution and its converter floor (the measured error of
    the converters that read out the averaged passes), for the accounting."""
    layer, noise = plan.layers[name], plan.noise_of(name)
    floor = sum(variances.get(t.name, 0.0) for t in noise.enabled if t.masks_averaging)
    return {
        "e1": layer.e1,
        "max_bits": float(noise["adc_bits"]) if noise["adc"] else None,
        "floor_variance": floor,
    }


def _std(variances: Mapping[str, float], *, temporal: bool) -> float:
    """RMS std of the temporal (or the static) terms among per-term mean variances."""
    total = sum(v for t, v in variances.items() if TERMS[t].reduced_by_repeats == temporal)
    return float(np.sqrt(total))


DEFAULT_MEMORY_BUDGET = 512 << 20


def fit_batch_size(
    model: onnx.ModelProto, layers: Sequence[str], requested: int, budget: int
) -> int:
    """The largest batch up to ``requested`` whose noisy run fits ``budget`` bytes.

    A simulated run holds, per example, each analog op's input (calibration exposes it), its
    output's noise draw and about two more output-sized temporaries: ~4 bytes × (X + 3·Y),
    once per iteration for an op in a Loop or Scan body (e.g. every step of an expanded LSTM;
    once if the trip count is only known at run time). Unknown shapes leave the request as it
    is.
    """
    found = locate(model)  # analog ops may sit in If/Loop/Scan bodies
    elements = 0
    for name in layers:
        index, node = found[name].index, found[name].node
        x = index.per_example_shape(node.input[0])
        y = index.per_example_shape(node.output[0])
        if x is None or y is None:
            return requested
        runs = iteration_count(found[name]) or 1
        elements += runs * (int(np.prod(x)) + 3 * int(np.prod(y)))
    fitted = max(1, min(requested, budget // max(4 * elements, 1)))
    if fitted < requested:
        log.info(
            "batch size %d -> %d: a noisy run holds ~%.0f MB per example",
            requested,
            fitted,
            4 * elements / 1e6,
        )
    return fitted


def _planned_layers(
    loaded: LoadedModel,
    own: Mapping[str, LayerHardware],
    saved: Mapping[str, LayerPlan] | None,
) -> list[LayerInfo]:
    """The analog ops to plan: ops kept digital by choice (or absent from a saved plan) are
    left out; none left is an error that says why."""
    layers = [
        x
        for x in loaded.discovery.analog
        if not (x.name in own and own[x.name].digital) and (saved is None or x.name in saved)
    ]
    if loaded.discovery.analog and not layers:
        raise ConfigError(
            f"{loaded.path}: every analog op is kept digital by the per-layer rules "
            "(nothing to plan)"
        )
    if not layers:
        raise UnsupportedModelError(
            f"{loaded.path}: no op can run analog (nothing to plan); `analogc inspect` lists the reasons"
        )
    return layers


class CalibratedModel:
    """Calibrates once, then prices (energy, bits) and scores (metric under noise) any repeats.

    Args:
        loaded: the model.
        hardware: noise model and energy of one pass.
        dataset: calibration/evaluation examples.
        metric: what "accuracy" means for this model.
        batch_size: examples per onnxruntime run (lowered to fit ``memory_budget``).
        saved: layer plans to use instead of calibrating facts anew (to evaluate a saved
            plan: its input ranges, converter ranges and per-layer hardware).
        seed: base seed of the plan (noise draws baked into the annotated model).
        threads: onnxruntime intra-op threads.
        memory_budget: bytes one noisy run may hold in activations and noise draws.
        layer_hardware: per-layer hardware from the ``[[layer]]`` rules
            (:func:`analogc.layer_rules.resolve_layers`): own noise and e1, digital by
            choice (left out), pinned repeats (kept by :meth:`configuration`).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        hardware: HardwareConfig,
        dataset: Dataset,
        *,
        metric: Metric,
        batch_size: int = 256,
        saved: Mapping[str, LayerPlan] | None = None,
        seed: int = 0,
        threads: int | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        layer_hardware: Mapping[str, LayerHardware] | None = None,
    ) -> None:
        self.loaded = loaded
        self.hardware = hardware
        self.dataset = dataset
        self.metric = metric
        own = dict(layer_hardware or {})
        self.layers = _planned_layers(loaded, own, saved)
        self.pins: dict[str, int] = {
            x.name: pin
            for x in self.layers
            if x.name in own and (pin := own[x.name].repeats) is not None
        }
        """Layer -> repeats pinned by a per-layer rule (``--pin``)."""
        names = [layer.name for layer in self.layers]
        fitted = fit_batch_size(loaded.model, names, batch_size, memory_budget)
        if fitted < batch_size:  # memory limits the batch: what runs free must go back
            return_freed_memory()
        batch_size = fitted
        log.info("calibrating %d analog layers on %d examples", len(names), len(dataset))
        self.calibration: Calibration
        self.calibration, probe = calibrate(
            loaded.model, names, dataset, batch_size=batch_size, seed=seed
        )
        infos = {layer.name: layer for layer in self.layers}
        self.base_plan = Plan(
            noise=hardware.noise,
            e1=hardware.e1,
            layers={
                n: replace(saved[n], repeats=1)
                if saved is not None
                else _own_plan(infos[n], self.calibration.layers[n], hardware, own.get(n))
                for n in names
            },
            seed=seed,
        )
        del probe  # noise shapes are known for the calibration batches; free its session
        levels = self._noise_levels(threads)
        self.simulator = Simulator(
            loaded.model,
            self.base_plan,
            shapes=self.calibration.shapes,
            threads=threads,
            # a run whose draws alone would take half the budget (a batch of one that still
            # does not fit) runs in pieces, holding a few layers' draws at a time
            draw_budget=memory_budget // 2,
        )
        self.evaluator = Evaluator(
            self.simulator,
            dataset,
            self.calibration,
            metric,
            output_axes=output_batch_axes(loaded.model),
        )
        self.facts = self._layer_facts(levels)
        self.macs = {f.name: f.macs for f in self.facts}

    def _layer_facts(self, levels: Mapping[str, Mapping[str, float]]) -> list[LayerFacts]:
        """What pricing and scoring need of each layer: MACs, fan-in, noise at E = 1, ranges."""
        layers = self.calibration.layers
        return [
            LayerFacts(
                name=layer.name,
                op_type=layer.op_type,
                macs=layers[layer.name].macs,
                fan_in=float(layer.fan_in or 0.0),
                sigma1=_std(levels[layer.name], temporal=True),
                static_sigma=_std(levels[layer.name], temporal=False),
                r_y=layers[layer.name].r_y,
                y_ms=layers[layer.name].y_ms,
                **_hardware_facts(self.base_plan, layer.name, levels[layer.name]),
            )
            for layer in self.layers
        ]

    def _noise_levels(self, threads: int | None) -> dict[str, dict[str, float]]:
        """Per layer and noise term: the mean output noise variance at E = 1, on clean inputs
        (for static terms, at any E)."""
        sim = Simulator(
            self.loaded.model,
            self.base_plan,
            shapes=self.calibration.shapes,
            stats=True,
            threads=threads,
        )
        keys = [(x.name, term) for x in sim.interface.layers for term in x.variances]
        clean = sim.scales(None)
        total = np.zeros(len(keys))
        count = 0
        for b, batch in enumerate(self.dataset.split(self.calibration.batch_size)):
            outputs = sim.run(batch.feed, scales=clean, seed=0, batch_index=b)
            n = batch.examples
            total += n * np.array([float(v) for v in outputs[sim.n_outputs :]])
            count += n
        levels: dict[str, dict[str, float]] = {name: {} for name in self.base_plan.layers}
        for (name, term), value in zip(keys, total, strict=True):
            levels[name][term] = max(float(value) / count, 0.0)
        return levels

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.facts]

    @property
    def free(self) -> list[str]:
        """The layers whose repeats a search may choose (all but the pinned ones)."""
        return [n for n in self.names if n not in self.pins]

    def configuration(self, repeats: Mapping[str, int] | int) -> dict[str, int]:
        """Every layer's repeats: ``repeats`` (one count for every layer, or per layer) with
        the pinned layers at their pins, whatever ``repeats`` says for them."""
        if isinstance(repeats, int):
            return {**dict.fromkeys(self.names, repeats), **self.pins}
        return {**repeats, **self.pins}

    def plan(self, repeats: Mapping[str, int] | int) -> Plan:
        return self.base_plan.with_repeats(self.configuration(repeats))

    def energy(self, repeats: Mapping[str, int] | int) -> float:
        """Ē, the network's energy per MAC in the hardware's unit."""
        repeats = self.configuration(repeats)
        own = any(f.e1 is not None for f in self.facts)
        e1 = {f.name: self.base_plan.e1_of(f.name) for f in self.facts} if own else self.hardware.e1
        return mean_energy_per_mac(self.macs, repeats, e1)

    @property
    def static_terms(self) -> list[str]:
        """The terms repeats do not reduce, in any layer (converters, programming, drift)."""
        names = {t.name for n in self.names for t in self.base_plan.noise_of(n).enabled}
        return [name for name in TERMS if name in names and not TERMS[name].reduced_by_repeats]

    def static_evaluation(self, seeds: Sequence[int]) -> Evaluation:
        """The metric with the temporal noise off: what the static terms alone cost."""
        return self.evaluator.evaluate_scales(dict.fromkeys(self.names, 0.0), seeds)

    def useful_repeats(self, max_repeats: int) -> dict[str, int]:
        """Per layer, the most repeats that still reduce its noise (its converter's floor)."""
        return {f.name: f.useful_repeats(self.hardware.e1, max_repeats) for f in self.facts}

    def account(self, repeats: Mapping[str, int] | int) -> Accounting:
        return account(
            self.facts,
            self.configuration(repeats),
            e1=self.hardware.e1,
            joules_per_unit=self.hardware.joules_per_unit,
        )

    def evaluate(self, repeats: Mapping[str, int] | int, seeds: Sequence[int]) -> Evaluation:
        return self.evaluator.evaluate(self.configuration(repeats), seeds)

    def evaluate_together(
        self, configurations: Sequence[Mapping[str, int] | int], seeds: Sequence[int]
    ) -> list[Evaluation]:
        """:meth:`evaluate` of each, sharing each batch's draws (the same values)."""
        return self.evaluator.evaluate_together(
            [self.configuration(c) for c in configurations], seeds
        )
