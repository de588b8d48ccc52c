"""Reading and writing model files: one-line errors, old opsets, external data, > 2 GB, atomic
writes that never touch the input."""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from builders import CASES, chain_matmuls, rng
from helpers import annotated, plain_session, plan_for, prepare
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from analogc.errors import ConfigError, ModelError
from analogc.passes import (
    NoiseModel,
    discover,
    external_data_dir,
    infer_shapes,
    load_model,
    name_nodes,
    offload_weights,
    restore_weights,
    save_model,
    upgrade_model,
)
from analogc.passes.model_io import external_tensors
from analogc.passes.upgrade import MAX_OPSET, SOURCE_OPSET_KEY
from analogc.runtime.session import make_session

ZERO = NoiseModel(thermal=True, weight=True, k_t=0.0, k_w=0.0)
SHOT = NoiseModel(shot=True)


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _save(model: onnx.ModelProto, path: Path, **kwargs) -> Path:
    onnx.save_model(model, str(path), **kwargs)
    return path


def _mlp(opset: int, ir_version: int) -> onnx.ModelProto:
    """x -> Gemm -> Relu -> MatMul, the weights also graph inputs when IR < 4."""
    gen = rng()
    inits = [
        numpy_helper.from_array(gen.standard_normal((8, 6)).astype(np.float32), "W1"),
        numpy_helper.from_array(gen.standard_normal(8).astype(np.float32), "b1"),
        numpy_helper.from_array(gen.standard_normal((8, 3)).astype(np.float32), "W2"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "W2"], ["y"], name="fc2"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])]
    if ir_version < 4:
        inputs += [
            helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in inits
        ]
    graph = helper.make_graph(
        nodes, "mlp", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return model


# -- one-line errors ---------------------------------------------------------------------------
def _message(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text, f"error message is not one line: {text!r}"
    return text


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as exc:
        load_model(tmp_path / "nope.onnx")
    assert "no such file" in _message(exc)
    with pytest.raises(ModelError) as exc:
        load_model(tmp_path)
    assert "directory" in _message(exc)


def test_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a model at all")
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert str(path) in _message(exc)


def test_truncated_file(tmp_path: Path) -> None:
    data = prepare(CASES["conv2d"]().model).SerializeToString()
    path = tmp_path / "model.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "readable ONNX" in _message(exc) or "truncated" in _message(exc)


_TRUNCATED = CASES["gemm"]().model.SerializeToString()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cut=st.integers(min_value=0, max_value=len(_TRUNCATED) - 1))
def test_any_truncation_fails_cleanly_or_loads_a_valid_model(tmp_path: Path, cut: int) -> None:
    """Cut anywhere: a one-line ModelError, never another exception; a file cut exactly between
    two trailing fields (e.g. after the opset) may still be a valid model, and then loads."""
    path = tmp_path / "cut.onnx"
    path.write_bytes(_TRUNCATED[:cut])
    try:
        model = load_model(path)
    except ModelError as exc:
        assert "\n" not in str(exc)
    else:
        onnx.checker.check_model(model)


def test_fails_the_checker(tmp_path: Path) -> None:
    model = copy.deepcopy(CASES["matmul"]().model)
    model.graph.node[0].input[1] = "no_such_tensor"
    with pytest.raises(ModelError) as exc:
        load_model(_save(model, tmp_path / "bad.onnx"))
    assert "checker" in _message(exc)


@pytest.mark.parametrize(("opset", "words"), [(6, "re-export"), (MAX_OPSET + 5, "upgrade onnx")])
def test_unsupported_opset(tmp_path: Path, opset: int, words: str) -> None:
    model = copy.deepcopy(CASES["matmul"]().model)
    model.opset_import[0].version = opset
    with pytest.raises(ModelError) as exc:
        load_model(_save(model, tmp_path / "m.onnx"))
    assert f"opset {opset}" in _message(exc) and words in _message(exc)


def test_opset_conversion_failure_is_a_model_error(tmp_path: Path) -> None:
    """Crop (an experimental opset-7 op) has no schema the converter can use."""
    node = helper.make_node("Crop", ["x"], ["y"], name="crop", border=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    with pytest.raises(ModelError) as exc:
        load_model(_save(model, tmp_path / "crop.onnx"))
    assert "opset 7" in _message(exc) and "re-export" in _message(exc)


# -- old opsets and IR versions ---------------------------------------------------------------
@pytest.mark.parametrize(("opset", "ir_version"), [(7, 3), (8, 3), (9, 4), (10, 5), (11, 6)])
def test_old_opsets_are_converted_and_annotate(tmp_path: Path, opset: int, ir_version: int) -> None:
    original = _mlp(opset, ir_version)
    path = _save(original, tmp_path / "old.onnx")
    before = _digest(path)
    model = load_model(path)
    assert _digest(path) == before, "loading changed the file"
    meta = {e.key: e.value for e in model.metadata_props}
    assert meta[SOURCE_OPSET_KEY] == str(opset)
    assert next(o.version for o in model.opset_import if o.domain == "") == 13
    assert [i.name for i in model.graph.input] == ["x"], "IR 3 initializer inputs were kept"
    assert [n.name for n in model.graph.node if n.op_type != "Constant"] == ["fc1", "act", "fc2"]
    model = infer_shapes(model)
    name_nodes(model)
    layers = [x.name for x in discover(model).analog]
    assert layers == ["fc1", "fc2"]
    ann = annotated(model, plan_for(layers, ZERO))
    assert ann.ir_version >= 8
    onnx.checker.check_model(ann, full_check=True)
    feed = {"x": rng().standard_normal((2, 6)).astype(np.float32)}
    clean = plain_session(original).run(None, feed)[0]
    np.testing.assert_allclose(plain_session(ann).run(None, feed)[0], clean, rtol=1e-5, atol=1e-6)


def test_opsets_after_21_are_converted_down_when_possible(tmp_path: Path, caplog) -> None:
    """onnxruntime has no RandomNormalLike-22 kernel: opset 22+ models go to 21 when every op
    has an opset-21 form; otherwise they keep their opset, with a warning."""
    newest = _mlp(MAX_OPSET, 10)
    model = load_model(_save(newest, tmp_path / "newest.onnx"))
    assert next(o.version for o in model.opset_import if o.domain == "") == 21
    assert {e.key: e.value for e in model.metadata_props}[SOURCE_OPSET_KEY] == str(MAX_OPSET)

    q = helper.make_tensor_value_info("q", TensorProto.FLOAT, ["N", 4, 8])
    attention = helper.make_graph(
        [helper.make_node("Attention", ["q", "q", "q"], ["y"], q_num_heads=2, kv_num_heads=2)],
        "att",
        [q],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8])],
    )
    kept = helper.make_model(attention, opset_imports=[helper.make_opsetid("", 23)])
    with caplog.at_level("WARNING"):
        model = load_model(_save(kept, tmp_path / "attention.onnx"))
    assert next(o.version for o in model.opset_import if o.domain == "") == 23
    assert "opset 23 kept" in caplog.text and "32201" in caplog.text


