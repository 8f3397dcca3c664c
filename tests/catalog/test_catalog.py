"""The catalog without Ray: ungated commits, O(k) writes, shared rows across branches, scoping,
the scope cache, vector search over planted vectors (exact and through an ANN index), a
revision that predates the catalog, fsck and rebuild, and the pinned identity hashes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import mmvc.catalog as catalog
from mmvc.errors import BadInputError, GateError
from mmvc.repo import Repo


def write(root, files: dict) -> None:
    for rel, text in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)


@pytest.fixture
def ungated(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    write(tmp_path, {f"t/{i}.txt": f"text number {i}\n" for i in range(4)})
    repo.add(["."], cwd=repo.root)
    repo.commit("four texts")
    return repo


def test_identity_hashes_are_pinned():
    from mmvc.catalog.rowbuild import row_id
    from mmvc.catalog.schema import NAMES, arrow_schema
    from mmvc.catalog.scope import item_id

    iid = item_id("ab" * 32, '{"license":"cc0-1.0"}')
    assert iid == "5c5228605bccbde81fa0e755f54d747f"
    assert row_id(iid, "c" * 64) == "446d418618572276cb22284776600fab"
    assert row_id(iid, None) != row_id(iid, "c" * 64)
    s = arrow_schema()
    assert s.metadata[b"mmvc.catalog.format"] == b"1"
    assert NAMES[:3] == ("row_id", "item_id", "oid") and NAMES[-2:] == ("text_vector", "clip_vector")
    assert str(s.field("text_vector").type) == "fixed_size_list<item: float>[384]"
    assert str(s.field("clip_vector").type) == "fixed_size_list<item: float>[512]"


def test_ungated_commit_writes_metadata_rows_and_search_refuses(ungated, tmp_path):
    from mmvc.ops.query import query
    from mmvc.ops.search import search

    repo = ungated
    with pytest.raises(GateError, match="ungated"):
        catalog.rows(repo)
    t = catalog.rows(repo, allow_ungated=True)
    assert t.column("key").to_pylist() == [f"t/{i}.txt" for i in range(4)]
    assert set(t.column("status").to_pylist()) == {"ungated"}
    assert t.column("text_vector").null_count == 4
    assert query(repo, where="size > 14").num_rows == 0 and query(repo, where="size = 14").num_rows == 4 and query(repo).num_rows == 4
    with pytest.raises(GateError):
        search(repo, "text")
    with pytest.raises(BadInputError, match="no text_vector"):
        search(repo, "text", modality="text", allow_ungated=True)


def test_writes_are_o_of_k_and_branches_share_rows(ungated, tmp_path):
    from mmvc.catalog.table import open_dataset

    repo = ungated
    write(tmp_path, {"t/new.txt": "a new one\n"})
    repo.add(["t/new.txt"], cwd=repo.root)
    r = repo.commit("one more")
    assert r.catalog_rows == 1
    repo.mv("t/0.txt", "t/zero.txt", cwd=repo.root)
    assert repo.commit("rename").catalog_rows == 0  # same content and metadata: the row is shared
    repo.branch("side")
    repo.switch("side")
    write(tmp_path, {"t/side.txt": "only on the side branch\n"})
    repo.add(["t/side.txt"], cwd=repo.root)
    assert repo.commit("side item").catalog_rows == 1
    assert open_dataset(repo).count_rows() == 6
    side = catalog.rows(repo, "side", columns=["key"], allow_ungated=True).column("key").to_pylist()
    main = catalog.rows(repo, "main", columns=["key"], allow_ungated=True).column("key").to_pylist()
    assert "t/side.txt" in side and "t/side.txt" not in main
    assert "t/zero.txt" in main and "t/0.txt" not in main
    old = catalog.rows(repo, "main~2", columns=["key"], allow_ungated=True).column("key").to_pylist()
    assert old == [f"t/{i}.txt" for i in range(4)]


def test_scope_cache_file_is_rebuilt_when_deleted_or_damaged(ungated):
    from mmvc.catalog import scope as scope_mod

    repo = ungated
    tree = repo.head_tree()
    path = repo.layout.scope(tree)
    first = scope_mod.scope(repo, tree)
    assert os.path.isfile(path)
    for damage in ("delete", "truncate"):
        scope_mod._MEMO.clear()
        if damage == "delete":
            os.remove(path)
        else:
            with open(path, "r+b") as f:
                f.truncate(10)
        assert scope_mod.scope(repo, tree).equals(first)
    assert first.column("key").to_pylist() == sorted(first.column("key").to_pylist())


def test_scope_of_a_new_commit_is_derived_from_its_parents_cached_scope(ungated, tmp_path):
    from mmvc.catalog import scope as scope_mod

    repo = ungated
    parent_tree = repo.head_tree()
    scope_mod.scope(repo, parent_tree)
    write(tmp_path, {"t/1.txt": "changed\n", "t/9.txt": "added\n"})
    repo.add(["t"], cwd=repo.root)
    repo.rm(["t/2.txt"], cwd=repo.root)
    repo.commit("edit")
    tree = repo.head_tree()
    derived = scope_mod.scope(repo, tree, (parent_tree,))
    scope_mod._MEMO.clear()
    os.remove(repo.layout.scope(tree))
    computed = scope_mod.scope(repo, tree)
    assert derived.to_pylist() == computed.to_pylist()
    assert computed.column("key").to_pylist() == ["t/0.txt", "t/1.txt", "t/3.txt", "t/9.txt"]
    assert catalog.rows(repo, allow_ungated=True, columns=["key"]).column("key").to_pylist() == ["t/0.txt", "t/1.txt", "t/3.txt", "t/9.txt"]


def test_bad_where_and_columns(ungated):
    repo = ungated
    with pytest.raises(BadInputError) as e:
        catalog.rows(repo, where="colour = 'red'", allow_ungated=True)
    assert "colour" in e.value.message and "license" in e.value.hint and "duration_s" in e.value.hint
    with pytest.raises(BadInputError, match="does not parse"):
        catalog.rows(repo, where="size = = 1", allow_ungated=True)
    with pytest.raises(BadInputError, match="unknown column"):
        catalog.rows(repo, columns="key,colour", allow_ungated=True)


def test_revision_predating_catalog_fsck_and_rebuild(ungated):
    from mmvc.catalog.table import catalog_dir
    from mmvc.ops.catalog import rebuild, status

    repo = ungated
    before = catalog.rows(repo, allow_ungated=True, columns=["key", "row_id", "meta"]).to_pylist()
    shutil.rmtree(catalog_dir(repo))  # as if the version had been committed before the catalog existed
    with pytest.raises(BadInputError, match="predates the catalog") as e:
        catalog.rows(repo, allow_ungated=True)
    assert "mmvc catalog rebuild" in e.value.hint
    f = repo.fsck(quick=True)
    warn = [x for x in f.warnings if x.kind == "catalog"]
    assert warn and "4 of 4" in warn[0].message and f.ok
    assert status(repo).head_missing == 4
    r = rebuild(repo)
    assert r.commits == 1 and r.rows == 4
    assert catalog.rows(repo, allow_ungated=True, columns=["key", "row_id", "meta"]).to_pylist() == before
    assert not [x for x in repo.fsck(quick=True).warnings if x.kind == "catalog"]


def test_corrupt_catalog_is_an_fsck_error_and_blocks_reads_with_the_fix(ungated):
    from mmvc.catalog.table import dataset_path
    from mmvc.errors import CorruptError

    repo = ungated
    versions = os.path.join(dataset_path(repo), "_versions")
    for name in os.listdir(versions):
        with open(os.path.join(versions, name), "wb") as f:
            f.write(b"garbage")
    f = repo.fsck(quick=True)
    assert [x for x in f.errors if x.kind == "catalog"] and not f.ok
    with pytest.raises(CorruptError) as e:
        catalog.rows(repo, allow_ungated=True)
    assert "mmvc catalog rebuild" in e.value.hint
    from mmvc.ops.catalog import rebuild

    assert rebuild(repo).rows == 4
    assert catalog.rows(repo, allow_ungated=True).num_rows == 4


# -- vector search over planted vectors, through a real version and a real Lance table


def planted_repo(tmp_path, n: int, in_version: int, seed: int = 0):
    """A gated-looking version of ``in_version`` text items whose catalog holds ``n`` rows (the
    rest belong to no version of this branch), with planted unit vectors."""
    import pyarrow as pa

    from mmvc.catalog.rowbuild import row_id
    from mmvc.catalog.schema import NAMES, arrow_schema
    from mmvc.catalog.scope import item_id
    from mmvc.catalog.table import insert_rows
    from mmvc.core.manifest import ManifestEntry
    from mmvc.core.modality import TEXT
    from mmvc.core.objects import Commit, Gate, Signature, canonical_meta

    repo = Repo.init(str(tmp_path))
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    entries = [ManifestEntry(f"text/{i:05d}.txt", f"{i:064x}", 10 + i, TEXT, 0,
                             canonical_meta({"license": "cc0-1.0" if i % 2 else "cc-by-4.0"})) for i in range(n)]
    schema = arrow_schema()
    iids = [item_id(e.oid, e.meta) for e in entries]
    cols = {"row_id": [row_id(x, "cfg") for x in iids], "item_id": iids, "oid": [e.oid for e in entries], "config": ["cfg"] * n,
            "first_key": [e.path for e in entries], "modality": ["text"] * n, "size": [e.size for e in entries],
            "license": ["cc0-1.0" if i % 2 else "cc-by-4.0" for i in range(n)], "meta": [e.meta for e in entries],
            "status": ["passed"] * n, "written": [1] * n, "text_model": ["planted"] * n}
    arrays = [pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), 384) if c == "text_vector"
              else pa.array(cols[c], schema.field(c).type) if c in cols else pa.nulls(n, schema.field(c).type) for c in NAMES]
    insert_rows(repo, pa.Table.from_arrays(arrays, schema=schema))
    chosen = sorted(rng.choice(n, in_version, replace=False).tolist())
    sig = Signature("t", "t@example.com", 1700000000, 0)
    with repo.store.writer(durable=True) as w:
        tree = repo.tree.build([entries[i] for i in chosen], w)
        oid = w.put_bytes(Commit(tree, (), sig, sig, "planted\n", Gate("gated", config="cfg")).encode())
    repo.refs.update("refs/heads/main", oid, None, "planted", sig.who)
    return repo, vecs, chosen, tree


def exact_top(vecs, ids, q, k):
    s = vecs[ids] @ q
    return [ids[i] for i in np.argsort(-s, kind="stable")[:k]]


def test_search_is_exact_below_threshold_scoped_and_prefiltered(tmp_path):
    from mmvc.catalog.scope import lookup
    from mmvc.catalog.table import open_dataset
    from mmvc.catalog.vector import nearest

    repo, vecs, chosen, tree = planted_repo(tmp_path, 3000, 40)
    ds = open_dataset(repo)
    lk = lookup(repo, tree)
    q = vecs[5] + 0.1 * vecs[7]
    q /= np.linalg.norm(q)
    # only 40 of 3000 rows are in the version: the top 10 are taken over those 40
    hits = nearest(ds, "text_vector", q, 10, None, lk, ["license"], tree=tree)
    assert [h.key for h in hits] == [f"text/{i:05d}.txt" for i in exact_top(vecs, np.array(chosen), q, 10)]
    # a prefilter that leaves 3 in-version items gives exactly those 3, however far
    allowed = [i for i in chosen if i % 2 == 0][:3]
    where = "size IN (" + ", ".join(str(10 + i) for i in allowed) + ")"
    hits = nearest(ds, "text_vector", q, 10, where, lk, ["license"], tree=tree)
    assert sorted(h.key for h in hits) == sorted(f"text/{i:05d}.txt" for i in allowed)
    hits = nearest(ds, "text_vector", q, 5, "license = 'cc0-1.0'", lk, ["license"], tree=tree)
    assert len(hits) == 5 and {h.row["license"] for h in hits} == {"cc0-1.0"}
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_ann_index_past_threshold_keeps_recall(tmp_path):
    from mmvc.catalog.scope import lookup
    from mmvc.catalog.table import maintain_indexes, open_dataset, vector_indexes
    from mmvc.catalog.vector import nearest
    from mmvc.core.config import set_value

    repo, vecs, chosen, tree = planted_repo(tmp_path, 3000, 3000)
    assert vector_indexes(open_dataset(repo)) == {}
    set_value(repo, "catalog", "index_threshold", 1000)
    repo.__dict__.pop("config", None)
    assert maintain_indexes(repo) == ["text"]
    ds = open_dataset(repo)
    assert vector_indexes(ds) == {"text_vector": 3000}
    lk = lookup(repo, tree)
    rng = np.random.default_rng(1)
    recall = []
    for i in rng.choice(3000, 10, replace=False):
        q = vecs[i] + 0.02 * rng.standard_normal(384).astype(np.float32)
        q /= np.linalg.norm(q)
        got = {h.key for h in nearest(ds, "text_vector", q, 10, "license = 'cc-by-4.0'", lk, [], tree=tree)}
        want = {f"text/{j:05d}.txt" for j in exact_top(vecs, np.arange(0, 3000, 2), q, 10)}
        recall.append(len(got & want) / 10)
        assert f"text/{i:05d}.txt" in got or i % 2  # the planted neighbour itself, when the filter admits it
    assert np.mean(recall) >= 0.9
