"""Per-blob results keyed by (blob id, stage config hash), so re-processing after a branch or
a config change recomputes only what changed, and two branches never compute a feature twice.

Layout: ``.mmvc/process/cache/<cache>/<stage-hash>/<part>.parquet`` (docs/format.md, "Feature
cache"); each run that computes something appends one part, written to a temp name and renamed,
so a part is whole or absent. ``stage_key`` is the one formula for the stage hash: ``process``
computes it from its config, the catalog from the config document a run recorded.
"""

from __future__ import annotations

import os

PREP = "prep"  # decode + gate results (features, fingerprints, thumbnails) of every blob
_KEYED_BY = {PREP: "gates"}  # a cache named otherwise is keyed by the stage of its own name (embed_<family>)


def stage_key(stage: str, stage_doc: dict) -> str:
    """The hash of a stage's config: results are reused only under the same key."""
    from mmvc.core.hashing import hash_bytes
    from mmvc.core.objects import canonical_json

    return hash_bytes(canonical_json({"stage": stage, **stage_doc}))[:32]


class FeatureCache:
    def __init__(self, repo, cache: str, config_doc: dict):
        """``cache``: ``PREP`` or a family's stage; ``config_doc``: a process config document
        (``ProcessConfig.describe()``, as a run records it), which gives the cache its key."""
        stage = _KEYED_BY.get(cache, cache)
        self.dir = repo.layout.feature_cache(cache, stage_key(stage, config_doc[stage]))

    def load(self, oids: set[str], columns: list[str] | None = None) -> dict[str, dict]:
        """Cached rows for the given blob ids (as dicts; vector columns as float32 arrays);
        ``columns`` reads only those (and "oid"), leaving thumbnails on disk when not needed."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        out: dict[str, dict] = {}
        if not oids or not os.path.isdir(self.dir):
            return out
        wanted = np.array(sorted(oids), dtype="S64")
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(self.dir, name)
            # The id column first, matched without a Python object per row: a part of a million
            # rows costs its ids, not its thumbnails. (ParquetFile.read and numpy rather than
            # read_table and compute.is_in: those import pandas, seconds of start-up.)
            part = pq.ParquetFile(path)
            hits = _matches(part.read(columns=["oid"]).column("oid").combine_chunks(), wanted)
            if not hits.any():
                continue
            mask = pa.BooleanArray.from_buffers(pa.bool_(), len(hits), [None, pa.py_buffer(np.packbits(hits, bitorder="little"))])
            if columns is not None:
                have = set(part.schema_arrow.names)
                table = part.read(columns=["oid"] + [c for c in columns if c in have and c != "oid"])
            else:
                table = part.read()
            table = table.filter(mask)
            cols = {c: vector_arrays(table.column(c)) if str(table.column(c).type).startswith("fixed_size_list") else table.column(c).to_pylist()
                    for c in table.column_names}
            for i, oid in enumerate(cols["oid"]):
                if oid not in out:
                    out[oid] = {c: cols[c][i] for c in cols}
        return out

    def store(self, rows: list[dict], vector_columns: dict[str, int] | None = None) -> None:
        """Append rows (each with an "oid"); ``vector_columns`` names float32 vector columns and
        their widths, stored as fixed-size lists (missing vectors as nulls)."""
        if not rows:
            return
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        vector_columns = vector_columns or {}
        arrays, names = [], []
        for c in rows[0]:
            values = [r.get(c) for r in rows]
            if c in vector_columns:
                width = vector_columns[c]
                flat = np.zeros((len(values), width), dtype=np.float32)
                mask = np.zeros(len(values), dtype=bool)
                for i, v in enumerate(values):
                    if v is None:
                        mask[i] = True
                    else:
                        flat[i] = v
                arr = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), width)
                arr = pa.FixedSizeListArray.from_arrays(arr.values, width, mask=pa.array(mask)) if mask.any() else arr
                arrays.append(arr)
            else:
                arrays.append(pa.array(values))
            names.append(c)
        table = pa.Table.from_arrays(arrays, names=names)
        import io

        from mmvc.core.atomicfile import atomic_write
        from mmvc.core.hashing import hash_bytes

        buf = io.BytesIO()
        pq.write_table(table, buf)
        data = buf.getvalue()
        os.makedirs(self.dir, exist_ok=True)
        atomic_write(os.path.join(self.dir, hash_bytes(data)[:32] + ".parquet"), data, fsync=False)


def _matches(ids, wanted):
    """Which rows of a string column of blob ids are in ``wanted`` (sorted numpy S64)."""
    import numpy as np

    n = len(ids)
    if n and ids.null_count == 0:
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset:ids.offset + n + 1]
        if offsets[-1] - offsets[0] == 64 * n and (np.diff(offsets) == 64).all():  # every id 64 hex digits
            # candidates by the first 8 digits as one integer, looked up among the wanted ones
            # (a binary search per row: no sort of the part's ids, no string compares), then
            # each candidate compared whole
            data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(n, 64)
            heads = np.ascontiguousarray(data[:, :8]).view(np.uint64).ravel()
            want_heads = np.sort(np.frombuffer(wanted.tobytes(), dtype=np.uint8).reshape(-1, 64)[:, :8].copy().view(np.uint64).ravel())
            at = np.minimum(np.searchsorted(want_heads, heads), len(want_heads) - 1)
            whole = set(wanted.tolist())
            hits = np.zeros(n, dtype=bool)
            for i in np.flatnonzero(want_heads[at] == heads).tolist():
                hits[i] = data[i].tobytes() in whole
            return hits
    keep = set(wanted.astype(str).tolist())
    return np.fromiter((o in keep for o in ids.to_pylist()), dtype=bool, count=n)


def vector_arrays(column) -> list:
    """A fixed-size-list column as float32 arrays (None for a missing vector), read from its
    buffers: pyarrow's own numpy conversion imports pandas, seconds of start-up."""
    import numpy as np

    arr = column.combine_chunks()
    width, n = arr.type.list_size, len(arr)
    values = arr.values.cast("float32") if str(arr.values.type) != "float" else arr.values
    flat = np.frombuffer(values.buffers()[1], dtype=np.float32)[values.offset:]
    start = arr.offset * width
    rows = flat[start:start + n * width].reshape(n, width)
    valid = arr.is_valid().to_pylist() if arr.null_count else [True] * n
    return [rows[i].copy() if ok else None for i, ok in enumerate(valid)]
