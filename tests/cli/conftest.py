"""Fixtures for driving the command line in-process on a real repository."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli



@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke ``mmvc -C <tmp_path> ARGS`` in-process; asserts the exit code, returns the Result."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def _run(*args, expect=0, input=None):
        res = runner.invoke(cli, ["-C", str(tmp_path), *args], catch_exceptions=False, input=input)
        assert res.exit_code == expect, f"mmvc {' '.join(args)} -> {res.exit_code}\n{res.output}"
        for line in res.output.splitlines():
            if line.startswith("hint:"):
                for command in hinted_commands(line):
                    assert_runnable(command)
        return res

    return _run


def hinted_commands(text: str) -> list[str]:
    """The backticked ``mmvc ...`` commands of a hint."""
    import re

    return re.findall(r"`(mmvc(?: [^`]*)?)`", text)


def assert_runnable(line: str) -> None:
    """A hint's command must run as written, or be a bare name (``mmvc add``) that points at a
    command; placeholders in capitals (NAME, REV) stand for the user's values."""
    try:
        parse_command_line(line)
    except click.MissingParameter:
        if "…" not in line and any(w.startswith("-") for w in line.split()[1:]):
            raise AssertionError(f"`{line}` misses an argument; a hint must be a command that runs") from None
    except click.ClickException as e:
        raise AssertionError(f"`{line}` is not a command that runs: {e.format_message()}") from None


SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "2>", "2>&1"}


def parse_command_line(line: str) -> click.Context:
    """Parse ``mmvc ...`` exactly as the command line would, down to the leaf command, without
    running it: raises click's UsageError (or BadParameter) where mmvc would exit 2. Shell
    redirections and pipes end the command; ``…`` stands for arguments left out."""
    import shlex

    words = shlex.split(line)
    assert words and words[0] == "mmvc", line
    args: list[str] = []
    for w in words[1:]:
        if w in SHELL_OPERATORS:
            break
        if w not in ("…", "..."):
            args.append(w)
    cmd: click.Command = cli
    name, parent = "mmvc", None
    try:
        while isinstance(cmd, click.Group):
            ctx = cmd.context_class(cmd, info_name=name, parent=parent)
            with ctx.scope(cleanup=False):
                rest = click.Command.parse_args(cmd, ctx, args)  # the group's own options only
                if not rest and getattr(cmd, "invoke_without_command", False):
                    return ctx
                if not rest:
                    raise click.UsageError("missing command", ctx=ctx)
                name, cmd, args = cmd.resolve_command(ctx, rest)
            parent = ctx
        return cmd.make_context(name, args, parent=parent)
    except click.exceptions.Exit as e:  # --help, --version
        assert e.exit_code == 0, line
        return None
