"""Evals pinned to versions: stored under refs/evals/<commit>/<id>, listed, shown, compared over
several runs, and refused when they name what the repository does not have."""

from __future__ import annotations

import math
import os

import pytest

from mmvc.errors import BadInputError


def _commit(repo, name: str, text: str) -> str:
    path = os.path.join(repo.root, name)
    with open(path, "w") as f:
        f.write(text)
    repo.add([path])
    return repo.commit(f"add {name}").oid


@pytest.fixture
def two_versions(repo):
    return repo, _commit(repo, "a.txt", "a"), _commit(repo, "b.txt", "b")


def _at(monkeypatch, t: int) -> None:
    monkeypatch.setenv("MMVC_AUTHOR_DATE", str(t))


def test_add_stores_an_immutable_object_under_the_versions_name(two_versions):
    repo, c1, _ = two_versions
    info = repo.add_eval("HEAD~1", "mmlu", {"acc": 0.65, "stem": {"acc": 0.5}}, model="llama", run="wandb-1", notes="5-shot",
                         higher=["acc"])
    assert info.commit == c1 and info.created
    assert info.metrics == {"acc": 0.65, "stem.acc": 0.5} and info.better == {"acc": "higher"}
    assert repo.refs.read(f"refs/evals/{c1}/{info.id}") == info.id
    assert info.run == "wandb-1" and info.run_record is None  # a tracker's id: no record here
    again = repo.add_eval("HEAD~1", "mmlu", {"acc": 0.65, "stem": {"acc": 0.5}}, model="llama", run="wandb-1", notes="5-shot",
                          higher=["acc"])
    assert again.id == info.id and not again.created
    assert repo.show_eval(info.id[:8]) == info
    assert repo.fsck().ok


def test_several_runs_per_name_and_version_are_kept_and_compared_as_mean_and_spread(two_versions, monkeypatch):
    repo, c1, c2 = two_versions
    _at(monkeypatch, 1700000001)
    repo.add_eval(c1, "mmlu", {"acc": 0.60, "loss": 2.0}, higher=["acc"], lower=["loss"])
    for t, acc in ((1700000002, 0.64), (1700000003, 0.66), (1700000004, 0.68)):  # three seeds
        _at(monkeypatch, t)
        repo.add_eval(c2, "mmlu", {"acc": acc, "loss": 1.5})
    _at(monkeypatch, 1700000005)
    repo.add_eval(c2, "hellaswag", {"acc": 0.8})
    assert [i.name for i in repo.list_evals("HEAD")] == ["mmlu", "mmlu", "mmlu", "hellaswag"]
    assert len(repo.list_evals(name="mmlu")) == 4 and len(repo.list_evals()) == 5

    c = repo.compare_evals("HEAD~1", "HEAD")
    assert (c.a.commit, c.a.evals, c.b.commit, c.b.evals) == (c1, 1, c2, 4)
    rows = {(r.name, r.metric): r for r in c.rows}
    acc = rows[("mmlu", "acc")]
    assert acc.a.mean == 0.60 and acc.a.runs == 1 and acc.a.spread == 0
    assert math.isclose(acc.b.mean, 0.66) and acc.b.runs == 3 and math.isclose(acc.b.spread, 0.02)
    assert math.isclose(acc.delta, 0.06) and acc.better == "higher" and acc.verdict == "improved"
    loss = rows[("mmlu", "loss")]
    assert loss.delta == -0.5 and loss.verdict == "improved"
    hs = rows[("hellaswag", "acc")]
    assert hs.a is None and hs.delta is None and hs.verdict == ""
    only = repo.compare_evals("HEAD~1", "HEAD", name="hellaswag")
    assert [(r.name, r.metric) for r in only.rows] == [("hellaswag", "acc")]
    with pytest.raises(BadInputError, match="neither HEAD~1 nor HEAD has an eval named 'gsm8k'"):
        repo.compare_evals("HEAD~1", "HEAD", name="gsm8k")


