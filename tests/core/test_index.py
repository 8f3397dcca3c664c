"""The index: base ⊕ overlay semantics, persistence, staged differences against a real manifest
tree, corruption and version checks, and the pinned encoding of its entry table."""

from __future__ import annotations

import os
import struct
import time

import pytest
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from mmvc.core.hashing import hash_bytes
from mmvc.core.index import RACY_WINDOW_NS, EntryTable, Index, IndexEntry
from mmvc.core.manifest import ManifestTree
from mmvc.core.modality import AUDIO, IMAGE, TEXT
from mmvc.core.store import LocalObjectStore
from mmvc.errors import CorruptError, ExitCode, NewerFormatError


def ie(path: str, version: int = 0, **kw) -> IndexEntry:
    fields = dict(
        oid=hash_bytes(f"{path}@{version}".encode()),
        size=len(path) + version,
        modality=(TEXT, IMAGE, AUDIO)[version % 3],
        flags=0,
        meta='{"v":%d}' % version if version else "",
        mtime_ns=1_000_000_000 + version,
        ino=100 + version,
    )
    fields.update(kw)
    return IndexEntry(path, **fields)


@pytest.fixture
def mmvc_dir(tmp_path):
    d = tmp_path / ".mmvc"
    d.mkdir()
    return str(d)


def make_index(mmvc_dir, base, overlay_set=(), overlay_remove=()) -> Index:
    idx = Index(mmvc_dir)
    idx.reset_to(sorted(base))
    for e in overlay_set:
        idx.set(e)
    for p in overlay_remove:
        idx.remove(p)
    return idx


BASE = [ie("a.txt"), ie("b.png", 1), ie("c/d.wav", 2), ie("c/e\nf.txt"), ie("ü/ß.txt")]


def test_empty_and_missing_index():
    idx = Index.load("/nonexistent/.mmvc")
    assert list(idx.iter_entries()) == [] and idx.get("a") is None and idx.overlay == {}


def test_overlay_set_remove_get_and_merge_order(mmvc_dir):
    idx = make_index(mmvc_dir, BASE, overlay_set=[ie("b.png", 5), ie("0-first.txt"), ie("c/da.txt")], overlay_remove=["c/d.wav", "never-there"])
    assert idx.get("a.txt") == BASE[0]  # from the base
    assert idx.get("b.png") == ie("b.png", 5)  # the overlay wins
    assert idx.get("c/d.wav") is None and "c/d.wav" not in idx  # tombstone hides the base entry
    assert idx.get("never-there") is None
    assert "0-first.txt" in idx
    assert [e.path for e in idx.iter_entries()] == ["0-first.txt", "a.txt", "b.png", "c/da.txt", "c/e\nf.txt", "ü/ß.txt"]
    assert list(idx.iter_entries("c/")) == [ie("c/da.txt"), ie("c/e\nf.txt")]
    assert list(idx.iter_entries("b")) == [ie("b.png", 5)]
    assert list(idx.iter_entries("zzz")) == []
    idx.remove("0-first.txt")  # removing a path only the overlay knows
    assert "0-first.txt" not in idx
    idx.set(ie("c/d.wav", 9))  # and re-setting a removed one
    assert idx.get("c/d.wav") == ie("c/d.wav", 9)


def test_write_load_round_trip(mmvc_dir):
    idx = make_index(mmvc_dir, BASE, overlay_set=[ie("b.png", 5, proc_status=3, proc_id=hash_bytes(b"report"))], overlay_remove=["a.txt"])
    idx.write()
    assert os.listdir(os.path.join(mmvc_dir, "index.d")) == [idx.base_id + ".base"]
    back = Index.load(mmvc_dir)
    assert back.base_id == idx.base_id
    assert back.overlay == idx.overlay  # tombstones included
    assert back.overlay["a.txt"] is None
    assert list(back.iter_entries()) == list(idx.iter_entries())
    assert back.get("b.png").proc_id == hash_bytes(b"report") and back.get("b.png").proc_status == 3
    assert back.get("c/d.wav").proc_id == ""  # "no result" survives as "" (zero id on disk)


def test_writing_a_new_base_removes_the_old_one(mmvc_dir):
    idx = make_index(mmvc_dir, BASE)
    idx.write()
    old = idx.base_id
    idx.set(ie("new.txt"))
    idx.fold()
    idx.write()
    assert idx.base_id != old
    assert os.listdir(os.path.join(mmvc_dir, "index.d")) == [idx.base_id + ".base"]
    back = Index.load(mmvc_dir)
    assert back.overlay == {}
    assert [e.path for e in back.iter_entries()] == sorted([e.path for e in BASE] + ["new.txt"])


