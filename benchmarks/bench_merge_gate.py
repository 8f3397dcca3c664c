#!/usr/bin/env python3
"""The gate of merges at scale: two branches each adding K captions onto an N-item version.

Setup (not timed): a synthesised N-item version (as bench_commit_scale builds it), made gated;
the feature cache holds N rows per stage for it (planted: random ids, no payload, which is what
a merge reads of them: the id column of every cache part); two branches each add K new captions,
run the real `mmvc process` (bundled MiniLM, in-process) and commit. Then `mmvc merge right` is
timed as a whole process on fresh copies of that state, with the gate (gated repository) and
without it (the same repository switched to ungated), --repeats times each, medians reported;
and the gate alone (``curate_merge`` on the merge's two sides, in a fresh interpreter). Target: ≤ 2 s with the gate at N = 1,000,000, K = 1,000.

    python benchmarks/bench_merge_gate.py [--items 1000000] [--adds 1000] [--repeats 3] [--mmvc "mmvc"]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_commit_scale import synth_version  # noqa: E402
from bench_small_process import caption  # noqa: E402


def run(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-1000:]}{r.stderr[-3000:]}")
    return time.perf_counter() - t


def plant_cache(root: Path, n: int, seed: int) -> None:
    """N rows in the prep and text-embedding caches under the repository's current stage hashes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmvc.process.config import ProcessConfig
    from mmvc.repo import Repo

    repo = Repo(str(root))
    cfg = ProcessConfig.load(repo)
    rng = np.random.default_rng(seed)
    oids = pa.array([bytes(r).hex() for r in rng.integers(0, 256, (n, 32), dtype=np.uint8)], pa.string())
    nulls = pa.nulls(n)
    for stage, table in (
        ("prep", pa.table({"oid": oids, "status": pa.array(["ok"] * n), "text": nulls.cast(pa.string()),
                           "phash": nulls.cast(pa.int64())})),
        ("embed_text", pa.table({"oid": oids, "vector": pa.nulls(n, pa.list_(pa.float32(), 384))})),
    ):
        folder = root / ".mmvc" / "process" / "cache" / stage / cfg.stage_hash("gates" if stage == "prep" else stage)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"planted-{n}.parquet")


GATE_ONLY = """
import json, sys, time
from mmvc.core.diff import diff_trees
from mmvc.ops.gate import curate_merge
from mmvc.ops.merge import merge_base
from mmvc.repo import Repo
repo = Repo(sys.argv[1])
ours, theirs = repo.resolve("HEAD"), repo.resolve("right")
trees = [repo.read_commit(c).tree for c in (merge_base(repo, ours, theirs), ours, theirs)]
sides = [[b for _, _, b in diff_trees(repo.tree, trees[0], t) if b is not None] for t in trees[1:]]
t = time.perf_counter()
pairs = curate_merge(repo, *sides)
print(json.dumps({"gate_s": time.perf_counter() - t, "pairs": len(pairs), "sides": [len(x) for x in sides]}))
"""


def gate_only(python: str, repo: Path) -> dict:
    """``curate_merge`` alone, in a fresh interpreter (its imports included), on the merge's two sides."""
    r = subprocess.run([python, "-c", GATE_ONLY, str(repo)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--adds", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "merge-gate"))
    ap.add_argument("--mmvc", default=str(BENCH.parent / ".venv" / "bin" / "mmvc"), help="the mmvc command (split like a shell)")
    ap.add_argument("--python", default=sys.executable, help="an interpreter that imports mmvc, to time the gate alone")
    ap.add_argument("--keep", action="store_true", help="keep the set-up repository (WORKDIR/pristine)")
    a = ap.parse_args()
    mmvc = shlex.split(a.mmvc)
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    root = work / "pristine"
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    synth_version(root, a.items, a.seed)
    for args in (["config", "process.gated", "true"], ["config", "process.families.clip", "false"]):
        run(mmvc + args, root)
    plant_cache(root, a.items, a.seed)
    rng = random.Random(a.seed)
    process_s = {}
    for side in ("left", "right"):
        run(mmvc + ["switch", "-c", side, "main"], root)
        folder = root / f"new-{side}"
        folder.mkdir()
        for i in range(a.adds):
            (folder / f"{i:05d}.txt").write_text(caption(rng))
        run(mmvc + ["add", folder.name], root)
        process_s[side] = round(run(mmvc + ["process"], root), 1)
        run(mmvc + ["commit", "-m", f"{a.adds} captions on {side}"], root)
    run(mmvc + ["switch", "left"], root)
    setup = time.perf_counter() - t0

    timings: dict[str, list[float]] = {"gated": [], "ungated": []}
    alone = [gate_only(a.python, root) for _ in range(a.repeats)]
    assert all(g["pairs"] == 0 and g["sides"] == [a.adds, a.adds] for g in alone), alone
    for r in range(a.repeats):
        for mode in ("gated", "ungated") if r % 2 == 0 else ("ungated", "gated"):
            copy = work / f"{mode}-{r}"
            shutil.copytree(root, copy, symlinks=True)
            if mode == "ungated":
                run(mmvc + ["config", "process.gated", "false"], copy)
            timings[mode].append(run(mmvc + ["merge", "right", "-m", "merge"], copy))
            listed = len([p for p in os.listdir(copy / "new-right")])
            assert listed == a.adds, listed
            shutil.rmtree(copy)
    result = {"command": "python benchmarks/bench_merge_gate.py " + " ".join(sys.argv[1:]), "items": a.items,
              "adds_per_side": a.adds, "setup_s": round(setup, 1), "process_per_side_s": process_s,
              "merge_gated_s": [round(x, 3) for x in timings["gated"]], "merge_ungated_s": [round(x, 3) for x in timings["ungated"]],
              "merge_gated_median_s": round(median(timings["gated"]), 3),
              "merge_ungated_median_s": round(median(timings["ungated"]), 3)}
    result["gate_s_by_difference"] = round(result["merge_gated_median_s"] - result["merge_ungated_median_s"], 3)
    result["gate_alone_s"] = [round(g["gate_s"], 3) for g in alone]
    result["gate_alone_median_s"] = round(median([g["gate_s"] for g in alone]), 3)
    result["target_met"] = result["merge_gated_median_s"] <= 2.0
    print(json.dumps(result, indent=1))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
