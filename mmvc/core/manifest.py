"""Manifest trees: a version's items as a prolly tree of bounded, sorted, content-addressed nodes.

Node boundaries depend only on the keys (a hash of each key decides whether a node ends after
it, with a hard cap on node size), so the same set of items always gives the same root id, and
changing k items rewrites O(k log n) nodes. ``apply_changes`` edits a tree in place of a rebuild
and must always give the root that ``build_tree`` gives for the same items: the property tests
in ``tests/core/test_manifest.py`` pin that.

Byte layout: docs/format.md, "Manifest nodes".
"""

from __future__ import annotations

import bisect
import struct
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from blake3 import blake3

from mmvc.core.hashing import ID_RAW_LEN
from mmvc.core.modality import MODALITY_SLOTS
from mmvc.errors import CorruptError, NewerFormatError

NODE_MAGIC = b"MMVN"
NODE_VERSION = 1
KIND_LEAF = 1
KIND_INTERNAL = 2
_HEAD = struct.Struct("<4sHBBI")
_U32 = struct.Struct("<I")


class ManifestEntry(NamedTuple):
    """One item of a version: its key, content id and the metadata that travels with it."""

    path: str
    oid: str
    size: int
    modality: int
    flags: int = 0
    meta: str = ""  # canonical JSON object, or "" for none

    def same_content(self, other: ManifestEntry) -> bool:
        return self[1:] == other[1:]


@dataclass(frozen=True)
class TreeParams:
    """Chunking parameters. Part of the format: other values give other (valid) roots."""

    leaf_target: int = 64
    leaf_max: int = 256
    node_target: int = 64
    node_max: int = 256


DEFAULT_PARAMS = TreeParams()


def _is_boundary(key: str, level: int, target: int) -> bool:
    h = blake3(bytes((level,)) + key.encode("utf-8", "surrogateescape")).digest(length=4)
    return int.from_bytes(h, "little") < (1 << 32) // target


Stats = tuple  # counts per modality slot, then bytes per modality slot


def _zero_stats() -> list[int]:
    return [0] * (2 * MODALITY_SLOTS)


# --------------------------------------------------------------------------- nodes


class Node:
    """A decoded node. Leaf items: (path, raw id, size, modality, flags, meta).
    Internal items: (first key, child raw id, stats)."""

    __slots__ = ("level", "items", "oid")

    def __init__(self, level: int, items: list, oid: str | None = None):
        self.level = level
        self.items = items
        self.oid = oid

    @property
    def is_leaf(self) -> bool:
        return self.level == 0

    @property
    def keys(self) -> list[str]:
        return [it[0] for it in self.items]

    def stats(self) -> list[int]:
        s = _zero_stats()
        if self.is_leaf:
            if all(it[3] == self.items[0][3] for it in self.items):  # the usual single-modality leaf
                m = self.items[0][3] if self.items and self.items[0][3] < MODALITY_SLOTS else 0
                s[m] = len(self.items)
                s[MODALITY_SLOTS + m] = sum(it[2] for it in self.items)
                return s
            for it in self.items:
                m = it[3] if it[3] < MODALITY_SLOTS else 0
                s[m] += 1
                s[MODALITY_SLOTS + m] += it[2]
        else:
            s = [sum(col) for col in zip(*(it[2] for it in self.items))] or s
        return s


def encode_node(node: Node) -> bytes:
    items = node.items
    n = len(items)
    if not n:
        return _HEAD.pack(NODE_MAGIC, NODE_VERSION, KIND_LEAF if node.is_leaf else KIND_INTERNAL, node.level, 0) + _U32.pack(0) * (2 if node.is_leaf else 1) + (b"" if node.is_leaf else bytes((MODALITY_SLOTS,)))
    cols = list(zip(*items))  # one C-level transpose instead of a generator per column
    keys = "\0".join(cols[0]).encode("utf-8")
    parts = [_HEAD.pack(NODE_MAGIC, NODE_VERSION, KIND_LEAF if node.is_leaf else KIND_INTERNAL, node.level, n), _U32.pack(len(keys)), keys,
             b"".join(cols[1])]
    if node.is_leaf:
        metas = "\n".join(cols[5]).encode("utf-8")
        parts += [struct.pack(f"<{n}Q", *cols[2]), bytes(cols[3]), bytes(cols[4]), _U32.pack(len(metas)), metas]
    else:
        parts.append(bytes((MODALITY_SLOTS,)))
        parts.append(struct.pack(f"<{n * 2 * MODALITY_SLOTS}Q", *[v for row in cols[2] for v in row]))
    return b"".join(parts)


