"""ResNet-50 and BERT-base *architectures* with seeded random weights, built without torch.

The paper's results are on ResNet-50 and BERT; their checkpoints cannot be downloaded here,
but analogc must still handle graphs of that size and shape. These builders write the graphs
with ``onnx.helper`` and numpy only, op for op what the PyTorch exporters produce for
torchvision's ``resnet50()`` and transformers' ``BertModel`` (base config), so CI can build
them without torch. The weights are random: use them for scale and speed, never accuracy.

- **ResNet-50** (torchvision v1.5: stride on the 3x3 conv): 53 Conv + 1 Gemm, the exact
  torchvision shapes at ``width=64``. BatchNorm is **folded** into the convolutions, as the
  exporter does in eval mode and as analog hardware would run it, so every Conv has a bias.
  Weights are He-normal; each residual branch's last conv (and projection) is scaled by 0.5 so
  the residual stream grows slowly without BatchNorm statistics (a stand-in for trained BN
  scales); biases are N(0, 0.01²).
- **BERT-base** (``BertModel``, ``bert-base-uncased`` config): embeddings (word, position,
  token type) + LayerNorm, 12 layers of self-attention (MatMul + bias per projection,
  ``Q·Kᵀ/8``, additive mask, Softmax, ``A·V``) and GELU (erf) feed-forward, post-LayerNorm,
  and the tanh pooler. Initialisation as transformers' ``_init_weights``: N(0, 0.02²) weights
  and embeddings, zero biases, unit LayerNorm.

Reduced variants (``width``, ``image``, ``layers``, ``hidden`` ...) keep the structure and
make CI smoke runs take seconds. Build and cache: ``python -m analogc.models.zoo``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .cache import cache_dir

OPSET = 17
RESNET50_STAGES = ((3, 1), (4, 2), (6, 2), (3, 2))  # (bottleneck blocks, stride) per stage
EXPANSION = 4
RESIDUAL_GAIN = 0.5
Dim = int | str


@dataclass
class GraphBuilder:
    """Accumulates nodes and initializers; names follow the PyTorch exporter's conventions."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    _constants: int = 0

    def weight(self, name: str, array: np.ndarray) -> str:
        """Add an initializer (float32 unless the array says otherwise); return its name."""
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def normal(self, name: str, shape: Sequence[int], std: float) -> str:
        """A seeded N(0, std²) float32 initializer."""
        return self.weight(name, self.rng.standard_normal(tuple(shape), np.float32) * std)

    def const(self, value: np.ndarray | np.generic | float | int | Sequence[int]) -> str:
        """An anonymous constant initializer (shapes, scalars)."""
        self._constants += 1
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        return self.weight(f"onnx::Constant_{self._constants}", array)

    def op(self, op_type: str, name: str, inputs: Sequence[str], **attrs: Any) -> str:
        """Add one node with a single output named ``<name>_output_0``; return that name."""
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def model(
        self,
        name: str,
        inputs: Sequence[onnx.ValueInfoProto],
        outputs: Sequence[tuple[str, onnx.ValueInfoProto]],
    ) -> onnx.ModelProto:
        """Rename the final tensors to the graph output names and wrap in a checked model."""
        renames = {tensor: info.name for tensor, info in outputs}
        for node in self.nodes:
            node.output[:] = [renames.get(o, o) for o in node.output]
        graph = helper.make_graph(
            self.nodes, name, list(inputs), [info for _, info in outputs], self.initializers
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="analogc.models.zoo",
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def _param_key(scope: str) -> str:
    """The module path of a node scope, as PyTorch names parameters.

    The exporter's scopes repeat each container: ``/layer1/layer1.0/downsample/downsample.0``
    is module ``layer1.0.downsample.0``; ``/encoder/layer.0/attention`` is unchanged.
    """
    parts = scope.strip("/").split("/")
    kept = [
        p for p, nxt in zip(parts, [*parts[1:], ""], strict=True) if not nxt.startswith(p + ".")
    ]
    return ".".join(kept)


# --------------------------------------------------------------------------------------------
# ResNet-50


def _conv(
    g: GraphBuilder,
    scope: str,
    x: str,
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int = 1,
    gain: float = 1.0,
) -> str:
    """Conv with a folded-BatchNorm bias; He-normal weights times ``gain``."""
    key = _param_key(scope)
    std = gain * math.sqrt(2.0 / (c_in * kernel * kernel))
    w = g.normal(f"{key}.weight", (c_out, c_in, kernel, kernel), std)
    b = g.normal(f"{key}.bias", (c_out,), 0.01)
    pad = kernel // 2
    return g.op(
        "Conv",
        f"{scope}/Conv",
        [x, w, b],
        kernel_shape=[kernel, kernel],
        strides=[stride, stride],
        pads=[pad, pad, pad, pad],
        dilations=[1, 1],
        group=1,
    )


def _bottleneck(g: GraphBuilder, scope: str, x: str, c_in: int, planes: int, stride: int) -> str:
    """1x1 → 3x3 (stride) → 1x1 (x4), plus identity or 1x1 strided projection, then ReLU."""
    c_out = planes * EXPANSION
    y = g.op("Relu", f"{scope}/relu/Relu", [_conv(g, f"{scope}/conv1", x, c_in, planes, 1)])
    y = _conv(g, f"{scope}/conv2", y, planes, planes, 3, stride)
    y = g.op("Relu", f"{scope}/relu_1/Relu", [y])
    y = _conv(g, f"{scope}/conv3", y, planes, c_out, 1, gain=RESIDUAL_GAIN)
    skip = x
    if stride != 1 or c_in != c_out:
        down = f"{scope}/downsample/downsample.0"
        skip = _conv(g, down, x, c_in, c_out, 1, stride, gain=RESIDUAL_GAIN)
    y = g.op("Add", f"{scope}/Add", [y, skip])
    return g.op("Relu", f"{scope}/relu_2/Relu", [y])


def resnet50(
    batch: int | None = None,
    *,
    image: int | None = 224,
    width: int = 64,
    classes: int = 1000,
    seed: int = 0,
) -> onnx.ModelProto:
    """torchvision's ResNet-50 (BatchNorm folded) with random weights.

    Args:
        batch: static batch size, or None for a dynamic ``batch`` axis.
        image: static square input size, or None for dynamic height and width.
        width: channels of the stem (64 in ResNet-50; smaller for quick tests).
        classes: outputs of the final Gemm.
        seed: weight seed.

    Returns:
        A checked model: input ``image`` float32 [batch, 3, H, W], output ``logits``.
    """
    g = GraphBuilder(np.random.default_rng(seed))
    b: Dim = batch if batch is not None else "batch"
    h: Dim = image if image is not None else "height"
    w: Dim = image if image is not None else "width"
    x = "image"
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [b, 3, h, w])]
    y = g.op("Relu", "/relu/Relu", [_conv(g, "/conv1", x, 3, width, 7, 2)])
    y = g.op("MaxPool", "/maxpool/MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    c_in = width
    for stage, (blocks, stride) in enumerate(RESNET50_STAGES, start=1):
        planes = width * 2 ** (stage - 1)
        for i in range(blocks):
            scope = f"/layer{stage}/layer{stage}.{i}"
            y = _bottleneck(g, scope, y, c_in, planes, stride if i == 0 else 1)
            c_in = planes * EXPANSION
    y = g.op("GlobalAveragePool", "/avgpool/GlobalAveragePool", [y])
    y = g.op("Flatten", "/Flatten", [y], axis=1)
    fc_w = g.normal("fc.weight", (classes, c_in), 1.0 / math.sqrt(c_in))
    fc_b = g.weight("fc.bias", np.zeros(classes, np.float32))
    y = g.op("Gemm", "/fc/Gemm", [y, fc_w, fc_b], alpha=1.0, beta=1.0, transB=1)
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [b, classes])
    return g.model("resnet50", inputs, [(y, logits)])


