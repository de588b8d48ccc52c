"""Reports: typed documents (:mod:`.schema`), rendered for the terminal (:mod:`.text`), as
Markdown (:mod:`.markdown`) and as JSON (``report.to_json()``); plots in :mod:`analogc.plots`.

The report owns the exit code (black's ``Report.return_code``): 0 when the budget is met or no
budget applies, 1 when the plan does not meet it. Usage errors (2) and bugs (3) never produce a
report.
"""

from .format import metric_value, num, table
from .markdown import compile_markdown
from .schema import (
    EXIT_BUDGET_NOT_MET,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    SCHEMA_VERSION,
    CompileReport,
    EvalReport,
    InspectReport,
)
from .text import (
    compile_text,
    eval_line,
    eval_text,
    inspect_text,
    layer_table,
    rule_lines,
    summary_lines,
)

__all__ = [
    "EXIT_BUDGET_NOT_MET",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "SCHEMA_VERSION",
    "CompileReport",
    "EvalReport",
    "InspectReport",
    "compile_markdown",
    "compile_text",
    "eval_line",
    "eval_text",
    "inspect_text",
    "layer_table",
    "metric_value",
    "num",
    "rule_lines",
    "summary_lines",
    "table",
]
