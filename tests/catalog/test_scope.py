"""Version scopes derived from a cached ancestor by manifest diff are exactly the full walk."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmvc.catalog import scope as scope_mod
from mmvc.core.manifest import ManifestEntry
from mmvc.core.modality import TEXT
from mmvc.core.objects import Commit, Gate, Signature, canonical_meta
from mmvc.repo import Repo

SIG = Signature("t", "t@example.com", 1700000000, 0)
# keys that sort differently as str and as padded bytes would if the comparison were wrong
NAMES = ["a", "a/b", "a-b", "a.b", "ab", "a/b/c", "b", "z", "é", "é/x", "\u4e2d", "A", "0", "a b", "~"]


def entry(key: str, v: int) -> ManifestEntry:
    return ManifestEntry(key, f"{v:064x}", v, TEXT, 0, canonical_meta({"v": v % 3}))


def commit(repo, entries: dict, parents: tuple) -> tuple[str, str]:
    with repo.store.writer(durable=True) as w:
        tree = repo.tree.build(sorted(entries.values()), w)
        oid = w.put_bytes(Commit(tree, parents, SIG, SIG, "x\n", Gate("ungated")).encode())
    return oid, tree


def fresh(repo, tree: str):
    scope_mod._MEMO.clear()
    path = repo.layout.scope(tree)
    if os.path.exists(path):
        os.remove(path)
    return scope_mod.scope(repo, tree)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return Repo.init(str(tmp_path_factory.mktemp("scope")), ungated=True)


keys = st.sampled_from(NAMES + [f"d{i // 7}/f{i:03d}" for i in range(200)])
versions = st.dictionaries(keys, st.integers(0, 5), max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=versions, edits=st.lists(versions, min_size=1, max_size=3), drop=st.lists(keys, max_size=40))
def test_derived_scope_equals_the_full_walk(repo, base, edits, drop):
    """A chain base -> e1 -> e2 ...: the last version's scope derived from base's cached scope
    (through ancestors none of which is cached) is the same table as a walk of its manifest."""
    state = {k: entry(k, v) for k, v in base.items()}
    oid, base_tree = commit(repo, state, ())
    trees = [base_tree]
    for i, ed in enumerate(edits):
        for k in drop[i::len(edits)]:
            state.pop(k, None)
        state.update({k: entry(k, 100 + v) for k, v in ed.items()})
        oid, tree = commit(repo, state, (oid,))
        trees.append(tree)
    walked = fresh(repo, trees[-1])
    for t in trees:
        if t != base_tree and os.path.exists(repo.layout.scope(t)):
            os.remove(repo.layout.scope(t))
    fresh(repo, base_tree)  # cached on disk: the only cached ancestor
    scope_mod._MEMO.clear()
    derived = scope_mod.scope(repo, trees[-1], scope_mod.Ancestors(repo, oid))
    assert derived.equals(walked)
    assert derived.column("key").to_pylist() == sorted(state)


def test_nearest_cached_ancestor_is_used_and_the_walk_is_skipped(repo, monkeypatch):
    """Ten commits on top of a cached one: the tip's scope comes from the diff, never a walk."""
    state = {f"k/{i:04d}": entry(f"k/{i:04d}", i) for i in range(300)}
    oid, base_tree = commit(repo, state, ())
    fresh(repo, base_tree)
    for step in range(10):
        state[f"k/new{step}"] = entry(f"k/new{step}", step)
        state.pop(f"k/{step * 7:04d}")
        oid, tree = commit(repo, state, (oid,))
    scope_mod._MEMO.clear()
    walks = []
    real = scope_mod._compute
    monkeypatch.setattr(scope_mod, "_compute", lambda r, root: walks.append(root) or real(r, root))
    derived = scope_mod.scope(repo, tree, scope_mod.Ancestors(repo, oid))
    assert walks == []
    assert derived.column("key").to_pylist() == sorted(state)


@pytest.mark.parametrize("ids", [
    ["0123456789abcdef0", "0123456789abcdef1", "0123456789abcdef0", "ffffffffffffffff9"],  # one 16-digit prefix, ids past it
    ["xyz", "zz", "xyz", "0123456789abcdef0"],  # not hex: the byte-wise fallback
    [],
])
def test_scope_lookup_finds_every_key_of_an_id_and_nothing_else(ids):
    import pyarrow as pa

    keys = [f"k{i}" for i in range(len(ids))]
    lk = scope_mod.ScopeLookup(pa.table({"key": pa.array(keys, pa.string()), "item_id": pa.array(ids, pa.string())}))
    for iid in set(ids) | {"q", "0123456789abcdef2", "ffffffffffffffff"}:
        assert sorted(lk.keys_of(iid)) == sorted(k for k, i in zip(keys, ids) if i == iid)


@pytest.mark.parametrize("ids", [
    [f"{i * 7919:032x}" for i in range(50)] + ["0123456789abcdef" + "0" * 16, "0123456789abcdef" + "1" * 16],
    ["xyz", "zz", "0123456789abcdef0"],
    [],
])
def test_scope_lookup_contains_is_exact_membership(ids):
    import pyarrow as pa

    lk = scope_mod.ScopeLookup(pa.table({"key": pa.array([f"k{i}" for i in range(len(ids))], pa.string()),
                                         "item_id": pa.array(ids, pa.string())}))
    probe = ids[::2] + ["0123456789abcdef" + "2" * 16, f"{3 * 7919:032x}", "q", "0" * 32]
    assert lk.contains(pa.array(probe, pa.string())).tolist() == [p in ids for p in probe]
