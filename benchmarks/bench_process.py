#!/usr/bin/env python3
"""`mmvc process` on the planted benchmark: quality scores and the cost of a re-run.

Generates the planted folder (benchmarks/planted.py: exact copies, near duplicates of every
modality, corrupt files), runs the real CLI in a gated repository (`mmvc init`, `add`,
`process`, `process` again with nothing changed), reads `mmvc report --all --json` and scores
it against the truth: exact-duplicate recall (target 1.0), near-duplicate recall (>= 0.95) at
precision (>= 0.98), corrupt files rejected (all), and second-run time (< 5% of the first).

    python benchmarks/bench_process.py [--n 40] [--seed 0] [--clip PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import planted  # noqa: E402


def run(cmd, cwd) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return time.perf_counter() - t, r.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="originals per modality")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip", help="a local CLIP model folder (default: the clip family off)")
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "process"))
    ap.add_argument("--mmvc", default=str(BENCH.parent / ".venv" / "bin" / "mmvc"))
    a = ap.parse_args()
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    data = work / "repo"
    planted.generate(str(data), seed=a.seed, n_originals=a.n)
    truth = data / "truth.json"
    shutil.move(str(truth), str(work / "truth.json"))
    mmvc = a.mmvc
    run([mmvc, "init"], data)
    if a.clip:
        run([mmvc, "config", "process.models.image", a.clip], data)
    else:
        run([mmvc, "config", "process.families.clip", "false"], data)
    t_add, _ = run([mmvc, "add", "."], data)
    t_first, _ = run([mmvc, "process", "--json"], data)
    t_second, out = run([mmvc, "process", "--json"], data)
    second = json.loads(out)
    _, report = run([mmvc, "report", "--all", "--json"], data)
    rows = json.loads(report)
    scores = planted.score(str(work / "truth.json"), rows)
    result = {"items": len(rows), "add_s": round(t_add, 2), "process_first_s": round(t_first, 2),
              "process_second_s": round(t_second, 2), "second_over_first": round(t_second / t_first, 3),
              "second_run_decoded": second["decoded"], "scores": scores}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
