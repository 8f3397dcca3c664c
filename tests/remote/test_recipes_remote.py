"""Recipes travel with remotes: push uploads the recipe object after the version it names and
sets refs/recipes/NAME by compare-and-swap; fetch and clone bring them back as local recipes."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ConflictError
from mmvc.ops.clone import clone
from mmvc.ops.fetch import fetch
from mmvc.ops.push import push
from mmvc.ops.recipe import create_recipe
from mmvc.ops.remote import add_remote
from mmvc.repo import Repo

from tests.remote.conftest import commit_files


def _mmvc(cwd, *args):
    res = CliRunner().invoke(cli, ["-C", str(cwd), *args])
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(params=["file", "memory"])
def url(request, tmp_path):
    if request.param == "file":
        yield f"file://{tmp_path}/remote"
        return
    url = f"memory://mmvc-test-{uuid.uuid4().hex}/remote"
    yield url
    import fsspec

    fsspec.filesystem("memory").rm(url.split("://", 1)[1], recursive=True)


def test_pushed_recipe_is_cloned_and_shown(source, url, tmp_path):
    info = create_recipe(source, "captions-v1", "HEAD~1", seed=3, allow_ungated=True)
    add_remote(source, "origin", url)
    r = push(source, recipes=True)
    # only the recipe was asked for: it carries the (older) version it names along
    assert [(u.ref, u.status) for u in r.updates] == [("refs/recipes/captions-v1", "new")]
    assert r.objects > 1

    push(source)  # the branch too, so the clone has something to check out
    c = Repo(clone(url, str(tmp_path / "copy")).path)
    assert c.refs.read("refs/recipes/captions-v1") == info.oid
    shown = json.loads(_mmvc(c.root, "recipe", "show", "captions-v1", "--json").output)
    assert shown["commit"] == source.resolve("HEAD~1") and shown["seed"] == 3
    assert c.fsck().ok


def test_push_all_includes_recipes_and_conflicts_are_refused(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    add_remote(source, "origin", url)
    mine = create_recipe(source, "train", "HEAD", allow_ungated=True)
    r = push(source, all_branches=True)
    assert sorted(u.ref for u in r.updates) == ["refs/heads/main", "refs/recipes/train"]
    assert push(source, recipes=True).up_to_date

    # another repository names a different recipe "train": its push is refused, --force replaces
    other = Repo(clone(url, str(tmp_path / "other")).path)
    assert other.refs.read("refs/recipes/train") == mine.oid
    commit_files(other, {"captions/extra.txt": "extra\n"}, "extra")
    theirs = create_recipe(other, "train", "HEAD", seed=9, force=True, allow_ungated=True)
    with pytest.raises(ConflictError, match="recipe train already exists"):
        push(other, "origin", ["train"])
    push(other, "origin", ["main", "train"], force=True)

    # fetch reports the conflicting recipe and keeps the local one; a new name arrives
    create_recipe(other, "eval", "HEAD", allow_ungated=True)
    push(other, recipes=True)
    f = fetch(source)
    by_ref = {u.ref: u.status for u in f.updates}
    assert by_ref["refs/recipes/train"] == "rejected" and by_ref["refs/recipes/eval"] == "new"
    assert source.refs.read("refs/recipes/train") == mine.oid
    assert source.refs.read("refs/recipes/eval") == other.refs.read("refs/recipes/eval")
    assert theirs.oid != mine.oid


def test_recipe_push_through_the_cli(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    _mmvc(source.root, "remote", "add", "origin", url)
    _mmvc(source.root, "recipe", "create", "cli-recipe", "--rev", "HEAD", "--allow-ungated")
    doc = json.loads(_mmvc(source.root, "push", "--recipes", "--json").output)
    assert [u["ref"] for u in doc["updates"]] == ["refs/recipes/cli-recipe"]
    assert os.path.exists(tmp_path / "remote" / "refs" / "recipes" / "cli-recipe")


def test_full_clone_exports_a_pushed_recipe(tmp_path):
    """A mixture recipe made in one repository exports the same samples from a full clone."""
    from mmvc.ops.export import export
    from tests.export.versions import make_version, mixed_items

    src = Repo.init(str(tmp_path / "src"), ungated=True)
    make_version(src, mixed_items(n_coco=6, n_web=4))
    info = create_recipe(src, "mix", "HEAD", mix="source='coco':0.5,source='fineweb':0.5", seed=5, epoch_size=12,
                         allow_ungated=True)
    url = f"file://{tmp_path}/remote"
    add_remote(src, "origin", url)
    push(src, all_branches=True)
    c = Repo(clone(url, str(tmp_path / "copy")).path)
    from mmvc.ops.catalog import rebuild

    rebuild(c)  # a clone carries no catalog (a local cache); filters and mixtures read it

    mine = export(src, str(tmp_path / "out-src"), recipe="mix", shard_items=5, allow_ungated=True)
    theirs = export(c, str(tmp_path / "out-clone"), recipe="mix", shard_items=5, allow_ungated=True)
    assert theirs.recipe == info.oid and theirs.recipe_name == "mix" and theirs.samples == 12
    assert theirs.export_id == mine.export_id
    with open(theirs.index) as f, open(mine.index) as g:
        assert [s["blake3"] for s in json.load(f)["shardlist"]] == [s["blake3"] for s in json.load(g)["shardlist"]]
