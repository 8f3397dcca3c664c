"""A crash-test harness in the spirit of SQLite's: run a writing command on a copy of a prepared
repository, kill it with SIGKILL at a chosen moment (a seeded random delay within the time the
command takes, or a named failpoint), run the command a user would run next, then check what
docs/guarantees.md promises:

* ``fsck`` passes and every version committed before the kill lists the same items;
* the next command runs without anyone deleting a lock or passing ``--force``;
* no temp file is staged or committed;
* the work tree of an interrupted switch, checkout or merge ends up matching a version.

``tests/faults/test_kill_points.py`` runs a bounded sample of kills (seeded, rotating by day);
``benchmarks/fault_campaign.py`` runs as many as asked and reports the counts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from mmvc.core.atomicfile import is_temp_name
from mmvc.repo import Repo


def mmvc(root, *args, env=None, check=True) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "MMVC_FAILPOINT"}
    full_env.update(env or {})
    res = subprocess.run([sys.executable, "-m", "mmvc.cli.main", "-C", str(root), *args], capture_output=True, text=True,
                         env=full_env, timeout=600)
    if check and res.returncode != 0:
        raise AssertionError(f"mmvc {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}")
    return res


def work_files(root) -> dict[str, bytes]:
    out = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in (".mmvc", "remote")]
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = f.read()
    return out


def versions(root) -> dict[str, list[tuple[str, str]]]:
    """Every commit reachable from a branch or tag, with the (path, blob id) pairs it holds."""
    repo = Repo(str(root))
    out = {}
    seen = set()
    todo = list(repo.refs.list("refs/").values())
    while todo:
        oid = todo.pop()
        if oid in seen:
            continue
        seen.add(oid)
        c = repo.read_commit(oid)
        out[oid] = [(e.path, e.oid) for e in repo.tree.iter_entries(c.tree)]
        todo += c.parents
    return out


@dataclass
class Scenario:
    """One writing command on a prepared repository, and the command a user runs after a kill."""

    name: str
    command: tuple[str, ...]
    after: object  # callable(root) -> the commands a user runs after the kill, in order; each must succeed
    prepare: object  # callable(root) building the repository the command runs on
    worktree: bool = False  # afterwards the work tree must hold exactly HEAD's version, status clean
    seconds: float = 0.0  # how long the command takes unkilled (measured)
    template: str = ""


@dataclass
class Outcome:
    scenario: str
    at: str  # "t+0.123s" or "failpoint:N"
    killed: bool
    problems: list[str] = field(default_factory=list)


def measure(scenario: Scenario, workdir: str) -> None:
    """Build the scenario's template repository once and time the command on a copy of it."""
    scenario.template = os.path.join(workdir, f"template-{scenario.name}")
    os.makedirs(scenario.template)
    scenario.prepare(scenario.template)
    trial = os.path.join(workdir, f"trial-{scenario.name}")
    shutil.copytree(scenario.template, trial, symlinks=True)
    t = time.monotonic()
    mmvc(trial, *scenario.command)
    scenario.seconds = time.monotonic() - t
    shutil.rmtree(trial)


def kill_once(scenario: Scenario, workdir: str, rng: random.Random, failpoint: str | None = None) -> Outcome:
    root = os.path.join(workdir, f"run-{scenario.name}-{rng.randrange(1 << 30)}")
    shutil.copytree(scenario.template, root, symlinks=True)
    before = versions(root)
    env = {k: v for k, v in os.environ.items() if k != "MMVC_FAILPOINT"}
    if failpoint:
        env["MMVC_FAILPOINT"] = failpoint
        at = f"failpoint {failpoint}"
        proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", root, *scenario.command], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        proc.wait(timeout=600)
    else:
        delay = rng.uniform(0.0, scenario.seconds * 1.1)
        at = f"t+{delay:.3f}s"
        proc = subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", root, *scenario.command], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and every helper it started, as a power cut would
            proc.wait()
    out = Outcome(scenario.name, at, killed=proc.returncode == -signal.SIGKILL)
    try:
        check(scenario, root, before, out)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def check(scenario: Scenario, root: str, before: dict, out: Outcome) -> None:
    for args in scenario.after(root):
        res = mmvc(root, *args, check=False)
        if res.returncode != 0:
            out.problems.append(f"`mmvc {' '.join(args)}` after the kill exited {res.returncode}: {res.stderr.strip()[-300:]}")
            return
    repo = Repo(root)
    r = repo.fsck()
    if not r.ok:
        out.problems.append("fsck: " + "; ".join(f.message for f in r.errors[:3]))
    now = versions(root)
    for oid, items in before.items():
        if now.get(oid) != items:
            out.problems.append(f"committed version {oid[:12]} changed or was lost")
    staged = [e.path for e in repo.load_index().iter_entries() if is_temp_name(e.path.rsplit("/", 1)[-1])]
    committed = [p for items in now.values() for p, _ in items if is_temp_name(p.rsplit("/", 1)[-1])]
    if staged or committed:
        out.problems.append(f"temp files staged or committed: {(staged + committed)[:3]}")
    if os.path.exists(repo.layout.lock):
        out.problems.append("the lock is still there after the next command")
    if scenario.worktree:
        if work_files(root) != _version_files(repo, "HEAD"):
            out.problems.append("the work tree does not hold HEAD's version")
        status = json.loads(mmvc(root, "status", "--json").stdout)
        if not status["clean"]:
            out.problems.append(f"status is not clean: {status['counts']}")


