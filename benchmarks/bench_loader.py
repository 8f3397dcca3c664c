#!/usr/bin/env python3
"""The loader beside the ``webdataset`` library's own loader, reading a version straight from
the object store beside reading its items as individual files, and resume latency.

One ungated repository of --texts small text items (~1–8 KB) and --blobs binary items
(~--blob-size), exported with ``mmvc export --webdataset --shard-items --shard-items``. Then, in
one run:

1. **Loader throughput**, one full epoch through a torch DataLoader with --workers worker
   processes and batch --batch, samples/s (median of --repeats; worker start-up included):
   ``mmvc.loader.MMVCDataset`` (shuffled: shard order + intra-shard shuffle, shard BLAKE3
   checked, each sample's ``.json`` parsed) through ``mmvc.loader.DataLoader``, beside
   ``webdataset.WebDataset`` over the same shards, plain (no shuffle) and shuffled as its docs
   suggest (``shardshuffle=True`` and ``.shuffle(1000)``), through ``torch.utils.data.DataLoader``.
   Both hand out raw bytes.
2. **Version from the store vs individual files**: every item of the version, in the same
   order, in one process: ``MMVCDataset(repo=…, rev="HEAD")`` (no export) beside
   ``open(path).read()`` of each checked-out file. Page cache dropped before each (needs root;
   otherwise both are warm and the script says so), and again warm.
3. **Resume**: a state dict at 90% of the epoch; time from creating the dataset and loading the
   state to the first sample, cold cache, beside webdataset reaching the same sample by reading
   and dropping the ones before it (its way to resume).
4. **Large samples with workers**, for each of --large-counts (default 2,000 and 20,000) items of
   ~--large-size (default 200 KB), exported at the default shard size (256 MB): first one epoch
   in process (what an in-process evaluation before training does; workers forked after it once
   hung), then --repeats interleaved rounds of one epoch each through 2 DataLoader workers, batch
   --batch: mmvc shuffled and verified, beside webdataset plain and shuffled. Samples/s and the
   CPU seconds the epoch cost (the process and its workers, user + system), medians.

    python benchmarks/bench_loader.py                 # 16,000 texts + 4,000 blobs, 2 workers
    python benchmarks/bench_loader.py --skip-small --large-counts 2000   # section 4 alone, quick
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (the workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def epoch_mmvc(out: str, workers: int, batch: int) -> tuple[int, float]:
    from mmvc.loader import DataLoader, MMVCDataset

    t = time.perf_counter()
    ds = MMVCDataset(out, seed=1, allow_ungated=True)
    n = sum(len(b["__index__"]) for b in DataLoader(ds, batch_size=batch, num_workers=workers))
    return n, time.perf_counter() - t


def epoch_wds(urls: list[str], workers: int, batch: int, shuffled: bool) -> tuple[int, float]:
    import torch.utils.data as tud
    import webdataset as wds

    t = time.perf_counter()
    ds = wds.WebDataset(urls, shardshuffle=100 if shuffled else False, empty_check=False, seed=1 if shuffled else None)
    if shuffled:
        ds = ds.shuffle(1000)
    n = sum(len(b) for b in tud.DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=list))
    return n, time.perf_counter() - t


def setup(work: str, out: str, blobs: str, blob_size: str, texts: str, shard_items: str) -> None:
    from bench_export import make_repo, parse_size
    from mmvc.ops.export import export
    from mmvc.repo import Repo

    make_repo(Path(work), int(blobs), parse_size(blob_size), text_items=int(texts))
    export(Repo(work), out, shard_items=int(shard_items) or None, allow_ungated=True)


def make_export(tmp: str, name: str, blobs: int, blob_size: str, texts: int, shard_items: int) -> tuple[Path, str]:
    """(repository, export folder), made in a child process: committing writes the Lance
    catalog, and a process with Lance's threads must not fork DataLoader workers."""
    work = Path(tmp) / name
    work.mkdir()
    out = str(Path(tmp) / f"{name}-export")
    subprocess.run([sys.executable, __file__, "--setup", str(work), out, str(blobs), blob_size, str(texts), str(shard_items)],
                   check=True)
    return work, out


