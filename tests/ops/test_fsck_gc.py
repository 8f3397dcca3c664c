"""fsck and gc on real repositories: findings name what they break, gc keeps everything
reachable and everything young, and a kill -9 at any moment of gc loses nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.core.hashing import hash_bytes
from mmvc.errors import BadInputError, CorruptError, ExitCode
from mmvc.ops.gc import CRASH_ENV, parse_expiry
from mmvc.repo import Repo

DAY = 86400
BIG = 300 * 1024  # above the default pack threshold: stored loose


def write(root, rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def commit_round(repo, n: int, files: int = 5, big: bool = False) -> str:
    for i in range(files):
        write(repo.root, f"text/r{n:03d}/{i}.txt", f"caption {n} {i}\n" * 3)
    if big:
        write(repo.root, f"text/big{n}.txt", (f"long transcript {n} " * (BIG // 16)).encode()[:BIG])
    repo.add(["text"], cwd=repo.root)
    return repo.commit(f"round {n}").oid


def snapshot(repo) -> dict[str, dict[str, str]]:
    """Every version's items (path -> id), with every blob read back and re-hashed."""
    repo = Repo(repo.root)  # a fresh view of the packs
    out = {}
    checked = set()
    for e in repo.log("HEAD"):
        items = {m.path: m.oid for m in repo.ls_files(e.oid)}
        for oid in items.values():
            if oid not in checked:
                assert hash_bytes(repo.store.get(oid)) == oid
                checked.add(oid)
        out[e.oid] = items
    return out


def age(path: str, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t))


def put_garbage(repo, data: bytes, days: float = 0) -> tuple[str, str]:
    """An object nothing refers to, as a fresh pack (small) or loose file (large), aged ``days``."""
    with repo.store.writer() as w:
        oid = w.put_bytes(data)
    path = w.finished_packs[0][:-4] + ".pack" if w.finished_packs else repo.store.loose_path(oid)
    if days:
        age(path, days)
    return oid, path


def has(repo, oid: str) -> bool:
    return Repo(repo.root).store.has(oid)


def pack_count(repo) -> int:
    return len([n for n in os.listdir(os.path.join(repo.dir, "objects", "pack")) if n.endswith(".idx")])


def tree_listing(root: str) -> dict[str, tuple[int, int]]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(d, f))
            out[os.path.relpath(os.path.join(d, f), root)] = (st.st_size, st.st_mtime_ns)
    return out


def run_cli(*args, expect=0):
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == expect, f"mmvc {' '.join(args)} -> {res.exit_code}\n{res.output}"
    return res


# --------------------------------------------------------------------------- fsck


def test_fsck_clean_repository(repo):
    from mmvc.ops.branch import create_branch
    from mmvc.ops.tag import create_tag

    c1 = commit_round(repo, 1, big=True)
    create_tag(repo, "v1", message="first release")
    create_branch(repo, "side")
    commit_round(repo, 2)
    write(repo.root, "text/staged.txt", "staged, not committed\n")
    repo.add(["text/staged.txt"], cwd=repo.root)
    for quick in (False, True):
        r = repo.fsck(quick=quick)
        assert r.ok and not r.errors and not r.warnings, r
        assert r.commits == 2 and r.blobs >= 12 and r.other_objects == 1  # the annotated tag
        assert r.unreachable == 0
    assert repo.fsck().bytes_hashed >= BIG
    out = run_cli("-C", repo.root, "fsck").output
    assert "no missing or corrupt objects" in out
    doc = json.loads(run_cli("-C", repo.root, "fsck", "--quick", "--json").output)
    assert doc["ok"] and doc["mode"] == "quick" and doc["errors"] == []
    assert c1 in snapshot(repo)


