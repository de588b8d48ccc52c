"""A streaming voice-activity detector shaped like Silero-VAD (issue 11, "Done when"), built
here: no download.

Interface: ``input [N, 512]`` (one audio chunk), ``state [2, N, 128]`` (the batch on axis 1)
and a scalar ``sr`` (int64); outputs ``output [N, 1]`` (speech probability) and
``stateN [2, N, 128]``.

- **Front end**, chosen by an ``If`` on ``sr == 16000``: an STFT as a strided Conv with a
  windowed cos/sin basis (16 kHz: window 128, hop 64 after a reflection pad of 64; 8 kHz:
  window 64, hop 64 after a pad of 32), then the magnitude ``sqrt(re² + im²)``: 32 bins × 8
  frames either way. As exporters write it, the branches take their Unsqueeze axes and pads
  from the outer graph, which shape inference cannot read: the front-end Convs' ranks are known
  only at run time.
- **Encoder**: Conv(32→64, k3) + ReLU, Conv(64→64, k3, stride 2) + ReLU: 4 frames.
- **Two LSTMs** (a 2-layer pair, hidden 64, time-major after a Transpose): layer ``l`` starts
  from ``state[l] = [h | c]`` (64 + 64 = 128), and ``stateN[l] = [Y_h | Y_c]``.
- **Decoder**: ReLU, Conv(64→1, k1) + bias, Sigmoid, mean over the 4 frames.

With ``declared=False`` the If's branches do not declare their outputs' shapes (as scripted
exports often leave them): shape inference then loses the rank of everything after the If, and
the encoder, both LSTMs and the decoder are known only at run time too.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from corpus import Entry, N, const, conv_macs, model, node, vi, w
from onnx import TensorProto, helper, numpy_helper

I64 = TensorProto.INT64
CHUNK, BINS, FRAMES, CHANNELS, HIDDEN = 512, 32, 8, 64, 64
STEPS = FRAMES // 2  # after the stride-2 encoder Conv
FRONT_ENDS = {"16k": (128, 64), "8k": (64, 32)}  # STFT window and right reflection pad
HOP = 64


def stft_basis(window: int) -> np.ndarray:
    """[2·BINS, 1, window]: Hann-windowed cosines, then sines (an STFT as a Conv)."""
    n = np.arange(window)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / window)
    k = np.arange(BINS)[:, None]
    angle = 2 * np.pi * k * n / window
    basis = np.concatenate([hann * np.cos(angle), -hann * np.sin(angle)])
    return basis[:, None, :].astype(np.float32)


def _lstm_weights(layer: int) -> list[onnx.TensorProto]:
    gen = np.random.default_rng([20261127, layer])
    gates = 4 * HIDDEN
    scale = 1 / math.sqrt(HIDDEN)
    arrays = {
        f"lstm{layer}_W": gen.uniform(-scale, scale, (1, gates, CHANNELS)),
        f"lstm{layer}_R": gen.uniform(-scale, scale, (1, gates, HIDDEN)),
        f"lstm{layer}_B": gen.uniform(-scale, scale, (1, 2 * gates)),
    }
    return [numpy_helper.from_array(a.astype(np.float32), k) for k, a in arrays.items()]


def _front_end(rate: str, *, declared: bool) -> onnx.GraphProto:
    nodes = [
        node("Unsqueeze", ["input", "channel_axis"], [f"audio{rate}"], f"frame{rate}"),
        node(
            "Pad", [f"audio{rate}", f"pads{rate}"], [f"padded{rate}"], f"pad{rate}", mode="reflect"
        ),
        node(
            "Conv",
            [f"padded{rate}", f"stft{rate}"],
            [f"spec{rate}"],
            f"stft_conv{rate}",
            strides=[HOP],
        ),
        node("Slice", [f"spec{rate}", "zero1", "bins1", "axis1"], [f"re{rate}"], f"real{rate}"),
        node("Slice", [f"spec{rate}", "bins1", "end1", "axis1"], [f"im{rate}"], f"imag{rate}"),
        node("Mul", [f"re{rate}", f"re{rate}"], [f"re2{rate}"], f"real_sq{rate}"),
        node("Mul", [f"im{rate}", f"im{rate}"], [f"im2{rate}"], f"imag_sq{rate}"),
        node("Add", [f"re2{rate}", f"im2{rate}"], [f"power{rate}"], f"power{rate}"),
        node("Sqrt", [f"power{rate}"], [f"mag{rate}"], f"magnitude{rate}"),
    ]
    shape = [N, BINS, FRAMES] if declared else None
    return helper.make_graph(nodes, f"front_end_{rate}", [], [vi(f"mag{rate}", shape)])


def vad(*, declared: bool = True) -> onnx.ModelProto:
    """The Silero-like VAD described in the module docstring."""
    front = {rate: _front_end(rate, declared=declared) for rate in FRONT_ENDS}
    nodes = [
        node("Equal", ["sr", "rate16k"], ["is16k"], "is_16k"),
        node(
            "If",
            ["is16k"],
            ["feats"],
            "front_end",
            then_branch=front["16k"],
            else_branch=front["8k"],
        ),
        node("Conv", ["feats", "enc1_W", "enc1_B"], ["e1"], "enc1", pads=[1, 1]),
        node("Relu", ["e1"], ["r1"], "enc1_relu"),
        node("Conv", ["r1", "enc2_W", "enc2_B"], ["e2"], "enc2", pads=[1, 1], strides=[2]),
        node("Relu", ["e2"], ["r2"], "enc2_relu"),
        node("Transpose", ["r2"], ["seq"], "time_major", perm=[2, 0, 1]),  # [4, N, 64]
    ]
    layer_input = "seq"
    finals = []
    for layer in (1, 2):
        s = f"lstm{layer}"
        nodes += [
            node(
                "Slice",
                ["state", f"layer{layer}", f"layer{layer}_end", "axis0"],
                [f"{s}_state"],
                f"{s}_state",
            ),
            node("Split", [f"{s}_state", "halves"], [f"{s}_h0", f"{s}_c0"], f"{s}_split", axis=2),
            node(
                "LSTM",
                [layer_input, f"{s}_W", f"{s}_R", f"{s}_B", "", f"{s}_h0", f"{s}_c0"],
                [f"{s}_Y", f"{s}_h", f"{s}_c"],
                s,
                hidden_size=HIDDEN,
            ),
            node("Squeeze", [f"{s}_Y", "axis1"], [f"{s}_out"], f"{s}_squeeze"),  # [4, N, 64]
            node("Concat", [f"{s}_h", f"{s}_c"], [f"{s}_next"], f"{s}_next_state", axis=2),
        ]
        layer_input = f"{s}_out"
        finals.append(f"{s}_next")
    nodes += [
        node("Concat", finals, ["stateN"], "next_state", axis=0),
        node("Relu", [layer_input], ["d0"], "dec_relu"),
        node("Transpose", ["d0"], ["d1"], "channels_first", perm=[1, 2, 0]),  # [N, 64, 4]
        node("Conv", ["d1", "dec_W", "dec_B"], ["d2"], "decoder"),
        node("Sigmoid", ["d2"], ["d3"], "probability"),
        node("ReduceMean", ["d3"], ["output"], "over_frames", axes=[2], keepdims=0),
    ]
    inits = [
        const("rate16k", np.array(16000, np.int64)),
        const("channel_axis", np.array([1], np.int64)),
        const("zero1", np.array([0], np.int64)),
        const("bins1", np.array([BINS], np.int64)),
        const("end1", np.array([2 * BINS], np.int64)),
        const("axis1", np.array([1], np.int64)),
        const("axis0", np.array([0], np.int64)),
        const("halves", np.array([HIDDEN, HIDDEN], np.int64)),
        *(
            const(f"pads{rate}", np.array([0, 0, 0, 0, 0, pad], np.int64))
            for rate, (_, pad) in FRONT_ENDS.items()
        ),
        *(
            numpy_helper.from_array(stft_basis(window), f"stft{rate}")
            for rate, (window, _) in FRONT_ENDS.items()
        ),
        w("enc1_W", (CHANNELS, BINS, 3), 11),
        w("enc1_B", (CHANNELS,), 12),
        w("enc2_W", (CHANNELS, CHANNELS, 3), 13),
        w("enc2_B", (CHANNELS,), 14),
        *(const(f"layer{layer}", np.array([layer - 1], np.int64)) for layer in (1, 2)),
        *(const(f"layer{layer}_end", np.array([layer], np.int64)) for layer in (1, 2)),
        *_lstm_weights(1),
        *_lstm_weights(2),
        w("dec_W", (1, HIDDEN, 1), 15),
        w("dec_B", (1,), 16),
    ]
    return model(
        nodes,
        [vi("input", [N, CHUNK]), vi("state", [2, N, 2 * HIDDEN]), vi("sr", [], I64)],
        [vi("output", [N, 1]), vi("stateN", [2, N, 2 * HIDDEN])],
        inits,
    )


# Per example, counted by hand.
FRONT_END_MACS = {
    rate: conv_macs(1, 1, [window], 2 * BINS, [FRAMES]) for rate, (window, _) in FRONT_ENDS.items()
}
ENCODER_MACS = conv_macs(BINS, 1, [3], CHANNELS, [FRAMES]) + conv_macs(
    CHANNELS, 1, [3], CHANNELS, [STEPS]
)
LSTM_MACS = 2 * STEPS * 4 * HIDDEN * (CHANNELS + HIDDEN)  # two layers: input + recurrent
DECODER_MACS = conv_macs(HIDDEN, 1, [1], 1, [STEPS])
VAD_ANALOG = ENCODER_MACS + LSTM_MACS + DECODER_MACS

VAD_ENTRIES: list[Entry] = [
    Entry(
        "silero_like_vad",
        vad,
        {"input": ((N, CHUNK), np.float32), "state": ((2, N, 2 * HIDDEN), np.float32)},
        VAD_ANALOG,
        unknown=frozenset({"stft_conv16k", "stft_conv8k"}),
        analog_ops=2 + 2 * 2 + 1,
        covers=(
            "a Silero-like voice-activity detector: a scalar sample rate choosing an STFT front "
            "end by an If, a [2, batch, 128] state feeding two LSTMs (their gate products analog), "
            "a strided encoder and a Conv decoder"
        ),
        fixed={"sr": np.array(16000, np.int64)},
    ),
]
