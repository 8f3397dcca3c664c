"""Per-blob results keyed by (blob id, stage config hash), so re-processing after a branch or
a config change recomputes only what changed, and two branches never compute a feature twice.

Layout: ``.mmvc/process/cache/<stage>/<stage hash>/<part id>.parquet``; each run that computes
something appends one part, written to a temp name and renamed, so a part is whole or absent.
"""

from __future__ import annotations

import os


class FeatureCache:
    def __init__(self, repo, stage: str, stage_hash: str):
        self.dir = os.path.join(repo.dir, "process", "cache", stage, stage_hash)

    def load(self, oids: set[str], columns: list[str] | None = None) -> dict[str, dict]:
        """Cached rows for the given blob ids (as dicts; vector columns as float32 arrays);
        ``columns`` reads only those (and "oid"), leaving thumbnails on disk when not needed."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        out: dict[str, dict] = {}
        if not oids or not os.path.isdir(self.dir):
            return out
        wanted = pa.array(sorted(oids), pa.string())
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(self.dir, name)
            # the id column first, matched in C: a part of a million rows costs its ids, not its thumbnails
            hits = pc.is_in(pq.read_table(path, columns=["oid"]).column("oid"), value_set=wanted)
            if not pc.any(hits).as_py():
                continue
            if columns is not None:
                have = set(pq.read_schema(path).names)
                table = pq.read_table(path, columns=["oid"] + [c for c in columns if c in have and c != "oid"])
            else:
                table = pq.read_table(path)
            table = table.filter(hits)
            keep = [i for i, o in enumerate(table.column("oid").to_pylist()) if o not in out]
            if not keep:
                continue
            table = table.take(keep)
            cols = {}
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

        from mmvc.core.hashing import hash_bytes
        from mmvc.core.store import atomic_write

        buf = io.BytesIO()
        pq.write_table(table, buf)
        data = buf.getvalue()
        os.makedirs(self.dir, exist_ok=True)
        atomic_write(os.path.join(self.dir, hash_bytes(data)[:32] + ".parquet"), data, fsync=False)
