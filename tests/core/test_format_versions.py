"""Repository formats: a format-1 repository (objects without headers) is read as it is and
upgraded by its first write; an object's kind comes from what references it, so user bytes
that look like mmvc objects stay blobs and a ref naming a blob is a finding."""

from __future__ import annotations

import os

import pytest

from mmvc.core.config import FORMAT_VERSION
from mmvc.core.objects import canonical_json
from mmvc.errors import FormatError
from mmvc.repo import Repo
from mmvc.ops.tag import list_tags


def _write(root, rel: str, data: bytes) -> None:
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def _put(repo, data: bytes) -> str:
    with repo.store.writer(durable=True) as w:
        return w.put_bytes(data)


def _config_format(repo) -> int:
    with open(repo.layout.config) as f:
        return next(int(ln.split("=")[1]) for ln in f if ln.strip().startswith("format"))


def _as_format_1(repo) -> tuple[str, str]:
    """Rewrite HEAD's commit and an annotated tag the way format 1 wrote them (bare JSON with
    "format" and "type", no header), point main and v1 at them, and mark the repository format 1."""
    head = repo.head()[1]
    c = repo.read_commit(head)
    doc = {"author": c.author.to_json(), "committer": c.committer.to_json(), "format": 1, "gate": c.gate.to_json(),
           "message": c.message, "parents": list(c.parents), "tree": c.tree, "type": "commit"}
    old_commit = _put(repo, canonical_json(doc))
    old_tag = _put(repo, canonical_json({"format": 1, "message": "old\n", "name": "v1", "object": old_commit,
                                         "tagger": c.author.to_json(), "type": "tag"}))
    repo.refs.update("refs/heads/main", old_commit, head)
    repo.refs.update("refs/tags/v1", old_tag, None)
    with open(repo.layout.config) as f:
        text = f.read()
    with open(repo.layout.config, "w") as f:
        f.write(text.replace(f"format = {FORMAT_VERSION}", "format = 1"))
    return old_commit, old_tag


def test_a_format_1_repository_is_read_and_upgraded_by_its_first_write(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    _write(repo.root, "a.txt", b"a\n")
    repo.add(["a.txt"], cwd=repo.root)
    repo.commit("first")
    old_commit, old_tag = _as_format_1(repo)

    repo = Repo(repo.root)
    assert repo.config.format == 1
    assert [e.oid for e in repo.log()] == [old_commit]
    assert repo.resolve("v1") == old_commit  # the format-1 tag peels to the format-1 commit
    assert [(t.target, t.tag_object) for t in list_tags(repo)] == [(old_commit, old_tag)]
    res = repo.fsck()
    assert res.ok and res.commits == 2 and res.other_objects == 1, res.errors  # the replaced commit stays in the reflog
    assert _config_format(repo) == 1  # reading never upgrades

    _write(repo.root, "b.txt", b"b\n")
    repo.add(["b.txt"], cwd=repo.root)  # the first write upgrades, and writes format 2 from then on
    assert _config_format(repo) == FORMAT_VERSION == 2
    new = repo.commit("second").oid
    assert repo.store.get(new).startswith(b"mmvc commit 2\n")
    assert repo.read_commit(new).parents == (old_commit,)
    assert repo.store.get(old_commit)[:1] == b"{"  # nothing rewritten
    assert repo.gc(prune="now").missing == 0
    assert repo.fsck().ok and [e.oid for e in Repo(repo.root).log()] == [new, old_commit]


def test_a_newer_repository_format_is_refused(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    with open(repo.layout.config) as f:
        text = f.read()
    with open(repo.layout.config, "w") as f:
        f.write(text.replace(f"format = {FORMAT_VERSION}", f"format = {FORMAT_VERSION + 1}"))
    with pytest.raises(FormatError, match=f"format {FORMAT_VERSION + 1}, newer"):
        Repo(repo.root)


def test_user_bytes_shaped_like_mmvc_objects_stay_blobs(tmp_path):
    """A file whose bytes are exactly a commit object is a blob where a tree names it: the walk
    never reads it as a commit; cat-object, with no reference to go by, says what it declares."""
    from mmvc.ops.cat_object import cat_object

    repo = Repo.init(str(tmp_path), ungated=True)
    _write(repo.root, "a.txt", b"a\n")
    repo.add(["a.txt"], cwd=repo.root)
    first = repo.commit("first").oid
    raw = repo.store.get(first)
    _write(repo.root, "copy/commit.bin", raw)
    _write(repo.root, "copy/old.json", b'{"author":{},"type":"commit"}')
    repo.add(["copy"], cwd=repo.root)
    repo.commit("copies")
    copies = {e.path: e.oid for e in repo.ls_files("HEAD", "copy/")}
    assert copies["copy/commit.bin"] == first  # one stored object, named as a blob and as a commit
    res = repo.fsck()
    assert res.ok and res.commits == 2 and res.blobs == 2, res.errors  # a.txt, old.json (the copy was reached as a commit)
    assert repo.show("HEAD~1").oid == first
    assert cat_object(repo, first).kind == cat_object(repo, copies["copy/old.json"]).kind == "commit"  # what the bytes declare


def test_a_ref_naming_something_other_than_a_version_is_malformed(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    _write(repo.root, "a.txt", b"a\n")
    repo.add(["a.txt"], cwd=repo.root)
    repo.commit("first")
    blob = next(iter(repo.ls_files())).oid
    tree = repo.head_tree()
    for name, oid in (("blob", blob), ("tree", tree)):
        repo.refs.update(f"refs/heads/{name}", oid, None)
    res = repo.fsck()
    assert not res.ok
    bad = {f.oid: f for f in res.errors}
    assert bad[blob].kind == bad[tree].kind == "malformed"
    assert "not a commit, tag or recipe" in bad[blob].message
