"""`mmvc ui` on the command line: a real server process on a free port, the loopback-only
default, and clear errors for a bad revision or a taken port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ExitCode
from tests.process_fixtures import build, png


@pytest.fixture
def small(tmp_path):
    from mmvc.repo import Repo

    repo = Repo.init(str(tmp_path), ungated=True)
    build(str(tmp_path), {"images/a.png": png(1), "notes.txt": "hello\n"})
    repo.add(["."], cwd=str(tmp_path))
    repo.commit("one")
    return repo


def _ui(root, *args):
    return CliRunner().invoke(cli, ["-C", root, "ui", "--no-browser", *args], catch_exceptions=False)


def test_serves_the_repository_until_interrupted(small):
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", small.root, "ui", "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/versions", timeout=60) as r:
            d = json.load(r)
        assert [b["name"] for b in d["branches"]] == ["main"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def test_a_non_local_host_needs_allow_remote(small):
    res = _ui(small.root, "--host", "0.0.0.0", "--port", "0")
    assert res.exit_code == ExitCode.BAD_INPUT
    assert "--allow-remote" in res.output


def test_unknown_revision_and_taken_port_are_bad_input(small):
    res = _ui(small.root, "no-such-rev", "--port", "0")
    assert res.exit_code == ExitCode.BAD_INPUT and "unknown revision" in res.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        res = _ui(small.root, "--port", str(taken.getsockname()[1]))
    assert res.exit_code == ExitCode.BAD_INPUT and "cannot listen" in res.output


def test_importing_the_cli_loads_no_web_package():
    code = "import sys, mmvc.cli.main, mmvc.cli.ui_cmd; print([m for m in ('starlette', 'uvicorn', 'jinja2', 'PIL') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
