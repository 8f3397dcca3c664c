#!/usr/bin/env python3
"""Measure mmvc's store beside its peers (DVC, Oxen) and a floor, in one run.

Every tool runs as a subprocess on its own fresh copy of the same generated workload,
so no tool benefits from another's work. For each step we record wall time and memory;
at the end a table of measurements and of the ratios that mmvc's targets are stated in
is printed, and the same numbers are written as JSON.

Memory is reported two ways, because tools differ in how they use processes:
  * "max RSS": GNU time's %M (ru_maxrss), exact, but the largest *single* process
    among the command and the descendants it waited for. GNU time is used rather than
    wait4() here because Linux charges a child the memory its parent had before exec,
    which would put this Python harness's ~20 MiB under every number; without GNU time
    the script says so and falls back to wait4();
  * "tree RSS": the sum of RSS over the whole process tree, sampled every 50 ms from
    /proc (it can miss a spike shorter than that and counts shared pages once per
    process, so it errs high for forked workers). Targets are checked against the
    larger of the two.

The script needs only the standard library, so it runs under mmvc's venv python or a
plain python3. Oxen is driven through its Python API (package `oxenai`): the harness
re-invokes this same file under the peers' venv python with the hidden `_oxen` verb.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_MMVC = REPO_ROOT / ".venv" / "bin" / "mmvc"
DEFAULT_PEERS_VENV = BENCH_DIR / ".venv-peers"
TOOLS = ("floor", "mmvc", "dvc", "oxen")
SAMPLE_INTERVAL_S = 0.05
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20
BIG_BLOCK = 64 * MiB
TAIL_CHARS = 600


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    """One measured subprocess: what ran, how long it took, how much memory it held."""

    argv: list[str]
    wall_s: float
    rc: int
    max_rss_mb: float
    tree_rss_mb: float
    sync_s: float = 0.0
    timed_out: bool = False
    stdout_tail: str = ""
    stderr_tail: str = ""
    api_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    @property
    def peak_mb(self) -> float:
        return max(self.max_rss_mb, self.tree_rss_mb)


def _proc_table() -> dict[int, tuple[int, int]]:
    """Map pid -> (ppid, rss pages) for every process visible in /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # exited between listing and reading
        # comm (field 2) may hold spaces and parentheses: split after its last ')'.
        rest = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry.name)] = (int(rest[1]), int(rest[21]))
    return table


def tree_rss_bytes(root: int) -> int:
    """Sum of RSS over `root` and all its live descendants."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1] * PAGE_SIZE
        todo.extend(children.get(pid, ()))
    return total


class TreeRssSampler(threading.Thread):
    """Polls the process tree's summed RSS until stopped; keeps the peak.

    Needed because ru_maxrss only sees the largest single process: a tool that fans
    work out to worker processes would otherwise look smaller than it is.
    """

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop_event.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def _tail(f) -> str:
    f.seek(0)
    return f.read().decode(errors="replace")[-TAIL_CHARS:]


def find_gnu_time() -> str | None:
    """Path of GNU time if installed (Debian package `time`), else None."""
    path = shutil.which("time") or "/usr/bin/time"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True)
    except OSError:
        return None
    return path if "GNU" in out.stdout + out.stderr else None


GNU_TIME = find_gnu_time()


def _read_time_rss_kb(path: str) -> int | None:
    """Last line of GNU time's -o file is %M (KiB); earlier lines may note the exit."""
    try:
        lines = Path(path).read_text().split()
        return int(lines[-1])
    except (OSError, ValueError, IndexError):
        return None


def run_measured(argv, cwd, env=None, timeout=None, time_sync=False) -> Sample:
    """Run one command and measure it.

    Flushes dirty pages first (`sync`, untimed) so that writeback left over from
    preparing the workload is not billed to the tool. With `time_sync`, a `sync` right
    after the command is timed too, so a tool that fsyncs and one that leaves its data
    in the page cache are compared on equal terms (durable bytes).
    """
    argv = [str(a) for a in argv]
    os.sync()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        wrapped = [GNU_TIME, "-f", "%M", "-o", rss.name, "--", *argv] if GNU_TIME else argv
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        killed = threading.Event()
        timer = threading.Timer(timeout or 0, _kill_group, (proc.pid, killed))
        if timeout:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4 already
        tree_peak = sampler.stop()
        sync_s = _timed_sync() if time_sync else 0.0
        max_kb = (_read_time_rss_kb(rss.name) if GNU_TIME else None) or usage.ru_maxrss
        return Sample(
            argv=argv, wall_s=wall, rc=proc.returncode,
            max_rss_mb=max_kb * 1024 / MiB, tree_rss_mb=tree_peak / MiB,
            sync_s=sync_s, timed_out=killed.is_set(),
            stdout_tail=_tail(out), stderr_tail=_tail(err),
        )


