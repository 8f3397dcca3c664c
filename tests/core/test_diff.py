"""Tree diffs: the two-tree walk agrees with a brute-force comparison of the item sets, is its
own mirror, replays onto the old tree to give the new one, and reads only the nodes near the
change; classification names renames and metadata-only changes deterministically."""

from __future__ import annotations

import random
import tempfile
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmvc.core.diff import ADDED, META, MODIFIED, REMOVED, RENAMED, classify, diff_trees
from mmvc.core.hashing import hash_bytes
from mmvc.core.manifest import DEFAULT_PARAMS, ManifestEntry, ManifestTree, TreeParams
from mmvc.core.modality import AUDIO, IMAGE, TEXT
from mmvc.core.objects import canonical_meta
from mmvc.core.store import LocalObjectStore

# Small nodes: a few hundred items make trees of 3-5 levels, so every diff crosses levels,
# content-defined boundaries and the hard caps.
SMALL = TreeParams(leaf_target=4, leaf_max=8, node_target=4, node_max=8)
_SHAPES = ("data/{:04d}.txt", "img/ü {}.png", "a\nb/{}", "音声/{}.wav", "{}", "data/{}/x")
N_KEYS = 400


def key(i: int) -> str:
    return _SHAPES[i % len(_SHAPES)].format(i)


def entry(i: int, v: int) -> ManifestEntry:
    """Version v of item i. Versions 0-2 share content and differ in metadata, modality or
    flags; 3-5 have content of their own. Blob ids depend on v only for a few items, so that
    the same blob sits at several paths (rename candidates)."""
    path = key(i)
    content = f"{i % 50}@{v}" if v >= 3 else f"{i}"
    meta = canonical_meta({"caption": f"ü {v}"}) if v == 1 else ""
    return ManifestEntry(path, hash_bytes(content.encode()), len(content), IMAGE if v == 2 else TEXT, 1 if v == 5 else 0, meta)


@contextmanager
def fresh_store():
    with tempfile.TemporaryDirectory() as d:
        LocalObjectStore.init_layout(d)
        store = LocalObjectStore(d, fsync=False)
        try:
            yield store
        finally:
            store.close()


def build(store, items: dict[int, int], params=SMALL) -> str:
    with store.writer() as w:
        return ManifestTree(store, params).build(sorted(entry(i, v) for i, v in items.items()), w)


def brute(a: dict[int, int], b: dict[int, int]) -> list:
    ea = {key(i): entry(i, v) for i, v in a.items()}
    eb = {key(i): entry(i, v) for i, v in b.items()}
    return [(p, ea.get(p), eb.get(p)) for p in sorted(ea.keys() | eb.keys()) if ea.get(p) != eb.get(p)]


ids = st.integers(0, N_KEYS - 1)
versions = st.integers(0, 5)


@st.composite
def item_sets(draw):
    """{item: version}: a strided range (hundreds of items as often as a handful) with edits."""
    lo, hi = sorted((draw(ids), draw(ids)))
    stride = draw(st.integers(1, 3))
    out = {i: i % 3 for i in range(lo, hi + 1, stride)}
    for i, v in draw(st.dictionaries(ids, st.none() | versions, max_size=10)).items():
        if v is None:
            out.pop(i, None)
        else:
            out[i] = v
    return out


@st.composite
def edited(draw, base):
    """``base`` after a scattered edit and, sometimes, a whole range replaced or dropped."""
    out = dict(base)
    if draw(st.booleans()):
        lo = draw(ids)
        hi = min(N_KEYS - 1, lo + draw(st.integers(0, 150)))
        action = draw(st.none() | versions)
        for i in range(lo, hi + 1, draw(st.integers(1, 3))):
            if action is None:
                out.pop(i, None)
            else:
                out[i] = action
    for i, v in draw(st.dictionaries(ids, st.none() | versions, max_size=20)).items():
        if v is None:
            out.pop(i, None)
        else:
            out[i] = v
    return out


pairs = item_sets().flatmap(lambda a: st.tuples(st.just(a), edited(a) | item_sets()))


# --------------------------------------------------------------------------- the walk


@given(pairs)
def test_diff_matches_brute_force_and_replays(pair):
    a, b = pair
    with fresh_store() as store:
        ra, rb = build(store, a), build(store, b)
        got = list(diff_trees(ManifestTree(store, SMALL), ra, rb))
        assert got == brute(a, b)
        # applying the diff to a gives b, root for root
        with store.writer() as w:
            replayed = ManifestTree(store, SMALL).apply_changes(ra, [(p, new) for p, _, new in got], w)
        assert replayed == rb


