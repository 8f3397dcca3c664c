#!/usr/bin/env python3
"""`mmvc import` beside its peer, `mmvc add` of the same data as files, in one run.

Workload T (text rows): a FineWeb-like Parquet of N rows of about 3 KB. mmvc imports it
(`mmvc import parquet --text-field text --meta url,score --license odc-by`); the peer writes
every row out as a file and `mmvc add`s the folder, which is what a user without `import`
would do. Reported: rows/s, peak memory (largest process and the whole process tree), and the
ratio of the peer's time to mmvc's.

Workload C (COCO-style tree): M JPEG images in `val2017/` with `annotations/captions_val2017.json`
(five captions per image). `mmvc import coco` against `mmvc add val2017` of the same files.

Each tool runs as a subprocess on a fresh repository (`mmvc init --ungated`); the inputs are
generated once and reused; each workload runs --repeat rounds in alternating order and medians
are reported. Timings are whole processes. Peak memory: GNU time's %M (the largest single
process) and the sums of RSS and of PSS over the process tree sampled every 50 ms (RSS counts
the libraries every reader maps once per process; PSS shares them out). "cpu" is user + system
time of the command and the descendants it waited for; both tools' fork-server workers are not
among those, so it is only comparable between in-process runs.

    python benchmarks/bench_import.py --rows 200000 --images 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
MMVC = str(REPO_ROOT / ".venv" / "bin" / "mmvc")
PY = str(REPO_ROOT / ".venv" / "bin" / "python")
PAGE = os.sysconf("SC_PAGE_SIZE")
GNU_TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None
MiB = 1 << 20


# --------------------------------------------------------------------------- measuring


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) over the process tree: RSS counts the libraries every worker
    maps (pyarrow, numpy) once per process; PSS shares them out, so it adds up to real memory."""
    kids, total, pss, todo = _children(), 0, 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            pass
        todo += kids.get(pid, [])
    return total, pss


