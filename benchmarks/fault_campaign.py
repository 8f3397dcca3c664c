#!/usr/bin/env python3
"""The fault campaign: kill every writing command (add, commit, switch, merge, gc, import, push)
with SIGKILL at seeded random moments and at its named failpoints, many times, and count what
issue 14's targets count (tests/faults/harness.py says what is checked after each kill):

* repositories failing fsck, committed versions changed or lost, temp files staged or committed;
* the next command failing (a lock, a half-done move or merge that needs a manual fix);
* interrupted work-tree moves not finished or undone (the work tree not holding HEAD's version).

    python benchmarks/fault_campaign.py --kills 1000 --jobs 8 --seed 1
    python benchmarks/fault_campaign.py --kills 50 --only switch,merge

Kills are spread evenly over the commands; one in five lands on a named failpoint where the
command has one. Exit status 1 when any kill broke a guarantee; every such kill is listed with
its seed and moment, which replay it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

FAILPOINTS = {"switch": ("worktree-file", 231, "worktree-index", 1), "merge": ("worktree-file", 330, "worktree-index", 1)}


def _one(args):
    from tests.faults.harness import SCENARIOS, kill_once

    name, template, seconds, workdir, seed, k = args
    scenario = SCENARIOS[name]
    scenario.template, scenario.seconds = template, seconds
    rng = random.Random(f"{seed}-{name}-{k}")
    failpoint = None
    if name in FAILPOINTS and rng.random() < 0.2:
        file_point, n_files, index_point, _ = FAILPOINTS[name]
        failpoint = f"{index_point}:1" if rng.random() < 0.2 else f"{file_point}:{rng.randint(1, n_files)}"
    out = kill_once(scenario, workdir, rng, failpoint=failpoint)
    return name, out.at, out.killed, out.problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="comma-separated commands (default: all)")
    ap.add_argument("--dir", help="work folder (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    from tests.faults.harness import SCENARIOS, measure

    names = args.only.split(",") if args.only else sorted(SCENARIOS)
    workdir = args.dir or tempfile.mkdtemp(prefix="mmvc-faults-")
    t0 = time.monotonic()
    for n in names:
        measure(SCENARIOS[n], workdir)
        print(f"{n:>8}: template ready, the command takes {SCENARIOS[n].seconds:.2f} s unkilled", file=sys.stderr)
    jobs = [(names[k % len(names)], SCENARIOS[names[k % len(names)]].template, SCENARIOS[names[k % len(names)]].seconds,
             workdir, args.seed, k) for k in range(args.kills)]
    per = Counter()
    killed = Counter()
    bad = []
    kinds = Counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done, (name, at, was_killed, problems) in enumerate(pool.map(_one, jobs), 1):
            per[name] += 1
            killed[name] += was_killed
            for p in problems:
                kinds[p.split(":", 1)[0].split(" after")[0][:60]] += 1
            if problems:
                bad.append({"command": name, "at": at, "seed": args.seed, "problems": problems})
            if done % 50 == 0:
                print(f"{done}/{args.kills} kills, {len(bad)} broke a guarantee", file=sys.stderr)
    result = {"kills": args.kills, "seed": args.seed, "seconds": round(time.monotonic() - t0, 1),
              "per_command": {n: {"runs": per[n], "killed_mid_way": killed[n]} for n in names},
              "broken": len(bad), "problem_kinds": dict(kinds), "failures": bad[:50]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"fault campaign: {args.kills} kills (seed {args.seed}) in {result['seconds']} s")
        for n in names:
            print(f"  {n:>8}: {per[n]:>5} runs, {killed[n]:>5} killed mid-way (the rest finished first)")
        print(f"  kills that broke a guarantee: {len(bad)}")
        for k, v in kinds.most_common():
            print(f"    {v:>5}  {k}")
        for b in bad[:20]:
            print(f"  {b['command']} killed at {b['at']}: {b['problems']}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
