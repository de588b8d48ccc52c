"""Reports: one JSON-able dict per command, rendered as JSON, Markdown or a terminal table.

The report owns the exit code (black's ``Report.return_code``): 0 when the budget is met or no
budget applies, 1 when the best configuration found does not meet it. Usage errors (2) and
bugs (3) never produce a report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_BUDGET_NOT_MET = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}g}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, markdown: bool = False) -> str:
    cells = [[_num(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in cells]
    return "\n".join(out)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@dataclass
class Report:
    """A command's result. ``data`` is the JSON document; the rest renders it."""

    data: dict[str, Any]

    @property
    def return_code(self) -> int:
        return EXIT_BUDGET_NOT_MET if self.data.get("budget_met") is False else EXIT_OK

    def to_json(self) -> str:
        return json.dumps(_finite(self.data), indent=2, default=_json_default) + "\n"

    # -- compile ----------------------------------------------------------------------------
    def metric_fmt(self, value: float | None) -> str:
        if value is None:
            return "-"
        unit = self.data.get("metric", {}).get("unit", "%")
        return f"{100 * value:.2f}%" if unit == "%" else f"{value:.4g}{' ' + unit if unit else ''}"

    def eval_line(self, ev: Mapping[str, Any] | None) -> str:
        if not ev:
            return "-"
        unit = self.data.get("metric", {}).get("unit", "%")
        ci = ev["ci95"]
        ci_s = f"{100 * ci:.2f} pts" if unit == "%" else f"{ci:.3g}"
        return f"{self.metric_fmt(ev['mean'])} ± {ci_s} (95% CI, {len(ev['seeds'])} seeds)"

    def layer_table(self, *, markdown: bool = False) -> str:
        search = self.data.get("mode") == "search"
        headers = ["layer", "op", "D", "MACs/ex", "N"]
        if search:
            headers += ["N unif", "sens"]
        headers += ["E/MAC", "energy %", "σ", "bits", "SNR dB"]
        rows = []
        for layer in self.data["layers"]:
            row = [
                layer["name"],
                layer["op_type"],
                layer["fan_in"],
                layer["macs"],
                layer["repeats"],
            ]
            if search:
                row += [layer.get("uniform_repeats"), layer.get("sensitivity")]
            row += [
                layer["energy_per_mac"],
                round(100 * layer["energy_share"], 1),
                layer["sigma"],
                round(layer["enob"], 2),
                round(layer["snr_db"], 1),
            ]
            rows.append(row)
        return table(headers, rows, markdown=markdown)

    def summary_lines(self) -> list[str]:
        d = self.data
        hw = d["hardware"]
        unit = hw["energy_unit"]
        lines = []
        dyn = d["dynamic"]
        energy = f"{dyn['energy_per_mac']:.4g} {unit}/MAC"
        if dyn.get("attojoules_per_mac") is not None:
            energy += f" = {dyn['attojoules_per_mac']:.4g} aJ/MAC at {hw['wavelength_nm']:g} nm"
        metric = d["metric"]["name"]
        lines.append(
            f"metric: {metric}, clean {self.metric_fmt(d['metric']['clean'])} on {d['data']['examples']} examples"
            + (
                " (SYNTHETIC inputs: agreement with the clean model)"
                if d["data"]["synthetic"]
                else ""
            )
        )
        if d["mode"] == "search":
            uni = d["uniform"]
            lines.append(
                f"uniform baseline: N={uni['repeats']} everywhere, Ē = {uni['energy_per_mac']:.4g} {unit}/MAC, "
                f"{metric} {self.eval_line(uni['evaluation'])}"
            )
            lines.append(
                f"per-layer:        Ē = {energy}, {metric} {self.eval_line(dyn['evaluation'])}"
            )
            if d.get("saving") is not None:
                lines.append(
                    f"energy saving vs uniform: {100 * d['saving']:.1f}% at the same budget"
                )
        else:
            lines.append(
                f"uniform repeats N={d['layers'][0]['repeats']}: Ē = {energy}, "
                f"{metric} {self.eval_line(dyn['evaluation'])}"
            )
        lines += self.inputs_lines()
        b = d.get("budget")
        if b:
            verdict = {True: "MET", False: "NOT MET", None: "-"}[d.get("budget_met")]
            lines.append(f"budget: max drop {b['max_drop']} ({b['rule']}): {verdict}")
        if d["macs"]["digital"] or d["macs"]["digital_unknown"]:
            lines.append(
                f"MACs left digital: {d['macs']['digital']:,} per example"
                + (
                    f" (+{d['macs']['digital_unknown']} ops of unknown size)"
                    if d["macs"]["digital_unknown"]
                    else ""
                )
            )
        return lines

    def inputs_lines(self) -> list[str]:
        """Values inputs were held at, and ops whose shapes the data showed."""
        data = self.data.get("data") or {}
        lines = []
        origin = {"--set": "--set", "data": "from the data", "default": "the model's default"}
        values = data.get("values") or {}
        if values:
            lines.append(
                "inputs held fixed: "
                + ", ".join(
                    f"{name} = {v['value']} ({origin.get(v['from'], v['from'])})"
                    for name, v in values.items()
                )
            )
        resolved = data.get("resolved_shapes") or []
        if resolved:
            lines.append(
                "analog from shapes seen in the data (unknown before run time): "
                + ", ".join(
                    f"{op['name']}" + (" (at the sizes seen only)" if op["fixed_sizes"] else "")
                    for op in resolved
                )
            )
        return lines

    def to_text(self) -> str:
        parts = [self.layer_table(), "", *self.summary_lines()]
        outs = self.data.get("outputs") or {}
        if outs:
            parts += ["", "wrote: " + ", ".join(str(v) for v in outs.values() if v)]
        return "\n".join(parts)

    def to_markdown(self) -> str:
        d = self.data
        lines = [f"# analogc report: `{d['model']['path']}`", ""]
        lines += [
            f"- hardware: **{d['hardware']['name']}** ({d['hardware']['description']}), noise: {d['noise']}"
        ]
        lines += [
            f"- data: {d['data']['source']} ({d['data']['examples']} examples, batch {d['data']['batch_size']})"
        ]
        lines += [f"- {line}" for line in self.summary_lines()]
        lines += ["", "## Per-layer plan", "", self.layer_table(markdown=True), ""]
        if d.get("digital"):
            lines += [
                "## Ops left digital",
                "",
                table(
                    ["op", "type", "MACs/ex", "reason"],
                    [[x["name"], x["op_type"], x["macs"], x["reason"]] for x in d["digital"]],
                    markdown=True,
                ),
                "",
            ]
        s = d.get("search")
        if s:
            lines += ["## Search", ""]
            lines += [
                f"- sampler {s['sampler']}, {s['trials']} trials: {s['evaluated_trials']} evaluated "
                f"({s['feasible_trials']} within budget), {s['skipped_trials']} skipped as not cheaper "
                "than the best so far"
            ]
            lines += [
                f"- study `{s['study_name']}` in `{s['storage']}`; sampler seed {s['seed']}, "
                f"{s['seeds']} noise seeds for the search, {s['validation_seeds']} fresh seeds for the figures above"
            ]
            lines += [""]
        outs = d.get("outputs") or {}
        if outs.get("tradeoff_plot"):
            lines += ["![trade-off](tradeoff.png)", "", "![precision](precision.png)", ""]
        run = d.get("run") or {}
        line = f"_analogc {d['analogc']}, {run.get('created', '')}"
        if run.get("timing"):
            line += f", {run['timing']['total_s']:.1f} s"
        if run.get("search"):
            rs = run["search"]
            line += f"; search: {rs['evaluations']} noisy batch evaluations in {rs['wall_s']:.1f} s"
            if rs.get("evals_per_s"):
                line += f" ({rs['evals_per_s']:.1f}/s)"
        lines += [line + "_", ""]
        return "\n".join(lines)
