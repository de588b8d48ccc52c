"""``analogc hardware``: hardware files from other simulators' configurations."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("hardware")
def hardware_group() -> None:
    """Hardware files from other simulators' configurations."""


@hardware_group.command("from-aihwkit")
@click.argument("config", metavar="MODULE:ATTR")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the hardware file here [default: standard output].",
)
@click.option("--name", help="The hardware model's name [default: aihwkit-<class name>].")
@click.option(
    "--no-programming",
    is_flag=True,
    help="The weights are used as set (program_analog_weights is never called): the noise "
    "model is not translated.",
)
@click.option(
    "--t-inference",
    type=click.FloatRange(min=0),
    help="Seconds aihwkit drifts the weights to (drift_analog_weights): PCMLikeNoiseModel's "
    "drift and 1/f read noise have no analogc equivalent, so this is refused for it.",
)
def from_aihwkit_cmd(
    config: str,
    output: Path | None,
    name: str | None,
    no_programming: bool,
    t_inference: float | None,
) -> None:
    """Translate an aihwkit 1.1 RPUConfig into an analogc hardware file (TOML).

    MODULE:ATTR names the configuration: an RPUConfig instance, or a class or function
    returning one (MODULE is imported from the current directory or the Python path, or is a
    .py file). Forward IO parameters, the mapping, the PCM noise model and drift compensation
    are translated; every field that changes what the hardware computes and has no analogc
    equivalent is named in one error (exit 2), never dropped.

    \b
    Example:
      analogc hardware from-aihwkit aihwkit.simulator.presets:StandardHWATrainingPreset
      analogc hardware from-aihwkit my_configs.py:rpu_config -o my-chip.toml
      analogc compile model.onnx -H my-chip.toml
    """
    from analogc.aihwkit.hardware_file import hardware_file, write_text_atomically

    text, translation = hardware_file(
        config, name=name, program=not no_programming, t_inference=t_inference
    )
    for note in translation.notes:
        click.echo(f"analogc: note: {note}", err=True)
    if output is None:
        click.echo(text, nl=False)
        return
    write_text_atomically(output, text)
    click.echo(f"wrote {output} ({translation.hardware.noise.label})", err=True)
