"""The object store: immutable objects named by the BLAKE3 hex of their bytes.

Small objects (captions, transcripts, manifest nodes, tiny images) go into append-only pack
files (``mmvc.core.pack``) so that a million of them are a handful of files, not a million
inodes or PUTs; large objects stay loose at ``objects/ab/cd/<id>``, written by temp file + rename
(or linked from the working tree) so that no object is ever visible before its bytes are complete.

``ObjectStore`` is the interface every backend implements: ``LocalObjectStore`` (here, a
repository's ``.mmvc/objects``), ``FsspecObjectStore`` (``mmvc.core.fsspec_store``, a bucket:
what remotes are) and ``PromisorObjectStore`` (``mmvc.core.promisor_store``, a partial clone's
local store that fetches absent objects from its remote). The contract tests in
``tests/core/test_store_contract.py`` run against every backend.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from collections.abc import Callable

from blake3 import blake3

from mmvc.core.atomicfile import atomic_write, fsync_dir, sync_written
from mmvc.core.hashing import ID_RAW_LEN, hash_bytes, hash_threads, is_object_id, new_hasher
from mmvc.core.pack import PackBuilder, PackIndex, corrupt_records, pack_name
from mmvc.errors import BadInputError, CorruptError, ObjectNotFound, storage_error

DEFAULT_PACK_THRESHOLD = 256 * 1024  # objects up to this size are packed
DEFAULT_PACK_MAX_BYTES = 1 << 30  # a local writer starts a new pack past this size
COPY_CHUNK = 8 << 20
HASH_WINDOW = 64 << 20  # a large file is copied and hashed this much at a time
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

    pack_threshold: int = DEFAULT_PACK_THRESHOLD  # objects up to this size are packed

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

    # -- objects as local files, for readers that map them or copy them in the kernel

    def loose_path(self, oid: str) -> str | None:
        """The local file that holds ``oid`` when it is stored loose (it may not exist); None
        for a store whose objects are not local files."""
        return None

    def locate(self, oid: str) -> tuple[str, int, int] | None:
        """(local pack file, offset, length) of a packed object, else None."""
        return None

    def locate_many(self, oids: list[str]) -> list:
        """``locate`` of each of ``oids``."""
        return [self.locate(o) for o in oids]

    def refresh(self) -> None:  # noqa: B027 (a store that caches nothing has nothing to refresh)
        """Look again for what other processes have stored since this store last looked."""

    def close(self) -> None:  # noqa: B027 (a store that holds nothing open has nothing to close)
        """Let go of open files and cached indexes; the store reopens them on next use."""


class HashMismatchError(CorruptError):
    """Bytes handed over as a given object do not hash to its id."""


@dataclass
class Spooled:
    """An object's bytes written to a temp place of its store, not yet visible."""

    tmp: str
    oid: str
    size: int
    head: bytes  # its first bytes, as many as were asked for


class ObjectWriter(ABC):
    store: ObjectStore

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

    def put_stream(self, chunks: Iterable[bytes], expect: str | None = None) -> tuple[str, int]:
        """Store the bytes ``chunks`` yields as one object without holding them all, hashed on
        the way; returns (id, size). With ``expect``, bytes that do not hash to it are refused
        (``HashMismatchError``) and nothing is stored."""
        spooled = self._spool(chunks)
        if expect is not None and spooled.oid != expect:
            self._discard(spooled)
            raise HashMismatchError(f"object {expect}: the bytes given for it hash to {spooled.oid}")
        self._publish(spooled)
        return spooled.oid, spooled.size

    def put_file(self, path: str, expected: FileFingerprint | None = None, head: int = 0) -> tuple[str, int, bytes]:
        """Store a file's content, streaming it. Returns (id, size, first ``head`` bytes).
        ``expected``: the file as it was seen; a file that differs, or changes while it is
        read, is refused (``SourceChangedError``)."""
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
                return self.put_bytes(data), len(data), data[:head]
            return self._put_large_file(path, fd, st, head)
        finally:
            os.close(fd)

    def _put_large_file(self, path: str, fd: int, st: os.stat_result, head: int) -> tuple[str, int, bytes]:
        """``put_file`` of a file above the pack threshold, open as ``fd`` and seen as ``st``:
        spooled while it is hashed (its id is known only at the end), published if unchanged."""
        spooled = self._spool(_read_chunks(fd), head)
        try:
            _check_unchanged(path, fd, st, spooled.size)
        except BaseException:
            self._discard(spooled)
            raise
        self._publish(spooled)
        return spooled.oid, spooled.size, spooled.head

    @abstractmethod
    def _spool(self, chunks: Iterable[bytes], head: int = 0) -> Spooled:
        """Write ``chunks`` to a temp place, hashing them."""

    @abstractmethod
    def _publish(self, spooled: Spooled) -> None:
        """Make a spooled object visible under its id (or drop it when the store has it)."""

    @abstractmethod
    def _discard(self, spooled: Spooled) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


