"""The README's "Use in CI" section, run: its baseline commands, the GitHub Actions
workflow's steps (all but the install) and the pre-commit hook (with pre-commit itself), in a
fresh git repository holding the demo's CNN as ``model.onnx`` and its data as ``calib.npz``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def ci_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Use in CI\n")
    return text[start : text.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", ci_section(), flags=re.S)


def run(
    command: str | list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    args = ["bash", "-euo", "pipefail", "-c", command] if isinstance(command, str) else command
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A user's repository: a model, its calibration data, analogc on the PATH."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(MODELS / "digits_cnn.onnx", work / "model.onnx")
    shutil.copy(MODELS / "digits_calib.npz", work / "calib.npz")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
    }
    ok(run("git init -q && git add model.onnx calib.npz", work, env))
    return work, env


def test_readme_ci_blocks_run(repo: tuple[Path, dict[str, str]]) -> None:
    work, env = repo
    (baseline,) = blocks("bash")
    workflow, hook = (yaml.safe_load(b) for b in blocks("yaml"))

    # 1. The baseline, made once and committed.
    ok(run(baseline, work, env))
    staged = ok(run("git diff --cached --name-only", work, env)).split()
    assert "analogc-baseline/report.json" in staged

    # 2. The workflow: on pull requests, every `run:` step but the install, in order.
    assert workflow[True] == ["pull_request"] or workflow.get("on") == ["pull_request"]
    (job,) = workflow["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    skipped = []
    for step in steps:
        command = step.get("run")
        if command is None:
            continue
        if command.startswith("pip install"):
            skipped.append(command)
            continue
        ok(run(command, work, env))
    assert skipped == ["pip install analogc"]  # analogc is installed here already
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    artefact = work / upload["with"]["path"]
    for name in ("report.json", "report.html", "model.analog.onnx"):
        assert (artefact / name).is_file(), name

    # 3. The pre-commit hook, run by pre-commit: passes on the baseline's own model ...
    (local,) = hook["repos"]
    assert local["repo"] == "local" and local["hooks"][0]["language"] == "system"
    (work / ".pre-commit-config.yaml").write_text(blocks("yaml")[1])
    ok(run("git add .pre-commit-config.yaml", work, env))
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    output = ok(run(pre_commit, work, env))
    assert re.search(r"analogc energy gate\.+Passed", output), output

    # ... and fails, showing the diff, against a baseline whose plan is cheaper.
    report = work / "analogc-baseline" / "report.json"
    document = json.loads(report.read_text())
    document["dynamic"]["energy_per_mac"] *= 0.9
    report.write_text(json.dumps(document))
    failed = run(pre_commit, work, env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"analogc energy gate\.+Failed", failed.stdout), failed.stdout
    assert "REGRESSION: the new plan needs 11.1% more energy per MAC" in failed.stdout