# --------------------------------------------------------------------------------------------
# BERT-base


@dataclass(frozen=True)
class BertConfig:
    """The transformers ``BertConfig`` fields that shape the graph (defaults: bert-base)."""

    layers: int = 12
    hidden: int = 768
    heads: int = 12
    intermediate: int = 3072
    vocab: int = 30522
    max_positions: int = 512
    type_vocab: int = 2
    eps: float = 1e-12
    std: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def _linear(g: GraphBuilder, scope: str, x: str, d_in: int, d_out: int, std: float) -> str:
    """nn.Linear on a 3-D input, as the exporter writes it: MatMul by Wᵀ, then Add the bias."""
    key = _param_key(scope)
    w = g.normal(f"{key}.weight_t", (d_in, d_out), std)
    b = g.weight(f"{key}.bias", np.zeros(d_out, np.float32))
    return g.op("Add", f"{scope}/Add", [g.op("MatMul", f"{scope}/MatMul", [x, w]), b])


def _layer_norm(g: GraphBuilder, scope: str, x: str, cfg: BertConfig) -> str:
    key = _param_key(scope)
    gamma = g.weight(f"{key}.weight", np.ones(cfg.hidden, np.float32))
    beta = g.weight(f"{key}.bias", np.zeros(cfg.hidden, np.float32))
    return g.op(
        "LayerNormalization",
        f"{scope}/LayerNormalization",
        [x, gamma, beta],
        axis=-1,
        epsilon=cfg.eps,
    )


