"""Negotiation sends what the receiver lacks and reads nothing of the subtrees both sides share."""

from __future__ import annotations

from mmvc.core.objects import Commit
from mmvc.remote.negotiate import ancestors, plan_transfer

from tests.remote.conftest import commit_files


def _plan(repo, want, have):
    store = repo.store
    reads: list[str] = []

    def read_want(ids, plan=None):
        reads.extend(ids)
        return {o: store.get(o) for o in ids}

    def read_have(ids):
        return {o: store.get(o) for o in ids}

    closure = ancestors(lambda o: store.get(o) if store.has(o) else None, [have] if have else [])

    def tree(c):
        return Commit.decode(store.get(c), c).tree

    plan = plan_transfer(read_want, read_have, [want], lambda c: c in closure, tree, [tree(have)] if have else [])
    return plan, reads


def test_one_changed_item_sends_one_path_of_nodes(repo):
    files = {f"d/{i:05d}.txt": f"item {i}\n" for i in range(5000)}
    first = commit_files(repo, files, "many")
    second = commit_files(repo, {"d/02500.txt": "changed\n"}, "one change")
    height = repo.tree.height(repo.read_commit(second).tree)
    plan, reads = _plan(repo, second, first)
    assert plan.commits == [second]
    assert len(plan.nodes) == height + 1  # the root-to-leaf path of the changed item
    assert list(plan.blobs) == [repo.tree.get_many(repo.read_commit(second).tree, ["d/02500.txt"])["d/02500.txt"].oid]
    # the shared subtrees were cancelled by id, never read from the sending side
    assert len(reads) <= 1 + (height + 1)


def test_nothing_in_common_sends_everything(repo):
    files = {f"d/{i:04d}.txt": f"item {i}\n" for i in range(600)}
    tip = commit_files(repo, files, "many")
    plan, _ = _plan(repo, tip, None)
    assert len(plan.blobs) == 600
    assert plan.origin[next(iter(plan.blobs))] == tip
    assert len(plan.nodes) > 3


def test_remote_layout_golden_bytes(repo, tmp_path):
    """The remote's marker, HEAD and ref files, byte for byte (docs/format.md, "Remote layout")."""
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote
    from mmvc.remote.transport import marker_bytes

    assert marker_bytes() == b'{"format":2,"type":"mmvc-remote"}'
    tip = commit_files(repo, {"a.txt": "a\n"}, "one")
    add_remote(repo, "origin", str(tmp_path / "remote"))
    push(repo)
    root = tmp_path / "remote"
    assert (root / "mmvc-remote.json").read_bytes() == b'{"format":2,"type":"mmvc-remote"}'
    assert (root / "HEAD").read_bytes() == b"ref: refs/heads/main\n"
    assert (root / "refs" / "heads" / "main").read_bytes() == (tip + "\n").encode()
    packs = sorted(p.name for p in (root / "objects" / "pack").iterdir())
    assert len(packs) == 4 and all(p.startswith("pack-") for p in packs)  # blobs, then manifests + commit
    assert all((root / "objects" / "pack" / p).read_bytes()[:4] == (b"MMPI" if p.endswith(".idx") else b"MMPK") for p in packs)


def test_a_push_raises_a_format_1_remote_to_format_2(repo, tmp_path):
    """A format-1 remote is read as it is; the first push marks it format 2 before uploading,
    so an mmvc that knows only format 1 refuses it instead of misreading headed objects."""
    from mmvc.ops.fetch import fetch
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote

    commit_files(repo, {"a.txt": "a\n"}, "one")
    add_remote(repo, "origin", str(tmp_path / "remote"))
    push(repo)
    marker = tmp_path / "remote" / "mmvc-remote.json"
    marker.write_bytes(b'{"format":1,"type":"mmvc-remote"}')
    fetch(repo)  # reading leaves the marker alone
    assert marker.read_bytes() == b'{"format":1,"type":"mmvc-remote"}'
    commit_files(repo, {"b.txt": "b\n"}, "two")
    push(repo)
    assert marker.read_bytes() == b'{"format":2,"type":"mmvc-remote"}'
