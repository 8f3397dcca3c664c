#!/usr/bin/env python3
"""How fast does `mmvc ui` answer on a large version? Times, over HTTP against the real server
(uvicorn in a thread of this process, on a free port):

- the grid page (100 items) deep inside an N-item version, cold (fresh server: node cache
  empty) and warm;
- the same page plus its 100 thumbnails with the thumbnail cache cold (every thumbnail decoded
  from a real PNG and written) and warm (read from .mmvc/ui/thumbs), fetched by 6 connections
  as a browser does;
- the diff page of two N-item versions that differ by K items (K/2 modified, K/4 added,
  K/4 removed).

The N-item version is synthesised through the library (blobs into a pack, the tree built
directly, as bench_commit_scale does): the items on the measured pages are distinct real PNGs
(64x64), every other item a small distinct blob. Nothing in the timing reads them.

    python benchmarks/bench_ui.py                          # N = 1,000,000, K = 1,000
    python benchmarks/bench_ui.py --items 200000 --changes 1000
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
PER_PAGE = 100


def png(i: int) -> bytes:
    from PIL import Image, ImageDraw

    rng = random.Random(i)
    img = Image.new("RGB", (64, 64), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = rng.randrange(48), rng.randrange(48)
        d.rectangle([x, y, x + 16, y + 16], fill=tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def synth(root: Path, n: int, k: int, pages: list[int], seed: int):
    """main~1: n image items; main: the same with k changed. Returns the repository."""
    from mmvc.core.manifest import ManifestEntry
    from mmvc.core.modality import IMAGE
    from mmvc.core.objects import Commit, Gate, Signature
    from mmvc.repo import Repo

    repo = Repo.init(str(root), ungated=True)
    keys = sorted(f"shard{i % 1000:04d}/img{i:08d}.png" for i in range(n))
    real = {i for p in pages for i in range((p - 1) * PER_PAGE, p * PER_PAGE)}
    sig = Signature("bench", "bench@example.invalid", 1700000000, 0)
    rng = random.Random(seed)
    with repo.store.writer() as w:
        entries = []
        for i, key in enumerate(keys):
            data = png(i) if i in real else f"placeholder {i}\n".encode()
            entries.append(ManifestEntry(key, w.put_bytes(data), len(data), IMAGE))
        root_a = repo.tree.build(entries, w)
        a = w.put_bytes(Commit(root_a, (), sig, sig, f"{n} items\n", Gate("ungated")).encode())
        picked = rng.sample(range(n), k)
        changes = []
        for j, i in enumerate(picked):
            if j < k // 4:
                changes.append((keys[i], None))  # removed
            else:
                data = png(n + j)
                key = keys[i] if j < 3 * k // 4 else f"added/new{j:06d}.png"
                changes.append((key, ManifestEntry(key, w.put_bytes(data), len(data), IMAGE)))
        changes.sort(key=lambda c: c[0])
        root_b = repo.tree.apply_changes(root_a, changes, w)
        b = w.put_bytes(Commit(root_b, (a,), sig, sig, f"{k} changes\n", Gate("ungated")).encode())
    repo.refs.update("refs/heads/main", b, None)
    return Repo(str(root))


class Server:
    def __init__(self, repo):
        from mmvc.ui.server import bind, make_server, url_of

        sock = bind("127.0.0.1", 0)
        self.base = url_of(sock).rstrip("/")
        self.server = make_server(repo, sock)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as r:
        assert r.status == 200, url
        return r.read()


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def page_with_thumbs(base: str, page: int, pool: ThreadPoolExecutor) -> float:
    def run():
        d = json.loads(get(f"{base}/api/grid?rev=main~1&page={page}"))
        get(f"{base}/grid?rev=main~1&page={page}")
        assert len(d["items"]) == PER_PAGE
        list(pool.map(lambda it: get(base + it["thumb"]), d["items"]))

    return timed(run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work" / "ui"))
    a = ap.parse_args()
    n_pages = a.items // PER_PAGE
    pages = sorted({n_pages // 2, n_pages - 1, 2})
    root = Path(a.workdir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t = time.perf_counter()
    repo = synth(root, a.items, a.changes, pages, a.seed)
    setup = time.perf_counter() - t
    deep = pages[1]
    out: dict = {"items": a.items, "changes": a.changes, "setup_s": round(setup, 1), "page": deep}

    srv = Server(repo)  # fresh: nothing cached
    grid = f"{srv.base}/grid?rev=main~1&page={deep}"
    out["grid_cold_s"] = round(timed(lambda: get(grid)), 4)
    out["grid_warm_s"] = round(sorted(timed(lambda: get(grid)) for _ in range(a.repeats))[a.repeats // 2], 4)
    diff = f"{srv.base}/diff?a=main~1&b=main"
    runs = [timed(lambda: get(diff)) for _ in range(a.repeats)]
    out["diff_first_s"], out["diff_s"] = round(runs[0], 4), round(sorted(runs)[a.repeats // 2], 4)
    with ThreadPoolExecutor(6) as pool:
        cold = []
        for p in pages:
            shutil.rmtree(repo.layout.ui_cache, ignore_errors=True)
            cold.append(page_with_thumbs(srv.base, p, pool))
        warm = [page_with_thumbs(srv.base, deep, pool) for _ in range(a.repeats)]
    out["page_and_thumbs_cold_s"] = round(sorted(cold)[len(cold) // 2], 3)
    out["page_and_thumbs_warm_s"] = round(sorted(warm)[a.repeats // 2], 3)
    srv.stop()
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=1))
    print(f"\ngrid page {deep} of a {a.items:,}-item version: warm {out['grid_warm_s'] * 1000:.0f} ms, "
          f"cold server {out['grid_cold_s'] * 1000:.0f} ms (target <= 150 ms warm)")
    print(f"page + 100 thumbnails: cache cold {out['page_and_thumbs_cold_s']:.2f} s (target <= 2 s), "
          f"warm {out['page_and_thumbs_warm_s']:.2f} s")
    print(f"diff page, {a.changes:,} changes between two {a.items:,}-item versions: {out['diff_s']:.2f} s (target <= 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
