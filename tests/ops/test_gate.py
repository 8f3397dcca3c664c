"""The gate on every path into a version: a merge (and a pull, which merges) checks the items
each side brings against those the other brings, and stops on duplicates like on a path
conflict. Real pipeline, in-process (small work), tiny seeded models."""

from __future__ import annotations

import json
import os
import random

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import BadInputError, ExitCode
from mmvc.repo import Repo
from mmvc.ops.process import process
from tests.process_fixtures import build, use_tiny_models

WORDS = ("river valley market morning garden window forest harbor candle letter orange silver winter summer "
         "village station mountain painter teacher captain kitchen blanket lantern meadow pebble ribbon saddle "
         "thunder violin walnut anchor basket cellar dragon feather glacier hammer island jacket kettle ladder").split()


def text(seed: int, words: int = 60) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + ".\n"


def edit_one_word(s: str) -> str:
    words = s.split(" ")
    words[len(words) // 2] = "zeppelin"
    return " ".join(words)


def mmvc(repo, *args, expect=0):
    r = CliRunner().invoke(cli, ["-C", repo.root, *args], catch_exceptions=False)
    assert r.exit_code == expect, f"mmvc {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r


def commit_processed(repo, files: dict, message: str) -> None:
    build(repo.root, files)
    repo.add(list(files), cwd=repo.root)
    process(repo)
    repo.commit(message)


@pytest.fixture
def two_branches(tmp_path, tiny_models):
    """The issue's repro: a base of 12 texts; branch a adds a text, branch b the same text with
    one word edited, each processed and committed on its own branch; b is checked out."""
    repo = Repo.init(str(tmp_path))
    use_tiny_models(repo, tiny_models)
    commit_processed(repo, {f"t/{i:02d}.txt": text(i) for i in range(12)}, "base")
    new = text(100)
    for name, files in (("a", {"t/new_a.txt": new}), ("b", {"t/new_b.txt": edit_one_word(new)})):
        mmvc(repo, "switch", "-c", name, "main")
        commit_processed(repo, files, f"add on {name}")
    return repo


def index_bytes(repo) -> bytes:
    with open(os.path.join(repo.dir, "index"), "rb") as f:
        return f.read()


def paths(repo, rev="HEAD"):
    return sorted(e.path for e in repo.ls_files(rev) if e.path.startswith("t/new"))


def test_near_duplicates_added_on_both_sides_stop_the_merge_until_one_is_removed(two_branches):
    repo = two_branches
    head = repo.head()[1]
    r = mmvc(repo, "merge", "a", expect=ExitCode.CONFLICT)
    assert "1 curation conflict(s)" in r.output and "near duplicates: ours t/new_b.txt ≈ theirs t/new_a.txt" in r.output
    assert repo.head()[1] == head  # nothing committed

    st = json.loads(mmvc(repo, "status", "--json").output)
    assert st["merging"]["curation"] == [{"ours": "t/new_b.txt", "theirs": "t/new_a.txt", "tier": "near", "detail": "near-duplicate"}]
    assert "duplicates (near): ours t/new_b.txt ≈ theirs t/new_a.txt" in mmvc(repo, "status").output
    [row] = [x for x in json.loads(mmvc(repo, "report", "--json").output) if x["status"] == "conflict"]
    assert (row["path"], row["stage"], row["reason"], row["duplicate_of"]) == ("t/new_a.txt", "near", "curation_conflict", "t/new_b.txt")
    assert "conflict  t/new_a.txt: near duplicate of t/new_b.txt" in mmvc(repo, "report").output

    # both items are in the work tree; the merge cannot finish while both are staged
    assert os.path.exists(os.path.join(repo.root, "t/new_a.txt"))
    again = mmvc(repo, "merge", "--continue", "--json", expect=ExitCode.CONFLICT)
    assert [c["theirs"] for c in json.loads(again.output)["curation"]] == ["t/new_a.txt"]

    mmvc(repo, "rm", "t/new_a.txt")
    done = json.loads(mmvc(repo, "merge", "--continue", "--json").output)
    assert done["status"] == "merged" and done["gate"] == "gated"
    assert paths(repo) == ["t/new_b.txt"] and len(repo.read_commit(done["commit"]).parents) == 2
    assert not os.path.exists(os.path.join(repo.dir, "MERGE_HEAD"))


@pytest.mark.parametrize("side, survivor", [("theirs", "t/new_a.txt"), ("ours", "t/new_b.txt")])
def test_a_strategy_names_the_side_whose_item_survives(two_branches, side, survivor):
    repo = two_branches
    r = repo.merge("a", strategies=[side])
    assert r.status == "merged" and r.curation == []
    assert paths(repo) == [survivor]
    assert os.path.exists(os.path.join(repo.root, survivor)) and len(os.listdir(os.path.join(repo.root, "t"))) == 13
    assert repo.fsck().ok


def test_abort_puts_everything_back(two_branches):
    repo = two_branches
    def state():
        return repo.head(), [(e.path, e.oid) for e in repo.ls_files()], sorted(os.listdir(os.path.join(repo.root, "t")))

    before = state()
    assert repo.merge("a").status == "conflicts"
    assert "new_a.txt" in state()[2]
    mmvc(repo, "merge", "--abort")
    assert state() == before
    st = repo.status()
    assert st.merging is None and st.clean


def test_the_same_bytes_added_under_two_paths_are_an_exact_pair(tmp_path, tiny_models):
    repo = Repo.init(str(tmp_path))
    use_tiny_models(repo, tiny_models)
    commit_processed(repo, {"t/base.txt": text(1)}, "base")
    mmvc(repo, "switch", "-c", "other")
    commit_processed(repo, {"t/mine.txt": text(7)}, "mine")
    mmvc(repo, "switch", "main")
    commit_processed(repo, {"t/yours.txt": text(7), "t/unrelated.txt": text(8)}, "yours")
    r = repo.merge("other")
    assert [(c.ours, c.theirs, c.tier) for c in r.curation] == [("t/yours.txt", "t/mine.txt", "exact")]


def test_a_strategy_that_keeps_and_drops_the_same_item_is_refused_before_anything_is_written(tmp_path, tiny_models):
    """Ours brings two texts that are not duplicates of each other; theirs brings one that is
    a near duplicate of both. Rules that keep theirs against one and drop it against the other
    cannot be followed."""
    repo = Repo.init(str(tmp_path))
    use_tiny_models(repo, tiny_models)
    commit_processed(repo, {"t/base.txt": text(1)}, "base")
    core = text(50, words=100).rstrip(".\n")
    mmvc(repo, "switch", "-c", "theirs")
    commit_processed(repo, {"t/core.txt": core + ".\n"}, "core")
    mmvc(repo, "switch", "main")
    # (the texts differ at their start: the tiny text model reads only the first few dozen tokens)
    commit_processed(repo, {"t/x1.txt": text(51, 15).rstrip(".\n") + " " + core + ".\n",
                            "t/x2.txt": text(52, 15).rstrip(".\n") + " " + core + ".\n"}, "two heads")
    assert len(list(repo.ls_files("HEAD"))) == 3  # neither held the other back
    r = repo.merge("theirs")
    assert sorted((c.ours, c.theirs) for c in r.curation) == [("t/x1.txt", "t/core.txt"), ("t/x2.txt", "t/core.txt")]
    mmvc(repo, "merge", "--abort")
    before = index_bytes(repo)
    with pytest.raises(BadInputError, match="cannot settle the curation conflicts of t/core.txt") as e:
        repo.merge("theirs", strategies=["ours:t/x1.txt", "theirs"])
    assert e.value.exit_code == ExitCode.BAD_INPUT and "\n" not in e.value.message and "mmvc rm" in e.value.hint
    assert index_bytes(repo) == before
    assert not os.path.exists(os.path.join(repo.dir, "MERGE_HEAD"))


def test_an_ungated_repository_merges_without_the_check_and_says_so(tmp_path):
    repo = Repo.init(str(tmp_path), ungated=True)
    build(repo.root, {"t/base.txt": text(1)})
    repo.add(["t"], cwd=repo.root)
    repo.commit("base")
    new = text(100)
    for name, files in (("a", {"t/new_a.txt": new}), ("b", {"t/new_b.txt": edit_one_word(new)})):
        mmvc(repo, "switch", "-c", name, "main")
        build(repo.root, files)
        repo.add(list(files), cwd=repo.root)
        repo.commit(name)
    r = mmvc(repo, "merge", "a")
    assert "ungated repository: the two sides' items were not checked for duplicates" in r.output
    assert paths(repo) == ["t/new_a.txt", "t/new_b.txt"]


def test_pull_goes_through_the_same_gate(tmp_path, tiny_models):
    """The remote's item was judged in another clone: its features are computed here, once."""
    from mmvc.ops.clone import clone
    from mmvc.ops.pull import pull
    from mmvc.ops.push import push
    from mmvc.ops.remote import add_remote
    from mmvc.repo import Repo

    origin = Repo.init(str(tmp_path / "origin"))
    use_tiny_models(origin, tiny_models)
    commit_processed(origin, {f"t/{i:02d}.txt": text(i) for i in range(4)}, "base")
    url = f"file://{tmp_path}/remote"
    add_remote(origin, "origin", url)
    push(origin)
    mine = Repo(clone(url, str(tmp_path / "mine")).path)
    use_tiny_models(mine, tiny_models)
    new = text(100)
    commit_processed(origin, {"t/theirs.txt": new}, "theirs")
    push(origin)
    commit_processed(mine, {"t/mine.txt": edit_one_word(new)}, "mine")
    p = pull(mine)
    assert p.merge.status == "conflicts"
    assert [(c.ours, c.theirs, c.tier) for c in p.merge.curation] == [("t/mine.txt", "t/theirs.txt", "near")]
    mmvc(mine, "merge", "--continue", "--strategy", "ours")
    assert sorted(e.path for e in mine.ls_files("HEAD") if e.path in ("t/mine.txt", "t/theirs.txt")) == ["t/mine.txt"]

