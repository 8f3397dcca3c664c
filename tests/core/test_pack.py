"""The pack format (docs/format.md, "Pack files"), pinned byte for byte, and every writer of it
(local store, bucket store, gc's repack) producing exactly those bytes."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from blake3 import blake3

from mmvc.core.bucket import Bucket
from mmvc.core.fsspec_store import FsspecObjectStore
from mmvc.core.pack import PackBuilder, PackIndex, corrupt_records, encode_index, index_size, pack_name, pack_size, read_records
from mmvc.core.store import LocalObjectStore
from mmvc.errors import CorruptError

OBJECTS = [b"caption: a dog on a beach\n", b"", b"\x00\x01\x02" * 7]
IDS = [blake3(o).digest() for o in OBJECTS]

# The spec, written out by hand: header, then (id, u64 length, bytes) per record in write order.
GOLDEN_PACK = b"MMPK" + struct.pack("<HH", 1, 0) + b"".join(i + struct.pack("<Q", len(o)) + o for i, o in zip(IDS, OBJECTS))
GOLDEN_PACK_BLAKE3 = "1055d16fea70def8e714ae0934cc1021f7092071ecc9242f9f33f929168b606f"
GOLDEN_INDEX_BLAKE3 = "707b8ba9269c8a4d22a92d031deadd86617680c894b18b8bb0c72dd685763c0f"
GOLDEN_NAME = "pack-ee33aa65c8770ecf1ab48151a8a930ee8ae39dc4712d03d514141d4e869f3631"


def golden_index() -> bytes:
    """The index of GOLDEN_PACK as docs/format.md lays it out."""
    offsets, pos = {}, 8
    for i, o in zip(IDS, OBJECTS):
        offsets[i] = (pos + 40, len(o))
        pos += 40 + len(o)
    ids = sorted(IDS)
    fanout = [sum(1 for i in ids if i[0] <= b) for b in range(256)]
    body = (b"MMPI" + struct.pack("<HHI", 1, 0, len(ids)) + struct.pack("<256I", *fanout) + b"".join(ids)
            + b"".join(struct.pack("<Q", offsets[i][0]) for i in ids) + b"".join(struct.pack("<Q", offsets[i][1]) for i in ids)
            + blake3(GOLDEN_PACK).digest())
    return body + blake3(body).digest()


def test_golden_bytes_are_the_spec():
    assert blake3(GOLDEN_PACK).hexdigest() == GOLDEN_PACK_BLAKE3
    assert blake3(golden_index()).hexdigest() == GOLDEN_INDEX_BLAKE3


def test_builder_writes_the_golden_pack_and_index():
    pack = PackBuilder()
    for i, o in zip(IDS, OBJECTS):
        pack.add(i, o)
    name, idx = pack.finish()
    assert bytes(pack.buf) == GOLDEN_PACK and pack.size == len(GOLDEN_PACK) == pack_size(map(len, OBJECTS))
    assert idx == golden_index() and len(idx) == index_size(len(OBJECTS))
    assert name == GOLDEN_NAME == "pack-" + blake3(b"".join(sorted(IDS))).hexdigest() == pack_name(IDS)


def test_a_streaming_builder_hands_the_same_bytes_to_its_sink():
    out = bytearray()
    pack = PackBuilder(out.extend, flush_at=10)
    for i, o in zip(IDS, OBJECTS):
        pack.add(i, o)
    assert pack.finish()[1] == golden_index()
    assert bytes(out) == GOLDEN_PACK


def test_every_writer_writes_the_golden_files(tmp_path):
    root = str(tmp_path / "local")
    LocalObjectStore.init_layout(root)
    local = LocalObjectStore(root, fsync=False)
    with local.writer() as w:
        for o in OBJECTS:
            w.put_bytes(o)
    bucket = FsspecObjectStore(Bucket.from_url(f"file://{tmp_path}/bucket"))
    with bucket.writer() as w:
        for o in OBJECTS:
            w.put_bytes(o)
    name = pack_name(IDS)
    for pack_dir in (tmp_path / "local" / "pack", tmp_path / "bucket" / "pack"):
        assert sorted(os.listdir(pack_dir)) == [name + ".idx", name + ".pack"]
        assert (pack_dir / (name + ".pack")).read_bytes() == GOLDEN_PACK
        assert (pack_dir / (name + ".idx")).read_bytes() == golden_index()


def test_repack_writes_the_golden_files_and_a_rerun_keeps_them(tmp_path):
    root = str(tmp_path / "objects")
    LocalObjectStore.init_layout(root)
    store = LocalObjectStore(root, fsync=False)
    with store.repack() as rp:
        for i, o in zip(IDS, OBJECTS):
            assert rp.add(i, o)
        assert not rp.add(blake3(b"x").digest(), b"not x")  # a copy that fails its hash is never packed
        idx_path, added = rp.finish()
    assert added == len(GOLDEN_PACK) + len(golden_index())
    with open(idx_path, "rb") as f:
        assert f.read() == golden_index()
    with open(idx_path[:-4] + ".pack", "rb") as f:
        assert f.read() == GOLDEN_PACK
    with store.repack() as rp:
        for i, o in zip(IDS, OBJECTS):
            rp.add(i, o)
        assert rp.finish() == (idx_path, 0)
    assert os.listdir(os.path.join(root, "tmp")) == []


def test_index_lookups(tmp_path):
    index = PackIndex("mem/pack-x.idx", data=golden_index())
    assert index.count == 3 and index.pack_path == "mem/pack-x.pack"
    assert index.pack_digest == blake3(GOLDEN_PACK).digest()
    absent = blake3(b"absent").digest()
    for i, o in zip(IDS, OBJECTS):
        off, length = index.location(index.find(i))
        assert GOLDEN_PACK[off : off + length] == o
    assert index.find(absent) == -1
    at = index.find_many(np.array([IDS[2], absent, IDS[0]], dtype="S32"))
    assert at.tolist() == [index.find(IDS[2]), -1, index.find(IDS[0])]
    offs, lens = index.locations(at[at >= 0])
    assert list(zip(offs.tolist(), lens.tolist())) == [index.location(index.find(IDS[2])), index.location(index.find(IDS[0]))]
    assert sorted(r[0] for r in index.records()) == sorted(IDS) and index.raw_ids() == b"".join(sorted(IDS))
    assert list(index.offsets()) == [r[1] for r in index.records()]


def test_reading_and_verifying_records_of_a_local_pack(tmp_path):
    (tmp_path / "pack-x.pack").write_bytes(GOLDEN_PACK)
    (tmp_path / "pack-x.idx").write_bytes(golden_index())
    index = PackIndex(str(tmp_path / "pack-x.idx"))
    wanted = [(off, length, raw) for raw, off, length in index.records()]
    assert dict(read_records(index.pack_path, wanted)) == dict(zip(IDS, OBJECTS))
    assert corrupt_records(index) == []
    damaged = bytearray(GOLDEN_PACK)
    damaged[-1] ^= 1
    (tmp_path / "pack-x.pack").write_bytes(bytes(damaged))
    assert corrupt_records(index) == [IDS[2]]
    (tmp_path / "pack-x.pack").write_bytes(GOLDEN_PACK[:-1])  # cut short
    assert corrupt_records(index) == [IDS[2]]
    index.close()


@pytest.mark.parametrize("damage", [
    lambda b: b[:10],
    lambda b: b[:500],
    lambda b: b"MMPX" + b[4:],
    lambda b: b[:4] + struct.pack("<H", 2) + b[6:],
    lambda b: b[:-1] + bytes([b[-1] ^ 1]),
], ids=["truncated-header", "truncated-fanout", "magic", "newer-version", "checksum"])
def test_a_damaged_index_is_refused(damage):
    with pytest.raises(CorruptError):
        PackIndex("pack-x.idx", data=damage(golden_index()))


def test_encode_index_sorts_its_entries():
    entries = [(i, 8 + n, 1) for n, i in enumerate(IDS)]
    assert encode_index(entries, bytes(32)) == encode_index(list(reversed(entries)), bytes(32))
