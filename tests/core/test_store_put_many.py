"""``LocalObjectWriter.put_many``: a batch of rows stored as ``put_bytes`` would store them, with
duplicates (within the batch, and against finished packs) written once."""

from __future__ import annotations

import os

from blake3 import blake3

from mmvc.core.store import LocalObjectStore


def _store(tmp_path) -> LocalObjectStore:
    root = str(tmp_path / "objects")
    LocalObjectStore.init_layout(root)
    return LocalObjectStore(root, fsync=False, pack_threshold=1024)


def test_put_many_stores_each_once_and_returns_raw_ids(tmp_path):
    store = _store(tmp_path)
    small = [os.urandom(40 + i % 50) for i in range(3000)]
    big = os.urandom(5000)  # over the pack threshold: a loose object
    batch = [*small[:2000], small[0], memoryview(big)]
    with store.writer() as w:
        ids = w.put_many(batch)
        assert w.written == 2001  # the repeated row is written once
    assert ids == b"".join(blake3(bytes(d)).digest() for d in batch)
    store.refresh()
    assert os.path.exists(store.loose_path(blake3(big).hexdigest()))
    # a second batch overlapping a finished pack writes only what is new, and packs it
    with store.writer() as w:
        w.put_many(small)
        assert w.written == 1000
    store.refresh()
    for d in [*small, big]:
        assert store.get(blake3(d).hexdigest()) == d
    assert sorted(p.count for p in store.packs()) == [1000, 2000]
    with store.writer() as w:
        w.put_many([*small, big])
        assert w.written == 0
