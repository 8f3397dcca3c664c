"""Near-dup stage throughput and quality: mmvc beside datasketch on the same corpus.

Text: a seeded synthetic corpus (default 20,000 documents of 150-250 words, 10% of them
copies of another document with 1-3 words edited, spread through the corpus). mmvc runs its
whole text stage, ``near_duplicate_groups`` (tokenise, shingle, MinHash, LSH, exact-Jaccard
verification, union-find). datasketch runs ``MinHash(num_perm=112)`` fed by
``update_batch`` (its fastest CPU path) over the same word 5-gram shingles, and
``MinHashLSH(threshold=0.8, num_perm=112, params=(14, 8))`` insert + query, its candidates
grouped by union-find. Both are timed from raw strings to groups, wall clock and CPU time
(the CPU ratio is the steadier one on a shared machine), and both are scored against the
planted truth: recall = planted copies grouped with their original, precision = flagged
duplicates whose representative is in their planted family.

Images: pHash throughput over in-memory thumbnails (decode excluded, as in the pipeline),
grouping throughput over a large set of hashes, and the recall of planted JPEG-70, 80%
resize and 5% crop variants at Hamming <= 10, with the count of unrelated pairs within 10.

    .venv/bin/python benchmarks/bench_neardup.py                 # full size
    .venv/bin/python benchmarks/bench_neardup.py --docs 3000 --images 200 --hashes 20000
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planted import image_variants, synthetic_image, text_corpus  # noqa: E402

from mmvc.process.neardup import NearDupConfig, UnionFind, image_groups, near_duplicate_groups, phash, tokenize  # noqa: E402

_WORD = re.compile(r"\w+")
_TAIL = re.compile(r"\d+$")


def _index(key: str) -> int:
    return int(_TAIL.search(key).group())


class Clock:
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


def score(groups: dict[int, int], origin: list[int]) -> dict:
    family = [i if o < 0 else o for i, o in enumerate(origin)]
    flagged = len(groups)
    correct = sum(family[k] == family[r] for k, r in groups.items())
    rep = [groups.get(i, i) for i in range(len(origin))]
    near = [i for i, o in enumerate(origin) if o >= 0]
    found = sum(rep[i] == rep[origin[i]] for i in near)
    return {"recall": found / len(near) if near else None, "precision": correct / flagged if flagged else None,
            "flagged": flagged, "planted": len(near)}


def run_mmvc(texts: list[str], cfg: NearDupConfig) -> tuple[dict[int, int], Clock]:
    keys = [str(i) for i in range(len(texts))]
    with Clock() as c:
        g = near_duplicate_groups(keys, texts, cfg)
    return {int(k): int(v) for k, v in g.items()}, c


def run_datasketch(texts: list[str]) -> tuple[dict[int, int], Clock]:
    from datasketch import MinHash, MinHashLSH

    with Clock() as c:
        lsh = MinHashLSH(threshold=0.8, num_perm=112, params=(14, 8))
        sketches = []
        for i, t in enumerate(texts):
            w = _WORD.findall(t.lower())
            sh = [" ".join(w[j : j + 5]).encode() for j in range(len(w) - 4)] if len(w) >= 5 else [" ".join(w).encode()]
            m = MinHash(num_perm=112)
            m.update_batch(sh)
            lsh.insert(i, m)
            sketches.append(m)
        uf = UnionFind(len(texts))
        for i, m in enumerate(sketches):
            for j in lsh.query(m):
                uf.union(i, j)
        roots = uf.roots()
    return {i: int(r) for i, r in enumerate(roots.tolist()) if r != i}, c


def bench_text(args) -> dict:
    texts, origin = text_corpus(args.seed, args.docs, args.near, words=(150, 250), edits=(1, 3))
    sample = texts[:200]
    assert all(_WORD.findall(t.lower()) == tokenize(t) for t in sample), "shingling differs between the two sides"
    cfg = NearDupConfig()
    runs = []
    for _ in range(args.repeat):
        g, c = run_mmvc(texts, cfg)
        runs.append(c)
    best = min(runs, key=lambda c: c.cpu)
    ds_g, ds = run_datasketch(texts)
    n = len(texts)
    out = {
        "docs": n,
        "mmvc": {"docs_per_s_wall": n / best.wall, "docs_per_s_cpu": n / best.cpu, "first_run_wall_s": runs[0].wall, **score(g, origin)},
        "datasketch": {"docs_per_s_wall": n / ds.wall, "docs_per_s_cpu": n / ds.cpu, **score(ds_g, origin)},
    }
    out["ratio_wall"] = out["mmvc"]["docs_per_s_wall"] / out["datasketch"]["docs_per_s_wall"]
    out["ratio_cpu"] = out["mmvc"]["docs_per_s_cpu"] / out["datasketch"]["docs_per_s_cpu"]
    return out


def bench_images(args) -> dict:
    from PIL import Image

    rng = np.random.default_rng(args.seed + 1)

    def thumb(data: bytes) -> np.ndarray:
        im = Image.open(io.BytesIO(data)).convert("RGB")
        im.thumbnail((256, 256), Image.Resampling.BICUBIC, reducing_gap=2.0)
        return np.asarray(im)

    originals, variants = [], []
    for _ in range(args.images):
        img = synthetic_image(rng, int(rng.integers(160, 480)), int(rng.integers(160, 480)))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        originals.append(thumb(buf.getvalue()))
        variants.append({t: thumb(b) for t, (b, _) in image_variants(img, rng).items()})
    with Clock() as c:
        base = [phash(a) for a in originals]
    per_s = len(originals) / c.cpu
    recall = {}
    keys, hashes = [f"o:{i}" for i in range(len(base))], list(base)
    for t in ("jpeg70", "resize80", "crop5"):
        hs = [phash(v[t]) for v in variants]
        recall[t] = float(np.mean([bin(a ^ b).count("1") <= 10 for a, b in zip(base, hs)]))
        keys += [f"{t}:{i}" for i in range(len(hs))]
        hashes += hs
    g = image_groups(keys, hashes, 10)
    grouped = {t: float(np.mean([g.get(f"{t}:{i}", f"{t}:{i}") == g.get(f"o:{i}", f"o:{i}") for i in range(len(base))])) for t in recall}
    wrong = sum(_index(k) != _index(r) for k, r in g.items())
    b = np.array(base, dtype=np.uint64)
    unrelated = int(np.triu(np.bitwise_count(b[:, None] ^ b[None, :]) <= 10, 1).sum())
    # grouping throughput: the real hashes among many random ones (a uniform worst case for
    # multi-index hashing: every chunk value equally full)
    many = np.concatenate([b, rng.integers(0, 2**63, args.hashes, dtype=np.uint64) * np.uint64(2)])
    with Clock() as cg:
        image_groups([str(i) for i in range(many.size)], many.tolist(), 10)
    return {"images": len(base), "phash_per_s_cpu": per_s, "within_10_bits": recall, "grouped_with_original": grouped,
            "wrong_group_members": wrong, "unrelated_pairs_within_10": unrelated,
            "unrelated_pairs": len(base) * (len(base) - 1) // 2,
            "grouping_hashes": int(many.size), "grouping_hashes_per_s_cpu": many.size / cg.cpu, "grouping_wall_s": cg.wall}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--near", type=float, default=0.1, help="fraction of the corpus that is planted near-duplicates")
    ap.add_argument("--repeat", type=int, default=2, help="mmvc runs (the best CPU time is reported)")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--hashes", type=int, default=100_000, help="random hashes added for the grouping throughput")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="text,images")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    res = {}
    if "text" in args.only:
        t = res["text"] = bench_text(args)
        print(f"text near-dup, {t['docs']:,} docs ({args.near:.0%} planted near-duplicates)")
        for name in ("mmvc", "datasketch"):
            r = t[name]
            print(f"  {name:10s} {r['docs_per_s_wall']:>9,.0f} docs/s wall {r['docs_per_s_cpu']:>9,.0f} docs/s cpu   "
                  f"recall {r['recall']:.4f}  precision {r['precision']:.4f}  ({r['flagged']} flagged, {r['planted']} planted)")
        print(f"  ratio mmvc/datasketch: {t['ratio_wall']:.1f}x wall, {t['ratio_cpu']:.1f}x cpu   (target >= 3x)")
    if "images" in args.only:
        r = res["images"] = bench_images(args)
        print(f"images, {r['images']} originals (thumbnails <= 256 px)")
        print(f"  pHash              {r['phash_per_s_cpu']:>9,.0f} images/s cpu")
        print("  within 10 bits     " + "  ".join(f"{k} {v:.3f}" for k, v in r["within_10_bits"].items()))
        print("  grouped            " + "  ".join(f"{k} {v:.3f}" for k, v in r["grouped_with_original"].items())
              + f"   wrong members {r['wrong_group_members']}")
        print(f"  unrelated pairs within 10 bits: {r['unrelated_pairs_within_10']} of {r['unrelated_pairs']:,}")
        print(f"  grouping           {r['grouping_hashes_per_s_cpu']:>9,.0f} hashes/s cpu ({r['grouping_hashes']:,} hashes, {r['grouping_wall_s']:.2f} s wall)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
