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
* the hand-vectorised counter-based generator of ``runtime/draws.py`` (SplitMix64 of a
  counter, each 64-bit hash read as four 16-bit indices into a table of the normal's
  equally likely bins) in cache-sized chunks on 1 and N threads, and the one it replaced
  (SplitMix64, then Box-Muller in float32: :func:`box_muller_chunk`), over the whole array
  and in chunks;
* reusing stored draws (common random numbers across configurations): a copy, no drawing.

Usage::

    python bench/gaussians.py              # ~2 min on 2 cores; writes bench/results/gaussians.{md,json}
    python bench/gaussians.py --smoke      # seconds; for CI
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, versions

from analogc.runtime import draws
from analogc.runtime.draws import keyed_normals
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
"""Elements per chunk on the threaded numpy bit-generator rows."""
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


def counter_whole(n: int) -> Source:
    """The counter-based generator of runtime/draws.py over the whole array in one call
    (temporaries as large as the array: out of cache for large layers)."""
    half = (n + 1) // 2
    index = np.arange(1, half + 1, dtype=np.uint64)
    out = np.empty(2 * half, np.float32)
    counter = iter(range(1 << 62))

    def run() -> None:
        z = index * np.uint64(0x9E3779B97F4A7C15)
        z += np.uint64(np.random.SeedSequence(next(counter)).generate_state(1, np.uint64)[0])
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        u1 = ((z >> np.uint64(40)).astype(np.float32) + np.float32(1.0)) * np.float32(2.0**-24)
        angle = (z & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0**-24 * 2 * np.pi)
        r = np.sqrt(np.float32(-2.0) * np.log(u1))
        np.multiply(r, np.cos(angle), out=out[:half])
        np.multiply(r, np.sin(angle), out=out[half:])

    return run