def test_missing_loose_object_names_the_versions_it_breaks(repo):
    from mmvc.ops.branch import create_branch

    c1 = commit_round(repo, 1, big=True)
    create_branch(repo, "keep")
    c2 = commit_round(repo, 2)
    big = repo.tree.get_many(repo.read_commit(c2).tree, ["text/big1.txt"])["text/big1.txt"].oid
    os.unlink(repo.store.loose_path(big))
    r = repo.fsck(quick=True)
    assert not r.ok
    [f] = r.errors
    assert (f.kind, f.what, f.oid, f.path) == ("missing", "blob", big, "text/big1.txt")
    assert f.versions == sorted([c1, c2])
    assert {"refs/heads/main", "refs/heads/keep", "index"} <= set(f.refs)
    assert r.broken_versions == sorted([c1, c2])
    res = run_cli("-C", repo.root, "fsck", expect=ExitCode.CORRUPT)
    assert "missing blob" in res.output and "text/big1.txt" in res.output and c1[:12] in res.output
    assert "refs/heads/keep" in res.output
    doc = json.loads(run_cli("-C", repo.root, "fsck", "--json", expect=ExitCode.CORRUPT).output)
    assert doc["errors"][0]["oid"] == big and not doc["ok"]


def test_flipped_byte_in_a_pack_is_caught_by_full_mode_only(repo):
    c1 = commit_round(repo, 1)
    victim = repo.tree.get_many(repo.read_commit(c1).tree, ["text/r001/3.txt"])["text/r001/3.txt"].oid
    pack_path, off, _ = repo.store.locate(victim)
    with open(pack_path, "r+b") as f:
        f.seek(off + 2)
        b = f.read(1)
        f.seek(off + 2)
        f.write(bytes([b[0] ^ 0x01]))
    quick = repo.fsck(quick=True)
    assert quick.ok, quick.errors
    full = repo.fsck()
    kinds = {(f.kind, f.oid) for f in full.errors}
    assert ("corrupt", victim) in kinds
    assert any(f.kind == "bad-pack" for f in full.errors)
    corrupt = next(f for f in full.errors if f.oid == victim)
    assert corrupt.versions == [c1] and corrupt.path == "text/r001/3.txt"
    run_cli("-C", repo.root, "fsck", "--quick")
    run_cli("-C", repo.root, "fsck", expect=ExitCode.CORRUPT)
    # gc copies only intact objects: it stops rather than launder the corrupt one into a new pack
    commit_round(repo, 2)
    with pytest.raises(CorruptError, match="no intact copy"):
        Repo(repo.root).gc(prune="now")
    assert not os.path.exists(os.path.join(repo.dir, "lock"))


def test_missing_node_is_reported_and_gc_refuses_to_prune(repo):
    cfg = os.path.join(repo.dir, "config.toml")
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("pack_threshold = 262144", "pack_threshold = 0"))  # everything loose
    repo = Repo(repo.root)
    c1 = commit_round(repo, 1, files=300)
    c2 = commit_round(repo, 2)
    root = repo.read_commit(c1).tree
    node = repo.tree.node(root)
    assert not node.is_leaf
    child = node.items[0][1].hex()
    os.unlink(repo.store.loose_path(child))
    r = repo.fsck(quick=True)
    f = next(f for f in r.errors if f.oid == child)
    assert (f.kind, f.what) == ("missing", "node") and c1 in f.versions and "refs/heads/main" in f.refs
    put_garbage(repo, b"x" * (BIG + 1), days=30)
    before = tree_listing(repo.dir)
    res = run_cli("-C", repo.root, "gc", "--prune=now", expect=ExitCode.CORRUPT)
    assert "refuses to prune" in res.output
    after = tree_listing(repo.dir)
    assert before == after and c2