def decode_node(data: bytes, oid: str | None = None) -> Node:
    try:
        magic, version, kind, level, n = _HEAD.unpack_from(data, 0)
        if magic != NODE_MAGIC:
            raise CorruptError(f"object {oid} is not a manifest node", "run `mmvc fsck`")
        if version > NODE_VERSION:
            raise NewerFormatError(f"manifest node {oid}", version, NODE_VERSION)
        pos = _HEAD.size
        (klen,) = _U32.unpack_from(data, pos)
        pos += 4
        keys = data[pos : pos + klen].decode("utf-8").split("\0") if n else []
        pos += klen
        raws = list(struct.unpack_from("32s" * n, data, pos))  # the id column, cut in C
        pos += n * ID_RAW_LEN
        if kind == KIND_LEAF:
            sizes = struct.unpack_from(f"<{n}Q", data, pos)
            pos += 8 * n
            mods = data[pos : pos + n]
            flags = data[pos + n : pos + 2 * n]
            pos += 2 * n
            (mlen,) = _U32.unpack_from(data, pos)
            pos += 4
            metas = data[pos : pos + mlen].decode("utf-8").split("\n") if n else []
            pos += mlen
            items = list(zip(keys, raws, sizes, mods, flags, metas))
        elif kind == KIND_INTERNAL:
            slots = data[pos]
            pos += 1
            flat = struct.unpack_from(f"<{n * 2 * slots}Q", data, pos)
            pos += 8 * n * 2 * slots
            w = 2 * slots
            if slots == MODALITY_SLOTS:
                stats = [flat[i * w : (i + 1) * w] for i in range(n)]
            else:  # written by a version with a different number of modalities
                stats = []
                for i in range(n):
                    row = flat[i * w : (i + 1) * w]
                    s = _zero_stats()
                    for j in range(min(slots, MODALITY_SLOTS)):
                        s[j] = row[j]
                        s[MODALITY_SLOTS + j] = row[slots + j]
                    stats.append(tuple(s))
            items = list(zip(keys, raws, stats))
        else:
            raise CorruptError(f"manifest node {oid} has unknown kind {kind}", "run `mmvc fsck`")
        if len(keys) != n or len(items) != n or pos != len(data):
            raise ValueError("length mismatch")
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as e:
        raise CorruptError(f"manifest node {oid} is malformed ({e})", "run `mmvc fsck`") from None
    return Node(level, items, oid)


def entry_to_item(e: ManifestEntry) -> tuple:
    return (e.path, bytes.fromhex(e.oid), e.size, e.modality, e.flags, e.meta)


def item_to_entry(it: tuple) -> ManifestEntry:
    return ManifestEntry(it[0], it[1].hex(), it[2], it[3], it[4], it[5])


# --------------------------------------------------------------------------- the tree


