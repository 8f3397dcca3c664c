"""Tab completion in real shells: an interactive bash (readline, through a pseudo-terminal) with
the script `mmvc completion bash` prints, the same for zsh, and fish's own `complete -C`. Each
shell runs the real `mmvc` on a real repository; a line is typed with a Tab and then echoed
back, so the test sees exactly what the user's line became."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import time

import pytest

from mmvc.cli.completion_cmd import completion_script
from mmvc.repo import Repo

INPUTRC = "set show-all-if-ambiguous on\nset completion-query-items 0\nset page-completions off\nset enable-bracketed-paste off\nset bell-style none\n"


@pytest.fixture
def shell_env(tmp_path, mmvc_on_path):
    """Each shell's completion script, and settings that make the shells' screens plain."""
    for shell in ("bash", "zsh", "fish"):
        (tmp_path / f"completion.{shell}").write_text(completion_script(shell))
    (tmp_path / "inputrc").write_text(INPUTRC)
    return {**mmvc_on_path, "PS1": "$ ", "TERM": "dumb",
            "HISTFILE": "/dev/null", "INPUTRC": str(tmp_path / "inputrc"), "ZDOTDIR": str(tmp_path)}


@pytest.fixture
def dataset(tmp_path):
    """A repository with branches, a tag, a remote with a remote-tracking branch, and files."""
    root = tmp_path / "data"
    root.mkdir()
    repo = Repo.init(str(root), ungated=True)
    (root / "images").mkdir()
    (root / "images" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"cat")
    (root / "notes.txt").write_text("hello")
    repo.add(["."], cwd=str(root))
    repo.commit("one")
    for name in ("exp", "exp2", "main-old"):
        repo.branch(name)
    repo.tag("v1")
    backup = tmp_path / "backup"
    repo.add_remote("backup", str(backup))
    repo.push("backup", ["main"])
    return root


def typed(shell: str, line: str, cwd, env) -> tuple[str, str]:
    """Type ``line``, press Tab, then turn the line into ``echo '@@…@@'`` and run it: (what the
    line had become, everything the shell showed, candidate lists included)."""
    master, slave = pty.openpty()
    argv = {"bash": ["bash", "--norc", "--noprofile", "-i"], "zsh": ["zsh", "-f", "-i"]}[shell]
    setup = {"bash": f"source {env['ZDOTDIR']}/completion.bash\n",
             "zsh": f"autoload -Uz compinit && compinit -u -D; setopt nobeep; source {env['ZDOTDIR']}/completion.zsh\n"}[shell]
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True)
    os.close(slave)
    try:
        os.write(master, setup.encode() + line.encode() + b"\t\x01echo '@@\x05@@'\n")
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                seen += os.read(master, 65536)
            done = re.search(rb"\n@@(.*)@@\r?\n", seen)
            if done:
                return done.group(1).decode(), seen.decode(errors="replace")
        raise AssertionError(f"{shell} never echoed the line back:\n{seen.decode(errors='replace')}")
    finally:
        p.kill()
        p.wait()
        os.close(master)


def fish_complete(line: str, cwd, env) -> list[str]:
    out = subprocess.run(["fish", "--no-config", "-c", f"source {env['ZDOTDIR']}/completion.fish; complete -C '{line}'"],
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    return [row.split("\t")[0] for row in out.splitlines()]


def test_bash_completes_files_revisions_remotes_and_keys(dataset, shell_env):
    assert typed("bash", "mmvc add ima", dataset, shell_env)[0] == "mmvc add images/"  # the shell's own file names
    assert typed("bash", "mmvc restore not", dataset, shell_env)[0] == "mmvc restore notes.txt "
    line, screen = typed("bash", "mmvc log ex", dataset, shell_env)
    assert line == "mmvc log exp" and re.search(r"\nexp +exp2", screen)  # both branches offered
    assert typed("bash", "mmvc show v", dataset, shell_env)[0] == "mmvc show v1 "  # tags
    assert typed("bash", "mmvc diff main..ba", dataset, shell_env)[0] == "mmvc diff main..backup/main "  # a range's right side
    assert typed("bash", "mmvc switch main-", dataset, shell_env)[0] == "mmvc switch main-old "
    assert typed("bash", "mmvc push bac", dataset, shell_env)[0] == "mmvc push backup "
    assert typed("bash", "mmvc config process.families.c", dataset, shell_env)[0] == "mmvc config process.families.clip "
    assert typed("bash", "mmvc checkout main --modality au", dataset, shell_env)[0] == "mmvc checkout main --modality audio "
    assert typed("bash", "mmvc sta", dataset, shell_env)[0] == "mmvc status "


def test_bash_completes_in_the_folder_given_by_C(dataset, shell_env, tmp_path):
    assert typed("bash", f"mmvc -C {dataset} branch -d exp", tmp_path, shell_env)[1].count("exp2") >= 1


def test_bash_offers_nothing_outside_a_repository_and_prints_no_error(shell_env, tmp_path):
    line, screen = typed("bash", "mmvc log ma", tmp_path, shell_env)
    assert line == "mmvc log ma" and "error" not in screen.lower() and "Traceback" not in screen


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_files_and_revisions(dataset, shell_env):
    assert typed("zsh", "mmvc add ima", dataset, shell_env)[0].startswith("mmvc add images")
    assert typed("zsh", "mmvc log ex", dataset, shell_env)[0] == "mmvc log exp"
    assert typed("zsh", "mmvc switch main-", dataset, shell_env)[0].rstrip() == "mmvc switch main-old"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_files_and_revisions(dataset, shell_env):
    assert fish_complete("mmvc add ima", dataset, shell_env) == ["images/"]
    assert fish_complete("mmvc log ex", dataset, shell_env) == ["exp", "exp2"]
    assert fish_complete("mmvc pull backup ma", dataset, shell_env) == ["main"]


def test_repo_completions_by_kind(dataset):
    repo = Repo(str(dataset))
    assert repo.completions("revision", "") == ["HEAD", "HEAD~", "exp", "exp2", "main", "main-old", "v1", "backup/main"]
    assert repo.completions("branch", "ma") == ["main", "main-old"]
    assert repo.completions("tag") == ["v1"]
    assert repo.completions("remote") == ["backup"]
    assert repo.completions("remote-branch") == ["main"]
    assert repo.completions("revision", "exp...m") == ["exp...main", "exp...main-old"]
    assert "process.gated" in repo.completions("config-key", "process.g")
    assert repo.completions("recipe") == []
    repo.create_recipe("texts", where="modality = 'text'", allow_ungated=True)
    assert repo.completions("recipe", "t") == ["texts"]
