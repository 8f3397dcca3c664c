"""Git's revision syntax on a real history: reflog positions, upstreams, peeling, message
search, merge-base diffs, and `mmvc rev-parse`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import BadInputError
from tests.ops.test_history import commit_files


def mmvc(repo, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", repo.root, *args], catch_exceptions=False)
    assert res.exit_code == expect, res.output
    return res


@pytest.fixture
def history(repo):
    """main: one, two, three; exp (from two): side; the switches between them in HEAD's reflog."""
    c1 = commit_files(repo, {"a.txt": "a"}, "one")
    c2 = commit_files(repo, {"b.txt": "b"}, "two")
    repo.switch("exp", create=True)
    side = commit_files(repo, {"s.txt": "s"}, "side work")
    repo.switch("main")
    c3 = commit_files(repo, {"c.txt": "c"}, "three")
    return repo, {"one": c1, "two": c2, "side": side, "three": c3}


def test_reflog_positions(history):
    repo, c = history
    moves = [e["new"] for e in repo.reflog("HEAD")]  # what `mmvc reflog` prints as HEAD@{0}, HEAD@{1} …
    for n, oid in enumerate(moves):
        assert repo.resolve(f"HEAD@{{{n}}}") == oid
    assert repo.resolve("HEAD@{1}") == c["two"]  # the switch back to main
    assert repo.resolve("HEAD@{2}") == c["side"]
    assert repo.resolve("main@{0}") == c["three"] and repo.resolve("main@{1}") == c["two"] and repo.resolve("main@{2}") == c["one"]
    assert repo.resolve("@{1}") == c["two"]  # the current branch's own reflog
    assert repo.resolve("exp@{0}~1") == c["two"]
    with pytest.raises(BadInputError, match="the reflog of main has only 3 entries"):
        repo.resolve("main@{3}")
    with pytest.raises(BadInputError, match="not a reflog position or upstream"):
        repo.resolve("main@{yesterday}")


def test_peeling_and_trees(history):
    repo, c = history
    repo.tag("v1", "HEAD~1", message="annotated")
    assert repo.resolve("v1^{commit}") == repo.resolve("v1^{}") == c["two"]
    assert repo.rev_parse("v1^{tree}") == repo.read_commit(c["two"]).tree
    with pytest.raises(BadInputError, match="names a tree, not a version"):
        repo.resolve("HEAD^{tree}")
    with pytest.raises(BadInputError, match=r"\^\{blob\} is not a kind"):
        repo.resolve("HEAD^{blob}")


def test_message_search(history):
    repo, c = history
    assert repo.resolve(":/side") == c["side"]  # on another branch than HEAD's
    assert repo.resolve(":/^t") == c["three"]  # the youngest match: three before two
    assert repo.resolve(":/^one$") == c["one"]
    with pytest.raises(BadInputError, match="no commit's message matches"):
        repo.resolve(":/nothing like this")


def test_upstream(history, tmp_path):
    repo, c = history
    with pytest.raises(BadInputError, match="no remote"):
        repo.resolve("@{u}")
    repo.add_remote("origin", str(tmp_path / "remote"))
    with pytest.raises(BadInputError, match="origin has no branch main here"):
        repo.resolve("main@{upstream}")
    repo.push("origin", ["main"])
    repo.fetch("origin")
    assert repo.resolve("@{u}") == repo.resolve("main@{u}") == repo.resolve("origin/main") == c["three"]
    assert repo.rev_parse("@{u}", abbrev_ref=True) == "origin/main"


def test_diff_since_the_merge_base(history):
    repo, c = history
    since = repo.diff("main...exp")  # what exp did since it left main: side work only
    assert [(ch.kind, ch.path) for ch in since.changes] == [("added", "s.txt")] and since.a.commit == c["two"]
    both = repo.diff("main..exp")
    assert sorted((ch.kind, ch.path) for ch in both.changes) == [("added", "s.txt"), ("removed", "c.txt")]


def test_show_and_rev_parse_on_the_command_line(history):
    repo, c = history
    assert f"commit {c['two']}" in mmvc(repo, "show", "HEAD@{1}").stdout
    assert mmvc(repo, "rev-parse", "HEAD@{1}", "main~2", ":/side").stdout.split() == [c["two"], c["one"], c["side"]]
    assert mmvc(repo, "rev-parse", "--short", "HEAD").stdout == c["three"][:12] + "\n"
    assert mmvc(repo, "rev-parse", "--abbrev-ref", "HEAD", "@{-1}").stdout.split() == ["main", "exp"]
    assert json.loads(mmvc(repo, "rev-parse", "HEAD^{tree}", "--json").stdout) == [repo.read_commit(c["three"]).tree]
    assert "names a tree" in mmvc(repo, "show", "HEAD^{tree}", expect=4).stderr
    out = mmvc(repo, "diff", "main...exp", "--name-status").stdout
    assert out == "A\ts.txt\n"
