"""What the futility bound costs and saves, simulated: per-seed drops drawn normal about the
budget, each sequence run through the sequential test with and without it.

For each true mean drop (in units of the per-seed SD, 0 = at the budget) and futility bound:
how often the full rule accepts on all 8 seeds, the share of those acceptances the sequential
test gives up early (as "over" or as "futile"), and the mean seeds run. Writes
``bench/results/futility.md``.

    python bench/futility.py [--runs 6000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analogc.budget import FUTILITY, MIN_SEQUENTIAL_SEEDS, Acceptance  # noqa: E402

SEEDS = 8
MEANS = (-1.0, -0.67, -0.4, 0.0, 0.5)
BOUNDS = (0.0, 0.05, FUTILITY, 0.2)


def simulate(
    mean: float, futility: float, runs: int, seed: int
) -> tuple[float, float, float, float]:
    """(accepted share, lost as over / accepted, lost as futile / accepted, mean seeds)."""
    rule, rng = Acceptance(allowed=0.0), np.random.default_rng(seed)
    accepted = lost_over = lost_futile = seeds = 0
    for _ in range(runs):
        drops = rng.normal(mean, 1.0, SEEDS)
        ok = rule.bound_of(drops) <= rule.allowed
        accepted += ok
        used = SEEDS
        for n in range(MIN_SEQUENTIAL_SEEDS, SEEDS):
            verdict = rule.verdict(drops[:n], SEEDS, futility)
            if verdict is not None:
                used = n
                lost_over += ok and verdict == "over"
                lost_futile += ok and verdict == "futile"
                break
        seeds += used
    share = max(accepted, 1)
    return accepted / runs, lost_over / share, lost_futile / share, seeds / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6000)
    args = parser.parse_args()
    lines = [
        "# Futility bound, simulated",
        "",
        f"Command: `python bench/futility.py --runs {args.runs}`. Per-seed drops ~ normal(mean, 1),"
        f" budget 0, {SEEDS} seeds, one-sided 95% Student t; the sequential test may stop from"
        f" seed {MIN_SEQUENTIAL_SEEDS} on (`Acceptance.verdict`). *accepted*: the full rule"
        " accepts on all seeds; *lost*: of those, the share the sequential test stopped early"
        " (as over, as futile); the same draws for every bound.",
        "",
        "| mean drop (SD) | futility | accepted | lost as over | lost as futile | seeds run |",
        "|---|---|---|---|---|---|",
    ]
    for i, mean in enumerate(MEANS):
        for bound in BOUNDS:
            acc, over, futile, seeds = simulate(mean, bound, args.runs, seed=i)
            row = (
                f"| {mean:+.2f} | {bound:g} | {acc:.3f} | {100 * over:.2f}% | {100 * futile:.2f}% "
                f"| {seeds:.2f} |"
            )
            lines.append(row)
            print(row, flush=True)
    out = REPO / "bench" / "results" / "futility.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
