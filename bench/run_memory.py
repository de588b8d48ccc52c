"""Memory one run holds per example: analogc's simulation (the search graph with its noise
draws) against clean onnxruntime on the same model (issue 13: "simulation memory per example
≤ 2× clean onnxruntime's").

Each side runs in its own process under the same allocator setting (glibc's mmap threshold
fixed at 128 KiB, what compile sets when memory limits its batch, so that memory a run frees
is not counted in the next). A process resets its peak resident set
(``/proc/self/clear_refs``) once its session is made, then runs twice (memory a first run
allocates and keeps, such as analogc's reusable draw buffer, counts); the run memory is the
new peak less the resident memory before the first run, noise draws included for the
simulation. Per example: the slope between two batch sizes.

Usage::

    python bench/run_memory.py                 # ResNet-50 architecture, batches 1 and 4
    python bench/run_memory.py --smoke         # the demo's digits ResNet; seconds, for CI
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from common import write_results

from analogc.runtime.simulate import PIECES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "run_memory.md"
FIXED_THRESHOLD = "glibc.malloc.mmap_threshold=131072"

_COMMON = """
import json, sys
import numpy as np

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e3

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e3

def measured(run, **extra):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = rss()
    run()
    run()
    print(json.dumps({"run_mb": peak() - before, **extra}))

model, data, batch = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3])
feed = {k: data[k][:batch] for k in data.files if k != "labels"}
"""

_CLEAN = (
    _COMMON
    + """
import onnxruntime as ort
from analogc.runtime.session import make_session
session = make_session(model, threads=2, arena=False, optimize=True)
measured(lambda: session.run(None, feed))
"""
)

_NOISY = (
    _COMMON
    + """
from analogc.calibrated import CalibratedModel, open_model
from analogc.hardware import load_hardware
from analogc.runtime.data import Dataset
from analogc.runtime.memory import return_freed_memory
from analogc.runtime.metrics import METRICS
from analogc.runtime.simulate import Simulator
return_freed_memory()
calibrated = CalibratedModel(
    open_model(model), load_hardware("optical-shot"), Dataset(feed, source="bench"),
    metric=METRICS["cosine"], batch_size=batch, threads=2, memory_budget=1 << 40,
)
scales = {name: 0.1 for name in calibrated.names}
sim = Simulator(
    calibrated.loaded.model, calibrated.base_plan, shapes=calibrated.calibration.shapes,
    threads=2, pieces=int(sys.argv[4]),
)
del calibrated
seeds = iter(range(100))
draws_mb = sim.held_draw_bytes(feed) / 1e6
measured(
    lambda: sim.run(feed, scales=scales, seed=next(seeds), batch_index=0),
    draws_mb=draws_mb, pieces=sim.pieces,
)
"""
)


def _child(script: str, model: Path, data: Path, batch: int, pieces: int) -> dict[str, float]:
    env = {**os.environ, "GLIBC_TUNABLES": FIXED_THRESHOLD}
    result = subprocess.run(
        [sys.executable, "-c", script, str(model), str(data), str(batch), str(pieces)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(
    name: str, model: Path, data: Path, batches: tuple[int, int], pieces: int
) -> dict[str, object]:
    """Clean and noisy run memory at both batch sizes, the simulation in ``pieces`` (1:
    whole)."""
    row: dict[str, object] = {"model": name, "batches": list(batches)}
    for side, script in (("clean", _CLEAN), ("noisy", _NOISY)):
        found = [_child(script, model, data, b, pieces) for b in batches]
        runs = [f["run_mb"] for f in found]
        row[f"{side}_run_mb"] = runs
        row[f"{side}_per_example_mb"] = (runs[1] - runs[0]) / (batches[1] - batches[0])
        if side == "noisy":
            row["pieces"] = [int(f["pieces"]) for f in found]
            draws = [f["draws_mb"] for f in found]
            row["draws_per_example_mb"] = (draws[1] - draws[0]) / (batches[1] - batches[0])
    row["ratio"] = float(row["noisy_per_example_mb"]) / float(row["clean_per_example_mb"])  # type: ignore[arg-type]
    return row


def _models(smoke: bool, tmp: Path) -> list[tuple[str, Path, Path, tuple[int, int]]]:
    if smoke:
        return [
            (
                "digits ResNet",
                ROOT / "models" / "digits_resnet.onnx",
                ROOT / "models" / "digits_calib.npz",
                (64, 256),
            )
        ]
    from analogc.models import zoo

    resnet = tmp / "resnet50.onnx"
    onnx.save(zoo.resnet50(batch=None), resnet)
    x = np.random.default_rng(0).standard_normal((4, 3, 224, 224)).astype(np.float32)
    name = onnx.load(str(resnet), load_external_data=False).graph.input[0].name
    np.savez(tmp / "resnet50.npz", **{name: x})
    return [("ResNet-50 arch", resnet, tmp / "resnet50.npz", (1, 4))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="the demo's model only; for CI")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="analogc-run-memory-") as tmp_dir:
        rows = [
            measure(*case, pieces)
            for case in _models(args.smoke, Path(tmp_dir))
            for pieces in (1, PIECES)
        ]
    lines = [
        "| model | batches | pieces | clean run MB | noisy run MB | clean MB/example "
        "| noisy MB/example | of which noise draws held MB/example | noisy / clean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r["batches"]
        clean, noisy = r["clean_run_mb"], r["noisy_run_mb"]
        lines.append(
            f"| {r['model']} | {b[0]}, {b[1]} | {', '.join(map(str, r['pieces']))} | "  # type: ignore[call-overload]
            f"{clean[0]:.0f}, {clean[1]:.0f} | "  # type: ignore[index]
            f"{noisy[0]:.0f}, {noisy[1]:.0f} | {r['clean_per_example_mb']:.3g} | "  # type: ignore[index]
            f"{r['noisy_per_example_mb']:.3g} | {r['draws_per_example_mb']:.3g} | "
            f"{r['ratio']:.2f} |"
        )
        print(lines[-1], flush=True)
    cmd = "python bench/run_memory.py" + (" --smoke" if args.smoke else "")
    text = f"""# Memory one run holds per example: simulation vs clean onnxruntime

Command: `{cmd}` — {dt.date.today()}, {platform.machine()}, {len(os.sched_getaffinity(0))} cores,
Python {platform.python_version()}. Each figure comes from its own process under
`GLIBC_TUNABLES={FIXED_THRESHOLD}`: the peak resident memory of two runs above the resident
memory before them (the session already made). *clean*: the model in onnxruntime (all graph
optimisations, no arena, 2 threads); *noisy*: analogc's simulation graph with shot noise in
every analog layer, fresh draws (their memory included), the graph run whole (what compile
does while one run's draws fit half its memory budget) and in pieces (one session per piece,
each piece's draws made while the piece before it runs: the draws held are those of the two
largest consecutive pieces; what compile does beyond). Per example: the slope between the two
batch sizes.

{chr(10).join(lines)}

Target (issue 13): noisy MB/example ≤ 2 × clean MB/example.
"""
    write_results(text, args.output, smoke=args.smoke, default=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
