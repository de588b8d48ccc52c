"""Peak memory of ``analogc compile`` against onnxruntime's own working set (issue 6, target 4).

Target: compile's peak resident memory ≤ 3 × the model's weight bytes + onnxruntime's own
working set, where the latter is the peak of a process that loads the same file in a plain
onnxruntime session and runs one batch of the size compile uses. Each measurement runs in its
own process (peak RSS from ``resource.getrusage(RUSAGE_CHILDREN)``).

Usage::

    python bench/memory.py            # ResNet-50 architecture (built into the cache)
    python bench/memory.py --bert     # also BERT-base (slower)
    python bench/memory.py --smoke    # digits ResNet only, seconds; for CI
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "memory.md"

_REFERENCE = """
import sys, numpy as np, onnxruntime as ort
options = ort.SessionOptions(); options.intra_op_num_threads = 2
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
data = np.load(sys.argv[2])
session.run(None, {k: data[k][: int(sys.argv[3])] for k in data.files if k != "labels"})
"""


def _weights_mb(path: Path) -> float:
    model = onnx.load(str(path), load_external_data=False)
    return sum(int(np.prod(t.dims)) * 4 for t in model.graph.initializer) / 1e6


def _batch_used(out: Path) -> int:
    return int(json.loads((out / "report.json").read_text())["data"]["batch_size"])


def measure(name: str, model: Path, data: Path, tmp: Path, *, trials: int) -> dict[str, object]:
    base = [sys.executable, "-m", "analogc", "compile", str(model), "-d", str(data), "-q"]
    base += ["--batch-size", "256"]
    compile_fixed = [*base, "-n", "16", "-o", str(tmp / f"{name}-fixed")]
    compile_search = [*base, "--trials", str(trials), "--seeds", "2", "--metric", "agreement"]
    compile_search += ["-o", str(tmp / f"{name}-search")]
    # Separate interpreters: RUSAGE_CHILDREN is a running maximum over all children.
    fixed = _isolated(compile_fixed)
    batch = _batch_used(tmp / f"{name}-fixed")
    reference_cmd = [sys.executable, "-c", _REFERENCE, str(model), str(data), str(batch)]
    reference = _isolated(reference_cmd)
    # The same allocator setting compile takes when memory limits its batch
    # (analogc.runtime.memory): onnxruntime alone then holds less too.
    reference_fixed = _isolated(reference_cmd, env={"GLIBC_TUNABLES": FIXED_THRESHOLD})
    search = _isolated(compile_search)
    weights = _weights_mb(model)
    allowed = 3 * weights + min(reference, reference_fixed)
    return {
        "model": name,
        "weights_mb": weights,
        "batch": batch,
        "reference_mb": reference,
        "reference_fixed_mb": reference_fixed,
        "compile_fixed_mb": fixed,
        "compile_search_mb": search,
        "allowed_mb": allowed,
        "excess_over_reference_in_weights": (max(fixed, search) - reference) / weights,
        "excess_over_reference_fixed_in_weights": (
            (max(fixed, search) - reference_fixed) / weights
        ),
    }


FIXED_THRESHOLD = "glibc.malloc.mmap_threshold=131072"


def _isolated(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Peak RSS of ``cmd`` measured from a fresh wrapper process of its own."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(0 if r.returncode in (0, 1) else r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return int(result.stdout.strip().splitlines()[-1]) / 1e3


def _models(args: argparse.Namespace, tmp: Path) -> list[tuple[str, Path, Path]]:
    if args.smoke:
        return [
            (
                "digits ResNet",
                ROOT / "models" / "digits_resnet.onnx",
                ROOT / "models" / "digits_calib.npz",
            )
        ]
    from analogc.models import zoo

    cases = []
    resnet = tmp / "resnet50.onnx"
    onnx.save(zoo.resnet50(batch=None), resnet)
    x = np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32)
    name = onnx.load(str(resnet), load_external_data=False).graph.input[0].name
    np.savez(tmp / "resnet50.npz", **{name: x})
    cases.append(("ResNet-50 arch", resnet, tmp / "resnet50.npz"))
    if args.bert:
        bert = tmp / "bert.onnx"
        onnx.save(zoo.bert_base(seq=128), bert)
        np.savez(tmp / "bert.npz", **zoo.bert_inputs(batch=8, seq=128))
        cases.append(("BERT-base arch", bert, tmp / "bert.npz"))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="digits only (seconds); for CI")
    parser.add_argument("--bert", action="store_true", help="also BERT-base")
    parser.add_argument("--trials", type=int, default=10, help="search trials in the search run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="analogc-memory-") as tmp_dir:
        tmp = Path(tmp_dir)
        rows = [
            measure(name, model, data, tmp, trials=3 if args.smoke else args.trials)
            for name, model, data in _models(args, tmp)
        ]
    headers = [
        "model",
        "weights MB",
        "batch",
        "onnxruntime alone MB",
        "onnxruntime alone, fixed mmap threshold MB",
        "compile -n 16 MB",
        f"compile --trials {3 if args.smoke else args.trials} MB",
        "allowed (3×W + ort) MB",
        "(compile − ort) / W",
        "(compile − ort fixed) / W",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['weights_mb']:.1f} | {r['batch']} | {r['reference_mb']:.0f} | "
            f"{r['reference_fixed_mb']:.0f} | "
            f"{r['compile_fixed_mb']:.0f} | {r['compile_search_mb']:.0f} | {r['allowed_mb']:.0f} | "
            f"{r['excess_over_reference_in_weights']:.2f} | "
            f"{r['excess_over_reference_fixed_in_weights']:.2f} |"
        )
        print(lines[-1], flush=True)
    cmd = (
        "python bench/memory.py"
        + (" --smoke" if args.smoke else "")
        + (" --bert" if args.bert else "")
    )
    text = f"""# Peak memory of compile

Command: `{cmd}` — {dt.date.today()}, {platform.machine()}, {len(os.sched_getaffinity(0))} cores,
Python {platform.python_version()}. Each figure is the peak resident memory of its own process.
Synthetic inputs (8 examples); compile picks its batch size to keep a noisy run within 512 MiB
(the batch shown), and the onnxruntime-alone process runs that batch size.

{chr(10).join(lines)}

Target: compile ≤ 3 × weights + onnxruntime alone, i.e. the last two columns ≤ 3. When
memory limits its batch, compile fixes glibc's mmap threshold at 128 KiB
(`analogc/runtime/memory.py`: memory a run frees goes back to the system); "onnxruntime alone,
fixed mmap threshold" runs the reference under that setting too
(`GLIBC_TUNABLES={FIXED_THRESHOLD}`), and the last column compares with it.
"""
    write_results(text, args.output, smoke=args.smoke, default=RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
