"""Scale bench: ResNet-50 and BERT-base graphs through every analogc stage.

The paper's models are ResNet-50 (25.5 M weights, 4.1 GMAC per image) and BERT-base (110 M
weights); analogc must handle graphs of that size, not only the digits demo. This bench
builds both architectures with random weights (``analogc.models.zoo``, no torch) in one
process, then, in a fresh one, times each stage and records the peak resident memory and the
file sizes:

1. inspect: load, ONNX check, shape inference, naming, discovery of the analog ops;
2. calibrate: one clean batch through the probe (input ranges, noise shapes, MACs);
3. annotate: rewrite every analog op as an ``ai.analogc`` call, then check and save the file;
4. lower + session: the simulation graph (noise scales and draws as inputs) and its session;
5. one noisy batch through that session (repeats N = 16, optical-shot noise);
6. the annotated file in stock onnxruntime: session creation and one noisy batch;
7. for reference, the original file in onnxruntime (no analogc): session and one batch.

Each model is measured in its own process, so its peak RSS is its own. Run:
``python bench/scale.py`` (full: ResNet-50 batch 8 at 224², BERT-base batch 8 × 128 tokens;
a few minutes on two cores) or ``python bench/scale.py --smoke --out DIR`` (reduced widths,
seconds). Writes ``scale.md`` and ``scale.json`` to ``--out`` (default ``bench/results``).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from common import machine, versions

from analogc.calibrated import open_model
from analogc.hardware import load_hardware
from analogc.models import zoo
from analogc.models.cache import cache_dir
from analogc.passes import LayerPlan, Plan, annotate, save_model
from analogc.runtime.calibrate import calibrate
from analogc.runtime.data import Dataset
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.session import make_session
from analogc.runtime.simulate import Simulator

RESULTS = Path(__file__).resolve().parent / "results"
HARDWARE = "optical-shot"
REPEATS = 16
MODELS = ("resnet50", "bert_base")


@dataclass(frozen=True)
class Case:
    """One model at one input size: how to build it and feed it."""

    name: str
    title: str
    build: Callable[[], onnx.ModelProto]
    feed: Callable[[], dict[str, np.ndarray]]
    batch: str


def cases(smoke: bool) -> dict[str, Case]:
    """Full size, or reduced widths that keep every op type (for CI)."""
    if smoke:
        tiny = zoo.BertConfig(layers=2, hidden=64, heads=2, intermediate=256, vocab=1000)
        return {
            "resnet50": Case(
                "resnet50_w8_i64",
                "ResNet-50 structure, width 8, 64² (smoke)",
                lambda: zoo.resnet50(image=64, width=8),
                lambda: {"image": _images(1, 64)},
                "1 × 3 × 64 × 64",
            ),
            "bert_base": Case(
                "bert_l2_h64_s16",
                "BERT structure, 2 × 64, 16 tokens (smoke)",
                lambda: zoo.bert_base(16, config=tiny),
                lambda: zoo.bert_inputs(1, 16, vocab=tiny.vocab),
                "1 × 16 tokens",
            ),
        }
    return {
        "resnet50": Case(
            "resnet50",
            "ResNet-50 (torchvision shapes, BN folded, random weights)",
            lambda: zoo.resnet50(image=224),
            lambda: {"image": _images(8, 224)},
            "8 × 3 × 224 × 224",
        ),
        "bert_base": Case(
            "bert_base_s128",
            "BERT-base (12 × 768, 12 heads, random weights)",
            lambda: zoo.bert_base(128),
            lambda: zoo.bert_inputs(8, 128),
            "8 × 128 tokens",
        ),
    }


def _images(batch: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    """Times stages (``with stages("name"):``) and records the peak RSS after each."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        wall = time.perf_counter() - start
        self.rows.append({"stage": name, "wall_s": wall, "peak_rss_mb": peak_rss_mb()})
        print(f"  {name}: {wall:.2f} s, peak RSS {peak_rss_mb():.0f} MB", flush=True)


