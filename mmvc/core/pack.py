"""The pack format (docs/format.md, "Pack files"): the only code that knows its bytes.

A pack is one append-only file of records (raw id, length, bytes) behind a short header, so a
million small objects are one file and one upload. Its index, a separate file, holds the sorted
ids with each record's offset and length behind a fanout table, then the pack's digest and its
own. A pack's name is the hash of its sorted ids, so the same set of objects always gets the
same name (a rerun finds the pack it already wrote). The local store, the bucket store, gc, fsck
and export read and write packs through what is here.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import sys
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator

from blake3 import blake3

from mmvc.core.hashing import ID_RAW_LEN, hash_bytes, hash_threads, new_hasher
from mmvc.errors import CorruptError, NewerFormatError

PACK_MAGIC = b"MMPK"
INDEX_MAGIC = b"MMPI"
PACK_VERSION = 1
PACK_HEADER = PACK_MAGIC + struct.pack("<HH", PACK_VERSION, 0)
RECORD_HEADER = struct.Struct("<32sQ")  # raw id, length; the object's bytes follow
INDEX_HEADER = struct.Struct("<4sHHI")  # magic, version, reserved, count
_FANOUT = struct.Struct("<256I")
_DIGESTS = 64  # the pack's BLAKE3, then the index's own


def pack_name(raw_ids: Iterable[bytes]) -> str:
    """``pack-<hex>``, the file name (without extension) of the pack holding exactly ``raw_ids``."""
    return "pack-" + hash_bytes(b"".join(sorted(raw_ids)))


def pack_size(lengths: Iterable[int]) -> int:
    """Bytes of a pack holding records of these lengths."""
    return len(PACK_HEADER) + sum(RECORD_HEADER.size + n for n in lengths)


def index_size(count: int) -> int:
    """Bytes of the index of a pack of ``count`` records."""
    return INDEX_HEADER.size + _FANOUT.size + count * (ID_RAW_LEN + 16) + _DIGESTS


def encode_index(entries: list[tuple[bytes, int, int]], pack_digest: bytes) -> bytes:
    """Index bytes for (raw id, offset, length) entries; sorted here so callers need not."""
    entries = sorted(entries)
    counts = [0] * 256
    for raw, _, _ in entries:
        counts[raw[0]] += 1
    fan, total = [], 0
    for c in counts:
        total += c
        fan.append(total)
    n = len(entries)
    body = b"".join([
        INDEX_HEADER.pack(INDEX_MAGIC, PACK_VERSION, 0, n),
        _FANOUT.pack(*fan),
        b"".join(e[0] for e in entries),
        struct.pack(f"<{n}Q", *(e[1] for e in entries)),
        struct.pack(f"<{n}Q", *(e[2] for e in entries)),
        pack_digest,
    ])
    return body + blake3(body).digest()


class _IdColumn:
    """The sorted ids of an index as a sequence of raw ids, for ``bisect``."""

    __slots__ = ("buf", "base", "_len")

    def __init__(self, buf, base: int, count: int):
        self.buf = buf
        self.base = base
        self._len = count

    def __len__(self):
        return self._len

    def __getitem__(self, i: int) -> bytes:
        o = self.base + i * ID_RAW_LEN
        return self.buf[o : o + ID_RAW_LEN]


class PackIndex:
    """A finished pack's index, checked whole on load (a flipped offset would hand back the
    wrong bytes under a valid id). ``pack_path`` names the pack beside it: a local path, or a
    key in the bucket the index came from."""

    def __init__(self, idx_path: str, data: bytes | None = None):
        """Map the index file at ``idx_path``, or parse ``data`` (an index fetched from a bucket,
        whose store then reads the pack itself; ``read`` is for local packs)."""
        self.idx_path = idx_path
        self.pack_path = idx_path[: -len(".idx")] + ".pack"
        if data is not None:
            self.buf = data
        else:
            with open(idx_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            magic, version, _, count = INDEX_HEADER.unpack_from(self.buf, 0)
        except struct.error:
            raise CorruptError(f"pack index {idx_path} is truncated", "run `mmvc fsck`") from None
        if magic != INDEX_MAGIC:
            raise CorruptError(f"{idx_path} is not a pack index", "run `mmvc fsck`")
        if version > PACK_VERSION:
            raise NewerFormatError(f"pack index {idx_path}", version, PACK_VERSION)
        if len(self.buf) != index_size(count):
            raise CorruptError(f"pack index {idx_path} is truncated or has trailing bytes", "run `mmvc fsck`")
        self.count = count
        self._fanout = _FANOUT.unpack_from(self.buf, INDEX_HEADER.size)
        self._ids_off = INDEX_HEADER.size + _FANOUT.size
        self._offs_off = self._ids_off + count * ID_RAW_LEN
        self._lens_off = self._offs_off + count * 8
        # BLAKE3 over the mapped index: milliseconds per million ids.
        with memoryview(self.buf) as view:
            intact = blake3(view[:-32], max_threads=hash_threads(len(view))).digest() == view[-32:]
        if not intact:
            raise CorruptError(f"pack index {idx_path} is corrupt (checksum mismatch)", "run `mmvc fsck`")
        self._ids = _IdColumn(self.buf, self._ids_off, count)
        self._fh = None
        self._lock = threading.Lock()

    @property
    def pack_digest(self) -> bytes:
        """The BLAKE3 of the .pack file, as this index records it."""
        return bytes(self.buf[-64:-32])

    def find(self, raw: bytes) -> int:
        """Position of ``raw`` in this index, or -1."""
        first = raw[0]
        lo = self._fanout[first - 1] if first else 0
        hi = self._fanout[first]
        if hi - lo <= 512:  # a scan of the bucket at C speed beats a bisection in Python
            start = self._ids_off + lo * ID_RAW_LEN
            bucket = self.buf[start : start + (hi - lo) * ID_RAW_LEN]
            j = bucket.find(raw)
            while j >= 0:
                if j % ID_RAW_LEN == 0:
                    return lo + j // ID_RAW_LEN
                j = bucket.find(raw, j + 1)
            return -1
        i = bisect.bisect_left(self._ids, raw, lo, hi)
        if i < hi and self._ids[i] == raw:
            return i
        return -1

    def find_many(self, want):
        """Position of each id of ``want`` (a numpy array of dtype S32), -1 where absent: one
        vectorised search of the sorted ids instead of one lookup per id."""
        import numpy as np

        if not self.count or not len(want):
            return np.full(len(want), -1, dtype=np.int64)
        ids = np.frombuffer(self.buf, dtype="S32", count=self.count, offset=self._ids_off)
        at = np.minimum(np.searchsorted(ids, want), self.count - 1)
        found = np.where(ids[at] == want, at, -1)
        del ids  # the mapped index must not stay exported (a gc may close it)
        return found

    def locations(self, positions):
        """(offsets, lengths) of the records at ``positions`` (a numpy array), gathered at once."""
        import numpy as np

        offs = np.frombuffer(self.buf, dtype="<u8", count=self.count, offset=self._offs_off)[positions]
        lens = np.frombuffer(self.buf, dtype="<u8", count=self.count, offset=self._lens_off)[positions]
        return offs, lens

    def location(self, i: int) -> tuple[int, int]:
        """(offset in the pack, length) of the record at position ``i``."""
        return (
            struct.unpack_from("<Q", self.buf, self._offs_off + 8 * i)[0],
            struct.unpack_from("<Q", self.buf, self._lens_off + 8 * i)[0],
        )

    def raw_ids(self) -> bytes:
        """Every id, sorted, concatenated raw."""
        return bytes(self.buf[self._ids_off : self._offs_off])

    def offsets(self) -> array:
        """Each record's offset, by position (decoded once for callers that visit many)."""
        return _u64_column(self.buf, self._offs_off, self.count)

    def lengths(self) -> array:
        return _u64_column(self.buf, self._lens_off, self.count)

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        """(raw id, offset, length) of every record, in id order."""
        blob = self.raw_ids()
        for i, (off, length) in enumerate(zip(self.offsets(), self.lengths())):
            yield blob[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN], off, length

    def read(self, i: int) -> bytes:
        """The bytes of the record at position ``i``, read from the local pack file."""
        off, length = self.location(i)
        with self._lock:
            if self._fh is None:
                self._fh = open(self.pack_path, "rb")
            return os.pread(self._fh.fileno(), length, off)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()


