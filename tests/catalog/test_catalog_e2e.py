"""add → process → commit → search / query / lineage / datasheet / rebuild, on one real repository
(Ray local mode, tiny seeded models, a real Lance table) shared by the tests of this module."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from mmvc.errors import BadInputError


def test_commit_writes_rows_for_admitted_items_only(committed):
    import mmvc.catalog as catalog

    repo, first, second = committed
    assert first.catalog_rows == 5  # c.png: license denied, z-copy.png: duplicate, empty.txt: rejected
    t = catalog.rows(repo)
    keys = t.column("key").to_pylist()
    assert keys == sorted(keys)
    assert set(keys) == {"audio/tone.wav", "images/a.png", "images/b.png", "text/db.txt", "text/more.txt", "text/story.txt"}
    assert second.catalog_rows == 1  # O(k): only the new item
    by_key = {r["key"]: r for r in t.to_pylist()}
    a = by_key["images/a.png"]
    assert a["modality"] == "image" and a["license"] == "cc-by-4.0" and a["source"] == "coco"
    assert (a["width"], a["height"]) == (96, 64) and a["mime"] == "PNG"
    assert a["clip_vector"] is not None and len(a["clip_vector"]) == 512 and a["text_vector"] is None
    assert by_key["images/b.png"]["width"] == 128
    story = by_key["text/story.txt"]
    assert story["text_vector"] is not None and len(story["text_vector"]) == 384 and story["clip_vector"] is None
    assert story["chars"] == len(open(os.path.join(repo.root, "text/story.txt")).read())
    tone = by_key["audio/tone.wav"]
    assert tone["sample_rate"] == 16000 and abs(tone["duration_s"] - 1.0) < 1e-3
    assert tone["text_vector"] is not None  # the transcript, in the text family
    assert all(r["status"] == "passed" for r in by_key.values())
    # the version before the second commit is scoped without the new item
    old = catalog.rows(repo, first.oid, columns=["key"])
    assert "text/more.txt" not in old.column("key").to_pylist() and old.num_rows == 5


def test_where_filters_and_bad_where_lists_columns(committed):
    import mmvc.catalog as catalog

    repo, _, _ = committed
    t = catalog.rows(repo, where="modality = 'image' AND width >= 100", columns=["key", "width"])
    assert t.column("key").to_pylist() == ["images/b.png"]
    with pytest.raises(BadInputError) as e:
        catalog.rows(repo, where="nosuch > 3")
    assert "nosuch" in e.value.message and "width" in e.value.hint and "license" in e.value.hint
    with pytest.raises(BadInputError, match="does not parse"):
        catalog.rows(repo, where="width >>> 3")
    with pytest.raises(BadInputError, match="unknown column"):
        catalog.rows(repo, columns=["key", "nope"])


def test_search_text_family_prefilter_gives_exactly_k(committed):
    from mmvc.ops.search import search

    repo, _, _ = committed
    r = search(repo, "databases and query planners", modality="text", k=2)
    assert [f.family for f in r.families] == ["text"]
    hits = r.families[0].hits
    assert len(hits) == 2 and all(h.modality == "text" for h in hits)
    assert hits[0].score >= hits[1].score
    # the prefilter leaves exactly the items that match, and k of them when k exist
    r = search(repo, "anything", k=3, where="license = 'cc-by-4.0' AND modality = 'text'")
    fams = {f.family: f for f in r.families}
    assert sorted(h.key for h in fams["text"].hits) == ["text/more.txt", "text/story.txt"]
    assert fams["clip"].hits == []  # the filter matches no image: the family answers empty, never another family's items
    # a text identical to an item's text finds that item first (same model, same vector)
    story = open(os.path.join(repo.root, "text/story.txt")).read()
    r = search(repo, story, modality="text", k=1)
    assert r.families[0].hits[0].key == "text/story.txt" and r.families[0].hits[0].score > 0.999


def test_search_clip_by_text_and_by_image(committed, tmp_path):
    from mmvc.ops.search import search

    repo, _, _ = committed
    r = search(repo, "a red square", modality="image", k=5)
    assert [f.family for f in r.families] == ["clip"]
    assert {h.key for h in r.families[0].hits} == {"images/a.png", "images/b.png"}
    q = tmp_path / "q.png"
    q.write_bytes(open(os.path.join(repo.root, "images/b.png"), "rb").read())
    r = search(repo, image=str(q), k=1)
    assert r.families[0].hits[0].key == "images/b.png" and r.families[0].hits[0].score > 0.999
    # both families for a plain text query, never merged
    r = search(repo, "sunset", k=10)
    assert {f.family: {h.modality for h in f.hits} for f in r.families} == {"text": {"text", "audio"}, "clip": {"image"}}


def test_search_scopes_to_old_revision(committed):
    from mmvc.ops.search import search

    repo, first, _ = committed
    r = search(repo, "birds in the garden", modality="text", k=10, rev=first.oid)
    assert "text/more.txt" not in {h.key for h in r.families[0].hits}
    r = search(repo, "birds in the garden", modality="text", k=10)
    assert "text/more.txt" in {h.key for h in r.families[0].hits}


def test_search_bad_input(committed, tmp_path):
    from mmvc.ops.search import search

    repo, _, _ = committed
    with pytest.raises(BadInputError, match="exactly one"):
        search(repo)
    with pytest.raises(BadInputError, match="does not parse"):
        search(repo, "x", where="width >>> 1")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(BadInputError, match="cannot decode"):
        search(repo, image=str(bad))
    with pytest.raises(BadInputError, match="--image searches image and video"):
        search(repo, image=str(bad), modality="text")


def test_query_lineage_and_license_policy(committed):
    from mmvc.ops.lineage import lineage
    from mmvc.ops.query import query
    from mmvc.ops.report import report

    repo, first, _ = committed
    q = query(repo, where="modality = 'audio' AND duration_s > 0.5")
    assert q.table.column("key").to_pylist() == ["audio/tone.wav"]
    lin = lineage(repo, f"images/a.png@{first.oid[:12]}")
    assert lin.key == "images/a.png" and lin.commit == first.oid
    assert lin.provenance["uri"] == "s3://bucket/coco/a.png" and lin.license == "cc-by-4.0"
    assert lin.process["clip_model"] and lin.process["text_model"] is None
    assert lin.process["config"] == repo.read_commit(first.oid).gate.config
    assert lin.license_policy == {"allow": [], "deny": ["proprietary"], "verdict": "allowed"}
    assert lin.introduced_by == first.oid
    # the proprietary image was held back at the gate, with the policy as its reason
    rows = {r.path: r for r in report(repo, rev=first.oid).rows}
    assert rows["images/c.png"].reason == "license_not_allowed"
    with pytest.raises(BadInputError, match="no item"):
        lineage(repo, "images/c.png")


def test_datasheet_markdown_and_plots(committed, tmp_path):
    from mmvc.ops.datasheet import datasheet

    repo, first, second = committed
    out = str(tmp_path / "ds")
    r = datasheet(repo, "HEAD", out)
    md = open(r.markdown).read()
    assert "# Datasheet: HEAD" in md and "| image | 2 |" in md
    assert "license_not_allowed" in md and "Parent `" in md and "+1 added" in md
    names = {os.path.basename(p) for p in r.plots}
    assert {"items_by_modality.png", "licenses.png", "sources.png", "text_length.png", "resolution.png", "rejections.png"} <= names
    for p in r.plots:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # the second run judged the new item and the three still held back since the first
    assert r.summary["quality"]["processed"] == 4
    assert r.summary["quality"]["duplicates_per_tier"] == {"exact": {"items": 1, "rate": 0.25}}
    first_sheet = datasheet(repo, first.oid, str(tmp_path / "ds1"))
    assert first_sheet.summary["parent_diff"] == {"parent": None} and first_sheet.summary["items"] == 5


def test_plain_lance_lancedb_and_duckdb_read_the_catalog(committed):
    import lance
    import lancedb

    duckdb = pytest.importorskip("duckdb")
    from mmvc.catalog.table import catalog_dir, dataset_path

    repo, _, _ = committed
    ds = lance.dataset(dataset_path(repo))
    assert ds.count_rows() == 6
    db = lancedb.connect(catalog_dir(repo))
    tbl = db.open_table("items")
    vec = ds.to_table(columns=["text_vector"], filter="first_key = 'text/db.txt'").column("text_vector")[0].as_py()
    top = tbl.search(np.asarray(vec, dtype=np.float32), vector_column_name="text_vector").metric("cosine").limit(1).to_list()
    assert top[0]["first_key"] == "text/db.txt"
    arrow = ds.to_table(columns=["modality", "size"])
    con = duckdb.connect()
    con.register("items", arrow)
    got = dict(con.execute("select modality, count(*) from items group by modality order by modality").fetchall())
    assert got == {"audio": 1, "image": 2, "text": 3}


def test_python_api(committed, tmp_path):
    repo, first, _ = committed
    view = repo.catalog(rev=first.oid)
    assert len(view) == 5
    df = view.filter("modality = 'text'").select(["key", "license"]).to_pandas()
    assert list(df["key"]) == ["text/db.txt", "text/story.txt"]
    ds = view.to_lance(str(tmp_path / "v1.lance"))
    assert ds.count_rows() == 5 and "key" in ds.schema.names


def test_deleted_catalog_fsck_reports_and_rebuild_restores(committed, tmp_path):
    import mmvc.catalog as catalog
    from mmvc.catalog.table import catalog_dir

    repo, first, _ = committed
    before = catalog.rows(repo, columns=["key", "row_id", "text_vector", "clip_vector", "width"])
    backup = str(tmp_path / "catalog-backup")
    shutil.copytree(catalog_dir(repo), backup)
    try:
        # corrupt: the table's data files are gone
        data = os.path.join(catalog_dir(repo), "items.lance", "data")
        shutil.rmtree(data)
        f = repo.fsck(quick=True)
        assert any(x.kind == "catalog" for x in f.errors + f.warnings)
        with pytest.raises(Exception):  # noqa: B017 (lance's own error for missing data files)
            catalog.rows(repo)
        # deleted entirely: queries name the fix
        shutil.rmtree(catalog_dir(repo))
        with pytest.raises(BadInputError, match="no catalog") as e:
            catalog.rows(repo)
        assert "mmvc catalog rebuild" in e.value.hint
        from mmvc.ops.catalog import rebuild, status

        r = rebuild(repo)
        assert r.rows == 6 and r.vectors == {"text": 4, "clip": 2} and r.without_vectors == 0
        after = catalog.rows(repo, columns=["key", "row_id", "text_vector", "clip_vector", "width"])
        assert after.to_pylist() == before.to_pylist()
        assert catalog.rows(repo, first.oid, columns=["key"]).num_rows == 5
        st = status(repo)
        assert st.rows == 6 and st.head_missing == 0 and st.head_items == 6
        assert not any(x.kind == "catalog" for x in repo.fsck(quick=True).errors)
    finally:
        shutil.rmtree(catalog_dir(repo), ignore_errors=True)
        shutil.copytree(backup, catalog_dir(repo))


def test_a_processed_repository_holds_only_described_files(committed):
    """The gated half of the layout workflow (tests/core/test_layout.py): process runs and
    reports, the feature cache and a gated catalog leave no file mmvc.core.layout does not describe."""
    repo, first, second = committed
    files = repo.layout.files()
    assert not [rel for rel, e in files.items() if e is None]
    assert {"feature_cache", "catalog_table", "scope", "objects", "index"} <= {e.name for e in files.values()}
    caches = {rel.split("/")[2] for rel, e in files.items() if e.name == "feature_cache"}
    assert caches == {"prep", "embed_text", "embed_clip"}
    report = repo.read_commit(second.oid).gate.report
    assert repo.store.get(report).startswith(b"mmvc process-report 2\n")
    runs = {e.proc_id for e in repo.load_index().iter_entries() if e.proc_id}
    assert runs and all(repo.store.get(r).startswith(b"mmvc process-run 2\n") for r in runs)
    assert repo.fsck(quick=True).ok
