"""Objects of a local store as views of mapped files: a pack is mapped once and each of its
objects is a slice of that map, a loose object is its own map. Export and the store loader
hash and write these views without copying the bytes into Python objects first."""

from __future__ import annotations

import mmap
import os
import sys
import threading


class ObjectViews:
    """``view(oid)`` → a read-only buffer of the object's stored bytes, or None when the store
    is not a local one (or does not hold the object locally): the caller then uses
    ``store.get``/``store.open``."""

    def __init__(self, store, willneed: bool = False):
        self.store = store
        self.willneed = willneed
        self._find = getattr(store, "_find_packed", None)
        self._loose = getattr(store, "loose_path", None)
        self._maps: dict[str, mmap.mmap] = {}
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def pack_map(self, path: str):
        m = self._maps.get(path)
        if m is None:
            with self._lock:
                m = self._maps.get(path)
                if m is None:
                    with open(path, "rb") as f:
                        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    if self.willneed and hasattr(mmap, "MADV_WILLNEED"):
                        m.madvise(mmap.MADV_WILLNEED)
                    self._maps[path] = m
        return m

    def pack_fd(self, m) -> int:
        """An open descriptor of the pack mapped as ``m`` (for in-kernel copies), kept open."""
        path = next(p for p, mm in self._maps.items() if mm is m)
        fd = self._fds.get(path)
        if fd is None:
            with self._lock:
                fd = self._fds.get(path)
                if fd is None:
                    fd = self._fds[path] = os.open(path, os.O_RDONLY)
        return fd

    def loose_fd(self, oid: str) -> int | None:
        """An open descriptor of a loose object (the caller closes it), or None."""
        if self._loose is None:
            return None
        try:
            return os.open(self._loose(oid), os.O_RDONLY)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def packed(self, oid: str):
        """(mapped pack, offset, length) of a packed object, else None."""
        if self._find is None:
            return None
        found = self._find(oid)
        if found is None:
            return None
        pack, k = found
        off, length = pack.location(k)
        return self.pack_map(pack.pack_path), off, length

    def view(self, oid: str):
        where = self.packed(oid)
        if where is not None:
            m, off, length = where
            return memoryview(m)[off:off + length]
        if self._loose is None:
            return None
        try:
            fd = os.open(self._loose(oid), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if os.fstat(fd).st_size == 0:
                return b""
            return memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))  # lives as long as the view
        finally:
            os.close(fd)

    def locate_many(self, oids: list) -> list:
        """``packed`` for many objects at once: each pack's sorted id column is searched with
        numpy, not id by id in Python (a version's worth of ids in milliseconds)."""
        out: list = [None] * len(oids)
        packs = getattr(self.store, "packs", None)
        if self._find is None or packs is None or not oids:
            return out
        if len(oids) < 4096 and "numpy" not in sys.modules:  # not worth numpy's import (~0.1 s)
            return [self.packed(o) for o in oids]
        import numpy as np

        want = np.array([bytes.fromhex(o) for o in oids], dtype="S32")
        left = np.arange(len(oids))
        for pack in packs():
            if not len(left):
                break
            if not pack.count or not isinstance(pack.buf, mmap.mmap):
                continue
            ids = np.frombuffer(pack.buf, dtype="S32", count=pack.count, offset=pack.ids_off)
            q = want[left]
            at = np.searchsorted(ids, q)
            hit = at < pack.count
            hit[hit] = ids[at[hit]] == q[hit]
            if hit.any():
                offs = np.frombuffer(pack.buf, dtype="<u8", count=pack.count, offset=pack.offs_off)
                lens = np.frombuffer(pack.buf, dtype="<u8", count=pack.count, offset=pack.lens_off)
                m = self.pack_map(pack.pack_path)
                for k, o, n in zip(left[hit].tolist(), offs[at[hit]].tolist(), lens[at[hit]].tolist()):
                    out[k] = (m, o, n)
                del offs, lens
            left = left[~hit]
            del ids  # the index map must not stay exported (a gc may close it)
        return out
