#!/usr/bin/env python3
"""Does a commit cost what it changes? Time ``mmvc commit`` of K changed items on top of an
N-item version, for a large and a small N, and print the ratio.

The N-item base version is synthesised through the library (blobs into a pack, the tree and the
index base built directly: minutes of file creation saved, nothing timed). The K changes are
then real files staged by the real ``mmvc add`` and committed by the real ``mmvc commit``
command, each timed as a whole process.

Peak memory (``--peak N,N…``): for each N, N small text files in a fresh ungated repository,
``mmvc add`` of them, then the first ``mmvc commit`` of all N items; the peak RSS of each
process (``wait4``), which is flat in N when the commit streams its index.

    python benchmarks/bench_commit_scale.py                      # N = 1,000,000 and 10,000, K = 1,000
    python benchmarks/bench_commit_scale.py --large 200000 --small 10000 --changes 1000
    python benchmarks/bench_commit_scale.py --peak 20000,100000,200000   # peak RSS only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def synth_version(root: Path, n: int, seed: int) -> list[str]:
    """A repository whose HEAD holds n text items under 1000 folders; returns their keys."""
    from mmvc.core.index import IndexEntry
    from mmvc.core.modality import TEXT
    from mmvc.repo import Repo

    repo = Repo.init(str(root), ungated=True)
    keys = sorted(f"shard{i % 1000:04d}/item{i:08d}.txt" for i in range(n))
    entries = []
    with repo.store.writer() as w:
        for k in keys:
            data = f"caption for {k} seed {seed}\n".encode()
            entries.append(IndexEntry(k, w.put_bytes(data), len(data), TEXT, 0, ""))
        tree_root = repo.tree.build(entries, w)
        from mmvc.core.objects import Commit, Gate, Signature

        sig = Signature("bench", "bench@example.invalid", 1700000000, 0)
        commit = w.put_bytes(Commit(tree_root, (), sig, sig, f"{n} items\n", Gate("ungated")).encode())
    repo.refs.update("refs/heads/main", commit, None)
    idx = repo.load_index()
    idx.reset_to(entries)
    idx.write()
    return keys


def peak_rss(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one process."""
    t = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    return time.perf_counter() - t, usage.ru_maxrss / 1024


def measure_peak(workdir: Path, n: int, mmvc: str) -> dict:
    root = workdir / f"peak{n}"
    shutil.rmtree(root, ignore_errors=True)
    for i in range(n):
        d = root / "data" / f"f{i % 1000:04d}"
        if i < 1000:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"item{i:08d}.txt").write_text(f"caption number {i} about a river and a city\n")
    subprocess.run([mmvc, "init", "--ungated"], cwd=root, check=True, capture_output=True)
    add_s, add_mib = peak_rss([mmvc, "add", "data"], root)
    commit_s, commit_mib = peak_rss([mmvc, "commit", "-m", f"{n} items"], root)
    shutil.rmtree(root, ignore_errors=True)
    return {"items": n, "add_s": round(add_s, 2), "add_peak_mib": round(add_mib), "commit_s": round(commit_s, 2),
            "commit_peak_mib": round(commit_mib)}


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def measure(workdir: Path, n: int, k: int, mmvc: str, seed: int, repeats: int) -> dict:
    root = workdir / f"v{n}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t = time.perf_counter()
    keys = synth_version(root, n, seed)
    setup = time.perf_counter() - t
    rng = random.Random(seed)
    adds, commits = [], []
    for r in range(repeats):
        changed = rng.sample(keys, k)
        for key in changed:
            p = root / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"edited {r} {key}\n")
        adds.append(timed([mmvc, "add", *changed], root))
        commits.append(timed([mmvc, "commit", "-m", f"{k} changes"], root))
    shutil.rmtree(root, ignore_errors=True)
    return {"items": n, "changes": k, "setup_s": round(setup, 1), "add_s": sorted(adds)[len(adds) // 2],
            "commit_s": sorted(commits)[len(commits) // 2], "commit_runs": [round(c, 3) for c in commits]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work" / "commit-scale"))
    ap.add_argument("--mmvc", default=str(REPO_ROOT / ".venv" / "bin" / "mmvc"))
    ap.add_argument("--peak", default="", help="item counts whose first commit's peak RSS to measure, e.g. 20000,200000")
    a = ap.parse_args()
    work = Path(a.workdir)
    if a.peak:
        rows = [measure_peak(work, int(n), a.mmvc) for n in a.peak.split(",")]
        print(json.dumps(rows, indent=1))
        for r in rows:
            print(f"first commit of {r['items']:,} items: {r['commit_s']:.1f} s, peak {r['commit_peak_mib']} MiB (target <= 300 at 200,000); "
                  f"add {r['add_s']:.1f} s, peak {r['add_peak_mib']} MiB")
        return 0
    small = measure(work, a.small, a.changes, a.mmvc, a.seed, a.repeats)
    large = measure(work, a.large, a.changes, a.mmvc, a.seed, a.repeats)
    ratio = large["commit_s"] / small["commit_s"]
    print(json.dumps({"small": small, "large": large}, indent=1))
    print(f"\ncommit of {a.changes} changes on {a.large:,} items: {large['commit_s']:.3f} s (target < 1 s)")
    print(f"commit of {a.changes} changes on {a.small:,} items: {small['commit_s']:.3f} s")
    print(f"ratio large/small: {ratio:.2f} (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
