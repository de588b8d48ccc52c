"""The benches run end to end in their ``--smoke`` mode, and the zoo builds faithful graphs.

The full benches take minutes to half an hour; CI runs their smoke versions (reduced models,
budgets and data) so that a change that breaks them shows up at once. Only the MiniLM run may
skip: its ONNX file needs torch to build (``models/minilm.py``) and lives in the cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from analogc.models import zoo
from analogc.models.cache import cache_dir
from analogc.models.metrics import retrieval_top1

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_bench(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a bench script as a user would; show its output when it fails."""
    cmd = [sys.executable, str(BENCH / script), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """Body rows of the first table after ``heading``, as lists of cells."""
    lines = markdown.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[start + 2 : end]]


def test_scale_smoke(tmp_path: Path) -> None:
    run_bench("scale.py", "--smoke", "--out", tmp_path, "--workdir", tmp_path / "work")
    doc = json.loads((tmp_path / "scale.json").read_text())
    assert [m["name"] for m in doc["models"]] == ["resnet50_w8_i64", "bert_l2_h64_s16"]
    for m in doc["models"]:
        assert m["analog_ops"] > 0 and m["analog_macs_per_example"] > 0
        assert m["annotated_bytes"] >= m["original_bytes"] > 0
        assert 0 < m["noisy_vs_clean_rel_rms"] < 10 and 0 < m["stock_vs_clean_rel_rms"] < 10
        assert all(row["wall_s"] >= 0 and row["peak_rss_mb"] > 0 for row in m["stages"])
    resnet = doc["models"][0]
    assert resnet["analog_ops"] == 54  # 53 Conv + the fc Gemm, as in torchvision's ResNet-50
    md = (tmp_path / "scale.md").read_text()
    assert "2 cores" in md or "cores" in md
    assert len(table_rows(md, "# Scale bench")) == 2


def test_paper_protocol_smoke(tmp_path: Path) -> None:
    run_bench("paper_protocol.py", "--smoke", "--out", tmp_path, "--workdir", tmp_path / "work")
    doc = json.loads((tmp_path / "paper_protocol.json").read_text())
    runs = doc["runs"]
    assert {(r["noise"], r["target"]) for r in runs} == {
        (n, t) for n in ("optical-shot", "electronic-thermal", "weight-noise") for t in (0.02, 0.01)
    }
    for r in runs:
        assert r["model"] == "digits_resnet" and r["evaluations"] > 0
        assert r["dynamic_energy"] <= r["uniform_energy"] + 1e-9 or not r["uniform_feasible"]
        assert set(r["held_out"]) == {"clean", "uniform", "dynamic"}
    shot = [r for r in runs if r["noise"] == "optical-shot"]
    assert all(
        r["dynamic_aj"] == pytest.approx(r["dynamic_energy"] * 0.12816, rel=1e-3) for r in shot
    )
    md = (tmp_path / "paper_protocol.md").read_text()
    assert len(table_rows(md, "## Summary")) == 1  # one model
    assert len(table_rows(md, "## All runs")) == 6
    assert len(table_rows(md, "## Shot noise")) == 2
    assert (tmp_path / "paper_protocol.png").read_bytes().startswith(PNG_MAGIC)


def test_paper_protocol_minilm_smoke(tmp_path: Path) -> None:
    if not (cache_dir() / "minilm_l6_s32.onnx").exists():
        pytest.skip("MiniLM is not built (needs torch: python models/minilm.py)")
    run_bench(
        "paper_protocol.py",
        "--smoke",
        "--models",
        "minilm",
        "--noise",
        "optical-shot",
        "--targets",
        "0.02",
        "--out",
        tmp_path,
        "--workdir",
        tmp_path / "work",
    )
    (run,) = json.loads((tmp_path / "paper_protocol.json").read_text())["runs"]
    assert run["layers"] == 48  # 6 layers × (Q, K, V, Q·Kᵀ, A·V, output, FFN in, FFN out)
    assert set(run["held_out"]["clean"]) == {"retrieval", "cosine"}


# -- the zoo: faithful shapes, no torch ----------------------------------------------------------


def named_weights(model: onnx.ModelProto) -> int:
    """Values in the model's named weights (anonymous shape constants excluded)."""
    return int(
        sum(np.prod(t.dims) for t in model.graph.initializer if not t.name.startswith("onnx::"))
    )


def test_resnet50_has_torchvision_shapes() -> None:
    model = zoo.resnet50()
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 53 and sum(n.op_type == "Gemm" for n in model.graph.node) == 1
    # torchvision's 25,557,032 parameters, less BatchNorm's 53,120 (γ, β), plus one bias per
    # output channel of every conv (26,560), which is where the folded BatchNorm goes.
    assert named_weights(model) == 25_557_032 - 53_120 + 26_560
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer2.0.conv2.weight"] == (128, 128, 3, 3)
    assert shapes["layer4.2.conv3.weight"] == (2048, 512, 1, 1)
    assert shapes["fc.weight"] == (1000, 2048)


def test_bert_layer_matches_transformers_counts() -> None:
    """One full-width layer: embeddings + layer + pooler as in BertModel (bert-base)."""
    model = zoo.bert_base(8, config=zoo.BertConfig(layers=1))
    embeddings = (30522 + 512 + 2) * 768 + 2 * 768
    layer = 4 * (768 * 768 + 768) + 2 * 768 + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 768
    pooler = 768 * 768 + 768
    assert named_weights(model) == embeddings + layer + pooler
    assert embeddings + 12 * layer + pooler == 109_482_240  # BertModel(bert-base) parameters


