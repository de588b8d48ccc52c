"""Train and export the two digits demo models (``digits_resnet``, ``digits_cnn``).

The demo needs small, fast, pre-trained ONNX models with real accuracy to measure noise against,
and it must not download anything: scikit-learn ships the 8x8 digits set (1,797 images).
Everything is seeded and single-threaded so that re-running this script rebuilds the committed
files; BatchNorm is folded into the convolutions before export because analog hardware runs the
folded weights (and the noise model uses their ranges).

Rebuild: ``python models/digits.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

SEED = 0
OPSET = 17
N_CALIB = 300
N_TEST = 300
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
MAX_ABS_DIFF = 1e-4


@dataclass(frozen=True)
class Split:
    """Images as float32 [N, 1, 8, 8] in [0, 1] and int64 labels [N]."""

    image: np.ndarray
    labels: np.ndarray


Entry = dict[str, object]  # one model's record in digits_models.json


@dataclass(frozen=True)
class Recipe:
    """How to build and train one model."""

    name: str
    build: Callable[[], nn.Module]
    epochs: int
    lr: float
    weight_decay: float


# --------------------------------------------------------------------------------------------
# Data


def load_splits() -> dict[str, Split]:
    """Split digits into train (1197), calib (300) and test (300), stratified, with fixed seeds."""
    digits = load_digits()
    image = (digits.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    labels = digits.target.astype(np.int64)
    x_train, x_rest, y_train, y_rest = train_test_split(
        image, labels, test_size=N_CALIB + N_TEST, stratify=labels, random_state=SEED
    )
    x_calib, x_test, y_calib, y_test = train_test_split(
        x_rest, y_rest, test_size=N_TEST, stratify=y_rest, random_state=SEED
    )
    return {
        "train": Split(np.ascontiguousarray(x_train), y_train),
        "calib": Split(np.ascontiguousarray(x_calib), y_calib),
        "test": Split(np.ascontiguousarray(x_test), y_test),
    }


def save_split(split: Split, path: Path) -> None:
    """Write exactly the two arrays the runtime's data readers expect."""
    np.savez_compressed(path, image=split.image, labels=split.labels)


def random_shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to one pixel: cheap augmentation that helps on 8x8 digits."""
    padded = nn.functional.pad(x, (1, 1, 1, 1))
    offsets = torch.randint(0, 3, (x.shape[0], 2), generator=gen)
    pairs = enumerate(offsets.tolist())
    rows = [padded[i, :, dy : dy + 8, dx : dx + 8] for i, (dy, dx) in pairs]
    return torch.stack(rows)


# --------------------------------------------------------------------------------------------
# Models. BatchNorm modules are named ``bn*``/``*_bn`` next to the conv they follow
# (``conv*``/``*_conv``) so that fold_batchnorm can pair them by name.


class ResidualBlock(nn.Module):
    """conv-bn-relu-conv-bn plus a skip (identity, or 1x1 strided projection), then relu."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.skip_conv: nn.Module = nn.Identity()
        self.skip_bn: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip_conv = nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False)
            self.skip_bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu2(y + self.skip_bn(self.skip_conv(x)))


class Stem(nn.Module):
    """conv-bn-relu on the raw 1-channel image."""

    def __init__(self, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, c_out, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class DigitsResNet(nn.Module):
    """Small ResNet: residual adds, a strided projection, a grouped conv, global average pool."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem(16)
        self.block1 = ResidualBlock(16, 16, groups=4)
        self.block2 = ResidualBlock(16, 32, stride=2)
        self.block3 = ResidualBlock(32, 32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block3(self.block2(self.block1(self.stem(x))))
        return self.fc(self.flatten(self.pool(x)))


class DigitsCNN(nn.Module):
    """Plain CNN without residuals or normalisation: two convs and two dense layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, 2, 1)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.relu2(self.conv2(self.relu1(self.conv1(x)))))
        return self.fc2(self.relu3(self.fc1(x)))


RECIPES = (
    Recipe("digits_resnet", DigitsResNet, epochs=40, lr=3e-3, weight_decay=1e-4),
    Recipe("digits_cnn", DigitsCNN, epochs=40, lr=2e-3, weight_decay=1e-4),
)


def fold_batchnorm(model: nn.Module) -> None:
    """Fold every BatchNorm into the conv before it (in place; the model must be in eval mode).

    The TorchScript exporter folds BN on its own too, but then names the biases ``onnx::Conv_97``
    and may share them through Identity nodes; folding here keeps ``block2.conv1.bias`` names.
    """
    for module in model.modules():
        children = dict(module.named_children())
        for bn_name, bn in children.items():
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            conv_name = bn_name.replace("bn", "conv")
            conv = children.get(conv_name)
            if not isinstance(conv, nn.Conv2d):
                raise TypeError(f"{bn_name} has no conv named {conv_name} to fold into")
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())


# --------------------------------------------------------------------------------------------
# Training


