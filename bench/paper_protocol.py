"""The paper's experiment on real models: uniform against per-layer precision, same targets.

Garg et al. (arXiv 2102.06365) report, for per-layer ("dynamic") precision against the same
precision in every layer at equal accuracy, energy savings of up to 89% (ResNet-50) and 24%
(BERT), and 2.7 / 1.6 aJ/MAC for a shot-noise-limited optical network at < 2% accuracy loss.
ImageNet and their checkpoints cannot be downloaded here, so this bench runs the same protocol
on real trained models that packages ship:

- ``digits_cnn`` and ``digits_resnet``: trained on scikit-learn's digits (``models/digits.py``);
  metric: top-1 accuracy; targets: clean − 2 points and clean − 1 point.
- ``minilm``: the pretrained 6-layer BERT encoder all-MiniLM-L6-v2 (``models/minilm.py``) on
  sentences of CPython's documentation; metric: nearest-neighbour retrieval top-1 (each noisy
  embedding must find its own clean one among all of them), same 2- and 1-point targets; the
  cosine similarity to the clean embeddings is reported beside it.

For each model, noise model (``optical-shot``, ``electronic-thermal``, ``weight-noise``) and
target, ``analogc.pipeline.compile_model`` finds the uniform baseline and searches per-layer
repeats against the same acceptance rule; this script records the saving, Ē (photons/MAC and
aJ/MAC for shot noise), the wall time and the noisy evaluations used, then scores both plans
on held-out data. Run ``python bench/paper_protocol.py`` (about half an hour on two cores; the
MiniLM model must have been built, see ``models/README.md``), or ``--smoke`` for CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from common import machine, versions

from analogc.calibrated import CalibratedModel, open_model
from analogc.hardware import load_hardware
from analogc.inputs import load_data, resolve_metric
from analogc.models import metrics as model_metrics
from analogc.models.cache import cache_dir
from analogc.passes import LayerPlan
from analogc.pipeline import compile_model
from analogc.runtime.data import Dataset
from analogc.runtime.metrics import METRICS
from analogc.runtime.stats import mean_ci95
from analogc.search import SearchSettings

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "models"
RESULTS = HERE / "results"
NOISES = ("optical-shot", "electronic-thermal", "weight-noise")
TARGETS = (0.02, 0.01)  # absolute drops: clean − 2 points, clean − 1 point
HELD_OUT_SEED0 = 1000  # held-out noise seeds start here (distinct from search/validation)
PAPER = {"savings": "89% (ResNet-50, ImageNet), 24% (BERT, MNLI)", "aj": "2.7 / 1.6 aJ/MAC"}

Scorer = Callable[[Sequence[np.ndarray], Sequence[np.ndarray], "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True)
class Budget:
    """How much work one model gets (recorded in the results)."""

    examples: int
    trials: int
    seeds: int
    validation_seeds: int
    held_out_seeds: int


@dataclass(frozen=True)
class ModelSpec:
    """One real model: its file, data, metric and the extra held-out scores to report."""

    key: str
    title: str
    path: Path
    calib: Path
    test: Path
    metric: str
    held_out: Mapping[str, Scorer]
    budget: Budget
    metric_label: str = "accuracy"
    short: str = ""
    build_hint: str = ""


def _accuracy(noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: Any) -> Any:
    return METRICS["accuracy"].score(noisy, clean, labels)


def _cosine(noisy: Sequence[np.ndarray], clean: Sequence[np.ndarray], labels: Any) -> Any:
    return METRICS["cosine"].score(noisy, clean, labels)


def specs(smoke: bool) -> dict[str, ModelSpec]:
    """The models, with full or smoke-sized budgets."""
    digits = Budget(examples=300, trials=100, seeds=8, validation_seeds=16, held_out_seeds=16)
    minilm = Budget(examples=128, trials=16, seeds=4, validation_seeds=8, held_out_seeds=4)
    if smoke:
        digits = Budget(examples=64, trials=6, seeds=2, validation_seeds=2, held_out_seeds=2)
        minilm = Budget(examples=16, trials=4, seeds=2, validation_seeds=2, held_out_seeds=2)
    out = {
        name: ModelSpec(
            key=name,
            title=title,
            path=MODELS / f"{name}.onnx",
            calib=MODELS / "digits_calib.npz",
            test=MODELS / "digits_test.npz",
            metric="accuracy",
            held_out={"accuracy": _accuracy},
            budget=digits,
            short=title.removeprefix("digits "),
        )
        for name, title in (("digits_cnn", "digits CNN"), ("digits_resnet", "digits ResNet"))
    }
    out["minilm"] = ModelSpec(
        key="minilm",
        title="MiniLM-L6 (BERT, 6 × 384)",
        path=cache_dir() / "minilm_l6_s32.onnx",
        calib=MODELS / "minilm_calib.npz",
        test=MODELS / "minilm_test.npz",
        metric="analogc.models.metrics:retrieval_top1",
        held_out={"retrieval": model_metrics.retrieval_top1, "cosine": _cosine},
        budget=minilm,
        metric_label="retrieval top-1",
        short="MiniLM",
        build_hint="build it with `python models/minilm.py` (see bench/README.md) in an environment with the "
        '`models` extra (`pip install torch==2.13.0 -e ".[models]"`)',
    )
    # Not in the default set: the same model searched on cosine similarity itself (a much
    # stricter fidelity than retrieval); run with --models minilm_cosine --tag minilm-cosine.
    out["minilm_cosine"] = replace(
        out["minilm"],
        key="minilm_cosine",
        title="MiniLM-L6, cosine metric",
        metric="cosine",
        metric_label="cosine",
        short="MiniLM (cos)",
    )
    return out


DEFAULT_MODELS = ("digits_cnn", "digits_resnet", "minilm")


def load_split(spec: ModelSpec, path: Path) -> Dataset:
    """The first ``examples`` of a split, checked against the model's inputs."""
    model = open_model(spec.path).model
    return load_data(path, model).head(spec.budget.examples)


