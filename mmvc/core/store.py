"""The object store: immutable objects named by the BLAKE3 hex of their bytes.

Small objects (captions, transcripts, manifest nodes, tiny images) go into append-only pack
files so that a million of them are a handful of files, not a million inodes or PUTs; large
objects stay loose at ``objects/ab/cd/<id>``, written by temp file + rename (or linked from the
working tree) so that no object is ever visible before its bytes are complete.

``ObjectStore`` is the interface every backend implements; ``LocalObjectStore`` is the
local-folder backend. The contract tests in ``tests/core/test_store_contract.py`` run against
every backend.
"""

from __future__ import annotations

import bisect
import errno
import mmap
import os
import struct
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from blake3 import blake3

from mmvc.core.hashing import ID_RAW_LEN, hash_bytes, hash_threads, is_object_id, new_hasher
from mmvc.errors import BadInputError, CorruptError, NewerFormatError, ObjectNotFound, storage_error

PACK_MAGIC = b"MMPK"
PACK_INDEX_MAGIC = b"MMPI"
PACK_VERSION = 1
PACK_HEADER = PACK_MAGIC + struct.pack("<HH", PACK_VERSION, 0)
RECORD_HEADER = struct.Struct("<32sQ")  # raw id, length; the object's bytes follow
DEFAULT_PACK_THRESHOLD = 256 * 1024  # objects up to this size are packed
DEFAULT_PACK_MAX_BYTES = 1 << 30  # a writer starts a new pack past this size
COPY_CHUNK = 8 << 20
LINK_MODES = ("reflink", "hardlink", "symlink", "copy")
_FICLONE = 0x40049409


class SourceChangedError(BadInputError):
    """A file changed while it was being hashed; storing it would record bytes nobody saw."""


@dataclass(frozen=True)
class FileFingerprint:
    size: int
    mtime_ns: int
    ino: int


def fingerprint(st: os.stat_result) -> FileFingerprint:
    return FileFingerprint(st.st_size, st.st_mtime_ns, st.st_ino)


class ObjectStore(ABC):
    """What every store backend offers. Ids are 64-char lowercase hex strings."""

    @abstractmethod
    def has(self, oid: str) -> bool: ...

    def has_many(self, oids: Iterable[str]) -> set[str]:
        """The subset of ``oids`` present; backends override this to batch round trips."""
        return {o for o in oids if self.has(o)}

    @abstractmethod
    def get(self, oid: str) -> bytes: ...

    @abstractmethod
    def open(self, oid: str) -> BinaryIO:
        """A readable stream of the object, for objects too large to hold in memory."""

    @abstractmethod
    def size(self, oid: str) -> int: ...

    @abstractmethod
    def writer(self, durable: bool | None = None) -> ObjectWriter:
        """A batch writer; leaving its ``with`` block normally makes every object visible
        (and, when ``durable`` or the store's fsync setting says so, flushed to disk)."""

    @abstractmethod
    def iter_ids(self) -> Iterator[str]: ...

    def put(self, data: bytes) -> str:
        with self.writer() as w:
            return w.put_bytes(data)