def test_upgrade_leaves_new_models_alone() -> None:
    model = prepare(CASES["conv2d"]().model)
    before = model.SerializeToString()
    assert not upgrade_model(model).modified
    assert model.SerializeToString() == before


# -- external data ------------------------------------------------------------------------------
def _external(tmp_path: Path, name: str = "ext") -> tuple[onnx.ModelProto, Path]:
    folder = tmp_path / name
    folder.mkdir()
    model = chain_matmuls()
    path = _save(
        copy.deepcopy(model),
        folder / "model.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return model, path


def test_external_data_stays_on_disk_and_annotates(tmp_path: Path) -> None:
    original, path = _external(tmp_path)
    before = _digest(path, path.with_name("weights.bin"))
    model = load_model(path)
    assert all(not t.raw_data for t in model.graph.initializer), "weights were read into memory"
    assert external_data_dir(model) == path.parent.resolve()
    model = infer_shapes(model)
    name_nodes(model)
    layers = [x.name for x in discover(model).analog]
    ann = annotated(model, plan_for(layers, ZERO))
    out = tmp_path / "out" / "model.analog.onnx"
    save_model(ann, out)
    assert sorted(os.listdir(out.parent)) == ["model.analog.onnx", "model.analog.onnx.data"]
    assert _digest(path, path.with_name("weights.bin")) == before, "the input changed"
    saved = onnx.load(str(out), load_external_data=False)
    assert all(e.key != "pkg.analogc.external_data_dir" for e in saved.metadata_props)
    assert {t.name for t in external_tensors(saved)} == {"W1", "W2"}
    onnx.checker.check_model(str(out), full_check=True)
    feed = {"x": rng().standard_normal((3, 16)).astype(np.float32)}
    clean = plain_session(original).run(None, feed)[0]
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    np.testing.assert_allclose(got, clean, rtol=1e-5, atol=1e-6)


def test_working_copy_with_external_data_runs_in_a_session(tmp_path: Path) -> None:
    """The runtime finds weights left on disk (the session is told the folder)."""
    original, path = _external(tmp_path)
    model = load_model(path)
    feed = {"x": rng().standard_normal((3, 16)).astype(np.float32)}
    got = make_session(model, threads=1).run(None, feed)[0]
    np.testing.assert_allclose(got, plain_session(original).run(None, feed)[0], rtol=1e-6)


def test_missing_or_short_external_data(tmp_path: Path) -> None:
    _, path = _external(tmp_path, "missing")
    (path.parent / "weights.bin").unlink()
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "weights.bin" in _message(exc) and "missing" in _message(exc)

    _, path = _external(tmp_path, "short")
    data = path.parent / "weights.bin"
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "truncated" in _message(exc)


def test_external_data_outside_the_model_folder_is_refused(tmp_path: Path) -> None:
    _, path = _external(tmp_path, "inside")
    proto = onnx.load(str(path), load_external_data=False)
    for t in proto.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../weights.bin"
    (tmp_path / "weights.bin").write_bytes((path.parent / "weights.bin").read_bytes())
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert "outside" in _message(exc)


def test_inline_limit_moves_the_largest_weights_out(tmp_path: Path) -> None:
    """The > 2 GB path of save_model, with the limit lowered to 1 kB."""
    model = chain_matmuls()  # W1 16x16 (1 kB), W2 16x4
    out = tmp_path / "m.onnx"
    save_model(model, out, inline_limit=1000)
    saved = onnx.load(str(out), load_external_data=False)
    assert [t.name for t in external_tensors(saved)] == ["W1"]
    feed = {"x": rng().standard_normal((3, 16)).astype(np.float32)}
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    np.testing.assert_array_equal(got, plain_session(model).run(None, feed)[0])


def _sparse_supported(folder: Path) -> bool:
    probe = folder / "sparse.probe"
    with open(probe, "wb") as f:
        f.truncate(1 << 24)
    ok = os.stat(probe).st_blocks * 512 < (1 << 20)
    probe.unlink()
    return ok


def test_model_over_2gb(tmp_path: Path) -> None:
    """A real 2.15 GB weight, as a sparse file (no disk, no memory): load, discover, annotate,
    save (the copy stays sparse) and check by path. Running it is left out (2 GB of RAM)."""
    if not _sparse_supported(tmp_path):
        pytest.skip("this filesystem has no sparse files")
    k, n = 32768, 16400
    nbytes = k * n * 4
    assert nbytes > 2**31
    weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[k, n])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "W.bin"), ("offset", "0"), ("length", str(nbytes))):
        weight.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="big")],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with open(tmp_path / "W.bin", "wb") as f:
        f.truncate(nbytes)
    path = tmp_path / "big.onnx"
    path.write_bytes(model.SerializeToString())

    loaded = infer_shapes(load_model(path))
    name_nodes(loaded)
    (layer,) = discover(loaded).layers
    assert layer.analog and layer.macs == k * n, layer
    ann = annotated(loaded, plan_for(["big"], SHOT))
    out = tmp_path / "out" / "big.analog.onnx"
    save_model(ann, out)
    data = out.with_name("big.analog.onnx.data")
    assert data.stat().st_size >= nbytes
    assert data.stat().st_blocks * 512 < (1 << 24), "the copy of the sparse weights is not sparse"
    assert out.stat().st_size < (1 << 20)
    onnx.checker.check_model(str(out), full_check=True)