def test_fsck_reports_leftovers_stale_lock_and_unreachable_as_non_errors(repo):
    commit_round(repo, 1)
    put_garbage(repo, b"nobody refers to me")
    write(repo.dir, "objects/tmp/pack-123.tmp", b"half a pack")
    dead = subprocess.Popen(["true"])
    dead.wait()
    write(repo.dir, "lock", json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": 0, "command": "gc"}))
    r = repo.fsck()
    assert r.ok
    assert [w.kind for w in r.warnings] == ["stale-lock"]
    kinds = {i.kind: i for i in r.info}
    assert kinds["unreachable"].count == 1 and r.unreachable == 1
    assert kinds["leftover"].count == 1
    out = run_cli("-C", repo.root, "fsck").output
    assert "stale lock" in out and "1 unreachable" in out and "no missing or corrupt objects" in out


def test_fsck_reports_a_deleted_index_and_its_hint_rebuilds_it(repo):
    commit_round(repo, 1)
    assert repo.status().clean
    os.unlink(os.path.join(repo.dir, "index"))
    r = repo.fsck(quick=True)
    assert [w.kind for w in r.warnings] == ["missing-index"]
    assert "mmvc restore --staged ." in r.warnings[0].hint
    assert "missing" in run_cli("-C", repo.root, "fsck").output
    run_cli("-C", repo.root, "restore", "--staged", ".")  # what the hint says
    assert Repo(repo.root).status().clean
    assert not Repo(repo.root).fsck(quick=True).warnings


# --------------------------------------------------------------------------- gc


def test_prune_dates():
    now = 1_700_000_000.0
    assert parse_expiry("now", now) == now
    assert parse_expiry("never", now) is None
    assert parse_expiry("2.weeks.ago", now) == now - 14 * DAY
    assert parse_expiry("3 days ago", now) == now - 3 * DAY
    assert parse_expiry("1.hour.ago", now) == now - 3600
    assert parse_expiry("90.minutes.ago", now) == now - 5400
    assert parse_expiry("30.seconds.ago", now) == now - 30
    assert parse_expiry("2.months.ago", now) == now - 60 * DAY
    assert parse_expiry("1.week", now) == now - 7 * DAY
    assert parse_expiry("2024-01-31T00:00:00+00:00", now) == 1706659200
    assert parse_expiry("2024-01-31T00:00:00Z", now) == 1706659200
    assert parse_expiry("2024-01-31", now) == 1706659200  # TZ=UTC in tests
    assert parse_expiry("@1700000000", now) == 1_700_000_000
    for bad in ("soon", "2.fortnights.ago", "", "yesterday-ish"):
        with pytest.raises(BadInputError):
            parse_expiry(bad, now)


def test_gc_removes_old_unreachable_and_keeps_young_and_reachable(repo):
    for n in range(4):
        commit_round(repo, n, big=(n == 0))
    write(repo.root, "text/staged.txt", "staged only\n")
    repo.add(["text/staged.txt"], cwd=repo.root)
    staged = repo.load_index().get("text/staged.txt").oid
    old_small, _ = put_garbage(repo, b"old and unreachable", days=30)
    old_big, _ = put_garbage(repo, b"B" * (BIG + 7), days=30)
    young_small, young_pack = put_garbage(repo, b"young and unreachable", days=3)
    young_big, _ = put_garbage(repo, b"Y" * (BIG + 9), days=1)
    write(repo.dir, "objects/tmp/old.tmp", b"x" * 10)
    age(os.path.join(repo.dir, "objects/tmp/old.tmp"), 30)
    write(repo.dir, "objects/tmp/young.tmp", b"y" * 10)
    before = snapshot(repo)
    packs = pack_count(repo)
    assert packs >= 10

    r = repo.gc()
    assert (r.pruned, r.kept_young, r.packs_before, r.packs_after) == (2, 2, packs, 1)
    assert r.pruned_bytes == len(b"old and unreachable") + BIG + 7
    assert r.leftovers_removed == 1 and r.leftovers_kept == 1 and r.bytes_freed > BIG
    assert pack_count(repo) == 1
    assert not has(repo, old_small) and not has(repo, old_big)
    assert has(repo, young_small) and has(repo, young_big) and has(repo, staged)
    assert not os.path.exists(os.path.join(repo.dir, "objects/tmp/old.tmp"))
    assert os.path.exists(os.path.join(repo.dir, "objects/tmp/young.tmp"))
    assert not os.path.exists(os.path.join(repo.dir, "lock"))
    assert snapshot(repo) == before
    f = Repo(repo.root).fsck()
    assert f.ok and f.unreachable == 2, f.errors
    # the carried young object keeps its age: the new pack's mtime is its old pack's
    [new_pack] = [n for n in os.listdir(os.path.join(repo.dir, "objects/pack")) if n.endswith(".pack")]
    mtime = os.stat(os.path.join(repo.dir, "objects/pack", new_pack)).st_mtime
    assert abs(mtime - (time.time() - 3 * DAY)) < 60
    again = Repo(repo.root).gc()
    assert (again.pruned, again.packs_after, again.packed) == (0, 1, 0)  # nothing to do
    last = Repo(repo.root).gc(prune="2.days.ago")
    assert last.pruned == 1 and not has(repo, young_small) and has(repo, young_big)
    assert snapshot(repo) == before


def test_gc_dry_run_changes_nothing_and_predicts_the_real_run(repo, tmp_path):
    for n in range(3):
        commit_round(repo, n)
    put_garbage(repo, b"old garbage", days=30)
    put_garbage(repo, b"O" * (BIG + 1), days=30)
    write(repo.dir, "objects/tmp/x.tmp", b"x")
    age(os.path.join(repo.dir, "objects/tmp/x.tmp"), 30)
    before = tree_listing(repo.dir)
    dry = repo.gc(dry_run=True)
    assert tree_listing(repo.dir) == before
    assert dry.pruned == 2 and dry.packs_after == 1 and dry.leftovers_removed == 1
    doc = json.loads(run_cli("-C", repo.root, "gc", "--dry-run", "--json").output)
    assert doc["dry_run"] and doc["pruned"] == 2
    assert "would remove 2 unreachable" in run_cli("-C", repo.root, "gc", "-n").output
    assert tree_listing(repo.dir) == before
    real = Repo(repo.root).gc()
    for k in ("pruned", "pruned_bytes", "packs_after", "packed", "kept_young", "leftovers_removed", "bytes_before", "bytes_freed"):
        assert getattr(dry, k) == getattr(real, k), k


def test_gc_folds_small_loose_objects_into_one_pack(repo):
    cfg = os.path.join(repo.dir, "config.toml")
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("pack_threshold = 262144", "pack_threshold = 0"))
    repo = Repo(repo.root)
    for n in range(3):
        commit_round(repo, n, big=(n == 1))
    loose = len(list(Repo(repo.root).store.iter_ids()))
    with open(cfg, "w") as f:
        f.write(text)
    repo = Repo(repo.root)
    before = snapshot(repo)
    r = repo.gc()
    assert r.loose_before == loose and r.loose_after == 1  # only the big blob stays loose
    assert r.loose_packed == loose - 1 and r.packs_after == 1
    assert snapshot(repo) == before and Repo(repo.root).fsck().ok


