"""The index (staging area): what the next commit will hold, plus a stat cache of the work tree.

It is two files so that a commit costs what it changes, not what the repository holds:

* a *base* (``index.d/<id>.base``): a large, immutable, columnar table of entries;
* the *overlay* (``index``): a small table of entries and deletions layered over the base,
  naming the base it sits on.

Invariant: every path the overlay does not mention has, in the base, the content it has in
HEAD's tree. Hence the staged changes are exactly the overlay entries that differ from HEAD,
found by point lookups, and a commit rewrites only the small overlay; the overlay is folded into
a new base (``compact``) when it grows large relative to the base.

Byte layout: docs/format.md, "Index".
"""

from __future__ import annotations

import bisect
import os
import struct
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from blake3 import blake3

from mmvc.core.atomicfile import atomic_write
from mmvc.core.hashing import ID_RAW_LEN
from mmvc.core.layout import Layout
from mmvc.core.manifest import ManifestEntry
from mmvc.errors import CorruptError, NewerFormatError, storage_error

INDEX_MAGIC = b"MMIX"
BASE_MAGIC = b"MMIB"
INDEX_VERSION = 1
_ZERO_ID = bytes(ID_RAW_LEN)
_ZERO_HEX = "0" * 64
_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<4sHH32sq")  # magic, version, reserved, base id (raw, zeros = none), written_ns
_BASE_HEADER = struct.Struct("<4sHHq")
RACY_WINDOW_NS = 50_000_000
CHUNK = 8192  # entries decoded at once when an operation streams through the index
FLAG_EXEC = 1
FLAG_SKIP_WORKTREE = 0x80  # index only: tracked but deliberately absent from the work tree (sparse)
ITEM_FLAGS = 0x7F  # the flag bits that belong to the item and travel into versions
REBUILD_INDEX = "move .mmvc/index aside, then `mmvc restore --staged .` rebuilds it from HEAD (staged changes are lost)"

PROC_NONE = 0  # not processed yet (append-only codes; docs/format.md)
PROC_PASSED = 1
PROC_DUPLICATE = 2
PROC_REJECTED = 3
PROC_STATUS = {PROC_NONE: "unprocessed", PROC_PASSED: "passed", PROC_DUPLICATE: "duplicate", PROC_REJECTED: "rejected"}


class IndexEntry(NamedTuple):
    path: str
    oid: str
    size: int
    modality: int
    flags: int
    meta: str
    mtime_ns: int = 0
    ino: int = 0
    proc_status: int = PROC_NONE
    proc_id: str = ""  # id of the process result object, "" for none

    def manifest(self) -> ManifestEntry:
        return ManifestEntry(self.path, self.oid, self.size, self.modality, self.flags & ITEM_FLAGS, self.meta)

    def same_content(self, other) -> bool:
        """Same item as ``other`` (an IndexEntry or ManifestEntry), ignoring index-only flags."""
        if other is None:
            return False
        return (self.oid == other[1] and self.size == other[2] and self.modality == other[3]
                and self.flags & ITEM_FLAGS == other[4] & ITEM_FLAGS and self.meta == other[5])


def _arr(code: str, values=()) -> array:
    a = array(code, values)
    assert a.itemsize == 8
    return a


