"""Nearest-neighbour search over one embedding family, scoped to one version.

The version and the user's filter become one mask before any distance is computed: the rows
that match the filter and belong to the version, handed to Lance as a row allow-list, so the
top k are taken over exactly those rows (exactly k hits whenever k match) and an old revision
of a grown catalog costs what HEAD costs. The mask is computed once per (table version,
version, filter) and kept for the process, so a session of queries with one filter pays the
filter once. Lance then searches over the ANN index when the family has one, exactly otherwise.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Probes and refine measured at 1M x 384-d (one partition per 4,096 rows, so 16 probes read
# about 6 % of the int8 codes; 4 x k rows re-ranked exactly): recall@10 1.0 against brute force
# at half the latency of 32 probes x 10 (docs/benchmarks.md, "Catalog").
NPROBES = 16
REFINE_FACTOR = 4
_MASKS: OrderedDict = OrderedDict()
_MASKS_MAX = 16


@dataclass
class Hit:
    key: str
    score: float  # cosine similarity
    oid: str
    modality: str
    row: dict


def version_mask(ds, tree: str, where: str | None, scope_lookup):
    """Serialized row addresses of the rows matching ``where`` in the version, or None when that
    is every row of the table (no mask needed)."""

    from mmvc.catalog.read import bad_where

    memo = (ds.uri, ds.version, tree, where)
    if memo in _MASKS:
        _MASKS.move_to_end(memo)
        return _MASKS[memo]
    try:
        t = ds.to_table(columns=["item_id"], filter=where or None, with_row_id=True)
    except Exception as e:
        if where:
            raise bad_where(where, e) from None
        raise
    keep = scope_lookup.contains(t.column("item_id"))
    if where is None and keep.all():
        mask = None
    else:
        from lance.dataset import serialize_row_addrs

        mask = serialize_row_addrs(t.column("_rowid").to_numpy()[keep].tolist())
    _MASKS[memo] = mask
    while len(_MASKS) > _MASKS_MAX:
        _MASKS.popitem(last=False)
    return mask


def nearest(ds, column: str, query, k: int, where: str | None, scope_lookup, columns: list[str], tree: str = "") -> list[Hit]:
    import numpy as np

    q = np.asarray(query, dtype=np.float32).reshape(-1)
    mask = version_mask(ds, tree, where, scope_lookup)
    want = sorted(set(columns) | {"item_id", "oid", "modality"})
    kk = k + 10
    while True:
        kw = {"row_addr_allowlist": mask} if mask is not None else {}
        found = ds.scanner(columns=want + ["_distance"], nearest={"column": column, "q": q, "k": kk, "metric": "cosine", "nprobes": NPROBES,
                                                  "refine_factor": REFINE_FACTOR}, **kw).to_table()
        hits, seen = [], set()
        for r in found.to_pylist():
            d = r["_distance"]
            if d is None or d != d:
                continue  # a row of the other family, or one whose vector is missing
            iid = r["item_id"]
            if iid in seen:
                continue  # the same item under another config: the nearer row stands
            seen.add(iid)
            for key in scope_lookup.keys_of(iid):
                hits.append(Hit(key=key, score=round(1.0 - float(d), 6), oid=r["oid"], modality=r["modality"],
                                row={c: r.get(c) for c in columns if c not in ("key", "oid", "modality")}))
        if len(hits) >= k or found.num_rows < kk:
            break
        kk *= 4  # rows without a vector took places: ask for more
    hits.sort(key=lambda h: (-h.score, h.key))
    return hits[:k]
