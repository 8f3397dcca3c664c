"""Which catalog rows a version holds, without copying the table per branch.

A version's manifest names (key, oid, meta) per item; ``item_id = H(oid ‖ NUL ‖ meta)`` is what
joins it to the catalog. The (key, item_id) table of a tree is derived data: computed once per
tree root, cached as Arrow IPC under ``.mmvc/catalog/scopes/<root>.arrow`` (temp + rename, so a
cache file is whole or absent; deleting the folder only costs a recomputation) and held in memory
for the process. Scoping HEAD and scoping an old revision therefore cost the same.
"""

from __future__ import annotations

import os
from collections import OrderedDict

from blake3 import blake3

_MEMO: OrderedDict = OrderedDict()
_MEMO_MAX = 8


def item_id(oid: str, meta: str) -> str:
    return blake3(oid.encode() + b"\0" + meta.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def scope(repo, root: str, near: tuple[str, ...] = ()):
    """Arrow table (key, item_id) of every item of the tree ``root``, sorted by key.

    ``near``: trees likely to have a cached scope (a commit's parents). When one has, this
    tree's scope is that one edited by the diff between the trees, which costs what changed
    rather than a walk of every entry: the first query after a commit stays cheap."""
    memo_key = (repo.dir, root)
    hit = _MEMO.get(memo_key)
    if hit is not None:
        _MEMO.move_to_end(memo_key)
        return hit
    path = repo.layout.scope(root)
    table = _load(path)
    if table is None:
        for other in near:
            base = _MEMO.get((repo.dir, other)) if other else None
            if base is None and other:
                base = _load(repo.layout.scope(other))
            if base is not None:
                table = _edit(repo, base, other, root)
                break
    if table is None:
        table = _compute(repo, root)
    if root and not os.path.isfile(path):
        _save(path, table)
    _MEMO[memo_key] = table
    while len(_MEMO) > _MEMO_MAX:
        _MEMO.popitem(last=False)
    return table


def _load(path: str):
    import pyarrow as pa

    if not os.path.isfile(path):
        return None
    try:
        with pa.memory_map(path) as src:
            return pa.ipc.open_file(src).read_all()
    except (OSError, pa.ArrowInvalid):
        return None


def _edit(repo, base, base_root: str, root: str):
    """``base`` (the scope of ``base_root``) with the differences between the trees applied."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mmvc.core.diff import diff_trees

    gone, keys, ids = [], [], []
    for path, _old, new in diff_trees(repo.tree, base_root, root):
        gone.append(path)
        if new is not None:
            keys.append(path)
            ids.append(item_id(new.oid, new.meta))
    if not gone:
        return base
    kept = base.filter(pc.invert(pc.is_in(base.column("key"), value_set=pa.array(gone, pa.string()))))
    added = pa.table({"key": pa.array(keys, pa.string()), "item_id": pa.array(ids, pa.string())})
    return pa.concat_tables([kept, added]).sort_by("key").combine_chunks()


def _compute(repo, root: str):
    import pyarrow as pa

    keys, ids = [], []
    if root:
        for e in repo.tree.iter_entries(root):
            keys.append(e.path)
            ids.append(item_id(e.oid, e.meta))
    return pa.table({"key": pa.array(keys, pa.string()), "item_id": pa.array(ids, pa.string())})


def _save(path: str, table) -> None:
    import pyarrow as pa

    from mmvc.core.atomicfile import atomic_write

    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, sink.getvalue().to_pybytes(), fsync=False)
    except OSError:
        pass  # a read-only repository still answers queries, it only recomputes


class ScopeLookup:
    """item_id → keys of one scope by binary search over the sorted ids: checking a few hundred
    search candidates against a million-item version costs microseconds, not a hash join."""

    def __init__(self, table):
        import numpy as np
        import pyarrow.compute as pc

        self.table = table
        order = pc.sort_indices(table.column("item_id"))
        ids = table.column("item_id").take(order).combine_chunks()
        self.keys = table.column("key").take(order).combine_chunks()
        width = 32
        if len(ids) and pc.all(pc.equal(pc.utf8_length(ids), width)).as_py():
            data = np.frombuffer(ids.buffers()[2], dtype=f"S{width}", count=len(ids) + ids.offset)[ids.offset:]
        else:
            data = np.array(ids.to_pylist(), dtype="S64")
        self.ids = data

    def keys_of(self, iid: str) -> list[str]:
        import numpy as np

        b = iid.encode()
        i = int(np.searchsorted(self.ids, b))
        out = []
        while i < len(self.ids) and self.ids[i] == b:
            out.append(self.keys[i].as_py())
            i += 1
        return out


_LOOKUPS: OrderedDict = OrderedDict()


def lookup(repo, root: str) -> ScopeLookup:
    memo_key = (repo.dir, root)
    hit = _LOOKUPS.get(memo_key)
    if hit is None:
        hit = _LOOKUPS[memo_key] = ScopeLookup(scope(repo, root))
        while len(_LOOKUPS) > _MEMO_MAX:
            _LOOKUPS.popitem(last=False)
    return hit
