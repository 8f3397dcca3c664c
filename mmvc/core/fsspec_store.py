"""An object store on any fsspec filesystem (``memory://``, ``s3://``, ``gs://``, ``file://``).

It keeps the local backend's layout and pack format byte for byte (loose objects at
``ab/cd/<id>``, ``pack/pack-<h>.pack`` + ``.idx``), so a store can be copied between a folder
and a bucket with plain tools and read by either backend. Object stores have no atomic rename
and no appends, so every file is written whole under ``tmp/`` and then moved into place: a
reader either finds the finished file or nothing, and a pack becomes visible only when its
index lands, after the pack itself.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
import uuid
from typing import BinaryIO, Iterator

from mmvc.core.hashing import hash_bytes, is_object_id, new_hasher
from mmvc.core.store import (
    COPY_CHUNK,
    DEFAULT_PACK_MAX_BYTES,
    DEFAULT_PACK_THRESHOLD,
    PACK_HEADER,
    RECORD_HEADER,
    FileFingerprint,
    ObjectStore,
    ObjectWriter,
    PackIndex,
    SourceChangedError,
    _check_unchanged,
    _read_all,
    _unreadable,
    encode_pack_index,
    fingerprint,
)
from mmvc.errors import ObjectNotFound


class FsspecObjectStore(ObjectStore):
    """Objects under ``root`` of an fsspec filesystem; ``FsspecObjectStore.from_url`` for URLs."""

    def __init__(self, fs, root: str, pack_threshold: int = DEFAULT_PACK_THRESHOLD):
        self.fs = fs
        self.root = root.rstrip("/")
        self.pack_dir = f"{self.root}/pack"
        self.tmp_dir = f"{self.root}/tmp"
        self.pack_threshold = pack_threshold
        self._packs: dict[str, PackIndex] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kw) -> "FsspecObjectStore":
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(url)
        return cls(fs, root, **kw)

    @staticmethod
    def init_layout(fs, root: str) -> None:
        for d in ("", "/pack", "/tmp"):
            fs.makedirs(root.rstrip("/") + d, exist_ok=True)

    def loose_path(self, oid: str) -> str:
        return f"{self.root}/{oid[:2]}/{oid[2:4]}/{oid}"

    # -- packs: the index is fetched whole once (one GET), the pack is read by ranges

    def packs(self) -> list[PackIndex]:
        with self._lock:
            if self._packs is None:
                self._packs = {}
                self._scan_locked()
            return list(self._packs.values())

    def _scan_locked(self) -> None:
        try:
            names = sorted(posixpath.basename(p) for p in self.fs.ls(self.pack_dir, detail=False))
        except FileNotFoundError:
            names = []
        for name in names:
            if name.endswith(".idx") and name not in self._packs:
                path = f"{self.pack_dir}/{name}"
                self._packs[name] = PackIndex(path, data=self.fs.cat_file(path))

    def refresh(self) -> None:
        with self._lock:
            if self._packs is not None:
                self.fs.invalidate_cache(self.pack_dir)
                self._scan_locked()

    def _find_packed(self, oid: str, refresh: bool = True) -> tuple[PackIndex, int] | None:
        raw = bytes.fromhex(oid)
        for attempt in (0, 1) if refresh else (0,):
            if attempt:
                self.refresh()  # another writer may have finished a pack since we looked
            for p in self.packs():
                i = p.find(raw)
                if i >= 0:
                    return p, i
        return None

    # -- reads

    def has(self, oid: str) -> bool:
        return self._find_packed(oid, refresh=False) is not None or self.fs.exists(self.loose_path(oid)) or self._find_packed(oid) is not None

    def get(self, oid: str) -> bytes:
        found = self._find_packed(oid, refresh=False)
        if found is None:
            try:
                return self.fs.cat_file(self.loose_path(oid))
            except FileNotFoundError:
                found = self._find_packed(oid)
        if found is None:
            raise ObjectNotFound(oid)
        off, length = found[0].location(found[1])
        return self.fs.cat_file(found[0].pack_path, start=off, end=off + length) if length else b""

    def open(self, oid: str) -> BinaryIO:
        if self._find_packed(oid, refresh=False) is None:
            try:
                return self.fs.open(self.loose_path(oid), "rb")
            except FileNotFoundError:
                pass
        return io.BytesIO(self.get(oid))

    def size(self, oid: str) -> int:
        found = self._find_packed(oid, refresh=False)
        if found is None:
            try:
                return self.fs.size(self.loose_path(oid))
            except FileNotFoundError:
                found = self._find_packed(oid)
        if found is None:
            raise ObjectNotFound(oid)
        return found[0].location(found[1])[1]

    def iter_ids(self) -> Iterator[str]:
        seen = set()
        for p in self.packs():
            blob = p.raw_ids()
            for i in range(0, len(blob), 32):
                oid = blob[i : i + 32].hex()
                if oid not in seen:
                    seen.add(oid)
                    yield oid
        for path in sorted(self.fs.find(self.root)):
            rel = path[len(self.root) :].lstrip("/").split("/")
            if len(rel) == 3 and is_object_id(rel[2]) and rel[0] == rel[2][:2] and rel[1] == rel[2][2:4] and rel[2] not in seen:
                yield rel[2]

    def writer(self) -> "FsspecObjectWriter":
        return FsspecObjectWriter(self)


class FsspecObjectWriter(ObjectWriter):
    """One pack streamed to ``tmp/`` (moved into ``pack/`` on close); large objects go loose."""

    def __init__(self, store: FsspecObjectStore, pack_max_bytes: int = DEFAULT_PACK_MAX_BYTES):
        self.store = store
        self.fs = store.fs
        self.pack_max_bytes = pack_max_bytes
        self._out = None  # open temp pack file
        self._tmp = None
        self._pos = 0
        self._entries: list[tuple[bytes, int, int]] = []
        self._ids: set[bytes] = set()
        self._hasher = None
        self.written = 0

    def _tmp_name(self, kind: str) -> str:
        return f"{self.store.tmp_dir}/{kind}-{uuid.uuid4().hex}"

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        self._store_bytes(oid, data)
        return oid

    def _store_bytes(self, oid: str, data: bytes) -> None:
        raw = bytes.fromhex(oid)
        if raw in self._ids or self.store.has(oid):
            return
        if len(data) > self.store.pack_threshold:
            tmp = self._tmp_name("obj")
            self.fs.pipe_file(tmp, bytes(data))
            self._move(tmp, self.store.loose_path(oid))
            self.written += 1
            return
        if self._out is not None and self._pos + len(data) > self.pack_max_bytes:
            self._finish_pack()
        if self._out is None:
            self._tmp = self._tmp_name("pack")
            self._out = self.fs.open(self._tmp, "wb")
            self._hasher = new_hasher()
            self._write(PACK_HEADER)
        head = RECORD_HEADER.pack(raw, len(data))
        self._write(head)
        self._entries.append((raw, self._pos, len(data)))
        self._write(data)
        self._ids.add(raw)
        self.written += 1

    def _write(self, b: bytes) -> None:
        self._out.write(b)
        self._hasher.update(b)
        self._pos += len(b)

    def _move(self, tmp: str, target: str) -> None:
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self.fs.mv(tmp, target)

    def _finish_pack(self) -> None:
        if self._out is None:
            return
        self._out.close()
        self._out = None
        name = "pack-" + hash_bytes(b"".join(sorted(e[0] for e in self._entries)))
        base = f"{self.store.pack_dir}/{name}"
        idx = encode_pack_index(self._entries, self._hasher.digest())
        self._move(self._tmp, base + ".pack")
        tmp_idx = self._tmp_name("idx")
        self.fs.pipe_file(tmp_idx, idx)
        self._move(tmp_idx, base + ".idx")  # the index lands last: it makes the pack visible
        with self.store._lock:
            if self.store._packs is not None:
                self.store._packs[name + ".idx"] = PackIndex(base + ".idx", data=idx)
        self._tmp, self._entries, self._pos = None, [], 0

    def put_file(self, path: str, expected: FileFingerprint | None = None, head: int = 0) -> tuple[str, int, bytes]:
        try:
            src = open(path, "rb", buffering=0)
        except OSError as e:
            raise _unreadable(path, e) from e
        with src:
            st = os.fstat(src.fileno())
            if expected is not None and fingerprint(st) != expected:
                raise SourceChangedError(f"{path} changed while it was being added", "run the command again once the file is stable")
            if st.st_size <= self.store.pack_threshold:
                data = _read_all(src.fileno(), st.st_size)
                _check_unchanged(path, src.fileno(), st, len(data))
                oid = hash_bytes(data)
                self._store_bytes(oid, data)
                return oid, len(data), data[:head]
            # Stream to a temp object while hashing: the id is known only at the end.
            hasher, total, first = new_hasher(), 0, b""
            tmp = self._tmp_name("obj")
            try:
                with self.fs.open(tmp, "wb") as out:
                    while chunk := src.read(COPY_CHUNK):
                        if total < head:
                            first += chunk[: head - total]
                        hasher.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
                _check_unchanged(path, src.fileno(), st, total)
                oid = hasher.hexdigest()
                if not self.store.has(oid):
                    self._move(tmp, self.store.loose_path(oid))
                    tmp = None
                    self.written += 1
                return oid, total, first
            finally:
                if tmp is not None:
                    self._remove(tmp)

    def _remove(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except (FileNotFoundError, OSError):
            pass

    def close(self) -> None:
        self._finish_pack()

    def abort(self) -> None:
        if self._out is not None:
            # fsspec has no portable "abandon this upload", so finish the temp file and delete
            # it; it lives under tmp/ and was never visible as an object or a pack.
            try:
                self._out.close()
            except Exception:
                pass
            self._out = None
            self._remove(self._tmp)
            self._tmp = None
