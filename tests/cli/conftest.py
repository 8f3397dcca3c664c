"""Fixtures for driving the command line in-process on a real repository."""

from __future__ import annotations

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
        return res

    return _run
