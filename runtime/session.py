"""The one place that creates onnxruntime sessions, so every setting lives here."""

from __future__ import annotations

import os

import onnx
import onnxruntime as ort

from analogc.passes import external_data_dir


def default_threads() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def make_session(
    model: onnx.ModelProto | str | os.PathLike[str],
    *,
    threads: int | None = None,
    optimize: bool = True,
    arena: bool = True,
) -> ort.InferenceSession:
    """A CPU session. ``optimize=False`` runs the graph as written (calibration, debugging).

    Args:
        model: a ModelProto or a path to an .onnx file.
        threads: intra-op threads; default: the CPUs this process may use.
        optimize: onnxruntime graph optimizations (constant folding of weight statistics).
        arena: onnxruntime's CPU memory arena (faster small allocations, more memory held).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Without the arena, memory a run no longer needs goes back at once instead of staying
    # reserved for the session's lifetime: simulation graphs take every noise draw as an input,
    # and the arena's power-of-two growth held ~25% more than the run needed (ResNet-50).
    options.enable_cpu_mem_arena = arena
    # Idle worker threads must not spin: analogc alternates sessions (probe, simulator) and
    # numpy threads drawing noise, which spinning threads would starve.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    if isinstance(model, onnx.ModelProto):
        folder = external_data_dir(model)  # weights left on disk by analogc.passes.load_model
        if folder is not None:
            options.add_session_config_entry(
                "session.model_external_initializers_file_folder_path", str(folder)
            )
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
