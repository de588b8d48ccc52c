"""The Python API behind every CLI command: inspect, compile, evaluate, strip."""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import logging
import platform
import re
import time
from collections.abc import Collection, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import onnx

from analogc import __version__
from analogc.budget import Acceptance, Budget
from analogc.calibrated import CalibratedModel, LoadedModel, load_model_proto, open_model
from analogc.errors import ConfigError, DataError, ModelError
from analogc.hardware import HardwareConfig, load_hardware
from analogc.passes import annotate, read_plan, restore_weights, save_model, strip
from analogc.passes.metadata import META_PREFIX, set_model_meta
from analogc.passes.model_io import load_model, write_bytes_atomic
from analogc.passes.observed_shapes import unresolved_tensors
from analogc.plots import precision_plot, tradeoff_plot
from analogc.report import Report
from analogc.run_time_shapes import resolve_run_time_shapes
from analogc.runtime.data import (
    Dataset,
    load_directory,
    load_npz,
    load_reader,
    synthesize,
    validate,
)
from analogc.runtime.functions import FunctionLibrary
from analogc.runtime.inputs import InputLayout
from analogc.runtime.metrics import METRICS, Metric, custom_metric, default_metric
from analogc.search import SearchResult, SearchSettings, run_search

log = logging.getLogger(__name__)

HARDWARE_KEY = META_PREFIX + "hardware"
DEMO_MODEL = "digits_resnet.onnx"
READER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # module.path:function
DEMO_DATA = {"demo:calib": "digits_calib.npz", "demo:test": "digits_test.npz"}


def demo_file(name: str) -> Path:
    """A file shipped in ``analogc.models`` (the demo model and its data)."""
    path = Path(str(resources.files("analogc.models").joinpath(name)))
    if not path.exists():
        raise ModelError(f"demo file {name} is missing from the installation ({path})")
    return path


def load_data(
    data: str | Path | Dataset | None,
    model: onnx.ModelProto,
    *,
    examples: int = 64,
    seed: int = 0,
    batch_axes: Mapping[str, int | None] | None = None,
    values: Mapping[str, object] | None = None,
    feeds: bool = False,
) -> Dataset:
    """Resolve ``--data``: an .npz, a folder, a reader ``module:function``,
    ``demo:calib``/``demo:test``, a Dataset, or None (synthetic).

    Args:
        batch_axes: ``--batch-axis``: input name -> batch axis, or None to hold it fixed
            (default: from the model's symbolic dimensions, see
            :func:`analogc.runtime.inputs.infer_batch_axes`).
        values: ``--set``: values of inputs held fixed (a sample rate), parsed by dtype.
        feeds: each .npz of a folder, or each batch of a reader, is one complete feed.
    """
    layout = InputLayout.of(model, batch_axes=batch_axes, values=values)
    static = layout.static_batch
    dataset = _load_data(
        data, layout, overridden=set(batch_axes or {}), examples=examples, seed=seed, feeds=feeds
    )
    return dataset.with_static_batch(static)


def _load_data(
    data: str | Path | Dataset | None,
    layout: InputLayout,
    *,
    overridden: Collection[str],
    examples: int,
    seed: int,
    feeds: bool,
) -> Dataset:
    specs, axes, fixed = layout.specs, layout.axes, layout.values
    if isinstance(data, Dataset):
        # Axes the Dataset states itself are kept, unless batch_axes names the input.
        chosen = set(overridden) if data.explicit_axes else set(axes)
        wanted = {n: axes[n] if n in chosen else a for n, a in data.batch_axes.items()}
        dataset = data if wanted == data.batch_axes else data.with_batch_axes(wanted)
        dataset = dataset.with_values(fixed)
        validate(dataset, specs)
        return dataset
    if data is None:
        return synthesize(specs, examples=examples, seed=seed, batch_axes=axes, values=fixed)
    text = str(data)
    options: dict[str, Any] = {"axes": axes, "values": fixed}
    if text in DEMO_DATA:
        return load_npz(demo_file(DEMO_DATA[text]), specs, **options)
    path = Path(text)
    if path.is_dir():
        return load_directory(path, specs, feeds=feeds, **options)
    if path.suffix == ".npz" or path.is_file():
        if feeds:
            raise DataError(
                f"{text}: --feeds needs a folder of .npz files (one feed each) or a reader "
                "module:function; one .npz is one feed already"
            )
        return load_npz(path, specs, **options)
    if READER.fullmatch(text) and not path.exists():
        return load_reader(text, specs, feeds=feeds, **options)
    raise DataError(
        f"{text}: no such data file or folder (give an .npz with arrays named like the model inputs, "
        "a folder of .npy/.npz files, a reader module:function, or demo:calib)"
    )


