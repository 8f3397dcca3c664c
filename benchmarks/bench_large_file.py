#!/usr/bin/env python3
"""One large file into a version, flushed, beside ``cp`` + ``sync`` of the same file.

A file of --size random bytes is written and flushed once. Then --rounds rounds, the two runs
of a round back to back, each measured from a flushed start to a flushed end:

* ``cp FILE COPY && sync`` — the floor: the same bytes once more on the same disk;
* ``mmvc add --modality video FILE && mmvc commit -m big && sync`` in a fresh ungated repository
  whose working tree holds the file (a hard link to it), so the store is measured, not the gate.

Throughput is MiB per second; the ratio mmvc / cp is the median of the rounds' ratios (target
>= 0.7). Needs about three times --size of free disk.

    python benchmarks/bench_large_file.py                     # 2 GiB, 3 rounds
    python benchmarks/bench_large_file.py --size 512MiB --rounds 5 --mmvc .venv/bin/mmvc
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def flushed(cmds: list[list[str]], cwd: Path) -> float:
    """Seconds from a flushed start to a flushed end of ``cmds`` run one after another."""
    os.sync()
    t = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    os.sync()
    return time.perf_counter() - t


def main() -> int:
    from mmvc.ops.export import parse_size

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="2GiB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--mmvc", default=str(REPO_ROOT / ".venv" / "bin" / "mmvc"))
    a = ap.parse_args()
    size = parse_size(a.size)
    mib = size / (1 << 20)
    with tempfile.TemporaryDirectory(prefix="mmvc-bench-large-", dir=a.workdir) as tmp:
        work = Path(tmp)
        src = work / "big.bin"
        with open(src, "wb") as f:
            left = size
            while left:
                n = min(left, 64 << 20)
                f.write(os.urandom(n))
                left -= n
        rows = []
        for r in range(a.rounds):
            cp = flushed([["cp", str(src), str(work / "copy.bin")]], work)
            os.unlink(work / "copy.bin")
            repo = work / "repo"
            repo.mkdir()
            subprocess.run([a.mmvc, "init", "--ungated"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
            os.link(src, repo / "big.bin")
            mm = flushed([[a.mmvc, "add", "--modality", "video", "big.bin"], [a.mmvc, "commit", "-m", "big"]], repo)
            shutil.rmtree(repo)
            rows.append((cp, mm))
            print(f"round {r + 1}: cp + sync {cp:.2f} s ({mib / cp:.0f} MiB/s), mmvc add + commit + sync {mm:.2f} s "
                  f"({mib / mm:.0f} MiB/s), ratio {cp / mm:.2f}", flush=True)
    cp_m, mm_m = statistics.median(c for c, _ in rows), statistics.median(m for _, m in rows)
    print(f"median: cp + sync {mib / cp_m:.0f} MiB/s, mmvc {mib / mm_m:.0f} MiB/s, "
          f"ratio {statistics.median(c / m for c, m in rows):.2f} (target >= 0.7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