def _u64_column(buf, start: int, count: int) -> array:
    a = array("Q")
    a.frombytes(bytes(buf[start : start + 8 * count]))
    if sys.byteorder == "big":
        a.byteswap()
    return a


def read_records(pack_path: str, wanted: list[tuple[int, int, bytes]]) -> Iterator[tuple[bytes, bytes | None]]:
    """(raw id, bytes) for each (offset, length, raw id) of ``wanted``, read in file order from
    one mapping of a local pack; the bytes are None where the pack is unreadable or too short."""
    wanted.sort()
    try:
        with open(pack_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except OSError:
        for _, _, raw in wanted:
            yield raw, None
        return
    try:
        for off, length, raw in wanted:
            yield raw, (mm[off : off + length] if off + length <= size else None)
    finally:
        if isinstance(mm, mmap.mmap):
            mm.close()


def corrupt_records(index: PackIndex) -> list[bytes]:
    """The ids whose record in the local pack behind ``index`` is missing or no longer hashes to
    the id: empty for a pack whose every object is intact."""
    wanted = list(((off, length, raw) for raw, off, length in index.records()))
    return [raw for raw, data in read_records(index.pack_path, wanted) if data is None or blake3(data).digest() != raw]


class PackBuilder:
    """A pack being written: records appended in order, the bytes handed to ``sink`` in pieces of
    at least ``flush_at`` (hashed as they go), or kept whole in ``buf`` when there is no sink (a
    pack sent in one request). ``size`` counts every byte so far, header included."""

    def __init__(self, sink: Callable[[bytearray], object] | None = None, flush_at: int = 1 << 20):
        self.sink = sink
        self.flush_at = flush_at
        self.buf = bytearray(PACK_HEADER)
        self.size = len(PACK_HEADER)
        self.entries: list[tuple[bytes, int, int]] = []  # (raw id, offset of its bytes, length)
        self._hasher = new_hasher() if sink is not None else None

    def add(self, raw: bytes, data) -> None:
        n = len(data)
        buf = self.buf
        buf += RECORD_HEADER.pack(raw, n)
        buf += data
        self.entries.append((raw, self.size + RECORD_HEADER.size, n))
        self.size += RECORD_HEADER.size + n
        if self.sink is not None and len(buf) >= self.flush_at:
            self.flush()

    def flush(self) -> None:
        if self.sink is not None and self.buf:
            self.sink(self.buf)
            self._hasher.update(self.buf)
            self.buf = bytearray()

    def finish(self) -> tuple[str, bytes]:
        """(name, index bytes) of the finished pack; every byte has gone to the sink, or lies in
        ``buf`` when there is none."""
        self.flush()
        digest = self._hasher.digest() if self._hasher is not None else blake3(self.buf).digest()
        return pack_name(e[0] for e in self.entries), encode_index(self.entries, digest)
