"""``Index.write_bulk``: entries handed over in columns land on disk exactly as ``write`` of the
same entries would put them, and are refused where they would break the index's order."""

from __future__ import annotations

from array import array

import pytest

from mmvc.core.index import BulkEntries, Index, IndexEntry


def _bulk(rows: list[IndexEntry]) -> BulkEntries:
    k = "\0".join(r.path for r in rows).encode()
    m = "\n".join(r.meta for r in rows).encode()
    return BulkEntries(len(rows), rows[0].path, rows[-1].path, len(k), len(m), lambda: k, lambda: m,
                       b"".join(bytes.fromhex(r.oid) for r in rows), array("Q", [r.size for r in rows]).tobytes(),
                       bytes(r.modality for r in rows), bytes(r.flags for r in rows))


def _rows(prefix: str, n: int) -> list[IndexEntry]:
    return [IndexEntry(f"{prefix}/{i:04d}.txt", f"{i + 1:064x}", i * 7, 1, 0x80, "" if i == 3 else f'{{"n":{i}}}') for i in range(n)]


def _stage(ix: Index) -> None:
    ix.set(IndexEntry("a/first", "ab" * 32, 3, 1, 0, "{}", mtime_ns=123, ino=9, proc_status=1, proc_id="cd" * 32))
    ix.set(IndexEntry("z/last", "ef" * 32, 4, 2, 1, ""))
    ix.remove("zz/gone")


def test_bulk_write_matches_a_plain_write_byte_for_byte(tmp_path):
    rows = _rows("m", 10)
    bulk_dir, plain_dir = tmp_path / "bulk", tmp_path / "plain"
    bulk_dir.mkdir()
    plain_dir.mkdir()
    a = Index(str(bulk_dir))
    _stage(a)
    a.write_bulk([_bulk(rows[:4]), _bulk(rows[4:])])
    b = Index(str(plain_dir))
    _stage(b)
    for r in rows:
        b.set(r)
    b.write()
    da, db = (open(d / "index", "rb").read() for d in (bulk_dir, plain_dir))
    # the header's write time and the checksum differ; the entries do not
    assert da[48:-32] == db[48:-32] and len(da) == len(db)
    la, lb = Index.load(str(bulk_dir)), Index.load(str(plain_dir))
    assert la.overlay == lb.overlay and la.get("m/0003.txt").meta == "" and la.get("zz/gone") is None
    assert [e.path for e in la.iter_entries()] == ["a/first", *(r.path for r in rows), "z/last"]


def test_bulk_write_refuses_overlaps_and_collisions(tmp_path):
    ix = Index(str(tmp_path))
    _stage(ix)
    rows = _rows("m", 6)
    with pytest.raises(ValueError, match="overlap"):
        ix.write_bulk([_bulk(rows[2:]), _bulk(rows[:3])])
    ix.set(IndexEntry("m/0002.5", "ab" * 32, 1, 1, 0, ""))
    with pytest.raises(ValueError, match="overlay"):
        ix.write_bulk([_bulk(rows)])
    assert not (tmp_path / "index").exists()  # nothing written by a refused call
