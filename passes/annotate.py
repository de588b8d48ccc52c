"""Replace each planned op by its ``ai.analogc`` function call; record the plan in the model.

Two forms come out of the same rewrite:

* :func:`annotate` — the deployable model: repeats, noise constants and seeds are node
  attributes, noise is drawn inside the functions, and ``metadata_props`` hold the plan.
* :func:`lower_for_simulation` — analogc's own evaluation graph: per-layer noise scales and the
  Gaussian draws are graph inputs, so one onnxruntime session evaluates every repeats
  configuration with common random numbers.

Planned ops may sit in subgraphs (If branches, a Loop or Scan body): the calls there use the
same model-local functions. In the simulation graph their scales and draws are main-graph
inputs too (outer-scope values are visible inside subgraphs). As a subgraph's op may run any
number of times per run, its draws come from a flat pool: the call takes the values at
``iteration × size`` onwards (wrapping around if the pool is short), the iteration being the
Loop's counter or a counter analogc adds to the Scan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import UnsupportedModelError

from .discover import is_annotated, scope_reason
from .graph_index import GraphIndex
from .metadata import META_PREFIX, set_model_meta
from .noise import Draw, NoiseModel
from .ops import HANDLERS, AnalogFamily, OpHandler
from .plan import LayerPlan, Plan
from .result import PassResult
from .scopes import LOOP_OPS, Exposer, Located, all_names, fresh, graphs, locate

PLAN_KEY = META_PREFIX + "plan"
FUNCTIONS_IR_VERSION = 8  # model-local functions need IR version 8


class FunctionLibraryLike(Protocol):
    """What the rewrite needs from :class:`analogc.runtime.functions.FunctionLibrary`."""

    @property
    def domain(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def stats(self) -> bool: ...

    def function(
        self,
        family: AnalogFamily,
        *,
        dtype: int = ...,
        pooled: bool = ...,
        noise: NoiseModel | None = ...,
    ) -> onnx.FunctionProto: ...
    def draws_of(self, noise: NoiseModel | None = ...) -> list[Draw]: ...
    def chip_inputs(self, noise: NoiseModel | None = ...) -> list[str]: ...
    def sim_inputs(self, noise: NoiseModel | None = ...) -> list[str]: ...
    def variance_outputs(self, noise: NoiseModel | None = ...) -> list[str]: ...
    def node_attributes(
        self,
        family: AnalogFamily,
        *,
        plan: Plan,
        layer: LayerPlan,
        fan_in: float | None,
        seeds: dict[str, float],
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SimDraw:
    """One layer's standard-normal draws in the lowered graph.

    Attributes:
        input: the graph input that takes them.
        like: ``output`` or ``weight``: the tensor whose shape they have.
        rank: the input's rank (1 for a pool of draws).
        per: ``run`` (fresh for every run) or ``chip`` (one draw per noise seed, every batch).
    """

    input: str
    like: str
    rank: int
    per: str = "run"


@dataclass(frozen=True)
class SimLayer:
    """Where one layer's simulation inputs and outputs are in the lowered graph.

    Attributes:
        scale: the graph input taking the layer's temporal noise scale.
        draws: draw name (``eps_y``, ``eps_w``, ...) -> its input.
        variances: noise term -> the graph output of its mean variance at E = 1 (``stats``).
        pooled: the layer sits in a subgraph: its draws are flat pools (rank 1) of which each
            run of the layer takes its share.
    """

    name: str
    scale: str
    draws: Mapping[str, SimDraw]
    variances: Mapping[str, str]
    output: str
    weight: str
    pooled: bool = False

    @property
    def has_chip_draws(self) -> bool:
        return any(d.per == "chip" for d in self.draws.values())


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
    set_model_meta(model, PLAN_KEY, plan.to_json())
    return PassResult(model, modified)


def lower_for_simulation(
    model: onnx.ModelProto, plan: Plan, library: FunctionLibraryLike
) -> tuple[PassResult, SimInterface]:
    """The evaluation graph: noise scales and draws become graph inputs. Mutates ``model``."""
    if library.mode != "simulate":
        raise ValueError("lower_for_simulation() needs a simulate-mode library")
    modified, interface = _rewrite(model, plan, library)
    return PassResult(model, modified), interface


def draw_seeds(seed: int, position: int, draws: list[Draw]) -> dict[str, float]:
    """RandomNormalLike seeds of one layer's draws, distinct and exact in float32.

    Each draw's seed is word ``slot`` of a SeedSequence of (plan seed, layer position), so a
    draw keeps its seed whichever other terms are enabled.
    """
    if not draws:
        return {}
    words = np.random.SeedSequence([seed, position]).generate_state(max(d.slot for d in draws) + 1)
    return {d.seed: float(words[d.slot] % (1 << 24)) for d in draws}


@dataclass
class _Call:
    """One planned op: where it is and what replaces it."""

    loc: Located
    call: onnx.NodeProto
    helpers: list[onnx.NodeProto]
    initializers: list[onnx.TensorProto]


def _rewrite(
    model: onnx.ModelProto, plan: Plan, library: FunctionLibraryLike
) -> tuple[bool, SimInterface]:
    if is_annotated(model):
        raise UnsupportedModelError(
            "the model is already annotated by analogc; run `analogc strip` first to get the original back"
        )
    found = locate(model)
    missing = [name for name in plan.layers if name not in found]
    if missing:
        raise UnsupportedModelError(f"planned layers not found in the model: {missing}")
    for name in plan.layers:  # every planned op can run analog: checked before any edit
        _check(found[name])
    simulate = library.mode == "simulate"
    taken = all_names(model)
    positions = {name: i for i, name in enumerate(plan.layers)}
    if simulate:
        _add_scan_counters(model, [found[n] for n in plan.layers], taken)
        found = locate(model)

    calls: dict[str, _Call] = {}
    functions: dict[str, onnx.FunctionProto] = {}
    sim_layers: list[SimLayer] = []
    for name in plan.layers:
        loc = found[name]
        call, sim, function = _lower_one(loc, plan, library, positions[name], taken)
        calls[name] = call
        functions.setdefault(function.name, function)
        if sim is not None:
            sim_layers.append(sim)

    # Children before parents: rebuilding a graph's node list copies the nodes it holds.
    for scope in reversed(graphs(model)):
        own = [c for c in calls.values() if c.loc.path == scope.path]
        if not own:
            continue
        by_name = {c.loc.node.name: c for c in own}
        new_nodes: list[onnx.NodeProto] = []
        for node in scope.graph.node:
            c = by_name.get(node.name)
            if c is None:
                new_nodes.append(node)
                continue
            new_nodes.extend(c.helpers)
            new_nodes.append(c.call)
            scope.graph.initializer.extend(c.initializers)
        del scope.graph.node[:]
        scope.graph.node.extend(new_nodes)

    for name in sorted(functions):
        model.functions.append(functions[name])
    if functions:
        model.opset_import.append(helper.make_opsetid(library.domain, 1))
        model.ir_version = max(model.ir_version, FUNCTIONS_IR_VERSION)
    if simulate:
        sim_layers = _add_sim_io(model, sim_layers, taken)
    return bool(functions), SimInterface(tuple(sim_layers))


def _lower_one(
    loc: Located, plan: Plan, library: FunctionLibraryLike, position: int, taken: set[str]
) -> tuple[_Call, SimLayer | None, onnx.FunctionProto]:
    node, index = loc.node, loc.index
    layer = plan.layers[node.name]
    noise = plan.noise_of(node.name)
    simulate = library.mode == "simulate"
    handler = _check(loc)
    prefix = _unique(f"analogc/{position}", taken)
    low = handler.lower(node, index, prefix)
    pooled = simulate and bool(loc.scopes)
    draws = library.draws_of(noise)
    seeds = draw_seeds(plan.seed, position, draws)
    analog = library.node_attributes(
        low.family,
        plan=plan,
        layer=layer,
        fan_in=handler.fan_in(node, index),
        seeds=seeds,
    )
    attrs = {k: v for k, v in low.attrs.items() if k in low.family.attributes}
    attrs.update(analog)

    inputs = list(low.inputs)
    outputs = list(node.output[:1])
    initializers = list(low.initializers)
    stored = _chip_draws(library.chip_inputs(noise), draws, seeds, index, node, prefix)
    inputs += [t.name for t in stored]
    initializers += stored
    sim = None
    if simulate:
        names = {k: f"{prefix}/{k}" for k in library.sim_inputs(noise)}
        inputs += list(names.values())
        if pooled:
            offset, extra = _iteration(loc, prefix, taken)
            inputs.append(offset)
            initializers += extra
        variances = {out[len("var_") :]: f"{prefix}/{out}" for out in library.variance_outputs()}
        outputs += list(variances.values())
        ranks = {
            "output": 1 if pooled else (index.rank(node.output[0]) or 0),
            "weight": 1 if pooled else (index.rank(node.input[1]) or 0),
        }
        sim_draws = {
            d.name: SimDraw(
                names[d.name],
                d.like,
                index.rank(node.input[1]) or 0 if d.per == "chip" else ranks[d.like],
                d.per,
            )
            for d in draws
        }
        sim = SimLayer(
            node.name, names["scale"], sim_draws, variances, node.output[0], node.input[1], pooled
        )

    function = library.function(low.family, dtype=low.dtype, pooled=pooled, noise=layer.noise)
    call = helper.make_node(
        function.name, inputs, outputs, name=node.name, domain=library.domain, **attrs
    )
    meta = {
        "layer": node.name,
        "original_op": node.op_type,
        "original_domain": node.domain,
        "original_inputs": str(low.n_original_inputs),
        "original_attrs": json.dumps(low.original_attrs),
        "aux": json.dumps(
            [t.name for t in [*low.initializers, *stored]]
            + [o for n in low.nodes for o in n.output]
        ),
        "repeats": str(int(layer.repeats)),
        "noise": plan.noise.label,
    }
    if not low.family.static_fan_in:
        meta["fan_in"] = "run-time: the product of the operands' contracted sizes"
    for key, value in meta.items():
        call.metadata_props.add(key=META_PREFIX + key, value=value)
    for helper_node in low.nodes:
        helper_node.metadata_props.add(key=META_PREFIX + "helper", value=node.name)
    return _Call(loc, call, list(low.nodes), initializers), sim, function


def _chip_draws(
    names: list[str],
    draws: list[Draw],
    seeds: dict[str, float],
    index: GraphIndex,
    node: onnx.NodeProto,
    prefix: str,
) -> list[TensorProto]:
    """The deployable model's programmed chip: the per-chip draws of one layer, stored as
    float16 initializers (drawn from the layer's seeds: the plan seed is the chip)."""
    stored = []
    by_name = {d.name: d for d in draws}
    for name in names:
        shape = index.static_shape(node.input[1])
        if shape is None:
            raise UnsupportedModelError(
                f"layer '{node.name}': a programmed-chip term needs the weight's shape, which is "
                "not static"
            )
        rng = np.random.default_rng(int(seeds[by_name[name].seed]))
        values = rng.standard_normal(shape, dtype=np.float32).astype(np.float16)
        stored.append(numpy_helper.from_array(values, f"{prefix}/{name}"))
    return stored


def _check(loc: Located) -> OpHandler:
    """The handler of a planned op, or why it cannot run analog."""
    node = loc.node
    domain = "" if node.domain == "ai.onnx" else node.domain
    handler = HANDLERS.get(node.op_type) if domain == "" else None
    reason = "no handler" if handler is None else handler.check(node, loc.index)
    reason = reason or scope_reason(loc.scopes)
    if handler is None or reason is not None:
        raise UnsupportedModelError(
            f"layer '{node.name}' ({node.op_type}) cannot run analog: {reason}"
        )
    return handler


def _iteration(loc: Located, prefix: str, taken: set[str]) -> tuple[str, list[TensorProto]]:
    """The int64 scalar that numbers this run of a subgraph op (0 outside loops)."""
    loops = [s for s in loc.scopes if s.op_type in LOOP_OPS]
    if not loops:
        name = fresh(f"{prefix}/iteration", taken)
        return name, [numpy_helper.from_array(np.zeros((), np.int64), name)]
    body = loops[0].graph
    return body.input[0].name, []  # Loop: the iteration number; Scan: analogc's counter


_COUNTER_KEY = META_PREFIX + "scan_counter"


def _add_scan_counters(model: onnx.ModelProto, planned: list[Located], taken: set[str]) -> None:
    """Give each Scan whose body holds a planned op a first state: an iteration counter."""
    done: set[int] = set()
    for loc in planned:
        for scope in loc.scopes:
            if scope.op_type != "Scan" or id(scope.node) in done:
                continue
            done.add(id(scope.node))
            node, body = scope.node, scope.graph
            base = f"{node.name}/analogc_counter"
            start, c_in, c_out, one = (
                fresh(f"{base}_{k}", taken) for k in ("start", "in", "out", "one")
            )
            parent = (
                model.graph
                if scope is loc.scopes[0]
                else loc.scopes[loc.scopes.index(scope) - 1].graph
            )
            parent.initializer.append(numpy_helper.from_array(np.zeros((), np.int64), start))
            node.input.insert(0, start)
            node.output.insert(0, fresh(f"{base}_final", taken))
            inputs = list(body.input)
            del body.input[:]
            body.input.extend([helper.make_tensor_value_info(c_in, TensorProto.INT64, []), *inputs])
            outputs = list(body.output)
            del body.output[:]
            body.output.extend(
                [helper.make_tensor_value_info(c_out, TensorProto.INT64, []), *outputs]
            )
            body.initializer.append(numpy_helper.from_array(np.ones((), np.int64), one))
            counter = helper.make_node("Add", [c_in, one], [c_out], name=c_out)
            counter.metadata_props.add(key=_COUNTER_KEY, value=node.name)
            body.node.append(counter)


def _add_sim_io(model: onnx.ModelProto, layers: list[SimLayer], taken: set[str]) -> list[SimLayer]:
    """Graph inputs for scales and draws; graph outputs for the variance statistics."""
    found = locate(model)
    exposer = Exposer(model)
    out: list[SimLayer] = []
    for layer in layers:
        model.graph.input.append(helper.make_tensor_value_info(layer.scale, TensorProto.FLOAT, []))
        for draw in layer.draws.values():
            # Rank-only shapes: draws have the tensor's shape, or all ones (broadcast zero).
            dims = [f"{draw.input}_d{i}" for i in range(draw.rank)]
            model.graph.input.append(
                helper.make_tensor_value_info(draw.input, TensorProto.FLOAT, dims)
            )
        variances = {
            term: _expose_variance(model, exposer, found[layer.name], var, taken)
            for term, var in layer.variances.items()
        }
        out.append(replace(layer, variances=variances))
    return out


def _expose_variance(
    model: onnx.ModelProto, exposer: Exposer, loc: Located, var: str, taken: set[str]
) -> str:
    """A layer's variance statistic as a main-graph output (averaged over loop iterations)."""
    if not loc.scopes:
        model.graph.output.append(helper.make_tensor_value_info(var, TensorProto.FLOAT, []))
        return var
    exposed, stacked = exposer.expose(var, loc.scopes, TensorProto.FLOAT, 0)
    if stacked:  # one value per iteration: their mean
        mean = fresh(f"{var}/mean", taken)
        model.graph.node.append(
            helper.make_node("ReduceMean", [exposed], [mean], name=mean, keepdims=0)
        )
        exposed = _replace_output(model, exposed, mean)
    return exposed


def _replace_output(model: onnx.ModelProto, old: str, new: str) -> str:
    for output in model.graph.output:
        if output.name == old:
            output.CopyFrom(helper.make_tensor_value_info(new, TensorProto.FLOAT, []))
    return new


def _unique(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while any(t == name or t.startswith(name + "/") for t in taken):
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def read_plan(model: onnx.ModelProto) -> Plan | None:
    """The plan an annotated (or stripped) model carries, or None."""
    for entry in model.metadata_props:
        if entry.key == PLAN_KEY:
            return Plan.from_json(entry.value)
    return None