def seed_everything(seed: int) -> torch.Generator:
    """Fix every source of randomness and force single-threaded, deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def train(recipe: Recipe, data: Split, batch_size: int = 64) -> nn.Module:
    """Adam with cosine decay and one-pixel shifts; returns the model in eval mode."""
    gen = seed_everything(SEED)
    model = recipe.build()
    params, decay = model.parameters(), recipe.weight_decay
    opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=decay)
    steps = recipe.epochs * -(-len(data.labels) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    x_all, y_all = torch.from_numpy(data.image), torch.from_numpy(data.labels)
    model.train()
    for _ in range(recipe.epochs):
        order = torch.randperm(len(y_all), generator=gen)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            logits = model(random_shift(x_all[idx], gen))
            loss = nn.functional.cross_entropy(logits, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


# --------------------------------------------------------------------------------------------
# Export and checks


def export_onnx(model: nn.Module, path: Path) -> None:
    """Export with the TorchScript exporter: it is deterministic and keeps module-path names.

    (The dynamo exporter would need onnxscript and names nodes differently; the legacy one warns
    that it is deprecated, which is silenced here.)
    """
    dummy = torch.zeros(1, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(model, dummy, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def _export(model: nn.Module, dummy: torch.Tensor, path: Path) -> None:
    """The exporter call itself: opset 17, named I/O, dynamic batch, constants folded."""
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        do_constant_folding=True,
    )


def run_onnx(path: Path, image: np.ndarray) -> np.ndarray:
    """Logits from onnxruntime on one CPU thread (what the analogc runtime will measure)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run([OUTPUT_NAME], {INPUT_NAME: image})[0]


def onnx_accuracy(path: Path, split: Split) -> float:
    """Top-1 accuracy of the exported file in onnxruntime, rounded for a readable JSON."""
    predicted = run_onnx(path, split.image).argmax(axis=1)
    return round(float((predicted == split.labels).mean()), 6)


def check_against_torch(expected: np.ndarray, path: Path, image: np.ndarray) -> float:
    """Max |torch - onnxruntime| on the given images; raise if they disagree."""
    diff = float(np.abs(run_onnx(path, image) - expected).max())
    if diff >= MAX_ABS_DIFF:
        raise RuntimeError(f"{path.name}: onnxruntime differs from torch by {diff:.3g}")
    return diff


def check_graph(path: Path) -> list[str]:
    """The exported graph must be BN-free, with a dynamic 'batch' input [batch,1,8,8]."""
    model = onnx.load(str(path))
    ops = [node.op_type for node in model.graph.node]
    if "BatchNormalization" in ops:
        raise RuntimeError(f"{path.name}: BatchNormalization left in the graph")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    shape = [d.dim_param or d.dim_value for d in dims]
    if shape != ["batch", 1, 8, 8]:
        raise RuntimeError(f"{path.name}: unexpected input shape {shape}")
    return ops


def count_weights(path: Path) -> int:
    """Number of values in the exported initializers: the weights the hardware must hold."""
    graph = onnx.load(str(path)).graph
    return int(sum(np.prod(init.dims, dtype=np.int64) for init in graph.initializer))


def build_model(recipe: Recipe, splits: dict[str, Split], out: Path) -> Entry:
    """Train, fold, export and check one model; return its metadata entry.

    The ONNX logits are compared with the trained torch model *before* folding, so the check
    covers the folding as well as the export.
    """
    model = train(recipe, splits["train"])
    n_trainable = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        reference = model(torch.from_numpy(splits["test"].image)).numpy()
    fold_batchnorm(model)
    path = out / f"{recipe.name}.onnx"
    export_onnx(model, path)
    ops = check_graph(path)
    diff = check_against_torch(reference, path, splits["test"].image)
    return {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "test_accuracy": onnx_accuracy(path, splits["test"]),
        "calib_accuracy": onnx_accuracy(path, splits["calib"]),
        "trainable_parameters": n_trainable,
        "onnx_weights": count_weights(path),
        "analog_ops": sum(op in ("Conv", "Gemm", "MatMul") for op in ops),
        "max_abs_diff_torch_vs_onnxruntime": float(f"{diff:.3g}"),
        "training": {
            "seed": SEED,
            "epochs": recipe.epochs,
            "optimizer": "Adam",
            "lr": recipe.lr,
            "weight_decay": recipe.weight_decay,
            "augmentation": "random shift up to 1 pixel",
        },
    }


def write_metadata(entries: dict[str, Entry], out: Path) -> None:
    """Versions and results, without timestamps, so a rebuild is diffable."""
    meta = {
        "dataset": {
            "source": "sklearn.datasets.load_digits, pixels / 16.0, float32 [N, 1, 8, 8]",
            "split": "stratified train_test_split, random_state=0: train 1197, calib 300, test 300",
            "calib_file": "digits_calib.npz",
            "test_file": "digits_test.npz",
        },
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "onnx_opset": OPSET,
        "input": {"name": INPUT_NAME, "shape": ["batch", 1, 8, 8], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", 10], "dtype": "float32"},
        "models": entries,
    }
    text = json.dumps(meta, indent=2) + "\n"
    (out / "digits_models.json").write_text(text, encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``--out DIR`` defaults to this file's folder, where the committed files live."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Rebuild every digits file in ``--out`` and print the accuracies."""
    out: Path = parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits()
    save_split(splits["calib"], out / "digits_calib.npz")
    save_split(splits["test"], out / "digits_test.npz")
    entries = {recipe.name: build_model(recipe, splits, out) for recipe in RECIPES}
    write_metadata(entries, out)
    for name, entry in entries.items():
        test, calib = entry["test_accuracy"], entry["calib_accuracy"]
        print(f"{name}: test accuracy {test:.4f}, calib accuracy {calib:.4f}")


if __name__ == "__main__":
    main()
