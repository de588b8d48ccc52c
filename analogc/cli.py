"""The ``analogc`` command: a thin click layer over :mod:`analogc.pipeline`.

Exit codes: 0 success; 1 the accuracy budget was not met (the best configuration found is
still written); 2 a usage or input error (one line on stderr); 3 a bug (with its traceback).
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from analogc import __version__
from analogc.budget import FUTILITY, QUANTILES, Quantile
from analogc.errors import AnalogcError
from analogc.hardware import PRESETS
from analogc.report import EXIT_INTERNAL, EXIT_USAGE, CompileReport
from analogc.search import STRATEGIES, SearchSettings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
BATCH_SIZE_HELP = (
    "Examples per onnxruntime run: lowered to fit 512 MiB of activations and noise, and never "
    "more than the data holds (the report gives the size used)."
)


class _Group(click.Group):
    """Turns user errors into one line and exit 2, bugs into a traceback and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AnalogcError as exc:
            if ctx.meta.get("analogc.debug"):
                traceback.print_exc()
            click.echo(f"analogc: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            _interrupted(ctx)
        except Exception as exc:
            if _from_interrupt(exc):
                _interrupted(ctx)
            traceback.print_exc()
            click.echo(
                "analogc: internal error (a bug): please report it with the traceback above",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


def _interrupted(ctx: click.Context) -> None:
    from analogc.workers import stop_heartbeats

    stop_heartbeats()  # a trial's heartbeat left beating would keep the process alive
    click.echo(
        "analogc: interrupted; finished search trials are kept in the study storage", err=True
    )
    ctx.exit(130)


def _from_interrupt(exc: BaseException) -> bool:
    """Whether a Ctrl-C caused ``exc``: Optuna interrupted while it stores a finished trial
    (now more often: trials report every seed) raises an UnboundLocalError from it."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("analogc: %(message)s"))
    root = logging.getLogger("analogc")
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version")
@click.option("--debug", is_flag=True, help="Show tracebacks for user errors too.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Plan and simulate ONNX models on noisy analog hardware.

    analogc finds every MatMul/Gemm/Conv, gives it a noise model (shot, thermal, weight) and a
    precision (repeats: N averaged analog passes divide the noise variance by N), searches the
    per-layer repeats that use the least energy within an accuracy budget, and writes an ONNX
    model that stock onnxruntime runs noisily.

    \b
    Start with:  analogc compile --demo
    """
    ctx.meta["analogc.debug"] = debug


def _assignments(items: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=option)
        out[name.strip()] = value.strip()
    return out


def _batch_axes(items: tuple[str, ...]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name, text in _assignments(items, "--batch-axis").items():
        if text.lower() == "none":
            out[name] = None
            continue
        try:
            out[name] = int(text)
        except ValueError:
            raise click.BadParameter(
                f"{name}={text}: the axis is an integer, or none to hold the input fixed",
                param_hint="--batch-axis",
            ) from None
    return out


def _input_options(command: Any) -> Any:
    """--batch-axis, --set and --feeds: how the data maps onto the model's inputs."""
    command = click.option(
        "--feeds",
        is_flag=True,
        help="Each .npz of a --data folder, or each batch of a reader, is one complete feed, "
        "run as it is (sizes may differ between feeds). Default: chunks joined along the "
        "batch axes.",
    )(command)
    command = click.option(
        "--set",
        "set_values",
        multiple=True,
        metavar="NAME=VALUE",
        help="Hold input NAME at VALUE (parsed by its type) for every batch, e.g. a sample "
        "rate: --set sr=16000. Repeatable.",
    )(command)
    return click.option(
        "--batch-axis",
        "batch_axis",
        multiple=True,
        metavar="NAME=AXIS",
        help="Input NAME's batch axis [default: the axis of the batch symbol the inputs share, "
        "e.g. 1 for state[2, batch, 128]]; NAME=none holds it fixed. Repeatable.",
    )(command)


def _layer_options(command: Any) -> Any:
    """--digital and --pin: per-layer rules after the hardware file's [[layer]] sections."""
    command = click.option(
        "--pin",
        multiple=True,
        metavar="GLOB=N",
        help="Pin the repeats of the analog ops whose node name matches GLOB to N: the search "
        "and the uniform baseline keep them. Repeatable; applied after --digital.",
    )(command)
    return click.option(
        "--digital",
        multiple=True,
        metavar="GLOB",
        help="Keep the analog ops whose node name matches GLOB (e.g. '/fc/*') exact and out of "
        "the analog energy account. Repeatable; applied after the hardware file's [[layer]] "
        "sections.",
    )(command)


def _pins(items: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        pattern, sep, text = item.rpartition("=")
        try:
            n = int(text)
        except ValueError:
            n = 0
        if not sep or not pattern.strip() or n < 1:
            raise click.BadParameter(
                f"{item!r} is not GLOB=N with N an integer >= 1", param_hint="--pin"
            )
        out[pattern.strip()] = n
    return out


@cli.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the JSON document instead of the table."
)
def inspect_cmd(model: Path, as_json: bool) -> None:
    """List the matrix-product ops of MODEL: analog or digital (and why), fan-in D, MACs."""
    from analogc.pipeline import inspect_model
    from analogc.report import inspect_text

    report = inspect_model(model)
    click.echo(report.to_json() if as_json else inspect_text(report))


@cli.command("compile")
@click.argument("model", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--demo", is_flag=True, help="Use the bundled digits ResNet and its calibration data."
)
@click.option(
    "--hardware",
    "-H",
    default="optical-shot",
    show_default=True,
    help=f"Preset ({', '.join(PRESETS)}) or a .toml/.json hardware file.",
)
@click.option(
    "--data",
    "-d",
    help="Calibration data: .npz (arrays named like the inputs, optional 'labels'), a folder of "
    ".npy/.npz files (.npz: chunks, or feeds with --feeds), a reader module:function, or "
    "demo:calib. Without it, random inputs are synthesised.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory [default: ./<model>.analogc].",
)
@click.option(
    "--repeats",
    "-n",
    type=click.IntRange(min=1),
    help="Same repeats in every layer: skip the search.",
)
@click.option(
    "--max-drop",
    default="1%",
    show_default=True,
    help="Allowed metric drop vs the clean model: absolute (0.01, one point of accuracy) or "
    "relative (1%); for --metric sqnr the lowest SQNR allowed, in dB (30dB).",
)
@click.option(
    "--metric",
    default="auto",
    show_default=True,
    help="auto (accuracy with labels; without, agreement with the clean model for class "
    "scores [batch, C], cosine for other outputs; it says which and why), accuracy, "
    "agreement, cosine, sqnr, or module:function returning per-example scores.",
)
@click.option(
    "--trials", default=60, show_default=True, type=click.IntRange(min=1), help="Optuna trials."
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), help="Stop the search after this many seconds."
)
@click.option(
    "--seed", default=0, show_default=True, help="Seed of the sampler and of the model's noise."
)
@click.option(
    "--seeds",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Noise seeds per evaluation (common to all configurations).",
)
@click.option(
    "--validation-seeds",
    default=16,
    show_default=True,
    type=click.IntRange(min=2),
    help="Fresh noise seeds for the final figures of the plan and the uniform baseline, on "
    "every example (on a large model and data set, fewer make the last step shorter).",
)
@click.option(
    "--quantile",
    default="student-t",
    show_default=True,
    type=click.Choice(list(QUANTILES)),
    help="Multiplier of the acceptance bound (mean drop + k·SE): Student's t for the seeds "
    "used (t = 1.895 over 8 seeds at 95%), or the normal's z = 1.645 (optimistic with few seeds).",
)
@click.option(
    "--sequential/--no-sequential",
    default=True,
    show_default=True,
    help="Evaluate a configuration seed by seed and stop once it is clearly over the budget "
    "or clearly within it (off with --pareto); the plan is confirmed on every seed.",
)
@click.option(
    "--futility",
    type=click.FloatRange(0.0, 0.5),
    default=FUTILITY,
    show_default=True,
    help="With --sequential, also stop exploring a configuration (never a uniform one) once "
    "its chance of meeting the budget on every seed falls below this; 0: off.",
)
@click.option(
    "--explore-examples",
    type=click.IntRange(min=0),
    help="Explore on this many of the examples, then confirm the plan and the uniform "
    "baseline on all of them; 0: explore on all [default: a quarter of the data, at least "
    "128, when it holds 256 or more; for accuracy and agreement at least 8 examples' worth "
    "of the budget; all for a module:function metric].",
)
@click.option(
    "--sensitivity-examples",
    type=click.IntRange(min=0),
    help="Measure the per-layer sensitivities (the analytic warm start) on at most this many "
    "of the examples explored on (a layer known within 10% stops sooner); 0: on all "
    "[default: 64 when there are at least 128].",
)
@click.option(
    "--strategy",
    default="tpe",
    show_default=True,
    type=click.Choice(list(STRATEGIES)),
    help="Search strategy: "
    + "; ".join(f"{name}: {s.summary}" for name, s in STRATEGIES.items())
    + ".",
)
@click.option(
    "--pareto", is_flag=True, help="Multi-objective search (NSGA-II): the energy/accuracy front."
)
@click.option("--storage", help="Optuna storage URL [default: sqlite in the output directory].")
@click.option(
    "--study-name",
    help="Study name in the storage [default: derived from model, data and settings].",
)
@click.option(
    "--heartbeat",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds between a worker's heartbeats; the trial of a worker silent for 3 of them "
    "is retried by another worker on the study.",
)
@click.option(
    "--batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help=BATCH_SIZE_HELP,
)
@_input_options
@_layer_options
@click.option("--quiet", "-q", is_flag=True, help="Only the result: no progress, no log lines.")
@click.pass_context
def compile_cmd(
    ctx: click.Context,
    model: Path | None,
    demo: bool,
    hardware: str,
    data: str | None,
    output: Path | None,
    repeats: int | None,
    max_drop: str,
    metric: str,
    trials: int,
    timeout: float | None,
    seed: int,
    seeds: int,
    validation_seeds: int,
    quantile: Quantile,
    sequential: bool,
    futility: float,
    explore_examples: int | None,
    sensitivity_examples: int | None,
    strategy: str,
    pareto: bool,
    storage: str | None,
    study_name: str | None,
    heartbeat: int,
    batch_size: int,
    batch_axis: tuple[str, ...],
    set_values: tuple[str, ...],
    feeds: bool,
    digital: tuple[str, ...],
    pin: tuple[str, ...],
    quiet: bool,
) -> None:
    """Plan per-layer precision for MODEL and write the annotated model and a report.

    \b
    Writes to the output directory:
      <model>.analog.onnx   ai.analogc ops that stock onnxruntime runs with noise
      report.json/.md       per-layer repeats, energy, effective bits; uniform baseline; saving
      report.html           the same as one page, with interactive trade-off and Pareto plots
      tradeoff.png          accuracy vs energy: uniform vs per-layer
      precision.png         per-layer repeats and effective bits
      study.db              the Optuna study (rerun the same command to resume it)

    Exit code 1 when the best configuration found does not meet --max-drop.
    """
    from analogc.inputs import DEMO_MODEL, demo_file
    from analogc.pipeline import compile_model
    from analogc.report import compile_text
    from analogc.settings import CompileSettings

    _setup_logging(quiet)
    if demo:
        if model is not None:
            raise click.UsageError("give either MODEL or --demo, not both")
        model = demo_file(DEMO_MODEL)
        data = data or "demo:calib"
        output = output or Path.cwd() / "digits_resnet.analogc"
    if model is None:
        raise click.UsageError("missing MODEL (or use --demo)")
    search = SearchSettings(
        strategy="nsga2" if pareto else strategy,
        trials=trials,
        timeout=timeout,
        seed=seed,
        seeds=seeds,
        validation_seeds=validation_seeds,
        quantile=quantile,
        sequential=sequential,
        futility=futility,
        explore_examples=explore_examples,
        sensitivity_examples=sensitivity_examples,
        storage=storage,
        study_name=study_name,
        heartbeat_s=heartbeat,
        progress=not quiet,
    )
    settings = CompileSettings(
        hardware=hardware,
        data=data,
        output_dir=output,
        repeats=repeats,
        metric=metric,
        max_drop=max_drop,
        search=search,
        batch_size=batch_size,
        seed=seed,
        batch_axes=_batch_axes(batch_axis),
        values=_assignments(set_values, "--set"),
        feeds=feeds,
        digital=digital,
        pins=_pins(pin),
    )
    report = compile_model(model, settings)
    click.echo(compile_text(report))
    if report.return_code:
        click.echo(f"analogc: {_not_met(report)}", err=True)
    ctx.exit(report.return_code)


def _not_met(report: CompileReport) -> str:
    if report.mode == "static-limited":
        return (
            "no repeats can meet the budget (the terms repeats do not reduce exceed it: "
            "nothing was searched); the plan at the converter floor was written anyway"
        )
    if report.search is None:
        fixed_by = (
            "--repeats"
            if report.layers and not all(x.pinned for x in report.layers)
            else "the pins"
        )
        return (
            f"this plan does not meet the budget ({fixed_by} fixed it: nothing was searched); "
            "it was written anyway"
        )
    return "the budget was NOT met; the configuration closest to it was written (see why: above)"


@cli.command("eval")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data", "-d", required=True, help="Evaluation data (as for compile), e.g. demo:test."
)
@click.option(
    "--seeds", default=10, show_default=True, type=click.IntRange(min=1), help="Noise seeds."
)
@click.option(
    "--metric",
    default="auto",
    show_default=True,
    help="auto, accuracy, agreement, cosine, sqnr, or module:function.",
)
@click.option(
    "--batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help=BATCH_SIZE_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")
@_input_options
def eval_cmd(
    model: Path,
    data: str,
    seeds: int,
    metric: str,
    batch_size: int,
    as_json: bool,
    batch_axis: tuple[str, ...],
    set_values: tuple[str, ...],
    feeds: bool,
) -> None:
    """Metric of an annotated MODEL under its noise plan: mean ± 95% CI over noise seeds.

    Accuracy against the data's 'labels', or top-1 agreement with the clean model without them.
    """
    from analogc.pipeline import evaluate_model
    from analogc.report import eval_text

    _setup_logging(True)
    report = evaluate_model(
        model,
        data=data,
        seeds=seeds,
        metric=metric,
        batch_size=batch_size,
        batch_axes=_batch_axes(batch_axis),
        values=_assignments(set_values, "--set"),
        feeds=feeds,
    )
    click.echo(report.to_json() if as_json else eval_text(report))


@cli.command("strip")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the model with its original ops.",
)
def strip_cmd(model: Path, output: Path) -> None:
    """Give back the original ops of an annotated MODEL, keeping the plan as node metadata."""
    from analogc.pipeline import strip_model

    click.echo(f"wrote {strip_model(model, output)}")


@cli.command("presets")
def presets_cmd() -> None:
    """List the built-in hardware presets: their noise terms, energy and sources."""
    for name, hw in PRESETS.items():
        click.echo(f"{name}: {hw.description}")
        click.echo(f"    terms: {hw.noise.label}; e1 = {hw.e1:g} {hw.energy_unit}/MAC")
        if hw.source:
            click.echo(f"    source: {hw.source}")


from analogc.cli_check import check_cmd  # noqa: E402  (the CI gate, in its own module)
from analogc.cli_hardware import hardware_group  # noqa: E402  (converters, in their own module)

cli.add_command(check_cmd)
cli.add_command(hardware_group)


def main() -> None:
    cli(prog_name="analogc")
