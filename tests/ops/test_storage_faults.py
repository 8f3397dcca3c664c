"""A full disk or a read-only file system under a writing command: the documented storage error
(exit 10) with a hint, never a traceback, never a lock left behind, and the repository as it
was, so the same command succeeds once there is room again."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ExitCode
from mmvc.ops.init import init
from mmvc.repo import Repo


def mmvc(root, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", str(root), *args])
    assert res.exit_code == expect, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def write_files(root, n: int, prefix: str = "f") -> None:
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, "data", f"{prefix}{i:04d}-{'x' * 40}.txt"), "w") as f:
            f.write(f"caption {prefix} {i}\n")


def no_lock(root) -> bool:
    return not os.path.exists(os.path.join(root, ".mmvc", "lock"))


def test_disk_full_at_commit_is_a_storage_error_and_leaves_no_lock(small_disk):
    root = small_disk.path / "repo"
    init(str(root), ungated=True)
    write_files(root, 600)
    mmvc(root, "add", ".")
    small_disk.fill(leave=8192)  # room for the lock, not for the version's manifest
    res = mmvc(root, "commit", "-m", "v1", expect=ExitCode.IO)
    assert "disk full" in res.output and "hint:" in res.output
    assert no_lock(root)
    assert Repo(root).head()[1] is None  # no ref names anything half-written
    res = mmvc(root, "status", "--json")  # readers are not blocked
    small_disk.free()
    mmvc(root, "commit", "-m", "v1")  # the next writer is not blocked either
    assert Repo(root).fsck().ok


def test_disk_full_while_taking_the_lock_or_adding(small_disk):
    root = small_disk.path / "repo"
    init(str(root), ungated=True)
    write_files(root, 3)
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "v1")
    write_files(root, 3, prefix="g")
    small_disk.fill(leave=0)
    for args in (("add", "."), ("commit", "-m", "x"), ("branch", "b"), ("tag", "t")):
        res = mmvc(root, *args, expect=ExitCode.IO)
        assert "disk full" in res.output
        assert no_lock(root)
    assert [n for n in os.listdir(root / ".mmvc") if n.startswith(".mmvc-tmp-")] == []
    small_disk.free()
    big = os.path.join(root, "data", "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(2 << 20))
    small_disk.fill(leave=1 << 20)  # the big file cannot be stored
    res = mmvc(root, "add", "--modality", "image", "data/big.bin", expect=ExitCode.IO)
    assert "disk full" in res.output and no_lock(root)
    small_disk.free()
    os.unlink(big)
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "ok")
    assert Repo(root).fsck().ok


def test_read_only_file_system_is_a_storage_error_for_every_writer(small_disk):
    root = small_disk.path / "repo"
    init(str(root), ungated=True)
    write_files(root, 3)
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "v1")
    write_files(root, 2, prefix="g")
    small_disk.remount("ro")
    try:
        for args in (("add", "."), ("commit", "-m", "x"), ("branch", "b"), ("tag", "t"), ("config", "core.jobs", "2"),
                     ("rm", "--cached", "-r", "data"), ("gc",)):
            res = mmvc(root, *args, expect=ExitCode.IO)
            assert "read-only file system" in res.output and "hint:" in res.output, args
        assert "nothing to commit" not in mmvc(root, "status").output
        assert Repo(root).fsck(quick=True).ok  # readers work on a read-only repository
    finally:
        small_disk.remount("rw")
    mmvc(root, "add", ".")


def test_a_failed_push_leaves_no_temp_files_on_a_file_remote(small_disk, tmp_path):
    from mmvc.ops.remote import add_remote

    src = init(str(tmp_path / "src"), ungated=True)
    write_files(src.root, 20)
    with open(os.path.join(src.root, "data", "big.bin"), "wb") as f:
        f.write(os.urandom(2 << 20))
    mmvc(src.root, "add", "--modality", "image", "data/big.bin")
    mmvc(src.root, "add", ".")
    mmvc(src.root, "commit", "-m", "v1")
    add_remote(src, "origin", f"file://{small_disk.path}/remote")
    small_disk.fill(leave=1 << 20)
    res = mmvc(src.root, "push", expect=ExitCode.REMOTE)
    assert "No space left" in res.output or "disk full" in res.output
    left = [os.path.join(d, n) for d, _, names in os.walk(small_disk.path / "remote") for n in names if ".tmp-" in n]
    assert left == []
    small_disk.free()
    mmvc(src.root, "push")
    assert Repo(src.root).refs.read("refs/remotes/origin/main") == Repo(src.root).head()[1]


@pytest.mark.parametrize("text,expect", [
    ("[core]\nformat = 1\npack_threshold = 'big'\n", "core.pack_threshold must be an integer, not 'big'"),
    ("[core]\nformat = 1\nlink = 5\n", "core.link must be a string or a list"),
    ("[core]\nformat = 1\nlock_timeout = -1\n", "core.lock_timeout must be a number of at least 0"),
    ("[core]\nformat = 1\nportability = 'maybe'\n", 'core.portability must be "refuse" or "warn" or "off"'),
    ("[core]\nformat = 1\nfsync_objects = 'sometimes'\n", "core.fsync_objects must be"),
    ("[core]\nformat = 1\n[process]\ngated = 'yes'\n", "process.gated must be true or false"),
    ("[core]\nformat = 1\n[hooks]\ntimeout = 'long'\n", "hooks.timeout must be"),
    ("core = 5\n", "core must be a [core] table"),
    ("[core]\nformat = '1'\n", "core.format must be an integer"),
])
def test_a_config_with_wrong_types_is_one_line_naming_the_key(repo, text, expect):
    with open(os.path.join(repo.dir, "config.toml"), "w") as f:
        f.write(text)
    res = mmvc(repo.root, "status", expect=ExitCode.FORMAT)
    assert expect in res.output and "config.toml" in res.output


def test_a_config_that_is_not_utf8_names_the_line(repo):
    with open(os.path.join(repo.dir, "config.toml"), "ab") as f:
        f.write(b"\n# caf\xe9\n")
    res = mmvc(repo.root, "log", expect=ExitCode.FORMAT)
    assert "not UTF-8" in res.output and "byte 0xe9" in res.output and "line" in res.output


def test_a_process_setting_of_the_wrong_type_is_a_config_error(tmp_path):
    root = tmp_path / "gated"
    init(str(root))
    with open(root / ".mmvc" / "config.toml", "a") as f:
        f.write('[process.semantic]\neps = "tight"\n')
    (root / "a.txt").write_text("a caption\n")
    mmvc(root, "add", "a.txt")
    res = mmvc(root, "commit", "-m", "x", expect=ExitCode.FORMAT)
    assert "[process]" in res.output and "'tight'" in res.output


def test_mmvc_config_edits_a_section_whose_header_has_a_comment(repo):
    path = os.path.join(repo.dir, "config.toml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("[process]\n", "[process]  # the gate\n"))
    mmvc(repo.root, "config", "process.gated", "true", expect=0)
    from mmvc.core.config import Config

    assert Config.load(path).gated is True
