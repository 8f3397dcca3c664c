"""The Lance dataset behind the catalog: opening it, appending rows, vector indexes.

The dataset lives at ``.mmvc/catalog/items.lance`` and is plain Lance: ``lance``, ``lancedb`` and
DuckDB (through Arrow) read it without mmvc. Lance commits each write as a new table version
atomically, so a crash mid-write leaves the previous version; rows are only ever inserted (a
write looks up the ids it brings and appends the absent rows, streamed), never rewritten, so a
commit of k items costs O(k) rows whatever the table's size.
"""

from __future__ import annotations

import os
import shutil

from mmvc.catalog.schema import CATALOG_FORMAT, FORMAT_KEY, arrow_schema
from mmvc.core.extras import require
from mmvc.core.families import FAMILIES
from mmvc.errors import CorruptError, FormatError, NewerFormatError

DEFAULT_INDEX_THRESHOLD = 100_000


def catalog_dir(repo) -> str:
    return repo.layout.catalog


def dataset_path(repo) -> str:
    return repo.layout.catalog_table


def index_threshold(repo) -> int:
    """Rows of one family past which search uses an ANN index (``catalog.index_threshold``)."""
    raw = repo.config.raw.get("catalog", {}).get("index_threshold", DEFAULT_INDEX_THRESHOLD)
    try:
        return max(256, int(raw))
    except (TypeError, ValueError):
        raise FormatError(f"catalog.index_threshold must be a whole number, not {raw!r}", "fix it in .mmvc/config.toml") from None


def exists(repo) -> bool:
    return os.path.isdir(dataset_path(repo))


def open_dataset(repo, path: str | None = None):
    """The catalog dataset, or None when the repository has none yet. A catalog that exists but
    cannot be read (deleted files, corrupt manifest) is a CorruptError that names the fix.
    ``path``: another dataset folder (a rebuild writes one beside the live catalog)."""
    path = path or dataset_path(repo)
    if not os.path.isdir(path):
        return None
    require("catalog", "pyarrow", "lance", what="reading the catalog")
    import lance

    try:
        ds = lance.dataset(path)
        schema = ds.schema
    except Exception as e:
        raise CorruptError(f"the catalog at .mmvc/catalog is unreadable ({_first_line(e)})",
                           "run `mmvc catalog rebuild` to regenerate it from the object store and the feature cache") from None
    meta = schema.metadata or {}
    fmt = int(meta.get(FORMAT_KEY, b"0") or 0)
    if fmt > CATALOG_FORMAT:
        raise NewerFormatError("the catalog", fmt, CATALOG_FORMAT)
    return ds


def write_standalone(table, path: str):
    """A version's rows (``mmvc.catalog.rows``) as a Lance dataset of their own at ``path``."""
    import lance

    return lance.write_dataset(table, path, mode="create")


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def insert_rows(repo, table, path: str | None = None) -> int:
    """Insert rows whose ``row_id`` the catalog lacks; returns how many were new.
    ``path``: another dataset folder (a rebuild writes one beside the live catalog)."""
    return insert_batches(repo, [table], path)


BATCH_ROWS = 2048  # rows built and handed to Lance at a time (each holds two vectors' worth of floats)
FILE_ROWS = 8192  # rows per data file: Lance holds a file's pages until it ends