class EntryTable:
    """Sorted entries held as columns: compact in memory and decoded at C speed."""

    def __init__(self):
        self.paths: list[str] = []
        self.ids = bytearray()
        self.sizes = _arr("Q")
        self.mtimes = _arr("q")
        self.inos = _arr("Q")
        self.mods = bytearray()
        self.flags = bytearray()
        self.metas: list[str] = []
        self.proc_status = bytearray()
        self.proc_ids = bytearray()
        self.tombstones = bytearray()

    def __len__(self) -> int:
        return len(self.paths)

    @classmethod
    def from_entries(cls, entries: Iterable[IndexEntry | tuple[str, None]]) -> EntryTable:
        """Columns built in bulk (C-level joins), which is what keeps a 10M-entry index usable."""
        rows = [e if e[1] is not None else IndexEntry(e[0], "", 0, 0, 0, "") for e in entries]
        t = cls()
        if not rows:
            return t
        t.paths = [r[0] for r in rows]
        t.ids = bytearray(bytes.fromhex("".join(r[1] or _ZERO_HEX for r in rows)))
        t.sizes = _arr("Q", [r[2] for r in rows])
        t.mods = bytearray(r[3] for r in rows)
        t.flags = bytearray(r[4] for r in rows)
        t.metas = [r[5] for r in rows]
        t.mtimes = _arr("q", [r[6] for r in rows])
        t.inos = _arr("Q", [r[7] for r in rows])
        t.proc_status = bytearray(r[8] for r in rows)
        t.proc_ids = bytearray(bytes.fromhex("".join(r[9] or _ZERO_HEX for r in rows)))
        t.tombstones = bytearray(1 if not r[1] else 0 for r in rows)
        return t

    def entries(self, lo: int = 0, hi: int | None = None) -> list[IndexEntry | None]:
        """Rows lo..hi decoded at once (tombstones as None), far faster than ``entry`` in a loop."""
        hi = len(self.paths) if hi is None else hi
        if hi <= lo:
            return []
        ids = self.ids[32 * lo : 32 * hi].hex()
        pids = self.proc_ids[32 * lo : 32 * hi].hex()
        n64 = 64 * (hi - lo)
        oids = [ids[i : i + 64] for i in range(0, n64, 64)]
        procs = ["" if p == _ZERO_HEX else p for p in (pids[i : i + 64] for i in range(0, n64, 64))]
        rows: list[IndexEntry | None] = list(map(IndexEntry._make, zip(self.paths[lo:hi], oids, self.sizes[lo:hi], self.mods[lo:hi], self.flags[lo:hi],
                                             self.metas[lo:hi], self.mtimes[lo:hi], self.inos[lo:hi], self.proc_status[lo:hi], procs)))
        dead = self.tombstones[lo:hi]
        if any(dead):
            rows = [None if d else r for r, d in zip(rows, dead)]
        return rows

    def append(self, e) -> None:
        """Append an IndexEntry, or ``(path, None)`` for a deletion (overlay only)."""
        if e[1] is None:
            self.paths.append(e[0])
            self.ids += _ZERO_ID
            self.sizes.append(0)
            self.mtimes.append(0)
            self.inos.append(0)
            self.mods.append(0)
            self.flags.append(0)
            self.metas.append("")
            self.proc_status.append(0)
            self.proc_ids += _ZERO_ID
            self.tombstones.append(1)
            return
        self.paths.append(e.path)
        self.ids += bytes.fromhex(e.oid)
        self.sizes.append(e.size)
        self.mtimes.append(e.mtime_ns)
        self.inos.append(e.ino)
        self.mods.append(e.modality)
        self.flags.append(e.flags)
        self.metas.append(e.meta)
        self.proc_status.append(e.proc_status)
        self.proc_ids += bytes.fromhex(e.proc_id) if e.proc_id else _ZERO_ID
        self.tombstones.append(0)

    def extend(self, other: EntryTable) -> None:
        """Append ``other``'s rows (whose paths all sort after this table's)."""
        self.paths += other.paths
        self.ids += other.ids
        self.sizes += other.sizes
        self.mtimes += other.mtimes
        self.inos += other.inos
        self.mods += other.mods
        self.flags += other.flags
        self.metas += other.metas
        self.proc_status += other.proc_status
        self.proc_ids += other.proc_ids
        self.tombstones += other.tombstones

    def entry(self, i: int) -> IndexEntry | None:
        if self.tombstones[i]:
            return None
        pid = bytes(self.proc_ids[i * 32 : i * 32 + 32])
        return IndexEntry(
            self.paths[i],
            self.ids[i * 32 : i * 32 + 32].hex(),
            self.sizes[i],
            self.mods[i],
            self.flags[i],
            self.metas[i],
            self.mtimes[i],
            self.inos[i],
            self.proc_status[i],
            "" if pid == _ZERO_ID else pid.hex(),
        )

    def find(self, path: str) -> int:
        i = bisect.bisect_left(self.paths, path)
        return i if i < len(self.paths) and self.paths[i] == path else -1

    def encode(self) -> bytes:
        keys = "\0".join(self.paths).encode("utf-8")
        metas = "\n".join(self.metas).encode("utf-8")
        for a in (self.sizes, self.mtimes, self.inos):
            if a.itemsize != 8:
                raise AssertionError("array item size")
        cols = [self.sizes, self.mtimes, self.inos]
        if _BIG_ENDIAN:
            cols = [array(c.typecode, c) for c in cols]
            for c in cols:
                c.byteswap()
        return b"".join(
            [
                _U32.pack(len(self.paths)),
                _U32.pack(len(keys)),
                keys,
                bytes(self.ids),
                *(c.tobytes() for c in cols),
                bytes(self.mods),
                bytes(self.flags),
                _U32.pack(len(metas)),
                metas,
                bytes(self.proc_status),
                bytes(self.proc_ids),
                bytes(self.tombstones),
            ]
        )

    @classmethod
    def decode(cls, data: memoryview | bytes, pos: int) -> tuple[EntryTable, int]:
        t = cls()
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        (klen,) = _U32.unpack_from(data, pos)
        pos += 4
        t.paths = bytes(data[pos : pos + klen]).decode("utf-8").split("\0") if n else []
        pos += klen
        t.ids = bytearray(data[pos : pos + 32 * n])
        pos += 32 * n
        for name, code in (("sizes", "Q"), ("mtimes", "q"), ("inos", "Q")):
            a = array(code)
            a.frombytes(data[pos : pos + 8 * n])
            if _BIG_ENDIAN:
                a.byteswap()
            setattr(t, name, a)
            pos += 8 * n
        t.mods = bytearray(data[pos : pos + n])
        t.flags = bytearray(data[pos + n : pos + 2 * n])
        pos += 2 * n
        (mlen,) = _U32.unpack_from(data, pos)
        pos += 4
        t.metas = bytes(data[pos : pos + mlen]).decode("utf-8").split("\n") if n else []
        pos += mlen
        t.proc_status = bytearray(data[pos : pos + n])
        pos += n
        t.proc_ids = bytearray(data[pos : pos + 32 * n])
        pos += 32 * n
        t.tombstones = bytearray(data[pos : pos + n])
        pos += n
        if len(t.paths) != n or len(t.metas) != n or len(t.ids) != 32 * n or len(t.tombstones) != n:
            raise ValueError("column lengths disagree")
        return t, pos


