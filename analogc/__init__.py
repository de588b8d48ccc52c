"""analogc: per-layer precision planning and noisy simulation of ONNX models on analog hardware."""

__version__ = "0.1.0"
