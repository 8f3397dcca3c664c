"""Every committed file can be checked out, and no version can write outside its lane: paths
that name .git/.mmvc, a file that is also a folder, names some platform cannot hold, and
names at the length limit."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import BadInputError, ConflictError, ExitCode
from mmvc.repo import Repo
from tests.crafted import EVIL, craft


def write(root, rel, data="x\n"):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return p


def read(root, rel) -> str:
    with open(os.path.join(root, rel)) as f:
        return f.read()


def cli_run(repo, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", repo.root, *args])
    assert res.exit_code == expect, res.output
    assert "Traceback" not in res.output
    return res


@pytest.fixture
def base(repo):
    write(repo.root, "a.txt", "a v1\n")
    write(repo.root, "docs/keep.txt", "keep\n")
    repo.add(["."], cwd=repo.root)
    repo.commit("v1")
    return repo


def test_checkout_of_a_version_that_plants_hooks_writes_nothing(base):
    good = base.head()[1]
    bad = craft(base, {**EVIL, "a.txt": (b"a changed\n", 0)})
    base.refs.update("refs/heads/main", good, bad, "back", "")
    res = cli_run(base, "checkout", bad, expect=ExitCode.BAD_INPUT)
    assert ".git" in res.output or ".mmvc" in res.output
    assert read(base.root, "a.txt") == "a v1\n"  # refused before the first file was written
    assert not os.path.exists(os.path.join(base.root, "sub")) and not os.path.exists(os.path.join(base.root, "tools"))
    assert base.head()[1] == good
    with pytest.raises(BadInputError):
        base.restore(["sub"], source=bad, cwd=base.root)
    assert not os.path.exists(os.path.join(base.root, "sub"))


def test_merge_of_such_a_branch_writes_nothing(base):
    base.branch("side")
    base.switch("side")
    craft(base, EVIL)
    write(base.root, "sub/.git/config", "a nested Git repository's own config\n")
    base.switch("main")  # leaving a version that holds the path never deletes what is there
    assert read(base.root, "sub/.git/config") == "a nested Git repository's own config\n"
    write(base.root, "b.txt", "b\n")
    base.add(["b.txt"], cwd=base.root)
    base.commit("main moves on")
    with pytest.raises(BadInputError):
        base.merge("side")
    assert read(base.root, "sub/.git/config") == "a nested Git repository's own config\n"
    assert not os.path.exists(os.path.join(base.root, "tools"))
    assert not os.path.exists(os.path.join(base.dir, "MERGE_HEAD"))


def test_a_version_holding_a_file_and_a_folder_of_one_name_is_refused_before_anything_is_deleted(base):
    good = base.head()[1]
    bad = craft(base, {"a.txt/child": (b"under a file\n", 0), "docs/keep.txt": None})
    base.refs.update("refs/heads/main", good, bad, "back", "")
    with pytest.raises(ConflictError, match="a.txt"):
        base.checkout(bad)
    assert read(base.root, "docs/keep.txt") == "keep\n"  # the deletion it also holds was not applied
    assert read(base.root, "a.txt") == "a v1\n"
    res = cli_run(base, "checkout", bad, expect=ExitCode.CONFLICT)
    assert "file and a folder" in res.output
    base.refs.update("refs/heads/main", bad, good, "again", "")
    r = base.fsck(quick=True)
    assert [(f.kind, f.path, f.versions) for f in r.errors] == [("bad-path", "a.txt/child", [bad])]


def test_a_clash_with_a_file_the_version_keeps_is_found_too(base):
    good = base.head()[1]
    bad = craft(base, {"docs/keep.txt/deeper/x": (b"x\n", 0)})
    base.refs.update("refs/heads/main", good, bad, "back", "")
    with pytest.raises(ConflictError, match="docs/keep.txt"):
        base.checkout(bad)
    assert read(base.root, "docs/keep.txt") == "keep\n"


def test_add_swaps_a_file_for_a_folder_of_the_same_name(base):
    os.unlink(os.path.join(base.root, "a.txt"))
    write(base.root, "a.txt/inside.txt", "now a folder\n")
    base.add(["a.txt/inside.txt"], cwd=base.root)
    assert [e.path for e in base.ls_files()] == ["a.txt/inside.txt", "docs/keep.txt"]
    base.commit("file to folder")
    assert base.fsck(quick=True).ok
    for rel in ("a.txt/inside.txt",):
        os.unlink(os.path.join(base.root, rel))
    os.rmdir(os.path.join(base.root, "a.txt"))
    write(base.root, "a.txt", "a file again\n")
    base.add(["a.txt"], cwd=base.root)
    assert [e.path for e in base.ls_files()] == ["a.txt", "docs/keep.txt"]


def test_add_refuses_names_some_platform_cannot_check_out(base):
    write(base.root, "A.txt", "upper\n")
    res = cli_run(base, "add", "A.txt", expect=ExitCode.BAD_INPUT)
    assert "'a.txt'" in res.output and "core.portability" in res.output
    write(base.root, "d/CON.wav", b"RIFF")
    write(base.root, "d/trailing. ", "x")
    with pytest.raises(BadInputError, match="2 path"):
        base.add(["d"], cwd=base.root)
    assert base.status().staged == []


def test_portability_warn_stages_with_warnings_and_off_is_silent(base):
    write(base.root, "A.txt", "upper\n")
    cli_run(base, "config", "core.portability", "warn")
    res = cli_run(base, "add", "A.txt")
    assert "warning" in res.output and "A.txt" in res.output
    cli_run(base, "config", "core.portability", "off")
    write(base.root, "B.TXT", "b\n")
    write(base.root, "b.txt", "b\n")
    assert Repo(base.root).add(["B.TXT", "b.txt"], cwd=base.root).warnings == []


def test_a_case_only_rename_is_not_a_collision(base):
    os.rename(os.path.join(base.root, "a.txt"), os.path.join(base.root, "A.txt"))
    r = base.add(["."], cwd=base.root)
    assert (r.added, r.removed) == (1, 1)


def test_names_at_the_length_limit_check_out_everywhere(base, tmp_path):
    """A 255-byte name is legal; the temp name a checkout writes it through must not pass the limit."""
    long_name = "n" * 251 + ".txt"
    nested = "deep/" + "é" * 125 + "x.txt"  # 130 characters, 255 bytes
    assert len(nested.split("/")[1].encode()) == 255
    write(base.root, long_name, "long\n")
    write(base.root, nested, "long too\n")
    r = base.add(["."], cwd=base.root)
    assert r.added == 2 and r.warnings  # longer than Windows' MAX_PATH allows without long paths
    base.commit("long names")
    base.branch("long")
    base.rm([long_name, nested], cwd=base.root)
    base.commit("without them")
    base.switch("long")
    assert read(base.root, long_name) == "long\n" and read(base.root, nested) == "long too\n"
    assert not [n for n in os.listdir(base.root) if "tmp" in n]
    from mmvc.ops.clone import clone
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote

    add_remote(base, "origin", f"file://{tmp_path}/remote")
    push(base, "origin", ["long"])
    c = clone(f"file://{tmp_path}/remote", str(tmp_path / "clone"), branch="long")
    assert read(c.path, long_name) == "long\n" and read(c.path, nested) == "long too\n"


def test_stale_temp_files_are_never_added(base):
    write(base.root, "docs/.mmvc-tmp-4242-deadbeef", "half-written\n")
    write(base.root, "docs/keep.txt.mmvc-tmp-4242", "left by an older mmvc\n")
    r = base.add(["."], cwd=base.root)
    assert r.added == 0
    assert base.status().untracked == []


def test_leaving_a_version_never_deletes_through_a_link_to_a_folder(base, tmp_path):
    base.branch("without")
    write(base.root, "data/x.txt", "tracked\n")
    base.add(["data"], cwd=base.root)
    base.commit("with data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("not mmvc's to delete\n")
    os.unlink(os.path.join(base.root, "data", "x.txt"))
    os.rmdir(os.path.join(base.root, "data"))
    os.symlink(outside, os.path.join(base.root, "data"))
    base.switch("without", force=True)
    assert (outside / "x.txt").read_text() == "not mmvc's to delete\n"


def test_fsck_finds_a_file_folder_clash_across_manifest_nodes(base):
    """``d`` and ``d/x`` sort 400 keys apart (``d-000`` … sort between them), in different leaves."""
    items = {"d": (b"file\n", 0), "d/x": (b"below\n", 0), **{f"d-{i:03d}": (b"%d\n" % i, 0) for i in range(400)}}
    bad = craft(base, items)

    def leaves(oid):
        node = base.tree.node(oid)
        return [node.keys] if node.is_leaf else [keys for it in node.items for keys in leaves(it[1].hex())]

    keys_per_leaf = leaves(base.read_commit(bad).tree)
    assert next(i for i, ks in enumerate(keys_per_leaf) if "d" in ks) != next(i for i, ks in enumerate(keys_per_leaf) if "d/x" in ks)
    r = base.fsck(quick=True)
    assert [(f.kind, f.path) for f in r.errors] == [("bad-path", "d/x")]
    assert r.errors[0].versions == [bad]
