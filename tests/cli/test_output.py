"""One output layer: results on stdout, notes, warnings, progress and errors on stderr, for every
kind of command; ``--quiet`` silences notes but never results; ``NO_COLOR`` and ``--no-color``
win over everything else that asks for colour."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.cli.console import Console
from mmvc.errors import ExitCode

ESC = "\x1b["


@pytest.fixture
def repo_dir(run, tmp_path):
    (tmp_path / "a.txt").write_text("a caption\n")
    (tmp_path / "b.txt").write_text("another caption\n")
    run("init", "--ungated")
    return tmp_path


def test_write_commands_print_their_summary_on_stdout_and_nothing_else(run, repo_dir):
    for args, summary in ((["add", "."], "staged 2 new"), (["commit", "-m", "v1"], "(root-commit)"),
                          (["branch", "side"], "Created branch side"), (["tag", "v1"], "Tagged"),
                          (["switch", "side"], "Switched to branch 'side'"), (["mv", "a.txt", "c.txt"], "moved 1 item(s)"),
                          (["rm", "--cached", "b.txt"], "rm 'b.txt'"), (["restore", "--staged", "b.txt"], "unstaged 1 item(s)"),
                          (["remote", "add", "origin", str(repo_dir / "remote")], "Added remote origin"),
                          (["gc", "--dry-run"], "reachable objects")):
        res = run(*args)
        assert summary in res.stdout and res.stderr == "", args


def test_read_commands_print_data_on_stdout_only(run, repo_dir):
    run("add", ".")
    run("commit", "-m", "v1")
    run("tag", "v1")
    for args in (["status"], ["log"], ["log", "--oneline"], ["show"], ["ls-files", "-l"], ["branch", "-v"], ["tag"],
                 ["reflog"], ["diff", "HEAD", "HEAD", "--stat"], ["fsck", "--quick"], ["config", "core.format"]):
        res = run(*args)
        assert res.stdout and res.stderr == "", args


def test_json_is_the_whole_of_stdout(run, repo_dir):
    for args in (["add", ".", "--json"], ["commit", "-m", "v1", "--json"], ["status", "--json"], ["log", "--json"],
                 ["show", "--json"], ["ls-files", "--json"], ["branch", "--json"], ["gc", "--json", "--dry-run"],
                 ["fsck", "--json"], ["remote", "--json"]):
        res = run(*args)
        json.loads(res.stdout)
        assert res.stderr == "", args


def test_errors_go_to_stderr_and_leave_stdout_empty(run, repo_dir):
    res = run("show", "nosuchrev", expect=ExitCode.BAD_INPUT)
    assert res.stdout == ""
    assert res.stderr.startswith("error: unknown revision") and "\nhint: " in res.stderr


def test_warnings_go_to_stderr_and_survive_quiet(run, repo_dir):
    (repo_dir / "link.txt").symlink_to(repo_dir / "a.txt")
    for quiet in ([], ["-q"]):
        res = run(*quiet, "add", ".")
        assert "skipped link.txt: symbolic link" in res.stderr and "link.txt" not in res.stdout
        assert res.stdout.startswith("staged ")


def test_quiet_silences_notes_but_not_results(run, repo_dir):
    hook = repo_dir / ".mmvc" / "hooks" / "post-commit"
    hook.write_text("#!/bin/sh\necho note-from-the-hook\n")
    hook.chmod(0o755)
    run("add", ".")
    loud = run("commit", "-m", "v1", "--allow-empty")
    assert "note-from-the-hook" in loud.stderr and "(root-commit)" in loud.stdout
    quiet = run("--quiet", "commit", "-m", "v2", "--allow-empty")
    assert quiet.stderr == "" and "[main " in quiet.stdout
    assert run("-q", "log", "--oneline").stdout.count("\n") == 2
    assert run("-q", "show", "nosuchrev", expect=ExitCode.BAD_INPUT).stderr.startswith("error: ")  # errors always print


@pytest.fixture
def colored(repo_dir, run, monkeypatch):
    """Colour asked for (FORCE_COLOR, as a CI log viewer would), so that its absence means something."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    run("add", ".")
    run("commit", "-m", "v1")
    return repo_dir


@pytest.mark.parametrize("args", [["log", "--oneline"], ["branch"], ["status"], ["show"]])
def test_no_color_and_NO_COLOR_remove_every_escape_code(run, colored, monkeypatch, args):
    (colored / "a.txt").write_text("changed\n")
    assert ESC in run(*args).stdout
    assert ESC not in run("--no-color", *args).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert ESC not in run(*args).stdout


def test_errors_are_coloured_only_when_colour_is_allowed(run, colored, monkeypatch):
    assert ESC in run("show", "nosuchrev", expect=ExitCode.BAD_INPUT).stderr
    assert ESC not in run("--no-color", "show", "nosuchrev", expect=ExitCode.BAD_INPUT).stderr
    monkeypatch.setenv("NO_COLOR", "1")
    assert ESC not in run("show", "nosuchrev", expect=ExitCode.BAD_INPUT).stderr
    assert ESC not in run("--help").stdout


@pytest.fixture
def terminal():
    """A real terminal (a pty) for stderr; what is drawn on it is read back and thrown away."""
    import pty

    master, slave = pty.openpty()
    os.set_blocking(master, False)
    term = os.fdopen(slave, "w")
    yield term
    term.close()
    try:
        while os.read(master, 65536):
            pass
    except OSError:
        pass
    os.close(master)


def test_progress_bars_only_on_a_terminal_and_never_under_json_or_quiet(terminal, tmp_path, monkeypatch):
    import io

    monkeypatch.delenv("TERM", raising=False)
    assert not Console(stderr=io.StringIO()).shows_progress  # piped
    con = Console(stderr=terminal)
    assert con.shows_progress
    with con.progress("adding") as update:
        update(1, 10, 2, 20)
    assert not Console(stderr=terminal, quiet=True).shows_progress
    con.json = True
    assert not con.shows_progress
    with con.progress("adding") as update, con.stages() as stage:
        assert update is None and stage is None

