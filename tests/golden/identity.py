"""Behaviour does not change: the same seeds give byte-identical annotated models and identical
report figures.

Two kinds of case are recorded:

* ``graph/...`` (pure, the same on every machine): every corpus model and both demo models,
  planned with fixed repeats, input ranges and seed under each noise model, annotated for
  deployment and lowered for simulation; the sha256 of each serialised graph, and
  (``canonical/...``) of the graph with its function bodies in :func:`canonical` form.
* ``compile/...`` (numeric: onnxruntime computes the calibration, so the figures are those of
  this machine's CPU): ``analogc compile`` on the demo for every preset (a search, and
  ``--pareto``) and with fixed repeats; the annotated model's sha256 and ``report.json``
  without its ``run`` field.

Usage::

    python tests/golden/identity.py record OUT.json [--quick]
    python tests/golden/identity.py compare A.json B.json

``tests/golden/identity.json`` was recorded before the structure was refactored (issue 9),
its ``compile`` cases again when the noise draws changed (issue 13: the table generator of
``runtime/draws.py``; the graph cases did not change);
``tests/test_identity.py`` checks the graph cases against it on every test run (see there
for which are exact and which canonical), and ``compare`` checks the rest on one machine,
e.g. against a worktree of an older commit.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "corpus"))
sys.path.insert(0, str(HERE.parent))

GOLDEN = HERE / "identity.json"
SKIP_ENTRIES = {"over_2gb"}  # 2 GB of weights: too big to hash on every test run


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _graph_sha(model: onnx.ModelProto) -> str:
    """sha256 of the serialised graph, the temporary folder of external data left out."""
    model = copy.deepcopy(model)
    for entry in model.metadata_props:
        if entry.key == "pkg.analogc.external_data_dir":
            entry.value = "<folder>"
    return _sha(model.SerializeToString())


def canonical(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every function body in a canonical form: each value named by a hash of
    how it is computed (op, attributes, the hashes of its inputs), nodes sorted by depth then
    name. Two bodies that compute the same values the same way, but add their nodes in another
    order, become identical."""
    model = copy.deepcopy(model)
    for function in model.functions:
        names = {name: f"in:{name}" for name in function.input}
        depth = dict.fromkeys(function.input, 0)
        keyed = []
        for node in function.node:
            attrs = b"".join(sorted(a.SerializeToString() for a in node.attribute))
            inputs = [names.get(i, i) for i in node.input]
            digest = _sha(f"{node.domain}|{node.op_type}|{inputs}|".encode() + attrs)[:16]
            level = 1 + max((depth.get(i, 0) for i in node.input), default=0)
            for k, out in enumerate(node.output):
                names[out] = out if out in function.output else f"v{digest}_{k}"
                depth[out] = level
            keyed.append((level, names[node.output[0]], node))
        for _, _, node in keyed:
            node.input[:] = [names.get(i, i) for i in node.input]
            node.output[:] = [names[o] for o in node.output]
        del function.node[:]
        function.node.extend(n for _, _, n in sorted(keyed, key=lambda t: (t[0], t[1])))
    return model


def _noises() -> dict[str, Any]:
    from analogc.passes import NoiseModel

    return {
        "shot": NoiseModel(shot=True),
        "thermal": NoiseModel(thermal=True, k_t=0.02),
        "weight": NoiseModel(weight=True, k_w=0.07),
        "all": NoiseModel(shot=True, thermal=True, weight=True, k_t=0.03, k_w=0.05),
    }


def _models(folder: Path) -> Iterator[tuple[str, Path]]:
    from corpus import ENTRIES

    from analogc.pipeline import demo_file

    for name in ("digits_resnet.onnx", "digits_cnn.onnx"):
        yield f"demo:{name}", demo_file(name)
    for entry in ENTRIES:
        if entry.name in SKIP_ENTRIES:
            continue
        where = folder / entry.name
        where.mkdir()
        yield f"corpus:{entry.name}", entry.save(where)


def graph_cases(folder: Path) -> dict[str, str]:
    """sha256 of every annotated and lowered graph under fixed plans (machine-independent)."""
    from analogc.passes import (
        LayerPlan,
        Plan,
        annotate,
        discover,
        infer_shapes,
        load_model,
        lower_for_simulation,
        name_nodes,
    )
    from analogc.runtime.functions import FunctionLibrary

    out: dict[str, str] = {}
    for label, path in _models(folder):
        model = infer_shapes(load_model(path))
        name_nodes(model)
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        names = [x.name for x in discover(model).analog]
        for noise_name, noise in _noises().items():
            layers = {
                n: LayerPlan(repeats=1 + 3 * (i % 5), r_x=0.5 + 0.25 * i)
                for i, n in enumerate(names)
            }
            plan = Plan(noise=noise, e1=2.5, layers=layers, seed=7)
            deploy = copy.deepcopy(model)
            annotate(deploy, plan, FunctionLibrary(noise=noise, opset=opset))
            out[f"graph/annotated/{label}/{noise_name}"] = _graph_sha(deploy)
            out[f"canonical/annotated/{label}/{noise_name}"] = _graph_sha(canonical(deploy))
            for stats in (False, True):
                sim = copy.deepcopy(model)
                library = FunctionLibrary(noise=noise, opset=opset, mode="simulate", stats=stats)
                lower_for_simulation(sim, plan, library)
                kind = f"simulate{'+stats' if stats else ''}"
                out[f"graph/{kind}/{label}/{noise_name}"] = _graph_sha(sim)
                out[f"canonical/{kind}/{label}/{noise_name}"] = _graph_sha(canonical(sim))
    return out


