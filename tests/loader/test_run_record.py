"""Run records from the loader: MMVCDataset(run=NAME) writes what the run reads and, on rank 0,
the state at every checkpoint; an eval linked to the run names exactly that record."""

from __future__ import annotations

import pytest

from mmvc.core.training_runs import TrainingRun
from mmvc.services.evals import run_chain as chain
from mmvc.errors import BadInputError
from mmvc.loader import MMVCDataset, record_run


def _records(repo, name):
    tip = repo.refs.read(f"refs/runs/{name}")
    return list(chain(repo.store.get, tip))


def test_a_store_run_records_its_start_and_every_checkpoint(exported):
    repo, _ = exported
    ds = MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, store_shard_items=8, run="r1", batch_size=4)
    (oid, first), = _records(repo, "r1")
    assert first.commit == repo.resolve("main") and first.checkpoint is None and first.previous is None
    assert first.setup == {"batch_size": 4, "samples": ds.total, "seed": 2, "shuffle": True, "shuffle_block": 1, "source": "store",
                           "world_size": 1}
    assert first.recipe == ds.source.identity and repo.store.has(first.recipe)  # the (unnamed) selection is stored
    it = iter(ds)
    for _ in range(12):
        next(it)
    s1 = ds.state_dict()
    assert ds.state_dict() == s1  # the same state again is not a new checkpoint
    for _ in range(8):
        next(it)
    s2 = ds.state_dict()
    recs = _records(repo, "r1")
    assert [r.checkpoint["state"]["consumed"] if r.checkpoint else None for _, r in recs] == [20, 12, None]
    assert recs[0][1].checkpoint["state"] == s2 and recs[-1][0] == oid

    # a restarted job continues the same run; an eval links its newest record and its recipe
    again = MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, store_shard_items=8, run="r1", batch_size=4)
    again.load_state_dict(s2)
    assert again.run.head == recs[0][0]
    ev = repo.add_eval("main", "mmlu", {"acc": 0.5}, run="r1")
    assert ev.run == "r1" and ev.run_record == recs[0][0] and ev.recipe == first.recipe
    assert repo.fsck().ok


def test_an_export_run_and_the_explicit_api(exported, monkeypatch):
    repo, out = exported
    monkeypatch.chdir(repo.root)  # an export's run goes to the repository of the current folder
    ds = MMVCDataset(out, seed=9, allow_ungated=True, run="exp-run")
    (_, first), = _records(repo, "exp-run")
    assert first.export == ds.source.identity and first.setup["source"] == "export"
    rec = record_run(repo, "manual", ds)
    it = iter(ds)
    next(it)
    rec.checkpoint(ds.state_dict(), step=100)
    recs = _records(repo, "manual")
    assert recs[0][1].checkpoint["step"] == 100 and len(recs) == 2
    assert len(_records(repo, "exp-run")) == 2  # state_dict() recorded on the run= dataset too


def test_only_rank_0_records_and_a_name_is_not_reused_for_other_data(exported):
    repo, out = exported
    ds = MMVCDataset(repo=repo, rev="main", seed=1, allow_ungated=True, rank=1, world_size=2, run="ranks")
    assert ds.run is None and repo.refs.read("refs/runs/ranks") is None
    MMVCDataset(repo=repo, rev="main", seed=1, allow_ungated=True, run="taken")
    with pytest.raises(BadInputError, match="already recorded over other data"):
        MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, run="taken")
    with pytest.raises(BadInputError, match="not a valid run name"):
        MMVCDataset(repo=repo, rev="main", allow_ungated=True, run="bad name")


def test_an_eval_of_another_version_than_the_runs_is_refused(exported):
    from tests.export.versions import make_version

    repo, _ = exported
    MMVCDataset(repo=repo, rev="main", allow_ungated=True, run="old")
    make_version(repo, {"extra/new.txt": b"one more item\n"})
    with pytest.raises(BadInputError, match="training run 'old' read version"):
        repo.add_eval("main", "mmlu", {"acc": 1}, run="old")
    assert isinstance(TrainingRun.decode(repo.store.get(repo.refs.read("refs/runs/old"))), TrainingRun)
