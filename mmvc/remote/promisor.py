"""The object store of a partial clone: local objects first, then the promisor remote.

``mmvc clone --filter blob:none`` fetches commits and manifests only and marks the remote
``promisor = true``. ``Repo.store`` then wraps the local store in ``PromisorStore``, so every
reader (checkout, export, the loader, process) gets an absent blob the first time it asks:
fetched, re-hashed, stored locally, then served. ``has_many`` (what checkout asks before it
writes a version) and ``prefetch`` fetch everything absent in one parallel batch, so a checkout
of 10,000 promised images is a few ranged reads, not 10,000 round trips in a row.

Writes and everything else go straight to the local store; a repository without a promisor
remote never sees this class.
"""

from __future__ import annotations

import threading

from mmvc.errors import ObjectNotFound


class PromisorStore:
    def __init__(self, local, repo_dir: str, spec):
        self._local = local
        self._repo_dir = repo_dir
        self.promisor = spec
        self._objects = None
        self._lock = threading.Lock()
        self.fetched = 0

    def __getattr__(self, name):
        return getattr(self._local, name)

    @property
    def local(self):
        return self._local

    def _remote_objects(self):
        with self._lock:
            if self._objects is None:
                from mmvc.core.layout import Layout
                from mmvc.remote.packs import RemoteObjects
                from mmvc.remote.transport import Remote

                cache = Layout(self._repo_dir).remote_packs(self.promisor.name)
                self._objects = RemoteObjects(Remote(self.promisor), cache_dir=cache)
            return self._objects

    def prefetch(self, oids, progress=None) -> int:
        """Fetch every one of ``oids`` not stored locally, in parallel; returns how many."""
        oids = list(dict.fromkeys(oids))
        missing = [o for o in oids if o not in self._local.has_many(oids)]
        if not missing:
            return 0
        objects = self._remote_objects()
        found = [o for o in missing if objects.find(o) is None]
        if found:
            objects.packs(rescan=True)
        objects.fetch(missing, self._local, origin={}, progress=progress)
        self.fetched += len(missing)
        return len(missing)

    # -- reads that fall back to the remote

    def has_many(self, oids):
        oids = list(oids)
        self.prefetch(oids)
        return self._local.has_many(oids)

    def get(self, oid: str) -> bytes:
        try:
            return self._local.get(oid)
        except ObjectNotFound:
            self.prefetch([oid])
            return self._local.get(oid)

    def open(self, oid: str):
        if not self._local.has(oid):
            self.prefetch([oid])
        return self._local.open(oid)

    def size(self, oid: str) -> int:
        try:
            return self._local.size(oid)
        except ObjectNotFound:
            self.prefetch([oid])
            return self._local.size(oid)
