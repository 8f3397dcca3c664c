"""An object store on any fsspec filesystem (``memory://``, ``s3://``, ``gs://``, ``file://``).

It keeps the local backend's layout and pack format byte for byte (loose objects at
``ab/cd/<id>``, ``pack/pack-<h>.pack`` + ``.idx``), so a store moves between a folder and a
bucket with plain copy tools and either backend reads it. Object stores have no appends and no
atomic rename, so every file is written whole under ``tmp/`` and then moved into place: readers
find a finished file or nothing, and a pack becomes visible only when its index lands, last.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from mmvc.core.hashing import ID_RAW_LEN, hash_bytes, is_object_id, new_hasher
from mmvc.core.store import COPY_CHUNK, DEFAULT_PACK_MAX_BYTES, DEFAULT_PACK_THRESHOLD, PACK_HEADER, RECORD_HEADER, FileFingerprint
from mmvc.core.store import ObjectStore, ObjectWriter, PackIndex, SourceChangedError, encode_pack_index, fingerprint
from mmvc.core.store import _check_unchanged, _read_all, _unreadable
from mmvc.errors import ObjectNotFound


class FsspecObjectStore(ObjectStore):
    def __init__(self, fs, root: str, pack_threshold: int = DEFAULT_PACK_THRESHOLD):
        self.fs = fs
        self.root = root.rstrip("/")
        self.pack_dir = f"{self.root}/pack"
        self.tmp_dir = f"{self.root}/tmp"
        self.pack_threshold = pack_threshold
        self._packs: dict[str, PackIndex] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kw) -> FsspecObjectStore:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(url)
        return cls(fs, root, **kw)

    @staticmethod
    def init_layout(fs, root: str) -> None:
        for d in ("", "/pack", "/tmp"):
            fs.makedirs(root.rstrip("/") + d, exist_ok=True)

    def loose_path(self, oid: str) -> str:
        return f"{self.root}/{oid[:2]}/{oid[2:4]}/{oid}"

    # -- packs: each index is fetched whole once (one GET); packs are read by byte ranges

    def packs(self) -> list[PackIndex]:
        with self._lock:
            if self._packs is None:
                self._packs = {}
                self._scan_locked()
            return list(self._packs.values())

    def _scan_locked(self) -> None:
        self.fs.invalidate_cache(self.pack_dir)
        try:
            names = sorted(posixpath.basename(p) for p in self.fs.ls(self.pack_dir, detail=False))
        except FileNotFoundError:
            names = []
        for name in names:
            if name.endswith(".idx") and name not in self._packs:
                path = f"{self.pack_dir}/{name}"
                self._packs[name] = PackIndex(path, data=self.fs.cat_file(path))

    def _add_pack(self, idx_path: str, data: bytes) -> None:
        with self._lock:
            if self._packs is not None:
                self._packs[posixpath.basename(idx_path)] = PackIndex(idx_path, data=data)

    def _find_packed(self, oid: str, rescan: bool = False) -> tuple[PackIndex, int] | None:
        if rescan:  # another writer may have finished a pack since we looked
            self.packs()
            with self._lock:
                self._scan_locked()
        raw = bytes.fromhex(oid)
        for p in self.packs():
            i = p.find(raw)
            if i >= 0:
                return p, i
        return None

    def _locate(self, oid: str) -> tuple[PackIndex, int] | str:
        """A pack entry, else the loose path; pack/ is re-listed only before giving up."""
        found = self._find_packed(oid)
        if found is None and not self.fs.exists(self.loose_path(oid)):
            found = self._find_packed(oid, rescan=True)
            if found is None:
                raise ObjectNotFound(oid)
        return found or self.loose_path(oid)

    # -- reads

    def has(self, oid: str) -> bool:
        try:
            return bool(self._locate(oid))
        except ObjectNotFound:
            return False

    def get(self, oid: str) -> bytes:
        where = self._locate(oid)
        if isinstance(where, str):
            return self.fs.cat_file(where)
        off, length = where[0].location(where[1])
        return self.fs.cat_file(where[0].pack_path, start=off, end=off + length) if length else b""

    def open(self, oid: str) -> BinaryIO:
        where = self._locate(oid)
        return self.fs.open(where, "rb") if isinstance(where, str) else io.BytesIO(self.get(oid))

    def size(self, oid: str) -> int:
        where = self._locate(oid)
        return self.fs.size(where) if isinstance(where, str) else where[0].location(where[1])[1]

    def iter_ids(self) -> Iterator[str]:
        seen = set()
        for p in self.packs():
            blob = p.raw_ids()
            seen.update(blob[i : i + ID_RAW_LEN].hex() for i in range(0, len(blob), ID_RAW_LEN))
        yield from sorted(seen)
        for path in sorted(self.fs.find(self.root)):
            parts = path[len(self.root) :].strip("/").split("/")
            if len(parts) == 3 and is_object_id(parts[2]) and parts[:2] == [parts[2][:2], parts[2][2:4]] and parts[2] not in seen:
                yield parts[2]

    def writer(self) -> FsspecObjectWriter:
        return FsspecObjectWriter(self)


class FsspecObjectWriter(ObjectWriter):
    """Small objects stream into one temp pack, moved into ``pack/`` on close; large ones go loose.

    Only the packs already known are consulted before writing (no LIST request per object): at
    worst an object another writer finished meanwhile is stored twice, which is harmless."""

    def __init__(self, store: FsspecObjectStore, pack_max_bytes: int = DEFAULT_PACK_MAX_BYTES):
        self.store, self.fs = store, store.fs
        self.pack_max_bytes = pack_max_bytes
        self._out = self._tmp = self._hasher = None
        self._pos = 0
        self._entries: list[tuple[bytes, int, int]] = []
        self._ids: set[bytes] = set()
        self.written = 0

    def _tmp_name(self, kind: str) -> str:
        return f"{self.store.tmp_dir}/{kind}-{uuid.uuid4().hex}"

    def _known(self, oid: str, loose_too: bool) -> bool:
        if bytes.fromhex(oid) in self._ids or self.store._find_packed(oid) is not None:
            return True
        return loose_too and self.fs.exists(self.store.loose_path(oid))

    def _move(self, tmp: str, target: str) -> None:
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self.fs.mv(tmp, target)

    def put_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data)
        large = len(data) > self.store.pack_threshold
        if self._known(oid, loose_too=large):
            return oid
        if large:
            tmp = self._tmp_name("obj")
            self.fs.pipe_file(tmp, bytes(data))
            self._move(tmp, self.store.loose_path(oid))
        else:
            if self._out is not None and self._pos + len(data) > self.pack_max_bytes:
                self._finish_pack()
            if self._out is None:
                self._tmp, self._hasher = self._tmp_name("pack"), new_hasher()
                self._out = self.fs.open(self._tmp, "wb")
                self._write(PACK_HEADER)
            raw = bytes.fromhex(oid)
            self._write(RECORD_HEADER.pack(raw, len(data)))
            self._entries.append((raw, self._pos, len(data)))
            self._write(data)
            self._ids.add(raw)
        self.written += 1
        return oid

    def _write(self, b: bytes) -> None:
        self._out.write(b)
        self._hasher.update(b)
        self._pos += len(b)

    def _finish_pack(self) -> None:
        if self._out is None:
            return
        self._out.close()
        self._out = None
        base = f"{self.store.pack_dir}/pack-" + hash_bytes(b"".join(sorted(e[0] for e in self._entries)))
        idx = encode_pack_index(self._entries, self._hasher.digest())
        self._move(self._tmp, base + ".pack")
        tmp_idx = self._tmp_name("idx")
        self.fs.pipe_file(tmp_idx, idx)
        self._move(tmp_idx, base + ".idx")
        self.store._add_pack(base + ".idx", idx)
        self._tmp, self._entries, self._pos = None, [], 0

    def put_file(self, path: str, expected: FileFingerprint | None = None, head: int = 0) -> tuple[str, int, bytes]:
        try:
            src = open(path, "rb", buffering=0)
        except OSError as e:
            raise _unreadable(path, e) from e
        with src:
            fd = src.fileno()
            st = os.fstat(fd)
            if expected is not None and fingerprint(st) != expected:
                raise SourceChangedError(f"{path} changed while it was being added", "run the command again once the file is stable")
            if st.st_size <= self.store.pack_threshold:
                data = _read_all(fd, st.st_size)
                _check_unchanged(path, fd, st, len(data))
                return self.put_bytes(data), len(data), data[:head]
            # Streamed to a temp object while hashing, since the id is known only at the end.
            hasher, total, first, tmp = new_hasher(), 0, b"", self._tmp_name("obj")
            try:
                with self.fs.open(tmp, "wb") as out:
                    while chunk := src.read(COPY_CHUNK):
                        first += chunk[: max(0, head - total)]
                        hasher.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
                _check_unchanged(path, fd, st, total)
                oid = hasher.hexdigest()
                if not self._known(oid, loose_too=True):
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
        except OSError:  # FileNotFoundError included: a buffered upload may never have landed
            pass

    def close(self) -> None:
        self._finish_pack()

    def abort(self) -> None:
        if self._out is not None:
            # fsspec has no portable "abandon this upload": finish the temp file, then delete
            # it. It lives under tmp/ and was never visible as an object or a pack.
            try:
                self._out.close()
            except Exception:
                pass
            self._out = None
            self._remove(self._tmp)
            self._tmp = None
