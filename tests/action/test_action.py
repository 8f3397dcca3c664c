"""The GitHub Action (action.yml) run locally: its script on a real repository, its comment
against a golden Markdown file, and the composite action's own Diff step run in bash with the
variables a runner sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmvc.repo import Repo

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "pr_comment.md"
SCRIPT = ROOT / "scripts" / "pr_diff.py"


def write(root: Path, files: dict) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


@pytest.fixture
def pull_request(tmp_path):
    """main: 4 images and 2 texts; the branch pr: 2 images removed, one text changed, 3 texts
    added, one image renamed; evaluation results for both."""
    root = tmp_path / "dataset"
    root.mkdir()
    repo = Repo.init(str(root), ungated=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
    write(root, {**{f"images/{i}.png": png + bytes([i]) * (100 * (i + 1)) for i in range(4)},
                 "text/a.txt": b"alpha\n", "text/b.txt": b"beta\n"})
    repo.add(["."], cwd=str(root))
    repo.commit("v1")
    repo.switch("pr", create=True)
    for i in (0, 1):
        (root / f"images/{i}.png").unlink()
    (root / "images/3.png").rename(root / "images/three.png")
    write(root, {"text/a.txt": b"alpha, longer now\n", **{f"text/new{i}.txt": f"new text {i}\n".encode() for i in range(3)}})
    repo.add(["."], cwd=str(root))
    repo.commit("pr: drop two images, more text")
    (tmp_path / "eval-base.json").write_text(json.dumps({"recall@10": 0.61, "loss": 2.5}))
    (tmp_path / "eval-head.json").write_text(json.dumps({"recall@10": 0.64, "loss": 2.25, "bleu": 31.0}))
    return root


def script(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_comment_matches_the_golden_file(pull_request, tmp_path, mmvc_on_path):
    out = tmp_path / "comment.md"
    res = script(["--repo", str(pull_request), "--base", "main", "--head", "pr", "--max-shrink", "25",
                  "--fail-on-rejected-increase", "--eval-base", str(tmp_path / "eval-base.json"),
                  "--eval-head", str(tmp_path / "eval-head.json"), "--out", str(out)], mmvc_on_path, tmp_path)
    assert res.returncode == 1, res.stderr  # the images shrank by half
    assert "policy failed: image items shrank by 50.0% (at most 25% allowed)" in res.stderr
    if os.environ.get("MMVC_UPDATE_GOLDEN"):
        GOLDEN.write_text(out.read_text())
    assert out.read_text() == GOLDEN.read_text(), "the comment changed; review it, then MMVC_UPDATE_GOLDEN=1 rewrites the golden file"


def test_policies_that_hold_pass(pull_request, tmp_path, mmvc_on_path):
    out = tmp_path / "comment.md"
    res = script(["--repo", str(pull_request), "--base", "main", "--head", "pr", "--max-shrink", "60", "--out", str(out)],
                 mmvc_on_path, tmp_path)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert text.startswith("<!-- mmvc-dataset-diff -->\n### mmvc diff: main") and "Failed" not in text
    assert "| image items (may shrink by at most 60%) | 4 | 2 | ✅ |" in text and "Evaluations" not in text


def test_an_mmvc_failure_is_not_a_verdict(pull_request, tmp_path, mmvc_on_path):
    res = script(["--repo", str(pull_request), "--base", "no-such-branch", "--out", str(tmp_path / "c.md")], mmvc_on_path, tmp_path)
    assert res.returncode == 4 and "no-such-branch" in res.stderr and not (tmp_path / "c.md").exists()


def test_the_composite_actions_diff_step_runs_in_bash(pull_request, tmp_path, mmvc_on_path):
    """The Diff step's own bash, with the inputs as the runner passes them (env) and the files
    a runner provides: the comment in the step summary, the verdict in the step's outputs."""
    yaml = pytest.importorskip("yaml")
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "diff")
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update({"base": "main", "head": "pr", "repository": str(pull_request), "max-shrink": "25"})
    env = {**mmvc_on_path, "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(tmp_path),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "output")}
    for name, value in step["env"].items():  # ${{ inputs.X }} → the input's value
        env[name] = inputs[value.removeprefix("${{ inputs.").removesuffix(" }}")]
    res = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr  # a failed policy still posts its comment; the Verdict step fails the job
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    assert outputs == {"verdict": "fail", "comment": str(tmp_path / "mmvc-diff.md")}
    assert (tmp_path / "summary.md").read_text() == (tmp_path / "mmvc-diff.md").read_text()
    assert "❌ shrank by 50.0%" in (tmp_path / "mmvc-diff.md").read_text()
    steps = {s["name"]: s for s in action["runs"]["steps"]}
    assert steps["Verdict"]["if"] == "steps.diff.outputs.verdict == 'fail'"
    assert "<!-- mmvc-dataset-diff -->" in steps["Post or update the comment"]["run"]