def test_unwritable_output_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as exc:
        save_model(prepare(CASES["matmul"]().model), blocker / "m.onnx")
    assert "cannot write" in _message(exc)


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    _, path = _external(tmp_path)
    model = load_model(path)
    save_model(model, tmp_path / "a" / "m.onnx")
    save_model(prepare(CASES["conv1d"]().model), tmp_path / "a" / "n.onnx")
    assert sorted(os.listdir(tmp_path / "a")) == ["m.onnx", "m.onnx.data", "n.onnx"]


# -- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("case_name", ["conv2d_group", "einsum_attention", "loop_matmul"])
def test_annotation_is_byte_identical(tmp_path: Path, case_name: str) -> None:
    plan = plan_for([CASES[case_name]().layer], NoiseModel(shot=True, weight=True), seed=4)
    blobs = []
    for i in range(2):
        model = prepare(CASES[case_name]().model)
        out = tmp_path / f"{i}.onnx"
        save_model(annotated(model, plan), out)
        blobs.append(out.read_bytes())
    assert blobs[0] == blobs[1]


@pytest.mark.parametrize("missing", ["SEEK_DATA", "copy_file_range"])
def test_external_data_copy_without_os_fast_paths(
    tmp_path: Path, monkeypatch, missing: str
) -> None:
    """Where the OS has no SEEK_DATA (holes) or copy_file_range, the copy is a plain one."""
    _, path = _external(tmp_path)
    model = load_model(path)
    monkeypatch.delattr(os, missing, raising=False)
    out = tmp_path / "out" / "m.onnx"
    save_model(model, out)
    saved = onnx.load(str(out))
    original = onnx.load(str(path))
    for a, b in zip(saved.graph.initializer, original.graph.initializer, strict=True):
        np.testing.assert_array_equal(numpy_helper.to_array(a), numpy_helper.to_array(b))


