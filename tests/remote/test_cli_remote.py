"""The remote verbs through the CLI: exit codes, JSON, results on stdout and errors on stderr."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from mmvc.cli.main import cli

from tests.remote.conftest import commit_files


def _run(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args)
    finally:
        os.chdir(old)


def test_remote_push_clone_pull_through_the_cli(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    r = _run(["remote", "add", "origin", url], source.root)
    assert r.exit_code == 0, r.output
    r = _run(["remote", "add", "origin", url], source.root)
    assert r.exit_code == 4 and "already exists" in r.output
    r = _run(["remote", "--json"], source.root)
    assert json.loads(r.stdout)[0]["url"] == url

    r = _run(["push", "--json"], source.root)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["updates"][0]["status"] == "new" and doc["requests"]["put"] >= 3

    r = _run(["clone", url, str(tmp_path / "c"), "--filter", "blob:none", "--sparse", "docs/**"], str(tmp_path))
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(tmp_path / "c")) == [".mmvc", "docs"]

    commit_files(source, {"captions/late.txt": "late\n"}, "late")
    assert _run(["push"], source.root).exit_code == 0
    r = _run(["pull", "--json"], str(tmp_path / "c"))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["merge"]["status"] == "fast-forward"
    r = _run(["diff", "origin/main~1", "origin/main", "--json"], str(tmp_path / "c"))
    assert r.exit_code == 0 and "captions/late.txt" in r.stdout


def test_non_fast_forward_push_exits_8_and_names_the_fix(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    _run(["remote", "add", "origin", url], source.root)
    assert _run(["push"], source.root).exit_code == 0
    assert _run(["clone", url, str(tmp_path / "other")], str(tmp_path)).exit_code == 0
    from mmvc.repo import Repo

    commit_files(Repo(str(tmp_path / "other")), {"x.txt": "theirs\n"}, "theirs")
    assert _run(["push"], str(tmp_path / "other")).exit_code == 0
    commit_files(source, {"y.txt": "mine\n"}, "mine")
    r = _run(["push", "origin", "main"], source.root)
    assert r.exit_code == 8
    assert "non-fast-forward" in r.output and "mmvc pull origin main" in r.output


def test_unknown_remote_and_missing_repository(source, tmp_path):
    r = _run(["push", "nowhere"], source.root)
    assert r.exit_code == 4 and "no remote named 'nowhere'" in r.output
    r = _run(["clone", f"file://{tmp_path}/empty", str(tmp_path / "c")], str(tmp_path))
    assert r.exit_code == 12 and "holds no mmvc repository" in r.output
    assert not os.path.exists(tmp_path / "c")


def test_pre_push_hook_can_refuse(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    _run(["remote", "add", "origin", url], source.root)
    hook = os.path.join(source.dir, "hooks", "pre-push")
    with open(hook, "w") as f:
        f.write('#!/bin/sh\necho "remote=$1 url=$2"\ncat\nexit 1\n')
    os.chmod(hook, 0o755)
    r = _run(["push"], source.root)
    assert r.exit_code == 11
    head = source.refs.read("refs/heads/main")
    assert f"remote=origin url={url}" in r.output and f"refs/heads/main {head} refs/heads/main {'0' * 64}" in r.output
    assert not os.path.exists(tmp_path / "remote" / "refs")  # nothing moved
    assert _run(["push", "--no-verify"], source.root).exit_code == 0


def test_a_remote_written_by_a_newer_mmvc_is_refused_with_the_format_code(source, tmp_path):
    from mmvc.errors import ExitCode

    url = f"file://{tmp_path}/remote"
    _run(["remote", "add", "origin", url], source.root)
    assert _run(["push"], source.root).exit_code == 0
    (tmp_path / "remote" / "mmvc-remote.json").write_text('{"format":99,"type":"mmvc-remote"}')
    for args in (["fetch"], ["push"]):
        r = _run(args, source.root)
        assert r.exit_code == ExitCode.FORMAT, r.output
        assert "format 99, newer than this mmvc" in r.stderr and "upgrade mmvc" in r.stderr