def test_gc_keeps_what_reflogs_tags_and_merge_heads_name(repo):
    from mmvc.ops.branch import delete_branch
    from mmvc.ops.checkout import switch
    from mmvc.ops.tag import create_tag

    commit_round(repo, 1)
    switch(repo, "side", create=True)
    side = commit_round(repo, 2)
    create_tag(repo, "v-side", message="annotated, on a branch about to go")
    tagged = repo.refs.read("refs/tags/v-side")
    switch(repo, "main")
    delete_branch(repo, "side", force=True)
    os.unlink(os.path.join(repo.dir, "refs/tags/v-side"))
    assert Repo(repo.root).gc(prune="now").pruned == 0  # the tag's reflog still names the tag object
    os.unlink(os.path.join(repo.dir, "logs/refs/tags/v-side"))
    # only HEAD's reflog names the side commit now
    r = Repo(repo.root).gc(prune="now")
    assert r.pruned == 1  # the tag object: nothing names it any more
    assert has(repo, side) and not has(repo, tagged)
    assert Repo(repo.root).fsck().ok
    shutil.rmtree(os.path.join(repo.dir, "logs"))
    write(repo.dir, "ORIG_HEAD", side + "\n")
    assert Repo(repo.root).gc(prune="now").pruned == 0
    os.unlink(os.path.join(repo.dir, "ORIG_HEAD"))
    write(repo.root, "text/staged.txt", "staged, never committed\n")
    repo = Repo(repo.root)
    repo.add(["text/staged.txt"], cwd=repo.root)
    staged = repo.load_index().get("text/staged.txt").oid
    r = Repo(repo.root).gc(prune="now")
    assert r.pruned > 0 and not has(repo, side)
    assert has(repo, staged)  # the index is a root: what `add` staged is never robbed
    assert Repo(repo.root).fsck().ok