# -- weights streamed back from a working copy ---------------------------------------------------
def _working_copy(model: onnx.ModelProto, folder: Path) -> onnx.ModelProto:
    """``model`` with its weights in a scratch file, as compile keeps a large model."""
    work = copy.deepcopy(model)
    assert offload_weights(work, folder, min_bytes=1) > 0
    return work


@pytest.mark.parametrize("case_name", ["conv2d", "matmul_f16", "loop_matmul", "gemm"])
def test_streamed_inline_write_is_byte_identical_to_restoring(
    tmp_path: Path, case_name: str
) -> None:
    """Streaming the weights back tensor by tensor writes exactly the bytes onnx writes for the
    model with its weights loaded again, and leaves nothing else behind."""
    plan = plan_for([CASES[case_name]().layer], NoiseModel(shot=True, weight=True), seed=4)
    (tmp_path / "scratch").mkdir()
    work = annotated(_working_copy(prepare(CASES[case_name]().model), tmp_path / "scratch"), plan)
    before = work.SerializeToString()
    streamed = tmp_path / "out" / "streamed.onnx"
    save_model(work, streamed, inline_external=True)
    assert work.SerializeToString() == before, "save_model changed its argument"
    restored = copy.deepcopy(work)
    restore_weights(restored)
    assert streamed.read_bytes() == restored.SerializeToString()
    assert os.listdir(tmp_path / "out") == ["streamed.onnx"]
    assert os.listdir(tmp_path / "scratch") == ["weights.data"]
    assert not list(external_tensors(onnx.load(str(streamed))))
    onnx.checker.check_model(str(streamed), full_check=True)


def test_streamed_inline_write_falls_back_to_a_data_file_over_the_limit(tmp_path: Path) -> None:
    model = _working_copy(chain_matmuls(), tmp_path)
    out = tmp_path / "out" / "m.onnx"
    save_model(model, out, inline_limit=1000, inline_external=True)
    saved = onnx.load(str(out), load_external_data=False)
    assert [t.name for t in external_tensors(saved)] == ["W1", "W2"]  # as they were kept
    assert sorted(os.listdir(out.parent)) == ["m.onnx", "m.onnx.data"]
    feed = {"x": rng().standard_normal((3, 16)).astype(np.float32)}
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    np.testing.assert_array_equal(got, plain_session(chain_matmuls()).run(None, feed)[0])


def test_streamed_inline_write_refuses_data_that_does_not_match_the_shape(tmp_path: Path) -> None:
    model = _working_copy(chain_matmuls(), tmp_path)
    with open(tmp_path / "weights.data", "r+b") as data:
        data.truncate(100)  # W1 (1 kB) is cut short
    out = tmp_path / "out" / "m.onnx"
    with pytest.raises(ModelError) as exc:
        save_model(model, out, inline_external=True, check=False)
    assert "W1" in _message(exc) and "expected" in str(exc.value)
    assert not out.exists() and os.listdir(tmp_path / "out") == []


def test_streamed_inline_write_keeps_packed_4bit_weights(tmp_path: Path) -> None:
    """A packed int4 initializer (two per byte) is streamed as recorded, not refused for
    holding half the bytes its shape would give at one byte per element."""
    model = chain_matmuls()
    packed = TensorProto(name="q4", data_type=TensorProto.INT4, dims=[4097])
    packed.raw_data = bytes(range(256)) * 8 + b"\x01"  # 2,049 bytes
    model.graph.initializer.append(packed)
    model.ir_version = max(model.ir_version, 10)
    work = _working_copy(model, tmp_path)
    out = tmp_path / "out" / "m.onnx"
    save_model(work, out, inline_external=True)
    restored = copy.deepcopy(work)
    restore_weights(restored)
    assert out.read_bytes() == restored.SerializeToString()
    (q4,) = [t for t in onnx.load(str(out)).graph.initializer if t.name == "q4"]
    assert q4.raw_data == packed.raw_data