class ObjectWriter(ABC):
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    @abstractmethod
    def put_bytes(self, data: bytes) -> str: ...

    @abstractmethod
    def put_file(self, path: str, expected: FileFingerprint | None = None, head: int = 0) -> tuple[str, int, bytes]:
        """Store a file's content, streaming it. Returns (id, size, first ``head`` bytes)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


# --------------------------------------------------------------------------- packs


class _IdColumn:
    """A sorted column of raw ids inside a mapped pack index, indexable for ``bisect``."""

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
    """A finished pack's index: fanout table, sorted ids, offsets and lengths (docs/format.md)."""

    HEADER = struct.Struct("<4sHHI")

    def __init__(self, idx_path: str, data: bytes | None = None):
        """Map the index file at ``idx_path``, or parse ``data`` (an index fetched from a
        non-local backend, which then reads the pack itself; ``read`` is for local packs)."""
        self.idx_path = idx_path
        self.pack_path = idx_path[: -len(".idx")] + ".pack"
        if data is not None:
            self.buf = data
        else:
            with open(idx_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            magic, version, _, count = self.HEADER.unpack_from(self.buf, 0)
        except struct.error:
            raise CorruptError(f"pack index {idx_path} is truncated", "run `mmvc fsck`") from None
        if magic != PACK_INDEX_MAGIC:
            raise CorruptError(f"{idx_path} is not a pack index", "run `mmvc fsck`")
        if version > PACK_VERSION:
            raise NewerFormatError(f"pack index {idx_path}", version, PACK_VERSION)
        self.count = count
        fan_off = self.HEADER.size
        self.fanout = struct.unpack_from("<256I", self.buf, fan_off)
        self.ids_off = fan_off + 256 * 4
        self.offs_off = self.ids_off + count * ID_RAW_LEN
        self.lens_off = self.offs_off + count * 8
        if len(self.buf) != self.lens_off + count * 8 + 64:
            raise CorruptError(f"pack index {idx_path} is truncated or has trailing bytes", "run `mmvc fsck`")
        # A flipped offset or length would hand back the wrong bytes under a valid id, so the
        # index's own checksum is checked once on load (BLAKE3: milliseconds per million ids).
        with memoryview(self.buf) as view:
            intact = blake3(view[:-32], max_threads=hash_threads(len(view))).digest() == view[-32:]
        if not intact:
            raise CorruptError(f"pack index {idx_path} is corrupt (checksum mismatch)", "run `mmvc fsck`")
        self.ids = _IdColumn(self.buf, self.ids_off, count)
        self._fh = None
        self._lock = threading.Lock()

    def find(self, raw: bytes) -> int:
        first = raw[0]
        lo = self.fanout[first - 1] if first else 0
        hi = self.fanout[first]
        if hi - lo <= 512:  # a scan of the bucket at C speed beats a bisection in Python
            start = self.ids_off + lo * ID_RAW_LEN
            bucket = self.buf[start : start + (hi - lo) * ID_RAW_LEN]
            j = bucket.find(raw)
            while j >= 0:
                if j % ID_RAW_LEN == 0:
                    return lo + j // ID_RAW_LEN
                j = bucket.find(raw, j + 1)
            return -1
        i = bisect.bisect_left(self.ids, raw, lo, hi)
        if i < hi and self.ids[i] == raw:
            return i
        return -1

    def location(self, i: int) -> tuple[int, int]:
        return (
            struct.unpack_from("<Q", self.buf, self.offs_off + 8 * i)[0],
            struct.unpack_from("<Q", self.buf, self.lens_off + 8 * i)[0],
        )

    def read(self, i: int) -> bytes:
        off, length = self.location(i)
        with self._lock:
            if self._fh is None:
                self._fh = open(self.pack_path, "rb")
            return os.pread(self._fh.fileno(), length, off)

    def raw_ids(self) -> bytes:
        return bytes(self.buf[self.ids_off : self.offs_off])

    def close(self):
        if self._fh is not None:
            self._fh.close()
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()


def encode_pack_index(entries: list[tuple[bytes, int, int]], pack_digest: bytes) -> bytes:
    """Index bytes for (raw id, offset, length) entries; sorted here so callers need not."""
    entries = sorted(entries)
    counts = [0] * 256
    for raw, _, _ in entries:
        counts[raw[0]] += 1
    fan, total = [], 0
    for c in counts:
        total += c
        fan.append(total)
    parts = [
        PackIndex.HEADER.pack(PACK_INDEX_MAGIC, PACK_VERSION, 0, len(entries)),
        struct.pack("<256I", *fan),
        b"".join(e[0] for e in entries),
        struct.pack(f"<{len(entries)}Q", *(e[1] for e in entries)),
        struct.pack(f"<{len(entries)}Q", *(e[2] for e in entries)),
        pack_digest,
    ]
    body = b"".join(parts)
    from blake3 import blake3

    return body + blake3(body).digest()


# --------------------------------------------------------------------------- local backend


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data, fsync: bool = True) -> None:
    """Write ``path`` so that readers see either the old file or the whole new one. ``data`` is
    bytes, or an iterable of byte chunks for a file too large to build in memory first."""
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_dir(os.path.dirname(path) or ".")


