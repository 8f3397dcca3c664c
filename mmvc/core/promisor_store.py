"""The object store of a partial clone: the local store, with absent objects fetched from the
promisor remote on first read.

``mmvc clone --filter blob:none`` fetches commits and manifests only and marks the remote
``promisor = true``. ``Repo.store`` is then a ``PromisorObjectStore``, so every reader (checkout,
export, the loader, process) gets an absent blob the first time it asks: fetched, re-hashed,
stored locally, then served. ``has_many`` (what checkout asks before it writes a version) and
``prefetch`` fetch everything absent in one parallel batch, so a checkout of 10,000 promised
images is a few ranged reads, not 10,000 round trips in a row.

Writes, and everything about the local folder, are the local store's; ``local`` is that store,
for callers that must not fetch (push and fetch ask what is here). A repository without a
promisor remote never sees this class.
"""

from __future__ import annotations

import threading
from typing import BinaryIO
from collections.abc import Callable, Iterable, Iterator

from mmvc.core.fsspec_store import FsspecObjectStore
from mmvc.core.store import LocalObjectStore, LocalObjectWriter, ObjectStore, Repack
from mmvc.errors import ObjectNotFound


class PromisorObjectStore(ObjectStore):
    def __init__(self, local: LocalObjectStore, open_remote: Callable[[], FsspecObjectStore]):
        """``open_remote`` opens the promisor remote's store, on the first read that needs it."""
        self.local = local
        # the local folder's settings, with which the workers of add and import open it themselves
        self.root, self.tmp_dir, self.link_modes, self.fsync = local.root, local.tmp_dir, local.link_modes, local.fsync
        self.pack_threshold = local.pack_threshold
        self._open_remote = open_remote
        self._remote: FsspecObjectStore | None = None
        self._lock = threading.Lock()
        self.fetched = 0

    @property
    def remote(self) -> FsspecObjectStore:
        with self._lock:
            if self._remote is None:
                self._remote = self._open_remote()
            return self._remote

    def prefetch(self, oids: Iterable[str], progress=None) -> int:
        """Fetch every one of ``oids`` not stored locally, in parallel; returns how many."""
        oids = list(dict.fromkeys(oids))
        here = self.local.has_many(oids)
        missing = [o for o in oids if o not in here]
        if not missing:
            return 0
        self.remote.fetch_into(self.local, missing, progress=progress, rescan=True)
        self.fetched += len(missing)
        return len(missing)

    # -- reads that fall back to the remote

    def has(self, oid: str) -> bool:
        """Whether the object is here (promised objects are not: ``has_many`` fetches them)."""
        return self.local.has(oid)

    def has_many(self, oids: Iterable[str]) -> set[str]:
        oids = list(oids)
        self.prefetch(oids)
        return self.local.has_many(oids)

    def _read(self, read, oid: str):
        """``read(oid)`` of the local store, once more after fetching when the object is absent."""
        try:
            return read(oid)
        except ObjectNotFound:
            self.prefetch([oid])
            return read(oid)

    def get(self, oid: str) -> bytes:
        return self._read(self.local.get, oid)

    def open(self, oid: str) -> BinaryIO:
        return self._read(self.local.open, oid)

    def size(self, oid: str) -> int:
        return self._read(self.local.size, oid)

    def iter_ids(self) -> Iterator[str]:
        return self.local.iter_ids()

    # -- the local store's

    def writer(self, durable: bool | None = None) -> LocalObjectWriter:
        return self.local.writer(durable)

    def repack(self) -> Repack:
        return self.local.repack()

    def loose_path(self, oid: str) -> str:
        return self.local.loose_path(oid)

    def locate(self, oid: str) -> tuple[str, int, int] | None:
        return self.local.locate(oid)

    def locate_many(self, oids: list[str]) -> list:
        return self.local.locate_many(oids)

    def refresh(self) -> None:
        self.local.refresh()

    def close(self) -> None:
        self.local.close()