def run(argv, cwd, label: str) -> dict:
    import tempfile

    rss_file = tempfile.NamedTemporaryFile(suffix=".rss", delete=False)
    rss_file.close()
    if GNU_TIME:  # wait4's ru_maxrss would charge the child with this harness's memory before exec
        argv = [GNU_TIME, "-f", "%M %U %S", "-o", rss_file.name, *argv]
    os.sync()  # no tool pays for the previous one's dirty pages
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0, 0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            rss, pss = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            stop.wait(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    stop.set()
    th.join()
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{label} failed ({proc.returncode}):\n{err[-2000:]}")
    max_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if GNU_TIME:
        with open(rss_file.name) as f:
            kb, user, system = f.read().split()[-3:]
        max_kb, cpu = int(kb), float(user) + float(system)
    os.unlink(rss_file.name)
    out = {"label": label, "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "max_rss_mib": round(max_kb / 1024, 1),
           "tree_rss_mib": round(peak[0] / MiB, 1), "tree_pss_mib": round(peak[1] / MiB, 1)}
    print(f"  {label:<28} {secs:8.2f} s  cpu {cpu:7.2f} s  max RSS {out['max_rss_mib']:7.1f} MiB  tree RSS {out['tree_rss_mib']:7.1f} MiB"
          f"  tree PSS {out['tree_pss_mib']:7.1f} MiB", flush=True)
    return out


def fresh_repo(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    subprocess.run([MMVC, "init", "--ungated", str(path)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


# --------------------------------------------------------------------------- workloads


def make_rows(path: Path, rows: int, size: int) -> None:
    """Rows of ``size`` bytes of English-like text, each unique (it starts with its number)."""
    if path.exists():
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(7)
    words = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you "
             "were her she there been one all we their data model river mountain learning image caption sound video").split()
    pool = " ".join(rng.choice(words) for _ in range(400_000))
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, 10_000):
        n = min(10_000, rows - start)
        offs = [rng.randrange(0, len(pool) - size) for _ in range(n)]
        t = pa.table({
            "text": [f"row {start + i}: " + pool[o : o + size] for i, o in enumerate(offs)],
            "url": [f"https://example.org/page/{start + i}" for i in range(n)],
            "score": [rng.random() for _ in range(n)],
        })
        if writer is None:
            writer = pq.ParquetWriter(tmp, t.schema)
        writer.write_table(t, row_group_size=10_000)
    writer.close()
    os.replace(tmp, path)


WRITE_ROWS = """
import os, sys, pyarrow.parquet as pq
src, out = sys.argv[1], sys.argv[2]
i = 0
for b in pq.ParquetFile(src).iter_batches(batch_size=10000, columns=["text"]):
    for s in b.column(0).to_pylist():
        d = os.path.join(out, f"{i // 1000:05d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i:08d}.txt"), "w") as f:
            f.write(s)
        i += 1
"""


def make_coco(root: Path, images: int) -> None:
    """COCO layout; images are distinct JPEGs of 20-60 KB (a few real ones, each made unique)."""
    if (root / "annotations" / "captions_val2017.json").exists():
        return
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(3)
    bases = []
    for k in range(32):
        arr = rng.integers(0, 255, (120 + 4 * k, 160 + 4 * k, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=85)
        bases.append(buf.getvalue())
    (root / "val2017").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    doc = {"info": {"year": 2017}, "licenses": [{"id": 1, "url": "http://creativecommons.org/licenses/by/2.0/", "name": "Attribution"}],
           "images": [], "annotations": []}
    ann = 0
    for i in range(1, images + 1):
        name = f"{i:012d}.jpg"
        with open(root / "val2017" / name, "wb") as f:
            f.write(bases[i % len(bases)] + i.to_bytes(8, "little"))  # trailing bytes: still a JPEG, now unique
        doc["images"].append({"id": i, "file_name": name, "width": 160, "height": 120, "license": 1})
        for c in range(5):
            ann += 1
            doc["annotations"].append({"id": ann, "image_id": i, "caption": f"a photo number {i}, caption {c}"})
    with open(root / "annotations" / "captions_val2017.json", "w") as f:
        json.dump(doc, f)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000, help="text rows (the issue's figure is 1,000,000)")
    ap.add_argument("--row-bytes", type=int, default=3000)
    ap.add_argument("--images", type=int, default=20_000, help="COCO-style images (the issue's figure is 100,000)")
    ap.add_argument("--workloads", default="T,C")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each workload (alternating order); medians are reported")
    ap.add_argument("--workdir", default=str(REPO_ROOT / "bench-work" / "import"))
    ap.add_argument("--json", dest="json_out", default=str(REPO_ROOT / "bench-results" / "import.json"))
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"rows": args.rows, "images": args.images, "cpus": os.cpu_count()}

    if "T" in args.workloads:
        src = work / f"rows-{args.rows}-{args.row_bytes}.parquet"
        print(f"T: {args.rows:,} text rows of ~{args.row_bytes} B ({src.name})", flush=True)
        make_rows(src, args.rows, args.row_bytes)
        imps, peers = [], []
        for rnd in range(args.repeat):  # alternate the order, as for C
            for tool in (("import", "peer") if rnd % 2 == 0 else ("peer", "import")):
                if tool == "import":
                    repo = fresh_repo(work / "repo-import")
                    argv = [MMVC, "import", "parquet", str(src), "--text-field", "text", "--meta", "url,score", "--license", "odc-by"]
                    imps.append(run(argv, repo, "mmvc import parquet"))
                    if rnd == 0:
                        out = subprocess.run([MMVC, "-C", str(repo), "ls-files"], capture_output=True, text=True, check=True).stdout
                        assert out.count("\n") == args.rows, f"imported {out.count(chr(10))} items, expected {args.rows}"
                    shutil.rmtree(repo, ignore_errors=True)
                else:
                    repo2 = fresh_repo(work / "repo-add")
                    wr = run([PY, "-c", WRITE_ROWS, str(src), str(repo2 / "rows")], repo2, "peer: write rows as files")
                    add = run([MMVC, "add", "rows"], repo2, "peer: mmvc add rows/")
                    peers.append((wr, add))
                    shutil.rmtree(repo2, ignore_errors=True)
        secs = sorted(r["seconds"] for r in imps)
        imp = sorted(imps, key=lambda r: r["seconds"])[len(imps) // 2]
        totals = sorted(w["seconds"] + a["seconds"] for w, a in peers)
        adds = sorted(a["seconds"] for _, a in peers)
        peer, add_s = totals[len(totals) // 2], adds[len(adds) // 2]
        mem = max(max(r["max_rss_mib"], r["tree_pss_mib"]) for r in imps)
        results["T"] = {"import": imp, "all_import_s": secs, "all_peer_s": totals, "all_add_s": adds,
                        "rows_per_s": round(args.rows / imp["seconds"]), "rows_per_s_range": [round(args.rows / secs[-1]), round(args.rows / secs[0])],
                        "speedup_vs_files_and_add": round(peer / imp["seconds"], 2), "speedup_vs_add_alone": round(add_s / imp["seconds"], 2),
                        "peak_mib": mem, "peak_tree_rss_mib": max(r["tree_rss_mib"] for r in imps)}
        T = results["T"]
        print(f"  → median of {args.repeat}: {T['rows_per_s']:,} rows/s (range {T['rows_per_s_range'][0]:,}–{T['rows_per_s_range'][1]:,}); "
              f"{T['speedup_vs_files_and_add']}× faster than writing files + `mmvc add` ({T['speedup_vs_add_alone']}× faster than the add "
              f"alone); peak memory {mem} MiB (largest process or tree PSS; tree RSS {T['peak_tree_rss_mib']} MiB)", flush=True)

    if "C" in args.workloads:
        root = work / f"coco-{args.images}"
        print(f"C: COCO-style tree of {args.images:,} images", flush=True)
        make_coco(root, args.images)
        imps, adds = [], []
        for rnd in range(args.repeat):  # alternate the order: neither tool always finds the cache the other left
            for tool in (("import", "add") if rnd % 2 == 0 else ("add", "import")):
                if tool == "import":
                    repo = fresh_repo(work / "repo-coco-import")
                    imps.append(run([MMVC, "import", "coco", str(root), "--split", "val"], repo, "mmvc import coco"))
                    shutil.rmtree(repo, ignore_errors=True)
                else:
                    repo2 = fresh_repo(work / "repo-coco-add")
                    # `mmvc add` takes files inside its work tree: the same images, moved in by a rename (free)
                    os.rename(root / "val2017", repo2 / "val2017")
                    try:
                        adds.append(run([MMVC, "add", "val2017"], repo2, "peer: mmvc add val2017/"))
                    finally:
                        os.rename(repo2 / "val2017", root / "val2017")
                    shutil.rmtree(repo2, ignore_errors=True)
        imp = sorted(imps, key=lambda r: r["seconds"])[len(imps) // 2]
        add = sorted(adds, key=lambda r: r["seconds"])[len(adds) // 2]
        results["C"] = {"import": imp, "add": add, "ratio_import_over_add": round(imp["seconds"] / add["seconds"], 2),
                        "all_import_s": [r["seconds"] for r in imps], "all_add_s": [r["seconds"] for r in adds]}
        print(f"  → median of {args.repeat}: import takes {results['C']['ratio_import_over_add']}× the time of `mmvc add` of the same files",
              flush=True)

    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json_out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results: {args.json_out}")


if __name__ == "__main__":
    main()