def _compile(out_dir: Path, **kwargs: Any) -> dict[str, Any]:
    from analogc.pipeline import DEMO_MODEL, compile_model, demo_file

    report = compile_model(
        demo_file(kwargs.pop("model", DEMO_MODEL)),
        data="demo:calib",
        output_dir=out_dir,
        **kwargs,
    )
    document = json.loads(report.to_json())
    document.pop("run", None)
    document.pop("outputs", None)  # temporary paths
    document["model"].pop("path", None)
    document["data"]["source"] = Path(document["data"]["source"]).name  # the checkout's path
    if document.get("search"):
        document["search"].pop("storage", None)  # temporary path
        document["search"].pop("study_name", None)  # a hash of the settings' encoding
    model_file = next(out_dir.glob("*.analog.onnx"))
    return {"annotated_sha256": _sha(model_file.read_bytes()), "report": document}


def compile_cases(folder: Path, *, quick: bool = False) -> dict[str, Any]:
    """Reports of ``compile`` on the demo (figures depend on this machine's onnxruntime)."""
    from analogc.search import SearchSettings

    runs: dict[str, Callable[[Path], dict[str, Any]]] = {
        "compile/optical-shot/search": lambda d: _compile(
            d, hardware="optical-shot", search=SearchSettings(trials=24), plots=False
        ),
        "compile/optical-shot/repeats": lambda d: _compile(
            d, hardware="optical-shot", repeats=9, plots=False
        ),
    }
    if not quick:
        runs.update(
            {
                "compile/electronic-thermal/search": lambda d: _compile(
                    d, hardware="electronic-thermal", search=SearchSettings(trials=20), plots=False
                ),
                "compile/weight-noise/search": lambda d: _compile(
                    d, hardware="weight-noise", search=SearchSettings(trials=20), plots=False
                ),
                "compile/optical-shot/pareto": lambda d: _compile(
                    d,
                    hardware="optical-shot",
                    search=SearchSettings(trials=20, pareto=True),
                    plots=False,
                ),
                "compile/cnn/thermal/max-drop": lambda d: _compile(
                    d,
                    model="digits_cnn.onnx",
                    hardware="electronic-thermal",
                    max_drop="0.02",
                    search=SearchSettings(trials=16, seeds=4),
                    plots=False,
                ),
            }
        )
    out = {}
    for i, (key, run) in enumerate(runs.items()):
        out[key] = run(folder / f"compile{i}")
    return out


def record(*, quick: bool = False) -> dict[str, Any]:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        folder = Path(tmp)
        (folder / "graphs").mkdir()
        (folder / "compile").mkdir()
        cases: dict[str, Any] = dict(graph_cases(folder / "graphs"))
        cases.update(compile_cases(folder / "compile", quick=quick))
    return cases


def differences(
    a: Any, b: Any, *, prefix: str = "", additions: list[str] | None = None
) -> list[str]:
    """Every value that differs (recursively through dicts and lists), as ``path: a != b``.

    With ``additions``, keys only in ``b`` go there instead (a report that gained a field,
    its old fields unchanged, is the same report)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}{key}"
            if key not in a and additions is not None:
                additions.append(path)
            elif key not in a or key not in b:
                found.append(f"{path}: only in {'the second' if key not in a else 'the first'}")
            else:
                found.extend(differences(a[key], b[key], prefix=path + ".", additions=additions))
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found.extend(differences(x, y, prefix=f"{prefix}{i}.", additions=additions))
        return found
    return [] if a == b else [f"{prefix.rstrip('.')}: {str(a)[:80]} != {str(b)[:80]}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the cases of the code in this checkout")
    rec.add_argument("output", type=Path)
    rec.add_argument("--quick", action="store_true", help="two compile cases instead of six")
    cmp_ = sub.add_parser("compare", help="list every difference between two recordings")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    cmp_.add_argument(
        "--cases", default="", help="only the cases whose key starts with this (e.g. compile/)"
    )
    args = parser.parse_args()
    if args.command == "record":
        args.output.write_text(json.dumps(record(quick=args.quick), indent=1, sort_keys=True))
        return 0
    a, b = (
        {k: v for k, v in json.loads(p.read_text()).items() if k.startswith(args.cases)}
        for p in (args.a, args.b)
    )
    added: list[str] = []
    found = differences(a, b, additions=added)
    print("\n".join(found) if found else f"identical ({len(a)} cases)")
    if added:
        print(f"{len(added)} fields added in the second, e.g. " + ", ".join(added[:6]))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
