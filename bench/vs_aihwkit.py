"""Noisy-inference throughput of analogc against IBM aihwkit 1.1 (issue 6 target 2, issue 13 item 4).

Same weights on both sides, comparable output noise, noise drawn fresh on every forward on both
sides, measured side by side in one process:

* aihwkit: the model rebuilt in torch from the ONNX initializers, ``convert_to_analog`` with
  ``TorchInferenceRPUConfig`` (its pure-PyTorch tile; the compiled tiles do not run beside
  torch 2.13). Forward: ``out_noise = σ_a`` (Gaussian, absolute, in output units here),
  no DAC/ADC quantisation, no bounds, bound and noise management off, no weight noise, no
  programming noise or drift, one tile per layer. torch draws new noise on every forward.
* analogc: the same ONNX file with thermal noise (DESIGN §2); per-layer repeats are chosen so
  that every layer's RMS output noise std equals σ_a (to within rounding of N). Two ways to run
  it, both drawing new noise on every forward: (a) the standalone annotated model in a plain
  onnxruntime session (noise drawn inside the graph) and (b) the search-time
  :class:`analogc.runtime.simulate.Simulator` with its draw cache off and a new seed per run.
  Only these two are in the headline. (A Simulator that reuses one stored noise sample draws
  nothing, so it is not comparable with aihwkit and is not timed.)

Clean baselines (torch, onnxruntime, the Simulator with all noise scales 0) and aihwkit with
``is_perfect=True`` (its tile machinery without noise) are timed in the same rounds, as context.

Fairness (issue 13 item 4):

* **Allocator.** Both sides run in one process, so they share its glibc malloc. The script runs
  the benchmark in a child process of itself whose environment sets ``GLIBC_TUNABLES`` (glibc
  reads it only at start-up): ``--malloc default`` (unset: glibc's defaults, under which a large
  block is mmap'ed and handed back to the OS on free, so torch's big temporaries page-fault on
  every forward), ``--malloc tuned`` (``MALLOC_SETTINGS["tuned"]``: nothing mmap'ed, the heap
  never trimmed below 1 GiB) or ``--malloc both`` (one child each, the default). The child checks
  that its environment carries the setting and measures it with a malloc probe; the setting and
  the minor page faults per forward of every mode are recorded.
* **Threads.** ``--threads`` (default 1) for both: torch ``set_num_threads`` (inter-op 1),
  onnxruntime ``intra_op_num_threads`` (inter-op 1), the Simulator's draw pool.
* **Order.** Every round runs every mode once, in an order drawn afresh from a seeded generator
  (``--seed``; each child adds 1000 per child before it), no round repeating an earlier round's
  order while unused orders remain; the same seed gives the same orders. A rotation (A B C,
  B C A, ...) would keep every mode after the same neighbour; random orders do not (in the
  committed results no mode has the same predecessor in every round). The orders are recorded.

Run (needs the ``.venv-aihwkit`` described in ``pyproject.toml``'s ``aihwkit`` extra)::

    .venv-aihwkit/bin/python bench/vs_aihwkit.py            # both settings, writes the results
    .venv-aihwkit/bin/python bench/vs_aihwkit.py --smoke    # seconds; writes nothing
    python bench/vs_aihwkit.py --env-report                 # the children's malloc set-up only

Without torch or aihwkit the script prints ``aihwkit not installed: skipping`` and exits 0
(``--env-report`` runs anyway: it needs neither).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "vs_aihwkit.md"
MODELS_DIR = ROOT / "models"
TARGET_RATIO = 3.0
MAX_ABS_DIFF = 1e-4
MIN_REPEATS = 16  # smallest per-layer N when matching σ_a: rounding N moves σ by < 3%
MODELS = ("digits_resnet", "mlp1024", "wide_cnn")
# mode names used in the tables
PERFECT = "aihwkit is_perfect (no noise)"
STANDALONE = "analogc standalone (noise in graph)"
FRESH = "analogc simulator, fresh seed"
SIM_CLEAN = "analogc simulator, scales 0 (clean)"
HEADLINE = (STANDALONE, FRESH)
"""The analogc modes compared with aihwkit in the verdict: both draw new noise every forward."""


@dataclass(frozen=True)
class ModeSpec:
    """One timed mode: which side's stack runs it, and what noise it draws.

    Attributes:
        name: label in tables.
        side: "aihwkit" (torch) or "analogc" (onnxruntime).
        noise: "fresh" (new Gaussians every forward) or "none" (a clean baseline).
    """

    name: str
    side: str
    noise: str


MODE_SPECS = (
    ModeSpec("torch clean", "aihwkit", "none"),
    ModeSpec(PERFECT, "aihwkit", "none"),
    ModeSpec("aihwkit noisy", "aihwkit", "fresh"),
    ModeSpec("onnxruntime clean", "analogc", "none"),
    ModeSpec(STANDALONE, "analogc", "fresh"),
    ModeSpec(FRESH, "analogc", "fresh"),
    ModeSpec(SIM_CLEAN, "analogc", "none"),
)
"""Every mode the bench times, in its nominal order (each round shuffles it)."""
MODE_NAMES = [spec.name for spec in MODE_SPECS]

MALLOC_SETTINGS: dict[str, str | None] = {
    "default": None,
    "tuned": "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824",
}
"""``GLIBC_TUNABLES`` of each ``--malloc`` setting (None: unset, glibc's defaults)."""
MALLOC_MARK = "ANALOGC_VS_AIHWKIT_MALLOC"
"""Environment variable naming the setting a child was started with."""


# -------------------------------------------------------------------------------------------
# Models: the committed digits ResNet, and two larger ones where compute dominates


@dataclass(frozen=True)
class Workload:
    """One model file and the data its timing and calibration use.

    Attributes:
        name: short label in tables.
        path: the ONNX model.
        batch: the timed batch (first axis = examples).
        calib: calibration inputs for analogc (input ranges, noise levels).
        labels: labels of ``batch`` when the data is real, else None.
        description: one line for the report.
    """

    name: str
    path: Path
    batch: np.ndarray
    calib: np.ndarray
    labels: np.ndarray | None
    description: str


def digits_workload(batch_size: int) -> Workload:
    """The digits ResNet on its own test images (the committed model, BN folded into convs)."""
    with (
        np.load(MODELS_DIR / "digits_test.npz") as test,
        np.load(MODELS_DIR / "digits_calib.npz") as calib,
    ):
        image, labels, calib_image = test["image"], test["labels"], calib["image"]
    reps = -(-batch_size // len(image))  # tile if the batch exceeds the 300 test images
    batch = np.ascontiguousarray(np.concatenate([image] * reps)[:batch_size], np.float32)
    return Workload(
        name="digits_resnet",
        path=MODELS_DIR / "digits_resnet.onnx",
        batch=batch,
        calib=np.ascontiguousarray(calib_image, np.float32),
        labels=np.concatenate([labels] * reps)[:batch_size],
        description="models/digits_resnet.onnx: 9 analog ops (8 Conv, one grouped; 1 Gemm), "
        "0.72 M MACs/example, input 1×8×8",
    )


def export_torch(build: Callable[[], Any], shape: Sequence[int], path: Path) -> None:
    """Export a seeded torch model with the TorchScript exporter (named I/O, dynamic batch)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = build().eval()
    for m in model.modules():  # He init keeps activations O(1) through the ReLUs, so that a
        if isinstance(m, (nn.Conv2d, nn.Linear)):  # fixed σ_a gives a sensible logit SNR
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.normal_(m.bias, std=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, *shape),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            do_constant_folding=True,
        )


def synthetic_workload(name: str, batch_size: int, tmp: Path) -> Workload:
    """A larger random-weight model, so that the ratio is also shown where compute dominates."""
    from torch import nn

    if name == "mlp1024":
        shape: tuple[int, ...] = (1024,)

        def build() -> nn.Module:
            return nn.Sequential(
                nn.Linear(1024, 1024),
                nn.ReLU(),
                nn.Linear(1024, 1024),
                nn.ReLU(),
                nn.Linear(1024, 1024),
                nn.ReLU(),
                nn.Linear(1024, 10),
            )

        text = "MLP 1024-1024-1024-1024-10 (4 Gemm), 3.2 M MACs/example, random weights"
    elif name == "wide_cnn":
        shape = (3, 16, 16)

        def build() -> nn.Module:
            return nn.Sequential(
                nn.Conv2d(3, 64, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(64, 64, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(64, 128, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(128, 128, 3, padding=1),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(128, 10),
            )

        text = "CNN 3→64→64→128(s2)→128 3×3 convs + GAP + Linear, 24 M MACs/example, 3×16×16"
    else:
        raise ValueError(f"unknown model {name!r}")
    path = tmp / f"{name}.onnx"
    export_torch(build, shape, path)
    rng = np.random.default_rng(1)
    return Workload(
        name=name,
        path=path,
        batch=rng.standard_normal((batch_size, *shape), np.float32),
        calib=rng.standard_normal((256, *shape), np.float32),
        labels=None,
        description=text + " (exported with torch.onnx, dynamo=False)",
    )


# -------------------------------------------------------------------------------------------
# The ONNX graph as a torch module (same weights, so aihwkit converts exactly what analogc runs)


def module_key(node_name: str) -> str:
    """The torch submodule name of an ONNX node (module names may not contain dots)."""
    return node_name.strip("/").replace("/", "_").replace(".", "_")


def torch_from_onnx(model: onnx.ModelProto, *, split_groups: bool) -> torch.nn.Module:
    """A torch module computing the ONNX graph, weights taken from its initializers.

    Supports what the benchmark models use: Conv (any group), Gemm, MatMul with a constant
    weight, Relu, Add, GlobalAveragePool, Flatten. Each Conv/Gemm becomes an ``nn.Conv2d`` /
    ``nn.Linear`` (with bias), which is what ``convert_to_analog`` replaces. aihwkit's analog
    convolutions take ``groups=1`` only, so ``split_groups`` turns a grouped Conv into one
    Conv2d per group (each on its own tile, the same MACs as the grouped op).
    """
    import torch
    from onnx import numpy_helper
    from torch import nn

    inits = {
        t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer
    }

    class GroupedConv(nn.Module):
        """A grouped convolution as one groups=1 Conv2d per group, outputs concatenated."""

        def __init__(self, convs: list[nn.Conv2d]) -> None:
            super().__init__()
            self.convs = nn.ModuleList(convs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = torch.chunk(x, len(self.convs), dim=1)
            return torch.cat([c(p) for c, p in zip(self.convs, parts, strict=True)], dim=1)

    class OnnxNet(nn.Module):
        """Walks the ONNX node list; analog ops are submodules, the rest torch functions."""

        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleDict()
            self.steps: list[tuple[str, str, list[str], str]] = []
            self.input_name = model.graph.input[0].name
            self.output_name = model.graph.output[0].name
            for node in model.graph.node:
                if node.op_type == "Identity" and node.input[0] in inits:
                    inits[node.output[0]] = inits[node.input[0]]  # a shared constant
                    continue
                key = module_key(node.name)
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                args = [i for i in node.input if i not in inits]
                if node.op_type == "Conv":
                    self.layers[key] = self._conv(node, attrs)
                elif node.op_type == "Gemm":
                    self.layers[key] = self._linear(node, attrs)
                elif node.op_type == "MatMul" and node.input[1] in inits:
                    w = inits[node.input[1]]
                    lin = nn.Linear(w.shape[0], w.shape[1], bias=False)
                    lin.weight.data = w.T.contiguous()
                    self.layers[key] = lin
                elif node.op_type not in ("Relu", "Add", "GlobalAveragePool", "Flatten"):
                    raise NotImplementedError(f"{node.op_type} ({node.name}) is not supported")
                if node.op_type == "Flatten" and attrs.get("axis", 1) != 1:
                    raise NotImplementedError("Flatten with axis != 1")
                if node.op_type == "Add" and len(args) != 2:
                    raise NotImplementedError("Add of a constant")
                self.steps.append((node.op_type, key, args, node.output[0]))

        @staticmethod
        def _conv(node: onnx.NodeProto, attrs: dict[str, Any]) -> nn.Module:
            w = inits[node.input[1]]
            b = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            if pads[:2] != pads[2:] or attrs.get("auto_pad", b"NOTSET") not in (
                b"NOTSET",
                "NOTSET",
            ):
                raise NotImplementedError(f"{node.name}: asymmetric or automatic padding")
            groups = int(attrs.get("group", 1))
            c_out, c_in_g = int(w.shape[0]), int(w.shape[1])

            def conv(
                cin: int, cout: int, g: int, wt: torch.Tensor, bt: torch.Tensor | None
            ) -> nn.Conv2d:
                layer = nn.Conv2d(
                    cin,
                    cout,
                    tuple(wt.shape[2:]),
                    stride=tuple(attrs.get("strides", [1, 1])),
                    padding=tuple(pads[:2]),
                    dilation=tuple(attrs.get("dilations", [1, 1])),
                    groups=g,
                    bias=bt is not None,
                )
                layer.weight.data = wt.clone()
                if bt is not None:
                    layer.bias.data = bt.clone()
                return layer

            if groups == 1 or not split_groups:
                return conv(c_in_g * groups, c_out, groups, w, b)
            per = c_out // groups
            return GroupedConv(
                [
                    conv(
                        c_in_g,
                        per,
                        1,
                        w[g * per : (g + 1) * per],
                        None if b is None else b[g * per : (g + 1) * per],
                    )
                    for g in range(groups)
                ]
            )

        @staticmethod
        def _linear(node: onnx.NodeProto, attrs: dict[str, Any]) -> nn.Linear:
            if (
                attrs.get("transA", 0)
                or attrs.get("alpha", 1.0) != 1.0
                or attrs.get("beta", 1.0) != 1.0
            ):
                raise NotImplementedError(f"{node.name}: Gemm with transA/alpha/beta")
            w = inits[node.input[1]]
            w = w if attrs.get("transB", 0) else w.T
            b = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            lin = nn.Linear(int(w.shape[1]), int(w.shape[0]), bias=b is not None)
            lin.weight.data = w.contiguous().clone()
            if b is not None:
                lin.bias.data = b.clone()
            return lin

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            env = {self.input_name: x}
            for op, key, args, out in self.steps:
                a = [env[i] for i in args]
                if op in ("Conv", "Gemm", "MatMul"):
                    env[out] = self.layers[key](a[0])
                elif op == "Relu":
                    env[out] = torch.relu(a[0])
                elif op == "Add":
                    env[out] = a[0] + a[1]
                elif op == "GlobalAveragePool":
                    env[out] = a[0].mean(dim=(2, 3), keepdim=True)
                else:  # Flatten, axis 1
                    env[out] = a[0].flatten(1)
            return env[self.output_name]

    return OnnxNet().eval()


# -------------------------------------------------------------------------------------------
# aihwkit side


def aihwkit_config(out_noise: float, *, perfect: bool = False) -> Any:
    """``TorchInferenceRPUConfig`` whose forward adds only Gaussian output noise of std σ_a.

    With no weight remapping (``weight_scaling_omega = 0``), no noise management (inputs not
    rescaled) and no input range, the tile computes ``W·x`` in the layer's own units, so
    ``out_noise`` is an absolute std in output units: every output element of every analog
    layer gets ``+ N(0, σ_a²)`` before the (digital) bias. Bounds 0 mean unbounded.
    """
    from aihwkit.simulator.configs import TorchInferenceRPUConfig
    from aihwkit.simulator.parameters.enums import (
        BoundManagementType,
        NoiseManagementType,
        WeightModifierType,
        WeightNoiseType,
    )

    cfg = TorchInferenceRPUConfig()
    fwd = cfg.forward
    fwd.is_perfect = perfect
    fwd.out_noise = out_noise
    fwd.out_noise_std = 0.0  # one σ for every output column (no device-to-device spread)
    fwd.inp_noise = 0.0
    fwd.inp_res = -1.0  # no DAC quantisation
    fwd.out_res = -1.0  # no ADC quantisation
    fwd.inp_bound = 0.0  # 0: no input clipping
    fwd.out_bound = 0.0  # 0: no output clipping
    fwd.bound_management = BoundManagementType.NONE
    fwd.noise_management = NoiseManagementType.NONE
    fwd.w_noise = 0.0
    fwd.w_noise_type = WeightNoiseType.NONE
    cfg.modifier.type = WeightModifierType.NONE
    cfg.mapping.weight_scaling_omega = 0.0
    cfg.mapping.digital_bias = True
    cfg.mapping.max_input_size = 0  # 0/0: never split a layer over several tiles
    cfg.mapping.max_output_size = 0
    cfg.drift_compensation = None  # no drift is applied, so no readout/compensation either
    return cfg


def to_analog(net: torch.nn.Module, out_noise: float, *, perfect: bool = False) -> torch.nn.Module:
    """aihwkit's analog copy of ``net`` (every Conv2d/Linear on a torch inference tile)."""
    from aihwkit.nn.conversion import convert_to_analog

    return convert_to_analog(net, aihwkit_config(out_noise, perfect=perfect)).eval()


def aihwkit_layer_sigmas(analog: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Measured output-noise std of every analog layer: run it twice on its own captured input.

    The difference of two noisy outputs of the same input has std σ·√2, whatever the signal.
    """
    import torch
    from aihwkit.nn.modules.base import AnalogLayerBase

    leaves = {
        name: m
        for name, m in analog.named_modules()
        if isinstance(m, AnalogLayerBase) and hasattr(m, "analog_module")
    }
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: captured.__setitem__(name, inp[0].detach())
        )
        for name, m in leaves.items()
    ]
    with torch.no_grad():
        analog(x)
    for h in hooks:
        h.remove()
    sigmas = {}
    with torch.no_grad():
        for name, m in leaves.items():
            a, b = m(captured[name]), m(captured[name])
            sigmas[name] = float((a - b).std() / math.sqrt(2.0))
    return sigmas


# -------------------------------------------------------------------------------------------
# analogc side


@dataclass
class AnalogcSide:
    """analogc's two runnable noisy forms of one model, with its noise plan.

    Attributes:
        k_t: thermal constant used.
        repeats: per-layer N chosen so that each layer's RMS output noise std is σ_a.
        sigma: analogc's per-layer RMS output noise std at those repeats (from its own stats).
        standalone: session of the annotated model (noise drawn in the graph).
        clean: session of the original model.
        sim_fresh: Simulator without a draw cache (a new seed each run: new draws).
        scales: the Simulator's per-layer noise scales for ``repeats``.
        input_name: the model's input.
        annotated_path: where the standalone model was written (for onnxruntime profiling).
    """

    k_t: float
    repeats: dict[str, int]
    sigma: dict[str, float]
    standalone: ort.InferenceSession
    clean: ort.InferenceSession
    sim_fresh: Any
    scales: dict[str, float]
    input_name: str
    annotated_path: Path


def session(
    model: onnx.ModelProto | Path, threads: int, *, spin: bool = True, profile: str | None = None
) -> ort.InferenceSession:
    """A plain onnxruntime CPU session with ``threads`` intra-op threads (default spinning)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def analogc_side(
    wl: Workload, sigma_a: float, threads: int, tmp: Path, *, spin: bool = True
) -> AnalogcSide:
    """Calibrate, choose k_t and per-layer repeats that match σ_a, and build both runtimes.

    σ of thermal noise is ``k_t · r_w,i · r_x · sqrt(D) / sqrt(N)``: a first CalibratedModel at
    k_t = 1 gives each layer's RMS σ at N = 1; k_t is then set so that the quietest layer needs
    N = MIN_REPEATS, and every layer gets ``N = round((σ1/σ_a)²)``.
    """
    from analogc.calibrated import CalibratedModel, open_model
    from analogc.hardware import HardwareConfig
    from analogc.passes import NoiseModel, annotate
    from analogc.runtime.data import Dataset
    from analogc.runtime.functions import FunctionLibrary
    from analogc.runtime.metrics import METRICS
    from analogc.runtime.simulate import Simulator

    loaded = open_model(wl.path)
    input_name = loaded.model.graph.input[0].name
    data = Dataset(inputs={input_name: wl.calib}, source=f"{wl.name} calibration")
    unit = HardwareConfig(name="thermal-kt1", noise=NoiseModel(thermal=True, k_t=1.0))
    probe = CalibratedModel(loaded, unit, data, metric=METRICS["agreement"], threads=threads)
    s1 = {f.name: f.sigma1 for f in probe.facts}
    k_t = math.sqrt(MIN_REPEATS) * sigma_a / min(s1.values())
    repeats = {n: max(1, round((k_t * s / sigma_a) ** 2)) for n, s in s1.items()}
    hw = HardwareConfig(
        name="bench-thermal",
        description=f"thermal noise only, k_t = {k_t:.4g}, repeats matched to σ_a = {sigma_a}",
        noise=NoiseModel(thermal=True, k_t=k_t),
    )
    bench = CalibratedModel(loaded, hw, data, metric=METRICS["agreement"], threads=threads)
    sigma = {a.name: a.sigma for a in bench.account(repeats).layers}

    annotated = copy.deepcopy(loaded.model)
    annotate(annotated, bench.plan(repeats), FunctionLibrary(noise=hw.noise, opset=loaded.opset))
    annotated_path = tmp / f"{wl.name}.analog.onnx"
    onnx.save(annotated, str(annotated_path))
    fresh = Simulator(
        loaded.model,
        bench.base_plan,
        shapes=bench.calibration.shapes,
        threads=threads,
        cache_bytes=0,
    )
    return AnalogcSide(
        k_t=k_t,
        repeats=repeats,
        sigma=sigma,
        standalone=session(annotated_path, threads, spin=spin),
        clean=session(wl.path, threads, spin=spin),
        sim_fresh=fresh,
        scales=bench.simulator.scales(repeats),
        input_name=input_name,
        annotated_path=annotated_path,
    )


# -------------------------------------------------------------------------------------------
# Timing


@dataclass
class Mode:
    """One way of running the model: a callable doing one forward pass of the batch."""

    spec: ModeSpec
    run: Callable[[], object]
    times: list[float] = field(default_factory=list)  # seconds per forward, one per round
    faults: list[float] = field(default_factory=list)  # minor page faults per forward, per round
    iters: int = 1

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def side(self) -> str:
        return self.spec.side

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def faults_median(self) -> float:
        return statistics.median(self.faults)


def round_orders(n: int, rounds: int, seed: int) -> list[list[int]]:
    """The order of ``n`` modes in each of ``rounds`` rounds: seeded random permutations.

    Each round's order is drawn afresh; an order already used is drawn again while unused
    orders remain (for n ≥ 4 and the usual number of rounds, every round differs). The same
    seed gives the same orders.
    """
    rng = random.Random(seed)
    orders: list[list[int]] = []
    seen: set[tuple[int, ...]] = set()
    total = math.factorial(n)
    for _ in range(rounds):
        order = list(range(n))
        rng.shuffle(order)
        while tuple(order) in seen and len(seen) < total:
            rng.shuffle(order)
        seen.add(tuple(order))
        orders.append(order)
    return orders


def minor_faults() -> int:
    """Minor page faults of this process so far (all its threads: both sides run here)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_one(mode: Mode) -> None:
    """One timed run of ``mode``: ``iters`` forwards; records seconds and faults per forward."""
    f0 = minor_faults()
    t0 = time.perf_counter()
    for _ in range(mode.iters):
        mode.run()
    mode.times.append((time.perf_counter() - t0) / mode.iters)
    mode.faults.append((minor_faults() - f0) / mode.iters)


def time_modes(
    modes: Sequence[Mode],
    *,
    rounds: int,
    warmup: int,
    run_s: float,
    seed: int,
    blocks: bool = False,
) -> list[list[int]]:
    """Warm up every mode, then ``rounds`` rounds; each round times every mode once.

    Warm-up and each round run the modes in an order from :func:`round_orders` (seeded, drawn
    afresh each round), so that no mode always follows the same neighbour. Each timed run
    repeats the forward pass ``iters`` times (chosen from the warm-up so that a run lasts about
    ``run_s``) and records the mean time and page faults. Returns the orders used (indices into
    ``modes``; the first is the warm-up's).
    """
    orders = round_orders(len(modes), rounds + 1, seed)
    for i in orders[0]:
        mode = modes[i]
        t0 = time.perf_counter()
        for _ in range(warmup):
            mode.run()
        per = (time.perf_counter() - t0) / max(warmup, 1)
        mode.iters = max(1, round(run_s / max(per, 1e-9)))
    if blocks:  # every round of one mode, then the next mode (to measure interference)
        for i in orders[1]:
            for _ in range(rounds):
                time_one(modes[i])
        return orders[:2]
    for order in orders[1:]:
        for i in order:
            time_one(modes[i])
    return orders


class OtherLoad:
    """Share of the machine's CPU time used by *other* processes between start and stop.

    The machine is shared; timings taken while something else runs are not comparable with a
    quiet run, so the report says how busy the rest of the machine was (Linux /proc/stat).
    """

    def __init__(self) -> None:
        self.share: float | None = None
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
        except (OSError, IndexError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        own = resource.getrusage(resource.RUSAGE_SELF)
        return time.perf_counter(), busy, own.ru_utime + own.ru_stime

    def stop(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None:
            return None
        wall = end[0] - self._start[0]
        other = (end[1] - self._start[1]) - (end[2] - self._start[2])
        self.share = max(0.0, other / (wall * (os.cpu_count() or 1))) if wall > 0 else None
        return self.share


def paired_ratios(slow: Mode, fast: Mode) -> list[float]:
    """Per-round speed-up of ``fast`` over ``slow`` (same round, so the same machine state)."""
    return [s / f for s, f in zip(slow.times, fast.times, strict=True)]


# -------------------------------------------------------------------------------------------
# Profiles: where the time goes on each side


def torch_profile(
    run: Callable[[], object], iters: int, top: int = 10
) -> list[tuple[str, float, int]]:
    """torch.profiler's self-CPU time by op over ``iters`` forwards: (op, share, calls/forward)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            run()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [(e.key, e.self_cpu_time_total / total, e.count // iters) for e in rows]


def ort_profile(
    path: Path, feed: dict[str, np.ndarray], threads: int, iters: int, tmp: Path, top: int = 10
) -> list[tuple[str, float, int]]:
    """onnxruntime's per-node kernel time, summed by op type: (op type, share, nodes/forward)."""
    sess = session(path, threads, profile=str(tmp / "ort_profile"))
    for _ in range(iters):
        sess.run(None, feed)
    trace = Path(sess.end_profiling())
    events = json.loads(trace.read_text())
    by_op: dict[str, float] = {}
    count: dict[str, int] = {}
    for ev in events:
        if ev.get("cat") == "Node" and str(ev.get("name", "")).endswith("_kernel_time"):
            op = ev.get("args", {}).get("op_name", "?")
            by_op[op] = by_op.get(op, 0.0) + float(ev.get("dur", 0))
            count[op] = count.get(op, 0) + 1
    trace.unlink(missing_ok=True)
    total = sum(by_op.values()) or 1.0
    rows = sorted(by_op.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [(op, t / total, count[op] // iters) for op, t in rows]


# -------------------------------------------------------------------------------------------
# One model, end to end


@dataclass
class Result:
    """Everything measured on one model."""

    workload: Workload
    modes: list[Mode]
    max_diff: dict[str, float]
    noise: dict[str, dict[str, float]]
    layers: list[dict[str, Any]]
    k_t: float
    checks: dict[str, bool]
    profiles: dict[str, list[tuple[str, float, int]]]
    group_conv: str
    gaussians: int  # output elements of all analog ops per batch: one draw each, both sides
    other_load: float | None  # CPU share other processes used while the modes were timed
    orders: list[list[str]]  # the mode order of the warm-up, then of each round


def logits_noise(
    clean: np.ndarray, draws: Sequence[np.ndarray], labels: np.ndarray | None
) -> dict[str, float]:
    """RMS logit noise, logit SNR (dB) and accuracy over several noise draws."""
    diff = np.stack([d - clean for d in draws])
    ms = float(np.mean(diff**2))
    out = {
        "rms": math.sqrt(ms),
        "snr_db": 10.0 * math.log10(float(np.mean(clean**2)) / ms) if ms > 0 else math.inf,
    }
    if labels is not None:
        out["accuracy"] = float(np.mean([np.mean(d.argmax(1) == labels) for d in draws]))
        out["accuracy_clean"] = float(np.mean(clean.argmax(1) == labels))
    return out


def bench_model(wl: Workload, args: argparse.Namespace, tmp: Path) -> Result:
    """Build both sides, check they agree, match the noise, time every mode, profile."""
    import torch

    model = onnx.load(str(wl.path))
    feed_x = wl.batch
    x_t = torch.from_numpy(feed_x)

    side = analogc_side(wl, args.out_noise, args.threads, tmp, spin=args.ort_spinning)
    feed = {side.input_name: feed_x}
    net = torch_from_onnx(model, split_groups=False)
    split = torch_from_onnx(model, split_groups=True)
    analog = to_analog(split, args.out_noise)
    perfect = to_analog(split, args.out_noise, perfect=True)

    with torch.no_grad():
        ref = side.clean.run(None, feed)[0]
        max_diff = {
            "torch vs onnxruntime": float(np.abs(net(x_t).numpy() - ref).max()),
            "aihwkit (is_perfect) vs onnxruntime": float(np.abs(perfect(x_t).numpy() - ref).max()),
            "analogc simulator (scales 0) vs onnxruntime": float(
                np.abs(
                    side.sim_fresh.run(
                        feed, scales=side.sim_fresh.scales(None), seed=0, batch_index=0
                    )[0]
                    - ref
                ).max()
            ),
        }
    for what, diff in max_diff.items():
        if diff >= MAX_ABS_DIFF:
            raise SystemExit(f"{wl.name}: {what} differ by {diff:.3g} (limit {MAX_ABS_DIFF})")

    # -- noise: per layer and on the logits, several draws each
    draws = args.noise_draws
    with torch.no_grad():
        aih = [analog(x_t).numpy() for _ in range(draws)]
    std = [side.standalone.run(None, feed)[0] for _ in range(draws)]
    sim = [
        side.sim_fresh.run(feed, scales=side.scales, seed=100 + s, batch_index=0)[0]
        for s in range(draws)
    ]
    same_seed = [
        side.sim_fresh.run(feed, scales=side.scales, seed=7, batch_index=0)[0] for _ in range(2)
    ]
    noise = {
        "aihwkit": logits_noise(ref, aih, wl.labels),
        "analogc standalone": logits_noise(ref, std, wl.labels),
        "analogc simulator": logits_noise(ref, sim, wl.labels),
    }
    checks = {
        "aihwkit: two runs differ": bool(np.abs(aih[0] - aih[1]).max() > 0),
        "analogc standalone: two runs differ": bool(np.abs(std[0] - std[1]).max() > 0),
        "analogc simulator: new seed, new noise": bool(np.abs(sim[0] - sim[1]).max() > 0),
        "analogc simulator: same seed, same noise": bool(
            np.array_equal(same_seed[0], same_seed[1])
        ),
    }
    measured = aihwkit_layer_sigmas(analog, x_t[: min(len(x_t), 64)])
    layers = []
    for name in side.repeats:
        key = module_key(name)
        mine = [v for k, v in measured.items() if k.split(".")[-1] == key or f".{key}." in f"{k}."]
        layers.append(
            {
                "name": name,
                "repeats": side.repeats[name],
                "analogc_sigma": side.sigma[name],
                "aihwkit_sigma": float(np.sqrt(np.mean(np.square(mine)))) if mine else float("nan"),
                "aihwkit_tiles": len(mine),
            }
        )

    # -- timing
    counter = iter(range(10_000, 10**9))

    def fresh() -> object:
        return side.sim_fresh.run(feed, scales=side.scales, seed=next(counter), batch_index=0)

    clean_scales = side.sim_fresh.scales(None)

    def no_grad(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], object]:
        """One inference forward of the batch (no autograd graph, like aihwkit's eval use)."""

        def run() -> object:
            with torch.no_grad():
                return fn(x_t)

        return run

    runners: dict[str, Callable[[], object]] = {
        "torch clean": no_grad(net),
        PERFECT: no_grad(perfect),
        "aihwkit noisy": no_grad(analog),
        "onnxruntime clean": lambda: side.clean.run(None, feed),
        STANDALONE: lambda: side.standalone.run(None, feed),
        FRESH: fresh,
        SIM_CLEAN: lambda: side.sim_fresh.run(feed, scales=clean_scales, seed=0, batch_index=0),
    }
    if set(runners) != {spec.name for spec in MODE_SPECS}:
        raise AssertionError("the timed modes must be exactly MODE_SPECS")
    modes = [Mode(spec, runners[spec.name]) for spec in MODE_SPECS]
    load = OtherLoad()
    orders = time_modes(
        modes,
        rounds=args.runs,
        warmup=args.warmup,
        run_s=args.run_s,
        seed=args.seed + MODELS.index(wl.name),
        blocks=args.blocks,
    )
    other_load = load.stop()

    profiles: dict[str, list[tuple[str, float, int]]] = {}
    if args.profile:
        profiles["aihwkit noisy (torch.profiler, self CPU time)"] = torch_profile(
            no_grad(analog), args.profile_iters
        )
        profiles["analogc standalone (onnxruntime profiler, kernel time)"] = ort_profile(
            side.annotated_path, feed, args.threads, args.profile_iters, tmp
        )
    return Result(
        workload=wl,
        modes=modes,
        max_diff=max_diff,
        noise=noise,
        layers=layers,
        k_t=side.k_t,
        checks=checks,
        profiles=profiles,
        group_conv="one tile per group (aihwkit convolutions take groups=1 only)",
        other_load=other_load,
        orders=[[modes[i].name for i in order] for order in orders],
        gaussians=sum(math.prod(sh.output) for sh in side.sim_fresh.noise_shapes(feed).values()),
    )


# -------------------------------------------------------------------------------------------
# Report


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table (also readable as plain text)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([line, sep, *body])


def by_name(result: Result) -> dict[str, Mode]:
    """The timed modes by name."""
    return {m.name: m for m in result.modes}


def throughput_table(result: Result) -> str:
    """Median time per batch, examples/s, speed against aihwkit noisy, spread of paired ratios."""
    modes = by_name(result)
    aih = modes["aihwkit noisy"]
    n = len(result.workload.batch)
    rows = []
    for m in result.modes:
        paired = paired_ratios(aih, m)
        rows.append(
            [
                m.name,
                m.spec.noise,
                f"{1e3 * m.median:.2f}",
                f"{1e3 * min(m.times):.2f}–{1e3 * max(m.times):.2f}",
                f"{n / m.median:,.0f}",
                f"{aih.median / m.median:.2f}×",
                f"{statistics.median(paired):.2f}× ({min(paired):.2f}–{max(paired):.2f})",
                f"{m.faults_median:,.0f}",
            ]
        )
    return fmt_table(
        [
            "mode",
            "noise",
            "median ms/batch",
            "min–max ms",
            "examples/s",
            "vs aihwkit noisy",
            "paired: median (min–max)",
            "minor page faults/forward",
        ],
        rows,
    )


def overhead_table(result: Result) -> str:
    """Noisy/clean slow-down on each side, and where the extra time goes (differences of medians).

    aihwkit's ``is_perfect`` forward skips its whole IO path (input clone and clamp, noise,
    output clamp and clipping test) but keeps the tile machinery (explicit unfold for convs,
    transposes, views), so it splits aihwkit's overhead in two.
    """
    m = by_name(result)
    tc, tp, tn = (m[k].median for k in ("torch clean", PERFECT, "aihwkit noisy"))
    oc, sa = m["onnxruntime clean"].median, m[STANDALONE].median
    fr, sc = m[FRESH].median, m[SIM_CLEAN].median
    rows = [
        [
            "aihwkit noisy / torch clean",
            f"{tn / tc:.2f}×",
            f"tile machinery (unfold, transposes) {1e3 * (tp - tc):+.2f} ms; "
            f"IO path incl. noise (clone, clamps, draws, clip test) {1e3 * (tn - tp):+.2f} ms",
        ],
        [
            "analogc standalone / onnxruntime clean",
            f"{sa / oc:.2f}×",
            f"noise in graph {1e3 * (sa - oc):+.2f} ms",
        ],
        [
            "analogc simulator fresh / onnxruntime clean",
            f"{fr / oc:.2f}×",
            f"numpy draws and noise feeds {1e3 * (fr - sc):+.2f} ms; simulator graph with noise "
            f"scales 0 {1e3 * (sc - oc):+.2f} ms",
        ],
    ]
    return fmt_table(["noisy / clean", "slow-down", "extra time per batch"], rows)


def noise_tables(result: Result) -> str:
    """Per-layer σ on both sides and logit-level noise, so a reader can judge comparability."""
    rows = [
        [
            r["name"],
            r["repeats"],
            f"{r['analogc_sigma']:.4f}",
            f"{r['aihwkit_sigma']:.4f}",
            r["aihwkit_tiles"],
        ]
        for r in result.layers
    ]
    layer = fmt_table(
        ["layer", "analogc N", "analogc σ (RMS)", "aihwkit σ (measured)", "aihwkit tiles"], rows
    )
    has_acc = result.workload.labels is not None
    heads = ["side", "logit noise RMS", "logit SNR dB"] + (
        ["accuracy clean", "accuracy noisy"] if has_acc else []
    )
    rows2 = []
    for side, d in result.noise.items():
        row = [side, f"{d['rms']:.4f}", f"{d['snr_db']:.1f}"]
        if has_acc:
            row += [f"{100 * d['accuracy_clean']:.2f}%", f"{100 * d['accuracy']:.2f}%"]
        rows2.append(row)
    return layer + "\n\n" + fmt_table(heads, rows2)


def profile_tables(result: Result) -> str:
    """One table per profiler: the ops that take the most time on each side."""
    parts = []
    for title, rows in result.profiles.items():
        parts.append(
            f"*{title}*\n\n"
            + fmt_table(
                ["op", "share", "calls/forward"], [[op, f"{100 * s:.1f}%", c] for op, s, c in rows]
            )
        )
    return "\n\n".join(parts)


def verdict(result: Result) -> dict[str, float]:
    """Throughput ratio analogc/aihwkit (noisy) for each headline mode, from the medians."""
    m = by_name(result)
    return {name: m["aihwkit noisy"].median / m[name].median for name in HEADLINE}


def load_line(result: Result) -> str:
    """How busy the rest of the machine was while this model's modes were timed."""
    if result.other_load is None:
        return "Other processes' CPU use during the timing: unknown."
    warn = " **Contended: treat these timings with caution.**" if result.other_load > 0.1 else ""
    return (
        f"Other processes used {100 * result.other_load:.0f}% of the machine's CPU time while "
        f"these modes were timed.{warn}"
    )


def ceiling(result: Result) -> float:
    """aihwkit noisy / onnxruntime clean: the ratio if analogc's noise were free."""
    m = by_name(result)
    return m["aihwkit noisy"].median / m["onnxruntime clean"].median


def versions() -> dict[str, str]:
    """Installed versions of everything that decides the figures."""
    out = {"python": platform.python_version()}
    for pkg in ("torch", "aihwkit", "onnxruntime", "onnx", "numpy", "analogc"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "?"
    return out


def machine() -> str:
    """CPU model and usable cores (the ratios only mean something on the same machine)."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cpu}, {cores} cores usable"


def draw_rate(result: Result, title_start: str, op: str, mode: str) -> float | None:
    """Gaussians per second of one side's generator: draws per batch / (op's share × time)."""
    rows = next((r for t, r in result.profiles.items() if t.startswith(title_start)), None)
    share = next((sh for name, sh, _ in rows or [] if name == op), None)
    if not share:
        return None
    return result.gaussians / (share * by_name(result)[mode].median)


def interpretation(results: Sequence[Result]) -> str:
    """Data-driven summary: target met or not per model and mode, and the dominant costs."""
    lines = []
    for res in results:
        v = verdict(res)
        m = by_name(res)
        tc, tp, tn = (m[k].median for k in ("torch clean", PERFECT, "aihwkit noisy"))
        oc, sa = m["onnxruntime clean"].median, m[STANDALONE].median
        status = ", ".join(
            f"{name.removeprefix('analogc ')} {ratio:.2f}× "
            f"({'meets' if ratio >= TARGET_RATIO else 'misses'} ≥ {TARGET_RATIO:g}×)"
            for name, ratio in v.items()
        )
        text = (
            f"- **{res.workload.name}** (batch {len(res.workload.batch)}): {status}. "
            f"aihwkit's noisy forward takes {tn / tc:.2f}× torch's clean one: "
            f"{100 * (tp - tc) / tn:.0f}% of its time is tile machinery (unfold, transposes), "
            f"{100 * (tn - tp) / tn:.0f}% its IO path (input clone and clamps, noise, clip "
            f"test), {100 * tc / tn:.0f}% the clean network itself. onnxruntime runs the clean "
            f"model in {oc / tc:.2f}× torch's time, and analogc's in-graph noise makes the run "
            f"{sa / oc:.2f}× the clean one. Ceiling (noise for free): {ceiling(res):.2f}×. "
            f"Minor page faults per forward: aihwkit noisy {m['aihwkit noisy'].faults_median:,.0f}, "
            f"analogc standalone {m[STANDALONE].faults_median:,.0f}, simulator "
            f"{m[FRESH].faults_median:,.0f}."
        )
        torch_rate = draw_rate(res, "aihwkit", "aten::normal_", "aihwkit noisy")
        ort_rate = draw_rate(res, "analogc", "RandomNormalLike", STANDALONE)
        if torch_rate and ort_rate:
            text += (
                f" Both sides draw {res.gaussians / 1e6:.2f} M Gaussians per batch; from the "
                f"profiles, torch's `normal_` makes ≈ {torch_rate / 1e6:.0f} M/s and "
                f"onnxruntime's `RandomNormalLike` ≈ {ort_rate / 1e6:.0f} M/s."
            )
        lines.append(text)
    return "\n".join(lines)


NOTES = """\
- **Fair treatment.** Both sides run in the same process, on the same batch, with the same
  number of threads, the same warm-up and the same malloc environment (`GLIBC_TUNABLES`, set by
  the parent before the child starts; glibc reads it only at start-up), and both draw new
  Gaussian noise on every forward. A mode that reuses stored draws is not timed: it skips the
  work aihwkit does. The order of the modes is a seeded random permutation, new each round.
- **Allocator.** With glibc's defaults a block above the mmap threshold (128 KiB, rising
  dynamically to at most 32 MiB) is mmap'ed and unmapped again on free, and the heap top is
  trimmed once 128 KiB (later twice the threshold) is free: memory goes back to the OS after
  every forward and the next forward page-faults it in again. aihwkit's convolutions allocate
  large temporaries (unfolded inputs, transposed copies), so it pays this on every forward; the
  "minor page faults/forward" column shows it. onnxruntime keeps its own arena and plans its
  buffers, so analogc's standalone run barely faults either way. `--malloc tuned` sets
  `glibc.malloc.mmap_max=0` (never mmap a block: all from the heap) and
  `glibc.malloc.trim_threshold=1073741824` (do not trim the heap unless 1 GiB is free), which
  removes most of those faults. Which setting a user runs is their choice, so both are reported.
- **What aihwkit's `out_noise` means here.** In the torch tile, the forward adds
  `out_noise · N(0, 1)` to every element of the tile's raw product `W·x`, before the digital
  bias and before any mapping/out scales. Its usual reading ("relative to the full output
  range") holds only when weight remapping (`mapping.weight_scaling_omega > 0`) and noise
  management (`ABS_MAX`) normalise `W` and `x`. With both off, as here, the std is absolute, in
  the layer's output units, and the same for every layer; the per-layer σ measured above (two
  forwards of each tile on the same input) confirms it.
- **How the noise is matched.** analogc's thermal σ of a layer is
  `k_t · r_w,i · r_x · sqrt(D) / sqrt(N)` (DESIGN §2): it varies with the channel's weight range,
  so within a layer it is not uniform the way aihwkit's is. The script matches each layer's
  *RMS* σ to aihwkit's σ_a with per-layer repeats, which is analogc's native knob; k_t is set
  so that the smallest N is 16 and rounding N moves σ by under 3%. Both sides then draw one
  Gaussian per output element of every analog op, so they do the same amount of random-number
  work; the logit noise and accuracy rows show the two noise processes have similar effects.
- **Grouped convolution.** aihwkit 1.1's analog convolutions raise `Only one group is
  supported`; the grouped conv is run as one aihwkit tile per group (same MACs as the grouped
  op, outputs concatenated). The torch clean baseline keeps the native grouped `Conv2d`.
- **Threads.** torch uses `set_num_threads(T)` (`interop = 1`), onnxruntime
  `intra_op_num_threads = T` (`inter_op = 1`), the Simulator a T-thread pool for its numpy
  draws; T is `--threads` (1 by default: on a shared 2-core machine, a second thread on either
  side mostly waits for a core another process holds). Thread pools keep their shipped wait
  behaviour; `--omp-wait-policy` and `--no-ort-spinning` change it. `--blocks` times each
  mode's rounds back to back instead of interleaved, to check for interference between modes.
- **Reading the ratios.** analogc wins by not paying aihwkit's per-layer machinery, not by
  drawing Gaussians faster: per draw, torch's `normal_` is faster than onnxruntime's
  `RandomNormalLike` (and than numpy, which the Simulator uses). Where aihwkit's overhead is
  large (convolutions: explicit unfold, copies, clamps), analogc is several times faster; where
  it is small (a Linear layer on a big GEMM, the MLP), the clean GEMM dominates both sides and
  the "ceiling" column (aihwkit noisy / onnxruntime clean) shows that no onnxruntime-based noise
  injection could reach 3×.
- **aihwkit 1.1.0 on this set-up.** Only the pure-PyTorch `TorchInferenceRPUConfig` tile works
  beside torch 2.13 (the compiled `InferenceRPUConfig` tiles fail with "weights must be a CPU
  tensor"). On the CPU its convolutions always unfold the input explicitly (`use_indexed` is
  for CUDA; the torch tile does not support it): im2col, a GEMM, then transposes and copies.
  Its IO path runs even when every non-ideality is off: the input is cloned and clamped to
  ±inf (`_prepare_input` guards the clamp with `if no_grad():`, an always-true object), the
  output is clamped to ±inf and tested for clipping (`.all()`) on every forward. The default
  config's `GlobalDriftCompensation` is set to `None` here since no drift is applied.
- **A shared machine.** Other sessions' jobs run on the same two cores. Each model's section
  says how much CPU time other processes used while it was timed; "paired" ratios (same round)
  and "fastest runs" are less sensitive to that than the medians.
"""


# -------------------------------------------------------------------------------------------
# Allocator settings: each runs in a child process started with its GLIBC_TUNABLES

PROBE_BYTES = 64 << 20  # above glibc's largest dynamic mmap threshold (32 MiB)


def malloc_env(setting: str, base: dict[str, str]) -> dict[str, str]:
    """The child environment for ``setting``: ``base`` with GLIBC_TUNABLES set or removed."""
    if setting not in MALLOC_SETTINGS:
        raise ValueError(f"unknown malloc setting {setting!r}")
    env = dict(base)
    tunables = MALLOC_SETTINGS[setting]
    if tunables is None:
        env.pop("GLIBC_TUNABLES", None)
    else:
        env["GLIBC_TUNABLES"] = tunables
    env[MALLOC_MARK] = setting
    return env


def settings_of(choice: str, passes: int = 1) -> list[str]:
    """The settings ``--malloc`` asks for, one child each per pass, in the order they run.

    With both settings the order alternates (default, tuned, tuned, default, ...), so that
    neither setting always runs first, when the machine may be quieter or busier.
    """
    one = list(MALLOC_SETTINGS) if choice == "both" else [choice]
    return [s for p in range(passes) for s in (one if p % 2 == 0 else one[::-1])]


def child_command(
    argv: Sequence[str], setting: str, report: Path, *, env_report: bool, seed: int = 0
) -> list[str]:
    """The command line of the child that runs ``setting`` (the parent's arguments forwarded).

    ``seed`` is the child's own seed of the mode orders (the parent's ``--seed`` plus 1000 per
    child before it), so that two children do not repeat each other's orders.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--malloc", setting]
    cmd += ["--seed", str(seed)]
    return [*cmd, "--child-env-report" if env_report else "--child-json", str(report)]


def probe_faults(alloc: Callable[[], object], cycles: int = 4) -> float:
    """Minor page faults per call of ``alloc`` (which allocates, touches and frees a block)."""
    alloc()
    f0 = minor_faults()
    for _ in range(cycles):
        alloc()
    return (minor_faults() - f0) / cycles


def glibc_cycle() -> None:
    """malloc, touch and free PROBE_BYTES through glibc itself (what torch's CPU allocator does)."""
    import ctypes

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    ptr = libc.malloc(PROBE_BYTES)
    if not ptr:
        raise MemoryError("malloc failed")
    ctypes.memset(ptr, 1, PROBE_BYTES)
    libc.free(ptr)


def env_report(setting: str) -> dict[str, Any]:
    """This child's malloc set-up (both sides run in this one process, on one glibc malloc).

    The page faults of a 64 MiB allocate-touch-free cycle through glibc itself and through
    numpy (the analogc side's Simulator) show whether the setting took effect: 16,384 with
    glibc's defaults, about 0 tuned. torch (the aihwkit side) allocates through the same glibc
    malloc; its own evidence is the page faults per forward of the timed modes. (An isolated
    loop of 64 MiB ``torch.ones`` is no probe: torch's small allocations between them land at the
    start of the freed block, so each new block extends the heap onto fresh pages until the
    trim threshold is reached.)
    """
    sides = {
        "glibc": probe_faults(glibc_cycle),
        "analogc (numpy)": probe_faults(lambda: np.ones(PROBE_BYTES // 8)),
    }
    return {
        "malloc": setting,
        "mark": os.environ.get(MALLOC_MARK),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "pid": os.getpid(),
        "probe_bytes": PROBE_BYTES,
        "faults_per_cycle": sides,
    }


def check_child_env(setting: str, report: dict[str, Any] | None = None) -> None:
    """Stop unless this process was started with ``setting``'s tunables and they took effect.

    The environment is checked as Python saw it at start-up (glibc 2.36 cuts the copy in
    ``/proc/self/environ`` at the first ``:`` while parsing it, so that file cannot tell). With
    ``report`` (:func:`env_report`), the tuned setting must also stop the glibc probe's faults.
    """
    want = MALLOC_SETTINGS[setting]
    got = os.environ.get("GLIBC_TUNABLES")
    if os.environ.get(MALLOC_MARK) != setting or got != want:
        raise SystemExit(
            f"child for --malloc {setting} started with GLIBC_TUNABLES={got!r}, expected {want!r}"
        )
    pages = PROBE_BYTES // resource.getpagesize()
    if report is not None and want is not None and report["faults_per_cycle"]["glibc"] > pages / 10:
        raise SystemExit(f"--malloc {setting}: GLIBC_TUNABLES={want} did not take effect")


# -------------------------------------------------------------------------------------------
# Results: a child's part (one malloc setting) and the combined file


def result_record(res: Result) -> dict[str, Any]:
    """One model's figures under one malloc setting, as JSON."""
    m = by_name(res)
    aih = m["aihwkit noisy"]
    return {
        "model": res.workload.name,
        "description": res.workload.description,
        "batch": len(res.workload.batch),
        "k_t": res.k_t,
        "gaussians_per_batch": res.gaussians,
        "other_load": res.other_load,
        "orders": res.orders,
        "max_diff": res.max_diff,
        "checks": res.checks,
        "noise": res.noise,
        "layers": res.layers,
        "modes": [
            {
                "name": mode.name,
                "side": mode.side,
                "noise": mode.spec.noise,
                "iters": mode.iters,
                "seconds": mode.times,
                "faults_per_forward": mode.faults,
                "median_s": mode.median,
                "faults_median": mode.faults_median,
            }
            for mode in res.modes
        ],
        "headline": {
            name: {
                "ratio_median": ratio,
                "paired": paired_ratios(aih, m[name]),
                "ratio_fastest": min(aih.times) / min(m[name].times),
                "meets_target": ratio >= TARGET_RATIO,
            }
            for name, ratio in verdict(res).items()
        },
        "ceiling": ceiling(res),
    }


def sections(results: Sequence[Result], args: argparse.Namespace) -> str:
    """Per-model detail of one child (one malloc setting)."""
    parts = ["#### Interpretation", "", interpretation(results), ""]
    for res in results:
        wl = res.workload
        parts += [
            f"#### {wl.name}",
            "",
            f"{wl.description}; batch {len(wl.batch)}; analogc k_t = {res.k_t:.4g}; {res.group_conv}.",
            "",
            "Same weights: "
            + "; ".join(f"{k}: max |Δ| = {v:.2g}" for k, v in res.max_diff.items())
            + ".",
            "",
            "Noise is applied: "
            + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in res.checks.items())
            + ".",
            "",
            load_line(res),
            "",
            throughput_table(res),
            "",
            overhead_table(res),
            "",
            "Mode order, warm-up then each round: "
            + "; ".join(
                " → ".join(str(MODE_NAMES.index(n) + 1) for n in order) for order in res.orders
            )
            + " (numbers: rows of the table above).",
            "",
            f"Per-layer output noise std, and logit noise against the clean model over "
            f"{args.noise_draws} draws:",
            "",
            noise_tables(res),
            "",
        ]
        if res.profiles:
            parts += ["Where the time goes:", "", profile_tables(res), ""]
    return "\n".join(parts)


def headline_rows(parts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every model × malloc setting × headline mode, pooled over the passes.

    The headline figure is the median of the paired ratios (aihwkit noisy / analogc in the same
    round) over every round of every pass; per-pass ratios of medians and the fastest-run ratio
    are given beside it.
    """
    groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for part in parts:
        for rec in part["models"]:
            for name in rec["headline"]:
                groups.setdefault((rec["model"], part["malloc"], name), []).append((part, rec))
    rows = []
    for (model, malloc, name), items in groups.items():
        aih_times = [t for _, r in items for t in mode_of(r, "aihwkit noisy")["seconds"]]
        mine_times = [t for _, r in items for t in mode_of(r, name)["seconds"]]
        paired = [x for _, r in items for x in r["headline"][name]["paired"]]
        aih_faults = [
            f for _, r in items for f in mode_of(r, "aihwkit noisy")["faults_per_forward"]
        ]
        mine_faults = [f for _, r in items for f in mode_of(r, name)["faults_per_forward"]]
        ratio = statistics.median(paired)
        rows.append(
            {
                "model": model,
                "malloc": malloc,
                "mode": name,
                "passes": len(items),
                "rounds": len(paired),
                "aihwkit_ms": 1e3 * statistics.median(aih_times),
                "analogc_ms": 1e3 * statistics.median(mine_times),
                "paired_median": ratio,
                "paired_min": min(paired),
                "paired_max": max(paired),
                "per_pass": [r["headline"][name]["ratio_median"] for _, r in items],
                "fastest": min(aih_times) / min(mine_times),
                "meets_target": ratio >= TARGET_RATIO,
                "aihwkit_faults": statistics.median(aih_faults),
                "analogc_faults": statistics.median(mine_faults),
                "ceiling": statistics.median([r["ceiling"] for _, r in items]),
                "other_load": [r["other_load"] for _, r in items],
            }
        )
    rows.sort(key=lambda r: (MODELS.index(r["model"]), r["mode"], r["malloc"]))
    return rows


def mode_of(record: dict[str, Any], name: str) -> dict[str, Any]:
    """One mode's figures in a model record."""
    return next(m for m in record["modes"] if m["name"] == name)


def headline_table(parts: Sequence[dict[str, Any]]) -> str:
    """The headline rows (:func:`headline_rows`) as a table."""
    rows = [
        [
            r["model"],
            r["malloc"],
            r["mode"].removeprefix("analogc "),
            f"{r['aihwkit_ms']:.1f} / {r['analogc_ms']:.1f}",
            f"**{r['paired_median']:.2f}×** ({r['paired_min']:.2f}–{r['paired_max']:.2f})",
            ", ".join(f"{x:.2f}×" for x in r["per_pass"]),
            f"{r['fastest']:.2f}×",
            "yes" if r["meets_target"] else "no",
            f"{r['aihwkit_faults']:,.0f} / {r['analogc_faults']:,.0f}",
            f"{r['ceiling']:.2f}×",
            ", ".join("—" if x is None else f"{100 * x:.0f}%" for x in r["other_load"]),
        ]
        for r in headline_rows(parts)
    ]
    return fmt_table(
        [
            "model",
            "malloc",
            "analogc mode (fresh noise)",
            "ms/batch aihwkit / analogc",
            "speed-up: paired median (min–max)",
            "per pass: ratio of medians",
            "fastest runs",
            f"≥ {TARGET_RATIO:g}×",
            "page faults/forward aihwkit / analogc",
            "ceiling",
            "other load, per pass",
        ],
        rows,
    )


def python_label() -> str:
    """The interpreter as a user would type it (relative to the repository when inside it)."""
    exe = Path(sys.executable)
    try:
        return str(exe.absolute().relative_to(ROOT))
    except ValueError:
        return "python"


def script_commit() -> str:
    """The repository's commit, and whether this script differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", str(Path(__file__).resolve())], cwd=ROOT
        ).returncode
    except OSError:
        return "an unknown commit"
    return f"commit {head or '?'}" + (", modified" if dirty else "")


def combined_markdown(
    parts: Sequence[dict[str, Any]], args: argparse.Namespace, commands: Sequence[str]
) -> str:
    """The results file: set-up, the headline table over both malloc settings, then details."""
    ver = versions()
    first = {p["malloc"]: p for p in reversed(parts)}  # one line per setting
    settings = ", ".join(
        f"`{m}` (GLIBC_TUNABLES={p['env']['glibc_tunables'] or 'unset'}; a 64 MiB "
        f"malloc-touch-free cycle: {p['env']['faults_per_cycle']['glibc']:,.0f} page faults)"
        for m, p in sorted(first.items())
    )
    out = [
        "# analogc vs aihwkit: noisy-inference throughput (issue 6 target 2; issue 13 item 4)",
        "",
        f"Target: analogc's noisy throughput ≥ {TARGET_RATIO:g}× aihwkit's on the same weights with "
        "comparable output noise, noise drawn fresh on every forward on both sides, under the same "
        "allocator setting, threads and warm-up.",
        "",
        "- Commands: " + "; ".join(f"`{c}`" for c in commands) + f" (script at {script_commit()})",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}, **shared with other sessions' jobs** (timings are noisy: each "
        'model\'s "other load" says how busy the rest of the machine was, and the paired and '
        "fastest-run ratios are less sensitive to it than the medians)",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()),
        f"- Allocator: each setting runs in its own child process started with it, both sides in "
        f"that one process: {settings}.",
        f"- Settings: {args.threads} thread(s) on both sides (torch intra-op and onnxruntime "
        f"intra-op; inter-op 1); σ_a = aihwkit `out_noise` = {args.out_noise} (absolute, output "
        "units); aihwkit `TorchInferenceRPUConfig`: `inp_res = out_res = -1`, "
        "`inp_bound = out_bound = 0` (unbounded), bound and noise management `NONE`, "
        "`w_noise = 0`, `is_perfect = False`, no program/drift, `max_input_size = "
        "max_output_size = 0` (one tile per layer), eval mode under `torch.no_grad()`; analogc: "
        "thermal noise only, per-layer repeats matched to σ_a. Thread pools as shipped: "
        f"OMP_WAIT_POLICY {args.omp_wait_policy}, onnxruntime spinning "
        f"{'on' if args.ort_spinning else 'off'}.",
        f"- Timing: {args.warmup} warm-up calls per mode, then {args.runs} rounds; each round "
        "runs every mode once in a seeded random order drawn afresh each round (seed "
        f"{args.seed} + 1000 × the child's index + the model's index; the orders are listed under "
        f"each model); {args.passes} pass(es), each one child per malloc setting, the settings' "
        "order alternating from pass to pass; a run repeats "
        f"the forward pass to last about {args.run_s:g} s and records the mean time and minor page "
        "faults (`getrusage`) per forward; the headline is the median over all rounds (all passes) of the paired "
        "ratio, aihwkit noisy / analogc in the same round (same machine state); tables under each "
        "child give medians over its rounds."
        + (" (Run with --blocks: modes NOT interleaved.)" if args.blocks else ""),
        "",
        "## Headline: analogc with fresh noise vs aihwkit noisy",
        "",
        headline_table(parts),
        "",
        '"Speed-up" is the median over every round of every child of aihwkit noisy\'s time '
        'over the analogc mode\'s in the same round (min–max over rounds); "per pass" is each '
        "child's ratio of medians; \"fastest runs\" compares each side's fastest round over all "
        "children. ≥ 3× is judged on the paired median. ms/batch and page faults are medians "
        "over all rounds. The ceiling is aihwkit noisy over onnxruntime's clean run: what any "
        "onnxruntime-based simulation would reach if its noise cost nothing. Both analogc modes "
        "draw new noise on every forward; no mode that reuses stored draws is timed.",
        "",
    ]
    for part in parts:
        out += [
            f"## Details, child {part['child']}: malloc `{part['malloc']}`",
            "",
            f"Child process: {part['seconds']:.0f} s; order seed {part['seed']}; 1-minute load "
            "average "
            f"{part['load'][0]:.2f} before, {part['load'][1]:.2f} after.",
            "",
            part["sections_md"],
            "",
        ]
    out += ["## Notes", "", NOTES]
    return "\n".join(out)


# -------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line; ``--smoke`` shrinks everything so that CI can run it in seconds."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument(
        "--smoke", action="store_true", help="tiny batch, 2 rounds, no profile; writes nothing"
    )
    p.add_argument(
        "--models",
        default=None,
        help="comma-separated from digits_resnet, mlp1024, wide_cnn (default: all; smoke: digits_resnet)",
    )
    p.add_argument(
        "--malloc",
        choices=("default", "tuned", "both"),
        default="both",
        help="glibc malloc setting of the process both sides run in (both: one child each)",
    )
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--runs", type=int, default=9, help="timed rounds (median over them)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--run-s", type=float, default=0.2, help="target seconds of one timed run")
    p.add_argument("--threads", type=int, default=1, help="threads on both sides (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mode orders")
    p.add_argument(
        "--passes",
        type=int,
        default=1,
        help="children per malloc setting, run alternately (default 1); figures pool them",
    )
    p.add_argument(
        "--out-noise", type=float, default=0.06, help="aihwkit out_noise σ_a (output units)"
    )
    p.add_argument("--noise-draws", type=int, default=8)
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument(
        "--blocks",
        action="store_true",
        help="time each mode's rounds back to back instead of interleaving (interference check)",
    )
    p.add_argument(
        "--omp-wait-policy",
        choices=("unset", "passive", "active"),
        default="unset",
        help="OMP_WAIT_POLICY for torch's OpenMP pool (unset: libgomp's default, short spin)",
    )
    p.add_argument(
        "--no-ort-spinning",
        dest="ort_spinning",
        action="store_false",
        help="turn off onnxruntime's intra-op thread spinning (default: on, as shipped)",
    )
    p.add_argument("--profile-iters", type=int, default=5)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS.relative_to(ROOT)}, and .json beside it)",
    )
    p.add_argument(
        "--env-report",
        action="store_true",
        help="start the children, print their malloc set-up as JSON, and stop (no aihwkit needed)",
    )
    p.add_argument("--child-json", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-env-report", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.smoke:
        args.models = args.models or "digits_resnet"
        args.batch, args.runs, args.warmup = 16, 2, 1
        args.run_s, args.noise_draws, args.profile = 0.0, 2, False
    elif args.out is None:
        args.out = RESULTS
    args.models = args.models or ",".join(MODELS)
    if min(args.runs, args.batch, args.threads, args.passes) < 1:
        p.error("--runs, --batch, --threads and --passes must be >= 1")
    return args


def run_child(args: argparse.Namespace) -> int:
    """In a child: check the malloc environment, then benchmark (or report it) and write JSON."""
    check_child_env(args.malloc)
    if args.child_env_report is not None:
        report = env_report(args.malloc)
        check_child_env(args.malloc, report)
        args.child_env_report.write_text(json.dumps(report), encoding="utf-8")
        return 0
    if args.omp_wait_policy != "unset":  # before torch starts its OpenMP pool
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    import torch

    env = env_report(args.malloc)
    check_child_env(args.malloc, env)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    print(
        f"== malloc {args.malloc}: GLIBC_TUNABLES={env['glibc_tunables'] or 'unset'}; "
        f"probe page faults per 64 MiB cycle {env['faults_per_cycle']}",
        flush=True,
    )
    load_before = os.getloadavg()[0]
    results = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vs_aihwkit_") as tmp_dir:
        tmp = Path(tmp_dir)
        for name in [n.strip() for n in args.models.split(",") if n.strip()]:
            if name not in MODELS:
                raise SystemExit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
            wl = (
                digits_workload(args.batch)
                if name == "digits_resnet"
                else synthetic_workload(name, args.batch, tmp)
            )
            print(f"== {name} (malloc {args.malloc}): {wl.description}", flush=True)
            res = bench_model(wl, args, tmp)
            results.append(res)
            print(load_line(res))
            print(throughput_table(res))
            print(overhead_table(res))
            print(noise_tables(res))
            if res.profiles:
                print(profile_tables(res))
            print(flush=True)
    print(interpretation(results), flush=True)
    part = {
        "malloc": args.malloc,
        "env": env,
        "threads": args.threads,
        "seed": args.seed,
        "seconds": time.perf_counter() - t0,
        "load": [load_before, os.getloadavg()[0]],
        "models": [result_record(r) for r in results],
        "sections_md": sections(results, args),
    }
    args.child_json.write_text(json.dumps(part), encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one child per malloc setting, print the headline, write the results (not in smoke)."""
    args = parse_args(argv)
    if args.child_json is not None or args.child_env_report is not None:
        return run_child(args)
    forwarded = list(sys.argv[1:] if argv is None else argv)
    if not args.env_report:
        missing = [m for m in ("torch", "aihwkit") if importlib.util.find_spec(m) is None]
        if missing:
            print(
                f"aihwkit not installed: skipping ({', '.join(missing)} not importable; see the "
                "'aihwkit' extra in pyproject.toml)"
            )
            return 0
    parts: list[dict[str, Any]] = []
    commands = [" ".join([python_label(), "bench/vs_aihwkit.py", *forwarded])]
    with tempfile.TemporaryDirectory(prefix="vs_aihwkit_parts_") as tmp_dir:
        for i, setting in enumerate(
            settings_of(args.malloc, 1 if args.env_report else args.passes)
        ):
            report = Path(tmp_dir) / f"{i}-{setting}.json"
            cmd = child_command(
                forwarded, setting, report, env_report=args.env_report, seed=args.seed + 1000 * i
            )
            proc = subprocess.run(cmd, env=malloc_env(setting, dict(os.environ)), check=False)
            if proc.returncode != 0:
                print(f"child for --malloc {setting} failed (exit {proc.returncode})")
                return proc.returncode
            parts.append(json.loads(report.read_text(encoding="utf-8")) | {"child": i + 1})
    if args.env_report:
        print(json.dumps(parts, indent=1))
        return 0
    print(headline_table(parts))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(combined_markdown(parts, args, commands), encoding="utf-8")
        document = {
            "commands": commands,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine() + ", shared with other sessions' jobs",
            "versions": versions(),
            "settings": {k: v for k, v in vars(args).items() if not k.startswith("child")},
            "malloc_settings": MALLOC_SETTINGS,
            "target_ratio": TARGET_RATIO,
            "headline_modes": list(HEADLINE),
            "parts": [{k: v for k, v in p.items() if k != "sections_md"} for p in parts],
        }
        json_path = args.out.with_suffix(".json")
        json_path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
        print(f"wrote {args.out} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