def resolve_metric(name: str, dataset: Dataset) -> Metric:
    if name == "auto":
        return default_metric(dataset.labels is not None)
    if ":" in name:
        return custom_metric(name)
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}; choose from auto, {', '.join(METRICS)}, or module:function"
        )
    metric = METRICS[name]
    if metric.needs_labels and dataset.labels is None:
        raise DataError(
            f"metric {name!r} needs labels: add a 'labels' array to the data, or use --metric agreement"
        )
    return metric


def _inputs(
    loaded: LoadedModel,
    data: str | Path | Dataset | None,
    batch_axes: Mapping[str, int | None] | None,
    values: Mapping[str, object] | None,
    feeds: bool,
    *,
    seed: int,
    batch_size: int,
    threads: int | None,
    only: Collection[str] | None = None,
) -> tuple[LoadedModel, Dataset, dict[str, Any]]:
    """The data laid out by the model's inputs, the model with the shapes it shows, and the
    report's account of both: batch axes, feeds, values held fixed, shapes resolved."""
    dataset = load_data(
        data, loaded.model, seed=seed, batch_axes=batch_axes, values=values, feeds=feeds
    )
    layout = InputLayout.of(loaded.model, batch_axes=batch_axes, values=values)
    settings = layout.settings([f.inputs for f in dataset.feeds])
    for name, used in settings.items():
        source = {"--set": "--set", "data": "the data", "default": "the model's default"}
        log.info("input '%s' = %s (from %s)", name, used["value"], source[str(used["from"])])
    if dataset.fixed or not dataset.joined:
        log.info("data: %s", dataset.describe())
    loaded, resolved = resolve_run_time_shapes(
        loaded, dataset, batch_size=batch_size, threads=threads, only=only
    )
    doc: dict[str, Any] = {
        "batch_axes": dict(sorted(dataset.batch_axes.items())),
        "feeds": None if dataset.joined else len(dataset.feeds),
        "values": settings,
        "resolved_shapes": [op.to_dict() for op in resolved],
    }
    return loaded, dataset, doc


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("onnx", "onnxruntime", "optuna", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "?"
    return out


def _digital_summary(loaded: LoadedModel) -> tuple[list[dict[str, Any]], dict[str, int]]:
    digital = [
        {"name": x.name, "op_type": x.op_type, "reason": x.reason, "macs": x.macs, "where": x.where}
        for x in loaded.discovery.digital
    ]
    macs = {
        "digital": int(sum(x["macs"] or 0 for x in digital)),
        "digital_unknown": sum(1 for x in digital if x["macs"] is None),
    }
    return digital, macs


# -- inspect --------------------------------------------------------------------------------------
def inspect_model(model: str | Path) -> Report:
    """Every matrix-product op of the model: analog or digital (with the reason), D, MACs."""
    loaded = open_model(model)
    rows = [
        {
            "name": x.name,
            "op_type": x.op_type,
            "analog": x.analog,
            "fan_in": x.fan_in,
            "macs": x.macs,
            "operand": x.operand,
            "reason": x.reason,
            "where": x.where,
        }
        for x in loaded.discovery.layers
    ]
    analog = sum(r["macs"] or 0 for r in rows if r["analog"])
    digital = sum(r["macs"] or 0 for r in rows if not r["analog"])
    unknown = [r["name"] for r in rows if r["macs"] is None]
    return Report(
        {
            "command": "inspect",
            "model": {
                "path": str(loaded.path),
                "sha256": loaded.sha256,
                "opset": loaded.opset,
            },
            "layers": rows,
            "macs": {"analog": analog, "digital": digital, "unknown": unknown},
            "run_time_shapes": sorted(unresolved_tensors(loaded.model, loaded.discovery)),
        }
    )


def inspect_text(report: Report) -> str:
    from analogc.report import table

    d = report.data
    rows = [
        [
            r["name"],
            r["op_type"],
            "analog" if r["analog"] else "digital",
            r["fan_in"],
            r["macs"],
            r["operand"] or "",
            r["reason"] or "",
        ]
        for r in d["layers"]
    ]
    text = table(["layer", "op", "runs", "D", "MACs/ex", "2nd operand", "why digital"], rows)
    m = d["macs"]
    total = m["analog"] + m["digital"]
    share = f" ({100 * m['analog'] / total:.1f}% of known MACs)" if total else ""
    text += f"\n\n{sum(r['analog'] for r in d['layers'])} analog ops, {m['analog']:,} analog MACs per example{share}"
    if m["digital"]:
        text += f"; {m['digital']:,} MACs stay digital"
    if m["unknown"]:
        text += (
            f"; MACs of {len(m['unknown'])} ops depend on run-time shapes (known after calibration)"
        )
    waiting = d.get("run_time_shapes") or []
    if waiting:
        text += (
            f"\n{len(waiting)} digital ops lack a shape known before run time "
            f"({', '.join(waiting)}): `analogc compile` takes it from the calibration data"
        )
    return text


# -- compile --------------------------------------------------------------------------------------
def compile_model(
    model: str | Path,
    *,
    hardware: str | Path | HardwareConfig = "optical-shot",
    data: str | Path | Dataset | None = None,
    output_dir: str | Path | None = None,
    repeats: int | None = None,
    metric: str = "auto",
    max_drop: str | float = "1%",
    search: SearchSettings | None = None,
    batch_size: int = 256,
    seed: int = 0,
    threads: int | None = None,
    plots: bool = True,
    batch_axes: Mapping[str, int | None] | None = None,
    values: Mapping[str, object] | None = None,
    feeds: bool = False,
) -> Report:
    """Plan per-layer repeats for ``model`` and write the annotated model and the report.

    Args:
        model: path of the ONNX model (only read).
        hardware: a preset name, a TOML/JSON file, or a :class:`HardwareConfig`.
        data: calibration data (.npz, ``demo:calib``, a Dataset); None synthesises inputs.
        output_dir: where to write; default ``./<model stem>.analogc``.
        repeats: one repeats count for every layer instead of a search.
        metric: ``auto`` (accuracy with labels, else agreement), or a name in ``METRICS``.
        max_drop: allowed metric drop: absolute (``0.01``) or relative (``"1%"``).
        search: search settings (trials, seeds, storage, ...); defaults if None.
        batch_size: examples per onnxruntime run.
        seed: seed of the noise draws baked into the annotated model.
        threads: onnxruntime threads.
        plots: write the trade-off and precision plots.
        batch_axes: input name -> batch axis, or None to hold the input fixed (default: from
            the model's symbolic dimensions).
        values: input name -> value of an input held fixed (a sample rate), like ``--set``.
        feeds: each .npz of a data folder, or each batch of a reader, is one complete feed.

    Returns:
        The report; ``report.return_code`` is 1 when the budget was not met.
    """
    t0 = time.perf_counter()
    model_path = Path(model)
    loaded = open_model(model_path)
    hw = load_hardware(hardware)
    budget = Budget.parse(max_drop)
    settings = search or SearchSettings()
    if repeats is not None and (int(repeats) != repeats or repeats < 1):
        raise ConfigError(f"--repeats must be an integer >= 1, got {repeats}")
    out_dir, out_model = _output_paths(model_path, output_dir)
    loaded, dataset, inputs_doc = _inputs(
        loaded, data, batch_axes, values, feeds, seed=seed, batch_size=batch_size, threads=threads
    )
    if dataset.synthetic:
        log.warning(
            "no --data given: synthesising %d random examples from the input specs; "
            "the metric is agreement with the clean model on random inputs",
            len(dataset),
        )
    metric_obj = resolve_metric(metric, dataset)

    calibrated = CalibratedModel(
        loaded, hw, dataset, metric=metric_obj, batch_size=batch_size, seed=seed, threads=threads
    )
    t_cal = time.perf_counter()
    acceptance = Acceptance(budget.allowed_drop(calibrated.evaluator.clean), settings.confidence)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc

    result = None
    if repeats is None:
        if settings.storage is None:
            settings = _with(settings, storage=f"sqlite:///{(out_dir / 'study.db').resolve()}")
        if settings.study_name is None:
            settings = _with(
                settings,
                study_name=_study_name(
                    model_path, loaded, hw, dataset, metric_obj, budget, settings, batch_size
                ),
            )
        result = run_search(
            calibrated, acceptance, settings, on_step=lambda msg: log.info("%s", msg)
        )
        chosen = result.repeats
        uniform_n = result.uniform_repeats
    else:
        chosen = dict.fromkeys(calibrated.names, int(repeats))
        uniform_n = int(repeats)
    t_search = time.perf_counter()

    fresh = settings.fresh_seeds
    evaluation = calibrated.evaluate(chosen, fresh)
    dyn_acc = calibrated.account(chosen)
    budget_met = acceptance.feasible(evaluation) if result is None else result.feasible
    data_doc: dict[str, Any] = {
        "analogc": __version__,
        "command": "compile",
        "mode": "fixed" if result is None else "search",
        "versions": _versions(),
        "model": {"path": str(model_path), "sha256": loaded.sha256, "opset": loaded.opset},
        "hardware": hw.to_dict(),
        "noise": hw.noise.label,
        "data": {
            "source": dataset.source,
            "examples": len(dataset),
            "synthetic": dataset.synthetic,
            "batch_size": calibrated.calibration.batch_size,
            **inputs_doc,
        },
        "metric": {
            "name": metric_obj.name,
            "clean": calibrated.evaluator.clean,
            "unit": metric_obj.unit,
        },
        "budget": {
            "max_drop": str(budget),
            "allowed_drop": acceptance.allowed,
            "rule": acceptance.rule,
            "confidence": acceptance.confidence,
            "seeds": settings.seeds,
        },
    }
    uniform_acc = calibrated.account(uniform_n)
    layers = _layer_rows(calibrated, dyn_acc, uniform_acc, uniform_n, result)
    digital, macs = _digital_summary(loaded)
    data_doc["layers"] = layers
    data_doc["digital"] = digital
    data_doc["macs"] = {"analog": dyn_acc.analog_macs, **macs}
    dyn_doc = {**_totals(dyn_acc.to_dict()), "evaluation": evaluation.to_dict()}
    if result is not None:
        uniform_eval = calibrated.evaluate(uniform_n, fresh)
        trial = next((p for p in result.trials if p.repeats == chosen), None)
        dyn_doc.update(
            search_metric=trial.metric if trial else None,
            margin=trial.margin if trial else None,
            feasible=result.feasible,
        )
        data_doc["uniform"] = {
            **_totals(uniform_acc.to_dict()),
            "repeats": uniform_n,
            "feasible": result.uniform_feasible,
            "evaluation": uniform_eval.to_dict(),
        }
        data_doc["saving"] = (
            1.0 - dyn_acc.energy_per_mac / uniform_acc.energy_per_mac
            if result.uniform_feasible
            else None
        )
        data_doc["analytic"] = {
            "repeats": result.analytic,
            "energy_per_mac": calibrated.energy(result.analytic),
        }
        data_doc["search"] = _search_doc(result, settings)
    data_doc["dynamic"] = dyn_doc
    data_doc["budget_met"] = bool(budget_met)

    # -- outputs, each written atomically; the model last but one, the report last
    plan = calibrated.plan(chosen)
    outputs = {
        "model": str(out_model),
        "report_json": str(out_dir / "report.json"),
        "report_md": str(out_dir / "report.md"),
    }
    if plots and result is not None:
        outputs.update(
            tradeoff_plot=str(out_dir / "tradeoff.png"),
            precision_plot=str(out_dir / "precision.png"),
        )
        _plots(out_dir, calibrated, result, chosen, uniform_n, dyn_acc, uniform_acc, acceptance)
    data_doc["outputs"] = outputs
    del calibrated  # its onnxruntime sessions: memory for the annotated model below
    annotated = copy.deepcopy(loaded.model)
    annotate(annotated, plan, FunctionLibrary(noise=hw.noise, opset=loaded.opset))
    if loaded.scratch is not None:  # weights kept in a scratch file while working come back
        restore_weights(annotated)
    set_model_meta(annotated, HARDWARE_KEY, json.dumps(hw.to_dict()))
    # Everything that differs between two identical runs lives here, and only here.
    data_doc["run"] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "timing": {
            "calibration_s": t_cal - t0,
            "search_s": t_search - t_cal,
            "total_s": time.perf_counter() - t0,
        },
        "search": None
        if result is None
        else {
            "evaluations": result.evaluations,
            "wall_s": result.wall_s,
            "evals_per_s": result.evaluations / result.wall_s if result.wall_s > 0 else None,
        },
    }
    report = Report(data_doc)
    save_model(annotated, out_model)
    write_bytes_atomic(out_dir / "report.md", report.to_markdown().encode())
    write_bytes_atomic(out_dir / "report.json", report.to_json().encode())
    return report