def _version_files(repo, rev: str) -> dict[str, bytes]:
    c = repo.read_commit(repo.resolve(rev))
    return {e.path: repo.store.get(e.oid) for e in repo.tree.iter_entries(c.tree)}


# --------------------------------------------------------------------------- scenarios


def _write(root, rel: str, text: str) -> None:
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def _base(root, n: int = 60) -> None:
    Repo.init(str(root), ungated=True)
    for i in range(n):
        _write(root, f"data/f{i:03d}.txt", f"main {i}\n" * 50)
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "v1")


def prepare_add(root) -> None:
    _base(root)
    for i in range(400):
        _write(root, f"new/n{i:03d}.txt", f"new {i}\n" * 30)


def prepare_commit(root) -> None:
    prepare_add(root)
    mmvc(root, "add", ".")


def prepare_branches(root) -> None:
    _base(root)
    mmvc(root, "switch", "-c", "other")
    for i in range(0, 60, 2):
        _write(root, f"data/f{i:03d}.txt", f"other {i}\n" * 50)
    for i in range(200):
        _write(root, f"other/o{i:03d}.txt", f"o {i}\n")
    os.unlink(os.path.join(root, "data/f001.txt"))
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "other")
    mmvc(root, "switch", "main")


def prepare_merge(root) -> None:
    prepare_branches(root)
    for i in range(100):
        _write(root, f"mainside/m{i:03d}.txt", f"m {i}\n")
    mmvc(root, "add", ".")
    mmvc(root, "commit", "-m", "main later")


def prepare_gc(root) -> None:
    prepare_branches(root)
    mmvc(root, "branch", "-D", "other")


def prepare_import(root) -> None:
    _base(root)
    with open(os.path.join(root, "rows.jsonl"), "w") as f:
        for i in range(3000):
            f.write(json.dumps({"text": f"row {i} " * 10}) + "\n")


def prepare_push(root) -> None:
    prepare_branches(root)
    remote = os.path.join(root, "remote")
    os.makedirs(remote)
    mmvc(root, "remote", "add", "origin", "file://" + remote)


def _then(*commands):
    return lambda root: list(commands)


def _after_merge(root) -> list[tuple[str, ...]]:
    """An open merge is given up with --abort (--continue is the other way out); else any writer."""
    if os.path.exists(os.path.join(root, ".mmvc", "MERGE_HEAD")):
        return [("merge", "--abort")]
    return [("branch", "after")]


SCENARIOS = {
    "add": Scenario("add", ("add", "."), _then(("add", ".")), prepare_add),
    "commit": Scenario("commit", ("commit", "-m", "v2"), _then(("branch", "after")), prepare_commit),
    "switch": Scenario("switch", ("switch", "other"), _then(("branch", "after")), prepare_branches, worktree=True),
    "merge": Scenario("merge", ("merge", "other", "-m", "merged"), _after_merge, prepare_merge, worktree=True),
    "gc": Scenario("gc", ("gc", "--prune", "now"), _then(("gc", "--prune", "now")), prepare_gc),
    "import": Scenario("import", ("import", "jsonl", "rows.jsonl", "--text-field", "text"),
                       _then(("import", "jsonl", "rows.jsonl", "--text-field", "text")), prepare_import),
    "push": Scenario("push", ("push", "origin", "main"), _then(("push", "origin", "main")), prepare_push),
}
