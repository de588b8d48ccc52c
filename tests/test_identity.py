"""Behaviour does not change under refactoring: every corpus and demo model, planned with fixed
repeats under each noise model, annotates and lowers to exactly the bytes recorded in
``tests/golden/identity.json`` (see ``tests/golden/identity.py``; the numeric ``compile`` cases
there are compared on one machine with ``identity.py compare``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

import identity


def test_annotated_and_lowered_graphs_are_byte_identical(tmp_path: Path) -> None:
    golden = {
        k: v for k, v in json.loads(identity.GOLDEN.read_text()).items() if k.startswith("graph/")
    }
    assert len(golden) > 300, "the golden file lost its graph cases"
    found = identity.differences(golden, identity.graph_cases(tmp_path))
    assert not found, "graphs differ from tests/golden/identity.json:\n" + "\n".join(found[:20])
