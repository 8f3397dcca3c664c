"""Manifest prolly trees: incremental edits agree with from-scratch builds, reads agree with the
item set, and the node encoding is pinned byte for byte."""

from __future__ import annotations

import random
import tempfile
from contextlib import contextmanager

import pytest
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from mmvc.core.hashing import hash_bytes
from mmvc.core.manifest import (
    DEFAULT_PARAMS,
    ManifestEntry,
    ManifestTree,
    Node,
    TreeParams,
    _is_boundary,
    decode_node,
    encode_node,
)
from mmvc.core.modality import AUDIO, IMAGE, MODALITY_SLOTS, TEXT
from mmvc.core.objects import canonical_meta
from mmvc.core.store import LocalObjectStore
from mmvc.errors import CorruptError, NewerFormatError

# Small nodes, so that a few hundred entries make a tree of 3+ levels and every edit crosses
# node boundaries, both content-defined ones and the hard caps.
SMALL = TreeParams(leaf_target=4, leaf_max=8, node_target=4, node_max=8)

# Keys built from integers (so hypothesis shrinks them well) in shapes that exercise folders,
# non-ASCII, spaces, a newline inside a name and a sort order unlike the numeric one.
_SHAPES = ("data/{:04d}.txt", "img/ü {}.png", "a\nb/{}", "音声/{}.wav", "z z/{} ", "{}", "data/{}/x")
N_KEYS = 500


def key(i: int) -> str:
    return _SHAPES[i % len(_SHAPES)].format(i)


assert len({key(i) for i in range(N_KEYS)}) == N_KEYS


def entry(i: int, version: int) -> ManifestEntry:
    path = key(i)
    meta = canonical_meta({"caption": f"ü {version}", "v": version}) if version % 3 else ""
    return ManifestEntry(path, hash_bytes(f"{path}@{version}".encode()), (i * 7919 + version) % 100_003, (i + version) % MODALITY_SLOTS, version % 2, meta)


@contextmanager
def fresh_store():
    with tempfile.TemporaryDirectory() as d:
        LocalObjectStore.init_layout(d)
        store = LocalObjectStore(d, fsync=False)
        try:
            yield store
        finally:
            store.close()


def build(store, entries, params=SMALL) -> str:
    with store.writer() as w:
        return ManifestTree(store, params).build(sorted(entries), w)


def apply(store, root: str, changes: dict, params=SMALL) -> str:
    # A fresh ManifestTree each time: no node cache, every node is read back from the store.
    with store.writer() as w:
        return ManifestTree(store, params).apply_changes(root, sorted(changes.items()), w)


def expected_stats(entries) -> list[int]:
    s = [0] * (2 * MODALITY_SLOTS)
    for e in entries:
        s[e.modality] += 1
        s[MODALITY_SLOTS + e.modality] += e.size
    return s


def reachable(tree: ManifestTree, root: str) -> set[str]:
    seen, stack = set(), [root]
    while stack:
        oid = stack.pop()
        seen.add(oid)
        node = tree.node(oid)
        if not node.is_leaf:
            stack.extend(it[1].hex() for it in node.items)
    return seen


ids = st.integers(0, N_KEYS - 1)
versions = st.integers(0, 5)


@st.composite
def key_sets(draw, min_size=0):
    """{key number: version}: a strided range (so sets of hundreds come up as often as small
    ones; hypothesis alone rarely draws large dicts) with a few scattered overrides."""
    lo, hi = sorted((draw(ids), draw(ids)))
    stride = draw(st.integers(1, 4))
    out = {i: (i * stride) % 6 for i in range(lo, hi + 1, stride)}
    for i, v in draw(st.dictionaries(ids, st.none() | versions, max_size=15)).items():
        if v is None:
            out.pop(i, None)
        else:
            out[i] = v
    if len(out) < min_size:
        out[draw(ids)] = 0
    return out


@st.composite
def change_batches(draw):
    """{key number: new version or None (delete, of a present or absent key)}."""
    out = {}
    if draw(st.booleans()):  # a range: a folder added, replaced or deleted at once
        lo = draw(ids)
        hi = min(N_KEYS - 1, lo + draw(st.integers(0, 120)))
        action = draw(st.none() | versions)
        out.update(dict.fromkeys(range(lo, hi + 1, draw(st.integers(1, 3))), action))
    out.update(draw(st.dictionaries(ids, st.none() | versions, min_size=0 if out else 1, max_size=30)))
    return out


