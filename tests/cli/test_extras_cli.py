"""Commands on an installation without an extra: the version-control core works, and a command
that needs a missing extra exits 14 with the ``pip install`` that fixes it. The extra's packages
are made missing the way Python blocks an import (``sys.modules[name] = None``)."""

from __future__ import annotations

import json
import sys

import pytest

from mmvc.errors import ExitCode


@pytest.fixture
def block(monkeypatch):
    def _block(*modules):
        for m in modules:
            monkeypatch.setitem(sys.modules, m, None)

    return _block


def test_ungated_commit_without_the_catalog_extra(run, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("a caption\n")
    with monkeypatch.context() as m:
        for name in ("pyarrow", "lance"):
            m.setitem(sys.modules, name, None)
        run("init", "--ungated")
        run("add", "a.txt")
        res = run("commit", "-m", "light")
        assert "1 added" in res.output and "the catalog was not updated" in res.output and "mmvc[catalog]" in res.output
        assert json.loads(run("log", "--json").output)[0]["message"] == "light\n"
        res = run("query", expect=ExitCode.EXTRA_MISSING)
        assert "pylance" in res.output and "hint: pip install 'mmvc[catalog]'" in res.output
        res = run("fsck")
        assert "the catalog was not checked" in res.output
    # with the extra back, the version reads like one from a clone: rebuild adds its rows
    run("query", expect=ExitCode.BAD_INPUT)
    run("catalog", "rebuild")
    assert "a.txt" in run("query", "--columns", "key").output


def test_process_without_its_extra_changes_nothing(run, tmp_path, block):
    (tmp_path / "a.txt").write_text("a caption\n")
    run("init")
    run("add", "a.txt")
    block("ray")
    res = run("process", expect=ExitCode.EXTRA_MISSING)
    assert "mmvc process needs the optional process packages" in res.output and "ray" in res.output
    assert "hint: pip install 'mmvc[process]'" in res.output
    assert json.loads(run("status", "--json").output)["verdicts"] == {"unprocessed": {"text": 1}}
    run("commit", "-m", "x", expect=ExitCode.GATE)