def box_muller_chunk(key: int, out: np.ndarray) -> None:
    """The chunk generator analogc shipped before the table (runtime/draws.py before commit
    "draws: a table of the normal's bins"): SplitMix64 of pair j's counter, its top 24 bits
    u1 and low 24 bits the angle, Box-Muller's r·cos in the first half, r·sin in the second."""
    half = (out.size + 1) // 2
    z = np.arange(1, half + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z += np.uint64(key)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    u1 = ((z >> np.uint64(40)).astype(np.float32) + np.float32(1.0)) * np.float32(2.0**-24)
    angle = (z & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0**-24 * 2 * np.pi)
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    np.multiply(r, np.cos(angle), out=out[:half])
    np.multiply(r[: out.size - half], np.sin(angle[: out.size - half]), out=out[half:])


def counter_chunks(
    n: int,
    pool: ThreadPoolExecutor | None,
    fill_chunk: Callable[[int, np.ndarray], None] = draws.counter_normals,
) -> Source:
    """``fill_chunk`` (runtime/draws.counter_normals: shipped) chunk by chunk (keys derived
    per call), on the pool."""
    out = np.empty(n, np.float32)
    starts = list(range(0, n, draws.CHUNK))
    counter = iter(range(1 << 62))

    def fill(seed: int, c: int) -> None:
        key = np.random.SeedSequence([seed, c]).generate_state(1, np.uint64)[0]
        fill_chunk(int(key), out[starts[c] : starts[c] + draws.CHUNK])

    def run() -> None:
        seed = next(counter)
        if pool is None:
            for c in range(len(starts)):
                fill(seed, c)
        else:
            list(pool.map(lambda c: fill(seed, c), range(len(starts))))

    return run


def reuse(n: int) -> Source:
    """Draws stored once and reused (common random numbers): the per-run cost is a copy."""
    stored = np.random.default_rng(0).standard_normal(n, np.float32)
    out = np.empty_like(stored)
    return lambda: np.copyto(out, stored)


def ort_keyed_hash(n: int, threads: int) -> Source:
    """Draws made in the graph where they are needed, keyed like the search's (a key input,
    the element index): two PCG-hash words per element (uint32 Mul, Add, BitShift,
    BitwiseXor), then Box-Muller's cosine branch. What a simulation graph could use to keep
    common random numbers without holding its draws as inputs."""
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: float, dtype: type = np.uint32) -> str:
        inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [output], **attrs)

    def pcg_hash(word: str, out: str) -> list[onnx.NodeProto]:
        right = {"direction": "RIGHT"}
        return [
            node("Mul", [word, const(out + "m1", 747796405)], out + "a"),
            node("Add", [out + "a", const(out + "c1", 2891336453)], out + "s"),
            node("BitShift", [out + "s", const(out + "28", 28)], out + "t", **right),
            node("Add", [out + "t", const(out + "4", 4)], out + "k"),
            node("BitShift", [out + "s", out + "k"], out + "r", **right),
            node("BitwiseXor", [out + "r", out + "s"], out + "x"),
            node("Mul", [out + "x", const(out + "m2", 277803737)], out + "w"),
            node("BitShift", [out + "w", const(out + "22", 22)], out + "v", **right),
            node("BitwiseXor", [out + "v", out + "w"], out),
        ]

    def unit(word: str, out: str) -> list[onnx.NodeProto]:  # (0, 1), never 0
        return [
            node("BitShift", [word, const(out + "8", 8)], out + "b", direction="RIGHT"),
            node("Cast", [out + "b"], out + "f", to=TensorProto.FLOAT),
            node("Add", [out + "f", const(out + "h", 0.5, np.float32)], out + "g"),
            node("Mul", [out + "g", const(out + "e", 2.0**-24, np.float32)], out),
        ]

    nodes = [
        node(
            "Range",
            [const("zero", 0, np.int64), const("n", n, np.int64), const("one", 1, np.int64)],
            "i64",
        ),
        node("Cast", ["i64"], "index", to=TensorProto.UINT32),
        node("Add", ["index", "key"], "word1"),
        *pcg_hash("word1", "h1"),
        node("BitwiseXor", ["h1", const("salt", 0x9E3779B9)], "word2"),
        *pcg_hash("word2", "h2"),
        *unit("h1", "u1"),
        *unit("h2", "u2"),
        node("Log", ["u1"], "log"),
        node("Mul", ["log", const("m2", -2.0, np.float32)], "r2"),
        node("Sqrt", ["r2"], "r"),
        node("Mul", ["u2", const("tau", 2 * np.pi, np.float32)], "theta"),
        node("Cos", ["theta"], "cos"),
        node("Mul", ["r", "cos"], "y"),
    ]
    graph = helper.make_graph(
        nodes,
        "keyed_hash",
        [helper.make_tensor_value_info("key", TensorProto.UINT32, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
        inits,
    )
    session = make_session(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), threads=threads
    )
    keys = iter(range(1 << 31))
    return lambda: session.run(None, {"key": np.array(next(keys) * n, np.uint32)})


def sources(n: int, threads: int, pool: ThreadPoolExecutor) -> dict[str, Source]:
    r = np.random
    return {
        f"onnxruntime RandomNormalLike ({threads} threads)": ort_normal(n, threads),
        f"onnxruntime RandomUniformLike + Box-Muller ({threads} threads)": ort_box_muller(
            n, threads
        ),
        f"onnxruntime in-graph keyed PCG hash + Box-Muller ({threads} threads)": ort_keyed_hash(
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
        "counter-based SplitMix64 + Box-Muller, whole array, 1 thread": counter_whole(n),
        f"SplitMix64 + Box-Muller (before), chunks of {draws.CHUNK}, 1 thread": counter_chunks(
            n, None, box_muller_chunk
        ),
        f"SplitMix64 + Box-Muller (before), chunks of {draws.CHUNK}, {threads} threads": (
            counter_chunks(n, pool, box_muller_chunk)
        ),
        f"SplitMix64 + normal table (shipped), chunks of {draws.CHUNK}, 1 thread": (
            counter_chunks(n, None)
        ),
        f"SplitMix64 + normal table (shipped), chunks of {draws.CHUNK}, {threads} threads": (
            counter_chunks(n, pool)
        ),
        "reuse stored draws (copy only; not fresh noise)": reuse(n),
    }


def measure(n: int, threads: int, *, calls: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each source, interleaved call by call."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return _timed(sources(n, threads, pool), calls=calls, warmup=warmup)


def _timed(fns: dict[str, Source], *, calls: int, warmup: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(warmup + calls):
        for key, fn in fns.items():
            t = time.perf_counter()
            fn()
            if i >= warmup:
                times[key].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def resnet50_sizes(batch: int) -> list[int]:
    """Output elements of ResNet-50's 54 analog layers at 224x224 (torchvision's order: conv1,
    then per bottleneck conv1, conv2, conv3 and the first block's downsample, then fc): one
    shot- or thermal-noise draw each. For batch 8: 88,919,872 in all (bench/overhead.py)."""
    sizes = [64 * 112 * 112]
    hw_in = 56
    for planes, blocks, hw in ((64, 3, 56), (128, 4, 28), (256, 6, 14), (512, 3, 7)):
        sizes += [planes * hw_in**2, planes * hw**2, 4 * planes * hw**2, 4 * planes * hw**2]
        sizes += [planes * hw**2, planes * hw**2, 4 * planes * hw**2] * (blocks - 1)
        hw_in = hw
    return [batch * s for s in [*sizes, 1000]]


def run_sources(sizes: list[int], threads: int, pool: ThreadPoolExecutor) -> dict[str, Source]:
    """One noisy run's draws for the search graph (a list of layers), made three ways."""
    counter = iter(range(1 << 62))

    def per_layer() -> None:  # analogc before chunking: one PCG64 stream per layer
        seed = next(counter)
        list(
            pool.map(
                lambda p: np.random.default_rng([seed, 0, p]).standard_normal(sizes[p], np.float32),
                range(len(sizes)),
            )
        )

    buffer = np.empty(sum(sizes), np.float32)
    starts = np.cumsum([0, *sizes])

    def box_muller() -> None:  # the chunks before the table, as separate jobs, one buffer
        seed = next(counter)
        jobs = [
            (p, c, start)
            for p, n in enumerate(sizes)
            for c, start in enumerate(range(starts[p], starts[p + 1], draws.CHUNK))
        ]

        def fill(p: int, c: int, start: int) -> None:
            key = np.random.SeedSequence([seed, 0, p, c]).generate_state(1, np.uint64)[0]
            box_muller_chunk(int(key), buffer[start : min(start + draws.CHUNK, starts[p + 1])])

        list(pool.map(lambda job: fill(*job), jobs))

    def keyed() -> None:  # runtime/simulate.py: chunks as separate jobs, one reused buffer
        seed = next(counter)
        jobs = [
            job
            for p, n in enumerate(sizes)
            for job in keyed_normals((seed, 0, p), [(n,)], out=[buffer[starts[p] : starts[p + 1]]])[
                1
            ]
        ]
        list(pool.map(lambda job: job(), jobs))

    return {
        f"{threads} threads, one PCG64 stream per layer, new arrays (before)": per_layer,
        f"{threads} threads, SplitMix64 + Box-Muller chunks of {draws.CHUNK} (before the table), "
        "into a reused buffer": box_muller,
        f"{threads} threads, keyed_normals: SplitMix64 + normal table, chunks of {draws.CHUNK}, "
        "into a reused buffer (shipped)": keyed,
        f"onnxruntime RandomNormalLike, all in one node ({threads} threads)": ort_normal(
            sum(sizes), threads
        ),
    }


def measure_run(sizes: list[int], threads: int, *, calls: int, warmup: int) -> dict[str, float]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return _timed(run_sources(sizes, threads, pool), calls=calls, warmup=warmup)


def table(rows: list[dict[str, object]]) -> str:
    headers = ["size", "source", "M draws/s", "range over rounds", "ns/draw", "vs fastest"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [
            row["size"],
            row["source"],
            f"{row['mdraws_per_s']:.0f}",
            row["range"],
            f"{row['ns_per_draw']:.2f}",
            f"{row['vs_fastest']:.2f}",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def _rows(label: str, n: int, medians: dict[str, list[float]]) -> list[dict[str, object]]:
    """Table rows for one size: seconds per call are the median over rounds."""
    mid = {k: statistics.median(v) for k, v in medians.items()}
    fastest = min(t for k, t in mid.items() if not k.startswith("reuse"))
    return [
        {
            "size": label,
            "elements": n,
            "source": source,
            "seconds": mid[source],
            "mdraws_per_s": n / mid[source] / 1e6,
            "range": f"{n / max(ts) / 1e6:.0f}–{n / min(ts) / 1e6:.0f}",
            "ns_per_draw": mid[source] / n * 1e9,
            "vs_fastest": mid[source] / fastest,
        }
        for source, ts in medians.items()
    ]


def clean_forward(smoke: bool, calls: int) -> dict[str, tuple[int, float]]:
    """Gaussians one shot-noise run draws, and the clean forward's median seconds, per model."""
    from analogc.passes import infer_shapes, load_model

    cases: dict[str, tuple[onnx.ModelProto, dict[str, np.ndarray], int]] = {}
    image = np.load(ROOT / "models" / "digits_test.npz")["image"]
    digits = infer_shapes(load_model(ROOT / "models" / "digits_resnet.onnx"))
    feed = {"image": np.tile(image, (2, 1, 1, 1))[:256]}
    cases["digits ResNet, batch 256"] = (digits, feed, 256 * 5642)  # output elements (Probe)
    if not smoke:
        from analogc.models import zoo

        model = zoo.resnet50(batch=None)
        x = np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32)
        cases["ResNet-50 arch, batch 8"] = (
            model,
            {model.graph.input[0].name: x},
            sum(resnet50_sizes(8)),
        )
    out = {}
    for name, (model, feed, n_draws) in cases.items():
        session = make_session(model)
        times = []
        for _ in range(calls + 1):
            t = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - t)
        out[name] = (n_draws, statistics.median(times[1:]))
    return out


def floor_table(clean: dict[str, tuple[int, float]], rates: dict[str, float]) -> str:
    """Noisy/clean floor of the standalone model from drawing alone, per model and source."""
    lines = [
        "| model | Gaussians per run (M) | clean forward ms | source | drawing ms | floor "
        "(1 + drawing / clean) | M draws/s needed for 1.3× |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, (n_draws, seconds) in clean.items():
        for source, rate in rates.items():
            drawing = n_draws / (rate * 1e6)
            lines.append(
                f"| {model} | {n_draws / 1e6:.2f} | {1e3 * seconds:.1f} | {source} | "
                f"{1e3 * drawing:.1f} | {1 + drawing / seconds:.2f}× | "
                f"{n_draws / (0.3 * seconds) / 1e6:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds)")
    parser.add_argument("--calls", type=int, default=7, help="timed calls per source and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each reports a median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gaussians.{md,json}")
    args = parser.parse_args(argv)
    calls, warmup, rounds = (2, 1, 1) if args.smoke else (args.calls, 2, args.rounds)
    threads = default_threads()
    load_before = os.getloadavg()[0]
    batch = 1 if args.smoke else 8
    run_label = f"one ResNet-50 run, batch {batch} (54 layers, {sum(resnet50_sizes(batch)):,})"
    sizes = {**(SMOKE_SIZES if args.smoke else SIZES), run_label: sum(resnet50_sizes(batch))}
    medians: dict[str, dict[str, list[float]]] = {label: {} for label in sizes}
    for _ in range(rounds):  # whole rounds repeated: the spread shows the machine's noise
        for label, n in sizes.items():
            if label == run_label:
                got = measure_run(resnet50_sizes(batch), threads, calls=calls, warmup=warmup)
            else:
                got = measure(n, threads, calls=calls, warmup=warmup)
            for source, seconds in got.items():
                medians[label].setdefault(source, []).append(seconds)
                print(f"{label} | {source} | {n / seconds / 1e6:.0f} M/s", flush=True)
    rows = [row for label, n in sizes.items() for row in _rows(label, n, medians[label])]
    run_rows = {str(r["source"]): float(r["mdraws_per_s"]) for r in rows if r["size"] == run_label}
    rates = {
        "RandomNormalLike (standalone model today)": next(
            v for k, v in run_rows.items() if "RandomNormalLike" in k
        ),
        "keyed_normals (search graph, shipped)": next(
            v for k, v in run_rows.items() if "shipped" in k
        ),
    }
    clean = clean_forward(args.smoke, calls)
    command = " ".join(["python bench/gaussians.py", *(sys.argv[1:] if argv is None else argv)])
    header = (
        f"Command: `{command}` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {machine()}, "
        f"shared with other jobs (load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end: timings noisy); {versions()}, numpy {np.__version__}. "
        f"{rounds} rounds of {calls} calls after {warmup} warm-up calls, sources interleaved "
        f"call by call; the M draws/s column is the median of the rounds' medians, the range "
        f"is the rounds' slowest and fastest median; numpy bit generators on threads draw "
        f"chunks of {CHUNK} elements."
    )
    doc = {
        "command": command,
        "header": header,
        "threads": threads,
        "chunk": CHUNK,
        "rows": rows,
        "clean_forward": {k: {"gaussians": d, "seconds": s} for k, (d, s) in clean.items()},
        "rates_for_floor": rates,
    }
    text = f"""# Gaussian sources: million standard-normal draws per second

{header}

"vs fastest" is time per draw relative to the fastest source that makes fresh draws (the
reuse row draws nothing: it is what common random numbers cost once the draws are stored).

{table(rows)}

## The floor for the standalone annotated model

The standalone model draws one Gaussian per output element of every analog layer (shot or
thermal noise) inside onnxruntime, on top of the clean computation. Drawing alone therefore
bounds its noisy/clean ratio from below by 1 + drawing time / clean time (clean forward
timed in this run; Gaussians per run as counted by `bench/overhead.py`; draws per second from
the "one ResNet-50 run" rows above):

{floor_table(clean, rates)}
"""
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.smoke or args.out != RESULTS:
        (args.out / "gaussians.md").write_text(text)
        (args.out / "gaussians.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out / 'gaussians.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