# --------------------------------------------------------------------------- local backend


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
        self.reflinks: bool | None = None  # whether this file system clones files (known after a first try)
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

    def locate(self, oid: str) -> tuple[str, int, int] | None:
        found = self._find_packed(oid)
        if found is None:
            return None
        return (found[0].pack_path, *found[0].location(found[1]))

    def locate_many(self, oids: list[str]) -> list:
        """``locate`` for many objects at once: each pack's sorted ids searched with numpy for the
        whole batch (a version's worth of ids in milliseconds), not id by id in Python."""
        out: list = [None] * len(oids)
        packs = self.packs()
        if not packs or not oids:
            return out
        if len(oids) < 4096 and "numpy" not in sys.modules:  # not worth numpy's import (~0.1 s)
            return [self.locate(o) for o in oids]
        import numpy as np

        want = np.array([bytes.fromhex(o) for o in oids], dtype="S32")
        left = np.arange(len(oids))
        for pack in packs:
            if not len(left):
                break
            at = pack.find_many(want[left])
            hit = at >= 0
            if hit.any():
                offs, lens = pack.locations(at[hit])
                for k, o, n in zip(left[hit].tolist(), offs.tolist(), lens.tolist()):
                    out[k] = (pack.pack_path, o, n)
            left = left[~hit]
        return out

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

    # -- writes

    def writer(self, durable: bool | None = None) -> LocalObjectWriter:
        """``durable`` forces an fsync per object (commits, whose refs will point at what they
        write); otherwise the store's mode applies (``core.fsync_objects``: batch, each, never)."""
        return LocalObjectWriter(self, fsync=self.fsync if durable is None else durable)

    def repack(self) -> Repack:
        """A new pack gathering objects from elsewhere in this store (gc): see ``Repack``."""
        return Repack(self)

    def close(self) -> None:
        with self._packs_lock:
            for p in (self._packs or {}).values():
                p.close()
            self._packs = None
            self._pack_list = ()
            self._hot = None