def test_gc_waits_for_no_one(repo):
    commit_round(repo, 1)
    write(repo.dir, "lock", json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "since": 0, "command": "add"}))
    res = run_cli("-C", repo.root, "gc", expect=ExitCode.LOCKED)
    assert "locked" in res.output
    assert "would remove" in run_cli("-C", repo.root, "gc", "--dry-run").output  # reads only: no lock needed
    assert any(i.kind == "locked" for i in repo.fsck().info)


def test_bad_prune_value_is_a_usage_error(repo):
    res = run_cli("-C", repo.root, "gc", "--prune=someday", expect=ExitCode.BAD_INPUT)
    assert "someday" in res.output


# --------------------------------------------------------------------------- faults


def _faulty_repo(root: str):
    """Many packs, reachable loose objects, a small loose object, old and young garbage."""
    repo = Repo.init(root, ungated=True)
    for n in range(8):
        commit_round(repo, n, files=400, big=(n % 3 == 0))
    small = b"a small loose object, as an older mmvc or a remote might leave"
    oid = hash_bytes(small)
    os.makedirs(os.path.dirname(repo.store.loose_path(oid)), exist_ok=True)
    write(repo.dir, os.path.relpath(repo.store.loose_path(oid), repo.dir), small)
    age(repo.store.loose_path(oid), 30)
    young = [put_garbage(repo, f"young {i}".encode())[0] for i in range(3)]
    for i in range(3):
        put_garbage(repo, f"old {i}".encode(), days=30)
    put_garbage(repo, b"Z" * (BIG + 3), days=30)
    return repo, young


@pytest.fixture(scope="module")
def faulty_base(tmp_path_factory):
    """Built once per module (adding thousands of files takes a while), copied per test."""
    with pytest.MonkeyPatch.context() as mp:
        for role in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"MMVC_{role}_NAME", "Test User")
            mp.setenv(f"MMVC_{role}_EMAIL", "test@example.com")
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
        root = str(tmp_path_factory.mktemp("faulty") / "r")
        _, young = _faulty_repo(root)
    return root, young


def _copy(base, tmp_path):
    root, young = base
    dest = str(tmp_path / "r")
    shutil.copytree(root, dest, symlinks=True)  # copy2: mtimes (the objects' ages) come along
    return Repo(dest), young


def _gc_process(root: str, env_extra: dict | None = None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "mmvc.cli.main", "-C", root, "gc"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _check_whole(root: str, expected: dict, young: list[str]) -> None:
    lock = os.path.join(root, ".mmvc", "lock")
    repo = Repo(root)
    r = repo.fsck()
    assert r.ok, [f.message for f in r.errors]
    if os.path.exists(lock):
        assert [w.kind for w in r.warnings] == ["stale-lock"]
        os.unlink(lock)  # what the warning's hint says to do
    assert snapshot(repo) == expected
    for oid in young:
        assert repo.store.has(oid), "a young unreachable object was dropped"


@pytest.mark.parametrize("step", ["pack-written", "pack-renamed", "pack-visible", "idx-deleted", "loose-deleting"])
def test_kill_at_each_gc_step_loses_nothing(tmp_path, faulty_base, step):
    repo, young = _copy(faulty_base, tmp_path)
    expected = snapshot(repo)
    proc = _gc_process(repo.root, {CRASH_ENV: step})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    _check_whole(repo.root, expected, young)
    # a rerun finishes the job
    r = Repo(repo.root).gc()
    assert pack_count(repo) == 1 and r.pruned >= 1
    _check_whole(repo.root, expected, young)
    assert Repo(repo.root).fsck().unreachable == len(young)


def _kill_inside(proc, mmvc_dir: str, delay: float, after_lock: bool) -> None:
    """SIGKILL ``proc`` ``delay`` seconds after it started, or after it took the lock (start-up
    time varies with the machine's load; counting from the lock lands kills inside gc's work)."""
    lock = os.path.join(mmvc_dir, "lock")
    deadline = time.time() + 30
    while after_lock and not os.path.exists(lock) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)