def test_an_eval_of_a_commit_the_repository_does_not_have_is_refused(two_versions):
    repo = two_versions[0]
    with pytest.raises(BadInputError, match="unknown revision"):
        repo.add_eval("ee" * 32, "mmlu", {"acc": 1})
    blob = repo.store.put(b"just bytes")
    with pytest.raises(BadInputError, match="names a blob, not a version"):
        repo.add_eval(blob, "mmlu", {"acc": 1})
    with pytest.raises(BadInputError, match="not a valid eval name"):
        repo.add_eval("HEAD", "bad\nname", {"acc": 1})
    with pytest.raises(BadInputError, match="--lower-is-better names 'nope'"):
        repo.add_eval("HEAD", "mmlu", {"acc": 1}, lower=["nope"])
    assert repo.list_evals() == []
    assert not os.path.exists(os.path.join(repo.dir, "refs", "evals"))


def test_links_to_a_recipe_and_an_export_must_name_the_same_version(two_versions, tmp_path):
    repo, c1, c2 = two_versions
    repo.create_recipe("old", "HEAD~1", allow_ungated=True)
    r = repo.create_recipe("new", "HEAD", allow_ungated=True)
    with pytest.raises(BadInputError, match=r"recipe 'old' selects from version .*, not HEAD"):
        repo.add_eval("HEAD", "mmlu", {"acc": 1}, recipe="old")
    assert repo.add_eval("HEAD", "mmlu", {"acc": 1}, recipe="new").recipe == r.oid

    out = repo.export(str(tmp_path / "exp"), recipe="new", shard_items=10, allow_ungated=True)
    info = repo.add_eval("HEAD", "mmlu", {"acc": 2}, export=str(tmp_path / "exp"))
    assert info.export == out.export_id and info.recipe == r.oid
    with pytest.raises(BadInputError, match=r"the export at .* holds version"):
        repo.add_eval("HEAD~1", "mmlu", {"acc": 2}, export=str(tmp_path / "exp"))
    assert repo.add_eval("HEAD~1", "mmlu", {"acc": 3}, export="12" * 32).export == "12" * 32


def test_show_by_id_or_prefix(two_versions):
    repo = two_versions[0]
    info = repo.add_eval("HEAD", "x", {"v": 1})
    assert repo.show_eval(info.id) == repo.show_eval(info.id[:4].upper()) == info
    other = "0000" if not info.id.startswith("0000") else "ffff"
    with pytest.raises(BadInputError, match=f"no eval '{other}'"):
        repo.show_eval(other)
    with pytest.raises(BadInputError, match="is not an eval id"):
        repo.show_eval("xyz")


def test_many_versions_read_through_the_summary_cache_which_follows_every_new_eval(repo, monkeypatch):
    from dataclasses import asdict

    from mmvc.services.evals import CACHE_FROM, read_evals, summaries_of, summarize

    commits = [_commit(repo, f"f{i}.txt", str(i)) for i in range(CACHE_FROM + 2)]
    for i, c in enumerate(commits):
        _at(monkeypatch, 1700000000 + i)
        repo.add_eval(c, "mmlu", {"acc": i / 100, "n": i}, higher=["acc"])
    direct = {c: summarize(e for _, e in read_evals(repo, [i.id for i in repo.list_evals(c)]))
              for c in commits}
    first = summaries_of(repo, commits)
    cache = os.path.join(repo.dir, "cache", "eval-summaries.bin")
    assert first == direct and os.path.exists(cache)
    cached = summaries_of(repo, commits)  # now read from the cache
    assert cached == direct
    assert [asdict(s) for s in cached[commits[5]].values()] == [asdict(s) for s in direct[commits[5]].values()]  # --json
    assert cached[commits[5]]["mmlu"].means(1) == [("acc", 0.05)] == direct[commits[5]]["mmlu"].means(1)
    with open(cache, "r+b") as f:
        f.seek(-3, os.SEEK_END)
        f.write(b"\xff\xff\xff")  # numbers that no longer match the digest: rebuilt, never trusted
    assert summaries_of(repo, commits) == direct

    _at(monkeypatch, 1800000000)
    repo.add_eval(commits[3], "mmlu", {"acc": 0.5, "n": 3})  # a second run: that version's entry is stale
    again = summaries_of(repo, commits)
    assert again[commits[3]]["mmlu"].runs == 2 and again[commits[3]]["mmlu"].metrics["acc"].values == [0.03, 0.5]
    assert {c: s for c, s in again.items() if c != commits[3]} == {c: s for c, s in direct.items() if c != commits[3]}
    assert [e.evals["mmlu"].runs for e in repo.log("HEAD", evals=True)][-4] == 2

    with open(cache, "w") as f:
        f.write("not json")  # a damaged cache is rebuilt, never trusted
    assert summaries_of(repo, commits) == again
