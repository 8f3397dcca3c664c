"""Set-wide dedup as distributed stages on Ray Data, for staged sets one driver cannot hold.

Each tier becomes a shuffle keyed so that every pair it must compare meets in one partition,
a local search there with the very functions the in-process tiers use (``mmvc.process.neardup``,
``mmvc.process.semantic``), and verified pairs (edges) coming back to the driver, which joins
them into groups. The driver holds the edges (one per duplicate, not per item) and, for the
semantic tier, the centroids: O(duplicates + clusters) state, never a table of every item.

* near-exact (sets: text shingles, audio landmarks): each item's MinHash band keys, one row per
  band, shuffled by band key; a partition sorts its buckets and takes their pairs exactly as
  ``_lsh_candidates`` does (``bucket_pairs``, hot buckets capped the same way), then verifies
  each pair by exact Jaccard of the two sets, which travel with the rows.
* pHash (images): multi-index hashing. The 64-bit hash is split into ``max_hamming + 1``
  bands; two hashes within ``max_hamming`` bits agree exactly on at least one band
  (pigeonhole), so rows shuffled by (band, band value) put every such pair in one group, where
  ``hamming_pairs`` finds it. A pair is kept only in the group of the first band it agrees on,
  so each is found once.
* semantic (SemDeDup): k-means centroids trained in the driver on a sample (``_clustered``'s
  cluster count, about √n), each vector sent to the clusters of its ``nprobe`` nearest
  centroids (home first) and compared there with the members, as ``_clustered`` compares them.
  Up to ``brute_force_max`` vectors there is one cluster: every pair, as ``_exhaustive``.

Each tier returns {member index: representative index}, the representative being the
smallest index of its group: what the in-process functions return for keys in that order. For
the near tiers and pHash the groups are the same as in-process by construction; the semantic
tier's are the same up to ``brute_force_max`` (beyond it, both are approximate in the same way
with different centroids). ``tests/process/test_distdedup.py`` checks the equalities.
"""

from __future__ import annotations

import numpy as np

_PARTS_PER_CPU = 4


def _partitions(ray) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(2, _PARTS_PER_CPU * cpus)


class _HashShuffle:
    """Ray Data's hash shuffle for the duration of a tier (its sort-based default samples and
    sorts every row first, about 1.4x slower here); the caller's setting is put back."""

    def __enter__(self):
        import ray
        from ray.data.context import ShuffleStrategy

        self.ctx = ray.data.DataContext.get_current()
        self.saved = self.ctx.shuffle_strategy
        self.ctx.shuffle_strategy = ShuffleStrategy.HASH_SHUFFLE

    def __exit__(self, *exc):
        self.ctx.shuffle_strategy = self.saved
        return False


def _groups_from_edges(edges) -> dict[int, int]:
    """Union-find over the endpoints of verified edges only: {member: smallest member} of
    each group, for members that are not the smallest."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: r for x in list(parent) if (r := find(x)) != x}


def _edges(ds) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for batch in ds.iter_batches(batch_format="numpy", batch_size=65_536):
        out += zip(batch["a"].tolist(), batch["b"].tolist())
    return out


def _no_edges() -> dict:
    return {"a": np.zeros(0, dtype=np.int64), "b": np.zeros(0, dtype=np.int64)}


# ----------------------------------------------------------------------------- near-exact (sets)


class _BandRows:
    """Items (idx, set) → one row per (item, band): partition, band key, content, idx, and
    the item's set (verification needs it where the pair meets)."""

    def __init__(self, cfg, audio: bool, parts: int):
        self.cfg, self.audio, self.parts = cfg, audio, parts

    def __call__(self, batch):
        from mmvc.process.neardup import band_rows, shingle_sets

        cfg = self.cfg
        if "text" in batch:  # texts (or, where a text is null, its shingle set) become sets here, on the worker
            sets = shingle_sets([t if isinstance(t, str) else np.asarray(s, dtype=np.uint64) for t, s in zip(batch["text"], batch["set"])], cfg)
        else:
            sets = [np.unique(np.asarray(s, dtype=np.uint64)) for s in batch["set"]]
        live, keys, content = band_rows(sets, cfg, self.audio)
        bands = keys.shape[1]
        keys = keys.ravel()
        content = np.repeat(content, bands)
        idx = np.repeat(np.asarray(batch["idx"], dtype=np.int64)[live], bands)
        owner = np.repeat(live, bands)
        out_sets = np.empty(owner.size, dtype=object)
        for i, o in enumerate(owner.tolist()):
            out_sets[i] = sets[o]
        return {"part": (keys % np.uint64(self.parts)).astype(np.int64), "key": keys, "content": content, "idx": idx, "set": out_sets}


