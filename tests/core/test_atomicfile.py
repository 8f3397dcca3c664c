"""Crash-safe writes: temp names, durable objects by default (``core.fsync_objects`` modes) and the batch flush a writer ends with."""

from __future__ import annotations

import os

import pytest

from mmvc.core import atomicfile
from mmvc.core.config import Config
from mmvc.core.store import LocalObjectStore
from mmvc.errors import FormatError


@pytest.mark.parametrize("written,mode", [(None, "batch"), ("true", "each"), ("false", "batch"), ('"never"', "never"),
                                          ('"each"', "each"), ('"batch"', "batch")])
def test_fsync_modes_and_the_old_booleans(tmp_path, written, mode):
    path = tmp_path / "config.toml"
    path.write_text("[core]\nformat = 1\n" + (f"fsync_objects = {written}\n" if written else ""))
    assert Config.load(str(path)).fsync_objects == mode


def test_an_unknown_fsync_mode_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[core]\nformat = 1\nfsync_objects = "sometimes"\n')
    with pytest.raises(FormatError, match="fsync_objects"):
        Config.load(str(path))


def test_a_batch_writer_flushes_every_file_it_made_visible_when_it_closes(tmp_path):
    store = LocalObjectStore(str(tmp_path / "objects"), pack_threshold=1024, fsync="batch")
    LocalObjectStore.init_layout(store.root)
    w = store.writer()
    small = w.put_bytes(b"a caption")
    big = w.put_bytes(b"x" * 4096)
    assert w.batch == [store.loose_path(big)]  # the pack is still being written
    w.close()
    assert w.batch == []
    assert store.get(small) == b"a caption" and store.get(big) == b"x" * 4096
    assert store.writer(durable=True).batch is None  # commits fsync each file as they go
    assert LocalObjectStore(store.root, fsync="never").writer().batch is None


def test_the_fallback_fsyncs_each_file_and_folder_and_skips_what_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(atomicfile, "_syncfs", False)  # as on a system without syncfs(2)
    paths = []
    for i in range(3):
        p = tmp_path / "d" / f"f{i}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
        paths.append(str(p))
    os.unlink(paths[1])  # replaced by another writer meanwhile
    atomicfile.sync_written(paths, str(tmp_path))