def _output_paths(model_path: Path, output_dir: str | Path | None) -> tuple[Path, Path]:
    """The output folder and annotated model path, refusing to overwrite the input."""
    out_dir = (
        Path(output_dir) if output_dir is not None else Path.cwd() / f"{model_path.stem}.analogc"
    )
    out_model = out_dir / f"{model_path.stem}.analog.onnx"
    if out_model.resolve() == model_path.resolve():
        raise ConfigError(f"output {out_model} would overwrite the input model; choose another -o")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output directory {out_dir} exists and is not a directory")
    return out_dir, out_model


def _layer_rows(
    calibrated: CalibratedModel,
    dyn_acc: Any,
    uniform_acc: Any,
    uniform_n: int,
    result: SearchResult | None,
) -> list[dict[str, Any]]:
    """Per analog layer: what it is, its plan, its noise and precision, uniform vs chosen."""
    rows = []
    for info, acc, uacc in zip(calibrated.layers, dyn_acc.layers, uniform_acc.layers, strict=True):
        row = {
            "name": info.name,
            "op_type": info.op_type,
            "fan_in": info.fan_in,
            "macs": acc.macs,
            "operand": info.operand,
            "r_x": calibrated.base_plan.layers[info.name].r_x,
            "repeats": acc.repeats,
            "energy_per_mac": acc.energy_per_mac,
            "energy_share": acc.energy_share,
            "sigma": acc.sigma,
            "enob": acc.enob,
            "snr_db": acc.snr_db,
            "uniform_repeats": uniform_n,
            "uniform_enob": uacc.enob,
        }
        if result is not None:
            row.update(
                analytic_repeats=result.analytic[info.name],
                sensitivity=result.sensitivity[info.name],
                sensitivity_drop=result.sensitivity_drop[info.name],
            )
        rows.append(row)
    return rows