def test_fold_merges_the_overlay_into_the_base(mmvc_dir):
    idx = make_index(mmvc_dir, BASE, overlay_set=[ie("b.png", 4), ie("z.txt")], overlay_remove=["a.txt"])
    before = list(idx.iter_entries())
    assert idx.should_fold()  # a reset base not yet written
    idx.fold()
    assert idx.overlay == {}
    assert list(idx.iter_entries()) == before
    assert list(idx.base.entries()) == before  # the base itself now holds the merge, no tombstones


def test_overlay_rewrite_does_not_rewrite_the_base(mmvc_dir):
    idx = make_index(mmvc_dir, BASE)
    idx.write()
    base_path = os.path.join(mmvc_dir, "index.d", idx.base_id + ".base")
    stamp = os.stat(base_path).st_mtime_ns
    back = Index.load(mmvc_dir)
    back.set(ie("x.txt"))
    assert not back.should_fold()
    back.write()
    assert back.base_id == idx.base_id and os.stat(base_path).st_mtime_ns == stamp


paths = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), min_size=1, max_size=6)


@given(
    st.dictionaries(paths, st.integers(0, 3), max_size=25),
    st.dictionaries(paths, st.none() | st.integers(4, 6), max_size=25),
    st.sampled_from(["", "a", "ü", "\n"]),
)
def test_merge_matches_a_dict_model_and_survives_write_load(tmp_path_factory, base, overlay, prefix):
    d = str(tmp_path_factory.mktemp("idx"))
    model = {p: ie(p, v) for p, v in base.items()}
    idx = make_index(d, model.values())
    for p, v in overlay.items():
        if v is None:
            idx.remove(p)
            model.pop(p, None)
        else:
            idx.set(ie(p, v))
            model[p] = ie(p, v)
    expected = [model[p] for p in sorted(model) if p.startswith(prefix)]
    assert list(idx.iter_entries(prefix)) == expected
    idx.write()
    back = Index.load(d)
    assert list(back.iter_entries(prefix)) == expected
    assert all(back.get(p) == model.get(p) for p in set(base) | set(overlay))


# --------------------------------------------------------------------------- staged vs HEAD


def test_staged_reports_exactly_the_differences_from_the_tree(mmvc_dir, tmp_path):
    objects = str(tmp_path / "objects")
    LocalObjectStore.init_layout(objects)
    store = LocalObjectStore(objects, fsync=False)
    tree = ManifestTree(store)
    with store.writer() as w:
        root = tree.build([e.manifest() for e in BASE], w)
    touched = ie("a.txt", mtime_ns=5, ino=999)  # same content, new stat info: not a change
    modified = ie("b.png", 7)
    meta_only = BASE[2]._replace(meta='{"caption":"new"}')  # metadata is content too
    added = ie("new.txt")
    idx = make_index(mmvc_dir, BASE, overlay_set=[touched, modified, meta_only, added], overlay_remove=["ü/ß.txt", "never-there"])
    got = idx.staged(tree, root)
    assert got == [
        ("b.png", modified, BASE[1].manifest()),
        ("c/d.wav", meta_only, BASE[2].manifest()),
        ("new.txt", added, None),
        ("ü/ß.txt", None, BASE[4].manifest()),
    ]
    # before the first commit there is no tree: everything staged is new
    fresh = make_index(mmvc_dir, [], overlay_set=[added], overlay_remove=["gone"])
    assert fresh.staged(tree, "") == [("new.txt", added, None)]


# --------------------------------------------------------------------------- stat cache


def test_unchanged_trusts_only_exact_non_racy_stat_matches(mmvc_dir):
    e = ie("a.txt")
    idx = make_index(mmvc_dir, [e])
    idx.write()
    idx = Index.load(mmvc_dir)
    assert idx.unchanged("a.txt", e.size, e.mtime_ns, e.ino)
    assert idx.unchanged("a.txt", e.size, e.mtime_ns, e.ino, modality=e.modality)
    assert not idx.unchanged("a.txt", e.size, e.mtime_ns, e.ino, modality=e.modality + 1)
    assert not idx.unchanged("a.txt", e.size + 1, e.mtime_ns, e.ino)
    assert not idx.unchanged("a.txt", e.size, e.mtime_ns + 1, e.ino)
    assert not idx.unchanged("a.txt", e.size, e.mtime_ns, e.ino + 1)
    assert not idx.unchanged("other", e.size, e.mtime_ns, e.ino)
    # a file modified within the racy window of the index write cannot be vouched for
    racy = ie("r.txt", mtime_ns=time.time_ns() + RACY_WINDOW_NS)
    idx.set(racy)
    idx.write()
    assert idx.is_racy(racy)
    assert not idx.unchanged("r.txt", racy.size, racy.mtime_ns, racy.ino)
    idx.remove("a.txt")
    assert not idx.unchanged("a.txt", e.size, e.mtime_ns, e.ino)