initial_sets = key_sets()
batches = st.lists(change_batches(), min_size=1, max_size=4)


# --------------------------------------------------------------------------- properties


@given(initial_sets, batches)
def test_apply_changes_gives_the_root_build_gives(initial, batch_list):
    with fresh_store() as store:
        state = {key(i): entry(i, v) for i, v in initial.items()}
        root = build(store, state.values())
        for batch in batch_list:
            changes = {key(i): (None if v is None else entry(i, v)) for i, v in batch.items()}
            root = apply(store, root, changes)
            for path, e in changes.items():
                if e is None:
                    state.pop(path, None)
                else:
                    state[path] = e
            assert root == build(store, state.values())
        tree = ManifestTree(store, SMALL)
        assert list(tree.iter_entries(root)) == sorted(state.values())
        assert tree.stats(root) == expected_stats(state.values())


@given(initial_sets, st.sets(ids, max_size=80))
def test_get_many_returns_exactly_the_present_keys(initial, queried):
    with fresh_store() as store:
        state = {key(i): entry(i, v) for i, v in initial.items()}
        root = build(store, state.values())
        paths = sorted(key(i) for i in queried)
        got = ManifestTree(store, SMALL).get_many(root, paths)
        assert got == {p: state[p] for p in paths if p in state}


@given(initial_sets, st.sampled_from(["", "data/", "data/0", "img/ü", "a\nb/", "音声/", "z z/", "1", "data/7/", "nope"]))
def test_prefix_iteration(initial, prefix):
    with fresh_store() as store:
        state = {key(i): entry(i, v) for i, v in initial.items()}
        root = build(store, state.values())
        got = list(ManifestTree(store, SMALL).iter_entries(root, prefix))
        assert got == sorted(e for e in state.values() if e.path.startswith(prefix))


@given(initial_sets, st.integers(0, 700), st.integers(0, 300))
def test_entries_at_is_a_slice_of_the_sorted_entries(initial, offset, limit):
    with fresh_store() as store:
        state = {key(i): entry(i, v) for i, v in initial.items()}
        root = build(store, state.values())
        got = ManifestTree(store, SMALL).entries_at(root, offset, limit)
        assert got == sorted(state.values())[offset : offset + limit]


@given(key_sets(min_size=1), st.integers(1, 4))
def test_deleting_everything_gives_the_empty_tree(initial, n_batches):
    with fresh_store() as store:
        root = build(store, (entry(i, v) for i, v in initial.items()))
        keys = sorted(key(i) for i in initial)
        for b in range(n_batches):
            root = apply(store, root, {k: None for k in keys[b::n_batches]})
        with store.writer() as w:
            empty = ManifestTree(store, SMALL).empty_root(w)
        assert root == empty == build(store, [])
        tree = ManifestTree(store, SMALL)
        assert list(tree.iter_entries(root)) == []
        assert tree.stats(root) == [0] * (2 * MODALITY_SLOTS)


@given(st.data(), key_sets(min_size=1))
def test_insertion_order_does_not_change_the_root(data, content):
    entries = [entry(i, v) for i, v in content.items()]
    order = data.draw(st.permutations(entries))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=5)))
    with fresh_store() as store:
        root = build(store, [])
        for lo, hi in zip([0, *cuts], [*cuts, len(order)]):
            if lo < hi:
                root = apply(store, root, {e.path: e for e in order[lo:hi]})
        assert root == build(store, entries)


@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), min_size=1, max_size=12),
        st.integers(0, 2**48),  # per-item sizes; tree stats sum them in u64
        max_size=60,
    )
)
def test_arbitrary_unicode_keys_round_trip(content):
    entries = sorted(ManifestEntry(p, hash_bytes(p.encode()), size, TEXT) for p, size in content.items())
    with fresh_store() as store:
        root = build(store, entries)
        tree = ManifestTree(store, SMALL)
        assert list(tree.iter_entries(root)) == entries
        assert tree.get_many(root, [e.path for e in entries]) == {e.path: e for e in entries}


# --------------------------------------------------------------------------- shape and cost


