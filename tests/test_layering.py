"""Layering: ``passes`` (graph rewriting) must stay importable without any execution or search
machinery, and ``runtime`` (execution) without the search, the CLI or plotting.

Every ``import``/``from ... import`` is checked, including imports inside functions and
relative ones (resolved against the file's package), and ``importlib.import_module("x")`` /
``__import__("x")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"passes": "analogc.passes", "runtime": "analogc.runtime"}

PASSES_FORBIDDEN_THIRD_PARTY = ("onnxruntime", "optuna", "click", "matplotlib", "tqdm")
RUNTIME_FORBIDDEN = (
    "optuna",
    "click",
    "matplotlib",
    "analogc.search",
    "analogc.pipeline",
    "analogc.cli",
)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def package_of(path: Path, base: Path, package: str) -> str:
    """Dotted package that holds ``path`` (``passes/ops/conv.py`` -> ``analogc.passes.ops``);
    for an ``__init__.py``, the package itself (relative imports resolve against it)."""
    return ".".join((package, *path.relative_to(base).parent.parts))


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``source``.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule).
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            if name in ("import_module", "__import__") and literal:
                yield node.lineno, arg.value


def passes_violation(module: str) -> str | None:
    top = module.split(".")[0]
    if top in PASSES_FORBIDDEN_THIRD_PARTY:
        return f"imports {module} (passes must not depend on {top})"
    allowed = _under(module, "analogc.errors") or _under(module, "analogc.passes")
    if top == "analogc" and module != "analogc" and not allowed:
        return f"imports {module} (from analogc, passes may use analogc.errors and analogc.passes only)"
    return None


def runtime_violation(module: str) -> str | None:
    for forbidden in RUNTIME_FORBIDDEN:
        if _under(module, forbidden):
            return f"imports {module} (runtime must not depend on {forbidden})"
    return None


FAMILIES = ("passes", "runtime", "models")


def family(module: str) -> str | None:
    """Which of analogc's packages a module belongs to: ``passes``, ``runtime``, ``models``,
    ``analogc`` (the front end), or None for a third-party module."""
    parts = module.split(".")
    if parts[0] != "analogc":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in FAMILIES else "analogc"


def private_violation(importer: str, module: str) -> str | None:
    """A module of another package, or a name in it, that starts with an underscore
    (dunders like ``__version__`` are public)."""
    theirs = family(module)
    if theirs is None or theirs == family(importer):
        return None
    private = [p for p in module.split(".")[1:] if p.startswith("_") and not p.startswith("__")]
    if private:
        return f"imports {module} (private to {theirs}: make it public or keep it inside)"
    return None


def violations(base: Path, package: str, check: Callable[[str], str | None]) -> list[str]:
    """``file:line: problem`` for every forbidden import under ``base`` (package ``package``)."""
    found = []
    for path in sorted(base.rglob("*.py")):
        for line, module in imported_modules(path.read_text(), package_of(path, base, package)):
            problem = check(module)
            if problem:
                found.append(f"{path.relative_to(base.parent)}:{line}: {problem}")
    return sorted(set(found), key=lambda f: (f.split(":")[0], int(f.split(":")[1])))


def sources(folder: str) -> list[Path]:
    files = sorted((ROOT / folder).rglob("*.py"))
    if not files:
        pytest.fail(f"no .py files under {ROOT / folder}: has the layout changed?")
    return files


def test_passes_import_no_execution_or_search_machinery() -> None:
    assert len(sources("passes")) >= 5, "expected the passes package and its ops"
    found = violations(ROOT / "passes", PACKAGES["passes"], passes_violation)
    assert not found, "layering violations in passes/:\n" + "\n".join(found)


def test_runtime_imports_no_search_cli_or_plots() -> None:
    assert len(sources("runtime")) >= 5, "expected the runtime package"
    found = violations(ROOT / "runtime", PACKAGES["runtime"], runtime_violation)
    assert not found, "layering violations in runtime/:\n" + "\n".join(found)


PUBLIC_SOURCES = {
    "analogc": "analogc",
    "passes": "analogc.passes",
    "runtime": "analogc.runtime",
    "models": "analogc.models",
    "bench": "bench",
}


@pytest.mark.parametrize("folder", sorted(PUBLIC_SOURCES))
def test_no_private_imports_across_packages(folder: str) -> None:
    """Modules and functions used by another package are public: no ``_x`` crosses over."""
    sources(folder)
    package = PUBLIC_SOURCES[folder]
    found = violations(ROOT / folder, package, lambda m, p=package: private_violation(p, m))
    assert not found, "private imports across packages:\n" + "\n".join(found)


# -- the checker itself catches what it should ----------------------------------------------------
@pytest.mark.parametrize(
    ("source", "package", "bad"),
    [
        ("import onnxruntime as ort", "analogc.passes", True),
        ("from optuna.samplers import TPESampler", "analogc.passes", True),
        ("def f():\n    import click\n", "analogc.passes.ops", True),
        ("import matplotlib.pyplot as plt", "analogc.passes", True),
        ("from tqdm.auto import tqdm", "analogc.passes", True),
        ("from analogc.runtime.data import Dataset", "analogc.passes", True),
        ("from analogc import pipeline", "analogc.passes", True),
        ("from analogc.cli import cli", "analogc.passes", True),
        ("import analogc.search", "analogc.passes", True),
        ("from ..runtime import data", "analogc.passes.ops", False),  # analogc.passes.runtime
        ("from ... import search", "analogc.passes.ops", True),  # analogc.search
        ("importlib.import_module('onnxruntime')", "analogc.passes", True),
        ("from analogc.errors import ModelError", "analogc.passes", False),
        ("from analogc.passes.graph_index import GraphIndex", "analogc.passes", False),
        ("from ..graph_index import GraphIndex", "analogc.passes.ops", False),
        ("from . import conv", "analogc.passes.ops", False),
        ("import onnx\nimport numpy as np", "analogc.passes", False),
    ],
)
def test_passes_checker(source: str, package: str, bad: bool) -> None:
    problems = [p for _, m in imported_modules(source, package) if (p := passes_violation(m))]
    assert bool(problems) == bad, f"{source!r} in {package}: {problems or 'no violation'}"


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import optuna", True),
        ("from click import echo", True),
        ("import matplotlib", True),
        ("from analogc.search import SearchSettings", True),
        ("from analogc import pipeline", True),
        ("from .. import cli", True),
        ("from analogc.passes import HANDLERS", False),
        ("from .data import Dataset", False),
        ("import onnxruntime as ort", False),
        ("from analogc.searching import x", False),  # a prefix is not a package
    ],
)
def test_runtime_checker(source: str, bad: bool) -> None:
    modules = [m for _, m in imported_modules(source, "analogc.runtime")]
    problems = [p for m in modules if (p := runtime_violation(m))]
    assert bool(problems) == bad, f"{source!r}: {problems or 'no violation'} ({modules})"


@pytest.mark.parametrize(
    ("source", "package", "bad"),
    [
        ("from analogc.passes._io import load_model", "analogc.runtime", True),
        ("from analogc.passes.annotate import _set_model_meta", "analogc", True),
        ("from analogc.runtime.evaluate import Evaluator", "analogc", False),
        ("from analogc import __version__", "analogc.runtime", False),
        ("from ._index import GraphIndex", "analogc.passes", False),  # inside the package
        ("from analogc.passes._index import GraphIndex", "analogc.passes.ops", False),
        ("from analogc.models._private import x", "bench", True),
        ("from numpy._core import multiarray", "analogc", False),  # third party
    ],
)
def test_private_checker(source: str, package: str, bad: bool) -> None:
    problems = [
        p for _, m in imported_modules(source, package) if (p := private_violation(package, m))
    ]
    assert bool(problems) == bad, f"{source!r} in {package}: {problems or 'no violation'}"


def test_violations_report_file_and_line(tmp_path: Path) -> None:
    base = tmp_path / "passes"
    (base / "ops").mkdir(parents=True)
    (base / "__init__.py").write_text("from .ops import thing\n")
    (base / "ops" / "__init__.py").write_text("")
    (base / "ops" / "bad.py").write_text(
        "import numpy as np\n\n\ndef f():\n    import optuna\n\n\nfrom ...runtime import data\n"
    )
    found = violations(base, "analogc.passes", passes_violation)
    assert len(found) == 3, found  # optuna; analogc.runtime and analogc.runtime.data, one line
    assert found[0].startswith("passes/ops/bad.py:5: imports optuna"), found
    assert all(f.startswith("passes/ops/bad.py:8: imports analogc.runtime") for f in found[1:]), (
        found
    )
