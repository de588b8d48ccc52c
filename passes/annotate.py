"""Replace each planned op by its ``ai.analogc`` function call; record the plan in the model.

Two forms come out of the same rewrite:

* :func:`annotate` — the deployable model: repeats, noise constants and seeds are node
  attributes, noise is drawn inside the functions, and ``metadata_props`` hold the plan.
* :func:`lower_for_simulation` — analogc's own evaluation graph: per-layer noise scales and the
  Gaussian draws are graph inputs, so one onnxruntime session evaluates every repeats
  configuration with common random numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper

from analogc.errors import UnsupportedModelError

from ._index import GraphIndex
from .discover import is_annotated
from .ops import HANDLERS
from .plan import Plan
from .result import PassResult

META_PREFIX = "pkg.analogc."
PLAN_KEY = META_PREFIX + "plan"


class FunctionLibraryLike(Protocol):
    """What the rewrite needs from :class:`analogc.runtime.functions.FunctionLibrary`."""

    domain: str
    mode: str
    stats: bool

    def function(self, family: str) -> onnx.FunctionProto: ...
    def sim_inputs(self) -> list[str]: ...
    def attributes(self, family: str) -> list[str]: ...


@dataclass(frozen=True)
class SimLayer:
    """Where one layer's simulation inputs and outputs are in the lowered graph."""

    name: str
    scale: str
    eps_y: str | None
    eps_w: str | None
    var: str | None
    output: str
    weight: str
    output_rank: int
    weight_rank: int


@dataclass(frozen=True)
class SimInterface:
    layers: tuple[SimLayer, ...]


def annotate(model: onnx.ModelProto, plan: Plan, library: FunctionLibraryLike) -> PassResult:
    """Rewrite every op in ``plan.layers`` as an ``ai.analogc`` call. Mutates ``model``.

    Raises:
        UnsupportedModelError: if the model is already annotated, or a planned op is missing
            or cannot run analog.
    """
    if library.mode != "standalone":
        raise ValueError("annotate() needs a standalone library; use lower_for_simulation()")
    modified, _ = _rewrite(model, plan, library)
    _set_model_meta(model, PLAN_KEY, plan.to_json())
    return PassResult(model, modified)


def lower_for_simulation(
    model: onnx.ModelProto, plan: Plan, library: FunctionLibraryLike
) -> tuple[PassResult, SimInterface]:
    """The evaluation graph: noise scales and draws become graph inputs. Mutates ``model``."""
    if library.mode != "simulate":
        raise ValueError("lower_for_simulation() needs a simulate-mode library")
    modified, interface = _rewrite(model, plan, library)
    return PassResult(model, modified), interface


def _seed_pair(seed: int, position: int) -> tuple[float, float]:
    """Two distinct RandomNormalLike seeds per layer, exact in float32."""
    a, b = np.random.SeedSequence([seed, position]).generate_state(2)
    return float(a % (1 << 24)), float(b % (1 << 24))