def test_a_few_hundred_entries_make_a_tree_of_at_least_three_levels():
    with fresh_store() as store:
        root = build(store, (entry(i, 1) for i in range(300)))
        tree = ManifestTree(store, SMALL)
        assert tree.height(root) >= 2
        levels: dict[int, list[Node]] = {}

        def visit(oid):  # in key order, so each level's nodes come out left to right
            node = tree.node(oid)
            levels.setdefault(node.level, []).append(node)
            if not node.is_leaf:
                for it in node.items:
                    visit(it[1].hex())

        visit(root)
        for level, nodes in levels.items():
            target, cap = (SMALL.leaf_target, SMALL.leaf_max) if level == 0 else (SMALL.node_target, SMALL.node_max)
            for n in nodes:
                assert 1 <= len(n.items) <= cap
            # a node ends exactly where its last key is a boundary or the cap is reached
            for n in nodes[:-1]:
                assert len(n.items) == cap or _is_boundary(n.items[-1][0], level, target)
                assert not any(_is_boundary(it[0], level, target) for it in n.items[:-1])


def test_nodes_never_exceed_the_cap_when_no_key_is_a_boundary():
    # With a target of 2**31 virtually no key is a boundary, so only the caps cut nodes.
    params = TreeParams(leaf_target=2**31, leaf_max=5, node_target=2**31, node_max=3)
    with fresh_store() as store:
        entries = [entry(i, 0) for i in range(100)]
        root = build(store, entries, params)
        tree = ManifestTree(store, params)
        sizes = [len(tree.node(o).items) for o in reachable(tree, root) if tree.node(o).is_leaf]
        assert max(sizes) == 5 and sum(sizes) == 100
        # an insert near the front shifts every cap-cut boundary after it, and still matches
        changed = apply(store, root, {key(1000): entry(1000, 0)}, params)
        assert changed == build(store, [*entries, entry(1000, 0)], params)


@pytest.fixture(scope="module")
def big_tree():
    """20k entries with the default parameters, in a store shared by the cost tests."""
    with fresh_store() as store:
        entries = {}
        for i in range(20_000):
            path = f"shard-{i % 37:02d}/item-{i:06d}.{('txt', 'png', 'wav')[i % 3]}"
            entries[path] = ManifestEntry(path, hash_bytes(path.encode()), i, (TEXT, IMAGE, AUDIO)[i % 3])
        with store.writer() as w:
            root = ManifestTree(store).build(sorted(entries.values()), w)
            from_scratch = w.written
        yield store, entries, root, from_scratch


def _apply_counting(store, root, changes):
    with store.writer() as w:
        new_root = ManifestTree(store).apply_changes(root, sorted(changes.items()), w)
        return new_root, w.written


def test_random_one_percent_change_rewrites_only_the_touched_paths(big_tree):
    store, entries, root, from_scratch = big_tree
    tree = ManifestTree(store)
    assert tree.height(root) >= 1 and from_scratch == len(reachable(tree, root))
    rng = random.Random(7)
    paths = sorted(entries)
    changes = {}
    for p in rng.sample(paths, 200):
        e = entries[p]
        changes[p] = None if rng.random() < 0.3 else e._replace(oid=hash_bytes(b"v2" + p.encode()), size=e.size + 1)
    for j in range(50):  # and some inserts
        p = f"shard-{j:02d}/new-{j}.txt"
        changes[p] = ManifestEntry(p, hash_bytes(p.encode()), 1, TEXT)
    new_root, written = _apply_counting(store, root, changes)
    state = dict(entries)
    for p, e in changes.items():
        if e is None:
            del state[p]
        else:
            state[p] = e
    k = len(changes)
    new_nodes = reachable(tree, new_root) - reachable(tree, root)
    # Every node written belongs to the new tree (no wasted writes), and the cost is O(k log n).
    assert written == len(new_nodes)
    assert written <= k * (tree.height(new_root) + 1)
    assert list(tree.iter_entries(new_root)) == sorted(state.values())
    with fresh_store() as other:
        assert new_root == build(other, state.values(), DEFAULT_PARAMS)


