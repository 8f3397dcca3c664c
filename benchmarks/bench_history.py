#!/usr/bin/env python3
"""History operations at scale: branch, switch, full checkout (beside `dvc checkout`) and merge.

* branch: `mmvc branch NEW` on a synthesised 1,000,000-item version (target < 0.2 s).
* merge: two branches that each change 1,000 items of that version (target < 1 s).
* switch: between two real 200,000-file versions that differ by 1,000 files (target < 2 s).
* full checkout: every file of the 200,000-file version deleted, then `mmvc restore .`, beside
  `dvc checkout` of the same files after the same deletion (target: at least 3x faster).

Each command is timed as a whole process (median of --repeats). Setup is not timed.

    python benchmarks/bench_history.py [--items 1000000] [--files 200000] [--changes 1000]
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

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_commit_scale import synth_version  # noqa: E402


def timed(cmd, cwd, env=None) -> float:
    t = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def median(xs):
    return sorted(xs)[len(xs) // 2]


def bench_branch_and_merge(work: Path, mmvc: str, n: int, k: int, repeats: int) -> dict:
    root = work / "synth"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    keys = synth_version(root, n, seed=1)
    branch = median([timed([mmvc, "branch", f"b{i}"], root) for i in range(repeats)])
    rng = random.Random(3)
    left, right = rng.sample(keys, k), rng.sample(keys, k)
    for name, changed in (("left", left), ("right", right)):
        subprocess.run([mmvc, "switch", "-c", name, "main"], cwd=root, check=True, capture_output=True)
        for key in changed:
            p = root / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{name} {key}\n")
        subprocess.run([mmvc, "add", *changed], cwd=root, check=True, capture_output=True)
        subprocess.run([mmvc, "commit", "-m", name], cwd=root, check=True, capture_output=True)
        for key in changed:
            (root / key).unlink()
    subprocess.run([mmvc, "switch", "left"], cwd=root, check=True, capture_output=True)
    strategy = ["--strategy", "theirs"]  # keys picked on both sides (if any) take the other side
    merge = timed([mmvc, "merge", "right", *strategy], root)
    shutil.rmtree(root, ignore_errors=True)
    return {"items": n, "branch_s": round(branch, 3), "merge_s": round(merge, 3), "changes_per_side": k}


def make_files(root: Path, files: int) -> list[str]:
    keys = []
    for i in range(files):
        d = root / f"d{i % 200:03d}"
        if i < 200:
            d.mkdir(parents=True, exist_ok=True)
        key = f"d{i % 200:03d}/f{i:07d}.txt"
        (root / key).write_text(f"caption {i} " * 40)
        keys.append(key)
    return keys


def bench_switch_checkout(work: Path, mmvc: str, files: int, k: int, repeats: int, dvc: Path | None) -> dict:
    root = work / "tree"
    shutil.rmtree(root, ignore_errors=True)
    (root / "data").mkdir(parents=True)
    keys = make_files(root / "data", files)
    pristine = work / "pristine"
    shutil.rmtree(pristine, ignore_errors=True)
    shutil.copytree(root / "data", pristine)
    subprocess.run([mmvc, "init", "--ungated"], cwd=root, check=True, capture_output=True)
    subprocess.run([mmvc, "add", "data"], cwd=root, check=True, capture_output=True)
    subprocess.run([mmvc, "commit", "-m", "v1"], cwd=root, check=True, capture_output=True)
    subprocess.run([mmvc, "switch", "-c", "v2"], cwd=root, check=True, capture_output=True)
    for key in random.Random(5).sample(keys, k):
        (root / "data" / key).write_text("changed\n")
    subprocess.run([mmvc, "add", "data"], cwd=root, check=True, capture_output=True)
    subprocess.run([mmvc, "commit", "-m", "v2"], cwd=root, check=True, capture_output=True)
    switches = []
    for _ in range(repeats):
        switches.append(timed([mmvc, "switch", "main"], root))
        switches.append(timed([mmvc, "switch", "v2"], root))
    out = {"files": files, "differing": k, "switch_s": round(median(switches), 3)}

    def wipe(folder: Path):
        for d in folder.iterdir():
            if d.is_dir():
                shutil.rmtree(d)
    restores = []
    for _ in range(repeats):
        wipe(root / "data")
        restores.append(timed([mmvc, "restore", "data"], root))
    out["mmvc_full_checkout_s"] = round(median(restores), 3)
    shutil.rmtree(root, ignore_errors=True)

    if dvc is not None:
        droot = work / "dvc"
        shutil.rmtree(droot, ignore_errors=True)
        droot.mkdir()
        shutil.copytree(pristine, droot / "data")
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(droot / ".dvc-site-cache")}
        subprocess.run([dvc, "init", "--no-scm"], cwd=droot, env=env, check=True, capture_output=True)
        subprocess.run([dvc, "config", "core.check_update", "false"], cwd=droot, env=env, check=True, capture_output=True)
        subprocess.run([dvc, "add", "data"], cwd=droot, env=env, check=True, capture_output=True)
        dvc_runs = []
        for _ in range(repeats):
            wipe(droot / "data")
            dvc_runs.append(timed([dvc, "checkout"], droot, env))
        out["dvc_full_checkout_s"] = round(median(dvc_runs), 3)
        out["checkout_ratio_dvc_over_mmvc"] = round(out["dvc_full_checkout_s"] / out["mmvc_full_checkout_s"], 2)
        shutil.rmtree(droot, ignore_errors=True)
    shutil.rmtree(pristine, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="synth,tree")
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "history"))
    ap.add_argument("--mmvc", default=str(BENCH.parent / ".venv" / "bin" / "mmvc"))
    ap.add_argument("--dvc", default=str(BENCH / ".venv-peers" / "bin" / "dvc"))
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    dvc = Path(a.dvc) if Path(a.dvc).exists() else None
    results = {}
    if "synth" in a.only:
        results["synth"] = bench_branch_and_merge(work, a.mmvc, a.items, a.changes, a.repeats)
    if "tree" in a.only:
        results["tree"] = bench_switch_checkout(work, a.mmvc, a.files, a.changes, a.repeats, dvc)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