def _search_doc(result: SearchResult, settings: SearchSettings) -> dict[str, Any]:
    """The study and its outcome (run-dependent measurements go to the report's ``run``)."""
    return {
        "sampler": result.sampler,
        "trials": result.finished_trials,
        "evaluated_trials": len(result.trials),
        "skipped_trials": result.skipped_trials,
        "feasible_trials": sum(1 for p in result.trials if p.feasible),
        "study_name": result.study_name,
        "storage": result.storage,
        "seed": settings.seed,
        "seeds": settings.seeds,
        "validation_seeds": settings.validation_seeds,
        "max_repeats": settings.max_repeats,
        "span": settings.span,
        "pareto": settings.pareto,
        "strategy": settings.strategy,
        "front": [
            {
                "energy_per_mac": p.energy,
                "metric": p.metric,
                "margin": p.margin,
                "repeats": p.repeats,
            }
            for p in result.front
        ],
    }


def _with(settings: SearchSettings, **changes: Any) -> SearchSettings:
    from dataclasses import replace

    return replace(settings, **changes)


def _totals(acc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in acc.items() if k != "layers"}


def _study_name(
    path: Path,
    loaded: LoadedModel,
    hw: HardwareConfig,
    dataset: Dataset,
    metric: Metric,
    budget: Budget,
    settings: SearchSettings,
    batch_size: int,
) -> str:
    """Same command, same study (so a rerun resumes); any setting that changes results, new study."""
    key = json.dumps(
        [
            loaded.sha256,
            hw.to_dict(),
            dataset.fingerprint(),
            metric.name,
            str(budget),
            settings.seeds,
            settings.max_repeats,
            settings.span,
            settings.confidence,
            settings.strategy,
            settings.seed,
            batch_size,
        ],
        sort_keys=True,
        default=str,
    )
    return f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _plots(
    out_dir: Path,
    calibrated: CalibratedModel,
    result: Any,
    chosen: Mapping[str, int],
    uniform_n: int,
    dyn_acc: Any,
    uniform_acc: Any,
    acceptance: Acceptance,
) -> None:
    clean = calibrated.evaluator.clean
    chosen_point = next((p for p in result.trials if p.repeats == dict(chosen)), None)
    uniform_point = next(
        (p for p in result.uniform_curve if p.repeats[calibrated.names[0]] == uniform_n), None
    )
    tradeoff_plot(
        out_dir / "tradeoff.png",
        uniform=[(p.energy, p.metric) for p in result.uniform_curve],
        trials=[(p.energy, p.metric, p.feasible) for p in result.trials if p.source != "inferred"],
        front=[(p.energy, p.metric) for p in result.front],
        chosen=(dyn_acc.energy_per_mac, chosen_point.metric if chosen_point else clean),
        uniform_chosen=(
            uniform_acc.energy_per_mac,
            uniform_point.metric if uniform_point else clean,
        ),
        clean=clean,
        floor=clean - acceptance.allowed,
        unit=calibrated.hardware.energy_unit,
        metric=calibrated.metric.name,
    )
    precision_plot(
        out_dir / "precision.png",
        layers=calibrated.names,
        dynamic=chosen,
        uniform=uniform_n,
        enob={a.name: a.enob for a in dyn_acc.layers},
        enob_uniform={a.name: a.enob for a in uniform_acc.layers},
        energy_share={a.name: a.energy_share for a in dyn_acc.layers},
    )


