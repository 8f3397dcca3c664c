"""Differences between two manifest trees, and what those differences mean for a dataset.

``diff_trees`` walks both prolly trees at once and never opens a subtree whose id is the same
on both sides. Prolly-tree node boundaries depend only on the keys, so away from a change the
two trees are made of the very same nodes, and the walk costs what changed (times the tree's
height), not what the versions hold.

``classify`` turns raw (path, old, new) triples into what a reviewer asks about: added,
removed, modified, metadata-only changes and renames, with per-modality totals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mmvc.core.manifest import ManifestEntry, ManifestTree, item_to_entry
from mmvc.core.modality import modality_name

Triple = tuple[str, "ManifestEntry | None", "ManifestEntry | None"]

_RUN = -1  # a stack entry holding a leaf's items: [items, index of the next one]


def _node_reader(tree: ManifestTree):
    """(level, items) of a node by raw id, through the tree's node cache; a diff's cost is
    almost all node reads, so each node is decoded once whichever side reaches it first."""

    def read(raw_id: bytes, keep: bool = False) -> tuple[int, list]:
        node = tree.node(raw_id.hex())
        return node.level, node.items

    return read


def _start(read, root: str) -> list:
    """A cursor: a stack whose top holds the smallest key not yet consumed. Entries are
    (level, (first key, id)) for subtrees not yet opened, or (_RUN, [items, next]) for a
    leaf's items, which are merged a run at a time rather than pushed one by one."""
    if not root:
        return []
    raw = bytes.fromhex(root)
    level, items = read(raw, keep=True)
    # the root goes on as an unopened subtree, so that a root the other side holds whole
    # (a version that grew a level) is still skipped by id
    return [(level, (items[0][0], raw))] if items else []


def _push(stack: list, level: int, items: list) -> None:
    if level:
        level -= 1
        stack.extend([(level, it) for it in reversed(items)])
    elif items:
        stack.append((_RUN, [items, 0]))


def _expand(read, stack: list) -> None:
    _push(stack, *read(stack.pop()[1][1]))


def diff_trees(tree: ManifestTree, a_root: str, b_root: str) -> Iterator[Triple]:
    """(path, entry in a or None, entry in b or None) for every path whose entries differ, in
    path order. A root of "" stands for no tree at all (before the first commit): empty."""
    if a_root == b_root:
        return
    read = _node_reader(tree)
    a = _start(read, a_root)
    b = _start(read, b_root)
    while a and b:
        la, xa = a[-1]
        lb, xb = b[-1]
        if la == _RUN and lb == _RUN:
            # two runs of leaf items: a plain sorted merge, until either runs out
            items_a, i = xa
            items_b, j = xb
            na, nb = len(items_a), len(items_b)
            while i < na and j < nb:
                x = items_a[i]
                y = items_b[j]
                if x == y:
                    i += 1
                    j += 1
                elif x[0] == y[0]:
                    yield x[0], item_to_entry(x), item_to_entry(y)
                    i += 1
                    j += 1
                elif x[0] < y[0]:
                    yield x[0], item_to_entry(x), None
                    i += 1
                else:
                    yield y[0], None, item_to_entry(y)
                    j += 1
            xa[1] = i
            xb[1] = j
            if i == na:
                a.pop()
            if j == nb:
                b.pop()
            continue
        ka = xa[0][xa[1]][0] if la == _RUN else xa[0]
        kb = xb[0][xb[1]][0] if lb == _RUN else xb[0]
        if la == _RUN:  # b is a subtree: a's items before it are a's alone, then open it
            if ka < kb:
                yield from _take(a, xa, kb, True)
            else:
                _expand(read, b)
        elif lb == _RUN:
            if kb < ka:
                yield from _take(b, xb, ka, False)
            else:
                _expand(read, a)
        elif xa[1] == xb[1]:
            a.pop()  # the same subtree on both sides: nothing below it differs
            b.pop()
        elif ka < kb or ka == kb and la >= lb:
            # with equal first keys, open the taller side until the levels line up, so that
            # subtrees of equal height meet and identical ones are skipped by id
            _expand(read, a)
        else:
            _expand(read, b)
    for side, stack in ((True, a), (False, b)):
        while stack:
            if stack[-1][0] == _RUN:
                yield from _take(stack, stack[-1][1], None, side)
            else:
                _expand(read, stack)


def _take(stack: list, run: list, below: str | None, old: bool) -> Iterator[Triple]:
    """The run's items with keys below ``below`` (all of them for None), as one side's alone."""
    items, i = run
    j = len(items) if below is None else bisect.bisect_left(items, (below,), i)
    for it in items[i:j]:
        e = item_to_entry(it)
        yield (it[0], e, None) if old else (it[0], None, e)
    run[1] = j
    if j == len(items):
        stack.pop()


