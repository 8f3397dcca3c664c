"""Branches, tags, switch/checkout, merge, hooks and the reflog on real repositories."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmvc.errors import BadInputError, ConflictError, CorruptError, HookError
from mmvc.ops.branch import create_branch, delete_branch, list_branches, rename_branch
from mmvc.ops.checkout import checkout, switch
from mmvc.repo import Repo
from mmvc.ops.merge import merge, merge_abort, merge_continue
from mmvc.ops.tag import create_tag, list_tags


def write(root, rel, text):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def read(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


def commit_files(repo, files: dict, msg: str):
    for rel, text in files.items():
        if text is None:
            os.unlink(os.path.join(repo.root, rel))
        else:
            write(repo.root, rel, text)
    repo.add(["."], cwd=repo.root)
    return repo.commit(msg).oid


def tree_files(root):
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".mmvc"]
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = open(p).read()
    return out


@pytest.mark.parametrize("bad", ["", "a..b", "a b", "-x", "x/", "x.lock", "a~1", "a^", "a:b", "a?", "a*", "a[", "@", "x@{y", ".hidden", "a//b"])
def test_invalid_ref_names(repo, bad):
    commit_files(repo, {"a.txt": "a"}, "one")
    with pytest.raises(BadInputError, match="not a valid"):
        create_branch(repo, bad)


def test_branch_lifecycle(repo):
    c1 = commit_files(repo, {"a.txt": "a"}, "one")
    create_branch(repo, "exp")
    assert [(b.name, b.current) for b in list_branches(repo)] == [("exp", False), ("main", True)]
    switch(repo, "exp")
    c2 = commit_files(repo, {"b.txt": "b"}, "two")
    switch(repo, "main")
    with pytest.raises(ConflictError, match="not fully merged"):
        delete_branch(repo, "exp")
    with pytest.raises(ConflictError, match="current branch"):
        delete_branch(repo, "main")
    rename_branch(repo, "exp", "exp2")
    assert repo.resolve("exp2") == c2 and repo.resolve("main") == c1
    delete_branch(repo, "exp2", force=True)
    assert [b.name for b in list_branches(repo)] == ["main"]


def test_tags_and_revision_syntax(repo):
    c1 = commit_files(repo, {"a.txt": "a"}, "one")
    c2 = commit_files(repo, {"a.txt": "b"}, "two")
    create_tag(repo, "v1", c1, message="first release")
    create_tag(repo, "light")
    tags = {t.name: t for t in list_tags(repo)}
    assert tags["v1"].annotated and tags["v1"].target == c1 and tags["light"].target == c2
    assert repo.resolve("v1") == c1 and repo.resolve("HEAD~1") == c1 and repo.resolve("main^") == c1
    assert repo.resolve(c2[:8]) == c2
    with pytest.raises(BadInputError, match="past the first commit"):
        repo.resolve("HEAD~5")
    create_branch(repo, "exp")
    switch(repo, "exp")
    switch(repo, "main")
    assert repo.resolve("@{-1}") == c2 and switch(repo, "-").branch == "refs/heads/exp"


def test_switch_touches_only_what_differs_and_protects_local_work(repo):
    commit_files(repo, {f"d/{i}.txt": str(i) for i in range(50)}, "base")
    create_branch(repo, "exp")
    switch(repo, "exp")
    commit_files(repo, {"d/3.txt": "three", "d/4.txt": None, "new/x.txt": "x"}, "exp changes")
    untouched = os.stat(os.path.join(repo.root, "d/10.txt")).st_ino
    r = switch(repo, "main")
    assert (r.written, r.removed) == (2, 1)  # d/3 and d/4 written back; new/x removed
    assert os.stat(os.path.join(repo.root, "d/10.txt")).st_ino == untouched
    assert not os.path.exists(os.path.join(repo.root, "new"))
    write(repo.root, "d/3.txt", "local edit")
    with pytest.raises(ConflictError, match="d/3.txt"):
        switch(repo, "exp")
    assert read(repo.root, "d/3.txt") == "local edit" and repo.head()[0] == "refs/heads/main"
    write(repo.root, "new/x.txt", "untracked in the way")
    with pytest.raises(ConflictError, match="untracked"):
        switch(repo, "exp", force=False)
    os.unlink(os.path.join(repo.root, "new/x.txt"))
    write(repo.root, "d/20.txt", "edit to a file both versions share")
    with pytest.raises(ConflictError):
        switch(repo, "exp")
    switch(repo, "exp", force=True)
    assert read(repo.root, "d/3.txt") == "three" and read(repo.root, "d/20.txt") == "edit to a file both versions share"
    assert [c.path for c in repo.status().unstaged] == ["d/20.txt"]  # carried over, as git does


def test_checkout_detached_sparse_and_paths(repo):
    c1 = commit_files(repo, {"images/a.png": "A", "images/b.png": "B", "text/a.txt": "t"}, "one")
    c2 = commit_files(repo, {"images/c.png": "C"}, "two")
    checkout(repo, c1)
    assert repo.head() == (None, c1) and not os.path.exists(os.path.join(repo.root, "images/c.png"))
    checkout(repo, "main", sparse=["images/**"])
    assert sorted(tree_files(repo.root)) == ["images/a.png", "images/b.png", "images/c.png"]
    assert repo.status().clean  # left-out items are not reported as deleted
    switch(repo, "main")
    checkout(repo, "main", no_sparse=True)
    assert "text/a.txt" in tree_files(repo.root)
    write(repo.root, "images/a.png", "changed")
    repo.add(["images"], cwd=repo.root)
    repo.commit("three")
    checkout(repo, c2, paths=["images/a.png"], cwd=repo.root)
    assert read(repo.root, "images/a.png") == "A"


def test_checkout_refuses_missing_objects_before_touching_anything(repo):
    commit_files(repo, {"a.txt": "a"}, "one")
    create_branch(repo, "exp")
    switch(repo, "exp")
    c2 = commit_files(repo, {"b.txt": "b" * 300_000}, "big")  # large: a loose object
    switch(repo, "main")
    oid = next(e.oid for e in repo.ls_files(c2) if e.path == "b.txt")
    path = repo.store.loose_path(oid)
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    os.unlink(path)
    before = tree_files(repo.root)
    with pytest.raises(CorruptError, match="missing"):
        switch(repo, "exp")
    assert tree_files(repo.root) == before and repo.head()[0] == "refs/heads/main"


def test_manifest_paths_cannot_escape_the_work_tree(repo, tmp_path):
    commit_files(repo, {"data/a.txt": "a"}, "one")
    create_branch(repo, "exp")
    switch(repo, "exp")
    commit_files(repo, {"data/b.txt": "b"}, "two")
    switch(repo, "main")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.rename(os.path.join(repo.root, "data"), os.path.join(repo.root, "data-real"))
    os.symlink(outside, os.path.join(repo.root, "data"))
    with pytest.raises(BadInputError, match="symbolic link"):
        switch(repo, "exp", force=True)
    assert list(outside.iterdir()) == []


def test_fast_forward_three_way_and_conflicts(repo):
    commit_files(repo, {"a.txt": "a", "b.txt": "b", "c.txt": "c"}, "base")
    create_branch(repo, "left")
    create_branch(repo, "right")
    switch(repo, "left")
    left = commit_files(repo, {"a.txt": "L", "c.txt": "L"}, "left")
    switch(repo, "main")
    assert merge(repo, "left").status == "fast-forward" and repo.resolve("main") == left
    assert merge(repo, "left").status == "up-to-date"
    switch(repo, "right")
    commit_files(repo, {"b.txt": "R", "c.txt": "R"}, "right")
    r = merge(repo, "left")
    assert r.status == "conflicts" and [c.path for c in r.conflicts] == ["c.txt"]
    assert os.path.exists(os.path.join(repo.dir, "MERGE_HEAD"))
    assert read(repo.root, "a.txt") == "L" and read(repo.root, "c.txt") == "R"
    with pytest.raises(ConflictError, match="already in progress"):
        merge(repo, "left")
    merge_abort(repo)
    assert read(repo.root, "a.txt") == "a" and not os.path.exists(os.path.join(repo.dir, "MERGE_HEAD"))
    assert repo.status().clean
    r = merge(repo, "left")
    assert merge_continue(repo).status == "conflicts"
    write(repo.root, "c.txt", "resolved")
    repo.add(["c.txt"], cwd=repo.root)
    done = merge_continue(repo)
    assert done.status == "merged"
    c = repo.read_commit(done.commit)
    assert len(c.parents) == 2 and repo.status().clean
    assert tree_files(repo.root) == {"a.txt": "L", "b.txt": "R", "c.txt": "resolved"}


def test_merge_strategies(repo):
    commit_files(repo, {"img/a.png": "a", "cap/a.txt": "a"}, "base")
    create_branch(repo, "other")
    switch(repo, "other")
    commit_files(repo, {"img/a.png": "theirs", "cap/a.txt": "theirs"}, "theirs")
    switch(repo, "main")
    commit_files(repo, {"img/a.png": "ours", "cap/a.txt": "ours"}, "ours")
    r = merge(repo, "other", strategies=["theirs:img/*", "ours"])
    assert r.status == "merged"
    assert tree_files(repo.root) == {"img/a.png": "theirs", "cap/a.txt": "ours"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.dictionaries(st.sampled_from([f"k{i}" for i in range(12)]), st.sampled_from(["x", "y"]), min_size=1),
    left=st.dictionaries(st.sampled_from([f"k{i}" for i in range(12)]), st.sampled_from(["l", None])),
    right=st.dictionaries(st.sampled_from([f"k{i}" for i in range(12)]), st.sampled_from(["r", None])),
)
def test_merge_is_symmetric_up_to_conflicts(tmp_path_factory, base, left, right):
    """merge(a, b) and merge(b, a) give the same tree, and a path is a conflict exactly when
    both sides changed it differently."""
    roots = []
    conflicts = []
    for first, second in (("left", "right"), ("right", "left")):
        repo = Repo.init(str(tmp_path_factory.mktemp("m")), ungated=True)
        commit_files(repo, {f"{k}.txt": v for k, v in base.items()}, "base")
        for name, change in (("left", left), ("right", right)):
            create_branch(repo, name, "main")
            switch(repo, name)
            files = {}
            for k, v in change.items():
                if v is None and k not in base:
                    continue
                files[f"{k}.txt"] = v
            if files:
                commit_files(repo, files, name)
            switch(repo, "main")
        switch(repo, first)
        r = merge(repo, second, strategies=[])
        conflicts.append(sorted(c.path for c in r.conflicts))
        if r.status == "conflicts":
            merge_abort(repo)
            roots.append(None)
        else:
            roots.append(repo.read_commit(repo.head()[1]).tree)
    expected = sorted(f"{k}.txt" for k in set(left) & set(right)
                      if left[k] != right[k] and not (left[k] is None and right[k] is None))
    expected = [p for p in expected if not (p[:-4] not in base and (left[p[:-4]] is None or right[p[:-4]] is None))]
    assert conflicts[0] == conflicts[1]
    if not conflicts[0]:
        assert roots[0] == roots[1]


def test_hooks(repo):
    commit_files(repo, {"a.txt": "a"}, "one")
    hooks = os.path.join(repo.dir, "hooks")
    with open(os.path.join(hooks, "pre-commit"), "w") as f:
        f.write('#!/bin/sh\necho "checked $MMVC_BRANCH $MMVC_OLD" > "$MMVC_DIR/hook-ran"\nexit 1\n')
    os.chmod(os.path.join(hooks, "pre-commit"), 0o755)
    write(repo.root, "b.txt", "b")
    repo.add(["b.txt"], cwd=repo.root)
    with pytest.raises(HookError, match="pre-commit hook refused"):
        repo.commit("blocked")
    head = repo.head()[1]
    assert read(repo.dir, "hook-ran").strip() == f"checked main {head}"
    repo.commit("skipped hooks", no_verify=True)
    with open(os.path.join(hooks, "pre-commit"), "w") as f:
        f.write("#!/bin/sh\nsleep 30\n")
    with open(os.path.join(repo.dir, "config.toml"), "a") as f:
        f.write("\n[hooks]\ntimeout = 0.5\n")
    from mmvc.repo import Repo

    repo = Repo(repo.root)
    write(repo.root, "c.txt", "c")
    repo.add(["c.txt"], cwd=repo.root)
    with pytest.raises(HookError, match="did not finish"):
        repo.commit("hangs")


def test_reflog_records_moves(repo):
    commit_files(repo, {"a.txt": "a"}, "one")
    create_branch(repo, "exp")
    switch(repo, "exp")
    from mmvc.ops.reflog import reflog

    msgs = [e["message"] for e in reflog(repo)]
    assert msgs[0] == "checkout: moving from main to exp" and msgs[-1].startswith("commit (initial)")


def test_log_all_graph_json(repo):
    from click.testing import CliRunner

    from mmvc.cli.main import cli

    commit_files(repo, {"a.txt": "a"}, "one")
    create_branch(repo, "exp")
    switch(repo, "exp")
    commit_files(repo, {"b.txt": "b"}, "two")
    switch(repo, "main")
    commit_files(repo, {"c.txt": "c"}, "three")
    merge(repo, "exp")
    res = CliRunner().invoke(cli, ["-C", repo.root, "log", "--all", "--graph", "--oneline"])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    graph = [re.match(r"[*|\\/ ]*", line).group().rstrip() for line in lines]
    assert graph == ["*", "|\\", "* |", "| *", "|/", "*"], res.output  # the merge forks, the branches join
    assert "(main)" in lines[0] and "(exp)" in lines[3] and lines[2].endswith("three") and lines[5].endswith("one")
    data = json.loads(CliRunner().invoke(cli, ["-C", repo.root, "log", "--json"]).output)
    assert len(data[0]["parents"]) == 2
    seen = set()
    for e in data:  # topological: every commit before its parents
        assert not (set(e["parents"]) & seen)
        seen.add(e["oid"])
