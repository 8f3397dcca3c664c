"""A repository and its parts: config, object store, refs, manifest trees, work tree, index,
locks and revision names.

This is the ``repo`` every layer below the verbs is handed (and the loader opens by path);
``mmvc.repo.Repo`` binds the verbs of ``mmvc.ops`` on top of it. Parts load on first use, so
opening a repository costs reading its config and nothing else.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cached_property
from typing import Self

from mmvc.core.layout import MMVC_DIR, Layout
from mmvc.errors import NotARepoError

__all__ = ["MMVC_DIR", "Repository"]


class Repository:
    """A repository on disk: ``.mmvc/`` and the work tree around it, opened part by part on first use."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.dir = os.path.join(self.root, MMVC_DIR)
        self.layout = Layout(self.dir)
        if not os.path.isdir(self.dir):
            raise NotARepoError(f"{self.root} is not an mmvc repository", "run `mmvc init` here, or use -C DIR to point at one")
        _ = self.config  # refuse a newer format before touching anything

    # -- finding

    @staticmethod
    def find_root(start: str | None = None) -> str | None:
        """The folder holding ``.mmvc`` at or above ``start`` (default: the current folder), found
        without reading anything inside it; None outside any repository."""
        d = os.path.abspath(start or os.getcwd())
        while True:
            if os.path.isdir(os.path.join(d, MMVC_DIR)):
                return d
            parent = os.path.dirname(d)
            if parent == d:
                return None
            d = parent

    @classmethod
    def discover(cls, start: str | None = None) -> Self:
        """The repository containing ``start`` (default: the current folder), walking up."""
        root = cls.find_root(start)
        if root is None:
            raise NotARepoError(
                f"not an mmvc repository (or any parent up to /): {os.path.abspath(start or os.getcwd())}",
                "run `mmvc init` to create one, or use -C DIR to point at one",
            )
        return cls(root)

    open = discover

    # -- parts

    @cached_property
    def config(self):
        from mmvc.core.config import Config

        return Config.load(self.layout.config)

    @cached_property
    def store(self):
        from mmvc.core.store import LocalObjectStore

        c = self.config
        local = LocalObjectStore(self.layout.objects, link_modes=c.link, pack_threshold=c.pack_threshold, fsync=c.fsync_objects)
        if not any(isinstance(s, dict) and s.get("promisor") for s in (c.raw.get("remote") or {}).values()):
            return local
        # A partial clone: blobs absent here are fetched from the promisor remote on first read.
        from mmvc.core.promisor_store import PromisorObjectStore
        from mmvc.services.remotes import pack_cache_dir, remote_specs

        spec = next(s for s in remote_specs(self).values() if s.promisor)

        def open_remote():
            from mmvc.remote.transport import Remote

            return Remote(spec).objects(cache_dir=pack_cache_dir(self, spec.name))

        return PromisorObjectStore(local, open_remote)

    @cached_property
    def refs(self):
        from mmvc.core.refs import RefStore

        return RefStore(self.dir)

    @cached_property
    def tree(self):
        from mmvc.core.manifest import ManifestTree

        return ManifestTree(self.store)

    @cached_property
    def worktree(self):
        from mmvc.core.worktree import WorkTree

        return WorkTree(self.root)

    def load_index(self):
        from mmvc.core.index import Index

        return Index.load(self.dir)

    @contextmanager
    def locked(self, what: str):
        """Hold the repository write lock (waiting up to ``core.lock_timeout``), having first
        finished a switch or checkout that was interrupted. A full disk or a read-only file
        system met while holding it is a StorageError (exit 10)."""
        from mmvc.core.config import upgrade_format
        from mmvc.core.lock import RepoLock
        from mmvc.errors import is_storage_failure, storage_error

        with RepoLock(self.dir, what, timeout=self.config.lock_timeout):
            try:
                upgrade_format(self)
                if what != "checkout":  # a move finishes an interrupted one itself, or overrides it
                    from mmvc.services.worktree_update import finish_interrupted_move

                    finish_interrupted_move(self)
                yield
            except OSError as e:
                if is_storage_failure(e):
                    raise storage_error(e, f"writing the repository ({what})") from e
                raise

    # -- history

    def read_commit(self, oid: str):
        from mmvc.core.objects import Commit

        return Commit.decode(self.store.get(oid), oid)

    def head(self) -> tuple[str | None, str | None]:
        """(branch ref or None when detached, commit id or None before the first commit)."""
        return self.refs.head_target()

    def head_tree(self) -> str:
        """Root id of HEAD's tree, or "" before the first commit."""
        _, oid = self.head()
        return self.read_commit(oid).tree if oid else ""

    def resolve(self, rev: str) -> str:
        from mmvc.services.revparse import resolve

        return resolve(self, rev)