def build(case: Case, workdir: Path) -> dict[str, Any]:
    """Build and save the model (its own process: the builder's memory is not analogc's)."""
    stage = Stages()
    with stage("build and save (numpy + onnx, not analogc)"):
        onnx.save(case.build(), str(workdir / f"{case.name}.onnx"))
    return {"stages": stage.rows}


def measure(case: Case, workdir: Path) -> dict[str, Any]:
    """Every analogc stage for one built model; returns the figures (run in a fresh process).

    Large objects are dropped as soon as a stage no longer needs them, so the peak RSS is
    what analogc needs, not what this script hoards.
    """
    stage = Stages()
    original = workdir / f"{case.name}.onnx"
    hw = load_hardware(HARDWARE)
    with stage("inspect: load, check, shapes, discovery"):
        loaded = open_model(original)
    names = [layer.name for layer in loaded.discovery.analog]
    feed = case.feed()
    batch = len(next(iter(feed.values())))
    with stage("calibrate: one clean batch"):
        calibration, probe = calibrate(
            loaded.model, names, Dataset(feed, source="random"), batch_size=batch
        )
    layers = {n: LayerPlan(repeats=REPEATS, r_x=calibration.layers[n].r_x) for n in names}
    plan = Plan(noise=hw.noise, e1=hw.e1, layers=layers)
    annotated = copy.deepcopy(loaded.model)
    with stage("annotate (in memory)"):
        annotate(annotated, plan, FunctionLibrary(noise=hw.noise, opset=loaded.opset))
    annotated_path = workdir / f"{case.name}.analog.onnx"
    with stage("check (full) + save annotated"):  # as compile does: one self-contained file
        save_model(annotated, annotated_path, inline_external=loaded.scratch is not None)
    del annotated
    with stage("lower for simulation + session"):
        sim = Simulator(loaded.model, plan, probe=probe, shapes=calibration.shapes)
    del probe
    with stage("simulation graph, clean batch"):
        clean = _run(sim, feed, None)
    with stage(f"one noisy batch (N = {REPEATS})"):
        noisy = _run(sim, feed, REPEATS)
    del sim
    with stage("annotated file: stock onnxruntime session"):
        session = make_session(annotated_path)
    with stage("annotated file: one noisy batch"):
        stock = session.run(None, feed)[0]
    del session
    with stage("reference: original file, onnxruntime session"):
        session = make_session(original)
    with stage("reference: original file, one batch"):
        session.run(None, feed)
    macs = sum(s.macs for s in calibration.layers.values())
    return {
        "name": case.name,
        "title": case.title,
        "batch": case.batch,
        "analog_ops": len(names),
        "digital_ops": len(loaded.discovery.digital),
        "op_types": sorted({layer.op_type for layer in loaded.discovery.analog}),
        "weights": int(sum(np.prod(t.dims) for t in loaded.model.graph.initializer)),
        "analog_macs_per_example": int(macs),
        "original_bytes": file_bytes(original),
        "annotated_bytes": file_bytes(annotated_path),
        "noisy_vs_clean_rel_rms": _rel_rms(noisy, clean),
        "stock_vs_clean_rel_rms": _rel_rms(stock, clean),
        "stages": stage.rows,
        "peak_rss_mb": peak_rss_mb(),
    }


def file_bytes(path: Path) -> int:
    """Size of a model file plus its external-data file (``<name>.data``), if it has one."""
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _run(sim: Simulator, feed: dict[str, np.ndarray], repeats: int | None) -> np.ndarray:
    return sim.run(feed, scales=sim.scales(repeats), seed=0, batch_index=0)[0]


def _rel_rms(noisy: np.ndarray, clean: np.ndarray) -> float:
    """RMS of the output error over RMS of the clean output: does the noise show, and sanely."""
    err = np.sqrt(np.mean((noisy.astype(np.float64) - clean) ** 2))
    return float(err / max(np.sqrt(np.mean(np.square(clean, dtype=np.float64))), 1e-30))


# --------------------------------------------------------------------------------------------
# Driver: one child process per model, then the report


