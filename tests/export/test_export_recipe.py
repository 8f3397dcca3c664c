"""Recipes: an immutable object under refs/recipes/NAME, canonical bytes, deterministic mixtures."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import BadInputError, ExitCode
from tests.export.versions import make_version

MIX = "source='coco':0.7,source='fineweb':0.3"


def mmvc(repo, *args, expect=0):
    res = CliRunner().invoke(cli, ["-C", repo.root, *args], catch_exceptions=False)
    assert res.exit_code == expect, res.output
    return res


def test_recipe_object_golden_bytes():
    from mmvc.export.recipe import MixComponent, Recipe

    r = Recipe(commit="ab" * 32, rev="mix-v2", filter="modality IN ('image','text')",
               mix=(MixComponent("source='coco'", 0.7), MixComponent("source='fineweb'", 0.3)), seed=7, epoch_size=1000)
    assert r.encode() == (
        b'mmvc recipe 2\n{"commit":"' + b"ab" * 32 + b'","epoch_size":1000,"filter":"modality IN (\'image\',\'text\')",'
        b'"mix":[{"weight":0.7,"where":"source=\'coco\'"},{"weight":0.3,"where":"source=\'fineweb\'"}],'
        b'"rev":"mix-v2","seed":7}')
    assert Recipe.decode(r.encode()) == r
    # a recipe as repository format 1 wrote it (bare JSON with "format" and "type") still reads
    v1 = (b'{"commit":"' + b"ab" * 32 + b'","epoch_size":1000,"filter":"modality IN (\'image\',\'text\')","format":1,'
          b'"mix":[{"weight":0.7,"where":"source=\'coco\'"},{"weight":0.3,"where":"source=\'fineweb\'"}],'
          b'"rev":"mix-v2","seed":7,"type":"recipe"}')
    assert Recipe.decode(v1) == r
    from mmvc.core.objects import declared_kind

    assert declared_kind(r.encode()) == declared_kind(v1) == "recipe"


def test_parse_mix_keeps_quoted_commas_and_colons():
    from mmvc.export.recipe import parse_mix

    m = parse_mix("source IN ('a:b','c,d'):2, license='x':1.5")
    assert [(c.where, c.weight) for c in m] == [("source IN ('a:b','c,d')", 2.0), ("license='x'", 1.5)]
    for bad in ("source='a'", "source='a':zero", "source='a':0", ":1"):
        with pytest.raises(BadInputError):
            parse_mix(bad)


def test_create_show_list_and_proportions(data_repo):
    repo = data_repo
    res = mmvc(repo, "recipe", "create", "mix-v2-train", "--rev", "main", "--where", "modality IN ('image','text')",
               "--mix", MIX, "--seed", "7", "--epochs-size", "1000", "--allow-ungated", "--json")
    info = json.loads(res.output)
    assert info["components"][0]["samples"] == 700 and info["components"][1]["samples"] == 300
    assert repo.refs.read("refs/recipes/mix-v2-train") == info["oid"]
    shown = json.loads(mmvc(repo, "recipe", "show", "mix-v2-train", "--json").output)
    assert shown["commit"] == repo.resolve("main") and shown["seed"] == 7 and shown["mix"][0] == {"weight": 0.7, "where": "source='coco'"}
    assert "mix-v2-train" in mmvc(repo, "recipe", "list").output
    assert [r["name"] for r in json.loads(mmvc(repo, "recipe", "list", "--json").output)] == ["mix-v2-train"]

    from mmvc.export.selection import plan
    from mmvc.export.recipe import resolve_recipe

    _, _, r = resolve_recipe(repo, "mix-v2-train")
    p = plan(repo, r)
    assert Counter(json.loads(s.meta)["source"] for s in p.samples) == {"coco": 700, "fineweb": 300}
    # up-sampling: 30 coco items drawn 700 times, each 23 or 24 times (whole rounds before repeats)
    per_item = Counter(s.path for s in p.samples if s.component == 0)
    assert set(per_item.values()) <= {23, 24} and len(per_item) == 30
    assert plan(repo, r).samples == p.samples  # a pure function of the recipe
    from dataclasses import replace

    other = plan(repo, replace(r, seed=8)).samples
    assert other != p.samples and Counter(json.loads(s.meta)["source"] for s in other) == {"coco": 700, "fineweb": 300}


def test_mixture_without_epoch_size_and_first_match_wins(data_repo):
    from mmvc.export.selection import apportion, plan
    from mmvc.export.recipe import build_recipe

    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    r = build_recipe(data_repo, "main", mix="license IS NOT NULL:1,source='coco':1")
    with pytest.raises(BadInputError, match="selects no items"):
        plan(data_repo, r)  # every item has a license, so the second component is left with nothing
    r = build_recipe(data_repo, "main", mix="source='coco':3,source='fineweb':1")
    p = plan(data_repo, r)
    assert len(p.samples) == 50 and Counter(s.component for s in p.samples) == {0: 38, 1: 12}


def test_bad_inputs(data_repo):
    repo = data_repo
    mmvc(repo, "recipe", "create", "r1", "--allow-ungated")
    mmvc(repo, "recipe", "create", "r1", "--allow-ungated", "--seed", "3", expect=ExitCode.BAD_INPUT)  # immutable name
    mmvc(repo, "recipe", "create", "r1", "--allow-ungated", "--seed", "3", "--force")
    mmvc(repo, "recipe", "create", "r2", expect=ExitCode.GATE)  # an ungated version needs the opt-in
    out = mmvc(repo, "recipe", "create", "r3", "--where", "source = 'nope'", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    assert "selects no items" in out.output
    mmvc(repo, "recipe", "create", "r3", "--mix", "source='nope':1", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(repo, "recipe", "create", "bad..name", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(repo, "recipe", "create", "r4", "--rev", "nope", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(repo, "recipe", "create", "r5", "--where", "no_such_column = 1", "--allow-ungated", expect=ExitCode.BAD_INPUT)
    mmvc(repo, "recipe", "show", "nope", expect=ExitCode.BAD_INPUT)
    assert [r.name for r in __import__("mmvc.ops.recipe", fromlist=["x"]).list_recipes(repo)] == ["r1"]


def test_a_recipe_keeps_its_commit_alive_through_gc(data_repo):
    import os
    import shutil

    from mmvc.ops.branch import delete_branch

    repo = data_repo
    repo.branch("side")
    repo.switch("side")
    side = make_version(repo, {"extra/new.txt": b"an item only the side branch has\n"}, "side change")
    mmvc(repo, "recipe", "create", "pinned", "--rev", "side", "--allow-ungated")
    repo.switch("main")
    delete_branch(repo, "side", force=True)
    shutil.rmtree(os.path.join(repo.dir, "logs"))  # no reflog names the side commit any more
    mmvc(repo, "gc", "--prune=now")
    from mmvc.repo import Repo

    assert Repo(repo.root).store.has(side)
    assert json.loads(mmvc(repo, "fsck", "--json").output)["ok"]
    from mmvc.export.selection import plan
    from mmvc.export.recipe import resolve_recipe

    assert {s.path for s in plan(repo, resolve_recipe(repo, "pinned")[2]).samples} >= {"extra/new.txt"}
    # without the recipe the same gc drops it
    mmvc(repo, "recipe", "delete", "pinned")
    mmvc(repo, "gc", "--prune=now")
    from mmvc.repo import Repo

    assert not Repo(repo.root).store.has(side)


def test_recipe_create_says_what_an_epoch_draws_from_each_component(data_repo):
    """30 coco and 20 fineweb items; without --epoch-size an epoch has 50 samples shared out
    by weight, so the small component repeats items and the large one leaves some out."""
    res = mmvc(data_repo, "recipe", "create", "skewed", "--mix", "source='coco':0.3,source='fineweb':0.7", "--allow-ungated")
    out = res.stdout.splitlines()
    assert "epoch   as many samples as the components' pools hold together, shared out by weight" in out
    assert "items   50 of 50 selected; 50 in a component, 0 in none; 50 samples per epoch" in out
    assert "          15 samples from a pool of 30       (15 not drawn this epoch)  source='coco'" in out
    assert "          35 samples from a pool of 20       (each item once, 15 of them once more)  source='fineweb'" in out
    assert "warning" not in res.stderr
    shown = json.loads(mmvc(data_repo, "recipe", "show", "skewed", "--stats", "--json").stdout)
    assert shown["uncovered"] == 0 and [c["samples"] for c in shown["components"]] == [15, 35]


def test_items_no_component_selects_are_counted_and_warned_about(data_repo):
    res = mmvc(data_repo, "recipe", "create", "coco-only", "--mix", "source='coco':1", "--epoch-size", "60", "--allow-ungated")
    out = res.stdout.splitlines()
    assert "epoch   60 samples, shared out by weight" in out
    assert "items   50 of 50 selected; 30 in a component, 20 in none; 60 samples per epoch" in out
    assert "          60 samples from a pool of 30       (each item 2 times)  source='coco'" in out
    assert "warning: 20 of the 50 selected items belong to no mixture component and are never drawn" in res.stderr
    plain = mmvc(data_repo, "recipe", "create", "all", "--allow-ungated").stdout.splitlines()
    assert "epoch   every selected item once" in plain and "          50 samples from a pool of 50       (each item once)  (the whole selection)" in plain


def test_the_readmes_mixture_runs_on_the_tours_own_data(repo, tmp_path):
    """The README's tour adds images/ and imports fineweb/*.parquet; its recipe line must select
    from exactly that (here on an ungated repository, hence --allow-ungated)."""
    import os
    import shlex
    from pathlib import Path

    from tests.export.versions import png
    from tests.importers import mirrors

    line = next(x for x in (Path(__file__).parents[2] / "README.md").read_text().splitlines() if x.startswith("mmvc recipe create"))
    argv = shlex.split(line, comments=True)
    mirrors.fineweb(tmp_path / "src", files=1, rows=30)
    os.rename(tmp_path / "src" / "data", tmp_path / "fineweb")
    make_version(repo, {f"images/{i:04d}.png": png(i) for i in range(10)})
    repo.import_("parquet", [str(tmp_path / "fineweb" / "*.parquet")], text_field="text")  # source: the folder, fineweb
    repo.commit("tour")
    repo.branch("mix-v2")
    res = mmvc(repo, *argv[1:], "--allow-ungated")
    assert "items   40 of 40 selected; 40 in a component, 0 in none; 40 samples per epoch" in res.stdout
    assert "not drawn" in res.stdout and "once more" in res.stdout  # 24 from 10 images, 16 of 30 rows
