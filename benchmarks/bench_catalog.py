#!/usr/bin/env python3
"""The catalog at scale: filtered vector search, commit-time writes, and revision scoping.

One run builds a repository whose version ``old`` holds N items (default 1,000,000) of 384-d
text vectors, and ``main`` = ``old`` + K new items (default 10,000) written the way a commit
writes them. Nothing of the setup is timed. Then, side by side on the same vectors:

* **search**: filtered top-10 (``license = 'cc-by-4.0' AND chars >= 200``, about 40 % of rows)
  with mmvc's catalog (the scoped, in-process ``nearest`` over Lance's IVF_SQ index; the filter
  and the version become one row allow-list, built once per filter and timed separately),
  LanceDB on the same table and index, and FAISS ``IndexFlatIP`` brute force with the same
  filter as an ID selector: p50 / p95 latency over --queries queries, recall@10 against exact
  brute force (numpy).
* **write**: catalog rows for K new items onto the N-row catalog (rows built from the feature
  cache as a commit does, ``merge_insert``, index upkeep), median of --repeats fresh copies.
* **scope**: the same ``mmvc.catalog.rows`` query (``modality = 'text' AND chars >= 900``) on
  ``old`` and on ``main``, first with cold scope caches, then warm; the ratio old / HEAD.

Vectors are clustered (random centres plus noise, then normalised), as embeddings are; uniform
random vectors in 384-d are the worst case of every ANN index and no real corpus.

    python benchmarks/bench_catalog.py                         # N = 1,000,000, K = 10,000
    python benchmarks/bench_catalog.py --rows 200000 --new 10000 --queries 50
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

LICENSES = ("cc-by-4.0", "cc0-1.0", "odc-by", "cc-by-sa-4.0", "cc-by-4.0")
FILTER = "license = 'cc-by-4.0' AND chars >= 200"


def clustered(n: int, dim: int, seed: int):
    """About 500 vectors per cluster, so a top-10 lies inside a cluster even after a filter."""
    import numpy as np

    centres = max(20, n // 500)
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        out[s:s + m] = c[rng.integers(0, centres, m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def entries(start: int, n: int):
    from blake3 import blake3

    from mmvc.core.manifest import ManifestEntry
    from mmvc.core.modality import TEXT
    from mmvc.core.objects import canonical_meta

    out = []
    for i in range(start, start + n):
        meta = canonical_meta({"license": LICENSES[i % len(LICENSES)], "source": f"src{i % 7}"})
        out.append(ManifestEntry(f"text/{i // 1000:05d}/{i:08d}.txt", blake3(f"item {i}".encode()).hexdigest(), 100 + i % 1000, TEXT, 0, meta))
    return out


def catalog_table(items, vectors, config: str):
    """Catalog rows for synthetic items, built column-wise (the setup, not the thing measured)."""
    import numpy as np
    import pyarrow as pa

    from mmvc.catalog.rowbuild import row_id
    from mmvc.catalog.schema import NAMES, arrow_schema
    from mmvc.catalog.scope import item_id

    schema = arrow_schema()
    n = len(items)
    iids = [item_id(e.oid, e.meta) for e in items]
    cols = {
        "row_id": [row_id(i, config) for i in iids], "item_id": iids, "oid": [e.oid for e in items], "config": [config] * n,
        "first_key": [e.path for e in items], "modality": ["text"] * n, "size": [e.size for e in items],
        "chars": [e.size - 1 for e in items], "language": ["en"] * n,
        "license": [LICENSES[int(e.path[-12:-4]) % len(LICENSES)] for e in items],
        "source": [f"src{int(e.path[-12:-4]) % 7}" for e in items], "meta": [e.meta for e in items],
        "status": ["passed"] * n, "text_model": ["bundled:all-MiniLM-L6-v2"] * n, "written": [1700000000] * n,
    }
    arrays = []
    for name in NAMES:
        f = schema.field(name)
        if name == "text_vector":
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(vectors).reshape(-1)), 384))
        elif name in cols:
            arrays.append(pa.array(cols[name], f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def commit_tree(repo, tree: str, parent: str | None, message: str, config: str) -> str:
    from mmvc.core.objects import Commit, Gate, Signature

    sig = Signature("bench", "bench@example.invalid", 1700000000, 0)
    with repo.store.writer(durable=True) as w:
        oid = w.put_bytes(Commit(tree, (parent,) if parent else (), sig, sig, message + "\n", Gate("gated", config=config)).encode())
    branch, head = repo.head()
    repo.refs.update(branch, oid, head, message, sig.who)
    return oid


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def fixture(work: Path, n: int, k: int, index_type: str, repeats: int):
    """The repository the measurements run on, built once per (rows, new, index type) and kept in
    ``work`` (a ``fixture.json`` marks it whole): at 1M rows the build is minutes of vectors, tree,
    table and index. The write figure is measured while building, on fresh copies of the table."""
    import lance

    from mmvc.catalog.rowbuild import FeatureSource, build_rows
    from mmvc.catalog.table import build_vector_index, dataset_path, insert_rows, maintain_indexes, open_dataset
    from mmvc.core.families import BY_NAME
    from mmvc.process.cache import FeatureCache
    from mmvc.process.config import ProcessConfig
    from mmvc.repo import Repo

    marker = work / "fixture.json"
    if marker.is_file():
        fx = json.loads(marker.read_text())
        if (fx["rows"], fx["new"], fx["index_type"]) == (n, k, index_type):
            print(f"setup: reusing the fixture in {work}", file=sys.stderr)
            return {key: fx[key] for key in ("rows", "new", "index_type", "index_build_s", "write_s")}, fx
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    res: dict = {"rows": n, "new": k, "index_type": index_type}
    t = time.perf_counter()
    repo = Repo.init(str(work / "repo"))
    cfg = ProcessConfig.load(repo)
    config, doc = cfg.config_hash(), cfg.describe()
    old_items = entries(0, n)
    vecs = clustered(n + k, 384, seed=1)
    with repo.store.writer(durable=True) as w:
        old_tree = repo.tree.build(old_items, w)
    old = commit_tree(repo, old_tree, None, "old", config)
    table = catalog_table(old_items, vecs[:n], config)
    os.makedirs(os.path.dirname(dataset_path(repo)), exist_ok=True)
    lance.write_dataset(table, dataset_path(repo), schema=table.schema, max_rows_per_file=1 << 20)
    del table
    print(f"setup: {n} rows written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    ds = open_dataset(repo)
    build_vector_index(ds, "text_vector", n, index_type)
    res["index_build_s"] = round(time.perf_counter() - t, 1)
    print(f"setup: {index_type} index in {res['index_build_s']} s", file=sys.stderr)

    # -- write: K new items, as a commit writes them (vectors from the feature cache)
    new_items = entries(n, k)
    FeatureCache(repo, BY_NAME["text"].stage, doc).store(
        [{"oid": e.oid, "vector": vecs[n + i]} for i, e in enumerate(new_items)], vector_columns={"vector": 384})
    del vecs
    pristine = str(work / "catalog-pristine")
    shutil.copytree(os.path.dirname(dataset_path(repo)), pristine)
    times = []
    for r in range(repeats):
        if r:
            shutil.rmtree(os.path.dirname(dataset_path(repo)))
            shutil.copytree(pristine, os.path.dirname(dataset_path(repo)))
        t = time.perf_counter()
        source = FeatureSource(repo, config, doc)
        rows = build_rows(repo, [(e.path, e) for e in new_items], source)
        inserted = insert_rows(repo, rows)
        maintain_indexes(repo)
        times.append(time.perf_counter() - t)
        assert inserted == k, inserted
    shutil.rmtree(pristine)
    res["write_s"] = round(statistics.median(times), 3)
    print(f"write: {k} rows onto {n}: median {res['write_s']} s ({[round(x, 2) for x in times]})", file=sys.stderr)
    with repo.store.writer(durable=True) as w:
        head_tree = repo.tree.apply_changes(old_tree, [(e.path, e) for e in new_items], w)
    commit_tree(repo, head_tree, old, "main", config)
    fx = dict(res, old=old, old_tree=old_tree, head_tree=head_tree)
    marker.write_text(json.dumps(fx, indent=2) + "\n")
    return res, fx


def first_search(repo, ancestor_tree: str, tree: str, qv) -> dict:
    """``mmvc search --where FILTER`` on a version no process has seen (every in-memory cache
    cleared, its scope file deleted) while an ancestor's scope file is cached: the catalog
    calls ``mmvc.ops.search`` makes, in its order, each timed (the query's embedding aside)."""
    from mmvc.catalog import read as read_mod
    from mmvc.catalog import scope as scope_mod
    from mmvc.catalog import vector as vector_mod
    from mmvc.catalog.table import family_counts

    for memo in (scope_mod._MEMO, scope_mod._LOOKUPS, vector_mod._MASKS, read_mod._PRESENT):
        memo.clear()
    scope_mod.scope(repo, ancestor_tree)
    scope_mod._MEMO.clear()
    if os.path.exists(repo.layout.scope(tree)):
        os.remove(repo.layout.scope(tree))
    out, t0 = {}, time.perf_counter()
    t = t0
    v = read_mod.version(repo, "HEAD", False, "search")
    sc = scope_mod.scope(repo, v.tree, v.near)
    out["scope_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    ds = read_mod.dataset_for(repo, v, sc)
    out["rows_present_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    family_counts(ds)
    out["family_counts_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    lk = scope_mod.lookup(repo, v.tree)
    out["lookup_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    vector_mod.nearest(ds, "text_vector", qv, 10, FILTER, lk, ["license", "chars"], tree=v.tree)
    out["allowlist_and_search_s"] = round(time.perf_counter() - t, 3)
    out["total_s"] = round(time.perf_counter() - t0, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", help="where the fixture is built once and reused (default bench-work/catalog-ROWS-NEW-INDEX)")
    ap.add_argument("--json", dest="json_out", help="also write the figures here")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--sweep", help="also measure mmvc's search at these NPROBES:REFINE settings, e.g. 8:2,16:4,32:10")
    ap.add_argument("--setup-only", action="store_true", help="build (or check) the fixture and stop")
    ap.add_argument("--index-type", default="IVF_SQ", help="IVF_SQ (mmvc's default), IVF_PQ, IVF_HNSW_SQ, IVF_FLAT")
    args = ap.parse_args()

    import numpy as np

    import mmvc.catalog as catalog
    from mmvc.catalog.scope import _MEMO, lookup, scope
    from mmvc.catalog.table import dataset_path, open_dataset
    from mmvc.catalog.vector import nearest
    from mmvc.repo import Repo

    work = Path(args.workdir or REPO_ROOT / "bench-work" / f"catalog-{args.rows}-{args.new}-{args.index_type}")
    n, k = args.rows, args.new
    res, fx = fixture(work, n, k, args.index_type, args.repeats)
    if args.setup_only:
        return
    repo = Repo(str(work / "repo"))
    old, old_tree, head_tree = fx["old"], fx["old_tree"], fx["head_tree"]

    # -- scope: the same query on the old version and on HEAD
    q = "modality = 'text' AND chars >= 900"
    scoped = {}
    for label, rev in (("head", "HEAD"), ("old", old)):
        _MEMO.clear()
        shutil.rmtree(repo.layout.scopes, ignore_errors=True)
        t = time.perf_counter()
        out = catalog.rows(repo, rev, where=q, columns=["key", "license", "chars"])
        cold = time.perf_counter() - t
        warm = []
        for _ in range(args.repeats):
            _MEMO.clear()  # a fresh process: the scope comes from its cache file
            t = time.perf_counter()
            catalog.rows(repo, rev, where=q, columns=["key", "license", "chars"])
            warm.append(time.perf_counter() - t)
        scoped[label] = {"rows": out.num_rows, "cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3)}
    _MEMO.clear()
    if os.path.exists(repo.layout.scope(head_tree)):
        os.remove(repo.layout.scope(head_tree))
    t = time.perf_counter()
    scope(repo, head_tree, (old_tree,))  # what a query on a new commit does when its parent's scope is cached
    scoped["head_derived_from_parent_s"] = round(time.perf_counter() - t, 3)
    res["scope"] = scoped
    res["scope_ratio_old_vs_head"] = round(scoped["old"]["warm_s"] / scoped["head"]["warm_s"], 2)
    res["scope_ratio_cold"] = round(scoped["old"]["cold_s"] / scoped["head"]["cold_s"], 2)
    print(f"scope: {scoped}; old/head warm {res['scope_ratio_old_vs_head']}x", file=sys.stderr)

    # -- search
    ds = open_dataset(repo)
    sc = scope(repo, head_tree)
    t = time.perf_counter()
    lk = lookup(repo, head_tree)
    res["scope_lookup_build_s"] = round(time.perf_counter() - t, 3)
    rng = np.random.default_rng(7)
    meta = ds.to_table(columns=["item_id", "license", "chars"])
    mask = (np.asarray(meta.column("license").to_pylist()) == "cc-by-4.0") & (meta.column("chars").to_numpy() >= 200)
    order = {iid: i for i, iid in enumerate(meta.column("item_id").to_pylist())}
    # the catalog's row order is not the vectors' order after the insert: read the vectors back
    cat_vecs = np.asarray(ds.to_table(columns=["text_vector"]).column("text_vector").combine_chunks().flatten().to_numpy(), dtype=np.float32).reshape(-1, 384)
    queries = cat_vecs[rng.integers(0, n + k, args.queries)] + 0.05 * rng.standard_normal((args.queries, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = np.flatnonzero(mask)
    sub = cat_vecs[ids]
    truth = []
    for qv in queries:
        s = sub @ qv
        truth.append(set(ids[np.argpartition(-s, 10)[:10]].tolist()))

    def run_mmvc():
        lat, got = [], []
        for qv in queries:
            t = time.perf_counter()
            hits = nearest(ds, "text_vector", qv, 10, FILTER, lk, ["license", "chars"], tree=head_tree)
            lat.append(time.perf_counter() - t)
            got.append(hits)
        iid_of_key = dict(zip(sc.column("key").to_pylist(), sc.column("item_id").to_pylist()))
        rec = statistics.mean(len({order[iid_of_key[h.key]] for h in hs} & tr) / 10 for hs, tr in zip(got, truth))
        return lat, rec

    from mmvc.catalog.vector import _MASKS, version_mask

    t = time.perf_counter()
    version_mask(ds, head_tree, FILTER, lk)
    res["search_mask_build_s"] = round(time.perf_counter() - t, 3)  # once per (table version, version, filter)
    _MASKS.clear()
    run_mmvc()  # warm the index cache (and builds the mask again)
    lat, rec = run_mmvc()
    res["search_mmvc"] = {"p50_ms": round(1000 * pct(lat, 50), 2), "p95_ms": round(1000 * pct(lat, 95), 2), "recall@10": round(rec, 4)}
    print(f"search mmvc: {res['search_mmvc']}", file=sys.stderr)
    if args.sweep:
        import mmvc.catalog.vector as vector_mod

        defaults = vector_mod.NPROBES, vector_mod.REFINE_FACTOR
        res["sweep"] = {}
        for setting in args.sweep.split(","):
            vector_mod.NPROBES, vector_mod.REFINE_FACTOR = (int(x) for x in setting.split(":"))
            lat, rec = run_mmvc()
            res["sweep"][setting] = {"p50_ms": round(1000 * pct(lat, 50), 2), "p95_ms": round(1000 * pct(lat, 95), 2), "recall@10": round(rec, 4)}
            print(f"search mmvc nprobes:refine {setting}: {res['sweep'][setting]}", file=sys.stderr)
        vector_mod.NPROBES, vector_mod.REFINE_FACTOR = defaults
    if not args.skip_peers:
        import faiss
        import lancedb

        tbl = lancedb.connect(os.path.dirname(dataset_path(repo))).open_table("items")
        from mmvc.catalog.vector import NPROBES, REFINE_FACTOR

        def ldb(qv):
            return (tbl.search(qv, vector_column_name="text_vector").metric("cosine").where(FILTER, prefilter=True)
                    .nprobes(NPROBES).refine_factor(REFINE_FACTOR).select(["item_id"]).limit(10).to_arrow())

        for qv in queries[:5]:
            ldb(qv)
        lat, rec = [], []
        for qv, tr in zip(queries, truth):
            t = time.perf_counter()
            out = ldb(qv)
            lat.append(time.perf_counter() - t)
            rec.append(len({order[x] for x in out.column("item_id").to_pylist()} & tr) / 10)
        res["search_lancedb"] = {"p50_ms": round(1000 * pct(lat, 50), 2), "p95_ms": round(1000 * pct(lat, 95), 2), "recall@10": round(statistics.mean(rec), 4)}
        print(f"search lancedb: {res['search_lancedb']}", file=sys.stderr)
        index = faiss.IndexFlatIP(384)
        index.add(cat_vecs)
        sel = faiss.IDSelectorBatch(ids.astype(np.int64))
        params = faiss.SearchParameters(sel=sel)
        lat, rec = [], []
        for qv, tr in zip(queries, truth):
            t = time.perf_counter()
            _, found = index.search(qv.reshape(1, -1), 10, params=params)
            lat.append(time.perf_counter() - t)
            rec.append(len(set(found[0].tolist()) & tr) / 10)
        res["search_faiss_flat"] = {"p50_ms": round(1000 * pct(lat, 50), 2), "p95_ms": round(1000 * pct(lat, 95), 2), "recall@10": round(statistics.mean(rec), 4)}
        print(f"search faiss flat: {res['search_faiss_flat']}", file=sys.stderr)
        res["ratio_faiss_over_mmvc_p50"] = round(res["search_faiss_flat"]["p50_ms"] / res["search_mmvc"]["p50_ms"], 2)
        res["ratio_lancedb_over_mmvc_p50"] = round(res["search_lancedb"]["p50_ms"] / res["search_mmvc"]["p50_ms"], 2)
    # -- the first filtered search of a never-seen version (HEAD) whose parent's scope is cached
    res["first_search"] = first_search(repo, old_tree, head_tree, queries[0])
    print(f"first search of a never-seen version: {res['first_search']}", file=sys.stderr)
    print(json.dumps(res, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