@given(pairs)
def test_diff_is_its_own_mirror(pair):
    a, b = pair
    with fresh_store() as store:
        ra, rb = build(store, a), build(store, b)
        tree = ManifestTree(store, SMALL)
        forward = list(diff_trees(tree, ra, rb))
        backward = list(diff_trees(tree, rb, ra))
        assert backward == [(p, new, old) for p, old, new in forward]


@given(item_sets())
def test_a_tree_against_itself_and_against_nothing(a):
    with fresh_store() as store:
        ra = build(store, a)
        tree = ManifestTree(store, SMALL)
        assert list(diff_trees(tree, ra, ra)) == []
        with store.writer() as w:
            empty = tree.empty_root(w)
        everything = brute({}, a)
        assert list(diff_trees(tree, "", ra)) == everything
        assert list(diff_trees(tree, empty, ra)) == everything
        assert list(diff_trees(tree, ra, "")) == [(p, new, old) for p, old, new in everything]
        assert list(diff_trees(tree, "", empty)) == []


@given(pairs)
def test_an_edited_tree_shares_nodes_with_its_base_and_they_are_skipped(pair):
    """The walk never opens a node that both trees hold (no wasted reads), apart from the
    roots, which it always opens."""
    a, b = pair
    with fresh_store() as store:
        ra, rb = build(store, a), build(store, b)
        tree, reads = counting_tree(store)
        list(diff_trees(tree, ra, rb))
        shared = reachable(store, ra) & reachable(store, rb)
        assert not (set(reads) - {ra, rb}) & shared
        assert len(reads) == len(set(reads))  # and no node is read twice


class CountingStore(LocalObjectStore):
    """The same store folder, recording each object read."""

    def __init__(self, store):
        super().__init__(store.root, fsync=False)
        self.reads: list[str] = []

    def get(self, oid):
        self.reads.append(oid)
        return super().get(oid)


def counting_tree(store, params=SMALL):
    counting = CountingStore(store)
    return ManifestTree(counting, params), counting.reads


def reachable(store, root: str) -> set[str]:
    tree = ManifestTree(store)
    seen, stack = set(), [root]
    while stack:
        oid = stack.pop()
        seen.add(oid)
        node = tree.node(oid)
        if not node.is_leaf:
            stack.extend(it[1].hex() for it in node.items)
    return seen


@pytest.fixture(scope="module")
def big():
    """30,000 items with the default parameters (three levels), and a 1%-ish edit of them."""
    with fresh_store() as store:
        entries = {}
        for i in range(30_000):
            p = f"shard-{i % 97:02d}/item-{i:06d}.{('txt', 'png', 'wav')[i % 3]}"
            entries[p] = ManifestEntry(p, hash_bytes(p.encode()), i, (TEXT, IMAGE, AUDIO)[i % 3])
        with store.writer() as w:
            root = ManifestTree(store).build(sorted(entries.values()), w)
        yield store, entries, root


@pytest.mark.parametrize("k", [1, 10, 100])
def test_reads_follow_the_change_not_the_tree(big, k):
    store, entries, root = big
    rng = random.Random(k)
    changes = {}
    for p in rng.sample(sorted(entries), k):
        e = entries[p]
        changes[p] = None if rng.random() < 0.3 else e._replace(oid=hash_bytes(b"v2" + p.encode()), size=e.size + 1)
    with store.writer() as w:
        new_root = ManifestTree(store).apply_changes(root, sorted(changes.items()), w)
    tree, reads = counting_tree(store, DEFAULT_PARAMS)
    got = list(diff_trees(tree, root, new_root))
    assert [p for p, _, _ in got] == sorted(changes)
    total = len(reachable(store, root))
    height = tree.height(root)
    # each change opens about its path on each side (height + 1 nodes); a boundary that moves
    # can pull a neighbour in at each level, hence the factor of 4 rather than 2
    assert len(reads) <= 4 * k * (height + 1) + 8
    assert len(reads) < total // 10 or k == 100 and len(reads) < total // 2


