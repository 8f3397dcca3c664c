"""The Repo façade: finds a repository and hands its parts to the verbs in ``mmvc.ops``."""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cached_property

from mmvc.errors import NotARepoError

MMVC_DIR = ".mmvc"


class Repo:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.dir = os.path.join(self.root, MMVC_DIR)
        if not os.path.isdir(self.dir):
            raise NotARepoError(f"{self.root} is not an mmvc repository", "run `mmvc init` here, or use -C DIR to point at one")
        self.config  # refuse a newer format before touching anything

    # -- finding

    @classmethod
    def discover(cls, start: str | None = None) -> "Repo":
        """The repository containing ``start`` (default: the current folder), walking up."""
        d = os.path.abspath(start or os.getcwd())
        while True:
            if os.path.isdir(os.path.join(d, MMVC_DIR)):
                return cls(d)
            parent = os.path.dirname(d)
            if parent == d:
                raise NotARepoError(
                    f"not an mmvc repository (or any parent up to /): {os.path.abspath(start or os.getcwd())}",
                    "run `mmvc init` to create one, or use -C DIR to point at one",
                )
            d = parent

    open = discover

    @classmethod
    def init(cls, path: str = ".", ungated: bool = False, branch: str = "main") -> "Repo":
        from mmvc.ops.init import init

        return init(path, ungated=ungated, branch=branch)

    # -- parts

    @cached_property
    def config(self):
        from mmvc.core.config import Config

        return Config.load(os.path.join(self.dir, "config.toml"))

    @cached_property
    def store(self):
        from mmvc.core.store import LocalObjectStore

        c = self.config
        local = LocalObjectStore(os.path.join(self.dir, "objects"), link_modes=c.link, pack_threshold=c.pack_threshold, fsync=c.fsync_objects)
        if not any(isinstance(s, dict) and s.get("promisor") for s in (c.raw.get("remote") or {}).values()):
            return local
        # A partial clone: blobs absent here are fetched from the promisor remote on first read.
        from mmvc.ops.remote import remote_specs
        from mmvc.remote.promisor import PromisorStore

        spec = next(s for s in remote_specs(self).values() if s.promisor)
        return PromisorStore(local, self.dir, spec)

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
        """Hold the repository write lock (waiting up to ``core.lock_timeout``). A full disk or a
        read-only file system met while holding it is a StorageError (exit 10)."""
        from mmvc.core.lock import RepoLock
        from mmvc.errors import is_storage_failure, storage_error

        with RepoLock(self.dir, what, timeout=self.config.lock_timeout):
            try:
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
        from mmvc.ops.revparse import resolve

        return resolve(self, rev)

    # -- verbs (each lives in mmvc/ops/<verb>.py)

    def add(self, paths, **kw):
        from mmvc.ops.add import add

        return add(self, paths, **kw)

    def import_(self, connector: str, sources, **kw):
        from mmvc.ops.import_ import import_

        return import_(self, connector, sources, **kw)

    def status(self, **kw):
        from mmvc.ops.status import status

        return status(self, **kw)

    def commit(self, message: str, **kw):
        from mmvc.ops.commit import commit

        return commit(self, message, **kw)

    def log(self, rev: str = "HEAD", **kw):
        from mmvc.ops.log import log

        return log(self, rev, **kw)

    def show(self, rev: str = "HEAD"):
        from mmvc.ops.show import show

        return show(self, rev)

    def diff(self, rev_a: str | None = None, rev_b: str | None = None, **kw):
        from mmvc.ops.diff import diff

        return diff(self, rev_a, rev_b, **kw)

    def ls_files(self, rev: str | None = None, prefix: str = ""):
        from mmvc.ops.ls_files import ls_files

        return ls_files(self, rev, prefix)

    def rm(self, paths, **kw):
        from mmvc.ops.rm import rm

        return rm(self, paths, **kw)

    def mv(self, src: str, dst: str, **kw):
        from mmvc.ops.mv import mv

        return mv(self, src, dst, **kw)

    def restore(self, paths, **kw):
        from mmvc.ops.restore import restore

        return restore(self, paths, **kw)

    def switch(self, name: str, **kw):
        from mmvc.ops.checkout import switch

        return switch(self, name, **kw)

    def checkout(self, rev: str, **kw):
        from mmvc.ops.checkout import checkout

        return checkout(self, rev, **kw)

    def branch(self, name: str, start: str = "HEAD", **kw):
        from mmvc.ops.branch import create_branch

        return create_branch(self, name, start, **kw)

    def tag(self, name: str, rev: str = "HEAD", **kw):
        from mmvc.ops.tag import create_tag

        return create_tag(self, name, rev, **kw)

    def merge(self, rev: str, **kw):
        from mmvc.ops.merge import merge

        return merge(self, rev, **kw)

    def fsck(self, **kw):
        from mmvc.ops.fsck import fsck

        return fsck(self, **kw)

    def gc(self, **kw):
        from mmvc.ops.gc import gc

        return gc(self, **kw)

    def catalog(self, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
        """The catalog as of ``rev``: ``.to_arrow()``, ``.to_pandas()``, ``.to_lance()`` (docs/catalog.md)."""
        from mmvc.catalog.view import CatalogView

        return CatalogView(self, rev, where=where, columns=columns, allow_ungated=allow_ungated)

    def create_recipe(self, name: str, rev: str = "HEAD", **kw):
        from mmvc.ops.recipe import create_recipe

        return create_recipe(self, name, rev, **kw)

    def export(self, target: str, **kw):
        """``mmvc export --webdataset TARGET``: see mmvc.ops.export."""
        from mmvc.ops.export import export

        return export(self, target, **kw)
