"""The hooks of .pre-commit-hooks.yaml under the real pre-commit tool, at real `git commit`s:
a Git repository holding an mmvc dataset in data/, laid out as docs/ci.md says (the dataset
git-ignored), and laid out wrongly (the dataset tracked by Git too, where pre-commit's stash
would hide the work tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmvc.repo import Repo

HOOKS = Path(__file__).parents[2] / ".pre-commit-hooks.yaml"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def sh(argv, cwd, env, expect=0):
    res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == expect, f"{' '.join(map(str, argv))} -> {res.returncode}\n{out}"
    return out


@pytest.fixture
def env(mmvc_on_path, tmp_path):
    pytest.importorskip("pre_commit")
    return {**mmvc_on_path, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"), "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture
def hooks_repo(tmp_path, env):
    """This repository's hook declarations in a Git repository of their own, as pre-commit
    fetches them from GitHub; (its path, the commit to pin)."""
    src = tmp_path / "hooks-src"
    src.mkdir()
    shutil.copy(HOOKS, src / ".pre-commit-hooks.yaml")
    sh(["git", "init", "-q", "-b", "main"], src, env)
    sh(["git", "add", "."], src, env)
    sh(["git", "commit", "-q", "-m", "hooks"], src, env)
    return src, sh(["git", "rev-parse", "HEAD"], src, env).strip()


def project(tmp_path, env, hooks_repo, ignore_data: bool) -> Path:
    """A Git repository with code, an mmvc dataset in data/ (one committed version), and the
    three hooks installed by `pre-commit install`."""
    src, rev = hooks_repo
    root = tmp_path / "project"
    (root / "data" / "captions").mkdir(parents=True)
    (root / "train.py").write_text("print('train')\n")
    for name in ("a.txt", "b.txt"):
        (root / "data" / "captions" / name).write_text(f"caption {name}\n")
    data = Repo.init(str(root / "data"), ungated=True)
    data.add(["."], cwd=data.root)
    data.commit("v1")
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n"
        "      - id: mmvc-status\n      - id: mmvc-diff-staged\n      - id: mmvc-worktree-clean\n")
    if ignore_data:
        (root / ".gitignore").write_text("/data/\n")
    sh(["git", "init", "-q", "-b", "main"], root, env)
    sh([sys.executable, "-m", "pre_commit", "install"], root, env)
    sh(["git", "add", "."], root, env)
    return root


def test_every_hook_runs_mmvc_pre_commit_on_no_files():
    yaml = pytest.importorskip("yaml")
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text())}
    assert {i: h["entry"] for i, h in hooks.items()} == {"mmvc-status": "mmvc-pre-commit status",
                                                         "mmvc-diff-staged": "mmvc-pre-commit diff-staged",
                                                         "mmvc-worktree-clean": "mmvc-pre-commit worktree-clean"}
    assert all(h["language"] == "system" and h["pass_filenames"] is False and h["always_run"] for h in hooks.values())


def commit(root, env, expect=0):
    return sh(["git", "commit", "-m", "change"], root, env, expect=expect)


def test_hooks_check_the_dataset_in_a_subfolder(tmp_path, env, hooks_repo):
    root = project(tmp_path, env, hooks_repo, ignore_data=True)
    out = commit(root, env)
    assert "mmvc status" in out and "nothing to commit, working tree clean" in out  # found in data/, exit 0
    assert "dataset changes are staged in mmvc" in out and "Passed" in out

    (root / "data" / "captions" / "a.txt").write_text("edited, not staged in mmvc\n")
    (root / "train.py").write_text("print('train v2')\n")
    sh(["git", "add", "train.py"], root, env)
    out = commit(root, env, expect=1)  # a dirty dataset fails
    assert "M\tcaptions/a.txt" in out and "- exit code: 1" in out
    assert "modified:  captions/a.txt" in out  # the status hook shows it too, and never fails

    sh(["mmvc", "-C", "data", "add", "captions/a.txt"], root, env)
    out = commit(root, env)
    assert "captions/a.txt" not in out.split("dataset changes are staged in mmvc")[1].split("\n", 1)[0]
    assert "1 text" in out  # mmvc-diff-staged: what the next `mmvc commit` records


def test_a_dataset_that_git_tracks_too_is_refused_not_misjudged(tmp_path, env, hooks_repo):
    root = project(tmp_path, env, hooks_repo, ignore_data=False)
    commit(root, env, expect=1)  # refused from the start: the layout is wrong
    (root / "data" / "captions" / "a.txt").write_text("edited and staged in mmvc, not in Git\n")
    sh(["mmvc", "-C", "data", "add", "captions/a.txt"], root, env)
    # pre-commit now stashes a.txt back to Git's copy: a check of the work tree would call this
    # clean dataset dirty (and a dirty one clean); the hook says why it will not judge instead
    out = commit(root, env, expect=1)
    assert "Git tracks files of the dataset" in out and "git-ignore the dataset" in out
    assert "exit code: 4" in out
    assert "warning: Git tracks files of the dataset" in out  # mmvc-status warns and passes


def test_hooks_outside_any_mmvc_repository(tmp_path, env, hooks_repo):
    root = project(tmp_path, env, hooks_repo, ignore_data=True)
    shutil.rmtree(root / "data")
    out = commit(root, env, expect=1)
    assert "no mmvc repository at, above or just below" in out and "--repo DIR" in out
    assert out.count("Passed") == 2  # status and diff-staged have nothing to show, and pass
