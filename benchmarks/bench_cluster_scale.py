#!/usr/bin/env python3
"""How `mmvc process` scales with the nodes of a Ray cluster (issue 12's target: 4 nodes ≥ 3.4×
one node, 85% of linear).

On one machine of at least 16 cores: a head node that runs nothing (`--num-cpus 0`) and 1, 2, 4
worker nodes of `--cpus-per-node` CPUs each, all on 127.0.0.1, each its own `ray start --block`
in a session of its own, stopped by killing those process groups (never `ray stop`). For each
size a fresh copy of one repository of distinct PNG pictures and texts is processed with
`mmvc process --ray-address` (the whole CPU pipeline: decode, gates, fingerprints, embedding on
CPUs, dedup), blobs shipped through Ray (`objects_from = "ray"`), or with `--remote URL` read from
that remote. Prints wall time, items/s and the speed-up over one node, and writes JSON.

    python benchmarks/bench_cluster_scale.py --images 20000 --texts 40000 --nodes 1,2,4 --cpus-per-node 4 \\
        [--hide] [--remote s3://bucket/prefix] [--json out.json]

Models: MiniLM-L6 and CLIP ViT-B/32 shapes built from their configs with random seeded weights
(throughput does not depend on weight values), under --workdir where every node sees them.
`--hide` starts worker nodes in their own mount namespace with a tmpfs over the repositories
(root and unshare needed), as the tests do. The cluster uses token authentication with a token
of its own, handed to mmvc through RAY_AUTH_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(root: str, images: int, texts: int, models: str, remote: str | None, jobs: int) -> None:
    from bench_process_device import build_repo

    from mmvc.core.config import set_value
    from mmvc.process.tiny_models import build_random_clip_b32, build_random_minilm

    os.makedirs(models, exist_ok=True)
    text, clip = os.path.join(models, "text"), os.path.join(models, "clip")
    if not os.path.exists(text):
        build_random_minilm(text, seed=0)
        build_random_clip_b32(clip, seed=0)
    repo = build_repo(root, images, texts, seed=7, jobs=jobs)
    set_value(repo, "process.models", "text", text)
    set_value(repo, "process.models", "image", clip)
    set_value(repo, "process", "objects_from", remote or "ray")
    if remote:
        set_value(repo, "remote.origin", "url", remote)


class Cluster:
    def __init__(self, root: str, hide: str | None):
        self.root, self.hide = root, hide
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.procs: list[subprocess.Popen] = []
        self.ray = os.path.join(os.path.dirname(sys.executable), "ray")

    def _start(self, argv: list[str], log: str) -> subprocess.Popen:
        p = subprocess.Popen(argv, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.root, log), "wb"))
        self.procs.append(p)
        return p

    def start(self, workers: int, cpus: int) -> None:
        self._start([self.ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port), "--num-cpus", "0",
                     "--temp-dir", os.path.join(self.root, "head"), "--include-dashboard=false", "--disable-usage-stats", "--block"],
                    "head.log")
        self.wait(1)
        for i in range(workers):
            cmd = (f"exec {self.ray} start --address {self.address} --node-ip-address 127.0.0.1 --num-cpus {cpus} --block "
                   f"--disable-usage-stats --temp-dir {self.root}/w{i}")
            if self.hide:
                argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"mount -t tmpfs tmpfs {self.hide} && {cmd}"]
            else:
                argv = ["sh", "-c", cmd]
            self._start(argv, f"w{i}.log")
        self.wait(1 + workers)

    def nodes(self) -> int:
        code = (f"import ray, logging; ray.init(address={self.address!r}, logging_level=logging.ERROR); "
                "print(sum(1 for n in ray.nodes() if n['Alive']))")
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        return int(out.stdout.split()[-1]) if out.returncode == 0 and out.stdout.split() else 0

    def wait(self, n: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.nodes() < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not reach {n} nodes (logs in {self.root})")
            time.sleep(1)

    def stop(self) -> None:
        for p in reversed(self.procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        self.procs = []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--texts", type=int, default=40000)
    ap.add_argument("--nodes", default="1,2,4")
    ap.add_argument("--cpus-per-node", type=int, default=4)
    ap.add_argument("--remote", help="an fsspec URL the workers read blobs from (default: through Ray)")
    ap.add_argument("--hide", action="store_true", help="worker nodes cannot see the repositories (root, unshare)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="mmvc-cluster-bench-")
    repos = os.path.join(work, "repos")
    os.makedirs(repos, exist_ok=True)
    pristine = os.path.join(repos, "pristine")
    if not os.path.exists(pristine):
        t = time.perf_counter()
        build(pristine, args.images, args.texts, os.path.join(work, "models"), args.remote, os.cpu_count() or 1)
        print(f"built {args.images} images + {args.texts} texts in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    items = args.images + args.texts
    results = []
    for n in [int(x) for x in args.nodes.split(",")]:
        root = os.path.join(repos, f"n{n}")
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(pristine, root, symlinks=True)
        cluster_dir = tempfile.mkdtemp(prefix="ray-", dir=work)
        cluster = Cluster(cluster_dir, repos if args.hide else None)
        try:
            cluster.start(n, args.cpus_per_node)
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", "from mmvc.cli.main import main; main()", "process", "--ray-address",
                                  cluster.address, "--json"], cwd=root, env={**cluster.env, "PYTHONPATH": str(REPO_ROOT)},
                                 capture_output=True, text=True)
            wall = time.perf_counter() - t
        finally:
            cluster.stop()
        if out.returncode != 0:
            sys.exit(f"process on {n} node(s) failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        res = json.loads(out.stdout)
        results.append({"nodes": n, "cpus": n * args.cpus_per_node, "items": items, "seconds": round(wall, 2),
                        "items_per_s": round(items / wall, 1), "stages": res.get("stages"), "ran_on": res.get("ran_on")})
        print(f"{n} node(s) x {args.cpus_per_node} CPUs: {wall:.1f}s, {items / wall:.0f} items/s", flush=True)
    base = results[0]["items_per_s"]
    for r in results:
        r["speedup"] = round(r["items_per_s"] / base, 2)
        print(f"nodes={r['nodes']:>2}  {r['items_per_s']:>8.0f} items/s  x{r['speedup']:.2f}  "
              f"({100 * r['speedup'] / (r['nodes'] / results[0]['nodes']):.0f}% of linear)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
