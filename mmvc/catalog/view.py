"""``Repo.catalog(rev=...)``: one version's catalog as Arrow, pandas or Lance."""

from __future__ import annotations


class CatalogView:
    """The catalog as of one version. Nothing is read until a ``to_*`` call."""

    def __init__(self, repo, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
        self.repo = repo
        self.rev = rev
        self.where = where
        self.columns = columns
        self.allow_ungated = allow_ungated

    def filter(self, where: str) -> CatalogView:
        both = f"({self.where}) AND ({where})" if self.where else where
        return CatalogView(self.repo, self.rev, both, self.columns, self.allow_ungated)

    def select(self, columns) -> CatalogView:
        return CatalogView(self.repo, self.rev, self.where, columns, self.allow_ungated)

    def to_arrow(self):
        from mmvc.catalog import rows

        return rows(self.repo, self.rev, where=self.where, columns=self.columns, allow_ungated=self.allow_ungated)

    def to_pandas(self):
        return self.to_arrow().to_pandas()

    def to_lance(self, path: str | None = None):
        """With ``path``: the version's rows written there as a standalone Lance dataset. Without:
        the shared, content-keyed table itself (every version's rows; keys come from a version)."""
        import lance

        if path is None:
            from mmvc.catalog.table import open_dataset

            return open_dataset(self.repo)
        return lance.write_dataset(self.to_arrow(), path, mode="create")

    def search(self, query=None, **kw):
        from mmvc.ops.search import search

        return search(self.repo, query, rev=self.rev, where=self.where, allow_ungated=self.allow_ungated, **kw)

    def __len__(self) -> int:
        return self.select(["key"]).to_arrow().num_rows

    def __repr__(self) -> str:
        return f"CatalogView(rev={self.rev!r}, where={self.where!r})"
