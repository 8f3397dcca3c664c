#!/usr/bin/env python3
"""Evals at scale: `mmvc log --evals -n 1000` over 1,000 versions with 10 evals each (target
≤ 0.5 s), and `mmvc eval compare` of two of them (target ≤ 0.2 s).

Setup (not timed): one real version made with `add` + `commit`, then --versions - 1 more commits
of the same tree and --evals evals per version (three names, several runs each, 12 metrics), all
written through the library in a few packs. Each command is then timed as a whole process and in
process (the library call alone, without the interpreter's start), median of --repeats, in two
states of the store: as written, and after `mmvc gc` has folded everything into one pack. The
first `log --evals` after the evals were written builds the summary cache
(.mmvc/cache/eval-summaries.bin) and is timed on its own ("cold cache").

    python benchmarks/bench_evals.py [--versions 1000] [--evals 10] [--repeats 5]
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

NAMES = ("mmlu", "hellaswag", "gsm8k")


def median(xs):
    return sorted(xs)[len(xs) // 2]


def build(root: Path, versions: int, evals: int) -> list[str]:
    """``versions`` commits on main (oldest first), each with ``evals`` evals."""
    from mmvc.core.evals import Eval
    from mmvc.core.objects import Commit, Gate, Signature
    from mmvc.repo import Repo

    shutil.rmtree(root, ignore_errors=True)
    repo = Repo.init(str(root), ungated=True)
    (root / "a.txt").write_text("one item\n")
    repo.add([str(root / "a.txt")])
    first = repo.commit("v0").oid
    tree = repo.read_commit(first).tree
    commits = [first]
    with repo.store.writer() as w:
        for i in range(1, versions):
            who = Signature("bench", "bench@example.com", 1700000000 + i, 0)
            commits.append(w.put_bytes(Commit(tree, (commits[-1],), who, who, f"v{i}\n", Gate("ungated")).encode()))
    repo.refs.update("refs/heads/main", commits[-1], first, "bench: history", "bench")
    rng = random.Random(7)
    refs = []
    with repo.store.writer() as w:
        for n, c in enumerate(commits):
            for k in range(evals):
                name = NAMES[k % len(NAMES)]
                metrics = {f"{t}.{m}": round(rng.uniform(0.2, 0.9), 4) for t in ("stem", "humanities", "social", "other")
                           for m in ("acc", "acc_norm", "acc_stderr")}
                e = Eval(commit=c, name=name, metrics=metrics, author=Signature("bench", "bench@example.com", 1700000000 + n * 100 + k, 0),
                         better={"stem.acc": "higher"}, model=f"model-{n}", run=f"run-{n}-{k}")
                refs.append((c, w.put_bytes(e.encode())))
    for c, o in refs:  # what `eval add` leaves: one ref file per eval (reflogs left out: not read by these commands)
        path = Path(repo.layout.eval(c, o))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(o + "\n")
    return commits


def timed_process(cmd, cwd) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def timed_call(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(root: Path, mmvc: list[str], commits: list[str], versions: int, repeats: int) -> dict:
    from mmvc.repo import Repo

    a, b = commits[-2], commits[-1]

    def log_in_process():
        entries = list(Repo(str(root)).log("HEAD", max_count=versions, evals=True))
        assert len(entries) == versions and all(e.evals for e in entries)

    def compare_in_process():
        c = Repo(str(root)).compare_evals(a, b)
        assert c.rows

    cache = Path(Repo(str(root)).layout.eval_summaries)
    if cache.exists():
        cache.unlink()
    out = {
        "log_evals_cold_cache_process_s": timed_process([*mmvc, "log", "--evals", "--oneline", "-n", str(versions)], root),
        "log_evals_process_s": median([timed_process([*mmvc, "log", "--evals", "--oneline", "-n", str(versions)], root)
                                       for _ in range(repeats)]),
        "log_evals_in_process_s": median([timed_call(log_in_process) for _ in range(repeats)]),
        "log_plain_process_s": median([timed_process([*mmvc, "log", "--oneline", "-n", str(versions)], root) for _ in range(repeats)]),
        "compare_process_s": median([timed_process([*mmvc, "eval", "compare", a, b], root) for _ in range(repeats)]),
        "compare_in_process_s": median([timed_call(compare_in_process) for _ in range(repeats)]),
        "startup_process_s": median([timed_process([*mmvc, "--version"], root) for _ in range(repeats)]),
    }
    out["packs"] = len([n for n in os.listdir(root / ".mmvc" / "objects" / "pack") if n.endswith(".idx")])
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--evals", type=int, default=10, help="evals per version")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workdir", default=str(BENCH.parent / "bench-work" / "evals"))
    ap.add_argument("--mmvc", default=f"{sys.executable} -m mmvc.cli.main", help="how to run mmvc (default: this python)")
    a = ap.parse_args()
    root = Path(a.workdir) / "repo"
    mmvc = a.mmvc.split()
    t = time.perf_counter()
    commits = build(root, a.versions, a.evals)
    setup_s = time.perf_counter() - t
    results = {"versions": a.versions, "evals_per_version": a.evals, "setup_s": round(setup_s, 1),
               "as_written": measure(root, mmvc, commits, a.versions, a.repeats)}
    subprocess.run([*mmvc, "gc"], cwd=root, check=True, capture_output=True)
    results["after_gc"] = measure(root, mmvc, commits, a.versions, a.repeats)
    print(json.dumps(results, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