def insert_batches(repo, tables, path: str | None = None) -> int:
    """``insert_rows`` for rows that come as a stream of tables (of about ``BATCH_ROWS``),
    written as Lance appends that pull them as they go, so they are never all in memory. Rows
    whose id the catalog (or an earlier table of the stream) already has are left out. A table
    that brings a column the catalog lacks (a user stage's output) ends the current write; the
    column is added (Lance's add-columns: a schema change, no data rewritten) and the stream goes
    on in a new write; rows lacking a column the catalog has get nulls."""
    import lance
    import pyarrow as pa
    import pyarrow.compute as pc

    from mmvc.catalog.read import forget_presence

    path = path or dataset_path(repo)
    ds = open_dataset(repo, path)
    source = iter(tables)
    seen: set[str] = set()
    written = 0
    pending = None  # a table with a column the schema being written lacks: the next write's first

    def fresh(table):
        ids = table.column("row_id").to_pylist()
        have: set[str] = set()  # already in the catalog
        if ds is not None and ids:
            try:
                found = ds.to_table(columns=["row_id"], filter=pc.field("row_id").isin(pa.array(ids, pa.string())))
            except Exception as e:
                raise CorruptError(f"could not read the catalog ({_first_line(e)})",
                                   "run `mmvc fsck`; `mmvc catalog rebuild` regenerates the catalog") from None
            have = set(found.column("row_id").to_pylist())
        keep = []
        for i, r in enumerate(ids):
            if r not in seen and r not in have:
                seen.add(r)
                keep.append(i)
        return table if len(keep) == table.num_rows else table.take(pa.array(keep, pa.int64()))

    def batches(schema):
        nonlocal written, pending
        while True:
            if pending is not None:
                table, pending = pending, None
            else:
                table = next(source, None)
                if table is None:
                    return
                table = fresh(table)
            if any(n not in schema.names for n in table.column_names):
                pending = table
                return
            for f in schema:
                if f.name not in table.column_names:
                    table = table.append_column(f, pa.nulls(table.num_rows, f.type))
            table = table.select(schema.names).cast(schema)
            written += table.num_rows
            yield from table.to_batches()

    while True:
        schema = ds.schema if ds is not None else arrow_schema()
        if pending is not None:
            new = [pending.schema.field(n) for n in pending.column_names if n not in schema.names]
            if ds is not None:
                forget_presence()
                ds.add_columns(pa.schema(new))
                ds = open_dataset(repo, path)
                schema = ds.schema
            else:
                schema = _schema_with(schema, new)
        stream = batches(schema)
        first = next((b for b in stream if b.num_rows), None)
        if first is None:
            if pending is None:
                return written
            continue
        forget_presence()
        reader = pa.RecordBatchReader.from_batches(schema, _chain(first, stream))
        target = path
        if ds is None:  # a new dataset is written aside and renamed into place whole
            from mmvc.core.atomicfile import temp_path

            os.makedirs(os.path.dirname(path), exist_ok=True)
            target = temp_path(path)
        try:
            lance.write_dataset(reader, target, schema=schema, mode="create" if ds is None else "append",
                                max_rows_per_file=FILE_ROWS)
            if target != path:
                os.rename(target, path)
        except Exception as e:
            if target != path:
                shutil.rmtree(target, ignore_errors=True)
            raise _write_failure(e) from None
        ds = open_dataset(repo, path)
        if pending is None:
            return written


def _schema_with(base, extra):
    import pyarrow as pa

    return pa.schema(list(base) + list(extra), metadata=base.metadata)


def feature_columns(ds) -> list[str]:
    """The catalog's columns beyond the built-in ones: user stages' outputs, in table order."""
    from mmvc.catalog.schema import NAMES

    return [n for n in ds.schema.names if n not in NAMES] if ds is not None else []


def _write_failure(e: Exception) -> Exception:
    """A failed catalog write: the storage refusing it (Lance reports the OS error in its message:
    disk full, read-only) is a storage error (exit 10), anything else a damaged catalog."""
    import re

    from mmvc.errors import is_storage_failure, storage_error

    m = re.search(r"os error (\d+)", str(e))
    os_error = e if isinstance(e, OSError) and e.errno else OSError(int(m.group(1)), str(e)) if m else None
    if os_error is not None and is_storage_failure(os_error):
        return storage_error(os_error, "writing the catalog")
    return CorruptError(f"could not write to the catalog ({_first_line(e)})",
                        "run `mmvc fsck`; `mmvc catalog rebuild` regenerates the catalog")


