"""``analogc check``: the CI gate (:mod:`analogc.gate`) on the command line."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("check")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--baseline",
    "-b",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="report.json of the compile whose plan the new MODEL must not exceed; its "
    "hardware, metric, budget and search settings are reused.",
)
@click.option(
    "--data",
    "-d",
    help="Calibration data (as for compile) [default: the baseline's, if it is still there]. "
    "It must hold as many examples as the baseline's.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the new plan's outputs go [default: ./<model>.check].",
)
@click.option(
    "--tolerance",
    default="0%",
    show_default=True,
    help="Relative increase of energy per MAC still accepted (2% or 0.02).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the machine-readable result on stdout."
)
@click.option("--quiet", "-q", is_flag=True, help="Only the result: no progress, no log lines.")
@click.pass_context
def check_cmd(
    ctx: click.Context,
    model: Path,
    baseline: Path,
    data: str | None,
    output: Path | None,
    tolerance: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Fail (exit 1) when MODEL needs more energy per MAC than the baseline plan, at the same
    budget, or no longer meets it.

    MODEL is planned with the baseline's settings (a new search when the baseline searched);
    prints the per-layer repeats, Ē, metric and budget of both plans. Exit codes: 0 ok,
    1 regression, 2 usage or input error.
    """
    from analogc.cli import _setup_logging  # (imported here: analogc.cli imports this module)
    from analogc.gate import check_model
    from analogc.report.check_text import check_text

    _setup_logging(quiet)
    report = check_model(
        model, baseline, data=data, output_dir=output, tolerance=tolerance, progress=not quiet
    )
    click.echo(report.to_json() if as_json else check_text(report), nl=not as_json)
    ctx.exit(report.return_code)
