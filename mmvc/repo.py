"""The Repo façade: the one public Python API, every verb of ``mmvc.ops`` bound on a repository
(``mmvc.services.repository.Repository``: finding one and its parts)."""

from __future__ import annotations

from mmvc.services.repository import Repository


class Repo(Repository):
    """A repository with every verb on it: ``Repo.discover()``, ``Repo.init(path)``, then ``repo.add(...)``,
    ``repo.commit(...)`` and so on (each verb lives in ``mmvc/ops/<verb>.py``)."""

    @classmethod
    def init(cls, path: str = ".", ungated: bool = False, branch: str = "main") -> "Repo":
        from mmvc.ops.init import init

        return cls(init(path, ungated=ungated, branch=branch).root)

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
        from mmvc.ops.catalog import CatalogView

        return CatalogView(self, rev, where=where, columns=columns, allow_ungated=allow_ungated)

    def create_recipe(self, name: str, rev: str = "HEAD", **kw):
        from mmvc.ops.recipe import create_recipe

        return create_recipe(self, name, rev, **kw)

    def export(self, target: str, **kw):
        """``mmvc export --webdataset TARGET``: see mmvc.ops.export."""
        from mmvc.ops.export import export

        return export(self, target, **kw)
