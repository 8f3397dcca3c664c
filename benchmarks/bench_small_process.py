#!/usr/bin/env python3
"""`mmvc process` of one new caption, beside the floor any tool pays for it.

A gated repository of a few hundred captions, all processed and committed; then, --repeats
times: one new caption is added and `mmvc process` is timed as a whole process, and beside it
(order alternating, so load drift hits both alike) a bare Python script that imports torch
and transformers, loads the same bundled MiniLM and embeds one sentence. Target: mmvc ≤ 1.5×
the floor (medians). Setup (the first `process`, commits) is not timed.

    python benchmarks/bench_small_process.py [--items 300] [--repeats 5] [--ray] [--mmvc "mmvc"] [--python PY]
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

FLOOR = """
import sys
import torch
from transformers import AutoModel, AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModel.from_pretrained(sys.argv[1]).eval()
batch = tok(["A small boat drifts past the lighthouse while gulls circle overhead."], return_tensors="pt", padding=True, truncation=True)
with torch.inference_mode():
    out = model(**batch).last_hidden_state
mask = batch["attention_mask"].unsqueeze(-1).float()
vec = torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)
assert vec.shape == (1, 384)
"""

WORDS = ("river valley market morning garden window forest harbor candle letter orange silver winter summer village "
         "station mountain painter teacher captain kitchen blanket lantern meadow pebble ribbon saddle thunder violin "
         "walnut anchor basket cellar dragon feather glacier hammer island jacket kettle ladder quiet bright narrow "
         "golden ancient gentle crowded distant").split()


def caption(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30))).capitalize() + ".\n"


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return time.perf_counter() - t


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "small-process"))
    ap.add_argument("--mmvc", default=str(BENCH.parent / ".venv" / "bin" / "mmvc"), help="the mmvc command (split like a shell)")
    ap.add_argument("--python", default=sys.executable, help="the interpreter of the floor script (mmvc's own)")
    ap.add_argument("--ray", action="store_true", help="force the Ray engine (process.in_process_max 0), for comparison")
    a = ap.parse_args()
    mmvc = shlex.split(a.mmvc)
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    (work / "t").mkdir(parents=True)
    rng = random.Random(a.seed)
    for i in range(a.items):
        (work / "t" / f"{i:05d}.txt").write_text(caption(rng))
    model = subprocess.run([a.python, "-c", "from mmvc.process.models import resolve_model; print(resolve_model(None, 'text'))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    for args in (["init"], ["config", "process.families.clip", "false"], ["add", "t"]):
        timed(mmvc + args, work)
    setup = timed(mmvc + ["process"], work)
    if a.ray:
        timed(mmvc + ["config", "process.in_process_max", "0"], work)
    timed(mmvc + ["commit", "-m", "base"], work)

    floor, ours, engines = [], [], []
    for r in range(a.repeats):
        (work / "t" / f"new{r:03d}.txt").write_text(caption(rng))
        timed(mmvc + ["add", f"t/new{r:03d}.txt"], work)
        runs = [("floor", [a.python, "-c", FLOOR, model]), ("mmvc", mmvc + ["process", "--json"])]
        for name, cmd in (runs if r % 2 == 0 else runs[::-1]):
            if name == "floor":
                floor.append(timed(cmd, work))
            else:
                t = time.perf_counter()
                out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True).stdout
                ours.append(time.perf_counter() - t)
                res = json.loads(out)
                engines.append(res["engine"])
                assert res["decoded"] == 1 and res["embedded"]["text"] == 1, res
        timed(mmvc + ["commit", "-m", f"caption {r}"], work)
    result = {"command": "python benchmarks/bench_small_process.py " + " ".join(sys.argv[1:]), "items": a.items,
              "first_process_s": round(setup, 2), "engines": sorted(set(engines)),
              "mmvc_process_s": [round(x, 2) for x in ours], "floor_s": [round(x, 2) for x in floor],
              "mmvc_median_s": round(median(ours), 2), "floor_median_s": round(median(floor), 2),
              "ratio": round(median(ours) / median(floor), 2)}
    result["target_met"] = result["ratio"] <= 1.5
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
