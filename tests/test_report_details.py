"""What the compile report tells a new user (issue 12): evaluations after a resume, the batch
size actually used, every file written (the study too), the Pareto front on screen and in
report.md, and plots that show the region of interest with a legend that hides nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analogc.cli import cli
from analogc.pipeline import compile_model
from analogc.plots import tradeoff_figure
from analogc.report import CompileReport, compile_markdown, compile_text
from analogc.search import SearchSettings

MODELS = Path(__file__).resolve().parents[1] / "models"
CNN = MODELS / "digits_cnn.onnx"


def _compile(out: Path, trials: int) -> CompileReport:
    # The normal quantile: with 2 seeds Student's t (6.31) leaves this short search one
    # configuration on the front, and these tests are about how the report shows it.
    search = SearchSettings(trials=trials, seeds=2, validation_seeds=2, quantile="normal")
    return compile_model(CNN, data="demo:calib", search=search, output_dir=out, plots=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CompileReport, CompileReport]:
    out = tmp_path_factory.mktemp("resume") / "out"
    first = _compile(out, 6)
    second = _compile(out, 8)  # the same command with more trials resumes the study
    return out, first, second


def test_report_after_a_resume_counts_this_run_and_the_study(
    runs: tuple[Path, CompileReport, CompileReport],
) -> None:
    out, first, second = runs
    one, two = first.run.search, second.run.search
    assert one is not None and two is not None
    assert not one.resumed and two.resumed
    assert two.evaluations > 0, "two more trials were evaluated"
    assert one.study_evaluations == one.evaluations
    assert two.study_evaluations == one.evaluations + two.evaluations
    markdown = (out / "report.md").read_text()
    assert f"{two.evaluations} noisy batch evaluations in this run" in markdown, markdown
    assert f"resuming a study that made {two.study_evaluations} in all" in markdown, markdown


def test_report_gives_the_batch_size_used(
    runs: tuple[Path, CompileReport, CompileReport],
) -> None:
    out, _, report = runs
    # 300 calibration examples in batches of at most 256: 256 and 44
    assert report.data.examples == 300 and report.data.batch_size == 256
    small = compile_model(
        CNN, data="demo:calib", repeats=64, batch_size=1000, output_dir=out / "fixed", plots=False
    )
    assert small.data.batch_size == 300, "never more than the data holds"
    assert "(300 examples, batches of 300)" in compile_markdown(small)


def test_wrote_lists_the_study_and_no_lock_is_left(
    runs: tuple[Path, CompileReport, CompileReport],
) -> None:
    out, _, report = runs
    assert report.outputs.study == str((out / "study.db").resolve())
    written = compile_text(report).splitlines()[-1]
    assert written.startswith(f"wrote to {out}: ") and written.endswith(", study.db"), written
    assert sorted(p.name for p in out.iterdir() if "lock" in p.name) == [], "a lock file left"


def test_pareto_front_on_screen_and_in_report_md(
    runs: tuple[Path, CompileReport, CompileReport],
) -> None:
    out, _, report = runs
    front = report.search.front  # type: ignore[union-attr]
    assert len(front) >= 2, "the search evaluated configurations trading energy for accuracy"
    assert all(p.source != "inferred" for p in front), "inferred points are no measurement"
    text = compile_text(report)
    assert "Pareto front of the configurations evaluated" in text
    markdown = (out / "report.md").read_text()
    assert "### Pareto front" in markdown
    for point in front:
        energy = f"{point.energy_per_mac:.4g}"
        assert energy in text and f"| {energy} |" in markdown, energy


def test_batch_size_option_explains_itself() -> None:
    for command in ("compile", "eval"):
        result = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
        words = " ".join(result.stdout.split())
        assert "--batch-size INTEGER RANGE Examples per onnxruntime run" in words, words


def test_tradeoff_plot_zooms_on_energies_that_matter_and_legend_hides_nothing() -> None:
    """A uniform curve from N = 1 (energy 1, far below the budget) must not stretch the energy
    axis down to 10⁰ when every configuration near the budget costs hundreds."""
    uniform = [(1.0, 0.1), (2.0, 0.2), (64.0, 0.9), (128.0, 0.96), (256.0, 0.985), (300.0, 0.99)]
    trials = [(120.0, 0.985, True), (150.0, 0.99, True), (90.0, 0.97, False)]
    figure = tradeoff_figure(
        uniform=uniform,
        trials=trials,
        front=[(120.0, 0.985), (150.0, 0.99)],
        chosen=(120.0, 0.985),
        uniform_chosen=(256.0, 0.985),
        clean=0.995,
        floor=0.985,
        unit="photons",
        metric="accuracy",
        percent=True,
    )
    ax = figure.axes[0]
    low, high = ax.get_xlim()
    assert 30 < low < 90 and 300 < high < 1000, (low, high)
    figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    axes = ax.get_window_extent()
    assert legend.x0 >= axes.x1, "the legend sits outside the axes, over no curve"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "uniform precision" in labels and "budget" in labels
