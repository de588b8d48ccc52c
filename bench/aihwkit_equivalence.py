"""Equivalence with IBM aihwkit 1.1, measured rather than assumed (issue 10, item 6).

For each term analogc shares with aihwkit, on the same weights and inputs, the standard
deviation of the output error (noisy − clean) over many draws (runs, or programmed chips) in
analogc — its search-time :class:`~analogc.runtime.simulate.Simulator` and the deployable
annotated model run by stock onnxruntime — and in aihwkit 1.1's ``TorchInferenceRPUConfig``
(its pure-PyTorch tile, the one that runs beside torch 2.13). Every row must agree within 5%.

The aihwkit side is configured by hand below, one term at a time, everything else off
(``is_perfect`` where the term is not in the forward pass); the mapping scales each output
channel's weights to an abs-max of 1 (``weight_scaling_omega = 1``, column-wise) and keeps each
layer on one tile (``max_input_size = 0``). The analogc side is the hardware file
:func:`analogc.aihwkit.hardware_from_aihwkit` writes for that configuration (the converter is
part of what is measured), except for the weight noise: aihwkit 1.1's torch tile refuses
``forward.w_noise`` ("forward.w_noise not supported in torch tile"), so its per-run weight
noise is the hardware-aware-training modifier ``ADD_NORMAL`` (``rel_to_actual_wmax``), active
in training mode, compared with analogc's ``weight`` term relative to the abs-max.

Run (the aihwkit environment described in ``bench/README.md``)::

    .venv-aihwkit/bin/python bench/aihwkit_equivalence.py            # writes the results
    .venv-aihwkit/bin/python bench/aihwkit_equivalence.py --smoke    # seconds; writes nothing

Without torch or aihwkit it prints ``aihwkit not installed: skipping`` and exits 0.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import importlib.util
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from analogc.passes import LayerPlan, NoiseModel, Plan, annotate, infer_shapes, name_nodes
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.session import make_session
from analogc.runtime.simulate import Simulator

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import machine, versions  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOLERANCE = 0.05
"""Largest accepted |analogc std / aihwkit std − 1| of a row."""
SMOKE_DRAWS = 40
SMOKE_TOLERANCE = 0.25
"""``--smoke``: few draws on tiny layers, so only a gross error (a missing factor, a term
off) is an error; the committed table is the measurement."""
OPSET = 17


# -------------------------------------------------------------------------------------------
# Layers: one torch module and the ONNX op computing the same thing with the same weights


@dataclass
class Layer:
    """One analog layer on both sides.

    Attributes:
        name: row label.
        module: the torch layer (``nn.Linear`` or ``nn.Conv2d``) aihwkit converts.
        model: the same op as a one-node ONNX model (shape-inferred, named ``node``).
        node: the ONNX node name (the plan's layer).
        x: the input batch.
        description: one line for the results.
    """

    name: str
    module: torch.nn.Module
    model: onnx.ModelProto
    node: str
    x: np.ndarray
    description: str


def _array(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


def _one_node_model(node: onnx.NodeProto, x_shape: list[Any], weights: list[onnx.TensorProto]):  # type: ignore[no-untyped-def]
    graph = helper.make_graph(
        [node],
        node.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model = infer_shapes(model)
    name_nodes(model)
    return model


def linear_layer(
    rng: np.random.Generator, d_in: int, d_out: int, batch: int, *, bias: bool = True
) -> Layer:
    import torch

    module = torch.nn.Linear(d_in, d_out, bias=bias)
    weights = [numpy_helper.from_array(_array(module.weight), "W")]
    inputs = ["x", "W"]
    if bias:
        weights.append(numpy_helper.from_array(_array(module.bias), "B"))
        inputs.append("B")
    node = helper.make_node("Gemm", inputs, ["y"], name="linear", transB=1)
    model = _one_node_model(node, ["batch", d_in], weights)
    x = rng.standard_normal((batch, d_in), dtype=np.float32)
    return Layer(
        name=f"Linear {d_in}→{d_out}" + ("" if bias else ", no bias"),
        module=module,
        model=model,
        node="linear",
        x=x,
        description=f"nn.Linear({d_in}, {d_out}, bias={bias}), PyTorch's default init; "
        f"{batch} inputs ~ N(0, 1)",
    )


def conv_layer(
    rng: np.random.Generator, c_in: int, c_out: int, size: int, stride: int, batch: int
) -> Layer:
    import torch

    module = torch.nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
    w, b = _array(module.weight), _array(module.bias)
    node = helper.make_node(
        "Conv",
        ["x", "W", "B"],
        ["y"],
        name="conv",
        kernel_shape=[3, 3],
        pads=[1, 1, 1, 1],
        strides=[stride, stride],
    )
    weights = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    model = _one_node_model(node, ["batch", c_in, size, size], weights)
    # ReLU'd Gaussian images: sparse, uneven patches, so a scale per patch differs from one
    # per image (aihwkit converts each patch, the rows of its unfolded input).
    x = np.maximum(rng.standard_normal((batch, c_in, size, size), dtype=np.float32), 0)
    return Layer(
        name=f"Conv2d {c_in}→{c_out} 3×3" + (f" stride {stride}" if stride > 1 else ""),
        module=module,
        model=model,
        node="conv",
        x=x,
        description=f"nn.Conv2d({c_in}, {c_out}, 3, stride={stride}, padding=1) with bias; "
        f"{batch} images {c_in}×{size}×{size}, ReLU of N(0, 1)",
    )


def layers(smoke: bool) -> list[Layer]:
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if smoke:
        return [linear_layer(rng, 64, 16, 16), conv_layer(rng, 4, 8, 6, 1, 4)]
    return [
        linear_layer(rng, 256, 64, 128),
        linear_layer(rng, 128, 32, 128, bias=False),
        conv_layer(rng, 8, 16, 10, 1, 32),
        conv_layer(rng, 16, 32, 10, 2, 32),
    ]


# -------------------------------------------------------------------------------------------
# Terms: one aihwkit configuration each, and how its draws are made


@dataclass(frozen=True)
class Term:
    """One row family of the table.

    Attributes:
        name: the aihwkit parameter(s) compared.
        analogc: the analogc term(s) it maps to (for the table).
        per: ``run`` (fresh noise every forward), ``chip`` (one draw per programmed chip) or
            ``deterministic`` (a converter: one draw says everything).
        configure: sets the term on a ``TorchInferenceRPUConfig`` whose forward is clean.
        mapping: the weights' full scale aihwkit maps them to: ``channel`` (each output
            channel's abs-max at 1), ``tensor`` (the layer's) or ``unit`` (no scaling,
            ``weight_scaling_omega = 0``: aihwkit's default).
        analogc_noise: the analogc noise model, when it is not the converter's translation.
    """

    name: str
    analogc: str
    per: str
    configure: Callable[[Any], None]
    mapping: str = "channel"
    analogc_noise: NoiseModel | None = None


def _out_noise(config: Any) -> None:
    config.forward.is_perfect = False
    config.forward.out_noise = 0.06


def _w_noise(config: Any) -> None:
    from aihwkit.simulator.parameters.enums import WeightModifierType

    config.modifier.type = WeightModifierType.ADD_NORMAL
    config.modifier.std_dev = 0.05
    config.modifier.rel_to_actual_wmax = True


def _inp_res(config: Any) -> None:
    config.forward.is_perfect = False
    config.forward.inp_res = 1 / (2**7 - 2)


def _out_res(config: Any) -> None:
    config.forward.is_perfect = False
    config.forward.out_res = 1 / (2**9 - 2)
    config.forward.out_bound = 12.0


def _converters(config: Any) -> None:
    _inp_res(config)
    _out_res(config)


def _pcm(config: Any) -> None:
    from aihwkit.inference.noise.pcm import PCMLikeNoiseModel

    config.noise_model = PCMLikeNoiseModel(g_max=25.0)


TERMS = [
    Term("out_noise = 0.06", "readout", "run", _out_noise),
    Term("out_noise = 0.06", "readout", "run", _out_noise, mapping="unit"),
    Term(
        "w_noise 0.05 (modifier ADD_NORMAL, training mode)",
        "weight (k_w 0.05, absmax)",
        "run",
        _w_noise,
        analogc_noise=NoiseModel(weight=True, k_w=0.05, weight_scale="absmax"),
    ),
    Term("inp_res = 1/126 (7-bit DAC)", "dac", "deterministic", _inp_res),
    Term("out_res = 1/510, out_bound = 12 (9-bit ADC)", "adc", "deterministic", _out_res),
    Term(
        "out_res = 1/510, out_bound = 12 (9-bit ADC)",
        "adc",
        "deterministic",
        _out_res,
        mapping="unit",
    ),
    Term("inp_res and out_res", "dac + adc", "deterministic", _converters),
    Term("PCMLikeNoiseModel programming", "pcm_programming", "chip", _pcm),
    Term("PCMLikeNoiseModel programming", "pcm_programming", "chip", _pcm, mapping="tensor"),
]

MAPPING_LABELS = {
    "channel": "per channel (ω 1, column-wise)",
    "tensor": "per layer (ω 1)",
    "unit": "not scaled (ω 0, aihwkit's default)",
}
MAPPINGS = {
    "channel": {"weight_scaling_omega": 1.0, "weight_scaling_columnwise": True},
    "tensor": {"weight_scaling_omega": 1.0, "weight_scaling_columnwise": False},
    "unit": {"weight_scaling_omega": 0.0, "weight_scaling_columnwise": False},
}
"""aihwkit's ``MappingParameter`` for each weight full scale."""


def base_config(mapping: str) -> Any:
    """A ``TorchInferenceRPUConfig`` with every non-ideality off: what each term switches on."""
    from aihwkit.simulator.configs import TorchInferenceRPUConfig
    from aihwkit.simulator.parameters import IOParameters, MappingParameter
    from aihwkit.simulator.parameters.enums import BoundManagementType, NoiseManagementType

    config = TorchInferenceRPUConfig()
    config.mapping = MappingParameter(**MAPPINGS[mapping], max_input_size=0, max_output_size=0)
    config.forward = IOParameters(
        is_perfect=True,
        inp_res=-1.0,
        out_res=-1.0,
        out_noise=0.0,
        out_bound=0.0,
        bound_management=BoundManagementType.NONE,
        noise_management=NoiseManagementType.ABS_MAX,
    )
    config.drift_compensation = None
    return config


# -------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Errors:
    """Output errors, one array per draw (run or chip), and the time they took."""

    draws: list[np.ndarray]
    seconds: float

    @property
    def std(self) -> float:
        return float(np.std(np.stack(self.draws)))

    @property
    def rel_se(self) -> float:
        """Relative standard error of :attr:`std`, from the spread of the draws' mean squares
        (delta method): 0 for a deterministic term."""
        if len(self.draws) < 2:
            return 0.0
        ms = np.array([float(np.mean(d.astype(np.float64) ** 2)) for d in self.draws])
        return float(ms.std(ddof=1) / math.sqrt(len(ms)) / (2 * ms.mean()))


def aihwkit_errors(layer: Layer, term: Term, draws: int) -> tuple[Errors, Any]:
    """aihwkit's output errors, and the configuration that made them."""
    import torch
    from aihwkit.nn.conversion import convert_to_analog

    config = base_config(term.mapping)
    term.configure(config)
    programming = term.per == "chip"
    x = torch.from_numpy(layer.x)
    with torch.no_grad():
        clean = layer.module(x).numpy()
    analog = convert_to_analog(copy.deepcopy(layer.module), config)
    analog.train(term.per == "run" and config.modifier.type.name != "NONE")
    n = 1 if term.per == "deterministic" else draws
    errors = []
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(n):
            if programming:
                analog.program_analog_weights()
            errors.append(analog(x).numpy() - clean)
    return Errors(errors, time.perf_counter() - start), config


def plan_for(layer: Layer, noise: NoiseModel, seed: int = 0) -> Plan:
    return Plan(noise=noise, e1=1.0, seed=seed, layers={layer.node: LayerPlan(repeats=1)})


def clean_output(layer: Layer) -> np.ndarray:
    session = make_session(layer.model, threads=1)
    return session.run(None, {"x": layer.x})[0]


def simulator_errors(layer: Layer, noise: NoiseModel, per: str, draws: int) -> Errors:
    """The search-time simulator: one noise seed per draw (a run, or a chip)."""
    clean = clean_output(layer)
    sim = Simulator(layer.model, plan_for(layer, noise), threads=1, cache_bytes=0)
    n = 1 if per == "deterministic" else draws
    start = time.perf_counter()
    errors = [
        sim.run({"x": layer.x}, scales=sim.scales(1), seed=seed, batch_index=0)[0] - clean
        for seed in range(n)
    ]
    return Errors(errors, time.perf_counter() - start)


def annotated_errors(layer: Layer, noise: NoiseModel, per: str, draws: int) -> Errors:
    """The deployable model in stock onnxruntime: runs of one session (fresh draws in the
    graph), or one annotated model per chip (the chip is stored in the file)."""
    clean = clean_output(layer)
    library = FunctionLibrary(noise=noise, opset=OPSET, mode="standalone")

    def session(seed: int) -> Any:
        model = copy.deepcopy(layer.model)
        annotate(model, plan_for(layer, noise, seed), library)
        return make_session(model, threads=1)

    start = time.perf_counter()
    if per == "chip":
        errors = [session(s).run(None, {"x": layer.x})[0] - clean for s in range(draws)]
    else:
        one = session(0)
        n = 1 if per == "deterministic" else draws
        errors = [one.run(None, {"x": layer.x})[0] - clean for _ in range(n)]
    return Errors(errors, time.perf_counter() - start)


@dataclass
class Row:
    layer: str
    term: str
    mapping: str
    analogc_term: str
    per: str
    draws: int
    aihwkit_std: float
    simulator_std: float
    annotated_std: float
    simulator_ratio: float
    annotated_ratio: float
    rel_se: float
    identical_fraction: float | None
    hardware: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(abs(r - 1) <= TOLERANCE for r in (self.simulator_ratio, self.annotated_ratio))


def identical_fraction(a: Errors, b: Errors, scale: float) -> float:
    """Share of output elements where two deterministic runs agree (to float rounding)."""
    return float(np.mean(np.abs(a.draws[0] - b.draws[0]) <= 1e-4 * scale))


SHOWN = {
    "readout": ("out_noise", "readout_weight"),
    "weight": ("k_w", "weight_scale"),
    "dac": ("dac_bits", "dac_range"),
    "adc": ("adc_bits", "adc_bound", "adc_weight"),
    "pcm_programming": ("g_max", "g_scale"),
}


def describe(noise: NoiseModel) -> str:
    """The analogc keys of a row, short: ``adc (adc_bits 9, adc_bound 12, adc_weight unit)``."""
    parts = []
    for term in noise.terms:
        keys = ", ".join(f"{k} {_short(noise[k])}" for k in SHOWN.get(term, ()))
        parts.append(f"{term} ({keys})" if keys else term)
    return " + ".join(parts)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def measure(layer: Layer, term: Term, draws: int) -> Row:
    from analogc.aihwkit import hardware_from_aihwkit

    aihw, config = aihwkit_errors(layer, term, draws)
    if term.analogc_noise is not None:
        noise = term.analogc_noise
        hardware: dict[str, Any] = {"noise": noise.to_dict()}
    else:
        translated = hardware_from_aihwkit(config, program=term.per == "chip").hardware
        noise, hardware = translated.noise, translated.to_dict()
    sim = simulator_errors(layer, noise, term.per, draws)
    ann = annotated_errors(layer, noise, term.per, draws)
    scale = float(np.abs(clean_output(layer)).max())
    same = identical_fraction(sim, aihw, scale) if term.per == "deterministic" else None
    return Row(
        layer=layer.name,
        term=term.name,
        mapping=term.mapping,
        analogc_term=describe(noise),
        per=term.per,
        draws=len(aihw.draws),
        aihwkit_std=aihw.std,
        simulator_std=sim.std,
        annotated_std=ann.std,
        simulator_ratio=sim.std / aihw.std,
        annotated_ratio=ann.std / aihw.std,
        rel_se=math.hypot(aihw.rel_se, sim.rel_se),
        identical_fraction=same,
        hardware=hardware["noise"],
    )


# -------------------------------------------------------------------------------------------
# Report


def markdown(rows: list[Row], all_layers: list[Layer], draws: int, seconds: float) -> str:
    import aihwkit
    import torch

    ok = all(r.passed for r in rows)
    lines = [
        "# analogc vs aihwkit 1.1: the same noise, measured",
        "",
        f"Written by `bench/aihwkit_equivalence.py` on {dt.date.today().isoformat()} "
        f"({seconds:.0f} s). {machine()}. {versions()}, torch {torch.__version__}, "
        f"aihwkit {aihwkit.__version__}.",
        "",
        "Standard deviation of the output error (noisy − clean, over every output element and "
        f"draw) on the same weights and inputs: aihwkit 1.1 `TorchInferenceRPUConfig` against "
        f"analogc's search-time simulator and its deployable annotated model in stock "
        f"onnxruntime. Draws: {draws} runs (temporal noise) or {draws} programmed chips "
        "(programming noise); converters are deterministic (one run; *same* is the share of "
        "output elements where analogc and aihwkit agree to 1e-4 of the output range). "
        f"A row passes when both ratios are within {TOLERANCE:.0%} of 1; ±SE is the ratio's "
        "standard error from the spread of the draws.",
        "",
        f"**{'Every row within' if ok else 'NOT every row within'} {TOLERANCE:.0%}.**",
        "",
        "| layer | aihwkit | weights mapped | analogc (translated) | draws | aihwkit std "
        "| analogc simulator | annotated model | ratio (simulator) | ratio (annotated) | ±SE "
        "| same | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        same = "—" if r.identical_fraction is None else f"{r.identical_fraction:.1%}"
        se = "exact" if r.per == "deterministic" else f"{r.rel_se:.1%}"
        lines.append(
            f"| {r.layer} | {r.term} | {MAPPING_LABELS[r.mapping]} | {r.analogc_term} "
            f"| {r.draws} | {r.aihwkit_std:.4g} | {r.simulator_std:.4g} | {r.annotated_std:.4g} "
            f"| {r.simulator_ratio:.3f} | {r.annotated_ratio:.3f} | {se} | {same} "
            f"| {'yes' if r.passed else 'NO'} |"
        )
    lines += [
        "",
        "## Set-up",
        "",
        *(f"- {layer.name}: {layer.description}." for layer in all_layers),
        "- aihwkit: `TorchInferenceRPUConfig` with `MappingParameter(weight_scaling_omega=1.0, "
        "weight_scaling_columnwise=True, max_input_size=0, max_output_size=0)` (each output "
        "channel's weights at an abs-max of 1, one tile per layer), noise management `ABS_MAX`, "
        "bound management `NONE`, digital bias (its default), and only the row's term on "
        "(`is_perfect = True` otherwise). `PCMLikeNoiseModel` rows call "
        "`program_analog_weights()` once per chip (no drift: `drift_compensation = None`).",
        "- analogc: the hardware file `analogc.aihwkit.hardware_from_aihwkit` writes for the "
        "same configuration (the noise table in the JSON), repeats 1, e1 = 1. The weight-noise "
        "row is the exception: aihwkit 1.1's torch tile refuses `forward.w_noise` "
        "(`TorchTileConfigError`), so its per-run weight noise is the training-time modifier "
        "`ADD_NORMAL` with `rel_to_actual_wmax` (one draw per forward, shared by the batch, in "
        'training mode), against analogc\'s `weight` term with `weight_scale = "absmax"`.',
        "- Converters are exact: analogc's full-scale ADC reads the analog product and adds "
        "the bias after it, as aihwkit's digital bias does, so the outputs themselves agree "
        "(*same*), up to a rounding tie where the two compute a step in another order.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny layers, {SMOKE_DRAWS} draws, rows within {SMOKE_TOLERANCE:.0%}; writes "
        "only with --out",
    )
    parser.add_argument("--draws", type=int, default=200, help="runs or chips per row")
    parser.add_argument("--out", type=Path, help=f"folder for the results [default: {RESULTS}]")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("aihwkit") is None:
        print("aihwkit not installed: skipping (see bench/README.md for its environment)")
        return 0
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    draws = SMOKE_DRAWS if args.smoke else args.draws
    tolerance = SMOKE_TOLERANCE if args.smoke else TOLERANCE
    out = args.out or (None if args.smoke else RESULTS)
    start = time.perf_counter()
    all_layers = layers(args.smoke)
    rows = []
    for layer in all_layers:
        for term in TERMS:
            row = measure(layer, term, draws)
            rows.append(row)
            print(
                f"{row.layer:26s} {row.term[:44]:44s} {row.mapping:8s} aihwkit "
                f"{row.aihwkit_std:.4g}  simulator {row.simulator_ratio:.3f}  annotated "
                f"{row.annotated_ratio:.3f}  {'ok' if row.passed else 'outside 5%'}",
                flush=True,
            )
    seconds = time.perf_counter() - start
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "aihwkit_equivalence.md").write_text(markdown(rows, all_layers, draws, seconds))
        document = {
            "date": dt.date.today().isoformat(),
            "smoke": args.smoke,
            "draws": draws,
            "tolerance": TOLERANCE,
            "seconds": seconds,
            "rows": [{**asdict(r), "passed": r.passed} for r in rows],
        }
        (out / "aihwkit_equivalence.json").write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {out / 'aihwkit_equivalence.md'}")
    ratios = [x for r in rows for x in (r.simulator_ratio, r.annotated_ratio)]
    worst = max(abs(x - 1) for x in ratios)
    print(f"{len(rows)} rows, worst ratio off by {worst:.1%} (tolerance {tolerance:.0%})")
    return 1 if worst > tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
