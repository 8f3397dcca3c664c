#!/usr/bin/env python3
"""Does a diff cost what changed? Time ``mmvc diff A B --json`` between two versions that differ
by K items, for a large and a small N, and print the ratio; then, optionally, ``dvc diff`` beside
``mmvc diff`` on the same real files at a smaller size.

The two N-item versions are synthesised through the library (blobs into a pack, the first tree
built directly, the second made from it by ``apply_changes``, as a commit would), so that no
time goes into creating a million files; nothing of that is timed. What is timed is the whole
``mmvc diff`` process, start-up included, with its JSON sent to /dev/null: median of --repeats,
after one untimed run, with Python's bytecode cache on as in a user's installation.

The changes are a third modified, a third removed and a third added, at random paths.

    python benchmarks/bench_diff.py                         # N = 1,000,000 and 10,000, K = 1,000
    python benchmarks/bench_diff.py --large 200000 --peer-files 5000
    python benchmarks/bench_diff.py --peer-files 0          # no dvc run

The peer run (``--peer-files``, default 10,000 files, --changes of them changed) builds real
files once, then in two fresh copies: ``git init`` + ``dvc init`` + ``dvc add data`` + ``git
commit``, change the files, again; and ``mmvc init --ungated`` + ``mmvc add`` + ``mmvc commit``,
change the files, again. It then times ``dvc diff --json HEAD~1 HEAD`` and
``mmvc diff --json HEAD~1 HEAD``. DVC needs the peers' venv (benchmarks/setup.sh).
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


def synth_pair(root: Path, n: int, k: int, seed: int) -> None:
    """A repository with branch ``a`` (n items) and ``b`` = ``main`` (a with k changes)."""
    from mmvc.core.manifest import ManifestEntry
    from mmvc.core.modality import AUDIO, IMAGE, TEXT
    from mmvc.core.objects import Commit, Gate, Signature
    from mmvc.repo import Repo

    repo = Repo.init(str(root), ungated=True)
    mods = (TEXT, IMAGE, AUDIO)
    keys = sorted(f"shard{i % 1000:04d}/item{i:08d}" for i in range(n))
    rng = random.Random(seed)
    sig = Signature("bench", "bench@example.invalid", 1700000000, 0)
    with repo.store.writer() as w:
        def item(key: str, version: int) -> ManifestEntry:
            data = f"content of {key} v{version} seed {seed}\n".encode()
            return ManifestEntry(key, w.put_bytes(data), len(data), mods[int(key[-1]) % 3])

        tree_a = repo.tree.build((item(key, 0) for key in keys), w)
        touched = rng.sample(keys, 2 * k // 3)
        changes = {key: item(key, 1) for key in touched[: k // 3]}
        changes.update(dict.fromkeys(touched[k // 3 :]))
        for j in range(k - len(changes)):
            key = f"shard{j % 1000:04d}/new{j:08d}"
            changes[key] = item(key, 0)
        tree_b = repo.tree.apply_changes(tree_a, sorted(changes.items()), w)
        commit_a = w.put_bytes(Commit(tree_a, (), sig, sig, f"{n} items\n", Gate("ungated")).encode())
        commit_b = w.put_bytes(Commit(tree_b, (commit_a,), sig, sig, f"{k} changes\n", Gate("ungated")).encode())
    repo.refs.update("refs/heads/a", commit_a, None)
    repo.refs.update("refs/heads/b", commit_b, None)
    repo.refs.update("refs/heads/main", commit_b, None)


def user_env() -> dict:
    """The environment a user runs mmvc in: bytecode cached (a first, untimed run writes it)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: list, cwd: Path, env: dict | None = None) -> float:
    t = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(cmd, cwd=cwd, env=env or user_env(), check=True, stdout=devnull, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def measure(workdir: Path, n: int, k: int, mmvc: str, seed: int, repeats: int) -> dict:
    root = workdir / f"v{n}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t = time.perf_counter()
    synth_pair(root, n, k, seed)
    setup = time.perf_counter() - t
    out = subprocess.run([mmvc, "diff", "a", "b", "--json"], cwd=root, env=user_env(), check=True, capture_output=True).stdout
    found = len(json.loads(out)["changes"])
    runs = [timed([mmvc, "diff", "a", "b", "--json"], root) for _ in range(repeats)]
    shutil.rmtree(root, ignore_errors=True)
    return {"items": n, "changes": k, "changes_reported": found, "setup_s": round(setup, 1),
            "diff_s": round(median(runs), 4), "runs": [round(r, 4) for r in runs]}


# --------------------------------------------------------------------------- the peer


def dvc_env(workdir: Path) -> dict:
    env = dict(os.environ)
    env.update(DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(workdir / ".dvc-site-cache"),
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
    return env


def run(cmd: list, cwd: Path, env: dict | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)


def write_files(data: Path, n: int, seed: int, version: dict[int, int]) -> None:
    for i in range(n):
        p = data / f"shard{i % 100:03d}" / f"item{i:06d}.txt"
        v = version.get(i, 0)
        if v < 0:
            p.unlink(missing_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"caption {i} v{v} seed {seed}\n")


def measure_peer(workdir: Path, n: int, k: int, mmvc: str, dvc: Path, seed: int, repeats: int) -> dict:
    """The same n real files and the same k changes, versioned by dvc (+git) and by mmvc."""
    rng = random.Random(seed)
    touched = rng.sample(range(n), 2 * k // 3)
    second = {i: 1 for i in touched[: k // 3]}
    second.update({i: -1 for i in touched[k // 3 :]})
    extra = n + (k - len(second))
    second.update({i: 0 for i in range(n, extra)})
    res = {"files": n, "changes": k}
    env = dvc_env(workdir)
    for tool in ("mmvc", "dvc"):
        root = workdir / f"peer-{tool}"
        shutil.rmtree(root, ignore_errors=True)
        (root / "data").mkdir(parents=True)
        write_files(root / "data", n, seed, {})
        if tool == "dvc":
            run(["git", "init", "-q"], root, env)
            run([dvc, "init", "-q"], root, env)
            run([dvc, "config", "core.autostage", "true"], root, env)
            run([dvc, "add", "data"], root, env)
            run(["git", "add", "-A"], root, env)
            run(["git", "commit", "-qm", "v1"], root, env)
        else:
            run([mmvc, "init", "--ungated"], root)
            run([mmvc, "add", "data"], root)
            run([mmvc, "commit", "-m", "v1"], root)
        write_files(root / "data", extra, seed, second)
        if tool == "dvc":
            run([dvc, "add", "data"], root, env)
            run(["git", "add", "-A"], root, env)
            run(["git", "commit", "-qm", "v2"], root, env)
            cmd = [dvc, "diff", "--json", "HEAD~1", "HEAD"]
        else:
            run([mmvc, "add", "data"], root)
            run([mmvc, "commit", "-m", "v2"], root)
            cmd = [mmvc, "diff", "--json", "HEAD~1", "HEAD"]
        run(cmd, root, env if tool == "dvc" else user_env())  # warm-up, untimed
        runs = [timed(cmd, root, env if tool == "dvc" else None) for _ in range(repeats)]
        res[f"{tool}_diff_s"] = round(median(runs), 4)
        res[f"{tool}_runs"] = [round(r, 4) for r in runs]
        shutil.rmtree(root, ignore_errors=True)
    res["dvc/mmvc"] = round(res["dvc_diff_s"] / res["mmvc_diff_s"], 2)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--peer-files", type=int, default=10_000, help="files for the dvc comparison (0: skip it)")
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work" / "diff"))
    ap.add_argument("--mmvc", default=str(REPO_ROOT / ".venv" / "bin" / "mmvc"))
    ap.add_argument("--peers-venv", default=str(REPO_ROOT / "benchmarks" / ".venv-peers"))
    a = ap.parse_args()
    work = Path(a.workdir)
    small = measure(work, a.small, a.changes, a.mmvc, a.seed, a.repeats)
    large = measure(work, a.large, a.changes, a.mmvc, a.seed, a.repeats)
    report = {"small": small, "large": large}
    dvc = Path(a.peers_venv) / "bin" / "dvc"
    if a.peer_files:
        if dvc.exists() and shutil.which("git"):
            report["peer"] = measure_peer(work, a.peer_files, a.changes, a.mmvc, dvc, a.seed, a.repeats)
        else:
            print(f"dvc not found at {dvc} (or git missing): peer comparison skipped; run benchmarks/setup.sh", file=sys.stderr)
    print(json.dumps(report, indent=1))
    ratio = large["diff_s"] / small["diff_s"]
    print(f"\ndiff of {a.changes} changes between versions of {a.large:,} items: {large['diff_s']:.3f} s (target < 0.5 s)")
    print(f"diff of {a.changes} changes between versions of {a.small:,} items: {small['diff_s']:.3f} s")
    print(f"ratio large/small: {ratio:.2f} (target <= 2)")
    if "peer" in report:
        p = report["peer"]
        print(f"on {p['files']:,} real files, {p['changes']} changed: dvc diff {p['dvc_diff_s']:.3f} s, "
              f"mmvc diff {p['mmvc_diff_s']:.3f} s, dvc/mmvc {p['dvc/mmvc']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