def test_clustered_one_percent_change_writes_a_small_fraction_of_the_tree(big_tree):
    store, entries, root, from_scratch = big_tree
    paths = sorted(entries)
    changes = {p: entries[p]._replace(size=entries[p].size + 10**6) for p in paths[5000:5200]}
    new_root, written = _apply_counting(store, root, changes)
    assert new_root != root
    assert 0 < written < from_scratch // 10
    got = ManifestTree(store).get_many(new_root, paths[4990:5210])
    assert all(got[p] == changes.get(p, entries[p]) for p in paths[4990:5210])


def test_no_change_keeps_the_root(big_tree):
    store, entries, root, _ = big_tree
    same = next(iter(entries.values()))
    assert _apply_counting(store, root, {}) == (root, 0)
    assert _apply_counting(store, root, {same.path: same}) == (root, 0)


# --------------------------------------------------------------------------- encoding


def _hex(s: str) -> bytes:
    return bytes.fromhex("".join(s.split()))


ID_A = bytes(range(32))
ID_B = bytes(range(0xE0, 0x100))

LEAF = Node(0, [("a.txt", ID_A, 5, TEXT, 0, ""), ("img/ü.png", ID_B, 1234, IMAGE, 1, '{"w":1}')])
LEAF_BYTES = b"".join(
    [
        b"MMVN",  # magic
        _hex("0100 01 00 02000000"),  # version 1, kind leaf, level 0, 2 items
        _hex("10000000") + b"a.txt\0img/\xc3\xbc.png",  # key bytes (u32 length), NUL-separated UTF-8
        ID_A + ID_B,  # raw 32-byte ids
        _hex("0500000000000000 d204000000000000"),  # sizes, u64 little-endian
        _hex("01 02"),  # modality codes
        _hex("00 01"),  # flags
        _hex("08000000") + b'\n{"w":1}',  # metas (u32 length), newline-separated
    ]
)
LEAF_ID = "3d011f8cc6ab237fa1b9e43cfc157f567a48d86fd4eb72920c2cb6583094384b"

INTERNAL = Node(1, [("a.txt", ID_A, (0, 3, 1, 0, 0, 0, 30, 7, 0, 0)), ("m", ID_B, (1, 0, 0, 0, 2, 9, 0, 0, 0, 2**40))])
INTERNAL_BYTES = b"".join(
    [
        b"MMVN",
        _hex("0100 02 01 02000000"),  # version 1, kind internal, level 1, 2 items
        _hex("07000000") + b"a.txt\0m",  # first keys of the children
        ID_A + ID_B,  # child ids
        _hex("05"),  # modality slots per stats row
        _hex(
            "0000000000000000 0300000000000000 0100000000000000 0000000000000000 0000000000000000"  # counts
            "0000000000000000 1e00000000000000 0700000000000000 0000000000000000 0000000000000000"  # bytes
            "0100000000000000 0000000000000000 0000000000000000 0000000000000000 0200000000000000"
            "0900000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000010000"
        ),
    ]
)
INTERNAL_ID = "2a24c9a95476a3bfe7eb7518cee77f5620b51e54c2b91057fc282be3e3fd8ee7"


@pytest.mark.parametrize("node, expected, oid", [(LEAF, LEAF_BYTES, LEAF_ID), (INTERNAL, INTERNAL_BYTES, INTERNAL_ID)], ids=["leaf", "internal"])
def test_node_golden_bytes(node, expected, oid):
    data = encode_node(node)
    assert data == expected
    assert blake3(data).hexdigest() == oid
    back = decode_node(data, oid)
    assert (back.level, back.items) == (node.level, node.items)


def test_empty_leaf_golden_bytes():
    data = encode_node(Node(0, []))
    assert data == b"MMVN" + _hex("0100 01 00 00000000 00000000 00000000")
    assert decode_node(data).items == []


@pytest.mark.parametrize("cut", [3, 12, 20, len(LEAF_BYTES) - 1])
def test_truncated_node_is_corrupt(cut):
    with pytest.raises(CorruptError):
        decode_node(LEAF_BYTES[:cut], "x")


def test_node_with_trailing_bytes_is_corrupt_and_a_newer_version_refused():
    with pytest.raises(CorruptError):
        decode_node(LEAF_BYTES + b"\0", "x")
    with pytest.raises(NewerFormatError, match="newer"):
        decode_node(LEAF_BYTES[:4] + _hex("0200") + LEAF_BYTES[6:], "x")