def test_random_kills_during_gc_lose_nothing(tmp_path, faulty_base):
    repo, young = _copy(faulty_base, tmp_path)
    rng = random.Random(7)
    expected = snapshot(repo)
    for round_no in range(6):
        # more to do each time: new packs and new old garbage
        c = commit_round(repo, 100 + round_no, files=10)
        put_garbage(repo, f"old garbage {round_no}".encode(), days=30)
        expected = snapshot(repo)
        assert c in expected
        proc = _gc_process(repo.root)
        if round_no % 2:
            _kill_inside(proc, repo.dir, rng.uniform(0.0, 0.15), after_lock=True)
        else:
            _kill_inside(proc, repo.dir, rng.uniform(0.05, 0.5), after_lock=False)
        _check_whole(repo.root, expected, young)
        repo = Repo(repo.root)  # a fresh view: the killed gc may have replaced packs
    r = repo.gc()
    assert pack_count(repo) == 1 and r.packs_after == 1
    _check_whole(repo.root, expected, young)


def test_gc_keeps_evaluated_commits_and_what_their_evals_link(repo):
    from mmvc.ops.branch import delete_branch
    from mmvc.ops.checkout import switch

    commit_round(repo, 1)
    switch(repo, "side", create=True)
    side = commit_round(repo, 2)
    repo.create_recipe("side-mix", "HEAD", allow_ungated=True)
    recipe = repo.refs.read("refs/recipes/side-mix")
    ev = repo.add_eval("HEAD", "mmlu", {"acc": 0.7}, recipe="side-mix")
    switch(repo, "main")
    delete_branch(repo, "side", force=True)
    os.unlink(os.path.join(repo.dir, "refs/recipes/side-mix"))
    shutil.rmtree(os.path.join(repo.dir, "logs"))
    # only the eval names the side version (and the recipe it was trained on) now
    r = Repo(repo.root).gc(prune="now")
    assert r.pruned == 0
    assert has(repo, side) and has(repo, recipe) and has(repo, ev.id)
    assert snapshot(repo) and Repo(repo.root).fsck().ok
    assert {i.id for i in Repo(repo.root).list_evals(side)} == {ev.id}

    os.unlink(os.path.join(repo.dir, "refs/evals", side, ev.id))
    r = Repo(repo.root).gc(prune="now")
    assert r.pruned > 0 and not has(repo, side) and not has(repo, ev.id) and not has(repo, recipe)
    assert Repo(repo.root).fsck().ok


def test_fsck_reports_an_eval_whose_object_is_missing_or_malformed(repo):
    c = commit_round(repo, 1)
    missing = "ee" * 32
    write(repo.dir, f"refs/evals/{c}/{missing}", missing + "\n")
    with repo.store.writer() as w:
        bad = w.put_bytes(b'mmvc eval 2\n{"author":{"email":"a","name":"b","time":0,"tz":0},"commit":"nope"}')
        headerless = w.put_bytes(b'{"author":{"email":"a","name":"b","time":0,"tz":0},"commit":"' + c.encode() + b'","type":"eval"}')
    write(repo.dir, f"refs/evals/{c}/{bad}", bad + "\n")
    write(repo.dir, f"refs/evals/{c}/{headerless}", headerless + "\n")
    r = Repo(repo.root).fsck()
    assert not r.ok
    found = {f.oid: f for f in r.errors}
    assert found[missing].kind == "missing" and found[missing].refs == [f"refs/evals/{c}/{missing}"]
    assert found[bad].kind == "malformed" and found[headerless].kind == "malformed"
