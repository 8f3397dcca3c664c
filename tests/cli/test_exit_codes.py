"""The exit-code contract (docs/cli.md): a crash is never mistaken for a verdict, an output that
cannot be written is one line (or, for a reader that went away, nothing), and every refusal of
a newer format is the same error with the same code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmvc.errors import ExitCode, NewerFormatError
from mmvc.repo import Repo


@pytest.fixture
def changed(run, tmp_path):
    """A repository with one commit and a staged change, so that `diff --cached --exit-code` finds one."""
    (tmp_path / "a.txt").write_text("one\n")
    run("init", "--ungated")
    run("add", "a.txt")
    run("commit", "-m", "v1")
    (tmp_path / "a.txt").write_text("two\n")
    run("add", "a.txt")
    run("diff", "--cached", "--exit-code", expect=ExitCode.DIFFERENCES)
    return tmp_path


def _boom(*args, **kw):
    raise RuntimeError("injected failure\nsecond line")


def test_an_unexpected_exception_under_diff_exit_code_is_not_a_difference(run, changed, monkeypatch):
    monkeypatch.setattr(Repo, "diff", _boom)
    monkeypatch.delenv("MMVC_DEBUG", raising=False)
    res = run("diff", "--cached", "--exit-code", expect=ExitCode.INTERNAL)
    assert ExitCode.INTERNAL not in (ExitCode.DIFFERENCES, ExitCode.OK) and res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0] == "error: internal error: RuntimeError: injected failure" and len(lines) == 2
    crashes = os.listdir(changed / ".mmvc" / "crash")
    assert len(crashes) == 1 and f"{changed}/.mmvc/crash/{crashes[0]}" in lines[1] and "MMVC_DEBUG=1" in lines[1]
    report = (changed / ".mmvc" / "crash" / crashes[0]).read_text()
    assert "command: mmvc -C" in report and "diff --cached --exit-code" in report
    assert "Traceback (most recent call last)" in report and "RuntimeError: injected failure" in report
    run("fsck")  # a crash report is no finding


def test_mmvc_debug_prints_the_traceback_instead(run, changed, monkeypatch):
    monkeypatch.setattr(Repo, "diff", _boom)
    monkeypatch.setenv("MMVC_DEBUG", "1")
    res = run("diff", "--exit-code", expect=ExitCode.INTERNAL)
    assert "Traceback (most recent call last)" in res.stderr and "in _boom" in res.stderr
    assert res.stderr.rstrip().splitlines()[-2] == "error: internal error: RuntimeError: injected failure"
    assert not (changed / ".mmvc" / "crash").exists()


def test_outside_a_repository_the_traceback_goes_to_the_temp_folder(run, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.delenv("MMVC_DEBUG", raising=False)
    monkeypatch.setattr(Repo, "discover", classmethod(_boom))
    res = run("status", expect=ExitCode.INTERNAL)
    (name,) = os.listdir(tmp_path / "tmp")
    assert str(tmp_path / "tmp" / name) in res.stderr


def test_an_uncategorised_library_error_is_internal_too():
    from mmvc.errors import MmvcError

    assert MmvcError("x").exit_code == ExitCode.INTERNAL


def test_every_newer_format_is_one_error_with_one_code(run, tmp_path):
    err = NewerFormatError("manifest node ab", 2, 1)
    assert err.exit_code == ExitCode.FORMAT and "upgrade mmvc" in err.hint
    assert str(err) == "manifest node ab has format 2, newer than this mmvc understands (format 1)"
    run("init", "--ungated")
    cfg = tmp_path / ".mmvc" / "config.toml"
    cfg.write_text(cfg.read_text().replace("format = 2", "format = 7"))
    res = run("log", expect=ExitCode.FORMAT)
    assert "this repository has format 7, newer than this mmvc" in res.stderr


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mmvc(*args, cwd, stdout):
    """The real command in its own process, its stdout on ``stdout``; returns (exit code, stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    p = subprocess.run([sys.executable, "-m", "mmvc.cli.main", *args], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stderr


@pytest.fixture
def many_items(run, tmp_path):
    """A version with enough items that listing them overflows any pipe buffer."""
    for i in range(400):  # 400 lines of 200 bytes: past the 64 KiB a pipe holds
        (tmp_path / f"caption-{i:05d}-{'x' * 180}.txt").write_text(f"{i}\n")
    run("init", "--ungated")
    run("add", ".")
    run("commit", "-m", "many")
    return tmp_path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["ls-files"], ["--help"]])
def test_a_full_stdout_is_one_error_line_with_its_own_code(many_items, args):
    with open("/dev/full", "w") as full:
        code, err = _mmvc(*args, cwd=many_items, stdout=full)
    assert code == ExitCode.OUTPUT, err
    assert err.decode().splitlines()[0] == "error: cannot write the output: No space left on device"
    assert b"Traceback" not in err and b"Exception ignored" not in err


@pytest.mark.parametrize("args", [["ls-files"], ["log", "--all"], ["--help"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(many_items, args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, as `| head -0` would be
    try:
        code, err = _mmvc(*args, cwd=many_items, stdout=write_end)
    finally:
        os.close(write_end)
    assert code == ExitCode.OUTPUT_CLOSED and err == b""