def test_a_taller_tree_still_shares_the_shorter_ones_subtrees():
    """Appending to a version until its tree grows taller: of the old tree, only the nodes on
    its right edge (where the new items join) are opened."""
    def e(name: str) -> ManifestEntry:
        return ManifestEntry(name, hash_bytes(name.encode()), 1, TEXT)

    old = [e(f"a/{i:05d}") for i in range(1000)]
    new = [e(f"b/{i:05d}") for i in range(3000)]
    with fresh_store() as store:
        with store.writer() as w:
            short = ManifestTree(store, SMALL).build(old, w)
            tall = ManifestTree(store, SMALL).build(old + new, w)
        tree, reads = counting_tree(store)
        assert tree.height(tall) > tree.height(short)
        assert list(diff_trees(tree, short, tall)) == [(x.path, None, x) for x in new]
        opened_old = set(reads) & reachable(store, short)
        assert len(opened_old) <= 3 * (tree.height(short) + 1)


# --------------------------------------------------------------------------- classification


def _e(path, content, size=None, modality=TEXT, flags=0, meta=""):
    return ManifestEntry(path, hash_bytes(content.encode()), len(content) if size is None else size, modality, flags, meta)


def test_classify_names_each_kind_and_sums_bytes_per_modality():
    old_cap = _e("c/a.txt", "apple")
    new_cap = _e("c/a.txt", "green apple")
    img = _e("i/x.png", "png bytes", modality=IMAGE)
    triples = [
        ("a/moved.png", None, img._replace(path="a/moved.png")),
        ("c/a.txt", old_cap, new_cap),
        ("c/gone.txt", _e("c/gone.txt", "bye"), None),
        ("c/meta.txt", _e("c/meta.txt", "m"), _e("c/meta.txt", "m", meta=canonical_meta({"license": "cc-by"}))),
        ("c/new.txt", None, _e("c/new.txt", "hi there")),
        ("i/x.png", img, None),
        ("i/y.png", _e("i/y.png", "y", modality=IMAGE), _e("i/y.png", "y", modality=TEXT, flags=1)),
    ]
    d = classify(triples)
    assert [(c.kind, c.old_path, c.path) for c in d.changes] == [
        (RENAMED, "i/x.png", "a/moved.png"),
        (MODIFIED, "c/a.txt", "c/a.txt"),
        (REMOVED, "c/gone.txt", "c/gone.txt"),
        (META, "c/meta.txt", "c/meta.txt"),
        (ADDED, "c/new.txt", "c/new.txt"),
        (META, "i/y.png", "i/y.png"),
    ]
    assert d.changes[3].fields == ("meta",) and d.changes[5].fields == ("modality", "flags")
    text, image = d.by_modality["text"], d.by_modality["image"]
    assert (text.added, text.removed, text.modified, text.meta) == (1, 1, 1, 2)
    assert (text.bytes_added, text.bytes_removed) == (len("hi there") + len("green apple"), len("bye") + len("apple"))
    assert (image.renamed, image.bytes_added, image.bytes_removed) == (1, 0, 0)
    assert d.total.added == 1 and d.total.renamed == 1 and len(d.renamed) == 1


def test_renames_of_one_blob_pair_sorted_old_with_sorted_new():
    blob = "same bytes"
    triples = sorted([
        ("x/3", _e("x/3", blob), None), ("x/1", _e("x/1", blob), None), ("x/2", _e("x/2", blob), None),
        ("y/b", None, _e("y/b", blob)), ("y/a", None, _e("y/a", blob)),
    ])
    d = classify(triples)
    assert [(c.kind, c.old_path, c.path) for c in d.changes] == [
        (REMOVED, "x/3", "x/3"), (RENAMED, "x/1", "y/a"), (RENAMED, "x/2", "y/b")]
    assert classify(reversed(triples)).changes == d.changes


@given(pairs)
def test_classification_accounts_for_every_raw_change(pair):
    a, b = pair
    raw = brute(a, b)
    d = classify(raw)
    renamed = len(d.renamed)
    assert len(d.changes) == len(raw) - renamed
    assert [c.path for c in d.changes] == sorted(c.path for c in d.changes)
    old_paths = {p for p, old, _ in raw if old is not None}
    new_paths = {p for p, _, new in raw if new is not None}
    for c in d.changes:
        assert (c.old is None or c.old_path in old_paths) and (c.new is None or c.path in new_paths)
        if c.kind == RENAMED:
            assert c.old.oid == c.new.oid and c.old_path != c.path
    t = d.total
    assert t.added + t.removed + t.modified + t.meta + t.renamed == len(d.changes)
    assert t.bytes_added - t.bytes_removed == sum(new.size for _, _, new in raw if new) - sum(old.size for _, old, _ in raw if old)
