"""The remote contract, run on every backend: file://, memory:// and s3:// (a real moto server)."""

from __future__ import annotations

import os
import threading

import pytest

from mmvc.errors import ConflictError, RemoteError
from mmvc.ops.clone import clone
from mmvc.ops.fetch import fetch
from mmvc.ops.pull import pull
from mmvc.ops.push import push
from mmvc.ops.remote import add_remote, list_remotes, remove_remote
from mmvc.repo import Repo

from tests.remote.conftest import commit_files, read


def _remote_fs(url):
    from fsspec.core import url_to_fs

    return url_to_fs(url, skip_instance_cache=True)


def test_push_then_clone_round_trip(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    r = push(source)
    assert [(u.ref, u.status) for u in r.updates] == [("refs/heads/main", "new")]
    assert r.objects > 0 and r.packs >= 1
    assert source.refs.read("refs/remotes/origin/main") == source.refs.read("refs/heads/main")

    again = push(source)
    assert again.up_to_date and again.objects == 0
    assert again.requests.get("put", 0) == 0

    c = clone(remote_url, str(tmp_path / "copy"))
    copy = Repo(c.path)
    assert c.branch == "main" and c.commit == source.refs.read("refs/heads/main")
    assert read(copy, "captions/000.txt") == b"changed caption\n"
    assert read(copy, "docs/big.txt") == b"x" * 300_000
    assert [e.path for e in copy.ls_files("HEAD")] == [e.path for e in source.ls_files("HEAD")]
    assert copy.fsck().ok
    st = copy.status()
    assert not st.staged and not st.unstaged and not st.untracked
    assert len(list(copy.log())) == 2  # history came along


def test_fetch_and_pull_bring_new_versions(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    copy = Repo(clone(remote_url, str(tmp_path / "copy")).path)
    new = commit_files(source, {"captions/later.txt": "added later\n", "docs/big2.txt": "y" * 280_000}, "third")
    push(source)

    f = fetch(copy)
    assert [(u.ref, u.new) for u in f.updates] == [("refs/remotes/origin/main", new)]
    assert f.commits == 1 and f.blobs == 2
    # negotiation: only the changed part of the manifest tree travels, never the unchanged nodes
    assert f.nodes <= 3
    assert copy.refs.read("refs/heads/main") != new  # fetch never moves local branches

    again = fetch(copy)
    assert again.objects == 0 and again.updates == []

    p = pull(copy)
    assert p.merge.status == "fast-forward"
    assert copy.refs.read("refs/heads/main") == new
    assert read(copy, "captions/later.txt") == b"added later\n"
    assert read(copy, "docs/big2.txt") == b"y" * 280_000


def test_partial_clone_fetches_blobs_on_demand(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    c = clone(remote_url, str(tmp_path / "partial"), filter="blob:none", sparse=["captions/00*"])
    repo = Repo(c.path)
    assert c.written == 10 and c.blobs_fetched == 10  # exactly the blobs it wrote
    assert read(repo, "captions/001.txt") == b"a caption number 1\n"
    assert not os.path.exists(os.path.join(repo.root, "docs/big.txt"))
    big = next(e for e in repo.ls_files("HEAD") if e.path == "docs/big.txt")
    local = repo.store.local
    assert not local.has(big.oid)
    assert repo.fsck().ok  # promised blobs are not missing ones
    # any reader gets the blob on first use, verified
    assert repo.store.get(big.oid) == b"x" * 300_000
    assert local.has(big.oid)
    # widening the checkout fetches the rest in one batch
    repo.checkout("main", no_sparse=True)
    assert read(repo, "docs/big.txt") == b"x" * 300_000
    assert repo.gc(prune="now").missing == 0
    assert repo.fsck().ok


def test_metadata_only_clone_diffs_without_blobs(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    first = source.resolve("HEAD~1")
    c = clone(remote_url, str(tmp_path / "ci"), filter="blob:none", no_checkout=True)
    repo = Repo(c.path)
    assert c.written == 0 and c.blobs_fetched == 0
    d = repo.diff(first, "origin/main")
    assert sorted(ch.path for ch in d.changes) == ["captions/000.txt", "captions/new.txt"]
    assert [e for e in repo.ls_files("HEAD") if repo.store.local.has(e.oid)] == []
    st = repo.status()
    assert not st.staged and not st.unstaged


def test_non_fast_forward_is_refused_with_the_fix(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    other = Repo(clone(remote_url, str(tmp_path / "other")).path)
    commit_files(other, {"captions/other.txt": "theirs\n"}, "from the other clone")
    push(other)
    commit_files(source, {"captions/mine.txt": "mine\n"}, "from the source")
    with pytest.raises(ConflictError) as e:
        push(source)
    assert "pull" in e.value.hint and "--force" in e.value.hint
    p = pull(source)
    assert p.merge.status == "merged"
    r = push(source)
    assert r.updates[0].status == "fast-forward"
    fetch(other)
    assert other.refs.read("refs/remotes/origin/main") == source.refs.read("refs/heads/main")


def test_force_push_overwrites(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    other = Repo(clone(remote_url, str(tmp_path / "other")).path)
    commit_files(other, {"captions/other.txt": "theirs\n"}, "other")
    push(other)
    commit_files(source, {"captions/mine.txt": "mine\n"}, "mine")
    r = push(source, force=True)
    assert r.updates[0].status == "forced"
    assert fetch(other).updates[0].new == source.refs.read("refs/heads/main")


def test_concurrent_pushes_exactly_one_wins(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    a = Repo(clone(remote_url, str(tmp_path / "a")).path)
    b = Repo(clone(remote_url, str(tmp_path / "b")).path)
    commit_files(a, {f"a/{i}.txt": f"from a {i}\n" for i in range(30)}, "a's work")
    commit_files(b, {f"b/{i}.txt": f"from b {i}\n" for i in range(30)}, "b's work")
    results: dict = {}
    start = threading.Barrier(2)

    def run(name, repo):
        start.wait()
        try:
            results[name] = push(repo)
        except Exception as e:  # noqa: BLE001 - the test inspects which error
            results[name] = e

    threads = [threading.Thread(target=run, args=(n, r)) for n, r in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [n for n, r in results.items() if not isinstance(r, Exception)]
    lost = [n for n, r in results.items() if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    err = results[lost[0]]
    assert isinstance(err, ConflictError) and "pull" in err.hint
    winner = {"a": a, "b": b}[won[0]]
    c = Repo(clone(remote_url, str(tmp_path / "check")).path)
    assert c.refs.read("refs/heads/main") == winner.refs.read("refs/heads/main")
    assert c.fsck().ok
    # the loser follows the hint and gets in
    loser = {"a": a, "b": b}[lost[0]]
    assert pull(loser).merge.status == "merged"
    assert push(loser).updates[0].status == "fast-forward"


def test_corrupt_remote_object_is_detected_at_fetch(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    fs, root = _remote_fs(remote_url)
    big = next(e for e in source.ls_files("HEAD") if e.path == "docs/big.txt")
    path = f"{root}/objects/{big.oid[:2]}/{big.oid[2:4]}/{big.oid}"
    fs.pipe_file(path, b"x" * 299_999 + b"y")
    with pytest.raises(RemoteError) as e:
        clone(remote_url, str(tmp_path / "bad"))
    assert big.oid in e.value.message and "corrupt" in e.value.message
    assert source.refs.read("refs/heads/main") in e.value.message  # the version that needs it
    assert not os.path.exists(tmp_path / "bad")  # no half-made clone left behind

    # a corrupt record inside a pack: one byte of a caption flipped
    fs.pipe_file(path, b"x" * 300_000)
    packs = [p for p in fs.ls(f"{root}/objects/pack", detail=False) if p.endswith(".pack")]
    hit = None
    for p in packs:
        data = bytearray(fs.cat_file(p))
        i = data.find(b"a caption number 7\n")
        if i >= 0:
            data[i] ^= 0x20
            fs.pipe_file(p, bytes(data))
            hit = p
    assert hit
    with pytest.raises(RemoteError) as e:
        clone(remote_url, str(tmp_path / "bad2"))
    assert "corrupt" in e.value.message


def test_missing_remote_object_is_reported_with_its_version(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    fs, root = _remote_fs(remote_url)
    big = next(e for e in source.ls_files("HEAD") if e.path == "docs/big.txt")
    fs.rm_file(f"{root}/objects/{big.oid[:2]}/{big.oid[2:4]}/{big.oid}")
    c = clone(remote_url, str(tmp_path / "partial"), filter="blob:none", sparse=["captions/**"])
    with pytest.raises(RemoteError) as e:
        Repo(c.path).checkout("main", no_sparse=True)
    assert big.oid in e.value.message and "missing" in e.value.message
    with pytest.raises(RemoteError) as e:
        clone(remote_url, str(tmp_path / "full"))
    assert big.oid in e.value.message and source.refs.read("refs/heads/main") in e.value.message


def test_push_branches_and_tags(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    source.branch("dev")
    source.tag("v1")
    r = push(source, all_branches=True, tags=True)
    assert sorted(u.ref for u in r.updates) == ["refs/heads/dev", "refs/heads/main", "refs/tags/v1"]
    c = Repo(clone(remote_url, str(tmp_path / "c"), branch="dev").path)
    assert c.head()[0] == "refs/heads/dev"
    assert c.refs.read("refs/tags/v1") == source.refs.read("refs/tags/v1")
    assert c.refs.read("refs/remotes/origin/main") == source.refs.read("refs/heads/main")


def test_remote_add_list_remove(source, remote_url):
    add_remote(source, "origin", remote_url)
    add_remote(source, "backup", remote_url + "-backup", endpoint_url="http://127.0.0.1:1")
    assert [(r.name, r.endpoint_url) for r in list_remotes(source)] == [("backup", "http://127.0.0.1:1"), ("origin", "")]
    push(source)
    assert list_remotes(source)[1].tracking == 1
    remove_remote(source, "origin")
    assert [r.name for r in list_remotes(source)] == ["backup"]
    assert source.refs.list("refs/remotes") == {}


def test_interrupted_fetch_moves_no_ref_and_resumes(source, remote_url, tmp_path):
    add_remote(source, "origin", remote_url)
    push(source)
    copy = Repo(clone(remote_url, str(tmp_path / "copy")).path)
    before = copy.refs.read("refs/remotes/origin/main")
    commit_files(source, {"captions/later.txt": "later\n", "docs/big3.txt": "z" * 270_000}, "third")
    push(source)
    fs, root = _remote_fs(remote_url)
    big = next(e for e in source.ls_files("HEAD") if e.path == "docs/big3.txt")
    path = f"{root}/objects/{big.oid[:2]}/{big.oid[2:4]}/{big.oid}"
    fs.pipe_file(path, b"z" * 269_999 + b"!")
    with pytest.raises(RemoteError):
        fetch(copy)
    assert copy.refs.read("refs/remotes/origin/main") == before  # no ref names the half-fetched version
    assert copy.fsck().ok
    fs.pipe_file(path, b"z" * 270_000)
    f = fetch(copy)
    assert f.updates[0].new == source.refs.read("refs/heads/main")
    assert f.nodes >= 1 and f.objects == 3  # the manifest nodes fetched the first time are not fetched again
    assert copy.fsck().ok