def _rewrite(
    model: onnx.ModelProto, plan: Plan, library: FunctionLibraryLike
) -> tuple[bool, SimInterface]:
    if is_annotated(model):
        raise UnsupportedModelError(
            "the model is already annotated by analogc; run `analogc strip` first to get the original back"
        )
    index = GraphIndex(model)
    by_name = {n.name: n for n in model.graph.node}
    missing = [name for name in plan.layers if name not in by_name]
    if missing:
        raise UnsupportedModelError(f"planned layers not found in the model: {missing}")
    positions = {name: i for i, name in enumerate(plan.layers)}
    noise = plan.noise
    simulate = library.mode == "simulate"
    taken = {t for n in model.graph.node for t in (*n.input, *n.output)} | set(index.initializers)

    new_nodes: list[onnx.NodeProto] = []
    families: set[str] = set()
    sim_layers: list[SimLayer] = []
    for node in model.graph.node:
        layer = plan.layers.get(node.name)
        if layer is None:
            new_nodes.append(node)
            continue
        handler = HANDLERS.get(node.op_type)
        reason = "no handler" if handler is None else handler.check(node, index)
        if handler is None or reason is not None:
            raise UnsupportedModelError(
                f"layer '{node.name}' ({node.op_type}) cannot run analog: {reason}"
            )
        position = positions[node.name]
        prefix = _unique(f"analogc/{position}", taken)
        low = handler.lower(node, index, prefix)
        attrs: dict[str, Any] = {**low.attrs, "fan_in": handler.fan_in(node, index)}
        if not simulate:
            attrs.update(repeats=int(layer.repeats), e1=float(plan.e1))
            seed_y, seed_w = _seed_pair(plan.seed, position)
            if noise.output_noise:
                attrs["seed_y"] = seed_y
            if noise.weight:
                attrs["seed_w"] = seed_w
        if noise.thermal:
            attrs.update(k_t=float(noise.k_t), r_x=float(layer.r_x))
        if noise.weight:
            attrs["k_w"] = float(noise.k_w)
        allowed = set(library.attributes(low.family))
        attrs = {k: v for k, v in attrs.items() if k in allowed}

        inputs = list(low.inputs)
        outputs = list(node.output)
        sim = None
        if simulate:
            names = {k: f"{prefix}/{k}" for k in library.sim_inputs()}
            inputs += list(names.values())
            var = f"{prefix}/var" if library.stats else None
            if var:
                outputs.append(var)
            sim = SimLayer(
                node.name,
                names["scale"],
                names.get("eps_y"),
                names.get("eps_w"),
                var,
                node.output[0],
                node.input[1],
                index.rank(node.output[0]) or 0,
                index.rank(node.input[1]) or 0,
            )
            sim_layers.append(sim)

        call = helper.make_node(
            low.family, inputs, outputs, name=node.name, domain=library.domain, **attrs
        )
        meta = {
            "layer": node.name,
            "original_op": node.op_type,
            "original_domain": node.domain,
            "original_inputs": str(low.n_original_inputs),
            "original_attrs": json.dumps(low.original_attrs),
            "aux": json.dumps(
                [t.name for t in low.initializers] + [o for n in low.nodes for o in n.output]
            ),
            "repeats": str(int(layer.repeats)),
            "noise": noise.label,
        }
        for key, value in meta.items():
            call.metadata_props.add(key=META_PREFIX + key, value=value)
        for helper_node in low.nodes:
            helper_node.metadata_props.add(key=META_PREFIX + "helper", value=node.name)
        new_nodes.extend(low.nodes)
        new_nodes.append(call)
        model.graph.initializer.extend(low.initializers)
        families.add(low.family)

    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    for family in sorted(families):
        model.functions.append(library.function(family))
    if families:
        model.opset_import.append(helper.make_opsetid(library.domain, 1))
    if simulate:
        _add_sim_io(model, sim_layers, index)
    return bool(families), SimInterface(tuple(sim_layers))


def _add_sim_io(model: onnx.ModelProto, layers: list[SimLayer], index: GraphIndex) -> None:
    for layer in layers:
        model.graph.input.append(helper.make_tensor_value_info(layer.scale, TensorProto.FLOAT, []))
        for eps, rank in ((layer.eps_y, layer.output_rank), (layer.eps_w, layer.weight_rank)):
            if eps is not None:
                # Rank-only shapes: draws have the tensor's shape, or all ones (broadcast zero).
                dims = [f"{eps}_d{i}" for i in range(rank)]
                model.graph.input.append(
                    helper.make_tensor_value_info(eps, TensorProto.FLOAT, dims)
                )
        if layer.var is not None:
            model.graph.output.append(
                helper.make_tensor_value_info(layer.var, TensorProto.FLOAT, [])
            )


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while any(t == name or t.startswith(name + "/") for t in taken):
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _set_model_meta(model: onnx.ModelProto, key: str, value: str) -> None:
    for entry in model.metadata_props:
        if entry.key == key:
            entry.value = value
            return
    model.metadata_props.add(key=key, value=value)


def read_plan(model: onnx.ModelProto) -> Plan | None:
    """The plan an annotated (or stripped) model carries, or None."""
    for entry in model.metadata_props:
        if entry.key == PLAN_KEY:
            return Plan.from_json(entry.value)
    return None
