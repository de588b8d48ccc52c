"""The aihwkit equivalence bench (``bench/aihwkit_equivalence.py``).

Where aihwkit is installed, its ``--smoke`` run (tiny layers, a loose bound) goes end to end;
everywhere, the committed results are checked: every row within 5%, and the rows cover the
four term families on Linear and Conv2d layers in both of analogc's runtimes. CI runs this file
in its main environment (no aihwkit: the committed table) and in an aihwkit one (``.ci/run``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
HAVE_AIHWKIT = all(importlib.util.find_spec(m) is not None for m in ("torch", "aihwkit"))
FAMILIES = {
    "out_noise": "readout",
    "w_noise": "weight",
    "inp_res": "dac",
    "out_res": "adc",
    "PCMLikeNoiseModel": "pcm_programming",
}
"""aihwkit's term (the start of a row's name) -> the analogc term it must translate to."""


def check_rows(rows: list[dict[str, Any]], tolerance: float) -> None:
    for row in rows:
        for ratio in (row["simulator_ratio"], row["annotated_ratio"]):
            assert abs(ratio - 1) <= tolerance, row
    for aihwkit_term, analogc_term in FAMILIES.items():
        mine = [r for r in rows if r["term"].startswith(aihwkit_term)]
        assert mine, f"no row for {aihwkit_term}"
        assert all(analogc_term in r["hardware"] and r["hardware"][analogc_term] for r in mine)
        assert {r["layer"].split()[0] for r in mine} >= {"Linear", "Conv2d"}, aihwkit_term


@pytest.mark.skipif(not HAVE_AIHWKIT, reason="aihwkit is not installed: the committed table is")
def test_equivalence_bench_smoke(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "aihwkit_equivalence.py"), "--smoke"]
    proc = subprocess.run(
        [*cmd, "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads((tmp_path / "aihwkit_equivalence.json").read_text())
    assert document["smoke"] is True
    check_rows(document["rows"], tolerance=0.25)


def test_committed_equivalence_table_is_within_five_percent() -> None:
    document = json.loads((RESULTS / "aihwkit_equivalence.json").read_text())
    assert document["smoke"] is False and document["draws"] >= 100
    assert document["tolerance"] == 0.05
    rows = document["rows"]
    check_rows(rows, tolerance=0.05)
    assert all(r["passed"] for r in rows)
    markdown = (RESULTS / "aihwkit_equivalence.md").read_text()
    table = [line for line in markdown.splitlines() if re.match(r"\| (Linear|Conv2d)", line)]
    assert len(table) == len(rows) and all(line.endswith("| yes |") for line in table)
    assert "Every row within 5%" in markdown
