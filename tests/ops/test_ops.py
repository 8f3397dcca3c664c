"""The verbs through the library API, on real repositories."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.core.index import IndexEntry
from mmvc.core.modality import AUDIO, IMAGE, TEXT
from mmvc.core.objects import canonical_meta
from mmvc.errors import BadInputError, ConflictError


def write(root, rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return p


def staged(repo):
    return sorted((c.path, c.kind) for c in repo.status().staged)


def test_add_stages_deletions_under_walked_folders(repo):
    write(repo.root, "t/a.txt", "a\n")
    write(repo.root, "t/b.txt", "b\n")
    write(repo.root, "u/c.txt", "c\n")
    repo.add(["."], cwd=repo.root)
    repo.commit("v1")
    os.unlink(os.path.join(repo.root, "t/a.txt"))
    os.unlink(os.path.join(repo.root, "u/c.txt"))
    r = repo.add(["t"], cwd=repo.root)
    assert r.removed == 1
    assert staged(repo) == [("t/a.txt", "deleted")]  # u/ was not named, so its deletion stays unstaged
    assert [(c.path, c.kind) for c in repo.status().unstaged] == [("u/c.txt", "deleted")]


def test_glob_and_modality_override(repo):
    write(repo.root, "audio/x/1.flac", b"fLaC" + b"\0" * 40)
    write(repo.root, "audio/2.flac", b"fLaC" + b"\1" * 40)
    write(repo.root, "audio/notes.txt", "not audio\n")
    repo.add(["audio/**/*.flac"], cwd=repo.root)
    assert [e.path for e in repo.ls_files()] == ["audio/2.flac", "audio/x/1.flac"]
    assert {e.modality for e in repo.ls_files()} == {AUDIO}
    repo.add(["audio/notes.txt"], modality=IMAGE, cwd=repo.root)
    assert repo.load_index().get("audio/notes.txt").modality == IMAGE
    with pytest.raises(BadInputError, match="did not match"):
        repo.add(["nothing/**/*.flac"], cwd=repo.root)


def test_readd_keeps_metadata_and_exec_bit(repo):
    p = write(repo.root, "run.sh", "#!/bin/sh\necho hi\n")
    os.chmod(p, 0o755)
    repo.add(["run.sh"], cwd=repo.root)
    idx = repo.load_index()
    e = idx.get("run.sh")
    assert e.flags & 1 and e.modality == TEXT
    meta = canonical_meta({"license": "cc0", "source": "unit-test"})
    idx.set(e._replace(meta=meta))
    idx.write()
    write(repo.root, "run.sh", "#!/bin/sh\necho bye\n")
    repo.add(["run.sh"], cwd=repo.root)
    assert repo.load_index().get("run.sh").meta == meta
    repo.commit("with meta")
    [entry] = list(repo.ls_files("HEAD"))
    assert json.loads(entry.meta) == {"license": "cc0", "source": "unit-test"}


def test_touch_is_not_a_change(repo):
    p = write(repo.root, "a.txt", "same\n")
    repo.add(["a.txt"], cwd=repo.root)
    repo.commit("v1")
    os.utime(p, ns=(1, 1))
    st = repo.status()
    assert st.clean, (st.unstaged, st.staged)
    r = repo.add(["a.txt"], cwd=repo.root)
    assert r.unchanged == 1 and r.modified == 0
    with pytest.raises(ConflictError, match="nothing to commit"):
        repo.commit("no-op")


def test_commit_is_incremental_and_matches_a_rebuild(repo):
    """A commit of k changes on a large version writes O(k log n) nodes, and its root equals
    the root of the same items built from scratch."""
    root = repo.root
    for d in range(20):
        for i in range(500):
            write(root, f"d{d:02d}/{i:04d}.txt", f"item {d} {i}\n")
    repo.add(["."], cwd=root)
    first = repo.commit("10k items")
    for d in range(0, 20, 2):
        write(root, f"d{d:02d}/0007.txt", "changed\n")
    os.unlink(os.path.join(root, "d05/0100.txt"))
    write(root, "new/item.txt", "new\n")
    repo.add(["."], cwd=root)
    writer_packs_before = set(os.listdir(os.path.join(repo.dir, "objects", "pack")))
    second = repo.commit("12 changes")
    assert (second.added, second.modified, second.deleted) == (1, 10, 1)
    new_packs = [p for p in set(os.listdir(os.path.join(repo.dir, "objects", "pack"))) - writer_packs_before if p.endswith(".idx")]
    from mmvc.core.pack import PackIndex

    written = sum(PackIndex(os.path.join(repo.dir, "objects", "pack", p)).count for p in new_packs)
    assert written < 60, written  # 12 changes over ~160 leaves: a few leaves, their parents, the commit
    head = repo.read_commit(second.oid)
    with repo.store.writer() as w:
        rebuilt = repo.tree.build(sorted(repo.tree.iter_entries(head.tree)), w)
    assert rebuilt == head.tree
    assert repo.read_commit(second.oid).parents == (first.oid,)


def test_mv_folder_and_restore_from_source(repo):
    write(repo.root, "a/1.txt", "one\n")
    write(repo.root, "a/2.txt", "two\n")
    repo.add(["a"], cwd=repo.root)
    c1 = repo.commit("v1")
    repo.mv("a", "b", cwd=repo.root)
    assert sorted(e.path for e in repo.ls_files()) == ["b/1.txt", "b/2.txt"]
    repo.commit("renamed")
    write(repo.root, "b/1.txt", "uno\n")
    repo.add(["b"], cwd=repo.root)
    repo.commit("edited")
    repo.restore(["b/1.txt"], source="HEAD~1", cwd=repo.root)
    with open(os.path.join(repo.root, "b/1.txt")) as f:
        assert f.read() == "one\n"
    with pytest.raises(BadInputError):
        repo.restore(["b/1.txt"], source=c1.oid, cwd=repo.root)  # b/ did not exist then


def test_index_folds_into_base_after_big_commit(repo):
    for i in range(6000):
        write(repo.root, f"x/{i}.txt", f"{i}\n")
    repo.add(["x"], cwd=repo.root)
    repo.commit("many")
    idx = repo.load_index()
    assert idx.overlay == {} and len(idx.base) == 6000
    write(repo.root, "x/1.txt", "changed\n")
    repo.add(["x/1.txt"], cwd=repo.root)
    idx = repo.load_index()
    assert list(idx.overlay) == ["x/1.txt"]
    assert [p for p, _, _ in idx.staged(repo.tree, repo.head_tree())] == ["x/1.txt"]
    assert isinstance(idx.get("x/1.txt"), IndexEntry)


def _commit_everything(repo, chunk, monkeypatch):
    """Two commits (300 new items; then edits, deletions and additions) with the index read in
    chunks of ``chunk`` entries; returns their results."""
    import mmvc.core.index

    monkeypatch.setattr(mmvc.core.index, "CHUNK", chunk)
    for i in range(300):
        write(repo.root, f"d{i % 7}/{i:04d}.txt", f"item {i}\n")
    write(repo.root, "d0/same-a.txt", "twin\n")
    write(repo.root, "d6/same-b.txt", "twin\n")  # one catalog row for both keys
    repo.add(["."], cwd=repo.root)
    first = repo.commit("many")
    for i in range(0, 300, 9):
        write(repo.root, f"d{i % 7}/{i:04d}.txt", f"edited {i}\n")
    for i in range(1, 300, 31):
        os.unlink(os.path.join(repo.root, f"d{i % 7}/{i:04d}.txt"))
    write(repo.root, "e/new.txt", "new\n")
    repo.add(["."], cwd=repo.root)
    return first, repo.commit("edits")


def test_a_commit_streamed_in_small_chunks_records_the_same_version(tmp_path, monkeypatch):
    """The staged changes are read, judged, written to the tree and the catalog chunk by chunk:
    chunks of 5 entries give the commits (and the index) that one chunk of all of them gives."""
    from mmvc.repo import Repo

    chunked, single = Repo.init(str(tmp_path / "chunked"), ungated=True), Repo.init(str(tmp_path / "single"), ungated=True)
    small = _commit_everything(chunked, 5, monkeypatch)
    whole = _commit_everything(single, 100_000, monkeypatch)
    for a, b in zip(small, whole):
        assert (a.added, a.modified, a.deleted, a.by_modality, a.catalog_rows) == (b.added, b.modified, b.deleted, b.by_modality, b.catalog_rows)
        assert chunked.read_commit(a.oid).tree == single.read_commit(b.oid).tree
    assert small[0].added == 302 and small[0].catalog_rows == 301
    assert (small[1].added, small[1].modified, small[1].deleted) == (1, 33, 10)  # 63 was edited, then deleted
    index = chunked.load_index()
    entries = list(index.iter_entries())  # the overlay merged over the base, chunk by chunk
    assert [e.manifest() for e in entries] == [e.manifest() for e in single.load_index().iter_entries()]
    index.fold()
    index.write()
    folded = chunked.load_index()
    assert folded.overlay == {} and list(folded.iter_entries()) == entries


def test_a_gated_commit_refused_in_a_late_chunk_writes_nothing(tmp_path, monkeypatch):
    import mmvc.core.index
    from mmvc.errors import GateError
    from mmvc.repo import Repo

    monkeypatch.setattr(mmvc.core.index, "CHUNK", 4)
    repo = Repo.init(str(tmp_path))
    for i in range(30):
        write(repo.root, f"t/{i:02d}.txt", f"text {i}\n")
    repo.add(["t"], cwd=repo.root)
    with pytest.raises(GateError, match=r"^30 staged item\(s\) may not enter a version: t/00.txt \(not processed\);.* and 25 more"):
        repo.commit("unprocessed")
    assert repo.head() == ("refs/heads/main", None)
    assert not os.path.exists(repo.layout.catalog_table)