def _projection(g: GraphBuilder, scope: str, x: str, cfg: BertConfig, perm: Sequence[int]) -> str:
    """Linear [B, S, H] → reshape to [B, S, heads, head_dim] → transpose by ``perm``."""
    y = _linear(g, scope, x, cfg.hidden, cfg.hidden, cfg.std)
    shape = g.const(np.array([0, 0, cfg.heads, cfg.head_dim], np.int64))
    y = g.op("Reshape", f"{scope}/Reshape", [y, shape])
    return g.op("Transpose", f"{scope}/Transpose", [y], perm=list(perm))


def _attention(g: GraphBuilder, scope: str, x: str, mask: str, cfg: BertConfig) -> str:
    """Multi-head self-attention (eager): softmax(Q·Kᵀ/sqrt(d) + mask)·V, then the output dense."""
    h = cfg.hidden
    q = _projection(g, f"{scope}/self/query", x, cfg, (0, 2, 1, 3))  # [B, heads, S, d]
    k = _projection(g, f"{scope}/self/key", x, cfg, (0, 2, 3, 1))  # [B, heads, d, S]
    v = _projection(g, f"{scope}/self/value", x, cfg, (0, 2, 1, 3))  # [B, heads, S, d]
    scores = g.op("MatMul", f"{scope}/self/MatMul", [q, k])
    scores = g.op(
        "Div", f"{scope}/self/Div", [scores, g.const(np.float32(math.sqrt(cfg.head_dim)))]
    )
    scores = g.op("Add", f"{scope}/self/Add", [scores, mask])
    probs = g.op("Softmax", f"{scope}/self/Softmax", [scores], axis=-1)
    ctx = g.op("MatMul", f"{scope}/self/MatMul_1", [probs, v])
    ctx = g.op("Transpose", f"{scope}/self/Transpose", [ctx], perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", f"{scope}/self/Reshape", [ctx, g.const(np.array([0, 0, h], np.int64))])
    out = _linear(g, f"{scope}/output/dense", ctx, h, h, cfg.std)
    out = g.op("Add", f"{scope}/output/Add", [out, x])
    return _layer_norm(g, f"{scope}/output/LayerNorm", out, cfg)


def _gelu(g: GraphBuilder, scope: str, x: str) -> str:
    """Exact GELU, x·(1 + erf(x/√2))/2, in the exporter's op order (opset 17 has no Gelu)."""
    y = g.op("Div", f"{scope}/Div", [x, g.const(np.float32(math.sqrt(2.0)))])
    y = g.op("Erf", f"{scope}/Erf", [y])
    y = g.op("Add", f"{scope}/Add", [y, g.const(np.float32(1.0))])
    y = g.op("Mul", f"{scope}/Mul", [x, y])
    return g.op("Mul", f"{scope}/Mul_1", [y, g.const(np.float32(0.5))])


def _encoder_layer(g: GraphBuilder, i: int, x: str, mask: str, cfg: BertConfig) -> str:
    scope = f"/encoder/layer.{i}"
    x = _attention(g, f"{scope}/attention", x, mask, cfg)
    y = _linear(g, f"{scope}/intermediate/dense", x, cfg.hidden, cfg.intermediate, cfg.std)
    y = _gelu(g, f"{scope}/intermediate/intermediate_act_fn", y)
    y = _linear(g, f"{scope}/output/dense", y, cfg.intermediate, cfg.hidden, cfg.std)
    y = g.op("Add", f"{scope}/output/Add", [y, x])
    return _layer_norm(g, f"{scope}/output/LayerNorm", y, cfg)


def _embeddings(g: GraphBuilder, cfg: BertConfig) -> str:
    """Word + position + token-type embeddings, then LayerNorm (row 0 of words is padding)."""
    words = g.rng.standard_normal((cfg.vocab, cfg.hidden), np.float32) * cfg.std
    words[0] = 0.0
    word_table = g.weight("embeddings.word_embeddings.weight", words)
    pos_table = g.normal(
        "embeddings.position_embeddings.weight", (cfg.max_positions, cfg.hidden), cfg.std
    )
    type_table = g.normal(
        "embeddings.token_type_embeddings.weight", (cfg.type_vocab, cfg.hidden), cfg.std
    )
    seq = g.op("Shape", "/embeddings/Shape", ["input_ids"], start=1, end=2)
    seq = g.op("Squeeze", "/embeddings/Squeeze", [seq, g.const(np.array([0], np.int64))])
    zero, one = g.const(np.int64(0)), g.const(np.int64(1))
    positions = g.op("Range", "/embeddings/Range", [zero, seq, one])
    y = g.op("Gather", "/embeddings/word_embeddings/Gather", [word_table, "input_ids"])
    t = g.op("Gather", "/embeddings/token_type_embeddings/Gather", [type_table, "token_type_ids"])
    y = g.op("Add", "/embeddings/Add", [y, t])
    p = g.op("Gather", "/embeddings/position_embeddings/Gather", [pos_table, positions])
    y = g.op("Add", "/embeddings/Add_1", [y, p])
    return _layer_norm(g, "/embeddings/LayerNorm", y, cfg)


def _extended_mask(g: GraphBuilder) -> str:
    """(1 − mask)·(−10000) as float, shaped [B, 1, 1, S] to add to the attention scores."""
    m = g.op("Cast", "/Cast", ["attention_mask"], to=TensorProto.FLOAT)
    m = g.op("Unsqueeze", "/Unsqueeze", [m, g.const(np.array([1, 2], np.int64))])
    m = g.op("Sub", "/Sub", [g.const(np.float32(1.0)), m])
    return g.op("Mul", "/Mul", [m, g.const(np.float32(-10000.0))])


def bert_base(
    seq: int | None = 128,
    *,
    batch: int | None = None,
    config: BertConfig | None = None,
    seed: int = 0,
) -> onnx.ModelProto:
    """transformers' ``BertModel`` (bert-base) with random weights.

    Args:
        seq: static sequence length (analogc needs it static for ``A·V`` to run analog), or
            None for a dynamic ``sequence`` axis.
        batch: static batch size, or None for a dynamic ``batch`` axis.
        config: the architecture; default bert-base (12 × 768, 12 heads, 3072, GELU).
        seed: weight seed.

    Returns:
        A checked model: inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` int64
        [batch, seq]; outputs ``last_hidden_state`` [batch, seq, hidden] and ``pooler_output``.
    """
    cfg = config or BertConfig()
    if cfg.hidden % cfg.heads:
        raise ValueError(f"hidden {cfg.hidden} is not a multiple of heads {cfg.heads}")
    g = GraphBuilder(np.random.default_rng(seed))
    b: Dim = batch if batch is not None else "batch"
    s: Dim = seq if seq is not None else "sequence"
    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, [b, s]) for n in names]
    x = _embeddings(g, cfg)
    mask = _extended_mask(g)
    for i in range(cfg.layers):
        x = _encoder_layer(g, i, x, mask, cfg)
    hidden = g.op("Identity", "/last_hidden_state/Identity", [x])
    cls = g.op("Gather", "/pooler/Gather", [x, g.const(np.int64(0))], axis=1)
    h = cfg.hidden
    pw = g.normal("pooler.dense.weight", (h, h), cfg.std)
    pb = g.weight("pooler.dense.bias", np.zeros(h, np.float32))
    pooled = g.op("Gemm", "/pooler/dense/Gemm", [cls, pw, pb], transB=1)
    pooled = g.op("Tanh", "/pooler/activation/Tanh", [pooled])
    outputs = [
        (hidden, helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [b, s, h])),
        (pooled, helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, [b, h])),
    ]
    return g.model("bert", inputs, outputs)


def bert_inputs(
    batch: int, seq: int, *, vocab: int = 30522, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random token ids (never 0, the padding id) with every position attended, one segment."""
    rng = np.random.default_rng(seed)
    return {
        "input_ids": rng.integers(1, vocab, (batch, seq), dtype=np.int64),
        "attention_mask": np.ones((batch, seq), np.int64),
        "token_type_ids": np.zeros((batch, seq), np.int64),
    }


# --------------------------------------------------------------------------------------------
# Cache


def cached(name: str, model_fn: object, *, root: Path | None = None) -> Path:
    """``<cache>/<name>.onnx``, built by ``model_fn()`` the first time (weights are seeded)."""
    path = (root or cache_dir()) / f"{name}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        model = model_fn()  # type: ignore[operator]
        tmp = path.with_suffix(".onnx.tmp")
        onnx.save(model, str(tmp))
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    """Build ResNet-50 (batch 8, 224²) and BERT-base (128 tokens) into the cache."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default: the analogc cache")
    root = parser.parse_args(argv).out
    for name, fn in (("resnet50", lambda: resnet50()), ("bert_base_s128", lambda: bert_base(128))):
        path = cached(name, fn, root=root)
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