class LocalObjectStore(ObjectStore):
    """Objects in a local folder: ``ab/cd/<id>`` loose files plus ``pack/`` pack files."""

    def __init__(
        self,
        root: str,
        link_modes: tuple[str, ...] = ("reflink", "copy"),
        pack_threshold: int = DEFAULT_PACK_THRESHOLD,
        fsync: bool = True,
    ):
        self.root = root
        self.pack_dir = os.path.join(root, "pack")
        self.tmp_dir = os.path.join(root, "tmp")
        for m in link_modes:
            if m not in LINK_MODES:
                raise BadInputError(f"unknown link mode {m!r}", f"use a list of {', '.join(LINK_MODES)}")
        self.link_modes = tuple(link_modes)
        self.pack_threshold = pack_threshold
        self.fsync = fsync
        self._packs: dict[str, PackIndex] | None = None
        self._pack_list: tuple[PackIndex, ...] = ()
        self._hot: PackIndex | None = None
        self._packs_lock = threading.Lock()

    # -- layout

    @staticmethod
    def init_layout(root: str) -> None:
        for d in (root, os.path.join(root, "pack"), os.path.join(root, "tmp")):
            os.makedirs(d, exist_ok=True)

    def loose_path(self, oid: str) -> str:
        return os.path.join(self.root, oid[:2], oid[2:4], oid)

    # -- packs

    def packs(self) -> tuple[PackIndex, ...]:
        if self._packs is None:
            with self._packs_lock:
                if self._packs is None:
                    self._packs = {}
                    self._scan_packs_locked()
        return self._pack_list

    def _scan_packs_locked(self) -> None:
        try:
            names = os.listdir(self.pack_dir)
        except FileNotFoundError:
            names = []
        present = set(names)
        for gone in [n for n in self._packs if n not in present]:  # repacked away by a gc
            if self._packs[gone] is self._hot:
                self._hot = None
            self._packs.pop(gone).close()
        for name in sorted(names):
            if name.endswith(".idx") and name not in self._packs:
                self._packs[name] = PackIndex(os.path.join(self.pack_dir, name))
        self._pack_list = tuple(self._packs.values())

    def refresh(self) -> None:
        with self._packs_lock:
            if self._packs is not None:
                self._scan_packs_locked()

    def _register_pack(self, idx_path: str) -> None:
        with self._packs_lock:
            if self._packs is not None:
                self._packs[os.path.basename(idx_path)] = PackIndex(idx_path)
                self._pack_list = tuple(self._packs.values())

    def _find_packed(self, oid: str) -> tuple[PackIndex, int] | None:
        raw = bytes.fromhex(oid)
        hot = self._hot
        if hot is not None:  # objects read together tend to live together (a tree's nodes)
            i = hot.find(raw)
            if i >= 0:
                return hot, i
        for p in self.packs():
            if p is not hot:
                i = p.find(raw)
                if i >= 0:
                    self._hot = p
                    return p, i
        return None

    # -- reads

    def has(self, oid: str, refresh: bool = True) -> bool:
        if self._find_packed(oid) is not None:
            return True
        if os.path.exists(self.loose_path(oid)):
            return True
        if not refresh:
            return False
        self.refresh()  # another process may have finished a pack since we looked
        return self._find_packed(oid) is not None

    def has_packed(self, raw: bytes) -> bool:
        """Whether a finished pack holds the object (no refresh: for the hot path of writers)."""
        for p in self.packs():
            if p.find(raw) >= 0:
                return True
        return False

    def has_many(self, oids: Iterable[str]) -> set[str]:
        oids = list(oids)
        packs = self.packs()
        if len(oids) > 4096 and packs:
            known = set()
            for p in packs:
                blob = p.raw_ids()
                known.update(blob[i : i + ID_RAW_LEN] for i in range(0, len(blob), ID_RAW_LEN))
            present = {o for o in oids if bytes.fromhex(o) in known}
            return present | {o for o in oids if o not in present and os.path.exists(self.loose_path(o))}
        return {o for o in oids if self.has(o)}

    def get(self, oid: str) -> bytes:
        for _attempt in (0, 1):
            found = self._find_packed(oid)
            try:
                if found is not None:
                    return found[0].read(found[1])
                with open(self.loose_path(oid), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
            # a gc in another process may have moved the object into a new pack since we looked
            self.refresh()
        raise ObjectNotFound(oid)

    def open(self, oid: str) -> BinaryIO:
        try:
            return open(self.loose_path(oid), "rb")
        except FileNotFoundError:
            import io

            return io.BytesIO(self.get(oid))

    def size(self, oid: str) -> int:
        found = self._find_packed(oid)
        if found is not None:
            return found[0].location(found[1])[1]
        try:
            return os.stat(self.loose_path(oid)).st_size
        except FileNotFoundError:
            raise ObjectNotFound(oid) from None

    def iter_ids(self) -> Iterator[str]:
        seen = set()
        for p in self.packs():
            blob = p.raw_ids()
            for i in range(0, len(blob), ID_RAW_LEN):
                oid = blob[i : i + ID_RAW_LEN].hex()
                if oid not in seen:
                    seen.add(oid)
                    yield oid
        for a in sorted(os.listdir(self.root)):
            if len(a) != 2:
                continue
            for b in sorted(os.listdir(os.path.join(self.root, a))):
                for name in sorted(os.listdir(os.path.join(self.root, a, b))):
                    if is_object_id(name) and name not in seen:
                        yield name

    def writer(self, durable: bool | None = None) -> LocalObjectWriter:
        """``durable`` forces fsync (commits, whose refs will point at what they write)."""
        return LocalObjectWriter(self, fsync=self.fsync if durable is None else durable)

    def close(self) -> None:
        with self._packs_lock:
            for p in (self._packs or {}).values():
                p.close()
            self._packs = None
            self._pack_list = ()
            self._hot = None


class LocalObjectWriter(ObjectWriter):
    """Packs small objects into one temp pack (finished on close) and writes large ones loose."""

    def __init__(self, store: LocalObjectStore, pack_max_bytes: int = DEFAULT_PACK_MAX_BYTES, fsync: bool = False):
        self.store = store
        self.fsync = fsync
        self.pack_max_bytes = pack_max_bytes
        self._pack = None  # open temp pack file
        self._pack_tmp = None
        self._pack_pos = 0
        self._pack_entries: list[tuple[bytes, int, int]] = []
        self._pack_ids: set[bytes] = set()
        self._buf = bytearray()
        self._hasher = None
        self.finished_packs: list[str] = []
        self.written = 0

    # -- small objects

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        self._store_bytes(oid, data)
        return oid

    def _store_bytes(self, oid: str, data) -> None:
        raw = bytes.fromhex(oid)
        if raw in self._pack_ids:
            return
        if len(data) > self.store.pack_threshold:
            if not self.store.has(oid, refresh=False):
                self._write_loose_bytes(oid, data)
            return
        # Small objects are only ever packed, so finished packs are the only place to look.
        if self.store.has_packed(raw):
            return
        self._append_packed(raw, data)

    def put_many(self, datas) -> bytes:
        """``put_bytes`` of each of ``datas`` (bytes or memoryviews), the ids returned raw and
        concatenated: the rows of a table in one call, without a hex id per row."""
        digests = [blake3(d).digest() for d in datas]
        known = self._packed_among(digests)
        threshold, pack_ids, append, header, hs = (self.store.pack_threshold, self._pack_ids, self._append_packed, RECORD_HEADER.pack,
                                                   RECORD_HEADER.size)
        for raw, data in zip(digests, datas):
            if raw in pack_ids or raw in known:
                continue
            n = len(data)
            if n > threshold:
                self._store_bytes(raw.hex(), data)
            elif self._pack is not None and self._pack_pos + n <= self.pack_max_bytes and len(self._buf) < 1 << 20:
                head = header(raw, n)  # _append_packed, inlined for the common case
                self._buf += head
                self._buf += data
                self._pack_entries.append((raw, self._pack_pos + hs, n))
                self._pack_pos += hs + n
                pack_ids.add(raw)
                self.written += 1
            else:
                append(raw, data)
        return b"".join(digests)

    def _packed_among(self, digests: list[bytes]) -> set[bytes]:
        """Which of ``digests`` finished packs hold: each pack's sorted ids searched for the
        whole batch at once on their first 8 bytes, candidates confirmed exactly."""
        packs = self.store.packs()
        if not packs or not digests:
            return set()
        import numpy as np

        q = np.frombuffer(b"".join(digests), dtype=">u8")[::4]
        found = set()
        for p in packs:
            if not p.count:
                continue
            col = np.frombuffer(p.buf, dtype=">u8", count=4 * p.count, offset=p.ids_off)[::4]
            at = np.minimum(np.searchsorted(col, q), p.count - 1)
            hits = np.flatnonzero(col[at] == q).tolist()
            del col, at
            for k in hits:
                if p.find(digests[k]) >= 0:
                    found.add(digests[k])
        return found

    def _append_packed(self, raw: bytes, data) -> None:
        if self._pack is None:
            self._open_pack()
        elif self._pack_pos + len(data) > self.pack_max_bytes:
            self._finish_pack()
            self._open_pack()
        head = RECORD_HEADER.pack(raw, len(data))
        self._buf += head
        self._buf += data
        self._pack_entries.append((raw, self._pack_pos + len(head), len(data)))
        self._pack_pos += len(head) + len(data)
        self._pack_ids.add(raw)
        self.written += 1
        if len(self._buf) >= 1 << 20:
            self._flush_buf()

    def _open_pack(self) -> None:
        import tempfile

        fd, self._pack_tmp = tempfile.mkstemp(prefix="pack-", suffix=".tmp", dir=self.store.tmp_dir)
        self._pack = os.fdopen(fd, "wb", buffering=0)
        self._buf = bytearray(PACK_HEADER)
        self._pack_pos = len(PACK_HEADER)
        self._pack_entries = []
        self._hasher = new_hasher()

    def _flush_buf(self) -> None:
        if self._buf:
            try:
                self._pack.write(self._buf)
            except OSError as e:
                raise storage_error(e, "writing a pack file") from e
            self._hasher.update(self._buf)
            self._buf = bytearray()

    def _finish_pack(self) -> None:
        if self._pack is None:
            return
        self._flush_buf()
        try:
            if self.fsync:
                os.fsync(self._pack.fileno())
            self._pack.close()
            self._pack = None
            if not self._pack_entries:
                os.unlink(self._pack_tmp)
                return
            names = b"".join(sorted(e[0] for e in self._pack_entries))
            name = "pack-" + hash_bytes(names)
            base = os.path.join(self.store.pack_dir, name)
            idx = encode_pack_index(self._pack_entries, self._hasher.digest())
            os.replace(self._pack_tmp, base + ".pack")
            # The index is what makes a pack visible, so it lands last and whole.
            atomic_write(base + ".idx", idx, fsync=self.fsync)
        except OSError as e:
            raise storage_error(e, "finishing a pack file") from e
        self.finished_packs.append(base + ".idx")
        self.store._register_pack(base + ".idx")
        self._pack_tmp = None
        self._pack_entries = []

    # -- large objects

    def _loose_target(self, oid: str) -> str:
        path = self.store.loose_path(oid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def _write_loose_bytes(self, oid: str, data) -> None:
        path = self._loose_target(oid)
        try:
            atomic_write(path, data, fsync=self.fsync)
        except OSError as e:
            raise storage_error(e, f"writing object {oid}") from e
        self.written += 1

    def put_file(self, path: str, expected: FileFingerprint | None = None, head: int = 0) -> tuple[str, int, bytes]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise _unreadable(path, e) from e
        try:
            st = os.fstat(fd)
            if expected is not None and fingerprint(st) != expected:
                raise SourceChangedError(f"{path} changed while it was being added", "run the command again once the file is stable")
            if st.st_size <= self.store.pack_threshold:
                data = _read_all(fd, st.st_size)
                _check_unchanged(path, fd, st, len(data))
                oid = hash_bytes(data)
                self._store_bytes(oid, data)
                return oid, len(data), data[:head]
            return self._put_large(path, fd, st, head)
        finally:
            os.close(fd)

    def _put_large(self, path: str, fd: int, st: os.stat_result, head: int) -> tuple[str, int, bytes]:
        copy_first = self.store.link_modes[0] == "copy"
        tmp = None
        hasher = new_hasher()
        buf = bytearray(COPY_CHUNK)
        view = memoryview(buf)
        total = 0
        first = b""
        out = None
        try:
            if copy_first:
                import tempfile

                tfd, tmp = tempfile.mkstemp(prefix="obj-", dir=self.store.tmp_dir)
                out = os.fdopen(tfd, "wb", buffering=0)
            while True:
                n = os.readv(fd, [view])
                if not n:
                    break
                chunk = view[:n]
                if total < head:
                    first += bytes(chunk[: head - total])
                hasher.update(chunk)
                if out is not None:
                    out.write(chunk)
                total += n
            _check_unchanged(path, fd, st, total)
            oid = hasher.hexdigest()
            if self.store.has(oid, refresh=False):
                return oid, total, first
            target = self._loose_target(oid)
            if out is not None:
                if self.fsync:
                    os.fsync(out.fileno())
                out.close()
                out = None
                os.chmod(tmp, 0o444)
                os.replace(tmp, target)
                tmp = None
            else:
                self._link_into_store(path, fd, st, target)
            self.written += 1
            return oid, total, first
        except OSError as e:
            raise storage_error(e, f"storing {path}") from e
        finally:
            if out is not None:
                out.close()
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _link_into_store(self, path: str, fd: int, st: os.stat_result, target: str) -> None:
        import tempfile

        for mode in self.store.link_modes:
            tmp = os.path.join(self.store.tmp_dir, f"link-{os.getpid()}-{os.path.basename(target)}")
            try:
                if mode == "reflink":
                    import fcntl

                    tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
                    try:
                        fcntl.ioctl(tfd, _FICLONE, fd)
                    finally:
                        os.close(tfd)
                elif mode == "hardlink":
                    os.link(path, tmp)
                    os.chmod(tmp, 0o444)  # the working-tree file shares this inode: keep it read-only
                elif mode == "symlink":
                    continue  # symlinks point out of the store; only checkout may use them
                else:
                    tfd, tmp2 = tempfile.mkstemp(prefix="obj-", dir=self.store.tmp_dir)
                    os.close(tfd)
                    os.replace(tmp2, tmp)
                    with open(tmp, "wb") as out:
                        os.lseek(fd, 0, os.SEEK_SET)
                        _copy_fd(fd, out.fileno(), st.st_size)
                        if self.fsync:
                            os.fsync(out.fileno())
                    os.chmod(tmp, 0o444)
                _check_unchanged(path, fd, st, st.st_size)
                os.replace(tmp, target)
                return
            except OSError as e:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                if e.errno in (errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.EPERM, errno.EMLINK):
                    continue
                raise
        raise StorageErrorNoMode(path)

    # -- lifecycle

    def close(self) -> None:
        self._finish_pack()

    def abort(self) -> None:
        if self._pack is not None:
            try:
                self._pack.close()
            except OSError:
                pass
            self._pack = None
        if self._pack_tmp:
            try:
                os.unlink(self._pack_tmp)
            except OSError:
                pass
            self._pack_tmp = None


class StorageErrorNoMode(BadInputError):
    def __init__(self, path: str):
        super().__init__(f"none of the configured link modes could store {path}", "add `copy` to core.link in .mmvc/config.toml")


def _read_all(fd: int, size: int) -> bytes:
    data = os.read(fd, size + 1)
    if len(data) <= size:
        while len(data) < size:
            more = os.read(fd, size - len(data) + 1)
            if not more:
                break
            data += more
    return data


def _copy_fd(src: int, dst: int, size: int) -> None:
    off = 0
    while off < size:
        n = os.copy_file_range(src, dst, size - off) if hasattr(os, "copy_file_range") else 0
        if n <= 0:
            break
        off += n
    if off < size:
        os.lseek(src, off, os.SEEK_SET)
        while True:
            chunk = os.read(src, COPY_CHUNK)
            if not chunk:
                break
            os.write(dst, chunk)


def _check_unchanged(path: str, fd: int, before: os.stat_result, nread: int) -> None:
    after = os.fstat(fd)
    if nread != before.st_size or after.st_size != before.st_size or after.st_mtime_ns != before.st_mtime_ns:
        raise SourceChangedError(f"{path} changed while it was being added", "run the command again once the file is stable")


def _unreadable(path: str, e: OSError) -> BadInputError:
    if e.errno == errno.ENOENT:
        return BadInputError(f"{path} disappeared while it was being added", "run the command again")
    if e.errno in (errno.EACCES, errno.EPERM):
        return BadInputError(f"cannot read {path}: permission denied", "fix its permissions or add it to .mmvcignore")
    return BadInputError(f"cannot read {path}: {e.strerror}", "check the file, or add it to .mmvcignore")
