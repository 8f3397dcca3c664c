"""Set-wide dedup at scale: the distributed stages (``mmvc.process.distdedup``) over synthetic
features, and incremental dedup of new items against the history-wide dedup index.

Scale: near-exact (MinHash band-key shuffle over shingle sets of ``--set-size`` values), pHash
(multi-index bands) and semantic (SemDeDup: k-means, then pairs within clusters) over N
synthetic items each, generated on the Ray workers (the driver never holds them), 1% planted
near copies per tier. Each size runs in a fresh process with its own Ray (local mode, all
cores); reported: wall time per tier, the driver's peak RSS (getrusage) and the largest Ray
worker's peak RSS (VmHWM of every ``ray::`` process, polled). The issue asks for 1M, 3M and 10M
items; on a 2-core machine the defaults are 20k, 60k and 200k, and the curve is extrapolated.

Incremental: a dedup index (a real repository's ``.mmvc/dedup/features.lance``) holding a
history of H items (texts' shingle sets and band keys, pHashes, 384-d text vectors), then
``--new`` staged items compared with it exactly as ``process`` does: band-key and pHash-band
lookups (``near_anchor_rows``), the staged set's own near tiers, and the semantic check against
HEAD's vectors (``Pipeline._semantic_head``, streaming the index). H = 0 is the empty history.

    python benchmarks/bench_dedup_scale.py                              # both parts, defaults
    python benchmarks/bench_dedup_scale.py --sizes 20000 --history 0,100000 --new 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 64  # vector width of the scale runs (the incremental runs use the text family's 384)


def _sets(batch, set_size: int, n: int):
    """Shingle-like sets; item i >= n - n/100 is item (i - (n - n/100)) with one value changed."""
    out = np.empty(len(batch["id"]), dtype=object)
    k = n // 100
    for r, i in enumerate(batch["id"].tolist()):
        src = i - (n - k) if i >= n - k else i
        s = np.random.default_rng(src).integers(0, 1 << 62, set_size, dtype=np.int64)
        if src != i:
            s[0] = np.random.default_rng(1_000_000_007 + i).integers(0, 1 << 62)
        out[r] = s.astype(np.uint64)
    return {"idx": batch["id"].astype(np.int64), "set": out}


def _phashes(batch, n: int):
    k = n // 100
    ids = batch["id"].astype(np.int64)
    src = np.where(ids >= n - k, ids - (n - k), ids)
    h = np.array([np.random.default_rng(int(s) + 7).integers(0, 1 << 63) for s in src.tolist()], dtype=np.int64).view(np.uint64)
    flip = np.where(ids >= n - k, np.uint64(0b1011), np.uint64(0))  # 3 bits off
    return {"idx": ids, "phash": (h ^ flip).view(np.int64)}


def _vectors(batch, n: int):
    k = n // 100
    ids = batch["id"].astype(np.int64)
    src = np.where(ids >= n - k, ids - (n - k), ids)
    out = np.empty(len(ids), dtype=object)
    for r, (i, s) in enumerate(zip(ids.tolist(), src.tolist())):
        v = np.random.default_rng(s + 11).normal(size=DIM).astype(np.float32)
        if i != s:
            v += np.random.default_rng(i).normal(scale=0.005, size=DIM).astype(np.float32)
        out[r] = v
    return {"idx": ids, "vector": out}


class _WorkerPeak:
    """The largest VmHWM (peak RSS) seen among Ray worker processes while running."""

    def __init__(self):
        self.peak_kb = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read()
                    if b"ray::" not in cmd and b"default_worker.py" not in cmd:
                        continue
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    continue
            self._stop.wait(0.5)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def one_scale(n: int, set_size: int) -> dict:
    import ray

    from mmvc.process.distdedup import near_set_groups, phash_groups, semantic_groups
    from mmvc.process.neardup import NearDupConfig

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    blocks = max(8, n // 20_000)
    out = {"n": n}
    with _WorkerPeak() as workers:
        t = time.perf_counter()
        ds = ray.data.range(n, override_num_blocks=blocks).map_batches(_sets, fn_kwargs={"set_size": set_size, "n": n}, batch_format="numpy")
        g = near_set_groups(ds, NearDupConfig())
        out["near_s"], out["near_groups"] = round(time.perf_counter() - t, 2), len(g)
        t = time.perf_counter()
        ds = ray.data.range(n, override_num_blocks=blocks).map_batches(_phashes, fn_kwargs={"n": n}, batch_format="numpy")
        g = phash_groups(ds, 10)
        out["phash_s"], out["phash_groups"] = round(time.perf_counter() - t, 2), len(g)
        t = time.perf_counter()
        ds = ray.data.range(n, override_num_blocks=blocks).map_batches(_vectors, fn_kwargs={"n": n}, batch_format="numpy").materialize()
        g = semantic_groups(ds, n, eps=0.01)
        out["semantic_s"], out["semantic_groups"] = round(time.perf_counter() - t, 2), len(g)
    out["planted"] = n // 100
    out["driver_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["worker_rss_mb"] = round(workers.peak_kb / 1024, 1)
    ray.shutdown()
    return out


def one_incremental(history: int, new: int) -> dict:
    """``new`` staged items (texts as shingle sets, pictures, vectors: a third each) against a
    dedup index of ``history`` items; the staged items repeat 1% of the history with an edit."""
    import pyarrow as pa

    from mmvc.catalog.dedup_index import DedupIndex
    from mmvc.core.families import TEXT_FAMILY
    from mmvc.core.modality import IMAGE, TEXT
    from mmvc.process.config import ProcessConfig
    from mmvc.process.dedupfeatures import arrow_schema, dedup_config, near_anchor_rows
    from mmvc.process.neardup import image_groups, near_duplicate_groups, set_band_keys
    from mmvc.process.pipeline import ItemRef, Pipeline, Verdict
    from mmvc.repo import Repo

    root = tempfile.mkdtemp(prefix="bench-dedup-")
    repo = Repo.init(root)
    cfg = ProcessConfig.load(repo)
    config = dedup_config(cfg.describe())
    index = DedupIndex(repo, config)
    nd = cfg.neardup
    rng = np.random.default_rng(0)

    def text_set(i):
        return np.unique(np.random.default_rng(i).integers(0, 1 << 62, 120, dtype=np.int64).astype(np.uint64))

    def vec(i):
        v = np.random.default_rng(i + 3).normal(size=TEXT_FAMILY.width).astype(np.float32)
        return v / np.linalg.norm(v)

    t = time.perf_counter()
    third = history // 3
    for start in range(0, history, 30_000):
        ids = list(range(start, min(history, start + 30_000)))
        texts = [i for i in ids if i % 3 == 0]
        sets = [text_set(i) for i in texts]
        bands = set_band_keys(sets, nd)
        rows = {"oid": [f"{i:064x}" for i in ids], "modality": [TEXT if i % 3 == 0 else IMAGE if i % 3 == 1 else TEXT for i in ids],
                "config": [config] * len(ids), "shingles": [None] * len(ids), "bands": [None] * len(ids), "phash": [None] * len(ids),
                "video_sig": [None] * len(ids), "audio_fp": [None] * len(ids), "text_vector": [None] * len(ids), "clip_vector": [None] * len(ids)}
        for j, i in enumerate(ids):
            if i % 3 == 0:
                k = (i - start) // 3
                rows["shingles"][j], rows["bands"][j] = sets[k].tolist(), bands[k].tolist()
            elif i % 3 == 1:
                rows["phash"][j] = int(np.random.default_rng(i + 7).integers(0, 1 << 63))
            else:
                rows["text_vector"][j] = vec(i).tolist()
        index._insert(pa.table(rows, schema=arrow_schema()))
    build_s = time.perf_counter() - t
    head = {f"{i:064x}": f"h/{i:08d}" for i in range(history)}
    head_modality = {o: (IMAGE if int(o, 16) % 3 == 1 else TEXT) for o in head}

    # the staged items: a third each; every 100th repeats a history item with an edit
    staged_texts, staged_pics, staged_vecs = [], [], []
    for j in range(new):
        src = (j * 3 * 97) % max(1, third * 3) if history and j % 100 == 0 else None
        if j % 3 == 0:
            s = text_set(src - src % 3) if src is not None else text_set(10**9 + j)
            staged_texts.append(s if src is None else np.unique(np.r_[s[1:], np.uint64(12345)]))
        elif j % 3 == 1:
            h = int(np.random.default_rng((src - src % 3 + 1) + 7).integers(0, 1 << 63)) if src is not None else int(rng.integers(0, 1 << 63))
            staged_pics.append(h ^ (0b101 if src is not None else 0))
        else:
            staged_vecs.append(vec(src - src % 3 + 2) if src is not None else vec(10**9 + j))
    t = time.perf_counter()
    keys_t = [f"s/t{j:06d}" for j in range(len(staged_texts))]
    staged = {f"st{j}": (TEXT, {"text": s}) for j, s in enumerate(staged_texts)}  # texts as their shingle sets
    staged.update({f"sp{j}": (IMAGE, {"phash": int(np.uint64(h).view(np.int64))}) for j, h in enumerate(staged_pics)})
    found = near_anchor_rows(index.scan, staged, head, nd)
    anchors_s = time.perf_counter() - t
    t = time.perf_counter()
    near_duplicate_groups([f"a{o}" for o in found if found[o].get("text") is not None] + keys_t,
                          [found[o]["text"] for o in found if found[o].get("text") is not None] + staged_texts, nd)
    image_groups([f"p{j}" for j in range(len(staged_pics))] + [f"a{o}" for o in found if found[o].get("phash") is not None],
                 staged_pics + [found[o]["phash"] for o in found if found[o].get("phash") is not None], nd.image_max_hamming)
    near_s = time.perf_counter() - t
    t = time.perf_counter()
    pipe = Pipeline(repo, cfg, history=index)
    fam = [ItemRef(f"s/v{j:06d}", f"{(1 << 255) + j:064x}", TEXT, 0) for j in range(len(staged_vecs))]
    vecs = {it.oid: v for it, v in zip(fam, staged_vecs)}
    verdicts = {it.key: Verdict(it.key, it.oid, it.modality, 0) for it in fam}
    pipe._semantic_head("text", fam, vecs, verdicts, head, head_modality)
    semantic_s = time.perf_counter() - t
    dups = sum(v.status == "duplicate" for v in verdicts.values())
    return {"history": history, "new": new, "index_build_s": round(build_s, 1), "anchors_s": round(anchors_s, 2),
            "anchors": len(found), "near_s": round(near_s, 2), "semantic_s": round(semantic_s, 2), "semantic_dups": dups,
            "total_s": round(anchors_s + near_s + semantic_s, 2),
            "driver_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,60000,200000")
    ap.add_argument("--set-size", type=int, default=30)
    ap.add_argument("--history", default="0,100000,300000")
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--one-scale", type=int)
    ap.add_argument("--one-incremental", type=int)
    a = ap.parse_args()
    if a.one_scale is not None:
        print(json.dumps(one_scale(a.one_scale, a.set_size)))
        return
    if a.one_incremental is not None:
        print(json.dumps(one_incremental(a.one_incremental, a.new)))
        return
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    results = {"scale": [], "incremental": []}
    for n in [int(x) for x in a.sizes.split(",") if x]:
        r = subprocess.run([sys.executable, __file__, "--one-scale", str(n), "--set-size", str(a.set_size)], env=env,
                           capture_output=True, text=True, check=True)
        results["scale"].append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(results["scale"][-1]), flush=True)
    for h in [int(x) for x in a.history.split(",") if x]:
        r = subprocess.run([sys.executable, __file__, "--one-incremental", str(h), "--new", str(a.new)], env=env,
                           capture_output=True, text=True, check=True)
        results["incremental"].append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(results["incremental"][-1]), flush=True)
    scale = results["scale"]
    if len(scale) >= 2:
        a0, a1 = scale[0], scale[-1]
        for tier in ("near", "phash", "semantic"):
            per = a1[f"{tier}_s"] / a1["n"]
            print(f"{tier}: {per * 1e6:.1f} µs/item at {a1['n']:,}; "
                  f"growth {a1[f'{tier}_s'] / max(a0[f'{tier}_s'], 1e-9):.2f}x for {a1['n'] / a0['n']:.1f}x items; "
                  f"linear extrapolation to 10M: {per * 10_000_000 / 60:.0f} min on this machine")
    inc = results["incremental"]
    if inc and inc[0]["history"] == 0:
        for r in inc[1:]:
            print(f"history {r['history']:,}: {r['total_s']:.2f} s against {inc[0]['total_s']:.2f} s with an empty history "
                  f"({r['total_s'] / max(inc[0]['total_s'], 1e-9):.2f}x; anchors {r['anchors_s']:.2f} s, semantic {r['semantic_s']:.2f} s)")


if __name__ == "__main__":
    main()