_BIG_ENDIAN = struct.pack("=H", 1) == b"\x00\x01"


class BulkEntries(NamedTuple):
    """New entries for ``Index.write_bulk``, already in columns: ``n`` entries sorted by path
    (strictly), ``first``/``last`` their first and last path; ``keys``/``metas`` return the paths
    joined by NUL and the metadata joined by newline, UTF-8 (callables, so a caller may hold
    them compressed); ``ids`` raw 32-byte ids, ``sizes`` little-endian u64s, ``mods`` and
    ``flags`` one byte each."""

    n: int
    first: str
    last: str
    keys_len: int
    metas_len: int
    keys: Callable[[], bytes]
    metas: Callable[[], bytes]
    ids: bytes
    sizes: bytes
    mods: bytes
    flags: bytes


def _table_group(t: EntryTable) -> BulkEntries:
    sizes = array("Q", t.sizes)
    if _BIG_ENDIAN:
        sizes.byteswap()
    k = "\0".join(t.paths).encode("utf-8")
    m = "\n".join(t.metas).encode("utf-8")
    return BulkEntries(len(t), t.paths[0] if len(t) else "", t.paths[-1] if len(t) else "", len(k), len(m),
                       lambda: k, lambda: m, bytes(t.ids), sizes.tobytes(), bytes(t.mods), bytes(t.flags))


