"""What a pass returns: the model and whether anything changed (onnx_ir's PassResult)."""

from __future__ import annotations

from dataclasses import dataclass

import onnx


@dataclass(frozen=True)
class PassResult:
    model: onnx.ModelProto
    modified: bool
