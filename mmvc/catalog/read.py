"""Reading the catalog as of one version: filter with Lance, join to the version's keys.

The Lance filter runs over the shared, content-keyed table; the version's (key, item_id) scope
(``mmvc.catalog.scope``) then selects its rows and gives them their keys. When an item has rows
under several process configs (it entered two branches under different configs) the row of the
version's own gate config wins, else the newest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mmvc.catalog.schema import NAMES
from mmvc.errors import BadInputError

OUTPUT_COLUMNS = ("key",) + NAMES
_PRESENT: dict = {}  # (dataset uri, version, root) -> number of scope items without a row


@dataclass
class Version:
    rev: str
    commit: str
    tree: str
    config: str | None
    gated: bool
    near: Iterable = ()  # the ancestors' trees, nearest first: a cached scope among them makes this one cheap


def version(repo, rev: str, allow_ungated: bool, what: str) -> Version:
    from mmvc.services.gate import require_gated

    oid = repo.resolve(rev)
    c = repo.read_commit(oid)
    require_gated(repo, oid, rev, allow_ungated, what)
    from mmvc.catalog.scope import Ancestors

    return Version(rev, oid, c.tree, c.gate.config, c.gate.mode == "gated", Ancestors(repo, oid))


def dataset_for(repo, v: Version, scope_table):
    """The catalog dataset, after checking that it holds a row for every item of the version."""
    from mmvc.catalog.table import open_dataset

    ds = open_dataset(repo)
    if scope_table.num_rows == 0:
        return ds
    if ds is None:
        raise BadInputError(f"{v.rev} ({v.commit[:12]}) has {scope_table.num_rows} item(s) but the repository has no catalog "
                            "(the version predates the catalog, or the catalog was deleted)",
                            "run `mmvc catalog rebuild` to build it from the object store and the feature cache")
    missing = missing_rows(ds, v.tree, scope_table)
    if missing:
        raise BadInputError(f"{missing} of {scope_table.num_rows} item(s) of {v.rev} ({v.commit[:12]}) have no catalog row "
                            "(the version predates the catalog, or catalog rows were lost)",
                            "run `mmvc catalog rebuild` to regenerate them from the object store and the feature cache")
    return ds


def missing_rows(ds, tree: str, scope_table) -> int:
    import pyarrow.compute as pc

    memo = (ds.uri, ds.version, tree)
    if memo not in _PRESENT:
        have = ds.to_table(columns=["item_id"]).column("item_id")
        _PRESENT[memo] = scope_table.num_rows - pc.sum(pc.is_in(scope_table.column("item_id"), value_set=have)).as_py()
    return _PRESENT[memo]


def forget_presence() -> None:
    """Rows were written: what this process knew about missing rows no longer holds."""
    _PRESENT.clear()


def check_columns(columns, features: tuple = ()) -> list[str]:
    """``features``: the catalog's feature columns (user stages' outputs), also valid."""
    if columns is None:
        return list(OUTPUT_COLUMNS) + list(features)
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    bad = [c for c in columns if c not in OUTPUT_COLUMNS and c not in features]
    if bad:
        raise BadInputError(f"unknown column(s): {', '.join(bad)}",
                            f"the catalog's columns are: {', '.join(OUTPUT_COLUMNS + tuple(features))}")
    return list(columns)


def bad_where(where: str, e: Exception) -> BadInputError:
    import re

    text = str(e).strip().splitlines()
    why = text[0] if text else type(e).__name__
    why = re.sub(r"^(Invalid user input|LanceError\(\w+\)):\s*", "", why)
    why = re.sub(r"\. Valid fields are .*", "", why)
    why = re.sub(r",\s*\S+\.rs:\d+:\d+.*$", "", why)[:300]
    return BadInputError(f"--where {where!r} does not parse or names a missing column ({why})",
                         f"use SQL-like comparisons (=, <, >=, IN, LIKE, IS NULL, AND, OR) over the columns: "
                         f"{', '.join(c for c in NAMES if not c.endswith('_vector'))}")


def scan(ds, where: str | None, columns: list[str]):
    try:
        return ds.to_table(columns=columns, filter=where or None)
    except Exception as e:
        if where:
            raise bad_where(where, e) from None
        raise


def join_scope(found, scope_table, config: str | None):
    """``found`` rows (any columns, with item_id, config, written) matched to the version's keys:
    one row per key, sorted by key; the version's own config first, then the newest row.
    (Arrow joins cannot carry vector columns, so the join runs on row positions.)"""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    pos = pa.table({"item_id": found.column("item_id"), "__i": pa.array(np.arange(found.num_rows, dtype=np.int64))})
    j = pos.join(scope_table, "item_id", join_type="inner")
    if j.num_rows and pc.count_distinct(j.column("key")).as_py() != j.num_rows:
        take = j.column("__i")
        pref = pc.equal(found.column("config").take(take), pa.scalar(config or "")).fill_null(False).cast(pa.int8())
        j = j.append_column("__pref", pref).append_column("__w", found.column("written").take(take))
        j = j.sort_by([("key", "ascending"), ("__pref", "descending"), ("__w", "descending")])
        keys = j.column("key").combine_chunks()
        first = np.ones(len(keys), dtype=bool)
        first[1:] = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1)).to_numpy(zero_copy_only=False)
        j = j.filter(pa.array(first))
    else:
        j = j.sort_by("key")
    out = found.take(j.column("__i"))
    return out.add_column(0, "key", j.column("key"))


def rows(repo, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
    from mmvc.catalog.schema import arrow_schema
    from mmvc.catalog.scope import scope

    import pyarrow as pa

    from mmvc.catalog.table import feature_columns, open_dataset

    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    # the catalog's own feature columns (user stages' outputs) only when asked for: no extra open otherwise
    wants_features = columns is None or any(c not in OUTPUT_COLUMNS for c in columns)
    out_cols = check_columns(columns, tuple(feature_columns(open_dataset(repo))) if wants_features else ())
    v = version(repo, rev, allow_ungated, "the catalog")
    sc = scope(repo, v.tree, v.near)
    ds = dataset_for(repo, v, sc)
    if ds is None:
        schema = arrow_schema()
        empty = pa.table({"key": pa.array([], pa.string()), **{n: pa.array([], schema.field(n).type) for n in NAMES}})
        if where:
            _validate_where_without_data(where)
        return empty.select(out_cols)
    need = sorted(set(c for c in out_cols if c != "key") | {"item_id", "config", "written"})
    found = scan(ds, where, need)
    return join_scope(found, sc, v.config).select(out_cols)


def _validate_where_without_data(where: str) -> None:
    """An empty repository has no dataset to parse against; an in-memory one gives the same errors."""
    import lance
    import tempfile

    from mmvc.catalog.schema import arrow_schema

    with tempfile.TemporaryDirectory() as d:
        ds = lance.write_dataset(arrow_schema().empty_table(), d + "/t.lance", schema=arrow_schema())
        scan(ds, where, ["row_id"])
