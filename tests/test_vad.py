"""Issue 11, "Done when": a Silero-like voice-activity detector (a scalar sample rate read by
an If, a ``[2, batch, 128]`` state, two LSTMs) compiles with a folder of feeds and without
data, its LSTM gate products analog; the annotated model passes ``full_check``, runs in plain
onnxruntime and, planned with zero noise, reproduces the original; ``analogc eval`` runs on it
with the same feeds.

Two exports of the model (:mod:`vad_corpus`): ``declared``, whose If branches declare their
outputs' shapes (only the STFT Convs inside them are known at run time), and ``rank_lost``,
whose branches do not, so that shape inference loses the rank of everything after the If:
the encoder, the first LSTM (which then cannot be expanded when analogc loads the model) and
the ops after it become analog only from the shapes the calibration data shows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_cli import invoke

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

from corpus import ENTRIES
from vad_corpus import CHUNK, DECODER_MACS, ENCODER_MACS, FRONT_END_MACS, HIDDEN, STEPS, vad

from analogc.calibrated import CalibratedModel, open_model
from analogc.hardware import load_hardware
from analogc.inputs import load_data
from analogc.passes import discover
from analogc.passes.graph_index import GraphIndex
from analogc.passes.model_io import external_tensors, load_model
from analogc.passes.observed_shapes import unresolved_tensors
from analogc.run_time_shapes import resolve_run_time_shapes
from analogc.runtime.metrics import METRICS

CORPUS_ENTRY = next(e for e in ENTRIES if e.name == "silero_like_vad")
VARIANTS = {"declared": CORPUS_ENTRY.build, "rank_lost": lambda: vad(declared=False)}
FAST = ["-n", "4", "--max-drop", "100%", "-q"]
PRODUCTS = [f"lstm{k}/{p}_product" for k in (1, 2) for p in ("input", "recurrent")]
GATE_MACS = STEPS * 4 * HIDDEN * 64  # per step: 4 gates × H outputs × 64 inputs (or hidden)
MACS = {
    "stft_conv16k": FRONT_END_MACS["16k"],
    "enc1": 32 * 3 * 64 * 8,
    "enc2": 64 * 3 * 64 * STEPS,
    **dict.fromkeys(PRODUCTS, GATE_MACS),
    "decoder": DECODER_MACS,
}
assert MACS["enc1"] + MACS["enc2"] == ENCODER_MACS


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("vad")
    for variant, build in VARIANTS.items():
        onnx.save(build(), str(where / f"{variant}.onnx"))
    (where / "zero.toml").write_text('name = "zero"\n[noise]\nthermal = true\nk_t = 0.0\n')
    feeds = where / "feeds"
    feeds.mkdir()
    gen = np.random.default_rng(5)
    for i, n in enumerate((3, 5, 1, 4)):  # one complete feed per file, each its own size
        np.savez(feeds / f"{i:03d}.npz", **feed(n, 16000, gen))
    return where


def feed(n: int, sr: int, gen: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "input": gen.standard_normal((n, CHUNK)).astype(np.float32),
        "state": gen.standard_normal((2, n, 2 * HIDDEN)).astype(np.float32),
        "sr": np.array(sr, np.int64),
    }


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def analog_nodes(model: onnx.ModelProto) -> set[str]:
    """Names of the ai.analogc nodes, in the main graph and every subgraph (Scan bodies)."""
    found, graphs = set(), [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            if node.domain == "ai.analogc":
                found.add(node.name)
            graphs.extend(a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH)
    return found


def check_annotated(out: Path, original: Path, reference: Path | None = None) -> None:
    """full_check, stock onnxruntime, and the original's (or ``reference``'s) outputs at zero
    noise: for batch sizes calibration never saw, and for the 8 kHz branch (its STFT Conv
    never planned)."""
    annotated = out / f"{original.stem}.analog.onnx"
    onnx.checker.check_model(str(annotated), full_check=True)
    assert set(PRODUCTS) <= analog_nodes(onnx.load(str(annotated))), "gate products analog"
    plain, noisy = session(reference or original), session(annotated)
    gen = np.random.default_rng(11)
    for n, sr in ((2, 16000), (7, 16000), (3, 8000)):
        inputs = feed(n, sr, gen)
        want = plain.run(None, inputs)
        got = noisy.run(None, inputs)
        assert [g.shape for g in got] == [(n, 1), (2, n, 2 * HIDDEN)]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"batch {n}, {sr} Hz")


def check_layers(report: dict) -> None:
    """Every planned op analog with the hand-counted MACs; the 8 kHz Conv (a branch the data
    never takes) stays digital and says why."""
    layers = {row["name"]: row for row in report["layers"]}
    assert set(layers) == set(MACS), sorted(layers)
    assert {name: row["macs"] for name, row in layers.items()} == MACS
    assert all(row["repeats"] == 4 for row in layers.values())
    assert [d["name"] for d in report["digital"]] == ["stft_conv8k"], report["digital"]
    assert "no calibration batch ran it" in report["digital"][0]["reason"]
    assert report["macs"]["analog"] == sum(MACS.values()) and report["macs"]["digital"] == 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_compile_with_a_folder_of_feeds(folder: Path, variant: str) -> None:
    model, out = folder / f"{variant}.onnx", folder / f"feeds_{variant}"
    args = ["compile", str(model), "-d", str(folder / "feeds"), "--feeds"]
    invoke([*args, "--hardware", str(folder / "zero.toml"), "-o", str(out), *FAST])
    report = json.loads((out / "report.json").read_text())
    check_layers(report)
    data = report["data"]
    assert data["feeds"] == 4 and data["examples"] == 13, data
    assert data["batch_axes"] == {"input": 0, "sr": None, "state": 1}
    assert data["values"] == {"sr": {"value": 16000, "from": "data"}}
    resolved = {op["name"] for op in data["resolved_shapes"]}
    lost = {"enc1", "enc2", "lstm1"} if variant == "rank_lost" else set()
    assert resolved == {"stft_conv16k", *lost}, resolved
    check_annotated(out, model)

    annotated = out / f"{variant}.analog.onnx"
    result = invoke(
        ["eval", str(annotated), "-d", str(folder / "feeds"), "--feeds", "--seeds", "2"]
    )
    assert "agreement on 13 examples" in result.stdout, result.stdout
    assert "clean  100.00%" in result.stdout and "noisy  100.00%" in result.stdout

    stripped = out / "stripped.onnx"
    invoke(["strip", str(annotated), "-o", str(stripped)])
    lstms = [n for n in onnx.load(str(stripped)).graph.node if n.op_type == "LSTM"]
    assert [n.name for n in lstms] == ["lstm1", "lstm2"], "strip gives the LSTMs back"
    inputs = feed(3, 16000, np.random.default_rng(4))
    restored, original = session(stripped).run(None, inputs), session(model).run(None, inputs)
    for got, want in zip(restored, original, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("variant", VARIANTS)
def test_compile_without_data(folder: Path, variant: str) -> None:
    """Synthetic data: 64 examples in one batch, whose size equals the LSTMs' input width:
    the batch axis of their time-major input products is still found (a one-example run
    shows it), so their MACs are per example."""
    model, out = folder / f"{variant}.onnx", folder / f"synthetic_{variant}"
    zero = str(folder / "zero.toml")
    result = invoke(
        ["compile", str(model), "--set", "sr=16000", "--hardware", zero, "-o", str(out), *FAST]
    )
    assert "sr = 16000 (--set)" in result.stdout, result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["synthetic"] and report["data"]["examples"] == 64
    check_layers(report)
    check_annotated(out, model)


def test_feeds_at_both_rates_make_both_front_ends_analog(folder: Path) -> None:
    feeds = folder / "both_rates"
    feeds.mkdir()
    gen = np.random.default_rng(8)
    for i, (n, sr) in enumerate([(3, 16000), (2, 8000)]):
        np.savez(feeds / f"{i}.npz", **feed(n, sr, gen))
    model, out = folder / "rank_lost.onnx", folder / "both_rates_out"
    zero = str(folder / "zero.toml")
    args = ["compile", str(model), "-d", str(feeds), "--feeds", "--hardware", zero]
    invoke([*args, "-o", str(out), *FAST])
    report = json.loads((out / "report.json").read_text())
    layers = {row["name"]: row["macs"] for row in report["layers"]}
    assert layers == {**MACS, "stft_conv8k": FRONT_END_MACS["8k"]}, layers
    assert report["digital"] == [] and report["data"]["values"]["sr"]["value"] == "varies"
    check_annotated(out, model)


def test_the_noisy_model_perturbs_both_lstms(folder: Path) -> None:
    """With shot noise (the default preset) every gate product adds noise: the new state of
    each layer differs from the clean one."""
    model, out = folder / "rank_lost.onnx", folder / "noisy"
    invoke(["compile", str(model), "-d", str(folder / "feeds"), "--feeds", "-o", str(out), *FAST])
    inputs = feed(4, 16000, np.random.default_rng(3))
    clean = session(model).run(None, inputs)
    noisy = session(out / "rank_lost.analog.onnx").run(None, inputs)
    assert all(np.all(np.isfinite(o)) for o in noisy)
    for layer in (0, 1):
        assert not np.allclose(noisy[1][layer], clean[1][layer], atol=1e-4), f"layer {layer}"


def test_a_model_with_every_tensor_external(folder: Path) -> None:
    """Saved with ``size_threshold=0``, even the Slice starts and Split sizes live in the data
    file, where neither shape inference nor onnxruntime reads them (onnxruntime 1.32 refuses
    the file): analogc reads those small integer tensors and leaves the weights on disk; its
    annotated model runs."""
    where = folder / "external"
    where.mkdir()
    model = where / "vad.onnx"
    onnx.save(
        CORPUS_ENTRY.build(),
        str(model),
        save_as_external_data=True,
        location="vad.data",
        size_threshold=0,
    )
    working = load_model(model)
    outside = {t.name for t in external_tensors(working)}
    assert {"halves", "layer1", "pads16k", "rate16k"}.isdisjoint(outside)
    assert {"lstm1_W", "enc1_W", "stft16k", "dec_B"} <= outside, "weights stay on disk"
    before = (model.read_bytes(), (where / "vad.data").read_bytes())
    out = folder / "external_out"
    zero = str(folder / "zero.toml")
    invoke(["compile", str(model), "--set", "sr=16000", "--hardware", zero, "-o", str(out), *FAST])
    check_layers(json.loads((out / "report.json").read_text()))
    check_annotated(out, model, reference=folder / "declared.onnx")
    assert (model.read_bytes(), (where / "vad.data").read_bytes()) == before, "input unchanged"


# -- the steps that make the rank-lost export analog ----------------------------------------
@pytest.fixture(scope="module")
def rank_lost(folder: Path) -> Path:
    return folder / "rank_lost.onnx"


def test_inspect_lists_the_lstm_among_ops_compile_resolves(rank_lost: Path) -> None:
    loaded = open_model(rank_lost)
    lstm = next(x for x in loaded.discovery.digital if x.name == "lstm1")
    assert "input X ('seq') has unknown" in lstm.reason, lstm.reason
    assert unresolved_tensors(loaded.model, loaded.discovery)["lstm1"] == ["seq"]
    text = invoke(["inspect", str(rank_lost)]).stdout
    assert "lack a shape known before run time (enc1, enc2, lstm1, stft_conv16k" in text, text


def test_an_lstm_is_expanded_once_its_input_rank_is_seen(rank_lost: Path) -> None:
    loaded = open_model(rank_lost)
    data = load_data(None, loaded.model, examples=12, values={"sr": 16000})
    after, ops = resolve_run_time_shapes(loaded, data, batch_size=5)
    lstm = next(op for op in ops if op.name == "lstm1")
    assert lstm.op_type == "LSTM" and not lstm.fixed_sizes
    assert lstm.shapes == {"seq": [[STEPS, 5, 64], [STEPS, 2, 64]]}
    assert set(PRODUCTS) <= {x.name for x in discover(after.model).analog}
    index = GraphIndex(after.model)
    # The batch symbol is stated where the runs showed it, and reaches the second LSTM.
    assert index.shape("seq")[1:] == ("N", 64), index.shape("seq")
    assert index.shape("lstm2/input_product")[1:] == ("N", 4 * HIDDEN)


def test_eval_resolves_an_lstm_the_plan_names_by_its_products(rank_lost: Path) -> None:
    loaded = open_model(rank_lost)
    data = load_data(None, loaded.model, examples=6, values={"sr": 16000})
    _, ops = resolve_run_time_shapes(loaded, data, batch_size=6, only={"lstm1/input_product"})
    assert [op.name for op in ops] == ["lstm1"]


def test_calibration_counts_time_major_products_per_example(rank_lost: Path) -> None:
    """All batches of one size (8 examples): without a run of another size, an axis equal
    to 8 could not be told from the batch, and [steps, batch, 256] was counted per batch."""
    loaded = open_model(rank_lost)
    data = load_data(None, loaded.model, examples=16, values={"sr": 16000})
    after, _ = resolve_run_time_shapes(loaded, data, batch_size=8)
    calibrated = CalibratedModel(
        after, load_hardware("optical-shot"), data, metric=METRICS["agreement"], batch_size=8
    )
    assert {name: calibrated.macs[name] for name in MACS} == MACS
