"""Behaviour does not change under refactoring: every corpus and demo model, planned with fixed
repeats under each noise model, annotates and lowers to the graphs recorded in
``tests/golden/identity.json`` before the refactor (see ``tests/golden/identity.py``; the
numeric ``compile`` cases there are compared on one machine with ``identity.py compare``).

* one noise term (the presets' models): byte-identical annotated and simulation graphs;
* several terms: the same computation (:func:`identity.canonical`): shot and thermal noise
  are now two modules whose variances the library adds, so two independent nodes of the body
  come in another order (the values are bitwise the same);
* simulation graphs with ``stats`` (analogc's internal calibration graph) now give one
  variance per term and drop unused nodes: not compared; their figures are, in the
  ``compile`` cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

import identity


def _compared(key: str) -> bool:
    kind, form, *_ = key.split("/")
    if form not in ("annotated", "simulate"):
        return False
    return kind == "canonical" or (kind == "graph" and not key.endswith("/all"))


def test_annotated_and_lowered_graphs_are_byte_identical(tmp_path: Path) -> None:
    golden = {k: v for k, v in json.loads(identity.GOLDEN.read_text()).items() if _compared(k)}
    assert len(golden) > 400, "the golden file lost its graph cases"
    now = {k: v for k, v in identity.graph_cases(tmp_path).items() if _compared(k)}
    found = identity.differences(golden, now)
    assert not found, "graphs differ from tests/golden/identity.json:\n" + "\n".join(found[:20])
