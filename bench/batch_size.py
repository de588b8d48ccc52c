"""Examples per second against ``--batch-size``: noisy evaluation and clean onnxruntime, side by
side, so that a user can pick the batch size by throughput (issue 13, "batch size chosen for
throughput, not only memory").

analogc does not pick the batch size from timings by itself, on purpose: noise draws are keyed
by (seed, batch, op), so the batch size is part of what fixes a seeded plan, and one chosen
from this machine's speed would make the same command plan differently elsewhere. The
default is the largest batch up to ``--batch-size`` (256) that fits the memory budget, which
does not depend on the machine. This bench shows what another value would buy.

For each batch size it builds the calibrated model (``analogc.calibrated.CalibratedModel``,
as ``analogc compile`` does) and times, every size in each round in a random order, noisy and
clean in turn, so that drift hits all alike:

* ``noisy``: one evaluation of every example under a fresh noise seed, uniform N = 16 (what
  a search seed costs the first time it is used);
* ``noisy, kept draws``: the same under a seed evaluated before, whose draws the simulator
  kept (what the search's later configurations cost, where memory allows keeping them);
* ``noisy, in pieces``: as ``noisy``, with the simulation graph run in
  ``analogc.runtime.simulate.PIECES`` pieces (what analogc does when a run's draws would take
  over half the memory budget), so that what the pieces cost shows side by side;
* ``clean``: the original model in onnxruntime on the same batches, same threads.

Usage::

    python bench/batch_size.py                       # the demo, batches 8 ... 256
    python bench/batch_size.py --zoo resnet50 --sizes 1,2,3,4,8 --memory-mb 4096
    python bench/batch_size.py --model m.onnx --data d.npz --sizes 16,64,256
    python bench/batch_size.py --smoke --out /tmp          # seconds; for CI
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import machine, versions

from analogc.calibrated import (
    DEFAULT_MEMORY_BUDGET,
    CalibratedModel,
    fit_batch_size,
    open_model,
)
from analogc.hardware import load_hardware
from analogc.inputs import load_data
from analogc.runtime.metrics import METRICS
from analogc.runtime.session import make_session
from analogc.runtime.simulate import PIECES, Simulator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEMO = ROOT / "models" / "digits_resnet.onnx"


class Contender:
    """One batch size: the calibrated model at that size and a clean session on its batches."""

    def __init__(
        self, model: Path, data: str, size: int, *, threads: int | None, memory_mb: int
    ) -> None:
        loaded = open_model(model)
        dataset = load_data(data, loaded.model)
        self.calibrated = CalibratedModel(
            loaded,
            load_hardware("optical-shot"),
            dataset,
            metric=METRICS["agreement"],
            batch_size=size,
            threads=threads,
            memory_budget=memory_mb << 20,
        )
        self.batch = self.calibrated.calibration.batch_size
        self.clean = make_session(loaded.model, threads=threads)
        self.batches = [batch.feed for batch in dataset.split(self.batch)]
        self.examples = len(dataset)
        self.noisy_s: list[float] = []
        self.cached_s: list[float] = []
        self.clean_s: list[float] = []
        self.split_s: list[float] = []
        self.pieces = self.calibrated.simulator.pieces
        self.split = Simulator(
            loaded.model,
            self.calibrated.base_plan,
            shapes=self.calibrated.calibration.shapes,
            threads=threads,
            pieces=PIECES,
        )
        self.calibrated.evaluate(16, [0])  # warm-up; seed 0's draws are kept, as in a search
        self._split(0)
        self._clean()

    def _split(self, seed: int) -> None:
        """One evaluation with the graph run in pieces."""
        evaluator = self.calibrated.evaluator
        default, evaluator.simulator = evaluator.simulator, self.split
        try:
            self.calibrated.evaluate(16, [seed])
        finally:
            evaluator.simulator = default

    def _clean(self) -> None:
        for feed in self.batches:
            self.clean.run(None, feed)

    def round(self, seed: int) -> None:
        start = time.perf_counter()
        self.calibrated.evaluate(16, [1 + seed])  # a fresh seed: fresh draws
        self.noisy_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        self.calibrated.evaluate(16, [0])  # draws kept from before, where memory allows
        self.cached_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        self._split(1 + seed)  # the same fresh seed as ``noisy``, in pieces
        self.split_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        self._clean()
        self.clean_s.append(time.perf_counter() - start)

    def row(self) -> dict[str, float]:
        """Median examples per second of the noisy and the clean pass."""
        noisy = self.examples / statistics.median(self.noisy_s)
        cached = self.examples / statistics.median(self.cached_s)
        plain = self.examples / statistics.median(self.clean_s)
        split = self.examples / statistics.median(self.split_s)
        return {
            "batch": self.batch,
            "pieces": self.pieces,
            "noisy": noisy,
            "cached": cached,
            "split": split,
            "split_pieces": self.split.pieces,
            "clean": plain,
        }


def zoo_model(name: str, examples: int) -> tuple[Path, str]:
    """The architecture and its random inputs, as ``bench/plan_time.py`` builds them."""
    from plan_time import _cache, _zoo_model

    folder = _cache() / "plan_time"
    folder.mkdir(parents=True, exist_ok=True)
    args = _zoo_model(name, examples, folder)
    return Path(args[0]), args[2]


def _rate(per_s: float) -> str:
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


def write(rows: list[dict[str, float]], args: argparse.Namespace) -> None:
    best = max(rows, key=lambda r: r["noisy"])
    kept = max(rows, key=lambda r: r["cached"])
    lines = [
        "# Throughput against batch size",
        "",
        f"Written by `bench/batch_size.py` on {dt.date.today()}: {machine()}. {versions()}.",
        f"Model `{args.model.name}`, data `{Path(args.data).name}`, memory budget "
        f"{args.memory_mb} MB, uniform N = 16, median of {args.rounds} rounds, noisy and "
        "clean interleaved. Command: `python bench/batch_size.py " + " ".join(sys.argv[1:]) + "`.",
        "",
        "| batch | pieces | noisy ex/s | noisy, kept draws ex/s | noisy, in pieces ex/s "
        "| in pieces / noisy time | clean ex/s | noisy/clean time |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['batch']:.0f} | {r['pieces']:.0f} | {_rate(r['noisy'])} | {_rate(r['cached'])} "
            f"| {_rate(r['split'])} ({r['split_pieces']:.0f}) | {r['noisy'] / r['split']:.2f}× "
            f"| {_rate(r['clean'])} | {r['clean'] / r['noisy']:.2f}× |"
            for r in rows
        ),
        "",
        f"`analogc compile` (`--batch-size 256`, memory budget 512 MB) runs batches of "
        f"{args.default_batch} on this model. Fastest here: fresh draws at batch {best['batch']:.0f} "
        f"({best['noisy'] / rows[-1]['noisy']:.2f}× batch {rows[-1]['batch']:.0f}); kept draws "
        f"at batch {kept['batch']:.0f} ({kept['cached'] / rows[-1]['cached']:.2f}×).",
        "",
    ]
    out = args.out / f"batch_size-{args.model.stem}.md"
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEMO)
    parser.add_argument("--data", default="demo:calib")
    parser.add_argument("--sizes", default="8,16,32,64,128,256")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--zoo",
        choices=("resnet50", "bert"),
        help="the ResNet-50 or BERT-base architecture (models/zoo.py) on --examples random inputs",
    )
    parser.add_argument("--examples", type=int, default=16, help="inputs for --zoo")
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULT_MEMORY_BUDGET >> 20,
        help="memory budget of one noisy run (compile's default: 512); raise it to time "
        "batches the default would lower",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument("--smoke", action="store_true", help="two sizes, two rounds (CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.rounds = "8,32", 2
    np.seterr(all="ignore")
    if args.zoo:
        args.model, args.data = zoo_model(args.zoo, args.examples)
    sizes = [int(s) for s in args.sizes.split(",")]
    contenders = [
        Contender(args.model, args.data, size, threads=args.threads, memory_mb=args.memory_mb)
        for size in sizes
    ]
    order = np.random.default_rng(0)
    for r in range(args.rounds):  # every size each round, in a new order: drift hits all alike
        for i in order.permutation(len(contenders)):
            contenders[i].round(seed=r)
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
    rows = [c.row() for c in contenders]
    first = contenders[0].calibrated
    args.default_batch = fit_batch_size(first.loaded.model, first.names, 256, DEFAULT_MEMORY_BUDGET)
    write(rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
