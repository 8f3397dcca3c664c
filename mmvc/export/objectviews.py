"""Objects of a local store as views of mapped files: a pack is mapped once and each of its
objects is a slice of that map, a loose object is its own map. Export and the store loader
hash and write these views without copying the bytes into Python objects first. Where objects
lie comes from the store (``locate``, ``locate_many``, ``loose_path``)."""

from __future__ import annotations

import mmap
import os
import threading


class ObjectViews:
    """``view(oid)`` → a read-only buffer of the object's stored bytes, or None when the store
    is not a local one (or does not hold the object locally): the caller then uses
    ``store.get``/``store.open``."""

    def __init__(self, store, willneed: bool = False):
        self.store = store
        self.willneed = willneed
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
        path = self.store.loose_path(oid)
        if path is None:
            return None
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def packed(self, oid: str):
        """(mapped pack, offset, length) of a packed object, else None."""
        found = self.store.locate(oid)
        if found is None:
            return None
        path, off, length = found
        return self.pack_map(path), off, length

    def view(self, oid: str):
        where = self.packed(oid)
        if where is not None:
            m, off, length = where
            return memoryview(m)[off:off + length]
        path = self.store.loose_path(oid)
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if os.fstat(fd).st_size == 0:
                return b""
            return memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))  # lives as long as the view
        finally:
            os.close(fd)

    def locate_many(self, oids: list) -> list:
        """``packed`` for many objects at once (the store searches each pack for the batch)."""
        return [None if w is None else (self.pack_map(w[0]), w[1], w[2]) for w in self.store.locate_many(oids)]
