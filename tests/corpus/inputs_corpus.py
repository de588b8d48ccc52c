"""Corpus models shaped like streaming speech models (issue 11, items 1, 3, 4): inputs that are
not one plain batch, and shapes known only at run time. Built here, no downloads.

- ``sample_rate_if``: a voice-activity detector's interface, ``input [N, 64]``,
  ``state [2, N, 8]`` (batch on axis 1) and a scalar sample rate ``sr`` that an ``If`` tests
  to pick the 16 kHz or 8 kHz front end. Inside the branches the framing Unsqueeze takes its
  axes from the outer graph, which shape inference cannot read: the Conv after it has an
  unknown rank (digital for ``inspect``, made analog by ``compile`` from the shapes its
  calibration data shows).
- ``state_batch_axis1``: a recurrent-style cell, ``x [N, 16]`` and ``state [2, N, 128]``.
- ``streaming_chunk``: an audio chunk ``[N, T]`` of any length and the convolution cache of
  the previous chunk ``[N, 4, 2]``; the Convs' sizes depend on T.
"""

from __future__ import annotations

import numpy as np
import onnx
from corpus import Entry, N, const, model, node, vi, w
from onnx import TensorProto, helper

I64 = TensorProto.INT64


def sample_rate_if() -> onnx.ModelProto:
    """sr == 16000 ? Conv(4, k3) on input as [N,1,64] : Conv(4, k5) on input as [N,1,64];
    mean over time; plus the state's MatMul; logits [N, 4] and the next state [2, N, 8]."""

    def front_end(rate: str, kernel: int) -> onnx.GraphProto:
        return helper.make_graph(
            [
                node("Unsqueeze", ["input", "frame_axes"], [f"frames{rate}"], f"frame{rate}"),
                node(
                    "Conv",
                    [f"frames{rate}", f"Wc{rate}"],
                    [f"feat{rate}"],
                    f"conv{rate}",
                    pads=[kernel // 2, kernel // 2],
                ),
                node(
                    "ReduceMean",
                    [f"feat{rate}"],
                    [f"enc{rate}"],
                    f"pool{rate}",
                    axes=[2],
                    keepdims=0,
                ),
            ],
            f"front_end_{rate}",
            [],
            [vi(f"enc{rate}", [N, 8])],
        )

    nodes = [
        node("Equal", ["sr", "rate16k"], ["is16k"], "is_16k"),
        node(
            "If",
            ["is16k"],
            ["enc"],
            "by_rate",
            then_branch=front_end("16k", 3),
            else_branch=front_end("8k", 5),
        ),
        node("MatMul", ["state", "R"], ["recur"], "state_mm"),  # [2, N, 8]
        node("ReduceMean", ["recur"], ["recur_mean"], "state_mean", axes=[0], keepdims=0),
        node("Add", ["enc", "recur_mean"], ["z"], "mix"),
        node("Tanh", ["z"], ["h"], "act"),
        node("MatMul", ["h", "Wo"], ["output"], "head"),
        node("Unsqueeze", ["h", "state_axes"], ["h1"], "h_as_state"),
        node("Mul", ["state", "half"], ["kept"], "decay"),
        node("Add", ["kept", "h1"], ["stateN"], "next_state"),
    ]
    inits = [
        const("rate16k", np.array(16000, np.int64)),
        const("frame_axes", np.array([1], np.int64)),
        const("state_axes", np.array([0], np.int64)),
        const("half", np.array(0.5, np.float32)),
        w("Wc16k", (8, 1, 3), 1),
        w("Wc8k", (8, 1, 5), 2),
        w("R", (8, 8), 3),
        w("Wo", (8, 4), 4),
    ]
    return model(
        nodes,
        [vi("input", [N, 64]), vi("state", [2, N, 8]), vi("sr", [], I64)],
        [vi("output", [N, 4]), vi("stateN", [2, N, 8])],
        inits,
    )


SAMPLE_RATE_ANALOG = 2 * 8 * 8 + 8 * 4  # state MatMul over both layers, then the head


def state_batch_axis1() -> onnx.ModelProto:
    """state [2, N, 128]·R and x[N,16]·Wx mixed, tanh; head on the mean over the 2 layers."""
    nodes = [
        node("MatMul", ["state", "R"], ["recur"], "recurrent_mm"),  # [2, N, 128]
        node("MatMul", ["x", "Wx"], ["inp"], "input_mm"),  # [N, 128]
        node("Unsqueeze", ["inp", "axes0"], ["inp1"], "as_layer"),
        node("Add", ["recur", "inp1"], ["pre"], "mix"),
        node("Tanh", ["pre"], ["stateN"], "act"),
        node("ReduceMean", ["stateN"], ["pooled"], "pool", axes=[0], keepdims=0),
        node("MatMul", ["pooled", "Wo"], ["y"], "head"),
    ]
    inits = [
        const("axes0", np.array([0], np.int64)),
        w("R", (128, 128), 1),
        w("Wx", (16, 128), 2),
        w("Wo", (128, 4), 3),
    ]
    return model(
        nodes,
        [vi("x", [N, 16]), vi("state", [2, N, 128])],
        [vi("y", [N, 4]), vi("stateN", [2, N, 128])],
        inits,
    )


STATE_MACS = 2 * 128 * 128 + 16 * 128 + 128 * 4


def streaming_chunk() -> onnx.ModelProto:
    """chunk [N, T] -> Conv(4, k3, pad 1) -> with the cache [N, 4, 2] in front, Conv(8, k3)
    -> mean over time -> MatMul(3); the next cache is the last 2 frames of the first Conv."""
    nodes = [
        node("Unsqueeze", ["chunk", "axes1"], ["frames"], "frame"),  # [N, 1, T]
        node("Conv", ["frames", "W1"], ["c1"], "conv1", pads=[1, 1]),  # [N, 4, T]
        node("Concat", ["cache", "c1"], ["full"], "with_cache", axis=2),  # [N, 4, T + 2]
        node("Conv", ["full", "W2"], ["c2"], "conv2"),  # [N, 8, T]
        node("ReduceMean", ["c2"], ["pooled"], "pool", axes=[2], keepdims=0),
        node("MatMul", ["pooled", "Wo"], ["logits"], "head"),
        node("Slice", ["c1", "last2", "end", "axes2"], ["next_cache"], "keep_last"),
    ]
    inits = [
        const("axes1", np.array([1], np.int64)),
        const("axes2", np.array([2], np.int64)),
        const("last2", np.array([-2], np.int64)),
        const("end", np.array([np.iinfo(np.int64).max], np.int64)),
        w("W1", (4, 1, 3), 1),
        w("W2", (8, 4, 3), 2),
        w("Wo", (8, 3), 3),
    ]
    return model(
        nodes,
        [vi("chunk", [N, "T"]), vi("cache", [N, 4, 2])],
        [vi("logits", [N, 3]), vi("next_cache", [N, 4, 2])],
        inits,
    )


INPUT_ENTRIES: list[Entry] = [
    Entry(
        "sample_rate_if",
        sample_rate_if,
        {"input": ((N, 64), np.float32), "state": ((2, N, 8), np.float32)},
        SAMPLE_RATE_ANALOG,
        unknown=frozenset({"conv16k", "conv8k"}),
        analog_ops=2,
        covers=(
            "a scalar sample-rate input tested by an If, a state input with the batch on axis 1; "
            "Convs whose input rank shape inference loses in the If branches (digital until "
            "calibration shows their shapes)"
        ),
        fixed={"sr": np.array(16000, np.int64)},
    ),
    Entry(
        "state_batch_axis1",
        state_batch_axis1,
        {"x": ((N, 16), np.float32), "state": ((2, N, 128), np.float32)},
        STATE_MACS,
        analog_ops=3,
        covers="a recurrent state input [2, batch, 128] (batch on axis 1)",
    ),
    Entry(
        "streaming_chunk",
        streaming_chunk,
        {"chunk": ((N, "T"), np.float32), "cache": ((N, 4, 2), np.float32)},
        8 * 3,
        unknown=frozenset({"conv1", "conv2"}),
        analog_ops=3,
        covers="a streaming chunk of any length [batch, T] with the previous chunk's cache",
        dims={"T": 32},
    ),
]