def large_samples(tmp: str, count: int, size: str, batch: int, repeats: int) -> None:
    from mmvc.loader import MMVCDataset

    _, out = make_export(tmp, f"large{count}", count, size, 0, 0)
    urls = sorted(str(p) for p in Path(out).glob("*.tar"))
    t = time.perf_counter()
    n = sum(1 for _ in MMVCDataset(out, shuffle=True, seed=1, allow_ungated=True))
    in_process = n / (time.perf_counter() - t)
    runs = (("mmvc (shuffled, verified)", lambda: epoch_mmvc(out, 2, batch)),
            ("webdataset (plain)", lambda: epoch_wds(urls, 2, batch, False)),
            ("webdataset (shuffled)", lambda: epoch_wds(urls, 2, batch, True)))
    rate: dict[str, list[float]] = {name: [] for name, _ in runs}
    cpu: dict[str, list[float]] = {name: [] for name, _ in runs}
    for r in range(repeats):
        for name, fn in runs[r % 3:] + runs[:r % 3]:
            c = cpu_seconds()
            got, dt = fn()
            assert got == count, (name, got)
            rate[name].append(got / dt)
            cpu[name].append(cpu_seconds() - c)
    med = {k: statistics.median(v) for k, v in rate.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\n4. {count} samples of ~{size} in {len(urls)} shards: one epoch in process first ({in_process:.0f} samples/s), "
          f"then 2 workers, batch {batch} (median of {repeats}, interleaved)")
    for k in med:
        print(f"   {k:<27} {med[k]:8.0f}/s  CPU {mcpu[k]:6.2f} s   runs: {', '.join(f'{x:.0f}' for x in rate[k])}")
    mm, plain, shuf = med[runs[0][0]], med[runs[1][0]], med[runs[2][0]]
    print(f"   ratio mmvc / webdataset plain: {mm / plain:.2f}  (target >= 1.2), shuffled: {mm / shuf:.2f}; "
          f"CPU webdataset plain / mmvc: {mcpu[runs[1][0]] / mcpu[runs[0][0]]:.2f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--setup":
        setup(*sys.argv[2:8])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=16000)
    ap.add_argument("--blobs", type=int, default=4000)
    ap.add_argument("--blob-size", default="20KB")
    ap.add_argument("--shard-items", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large-counts", default="2000,20000", help="section 4's sample counts ('' skips it)")
    ap.add_argument("--large-size", default="200KB")
    ap.add_argument("--skip-small", action="store_true", help="run section 4 alone")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmvc-bench-loader-") as tmp:
        if not args.skip_small:
            small(args, tmp)
        for count in [int(c) for c in args.large_counts.split(",") if c]:
            large_samples(tmp, count, args.large_size, args.batch, args.repeats)
    return 0


def small(args, tmp: str) -> None:
    work, out = make_export(tmp, "repo", args.blobs, args.blob_size, args.texts, args.shard_items)
    from mmvc.export.index import read_index
    from mmvc.export.target import ExportTarget
    from mmvc.repo import Repo

    repo = Repo(str(work))
    idx = read_index(ExportTarget(out))

    class res:  # noqa: N801
        samples, shards, bytes = idx.samples, len(idx.shards), idx.nbytes

    urls = sorted(str(p) for p in Path(out).glob("*.tar"))
    print(f"export: {res.samples} samples in {res.shards} shards, {res.bytes / 1e6:.1f} MB")

    # 1. loader throughput
    for workers in (args.workers, 0):
        rows = {"mmvc (shuffled)": [], "webdataset (plain)": [], "webdataset (shuffled)": []}
        for _ in range(args.repeats):
            for name, fn in (("mmvc (shuffled)", lambda w=workers: epoch_mmvc(out, w, args.batch)),
                             ("webdataset (plain)", lambda w=workers: epoch_wds(urls, w, args.batch, False)),
                             ("webdataset (shuffled)", lambda w=workers: epoch_wds(urls, w, args.batch, True))):
                n, dt = fn()
                assert n == res.samples, (name, n)
                rows[name].append(n / dt)
        med = {k: statistics.median(v) for k, v in rows.items()}
        print(f"\n1. one epoch, {workers} workers, batch {args.batch} (samples/s, median of {args.repeats})")
        for k, v in med.items():
            print(f"   {k:<24} {v:10.0f}   runs: {', '.join(f'{x:.0f}' for x in rows[k])}")
        print(f"   ratio mmvc / webdataset plain:    {med['mmvc (shuffled)'] / med['webdataset (plain)']:.2f}  (target >= 1.0)")
        print(f"   ratio mmvc / webdataset shuffled: {med['mmvc (shuffled)'] / med['webdataset (shuffled)']:.2f}")

    # 2. a version from the store vs its items as individual files
    from mmvc.loader import MMVCDataset

    order = [s["key"] for s in MMVCDataset(repo=repo, rev="HEAD", seed=1, shuffle=False, allow_ungated=True)]
    print(f"\n2. every item of the version in one process ({len(order)} items)")
    for cold in (True, False):
        if cold and not drop_caches():
            print("   (cannot drop the page cache without root: cold rows skipped)")
            continue
        store_t, open_t, files_t = [], [], []
        for r in range(args.repeats):
            if cold and r:
                drop_caches()
            t = time.perf_counter()
            n = 0
            ds = MMVCDataset(repo=Repo(str(work)), rev="HEAD", seed=1, shuffle=False, allow_ungated=True)
            t_open = time.perf_counter() - t  # resolving the version: its manifest, the recipe's order
            for s in ds:
                n += len(s["data"])
            store_t.append(time.perf_counter() - t)
            open_t.append(t_open)
            if cold:
                drop_caches()
            t = time.perf_counter()
            m = 0
            for k in order:  # the file side is handed its list of paths for free
                with open(os.path.join(work, k), "rb") as f:
                    m += len(f.read())
            files_t.append(time.perf_counter() - t)
            assert n == m
        t_store, t_files = statistics.median(store_t), statistics.median(files_t)
        t_iter = statistics.median([a - b for a, b in zip(store_t, open_t)])
        label = "cold cache" if cold else "warm cache"
        print(f"   {label}: store {t_store:.3f} s ({len(order) / t_store:.0f}/s; of which opening the version {statistics.median(open_t):.3f} s), "
              f"files {t_files:.3f} s ({len(order) / t_files:.0f}/s)")
        print(f"      store {t_files / t_store:.1f}x faster, reading alone {t_files / t_iter:.1f}x  (target >= 5x; "
              f"runs store {', '.join(f'{x:.3f}' for x in store_t)}; files {', '.join(f'{x:.3f}' for x in files_t)})")

    # 3. resume
    ds = MMVCDataset(out, seed=1, allow_ungated=True)
    at = int(res.samples * 0.9)
    state = ds.state_dict(delivered=at)
    cold = drop_caches()
    t = time.perf_counter()
    again = MMVCDataset(out, seed=1, allow_ungated=True)
    again.load_state_dict(state)
    first = next(iter(again))
    t_mmvc = time.perf_counter() - t
    assert first["__index__"] == at
    import webdataset as wds

    if cold:
        drop_caches()
    t = time.perf_counter()
    it = iter(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    for _ in range(at):
        next(it)
    next(it)
    t_wds = time.perf_counter() - t
    print(f"\n3. resume at sample {at} of {res.samples} ({'cold' if cold else 'warm'} cache): mmvc first sample after {t_mmvc:.3f} s "
          f"(target < 2 s); webdataset skipping to it {t_wds:.3f} s ({t_wds / t_mmvc:.1f}x)")


if __name__ == "__main__":
    sys.exit(main())
