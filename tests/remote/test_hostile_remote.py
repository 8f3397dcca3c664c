"""A remote that serves a crafted version: paths that would plant Git or mmvc hooks and config in
the work tree. Clone and fetch refuse it on receipt (no ref moves, nothing reaches the work
tree), and fsck in the repository that holds it names the paths."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ExitCode, RemoteError
from mmvc.ops.clone import clone
from mmvc.ops.fetch import fetch
from mmvc.ops.push import push
from mmvc.ops.remote import add_remote
from mmvc.repo import Repo
from tests.crafted import EVIL, craft


def worktree_files(root) -> list[str]:
    out = []
    for d, dirs, names in os.walk(root):
        if d == str(root):
            dirs.remove(".mmvc")
        out += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(out)


@pytest.fixture
def evil_remote(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    add_remote(source, "origin", url)
    push(source, "origin")
    return url


def test_clone_refuses_a_version_that_plants_git_or_mmvc_files(source, evil_remote, tmp_path):
    bad = craft(source, EVIL)
    push(source, "origin")
    dest = tmp_path / "victim"
    res = CliRunner().invoke(cli, ["clone", evil_remote, str(dest)])
    assert res.exit_code == ExitCode.REMOTE, res.output
    assert bad[:12] in res.output and (".git" in res.output or ".mmvc" in res.output)
    assert "Traceback" not in res.output
    assert not dest.exists()  # nothing of the clone is left, least of all a work tree
    assert not os.path.exists("/tmp/pwned-by-mmvc")


def test_fetch_and_pull_refuse_it_before_any_ref_moves(source, evil_remote, tmp_path):
    victim = clone(evil_remote, str(tmp_path / "victim")).path
    repo = Repo(victim)
    tracking = repo.refs.read("refs/remotes/origin/main")
    before = worktree_files(victim)
    craft(source, EVIL)
    push(source, "origin")
    with pytest.raises(RemoteError) as err:
        fetch(repo, "origin")
    assert "sub/.git/config" in err.value.message or "tools/.mmvc/hooks/pre-commit" in err.value.message
    assert Repo(victim).refs.read("refs/remotes/origin/main") == tracking
    res = CliRunner().invoke(cli, ["-C", victim, "pull"])
    assert res.exit_code == ExitCode.REMOTE, res.output
    assert Repo(victim).head()[1] == tracking
    assert worktree_files(victim) == before


@pytest.mark.parametrize("alias", ["sub/.GIT/config", "sub/.git./config", "sub/git~1/config", "x/.g\u200cit/hooks/post-checkout",
                                   "tools/.MMVC/hooks/pre-commit", "tools/MMVC~1/hooks/pre-commit"])
def test_every_alias_is_refused_on_receipt(source, evil_remote, tmp_path, alias):
    victim = clone(evil_remote, str(tmp_path / "victim")).path
    craft(source, {alias: (b"#!/bin/sh\nexit 0\n", 1)})
    push(source, "origin")
    with pytest.raises(RemoteError, match="refused"):
        fetch(Repo(victim), "origin")


def test_a_partial_clone_refuses_it_too(source, evil_remote, tmp_path):
    craft(source, EVIL)
    push(source, "origin")
    with pytest.raises(RemoteError):
        clone(evil_remote, str(tmp_path / "victim"), filter="blob:none", no_checkout=True)
    assert not (tmp_path / "victim").exists()


def test_fsck_in_the_repository_that_holds_it_names_the_paths(source):
    bad = craft(source, EVIL)
    r = source.fsck(quick=True)
    assert not r.ok
    bad_paths = {f.path: f for f in r.errors if f.kind == "bad-path"}
    assert set(bad_paths) == set(EVIL)
    assert all(f.versions == [bad] for f in bad_paths.values())
    res = CliRunner().invoke(cli, ["-C", source.root, "fsck"])
    assert res.exit_code == ExitCode.CORRUPT and "sub/.git/config" in res.output