def test_retrieval_top1_scores_each_example() -> None:
    clean = np.eye(4, dtype=np.float32)
    noisy = clean.copy()
    noisy[3] = clean[0]  # example 3 now looks like example 0
    assert retrieval_top1([noisy], [clean], None).tolist() == [1.0, 1.0, 1.0, 0.0]


def test_overhead_smoke(tmp_path: Path) -> None:
    out = tmp_path / "overhead.md"
    proc = run_bench("overhead.py", "--smoke", "--output", out)
    rows = [line for line in out.read_text().splitlines() if line.startswith("| digits")]
    assert {row.split("|")[2].strip() for row in rows} == {"shot", "thermal", "weight"}, proc.stdout
    for row in rows:
        ratios = [float(c) for c in row.strip("|").split("|")[3:6]]
        assert all(r > 0.5 for r in ratios), row  # noisy runs cannot be much faster than clean


def test_gaussians_smoke(tmp_path: Path) -> None:
    run_bench("gaussians.py", "--smoke", "--out", tmp_path)
    doc = json.loads((tmp_path / "gaussians.json").read_text())
    sources = {row["source"] for row in doc["rows"]}
    assert any("RandomNormalLike" in s for s in sources) and any("shipped" in s for s in sources)
    assert all(row["mdraws_per_s"] > 0 for row in doc["rows"])
    md = (tmp_path / "gaussians.md").read_text()
    assert len(table_rows(md, "## The floor")) == 2  # digits only in smoke: two sources
    assert all(float(row[5].rstrip("×")) > 1 for row in table_rows(md, "## The floor"))


def test_batch_size_smoke(tmp_path: Path) -> None:
    run_bench("batch_size.py", "--smoke", "--out", tmp_path)
    rows = json.loads((tmp_path / "batch_size-digits_resnet.json").read_text())
    assert [r["batch"] for r in rows] == [8, 32]
    assert all(r["noisy"] > 0 and r["cached"] > 0 and r["clean"] > 0 for r in rows)
    assert all(r["pieces"] == 1 for r in rows), "the demo's draws are small: it runs whole"
    assert all(r["split"] > 0 and r["split_pieces"] > 1 for r in rows), rows
    md = (tmp_path / "batch_size-digits_resnet.md").read_text()
    assert len(table_rows(md, "Command:")) == 2


def test_memory_smoke(tmp_path: Path) -> None:
    out = tmp_path / "memory.md"
    run_bench("memory.py", "--smoke", "--output", out)
    (row,) = [line for line in out.read_text().splitlines() if line.startswith("| digits")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    reference, reference_fixed, compile_fixed = (float(c) for c in cells[3:6])
    assert 0 < reference < compile_fixed < 4000, row
    assert 0 < reference_fixed < compile_fixed, row


def test_run_memory_smoke(tmp_path: Path) -> None:
    """One run's memory per example, noisy against clean, each measured in its own process;
    the simulation whole and in pieces, holding fewer draws in pieces."""
    out = tmp_path / "run_memory.md"
    run_bench("run_memory.py", "--smoke", "--output", out)
    text = out.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| model"))
    names = [c.strip() for c in header.strip("|").split("|")]
    rows = [dict(zip(names, cells, strict=True)) for cells in table_rows(text, "Command:")]
    assert [r["model"] for r in rows] == ["digits ResNet"] * 2
    whole, split = rows
    assert whole["pieces"] == "1, 1" and split["pieces"] != "1, 1", rows
    for row in rows:
        clean = [float(v) for v in row["clean run MB"].split(",")]
        noisy = [float(v) for v in row["noisy run MB"].split(",")]
        assert clean[0] <= clean[1] and noisy[0] < noisy[1], row
        assert noisy[1] > clean[1], "the noisy run holds its draws on top of the clean activations"
    held = [float(r["of which noise draws held MB/example"]) for r in rows]
    assert held[1] < held[0], rows


def test_vs_aihwkit_smoke_runs_or_says_why_not() -> None:
    proc = run_bench("vs_aihwkit.py", "--smoke")
    assert (
        "aihwkit not installed" in proc.stdout + proc.stderr
        or "digits" in proc.stdout + proc.stderr
    )


def test_plan_time_records_a_plans_wall_time_passes_and_saving(tmp_path: Path) -> None:
    """One small demo plan, as bench/plan_time.py runs it: a row merged into the results file
    (a second label beside it), the table rewritten."""
    out = tmp_path / "plan_time.json"
    for label in ("a", "b"):
        run_bench(
            "plan_time.py", "--label", label, "--out", out, "--", "--trials", "3", "--seeds", "2"
        )
    rows = json.loads(out.read_text())["rows"]
    assert [(r["label"], r["model"], r["workers"]) for r in rows] == [
        ("a", "demo", 1),
        ("b", "demo", 1),
    ]
    for row in rows:
        assert row["exit_codes"] in ([0], [1]) and row["examples"] == 300
        assert row["example_passes"] > 0 and row["wall_s"] > 0
    table = out.with_suffix(".md").read_text()
    assert len(table_rows(table, "# Plan time")) == 2


def test_plan_time_keeps_a_progress_log_and_the_report(tmp_path: Path) -> None:
    """--progress --keep: the compile's progress lines land in the kept log (written as they
    come, for following a long plan), beside its whole report."""
    keep = tmp_path / "keep"
    run_bench(
        "plan_time.py",
        "--label",
        "p",
        "--out",
        tmp_path / "plan_time.json",
        "--progress",
        "--keep",
        keep,
        "--",
        "--trials",
        "3",
        "--seeds",
        "2",
    )
    log = (keep / "demo-1w-0.log").read_text()
    assert "uniform N=" in log and "final figures on" in log, log[-2000:]
    report = json.loads((keep / "demo-1w-0.report.json").read_text())
    assert report["run"]["cost"]["example_passes"] > 0
