"""Item keys, walking the work tree (links, ignore rules), the repository lock and refs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from mmvc.core.lock import RepoLock
from mmvc.core.refs import RefStore
from mmvc.core.worktree import BAD_NAME, WalkResult, WorkTree, validate_key
from mmvc.errors import BadInputError, ConflictError, CorruptError, LockedError

# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "/", "a/../b", "..", "./a", "a/./b", "a//b", "a/", "a\0b", ".mmvc/x", ".mmvc", ".git/HEAD", "caf\udce9.txt"],
)
def test_validate_key_rejects(key):
    with pytest.raises(BadInputError):
        validate_key(key)


@pytest.mark.parametrize("key", ["a", "a b/c\nd.txt", "ü/日本.wav", ".hidden", "x/.mmvc", ".mmvcx/y", "..a/b..", "x/.git/y"])
def test_validate_key_accepts(key):
    assert validate_key(key) == key


# --------------------------------------------------------------------------- walking


def write(root, rel: str, data: str = "x") -> None:
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def walk(root, dir_key: str = "") -> WalkResult:
    out = WalkResult()
    WorkTree(str(root)).walk(dir_key, out)
    return out


def test_walk_skips_links_special_files_and_repository_folders(tmp_path):
    for rel in ["a.txt", "sub/b.txt", "sp ace/new\nline.txt", "ü/ß.txt", ".mmvc/objects/x", ".git/HEAD", "sub/.git/config", ".hidden"]:
        write(tmp_path, rel)
    os.symlink("a.txt", tmp_path / "link.txt")
    os.symlink("sub", tmp_path / "dirlink")
    os.symlink("/etc/passwd", tmp_path / "sub" / "outside")
    os.mkfifo(tmp_path / "fifo")
    out = walk(tmp_path)
    assert sorted(f.key for f in out.files) == [".hidden", "a.txt", "sp ace/new\nline.txt", "sub/b.txt", "ü/ß.txt"]
    assert sorted(out.skipped) == [
        ("dirlink", "symbolic link (not followed)"),
        ("fifo", "not a regular file"),
        ("link.txt", "symbolic link (not followed)"),
        ("sub/outside", "symbolic link (not followed)"),
    ]
    f = next(f for f in out.files if f.key == "sub/b.txt")
    st = os.stat(tmp_path / "sub" / "b.txt")
    assert (f.size, f.mtime_ns, f.ino) == (1, st.st_mtime_ns, st.st_ino)


def test_walk_reports_names_that_are_not_utf8(tmp_path):
    write(tmp_path, "ok.txt")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt"), "wb") as f:
        f.write(b"x")
    out = walk(tmp_path)
    assert [f.key for f in out.files] == ["ok.txt"]
    assert out.skipped == [("caf\\xe9.txt", BAD_NAME)]


def test_walk_honours_root_and_nested_ignore_files(tmp_path):
    write(tmp_path, ".mmvcignore", "# logs and scratch\n*.log\n!keep.log\ntmp/\n/top-only.txt\n")
    write(tmp_path, "sub/.mmvcignore", "*.bin\n!important.log\n")
    files = [
        "a.txt",
        "x.log",  # *.log
        "keep.log",  # !keep.log
        "tmp/scratch.txt",  # tmp/ (a folder)
        "deep/tmp/scratch.txt",  # tmp/ matches at any depth
        "data/tmp",  # a *file* named tmp is not matched by the folder pattern
        "top-only.txt",  # anchored pattern: only at the root
        "nested/top-only.txt",
        "sub/x.bin",  # sub/.mmvcignore
        "other/x.bin",  # the nested rule does not apply outside sub/
        "sub/y.log",  # the root rule applies below sub/ too
        "sub/important.log",  # re-included by the nested file
        "sub/deeper/z.bin",  # nested rules apply below their folder
    ]
    for rel in files:
        write(tmp_path, rel)
    out = walk(tmp_path)
    assert sorted(f.key for f in out.files) == ["a.txt", "data/tmp", "keep.log", "nested/top-only.txt", "other/x.bin", "sub/important.log"]
    assert out.skipped == []
    # walking a sub-folder applies the rules of the folders above it
    assert sorted(f.key for f in walk(tmp_path, "sub").files) == ["sub/important.log"]


def test_ignored_links_are_not_reported(tmp_path):
    write(tmp_path, ".mmvcignore", "*.lnk\n")
    write(tmp_path, "a.txt")
    os.symlink("a.txt", tmp_path / "x.lnk")
    out = walk(tmp_path)
    assert [f.key for f in out.files] == ["a.txt"] and out.skipped == []


def test_resolve_explicit_paths(tmp_path):
    write(tmp_path, ".mmvcignore", "*.log\n")
    write(tmp_path, "d/a.txt")
    write(tmp_path, "x.log")
    os.symlink("d/a.txt", tmp_path / "link")
    wt = WorkTree(str(tmp_path))
    res = wt.resolve(["d", "missing.txt"], cwd=str(tmp_path))
    assert [f.key for f in res.files] == ["d/a.txt"] and res.covered == ["d"] and res.explicit == ["missing.txt"]
    with pytest.raises(BadInputError, match="ignored"):
        wt.resolve(["x.log"], cwd=str(tmp_path))
    assert [f.key for f in wt.resolve(["x.log"], cwd=str(tmp_path), force=True).files] == ["x.log"]
    with pytest.raises(BadInputError, match="symbolic link"):
        wt.resolve(["link"], cwd=str(tmp_path))
    with pytest.raises(BadInputError, match="outside"):
        wt.resolve(["../elsewhere"], cwd=str(tmp_path))


# --------------------------------------------------------------------------- lock


def test_second_acquire_is_refused_naming_the_holder(repo):
    with repo.locked("commit"):
        with pytest.raises(LockedError) as err:
            RepoLock(repo.dir, "add").acquire()
        assert f"pid {os.getpid()}" in err.value.message and "commit" in err.value.message
        assert "stale" not in err.value.message
    RepoLock(repo.dir).acquire()  # released on leaving the block


def test_lock_is_released_when_the_block_raises(repo):
    with pytest.raises(RuntimeError):
        with repo.locked("commit"):
            raise RuntimeError("boom")
    assert not os.path.exists(os.path.join(repo.dir, "lock"))


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _leave_lock(mmvc_dir: str, **owner) -> None:
    info = {"pid": _dead_pid(), "host": socket.gethostname(), "since": int(time.time()) - 60, "command": "commit"}
    info.update(owner)
    with open(os.path.join(mmvc_dir, "lock"), "w") as f:
        json.dump(info, f)


def test_a_lock_left_by_a_dead_process_is_reported_as_stale(repo):
    _leave_lock(repo.dir)
    with pytest.raises(LockedError) as err:
        RepoLock(repo.dir).acquire()
    assert "stale" in err.value.message and "no longer running" in err.value.message
    assert "rm " in err.value.hint
    assert os.path.exists(os.path.join(repo.dir, "lock"))  # reported, never silently broken


def test_a_lock_from_another_host_is_not_called_stale(repo):
    _leave_lock(repo.dir, host="some-other-host")
    with pytest.raises(LockedError) as err:
        RepoLock(repo.dir).acquire()
    assert "stale" not in err.value.message and "some-other-host" in err.value.message


def test_an_unreadable_lock_file_still_locks(repo):
    with open(os.path.join(repo.dir, "lock"), "w") as f:
        f.write("{not json")
    with pytest.raises(LockedError):
        RepoLock(repo.dir).acquire()


# --------------------------------------------------------------------------- refs

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32


def test_refs_move_by_compare_and_swap(repo):
    refs = repo.refs
    assert refs.head_target() == ("refs/heads/main", None)
    refs.update("refs/heads/main", A, None)
    assert refs.head_target() == ("refs/heads/main", A)
    with pytest.raises(ConflictError):
        refs.update("refs/heads/main", B, None)  # expected "no ref" but one exists
    with pytest.raises(ConflictError):
        refs.update("refs/heads/main", B, C)  # expected the wrong commit
    assert refs.read("refs/heads/main") == A  # a failed update changes nothing
    refs.update("refs/heads/main", B, A)
    assert refs.read("refs/heads/main") == B
    with pytest.raises(ConflictError):
        refs.update("refs/heads/new", C, A)  # expected a value for a ref that does not exist
    refs.update("refs/heads/feature/x", C, None)
    assert refs.list() == {"refs/heads/feature/x": C, "refs/heads/main": B}
    assert RefStore(repo.dir).read("refs/heads/feature/x") == C  # persisted


def test_detached_and_corrupt_refs(repo):
    refs = repo.refs
    with open(refs.head_path, "w") as f:
        f.write(A + "\n")
    assert refs.head_target() == (None, A)
    with open(refs.head_path, "w") as f:
        f.write("garbage\n")
    with pytest.raises(CorruptError):
        refs.head_target()
    with open(os.path.join(repo.dir, "refs", "heads", "bad"), "w") as f:
        f.write("not an id\n")
    with pytest.raises(CorruptError):
        refs.read("refs/heads/bad")
    assert refs.read("refs/heads/absent") is None