def _kill_group(pid: int, killed: threading.Event) -> None:
    """Timeout: kill the command's whole process group (it was started as a session)."""
    killed.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _timed_sync() -> float:
    start = time.perf_counter()
    os.sync()
    return time.perf_counter() - start


def combine(name: str, samples: list[Sample]) -> Sample:
    """Several sequential steps seen as one operation: walls add up, memory is the max."""
    return Sample(
        argv=[name], wall_s=sum(s.wall_s for s in samples),
        rc=next((s.rc for s in samples if s.rc), 0),
        max_rss_mb=max(s.max_rss_mb for s in samples),
        tree_rss_mb=max(s.tree_rss_mb for s in samples),
        sync_s=sum(s.sync_s for s in samples),
        timed_out=any(s.timed_out for s in samples),
        api_s=(sum(s.api_s for s in samples)
               if all(s.api_s is not None for s in samples) else None),
    )


def median_of(samples: list[Sample]) -> Sample:
    """The run with the median wall time (upper median), keeping all walls for JSON."""
    ordered = sorted(samples, key=lambda s: s.wall_s)
    return ordered[len(ordered) // 2]


# --------------------------------------------------------------------------- workloads


def parse_size(text: str) -> int:
    """'64MB', '64M', '64MiB', '1GB', '8KB' or plain bytes; units are binary (1 KB = 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    power = " kmgt".index(m.group(2) or " ")
    return int(float(m.group(1)) * 1024**power)


def _ready(root: Path, params: dict) -> bool:
    """A workload is reused only if a previous run finished writing it with these params."""
    manifest = root / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()) == params


def make_small_files(root: Path, count: int, folders: int, size: int, seed: int) -> Path:
    """Workload A: `count` files of `size` random bytes spread over `folders` folders.

    Content comes from a seeded PRNG so every run (and every machine) hashes the same
    bytes, and every file is distinct, so no tool can win by deduplicating.
    """
    params = {"kind": "A", "count": count, "folders": folders, "size": size, "seed": seed}
    if _ready(root, params):
        return root / "data"
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    folders = max(1, min(folders, count))
    for d in range(folders):
        (data / f"d{d:03d}").mkdir(parents=True)
    rng = random.Random(seed)
    for i in range(count):
        (data / f"d{i % folders:03d}" / f"f{i:07d}.bin").write_bytes(rng.randbytes(size))
    (root / "manifest.json").write_text(json.dumps(params))
    return data


def _write_big_file(path: str, size: int, seed: int, index: int) -> None:
    """Each 64 MiB block is SHAKE-128 output keyed by (seed, file, block): random-looking,
    so neither compression nor chunk-level dedup can shortcut it, yet reproducible and
    cheap (~250 MB/s per core) to make."""
    with open(path, "wb") as f:
        block, left = 0, size
        while left:
            n = min(BIG_BLOCK, left)
            f.write(hashlib.shake_128(f"{seed}:{index}:{block}".encode()).digest(n))
            left, block = left - n, block + 1


def make_big_files(root: Path, count: int, size: int, seed: int) -> Path:
    """Workload B: `count` files of `size` bytes, written in parallel on all cores."""
    params = {"kind": "B", "count": count, "size": size, "seed": seed}
    if _ready(root, params):
        return root / "data"
    shutil.rmtree(root, ignore_errors=True)
    data = root / "data"
    data.mkdir(parents=True)
    workers = max(1, min(count, os.cpu_count() or 1))
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(_write_big_file, str(data / f"big{k:02d}.bin"), size, seed, k)
                for k in range(count)]
        for job in jobs:
            job.result()
    (root / "manifest.json").write_text(json.dumps(params))
    return data


def remove_scratch(workdir: Path) -> None:
    """Delete only what this script creates, so a --workdir that held other things
    keeps them; the folder itself goes only if that leaves it empty."""
    for pattern in ("src-A", "src-B", "run-*", "oxen-config", ".dvc-site-cache"):
        for path in workdir.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        workdir.rmdir()


def fresh_copy(src_data: Path, run_dir: Path) -> Path:
    """Give one tool its own copy of the workload (untimed) and return the run folder.

    A plain `cp -r` (no hardlinks, no reflinks) so each tool starts from the same state:
    freshly written files, in the page cache, flushed to disk before timing begins.
    """
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    subprocess.run(["cp", "-r", str(src_data), str(run_dir / "data")], check=True)
    return run_dir


# --------------------------------------------------------------------------- tools


@dataclass
class Bench:
    """Everything one benchmark run needs, plus the results it accumulates."""

    args: argparse.Namespace
    mmvc: Path
    peers_bin: Path
    results: dict[str, Sample] = field(default_factory=dict)
    repeats: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def wants(self, tool: str) -> bool:
        return tool in self.args.only

    def record(self, key: str, sample: Sample) -> Sample:
        self.results[key] = sample
        status = "ok" if sample.ok else ("TIMEOUT" if sample.timed_out else f"rc={sample.rc}")
        print(f"  {key:<28} {sample.wall_s:9.3f} s  {sample.peak_mb:8.1f} MiB  {status}",
              flush=True)
        if not sample.ok:
            print(f"    stderr: {sample.stderr_tail.strip()[-300:]}", flush=True)
        return sample

    def run(self, key, argv, cwd, env=None, time_sync=False) -> Sample:
        sample = run_measured(argv, cwd, env, self.args.timeout, time_sync)
        return self.record(key, sample)

    def run_repeated(self, key, argv, cwd, times, env=None) -> Sample:
        return self.repeat(key, lambda: run_measured(argv, cwd, env, self.args.timeout),
                           times)

    def repeat(self, key, measure, times) -> Sample:
        """Measure `times` times and record the median run; all walls go to the JSON."""
        samples = [measure() for _ in range(times)]
        self.repeats[key] = [s.wall_s for s in samples]
        return self.record(key, median_of(samples))

    def cleanup(self, run_dir: Path) -> None:
        if not self.args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)

    # ---- environments handed to each tool

    def dvc_env(self, run_dir: Path | None = None) -> dict:
        """No analytics; DVC's site cache (state and index DBs) inside the run folder, so
        it starts empty and leaves nothing in /var/tmp/dvc."""
        cache = (run_dir or self.args.workdir) / ".dvc-site-cache"
        return {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(cache)}

    def oxen_env(self) -> dict:
        # Oxen refuses to commit without a user; keep that config inside the workdir
        # rather than writing the user's ~/.config/oxen.
        return {**os.environ, "OXEN_CONFIG_DIR": str(self.args.workdir / "oxen-config")}


def mmvc_add_argv(b: Bench) -> list:
    """`mmvc add .`, with --modality because the workloads' random bytes announce no
    modality and mmvc refuses to guess; the label changes no work done per byte."""
    modality = ["--modality", b.args.mmvc_modality] if b.args.mmvc_modality else []
    return [b.mmvc, "add", *modality, "."]


def mmvc_store(b: Bench, phase: str, run_dir: Path, time_sync: bool) -> Sample | None:
    """mmvc init --ungated, then add . + commit (the measured pair)."""
    init = b.run(f"{phase}/mmvc/init", [b.mmvc, "init", "--ungated"], run_dir)
    if not init.ok:
        return None
    add = b.run(f"{phase}/mmvc/add", mmvc_add_argv(b), run_dir, time_sync=time_sync)
    commit = b.run(f"{phase}/mmvc/commit", [b.mmvc, "commit", "-m", f"bench {phase}"],
                   run_dir, time_sync=time_sync)
    return b.record(f"{phase}/mmvc/add+commit", combine("mmvc add+commit", [add, commit]))


def dvc_store(b: Bench, phase: str, run_dir: Path, time_sync: bool) -> Sample | None:
    """dvc init --no-scm, then `dvc add data` (DVC's whole 'version this' step)."""
    dvc, env = b.peers_bin / "dvc", b.dvc_env(run_dir)
    init = b.run(f"{phase}/dvc/init", [dvc, "init", "--no-scm"], run_dir, env)
    if not init.ok:
        return None
    # No update check: there is no network, and it is not part of the work measured.
    for key, value in (("core.check_update", "false"), ("core.analytics", "false")):
        subprocess.run([dvc, "config", key, value], cwd=run_dir, env=env, check=True)
    return b.run(f"{phase}/dvc/add", [dvc, "add", "data"], run_dir, env, time_sync)


def oxen_cmd(b: Bench, verb: str, *extra: str) -> list:
    return [b.peers_bin / "python", Path(__file__).resolve(), "_oxen", verb, *extra]


def measure_oxen(b: Bench, run_dir: Path, verb: str, *extra: str) -> Sample:
    """One Oxen API call in its own process; `api_s` is the time inside the call alone."""
    sample = run_measured(oxen_cmd(b, verb, *extra), run_dir, b.oxen_env(), b.args.timeout)
    sample.api_s = _api_seconds(sample.stdout_tail)
    return sample


def oxen_step(b: Bench, key: str, run_dir: Path, verb: str, *extra: str) -> Sample:
    return b.record(key, measure_oxen(b, run_dir, verb, *extra))


def _api_seconds(stdout: str) -> float | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and '"api_s"' in line:
            return json.loads(line)["api_s"]
    return None


def oxen_store(b: Bench, phase: str, run_dir: Path) -> Sample | None:
    """Repo(dir).init(), then Repo.add('data') and Repo.commit(msg), timed separately."""
    if not oxen_step(b, f"{phase}/oxen/init", run_dir, "init").ok:
        return None
    add = oxen_step(b, f"{phase}/oxen/add", run_dir, "add", "data")
    commit = oxen_step(b, f"{phase}/oxen/commit", run_dir, "commit", f"bench {phase}")
    return b.record(f"{phase}/oxen/add+commit", combine("oxen add+commit", [add, commit]))


# --------------------------------------------------------------------------- workload A


def floor_a(b: Bench, src: Path) -> None:
    """The floor: read every byte once with two parallel `cat`s (one per core).

    Runs first, on its own fresh copy like every other tool, so it also shows what
    reading the tree costs when it is in the page cache."""
    run_dir = fresh_copy(src, b.args.workdir / "run-A-floor")
    b.run("A/floor/parallel-cat",
          ["bash", "-c", "find data -type f -print0 | xargs -0 -P2 -n 1000 cat > /dev/null"],
          run_dir)
    b.cleanup(run_dir)


def status_repeats(b: Bench, key: str, argv: list, run_dir: Path, env=None) -> None:
    b.run_repeated(key, argv, run_dir, b.args.status_repeats, env)


def mmvc_a(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-A-mmvc")
    if mmvc_store(b, "A", run_dir, time_sync=False):
        status_repeats(b, "A/mmvc/status", [b.mmvc, "status"], run_dir)
    b.cleanup(run_dir)


def dvc_a(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-A-dvc")
    if dvc_store(b, "A", run_dir, time_sync=False):
        status_repeats(b, "A/dvc/status", [b.peers_bin / "dvc", "status"], run_dir,
                       b.dvc_env(run_dir))
    b.cleanup(run_dir)


def oxen_a(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-A-oxen")
    if oxen_store(b, "A", run_dir):
        b.repeat("A/oxen/status", lambda: measure_oxen(b, run_dir, "status"),
                 b.args.status_repeats)
    b.cleanup(run_dir)


def versions(b: Bench) -> None:
    """Start-up cost: `--version` does no work, so it is pure interpreter + import time."""
    if b.wants("mmvc"):
        b.run_repeated("mmvc --version", [b.mmvc, "--version"], REPO_ROOT, 5)
    if b.wants("dvc"):
        b.run_repeated("dvc --version", [b.peers_bin / "dvc", "--version"], REPO_ROOT, 5,
                       b.dvc_env())


def workload_a(b: Bench) -> None:
    a = b.args
    print(f"\nWorkload A: {a.files} files x {a.file_size} B in {a.folders} folders", flush=True)
    start = time.perf_counter()
    src = make_small_files(a.workdir / "src-A", a.files, a.folders, a.file_size, a.seed)
    print(f"  workload ready in {time.perf_counter() - start:.1f} s (not timed)", flush=True)
    for tool, step in (("floor", floor_a), ("mmvc", mmvc_a), ("dvc", dvc_a),
                       ("oxen", oxen_a)):
        if b.wants(tool):
            step(b, src)


# --------------------------------------------------------------------------- workload B


def cp_b(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-B-cp")
    b.run("B/cp/cp -r", ["cp", "-r", "data", "out"], run_dir, time_sync=True)
    b.cleanup(run_dir)


def mmvc_b(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-B-mmvc")
    mmvc_store(b, "B", run_dir, time_sync=True)
    b.cleanup(run_dir)


def dvc_b(b: Bench, src: Path) -> None:
    run_dir = fresh_copy(src, b.args.workdir / "run-B-dvc")
    dvc_store(b, "B", run_dir, time_sync=True)
    b.cleanup(run_dir)


def workload_b(b: Bench) -> None:
    a = b.args
    print(f"\nWorkload B: {a.big_count} files x {a.big_size / MiB:.0f} MiB", flush=True)
    start = time.perf_counter()
    src = make_big_files(a.workdir / "src-B", a.big_count, a.big_size, a.seed)
    print(f"  workload ready in {time.perf_counter() - start:.1f} s (not timed)", flush=True)
    if b.wants("floor"):
        cp_b(b, src)
    if b.wants("mmvc"):
        mmvc_b(b, src)
    if b.wants("dvc") and not a.skip_dvc_b:
        dvc_b(b, src)


# --------------------------------------------------------------------------- report


def _get(b: Bench, key: str) -> Sample | None:
    s = b.results.get(key)
    return s if s and s.ok else None


def _ratio(num: Sample | None, den: Sample | None, attr="wall_s") -> float | None:
    if num is None or den is None:
        return None
    n, d = getattr(num, attr), getattr(den, attr)
    return n / d if d else None


def _oxen_seconds(s: Sample | None) -> Sample | None:
    """Oxen's add+commit counted by time inside the API calls, not its processes.

    Leaves out Python start-up and `import oxen`, which a user of Oxen's Rust CLI would
    not pay: the conservative choice for an oxen/mmvc ratio."""
    if s is None or s.api_s is None:
        return s
    return Sample(argv=s.argv, wall_s=s.api_s, rc=0, max_rss_mb=s.max_rss_mb,
                  tree_rss_mb=s.tree_rss_mb)


def throughput(b: Bench, key: str) -> float | None:
    """MiB/s of workload B made durable: bytes / (process wall + timed sync)."""
    s = _get(b, key)
    if s is None:
        return None
    return b.args.big_count * b.args.big_size / MiB / (s.wall_s + s.sync_s)


def checks(b: Bench) -> list[dict]:
    """The targets mmvc is held to, each as (measured value, comparison, target)."""
    mm = _get(b, "A/mmvc/add+commit")
    mm_status, mm_ver = _get(b, "A/mmvc/status"), _get(b, "mmvc --version")
    cp_tp, mm_tp = throughput(b, "B/cp/cp -r"), throughput(b, "B/mmvc/add+commit")
    rows = [
        ("A add+commit: dvc / mmvc", _ratio(_get(b, "A/dvc/add"), mm), ">=", 5.0),
        ("A add+commit: oxen / mmvc", _ratio(_oxen_seconds(_get(b, "A/oxen/add+commit")),
                                              mm), ">=", 15.0),
        ("A add+commit: mmvc / parallel-cat", _ratio(mm, _get(b, "A/floor/parallel-cat")),
         "<=", 2.0),
        ("A add+commit: mmvc peak RSS MiB", mm.peak_mb if mm else None, "<", 400.0),
        ("A status (clean): mmvc s", mm_status.wall_s if mm_status else None, "<", 1.5),
        ("mmvc --version s (median of 5)", mm_ver.wall_s if mm_ver else None, "<", 0.2),
        ("B throughput: mmvc / cp", mm_tp / cp_tp if mm_tp and cp_tp else None, ">=", 0.70),
    ]
    out = []
    for name, value, op, target in rows:
        passed = None if value is None else {
            ">=": value >= target, "<=": value <= target, "<": value < target}[op]
        out.append({"check": name, "value": value, "op": op, "target": target,
                    "pass": passed})
    return out


def print_report(b: Bench, check_rows: list[dict]) -> None:
    print("\n== Measurements (each tool on its own fresh, page-cached, synced copy) ==")
    print(f"{'step':<30}{'wall s':>10}{'sync s':>9}{'max RSS':>10}{'tree RSS':>10}"
          f"{'api s':>9}  note")
    for key, s in b.results.items():
        note = "ok" if s.ok else ("TIMEOUT" if s.timed_out else f"FAILED rc={s.rc}")
        if key in b.repeats:
            note += f" (median of {len(b.repeats[key])})"
        if key.startswith("B/") and key.endswith(("add+commit", "cp -r", "dvc/add")):
            tp = throughput(b, key)
            note += f" {tp:.0f} MiB/s durable" if tp else ""
        api = f"{s.api_s:9.3f}" if s.api_s is not None else f"{'':9}"
        print(f"{key:<30}{s.wall_s:10.3f}{s.sync_s:9.3f}{s.max_rss_mb:10.1f}"
              f"{s.tree_rss_mb:10.1f}{api}  {note}")
    how = "GNU time %M" if GNU_TIME else "wait4 ru_maxrss"
    print(f"(RSS in MiB: max = largest single process, {how}; tree = sum over the "
          f"process tree, sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms)")
    print("\n== Targets ==")
    for row in check_rows:
        value = "n/a" if row["value"] is None else f"{row['value']:.3f}"
        verdict = {True: "PASS", False: "FAIL", None: "-"}[row["pass"]]
        print(f"{row['check']:<36}{value:>10}  {row['op']} {row['target']:<6} {verdict}")
    for note in b.notes:
        print(f"note: {note}")


def environment(b: Bench) -> dict:
    """What the numbers were taken on, so runs on different machines are not confused."""
    def first_line(argv, env=None):
        try:
            out = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                                 env=env, timeout=120)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    meminfo = Path("/proc/meminfo")
    mem = meminfo.read_text().splitlines()[0] if meminfo.exists() else ""
    env = {"python": sys.version.split()[0], "platform": platform.platform(),
           "cpus": os.cpu_count(), "memory": mem,
           "workdir_fs": first_line(["stat", "-f", "-c", "%T", b.args.workdir]),
           "cp": first_line(["cp", "--version"])}
    if b.wants("mmvc"):
        env["mmvc"] = first_line([b.mmvc, "--version"])
    if b.wants("dvc"):
        env["dvc"] = first_line([b.peers_bin / "dvc", "--version"], b.dvc_env())
    if b.wants("oxen"):
        env["oxenai"] = first_line([b.peers_bin / "python", "-c",
                                    "import oxen; print(oxen.__version__)"])
    return env


def write_json(b: Bench, env: dict, check_rows: list[dict]) -> None:
    args = {k: str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v
            for k, v in vars(b.args).items()}
    doc = {"args": args, "environment": env, "checks": check_rows,
           "measurements": {k: {**asdict(s), "peak_mb": s.peak_mb, "ok": s.ok}
                            for k, s in b.results.items()},
           "repeats_wall_s": b.repeats, "notes": b.notes}
    b.args.out.parent.mkdir(parents=True, exist_ok=True)
    b.args.out.write_text(json.dumps(doc, indent=2))
    print(f"\nwrote {b.args.out}")


# --------------------------------------------------------------------------- entry points


def oxen_driver(argv: list[str]) -> int:
    """`_oxen VERB [ARG]`, run under the peers' python in the repo folder (the cwd).

    init: oxen.Repo(".").init()   add: Repo(".").add(ARG)   commit: Repo(".").commit(ARG)
    status: Repo(".").status() -> PyStagedData; reports is_clean().
    Prints one JSON line with the seconds spent inside the API call.
    """
    import oxen  # only the peers' venv has it

    verb, arg = argv[0], (argv[1] if len(argv) > 1 else None)
    if verb == "init":
        from oxen import user
        user.config_user("mmvc-bench", "bench@example.invalid")
    repo = oxen.Repo(".")
    start = time.perf_counter()
    extra = {}
    if verb == "init":
        repo.init()
    elif verb == "add":
        repo.add(arg)
    elif verb == "commit":
        extra["commit"] = repo.commit(arg).id
    elif verb == "status":
        extra["clean"] = repo.status().is_clean()
    else:
        raise SystemExit(f"unknown oxen verb {verb!r}")
    print(json.dumps({"api_s": time.perf_counter() - start, **extra}), flush=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(TOOLS),
                   help="comma list of tools to run: floor (cat / cp), mmvc, dvc, oxen")
    p.add_argument("--workloads", default="A,B", help="which workloads: A, B or A,B")
    p.add_argument("--files", type=int, default=200_000, help="workload A file count")
    p.add_argument("--folders", type=int, default=200, help="workload A folder count")
    p.add_argument("--file-size", type=parse_size, default=8 * 1024,
                   help="workload A file size (default 8KB)")
    p.add_argument("--big-count", type=int, default=8, help="workload B file count")
    p.add_argument("--big-size", type=parse_size, default=1 << 30,
                   help="workload B file size (default 1GB; binary units)")
    p.add_argument("--skip-dvc-b", action="store_true", help="no dvc run on workload B")
    p.add_argument("--seed", type=int, default=20240601, help="workload generator seed")
    p.add_argument("--status-repeats", type=int, default=3,
                   help="status runs per tool; the median is reported")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds before one command is killed and marked TIMEOUT")
    p.add_argument("--workdir", type=Path, default=REPO_ROOT / "bench-work",
                   help="scratch folder for workloads and copies (default <repo>/bench-work)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "store.json",
                   help="JSON results file (default <repo>/bench-results/store.json)")
    p.add_argument("--keep", action="store_true",
                   help="keep workloads and per-tool copies (sources are reused next run)")
    p.add_argument("--mmvc", type=Path, default=DEFAULT_MMVC,
                   help="mmvc executable (default <repo>/.venv/bin/mmvc)")
    p.add_argument("--mmvc-modality", default="image",
                   help="modality passed to `mmvc add --modality` ('' to let mmvc detect)")
    p.add_argument("--peers-venv", type=Path, default=DEFAULT_PEERS_VENV,
                   help="venv made by setup.sh (default benchmarks/.venv-peers)")
    args = p.parse_args(argv)
    args.only = {t.strip() for t in args.only.split(",") if t.strip()}
    args.workloads = {w.strip().upper() for w in args.workloads.split(",") if w.strip()}
    if unknown := args.only - set(TOOLS):
        p.error(f"unknown tools in --only: {', '.join(sorted(unknown))}")
    args.workdir = args.workdir.resolve()
    args.out = args.out.resolve()
    return args


def preflight(b: Bench) -> list[str]:
    """Missing executables are reported up front instead of as failures mid-run."""
    problems = []
    if b.wants("mmvc") and not os.access(b.mmvc, os.X_OK):
        problems.append(f"mmvc not found at {b.mmvc} (use --mmvc or scripts/install.sh)")
    if b.wants("dvc") and not (b.peers_bin / "dvc").exists():
        problems.append(f"dvc not found in {b.peers_bin} (run benchmarks/setup.sh)")
    if b.wants("oxen") and not (b.peers_bin / "python").exists():
        problems.append(f"peers venv missing at {b.peers_bin.parent} (run benchmarks/setup.sh)")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["_oxen"]:
        return oxen_driver(argv[1:])
    args = parse_args(argv)
    mmvc = args.mmvc if args.mmvc.is_absolute() else Path.cwd() / args.mmvc
    b = Bench(args=args, mmvc=mmvc, peers_bin=args.peers_venv.resolve() / "bin")
    if problems := preflight(b):
        print("\n".join(problems), file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    b.notes.append("page cache is not dropped: every tool instead starts on a freshly "
                   "written, synced copy, and the floor runs first")
    if GNU_TIME is None:
        msg = ("GNU time not found (install it: apt-get install time); max RSS falls back "
               "to wait4(), which includes this harness's own ~20 MiB in every number")
        print(f"warning: {msg}", file=sys.stderr)
        b.notes.append(msg)
    env = environment(b)
    print(json.dumps(env, indent=1))
    versions(b)
    if "A" in args.workloads:
        workload_a(b)
    if "B" in args.workloads:
        workload_b(b)
    check_rows = checks(b)
    print_report(b, check_rows)
    write_json(b, env, check_rows)
    if not args.keep:
        remove_scratch(args.workdir)
    failed = [key for key, s in b.results.items() if not s.ok]
    if failed:
        print(f"failed steps: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