class LocalObjectWriter(ObjectWriter):
    """Packs small objects into one temp pack (finished on close) and writes large ones loose."""

    def __init__(self, store: LocalObjectStore, pack_max_bytes: int = DEFAULT_PACK_MAX_BYTES, fsync: bool | str = False):
        self.store = store
        self.fsync = fsync is True or fsync == "each"
        self.batch: list[str] | None = [] if fsync == "batch" else None  # files to flush at once on close
        self.pack_max_bytes = pack_max_bytes
        self._pack: _TempPack | None = None
        self._pack_ids: set[bytes] = set()
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
        threshold, pack_ids, append = self.store.pack_threshold, self._pack_ids, self._append_packed
        for raw, data in zip(digests, datas):
            if raw in pack_ids or raw in known:
                continue
            if len(data) > threshold:
                self._store_bytes(raw.hex(), data)
            else:
                append(raw, data)
        return b"".join(digests)

    def _packed_among(self, digests: list[bytes]) -> set[bytes]:
        """Which of ``digests`` finished packs hold: each pack searched for the whole batch at once."""
        packs = self.store.packs()
        if not packs or not digests:
            return set()
        import numpy as np

        want = np.frombuffer(b"".join(digests), dtype="S32")
        found = set()
        for p in packs:
            for k in np.flatnonzero(p.find_many(want) >= 0).tolist():
                found.add(digests[k])
        return found

    def _append_packed(self, raw: bytes, data) -> None:
        pack = self._pack
        if pack is None:
            pack = self._pack = _TempPack(self.store, "pack-")
        elif pack.builder.size + len(data) > self.pack_max_bytes:
            self._finish_pack()
            pack = self._pack = _TempPack(self.store, "pack-")
        pack.builder.add(raw, data)
        self._pack_ids.add(raw)
        self.written += 1

    def _finish_pack(self) -> None:
        pack, self._pack = self._pack, None
        if pack is not None:
            idx_path, _ = pack.publish(self.fsync)
            if idx_path is not None:
                self.finished_packs.append(idx_path)
                self._written_file(idx_path[: -len(".idx")] + ".pack", idx_path)

    # -- large objects

    def _written_file(self, *paths: str) -> None:
        """Note files just renamed into the store, for the one flush of the batch mode."""
        if self.batch is not None:
            self.batch += paths

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
        self._written_file(path)
        self.written += 1

    def _spool(self, chunks: Iterable[bytes], head: int = 0) -> Spooled:
        fd, tmp = tempfile.mkstemp(prefix="obj-", dir=self.store.tmp_dir)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                oid, total, first = copy_hashed(chunks, out.write, head)
                if self.fsync:
                    os.fsync(out.fileno())
        except BaseException:
            _remove(tmp)
            raise
        return Spooled(tmp, oid, total, first)

    def _publish(self, spooled: Spooled) -> None:
        if self.store.has(spooled.oid, refresh=False):
            self._discard(spooled)
            return
        os.chmod(spooled.tmp, 0o444)
        target = self._loose_target(spooled.oid)
        os.replace(spooled.tmp, target)
        self._written_file(target)
        self.written += 1

    def _discard(self, spooled: Spooled) -> None:
        _remove(spooled.tmp)

    def put_stream(self, chunks: Iterable[bytes], expect: str | None = None) -> tuple[str, int]:
        try:
            return super().put_stream(chunks, expect)
        except OSError as e:
            raise storage_error(e, "writing an object") from e

    def _put_large_file(self, path: str, fd: int, st: os.stat_result, head: int) -> tuple[str, int, bytes]:
        """A large file becomes a loose object in one pass over its bytes: the object is a
        reflink clone of the file, or gets it copied by the kernel (``copy_file_range``) a
        window at a time, and each window of the object is hashed where it lies in the page
        cache, on several threads; one fsync at the end. A hard link (the working file itself
        becomes the object) needs the id first, so it reads the file beforehand."""
        mode = next((m for m in self.store.link_modes if m != "reflink" or self.store.reflinks is not False), "copy")
        if mode not in ("reflink", "copy"):
            return self._put_large_linked(path, fd, st, head)
        tfd, tmp = tempfile.mkstemp(prefix="obj-", dir=self.store.tmp_dir)
        try:
            size = st.st_size
            cloned = mode == "reflink" and self._clone(fd, tfd)
            if not cloned and mode == "reflink" and "copy" not in self.store.link_modes:
                os.close(tfd)
                tfd = -1
                return self._put_large_linked(path, fd, st, head)
            from concurrent.futures import ThreadPoolExecutor

            hasher = blake3(max_threads=hash_threads(size))
            first = os.pread(fd, head, 0)
            windows = [(off, min(HASH_WINDOW, size - off)) for off in range(0, size, HASH_WINDOW)]
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmvc-copy") as copier:
                # the kernel copies the next window while this thread hashes the last one
                copying = None if cloned else copier.submit(_copy_range, fd, tfd, *windows[0])
                for k, (off, n) in enumerate(windows):
                    if copying is not None:
                        copying.result()
                        copying = copier.submit(_copy_range, fd, tfd, *windows[k + 1]) if k + 1 < len(windows) else None
                    if os.fstat(tfd).st_size < off + n:
                        raise SourceChangedError(f"{path} changed while it was being added", "run the command again once the file is stable")
                    # the copy is hashed, mapped: its pages are in the page cache, and no one
                    # else can cut short this temporary file under the map
                    with mmap.mmap(tfd, n, access=mmap.ACCESS_READ, offset=off) as window:
                        hasher.update(window)
            _check_unchanged(path, fd, st, size)
            oid = hasher.hexdigest()
            if self.store.has(oid, refresh=False):
                return oid, size, first
            if self.fsync:
                os.fsync(tfd)
            os.close(tfd)
            tfd = -1
            os.chmod(tmp, 0o444)
            target = self._loose_target(oid)
            os.replace(tmp, target)
            tmp = None
            self._written_file(target)
            self.written += 1
            return oid, size, first
        except OSError as e:
            raise storage_error(e, f"storing {path}") from e
        finally:
            if tfd >= 0:
                os.close(tfd)
            if tmp is not None:
                _remove(tmp)

    def _clone(self, src: int, dst: int) -> bool:
        """Whether ``dst`` is now a reflink clone of ``src``; remembers a file system without them."""
        import fcntl

        try:
            fcntl.ioctl(dst, _FICLONE, src)
        except OSError as e:
            if e.errno in (errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.EPERM):
                self.store.reflinks = False
                return False
            raise
        self.store.reflinks = True
        return True

    def _put_large_linked(self, path: str, fd: int, st: os.stat_result, head: int) -> tuple[str, int, bytes]:
        """Hash the file, then bring it into the store by the first link mode that works."""
        try:
            oid, total, first = copy_hashed(_read_chunks(fd), None, head)
            _check_unchanged(path, fd, st, total)
            if not self.store.has(oid, refresh=False):
                target = self._loose_target(oid)
                self._link_into_store(path, fd, st, target)
                self._written_file(target)
                self.written += 1
            return oid, total, first
        except OSError as e:
            raise storage_error(e, f"storing {path}") from e

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
        if self.batch:
            try:
                sync_written(self.batch, self.store.root)
            except OSError as e:
                raise storage_error(e, "flushing new objects to disk") from e
            self.batch = []

    def abort(self) -> None:
        pack, self._pack = self._pack, None
        if pack is not None:
            pack.discard()


