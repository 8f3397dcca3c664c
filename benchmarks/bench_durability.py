#!/usr/bin/env python3
"""What durable objects cost: ``mmvc add . && mmvc commit`` of many small files under each
``core.fsync_objects`` mode, and the ratio to the mode that never flushes.

* ``never``: objects are left to the OS's write-back (a power loss can lose objects a ref names);
* ``batch`` (the default): one ``syncfs`` of the store's filesystem (elsewhere an fsync per new
  file) before the index or a ref names the new objects;
* ``each``: every pack and loose object is fsynced as it is finished.

Each run starts from a fresh repository over the same files, after a ``sync`` so that no run
pays for flushing the files the benchmark itself created. Whole processes are timed (start-up
included); the median and the minimum of ``--repeats`` runs are printed (on a shared machine
the minimum is the least disturbed figure; the modes run interleaved so load hits each alike).

The batch flush is also timed on its own, inside one ``add`` run in this process (one hashing
process, so every flush happens here): the seconds spent in the flush beside the seconds of
the whole ``add``. That share is what durability costs, free of the noise other processes add
to whole-process timings.

    python benchmarks/bench_durability.py                  # 20,000 files of 200 bytes
    python benchmarks/bench_durability.py --files 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = ("never", "batch", "each")


def make_files(root: Path, n: int, size: int) -> None:
    for i in range(n):
        d = root / f"shard{i % 100:03d}"
        d.mkdir(exist_ok=True)
        body = (f"caption {i} " * (size // 10 + 1)).encode()[:size]
        (d / f"item{i:07d}.txt").write_bytes(body)


def run(mmvc: list[str], cwd: Path, *args: str) -> None:
    subprocess.run([*mmvc, *args], cwd=cwd, check=True, capture_output=True)


def one(mmvc: list[str], src: Path, work: Path, mode: str) -> float:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(src, work)
    run(mmvc, work, "init", "--ungated")
    run(mmvc, work, "config", "core.fsync_objects", mode)
    os.sync()  # nothing of the setup left to flush: the timed run pays only for its own writes
    t = time.perf_counter()
    run(mmvc, work, "add", ".")
    run(mmvc, work, "commit", "-m", "bench")
    return time.perf_counter() - t


def flush_share(src: Path, work: Path) -> tuple[float, float]:
    """(seconds spent in the batch flush, seconds of the whole add), inside one in-process add."""
    sys.path.insert(0, str(REPO_ROOT))
    from mmvc.core import store
    from mmvc.repo import Repo

    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(src, work)
    repo = Repo.init(str(work), ungated=True)
    real, spent = store.sync_written, [0.0]

    def timed(paths, where):
        t = time.perf_counter()
        real(paths, where)
        spent[0] += time.perf_counter() - t

    store.sync_written = timed
    try:
        os.sync()
        t = time.perf_counter()
        repo.add(["."], jobs=1, cwd=str(work))
        return spent[0], time.perf_counter() - t
    finally:
        store.sync_written = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=200, help="bytes per file")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", help="work folder (default: a temp folder on the same disk as /tmp)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    mmvc = [sys.executable, "-m", "mmvc.cli.main"]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{env_path}" if env_path else str(REPO_ROOT)
    base = Path(tempfile.mkdtemp(prefix="mmvc-durability-", dir=args.dir))
    try:
        src = base / "src"
        src.mkdir()
        make_files(src, args.files, args.size)
        times = {m: [] for m in MODES}
        for _ in range(args.repeats):
            for m in MODES:  # interleaved, so drift in the machine's load hits every mode alike
                times[m].append(one(mmvc, src, base / "work", m))
        shares = [flush_share(src, base / "work") for _ in range(args.repeats)]
        med = {m: statistics.median(v) for m, v in times.items()}
        low = {m: min(v) for m, v in times.items()}
        result = {"files": args.files, "size": args.size, "repeats": args.repeats, "seconds": times, "median": med, "min": low,
                  "batch_vs_never": {"median": med["batch"] / med["never"], "min": low["batch"] / low["never"]},
                  "each_vs_never": {"median": med["each"] / med["never"], "min": low["each"] / low["never"]},
                  "flush_in_add": [{"flush_s": f, "add_s": a, "share": f / a} for f, a in shares]}
        if args.json:
            print(json.dumps(result, indent=2))
            return
        print(f"add + commit of {args.files:,} files of {args.size} bytes, {args.repeats} runs per mode")
        for m in MODES:
            print(f"  fsync_objects = {m:<5}  median {med[m]:7.2f} s  min {low[m]:7.2f} s   ({', '.join(f'{t:.2f}' for t in times[m])})")
        for m in ("batch", "each"):
            r = result[f"{m}_vs_never"]
            print(f"  {m} / never = {r['median']:.3f} (medians), {r['min']:.3f} (minimums)")
        share = statistics.median(f / a for f, a in shares)
        print(f"  the batch flush inside one add (one process): {', '.join(f'{f:.3f} s of {a:.2f} s' for f, a in shares)}"
              f"; median share {share:.1%}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
