"""``add`` under faults: nothing half-written, the index as it was, every visible object whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mmvc.core.hashing import hash_bytes
from mmvc.errors import BadInputError, ExitCode, StorageError
from mmvc.ops.add import hash_files
from mmvc.repo import Repo


def _visible_objects_are_whole(repo) -> int:
    repo.store.refresh()
    n = 0
    for oid in repo.store.iter_ids():
        assert hash_bytes(repo.store.get(oid)) == oid
        n += 1
    return n


def _index_bytes(repo) -> bytes | None:
    try:
        with open(os.path.join(repo.dir, "index"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_file_changed_after_listing_is_refused(repo):
    p = os.path.join(repo.root, "a.txt")
    with open(p, "w") as f:
        f.write("first\n")
    walk = repo.worktree.resolve(["a.txt"], cwd=repo.root)
    time.sleep(0.01)
    with open(p, "a") as f:
        f.write("second\n")
    with pytest.raises(BadInputError, match="changed while it was being added"):
        hash_files(repo, walk.files, jobs=1)


def test_ctrl_c_in_the_middle_of_add_leaves_no_partial_state(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    data = tmp_path / "data"
    for d in range(40):
        (data / f"d{d:02d}").mkdir(parents=True)
        for i in range(500):
            (data / f"d{d:02d}" / f"{i}.txt").write_text(f"caption {d} {i}\n" * 40)
    before = _index_bytes(repo)
    proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", str(tmp_path), "add", "data"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    tmp_dir = os.path.join(repo.dir, "objects", "tmp")
    deadline = time.monotonic() + 60
    # interrupt once the workers are writing (a fixed delay lands in interpreter start-up on a busy machine)
    while proc.poll() is None and time.monotonic() < deadline and not os.listdir(tmp_dir):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("add finished before the interrupt arrived on this machine")
    assert proc.returncode == ExitCode.INTERRUPTED, err
    # all or nothing: the interrupt may land after the index was replaced, never halfway
    staged = len(list(repo.load_index().iter_entries()))
    assert _index_bytes(repo) == before or staged == 20000
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
    _visible_objects_are_whole(repo)
    assert [n for n in os.listdir(os.path.join(repo.dir, "objects", "tmp")) if n.startswith("pack-")] == []
    # and the repository still works
    subprocess.run([sys.executable, "-m", "mmvc.cli.main", "-C", str(tmp_path), "add", "data"], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_during_add(small_disk):
    repo = Repo.init(str(small_disk), ungated=True)
    with open(small_disk / "big.wav", "wb") as f:
        f.write(b"RIFF\0\0\0\0WAVE" + os.urandom(int(1.9 * (1 << 20))))
    before = _index_bytes(repo)
    with pytest.raises(StorageError, match="disk full"):
        repo.add(["big.wav"], cwd=str(small_disk))
    assert _index_bytes(repo) == before
    assert os.listdir(os.path.join(repo.dir, "objects", "tmp")) == []
    assert _visible_objects_are_whole(repo) == 0
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