def _verify_partition(threshold: float):
    def run(batch):
        from mmvc.process.neardup import bucket_pairs, jaccard_sorted

        idx = np.asarray(batch["idx"], dtype=np.int64)
        if idx.size < 2:
            return _no_edges()
        lo, hi = bucket_pairs(idx, np.asarray(batch["key"], dtype=np.uint64), np.asarray(batch["content"], dtype=np.uint64))
        if lo.size == 0:
            return _no_edges()
        code = np.unique(lo * (int(idx.max()) + 1) + hi)
        lo, hi = code // (int(idx.max()) + 1), code % (int(idx.max()) + 1)
        first: dict[int, int] = {}
        for row, i in enumerate(idx.tolist()):
            first.setdefault(i, row)
        sets = batch["set"]
        ok = [jaccard_sorted(np.asarray(sets[first[a]], dtype=np.uint64), np.asarray(sets[first[b]], dtype=np.uint64)) >= threshold
              for a, b in zip(lo.tolist(), hi.tolist())]
        keep = np.asarray(ok, dtype=bool)
        return {"a": lo[keep], "b": hi[keep]}

    return run


def near_set_groups(ds, cfg, audio: bool = False) -> dict[int, int]:
    """Near-exact groups of a Ray dataset of (idx int64, set list<uint64>) rows: text shingle
    sets (or texts, in a "text" column, where set is null), or audio landmark sets with ``audio``. Same groups as ``near_duplicate_groups`` /
    ``audio_groups`` over the items in idx order."""
    import ray

    parts = _partitions(ray)
    rows = ds.map_batches(_BandRows, fn_constructor_kwargs={"cfg": cfg, "audio": audio, "parts": parts},
                          batch_format="numpy", concurrency=(1, max(1, parts // _PARTS_PER_CPU)))
    threshold = cfg.audio_jaccard if audio else cfg.jaccard_threshold
    with _HashShuffle():
        edges = _edges(rows.groupby("part").map_groups(_verify_partition(threshold), batch_format="numpy"))
    return _groups_from_edges(edges)


# ----------------------------------------------------------------------------- pHash


def _mih_bands(max_hamming: int) -> list[tuple[int, int]]:
    """(shift, width) of the ``max_hamming + 1`` bands a 64-bit hash is split into."""
    k = max_hamming + 1
    widths = [64 // k + (1 if c < 64 % k else 0) for c in range(k)]
    shifts = np.concatenate(([0], np.cumsum(widths)[:-1])).tolist()
    return list(zip(shifts, widths))


def _band_values(h: np.ndarray, bands) -> np.ndarray:
    """(n, bands) uint64: each band's bits of each hash."""
    return np.stack([(h >> np.uint64(s)) & np.uint64((1 << w) - 1) for s, w in bands], axis=1)


def _phash_rows(max_hamming: int, parts: int):
    bands = _mih_bands(max_hamming)

    def run(batch):
        h = np.asarray(batch["phash"], dtype=np.int64).view(np.uint64)
        idx = np.asarray(batch["idx"], dtype=np.int64)
        vals = _band_values(h, bands)
        band = np.tile(np.arange(len(bands), dtype=np.int64), h.size)
        group = band * (1 << 8) + vals.ravel().astype(np.int64)  # band widths stay under 8 bits for max_hamming >= 7
        return {"part": group % parts, "group": group, "band": band, "idx": np.repeat(idx, len(bands)),
                "phash": np.repeat(h, len(bands)).view(np.int64)}

    return run


def _phash_partition(max_hamming: int):
    bands = _mih_bands(max_hamming)

    def run(batch):
        from mmvc.process.neardup import hamming_pairs

        group = np.asarray(batch["group"], dtype=np.int64)
        idx = np.asarray(batch["idx"], dtype=np.int64)
        h = np.asarray(batch["phash"], dtype=np.int64).view(np.uint64)
        band = np.asarray(batch["band"], dtype=np.int64)
        order = np.lexsort((idx, group))
        group, idx, h, band = group[order], idx[order], h[order], band[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        ends = np.r_[starts[1:], group.size]
        a_out, b_out = [], []
        for s, e in zip(starts.tolist(), ends.tolist()):
            if e - s < 2:
                continue
            gi, gh, c = idx[s:e], h[s:e], int(band[s])
            uniq, first, inv = np.unique(gh, return_index=True, return_inverse=True)
            if c == 0:  # identical hashes agree on every band: joined once, in band 0
                same = first[inv] != np.arange(gi.size)
                a_out.append(gi[first[inv]][same])
                b_out.append(gi[same])
            i, j = hamming_pairs(uniq, max_hamming)
            if i.size:
                vi, vj = _band_values(uniq[i], bands), _band_values(uniq[j], bands)
                first_shared = np.argmax(vi == vj, axis=1)  # this group's band is shared by construction
                keep = first_shared == c
                a_out.append(gi[first[i[keep]]])
                b_out.append(gi[first[j[keep]]])
        if not a_out:
            return _no_edges()
        return {"a": np.concatenate(a_out).astype(np.int64), "b": np.concatenate(b_out).astype(np.int64)}

    return run


def phash_groups(ds, max_hamming: int) -> dict[int, int]:
    """pHash groups of a Ray dataset of (idx int64, phash int64) rows: pairs within
    ``max_hamming`` bits, joined transitively; the same groups as ``image_groups``."""
    import ray

    if max_hamming < 7:
        raise ValueError("the distributed pHash tier splits hashes into max_hamming + 1 bands of at most 8 bits")
    parts = _partitions(ray)
    rows = ds.map_batches(_phash_rows(max_hamming, parts), batch_format="numpy")
    with _HashShuffle():
        edges = _edges(rows.groupby("part").map_groups(_phash_partition(max_hamming), batch_format="numpy"))
    return _groups_from_edges(edges)


# ----------------------------------------------------------------------------- semantic (SemDeDup)


def _centroids(ds, n: int, brute_force_max: int, seed: int):
    """None (one cluster: every pair) up to ``brute_force_max`` vectors; else spherical k-means
    centroids, about √n of them as ``_clustered`` chooses, trained on a sample of 64 vectors per
    centroid (FAISS's own subsample): the driver holds O(clusters) vectors."""
    if n <= brute_force_max:
        return None
    import faiss

    nlist = max(1, min(int(round(np.sqrt(n))), n // 39 or 1))
    sample = ds.random_sample(min(1.0, 64 * nlist * 1.2 / n), seed=seed).take_batch(64 * nlist, batch_format="numpy")["vector"]
    x = np.ascontiguousarray(np.stack(list(sample)).astype(np.float32))
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    kmeans = faiss.Kmeans(x.shape[1], nlist, niter=10, seed=seed, spherical=True, max_points_per_centroid=64, verbose=False)
    kmeans.train(x)
    return kmeans.centroids


def _assign(centroids, nprobe: int, parts: int):
    def run(batch):
        x = np.stack(list(batch["vector"])).astype(np.float32)
        norms = np.linalg.norm(x, axis=1)
        usable = np.isfinite(x).all(axis=1) & (norms > 0)
        idx = np.asarray(batch["idx"], dtype=np.int64)[usable]
        x = x[usable] / norms[usable, None]
        if centroids is None:
            probed = np.zeros((len(x), 1), dtype=np.int64)
        else:
            sims = x @ centroids.T
            probed = np.argsort(-sims, axis=1, kind="stable")[:, :min(max(1, nprobe), len(centroids))]
        p = probed.shape[1]
        cluster = probed.ravel()
        role = np.tile(np.arange(p), len(x))  # 0: the home cluster, where the vector is a member
        vec = np.empty(cluster.size, dtype=object)
        for i, r in enumerate(np.repeat(np.arange(len(x)), p).tolist()):
            vec[i] = x[r]
        return {"part": cluster % parts, "cluster": cluster, "role": role, "idx": np.repeat(idx, p), "vector": vec}

    return run


def _semantic_partition(radius: float):
    def run(batch):
        cluster = np.asarray(batch["cluster"], dtype=np.int64)
        role = np.asarray(batch["role"], dtype=np.int64)
        idx = np.asarray(batch["idx"], dtype=np.int64)
        vecs = batch["vector"]
        a_out, b_out = [], []
        for c in np.unique(cluster).tolist():
            here = cluster == c
            members = np.flatnonzero(here & (role == 0))
            queries = np.flatnonzero(here)
            if members.size == 0:
                continue
            base = np.stack([vecs[i] for i in members.tolist()]).astype(np.float32)
            step = max(1, (1 << 24) // members.size)
            for s in range(0, queries.size, step):
                q = queries[s:s + step]
                sims = np.stack([vecs[i] for i in q.tolist()]).astype(np.float32) @ base.T
                qi, bj = np.nonzero(sims >= radius)
                a, b = idx[q[qi]], idx[members[bj]]
                other = a != b
                a_out.append(a[other])
                b_out.append(b[other])
        if not a_out:
            return _no_edges()
        return {"a": np.concatenate(a_out), "b": np.concatenate(b_out)}

    return run


def semantic_groups(ds, n: int, eps: float, brute_force_max: int = 20000, *, nprobe: int = 2, seed: int = 0) -> dict[int, int]:
    """Semantic groups of a Ray dataset of (idx int64, vector list<float32>) rows of ``n``
    items: cosine >= 1 - eps, joined transitively; representative the smallest idx."""
    import ray

    from mmvc.process.semantic import SLACK

    parts = _partitions(ray)
    centroids = _centroids(ds, n, brute_force_max, seed)
    rows = ds.map_batches(_assign(centroids, nprobe, parts), batch_format="numpy")
    with _HashShuffle():
        edges = _edges(rows.groupby("part").map_groups(_semantic_partition(float(1.0 - eps) - SLACK), batch_format="numpy"))
    return _groups_from_edges(edges)
