"""Gaussian sources side by side: million standard-normal draws per second (issue 13, item 2).

Every source fills arrays of the sizes analogc layers need, interleaved call by call so that
drift (other processes on a shared machine) hits all alike; the median per source is reported,
with its ratio to the fastest. Sources:

* onnxruntime ``RandomNormalLike`` in a one-node graph (what the standalone annotated model
  uses), and ``RandomUniformLike`` + Box-Muller in the graph (a shippable in-graph alternative);
* numpy generators on one thread: PCG64 (``default_rng``), Philox (counter-based), SFC64, in
  float32 and float64;
* numpy generators on N threads: independent keyed streams, one per chunk, each writing
  ``standard_normal(out=...)`` into its slice of one preallocated array; the "keyed" rows also
  build their generators inside the timed call (what a simulator making fresh draws pays);
* a hand-vectorised counter-based generator in numpy (splitmix64 of the element index, then
  Box-Muller);
* reusing stored draws (common random numbers across configurations): a copy, no drawing.

Usage::

    python bench/gaussians.py              # ~2 min on 2 cores; writes bench/results/gaussians.{md,json}
    python bench/gaussians.py --smoke      # seconds; for CI
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, versions

from analogc.runtime.session import default_threads, make_session

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SIZES = {
    # elements of one layer's noise for one batch
    "262k (digits ResNet conv, batch 256)": 256 * 16 * 8 * 8,
    "6.4M (ResNet-50 stage-1 conv, batch 8)": 8 * 256 * 56 * 56,
}
SMOKE_SIZES = {"64k": 1 << 16}
CHUNK = 1 << 20
Source = Callable[[], object]


def _graph_model(nodes: list[onnx.NodeProto], n: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "rng",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ort_normal(n: int, threads: int) -> Source:
    """RandomNormalLike, as the standalone annotated model draws."""
    model = _graph_model([helper.make_node("RandomNormalLike", ["x"], ["y"])], n)
    session = make_session(model, threads=threads)
    x = np.zeros(n, np.float32)
    return lambda: session.run(None, {"x": x})


def ort_box_muller(n: int, threads: int) -> Source:
    """Two RandomUniformLike halves and Box-Muller, all in the graph (n even)."""
    half = n // 2
    c = helper.make_tensor

    def const(name: str, value: float) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], value=c(name, TensorProto.FLOAT, [], [value])
        )

    nodes = [
        helper.make_node("Split", ["x", "halves"], ["xa", "xb"], axis=0),
        const("eps", 1e-7),
        const("m2", -2.0),
        const("tau", 2 * np.pi),
        helper.make_node("RandomUniformLike", ["xa"], ["u1"], low=1e-7, high=1.0),
        helper.make_node("RandomUniformLike", ["xb"], ["u2"]),
        helper.make_node("Log", ["u1"], ["lu"]),
        helper.make_node("Mul", ["lu", "m2"], ["r2"]),
        helper.make_node("Sqrt", ["r2"], ["r"]),
        helper.make_node("Mul", ["u2", "tau"], ["t"]),
        helper.make_node("Cos", ["t"], ["ct"]),
        helper.make_node("Sin", ["t"], ["st"]),
        helper.make_node("Mul", ["r", "ct"], ["ya"]),
        helper.make_node("Mul", ["r", "st"], ["yb"]),
        helper.make_node("Concat", ["ya", "yb"], ["y"], axis=0),
    ]
    model = _graph_model(nodes, n)
    model.graph.initializer.append(
        helper.make_tensor("halves", TensorProto.INT64, [2], [half, n - half])
    )
    session = make_session(model, threads=threads)
    x = np.zeros(n, np.float32)
    return lambda: session.run(None, {"x": x})


def numpy_one(bitgen: type[np.random.BitGenerator], n: int, dtype: type) -> Source:
    """One generator, one thread, into a preallocated array."""
    gen = np.random.Generator(bitgen(0))
    out = np.empty(n, dtype)
    return lambda: gen.standard_normal(out=out, dtype=dtype)


def numpy_threads(
    bitgen: type[np.random.BitGenerator], n: int, pool: ThreadPoolExecutor, *, keyed: bool
) -> Source:
    """Chunks of CHUNK elements on the pool, one stream per chunk, float32.

    ``keyed``: each call builds its generators from (seed, chunk) keys, as fresh draws do;
    otherwise the generators are built once (streams spawned from one seed) and reused.
    """
    out = np.empty(n, np.float32)
    starts = list(range(0, n, CHUNK))
    spawned = [np.random.Generator(bitgen(s)) for s in np.random.SeedSequence(0).spawn(len(starts))]
    counter = iter(range(1 << 62))

    def fill(i: int, seed: int) -> None:
        gen = np.random.Generator(bitgen([seed, i])) if keyed else spawned[i]
        gen.standard_normal(out=out[starts[i] : starts[i] + CHUNK], dtype=np.float32)

    def run() -> None:
        seed = next(counter)
        list(pool.map(lambda i: fill(i, seed), range(len(starts))))

    return run


def counter_box_muller(n: int) -> Source:
    """splitmix64 of (key + index) in vectorised numpy, then Box-Muller in float32."""
    half = (n + 1) // 2
    index = np.arange(half, dtype=np.uint64)
    out = np.empty(2 * half, np.float32)
    counter = iter(range(1 << 62))

    def run() -> None:
        key = np.uint64(next(counter) * 0x9E3779B97F4A7C15 % (1 << 64))
        z = index + key
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        scale = np.float32(2.0**-24)
        u1 = ((z >> np.uint64(40)).astype(np.float32) + np.float32(0.5)) * scale
        u2 = ((z & np.uint64(0xFFFFFF)).astype(np.float32)) * (scale * np.float32(2 * np.pi))
        r = np.sqrt(np.float32(-2.0) * np.log(u1))
        np.multiply(r, np.cos(u2), out=out[:half])
        np.multiply(r, np.sin(u2), out=out[half:])

    return run


def reuse(n: int) -> Source:
    """Draws stored once and reused (common random numbers): the per-run cost is a copy."""
    stored = np.random.default_rng(0).standard_normal(n, np.float32)
    out = np.empty_like(stored)
    return lambda: np.copyto(out, stored)


def sources(n: int, threads: int, pool: ThreadPoolExecutor) -> dict[str, Source]:
    r = np.random
    return {
        f"onnxruntime RandomNormalLike ({threads} threads)": ort_normal(n, threads),
        f"onnxruntime RandomUniformLike + Box-Muller ({threads} threads)": ort_box_muller(
            n, threads
        ),
        "numpy PCG64 float64, 1 thread": numpy_one(r.PCG64, n, np.float64),
        "numpy PCG64 float32, 1 thread": numpy_one(r.PCG64, n, np.float32),
        "numpy Philox float32, 1 thread": numpy_one(r.Philox, n, np.float32),
        "numpy SFC64 float32, 1 thread": numpy_one(r.SFC64, n, np.float32),
        f"numpy PCG64 float32, {threads} threads, spawned streams": numpy_threads(
            r.PCG64, n, pool, keyed=False
        ),
        f"numpy PCG64 float32, {threads} threads, keyed per call": numpy_threads(
            r.PCG64, n, pool, keyed=True
        ),
        f"numpy Philox float32, {threads} threads, keyed per call": numpy_threads(
            r.Philox, n, pool, keyed=True
        ),
        f"numpy SFC64 float32, {threads} threads, keyed per call": numpy_threads(
            r.SFC64, n, pool, keyed=True
        ),
        "counter-based splitmix64 + Box-Muller, numpy vectorised, 1 thread": counter_box_muller(n),
        "reuse stored draws (copy only; not fresh noise)": reuse(n),
    }


def measure(n: int, threads: int, *, calls: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each source, interleaved call by call."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        fns = sources(n, threads, pool)
        times: dict[str, list[float]] = {k: [] for k in fns}
        for i in range(warmup + calls):
            for key, fn in fns.items():
                t = time.perf_counter()
                fn()
                if i >= warmup:
                    times[key].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def table(rows: list[dict[str, object]]) -> str:
    headers = ["layer size", "source", "M draws/s", "ns/draw", "vs fastest"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [
            row["size"],
            row["source"],
            f"{row['mdraws_per_s']:.0f}",
            f"{row['ns_per_draw']:.2f}",
            f"{row['vs_fastest']:.2f}",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds)")
    parser.add_argument("--calls", type=int, default=15, help="timed calls per source (median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gaussians.{md,json}")
    args = parser.parse_args(argv)
    calls, warmup = (2, 1) if args.smoke else (args.calls, 3)
    threads = default_threads()
    rows: list[dict[str, object]] = []
    for label, n in (SMOKE_SIZES if args.smoke else SIZES).items():
        medians = measure(n, threads, calls=calls, warmup=warmup)
        best = min(medians.values(), key=lambda s: s)
        fastest_fresh = min(s for k, s in medians.items() if not k.startswith("reuse"))
        for source, seconds in medians.items():
            rows.append(
                {
                    "size": label,
                    "elements": n,
                    "source": source,
                    "seconds": seconds,
                    "mdraws_per_s": n / seconds / 1e6,
                    "ns_per_draw": seconds / n * 1e9,
                    "vs_fastest": seconds / fastest_fresh,
                }
            )
            print(f"{label} | {source} | {n / seconds / 1e6:.0f} M/s", flush=True)
        del best
    command = "python bench/gaussians.py" + (" --smoke" if args.smoke else "")
    header = (
        f"Command: `{command}` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}; "
        f"{versions()}, numpy {np.__version__}. Median of {calls} calls after {warmup} warm-up "
        f"calls, sources interleaved call by call; chunks of {CHUNK} elements on the threaded rows."
    )
    doc = {"command": command, "header": header, "threads": threads, "chunk": CHUNK, "rows": rows}
    text = f"""# Gaussian sources: million standard-normal draws per second

{header}

"vs fastest" is time per draw relative to the fastest source that makes fresh draws (the
reuse row is below 1: it draws nothing).

{table(rows)}
"""
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.smoke or args.out != RESULTS:
        (args.out / "gaussians.md").write_text(text)
        (args.out / "gaussians.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out / 'gaussians.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
