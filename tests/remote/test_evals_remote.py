"""Evals and training runs travel with remotes: push --evals (and --all) sends them after the
versions they name, fetch and clone bring them back, a run moves only forward, and nothing
replaces a different local object of the same name."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import ConflictError
from mmvc.loader import MMVCDataset
from mmvc.ops.clone import clone
from mmvc.ops.fetch import fetch
from mmvc.ops.push import push
from mmvc.ops.remote import add_remote
from mmvc.repo import Repo

from tests.remote.conftest import commit_files


def _evals(repo, monkeypatch):
    monkeypatch.setenv("MMVC_AUTHOR_DATE", "1700000001")
    repo.add_eval("HEAD~1", "mmlu", {"acc": 0.6}, higher=["acc"])
    for t, acc in (("1700000002", 0.64), ("1700000003", 0.68)):
        monkeypatch.setenv("MMVC_AUTHOR_DATE", t)
        repo.add_eval("HEAD", "mmlu", {"acc": acc})


def _run(repo, name: str, steps: int = 0):
    ds = MMVCDataset(repo=repo, rev="HEAD", seed=3, allow_ungated=True, store_shard_items=8, run=name)
    it = iter(ds)
    for _ in range(steps):
        next(it)
        ds.state_dict()
    return ds


def test_round_trip_through_a_moto_s3_remote(source, s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    url = f"s3://{s3_server.make_bucket()}/datasets/captions"
    _evals(source, monkeypatch)
    ds = _run(source, "r1", steps=3)
    source.add_eval("HEAD", "hellaswag", {"acc": 0.8}, run="r1")
    add_remote(source, "origin", url)

    r = push(source, evals=True)
    refs = sorted(u.ref for u in r.updates)
    assert len(refs) == 5 and refs[-1] == "refs/runs/r1" and all(x.startswith("refs/evals/") for x in refs[:-1])
    assert all(u.status == "new" for u in r.updates) and r.objects > 4  # the versions they name came along
    assert push(source, evals=True).up_to_date
    push(source)

    c = Repo(clone(url, str(tmp_path / "copy")).path)
    assert c.refs.list("refs/evals") == source.refs.list("refs/evals")
    assert c.refs.read("refs/runs/r1") == ds.run.head
    mine, theirs = source.compare_evals("HEAD~1", "HEAD"), c.compare_evals("HEAD~1", "HEAD")
    assert theirs == mine and [(r.name, r.b.runs) for r in theirs.rows] == [("hellaswag", 1), ("mmlu", 2)]
    assert c.fsck().ok


def test_an_eval_of_an_unpushed_version_carries_it_and_fetch_brings_new_evals(source, tmp_path, monkeypatch):
    url = f"file://{tmp_path}/remote"
    add_remote(source, "origin", url)
    push(source)
    other = Repo(clone(url, str(tmp_path / "other")).path)
    side = commit_files(other, {"captions/side.txt": "only here\n"}, "side version, never pushed as a branch")
    ev = other.add_eval(side, "mmlu", {"acc": 0.9})
    r = push(other, evals=True)
    assert [u.ref for u in r.updates] == [f"refs/evals/{side}/{ev.id}"]

    f = fetch(source)
    assert [(u.ref, u.status) for u in f.updates if u.ref.startswith("refs/evals/")] == [(f"refs/evals/{side}/{ev.id}", "new")]
    assert source.store.has(side) and source.show_eval(ev.id).metrics == {"acc": 0.9}
    assert source.fsck().ok
    assert not [u for u in fetch(source).updates if u.ref.startswith("refs/evals/")]  # nothing new the second time


def test_runs_move_forward_only(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    add_remote(source, "origin", url)
    ds = _run(source, "train", steps=2)
    r = push(source, all_branches=True)  # --all includes evals and runs
    assert {u.ref for u in r.updates} == {"refs/heads/main", "refs/runs/train"}

    other = Repo(clone(url, str(tmp_path / "other")).path)
    assert other.refs.read("refs/runs/train") == ds.run.head
    it = iter(ds)
    next(it)
    ds.state_dict()  # the run goes on here: a checkpoint after the one pushed
    r = push(source, evals=True)
    assert [(u.ref, u.status) for u in r.updates] == [("refs/runs/train", "fast-forward")]
    f = fetch(other)
    assert [(u.ref, u.status) for u in f.updates if u.ref.startswith("refs/runs/")] == [("refs/runs/train", "fast-forward")]
    assert other.refs.read("refs/runs/train") == ds.run.head

    # from the same record, each repository goes on on its own
    diverged = _run(other, "train")
    it = iter(diverged)
    next(it)
    next(it)
    diverged.state_dict()
    it = iter(ds)
    next(it)
    ds.state_dict()
    assert [u.status for u in push(source, evals=True).updates] == ["fast-forward"]
    with pytest.raises(ConflictError, match="training run train on origin has records this repository does not"):
        push(other, evals=True)
    assert [u.status for u in fetch(other).updates if u.ref == "refs/runs/train"] == ["rejected"]
    assert other.refs.read("refs/runs/train") == diverged.run.head
    push(other, "origin", ["train"], force=True)
    assert [u.status for u in fetch(source).updates if u.ref == "refs/runs/train"] == ["rejected"]
    assert source.refs.read("refs/runs/train") == ds.run.head


def test_push_evals_through_the_cli(source, tmp_path):
    url = f"file://{tmp_path}/remote"
    runner = CliRunner()
    for args in (["remote", "add", "origin", url], ["eval", "add", "HEAD", "--name", "mmlu", "--metrics", "-"]):
        res = runner.invoke(cli, ["-C", source.root, *args], input='{"acc": 0.5}')
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["-C", source.root, "push", "--evals"])
    assert res.exit_code == 0, res.output
    assert " * [new]  1 eval(s)" in res.output
    res = runner.invoke(cli, ["-C", source.root, "push", "--evals", "--json"])
    assert json.loads(res.output)["updates"][0]["status"] == "up-to-date"