def _chain(first, rest):
    yield first
    yield from rest


def remove(repo) -> None:
    path = catalog_dir(repo)
    if os.path.isdir(path):
        aside = repo.layout.catalog_aside
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(path, aside)
        shutil.rmtree(aside, ignore_errors=True)


def family_counts(ds) -> dict[str, int]:
    """Rows with a vector, per family. Counted from the small ``text_model``/``clip_model``
    columns (set exactly when the vector is), never by reading the vectors themselves."""
    return {f.name: ds.count_rows(filter=f"modality IN ({', '.join(repr(m) for m in f.modality_names)}) AND {f.model_column} IS NOT NULL")
            for f in FAMILIES}


def vector_indexes(ds) -> dict[str, int]:
    """Indexed vector column -> rows the index covers."""
    out: dict[str, int] = {}
    for idx in ds.describe_indices():
        if "Vector" not in (getattr(idx, "type_url", "") or ""):
            continue
        for f in idx.field_names:
            out[f] = out.get(f, 0) + int(idx.num_rows_indexed or 0)
    return out


def indexed_columns(ds) -> set[str]:
    return set(vector_indexes(ds))


def maintain_indexes(repo, ds=None, force: bool = False) -> list[str]:
    """Build an ANN index for a family that passed the threshold, or fold new rows into one that
    exists once they pass a tenth of it (Lance searches unindexed rows exactly meanwhile).
    Returns the families touched. Below the threshold search is exact (brute force)."""
    ds = ds or open_dataset(repo)
    if ds is None:
        return []
    threshold = index_threshold(repo)
    have = vector_indexes(ds)
    counts = family_counts(ds)
    touched = []
    stale = False
    for f in FAMILIES:
        fam, col = f.name, f.column
        n = counts[fam]
        if col in have:
            stale = stale or (n - have[col]) > max(have[col] // 10, 1000) or (force and n > have[col])
            continue
        if n >= threshold or (force and n >= 256):
            build_vector_index(ds, col, n, index_type(repo))
            touched.append(fam)
    if stale:
        ds.optimize.optimize_indices()
        touched.append("optimize")
    return touched


INDEX_TYPES = ("IVF_SQ", "IVF_PQ", "IVF_HNSW_SQ", "IVF_FLAT")
DEFAULT_INDEX_TYPE = "IVF_SQ"  # int8 codes + exact refine: recall of IVF_FLAT, a fraction of IVF_PQ's build time
BITMAP_COLUMNS = ("modality", "license", "source", "status")


def index_type(repo) -> str:
    t = str(repo.config.raw.get("catalog", {}).get("index_type", DEFAULT_INDEX_TYPE)).upper()
    if t not in INDEX_TYPES:
        raise FormatError(f"catalog.index_type {t!r} is not one of {', '.join(INDEX_TYPES)}", "fix it in .mmvc/config.toml")
    return t


def build_vector_index(ds, column: str, rows: int, kind: str = DEFAULT_INDEX_TYPE) -> None:
    """An ANN index over unit vectors (cosine), plus bitmap indexes on the columns filters use
    most, so a prefilter does not scan the table. Partitions: one per 4,096 rows (one per
    100,000 for HNSW, whose graphs do the fine search), so k-means training stays cheap."""
    dim = ds.schema.field(column).type.list_size
    parts = max(1, min(4096, rows // (100_000 if kind == "IVF_HNSW_SQ" else 4096)))
    kw = {"num_sub_vectors": max(1, dim // 8)} if kind == "IVF_PQ" else {}
    ds.create_index(column, index_type=kind, metric="cosine", num_partitions=parts, replace=True, **kw)
    have = {n for idx in ds.describe_indices() for n in idx.field_names if "Vector" not in (idx.type_url or "")}
    for col in BITMAP_COLUMNS:
        if col not in have:
            ds.create_scalar_index(col, "BITMAP")