# -- evaluate -------------------------------------------------------------------------------------
def evaluate_model(
    model: str | Path,
    *,
    data: str | Path | Dataset | None,
    seeds: int = 10,
    metric: str = "auto",
    batch_size: int = 256,
    threads: int | None = None,
    batch_axes: Mapping[str, int | None] | None = None,
    values: Mapping[str, object] | None = None,
    feeds: bool = False,
) -> Report:
    """Metric of an annotated model under its own noise plan: mean ± 95% CI over noise seeds.

    ``batch_axes``, ``values`` and ``feeds`` describe the data as for :func:`compile_model`.
    """
    path = Path(model)
    annotated = load_model(path)
    plan = read_plan(annotated)
    if plan is None:
        raise ModelError(
            f"{path}: carries no analogc plan; evaluate the output of `analogc compile`"
        )
    hw_meta = next((e.value for e in annotated.metadata_props if e.key == HARDWARE_KEY), None)
    hw = (
        HardwareConfig.from_dict(json.loads(hw_meta))
        if hw_meta
        else HardwareConfig(name="from-plan", noise=plan.noise, e1=plan.e1)
    )
    original = copy.deepcopy(annotated)
    strip(original)
    loaded = load_model_proto(
        original, path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )
    loaded, dataset, inputs_doc = _inputs(
        loaded,
        data,
        batch_axes,
        values,
        feeds,
        seed=0,
        batch_size=batch_size,
        threads=threads,
        only=set(plan.layers),
    )
    metric_obj = resolve_metric(metric, dataset)
    missing = [n for n in plan.layers if n not in {x.name for x in loaded.discovery.analog}]
    if missing:
        raise ModelError(
            f"{path}: planned layers {missing} are not analog ops of the stripped model"
        )
    calibrated = CalibratedModel(
        loaded,
        hw,
        dataset,
        metric=metric_obj,
        batch_size=batch_size,
        r_x={n: lp.r_x for n, lp in plan.layers.items()},
        seed=plan.seed,
        threads=threads,
    )
    repeats = {n: lp.repeats for n, lp in plan.layers.items()}
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    evaluation = calibrated.evaluate(repeats, list(range(seeds)))
    acc = calibrated.account(repeats)
    return Report(
        {
            "command": "eval",
            "model": {"path": str(path)},
            "hardware": hw.to_dict(),
            "data": {
                "source": dataset.source,
                "examples": len(dataset),
                "synthetic": dataset.synthetic,
                **inputs_doc,
            },
            "metric": {"name": metric_obj.name, "clean": evaluation.clean, "unit": metric_obj.unit},
            "evaluation": evaluation.to_dict(),
            "dynamic": _totals(acc.to_dict()),
        }
    )