class ManifestTree:
    """Reads and writes manifest trees through an object store, caching decoded nodes."""

    def __init__(self, store, params: TreeParams = DEFAULT_PARAMS, cache_nodes: int = 8192):
        self.store = store
        self.params = params
        self._cache: OrderedDict[str, Node] = OrderedDict()
        self._cache_max = cache_nodes

    # -- nodes

    def node(self, oid: str) -> Node:
        n = self._cache.get(oid)
        if n is not None:
            self._cache.move_to_end(oid)
            return n
        n = decode_node(self.store.get(oid), oid)
        self._cache[oid] = n
        if len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)
        return n

    def _write(self, writer, node: Node, cache: bool = True) -> Node:
        node.oid = writer.put_bytes(encode_node(node))
        if cache:
            self._cache[node.oid] = node
        return node

    def empty_root(self, writer) -> str:
        oid = self._write(writer, Node(0, [])).oid
        assert oid is not None  # set by _write
        return oid

    # -- building

    def _chunk(self, items: Iterable[tuple], level: int) -> Iterator[list]:
        target = self.params.leaf_target if level == 0 else self.params.node_target
        cap = self.params.leaf_max if level == 0 else self.params.node_max
        cur: list = []
        for it in items:
            cur.append(it)
            if len(cur) >= cap or _is_boundary(it[0], level, target):
                yield cur
                cur = []
        if cur:
            yield cur

    def _parent_item(self, node: Node) -> tuple:
        assert node.oid is not None  # a written node
        return (node.items[0][0], bytes.fromhex(node.oid), tuple(node.stats()))

    def _build_up(self, nodes: list[Node], writer) -> str:
        """Stack levels on top of ``nodes`` (one level, in order) until one node remains."""
        if not nodes:
            return self.empty_root(writer)
        if len(nodes) == 1:
            assert nodes[0].oid is not None  # written
            return nodes[0].oid
        return self._stack(nodes[0].level + 1, [self._parent_item(n) for n in nodes], writer)

    def _stack(self, level: int, items: list, writer) -> str:
        """Root id over ``items``, the parent items of a level of more than one node."""
        while True:
            nodes = [self._write(writer, Node(level, chunk)) for chunk in self._chunk(items, level)]
            if len(nodes) == 1:
                assert nodes[0].oid is not None  # written
                return nodes[0].oid
            items, level = [self._parent_item(n) for n in nodes], level + 1

    def build(self, entries: Iterable[ManifestEntry], writer) -> str:
        """Root id of a tree holding ``entries``, which must be sorted by path with no repeats.
        Streamed: only the leaves' parent items are held, so a version of millions of items is
        built in the memory of its upper levels."""
        first, parents = None, []
        for chunk in self._chunk(map(entry_to_item, entries), 0):
            leaf = self._write(writer, Node(0, chunk), cache=False)
            first = first or leaf
            parents.append(self._parent_item(leaf))
        if len(parents) <= 1:
            if first is None:
                return self.empty_root(writer)
            assert first.oid is not None  # written
            self._cache[first.oid] = first
            return first.oid
        return self._stack(1, parents, writer)

    # -- reading

    def iter_entries(self, root: str, prefix: str = "") -> Iterator[ManifestEntry]:
        yield from (item_to_entry(it) for it in self._iter_items(self.node(root), prefix))

    def _iter_items(self, node: Node, prefix: str) -> Iterator[tuple]:
        if node.is_leaf:
            if not prefix:
                yield from node.items
            else:
                keys = node.keys
                i = bisect.bisect_left(keys, prefix)
                for it in node.items[i:]:
                    if not it[0].startswith(prefix):
                        break
                    yield it
            return
        items = node.items
        start = 0
        if prefix:
            start = max(0, bisect.bisect_right([it[0] for it in items], prefix) - 1)
        for i in range(start, len(items)):
            if prefix and items[i][0] > prefix and not items[i][0].startswith(prefix):
                break
            yield from self._iter_items(self.node(items[i][1].hex()), prefix)

    def entries_at(self, root: str, offset: int, limit: int) -> list[ManifestEntry]:
        """Up to ``limit`` entries starting at the ``offset``-th (in path order), skipping whole
        subtrees by their recorded counts: a page deep into a million items reads one node per
        level plus the leaves the page spans."""
        out: list[ManifestEntry] = []
        if limit > 0 and offset >= 0:
            self._entries_at(self.node(root), offset, limit, out)
        return out

    def _entries_at(self, node: Node, skip: int, limit: int, out: list) -> int:
        if node.is_leaf:
            for it in node.items[skip : skip + limit - len(out)]:
                out.append(item_to_entry(it))
            return max(0, skip - len(node.items))
        for it in node.items:
            if len(out) >= limit:
                break
            n = sum(it[2][:MODALITY_SLOTS])
            if skip >= n:
                skip -= n
                continue
            skip = self._entries_at(self.node(it[1].hex()), skip, limit, out)
        return skip

    def get_many(self, root: str, paths: Sequence[str]) -> dict[str, ManifestEntry]:
        """Entries for the given sorted paths, touching only the nodes that can hold them."""
        out: dict[str, ManifestEntry] = {}
        if paths:
            self._get_many(self.node(root), list(paths), out)
        return out

    def _get_many(self, node: Node, paths: list[str], out: dict) -> None:
        keys = node.keys
        if node.is_leaf:
            for p in paths:
                i = bisect.bisect_left(keys, p)
                if i < len(keys) and keys[i] == p:
                    out[p] = item_to_entry(node.items[i])
            return
        groups: dict[int, list[str]] = {}
        for p in paths:
            i = max(0, bisect.bisect_right(keys, p) - 1)
            groups.setdefault(i, []).append(p)
        for i, group in groups.items():
            self._get_many(self.node(node.items[i][1].hex()), group, out)

    def stats(self, root: str) -> list[int]:
        return self.node(root).stats()

    def height(self, root: str) -> int:
        return self.node(root).level

    # -- editing

    def apply_changes(self, root: str, changes: Sequence[tuple[str, ManifestEntry | None]], writer) -> str:
        """Root id after setting (entry) or deleting (None) each path; ``changes`` sorted by path."""
        if not changes:
            return root
        muts = [(p, entry_to_item(e) if e is not None else None) for p, e in changes]
        top = self.node(root)
        level = 0
        while True:
            new_nodes, muts = self._apply_level(top, level, muts, writer)
            if level == top.level:
                new_root = self._build_up(new_nodes, writer) if new_nodes else self.empty_root(writer)
                break
            if not muts:
                new_root = root
                break
            level += 1
        node = self.node(new_root)
        while not node.is_leaf and len(node.items) == 1:
            node = self.node(node.items[0][1].hex())
        assert node.oid is not None  # read from the store
        return node.oid

    def _descend(self, top: Node, level: int, key: str) -> list[tuple[Node, int]]:
        path = []
        node = top
        while node.level > level:
            keys = node.keys
            i = max(0, bisect.bisect_right(keys, key) - 1)
            path.append((node, i))
            node = self.node(node.items[i][1].hex())
        path.append((node, -1))
        return path

    def _next(self, path: list[tuple[Node, int]], level: int) -> list[tuple[Node, int]] | None:
        for d in range(len(path) - 2, -1, -1):
            parent, i = path[d]
            if i + 1 < len(parent.items):
                new = path[:d] + [(parent, i + 1)]
                node = self.node(parent.items[i + 1][1].hex())
                while node.level > level:
                    new.append((node, 0))
                    node = self.node(node.items[0][1].hex())
                new.append((node, -1))
                return new
        return None

    @staticmethod
    def _upper(path: list[tuple[Node, int]]) -> str | None:
        for d in range(len(path) - 2, -1, -1):
            parent, i = path[d]
            if i + 1 < len(parent.items):
                return parent.items[i + 1][0]
        return None

    def _apply_level(self, top: Node, level: int, muts: list, writer) -> tuple[list[Node], list]:
        """Re-chunk the windows of level ``level`` that the mutations touch.

        Returns the new nodes when ``level`` is the top level (the whole level), otherwise the
        mutations the parent level needs: old nodes' keys deleted, new nodes' keys set."""
        target = self.params.leaf_target if level == 0 else self.params.node_target
        cap = self.params.leaf_max if level == 0 else self.params.node_max
        removed: list[str] = []
        created: list[Node] = []
        mi = 0
        while mi < len(muts):
            path = self._descend(top, level, muts[mi][0])
            cur: list = []
            while True:
                node = path[-1][0]
                removed.append(node.items[0][0] if node.items else "")
                upper = self._upper(path)
                items = node.items
                ii = 0
                while ii < len(items) or (mi < len(muts) and (upper is None or muts[mi][0] < upper)):
                    # A key that was not the last of its old node is known not to be a hash
                    # boundary (the node would have ended there), so only the rest are hashed.
                    inner = False
                    if mi < len(muts) and (upper is None or muts[mi][0] < upper) and (ii >= len(items) or muts[mi][0] <= items[ii][0]):
                        key, new_item = muts[mi]
                        mi += 1
                        if ii < len(items) and items[ii][0] == key:
                            inner = ii < len(items) - 1
                            ii += 1
                        if new_item is None:
                            continue
                        it = new_item
                    else:
                        it = items[ii]
                        inner = ii < len(items) - 1
                        ii += 1
                    cur.append(it)
                    if len(cur) >= cap or not inner and _is_boundary(it[0], level, target):
                        created.append(self._write(writer, Node(level, cur)))
                        cur = []
                if not cur:
                    break
                nxt = self._next(path, level)
                if nxt is None:
                    created.append(self._write(writer, Node(level, cur)))
                    cur = []
                    break
                path = nxt
        if level == top.level:
            return created, []  # the root was the level's only node: the new level is `created`
        parent_muts: dict[str, tuple | None] = {k: None for k in removed}
        for n in created:
            parent_muts[n.items[0][0]] = self._parent_item(n)
        return created, sorted(parent_muts.items())
