"""``write_items``: many stored items written into the work tree by several writers at once."""

from __future__ import annotations

import os

import pytest

from mmvc.core.materialize import write_items
from mmvc.core.store import LocalObjectStore
from mmvc.errors import CorruptError


def _store(tmp_path) -> LocalObjectStore:
    root = str(tmp_path / "objects")
    LocalObjectStore.init_layout(root)
    return LocalObjectStore(root, pack_threshold=1024)


def test_many_items_are_written_whole_and_their_stats_come_back_in_order(tmp_path):
    store = _store(tmp_path)
    datas = [f"item {i}\n".encode() * (1 + i % 300) for i in range(200)]  # packed and loose
    with store.writer() as w:
        oids = [w.put_bytes(d) for d in datas]
    items = [(oid, str(tmp_path / "wt" / f"d{i % 7}" / f"{i}.txt"), i % 50 == 0) for i, oid in enumerate(oids)]
    stats = list(write_items(store, items, jobs=4))
    for (_, dest, executable), st, data in zip(items, stats, datas):
        with open(dest, "rb") as f:
            assert f.read() == data
        assert st.st_ino == os.lstat(dest).st_ino
        assert bool(st.st_mode & 0o100) == executable
    assert not [n for d in os.listdir(tmp_path / "wt") for n in os.listdir(tmp_path / "wt" / d) if "mmvc-tmp" in n]


def test_a_corrupt_item_among_many_is_raised_and_leaves_no_temp_file(tmp_path):
    store = _store(tmp_path)
    with store.writer() as w:
        oids = [w.put_bytes(os.urandom(2000)) for _ in range(40)]
    bad = store.loose_path(oids[17])
    os.chmod(bad, 0o644)
    with open(bad, "r+b") as f:
        f.write(b"X")
    items = [(oid, str(tmp_path / "wt" / f"{i}.bin"), False) for i, oid in enumerate(oids)]
    with pytest.raises(CorruptError, match=oids[17]):
        list(write_items(store, items, jobs=4))
    assert not os.path.exists(tmp_path / "wt" / "17.bin")
    assert not [n for n in os.listdir(tmp_path / "wt") if "mmvc-tmp" in n]