def eval_text(report: Report) -> str:
    d = report.data
    ev = d["evaluation"]
    line = report.eval_line(ev)
    unit = d["hardware"]["energy_unit"]
    energy = f"Ē = {d['dynamic']['energy_per_mac']:.4g} {unit}/MAC"
    if d["dynamic"].get("attojoules_per_mac") is not None:
        energy += f" ({d['dynamic']['attojoules_per_mac']:.4g} aJ/MAC)"
    src = d["data"]["source"]
    text = (
        f"{d['metric']['name']} on {d['data']['examples']} examples ({src}):\n"
        f"  clean  {report.metric_fmt(ev['clean'])}\n  noisy  {line}\n  {energy}"
    )
    return "\n".join([text, *(f"  {x}" for x in report.inputs_lines())])


# -- strip ----------------------------------------------------------------------------------------
def strip_model(model: str | Path, output: str | Path) -> Path:
    """Write the original ops back, keeping the plan as metadata (for hardware toolchains)."""
    path, out = Path(model), Path(output)
    if out.resolve() == path.resolve():
        raise ConfigError(f"output {out} would overwrite the input; choose another -o")
    m = load_model(path)
    if not strip(m).modified:
        raise ModelError(f"{path}: has no ai.analogc ops to strip")
    save_model(m, out)
    return out
