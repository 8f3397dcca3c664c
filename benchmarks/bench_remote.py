#!/usr/bin/env python3
"""Push many small files to a real S3 server: mmvc beside `dvc push` and a per-file upload.

One run, one moto S3 server (server mode, its own process on 127.0.0.1), one generated
workload of N files of 8 KB with distinct contents. Each tool pushes the same files into its
own bucket:

  * mmvc:      `mmvc push` (packs of small objects; its own request counts from `--json`)
  * dvc:       `dvc push -j JOBS` with the dvc-s3 plugin (benchmarks/.venv-peers)
  * per-file:  one PutObject per file from JOBS threads (what `aws s3 sync` does)

Then mmvc's second push with nothing new (time and requests) and a metadata-only clone
(`mmvc clone --filter blob:none --no-checkout`) are timed. Ratios are printed at the end and
written as JSON. Run with mmvc's venv python (it needs boto3 and moto for the server):

    .venv/bin/python benchmarks/bench_remote.py --files 20000
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
MMVC = REPO_ROOT / ".venv" / "bin" / "mmvc"
DVC = BENCH_DIR / ".venv-peers" / "bin" / "dvc"
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **CREDS})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=64), **{
        "aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDS["AWS_DEFAULT_REGION"]})


def make_files(root: Path, n: int, size: int) -> None:
    data = root / "data"
    for i in range(n):
        d = data / f"{i // 1000:03d}"
        if i % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        head = f"file {i}\n".encode()
        (d / f"{i:07d}.txt").write_bytes(head + os.urandom((size - len(head)) // 2).hex().encode()[: size - len(head)])


def run(cmd, cwd, env) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return dt, p


def count_objects(s3, bucket: str) -> int:
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        n += page.get("KeyCount", 0)
    return n


def synth_repo(root: Path, n: int) -> None:
    """A repository whose one version holds ``n`` small distinct text items (built directly as a
    manifest, as bench_diff.py does: adding a million files is not what is measured here)."""
    sys.path.insert(0, str(REPO_ROOT))
    from mmvc.core.manifest import ManifestEntry
    from mmvc.core.modality import TEXT
    from mmvc.core.objects import Commit, Gate, Signature
    from mmvc.repo import Repo

    repo = Repo.init(str(root), ungated=True)
    sig = Signature("bench", "bench@example.invalid", 1700000000, 0)
    keys = sorted(f"shard{i % 1000:04d}/item{i:08d}.txt" for i in range(n))
    with repo.store.writer() as w:
        def item(key: str) -> ManifestEntry:
            data = f"caption of {key}\n".encode()
            return ManifestEntry(key, w.put_bytes(data), len(data), TEXT)

        tree = repo.tree.build((item(k) for k in keys), w)
        commit = w.put_bytes(Commit(tree, (), sig, sig, f"{n} items\n", Gate("ungated")).encode())
    repo.refs.update("refs/heads/main", commit, None)


def bench_metadata_clone(work: Path, s3, env: dict, n: int) -> dict:
    src = work / "big"
    t0 = time.perf_counter()
    synth_repo(src, n)
    print(f"built a {n}-item repository in {time.perf_counter() - t0:.1f}s", flush=True)
    s3.create_bucket(Bucket="big")
    run([MMVC, "remote", "add", "origin", "s3://big/repo"], src, env)
    t, p = run([MMVC, "push", "--json"], src, env)
    print(f"mmvc push of {n} items: {t:.2f}s, requests {json.loads(p.stdout)['requests']}", flush=True)
    t, p = run([MMVC, "clone", "--filter", "blob:none", "--no-checkout", "--json", "s3://big/repo", work / "big-ci"], work, env)
    doc = json.loads(p.stdout)
    print(f"mmvc clone --filter blob:none --no-checkout of {n} items: {t:.2f}s, requests {doc['fetch']['requests']}", flush=True)
    t2, p = run([MMVC, "diff", "HEAD", "origin/main", "--stat"], work / "big-ci", env)
    print(f"mmvc diff HEAD origin/main in the clone: {t2:.2f}s", flush=True)
    return {"clone_items": n, "metadata_clone_s": t, "metadata_clone_requests": doc["fetch"]["requests"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--skip-dvc", action="store_true")
    ap.add_argument("--clone-items", type=int, default=0,
                    help="also time a metadata-only clone of a repository of this many items (the issue: 1,000,000)")
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work"))
    ap.add_argument("--json-out", default=str(REPO_ROOT / "bench-results" / "remote.json"))
    args = ap.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="remote-", dir=args.workdir))
    proc, endpoint = start_server()
    env = {**os.environ, **CREDS, "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint,
           "MMVC_AUTHOR_NAME": "bench", "MMVC_AUTHOR_EMAIL": "bench@example.com"}
    out: dict = {"files": args.files, "size": args.size, "jobs": args.jobs}
    try:
        s3 = client(endpoint)
        if args.clone_items:
            out.update(bench_metadata_clone(work, s3, env, args.clone_items))
        if args.files:
            src = work / "mmvc"
            src.mkdir()
            print(f"generating {args.files} files of {args.size} B …", flush=True)
            make_files(src, args.files, args.size)

            # mmvc
            run([MMVC, "init", "--ungated"], src, env)
            run([MMVC, "add", "data"], src, env)
            run([MMVC, "commit", "-m", "bench"], src, env)
            s3.create_bucket(Bucket="mmvc")
            run([MMVC, "remote", "add", "origin", "s3://mmvc/repo"], src, env)
            t, p = run([MMVC, "push", "-j", args.jobs, "--json"], src, env)
            doc = json.loads(p.stdout)
            out["mmvc_push_s"], out["mmvc_push_requests"] = t, doc["requests"]
            print(f"mmvc push: {t:.2f}s, requests {doc['requests']}, {doc['packs']} packs", flush=True)
            t, p = run([MMVC, "push", "--json"], src, env)
            out["mmvc_push_again_s"], out["mmvc_push_again_requests"] = t, json.loads(p.stdout)["requests"]
            print(f"mmvc push (nothing new): {t:.2f}s, requests {out['mmvc_push_again_requests']}", flush=True)
            t, p = run([MMVC, "clone", "--filter", "blob:none", "--no-checkout", "--json", "s3://mmvc/repo", work / "ci"], work, env)
            out["mmvc_metadata_clone_s"] = t
            print(f"mmvc clone --filter blob:none --no-checkout: {t:.2f}s", flush=True)

            # per-file upload, same parallelism
            s3.create_bucket(Bucket="perfile")
            paths = sorted((src / "data").rglob("*.txt"))
            per = client(endpoint)

            def put(p):
                with open(p, "rb") as f:
                    per.put_object(Bucket="perfile", Key=str(p.relative_to(src)), Body=f.read())

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                list(pool.map(put, paths))
            out["perfile_s"] = time.perf_counter() - t0
            out["perfile_puts"] = len(paths)
            print(f"per-file upload ({args.jobs} threads): {out['perfile_s']:.2f}s, {len(paths)} PUTs", flush=True)

            # dvc
            if not args.skip_dvc:
                if not DVC.exists():
                    raise SystemExit("dvc is missing: run benchmarks/setup.sh")
                d = work / "dvc"
                d.mkdir()
                shutil.copytree(src / "data", d / "data")
                run([DVC, "init", "--no-scm"], d, env)
                run([DVC, "config", "core.analytics", "false"], d, env)
                run([DVC, "add", "data"], d, env)
                s3.create_bucket(Bucket="dvc")
                run([DVC, "remote", "add", "-d", "s3", "s3://dvc/store"], d, env)
                run([DVC, "remote", "modify", "s3", "endpointurl", endpoint], d, env)
                t, _ = run([DVC, "push", "-j", args.jobs], d, env)
                out["dvc_push_s"], out["dvc_objects"] = t, count_objects(s3, "dvc")
                print(f"dvc push -j {args.jobs}: {t:.2f}s, {out['dvc_objects']} objects (≥ that many PUTs)", flush=True)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)

    os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump(out, f, indent=2)
    if not args.files:
        return
    puts = out["mmvc_push_requests"].get("put", 0)
    print("\nratios")
    print(f"  mmvc PUTs / files:                {puts}/{args.files} = {puts / args.files:.4%}  (target ≤ 1%)")
    print(f"  per-file upload / mmvc push:      {out['perfile_s'] / out['mmvc_push_s']:.1f}x  (target > 1x)")
    if "dvc_push_s" in out:
        print(f"  dvc push / mmvc push:             {out['dvc_push_s'] / out['mmvc_push_s']:.1f}x  (target ≥ 10x)")
    print(f"  second push: {out['mmvc_push_again_s']:.2f}s, {sum(out['mmvc_push_again_requests'].values())} requests (target < 1 s, a handful)")


if __name__ == "__main__":
    main()
