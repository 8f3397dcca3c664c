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
        import pyarrow.parquet as pq

        out: dict[str, dict] = {}
        if not oids or not os.path.isdir(self.dir):
            return out
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(self.dir, name)
            if columns is not None:
                have = set(pq.read_schema(path).names)
                table = pq.read_table(path, columns=["oid"] + [c for c in columns if c in have and c != "oid"])
            else:
                table = pq.read_table(path)
            keep = [i for i, o in enumerate(table.column("oid").to_pylist()) if o in oids and o not in out]
            if not keep:
                continue
            table = table.take(keep)
            cols: dict[str, list] = {}
            for c in table.column_names:
                col = table.column(c)
                if str(col.type).startswith("fixed_size_list"):
                    flat = col.combine_chunks()
                    width = flat.type.list_size
                    cols[c] = list(np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, width))
                else:
                    cols[c] = col.to_pylist()
            for i in range(table.num_rows):
                row = {c: cols[c][i] for c in cols}
                out[row["oid"]] = row
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
