"""``mmvc query``: the catalog rows of a version that match a filter, as a table.

Reading metadata is allowed on every version, gated or not (the ``status`` column says which);
only search, export and the loader insist on gated versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_COLUMNS = ("key", "oid", "modality", "size", "mime", "width", "height", "duration_s", "fps", "sample_rate", "language",
                   "license", "source", "caption", "transcript", "status")


@dataclass
class QueryResult:
    rev: str
    commit: str
    where: str | None
    columns: list
    table: Any  # pyarrow.Table
    total: int  # matching rows before --limit

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def write_parquet(self, path: str) -> None:
        """The rows as a Parquet file, written to a temp name and renamed."""
        import io

        import pyarrow.parquet as pq

        from mmvc.core.atomicfile import atomic_write

        buf = io.BytesIO()
        pq.write_table(self.table, buf, compression="zstd")
        atomic_write(path, buf.getvalue(), fsync=False)

    def records(self) -> list[dict]:
        """Rows as JSON-ready dicts (vectors as lists)."""
        return self.table.to_pylist()


def query(repo, rev: str = "HEAD", where: str | None = None, columns=None, limit: int | None = None) -> QueryResult:
    from mmvc.catalog import rows
    from mmvc.catalog.read import OUTPUT_COLUMNS

    from mmvc.catalog.table import feature_columns, open_dataset

    features = feature_columns(open_dataset(repo))  # user stages' outputs: shown by default after the built-in ones
    if columns in ("all", ["all"]):
        columns = list(OUTPUT_COLUMNS) + features
    elif columns is None:
        columns = list(DEFAULT_COLUMNS) + features
    elif isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    if "key" not in columns:
        columns = ["key"] + list(columns)
    table = rows(repo, rev, where=where, columns=columns, allow_ungated=True)
    total = table.num_rows
    if limit is not None and limit >= 0:
        table = table.slice(0, limit)
    return QueryResult(rev=rev, commit=repo.resolve(rev), where=where, columns=list(columns), table=table, total=total)
