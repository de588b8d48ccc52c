"""What every bench records about where it ran: the machine and the library versions."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import onnx

from analogc.runtime.session import default_threads


def machine() -> str:
    """CPU count, memory and processor model, for the results header."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f", {mem_kb / 1024**2:.0f} GiB RAM"
    except (OSError, StopIteration):
        mem = ""
    return f"{cpus} cores ({model}){mem}, onnxruntime threads {default_threads()}"


def versions() -> str:
    import onnxruntime

    return f"Python {platform.python_version()}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}"


def write_results(text: str, output: Path, *, smoke: bool, default: Path) -> None:
    """Write a bench's results file; a smoke run writes only where it was told to, never over
    the committed results."""
    if smoke and output == default:
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}", file=sys.stderr)
