"""Help and messages: every command shows runnable examples, no help text loses a bracketed
word to rich markup, every hint names a command that runs, and a mistyped command is answered
with the closest one."""

from __future__ import annotations

import ast
import glob
import os
import re

import click
import pytest

from mmvc.cli.main import cli
from tests.cli.conftest import assert_runnable, hinted_commands, parse_command_line

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def all_commands():
    """(command path, command) for the root, every command and every subcommand."""
    ctx = click.Context(cli, info_name="mmvc")
    found = []

    def walk(cmd, path):
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), f"{path} {name}")

    walk(cli, "mmvc")
    return found


COMMANDS = all_commands()


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_shows_examples_that_parse(path, cmd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cmd.examples, f"`{path} --help` shows no example"
    for line, what in cmd.examples:
        assert what, line
        if path != "mmvc":
            assert line.startswith(path + " ") or line == path or line.startswith("mmvc "), line
        words = line.split()
        if "-C" in words:  # the folder an example runs in
            os.makedirs(words[words.index("-C") + 1], exist_ok=True)
        assert parse_command_line(line) is not None
    assert any(line.split()[: len(path.split())] == path.split() for line, _ in cmd.examples), \
        f"no example of {path} itself"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_help_shows_every_bracketed_word(path, cmd, run):
    """Rich would read `[process.models]` as markup and drop it: every text goes in as Text."""
    out = run(*path.split()[1:], "--help").output
    ctx = click.Context(cmd, info_name=path)
    texts = [cmd.help or ""] + [line + " " + what for line, what in cmd.examples]
    for p in cmd.params:
        texts += [getattr(p, "help", None) or "", p.metavar or ""]
    if isinstance(cmd, click.Group):
        texts += [cmd.command_summary(n) for n in cmd.list_commands(ctx)]
    for word in re.findall(r"\[[^\]\s]+\]", " ".join(texts)):
        assert word in out, f"`{path} --help` lost {word}"
    for line, _ in cmd.examples:
        assert line in out


def test_process_help_names_the_models_table(run):
    assert "recorded in [process.models]" in run("process", "--help").output


def _hints(source: str):
    """The hint of every typed error, console error and finding raised in a module: the second
    argument of ``…Error(message, hint)``, ``ObjectNotFound`` and ``con.error``, and every
    ``hint=`` keyword. f-string fields become ``x``; module constants are followed."""

    def text(node, consts):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            a, b = text(node.left, consts), text(node.right, consts)
            return a + b if a is not None and b is not None else a or b
        if isinstance(node, ast.IfExp):
            return (text(node.body, consts) or "") + " " + (text(node.orelse, consts) or "")
        if isinstance(node, ast.Name):
            return consts.get(node.id)
        return None

    tree = ast.parse(source)
    consts = {n.targets[0].id: text(n.value, {}) for n in tree.body
              if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}
    consts = {k: v for k, v in consts.items() if v is not None}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        found = [k.value for k in node.keywords if k.arg == "hint"]
        if (name.endswith("Error") or name in ("ObjectNotFound", "error")) and len(node.args) >= 2:
            found.append(node.args[1])
        for h in found:
            t = text(h, consts)
            if t:
                yield node.lineno, t


def test_hints_in_the_source_are_commands_that_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checked = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "mmvc", "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            source = f.read()
        for lineno, hint in _hints(source):
            for command in hinted_commands(hint):
                try:
                    assert_runnable(command)
                except AssertionError as e:
                    raise AssertionError(f"{os.path.relpath(path, ROOT)}:{lineno}: {e}") from None
                checked += 1
    assert checked > 50  # the scan finds the hints (it would pass vacuously otherwise)


def test_a_hint_that_does_not_run_is_caught():
    for bad in ("mmvc reset --index", "mmvc ls-files --rev HEAD", "mmvc rm --cached"):
        with pytest.raises(AssertionError):
            assert_runnable(bad)
    for good in ("mmvc add", "mmvc fsck", "mmvc ls-files HEAD -l", "mmvc export … --force", "mmvc log | head -1"):
        assert_runnable(good)


def test_lineage_of_a_missing_item_hints_a_runnable_listing(run, tmp_path):
    run("init", "--ungated")
    (tmp_path / "a.txt").write_text("hello")
    run("add", "a.txt")
    run("commit", "-m", "one")
    out = run("lineage", "nope.txt", expect=4).output
    assert "`mmvc ls-files HEAD`" in out  # the run fixture checked that it parses


@pytest.mark.parametrize("typo,meant", [("stauts", "status"), ("comit", "commit"), ("chekout", "checkout"),
                                        ("remote ad", "add"), ("recipe shwo", "show")])
def test_a_mistyped_command_names_the_closest(run, typo, meant):
    out = run(*typo.split(), expect=2).output
    assert f"Did you mean '{meant}'" in out


def test_a_word_like_no_command_gets_no_suggestion(run):
    out = run("frobnicate", expect=2).output
    assert "No such command 'frobnicate'" in out and "Did you mean" not in out