def _encode_groups(tables: list):
    """``EntryTable.encode`` of the concatenation of ``tables`` (EntryTables and BulkEntries, in
    order), as a stream of chunks."""
    live = [t for t in tables if (t.n if isinstance(t, BulkEntries) else len(t))]
    groups = [_table_group(t) if isinstance(t, EntryTable) else t for t in live]
    sep = max(len(groups) - 1, 0)
    yield _U32.pack(sum(g.n for g in groups)) + _U32.pack(sum(g.keys_len for g in groups) + sep)
    for i, g in enumerate(groups):
        yield (b"\0" if i else b"") + g.keys()
    for g in groups:
        yield g.ids
    for g in groups:
        yield g.sizes
    for col in ("mtimes", "inos"):
        for t in live:
            if isinstance(t, EntryTable):
                a = array(getattr(t, col).typecode, getattr(t, col))
                if _BIG_ENDIAN:
                    a.byteswap()
                yield a.tobytes()
            else:
                yield bytes(8 * t.n)
    for g in groups:
        yield g.mods
    for g in groups:
        yield g.flags
    yield _U32.pack(sum(g.metas_len for g in groups) + sep)
    for i, g in enumerate(groups):
        yield (b"\n" if i else b"") + g.metas()
    for col, width in (("proc_status", 1), ("proc_ids", 32), ("tombstones", 1)):
        for t in live:
            yield bytes(getattr(t, col)) if isinstance(t, EntryTable) else bytes(width * t.n)


def _checksummed(head: bytes, chunks):
    """``head`` and ``chunks``, then the BLAKE3 of them all (what ``_checked`` verifies)."""
    h = blake3(head)
    yield head
    for c in chunks:
        if c:
            h.update(c)
            yield c
    yield h.digest()


def _checked(data: bytes, what: str) -> memoryview:
    if len(data) < 32 or blake3(data[:-32]).digest() != data[-32:]:
        raise CorruptError(f"{what} is corrupt (checksum mismatch)", "run `mmvc fsck`; " + REBUILD_INDEX)
    return memoryview(data)[:-32]


