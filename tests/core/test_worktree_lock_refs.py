"""Walking the work tree (links, ignore rules, temp files), the repository lock and refs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from mmvc.core.lock import RepoLock
from mmvc.core.refs import RefStore
from mmvc.core.worktree import BAD_NAME, PROTECTED_NAME, WalkResult, WorkTree
from mmvc.errors import BadInputError, ConflictError, CorruptError, LockedError

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
    for rel in ["a.txt", "sub/b.txt", "sp ace/new\nline.txt", "ü/ß.txt", ".mmvc/objects/x", ".git/HEAD", "sub/.git/config", ".hidden",
                "mod/.git", "deep/er/.mmvc/hooks/pre-commit", "sub/.mmvc-tmp-123-abcd", "sub/b.txt.mmvc-tmp-77"]:
        write(tmp_path, rel)
    write(tmp_path, "sub/.GIT/config")  # the same folder as .git on macOS and Windows
    write(tmp_path, "sub/git~1/config")  # .git's NTFS short name
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
        ("sub/.GIT", PROTECTED_NAME),
        ("sub/git~1", PROTECTED_NAME),
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
    write(tmp_path, "sub/.git/config")
    write(tmp_path, "tools/.MMVC/hooks/pre-commit")
    for named in ("sub/.git/config", "tools/.MMVC/hooks/pre-commit", "tools/.MMVC"):
        with pytest.raises(BadInputError, match="never versions"):
            wt.resolve([named], cwd=str(tmp_path))


# --------------------------------------------------------------------------- lock


def test_second_acquire_in_the_same_process_is_refused_at_once(repo):
    with repo.locked("commit"):
        t0 = time.monotonic()
        with pytest.raises(LockedError) as err:
            RepoLock(repo.dir, "add", timeout=30).acquire()
        assert time.monotonic() - t0 < 5  # waiting for itself would never end
        assert f"pid {os.getpid()}" in err.value.message and "commit" in err.value.message
    RepoLock(repo.dir).acquire()  # released on leaving the block


def test_lock_is_released_when_the_block_raises(repo):
    with pytest.raises(RuntimeError):
        with repo.locked("commit"):
            raise RuntimeError("boom")
    assert not os.path.exists(os.path.join(repo.dir, "lock"))


def test_the_lock_file_appears_whole_and_names_its_holder(repo):
    lock = RepoLock(repo.dir, "commit")
    lock.acquire()
    with open(os.path.join(repo.dir, "lock")) as f:
        owner = json.load(f)
    assert owner["pid"] == os.getpid() and owner["command"] == "commit" and owner["flock"] is True
    assert [n for n in os.listdir(repo.dir) if n.startswith(".mmvc-tmp-")] == []  # the temp it was linked from is gone
    lock.release()
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


def _age(path: str, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_note(repo, caplog):
    _leave_lock(repo.dir)
    with caplog.at_level("WARNING", logger="mmvc"):
        with repo.locked("add"):
            with open(os.path.join(repo.dir, "lock")) as f:
                assert json.load(f)["pid"] == os.getpid()
    assert "stale lock" in caplog.text and "`mmvc commit`" in caplog.text and "no longer running" in caplog.text


def test_a_lock_whose_holder_died_is_stale_even_if_its_pid_was_reused(repo, caplog):
    # a holder that flocked its lock: the free flock says it is gone, whatever runs under that pid now
    _leave_lock(repo.dir, pid=os.getppid(), flock=True)
    with caplog.at_level("WARNING", logger="mmvc"):
        RepoLock(repo.dir, "add", timeout=0).acquire()
    assert "no process holds it" in caplog.text


def test_an_empty_or_garbled_lock_is_taken_over_once_it_is_old(repo, caplog):
    path = os.path.join(repo.dir, "lock")
    for content in ("", "{not json"):
        with open(path, "w") as f:
            f.write(content)
        with pytest.raises(LockedError):  # a writer of an older mmvc may be filling it in right now
            RepoLock(repo.dir, timeout=0.2).acquire()
        _age(path, 60)
        with caplog.at_level("WARNING", logger="mmvc"):
            lock = RepoLock(repo.dir, timeout=0)
            lock.acquire()
        assert "unreadable lock file" in caplog.text
        lock.release()


def test_a_live_holder_is_waited_for_a_bounded_time(repo):
    _leave_lock(repo.dir, pid=os.getppid())  # alive, and an older mmvc's lock: no flock to judge by
    t0 = time.monotonic()
    with pytest.raises(LockedError) as err:
        RepoLock(repo.dir, "add", timeout=0.5).acquire()
    assert 0.4 < time.monotonic() - t0 < 5
    assert "stale" not in err.value.message and f"pid {os.getppid()}" in err.value.message
    assert "core.lock_timeout" in err.value.hint


def test_a_waiting_writer_gets_the_lock_when_the_holder_finishes(repo):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mmvc.core.lock import RepoLock; "
                               "l = RepoLock(sys.argv[1], 'commit'); l.acquire(); print('held', flush=True); time.sleep(1); l.release()",
                               repo.dir], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    with repo.locked("add"):
        assert time.monotonic() - t0 > 0.3
    holder.wait()


def test_a_lock_from_another_host_is_not_called_stale(repo):
    _leave_lock(repo.dir, host="some-other-host", flock=True)
    with pytest.raises(LockedError) as err:
        RepoLock(repo.dir, timeout=0).acquire()
    assert "stale" not in err.value.message and "some-other-host" in err.value.message


def test_a_killed_writer_leaves_a_lock_the_next_one_takes_over(repo):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mmvc.core.lock import RepoLock; "
                               "RepoLock(sys.argv[1], 'commit').acquire(); print('held', flush=True); time.sleep(60)",
                               repo.dir], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    RepoLock(repo.dir, "add", timeout=0).acquire()


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
