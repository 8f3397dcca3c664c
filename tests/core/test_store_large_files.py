"""``LocalObjectWriter.put_file`` of a file above the pack threshold: one pass over its bytes,
in windows, into a loose object, whichever link mode stores it."""

from __future__ import annotations

import os

import pytest

from mmvc.core.store import LocalObjectStore


@pytest.mark.parametrize("modes", [("reflink", "copy"), ("copy",), ("hardlink", "copy")])
def test_a_large_file_is_copied_and_hashed_window_by_window(tmp_path, monkeypatch, modes):
    """Windows of 8 KiB over a 50,000-byte file (the last one partial): the object holds the
    file's bytes under their id, whichever link mode stores it."""
    import mmvc.core.store as store_module
    from mmvc.core.hashing import hash_bytes

    monkeypatch.setattr(store_module, "HASH_WINDOW", 8192)
    root = str(tmp_path / "objects")
    LocalObjectStore.init_layout(root)
    store = LocalObjectStore(root, fsync=True, pack_threshold=1024, link_modes=modes)
    data = os.urandom(50_000)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    with store.writer() as w:
        oid, size, head = w.put_file(str(src), head=16)
    assert (oid, size, head) == (hash_bytes(data), 50_000, data[:16])
    assert store.get(oid) == data
    if modes[0] == "reflink":
        assert store.reflinks is not None  # tried once; a file system without clones is remembered
    assert not os.listdir(store.tmp_dir)  # no temporary copy left behind