def run_child(key: str, smoke: bool, workdir: Path) -> dict[str, Any]:
    """Build, then measure, one model, each in a fresh interpreter; JSON comes back on files."""
    results = []
    for step in ("build", "measure"):
        cmd = [sys.executable, __file__, "--child", key, "--step", step, "--workdir", str(workdir)]
        subprocess.run(cmd + (["--smoke"] if smoke else []), check=True)
        results.append(json.loads((workdir / f"{key}.{step}.json").read_text()))
    built, measured = results
    measured["build"] = built["stages"][0]
    return measured


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The markdown report: one summary table, then each model's stages."""
    lines = [
        "# Scale bench: ResNet-50 and BERT-base through analogc",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Date: {meta['date']}; {meta['versions']}  ",
        f"Noise: `{HARDWARE}`, every analog layer at N = {REPEATS}; random weights (scale only).",
        "",
        "| model | input | analog ops | weights | analog MACs / example | original | annotated "
        "| inspect | calibrate | annotate + save | lower + session | noisy batch "
        "| clean batch, plain onnxruntime | peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t = {row["stage"]: row["wall_s"] for row in r["stages"]}
        annotate_s = t["annotate (in memory)"] + t["check (full) + save annotated"]
        lines.append(
            f"| {r['title']} | {r['batch']} | {r['analog_ops']} | {r['weights'] / 1e6:.1f} M "
            f"| {r['analog_macs_per_example'] / 1e9:.3g} G | {_mb(r['original_bytes'])} "
            f"| {_mb(r['annotated_bytes'])} | {_s(t['inspect: load, check, shapes, discovery'])} "
            f"| {_s(t['calibrate: one clean batch'])} | {_s(annotate_s)} "
            f"| {_s(t['lower for simulation + session'])} "
            f"| {_s(t[f'one noisy batch (N = {REPEATS})'])} "
            f"| {_s(t['reference: original file, one batch'])} | {r['peak_rss_mb'] / 1024:.2f} GB |"
        )
    for r in results:
        lines += [
            "",
            f"## {r['title']}",
            "",
            f"Analog ops: {r['analog_ops']} ({', '.join(r['op_types'])}); digital matrix ops: "
            f"{r['digital_ops']}. Output error at N = {REPEATS} (RMS relative to the clean "
            f"output): {r['noisy_vs_clean_rel_rms']:.3g} in the simulation graph, "
            f"{r['stock_vs_clean_rel_rms']:.3g} from the annotated file in stock onnxruntime "
            "(different draws, same statistics). Building the model "
            f"(`analogc.models.zoo`, numpy) took {_s(r['build']['wall_s'])} in a process of "
            "its own, so the memory below is analogc's alone.",
            "",
            "| stage | wall time | peak RSS so far |",
            "|---|---|---|",
        ]
        lines += [
            f"| {row['stage']} | {_s(row['wall_s'])} | {row['peak_rss_mb']:.0f} MB |"
            for row in r["stages"]
        ]
    return "\n".join(lines) + "\n"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="reduced models: seconds, for CI")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where scale.md/json go")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    parser.add_argument("--workdir", type=Path, default=None, help="for the model files")
    parser.add_argument("--child", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--step", choices=("build", "measure"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        step = build if args.step == "build" else measure
        result = step(cases(args.smoke)[args.child], args.workdir)
        (args.workdir / f"{args.child}.{args.step}.json").write_text(json.dumps(result, indent=1))
        return
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    base = args.workdir or (cache_dir() / "bench-scale")
    base.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        for key in keys:
            print(f"{key}:", flush=True)
            results.append(run_child(key, args.smoke, Path(tmp)))
    meta = {
        "command": "python bench/scale.py" + (" --smoke" if args.smoke else ""),
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "versions": versions(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps({**meta, "models": results}, indent=1) + "\n")
    (args.out / "scale.md").write_text(render(results, meta))
    print(f"wrote {args.out / 'scale.md'}")


if __name__ == "__main__":
    main()