# --------------------------------------------------------------------------- classification

ADDED, REMOVED, MODIFIED, META, RENAMED = "added", "removed", "modified", "meta", "renamed"
KINDS = (ADDED, REMOVED, MODIFIED, META, RENAMED)


@dataclass(frozen=True)
class Change:
    """One difference. ``path`` is the path on the new side (the old one for removals);
    ``old_path`` differs from it only for renames."""

    kind: str
    path: str
    old: ManifestEntry | None
    new: ManifestEntry | None

    @property
    def old_path(self) -> str:
        return self.old.path if self.old is not None else self.path

    @property
    def modality(self) -> str:
        side = self.new or self.old
        assert side is not None  # a change has at least one side
        return modality_name(side.modality)

    @property
    def fields(self) -> tuple[str, ...]:
        """Which of the item's fields differ (content, size, modality, flags, meta)."""
        if self.old is None or self.new is None:
            return ()
        return tuple(name for name, x, y in zip(("oid", "size", "modality", "flags", "meta"), self.old[1:], self.new[1:]) if x != y)


@dataclass
class ModalityStat:
    """Per modality. Bytes count content that entered or left the version: a modified item
    removes its old bytes and adds its new ones; renames and metadata changes move none."""

    added: int = 0
    removed: int = 0
    modified: int = 0
    renamed: int = 0
    meta: int = 0
    bytes_added: int = 0
    bytes_removed: int = 0

    def add(self, other: ModalityStat) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class DiffEntries:
    changes: list[Change] = field(default_factory=list)  # sorted by path
    by_modality: dict[str, ModalityStat] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def added(self) -> list[Change]:
        return self.of_kind(ADDED)

    @property
    def removed(self) -> list[Change]:
        return self.of_kind(REMOVED)

    @property
    def modified(self) -> list[Change]:
        return self.of_kind(MODIFIED)

    @property
    def meta_changed(self) -> list[Change]:
        return self.of_kind(META)

    @property
    def renamed(self) -> list[Change]:
        return self.of_kind(RENAMED)

    @property
    def total(self) -> ModalityStat:
        return total_of(self.by_modality)


def total_of(by_modality: dict) -> ModalityStat:
    """The per-modality summaries added up."""
    t = ModalityStat()
    for s in by_modality.values():
        t.add(s)
    return t


def classify(changes: Iterable[Triple]) -> DiffEntries:
    """Name each raw difference. A removal and an addition of the same blob are a rename; where
    one blob left several paths and arrived at several, old paths are paired with new ones in
    sorted order, so that the same two versions always give the same answer."""
    out: list[Change] = []
    gone: dict[str, list[ManifestEntry]] = {}
    came: dict[str, list[ManifestEntry]] = {}
    for path, old, new in changes:
        if old is None and new is None:
            continue
        if old is None:
            assert new is not None
            came.setdefault(new.oid, []).append(new)
        elif new is None:
            gone.setdefault(old.oid, []).append(old)
        elif old.oid != new.oid:
            out.append(Change(MODIFIED, path, old, new))
        elif old != new:
            out.append(Change(META, path, old, new))
    for oid, olds in gone.items():
        news = came.pop(oid, [])
        olds.sort()
        news.sort()
        n = min(len(olds), len(news))
        out += [Change(RENAMED, new.path, old, new) for old, new in zip(olds, news)]
        out += [Change(REMOVED, old.path, old, None) for old in olds[n:]]
        out += [Change(ADDED, new.path, None, new) for new in news[n:]]
    for news in came.values():
        out += [Change(ADDED, new.path, None, new) for new in news]
    out.sort(key=lambda c: (c.path, c.kind != REMOVED))
    res = DiffEntries(out)
    per = res.by_modality
    for c in out:
        s = per.setdefault(c.modality, ModalityStat())
        if c.kind == ADDED:
            assert c.new is not None
            s.added += 1
            s.bytes_added += c.new.size
        elif c.kind == REMOVED:
            assert c.old is not None
            s.removed += 1
            s.bytes_removed += c.old.size
        elif c.kind == MODIFIED:
            assert c.old is not None and c.new is not None
            s.modified += 1
            s.bytes_added += c.new.size
            per.setdefault(modality_name(c.old.modality), ModalityStat()).bytes_removed += c.old.size
        elif c.kind == RENAMED:
            s.renamed += 1
        else:
            s.meta += 1
    res.by_modality = dict(sorted(per.items()))
    return res