# --------------------------------------------------------------------------------------------
# One run: compile (uniform baseline + search) at one target


def compile_run(
    spec: ModelSpec, noise: str, target: float, calib: Dataset, workdir: Path
) -> dict[str, Any]:
    """compile_model in a fresh folder (no resumed study), reduced to the protocol's figures."""
    out_dir = workdir / f"{spec.key}-{noise}-{target:g}"
    shutil.rmtree(out_dir, ignore_errors=True)
    b = spec.budget
    settings = SearchSettings(
        trials=b.trials, seeds=b.seeds, validation_seeds=b.validation_seeds, seed=0
    )
    start = time.perf_counter()
    report = compile_model(
        spec.path,
        hardware=noise,
        data=calib,
        output_dir=out_dir,
        metric=spec.metric,
        max_drop=target,
        search=settings,
        batch_size=len(calib),  # one batch: an evaluation is one pass; retrieval sees all
        plots=False,
    )
    wall = time.perf_counter() - start
    (out_dir / f"{spec.path.stem}.analog.onnx").unlink(missing_ok=True)  # large; not needed
    return summarise(report.document, wall)


def summarise(d: Mapping[str, Any], wall: float) -> dict[str, Any]:
    """The figures the protocol reports, from a compile report."""
    uni, dyn = d["uniform"], d["dynamic"]
    # Run-dependent figures (timing, evaluation counts) live under "run" in current reports.
    run = d.get("run") or {"timing": d["timing"], "search": d["search"]}
    return {
        "clean": d["metric"]["clean"],
        "allowed_drop": d["budget"]["allowed_drop"],
        "rule": d["budget"]["rule"],
        "uniform_repeats": uni["repeats"],
        "uniform_feasible": uni["feasible"],
        "uniform_energy": uni["energy_per_mac"],
        "uniform_aj": uni.get("attojoules_per_mac"),
        "uniform_metric": uni["evaluation"]["mean"],
        "uniform_ci95": uni["evaluation"]["ci95"],
        "dynamic_energy": dyn["energy_per_mac"],
        "dynamic_aj": dyn.get("attojoules_per_mac"),
        "dynamic_metric": dyn["evaluation"]["mean"],
        "dynamic_ci95": dyn["evaluation"]["ci95"],
        "dynamic_passes_per_mac": dyn["passes_per_mac"],
        "saving": d["saving"],
        "budget_met": d["budget_met"],
        "repeats": {row["name"]: row["repeats"] for row in d["layers"]},
        "r_x": {row["name"]: row["r_x"] for row in d["layers"]},
        "layers": len(d["layers"]),
        "analog_macs": d["macs"]["analog"],
        "evaluations": run["search"]["evaluations"],
        "trials": d["search"]["trials"],
        "search_s": run["timing"]["search_s"],
        "compile_s": run["timing"]["total_s"],
        "wall_s": wall,
        "energy_unit": d["hardware"]["energy_unit"],
    }


