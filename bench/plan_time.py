"""What one plan costs: wall time, noisy example-passes and the saving, per model and workers.

Each row runs ``analogc compile`` as a user would (a subprocess, a fresh output folder, the
sampler seed fixed) and reads its ``report.json``:

- ``demo``: the bundled digits ResNet and its 300 calibration images (``--demo``);
- ``minilm``: MiniLM-L6 on its 256 calibration sentences (``models/minilm.py`` must have
  cached ``minilm_l6_s32.onnx``), nearest-neighbour retrieval top-1 within one point;
- ``resnet50`` / ``bert``: the ResNet-50 and BERT-base architectures (random weights,
  ``models/zoo.py``) on ``--examples`` random inputs, cosine to the clean output within 1%
  (accuracy-like metrics are degenerate on random weights).

Example-passes (one example through the noisy graph once, under one seed) count the search:
its setup (uniform baseline, sensitivities), exploration and confirmation, not calibration's
clean passes nor the final figures on fresh seeds, which every version makes alike. They come
from the report's ``run.cost`` phases where the analogc under test writes them; an analogc that
does not (before they were added) gives ``run.search.evaluations``, the noisy batch runs of the
same search, turned into example-passes as runs × examples / batches per pass (exact when every
evaluation covers all examples, as it did then; marked ``est.``). With ``--workers 2`` two
processes share one SQLite study; the wall time is until both have exited and the passes are
their sum.

    python bench/plan_time.py --label before --models demo --workers 1,2
    python bench/plan_time.py --label after  --models demo,minilm --workers 1,2

Rows are merged into ``bench/results/plan_time.json`` by (label, model, workers) and the
table is rewritten to ``bench/results/plan_time.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from common import machine, versions

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Row:
    label: str
    model: str
    workers: int
    examples: int
    wall_s: float
    example_passes: int
    estimated: bool
    saving: float | None
    budget_met: bool | None
    exit_codes: list[int]
    command: str
    cost: dict[str, Any] | None


def _cache() -> Path:
    from models.cache import cache_dir

    return cache_dir()


def _zoo_model(name: str, examples: int, folder: Path) -> list[str]:
    """The architecture and ``examples`` random inputs, written once to ``folder``."""
    from models import zoo

    model_path = folder / f"{name}.onnx"
    data_path = folder / f"{name}_{examples}.npz"
    if not model_path.exists():
        proto = zoo.resnet50() if name == "resnet50" else zoo.bert_base(128)
        onnx.save(proto, model_path)
    if not data_path.exists():
        if name == "resnet50":
            first = onnx.load(model_path, load_external_data=False).graph.input[0].name
            rng = np.random.default_rng(0)
            arrays = {first: rng.standard_normal((examples, 3, 224, 224), np.float32)}
        else:
            arrays = zoo.bert_inputs(examples, 128)
        np.savez(data_path, **arrays)
    return [str(model_path), "-d", str(data_path), "--metric", "cosine", "--max-drop", "1%"]


def model_args(name: str, examples: int) -> list[str]:
    if name == "demo":
        return ["--demo"]
    if name == "minilm":
        model = _cache() / "minilm_l6_s32.onnx"
        if not model.exists():
            raise SystemExit(f"{model} is missing: build it with models/minilm.py first")
        data = REPO / "models" / "minilm_calib.npz"
        metric = "analogc.models.metrics:retrieval_top1"
        return [str(model), "-d", str(data), "--metric", metric, "--max-drop", "0.01"]
    if name in ("resnet50", "bert"):
        folder = _cache() / "plan_time"
        folder.mkdir(parents=True, exist_ok=True)
        return _zoo_model(name, examples, folder)
    raise SystemExit(f"unknown model {name!r}: demo, minilm, resnet50 or bert")


# Phases both versions make alike and that are not the search: calibration's clean passes and
# the final figures on fresh seeds (validation).
NOT_SEARCH = ("calibration", "validation")


def _passes(report: dict[str, Any]) -> tuple[int, bool]:
    """Noisy example-passes the search made (setup, sensitivities, exploration, confirmation),
    and whether they were estimated from batch counts."""
    cost = report["run"].get("cost")
    if cost is not None:
        phases = cost["phases"]
        return sum(int(p["example_passes"]) for p in phases if p["phase"] not in NOT_SEARCH), False
    data = report["data"]
    examples = int(data["examples"])
    batches = math.ceil(examples / int(data["batch_size"]))
    search = report["run"].get("search") or {}
    return round(int(search.get("evaluations", 0)) * examples / batches), True


def run_plan(
    label: str,
    name: str,
    workers: int,
    examples: int,
    extra: Sequence[str],
    keep: Path | None = None,
    progress: bool = False,
) -> Row:
    base = [sys.executable, "-m", "analogc", "compile", *model_args(name, examples)]
    base += [] if progress else ["-q"]
    base += ["--seed", "0", *extra]
    with tempfile.TemporaryDirectory(prefix="plan_time-") as tmp:
        root = Path(tmp)
        shared = ["--storage", f"sqlite:///{root / 'study.db'}", "--study-name", "plan"]
        commands = [
            [*base, "-o", str(root / f"w{i}"), *(shared if workers > 1 else [])]
            for i in range(workers)
        ]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        # Each worker's output goes to a file as it comes (--keep's folder: to follow a long
        # run's progress while it runs).
        logs_dir = keep if keep is not None else root
        logs_dir.mkdir(parents=True, exist_ok=True)
        logs = [logs_dir / f"{name}-{workers}w-{i}.log" for i in range(workers)]
        start = time.perf_counter()
        procs = []
        for cmd, log in zip(commands, logs, strict=True):
            with log.open("wb") as sink:
                procs.append(
                    subprocess.Popen(cmd, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
                )
        for p in procs:
            p.wait()
        wall = time.perf_counter() - start
        outputs = [log.read_bytes().decode(errors="replace") for log in logs]
        codes = [p.returncode for p in procs]
        reports = []
        for i, (code, text) in enumerate(zip(codes, outputs, strict=True)):
            path = root / f"w{i}" / "report.json"
            if code not in (0, 1) or not path.exists():
                raise SystemExit(f"{name} worker {i} exited {code}:\n{text[-3000:]}")
            reports.append(json.loads(path.read_text()))
            if keep is not None:  # the whole report: probes, configurations, per-layer N
                keep.mkdir(parents=True, exist_ok=True)
                stem = f"{name}-{workers}w-{i}"
                (keep / f"{stem}.report.json").write_text(path.read_text())
    counted = [_passes(r) for r in reports]
    first = reports[0]
    shown = " ".join(a.replace(f"{REPO}/", "") for a in base[3:])
    return Row(
        label=label,
        model=name,
        workers=workers,
        examples=int(first["data"]["examples"]),
        wall_s=round(wall, 1),
        example_passes=sum(p for p, _ in counted),
        estimated=any(e for _, e in counted),
        saving=first.get("saving"),
        budget_met=first.get("budget_met"),
        exit_codes=codes,
        command=f"analogc {shown}"
        + (f" (×{workers} workers, one SQLite study)" if workers > 1 else ""),
        cost=first["run"].get("cost"),
    )


def _merge(rows: Sequence[Row], path: Path) -> list[dict[str, Any]]:
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    key = lambda r: (r["label"], r["model"], r["workers"])  # noqa: E731
    new = {key(asdict(r)): asdict(r) for r in rows}
    kept = [r for r in old if key(r) not in new]
    return sorted([*kept, *new.values()], key=lambda r: (r["model"], r["workers"], r["label"]))


def _table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| model | workers | label | examples | wall s | example-passes | saving | met | exit |",
        "|---|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        passes = f"{r['example_passes']:,}" + (" (est.)" if r["estimated"] else "")
        saving = "—" if r["saving"] is None else f"{100 * r['saving']:.1f}%"
        lines.append(
            f"| {r['model']} | {r['workers']} | {r['label']} | {r['examples']} | {r['wall_s']:.1f} "
            f"| {passes} | {saving} | {r['budget_met']} | {r['exit_codes']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="e.g. before / after")
    parser.add_argument(
        "--models", default="demo", help="comma-separated: demo,minilm,resnet50,bert"
    )
    parser.add_argument("--workers", default="1", help="comma-separated worker counts")
    parser.add_argument("--examples", type=int, default=512, help="inputs for resnet50/bert")
    parser.add_argument("--out", type=Path, default=RESULTS / "plan_time.json")
    parser.add_argument(
        "--keep", type=Path, help="folder to keep each worker's report.json and output in"
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="compile without -q: its progress lines go to --keep's .log files (the progress "
        "bar's redraws too, so slightly more work than a quiet run)",
    )
    parser.add_argument("extra", nargs="*", help="more compile options, after --")
    args = parser.parse_args(argv)
    rows = []
    for name in args.models.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            row = run_plan(
                args.label, name, workers, args.examples, args.extra, args.keep, args.progress
            )
            print(json.dumps(asdict(row)), flush=True)
            rows.append(row)
    merged = _merge(rows, args.out)
    args.out.write_text(
        json.dumps({"machine": machine(), "versions": versions(), "rows": merged}, indent=1)
    )
    md = args.out.with_suffix(".md")
    head = md.read_text().split("\n| model |")[0].rstrip() if md.exists() else "# Plan time"
    md.write_text(f"{head}\n\n{_table(merged)}\n")
    print(_table(merged))


if __name__ == "__main__":
    main()
