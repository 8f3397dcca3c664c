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
from collections.abc import Iterable, Iterator

from blake3 import blake3

_MEMO: OrderedDict = OrderedDict()
_MEMO_MAX = 8


def item_id(oid: str, meta: str) -> str:
    return blake3(oid.encode() + b"\0" + meta.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def scope(repo, root: str, near: Iterable[str] = ()):
    """Arrow table (key, item_id) of every item of the tree ``root``, sorted by key.

    ``near``: trees likely to have a cached scope, nearest first (a commit's ancestors,
    ``ancestor_trees``), consumed only until one has. This tree's scope is then that one edited
    by the diff between the trees, which costs what changed rather than a walk of every entry:
    the first query of a never-seen version stays cheap while any ancestor's scope is cached."""
    memo_key = (repo.dir, root)
    hit = _MEMO.get(memo_key)
    if hit is not None:
        _MEMO.move_to_end(memo_key)
        return hit
    path = repo.layout.scope(root)
    table = _load(path)
    if table is None and root:
        for other in near:
            if not other or other == root:
                continue
            base = _MEMO.get((repo.dir, other))
            if base is None:
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


ANCESTOR_LIMIT = 1000


class Ancestors:
    """``ancestor_trees`` of one commit as a reusable, lazy iterable (what ``scope`` takes as ``near``)."""

    def __init__(self, repo, commit: str):
        self.repo, self.commit = repo, commit

    def __iter__(self) -> Iterator[str]:
        return ancestor_trees(self.repo, self.commit)


def ancestor_trees(repo, commit: str, limit: int = ANCESTOR_LIMIT) -> Iterator[str]:
    """The trees of ``commit``'s ancestors, nearest first (breadth-first over parents), read
    lazily: a scope search stops at the first cached one. ``limit`` bounds the commits read
    when none is cached (then a full walk of the manifest is cheaper than reading more)."""
    from collections import deque

    seen = {commit}
    todo = deque(repo.read_commit(commit).parents)
    seen.update(todo)
    while todo and limit > 0:
        limit -= 1
        c = repo.read_commit(todo.popleft())
        yield c.tree
        for p in c.parents:
            if p not in seen:
                seen.add(p)
                todo.append(p)


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
    """``base`` (the scope of ``base_root``) with the differences between the trees applied.

    Every changed key is placed by binary search in ``base``'s sorted keys and the result is one
    ``take``: no hash of every key, no sort of the whole table, so the cost is the change (times
    log n) plus one linear copy."""
    import numpy as np
    import pyarrow as pa

    from mmvc.core.diff import diff_trees

    base = base.combine_chunks()
    keys = base.column("key").chunk(0) if base.column("key").num_chunks else pa.array([], pa.string())
    find = _SortedKeys(keys)
    gone, at, new_keys, new_ids = [], [], [], []
    lo = 0
    for path, old, new in diff_trees(repo.tree, base_root, root):
        lo = find.left(path.encode("utf-8", "surrogateescape"), lo)
        if old is not None:
            gone.append(lo)
        if new is not None:
            at.append(lo)
            new_keys.append(path)
            new_ids.append(item_id(new.oid, new.meta))
    if not gone and not at:
        return base
    m = base.num_rows
    keep = np.ones(m, dtype=bool)
    keep[np.asarray(gone, dtype=np.int64)] = False
    kept = np.flatnonzero(keep)
    # an added key goes before the first kept row at or after its place in base
    slot = np.searchsorted(kept, np.asarray(at, dtype=np.int64), side="left") + np.arange(len(at), dtype=np.int64)
    out = np.empty(len(kept) + len(at), dtype=np.int64)
    is_new = np.zeros(len(out), dtype=bool)
    is_new[slot] = True
    out[is_new] = m + np.arange(len(at), dtype=np.int64)
    out[~is_new] = kept
    added = pa.table({"key": pa.array(new_keys, pa.string()), "item_id": pa.array(new_ids, pa.string())})
    return pa.concat_tables([base, added]).combine_chunks().take(pa.array(out))


class _SortedKeys:
    """Binary search over a sorted Arrow string array by its raw UTF-8 bytes (the order of Python's
    str comparison and of Arrow's sort), without a Python object per row."""

    def __init__(self, arr):
        import numpy as np

        bufs = arr.buffers()
        self.n = len(arr)
        self.offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset:arr.offset + self.n + 1] if self.n else np.zeros(1, np.int32)
        self.data = memoryview(bufs[2]) if self.n and bufs[2] is not None else memoryview(b"")

    def _at(self, i: int) -> bytes:
        return self.data[int(self.offsets[i]):int(self.offsets[i + 1])].tobytes()

    def left(self, key: bytes, lo: int = 0) -> int:
        hi = self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self._at(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo


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
    """item_id → keys of one scope by binary search: checking a few hundred search candidates
    against a million-item version costs microseconds, not a hash join. The ids are ordered by
    their first 16 hex digits as one integer (a numeric sort of a million, not a string sort);
    equal prefixes are told apart by the whole id."""

    def __init__(self, table):
        import numpy as np

        self.table = table
        full = _id_bytes(table.column("item_id").combine_chunks())
        prefix, self.hex = _hex_prefix(full)
        order = np.argsort(prefix, kind="stable")
        self.prefix = prefix[order]
        self.ids = full[order]
        self.keys = table.column("key").take(order).combine_chunks()

    def keys_of(self, iid: str) -> list[str]:
        import numpy as np

        b = iid.encode()
        p = np.uint64(int(b[:16], 16)) if self.hex and len(b) >= 16 and _is_hex(b[:16]) else _hex_prefix(np.array([b], dtype="S64"), hexed=self.hex)[0][0]
        lo, hi = int(np.searchsorted(self.prefix, p, "left")), int(np.searchsorted(self.prefix, p, "right"))
        return [self.keys[i].as_py() for i in range(lo, hi) if self.ids[i] == b]


    def contains(self, ids):
        """Whether each id of the Arrow string array ``ids`` is in the scope, as a numpy bool
        array: one vectorised binary search instead of a hash set of the whole scope."""
        import numpy as np

        full = _id_bytes(ids.combine_chunks() if hasattr(ids, "combine_chunks") else ids)
        if not len(full) or not len(self.prefix):
            return np.zeros(len(full), dtype=bool)
        p, hexed = _hex_prefix(full, hexed=self.hex)
        if hexed != self.hex or not hexed:  # ids that are not BLAKE3 hex (never in a catalog): the plain way
            import pyarrow as pa
            import pyarrow.compute as pc

            return pc.is_in(pa.array(full.tolist(), pa.binary()), value_set=pa.array(self.ids.tolist(), pa.binary())).to_numpy(zero_copy_only=False)
        at = np.minimum(np.searchsorted(self.prefix, p, "left"), len(self.prefix) - 1)
        same_prefix = self.prefix[at] == p
        hit = same_prefix & (self.ids[at] == full)
        for i in np.flatnonzero(same_prefix & ~hit):  # another id shares the prefix: look through them
            hit[i] = bool(self.keys_of(full[i].decode()))
        return hit


def _id_bytes(ids):
    """An Arrow string array of ids as a numpy bytes array, zero-copy when every id is 32 chars."""
    import numpy as np
    import pyarrow.compute as pc

    width = 32
    if len(ids) and ids.null_count == 0 and pc.all(pc.equal(pc.utf8_length(ids), width)).as_py():
        return np.frombuffer(ids.buffers()[2], dtype=f"S{width}", count=len(ids) + ids.offset)[ids.offset:]
    return np.array(ids.to_pylist(), dtype="S64")


def _hex_prefix(ids, hexed: bool | None = None):
    """(keys, hexed): the first 16 hex digits of each id (a numpy bytes array) as an unsigned
    64-bit integer when every id has them, else (or when ``hexed`` is False) the first 8 bytes as
    one. The lookup compares whole ids after it, so any mapping applied the same way is correct."""
    import binascii

    import numpy as np

    head = ids.astype("S16")
    if hexed is not False and len(head) and int(np.char.str_len(head).min()) == 16:
        try:
            return np.frombuffer(binascii.unhexlify(head.tobytes()), dtype=">u8").astype(np.uint64), True
        except (binascii.Error, ValueError):
            pass
    return np.frombuffer(head.astype("S8").astype("S8").tobytes(), dtype=">u8").astype(np.uint64), False


def _is_hex(b: bytes) -> bool:
    try:
        int(b, 16)
    except ValueError:
        return False
    return b.isalnum()


_LOOKUPS: OrderedDict = OrderedDict()


def lookup(repo, root: str) -> ScopeLookup:
    memo_key = (repo.dir, root)
    hit = _LOOKUPS.get(memo_key)
    if hit is None:
        hit = _LOOKUPS[memo_key] = ScopeLookup(scope(repo, root))
        while len(_LOOKUPS) > _MEMO_MAX:
            _LOOKUPS.popitem(last=False)
    return hit