# --------------------------------------------------------------------------------------------
# Held-out scores of both plans


def held_out(
    spec: ModelSpec,
    noise: str,
    test: Dataset,
    runs: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Score each run's uniform and searched plans on the test split, fresh noise seeds.

    One CalibratedModel serves every run of this (model, noise) pair: calibration ranges come from
    the calibration split (the plan's ``r_x``), only the clean reference is the test split's.
    """
    metric = resolve_metric(spec.metric, test)
    bench = CalibratedModel(
        open_model(spec.path),
        load_hardware(noise),
        test,
        metric=metric,
        batch_size=len(test),
        saved={name: LayerPlan(r_x=r_x) for name, r_x in runs[0]["r_x"].items()},
    )
    seeds = range(HELD_OUT_SEED0, HELD_OUT_SEED0 + spec.budget.held_out_seeds)
    clean = {
        name: _score(fn, bench, bench.evaluator.clean_outputs) for name, fn in spec.held_out.items()
    }
    out = []
    for run in runs:
        plans = {"uniform": run["uniform_repeats"], "dynamic": run["repeats"]}
        scores: dict[str, Any] = {"clean": clean}
        for label, repeats in plans.items():
            scales = bench.simulator.scales(repeats)
            values = {name: [] for name in spec.held_out}
            for seed in seeds:
                outputs = bench.evaluator.outputs(scales, seed)
                for name, fn in spec.held_out.items():
                    values[name].append(_score(fn, bench, outputs))
            scores[label] = {name: mean_ci95(np.array(v)) for name, v in values.items()}
        out.append(scores)
    return out


def _score(fn: Scorer, bench: CalibratedModel, outputs: Sequence[Sequence[np.ndarray]]) -> float:
    """Mean per-example score over the batches (the evaluator's own batching)."""
    ev = bench.evaluator
    parts = [
        np.asarray(fn(out, ref, labels), np.float64)
        for out, ref, labels in zip(outputs, ev.clean_outputs, ev.labels, strict=True)
    ]
    return float(np.concatenate(parts).mean())


# --------------------------------------------------------------------------------------------
# Report


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def metric_cell(mean: float, ci: float, unit: str = "%") -> str:
    """Mean ± 95% CI half-width: in % for fractions, else as is (cosine)."""
    if unit == "%":
        return f"{100 * mean:.2f}% ± {100 * ci:.2f}"
    return f"{mean:.4f} ± {ci:.4f}"


def summary(rows: Sequence[dict[str, Any]], used: Mapping[str, ModelSpec]) -> list[str]:
    """The table to cite: saving per model, noise and target; shot-noise energy per MAC."""
    noises = list(dict.fromkeys(r["noise"] for r in rows))
    targets = sorted({r["target"] for r in rows}, reverse=True)
    cols = [(n, t) for n in noises for t in targets]
    head = " | ".join(f"{n} −{100 * t:g} pt" for n, t in cols)
    lines = [
        f"| model | metric (clean) | {head} | optical-shot aJ/MAC, uniform → per-layer |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    for key in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == key]
        by = {(r["noise"], r["target"]): r for r in mine}
        cells = [pct(by[c]["saving"]) if c in by else "-" for c in cols]
        shot = [
            f"{num(r['uniform_aj'], 3)} → {num(r['dynamic_aj'], 3)} (−{100 * r['target']:g} pt)"
            for r in mine
            if r["noise"] == "optical-shot"
        ]
        metric = f"{used[key].metric_label} ({_clean_text(mine[0]['clean'], key, used)})"
        row = f"| {used[key].title} | {metric} | {' | '.join(cells)} | {'; '.join(shot) or '-'} |"
        lines.append(row)
    return lines


def _clean_text(value: float, key: str, used: Mapping[str, ModelSpec]) -> str:
    return f"{value:.4f}" if used[key].metric == "cosine" else pct(value, 2)


def headline(rows: Sequence[dict[str, Any]], used: Mapping[str, ModelSpec]) -> list[str]:
    """Every run: baseline, search, metrics on fresh seeds, evaluations and wall time."""
    lines = [
        "| model | noise | target | clean | uniform N | uniform Ē | searched Ē | saving "
        "| uniform metric | searched metric | evals | wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        energy = " ph" if r["energy_unit"] == "photons" else ""
        unit = "" if used[r["model"]].metric == "cosine" else "%"
        saving = pct(r["saving"]) if r["saving"] is not None else "n/a (uniform infeasible)"
        lines.append(
            f"| {r['title']} | {r['noise']} | −{100 * r['target']:g} pt "
            f"| {_clean_text(r['clean'], r['model'], used)} "
            f"| {r['uniform_repeats']} | {num(r['uniform_energy'], 4)}{energy} "
            f"| {num(r['dynamic_energy'], 4)}{energy} | **{saving}** "
            f"| {metric_cell(r['uniform_metric'], r['uniform_ci95'], unit)} "
            f"| {metric_cell(r['dynamic_metric'], r['dynamic_ci95'], unit)} "
            f"| {r['evaluations']} | {r['wall_s']:.0f} s |"
        )
    return lines


def shot_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | target | uniform photons/MAC | uniform aJ/MAC | searched photons/MAC "
        "| searched aJ/MAC | saving |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["noise"] != "optical-shot":
            continue
        lines.append(
            f"| {r['title']} | −{100 * r['target']:g} pt | {num(r['uniform_energy'], 4)} "
            f"| {num(r['uniform_aj'], 3)} | {num(r['dynamic_energy'], 4)} "
            f"| {num(r['dynamic_aj'], 3)} | {pct(r['saving'])} |"
        )
    return lines


def held_out_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | noise | target | score | clean | uniform | searched |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        h = r.get("held_out")
        if not h:
            continue
        for name, clean in h["clean"].items():
            unit = "" if name == "cosine" else "%"
            u, s = h["uniform"][name], h["dynamic"][name]
            clean_text = f"{clean:.4f}" if unit == "" else pct(clean, 2)
            lines.append(
                f"| {r['title']} | {r['noise']} | −{100 * r['target']:g} pt | {name} "
                f"| {clean_text} | {metric_cell(*u, unit=unit)} | {metric_cell(*s, unit=unit)} |"
            )
    return lines


def settings_lines(used: Mapping[str, ModelSpec], notes: Sequence[str]) -> list[str]:
    lines = [
        "| model | file | calibration / search data | held-out data | trials | search seeds "
        "| validation seeds | held-out seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in used.values():
        b = spec.budget
        lines.append(
            f"| {spec.title} | `{spec.path.name}` | first {b.examples} of `{spec.calib.name}` "
            f"| first {b.examples} of `{spec.test.name}` | {b.trials} | {b.seeds} "
            f"| {b.validation_seeds} | {b.held_out_seeds} |"
        )
    return lines + [""] + [f"- {n}" for n in notes]


def render(
    rows: Sequence[dict[str, Any]], meta: Mapping[str, Any], used: Mapping[str, ModelSpec]
) -> str:
    """The whole markdown file: headline table first, so it can be cited as is."""
    notes = [
        "Targets are absolute drops of the metric against the clean model on the same data "
        "(2 and 1 points). A plan is accepted when mean drop + 1.645·SE ≤ target over the "
        "search seeds (one-sided 95%), for the uniform baseline and the search alike.",
        "Uniform N: the smallest N, the same in every layer, that is accepted. Saving = "
        "1 − Ē_searched / Ē_uniform. Ē is per MAC in the preset's unit: photons (ph) for "
        "`optical-shot` (1 photon at 1550 nm = 0.128 aJ), passes of e1 = 1 otherwise.",
        "Uniform / searched metric: mean ± 95% CI over fresh validation seeds (not the "
        "search seeds) on the calibration data. evals: noisy evaluations the search used "
        "(one evaluation = one noise seed over the whole calibration set); the validation "
        "adds 2 × validation seeds. wall: the whole `compile_model` call.",
    ]
    if any(used[r["model"]].metric.endswith("retrieval_top1") for r in rows):
        notes.append(
            "MiniLM metric: retrieval top-1 within all calibration sentences (is each noisy "
            "embedding's nearest clean embedding, by cosine, its own sentence's?). Cosine "
            "similarity to the clean embeddings is in the held-out table."
        )
    notes += _fidelity_notes(rows, used)
    if any(r["uniform_repeats"] == 1 for r in rows):
        notes.append(
            "Repeats are integers ≥ 1: when N = 1 everywhere already meets the target, there "
            "is nothing to save (saving 0)."
        )
    out = [
        "# Paper protocol: uniform against per-layer precision on real models",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Date: {meta['date']}; {meta['versions']}  ",
        f"Total wall time: {meta['total_s'] / 60:.1f} min",
        "",
        "## Summary: energy saved by per-layer precision against the best uniform precision",
        "",
        *summary(rows, used),
        "",
        "Same accuracy target for both (clean − 2 or − 1 points of the metric, accepted on a "
        "one-sided 95% bound over noise seeds). "
        f"The paper's figures, for comparison: savings {PAPER['savings']}; shot-noise-limited "
        f"optics at < 2% loss: {PAPER['aj']} (ResNet-50 / BERT).",
        "",
        f"![savings and energy]({meta.get('stem', 'paper_protocol')}.png)",
        "",
        "## All runs",
        "",
        *headline(rows, used),
        "",
        "## Shot noise (optical-shot): energy per MAC",
        "",
        *shot_table(rows),
        "",
        "## Held-out data (plans from the calibration data, scored on the test split)",
        "",
        *held_out_table(rows),
        "",
        "## Settings",
        "",
        *settings_lines(used, notes),
    ]
    if meta.get("skipped"):
        out += ["", "## Skipped", "", *[f"- {s}" for s in meta["skipped"]]]
    return "\n".join(out) + "\n"


def _fidelity_notes(rows: Sequence[dict[str, Any]], used: Mapping[str, ModelSpec]) -> list[str]:
    """Say how close the embeddings stay when the search metric is not cosine itself."""
    cos = [
        r["held_out"][label]["cosine"][0]
        for r in rows
        if used[r["model"]].metric != "cosine"
        and "cosine" in r.get("held_out", {}).get("clean", {})
        for label in ("uniform", "dynamic")
    ]
    if not cos:
        return []
    return [
        "Retrieval top-1 is a lenient fidelity: at the plans that keep it within the target, "
        f"the held-out embeddings' mean cosine similarity to the clean ones is only "
        f"{min(cos):.2f}–{max(cos):.2f}. `--models minilm_cosine` searches on cosine itself "
        "(results in `paper_protocol-minilm-cosine.md` where it was run)."
    ]


def plot(rows: Sequence[dict[str, Any]], path: Path, used: Mapping[str, ModelSpec]) -> None:
    """Savings per model × noise at each target, and shot-noise aJ/MAC uniform vs searched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    _plot_savings(ax1, rows, used)
    _plot_shot(ax2, rows, used)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_savings(ax: Any, rows: Sequence[dict[str, Any]], used: Mapping[str, ModelSpec]) -> None:
    groups = list(dict.fromkeys((r["model"], r["noise"]) for r in rows))
    targets = sorted({r["target"] for r in rows}, reverse=True)
    width = 0.8 / max(len(targets), 1)
    by = {(r["model"], r["noise"], r["target"]): r for r in rows}
    for i, target in enumerate(targets):
        values = [100 * (by.get((*g, target), {}).get("saving") or 0.0) for g in groups]
        xs = np.arange(len(groups)) + (i - (len(targets) - 1) / 2) * width
        ax.bar(xs, values, width, label=f"target: clean − {100 * target:g} pt")
    ax.set_xticks(np.arange(len(groups)))
    labels = [f"{used[m].short}\n{n}" for m, n in groups]
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("energy saving vs uniform (%)")
    ax.set_title("per-layer vs uniform precision, same target")
    ax.legend(fontsize=8)


def _plot_shot(ax: Any, rows: Sequence[dict[str, Any]], used: Mapping[str, ModelSpec]) -> None:
    import matplotlib.ticker

    shot = [r for r in rows if r["noise"] == "optical-shot" and r["uniform_aj"] is not None]
    xs = np.arange(len(shot))
    ax.bar(xs - 0.2, [r["uniform_aj"] for r in shot], 0.4, label="uniform")
    ax.bar(xs + 0.2, [r["dynamic_aj"] for r in shot], 0.4, label="per-layer (searched)")
    ax.set_yscale("log")
    ax.set_xticks(xs)
    labels = [f"{used[r['model']].short}\n−{100 * r['target']:g} pt" for r in shot]
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("aJ per MAC (1550 nm)")
    ax.set_title("shot-noise-limited optics: energy per MAC")
    ax.legend(fontsize=8)


# --------------------------------------------------------------------------------------------
# Driver


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny budgets: seconds, for CI")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated; default: digits and MiniLM (smoke: digits_resnet)",
    )
    parser.add_argument("--noise", default=",".join(NOISES), help="comma-separated presets")
    parser.add_argument("--targets", default=",".join(f"{t:g}" for t in TARGETS))
    parser.add_argument("--tag", default="", help="suffix of the output files' names")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="compile outputs (default: cache)"
    )
    parser.add_argument(
        "--require-all", action="store_true", help="fail instead of skipping a missing model"
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="re-render the report from a results JSON"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show analogc's progress log")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    stem = f"paper_protocol-{args.tag}" if args.tag else "paper_protocol"
    if args.render:
        doc = json.loads(args.render.read_text())
        runs = doc.pop("runs")
        write(args.out, runs, {**doc, "stem": stem}, used_specs(doc))
        print(f"wrote {args.out / (stem + '.md')}")
        return 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    all_specs = specs(args.smoke)
    default = "digits_resnet" if args.smoke else ",".join(DEFAULT_MODELS)
    keys = [k.strip() for k in (args.models or default).split(",") if k.strip()]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    used: dict[str, ModelSpec] = {}
    skipped: list[str] = []
    for key in keys:
        spec = all_specs[key]
        if not spec.path.exists():
            message = f"{spec.title}: {spec.path} is missing; {spec.build_hint}"
            if args.require_all:
                print(message, file=sys.stderr)
                return 2
            print(f"skipping {message}", flush=True)
            skipped.append(message)
            continue
        used[key] = spec
        workdir = args.workdir or cache_dir() / "bench-paper"
        rows += run_model(spec, _split(args.noise, str), _split(args.targets, float), workdir)
    meta = {
        "command": " ".join(["python bench/paper_protocol.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "date": dt.date.today().isoformat(),
        "versions": versions(),
        "total_s": time.perf_counter() - start,
        "smoke": args.smoke,
        "skipped": skipped,
        "budgets": {k: asdict(s.budget) for k, s in used.items()},
        "stem": stem,
    }
    write(args.out, rows, meta, used)
    print(f"done in {meta['total_s'] / 60:.1f} min; wrote {args.out / (stem + '.md')}")
    return 0


def _split(text: str, kind: Callable[[str], Any]) -> list[Any]:
    return [kind(part.strip()) for part in text.split(",") if part.strip()]


def used_specs(doc: Mapping[str, Any]) -> dict[str, ModelSpec]:
    """The specs behind a results JSON, with the budgets it recorded."""
    all_specs = specs(bool(doc.get("smoke")))
    return {
        key: replace(all_specs[key], budget=Budget(**budget))
        for key, budget in doc["budgets"].items()
    }


def run_model(
    spec: ModelSpec, noises: Sequence[str], targets: Sequence[float], workdir: Path
) -> list[dict[str, Any]]:
    """Every noise model and target for one model, then the held-out scores."""
    calib, test = load_split(spec, spec.calib), load_split(spec, spec.test)
    rows = []
    for noise in noises:
        runs = []
        for target in targets:
            print(f"{spec.title} · {noise} · clean − {100 * target:g} pt ...", flush=True)
            run = compile_run(spec, noise, target, calib, workdir)
            saving = "n/a" if run["saving"] is None else f"{100 * run['saving']:.1f}%"
            print(
                f"  uniform N={run['uniform_repeats']} Ē={run['uniform_energy']:.4g}, "
                f"searched Ē={run['dynamic_energy']:.4g}, saving {saving}, "
                f"{run['evaluations']} evals, {run['wall_s']:.0f} s",
                flush=True,
            )
            runs.append(
                {**run, "model": spec.key, "title": spec.title, "noise": noise, "target": target}
            )
        t0 = time.perf_counter()
        for run, scores in zip(runs, held_out(spec, noise, test, runs), strict=True):
            run["held_out"] = scores
        print(f"  held-out scores: {time.perf_counter() - t0:.0f} s", flush=True)
        rows += runs
    return rows


def write(
    out: Path,
    rows: Sequence[dict[str, Any]],
    meta: Mapping[str, Any],
    used: Mapping[str, ModelSpec],
) -> None:
    """``<stem>.json`` (every figure), ``<stem>.png`` and ``<stem>.md``."""
    stem = meta["stem"]
    out.mkdir(parents=True, exist_ok=True)
    slim = [{k: v for k, v in r.items() if k != "r_x"} for r in rows]
    (out / f"{stem}.json").write_text(json.dumps({**meta, "runs": slim}, indent=1) + "\n")
    plot(rows, out / f"{stem}.png", used)
    (out / f"{stem}.md").write_text(render(rows, meta, used))


if __name__ == "__main__":
    raise SystemExit(main())
