"""Noisy vs clean onnxruntime latency, measured side by side (issue 6, target 1).

For each model and noise model it times, interleaved run by run so drift hits all alike:

* ``clean``: the original model in onnxruntime;
* ``standalone``: the annotated model analogc writes (noise drawn inside the graph by
  RandomNormalLike), in a plain onnxruntime session;
* ``sim fresh``: analogc's evaluation graph with new noise draws every run (numpy, threads);
* ``sim cached``: the same with the draws reused, as in a search (common random numbers);
* ``rng only``: RandomNormalLike alone drawing as many Gaussians as one noisy run needs,
  to show how much of the overhead is the drawing itself.

Usage::

    python bench/overhead.py                 # digits ResNet, ResNet-50, MiniLM (if cached)
    python bench/overhead.py --smoke         # seconds; for CI
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
from common import write_results
from onnx import TensorProto, helper

from analogc.passes import (
    LayerPlan,
    NoiseModel,
    Plan,
    annotate,
    discover,
    infer_shapes,
    load_model,
    name_nodes,
)
from analogc.runtime.calibrate import Probe
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.session import make_session
from analogc.runtime.simulate import Simulator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "overhead.md"
NOISES = {
    "shot": NoiseModel(shot=True),
    "thermal": NoiseModel(thermal=True),
    "weight": NoiseModel(weight=True),
}
REPEATS = 16


@dataclass(frozen=True)
class Case:
    name: str
    model: onnx.ModelProto
    feed: dict[str, np.ndarray]


def _prepared(model: onnx.ModelProto) -> onnx.ModelProto:
    model = infer_shapes(model)
    name_nodes(model)
    return model


def digits_case(batch: int) -> Case:
    model = _prepared(load_model(ROOT / "models" / "digits_resnet.onnx"))
    image = np.load(ROOT / "models" / "digits_test.npz")["image"]
    reps = -(-batch // len(image))
    return Case(
        f"digits ResNet, batch {batch}", model, {"image": np.tile(image, (reps, 1, 1, 1))[:batch]}
    )


def optional_cases(smoke: bool) -> list[Case]:
    """ResNet-50 (built without torch) and MiniLM-L6 (when models/minilm.py has cached it)."""
    if smoke:
        return []
    from analogc.models import zoo
    from analogc.models.cache import cache_dir

    model = _prepared(zoo.resnet50(batch=None))
    x = np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32)
    cases = [Case("ResNet-50 arch, batch 8, 224x224", model, {model.graph.input[0].name: x})]
    minilm = cache_dir() / "minilm_l6.onnx"
    if minilm.exists():
        model = _prepared(load_model(minilm))
        rng = np.random.default_rng(0)
        feed = {}
        for spec in model.graph.input:
            if spec.name == "input_ids":
                feed[spec.name] = rng.integers(1000, 30000, (32, 128), dtype=np.int64)
            elif spec.name == "attention_mask":
                feed[spec.name] = np.ones((32, 128), np.int64)
            else:
                feed[spec.name] = np.zeros((32, 128), np.int64)
        cases.append(Case("MiniLM-L6, batch 32 x 128 tokens", model, feed))
    else:
        print(f"MiniLM skipped: {minilm} missing (build it with models/minilm.py)", file=sys.stderr)
    return cases


def _gaussian_session(n: int) -> Callable[[], object]:
    """RandomNormalLike over n elements: the cost of drawing one run's noise in the graph."""
    graph = helper.make_graph(
        [helper.make_node("RandomNormalLike", ["x"], ["y"])],
        "rng",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
    )
    session = make_session(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.zeros(n, np.float32)
    return lambda: session.run(None, {"x": x})


def measure(case: Case, noise_name: str, *, runs: int, warmup: int) -> dict[str, float]:
    noise = NOISES[noise_name]
    layers = [layer.name for layer in discover(case.model).analog]
    plan = Plan(noise=noise, layers={n: LayerPlan(repeats=REPEATS, r_x=1.0) for n in layers})
    annotated = copy.deepcopy(case.model)
    library = FunctionLibrary(noise=noise, opset=_opset(case.model))
    annotate(annotated, plan, library)
    clean = make_session(case.model)
    standalone = make_session(annotated)
    probe = Probe(case.model, layers)
    _, tensors = probe.run(case.feed)
    shapes = probe.shapes(tensors)
    per_run = sum(
        int(np.prod(s.output if draw.like == "output" else s.weight))
        for s in shapes.values()
        for draw in library.draws
    )
    del probe, tensors
    fresh = Simulator(case.model, plan, cache_bytes=0)
    cached = Simulator(case.model, plan)
    scales = fresh.scales(REPEATS)
    rng_only = _gaussian_session(per_run)
    counter = iter(range(10**9))
    variants: dict[str, Callable[[], object]] = {
        "clean": lambda: clean.run(None, case.feed),
        "standalone": lambda: standalone.run(None, case.feed),
        "sim fresh": lambda: fresh.run(case.feed, scales=scales, seed=next(counter), batch_index=0),
        "sim cached": lambda: cached.run(case.feed, scales=scales, seed=0, batch_index=0),
        "rng only": rng_only,
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(warmup + runs):
        for key, fn in variants.items():
            t = time.perf_counter()
            fn()
            if i >= warmup:
                times[key].append(time.perf_counter() - t)
    result = {k: statistics.median(v) for k, v in times.items()}
    result["gaussians"] = float(per_run)
    # A run whose draws the cache cannot hold many times over keeps none (Simulator.run): the
    # "cached" simulator then draws afresh every run, as a search on this model does.
    result["kept"] = float(bool(cached._cache))
    return result


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for pkg in ("onnxruntime", "onnx", "numpy", "analogc"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            parts.append(f"{pkg} {metadata.version(pkg)}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds)")
    parser.add_argument(
        "--runs", type=int, default=9, help="timed runs per variant (median reported)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args(argv)
    runs, warmup = (2, 1) if args.smoke else (args.runs, 2)
    cases = [digits_case(32 if args.smoke else 256), *optional_cases(args.smoke)]
    rows = []
    for case in cases:
        for noise_name in NOISES:
            r = measure(case, noise_name, runs=runs, warmup=warmup)
            c = r["clean"]
            row = [
                case.name,
                noise_name,
                f"{1e3 * c:.2f}",
                f"{r['standalone'] / c:.2f}",
                f"{r['sim fresh'] / c:.2f}",
                f"{r['sim cached'] / c:.2f}" if r["kept"] else "— (draws not kept)",
                f"{r['gaussians'] / 1e6:.2f}",
                f"{1e3 * r['rng only']:.2f}",
                f"{(r['rng only']) / max(r['standalone'] - c, 1e-12):.0%}",
            ]
            rows.append(row)
            print(" | ".join(row), flush=True)
    headers = [
        "model",
        "noise",
        "clean ms",
        "standalone / clean",
        "sim fresh / clean",
        "sim cached / clean",
        "Gaussians per run (M)",
        "RandomNormalLike alone ms",
        "drawing's share of standalone overhead",
    ]
    table = "\n".join(
        ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        + ["| " + " | ".join(r) + " |" for r in rows]
    )
    text = f"""# Noisy vs clean onnxruntime latency

Command: `python bench/overhead.py{" --smoke" if args.smoke else ""}` — {dt.date.today()}, {platform.machine()},
{len(__import__("os").sched_getaffinity(0))} cores; {_versions()}. Median of {runs} runs after {warmup} warm-up
runs, variants interleaved run by run; repeats {REPEATS} in every layer (repeats do not change the cost).

{table}

- *standalone*: the annotated model analogc writes, in a plain onnxruntime session (noise drawn in
  the graph with RandomNormalLike).
- *sim fresh* / *sim cached*: analogc's evaluation graph (noise scales and draws as inputs) with
  new draws each run / with the draws reused as in a search (common random numbers). "Draws not
  kept": one run's draws exceed what the simulator's cache (256 MB) keeps, so a search on this
  model draws afresh every run too, and *sim fresh* is its cost.
- *RandomNormalLike alone*: drawing that many Gaussians and nothing else.
"""
    write_results(text, args.output, smoke=args.smoke, default=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
