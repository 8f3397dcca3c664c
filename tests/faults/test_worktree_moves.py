"""Interrupted moves of the work tree (switch, checkout, merge): killed at a named failpoint
after some of their files were written, the next command finishes them (or ``merge --abort``
undoes them); the repository passes fsck, every version is intact, no temp file is left or
staged, and nobody is asked for ``--force``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from mmvc.repo import Repo

N_FILES = 12


def mmvc(root, *args, env_extra=None, check=True):
    env = dict(os.environ)
    env.pop("MMVC_FAILPOINT", None)
    env.update(env_extra or {})
    res = subprocess.run([sys.executable, "-m", "mmvc.cli.main", "-C", str(root), *args], capture_output=True, text=True, env=env)
    if check:
        assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def killed_at(root, point: str, n: int, *args):
    res = mmvc(root, *args, env_extra={"MMVC_FAILPOINT": f"{point}:{n}"}, check=False)
    assert res.returncode == -signal.SIGKILL, (res.returncode, res.stderr)
    return res


def files(root) -> dict[str, bytes]:
    out = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".mmvc"]
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = open(p, "rb").read()
    return out


@pytest.fixture
def two_branches(tmp_path):
    """main and other differ in every file: changed, removed on one side, added on the other."""
    root = tmp_path / "r"
    root.mkdir()
    Repo.init(str(root), ungated=True)
    for i in range(N_FILES):
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"f{i:02d}.txt").write_text(f"main {i}\n")
    (root / "only-main.txt").write_text("main only\n")
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "main")
    mmvc(root, "switch", "-c", "other")
    for i in range(N_FILES):
        (root / "data" / f"f{i:02d}.txt").write_text(f"other {i}\n")
    os.unlink(root / "only-main.txt")
    (root / "only-other.txt").write_text("other only\n")
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "other")
    want_other = files(root)
    mmvc(root, "switch", "main")
    return root, files(root), want_other


def assert_sound(root, want: dict[str, bytes], branch: str):
    repo = Repo(str(root))
    assert repo.head()[0] == f"refs/heads/{branch}"
    assert files(root) == want  # every file of the version, nothing else: no temp file left
    status = mmvc(root, "status", "--json").stdout
    assert '"clean": true' in status, status
    assert not os.path.exists(repo.layout.worktree_op)
    mmvc(root, "fsck")


@pytest.mark.parametrize("n", [1, 5, N_FILES + 1])
def test_the_next_command_finishes_an_interrupted_switch(two_branches, n):
    root, _, want_other = two_branches
    killed_at(root, "worktree-file", n, "switch", "other")
    assert "interrupted switch to other" in mmvc(root, "status").stdout  # a reader says so, and changes nothing
    res = mmvc(root, "branch", "later")  # any writing command
    assert "finished the interrupted move of the work tree to other" in res.stderr
    assert_sound(root, want_other, "other")


def test_a_switch_killed_after_the_index_is_written_is_finished_too(two_branches):
    root, _, want_other = two_branches
    killed_at(root, "worktree-index", 1, "switch", "other")
    mmvc(root, "tag", "t1")
    assert_sound(root, want_other, "other")


def test_running_the_same_switch_again_finishes_it_without_force(two_branches):
    root, _, want_other = two_branches
    killed_at(root, "worktree-file", 3, "switch", "other")
    mmvc(root, "switch", "other")
    assert_sound(root, want_other, "other")


def test_switching_back_after_an_interrupted_switch_needs_no_force(two_branches):
    root, want_main, want_other = two_branches
    killed_at(root, "worktree-file", 4, "switch", "other")
    mmvc(root, "switch", "main")  # the interrupted move is finished first, then this one runs
    assert_sound(root, want_main, "main")


def test_a_checkout_of_a_commit_is_finished_detached(two_branches):
    root, _, want_other = two_branches
    other = Repo(str(root)).resolve("other")
    killed_at(root, "worktree-file", 2, "checkout", other)
    mmvc(root, "branch", "x")
    repo = Repo(str(root))
    assert repo.head() == (None, other)
    assert files(root) == want_other


def test_a_temp_file_left_by_a_killed_writer_is_removed_and_never_staged(two_branches):
    root, _, want_other = two_branches
    killed_at(root, "worktree-file", 2, "switch", "other")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (root / "data" / f".mmvc-tmp-{dead.pid}-0123abcd").write_text("half a file")
    assert ".mmvc-tmp-" not in mmvc(root, "status", "-v").stdout
    mmvc(root, "branch", "y")
    assert_sound(root, want_other, "other")


def test_local_changes_made_since_stop_the_finish_with_a_way_out(two_branches):
    root, _, want_other = two_branches
    killed_at(root, "worktree-file", 3, "switch", "other")
    (root / "data" / "f11.txt").write_text("edited meanwhile\n")  # not written yet by the killed switch
    res = mmvc(root, "branch", "z", check=False)
    assert res.returncode == 8, res.stderr
    assert "interrupted move of the work tree to other cannot be finished" in res.stderr
    assert "mmvc switch -f other" in res.stderr
    mmvc(root, "switch", "-f", "other")
    assert_sound(root, want_other, "other")


@pytest.fixture
def diverged(two_branches):
    """main and other both changed since their base, on different paths: a clean three-way merge."""
    root, _, _ = two_branches
    mmvc(root, "switch", "-c", "side")
    for i in range(N_FILES):
        (root / "data" / f"side{i:02d}.txt").write_text(f"side {i}\n")
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "side")
    want_side = files(root)
    mmvc(root, "switch", "main")
    (root / "main-later.txt").write_text("later on main\n")
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "main later")
    want_merged = {**files(root), **{k: v for k, v in want_side.items() if k.startswith("data/side")}}
    return root, files(root), want_merged


@pytest.mark.parametrize("n", [1, 6])
def test_merge_continue_finishes_an_interrupted_merge(diverged, n):
    root, _, want_merged = diverged
    killed_at(root, "worktree-file", n, "merge", "side")
    res = mmvc(root, "merge", "side", check=False)  # running it again says what to do
    assert res.returncode != 0 and "--continue" in res.stderr and "--force" not in res.stderr
    mmvc(root, "merge", "--continue")
    repo = Repo(str(root))
    assert len(repo.read_commit(repo.head()[1]).parents) == 2
    assert files(root) == want_merged
    mmvc(root, "fsck")


@pytest.mark.parametrize("point,n", [("worktree-file", 3), ("worktree-index", 1)])
def test_merge_abort_undoes_an_interrupted_merge(diverged, point, n):
    root, want_main, _ = diverged
    head = Repo(str(root)).head()
    killed_at(root, point, n, "merge", "side")
    mmvc(root, "merge", "--abort")
    assert Repo(str(root)).head() == head
    assert files(root) == want_main
    assert '"clean": true' in mmvc(root, "status", "--json").stdout
    mmvc(root, "fsck")