class _TempPack:
    """A pack being written to a temp file in the store's ``tmp/``: made visible whole by
    ``publish`` (the pack file flushed and moved into ``pack/``, then its index, which is what
    makes it visible, last and whole), or removed by ``discard``."""

    def __init__(self, store: LocalObjectStore, prefix: str, flush_at: int = 1 << 20):
        self.store = store
        fd, self.path = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=store.tmp_dir)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.builder = PackBuilder(self._write, flush_at)

    def _write(self, chunk) -> None:
        try:
            self._file.write(chunk)
        except OSError as e:
            raise storage_error(e, "writing a pack file") from e

    def publish(self, fsync: bool, mtime: float | None = None, checkpoint: Callable[[str], None] | None = None) -> tuple[str | None, int]:
        """(index path, bytes written); (None, 0) for a pack without records, which is removed.
        ``mtime`` is given to the pack before it appears; ``checkpoint`` is told each step
        (gc's fault tests stop the process there)."""
        try:
            name, idx = self.builder.finish()
            if fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            if not self.builder.entries:
                self.discard()
                return None, 0
            base = os.path.join(self.store.pack_dir, name)
            if mtime is not None:
                os.utime(self.path, (mtime, mtime))  # before the rename: no moment with a wrong age
            if checkpoint:
                checkpoint("pack-written")
            os.replace(self.path, base + ".pack")
            self.path = None
            if fsync:
                fsync_dir(self.store.pack_dir)
            if checkpoint:
                checkpoint("pack-renamed")
            atomic_write(base + ".idx", idx, fsync=fsync)
        except BaseException as e:
            self.discard()
            if isinstance(e, OSError):
                raise storage_error(e, "finishing a pack file") from e
            raise
        self.store._register_pack(base + ".idx")
        return base + ".idx", self.builder.size + len(idx)

    def discard(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        if self.path is not None:
            _remove(self.path)
            self.path = None


class Repack:
    """One new pack gathering objects from elsewhere in the store, for gc: every record re-hashed
    as it is added (a corrupt copy is never laundered into a fresh pack), written in ``tmp/``,
    and made visible whole by ``finish`` (docs/format.md, "Garbage collection", its repack ordering). Leaving its
    ``with`` block without ``finish`` removes the temp pack."""

    def __init__(self, store: LocalObjectStore):
        self.store = store
        self._temp: _TempPack | None = _TempPack(store, "pack-gc-", flush_at=4 << 20)
        self.written: set[bytes] = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
        return False

    def add(self, raw: bytes, data) -> bool:
        """Copy one object in; False (and nothing copied) when ``data`` is None or does not hash
        to ``raw``. An id already copied is not copied again."""
        if raw in self.written:
            return True
        if data is None or blake3(data).digest() != raw:
            return False
        self._temp.builder.add(raw, data)
        self.written.add(raw)
        return True

    def finish(self, mtime: float | None = None, checkpoint: Callable[[str], None] | None = None) -> tuple[str | None, int]:
        """Make the pack visible: the pack file, flushed, then its index. Returns (index path,
        bytes added); (None, 0) when nothing was added. A pack of the same name already visible
        holds exactly these objects (a rerun after a crash): it is kept, once every record in
        it proves intact, and nothing is written."""
        temp, self._temp = self._temp, None
        if temp is None:
            raise RuntimeError("this repack is already finished")
        name = pack_name(self.written)
        existing = os.path.join(self.store.pack_dir, name + ".idx")
        if not self.written or os.path.exists(existing):
            temp.discard()
            if not self.written:
                return None, 0
            index = PackIndex(existing)
            try:
                bad = corrupt_records(index)
            finally:
                index.close()
            if bad:
                raise CorruptError(f"gc stopped: pack {name} holds a corrupt copy of {bad[0].hex()}",
                                   "run `mmvc fsck`; move that pack aside once fsck shows its objects intact elsewhere")
            return existing, 0
        return temp.publish(True, mtime, checkpoint)

    def abort(self) -> None:
        temp, self._temp = self._temp, None
        if temp is not None:
            temp.discard()


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


def _copy_range(src: int, dst: int, off: int, n: int) -> None:
    """Bytes [off, off + n) of ``src`` to the same place in ``dst``, copied in the kernel where
    it can (a file system may then share the blocks instead of copying them)."""
    end = off + n
    if hasattr(os, "copy_file_range"):
        while off < end:
            try:
                done = os.copy_file_range(src, dst, end - off, off, off)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
                break
            if done <= 0:
                break
            off += done
    while off < end:
        chunk = os.pread(src, min(COPY_CHUNK, end - off), off)
        if not chunk:
            return  # the file is shorter than it was: the caller sees the copy fall short
        os.pwrite(dst, chunk, off)
        off += len(chunk)


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


def copy_hashed(chunks: Iterable[bytes], write: Callable[[bytes], object] | None, head: int = 0) -> tuple[str, int, bytes]:
    """Hand each of ``chunks`` to ``write`` (if any) while hashing them: (id, size, first
    ``head`` bytes) of what went through."""
    hasher, total, first = new_hasher(), 0, b""
    for chunk in chunks:
        if total < head:
            first += bytes(chunk[: head - total])
        hasher.update(chunk)
        if write is not None:
            write(chunk)
        total += len(chunk)
    return hasher.hexdigest(), total, first


def _read_chunks(fd: int) -> Iterator[memoryview]:
    """The rest of an open file in pieces of ``COPY_CHUNK``, each a view of one reused buffer
    (valid until the next piece is asked for)."""
    view = memoryview(bytearray(COPY_CHUNK))
    while n := os.readv(fd, [view]):
        yield view[:n]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
