"""LSTM, GRU and RNN test models, built with onnx.helper, and onnxruntime's outputs for them.

:func:`recurrent_model` builds one node with any combination of the attributes and optional
inputs and outputs the ONNX spec allows. onnxruntime's CPU kernels do not run ``layout = 1``
(batch-first) nodes, float64 ones nor nodes without ``hidden_size``, so
:func:`reference_outputs` runs the same weights as a ``layout = 0`` float32 node with
``hidden_size`` and brings the outputs to the model's layout and type: onnxruntime's own
kernels remain the reference for every variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
BATCH = "N"


@dataclass(frozen=True)
class Variant:
    """One recurrent node: op type, attributes, which optional inputs/outputs it has.

    ``outputs`` lists the outputs kept (others are "" or left off the end); ``missing``
    optional inputs are "" (or left off the end when trailing).
    """

    op: str = "LSTM"
    direction: str = "forward"
    layout: int = 0
    hidden: int = 5
    input_size: int = 4
    seq: int = 6
    batch: int = 3
    bias: bool = True
    lens: bool = False
    initial_h: bool = False
    initial_c: bool = False
    peepholes: bool = False
    activations: tuple[str, ...] | None = None
    alpha: tuple[float, ...] | None = None
    beta: tuple[float, ...] | None = None
    clip: float | None = None
    input_forget: bool = False
    linear_before_reset: bool | None = None
    outputs: tuple[str, ...] = ("Y", "Y_h", "Y_c")
    dtype: int = TensorProto.FLOAT
    opset: int = 17
    hidden_size_attr: bool = True
    extra_attrs: dict[str, object] = field(default_factory=dict)

    @property
    def directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def output_roles(self) -> tuple[str, ...]:
        return ("Y", "Y_h", "Y_c") if self.op == "LSTM" else ("Y", "Y_h")

    def macs(self) -> int:
        """Per example: seq · directions · gates·H · (I + H)."""
        gh = GATES[self.op] * self.hidden
        return self.seq * self.directions * gh * (self.input_size + self.hidden)


def _np(dtype: int) -> type:
    return helper.tensor_dtype_to_np_dtype(dtype)


def weights(v: Variant, seed: int = 0) -> dict[str, np.ndarray]:
    """W, R, B, P for the variant, in float32 (scaled so that gates stay in a useful range)."""
    gen = np.random.default_rng([seed, GATES[v.op], v.hidden, v.input_size])
    gh, d = GATES[v.op] * v.hidden, v.directions
    out = {
        "W": gen.standard_normal((d, gh, v.input_size)) / np.sqrt(v.input_size),
        "R": gen.standard_normal((d, gh, v.hidden)) / np.sqrt(v.hidden),
        "B": 0.3 * gen.standard_normal((d, 2 * gh)),
        "P": 0.5 * gen.standard_normal((d, 3 * v.hidden)),
    }
    return {k: a.astype(np.float32) for k, a in out.items()}


def _shape(v: Variant, seq_first: tuple, batch_first: tuple) -> list:
    return list(batch_first if v.layout else seq_first)


def recurrent_model(v: Variant, *, name: str = "rec", seed: int = 0) -> onnx.ModelProto:
    """One ``v.op`` node named ``name`` reading graph inputs X (and lens, initial states)."""
    w = weights(v, seed)
    npt, d, h = _np(v.dtype), v.directions, v.hidden
    inits = [numpy_helper.from_array(w["W"].astype(npt), "W")]
    inits.append(numpy_helper.from_array(w["R"].astype(npt), "R"))
    x_shape = _shape(v, (v.seq, BATCH, v.input_size), (BATCH, v.seq, v.input_size))
    state_shape = _shape(v, (d, BATCH, h), (BATCH, d, h))
    graph_inputs = [helper.make_tensor_value_info("X", v.dtype, x_shape)]
    inputs = ["X", "W", "R", "", "", "", "", ""]
    if v.bias:
        inits.append(numpy_helper.from_array(w["B"].astype(npt), "B"))
        inputs[3] = "B"
    if v.lens:
        graph_inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [BATCH]))
        inputs[4] = "lens"
    for k, (flag, role) in enumerate(((v.initial_h, "h0"), (v.initial_c, "c0"))):
        if flag:
            graph_inputs.append(helper.make_tensor_value_info(role, v.dtype, state_shape))
            inputs[5 + k] = role
    if v.peepholes:
        inits.append(numpy_helper.from_array(w["P"].astype(npt), "P"))
        inputs[7] = "P"
    inputs = inputs[: 8 if v.op == "LSTM" else 6]
    while inputs[-1] == "":
        inputs.pop()
    roles = v.output_roles
    outputs = [r if r in v.outputs else "" for r in roles]
    while outputs[-1] == "":
        outputs.pop()
    attrs: dict[str, object] = {"direction": v.direction, **v.extra_attrs}
    if v.hidden_size_attr:
        attrs["hidden_size"] = h
    if v.layout:
        attrs["layout"] = 1
    if v.activations is not None:
        attrs["activations"] = list(v.activations)
    if v.alpha is not None:
        attrs["activation_alpha"] = list(v.alpha)
    if v.beta is not None:
        attrs["activation_beta"] = list(v.beta)
    if v.clip is not None:
        attrs["clip"] = v.clip
    if v.input_forget:
        attrs["input_forget"] = 1
    if v.linear_before_reset is not None:
        attrs["linear_before_reset"] = int(v.linear_before_reset)
    node = helper.make_node(v.op, inputs, outputs, name=name, **attrs)
    shapes = {
        "Y": _shape(v, (v.seq, d, BATCH, h), (BATCH, v.seq, d, h)),
        "Y_h": state_shape,
        "Y_c": state_shape,
    }
    graph_outputs = [helper.make_tensor_value_info(o, v.dtype, shapes[o]) for o in outputs if o]
    graph = helper.make_graph([node], "recurrent", graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", v.opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def feed(v: Variant, seed: int = 1) -> dict[str, np.ndarray]:
    """Random inputs; sequence lengths include a full one, a shorter one and 0."""
    gen = np.random.default_rng(seed)
    npt, d, h = _np(v.dtype), v.directions, v.hidden
    x = gen.standard_normal((v.seq, v.batch, v.input_size))
    out = {"X": (x.transpose(1, 0, 2) if v.layout else x).astype(npt)}
    if v.lens:
        lens = gen.integers(1, v.seq + 1, v.batch)
        lens[0], lens[-1] = v.seq, 0
        if v.batch > 2:
            lens[1] = max(1, v.seq // 2)
        out["lens"] = lens.astype(np.int32)
    for flag, role in ((v.initial_h, "h0"), (v.initial_c, "c0")):
        if flag:
            s = gen.standard_normal((d, v.batch, h))
            out[role] = (s.transpose(1, 0, 2) if v.layout else s).astype(npt)
    return out


def reference_outputs(
    v: Variant, inputs: dict[str, np.ndarray], *, seed: int = 0
) -> list[np.ndarray]:
    """The node's outputs as onnxruntime's LSTM/GRU/RNN kernel computes them (float32,
    layout 0, then brought to the variant's layout and type)."""
    import onnxruntime as ort

    twin = replace(v, layout=0, dtype=TensorProto.FLOAT, hidden_size_attr=True)
    model = recurrent_model(twin, seed=seed)
    fed = {}
    for key, value in inputs.items():
        if key == "lens":
            fed[key] = value
            continue
        value = value.astype(np.float32)
        fed[key] = value.transpose(1, 0, 2) if v.layout else value
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in model.graph.output]
    out = []
    for name, value in zip(names, session.run(None, fed), strict=True):
        if v.layout:
            value = value.transpose(2, 0, 1, 3) if name == "Y" else value.transpose(1, 0, 2)
        out.append(value.astype(_np(v.dtype)))
    return out
