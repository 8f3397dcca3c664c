#!/usr/bin/env python3
"""Does a transfer's memory stay flat as the repository grows? Peak RSS of `mmvc push`,
`mmvc clone --no-checkout` (the fetch alone) and `mmvc clone` of N small files, at several N.

For each N: N files of ``--file-kb`` KB with distinct contents in a fresh ungated repository,
added and committed (not measured), then pushed to an empty remote, then cloned twice. Each
measured command runs as its own process; its peak resident memory comes from ``wait4``. The
request counts are those `--json` reports (every HTTP request on S3, HEADs and LISTs included).

The remote is a moto S3 server in its own process (``--remote s3``, needs moto in the venv) or
a local folder (``--remote file``).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_push_memory.py --files 10000,100000
    PYTHONPATH=. .venv/bin/python benchmarks/bench_push_memory.py --files 10000,100000 --remote file
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def run(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, stdout) of one process."""
    t = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = child.stdout.read().decode()
    err = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024, out


def make_repo(root: Path, n: int, kb: int, mmvc: str, env: dict) -> None:
    data = root / "data"
    for i in range(n):
        d = data / f"f{i % 1000:04d}"
        if i < 1000:
            d.mkdir(parents=True, exist_ok=True)
        line = f"caption {i:08d} of a river, a city and a dog on a beach\n".encode()
        (d / f"item{i:08d}.txt").write_bytes((line * (kb * 1024 // len(line) + 1))[: kb * 1024])
    for cmd in (["init", "--ungated"], ["add", "data"], ["commit", "-m", f"{n} files"]):
        subprocess.run([mmvc, *cmd], cwd=root, env=env, check=True, capture_output=True)


def measure(work: Path, n: int, kb: int, url: str, mmvc: str, env: dict) -> dict:
    src = work / f"src{n}"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    make_repo(src, n, kb, mmvc, env)
    subprocess.run([mmvc, "remote", "add", "origin", url], cwd=src, env=env, check=True, capture_output=True)
    push_s, push_mib, out = run([mmvc, "push", "origin", "main", "--json"], src, env)
    pushed = json.loads(out)
    row = {"files": n, "mb": round(n * kb / 1024), "push_s": round(push_s, 1), "push_peak_mib": round(push_mib),
           "push_packs": pushed["packs"], "push_requests": pushed["requests"]}
    for name, extra in (("fetch", ["--no-checkout"]), ("clone", [])):
        dest = work / f"{name}{n}"
        shutil.rmtree(dest, ignore_errors=True)
        s, mib, out = run([mmvc, "clone", url, str(dest), *extra, "--json"], work, env)
        row.update({f"{name}_s": round(s, 1), f"{name}_peak_mib": round(mib)})
        if name == "fetch":
            row["fetch_requests"] = json.loads(out).get("fetch", {}).get("requests")
        shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", default="10000,100000", help="file counts, e.g. 10000,100000")
    ap.add_argument("--file-kb", type=int, default=8)
    ap.add_argument("--remote", choices=("s3", "file"), default="s3")
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work" / "push-memory"))
    ap.add_argument("--mmvc", default=str(Path(sys.executable).with_name("mmvc")))
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    server = None
    try:
        rows = []
        for n in (int(x) for x in a.files.split(",")):
            if a.remote == "s3":
                from tests.s3_server import start_s3_server

                server = start_s3_server()
                env.update(server.env)
                url = f"s3://{server.make_bucket()}/repo"
            else:
                remote = work / f"remote{n}"
                shutil.rmtree(remote, ignore_errors=True)
                url = remote.as_uri()
            rows.append(measure(work, n, a.file_kb, url, a.mmvc, env))
            if server is not None:
                server.stop()
                server = None
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if server is not None:
            server.stop()
    print()
    for r in rows:
        print(f"{r['files']:>7,} files ({r['mb']} MB, {a.remote}): push {r['push_s']} s, peak {r['push_peak_mib']} MiB, "
              f"{sum(r['push_requests'].values())} requests; clone --no-checkout peak {r['fetch_peak_mib']} MiB; "
              f"clone peak {r['clone_peak_mib']} MiB")
    if len(rows) > 1:
        print(f"push peak {rows[-1]['files']:,} / {rows[0]['files']:,} files: {rows[-1]['push_peak_mib'] / rows[0]['push_peak_mib']:.2f}x "
              "(target: flat, and <= 300 MiB at 100,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