# --------------------------------------------------------------------------- damage


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


@pytest.mark.parametrize("offset", [0, 10, 60, -40, -1])
def test_a_flipped_byte_in_the_index_is_corrupt(mmvc_dir, offset):
    make_index(mmvc_dir, BASE, overlay_set=[ie("x.txt")]).write()
    path = os.path.join(mmvc_dir, "index")
    _flip(path, offset % os.path.getsize(path))
    with pytest.raises(CorruptError):
        Index.load(mmvc_dir)


def test_a_flipped_byte_in_the_base_is_corrupt(mmvc_dir):
    idx = make_index(mmvc_dir, BASE)
    idx.write()
    _flip(os.path.join(mmvc_dir, "index.d", idx.base_id + ".base"), 30)
    back = Index.load(mmvc_dir)  # the base is read lazily
    with pytest.raises(CorruptError):
        back.get("a.txt")


def test_a_missing_base_is_corrupt(mmvc_dir):
    idx = make_index(mmvc_dir, BASE)
    idx.write()
    os.unlink(os.path.join(mmvc_dir, "index.d", idx.base_id + ".base"))
    with pytest.raises(CorruptError, match="missing"):
        list(Index.load(mmvc_dir).iter_entries())


def _rewrite_version(path: str, version: int) -> None:
    """Set the format version (bytes 4..6) and re-seal the checksum, as a newer mmvc would."""
    with open(path, "rb") as f:
        body = bytearray(f.read()[:-32])
    struct.pack_into("<H", body, 4, version)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(bytes(body) + blake3(bytes(body)).digest())


def test_an_index_from_a_newer_mmvc_is_refused_with_format_error(mmvc_dir):
    make_index(mmvc_dir, BASE).write()
    _rewrite_version(os.path.join(mmvc_dir, "index"), 2)
    with pytest.raises(NewerFormatError, match="newer") as e:
        Index.load(mmvc_dir)
    assert e.value.exit_code == ExitCode.FORMAT


def test_a_base_from_a_newer_mmvc_is_refused_with_format_error(mmvc_dir):
    idx = make_index(mmvc_dir, BASE)
    idx.write()
    _rewrite_version(os.path.join(mmvc_dir, "index.d", idx.base_id + ".base"), 2)
    with pytest.raises(NewerFormatError, match="newer"):
        Index.load(mmvc_dir).get("a.txt")


# --------------------------------------------------------------------------- encoding


def test_entry_table_golden_bytes():
    t = EntryTable.from_entries(
        [
            IndexEntry("a.txt", "11" * 32, 5, TEXT, 0, "", -2, 7, 0, ""),
            ("gone/ü", None),
        ]
    )
    h = bytes.fromhex
    expected = b"".join(
        [
            h("02000000"),  # entries
            h("0d000000") + b"a.txt\0gone/\xc3\xbc",  # key bytes (u32 length), NUL-separated
            h("11" * 32) + bytes(32),  # ids; a tombstone has the zero id
            h("0500000000000000 0000000000000000"),  # sizes, u64 LE
            h("feffffffffffffff 0000000000000000"),  # mtimes, i64 LE
            h("0700000000000000 0000000000000000"),  # inodes, u64 LE
            h("01 00"),  # modality
            h("00 00"),  # flags
            h("01000000") + b"\n",  # metas (u32 length), newline-separated
            h("00 00"),  # process status
            bytes(64),  # process result ids (zero = none)
            h("00 01"),  # tombstones
        ]
    )
    data = t.encode()
    assert data == expected
    assert blake3(data).hexdigest() == "1b49e0d7703331d8cdaf1facff30748a3f8b6edec44023c07d00a91def732bcc"
    back, end = EntryTable.decode(data, 0)
    assert end == len(data)
    assert back.entries() == [IndexEntry("a.txt", "11" * 32, 5, TEXT, 0, "", -2, 7, 0, ""), None]
    assert [back.entry(0), back.entry(1)] == back.entries()


def test_entry_table_bulk_and_single_decoding_agree():
    rows = [ie(f"p{i:03d}", i % 7, proc_status=i % 3, proc_id=hash_bytes(bytes([i])) if i % 2 else "") for i in range(50)]
    rows[10] = ("p010", None)
    t = EntryTable.from_entries(rows)
    one_by_one = EntryTable()
    for r in rows:
        one_by_one.append(r)
    assert t.encode() == one_by_one.encode()
    assert t.entries() == [t.entry(i) for i in range(50)]
    assert t.entries(5, 12) == [t.entry(i) for i in range(5, 12)]
