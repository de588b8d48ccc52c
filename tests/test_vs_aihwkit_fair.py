"""The fairness machinery of ``bench/vs_aihwkit.py`` (issue 13 item 4), checked without aihwkit.

The bench compares analogc with aihwkit only under equal treatment: both sides in one process
started with the same ``GLIBC_TUNABLES``, fresh noise on both sides in the headline, and a mode
order that is a seeded random permutation drawn afresh every round. These tests run in the main
environment (numpy and onnxruntime, no torch or aihwkit), and need neither.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "vs_aihwkit.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The bench script as a module (it imports numpy, onnx and onnxruntime only at load)."""
    spec = importlib.util.spec_from_file_location("vs_aihwkit_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


# -- the order of the modes ------------------------------------------------------------------


def test_orders_are_permutations_that_differ_across_rounds(bench: ModuleType) -> None:
    n = len(bench.MODE_SPECS)
    orders = bench.round_orders(n, 12, seed=0)
    assert len(orders) == 12
    assert all(sorted(order) == list(range(n)) for order in orders)
    assert len({tuple(order) for order in orders}) == 12  # no round repeats another's order
    # No mode always follows the same neighbour, and none is always first or always last.
    for mode in range(n):
        before = {order[order.index(mode) - 1] for order in orders if order.index(mode) > 0}
        assert len(before) > 1, (mode, orders)
    assert len({order[0] for order in orders}) > 1
    assert len({order[-1] for order in orders}) > 1


def test_orders_are_reproducible_by_seed(bench: ModuleType) -> None:
    n = len(bench.MODE_SPECS)
    assert bench.round_orders(n, 9, seed=3) == bench.round_orders(n, 9, seed=3)
    assert bench.round_orders(n, 9, seed=3) != bench.round_orders(n, 9, seed=4)


def test_orders_stay_distinct_until_every_permutation_is_used(bench: ModuleType) -> None:
    orders = bench.round_orders(3, 6, seed=1)
    assert len({tuple(o) for o in orders}) == 6  # all 3! orders, none twice


def test_time_modes_runs_each_round_in_its_recorded_order(bench: ModuleType) -> None:
    calls: list[str] = []
    modes = [
        bench.Mode(spec, (lambda name=spec.name: calls.append(name))) for spec in bench.MODE_SPECS
    ]
    orders = bench.time_modes(modes, rounds=5, warmup=1, run_s=0.0, seed=7)
    assert orders == bench.round_orders(len(modes), 6, seed=7)  # warm-up order, then 5 rounds
    names = [spec.name for spec in bench.MODE_SPECS]
    expected = [names[i] for order in orders for i in order]
    assert calls == expected
    assert all(len(m.times) == 5 and len(m.faults) == 5 for m in modes)


# -- fresh noise only in the headline ---------------------------------------------------------


def test_headline_has_fresh_noise_only_and_no_cached_draws(bench: ModuleType) -> None:
    specs = {spec.name: spec for spec in bench.MODE_SPECS}
    assert set(bench.HEADLINE) <= set(specs)
    for name in bench.HEADLINE:
        assert specs[name].side == "analogc" and specs[name].noise == "fresh"
    assert specs["aihwkit noisy"].noise == "fresh"
    assert all("cached" not in spec.name.lower() for spec in bench.MODE_SPECS)
    assert not hasattr(bench, "CACHED")
    assert {spec.noise for spec in bench.MODE_SPECS} == {"fresh", "none"}


def test_headline_table_lists_only_headline_modes(bench: ModuleType) -> None:
    def mode(name: str, seconds: float) -> dict[str, object]:
        return {"name": name, "seconds": [seconds], "faults_per_forward": [0.0]}

    record = {
        "model": "digits_resnet",
        "modes": [mode(spec.name, 0.01) for spec in bench.MODE_SPECS],
        "headline": {
            name: {"ratio_median": 3.0, "paired": [3.0], "ratio_fastest": 3.0, "meets_target": True}
            for name in bench.HEADLINE
        },
        "ceiling": 10.0,
        "other_load": 0.0,
    }
    parts = [{"malloc": "tuned", "models": [record]}, {"malloc": "tuned", "models": [record]}]
    rows = bench.headline_rows(parts)
    assert [r["mode"] for r in rows] == sorted(bench.HEADLINE)
    assert all(r["passes"] == 2 and r["rounds"] == 2 for r in rows)
    table = bench.headline_table(parts)
    assert len(table.splitlines()[2:]) == len(bench.HEADLINE)
    assert "cached" not in table.lower()


# -- the same allocator setting on both sides -------------------------------------------------


def test_malloc_env_sets_or_clears_the_tunables(bench: ModuleType) -> None:
    base = {"PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.check=3"}
    tuned = bench.malloc_env("tuned", base)
    assert tuned["GLIBC_TUNABLES"] == bench.MALLOC_SETTINGS["tuned"]
    assert "glibc.malloc.mmap_max=0" in tuned["GLIBC_TUNABLES"]
    assert "glibc.malloc.trim_threshold=" in tuned["GLIBC_TUNABLES"]
    assert tuned[bench.MALLOC_MARK] == "tuned" and tuned["PATH"] == "/bin"
    default = bench.malloc_env("default", base)
    assert "GLIBC_TUNABLES" not in default  # glibc's own defaults, whatever the caller had
    assert base["GLIBC_TUNABLES"] == "glibc.malloc.check=3"  # the caller's env is not changed
    with pytest.raises(ValueError):
        bench.malloc_env("jemalloc", base)
    assert bench.settings_of("both") == ["default", "tuned"]
    # Passes alternate which setting runs first.
    three = ["default", "tuned", "tuned", "default", "default", "tuned"]
    assert bench.settings_of("both", 3) == three
    assert bench.settings_of("tuned", 2) == ["tuned", "tuned"]


def test_child_command_forwards_arguments_and_names_the_setting(bench: ModuleType) -> None:
    cmd = bench.child_command(
        ["--runs", "3", "--seed", "5"], "tuned", Path("/tmp/x.json"), env_report=False, seed=1005
    )
    assert cmd[0] == sys.executable and Path(cmd[1]) == SCRIPT
    args = bench.parse_args(cmd[2:])
    assert args.malloc == "tuned" and args.runs == 3 and args.child_json == Path("/tmp/x.json")
    assert args.seed == 1005  # each child its own order seed
    # A later --malloc wins over the parent's own.
    later = bench.child_command(["--malloc", "both"], "default", Path("r"), env_report=True)
    assert bench.parse_args(later[2:]).malloc == "default"


def test_both_sides_run_in_children_started_with_the_tunables() -> None:
    """Each child (the one process both sides share) sees its setting, and glibc applies it."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--env-report"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = {r["malloc"]: r for r in json.loads(proc.stdout)}
    assert set(reports) == {"default", "tuned"}
    tuned, default = reports["tuned"], reports["default"]
    assert tuned["glibc_tunables"] == (
        "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824"
    )
    assert default["glibc_tunables"] is None
    assert tuned["mark"] == "tuned" and default["mark"] == "default"
    assert tuned["pid"] != default["pid"]
    pages = tuned["probe_bytes"] // 4096
    # glibc's defaults hand a 64 MiB block back to the OS on free: every page faults again.
    assert default["faults_per_cycle"]["glibc"] > pages / 2
    # Tuned: the block stays in the heap, for glibc and for the analogc side's numpy.
    assert tuned["faults_per_cycle"]["glibc"] < pages / 100
    assert tuned["faults_per_cycle"]["analogc (numpy)"] < pages / 100


def test_child_refuses_an_environment_without_its_setting() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--malloc", "tuned", "--child-env-report", "/dev/null"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    assert "expected" in proc.stderr