class Index:
    """base ⊕ overlay, as described in the module docstring."""

    def __init__(self, mmvc_dir: str):
        self.mmvc_dir = mmvc_dir
        self.layout = Layout(mmvc_dir)
        self.path = self.layout.index
        self.base_dir = self.layout.index_bases
        self.base_id: str = ""
        self.written_ns = 0
        self.base_written_ns = 0
        self._base: EntryTable | None = None
        self._base_dirty = False
        self._positions: dict[str, int] | None = None
        self._overlay: dict[str, IndexEntry | None] | None = {}
        self._overlay_table: EntryTable | None = None  # as loaded, until the dict is needed
        self._overlay_names: dict[str, set[str]] | None = None  # folder -> names the overlay adds

    @property
    def overlay(self) -> dict[str, IndexEntry | None]:
        """Path -> entry, or None for a deletion. Made from the loaded table on first use: a
        commit of a million new entries reads them in chunks and never needs it."""
        if self._overlay is None:
            t = self._overlay_table
            self._overlay = dict(zip(t.paths, t.entries())) if t is not None else {}
            self._overlay_table = None
        return self._overlay

    @overlay.setter
    def overlay(self, value: dict[str, IndexEntry | None]) -> None:
        self._overlay, self._overlay_table, self._overlay_names = value, None, None

    def _overlay_size(self) -> int:
        return len(self._overlay_table) if self._overlay is None and self._overlay_table is not None else len(self.overlay)

    def _overlay_chunks(self, prefix: str = "", size: int | None = None) -> Iterator[list[tuple[str, IndexEntry | None]]]:
        """The overlay's (path, entry or None) pairs under ``prefix``, sorted, in chunks."""
        size = size or CHUNK
        t = self._overlay_table if self._overlay is None else None
        if t is None:
            rows = sorted((p, e) for p, e in self.overlay.items() if p.startswith(prefix))
            for i in range(0, len(rows), size):
                yield rows[i:i + size]
            return
        lo, hi = 0, len(t)
        if prefix:
            lo = bisect.bisect_left(t.paths, prefix)
            hi = bisect.bisect_left(t.paths, prefix + "\U0010ffff", lo)
        for start in range(lo, hi, size):
            end = min(hi, start + size)
            yield list(zip(t.paths[start:end], t.entries(start, end)))

    # -- loading

    @classmethod
    def load(cls, mmvc_dir: str) -> Index:
        idx = cls(mmvc_dir)
        try:
            with open(idx.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return idx
        what = "the index (.mmvc/index)"
        body = _checked(data, what)
        try:
            magic, version, _, base_raw, idx.written_ns = _HEADER.unpack_from(body, 0)
            if magic != INDEX_MAGIC:
                raise ValueError("bad magic")
            if version > INDEX_VERSION:
                raise NewerFormatError("the index", version, INDEX_VERSION)
            idx.base_id = "" if base_raw == _ZERO_ID else base_raw.hex()
            table, end = EntryTable.decode(body, _HEADER.size)
            if end != len(body):
                raise ValueError("trailing bytes")
        except (struct.error, ValueError, UnicodeDecodeError) as e:
            raise CorruptError(f"{what} is corrupt ({e})", REBUILD_INDEX) from None
        idx._overlay, idx._overlay_table = None, table
        return idx

    @property
    def base(self) -> EntryTable:
        if self._base is None:
            self._base = self._load_base()
        return self._base

    def _load_base(self) -> EntryTable:
        if not self.base_id:
            return EntryTable()
        path = self.layout.index_base(self.base_id)
        what = f"the index base {path}"
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise CorruptError(f"{what} is missing", REBUILD_INDEX) from None
        body = _checked(data, what)
        try:
            magic, version, _, self.base_written_ns = _BASE_HEADER.unpack_from(body, 0)
            if magic != BASE_MAGIC:
                raise ValueError("bad magic")
            if version > INDEX_VERSION:
                raise NewerFormatError("the index base", version, INDEX_VERSION)
            table, end = EntryTable.decode(body, _BASE_HEADER.size)
            if end != len(body):
                raise ValueError("trailing bytes")
        except (struct.error, ValueError, UnicodeDecodeError) as e:
            raise CorruptError(f"{what} is corrupt ({e})", REBUILD_INDEX) from None
        return table

    # -- reading

    def get(self, path: str) -> IndexEntry | None:
        if path in self.overlay:
            return self.overlay[path]
        i = self.base.find(path)
        return self.base.entry(i) if i >= 0 else None

    def __contains__(self, path: str) -> bool:
        return self.get(path) is not None

    def iter_entries(self, prefix: str = "") -> Iterator[IndexEntry]:
        """Every entry, sorted by path (the overlay merged over the base), read in chunks."""
        base = self.base
        lo, hi = 0, len(base)
        if prefix:
            lo = bisect.bisect_left(base.paths, prefix)
            hi = bisect.bisect_left(base.paths, prefix + "\U0010ffff", lo)
        over = iter(self._overlay_chunks(prefix))
        chunk = next(over, [])
        if not chunk:
            for start in range(lo, hi, CHUNK):
                yield from (e for e in base.entries(start, min(hi, start + CHUNK)) if e is not None)
            return
        oi = 0
        for start in range(lo, hi, CHUNK):
            for e in base.entries(start, min(hi, start + CHUNK)):
                if e is None:
                    continue
                path = e.path
                while chunk and chunk[oi][0] <= path:
                    op, o = chunk[oi]
                    if o is not None:
                        yield o
                    oi += 1
                    if oi == len(chunk):
                        chunk, oi = next(over, []), 0
                    if op == path:
                        break
                else:
                    yield e
        while chunk:
            yield from (o for _, o in chunk[oi:] if o is not None)
            chunk, oi = next(over, []), 0

    def unchanged(self, key: str, size: int, mtime_ns: int, ino: int, modality: int | None = None) -> bool:
        """Whether the stat cache vouches for a file (same size, mtime and inode, not racy),
        answered from the columns without building an entry: this runs once per file."""
        if key in self.overlay:
            e = self.overlay[key]
            return (e is not None and e.size == size and e.mtime_ns == mtime_ns and e.ino == ino
                    and (modality is None or e.modality == modality) and not self.is_racy(e))
        if self._positions is None:
            self._positions = {p: i for i, p in enumerate(self.base.paths)}
        i = self._positions.get(key)
        if i is None:
            return False
        b = self.base
        m = b.mtimes[i]
        return (b.sizes[i] == size and m == mtime_ns and b.inos[i] == ino and (modality is None or b.mods[i] == modality)
                and m < self.base_written_ns - RACY_WINDOW_NS)

    def tracked(self, key: str) -> bool:
        """``key in index`` without building the entry (once per file of a large add)."""
        if key in self.overlay:
            return self.overlay[key] is not None
        if self._positions is None:
            self._positions = {p: i for i, p in enumerate(self.base.paths)}
        return key in self._positions

    def names_in(self, folder: str) -> set[str]:
        """Names tracked directly in ``folder`` ("" = the root), files and sub-folders alike;
        a sub-folder costs one binary search, not a scan of what it holds."""
        pre = folder + "/" if folder else ""
        paths, overlay = self.base.paths, self.overlay
        names: set[str] = set()
        i = bisect.bisect_left(paths, pre)
        n = len(paths)
        while i < n and paths[i].startswith(pre):
            name, sep, _ = paths[i][len(pre):].partition("/")
            if sep:
                names.add(name)
                i = bisect.bisect_left(paths, pre + name + "0", i)  # '0' sorts right after '/'
                continue
            if overlay.get(paths[i], True) is not None:  # not removed in the overlay
                names.add(name)
            i += 1
        names.update(self._overlay_folders().get(folder, ()))
        return names

    def is_folder(self, key: str) -> bool:
        """Whether any tracked entry lies below ``key`` (which then names a folder)."""
        pre = key + "/"
        paths = self.base.paths
        i = bisect.bisect_left(paths, pre)
        return i < len(paths) and paths[i].startswith(pre) or key in self._overlay_folders()

    def _overlay_folders(self) -> dict[str, set[str]]:
        if self._overlay_names is None:
            folders: dict[str, set[str]] = {}
            for p, e in self.overlay.items():
                if e is None:
                    continue
                parts = p.split("/")
                for d in range(len(parts)):
                    folders.setdefault("/".join(parts[:d]), set()).add(parts[d])
            self._overlay_names = folders
        return self._overlay_names

    def is_racy(self, e: IndexEntry) -> bool:
        written = self.written_ns if e.path in self.overlay else self.base_written_ns
        return e.mtime_ns >= written - RACY_WINDOW_NS

    # -- changing

    def set(self, entry: IndexEntry) -> None:
        self.overlay[entry.path] = entry
        self._overlay_names = None

    def remove(self, path: str) -> None:
        self.overlay[path] = None
        self._overlay_names = None

    def reset_to(self, entries: Iterable[IndexEntry]) -> None:
        """Replace everything (checkout, reset): the new base is exactly ``entries``."""
        self._base = EntryTable.from_entries(list(entries))
        self._positions = None
        self.overlay = {}
        self._overlay_names = None
        self._base_dirty = True

    def reset_to_table(self, table: EntryTable) -> None:
        """``reset_to`` for a table already built in columns (a clone's million-item index)."""
        self._base = table
        self._positions = None
        self.overlay = {}
        self._overlay_names = None
        self._base_dirty = True

    def staged(self, tree, root: str) -> list[tuple[str, IndexEntry | None, ManifestEntry | None]]:
        """(path, index entry or None, HEAD entry or None) for every staged difference."""
        return [row for chunk in self.staged_chunks(tree, root) for row in chunk]

    def staged_chunks(self, tree, root: str, size: int | None = None) -> Iterator[list[tuple[str, IndexEntry | None, ManifestEntry | None]]]:
        """``staged`` in sorted chunks, so that a commit of every item of a large repository
        holds one chunk of them at a time."""
        for rows in self._overlay_chunks(size=size):
            head = tree.get_many(root, [p for p, _ in rows]) if root else {}
            out = []
            for p, e in rows:
                h = head.get(p)
                if e is None and h is None:
                    continue
                if e is not None and h is not None and e.same_content(h):
                    continue
                out.append((p, e, h))
            if out:
                yield out

    def should_fold(self) -> bool:
        n = self._overlay_size()
        return self._base_dirty or (n > 4096 and n * 8 > len(self.base))

    def fold(self) -> None:
        """Merge the overlay into a new base. Only valid when the overlay agrees with HEAD (right
        after a commit, or after a reset), since the invariant then holds with an empty overlay."""
        table, rows = EntryTable(), []
        for e in self.iter_entries():
            rows.append(e)
            if len(rows) == CHUNK:
                table.extend(EntryTable.from_entries(rows))
                rows = []
        table.extend(EntryTable.from_entries(rows))
        self._base = table
        self._positions = None
        self._base_dirty = True
        self.overlay = {}
        self._overlay_names = None

    # -- writing

    def write_bulk(self, bulk: list[BulkEntries]) -> None:
        """``write`` with ``bulk`` added to the overlay on disk, streamed, so that a million new
        entries never exist as objects in memory (a large import). The groups are sorted, do not
        overlap each other and hold no path of the overlay or the base. This object's overlay
        does not take them in: load the index again to read them."""
        bulk = [b for b in bulk if b.n]
        if not bulk:
            return self.write()
        for a, b in zip(bulk, bulk[1:]):
            if not a.last < b.first:
                raise ValueError("bulk entries overlap or are out of order")
        lo, hi = bulk[0].first, bulk[-1].last
        over = sorted(self.overlay.items())
        before = [e if e is not None else (p, None) for p, e in over if p < lo]
        after = [e if e is not None else (p, None) for p, e in over if p > hi]
        if len(before) + len(after) != len(over):
            raise ValueError("bulk entries collide with the overlay")
        for b in bulk:
            i = bisect.bisect_left(self.base.paths, b.first)
            if i < len(self.base) and self.base.paths[i] <= b.last:
                raise ValueError("bulk entries collide with the base")
        tables = [EntryTable.from_entries(before), *bulk, EntryTable.from_entries(after)]
        self._write(tables)

    def write(self) -> None:
        self._write(None)

    def _write(self, tables) -> None:
        try:
            self._write_files(tables)
        except OSError as e:
            raise storage_error(e, "writing the index") from e

    def _write_files(self, tables) -> None:
        """Write the base first (a new file named by its checksum), then the overlay naming it."""
        now = time.time_ns()
        old_base = self.base_id
        if self._base_dirty:
            # streamed twice (to name the file by its checksum, then to write it): a base of
            # millions of entries is never joined into one buffer
            head = _BASE_HEADER.pack(BASE_MAGIC, INDEX_VERSION, 0, now)
            h = blake3(head)
            for chunk in _encode_groups([self.base]):
                h.update(chunk)
            digest = h.digest()
            os.makedirs(self.base_dir, exist_ok=True)
            self.base_id = digest.hex()
            atomic_write(self.layout.index_base(self.base_id), _checksummed(head, _encode_groups([self.base])))
            self.base_written_ns = now
            self._base_dirty = False
        head = _HEADER.pack(INDEX_MAGIC, INDEX_VERSION, 0, bytes.fromhex(self.base_id) if self.base_id else _ZERO_ID, now)
        if tables is None:
            table = self._overlay_table if self._overlay is None and self._overlay_table is not None else \
                EntryTable.from_entries([e if e is not None else (p, None) for p, e in sorted(self.overlay.items())])
            body = head + table.encode()
            atomic_write(self.path, body + blake3(body).digest())
        else:
            atomic_write(self.path, _checksummed(head, _encode_groups(tables)))
        self.written_ns = now
        if old_base and old_base != self.base_id:
            try:
                os.unlink(self.layout.index_base(old_base))
            except OSError:
                pass
